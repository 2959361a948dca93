//! Scheduled events in the key-value store.
//!
//! Keys: `event/<delay_id>` holds the event; `user/<user_id>/<delay_id>`
//! and `state/<room>\x1f<type>\x1f<state_key>\x1f<delay_id>` are indexes;
//! `txn/<user>/<device>/<txn_id>` makes retried sends idempotent.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_sdk::{MatrixError, kv, rooms, timers};

/// Separates fields of index keys; cannot appear in ids or types.
const SEP: char = '\u{1f}';

/// One scheduled event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delayed {
    pub delay_id: String,
    pub user_id: String,
    pub room_id: String,
    pub event_type: String,
    pub state_key: Option<String>,
    pub content: Value,
    pub delay_ms: u64,
    /// When it was scheduled or last restarted.
    pub running_since: u64,
}

fn event_key(delay_id: &str) -> String {
    format!("event/{delay_id}")
}

fn user_key(user_id: &str, delay_id: &str) -> String {
    format!("user/{user_id}/{delay_id}")
}

fn state_prefix(room_id: &str, event_type: &str, state_key: &str) -> String {
    format!("state/{room_id}{SEP}{event_type}{SEP}{state_key}{SEP}")
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A fresh, unguessable delay id (knowing one is enough to manage it).
pub fn new_delay_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the host's randomness (wasi:random).
    let high = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let low = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("syd_{high:016x}{low:016x}")
}

impl Delayed {
    /// Stores it with its indexes and starts its timer.
    pub fn schedule(&self) -> Result<(), String> {
        kv::set_json(&event_key(&self.delay_id), self)?;
        kv::set(&user_key(&self.user_id, &self.delay_id), b"")?;
        if let Some(state_key) = &self.state_key {
            let key = format!("{}{}", state_prefix(&self.room_id, &self.event_type, state_key), self.delay_id);
            kv::set(&key, self.user_id.as_bytes())?;
        }
        timers::schedule(&self.delay_id, self.delay_ms, "");
        Ok(())
    }

    /// Sends it now, as its user.
    pub fn send(&self) -> Result<String, MatrixError> {
        match &self.state_key {
            Some(state_key) => {
                rooms::send_state(&self.room_id, &self.user_id, &self.event_type, state_key, &self.content)
            }
            None => rooms::send_message(&self.room_id, &self.user_id, &self.event_type, &self.content),
        }
    }

    /// The list-endpoint form: current field names plus Synapse's legacy ones.
    pub fn to_json(&self) -> Value {
        let mut json = serde_json::json!({
            "delay_id": self.delay_id,
            "room_id": self.room_id,
            "type": self.event_type,
            "content": self.content,
            "delay_ms": self.delay_ms,
            "delayed_since_ts": self.running_since,
            "delay": self.delay_ms,
            "running_since": self.running_since,
        });
        if let Some(state_key) = &self.state_key {
            json["state_key"] = Value::String(state_key.clone());
        }
        json
    }
}

/// A scheduled event by id.
pub fn get(delay_id: &str) -> Option<Delayed> {
    kv::get_json(&event_key(delay_id))
}

/// Removes a scheduled event and returns it; its timer is cancelled.
pub fn take(delay_id: &str) -> Option<Delayed> {
    let delayed = get(delay_id)?;
    kv::delete(&event_key(delay_id));
    kv::delete(&user_key(&delayed.user_id, delay_id));
    if let Some(state_key) = &delayed.state_key {
        kv::delete(&format!("{}{delay_id}", state_prefix(&delayed.room_id, &delayed.event_type, state_key)));
    }
    timers::cancel(delay_id);
    Some(delayed)
}

/// Restarts the countdown.
pub fn restart(mut delayed: Delayed) -> Result<(), String> {
    delayed.running_since = now_ms();
    delayed.schedule()
}

/// A user's scheduled events, oldest first.
pub fn of_user(user_id: &str, limit: u32) -> Vec<Delayed> {
    let prefix = format!("user/{user_id}/");
    let mut events: Vec<Delayed> =
        kv::keys(&prefix, limit).iter().filter_map(|key| get(key.strip_prefix(&prefix)?)).collect();
    events.sort_by_key(|delayed| delayed.running_since.saturating_add(delayed.delay_ms));
    events
}

/// Cancels delayed state events for the same state that belong to other
/// users than `sender` (a user's own new state does not cancel theirs).
pub fn cancel_overwritten(room_id: &str, event_type: &str, state_key: &str, sender: &str) {
    let prefix = state_prefix(room_id, event_type, state_key);
    for key in kv::keys(&prefix, 100) {
        let owner = kv::get(&key).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        if owner.as_deref() == Some(sender) {
            continue;
        }
        if let Some(delay_id) = key.strip_prefix(&prefix)
            && take(delay_id).is_some()
        {
            trellis_sdk::info!("cancelled delayed state event {delay_id}: {sender} changed that state");
        }
    }
}

/// Remembers the delay id a transaction produced.
pub fn remember_txn(user_id: &str, device_id: &str, txn_id: &str, delay_id: &str) -> Result<(), String> {
    kv::set(&format!("txn/{user_id}/{device_id}/{txn_id}"), delay_id.as_bytes())
}

/// The delay id of an earlier identical transaction.
pub fn txn(user_id: &str, device_id: &str, txn_id: &str) -> Option<String> {
    kv::get(&format!("txn/{user_id}/{device_id}/{txn_id}")).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// How many events a user has scheduled, counting up to `limit`.
pub fn count_of_user(user_id: &str, limit: u32) -> usize {
    kv::keys(&format!("user/{user_id}/"), limit).len()
}
