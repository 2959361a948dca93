//! Event filters (the client-server spec's `Filter` and `RoomEventFilter`),
//! applied to timelines, state and account data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_storage::events::EventRow;

/// Matches a type or sender against a list with `*` wildcards at the end.
fn matches(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => p == value,
    })
}

/// `RoomEventFilter` (also used for `EventFilter` fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoomEventFilter {
    /// Most events to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Types to include (all if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// Types to exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_types: Vec<String>,
    /// Senders to include (all if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders: Option<Vec<String>>,
    /// Senders to exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_senders: Vec<String>,
    /// Rooms to include (all if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Rooms to exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_rooms: Vec<String>,
    /// Only events with (or without) a `url` in their content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains_url: Option<bool>,
    /// Send only the member events needed for the returned events.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lazy_load_members: bool,
    /// With lazy loading, send members again even if sent before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_redundant_members: bool,
    /// Leave rooms in `/sync`'s leave section (room filter level).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_leave: bool,
}

impl RoomEventFilter {
    /// Whether an event of this type and sender in this room passes.
    pub fn allows(&self, event_type: &str, sender: &str, room_id: &str, content: Option<&Value>) -> bool {
        if self.types.as_ref().is_some_and(|t| !matches(t, event_type)) || matches(&self.not_types, event_type) {
            return false;
        }
        if self.senders.as_ref().is_some_and(|s| !matches(s, sender)) || matches(&self.not_senders, sender) {
            return false;
        }
        if !self.allows_room(room_id) {
            return false;
        }
        if let (Some(wanted), Some(content)) = (self.contains_url, content)
            && content.get("url").is_some_and(Value::is_string) != wanted
        {
            return false;
        }
        true
    }

    /// Whether a stored event passes. Its JSON is parsed only when the
    /// filter looks into the content (`contains_url`): for a page of fifty
    /// events the parsing would cost more than the rest of the filter.
    pub fn allows_event(&self, row: &EventRow) -> bool {
        if self.contains_url.is_none() {
            return self.allows(&row.event_type, &row.sender, &row.room_id, None);
        }
        let json: Value = serde_json::from_str(&row.json).unwrap_or_default();
        self.allows(&row.event_type, &row.sender, &row.room_id, json.get("content"))
    }

    /// Whether the room passes.
    pub fn allows_room(&self, room_id: &str) -> bool {
        !(self.rooms.as_ref().is_some_and(|r| !r.iter().any(|x| x == room_id))
            || self.not_rooms.iter().any(|x| x == room_id))
    }
}

/// `RoomFilter`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoomFilter {
    /// Rooms to include.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Rooms to exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_rooms: Vec<String>,
    /// Include rooms the user has left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_leave: bool,
    /// Timeline filter.
    #[serde(default)]
    pub timeline: RoomEventFilter,
    /// State filter.
    #[serde(default)]
    pub state: RoomEventFilter,
    /// Ephemeral events filter.
    #[serde(default)]
    pub ephemeral: RoomEventFilter,
    /// Room account data filter.
    #[serde(default)]
    pub account_data: RoomEventFilter,
}

/// A whole `Filter`, as uploaded to `/user/{userId}/filter` or inline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Filter {
    /// Fields to include (not applied: all fields are always sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_fields: Option<Vec<String>>,
    /// `client` or `federation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_format: Option<String>,
    /// Presence filter.
    #[serde(default)]
    pub presence: RoomEventFilter,
    /// Global account data filter.
    #[serde(default)]
    pub account_data: RoomEventFilter,
    /// Room filters.
    #[serde(default)]
    pub room: RoomFilter,
}

impl RoomFilter {
    /// Whether a room is included at all.
    pub fn allows_room(&self, room_id: &str) -> bool {
        !(self.rooms.as_ref().is_some_and(|r| !r.iter().any(|x| x == room_id))
            || self.not_rooms.iter().any(|x| x == room_id))
    }
}

impl super::Services {
    /// Stores a filter for the requester and returns its id.
    pub async fn create_filter(
        &self,
        requester: &super::tokens::Requester,
        user_id: &str,
        body: &Value,
    ) -> crate::error::Result<i64> {
        use crate::error::Error;
        if requester.user_id != user_id {
            return Err(Error::forbidden("Cannot create filters for other users"));
        }
        let filter: Filter =
            serde_json::from_value(body.clone()).map_err(|e| Error::bad_json(format!("Invalid filter: {e}")))?;
        let text = serde_json::to_string(&filter).map_err(Error::internal)?;
        let mut tx = self.storage.begin().await?;
        let id = trellis_storage::filters::insert(&mut tx, user_id, &text).await?;
        tx.commit().await.map_err(Error::internal)?;
        Ok(id)
    }

    /// Loads a stored filter, or `M_NOT_FOUND`.
    pub async fn load_filter(&self, user_id: &str, filter_id: &str) -> crate::error::Result<Filter> {
        use crate::error::Error;
        let id: i64 = filter_id.parse().map_err(|_| Error::not_found("No such filter"))?;
        let text = self.storage.filter(user_id, id).await?.ok_or_else(|| Error::not_found("No such filter"))?;
        serde_json::from_str(&text).map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_exclusions() {
        let filter: RoomEventFilter =
            serde_json::from_value(serde_json::json!({"types": ["m.room.*"], "not_senders": ["@spam:x"]})).unwrap();
        assert!(filter.allows("m.room.message", "@a:x", "!r", None));
        assert!(!filter.allows("m.reaction", "@a:x", "!r", None));
        assert!(!filter.allows("m.room.message", "@spam:x", "!r", None));
        let rooms: RoomEventFilter = serde_json::from_value(serde_json::json!({"not_rooms": ["!b"]})).unwrap();
        assert!(rooms.allows_room("!a") && !rooms.allows_room("!b"));
    }
}
