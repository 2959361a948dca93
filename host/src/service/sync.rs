//! `GET /sync`: initial and incremental sync, with long-polling.
//!
//! A sync token is `s<events>_<account data>_<receipts>_<typing>`: the
//! positions the client has seen in each stream. Tokens are
//! positions in the database, so they stay valid across restarts. A
//! request with nothing new to return parks on the room notifier (a
//! `watch` channel every persisted write bumps) until something arrives or
//! the timeout passes.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt as _;

use serde_json::{Map, Value, json};
use trellis_storage::events::{EventRow, MembershipRow};

use super::Services;
use super::filter::Filter;
use super::rooms::read::Position;
use super::tokens::Requester;
use crate::error::{Error, Result};

/// Default number of timeline events per room.
const DEFAULT_TIMELINE_LIMIT: u64 = 10;

/// The slice of a room's timeline a sync serves: events in `(after,
/// up_to]`, at most `limit`, for a user whose membership is `membership`
/// (read with all the others at the start of the sync).
#[derive(Debug, Clone, Copy)]
struct TimelineWindow<'a> {
    after: i64,
    up_to: i64,
    limit: i64,
    membership: &'a str,
}

/// Joined rooms worked on at once in one sync: enough to keep the read
/// connections busy, few enough not to starve other requests of them.
const JOINED_ROOMS_AT_ONCE: usize = 4;
/// Longest long-poll accepted.
const MAX_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// State event types included in invite and knock stripped state.
const STRIPPED_STATE: &[&str] = &[
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
    "m.room.topic",
];

fn since_account_data(request: &SyncRequest) -> i64 {
    request.since.map_or(0, |s| s.account_data)
}

/// Where a sync is in each stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncToken {
    /// Event stream position.
    pub events: i64,
    /// Account-data position.
    pub account_data: i64,
    /// Receipt position.
    pub receipts: i64,
    /// Typing position (in memory; restarts at zero).
    pub typing: i64,
}

impl SyncToken {
    /// Parses `s<events>_<account data>_<receipts>_<typing>` (missing
    /// parts count as zero).
    pub fn parse(token: &str) -> Result<Self> {
        let bad = || Error::invalid_param(format!("Invalid sync token {token:?}"));
        let rest = token.strip_prefix('s').ok_or_else(bad)?;
        let mut parts = rest.split('_');
        let mut next = |required: bool| -> Result<i64> {
            match parts.next() {
                Some(part) => part.parse().map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        Ok(Self { events: next(true)?, account_data: next(false)?, receipts: next(false)?, typing: next(false)? })
    }

    /// The token text.
    pub fn encode(self) -> String {
        format!("s{}_{}_{}_{}", self.events, self.account_data, self.receipts, self.typing)
    }
}

/// A `/sync` request.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// Previous `next_batch`.
    pub since: Option<SyncToken>,
    /// Long-poll timeout.
    pub timeout_ms: u64,
    /// Send full state for every room.
    pub full_state: bool,
    /// The filter in force.
    pub filter: Filter,
    /// MSC4222 / spec v1.16: send `state_after` (the state at the end of
    /// the timeline) instead of `state`.
    pub use_state_after: bool,
}

impl Services {
    /// Answers `/sync`, waiting for news up to the timeout.
    pub async fn sync(&self, requester: &Requester, request: &SyncRequest) -> Result<Value> {
        let mut wake = self.rooms.notifier.subscribe();
        wake.borrow_and_update();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(request.timeout_ms.min(MAX_TIMEOUT_MS));
        loop {
            let (response, empty) = self.sync_once(requester, request).await?;
            if request.since.is_none() || request.full_state || !empty {
                return Ok(response);
            }
            match tokio::time::timeout_at(deadline, wake.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(self.sync_once(requester, request).await?.0),
            }
        }
    }

