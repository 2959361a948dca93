//! The `profiles` table: display name and avatar of local users.

use sqlx::Row;

use crate::{Connection, Storage, StorageResult};

/// A user's profile fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileRow {
    /// Display name.
    pub displayname: Option<String>,
    /// `mxc://` avatar URL.
    pub avatar_url: Option<String>,
}

/// Sets the display name (`None` removes it).
pub async fn set_displayname(conn: &mut Connection, user_id: &str, displayname: Option<&str>) -> StorageResult<()> {
    sqlx::query("UPDATE profiles SET displayname = $1 WHERE user_id = $2")
        .bind(displayname)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the avatar URL (`None` removes it).
pub async fn set_avatar_url(conn: &mut Connection, user_id: &str, avatar_url: Option<&str>) -> StorageResult<()> {
    sqlx::query("UPDATE profiles SET avatar_url = $1 WHERE user_id = $2")
        .bind(avatar_url)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

impl Storage {
    /// The profile of a local user, or `None` if there is no such user.
    pub async fn profile(&self, user_id: &str) -> StorageResult<Option<ProfileRow>> {
        let row = sqlx::query("SELECT displayname, avatar_url FROM profiles WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|row| Ok(ProfileRow { displayname: row.try_get(0)?, avatar_url: row.try_get(1)? })).transpose()
    }
}
