//! Durability across restarts and the schema compatibility guard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trellis_tests::{Client, TestServer, base_yaml, boot};

#[tokio::test]
async fn data_and_tokens_survive_a_restart() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    alice.put("/_matrix/client/v3/user/@alice:localhost/account_data/a.b", &json!({"k": 1})).await;
    let token = alice.token.clone().unwrap();
    server.restart().await;
    let alice = Client::new(&server.base_url).with_token(&token);
    assert_eq!(alice.get("/_matrix/client/v3/account/whoami").await.1["user_id"], "@alice:localhost");
    assert_eq!(alice.get("/_matrix/client/v3/user/@alice:localhost/account_data/a.b").await.1, json!({"k": 1}));
}

#[tokio::test]
async fn uia_sessions_survive_a_restart() {
    let mut server = TestServer::start().await;
    let (status, challenge) =
        server.client().post("/_matrix/client/v3/register", &json!({"username": "zed", "password": "pw"})).await;
    assert_eq!(status, 401);
    server.restart().await;
    let (status, body) = server
        .client()
        .post("/_matrix/client/v3/register", &json!({"username": "zed", "password": "pw", "auth": {"type": "m.login.dummy", "session": challenge["session"]}}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn newer_incompatible_schema_refuses_to_start() {
    let mut server = TestServer::start().await;
    server.stop().await;
    server.database.execute("UPDATE schema_version SET version = 999, compat_version = 998").await;
    let err = boot(&base_yaml(&server.database, server.dir.path())).await.expect_err("must refuse to start");
    let text = format!("{err:#}");
    assert!(text.contains("998") && text.contains("newer Trellis"), "{text}");
}

#[tokio::test]
async fn newer_but_compatible_schema_starts() {
    let mut server = TestServer::start().await;
    server.stop().await;
    server.database.execute("UPDATE schema_version SET version = 999, compat_version = 1").await;
    let running = boot(&base_yaml(&server.database, server.dir.path())).await.expect("compatible schema must start");
    running.shutdown().await;
}

#[tokio::test]
async fn concurrent_registrations_of_one_name_make_one_account() {
    let server = TestServer::start().await;
    let attempts = (0..8).map(|_| {
        let client = server.client();
        async move {
            client
                .post(
                    "/_matrix/client/v3/register",
                    &json!({"username": "race", "password": "pw", "auth": {"type": "m.login.dummy"}}),
                )
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(results.iter().all(|(s, b)| *s == 200 || b["errcode"] == "M_USER_IN_USE"), "{results:?}");
}

#[tokio::test]
async fn old_transaction_ids_are_pruned() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(serde_json::json!({})).await;
    let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/txn-1", trellis_tests::client::encode(&room));
    let body = serde_json::json!({"msgtype": "m.text", "body": "once"});
    let (_, first) = alice.put(&path, &body).await;
    let (_, retry) = alice.put(&path, &body).await;
    assert_eq!(first["event_id"], retry["event_id"], "a retry within the lifetime is deduplicated");
    let storage = &server.server.as_ref().unwrap().services.storage;
    assert_eq!(storage.prune_txn_ids(trellis_storage_now() - 60_000).await.unwrap(), 0, "recent ids stay");
    assert!(storage.prune_txn_ids(trellis_storage_now() + 1).await.unwrap() >= 1);
    let (_, after) = alice.put(&path, &body).await;
    assert_ne!(first["event_id"], after["event_id"], "a pruned transaction id sends anew");
    // The event keeps its transaction id for its device, as in Synapse.
    let messages = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=10", trellis_tests::client::encode(&room));
    let (_, page) = alice.get(&messages).await;
    let chunk = page["chunk"].as_array().unwrap();
    let served = chunk.iter().find(|e| e["event_id"] == first["event_id"]).unwrap();
    assert_eq!(served["unsigned"]["transaction_id"], "txn-1");
}

fn trellis_storage_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
