//! Context, timestamp lookup, reports, upgrades, custom profile fields,
//! `state_after` and invite blocking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

fn rooms(room_id: &str, rest: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/{rest}", encode(room_id))
}

fn bodies(events: &Value) -> Vec<String> {
    events.as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn context_around_an_event() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let mut ids = Vec::new();
    for i in 0..9 {
        ids.push(alice.send_text(&room_id, &format!("c{i}")).await);
    }
    let filter = encode(r#"{"types":["m.room.message"],"lazy_load_members":true}"#);
    let (status, context) =
        alice.get(&rooms(&room_id, &format!("context/{}?limit=4&filter={filter}", encode(&ids[4])))).await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["event"]["content"]["body"], "c4");
    assert_eq!(bodies(&context["events_before"]), vec!["c3", "c2"]);
    assert_eq!(bodies(&context["events_after"]), vec!["c5", "c6"]);
    let members: Vec<&str> = context["state"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.member")
        .map(|e| e["state_key"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec!["@alice:localhost"]);
    // `end` continues forwards with /messages.
    let end = context["end"].as_str().unwrap();
    let (_, next) = alice.get(&rooms(&room_id, &format!("messages?dir=f&limit=2&from={}", encode(end)))).await;
    assert_eq!(bodies(&next["chunk"]), vec!["c7", "c8"]);
    assert_error(&alice.get(&rooms(&room_id, "context/%24missing")).await, 404, "M_NOT_FOUND");
}

#[tokio::test]
async fn timestamp_to_event_both_directions() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let first = alice.send_text(&room_id, "early").await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let middle = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let second = alice.send_text(&room_id, "late").await;
    let path =
        |dir: &str| format!("/_matrix/client/v1/rooms/{}/timestamp_to_event?ts={middle}&dir={dir}", encode(&room_id));
    assert_eq!(alice.get(&path("f")).await.1["event_id"], second);
    assert_eq!(alice.get(&path("b")).await.1["event_id"], first);
    let far = format!("/_matrix/client/v1/rooms/{}/timestamp_to_event?ts=99999999999999&dir=f", encode(&room_id));
    assert_error(&alice.get(&far).await, 404, "M_NOT_FOUND");
    let bad = format!("/_matrix/client/v1/rooms/{}/timestamp_to_event?ts=1&dir=sideways", encode(&room_id));
    assert_error(&alice.get(&bad).await, 400, "M_INVALID_PARAM");
}

#[tokio::test]
async fn reports_are_stored_without_revealing_existence() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let event = alice.send_text(&room_id, "spam").await;
    assert_eq!(
        alice.post(&rooms(&room_id, &format!("report/{}", encode(&event))), &json!({"reason": "spam"})).await.0,
        200
    );
    assert_eq!(alice.post(&rooms(&room_id, "report"), &json!({"reason": "whole room"})).await.0, 200);
    // Same answer for something that does not exist, but nothing is stored.
    assert_eq!(alice.post(&rooms(&room_id, "report/%24nope"), &json!({})).await.0, 200);
    let reports = server.server.as_ref().unwrap().services.storage.reports().await.unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].1.as_deref(), Some(event.as_str()));
    assert_eq!(reports[0].3.as_deref(), Some("spam"));
}

#[tokio::test]
async fn upgrading_a_room() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let old = alice.create_room(json!({"room_version": "10", "name": "Old", "topic": "t", "preset": "public_chat", "room_alias_name": "club"})).await;
    bob.join(&old).await;
    assert_error(&bob.post(&rooms(&old, "upgrade"), &json!({"new_version": "12"})).await, 403, "M_FORBIDDEN");
    assert_error(
        &alice.post(&rooms(&old, "upgrade"), &json!({"new_version": "77"})).await,
        400,
        "M_UNSUPPORTED_ROOM_VERSION",
    );
    let (status, body) = alice.post(&rooms(&old, "upgrade"), &json!({"new_version": "12"})).await;
    assert_eq!(status, 200, "{body}");
    let new = body["replacement_room"].as_str().unwrap().to_owned();
    let (_, tombstone) = alice.get(&rooms(&old, "state/m.room.tombstone/")).await;
    assert_eq!(tombstone["replacement_room"], new);
    let (_, create) = alice.get(&rooms(&new, "state/m.room.create/")).await;
    assert_eq!(create["room_version"], "12");
    assert_eq!(create["predecessor"]["room_id"], old);
    assert_eq!(alice.get(&rooms(&new, "state/m.room.name/")).await.1["name"], "Old");
    assert_eq!(alice.get(&rooms(&new, "state/m.room.join_rules/")).await.1["join_rule"], "public");
    let (_, alias) = alice.get("/_matrix/client/v3/directory/room/%23club%3Alocalhost").await;
    assert_eq!(alias["room_id"], new, "aliases follow the room");
    // Ordinary members can no longer talk in the old room, but can join the new one.
    assert_error(&bob.put(&rooms(&old, "send/m.room.message/t1"), &json!({"body": "hi"})).await, 403, "M_FORBIDDEN");
    assert_eq!(bob.join(&new).await.0, 200);
}

