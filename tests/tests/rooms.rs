//! Rooms: creation, membership, sending, state, redaction and reading back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

fn rooms(room_id: &str, rest: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/{rest}", encode(room_id))
}

async fn state_content(client: &Client, room_id: &str, event_type: &str, state_key: &str) -> (u16, Value) {
    client.get(&rooms(room_id, &format!("state/{event_type}/{}", encode(state_key)))).await
}

#[tokio::test]
async fn create_room_default_version_and_initial_state() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice
        .create_room(json!({"name": "Garden", "topic": "Plants", "room_alias_name": "garden", "invite": []}))
        .await;
    // Room version 12 ids carry no server name.
    assert!(room_id.starts_with('!') && !room_id.contains(':'), "{room_id}");
    let (status, create) = state_content(&alice, &room_id, "m.room.create", "").await;
    assert_eq!(status, 200);
    assert_eq!(create["room_version"], "12");
    assert!(create.get("creator").is_none(), "v11+ has no creator field: {create}");
    assert_eq!(state_content(&alice, &room_id, "m.room.name", "").await.1, json!({"name": "Garden"}));
    assert_eq!(state_content(&alice, &room_id, "m.room.topic", "").await.1["topic"], "Plants");
    assert_eq!(state_content(&alice, &room_id, "m.room.join_rules", "").await.1["join_rule"], "invite");
    assert_eq!(
        state_content(&alice, &room_id, "m.room.history_visibility", "").await.1["history_visibility"],
        "shared"
    );
    assert_eq!(state_content(&alice, &room_id, "m.room.canonical_alias", "").await.1["alias"], "#garden:localhost");
    let member = state_content(&alice, &room_id, "m.room.member", "@alice:localhost").await.1;
    assert_eq!(member["membership"], "join");
    assert_eq!(member["displayname"], "alice");
    // v12: the creator is privileged by the create event, not listed in power levels.
    let power = state_content(&alice, &room_id, "m.room.power_levels", "").await.1;
    assert!(power["users"].get("@alice:localhost").is_none(), "{power}");
    // format=event gives the whole event.
    let (_, event) = alice.get(&rooms(&room_id, "state/m.room.name/?format=event")).await;
    assert_eq!(event["type"], "m.room.name");
    assert_eq!(event["sender"], "@alice:localhost");
    assert!(event["event_id"].as_str().unwrap().starts_with('$'));
    // The alias resolves.
    let (_, alias) = alice.get("/_matrix/client/v3/directory/room/%23garden%3Alocalhost").await;
    assert_eq!(alias["room_id"], room_id);
    let (_, joined) = alice.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(joined["joined_rooms"], json!([room_id]));
    let (_, all_state) = alice.get(&rooms(&room_id, "state")).await;
    assert!(all_state.as_array().unwrap().len() >= 8, "{all_state}");
}

#[tokio::test]
async fn every_room_version_works() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    for version in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"] {
        let room_id = alice.create_room(json!({"room_version": version, "invite": ["@bob:localhost"]})).await;
        assert_eq!(room_id.contains(':'), version != "12", "v{version}: {room_id}");
        assert_eq!(bob.join(&room_id).await.0, 200, "v{version}");
        let event_id = bob.send_text(&room_id, &format!("hello v{version}")).await;
        if matches!(version, "1" | "2") {
            assert!(event_id.ends_with(":localhost"), "{event_id}");
        }
        let (status, event) = alice.get(&rooms(&room_id, &format!("event/{}", encode(&event_id)))).await;
        assert_eq!(status, 200, "v{version}: {event}");
        assert_eq!(event["content"]["body"], format!("hello v{version}"));
        let (_, create) = state_content(&alice, &room_id, "m.room.create", "").await;
        assert_eq!(create["room_version"], version);
    }
    let result = alice.post("/_matrix/client/v3/createRoom", &json!({"room_version": "99"})).await;
    assert_error(&result, 400, "M_UNSUPPORTED_ROOM_VERSION");
}

