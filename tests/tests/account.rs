//! Devices, password changes, deactivation, profiles and account data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trellis_tests::client::assert_error;
use trellis_tests::{Client, TestServer};

const WHOAMI: &str = "/_matrix/client/v3/account/whoami";

async fn second_login(server: &TestServer, user: &str, password: &str) -> (Client, String) {
    let (status, body) = server
        .client()
        .post("/_matrix/client/v3/login", &json!({"type": "m.login.password", "user": user, "password": password}))
        .await;
    assert_eq!(status, 200, "{body}");
    (server.client().with_token(body["access_token"].as_str().unwrap()), body["device_id"].as_str().unwrap().to_owned())
}

fn password_auth(user: &str, password: &str, session: &str) -> serde_json::Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password, "session": session})
}

#[tokio::test]
async fn device_listing_rename_and_last_seen() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (_, whoami) = alice.get(WHOAMI).await;
    let device = whoami["device_id"].as_str().unwrap();
    let (status, list) = alice.get("/_matrix/client/v3/devices").await;
    assert_eq!(status, 200);
    let entry = &list["devices"][0];
    assert_eq!(entry["device_id"], device);
    assert_eq!(entry["last_seen_ip"], "127.0.0.1");
    assert!(entry["last_seen_ts"].as_i64().unwrap() > 1_600_000_000_000);

    let (status, _) =
        alice.put(&format!("/_matrix/client/v3/devices/{device}"), &json!({"display_name": "Desk"})).await;
    assert_eq!(status, 200);
    assert_eq!(alice.get(&format!("/_matrix/client/v3/devices/{device}")).await.1["display_name"], "Desk");
    assert_error(&alice.get("/_matrix/client/v3/devices/NOPE").await, 404, "M_NOT_FOUND");
    assert_error(
        &alice.put("/_matrix/client/v3/devices/NOPE", &json!({"display_name": "x"})).await,
        404,
        "M_NOT_FOUND",
    );
    assert_error(
        &alice.put(&format!("/_matrix/client/v3/devices/{device}"), &json!({"display_name": 3})).await,
        400,
        "M_BAD_JSON",
    );
}

#[tokio::test]
async fn last_seen_survives_restart() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    alice.get(WHOAMI).await;
    server.restart().await;
    let alice = Client::new(&server.base_url).with_token(alice.token.as_deref().unwrap());
    // Read without a request in between: only the stored data can answer.
    let devices = server.server.as_ref().unwrap().services.list_devices("@alice:localhost").await.unwrap();
    assert_eq!(devices[0].last_seen_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(alice.get(WHOAMI).await.0, 200);
}

#[tokio::test]
async fn delete_device_needs_the_users_password() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    server.register("bob", "bobpw").await;
    let (phone, phone_id) = second_login(&server, "alice", "pw").await;
    let path = format!("/_matrix/client/v3/devices/{phone_id}");

    let (status, challenge) = alice.delete(&path, Some(&json!({}))).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.password"]}]));
    let session = challenge["session"].as_str().unwrap();

    // Wrong password: still 401, with an error, same session.
    let (status, refused) = alice.delete(&path, Some(&json!({"auth": password_auth("alice", "wrong", session)}))).await;
    assert_eq!((status, refused["errcode"].as_str()), (401, Some("M_FORBIDDEN")));
    assert_eq!(refused["session"], session);
    // Another user's (correct) password does not count.
    let (status, refused) = alice.delete(&path, Some(&json!({"auth": password_auth("bob", "bobpw", session)}))).await;
    assert_eq!((status, refused["errcode"].as_str()), (401, Some("M_FORBIDDEN")));
    // The session cannot be moved to another operation.
    let other = alice
        .post(
            "/_matrix/client/v3/delete_devices",
            &json!({"devices": [], "auth": password_auth("alice", "pw", session)}),
        )
        .await;
    assert_error(&other, 403, "M_FORBIDDEN");
    assert_eq!(phone.get(WHOAMI).await.0, 200);

    let (status, body) = alice.delete(&path, Some(&json!({"auth": password_auth("alice", "pw", session)}))).await;
    assert_eq!(status, 200, "{body}");
    assert_error(&phone.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    assert_error(&alice.delete(&path, Some(&json!({}))).await, 404, "M_NOT_FOUND");
}

