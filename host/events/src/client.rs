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
    mirror_redacts(&mut out);
    out.insert("event_id".into(), Value::String(event_id.to_owned()));
    if let Some(unsigned) = unsigned.filter(|u| !u.is_empty()) {
        out.insert("unsigned".into(), Value::Object(unsigned));
    }
    Value::Object(out)
}

/// Room version 11 moved `redacts` into the content of redactions; the
/// spec asks servers to serve it in both places so that clients written
/// for either layout work (matrix-js-sdk reads the top level, nio requires
/// it).
fn mirror_redacts(event: &mut Map<String, Value>) {
    if event.get("type").and_then(Value::as_str) != Some("m.room.redaction") {
        return;
    }
    let in_content = event.get("content").and_then(|c| c.get("redacts")).cloned();
    match (event.get("redacts").cloned(), in_content) {
        (None, Some(target)) => {
            event.insert("redacts".into(), target);
        }
        (Some(target), None) => {
            if let Some(content) = event.get_mut("content").and_then(Value::as_object_mut) {
                content.insert("redacts".into(), target);
            }
        }
        _ => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pdu(value: Value) -> PduJson {
        match ruma::canonical_json::to_canonical_value(value).unwrap() {
            CanonicalJsonValue::Object(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn redacts_is_served_in_both_places() {
        let v11 = client_event(
            "$r",
            &pdu(serde_json::json!({"type": "m.room.redaction", "content": {"redacts": "$x"}})),
            None,
        );
        assert_eq!(v11["redacts"], "$x");
        let v10 = client_event(
            "$r",
            &pdu(serde_json::json!({"type": "m.room.redaction", "redacts": "$y", "content": {}})),
            None,
        );
        assert_eq!(v10["content"]["redacts"], "$y");
        let other =
            client_event("$m", &pdu(serde_json::json!({"type": "m.room.message", "content": {"redacts": "$z"}})), None);
        assert!(other.get("redacts").is_none());
    }
}
