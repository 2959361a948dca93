//! Membership changes: join, invite, leave, kick, ban, unban, knock, forget.
//!
//! The server checks what it can explain better than the auth rules
//! (unknown rooms, targets that are not members, joining twice) and leaves
//! the rest to the auth rules, whose refusal becomes `M_FORBIDDEN` with the
//! failed rule as the message.

use std::sync::Arc;

use serde_json::{Value, json};

use super::writer::LocalEvent;
use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

/// Kinds of membership change a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Invite a user.
    Invite,
    /// Remove a user.
    Kick,
    /// Ban a user.
    Ban,
    /// Lift a ban.
    Unban,
}

fn member_event(sender: &str, target: &str, content: Value) -> LocalEvent {
    LocalEvent {
        sender: sender.to_owned(),
        event_type: "m.room.member".to_owned(),
        state_key: Some(target.to_owned()),
        content,
        redacts: None,
        txn: None,
    }
}

fn with_reason(mut content: Value, reason: Option<&str>) -> Value {
    if let Some(reason) = reason {
        content["reason"] = json!(reason);
    }
    content
}

impl Services {
    /// Whether a local user blocks all invites (`m.invite_permission_config`
    /// with `default_action: block`, spec v1.18).
    pub async fn invites_blocked(&self, user_id: &str) -> Result<bool> {
        let config = self.storage.account_data(user_id, None, "m.invite_permission_config").await?;
        Ok(config
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .is_some_and(|c| c.get("default_action").and_then(Value::as_str) == Some("block")))
    }

    /// Refuses an invite to a user who blocks invites.
    pub async fn check_invite_allowed(&self, target: &str) -> Result<()> {
        if self.invites_blocked(target).await? {
            return Err(Error::new(crate::error::ErrCode::InviteBlocked, format!("{target} does not accept invites")));
        }
        Ok(())
    }

    /// Resolves `!room:server` or `#alias:server` to a known local room.
    pub async fn resolve_room(&self, id_or_alias: &str) -> Result<String> {
        let room_id = if id_or_alias.starts_with('#') {
            let (room_id, _) = self
                .storage
                .alias(id_or_alias)
                .await?
                .ok_or_else(|| Error::not_found(format!("Room alias {id_or_alias} not found")))?;
            room_id
        } else if id_or_alias.starts_with('!') {
            id_or_alias.to_owned()
        } else {
            return Err(Error::invalid_param(format!("{id_or_alias:?} is neither a room id nor an alias")));
        };
        if self.storage.room(&room_id).await?.is_none() {
            return Err(Error::not_found("No known servers for that room (federation is not supported yet)"));
        }
        Ok(room_id)
    }

    /// Joins the requester to a room; returns the room id.
    pub async fn join_room(
        self: &Arc<Self>,
        requester: &Requester,
        id_or_alias: &str,
        reason: Option<&str>,
    ) -> Result<String> {
        let room_id = self.resolve_room(id_or_alias).await?;
        let state = self.room_state(&room_id).await?;
        let current = state.membership(&requester.user_id);
        if current.as_deref() == Some("join") {
            return Ok(room_id);
        }
        if !self.plugins.is_empty() {
            let invited = current.as_deref() == Some("invite");
            self.plugins.user_may_join_room(&requester.user_id, &room_id, invited).await?;
        }
        if requester.is_guest {
            let guest_access = state.content("m.room.guest_access", "");
            if guest_access.get("guest_access").and_then(Value::as_str) != Some("can_join") {
                return Err(Error::forbidden("Guest access is not allowed in this room"));
            }
        }
        let profile = self.storage.profile(&requester.user_id).await?.unwrap_or_default();
        let mut content = json!({"membership": "join"});
        if let Some(name) = profile.displayname {
            content["displayname"] = json!(name);
        }
        if let Some(url) = profile.avatar_url {
            content["avatar_url"] = json!(url);
        }
        let content = with_reason(content, reason);
        self.send_local_event(&room_id, member_event(&requester.user_id, &requester.user_id, content)).await?;
        Ok(room_id)
    }

