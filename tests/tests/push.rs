//! Push rules: the API, and unread notification and highlight counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

async fn unread(client: &Client, room_id: &str) -> (i64, i64) {
    let (_, body) = client.get("/_matrix/client/v3/sync?timeout=0").await;
    let counts = &body["rooms"]["join"][room_id]["unread_notifications"];
    (counts["notification_count"].as_i64().unwrap(), counts["highlight_count"].as_i64().unwrap())
}

#[tokio::test]
async fn default_rules_and_the_rules_api() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let (status, rules) = alice.get("/_matrix/client/v3/pushrules/").await;
    assert_eq!(status, 200);
    let overrides: Vec<&str> =
        rules["global"]["override"].as_array().unwrap().iter().map(|r| r["rule_id"].as_str().unwrap()).collect();
    assert!(overrides.contains(&".m.rule.master") && overrides.contains(&".m.rule.is_user_mention"), "{overrides:?}");
    // The initial sync carries the rules as account data.
    let (_, sync) = alice.get("/_matrix/client/v3/sync?timeout=0").await;
    assert!(sync["account_data"]["events"].as_array().unwrap().iter().any(|e| e["type"] == "m.push_rules"));

    let base = "/_matrix/client/v3/pushrules/global";
    let (status, _) = alice
        .put(
            &format!("{base}/content/cats"),
            &json!({"pattern": "cat*", "actions": ["notify", {"set_tweak": "highlight"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, rule) = alice.get(&format!("{base}/content/cats")).await;
    assert_eq!(rule["pattern"], "cat*");
    assert_eq!(alice.put(&format!("{base}/content/cats/enabled"), &json!({"enabled": false})).await.0, 200);
    assert_eq!(alice.get(&format!("{base}/content/cats/enabled")).await.1, json!({"enabled": false}));
    assert_eq!(alice.put(&format!("{base}/content/cats/actions"), &json!({"actions": []})).await.0, 200);
    assert_eq!(alice.get(&format!("{base}/content/cats/actions")).await.1, json!({"actions": []}));
    assert_eq!(alice.delete(&format!("{base}/content/cats"), None).await.0, 200);
    assert_error(&alice.get(&format!("{base}/content/cats")).await, 404, "M_NOT_FOUND");
    // Server-default rules can be switched off but not deleted or replaced.
    assert_eq!(alice.put(&format!("{base}/override/.m.rule.master/enabled"), &json!({"enabled": true})).await.0, 200);
    assert_error(&alice.delete(&format!("{base}/override/.m.rule.master"), None).await, 400, "M_INVALID_PARAM");
    assert_error(
        &alice.put(&format!("{base}/override/.m.rule.mine"), &json!({"actions": []})).await,
        400,
        "M_INVALID_PARAM",
    );
    assert_error(&alice.put(&format!("{base}/bogus/x"), &json!({"actions": []})).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.put(&format!("{base}/content/x"), &json!({"actions": []})).await, 400, "M_BAD_JSON");
    assert_error(
        &alice.put("/_matrix/client/v3/user/@alice:localhost/account_data/m.push_rules", &json!({})).await,
        405,
        "M_BAD_JSON",
    );
}

#[tokio::test]
async fn unread_counts_follow_rules_and_receipts() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"invite": ["@bob:localhost"], "is_direct": true})).await;
    bob.join(&room_id).await;
    assert_eq!(unread(&bob, &room_id).await, (0, 0));
    alice.send_text(&room_id, "one").await;
    alice.send_text(&room_id, "two").await;
    let (status, _) = alice
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/mention", encode(&room_id)),
            &json!({"msgtype": "m.text", "body": "bob!", "m.mentions": {"user_ids": ["@bob:localhost"]}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(unread(&bob, &room_id).await, (3, 1));
    // Alice's own messages never count for her.
    assert_eq!(unread(&alice, &room_id).await, (0, 0));
    let last = alice.send_text(&room_id, "four").await;
    let receipt = format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", encode(&room_id), encode(&last));
    assert_eq!(bob.post(&receipt, &json!({})).await.0, 200);
    assert_eq!(unread(&bob, &room_id).await, (0, 0));

    // Bob mutes the room with a room rule: new messages do not count.
    let mute = format!("/_matrix/client/v3/pushrules/global/room/{}", encode(&room_id));
    assert_eq!(bob.put(&mute, &json!({"actions": []})).await.0, 200);
    alice.send_text(&room_id, "muted").await;
    assert_eq!(unread(&bob, &room_id).await, (0, 0));
    assert_eq!(bob.delete(&mute, None).await.0, 200);
    alice.send_text(&room_id, "loud").await;
    assert_eq!(unread(&bob, &room_id).await.0, 1);
    let (_, sync): (u16, Value) = bob.get("/_matrix/client/v3/sync?timeout=0").await;
    assert!(sync["account_data"]["events"].as_array().unwrap().iter().any(|e| e["type"] == "m.push_rules"));
}

/// The counts are remembered between syncs and only new actions are added:
/// check them against what they must be through new messages, mentions, a
/// receipt in the middle of the unread ones, and the user's own message.
#[tokio::test]
async fn remembered_unread_counts_stay_exact() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let room_id = alice.create_room(json!({"invite": ["@bob:localhost"], "is_direct": true})).await;
    bob.join(&room_id).await;
    let mention = |txn: &str| {
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", encode(&room_id));
        (path, json!({"msgtype": "m.text", "body": "bob!", "m.mentions": {"user_ids": ["@bob:localhost"]}}))
    };
    let mut ids = Vec::new();
    for round in 0..3 {
        for i in 0..4 {
            ids.push(alice.send_text(&room_id, &format!("r{round} m{i}")).await);
        }
        let (path, body) = mention(&format!("m{round}"));
        assert_eq!(alice.put(&path, &body).await.0, 200);
        assert_eq!(unread(&bob, &room_id).await, (5 * (round + 1), round + 1), "after round {round}");
    }
    // A receipt on the 6th message: 9 messages and 2 mentions remain (the
    // mentions of rounds 1 and 2; round 0's came 5th).
    let receipt =
        |event_id: &str| format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", encode(&room_id), encode(event_id));
    assert_eq!(bob.post(&receipt(&ids[4]), &json!({})).await.0, 200);
    assert_eq!(unread(&bob, &room_id).await, (9, 2));
    // Nothing new: the remembered counts are served as they are, also
    // after a receipt elsewhere.
    assert_eq!(unread(&bob, &room_id).await, (9, 2));
    let other = bob.create_room(json!({})).await;
    let own = bob.send_text(&other, "elsewhere").await;
    let elsewhere = format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", encode(&other), encode(&own));
    assert_eq!(bob.post(&elsewhere, &json!({})).await.0, 200);
    assert_eq!(unread(&bob, &room_id).await, (9, 2));
    alice.send_text(&room_id, "more").await;
    assert_eq!(unread(&bob, &room_id).await, (10, 2));
    // Bob speaks: he has read everything before.
    bob.send_text(&room_id, "hi").await;
    assert_eq!(unread(&bob, &room_id).await, (0, 0));
    alice.send_text(&room_id, "after").await;
    let (path, body) = mention("late");
    assert_eq!(alice.put(&path, &body).await.0, 200);
    assert_eq!(unread(&bob, &room_id).await, (2, 1));
}

