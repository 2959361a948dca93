//! Writing new events: the `events` row and everything that hangs off it
//! (DAG edges, auth edges, forward extremities, transaction ids, current
//! state and memberships), for one event or for a batch of them.
//!
//! A batch is written with one statement per table rather than one per
//! event: on SQLite every statement is a round trip to the connection's
//! worker thread, and that round trip, not the insert, is most of the cost
//! of a small write. Several messages sent to one room at the same moment
//! therefore cost little more than one.

use std::collections::HashSet;

use crate::{Connection, StorageResult, now_ms, state};

/// Stream name for event positions.
pub const STREAM: &str = "events";

/// Most rows written by one multi-row statement, so that even the widest
/// row (12 values) stays far below SQLite's and PostgreSQL's limits on
/// bound values per statement.
const ROWS_PER_STATEMENT: usize = 1_000;

/// What is written for one new, fully-known event.
#[derive(Debug, Clone)]
pub struct PersistEvent<'a> {
    /// Event id.
    pub event_id: &'a str,
    /// Room.
    pub room_id: &'a str,
    /// Type.
    pub event_type: &'a str,
    /// State key, for state events.
    pub state_key: Option<&'a str>,
    /// Sender.
    pub sender: &'a str,
    /// Topological depth.
    pub depth: i64,
    /// Timestamp.
    pub origin_server_ts: i64,
    /// Canonical JSON of the PDU.
    pub json: &'a str,
    /// Prev events (DAG edges).
    pub prev_events: &'a [String],
    /// Auth events.
    pub auth_events: &'a [String],
    /// State group of the state after this event.
    pub state_group: i64,
    /// For member events: the target's new membership.
    pub membership: Option<&'a str>,
    /// `m.relates_to.event_id` and `rel_type`, if any.
    pub relation: Option<(&'a str, &'a str)>,
    /// The client transaction that sent it: (user, device, txn id).
    pub txn: Option<(&'a str, &'a str, &'a str)>,
}

/// Reserves `count` consecutive positions of a stream counter and returns
/// the first. One statement however many are taken.
pub async fn reserve_stream_positions(conn: &mut Connection, stream: &str, count: usize) -> StorageResult<i64> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO stream_positions (stream_name, position) VALUES ($1, $2) \
         ON CONFLICT (stream_name) DO UPDATE SET position = stream_positions.position + $2 \
         RETURNING position",
    )
    .bind(stream)
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    Ok(last - count + 1)
}

