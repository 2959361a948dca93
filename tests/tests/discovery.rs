//! Finding rooms and people: the published room directory, the user
//! directory, room summaries, space hierarchies and mutual rooms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use trellis_tests::client::{assert_error, encode};
use trellis_tests::{Client, TestServer};

const PUBLIC_ROOMS: &str = "/_matrix/client/v3/publicRooms";

fn visibility_path(room_id: &str) -> String {
    format!("/_matrix/client/v3/directory/list/room/{}", encode(room_id))
}

fn room_ids(chunk: &Value) -> Vec<String> {
    chunk.as_array().unwrap().iter().map(|r| r["room_id"].as_str().unwrap().to_owned()).collect()
}

async fn put_state(client: &Client, room_id: &str, event_type: &str, state_key: &str, content: Value) {
    let path = format!("/_matrix/client/v3/rooms/{}/state/{event_type}/{}", encode(room_id), encode(state_key));
    let (status, body) = client.put(&path, &content).await;
    assert_eq!(status, 200, "state {event_type} failed: {body}");
}

#[tokio::test]
async fn public_room_directory() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let anonymous = server.client();
    let garden = alice
        .create_room(
            json!({"visibility": "public", "name": "Garden", "topic": "Plants and trees", "room_alias_name": "garden"}),
        )
        .await;
    let kitchen = alice.create_room(json!({"visibility": "public", "preset": "public_chat", "name": "Kitchen"})).await;
    assert_eq!(bob.join(&kitchen).await.0, 200);
    let hidden = alice.create_room(json!({"name": "Hidden garden"})).await;
    let space = alice
        .create_room(json!({"visibility": "public", "name": "Hub", "creation_content": {"type": "m.space"}}))
        .await;

    // Largest first; unauthenticated GET is allowed.
    let (status, body) = anonymous.get(PUBLIC_ROOMS).await;
    assert_eq!(status, 200, "{body}");
    let listed = room_ids(&body["chunk"]);
    assert_eq!(listed.len(), 3, "{body}");
    assert_eq!(listed[0], kitchen);
    assert!(!listed.contains(&hidden));
    assert_eq!(body["total_room_count_estimate"], 3);
    assert!(body.get("next_batch").is_none() && body.get("prev_batch").is_none(), "{body}");
    let entry = body["chunk"].as_array().unwrap().iter().find(|r| r["room_id"] == garden.as_str()).unwrap();
    assert_eq!(entry["name"], "Garden");
    assert_eq!(entry["topic"], "Plants and trees");
    assert_eq!(entry["canonical_alias"], "#garden:localhost");
    assert_eq!(entry["num_joined_members"], 1);
    assert_eq!(entry["world_readable"], false);
    assert_eq!(entry["guest_can_join"], false);
    assert_eq!(entry["join_rule"], "public");
    assert!(entry.get("room_type").is_none());
    let hub = body["chunk"].as_array().unwrap().iter().find(|r| r["room_id"] == space.as_str()).unwrap();
    assert_eq!(hub["room_type"], "m.space");

    // Pagination forwards and back.
    let (_, first) = anonymous.get(&format!("{PUBLIC_ROOMS}?limit=2")).await;
    assert_eq!(room_ids(&first["chunk"]).len(), 2);
    assert!(first.get("prev_batch").is_none());
    let next = first["next_batch"].as_str().expect("next_batch");
    let (_, second) = anonymous.get(&format!("{PUBLIC_ROOMS}?limit=2&since={next}")).await;
    assert_eq!(room_ids(&second["chunk"]).len(), 1);
    assert!(second.get("next_batch").is_none(), "{second}");
    let prev = second["prev_batch"].as_str().expect("prev_batch");
    let (_, again) = anonymous.get(&format!("{PUBLIC_ROOMS}?limit=2&since={prev}")).await;
    assert_eq!(again["chunk"], first["chunk"]);
    let all: Vec<String> = room_ids(&first["chunk"]).into_iter().chain(room_ids(&second["chunk"])).collect();
    assert_eq!(all, listed);

    // Filters: the search term matches name, topic or alias, case-insensitively.
    let search = |term: &str| json!({"filter": {"generic_search_term": term}});
    for term in ["TREES", "#garden", "gard"] {
        let (status, body) = bob.post(PUBLIC_ROOMS, &search(term)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(room_ids(&body["chunk"]), vec![garden.clone()], "{term}");
    }
    let (_, body) = bob.post(PUBLIC_ROOMS, &search("nothing like this")).await;
    assert_eq!(body["chunk"], json!([]));
    let (_, body) = bob.post(PUBLIC_ROOMS, &json!({"filter": {"room_types": ["m.space"]}})).await;
    assert_eq!(room_ids(&body["chunk"]), vec![space.clone()]);
    let (_, body) = bob.post(PUBLIC_ROOMS, &json!({"filter": {"room_types": [null]}})).await;
    assert_eq!(room_ids(&body["chunk"]).len(), 2);
    let (_, body) = bob.post(PUBLIC_ROOMS, &json!({"limit": 1, "include_all_networks": true})).await;
    assert_eq!(room_ids(&body["chunk"]), vec![kitchen.clone()]);
    // No application service publishes to a third-party network.
    let (_, body) = bob.post(PUBLIC_ROOMS, &json!({"third_party_instance_id": "irc"})).await;
    assert_eq!(body["chunk"], json!([]));

    // Bad input.
    let bad = json!({"include_all_networks": true, "third_party_instance_id": "irc"});
    assert_error(&bob.post(PUBLIC_ROOMS, &bad).await, 400, "M_INVALID_PARAM");
    assert_error(&bob.post(PUBLIC_ROOMS, &json!({"limit": "ten"})).await, 400, "M_BAD_JSON");
    assert_error(&bob.post(PUBLIC_ROOMS, &json!({"limit": -1})).await, 400, "M_INVALID_PARAM");
    assert_error(&anonymous.get(&format!("{PUBLIC_ROOMS}?since=bogus")).await, 400, "M_INVALID_PARAM");
    assert_error(&anonymous.get(&format!("{PUBLIC_ROOMS}?limit=x")).await, 400, "M_INVALID_PARAM");
    assert_error(&anonymous.post(PUBLIC_ROOMS, &json!({})).await, 401, "M_MISSING_TOKEN");
    // Other servers' directories need federation.
    assert_eq!(anonymous.get(&format!("{PUBLIC_ROOMS}?server=localhost")).await.0, 200);
    assert_error(&bob.get(&format!("{PUBLIC_ROOMS}?server=other.example")).await, 502, "M_UNKNOWN");
    assert_error(&anonymous.get(&format!("{PUBLIC_ROOMS}?server=other.example")).await, 401, "M_MISSING_TOKEN");
    assert_error(&bob.get(&format!("{PUBLIC_ROOMS}?server=bad%20name")).await, 400, "M_INVALID_PARAM");

    // Visibility: read by anyone, changed by room moderators and admins.
    assert_eq!(anonymous.get(&visibility_path(&hidden)).await.1, json!({"visibility": "private"}));
    assert_eq!(anonymous.get(&visibility_path(&garden)).await.1, json!({"visibility": "public"}));
    assert_error(&anonymous.get(&visibility_path("!nowhere:localhost")).await, 404, "M_NOT_FOUND");
    assert_error(&bob.put(&visibility_path(&hidden), &json!({"visibility": "public"})).await, 403, "M_FORBIDDEN");
    // Joined but without the power to change the canonical alias.
    assert_error(&bob.put(&visibility_path(&kitchen), &json!({"visibility": "private"})).await, 403, "M_FORBIDDEN");
    assert_error(&alice.put(&visibility_path(&hidden), &json!({"visibility": "secret"})).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.put(&visibility_path("!nowhere:localhost"), &json!({})).await, 404, "M_NOT_FOUND");
    // The visibility defaults to public.
    assert_eq!(alice.put(&visibility_path(&hidden), &json!({})).await.0, 200);
    assert_eq!(anonymous.get(&visibility_path(&hidden)).await.1, json!({"visibility": "public"}));
    let (_, body) = anonymous.get(PUBLIC_ROOMS).await;
    assert!(room_ids(&body["chunk"]).contains(&hidden));
    assert_eq!(alice.put(&visibility_path(&garden), &json!({"visibility": "private"})).await.0, 200);
    let (_, body) = anonymous.get(PUBLIC_ROOMS).await;
    assert!(!room_ids(&body["chunk"]).contains(&garden));
    // A server admin may change any room.
    let admin = server.register_as("root", "pw", true).await;
    assert_eq!(admin.put(&visibility_path(&garden), &json!({"visibility": "public"})).await.0, 200);
    assert_eq!(anonymous.get(&visibility_path(&garden)).await.1, json!({"visibility": "public"}));
}

