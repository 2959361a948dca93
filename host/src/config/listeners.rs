//! `listeners:` — the sockets the server binds and what each serves.

use anyhow::bail;
use serde::Deserialize;

/// One listener.
#[derive(Debug, Clone, Deserialize)]
pub struct ListenerConfig {
    /// TCP port; 0 picks a free one (tests use this).
    pub port: u16,
    /// Addresses to bind.
    #[serde(default = "default_bind_addresses")]
    pub bind_addresses: Vec<String>,
    /// `http` (client/federation APIs) or `metrics` (Prometheus only).
    #[serde(rename = "type", default = "default_type")]
    pub kind: ListenerType,
    /// TLS termination; Trellis leaves it to a reverse proxy.
    #[serde(default)]
    pub tls: bool,
    /// Trust `X-Forwarded-For` from a reverse proxy for client addresses.
    #[serde(default)]
    pub x_forwarded: bool,
    /// What to serve.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
}

/// Listener kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerType {
    /// Matrix HTTP APIs.
    Http,
    /// Prometheus metrics only.
    Metrics,
}

/// A group of resources on a listener.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceConfig {
    /// Resource names: `client`, `federation`, `metrics`, `health`, and
    /// Synapse's others (ignored with a log line).
    #[serde(default)]
    pub names: Vec<String>,
    /// Synapse's response compression switch (not implemented; ignored).
    #[serde(default)]
    pub compress: bool,
}

/// Resource names Trellis serves.
pub const KNOWN_RESOURCES: &[&str] = &["client", "federation", "metrics", "health"];

/// Resource names Synapse has that Trellis accepts and does not serve yet.
pub const FOREIGN_RESOURCES: &[&str] = &["keys", "media", "openid", "consent", "static", "replication", "webclient"];

impl ListenerConfig {
    /// Whether the listener serves the named resource.
    pub fn serves(&self, name: &str) -> bool {
        self.resources.iter().any(|r| r.names.iter().any(|n| n == name))
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.tls {
            bail!("`tls: true` is not supported: terminate TLS in a reverse proxy and set `tls: false`");
        }
        if self.bind_addresses.is_empty() {
            bail!("`bind_addresses` is empty");
        }
        for address in &self.bind_addresses {
            if address.parse::<std::net::IpAddr>().is_err() {
                bail!("`bind_addresses`: {address:?} is not an IP address");
            }
        }
        for name in self.resources.iter().flat_map(|r| &r.names) {
            if !KNOWN_RESOURCES.contains(&name.as_str()) && !FOREIGN_RESOURCES.contains(&name.as_str()) {
                bail!("`resources`: unknown resource {name:?} (known: {})", KNOWN_RESOURCES.join(", "));
            }
        }
        if self.kind == ListenerType::Http && self.resources.is_empty() {
            bail!("`resources` is empty: an http listener must serve something (e.g. names: [client])");
        }
        Ok(())
    }
}

fn default_bind_addresses() -> Vec<String> {
    vec!["127.0.0.1".into()]
}

fn default_type() -> ListenerType {
    ListenerType::Http
}

/// One client+federation listener on 127.0.0.1:8008.
pub fn default_listeners() -> Vec<ListenerConfig> {
    vec![ListenerConfig {
        port: 8008,
        bind_addresses: default_bind_addresses(),
        kind: ListenerType::Http,
        tls: false,
        x_forwarded: false,
        resources: vec![ResourceConfig { names: vec!["client".into(), "federation".into()], compress: false }],
    }]
}
