//! `saml2_config`, with Synapse's keys and defaults. The server adds a
//! `_trellis` object: the public base URL and the text of the
//! `sp_config.metadata.local` files (the plugin has no filesystem).

use serde::Deserialize;
use serde_json::Value;

/// What the server adds to the section.
#[derive(Debug, Clone, Deserialize)]
pub struct Injected {
    /// `public_baseurl`, ending in `/`.
    pub public_baseurl: String,
    /// The IdP metadata files, read by the server.
    #[serde(default)]
    pub metadata_local: Vec<String>,
}

/// `sp_config.metadata.remote[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteMetadata {
    /// Where the IdP publishes its metadata.
    pub url: String,
}

/// `sp_config.metadata`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetadataSources {
    /// Paths of metadata files (read by the server).
    #[serde(default)]
    pub local: Vec<String>,
    /// Metadata URLs, fetched when the plugin loads.
    #[serde(default)]
    pub remote: Vec<RemoteMetadata>,
}

/// `sp_config`: pysaml2's settings. Only the keys below mean something
/// here; pysaml2 has many more, which are accepted and ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SpConfig {
    /// Where the IdP's metadata comes from.
    #[serde(default)]
    pub metadata: MetadataSources,
    /// Accepted for compatibility: attributes are always matched by name.
    #[serde(default, rename = "allow_unknown_attributes")]
    _allow_unknown_attributes: serde::de::IgnoredAny,
    /// Clock skew tolerated on validity times, in seconds.
    #[serde(default)]
    pub accepted_time_diff: i64,
    /// This service provider's entity id; by default the metadata URL.
    #[serde(default)]
    pub entityid: Option<String>,
}

/// `user_mapping_provider.config`.
#[derive(Debug, Clone, Deserialize)]
pub struct MappingConfig {
    /// The attribute that names the user (and is the remote id).
    #[serde(default = "default_source_attribute")]
    pub mxid_source_attribute: String,
    /// `hexencode` (default) or `dotreplace`.
    #[serde(default = "default_mapping")]
    pub mxid_mapping: String,
}

impl Default for MappingConfig {
    fn default() -> Self {
        Self { mxid_source_attribute: default_source_attribute(), mxid_mapping: default_mapping() }
    }
}

/// `user_mapping_provider`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MappingProvider {
    /// Synapse's module path; only the built-in mapping exists here.
    #[serde(default)]
    pub module: Option<String>,
    /// Its settings.
    #[serde(default)]
    pub config: MappingConfig,
}

/// One `attribute_requirements` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRequirement {
    /// The attribute.
    pub attribute: String,
    /// A value it must have.
    #[serde(default)]
    pub value: Option<String>,
    /// Values of which it must have one.
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
}

/// The section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlConfig {
    /// Read by the server.
    #[serde(default, rename = "enabled")]
    _enabled: serde::de::IgnoredAny,
    /// pysaml2's settings.
    #[serde(default)]
    pub sp_config: SpConfig,
    /// Synapse's path to a pysaml2 config file: not supported.
    #[serde(default)]
    pub config_path: Option<String>,
    /// How long a sign-in may take, e.g. `15m` or milliseconds.
    #[serde(default)]
    pub saml_session_lifetime: Option<Value>,
    /// How users are named.
    #[serde(default)]
    pub user_mapping_provider: MappingProvider,
    /// The attribute matched against existing accounts' localparts.
    #[serde(default = "default_source_attribute_option")]
    pub grandfathered_mxid_source_attribute: Option<String>,
    /// Attributes a user must have.
    #[serde(default)]
    pub attribute_requirements: Vec<AttributeRequirement>,
    /// The provider's name on the login page.
    #[serde(default = "default_idp_name")]
    pub idp_name: String,
    /// An `mxc://` icon.
    #[serde(default)]
    pub idp_icon: Option<String>,
    /// A brand for clients.
    #[serde(default)]
    pub idp_brand: Option<String>,
    /// Which IdP of the metadata to use, when it describes several.
    #[serde(default)]
    pub idp_entityid: Option<String>,
    /// Trellis: accept SHA-1 signatures and digests (refused by default).
    #[serde(default)]
    pub allow_sha1: bool,
    /// Added by the server.
    #[serde(rename = "_trellis")]
    pub injected: Injected,
}

fn default_source_attribute() -> String {
    "uid".to_owned()
}

fn default_source_attribute_option() -> Option<String> {
    Some("uid".to_owned())
}

fn default_mapping() -> String {
    "hexencode".to_owned()
}

fn default_idp_name() -> String {
    "SAML".to_owned()
}

/// Synapse's default `saml_session_lifetime`.
const DEFAULT_SESSION_LIFETIME_MS: u64 = 15 * 60 * 1000;

