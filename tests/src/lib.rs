//! Test harness: starts a real Trellis server in-process on 127.0.0.1:0
//! with a fresh database and drives it over HTTP.
//!
//! The database is SQLite in a temporary folder, or PostgreSQL when
//! `TRELLIS_TEST_DATABASE` holds a `postgres://` URL of a server the tests
//! may create databases on (`tests/scripts/postgres.sh start` prints one);
//! each test then gets its own freshly created database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

pub mod browser;
pub mod cas;
pub mod client;
pub mod interop;
pub mod peers;
pub mod plugins;
pub mod saml;

use std::path::PathBuf;

use rand::Rng as _;
use sqlx::Executor as _;
use trellis::RunningServer;
use trellis::config::Config;

pub use client::Client;

/// The shared secret every test server is configured with.
pub const SHARED_SECRET: &str = "test-shared-secret";

/// Where a test server keeps its data.
#[derive(Debug, Clone)]
pub enum TestDatabase {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database created for this test.
    Postgres {
        /// URL of the test database.
        url: String,
    },
}

impl TestDatabase {
    /// A fresh database for one test, on the backend the run asked for.
    pub async fn create(dir: &std::path::Path) -> Self {
        match std::env::var("TRELLIS_TEST_DATABASE").ok().filter(|v| v.starts_with("postgres")) {
            Some(admin_url) => {
                let name = format!("trellis_test_{:016x}", rand::thread_rng().r#gen::<u64>());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .expect("cannot reach TRELLIS_TEST_DATABASE");
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create database");
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
                Self::Postgres { url: format!("{base}/{name}") }
            }
            None => Self::Sqlite(dir.join("homeserver.db")),
        }
    }

    /// The `database:` config section for it.
    pub fn yaml(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("database: {{name: sqlite3, args: {{database: \"{}\"}}}}\n", path.display()),
            Self::Postgres { url } => format!("database: {{name: psycopg2, args: {{url: \"{url}\"}}}}\n"),
        }
    }

    /// Whether this run is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }

    /// Runs raw SQL against the test database (for tests that tamper with
    /// the schema on purpose).
    pub async fn execute(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let url = match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres { url } => url.clone(),
        };
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.expect("connect");
        conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.expect("execute");
    }
}

/// A running server and everything it needs.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The server (taken on shutdown).
    pub server: Option<RunningServer>,
    /// Its database.
    pub database: TestDatabase,
    /// Its data folder.
    pub dir: tempfile::TempDir,
    /// The YAML it was started with.
    pub yaml: String,
}

/// Config every test server gets, before test-specific additions: open
/// registration and generous rate limits (rate-limit tests tighten them).
pub fn base_yaml(database: &TestDatabase, dir: &std::path::Path) -> String {
    format!(
        "server_name: \"localhost\"\n\
         public_baseurl: \"http://localhost/\"\n\
         listeners:\n  - port: 0\n    bind_addresses: [\"127.0.0.1\"]\n    type: http\n    resources: [{{names: [client, federation, metrics]}}]\n\
         {db}\
         registration_shared_secret: \"{SHARED_SECRET}\"\n\
         enable_registration: true\n\
         enable_registration_without_verification: true\n\
         signing_key_path: \"{dir}/test.signing.key\"\n\
         rc_login: {{address: {{per_second: 1000, burst_count: 1000}}, account: {{per_second: 1000, burst_count: 1000}}, failed_attempts: {{per_second: 1000, burst_count: 1000}}}}\n\
         rc_registration: {{per_second: 1000, burst_count: 1000}}\n\
         log_level: \"warn\"\n\
         plugin_runtime: {{cache_dir: \"{cache}\"}}\n",
        db = database.yaml(),
        dir = dir.display(),
        cache = plugins::shared_cache_dir().display(),
    )
}

/// Applies YAML overrides: top-level keys in `extra` replace the base's.
fn merge_yaml(base: &str, extra: &str) -> String {
    let overridden: Vec<&str> = extra
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .collect();
    let mut out = String::new();
    let mut skipping = false;
    for line in base.lines() {
        if !line.starts_with(' ') {
            let key = line.split_once(':').map(|(k, _)| k.trim()).unwrap_or_default();
            skipping = overridden.contains(&key);
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(extra);
    out
}

impl TestServer {
    /// A server with the base config.
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    /// A server with extra YAML (top-level keys replace the base ones).
    pub async fn start_with(extra_yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = TestDatabase::create(dir.path()).await;
        let yaml = merge_yaml(&base_yaml(&database, dir.path()), extra_yaml);
        let server = boot(&yaml).await.expect("server must start");
        let base_url = format!("http://{}", server.client_address().expect("client listener"));
        Self { base_url, server: Some(server), database, dir, yaml }
    }

    /// `url` as seen from outside (at `public_baseurl`, `http://localhost/`,
    /// as behind a reverse proxy) mapped onto this server's real address.
    pub fn local_url(&self, url: &str) -> String {
        match url.strip_prefix("http://localhost/") {
            Some(rest) => format!("{}/{rest}", self.base_url),
            None => url.to_owned(),
        }
    }

    /// A client without a token.
    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// Stops the server gracefully and starts it again on the same data.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let server = boot(&self.yaml).await.expect("server must restart");
        self.base_url = format!("http://{}", server.client_address().expect("client listener"));
        self.server = Some(server);
    }

    /// Stops the server.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Registers a user through shared-secret registration and returns a
    /// logged-in client.
    pub async fn register(&self, localpart: &str, password: &str) -> Client {
        self.register_as(localpart, password, false).await
    }

    /// Like [`Self::register`], optionally as a server admin.
    pub async fn register_as(&self, localpart: &str, password: &str, admin: bool) -> Client {
        let client = self.client();
        let (_, nonce) = client.get("/_synapse/admin/v1/register").await;
        let nonce = nonce["nonce"].as_str().expect("nonce").to_owned();
        let mac = shared_secret_mac(SHARED_SECRET, &nonce, localpart, password, admin);
        let (status, body) = client
            .post(
                "/_synapse/admin/v1/register",
                &serde_json::json!({"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac}),
            )
            .await;
        assert_eq!(status, 200, "registration of {localpart} failed: {body}");
        client.with_token(body["access_token"].as_str().expect("token"))
    }
}

/// Parses and starts a server from YAML, as `trellis run` would.
pub async fn boot(yaml: &str) -> anyhow::Result<RunningServer> {
    let loaded = trellis::config::parse(yaml)?;
    let config: Config = loaded.config;
    config.validate()?;
    trellis::logging::init(&std::env::var("TRELLIS_TEST_LOG").unwrap_or_else(|_| "warn".into()));
    trellis::start(config).await
}

/// The HMAC Synapse's shared-secret registration expects, hex encoded.
pub fn shared_secret_mac(secret: &str, nonce: &str, user: &str, password: &str, admin: bool) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{nonce}\0{user}\0{password}\0{}", if admin { "admin" } else { "notadmin" }).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Polls `check` every 50 ms until it holds, for up to twenty seconds; for
/// effects that happen after a request returns (plugin hooks, timers).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
