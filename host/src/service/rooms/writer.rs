//! Persisting local events: build, sign, authorise, store.
//!
//! The room's lock serialises writers; its cached [`RoomState`] holds the
//! current state as parsed PDUs (the auth rules read them), the state group
//! that represents it, and the forward extremities. The whole write runs on
//! its own task ([`Services::finish_write`]) so that a client hanging up
//! cannot leave an event half-persisted, and the transaction makes the
//! event, its DAG edges, its state group and the read-side tables appear
//! together or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use trellis_events::{Pdu, PduJson, RoomVersion};
use trellis_storage::events;
use trellis_storage::persist::{self, PersistEvent};
use trellis_storage::push::{PushAction, PushDefault};
use trellis_storage::script::Script;
use trellis_storage::search::SearchEntry;
use trellis_storage::state;

use super::prepare::Prepared;
use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::discovery::search_text;
use crate::service::push::MemberAction;

/// Longest chain of state-group deltas before a new snapshot is written.
const MAX_STATE_CHAIN: i64 = 50;

/// A state event in the cache: parsed for the auth rules, JSON for reads.
#[derive(Debug, Clone)]
pub struct StateEntry {
    /// Parsed PDU.
    pub pdu: Pdu,
    /// Its JSON.
    pub json: Arc<PduJson>,
}

/// A room's current state, cached while the room is written to.
#[derive(Debug, Clone)]
pub struct RoomState {
    /// Room id.
    pub room_id: String,
    /// Version and its rules.
    pub version: RoomVersion,
    /// `(type, state_key)` to event.
    pub current: HashMap<(String, String), StateEntry>,
    /// State group of the current state (`None` before the first event).
    pub state_group: Option<i64>,
    /// Its delta chain length.
    pub chain_length: i64,
    /// Forward extremities with depths, deepest first.
    pub extremities: Vec<(String, i64)>,
}

/// An event a local user wants to send.
#[derive(Debug, Clone)]
pub struct LocalEvent {
    /// Sender.
    pub sender: String,
    /// Type.
    pub event_type: String,
    /// State key for state events.
    pub state_key: Option<String>,
    /// Content.
    pub content: Value,
    /// For redactions: the redacted event.
    pub redacts: Option<String>,
    /// Client transaction (device id, txn id), for idempotent retries.
    pub txn: Option<(String, String)>,
}

/// A persisted event.
#[derive(Debug, Clone)]
pub struct Persisted {
    /// Its id.
    pub event_id: String,
    /// Its stream position.
    pub stream_ordering: i64,
}

impl LocalEvent {
    /// A state event with no transaction id (server-made events such as
    /// those of createRoom and upgrades).
    pub fn state(sender: &str, event_type: &str, state_key: &str, content: Value) -> Self {
        Self {
            sender: sender.to_owned(),
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            content,
            redacts: None,
            txn: None,
        }
    }
}

impl RoomState {
    /// The state of a room about to be created on this server: a fresh
    /// `!opaque:server` id, or none yet where the create event's id will
    /// name the room (version 12).
    pub fn new_room(version: &RoomVersion, server_name: &str) -> Result<Self> {
        let room_id = if version.room_id_from_create_event() {
            String::new()
        } else {
            let server = <&ruma::ServerName>::try_from(server_name).map_err(Error::internal)?;
            ruma::RoomId::new_v1(server).to_string()
        };
        Ok(Self {
            room_id,
            version: version.clone(),
            current: HashMap::new(),
            state_group: None,
            chain_length: 0,
            extremities: Vec::new(),
        })
    }

    /// The parsed state event for `(type, state_key)`.
    pub fn get(&self, event_type: &str, state_key: &str) -> Option<&StateEntry> {
        self.current.get(&(event_type.to_owned(), state_key.to_owned()))
    }

    /// The content of a state event, or `Null`.
    pub fn content(&self, event_type: &str, state_key: &str) -> Value {
        self.get(event_type, state_key).map_or(Value::Null, |e| e.pdu.content_value())
    }

