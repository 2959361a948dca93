//! The set of loaded plugins, in config order, and loading or reloading it.
//!
//! The set is swapped as a whole: a reload builds the new set beside the old
//! one and replaces it only if every plugin loaded, so calls in flight finish
//! on the instances they started with and a bad reload changes nothing.

use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::cache;
use crate::engine::{self, RuntimeOptions};
use crate::host_api::PluginHost;
use crate::loaded::{Callback, LoadedPlugin};
use crate::spec::{PluginKind, PluginSource, PluginSpec};
use crate::state::{PluginContext, StoreState};
use crate::stats::PluginSnapshot;

/// What a (re)load did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// Names of the plugins now loaded, in order.
    pub loaded: Vec<String>,
    /// How many came from the compiled-component cache.
    pub from_cache: usize,
}

/// The engine and linker, made on the first load that has plugins: a
/// server without plugins never reserves the instance pool.
struct Runtime {
    engine: Engine,
    linker: Linker<StoreState>,
}

/// Loaded plugins and the engine they run on.
pub struct PluginManager {
    runtime: std::sync::Mutex<Option<Arc<Runtime>>>,
    options: RuntimeOptions,
    host: Arc<dyn PluginHost>,
    http: reqwest::Client,
    current: RwLock<Arc<Vec<Arc<LoadedPlugin>>>>,
    pub(crate) timers_changed: Arc<Notify>,
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManager")
            .field("plugins", &self.current().iter().map(|p| p.name().to_owned()).collect::<Vec<_>>())
            .finish()
    }
}