async fn find_users(client: &Client, term: &str) -> Vec<String> {
    let (status, body) = client.post("/_matrix/client/v3/user_directory/search", &json!({"search_term": term})).await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn user_directory_privacy() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let carol = server.register("carol", "pw").await;
    let dave = server.register("dave", "pw").await;
    // Alice and Bob share a private room; Carol sits in a public room;
    // Dave is alone in a private one.
    let private = alice.create_room(json!({"invite": ["@bob:localhost"]})).await;
    assert_eq!(bob.join(&private).await.0, 200);
    carol.create_room(json!({"preset": "public_chat", "name": "Lobby"})).await;
    dave.create_room(json!({"name": "Den"})).await;
    let (status, _) =
        bob.put("/_matrix/client/v3/profile/@bob:localhost/displayname", &json!({"displayname": "Bobby Tables"})).await;
    assert_eq!(status, 200);

    assert_eq!(find_users(&alice, "bob").await, vec!["@bob:localhost"]);
    assert_eq!(find_users(&alice, "TABLES").await, vec!["@bob:localhost"]);
    assert_eq!(find_users(&alice, "bobby tab").await, vec!["@bob:localhost"]);
    assert_eq!(find_users(&alice, "carol").await, vec!["@carol:localhost"]);
    // Dave shares no room with Alice and is in no public room.
    assert!(find_users(&alice, "dave").await.is_empty());
    // Alice is only in a private room Dave is not in; Carol is public.
    assert!(find_users(&dave, "alice").await.is_empty());
    assert_eq!(find_users(&dave, "carol").await, vec!["@carol:localhost"]);

    let (_, body) = alice.post("/_matrix/client/v3/user_directory/search", &json!({"search_term": "bob"})).await;
    assert_eq!(body["results"][0], json!({"user_id": "@bob:localhost", "display_name": "Bobby Tables"}));
    assert_eq!(body["limited"], false);
    let (_, body) =
        alice.post("/_matrix/client/v3/user_directory/search", &json!({"search_term": "localhost", "limit": 1})).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["limited"], true);
    assert_error(
        &alice.post("/_matrix/client/v3/user_directory/search", &json!({"limit": 1})).await,
        400,
        "M_MISSING_PARAM",
    );

    // Deactivated users drop out.
    let path = "/_matrix/client/v3/account/deactivate";
    let (_, challenge) = carol.post(path, &json!({})).await;
    let session = challenge["session"].as_str().unwrap();
    let auth = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "carol"}, "password": "pw", "session": session});
    assert_eq!(carol.post(path, &json!({"auth": auth})).await.0, 200);
    assert!(find_users(&alice, "carol").await.is_empty());
}

