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

impl Storage {
    /// Account data of a user changed after `since` (all with 0), as
    /// (room id or "", type, JSON content).
    pub async fn account_data_since(&self, user_id: &str, since: i64) -> StorageResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT room_id, data_type, content FROM account_data WHERE user_id = $1 AND stream_id > $2 ORDER BY stream_id",
        )
        .bind(user_id)
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        use sqlx::Row as _;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))).collect()
    }

    /// The newest account-data position.
    pub async fn max_account_data_position(&self) -> StorageResult<i64> {
        Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(stream_id) FROM account_data")
            .fetch_one(&self.read)
            .await?
            .unwrap_or(0))
    }
}
