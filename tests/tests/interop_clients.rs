//! Interop with real Matrix client libraries chatting in a room: two users,
//! each with their own client, go through invites, messages, an edit, a
//! reaction, a thread, a redaction, name and topic changes, pagination,
//! typing, receipts and read markers. Once with matrix-js-sdk (npm, the SDK
//! behind Element Web) and once with matrix-nio (PyPI).
//!
//! The scripts in `tests/interop/` print what each client's model saw as
//! JSON; these tests check it and then cross-check the server's state over
//! HTTP. Every mismatch is collected and reported together with the failed
//! script steps and every non-2xx answer the clients got, so that one run
//! lists every gap (`TRELLIS_TEST_LOG=info` adds the server's access log).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Display;
use std::panic::Location;
use std::process::Command;

use serde_json::{Value, json};
use trellis_tests::client::encode;
use trellis_tests::interop::{interop_dir, node_command, node_modules, venv_bin};
use trellis_tests::{Client, TestServer};

const ALICE: &str = "@alice:localhost";
const BOB: &str = "@bob:localhost";

/// Collects failed checks so that one run reports all of them.
#[derive(Default)]
struct Checks {
    failures: Vec<String>,
}

impl Checks {
    /// Use through [`check_eq!`], which turns both sides into JSON.
    #[track_caller]
    fn eq(&mut self, what: impl Display, actual: &Value, expected: &Value) {
        if actual != expected {
            let line = Location::caller().line();
            self.failures.push(format!("line {line}: {what}:\n    got      {actual}\n    expected {expected}"));
        }
    }

    #[track_caller]
    fn ok(&mut self, what: impl Display, condition: bool, detail: impl Display) {
        if !condition {
            let line = Location::caller().line();
            self.failures.push(format!("line {line}: {what}: {detail}"));
        }
    }

    fn finish(self, what: &str, seen: &Value) {
        assert!(
            self.failures.is_empty(),
            "{what}: {} failed check(s):\n{}\n\nHTTP errors the clients got:\n{}",
            self.failures.len(),
            self.failures.join("\n"),
            serde_json::to_string_pretty(&seen["http_errors"]).unwrap(),
        );
    }
}

/// Records a failure in `checks` unless both sides serialise to the same JSON.
macro_rules! check_eq {
    ($checks:expr, $what:expr, $actual:expr, $expected:expr $(,)?) => {
        $checks.eq($what, &json!($actual), &json!($expected))
    };
}

/// Runs a client scenario off the async runtime (the server is in-process)
/// and parses the JSON it prints. A scenario that stopped early (a step the
/// rest depends on failed) fails the test at once; failed self-contained
/// steps are added to `checks`.
async fn run_scenario(mut command: Command, what: &str, checks: &mut Checks) -> Value {
    let out = tokio::task::spawn_blocking(move || command.output().expect("run the scenario")).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut tail_start = stderr.len().saturating_sub(4000);
    while !stderr.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let stderr_tail = &stderr[tail_start..];
    let seen: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{what} printed no JSON (status {}):\n{stdout}\n{stderr_tail}", out.status));
    assert!(
        seen["aborted"] != true,
        "{what} stopped at step {}: {}\nHTTP errors the clients got:\n{}\nstderr (tail):\n{stderr_tail}\nfull result: {seen}",
        seen["step"],
        seen["error"],
        serde_json::to_string_pretty(&seen["http_errors"]).unwrap(),
    );
    for failure in seen["failures"].as_array().into_iter().flatten() {
        checks.ok(format!("{what}, step {}", failure["step"]), false, &failure["error"]);
    }
    check_eq!(checks, format!("{what} reports success"), seen["ok"] == true && out.status.success(), true);
    seen
}

/// The `body` of every `m.room.message` in a list of event summaries.
fn message_bodies(events: &[Value]) -> Vec<Value> {
    events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["body"].clone()).collect()
}

/// The summary of `event_id` in `events`, or `null`.
fn find<'a>(events: &'a [Value], event_id: &Value) -> &'a Value {
    static NULL: Value = Value::Null;
    events.iter().find(|e| e["event_id"] == *event_id).unwrap_or(&NULL)
}

