//! `GET /sync`: initial and incremental sync, with long-polling.
//!
//! A sync token is `s<events>_<account data>_<receipts>_<typing>`: the
//! positions the client has seen in each stream. Tokens are
//! positions in the database, so they stay valid across restarts. A
//! request with nothing new to return parks on the room notifier (a
//! `watch` channel every persisted write bumps) until something arrives or
//! the timeout passes.

use std::time::Duration;

use serde_json::{Map, Value, json};
use trellis_storage::events::MembershipRow;

mod joined;

use super::Services;
use super::filter::Filter;
use super::rooms::read::Position;
use super::tokens::Requester;
use crate::error::{Error, Result};
use crate::json::object;

/// Default number of timeline events per room.
const DEFAULT_TIMELINE_LIMIT: u64 = 10;

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
        // Every position comes from memory: each is moved on right after
        // its write commits (and read from the database at start-up), so
        // a token never runs ahead of what a reader can see.
        let now = SyncToken {
            events: *self.rooms.notifier.borrow(),
            account_data: self.rooms.account_data_position(),
            receipts: self.rooms.receipt_position(),
            typing: self.typing.position(),
        };
        // No account data was written since the token: nothing to read.
        let account_data_rows = if since_account_data(request) < now.account_data {
            self.storage.account_data_since(&requester.user_id, since_account_data(request)).await?
        } else {
            Vec::new()
        };
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
        let mut invite = Map::new();
        let mut leave = Map::new();
        let mut knock = Map::new();
        let room_filter = &request.filter.room;
        let mut joined = Vec::new();
        for membership in self.memberships_of_user(&requester.user_id).await?.iter().cloned() {
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
        let join = self.sync_joined_rooms(requester, request, joined, since, now, initial).await?;
        if initial && !account_data.iter().any(|e| e["type"] == super::push::PUSH_RULES) {
            // Push rules the user never changed are still theirs to see.
            let ruleset = self.ruleset(&requester.user_id).await?;
            account_data.push(json!({"type": super::push::PUSH_RULES, "content": {"global": *ruleset}}));
        }
        let empty =
            join.is_empty() && invite.is_empty() && leave.is_empty() && knock.is_empty() && account_data.is_empty();
        let rooms = object([
            ("join", Value::Object(join)),
            ("invite", Value::Object(invite)),
            ("leave", Value::Object(leave)),
            ("knock", Value::Object(knock)),
        ]);
        let response = object([
            ("next_batch", Value::String(now.encode())),
            ("rooms", rooms),
            ("account_data", object([("events", Value::Array(account_data))])),
            ("presence", json!({"events": []})),
            ("to_device", json!({"events": []})),
            ("device_lists", json!({"changed": [], "left": []})),
            ("device_one_time_keys_count", json!({})),
        ]);
        Ok((response, empty))
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
