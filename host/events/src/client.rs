//! The client-format view of a PDU (the client-server spec's
//! `ClientEvent`): what `/sync`, `/messages` and friends return.

use ruma::canonical_json::CanonicalJsonValue;
use serde::{Deserialize, Deserializer};
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

/// The client keys of a stored PDU, read straight from its JSON text.
/// Everything else (hashes, signatures, `prev_events`, `auth_events`) is
/// skipped by the parser without being built, which is most of the work
/// of serving an event: `/messages`, `/sync` and friends render stored
/// events this way.
#[derive(Deserialize)]
struct StoredClientKeys {
    #[serde(default, deserialize_with = "present")]
    content: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    origin_server_ts: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    room_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    sender: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    state_key: Option<Value>,
    #[serde(default, deserialize_with = "present", rename = "type")]
    event_type: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    redacts: Option<Value>,
}

/// A key that is present is kept, even with a `null` value (as
/// [`strip_for_client`] keeps it).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Builds the client view of a stored PDU from its JSON text: the same
/// result as [`client_event`] on the parsed PDU.
pub fn client_event_from_json(
    event_id: &str,
    json: &str,
    unsigned: Option<Map<String, Value>>,
) -> Result<ClientEvent, serde_json::Error> {
    let keys: StoredClientKeys = serde_json::from_str(json)?;
    let mut out = Map::new();
    let fields = [
        ("content", keys.content),
        ("origin_server_ts", keys.origin_server_ts),
        ("room_id", keys.room_id),
        ("sender", keys.sender),
        ("state_key", keys.state_key),
        ("type", keys.event_type),
        ("redacts", keys.redacts),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            out.insert(key.to_owned(), value);
        }
    }
    mirror_redacts(&mut out);
    out.insert("event_id".into(), Value::String(event_id.to_owned()));
    if let Some(unsigned) = unsigned.filter(|u| !u.is_empty()) {
        out.insert("unsigned".into(), Value::Object(unsigned));
    }
    Ok(Value::Object(out))
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
    fn stored_json_renders_like_the_parsed_pdu() {
        let stored = [
            serde_json::json!({
                "auth_events": ["$a", "$b"], "content": {"body": "hi", "msgtype": "m.text", "n": null},
                "depth": 7, "hashes": {"sha256": "x"}, "origin_server_ts": 1234, "prev_events": ["$p"],
                "room_id": "!r:s", "sender": "@u:s", "signatures": {"s": {"ed25519:a": "sig"}},
                "type": "m.room.message", "unsigned": {"age_ts": 1}
            }),
            serde_json::json!({
                "content": {"membership": "join"}, "origin_server_ts": 5, "room_id": "!r:s",
                "sender": "@u:s", "state_key": "@u:s", "type": "m.room.member", "depth": 2
            }),
            serde_json::json!({"content": {"redacts": "$x"}, "type": "m.room.redaction", "sender": "@u:s"}),
            serde_json::json!({"content": {}, "redacts": "$y", "type": "m.room.redaction", "state_key": null}),
        ];
        for value in stored {
            let text = serde_json::to_string(&value).unwrap();
            let mut unsigned = Map::new();
            unsigned.insert("age".into(), serde_json::json!(3));
            let fast = client_event_from_json("$e", &text, Some(unsigned.clone())).unwrap();
            assert_eq!(fast, client_event("$e", &pdu(value), Some(unsigned)));
            assert!(fast.get("signatures").is_none() && fast.get("depth").is_none());
        }
        assert!(client_event_from_json("$e", "{\"content\": ", None).is_err());
        assert!(client_event_from_json("$e", "\"text\"", None).is_err());
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
