//! First-party single sign-on providers: plugins built into the binary and
//! switched on by Synapse's config sections. Each gets exactly what its
//! protocol needs: the `sso` grant, and outbound HTTP to its identity
//! provider's host only.

use std::sync::Arc;

use anyhow::Context as _;
use serde_json::{Value, json};
use trellis_plugin::capabilities::{HttpGrant, KvGrant};
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
    if config.saml2_config.enabled() {
        specs.push(saml_spec(config)?);
    }
    Ok(specs)
}

/// The SAML plugin: the section plus what it cannot get itself (it has no
/// filesystem): the public base URL and the local metadata files' text.
fn saml_spec(config: &Config) -> anyhow::Result<PluginSpec> {
    let mut section = config.saml2_config.json();
    let metadata = section.pointer("/sp_config/metadata").cloned().unwrap_or(Value::Null);
    let mut local = Vec::new();
    for path in metadata.get("local").and_then(Value::as_array).into_iter().flatten() {
        let path =
            path.as_str().context("config key `saml2_config.sp_config.metadata.local`: paths must be strings")?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("config key `saml2_config.sp_config.metadata.local`: cannot read {path}"))?;
        local.push(Value::String(text));
    }
    let mut hosts = Vec::new();
    for remote in metadata.get("remote").and_then(Value::as_array).into_iter().flatten() {
        let url = remote
            .get("url")
            .and_then(Value::as_str)
            .context("config key `saml2_config.sp_config.metadata.remote`: each entry needs a `url`")?;
        hosts.push(url_authority(url).context("config key `saml2_config.sp_config.metadata.remote`")?);
    }
    let base = config.public_baseurl.clone().unwrap_or_default();
    let base = if base.ends_with('/') { base } else { format!("{base}/") };
    if let Some(object) = section.as_object_mut() {
        object.insert("_trellis".into(), json!({"public_baseurl": base, "metadata_local": local}));
    }
    let capabilities = Capabilities {
        // Remote metadata documents can be large (a federation's, say).
        http: Some(HttpGrant { allowed_hosts: hosts, max_response_bytes: 16 << 20, ..HttpGrant::default() }),
        kv: Some(KvGrant { quota_bytes: 64 << 20 }),
        timers: true,
        sso: true,
        ..Capabilities::default()
    };
    let mut spec =
        provider_spec("saml", embedded::SAML, section, capabilities, vec!["/_synapse/client/saml2".to_owned()]);
    // A large metadata document is parsed on every sign-in.
    spec.limits.memory_bytes = 64 << 20;
    Ok(spec)
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
