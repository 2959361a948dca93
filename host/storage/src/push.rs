//! The `event_push_actions` table and unread counts.

use sqlx::Row;

use crate::{Connection, Storage, StorageResult};

impl Storage {
    /// Unread (notification, highlight) counts of a user in a room: push
    /// actions after the later of their main-timeline read receipt and
    /// their own latest event (sending implies having read).
    pub async fn unread_counts(&self, room_id: &str, user_id: &str) -> StorageResult<(i64, i64)> {
        // One statement instead of three: every statement is a round trip
        // to the database thread, and /sync asks this for every room.
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(notify), 0) AS BIGINT), CAST(COALESCE(SUM(highlight), 0) AS BIGINT) \
             FROM event_push_actions \
             WHERE user_id = $1 AND room_id = $2 AND stream_ordering > ( \
                 SELECT MAX(read_up_to) FROM ( \
                     SELECT COALESCE(MAX(e.stream_ordering), 0) AS read_up_to \
                     FROM receipts r JOIN events e ON e.event_id = r.event_id \
                     WHERE r.room_id = $2 AND r.user_id = $1 AND r.thread_id IN ('', 'main') \
                     UNION ALL \
                     SELECT COALESCE(MAX(stream_ordering), 0) FROM events WHERE room_id = $2 AND sender = $1 \
                 ) AS read_marks)",
        )
        .bind(user_id)
        .bind(room_id)
        .fetch_one(&self.read)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
}

/// Records several users' push decisions for one event in one statement.
pub async fn insert_actions(
    conn: &mut Connection,
    room_id: &str,
    event_id: &str,
    stream_ordering: i64,
    actions: &[(&str, bool, bool)],
) -> StorageResult<()> {
    for chunk in actions.chunks(100) {
        let sql = format!(
            "INSERT INTO event_push_actions (room_id, event_id, stream_ordering, user_id, notify, highlight) VALUES {}",
            crate::sql::value_rows(chunk.len(), &["$1", "$2", "$3", "?", "?", "?"], 4)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id).bind(event_id).bind(stream_ordering);
        for (user_id, notify, highlight) in chunk {
            insert = insert.bind(*user_id).bind(i64::from(*notify)).bind(i64::from(*highlight));
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}
