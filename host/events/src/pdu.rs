//! Building, signing and parsing PDUs.

use ruma::canonical_json::{CanonicalJsonValue, redact, to_canonical_value};
use ruma::events::TimelineEventType;
use ruma::room_version_rules::{EventIdFormatVersion, EventsReferenceFormatVersion};
use ruma::signatures::{hash_and_sign_event, reference_hash};
use ruma::{
    CanonicalJsonObject, EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId,
    ServerName, UInt, UserId,
};
use serde_json::value::RawValue;

use crate::{MAX_PDU_BYTES, PduJson, RoomVersion, ServerKey};

/// Why a PDU could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum PduError {
    /// Larger than the spec's limit.
    #[error("event is larger than {MAX_PDU_BYTES} bytes")]
    TooLarge,
    /// A field is missing or malformed.
    #[error("invalid event: {0}")]
    Invalid(String),
}

/// A reference to an earlier event, as `prev_events`/`auth_events` hold it.
#[derive(Debug, Clone)]
pub struct EventRef {
    /// Its event id.
    pub event_id: String,
    /// Its reference hash; needed only by room versions 1 and 2, whose
    /// references carry the hash.
    pub reference_hash: Option<String>,
}

/// What a local event is made of before it is hashed and signed.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The room (`None` only for a v12 create event, whose id names the room).
    pub room_id: Option<String>,
    /// Sender.
    pub sender: String,
    /// Event type.
    pub event_type: String,
    /// State key for state events.
    pub state_key: Option<String>,
    /// Content.
    pub content: serde_json::Value,
    /// The redacted event, for redactions.
    pub redacts: Option<String>,
    /// Forward extremities this event follows.
    pub prev_events: Vec<EventRef>,
    /// Auth events.
    pub auth_events: Vec<EventRef>,
    /// Depth: one more than the deepest prev event.
    pub depth: u64,
    /// Timestamp.
    pub origin_server_ts: u64,
}

fn reference(version: &RoomVersion, r: &EventRef) -> serde_json::Value {
    match version.rules.events_reference_format {
        EventsReferenceFormatVersion::V1 => {
            serde_json::json!([r.event_id, {"sha256": r.reference_hash.clone().unwrap_or_default()}])
        }
        _ => serde_json::Value::String(r.event_id.clone()),
    }
}

/// Assembles, hashes and signs a PDU; returns its event id and JSON.
pub fn build_pdu(
    version: &RoomVersion,
    event: &NewEvent,
    origin: &str,
    key: &ServerKey,
) -> Result<(OwnedEventId, PduJson), PduError> {
    let mut value = serde_json::json!({
        "type": event.event_type,
        "sender": event.sender,
        "content": event.content,
        "depth": event.depth,
        "origin_server_ts": event.origin_server_ts,
        "prev_events": event.prev_events.iter().map(|r| reference(version, r)).collect::<Vec<_>>(),
        "auth_events": event.auth_events.iter().map(|r| reference(version, r)).collect::<Vec<_>>(),
    });
    let map = value.as_object_mut().ok_or_else(|| PduError::Invalid("not an object".into()))?;
    if let Some(room_id) = &event.room_id {
        map.insert("room_id".into(), room_id.as_str().into());
    }
    if let Some(state_key) = &event.state_key {
        map.insert("state_key".into(), state_key.as_str().into());
    }
    if let Some(redacts) = &event.redacts {
        // v11 moved `redacts` into the content; older versions keep it at
        // the top level. Both places are filled by the caller's content for
        // v11+, so only the top level is handled here.
        if !version.rules.redaction.content_field_redacts {
            map.insert("redacts".into(), redacts.as_str().into());
        }
    }
    if version.rules.event_format.require_event_id {
        // Room versions 1 and 2 carry the origin server on every PDU.
        map.insert("origin".into(), origin.into());
    }
    let mut pdu = match to_canonical_value(&value).map_err(|e| PduError::Invalid(e.to_string()))? {
        CanonicalJsonValue::Object(object) => object,
        _ => return Err(PduError::Invalid("not an object".into())),
    };
    let server = <&ServerName>::try_from(origin).map_err(|e| PduError::Invalid(e.to_string()))?;
    let v1_id = match version.rules.event_id_format {
        EventIdFormatVersion::V1 => {
            let id = EventId::new_v1(server);
            pdu.insert("event_id".into(), CanonicalJsonValue::String(id.to_string()));
            Some(id)
        }
        _ => None,
    };
    hash_and_sign_event(origin, key.pair(), &mut pdu, &version.rules.redaction).map_err(|e| match e {
        ruma::signatures::JsonError::PduTooLarge => PduError::TooLarge,
        other => PduError::Invalid(other.to_string()),
    })?;
    let event_id = match v1_id {
        Some(id) => id,
        None => {
            let hash = reference_hash(&pdu, &version.rules).map_err(|e| PduError::Invalid(e.to_string()))?;
            EventId::new_v2_or_v3(&hash).map_err(|e| PduError::Invalid(e.to_string()))?
        }
    };
    if serde_json::to_string(&pdu).map_or(0, |s| s.len()) > MAX_PDU_BYTES {
        return Err(PduError::TooLarge);
    }
    Ok((event_id, pdu))
}

/// The reference hash of a stored PDU (room versions 1 and 2 reference
/// events by id and hash).
pub fn pdu_reference_hash(version: &RoomVersion, pdu: &PduJson) -> Result<String, PduError> {
    reference_hash(pdu, &version.rules).map_err(|e| PduError::Invalid(e.to_string()))
}

