//! Server-side search (`POST /search`): ranking, ordering, pagination,
//! context, and never showing what the requester may not see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

const SEARCH: &str = "/_matrix/client/v3/search";

/// Runs a search with `criteria` merged into `room_events`.
async fn search(client: &Client, term: &str, criteria: Value, next_batch: Option<&str>) -> Value {
    let mut room_events = json!({"search_term": term});
    for (key, value) in criteria.as_object().unwrap() {
        room_events[key] = value.clone();
    }
    let path = match next_batch {
        Some(token) => format!("{SEARCH}?next_batch={}", encode(token)),
        None => SEARCH.to_owned(),
    };
    let (status, body) = client.post(&path, &json!({"search_categories": {"room_events": room_events}})).await;
    assert_eq!(status, 200, "search {term:?} failed: {body}");
    body["search_categories"]["room_events"].clone()
}

fn bodies(room_events: &Value) -> Vec<String> {
    room_events["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let content = &r["result"]["content"];
            content["body"].as_str().or_else(|| content["name"].as_str()).unwrap_or_default().to_owned()
        })
        .collect()
}

fn event_ids(room_events: &Value) -> Vec<String> {
    room_events["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"]["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn rank_recent_and_query_syntax() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room = alice.create_room(json!({"name": "Allotment", "topic": "Vegetables"})).await;
    for body in ["the garden is lovely", "garden garden garden gnomes", "kitchen stuff", "gardening tips", "one plant"]
    {
        alice.send_text(&room, body).await;
    }

    // Rank (the default): the message that says "garden" most wins; stems
    // match ("gardening").
    let ranked = search(&alice, "Garden", json!({}), None).await;
    let found = bodies(&ranked);
    assert_eq!(found.len(), 3, "{ranked}");
    assert_eq!(found[0], "garden garden garden gnomes");
    assert!(found.contains(&"gardening tips".to_owned()) && found.contains(&"the garden is lovely".to_owned()));
    let ranks: Vec<f64> = ranked["results"].as_array().unwrap().iter().map(|r| r["rank"].as_f64().unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");
    assert!(ranks[0] > ranks[2], "{ranks:?}");
    assert_eq!(ranked["count"], 3);
    let highlights: Vec<&str> = ranked["highlights"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert!(highlights.contains(&"garden") && highlights.contains(&"gardening"), "{highlights:?}");
    assert!(ranked.get("next_batch").is_none());
    let first = &ranked["results"][0]["result"];
    assert_eq!(first["room_id"], room.as_str());
    assert_eq!(first["sender"], "@alice:localhost");
    assert_eq!(first["type"], "m.room.message");

    // Recent: newest first.
    let recent = search(&alice, "garden", json!({"order_by": "recent"}), None).await;
    assert_eq!(bodies(&recent), vec!["gardening tips", "garden garden garden gnomes", "the garden is lovely"]);

    // websearch syntax: phrases, exclusion, alternatives; stop words alone match nothing.
    assert_eq!(
        bodies(&search(&alice, "\"garden gnomes\"", json!({}), None).await),
        vec!["garden garden garden gnomes"]
    );
    let mut without = bodies(&search(&alice, "garden -gnomes", json!({"order_by": "recent"}), None).await);
    without.sort();
    assert_eq!(without, vec!["gardening tips", "the garden is lovely"]);
    assert_eq!(search(&alice, "gnomes or kitchen", json!({}), None).await["count"], 2);
    assert_eq!(bodies(&search(&alice, "plants", json!({}), None).await), vec!["one plant"]);
    let nothing = search(&alice, "the", json!({}), None).await;
    assert_eq!(nothing["results"], json!([]));
    assert_eq!(nothing["count"], 0);

    // Keys: names and topics are searchable too, one key at a time.
    let names = search(&alice, "allotment", json!({"keys": ["content.name"]}), None).await;
    assert_eq!(bodies(&names), vec!["Allotment"]);
    assert_eq!(names["results"][0]["result"]["type"], "m.room.name");
    assert_eq!(search(&alice, "allotment", json!({"keys": ["content.body"]}), None).await["count"], 0);
    let topics = search(&alice, "vegetables", json!({}), None).await;
    assert_eq!(topics["results"][0]["result"]["content"]["topic"], "Vegetables");

    // Filters: senders, types, rooms.
    let filter = |f: Value| json!({"filter": f});
    assert_eq!(
        search(&alice, "garden", filter(json!({"senders": ["@bob:localhost"]})), None).await["results"],
        json!([])
    );
    assert_eq!(
        search(&alice, "allotment", filter(json!({"types": ["m.room.message"]})), None).await["results"],
        json!([])
    );
    assert_eq!(search(&alice, "garden", filter(json!({"not_rooms": [room]})), None).await["count"], 0);
    assert_eq!(
        search(&alice, "garden", filter(json!({"rooms": [room], "limit": 1})), None).await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Groups and state.
    let grouped = search(
        &alice,
        "garden",
        json!({"groupings": {"group_by": [{"key": "room_id"}, {"key": "sender"}]}, "include_state": true}),
        None,
    )
    .await;
    let group = &grouped["groups"]["room_id"][&room];
    assert_eq!(group["order"], 1);
    assert_eq!(group["results"].as_array().unwrap().len(), 3);
    assert_eq!(grouped["groups"]["sender"]["@alice:localhost"]["results"].as_array().unwrap().len(), 3);
    let state = grouped["state"][&room].as_array().unwrap();
    assert!(state.iter().any(|e| e["type"] == "m.room.create"), "{grouped}");
}

#[tokio::test]
async fn pagination() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room = alice.create_room(json!({})).await;
    let mut sent = Vec::new();
    for i in 0..12 {
        sent.push(alice.send_text(&room, &format!("apple number {i}")).await);
    }
    for order in ["recent", "rank"] {
        let mut seen: Vec<String> = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let page =
                search(&alice, "apple", json!({"order_by": order, "filter": {"limit": 5}}), token.as_deref()).await;
            pages += 1;
            assert_eq!(page["count"], 12);
            let ids = event_ids(&page);
            assert!(ids.len() <= 5);
            seen.extend(ids);
            match page["next_batch"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{order}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12, "{order}: {seen:?}");
        if order == "recent" {
            let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
            assert_eq!(seen, newest_first);
        }
    }
    // A token of the other ordering, or garbage, is refused.
    let page = search(&alice, "apple", json!({"order_by": "recent", "filter": {"limit": 5}}), None).await;
    let token = page["next_batch"].as_str().unwrap();
    let body = json!({"search_categories": {"room_events": {"search_term": "apple", "order_by": "rank"}}});
    assert_error(&alice.post(&format!("{SEARCH}?next_batch={token}"), &body).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.post(&format!("{SEARCH}?next_batch=garbage"), &body).await, 400, "M_INVALID_PARAM");
}

#[tokio::test]
async fn context_around_results() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room = alice.create_room(json!({})).await;
    for body in ["first", "second", "third zebra", "fourth", "fifth"] {
        alice.send_text(&room, body).await;
    }
    let criteria = json!({"event_context": {"before_limit": 1, "after_limit": 2, "include_profile": true}});
    let found = search(&alice, "zebra", criteria, None).await;
    assert_eq!(bodies(&found), vec!["third zebra"]);
    let context = &found["results"][0]["context"];
    let texts = |events: &Value| -> Vec<String> {
        events.as_array().unwrap().iter().map(|e| e["content"]["body"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(texts(&context["events_before"]), vec!["second"]);
    assert_eq!(texts(&context["events_after"]), vec!["fourth", "fifth"]);
    assert!(context["start"].is_string() && context["end"].is_string(), "{context}");
    assert_eq!(context["profile_info"]["@alice:localhost"]["displayname"], "alice");
    // The tokens page on from the context, like /messages tokens.
    let start = context["start"].as_str().unwrap();
    let path = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1&from={}", encode(&room), encode(start));
    let (status, page) = alice.get(&path).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["chunk"][0]["content"]["body"], "first");

    // Default context: five each way; without event_context, none.
    let defaults = search(&alice, "zebra", json!({"event_context": {}}), None).await;
    assert_eq!(defaults["results"][0]["context"]["events_after"].as_array().unwrap().len(), 2);
    assert_eq!(defaults["results"][0]["context"]["events_before"].as_array().unwrap().len(), 5);
    assert!(defaults["results"][0]["context"].get("profile_info").is_none());
    assert!(search(&alice, "zebra", json!({}), None).await["results"][0].get("context").is_none());
}

#[tokio::test]
async fn only_visible_events_are_found() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;

    // A room Alice was never in.
    let secret = bob.create_room(json!({"preset": "public_chat"})).await;
    bob.send_text(&secret, "secret pineapple").await;
    let found = search(&alice, "pineapple", json!({}), None).await;
    assert_eq!(found["results"], json!([]));
    assert_eq!(found["count"], 0);
    assert_eq!(bodies(&search(&bob, "pineapple", json!({}), None).await), vec!["secret pineapple"]);

    // History visible only while joined.
    let room = bob
        .create_room(json!({"invite": ["@alice:localhost"], "initial_state": [
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}]}))
        .await;
    bob.send_text(&room, "early mango").await;
    assert_eq!(search(&alice, "mango", json!({}), None).await["results"], json!([]), "invited is not joined");
    assert_eq!(alice.join(&room).await.0, 200);
    bob.send_text(&room, "later mango").await;
    assert_eq!(bodies(&search(&alice, "mango", json!({}), None).await), vec!["later mango"]);

    // Rooms left stay searchable (as the spec says), up to the leave.
    let leave = format!("/_matrix/client/v3/rooms/{}/leave", encode(&room));
    assert_eq!(alice.post(&leave, &json!({})).await.0, 200);
    bob.send_text(&room, "mango after she left").await;
    assert_eq!(bodies(&search(&alice, "mango", json!({}), None).await), vec!["later mango"]);
    let mut all = bodies(&search(&bob, "mango", json!({}), None).await);
    all.sort();
    assert_eq!(all, vec!["early mango", "later mango", "mango after she left"]);
    // Forgotten rooms are not.
    let forget = format!("/_matrix/client/v3/rooms/{}/forget", encode(&room));
    assert_eq!(alice.post(&forget, &json!({})).await.0, 200);
    assert_eq!(search(&alice, "mango", json!({}), None).await["results"], json!([]));
}

#[tokio::test]
async fn redacted_events_drop_out() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let room = alice.create_room(json!({})).await;
    let split = alice.send_text(&room, "banana split").await;
    alice.send_text(&room, "banana bread").await;
    assert_eq!(search(&alice, "banana", json!({}), None).await["count"], 2);
    let redact = format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", encode(&room), encode(&split));
    assert_eq!(alice.put(&redact, &json!({"reason": "typo"})).await.0, 200);
    let found = search(&alice, "banana", json!({}), None).await;
    assert_eq!(bodies(&found), vec!["banana bread"]);
    assert_eq!(found["count"], 1);
    assert_eq!(search(&alice, "split", json!({}), None).await["results"], json!([]));

    // Text PostgreSQL cannot store (NUL) must not stop the message.
    let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/nul", encode(&room));
    let (status, body) = alice.put(&path, &json!({"msgtype": "m.text", "body": "lemon\u{0}curd"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(search(&alice, "curd", json!({}), None).await["count"], 1);
}

#[tokio::test]
async fn bad_requests() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let criteria = |extra: Value| {
        let mut room_events = json!({"search_term": "x"});
        for (key, value) in extra.as_object().unwrap() {
            room_events[key] = value.clone();
        }
        json!({"search_categories": {"room_events": room_events}})
    };
    assert_error(&alice.post(SEARCH, &json!({})).await, 400, "M_MISSING_PARAM");
    assert_error(&alice.post(SEARCH, &json!({"search_categories": {"room_events": {}}})).await, 400, "M_MISSING_PARAM");
    assert_error(&alice.post(SEARCH, &criteria(json!({"keys": ["content.url"]}))).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.post(SEARCH, &criteria(json!({"order_by": "oldest"}))).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.post(SEARCH, &criteria(json!({"keys": "content.body"}))).await, 400, "M_BAD_JSON");
    let groups = json!({"groupings": {"group_by": [{"key": "colour"}]}});
    assert_error(&alice.post(SEARCH, &criteria(groups)).await, 400, "M_INVALID_PARAM");
    let context = json!({"event_context": {"before_limit": -1}});
    assert_error(&alice.post(SEARCH, &criteria(context)).await, 400, "M_INVALID_PARAM");
    assert_error(&server.client().post(SEARCH, &criteria(json!({}))).await, 401, "M_MISSING_TOKEN");
    // No categories asked for: nothing to answer.
    let (status, body) = alice.post(SEARCH, &json!({"search_categories": {}})).await;
    assert_eq!((status, body), (200, json!({"search_categories": {}})));
    // A term with nothing searchable in it finds nothing, without error.
    let found = search(&alice, "\"\" - -- ", json!({}), None).await;
    assert_eq!(found["results"], json!([]));
}
