//! Host interfaces as plugins see them, through the probe fixture's routes:
//! the key-value store and its quota, room reads and writes narrowed by the
//! grant, outbound HTTP limited to allowed hosts, durable timers, and who
//! the server says the caller is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trellis_tests::TestServer;
use trellis_tests::client::{Client, assert_error, encode};
use trellis_tests::plugins::wasm;

const PROBE: &str = "/_trellis/plugins/probe";

/// The probe imports every host interface, so it needs every grant; each
/// test narrows some of them (`overrides` replace the defaults by key).
fn probe_module(overrides: &[(&str, &str)]) -> String {
    let mut grants = vec![
        ("kv", "true".to_owned()),
        ("room_read", "true".to_owned()),
        ("room_write", "true".to_owned()),
        ("http", "{allowed_hosts: []}".to_owned()),
        ("timers", "true".to_owned()),
    ];
    for (key, value) in overrides {
        match grants.iter_mut().find(|(k, _)| k == key) {
            Some(grant) => grant.1 = (*value).to_owned(),
            None => grants.push((key, (*value).to_owned())),
        }
    }
    let capabilities: Vec<String> = grants.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(
        "modules:\n  - module: \"{}\"\n    name: probe\n    capabilities: {{{}}}\n",
        wasm("fixture-probe"),
        capabilities.join(", ")
    )
}

async fn call(client: &Client, route: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    client.get(&format!("{PROBE}{route}?{}", query.join("&"))).await
}

