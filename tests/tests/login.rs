//! Login, logout, refresh tokens and whoami.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trellis_tests::client::assert_error;
use trellis_tests::{Client, TestServer};

const LOGIN: &str = "/_matrix/client/v3/login";
const WHOAMI: &str = "/_matrix/client/v3/account/whoami";

async fn login(client: &Client, body: serde_json::Value) -> (u16, serde_json::Value) {
    client.post(LOGIN, &body).await
}

#[tokio::test]
async fn flows_advertise_password() {
    let server = TestServer::start().await;
    let (status, body) = server.client().get(LOGIN).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"flows": [{"type": "m.login.password"}]}));
}

#[tokio::test]
async fn identifier_forms_and_case() {
    let server = TestServer::start().await;
    server.register("alice", "secret").await;
    let client = server.client();
    for identifier in [
        json!({"identifier": {"type": "m.id.user", "user": "alice"}}),
        json!({"identifier": {"type": "m.id.user", "user": "@alice:localhost"}}),
        json!({"identifier": {"type": "m.id.user", "user": "ALICE"}}),
        json!({"identifier": {"type": "m.id.user", "user": "@Alice:localhost"}}),
        json!({"user": "alice"}),
    ] {
        let mut body = identifier.clone();
        body["type"] = json!("m.login.password");
        body["password"] = json!("secret");
        let (status, answer) = login(&client, body).await;
        assert_eq!(status, 200, "{identifier}: {answer}");
        assert_eq!(answer["user_id"], "@alice:localhost", "canonical case: {answer}");
        assert!(answer["access_token"].as_str().unwrap().len() >= 40);
        assert!(answer.get("refresh_token").is_none());
    }
}

#[tokio::test]
async fn failures() {
    let server = TestServer::start().await;
    server.register("bob", "secret").await;
    let client = server.client();
    let wrong = login(
        &client,
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": "nope"}),
    )
    .await;
    assert_error(&wrong, 403, "M_FORBIDDEN");
    let unknown = login(
        &client,
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "x"}),
    )
    .await;
    assert_error(&unknown, 403, "M_FORBIDDEN");
    assert_eq!(wrong.1["error"], unknown.1["error"], "must not reveal which accounts exist");
    let remote = login(&client, json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "@bob:elsewhere"}, "password": "secret"})).await;
    assert_error(&remote, 403, "M_FORBIDDEN");
    assert_error(&login(&client, json!({"type": "m.login.password", "password": "x"})).await, 400, "M_MISSING_PARAM");
    assert_error(&login(&client, json!({"type": "m.login.password", "user": "bob"})).await, 400, "M_MISSING_PARAM");
    assert_error(&login(&client, json!({"password": "x"})).await, 400, "M_MISSING_PARAM");
    assert_error(&login(&client, json!({"type": "m.login.fancy", "user": "bob"})).await, 400, "M_UNKNOWN");
    assert_error(
        &login(&client, json!({"type": "m.login.password", "identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "a@b"}, "password": "x"})).await,
        403,
        "M_FORBIDDEN",
    );
}

#[tokio::test]
async fn device_id_reuse_and_display_name() {
    let server = TestServer::start().await;
    server.register("carol", "secret").await;
    let client = server.client();
    let body = json!({"type": "m.login.password", "user": "carol", "password": "secret", "device_id": "MYDEVICE", "initial_device_display_name": "Laptop"});
    let (_, first) = login(&client, body.clone()).await;
    let (_, second) = login(&client, body).await;
    assert_eq!(first["device_id"], "MYDEVICE");
    assert_eq!(second["device_id"], "MYDEVICE");
    assert_ne!(first["access_token"], second["access_token"]);
    let me = client.with_token(second["access_token"].as_str().unwrap());
    let (_, devices) = me.get("/_matrix/client/v3/devices").await;
    let names: Vec<_> = devices["devices"].as_array().unwrap().iter().map(|d| d["device_id"].clone()).collect();
    assert!(names.contains(&json!("MYDEVICE")));
    let (_, device) = me.get("/_matrix/client/v3/devices/MYDEVICE").await;
    assert_eq!(device["display_name"], "Laptop");
}

#[tokio::test]
async fn logout_revokes_device_and_token() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "secret").await;
    let (_, second) =
        login(&server.client(), json!({"type": "m.login.password", "user": "alice", "password": "secret"})).await;
    let phone = server.client().with_token(second["access_token"].as_str().unwrap());
    assert_eq!(phone.get(WHOAMI).await.0, 200);
    let (status, _) = phone.post("/_matrix/client/v3/logout", &json!({})).await;
    assert_eq!(status, 200);
    let revoked = phone.get(WHOAMI).await;
    assert_error(&revoked, 401, "M_UNKNOWN_TOKEN");
    assert_eq!(revoked.1["soft_logout"], false);
    // The device went with it; the other session is untouched.
    let (_, devices) = alice.get("/_matrix/client/v3/devices").await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
    assert_eq!(alice.get(WHOAMI).await.0, 200);
}