impl SamlConfig {
    /// Parses and checks the section.
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: SamlConfig = serde_json::from_str(json).map_err(|e| format!("saml2_config: {e}"))?;
        if config.config_path.is_some() {
            return Err("saml2_config.config_path (a pysaml2 Python file) is not supported; use sp_config".to_owned());
        }
        if let Some(module) = &config.user_mapping_provider.module
            && module != "synapse.handlers.saml.DefaultSamlMappingProvider"
        {
            return Err(format!("saml2_config.user_mapping_provider.module {module:?} is not available"));
        }
        if !["hexencode", "dotreplace"].contains(&config.user_mapping_provider.config.mxid_mapping.as_str()) {
            return Err("saml2_config.user_mapping_provider.config.mxid_mapping must be hexencode or dotreplace".into());
        }
        for requirement in &config.attribute_requirements {
            if requirement.value.is_some() == requirement.one_of.is_some() {
                return Err(format!(
                    "saml2_config.attribute_requirements: {:?} needs exactly one of `value` and `one_of`",
                    requirement.attribute
                ));
            }
        }
        if config.sp_config.metadata.local.is_empty() && config.sp_config.metadata.remote.is_empty() {
            return Err("saml2_config.sp_config.metadata needs `local` files or `remote` URLs".to_owned());
        }
        if config.idp_icon.as_deref().is_some_and(|icon| !icon.starts_with("mxc://")) {
            return Err("saml2_config.idp_icon must be an mxc:// URI".to_owned());
        }
        config.session_lifetime_ms()?;
        Ok(config)
    }

    /// `saml_session_lifetime` in milliseconds.
    pub fn session_lifetime_ms(&self) -> Result<u64, String> {
        let Some(value) = &self.saml_session_lifetime else { return Ok(DEFAULT_SESSION_LIFETIME_MS) };
        if let Some(ms) = value.as_u64() {
            return Ok(ms);
        }
        let text = value.as_str().ok_or("saml2_config.saml_session_lifetime must be a duration")?;
        let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
        let number: u64 =
            number.parse().map_err(|_| format!("saml2_config.saml_session_lifetime: bad duration {text:?}"))?;
        let factor = match unit {
            "" | "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("saml2_config.saml_session_lifetime: bad duration {text:?}")),
        };
        Ok(number * factor)
    }

    /// This service provider's entity id.
    pub fn sp_entity_id(&self) -> String {
        self.sp_config.entityid.clone().unwrap_or_else(|| format!("{}{}", self.injected.public_baseurl, METADATA_PATH))
    }

    /// Where the IdP posts responses.
    pub fn acs_url(&self) -> String {
        format!("{}{}", self.injected.public_baseurl, ACS_PATH)
    }
}

/// The SP metadata path (relative to the base URL), as Synapse serves it.
pub const METADATA_PATH: &str = "_synapse/client/saml2/metadata.xml";

/// The assertion consumer service path.
pub const ACS_PATH: &str = "_synapse/client/saml2/authn_response";

#[cfg(test)]
mod tests {
    use super::*;

    fn section(extra: &str) -> String {
        format!(
            r#"{{"sp_config": {{"metadata": {{"local": ["/idp.xml"]}}}}, "_trellis": {{"public_baseurl": "https://hs.example/", "metadata_local": ["<x/>"]}}{extra}}}"#
        )
    }

    #[test]
    fn defaults_follow_synapse() {
        let config = SamlConfig::parse(&section("")).unwrap();
        assert_eq!(config.user_mapping_provider.config.mxid_source_attribute, "uid");
        assert_eq!(config.grandfathered_mxid_source_attribute.as_deref(), Some("uid"));
        assert_eq!(config.session_lifetime_ms().unwrap(), 15 * 60 * 1000);
        assert_eq!(config.sp_entity_id(), "https://hs.example/_synapse/client/saml2/metadata.xml");
        assert_eq!(config.acs_url(), "https://hs.example/_synapse/client/saml2/authn_response");
        assert!(!config.allow_sha1);
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert!(SamlConfig::parse(&section(r#", "config_path": "/x.py""#)).is_err());
        assert!(SamlConfig::parse(&section(r#", "attribute_requirements": [{"attribute": "a"}]"#)).is_err());
        assert!(
            SamlConfig::parse(&section(r#", "user_mapping_provider": {"config": {"mxid_mapping": "x"}}"#)).is_err()
        );
        assert!(SamlConfig::parse(&section(r#", "saml_session_lifetime": "5 weeks""#)).is_err());
        assert!(SamlConfig::parse(&section(r#", "typo": 1"#)).is_err());
        let lifetime = SamlConfig::parse(&section(r#", "saml_session_lifetime": "5m""#)).unwrap();
        assert_eq!(lifetime.session_lifetime_ms().unwrap(), 300_000);
    }
}