/// Each member is evaluated with their own display name, and a member
/// whose name is not a string still counts, with their user name in its
/// place: one event is checked against every member's rules in turn, with
/// a condition context reused from one member to the next. (The spec's
/// default rules no longer look at display names, so each member adds a
/// rule with the `contains_display_name` condition.)
#[tokio::test]
async fn display_name_rules_see_each_members_own_name() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let carol = server.register("carol", "pw").await;
    let dave = server.register("dave", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    let members = [
        (&bob, "@bob:localhost", json!("Bobby Tables")),
        (&carol, "@carol:localhost", json!("Caroline")),
        (&dave, "@dave:localhost", json!(42)),
    ];
    for (client, user, name) in members {
        client.join(&room_id).await;
        let path = format!("/_matrix/client/v3/rooms/{}/state/m.room.member/{}", encode(&room_id), encode(user));
        assert_eq!(client.put(&path, &json!({"membership": "join", "displayname": name})).await.0, 200);
        let rule = json!({"conditions": [{"kind": "contains_display_name"}], "actions": ["notify", {"set_tweak": "highlight"}]});
        assert_eq!(client.put("/_matrix/client/v3/pushrules/global/override/by_name", &rule).await.0, 200);
    }
    alice.send_text(&room_id, "hello Bobby Tables").await;
    assert_eq!(unread(&bob, &room_id).await, (1, 1));
    assert_eq!(unread(&carol, &room_id).await, (1, 0));
    assert_eq!(unread(&dave, &room_id).await, (1, 0));
    alice.send_text(&room_id, "and Caroline too").await;
    assert_eq!(unread(&bob, &room_id).await, (2, 1));
    assert_eq!(unread(&carol, &room_id).await, (2, 1));
    alice.send_text(&room_id, "where is dave?").await;
    assert_eq!(unread(&dave, &room_id).await, (3, 1));
    assert_eq!(unread(&bob, &room_id).await, (3, 1));
    assert_eq!(unread(&carol, &room_id).await, (3, 1));
}

