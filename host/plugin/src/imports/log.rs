//! `log`: plugin messages in the server's log, tagged with the plugin.

use crate::bindings::v0_1::trellis::plugin::log::{Host, Level};
use crate::state::StoreState;

/// Longest message kept; a plugin cannot flood the log with one call.
const MAX_MESSAGE: usize = 4096;

impl Host for StoreState {
    async fn emit(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let plugin = self.ctx.label();
        let message = match message.char_indices().nth(MAX_MESSAGE) {
            Some((cut, _)) => &message[..cut],
            None => &message,
        };
        match level {
            Level::Trace => tracing::trace!(target: "plugin", %plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", %plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", %plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", %plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", %plugin, "{message}"),
        }
        Ok(())
    }
}
