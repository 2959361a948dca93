//! The client-format view of a PDU (the client-server spec's
//! `ClientEvent`): what `/sync`, `/messages` and friends return.

use ruma::canonical_json::CanonicalJsonValue;
use serde_json::{Map, Value};

use crate::PduJson;

/// A client-format event as JSON.
pub type ClientEvent = Value;

/// Keys of a PDU that clients see; the rest (hashes, signatures, depth,
/// prev/auth events, origin) is federation plumbing.
const CLIENT_KEYS: &[&str] = &["content", "origin_server_ts", "room_id", "sender", "state_key", "type", "redacts"];

/// Builds the client view: the client keys, the event id, and `unsigned`.
pub fn client_event(event_id: &str, pdu: &PduJson, unsigned: Option<Map<String, Value>>) -> ClientEvent {
    let mut out = strip_for_client(pdu);
    out.insert("event_id".into(), Value::String(event_id.to_owned()));
    if let Some(unsigned) = unsigned.filter(|u| !u.is_empty()) {
        out.insert("unsigned".into(), Value::Object(unsigned));
    }
    Value::Object(out)
}

/// The client keys of a PDU.
pub fn strip_for_client(pdu: &PduJson) -> Map<String, Value> {
    let mut out = Map::new();
    for key in CLIENT_KEYS {
        if let Some(value) = pdu.get(*key) {
            out.insert((*key).to_owned(), Value::from(CanonicalJsonValue::clone(value)));
        }
    }
    out
}
