//! The plugin's `config:` section from homeserver.yaml. Always available.

use serde::de::DeserializeOwned;

use crate::bindings::trellis::plugin::config as host;

/// The section parsed into your own type; `Err` explains what is wrong, so
/// returning it from [`crate::Plugin::on_load`] shows the admin the problem.
pub fn get<T: DeserializeOwned>() -> Result<T, String> {
    serde_json::from_str(&host::get()).map_err(|e| format!("invalid config: {e}"))
}

/// The section as JSON (`{}` when the admin gave none).
pub fn raw() -> serde_json::Value {
    serde_json::from_str(&host::get()).unwrap_or_default()
}

/// The server's name, e.g. `example.org`.
pub fn server_name() -> String {
    host::server_name()
}
