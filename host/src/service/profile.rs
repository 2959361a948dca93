//! Profiles of local users: display name and avatar URL.

use trellis_storage::profiles::{self, ProfileRow};

use super::Services;
use super::tokens::Requester;
use crate::error::{ErrCode, Error, Result};

/// Longest display name accepted (Synapse's limit).
pub const MAX_DISPLAYNAME_LEN: usize = 256;
/// Longest avatar URL accepted (Synapse's limit).
pub const MAX_AVATAR_URL_LEN: usize = 1000;

/// The profile fields this server stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileField {
    /// `displayname`.
    DisplayName,
    /// `avatar_url`.
    AvatarUrl,
}

impl ProfileField {
    /// Parses a key name from the URL.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "displayname" => Ok(Self::DisplayName),
            "avatar_url" => Ok(Self::AvatarUrl),
            other => Err(Error::with_status(
                axum::http::StatusCode::BAD_REQUEST,
                ErrCode::Unrecognized,
                format!("Unsupported profile field {other:?}"),
            )),
        }
    }

    /// Its JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Self::DisplayName => "displayname",
            Self::AvatarUrl => "avatar_url",
        }
    }
}

impl Services {
    /// A local user's profile, or `M_NOT_FOUND`.
    pub async fn profile(&self, user_id: &str) -> Result<ProfileRow> {
        self.storage.profile(user_id).await?.ok_or_else(|| Error::not_found("Profile was not found"))
    }

    /// Sets (or with `None` removes) one field of the requester's profile.
    pub async fn set_profile_field(
        &self,
        requester: &Requester,
        target: &str,
        field: ProfileField,
        value: Option<&str>,
    ) -> Result<()> {
        if requester.user_id != target {
            return Err(Error::forbidden("Cannot set another user's profile"));
        }
        if requester.is_guest && field != ProfileField::DisplayName {
            return Err(Error::new(ErrCode::GuestAccessForbidden, "Guests may only change their display name"));
        }
        let limit = match field {
            ProfileField::DisplayName => MAX_DISPLAYNAME_LEN,
            ProfileField::AvatarUrl => MAX_AVATAR_URL_LEN,
        };
        if value.is_some_and(|v| v.chars().count() > limit) {
            return Err(Error::invalid_param(format!("{} is too long (max {limit})", field.key())));
        }
        let mut tx = self.storage.begin().await?;
        match field {
            ProfileField::DisplayName => profiles::set_displayname(&mut tx, target, value).await?,
            ProfileField::AvatarUrl => profiles::set_avatar_url(&mut tx, target, value).await?,
        }
        tx.commit().await.map_err(Error::internal)
    }
}
