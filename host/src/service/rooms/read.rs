//! Reading rooms back: single events, state, members, and paginated
//! history (`/messages`), always through the history-visibility filter.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use trellis_events::client_event_from_json;
use trellis_storage::events::EventRow;
use trellis_storage::now_ms;

use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::filter::RoomEventFilter;
use crate::service::tokens::Requester;

/// A position in a room's history, as pagination tokens carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A sync stream position (`s…` tokens).
    Stream(i64),
    /// A topological position: (depth, stream ordering) (`t…` tokens).
    Topological(i64, i64),
}

impl Position {
    /// Parses a pagination token.
    pub fn parse(token: &str) -> Result<Self> {
        let bad = || Error::invalid_param(format!("Invalid pagination token {token:?}"));
        if let Some(rest) = token.strip_prefix('t') {
            let (depth, stream) = rest.split_once('_').ok_or_else(bad)?;
            return Ok(Self::Topological(depth.parse().map_err(|_| bad())?, stream.parse().map_err(|_| bad())?));
        }
        if let Some(rest) = token.strip_prefix('s') {
            let events = rest.split('_').next().ok_or_else(bad)?;
            return Ok(Self::Stream(events.parse().map_err(|_| bad())?));
        }
        Err(bad())
    }

    /// The token for the position of an event.
    pub fn of_event(row: &EventRow) -> String {
        format!("t{}_{}", row.depth, row.stream_ordering)
    }
}

/// A `/messages` request.
#[derive(Debug, Clone)]
pub struct MessagesQuery {
    /// Token to start from (the newest or oldest end without one).
    pub from: Option<String>,
    /// Token to stop at.
    pub to: Option<String>,
    /// Direction: backwards in time.
    pub backwards: bool,
    /// Page size.
    pub limit: u64,
    /// Event filter.
    pub filter: RoomEventFilter,
}

/// A page of `/messages`.
#[derive(Debug)]
pub struct MessagesPage {
    /// Token for where the page started.
    pub start: String,
    /// Events, in the direction of travel.
    pub chunk: Vec<Value>,
    /// Token to continue from, if there may be more.
    pub end: Option<String>,
    /// Member events for lazy loading.
    pub state: Vec<Value>,
}

impl Services {
    /// The client view of a stored event for `viewer`, without bundled
    /// aggregations: `unsigned` with `age`, the sender's own
    /// `transaction_id` (only for the device that sent it, as the spec
    /// says; kept on the event row, as Synapse keeps it in the event's
    /// internal metadata), and `redacted_because`.
    pub async fn client_view(&self, row: &EventRow, viewer: Option<&Requester>) -> Result<Value> {
        let txn = viewer
            .filter(|viewer| viewer.user_id == row.sender)
            .and_then(|viewer| row.txn.as_ref().filter(|(device, _)| *device == viewer.device_id))
            .map(|(_, txn)| txn.clone());
        let mut unsigned = Map::new();
        unsigned.insert("age".into(), json!(now_ms().saturating_sub(row.origin_server_ts).max(0)));
        if let Some(txn) = txn {
            unsigned.insert("transaction_id".into(), json!(txn));
        }
        if let Some(redaction_id) = &row.redacted_by
            && let Some(redaction) = self.storage.event(redaction_id).await?
        {
            let because =
                client_event_from_json(&redaction.event_id, &redaction.json, None).map_err(Error::internal)?;
            unsigned.insert("redacted_because".into(), because);
        }
        let mut view = client_event_from_json(&row.event_id, &row.json, Some(unsigned)).map_err(Error::internal)?;
        if self.plugins.adds_unsigned() {
            // Synapse's add_field_to_unsigned: plugins may annotate events
            // as they are served.
            let event = crate::service::plugins::events::from_json(&row.event_id, &row.room_id, &view);
            let added = self.plugins.fields_for_unsigned(&event).await;
            if let Some(unsigned) = view.get_mut("unsigned").and_then(Value::as_object_mut) {
                unsigned.extend(added);
            }
        }
        Ok(view)
    }

