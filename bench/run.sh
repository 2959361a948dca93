#!/usr/bin/env bash
# Trellis and Synapse side by side on this machine: start-up time, idle RSS,
# and GET /account/whoami throughput and latency at 1 and 16 clients.
# See docs/development/benchmarks.md. Everything binds to 127.0.0.1; every
# process started here is stopped by PID on exit.
#
# Knobs (environment): DURATION (s per whoami run, 10), WARMUP (s, 2),
# STARTUP_RUNS (7), IDLE_WAIT (s, 5), LOGINS (10), CONCURRENCY ("1 16"),
# SYNAPSE_VERSION (1.163.2), SYNAPSE_PORT (8480), TRELLIS_PORT (8481),
# SERVERS ("synapse trellis"), KEEP=1 keeps the work folder (configs, logs,
# JSON results), BUILD=0 skips the cargo build and uses the binaries already
# in target/release.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
STARTUP_RUNS=${STARTUP_RUNS:-7}
IDLE_WAIT=${IDLE_WAIT:-5}
LOGINS=${LOGINS:-10}
CONCURRENCY=${CONCURRENCY:-"1 16"}
SYNAPSE_VERSION=${SYNAPSE_VERSION:-1.163.2}
SYNAPSE_PORT=${SYNAPSE_PORT:-8480}
TRELLIS_PORT=${TRELLIS_PORT:-8481}
SERVERS=${SERVERS:-"synapse trellis"}
VENV=$BENCH_DIR/.venv
BENCH_USER=bench
BENCH_PASSWORD=benchpass

WORK=$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench.XXXXXX")
RESULTS=$WORK/results
mkdir -p "$RESULTS"
PIDS=()
T0=$SECONDS

log() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [[ ${KEEP:-0} == 1 || $status != 0 ]]; then
        echo "work folder kept: $WORK (configs, server logs, JSON results)" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "port $1 is already in use on 127.0.0.1; stop what listens there or set ${2}_PORT" >&2
        exit 1
    fi
}

# ---------------------------------------------------------------- build
TRELLIS=$TARGET_DIR/release/trellis
TB=$TARGET_DIR/release/trellis-bench
if [[ ${BUILD:-1} == 0 ]]; then
    log "BUILD=0: using the binaries already in $TARGET_DIR/release"
    for binary in "$TRELLIS" "$TB"; do
        [[ -x $binary ]] || { echo "$binary is missing; run without BUILD=0" >&2; exit 1; }
    done
else
    log "building trellis and trellis-bench (release)"
    (cd "$ROOT" && cargo build --release -p trellis -p trellis-bench)
fi
BUILD_SECONDS=$((SECONDS - T0))

# ---------------------------------------------------------------- synapse venv
if ! "$VENV/bin/python" -c "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" 2>/dev/null; then
    log "installing matrix-synapse==$SYNAPSE_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
fi
PY=$VENV/bin/python

# Edits a homeserver.yaml in place: loosened rate limits (and, for Synapse,
# the listener and registration settings). PyYAML comes with Synapse.
edit_config() { # file kind port
    "$PY" - "$@" <<'EOF'
import sys, yaml
path, kind, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path) as f:
    c = yaml.safe_load(f)
def big():  # a fresh dict each time, so that the YAML has no anchors
    return {"per_second": 1000000, "burst_count": 1000000}
c["rc_login"] = {"address": big(), "account": big(), "failed_attempts": big()}
c["rc_registration"] = big()
if kind == "synapse":
    listener = c["listeners"][0]
    listener["port"] = port
    listener["bind_addresses"] = ["127.0.0.1"]
    c["trusted_key_servers"] = []
    c["suppress_key_server_warning"] = True
    c["enable_registration"] = True
    c["enable_registration_without_verification"] = True
    c["report_stats"] = False
    for key in ["rc_message", "rc_registration_token_validity", "rc_admin_redaction", "rc_joins_per_room",
                "rc_3pid_validation", "rc_third_party_invite", "rc_media_create", "rc_room_creation",
                "rc_reports", "rc_delayed_event_mgmt"]:
        c[key] = big()
    c["rc_joins"] = {"local": big(), "remote": big()}
    c["rc_invites"] = {"per_room": big(), "per_user": big(), "per_issuer": big()}
    c["rc_presence"] = {"per_user": big()}
    c["rc_federation"] = {"window_size": 1000, "sleep_limit": 100000, "sleep_delay": 1,
                          "reject_limit": 100000, "concurrent": 100000}
with open(path, "w") as f:
    yaml.safe_dump(c, f, sort_keys=False)
EOF
}