    /// One pass: the response, and whether it carries nothing new.
    async fn sync_once(&self, requester: &Requester, request: &SyncRequest) -> Result<(Value, bool)> {
        let events = *self.rooms.notifier.borrow();
        let typing = self.typing.position();
        let now = SyncToken {
            events,
            account_data: self.storage.max_account_data_position().await?,
            receipts: self.storage.max_receipt_position().await?,
            typing,
        };
        let account_data_rows =
            self.storage.account_data_since(&requester.user_id, since_account_data(request)).await?;
        let mut room_account_data: std::collections::HashMap<String, Vec<Value>> = std::collections::HashMap::new();
        let mut account_data = Vec::new();
        for (room_id, data_type, content) in account_data_rows {
            let content: Value = serde_json::from_str(&content).map_err(Error::internal)?;
            if room_id.is_empty() {
                if request.filter.account_data.allows(&data_type, &requester.user_id, "", None) {
                    account_data.push(json!({"type": data_type, "content": content}));
                }
            } else if request.filter.room.account_data.allows(&data_type, &requester.user_id, &room_id, None) {
                room_account_data.entry(room_id).or_default().push(json!({"type": data_type, "content": content}));
            }
        }
        let since = request.since.unwrap_or_default();
        let initial = request.since.is_none();
        let mut join = Map::new();
        let mut invite = Map::new();
        let mut leave = Map::new();
        let mut knock = Map::new();
        let room_filter = &request.filter.room;
        let mut joined = Vec::new();
        for membership in self.storage.memberships_of_user(&requester.user_id).await? {
            if membership.forgotten || !room_filter.allows_room(&membership.room_id) {
                continue;
            }
            if membership.stream_ordering > now.events {
                continue;
            }
            let changed = membership.stream_ordering > since.events;
            match membership.membership.as_str() {
                "join" => {
                    let extra = room_account_data.remove(&membership.room_id).unwrap_or_default();
                    joined.push((membership, extra));
                }
                "invite" if (initial || changed) && !self.invites_blocked(&requester.user_id).await? => {
                    // Invites from ignored users are dropped.
                    let inviter = self.storage.event(&membership.event_id).await?.map(|e| e.sender);
                    if let Some(inviter) = &inviter
                        && self.ignored_users(&requester.user_id).await?.contains(inviter)
                    {
                        continue;
                    }
                    // Plugins may hide invites too (MSC4155's ignored inviters).
                    if let Some(inviter) = &inviter
                        && self.plugins.filters_invites()
                        && !self
                            .plugins
                            .invite_visible_to_invitee(&requester.user_id, inviter, &membership.room_id)
                            .await
                    {
                        continue;
                    }
                    let stripped = self.stripped_state(&membership).await?;
                    invite.insert(membership.room_id.clone(), json!({"invite_state": {"events": stripped}}));
                }
                "knock" if initial || changed => {
                    let stripped = self.stripped_state(&membership).await?;
                    knock.insert(membership.room_id.clone(), json!({"knock_state": {"events": stripped}}));
                }
                "leave" | "ban" if (changed && !initial) || (initial && room_filter.include_leave) => {
                    let room = self.sync_left_room(requester, request, &membership, since).await?;
                    leave.insert(membership.room_id.clone(), room);
                }
                _ => {}
            }
        }
        // Joined rooms are independent: several at once, so that the
        // database round trips of one room overlap those of the others.
        let mut rooms = futures::stream::iter(joined)
            .map(|(membership, extra)| async move {
                let room = self.sync_joined_room(requester, request, &membership, since, now, initial, extra).await?;
                Ok::<_, Error>(room.map(|room| (membership.room_id, room)))
            })
            .buffer_unordered(JOINED_ROOMS_AT_ONCE);
        while let Some(room) = rooms.next().await {
            if let Some((room_id, room)) = room? {
                join.insert(room_id, room);
            }
        }
        if initial && !account_data.iter().any(|e| e["type"] == super::push::PUSH_RULES) {
            // Push rules the user never changed are still theirs to see.
            let ruleset = self.ruleset(&requester.user_id).await?;
            account_data.push(json!({"type": super::push::PUSH_RULES, "content": {"global": *ruleset}}));
        }
        let empty =
            join.is_empty() && invite.is_empty() && leave.is_empty() && knock.is_empty() && account_data.is_empty();
        let response = json!({
            "next_batch": now.encode(),
            "rooms": {"join": join, "invite": invite, "leave": leave, "knock": knock},
            "account_data": {"events": account_data},
            "presence": {"events": []},
            "to_device": {"events": []},
            "device_lists": {"changed": [], "left": []},
            "device_one_time_keys_count": {},
        });
        Ok((response, empty))
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync_joined_room(
        &self,
        requester: &Requester,
        request: &SyncRequest,
        membership: &MembershipRow,
        since: SyncToken,
        now: SyncToken,
        initial: bool,
        room_account_data: Vec<Value>,
    ) -> Result<Option<Value>> {
        let room_id = &membership.room_id;
        let timeline_filter = &request.filter.room.timeline;
        let limit = i64::try_from(timeline_filter.limit.unwrap_or(DEFAULT_TIMELINE_LIMIT).clamp(1, 500)).unwrap_or(10);
        // Joined since the last sync (not merely changed profile while
        // joined): such rooms get their full state.
        let newly_joined = !initial
            && membership.stream_ordering > since.events
            && self.membership_at(room_id, &requester.user_id, since.events).await?.as_deref() != Some("join");
        let after = if initial || newly_joined { 0 } else { since.events };
        // Quiet rooms (no event since the token) need no timeline query.
        let quiet = !initial && !newly_joined && self.room_last_event(room_id).await? <= since.events;
        let (timeline_rows, limited) = if quiet {
            (Vec::new(), false)
        } else {
            let window = TimelineWindow { after, up_to: now.events, limit, membership: &membership.membership };
            self.timeline_window(requester, room_id, window, request).await?
        };
        let ephemeral = if request.filter.room.ephemeral.allows_room(room_id) {
            let mut events = self
                .ephemeral_events(
                    requester,
                    room_id,
                    since.receipts,
                    now.receipts,
                    since.typing,
                    initial || newly_joined,
                )
                .await?;
            let filter = &request.filter.room.ephemeral;
            events.retain(|e| filter.allows(e["type"].as_str().unwrap_or_default(), "", room_id, None));
            // An initial sync reports typing only when someone is typing.
            if initial || newly_joined {
                events.retain(|e| {
                    e["type"] != "m.typing" || e["content"]["user_ids"].as_array().is_some_and(|u| !u.is_empty())
                });
            }
            events
        } else {
            Vec::new()
        };
        if !initial
            && !newly_joined
            && timeline_rows.is_empty()
            && ephemeral.is_empty()
            && room_account_data.is_empty()
            && !request.full_state
        {
            return Ok(None);
        }

        // State: everything at the start of the timeline for a full sync;
        // for an incremental one, what changed between `since` and the start
        // of the timeline (nothing, unless the timeline had to be cut).
        let start_state = match timeline_rows.first() {
            Some(first) => self.state_before(room_id, first.stream_ordering).await?,
            None => self.state_at(room_id, now.events).await?,
        };
        let full = initial || newly_joined || request.full_state;
        let state_ids: Vec<String> = if request.use_state_after {
            let end_state = match timeline_rows.last() {
                Some(last) => self.state_at(room_id, last.stream_ordering).await?,
                None => self.state_at(room_id, now.events).await?,
            };
            if full {
                end_state.into_values().collect()
            } else {
                let before = self.state_at(room_id, since.events).await?;
                end_state.into_iter().filter(|(key, id)| before.get(key) != Some(id)).map(|(_, id)| id).collect()
            }
        } else if full {
            start_state.into_values().collect()
        } else if limited {
            let before = self.state_at(room_id, since.events).await?;
            start_state.into_iter().filter(|(key, id)| before.get(key) != Some(id)).map(|(_, id)| id).collect()
        } else {
            Vec::new()
        };
        let timeline_ids: std::collections::HashSet<&str> = timeline_rows.iter().map(|r| r.event_id.as_str()).collect();
        let state_filter = &request.filter.room.state;
        let mut state_rows: Vec<EventRow> = self
            .storage
            .events_by_id(&state_ids)
            .await?
            .into_iter()
            // `state` never repeats timeline events; `state_after` may.
            .filter(|row| request.use_state_after || !timeline_ids.contains(row.event_id.as_str()))
            .filter(|row| state_filter.allows(&row.event_type, &row.sender, room_id, None))
            .collect();
        if state_filter.lazy_load_members {
            let senders: std::collections::HashSet<&str> = timeline_rows.iter().map(|r| r.sender.as_str()).collect();
            state_rows.retain(|row| {
                row.event_type != "m.room.member"
                    || row.state_key.as_deref().is_some_and(|k| senders.contains(k) || k == requester.user_id)
            });
        }
        let prev_batch = match timeline_rows.first() {
            Some(first) => Position::of_event(first),
            None => now.encode(),
        };
        let summary = self.room_summary(requester, room_id).await?;
        let unread = self.unread_counts(room_id, &requester.user_id).await?;
        let state_key = if request.use_state_after { "state_after" } else { "state" };
        // Timeline and state in one go: one relations lookup and one
        // transaction-id lookup per room instead of two of each.
        let timeline_len = timeline_rows.len();
        let mut rows = timeline_rows;
        rows.append(&mut state_rows);
        let mut timeline_views = self.client_views(&rows, Some(requester)).await?;
        let state_views = timeline_views.split_off(timeline_len);
        Ok(Some(json!({
            "timeline": {
                "events": timeline_views,
                "limited": limited,
                "prev_batch": prev_batch,
            },
            state_key: {"events": state_views},
            "ephemeral": {"events": ephemeral},
            "account_data": {"events": room_account_data},
            "unread_notifications": {"notification_count": unread.0, "highlight_count": unread.1},
            "summary": summary,
        })))
    }

    /// The newest `limit` events in `(after, up_to]` that pass the
    /// timeline filter and history visibility, oldest first, and whether
    /// more such events were left out.
    async fn timeline_window(
        &self,
        requester: &Requester,
        room_id: &str,
        window: TimelineWindow<'_>,
        request: &SyncRequest,
    ) -> Result<(Vec<EventRow>, bool)> {
        let TimelineWindow { after, up_to, limit, membership } = window;
        let filter = &request.filter.room.timeline;
        let wanted = usize::try_from(limit).unwrap_or(10);
        let batch_size = (limit * 2).max(20);
        let mut collected = Vec::new();
        let mut upper = up_to;
        let mut limited = false;
        'fetch: loop {
            let batch = self.storage.room_events_between(room_id, after, upper, batch_size).await?;
            let Some(oldest) = batch.first() else { break };
            upper = oldest.stream_ordering - 1;
            let exhausted = i64::try_from(batch.len()).unwrap_or(0) < batch_size;
            let passing: Vec<EventRow> = batch
                .into_iter()
                .filter(|row| {
                    let json: Value = serde_json::from_str(&row.json).unwrap_or_default();
                    filter.allows(&row.event_type, &row.sender, room_id, json.get("content"))
                })
                .collect();
            let visible = self.filter_visible_with(&requester.user_id, Some(membership), passing).await?;
            for row in visible.into_iter().rev() {
                if collected.len() == wanted {
                    limited = true;
                    break 'fetch;
                }
                collected.push(row);
            }
            if exhausted {
                break;
            }
        }
        collected.reverse();
        Ok((collected, limited))
    }