/// Requests the test servers received on `/slow`.
static SLOW_REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A tiny HTTP server: `/small` answers "hello", `/slow` too after 1.5 s,
/// anything else 100 KB.
async fn http_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
                if request.starts_with("GET /slow") {
                    SLOW_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
                let body = if request.starts_with("GET /small") || request.starts_with("GET /slow") {
                    "hello".to_owned()
                } else {
                    "x".repeat(100_000)
                };
                let response =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn kv_store_keeps_values_within_the_quota() {
    let server = TestServer::start_with(&probe_module(&[("kv", "{quota_bytes: 64}")])).await;
    let client = server.client();
    assert_eq!(call(&client, "/kv/set", &[("key", "a/1"), ("value", "first")]).await.0, 200);
    assert_eq!(call(&client, "/kv/set", &[("key", "a/2"), ("value", "second")]).await.0, 200);
    assert_eq!(call(&client, "/kv/set", &[("key", "b/1"), ("value", "x")]).await.0, 200);
    assert_eq!(call(&client, "/kv/get", &[("key", "a/2")]).await.1["value"], "second");
    assert_eq!(call(&client, "/kv/keys", &[("prefix", "a/")]).await.1["keys"], json!(["a/1", "a/2"]));
    // 64 bytes in total: a big value is refused, and nothing is half-written.
    let (status, body) = call(&client, "/kv/set", &[("key", "a/3"), ("value", &"y".repeat(60))]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("quota"), "{body}");
    assert_eq!(call(&client, "/kv/get", &[("key", "a/3")]).await.1["value"], Value::Null);
    // Replacing a value counts only the new size.
    assert_eq!(call(&client, "/kv/set", &[("key", "a/1"), ("value", &"z".repeat(40))]).await.0, 200);
    assert_eq!(call(&client, "/kv/delete", &[("key", "a/1")]).await.1["existed"], true);
    // Counters: concurrent increments lose nothing; non-counters refuse.
    let increments = (0..40).map(|_| call(&client, "/kv/incr", &[("key", "n"), ("delta", "1")]));
    for (status, body) in futures::future::join_all(increments).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(call(&client, "/kv/incr", &[("key", "n"), ("delta", "-40")]).await.1["value"], 0);
    assert_eq!(call(&client, "/kv/incr", &[("key", "a/2"), ("delta", "1")]).await.0, 400);
    assert_eq!(call(&client, "/kv/delete", &[("key", "a/1")]).await.1["existed"], false);
}

#[tokio::test]
async fn room_access_follows_the_narrowed_grant() {
    let yaml = probe_module(&[
        ("room_read", "{rooms: [\"!placeholder:localhost\"]}"),
        ("room_write", "{senders: [\"@bot:localhost\"]}"),
    ]);
    // The room ids are only known after creation: start once to create
    // them, then restart with the real ids in the grant.
    let mut server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let bot = server.register("bot", "password-1").await;
    let open = alice.create_room(json!({"preset": "public_chat", "name": "Open"})).await;
    let hidden = alice.create_room(json!({"preset": "public_chat", "name": "Hidden"})).await;
    assert_eq!(bot.join(&open).await.0, 200);
    assert_eq!(bot.join(&hidden).await.0, 200);
    server.yaml = server.yaml.replace("!placeholder:localhost", &open);
    server.restart().await;
    let client = server.client();

    let (_, state) = call(&client, "/state", &[("room", &open), ("type", "m.room.name"), ("key", "")]).await;
    assert_eq!(state, json!({"found": true, "content": {"name": "Open"}}));
    let (_, state) = call(&client, "/state", &[("room", &hidden), ("type", "m.room.name"), ("key", "")]).await;
    assert_eq!(state["found"], false, "a room outside the grant looks missing");
    assert_eq!(call(&client, "/members", &[("room", &hidden)]).await.1["members"], json!([]));
    let (_, members) = call(&client, "/members", &[("room", &open)]).await;
    assert_eq!(members["members"], json!(["@alice:localhost", "@bot:localhost"]));

    let (status, sent) =
        call(&client, "/send", &[("room", &hidden), ("sender", "@bot:localhost"), ("body", "hi")]).await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent["event_id"].as_str().unwrap().starts_with('$'));
    let refused = call(&client, "/send", &[("room", &open), ("sender", "@alice:localhost"), ("body", "hi")]).await;
    assert_error(&refused, 403, "M_FORBIDDEN");
    // The grant does not lift the room's own rules: a user outside the
    // room cannot send there, even through a plugin.
    let yaml_all =
        server.yaml.replace("senders: [\"@bot:localhost\"]", "senders: [\"@bot:localhost\", \"@carol:localhost\"]");
    server.yaml = yaml_all;
    server.restart().await;
    server.register("carol", "password-1").await;
    let refused =
        call(&server.client(), "/send", &[("room", &open), ("sender", "@carol:localhost"), ("body", "x")]).await;
    assert_error(&refused, 403, "M_FORBIDDEN");
    let remote =
        call(&server.client(), "/send", &[("room", &open), ("sender", "@bot:elsewhere.org"), ("body", "x")]).await;
    assert_eq!(remote.0, 403, "{}", remote.1);
}

#[tokio::test]
async fn outbound_http_reaches_only_allowed_hosts() {
    let port = http_server().await;
    let other = http_server().await;
    let http = format!("{{allowed_hosts: [\"127.0.0.1:{port}\"], max_response_bytes: 1000}}");
    let yaml = probe_module(&[("http", &http)]);
    let server = TestServer::start_with(&yaml).await;
    let client = server.client();
    let (status, body) = call(&client, "/fetch", &[("url", &format!("http://127.0.0.1:{port}/small"))]).await;
    assert_eq!((status, &body["body"]), (200, &json!("hello")), "{body}");
    let (status, body) = call(&client, "/fetch", &[("url", &format!("http://127.0.0.1:{other}/small"))]).await;
    assert_eq!(status, 502);
    assert!(body["error"].as_str().unwrap().contains("allowed_hosts"), "{body}");
    let (status, body) = call(&client, "/fetch", &[("url", &format!("http://127.0.0.1:{port}/big"))]).await;
    assert_eq!(status, 502);
    assert!(body["error"].as_str().unwrap().contains("larger than 1000 bytes"), "{body}");
    let (status, body) = call(&client, "/fetch", &[("url", "file:///etc/passwd")]).await;
    assert_eq!(status, 502, "{body}");
}

