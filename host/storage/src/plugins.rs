//! Plugin state: the per-plugin key-value store, durable plugin timers, and
//! links between users and external identities.

use sqlx::Row;

use crate::{Storage, StorageResult};

/// A timer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRow {
    /// The plugin that owns it.
    pub plugin: String,
    /// The plugin's id for it.
    pub timer_id: String,
    /// When it is due (ms since the epoch).
    pub due_ts: i64,
    /// Set for repeating timers.
    pub interval_ms: Option<i64>,
    /// Handed back to the plugin.
    pub payload: String,
}

fn timer_from_row(row: &sqlx::any::AnyRow) -> StorageResult<TimerRow> {
    Ok(TimerRow {
        plugin: row.try_get("plugin")?,
        timer_id: row.try_get("timer_id")?,
        due_ts: row.try_get("due_ts")?,
        interval_ms: row.try_get("interval_ms")?,
        payload: row.try_get("payload")?,
    })
}

/// Writes a key inside `tx` unless the plugin's total (keys plus values,
/// this key's old value excluded) would pass `quota`; returns whether it
/// wrote. The caller holds the plugin's write lock.
async fn store_within_quota(
    tx: &mut crate::WriteTx,
    plugin: &str,
    key: &str,
    value: &[u8],
    quota: u64,
) -> StorageResult<bool> {
    let size = i64::try_from(key.len() + value.len()).unwrap_or(i64::MAX);
    let others: Option<i64> =
        sqlx::query_scalar("SELECT CAST(SUM(size) AS BIGINT) FROM plugin_kv WHERE plugin = $1 AND key <> $2")
            .bind(plugin)
            .bind(key)
            .fetch_one(&mut **tx)
            .await?;
    if u64::try_from(others.unwrap_or(0).saturating_add(size)).unwrap_or(u64::MAX) > quota {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO plugin_kv (plugin, key, value, size) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, size = excluded.size",
    )
    .bind(plugin)
    .bind(key)
    .bind(value)
    .bind(size)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

impl Storage {
    /// A value of a plugin's store.
    pub async fn plugin_kv_get(&self, plugin: &str, key: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT value FROM plugin_kv WHERE plugin = $1 AND key = $2")
            .bind(plugin)
            .bind(key)
            .fetch_optional(&self.read)
            .await?)
    }

    /// Stores a value unless the plugin's total size would pass `quota`;
    /// returns whether it was stored.
    pub async fn plugin_kv_set(&self, plugin: &str, key: &str, value: &[u8], quota: u64) -> StorageResult<bool> {
        let mut tx = self.begin().await?;
        self.lock_plugin_kv(&mut tx, plugin).await?;
        let stored = store_within_quota(&mut tx, plugin, key, value, quota).await?;
        if stored {
            tx.commit().await?;
        }
        Ok(stored)
    }

    /// Serialises the writes of one plugin's store, so that the quota check
    /// and the write cannot interleave with another write: SQLite has a
    /// single writer already; PostgreSQL takes a transaction-scoped
    /// advisory lock per plugin.
    async fn lock_plugin_kv(&self, tx: &mut crate::WriteTx, plugin: &str) -> StorageResult<()> {
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(plugin).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds `delta` to a counter kept as decimal text (a missing key counts
    /// as 0) and returns the new value. `Ok(Err(..))` explains a refusal: the
    /// value is not a counter, the sum overflows, or the quota would be
    /// passed. Concurrent increments never lose updates (see
    /// `lock_plugin_kv`).
    pub async fn plugin_kv_increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        quota: u64,
    ) -> StorageResult<Result<i64, String>> {
        let mut tx = self.begin().await?;
        self.lock_plugin_kv(&mut tx, plugin).await?;
        let current: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM plugin_kv WHERE plugin = $1 AND key = $2")
            .bind(plugin)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let old = match current {
            None => 0,
            Some(bytes) => match std::str::from_utf8(&bytes).ok().and_then(|text| text.parse::<i64>().ok()) {
                Some(number) => number,
                None => return Ok(Err(format!("the value of {key:?} is not a counter"))),
            },
        };
        let Some(new) = old.checked_add(delta) else { return Ok(Err(format!("{key:?} would overflow"))) };
        if !store_within_quota(&mut tx, plugin, key, new.to_string().as_bytes(), quota).await? {
            return Ok(Err(format!("the plugin's store would exceed its quota of {quota} bytes")));
        }
        tx.commit().await?;
        Ok(Ok(new))
    }

    /// Deletes a key; returns whether it existed.
    pub async fn plugin_kv_delete(&self, plugin: &str, key: &str) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM plugin_kv WHERE plugin = $1 AND key = $2")
            .bind(plugin)
            .bind(key)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keys with a prefix, in byte order.
    pub async fn plugin_kv_keys(&self, plugin: &str, prefix: &str, limit: u32) -> StorageResult<Vec<String>> {
        // Range scan instead of LIKE: prefixes may contain `%` or `_`.
        let keys: Vec<String> =
            sqlx::query_scalar("SELECT key FROM plugin_kv WHERE plugin = $1 AND key >= $2 ORDER BY key LIMIT $3")
                .bind(plugin)
                .bind(prefix)
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
        Ok(keys.into_iter().take_while(|key| key.starts_with(prefix)).collect())
    }

    /// Creates or replaces a timer.
    pub async fn plugin_timer_set(&self, timer: &TimerRow) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO plugin_timers (plugin, timer_id, due_ts, interval_ms, payload) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (plugin, timer_id) DO UPDATE SET due_ts = excluded.due_ts, \
             interval_ms = excluded.interval_ms, payload = excluded.payload",
        )
        .bind(&timer.plugin)
        .bind(&timer.timer_id)
        .bind(timer.due_ts)
        .bind(timer.interval_ms)
        .bind(&timer.payload)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(())
    }

    /// Deletes a timer; returns whether it existed.
    pub async fn plugin_timer_delete(&self, plugin: &str, timer_id: &str) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM plugin_timers WHERE plugin = $1 AND timer_id = $2")
            .bind(plugin)
            .bind(timer_id)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Timers of the named plugins due by `now`, earliest first.
    pub async fn plugin_timers_due(&self, plugins: &[String], now: i64, limit: u32) -> StorageResult<Vec<TimerRow>> {
        if plugins.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT plugin, timer_id, due_ts, interval_ms, payload FROM plugin_timers \
             WHERE due_ts <= $1 AND plugin IN ({}) ORDER BY due_ts LIMIT {limit}",
            crate::sql::placeholders(plugins.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for plugin in plugins {
            query = query.bind(plugin);
        }
        query.fetch_all(&mut *self.write_conn().await?).await?.iter().map(timer_from_row).collect()
    }

    /// When the next timer of the named plugins is due.
    pub async fn plugin_next_timer(&self, plugins: &[String]) -> StorageResult<Option<i64>> {
        if plugins.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT MIN(due_ts) FROM plugin_timers WHERE plugin IN ({})",
            crate::sql::placeholders(plugins.len(), 1)
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for plugin in plugins {
            query = query.bind(plugin);
        }
        Ok(query.fetch_one(&mut *self.write_conn().await?).await?)
    }

    /// After a timer fired: a one-shot timer is deleted and a repeating one
    /// moved on, but only if the plugin did not reset it meanwhile (its due
    /// time is still the one that fired).
    pub async fn plugin_timer_fired(&self, timer: &TimerRow, now: i64) -> StorageResult<()> {
        match timer.interval_ms {
            None => {
                sqlx::query("DELETE FROM plugin_timers WHERE plugin = $1 AND timer_id = $2 AND due_ts = $3")
                    .bind(&timer.plugin)
                    .bind(&timer.timer_id)
                    .bind(timer.due_ts)
                    .execute(&mut *self.write_conn().await?)
                    .await?;
            }
            Some(interval) => {
                let next = timer.due_ts.saturating_add(interval).max(now);
                sqlx::query("UPDATE plugin_timers SET due_ts = $4 WHERE plugin = $1 AND timer_id = $2 AND due_ts = $3")
                    .bind(&timer.plugin)
                    .bind(&timer.timer_id)
                    .bind(timer.due_ts)
                    .bind(next)
                    .execute(&mut *self.write_conn().await?)
                    .await?;
            }
        }
        Ok(())
    }

    /// Links an external identity to a user; `false` if it is already
    /// linked to someone.
    pub async fn link_external_id(&self, provider: &str, external_id: &str, user_id: &str) -> StorageResult<bool> {
        let done = sqlx::query(
            "INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (auth_provider, external_id) DO NOTHING",
        )
        .bind(provider)
        .bind(external_id)
        .bind(user_id)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The user an external identity is linked to.
    pub async fn user_by_external_id(&self, provider: &str, external_id: &str) -> StorageResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT user_id FROM user_external_ids WHERE auth_provider = $1 AND external_id = $2")
            .bind(provider)
            .bind(external_id)
            .fetch_optional(&self.read)
            .await?)
    }

    /// The most recent events of a sender in a room, newest first.
    pub async fn events_by_sender(&self, room_id: &str, sender: &str, limit: u32) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT event_id FROM events WHERE room_id = $1 AND sender = $2 AND outlier = 0 \
             ORDER BY stream_ordering DESC LIMIT $3",
        )
        .bind(room_id)
        .bind(sender)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?)
    }
}