#[tokio::test]
async fn membership_lifecycle_and_permissions() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let carol = server.register("carol", "pw").await;
    let room_id = alice.create_room(json!({})).await;

    // Invite-only: bob cannot join uninvited, nor send.
    assert_error(&bob.join(&room_id).await, 403, "M_FORBIDDEN");
    let send = bob.put(&rooms(&room_id, "send/m.room.message/x1"), &json!({"body": "hi"})).await;
    assert_error(&send, 403, "M_FORBIDDEN");

    let invite = |target: &str| json!({"user_id": target});
    assert_eq!(alice.post(&rooms(&room_id, "invite"), &invite("@bob:localhost")).await.0, 200);
    assert_error(&alice.post(&rooms(&room_id, "invite"), &invite("@ghost:localhost")).await, 404, "M_NOT_FOUND");
    assert_error(&alice.post(&rooms(&room_id, "invite"), &invite("not a user")).await, 400, "M_INVALID_PARAM");
    assert_eq!(bob.post(&rooms(&room_id, "join"), &json!({})).await.0, 200);
    // Bob (power 0) cannot kick alice, nor invite in a room where invite needs 0? (private_chat: invite is 0)
    assert_error(&bob.post(&rooms(&room_id, "kick"), &invite("@alice:localhost")).await, 403, "M_FORBIDDEN");
    assert_eq!(bob.post(&rooms(&room_id, "invite"), &invite("@carol:localhost")).await.0, 200);
    // Carol rejects the invite.
    assert_eq!(carol.post(&rooms(&room_id, "leave"), &json!({})).await.0, 200);

    let (_, members) = alice.get(&rooms(&room_id, "joined_members")).await;
    let joined: Vec<&String> = members["joined"].as_object().unwrap().keys().collect();
    assert_eq!(joined, vec!["@alice:localhost", "@bob:localhost"]);
    let (_, all) = alice.get(&rooms(&room_id, "members?not_membership=join")).await;
    let others: Vec<&str> = all["chunk"].as_array().unwrap().iter().map(|e| e["state_key"].as_str().unwrap()).collect();
    assert_eq!(others, vec!["@carol:localhost"]);

    // Kick, then ban: bob can no longer come back even when invited.
    assert_eq!(
        alice.post(&rooms(&room_id, "kick"), &json!({"user_id": "@bob:localhost", "reason": "bye"})).await.0,
        200
    );
    let (_, kicked) = state_content(&alice, &room_id, "m.room.member", "@bob:localhost").await;
    assert_eq!(kicked, json!({"membership": "leave", "reason": "bye"}));
    assert_eq!(alice.post(&rooms(&room_id, "ban"), &invite("@bob:localhost")).await.0, 200);
    assert_error(&alice.post(&rooms(&room_id, "invite"), &invite("@bob:localhost")).await, 403, "M_FORBIDDEN");
    assert_error(&bob.join(&room_id).await, 403, "M_FORBIDDEN");
    assert_eq!(alice.post(&rooms(&room_id, "unban"), &invite("@bob:localhost")).await.0, 200);
    assert_error(&alice.post(&rooms(&room_id, "unban"), &invite("@bob:localhost")).await, 403, "M_FORBIDDEN");

    // Leaving and forgetting.
    assert_error(&alice.post(&rooms(&room_id, "forget"), &json!({})).await, 400, "M_UNKNOWN");
    assert_error(&carol.post(&rooms(&room_id, "leave"), &json!({})).await, 403, "M_FORBIDDEN");
    assert_error(&bob.post(&rooms("!nope:localhost", "leave"), &json!({})).await, 404, "M_NOT_FOUND");
    assert_eq!(bob.post(&rooms(&room_id, "forget"), &json!({})).await.0, 200);
}

#[tokio::test]
async fn public_rooms_can_be_joined_by_alias() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat", "room_alias_name": "lobby"})).await;
    let (status, body) = bob.join("#lobby:localhost").await;
    assert_eq!((status, body["room_id"].as_str()), (200, Some(room_id.as_str())));
    // Joining twice is harmless.
    assert_eq!(bob.join(&room_id).await.0, 200);
    assert_error(&bob.join("#nowhere:localhost").await, 404, "M_NOT_FOUND");
    let taken = alice.post("/_matrix/client/v3/createRoom", &json!({"room_alias_name": "lobby"})).await;
    assert_error(&taken, 400, "M_ROOM_IN_USE");
}

