//! Starting and stopping the server: database, listeners, background
//! tasks, and a graceful shutdown that stops accepting, lets in-flight
//! requests and handed-off writes finish, flushes pending state and closes
//! the database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trellis_storage::Storage;

use crate::config::{Config, ListenerType};
use crate::router;
use crate::service::Services;

/// How often the SQLite write-ahead log is checkpointed.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// How often last-seen data is written to the database.
const ACTIVITY_FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// How often expired sessions and tokens are cleaned up.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(3600);
/// How long client transaction ids are remembered (as in Synapse).
const TXN_ID_LIFETIME_MS: i64 = 24 * 3600 * 1000;
/// Longest wait for in-flight requests at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A bound listener.
#[derive(Debug, Clone, Copy)]
pub struct BoundListener {
    /// Its kind.
    pub kind: ListenerType,
    /// Whether it serves the client API.
    pub client: bool,
    /// The address actually bound (port 0 resolved).
    pub address: SocketAddr,
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// What is listening where.
    pub listeners: Vec<BoundListener>,
    /// The shared state (tests use it to peek at internals).
    pub services: Arc<Services>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl RunningServer {
    /// The first listener that serves the client API.
    pub fn client_address(&self) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.client).map(|l| l.address)
    }

    /// The first listener that serves metrics.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.kind == ListenerType::Metrics).map(|l| l.address)
    }

    /// A handle that stops the server when cancelled (signal handlers use it).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Runs until stopped, then shuts down gracefully.
    pub async fn wait(mut self) {
        self.stop.cancelled().await;
        self.shutdown_inner().await;
    }

    /// Stops accepting, finishes in-flight work and closes the database.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        self.shutdown_inner().await;
    }

    async fn shutdown_inner(&mut self) {
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("in-flight requests did not finish in time; abandoning them");
            self.tasks.abort_all();
        }
        self.services.writes.close();
        self.services.writes.wait().await;
        if let Err(err) = self.services.activity.flush(&self.services.storage).await {
            tracing::warn!(%err, "could not save device activity at shutdown");
        }
        self.services.storage.close().await;
        tracing::info!("shutdown complete");
    }
}

/// Opens the database, binds every listener and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    start_with_source(config, None).await
}

/// Like [`start`], remembering the config file so that plugin reloads
/// (admin API, SIGHUP) can read it again.
pub async fn start_with_source(
    config: Config,
    config_path: Option<std::path::PathBuf>,
) -> anyhow::Result<RunningServer> {
    if let Some(path) = config.database.sqlite_path()
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let services = build_services(config).await?;
    if let Some(path) = config_path {
        services.config_source.set(path);
    }
    // A plugin that fails to load stops start-up: running without a spam
    // check the admin asked for would be worse than not running.
    services.load_plugins().await?;
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut listeners = Vec::new();
    for listener in &services.config.listeners {
        let app = router::build(&services, listener);
        for address in &listener.bind_addresses {
            let ip: std::net::IpAddr = address.parse().with_context(|| format!("bad bind address {address}"))?;
            let socket = match tokio::net::TcpListener::bind((ip, listener.port)).await {
                Ok(socket) => socket,
                // Synapse's default binds both `::` and `0.0.0.0`; on Linux
                // `::` already accepts IPv4, so the second bind fails. Skip it
                // as Synapse does.
                Err(err)
                    if err.kind() == std::io::ErrorKind::AddrInUse
                        && ip.is_unspecified()
                        && ip.is_ipv4()
                        && listener.bind_addresses.iter().any(|a| a == "::") =>
                {
                    tracing::info!(%address, "already listening on :: (which includes IPv4); skipping");
                    continue;
                }
                Err(err) => {
                    return Err(
                        anyhow::Error::new(err).context(format!("cannot listen on {address}:{}", listener.port))
                    );
                }
            };
            let bound = socket.local_addr()?;
            tracing::info!(address = %bound, kind = ?listener.kind, "listening");
            listeners.push(BoundListener {
                kind: listener.kind,
                client: listener.kind == ListenerType::Http && listener.serves("client"),
                address: bound,
            });
            let app = app.clone().into_make_service_with_connect_info::<SocketAddr>();
            let stop = stop.clone();
            tasks.spawn(async move {
                let served = axum::serve(socket, app).with_graceful_shutdown(stop.cancelled_owned()).await;
                if let Err(err) = served {
                    tracing::error!(%err, "listener failed");
                }
            });
        }
    }
    spawn_background(&services, &stop, &mut tasks);
    Ok(RunningServer { listeners, services, stop, tasks })
}

/// Opens the database and builds the shared state (also used by CLI
/// commands that work on the database directly).
pub async fn build_services(config: Config) -> anyhow::Result<Arc<Services>> {
    let key = match &config.signing_key_path {
        Some(path) => crate::signing_key::load_or_generate(path)?,
        None => {
            tracing::warn!("no signing_key_path configured: using a temporary signing key for this run");
            crate::signing_key::ephemeral()
        }
    };
    let key = trellis_events::ServerKey::from_seed(&key.seed, &key.key_id).map_err(anyhow::Error::msg)?;
    let shared_secret = config.shared_secret()?;
    let storage = Storage::open(&config.database.settings()).await.context("cannot open the database")?;
    let positions = crate::service::rooms::StartPositions {
        events: storage.max_stream_ordering().await?,
        account_data: storage.max_account_data_position().await?,
        receipts: storage.max_receipt_position().await?,
    };
    let rooms = crate::service::rooms::Rooms::new(key, positions);
    Services::new(config, storage, shared_secret, rooms)
}

/// Periodic work; the tasks end when `stop` is cancelled, and shutdown
/// waits for them before closing the database.
fn spawn_background(services: &Arc<Services>, stop: &CancellationToken, tasks: &mut JoinSet<()>) {
    let scheduler = services.plugins.spawn_scheduler(stop.clone());
    tasks.spawn(async move {
        if let Err(err) = scheduler.await {
            tracing::error!(%err, "plugin timer task failed");
        }
    });
    let flusher = services.clone();
    let stop_flush = stop.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(ACTIVITY_FLUSH_INTERVAL);
        loop {
            tokio::select! {
                () = stop_flush.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(err) = flusher.activity.flush(&flusher.storage).await {
                        tracing::warn!(%err, "could not save device activity");
                    }
                }
            }
        }
    });
    let checkpointer = services.clone();
    let stop_checkpoint = stop.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
        loop {
            tokio::select! {
                () = stop_checkpoint.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(err) = checkpointer.storage.checkpoint().await {
                        tracing::warn!(%err, "checkpoint failed");
                    }
                }
            }
        }
    });
    let keeper = services.clone();
    let stop_keep = stop.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        loop {
            tokio::select! {
                () = stop_keep.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(err) = keeper.prune_uia_sessions().await {
                        tracing::warn!(?err, "could not prune UIA sessions");
                    }
                    if let Err(err) = keeper.prune_expired_tokens().await {
                        tracing::warn!(?err, "could not prune expired tokens");
                    }
                    if let Err(err) = keeper.storage.prune_login_tokens(trellis_storage::now_ms()).await {
                        tracing::warn!(%err, "could not prune expired login tokens");
                    }
                    let txn_cutoff = trellis_storage::now_ms().saturating_sub(TXN_ID_LIFETIME_MS);
                    if let Err(err) = keeper.storage.prune_txn_ids(txn_cutoff).await {
                        tracing::warn!(%err, "could not prune old transaction ids");
                    }
                }
            }
        }
    });
}
