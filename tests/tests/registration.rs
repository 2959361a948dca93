//! Registration: UIA flows (dummy, registration token), guests, username
//! rules, availability, shared-secret registration, the token admin API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trellis_tests::client::assert_error;
use trellis_tests::{SHARED_SECRET, TestServer, shared_secret_mac};

const REGISTER: &str = "/_matrix/client/v3/register";

#[tokio::test]
async fn dummy_flow_registers_and_logs_in() {
    let server = TestServer::start().await;
    let client = server.client();
    let body = json!({"username": "alice", "password": "wonderland", "initial_device_display_name": "Phone"});
    let (status, challenge) = client.post(REGISTER, &body).await;
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.dummy"]}]));
    assert_eq!(challenge["completed"], json!([]));
    let session = challenge["session"].as_str().unwrap();

    let mut body = body.clone();
    body["auth"] = json!({"type": "m.login.dummy", "session": session});
    let (status, done) = client.post(REGISTER, &body).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["user_id"], "@alice:localhost");
    let token = done["access_token"].as_str().unwrap();
    let device = done["device_id"].as_str().unwrap();

    let me = client.with_token(token);
    let (status, whoami) = me.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(status, 200);
    assert_eq!(whoami, json!({"user_id": "@alice:localhost", "device_id": device, "is_guest": false}));
    let (_, dev) = me.get(&format!("/_matrix/client/v3/devices/{device}")).await;
    assert_eq!(dev["display_name"], "Phone");
    // The display name defaults to the localpart, as in Synapse.
    let (_, profile) = client.get("/_matrix/client/v3/profile/@alice:localhost").await;
    assert_eq!(profile["displayname"], "alice");
    // The session is used up.
    let (status, _) = client
        .post(
            REGISTER,
            &json!({"username": "alice2", "password": "x", "auth": {"type": "m.login.dummy", "session": session}}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn auth_without_session_creates_one_and_completes() {
    let server = TestServer::start().await;
    let (status, body) = server
        .client()
        .post(
            REGISTER,
            &json!({"username": "bob", "password": "pw", "auth": {"type": "m.login.dummy"}, "inhibit_login": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "@bob:localhost");
    assert!(body.get("access_token").is_none(), "inhibit_login must not log in: {body}");
}

#[tokio::test]
async fn usernames_are_checked_before_and_after_auth() {
    let server = TestServer::start().await;
    server.register("taken", "pw").await;
    let client = server.client();
    assert_error(&client.post(REGISTER, &json!({"username": "taken", "password": "pw"})).await, 400, "M_USER_IN_USE");
    // Upper case is folded to lower case, like Synapse.
    assert_error(&client.post(REGISTER, &json!({"username": "TAKEN", "password": "pw"})).await, 400, "M_USER_IN_USE");
    assert_error(
        &client.post(REGISTER, &json!({"username": "bad name", "password": "pw"})).await,
        400,
        "M_INVALID_USERNAME",
    );
    assert_error(
        &client.post(REGISTER, &json!({"username": "12345", "password": "pw"})).await,
        400,
        "M_INVALID_USERNAME",
    );
    assert_error(&client.post(REGISTER, &json!({"username": "_bridge", "password": "pw"})).await, 400, "M_EXCLUSIVE");
    assert_error(&client.post(REGISTER, &json!({"username": 7, "password": "pw"})).await, 400, "M_INVALID_PARAM");
    let (status, _) =
        client.post(REGISTER, &json!({"username": "Fresh", "password": "pw", "auth": {"type": "m.login.dummy"}})).await;
    assert_eq!(status, 200);
    let (status, _) = client.get("/_matrix/client/v3/profile/@fresh:localhost").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn password_is_required() {
    let server = TestServer::start().await;
    let result = server.client().post(REGISTER, &json!({"username": "nopw", "auth": {"type": "m.login.dummy"}})).await;
    assert_error(&result, 400, "M_MISSING_PARAM");
    let (status, _) = server.client().get("/_matrix/client/v3/profile/@nopw:localhost").await;
    assert_eq!(status, 404, "no half-made account may remain");
}

#[tokio::test]
async fn generated_localpart_when_no_username() {
    let server = TestServer::start().await;
    let (status, body) =
        server.client().post(REGISTER, &json!({"password": "pw", "auth": {"type": "m.login.dummy"}})).await;
    assert_eq!(status, 200, "{body}");
    let user_id = body["user_id"].as_str().unwrap();
    let localpart = user_id.trim_start_matches('@').split(':').next().unwrap();
    assert!(localpart.chars().all(|c| c.is_ascii_digit()), "{user_id}");
}

#[tokio::test]
async fn availability() {
    let server = TestServer::start().await;
    server.register("carol", "pw").await;
    let client = server.client();
    let (status, body) = client.get("/_matrix/client/v3/register/available?username=dave").await;
    assert_eq!((status, body), (200, json!({"available": true})));
    assert_error(&client.get("/_matrix/client/v3/register/available?username=carol").await, 400, "M_USER_IN_USE");
    assert_error(
        &client.get("/_matrix/client/v3/register/available?username=no%20spaces").await,
        400,
        "M_INVALID_USERNAME",
    );
    assert_error(&client.get("/_matrix/client/v3/register/available").await, 400, "M_MISSING_PARAM");
}

#[tokio::test]
async fn registration_disabled_is_forbidden() {
    let server = TestServer::start_with("enable_registration: false\n").await;
    let result = server
        .client()
        .post(REGISTER, &json!({"username": "eve", "password": "pw", "auth": {"type": "m.login.dummy"}}))
        .await;
    assert_error(&result, 403, "M_FORBIDDEN");
    // Shared-secret registration still works.
    server.register("admin", "pw").await;
}

#[tokio::test]
async fn guests_only_when_allowed() {
    let server = TestServer::start().await;
    // Synapse answers a plain M_FORBIDDEN here.
    assert_error(&server.client().post(&format!("{REGISTER}?kind=guest"), &json!({})).await, 403, "M_FORBIDDEN");

    let server = TestServer::start_with("allow_guest_access: true\n").await;
    let (status, body) = server.client().post(&format!("{REGISTER}?kind=guest"), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let guest = server.client().with_token(body["access_token"].as_str().unwrap());
    let (_, whoami) = guest.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(whoami["is_guest"], true);
    // Guests may not use account data or change passwords.
    let user = body["user_id"].as_str().unwrap();
    assert_error(
        &guest.get(&format!("/_matrix/client/v3/user/{user}/account_data/x.y")).await,
        403,
        "M_GUEST_ACCESS_FORBIDDEN",
    );
    assert_error(
        &guest.post("/_matrix/client/v3/account/password", &json!({"new_password": "x"})).await,
        403,
        "M_GUEST_ACCESS_FORBIDDEN",
    );
    // ...but may set a display name, and nothing else in their profile.
    let (status, _) =
        guest.put(&format!("/_matrix/client/v3/profile/{user}/displayname"), &json!({"displayname": "Visitor"})).await;
    assert_eq!(status, 200);
    assert_error(
        &guest.put(&format!("/_matrix/client/v3/profile/{user}/avatar_url"), &json!({"avatar_url": "mxc://a/b"})).await,
        403,
        "M_GUEST_ACCESS_FORBIDDEN",
    );
}

#[tokio::test]
async fn registration_token_flow_and_admin_api() {
    let server =
        TestServer::start_with("enable_registration_without_verification: false\nregistration_requires_token: true\n")
            .await;
    let admin = server.register_as("root", "pw", true).await;
    let user = server.register("plain", "pw").await;
    let tokens = "/_synapse/admin/v1/registration_tokens";

    assert_error(&user.get(tokens).await, 403, "M_FORBIDDEN");
    assert_error(&server.client().get(tokens).await, 401, "M_MISSING_TOKEN");

    let (status, created) = admin.post(&format!("{tokens}/new"), &json!({"token": "letmein", "uses_allowed": 1})).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created,
        json!({"token": "letmein", "uses_allowed": 1, "pending": 0, "completed": 0, "expiry_time": null})
    );
    assert_error(&admin.post(&format!("{tokens}/new"), &json!({"token": "letmein"})).await, 400, "M_INVALID_PARAM");
    assert_error(&admin.post(&format!("{tokens}/new"), &json!({"token": "bad token!"})).await, 400, "M_INVALID_PARAM");
    assert_error(&admin.post(&format!("{tokens}/new"), &json!({"uses_allowed": -1})).await, 400, "M_INVALID_PARAM");
    assert_error(&admin.post(&format!("{tokens}/new"), &json!({"expiry_time": 1})).await, 400, "M_INVALID_PARAM");
    let (status, generated) = admin.post(&format!("{tokens}/new"), &json!({"length": 24})).await;
    assert_eq!(status, 200);
    assert_eq!(generated["token"].as_str().unwrap().len(), 24);

    let client = server.client();
    let validity = "/_matrix/client/v1/register/m.login.registration_token/validity";
    assert_eq!(client.get(&format!("{validity}?token=letmein")).await.1, json!({"valid": true}));
    assert_eq!(client.get(&format!("{validity}?token=nope")).await.1, json!({"valid": false}));

    let body = json!({"username": "newbie", "password": "pw"});
    let (status, challenge) = client.post(REGISTER, &body).await;
    assert_eq!(status, 401);
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.registration_token"]}]));
    let session = challenge["session"].as_str().unwrap();
    // Dummy is not offered.
    let mut wrong = body.clone();
    wrong["auth"] = json!({"type": "m.login.dummy", "session": session});
    assert_error(&client.post(REGISTER, &wrong).await, 400, "M_UNRECOGNIZED");
    // A bad token is refused within UIA.
    let mut bad = body.clone();
    bad["auth"] = json!({"type": "m.login.registration_token", "token": "nope", "session": session});
    let (status, refused) = client.post(REGISTER, &bad).await;
    assert_eq!(status, 401);
    assert_eq!(refused["errcode"], "M_UNAUTHORIZED");
    assert_eq!(refused["session"], session);

    let mut good = body.clone();
    good["auth"] = json!({"type": "m.login.registration_token", "token": "letmein", "session": session});
    let (status, done) = client.post(REGISTER, &good).await;
    assert_eq!(status, 200, "{done}");

    let (_, token) = admin.get(&format!("{tokens}/letmein")).await;
    assert_eq!((token["pending"].as_i64(), token["completed"].as_i64()), (Some(0), Some(1)));
    // Used up: invalid now, and listed as invalid.
    assert_eq!(client.get(&format!("{validity}?token=letmein")).await.1, json!({"valid": false}));
    let (_, invalid) = admin.get(&format!("{tokens}?valid=false")).await;
    assert_eq!(invalid["registration_tokens"].as_array().unwrap().len(), 1);
    let (_, all) = admin.get(tokens).await;
    assert_eq!(all["registration_tokens"].as_array().unwrap().len(), 2);
    let (_, again) = client.post(REGISTER, &json!({"username": "second", "password": "pw"})).await;
    let session = again["session"].as_str().unwrap();
    let (status, refused) = client
        .post(REGISTER, &json!({"username": "second", "password": "pw", "auth": {"type": "m.login.registration_token", "token": "letmein", "session": session}}))
        .await;
    assert_eq!((status, refused["errcode"].as_str()), (401, Some("M_UNAUTHORIZED")));

    // Raising the limit revives it; null removes the limit.
    let (status, updated) = admin.put(&format!("{tokens}/letmein"), &json!({"uses_allowed": null})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["uses_allowed"], serde_json::Value::Null);
    assert_eq!(client.get(&format!("{validity}?token=letmein")).await.1, json!({"valid": true}));
    let (status, _) = admin.delete(&format!("{tokens}/letmein"), None).await;
    assert_eq!(status, 200);
    assert_error(&admin.get(&format!("{tokens}/letmein")).await, 404, "M_NOT_FOUND");
    assert_error(&admin.delete(&format!("{tokens}/letmein"), None).await, 404, "M_NOT_FOUND");
}

#[tokio::test]
async fn shared_secret_registration_rules() {
    let server = TestServer::start().await;
    let client = server.client();
    let path = "/_synapse/admin/v1/register";
    let (_, nonce) = client.get(path).await;
    let nonce = nonce["nonce"].as_str().unwrap().to_owned();
    // Wrong MAC.
    let forged = shared_secret_mac("wrong-secret", &nonce, "mallory", "pw", true);
    let result = client
        .post(path, &json!({"nonce": nonce, "username": "mallory", "password": "pw", "admin": true, "mac": forged}))
        .await;
    assert_error(&result, 403, "M_FORBIDDEN");
    // The nonce was consumed by that attempt.
    let mac = shared_secret_mac(SHARED_SECRET, &nonce, "mallory", "pw", true);
    let result = client
        .post(path, &json!({"nonce": nonce, "username": "mallory", "password": "pw", "admin": true, "mac": mac}))
        .await;
    assert_error(&result, 400, "M_BAD_JSON");
    // A proper request creates an admin.
    let admin = server.register_as("boss", "pw", true).await;
    let (status, _) = admin.get("/_synapse/admin/v1/registration_tokens").await;
    assert_eq!(status, 200);
    // Missing fields.
    assert_error(&client.post(path, &json!({"nonce": "x"})).await, 400, "M_MISSING_PARAM");

    let server = TestServer::start_with("registration_shared_secret: null\n").await;
    assert_error(&server.client().get(path).await, 400, "M_BAD_JSON");
}
