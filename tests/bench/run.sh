#!/usr/bin/env bash
# run.sh - Kontor's benchmarks (`make bench`): a private set in a temp folder,
# every benchmark section against it, and the figures side by side with the
# machine they were measured on.
#
#   tests/bench/run.sh BUILD_DIR
#
# The set is made the way tests/run.sh makes its servers (kontor-lib.sh and
# roles.sql.sh), on free loopback ports, so it never meets a `make up` set or
# a test run: one PostgreSQL cluster (fsync on, as `make up` runs it), one
# Redis, keys for the processes, the bus and the services a section asks for
# (need_procs). Every process is stopped by its pid at the end, whatever
# happened. Figures are reported, never judged: the exit status is non-zero
# only if a run failed (did not finish, a process would not start or died).
#
# Output: the table on stdout and in build/bench/report.txt; per section a
# JSON file, build/bench/<section>.json, holding the machine and every run.
#
# Environment:
#   KT_BENCH_ONLY=REGEX     run only the sections whose name matches (events)
#   KT_BENCH_SCALE=PERCENT  scale every run's size (default 100; 10 for a smoke run)
#   KT_BENCH_FSYNC=on|off   the cluster's fsync (default on)
#   KT_BENCH_EVENTS_RUNS='LABEL P B N R;...'  the events runs instead of EVENTS_RUNS
#   KT_BENCH_TERMINALS='1 8 32'  tpcc: terminal counts (and pgbench clients)
#   KT_BENCH_SECONDS=20     tpcc: measured seconds per run (scaled by KT_BENCH_SCALE)
#   KT_BENCH_WARMUP=5       tpcc: warm-up seconds before each run
#   KT_BENCH_TPCC_RUNS='ref-uniform kontor-uniform ref-hot kontor-hot kontor-mix'
#                           tpcc: which runs, in this order, at each terminal count
#   KT_BENCH_WORKERS='orders=16 logistics=4 receivables=4 clients=2'
#                           worker threads per service (KONTOR_WORKERS of each; the default)
#   KT_BENCH_PROFILE=1      tpcc: also sample wait events during Kontor's runs
#   KT_TIMEOUT=SECONDS      per run (default 300)
#   KT_KEEP=1               keep the temp folder (logs, data) even on success
#
# Adding a section: write section_<name> (it calls need_procs, checks
# procs_alive before each run, runs its program with proc_env's environment
# in the background and waits for it (run_pid, so a signal stops it), prints
# its rows with say, writes build/bench/<name>.json, and returns the number
# of failed runs) and add <name> to SECTIONS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
KL_PROG=bench
# shellcheck source=deploy/local/kontor-lib.sh
. "$root/deploy/local/kontor-lib.sh"

SECTIONS=(events tpcc)

[ $# -eq 1 ] || kl_die "usage: tests/bench/run.sh BUILD_DIR"
[ -d "$1" ] || kl_die "no build folder: $1"
build=$(cd "$1" && pwd)
only=${KT_BENCH_ONLY:-}
scale=${KT_BENCH_SCALE:-100}
if ! [[ $scale =~ ^[0-9]+$ ]] || [ "$scale" -lt 1 ] || [ "$scale" -gt 1000 ]; then
    kl_die "KT_BENCH_SCALE must be a percentage from 1 to 1000: $scale"
fi
fsync=${KT_BENCH_FSYNC:-on}
# Worker threads per service (proc_env): orders' workers wait on their calls
# out, so it has as many as the 8-terminal runs keep busy and more.
KT_BENCH_WORKERS=${KT_BENCH_WORKERS:-orders=16 logistics=4 receivables=4 clients=2}
case "$fsync" in on | off) ;; *) kl_die "KT_BENCH_FSYNC must be on or off: $fsync" ;; esac
timeout_s=${KT_TIMEOUT:-300}
if ! [[ $timeout_s =~ ^[0-9]+$ ]] || [ "$timeout_s" -lt 1 ]; then
    kl_die "KT_TIMEOUT must be a number of seconds: $timeout_s"
fi
command -v curl >/dev/null || kl_die "curl not found; run make deps"

out=$root/build/bench
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kontor-bench.XXXXXX")
chmod 0711 "$tmp" # the postgres user must traverse it to its data folder
logs=$tmp/logs
set_home=$tmp/set
mkdir -p "$logs" "$set_home/keys"
report=$out/report.txt
: >"$report"

pg_data=""
pg_run=$tmp/pg/run
pg_port=""
pg_db=kontor
redis_pid=""
redis_port=""
redis_pass=""
declare -A proc_pids=()
proc_order=()
failed=0
cleaned=0
run_pid="" # the benchmark program running now (under timeout), if any

say() { printf '%s\n' "$*" | tee -a "$report"; }

# ---------------------------------------------------------------- cleanup

