//! Access and refresh tokens, stored only as SHA-256 hashes. The hashing is
//! done by the caller; this module never sees a raw token.

use sqlx::Row;

use crate::{Connection, Storage, StorageResult, now_ms};

/// What an access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRow {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: String,
    /// Device the token belongs to.
    pub device_id: String,
    /// Expiry; `None` for tokens that do not expire.
    pub expires_ts: Option<i64>,
    /// The refresh token issued together with this token, if any.
    pub refresh_token_id: Option<i64>,
    /// Whether the token has authenticated a request yet.
    pub used: bool,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: String,
    /// Device.
    pub device_id: String,
    /// The token it was exchanged for, if it has been used.
    pub next_token_id: Option<i64>,
}

/// Stores a new access token and returns its row id.
pub async fn insert_access_token(
    conn: &mut Connection,
    token_hash: &str,
    user_id: &str,
    device_id: &str,
    expires_ts: Option<i64>,
    refresh_token_id: Option<i64>,
) -> StorageResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_id) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(device_id)
    .bind(now_ms())
    .bind(expires_ts)
    .bind(refresh_token_id)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Stores a new refresh token and returns its row id.
pub async fn insert_refresh_token(
    conn: &mut Connection,
    token_hash: &str,
    user_id: &str,
    device_id: &str,
) -> StorageResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(device_id)
    .bind(now_ms())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Looks a refresh token up by hash, inside the refreshing transaction.
pub async fn refresh_token_for_update(
    conn: &mut Connection,
    token_hash: &str,
) -> StorageResult<Option<RefreshTokenRow>> {
    let row = sqlx::query("SELECT id, user_id, device_id, next_token_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        Ok(RefreshTokenRow {
            id: row.try_get(0)?,
            user_id: row.try_get(1)?,
            device_id: row.try_get(2)?,
            next_token_id: row.try_get(3)?,
        })
    })
    .transpose()
}

/// Records that `old_id` was exchanged for `new_id`, and revokes every access
/// token issued with `old_id` (the spec lets the server do so at once).
pub async fn mark_refresh_token_replaced(conn: &mut Connection, old_id: i64, new_id: i64) -> StorageResult<()> {
    sqlx::query("UPDATE refresh_tokens SET next_token_id = $1 WHERE id = $2")
        .bind(new_id)
        .bind(old_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM access_tokens WHERE refresh_token_id = $1").bind(old_id).execute(conn).await?;
    Ok(())
}

/// Deletes one refresh token (and the access tokens tied to it). Used
/// when a refresh token is replayed after its successor was already used.
pub async fn delete_refresh_token(conn: &mut Connection, id: i64) -> StorageResult<()> {
    sqlx::query("DELETE FROM access_tokens WHERE refresh_token_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM refresh_tokens WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// Called the first time a token authenticates a request: marks it used and
/// revokes the refresh token it replaced, which the spec keeps valid only
/// until the new pair is used.
pub async fn mark_access_token_used(conn: &mut Connection, id: i64) -> StorageResult<()> {
    let refresh_id: Option<Option<i64>> =
        sqlx::query_scalar("UPDATE access_tokens SET used = 1 WHERE id = $1 AND used = 0 RETURNING refresh_token_id")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(Some(refresh_id)) = refresh_id {
        sqlx::query("DELETE FROM refresh_tokens WHERE next_token_id = $1").bind(refresh_id).execute(conn).await?;
    }
    Ok(())
}

/// Deletes one access token by hash. Returns false if it was not there.
pub async fn delete_access_token(conn: &mut Connection, token_hash: &str) -> StorageResult<bool> {
    let done = sqlx::query("DELETE FROM access_tokens WHERE token_hash = $1").bind(token_hash).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes access tokens that expired more than a week ago. Expired tokens
/// are kept that long so that a client presenting one is told
/// `soft_logout: true` (refresh and carry on) rather than "unknown token".
/// Returns how many rows went.
pub async fn prune_expired(conn: &mut Connection) -> StorageResult<u64> {
    let done = sqlx::query("DELETE FROM access_tokens WHERE expires_ts IS NOT NULL AND expires_ts < $1")
        .bind(now_ms() - 7 * 24 * 3600 * 1000)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

impl Storage {
    /// Resolves an access token hash.
    pub async fn access_token(&self, token_hash: &str) -> StorageResult<Option<AccessTokenRow>> {
        let row = sqlx::query(
            "SELECT id, user_id, device_id, expires_ts, refresh_token_id, used \
             FROM access_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(AccessTokenRow {
                id: row.try_get(0)?,
                user_id: row.try_get(1)?,
                device_id: row.try_get(2)?,
                expires_ts: row.try_get(3)?,
                refresh_token_id: row.try_get(4)?,
                used: row.try_get::<i64, _>(5)? != 0,
            })
        })
        .transpose()
    }
}

/// Deletes every access token of a device except the one with `keep_hash`
/// (the one making a password change stays logged in).
pub async fn delete_other_tokens_of_device(
    conn: &mut Connection,
    user_id: &str,
    device_id: &str,
    keep_hash: &str,
) -> StorageResult<()> {
    sqlx::query("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2 AND token_hash <> $3")
        .bind(user_id)
        .bind(device_id)
        .bind(keep_hash)
        .execute(conn)
        .await?;
    Ok(())
}
