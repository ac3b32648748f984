#!/usr/bin/env bash
# kontor-local.sh - the local set: PostgreSQL, Redis, the bus and the four
# services, run from a folder inside the checkout on loopback ports.
#
#   kontor-local.sh up BUILD_DIR   create (first run) or reuse $KONTOR_HOME, start
#                                  what is not running, wait for readiness, print
#                                  a table. KONTOR_LOCAL_ONLY_DATA=1: PostgreSQL and
#                                  Redis only (no keys, no processes).
#   kontor-local.sh down           stop what `up` started, in reverse order
#   kontor-local.sh status         the same table, without starting anything
#   kontor-local.sh psql [ARGS]    superuser psql on database kontor (unix socket)
#   kontor-local.sh env [WHO]      export lines for a shell acting as WHO (admin)
#   kontor-local.sh roles-sql      the per-database SQL (roles.sql.sh schemas)
#
# KONTOR_HOME (default <repo>/.kontor, git-ignored) holds everything:
#   pg/data pg/run         cluster and its superuser-only socket folder
#   pgpass                 libpq passfile of the service roles (0600)
#   redis/ redis.pass      Redis config and dir, its password (0600)
#   keys/allow keys/secret public certificates, secret ones (0700)
#   log/ run/              one log and one pid file per process
# Ports: KONTOR_PG_PORT (15432), KONTOR_REDIS_PORT (16379); the bus on
# 15555-15557 and HTTP on 18080-18084 (the processes' own defaults).
#
# Migrations are not applied here: each service applies its own at start.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
KL_PROG=kontor-local
# shellcheck source=deploy/local/kontor-lib.sh
. "$here/kontor-lib.sh"

H=$(realpath -m "${KONTOR_HOME:-$repo/.kontor}")
PG_PORT=${KONTOR_PG_PORT:-15432}
REDIS_PORT=${KONTOR_REDIS_PORT:-16379}
PG_DATA=$H/pg/data
PG_RUN=$H/pg/run
PG_DB=kontor
BUS_PORT=15555
EVENTS_IN_PORT=15556
EVENTS_OUT_PORT=15557

mapfile -t SERVICES < <(bash "$here/roles.sql.sh" services)
PROCS=(bus "${SERVICES[@]}")

for p in "$PG_PORT" "$REDIS_PORT"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
        kl_die "not a TCP port: $p"
    fi
done

http_port_of() {
    case $1 in
        bus) echo 18080 ;;
        clients) echo 18081 ;;
        orders) echo 18082 ;;
        logistics) echo 18083 ;;
        receivables) echo 18084 ;;
        *) kl_die "unknown process: $1" ;;
    esac
}

redis_pass() { cat "$H/redis.pass"; }

# ---------------------------------------------------------------- PostgreSQL

