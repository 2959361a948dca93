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

use ruma::events::StateEventType;
use serde_json::Value;
use trellis_events::{EventRef, NewEvent, Pdu, PduJson, RoomVersion, auth_event_types, authorize, build_pdu};
use trellis_storage::events::{self, PersistEvent};
use trellis_storage::{now_ms, state};

use crate::error::{ErrCode, Error, Result};
use crate::service::Services;

/// Longest chain of state-group deltas before a new snapshot is written.
const MAX_STATE_CHAIN: i64 = 50;
/// Most prev_events a new event references.
const MAX_PREV_EVENTS: usize = 10;

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

    /// A user's membership (`join`, `invite`, …) in the current state.
    pub fn membership(&self, user_id: &str) -> Option<String> {
        self.content("m.room.member", user_id).get("membership").and_then(Value::as_str).map(str::to_owned)
    }
}

impl Services {
    /// Loads a room's state from the database.
    async fn load_room_state(&self, room_id: &str) -> Result<RoomState> {
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
        Ok(RoomState { room_id: room_id.to_owned(), version, current, state_group, chain_length, extremities })
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
            && let Some(event_id) = self.storage.txn_event(&event.sender, device, txn).await?
        {
            let row = self.storage.event(&event_id).await?.ok_or_else(|| Error::internal("txn event missing"))?;
            return Ok(Persisted { event_id, stream_ordering: row.stream_ordering });
        }
        let version = state.version.clone();
        let auth_types =
            auth_event_types(&version, &event.event_type, &event.sender, event.state_key.as_deref(), &event.content)
                .map_err(|e| Error::bad_json(e.0))?;
        let needs_hashes = version.rules.event_format.require_event_id;
        let reference = |id: &str, json: &PduJson| EventRef {
            event_id: id.to_owned(),
            reference_hash: needs_hashes.then(|| trellis_events::pdu_reference_hash(&version, json).ok()).flatten(),
        };
        let auth_events: Vec<EventRef> = auth_types
            .iter()
            .filter_map(|(t, k)| state.current.get(&(t.to_string(), k.clone())))
            .map(|e| reference(e.pdu.event_id.as_str(), &e.json))
            .collect();
        let mut prev_events = Vec::new();
        for (id, _) in state.extremities.iter().take(MAX_PREV_EVENTS) {
            let hash = if needs_hashes {
                let row = self.storage.event(id).await?.ok_or_else(|| Error::internal("extremity missing"))?;
                let json: PduJson = serde_json::from_str(&row.json).map_err(Error::internal)?;
                trellis_events::pdu_reference_hash(&version, &json).ok()
            } else {
                None
            };
            prev_events.push(EventRef { event_id: id.clone(), reference_hash: hash });
        }
        let depth = state.extremities.iter().map(|(_, d)| *d).max().unwrap_or(0) + 1;
        let room_id_field = if event.event_type == "m.room.create" && version.room_id_from_create_event() {
            None
        } else {
            Some(state.room_id.clone())
        };
        let new = NewEvent {
            room_id: room_id_field,
            sender: event.sender.clone(),
            event_type: event.event_type.clone(),
            state_key: event.state_key.clone(),
            content: event.content.clone(),
            redacts: event.redacts.clone(),
            prev_events,
            auth_events,
            depth: u64::try_from(depth).unwrap_or(1),
            origin_server_ts: u64::try_from(now_ms()).unwrap_or(0),
        };
        let (event_id, json) = build_pdu(&version, &new, self.server_name(), &self.rooms.key).map_err(|e| match e {
            trellis_events::PduError::TooLarge => Error::new(ErrCode::TooLarge, "Event is too large"),
            trellis_events::PduError::Invalid(why) => Error::bad_json(why),
        })?;
        let pdu = Pdu::from_json(event_id.as_str(), &json).map_err(Error::internal)?;
        if event.event_type == "m.room.create" && version.room_id_from_create_event() {
            // Room version 12: the create event's id names the room.
            state.room_id = format!("!{}", event_id.localpart());
        }
        let by_id: HashMap<&str, &StateEntry> = state.current.values().map(|e| (e.pdu.event_id.as_str(), e)).collect();
        authorize(
            &version,
            &pdu,
            |id| by_id.get(id.as_str()).map(|e| e.pdu.clone()),
            |t: &StateEventType, k| state.current.get(&(t.to_string(), k.to_owned())).map(|e| e.pdu.clone()),
        )
        .map_err(|e| Error::forbidden(e.0))?;

        let json_text = serde_json::to_string(&json).map_err(Error::internal)?;
        let event_id = event_id.to_string();
        let client_view = trellis_events::client_event(&event_id, &json, None);
        let push_actions = self.push_actions_for(state, &event.sender, &client_view).await?;
        let mut tx = self.storage.begin().await?;
        let (state_group, chain_length) = match &event.state_key {
            Some(key) => {
                let (prev, chain, entries) = match state.state_group {
                    Some(group) if state.chain_length < MAX_STATE_CHAIN => (
                        Some(group),
                        state.chain_length + 1,
                        vec![(event.event_type.clone(), key.clone(), event_id.clone())],
                    ),
                    _ => {
                        let mut all: Vec<(String, String, String)> = state
                            .current
                            .iter()
                            .filter(|((t, k), _)| !(t == &event.event_type && k == key))
                            .map(|((t, k), e)| (t.clone(), k.clone(), e.pdu.event_id.to_string()))
                            .collect();
                        all.push((event.event_type.clone(), key.clone(), event_id.clone()));
                        (None, 0, all)
                    }
                };
                let borrowed: Vec<(&str, &str, &str)> =
                    entries.iter().map(|(t, k, e)| (t.as_str(), k.as_str(), e.as_str())).collect();
                let group = state::insert_group(&mut tx, &state.room_id, prev, chain, &borrowed).await?;
                (group, chain)
            }
            None => match state.state_group {
                Some(group) => (group, state.chain_length),
                None => return Err(Error::internal("non-state event in a room without state")),
            },
        };
        if event.event_type == "m.room.create" {
            trellis_storage::rooms::insert(&mut tx, &state.room_id, version.id.as_str(), &event.sender).await?;
        }
        let membership = (event.event_type == "m.room.member")
            .then(|| event.content.get("membership").and_then(Value::as_str))
            .flatten();
        let relation = event
            .content
            .get("m.relates_to")
            .and_then(|r| Some((r.get("event_id")?.as_str()?, r.get("rel_type")?.as_str()?)));
        let prev_ids: Vec<String> = pdu.prev_events.iter().map(ToString::to_string).collect();
        let auth_ids: Vec<String> = pdu.auth_events.iter().map(ToString::to_string).collect();
        let persist = PersistEvent {
            event_id: &event_id,
            room_id: &state.room_id,
            event_type: &event.event_type,
            state_key: event.state_key.as_deref(),
            sender: &event.sender,
            depth,
            origin_server_ts: i64::try_from(new.origin_server_ts).unwrap_or(i64::MAX),
            json: &json_text,
            prev_events: &prev_ids,
            auth_events: &auth_ids,
            state_group,
            membership,
            relation,
            txn: event.txn.as_ref().map(|(d, t)| (event.sender.as_str(), d.as_str(), t.as_str())),
        };
        let stream_ordering = events::persist(&mut tx, &persist).await?;
        self.index_for_search(&mut tx, &persist, &event.content, stream_ordering).await?;
        let decided: Vec<(&str, bool, bool)> =
            push_actions.iter().map(|a| (a.user_id.as_str(), a.notify, a.highlight)).collect();
        trellis_storage::push::insert_actions(&mut tx, &state.room_id, &event_id, stream_ordering, &decided).await?;
        let mut redacted_state = None;
        if event.event_type == "m.room.redaction"
            && let Some(target) = pdu.redacts.as_ref()
        {
            redacted_state =
                self.apply_redaction(&mut tx, &version, &state.room_id, target.as_str(), &event_id).await?;
        }
        tx.commit().await.map_err(Error::internal)?;

        // A redacted state event must look redacted to the auth rules too.
        if let Some((target, redacted)) = redacted_state
            && let Some(entry) = state.current.values_mut().find(|e| e.pdu.event_id.as_str() == target)
        {
            entry.pdu = Pdu::from_json(&target, &redacted).map_err(Error::internal)?;
            entry.json = Arc::new(redacted);
        }

        if let Some(key) = &event.state_key {
            state.current.insert((event.event_type.clone(), key.clone()), StateEntry { pdu, json: Arc::new(json) });
            state.state_group = Some(state_group);
            state.chain_length = chain_length;
        }
        state.extremities = vec![(event_id.clone(), depth)];
        self.rooms.set_last_event(&state.room_id, stream_ordering);
        self.rooms.notify(stream_ordering);
        self.announce_event(&event_id, &state.room_id, &client_view);
        Ok(Persisted { event_id, stream_ordering })
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
        trellis_storage::search::remove_event(tx, target).await?;
        Ok(row.state_key.is_some().then(|| (target.to_owned(), redacted)))
    }
}
