//! Tests of config parsing and validation.

use super::*;

fn minimal(extra: &str) -> String {
    format!("server_name: example.org\n{extra}")
}

#[test]
fn bad_type_names_the_key() {
    let err =
        parse(&minimal("listeners:\n  - port: notaport\n    resources: [{names: [client]}]\n")).expect_err("must fail");
    let text = format!("{err:#}");
    assert!(text.contains("listeners[0].port"), "{text}");
}

#[test]
fn unknown_synapse_keys_are_collected_not_fatal() {
    let loaded = parse(&minimal("report_stats: false\ntrusted_key_servers: []\nrc_login:\n  address: {per_second: 1, burst_count: 2}\n  other: 1\n")).unwrap();
    assert!(loaded.ignored_keys.contains(&"report_stats".to_owned()), "{:?}", loaded.ignored_keys);
    assert!(loaded.ignored_keys.contains(&"trusted_key_servers".to_owned()));
    assert!(loaded.ignored_keys.contains(&"rc_login.other".to_owned()));
    assert_eq!(loaded.config.rc_login.address.burst_count, 2.0);
}

#[test]
fn synapse_database_names_are_accepted() {
    for name in ["sqlite3", "sqlite"] {
        let config =
            parse(&minimal(&format!("database: {{name: {name}, args: {{database: x.db}}}}\n"))).unwrap().config;
        assert_eq!(config.database.name, DatabaseEngine::Sqlite);
    }
    for name in ["psycopg2", "postgres"] {
        let config = parse(&minimal(&format!("database: {{name: {name}, args: {{database: x}}}}\n"))).unwrap().config;
        assert_eq!(config.database.name, DatabaseEngine::Postgres);
    }
    assert!(parse(&minimal("database: {name: mysql}\n")).is_err());
}

#[test]
fn validation_names_the_key() {
    let cases = [
        ("server_name: 'bad name!'\n", "server_name"),
        ("server_name: ok.org\nenable_registration: true\n", "enable_registration"),
        ("server_name: ok.org\nrc_registration: {per_second: 0, burst_count: 3}\n", "rc_registration"),
        ("server_name: ok.org\nlisteners: [{port: 1, tls: true, resources: [{names: [client]}]}]\n", "listeners[0]"),
        ("server_name: ok.org\npublic_baseurl: ftp://x/\n", "public_baseurl"),
        (
            "server_name: ok.org\nlisteners: [{port: 1, bind_addresses: [nowhere], resources: [{names: [client]}]}]\n",
            "listeners[0]",
        ),
    ];
    for (yaml, key) in cases {
        let config = parse(yaml).unwrap().config;
        let err = format!("{:#}", config.validate().expect_err(yaml));
        assert!(err.contains(key), "{yaml}: {err}");
    }
}

#[test]
fn environment_overrides_database_and_log_level() {
    let mut config = parse(&minimal("")).unwrap().config;
    config
        .apply_env(|name| match name {
            "TRELLIS_DATABASE_URL" => Some("postgres://u:p@h/db".into()),
            "TRELLIS_LOG_LEVEL" => Some("debug".into()),
            _ => None,
        })
        .unwrap();
    assert_eq!(config.database.name, DatabaseEngine::Postgres);
    assert_eq!(config.log_filter(), "debug");
}

#[test]
fn server_names() {
    for ok in ["example.org", "localhost:8008", "1.2.3.4", "[::1]:8448", "a-b.c"] {
        assert!(validate_server_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "exa mple", "host:99999", "::1", "[nope]"] {
        assert!(validate_server_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn durations_accept_synapse_forms() {
    let config = parse(&minimal("refreshable_access_token_lifetime: 1h\n")).unwrap().config;
    assert_eq!(config.refreshable_access_token_lifetime.0, 3_600_000);
    let config = parse(&minimal("refreshable_access_token_lifetime: 1500\n")).unwrap().config;
    assert_eq!(config.refreshable_access_token_lifetime.0, 1500);
}

#[test]
fn modules_parse_with_names_grants_and_limits() {
    let yaml = "modules:\n  - module: ./plugins/spam_filter.wasm\n    config: {keywords: [x]}\n    capabilities: {kv: true, http: {allowed_hosts: [a.example]}}\n    failure_policy: fail_open\n    limits: {memory_mb: 8}\n  - module: welcome\n    name: greeter\n";
    let config = parse(&minimal(yaml)).unwrap().config;
    config.validate().unwrap();
    assert_eq!(config.modules[0].plugin_name(), "spam_filter");
    assert_eq!(config.modules[1].plugin_name(), "greeter");
    assert_eq!(
        config.modules[1].path(std::path::Path::new("/srv/plugins")),
        std::path::Path::new("/srv/plugins/welcome.wasm")
    );
    assert_eq!(config.modules[0].limits.memory_mb, 8);
    assert_eq!(config.modules[0].limits.call_deadline_ms, 50);
    assert_eq!(config.modules[0].failure_policy, trellis_plugin::FailurePolicy::FailOpen);
    assert!(config.modules[0].capabilities.kv.is_some());
}

#[test]
fn bad_modules_name_the_key() {
    let cases = [
        ("modules:\n  - module: a.wasm\n  - module: other/a.wasm\n", "modules[1]"),
        ("modules:\n  - module: a.wasm\n    limits: {call_deadline_ms: 0}\n", "modules[0].limits.call_deadline_ms"),
        ("modules:\n  - module: a.wasm\n    limits: {memory_mb: 100000}\n", "modules[0].limits.memory_mb"),
        ("modules:\n  - module: msc4140.wasm\n", "reserved"),
        ("modules:\n  - module: cas.wasm\n", "single sign-on"),
        ("saml2_config: {sp_config: {}}\n", "public_baseurl"),
        ("cas_config:\n  enabled: true\n", "public_baseurl"),
        ("public_baseurl: https://ok.org/\ncas_config: {enabled: true}\n", "server_url"),
        ("public_baseurl: https://ok.org/\ncas_config: {server_url: \"ftp://c\"}\n", "server_url"),
        ("modules:\n  - module: a.wasm\n    name: \"a b\"\n", "modules[0].name"),
    ];
    for (yaml, expected) in cases {
        let error = parse(&minimal(yaml)).unwrap().config.validate().unwrap_err().to_string();
        assert!(error.contains(expected), "{yaml}: {error}");
    }
    let unknown = parse(&minimal("modules:\n  - module: a.wasm\n    capabilities: {root: true}\n"));
    assert!(unknown.is_err());
}
