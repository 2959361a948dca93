//! `POST /createRoom`: the initial events, in the order the spec gives.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use trellis_events::{RoomVersion, STABLE_ROOM_VERSIONS};

use super::power_levels::default_content;
use super::writer::{LocalEvent, RoomState};
use crate::error::{ErrCode, Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

/// A state event given in `initial_state`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct InitialState {
    /// Type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// State key (default empty).
    #[serde(default)]
    pub state_key: String,
    /// Content.
    pub content: Map<String, Value>,
}

/// The `/createRoom` body (serialised again for plugins' `on_create_room`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct CreateRoom {
    /// `public` lists the room in the directory.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Local alias to create (localpart only).
    #[serde(default)]
    pub room_alias_name: Option<String>,
    /// `m.room.name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `m.room.topic`.
    #[serde(default)]
    pub topic: Option<String>,
    /// Users to invite.
    #[serde(default)]
    pub invite: Vec<String>,
    /// Third-party invites (not supported).
    #[serde(default)]
    pub invite_3pid: Vec<Value>,
    /// Room version.
    #[serde(default)]
    pub room_version: Option<String>,
    /// Extra content for `m.room.create`.
    #[serde(default)]
    pub creation_content: Option<Map<String, Value>>,
    /// Extra state events.
    #[serde(default)]
    pub initial_state: Vec<InitialState>,
    /// `private_chat`, `public_chat` or `trusted_private_chat`.
    #[serde(default)]
    pub preset: Option<String>,
    /// Mark invites as direct chats.
    #[serde(default)]
    pub is_direct: bool,
    /// Merged over the default power levels.
    #[serde(default)]
    pub power_level_content_override: Option<Map<String, Value>>,
}

impl Services {
    /// Creates a room and returns its id.
    pub async fn create_room(self: &Arc<Self>, requester: &Requester, request: CreateRoom) -> Result<String> {
        let version_id =
            request.room_version.clone().unwrap_or_else(|| trellis_events::DEFAULT_ROOM_VERSION.to_owned());
        let version = RoomVersion::new(&version_id).ok_or_else(|| {
            Error::new(
                ErrCode::UnsupportedRoomVersion,
                format!("Room version {version_id:?} is not supported (known: {})", STABLE_ROOM_VERSIONS.join(", ")),
            )
        })?;
        if !request.invite_3pid.is_empty() {
            return Err(Error::invalid_param("Third-party invites are not supported"));
        }
        let preset = match (request.preset.as_deref(), request.visibility.as_deref()) {
            (Some(p @ ("private_chat" | "public_chat" | "trusted_private_chat")), _) => p.to_owned(),
            (Some(other), _) => return Err(Error::invalid_param(format!("Unknown preset {other:?}"))),
            (None, Some("public")) => "public_chat".to_owned(),
            (None, _) => "private_chat".to_owned(),
        };
        let public = match request.visibility.as_deref() {
            None | Some("private") => false,
            Some("public") => true,
            Some(other) => return Err(Error::invalid_param(format!("Unknown visibility {other:?}"))),
        };
        let alias = match &request.room_alias_name {
            Some(name) => {
                if name.is_empty() || name.contains(':') || name.chars().any(char::is_whitespace) {
                    return Err(Error::invalid_param("room_alias_name must be a localpart without ':' or spaces"));
                }
                let alias = format!("#{name}:{}", self.server_name());
                if self.storage.alias(&alias).await?.is_some() {
                    return Err(Error::new(ErrCode::RoomInUse, "Room alias already taken"));
                }
                Some(alias)
            }
            None => None,
        };
        for invitee in &request.invite {
            ruma::UserId::parse(invitee).map_err(|_| Error::invalid_param(format!("Invalid user id {invitee:?}")))?;
        }
        if !self.plugins.is_empty() {
            self.plugins.user_may_create_room(&requester.user_id).await?;
            if let Some(alias) = &alias {
                self.plugins.user_may_create_room_alias(&requester.user_id, alias).await?;
            }
            let body = serde_json::to_value(&request).map_err(Error::internal)?;
            self.plugins.on_create_room(&requester.user_id, &body, requester.is_admin).await?;
        }
        let this = self.clone();
        let sender = requester.user_id.clone();
        self.finish_write(
            async move { this.create_room_events(&sender, &version, &preset, public, alias, request).await },
        )
        .await
    }

