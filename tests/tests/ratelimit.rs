//! `rc_login` and `rc_registration` answer 429 `M_LIMIT_EXCEEDED`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trellis_tests::TestServer;
use trellis_tests::client::assert_error;

#[tokio::test]
async fn login_per_address() {
    let server = TestServer::start_with("rc_login: {address: {per_second: 0.1, burst_count: 3}}\n").await;
    server.register("alice", "pw").await;
    let client = server.client();
    let body = json!({"type": "m.login.password", "user": "alice", "password": "pw"});
    for _ in 0..3 {
        assert_eq!(client.post("/_matrix/client/v3/login", &body).await.0, 200);
    }
    let limited = client.post("/_matrix/client/v3/login", &body).await;
    assert_error(&limited, 429, "M_LIMIT_EXCEEDED");
    let wait = limited.1["retry_after_ms"].as_u64().unwrap();
    assert!((1..=10_000).contains(&wait), "{wait}");
}

#[tokio::test]
async fn failed_attempts_per_account() {
    let server = TestServer::start_with("rc_login: {failed_attempts: {per_second: 0.1, burst_count: 2}}\n").await;
    server.register("bob", "pw").await;
    let client = server.client();
    let wrong = json!({"type": "m.login.password", "user": "bob", "password": "guess"});
    assert_error(&client.post("/_matrix/client/v3/login", &wrong).await, 403, "M_FORBIDDEN");
    assert_error(&client.post("/_matrix/client/v3/login", &wrong).await, 403, "M_FORBIDDEN");
    // Now even the right password is refused until the bucket drains.
    let right = json!({"type": "m.login.password", "user": "bob", "password": "pw"});
    assert_error(&client.post("/_matrix/client/v3/login", &right).await, 429, "M_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn registration_per_address() {
    let server = TestServer::start_with("rc_registration: {per_second: 0.1, burst_count: 2}\n").await;
    let client = server.client();
    for name in ["one", "two"] {
        let (status, body) = client
            .post(
                "/_matrix/client/v3/register",
                &json!({"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let limited = client
        .post(
            "/_matrix/client/v3/register",
            &json!({"username": "three", "password": "pw", "auth": {"type": "m.login.dummy"}}),
        )
        .await;
    assert_error(&limited, 429, "M_LIMIT_EXCEEDED");
    assert!(limited.1["retry_after_ms"].as_u64().unwrap() > 0);
}
