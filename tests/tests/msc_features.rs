//! Experimental MSC features, each a first-party plugin behind its Synapse
//! flag: MSC4140 delayed events, MSC4155 invite filtering and MSC4293
//! redaction on kick or ban.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use trellis_tests::client::{Client, assert_error, encode};
use trellis_tests::{TestServer, eventually};

const DELAYED: &str = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events";

async fn bodies(user: &Client, room: &str) -> Vec<String> {
    let (status, page) = user.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100", encode(room))).await;
    assert_eq!(status, 200, "{page}");
    page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "m.room.message")
        .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

async fn delayed_send(user: &Client, room: &str, txn: &str, delay: &str, body: &str) -> (u16, Value) {
    user.put(
        &format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}?org.matrix.msc4140.delay={delay}",
            encode(room)
        ),
        &json!({"msgtype": "m.text", "body": body}),
    )
    .await
}

async fn unstable_features(server: &TestServer) -> Value {
    server.client().get("/_matrix/client/versions").await.1["unstable_features"].clone()
}

#[tokio::test]
async fn disabled_features_are_absent() {
    let server = TestServer::start().await;
    let features = unstable_features(&server).await;
    for feature in ["org.matrix.msc4140", "org.matrix.msc4155", "org.matrix.msc4293"] {
        assert!(features.get(feature).is_none(), "{feature} advertised while off: {features}");
    }
    let alice = server.register("alice", "password-1").await;
    assert_error(&alice.get(DELAYED).await, 404, "M_UNRECOGNIZED");
}