    async fn create_room_events(
        &self,
        sender: &str,
        version: &RoomVersion,
        preset: &str,
        public: bool,
        alias: Option<String>,
        request: CreateRoom,
    ) -> Result<String> {
        let trusted = preset == "trusted_private_chat";
        let v12 = version.privileges_creators();
        let mut room = RoomState::new_room(version, self.server_name())?;

        let mut create = request.creation_content.clone().unwrap_or_default();
        create.insert("room_version".into(), json!(version.id.as_str()));
        if version.uses_create_sender() {
            create.remove("creator");
        } else {
            create.insert("creator".into(), json!(sender));
        }
        if v12 && trusted && !request.invite.is_empty() {
            create.insert("additional_creators".into(), json!(request.invite));
        }
        self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.create", "", Value::Object(create)))
            .await?;
        // Hold the new room's lock until its initial state is complete: a
        // reader (another user's /sync building invite state, say) would
        // otherwise load and cache a half-made state from the database.
        let lock = self.rooms.lock_of(&room.room_id);
        let mut guard = lock.lock().await;

        let profile = self.storage.profile(sender).await?.unwrap_or_default();
        let mut member = json!({"membership": "join"});
        if let Some(name) = profile.displayname {
            member["displayname"] = json!(name);
        }
        if let Some(url) = profile.avatar_url {
            member["avatar_url"] = json!(url);
        }
        self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.member", sender, member)).await?;

        let invite_level = if preset == "public_chat" { 50 } else { 0 };
        let mut power = default_content((!v12).then_some(sender), invite_level, v12);
        if trusted && !v12 {
            for invitee in &request.invite {
                power["users"][invitee] = json!(100);
            }
        }
        if let (Some(overrides), Some(map)) = (&request.power_level_content_override, power.as_object_mut()) {
            for (key, value) in overrides {
                map.insert(key.clone(), value.clone());
            }
        }
        self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.power_levels", "", power)).await?;

        if let Some(alias) = &alias {
            self.persist_with_state(
                &mut room,
                LocalEvent::state(sender, "m.room.canonical_alias", "", json!({"alias": alias})),
            )
            .await?;
        }
        let join_rule = if preset == "public_chat" { "public" } else { "invite" };
        self.persist_with_state(
            &mut room,
            LocalEvent::state(sender, "m.room.join_rules", "", json!({"join_rule": join_rule})),
        )
        .await?;
        self.persist_with_state(
            &mut room,
            LocalEvent::state(sender, "m.room.history_visibility", "", json!({"history_visibility": "shared"})),
        )
        .await?;
        if preset != "public_chat" {
            self.persist_with_state(
                &mut room,
                LocalEvent::state(sender, "m.room.guest_access", "", json!({"guest_access": "can_join"})),
            )
            .await?;
        }
        for initial in &request.initial_state {
            if matches!(initial.event_type.as_str(), "m.room.create" | "m.room.member") {
                continue;
            }
            let event = LocalEvent::state(
                sender,
                &initial.event_type,
                &initial.state_key,
                Value::Object(initial.content.clone()),
            );
            self.persist_with_state(&mut room, event).await?;
        }
        if let Some(name) = &request.name {
            self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.name", "", json!({"name": name})))
                .await?;
        }
        if let Some(topic) = &request.topic {
            let content = json!({"topic": topic, "m.topic": {"m.text": [{"body": topic}]}});
            self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.topic", "", content)).await?;
        }
        for invitee in &request.invite {
            // A user who blocks invites, or whom a plugin refuses, is left
            // out; the room still exists.
            if self.invites_blocked(invitee).await? {
                continue;
            }
            if !self.plugins.is_empty()
                && let Err(refusal) = self.plugins.user_may_invite(sender, invitee, &room.room_id).await
            {
                tracing::info!(%invitee, error = %refusal.message, "createRoom invite refused by a plugin");
                continue;
            }
            let mut content = json!({"membership": "invite"});
            if request.is_direct {
                content["is_direct"] = json!(true);
            }
            self.persist_with_state(&mut room, LocalEvent::state(sender, "m.room.member", invitee, content)).await?;
        }
        let room_id = room.room_id.clone();
        let mut tx = self.storage.begin().await?;
        if public {
            trellis_storage::rooms::set_public(&mut tx, &room_id, true).await?;
        }
        if let Some(alias) = &alias {
            trellis_storage::rooms::insert_alias(&mut tx, alias, &room_id, sender).await?;
        }
        tx.commit().await.map_err(Error::internal)?;
        *guard = Some(room);
        drop(guard);
        Ok(room_id)
    }
}
