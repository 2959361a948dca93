//! Turning a local event into a PDU ready to store: prev and auth events
//! chosen, hashed, signed, authorised against the room's cached state, and
//! its push actions decided. Nothing here writes; [`super::writer`] stores
//! what this makes.

use std::collections::HashMap;

use ruma::events::StateEventType;
use serde_json::Value;
use trellis_events::{EventRef, NewEvent, Pdu, PduJson, auth_event_types, authorize, build_pdu};
use trellis_storage::now_ms;
use trellis_storage::persist::PersistEvent;

use super::writer::{LocalEvent, RoomState, StateEntry};
use crate::error::{ErrCode, Error, Result};
use crate::service::Services;
use crate::service::push::MemberAction;

/// Most prev_events a new event references.
const MAX_PREV_EVENTS: usize = 10;

/// An event built, signed and authorised, not yet stored.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// What the sender asked for.
    pub event: LocalEvent,
    /// Its id.
    pub event_id: String,
    /// Parsed PDU.
    pub pdu: Pdu,
    /// The PDU as JSON.
    pub json: PduJson,
    /// Its canonical text, as stored.
    json_text: String,
    /// Topological depth.
    pub depth: i64,
    /// Its timestamp.
    origin_server_ts: i64,
    /// The event as clients see it (push rules and plugins read this).
    pub client_view: Value,
    /// What push rules decided for each joined local member but the sender.
    pub push_actions: Vec<MemberAction>,
    /// Prev event ids.
    prev_ids: Vec<String>,
    /// Auth event ids.
    auth_ids: Vec<String>,
}

impl Prepared {
    /// The rows to write for it in `room_id`, with the state after it.
    pub fn row<'a>(&'a self, room_id: &'a str, state_group: i64) -> PersistEvent<'a> {
        let content = &self.event.content;
        let membership = (self.event.event_type == "m.room.member")
            .then(|| content.get("membership").and_then(Value::as_str))
            .flatten();
        let relation = content
            .get("m.relates_to")
            .and_then(|r| Some((r.get("event_id")?.as_str()?, r.get("rel_type")?.as_str()?)));
        PersistEvent {
            event_id: &self.event_id,
            room_id,
            event_type: &self.event.event_type,
            state_key: self.event.state_key.as_deref(),
            sender: &self.event.sender,
            depth: self.depth,
            origin_server_ts: self.origin_server_ts,
            json: &self.json_text,
            prev_events: &self.prev_ids,
            auth_events: &self.auth_ids,
            state_group,
            membership,
            relation,
            txn: self.event.txn.as_ref().map(|(d, t)| (self.event.sender.as_str(), d.as_str(), t.as_str())),
        }
    }
}

impl Services {
    /// Builds, signs and authorises `event` against `state`, on top of
    /// `tip` (the events it will name as prev events, with their depths,
    /// deepest first): the room's forward extremities, or the previous
    /// event of a batch. The caller holds the room lock.
    pub(crate) async fn prepare_event(
        &self,
        state: &RoomState,
        tip: &[(String, i64)],
        event: LocalEvent,
    ) -> Result<Prepared> {
        let version = &state.version;
        let auth_types =
            auth_event_types(version, &event.event_type, &event.sender, event.state_key.as_deref(), &event.content)
                .map_err(|e| Error::bad_json(e.0))?;
        let needs_hashes = version.rules.event_format.require_event_id;
        let auth_events: Vec<EventRef> = auth_types
            .iter()
            .filter_map(|(t, k)| state.current.get(&(t.to_string(), k.clone())))
            .map(|e| EventRef {
                event_id: e.pdu.event_id.to_string(),
                reference_hash: needs_hashes
                    .then(|| trellis_events::pdu_reference_hash(version, &e.json).ok())
                    .flatten(),
            })
            .collect();
        let mut prev_events = Vec::new();
        for (id, _) in tip.iter().take(MAX_PREV_EVENTS) {
            // Room versions 1 and 2 name events by hash-carrying
            // references, read back from the stored prev event.
            let hash = if needs_hashes {
                let row = self.storage.event(id).await?.ok_or_else(|| Error::internal("extremity missing"))?;
                let json: PduJson = serde_json::from_str(&row.json).map_err(Error::internal)?;
                trellis_events::pdu_reference_hash(version, &json).ok()
            } else {
                None
            };
            prev_events.push(EventRef { event_id: id.clone(), reference_hash: hash });
        }
        let depth = tip.iter().map(|(_, d)| *d).max().unwrap_or(0) + 1;
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
        let (event_id, json) = build_pdu(version, &new, self.server_name(), &self.rooms.key).map_err(|e| match e {
            trellis_events::PduError::TooLarge => Error::new(ErrCode::TooLarge, "Event is too large"),
            trellis_events::PduError::Invalid(why) => Error::bad_json(why),
        })?;
        let pdu = Pdu::from_json(event_id.as_str(), &json).map_err(Error::internal)?;
        let by_id: HashMap<&str, &StateEntry> = state.current.values().map(|e| (e.pdu.event_id.as_str(), e)).collect();
        authorize(
            version,
            &pdu,
            |id| by_id.get(id.as_str()).map(|e| e.pdu.clone()),
            |t: &StateEventType, k| state.current.get(&(t.to_string(), k.to_owned())).map(|e| e.pdu.clone()),
        )
        .map_err(|e| Error::forbidden(e.0))?;

        let json_text = serde_json::to_string(&json).map_err(Error::internal)?;
        let event_id = event_id.to_string();
        let client_view = trellis_events::client_event(&event_id, &json, None);
        let push_actions = self.push_actions_for(state, &event.sender, &client_view).await?;
        let prev_ids = pdu.prev_events.iter().map(ToString::to_string).collect();
        let auth_ids = pdu.auth_events.iter().map(ToString::to_string).collect();
        Ok(Prepared {
            event,
            event_id,
            pdu,
            json,
            json_text,
            depth,
            origin_server_ts: i64::try_from(new.origin_server_ts).unwrap_or(i64::MAX),
            client_view,
            push_actions,
            prev_ids,
            auth_ids,
        })
    }
}