#[tokio::test]
async fn sending_is_idempotent_per_device_and_txn() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let path = rooms(&room_id, "send/m.room.message/txn-1");
    let (_, first) = alice.put(&path, &json!({"msgtype": "m.text", "body": "once"})).await;
    let (_, again) = alice.put(&path, &json!({"msgtype": "m.text", "body": "once"})).await;
    assert_eq!(first["event_id"], again["event_id"]);
    let (_, page) = alice.get(&rooms(&room_id, "messages?dir=b&limit=50")).await;
    let bodies: Vec<&Value> =
        page["chunk"].as_array().unwrap().iter().filter(|e| e["type"] == "m.room.message").collect();
    assert_eq!(bodies.len(), 1);
    // The sender's own device sees its transaction id.
    assert_eq!(bodies[0]["unsigned"]["transaction_id"], "txn-1");
    // Another device reusing the txn id sends a new event.
    let (_, login) = server
        .client()
        .post("/_matrix/client/v3/login", &json!({"type": "m.login.password", "user": "alice", "password": "pw"}))
        .await;
    let phone = server.client().with_token(login["access_token"].as_str().unwrap());
    let (_, other) = phone.put(&path, &json!({"msgtype": "m.text", "body": "once"})).await;
    assert_ne!(other["event_id"], first["event_id"]);
    // Each device sees the transaction id of its own event only, in
    // `/messages`, `/event` and `/sync`.
    let txn_of = |page: &Value, event_id: &Value| {
        page["chunk"].as_array().unwrap().iter().find(|e| e["event_id"] == *event_id).unwrap()["unsigned"]
            ["transaction_id"]
            .clone()
    };
    let (_, laptop_page) = alice.get(&rooms(&room_id, "messages?dir=b&limit=50")).await;
    let (_, phone_page) = phone.get(&rooms(&room_id, "messages?dir=b&limit=50")).await;
    assert_eq!(txn_of(&laptop_page, &first["event_id"]), "txn-1");
    assert_eq!(txn_of(&laptop_page, &other["event_id"]), Value::Null);
    assert_eq!(txn_of(&phone_page, &other["event_id"]), "txn-1");
    assert_eq!(txn_of(&phone_page, &first["event_id"]), Value::Null);
    let event_path = rooms(&room_id, &format!("event/{}", encode(first["event_id"].as_str().unwrap())));
    assert_eq!(alice.get(&event_path).await.1["unsigned"]["transaction_id"], "txn-1");
    assert_eq!(phone.get(&event_path).await.1["unsigned"].get("transaction_id"), None);
}

#[tokio::test]
async fn state_events_and_errors() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let (status, put) = alice.put(&rooms(&room_id, "state/org.example.config/key1"), &json!({"a": 1})).await;
    assert_eq!(status, 200, "{put}");
    let (_, again) = alice.put(&rooms(&room_id, "state/org.example.config/key1"), &json!({"a": 1})).await;
    assert_eq!(put["event_id"], again["event_id"], "same state twice is one event");
    assert_eq!(state_content(&bob, &room_id, "org.example.config", "key1").await.1, json!({"a": 1}));
    assert_error(&state_content(&bob, &room_id, "org.example.config", "nope").await, 404, "M_NOT_FOUND");
    // Bob lacks the state_default level (50).
    assert_error(&bob.put(&rooms(&room_id, "state/m.room.name"), &json!({"name": "x"})).await, 403, "M_FORBIDDEN");
    assert_error(
        &alice.put(&rooms("!missing:localhost", "state/m.room.name"), &json!({"name": "x"})).await,
        404,
        "M_NOT_FOUND",
    );
    assert_error(&alice.put(&rooms(&room_id, "state/m.room.create"), &json!({})).await, 403, "M_FORBIDDEN");
    let big = json!({"body": "x".repeat(70_000)});
    assert_error(&alice.put(&rooms(&room_id, "send/m.room.message/big"), &big).await, 413, "M_TOO_LARGE");
    // A stranger cannot read the state of a room they were never in.
    let stranger = server.register("stranger", "pw").await;
    let private = alice.create_room(json!({})).await;
    assert_error(&stranger.get(&rooms(&private, "state")).await, 403, "M_FORBIDDEN");
    assert_error(&stranger.get(&rooms(&private, "messages?dir=b")).await, 403, "M_FORBIDDEN");
}

