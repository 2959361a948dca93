//! Push decisions and unread counts.
//!
//! Each new event's decisions are stored as the decision most members got,
//! once for the room (`event_push_defaults`, only when it notifies or
//! highlights), plus a row for each member whose own decision differs
//! (`event_push_exceptions`). A message in a room where everyone keeps the
//! default rules is one row appended to the end of its room's range, not a
//! row per member in as many places of a B-tree keyed by user.

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
        // The read mark first, so that both sides of the sum read only
        // the range after it.
        let row = sqlx::query(
            "WITH m AS ( \
                 SELECT MAX(read_up_to) AS mark FROM ( \
                     SELECT COALESCE(MAX(e.stream_ordering), 0) AS read_up_to \
                     FROM receipts r JOIN events e ON e.event_id = r.event_id \
                     WHERE r.room_id = $2 AND r.user_id = $1 AND r.thread_id IN ('', 'main') \
                     UNION ALL \
                     SELECT COALESCE(MAX(stream_ordering), 0) FROM events WHERE room_id = $2 AND sender = $1 \
                 ) AS read_marks \
             ), \
             c AS ( \
                 SELECT d.stream_ordering AS s, d.notify AS n, d.highlight AS h \
                 FROM m JOIN event_push_defaults d \
                     ON d.room_id = $2 AND d.stream_ordering > m.mark AND d.stream_ordering > $3 \
                 UNION ALL \
                 SELECT x.stream_ordering, x.notify - COALESCE(d.notify, 0), x.highlight - COALESCE(d.highlight, 0) \
                 FROM m JOIN event_push_exceptions x \
                     ON x.user_id = $1 AND x.room_id = $2 AND x.stream_ordering > m.mark AND x.stream_ordering > $3 \
                 LEFT JOIN event_push_defaults d ON d.room_id = x.room_id AND d.stream_ordering = x.stream_ordering \
             ) \
             SELECT (SELECT mark FROM m), CAST(COALESCE(SUM(n), 0) AS BIGINT), CAST(COALESCE(SUM(h), 0) AS BIGINT), \
                    CAST(COALESCE(MAX(s), 0) AS BIGINT) FROM c",
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
    /// Notifying decisions summed.
    pub notify: i64,
    /// Highlighting decisions summed.
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

/// A new event's decision for every member without one of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushDefault {
    /// The event's stream position.
    pub stream_ordering: i64,
    /// Whether it counts as a notification.
    pub notify: bool,
    /// Whether it highlights.
    pub highlight: bool,
}

/// Records the push decisions for new events of one room in the events'
/// write script: each event's room-wide decision (those that notify or
/// highlight) and the members' own where they differ from it.
///
/// The exceptions travel as one JSON array bound as a single value,
/// unpacked by the database (`json_each` / `json_array_elements`): a
/// multi-row `VALUES` for many members would bind thousands of values, and
/// sqlx finds each bound value of a SQLite statement by name through a list
/// that SQLite searches from the start, quadratic in the number of values.
pub fn insert_decisions<'a>(
    script: &mut Script<'a>,
    room_id: &'a str,
    defaults: &[PushDefault],
    exceptions: &[PushAction<'_>],
) {
    let values = defaults
        .iter()
        .flat_map(|d| {
            [
                Bound::Text(room_id),
                Bound::Int(d.stream_ordering),
                Bound::Int(i64::from(d.notify)),
                Bound::Int(i64::from(d.highlight)),
            ]
        })
        .collect();
    script.push_rows(
        "INSERT INTO event_push_defaults (room_id, stream_ordering, notify, highlight)",
        &["?"; 4],
        values,
    );
    if exceptions.is_empty() {
        return;
    }
    let rows: Vec<serde_json::Value> = exceptions
        .iter()
        .map(|a| serde_json::json!([a.stream_ordering, a.user_id, i64::from(a.notify), i64::from(a.highlight)]))
        .collect();
    let rows = serde_json::Value::Array(rows).to_string();
    let (room, json) = (script.first_placeholder(), script.first_placeholder() + 1);
    let sql = if !script.on_sqlite() {
        format!(
            "INSERT INTO event_push_exceptions (room_id, stream_ordering, user_id, notify, highlight) \
             SELECT ${room}, (x->>0)::bigint, x->>1, (x->>2)::bigint, (x->>3)::bigint \
             FROM json_array_elements(${json}::json) AS x"
        )
    } else {
        format!(
            "INSERT INTO event_push_exceptions (room_id, stream_ordering, user_id, notify, highlight) \
             SELECT ${room}, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(${json})"
        )
    };
    script.push(sql, vec![Bound::Text(room_id), Bound::OwnedText(rows)]);
}