impl PluginManager {
    /// An engine with no plugins loaded yet.
    pub fn new(options: RuntimeOptions, host: Arc<dyn PluginHost>) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Arc::new(Self {
            runtime: std::sync::Mutex::new(None),
            options,
            host,
            http,
            current: RwLock::new(Arc::new(Vec::new())),
            timers_changed: Arc::new(Notify::new()),
        }))
    }

    /// The plugins loaded right now, in config order.
    pub(crate) fn current(&self) -> Arc<Vec<Arc<LoadedPlugin>>> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Whether no plugin is loaded: hooks cost nothing then.
    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    /// What the admin API shows about each plugin.
    pub fn snapshot(&self) -> Vec<PluginSnapshot> {
        self.current().iter().map(|plugin| plugin.snapshot()).collect()
    }

    /// Loads `specs` and, if all of them load, makes them the current set.
    /// On error the previous set stays in place.
    pub async fn load_all(&self, specs: Vec<PluginSpec>) -> anyhow::Result<LoadReport> {
        let mut loaded = Vec::with_capacity(specs.len());
        let runtime = if specs.is_empty() { None } else { Some(self.runtime()?) };
        for spec in specs {
            let Some(runtime) = &runtime else { break };
            let name = spec.name.clone();
            let source = spec.source.describe();
            let plugin = self
                .load_one(runtime, spec)
                .await
                .map_err(|error| anyhow::anyhow!("plugin `{name}` ({source}) was not loaded: {error}"))?;
            loaded.push(Arc::new(plugin));
        }
        let report = LoadReport {
            loaded: loaded.iter().map(|plugin| plugin.name().to_owned()).collect(),
            from_cache: loaded.iter().filter(|plugin| plugin.from_cache).count(),
        };
        for plugin in &loaded {
            tracing::info!(
                plugin = %plugin.ctx.label(),
                wit = plugin.wit_version,
                cached = plugin.from_cache,
                exports = ?plugin.snapshot().exports,
                "plugin loaded"
            );
        }
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(loaded);
        self.timers_changed.notify_one();
        Ok(report)
    }

    fn runtime(&self) -> anyhow::Result<Arc<Runtime>> {
        let mut runtime = self.runtime.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = runtime.as_ref() {
            return Ok(existing.clone());
        }
        let engine = engine::build(&self.options)?;
        let linker = crate::imports::linker(&engine)?;
        let made = Arc::new(Runtime { engine, linker });
        *runtime = Some(made.clone());
        Ok(made)
    }

    async fn load_one(&self, runtime: &Runtime, spec: PluginSpec) -> Result<LoadedPlugin, String> {
        if spec.limits.memory_bytes > self.options.max_memory_bytes {
            return Err(format!(
                "its memory limit ({} bytes) is above the runtime's maximum ({} bytes)",
                spec.limits.memory_bytes, self.options.max_memory_bytes
            ));
        }
        let bytes: Arc<[u8]> = match &spec.source {
            PluginSource::File(path) => tokio::fs::read(path).await.map_err(|e| format!("cannot read it: {e}"))?.into(),
            PluginSource::Embedded { bytes, .. } => Arc::from(*bytes),
        };
        let engine = runtime.engine.clone();
        let cache_dir = self.options.cache_dir.clone();
        let (component, from_cache) =
            tokio::task::spawn_blocking(move || cache::load_or_compile(&engine, cache_dir.as_deref(), &bytes))
                .await
                .map_err(|e| format!("compilation stopped: {e}"))?
                .map_err(|e| format!("not a valid component: {e:#}"))?;
        let ctx = Arc::new(PluginContext {
            name: spec.name.clone(),
            version: Default::default(),
            config_json: spec.config.to_string(),
            capabilities: spec.capabilities.clone(),
            limits: spec.limits.clone(),
            host: self.host.clone(),
            http: self.http.clone(),
            timers_changed: self.timers_changed.clone(),
            folder: spec.folder.clone(),
        });
        let plugin = LoadedPlugin::prepare(&runtime.engine, &runtime.linker, &component, from_cache, ctx, spec)?;
        if plugin.roles.lifecycle.is_none() {
            return Err("it does not export `lifecycle`; build it with trellis-sdk or export that interface".into());
        }
        let version =
            crate::hooks::lifecycle_version(&plugin).await.map_err(|fault| format!("`version` failed: {fault}"))?;
        let _ = plugin.ctx.version.set(version);
        crate::hooks::lifecycle_on_load(&plugin).await?;
        // Known before the first request, so that a provider's callback
        // paths are served even if no login page was shown since start.
        crate::hooks::sso_identity_providers(&plugin).await;
        Ok(plugin)
    }

    /// The plugin serving `path`, and the path relative to its mount point.
    /// Modules are mounted at `/_trellis/plugins/<name>`; MSC features at
    /// their own prefixes.
    pub fn route(&self, path: &str) -> Option<(Arc<LoadedPlugin>, String)> {
        let plugins = self.current();
        for plugin in plugins.iter().filter(|plugin| plugin.roles.http_routes.is_some()) {
            let prefixes: Vec<String> = match &plugin.spec.kind {
                PluginKind::Module => vec![format!("/_trellis/plugins/{}", plugin.name())],
                PluginKind::MscFeature { route_prefixes, .. } | PluginKind::SsoProvider { route_prefixes } => {
                    route_prefixes.clone()
                }
            };
            for prefix in prefixes {
                if let Some(rest) = path.strip_prefix(prefix.as_str())
                    && (rest.is_empty() || rest.starts_with('/'))
                {
                    let relative = if rest.is_empty() { "/".to_owned() } else { rest.to_owned() };
                    return Some((plugin.clone(), relative));
                }
            }
        }
        None
    }

    /// The plugin that claims a parameter of this query string, if any.
    pub fn claiming(&self, query: &str) -> Option<Arc<LoadedPlugin>> {
        let plugins = self.current();
        let claimed = |plugin: &LoadedPlugin| match &plugin.spec.kind {
            PluginKind::MscFeature { claimed_query_params, .. } => claimed_query_params
                .iter()
                .any(|param| query.split('&').any(|pair| pair.split('=').next() == Some(param.as_str()))),
            PluginKind::Module | PluginKind::SsoProvider { .. } => false,
        };
        plugins.iter().find(|plugin| plugin.roles.http_routes.is_some() && claimed(plugin)).cloned()
    }

    /// The loaded plugin with this name.
    pub fn by_name(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.current().iter().find(|plugin| plugin.name() == name).cloned()
    }

    /// Whether any loaded plugin may implement `callback`.
    pub(crate) fn any_implements(&self, callback: Callback, has_role: impl Fn(&LoadedPlugin) -> bool) -> bool {
        self.current().iter().any(|plugin| has_role(plugin) && !plugin.skips(callback) && !plugin.is_disabled())
    }

    /// The server side, for the timer scheduler.
    pub(crate) fn host(&self) -> &Arc<dyn PluginHost> {
        &self.host
    }
}
