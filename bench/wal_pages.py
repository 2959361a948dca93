#!/usr/bin/env python3
"""Which B-trees a message commit writes, read from SQLite's WAL.

Takes the work folder of a `KEEP=1 CONFIGS=trellis-sqlite bench/rooms.sh`
run. Starts that run's server again on its database, holds a read
transaction open so that no checkpoint can recycle the WAL, sends
`--rounds` messages from each of `--senders` members of the benchmark room
at once (as the 10-sender run does), stops the server, then walks the WAL
frame by frame: each frame names the page it holds and marks the end of a
commit, and SQLite's `dbstat` table says which table or index each page
belongs to. Prints the pages written per commit, by B-tree.

    python3 bench/wal_pages.py /tmp/trellis-rooms.XXXXXX [--senders 10] [--rounds 10]

Every page written is a WAL frame of 24 + page-size bytes (two write calls)
at commit, and again a database write at the next checkpoint, so this is
the place to look when the bytes written per message go up.
"""

import argparse
import collections
import json
import pathlib
import signal
import sqlite3
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=pathlib.Path, help="work folder of a KEEP=1 rooms.sh run")
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--port", type=int, default=8491)
    args = parser.parse_args()

    data = args.work / "trellis-sqlite"
    db_path = data / "homeserver.db"
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        room = db.execute("SELECT room_id FROM events GROUP BY room_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
        users = json.loads((data / "users.json").read_text())
        members = [
            u for u in users
            if db.execute(
                "SELECT 1 FROM room_memberships WHERE room_id = ? AND user_id = ? AND membership = 'join'",
                (room, u["user_id"]),
            ).fetchone()
        ][: args.senders]

    server = subprocess.Popen(
        [str(args.work / "bin" / "trellis"), "run", "--config", "homeserver.yaml"],
        cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(args.port)
        # A reader whose snapshot predates every new frame: no checkpoint
        # may copy or recycle them while it is open.
        reader = sqlite3.connect(db_path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM events").fetchone()
        threads = [threading.Thread(target=send_all, args=(args.port, room, m, i, args.rounds))
                   for i, m in enumerate(members)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        commits, page_size = read_wal(data / "homeserver.db-wal")
        names = {page: name for name, page in sqlite3.connect(db_path).execute("SELECT name, pageno FROM dbstat")}
        reader.execute("COMMIT")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    frames = sum(len(c) for c in commits)
    print(f"{len(members)} senders x {args.rounds} messages: {len(commits)} commits, {frames} frames "
          f"of {page_size} bytes ({frames / max(len(commits), 1):.1f} pages per commit, "
          f"{frames * (page_size + 24) / (len(members) * args.rounds) / 1024:.1f} KiB of WAL per message)")
    per_tree = collections.Counter(names.get(page, "(new or free page)") for commit in commits for page in commit)
    for name, count in per_tree.most_common():
        print(f"{count / max(len(commits), 1):7.1f} per commit  {name}")


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer")


def send_all(port: int, room: str, member: dict, index: int, rounds: int) -> None:
    for n in range(rounds):
        body = json.dumps({"msgtype": "m.text", "body": f"wal pages message {n} from sender {index}"}).encode()
        url = (f"http://127.0.0.1:{port}/_matrix/client/v3/rooms/{urllib.parse.quote(room)}"
               f"/send/m.room.message/walpages-{time.time_ns()}-{index}-{n}")
        request = urllib.request.Request(url, data=body, method="PUT", headers={
            "Authorization": "Bearer " + member["access_token"], "Content-Type": "application/json"})
        urllib.request.urlopen(request).read()


def read_wal(path: pathlib.Path) -> tuple[list[list[int]], int]:
    """The page numbers of each commit in a WAL file, and the page size."""
    data = path.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    commits, current, offset = [], [], 32
    while offset + 24 + page_size <= len(data):
        page, commit_size = struct.unpack(">II", data[offset:offset + 8])
        current.append(page)
        if commit_size:
            commits.append(current)
            current = []
        offset += 24 + page_size
    return commits, page_size


if __name__ == "__main__":
    main()
