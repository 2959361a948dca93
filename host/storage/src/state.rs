//! State groups and the room's current state.
//!
//! A state group is an immutable room state, stored either as a full
//! snapshot or as the entries that differ from a previous group. Reading a
//! group walks its delta chain back to a snapshot; writers keep chains
//! short by starting a new snapshot once a chain reaches a bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::Row;

use crate::{Connection, Storage, StorageResult, next_stream_position};

/// `(event type, state key)`.
pub type StateKey = (String, String);

/// A room state: which event holds each `(type, state_key)`.
pub type StateMap = HashMap<StateKey, String>;

/// Most resolved groups kept; the cache starts over beyond this.
const STATE_CACHE_LIMIT: usize = 20_000;

/// Resolved state groups. Groups never change once written, so entries
/// never go stale; the cache only has to stay bounded.
#[derive(Debug, Default)]
pub struct StateGroupCache {
    groups: Mutex<HashMap<i64, Arc<StateMap>>>,
}

impl StateGroupCache {
    fn get(&self, group: i64) -> Option<Arc<StateMap>> {
        self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&group).cloned()
    }

    fn put(&self, group: i64, state: Arc<StateMap>) {
        let mut groups = self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if groups.len() >= STATE_CACHE_LIMIT {
            groups.clear();
        }
        groups.insert(group, state);
    }
}

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

impl Storage {
    /// The full state of a group, following its delta chain.
    pub async fn state_group(&self, group: i64) -> StorageResult<StateMap> {
        Ok((*self.resolved_state_group(group).await?).clone())
    }

    /// The full state of a group, shared: resolved from the nearest cached
    /// ancestor (or the snapshot) and cached on the way back.
    pub async fn resolved_state_group(&self, group: i64) -> StorageResult<Arc<StateMap>> {
        if let Some(hit) = self.state_cache.get(group) {
            return Ok(hit);
        }
        let mut conn = self.read.acquire().await?;
        let mut chain = Vec::new();
        let mut base = None;
        let mut next = Some(group);
        while let Some(id) = next {
            if let Some(hit) = self.state_cache.get(id) {
                base = Some(hit);
                break;
            }
            chain.push(id);
            next = sqlx::query_scalar::<_, Option<i64>>("SELECT prev_group FROM state_groups WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .flatten();
        }
        let mut state: StateMap = base.map(|b| (*b).clone()).unwrap_or_default();
        let mut resolved = Arc::new(state.clone());
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
            resolved = Arc::new(state.clone());
            self.state_cache.put(*id, resolved.clone());
        }
        Ok(resolved)
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
    /// Looks up a few `(type, state_key)` entries in a group.
    pub async fn state_group_lookup(&self, group: i64, keys: &[(&str, &str)]) -> StorageResult<StateMap> {
        let state = self.resolved_state_group(group).await?;
        Ok(keys
            .iter()
            .filter_map(|(t, k)| {
                let key = ((*t).to_owned(), (*k).to_owned());
                state.get(&key).map(|id| (key, id.clone()))
            })
            .collect())
    }
}
