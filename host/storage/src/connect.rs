//! Opening the database: pools, per-connection settings and migrations.
//!
//! SQLite allows one writer at a time. Rather than let several pooled
//! connections fight over the write lock (and answer `SQLITE_BUSY`), writes
//! go through exactly one connection ([`crate::writer`]) while reads use a
//! pool; WAL mode lets the readers run beside the writer. PostgreSQL handles
//! concurrency itself, so writes and reads share one pool there.

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Executor};

use crate::writer::Writer;
use crate::{StorageResult, migrate};

/// Which database engine a [`Storage`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded, one file.
    Sqlite,
    /// PostgreSQL over the network.
    Postgres,
}

/// How to reach the database; built by the host from its config.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Which engine.
    pub backend: Backend,
    /// A sqlx connection URL (`sqlite://…?mode=rwc` or `postgres://…`).
    pub url: String,
    /// Most connections to hold open (PostgreSQL; SQLite readers).
    pub max_connections: u32,
    /// SQLite `synchronous` pragma (`NORMAL` or `FULL`). With WAL, NORMAL
    /// never loses a committed transaction when the process dies, only on
    /// an operating-system crash or power loss.
    pub sqlite_synchronous: String,
}

/// Numbers about the connection pools, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// Connections open in the pool.
    pub size: u32,
    /// Of those, how many are idle.
    pub idle: u32,
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Storage {
    backend: Backend,
    /// Resolved state groups (immutable, so never invalidated).
    pub(crate) state_cache: std::sync::Arc<crate::state::StateGroupCache>,
    /// Where statements that write go.
    pub(crate) write: Writer,
    /// Pool used for read-only statements.
    pub(crate) read: AnyPool,
}

impl Storage {
    /// Connects, applies per-connection settings and brings the schema up to
    /// date (refusing a database written by a newer, incompatible Trellis).
    pub async fn open(settings: &DatabaseSettings) -> StorageResult<Self> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = settings.url.parse()?;
        let storage = match settings.backend {
            Backend::Sqlite => {
                let synchronous = match settings.sqlite_synchronous.to_ascii_uppercase().as_str() {
                    "FULL" => "FULL",
                    "EXTRA" => "EXTRA",
                    _ => "NORMAL",
                };
                // Migrations run before any reader exists, so the readers
                // never see a half-migrated schema.
                let migrating = sqlite_pool(options.clone(), 1, synchronous).await?;
                migrate::run(&migrating, Backend::Sqlite).await?;
                migrating.close().await;
                let mut conn: AnyConnection = options.connect().await?;
                conn.execute(sqlx::AssertSqlSafe(sqlite_pragmas(synchronous))).await?;
                let write = Writer::sqlite(conn).await?;
                let read = sqlite_pool(options, settings.max_connections.max(1), synchronous).await?;
                Self { backend: Backend::Sqlite, write, read, state_cache: Default::default() }
            }
            Backend::Postgres => {
                // No ping before a connection is handed out (a network round
                // trip per statement): a connection that broke while idle
                // (the server restarted) fails its next statement instead,
                // and sqlx then drops it from the pool, as Synapse's
                // connection pool does.
                let pool = AnyPoolOptions::new()
                    .max_connections(settings.max_connections.max(2))
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                migrate::run(&pool, Backend::Postgres).await?;
                let write = Writer::Pool(pool.clone());
                Self { backend: Backend::Postgres, write, read: pool, state_cache: Default::default() }
            }
        };
        Ok(storage)
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for checked-out connections to come back, then closes them.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Copies the SQLite write-ahead log back into the database without
    /// waiting for readers or writers (a no-op on PostgreSQL).
    pub async fn checkpoint(&self) -> StorageResult<()> {
        if self.backend == Backend::Sqlite {
            let mut conn = self.read.acquire().await?;
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await?;
        }
        Ok(())
    }

    /// Pool sizes for the metrics endpoint: (writer, reader).
    pub fn pool_stats(&self) -> (PoolStats, PoolStats) {
        let stats =
            |pool: &AnyPool| PoolStats { size: pool.size(), idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX) };
        (self.write.stats(), stats(&self.read))
    }
}

/// Settings every SQLite connection gets. temp_store: statement journals
/// of multi-row writes stay in memory. wal_autocheckpoint: checkpoints run
/// from a background task (Storage::checkpoint) instead of inside
/// whichever request's commit crosses the threshold; the high limit is
/// only a safety net should that task stop.
fn sqlite_pragmas(synchronous: &str) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 10000; PRAGMA synchronous = {synchronous}; \
         PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 20000;"
    )
}

/// A pool of SQLite connections. No connection is pinged before it is
/// handed out (sqlx's default): that costs a command to the connection's
/// thread and back, and an open SQLite connection cannot have gone away.
async fn sqlite_pool(
    options: AnyConnectOptions,
    max_connections: u32,
    synchronous: &'static str,
) -> StorageResult<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(sqlite_pragmas(synchronous))).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Advances the named stream counter and returns its new position.
pub async fn next_stream_position(conn: &mut sqlx::AnyConnection, stream: &str) -> StorageResult<i64> {
    advance_stream(conn, stream, 1).await
}

/// Advances the named stream counter by `count` inside the caller's
/// transaction and returns its new position (the last of those taken).
pub(crate) async fn advance_stream(conn: &mut sqlx::AnyConnection, stream: &str, count: i64) -> StorageResult<i64> {
    let position: i64 = sqlx::query_scalar(
        "INSERT INTO stream_positions (stream_name, position) VALUES ($1, $2) \
         ON CONFLICT (stream_name) DO UPDATE SET position = stream_positions.position + $2 \
         RETURNING position",
    )
    .bind(stream)
    .bind(count)
    .fetch_one(conn)
    .await?;
    Ok(position)
}
