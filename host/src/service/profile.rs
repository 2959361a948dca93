//! Profiles of local users: display name, avatar URL and custom fields
//! (MSC4133, spec v1.16), and propagating name and avatar changes to the
//! user's member events in the rooms they are in.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use trellis_storage::profiles;

use super::Services;
use super::rooms::writer::LocalEvent;
use super::tokens::Requester;
use crate::error::{ErrCode, Error, Result};

/// Longest display name accepted (Synapse's limit).
pub const MAX_DISPLAYNAME_LEN: usize = 256;
/// Longest avatar URL accepted (Synapse's limit).
pub const MAX_AVATAR_URL_LEN: usize = 1000;
/// Largest whole profile (the spec's limit).
pub const MAX_PROFILE_BYTES: usize = 64 * 1024;
/// Longest field name (the spec's limit).
pub const MAX_KEY_LEN: usize = 255;

/// A profile field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileField {
    /// `displayname`.
    DisplayName,
    /// `avatar_url`.
    AvatarUrl,
    /// `m.tz` or a custom namespaced field.
    Custom(String),
}

/// The spec's grammar for custom field names: namespaced, lower case.
fn namespaced(name: &str) -> bool {
    let mut parts = name.split('.');
    let valid = |p: &str| {
        let mut chars = p.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let first = parts.next().is_some_and(valid);
    let mut rest = 0;
    for part in parts {
        if !valid(part) {
            return false;
        }
        rest += 1;
    }
    first && rest >= 1
}

impl ProfileField {
    /// Parses a key name from the URL.
    pub fn parse(name: &str) -> Result<Self> {
        if name.len() > MAX_KEY_LEN {
            return Err(Error::with_status(
                axum::http::StatusCode::BAD_REQUEST,
                ErrCode::KeyTooLarge,
                format!("Profile keys may be at most {MAX_KEY_LEN} bytes long"),
            ));
        }
        match name {
            "displayname" => Ok(Self::DisplayName),
            "avatar_url" => Ok(Self::AvatarUrl),
            other if namespaced(other) => Ok(Self::Custom(other.to_owned())),
            other => Err(Error::invalid_param(format!("{other:?} is not a valid profile field name"))),
        }
    }

    /// Its JSON key.
    pub fn key(&self) -> &str {
        match self {
            Self::DisplayName => "displayname",
            Self::AvatarUrl => "avatar_url",
            Self::Custom(name) => name,
        }
    }
}

impl Services {
    /// A local user's whole profile as JSON, or `M_NOT_FOUND`.
    pub async fn profile_json(&self, user_id: &str) -> Result<Map<String, Value>> {
        let row = self.storage.profile(user_id).await?.ok_or_else(|| Error::not_found("Profile was not found"))?;
        let mut out = Map::new();
        if let Some(name) = row.displayname {
            out.insert("displayname".into(), json!(name));
        }
        if let Some(url) = row.avatar_url {
            out.insert("avatar_url".into(), json!(url));
        }
        for (field, value) in self.storage.profile_fields(user_id).await? {
            out.insert(field, serde_json::from_str(&value).map_err(Error::internal)?);
        }
        Ok(out)
    }

    /// Sets (or with `None` removes) one field of the requester's profile;
    /// name and avatar changes then reach the user's rooms.
    pub async fn set_profile_field(
        self: &Arc<Self>,
        requester: &Requester,
        target: &str,
        field: &ProfileField,
        value: Option<&Value>,
    ) -> Result<()> {
        if requester.user_id != target {
            return Err(Error::forbidden("Cannot set another user's profile"));
        }
        if requester.is_guest && *field != ProfileField::DisplayName {
            return Err(Error::new(ErrCode::GuestAccessForbidden, "Guests may only change their display name"));
        }
        let guard = self.user_locks.lock(target).await;
        let mut tx = self.storage.begin().await?;
        match field {
            ProfileField::DisplayName | ProfileField::AvatarUrl => {
                let text = match value {
                    None | Some(Value::Null) => None,
                    Some(Value::String(text)) => Some(text.as_str()),
                    Some(_) => return Err(Error::bad_json(format!("'{}' must be a string", field.key()))),
                };
                let limit = if *field == ProfileField::DisplayName { MAX_DISPLAYNAME_LEN } else { MAX_AVATAR_URL_LEN };
                if text.is_some_and(|v| v.chars().count() > limit) {
                    return Err(Error::invalid_param(format!("{} is too long (max {limit})", field.key())));
                }
                if *field == ProfileField::AvatarUrl && text.is_some_and(|v| !v.is_empty() && !v.starts_with("mxc://"))
                {
                    return Err(Error::invalid_param("avatar_url must be an mxc:// URI"));
                }
                if *field == ProfileField::DisplayName {
                    profiles::set_displayname(&mut tx, target, text).await?;
                } else {
                    profiles::set_avatar_url(&mut tx, target, text).await?;
                }
            }
            ProfileField::Custom(name) => {
                let text = value.map(Value::to_string);
                let mut current = self.profile_json(target).await?;
                match &value {
                    Some(value) => current.insert(name.clone(), (*value).clone()),
                    None => current.remove(name),
                };
                if Value::Object(current).to_string().len() > MAX_PROFILE_BYTES {
                    return Err(Error::with_status(
                        axum::http::StatusCode::BAD_REQUEST,
                        ErrCode::ProfileTooLarge,
                        "The profile would exceed 64 KiB",
                    ));
                }
                profiles::set_field(&mut tx, target, name, text.as_deref()).await?;
            }
        }
        tx.commit().await.map_err(Error::internal)?;
        drop(guard);
        if matches!(field, ProfileField::DisplayName | ProfileField::AvatarUrl) {
            self.propagate_profile(target).await;
            if !self.plugins.is_empty() {
                let profile = self.storage.profile(target).await?.unwrap_or_default();
                self.plugins
                    .on_profile_update(
                        target,
                        profile.displayname.as_deref(),
                        profile.avatar_url.as_deref(),
                        false,
                        false,
                    )
                    .await;
            }
        }
        Ok(())
    }

    /// Sends an updated member event to every room the user is joined to,
    /// in the background (as Synapse does); failures are logged.
    async fn propagate_profile(self: &Arc<Self>, user_id: &str) {
        let this = self.clone();
        let user_id = user_id.to_owned();
        self.writes.spawn(async move {
            let result: Result<()> = async {
                let profile = this.storage.profile(&user_id).await?.unwrap_or_default();
                for room_id in this.joined_rooms(&user_id).await? {
                    let state = this.room_state(&room_id).await?;
                    let mut content = state.content("m.room.member", &user_id);
                    if content.get("membership").and_then(Value::as_str) != Some("join") {
                        continue;
                    }
                    let Some(map) = content.as_object_mut() else { continue };
                    for (key, value) in [("displayname", &profile.displayname), ("avatar_url", &profile.avatar_url)] {
                        match value {
                            Some(v) => map.insert(key.to_owned(), json!(v)),
                            None => map.remove(key),
                        };
                    }
                    map.remove("reason");
                    let event = LocalEvent {
                        sender: user_id.clone(),
                        event_type: "m.room.member".to_owned(),
                        state_key: Some(user_id.clone()),
                        content,
                        redacts: None,
                        txn: None,
                    };
                    if let Err(err) = this.send_local_event(&room_id, event).await {
                        tracing::warn!(%room_id, ?err, "could not update the member event");
                    }
                }
                Ok(())
            }
            .await;
            if let Err(err) = result {
                tracing::warn!(?err, "profile propagation failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names() {
        assert_eq!(ProfileField::parse("displayname").unwrap(), ProfileField::DisplayName);
        assert_eq!(ProfileField::parse("m.tz").unwrap(), ProfileField::Custom("m.tz".into()));
        assert!(ProfileField::parse("com.example.pronouns").is_ok());
        assert!(ProfileField::parse("nodots").is_err());
        assert!(ProfileField::parse("Com.Example").is_err());
        assert_eq!(ProfileField::parse(&"a.b".repeat(100)).unwrap_err().code(), Some(ErrCode::KeyTooLarge));
    }
}
