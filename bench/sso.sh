#!/usr/bin/env bash
# The single sign-on benchmark (issue 5): Synapse and Trellis (release,
# SQLite) side by side against the same identity providers, timing the
# callback request in which the homeserver does its work (validate the
# ticket or the signed response, find or create the account, mint a login
# token, redirect). See docs/development/benchmarks.md ("Single sign-on").
#
#   CAS:  django-mama-cas; both servers validate tickets over HTTP against it.
#   SAML: the npm saml-idp; Synapse checks signatures with pysaml2 and the
#         xmlsec1 program (installed with apt if missing), Trellis inside its
#         WebAssembly plugin.
#
# Knobs: USERS (30 accounts created), ROUNDS (3 more sign-ins each),
# KINDS ("cas saml"), SYNAPSE_PORT (8493), TRELLIS_PORT (8494), CAS_PORT
# (8495), IDP_PORT (8496), KEEP=1, BUILD=0.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USERS=${USERS:-30}
ROUNDS=${ROUNDS:-3}
KINDS=${KINDS:-"cas saml"}
SYNAPSE_PORT=${SYNAPSE_PORT:-8493}
TRELLIS_PORT=${TRELLIS_PORT:-8494}
CAS_PORT=${CAS_PORT:-8495}
IDP_PORT=${IDP_PORT:-8496}
SP_ENTITY=urn:bench:sp

bench_init trellis-sso
bench_build
bench_venv
for port_var in SYNAPSE TRELLIS CAS IDP; do
    port_name=${port_var}_PORT
    port_free "${!port_name}" "$port_var"
done

log "identity provider software (mama-cas, pysaml2, xmlsec1, saml-idp)"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "django==2.2.28" "django-mama-cas==2.4.0" \
    "matrix-synapse[saml2]==$SYNAPSE_VERSION"
