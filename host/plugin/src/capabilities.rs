//! Capabilities: which host interfaces a plugin may import, and how far.
//!
//! Deny by default. At load the host lists the component's imports and
//! refuses the plugin unless each one is granted; a granted interface can be
//! narrowed further (rooms, senders, HTTP hosts), and those narrower limits
//! are enforced on every host call.

use serde::Deserialize;

use crate::versions::split_trellis_name;

/// A grant written either as `true`/`false` or as an object that narrows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Grant<T> {
    Flag(bool),
    Scoped(T),
}

fn scoped<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(match Grant::<T>::deserialize(deserializer)? {
        Grant::Flag(false) => None,
        Grant::Flag(true) => Some(T::default()),
        Grant::Scoped(scope) => Some(scope),
    })
}

/// Reading rooms, optionally only some of them.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoomReadGrant {
    /// Room ids the plugin may read; all rooms when absent.
    pub rooms: Option<Vec<String>>,
}

/// Acting in rooms, optionally only in some rooms and as some users.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoomWriteGrant {
    /// Room ids the plugin may act in; all rooms when absent.
    pub rooms: Option<Vec<String>>,
    /// Local users the plugin may act as; all local users when absent.
    pub senders: Option<Vec<String>>,
}

/// The key-value store and its quota.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KvGrant {
    /// Total bytes of keys and values the plugin may keep.
    pub quota_bytes: u64,
}

impl Default for KvGrant {
    fn default() -> Self {
        Self { quota_bytes: 1 << 20 }
    }
}

/// Outbound HTTP to a list of hosts.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpGrant {
    /// Host names (or `host:port`) the plugin may reach. Empty allows none.
    pub allowed_hosts: Vec<String>,
    /// Largest response body handed to the plugin.
    pub max_response_bytes: u64,
    /// Time limit for one request, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for HttpGrant {
    fn default() -> Self {
        Self { allowed_hosts: Vec::new(), max_response_bytes: 1 << 20, timeout_ms: 10_000 }
    }
}

/// Everything a plugin may use beyond logging and its own config.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// `room-read`.
    #[serde(default, deserialize_with = "scoped")]
    pub room_read: Option<RoomReadGrant>,
    /// `room-write`.
    #[serde(default, deserialize_with = "scoped")]
    pub room_write: Option<RoomWriteGrant>,
    /// `kv`.
    #[serde(default, deserialize_with = "scoped")]
    pub kv: Option<KvGrant>,
    /// `http-client`.
    #[serde(default, deserialize_with = "scoped")]
    pub http: Option<HttpGrant>,
    /// `accounts`: registering users and linking external ids.
    #[serde(default)]
    pub accounts: bool,
    /// `timers`.
    #[serde(default)]
    pub timers: bool,
    /// A WASI preopen of the plugin file's own folder, read-only.
    #[serde(default)]
    pub filesystem: bool,
    /// Offer single sign-on (`trellis:sso/provider`): the server logs users
    /// in on the plugin's word, so only trusted plugins get it.
    #[serde(default)]
    pub sso: bool,
}

impl Capabilities {
    /// Every capability, unscoped: for first-party plugins that ship with the
    /// server and are switched on by a flag.
    pub fn first_party() -> Self {
        Self {
            room_read: Some(RoomReadGrant::default()),
            room_write: Some(RoomWriteGrant::default()),
            kv: Some(KvGrant { quota_bytes: 64 << 20 }),
            http: None,
            accounts: false,
            timers: true,
            filesystem: false,
            sso: false,
        }
    }

    /// Checks one import name. `Err` carries the reason it is refused.
    pub fn check_import(&self, name: &str) -> Result<(), String> {
        match classify_import(name) {
            ImportNeed::Always => Ok(()),
            ImportNeed::Refused(reason) => Err(reason),
            ImportNeed::Grant(key) => {
                let granted = match key {
                    "kv" => self.kv.is_some(),
                    "room_read" => self.room_read.is_some(),
                    "room_write" => self.room_write.is_some(),
                    "accounts" => self.accounts,
                    "http" => self.http.is_some(),
                    "timers" => self.timers,
                    _ => false,
                };
                if granted {
                    Ok(())
                } else {
                    let interface = split_trellis_name(name).map_or(name, |(interface, _)| interface);
                    Err(format!("imports `{interface}` but `capabilities.{key}` is not granted"))
                }
            }
        }
    }
}

/// What an import needs from the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportNeed {
    /// Nothing: logging, the plugin's config, shared types, baseline WASI.
    Always,
    /// The named key under `capabilities`.
    Grant(&'static str),
    /// Never allowed, with the reason.
    Refused(String),
}

/// Sorts an import name into what it needs.
pub fn classify_import(name: &str) -> ImportNeed {
    if let Some((interface, _)) = split_trellis_name(name) {
        return match interface {
            "types" | "log" | "config" => ImportNeed::Always,
            "kv" => ImportNeed::Grant("kv"),
            "room-read" => ImportNeed::Grant("room_read"),
            "room-write" => ImportNeed::Grant("room_write"),
            "accounts" => ImportNeed::Grant("accounts"),
            "http-client" => ImportNeed::Grant("http"),
            "timers" => ImportNeed::Grant("timers"),
            other => ImportNeed::Refused(format!("imports `{other}`, which this server does not provide")),
        };
    }
    // What Rust's standard library and other toolchains import on
    // wasm32-wasip2. Filesystem interfaces are harmless without a preopen,
    // which only the `filesystem` grant adds.
    const WASI_BASELINE: &[&str] = &["wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/"];
    if WASI_BASELINE.iter().any(|prefix| name.starts_with(prefix)) {
        return ImportNeed::Always;
    }
    ImportNeed::Refused(format!("imports `{name}`, which plugins may not use"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_but_logging_and_config_by_default() {
        let none = Capabilities::default();
        assert!(none.check_import("trellis:plugin/log@0.1.0").is_ok());
        assert!(none.check_import("trellis:plugin/config@0.1.0").is_ok());
        assert!(none.check_import("wasi:cli/stderr@0.2.6").is_ok());
        let refused = none.check_import("trellis:plugin/room-write@0.1.0").unwrap_err();
        assert!(refused.contains("capabilities.room_write"), "{refused}");
        assert!(none.check_import("wasi:sockets/tcp@0.2.6").is_err());
        assert!(none.check_import("wasi:http/outgoing-handler@0.2.6").is_err());
    }

    #[test]
    fn grants_parse_as_flags_or_scopes() {
        let caps: Capabilities = serde_json::from_value(serde_json::json!({
            "room_read": true,
            "room_write": {"rooms": ["!a:x"]},
            "kv": {"quota_bytes": 10},
            "http": {"allowed_hosts": ["cas.example.org"]},
            "timers": false,
        }))
        .unwrap();
        assert_eq!(caps.room_read, Some(RoomReadGrant { rooms: None }));
        assert_eq!(caps.room_write.unwrap().rooms, Some(vec!["!a:x".to_owned()]));
        assert_eq!(caps.kv.unwrap().quota_bytes, 10);
        assert_eq!(caps.http.unwrap().allowed_hosts, vec!["cas.example.org".to_owned()]);
        assert!(!caps.timers);
        let unknown = serde_json::from_value::<Capabilities>(serde_json::json!({"root": true}));
        assert!(unknown.is_err());
    }
}
