#!/usr/bin/env bash
# The plugin benchmark (issue 4). Two parts:
#  1. In-process (plugin-micro, release build): the time a no-op spam check
#     adds to each event (pooled instantiation + call), loading a plugin from
#     the compiled-component cache, resident memory per live instance.
#  2. Send throughput of a running Trellis (SQLite) with 0, 1 and 5 no-op
#     spam-check modules loaded: the room benchmark's send phase (1 sender,
#     then SENDERS concurrent senders in a MEMBERS-member room), repeated
#     ROUNDS times with the configurations interleaved, so that drift of the
#     machine hits all of them alike.
# Everything binds to 127.0.0.1; every process started here is stopped.
# See docs/development/benchmarks.md ("Plugins").
#
# Knobs: MODULE_COUNTS ("0 1 5"), ROUNDS (3), MESSAGES (2000), SENDERS (10),
# MEMBERS (20), SINGLE_MESSAGES (300), CALLS (20000), TRELLIS_PORT (8492),
# KEEP=1, BUILD=0 (use the release binaries already built).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE_COUNTS=${MODULE_COUNTS:-"0 1 5"}
ROUNDS=${ROUNDS:-3}
MESSAGES=${MESSAGES:-2000}
SENDERS=${SENDERS:-10}
MEMBERS=${MEMBERS:-20}
SINGLE_MESSAGES=${SINGLE_MESSAGES:-300}
CALLS=${CALLS:-20000}
PORT=${TRELLIS_PORT:-8492}

bench_init trellis-plugins
bench_build
bench_venv

log "building the no-op plugin (wasm32-wasip2)"
(cd "$ROOT" && cargo build --manifest-path plugins/Cargo.toml --target wasm32-wasip2 --release \
    -p fixture-noop --target-dir "$TARGET_DIR/guests")
NOOP=$TARGET_DIR/guests/wasm32-wasip2/release/fixture_noop.wasm
mkdir -p "$WORK/bin"
cp "$TRELLIS" "$WORK/bin/trellis"
TRELLIS=$WORK/bin/trellis

log "in-process costs ($CALLS calls)"
"$TARGET_DIR/release/plugin-micro" --component "$NOOP" --calls "$CALLS" | tee "$RESULTS/micro.json"

run_config() { # modules round
    local modules=$1 round=$2 dir=$WORK/m$1-r$2 url=http://127.0.0.1:$PORT
    mkdir -p "$dir"
    "$TRELLIS" generate-config --server-name "localhost:$PORT" --data-dir "$dir" \
        --output "$dir/homeserver.yaml" --port "$PORT" 2>/dev/null
    edit_config "$dir/homeserver.yaml" trellis "$PORT"
    "$PY" - "$dir/homeserver.yaml" "$NOOP" "$modules" <<'PYEOF'
import sys, yaml
path, component, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = yaml.safe_load(open(path))
c["modules"] = [{"module": component, "name": f"noop{i}"} for i in range(count)]
yaml.safe_dump(c, open(path, "w"), sort_keys=False)
PYEOF
    port_free "$PORT" TRELLIS
    log "$modules modules, round $round"
    (cd "$dir" && exec "$TRELLIS" run --config "$dir/homeserver.yaml" >>"$dir/server.log" 2>&1) &
    local pid=$!
    PIDS+=("$pid")
    "$TB" wait --url "$url" --pid "$pid"
    register_users "$url" "$(config_value "$dir/homeserver.yaml" registration_shared_secret)" u \
        $((MEMBERS + 2)) "$dir/users.json"
    "$TB" rooms --url "$url" --pid "$pid" --users "$dir/users.json" --label "modules-$modules" \
        --durability "SQLite WAL, synchronous=NORMAL" --members "$MEMBERS" --senders "$SENDERS" \
        --messages "$MESSAGES" --single-messages "$SINGLE_MESSAGES" --phases send \
        --out "$RESULTS/modules-$modules-round-$round.json" >/dev/null
    stop_pid "$pid"
    wait "$pid" 2>/dev/null || true
    PIDS=()
}

for round in $(seq 1 "$ROUNDS"); do
    for modules in $MODULE_COUNTS; do
        run_config "$modules" "$round"
    done
done

log "results"
describe_machine
"$PY" - "$RESULTS" "$MODULE_COUNTS" <<'PYEOF'
import json, sys, glob, statistics
results, counts = sys.argv[1], sys.argv[2].split()
micro = json.load(open(f"{results}/micro.json"))
print("In process (release build, no-op spam check):")
print(f"  hook, no plugin:         p50 {micro['hook_without_plugins']['p50_us']:.2f} us")
w = micro['hook_with_noop_plugin']
print(f"  hook, one no-op plugin:  p50 {w['p50_us']:.2f} us, p90 {w['p90_us']:.2f} us, p99 {w['p99_us']:.2f} us, mean {w['mean_us']:.2f} us")
print(f"  added per event (p50):   {micro['added_per_event_p50_us']:.2f} us   (target < 25 us)")
l = micro['cached_load']
print(f"  load from cache:         p50 {l['p50_us']/1000:.3f} ms, p99 {l['p99_us']/1000:.3f} ms   (target < 1 ms)")
print(f"  RSS per live instance:   {micro['rss_per_instance_kib']:.1f} KiB ({micro['live_instances']} instances)")
print()
print("| modules | 1 sender msg/s (median) | %d senders msg/s (median) | vs 0 modules | server CPU ms/msg |" % json.load(open(glob.glob(f"{results}/modules-0-round-*.json")[0]))["concurrent"]["senders"])
print("|---|---|---|---|---|")
base = None
for count in counts:
    runs = [json.load(open(p)) for p in sorted(glob.glob(f"{results}/modules-{count}-round-*.json"))]
    single = statistics.median(r["single"]["messages_per_s"] for r in runs)
    many = statistics.median(r["concurrent"]["messages_per_s"] for r in runs)
    cpu = statistics.median(r["concurrent"]["server_cpu_ms_per_message"] for r in runs)
    base = base or many
    all_runs = ", ".join(f"{r['concurrent']['messages_per_s']:.0f}" for r in runs)
    print(f"| {count} | {single:.0f} | {many:.0f} ({all_runs}) | {many / base * 100:.1f}% | {cpu:.2f} |")
PYEOF
echo
echo "plugins.sh took $((SECONDS - T0)) s ($BUILD_SECONDS s of it building)"