#[tokio::test]
async fn redaction_rules() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let alices = alice.send_text(&room_id, "secret").await;
    let bobs = bob.send_text(&room_id, "oops").await;
    // Bob (power 0) cannot redact alice's message, but can redact his own.
    let denied = bob.put(&rooms(&room_id, &format!("redact/{}/r1", encode(&alices))), &json!({})).await;
    assert_error(&denied, 403, "M_FORBIDDEN");
    let (status, _) =
        bob.put(&rooms(&room_id, &format!("redact/{}/r2", encode(&bobs))), &json!({"reason": "typo"})).await;
    assert_eq!(status, 200);
    // Alice (room admin) can redact anyone's; here her own, via /send (MSC4169).
    let (status, _) = alice.put(&rooms(&room_id, "send/m.room.redaction/r3"), &json!({"redacts": alices})).await;
    assert_eq!(status, 200);
    for id in [&alices, &bobs] {
        let (_, event) = alice.get(&rooms(&room_id, &format!("event/{}", encode(id)))).await;
        assert_eq!(event["content"], json!({}), "{event}");
        assert_eq!(event["unsigned"]["redacted_because"]["type"], "m.room.redaction");
    }
    let (_, event) = alice.get(&rooms(&room_id, &format!("event/{}", encode(&bobs)))).await;
    assert_eq!(event["unsigned"]["redacted_because"]["content"]["reason"], "typo");
}

