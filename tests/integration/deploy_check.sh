#!/usr/bin/env bash
# deploy_check.sh - the deployment files say what the code does, and are
# well-formed: Dockerfile, docker-compose.yml, deploy/docker, deploy/kubernetes,
# deploy/systemd, deploy/prometheus (docs/operations.md describes them).
#
# No Docker engine, kubectl or systemd is needed: docker-compose parses the
# compose file offline; the YAML checks use python3 with PyYAML (Debian's
# python3-yaml) and are skipped, saying so, when it is missing; systemd-analyze
# verify, promtool and shellcheck are used when installed. What runs for
# real: both health checks (the image's and compose's) against a live bus,
# make-keys.sh (every file compose mounts), the compose database init script
# against a private PostgreSQL cluster, and install.sh into a staging folder.
#
# Functions here are called through tap_ok and the EXIT trap:
# shellcheck disable=SC2317
set -euo pipefail

# shellcheck source=tests/lib/tap.sh
. "$KT_TEST_ROOT/tests/lib/tap.sh"
KL_PROG=deploy_check.sh
# shellcheck source=deploy/local/kontor-lib.sh
. "$KT_TEST_ROOT/deploy/local/kontor-lib.sh"

root=$KT_TEST_ROOT
bin=$KT_TEST_BIN
work=$KT_TEST_TMP/deploy_check
rm -rf "$work"
mkdir -p "$work"
chmod 0711 "$work"
cd "$root"

