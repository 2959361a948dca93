//! Each module callback family through the server's real code paths, with
//! the hooks fixture (tests/fixtures/hooks) deciding.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::TestServer;
use trellis_tests::client::{Client, assert_error, encode};
use trellis_tests::plugins::wasm;

async fn server() -> TestServer {
    TestServer::start_with(&format!("modules:\n  - module: \"{}\"\n    name: hooks\n", wasm("fixture-hooks"))).await
}

/// Registers through `/register` with the dummy stage.
async fn register(client: &Client, username: &str) -> (u16, Value) {
    let body = json!({"username": username, "password": "password-1"});
    let (_, challenge) = client.post("/_matrix/client/v3/register", &body).await;
    let mut body = body.clone();
    body["auth"] = json!({"type": "m.login.dummy", "session": challenge["session"]});
    client.post("/_matrix/client/v3/register", &body).await
}

#[tokio::test]
async fn spam_checks_guard_rooms_aliases_and_the_directory() {
    let server = server().await;
    let alice = server.register("alice", "password-1").await;
    let nocreate = server.register("nocreate", "password-1").await;
    let nojoin = server.register("nojoin", "password-1").await;
    let nopublish = server.register("nopublish", "password-1").await;
    let hidden = server.register("hidden", "password-1").await;

    assert_error(&nocreate.post("/_matrix/client/v3/createRoom", &json!({})).await, 403, "M_FORBIDDEN");
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_error(&nojoin.join(&room).await, 403, "M_FORBIDDEN");
    assert_eq!(nopublish.join(&room).await.0, 200);
    assert_eq!(hidden.join(&room).await.0, 200);

    let alias_path =
        |name: &str| format!("/_matrix/client/v3/directory/room/{}", encode(&format!("#{name}:localhost")));
    assert_error(&alice.put(&alias_path("bad-name"), &json!({"room_id": room})).await, 403, "M_FORBIDDEN");
    assert_eq!(alice.put(&alias_path("good-name"), &json!({"room_id": room})).await.0, 200);
    let created = alice.post("/_matrix/client/v3/createRoom", &json!({"room_alias_name": "bad-too"})).await;
    assert_error(&created, 403, "M_FORBIDDEN");

    let list_path = format!("/_matrix/client/v3/directory/list/room/{}", encode(&room));
    // Only those with enough power may publish; give nopublish that power
    // so that the refusal comes from the plugin.
    let (status, _) = alice
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/m.room.power_levels/", encode(&room)),
            &json!({"users": {"@nopublish:localhost": 100}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_error(&nopublish.put(&list_path, &json!({"visibility": "public"})).await, 403, "M_FORBIDDEN");
    assert_eq!(alice.put(&list_path, &json!({"visibility": "public"})).await.0, 200);

    // Both share a room with Alice; the plugin hides one of them.
    let (_, found) = alice.post("/_matrix/client/v3/user_directory/search", &json!({"search_term": "hidden"})).await;
    assert_eq!(found["results"], json!([]), "{found}");
    let (_, found) = alice.post("/_matrix/client/v3/user_directory/search", &json!({"search_term": "nopublish"})).await;
    assert_eq!(found["results"][0]["user_id"], "@nopublish:localhost", "{found}");
}

#[tokio::test]
async fn third_party_rules_rewrite_refuse_and_guard_deactivation() {
    let server = server().await;
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(json!({})).await;
    let (status, sent) = alice.send_message(&room, "my secret plan").await;
    assert_eq!(status, 200, "{sent}");
    let (_, event) = alice
        .get(&format!(
            "/_matrix/client/v3/rooms/{}/event/{}",
            encode(&room),
            encode(sent["event_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(event["content"]["body"], "my [redacted] plan");
    // add_field_to_unsigned annotates messages as they are served.
    assert_eq!(event["unsigned"]["org.example.seen"], true, "{event}");
    let vetoed = alice.send_message(&room, "veto").await;
    assert_error(&vetoed, 403, "M_FORBIDDEN");
    assert_eq!(vetoed.1["error"], "vetoed");

    assert_error(
        &alice.post("/_matrix/client/v3/createRoom", &json!({"name": "forbidden room"})).await,
        403,
        "M_FORBIDDEN",
    );

    let undeletable = server.register("undeletable", "password-1").await;
    let auth = json!({"auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "undeletable"}, "password": "password-1"}});
    assert_error(&undeletable.post("/_matrix/client/v3/account/deactivate", &auth).await, 403, "M_FORBIDDEN");
    let (status, _) = undeletable.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(status, 200, "the account is still active");
}

#[tokio::test]
async fn registration_and_login_hooks() {
    let server = server().await;
    let client = server.client();
    assert_error(&register(&client, "spammer").await, 403, "M_FORBIDDEN");
    let (status, renamed) = register(&client, "rename-me").await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["user_id"], "@renamed:localhost");
    let me = client.with_token(renamed["access_token"].as_str().unwrap());
    let (_, name) = me.get("/_matrix/client/v3/profile/@renamed:localhost/displayname").await;
    assert_eq!(name["displayname"], "From Plugin");

    // The plugin's login type is offered and works.
    let (_, flows) = client.get("/_matrix/client/v3/login").await;
    assert!(flows["flows"].as_array().unwrap().iter().any(|f| f["type"] == "org.example.token"), "{flows}");
    let login = |user: &str, token: &str| json!({"type": "org.example.token", "identifier": {"type": "m.id.user", "user": user}, "token": token});
    let (status, logged_in) = client.post("/_matrix/client/v3/login", &login("renamed", "open-sesame")).await;
    assert_eq!((status, &logged_in["user_id"]), (200, &json!("@renamed:localhost")), "{logged_in}");
    assert_error(&client.post("/_matrix/client/v3/login", &login("renamed", "wrong")).await, 403, "M_FORBIDDEN");
    assert_error(&client.post("/_matrix/client/v3/login", &login("nobody", "open-sesame")).await, 403, "M_FORBIDDEN");

    server.register("blocked-login", "password-1").await;
    let password = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "blocked-login"}, "password": "password-1"});
    assert_error(&client.post("/_matrix/client/v3/login", &password).await, 403, "M_FORBIDDEN");
}

#[tokio::test]
async fn expired_accounts_are_refused() {
    let server = server().await;
    let expired = server.register("expired-user", "password-1").await;
    let valid = server.register("valid-user", "password-1").await;
    let refused = expired.get("/_matrix/client/v3/account/whoami").await;
    assert_error(&refused, 403, "ORG_MATRIX_EXPIRED_ACCOUNT");
    assert_eq!(valid.get("/_matrix/client/v3/account/whoami").await.0, 200);
}
