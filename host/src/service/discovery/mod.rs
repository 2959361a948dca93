//! Finding rooms, users and messages: the public room directory, the user
//! directory, full-text search, room summaries, space hierarchies and
//! mutual rooms.
//!
//! Room facts shown to people outside a room (name, topic, member count,
//! join rule…) are read from the room's current state through
//! [`RoomSummary`]; who may see them follows the space hierarchy rules of
//! the client-server spec ([`Services::may_preview`]).

pub mod directory;
pub mod hierarchy;
pub mod mutual;
pub mod search;
pub mod users;

use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::service::Services;
use crate::service::rooms::RoomState;

/// The text of an `m.room.topic` content: `topic`, or else the plain-text
/// representation in `m.topic` (spec v1.15).
pub fn topic_text(content: &Value) -> Option<String> {
    if let Some(topic) = content.get("topic").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        return Some(topic.to_owned());
    }
    content
        .get("m.topic")
        .and_then(|t| t.get("m.text"))
        .and_then(Value::as_array)?
        .iter()
        .find(|block| block.get("mimetype").and_then(Value::as_str).is_none_or(|m| m == "text/plain"))
        .and_then(|block| block.get("body"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// What the directory, room summaries and the space hierarchy say about a
/// room, read from its current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// Room id.
    pub room_id: String,
    /// `m.room.name`.
    pub name: Option<String>,
    /// `m.room.topic` (plain text).
    pub topic: Option<String>,
    /// `m.room.canonical_alias`.
    pub canonical_alias: Option<String>,
    /// `m.room.avatar`.
    pub avatar_url: Option<String>,
    /// `m.room.join_rules`.
    pub join_rule: Option<String>,
    /// History visibility is `world_readable`.
    pub world_readable: bool,
    /// Guest access is `can_join`.
    pub guest_can_join: bool,
    /// `type` of `m.room.create`.
    pub room_type: Option<String>,
    /// Room version.
    pub room_version: String,
    /// `m.room.encryption` algorithm.
    pub encryption: Option<String>,
    /// Joined members.
    pub num_joined_members: u64,
    /// Rooms named by a `restricted`/`knock_restricted` join rule.
    pub allowed_room_ids: Vec<String>,
}

fn non_empty_str(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl RoomSummary {
    /// Reads the summary from a room's current state.
    pub fn of(state: &RoomState) -> Self {
        let join_rules = state.content("m.room.join_rules", "");
        let join_rule = non_empty_str(&join_rules, "join_rule");
        let restricted = match join_rule.as_deref() {
            Some("restricted") => state.version.rules.authorization.restricted_join_rule,
            Some("knock_restricted") => state.version.rules.authorization.knock_restricted_join_rule,
            _ => false,
        };
        let allowed_room_ids = if restricted {
            join_rules
                .get("allow")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|a| a.get("type").and_then(Value::as_str) == Some("m.room_membership"))
                .filter_map(|a| a.get("room_id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        let num_joined_members = state
            .current
            .iter()
            .filter(|((t, _), e)| {
                t == "m.room.member" && e.pdu.content_value().get("membership").and_then(Value::as_str) == Some("join")
            })
            .count();
        Self {
            room_id: state.room_id.clone(),
            name: non_empty_str(&state.content("m.room.name", ""), "name"),
            topic: topic_text(&state.content("m.room.topic", "")),
            canonical_alias: non_empty_str(&state.content("m.room.canonical_alias", ""), "alias"),
            avatar_url: non_empty_str(&state.content("m.room.avatar", ""), "url"),
            join_rule,
            world_readable: state.content("m.room.history_visibility", "").get("history_visibility")
                == Some(&json!("world_readable")),
            guest_can_join: state.content("m.room.guest_access", "").get("guest_access") == Some(&json!("can_join")),
            room_type: non_empty_str(&state.content("m.room.create", ""), "type"),
            room_version: state.version.id.to_string(),
            encryption: non_empty_str(&state.content("m.room.encryption", ""), "algorithm"),
            num_joined_members: u64::try_from(num_joined_members).unwrap_or(u64::MAX),
            allowed_room_ids,
        }
    }

    /// The `PublishedRoomsChunk` fields (`/publicRooms`).
    pub fn chunk(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("room_id".into(), json!(self.room_id));
        out.insert("num_joined_members".into(), json!(self.num_joined_members));
        out.insert("world_readable".into(), json!(self.world_readable));
        out.insert("guest_can_join".into(), json!(self.guest_can_join));
        let optional = [
            ("name", &self.name),
            ("topic", &self.topic),
            ("canonical_alias", &self.canonical_alias),
            ("avatar_url", &self.avatar_url),
            ("join_rule", &self.join_rule),
            ("room_type", &self.room_type),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                out.insert(key.into(), json!(value));
            }
        }
        out
    }

    /// The `RoomSummary` fields (room summaries and the hierarchy): the
    /// chunk plus version, encryption and the allowed rooms.
    pub fn full(&self) -> Map<String, Value> {
        let mut out = self.chunk();
        out.insert("room_version".into(), json!(self.room_version));
        if let Some(encryption) = &self.encryption {
            out.insert("encryption".into(), json!(encryption));
        }
        if !self.allowed_room_ids.is_empty() {
            out.insert("allowed_room_ids".into(), json!(self.allowed_room_ids));
        }
        out
    }
}

impl Services {
    /// Whether a user (or, with `None`, anyone) may see a room's summary:
    /// the rules of the space hierarchy (client-server spec) that room
    /// summaries share. Anyone may preview rooms with a `public`, `knock`
    /// or `knock_restricted` join rule or world-readable history; members,
    /// invitees and knockers may preview their rooms, and users in one of
    /// the rooms a `restricted` join rule allows may preview it too.
    pub async fn may_preview(&self, state: &RoomState, summary: &RoomSummary, user: Option<&str>) -> Result<bool> {
        let rules = &state.version.rules.authorization;
        let open = match summary.join_rule.as_deref() {
            Some("public") => true,
            Some("knock") => rules.knocking,
            Some("knock_restricted") => rules.knock_restricted_join_rule,
            _ => false,
        };
        if open || summary.world_readable {
            return Ok(true);
        }
        let Some(user) = user else { return Ok(false) };
        if matches!(state.membership(user).as_deref(), Some("join" | "invite" | "knock")) {
            return Ok(true);
        }
        for allowed in &summary.allowed_room_ids {
            if self.storage.membership(allowed, user).await?.is_some_and(|m| m.membership == "join") {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// What the search index keeps of a new event: the key (`content.body`,
/// `content.name` or `content.topic`) and its text, for the event types
/// the spec's `/search` looks into; `None` for the others and for blank
/// text.
pub(crate) fn search_text(
    event_type: &str,
    state_key: Option<&str>,
    content: &Value,
) -> Option<(&'static str, String)> {
    let (key, value) = match event_type {
        "m.room.message" if state_key.is_none() => {
            ("content.body", content.get("body").and_then(Value::as_str).map(str::to_owned))
        }
        "m.room.name" if state_key == Some("") => {
            ("content.name", content.get("name").and_then(Value::as_str).map(str::to_owned))
        }
        "m.room.topic" if state_key == Some("") => ("content.topic", topic_index_text(content)),
        _ => return None,
    };
    value.filter(|v| !v.trim().is_empty()).map(|v| (key, v))
}

/// The text of an `m.room.topic` event to index: `topic` and, when it
/// says something else, the plain-text `m.topic` body too (the spec
/// searches both).
fn topic_index_text(content: &Value) -> Option<String> {
    let topic = content.get("topic").and_then(Value::as_str).filter(|t| !t.is_empty());
    let rich = content.get("m.topic").and_then(|_| {
        let without_topic = json!({"m.topic": content.get("m.topic")});
        topic_text(&without_topic)
    });
    match (topic, rich) {
        (Some(topic), Some(rich)) if rich != topic => Some(format!("{topic}\n{rich}")),
        (Some(topic), _) => Some(topic.to_owned()),
        (None, rich) => rich,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert_eq!(topic_text(&json!({"topic": "Plants"})), Some("Plants".into()));
        assert_eq!(topic_text(&json!({"topic": ""})), None);
        let rich = json!({"topic": "", "m.topic": {"m.text": [
            {"body": "<b>Plants</b>", "mimetype": "text/html"}, {"body": "Plants"}]}});
        assert_eq!(topic_text(&rich), Some("Plants".into()));
        let both = json!({"topic": "Plants", "m.topic": {"m.text": [{"body": "Trees", "mimetype": "text/plain"}]}});
        assert_eq!(topic_index_text(&both), Some("Plants\nTrees".into()));
        assert_eq!(topic_index_text(&json!({"topic": "Plants"})), Some("Plants".into()));
    }
}
