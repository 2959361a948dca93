//! The example modules in examples/, end to end through a running server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use trellis_tests::client::{Client, assert_error, encode};
use trellis_tests::plugins::wasm;
use trellis_tests::{TestServer, eventually};

/// Message bodies in a room, oldest first.
async fn bodies_from(user: &Client, room: &str, sender: &str) -> Vec<String> {
    let (status, page) = user.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100", encode(room))).await;
    assert_eq!(status, 200, "{page}");
    let mut bodies: Vec<String> = page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "m.room.message" && event["sender"] == sender)
        .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
        .collect();
    bodies.reverse();
    bodies
}

#[tokio::test]
async fn spam_filter_refuses_keywords_and_patterns() {
    let yaml = format!(
        "modules:\n  - module: \"{}\"\n    config:\n      keywords: [\"buy now\"]\n      patterns: [\"*casino*\"]\n      exempt_users: [\"@mod:localhost\"]\n      message: \"No spam here\"\n",
        wasm("spam-filter")
    );
    let server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let moderator = server.register("mod", "password-1").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_eq!(moderator.join(&room).await.0, 200);

    let refused = alice.send_message(&room, "Cheap watches, BUY NOW!").await;
    assert_error(&refused, 403, "M_FORBIDDEN");
    assert_eq!(refused.1["error"], "No spam here");
    assert_error(&alice.send_message(&room, "best online CASINO in town").await, 403, "M_FORBIDDEN");
    // Room names are checked too.
    let (status, _) = alice
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", encode(&room)),
            &json!({"name": "casino royale"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(alice.send_message(&room, "hello there").await.0, 200);
    assert_eq!(moderator.send_message(&room, "example of spam: buy now").await.0, 200, "exempt users pass");
    // Refused messages never reached the room.
    let bodies = bodies_from(&alice, &room, "@alice:localhost").await;
    assert_eq!(bodies, vec!["hello there".to_owned()]);
}

#[tokio::test]
async fn a_bad_spam_filter_config_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let database = trellis_tests::TestDatabase::create(dir.path()).await;
    let yaml = format!(
        "{}modules:\n  - module: \"{}\"\n    config: {{keywords: [\"\"]}}\n",
        trellis_tests::base_yaml(&database, dir.path()),
        wasm("spam-filter")
    );
    let error = trellis_tests::boot(&yaml).await.map(|_| ()).unwrap_err();
    assert!(format!("{error:#}").contains("may not be empty"), "{error:#}");
}

#[tokio::test]
async fn template_refuses_its_forbidden_word() {
    let yaml = format!("modules:\n  - module: \"{}\"\n    config: {{forbidden_word: \"durian\"}}\n", wasm("template"));
    let server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(json!({})).await;
    assert_error(&alice.send_message(&room, "I love durian").await, 403, "M_FORBIDDEN");
    assert_eq!(alice.send_message(&room, "I love mango").await.0, 200);
}

#[tokio::test]
async fn auto_accept_joins_chosen_users_when_invited() {
    let yaml = format!(
        "modules:\n  - module: \"{}\"\n    config: {{users: [\"@bot:localhost\"]}}\n    capabilities: {{room_write: {{senders: [\"@bot:localhost\"]}}}}\n",
        wasm("auto-accept-invites")
    );
    let server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let bot = server.register("bot", "password-1").await;
    let bob = server.register("bob", "password-1").await;
    let room = alice.create_room(json!({})).await;
    for user in ["@bot:localhost", "@bob:localhost"] {
        let (status, body) =
            alice.post(&format!("/_matrix/client/v3/rooms/{}/invite", encode(&room)), &json!({"user_id": user})).await;
        assert_eq!(status, 200, "{body}");
    }
    let members_path = format!("/_matrix/client/v3/rooms/{}/joined_members", encode(&room));
    eventually("the bot joins", || async {
        alice.get(&members_path).await.1["joined"].get("@bot:localhost").is_some()
    })
    .await;
    let (_, rooms) = bot.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(rooms["joined_rooms"], json!([room]));
    // Bob is not on the list: his invite stays pending.
    let (_, members) = alice.get(&members_path).await;
    assert!(members["joined"].get("@bob:localhost").is_none(), "{members}");
    let (_, rooms) = bob.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(rooms["joined_rooms"], json!([]));
}

#[tokio::test]
async fn welcome_message_greets_first_joins_only() {
    let yaml = format!(
        "modules:\n  - module: \"{}\"\n    config: {{sender: \"@greeter:localhost\", message: \"Welcome, {{name}}!\"}}\n    capabilities: {{kv: true, room_write: {{senders: [\"@greeter:localhost\"]}}}}\n",
        wasm("welcome-message")
    );
    let server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let greeter = server.register("greeter", "password-1").await;
    let carol = server.register("carol", "password-1").await;
    let dave = server.register("dave", "password-1").await;
    let (status, _) =
        carol.put("/_matrix/client/v3/profile/@carol:localhost/displayname", &json!({"displayname": "Carol"})).await;
    assert_eq!(status, 200);
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_eq!(greeter.join(&room).await.0, 200);

    assert_eq!(carol.join(&room).await.0, 200);
    eventually("Carol is welcomed", || async {
        bodies_from(&alice, &room, "@greeter:localhost").await.contains(&"Welcome, Carol!".to_owned())
    })
    .await;
    // Leaving and coming back is not a first join.
    let (status, _) = carol.post(&format!("/_matrix/client/v3/rooms/{}/leave", encode(&room)), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(carol.join(&room).await.0, 200);
    assert_eq!(dave.join(&room).await.0, 200);
    eventually("Dave is welcomed", || async {
        bodies_from(&alice, &room, "@greeter:localhost").await.contains(&"Welcome, dave!".to_owned())
    })
    .await;
    let greetings = bodies_from(&alice, &room, "@greeter:localhost").await;
    assert_eq!(greetings.iter().filter(|body| *body == "Welcome, Carol!").count(), 1, "{greetings:?}");
}

#[tokio::test]
async fn message_stats_limits_length_and_counts_concurrent_messages() {
    // Written from the docs alone by a first-time module author; see
    // examples/message-stats/README.md.
    let yaml = format!(
        "modules:\n  - module: \"{}\"\n    config: {{max_length: 20}}\n    capabilities: {{kv: true}}\n",
        wasm("message-stats")
    );
    let server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(json!({})).await;
    assert_error(&alice.send_message(&room, &"é".repeat(21)).await, 403, "M_FORBIDDEN");
    assert_eq!(alice.send_message(&room, &"é".repeat(20)).await.0, 200, "characters, not bytes");
    let sends = (0..30).map(|i| {
        let alice = alice.clone();
        let room = room.clone();
        async move { alice.send_message(&room, &format!("message {i}")).await.0 }
    });
    assert!(futures::future::join_all(sends).await.iter().all(|status| *status == 200));
    let stats = format!("/_trellis/plugins/message_stats/stats?room_id={}", encode(&room));
    eventually("31 messages are counted", || async { alice.get(&stats).await.1["messages"] == 31 }).await;
    assert_error(&server.client().get(&stats).await, 401, "M_MISSING_TOKEN");
    assert_error(&alice.get("/_trellis/plugins/message_stats/stats").await, 400, "M_MISSING_PARAM");
}

#[tokio::test]
async fn modules_are_asked_in_order_and_the_first_denial_wins() {
    let yaml = format!(
        "modules:\n  - module: \"{}\"\n    config: {{forbidden_word: durian}}\n  - module: \"{}\"\n    config: {{keywords: [durian, mango], message: \"second module\"}}\n",
        wasm("template"),
        wasm("spam-filter")
    );
    let server = TestServer::start_with(&yaml).await;
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(json!({})).await;
    let first = alice.send_message(&room, "durian").await;
    assert_error(&first, 403, "M_FORBIDDEN");
    assert_eq!(first.1["error"], "messages may not contain \"durian\"");
    let second = alice.send_message(&room, "mango").await;
    assert_eq!(second.1["error"], "second module", "the first allowed, so the second was asked");
}
