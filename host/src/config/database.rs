//! The `database` section: Synapse's `name` + `args` shape, turned into a
//! sqlx URL for the storage crate.

use std::path::PathBuf;

use crate::percent::percent_encode;
use anyhow::bail;
use serde::Deserialize;
use trellis_storage::{Backend, DatabaseSettings};

/// Database engine names, Synapse's and the plain ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DatabaseEngine {
    /// SQLite (`sqlite3`, or `sqlite`).
    #[serde(rename = "sqlite3", alias = "sqlite")]
    Sqlite,
    /// PostgreSQL (`psycopg2`, `postgres`, `postgresql`).
    #[serde(rename = "psycopg2", alias = "postgres", alias = "postgresql")]
    Postgres,
}

/// `database:`.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    /// Engine.
    pub name: DatabaseEngine,
    /// Engine arguments.
    #[serde(default)]
    pub args: DatabaseArgs,
}

/// `database.args`. For SQLite only `database` (a file path) matters; for
/// PostgreSQL the usual libpq-style keys.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DatabaseArgs {
    /// SQLite: file path. PostgreSQL: database name.
    #[serde(default)]
    pub database: Option<String>,
    /// PostgreSQL database name (libpq's spelling).
    #[serde(default)]
    pub dbname: Option<String>,
    /// PostgreSQL user.
    #[serde(default)]
    pub user: Option<String>,
    /// PostgreSQL password.
    #[serde(default)]
    pub password: Option<String>,
    /// PostgreSQL host name, address, or Unix socket directory.
    #[serde(default)]
    pub host: Option<String>,
    /// PostgreSQL port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Most pooled connections (Synapse's name).
    #[serde(default)]
    pub cp_max: Option<u32>,
    /// Trellis: SQLite `synchronous` mode, `NORMAL` (default) or `FULL`.
    #[serde(default)]
    pub synchronous: Option<String>,
    /// Trellis: a complete sqlx URL, used as is when present.
    #[serde(default)]
    pub url: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            name: DatabaseEngine::Sqlite,
            args: DatabaseArgs { database: Some("homeserver.db".into()), ..DatabaseArgs::default() },
        }
    }
}

impl DatabaseConfig {
    /// Builds a config from `TRELLIS_DATABASE_URL`: a `postgres://` or
    /// `postgresql://` URL, a `sqlite:` URL, or a plain SQLite file path.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                name: DatabaseEngine::Postgres,
                args: DatabaseArgs { url: Some(url.to_owned()), ..DatabaseArgs::default() },
            });
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.contains("://") {
            bail!("unsupported database URL scheme in {url:?} (use postgres:// or a SQLite path)");
        }
        Ok(Self {
            name: DatabaseEngine::Sqlite,
            args: DatabaseArgs { database: Some(path.to_owned()), ..DatabaseArgs::default() },
        })
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if let Some(mode) = &self.args.synchronous
            && !matches!(mode.to_ascii_uppercase().as_str(), "NORMAL" | "FULL" | "EXTRA")
        {
            bail!("`args.synchronous` must be NORMAL, FULL or EXTRA, got {mode:?}");
        }
        match self.name {
            DatabaseEngine::Sqlite if self.args.url.is_none() && self.sqlite_path().is_none() => {
                bail!("`args.database` must name the SQLite file")
            }
            DatabaseEngine::Postgres
                if self.args.url.is_none() && self.args.database.is_none() && self.args.dbname.is_none() =>
            {
                bail!("`args.database` (or `args.dbname`) must name the PostgreSQL database")
            }
            _ => Ok(()),
        }
    }

    /// The SQLite file, if this is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self.name {
            DatabaseEngine::Sqlite => self.args.database.as_deref().filter(|p| !p.is_empty()).map(PathBuf::from),
            DatabaseEngine::Postgres => None,
        }
    }

    /// What the storage crate needs to connect.
    pub fn settings(&self) -> DatabaseSettings {
        let args = &self.args;
        let (backend, url) = match self.name {
            DatabaseEngine::Sqlite => {
                let url = args.url.clone().unwrap_or_else(|| {
                    let path = args.database.as_deref().unwrap_or("homeserver.db");
                    format!("sqlite://{path}?mode=rwc")
                });
                (Backend::Sqlite, url)
            }
            DatabaseEngine::Postgres => (Backend::Postgres, args.url.clone().unwrap_or_else(|| postgres_url(args))),
        };
        DatabaseSettings {
            backend,
            url,
            max_connections: args.cp_max.unwrap_or(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            }),
            sqlite_synchronous: args.synchronous.clone().unwrap_or_else(|| "NORMAL".into()),
        }
    }
}

fn postgres_url(args: &DatabaseArgs) -> String {
    let mut url = String::from("postgres://");
    if let Some(user) = &args.user {
        url.push_str(&percent_encode(user));
        if let Some(password) = &args.password {
            url.push(':');
            url.push_str(&percent_encode(password));
        }
        url.push('@');
    }
    // A host starting with '/' is a Unix socket directory, which goes in
    // the query string (where it overrides the authority's host; an empty
    // authority host is refused by the URL parser once a user is given).
    let socket_dir = args.host.as_deref().filter(|h| h.starts_with('/'));
    if socket_dir.is_none() {
        url.push_str(args.host.as_deref().unwrap_or("localhost"));
        if let Some(port) = args.port {
            url.push_str(&format!(":{port}"));
        }
    } else {
        url.push_str("localhost");
    }
    url.push('/');
    let name = args.dbname.as_deref().or(args.database.as_deref()).unwrap_or("synapse");
    url.push_str(&percent_encode(name));
    if let Some(dir) = socket_dir {
        url.push_str("?host=");
        url.push_str(&percent_encode(dir));
        if let Some(port) = args.port {
            url.push_str(&format!("&port={port}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_args_become_an_escaped_url() {
        let args = DatabaseArgs {
            user: Some("syn apse".into()),
            password: Some("p@ss/word".into()),
            host: Some("db.example".into()),
            port: Some(5433),
            database: Some("matrix".into()),
            ..DatabaseArgs::default()
        };
        assert_eq!(postgres_url(&args), "postgres://syn%20apse:p%40ss%2Fword@db.example:5433/matrix");
    }

    #[test]
    fn unix_socket_host_goes_in_the_query() {
        let args = DatabaseArgs {
            host: Some("/var/run/postgresql".into()),
            dbname: Some("trellis".into()),
            ..DatabaseArgs::default()
        };
        assert_eq!(postgres_url(&args), "postgres://localhost/trellis?host=%2Fvar%2Frun%2Fpostgresql");
    }

    #[test]
    fn env_url_picks_the_engine() {
        let pg = DatabaseConfig::from_url("postgresql://u@h/db").unwrap();
        assert_eq!(pg.name, DatabaseEngine::Postgres);
        let lite = DatabaseConfig::from_url("/tmp/x.db").unwrap();
        assert_eq!(lite.sqlite_path(), Some(PathBuf::from("/tmp/x.db")));
        assert!(DatabaseConfig::from_url("mysql://nope").is_err());
    }
}
