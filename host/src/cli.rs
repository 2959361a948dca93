//! The `trellis` command line: `run`, `generate-config`, `register-user`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use rand::Rng as _;

use crate::config::{self, example};
use crate::service::registration::NewAccount;

/// Trellis, a Matrix homeserver.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Run {
        /// Config file. Without it, ./data/homeserver.yaml is used, and
        /// created (server name localhost:8008, SQLite in ./data) if missing.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Write a new, commented homeserver.yaml with fresh secrets and a new
    /// signing key.
    GenerateConfig {
        /// The server name (domain part of user ids).
        #[arg(long)]
        server_name: String,
        /// Folder for the database, signing key and media.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where to write the config; an existing file is never overwritten.
        #[arg(long, short)]
        output: PathBuf,
        /// Port of the client listener.
        #[arg(long, default_value_t = 8008)]
        port: u16,
    },
    /// Create a user directly in the database.
    RegisterUser {
        /// Config file.
        #[arg(short, long)]
        config: PathBuf,
        /// Localpart of the new user.
        #[arg(short, long)]
        user: String,
        /// Password (or set TRELLIS_PASSWORD).
        #[arg(short, long, env = "TRELLIS_PASSWORD")]
        password: String,
        /// Make the user a server admin.
        #[arg(long)]
        admin: bool,
    },
    /// Show a plugin's WIT version, exported roles and the capabilities its
    /// imports need, without starting a server.
    InspectPlugin {
        /// The component (.wasm file).
        path: PathBuf,
    },
}

/// Runs the parsed command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config } => run(config).await,
        Command::GenerateConfig { server_name, data_dir, output, port } => {
            generate_config(&server_name, &data_dir, &output, port)?;
            eprintln!("wrote {}", output.display());
            Ok(())
        }
        Command::RegisterUser { config, user, password, admin } => {
            register_user(&config, &user, &password, admin).await
        }
        Command::InspectPlugin { path } => inspect_plugin(&path),
    }
}

/// `trellis inspect-plugin`: prints what a component needs, on stdout.
fn inspect_plugin(path: &Path) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    use trellis_plugin::capabilities::ImportNeed;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let inspection = trellis_plugin::inspect::inspect(&bytes)
        .with_context(|| format!("{} is not a WebAssembly component", path.display()))?;
    let mut out = String::new();
    match &inspection.wit_version {
        Ok(version) => writeln!(out, "WIT: trellis:plugin@{version}")?,
        Err(problem) => writeln!(out, "WIT: not loadable: {problem}")?,
    }
    let roles: Vec<&str> = inspection
        .exports
        .iter()
        .filter_map(|name| trellis_plugin::versions::split_trellis_name(name).map(|(interface, _)| interface))
        .collect();
    writeln!(out, "Roles exported: {}", if roles.is_empty() { "none".to_owned() } else { roles.join(", ") })?;
    writeln!(out, "Imports:")?;
    for (name, need) in &inspection.imports {
        let what = match need {
            ImportNeed::Always => "always allowed".to_owned(),
            ImportNeed::Grant(key) => format!("needs capabilities.{key}"),
            ImportNeed::Refused(reason) => format!("refused: {reason}"),
        };
        writeln!(out, "  {name:<40} {what}")?;
    }
    let grants = inspection.needed_grants();
    let yaml: Vec<String> = grants
        .iter()
        .map(|key| match *key {
            "http" => "http: {allowed_hosts: [...]}".to_owned(),
            other => format!("{other}: true"),
        })
        .collect();
    writeln!(out, "Capabilities to grant: {{{}}}", yaml.join(", "))?;
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(())
}

/// Writes a fresh config and signing key. Refuses to overwrite either.
pub fn generate_config(server_name: &str, data_dir: &Path, output: &Path, port: u16) -> anyhow::Result<()> {
    config::validate_server_name(server_name).context("--server-name")?;
    if output.exists() {
        bail!("{} already exists; refusing to overwrite it", output.display());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::create_dir_all(data_dir.join("media_store"))?;
    let data_dir = std::path::absolute(data_dir)?;
    let key_path = data_dir.join(format!("{server_name}.signing.key"));
    if !key_path.exists() {
        crate::signing_key::generate(&key_path)?;
    }
    let text = example::render(&example::ExampleParams {
        server_name,
        data_dir: &data_dir,
        port,
        registration_shared_secret: &secret(),
        macaroon_secret_key: &secret(),
        form_secret: &secret(),
    });
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(output).with_context(|| format!("cannot create {}", output.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(())
}

fn secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..48).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// Loads the config and starts logging.
fn load_config(path: &Path) -> anyhow::Result<config::Config> {
    let loaded = config::load(path)?;
    crate::logging::init(&loaded.config.log_filter());
    for key in &loaded.ignored_keys {
        tracing::info!(key = %key, "config key not used by Trellis; ignored");
    }
    for (i, listener) in loaded.config.listeners.iter().enumerate() {
        for name in listener.resources.iter().flat_map(|r| &r.names) {
            if config::FOREIGN_RESOURCES.contains(&name.as_str()) {
                tracing::info!(listener = i, resource = %name, "listener resource not served by Trellis; ignored");
            }
        }
    }
    Ok(loaded.config)
}

async fn run(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let path = match config_path {
        Some(path) => path,
        None => {
            let path = PathBuf::from("data/homeserver.yaml");
            if !path.exists() {
                generate_config("localhost:8008", Path::new("data"), &path, 8008)?;
                eprintln!("first run: wrote {} (server name localhost:8008)", path.display());
            }
            path
        }
    };
    let config = load_config(&path)?;
    // The handlers are installed before the server starts listening: a
    // SIGTERM that arrives as soon as it listens must shut it down
    // gracefully, not kill it with the default action.
    let signals = Signals::install()?;
    #[cfg(unix)]
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot install a SIGHUP handler")?;
    let server = crate::server::start_with_source(config, Some(path)).await?;
    let stop = server.stop_token();
    // SIGHUP reloads plugins (and their config), as Synapse reloads its
    // logging config; a failed reload keeps the plugins that were running.
    #[cfg(unix)]
    {
        let services = server.services.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                if let Err(error) = services.reload_plugins().await {
                    tracing::error!("plugin reload failed, keeping the running plugins: {error:#}");
                }
            }
        });
    }
    tokio::spawn(async move {
        signals.wait().await;
        stop.cancel();
    });
    server.wait().await;
    Ok(())
}

/// SIGTERM and SIGINT, registered up front.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("cannot install a SIGTERM handler")?,
                int: signal(SignalKind::interrupt()).context("cannot install a SIGINT handler")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received"),
            _ = self.int.recv() => tracing::info!("SIGINT received"),
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn register_user(config_path: &Path, user: &str, password: &str, admin: bool) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let services = crate::server::build_services(config).await?;
    let localpart = user.to_lowercase();
    let account = NewAccount {
        localpart: localpart.clone(),
        password: Some(password.to_owned()),
        admin,
        ..NewAccount::default()
    };
    let result = async {
        services.check_username_available(&localpart).await?;
        services.create_account(account, None).await
    }
    .await;
    services.storage.close().await;
    match result {
        Ok(registered) => {
            eprintln!("created {}", registered.user_id);
            Ok(())
        }
        Err(crate::error::Error::Matrix { message, .. }) => bail!("{message}"),
        Err(other) => bail!("could not create the user: {other:?}"),
    }
}