    /// Every user's membership in the current state.
    pub fn memberships(&self) -> HashMap<String, String> {
        self.current
            .iter()
            .filter(|((event_type, _), _)| event_type == "m.room.member")
            .filter_map(|((_, user_id), entry)| {
                let content = entry.pdu.content_value();
                Some((user_id.clone(), content.get("membership")?.as_str()?.to_owned()))
            })
            .collect()
    }

    /// A user's membership (`join`, `invite`, …) in the current state.
    pub fn membership(&self, user_id: &str) -> Option<String> {
        self.content("m.room.member", user_id).get("membership").and_then(Value::as_str).map(str::to_owned)
    }
}

impl Services {
    /// Loads a room's state from the database.
    pub(crate) async fn load_room_state(&self, room_id: &str) -> Result<RoomState> {
        let room = self.storage.room(room_id).await?.ok_or_else(|| Error::not_found("Unknown room"))?;
        let version = RoomVersion::new(&room.room_version)
            .ok_or_else(|| Error::internal(format!("room {room_id} has unknown version {}", room.room_version)))?;
        let current_ids = self.storage.current_state(room_id).await?;
        let ids: Vec<String> = current_ids.values().cloned().collect();
        let rows = self.storage.events_by_id(&ids).await?;
        let mut by_id = HashMap::new();
        for row in rows {
            let json: PduJson = serde_json::from_str(&row.json).map_err(Error::internal)?;
            let pdu = Pdu::from_json(&row.event_id, &json).map_err(Error::internal)?;
            by_id.insert(row.event_id, StateEntry { pdu, json: Arc::new(json) });
        }
        let current =
            current_ids.into_iter().filter_map(|(key, id)| by_id.get(&id).map(|entry| (key, entry.clone()))).collect();
        let extremities = self.storage.forward_extremities(room_id).await?;
        let latest = match extremities.first() {
            Some((id, _)) => self.storage.event(id).await?,
            None => None,
        };
        let state_group = latest.and_then(|e| e.state_group);
        let chain_length = match state_group {
            Some(group) => self.storage.state_group_chain_length(group).await?,
            None => 0,
        };
        let state = RoomState { room_id: room_id.to_owned(), version, current, state_group, chain_length, extremities };
        self.rooms.remember_memberships(room_id, state.memberships());
        Ok(state)
    }

    /// A copy of a room's current state (loading it if needed).
    pub async fn room_state(&self, room_id: &str) -> Result<RoomState> {
        let lock = self.rooms.lock_of(room_id);
        let mut guard = lock.lock().await;
        if guard.is_none() {
            *guard = Some(self.load_room_state(room_id).await?);
        }
        guard.clone().ok_or_else(|| Error::internal("room state vanished"))
    }

    /// Sends an event into an existing room on its own task.
    pub async fn send_local_event(self: &Arc<Self>, room_id: &str, mut event: LocalEvent) -> Result<Persisted> {
        self.check_local_event(room_id, &mut event).await?;
        if event.joins_batches() {
            return self.send_batched(room_id, event).await;
        }
        let this = self.clone();
        let room_id = room_id.to_owned();
        self.finish_write(async move {
            let lock = this.rooms.lock_of(&room_id);
            let mut guard = lock.lock().await;
            if guard.is_none() {
                *guard = Some(this.load_room_state(&room_id).await?);
            }
            let state = guard.as_mut().ok_or_else(|| Error::internal("room state vanished"))?;
            this.persist_with_state(state, event).await
        })
        .await
    }

