//! `/sync`: initial and incremental, long-polling, tokens across restarts,
//! membership sections, filters and account data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

async fn sync(client: &Client, since: Option<&str>, extra: &str) -> Value {
    let path = match since {
        Some(token) => format!("/_matrix/client/v3/sync?since={}&timeout=0{extra}", encode(token)),
        None => format!("/_matrix/client/v3/sync?timeout=0{extra}"),
    };
    let (status, body) = client.get(&path).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn timeline_bodies(response: &Value, room_id: &str) -> Vec<String> {
    response["rooms"]["join"][room_id]["timeline"]["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn initial_then_incremental() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"name": "Sync room"})).await;
    alice.send_text(&room_id, "first").await;
    let initial = sync(&alice, None, "").await;
    let room = &initial["rooms"]["join"][&room_id];
    assert!(room.is_object(), "{initial}");
    assert_eq!(timeline_bodies(&initial, &room_id), vec!["first"]);
    // The timeline holds the newest events; the state before it the rest.
    let state_types: Vec<&str> =
        room["state"]["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    let timeline_types: Vec<&str> =
        room["timeline"]["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(state_types.contains(&"m.room.create") || timeline_types.contains(&"m.room.create"), "{room}");
    assert_eq!(room["summary"]["m.joined_member_count"], 1);
    for key in ["presence", "account_data", "to_device", "device_lists", "device_one_time_keys_count"] {
        assert!(initial.get(key).is_some(), "missing {key}");
    }
    let token = initial["next_batch"].as_str().unwrap().to_owned();

    let quiet = sync(&alice, Some(&token), "").await;
    assert!(quiet["rooms"]["join"].as_object().unwrap().is_empty(), "{quiet}");
    assert_eq!(quiet["next_batch"], token);

    alice.send_text(&room_id, "second").await;
    let next = sync(&alice, Some(&token), "").await;
    assert_eq!(timeline_bodies(&next, &room_id), vec!["second"]);
    let room = &next["rooms"]["join"][&room_id];
    assert_eq!(room["timeline"]["limited"], false);
    assert!(room["state"]["events"].as_array().unwrap().is_empty());
    // Our own device sees the transaction id of its own message.
    assert!(room["timeline"]["events"][0]["unsigned"]["transaction_id"].is_string());
    assert_error(&alice.get("/_matrix/client/v3/sync?since=bogus").await, 400, "M_INVALID_PARAM");
}

#[tokio::test]
async fn long_poll_wakes_on_new_event() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    bob.join(&room_id).await;
    let token = sync(&bob, None, "").await["next_batch"].as_str().unwrap().to_owned();
    let waiting = {
        let bob = bob.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let (status, body) =
                bob.get(&format!("/_matrix/client/v3/sync?since={}&timeout=20000", encode(&token))).await;
            (status, body, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.send_text(&room_id, "wake up").await;
    let (status, body, elapsed) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(timeline_bodies(&body, &room_id), vec!["wake up"]);
    assert!(elapsed < Duration::from_secs(10), "woke after {elapsed:?}");
    // With nothing new, the long poll waits for its timeout and returns the same token.
    let started = Instant::now();
    let token = body["next_batch"].as_str().unwrap();
    let (_, quiet) = bob.get(&format!("/_matrix/client/v3/sync?since={}&timeout=400", encode(token))).await;
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert_eq!(quiet["next_batch"], token);
}

#[tokio::test]
async fn tokens_stay_valid_across_restart() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let token = sync(&alice, None, "").await["next_batch"].as_str().unwrap().to_owned();
    alice.send_text(&room_id, "before restart").await;
    server.restart().await;
    let alice = Client::new(&server.base_url).with_token(alice.token.as_deref().unwrap());
    alice.send_text(&room_id, "after restart").await;
    let next = sync(&alice, Some(&token), "").await;
    assert_eq!(timeline_bodies(&next, &room_id), vec!["before restart", "after restart"]);
}

#[tokio::test]
async fn invites_joins_and_leaves_move_between_sections() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let token = sync(&bob, None, "").await["next_batch"].as_str().unwrap().to_owned();
    let room_id = alice.create_room(json!({"name": "Secret club", "invite": ["@bob:localhost"]})).await;
    let invited = sync(&bob, Some(&token), "").await;
    let invite_state = invited["rooms"]["invite"][&room_id]["invite_state"]["events"].as_array().unwrap();
    let types: Vec<&str> = invite_state.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"m.room.create") && types.contains(&"m.room.name") && types.contains(&"m.room.member"),
        "{types:?}"
    );
    assert!(invite_state.iter().all(|e| e.get("event_id").is_none()), "stripped state has no event ids");
    let token = invited["next_batch"].as_str().unwrap().to_owned();

    bob.join(&room_id).await;
    let joined = sync(&bob, Some(&token), "").await;
    let room = &joined["rooms"]["join"][&room_id];
    assert!(room.is_object(), "{joined}");
    let mut all: Vec<&Value> = room["state"]["events"].as_array().unwrap().iter().collect();
    all.extend(room["timeline"]["events"].as_array().unwrap());
    let has = |t: &str| all.iter().any(|e| e["type"] == t);
    assert!(
        has("m.room.create") && has("m.room.power_levels") && has("m.room.name"),
        "newly joined rooms get full state"
    );
    let token = joined["next_batch"].as_str().unwrap().to_owned();

    bob.post(&format!("/_matrix/client/v3/rooms/{}/leave", encode(&room_id)), &json!({})).await;
    let left = sync(&bob, Some(&token), "").await;
    let leave = &left["rooms"]["leave"][&room_id];
    let last = leave["timeline"]["events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["content"]["membership"], "leave");
    assert!(left["rooms"]["join"].get(&room_id).is_none());
}

#[tokio::test]
async fn limited_timelines_and_filters() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let token = sync(&alice, None, "").await["next_batch"].as_str().unwrap().to_owned();
    for i in 0..12 {
        alice.send_text(&room_id, &format!("n{i}")).await;
    }
    alice
        .put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.topic/", encode(&room_id)), &json!({"topic": "late"}))
        .await;
    let filter = encode(r#"{"room":{"timeline":{"limit":3}}}"#);
    let next = sync(&alice, Some(&token), &format!("&filter={filter}")).await;
    let room = &next["rooms"]["join"][&room_id];
    assert_eq!(room["timeline"]["limited"], true);
    assert_eq!(room["timeline"]["events"].as_array().unwrap().len(), 3);
    // prev_batch continues into the history the limit cut off.
    let prev = room["timeline"]["prev_batch"].as_str().unwrap();
    let (_, page) = alice
        .get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=3&from={}", encode(&room_id), encode(prev)))
        .await;
    let bodies: Vec<&str> =
        page["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    // The timeline held n10, n11 and the topic change; before it come n9, n8, n7.
    assert_eq!(bodies, vec!["n9", "n8", "n7"]);

    // A stored filter.
    let (status, created) = alice
        .post(
            "/_matrix/client/v3/user/@alice:localhost/filter",
            &json!({"room": {"timeline": {"limit": 1, "types": ["m.room.message"]}}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["filter_id"].as_str().unwrap();
    let (status, stored) = alice.get(&format!("/_matrix/client/v3/user/@alice:localhost/filter/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(stored["room"]["timeline"]["limit"], 1);
    let filtered = sync(&alice, None, &format!("&filter={id}")).await;
    assert_eq!(timeline_bodies(&filtered, &room_id), vec!["n11"]);
    assert_error(&alice.get("/_matrix/client/v3/user/@alice:localhost/filter/999999").await, 404, "M_NOT_FOUND");
    assert_error(&alice.get("/_matrix/client/v3/sync?filter=%7Bbad").await, 400, "M_BAD_JSON");
}

#[tokio::test]
async fn account_data_arrives_in_sync() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let token = sync(&alice, None, "").await["next_batch"].as_str().unwrap().to_owned();
    alice.put("/_matrix/client/v3/user/@alice:localhost/account_data/org.example.prefs", &json!({"dark": true})).await;
    let next = sync(&alice, Some(&token), "").await;
    let events = next["account_data"]["events"].as_array().unwrap();
    assert_eq!(events, &vec![json!({"type": "org.example.prefs", "content": {"dark": true}})]);
    let again = sync(&alice, Some(next["next_batch"].as_str().unwrap()), "").await;
    assert!(again["account_data"]["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_profile_change_is_not_a_new_join() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let token = sync(&alice, None, "").await["next_batch"].as_str().unwrap().to_owned();
    let path =
        format!("/_matrix/client/v3/rooms/{}/state/m.room.member/{}", encode(&room_id), encode("@alice:localhost"));
    let (status, _) = alice.put(&path, &json!({"membership": "join", "displayname": "Alice Liddell"})).await;
    assert_eq!(status, 200);
    let next = sync(&alice, Some(&token), "").await;
    let room = &next["rooms"]["join"][&room_id];
    assert_eq!(room["timeline"]["events"].as_array().unwrap().len(), 1, "{room}");
    assert!(room["state"]["events"].as_array().unwrap().is_empty(), "no full state for a rename: {room}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_state_is_complete_even_while_the_room_is_being_read() {
    // Regression: another user's sync read the room while createRoom was
    // still adding its initial state, cached that half-made state, and the
    // invitee's stripped state then lacked the room name.
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    for round in 0..5 {
        let token = sync(&bob, None, "").await["next_batch"].as_str().unwrap().to_owned();
        // Bob's long-poll is parked, so it wakes on the invite itself, while
        // createRoom may still be finishing.
        let parked = {
            let bob = bob.clone();
            tokio::spawn(async move {
                bob.get(&format!("/_matrix/client/v3/sync?timeout=10000&since={}", encode(&token))).await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let reader = {
            let alice = alice.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    alice.get("/_matrix/client/v3/sync?timeout=0").await;
                }
            })
        };
        let name = format!("Room {round}");
        let room_id = alice.create_room(json!({"name": name, "invite": ["@bob:localhost"]})).await;
        reader.await.unwrap();
        let (_, invited) = parked.await.unwrap();
        let Some(state) = invited["rooms"]["invite"][&room_id]["invite_state"]["events"].as_array() else {
            // The long-poll woke for an earlier event of the room; nothing to check this round.
            continue;
        };
        let room_name = state.iter().find(|e| e["type"] == "m.room.name").map(|e| e["content"]["name"].clone());
        assert_eq!(room_name, Some(json!(name)), "round {round}: {state:?}");
    }
}

/// The `state` of a room in an initial sync is the state just before its
/// timeline: a name changed inside the timeline shows there, the name from
/// before in `state`. Checked for several rooms at once (an initial sync
/// reads all rooms' newest events together), for a room whose whole
/// history fits in the timeline (no state before it), and for a filtered
/// timeline whose event is not the room's newest.
#[tokio::test]
async fn initial_sync_state_is_the_state_before_each_timeline() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let name_path = |room: &str| format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", encode(room));
    let mut rooms = Vec::new();
    for r in 0..3 {
        let room_id = alice.create_room(json!({"name": format!("first{r}")})).await;
        for i in 0..12 {
            alice.send_text(&room_id, &format!("r{r}m{i}")).await;
        }
        alice.put(&name_path(&room_id), &json!({"name": format!("second{r}")})).await;
        alice.send_text(&room_id, &format!("r{r}last")).await;
        rooms.push(room_id);
    }
    let small = alice.create_room(json!({"name": "small"})).await;
    let names = |events: &Value| -> Vec<String> {
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.name")
            .map(|e| e["content"]["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let filter = encode(r#"{"room":{"timeline":{"limit":3}}}"#);
    let body = sync(&alice, None, &format!("&filter={filter}")).await;
    for (r, room_id) in rooms.iter().enumerate() {
        let room = &body["rooms"]["join"][room_id];
        assert_eq!(names(&room["timeline"]["events"]), vec![format!("second{r}")], "{room}");
        assert_eq!(names(&room["state"]["events"]), vec![format!("first{r}")], "{room}");
        let members = room["state"]["events"].as_array().unwrap().iter().filter(|e| e["type"] == "m.room.member");
        assert_eq!(members.count(), 1);
    }
    // The small room's whole history is in its timeline: no state before.
    let body = sync(&alice, None, "").await;
    let room = &body["rooms"]["join"][&small];
    assert_eq!(room["timeline"]["limited"], false);
    assert_eq!(room["timeline"]["events"][0]["type"], "m.room.create");
    assert_eq!(room["state"]["events"], json!([]));

    // Only name changes, one of them: the timeline's one event is not the
    // room's newest, and the state is still the one just before it.
    let filter = encode(r#"{"room":{"timeline":{"limit":1,"types":["m.room.name"]}}}"#);
    let body = sync(&alice, None, &format!("&filter={filter}")).await;
    let room = &body["rooms"]["join"][&rooms[1]];
    assert_eq!(names(&room["timeline"]["events"]), vec!["second1".to_owned()]);
    assert_eq!(names(&room["state"]["events"]), vec!["first1".to_owned()]);
}

/// The room summary counts joined and invited members and names up to five
/// heroes (in user-id order, never the viewer, never someone who left),
/// while the room is in memory and after a restart, when its memberships
/// are read back.
#[tokio::test]
async fn room_summary_counts_members_and_names_heroes() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let dave = server.register("dave", "pw").await;
    let erin = server.register("erin", "pw").await;
    let room_id =
        alice.create_room(json!({"preset": "public_chat", "invite": ["@carol:localhost", "@bob:localhost"]})).await;
    dave.join(&room_id).await;
    erin.join(&room_id).await;
    let leave = format!("/_matrix/client/v3/rooms/{}/leave", encode(&room_id));
    assert_eq!(erin.post(&leave, &json!({})).await.0, 200);
    let expected = json!({
        "m.heroes": ["@bob:localhost", "@carol:localhost", "@dave:localhost"],
        "m.joined_member_count": 2,
        "m.invited_member_count": 2,
    });
    let summary = sync(&alice, None, "").await["rooms"]["join"][&room_id]["summary"].clone();
    assert_eq!(summary, expected);

    server.restart().await;
    let alice = Client::new(&server.base_url).with_token(alice.token.as_deref().unwrap());
    let summary = sync(&alice, None, "").await["rooms"]["join"][&room_id]["summary"].clone();
    assert_eq!(summary, expected);
    // Dave's view leaves Dave out and puts Alice in.
    let dave = Client::new(&server.base_url).with_token(dave.token.as_deref().unwrap());
    let summary = sync(&dave, None, "").await["rooms"]["join"][&room_id]["summary"].clone();
    assert_eq!(summary["m.heroes"], json!(["@alice:localhost", "@bob:localhost", "@carol:localhost"]));
}

/// An initial sync reads every room's newest events in one go; the events
/// must come through exactly as stored, whatever characters they hold,
/// with their state keys, and the sending device's transaction id.
#[tokio::test]
async fn initial_sync_returns_events_exactly_as_stored() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({})).await;
    let tricky = "quote \" backslash \\ tab \t newline \n nul-ish \u{1} emoji 🦀 accents éà 中文 </script>";
    let (status, sent) = alice
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/tricky-1", encode(&room_id)),
            &json!({"msgtype": "m.text", "body": tricky, "nested": {"list": [1, -2, null, true]}}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let key = "ключ \" \\ 🦀";
    let (status, _) = alice
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/org.example.tricky/{}", encode(&room_id), encode(key)),
            &json!({"v": tricky}),
        )
        .await;
    assert_eq!(status, 200);

    let body = sync(&alice, None, "").await;
    let events = body["rooms"]["join"][&room_id]["timeline"]["events"].as_array().unwrap();
    let message = events.iter().find(|e| e["event_id"] == sent["event_id"]).expect("the message is in the timeline");
    assert_eq!(
        message["content"],
        json!({"msgtype": "m.text", "body": tricky, "nested": {"list": [1, -2, null, true]}})
    );
    assert_eq!(message["unsigned"]["transaction_id"], "tricky-1");
    assert!(message.get("state_key").is_none());
    let state = events.iter().find(|e| e["type"] == "org.example.tricky").expect("the state event is in the timeline");
    assert_eq!(state["state_key"], key);
    assert_eq!(state["content"]["v"], tricky);
}
