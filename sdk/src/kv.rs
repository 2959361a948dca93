//! A key-value store private to the plugin, within the quota the admin set.
//! Needs the `kv` capability.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::trellis::plugin::kv as host;

/// The value of a key.
pub fn get(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}

/// Stores a value; fails when the quota would be exceeded.
pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
    host::set(key, value)
}

/// Adds `delta` to a counter (a missing key counts as 0) and returns the new
/// value. Atomic: use it rather than `get` then `set`, because calls of a
/// plugin run concurrently and a read-modify-write would lose updates.
pub fn increment(key: &str, delta: i64) -> Result<i64, String> {
    host::increment(key, delta)
}

/// Deletes a key; returns whether it existed.
pub fn delete(key: &str) -> bool {
    host::delete(key)
}

/// Keys starting with `prefix`, in byte order, at most `limit`.
pub fn keys(prefix: &str, limit: u32) -> Vec<String> {
    host::keys(prefix, limit)
}

/// A value stored with [`set_json`]; `None` if missing or unreadable.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    get(key).and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Stores a value as JSON.
pub fn set_json<T: Serialize>(key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    set(key, &bytes)
}
