//! The Matrix rules, between the HTTP handlers and storage.
//!
//! [`Services`] is the server's shared state: config, storage handle and the
//! in-memory parts (token cache, rate limiters, device activity). Each
//! submodule owns one concern and exposes plain async functions or methods;
//! none of them knows about HTTP.

pub mod account_data;
pub mod activity;
pub mod devices;
pub mod discovery;
pub mod ephemeral;
pub mod filter;
pub mod login;
pub mod login_tokens;
pub mod passwords;
pub mod plugins;
pub mod profile;
pub mod push;
pub mod ratelimit;
pub mod registration;
pub mod registration_tokens;
pub mod rooms;
pub mod shared_secret;
pub mod sso;
pub mod sync;
pub mod tokens;
pub mod uia;
pub mod unread;
pub mod user_rooms;
pub mod users;

use std::sync::Arc;

use anyhow::Context as _;

use tokio_util::task::TaskTracker;
use trellis_storage::Storage;

use crate::config::Config;
use crate::metrics::Metrics;
use ratelimit::RateLimiter;

/// Serialises read-modify-write updates of one user's data (tags, push
/// rules, profile size checks), which would otherwise lose one of two
/// concurrent changes. Striped: users hash onto a fixed set of locks.
#[derive(Debug)]
pub struct UserLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for UserLocks {
    fn default() -> Self {
        Self { stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect() }
    }
}

impl UserLocks {
    /// Holds the lock for `user_id` until the guard is dropped.
    pub async fn lock(&self, user_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        user_id.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % 64).unwrap_or(0);
        self.stripes[index].lock().await
    }
}

/// The rate limiters the config defines.
#[derive(Debug)]
pub struct RateLimiters {
    /// `rc_login.address`.
    pub login_address: RateLimiter,
    /// `rc_login.account`.
    pub login_account: RateLimiter,
    /// `rc_login.failed_attempts`.
    pub login_failed: RateLimiter,
    /// `rc_registration`.
    pub registration: RateLimiter,
}

/// Shared server state, behind an `Arc`.
#[derive(Debug)]
pub struct Services {
    /// The loaded config.
    pub config: Config,
    /// The database.
    pub storage: Storage,
    /// Token minting and the token cache.
    pub tokens: tokens::Tokens,
    /// Password hashing.
    pub passwords: passwords::Passwords,
    /// Rate limiters.
    pub ratelimits: RateLimiters,
    /// Last-seen tracking for devices.
    pub activity: activity::DeviceActivity,
    /// Outstanding shared-secret registration nonces.
    pub nonces: shared_secret::Nonces,
    /// Shared registration secret, if configured.
    pub shared_secret: Option<String>,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Writes handed off so they finish even if the client goes away;
    /// shutdown waits for them.
    pub writes: TaskTracker,
    /// Room locks, cached room state and the sync notifier.
    pub rooms: rooms::Rooms,
    /// Typing notifications.
    pub typing: ephemeral::Typing,
    /// Cached push rulesets.
    pub push_rules: push::PushRuleCache,
    /// Per-user locks for read-modify-write updates.
    pub user_locks: UserLocks,
    /// Loaded plugins and the hooks into them.
    pub plugins: Arc<trellis_plugin::PluginManager>,
    /// The server side of the plugin host interfaces.
    pub plugin_host: Arc<plugins::ServerHost>,
    /// The config file, for plugin reloads.
    pub config_source: plugins::ConfigSource,
    /// Single sign-on sign-ins waiting for a new user to pick a name.
    pub sso_pending: sso::pending::PendingSignIns,
    /// The single sign-on pages.
    pub sso_templates: sso::templates::Templates,
    /// Unread counts remembered between syncs.
    pub unread: unread::UnreadCache,
    /// Users' room memberships remembered between syncs.
    pub user_rooms: user_rooms::UserRooms,
}

impl Services {
    /// Builds the state around an open database.
    pub fn new(
        config: Config,
        storage: Storage,
        shared_secret: Option<String>,
        rooms: rooms::Rooms,
    ) -> anyhow::Result<Arc<Self>> {
        let ratelimits = RateLimiters {
            login_address: RateLimiter::new(config.rc_login.address),
            login_account: RateLimiter::new(config.rc_login.account),
            login_failed: RateLimiter::new(config.rc_login.failed_attempts),
            registration: RateLimiter::new(config.rc_registration),
        };
        let sso_templates = sso::templates::Templates::load(config.sso.custom_template_directory.as_deref())
            .context("config key `sso.custom_template_directory`")?;
        let plugin_host = Arc::new(plugins::ServerHost::default());
        let plugin_manager =
            trellis_plugin::PluginManager::new(plugins::runtime_options(&config), plugin_host.clone())?;
        let services = Arc::new(Self {
            config,
            storage,
            tokens: tokens::Tokens::default(),
            passwords: passwords::Passwords::default(),
            ratelimits,
            activity: activity::DeviceActivity::default(),
            nonces: shared_secret::Nonces::default(),
            shared_secret,
            metrics: Metrics::default(),
            writes: TaskTracker::new(),
            rooms,
            typing: ephemeral::Typing::default(),
            push_rules: push::PushRuleCache::default(),
            user_locks: UserLocks::default(),
            plugins: plugin_manager,
            plugin_host,
            config_source: plugins::ConfigSource::default(),
            sso_pending: sso::pending::PendingSignIns::default(),
            sso_templates,
            unread: unread::UnreadCache::default(),
            user_rooms: user_rooms::UserRooms::default(),
        });
        services.plugin_host.bind(&services);
        Ok(services)
    }

    /// The server name.
    pub fn server_name(&self) -> &str {
        &self.config.server_name
    }

    /// Runs a write to completion on its own task, so that a client hanging
    /// up cannot cancel it half-way (the caller may still be dropped; the
    /// write is not). Shutdown waits for these tasks.
    pub async fn finish_write<T, F>(self: &Arc<Self>, write: F) -> crate::error::Result<T>
    where
        F: Future<Output = crate::error::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.writes
            .spawn(write)
            .await
            .map_err(|err| crate::error::Error::internal(format!("write task failed: {err}")))?
    }
}
