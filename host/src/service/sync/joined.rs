//! The joined rooms of a `/sync`.
//!
//! Each room is planned on its own (timeline window, which state to send,
//! ephemeral events, counts), several at once; then the state events of
//! every room are read with one query and all events are rendered with one
//! `client_views` call (one relations and one transaction-id lookup for
//! the whole answer). An initial sync also reads the newest events and the
//! receipts of all rooms up front, one statement each. On SQLite every
//! statement is a round trip to a worker thread, and a sync of fifty rooms
//! used to make seven of them per room.

use std::collections::{HashMap, HashSet};

use futures::StreamExt as _;
use serde_json::{Value, json};
use trellis_storage::events::{EventRow, MembershipRow};
use trellis_storage::receipts::ReceiptRow;

use super::{DEFAULT_TIMELINE_LIMIT, SyncRequest, SyncToken};
use crate::error::{Error, Result};
use crate::json::object;
use crate::service::Services;
use crate::service::ephemeral::ReceiptsWanted;
use crate::service::rooms::MemberSummary;
use crate::service::rooms::read::Position;
use crate::service::tokens::Requester;

/// Joined rooms planned at once in one sync: enough to keep the read
/// connections busy, few enough not to starve other requests of them.
const JOINED_ROOMS_AT_ONCE: usize = 4;

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

/// What an initial sync read for all its rooms at once.
#[derive(Debug, Default)]
struct Prefetched {
    /// The newest events of each room (oldest first), `batch` of them at
    /// most: the first read of each room's timeline window.
    newest: HashMap<String, Vec<EventRow>>,
    /// How many events were asked for per room.
    batch: i64,
    /// Every receipt of each room.
    receipts: HashMap<String, Vec<ReceiptRow>>,
}

/// One room's share of [`Prefetched`], handed over rather than copied.
#[derive(Debug)]
struct RoomPrefetch {
    /// Its newest events (oldest first); empty when it has none.
    newest: Vec<EventRow>,
    /// How many were asked for.
    batch: i64,
    /// Its receipts.
    receipts: Vec<ReceiptRow>,
}

/// One joined room's part of the answer, before its events are rendered.
#[derive(Debug)]
struct RoomPlan {
    room_id: String,
    timeline: Vec<EventRow>,
    limited: bool,
    prev_batch: String,
    /// State events to send, by id (filtered once read).
    state_ids: Vec<String>,
    /// Events read for the timeline but left out of it (older than its
    /// window, or filtered out): the state events to send are often among
    /// them, and need not be read again.
    spare: Vec<EventRow>,
    ephemeral: Vec<Value>,
    account_data: Vec<Value>,
    unread: (i64, i64),
    summary: Value,
}

/// A timeline window read back, with the state group just before its
/// first event when the reads happened to show it.
struct Timeline {
    rows: Vec<EventRow>,
    limited: bool,
    /// `Some(group)`: the state before the first event is that group's
    /// (`None`: empty, the room had no earlier event); `None`: unknown.
    state_before: Option<Option<i64>>,
    /// Rows read but not in the window (see [`RoomPlan::spare`]).
    spare: Vec<EventRow>,
}

impl Services {
    /// The `rooms.join` section: one entry per joined room with news.
    pub(super) async fn sync_joined_rooms(
        &self,
        requester: &Requester,
        request: &SyncRequest,
        joined: Vec<(MembershipRow, Vec<Value>)>,
        since: SyncToken,
        now: SyncToken,
        initial: bool,
    ) -> Result<serde_json::Map<String, Value>> {
        let mut prefetched = if initial { self.prefetch(request, &joined, now).await? } else { Prefetched::default() };
        let rooms: Vec<_> = joined
            .into_iter()
            .map(|(membership, extra)| {
                let mine = (prefetched.batch > 0).then(|| RoomPrefetch {
                    newest: prefetched.newest.remove(&membership.room_id).unwrap_or_default(),
                    batch: prefetched.batch,
                    receipts: prefetched.receipts.remove(&membership.room_id).unwrap_or_default(),
                });
                (membership, extra, mine)
            })
            .collect();
        let mut planned = futures::stream::iter(rooms)
            .map(|(membership, extra, mine)| async move {
                self.plan_joined_room(requester, request, &membership, since, now, initial, extra, mine).await
            })
            .buffer_unordered(JOINED_ROOMS_AT_ONCE);
        let mut plans = Vec::new();
        while let Some(plan) = planned.next().await {
            plans.extend(plan?);
        }
        self.render_joined_rooms(requester, request, plans).await
    }

