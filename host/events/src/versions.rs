//! Room versions: which ones exist, the default, and their rules.

use ruma::RoomVersionId;
use ruma::room_version_rules::RoomVersionRules;

/// The version new rooms get unless the client asks otherwise; the same as
/// current Synapse's default.
pub const DEFAULT_ROOM_VERSION: &str = "12";

/// Every stable room version, oldest first.
pub const STABLE_ROOM_VERSIONS: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];

/// A room version this server implements, with its rules.
#[derive(Debug, Clone)]
pub struct RoomVersion {
    /// The id, e.g. `12`.
    pub id: RoomVersionId,
    /// ruma's rules for it.
    pub rules: RoomVersionRules,
}

impl RoomVersion {
    /// Looks a version up; `None` for versions this server does not know.
    pub fn new(id: &str) -> Option<Self> {
        if !STABLE_ROOM_VERSIONS.contains(&id) {
            return None;
        }
        let id: RoomVersionId = id.parse().ok()?;
        let rules = id.rules()?;
        Some(Self { id, rules })
    }

    /// The default version.
    pub fn default_version() -> Self {
        #[allow(clippy::expect_used)]
        Self::new(DEFAULT_ROOM_VERSION).expect("the default room version is known")
    }

    /// Whether the room's creators are privileged by the create event
    /// rather than by power levels (v12).
    pub fn privileges_creators(&self) -> bool {
        self.rules.authorization.explicitly_privilege_room_creators
    }

    /// Whether the create event's sender is the creator (v11+; before,
    /// the create content names a `creator`).
    pub fn uses_create_sender(&self) -> bool {
        self.rules.authorization.use_room_create_sender
    }

    /// Whether the room id is derived from the create event (v12).
    pub fn room_id_from_create_event(&self) -> bool {
        self.rules.authorization.room_create_event_id_as_room_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown() {
        for id in STABLE_ROOM_VERSIONS {
            assert!(RoomVersion::new(id).is_some(), "{id}");
        }
        assert!(RoomVersion::new("13").is_none());
        assert!(RoomVersion::new("org.example.custom").is_none());
        assert!(RoomVersion::default_version().privileges_creators());
        assert!(!RoomVersion::new("11").unwrap().privileges_creators());
    }
}
