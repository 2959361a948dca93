//! `homeserver.yaml`: the config types, loading, environment overrides and
//! validation.
//!
//! Keys follow Synapse wherever the feature is the same, so an admin can
//! carry the relevant parts of a Synapse config over. Loading goes YAML ->
//! JSON value -> typed config, recording two things on the way: the path of
//! the key that failed to parse (so the error names it), and every key this
//! version of Trellis does not know (logged once as ignored, never fatal, as
//! a Synapse config is full of them).

mod database;
mod duration;
pub mod example;
mod listeners;
mod plugins;
mod ratelimit;
mod sessions;
mod sso;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

pub use database::{DatabaseConfig, DatabaseEngine};
pub use duration::DurationMs;
pub use listeners::{FOREIGN_RESOURCES, ListenerConfig, ListenerType, ResourceConfig};
pub use plugins::{ExperimentalFeatures, ModuleConfig, ModuleLimits, PluginRuntimeConfig};
pub use ratelimit::{RateLimitConfig, RcLoginConfig};
pub use sessions::LoginViaExistingSession;
pub use sso::{ProviderSection, SsoConfig, url_authority};

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// The domain part of every user id on this server. Cannot change later.
    pub server_name: String,
    /// The URL clients reach this server at; used for `.well-known`.
    #[serde(default)]
    pub public_baseurl: Option<String>,
    /// Where to listen and what to serve there.
    #[serde(default = "listeners::default_listeners")]
    pub listeners: Vec<ListenerConfig>,
    /// Database engine and connection.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Secret for Synapse-compatible shared-secret registration.
    #[serde(default)]
    pub registration_shared_secret: Option<String>,
    /// File holding the shared secret instead of the config.
    #[serde(default)]
    pub registration_shared_secret_path: Option<PathBuf>,
    /// Whether anyone may register through the client API.
    #[serde(default)]
    pub enable_registration: bool,
    /// Allow open registration with no verification step at all.
    #[serde(default)]
    pub enable_registration_without_verification: bool,
    /// Require a registration token (`m.login.registration_token`).
    #[serde(default)]
    pub registration_requires_token: bool,
    /// Allow guest accounts (`/register?kind=guest`).
    #[serde(default)]
    pub allow_guest_access: bool,
    /// The server's ed25519 signing key file (Synapse format).
    #[serde(default)]
    pub signing_key_path: Option<PathBuf>,
    /// Where uploaded media will be kept.
    #[serde(default)]
    pub media_store_path: Option<PathBuf>,
    /// Secret used to derive tokens that must survive restarts.
    #[serde(default)]
    pub macaroon_secret_key: Option<String>,
    /// Secret used to sign HTML forms (SSO pages).
    #[serde(default)]
    pub form_secret: Option<String>,
    /// Rate limits on `/login`.
    #[serde(default)]
    pub rc_login: RcLoginConfig,
    /// Rate limit on `/register`, per client address.
    #[serde(default = "ratelimit::registration_default")]
    pub rc_registration: RateLimitConfig,
    /// Lifetime of access tokens issued together with a refresh token.
    #[serde(default = "default_refreshable_lifetime")]
    pub refreshable_access_token_lifetime: DurationMs,
    /// Password settings.
    #[serde(default)]
    pub password_config: PasswordConfig,
    /// `POST /login/get_token` (spec v1.7), off by default as in Synapse.
    #[serde(default)]
    pub login_via_existing_session: LoginViaExistingSession,
    /// A Synapse logging config; only its root level is read.
    #[serde(default)]
    pub log_config: Option<PathBuf>,
    /// Trellis: a tracing filter such as `info` or `trellis=debug,sqlx=warn`.
    #[serde(default)]
    pub log_level: Option<String>,
    /// Trellis: largest request body accepted, in bytes.
    #[serde(default = "default_max_request_body_size")]
    pub max_request_body_size: usize,
    /// Extra keys merged into `/.well-known/matrix/client`.
    #[serde(default)]
    pub extra_well_known_client_content: serde_json::Map<String, serde_json::Value>,
    /// WebAssembly modules, in the order their callbacks are asked.
    #[serde(default)]
    pub modules: Vec<ModuleConfig>,
    /// Flags for unstable features (Synapse's names).
    #[serde(default)]
    pub experimental_features: ExperimentalFeatures,
    /// Trellis: settings of the plugin runtime.
    #[serde(default)]
    pub plugin_runtime: PluginRuntimeConfig,
    /// The longest delay of a delayed event (MSC4140); no delayed events
    /// may be longer.
    #[serde(default)]
    pub max_event_delay_duration: Option<DurationMs>,
    /// Single sign-on settings shared by every provider.
    #[serde(default)]
    pub sso: SsoConfig,
    /// CAS single sign-on (Synapse's section), served by the `cas` plugin.
    #[serde(default)]
    pub cas_config: ProviderSection,
    /// SAML 2.0 single sign-on (Synapse's section), served by the `saml` plugin.
    #[serde(default)]
    pub saml2_config: ProviderSection,
}