/// An event's decisions are stored once for the room plus a row for each
/// member whose own decision differs: members who muted the room or are
/// mentioned must still get their own counts, a member who joined later
/// must not count what came before their join, and the counts read back
/// from the database after a restart (nothing remembered) must be the
/// ones served before it.
#[tokio::test]
async fn room_wide_decisions_and_their_exceptions_count_per_member() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    let mut members = Vec::new();
    for name in ["bob", "carol", "dan"] {
        let client = server.register(name, "pw").await;
        client.join(&room_id).await;
        members.push(client);
    }
    let (bob, carol, dan) = (&members[0], &members[1], &members[2]);
    let mute = format!("/_matrix/client/v3/pushrules/global/room/{}", encode(&room_id));
    assert_eq!(carol.put(&mute, &json!({"actions": []})).await.0, 200);
    let send = |txn: &str, body: Value| {
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", encode(&room_id));
        (path, body)
    };
    let mention = |who: &str| json!({"msgtype": "m.text", "body": "hey", "m.mentions": {"user_ids": [who]}});

    // Syncs in between, so that remembered counts are brought forward by
    // the writer as well as read afresh.
    for round in 0..2 {
        alice.send_text(&room_id, &format!("plain {round}")).await;
        let (path, body) = send(&format!("to-bob-{round}"), mention("@bob:localhost"));
        assert_eq!(alice.put(&path, &body).await.0, 200);
        assert_eq!(unread(bob, &room_id).await, (2 * (round + 1), round + 1));
        assert_eq!(unread(carol, &room_id).await, (0, 0), "carol muted the room");
        assert_eq!(unread(dan, &room_id).await, (2 * (round + 1), 0));
    }
    // Carol is mentioned: the mention rule comes before her room rule.
    let (path, body) = send("to-carol", mention("@carol:localhost"));
    assert_eq!(alice.put(&path, &body).await.0, 200);
    let erin = server.register("erin", "pw").await;
    erin.join(&room_id).await;
    assert_eq!(unread(&erin, &room_id).await, (0, 0), "nothing before erin's join counts for her");
    alice.send_text(&room_id, "welcome").await;
    dan.send_text(&room_id, "hello all").await;

    let expected = [(bob, (7, 2)), (carol, (1, 1)), (dan, (0, 0)), (&erin, (2, 0))];
    for (client, counts) in expected {
        assert_eq!(unread(client, &room_id).await, counts);
    }
    server.restart().await;
    for (client, counts) in expected {
        let again = server.client().with_token(client.token.as_deref().unwrap());
        assert_eq!(unread(&again, &room_id).await, counts, "after a restart");
    }
}
