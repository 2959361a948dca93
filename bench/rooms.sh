#!/usr/bin/env bash
# The room benchmark: Synapse (SQLite) against Trellis on SQLite, Trellis on
# PostgreSQL and Trellis on SQLite with synchronous=FULL, doing the same
# work: message send throughput and latency in a 20-member room (1 sender,
# then 10 concurrent senders; push rules evaluated and notification counts
# kept for every member), server CPU per message, sync wake-up latency,
# initial sync of a user in 50 rooms, /messages pagination, RSS after it all.
# See docs/development/benchmarks.md ("Rooms"). Everything binds to
# 127.0.0.1; every process started here is stopped by PID on exit, and the
# PostgreSQL database it creates is dropped.
#
# Knobs (environment):
#   CONFIGS ("synapse trellis-sqlite trellis-postgres trellis-sqlite-full"),
#   MESSAGES (2000, the 10-sender run), SENDERS (10), MEMBERS (20),
#   SINGLE_MESSAGES (300), WAKEUPS (50), SYNC_ROOMS (50), INITIAL_SYNCS (10),
#   PAGES (40 pages of 50), SYNAPSE_PORT (8490), TRELLIS_PORT (8491),
#   PG_URL (postgres://postgres@127.0.0.1:55432/postgres, the cluster in
#   which a fresh bench_<random> database is created and dropped),
#   ROOMS_ARGS (extra trellis-bench rooms arguments), PERF=1 (profile the
#   Trellis server with perf record during one phase, PERF_PHASE: send (the
#   10-sender run, default), wakeup, initial-sync or messages; do not quote
#   the numbers of a profiled run), KEEP=1 keeps the work folder, BUILD=0
#   skips the cargo build and uses the binaries already in target/release.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONFIGS=${CONFIGS:-"synapse trellis-sqlite trellis-postgres trellis-sqlite-full"}
MESSAGES=${MESSAGES:-2000}
SENDERS=${SENDERS:-10}
MEMBERS=${MEMBERS:-20}
SINGLE_MESSAGES=${SINGLE_MESSAGES:-300}
WAKEUPS=${WAKEUPS:-50}
SYNC_ROOMS=${SYNC_ROOMS:-50}
INITIAL_SYNCS=${INITIAL_SYNCS:-10}
PAGES=${PAGES:-40}
SYNAPSE_PORT=${SYNAPSE_PORT:-8490}
TRELLIS_PORT=${TRELLIS_PORT:-8491}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:55432/postgres}
PG_DB=""

bench_init trellis-rooms

bench_extra_cleanup() {
    if [[ -n $PG_DB ]]; then
        psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null && echo "dropped database $PG_DB" >&2
        PG_DB=""
    fi
}

bench_build
bench_venv

# The Trellis binary is copied, so that a rebuild by someone else during the
# run cannot mix two builds in one table.
mkdir -p "$WORK/bin"
cp "$TRELLIS" "$WORK/bin/trellis"
TRELLIS=$WORK/bin/trellis

run_config() { # config
    local config=$1 dir=$WORK/$1 port url kind durability
    mkdir -p "$dir"
    local env_args=()
    case $config in
        synapse)
            kind=synapse
            port=$SYNAPSE_PORT
            (cd "$dir" && "$PY" -m synapse.app.homeserver --generate-config --server-name "localhost:$port" \
                --config-path "$dir/homeserver.yaml" --data-directory "$dir" --report-stats=no >/dev/null)
            edit_config "$dir/homeserver.yaml" synapse "$port"
            # Synapse opens SQLite in WAL mode and leaves synchronous at the
            # library default, FULL (read back here, not assumed).
            local sync_mode
            sync_mode=$("$PY" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode = WAL"); print({0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[c.execute("PRAGMA synchronous").fetchone()[0]])' "$dir/wal-check.db")
            rm -f "$dir"/wal-check.db*
            durability="SQLite WAL, synchronous=$sync_mode (default)"
            set -- "$PY" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml"
            ;;
        trellis-sqlite | trellis-sqlite-full | trellis-postgres)
            kind=trellis
            port=$TRELLIS_PORT
            "$TRELLIS" generate-config --server-name "localhost:$port" --data-dir "$dir" \
                --output "$dir/homeserver.yaml" --port "$port" 2>/dev/null
            edit_config "$dir/homeserver.yaml" trellis "$port"
            case $config in
                trellis-sqlite) durability="SQLite WAL, synchronous=NORMAL (default)" ;;
                trellis-sqlite-full)
                    "$PY" - "$dir/homeserver.yaml" <<'EOF'
