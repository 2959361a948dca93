# Helpers shared by bench/run.sh and bench/rooms.sh; sourced, not run.
# See docs/development/benchmarks.md.
#
# After `bench_init`: ROOT, BENCH_DIR, TARGET_DIR, VENV, SYNAPSE_VERSION,
# WORK (a fresh temporary folder, removed on exit unless KEEP=1 or the
# script failed), RESULTS, PIDS (every server started; stopped by PID on
# exit) and T0. After `bench_build`: TRELLIS, TB (trellis-bench) and
# BUILD_SECONDS. After `bench_venv`: PY (the venv's python, with Synapse).
# A script may define `bench_extra_cleanup`, called on exit after the
# servers are stopped.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SYNAPSE_VERSION=${SYNAPSE_VERSION:-1.163.2}
VENV=$BENCH_DIR/.venv

log() { printf '\n== %s\n' "$*" >&2; }

# Stops one process started by this script: SIGTERM, then SIGKILL after 10 s.
stop_pid() { # pid
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

bench_cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    if declare -F bench_extra_cleanup >/dev/null; then
        bench_extra_cleanup || true
    fi
    if [[ ${KEEP:-0} == 1 || $status != 0 ]]; then
        echo "work folder kept: $WORK (configs, server logs, JSON results)" >&2
    else
        rm -rf "$WORK"
    fi
}

bench_init() { # name (of the temporary folder)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    RESULTS=$WORK/results
    mkdir -p "$RESULTS"
    PIDS=()
    T0=$SECONDS
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

port_free() { # port NAME (for the knob's name in the message)
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "port $1 is already in use on 127.0.0.1; stop what listens there or set ${2}_PORT" >&2
        exit 1
    fi
}

# Builds trellis and trellis-bench in release mode, or with BUILD=0 checks
# that the binaries are already there.
bench_build() {
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
}

# Creates bench/.venv with matrix-synapse==$SYNAPSE_VERSION if needed.
bench_venv() {
    if ! "$VENV/bin/python" -c "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" 2>/dev/null; then
        log "installing matrix-synapse==$SYNAPSE_VERSION into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
    fi
    PY=$VENV/bin/python
}

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

# Registers COUNT users PREFIX0 … PREFIX<COUNT-1> with shared-secret
# registration (/_synapse/admin/v1/register, HMAC-SHA1, as Synapse's
# register_new_matrix_user does, in one process) and writes
# [{"user_id", "access_token"}, …] to OUT.
register_users() { # url secret prefix count out
    "$PY" - "$@" <<'EOF'
import hashlib, hmac, json, sys, urllib.request
url, secret, prefix, count, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
assert url.startswith("http://127.0.0.1:") or url.startswith("http://localhost:"), url
endpoint = url.rstrip("/") + "/_synapse/admin/v1/register"
def call(method, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(endpoint, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)
users = []
for i in range(count):
    name, password = f"{prefix}{i}", f"{prefix}{i}-bench-password"
    nonce = call("GET")["nonce"]
    message = b"\x00".join(part.encode() for part in (nonce, name, password, "notadmin"))
    mac = hmac.new(secret.encode(), message, hashlib.sha1)
    answer = call("POST", {"nonce": nonce, "username": name, "password": password, "admin": False,
                           "mac": mac.hexdigest()})
    users.append({"user_id": answer["user_id"], "access_token": answer["access_token"]})
with open(out, "w") as f:
    json.dump(users, f, indent=1)
print(f"registered {count} users ({users[0]['user_id']} …)", file=sys.stderr)
EOF
}

# One line per fact about the machine and the builds, for the report.
describe_machine() {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
    echo "load average before the report: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "trellis: $("$TRELLIS" --version) (commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)), $(rustc --version)"
    # (synapse.__version__ would add the git state of this repository, which holds the venv)
    echo "synapse: $("$PY" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))') on $("$PY" --version)"
}