    /// Builds, authorises and persists one event against `state`, then
    /// updates `state`. The caller holds the room lock.
    pub(crate) async fn persist_with_state(&self, state: &mut RoomState, event: LocalEvent) -> Result<Persisted> {
        if let Some((device, txn)) = &event.txn
            && let Some(earlier) =
                self.storage.txn_events(&[(event.sender.as_str(), device.as_str(), txn.as_str())]).await?.pop()
        {
            return Ok(Persisted { event_id: earlier.event_id, stream_ordering: earlier.stream_ordering });
        }
        let prepared = self.prepare_event(state, &state.extremities, event).await?;
        if prepared.event.event_type == "m.room.create" && state.version.room_id_from_create_event() {
            // Room version 12: the create event's id names the room.
            state.room_id = format!("!{}", prepared.event_id.trim_start_matches('$'));
        }
        self.store_prepared(state, vec![prepared]).await?.pop().ok_or_else(|| Error::internal("event not stored"))
    }

    /// Writes prepared events (built on top of each other, in order) in
    /// one transaction, then brings `state` up to date, wakes `/sync` and
    /// tells plugins. A state event is written alone: its state group is
    /// made here against the state it was authorised with. The caller
    /// holds the room lock.
    pub(crate) async fn store_prepared(&self, state: &mut RoomState, batch: Vec<Prepared>) -> Result<Vec<Persisted>> {
        let Some(last) = batch.last() else { return Ok(Vec::new()) };
        let has_state = batch.iter().any(|p| p.event.state_key.is_some());
        if has_state && batch.len() > 1 {
            return Err(Error::internal("a state event must be written on its own"));
        }
        let redacts = batch.iter().any(|p| p.event.event_type == "m.room.redaction");
        if let (false, false, Some(group)) = (has_state, redacts, state.state_group) {
            let positions = self.write_messages(&state.room_id, group, &batch).await?;
            let chain_length = state.chain_length;
            return self.stored(state, batch, &positions, (group, chain_length), Vec::new());
        }
        let mut tx = self.storage.begin().await?;
        let (state_group, chain_length) = match (&last.event.state_key, state.state_group) {
            (Some(key), _) => {
                self.insert_state_group(&mut tx, state, &last.event.event_type, key, &last.event_id).await?
            }
            (None, Some(group)) => (group, state.chain_length),
            (None, None) => return Err(Error::internal("non-state event in a room without state")),
        };
        if last.event.event_type == "m.room.create" {
            trellis_storage::rooms::insert(&mut tx, &state.room_id, state.version.id.as_str(), &last.event.sender)
                .await?;
        }
        let rows: Vec<PersistEvent<'_>> = batch.iter().map(|p| p.row(&state.room_id, state_group)).collect();
        let texts = search_texts(&batch);
        let first = tx.reserve_event_positions(rows.len()).await?;
        let mut script = Script::for_connection(&tx);
        let positions = fill_script(&mut script, &state.room_id, &batch, &rows, &texts, first);
        script.run(&mut tx).await?;
        let mut redacted_states = Vec::new();
        for prepared in &batch {
            if prepared.event.event_type == "m.room.redaction"
                && let Some(target) = prepared.pdu.redacts.as_ref()
                && let Some(redacted) = self
                    .apply_redaction(&mut tx, &state.version, &state.room_id, target.as_str(), &prepared.event_id)
                    .await?
            {
                redacted_states.push(redacted);
            }
        }
        tx.commit().await?;
        self.stored(state, batch, &positions, (state_group, chain_length), redacted_states)
    }

    /// Writes message events (no state event, no redaction: nothing needs
    /// reading on the way) in one transaction of one script, which SQLite
    /// runs in one round trip. Returns their stream positions. A storage
    /// error is handed back as it is, so that the group commit can tell a
    /// transaction id used before (a unique violation) from a failure.
    pub(crate) async fn write_messages(
        &self,
        room_id: &str,
        state_group: i64,
        batch: &[Prepared],
    ) -> trellis_storage::StorageResult<Vec<i64>> {
        let rows: Vec<PersistEvent<'_>> = batch.iter().map(|p| p.row(room_id, state_group)).collect();
        let texts = search_texts(batch);
        let mut tx = self.storage.begin_script().await?;
        let first = tx.reserve_event_positions(rows.len()).await?;
        let mut script = tx.script();
        let positions = fill_script(&mut script, room_id, batch, &rows, &texts, first);
        tx.commit(script).await?;
        Ok(positions)
    }

