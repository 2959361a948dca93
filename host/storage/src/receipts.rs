//! The `receipts` table.

use sqlx::Row;

use crate::{Connection, Storage, StorageResult, next_stream_position};

/// Stream name for receipt positions.
pub const STREAM: &str = "receipts";

/// One stored receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRow {
    /// Room.
    pub room_id: String,
    /// `m.read` or `m.read.private`.
    pub receipt_type: String,
    /// Who read.
    pub user_id: String,
    /// Thread id, `''` for unthreaded/main.
    pub thread_id: String,
    /// Event read up to.
    pub event_id: String,
    /// When.
    pub ts: i64,
}

/// Stores (or moves) a receipt and returns its stream position.
pub async fn upsert(conn: &mut Connection, receipt: &ReceiptRow) -> StorageResult<i64> {
    let stream = next_stream_position(&mut *conn, STREAM).await?;
    sqlx::query(
        "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (room_id, receipt_type, user_id, thread_id) \
         DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, stream_id = excluded.stream_id",
    )
    .bind(&receipt.room_id)
    .bind(&receipt.receipt_type)
    .bind(&receipt.user_id)
    .bind(&receipt.thread_id)
    .bind(&receipt.event_id)
    .bind(receipt.ts)
    .bind(stream)
    .execute(conn)
    .await?;
    Ok(stream)
}

impl Storage {
    /// Receipts in a room changed after `since` (all with 0).
    pub async fn receipts_since(&self, room_id: &str, since: i64) -> StorageResult<Vec<ReceiptRow>> {
        let rows = sqlx::query(
            "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts \
             WHERE room_id = $1 AND stream_id > $2 ORDER BY stream_id",
        )
        .bind(room_id)
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(receipt_row).collect()
    }

    /// Every receipt of several rooms, oldest first, with one statement
    /// (an initial `/sync` asks for all of a user's rooms at once).
    pub async fn receipts_of_rooms(&self, room_ids: &[&str]) -> StorageResult<Vec<ReceiptRow>> {
        if room_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts \
             WHERE room_id IN ({}) ORDER BY stream_id",
            crate::sql::json_text_list(self.backend(), 1)
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(crate::sql::json_list(room_ids)).fetch_all(&self.read).await?;
        rows.iter().map(receipt_row).collect()
    }

    /// The newest receipt position.
    pub async fn max_receipt_position(&self) -> StorageResult<i64> {
        Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(stream_id) FROM receipts")
            .fetch_one(&self.read)
            .await?
            .unwrap_or(0))
    }
}

fn receipt_row(row: &sqlx::any::AnyRow) -> StorageResult<ReceiptRow> {
    Ok(ReceiptRow {
        room_id: row.try_get(0)?,
        receipt_type: row.try_get(1)?,
        user_id: row.try_get(2)?,
        thread_id: row.try_get(3)?,
        event_id: row.try_get(4)?,
        ts: row.try_get(5)?,
    })
}
