//! What the server asks the runtime to load: one entry per configured module
//! or enabled experimental feature.

use std::path::PathBuf;
use std::sync::Arc;

use crate::capabilities::Capabilities;
use crate::fault::FailurePolicy;

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// A `.wasm` file named in the config.
    File(PathBuf),
    /// A first-party plugin built into the server binary.
    Embedded {
        /// Stands in for the path in messages and cache keys.
        label: String,
        /// The component's bytes.
        bytes: &'static [u8],
    },
}

/// The kind of plugin decides where its routes are mounted and which world's
/// imports it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginKind {
    /// A `modules:` entry; routes under `/_trellis/plugins/<name>/`.
    Module,
    /// An `experimental_features` flag; routes under the MSC's own prefixes.
    MscFeature {
        /// The prefixes (e.g. `/_matrix/client/unstable/org.matrix.msc4140`)
        /// whose requests go to the plugin.
        route_prefixes: Vec<String>,
        /// Query parameters that route any request carrying them to the
        /// plugin first (e.g. `org.matrix.msc4140.delay` on `/send`); the
        /// plugin answers `none` to let the server handle it as usual.
        claimed_query_params: Vec<String>,
    },
    /// A first-party single sign-on provider switched on by its config
    /// section (`cas_config`, `saml2_config`).
    SsoProvider {
        /// Prefixes of the plugin's own routes (e.g. SAML metadata).
        route_prefixes: Vec<String>,
    },
}

/// Per-plugin limits. The defaults are safe for untrusted code.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginLimits {
    /// Guest time one call may use before it is stopped.
    pub call_deadline_ms: u64,
    /// Linear memory per instance.
    pub memory_bytes: usize,
    /// Calls that may run at once; further calls wait for a slot.
    pub max_concurrency: usize,
    /// Faults within a minute after which the plugin is disabled until
    /// reload; 0 never disables it.
    pub disable_after_faults: u32,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self { call_deadline_ms: 50, memory_bytes: 32 << 20, max_concurrency: 16, disable_after_faults: 20 }
    }
}

/// One plugin to load.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// Unique name: used in logs, metrics, kv namespaces and route prefixes.
    pub name: String,
    /// Where the component is.
    pub source: PluginSource,
    /// The plugin's `config:` section as JSON.
    pub config: Arc<serde_json::Value>,
    /// What the plugin may import.
    pub capabilities: Capabilities,
    /// What a fault means for decision callbacks.
    pub failure_policy: FailurePolicy,
    /// Resource limits.
    pub limits: PluginLimits,
    /// Module or MSC feature.
    pub kind: PluginKind,
    /// The folder a filesystem grant opens (the plugin file's own folder).
    pub folder: Option<PathBuf>,
}

impl PluginSource {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            PluginSource::File(path) => path.display().to_string(),
            PluginSource::Embedded { label, .. } => format!("built-in {label}"),
        }
    }
}