    /// After a batch committed at `positions`: brings `state` up to date
    /// (the state group and chain length the batch left, redacted state
    /// events), wakes `/sync` and tells plugins.
    pub(crate) fn stored(
        &self,
        state: &mut RoomState,
        batch: Vec<Prepared>,
        positions: &[i64],
        (state_group, chain_length): (i64, i64),
        redacted_states: Vec<(String, PduJson)>,
    ) -> Result<Vec<Persisted>> {
        // A redacted state event must look redacted to the auth rules too.
        for (target, redacted) in redacted_states {
            if let Some(entry) = state.current.values_mut().find(|e| e.pdu.event_id.as_str() == target) {
                entry.pdu = Pdu::from_json(&target, &redacted).map_err(Error::internal)?;
                entry.json = Arc::new(redacted);
            }
        }
        if let Some(last) = batch.last() {
            state.extremities = vec![(last.event_id.clone(), last.depth)];
        }
        let newest = positions.iter().copied().max().unwrap_or_default();
        let previous = self.rooms.last_event(&state.room_id);
        self.unread.add_committed(&state.room_id, previous, positions, &batch);
        // Before the wake-up: a sync that sees the new position must not
        // be handed a member list from before it.
        for prepared in batch.iter().filter(|p| p.event.event_type == "m.room.member") {
            if let Some(user_id) = &prepared.event.state_key {
                self.user_rooms.changed(user_id);
            }
        }
        self.rooms.set_last_event(&state.room_id, newest);
        self.rooms.notify(newest);
        let mut persisted = Vec::with_capacity(batch.len());
        for (prepared, &stream_ordering) in batch.into_iter().zip(positions) {
            self.announce_event(&prepared.event_id, &state.room_id, &prepared.client_view);
            if prepared.event.event_type == "m.room.create" {
                self.rooms.remember_memberships(&state.room_id, HashMap::new());
            }
            if let Some(key) = prepared.event.state_key {
                if prepared.event.event_type == "m.room.member"
                    && let Some(membership) = prepared.event.content.get("membership").and_then(Value::as_str)
                {
                    self.rooms.membership_changed(&state.room_id, &key, membership);
                }
                let entry = StateEntry { pdu: prepared.pdu, json: Arc::new(prepared.json) };
                state.current.insert((prepared.event.event_type, key), entry);
                state.state_group = Some(state_group);
                state.chain_length = chain_length;
            }
            persisted.push(Persisted { event_id: prepared.event_id, stream_ordering });
        }
        Ok(persisted)
    }

    /// Writes the state group of the state after a new state event: a
    /// delta against the current group while the chain is short, else a
    /// full snapshot. Returns the group and its chain length.
    async fn insert_state_group(
        &self,
        tx: &mut trellis_storage::Connection,
        state: &RoomState,
        event_type: &str,
        state_key: &str,
        event_id: &str,
    ) -> Result<(i64, i64)> {
        let (prev, chain, entries) = match state.state_group {
            Some(group) if state.chain_length < MAX_STATE_CHAIN => {
                (Some(group), state.chain_length + 1, vec![(event_type, state_key, event_id)])
            }
            _ => {
                let mut all: Vec<(&str, &str, &str)> = state
                    .current
                    .iter()
                    .filter(|((t, k), _)| !(t == event_type && k == state_key))
                    .map(|((t, k), e)| (t.as_str(), k.as_str(), e.pdu.event_id.as_str()))
                    .collect();
                all.push((event_type, state_key, event_id));
                (None, 0, all)
            }
        };
        let group = state::insert_group(tx, &state.room_id, prev, chain, &entries).await?;
        Ok((group, chain))
    }