config_value() { # file key
    "$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# ---------------------------------------------------------------- configs
SYN_DIR=$WORK/synapse
TRE_DIR=$WORK/trellis
mkdir -p "$SYN_DIR" "$TRE_DIR"
(cd "$SYN_DIR" && "$PY" -m synapse.app.homeserver --generate-config --server-name "localhost:$SYNAPSE_PORT" \
    --config-path "$SYN_DIR/homeserver.yaml" --data-directory "$SYN_DIR" --report-stats=no >/dev/null)
edit_config "$SYN_DIR/homeserver.yaml" synapse "$SYNAPSE_PORT"
"$TRELLIS" generate-config --server-name "localhost:$TRELLIS_PORT" --data-dir "$TRE_DIR" \
    --output "$TRE_DIR/homeserver.yaml" --port "$TRELLIS_PORT" 2>/dev/null
edit_config "$TRE_DIR/homeserver.yaml" trellis "$TRELLIS_PORT"

SYNAPSE_CMD=("$PY" -m synapse.app.homeserver --config-path "$SYN_DIR/homeserver.yaml")
TRELLIS_CMD=("$TRELLIS" run --config "$TRE_DIR/homeserver.yaml")

# ---------------------------------------------------------------- one server
bench_server() { # name port dir command...
    local name=$1 port=$2 dir=$3
    shift 3
    local url=http://127.0.0.1:$port
    local server_log=$dir/server.log
    local upper
    upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
    port_free "$port" "$upper"

    log "$name: first start (creates the database)"
    (cd "$dir" && "$TB" startup --url "$url" --runs 1 --log "$server_log" --out "$RESULTS/$name-first-start.json" -- "$@")

    log "$name: start-up with the existing database, $STARTUP_RUNS runs"
    (cd "$dir" && "$TB" startup --url "$url" --runs "$STARTUP_RUNS" --log "$server_log" \
        --out "$RESULTS/$name-startup.json" -- "$@")

    log "$name: start for the load runs"
    (cd "$dir" && exec "$@" >>"$server_log" 2>&1) &
    local pid=$!
    PIDS+=("$pid")
    "$TB" wait --url "$url" --pid "$pid"

    log "$name: idle RSS ${IDLE_WAIT}s after start, before any request but /versions"
    "$TB" rss --pid "$pid" --idle "$IDLE_WAIT" --out "$RESULTS/$name-rss-start.json"

    "$VENV/bin/register_new_matrix_user" -u "$BENCH_USER" -p "$BENCH_PASSWORD" --no-admin \
        -k "$(config_value "$dir/homeserver.yaml" registration_shared_secret)" "$url" >&2
    local token
    token=$("$TB" login --url "$url" --user "$BENCH_USER" --password "$BENCH_PASSWORD")

    log "$name: idle RSS ${IDLE_WAIT}s after registering and logging in"
    "$TB" rss --pid "$pid" --idle "$IDLE_WAIT" --out "$RESULTS/$name-rss-idle.json"

    for c in $CONCURRENCY; do
        log "$name: whoami, $c client(s), ${WARMUP}s warm-up + ${DURATION}s"
        "$TB" whoami --url "$url" --token "$token" --concurrency "$c" --duration "$DURATION" \
            --warmup "$WARMUP" --pid "$pid" --out "$RESULTS/$name-whoami-c$c.json"
    done
    "$TB" rss --pid "$pid" --idle 0 --out "$RESULTS/$name-rss-after.json"

    log "$name: RSS after $LOGINS more password logins"
    for _ in $(seq "$LOGINS"); do
        "$TB" login --url "$url" --user "$BENCH_USER" --password "$BENCH_PASSWORD" >/dev/null
    done
    "$TB" rss --pid "$pid" --idle 1 --out "$RESULTS/$name-rss-logins.json"

    kill -TERM "$pid"
    wait "$pid" || true
    PIDS=()
}

for server in $SERVERS; do
    case $server in
        synapse) bench_server synapse "$SYNAPSE_PORT" "$SYN_DIR" "${SYNAPSE_CMD[@]}" ;;
        trellis) bench_server trellis "$TRELLIS_PORT" "$TRE_DIR" "${TRELLIS_CMD[@]}" ;;
        *) echo "unknown server $server" >&2; exit 1 ;;
    esac
done

# ---------------------------------------------------------------- report
log "results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "load average before the report: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "trellis: $("$TRELLIS" --version) (commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)), $(rustc --version)"
# (synapse.__version__ would add the git state of this repository, which holds the venv)
echo "synapse: $("$PY" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))') on $("$PY" --version)"
echo "whoami: ${WARMUP}s warm-up + ${DURATION}s per run; start-up: median of $STARTUP_RUNS; idle waits ${IDLE_WAIT}s"
echo
concurrency_list=$(echo "$CONCURRENCY" | tr ' ' ',')
"$TB" report --dir "$RESULTS" --concurrency "$concurrency_list" --logins "$LOGINS" --markdown "$WORK/report.md"
echo
echo "run.sh took $((SECONDS - T0)) s ($BUILD_SECONDS s of it building)"
