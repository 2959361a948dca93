// matrix-js-sdk against Trellis: two users, each with their own MatrixClient,
// chat in a room the way Element does (rooms, invites, edits, reactions,
// threads, redactions, name and topic, pagination, typing, receipts, read
// markers) and report what each client's model saw.
//
// Usage: node js_scenario.mjs BASE_URL ALICE_USER ALICE_PASS BOB_USER BOB_PASS
//
// Prints one JSON object on stdout: {"ok": true, ...observations} or
// {"ok": false, "step": ..., "error": ..., "failures": [{step, error}...], ...}:
// steps everything later depends on (log in, sync, create, join, send) stop
// the scenario ("aborted": true); observations and self-contained features are recorded as
// failures and the scenario goes on, so that one run lists every gap. Every
// non-2xx HTTP answer the clients got is listed in "http_errors" (method,
// path, request body, status, response body) so that a failing step points at
// the server's answer. Every wait has a timeout, so the script never hangs;
// the clients are always stopped. The SDK's own logging goes to stderr.
// Needs Node 20 or later.

import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

// stdout carries only the final JSON: send every console call to stderr.
for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
    console[level] = (...args) => process.stderr.write(`[${level}] ${format(...args)}\n`);
}

// The test harness installs matrix-js-sdk where it likes and says where in
// TRELLIS_NODE_MODULES; run by hand, the script finds ./node_modules.
const modules = process.env.TRELLIS_NODE_MODULES;
const sdk = modules
    ? await import(pathToFileURL(createRequire(join(modules, "..", "noop.js")).resolve("matrix-js-sdk")).href)
    : await import("matrix-js-sdk");

const WAIT_MS = 20_000;
const WATCHDOG_MS = 400_000;

const [baseUrl, aliceUser, alicePass, bobUser, bobPass] = process.argv.slice(2);
if (!bobPass) {
    process.stderr.write("usage: js_scenario.mjs BASE_URL ALICE_USER ALICE_PASS BOB_USER BOB_PASS\n");
    process.exit(2);
}

const seen = {};
const httpErrors = [];
const requests = [];
const syncStates = { alice: [], bob: [] };
const clients = [];
let step = "start";

/** A fetch that records every request (but /sync) and the body of every non-2xx answer. */
function recordingFetch(who) {
    return async (input, init = {}) => {
        const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
        url.searchParams.delete("access_token");
        const method = init.method ?? "GET";
        const path = decodeURIComponent(url.pathname) + url.search;
        let response;
        try {
            response = await fetch(input, init);
        } catch (err) {
            if (err?.name !== "AbortError") {
                httpErrors.push({ who, step, method, path, error: String(err) });
            }
            throw err;
        }
        if (!url.pathname.endsWith("/sync") && requests.length < 300) {
            requests.push(`${who} ${method} ${path} -> ${response.status}`);
        }
        if (!response.ok) {
            const body = (await response.clone().text().catch(() => "")).slice(0, 500);
            // SDK retry loops repeat a failing request: count repeats instead of listing them.
            const same = httpErrors.find(
                (e) => e.who === who && e.method === method && e.path === path && e.status === response.status,
            );
            if (same) {
                same.count += 1;
            } else {
                httpErrors.push({
                    who,
                    step,
                    method,
                    path,
                    request_body: typeof init.body === "string" ? init.body.slice(0, 500) : undefined,
                    status: response.status,
                    response_body: body,
                    count: 1,
                });
            }
        }
        return response;
    };
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` until it returns a truthy value, or throws after WAIT_MS. */
async function waitFor(what, predicate, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
        let value;
        try {
            value = predicate();
        } catch {
            value = undefined;
        }
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await sleep(50);
    }
}

/** Runs one named step that the rest depends on; the name is reported if it fails. */
async function stepDo(name, fn) {
    step = name;
    return await fn();
}

const FAILED = Symbol("failed");
const failures = [];

function errorText(err) {
    return err?.data
        ? `${err.message} (HTTP ${err.httpStatus}: ${JSON.stringify(err.data)})`
        : String(err?.stack ?? err);
}

/**
 * Runs one named step whose failure leaves the rest of the scenario
 * meaningful (an observation, or a feature nothing later needs): the failure
 * is recorded and the scenario goes on, so one run reports every gap.
 */
async function observe(name, fn) {
    step = name;
    try {
        return await fn();
    } catch (err) {
        failures.push({ step: name, error: errorText(err) });
        return FAILED;
    }
}

async function login(who, user, password) {
    const anonymous = sdk.createClient({ baseUrl, fetchFn: recordingFetch(who) });
    const response = await anonymous.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user },
        password,
        initial_device_display_name: `js-sdk interop ${who}`,
    });
    const client = sdk.createClient({
        baseUrl,
        accessToken: response.access_token,
        userId: response.user_id,
        deviceId: response.device_id,
        fetchFn: recordingFetch(who),
    });
    clients.push(client);
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
        syncStates[who].push(state);
        if (state === sdk.SyncState.Error) {
            syncStates[who].push(`error: ${data?.error?.message ?? data?.error}`);
        }
    });
    return client;
}

async function start(who, client) {
    await client.startClient({ initialSyncLimit: 20, threadSupport: true });
    await waitFor(`${who}'s first sync (sync states so far: ${syncStates[who].join(",")})`, () =>
        syncStates[who].includes(sdk.SyncState.Prepared),
    );
}

