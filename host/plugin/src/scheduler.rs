//! Fires plugin timers when they are due.
//!
//! Timers live in the database, so they survive restarts. A timer is marked
//! done only after its plugin handled it (at least once delivery): if the
//! server stops mid-call, the timer fires again after the restart.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::imports::now_ms;
use crate::manager::PluginManager;

/// The longest the scheduler sleeps without looking at the table again.
const IDLE_RECHECK: Duration = Duration::from_secs(60);
/// Timers fired per pass.
const BATCH: u32 = 100;

impl PluginManager {
    /// Runs the timer loop until `shutdown` is cancelled.
    pub fn spawn_scheduler(self: &Arc<Self>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let manager = self.clone();
        tokio::spawn(async move {
            loop {
                let wait = match manager.fire_due_timers().await {
                    Ok(wait) => wait,
                    Err(error) => {
                        tracing::error!("plugin timers: {error:#}");
                        Duration::from_secs(1)
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = manager.timers_changed.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    }

    /// Fires what is due; returns how long to sleep before the next one.
    async fn fire_due_timers(&self) -> anyhow::Result<Duration> {
        let plugins = self.current();
        let names: Vec<String> = plugins
            .iter()
            .filter(|plugin| plugin.ctx.capabilities.timers && plugin.roles.lifecycle.is_some())
            .map(|plugin| plugin.name().to_owned())
            .collect();
        if names.is_empty() {
            return Ok(IDLE_RECHECK);
        }
        loop {
            let now = now_ms();
            let due = self.host().timers_due(&names, now, BATCH).await?;
            let full = due.len() as u32 == BATCH;
            for timer in due {
                let Some(plugin) = plugins.iter().find(|plugin| plugin.name() == timer.plugin) else { continue };
                if let Err(fault) = self.fire_timer(plugin, &timer.id, &timer.payload).await {
                    tracing::warn!(plugin = %plugin.ctx.label(), timer = %timer.id, "timer callback failed: {fault}");
                }
                self.host().timer_fired(&timer, now_ms()).await?;
            }
            if !full {
                break;
            }
        }
        let next = self.host().next_timer_due(&names).await?;
        Ok(match next {
            Some(due) => {
                Duration::from_millis(u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0)).min(IDLE_RECHECK)
            }
            None => IDLE_RECHECK,
        })
    }
}
