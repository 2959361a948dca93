"""matrix-nio against Trellis: two users chat in a room (invite, join,
messages, an edit, a reaction, a thread reply, a redaction, name and topic,
pagination, typing, receipts, read markers) and report what each client saw.

Usage: nio_rooms.py BASE_URL ALICE_USER ALICE_PASS BOB_USER BOB_PASS

Prints one JSON object on stdout: {"ok": true, ...observations} or
{"ok": false, "step": ..., "error": ..., "failures": [...], ...}. Steps the
rest depends on (log in, sync, create, join, send) stop the scenario
("aborted": true); the
later, self-contained parts (typing, receipts, read markers, pagination,
relations, threads) each record their failure and the scenario goes on, so
that one run lists every gap. Every non-2xx HTTP answer is
listed in "http_errors" (method, path, request body, status, response body)
so that a failing step points at the server's answer. Every wait has a
timeout, so the script never hangs; both clients are always closed.
"""

import asyncio
import json
import sys
import time
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomInviteResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomPutStateResponse,
    RoomReadMarkersResponse,
    RoomRedactResponse,
    RoomSendResponse,
    RoomTypingResponse,
    SyncResponse,
    UpdateReceiptMarkerResponse,
)
from nio.api import ReceiptType, RelationshipType

WAIT_S = 20.0
STEP = {"name": "start"}
HTTP_ERRORS: list[dict[str, Any]] = []
REQUESTS: list[str] = []


class StepFailed(Exception):
    pass


class RecordingClient(AsyncClient):
    """An AsyncClient that records every request (but /sync) and every non-2xx answer."""

    who = "?"

    async def send(self, method, path, data=None, headers=None, trace_context=None, timeout=None):
        response = await super().send(method, path, data, headers, trace_context, timeout)
        url = list(urlparse(path))
        query = parse_qs(url[4])
        query.pop("access_token", None)
        url[4] = urlencode(query, doseq=True)
        shown = urlunparse(url)
        if not urlparse(path).path.endswith("/sync"):
            REQUESTS.append(f"{self.who} {method} {shown} -> {response.status}")
        if response.status >= 300:
            body = (await response.read()).decode(errors="replace")
            HTTP_ERRORS.append(
                {
                    "who": self.who,
                    "step": STEP["name"],
                    "method": method,
                    "path": shown,
                    "request_body": data[:500] if isinstance(data, str) else None,
                    "status": response.status,
                    "response_body": body[:500],
                }
            )
        return response


def expect(response: Any, cls: type, what: str) -> Any:
    """The response if it is a `cls`, else a failure naming the step and the error."""
    if not isinstance(response, cls):
        detail = (
            f"{type(response).__name__} {getattr(response, 'status_code', '')}: {getattr(response, 'message', '')}"
            if isinstance(response, ErrorResponse)
            else repr(response)
        )
        raise StepFailed(f"{what}: expected {cls.__name__}, got {detail}")
    return response