    /// Client views of several events, with bundled aggregations.
    pub async fn client_views(&self, rows: &[EventRow], viewer: Option<&Requester>) -> Result<Vec<Value>> {
        let bundles = self.bundled_aggregations(rows, viewer).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut event = self.client_view(row, viewer).await?;
            if let Some(bundle) = bundles.get(&row.event_id) {
                event["unsigned"]["m.relations"] = Value::Object(bundle.clone());
            }
            out.push(event);
        }
        Ok(out)
    }

    /// Fails unless the user is, or once was, in the room, or the room is
    /// world readable. Returns the user's membership.
    pub async fn check_can_read_room(&self, user_id: &str, room_id: &str) -> Result<Option<String>> {
        self.ensure_room(room_id).await?;
        let membership = match self.rooms.membership_in_memory(room_id, user_id) {
            Some(membership) => membership,
            None => self.storage.membership(room_id, user_id).await?.map(|m| m.membership),
        };
        if membership.as_deref() == Some("join") {
            return Ok(membership);
        }
        if membership.as_deref().is_some_and(|m| m == "leave" || m == "ban") {
            return Ok(membership);
        }
        let state = self.room_state(room_id).await?;
        let visibility = state.content("m.room.history_visibility", "");
        if visibility.get("history_visibility").and_then(Value::as_str) == Some("world_readable") {
            return Ok(membership);
        }
        Err(Error::forbidden("You are not allowed to read this room"))
    }

    /// `GET /rooms/{roomId}/event/{eventId}`.
    pub async fn get_room_event(&self, requester: &Requester, room_id: &str, event_id: &str) -> Result<Value> {
        self.check_can_read_room(&requester.user_id, room_id).await?;
        let row = self
            .storage
            .event(event_id)
            .await?
            .filter(|e| e.room_id == room_id)
            .ok_or_else(|| Error::not_found("Event not found"))?;
        let visible = self.filter_visible(&requester.user_id, room_id, vec![row]).await?;
        let row = visible.into_iter().next().ok_or_else(|| Error::not_found("Event not found"))?;
        let mut views = self.client_views(std::slice::from_ref(&row), Some(requester)).await?;
        views.pop().ok_or_else(|| Error::internal("no view"))
    }

    /// The state a user may see: the current state while joined (or for a
    /// world-readable room), the state at their leave event otherwise.
    pub async fn visible_state(&self, requester: &Requester, room_id: &str) -> Result<Vec<EventRow>> {
        let membership = self.check_can_read_room(&requester.user_id, room_id).await?;
        let ids: Vec<String> = match membership.as_deref() {
            Some("leave" | "ban") => {
                let own = self
                    .storage
                    .membership(room_id, &requester.user_id)
                    .await?
                    .ok_or_else(|| Error::internal("membership vanished"))?;
                let event =
                    self.storage.event(&own.event_id).await?.ok_or_else(|| Error::internal("member event missing"))?;
                let group = event.state_group.ok_or_else(|| Error::internal("member event without state"))?;
                self.storage.state_group(group).await?.into_values().collect()
            }
            _ => self.storage.current_state(room_id).await?.into_values().collect(),
        };
        self.storage.events_by_id(&ids).await.map_err(Into::into)
    }

    /// `GET /rooms/{roomId}/state/{eventType}/{stateKey}`: the event.
    pub async fn state_event(
        &self,
        requester: &Requester,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> Result<EventRow> {
        let state = self.visible_state(requester, room_id).await?;
        state
            .into_iter()
            .find(|e| e.event_type == event_type && e.state_key.as_deref() == Some(state_key))
            .ok_or_else(|| Error::not_found("Event not found"))
    }

    /// `GET /joined_rooms`.
    pub async fn joined_rooms(&self, user_id: &str) -> Result<Vec<String>> {
        let memberships = self.memberships_of_user(user_id).await?;
        Ok(memberships.iter().filter(|m| m.membership == "join").map(|m| m.room_id.clone()).collect())
    }

    /// `GET /rooms/{roomId}/joined_members`.
    pub async fn joined_members(&self, requester: &Requester, room_id: &str) -> Result<Value> {
        let membership = self.check_can_read_room(&requester.user_id, room_id).await?;
        if membership.as_deref() != Some("join") {
            return Err(Error::forbidden("You are not in this room"));
        }
        let state = self.room_state(room_id).await?;
        let mut joined = Map::new();
        for ((event_type, state_key), entry) in &state.current {
            if event_type != "m.room.member" {
                continue;
            }
            let content = entry.pdu.content_value();
            if content.get("membership").and_then(Value::as_str) == Some("join") {
                joined.insert(
                    state_key.clone(),
                    json!({"display_name": content.get("displayname"), "avatar_url": content.get("avatar_url")}),
                );
            }
        }
        Ok(json!({"joined": joined}))
    }

    /// `GET /rooms/{roomId}/members`.
    pub async fn room_members(
        &self,
        requester: &Requester,
        room_id: &str,
        at: Option<&str>,
        membership: Option<&str>,
        not_membership: Option<&str>,
    ) -> Result<Vec<Value>> {
        let mut state = self.visible_state(requester, room_id).await?;
        if let Some(token) = at {
            // Members as of a sync or pagination token: the state after the
            // last event at that point, never later than what the user may
            // see (their leave, if they left).
            let position = match Position::parse(token)? {
                Position::Stream(stream) | Position::Topological(_, stream) => stream,
            };
            let latest_visible = state.iter().map(|e| e.stream_ordering).max().unwrap_or(0);
            let capped = if self
                .storage
                .membership(room_id, &requester.user_id)
                .await?
                .is_some_and(|m| m.membership == "join")
            {
                position
            } else {
                position.min(latest_visible)
            };
            if let Some(group) = self.storage.last_room_event_at(room_id, capped).await?.and_then(|e| e.state_group) {
                let ids: Vec<String> = self.storage.state_group(group).await?.into_values().collect();
                state = self.storage.events_by_id(&ids).await?;
            }
        }
        let members: Vec<EventRow> = state
            .into_iter()
            .filter(|e| e.event_type == "m.room.member")
            .filter(|e| {
                let json: Value = serde_json::from_str(&e.json).unwrap_or_default();
                let m = json["content"]["membership"].as_str().unwrap_or_default();
                membership.is_none_or(|want| want == m) && not_membership.is_none_or(|not| not != m)
            })
            .collect();
        self.client_views(&members, Some(requester)).await
    }

    /// `GET /rooms/{roomId}/messages`.
    pub async fn messages(&self, requester: &Requester, room_id: &str, query: &MessagesQuery) -> Result<MessagesPage> {
        let membership = self.check_can_read_room(&requester.user_id, room_id).await?;
        let (from, to, backwards, filter) =
            (query.from.as_deref(), query.to.as_deref(), query.backwards, &query.filter);
        let limit = i64::try_from(query.limit.clamp(1, 1000)).unwrap_or(10);
        let start = match from {
            Some(token) => token.to_owned(),
            None => format!("s{}", *self.rooms.notifier.borrow()),
        };
        let mut position = match from.map(Position::parse).transpose()? {
            Some(Position::Topological(d, s)) => (d, s),
            Some(Position::Stream(s)) => self.stream_to_topological(room_id, s, backwards).await?,
            None if backwards => (i64::MAX, i64::MAX),
            None => (i64::MIN, i64::MIN),
        };
        let stop = match to.map(Position::parse).transpose()? {
            Some(Position::Topological(d, s)) => Some((d, s)),
            Some(Position::Stream(s)) => Some(self.stream_to_topological(room_id, s, !backwards).await?),
            None => None,
        };
        let past_stop = |row: &EventRow| match stop {
            Some(stop) if backwards => (row.depth, row.stream_ordering) <= stop,
            Some(stop) => (row.depth, row.stream_ordering) >= stop,
            None => false,
        };
        let mut chunk_rows = Vec::new();
        let mut end = None;
        let mut exhausted = false;
        // Fetch in batches until the filtered page is full: filters and
        // visibility may drop events.
        while chunk_rows.len() < usize::try_from(limit).unwrap_or(10) && !exhausted {
            let batch = self.storage.room_events_topological(room_id, position, backwards, limit + 1).await?;
            exhausted = batch.len() < usize::try_from(limit + 1).unwrap_or(0);
            let Some(last) = batch.last() else { break };
            position = (last.depth, last.stream_ordering);
            let mut kept = Vec::new();
            for row in batch {
                if past_stop(&row) {
                    exhausted = true;
                    break;
                }
                if filter.allows_event(&row) {
                    kept.push(row);
                }
            }
            let visible = self.filter_visible_with(&requester.user_id, membership.as_deref(), kept).await?;
            for row in visible {
                if chunk_rows.len() == usize::try_from(limit).unwrap_or(10) {
                    exhausted = false;
                    break;
                }
                end = Some(Position::of_event(&row));
                chunk_rows.push(row);
            }
        }
        if exhausted {
            end = None;
        } else if end.is_none() {
            end = Some(format!("t{}_{}", position.0, position.1));
        }
        let state = if filter.lazy_load_members {
            self.lazy_members(room_id, &chunk_rows, requester).await?
        } else {
            Vec::new()
        };
        Ok(MessagesPage { start, chunk: self.client_views(&chunk_rows, Some(requester)).await?, end, state })
    }

    /// Converts a stream position into a topological one for pagination.
    async fn stream_to_topological(&self, room_id: &str, stream: i64, backwards: bool) -> Result<(i64, i64)> {
        Ok(match self.storage.last_room_event_at(room_id, stream).await? {
            // Backwards from a sync token includes the event at the token.
            Some(row) if backwards => (row.depth, row.stream_ordering + 1),
            Some(row) => (row.depth, row.stream_ordering),
            None if backwards => (i64::MIN, i64::MIN),
            None => (i64::MIN, i64::MIN),
        })
    }

    /// The current member events of the senders of `events` (lazy loading).
    pub async fn lazy_members(&self, room_id: &str, events: &[EventRow], viewer: &Requester) -> Result<Vec<Value>> {
        let senders: HashSet<&str> = events.iter().map(|e| e.sender.as_str()).collect();
        let state = self.room_state(room_id).await?;
        let ids: Vec<String> =
            senders.iter().filter_map(|s| state.get("m.room.member", s)).map(|e| e.pdu.event_id.to_string()).collect();
        let rows = self.storage.events_by_id(&ids).await?;
        self.client_views(&rows, Some(viewer)).await
    }

    /// Groups state rows by `(type, state_key)` (helper for callers that
    /// need a map).
    pub fn state_by_key(rows: Vec<EventRow>) -> HashMap<(String, String), EventRow> {
        rows.into_iter()
            .filter_map(|row| row.state_key.clone().map(|key| ((row.event_type.clone(), key), row)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn tokens() {
        assert_eq!(Position::parse("t12_345").unwrap(), Position::Topological(12, 345));
        assert_eq!(Position::parse("s99_3_4").unwrap(), Position::Stream(99));
        assert!(Position::parse("x1").is_err());
        assert!(Position::parse("tfoo").is_err());
    }
}
