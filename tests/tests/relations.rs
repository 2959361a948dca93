//! Relations: edits, threads, references, reactions, `/relations` and
//! `/threads`, and bundled aggregations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

async fn send(client: &Client, room_id: &str, event_type: &str, content: Value) -> String {
    let txn = format!("{}", rand_id());
    let (status, body) =
        client.put(&format!("/_matrix/client/v3/rooms/{}/send/{event_type}/{txn}", encode(room_id)), &content).await;
    assert_eq!(status, 200, "{body}");
    body["event_id"].as_str().unwrap().to_owned()
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn event(client: &Client, room_id: &str, event_id: &str) -> Value {
    let (status, body) =
        client.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", encode(room_id), encode(event_id))).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn edits_threads_and_references_are_bundled() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let original = alice.send_text(&room_id, "helo").await;
    let edit = |body: &str| {
        json!({"msgtype": "m.text", "body": format!("* {body}"), "m.new_content": {"msgtype": "m.text", "body": body},
               "m.relates_to": {"rel_type": "m.replace", "event_id": original}})
    };
    send(&alice, &room_id, "m.room.message", edit("hello")).await;
    let latest = send(&alice, &room_id, "m.room.message", edit("hello!")).await;
    // Bob may not edit alice's message: his edit is not bundled.
    send(&bob, &room_id, "m.room.message", edit("pwned")).await;
    let viewed = event(&bob, &room_id, &original).await;
    assert_eq!(viewed["content"]["body"], "helo", "the original content is served");
    let replace = &viewed["unsigned"]["m.relations"]["m.replace"];
    assert_eq!(replace["event_id"], latest);
    assert_eq!(replace["content"]["m.new_content"]["body"], "hello!");

    let root = alice.send_text(&room_id, "thread root").await;
    let reply = |body: &str| json!({"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    send(&bob, &room_id, "m.room.message", reply("first reply")).await;
    let last_reply = send(&bob, &room_id, "m.room.message", reply("second reply")).await;
    send(
        &alice,
        &room_id,
        "m.room.message",
        json!({"body": "see above", "m.relates_to": {"rel_type": "m.reference", "event_id": root}}),
    )
    .await;
    let viewed = event(&alice, &room_id, &root).await;
    let thread = &viewed["unsigned"]["m.relations"]["m.thread"];
    assert_eq!(thread["count"], 2);
    assert_eq!(thread["latest_event"]["event_id"], last_reply);
    assert_eq!(thread["current_user_participated"], true, "alice wrote the root");
    assert_eq!(viewed["unsigned"]["m.relations"]["m.reference"]["chunk"].as_array().unwrap().len(), 1);

    // The same bundles come with /messages and /sync timelines.
    let (_, page) = alice.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", encode(&room_id))).await;
    let in_page = page["chunk"].as_array().unwrap().iter().find(|e| e["event_id"] == root).unwrap();
    assert_eq!(in_page["unsigned"]["m.relations"]["m.thread"]["count"], 2);

    // Threads list; a user who never wrote in a thread sees none as "participated".
    let carol = server.register("carol", "pw").await;
    carol.join(&room_id).await;
    let (status, threads) = carol.get(&format!("/_matrix/client/v1/rooms/{}/threads", encode(&room_id))).await;
    assert_eq!(status, 200, "{threads}");
    assert_eq!(threads["chunk"][0]["event_id"], root);
    let (_, mine) =
        carol.get(&format!("/_matrix/client/v1/rooms/{}/threads?include=participated", encode(&room_id))).await;
    assert!(mine["chunk"].as_array().unwrap().is_empty());
    let (_, bobs) =
        bob.get(&format!("/_matrix/client/v1/rooms/{}/threads?include=participated", encode(&room_id))).await;
    assert_eq!(bobs["chunk"].as_array().unwrap().len(), 1);
    assert_error(
        &bob.get(&format!("/_matrix/client/v1/rooms/{}/threads?include=odd", encode(&room_id))).await,
        400,
        "M_INVALID_PARAM",
    );
}

#[tokio::test]
async fn relations_endpoint_paginates_and_filters() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let target = alice.send_text(&room_id, "react to me").await;
    let mut reactions = Vec::new();
    for key in ["a", "b", "c", "d", "e", "f", "g"] {
        let content = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}});
        reactions.push(send(&alice, &room_id, "m.reaction", content).await);
    }
    let base = format!("/_matrix/client/v1/rooms/{}/relations/{}", encode(&room_id), encode(&target));
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let path = match &from {
            Some(token) => format!("{base}/m.annotation/m.reaction?limit=3&from={token}"),
            None => format!("{base}/m.annotation/m.reaction?limit=3"),
        };
        let (status, page) = alice.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()));
        match page.get("next_batch").and_then(Value::as_str) {
            Some(token) => from = Some(token.to_owned()),
            None => break,
        }
    }
    reactions.reverse();
    assert_eq!(seen, reactions, "newest first, each once");
    let (_, forwards) = alice.get(&format!("{base}?dir=f&limit=2")).await;
    let first: Vec<&str> =
        forwards["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(first, vec![reactions[6].as_str(), reactions[5].as_str()]);
    let (_, none) = alice.get(&format!("{base}/m.thread")).await;
    assert!(none["chunk"].as_array().unwrap().is_empty());
    // Redacted relations disappear.
    let (status, _) = alice
        .put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", encode(&room_id), encode(&reactions[0])), &json!({}))
        .await;
    assert_eq!(status, 200);
    let (_, after) = alice.get(&format!("{base}?limit=50")).await;
    assert_eq!(after["chunk"].as_array().unwrap().len(), 6);
    // A stranger cannot look.
    let stranger = server.register("stranger", "pw").await;
    assert_error(&stranger.get(&base).await, 403, "M_FORBIDDEN");
}
