//! Events in the form plugins see them.

use serde_json::{Value, json};
use trellis_plugin::PluginEvent;

use crate::service::rooms::writer::StateEntry;

/// A stored event (its canonical JSON) as a plugin event.
pub fn from_json(event_id: &str, room_id: &str, json: &Value) -> PluginEvent {
    PluginEvent {
        event_id: event_id.to_owned(),
        room_id: room_id.to_owned(),
        sender: json.get("sender").and_then(Value::as_str).unwrap_or_default().to_owned(),
        event_type: json.get("type").and_then(Value::as_str).unwrap_or_default().to_owned(),
        state_key: json.get("state_key").and_then(Value::as_str).map(str::to_owned),
        content: json.get("content").cloned().unwrap_or_else(|| json!({})),
        origin_server_ts: json.get("origin_server_ts").and_then(Value::as_u64).unwrap_or(0),
        unsigned: json!({}),
    }
}

/// A current-state entry as a plugin event.
pub fn from_state(room_id: &str, entry: &StateEntry) -> PluginEvent {
    PluginEvent {
        event_id: entry.pdu.event_id.to_string(),
        room_id: room_id.to_owned(),
        sender: entry.pdu.sender.to_string(),
        event_type: entry.pdu.kind.to_string(),
        state_key: entry.pdu.state_key.clone(),
        content: entry.pdu.content_value(),
        origin_server_ts: u64::from(entry.pdu.origin_server_ts.get()),
        unsigned: json!({}),
    }
}

/// An event a local user is about to send.
pub fn proposed(
    room_id: &str,
    sender: &str,
    event_type: &str,
    state_key: Option<&str>,
    content: &Value,
) -> PluginEvent {
    PluginEvent {
        event_id: String::new(),
        room_id: room_id.to_owned(),
        sender: sender.to_owned(),
        event_type: event_type.to_owned(),
        state_key: state_key.map(str::to_owned),
        content: content.clone(),
        origin_server_ts: u64::try_from(trellis_storage::now_ms()).unwrap_or(0),
        unsigned: json!({}),
    }
}
