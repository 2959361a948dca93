//! Message events sent to one room at the same moment are written in
//! batches (group commit). Each request must still get its own answer, be
//! stored exactly once, in one linear DAG, with its push actions and its
//! search entry, and a refused event must not take the others with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

fn rooms(room_id: &str, rest: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/{rest}", encode(room_id))
}

/// A word found in one message only (letters, so that both backends'
/// full-text parsers keep it whole).
fn word(sender: usize, message: usize) -> String {
    let letter = |n: usize| char::from(b'a' + u8::try_from(n % 26).unwrap());
    format!("zq{}{}", letter(sender), letter(message))
}

/// Registers `count` users named `{prefix}{n}` who join `room_id`.
async fn members(server: &TestServer, room_id: &str, prefix: &str, count: usize) -> Vec<Client> {
    let mut out = Vec::new();
    for n in 0..count {
        let user = server.register(&format!("{prefix}{n}"), "pw").await;
        user.join(room_id).await;
        out.push(user);
    }
    out
}

/// Every sender sends `per_sender` messages, all senders at once, and each
/// message twice at the same moment with the same transaction id (a
/// client retrying while the first request is still in flight). Returns
/// (sender index, message index, status, body) for every request.
async fn send_all(room_id: &str, senders: &[Client], per_sender: usize) -> Vec<(usize, usize, u16, Value)> {
    let mut tasks = Vec::new();
    for (s, client) in senders.iter().enumerate() {
        for copy in 0..2 {
            let client = client.clone();
            let room_id = room_id.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for m in 0..per_sender {
                    let path = rooms(&room_id, &format!("send/m.room.message/t{s}-{m}"));
                    let body = json!({"msgtype": "m.text", "body": format!("{} copy", word(s, m))});
                    let (status, answer) = client.put(&path, &body).await;
                    if copy == 0 {
                        out.push((s, m, status, answer));
                    } else {
                        out.push((s, m + per_sender, status, answer));
                    }
                }
                out
            }));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

