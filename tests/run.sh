#!/usr/bin/env bash
# run.sh - Kontor's test runner (`make test`, `make unit`): every unit test,
# then every integration test against one throwaway PostgreSQL and Redis.
#
#   tests/run.sh BUILD_DIR
#
# Programs: BUILD_DIR/tests/test_* (unit, no servers), BUILD_DIR/tests/it_*
# and executable tests/integration/*.sh (integration). Each prints TAP (cmocka
# with CMOCKA_MESSAGE_OUTPUT=TAP; shell tests through tests/lib/tap.sh) and
# runs under `timeout`. One line per program; a failed program's output is
# shown, every program's full log is kept. The last line is exactly
# "N passed, M failed"; the exit status is non-zero if M > 0 or N == 0.
#
# Environment:
#   KT_ONLY=unit|integration   run only that half
#   KT_FILTER=REGEX            run only programs whose name matches
#   KT_TIMEOUT=SECONDS         per program (default 300)
#   KT_KEEP=1                  keep the cluster's data and the sets' folders
#
# Integration programs find the servers through (see tests/lib/kt_harness.h):
#   KT_TEST_PG_HOST (socket folder), KT_TEST_PG_PORT, KT_TEST_PG_SUPERUSER,
#   KT_TEST_PGPASSFILE (service roles' passwords, any database),
#   KT_TEST_SCHEMA_SQL (per-database roles' schemas: deploy/local/roles.sql.sh),
#   KT_TEST_REDIS_PORT, KT_TEST_REDIS_PASSWORD, KT_TEST_BIN, KT_TEST_ROOT,
#   KT_TEST_TMP (a folder of their own).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
KL_PROG=run.sh
# shellcheck source=deploy/local/kontor-lib.sh
. "$root/deploy/local/kontor-lib.sh"

[ $# -eq 1 ] || kl_die "usage: tests/run.sh BUILD_DIR"
[ -d "$1" ] || kl_die "no build folder: $1"
build=$(cd "$1" && pwd)
timeout_s=${KT_TIMEOUT:-300}
if ! [[ $timeout_s =~ ^[0-9]+$ ]] || [ "$timeout_s" -eq 0 ]; then
    kl_die "KT_TIMEOUT must be a number of seconds: $timeout_s"
fi
only=${KT_ONLY:-}
case "$only" in "" | unit | integration) ;; *) kl_die "KT_ONLY must be unit or integration: $only" ;; esac
filter=${KT_FILTER:-}

export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Leaks inside third-party libraries we cannot free (see the file's comments).
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan.supp:print_suppressions=0"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kontor-test.XXXXXX")
chmod 0711 "$tmp" # the postgres user must traverse it to its data folder
logs=$tmp/logs
mkdir -p "$logs"
# Every program and what it starts carries this, so the sweep finds leftovers.
export KT_TEST_RUN=$tmp

passed=0
failed=0
pg_data=""
redis_pid=""
cleaned=0
summarised=0

# ---------------------------------------------------------------- cleanup

# Pids of the shared servers, which the stray sweep must leave alone.
server_pids() {
    local pm
    [ -z "$redis_pid" ] || echo "$redis_pid"
    [ -n "$pg_data" ] || return 0
    pm=$(kl_pg_pid "$pg_data" 2>/dev/null) || return 0
    [ -n "$pm" ] || return 0
    echo "$pm"
    pgrep -P "$pm" 2>/dev/null || true
}

# Kill every process whose environment mentions this run's folder (what a
# test started and left behind), except the shared servers. Prints one
# "name (pid N)" line per process it had to kill.
sweep() {
    local f pid keep comm
    keep=" $$ $BASHPID $(server_pids | tr '\n' ' ') "
    # One grep over every environment; its own match is gone by the time the
    # loop looks at it.
    while IFS= read -r f; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        case "$keep" in *" $pid "*) continue ;; esac
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        kl_is_proc "$pid" "$comm" || continue
        kl_stop_pid "$pid" "$comm" TERM 5 >/dev/null 2>&1 || true
        echo "$comm (pid $pid)"
    done < <(grep -laF -- "$tmp/" /proc/[0-9]*/environ 2>/dev/null)
}