class Observer:
    """One logged-in client plus what it has seen through /sync."""

    def __init__(self, who: str, client: RecordingClient):
        self.who = who
        self.client = client
        self.events: dict[str, dict[str, Any]] = {}  # event id -> raw event, from timelines
        self.timeline_order: list[str] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.room_account_data: list[dict[str, Any]] = []
        self.prev_batch: dict[str, str | None] = {}
        self.first_timeline: dict[str, dict[str, Any]] = {}

    async def sync_once(self) -> None:
        response = await self.client.sync(timeout=500, full_state=False)
        response = expect(response, SyncResponse, f"{self.who}'s /sync")
        for room_id, room in response.rooms.join.items():
            if room_id not in self.first_timeline:
                # The sync that first shows the room joined, and where its history starts.
                self.prev_batch[room_id] = room.timeline.prev_batch
                self.first_timeline[room_id] = {
                    "limited": room.timeline.limited,
                    "types": [getattr(e, "source", {}).get("type") for e in room.timeline.events],
                }
            for event in room.timeline.events:
                source = getattr(event, "source", None) or {}
                event_id = source.get("event_id")
                if event_id and event_id not in self.events:
                    self.timeline_order.append(event_id)
                if event_id:
                    self.events[event_id] = {**source, "nio_class": type(event).__name__}
            for event in room.ephemeral:
                self.ephemeral.append({"class": type(event).__name__, "room_id": room_id, **_ephemeral_view(event)})
            for event in room.account_data:
                self.room_account_data.append({"class": type(event).__name__, "room_id": room_id})

    async def sync_until(self, what: str, predicate: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + WAIT_S
        while True:
            await self.sync_once()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out after {WAIT_S:.0f} s waiting for {what} in {self.who}'s sync")


def _ephemeral_view(event: Any) -> dict[str, Any]:
    if hasattr(event, "users"):
        return {"users": list(event.users)}
    if hasattr(event, "receipts"):
        return {
            "receipts": [
                {
                    "event_id": r.event_id,
                    "type": r.receipt_type,
                    "user_id": r.user_id,
                    "thread_id": getattr(r, "thread_id", None),
                }
                for r in event.receipts
            ]
        }
    return {}


def step(name: str) -> None:
    STEP["name"] = name


async def login(who: str, base_url: str, user: str, password: str) -> Observer:
    config = AsyncClientConfig(max_timeouts=2, request_timeout=30, max_limit_exceeded=3)
    client = RecordingClient(base_url, user, config=config)
    client.who = who
    step(f"{who} logs in")
    expect(await client.login(password, device_name=f"nio interop {who}"), LoginResponse, f"{who} logs in")
    return Observer(who, client)


async def send_message(obs: Observer, room_id: str, content: dict[str, Any], what: str) -> str:
    step(what)
    response = await obs.client.room_send(room_id, "m.room.message", content)
    return expect(response, RoomSendResponse, what).event_id


async def collect(iterator: Any, what: str) -> list[Any]:
    """Drains one of nio's paginating iterators, which break on error answers."""
    step(what)
    out = []
    try:
        async for item in iterator:
            out.append(item)
    except AttributeError as err:  # an error answer has no next_batch
        raise StepFailed(f"{what}: the server answered with an error (see http_errors): {err}") from err
    return out


async def scenario(base_url: str, alice_user: str, alice_pass: str, bob_user: str, bob_pass: str, seen: dict) -> None:
    alice = await login("alice", base_url, alice_user, alice_pass)
    seen["_clients"].append(alice.client)
    bob = await login("bob", base_url, bob_user, bob_pass)
    seen["_clients"].append(bob.client)
    alice_id, bob_id = alice.client.user_id, bob.client.user_id
    seen["alice_user_id"], seen["bob_user_id"] = alice_id, bob_id

    step("initial syncs")
    await alice.sync_once()
    await bob.sync_once()

    step("alice creates a room")
    created = await alice.client.room_create(
        name="Nio Room", topic="First topic", preset=RoomPreset.private_chat, invite=[bob_id]
    )
    room_id = expect(created, RoomCreateResponse, "alice creates a room").room_id
    seen["room_id"] = room_id

    step("bob sees the invite through sync")
    invited = await bob.sync_until("the invite", lambda: bob.client.invited_rooms.get(room_id))
    seen["bob_invite_room_name"] = invited.name
    seen["bob_invite_inviter"] = invited.inviter

    step("bob joins")
    expect(await bob.client.join(room_id), JoinResponse, "bob joins")
    bob_room = await bob.sync_until("bob's own join", lambda: bob.client.rooms.get(room_id))
    step("alice sees bob join")
    alice_room = await alice.sync_until(
        "bob's join", lambda: bob_id in getattr(alice.client.rooms.get(room_id), "users", {}) and alice.client.rooms[room_id]
    )
    seen["bob_joined_room_name"] = bob_room.name
    seen["bob_joined_room_topic"] = bob_room.topic
    seen["alice_sees_members"] = sorted(alice_room.users)

    hello = await send_message(alice, room_id, {"msgtype": "m.text", "body": "hello from alice"}, "alice sends a message")
    hi = await send_message(bob, room_id, {"msgtype": "m.text", "body": "hello from bob"}, "bob sends a message")
    step("bob sees alice's message")
    await bob.sync_until("alice's message", lambda: hello in bob.events)
    step("alice sees bob's message")
    await alice.sync_until("bob's message", lambda: hi in alice.events)

    original = await send_message(alice, room_id, {"msgtype": "m.text", "body": "original text"}, "alice sends the message she will edit")
    edit = await send_message(
        alice,
        room_id,
        {
            "msgtype": "m.text",
            "body": "* edited text",
            "m.new_content": {"msgtype": "m.text", "body": "edited text"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
        "alice edits it",
    )
    seen["hello_event_id"] = hello
    seen["original_event_id"], seen["edit_event_id"] = original, edit
    step("bob sees the edit")
    edit_seen = await bob.sync_until("the edit", lambda: bob.events.get(edit))
    seen["bob_edit"] = {
        "nio_class": edit_seen["nio_class"],
        "relates_to": edit_seen["content"].get("m.relates_to"),
        "new_body": edit_seen["content"].get("m.new_content", {}).get("body"),
    }

    step("bob reacts to alice's message")
    reaction = await bob.client.room_send(
        room_id, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": hello, "key": "👍"}}
    )
    reaction = expect(reaction, RoomSendResponse, "bob reacts").event_id
    seen["reaction_event_id"] = reaction
    step("alice sees the reaction")
    reaction_seen = await alice.sync_until("the reaction", lambda: alice.events.get(reaction))
    seen["alice_reaction"] = {
        "nio_class": reaction_seen["nio_class"],
        "sender": reaction_seen["sender"],
        "relates_to": reaction_seen["content"].get("m.relates_to"),
    }

    root = await send_message(alice, room_id, {"msgtype": "m.text", "body": "thread root"}, "alice sends a thread root")
    step("bob sees the thread root")
    await bob.sync_until("the thread root", lambda: root in bob.events)
    reply = await send_message(
        bob,
        room_id,
        {
            "msgtype": "m.text",
            "body": "reply in thread",
            "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": root}},
        },
        "bob replies in the thread",
    )
    seen["thread_root_event_id"], seen["thread_reply_event_id"] = root, reply
    step("alice sees the thread reply")
    reply_seen = await alice.sync_until("the thread reply", lambda: alice.events.get(reply))
    seen["alice_thread_reply"] = {
        "nio_class": reply_seen["nio_class"],
        "body": reply_seen["content"].get("body"),
        "relates_to": reply_seen["content"].get("m.relates_to"),
    }

    doomed = await send_message(alice, room_id, {"msgtype": "m.text", "body": "this will be redacted"}, "alice sends the message she will redact")
    step("bob sees the message to be redacted")
    await bob.sync_until("the doomed message", lambda: doomed in bob.events)
    step("alice redacts it")
    redaction = expect(await alice.client.room_redact(room_id, doomed, reason="interop test"), RoomRedactResponse, "alice redacts").event_id
    seen["redacted_event_id"], seen["redaction_event_id"] = doomed, redaction
    step("bob sees the redaction")
    redaction_seen = await bob.sync_until("the redaction", lambda: bob.events.get(redaction))
    seen["bob_redaction"] = {
        "nio_class": redaction_seen["nio_class"],
        "redacts": redaction_seen.get("redacts"),
        "content_redacts": redaction_seen["content"].get("redacts"),
        "reason": redaction_seen["content"].get("reason"),
    }

    step("alice renames the room")
    expect(await alice.client.room_put_state(room_id, "m.room.name", {"name": "Renamed Nio Room"}), RoomPutStateResponse, "rename")
    step("alice changes the topic")
    expect(await alice.client.room_put_state(room_id, "m.room.topic", {"topic": "Second topic"}), RoomPutStateResponse, "topic")
    step("bob sees the new name and topic")
    await bob.sync_until("the new name and topic", lambda: bob_room.name == "Renamed Nio Room" and bob_room.topic == "Second topic")
    seen["bob_room_name"], seen["bob_room_topic"] = bob_room.name, bob_room.topic
    seen["bob_display_name"] = bob_room.display_name

    last = await send_message(bob, room_id, {"msgtype": "m.text", "body": "last message from bob"}, "bob sends a last message")
    seen["last_event_id"] = last
    step("alice sees bob's last message")
    await alice.sync_until("bob's last message", lambda: last in alice.events)

    # From here on each part stands on its own: a failure is recorded and the
    # scenario goes on, so that one run lists every gap.
    async def typing() -> None:
        step("bob starts typing")
        expect(await bob.client.room_typing(room_id, True, 20_000), RoomTypingResponse, "bob starts typing")
        step("alice sees bob typing")
        await alice.sync_until("bob typing", lambda: bob_id in alice_room.typing_users)
        seen["alice_typing_users"] = sorted(alice_room.typing_users)
        step("bob stops typing")
        expect(await bob.client.room_typing(room_id, False), RoomTypingResponse, "bob stops typing")
        step("alice sees bob stop typing")
        await alice.sync_until("bob no longer typing", lambda: bob_id not in alice_room.typing_users)
        seen["alice_typing_users_after_stop"] = sorted(alice_room.typing_users)

    async def receipt() -> None:
        step("alice sends a read receipt")
        expect(await alice.client.update_receipt_marker(room_id, last, ReceiptType.read), UpdateReceiptMarkerResponse, "receipt")

        def receipt_of_alice() -> Any:
            threaded = bob_room.threaded_read_receipts.get(alice_id, {}).get("main")
            unthreaded = bob_room.read_receipts.get(alice_id)
            for found in (threaded, unthreaded):
                if found is not None and found.event_id == last:
                    return found
            return None

        step("bob sees alice's receipt")
        found = await bob.sync_until("alice's receipt", receipt_of_alice)
        seen["bob_receipt"] = {
            "event_id": found.event_id,
            "type": found.receipt_type,
            "user_id": found.user_id,
            "thread_id": getattr(found, "thread_id", None),
        }

    async def read_markers() -> None:
        step("alice sets her read markers")
        expect(
            await alice.client.room_read_markers(room_id, fully_read_event=last, read_event=last),
            RoomReadMarkersResponse,
            "read markers",
        )
        step("alice sees her m.fully_read in room account data")
        await alice.sync_until("m.fully_read", lambda: alice_room.fully_read_marker == last)
        seen["alice_fully_read"] = alice_room.fully_read_marker

    async def history() -> None:
        # Backwards from the newest event, five at a time, to the room's creation.
        step("bob paginates /messages backwards")
        pages, events, token = 0, [], None
        while pages < 20:
            response = expect(
                await bob.client.room_messages(room_id, start=token, direction=MessageDirection.back, limit=5),
                RoomMessagesResponse,
                f"/messages page {pages + 1}",
            )
            pages += 1
            events.extend(response.chunk)
            if not response.end or not response.chunk:
                break
            token = response.end
        seen["bob_pages"] = pages
        seen["bob_history"] = [
            {
                "event_id": e.source.get("event_id"),
                "type": e.source.get("type"),
                "nio_class": type(e).__name__,
                "sender": e.source.get("sender"),
                "body": e.source.get("content", {}).get("body"),
                "content_keys": sorted(e.source.get("content", {})),
                "bundled_relations": sorted(e.source.get("unsigned", {}).get("m.relations", {})),
            }
            for e in reversed(events)
        ]

    async def history_from_sync() -> None:
        # Pagination from the sync token bob got when he joined.
        step("bob paginates from his join sync's prev_batch")
        prev_batch = bob.prev_batch.get(room_id)
        if prev_batch is None:
            raise StepFailed("bob's sync never gave a prev_batch for the room")
        response = expect(
            await bob.client.room_messages(room_id, start=prev_batch, direction=MessageDirection.back, limit=50),
            RoomMessagesResponse,
            "/messages from prev_batch",
        )
        seen["bob_prev_batch_types"] = [e.source.get("type") for e in reversed(response.chunk)]
        seen["bob_join_sync_timeline"] = bob.first_timeline[room_id]

    async def fetch_redacted() -> None:
        step("alice fetches the redacted event")
        event = expect(await alice.client.room_get_event(room_id, doomed), RoomGetEventResponse, "GET event").event
        seen["alice_fetched_redacted"] = {
            "nio_class": type(event).__name__,
            "content": event.source.get("content"),
            "redacted_because": event.source.get("unsigned", {}).get("redacted_because", {}).get("event_id"),
        }

    async def reactions() -> None:
        related = await collect(
            alice.client.room_get_event_relations(room_id, hello, RelationshipType.annotation, "m.reaction"),
            "alice fetches the reactions through /relations",
        )
        seen["alice_relations"] = [
            {
                "event_id": e.source.get("event_id"),
                "sender": e.source.get("sender"),
                "key": e.source.get("content", {}).get("m.relates_to", {}).get("key"),
            }
            for e in related
        ]

    async def thread() -> None:
        replies = await collect(
            bob.client.room_get_event_relations(room_id, root, RelationshipType.thread),
            "bob fetches the thread through /relations",
        )
        seen["bob_thread_relations"] = [
            {"event_id": e.source.get("event_id"), "body": e.source.get("content", {}).get("body")} for e in replies
        ]

    async def threads() -> None:
        roots = await collect(bob.client.room_get_threads(room_id), "bob lists the room's threads")
        seen["bob_thread_roots"] = []
        for e in roots:
            bundled = e.source.get("unsigned", {}).get("m.relations", {}).get("m.thread", {})
            seen["bob_thread_roots"].append(
                {
                    "event_id": e.source.get("event_id"),
                    "thread_count": bundled.get("count"),
                    "latest_event_id": bundled.get("latest_event", {}).get("event_id"),
                }
            )

    for part in (typing, receipt, read_markers, history, history_from_sync, fetch_redacted, reactions, thread, threads):
        try:
            await part()
        except StepFailed as err:
            seen["_failures"].append({"step": STEP["name"], "error": str(err)})

    seen["alice_ephemeral"] = alice.ephemeral
    seen["bob_ephemeral"] = bob.ephemeral
    seen["alice_room_account_data"] = alice.room_account_data


async def main(argv: list[str]) -> int:
    seen: dict[str, Any] = {"_clients": [], "_failures": []}
    try:
        await asyncio.wait_for(scenario(*argv, seen), timeout=400)
    except Exception as err:  # report every failure as JSON
        seen["_failures"].append({"step": STEP["name"], "error": f"{type(err).__name__}: {err}"})
        seen["aborted"] = True
    finally:
        for client in seen.pop("_clients"):
            await client.close()
    failures = seen.pop("_failures")
    ok = not failures
    out = {"ok": ok, **({} if ok else {"step": failures[0]["step"], "error": failures[0]["error"], "failures": failures}), **seen}
    out["http_errors"] = HTTP_ERRORS
    out["requests"] = REQUESTS
    print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print("usage: nio_rooms.py BASE_URL ALICE_USER ALICE_PASS BOB_USER BOB_PASS", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1:])))
