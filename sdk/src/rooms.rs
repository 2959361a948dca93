//! Reading rooms (`room_read` capability) and acting in them as a local user
//! (`room_write` capability).

use serde_json::Value;

use crate::bindings::trellis::plugin::{room_read, room_write};
use crate::types::{Event, MatrixError};

/// An event by id.
pub fn get_event(event_id: &str) -> Option<Event> {
    room_read::get_event(event_id).map(Event::from)
}

/// A current state event.
pub fn get_state(room_id: &str, event_type: &str, state_key: &str) -> Option<Event> {
    room_read::get_state(room_id, event_type, state_key).map(Event::from)
}

/// Users whose membership is `join`.
pub fn joined_members(room_id: &str) -> Vec<String> {
    room_read::joined_members(room_id)
}

/// A local user's global (`room_id` none) or room account data.
pub fn account_data(user_id: &str, room_id: Option<&str>, data_type: &str) -> Option<Value> {
    room_read::account_data(user_id, room_id, data_type).and_then(|json| serde_json::from_str(&json).ok())
}

/// The room an alias points to.
pub fn resolve_alias(alias: &str) -> Option<String> {
    room_read::resolve_alias(alias)
}

/// Recent events of `sender` in a room, newest first.
pub fn events_by_sender(room_id: &str, sender: &str, limit: u32) -> Vec<String> {
    room_read::events_by_sender(room_id, sender, limit)
}

/// Sends a message event as `sender`; returns its id.
pub fn send_message(room_id: &str, sender: &str, event_type: &str, content: &Value) -> Result<String, MatrixError> {
    room_write::send_event(room_id, sender, event_type, None, &content.to_string()).map_err(Into::into)
}

/// Sends a state event as `sender`; returns its id.
pub fn send_state(
    room_id: &str,
    sender: &str,
    event_type: &str,
    state_key: &str,
    content: &Value,
) -> Result<String, MatrixError> {
    room_write::send_event(room_id, sender, event_type, Some(state_key), &content.to_string()).map_err(Into::into)
}

/// Sends a plain-text `m.room.message` as `sender`.
pub fn send_text(room_id: &str, sender: &str, body: &str) -> Result<String, MatrixError> {
    send_message(room_id, sender, "m.room.message", &serde_json::json!({"msgtype": "m.text", "body": body}))
}

/// Changes `target`'s membership (`join`, `invite`, `leave`, `ban`) as
/// `sender`; joining is done by the target itself (`sender == target`).
pub fn set_membership(
    room_id: &str,
    sender: &str,
    target: &str,
    membership: &str,
    reason: Option<&str>,
) -> Result<String, MatrixError> {
    room_write::set_membership(room_id, sender, target, membership, reason).map_err(Into::into)
}

/// Redacts an event as `sender`.
pub fn redact(room_id: &str, sender: &str, event_id: &str, reason: Option<&str>) -> Result<String, MatrixError> {
    room_write::redact(room_id, sender, event_id, reason).map_err(Into::into)
}