    async fn sync_left_room(
        &self,
        requester: &Requester,
        request: &SyncRequest,
        membership: &MembershipRow,
        since: SyncToken,
    ) -> Result<Value> {
        let limit = i64::try_from(request.filter.room.timeline.limit.unwrap_or(DEFAULT_TIMELINE_LIMIT).clamp(1, 500))
            .unwrap_or(10);
        let mut rows = self
            .storage
            .room_events_between(&membership.room_id, since.events, membership.stream_ordering, limit + 1)
            .await?;
        let limited = i64::try_from(rows.len()).unwrap_or(0) > limit;
        if limited {
            rows.remove(0);
        }
        let rows = self.filter_visible(&requester.user_id, &membership.room_id, rows).await?;
        let prev_batch = rows.first().map(Position::of_event);
        Ok(json!({
            "timeline": {
                "events": self.client_views(&rows, Some(requester)).await?,
                "limited": limited,
                "prev_batch": prev_batch,
            },
            "state": {"events": []},
            "account_data": {"events": []},
        }))
    }

    /// The room state after the last event at or before `position`.
    async fn state_at(&self, room_id: &str, position: i64) -> Result<trellis_storage::state::StateMap> {
        match self.storage.last_room_event_at(room_id, position).await? {
            Some(row) => match row.state_group {
                Some(group) => Ok(self.storage.state_group(group).await?),
                None => Ok(Default::default()),
            },
            None => Ok(Default::default()),
        }
    }

