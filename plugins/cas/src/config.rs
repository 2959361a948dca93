//! `cas_config`, with Synapse's keys and defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The section as the admin wrote it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasConfig {
    /// Read by the server (the section is on unless this is false).
    #[serde(default, rename = "enabled")]
    _enabled: serde::de::IgnoredAny,
    /// The CAS server, e.g. `https://cas.example.org/cas`.
    pub server_url: String,
    /// Deprecated in Synapse too: the service URL is always derived from
    /// `public_baseurl`. Accepted and ignored.
    #[serde(default, rename = "service_url")]
    _service_url: serde::de::IgnoredAny,
    /// 2 (`/serviceValidate`) or 3 (`/p3/serviceValidate`).
    #[serde(default)]
    pub protocol_version: Option<u8>,
    /// The attribute holding the display name of new accounts.
    #[serde(default)]
    pub displayname_attribute: Option<String>,
    /// Attributes a user must have: a value they must have, or `null` for
    /// "must be present".
    #[serde(default)]
    pub required_attributes: BTreeMap<String, Option<String>>,
    /// Create accounts for CAS users who have none.
    #[serde(default = "yes")]
    pub enable_registration: bool,
    /// Allow all-digit CAS user names, prefixed with `numeric_ids_prefix`.
    #[serde(default)]
    pub allow_numeric_ids: bool,
    /// The prefix of all-digit user names.
    #[serde(default = "default_numeric_prefix")]
    pub numeric_ids_prefix: String,
    /// The provider's name on the login page.
    #[serde(default = "default_idp_name")]
    pub idp_name: String,
    /// An `mxc://` icon.
    #[serde(default)]
    pub idp_icon: Option<String>,
    /// A brand for clients.
    #[serde(default)]
    pub idp_brand: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_numeric_prefix() -> String {
    "u".to_owned()
}

fn default_idp_name() -> String {
    "CAS".to_owned()
}

impl CasConfig {
    /// Parses and checks the section.
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: CasConfig = serde_json::from_str(json).map_err(|e| format!("cas_config: {e}"))?;
        if !(config.server_url.starts_with("https://") || config.server_url.starts_with("http://")) {
            return Err(format!("cas_config.server_url must be an http(s) URL, got {:?}", config.server_url));
        }
        match config.protocol_version {
            None | Some(2) | Some(3) => {}
            Some(other) => return Err(format!("cas_config.protocol_version must be 2 or 3, got {other}")),
        }
        if config.idp_icon.as_deref().is_some_and(|icon| !icon.starts_with("mxc://")) {
            return Err("cas_config.idp_icon must be an mxc:// URI".to_owned());
        }
        Ok(config)
    }

    /// Where tickets are validated.
    pub fn validate_url(&self) -> String {
        let base = self.server_url.trim_end_matches('/');
        match self.protocol_version {
            Some(3) => format!("{base}/p3/serviceValidate"),
            _ => format!("{base}/serviceValidate"),
        }
    }

    /// Where the browser signs in.
    pub fn login_url(&self) -> String {
        format!("{}/login", self.server_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_synapse() {
        let config = CasConfig::parse(r#"{"enabled": true, "server_url": "https://cas.example/cas/"}"#).unwrap();
        assert!(config.enable_registration);
        assert_eq!(config.idp_name, "CAS");
        assert_eq!(config.numeric_ids_prefix, "u");
        assert_eq!(config.validate_url(), "https://cas.example/cas/serviceValidate");
        assert_eq!(config.login_url(), "https://cas.example/cas/login");
    }

    #[test]
    fn protocol_three_and_bad_sections() {
        let config = CasConfig::parse(r#"{"server_url": "http://127.0.0.1:8000", "protocol_version": 3}"#).unwrap();
        assert_eq!(config.validate_url(), "http://127.0.0.1:8000/p3/serviceValidate");
        assert!(CasConfig::parse(r#"{"server_url": "cas.example"}"#).is_err());
        assert!(CasConfig::parse(r#"{"server_url": "https://c", "protocol_version": 4}"#).is_err());
        assert!(CasConfig::parse(r#"{"server_url": "https://c", "serverurl": "x"}"#).is_err());
        assert!(CasConfig::parse(r#"{}"#).is_err());
        let required = CasConfig::parse(
            r#"{"server_url": "https://c", "required_attributes": {"userGroup": "staff", "department": null}}"#,
        )
        .unwrap();
        assert_eq!(required.required_attributes.get("userGroup"), Some(&Some("staff".to_owned())));
        assert_eq!(required.required_attributes.get("department"), Some(&None));
    }
}
