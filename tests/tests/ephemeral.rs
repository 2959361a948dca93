//! Typing, receipts, read markers, room account data and tags, and how
//! they show up in `/sync`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

async fn sync(client: &Client, since: Option<&str>, timeout: u64) -> Value {
    let path = match since {
        Some(token) => format!("/_matrix/client/v3/sync?since={}&timeout={timeout}", encode(token)),
        None => "/_matrix/client/v3/sync?timeout=0".to_owned(),
    };
    let (status, body) = client.get(&path).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn ephemeral<'a>(response: &'a Value, room_id: &str, kind: &str) -> Option<&'a Value> {
    response["rooms"]["join"][room_id]["ephemeral"]["events"].as_array()?.iter().find(|e| e["type"] == kind)
}

#[tokio::test]
async fn typing_shows_up_and_expires() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let token = sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let path = format!("/_matrix/client/v3/rooms/{}/typing/@bob:localhost", encode(&room_id));
    assert_eq!(bob.put(&path, &json!({"typing": true, "timeout": 800})).await.0, 200);
    let next = sync(&alice, Some(&token), 5000).await;
    let typing = ephemeral(&next, &room_id, "m.typing").expect("typing event");
    assert_eq!(typing["content"]["user_ids"], json!(["@bob:localhost"]));
    // The timeout ends it, and syncing clients are told.
    let token = next["next_batch"].as_str().unwrap().to_owned();
    let later = sync(&alice, Some(&token), 5000).await;
    let typing = ephemeral(&later, &room_id, "m.typing").expect("typing stop");
    assert_eq!(typing["content"]["user_ids"], json!([]));
    // Nobody may type for someone else, nor in a room they are not in.
    assert_error(&alice.put(&path, &json!({"typing": true})).await, 403, "M_FORBIDDEN");
    let carol = server.register("carol", "pw").await;
    let carol_path = format!("/_matrix/client/v3/rooms/{}/typing/@carol:localhost", encode(&room_id));
    assert_error(&carol.put(&carol_path, &json!({"typing": true})).await, 403, "M_FORBIDDEN");
    assert_error(&bob.put(&path, &json!({})).await, 400, "M_MISSING_PARAM");
}

#[tokio::test]
async fn receipts_public_and_private() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let event = alice.send_text(&room_id, "read me").await;
    let token = sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let receipt =
        |kind: &str| format!("/_matrix/client/v3/rooms/{}/receipt/{kind}/{}", encode(&room_id), encode(&event));
    assert_eq!(bob.post(&receipt("m.read"), &json!({})).await.0, 200);
    let next = sync(&alice, Some(&token), 5000).await;
    let receipts = ephemeral(&next, &room_id, "m.receipt").expect("receipt");
    assert!(receipts["content"][&event]["m.read"]["@bob:localhost"]["ts"].is_number(), "{receipts}");
    // Private receipts reach only their owner.
    let token = next["next_batch"].as_str().unwrap().to_owned();
    let bob_token = sync(&bob, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    assert_eq!(bob.post(&receipt("m.read.private"), &json!({"thread_id": "main"})).await.0, 200);
    let alice_view = sync(&alice, Some(&token), 0).await;
    assert!(ephemeral(&alice_view, &room_id, "m.receipt").is_none(), "{alice_view}");
    let bob_view = sync(&bob, Some(&bob_token), 0).await;
    let own = ephemeral(&bob_view, &room_id, "m.receipt").expect("own private receipt");
    assert_eq!(own["content"][&event]["m.read.private"]["@bob:localhost"]["thread_id"], "main");
    assert_error(&bob.post(&receipt("m.bogus"), &json!({})).await, 400, "M_INVALID_PARAM");
    let unknown = format!("/_matrix/client/v3/rooms/{}/receipt/m.read/%24nope", encode(&room_id));
    assert_error(&bob.post(&unknown, &json!({})).await, 404, "M_NOT_FOUND");
    let bad_thread = bob.post(&receipt("m.read"), &json!({"thread_id": "nonsense"})).await;
    assert_error(&bad_thread, 400, "M_INVALID_PARAM");
}

#[tokio::test]
async fn read_markers_tags_and_room_account_data() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let event = alice.send_text(&room_id, "marker").await;
    let token = sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let markers = format!("/_matrix/client/v3/rooms/{}/read_markers", encode(&room_id));
    assert_eq!(alice.post(&markers, &json!({"m.fully_read": event, "m.read": event})).await.0, 200);
    let tags = format!("/_matrix/client/v3/user/@alice:localhost/rooms/{}/tags", encode(&room_id));
    assert_eq!(alice.put(&format!("{tags}/m.favourite"), &json!({"order": 0.5})).await.0, 200);
    assert_eq!(alice.put(&format!("{tags}/u.work"), &json!({})).await.0, 200);
    assert_eq!(alice.delete(&format!("{tags}/u.work"), None).await.0, 200);
    assert_eq!(alice.get(&tags).await.1, json!({"tags": {"m.favourite": {"order": 0.5}}}));
    assert_error(&alice.put(&format!("{tags}/x"), &json!({"order": "high"})).await, 400, "M_BAD_JSON");
    let data =
        format!("/_matrix/client/v3/user/@alice:localhost/rooms/{}/account_data/org.example.note", encode(&room_id));
    assert_eq!(alice.put(&data, &json!({"note": "hi"})).await.0, 200);
    assert_eq!(alice.get(&data).await.1, json!({"note": "hi"}));
    let fully_read =
        format!("/_matrix/client/v3/user/@alice:localhost/rooms/{}/account_data/m.fully_read", encode(&room_id));
    assert_error(&alice.put(&fully_read, &json!({"event_id": event})).await, 405, "M_BAD_JSON");
    assert_eq!(alice.get(&fully_read).await.1, json!({"event_id": event}));

    let next = sync(&alice, Some(&token), 0).await;
    let room = &next["rooms"]["join"][&room_id];
    let types: Vec<&str> =
        room["account_data"]["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"m.fully_read") && types.contains(&"m.tag") && types.contains(&"org.example.note"),
        "{types:?}"
    );
    assert!(ephemeral(&next, &room_id, "m.receipt").is_some());
}

#[tokio::test]
async fn capabilities_list_room_versions() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (_, caps) = alice.get("/_matrix/client/v3/capabilities").await;
    let versions = &caps["capabilities"]["m.room_versions"];
    assert_eq!(versions["default"], "12");
    assert_eq!(versions["available"]["1"], "stable");
    assert_eq!(versions["available"].as_object().unwrap().len(), 12);
}
