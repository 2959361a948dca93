#!/usr/bin/env bash
# A/B of the initial sync between two Trellis binaries on the same data:
# a user in ROOMS rooms with MESSAGES messages each (SQLite), then ROUNDS
# alternations of the two binaries, each timing SYNCS initial syncs (after
# two warm-up syncs). Alternating spreads the drift of a shared VM over
# both. See docs/development/benchmarks.md ("Rooms").
#
#   bench/initial_sync_ab.sh OLD_BINARY NEW_BINARY
#
# Knobs: ROOMS (50), MESSAGES (10), ROUNDS (3), SYNCS (30), PORT (8497), KEEP=1.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OLD=$(realpath "$1") NEW=$(realpath "$2")
ROOMS=${ROOMS:-50}
MESSAGES=${MESSAGES:-10}
ROUNDS=${ROUNDS:-3}
SYNCS=${SYNCS:-30}
PORT=${PORT:-8497}

bench_init trellis-sync-ab
port_free "$PORT" ""
"$NEW" generate-config --server-name "localhost:$PORT" --data-dir "$WORK/data" \
    --output "$WORK/homeserver.yaml" --port "$PORT" 2>/dev/null
sed -i 's/^enable_registration: false/enable_registration: true/;
        s/^enable_registration_without_verification: false/enable_registration_without_verification: true/;
        s/^rc_registration: .*/rc_registration: {per_second: 1000, burst_count: 1000}/' "$WORK/homeserver.yaml"

serve() { # binary
    (cd "$WORK" && exec "$1" run --config "$WORK/homeserver.yaml" >>"$WORK/server.log" 2>&1) &
    SERVER=$!
    PIDS+=("$SERVER")
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.1; done
    echo "the server did not start" >&2
    exit 1
}

DRIVER=$(cat <<'EOF'
import json, statistics, sys, time, urllib.error, urllib.request
base, mode = sys.argv[1], sys.argv[2]
def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    return json.load(urllib.request.urlopen(urllib.request.Request(base + path, data=data, method=method, headers=headers)))
def register(name):
    body = {"username": name, "password": name + "-bench-password", "auth": {"type": "m.login.dummy"}}
    try:
        return call("POST", "/_matrix/client/v3/register", body)["access_token"]
    except urllib.error.HTTPError as error:
        body["auth"]["session"] = json.load(error)["session"]
        return call("POST", "/_matrix/client/v3/register", body)["access_token"]
if mode == "fill":
    rooms, messages = int(sys.argv[3]), int(sys.argv[4])
    alice, bob = register("alice"), register("bob")
    for r in range(rooms):
        room = call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat", "name": f"room {r}"}, alice)["room_id"]
        call("POST", f"/_matrix/client/v3/join/{room}", {}, bob)
        for i in range(messages):
            call("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t{r}-{i}", {"msgtype": "m.text", "body": f"m{i}"}, alice)
else:
    syncs = int(sys.argv[3])
    token = call("POST", "/_matrix/client/v3/login", {"type": "m.login.password", "user": "bob", "password": "bob-bench-password"})["access_token"]
    times = []
    for _ in range(syncs + 2):
        start = time.perf_counter()
        urllib.request.urlopen(urllib.request.Request(base + "/_matrix/client/v3/sync?timeout=0", headers={"Authorization": "Bearer " + token})).read()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{statistics.median(times[2:]):.1f}")
EOF
)

log "filling: $ROOMS rooms with $MESSAGES messages each"
serve "$NEW"
python3 -c "$DRIVER" "http://127.0.0.1:$PORT" fill "$ROOMS" "$MESSAGES"
stop_pid "$SERVER"

declare -A results=([old]="" [new]="")
for round in $(seq "$ROUNDS"); do
    for side in old new; do
        binary=$OLD
        [[ $side == new ]] && binary=$NEW
        serve "$binary"
        median=$(python3 -c "$DRIVER" "http://127.0.0.1:$PORT" measure "$SYNCS")
        stop_pid "$SERVER"
        results[$side]+="$median "
        log "round $round, $side: median $median ms"
    done
done
echo "initial sync, $ROOMS rooms x $MESSAGES messages, median of $SYNCS per run (ms):"
echo "  old: ${results[old]}"
echo "  new: ${results[new]}"
