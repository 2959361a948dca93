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

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
STARTUP_RUNS=${STARTUP_RUNS:-7}
IDLE_WAIT=${IDLE_WAIT:-5}
LOGINS=${LOGINS:-10}
CONCURRENCY=${CONCURRENCY:-"1 16"}
SYNAPSE_PORT=${SYNAPSE_PORT:-8480}
TRELLIS_PORT=${TRELLIS_PORT:-8481}
SERVERS=${SERVERS:-"synapse trellis"}
BENCH_USER=bench
BENCH_PASSWORD=benchpass

bench_init trellis-bench

# ---------------------------------------------------------------- build
bench_build

# ---------------------------------------------------------------- synapse venv
bench_venv

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
describe_machine
echo "whoami: ${WARMUP}s warm-up + ${DURATION}s per run; start-up: median of $STARTUP_RUNS; idle waits ${IDLE_WAIT}s"
echo
concurrency_list=$(echo "$CONCURRENCY" | tr ' ' ',')
"$TB" report --dir "$RESULTS" --concurrency "$concurrency_list" --logins "$LOGINS" --markdown "$WORK/report.md"
echo
echo "run.sh took $((SECONDS - T0)) s ($BUILD_SECONDS s of it building)"