#[tokio::test]
async fn pagination_in_both_directions() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    for i in 0..25 {
        alice.send_text(&room_id, &format!("m{i}")).await;
    }
    let text = |page: &Value| -> Vec<String> {
        page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect()
    };
    let filter = encode(r#"{"types":["m.room.message"]}"#);
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &from {
            Some(token) => rooms(&room_id, &format!("messages?dir=b&limit=10&filter={filter}&from={}", encode(token))),
            None => rooms(&room_id, &format!("messages?dir=b&limit=10&filter={filter}")),
        };
        let (status, page) = alice.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(text(&page));
        pages += 1;
        match page.get("end").and_then(Value::as_str) {
            Some(end) => from = Some(end.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
    // Forwards from the beginning.
    let (_, page) = alice.get(&rooms(&room_id, &format!("messages?dir=f&limit=5&filter={filter}"))).await;
    assert_eq!(text(&page), vec!["m0", "m1", "m2", "m3", "m4"]);
    let end = page["end"].as_str().unwrap();
    let (_, next) =
        alice.get(&rooms(&room_id, &format!("messages?dir=f&limit=5&filter={filter}&from={}", encode(end)))).await;
    assert_eq!(text(&next), vec!["m5", "m6", "m7", "m8", "m9"]);
    assert_error(&alice.get(&rooms(&room_id, "messages?dir=x")).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.get(&rooms(&room_id, "messages")).await, 400, "M_MISSING_PARAM");
    assert_error(&alice.get(&rooms(&room_id, "messages?dir=b&from=garbage")).await, 400, "M_INVALID_PARAM");
}

#[tokio::test]
async fn history_visibility_is_enforced() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let carol = server.register("carol", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    alice.send_text(&room_id, "shared history").await;
    alice.put(&rooms(&room_id, "state/m.room.history_visibility"), &json!({"history_visibility": "joined"})).await;
    let hidden = alice.send_text(&room_id, "only for members").await;
    bob.join(&room_id).await;
    let bodies = |page: &Value| -> Vec<String> {
        page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, page) = bob.get(&rooms(&room_id, "messages?dir=b&limit=100")).await;
    let seen = bodies(&page);
    assert!(seen.contains(&"shared history".to_owned()), "{seen:?}");
    assert!(!seen.contains(&"only for members".to_owned()), "{seen:?}");
    assert_error(&bob.get(&rooms(&room_id, &format!("event/{}", encode(&hidden)))).await, 404, "M_NOT_FOUND");
    // After leaving, later messages are out of reach.
    bob.post(&rooms(&room_id, "leave"), &json!({})).await;
    alice.send_text(&room_id, "after bob left").await;
    let (_, page) = bob.get(&rooms(&room_id, "messages?dir=b&limit=100")).await;
    assert!(!bodies(&page).contains(&"after bob left".to_owned()));
    // World-readable rooms can be read without joining.
    alice
        .put(&rooms(&room_id, "state/m.room.history_visibility"), &json!({"history_visibility": "world_readable"}))
        .await;
    alice.send_text(&room_id, "for everyone").await;
    let (status, page) = carol.get(&rooms(&room_id, "messages?dir=b&limit=5")).await;
    assert_eq!(status, 200, "{page}");
    assert!(bodies(&page).contains(&"for everyone".to_owned()));
}

#[tokio::test]
async fn concurrent_senders_lose_nothing_and_keep_a_linear_dag() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    let mut senders = vec![alice.clone()];
    for i in 0..4 {
        let user = server.register(&format!("user{i}"), "pw").await;
        user.join(&room_id).await;
        senders.push(user);
    }
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(n, client)| {
            let room_id = room_id.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..15 {
                    ids.push(client.send_text(&room_id, &format!("s{n}-{i}")).await);
                }
                ids
            })
        })
        .collect();
    let mut sent = std::collections::HashSet::new();
    for task in tasks {
        sent.extend(task.await.unwrap());
    }
    assert_eq!(sent.len(), 75);
    let (_, page) = alice.get(&rooms(&room_id, "messages?dir=b&limit=1000")).await;
    let messages: Vec<&Value> =
        page["chunk"].as_array().unwrap().iter().filter(|e| e["type"] == "m.room.message").collect();
    assert_eq!(messages.len(), 75);
    let got: std::collections::HashSet<String> =
        messages.iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, sent);
    // The DAG is a single chain: exactly one forward extremity.
    let services = &server.server.as_ref().unwrap().services;
    assert_eq!(services.storage.forward_extremities(&room_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn redacting_state_takes_effect_everywhere() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    // In room version 10, redacting power levels drops `invite` (kept only
    // from v11), so the default of 0 applies. Raise it to 100, check bob is
    // refused, redact the change: the auth rules must now see the redacted
    // event and let bob invite.
    let room_v10 = alice.create_room(json!({"preset": "public_chat", "room_version": "10"})).await;
    bob.join(&room_v10).await;
    server.register("carol", "pw").await;
    let (_, levels) = state_content(&alice, &room_v10, "m.room.power_levels", "").await;
    let mut raised = levels.clone();
    raised["invite"] = json!(100);
    let (_, put) = alice.put(&rooms(&room_v10, "state/m.room.power_levels/"), &raised).await;
    let invite_carol = json!({"user_id": "@carol:localhost"});
    assert_error(&bob.post(&rooms(&room_v10, "invite"), &invite_carol).await, 403, "M_FORBIDDEN");
    let redact = rooms(&room_v10, &format!("redact/{}/rx", encode(put["event_id"].as_str().unwrap())));
    assert_eq!(alice.put(&redact, &json!({})).await.0, 200);
    let (_, now) = state_content(&alice, &room_v10, "m.room.power_levels", "").await;
    assert!(now.get("invite").is_none(), "{now}");
    assert_eq!(bob.post(&rooms(&room_v10, "invite"), &invite_carol).await.0, 200);
    // The topic of the other room, redacted, reads back empty.
    let (_, topic) = alice.put(&rooms(&room_id, "state/m.room.topic/"), &json!({"topic": "secret"})).await;
    let redact = rooms(&room_id, &format!("redact/{}/ry", encode(topic["event_id"].as_str().unwrap())));
    assert_eq!(alice.put(&redact, &json!({})).await.0, 200);
    assert_eq!(state_content(&alice, &room_id, "m.room.topic", "").await.1, json!({}));
}

#[tokio::test]
async fn dag_edges_and_push_actions_are_stored_row_by_row() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let first = alice.send_text(&room_id, "one").await;
    let second = alice.send_text(&room_id, "two").await;
    let services = &server.server.as_ref().unwrap().services;
    let row = services.storage.event(&second).await.unwrap().unwrap();
    let json: Value = serde_json::from_str(&row.json).unwrap();
    assert_eq!(json["prev_events"], json!([first]));
    let edges = services.storage.prev_events_of(&second).await.unwrap();
    assert_eq!(edges, vec![(first.clone(), room_id.clone())]);
    let auth = services.storage.auth_events_of(&second).await.unwrap();
    assert_eq!(auth.len(), json["auth_events"].as_array().unwrap().len());
    assert_eq!(services.unread_counts(&room_id, "@bob:localhost").await.unwrap(), (2, 0));
}