    /// The stream position of a room's newest event (0 for none), from
    /// memory when known.
    async fn room_last_event(&self, room_id: &str) -> Result<i64> {
        if let Some(position) = self.rooms.last_event(room_id) {
            return Ok(position);
        }
        let position = self.storage.last_room_event_at(room_id, i64::MAX).await?.map_or(0, |e| e.stream_ordering);
        self.rooms.set_last_event(room_id, position);
        Ok(position)
    }

    /// A user's membership in a room as of a stream position.
    async fn membership_at(&self, room_id: &str, user_id: &str, position: i64) -> Result<Option<String>> {
        let Some(row) = self.storage.last_room_event_at(room_id, position).await? else { return Ok(None) };
        let Some(group) = row.state_group else { return Ok(None) };
        let found = self.storage.state_group_lookup(group, &[("m.room.member", user_id)]).await?;
        let Some(event_id) = found.values().next() else { return Ok(None) };
        let Some(event) = self.storage.event(event_id).await? else { return Ok(None) };
        let json: Value = serde_json::from_str(&event.json).map_err(Error::internal)?;
        Ok(json["content"]["membership"].as_str().map(str::to_owned))
    }

    /// The room state just before the event at `position`.
    async fn state_before(&self, room_id: &str, position: i64) -> Result<trellis_storage::state::StateMap> {
        self.state_at(room_id, position - 1).await
    }