    /// Knocks on a room; returns the room id.
    pub async fn knock_room(
        self: &Arc<Self>,
        requester: &Requester,
        id_or_alias: &str,
        reason: Option<&str>,
    ) -> Result<String> {
        let room_id = self.resolve_room(id_or_alias).await?;
        let state = self.room_state(&room_id).await?;
        match state.membership(&requester.user_id).as_deref() {
            Some("join") => return Err(Error::forbidden("You are already in the room")),
            Some("ban") => return Err(Error::forbidden("You are banned from the room")),
            _ => {}
        }
        let content = with_reason(json!({"membership": "knock"}), reason);
        self.send_local_event(&room_id, member_event(&requester.user_id, &requester.user_id, content)).await?;
        Ok(room_id)
    }

    /// Leaves a room (also rejects an invite or withdraws a knock).
    pub async fn leave_room(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        if self.storage.room(room_id).await?.is_none() {
            return Err(Error::not_found("Unknown room"));
        }
        let state = self.room_state(room_id).await?;
        match state.membership(&requester.user_id).as_deref() {
            Some("join" | "invite" | "knock") => {}
            _ => return Err(Error::forbidden("You are not a member of this room")),
        }
        let content = with_reason(json!({"membership": "leave"}), reason);
        self.send_local_event(room_id, member_event(&requester.user_id, &requester.user_id, content)).await?;
        Ok(())
    }

    /// Invites, kicks, bans or unbans `target`.
    pub async fn change_membership(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        target: &str,
        change: Change,
        reason: Option<&str>,
        extra_content: &serde_json::Map<String, Value>,
    ) -> Result<()> {
        let target_id =
            ruma::UserId::parse(target).map_err(|_| Error::invalid_param(format!("Invalid user id {target:?}")))?;
        if self.storage.room(room_id).await?.is_none() {
            return Err(Error::not_found("Unknown room"));
        }
        let state = self.room_state(room_id).await?;
        if state.membership(&requester.user_id).as_deref() != Some("join") {
            return Err(Error::forbidden("You are not in this room"));
        }
        let current = state.membership(target);
        let membership = match change {
            Change::Invite => {
                if target_id.server_name().as_str() != self.server_name() {
                    return Err(Error::forbidden("Inviting remote users needs federation, which is not supported yet"));
                }
                if self.storage.user(target).await?.is_none_or(|u| u.deactivated) {
                    return Err(Error::not_found(format!("Unknown user {target}")));
                }
                self.check_invite_allowed(target).await?;
                if !self.plugins.is_empty() {
                    self.plugins.user_may_invite(&requester.user_id, target, room_id).await?;
                }
                match current.as_deref() {
                    Some("join") => return Err(Error::forbidden(format!("{target} is already in the room"))),
                    Some("ban") => return Err(Error::forbidden(format!("{target} is banned from the room"))),
                    Some("invite") => return Ok(()),
                    _ => "invite",
                }
            }
            Change::Kick => match current.as_deref() {
                Some("join" | "invite" | "knock") => "leave",
                _ => return Err(Error::forbidden(format!("{target} is not in the room"))),
            },
            Change::Ban => "ban",
            Change::Unban => match current.as_deref() {
                Some("ban") => "leave",
                _ => return Err(Error::forbidden(format!("{target} is not banned"))),
            },
        };
        let mut content = json!({"membership": membership});
        if let Some(object) = content.as_object_mut() {
            object.extend(extra_content.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let content = with_reason(content, reason);
        self.send_local_event(room_id, member_event(&requester.user_id, target, content)).await?;
        Ok(())
    }

    /// Forgets a room the requester has left.
    pub async fn forget_room(&self, requester: &Requester, room_id: &str) -> Result<()> {
        let membership = self
            .storage
            .membership(room_id, &requester.user_id)
            .await?
            .ok_or_else(|| Error::not_found("You have never been in this room"))?;
        if matches!(membership.membership.as_str(), "join" | "invite" | "knock") {
            return Err(Error::with_status(
                axum::http::StatusCode::BAD_REQUEST,
                crate::error::ErrCode::Unknown,
                "You must leave the room before forgetting it",
            ));
        }
        let mut tx = self.storage.begin().await?;
        trellis_storage::events::forget(&mut tx, room_id, &requester.user_id).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.user_rooms.changed(&requester.user_id);
        Ok(())
    }
}
