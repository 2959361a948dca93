//! The `events` table and the DAG around it: edges, auth edges, forward
//! extremities, transaction ids, and the per-user membership index. New
//! events are written by [`crate::persist`].

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::{json_list, json_text_list};
use crate::{Backend, Connection, Storage, StorageResult, next_stream_position, now_ms};

pub use crate::persist::PersistEvent;

/// An event a client transaction produced earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEvent {
    /// Sender.
    pub user_id: String,
    /// Sending device.
    pub device_id: String,
    /// The client's transaction id.
    pub txn_id: String,
    /// The event.
    pub event_id: String,
    /// Its stream position.
    pub stream_ordering: i64,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Arrival order.
    pub stream_ordering: i64,
    /// Event id.
    pub event_id: String,
    /// Room.
    pub room_id: String,
    /// Type.
    pub event_type: String,
    /// State key.
    pub state_key: Option<String>,
    /// Sender.
    pub sender: String,
    /// Topological depth.
    pub depth: i64,
    /// Timestamp.
    pub origin_server_ts: i64,
    /// State after the event.
    pub state_group: Option<i64>,
    /// Canonical JSON (redacted if redacted).
    pub json: String,
    /// The redaction that redacted it.
    pub redacted_by: Option<String>,
    /// The sender's device and transaction id, when a local client sent
    /// it: served back to that device as `unsigned.transaction_id`.
    pub txn: Option<(String, String)>,
}

const COLUMNS: &str = "stream_ordering, event_id, room_id, event_type, state_key, sender, depth, \
                       origin_server_ts, state_group, json, redacted_by, txn_device, txn_id";

/// [`COLUMNS`], each qualified with a table alias.
fn prefixed_columns(alias: &str) -> String {
    COLUMNS.split(',').map(|column| format!("{alias}.{}", column.trim())).collect::<Vec<_>>().join(", ")
}

fn from_row(row: &AnyRow) -> StorageResult<EventRow> {
    Ok(EventRow {
        stream_ordering: row.try_get(0)?,
        event_id: row.try_get(1)?,
        room_id: row.try_get(2)?,
        event_type: row.try_get(3)?,
        state_key: row.try_get(4)?,
        sender: row.try_get(5)?,
        depth: row.try_get(6)?,
        origin_server_ts: row.try_get(7)?,
        state_group: row.try_get(8)?,
        json: row.try_get(9)?,
        redacted_by: row.try_get(10)?,
        txn: sending_txn(row.try_get(11)?, row.try_get(12)?),
    })
}

/// The sending device and transaction id, when the event has both.
fn sending_txn(device: Option<String>, txn: Option<String>) -> Option<(String, String)> {
    device.zip(txn)
}

/// One row of [`COLUMNS`] as a JSON array (SQLite's `json_array`).
type JsonRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Rows of [`COLUMNS`] read as one JSON array of arrays.
fn rows_from_json_array(text: &str) -> StorageResult<Vec<EventRow>> {
    let rows: Vec<JsonRow> = serde_json::from_str(text)
        .map_err(|e| crate::StorageError::Corrupt { table: "events", reason: e.to_string() })?;
    Ok(rows
        .into_iter()
        .map(|r| EventRow {
            stream_ordering: r.0,
            event_id: r.1,
            room_id: r.2,
            event_type: r.3,
            state_key: r.4,
            sender: r.5,
            depth: r.6,
            origin_server_ts: r.7,
            state_group: r.8,
            json: r.9,
            redacted_by: r.10,
            txn: sending_txn(r.11, r.12),
        })
        .collect())
}

