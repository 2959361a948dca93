//! The wasmtime engine shared by every plugin: component model, epoch
//! interruption and the pooling allocator, plus the thread that ticks epochs.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How long one epoch tick lasts; deadlines are counted in ticks.
pub const TICK: Duration = Duration::from_millis(1);

/// Engine-wide settings. Per-plugin limits live in `PluginLimits`.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where compiled components are kept between restarts; `None` compiles
    /// on every start.
    pub cache_dir: Option<PathBuf>,
    /// Instances that may be live at once across all plugins. The pool is
    /// reserved up front (virtual memory only).
    pub pool_instances: u32,
    /// The largest linear memory any plugin may be granted.
    pub max_memory_bytes: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self { cache_dir: None, pool_instances: 128, max_memory_bytes: 256 << 20 }
    }
}

/// Builds the engine and starts its epoch ticker. The ticker thread ends
/// by itself once the engine is dropped.
pub fn build(options: &RuntimeOptions) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Reserve only what the largest allowed memory needs (plus guard pages)
    // instead of wasmtime's default 4 GiB per slot: the pool holds hundreds
    // of slots, and explicit bounds checks cost little for plugin code.
    config.memory_reservation(u64::try_from(options.max_memory_bytes).unwrap_or(u64::MAX));

    let instances = options.pool_instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    // A component from wit-component holds a handful of core instances,
    // memories and tables (the program plus adapter shims).
    pool.total_component_instances(instances)
        .total_core_instances(instances * 8)
        .total_memories(instances * 2)
        .total_tables(instances * 8)
        .total_stacks(instances)
        .max_memory_size(options.max_memory_bytes);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new().name("plugin-epochs".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(TICK);
        }
    })?;
    Ok(engine)
}