#[tokio::test]
async fn delayed_events_are_sent_listed_and_managed() {
    let server =
        TestServer::start_with("experimental_features: {msc4140_enabled: true}\nmax_event_delay_duration: 1h\n").await;
    assert_eq!(unstable_features(&server).await["org.matrix.msc4140"], true);
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(json!({})).await;

    // A short delay fires on its own.
    let (status, body) = delayed_send(&alice, &room, "t1", "1500", "later").await;
    assert_eq!(status, 200, "{body}");
    let delay_id = body["delay_id"].as_str().unwrap().to_owned();
    // Retrying the same transaction schedules nothing new.
    let (_, again) = delayed_send(&alice, &room, "t1", "1500", "later").await;
    assert_eq!(again["delay_id"], delay_id.as_str());
    assert!(!bodies(&alice, &room).await.contains(&"later".to_owned()), "sent too early");
    eventually("the delayed event is sent", || async { bodies(&alice, &room).await.contains(&"later".to_owned()) })
        .await;
    assert_eq!(bodies(&alice, &room).await.iter().filter(|b| *b == "later").count(), 1);

    // Long delays can be listed, restarted, cancelled or sent at once.
    let (_, first) = delayed_send(&alice, &room, "t2", "600000", "cancel me").await;
    let (_, second) = delayed_send(&alice, &room, "t3", "600000", "send me").await;
    let (status, list) = alice.get(DELAYED).await;
    assert_eq!(status, 200, "{list}");
    let listed = list["delayed_events"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{list}");
    assert_eq!(listed[0]["room_id"], room.as_str());
    assert_eq!(listed[0]["type"], "m.room.message");
    assert_eq!(listed[0]["delay_ms"], 600000);
    assert!(listed[0].get("state_key").is_none());
    let first_id = first["delay_id"].as_str().unwrap();
    let second_id = second["delay_id"].as_str().unwrap();
    let anonymous = server.client();
    let (status, body) = anonymous.post(&format!("{DELAYED}/{first_id}/restart"), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(anonymous.post(&format!("{DELAYED}/{first_id}/cancel"), &json!({})).await.0, 200);
    let (status, body) = anonymous.post(&format!("{DELAYED}/{second_id}"), &json!({"action": "send"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(bodies(&alice, &room).await.contains(&"send me".to_owned()));
    assert!(!bodies(&alice, &room).await.contains(&"cancel me".to_owned()));
    assert_eq!(alice.get(DELAYED).await.1["delayed_events"], json!([]));

    // Errors.
    assert_error(&anonymous.post(&format!("{DELAYED}/{first_id}/cancel"), &json!({})).await, 404, "M_NOT_FOUND");
    assert_error(&anonymous.post(&format!("{DELAYED}/{first_id}"), &json!({})).await, 400, "M_MISSING_PARAM");
    assert_error(
        &anonymous.post(&format!("{DELAYED}/{first_id}"), &json!({"action": "pause"})).await,
        400,
        "M_INVALID_PARAM",
    );
    assert_error(&anonymous.post(&format!("{DELAYED}/{first_id}/pause"), &json!({})).await, 400, "M_INVALID_PARAM");
    assert_error(&anonymous.get(DELAYED).await, 401, "M_MISSING_TOKEN");
    assert_error(&delayed_send(&alice, &room, "t4", "soon", "x").await, 400, "M_INVALID_PARAM");
    assert_error(&delayed_send(&alice, &room, "t5", "-5", "x").await, 400, "M_INVALID_PARAM");
    let too_long = delayed_send(&alice, &room, "t6", "7200000", "x").await;
    assert_error(&too_long, 400, "ORG.MATRIX.MSC4140_DELAY_TOO_LARGE");
    assert_eq!(too_long.1["org.matrix.msc4140.max_delay"], 3_600_000);
    let (status, _) = anonymous
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/t7?org.matrix.msc4140.delay=10", encode(&room)),
            &json!({"body": "x"}),
        )
        .await;
    assert_eq!(status, 401);
    let outsider = server.register("outsider", "password-1").await;
    assert_error(&delayed_send(&outsider, &room, "t8", "10", "x").await, 403, "M_FORBIDDEN");
}

#[tokio::test]
async fn delayed_state_is_cancelled_by_other_users_state() {
    let server = TestServer::start_with("experimental_features: {msc4140_enabled: true}\n").await;
    let alice = server.register("alice", "password-1").await;
    let bob = server.register("bob", "password-1").await;
    let room = alice
        .create_room(
            json!({"preset": "public_chat", "power_level_content_override": {"users": {"@bob:localhost": 100}}}),
        )
        .await;
    assert_eq!(bob.join(&room).await.0, 200);
    let state_path = |key: &str| format!("/_matrix/client/v3/rooms/{}/state/org.example.status/{key}", encode(&room));
    let (status, body) =
        alice.put(&format!("{}?org.matrix.msc4140.delay=600000", state_path("shared")), &json!({"on": false})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(alice.get(DELAYED).await.1["delayed_events"][0]["state_key"], "shared");
    // Alice's own update does not cancel hers...
    assert_eq!(alice.put(&state_path("shared"), &json!({"on": true})).await.0, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(alice.get(DELAYED).await.1["delayed_events"].as_array().unwrap().len(), 1);
    // ...Bob's does.
    assert_eq!(bob.put(&state_path("shared"), &json!({"on": "bob"})).await.0, 200);
    eventually("the delayed state is cancelled", || async {
        alice.get(DELAYED).await.1["delayed_events"] == json!([])
    })
    .await;
}

#[tokio::test]
async fn delayed_events_survive_a_restart() {
    let mut server = TestServer::start_with("experimental_features: {msc4140_enabled: true}\n").await;
    let alice = server.register("alice", "password-1").await;
    let room = alice.create_room(json!({})).await;
    let (status, body) = delayed_send(&alice, &room, "t1", "8000", "after restart").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(alice.get(DELAYED).await.1["delayed_events"].as_array().unwrap().len(), 1);
    let token = alice.token.clone().unwrap();
    let started = std::time::Instant::now();
    server.restart().await;
    let alice = server.client().with_token(&token);
    let listed = alice.get(DELAYED).await.1;
    assert_eq!(
        listed["delayed_events"].as_array().unwrap().len(),
        1,
        "{listed} after {:?}: {:?}",
        started.elapsed(),
        bodies(&alice, &room).await
    );
    eventually("the delayed event is sent after the restart", || async {
        bodies(&alice, &room).await.contains(&"after restart".to_owned())
    })
    .await;
}

async fn invite(inviter: &Client, room: &str, user: &str) -> (u16, Value) {
    inviter.post(&format!("/_matrix/client/v3/rooms/{}/invite", encode(room)), &json!({"user_id": user})).await
}

async fn invited_rooms(user: &Client) -> Vec<String> {
    let (status, sync) = user.get("/_matrix/client/v3/sync?timeout=0").await;
    assert_eq!(status, 200, "{sync}");
    sync["rooms"]["invite"].as_object().map(|rooms| rooms.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test]
async fn invite_filtering_blocks_and_hides_invites() {
    let server = TestServer::start_with("experimental_features: {msc4155_enabled: true}\n").await;
    assert_eq!(unstable_features(&server).await["org.matrix.msc4155"], true);
    let bob = server.register("bob", "password-1").await;
    let mallory = server.register("mallory", "password-1").await;
    let eve = server.register("eve", "password-1").await;
    let alice = server.register("alice", "password-1").await;
    let (status, _) = bob
        .put(
            "/_matrix/client/v3/user/@bob:localhost/account_data/org.matrix.msc4155.invite_permission_config",
            &json!({"blocked_users": ["@mallory:*"], "ignored_users": ["@EVE:localhost"]}),
        )
        .await;
    assert_eq!(status, 200);
    let mallory_room = mallory.create_room(json!({})).await;
    let refused = invite(&mallory, &mallory_room, "@bob:localhost").await;
    assert_error(&refused, 403, "M_INVITE_BLOCKED");
    // Blocked in createRoom's invite list too: the room is made without it.
    let other = mallory.create_room(json!({"invite": ["@bob:localhost"]})).await;

    let eve_room = eve.create_room(json!({})).await;
    assert_eq!(invite(&eve, &eve_room, "@bob:localhost").await.0, 200, "ignored invites are accepted");
    let alice_room = alice.create_room(json!({})).await;
    assert_eq!(invite(&alice, &alice_room, "@bob:localhost").await.0, 200);
    let visible = invited_rooms(&bob).await;
    assert_eq!(visible, vec![alice_room.clone()], "only Alice's invite is shown");
    assert!(!visible.contains(&other));

    // Without the config everything is delivered again.
    let (status, _) = bob
        .put(
            "/_matrix/client/v3/user/@bob:localhost/account_data/org.matrix.msc4155.invite_permission_config",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let mut visible = invited_rooms(&bob).await;
    visible.sort();
    let mut expected = vec![alice_room, eve_room];
    expected.sort();
    assert_eq!(visible, expected);
    assert_eq!(invite(&mallory, &mallory_room, "@bob:localhost").await.0, 200);
}

#[tokio::test]
async fn without_the_flag_invite_rules_are_not_applied() {
    let server = TestServer::start().await;
    let bob = server.register("bob", "password-1").await;
    let mallory = server.register("mallory", "password-1").await;
    bob.put(
        "/_matrix/client/v3/user/@bob:localhost/account_data/org.matrix.msc4155.invite_permission_config",
        &json!({"blocked_users": ["@mallory:localhost"]}),
    )
    .await;
    let room = mallory.create_room(json!({})).await;
    assert_eq!(invite(&mallory, &room, "@bob:localhost").await.0, 200);
}

async fn event(user: &Client, room: &str, event_id: &str) -> Value {
    let (status, event) =
        user.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", encode(room), encode(event_id))).await;
    assert_eq!(status, 200, "{event}");
    event
}

#[tokio::test]
async fn kicks_and_bans_can_redact_the_target_s_events() {
    let server = TestServer::start_with("experimental_features: {msc4293_enabled: true}\n").await;
    assert_eq!(unstable_features(&server).await["org.matrix.msc4293"], true);
    let alice = server.register("alice", "password-1").await;
    let bob = server.register("bob", "password-1").await;
    let carol = server.register("carol", "password-1").await;
    let room = alice.create_room(json!({"preset": "public_chat"})).await;
    assert_eq!(bob.join(&room).await.0, 200);
    assert_eq!(carol.join(&room).await.0, 200);
    let spam = [bob.send_text(&room, "spam 1").await, bob.send_text(&room, "spam 2").await];
    let kept = carol.send_text(&room, "not spam").await;
    let carol_kept = carol.send_text(&room, "also fine").await;

    let (status, body) = alice
        .post(
            &format!("/_matrix/client/v3/rooms/{}/kick", encode(&room)),
            &json!({"user_id": "@bob:localhost", "reason": "spam", "org.matrix.msc4293.redact_events": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, member) =
        alice.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.member/@bob:localhost", encode(&room))).await;
    assert_eq!(member["org.matrix.msc4293.redact_events"], true, "{member}");
    for event_id in &spam {
        eventually("Bob's message is redacted", || async {
            event(&alice, &room, event_id).await["content"] == json!({})
        })
        .await;
        assert!(event(&alice, &room, event_id).await["unsigned"]["redacted_because"].is_object());
    }
    assert_eq!(event(&alice, &room, &kept).await["content"]["body"], "not spam");

    // A ban without the flag redacts nothing.
    let (status, _) = alice
        .post(&format!("/_matrix/client/v3/rooms/{}/ban", encode(&room)), &json!({"user_id": "@carol:localhost"}))
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(event(&alice, &room, &carol_kept).await["content"]["body"], "also fine");
}