pg_up() {
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        [ ! -e "$PG_DATA" ] || [ -z "$(ls -A "$PG_DATA")" ] ||
            kl_die "$PG_DATA exists but is not a cluster; move it away"
        kl_pg_init "$PG_DATA" "$PG_RUN" "$H/log/postgres.log"
    fi
    # The socket folder may have been removed with run/ files; the traverse
    # check is cheap and repairs a checkout moved under a 0700 folder.
    mkdir -p "$PG_RUN"
    chown "$(kl_pg_user)" "$PG_RUN"
    chmod 0700 "$PG_RUN"
    kl_grant_traverse "$PG_DATA"
    kl_grant_traverse "$H/log"
    if ! kl_pg_running "$PG_DATA"; then
        kl_pg_conf "$PG_DATA" "$PG_RUN" "$PG_PORT" on
        kl_pg_start "$PG_DATA" "$H/log/postgres.log" || kl_die "PostgreSQL did not start on port $PG_PORT"
    fi

    if [ ! -s "$H/pgpass" ]; then
        (umask 077 && bash "$here/roles.sql.sh" passfile 127.0.0.1 "$PG_PORT" "$PG_DB" >"$H/pgpass.new")
        mv "$H/pgpass.new" "$H/pgpass"
    elif ! awk -F: -v p="$PG_PORT" '$2 != p { bad = 1 } END { exit bad }' "$H/pgpass"; then
        # KONTOR_PG_PORT changed since the passfile was written: keep the passwords.
        (umask 077 && awk -F: -v OFS=: -v p="$PG_PORT" '{ $2 = p; print }' "$H/pgpass" >"$H/pgpass.new")
        mv "$H/pgpass.new" "$H/pgpass"
    fi
    chmod 0600 "$H/pgpass"

    if [ -z "$(kl_psql "$PG_RUN" "$PG_PORT" postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
        kl_psql "$PG_RUN" "$PG_PORT" postgres -c "CREATE DATABASE $PG_DB"
    fi
    # Idempotent: creates what is missing, resets passwords to the passfile's.
    bash "$here/roles.sql.sh" roles "$H/pgpass" | kl_psql "$PG_RUN" "$PG_PORT" postgres -f -
    bash "$here/roles.sql.sh" schemas | kl_psql "$PG_RUN" "$PG_PORT" "$PG_DB" -f -
}

pg_ready() { "$(kl_pg_bindir)/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" -d postgres -U postgres; }

# ---------------------------------------------------------------- Redis

redis_pid() {
    local pid
    pid=$(cat "$H/run/redis.pid" 2>/dev/null) || return 1
    kl_is_proc "$pid" redis-server && echo "$pid"
}

redis_up() {
    mkdir -p "$H/redis"
    chmod 0700 "$H/redis"
    if [ ! -s "$H/redis.pass" ]; then
        (umask 077 && kl_secret >"$H/redis.pass.new")
        mv "$H/redis.pass.new" "$H/redis.pass"
    fi
    chmod 0600 "$H/redis.pass"
    redis_pid >/dev/null && return 0
    kl_redis_conf "$H/redis/redis.conf" "$REDIS_PORT" "$(redis_pass)" "$H/redis" \
        "$H/run/redis.pid" "$H/log/redis.log"
    rm -f "$H/run/redis.pid"
    kl_redis_start "$H/redis/redis.conf" "$REDIS_PORT" "$(redis_pass)" "$H/run/redis.pid" "$H/log/redis.log" ||
        kl_die "Redis did not start on port $REDIS_PORT"
}

redis_ready() { [ -s "$H/redis.pass" ] && kl_redis_ping "$REDIS_PORT" "$(redis_pass)"; }

# ---------------------------------------------------------------- keys

# Principals: name, kind, manager id (docs/security.md).
PRINCIPALS=(
    "bus service" "clients service" "orders service" "logistics service" "receivables service"
    "admin admin" "head-1 head 1" "manager-1 manager 2" "manager-2 manager 3"
    "accountant-1 accountant" "logistician-1 logistician" "wms-1 logistics-system"
)

keys_up() {
    local build=$1 tmp line
    [ -d "$H/keys/allow" ] && return 0
    # Made in a side folder and moved into place, so a failure halfway
    # leaves no allow-list that the next `up` would take as complete.
    tmp=$H/keys.new
    rm -rf "$tmp"
    mkdir -p "$tmp/allow" "$tmp/secret"
    chmod 0755 "$tmp/allow"
    chmod 0700 "$tmp/secret"
    for line in "${PRINCIPALS[@]}"; do
        # shellcheck disable=SC2086 # name, kind and optional manager id
        "$build/bin/kontor-keygen" --public "$tmp/allow" --secret "$tmp/secret" $line >>"$H/log/keygen.log" 2>&1 ||
            {
                tail -n 5 "$H/log/keygen.log" >&2
                rm -rf "$tmp"
                kl_die "kontor-keygen failed for: $line (log: $H/log/keygen.log)"
            }
    done
    mkdir -p "$H/keys"
    chmod 0755 "$H/keys"
    rm -rf "$H/keys/secret"
    mv "$tmp/secret" "$H/keys/secret"
    mv "$tmp/allow" "$H/keys/allow"
    rmdir "$tmp"
}

# ---------------------------------------------------------------- processes

proc_pid() {
    local pid
    pid=$(cat "$H/run/$1.pid" 2>/dev/null) || return 1
    kl_is_proc "$pid" "kontor-$1" && echo "$pid"
}

proc_ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(http_port_of "$1")/readyz" 2>/dev/null; }

proc_ready_or_dead() { proc_ready "$1" || ! kl_is_proc "$2" "kontor-$1"; }

# The environment of a process: only what it needs, nothing from a shell
# that may have sourced `env` for another set.
proc_env() {
    local name=$1 v
    PROC_ENV=(
        "PATH=/usr/local/bin:/usr/bin:/bin"
        "KONTOR_HOME=$H"
        "KONTOR_BUS=tcp://127.0.0.1:$BUS_PORT"
        "KONTOR_EVENTS_IN=tcp://127.0.0.1:$EVENTS_IN_PORT"
        "KONTOR_EVENTS_OUT=tcp://127.0.0.1:$EVENTS_OUT_PORT"
        "KONTOR_KEYS=$H/keys/allow"
        "KONTOR_CERT=$H/keys/secret/$name.secret"
        "KONTOR_BUS_CERT=$H/keys/allow/bus.cert"
        "KONTOR_REDIS_HOST=127.0.0.1"
        "KONTOR_REDIS_PORT=$REDIS_PORT"
        "KONTOR_HTTP_PORT=$(http_port_of "$name")"
    )
    if [ "$name" != bus ]; then
        PROC_ENV+=("KONTOR_PG_DSN=host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=kontor_$name passfile=$H/pgpass")
    fi
    for v in TZ LANG LC_ALL KONTOR_LOG_LEVEL KONTOR_WORKERS ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        [ -z "${!v:-}" ] || PROC_ENV+=("$v=${!v}")
    done
}

proc_up() {
    local build=$1 name=$2 bin log pid
    proc_pid "$name" >/dev/null && return 0
    bin=$build/bin/kontor-$name
    log=$H/log/$name.log
    proc_env "$name"
    # setsid: its own session, so it outlives this shell and its terminal.
    # In a non-interactive shell a background job is not a group leader, so
    # setsid execs without forking and $! is the process's own pid.
    (cd "$H" && exec setsid env -i "${PROC_ENV[@]}" "$bin" >>"$log" 2>&1 </dev/null) &
    pid=$!
    echo "$pid" >"$H/run/$name.pid"
    if ! kl_wait_until 30 proc_ready_or_dead "$name" "$pid" || ! proc_ready "$name"; then
        kl_say "kontor-$name (pid $pid) is not ready on http://127.0.0.1:$(http_port_of "$name")/readyz; last lines of $log:"
        tail -n 20 "$log" >&2 || true
        kl_die "stopping here; '$0 down' stops what was started"
    fi
}

# ---------------------------------------------------------------- table

table() {
    local only_data=$1 name pid port ready
    printf '%-12s %-8s %-6s %s\n' process pid port ready
    pid=$(kl_pg_pid "$PG_DATA" 2>/dev/null) || pid=""
    ready=no
    pg_ready 2>/dev/null && ready=yes
    printf '%-12s %-8s %-6s %s\n' postgres "${pid:--}" "$PG_PORT" "$ready"
    pid=$(redis_pid) || pid=""
    ready=no
    redis_ready && ready=yes
    printf '%-12s %-8s %-6s %s\n' redis "${pid:--}" "$REDIS_PORT" "$ready"
    [ "$only_data" = 1 ] && return 0
    for name in "${PROCS[@]}"; do
        pid=$(proc_pid "$name") || pid=""
        port=$(http_port_of "$name")
        ready=no
        [ -n "$pid" ] && proc_ready "$name" && ready=yes
        printf '%-12s %-8s %-6s %s\n' "$name" "${pid:--}" "$port" "$ready"
    done
}

# ---------------------------------------------------------------- commands

cmd_up() {
    local only_data=${KONTOR_LOCAL_ONLY_DATA:-0} build="" name
    if [ "$only_data" != 1 ]; then
        [ $# -eq 1 ] || kl_die "usage: $0 up BUILD_DIR (or KONTOR_LOCAL_ONLY_DATA=1 $0 up)"
        [ -d "$1" ] || kl_die "no build folder $1: run make all first"
        build=$(cd "$1" && pwd)
        for name in keygen "${PROCS[@]}"; do
            [ -x "$build/bin/kontor-$name" ] ||
                kl_die "missing $build/bin/kontor-$name: build it first (make all), or set KONTOR_LOCAL_ONLY_DATA=1 to start only PostgreSQL and Redis"
        done
        command -v curl >/dev/null || kl_die "curl not found; run make deps"
    fi
    mkdir -p "$H/log" "$H/run" "$H/pg"
    # Not 0700: the postgres user must traverse it to reach pg/. Secrets
    # inside are 0600 files and a 0700 folder.
    chmod 0711 "$H" "$H/pg"
    chmod 0755 "$H/log"
    chmod 0700 "$H/run"

    pg_up
    redis_up
    if [ "$only_data" != 1 ]; then
        keys_up "$build"
        echo "$build" >"$H/run/build-dir"
        for name in "${PROCS[@]}"; do
            proc_up "$build" "$name"
        done
    fi
    table "$only_data"
}

cmd_down() {
    local i name pid
    [ -d "$H" ] || return 0
    for ((i = ${#PROCS[@]} - 1; i >= 0; i--)); do
        name=${PROCS[i]}
        if pid=$(proc_pid "$name"); then
            kl_stop_pid "$pid" "kontor-$name" TERM 15 || true
        fi
        rm -f "$H/run/$name.pid"
    done
    if pid=$(redis_pid); then
        kl_stop_pid "$pid" redis-server TERM 15 || true
    fi
    rm -f "$H/run/redis.pid"
    if [ -s "$PG_DATA/PG_VERSION" ]; then
        kl_pg_stop "$PG_DATA" || kl_die "PostgreSQL in $PG_DATA did not stop"
    fi
}

cmd_status() {
    [ -d "$H" ] || kl_die "no local set in $H; start one with make up"
    local only_data=1 name
    for name in "${PROCS[@]}"; do
        [ -e "$H/run/$name.pid" ] && only_data=0
    done
    [ -d "$H/keys/allow" ] && only_data=0
    table "$only_data"
}

cmd_psql() {
    [ -S "$PG_RUN/.s.PGSQL.$PG_PORT" ] || kl_die "PostgreSQL is not running in $H; start it with make up"
    PGAPPNAME=psql exec "$(kl_pg_bindir)/psql" -X -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$PG_DB" "$@"
}

cmd_env() {
    local who=${1:-admin} build
    [[ $who =~ ^[A-Za-z0-9_-]+$ ]] || kl_die "not a principal name: $who"
    [ -f "$H/keys/secret/$who.secret" ] || kl_say "warning: no secret certificate for $who in $H/keys/secret"
    printf 'export KONTOR_HOME=%q\n' "$H"
    printf 'export KONTOR_BUS=%q\n' "tcp://127.0.0.1:$BUS_PORT"
    printf 'export KONTOR_EVENTS_IN=%q\n' "tcp://127.0.0.1:$EVENTS_IN_PORT"
    printf 'export KONTOR_EVENTS_OUT=%q\n' "tcp://127.0.0.1:$EVENTS_OUT_PORT"
    printf 'export KONTOR_KEYS=%q\n' "$H/keys/allow"
    printf 'export KONTOR_CERT=%q\n' "$H/keys/secret/$who.secret"
    printf 'export KONTOR_BUS_CERT=%q\n' "$H/keys/allow/bus.cert"
    printf 'export KONTOR_REDIS_HOST=127.0.0.1\n'
    printf 'export KONTOR_REDIS_PORT=%q\n' "$REDIS_PORT"
    printf 'export KONTOR_HTTP_PORT=0\n'
    printf 'export PGHOST=%q PGPORT=%q PGDATABASE=%q PGUSER=postgres\n' "$PG_RUN" "$PG_PORT" "$PG_DB"
    if build=$(cat "$H/run/build-dir" 2>/dev/null) && [ -d "$build/bin" ]; then
        # shellcheck disable=SC2016 # $PATH is for the shell that evaluates this
        printf 'export PATH=%q:"$PATH"\n' "$build/bin"
    fi
}

case "${1:-}" in
    up) shift && cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    psql) shift && cmd_psql "$@" ;;
    env) shift && cmd_env "$@" ;;
    roles-sql) bash "$here/roles.sql.sh" schemas ;;
    *)
        echo "usage: $0 up BUILD_DIR | down | status | psql [ARGS] | env [PRINCIPAL] | roles-sql" >&2
        exit 2
        ;;
esac