    /// Stripped state for invites and knocks.
    async fn stripped_state(&self, membership: &MembershipRow) -> Result<Vec<Value>> {
        let state = self.room_state(&membership.room_id).await?;
        let mut out = Vec::new();
        for event_type in STRIPPED_STATE {
            if let Some(entry) = state.get(event_type, "") {
                out.push(json!({
                    "type": event_type,
                    "state_key": "",
                    "sender": entry.pdu.sender,
                    "content": entry.pdu.content_value(),
                }));
            }
        }
        if let Some(row) = self.storage.event(&membership.event_id).await? {
            let json: Value = serde_json::from_str(&row.json).map_err(Error::internal)?;
            out.push(json!({
                "type": "m.room.member",
                "state_key": membership.user_id,
                "sender": row.sender,
                "content": json["content"],
            }));
        }
        Ok(out)
    }

    /// `summary`: heroes and member counts.
    async fn room_summary(&self, requester: &Requester, room_id: &str) -> Result<Value> {
        let state = self.room_state(room_id).await?;
        let mut joined = 0;
        let mut invited = 0;
        let mut heroes = BTreeMap::new();
        for ((event_type, user), entry) in &state.current {
            if event_type != "m.room.member" {
                continue;
            }
            let membership = entry.pdu.content_value().get("membership").and_then(Value::as_str).map(str::to_owned);
            match membership.as_deref() {
                Some("join") => joined += 1,
                Some("invite") => invited += 1,
                _ => continue,
            }
            if user != &requester.user_id {
                heroes.insert(user.clone(), ());
            }
        }
        let heroes: Vec<&String> = heroes.keys().take(5).collect();
        Ok(json!({"m.heroes": heroes, "m.joined_member_count": joined, "m.invited_member_count": invited}))
    }
}

#[cfg(test)]
mod tests {
    use super::SyncToken;

    #[test]
    fn tokens_round_trip() {
        let token = SyncToken { events: 42, account_data: 7, receipts: 3, typing: 9 };
        assert_eq!(SyncToken::parse(&token.encode()).unwrap(), token);
        assert_eq!(SyncToken::parse("s5").unwrap(), SyncToken { events: 5, ..SyncToken::default() });
        assert!(SyncToken::parse("x").is_err());
        assert!(SyncToken::parse("sfoo_1").is_err());
    }
}