import sys, yaml
path = sys.argv[1]
c = yaml.safe_load(open(path))
c["database"].setdefault("args", {})["synchronous"] = "FULL"
yaml.safe_dump(c, open(path, "w"), sort_keys=False)
EOF
                    durability="SQLite WAL, synchronous=FULL"
                    ;;
                trellis-postgres)
                    PG_DB=bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
                    psql "$PG_URL" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
                    local pg_settings
                    pg_settings=$(psql "$PG_URL" -qAtc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")
                    durability="PostgreSQL $(psql "$PG_URL" -qAtc 'SHOW server_version' | cut -d' ' -f1), $pg_settings"
                    env_args=("TRELLIS_DATABASE_URL=${PG_URL%/*}/$PG_DB")
                    ;;
            esac
            set -- "$TRELLIS" run --config "$dir/homeserver.yaml"
            ;;
        *) echo "unknown configuration $config" >&2; exit 1 ;;
    esac
    url=http://127.0.0.1:$port
    port_free "$port" "$(echo "$kind" | tr '[:lower:]' '[:upper:]')"

    log "$config: start ($durability)"
    (cd "$dir" && exec env "${env_args[@]}" "$@" >>"$dir/server.log" 2>&1) &
    local pid=$!
    PIDS+=("$pid")
    "$TB" wait --url "$url" --pid "$pid"

    log "$config: registering $((MEMBERS + 2)) users (shared-secret registration)"
    register_users "$url" "$(config_value "$dir/homeserver.yaml" registration_shared_secret)" u \
        $((MEMBERS + 2)) "$dir/users.json"

    log "$config: room benchmark"
    local extra_args=() perf_data=""
    if [[ ${PERF:-0} == 1 && $kind == trellis ]]; then
        perf_data=$RESULTS/$config-perf.data
        extra_args+=(--perf "$perf_data" --perf-phase "${PERF_PHASE:-send}")
    fi
    if [[ $config == trellis-postgres ]]; then
        extra_args+=(--db-name "$PG_DB")
    fi
    local started=$SECONDS
    # shellcheck disable=SC2086 # ROOMS_ARGS is a list of words
    "$TB" rooms --url "$url" --pid "$pid" --users "$dir/users.json" --label "$config" \
        --durability "$durability" --members "$MEMBERS" --senders "$SENDERS" --messages "$MESSAGES" \
        --single-messages "$SINGLE_MESSAGES" --wakeups "$WAKEUPS" --sync-rooms "$SYNC_ROOMS" \
        --initial-syncs "$INITIAL_SYNCS" --pages "$PAGES" "${extra_args[@]}" ${ROOMS_ARGS:-} \
        --out "$RESULTS/$config-rooms.json"
    echo "$config: the room benchmark took $((SECONDS - started)) s" >&2

    stop_pid "$pid"
    wait "$pid" 2>/dev/null || true
    PIDS=()
    if [[ $config == trellis-postgres ]]; then
        bench_extra_cleanup
    fi
    if [[ -n $perf_data ]]; then
        log "$config: perf report (self time by symbol; inclusive in $config-perf-children.txt)"
        perf report -i "$perf_data" --no-children --sort dso,symbol --percent-limit 0.7 --stdio -g none \
            2>/dev/null | grep '%' | cut -c1-160 | head -40 | tee "$RESULTS/$config-perf-self.txt"
        perf report -i "$perf_data" --children --sort symbol --percent-limit 2 --stdio -g none \
            2>/dev/null | grep '%' | cut -c1-220 >"$RESULTS/$config-perf-children.txt"
    fi
}

for config in $CONFIGS; do
    run_config "$config"
done

log "results"
describe_machine
echo "rooms: $MEMBERS members, $SENDERS senders, $MESSAGES messages (10-sender run), $SINGLE_MESSAGES (1 sender),"
echo "       $WAKEUPS wake-ups, $SYNC_ROOMS rooms x $INITIAL_SYNCS initial syncs, $PAGES pages of 50"
echo
"$TB" rooms-report --dir "$RESULTS" --configs "$(echo "$CONFIGS" | tr ' ' ',')" --markdown "$WORK/rooms-report.md"
echo
echo "rooms.sh took $((SECONDS - T0)) s ($BUILD_SECONDS s of it building)"