#[tokio::test]
async fn logout_all_revokes_every_device() {
    let server = TestServer::start().await;
    let first = server.register("dan", "secret").await;
    let (_, second) =
        login(&server.client(), json!({"type": "m.login.password", "user": "dan", "password": "secret"})).await;
    let second = server.client().with_token(second["access_token"].as_str().unwrap());
    let (status, _) = second.post("/_matrix/client/v3/logout/all", &json!({})).await;
    assert_eq!(status, 200);
    assert_error(&first.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    assert_error(&second.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    // Logging in again works.
    let (status, _) =
        login(&server.client(), json!({"type": "m.login.password", "user": "dan", "password": "secret"})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_expire() {
    let server = TestServer::start_with("refreshable_access_token_lifetime: 1500\n").await;
    server.register("erin", "secret").await;
    let client = server.client();
    let (status, body) = login(
        &client,
        json!({"type": "m.login.password", "user": "erin", "password": "secret", "refresh_token": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in_ms"], 1500);
    let refresh1 = body["refresh_token"].as_str().unwrap().to_owned();
    let access1 = client.with_token(body["access_token"].as_str().unwrap());
    assert_eq!(access1.get(WHOAMI).await.0, 200);

    let (status, rotated) = client.post("/_matrix/client/v3/refresh", &json!({"refresh_token": refresh1})).await;
    assert_eq!(status, 200, "{rotated}");
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    let access2 = client.with_token(rotated["access_token"].as_str().unwrap());
    // The old access token is revoked at once.
    assert_error(&access1.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    // The old refresh token stays usable until the new pair is used...
    assert_eq!(access2.get(WHOAMI).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // ...after which it is gone.
    assert_error(
        &client.post("/_matrix/client/v3/refresh", &json!({"refresh_token": refresh1})).await,
        401,
        "M_UNKNOWN_TOKEN",
    );
    assert_error(
        &client.post("/_matrix/client/v3/refresh", &json!({"refresh_token": "trr_bogus"})).await,
        401,
        "M_UNKNOWN_TOKEN",
    );
    assert_error(&client.post("/_matrix/client/v3/refresh", &json!({})).await, 400, "M_MISSING_PARAM");

    // Expiry: soft logout, and a refresh brings the session back.
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let expired = access2.get(WHOAMI).await;
    assert_error(&expired, 401, "M_UNKNOWN_TOKEN");
    assert_eq!(expired.1["soft_logout"], true);
    let (status, renewed) = client.post("/_matrix/client/v3/refresh", &json!({"refresh_token": refresh2})).await;
    assert_eq!(status, 200, "{renewed}");
    let access3 = client.with_token(renewed["access_token"].as_str().unwrap());
    assert_eq!(access3.get(WHOAMI).await.1["user_id"], "@erin:localhost");
}

#[tokio::test]
async fn token_in_query_string_and_missing_token() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "secret").await;
    let token = alice.token.clone().unwrap();
    let (status, body) = server.client().get(&format!("{WHOAMI}?access_token={token}")).await;
    assert_eq!(status, 200, "{body}");
    assert_error(&server.client().get(WHOAMI).await, 401, "M_MISSING_TOKEN");
    assert_error(&server.client().with_token("trl_unknown").get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
}

#[tokio::test]
async fn r0_paths_still_work() {
    let server = TestServer::start().await;
    server.register("old", "secret").await;
    let (status, body) = server
        .client()
        .post("/_matrix/client/r0/login", &json!({"type": "m.login.password", "user": "old", "password": "secret"}))
        .await;
    assert_eq!(status, 200, "{body}");
}
