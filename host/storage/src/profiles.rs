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

/// Sets (or with `None` removes) a custom profile field.
pub async fn set_field(conn: &mut Connection, user_id: &str, field: &str, value: Option<&str>) -> StorageResult<()> {
    match value {
        Some(value) => {
            sqlx::query(
                "INSERT INTO profile_fields (user_id, field, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value",
            )
            .bind(user_id)
            .bind(field)
            .bind(value)
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM profile_fields WHERE user_id = $1 AND field = $2")
                .bind(user_id)
                .bind(field)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

impl Storage {
    /// Custom profile fields of a user, as (field, JSON text).
    pub async fn profile_fields(&self, user_id: &str) -> StorageResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT field, value FROM profile_fields WHERE user_id = $1 ORDER BY field")
            .bind(user_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }
}