cleanup() {
    [ "$cleaned" = 0 ] || return 0
    cleaned=1
    local strays f
    if [ -n "$redis_pid" ]; then
        kl_stop_pid "$redis_pid" redis-server TERM 15 || true
    fi
    if [ -n "$pg_data" ]; then
        kl_pg_stop "$pg_data" || kl_say "PostgreSQL in $pg_data did not stop"
    fi
    redis_pid=""
    pg_data=""
    strays=$(sweep)
    if [ -n "$strays" ]; then
        kl_say "killed processes left running under $tmp:"
        while IFS= read -r f; do printf '    %s\n' "$f"; done <<<"$strays" >&2
        failed=$((failed + 1))
    fi
    # The sets' folders (their processes' logs) stay when something failed.
    if [ "${KT_KEEP:-0}" != 1 ]; then
        rm -rf "$tmp/pg" "$tmp/redis"
        [ "$failed" -gt 0 ] || rm -rf "$tmp/work"
    fi
}
# On an early exit (a server that would not start, ^C) the last line is
# still the count, with the interruption as one more failure.
on_exit() {
    local rc=$?
    cleanup
    if [ "$summarised" = 0 ]; then
        echo "logs: $logs"
        echo "$passed passed, $((failed + 1)) failed"
        [ "$rc" -ne 0 ] || rc=1
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- one program

# run_program NAME PATH: run it, count its TAP lines, print its line.
run_program() {
    local name=$1 prog=$2 log t0 t1 secs rc=0 counts pass fail skip plan ran
    local extra="" strays status
    log=$logs/$name.log
    t0=${EPOCHREALTIME/./}
    # The braces keep bash's own "Aborted" notice (timeout re-raises the
    # signal its child died of) out of the output; the log has the story.
    { (cd "$root" && exec timeout -k 10 "$timeout_s" "$prog") >"$log" 2>&1 </dev/null; } 2>/dev/null || rc=$?
    t1=${EPOCHREALTIME/./}
    secs=$(((t1 - t0) / 100000))
    secs="$((secs / 10)).$((secs % 10))"

    # ok / not ok lines (a SKIP or TODO directive is neither), and plans
    # (cmocka prints one per group).
    counts=$(awk '
        /^1\.\.[0-9]+/ { plan += substr($1, 4) }
        /^(not )?ok([ \t]|$)/ {
            if ($0 ~ /#[ \t]*([Ss][Kk][Ii][Pp]|[Tt][Oo][Dd][Oo])/) skip++
            else if ($1 == "ok") pass++
            else fail++
        }
        END { printf "%d %d %d %d\n", pass, fail, skip, plan }' "$log")
    read -r pass fail skip plan <<<"$counts"
    ran=$((pass + fail + skip))

    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        extra="timed out after $timeout_s s"
    elif [ "$rc" -gt 128 ] && [ "$fail" -eq 0 ]; then
        extra="killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
    elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        extra="exited with status $rc"
    elif [ "$rc" -eq 0 ] && [ "$ran" -eq 0 ] && ! grep -qE '^1\.\.0([^0-9]|$)' "$log"; then
        extra="printed no test results"
    elif [ "$rc" -eq 0 ] && [ "$ran" -lt "$plan" ]; then
        extra="planned $plan tests, ran $ran"
    fi
    strays=$(sweep)
    if [ -n "$strays" ]; then
        extra="${extra:+$extra; }left processes running (killed): $(echo "$strays" | paste -sd, -)"
    fi
    [ -z "$extra" ] || fail=$((fail + 1))

    passed=$((passed + pass))
    failed=$((failed + fail))
    status="$ran tests"
    [ "$ran" -ne 1 ] || status="1 test"
    [ "$fail" -eq 0 ] || status+=", $fail failed"
    [ "$skip" -eq 0 ] || status+=", $skip skipped"
    if [ "$fail" -eq 0 ]; then
        printf 'PASS %s (%s, %s s)\n' "$name" "$status" "$secs"
    else
        printf 'FAIL %s (%s, %s s)%s\n' "$name" "$status" "$secs" "${extra:+: $extra}"
        if [ "$(wc -l <"$log")" -gt 300 ]; then
            echo "    ... (first $(($(wc -l <"$log") - 300)) lines left out)"
        fi
        tail -n 300 "$log" | sed 's/^/    | /'
        echo "    full log: $log"
    fi
}

# ---------------------------------------------------------------- servers

start_servers() {
    local tries pg_run=$tmp/pg/run redis_pass
    pg_data=$tmp/pg/data
    kl_pg_init "$pg_data" "$pg_run" "$logs/postgres.log"
    for tries in 1 2 3; do
        kl_free_port KT_TEST_PG_PORT
        # fsync off: a throwaway cluster; crash tests stop the server, not the machine.
        kl_pg_conf "$pg_data" "$pg_run" "$KT_TEST_PG_PORT" off
        kl_pg_start "$pg_data" "$logs/postgres.log" && break
        [ "$tries" -lt 3 ] || kl_die "PostgreSQL did not start; log: $logs/postgres.log"
    done
    (umask 077 && bash "$root/deploy/local/roles.sql.sh" passfile 127.0.0.1 "$KT_TEST_PG_PORT" '*' >"$tmp/pgpass")
    bash "$root/deploy/local/roles.sql.sh" roles "$tmp/pgpass" | kl_psql "$pg_run" "$KT_TEST_PG_PORT" postgres -f -
    bash "$root/deploy/local/roles.sql.sh" schemas >"$tmp/schemas.sql"

    mkdir -p "$tmp/redis"
    chmod 0700 "$tmp/redis"
    redis_pass=$(kl_secret)
    for tries in 1 2 3; do
        kl_free_port KT_TEST_REDIS_PORT
        kl_redis_conf "$tmp/redis/redis.conf" "$KT_TEST_REDIS_PORT" "$redis_pass" "$tmp/redis" \
            "$tmp/redis/redis.pid" "$logs/redis.log"
        if kl_redis_start "$tmp/redis/redis.conf" "$KT_TEST_REDIS_PORT" "$redis_pass" \
            "$tmp/redis/redis.pid" "$logs/redis.log"; then
            redis_pid=$(cat "$tmp/redis/redis.pid")
            break
        fi
        [ "$tries" -lt 3 ] || kl_die "Redis did not start; log: $logs/redis.log"
    done

    mkdir -p "$tmp/work"
    export KT_TEST_PG_HOST=$pg_run KT_TEST_PG_PORT KT_TEST_PG_SUPERUSER=postgres
    export KT_TEST_PGPASSFILE=$tmp/pgpass KT_TEST_SCHEMA_SQL=$tmp/schemas.sql
    export KT_TEST_REDIS_PORT KT_TEST_REDIS_PASSWORD=$redis_pass
    export KT_TEST_BIN=$build/bin KT_TEST_ROOT=$root KT_TEST_TMP=$tmp/work
}

# ---------------------------------------------------------------- main

selected() { [ -z "$filter" ] || [[ $1 =~ $filter ]]; }

units=()
its=()
if [ "$only" != integration ]; then
    for f in "$build"/tests/test_*; do
        [ -f "$f" ] && [ -x "$f" ] && selected "${f##*/}" && units+=("$f")
    done
fi
if [ "$only" != unit ]; then
    for f in "$build"/tests/it_* "$root"/tests/integration/*.sh; do
        [ -f "$f" ] && [ -x "$f" ] && selected "${f##*/}" && its+=("$f")
    done
fi

for f in "${units[@]}"; do
    run_program "${f##*/}" "$f"
done
if [ ${#its[@]} -gt 0 ]; then
    start_servers
    for f in "${its[@]}"; do
        run_program "${f##*/}" "$f"
    done
fi

cleanup
summarised=1
echo "logs: $logs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