#[tokio::test]
async fn custom_profile_fields_and_propagation() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let base = "/_matrix/client/v3/profile/@alice:localhost";
    assert_eq!(alice.put(&format!("{base}/m.tz"), &json!({"m.tz": "Europe/Paris"})).await.0, 200);
    assert_eq!(
        alice.put(&format!("{base}/org.example.pronouns"), &json!({"org.example.pronouns": ["she", "her"]})).await.0,
        200
    );
    let (_, profile) = server.client().get(base).await;
    assert_eq!(profile["m.tz"], "Europe/Paris");
    assert_eq!(profile["org.example.pronouns"], json!(["she", "her"]));
    assert_error(
        &alice.put(&format!("{base}/NotNamespaced"), &json!({"NotNamespaced": 1})).await,
        400,
        "M_INVALID_PARAM",
    );
    let long_key = format!("org.{}", "a".repeat(260));
    assert_error(
        &alice.put(&format!("{base}/{long_key}"), &json!({long_key.clone(): 1})).await,
        400,
        "M_KEY_TOO_LARGE",
    );
    let huge = json!({"org.example.big": "x".repeat(70_000)});
    let server_big = server.client().with_token(alice.token.as_deref().unwrap());
    let (status, body) = server_big.put(&format!("{base}/org.example.big"), &huge).await;
    assert!(status == 400 || status == 413, "{status} {body}");
    assert_eq!(alice.delete(&format!("{base}/m.tz"), None).await.0, 200);
    assert_error(&server.client().get(&format!("{base}/m.tz")).await, 404, "M_NOT_FOUND");
    let (_, caps) = alice.get("/_matrix/client/v3/capabilities").await;
    assert_eq!(caps["capabilities"]["m.profile_fields"]["enabled"], true);
    // A new display name reaches the member event in the user's rooms.
    assert_eq!(alice.put(&format!("{base}/displayname"), &json!({"displayname": "Alice L."})).await.0, 200);
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = alice.get(&rooms(&room_id, &format!("state/m.room.member/{}", encode("@alice:localhost")))).await.1;
        if seen["displayname"] == "Alice L." {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen["displayname"], "Alice L.");
    assert_eq!(seen["membership"], "join");
}

#[tokio::test]
async fn sync_state_after() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"name": "before"})).await;
    let (_, first) = alice.get("/_matrix/client/v3/sync?timeout=0&use_state_after=true").await;
    let room = &first["rooms"]["join"][&room_id];
    assert!(room.get("state").is_none() && room["state_after"]["events"].as_array().unwrap().len() >= 6, "{room}");
    let token = first["next_batch"].as_str().unwrap();
    alice.put(&rooms(&room_id, "state/m.room.name/"), &json!({"name": "after"})).await;
    let (_, next) =
        alice.get(&format!("/_matrix/client/v3/sync?timeout=0&use_state_after=true&since={}", encode(token))).await;
    let after = next["rooms"]["join"][&room_id]["state_after"]["events"].as_array().unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["content"]["name"], "after");
}

