//! State groups and the room's current state.
//!
//! A state group is an immutable room state, stored either as a full
//! snapshot or as the entries that differ from a previous group. Reading a
//! group walks its delta chain back to a snapshot; writers keep chains
//! short by starting a new snapshot once a chain reaches a bound.

use std::collections::HashMap;

use sqlx::Row;

use crate::{Connection, Storage, StorageResult, next_stream_position};

/// `(event type, state key)`.
pub type StateKey = (String, String);

/// A room state: which event holds each `(type, state_key)`.
pub type StateMap = HashMap<StateKey, String>;

/// Stores a new state group and returns its id. With `prev_group`, the
/// entries are a delta against it; without, a full snapshot.
pub async fn insert_group(
    conn: &mut Connection,
    room_id: &str,
    prev_group: Option<i64>,
    chain_length: i64,
    entries: &[(&str, &str, &str)],
) -> StorageResult<i64> {
    let id = next_stream_position(&mut *conn, "state_groups").await?;
    sqlx::query("INSERT INTO state_groups (id, room_id, prev_group, chain_length) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(room_id)
        .bind(prev_group)
        .bind(chain_length)
        .execute(&mut *conn)
        .await?;
    for (event_type, state_key, event_id) in entries {
        sqlx::query(
            "INSERT INTO state_group_entries (state_group, event_type, state_key, event_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(*event_type)
        .bind(*state_key)
        .bind(*event_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// Sets one entry of the room's current state.
pub async fn set_current(
    conn: &mut Connection,
    room_id: &str,
    event_type: &str,
    state_key: &str,
    event_id: &str,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO current_state (room_id, event_type, state_key, event_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET event_id = excluded.event_id",
    )
    .bind(room_id)
    .bind(event_type)
    .bind(state_key)
    .bind(event_id)
    .execute(conn)
    .await?;
    Ok(())
}

impl Storage {
    /// The full state of a group, following its delta chain.
    pub async fn state_group(&self, group: i64) -> StorageResult<StateMap> {
        let mut conn = self.read.acquire().await?;
        let mut chain = Vec::new();
        let mut next = Some(group);
        while let Some(id) = next {
            chain.push(id);
            next = sqlx::query_scalar::<_, Option<i64>>("SELECT prev_group FROM state_groups WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .flatten();
        }
        let mut state = StateMap::new();
        // Oldest first, so that newer deltas overwrite older entries.
        for id in chain.iter().rev() {
            let rows =
                sqlx::query("SELECT event_type, state_key, event_id FROM state_group_entries WHERE state_group = $1")
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
            for row in rows {
                state.insert((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?);
            }
        }
        Ok(state)
    }

    /// The chain length of a group (0 for a snapshot).
    pub async fn state_group_chain_length(&self, group: i64) -> StorageResult<i64> {
        Ok(sqlx::query_scalar("SELECT chain_length FROM state_groups WHERE id = $1")
            .bind(group)
            .fetch_optional(&self.read)
            .await?
            .unwrap_or(0))
    }

    /// The room's current state.
    pub async fn current_state(&self, room_id: &str) -> StorageResult<StateMap> {
        let rows = sqlx::query("SELECT event_type, state_key, event_id FROM current_state WHERE room_id = $1")
            .bind(room_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?))).collect()
    }

    /// One entry of the current state.
    pub async fn current_state_event(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
    ) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT event_id FROM current_state WHERE room_id = $1 AND event_type = $2 AND state_key = $3",
        )
        .bind(room_id)
        .bind(event_type)
        .bind(state_key)
        .fetch_optional(&self.read)
        .await?)
    }
}

impl Storage {
    /// Looks up a few `(type, state_key)` entries in a group, following its
    /// delta chain only until each is found.
    pub async fn state_group_lookup(&self, group: i64, keys: &[(&str, &str)]) -> StorageResult<StateMap> {
        let mut conn = self.read.acquire().await?;
        let mut found = StateMap::new();
        let mut next = Some(group);
        while let Some(id) = next {
            for (event_type, state_key) in keys {
                let key = ((*event_type).to_owned(), (*state_key).to_owned());
                if found.contains_key(&key) {
                    continue;
                }
                let event_id: Option<String> = sqlx::query_scalar(
                    "SELECT event_id FROM state_group_entries WHERE state_group = $1 AND event_type = $2 AND state_key = $3",
                )
                .bind(id)
                .bind(*event_type)
                .bind(*state_key)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(event_id) = event_id {
                    found.insert(key, event_id);
                }
            }
            if found.len() == keys.len() {
                break;
            }
            next = sqlx::query_scalar::<_, Option<i64>>("SELECT prev_group FROM state_groups WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .flatten();
        }
        Ok(found)
    }
}
