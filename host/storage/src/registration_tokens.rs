//! The `registration_tokens` table, with Synapse's accounting: `pending`
//! counts registrations that passed the token stage but have not finished,
//! `completed` those that did. A token is usable while
//! `pending + completed < uses_allowed` (or `uses_allowed` is NULL) and it
//! has not expired.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Connection, Storage, StorageResult};

/// A registration token and its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTokenRow {
    /// The token text.
    pub token: String,
    /// How many registrations it may complete; `None` means unlimited.
    pub uses_allowed: Option<i64>,
    /// Registrations in progress with it.
    pub pending: i64,
    /// Registrations completed with it.
    pub completed: i64,
    /// Expiry in ms since the epoch; `None` never expires.
    pub expiry_time: Option<i64>,
}

impl RegistrationTokenRow {
    /// Whether a new registration may start with this token at `now`.
    pub fn usable(&self, now: i64) -> bool {
        let uses_left = self.uses_allowed.is_none_or(|allowed| self.pending + self.completed < allowed);
        let fresh = self.expiry_time.is_none_or(|expiry| expiry > now);
        uses_left && fresh
    }
}

fn from_row(row: &AnyRow) -> StorageResult<RegistrationTokenRow> {
    Ok(RegistrationTokenRow {
        token: row.try_get(0)?,
        uses_allowed: row.try_get(1)?,
        pending: row.try_get(2)?,
        completed: row.try_get(3)?,
        expiry_time: row.try_get(4)?,
    })
}

const COLUMNS: &str = "token, uses_allowed, pending, completed, expiry_time";

/// Creates a token; a unique violation means it exists already.
pub async fn insert(
    conn: &mut Connection,
    token: &str,
    uses_allowed: Option<i64>,
    expiry_time: Option<i64>,
) -> StorageResult<()> {
    sqlx::query("INSERT INTO registration_tokens (token, uses_allowed, expiry_time) VALUES ($1, $2, $3)")
        .bind(token)
        .bind(uses_allowed)
        .bind(expiry_time)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the limits of a token. Returns the updated row, or `None`.
pub async fn update(
    conn: &mut Connection,
    token: &str,
    uses_allowed: Option<Option<i64>>,
    expiry_time: Option<Option<i64>>,
) -> StorageResult<Option<RegistrationTokenRow>> {
    if let Some(uses_allowed) = uses_allowed {
        sqlx::query("UPDATE registration_tokens SET uses_allowed = $1 WHERE token = $2")
            .bind(uses_allowed)
            .bind(token)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(expiry_time) = expiry_time {
        sqlx::query("UPDATE registration_tokens SET expiry_time = $1 WHERE token = $2")
            .bind(expiry_time)
            .bind(token)
            .execute(&mut *conn)
            .await?;
    }
    let sql = format!("SELECT {COLUMNS} FROM registration_tokens WHERE token = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes a token. Returns false if it did not exist.
pub async fn delete(conn: &mut Connection, token: &str) -> StorageResult<bool> {
    let done = sqlx::query("DELETE FROM registration_tokens WHERE token = $1").bind(token).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Takes one pending use of the token if it is usable at `now`, atomically.
/// Returns false (and changes nothing) when the token is unknown, used up
/// or expired.
pub async fn reserve_use(conn: &mut Connection, token: &str, now: i64) -> StorageResult<bool> {
    let done = sqlx::query(
        "UPDATE registration_tokens SET pending = pending + 1 WHERE token = $1 \
         AND (uses_allowed IS NULL OR pending + completed < uses_allowed) \
         AND (expiry_time IS NULL OR expiry_time > $2)",
    )
    .bind(token)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns one pending use into a completed one (registration finished).
pub async fn complete_use(conn: &mut Connection, token: &str) -> StorageResult<()> {
    sqlx::query(
        "UPDATE registration_tokens SET pending = pending - 1, completed = completed + 1 \
         WHERE token = $1 AND pending > 0",
    )
    .bind(token)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back a pending use (the registration was abandoned).
pub async fn release_use(conn: &mut Connection, token: &str) -> StorageResult<()> {
    sqlx::query("UPDATE registration_tokens SET pending = pending - 1 WHERE token = $1 AND pending > 0")
        .bind(token)
        .execute(conn)
        .await?;
    Ok(())
}

impl Storage {
    /// One token.
    pub async fn registration_token(&self, token: &str) -> StorageResult<Option<RegistrationTokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM registration_tokens WHERE token = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token).fetch_optional(&self.read).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every token, in token order.
    pub async fn registration_tokens(&self) -> StorageResult<Vec<RegistrationTokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM registration_tokens ORDER BY token");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.read).await?;
        rows.iter().map(from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::RegistrationTokenRow;

    fn token(uses_allowed: Option<i64>, pending: i64, completed: i64, expiry: Option<i64>) -> RegistrationTokenRow {
        RegistrationTokenRow { token: "t".into(), uses_allowed, pending, completed, expiry_time: expiry }
    }

    #[test]
    fn usable_counts_pending_and_completed_and_expiry() {
        assert!(token(None, 5, 5, None).usable(0));
        assert!(token(Some(2), 1, 0, None).usable(0));
        assert!(!token(Some(2), 1, 1, None).usable(0));
        assert!(token(None, 0, 0, Some(100)).usable(99));
        assert!(!token(None, 0, 0, Some(100)).usable(100));
    }
}
