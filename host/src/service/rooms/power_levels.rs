//! Reading power levels from room state (for the server's own checks
//! before it builds an event) and the defaults for new rooms.

use serde_json::{Value, json};

use super::RoomState;

/// Power levels of a room as the server reads them.
#[derive(Debug, Clone)]
pub struct PowerLevels {
    content: Value,
    creators: Vec<String>,
    privileged_creators: bool,
    has_event: bool,
}

fn int(value: Option<&Value>, default: i64) -> i64 {
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        // Room versions before 10 allow numbers in strings.
        Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

impl PowerLevels {
    /// The power levels in a room's current state.
    pub fn of(state: &RoomState) -> Self {
        let create = state.get("m.room.create", "");
        let mut creators = Vec::new();
        if let Some(create) = create {
            creators.push(create.pdu.sender.to_string());
            let content = create.pdu.content_value();
            if let Some(extra) = content.get("additional_creators").and_then(Value::as_array) {
                creators.extend(extra.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            if let Some(creator) = content.get("creator").and_then(Value::as_str) {
                creators.push(creator.to_owned());
            }
        }
        let pl = state.get("m.room.power_levels", "");
        Self {
            content: pl.map_or(Value::Null, |e| e.pdu.content_value()),
            creators,
            privileged_creators: state.version.privileges_creators(),
            has_event: pl.is_some(),
        }
    }

    /// A user's level. Creators of v12 rooms outrank everyone.
    pub fn user(&self, user_id: &str) -> i64 {
        if self.privileged_creators && self.creators.iter().any(|c| c == user_id) {
            return i64::MAX;
        }
        if !self.has_event {
            // Without a power levels event the creator has 100, others 0.
            return if self.creators.iter().any(|c| c == user_id) { 100 } else { 0 };
        }
        match self.content.get("users").and_then(|u| u.get(user_id)) {
            Some(level) => int(Some(level), 0),
            None => int(self.content.get("users_default"), 0),
        }
    }

    /// Level needed to send an event of this type.
    pub fn for_event(&self, event_type: &str, is_state: bool) -> i64 {
        if let Some(level) = self.content.get("events").and_then(|e| e.get(event_type)) {
            return int(Some(level), 0);
        }
        if is_state { int(self.content.get("state_default"), 50) } else { int(self.content.get("events_default"), 0) }
    }

    /// A named action level (`ban`, `kick`, `redact`, `invite`).
    pub fn action(&self, name: &str) -> i64 {
        let default = if name == "invite" { 0 } else { 50 };
        int(self.content.get(name), default)
    }

    /// Whether `user` may send this event type.
    pub fn may_send(&self, user: &str, event_type: &str, is_state: bool) -> bool {
        self.user(user) >= self.for_event(event_type, is_state)
    }
}

/// Synapse's default power levels for a new room.
pub fn default_content(creator: Option<&str>, invite_level: i64, v12: bool) -> Value {
    let mut users = serde_json::Map::new();
    if let Some(creator) = creator {
        users.insert(creator.to_owned(), json!(100));
    }
    json!({
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": if v12 { 150 } else { 100 },
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": invite_level,
        "historical": 100,
        "notifications": {"room": 50},
    })
}
