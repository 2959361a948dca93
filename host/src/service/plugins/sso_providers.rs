//! First-party single sign-on providers: plugins built into the binary and
//! switched on by Synapse's config sections. Each gets exactly what its
//! protocol needs: the `sso` grant, and outbound HTTP to its identity
//! provider's host only.

use std::sync::Arc;

use trellis_plugin::capabilities::HttpGrant;
use trellis_plugin::{Capabilities, FailurePolicy, PluginKind, PluginSource, PluginSpec};

use super::features::embedded;
use crate::config::{Config, url_authority};

/// The specs of the providers the config switches on.
pub fn specs(config: &Config) -> anyhow::Result<Vec<PluginSpec>> {
    let mut specs = Vec::new();
    if config.cas_config.enabled() {
        let server_url = config.cas_config.string("server_url").unwrap_or_default();
        let capabilities = Capabilities {
            http: Some(HttpGrant { allowed_hosts: vec![url_authority(server_url)?], ..HttpGrant::default() }),
            sso: true,
            ..Capabilities::default()
        };
        specs.push(provider_spec("cas", embedded::CAS, config.cas_config.json(), capabilities, Vec::new()));
    }
    Ok(specs)
}

fn provider_spec(
    name: &str,
    bytes: &'static [u8],
    section: serde_json::Value,
    capabilities: Capabilities,
    route_prefixes: Vec<String>,
) -> PluginSpec {
    PluginSpec {
        name: name.to_owned(),
        source: PluginSource::Embedded { label: name.to_owned(), bytes },
        config: Arc::new(section),
        capabilities,
        failure_policy: FailurePolicy::FailClosed,
        // Validating a sign-in waits on the identity provider, but that
        // time is spent in host calls, which the deadline does not count.
        limits: trellis_plugin::spec::PluginLimits { call_deadline_ms: 500, ..Default::default() },
        kind: PluginKind::SsoProvider { route_prefixes },
        folder: None,
    }
}