bus_pid=""
pg_data=""
leave() {
    [ -z "$bus_pid" ] || kl_stop_pid "$bus_pid" kontor-bus TERM 10 || true
    [ -z "$pg_data" ] || kl_pg_stop "$pg_data" || true
    [ "${KT_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap leave EXIT
trap 'exit 143' TERM INT

have_yaml=0
# Debian's python3 (with python3-yaml) may sit behind another python3 on PATH.
PY=python3
for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import yaml' 2>/dev/null; then
        PY=$candidate
        break
    fi
done
"$PY" -c 'import yaml' 2>/dev/null && have_yaml=1
no_yaml="python3 with PyYAML (python3-yaml) is not installed"

# py_checks NAME SCRIPT [ARGS...]: run a python check that prints one line
# per result: "ok<TAB>name" or "not ok<TAB>name<TAB>diagnosis".
py_checks() {
    local what=$1 script=$2 line status name diag
    shift 2
    if [ "$have_yaml" = 0 ]; then
        tap_skip "$what" "$no_yaml"
        return 0
    fi
    local out=$work/py.out err=$work/py.err rc=0
    "$PY" -c "$script" "$@" >"$out" 2>"$err" || rc=$?
    while IFS=$'\t' read -r status name diag; do
        if [ "$status" = ok ]; then
            tap_pass "$name"
        else
            tap_fail "$name" "$(printf '%b' "$diag")"
        fi
    done <"$out"
    [ "$rc" -eq 0 ] || tap_fail "$what: the checker ran to its end" "$(tail -n 20 "$err")"
}

# The checker's helpers, shared by the python checks below.
read -r -d '' PY_LIB <<'PY' || true
import sys, yaml, re, glob, os
def ok(name): print("ok\t" + name)
def bad(name, diag=""): print("not ok\t" + name + "\t" + diag.replace("\\", "\\\\").replace("\n", "\\n"))
def check(cond, name, diag=""):
    ok(name) if cond else bad(name, diag)
def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]
PY

# ---------------------------------------------------------------- Dockerfile
df=$root/Dockerfile
tap_like "$(grep -cE '^FROM debian:bookworm' "$df")" '^2$' "the Dockerfile builds and runs on Debian 12 (two bookworm stages)"
tap_ok "the build stage runs make FLAVOUR=release all" grep -q 'make .*FLAVOUR=release all' "$df"
final=$(awk '/^FROM /{n++} n == 2' "$df")
missing=""
for p in libzmq5 libczmq4 libprotobuf-c1 libpq5 libhiredis0.14 libjson-c5 libsodium23 ca-certificates; do
    grep -qw -- "$p" <<<"$final" || missing+=" $p"
done
tap_is "${missing:-none}" none "the final stage installs every runtime library"
tap_is "$(grep -cE -- '-dev\b' <<<"$final" || true)" 0 "the final stage installs no -dev package"
tap_ok "the final stage runs as the non-root user kontor" grep -qE '^USER kontor' <<<"$final"
tap_ok "every binary goes to /usr/local/bin" grep -q 'COPY --from=build /out/bin/ /usr/local/bin/' "$df"
tap_ok ".dockerignore keeps keys and local state out of the build context" \
    bash -c "grep -qx 'deploy/docker/keys' .dockerignore && grep -qx '.kontor' .dockerignore && grep -qx 'build' .dockerignore"
# The library list is what the binaries need: every libkontor link is among them.
if [ -x "$bin/kontor-bus" ] && command -v ldd >/dev/null; then
    linked=$(ldd "$bin/kontor-orders" | awk '{print $1}' | grep -E 'libzmq|libczmq|libprotobuf-c|libpq|libhiredis|libjson-c|libsodium' | sort | paste -sd' ' -)
    tap_like "$linked" 'libczmq.*libhiredis.*libjson-c.*libpq.*libprotobuf-c.*libsodium.*libzmq' \
        "a service links exactly the libraries the image installs ($linked)"
fi

# ---------------------------------------------------------------- health checks, live
# A bus on free ports: the image's HEALTHCHECK and compose's test, run as
# they are written, must say healthy; on a closed port, unhealthy.
mkdir -p "$work/keys"
"$bin/kontor-keygen" --public "$work/keys/allow" --secret "$work/keys/secret" bus service >/dev/null 2>&1 ||
    tap_bail "kontor-keygen failed"
p1="" p2="" p3="" http_port="" pg_port=""
kl_free_port p1
kl_free_port p2
kl_free_port p3
kl_free_port http_port
env -i PATH=/usr/bin:/bin KT_TEST_RUN="${KT_TEST_RUN:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    KONTOR_HOME="$work" KONTOR_BUS="tcp://127.0.0.1:$p1" KONTOR_EVENTS_IN="tcp://127.0.0.1:$p2" \
    KONTOR_EVENTS_OUT="tcp://127.0.0.1:$p3" KONTOR_HTTP_PORT="$http_port" \
    "$bin/kontor-bus" >"$work/bus.log" 2>&1 </dev/null &
bus_pid=$!
bus_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$http_port/readyz" 2>/dev/null; }
kl_wait_until 30 bus_ready || tap_bail "the bus did not start: $(tail -n 5 "$work/bus.log")"

image_check=$(sed -n 's/^ *CMD \(\[.*\]\)$/\1/p' "$df" | tail -n 1)
if [ "$have_yaml" = 1 ] && [ -n "$image_check" ]; then
    # Exec form: JSON, which YAML reads too.
    mapfile -t argv < <("$PY" -c 'import sys, yaml; print("\n".join(yaml.safe_load(sys.argv[1])))' "$image_check")
    tap_ok "the image's HEALTHCHECK says healthy for a ready process" env KONTOR_HTTP_PORT="$http_port" "${argv[@]}"
    tap_fails "the image's HEALTHCHECK says unhealthy when nothing answers" env KONTOR_HTTP_PORT="$p1" "${argv[@]}"
else
    tap_skip "the image's HEALTHCHECK says healthy for a ready process" "$no_yaml"
fi

# ---------------------------------------------------------------- docker-compose
if command -v docker-compose >/dev/null; then
    tap_ok "docker-compose -f docker-compose.yml config -q passes" docker-compose -f docker-compose.yml config -q
    docker-compose -f docker-compose.yml config >"$work/compose.yml" 2>"$work/compose.err" || true
else
    tap_skip "docker-compose -f docker-compose.yml config -q passes" "docker-compose is not installed (make deps installs it)"
fi
if [ -s "$work/compose.yml" ] && [ "$have_yaml" = 1 ]; then
    # compose's readiness test, as the resolved file gives it.
    mapfile -t argv < <("$PY" -c 'import sys, yaml; t = yaml.safe_load(open(sys.argv[1]))["services"]["orders"]["healthcheck"]["test"]; assert t[0] == "CMD"; print("\n".join(t[1:]))' "$work/compose.yml")
    # compose prints $$ for a literal $; the engine gets one.
    argv=("${argv[@]//\$\$/\$}")
    tap_ok "compose's readiness check says healthy for a ready process" env KONTOR_HTTP_PORT="$http_port" "${argv[@]}"
    tap_fails "compose's readiness check says unhealthy when nothing answers" env KONTOR_HTTP_PORT="$p1" "${argv[@]}"
fi
kl_stop_pid "$bus_pid" kontor-bus TERM 10 || true
bus_pid=""

# make-keys.sh makes every file compose mounts from deploy/docker/keys.
keys=$work/compose-keys
tap_ok "make-keys.sh --no-chown makes the keys and passwords" \
    env KONTOR_KEYGEN="$bin/kontor-keygen" bash deploy/docker/make-keys.sh --no-chown "$keys"
tap_like "$(KONTOR_KEYGEN="$bin/kontor-keygen" bash deploy/docker/make-keys.sh --no-chown "$keys" 2>&1)" \
    "everything was there already" "a second make-keys.sh run changes nothing"
tap_is "$(stat -c %a "$keys"/secret/*.secret "$keys"/db/*pgpass "$keys"/redis/* "$keys"/db/postgres.pass | sort -u)" 600 \
    "every secret key and password file is 0600"

if [ -s "$work/compose.yml" ]; then
    py_checks "compose file checks" "$PY_LIB
c = yaml.safe_load(open(sys.argv[1])); root = sys.argv[2]; keys = sys.argv[3]
svcs = c['services']
# Volumes as dicts, whichever syntax compose printed (src:target[:ro] or long).
def vol(v):
    if isinstance(v, dict):
        return v
    parts = v.split(':')
    return {'source': parts[0], 'target': parts[1] if len(parts) > 1 else parts[0],
            'read_only': len(parts) > 2 and 'ro' in parts[2].split(',')}
for s in svcs.values():
    s['volumes'] = [vol(v) for v in s.get('volumes', [])]
procs = ['bus', 'clients', 'orders', 'logistics', 'receivables']
for p in procs + ['postgres', 'redis', 'keygen']:
    check(p in svcs, 'compose has the service ' + p)
kontor = [n for n, s in svcs.items() if (s.get('command') or [''])[0].startswith('kontor-')]
check(sorted(set(svcs[n]['command'][0] for n in kontor)) == sorted('kontor-' + p for p in procs),
      'compose runs every Kontor process, each by its command', str(kontor))
check(sum(1 for n in kontor if svcs[n]['command'][0] == 'kontor-orders') >= 2, 'compose runs two instances of orders')
for n in kontor:
    s = svcs[n]; env = s.get('environment', {})
    check(s.get('healthcheck', {}).get('test') and '/readyz' in ' '.join(s['healthcheck']['test']), n + ': health check on /readyz')
    if n == 'bus':
        check(all(env.get(k, '').startswith('tcp://*:') for k in ('KONTOR_BUS', 'KONTOR_EVENTS_IN', 'KONTOR_EVENTS_OUT')),
              'bus: binds every interface (tcp://*:PORT)', str(env))
    else:
        check(all(env.get(k, '').startswith('tcp://bus:') for k in ('KONTOR_BUS', 'KONTOR_EVENTS_IN', 'KONTOR_EVENTS_OUT')),
              n + ': connects to tcp://bus:PORT', str(env))
        svc = s['command'][0][len('kontor-'):]
        check(('user=kontor_' + svc + ' ') in env.get('KONTOR_PG_DSN', ''), n + ': connects to PostgreSQL as kontor_' + svc)
        deps = s.get('depends_on', {})
        check(all(deps.get(d, {}).get('condition') == 'service_healthy' for d in ('postgres', 'redis', 'bus')),
              n + ': waits for a healthy postgres, redis and bus')
    vols = s.get('volumes', [])
    keyvols = [v for v in vols if '/deploy/docker/keys/' in v.get('source', '')]
    check(keyvols and all(v.get('read_only') for v in keyvols), n + ': keys and passwords are mounted read-only')
    check(s.get('read_only') is True and 'ALL' in (s.get('cap_drop') or []), n + ': read-only root, no capabilities')
# Every file compose mounts from deploy/docker/keys is one make-keys.sh makes.
missing = []
for n, s in svcs.items():
    for v in s.get('volumes', []):
        src = v.get('source', '')
        k = os.path.join(root, 'deploy/docker/keys')
        if src.startswith(k + '/'):
            if not os.path.exists(os.path.join(keys, src[len(k) + 1:])):
                missing.append(n + ':' + src)
check(not missing, 'make-keys.sh makes every key file compose mounts', ' '.join(missing))
redis = svcs['redis']
check(any('redis.conf' in x for x in redis.get('command', [])), 'Redis runs with the config that holds requirepass')
pg = svcs['postgres']
check(any(v.get('target') == '/docker-entrypoint-initdb.d' for v in pg.get('volumes', [])), 'PostgreSQL runs deploy/docker/initdb on first start')
check(pg['image'].startswith('postgres:15') and redis['image'].startswith('redis:7'), 'PostgreSQL 15 and Redis 7')
" "$work/compose.yml" "$root" "$keys"
    tap_ok "the Redis config made by make-keys.sh sets requirepass to redis.pass" \
        grep -qx "requirepass $(head -n 1 "$keys/redis/redis.pass")" "$keys/redis/redis.conf"
fi

# ---------------------------------------------------------------- compose's database init, live
# deploy/docker/initdb/10-kontor.sh as the postgres image runs it (as the
# postgres user, over the socket), in a private cluster: roles and schemas
# from roles.sql.sh, the superuser off TCP, and idempotent.
pg_data=$work/pg/data
kl_pg_init "$pg_data" "$work/pg/run" "$work/pg.log"
kl_free_port pg_port
kl_pg_conf "$pg_data" "$work/pg/run" "$pg_port" off
kl_pg_start "$pg_data" "$work/pg.log" || tap_bail "private PostgreSQL did not start"
chown "$(kl_pg_user)" "$keys/db/pgpass"
init_run() {
    kl_as_pg env PGHOST="$work/pg/run" PGPORT="$pg_port" POSTGRES_USER=postgres POSTGRES_DB=kontor \
        KONTOR_PGPASS="$keys/db/pgpass" KONTOR_ROLES_SQL="$root/deploy/local/roles.sql.sh" \
        bash "$root/deploy/docker/initdb/10-kontor.sh"
}
kl_grant_traverse "$root/deploy"
tap_ok "the compose init script makes the roles and schemas" init_run
tap_ok "the compose init script runs again without error" init_run
pgsu() { kl_psql "$work/pg/run" "$pg_port" kontor "$@"; }
tap_is "$(pgsu -tA -c "SELECT string_agg(nspname || '=' || pg_get_userbyid(nspowner), ' ' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('clients','orders','logistics','receivables')")" \
    "clients=kontor_clients logistics=kontor_logistics orders=kontor_orders receivables=kontor_receivables" \
    "each service schema belongs to its role"
sed "s/^postgres:5432:/127.0.0.1:$pg_port:/" "$keys/db/orders.pgpass" >"$work/orders.pgpass"
chmod 0600 "$work/orders.pgpass"
tap_is "$(PGPASSFILE=$work/orders.pgpass psql -X -w -h 127.0.0.1 -p "$pg_port" -U kontor_orders -d kontor -tA -c 'SELECT current_user' 2>&1)" \
    kontor_orders "a service logs in with the password make-keys.sh gave it"
tap_like "$(psql -X -w -h 127.0.0.1 -p "$pg_port" -U postgres -d kontor -c 'SELECT 1' 2>&1 || true)" \
    "rejects connection|password authentication failed|no password supplied" "the superuser cannot log in over TCP"
tap_is "$(grep -c '^host all postgres all reject$' "$pg_data/pg_hba.conf")" 1 "the pg_hba rule is added once"
kl_pg_stop "$pg_data" || true
pg_data=""

# ---------------------------------------------------------------- Kubernetes
py_checks "Kubernetes checks" "$PY_LIB
docs = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.yaml'))):
    docs += [(os.path.basename(f), d) for d in load_all(f)]
by = lambda kind: [(f, d) for f, d in docs if d.get('kind') == kind]
check(any(d['metadata']['name'] == 'kontor' for f, d in by('Namespace')), 'the namespace kontor is declared')
check(all(d['metadata'].get('namespace') == 'kontor' for f, d in docs if d['kind'] != 'Namespace'),
      'every object lives in namespace kontor')
cm = {d['metadata']['name']: d['data'] for f, d in by('ConfigMap')}
deps = by('Deployment'); services = by('Service')
procs = {'bus', 'clients', 'orders', 'logistics', 'receivables'}
cmds = {}
for f, d in deps:
    name = d['metadata']['name']; spec = d['spec']; pod = spec['template']; labels = pod['metadata']['labels']
    check(all(labels.get(k) == v for k, v in spec['selector']['matchLabels'].items()), name + ': its selector matches its pod labels')
    podspec = pod['spec']
    check(podspec.get('enableServiceLinks') is False, name + ': no Service link variables (they would set KONTOR_*_PORT)')
    sc = podspec.get('securityContext', {})
    check(sc.get('runAsNonRoot') is True and sc.get('runAsUser') == 10001, name + ': runs as the image user 10001, not root')
    for c in podspec['containers']:
        cname = name + '/' + c['name']
        cmds[c['command'][0]] = name
        ports = {p.get('name') for p in c.get('ports', [])} | {p['containerPort'] for p in c.get('ports', [])}
        for probe, path in (('readinessProbe', '/readyz'), ('livenessProbe', '/healthz')):
            pr = c.get(probe, {}).get('httpGet', {})
            check(pr.get('path') == path, cname + ': ' + probe + ' is GET ' + path, str(c.get(probe)))
            check(pr.get('port') in ports, cname + ': ' + probe + ' points at a declared containerPort', str(pr.get('port')) + ' not in ' + str(ports))
        res = c.get('resources', {})
        check(all(res.get(k, {}).get(r) for k in ('requests', 'limits') for r in ('cpu', 'memory')),
              cname + ': cpu and memory requests and limits', str(res))
        env = {}
        for ef in c.get('envFrom', []):
            env.update(cm.get(ef.get('configMapRef', {}).get('name'), {}))
        env.update({e['name']: e.get('value') for e in c.get('env', [])})
        check(env.get('KONTOR_HTTP_HOST') == '0.0.0.0', cname + ': KONTOR_HTTP_HOST is 0.0.0.0 (probes come from outside the pod)')
        check(str(env.get('KONTOR_HTTP_PORT')) in {str(p) for p in ports}, cname + ': KONTOR_HTTP_PORT is a declared containerPort')
        want = 'tcp://*:' if c['command'][0] == 'kontor-bus' else 'tcp://kontor-bus:'
        check(all(str(env.get(k, '')).startswith(want) for k in ('KONTOR_BUS', 'KONTOR_EVENTS_IN', 'KONTOR_EVENTS_OUT')),
              cname + ': bus addresses ' + want + 'PORT')
        sec = c.get('securityContext', {})
        check(sec.get('readOnlyRootFilesystem') is True and sec.get('allowPrivilegeEscalation') is False,
              cname + ': read-only root, no privilege escalation')
    matching = [s for f, s in services if s['spec'].get('selector') and all(labels.get(k) == v for k, v in s['spec']['selector'].items())]
    check(matching, name + ': a Service selects its pods')
    for s in matching:
        cports = set()
        for c in podspec['containers']:
            cports |= {p.get('name') for p in c.get('ports', [])} | {p['containerPort'] for p in c.get('ports', [])}
        check(all(p.get('targetPort', p['port']) in cports for p in s['spec']['ports']),
              name + ': Service ' + s['metadata']['name'] + ' targets declared containerPorts')
check(sorted(cmds) == sorted('kontor-' + p for p in procs), 'a Deployment per Kontor process', str(sorted(cmds)))
hpas = by('HorizontalPodAutoscaler')
check(any(h['spec']['scaleTargetRef'] == {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': cmds.get('kontor-orders')} for f, h in hpas),
      'the HorizontalPodAutoscaler targets the orders Deployment')
pdbs = by('PodDisruptionBudget')
def selects(sel, d):
    return all(d['spec']['template']['metadata']['labels'].get(k) == v for k, v in sel.items())
bus = [d for f, d in deps if d['metadata']['name'] == cmds.get('kontor-bus')]
check(any(bus and selects(p['spec']['selector']['matchLabels'], bus[0]) and
          not any(selects(p['spec']['selector']['matchLabels'], d) for f, d in deps if d is not bus[0]) for f, p in pdbs),
      'the PodDisruptionBudget selects the bus and nothing else')
check(bus and bus[0]['spec']['replicas'] == 1 and bus[0]['spec']['strategy']['type'] == 'Recreate',
      'one bus, replaced with Recreate (never two at once)')
" "$root/deploy/kubernetes"

# ---------------------------------------------------------------- systemd
for u in kontor-bus.service kontor@.service; do
    f=deploy/systemd/$u
    missing=""
    for k in 'User=kontor' 'Restart=on-failure' 'EnvironmentFile=/etc/kontor/kontor.env' 'NoNewPrivileges=yes' \
        'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=' 'AmbientCapabilities=' \
        'ReadOnlyPaths=/etc/kontor' 'PrivateDevices=yes' 'RestrictSUIDSGID=yes' 'SystemCallFilter=@system-service'; do
        grep -qx -- "$k" "$f" || missing+=" $k"
    done
    tap_is "${missing:-none}" none "$u has the hardening keys"
done

build_dir=$(dirname "$bin")
stage=$work/stage
tap_ok "install.sh --dry-run says what it would do" bash deploy/systemd/install.sh --dry-run --destdir "$stage" "$build_dir"
tap_ok "install.sh --dry-run changes nothing" test ! -e "$stage"
tap_ok "install.sh stages the binaries, units, keys and passwords" \
    bash deploy/systemd/install.sh --destdir "$stage" "$build_dir"
again=$(bash deploy/systemd/install.sh --destdir "$stage" "$build_dir" 2>&1)
tap_is "$(grep -v 'staged under' <<<"$again" || true)" "" "a second install.sh run changes nothing"
tap_is "$(stat -c '%a %n' "$stage"/etc/kontor/keys/secret/*.secret "$stage"/etc/kontor/db/* "$stage"/etc/kontor/redis.pass | awk '{print $1}' | sort -u)" \
    600 "install.sh leaves every secret key and password 0600"
tap_is "$(stat -c %a "$stage/etc/kontor" "$stage/etc/kontor/kontor.env" | paste -sd' ' -)" "750 640" \
    "/etc/kontor and kontor.env are closed to others"
tap_is "$(wc -l <"$stage/etc/kontor/db/orders.pgpass") $(cut -d: -f4 "$stage/etc/kontor/db/orders.pgpass")" "1 kontor_orders" \
    "a service's passfile holds its own role only"
if command -v systemd-analyze >/dev/null; then
    # Verified inside the staged root, with the distribution's own units beside ours.
    mkdir -p "$stage/lib/systemd"
    cp -a /lib/systemd/system "$stage/lib/systemd/"
    out=$(systemd-analyze verify --root="$stage" --man=no kontor-bus.service kontor@orders.service kontor.target 2>&1) && rc=0 || rc=$?
    if [ "$rc" -eq 0 ] && ! grep -qiE 'unknown|invalid|failed|not executable|ignoring' <<<"$out"; then
        tap_pass "systemd-analyze verify accepts the units"
    else
        tap_fail "systemd-analyze verify accepts the units" "$out"
    fi
else
    tap_skip "systemd-analyze verify accepts the units" "systemd-analyze is not installed"
fi

# ---------------------------------------------------------------- Prometheus
if command -v promtool >/dev/null; then
    tap_ok "promtool accepts the alert rules" promtool check rules deploy/prometheus/kontor-alerts.yml
    tap_ok "promtool accepts the scrape configuration" promtool check config deploy/prometheus/prometheus.yml
else
    tap_skip "promtool accepts the alert rules" "promtool is not installed (Debian package prometheus)"
fi
py_checks "alert checks" "$PY_LIB
rules = [r for g in yaml.safe_load(open(sys.argv[1]))['groups'] for r in g['rules']]
ops = open(sys.argv[2]).read()
src = ''
for f in glob.glob(sys.argv[3] + '/common/*.c') + glob.glob(sys.argv[3] + '/services/*/*.c'):
    src += open(f).read()
rendered = {'up', 'process_start_time_seconds', 'process_cpu_seconds_total', 'process_resident_memory_bytes'}
for r in rules:
    a = r['alert']
    check(re.search(r'^#+ ' + re.escape(a) + r'\s*$', ops, re.M), a + ': docs/operations.md says what it means and what to do')
    names = set(re.findall(r'\b([a-z_]+?)(?:_bucket|_count|_sum)?\{', r['expr']))
    unknown = sorted(n for n in names if n not in rendered and '\"' + n + '\"' not in src)
    check(not unknown, a + ': uses only metrics the code exports', ' '.join(unknown))
" deploy/prometheus/kontor-alerts.yml docs/operations.md "$root"

# ---------------------------------------------------------------- shell
if command -v shellcheck >/dev/null; then
    tap_ok "shellcheck passes on the deployment scripts" shellcheck -x deploy/systemd/install.sh \
        deploy/docker/make-keys.sh deploy/docker/initdb/10-kontor.sh deploy/docker/check-image.sh deploy/docker/compose-check.sh \
        deploy/docker/standin/postgres-entrypoint.sh \
        tests/integration/deploy_check.sh \
        tests/integration/backup_restore.sh
else
    tap_skip "shellcheck passes on the deployment scripts" "shellcheck is not installed"
fi
tap_done
