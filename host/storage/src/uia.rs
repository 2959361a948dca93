//! The `uia_sessions` table: user-interactive-auth sessions, kept in the
//! database so that a restart in the middle of a registration or a device
//! deletion does not throw the user back to the start.

use sqlx::Row;

use crate::{Connection, Storage, StorageResult};

/// A stored session. The JSON columns are interpreted by the UIA service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiaSessionRow {
    /// Opaque session id handed to the client.
    pub session_id: String,
    /// HTTP method of the request the session protects.
    pub method: String,
    /// Path of that request; a session cannot be reused for another one.
    pub uri: String,
    /// JSON list of completed stages.
    pub completed: String,
    /// JSON object: the request body of the first call.
    pub client_dict: String,
    /// JSON object: facts established by stages (e.g. the token used).
    pub results: String,
    /// Creation time.
    pub created_ts: i64,
}

/// Creates a session.
pub async fn insert(conn: &mut Connection, row: &UiaSessionRow) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO uia_sessions (session_id, method, uri, completed, client_dict, results, created_ts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.session_id)
    .bind(&row.method)
    .bind(&row.uri)
    .bind(&row.completed)
    .bind(&row.client_dict)
    .bind(&row.results)
    .bind(row.created_ts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves the progress of a session.
pub async fn update_progress(
    conn: &mut Connection,
    session_id: &str,
    completed: &str,
    results: &str,
) -> StorageResult<()> {
    sqlx::query("UPDATE uia_sessions SET completed = $1, results = $2 WHERE session_id = $3")
        .bind(completed)
        .bind(results)
        .bind(session_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets a session (after the protected request succeeded).
pub async fn delete(conn: &mut Connection, session_id: &str) -> StorageResult<()> {
    sqlx::query("DELETE FROM uia_sessions WHERE session_id = $1").bind(session_id).execute(conn).await?;
    Ok(())
}

/// Deletes sessions created before `cutoff_ts`, returning them so that the
/// caller can undo what they reserved (such as a registration token use).
pub async fn delete_older_than(conn: &mut Connection, cutoff_ts: i64) -> StorageResult<Vec<UiaSessionRow>> {
    let rows = sqlx::query(
        "DELETE FROM uia_sessions WHERE created_ts < $1 \
         RETURNING session_id, method, uri, completed, client_dict, results, created_ts",
    )
    .bind(cutoff_ts)
    .fetch_all(conn)
    .await?;
    rows.iter().map(row_to_session).collect()
}

fn row_to_session(row: &sqlx::any::AnyRow) -> StorageResult<UiaSessionRow> {
    Ok(UiaSessionRow {
        session_id: row.try_get(0)?,
        method: row.try_get(1)?,
        uri: row.try_get(2)?,
        completed: row.try_get(3)?,
        client_dict: row.try_get(4)?,
        results: row.try_get(5)?,
        created_ts: row.try_get(6)?,
    })
}

/// Reads a session inside a transaction (so progress updates don't race).
pub async fn get_for_update(conn: &mut Connection, session_id: &str) -> StorageResult<Option<UiaSessionRow>> {
    let row = sqlx::query(
        "SELECT session_id, method, uri, completed, client_dict, results, created_ts \
         FROM uia_sessions WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(row_to_session).transpose()
}

impl Storage {
    /// Reads a session.
    pub async fn uia_session(&self, session_id: &str) -> StorageResult<Option<UiaSessionRow>> {
        let mut conn = self.read.acquire().await?;
        get_for_update(&mut conn, session_id).await
    }
}
