//! The `account_data` table: per-user JSON blobs, global (`room_id = ''`)
//! or per room, each write stamped with a position on the account-data
//! stream so that /sync can send only what changed.

use crate::{Connection, Storage, StorageResult, next_stream_position};

/// Stream name used for account-data positions.
pub const STREAM: &str = "account_data";

/// Writes (or replaces) one piece of account data; returns its position.
pub async fn put(
    conn: &mut Connection,
    user_id: &str,
    room_id: Option<&str>,
    data_type: &str,
    content_json: &str,
) -> StorageResult<i64> {
    let stream_id = next_stream_position(&mut *conn, STREAM).await?;
    sqlx::query(
        "INSERT INTO account_data (user_id, room_id, data_type, content, stream_id) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, room_id, data_type) \
         DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id",
    )
    .bind(user_id)
    .bind(room_id.unwrap_or(""))
    .bind(data_type)
    .bind(content_json)
    .bind(stream_id)
    .execute(conn)
    .await?;
    Ok(stream_id)
}

impl Storage {
    /// The JSON text of one piece of account data.
    pub async fn account_data(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
    ) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND data_type = $3",
        )
        .bind(user_id)
        .bind(room_id.unwrap_or(""))
        .bind(data_type)
        .fetch_optional(&self.read)
        .await?)
    }
}