#[tokio::test]
async fn timers_fire_and_callers_are_authenticated_by_the_server() {
    let server = TestServer::start_with(&probe_module(&[])).await;
    let client = server.client();
    assert_eq!(call(&client, "/timer", &[("id", "t1"), ("delay", "100"), ("payload", "ding")]).await.0, 200);
    let mut fired = Value::Null;
    for _ in 0..100 {
        fired = call(&client, "/kv/get", &[("key", "fired/t1")]).await.1["value"].clone();
        if fired != Value::Null {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fired, "ding");

    let alice = server.register("alice", "password-1").await;
    assert_eq!(
        call(&alice, "/whoami", &[]).await.1,
        json!({"user_id": "@alice:localhost", "server_name": "localhost"})
    );
    assert_eq!(call(&client, "/whoami", &[]).await.1["user_id"], Value::Null);
    assert_error(&call(&client.with_token("not-a-token"), "/whoami", &[]).await, 401, "M_UNKNOWN_TOKEN");
    assert_error(&client.get(&format!("{PROBE}/nothing-here")).await, 404, "M_UNRECOGNIZED");
}

#[tokio::test]
async fn filesystem_access_is_the_plugin_folder_only_and_only_when_granted() {
    let folder = tempfile::tempdir().unwrap();
    let component = folder.path().join("probe.wasm");
    std::fs::copy(wasm("fixture-probe"), &component).unwrap();
    std::fs::write(folder.path().join("data.txt"), "from the plugin folder").unwrap();
    let module = |grant: bool| {
        probe_module(&[("filesystem", if grant { "true" } else { "false" })])
            .replace(&wasm("fixture-probe"), &component.display().to_string())
    };
    let granted = TestServer::start_with(&module(true)).await;
    let client = granted.client();
    assert_eq!(call(&client, "/file", &[("name", "data.txt")]).await.1["text"], "from the plugin folder");
    // Nothing outside the folder is reachable.
    assert_eq!(call(&client, "/file", &[("name", "../../etc/hostname")]).await.0, 404);
    let denied = TestServer::start_with(&module(false)).await;
    assert_eq!(call(&denied.client(), "/file", &[("name", "data.txt")]).await.0, 404);
}

#[tokio::test]
async fn calls_in_flight_finish_on_the_plugin_they_started_with() {
    let port = http_server().await;
    let folder = tempfile::tempdir().unwrap();
    let component = folder.path().join("probe.wasm");
    std::fs::copy(wasm("fixture-probe"), &component).unwrap();
    let http = format!("{{allowed_hosts: [\"127.0.0.1:{port}\"]}}");
    let yaml = probe_module(&[("http", &http)]).replace(&wasm("fixture-probe"), &component.display().to_string());
    let server = TestServer::start_with(&yaml).await;
    let admin = server.register_as("admin", "password-1", true).await;
    let client = server.client();
    let url = format!("http://127.0.0.1:{port}/slow");
    let in_flight = tokio::spawn(async move { call(&client, "/fetch", &[("url", &url)]).await });
    // Wait until the plugin's request reached the slow server.
    trellis_tests::eventually("the plugin calls the slow server", || async {
        SLOW_REQUESTS.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    // Replace the plugin while the call waits for the slow server.
    std::fs::copy(wasm("fixture-noop"), &component).unwrap();
    let (status, body) = admin.post("/_trellis/admin/v1/plugins/reload", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = in_flight.await.unwrap();
    assert_eq!((status, &body["body"]), (200, &json!("hello")), "{body}");
    // New calls reach the new plugin, which has no routes.
    assert_error(&call(&server.client(), "/fetch", &[("url", "http://127.0.0.1:1/")]).await, 404, "M_UNRECOGNIZED");
}