cleanup() {
    [ "$cleaned" = 0 ] || return 0
    cleaned=1
    local i name pid f strays=""
    # A run in progress (a signal came while waiting for it): timeout passes
    # SIGTERM on to the program, which stops at once.
    [ -z "$run_pid" ] || kl_stop_pid "$run_pid" timeout TERM 15 || true
    # Services first, the bus last, as in production.
    for ((i = ${#proc_order[@]} - 1; i >= 0; i--)); do
        name=${proc_order[i]}
        [ "$name" != bus ] || continue
        kl_stop_pid "${proc_pids[$name]}" "kontor-$name" TERM 15 || true
    done
    [ -z "${proc_pids[bus]:-}" ] || kl_stop_pid "${proc_pids[bus]}" kontor-bus TERM 15 || true
    [ -z "$redis_pid" ] || kl_stop_pid "$redis_pid" redis-server TERM 15 || true
    if [ -n "$pg_data" ]; then
        kl_pg_stop "$pg_data" || kl_say "PostgreSQL in $pg_data did not stop"
    fi
    # Anything else that carries the set's folder in its environment is ours.
    while IFS= read -r f; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        if [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; then continue; fi
        name=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        kl_stop_pid "$pid" "$name" TERM 5 >/dev/null 2>&1 || true
        strays+=" $name($pid)"
    done < <(grep -laF -- "$set_home/" /proc/[0-9]*/environ 2>/dev/null)
    [ -z "$strays" ] || kl_say "stopped processes left running:$strays"
    if [ "${KT_KEEP:-0}" = 1 ] || [ "$failed" -gt 0 ]; then
        kl_say "logs kept in $logs"
    else
        rm -rf "$tmp"
    fi
}
on_exit() {
    local rc=$?
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
    cleanup
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the set

start_pg() {
    local tries
    pg_data=$tmp/pg/data
    kl_pg_init "$pg_data" "$pg_run" "$logs/postgres.log"
    # The benchmark's own settings, on top of the set's (kontor.conf):
    # statement statistics for the analysis (docs/performance.md), and the
    # reference's shared_buffers; WAL sized so that no checkpoint is forced
    # by volume in the middle of a run (for both sides alike).
    echo "include_if_exists = 'bench.conf'" >>"$pg_data/postgresql.conf"
    cat >"$pg_data/bench.conf" <<'CONF'
# Written by tests/bench/run.sh.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 2000
pg_stat_statements.track = top
pg_stat_statements.track_planning = on
track_io_timing = on
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
    chown "$(kl_pg_user)" "$pg_data/bench.conf"
    for tries in 1 2 3; do
        kl_free_port pg_port
        kl_pg_conf "$pg_data" "$pg_run" "$pg_port" "$fsync"
        kl_pg_start "$pg_data" "$logs/postgres.log" && break
        [ "$tries" -lt 3 ] || kl_die "PostgreSQL did not start; log: $logs/postgres.log"
    done
    (umask 077 && bash "$root/deploy/local/roles.sql.sh" passfile 127.0.0.1 "$pg_port" "$pg_db" >"$tmp/pgpass")
    kl_psql "$pg_run" "$pg_port" postgres -c "CREATE DATABASE $pg_db"
    bash "$root/deploy/local/roles.sql.sh" roles "$tmp/pgpass" | kl_psql "$pg_run" "$pg_port" postgres -f -
    bash "$root/deploy/local/roles.sql.sh" schemas | kl_psql "$pg_run" "$pg_port" "$pg_db" -f -
}

start_redis() {
    local tries
    mkdir -p "$tmp/redis"
    chmod 0700 "$tmp/redis"
    redis_pass=$(kl_secret)
    for tries in 1 2 3; do
        kl_free_port redis_port
        kl_redis_conf "$tmp/redis/redis.conf" "$redis_port" "$redis_pass" "$tmp/redis" \
            "$tmp/redis/redis.pid" "$logs/redis.log"
        if kl_redis_start "$tmp/redis/redis.conf" "$redis_port" "$redis_pass" \
            "$tmp/redis/redis.pid" "$logs/redis.log"; then
            redis_pid=$(cat "$tmp/redis/redis.pid")
            return 0
        fi
        [ "$tries" -lt 3 ] || kl_die "Redis did not start; log: $logs/redis.log"
    done
}

# Keys for the bus and every service (the principals the sections act as).
make_keys() {
    local name
    mkdir -p "$set_home/keys/allow" "$set_home/keys/secret"
    chmod 0700 "$set_home/keys/secret"
    for name in bus $(bash "$root/deploy/local/roles.sql.sh" services); do
        "$build/bin/kontor-keygen" --public "$set_home/keys/allow" --secret "$set_home/keys/secret" \
            "$name" service >>"$logs/keygen.log" 2>&1 ||
            kl_die "kontor-keygen failed for $name (log: $logs/keygen.log)"
    done
}

kl_free_port bus_port
kl_free_port events_in_port
kl_free_port events_out_port

# service_dsn NAME: what service NAME's process gets as KONTOR_PG_DSN.
service_dsn() {
    printf 'host=127.0.0.1 port=%s dbname=%s user=kontor_%s passfile=%s connect_timeout=5 application_name=%s' \
        "$pg_port" "$pg_db" "$1" "$tmp/pgpass" "${2:-kontor-$1}"
}

# proc_env NAME HTTP_PORT: PROC_ENV, the environment of a process acting as
# NAME (the bus or a service), and nothing from this shell besides.
proc_env() {
    local name=$1 http=$2 v
    PROC_ENV=(
        "PATH=/usr/local/bin:/usr/bin:/bin"
        "KONTOR_HOME=$set_home"
        "KONTOR_BUS=tcp://127.0.0.1:$bus_port"
        "KONTOR_EVENTS_IN=tcp://127.0.0.1:$events_in_port"
        "KONTOR_EVENTS_OUT=tcp://127.0.0.1:$events_out_port"
        "KONTOR_KEYS=$set_home/keys/allow"
        "KONTOR_CERT=$set_home/keys/secret/$name.secret"
        "KONTOR_BUS_CERT=$set_home/keys/allow/bus.cert"
        "KONTOR_REDIS_HOST=127.0.0.1"
        "KONTOR_REDIS_PORT=$redis_port"
        "KONTOR_REDIS_PASSWORD=$redis_pass"
        "KONTOR_HTTP_PORT=$http"
        "KONTOR_LOG_LEVEL=${KONTOR_LOG_LEVEL:-info}"
    )
    case "$name" in
    bus | bench-*) ;;
    *) PROC_ENV+=("KONTOR_PG_DSN=$(service_dsn "$name")") ;;
    esac
    for v in TZ LANG LC_ALL KONTOR_WORKERS; do
        [ -z "${!v:-}" ] || PROC_ENV+=("$v=${!v}")
    done
    # Worker threads of this service, if KT_BENCH_WORKERS names it.
    local w
    for w in ${KT_BENCH_WORKERS:-}; do
        [ "${w%%=*}" != "$name" ] || PROC_ENV+=("KONTOR_WORKERS=${w#*=}")
    done
}

proc_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/readyz" 2>/dev/null; }
proc_ready_or_dead() { proc_ready "$1" || ! kl_is_proc "$2" "kontor-$3"; }

# need_procs NAME...: start each of the bus and services named that is not
# running yet, in order, and wait until it is ready.
need_procs() {
    local name http pid log
    for name in "$@"; do
        [ -z "${proc_pids[$name]:-}" ] || continue
        kl_free_port http
        proc_env "$name" "$http"
        log=$logs/$name.log
        # A simple command in the background: $! is the program's own pid
        # (the subshell execs env, which execs the program).
        env -i "${PROC_ENV[@]}" "$build/bin/kontor-$name" >>"$log" 2>&1 </dev/null &
        pid=$!
        proc_pids[$name]=$pid
        proc_order+=("$name")
        if ! kl_wait_until 30 proc_ready_or_dead "$http" "$pid" "$name" || ! proc_ready "$http"; then
            kl_say "kontor-$name (pid $pid) is not ready on port $http; last lines of $log:"
            tail -n 20 "$log" >&2 || true
            kl_die "stopping here"
        fi
    done
}

# procs_alive: 0 if every process started so far still runs; otherwise says
# which one is gone, with the end of its log, and returns 1. A section checks
# before each run, so a crashed bus fails the run at once instead of timing out.
declare -A proc_gone=()
procs_alive() {
    local name pid rc=0
    for name in "${proc_order[@]}"; do
        pid=${proc_pids[$name]}
        kl_is_proc "$pid" "kontor-$name" && continue
        rc=1
        [ -z "${proc_gone[$name]:-}" ] || continue
        proc_gone[$name]=1
        say "kontor-$name (pid $pid) is no longer running; last lines of its log:"
        tail -n 5 "$logs/$name.log" | sed 's/^/    | /' | tee -a "$report"
    done
    return "$rc"
}

# ---------------------------------------------------------------- report

json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=$(printf '%s' "$s" | tr -d '\000-\037')
    printf '"%s"' "$s"
}

machine() {
    m_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    m_host=$(uname -n)
    m_kernel=$(uname -sr)
    m_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    m_nproc=$(nproc)
    m_mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    m_pg=$("$(kl_pg_bindir)/postgres" --version)
    m_redis=$(redis-server --version | awk '{ print $3 }')
    m_redis=${m_redis#v=}
    m_zmq="libzmq $(pkg-config --modversion libzmq 2>/dev/null || echo '?'), czmq $(pkg-config --modversion libczmq 2>/dev/null || echo '?')"
    m_git=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
    [ -z "$(git -C "$root" status --porcelain 2>/dev/null | head -n 1)" ] || m_git+=" (with uncommitted changes)"
    m_load=$(cut -d' ' -f1-3 /proc/loadavg)
}

machine_json() {
    printf '{"date":%s,"host":%s,"kernel":%s,"cpu":%s,"nproc":%s,"memory":%s,' \
        "$(json_str "$m_date")" "$(json_str "$m_host")" "$(json_str "$m_kernel")" \
        "$(json_str "$m_cpu")" "$m_nproc" "$(json_str "$m_mem")"
    printf '"postgresql":%s,"redis":%s,"zeromq":%s,"git":%s,"build":%s,"fsync":%s,"loadavg_at_start":%s}' \
        "$(json_str "$m_pg")" "$(json_str "$m_redis")" "$(json_str "$m_zmq")" \
        "$(json_str "$m_git")" "$(json_str "${build#"$root"/}")" "$(json_str "$fsync")" \
        "$(json_str "$m_load")"
}

print_machine() {
    say "machine   $m_nproc cores ($m_cpu), $m_mem, $m_kernel, load at start $m_load"
    say "software  $m_pg, Redis $m_redis, $m_zmq"
    say "set       fsync=$fsync, build ${build#"$root"/}, git $m_git, $m_date"
}

# ---------------------------------------------------------------- sections

# The events pipeline: outbox -> relay (the orders process) -> bus ->
# kt_consumer (in kontor-bench-events, acting as the clients service, into
# schema bench).
# Each run: label, writers, events per transaction, events (at 100 %),
# offered rate (0 = as fast as the writers go). Sizes aim at 10-20 s a run
# on 2 shared cores.
# KT_BENCH_EVENTS_RUNS='label P B N R;...' replaces the list.
EVENTS_RUNS=(
    "1x1 1 1 15000 0"
    "4x10 4 10 100000 0"
    "4x100 4 100 160000 0"
    "4x10@2000/s 4 10 20000 2000"
)
if [ -n "${KT_BENCH_EVENTS_RUNS:-}" ]; then
    IFS=';' read -r -a EVENTS_RUNS <<<"$KT_BENCH_EVENTS_RUNS"
fi

# The consumer's own schema (kontor-bench-events explains why not clients'):
# an event_offsets table like the services', owned by the clients role. Made
# after the clients service has run its migrations.
make_bench_schema() {
    kl_psql "$pg_run" "$pg_port" "$pg_db" -f - <<'SQL'
CREATE SCHEMA IF NOT EXISTS bench AUTHORIZATION kontor_clients;
REVOKE ALL ON SCHEMA bench FROM PUBLIC;
CREATE TABLE IF NOT EXISTS bench.event_offsets (LIKE clients.event_offsets INCLUDING ALL);
ALTER TABLE bench.event_offsets OWNER TO kontor_clients;
SQL
}

section_events() {
    local line label writers batch events rate n rc bad=0 header_done=0 file json files=()
    need_procs bus orders clients
    make_bench_schema
    mkdir -p "$out/events"
    rm -f "$out/events/"*.json
    say ""
    say "== events: outbox -> relay -> bus -> consumer (orders -> bench, as clients)"
    for line in "${EVENTS_RUNS[@]}"; do
        read -r label writers batch events rate <<<"$line"
        n=$((events * scale / 100))
        [ "$n" -ge "$writers" ] || n=$writers
        file=events-$(printf '%s' "$label" | tr -c 'A-Za-z0-9._-' '_')
        json=$out/events/$file.json
        proc_env clients 0
        if ! procs_alive; then
            bad=$((bad + 1))
            say "$(printf '%-22s FAILED: the set is broken' "$label")"
            continue
        fi
        # In the background and waited for, so that a signal to this script
        # (^C, SIGTERM) is handled at once, not after the run.
        rc=0
        timeout -k 10 "$timeout_s" env -i "${PROC_ENV[@]}" "$build/bin/kontor-bench-events" \
            --label "$label" --writers "$writers" --batch "$batch" --events "$n" --rate "$rate" \
            --as clients --schema bench --timeout "$timeout_s" --json "$json" \
            "$(service_dsn orders kontor-bench-events)" \
            >"$logs/$file.out" 2>"$logs/$file.log" </dev/null &
        run_pid=$!
        wait "$run_pid" || rc=$?
        run_pid=""
        if [ "$rc" -ne 0 ]; then
            bad=$((bad + 1))
            say "$(printf '%-22s FAILED (exit %s); last lines of its log:' "$label" "$rc")"
            tail -n 10 "$logs/$file.log" | sed 's/^/    | /' | tee -a "$report"
            continue
        fi
        if [ "$header_done" = 0 ]; then
            say "$(head -n 1 "$logs/$file.out")"
            header_done=1
        fi
        say "$(tail -n 1 "$logs/$file.out")"
        files+=("$json")
    done
    {
        printf '{"benchmark":"events","machine":%s,"runs":[' "$(machine_json)"
        local first=1 f
        for f in "${files[@]}"; do
            [ "$first" = 1 ] || printf ','
            first=0
            cat "$f"
        done
        printf ']}\n'
    } >"$out/events.json"
    say "(lag in ms from the INSERT being sent to the consumer's handler; gaps: live-stream"
    say " gaps the consumer filled through EventsSince; JSON: build/bench/events.json)"
    return "$bad"
}

# ---------------------------------------------------------------- tpcc

# The TPC-C-like workload (tools/kontor-bench) against the monolith reference
# (tests/bench/monolith: one stored procedure, pgbench), on the same cluster
# and the same data, run after run: for each terminal count, the runs named
# in TPCC_RUNS, in that order, so that both sides meet the same neighbours.
# After every Kontor run the auditor (tools/kontor-audit) checks the set and
# the reference's check.sql checks its database; a failed check fails the run.
TPCC_TERMINALS=(${KT_BENCH_TERMINALS:-1 8 32})
TPCC_RUNS=(${KT_BENCH_TPCC_RUNS:-ref-uniform kontor-uniform ref-hot kontor-hot kontor-mix})
TPCC_SHAPE=(--clients 10000 --skus 100000 --managers 32)
tpcc_seconds=${KT_BENCH_SECONDS:-20}
tpcc_warmup=${KT_BENCH_WARMUP:-5}
mono_dir=$here/monolith
mono_db=monolith
mono_role=bench_monolith

admin_dsn() { printf 'host=%s port=%s dbname=%s user=postgres' "$pg_run" "$pg_port" "${1:-$pg_db}"; }

mono_psql() {
    PGPASSFILE=$tmp/pgpass PGAPPNAME=bench-monolith PGOPTIONS="-c client_min_messages=warning" \
        "$(kl_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" \
        -U "$mono_role" -d "$mono_db" "$@"
}

# The reference in its own database, loaded by its own scripts, as a role
# of its own that logs in over TCP with a password like the services do.
tpcc_reference_setup() {
    local pw
    pw=$(kl_secret)
    kl_psql "$pg_run" "$pg_port" postgres \
        -c "CREATE ROLE $mono_role LOGIN PASSWORD '$pw'" \
        -c "CREATE DATABASE $mono_db OWNER $mono_role"
    printf '127.0.0.1:%s:%s:%s:%s\n' "$pg_port" "$mono_db" "$mono_role" "$pw" >>"$tmp/pgpass"
    kl_psql "$pg_run" "$pg_port" "$mono_db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    mono_psql -f "$mono_dir/schema.sql" -f "$mono_dir/load.sql" -f "$mono_dir/place_order.sql" \
        >"$logs/monolith-load.log" 2>&1 || { tail -n 5 "$logs/monolith-load.log" >&2; return 1; }
}

# The Kontor set: the bench principals' keys, every service, the data.
tpcc_kontor_setup() {
    local k name
    for ((k = 1; k <= 32; k++)); do
        "$build/bin/kontor-keygen" --public "$set_home/keys/allow" --secret "$set_home/keys/secret" \
            "bench-manager-$k" manager "$((1000 + k))" >>"$logs/keygen.log" 2>&1 || return 1
    done
    "$build/bin/kontor-keygen" --public "$set_home/keys/allow" --secret "$set_home/keys/secret" \
        bench-accountant accountant >>"$logs/keygen.log" 2>&1 || return 1
    "$build/bin/kontor-keygen" --public "$set_home/keys/allow" --secret "$set_home/keys/secret" \
        bench-wms logistics-system >>"$logs/keygen.log" 2>&1 || return 1
    need_procs bus clients orders logistics receivables
    kl_psql "$pg_run" "$pg_port" "$pg_db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    proc_env bench-wms 0
    if ! timeout -k 10 "$timeout_s" env -i "${PROC_ENV[@]}" "$build/bin/kontor-bench" load \
        "${TPCC_SHAPE[@]}" "$(admin_dsn)" >"$logs/tpcc-load.out" 2>"$logs/tpcc-load.log"; then
        say "tpcc: loading Kontor's data failed; last lines of its log:"
        tail -n 10 "$logs/tpcc-load.log" | sed 's/^/    | /' | tee -a "$report"
        return 1
    fi
    # The same data as the reference's: compare the checksums.
    local kontor ref
    kontor=$(awk '{ print $4, $6 }' "$logs/tpcc-load.out")
    ref=$(mono_psql -At -F ' ' -c "SELECT sum(price1), sum(on_hand) FROM ws.products JOIN ws.stock USING (sku)")
    say "tpcc: data loaded; base prices and stock sums: Kontor $kontor, reference $ref"
    # The loaded tables vacuumed (and analysed: the loader did, load.sql
    # did) before the first run, so that autovacuum's first pass over them
    # does not land in a run. Not the empty ones: statistics saying
    # "empty" would give the services' long-lived sessions cached plans
    # that scan (an order's foreign-key checks, a consumer's lookups) and
    # grow slower with every order until autovacuum analyses the table
    # again (docs/performance.md).
    kl_psql "$pg_run" "$pg_port" "$pg_db" -c "VACUUM clients.clients, clients.terms,
        clients.assignments, orders.client_terms, orders.prices, logistics.products,
        logistics.stock, logistics.stock_moves, receivables.accounts" >/dev/null
    kl_psql "$pg_run" "$pg_port" "$mono_db" -c "VACUUM ws.clients, ws.client_exposure,
        ws.products, ws.stock" >/dev/null
    [ "$kontor" = "$ref" ] || say "tpcc: WARNING: the data differ from the reference's"
    tpcc_procs=()
    for name in bus clients orders logistics receivables; do
        tpcc_procs+=(--proc "$name=${proc_pids[$name]}")
    done
    tpcc_procs+=(--proc "redis=$redis_pid" --pg-postmaster "$(kl_pg_pid "$pg_data")")
}

# tpcc_ref LABEL uniform|hot N: one reference run. Sets TPCC_R (per s, p50,
# p99, max, accepted, refused) and TPCC_OK.
tpcc_ref() {
    local label=$1 mix=$2 n=$3 j rc=0 lat cnt p50 p99 p95 max tps consistent accepted calls
    j=$((n < 2 ? 1 : 2))
    mkdir -p "$tmp/pgb"
    rm -f "$tmp/pgb/$label".*
    mono_psql -f "$mono_dir/reset.sql"
    kl_psql "$pg_run" "$pg_port" "$mono_db" -c CHECKPOINT -c "SELECT pg_stat_statements_reset()" >/dev/null
    local pgb=(pgbench -n -M prepared -f "$mono_dir/order_$mix.pgb" -c "$n" -j "$j"
        -h 127.0.0.1 -p "$pg_port" -U "$mono_role" "$mono_db")
    if [ "$tpcc_warmup" -gt 0 ]; then
        PGPASSFILE=$tmp/pgpass timeout -k 10 "$timeout_s" "${pgb[@]}" -T "$tpcc_warmup" \
            >"$logs/$label-warmup.out" 2>&1 || rc=$?
    fi
    local before=0
    before=$(mono_psql -At -c "SELECT count(*) FROM ws.orders")
    if [ "$rc" -eq 0 ]; then
        PGPASSFILE=$tmp/pgpass timeout -k 10 "$timeout_s" "$build/bin/kontor-bench" exec \
            --label "$label" --pg-postmaster "$(kl_pg_pid "$pg_data")" \
            --json "$out/tpcc/$label-cpu.json" -- \
            "${pgb[@]}" -T "$tpcc_seconds" -l --log-prefix="$tmp/pgb/$label" \
            >"$logs/$label.out" 2>"$logs/$label.log" </dev/null &
        run_pid=$!
        wait "$run_pid" || rc=$?
        run_pid=""
    fi
    TPCC_OK=1
    if [ "$rc" -ne 0 ]; then
        say "$(printf '%-22s FAILED (pgbench exit %s); last lines:' "$label" "$rc")"
        tail -n 10 "$logs/$label.log" "$logs/$label.out" 2>/dev/null | sed 's/^/    | /' | tee -a "$report"
        TPCC_OK=0
        TPCC_R=(0 0 0 0 0 0 0 -)
        return 1
    fi
    # Latency (microseconds, 3rd column of pgbench's per-transaction log).
    lat=$tmp/pgb/$label.lat
    cat "$tmp/pgb/$label".[0-9]* | awk '{ print $3 }' | sort -n >"$lat"
    cnt=$(wc -l <"$lat")
    rank() { awk -v n="$cnt" -v q="$1" 'BEGIN { r = int(q * n); if (r < q * n) r++; if (r < 1) r = 1 } NR == r { printf "%.3f", $1 / 1000; exit }' "$lat"; }
    p50=$(rank 0.50)
    p95=$(rank 0.95)
    p99=$(rank 0.99)
    max=$(tail -n 1 "$lat" | awk '{ printf "%.3f", $1 / 1000 }')
    tps=$(awk '/^tps = / { printf "%.2f", $3; exit }' "$logs/$label.out")
    calls=$(awk '/number of transactions actually processed/ { print $NF; exit }' "$logs/$label.out")
    # check.sql: reservations = ordered quantities, exposure = order totals.
    read -r accepted consistent < <(mono_psql -At -F ' ' -f "$mono_dir/check.sql" | awk '{ print $1, $3 }')
    [ "$consistent" = t ] || TPCC_OK=0
    accepted=$((accepted - before))
    # CPU per order: PostgreSQL (every backend) and pgbench, in ms.
    local cpu_ms
    cpu_ms=$(sed -n 's/.*"cpu_s":\([0-9.]*\).*"cpu_s":\([0-9.]*\).*/\1 \2/p' "$out/tpcc/$label-cpu.json" |
        awk -v n="$calls" '{ if (n > 0) printf "%.2f", ($1 + $2) * 1000 / n; else print "-" }')
    TPCC_R=("$tps" "$p50" "$p99" "$max" "$accepted" "$((calls - accepted))" "$p95" "$cpu_ms")
    {
        printf '{"label":"%s","side":"reference","terminals":%s,"skus":"%s","seconds":%s,' \
            "$label" "$n" "$mix" "$tpcc_seconds"
        printf '"transactions":{"PlaceOrder":{"done":%s,"per_s":%s,"accepted":%s,"refused":%s,' \
            "$calls" "$tps" "$accepted" "$((calls - accepted))"
        printf '"p50_ms":%s,"p95_ms":%s,"p99_ms":%s,"max_ms":%s}},"consistent":%s,"cpu":' \
            "$p50" "$p95" "$p99" "$max" "$([ "$consistent" = t ] && echo true || echo false)"
        cat "$out/tpcc/$label-cpu.json"
        printf '}\n'
    } >"$out/tpcc/$label.json"
    say "$(printf '%-22s reference: %s orders/s (%s placed, %s refused), p50 %s ms, p95 %s ms, p99 %s ms, max %s ms; check.sql consistent=%s' \
        "$label" "$tps" "$accepted" "$((calls - accepted))" "$p50" "$p95" "$p99" "$max" "$consistent")"
    say "$(printf '%-22s   cpu s (cores): %s' "" "$(tpcc_cpu_line "$out/tpcc/$label-cpu.json")")"
    return $((1 - TPCC_OK))
}

# "postgresql 31.61 (1.58), pgbench 1.47 (0.07)" from kontor-bench exec's JSON.
tpcc_cpu_line() {
    sed -e 's/.*"processes":{//' -e 's/}}}$//' "$1" | tr '}' '\n' |
        sed -n 's/^,\{0,1\}"\([^"]*\)":{.*"cpu_s":\([0-9.]*\),"cores":\([0-9.]*\).*/\1 \2 (\3)/p' |
        paste -sd, - | sed 's/,/, /g'
}

# tpcc_kontor LABEL orders|tpcc uniform|hot N: one Kontor run, then the
# audit. Sets TPCC_K (PlaceOrder per s, p50, p99, max) and TPCC_OK.
tpcc_kontor() {
    local label=$1 mix=$2 skus=$3 n=$4 rc=0 hot=() line
    [ "$skus" = hot ] && hot=(--hot)
    TPCC_OK=1
    TPCC_K=(0 0 0 0 -)
    if ! procs_alive; then
        say "$(printf '%-22s FAILED: the set is broken' "$label")"
        TPCC_OK=0
        return 1
    fi
    kl_psql "$pg_run" "$pg_port" "$pg_db" -c CHECKPOINT -c "SELECT pg_stat_statements_reset()" >/dev/null
    local sampler=""
    if [ "${KT_BENCH_PROFILE:-0}" = 1 ]; then
        tpcc_wait_sampler "$out/tpcc/$label-waits.txt" &
        sampler=$!
    fi
    proc_env bench-wms 0
    timeout -k 10 "$timeout_s" env -i "${PROC_ENV[@]}" "$build/bin/kontor-bench" run \
        --label "$label" --terminals "$n" --seconds "$tpcc_seconds" --warmup "$tpcc_warmup" \
        --mix "$mix" "${hot[@]}" "${TPCC_SHAPE[@]}" "${tpcc_procs[@]}" \
        --json "$out/tpcc/$label.json" >"$logs/$label.out" 2>"$logs/$label.log" </dev/null &
    run_pid=$!
    wait "$run_pid" || rc=$?
    run_pid=""
    [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
    [ -z "$sampler" ] || wait "$sampler" 2>/dev/null || true
    if [ "$rc" -ne 0 ]; then
        say "$(printf '%-22s FAILED (exit %s); last lines of its log:' "$label" "$rc")"
        tail -n 10 "$logs/$label.log" | sed 's/^/    | /' | tee -a "$report"
        TPCC_OK=0
    else
        grep -v '^#' "$logs/$label.out" | tee -a "$report"
        line=$(awk -v l="$label" '$1 == "#result" && $2 == l && $3 == "PlaceOrder"' "$logs/$label.out")
        read -r _ _ _ TPCC_K[0] TPCC_K[1] TPCC_K[2] TPCC_K[3] _ <<<"$line"
        # CPU per PlaceOrder of every process of the set and PostgreSQL,
        # without the driver's own (ms); for the mix, per transaction.
        TPCC_K[4]=$(awk -v l="$label" -v s="$tpcc_seconds" '
            $1 == "#cpu" && $2 == l { cpu = $3 - $4 }
            $1 == "#result" && $2 == l { n += $4 * s }
            END { if (n > 0) printf "%.2f", cpu * 1000 / n; else print "-" }' "$logs/$label.out")
    fi
    # The statements that took the database's time, for the analysis.
    kl_psql "$pg_run" "$pg_port" "$pg_db" -A -F ' | ' -c "
        SELECT calls, round(total_exec_time::numeric, 0) AS total_ms,
               round(mean_exec_time::numeric, 3) AS mean_ms, rows, plans,
               round(total_plan_time::numeric, 0) AS plan_ms,
               regexp_replace(left(query, 160), '\s+', ' ', 'g') AS query
          FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40" \
        >"$out/tpcc/$label-statements.txt" 2>&1 || true
    # The audit, whatever the run did.
    proc_env bench-wms 0
    if timeout -k 10 "$timeout_s" env -i "${PROC_ENV[@]}" "$build/bin/kontor-audit" --wait 180 \
        "$(admin_dsn)" >"$logs/$label-audit.out" 2>&1; then
        say "$(printf '%-22s audit passed (%s checks; %s)' "$label" "$(grep -c '^PASS' "$logs/$label-audit.out")" \
            "$(grep -m 1 '^quiet after' "$logs/$label-audit.out")")"
    else
        say "$(printf '%-22s AUDIT FAILED:' "$label")"
        grep -v '^PASS' "$logs/$label-audit.out" | sed 's/^/    | /' | tee -a "$report"
        TPCC_OK=0
    fi
    return $((1 - TPCC_OK))
}

# Wait events of the set's backends, sampled every 100 ms until killed:
# counts per (state, wait event, application).
tpcc_wait_sampler() {
    local file=$1
    trap 'exit 0' TERM
    while true; do
        kl_psql "$pg_run" "$pg_port" "$pg_db" -At -F ' ' -c "
            SELECT coalesce(application_name, ''), state,
                   coalesce(wait_event_type || ':' || wait_event, 'CPU')
              FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state IN ('active', 'idle in transaction')" >>"$file.raw" 2>/dev/null || true
        sleep 0.1
    done
}

section_tpcc() {
    local n run bad=0 label side mix skus r
    local -A ref_ps=() ref_p99=() k_ps=() k_p99=() audit=() ref_cpu=() k_cpu=()
    mkdir -p "$out/tpcc"
    rm -f "$out/tpcc/"*
    if [ "$scale" -ne 100 ]; then
        tpcc_seconds=$((tpcc_seconds * scale / 100))
        [ "$tpcc_seconds" -ge 2 ] || tpcc_seconds=2
    fi
    say ""
    say "== tpcc: Kontor's TPC-C-like workload and the one-procedure reference, same cluster, same data"
    say "   ($tpcc_seconds s measured after $tpcc_warmup s warm-up per run; workers: ${KT_BENCH_WORKERS:-default})"
    if ! tpcc_reference_setup || ! tpcc_kontor_setup; then
        return 1
    fi
    for n in "${TPCC_TERMINALS[@]}"; do
        for run in "${TPCC_RUNS[@]}"; do
            side=${run%%-*}
            mix=${run#*-}
            label="$run-$n"
            if [ "$side" = ref ]; then
                tpcc_ref "$label" "$mix" "$n" || bad=$((bad + 1))
                ref_ps[$mix-$n]=${TPCC_R[0]}
                ref_p99[$mix-$n]=${TPCC_R[2]}
                ref_cpu[$mix-$n]=${TPCC_R[7]}
            elif [ "$mix" = mix ]; then
                tpcc_kontor "$label" tpcc uniform "$n" || bad=$((bad + 1))
                audit[$run-$n]=$TPCC_OK
            else
                tpcc_kontor "$label" orders "$mix" "$n" || bad=$((bad + 1))
                k_ps[$mix-$n]=${TPCC_K[0]}
                k_p99[$mix-$n]=${TPCC_K[2]}
                k_cpu[$mix-$n]=${TPCC_K[4]}
                audit[$run-$n]=$TPCC_OK
            fi
        done
    done
    say ""
    say "PlaceOrder head to head (Kontor's PlaceOrder-only runs against pgbench on place_order):"
    say "$(printf '%-9s %-8s %10s %9s %9s %10s %9s %9s %11s %9s %6s' terminals skus 'ref/s' 'ref p99' \
        'ref cpu' 'kontor/s' 'k p99' 'k cpu' 'kontor/ref' 'p99 k/ref' audit)"
    for n in "${TPCC_TERMINALS[@]}"; do
        for skus in uniform hot; do
            [ -n "${k_ps[$skus-$n]:-}" ] || [ -n "${ref_ps[$skus-$n]:-}" ] || continue
            r=$(awk -v a="${k_ps[$skus-$n]:-0}" -v b="${ref_ps[$skus-$n]:-0}" \
                -v c="${k_p99[$skus-$n]:-0}" -v d="${ref_p99[$skus-$n]:-0}" \
                'BEGIN { printf "%11s %9s", (b > 0 ? sprintf("%.2f", a / b) : "-"), (d > 0 ? sprintf("%.1f", c / d) : "-") }')
            say "$(printf '%-9s %-8s %10s %9s %9s %10s %9s %9s %s %6s' "$n" "$skus" "${ref_ps[$skus-$n]:--}" \
                "${ref_p99[$skus-$n]:--}" "${ref_cpu[$skus-$n]:--}" "${k_ps[$skus-$n]:--}" \
                "${k_p99[$skus-$n]:--}" "${k_cpu[$skus-$n]:--}" "$r" \
                "$([ "${audit[kontor-$skus-$n]:-}" = 1 ] && echo ok || echo "${audit[kontor-$skus-$n]:+FAIL}")")"
        done
    done
    say "(orders/s: calls answered per second, refusals included, as pgbench counts place_order calls;"
    say " p99 in ms; cpu: ms of CPU per order, every process of the side (PostgreSQL's backends, and"
    say " pgbench, or Kontor's processes and Redis; not Kontor's driver); per-run tables above;"
    say " JSON: build/bench/tpcc.json and build/bench/tpcc/)"
    {
        printf '{"benchmark":"tpcc","machine":%s,' "$(machine_json)"
        printf '"settings":{"seconds":%s,"warmup_s":%s,"terminals":[%s],"workers":%s,' \
            "$tpcc_seconds" "$tpcc_warmup" "$(IFS=,; echo "${TPCC_TERMINALS[*]}")" \
            "$(json_str "${KT_BENCH_WORKERS:-default}")"
        printf '"postgresql_conf":%s},"runs":[' "$(json_str "$(grep -v '^#' "$pg_data/bench.conf" | tr '\n' ';')")"
        local first=1 f
        for f in "$out/tpcc/"*.json; do
            case "$f" in *-cpu.json) continue ;; esac
            [ "$first" = 1 ] || printf ','
            first=0
            cat "$f"
        done
        printf ']}\n'
    } >"$out/tpcc.json"
    return "$bad"
}

# ---------------------------------------------------------------- main

selected() { [ -z "$only" ] || [[ $1 =~ $only ]]; }

for name in kontor-keygen kontor-bus kontor-orders kontor-clients kontor-logistics \
    kontor-receivables kontor-bench-events kontor-bench kontor-audit; do
    [ -x "$build/bin/$name" ] || kl_die "missing $build/bin/$name: build it first (make FLAVOUR=release all)"
done

machine
say "Kontor benchmarks"
print_machine
start_pg
start_redis
make_keys

for section in "${SECTIONS[@]}"; do
    selected "$section" || continue
    rc=0
    "section_$section" || rc=$?
    [ "$rc" -eq 0 ] || failed=$((failed + rc))
done

say ""
say "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); report: build/bench/report.txt"
cleanup
if [ "$failed" -gt 0 ]; then
    kl_say "$failed run(s) failed"
    exit 1
fi
