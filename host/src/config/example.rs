//! The commented `homeserver.yaml` that `trellis generate-config` writes.
//!
//! Every key written here is a field of [`super::Config`]; the tests below
//! parse the output back through the real loader and fail if any key would
//! be ignored or the result would not validate, so the example cannot drift
//! from the types.

use std::path::Path;

/// What varies between generated configs.
#[derive(Debug)]
pub struct ExampleParams<'a> {
    /// `server_name`.
    pub server_name: &'a str,
    /// Folder for the database, signing key and media.
    pub data_dir: &'a Path,
    /// Port of the client listener.
    pub port: u16,
    /// `registration_shared_secret`.
    pub registration_shared_secret: &'a str,
    /// `macaroon_secret_key`.
    pub macaroon_secret_key: &'a str,
    /// `form_secret`.
    pub form_secret: &'a str,
}

/// Renders the example config.
pub fn render(p: &ExampleParams<'_>) -> String {
    let data = p.data_dir.display();
    let server_name = yaml_string(p.server_name);
    let base_url = yaml_string(&format!("http://{}/", p.server_name));
    format!(
        r#"# Trellis homeserver configuration.
#
# Keys follow Synapse's homeserver.yaml wherever the feature is the same, so
# parts of an existing Synapse config can be copied in. Keys Trellis does not
# implement are logged once at start-up and otherwise ignored.
# The full reference is in docs/admin/config.md.

# The domain part of user ids on this server (@alice:{raw_name}).
# It cannot be changed once users exist.
server_name: {server_name}

# The URL clients use to reach this server; served in /.well-known/matrix/client.
public_baseurl: {base_url}

# Where to listen. Terminate TLS in a reverse proxy; set x_forwarded: true
# when the proxy sets X-Forwarded-For.
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client, federation, health]
  # Prometheus metrics (/_synapse/metrics and /metrics) on a separate port:
  # - port: 9000
  #   bind_addresses: ["127.0.0.1"]
  #   type: metrics

# SQLite needs no set-up. For PostgreSQL use:
#   database:
#     name: psycopg2
#     args: {{user: trellis, password: secret, database: trellis, host: localhost, port: 5432, cp_max: 10}}
# TRELLIS_DATABASE_URL (postgres://… or a SQLite path) overrides this section.
database:
  name: sqlite3
  args:
    database: {data}/homeserver.db
    # NORMAL never loses a committed write when the process dies (only on an
    # operating-system crash or power cut); FULL survives those too, slower.
    synchronous: NORMAL

# Shared secret for /_synapse/admin/v1/register (Synapse's
# register_new_matrix_user, or `trellis register-user`). Keep it private.
registration_shared_secret: {shared_secret}

# Open registration through the client API. Turning it on needs either
# enable_registration_without_verification or registration_requires_token.
enable_registration: false
enable_registration_without_verification: false
registration_requires_token: false
allow_guest_access: false

# Secrets used to derive tokens and sign forms. Keep them private and stable.
macaroon_secret_key: {macaroon}
form_secret: {form}

# The server's ed25519 signing key (Synapse's file format).
signing_key_path: {data}/{raw_name}.signing.key

# Where uploaded media will be stored.
media_store_path: {data}/media_store

# Rate limits: a bucket of burst_count actions refilled at per_second.
rc_login:
  address: {{per_second: 0.003, burst_count: 5}}
  account: {{per_second: 0.003, burst_count: 5}}
  failed_attempts: {{per_second: 0.17, burst_count: 3}}
rc_registration: {{per_second: 0.17, burst_count: 3}}

# Access tokens issued with a refresh token expire after this long.
refreshable_access_token_lifetime: 5m

password_config:
  enabled: true
  policy:
    enabled: false
    minimum_length: 10

# Log filter (tracing syntax), e.g. info, or "trellis=debug,info".
# TRELLIS_LOG_LEVEL overrides it. A Synapse log_config file may be given
# instead; its root level is used.
log_level: info

# Largest request body accepted, in bytes.
max_request_body_size: 2097152

# WebAssembly modules, asked in this order (the first that denies wins).
# Each gets only the capabilities listed; see docs/admin/plugins.md.
modules: []
#  - module: ./plugins/spam_filter.wasm
#    config: {{keywords: ["buy now"]}}
#    capabilities: {{kv: {{quota_bytes: 1048576}}, room_read: true}}
#    failure_policy: fail_closed
#    limits: {{call_deadline_ms: 50, memory_mb: 32}}

# Unstable features, as built-in plugins (docs/experimental_features.md).
experimental_features:
  msc4140_enabled: false   # delayed events (limit: max_event_delay_duration)
  msc4155_enabled: false   # invite filtering
  msc4293_enabled: false   # redact messages on kick or ban
max_event_delay_duration: 24h

plugin_runtime:
  plugins_directory: {plugins_dir}
  cache_dir: {cache_dir}
"#,
        raw_name = p.server_name,
        plugins_dir = yaml_string(&p.data_dir.join("plugins").display().to_string()),
        cache_dir = yaml_string(&p.data_dir.join("plugin_cache").display().to_string()),
        port = p.port,
        shared_secret = yaml_string(p.registration_shared_secret),
        macaroon = yaml_string(p.macaroon_secret_key),
        form = yaml_string(p.form_secret),
    )
}

/// Quotes a string for YAML (JSON strings are valid YAML scalars).
fn yaml_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseEngine, parse};

    fn params(dir: &Path) -> ExampleParams<'_> {
        ExampleParams {
            server_name: "example.org:8448",
            data_dir: dir,
            port: 8008,
            registration_shared_secret: "s3cret\"quote",
            macaroon_secret_key: "mac",
            form_secret: "form",
        }
    }

    #[test]
    fn generated_config_loads_without_ignored_keys() {
        let dir = Path::new("/var/lib/trellis");
        let loaded = parse(&render(&params(dir))).expect("example must parse");
        assert!(loaded.ignored_keys.is_empty(), "example has unknown keys: {:?}", loaded.ignored_keys);
        let config = loaded.config;
        config.validate().expect("example must validate");
        assert_eq!(config.server_name, "example.org:8448");
        assert_eq!(config.registration_shared_secret.as_deref(), Some("s3cret\"quote"));
        assert_eq!(config.database.name, DatabaseEngine::Sqlite);
        assert_eq!(config.database.sqlite_path().as_deref(), Some(Path::new("/var/lib/trellis/homeserver.db")));
        assert_eq!(config.listeners[0].port, 8008);
        assert!(config.listeners[0].serves("client"));
        assert_eq!(config.refreshable_access_token_lifetime.0, 300_000);
        assert!(!config.enable_registration);
        assert!(config.modules.is_empty());
        assert!(!config.experimental_features.msc4140_enabled);
        assert_eq!(config.max_event_delay_duration.map(|d| d.0), Some(86_400_000));
        assert_eq!(config.plugin_runtime.cache_dir.as_deref(), Some(Path::new("/var/lib/trellis/plugin_cache")));
    }
}
