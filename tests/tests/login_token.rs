//! `POST /login/get_token` and `m.login.token` logins (spec v1.7), behind
//! Synapse's `login_via_existing_session`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::TestServer;
use trellis_tests::client::{Client, assert_error};

const GET_TOKEN: &str = "/_matrix/client/v1/login/get_token";

async fn get_token(user: &Client, localpart: &str) -> (u16, Value) {
    let (status, challenge) = user.post(GET_TOKEN, &json!({})).await;
    assert_eq!(status, 401, "UIA first: {challenge}");
    assert_eq!(challenge["flows"], json!([{"stages": ["m.login.password"]}]));
    let auth = json!({"auth": {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": localpart},
        "password": "password-1",
        "session": challenge["session"],
    }});
    user.post(GET_TOKEN, &auth).await
}

async fn token_login(client: &Client, token: &str) -> (u16, Value) {
    client.post("/_matrix/client/v3/login", &json!({"type": "m.login.token", "token": token})).await
}

#[tokio::test]
async fn tokens_log_another_client_in_once() {
    let server = TestServer::start_with("login_via_existing_session: {enabled: true, token_timeout: 2m}\n").await;
    let alice = server.register("alice", "password-1").await;
    let (_, capabilities) = alice.get("/_matrix/client/v3/capabilities").await;
    assert_eq!(capabilities["capabilities"]["m.get_login_token"]["enabled"], true);
    let (_, flows) = server.client().get("/_matrix/client/v3/login").await;
    assert!(flows["flows"].as_array().unwrap().contains(&json!({"type": "m.login.token", "get_login_token": true})));

    let (status, minted) = get_token(&alice, "alice").await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(minted["expires_in_ms"], 120_000);
    let token = minted["login_token"].as_str().unwrap();
    let (status, logged_in) = token_login(&server.client(), token).await;
    assert_eq!(status, 200, "{logged_in}");
    assert_eq!(logged_in["user_id"], "@alice:localhost");
    let new_client = server.client().with_token(logged_in["access_token"].as_str().unwrap());
    let (_, whoami) = new_client.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(whoami["user_id"], "@alice:localhost");
    assert_ne!(whoami["device_id"], alice.get("/_matrix/client/v3/account/whoami").await.1["device_id"]);

    // Single use, and nothing else is a token.
    assert_error(&token_login(&server.client(), token).await, 403, "M_FORBIDDEN");
    assert_error(&token_login(&server.client(), "tlt_made_up").await, 403, "M_FORBIDDEN");
    assert_error(
        &server.client().post("/_matrix/client/v3/login", &json!({"type": "m.login.token"})).await,
        400,
        "M_MISSING_PARAM",
    );
    // A wrong password does not mint one.
    let (_, challenge) = alice.post(GET_TOKEN, &json!({})).await;
    let wrong = json!({"auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": "nope", "session": challenge["session"]}});
    let (status, body) = alice.post(GET_TOKEN, &wrong).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.get("login_token").is_none());
    assert_error(&server.client().post(GET_TOKEN, &json!({})).await, 401, "M_MISSING_TOKEN");
}

#[tokio::test]
async fn expired_tokens_and_deactivated_users_are_refused() {
    let server = TestServer::start_with("login_via_existing_session: {enabled: true, token_timeout: 1}\n").await;
    let alice = server.register("alice", "password-1").await;
    let (status, minted) = get_token(&alice, "alice").await;
    assert_eq!(status, 200, "{minted}");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_error(&token_login(&server.client(), minted["login_token"].as_str().unwrap()).await, 403, "M_FORBIDDEN");
}

#[tokio::test]
async fn disabled_by_default() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "password-1").await;
    assert_error(&alice.post(GET_TOKEN, &json!({})).await, 404, "M_UNRECOGNIZED");
    let (_, capabilities) = alice.get("/_matrix/client/v3/capabilities").await;
    assert_eq!(capabilities["capabilities"]["m.get_login_token"]["enabled"], false);
    let (_, flows) = server.client().get("/_matrix/client/v3/login").await;
    assert!(!flows["flows"].as_array().unwrap().iter().any(|flow| flow["type"] == "m.login.token"), "{flows}");
}

#[tokio::test]
async fn turning_off_re_authentication_is_refused() {
    let error = trellis::config::parse(
        "server_name: localhost\nlogin_via_existing_session: {enabled: true, require_ui_auth: false}\n",
    )
    .unwrap()
    .config
    .validate()
    .unwrap_err();
    assert!(error.to_string().contains("login_via_existing_session.require_ui_auth"), "{error}");
}
