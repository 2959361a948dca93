//! The plugin platform as the server sees it: which plugins to load (from
//! `modules:` and `experimental_features:`), loading and reloading them, and
//! the server side of the host interfaces (`host`).
//!
//! The hooks themselves are called from the services they belong to (room
//! writes, membership, registration, login, …) through `Services::plugins`.

mod checks;
pub mod events;
pub mod features;
mod host;
mod sso_providers;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use trellis_plugin::{LoadReport, PluginKind, PluginSource, PluginSpec, RuntimeOptions};

pub use host::ServerHost;

use crate::config::Config;
use crate::service::Services;

/// The runtime options the config asks for.
pub fn runtime_options(config: &Config) -> RuntimeOptions {
    let runtime = &config.plugin_runtime;
    RuntimeOptions {
        cache_dir: runtime.cache_dir.clone().filter(|dir| !dir.as_os_str().is_empty()),
        pool_instances: runtime.pool_instances,
        max_memory_bytes: runtime.max_memory_mb << 20,
    }
}

/// What to load for a config: the modules in order, then enabled features,
/// then single sign-on providers.
pub fn specs(config: &Config) -> anyhow::Result<Vec<PluginSpec>> {
    let mut specs = Vec::new();
    for module in &config.modules {
        let path = module.path(&config.plugin_runtime.plugins_directory);
        specs.push(PluginSpec {
            name: module.plugin_name(),
            folder: path.parent().map(PathBuf::from),
            source: PluginSource::File(path),
            config: Arc::new(module.config.clone()),
            capabilities: module.capabilities.clone(),
            failure_policy: module.failure_policy,
            limits: module.limits.to_limits(),
            kind: PluginKind::Module,
        });
    }
    for feature in features::FEATURES.iter().filter(|feature| feature.enabled(config)) {
        specs.push(PluginSpec {
            name: feature.name.to_owned(),
            source: PluginSource::Embedded { label: feature.name.to_owned(), bytes: feature.component },
            config: Arc::new(feature.plugin_config(config)),
            capabilities: trellis_plugin::Capabilities::first_party(),
            failure_policy: trellis_plugin::FailurePolicy::FailClosed,
            limits: trellis_plugin::spec::PluginLimits { call_deadline_ms: 200, ..Default::default() },
            kind: PluginKind::MscFeature {
                route_prefixes: feature.route_prefixes.iter().map(|p| (*p).to_owned()).collect(),
                claimed_query_params: feature.claimed_query_params.iter().map(|p| (*p).to_owned()).collect(),
            },
            folder: None,
        });
    }
    specs.extend(sso_providers::specs(config)?);
    Ok(specs)
}

/// Where the running config came from, for reloads.
#[derive(Debug, Default)]
pub struct ConfigSource(OnceLock<PathBuf>);

impl ConfigSource {
    /// Remembers the config file (once, at start-up).
    pub fn set(&self, path: PathBuf) {
        let _ = self.0.set(path);
    }
}

impl Services {
    /// Loads the plugins of the running config; an error stops start-up.
    pub async fn load_plugins(&self) -> anyhow::Result<LoadReport> {
        let report = self.plugins.load_all(specs(&self.config)?).await?;
        if !report.loaded.is_empty() {
            tracing::info!(plugins = ?report.loaded, from_cache = report.from_cache, "plugins ready");
        }
        Ok(report)
    }

    /// Re-reads the config file's `modules:`, `experimental_features:`,
    /// `cas_config:` and `saml2_config:` (other keys need a restart) and reloads every plugin. On error the
    /// plugins loaded before stay in place.
    pub async fn reload_plugins(&self) -> anyhow::Result<LoadReport> {
        let specs = match self.config_source.0.get() {
            Some(path) => {
                let loaded = crate::config::load(path).context("reloading the config")?;
                specs(&loaded.config)?
            }
            None => specs(&self.config)?,
        };
        let report = self.plugins.load_all(specs).await?;
        tracing::info!(plugins = ?report.loaded, "plugins reloaded");
        Ok(report)
    }

    /// The unstable features of loaded MSC plugins, for `/versions`.
    pub fn plugin_unstable_features(&self) -> Vec<&'static str> {
        features::FEATURES
            .iter()
            .filter(|feature| self.plugins.by_name(feature.name).is_some())
            .map(|feature| feature.unstable_feature)
            .collect()
    }
}