/// `password_config`.
#[derive(Debug, Clone, Deserialize)]
pub struct PasswordConfig {
    /// Whether password login and password changes are allowed at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Password rules applied on registration and password change.
    #[serde(default)]
    pub policy: PasswordPolicy,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self { enabled: true, policy: PasswordPolicy::default() }
    }
}

/// `password_config.policy`, as Synapse has it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PasswordPolicy {
    /// Whether the policy applies.
    #[serde(default)]
    pub enabled: bool,
    /// Shortest password accepted.
    #[serde(default)]
    pub minimum_length: usize,
    /// Needs a digit.
    #[serde(default)]
    pub require_digit: bool,
    /// Needs a symbol.
    #[serde(default)]
    pub require_symbol: bool,
    /// Needs a lower-case letter.
    #[serde(default)]
    pub require_lowercase: bool,
    /// Needs an upper-case letter.
    #[serde(default)]
    pub require_uppercase: bool,
}

fn yes() -> bool {
    true
}

fn default_refreshable_lifetime() -> DurationMs {
    DurationMs(5 * 60 * 1000)
}

fn default_max_request_body_size() -> usize {
    2 * 1024 * 1024
}

/// A loaded config plus what loading noticed.
#[derive(Debug)]
pub struct Loaded {
    /// The config itself.
    pub config: Config,
    /// Keys in the file that Trellis does not implement.
    pub ignored_keys: Vec<String>,
}

/// Reads, overrides from the environment, and validates a config file.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut loaded = parse(&text).with_context(|| format!("in config file {}", path.display()))?;
    loaded.config.apply_env(|name| std::env::var(name).ok())?;
    loaded.config.resolve_relative_paths(base_dir);
    loaded.config.validate()?;
    Ok(loaded)
}

/// Parses YAML text into a config without validating it.
pub fn parse(text: &str) -> anyhow::Result<Loaded> {
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("not valid YAML: {e}"))?;
    if !value.is_object() {
        bail!("the config must be a YAML mapping of keys to values");
    }
    let mut ignored_keys = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| ignored_keys.push(path.to_string());
    let ignoring = serde_ignored::Deserializer::new(value, &mut record);
    let config: Config = serde_path_to_error::deserialize(ignoring).map_err(|err| {
        let key = err.path().to_string();
        anyhow::anyhow!("config key `{key}`: {}", err.into_inner())
    })?;
    Ok(Loaded { config, ignored_keys })
}

impl Config {
    /// Applies `TRELLIS_*` environment overrides. `env` is injected so that
    /// tests need not touch the process environment.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(url) = env("TRELLIS_DATABASE_URL").filter(|v| !v.is_empty()) {
            self.database = DatabaseConfig::from_url(&url).context("TRELLIS_DATABASE_URL")?;
        }
        if let Some(level) = env("TRELLIS_LOG_LEVEL").filter(|v| !v.is_empty()) {
            self.log_level = Some(level);
        }
        Ok(())
    }

    fn resolve_relative_paths(&mut self, base: &Path) {
        // Relative paths are taken from the working directory, as Synapse
        // does. The one default that depends on the config's location is
        // the compiled-plugin cache, kept beside the config file.
        if self.plugin_runtime.cache_dir.is_none() {
            self.plugin_runtime.cache_dir = Some(base.join("plugin_cache"));
        }
    }

    /// Checks what types alone cannot, naming the offending key.
    pub fn validate(&self) -> anyhow::Result<()> {
        validate_server_name(&self.server_name).context("config key `server_name`")?;
        if let Some(url) = &self.public_baseurl
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("config key `public_baseurl`: must start with http:// or https://, got {url:?}");
        }
        if self.listeners.is_empty() {
            bail!("config key `listeners`: at least one listener is needed");
        }
        for (i, listener) in self.listeners.iter().enumerate() {
            listener.validate().with_context(|| format!("config key `listeners[{i}]`"))?;
        }
        self.database.validate().context("config key `database`")?;
        if self.enable_registration
            && !self.enable_registration_without_verification
            && !self.registration_requires_token
        {
            bail!(
                "config key `enable_registration`: open registration without any verification \
                 is dangerous; set `enable_registration_without_verification: true` to allow it \
                 anyway, or `registration_requires_token: true`"
            );
        }
        self.rc_login.address.validate().context("config key `rc_login.address`")?;
        self.rc_login.account.validate().context("config key `rc_login.account`")?;
        self.rc_login.failed_attempts.validate().context("config key `rc_login.failed_attempts`")?;
        self.rc_registration.validate().context("config key `rc_registration`")?;
        if self.refreshable_access_token_lifetime.0 == 0 {
            bail!("config key `refreshable_access_token_lifetime`: must be longer than zero");
        }
        for (key, section) in [("cas_config", &self.cas_config), ("saml2_config", &self.saml2_config)] {
            if section.enabled() && self.public_baseurl.is_none() {
                bail!(
                    "config key `{key}`: single sign-on needs `public_baseurl` (the provider sends users back there)"
                );
            }
        }
        if self.cas_config.enabled() {
            let server_url =
                self.cas_config.string("server_url").context("config key `cas_config.server_url` is required")?;
            url_authority(server_url).context("config key `cas_config.server_url`")?;
        }
        if self.max_request_body_size < 1024 {
            bail!("config key `max_request_body_size`: must be at least 1024 bytes");
        }
        self.validate_modules()?;
        let sessions = &self.login_via_existing_session;
        if sessions.enabled && !sessions.require_ui_auth {
            bail!(
                "config key `login_via_existing_session.require_ui_auth`: the spec requires \
                 re-authentication for every login token; it cannot be turned off"
            );
        }
        if sessions.token_timeout.0 == 0 {
            bail!("config key `login_via_existing_session.token_timeout`: must be longer than zero");
        }
        Ok(())
    }

    /// The shared registration secret, from the config or its file.
    pub fn shared_secret(&self) -> anyhow::Result<Option<String>> {
        if let Some(secret) = &self.registration_shared_secret {
            return Ok(Some(secret.clone()));
        }
        match &self.registration_shared_secret_path {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("config key `registration_shared_secret_path`: cannot read {}", path.display())
                })?;
                Ok(Some(text.trim().to_owned()))
            }
            None => Ok(None),
        }
    }

    /// The log filter: environment, then `log_level`, then `log_config`'s
    /// root level, then `info`.
    pub fn log_filter(&self) -> String {
        if let Some(level) = &self.log_level {
            return level.clone();
        }
        if let Some(level) = self.log_config.as_deref().and_then(synapse_log_root_level) {
            return level;
        }
        "info".to_owned()
    }
}

