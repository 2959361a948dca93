//! `POST /rooms/{roomId}/upgrade`: replace a room with a new one of a newer
//! version, the way Synapse does it: create the new room with the old one
//! as predecessor, copy the important state, move local aliases, then
//! tombstone the old room and stop ordinary members from talking in it.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use trellis_events::{RoomVersion, STABLE_ROOM_VERSIONS};

use super::power_levels::PowerLevels;
use super::writer::{LocalEvent, RoomState};
use crate::error::{ErrCode, Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

/// State carried over to the new room (besides create, members, power
/// levels and aliases, handled separately).
const COPIED_STATE: &[&str] = &[
    "m.room.join_rules",
    "m.room.name",
    "m.room.topic",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.avatar",
    "m.room.encryption",
    "m.room.server_acl",
];

impl Services {
    /// Upgrades a room; returns the replacement room's id.
    pub async fn upgrade_room(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        new_version: &str,
        additional_creators: Vec<String>,
    ) -> Result<String> {
        let version = RoomVersion::new(new_version).ok_or_else(|| {
            Error::new(
                ErrCode::UnsupportedRoomVersion,
                format!("Room version {new_version:?} is not supported (known: {})", STABLE_ROOM_VERSIONS.join(", ")),
            )
        })?;
        if self.storage.room(room_id).await?.is_none() {
            return Err(Error::not_found("Unknown room"));
        }
        let old = self.room_state(room_id).await?;
        if old.membership(&requester.user_id).as_deref() != Some("join") {
            return Err(Error::forbidden("You are not in this room"));
        }
        if !PowerLevels::of(&old).may_send(&requester.user_id, "m.room.tombstone", true) {
            return Err(Error::forbidden("You may not upgrade this room"));
        }
        for creator in &additional_creators {
            ruma::UserId::parse(creator).map_err(|_| Error::invalid_param(format!("Invalid user id {creator:?}")))?;
        }
        if !additional_creators.is_empty() && !version.privileges_creators() {
            return Err(Error::invalid_param("additional_creators needs room version 12 or later"));
        }
        let this = self.clone();
        let sender = requester.user_id.clone();
        let old_id = room_id.to_owned();
        self.finish_write(
            async move { this.upgrade_events(&sender, &old_id, old, &version, additional_creators).await },
        )
        .await
    }

    async fn upgrade_events(
        &self,
        sender: &str,
        old_id: &str,
        old: RoomState,
        version: &RoomVersion,
        additional_creators: Vec<String>,
    ) -> Result<String> {
        let mut room = RoomState::new_room(version, self.server_name())?;
        let old_create = old.content("m.room.create", "");
        let mut create = Map::new();
        for key in ["m.federate", "type"] {
            if let Some(value) = old_create.get(key) {
                create.insert(key.to_owned(), value.clone());
            }
        }
        create.insert("room_version".into(), json!(version.id.as_str()));
        create.insert("predecessor".into(), json!({"room_id": old_id}));
        if version.uses_create_sender() {
            create.remove("creator");
        } else {
            create.insert("creator".into(), json!(sender));
        }
        if !additional_creators.is_empty() {
            create.insert("additional_creators".into(), json!(additional_creators));
        }
        self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.create", "", Value::Object(create)))
            .await?;
        // Hold the new room's lock until its initial state is complete: a
        // reader (another user's /sync building invite state, say) would
        // otherwise load and cache a half-made state from the database.
        let lock = self.rooms.lock_of(&room.room_id);
        let mut guard = lock.lock().await;

        let mut member = old.content("m.room.member", sender);
        if let Some(map) = member.as_object_mut() {
            map.insert("membership".into(), json!("join"));
            map.remove("reason");
        }
        self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.member", sender, member)).await?;

        let mut power = old.content("m.room.power_levels", "");
        if version.privileges_creators() {
            // Creators of v12 rooms outrank everyone and may not be listed.
            if let Some(users) = power.get_mut("users").and_then(Value::as_object_mut) {
                users.remove(sender);
                for creator in &additional_creators {
                    users.remove(creator);
                }
            }
            power["events"]["m.room.tombstone"] = json!(150);
        } else if old.version.privileges_creators() && power.is_object() {
            // Leaving a v12 room, whose creators hold no listed power: the
            // upgrader must be listed, or they could not set up the room.
            power["users"][sender] = json!(100);
        }
        if power.is_object() {
            self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.power_levels", "", power)).await?;
        }
        for event_type in COPIED_STATE {
            let content = old.content(event_type, "");
            if content.is_object() {
                self.persist_with_state(&mut room, LocalEvent::state(sender, event_type, "", content)).await?;
            }
        }
        let new_id = room.room_id.clone();

        // Aliases follow the room.
        let aliases = self.storage.aliases_of_room(old_id).await?;
        let canonical = old.content("m.room.canonical_alias", "");
        let mut tx = self.storage.begin().await?;
        for alias in &aliases {
            trellis_storage::rooms::delete_alias(&mut tx, alias).await?;
            trellis_storage::rooms::insert_alias(&mut tx, alias, &new_id, sender).await?;
        }
        if self.storage.room(old_id).await?.is_some_and(|r| r.is_public) {
            trellis_storage::rooms::set_public(&mut tx, old_id, false).await?;
            trellis_storage::rooms::set_public(&mut tx, &new_id, true).await?;
        }
        tx.commit().await.map_err(Error::internal)?;
        if canonical.get("alias").is_some() || canonical.get("alt_aliases").is_some() {
            self.persist_with_state(
                &mut room,
                LocalEvent::state(sender, "m.room.canonical_alias", "", canonical.clone()),
            )
            .await?;
        }
        *guard = Some(room);
        drop(guard);

        // Tombstone the old room and quieten it.
        let lock = self.rooms.lock_of(old_id);
        let mut guard = lock.lock().await;
        let mut old_state = match guard.take() {
            Some(state) => state,
            None => old,
        };
        let result = async {
            if canonical.get("alias").is_some() || canonical.get("alt_aliases").is_some() {
                self.persist_with_state(
                    &mut old_state,
                    LocalEvent::state(sender, "m.room.canonical_alias", "", json!({})),
                )
                .await?;
            }
            let tombstone = json!({"body": "This room has been replaced", "replacement_room": new_id});
            self.persist_with_state(&mut old_state, LocalEvent::state(sender, "m.room.tombstone", "", tombstone))
                .await?;
            let mut power = old_state.content("m.room.power_levels", "");
            if power.is_object() {
                let users_default = power.get("users_default").and_then(Value::as_i64).unwrap_or(0);
                let restricted = (users_default + 1).max(50);
                for key in ["events_default", "invite"] {
                    let current = power.get(key).and_then(Value::as_i64).unwrap_or(0);
                    power[key] = json!(current.max(restricted));
                }
                self.persist_with_state(&mut old_state, LocalEvent::state(sender, "m.room.power_levels", "", power))
                    .await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        *guard = Some(old_state);
        result?;
        Ok(new_id)
    }
}
