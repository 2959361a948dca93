//! Writing new events: the `events` row and everything that hangs off it
//! (DAG edges, auth edges, forward extremities, transaction ids, current
//! state and memberships), for one event or for a batch of them.
//!
//! A batch is written with one statement per table rather than one per
//! event, and the statements go into a [`Script`] that the caller runs with
//! the batch's search entries and push actions: on SQLite every command is
//! a round trip to the connection's worker thread, and that round trip, not
//! the insert, is most of the cost of a small write. On SQLite the stream
//! positions come from memory ([`crate::writer`]) and a batch of message
//! events costs one round trip from `BEGIN` to `COMMIT`. Several messages
//! sent to one room at the same moment therefore cost little more than
//! one.

use std::collections::HashSet;

use crate::now_ms;
use crate::script::{Bound, ROWS_PER_STATEMENT, Script};

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

/// Adds the rows of new events of one room to `script`, at consecutive
/// stream positions from `first` (reserved by the caller's transaction,
/// see [`crate::WriteTx::reserve_event_positions`]); returns the
/// positions, in the events' order. An event may name earlier events of the batch as its prev
/// events; the forward extremities left are the events no other event of
/// the batch points at. Run the script inside the transaction that also
/// wrote the events' state groups, so that either all of it exists or none
/// of it does.
pub fn persist_all<'a>(script: &mut Script<'a>, events: &'a [PersistEvent<'a>], first: i64) -> Vec<i64> {
    if events.is_empty() {
        return Vec::new();
    }
    let positions: Vec<i64> = (0..events.len()).map(|i| first + i64::try_from(i).unwrap_or(i64::MAX)).collect();
    add_event_rows(script, events, &positions);
    add_edges(script, events, &positions);
    add_extremities(script, events);
    add_transactions(script, events);
    for (event, position) in events.iter().zip(&positions) {
        if let Some(state_key) = event.state_key {
            add_current_state(script, event, state_key);
            if let Some(membership) = event.membership {
                add_membership(script, event, state_key, membership, *position);
            }
        }
    }
    positions
}

fn add_event_rows<'a>(script: &mut Script<'a>, events: &'a [PersistEvent<'a>], positions: &[i64]) {
    let values = events
        .iter()
        .zip(positions)
        .flat_map(|(event, position)| {
            [
                Bound::Int(*position),
                Bound::Text(event.event_id),
                Bound::Text(event.room_id),
                Bound::Text(event.event_type),
                Bound::MaybeText(event.state_key),
                Bound::Text(event.sender),
                Bound::Int(event.depth),
                Bound::Int(event.origin_server_ts),
                Bound::Int(event.state_group),
                Bound::Text(event.json),
                Bound::MaybeText(event.relation.map(|r| r.0)),
                Bound::MaybeText(event.relation.map(|r| r.1)),
                Bound::MaybeText(event.txn.map(|(_, device, _)| device)),
                Bound::MaybeText(event.txn.map(|(_, _, txn)| txn)),
            ]
        })
        .collect();
    script.push_rows(
        "INSERT INTO events (stream_ordering, event_id, room_id, event_type, state_key, sender, depth, \
         origin_server_ts, state_group, json, relates_to, rel_type, txn_device, txn_id)",
        &["?"; 14],
        values,
    );
}

/// The edges are keyed by the new events' stream positions, so that they
/// are appended at the end of their tables.
fn add_edges<'a>(script: &mut Script<'a>, events: &'a [PersistEvent<'a>], positions: &[i64]) {
    let prev = events
        .iter()
        .zip(positions)
        .flat_map(|(e, position)| {
            e.prev_events.iter().flat_map(|p| [Bound::Int(*position), Bound::Text(p), Bound::Text(e.room_id)])
        })
        .collect();
    script.push_rows("INSERT INTO event_edges (stream_ordering, prev_event_id, room_id)", &["?"; 3], prev);
    let auth = events
        .iter()
        .zip(positions)
        .flat_map(|(e, position)| e.auth_events.iter().flat_map(|a| [Bound::Int(*position), Bound::Text(a)]))
        .collect();
    script.push_rows("INSERT INTO event_auth_edges (stream_ordering, auth_event_id)", &["?"; 2], auth);
}

/// Every prev event stops being a forward extremity; every new event that
/// no other new event points at becomes one.
fn add_extremities<'a>(script: &mut Script<'a>, events: &'a [PersistEvent<'a>]) {
    let Some(room_id) = events.first().map(|e| e.room_id) else { return };
    let referenced: HashSet<&'a str> = events.iter().flat_map(|e| e.prev_events.iter().map(String::as_str)).collect();
    let referenced: Vec<&'a str> = referenced.into_iter().collect();
    for chunk in referenced.chunks(ROWS_PER_STATEMENT) {
        let first = script.first_placeholder();
        let sql = format!(
            "DELETE FROM forward_extremities WHERE room_id = ${first} AND event_id IN ({})",
            crate::sql::placeholders(chunk.len(), first + 1)
        );
        let mut values = vec![Bound::Text(room_id)];
        values.extend(chunk.iter().map(|prev| Bound::Text(prev)));
        script.push(sql, values);
    }
    let tips = events
        .iter()
        .map(|e| e.event_id)
        .filter(|id| !referenced.contains(id))
        .flat_map(|tip| [Bound::Text(room_id), Bound::Text(tip)])
        .collect();
    script.push_rows("INSERT INTO forward_extremities (room_id, event_id)", &["?"; 2], tips);
}

fn add_transactions<'a>(script: &mut Script<'a>, events: &'a [PersistEvent<'a>]) {
    let now = now_ms();
    let txns = events
        .iter()
        .filter_map(|e| e.txn.map(|(user, device, txn)| (user, device, txn, e.event_id)))
        .flat_map(|(user, device, txn, id)| {
            [Bound::Text(user), Bound::Text(device), Bound::Text(txn), Bound::Text(id), Bound::Int(now)]
        })
        .collect();
    script.push_rows("INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)", &["?"; 5], txns);
}

fn add_current_state<'a>(script: &mut Script<'a>, event: &'a PersistEvent<'a>, state_key: &'a str) {
    let first = script.first_placeholder();
    let sql = format!(
        "INSERT INTO current_state (room_id, event_type, state_key, event_id) VALUES ({}) \
         ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET event_id = excluded.event_id",
        crate::sql::placeholders(4, first)
    );
    script.push(
        sql,
        vec![
            Bound::Text(event.room_id),
            Bound::Text(event.event_type),
            Bound::Text(state_key),
            Bound::Text(event.event_id),
        ],
    );
}

fn add_membership<'a>(
    script: &mut Script<'a>,
    event: &'a PersistEvent<'a>,
    user_id: &'a str,
    membership: &'a str,
    position: i64,
) {
    let first = script.first_placeholder();
    let sql = format!(
        "INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering) \
         VALUES ({}) ON CONFLICT (room_id, user_id) DO UPDATE SET \
         membership = excluded.membership, event_id = excluded.event_id, \
         stream_ordering = excluded.stream_ordering, forgotten = 0",
        crate::sql::placeholders(5, first)
    );
    script.push(
        sql,
        vec![
            Bound::Text(event.room_id),
            Bound::Text(user_id),
            Bound::Text(membership),
            Bound::Text(event.event_id),
            Bound::Int(position),
        ],
    );
}
