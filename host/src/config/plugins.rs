//! `modules:`, `experimental_features:` and `plugin_runtime:`: which plugins
//! to load, what they may do, and the runtime they share.

use std::path::PathBuf;

use serde::Deserialize;
use trellis_plugin::{Capabilities, FailurePolicy};

/// One `modules:` entry, as in Synapse plus capabilities and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleConfig {
    /// A `.wasm` path, or the name of a file in `plugin_runtime.plugins_directory`.
    pub module: String,
    /// Name in logs, metrics and routes; the file name without `.wasm` by default.
    #[serde(default)]
    pub name: Option<String>,
    /// Handed to the plugin as JSON.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// What the plugin may use; nothing but logging and its config by default.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// What a fault means for decision callbacks (`fail_closed` by default).
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Resource limits.
    #[serde(default)]
    pub limits: ModuleLimits,
}

impl ModuleConfig {
    /// The configured name, or the module's file name without `.wasm`.
    pub fn plugin_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let file = self.module.rsplit(['/', '\\']).next().unwrap_or(&self.module);
        file.strip_suffix(".wasm").unwrap_or(file).to_owned()
    }

    /// Where the component file is: the path as written if it has a folder
    /// or ends in `.wasm`, else `<plugins_directory>/<module>.wasm`.
    pub fn path(&self, plugins_directory: &std::path::Path) -> PathBuf {
        if self.module.contains(['/', '\\']) || self.module.ends_with(".wasm") {
            PathBuf::from(&self.module)
        } else {
            plugins_directory.join(format!("{}.wasm", self.module))
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// `modules[].limits`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModuleLimits {
    /// Guest time per call, in milliseconds.
    pub call_deadline_ms: u64,
    /// Linear memory per instance, in MiB.
    pub memory_mb: usize,
    /// Calls that may run at once.
    pub max_concurrency: usize,
    /// Faults within a minute that disable the plugin until reload (0: never).
    pub disable_after_faults: u32,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        let defaults = trellis_plugin::spec::PluginLimits::default();
        Self {
            call_deadline_ms: defaults.call_deadline_ms,
            memory_mb: defaults.memory_bytes >> 20,
            max_concurrency: defaults.max_concurrency,
            disable_after_faults: defaults.disable_after_faults,
        }
    }
}

impl ModuleLimits {
    /// As the runtime wants them.
    pub fn to_limits(&self) -> trellis_plugin::spec::PluginLimits {
        trellis_plugin::spec::PluginLimits {
            call_deadline_ms: self.call_deadline_ms,
            memory_bytes: self.memory_mb << 20,
            max_concurrency: self.max_concurrency,
            disable_after_faults: self.disable_after_faults,
        }
    }
}

/// `experimental_features:`, with Synapse's flag names. Synapse has many
/// more flags; those Trellis does not know are ignored with a log line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExperimentalFeatures {
    /// MSC4140: delayed events.
    #[serde(default)]
    pub msc4140_enabled: bool,
    /// MSC4155: invite filtering.
    #[serde(default)]
    pub msc4155_enabled: bool,
    /// MSC4293: redact a user's events on kick or ban.
    #[serde(default)]
    pub msc4293_enabled: bool,
}

/// `plugin_runtime:` (Trellis only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginRuntimeConfig {
    /// Where `modules[].module` names without a path are looked up.
    pub plugins_directory: PathBuf,
    /// Where compiled plugins are cached; `plugin_cache` next to the config
    /// file when not set. An empty string turns the cache off.
    pub cache_dir: Option<PathBuf>,
    /// Instances that may be live at once across all plugins.
    pub pool_instances: u32,
    /// The largest memory limit any module may be given, in MiB.
    pub max_memory_mb: usize,
}

impl Default for PluginRuntimeConfig {
    fn default() -> Self {
        Self { plugins_directory: PathBuf::from("plugins"), cache_dir: None, pool_instances: 128, max_memory_mb: 256 }
    }
}