    /// Replaces the redacted event's stored JSON by its redacted form (if
    /// the event is in this room; redactions of unknown events are kept
    /// and simply have no effect, as the spec allows). Returns the redacted
    /// state event, if it was one, so the cached state can follow.
    async fn apply_redaction(
        &self,
        tx: &mut trellis_storage::Connection,
        version: &RoomVersion,
        room_id: &str,
        target: &str,
        redaction_id: &str,
    ) -> Result<Option<(String, PduJson)>> {
        let Some(row) = self.storage.event(target).await? else { return Ok(None) };
        if row.room_id != room_id || row.redacted_by.is_some() {
            return Ok(None);
        }
        let json: PduJson = serde_json::from_str(&row.json).map_err(Error::internal)?;
        let redacted = trellis_events::redact_pdu(version, &json).map_err(Error::internal)?;
        let text = serde_json::to_string(&redacted).map_err(Error::internal)?;
        events::redact(tx, target, &text, redaction_id).await?;
        trellis_storage::search::remove_event(tx, row.stream_ordering).await?;
        Ok(row.state_key.is_some().then(|| (target.to_owned(), redacted)))
    }
}

/// The text each event of a batch puts in the search index, if any.
fn search_texts(batch: &[Prepared]) -> Vec<Option<(&'static str, String)>> {
    batch.iter().map(|p| search_text(&p.event.event_type, p.event.state_key.as_deref(), &p.event.content)).collect()
}

/// Adds a batch's rows, search entries and push actions to `script`, at
/// consecutive stream positions from `first`; returns the positions.
fn fill_script<'a>(
    script: &mut Script<'a>,
    room_id: &'a str,
    batch: &[Prepared],
    rows: &'a [PersistEvent<'a>],
    texts: &'a [Option<(&'static str, String)>],
    first: i64,
) -> Vec<i64> {
    let positions = persist::persist_all(script, rows, first);
    trellis_storage::search::index_events(script, &search_entries(rows, &positions, texts));
    let (defaults, exceptions) = push_decisions(batch, &positions);
    trellis_storage::push::insert_decisions(script, room_id, &defaults, &exceptions);
    positions
}

/// The search index entries of stored rows (at `positions`), for those
/// with text to index.
fn search_entries<'a>(
    rows: &'a [PersistEvent<'a>],
    positions: &[i64],
    texts: &'a [Option<(&'a str, String)>],
) -> Vec<SearchEntry<'a>> {
    rows.iter()
        .zip(positions)
        .zip(texts)
        .filter_map(|((row, position), text)| {
            let (key, value) = text.as_ref()?;
            Some(SearchEntry {
                event_id: row.event_id,
                room_id: row.room_id,
                sender: row.sender,
                key,
                value,
                stream_ordering: *position,
                origin_server_ts: row.origin_server_ts,
            })
        })
        .collect()
}

/// The push decisions of a batch, with the events' stream positions: for
/// each event, the decision most members got (when it notifies or
/// highlights), and the members whose own decision differs from it.
fn push_decisions<'a>(batch: &'a [Prepared], positions: &[i64]) -> (Vec<PushDefault>, Vec<PushAction<'a>>) {
    let mut defaults = Vec::new();
    let mut exceptions = Vec::new();
    for (prepared, &stream_ordering) in batch.iter().zip(positions) {
        let decision = |a: &MemberAction| (a.notify, a.highlight);
        let mut tally: Vec<((bool, bool), usize)> = Vec::with_capacity(4);
        for action in &prepared.push_actions {
            match tally.iter_mut().find(|(d, _)| *d == decision(action)) {
                Some((_, count)) => *count += 1,
                None => tally.push((decision(action), 1)),
            }
        }
        let (notify, highlight) = tally.iter().max_by_key(|(_, count)| *count).map_or((false, false), |(d, _)| *d);
        if notify || highlight {
            defaults.push(PushDefault { stream_ordering, notify, highlight });
        }
        exceptions.extend(
            prepared.push_actions.iter().filter(|a| decision(a) != (notify, highlight)).map(|a| PushAction {
                stream_ordering,
                user_id: &a.user_id,
                notify: a.notify,
                highlight: a.highlight,
            }),
        );
    }
    (defaults, exceptions)
}