/// Redacts a PDU per its room version's rules.
pub fn redact_pdu(version: &RoomVersion, pdu: &PduJson) -> Result<PduJson, PduError> {
    redact(pdu.clone(), &version.rules.redaction, None).map_err(|e| PduError::Invalid(e.to_string()))
}

/// A parsed PDU: the fields the server and the auth rules read.
#[derive(Debug, Clone)]
pub struct Pdu {
    /// Event id.
    pub event_id: OwnedEventId,
    /// Room (`None` only for a v12 create event).
    pub room_id: Option<OwnedRoomId>,
    /// Sender.
    pub sender: OwnedUserId,
    /// Timestamp.
    pub origin_server_ts: MilliSecondsSinceUnixEpoch,
    /// Type.
    pub kind: TimelineEventType,
    /// Content as raw JSON (what the auth rules read).
    pub content: Box<RawValue>,
    /// State key.
    pub state_key: Option<String>,
    /// Prev event ids.
    pub prev_events: Vec<OwnedEventId>,
    /// Auth event ids.
    pub auth_events: Vec<OwnedEventId>,
    /// Redacted event, for redactions.
    pub redacts: Option<OwnedEventId>,
    /// Depth.
    pub depth: u64,
    /// Whether the server rejected it (never true for stored timeline events).
    pub rejected: bool,
}

fn event_ids(object: &CanonicalJsonObject, key: &str) -> Result<Vec<OwnedEventId>, PduError> {
    let Some(list) = object.get(key).and_then(CanonicalJsonValue::as_array) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|entry| {
            // v1/v2: [id, hashes]; v3+: id.
            let id = match entry {
                CanonicalJsonValue::Array(pair) => pair.first().and_then(CanonicalJsonValue::as_str),
                other => other.as_str(),
            };
            let id = id.ok_or_else(|| PduError::Invalid(format!("bad entry in {key}")))?;
            EventId::parse(id).map_err(|e| PduError::Invalid(e.to_string()))
        })
        .collect()
}

impl Pdu {
    /// Parses a PDU; `event_id` is passed in because v3+ PDUs do not carry it.
    pub fn from_json(event_id: &str, object: &PduJson) -> Result<Self, PduError> {
        let string = |key: &str| object.get(key).and_then(CanonicalJsonValue::as_str);
        let invalid = |what: &str| PduError::Invalid(what.to_owned());
        let content = object.get("content").ok_or_else(|| invalid("no content"))?;
        let redacts = match string("redacts") {
            Some(id) => Some(id),
            None => match content {
                CanonicalJsonValue::Object(c) => c.get("redacts").and_then(CanonicalJsonValue::as_str),
                _ => None,
            },
        };
        let ts =
            object.get("origin_server_ts").and_then(CanonicalJsonValue::as_integer).ok_or_else(|| invalid("no ts"))?;
        let depth = object
            .get("depth")
            .and_then(CanonicalJsonValue::as_integer)
            .map_or(0, |d| u64::try_from(i64::from(d)).unwrap_or(0));
        Ok(Self {
            event_id: EventId::parse(event_id).map_err(|e| PduError::Invalid(e.to_string()))?,
            room_id: string("room_id").map(RoomId::parse).transpose().map_err(|e| PduError::Invalid(e.to_string()))?,
            sender: UserId::parse(string("sender").ok_or_else(|| invalid("no sender"))?)
                .map_err(|e| PduError::Invalid(e.to_string()))?,
            origin_server_ts: MilliSecondsSinceUnixEpoch(
                UInt::try_from(i64::from(ts)).map_err(|_| invalid("negative timestamp"))?,
            ),
            kind: string("type").ok_or_else(|| invalid("no type"))?.into(),
            content: serde_json::value::to_raw_value(content).map_err(|e| PduError::Invalid(e.to_string()))?,
            state_key: string("state_key").map(str::to_owned),
            prev_events: event_ids(object, "prev_events")?,
            auth_events: event_ids(object, "auth_events")?,
            redacts: redacts.map(EventId::parse).transpose().map_err(|e| PduError::Invalid(e.to_string()))?,
            depth,
            rejected: false,
        })
    }

    /// The content as a JSON value.
    pub fn content_value(&self) -> serde_json::Value {
        serde_json::from_str(self.content.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl ruma::state_res::Event for Pdu {
    type Id = OwnedEventId;

    fn event_id(&self) -> &Self::Id {
        &self.event_id
    }
    fn room_id(&self) -> Option<&RoomId> {
        self.room_id.as_deref()
    }
    fn sender(&self) -> &UserId {
        &self.sender
    }
    fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        self.origin_server_ts
    }
    fn event_type(&self) -> &TimelineEventType {
        &self.kind
    }
    fn content(&self) -> &RawValue {
        &self.content
    }
    fn state_key(&self) -> Option<&str> {
        self.state_key.as_deref()
    }
    fn prev_events(&self) -> Box<dyn DoubleEndedIterator<Item = &Self::Id> + '_> {
        Box::new(self.prev_events.iter())
    }
    fn auth_events(&self) -> Box<dyn DoubleEndedIterator<Item = &Self::Id> + '_> {
        Box::new(self.auth_events.iter())
    }
    fn redacts(&self) -> Option<&Self::Id> {
        self.redacts.as_ref()
    }
    fn rejected(&self) -> bool {
        self.rejected
    }
}