fn array(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// The bodies both scenarios send, in order; the redacted one is empty.
fn expected_bodies() -> Vec<Value> {
    vec![
        json!("hello from alice"),
        json!("hello from bob"),
        json!("original text"),
        json!("* edited text"),
        json!("thread root"),
        json!("reply in thread"),
        Value::Null,
        json!("last message from bob"),
    ]
}

/// Cross-checks, over plain HTTP, what a scenario left on the server.
/// `receipt_thread_ids` lists the `thread_id`s alice's last receipt may show
/// (`null` for an unthreaded one).
async fn cross_check(
    checks: &mut Checks,
    (alice, bob): (&Client, &Client),
    seen: &Value,
    (name, topic): (&str, &str),
    receipt_thread_ids: &[Value],
) {
    let room_id = seen["room_id"].as_str().unwrap();
    let room = encode(room_id);
    let id = |key: &str| encode(seen[key].as_str().unwrap_or_default());

    // /messages: every message in order, the redacted one empty.
    let (status, page) = alice.get(&format!("/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100")).await;
    check_eq!(checks, "GET /messages status", status, 200);
    let mut events = array(&page["chunk"]);
    events.reverse();
    checks.ok("/messages with limit 100 reaches the room's start", page.get("end").is_none(), &page["end"]);
    check_eq!(checks, "first event of /messages", &events.first().unwrap_or(&Value::Null)["type"], "m.room.create");
    let bodies: Vec<Value> =
        events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["content"]["body"].clone()).collect();
    check_eq!(checks, "message bodies in /messages", bodies, expected_bodies());
    let redacted = find(&events, &seen["redacted_event_id"]);
    check_eq!(checks, "redacted event's content in /messages", &redacted["content"], json!({}));
    check_eq!(
        checks,
        "redacted event's redacted_because in /messages",
        &redacted["unsigned"]["redacted_because"]["event_id"],
        &seen["redaction_event_id"],
    );
    let redaction = find(&events, &seen["redaction_event_id"]);
    check_eq!(checks, "redaction's top-level redacts in /messages", &redaction["redacts"], &seen["redacted_event_id"]);
    check_eq!(
        checks,
        "redaction's content.redacts in /messages",
        &redaction["content"]["redacts"],
        &seen["redacted_event_id"]
    );
    let (status, fetched) =
        bob.get(&format!("/_matrix/client/v3/rooms/{room}/event/{}", id("redacted_event_id"))).await;
    check_eq!(checks, "GET the redacted event", (status, &fetched["content"]), (200, json!({})));

    // The edit carries its relation and new content.
    let edit = find(&events, &seen["edit_event_id"]);
    check_eq!(
        checks,
        "the edit's m.relates_to",
        &edit["content"]["m.relates_to"],
        json!({"rel_type": "m.replace", "event_id": seen["original_event_id"]}),
    );
    check_eq!(checks, "the edit's new body", &edit["content"]["m.new_content"]["body"], "edited text");

    // Name, topic and members.
    let (status, state) = bob.get(&format!("/_matrix/client/v3/rooms/{room}/state/m.room.name")).await;
    check_eq!(checks, "GET state m.room.name", (status, &state["name"]), (200, name));
    let (status, state) = bob.get(&format!("/_matrix/client/v3/rooms/{room}/state/m.room.topic")).await;
    check_eq!(checks, "GET state m.room.topic", (status, &state["topic"]), (200, topic));
    let (status, members) = alice.get(&format!("/_matrix/client/v3/rooms/{room}/joined_members")).await;
    let mut joined: Vec<String> =
        members["joined"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    joined.sort();
    check_eq!(checks, "GET joined_members", (status, joined), (200, [ALICE, BOB]));

    // The relations endpoint has the reaction and the thread reply.
    let (status, relations) = bob
        .get(&format!("/_matrix/client/v1/rooms/{room}/relations/{}/m.annotation/m.reaction", id("hello_event_id")))
        .await;
    let chunk: Vec<(Value, Value)> = array(&relations["chunk"])
        .iter()
        .map(|e| (e["event_id"].clone(), e["content"]["m.relates_to"]["key"].clone()))
        .collect();
    check_eq!(checks, "GET /relations m.annotation", (status, chunk), (200, [(&seen["reaction_event_id"], "👍")]));
    let (status, relations) =
        bob.get(&format!("/_matrix/client/v1/rooms/{room}/relations/{}/m.thread", id("thread_root_event_id"))).await;
    let chunk: Vec<Value> = array(&relations["chunk"]).iter().map(|e| e["event_id"].clone()).collect();
    check_eq!(checks, "GET /relations m.thread", (status, chunk), (200, [&seen["thread_reply_event_id"]]));

    // Alice's fully-read marker is room account data, and her receipt is in
    // Bob's initial sync of the room.
    let last = &seen["last_event_id"];
    let (status, marker) =
        alice.get(&format!("/_matrix/client/v3/user/{}/rooms/{room}/account_data/m.fully_read", encode(ALICE))).await;
    check_eq!(checks, "GET room account data m.fully_read", (status, &marker["event_id"]), (200, last));
    let filter = encode(&json!({"room": {"rooms": [room_id], "timeline": {"limit": 1}}}).to_string());
    let (status, sync) = bob.get(&format!("/_matrix/client/v3/sync?filter={filter}")).await;
    check_eq!(checks, "bob's initial /sync status", status, 200);
    let ephemeral = array(&sync["rooms"]["join"][room_id]["ephemeral"]["events"]);
    let receipt = ephemeral.iter().find(|e| e["type"] == "m.receipt").cloned().unwrap_or_default();
    let read = &receipt["content"][last.as_str().unwrap_or_default()]["m.read"][ALICE];
    checks.ok("alice's receipt in bob's initial sync", read["ts"].is_u64(), format!("ephemeral: {ephemeral:?}"));
    checks.ok(
        "thread_id of alice's receipt in bob's initial sync",
        receipt_thread_ids.contains(&read["thread_id"]),
        format!("got {}, expected one of {receipt_thread_ids:?}", read["thread_id"]),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_js_sdk_two_users_chat() {
    tokio::task::spawn_blocking(node_modules).await.unwrap();
    let server = TestServer::start().await;
    let alice = server.register("alice", "alice-pass").await;
    let bob = server.register("bob", "bob-pass").await;
    let mut checks = Checks::default();
    let mut command = node_command("js_scenario.mjs");
    command.args([&server.base_url, "alice", "alice-pass", "bob", "bob-pass"]);
    let seen = run_scenario(command, "the matrix-js-sdk scenario", &mut checks).await;
    let c = &mut checks;

    check_eq!(c, "alice's user id", &seen["alice_user_id"], ALICE);
    check_eq!(c, "bob's user id", &seen["bob_user_id"], BOB);
    // The SDK only treats threads as server-side if /versions says so.
    c.ok(
        "js-sdk sees server-side thread support",
        seen["thread_support"] != "None",
        format!("thread_support {}, /versions {}", seen["thread_support"], seen["server_versions"]),
    );

    // Invite and join: the invite carries the room's name, the join its state.
    check_eq!(c, "room name bob sees in the invite", &seen["bob_invite_room_name"], "Interop Room");
    check_eq!(c, "inviter bob sees", &seen["bob_invite_inviter"], ALICE);
    check_eq!(c, "room name bob sees after joining", &seen["bob_joined_room_name"], "Interop Room");
    check_eq!(c, "topic bob sees after joining", &seen["bob_joined_room_topic"], "First topic");
    check_eq!(c, "members bob sees after joining", &seen["bob_joined_members"], [ALICE, BOB]);

    // Edit, reaction, thread, redaction: as both clients' models have them.
    for who in ["alice", "bob"] {
        check_eq!(c, format!("edited body {who} sees"), &seen[format!("{who}_edited_body")], "edited text");
        check_eq!(
            c,
            format!("original body {who} keeps"),
            &seen[format!("{who}_edited_original_body")],
            "original text"
        );
        check_eq!(
            c,
            format!("replacing event {who} sees"),
            &seen[format!("{who}_replacing_event_id")],
            &seen["edit_event_id"]
        );
        check_eq!(
            c,
            format!("reactions {who} sees"),
            &seen[format!("{who}_reactions")],
            json!([{"key": "👍", "senders": [BOB]}])
        );
        check_eq!(
            c,
            format!("relation type of the thread reply {who} sees"),
            &seen[format!("{who}_thread_reply_rel_type")],
            "m.thread"
        );
        let mut thread = seen[format!("{who}_thread")].clone();
        // The sender's SDK counts its own first reply twice in a thread it
        // opened before the reply existed (its local echo, then the root's
        // bundled count): the length is checked on alice's side only.
        if who == "bob" {
            thread.as_object_mut().map(|t| t.remove("length"));
        }
        let mut expected = json!({
            "root_id": seen["thread_root_event_id"],
            "root_body": "thread root",
            "root_is_thread_root": true,
            "reply_thread_root_id": seen["thread_root_event_id"],
            "bodies": ["reply in thread"],
            "reply_in_main_timeline": false,
        });
        if who == "alice" {
            expected["length"] = json!(1);
        }
        check_eq!(c, format!("thread {who} sees"), thread, expected);
        check_eq!(c, format!("redacted content {who} sees"), &seen[format!("{who}_redacted_content")], json!({}));
        check_eq!(
            c,
            format!("redaction reason {who} sees"),
            &seen[format!("{who}_redacted_because_reason")],
            "interop test"
        );
    }

    check_eq!(c, "room name bob sees at the end", &seen["bob_room_name"], "Renamed Room");
    check_eq!(c, "topic bob sees at the end", &seen["bob_room_topic"], "Second topic");

    // Typing went on and then off; the receipt and the read marker arrived.
    check_eq!(c, "typing users alice sees", &seen["alice_typing_users"], [BOB]);
    let typing = array(&seen["alice_typing_events"]);
    let on = typing.iter().position(|t| *t == json!({"user_id": BOB, "typing": true}));
    let off = typing.iter().rposition(|t| *t == json!({"user_id": BOB, "typing": false}));
    c.ok(
        "alice sees bob start and then stop typing",
        matches!((on, off), (Some(on), Some(off)) if on < off),
        format!("{typing:?}"),
    );
    check_eq!(c, "receipt bob sees: user", &seen["bob_receipt"]["user_id"], ALICE);
    check_eq!(c, "receipt bob sees: type", &seen["bob_receipt"]["type"], "m.read");
    c.ok("receipt bob sees: ts", seen["bob_receipt"]["data"]["ts"].is_u64(), &seen["bob_receipt"]);
    check_eq!(c, "receipt bob sees: thread_id", &seen["bob_receipt"]["data"]["thread_id"], "main");
    c.ok(
        "bob sees alice has read up to the last message",
        array(&seen["bob_users_read_up_to_last"]).contains(&json!(ALICE)),
        &seen["bob_users_read_up_to_last"],
    );
    check_eq!(c, "alice's m.fully_read", &seen["alice_fully_read"], &seen["last_event_id"]);

    // /messages: original contents (the server does not apply edits), the
    // redacted one empty, and bundled aggregations.
    let mut page = array(&seen["bob_messages_page"]);
    page.reverse();
    check_eq!(c, "message bodies in bob's /messages", message_bodies(&page), expected_bodies());
    check_eq!(c, "first event of bob's /messages", &page.first().unwrap_or(&Value::Null)["type"], "m.room.create");
    check_eq!(
        c,
        "redacted event's content in bob's /messages",
        &find(&page, &seen["redacted_event_id"])["content_keys"],
        json!([])
    );
    check_eq!(c, "bundled m.replace on the original", &seen["bob_messages_bundled_edit_id"], &seen["edit_event_id"]);
    check_eq!(
        c,
        "bundled m.thread on the root",
        &seen["bob_messages_bundled_thread"],
        json!({"count": 1, "latest_event_id": seen["thread_reply_event_id"], "current_user_participated": true}),
    );

    // Scrollback through the SDK's timeline reaches the room's creation; the
    // thread reply lives in its thread, not in the main timeline.
    let timeline = array(&seen["bob_timeline"]);
    check_eq!(c, "first event of bob's timeline", &timeline.first().unwrap_or(&Value::Null)["type"], "m.room.create");
    check_eq!(
        c,
        "message bodies in bob's timeline",
        &seen["bob_timeline_message_bodies"],
        json!([
            "hello from alice",
            "hello from bob",
            "edited text",
            "* edited text",
            "thread root",
            null,
            "last message from bob"
        ]),
    );
    check_eq!(c, "redacted flag in bob's timeline", &find(&timeline, &seen["redacted_event_id"])["redacted"], true);

    check_eq!(
        c,
        "reactions alice fetches through /relations",
        &seen["alice_relations"],
        json!([{"event_id": seen["reaction_event_id"], "sender": BOB, "key": "👍"}]),
    );
    check_eq!(c, "content of the redacted event alice fetches", &seen["alice_fetched_redacted_content"], json!({}));
    check_eq!(
        c,
        "redacted_because of the event alice fetches",
        &seen["alice_fetched_redacted_because"],
        &seen["redaction_event_id"]
    );

    // The SDK sends threaded receipts; a main-timeline event's thread is "main".
    cross_check(c, (&alice, &bob), &seen, ("Renamed Room", "Second topic"), &[json!("main")]).await;
    checks.finish("matrix-js-sdk", &seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_nio_two_users_chat() {
    let bin = tokio::task::spawn_blocking(venv_bin).await.unwrap();
    let server = TestServer::start().await;
    let alice = server.register("alice", "alice-pass").await;
    let bob = server.register("bob", "bob-pass").await;
    let mut checks = Checks::default();
    let mut command = Command::new(bin.join("python"));
    command.arg(interop_dir().join("nio_rooms.py")).args([&server.base_url, ALICE, "alice-pass", BOB, "bob-pass"]);
    let seen = run_scenario(command, "the matrix-nio scenario", &mut checks).await;
    let c = &mut checks;

    check_eq!(c, "alice's user id", &seen["alice_user_id"], ALICE);
    check_eq!(c, "bob's user id", &seen["bob_user_id"], BOB);
    check_eq!(c, "room name bob sees in the invite", &seen["bob_invite_room_name"], "Nio Room");
    check_eq!(c, "inviter bob sees", &seen["bob_invite_inviter"], ALICE);
    check_eq!(c, "room name bob sees after joining", &seen["bob_joined_room_name"], "Nio Room");
    check_eq!(c, "topic bob sees after joining", &seen["bob_joined_room_topic"], "First topic");
    check_eq!(c, "members alice sees", &seen["alice_sees_members"], [ALICE, BOB]);

    check_eq!(
        c,
        "the edit as bob's sync has it",
        &seen["bob_edit"],
        json!({
            "nio_class": "RoomMessageText",
            "relates_to": {"rel_type": "m.replace", "event_id": seen["original_event_id"]},
            "new_body": "edited text",
        }),
    );
    check_eq!(
        c,
        "the reaction as alice's sync has it",
        &seen["alice_reaction"],
        json!({
            "nio_class": "ReactionEvent",
            "sender": BOB,
            "relates_to": {"rel_type": "m.annotation", "event_id": seen["hello_event_id"], "key": "👍"},
        }),
    );
    check_eq!(
        c,
        "the thread reply as alice's sync has it",
        &seen["alice_thread_reply"],
        json!({
            "nio_class": "RoomMessageText",
            "body": "reply in thread",
            "relates_to": {
                "rel_type": "m.thread",
                "event_id": seen["thread_root_event_id"],
                "is_falling_back": true,
                "m.in_reply_to": {"event_id": seen["thread_root_event_id"]},
            },
        }),
    );
    // nio only understands a redaction with a top-level `redacts`, which
    // servers add for clients in room versions 11 and later.
    check_eq!(
        c,
        "the redaction as bob's sync has it",
        &seen["bob_redaction"],
        json!({
            "nio_class": "RedactionEvent",
            "redacts": seen["redacted_event_id"],
            "content_redacts": seen["redacted_event_id"],
            "reason": "interop test",
        }),
    );

    check_eq!(c, "room name bob sees at the end", &seen["bob_room_name"], "Renamed Nio Room");
    check_eq!(c, "topic bob sees at the end", &seen["bob_room_topic"], "Second topic");
    check_eq!(c, "display name bob computes", &seen["bob_display_name"], "Renamed Nio Room");

    check_eq!(c, "typing users alice sees", &seen["alice_typing_users"], [BOB]);
    check_eq!(c, "typing users alice sees after bob stops", &seen["alice_typing_users_after_stop"], json!([]));
    check_eq!(
        c,
        "receipt bob sees",
        &seen["bob_receipt"],
        json!({"event_id": seen["last_event_id"], "type": "m.read", "user_id": ALICE, "thread_id": "main"}),
    );
    check_eq!(c, "alice's m.fully_read", &seen["alice_fully_read"], &seen["last_event_id"]);

    // Backwards pagination five at a time reaches the room's creation.
    c.ok("bob paginates in several pages", seen["bob_pages"].as_u64().unwrap_or(0) >= 5, &seen["bob_pages"]);
    let history = array(&seen["bob_history"]);
    check_eq!(c, "first event of bob's history", &history.first().unwrap_or(&Value::Null)["type"], "m.room.create");
    check_eq!(c, "message bodies in bob's history", message_bodies(&history), expected_bodies());
    let redacted = find(&history, &seen["redacted_event_id"]);
    check_eq!(
        c,
        "the redacted event in bob's history",
        (&redacted["nio_class"], &redacted["content_keys"]),
        ("RedactedEvent", json!([]))
    );
    check_eq!(
        c,
        "the redaction in bob's history",
        &find(&history, &seen["redaction_event_id"])["nio_class"],
        "RedactionEvent"
    );
    let mut ids: Vec<String> = history.iter().map(|e| e["event_id"].to_string()).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    check_eq!(c, "distinct events across pages", ids.len(), count);
    c.ok(
        "bundled m.replace on the original in bob's history",
        array(&find(&history, &seen["original_event_id"])["bundled_relations"]).contains(&json!("m.replace")),
        find(&history, &seen["original_event_id"]),
    );
    c.ok(
        "bundled m.thread on the root in bob's history",
        array(&find(&history, &seen["thread_root_event_id"])["bundled_relations"]).contains(&json!("m.thread")),
        find(&history, &seen["thread_root_event_id"]),
    );

    // Bob's join sync's prev_batch continues exactly where its timeline starts.
    let before = array(&seen["bob_prev_batch_types"]);
    let join_timeline = array(&seen["bob_join_sync_timeline"]["types"]);
    let whole: Vec<&Value> = before.iter().chain(&join_timeline).collect();
    check_eq!(c, "first event before and in bob's join sync", whole.first(), Some("m.room.create"));
    c.ok("no message before bob's join", !before.contains(&json!("m.room.message")), format!("{before:?}"));
    c.ok("bob's join in his join sync", join_timeline.contains(&json!("m.room.member")), format!("{join_timeline:?}"));

    check_eq!(
        c,
        "the redacted event alice fetches",
        &seen["alice_fetched_redacted"],
        json!({"nio_class": "RedactedEvent", "content": {}, "redacted_because": seen["redaction_event_id"]}),
    );
    check_eq!(
        c,
        "reactions alice fetches through /relations",
        &seen["alice_relations"],
        json!([{"event_id": seen["reaction_event_id"], "sender": BOB, "key": "👍"}]),
    );
    check_eq!(
        c,
        "thread bob fetches through /relations",
        &seen["bob_thread_relations"],
        json!([{"event_id": seen["thread_reply_event_id"], "body": "reply in thread"}]),
    );
    check_eq!(
        c,
        "threads bob lists",
        &seen["bob_thread_roots"],
        json!([{"event_id": seen["thread_root_event_id"], "thread_count": 1, "latest_event_id": seen["thread_reply_event_id"]}]),
    );

    // nio sent a threaded receipt ("main"), then /read_markers an unthreaded
    // m.read on the same event: one map entry cannot show both, either is right.
    cross_check(c, (&alice, &bob), &seen, ("Renamed Nio Room", "Second topic"), &[json!("main"), Value::Null]).await;
    checks.finish("matrix-nio", &seen);
}
