//! Last-seen tracking for devices (`last_seen_ip`, `last_seen_ts`).
//!
//! Writing a row on every authenticated request would turn reads into
//! writes, so sightings are kept in memory and flushed to the database in
//! batches (every few seconds and at shutdown). Reads of device lists
//! overlay the unflushed sightings, so clients always see the latest.

use std::collections::HashMap;
use std::sync::Mutex;

use trellis_storage::devices::{self, DeviceRow};
use trellis_storage::{Storage, StorageResult, now_ms};

#[derive(Debug, Clone)]
struct Sighting {
    ip: String,
    user_agent: Option<String>,
    ts: i64,
}

/// Unflushed sightings, keyed by (user id, device id).
#[derive(Debug, Default)]
pub struct DeviceActivity {
    pending: Mutex<HashMap<(String, String), Sighting>>,
}

impl DeviceActivity {
    /// Notes that a device made a request from `ip`.
    pub fn record(&self, user_id: &str, device_id: &str, ip: &str, user_agent: Option<&str>) {
        let now = now_ms();
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (user_id.to_owned(), device_id.to_owned());
        match pending.get_mut(&key) {
            Some(seen) => {
                seen.ts = now;
                if seen.ip != ip {
                    ip.clone_into(&mut seen.ip);
                }
                if seen.user_agent.as_deref() != user_agent {
                    seen.user_agent = user_agent.map(str::to_owned);
                }
            }
            None => {
                pending.insert(key, Sighting { ip: ip.to_owned(), user_agent: user_agent.map(str::to_owned), ts: now });
            }
        }
    }

    /// Applies unflushed sightings to rows read from the database.
    pub fn overlay(&self, rows: &mut [DeviceRow]) {
        let pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for row in rows {
            if let Some(seen) = pending.get(&(row.user_id.clone(), row.device_id.clone())) {
                row.last_seen_ip = Some(seen.ip.clone());
                row.last_seen_user_agent.clone_from(&seen.user_agent);
                row.last_seen_ts = Some(seen.ts);
            }
        }
    }

    /// Writes every pending sighting in one transaction.
    pub async fn flush(&self, storage: &Storage) -> StorageResult<usize> {
        let batch: Vec<_> = {
            let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.drain().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = storage.begin().await?;
        for ((user_id, device_id), seen) in &batch {
            devices::touch(&mut tx, user_id, device_id, &seen.ip, seen.user_agent.as_deref(), seen.ts).await?;
        }
        tx.commit().await?;
        Ok(batch.len())
    }
}