if ! command -v xmlsec1 >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1 >/dev/null
fi
mkdir -p "$WORK/idp"
cp "$ROOT/tests/interop/package.json" "$ROOT/tests/interop/package-lock.json" "$WORK/idp/"
(cd "$WORK/idp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

log "CAS server (django-mama-cas) on $CAS_PORT"
mkdir -p "$WORK/cas"
"$PY" - "$WORK/cas" "$USERS" <<'EOF'
import pathlib, sys
root, users = pathlib.Path(sys.argv[1]), int(sys.argv[2])
(root / "settings.py").write_text('''
import os
BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = 'bench'
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1']
INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes', 'django.contrib.sessions',
                  'django.contrib.messages', 'django.contrib.staticfiles', 'mama_cas']
MIDDLEWARE = ['django.contrib.sessions.middleware.SessionMiddleware', 'django.middleware.csrf.CsrfViewMiddleware',
              'django.contrib.auth.middleware.AuthenticationMiddleware',
              'django.contrib.messages.middleware.MessageMiddleware']
ROOT_URLCONF = 'urls'
TEMPLATES = [{'BACKEND': 'django.template.backends.django.DjangoTemplates', 'APP_DIRS': True,
              'OPTIONS': {'context_processors': ['django.template.context_processors.request',
                                                 'django.contrib.auth.context_processors.auth',
                                                 'django.contrib.messages.context_processors.messages']}}]
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.path.join(BASE_DIR, 'cas.sqlite3')}}
STATIC_URL = '/static/'
MAMA_CAS_SERVICES = [{'SERVICE': r'^http://127\\.0\\.0\\.1:\\d+/',
                      'CALLBACKS': ['mama_cas.callbacks.user_name_attributes']}]
''')
(root / "urls.py").write_text("from django.urls import include, path\nurlpatterns = [path('', include('mama_cas.urls'))]\n")
(root / "users.py").write_text(
    "from django.contrib.auth.models import User\n"
    f"for i in range({users}):\n"
    "    User.objects.create_user('c%03d' % i, password='benchpass', first_name='Bench')\n")
EOF
(cd "$WORK/cas" && DJANGO_SETTINGS_MODULE=settings "$PY" -m django migrate --noinput >/dev/null \
    && DJANGO_SETTINGS_MODULE=settings PYTHONPATH=. "$PY" -m django shell -c "exec(open('users.py').read())")
(cd "$WORK/cas" && DJANGO_SETTINGS_MODULE=settings PYTHONPATH=. exec "$PY" -m django runserver \
    "127.0.0.1:$CAS_PORT" --noreload >"$WORK/cas/server.log" 2>&1) &
PIDS+=($!)

log "SAML IdP (saml-idp) on $IDP_PORT"
# Outside the npm folder, whose package.json makes .js files ES modules.
cat >"$WORK/idp-config.js" <<'EOF'
module.exports = {
  user: { userName: 'x@example.com', uid: 'x' },
  metadata: [
    { id: 'uid', optional: false, displayName: 'uid', description: 'uid', multiValue: false },
    { id: 'displayName', optional: true, displayName: 'name', description: 'name', multiValue: false },
    { id: 'email', optional: true, displayName: 'mail', description: 'mail', multiValue: false },
  ],
};
EOF
(cd "$WORK/idp" && exec node node_modules/saml-idp/bin/run.js --host 127.0.0.1 --port "$IDP_PORT" \
    --acsUrl "http://127.0.0.1:$TRELLIS_PORT/_synapse/client/saml2/authn_response" --audience "$SP_ENTITY" \
    --issuer urn:bench:idp --cert "$ROOT/tests/fixtures/saml/idp-cert.pem" \
    --key "$ROOT/tests/fixtures/saml/idp-key.pem" --configFile "$WORK/idp-config.js" >"$WORK/idp/server.log" 2>&1) &
PIDS+=($!)
for port in "$CAS_PORT" "$IDP_PORT"; do
    for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

# The SSO sections both servers get (Synapse's keys; both accept them).
sso_yaml() { # port
    cat <<EOF
public_baseurl: "http://127.0.0.1:$1/"
cas_config:
  enabled: true
  server_url: "http://127.0.0.1:$CAS_PORT"
  displayname_attribute: full_name
saml2_config:
  sp_config:
    entityid: "$SP_ENTITY"
    metadata:
      remote:
        - url: "http://127.0.0.1:$IDP_PORT/metadata"
    accepted_time_diff: 3
    allow_unknown_attributes: true
  user_mapping_provider:
    config:
      mxid_source_attribute: uid
sso:
  client_whitelist: ["https://app.example/"]
EOF
}

mkdir -p "$WORK/bin"
cp "$TRELLIS" "$WORK/bin/trellis"
TRELLIS=$WORK/bin/trellis

run_server() { # synapse|trellis
    local name=$1 dir=$WORK/$1 port url
    mkdir -p "$dir"
    if [[ $name == synapse ]]; then
        port=$SYNAPSE_PORT
        (cd "$dir" && "$PY" -m synapse.app.homeserver --generate-config --server-name "localhost:$port" \
            --config-path "$dir/homeserver.yaml" --data-directory "$dir" --report-stats=no >/dev/null)
        edit_config "$dir/homeserver.yaml" synapse "$port"
        set -- "$PY" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml"
    else
        port=$TRELLIS_PORT
        "$TRELLIS" generate-config --server-name "localhost:$port" --data-dir "$dir" \
            --output "$dir/homeserver.yaml" --port "$port" 2>/dev/null
        edit_config "$dir/homeserver.yaml" trellis "$port"
        set -- "$TRELLIS" run --config "$dir/homeserver.yaml"
    fi
    sso_yaml "$port" >"$dir/sso.yaml"
    "$PY" - "$dir/homeserver.yaml" "$dir/sso.yaml" <<'EOF'
import sys, yaml
path, extra = sys.argv[1], sys.argv[2]
c = yaml.safe_load(open(path))
c.update(yaml.safe_load(open(extra)))
yaml.safe_dump(c, open(path, "w"), sort_keys=False)
EOF
    url=http://127.0.0.1:$port
    log "$name: start"
    (cd "$dir" && exec "$@" >>"$dir/server.log" 2>&1) &
    local pid=$!
    PIDS+=("$pid")
    "$TB" wait --url "$url" --pid "$pid"
    for kind in $KINDS; do
        log "$name: $kind sign-ins ($USERS new accounts, then $ROUNDS more rounds)"
        local idp=http://127.0.0.1:$CAS_PORT prefix=c
        if [[ $kind == saml ]]; then idp=http://127.0.0.1:$IDP_PORT prefix=s; fi
        "$PY" "$BENCH_DIR/sso_driver.py" "$kind" "$url" "$idp" "$prefix" "$USERS" "$ROUNDS" \
            >"$RESULTS/$name-$kind.json"
    done
    stop_pid "$pid"
}

run_server synapse
run_server trellis

log "report"
"$PY" - "$RESULTS" "$KINDS" <<'EOF' | tee "$RESULTS/report.md"
import json, statistics, sys
results, kinds = sys.argv[1], sys.argv[2].split()
def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]
print("| callback | Synapse p50 / p90 | Trellis p50 / p90 | ratio (p50) |")
print("|---|---|---|---|")
for kind in kinds:
    s = json.load(open(f"{results}/synapse-{kind}.json"))
    t = json.load(open(f"{results}/trellis-{kind}.json"))
    for phase, label in (("first", "new account"), ("again", "returning user")):
        sp, tp = statistics.median(s[phase]), statistics.median(t[phase])
        print(f"| {kind.upper()}, {label} (n={len(t[phase])}) | {sp:.1f} / {p(s[phase], .9):.1f} ms "
              f"| {tp:.1f} / {p(t[phase], .9):.1f} ms | {sp / tp:.1f}x |")
EOF
describe_machine | tee -a "$RESULTS/report.md"