/// Writes new events of one room, in order, and returns their stream
/// positions (consecutive, in the same order). Call inside the transaction
/// that also wrote their state groups, so that either all of it exists or
/// none of it does. An event may name earlier
/// events of the batch as its prev events; the forward extremities left
/// are the events no other event of the batch points at.
pub async fn persist_all(conn: &mut Connection, events: &[PersistEvent<'_>]) -> StorageResult<Vec<i64>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let first = reserve_stream_positions(&mut *conn, STREAM, events.len()).await?;
    let positions: Vec<i64> = (0..events.len()).map(|i| first + i64::try_from(i).unwrap_or(i64::MAX)).collect();
    insert_event_rows(conn, events, &positions).await?;
    insert_edges(conn, events).await?;
    update_extremities(conn, events).await?;
    insert_transactions(conn, events).await?;
    for (event, position) in events.iter().zip(&positions) {
        if let Some(state_key) = event.state_key {
            state::set_current(&mut *conn, event.room_id, event.event_type, state_key, event.event_id).await?;
            if let Some(membership) = event.membership {
                set_membership(conn, event, state_key, membership, *position).await?;
            }
        }
    }
    Ok(positions)
}

async fn insert_event_rows(conn: &mut Connection, events: &[PersistEvent<'_>], positions: &[i64]) -> StorageResult<()> {
    let rows: Vec<(&PersistEvent<'_>, i64)> = events.iter().zip(positions.iter().copied()).collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO events (stream_ordering, event_id, room_id, event_type, state_key, sender, depth, \
             origin_server_ts, state_group, json, relates_to, rel_type) VALUES {}",
            crate::sql::value_rows(chunk.len(), &["?"; 12], 1)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (event, position) in chunk {
            insert = insert
                .bind(*position)
                .bind(event.event_id)
                .bind(event.room_id)
                .bind(event.event_type)
                .bind(event.state_key)
                .bind(event.sender)
                .bind(event.depth)
                .bind(event.origin_server_ts)
                .bind(event.state_group)
                .bind(event.json)
                .bind(event.relation.map(|r| r.0))
                .bind(event.relation.map(|r| r.1));
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_edges(conn: &mut Connection, events: &[PersistEvent<'_>]) -> StorageResult<()> {
    let prev: Vec<(&str, &str, &str)> =
        events.iter().flat_map(|e| e.prev_events.iter().map(move |p| (e.event_id, p.as_str(), e.room_id))).collect();
    for chunk in prev.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO event_edges (event_id, prev_event_id, room_id) VALUES {}",
            crate::sql::value_rows(chunk.len(), &["?"; 3], 1)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (event_id, prev_id, room_id) in chunk {
            insert = insert.bind(*event_id).bind(*prev_id).bind(*room_id);
        }
        insert.execute(&mut *conn).await?;
    }
    let auth: Vec<(&str, &str)> =
        events.iter().flat_map(|e| e.auth_events.iter().map(move |a| (e.event_id, a.as_str()))).collect();
    for chunk in auth.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO event_auth_edges (event_id, auth_event_id) VALUES {}",
            crate::sql::value_rows(chunk.len(), &["?"; 2], 1)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (event_id, auth_id) in chunk {
            insert = insert.bind(*event_id).bind(*auth_id);
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every prev event stops being a forward extremity; every new event that
/// no other new event points at becomes one.
async fn update_extremities(conn: &mut Connection, events: &[PersistEvent<'_>]) -> StorageResult<()> {
    let Some(room_id) = events.first().map(|e| e.room_id) else { return Ok(()) };
    let referenced: HashSet<&str> = events.iter().flat_map(|e| e.prev_events.iter().map(String::as_str)).collect();
    let referenced: Vec<&str> = referenced.into_iter().collect();
    for chunk in referenced.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "DELETE FROM forward_extremities WHERE room_id = $1 AND event_id IN ({})",
            crate::sql::placeholders(chunk.len(), 2)
        );
        let mut delete = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id);
        for prev in chunk {
            delete = delete.bind(*prev);
        }
        delete.execute(&mut *conn).await?;
    }
    let tips: Vec<&str> = events.iter().map(|e| e.event_id).filter(|id| !referenced.contains(id)).collect();
    for chunk in tips.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO forward_extremities (room_id, event_id) VALUES {}",
            crate::sql::value_rows(chunk.len(), &["$1", "?"], 2)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(room_id);
        for tip in chunk {
            insert = insert.bind(*tip);
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_transactions(conn: &mut Connection, events: &[PersistEvent<'_>]) -> StorageResult<()> {
    let txns: Vec<(&str, &str, &str, &str)> =
        events.iter().filter_map(|e| e.txn.map(|(user, device, txn)| (user, device, txn, e.event_id))).collect();
    let now = now_ms();
    for chunk in txns.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts) VALUES {}",
            crate::sql::value_rows(chunk.len(), &["?", "?", "?", "?", "$1"], 2)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for (user, device, txn, event_id) in chunk {
            insert = insert.bind(*user).bind(*device).bind(*txn).bind(*event_id);
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn set_membership(
    conn: &mut Connection,
    event: &PersistEvent<'_>,
    user_id: &str,
    membership: &str,
    position: i64,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, user_id) DO UPDATE SET \
         membership = excluded.membership, event_id = excluded.event_id, \
         stream_ordering = excluded.stream_ordering, forgotten = 0",
    )
    .bind(event.room_id)
    .bind(user_id)
    .bind(membership)
    .bind(event.event_id)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
