//! Protocol-level behaviour: error shapes, unknown endpoints, body limits,
//! CORS, discovery, health and metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::json;
use trellis_tests::TestServer;
use trellis_tests::client::assert_error;

#[tokio::test]
async fn unknown_endpoints_and_methods() {
    let server = TestServer::start().await;
    let client = server.client();
    assert_error(&client.get("/_matrix/client/v3/no/such/thing").await, 404, "M_UNRECOGNIZED");
    assert_error(&client.get("/totally/elsewhere").await, 404, "M_UNRECOGNIZED");
    assert_error(&client.request(Method::DELETE, "/_matrix/client/v3/login", None).await, 405, "M_UNRECOGNIZED");
    assert_error(
        &client.request(Method::PUT, "/_matrix/client/versions", Some(&json!({}))).await,
        405,
        "M_UNRECOGNIZED",
    );
}

#[tokio::test]
async fn malformed_bodies() {
    let server = TestServer::start().await;
    let client = server.client();
    let login = "/_matrix/client/v3/login";
    let (status, body) = client.raw(Method::POST, login, b"{\"type\": ".to_vec()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_NOT_JSON")));
    let (status, body) = client.raw(Method::POST, login, b"not json at all".to_vec()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_NOT_JSON")));
    let (status, body) = client.raw(Method::POST, login, b"[\"type\"]".to_vec()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    let (status, body) = client.raw(Method::POST, login, b"{\"type\": 12}".to_vec()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    let (status, body) = client.raw(Method::POST, login, Vec::new()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_NOT_JSON")));
    let (status, body) = client.raw(Method::POST, "/_matrix/client/v3/register", b"\xff\xfe".to_vec()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_NOT_JSON")));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = TestServer::start_with("max_request_body_size: 4096\n").await;
    let alice = server.register("alice", "pw").await;
    let big = json!({"blob": "x".repeat(8192)});
    let result = alice.put("/_matrix/client/v3/user/@alice:localhost/account_data/big", &big).await;
    assert_error(&result, 413, "M_TOO_LARGE");
    // Nothing was stored.
    assert_eq!(alice.get("/_matrix/client/v3/user/@alice:localhost/account_data/big").await.0, 404);
    let (status, body) = server.client().raw(Method::POST, "/_matrix/client/v3/register", vec![b' '; 10_000]).await;
    assert_eq!((status, body["errcode"].as_str()), (413, Some("M_TOO_LARGE")));
}

#[tokio::test]
async fn cors_headers_and_preflight() {
    let server = TestServer::start().await;
    let http = server.client().http().clone();
    let url = format!("{}/_matrix/client/v3/login", server.base_url);
    let preflight = http
        .request(Method::OPTIONS, &url)
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let methods = headers["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    for header in ["x-requested-with", "content-type", "authorization"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    let normal = http.get(&url).header("Origin", "https://app.example").send().await.unwrap();
    assert_eq!(normal.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn discovery() {
    let server =
        TestServer::start_with("extra_well_known_client_content: {\"org.example.custom\": {\"x\": 1}}\n").await;
    let client = server.client();
    let (status, versions) = client.get("/_matrix/client/versions").await;
    assert_eq!(status, 200);
    assert!(versions["versions"].is_array());
    assert!(versions["unstable_features"].is_object());
    let (status, well_known) = client.get("/.well-known/matrix/client").await;
    assert_eq!(status, 200);
    assert_eq!(well_known["m.homeserver"]["base_url"], "http://localhost/");
    assert_eq!(well_known["org.example.custom"]["x"], 1);

    let server = TestServer::start_with("public_baseurl: null\n").await;
    assert_error(&server.client().get("/.well-known/matrix/client").await, 404, "M_NOT_FOUND");
}

#[tokio::test]
async fn health_and_metrics() {
    let server = TestServer::start().await;
    let http = server.client().http().clone();
    let health = http.get(format!("{}/health", server.base_url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "OK");
    let alice = server.register("alice", "pw").await;
    for _ in 0..3 {
        alice.get("/_matrix/client/v3/account/whoami").await;
    }
    let text = http.get(format!("{}/_synapse/metrics", server.base_url)).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("trellis_http_requests_total") && l.contains("/_matrix/client/v3/account/whoami"))
        .unwrap_or_else(|| panic!("no whoami counter in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(text.contains("trellis_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("trellis_db_pool_connections{pool=\"write\",state=\"open\"}"), "{text}");
}

#[tokio::test]
async fn metrics_listener_type() {
    let server = TestServer::start_with(
        "listeners:\n  - {port: 0, bind_addresses: [\"127.0.0.1\"], type: http, resources: [{names: [client]}]}\n  - {port: 0, bind_addresses: [\"127.0.0.1\"], type: metrics}\n",
    )
    .await;
    let running = server.server.as_ref().unwrap();
    let metrics = running.metrics_address().expect("metrics listener");
    let http = server.client().http().clone();
    let text = http.get(format!("http://{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("trellis_db_pool_connections"), "{text}");
    // The client listener without the metrics resource does not expose them,
    // and the metrics listener does not serve the client API.
    assert_eq!(server.client().get("/_synapse/metrics").await.0, 404);
    let status = http.get(format!("http://{metrics}/_matrix/client/versions")).send().await.unwrap().status();
    assert_eq!(status, 404);
}