#[tokio::test]
async fn invite_blocking() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob: Client = server.register("bob", "pw").await;
    let (_, initial) = bob.get("/_matrix/client/v3/sync?timeout=0").await;
    let token = initial["next_batch"].as_str().unwrap().to_owned();
    let config = "/_matrix/client/v3/user/@bob:localhost/account_data/m.invite_permission_config";
    assert_eq!(bob.put(config, &json!({"default_action": "block"})).await.0, 200);
    let room_id = alice.create_room(json!({"invite": ["@bob:localhost"]})).await;
    let (status, _) = alice.get(&rooms(&room_id, "state/m.room.member/%40bob%3Alocalhost")).await;
    assert_eq!(status, 404, "the blocked invitee was left out of createRoom");
    let refused = alice.post(&rooms(&room_id, "invite"), &json!({"user_id": "@bob:localhost"})).await;
    assert_error(&refused, 403, "M_INVITE_BLOCKED");
    let via_state =
        alice.put(&rooms(&room_id, "state/m.room.member/%40bob%3Alocalhost"), &json!({"membership": "invite"})).await;
    assert_error(&via_state, 403, "M_INVITE_BLOCKED");
    // Unblocked again: invites work.
    assert_eq!(bob.put(config, &json!({})).await.0, 200);
    assert_eq!(alice.post(&rooms(&room_id, "invite"), &json!({"user_id": "@bob:localhost"})).await.0, 200);
    let (_, next) = bob.get(&format!("/_matrix/client/v3/sync?timeout=0&since={}", encode(&token))).await;
    assert!(next["rooms"]["invite"].get(&room_id).is_some());
}

#[tokio::test]
async fn upgrading_from_v12_to_an_older_version() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let old = alice.create_room(json!({"name": "Twelve"})).await;
    let (status, body) = alice.post(&rooms(&old, "upgrade"), &json!({"new_version": "11"})).await;
    assert_eq!(status, 200, "{body}");
    let new = body["replacement_room"].as_str().unwrap();
    let (_, power) = alice.get(&rooms(new, "state/m.room.power_levels/")).await;
    assert_eq!(power["users"]["@alice:localhost"], 100, "{power}");
    assert_eq!(alice.get(&rooms(new, "state/m.room.name/")).await.1["name"], "Twelve");
    assert_eq!(alice.get(&rooms(&old, "state/m.room.tombstone/")).await.1["replacement_room"], new);
}

#[tokio::test]
async fn ignored_users_are_hidden() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let ignore = "/_matrix/client/v3/user/@bob:localhost/account_data/m.ignored_user_list";
    assert_eq!(bob.put(ignore, &json!({"ignored_users": {"@alice:localhost": {}}})).await.0, 200);
    let (_, first) = bob.get("/_matrix/client/v3/sync?timeout=0").await;
    let token = first["next_batch"].as_str().unwrap().to_owned();
    alice.send_text(&room_id, "can you hear me").await;
    alice.put(&rooms(&room_id, "state/m.room.topic/"), &json!({"topic": "still visible"})).await;
    let (_, page) = bob.get(&rooms(&room_id, "messages?dir=b&limit=50")).await;
    assert!(!bodies(&page["chunk"]).contains(&"can you hear me".to_owned()));
    assert!(page["chunk"].as_array().unwrap().iter().any(|e| e["type"] == "m.room.topic"), "state events stay");
    let (_, next) = bob.get(&format!("/_matrix/client/v3/sync?timeout=0&since={}", encode(&token))).await;
    let timeline = &next["rooms"]["join"][&room_id]["timeline"]["events"];
    assert!(bodies(timeline).is_empty(), "{timeline}");
    // Invites from an ignored user are dropped too.
    let other = alice.create_room(json!({"invite": ["@bob:localhost"]})).await;
    let (_, later) = bob
        .get(&format!("/_matrix/client/v3/sync?timeout=0&since={}", encode(next["next_batch"].as_str().unwrap())))
        .await;
    assert!(later["rooms"]["invite"].get(&other).is_none(), "{later}");
    // Alice still sees everything.
    let (_, hers) = alice.get(&rooms(&room_id, "messages?dir=b&limit=50")).await;
    assert!(bodies(&hers["chunk"]).contains(&"can you hear me".to_owned()));
    // Un-ignoring takes effect at once.
    assert_eq!(bob.put(ignore, &json!({"ignored_users": {}})).await.0, 200);
    let (_, page) = bob.get(&rooms(&room_id, "messages?dir=b&limit=50")).await;
    assert!(bodies(&page["chunk"]).contains(&"can you hear me".to_owned()));
}