/// Replaces an event's JSON with its redacted form.
pub async fn redact(
    conn: &mut Connection,
    event_id: &str,
    redacted_json: &str,
    redacted_by: &str,
) -> StorageResult<()> {
    sqlx::query("UPDATE events SET json = $1, redacted_by = $2 WHERE event_id = $3")
        .bind(redacted_json)
        .bind(redacted_by)
        .bind(event_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a user's membership in a room forgotten.
pub async fn forget(conn: &mut Connection, room_id: &str, user_id: &str) -> StorageResult<()> {
    sqlx::query("UPDATE room_memberships SET forgotten = 1 WHERE room_id = $1 AND user_id = $2")
        .bind(room_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A user's current membership in one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    /// Room.
    pub room_id: String,
    /// User.
    pub user_id: String,
    /// `join`, `invite`, `leave`, `ban` or `knock`.
    pub membership: String,
    /// The member event.
    pub event_id: String,
    /// Its stream position.
    pub stream_ordering: i64,
    /// Forgotten by the user.
    pub forgotten: bool,
}

fn membership_row(row: &AnyRow) -> StorageResult<MembershipRow> {
    Ok(MembershipRow {
        room_id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        membership: row.try_get(2)?,
        event_id: row.try_get(3)?,
        stream_ordering: row.try_get(4)?,
        forgotten: row.try_get::<i64, _>(5)? != 0,
    })
}

const MEMBERSHIP_COLUMNS: &str = "room_id, user_id, membership, event_id, stream_ordering, forgotten";

impl Storage {
    /// One event by id.
    pub async fn event(&self, event_id: &str) -> StorageResult<Option<EventRow>> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE event_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(event_id).fetch_optional(&self.read).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Several events by id (missing ones are left out), in stream order.
    pub async fn events_by_id(&self, event_ids: &[String]) -> StorageResult<Vec<EventRow>> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {COLUMNS} FROM events WHERE event_id IN ({})", json_text_list(self.backend(), 1));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json_list(event_ids)).fetch_all(&self.read).await?;
        let mut out = rows.iter().map(from_row).collect::<StorageResult<Vec<_>>>()?;
        out.sort_by_key(|e| e.stream_ordering);
        Ok(out)
    }

    /// Events of a room with stream position in `(after, up_to]`, oldest
    /// first, at most `limit` of the newest ones.
    pub async fn room_events_between(
        &self,
        room_id: &str,
        after: i64,
        up_to: i64,
        limit: i64,
    ) -> StorageResult<Vec<EventRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE room_id = $1 AND stream_ordering > $2 AND stream_ordering <= $3 \
             AND outlier = 0 ORDER BY stream_ordering DESC LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(room_id)
            .bind(after)
            .bind(up_to)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        let mut events = rows.iter().map(from_row).collect::<StorageResult<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }

    /// The newest `limit` events at or before `up_to` of each of several
    /// rooms, oldest first per room: one statement (an indexed, limited
    /// read per room, joined laterally to the list of rooms), where an
    /// initial `/sync` would otherwise ask room by room.
    pub async fn newest_events_of_rooms(
        &self,
        room_ids: &[&str],
        up_to: i64,
        limit: i64,
    ) -> StorageResult<std::collections::HashMap<String, Vec<EventRow>>> {
        let mut out: std::collections::HashMap<String, Vec<EventRow>> = std::collections::HashMap::new();
        if room_ids.is_empty() {
            return Ok(out);
        }
        let query =
            |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql)).bind(up_to).bind(limit).bind(json_list(room_ids));
        let rows = match self.backend() {
            // SQLite has no LATERAL; a correlated `IN` subquery is run once
            // per room and its positions looked up by primary key. The
            // rows come back as one JSON array in one row: sqlx hands a
            // SQLite row over from the connection's thread one at a time,
            // and for the hundreds of rows of an initial sync those
            // hand-overs cost more than the read.
            Backend::Sqlite => {
                let sql = format!(
                    "SELECT json_group_array(json_array({})) FROM json_each($3) AS r \
                     JOIN events AS e ON e.stream_ordering IN ( \
                         SELECT s.stream_ordering FROM events AS s WHERE s.room_id = r.value \
                         AND s.stream_ordering <= $1 AND s.outlier = 0 ORDER BY s.stream_ordering DESC LIMIT $2)",
                    prefixed_columns("e")
                );
                let text: String = query(sql).fetch_one(&self.read).await?.try_get(0)?;
                rows_from_json_array(&text)?
            }
            Backend::Postgres => {
                let sql = format!(
                    "SELECT e.* FROM json_array_elements_text($3::json) AS r(room_id) CROSS JOIN LATERAL ( \
                         SELECT {COLUMNS} FROM events WHERE room_id = r.room_id AND stream_ordering <= $1 \
                         AND outlier = 0 ORDER BY stream_ordering DESC LIMIT $2) AS e"
                );
                query(sql).fetch_all(&self.read).await?.iter().map(from_row).collect::<StorageResult<Vec<_>>>()?
            }
        };
        for event in rows {
            out.entry(event.room_id.clone()).or_default().push(event);
        }
        for events in out.values_mut() {
            events.sort_by_key(|e| e.stream_ordering);
        }
        Ok(out)
    }

    /// Paginates a room in topological order from `(depth, stream)`,
    /// exclusive: backwards (newest first) or forwards (oldest first).
    pub async fn room_events_topological(
        &self,
        room_id: &str,
        from: (i64, i64),
        backwards: bool,
        limit: i64,
    ) -> StorageResult<Vec<EventRow>> {
        let (comparison, order) = if backwards { ("<", "DESC") } else { (">", "ASC") };
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE room_id = $1 AND outlier = 0 \
             AND (depth {comparison} $2 OR (depth = $2 AND stream_ordering {comparison} $3)) \
             ORDER BY depth {order}, stream_ordering {order} LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(room_id)
            .bind(from.0)
            .bind(from.1)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The newest event position overall (0 when there are no events).
    pub async fn max_stream_ordering(&self) -> StorageResult<i64> {
        Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(stream_ordering) FROM events")
            .fetch_one(&self.read)
            .await?
            .unwrap_or(0))
    }

    /// The room's forward extremities with their depths.
    pub async fn forward_extremities(&self, room_id: &str) -> StorageResult<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT f.event_id, e.depth FROM forward_extremities f JOIN events e ON e.event_id = f.event_id \
             WHERE f.room_id = $1 ORDER BY e.depth DESC, e.stream_ordering DESC",
        )
        .bind(room_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }

    /// The event a client transaction produced, if it was sent before.
    pub async fn txn_event(&self, user_id: &str, device_id: &str, txn_id: &str) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT event_id FROM event_txn_ids WHERE user_id = $1 AND device_id = $2 AND txn_id = $3",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(txn_id)
        .fetch_optional(&self.read)
        .await?)
    }

    /// Of these client transactions `(user, device, txn id)`, those sent
    /// before, with the event and stream position each produced. One
    /// statement for a whole batch of sends.
    pub async fn txn_events(&self, txns: &[(&str, &str, &str)]) -> StorageResult<Vec<TxnEvent>> {
        let mut found = Vec::new();
        for chunk in txns.chunks(500) {
            let conditions = (0..chunk.len())
                .map(|i| {
                    format!(
                        "(t.user_id = ${} AND t.device_id = ${} AND t.txn_id = ${})",
                        3 * i + 1,
                        3 * i + 2,
                        3 * i + 3
                    )
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            let sql = format!(
                "SELECT t.user_id, t.device_id, t.txn_id, t.event_id, e.stream_ordering FROM event_txn_ids t \
                 JOIN events e ON e.event_id = t.event_id WHERE {conditions}"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (user, device, txn) in chunk {
                query = query.bind(*user).bind(*device).bind(*txn);
            }
            for row in query.fetch_all(&self.read).await? {
                found.push(TxnEvent {
                    user_id: row.try_get(0)?,
                    device_id: row.try_get(1)?,
                    txn_id: row.try_get(2)?,
                    event_id: row.try_get(3)?,
                    stream_ordering: row.try_get(4)?,
                });
            }
        }
        Ok(found)
    }

    /// Every room membership of a user.
    pub async fn memberships_of_user(&self, user_id: &str) -> StorageResult<Vec<MembershipRow>> {
        let sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM room_memberships WHERE user_id = $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&self.read).await?;
        rows.iter().map(membership_row).collect()
    }

    /// A user's membership in one room.
    pub async fn membership(&self, room_id: &str, user_id: &str) -> StorageResult<Option<MembershipRow>> {
        let sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM room_memberships WHERE room_id = $1 AND user_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id).bind(user_id).fetch_optional(&self.read).await?;
        row.as_ref().map(membership_row).transpose()
    }

    /// Every membership row of a room.
    pub async fn room_memberships(&self, room_id: &str) -> StorageResult<Vec<MembershipRow>> {
        let sql = format!("SELECT {MEMBERSHIP_COLUMNS} FROM room_memberships WHERE room_id = $1 ORDER BY user_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id).fetch_all(&self.read).await?;
        rows.iter().map(membership_row).collect()
    }

    /// The latest event of a room at or before a stream position.
    pub async fn last_room_event_at(&self, room_id: &str, at: i64) -> StorageResult<Option<EventRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE room_id = $1 AND stream_ordering <= $2 AND outlier = 0 \
             ORDER BY stream_ordering DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id).bind(at).fetch_optional(&self.read).await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl Storage {
    /// Forgets client transaction ids recorded before `before_ts`; returns
    /// how many. After that a retry with the same transaction id sends a new
    /// event, which is what Synapse does after 24 hours too.
    pub async fn prune_txn_ids(&self, before_ts: i64) -> StorageResult<u64> {
        let done = sqlx::query("DELETE FROM event_txn_ids WHERE created_ts < $1")
            .bind(before_ts)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(done.rows_affected())
    }
}

/// A relation pointing at an event.
#[derive(Debug, Clone)]
pub struct RelationRow {
    /// The related-to (parent) event.
    pub relates_to: String,
    /// `m.replace`, `m.thread`, `m.annotation`, `m.reference`, …
    pub rel_type: String,
    /// The relating (child) event.
    pub event: EventRow,
}

impl Storage {
    /// Unredacted relations pointing at any of `parents`, oldest first.
    pub async fn relations_to(&self, parents: &[String]) -> StorageResult<Vec<RelationRow>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS}, relates_to, rel_type FROM events WHERE relates_to IN ({}) \
             AND redacted_by IS NULL ORDER BY stream_ordering",
            json_text_list(self.backend(), 1)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(json_list(parents)).fetch_all(&self.read).await?;
        rows.iter()
            .map(|row| {
                Ok(RelationRow { relates_to: row.try_get(13)?, rel_type: row.try_get(14)?, event: from_row(row)? })
            })
            .collect()
    }

    /// Relations of one parent, paginated by stream position: newest first
    /// (`backwards`) or oldest first, strictly beyond `from`.
    pub async fn relations_page(
        &self,
        parent: &str,
        rel_type: Option<&str>,
        event_type: Option<&str>,
        from: Option<i64>,
        backwards: bool,
        limit: i64,
    ) -> StorageResult<Vec<EventRow>> {
        let (comparison, order, default) = if backwards { ("<", "DESC", i64::MAX) } else { (">", "ASC", i64::MIN) };
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE relates_to = $1 AND redacted_by IS NULL \
             AND ($2 IS NULL OR rel_type = $2) AND ($3 IS NULL OR event_type = $3) \
             AND stream_ordering {comparison} $4 ORDER BY stream_ordering {order} LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(parent)
            .bind(rel_type)
            .bind(event_type)
            .bind(from.unwrap_or(default))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Thread roots of a room (events with at least one `m.thread` child),
    /// newest activity first, strictly before `before` (a stream position).
    pub async fn thread_roots(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> StorageResult<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT relates_to, MAX(stream_ordering) AS latest FROM events \
             WHERE room_id = $1 AND rel_type = 'm.thread' AND redacted_by IS NULL \
             GROUP BY relates_to HAVING MAX(stream_ordering) < $2 ORDER BY latest DESC LIMIT $3",
        )
        .bind(room_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }
}

