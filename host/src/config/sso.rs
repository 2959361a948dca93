//! `sso:`, `cas_config:` and `saml2_config:` (Synapse's keys). The provider
//! sections are handed to their first-party plugins as they are: the plugin
//! checks its own keys when it loads, so the protocol knowledge lives in one
//! place. The server reads only what it needs to grant: the CAS host.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::Value;

/// `sso:` — settings shared by every identity provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SsoConfig {
    /// URL prefixes of clients the browser goes back to at once after
    /// signing in; others get a confirmation page first.
    pub client_whitelist: Vec<String>,
    /// Copy the provider's display name onto the account at every login,
    /// not only when the account is created.
    pub update_profile_information: bool,
    /// A folder whose HTML files replace the built-in pages of the same name.
    pub custom_template_directory: Option<PathBuf>,
    /// Trellis: let new users choose their user name even when the provider
    /// suggests one (the suggestion is pre-filled).
    pub always_pick_username: bool,
}

/// A provider section (`cas_config`, `saml2_config`) as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ProviderSection(pub Option<Value>);

impl ProviderSection {
    /// Synapse switches a provider on when its section is present and does
    /// not say `enabled: false`.
    pub fn enabled(&self) -> bool {
        match &self.0 {
            Some(Value::Object(section)) => section.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            _ => false,
        }
    }

    /// The section as JSON (`{}` when absent).
    pub fn json(&self) -> Value {
        self.0.clone().unwrap_or_else(|| Value::Object(Default::default()))
    }

    /// A string key of the section.
    pub fn string(&self, key: &str) -> Option<&str> {
        self.0.as_ref()?.get(key)?.as_str()
    }
}

/// `host[:port]` of an http(s) URL, for an outbound HTTP grant.
pub fn url_authority(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("{url:?} must be an http or https URL");
    }
    let host = parsed.host_str().with_context(|| format!("{url:?} has no host"))?;
    Ok(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sections_are_on_when_present_unless_disabled() {
        assert!(!ProviderSection(None).enabled());
        assert!(ProviderSection(Some(json!({"server_url": "https://cas.example"}))).enabled());
        assert!(!ProviderSection(Some(json!({"enabled": false}))).enabled());
        assert!(ProviderSection(Some(json!({"enabled": true}))).enabled());
    }

    #[test]
    fn authority_keeps_explicit_ports() {
        assert_eq!(url_authority("https://cas.example.org/cas").unwrap(), "cas.example.org");
        assert_eq!(url_authority("http://127.0.0.1:8000/").unwrap(), "127.0.0.1:8000");
        assert!(url_authority("ftp://x/").is_err());
        assert!(url_authority("not a url").is_err());
    }
}