#[tokio::test]
async fn delete_devices_in_bulk() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (a, a_id) = second_login(&server, "alice", "pw").await;
    let (b, b_id) = second_login(&server, "alice", "pw").await;
    let path = "/_matrix/client/v3/delete_devices";
    assert_error(&alice.post(path, &json!({})).await, 400, "M_MISSING_PARAM");
    let (status, challenge) = alice.post(path, &json!({"devices": [a_id, b_id, "UNKNOWN"]})).await;
    assert_eq!(status, 401);
    let session = challenge["session"].as_str().unwrap();
    let (status, _) = alice
        .post(
            path,
            &json!({"devices": [a_id, b_id, "UNKNOWN"], "auth": password_auth("@alice:localhost", "pw", session)}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(a.get(WHOAMI).await.0, 401);
    assert_eq!(b.get(WHOAMI).await.0, 401);
    assert_eq!(alice.get(WHOAMI).await.0, 200);
}

#[tokio::test]
async fn password_change_logs_out_other_devices() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "old-pw").await;
    let (phone, _) = second_login(&server, "alice", "old-pw").await;
    let path = "/_matrix/client/v3/account/password";
    assert_error(&alice.post(path, &json!({})).await, 400, "M_MISSING_PARAM");
    let (status, challenge) = alice.post(path, &json!({"new_password": "new-pw"})).await;
    assert_eq!(status, 401);
    let session = challenge["session"].as_str().unwrap();
    let (status, body) =
        alice.post(path, &json!({"new_password": "new-pw", "auth": password_auth("alice", "old-pw", session)})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(alice.get(WHOAMI).await.0, 200, "the changing device stays logged in");
    assert_error(&phone.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    let login = |pw: &str| json!({"type": "m.login.password", "user": "alice", "password": pw});
    assert_eq!(server.client().post("/_matrix/client/v3/login", &login("old-pw")).await.0, 403);
    assert_eq!(server.client().post("/_matrix/client/v3/login", &login("new-pw")).await.0, 200);
}

#[tokio::test]
async fn password_change_can_keep_other_devices() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (phone, _) = second_login(&server, "alice", "pw").await;
    let path = "/_matrix/client/v3/account/password";
    let (_, challenge) = alice.post(path, &json!({"new_password": "pw2", "logout_devices": false})).await;
    let session = challenge["session"].as_str().unwrap();
    let (status, _) = alice
        .post(
            path,
            &json!({"new_password": "pw2", "logout_devices": false, "auth": password_auth("alice", "pw", session)}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(phone.get(WHOAMI).await.0, 200);
}

#[tokio::test]
async fn password_policy_applies() {
    let server =
        TestServer::start_with("password_config: {policy: {enabled: true, minimum_length: 8, require_digit: true}}\n")
            .await;
    let weak =
        server.client().post("/_matrix/client/v3/register", &json!({"username": "w", "password": "short"})).await;
    assert_error(&weak, 400, "M_WEAK_PASSWORD");
    let alice = server.register("alice", "longenough1").await;
    let (_, challenge) =
        alice.post("/_matrix/client/v3/account/password", &json!({"new_password": "weakpassword"})).await;
    let session = challenge["session"].as_str().unwrap();
    let result = alice
        .post(
            "/_matrix/client/v3/account/password",
            &json!({"new_password": "weakpassword", "auth": password_auth("alice", "longenough1", session)}),
        )
        .await;
    assert_error(&result, 400, "M_WEAK_PASSWORD");
}

#[tokio::test]
async fn deactivation_is_final() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (phone, _) = second_login(&server, "alice", "pw").await;
    let path = "/_matrix/client/v3/account/deactivate";
    let (status, challenge) = alice.post(path, &json!({})).await;
    assert_eq!(status, 401);
    let session = challenge["session"].as_str().unwrap();
    let (status, body) = alice.post(path, &json!({"erase": true, "auth": password_auth("alice", "pw", session)})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id_server_unbind_result"], "no-support");
    assert_error(&alice.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    assert_error(&phone.get(WHOAMI).await, 401, "M_UNKNOWN_TOKEN");
    let login = server
        .client()
        .post("/_matrix/client/v3/login", &json!({"type": "m.login.password", "user": "alice", "password": "pw"}))
        .await;
    assert_error(&login, 403, "M_USER_DEACTIVATED");
    // The id is never handed out again.
    let again =
        server.client().post("/_matrix/client/v3/register", &json!({"username": "alice", "password": "pw"})).await;
    assert_error(&again, 400, "M_USER_IN_USE");
    // erase cleared the profile.
    assert_eq!(server.client().get("/_matrix/client/v3/profile/@alice:localhost").await.1, json!({}));
}

#[tokio::test]
async fn profile_fields() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let base = "/_matrix/client/v3/profile/@alice:localhost";
    let (status, _) = alice.put(&format!("{base}/displayname"), &json!({"displayname": "Alice A."})).await;
    assert_eq!(status, 200);
    let (status, _) = alice.put(&format!("{base}/avatar_url"), &json!({"avatar_url": "mxc://localhost/abc"})).await;
    assert_eq!(status, 200);
    let anonymous = server.client();
    assert_eq!(anonymous.get(base).await.1, json!({"displayname": "Alice A.", "avatar_url": "mxc://localhost/abc"}));
    assert_eq!(anonymous.get(&format!("{base}/displayname")).await.1, json!({"displayname": "Alice A."}));
    assert_error(
        &bob.put(&format!("{base}/displayname"), &json!({"displayname": "Mallory"})).await,
        403,
        "M_FORBIDDEN",
    );
    assert_error(
        &alice.put(&format!("{base}/displayname"), &json!({"displayname": "x".repeat(257)})).await,
        400,
        "M_INVALID_PARAM",
    );
    assert_error(&alice.put(&format!("{base}/displayname"), &json!({"displayname": 5})).await, 400, "M_BAD_JSON");
    assert_error(&alice.put(&format!("{base}/displayname"), &json!({})).await, 400, "M_MISSING_PARAM");
    assert_error(&anonymous.get("/_matrix/client/v3/profile/@ghost:localhost").await, 404, "M_NOT_FOUND");
    let (status, _) = alice.delete(&format!("{base}/avatar_url"), None).await;
    assert_eq!(status, 200);
    // Spec v1.16: an unset field is 404.
    assert_error(&anonymous.get(&format!("{base}/avatar_url")).await, 404, "M_NOT_FOUND");
    assert_error(
        &anonymous.put(&format!("{base}/displayname"), &json!({"displayname": "x"})).await,
        401,
        "M_MISSING_TOKEN",
    );
}

#[tokio::test]
async fn account_data() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let path = "/_matrix/client/v3/user/@alice:localhost/account_data/org.example.settings";
    assert_error(&alice.get(path).await, 404, "M_NOT_FOUND");
    assert_eq!(alice.put(path, &json!({"theme": "dark", "n": [1, 2]})).await.0, 200);
    assert_eq!(alice.get(path).await.1, json!({"theme": "dark", "n": [1, 2]}));
    assert_eq!(alice.put(path, &json!({"theme": "light"})).await.0, 200);
    assert_eq!(alice.get(path).await.1, json!({"theme": "light"}));
    assert_error(&bob.get(path).await, 403, "M_FORBIDDEN");
    assert_error(&bob.put(path, &json!({})).await, 403, "M_FORBIDDEN");
    assert_error(
        &alice.put("/_matrix/client/v3/user/@alice:localhost/account_data/m.push_rules", &json!({})).await,
        405,
        "M_BAD_JSON",
    );
    let (status, body) = alice.raw(reqwest::Method::PUT, path, b"[1]".to_vec()).await;
    assert_eq!((status, body["errcode"].as_str()), (400, Some("M_BAD_JSON")));
}

#[tokio::test]
async fn capabilities() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (status, body) = alice.get("/_matrix/client/v3/capabilities").await;
    assert_eq!(status, 200);
    assert_eq!(body["capabilities"]["m.change_password"]["enabled"], true);
}