impl Config {
    /// Checks module names and limits.
    fn validate_modules(&self) -> anyhow::Result<()> {
        let runtime = &self.plugin_runtime;
        if runtime.pool_instances == 0 || runtime.pool_instances > 10_000 {
            bail!("config key `plugin_runtime.pool_instances`: must be between 1 and 10000");
        }
        if runtime.max_memory_mb == 0 || runtime.max_memory_mb > 4096 {
            bail!("config key `plugin_runtime.max_memory_mb`: must be between 1 and 4096");
        }
        let mut names = std::collections::HashSet::new();
        for (i, module) in self.modules.iter().enumerate() {
            let key = format!("modules[{i}]");
            let name = module.plugin_name();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                bail!("config key `{key}.name`: {name:?} must be letters, digits, `_` or `-`");
            }
            if name.len() > 3 && name.starts_with("msc") && name[3..].chars().all(|c| c.is_ascii_digit()) {
                bail!("config key `{key}.name`: {name:?} is reserved for the experimental feature of that MSC");
            }
            if ["cas", "saml"].contains(&name.as_str()) {
                bail!("config key `{key}.name`: {name:?} is reserved for the built-in single sign-on provider");
            }
            if !names.insert(name.clone()) {
                bail!("config key `{key}`: two modules are named {name:?}; give one a `name`");
            }
            let limits = &module.limits;
            if limits.call_deadline_ms == 0 || limits.call_deadline_ms > 60_000 {
                bail!("config key `{key}.limits.call_deadline_ms`: must be between 1 and 60000");
            }
            if limits.memory_mb == 0 || limits.memory_mb > runtime.max_memory_mb {
                bail!(
                    "config key `{key}.limits.memory_mb`: must be between 1 and plugin_runtime.max_memory_mb ({})",
                    runtime.max_memory_mb
                );
            }
            if limits.max_concurrency == 0 {
                bail!("config key `{key}.limits.max_concurrency`: must be at least 1");
            }
            if !module.config.is_object() {
                bail!("config key `{key}.config`: must be a mapping");
            }
        }
        Ok(())
    }
}

/// Reads `root.level` from a Synapse (Python logging) YAML config.
fn synapse_log_root_level(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    let level = value.get("root")?.get("level")?.as_str()?;
    Some(
        match level.to_ascii_uppercase().as_str() {
            "CRITICAL" | "ERROR" => "error",
            "WARNING" | "WARN" => "warn",
            "DEBUG" => "debug",
            _ => "info",
        }
        .to_owned(),
    )
}

/// A server name is a host (DNS name, IPv4, or bracketed IPv6) with an
/// optional port, as the spec's grammar says.
pub fn validate_server_name(name: &str) -> anyhow::Result<()> {
    let (host, port) = match name.rsplit_once(':') {
        Some((host, _)) if !host.ends_with(']') && host.contains(':') => (name, None),
        Some((host, port)) => (host, Some(port)),
        None => (name, None),
    };
    if let Some(port) = port {
        port.parse::<u16>().map_err(|_| anyhow::anyhow!("{name:?} has an invalid port {port:?}"))?;
    }
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty() && host.len() <= 255 && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if !host_ok {
        bail!("{name:?} is not a valid server name (a host name or IP address, optionally with :port)");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