/// Stores a report.
pub async fn insert_report(
    conn: &mut Connection,
    room_id: &str,
    event_id: Option<&str>,
    reporter: &str,
    reason: Option<&str>,
) -> StorageResult<()> {
    let id = next_stream_position(&mut *conn, "reports").await?;
    sqlx::query(
        "INSERT INTO reports (id, room_id, event_id, reporter, reason, received_ts) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(room_id)
    .bind(event_id)
    .bind(reporter)
    .bind(reason)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

impl Storage {
    /// The first event at or after `ts` (`forwards`), or the last at or
    /// before it.
    pub async fn event_near_ts(&self, room_id: &str, ts: i64, forwards: bool) -> StorageResult<Option<EventRow>> {
        let sql = if forwards {
            format!(
                "SELECT {COLUMNS} FROM events WHERE room_id = $1 AND origin_server_ts >= $2 AND outlier = 0 \
                 ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT 1"
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM events WHERE room_id = $1 AND origin_server_ts <= $2 AND outlier = 0 \
                 ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT 1"
            )
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id).bind(ts).fetch_optional(&self.read).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Reports stored (for admins and tests): (room, event, reporter, reason).
    pub async fn reports(&self) -> StorageResult<Vec<(String, Option<String>, String, Option<String>)>> {
        let rows = sqlx::query("SELECT room_id, event_id, reporter, reason FROM reports ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))).collect()
    }
}

impl Storage {
    /// The DAG edges out of an event: (prev event, room).
    pub async fn prev_events_of(&self, event_id: &str) -> StorageResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT x.prev_event_id, x.room_id FROM events e \
             JOIN event_edges x ON x.stream_ordering = e.stream_ordering \
             WHERE e.event_id = $1 ORDER BY x.prev_event_id",
        )
        .bind(event_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }

    /// The auth events recorded for an event.
    pub async fn auth_events_of(&self, event_id: &str) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT x.auth_event_id FROM events e \
             JOIN event_auth_edges x ON x.stream_ordering = e.stream_ordering \
             WHERE e.event_id = $1 ORDER BY x.auth_event_id",
        )
        .bind(event_id)
        .fetch_all(&self.read)
        .await?)
    }
}