#[tokio::test]
async fn knocking_and_members_at_a_point_in_time() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"room_version": "10"})).await;
    alice.put(&rooms(&room_id, "state/m.room.join_rules/"), &json!({"join_rule": "knock"})).await;
    let (_, initial) = bob.get("/_matrix/client/v3/sync?timeout=0").await;
    let token = initial["next_batch"].as_str().unwrap().to_owned();
    let (status, knocked) =
        bob.post(&format!("/_matrix/client/v3/knock/{}", encode(&room_id)), &json!({"reason": "let me in"})).await;
    assert_eq!(status, 200, "{knocked}");
    let (_, synced) = bob.get(&format!("/_matrix/client/v3/sync?timeout=0&since={}", encode(&token))).await;
    let knock_state = synced["rooms"]["knock"][&room_id]["knock_state"]["events"].as_array().unwrap();
    assert!(knock_state.iter().any(|e| e["type"] == "m.room.create"), "{knock_state:?}");
    let (_, member) = state_content(&alice, &room_id, "m.room.member", "@bob:localhost").await;
    assert_eq!(member, json!({"membership": "knock", "reason": "let me in"}));
    // The knock is accepted with an invite, then bob joins.
    let (_, before) = alice.get("/_matrix/client/v3/sync?timeout=0").await;
    let before = before["next_batch"].as_str().unwrap().to_owned();
    assert_eq!(alice.post(&rooms(&room_id, "invite"), &json!({"user_id": "@bob:localhost"})).await.0, 200);
    assert_eq!(bob.join(&room_id).await.0, 200);
    let (_, now) = alice.get(&rooms(&room_id, "members?membership=join")).await;
    assert_eq!(now["chunk"].as_array().unwrap().len(), 2);
    // As of the earlier token, bob was still only knocking.
    let (_, then) = alice.get(&rooms(&room_id, &format!("members?at={}", encode(&before)))).await;
    let bob_then = then["chunk"].as_array().unwrap().iter().find(|e| e["state_key"] == "@bob:localhost").unwrap();
    assert_eq!(bob_then["content"]["membership"], "knock");
    // Knocking needs room version 7 or later.
    let old = alice.create_room(json!({"room_version": "6", "preset": "public_chat"})).await;
    let carol = server.register("carol", "pw").await;
    let refused = carol.post(&format!("/_matrix/client/v3/knock/{}", encode(&old)), &json!({})).await;
    assert_error(&refused, 403, "M_FORBIDDEN");
}

#[tokio::test]
async fn contains_url_filters_pages_and_sync_timelines() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    alice.send_text(&room_id, "plain").await;
    let image = json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://localhost/cat"});
    let (status, _) = alice.put(&rooms(&room_id, "send/m.room.message/img1"), &image).await;
    assert_eq!(status, 200);
    let bodies = |page: &Value, key: &str| -> Vec<String> {
        page[key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| e["content"]["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let with_url = encode(r#"{"contains_url":true}"#);
    let (_, page) = alice.get(&rooms(&room_id, &format!("messages?dir=b&filter={with_url}"))).await;
    assert_eq!(bodies(&page, "chunk"), vec!["cat.png"]);
    let without_url = encode(r#"{"contains_url":false}"#);
    let (_, page) = alice.get(&rooms(&room_id, &format!("messages?dir=b&filter={without_url}"))).await;
    assert_eq!(bodies(&page, "chunk"), vec!["plain"]);
    let (_, page) = alice.get(&rooms(&room_id, "messages?dir=b")).await;
    assert_eq!(bodies(&page, "chunk"), vec!["cat.png", "plain"]);
    // The same filter on a sync timeline.
    let filter = encode(r#"{"room":{"timeline":{"contains_url":true}}}"#);
    let (_, sync) = alice.get(&format!("/_matrix/client/v3/sync?timeout=0&filter={filter}")).await;
    assert_eq!(bodies(&sync["rooms"]["join"][&room_id]["timeline"], "events"), vec!["cat.png"]);
}
