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

SECTIONS=(events)

[ $# -eq 1 ] || kl_die "usage: tests/bench/run.sh BUILD_DIR"
[ -d "$1" ] || kl_die "no build folder: $1"
build=$(cd "$1" && pwd)
only=${KT_BENCH_ONLY:-}
scale=${KT_BENCH_SCALE:-100}
if ! [[ $scale =~ ^[0-9]+$ ]] || [ "$scale" -lt 1 ] || [ "$scale" -gt 1000 ]; then
    kl_die "KT_BENCH_SCALE must be a percentage from 1 to 1000: $scale"
fi
fsync=${KT_BENCH_FSYNC:-on}
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
    [ "$name" = bus ] || PROC_ENV+=("KONTOR_PG_DSN=$(service_dsn "$name")")
    for v in TZ LANG LC_ALL KONTOR_WORKERS; do
        [ -z "${!v:-}" ] || PROC_ENV+=("$v=${!v}")
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

# ---------------------------------------------------------------- main

selected() { [ -z "$only" ] || [[ $1 =~ $only ]]; }

for name in kontor-keygen kontor-bus kontor-orders kontor-clients kontor-bench-events; do
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