function body(event) {
    return event?.getContent()?.body;
}

/** A compact view of an event as a client's model has it. */
function describe(event) {
    return {
        event_id: event.getId(),
        type: event.getType(),
        sender: event.getSender(),
        body: body(event),
        redacted: event.isRedacted(),
        rel_type: event.getWireContent()?.["m.relates_to"]?.rel_type ?? null,
    };
}

/** Reaction keys and their senders on `eventId`, as `room`'s relation model has them. */
function reactions(room, eventId) {
    const relations = room.relations.getChildEventsForEvent(eventId, "m.annotation", "m.reaction");
    if (!relations) return [];
    return relations.getSortedAnnotationsByKey().map(([key, events]) => ({
        key,
        senders: [...events].map((e) => e.getSender()).sort(),
    }));
}

async function scenario() {
    const alice = await stepDo("alice logs in", () => login("alice", aliceUser, alicePass));
    const bob = await stepDo("bob logs in", () => login("bob", bobUser, bobPass));
    const aliceId = alice.getUserId();
    const bobId = bob.getUserId();
    seen.alice_user_id = aliceId;
    seen.bob_user_id = bobId;

    await stepDo("alice starts syncing", () => start("alice", alice));
    await stepDo("bob starts syncing", () => start("bob", bob));
    const threadSupport = await alice.doesServerSupportThread();
    seen.thread_support = sdk.FeatureSupport[threadSupport.threads] ?? threadSupport.threads;
    seen.server_versions = (await alice.getVersions()).versions;

    // Typing notifications can be short-lived: record every change alice hears of.
    seen.alice_typing_events = [];
    alice.on(sdk.RoomMemberEvent.Typing, (_event, member) => {
        seen.alice_typing_events.push({ user_id: member.userId, typing: member.typing });
    });

    const { room_id: roomId } = await stepDo("alice creates a room", () =>
        alice.createRoom({
            name: "Interop Room",
            topic: "First topic",
            preset: sdk.Preset.PrivateChat,
            invite: [bobId],
        }),
    );
    seen.room_id = roomId;

    const bobInvited = await stepDo("bob sees the invite through sync", () =>
        waitFor("bob's invite", () => {
            const room = bob.getRoom(roomId);
            return room?.getMyMembership() === "invite" && room;
        }),
    );
    seen.bob_invite_room_name = bobInvited.name;
    seen.bob_invite_inviter = bobInvited.getMember(bobId)?.events?.member?.getSender() ?? null;

    await stepDo("bob joins", () => bob.joinRoom(roomId));
    const bobRoom = await stepDo("bob sees himself joined through sync", () =>
        waitFor("bob's join in bob's sync", () => {
            const room = bob.getRoom(roomId);
            return room?.getMyMembership() === "join" && room;
        }),
    );
    const aliceRoom = await stepDo("alice sees bob join", () =>
        waitFor("bob's join in alice's sync", () => {
            const room = alice.getRoom(roomId);
            return room?.getMember(bobId)?.membership === "join" && room;
        }),
    );
    seen.bob_joined_room_name = bobRoom.name;
    seen.bob_joined_room_topic = bobRoom.currentState.getStateEvents("m.room.topic", "")?.getContent()?.topic;
    seen.bob_joined_members = bobRoom.getJoinedMembers().map((m) => m.userId).sort();

    // Plain messages, both ways. Each waits for the other's message before
    // answering: a local echo goes to the end of the sender's own timeline at
    // once, so a race would order the two differently on the two sides.
    const hello = await stepDo("alice sends a message", () =>
        alice.sendMessage(roomId, { msgtype: "m.text", body: "hello from alice" }),
    );
    seen.hello_event_id = hello.event_id;
    await stepDo("bob sees alice's message", () =>
        waitFor("alice's message in bob's room", () => bobRoom.findEventById(hello.event_id)),
    );
    const hi = await stepDo("bob sends a message", () =>
        bob.sendMessage(roomId, { msgtype: "m.text", body: "hello from bob" }),
    );
    await stepDo("alice sees bob's message", () =>
        waitFor("bob's message in alice's room", () => aliceRoom.findEventById(hi.event_id)),
    );

    // An edit (m.replace).
    const original = await stepDo("alice sends the message she will edit", () =>
        alice.sendMessage(roomId, { msgtype: "m.text", body: "original text" }),
    );
    const edit = await stepDo("alice edits it", () =>
        alice.sendMessage(roomId, {
            "msgtype": "m.text",
            "body": "* edited text",
            "m.new_content": { msgtype: "m.text", body: "edited text" },
            "m.relates_to": { rel_type: "m.replace", event_id: original.event_id },
        }),
    );
    seen.original_event_id = original.event_id;
    seen.edit_event_id = edit.event_id;
    for (const [who, room] of [
        ["bob", bobRoom],
        ["alice", aliceRoom],
    ]) {
        const event = await observe(`${who} sees the edit applied`, () =>
            waitFor(`the edit in ${who}'s room`, () => {
                const ev = room.findEventById(original.event_id);
                return ev?.replacingEventId() === edit.event_id && ev;
            }),
        );
        if (event !== FAILED) {
            seen[`${who}_edited_body`] = body(event);
            seen[`${who}_edited_original_body`] = event.getOriginalContent().body;
            seen[`${who}_replacing_event_id`] = event.replacingEventId();
        }
    }

    // A reaction (m.annotation).
    const reaction = await stepDo("bob reacts to alice's message", () =>
        bob.sendEvent(roomId, "m.reaction", {
            "m.relates_to": { rel_type: "m.annotation", event_id: hello.event_id, key: "👍" },
        }),
    );
    seen.reaction_event_id = reaction.event_id;
    for (const [who, room] of [
        ["alice", aliceRoom],
        ["bob", bobRoom],
    ]) {
        seen[`${who}_reactions`] = await observe(`${who} sees the reaction`, () =>
            waitFor(`the reaction in ${who}'s room`, () => {
                const found = reactions(room, hello.event_id);
                return found.length > 0 && room.findEventById(reaction.event_id) && found;
            }),
        );
    }

    // A thread (m.thread) on a root alice sends.
    const root = await stepDo("alice sends a thread root", () =>
        alice.sendMessage(roomId, { msgtype: "m.text", body: "thread root" }),
    );
    seen.thread_root_event_id = root.event_id;
    await stepDo("bob sees the thread root", () =>
        waitFor("the thread root in bob's room", () => bobRoom.findEventById(root.event_id)),
    );
    // Like Element's thread view: open the thread (an empty one if the SDK
    // knows of none yet), then reply from inside it.
    await stepDo("bob opens the thread", () => {
        if (!bobRoom.getThread(root.event_id)) {
            bobRoom.createThread(root.event_id, bobRoom.findEventById(root.event_id), [], true);
        }
    });
    const threadReply = await stepDo("bob replies in the thread", () =>
        bob.sendMessage(roomId, root.event_id, { msgtype: "m.text", body: "reply in thread" }),
    );
    seen.thread_reply_event_id = threadReply.event_id;
    for (const [who, room] of [
        ["alice", aliceRoom],
        ["bob", bobRoom],
    ]) {
        const thread = await observe(`${who} sees the thread`, () =>
            waitFor(`the thread reply in ${who}'s thread`, () => {
                const t = room.getThread(root.event_id);
                return t?.findEventById(threadReply.event_id) && t;
            }),
        );
        if (thread === FAILED) continue;
        const reply = thread.findEventById(threadReply.event_id);
        seen[`${who}_thread_reply_rel_type`] = reply.getWireContent()["m.relates_to"]?.rel_type ?? null;
        seen[`${who}_thread`] = {
            root_id: thread.id,
            root_body: body(thread.rootEvent),
            root_is_thread_root: thread.rootEvent?.isThreadRoot ?? null,
            reply_thread_root_id: reply.threadRootId ?? null,
            length: thread.length,
            // Replies only: with server-side threads the SDK puts the root first.
            bodies: thread.timeline.filter((e) => e.getType() === "m.room.message" && e.getId() !== thread.id).map(body),
            reply_in_main_timeline: room.getLiveTimeline().getEvents().some((e) => e.getId() === threadReply.event_id),
        };
    }

    // A redaction.
    const doomed = await stepDo("alice sends the message she will redact", () =>
        alice.sendMessage(roomId, { msgtype: "m.text", body: "this will be redacted" }),
    );
    await stepDo("bob sees the message to be redacted", () =>
        waitFor("the doomed message in bob's room", () => bobRoom.findEventById(doomed.event_id)),
    );
    const redaction = await stepDo("alice redacts it", () =>
        alice.redactEvent(roomId, doomed.event_id, undefined, { reason: "interop test" }),
    );
    seen.redacted_event_id = doomed.event_id;
    seen.redaction_event_id = redaction.event_id;
    for (const [who, room] of [
        ["bob", bobRoom],
        ["alice", aliceRoom],
    ]) {
        const event = await observe(`${who} sees the redaction`, () =>
            waitFor(`the redaction applied in ${who}'s room`, () => {
                const ev = room.findEventById(doomed.event_id);
                return ev?.isRedacted() && ev.getUnsigned()?.redacted_because?.event_id === redaction.event_id && ev;
            }),
        );
        if (event === FAILED) {
            // What the SDK has instead: the target and the redaction event.
            const target = room.findEventById(doomed.event_id);
            seen[`${who}_redaction_failure`] = {
                target_is_redacted: target?.isRedacted() ?? null,
                target_redacted_because: target?.getUnsigned()?.redacted_because?.event_id ?? null,
                target_content: target?.getContent() ?? null,
                redaction_event: room.findEventById(redaction.event_id)?.event ?? null,
            };
            continue;
        }
        seen[`${who}_redacted_content`] = event.getContent();
        seen[`${who}_redacted_because_reason`] = event.getUnsigned().redacted_because?.content?.reason ?? null;
    }

    // Name and topic changes.
    await stepDo("alice renames the room", () => alice.setRoomName(roomId, "Renamed Room"));
    await stepDo("alice changes the topic", () => alice.setRoomTopic(roomId, "Second topic"));
    await observe("bob sees the new name and topic", () =>
        waitFor("the new name and topic in bob's room", () => {
            const topic = bobRoom.currentState.getStateEvents("m.room.topic", "")?.getContent()?.topic;
            return bobRoom.name === "Renamed Room" && topic === "Second topic";
        }),
    );
    seen.bob_room_name = bobRoom.name;
    seen.bob_room_topic = bobRoom.currentState.getStateEvents("m.room.topic", "")?.getContent()?.topic;

    // Bob's last word: the event alice's receipt will point at.
    const last = await stepDo("bob sends a last message", () =>
        bob.sendMessage(roomId, { msgtype: "m.text", body: "last message from bob" }),
    );
    seen.last_event_id = last.event_id;
    const lastAsAlice = await stepDo("alice sees bob's last message", () =>
        waitFor("bob's last message in alice's room", () => aliceRoom.findEventById(last.event_id)),
    );

    // Typing notifications: bob starts typing, alice sees it; bob stops, alice sees that.
    if ((await observe("bob starts typing", () => bob.sendTyping(roomId, true, 20_000))) !== FAILED) {
        await observe("alice sees bob typing", () =>
            waitFor("bob typing in alice's room", () => aliceRoom.getMember(bobId)?.typing === true),
        );
        seen.alice_typing_users = aliceRoom.currentState
            .getMembers()
            .filter((m) => m.typing)
            .map((m) => m.userId)
            .sort();
        if ((await observe("bob stops typing", () => bob.sendTyping(roomId, false, 0))) !== FAILED) {
            await observe("alice sees bob stop typing", () =>
                waitFor("bob no longer typing in alice's room", () => aliceRoom.getMember(bobId)?.typing === false),
            );
        }
    }

    // A read receipt from alice, seen by bob.
    if ((await observe("alice sends a read receipt", () => alice.sendReadReceipt(lastAsAlice))) !== FAILED) {
        const receipt = await observe("bob sees alice's receipt", () =>
            waitFor("alice's receipt in bob's room", () => {
                const ev = bobRoom.findEventById(last.event_id);
                const found = ev && bobRoom.getReceiptsForEvent(ev).find((r) => r.userId === aliceId);
                return found?.type === sdk.ReceiptType.Read && found;
            }),
        );
        if (receipt !== FAILED) {
            seen.bob_receipt = { user_id: receipt.userId, type: receipt.type, data: receipt.data };
        }
        seen.bob_users_read_up_to_last = bobRoom.getUsersReadUpTo(bobRoom.findEventById(last.event_id)).sort();
    }

    // The fully-read marker, which comes back to alice as room account data.
    if ((await observe("alice sets her read markers", () => alice.setRoomReadMarkers(roomId, last.event_id))) !== FAILED) {
        const marker = await observe("alice sees her m.fully_read in room account data", () =>
            waitFor("m.fully_read in alice's room account data", () => {
                const eventId = aliceRoom.getAccountData("m.fully_read")?.getContent()?.event_id;
                return eventId === last.event_id && eventId;
            }),
        );
        seen.alice_fully_read = marker === FAILED ? null : marker;
    }

    // History: the raw /messages answer, and scrollback through the SDK's own timeline.
    const page = await observe("bob fetches /messages backwards", () =>
        bob.createMessagesRequest(roomId, null, 50, sdk.Direction.Backward),
    );
    if (page !== FAILED) {
        seen.bob_messages_page = page.chunk.map((e) => ({
            event_id: e.event_id,
            type: e.type,
            sender: e.sender,
            body: e.content?.body,
            content_keys: Object.keys(e.content ?? {}).sort(),
            bundled_relations: Object.keys(e.unsigned?.["m.relations"] ?? {}).sort(),
        }));
        const bundled = (id, rel) => page.chunk.find((e) => e.event_id === id)?.unsigned?.["m.relations"]?.[rel];
        seen.bob_messages_bundled_edit_id = bundled(original.event_id, "m.replace")?.event_id ?? null;
        const thread = bundled(root.event_id, "m.thread");
        seen.bob_messages_bundled_thread = thread
            ? {
                  count: thread.count ?? null,
                  latest_event_id: thread.latest_event?.event_id ?? null,
                  current_user_participated: thread.current_user_participated ?? null,
              }
            : null;
    }

    await observe("bob scrolls back to the start of the room", async () => {
        for (let i = 0; i < 10; i++) {
            const events = bobRoom.getLiveTimeline().getEvents();
            if (events.some((e) => e.getType() === "m.room.create")) return;
            const token = bobRoom.getLiveTimeline().getPaginationToken(sdk.EventTimeline.BACKWARDS);
            if (!token) throw new Error("no backward pagination token left and no m.room.create seen");
            await bob.scrollback(bobRoom, 30);
        }
        throw new Error("m.room.create not reached after 10 scrollbacks");
    });
    const bobTimeline = bobRoom.getLiveTimeline().getEvents();
    seen.bob_timeline = bobTimeline.map(describe);
    seen.bob_timeline_message_bodies = bobTimeline.filter((e) => e.getType() === "m.room.message").map(body);

    // Relations endpoint, and the redacted event fetched on its own.
    const related = await observe("alice fetches the reactions through /relations", () =>
        alice.relations(roomId, hello.event_id, "m.annotation", "m.reaction"),
    );
    if (related !== FAILED) {
        seen.alice_relations = related.events.map((e) => ({
            event_id: e.getId(),
            sender: e.getSender(),
            key: e.getRelation()?.key ?? null,
        }));
    }
    const fetched = await observe("alice fetches the redacted event", () =>
        alice.fetchRoomEvent(roomId, doomed.event_id),
    );
    if (fetched !== FAILED) {
        seen.alice_fetched_redacted_content = fetched.content;
        seen.alice_fetched_redacted_because = fetched.unsigned?.redacted_because?.event_id ?? null;
    }
}

function finish(result, code) {
    for (const client of clients) {
        try {
            client.stopClient();
        } catch {
            // A client that never started has nothing to stop.
        }
    }
    const out = { ...result, http_errors: httpErrors, sync_states: syncStates, requests };
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(code));
}

const watchdog = setTimeout(() => {
    failures.push({ step, error: `scenario still running after ${WATCHDOG_MS} ms` });
    finish({ ok: false, aborted: true, step, error: failures.at(-1).error, failures, ...seen }, 1);
}, WATCHDOG_MS);

scenario().then(
    () => {
        clearTimeout(watchdog);
        if (failures.length === 0) {
            finish({ ok: true, ...seen }, 0);
        } else {
            finish({ ok: false, step: failures[0].step, error: failures[0].error, failures, ...seen }, 1);
        }
    },
    (err) => {
        clearTimeout(watchdog);
        failures.push({ step, error: errorText(err) });
        finish({ ok: false, aborted: true, step, error: errorText(err), failures, ...seen }, 1);
    },
);
