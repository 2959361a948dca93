//! The `user_filters` table.

use crate::{Connection, Storage, StorageResult, next_stream_position};

/// Stores a filter and returns its id (numbers, shared across users).
pub async fn insert(conn: &mut Connection, user_id: &str, filter_json: &str) -> StorageResult<i64> {
    let id = next_stream_position(&mut *conn, "filters").await?;
    sqlx::query("INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(id)
        .bind(filter_json)
        .execute(conn)
        .await?;
    Ok(id)
}

impl Storage {
    /// A stored filter.
    pub async fn filter(&self, user_id: &str, filter_id: i64) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2")
            .bind(user_id)
            .bind(filter_id)
            .fetch_optional(&self.read)
            .await?)
    }
}