/// The ids of the room's messages, newest first, as `/messages` lists them.
async fn message_ids(client: &Client, room_id: &str) -> Vec<String> {
    let (_, page) = client.get(&rooms(room_id, "messages?dir=b&limit=1000")).await;
    page["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The stored PDU of an event.
async fn pdu(server: &TestServer, event_id: &str) -> Value {
    let services = &server.server.as_ref().unwrap().services;
    let row = services.storage.event(event_id).await.unwrap().unwrap();
    serde_json::from_str(&row.json).unwrap()
}

/// Checks that `events` (ids) form one chain: ordered by depth, each names
/// exactly the one before it as its prev event, with stream orderings in
/// the same order, and the last is the room's only forward extremity.
async fn assert_linear(server: &TestServer, room_id: &str, events: &HashSet<String>) {
    let services = &server.server.as_ref().unwrap().services;
    let mut chain = Vec::new();
    for id in events {
        let row = services.storage.event(id).await.unwrap().unwrap();
        let json: Value = serde_json::from_str(&row.json).unwrap();
        chain.push((row.depth, row.stream_ordering, id.clone(), json));
    }
    chain.sort_by_key(|(depth, ..)| *depth);
    for pair in chain.windows(2) {
        let (depth, stream, id, _) = &pair[0];
        let (next_depth, next_stream, _, next) = &pair[1];
        assert_eq!(*next_depth, depth + 1, "depths must be consecutive");
        assert!(next_stream > stream, "stream order must follow the DAG");
        assert_eq!(next["prev_events"], json!([id]), "each event follows the one before it");
    }
    let extremities = services.storage.forward_extremities(room_id).await.unwrap();
    assert_eq!(extremities.len(), 1);
    assert_eq!(extremities[0].0, chain.last().unwrap().2);
}

#[tokio::test]
async fn messages_sent_together_are_each_stored_once_in_one_chain() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    let senders = members(&server, &room_id, "sender", 6).await;
    let reader = members(&server, &room_id, "reader", 1).await.remove(0);
    let per_sender = 12;
    let services = &server.server.as_ref().unwrap().services;
    let (batches_before, events_before) = services.rooms.group_commit.totals();
    let answers = send_all(&room_id, &senders, per_sender).await;
    // Twelve requests in flight at any time: batches of more than one
    // event must have been written (else this test proves nothing).
    let (batches, events) = services.rooms.group_commit.totals();
    assert_eq!(events - events_before, 72);
    assert!(batches - batches_before < 72, "no batch held more than one event");

    // Every request succeeded, and both copies of a message got one id.
    let mut ids: HashMap<(usize, usize), String> = HashMap::new();
    for (s, m, status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        let id = answer["event_id"].as_str().unwrap().to_owned();
        let key = (*s, m % per_sender);
        if let Some(other) = ids.get(&key) {
            assert_eq!(other, &id, "a repeated transaction must get the first event");
        } else {
            ids.insert(key, id);
        }
    }
    let sent: HashSet<String> = ids.values().cloned().collect();
    assert_eq!(sent.len(), senders.len() * per_sender);

    // Stored once each, readable, in a single chain.
    let stored = message_ids(&reader, &room_id).await;
    assert_eq!(stored.len(), sent.len(), "no message lost or doubled");
    assert_eq!(stored.iter().cloned().collect::<HashSet<_>>(), sent);
    assert_linear(&server, &room_id, &sent).await;
    for ((s, m), id) in &ids {
        assert_eq!(pdu(&server, id).await["content"]["body"], format!("{} copy", word(*s, *m)));
    }

    // Each message's push action was kept: the reader has one notification
    // per message (the default rules notify for messages).
    let (_, sync) = reader.get("/_matrix/client/v3/sync?timeout=0").await;
    let counts = &sync["rooms"]["join"][&room_id]["unread_notifications"];
    assert_eq!(counts["notification_count"], json!(sent.len()), "{counts}");

    // And each one's search entry: a word of one message finds only it.
    for (s, m) in [(0, 0), (3, 7), (5, per_sender - 1)] {
        let search = json!({"search_categories": {"room_events": {"search_term": word(s, m)}}});
        let (status, found) = reader.post("/_matrix/client/v3/search", &search).await;
        assert_eq!(status, 200, "{found}");
        let results = found["search_categories"]["room_events"]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{found}");
        assert_eq!(results[0]["result"]["event_id"], json!(ids[&(s, m)]));
    }
}

#[tokio::test]
async fn a_refused_message_does_not_take_its_batch_with_it() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    let mut senders = members(&server, &room_id, "member", 4).await;
    // Not in the room: every one of its sends is refused, whatever batch
    // it lands in.
    senders.push(server.register("outsider", "pw").await);
    let per_sender = 10;
    let answers = send_all(&room_id, &senders, per_sender).await;
    let mut sent = HashSet::new();
    for (s, _, status, answer) in answers {
        if s == 4 {
            assert_error(&(status, answer), 403, "M_FORBIDDEN");
        } else {
            assert_eq!(status, 200, "{answer}");
            sent.insert(answer["event_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(sent.len(), 4 * per_sender);
    assert_linear(&server, &room_id, &sent).await;
    // Nothing of the outsider's reached the room.
    let (_, page) = alice.get(&rooms(&room_id, "messages?dir=b&limit=1000")).await;
    let from_outsider =
        page["chunk"].as_array().unwrap().iter().filter(|e| e["sender"] == "@outsider:localhost").count();
    assert_eq!(from_outsider, 0);
}

#[tokio::test]
async fn room_version_1_chains_messages_sent_together_by_hash() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat", "room_version": "1"})).await;
    let senders = members(&server, &room_id, "member", 3).await;
    let per_sender = 6;
    let answers = send_all(&room_id, &senders, per_sender).await;
    let sent: HashSet<String> = answers
        .iter()
        .map(|(_, _, status, answer)| {
            assert_eq!(*status, 200, "{answer}");
            answer["event_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(sent.len(), 3 * per_sender);
    // Version 1 events carry their prev events as [id, hashes] pairs.
    let services = &server.server.as_ref().unwrap().services;
    let mut chain = Vec::new();
    for id in &sent {
        let row = services.storage.event(id).await.unwrap().unwrap();
        chain.push((row.depth, id.clone(), serde_json::from_str::<Value>(&row.json).unwrap()));
    }
    chain.sort_by_key(|(depth, ..)| *depth);
    for pair in chain.windows(2) {
        let prev = &pair[1].2["prev_events"];
        assert_eq!(prev.as_array().unwrap().len(), 1, "{prev}");
        assert_eq!(prev[0][0], json!(pair[0].1));
        assert!(prev[0][1]["sha256"].is_string(), "{prev}");
    }
    assert_eq!(services.storage.forward_extremities(&room_id).await.unwrap().len(), 1);
}

/// Transaction ids are not looked up before a batch is written: a retry is
/// found by the write itself. A retry sent together with new messages
/// must get its first event back, and the new messages must still be
/// written once each, in one chain after the first ones.
#[tokio::test]
async fn a_retry_sent_with_new_messages_gets_its_first_event() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room_id = alice.create_room(json!({"preset": "public_chat"})).await;
    let senders = members(&server, &room_id, "sender", 6).await;
    let reader = members(&server, &room_id, "reader", 1).await.remove(0);
    let services = &server.server.as_ref().unwrap().services;
    let body = |s: usize, m: usize| json!({"msgtype": "m.text", "body": format!("{} once", word(s, m))});

    let mut first = HashMap::new();
    for (s, client) in senders.iter().enumerate() {
        let (status, answer) = client.put(&rooms(&room_id, &format!("send/m.room.message/r{s}")), &body(s, 0)).await;
        assert_eq!(status, 200, "{answer}");
        first.insert(s, answer["event_id"].as_str().unwrap().to_owned());
    }

    let retries_before = services.rooms.group_commit.retries_found();
    let mut tasks = Vec::new();
    for (s, client) in senders.iter().enumerate() {
        for m in 0..6 {
            let (client, room_id) = (client.clone(), room_id.clone());
            // Message 0 repeats the first send's transaction id.
            let txn = if m == 0 { format!("r{s}") } else { format!("n{s}-{m}") };
            let body = body(s, m);
            tasks.push(tokio::spawn(async move {
                let (status, answer) = client.put(&rooms(&room_id, &format!("send/m.room.message/{txn}")), &body).await;
                (s, m, status, answer)
            }));
        }
    }
    let mut fresh = HashSet::new();
    for task in tasks {
        let (s, m, status, answer) = task.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        let id = answer["event_id"].as_str().unwrap().to_owned();
        if m == 0 {
            assert_eq!(id, first[&s], "a retry must get the first event");
        } else {
            fresh.insert(id);
        }
    }
    assert!(services.rooms.group_commit.retries_found() > retries_before, "no write found a retry");
    assert_eq!(fresh.len(), 30);

    let stored = message_ids(&reader, &room_id).await;
    assert_eq!(stored.len(), 36, "no message lost or doubled");
    let all: HashSet<String> = fresh.iter().chain(first.values()).cloned().collect();
    assert_eq!(stored.into_iter().collect::<HashSet<_>>(), all);
    assert_linear(&server, &room_id, &all).await;
    let (_, sync) = reader.get("/_matrix/client/v3/sync?timeout=0").await;
    let counts = &sync["rooms"]["join"][&room_id]["unread_notifications"];
    assert_eq!(counts["notification_count"], json!(36), "{counts}");
}
