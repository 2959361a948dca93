//! `timers`: durable one-shot and repeating timers.

use super::refused;
use crate::bindings::v0_1::trellis::plugin::timers::Host;
use crate::host_api::StoredTimer;
use crate::state::StoreState;

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl StoreState {
    async fn set_timer(
        &mut self,
        id: String,
        delay_ms: u64,
        interval_ms: Option<i64>,
        payload: String,
    ) -> wasmtime::Result<()> {
        if !self.ctx.capabilities.timers {
            return Err(refused("timers"));
        }
        let delay = i64::try_from(delay_ms).unwrap_or(i64::MAX);
        let timer = StoredTimer {
            plugin: self.ctx.name.clone(),
            id,
            due_ms: now_ms().saturating_add(delay),
            interval_ms,
            payload,
        };
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.timer_set(&timer)).await?;
        ctx.timers_changed.notify_one();
        Ok(())
    }
}

impl Host for StoreState {
    async fn schedule(&mut self, id: String, delay_ms: u64, payload: String) -> wasmtime::Result<()> {
        self.set_timer(id, delay_ms, None, payload).await
    }

    async fn every(&mut self, id: String, interval_ms: u64, payload: String) -> wasmtime::Result<()> {
        // A zero interval would spin; one millisecond is the floor.
        let interval = interval_ms.max(1);
        self.set_timer(id, interval, Some(i64::try_from(interval).unwrap_or(i64::MAX)), payload).await
    }

    async fn cancel(&mut self, id: String) -> wasmtime::Result<bool> {
        if !self.ctx.capabilities.timers {
            return Err(refused("timers"));
        }
        let ctx = self.ctx.clone();
        let existed = self.waiting(ctx.host.timer_delete(&ctx.name, &id)).await?;
        ctx.timers_changed.notify_one();
        Ok(existed)
    }
}
