//! The data each plugin call's store carries: WASI context, limits, the
//! plugin's identity and grants, and time accounting for the deadline.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::capabilities::Capabilities;
use crate::host_api::PluginHost;
use crate::spec::PluginLimits;

/// Captured guest output beyond this is cut off (and the write traps).
const OUTPUT_CAPACITY: usize = 256 << 10;
/// Core instances per store.
const MAX_INSTANCES: usize = 32;
/// Tables per store.
const MAX_TABLES: usize = 32;
/// Linear memories per store.
const MAX_MEMORIES: usize = 4;
/// Elements per table (function references).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What every call of one plugin shares.
pub struct PluginContext {
    /// The configured name.
    pub name: String,
    /// The version the plugin reports, once known.
    pub version: OnceLock<String>,
    /// The config section, as JSON text.
    pub config_json: String,
    /// What the plugin may do.
    pub capabilities: Capabilities,
    /// Limits.
    pub limits: PluginLimits,
    /// The server.
    pub host: Arc<dyn PluginHost>,
    /// Outbound HTTP, used only when granted.
    pub http: reqwest::Client,
    /// Woken when the plugin changes its timers.
    pub timers_changed: Arc<Notify>,
    /// The folder a filesystem grant opens.
    pub folder: Option<std::path::PathBuf>,
}

impl PluginContext {
    /// `name vX` for log lines.
    pub fn label(&self) -> String {
        match self.version.get() {
            Some(version) => format!("{} {version}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The store data of one call.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory and instance limits.
    pub limits: StoreLimits,
    /// The plugin.
    pub ctx: Arc<PluginContext>,
    /// Guest stdout and stderr (Rust panics print their message here).
    pub output: MemoryOutputPipe,
    /// When the call started.
    pub started: Instant,
    /// Time spent waiting for the server inside host calls; it does not
    /// count against the guest's deadline.
    pub host_wait: Duration,
}

impl StoreState {
    /// Fresh state for one call.
    pub fn new(ctx: Arc<PluginContext>) -> anyhow::Result<Self> {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(output.clone()).stderr(output.clone());
        if ctx.capabilities.filesystem
            && let Some(folder) = &ctx.folder
        {
            wasi.preopened_dir(folder, "/", FsPerms::ReadOnly)?;
        }
        // A component made by wit-component holds a handful of core
        // instances, tables and one or two memories; these caps stop a
        // component that tries to create many more.
        let limits = StoreLimitsBuilder::new()
            .memory_size(ctx.limits.memory_bytes)
            .instances(MAX_INSTANCES)
            .tables(MAX_TABLES)
            .memories(MAX_MEMORIES)
            .table_elements(MAX_TABLE_ELEMENTS)
            .trap_on_grow_failure(true)
            .build();
        Ok(Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits,
            ctx,
            output,
            started: Instant::now(),
            host_wait: Duration::ZERO,
        })
    }

    /// Guest time used so far.
    pub fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_wait)
    }

    /// Runs a host call, keeping its time off the guest's deadline.
    pub async fn waiting_for<F: Future>(&mut self, future: F) -> F::Output {
        let start = Instant::now();
        let output = future.await;
        self.host_wait += start.elapsed();
        output
    }

    /// Runs a call into the server; its failures trap the plugin call.
    pub async fn waiting<T>(&mut self, future: impl Future<Output = anyhow::Result<T>>) -> wasmtime::Result<T> {
        self.waiting_for(future).await.map_err(wasmtime::Error::from_anyhow)
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
