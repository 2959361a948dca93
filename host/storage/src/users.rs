//! The `users` table: one row per local account, deactivated ones included
//! (a user id is never handed out twice).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Connection, Storage, StorageResult, next_stream_position, now_ms};

/// A stored account.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Full Matrix user id.
    pub user_id: String,
    /// The localpart, always lower case for accounts Trellis created.
    pub localpart: String,
    /// PHC-format password hash; `None` for accounts without a password.
    pub password_hash: Option<String>,
    /// Server administrator.
    pub is_admin: bool,
    /// Guest account.
    pub is_guest: bool,
    /// Deactivated accounts keep their row but can never log in again.
    pub deactivated: bool,
    /// Synapse's `user_type` (e.g. `bot`, `support`), if any.
    pub user_type: Option<String>,
    /// When the account was created.
    pub created_ts: i64,
}

/// What registration writes.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Full user id.
    pub user_id: &'a str,
    /// Its localpart.
    pub localpart: &'a str,
    /// Password hash, if the account has a password.
    pub password_hash: Option<&'a str>,
    /// Administrator flag.
    pub is_admin: bool,
    /// Guest flag.
    pub is_guest: bool,
    /// Synapse `user_type`.
    pub user_type: Option<&'a str>,
}

const COLUMNS: &str = "user_id, localpart, password_hash, is_admin, is_guest, deactivated, user_type, created_ts";

fn from_row(row: &AnyRow) -> StorageResult<UserRow> {
    Ok(UserRow {
        user_id: row.try_get(0)?,
        localpart: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        is_admin: row.try_get::<i64, _>(3)? != 0,
        is_guest: row.try_get::<i64, _>(4)? != 0,
        deactivated: row.try_get::<i64, _>(5)? != 0,
        user_type: row.try_get(6)?,
        created_ts: row.try_get(7)?,
    })
}

/// Creates the account and its empty profile. Fails with a unique violation
/// if the id is taken.
pub async fn insert(conn: &mut Connection, user: &NewUser<'_>) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO users (user_id, localpart, password_hash, is_admin, is_guest, user_type, created_ts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user.user_id)
    .bind(user.localpart)
    .bind(user.password_hash)
    .bind(i64::from(user.is_admin))
    .bind(i64::from(user.is_guest))
    .bind(user.user_type)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO profiles (user_id) VALUES ($1)").bind(user.user_id).execute(&mut *conn).await?;
    Ok(())
}

/// Replaces (or, with `None`, removes) the password hash.
pub async fn set_password_hash(conn: &mut Connection, user_id: &str, hash: Option<&str>) -> StorageResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE user_id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the account deactivated and forgets its password.
pub async fn deactivate(conn: &mut Connection, user_id: &str) -> StorageResult<()> {
    sqlx::query("UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets or clears the administrator flag.
pub async fn set_admin(conn: &mut Connection, user_id: &str, admin: bool) -> StorageResult<()> {
    sqlx::query("UPDATE users SET is_admin = $1 WHERE user_id = $2")
        .bind(i64::from(admin))
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Hands out the next number for auto-generated (numeric) localparts.
pub async fn next_generated_localpart(conn: &mut Connection) -> StorageResult<i64> {
    next_stream_position(conn, "generated_user_ids").await
}

impl Storage {
    /// Looks an account up by its exact user id.
    pub async fn user(&self, user_id: &str) -> StorageResult<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE user_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_optional(&self.read).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Accounts whose localpart matches ignoring case; used by login, which
    /// the spec asks to be case-insensitive for user ids.
    pub async fn users_by_localpart_ignoring_case(&self, localpart: &str) -> StorageResult<Vec<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE LOWER(localpart) = LOWER($1)");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(localpart).fetch_all(&self.read).await?;
        rows.iter().map(from_row).collect()
    }

    /// True when a localpart is taken, in any letter case.
    pub async fn localpart_taken(&self, localpart: &str) -> StorageResult<bool> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE LOWER(localpart) = LOWER($1)")
            .bind(localpart)
            .fetch_one(&self.read)
            .await?;
        Ok(count > 0)
    }
}
