//! The `event_push_actions` table and unread counts.

use sqlx::Row;

use crate::script::{Bound, Script};
use crate::{Storage, StorageResult};

impl Storage {
    /// What counts towards a user's unread counts in a room, in one round
    /// trip: their read mark (the later of their main-timeline read receipt
    /// and their own latest event: sending implies having read), and the
    /// sums of the push actions after both the read mark and `after`, with
    /// the highest stream ordering summed. `after` lets a caller that
    /// remembers earlier sums add only what is new.
    pub async fn unread_counts_since(&self, room_id: &str, user_id: &str, after: i64) -> StorageResult<UnreadSums> {
        let row = sqlx::query(
            "SELECT m.read_up_to, CAST(COALESCE(SUM(a.notify), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(a.highlight), 0) AS BIGINT), CAST(COALESCE(MAX(a.stream_ordering), 0) AS BIGINT) \
             FROM ( \
                 SELECT MAX(read_up_to) AS read_up_to FROM ( \
                     SELECT COALESCE(MAX(e.stream_ordering), 0) AS read_up_to \
                     FROM receipts r JOIN events e ON e.event_id = r.event_id \
                     WHERE r.room_id = $2 AND r.user_id = $1 AND r.thread_id IN ('', 'main') \
                     UNION ALL \
                     SELECT COALESCE(MAX(stream_ordering), 0) FROM events WHERE room_id = $2 AND sender = $1 \
                 ) AS read_marks \
             ) AS m \
             LEFT JOIN event_push_actions a ON a.user_id = $1 AND a.room_id = $2 \
                 AND a.stream_ordering > m.read_up_to AND a.stream_ordering > $3 \
             GROUP BY m.read_up_to",
        )
        .bind(user_id)
        .bind(room_id)
        .bind(after)
        .fetch_one(&self.read)
        .await?;
        Ok(UnreadSums {
            read_mark: row.try_get(0)?,
            notify: row.try_get(1)?,
            highlight: row.try_get(2)?,
            last_counted: row.try_get(3)?,
        })
    }
}

/// See [`Storage::unread_counts_since`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadSums {
    /// The stream ordering up to which the user has read.
    pub read_mark: i64,
    /// Notifying push actions summed.
    pub notify: i64,
    /// Highlighting push actions summed.
    pub highlight: i64,
    /// The highest stream ordering summed (0 when none).
    pub last_counted: i64,
}

/// One user's push decision for one new event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushAction<'a> {
    /// The event's stream position (which names the event).
    pub stream_ordering: i64,
    /// The user it notifies.
    pub user_id: &'a str,
    /// Whether it counts as a notification.
    pub notify: bool,
    /// Whether it highlights.
    pub highlight: bool,
}

/// Records the push decisions for new events of one room, as one
/// statement of the events' write script, however many decisions.
///
/// The rows travel as one JSON array bound as a single value, unpacked by
/// the database (`json_each` / `json_array_elements`). A members × events
/// multi-row `VALUES` would bind thousands of values, and sqlx finds each
/// bound value of a SQLite statement by name through a list that SQLite
/// searches from the start: quadratic in the number of values, which made
/// these inserts a noticeable part of a busy room's send cost.
pub fn insert_actions<'a>(script: &mut Script<'a>, room_id: &'a str, actions: &[PushAction<'_>]) {
    if actions.is_empty() {
        return;
    }
    let rows: Vec<serde_json::Value> = actions
        .iter()
        .map(|a| serde_json::json!([a.stream_ordering, a.user_id, i64::from(a.notify), i64::from(a.highlight)]))
        .collect();
    let rows = serde_json::Value::Array(rows).to_string();
    let (room, json) = (script.first_placeholder(), script.first_placeholder() + 1);
    let sql = if !script.on_sqlite() {
        format!(
            "INSERT INTO event_push_actions (room_id, stream_ordering, user_id, notify, highlight) \
             SELECT ${room}, (x->>0)::bigint, x->>1, (x->>2)::bigint, (x->>3)::bigint \
             FROM json_array_elements(${json}::json) AS x"
        )
    } else {
        format!(
            "INSERT INTO event_push_actions (room_id, stream_ordering, user_id, notify, highlight) \
             SELECT ${room}, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(${json})"
        )
    };
    script.push(sql, vec![Bound::Text(room_id), Bound::OwnedText(rows)]);
}