    /// The newest events and the receipts of every joined room, for an
    /// initial sync.
    async fn prefetch(
        &self,
        request: &SyncRequest,
        joined: &[(MembershipRow, Vec<Value>)],
        now: SyncToken,
    ) -> Result<Prefetched> {
        let batch = timeline_batch(timeline_limit(request));
        let room_ids: Vec<&str> = joined.iter().map(|(m, _)| m.room_id.as_str()).collect();
        let newest = self.storage.newest_events_of_rooms(&room_ids, now.events, batch).await?;
        let ephemeral_rooms: Vec<&str> =
            room_ids.iter().copied().filter(|r| request.filter.room.ephemeral.allows_room(r)).collect();
        let mut receipts: HashMap<String, Vec<ReceiptRow>> = HashMap::new();
        for row in self.storage.receipts_of_rooms(&ephemeral_rooms).await? {
            receipts.entry(row.room_id.clone()).or_default().push(row);
        }
        Ok(Prefetched { newest, batch, receipts })
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_joined_room(
        &self,
        requester: &Requester,
        request: &SyncRequest,
        membership: &MembershipRow,
        since: SyncToken,
        now: SyncToken,
        initial: bool,
        room_account_data: Vec<Value>,
        prefetched: Option<RoomPrefetch>,
    ) -> Result<Option<RoomPlan>> {
        let (first_read, receipts_read) = match prefetched {
            Some(read) => (Some((read.newest, read.batch)), Some(read.receipts)),
            None => (None, None),
        };
        let room_id = &membership.room_id;
        let limit = timeline_limit(request);
        // Joined since the last sync (not merely changed profile while
        // joined): such rooms get their full state.
        let newly_joined = !initial
            && membership.stream_ordering > since.events
            && self.membership_at(room_id, &requester.user_id, since.events).await?.as_deref() != Some("join");
        let after = if initial || newly_joined { 0 } else { since.events };
        // Quiet rooms (no event since the token) need no timeline query.
        let quiet = !initial && !newly_joined && self.room_last_event(room_id).await? <= since.events;
        let timeline = if quiet {
            Timeline { rows: Vec::new(), limited: false, state_before: None, spare: Vec::new() }
        } else {
            let window = TimelineWindow { after, up_to: now.events, limit, membership: &membership.membership };
            self.timeline_window(requester, room_id, window, request, first_read).await?
        };
        let ephemeral = if request.filter.room.ephemeral.allows_room(room_id) {
            let receipts = match receipts_read {
                Some(rows) => ReceiptsWanted::ReadAlready(rows),
                None => ReceiptsWanted::Between { since: since.receipts, now: now.receipts },
            };
            let mut events =
                self.ephemeral_events(requester, room_id, receipts, since.typing, initial || newly_joined).await?;
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
            && timeline.rows.is_empty()
            && ephemeral.is_empty()
            && room_account_data.is_empty()
            && !request.full_state
        {
            return Ok(None);
        }

        // State: everything at the start of the timeline for a full sync;
        // for an incremental one, what changed between `since` and the start
        // of the timeline (nothing, unless the timeline had to be cut).
        let full = initial || newly_joined || request.full_state;
        let state_ids: Vec<String> = if request.use_state_after {
            let end_state = match timeline.rows.last() {
                Some(last) => self.state_at(room_id, last.stream_ordering).await?,
                None => self.state_at(room_id, now.events).await?,
            };
            if full {
                end_state.into_values().collect()
            } else {
                let before = self.state_at(room_id, since.events).await?;
                end_state.into_iter().filter(|(key, id)| before.get(key) != Some(id)).map(|(_, id)| id).collect()
            }
        } else if full || timeline.limited {
            let start_state = match (timeline.rows.first(), timeline.state_before) {
                (Some(_), Some(Some(group))) => self.storage.state_group(group).await?,
                (Some(_), Some(None)) => Default::default(),
                (Some(first), None) => self.state_before(room_id, first.stream_ordering).await?,
                (None, _) => self.state_at(room_id, now.events).await?,
            };
            if full {
                start_state.into_values().collect()
            } else {
                let before = self.state_at(room_id, since.events).await?;
                start_state.into_iter().filter(|(key, id)| before.get(key) != Some(id)).map(|(_, id)| id).collect()
            }
        } else {
            Vec::new()
        };
        let prev_batch = match timeline.rows.first() {
            Some(first) => Position::of_event(first),
            None => now.encode(),
        };
        Ok(Some(RoomPlan {
            room_id: room_id.clone(),
            timeline: timeline.rows,
            spare: timeline.spare,
            limited: timeline.limited,
            prev_batch,
            state_ids,
            ephemeral,
            account_data: room_account_data,
            unread: self.unread_counts(room_id, &requester.user_id).await?,
            summary: self.room_summary(requester, room_id).await?,
        }))
    }

    /// Reads the state events of every planned room with one query and
    /// renders all events with one `client_views` call.
    async fn render_joined_rooms(
        &self,
        requester: &Requester,
        request: &SyncRequest,
        mut plans: Vec<RoomPlan>,
    ) -> Result<serde_json::Map<String, Value>> {
        // State events read already for the timelines are taken from there;
        // the others are read with one query.
        let mut by_id: HashMap<String, EventRow> = plans
            .iter_mut()
            .flat_map(|plan| std::mem::take(&mut plan.spare))
            .map(|row| (row.event_id.clone(), row))
            .collect();
        let wanted: Vec<String> = plans
            .iter()
            .flat_map(|p| p.state_ids.iter())
            .filter(|id| !by_id.contains_key(id.as_str()))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        by_id.extend(self.storage.events_by_id(&wanted).await?.into_iter().map(|row| (row.event_id.clone(), row)));
        let state_filter = &request.filter.room.state;
        let mut rows = Vec::new();
        let mut spans = Vec::with_capacity(plans.len());
        for plan in &mut plans {
            let timeline_ids: HashSet<&str> = plan.timeline.iter().map(|r| r.event_id.as_str()).collect();
            let senders: HashSet<&str> = plan.timeline.iter().map(|r| r.sender.as_str()).collect();
            let mut state_rows: Vec<EventRow> = plan
                .state_ids
                .iter()
                .filter_map(|id| by_id.get(id.as_str()))
                // `state` never repeats timeline events; `state_after` may.
                .filter(|row| request.use_state_after || !timeline_ids.contains(row.event_id.as_str()))
                .filter(|row| state_filter.allows(&row.event_type, &row.sender, &plan.room_id, None))
                .filter(|row| {
                    !state_filter.lazy_load_members
                        || row.event_type != "m.room.member"
                        || row.state_key.as_deref().is_some_and(|k| senders.contains(k) || k == requester.user_id)
                })
                .cloned()
                .collect();
            state_rows.sort_by_key(|row| row.stream_ordering);
            spans.push((plan.timeline.len(), state_rows.len()));
            rows.append(&mut plan.timeline);
            rows.append(&mut state_rows);
        }
        by_id.clear();
        let mut views = self.client_views(&rows, Some(requester)).await?.into_iter();
        let state_key = if request.use_state_after { "state_after" } else { "state" };
        let mut join = serde_json::Map::new();
        for (plan, (timeline_len, state_len)) in plans.into_iter().zip(spans) {
            let timeline: Vec<Value> = views.by_ref().take(timeline_len).collect();
            let state: Vec<Value> = views.by_ref().take(state_len).collect();
            let timeline = object([
                ("events", Value::Array(timeline)),
                ("limited", Value::Bool(plan.limited)),
                ("prev_batch", Value::String(plan.prev_batch)),
            ]);
            let unread = json!({"notification_count": plan.unread.0, "highlight_count": plan.unread.1});
            join.insert(
                plan.room_id,
                object([
                    ("timeline", timeline),
                    (state_key, object([("events", Value::Array(state))])),
                    ("ephemeral", object([("events", Value::Array(plan.ephemeral))])),
                    ("account_data", object([("events", Value::Array(plan.account_data))])),
                    ("unread_notifications", unread),
                    ("summary", plan.summary),
                ]),
            );
        }
        Ok(join)
    }

    /// The newest `limit` events in `(after, up_to]` that pass the
    /// timeline filter and history visibility, oldest first, and whether
    /// more such events were left out. `first_read` is the first batch
    /// when it was read already (with the size it was asked for).
    async fn timeline_window(
        &self,
        requester: &Requester,
        room_id: &str,
        window: TimelineWindow<'_>,
        request: &SyncRequest,
        mut first_read: Option<(Vec<EventRow>, i64)>,
    ) -> Result<Timeline> {
        let TimelineWindow { after, up_to, limit, membership } = window;
        let filter = &request.filter.room.timeline;
        let wanted = usize::try_from(limit).unwrap_or(10);
        let mut collected = Vec::new();
        let mut spare = Vec::new();
        let mut upper = up_to;
        let mut limited = false;
        // Positions and state groups of every event read, to find the one
        // just before the window's first event.
        let mut seen: Vec<(i64, Option<i64>)> = Vec::new();
        let mut reached_start;
        'fetch: loop {
            let (batch, batch_size) = match first_read.take() {
                Some(read) => read,
                None => {
                    let size = timeline_batch(limit);
                    (self.storage.room_events_between(room_id, after, upper, size).await?, size)
                }
            };
            let exhausted = i64::try_from(batch.len()).unwrap_or(0) < batch_size;
            reached_start = exhausted && after == 0;
            let Some(oldest) = batch.first() else { break };
            upper = oldest.stream_ordering - 1;
            seen.extend(batch.iter().map(|row| (row.stream_ordering, row.state_group)));
            let (passing, filtered_out): (Vec<EventRow>, Vec<EventRow>) =
                batch.into_iter().partition(|row| filter.allows_event(row));
            spare.extend(filtered_out);
            let visible = self.filter_visible_with(&requester.user_id, Some(membership), passing).await?;
            for row in visible.into_iter().rev() {
                if collected.len() == wanted {
                    limited = true;
                    spare.push(row);
                } else {
                    collected.push(row);
                }
            }
            if limited {
                break 'fetch;
            }
            if exhausted {
                break;
            }
        }
        collected.reverse();
        let state_before = collected.first().and_then(|first| {
            let earlier = seen.iter().filter(|(position, _)| *position < first.stream_ordering).max_by_key(|e| e.0);
            match earlier {
                Some((_, group)) => Some(*group),
                None if reached_start => Some(None),
                None => None,
            }
        });
        Ok(Timeline { rows: collected, limited, state_before, spare })
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

    /// `summary`: heroes and member counts, from the memberships the
    /// writer keeps in memory (from a copy of the room's state, loading it,
    /// when they are not there).
    async fn room_summary(&self, requester: &Requester, room_id: &str) -> Result<Value> {
        let summary = match self.rooms.member_summary(room_id, &requester.user_id) {
            Some(summary) => summary,
            None => {
                let members = self.room_state(room_id).await?.memberships();
                MemberSummary::of(members.iter().map(|(u, m)| (u.as_str(), m.as_str())), &requester.user_id)
            }
        };
        Ok(json!({
            "m.heroes": summary.heroes,
            "m.joined_member_count": summary.joined,
            "m.invited_member_count": summary.invited,
        }))
    }
}

/// The timeline `limit` of a request.
fn timeline_limit(request: &SyncRequest) -> i64 {
    i64::try_from(request.filter.room.timeline.limit.unwrap_or(DEFAULT_TIMELINE_LIMIT).clamp(1, 500)).unwrap_or(10)
}

/// How many events to read at a time for a timeline of `limit`: room for
/// some to be filtered out or hidden.
fn timeline_batch(limit: i64) -> i64 {
    (limit * 2).max(20)
}
