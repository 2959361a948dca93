//! The plugin runtime through a running server: faults stay inside one
//! call, refused components never load, and reload swaps plugins in place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::assert_error;
use trellis_tests::plugins::wasm;
use trellis_tests::{TestServer, boot};

/// A `modules:` entry for a fixture with extra YAML lines (indented).
fn module(package: &str, extra: &str) -> String {
    format!("  - module: \"{}\"\n{extra}", wasm(package))
}

async fn admin_plugins(server: &TestServer, admin: &trellis_tests::client::Client) -> Vec<Value> {
    let (status, body) = admin.get("/_trellis/admin/v1/plugins").await;
    assert_eq!(status, 200, "{body}");
    let _ = server;
    body["plugins"].as_array().cloned().unwrap_or_default()
}

async fn room_with(user: &trellis_tests::client::Client) -> String {
    let (status, body) = user.post("/_matrix/client/v3/createRoom", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    body["room_id"].as_str().unwrap().to_owned()
}

fn fault_count(plugin: &Value, kind: &str) -> u64 {
    plugin["stats"]["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry[0] == kind)
        .and_then(|entry| entry[1].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn faults_fail_one_call_and_the_server_keeps_serving() {
    let yaml = format!(
        "modules:\n{}",
        // A deadline well above what the other faults need even on a busy
        // machine, so that only the loop runs into it.
        module("fixture-faulty", "    limits: {call_deadline_ms: 200, memory_mb: 16, disable_after_faults: 0}\n")
    );
    let server = TestServer::start_with(&yaml).await;
    let admin = server.register_as("admin", "password-1", true).await;
    let room = room_with(&admin).await;

    for (word, kind) in [("loop", "timeout"), ("hog", "out_of_memory"), ("trap", "trap"), ("panic", "trap")] {
        let answer = tokio::time::timeout(std::time::Duration::from_secs(20), admin.send_message(&room, word))
            .await
            .expect("a faulting plugin must not hang the request");
        // Spam checks fail closed by default: the message is refused.
        assert_error(&answer, 403, "M_FORBIDDEN");
        assert!(answer.1["error"].as_str().unwrap().contains(kind), "{}", answer.1);
        let plugins = admin_plugins(&server, &admin).await;
        assert!(fault_count(&plugins[0], kind) >= 1, "{kind} not counted: {}", plugins[0]);
    }
    let plugins = admin_plugins(&server, &admin).await;
    let last = plugins[0]["stats"]["last_fault"].as_str().unwrap();
    assert!(last.contains("fixture panic: asked to panic"), "panic message missing: {last}");

    // The server and the plugin keep working.
    let (status, body) = admin.send_message(&room, "hello").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.client().get("/_matrix/client/versions").await;
    assert_eq!(status, 200);
    // Routes of a faulting plugin answer 502, the server stays up.
    let (status, body) = admin.get("/_trellis/plugins/fixture_faulty/fine").await;
    assert_eq!((status, &body["survived"]), (200, &json!("fine")), "{body}");
    let (status, body) = admin.get("/_trellis/plugins/fixture_faulty/loop").await;
    assert_eq!(status, 502, "{body}");
    assert_error(&admin.get("/_trellis/plugins/fixture_faulty/bad-status").await, 502, "M_UNKNOWN");
}

#[tokio::test]
async fn fail_open_plugins_let_requests_through_and_repeated_faults_disable() {
    let yaml = format!(
        "modules:\n{}",
        module("fixture-faulty", "    failure_policy: fail_open\n    limits: {disable_after_faults: 2}\n")
    );
    let server = TestServer::start_with(&yaml).await;
    let admin = server.register_as("admin", "password-1", true).await;
    let room = room_with(&admin).await;
    for _ in 0..2 {
        let (status, body) = admin.send_message(&room, "trap").await;
        assert_eq!(status, 200, "fail_open must allow: {body}");
    }
    let plugins = admin_plugins(&server, &admin).await;
    assert_eq!(plugins[0]["disabled"], true, "{}", plugins[0]);
    let (status, body) = admin.send_message(&room, "after").await;
    assert_eq!(status, 200, "{body}");
    // Prometheus shows the same.
    let (_, text) = server.client().get("/_synapse/metrics").await;
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains("trellis_plugin_disabled{plugin=\"fixture_faulty\"} 1"), "{text}");
    assert!(text.contains("trellis_plugin_faults_total{plugin=\"fixture_faulty\",kind=\"trap\"} 2"), "{text}");
}

#[tokio::test]
async fn components_are_refused_at_load_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let database = trellis_tests::TestDatabase::create(dir.path()).await;
    let base = trellis_tests::base_yaml(&database, dir.path());
    let start = |modules: String| {
        let yaml = format!("{base}modules:\n{modules}");
        async move { boot(&yaml).await.map(|_| ()).unwrap_err().to_string() }
    };
    // An import that was not granted.
    let refused = format!(
        "{:#}",
        start(module("welcome-message", "    config: {sender: \"@bot:localhost\"}\n    capabilities: {kv: true}\n"))
            .await
    );
    assert!(refused.contains("room_write") && refused.contains("not granted"), "{refused}");
    // A WIT version this server does not support.
    let refused = start(module("fixture-future-wit", "")).await;
    assert!(refused.contains("@0.9.0") && refused.contains("@0.1.0"), "{refused}");
    // The plugin's own on-load refusal.
    let refused = start(module("fixture-noop", "    config: {refuse_load: true}\n")).await;
    assert!(refused.contains("refuse_load is set"), "{refused}");
    // Not a component at all.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let refused = start(format!("  - module: \"{}\"\n", junk.display())).await;
    assert!(refused.contains("junk"), "{refused}");
}

#[tokio::test]
async fn reload_swaps_plugins_and_keeps_them_on_failure() {
    let plugin_dir = tempfile::tempdir().unwrap();
    let path = plugin_dir.path().join("guard.wasm");
    std::fs::copy(wasm("fixture-noop"), &path).unwrap();
    let yaml = format!("modules:\n  - module: \"{}\"\n", path.display());
    let server = TestServer::start_with(&yaml).await;
    let admin = server.register_as("admin", "password-1", true).await;
    let user = server.register("user", "password-1").await;
    let room = room_with(&user).await;
    assert_eq!(user.send_message(&room, "trap").await.0, 200, "noop allows everything");

    std::fs::copy(wasm("fixture-faulty"), &path).unwrap();
    let (status, body) = admin.post("/_trellis/admin/v1/plugins/reload", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["loaded"], json!(["guard"]));
    assert_error(&user.send_message(&room, "trap").await, 403, "M_FORBIDDEN");

    // A broken replacement is refused and the running plugin stays.
    std::fs::copy(wasm("fixture-future-wit"), &path).unwrap();
    let (status, body) = admin.post("/_trellis/admin/v1/plugins/reload", &json!({})).await;
    assert_error(&(status, body.clone()), 400, "M_UNKNOWN");
    assert!(body["error"].as_str().unwrap().contains("@0.9.0"), "{body}");
    assert_error(&user.send_message(&room, "trap").await, 403, "M_FORBIDDEN");
    assert_eq!(user.send_message(&room, "fine").await.0, 200);

    // Only admins may reload or list.
    assert_error(&user.post("/_trellis/admin/v1/plugins/reload", &json!({})).await, 403, "M_FORBIDDEN");
    assert_error(&user.get("/_trellis/admin/v1/plugins").await, 403, "M_FORBIDDEN");
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let yaml = format!(
        "plugin_runtime: {{cache_dir: \"{}\"}}\nmodules:\n{}",
        cache.path().display(),
        module("fixture-noop", "")
    );
    let mut server = TestServer::start_with(&yaml).await;
    let admin = server.register_as("admin", "password-1", true).await;
    let cached: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(cached.len(), 1, "one compiled artifact");
    let (status, body) = admin.post("/_trellis/admin/v1/plugins/reload", &json!({})).await;
    assert_eq!((status, &body["from_cache"]), (200, &json!(1)), "{body}");
    server.restart().await;
    let (status, login) = server
        .client()
        .post(
            "/_matrix/client/v3/login",
            &json!({"type": "m.login.password", "user": "admin", "password": "password-1"}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let admin = server.client().with_token(login["access_token"].as_str().unwrap());
    let plugins = admin_plugins(&server, &admin).await;
    assert_eq!(plugins[0]["name"], "fixture_noop");
    assert_eq!(plugins[0]["version"], "0.1.0");
    assert_eq!(
        plugins[0]["exports"],
        json!([
            "lifecycle",
            "spam-check",
            "third-party-rules",
            "password-auth",
            "account-validity",
            "account-hooks",
            "http-routes",
            "sso-provider"
        ])
    );
}