fn summary_path(room: &str) -> String {
    format!("/_matrix/client/v1/room_summary/{}", encode(room))
}

#[tokio::test]
async fn room_summary_access() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let anonymous = server.client();
    let public = alice
        .create_room(
            json!({"preset": "public_chat", "name": "Town square", "topic": "Everyone", "room_alias_name": "square"}),
        )
        .await;

    let (status, body) = anonymous.get(&summary_path("#square:localhost")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room_id"], public.as_str());
    assert_eq!(body["name"], "Town square");
    assert_eq!(body["topic"], "Everyone");
    assert_eq!(body["canonical_alias"], "#square:localhost");
    assert_eq!(body["join_rule"], "public");
    assert_eq!(body["num_joined_members"], 1);
    assert_eq!(body["room_version"], "12");
    assert_eq!(body["world_readable"], false);
    assert_eq!(body["guest_can_join"], false);
    assert!(body.get("membership").is_none(), "no membership without a token: {body}");
    assert!(body.get("encryption").is_none());
    assert_eq!(alice.get(&summary_path(&public)).await.1["membership"], "join");
    assert_eq!(bob.get(&summary_path(&public)).await.1["membership"], "leave");
    // The unstable MSC3266 path gives the same answer.
    let unstable = format!("/_matrix/client/unstable/im.nheko.summary/rooms/{}/summary", encode("#square:localhost"));
    assert_eq!(alice.get(&unstable).await, alice.get(&summary_path(&public)).await);

    // An invite-only room: only members and invitees.
    let private = alice
        .create_room(json!({
            "name": "Secret",
            "initial_state": [{"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
        }))
        .await;
    assert_error(&anonymous.get(&summary_path(&private)).await, 404, "M_NOT_FOUND");
    assert_error(&bob.get(&summary_path(&private)).await, 404, "M_NOT_FOUND");
    let (status, body) = alice.get(&summary_path(&private)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["encryption"], "m.megolm.v1.aes-sha2");
    assert_eq!(body["join_rule"], "invite");
    let invite = format!("/_matrix/client/v3/rooms/{}/invite", encode(&private));
    assert_eq!(alice.post(&invite, &json!({"user_id": "@bob:localhost"})).await.0, 200);
    let (status, body) = bob.get(&summary_path(&private)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["membership"], "invite");

    // World-readable and knockable rooms are open to anyone.
    let readable = alice
        .create_room(json!({"initial_state": [{"type": "m.room.history_visibility", "content": {"history_visibility": "world_readable"}}]}))
        .await;
    let (status, body) = anonymous.get(&summary_path(&readable)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["world_readable"], true);
    let knock = alice
        .create_room(json!({"initial_state": [{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]}))
        .await;
    assert_eq!(anonymous.get(&summary_path(&knock)).await.1["join_rule"], "knock");

    // A restricted room is visible to members of an allowed room.
    let restricted = alice
        .create_room(json!({"initial_state": [{"type": "m.room.join_rules", "content": {
            "join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": public}]}}]}))
        .await;
    assert_error(&bob.get(&summary_path(&restricted)).await, 404, "M_NOT_FOUND");
    assert_eq!(bob.join(&public).await.0, 200);
    let (status, body) = bob.get(&summary_path(&restricted)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["allowed_room_ids"], json!([public]));

    assert_error(&alice.get(&summary_path("#nowhere:localhost")).await, 404, "M_NOT_FOUND");
    assert_error(&alice.get(&summary_path("!nowhere:localhost")).await, 404, "M_NOT_FOUND");
    assert_error(&alice.get(&summary_path("nonsense")).await, 400, "M_INVALID_PARAM");
    let mut bad_token = alice.clone();
    bad_token.token = Some("not-a-token".into());
    assert_error(&bad_token.get(&summary_path(&public)).await, 401, "M_UNKNOWN_TOKEN");
}

fn hierarchy_path(room_id: &str, query: &str) -> String {
    format!("/_matrix/client/v1/rooms/{}/hierarchy{query}", encode(room_id))
}

fn hierarchy_ids(body: &Value) -> Vec<String> {
    room_ids(&body["rooms"])
}

#[tokio::test]
async fn space_hierarchy() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    let space = alice
        .create_room(json!({"preset": "public_chat", "name": "Space", "creation_content": {"type": "m.space"}}))
        .await;
    let subspace = alice
        .create_room(json!({"preset": "public_chat", "name": "Sub", "creation_content": {"type": "m.space"}}))
        .await;
    let lounge = alice.create_room(json!({"preset": "public_chat", "name": "Lounge"})).await;
    let office = alice.create_room(json!({"name": "Office"})).await;
    let deep = alice.create_room(json!({"preset": "public_chat", "name": "Deep"})).await;
    let via = json!(["localhost"]);
    // Ordered children come first (by order), then by timestamp.
    put_state(&alice, &space, "m.space.child", &office, json!({"via": via})).await;
    put_state(&alice, &space, "m.space.child", &lounge, json!({"via": via, "order": "b", "suggested": true})).await;
    put_state(&alice, &space, "m.space.child", &subspace, json!({"via": via, "order": "a"})).await;
    // Not children: no via, and a room this server does not know.
    put_state(&alice, &space, "m.space.child", "!gone:localhost", json!({"via": via, "order": "z"})).await;
    put_state(&alice, &space, "m.space.child", &deep, json!({})).await;
    put_state(&alice, &subspace, "m.space.child", &deep, json!({"via": via})).await;
    // A loop back to the top is harmless.
    put_state(&alice, &subspace, "m.space.child", &space, json!({"via": via})).await;

    let (status, body) = alice.get(&hierarchy_path(&space, "")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        hierarchy_ids(&body),
        vec![space.clone(), subspace.clone(), deep.clone(), lounge.clone(), office.clone()]
    );
    assert!(body.get("next_batch").is_none(), "{body}");
    let root = &body["rooms"][0];
    assert_eq!(root["name"], "Space");
    assert_eq!(root["room_type"], "m.space");
    assert_eq!(root["join_rule"], "public");
    assert_eq!(root["num_joined_members"], 1);
    let children: Vec<&str> =
        root["children_state"].as_array().unwrap().iter().map(|c| c["state_key"].as_str().unwrap()).collect();
    assert_eq!(children, vec![subspace.as_str(), lounge.as_str(), "!gone:localhost", office.as_str()]);
    let child = &root["children_state"][0];
    assert_eq!(child["type"], "m.space.child");
    assert_eq!(child["sender"], "@alice:localhost");
    assert!(child["origin_server_ts"].as_i64().unwrap() > 0);
    assert_eq!(child["content"]["order"], "a");
    // Plain rooms have no children_state entries.
    assert_eq!(body["rooms"][3]["children_state"], json!([]));

    // Bob is in none of them: the invite-only office is left out.
    let (status, body) = bob.get(&hierarchy_path(&space, "")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(hierarchy_ids(&body), vec![space.clone(), subspace.clone(), deep.clone(), lounge.clone()]);

    // Depth, suggestions.
    let (_, body) = alice.get(&hierarchy_path(&space, "?max_depth=0")).await;
    assert_eq!(hierarchy_ids(&body), vec![space.clone()]);
    let (_, body) = alice.get(&hierarchy_path(&space, "?max_depth=1")).await;
    assert_eq!(hierarchy_ids(&body), vec![space.clone(), subspace.clone(), lounge.clone(), office.clone()]);
    let (_, body) = alice.get(&hierarchy_path(&space, "?suggested_only=true")).await;
    assert_eq!(hierarchy_ids(&body), vec![space.clone(), lounge.clone()]);
    assert_eq!(body["rooms"][0]["children_state"].as_array().unwrap().len(), 1);

    // Pagination.
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let query = match &from {
            Some(token) => format!("?limit=2&from={token}"),
            None => "?limit=2".to_owned(),
        };
        let (status, page) = alice.get(&hierarchy_path(&space, &query)).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["rooms"].as_array().unwrap().len() <= 2);
        seen.extend(hierarchy_ids(&page));
        match page["next_batch"].as_str() {
            Some(token) => from = Some(token.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![space.clone(), subspace.clone(), deep.clone(), lounge.clone(), office.clone()]);
    let (_, first) = alice.get(&hierarchy_path(&space, "?limit=1")).await;
    let token = first["next_batch"].as_str().unwrap();
    assert_error(
        &alice.get(&hierarchy_path(&space, &format!("?limit=1&from={token}&max_depth=1"))).await,
        400,
        "M_INVALID_PARAM",
    );
    assert_error(&alice.get(&hierarchy_path(&space, "?from=garbage")).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.get(&hierarchy_path(&space, "?limit=0")).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.get(&hierarchy_path(&space, "?max_depth=-1")).await, 400, "M_INVALID_PARAM");

    // Rooms the requester cannot see, or that do not exist: 403.
    assert_error(&bob.get(&hierarchy_path(&office, "")).await, 403, "M_FORBIDDEN");
    assert_error(&bob.get(&hierarchy_path("!nowhere:localhost", "")).await, 403, "M_FORBIDDEN");
    assert_error(&server.client().get(&hierarchy_path(&space, "")).await, 401, "M_MISSING_TOKEN");
}

#[tokio::test]
async fn mutual_rooms() {
    let server = TestServer::start().await;
    let alice = server.register("alice", "pw").await;
    let bob = server.register("bob", "pw").await;
    server.register("carol", "pw").await;
    let mut shared = Vec::new();
    for name in ["one", "two"] {
        let room = alice.create_room(json!({"name": name, "invite": ["@bob:localhost"]})).await;
        assert_eq!(bob.join(&room).await.0, 200);
        shared.push(room);
    }
    shared.sort();
    alice.create_room(json!({"name": "alone"})).await;
    alice.create_room(json!({"name": "invited only", "invite": ["@bob:localhost"]})).await;
    let left = alice.create_room(json!({"name": "left", "invite": ["@bob:localhost"]})).await;
    assert_eq!(bob.join(&left).await.0, 200);
    let leave = format!("/_matrix/client/v3/rooms/{}/leave", encode(&left));
    assert_eq!(bob.post(&leave, &json!({})).await.0, 200);

    let path = |user: &str| format!("/_matrix/client/v1/mutual_rooms?user_id={}", encode(user));
    let (status, body) = alice.get(&path("@bob:localhost")).await;
    assert_eq!(status, 200, "{body}");
    let sorted = |body: &Value| {
        let mut rooms: Vec<String> = serde_json::from_value(body["joined"].clone()).unwrap();
        rooms.sort();
        rooms
    };
    assert_eq!(sorted(&body), shared);
    assert_eq!(body["count"], 2);
    assert!(body.get("next_batch").is_none(), "{body}");
    assert_eq!(sorted(&bob.get(&path("@alice:localhost")).await.1), shared);
    assert_eq!(alice.get(&path("@carol:localhost")).await.1, json!({"joined": [], "count": 0}));
    assert_eq!(alice.get(&path("@nobody:elsewhere")).await.1, json!({"joined": [], "count": 0}));

    assert_error(&alice.get("/_matrix/client/v1/mutual_rooms").await, 400, "M_MISSING_PARAM");
    assert_error(&alice.get(&path("@alice:localhost")).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.get(&path("bob")).await, 400, "M_INVALID_PARAM");
    assert_error(&alice.get(&format!("{}&from=nope", path("@bob:localhost"))).await, 400, "M_INVALID_PARAM");
    assert_error(&server.client().get(&path("@bob:localhost")).await, 401, "M_MISSING_TOKEN");
}
