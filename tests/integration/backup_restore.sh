#!/usr/bin/env bash
# backup_restore.sh - the backup and restore of docs/operations.md, done for
# real: each service's schema dumped on its own (pg_dump --schema), restored
# into a fresh database, compared table by table, and served again.
#
# In the runner's shared cluster (KT_TEST_*, tests/run.sh): a source database
# gets the roles' schemas (roles.sql.sh schemas, KT_TEST_SCHEMA_SQL), the bus
# and the four services run against it (so every migration is applied) and
# publish a few hundred events through their outboxes, which the consumers
# apply. Then, with the processes stopped, every schema is dumped, restored
# into a new database in the order the document gives, and each table's row
# count and content digest is compared with the source's. Finally the
# services start on the restored database: they find their schemas at the
# same version and serve.
#
# Functions here are called through tap_ok, kl_wait_until and the EXIT trap:
# shellcheck disable=SC2317
set -euo pipefail

# shellcheck source=tests/lib/tap.sh
. "$KT_TEST_ROOT/tests/lib/tap.sh"
KL_PROG=backup_restore.sh
# shellcheck source=deploy/local/kontor-lib.sh
. "$KT_TEST_ROOT/deploy/local/kontor-lib.sh"

work=$KT_TEST_TMP/backup_restore
rm -rf "$work"
mkdir -p "$work/keys" "$work/dump" "$work/log"
chmod 0711 "$work"
bin=$KT_TEST_BIN
pgbin=$(kl_pg_bindir)
src=kt_backup_src_$$
dst=kt_backup_dst_$$
mapfile -t SERVICES < <(bash "$KT_TEST_ROOT/deploy/local/roles.sql.sh" services)
EVENTS=200 # per service

declare -A pids=() http=()

su_psql() {
    local db=$1
    shift
    PGOPTIONS="-c client_min_messages=warning" "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$KT_TEST_PG_HOST" -p "$KT_TEST_PG_PORT" -U "$KT_TEST_PG_SUPERUSER" -d "$db" "$@"
}
as_role() {
    local role=$1 db=$2
    shift 2
    PGPASSFILE=$KT_TEST_PGPASSFILE "$pgbin/psql" -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$KT_TEST_PG_PORT" -U "$role" -d "$db" "$@"
}

stop_all() {
    local name
    for name in "${SERVICES[@]}" bus; do
        [ -z "${pids[$name]:-}" ] || kl_stop_pid "${pids[$name]}" "kontor-$name" TERM 20 || true
        unset "pids[$name]"
    done
}
leave() {
    stop_all
    su_psql postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" >/dev/null 2>&1 || true
    [ "${KT_KEEP:-0}" = 1 ] || rm -rf "$work/dump"
}
trap leave EXIT
trap 'exit 143' TERM INT

kl_free_port bus_port
kl_free_port events_in_port
kl_free_port events_out_port

# start DB NAME: one process against database DB, on a free HTTP port.
start() {
    local db=$1 name=$2 port
    kl_free_port port
    http[$name]=$port
    local envs=(
        "PATH=/usr/local/bin:/usr/bin:/bin"
        "KT_TEST_RUN=${KT_TEST_RUN:-}"
        "KONTOR_HOME=$work"
        "KONTOR_BUS=tcp://127.0.0.1:$bus_port"
        "KONTOR_EVENTS_IN=tcp://127.0.0.1:$events_in_port"
        "KONTOR_EVENTS_OUT=tcp://127.0.0.1:$events_out_port"
        "KONTOR_KEYS=$work/keys/allow"
        "KONTOR_CERT=$work/keys/secret/$name.secret"
        "KONTOR_BUS_CERT=$work/keys/allow/bus.cert"
        "KONTOR_REDIS_HOST=127.0.0.1"
        "KONTOR_REDIS_PORT=$KT_TEST_REDIS_PORT"
        "KONTOR_REDIS_PASSWORD=$KT_TEST_REDIS_PASSWORD"
        "KONTOR_HTTP_PORT=$port"
        "KONTOR_WORKERS=2"
        "ASAN_OPTIONS=${ASAN_OPTIONS:-}"
        "UBSAN_OPTIONS=${UBSAN_OPTIONS:-}"
    )
    [ "$name" = bus ] ||
        envs+=("KONTOR_PG_DSN=host=127.0.0.1 port=$KT_TEST_PG_PORT dbname=$db user=kontor_$name passfile=$KT_TEST_PGPASSFILE connect_timeout=5")
    env -i "${envs[@]}" "$bin/kontor-$name" >>"$work/log/$name-$db.log" 2>&1 </dev/null &
    pids[$name]=$!
}
ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:${http[$1]}/readyz" 2>/dev/null; }
ready_or_dead() { ready "$1" || ! kl_is_proc "${pids[$1]}" "kontor-$1"; }
start_set() {
    local db=$1 name
    for name in bus "${SERVICES[@]}"; do
        start "$db" "$name"
        if ! kl_wait_until 60 ready_or_dead "$name" || ! ready "$name"; then
            tap_diag "$(tail -n 20 "$work/log/$name-$db.log")"
            return 1
        fi
    done
}

# digest DB: "schema.table|rows|md5" for every table of every service schema,
# "schema.sequence|sequence|last value" for every sequence.
digest() {
    local db=$1 s t
    for s in "${SERVICES[@]}"; do
        while IFS= read -r t; do
            [ -n "$t" ] || continue
            su_psql "$db" -tA -c "SELECT '$s.$t', count(*), coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '-') FROM \"$s\".\"$t\" x"
        done < <(su_psql "$db" -tA -c "SELECT tablename FROM pg_tables WHERE schemaname = '$s' ORDER BY 1")
        # Sequences too: the next outbox id, stock versions, ...
        su_psql "$db" -tA -c "SELECT schemaname || '.' || sequencename, 'sequence', coalesce(last_value::text, '-') FROM pg_sequences WHERE schemaname = '$s' ORDER BY 1"
    done
}

# ---------------------------------------------------------------- the source
for line in "bus service" "${SERVICES[@]/%/ service}"; do
    # shellcheck disable=SC2086 # name and kind
    "$bin/kontor-keygen" --public "$work/keys/allow" --secret "$work/keys/secret" $line >>"$work/log/keygen.log" 2>&1 ||
        tap_bail "kontor-keygen failed: $(tail -n 3 "$work/log/keygen.log")"
done
su_psql postgres -c "CREATE DATABASE $src" || tap_bail "cannot create database $src"
su_psql "$src" -f "$KT_TEST_SCHEMA_SQL" || tap_bail "cannot apply $KT_TEST_SCHEMA_SQL"

# Not through tap_ok: that runs its command in a subshell, and the pids
# must stay in this one.
if start_set "$src"; then
    tap_pass "the bus and the four services start on a fresh database (migrations applied)"
else
    tap_bail "the set did not start on $src"
fi

# Events through every outbox, as each service's own role: the relays
# number and publish them, the consumers apply them (their offsets move).
for s in "${SERVICES[@]}"; do
    as_role "kontor_$s" "$src" -c "INSERT INTO $s.outbox (type, payload) SELECT 'BackupCheck', int4send(g) FROM generate_series(1, $EVENTS) g"
done
published() {
    local s
    for s in "${SERVICES[@]}"; do
        [ "$(su_psql "$src" -tA -c "SELECT count(*) FROM $s.outbox WHERE seq IS NULL")" = 0 ] || return 1
    done
}
tap_ok "every relay publishes the events written to its outbox" kl_wait_until 60 published
stop_all

before=$(digest "$src")
tables=$(grep -vc '|sequence|' <<<"$before")
tap_like "$tables" '^[1-9][0-9]*$' "the source has tables in the service schemas ($tables)"
tap_is "$(grep -c '^[a-z_]*\.outbox|' <<<"$before")" "${#SERVICES[@]}" "every service schema has its outbox"

# ---------------------------------------------------------------- dump
for s in "${SERVICES[@]}"; do
    tap_ok "pg_dump --schema=$s of the source" \
        "$pgbin/pg_dump" -h "$KT_TEST_PG_HOST" -p "$KT_TEST_PG_PORT" -U "$KT_TEST_PG_SUPERUSER" \
        --schema="$s" --format=custom --file="$work/dump/$s.dump" "$src"
done
# A service's role owns everything in its schema, so it can dump it itself.
tap_ok "the orders role can dump its own schema" \
    env PGPASSFILE="$KT_TEST_PGPASSFILE" "$pgbin/pg_dump" -w -h 127.0.0.1 -p "$KT_TEST_PG_PORT" \
    -U kontor_orders --schema=orders --format=custom --file="$work/dump/orders-by-role.dump" "$src"

# ---------------------------------------------------------------- restore
# The order of docs/operations.md: roles (cluster-wide, here already), a new
# database, every schema from its dump, then roles.sql.sh schemas for the
# database-level rights.
su_psql postgres -c "CREATE DATABASE $dst" || tap_bail "cannot create database $dst"
for s in "${SERVICES[@]}"; do
    tap_ok "pg_restore of $s into a fresh database" \
        "$pgbin/pg_restore" -h "$KT_TEST_PG_HOST" -p "$KT_TEST_PG_PORT" -U "$KT_TEST_PG_SUPERUSER" \
        --exit-on-error --dbname="$dst" "$work/dump/$s.dump"
done
tap_ok "roles.sql.sh schemas applies to the restored database" su_psql "$dst" -f "$KT_TEST_SCHEMA_SQL"

after=$(digest "$dst")
if [ "$before" = "$after" ]; then
    tap_pass "every table has the same rows in the restored database ($tables tables)"
else
    tap_fail "every table has the same rows in the restored database" "$(diff <(echo "$before") <(echo "$after") | head -n 20)"
fi
owners=$(su_psql "$dst" -tA -c "SELECT string_agg(nspname || '=' || pg_get_userbyid(nspowner), ' ' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ($(printf "'%s'," "${SERVICES[@]}" | sed 's/,$//'))")
want=$(for s in "${SERVICES[@]}"; do printf '%s=kontor_%s\n' "$s" "$s"; done | sort | paste -sd' ' -)
tap_is "$owners" "$want" "each restored schema belongs to its service's role"
tap_is "$(as_role kontor_orders "$dst" -tA -c 'SELECT count(*) FROM orders.outbox')" "$EVENTS" \
    "the orders role reads its restored tables"
denied=$(as_role kontor_clients "$dst" -c 'SELECT count(*) FROM orders.outbox' 2>&1 || true)
tap_like "$denied" "permission denied for schema orders" "the clients role still cannot read the orders schema"

# ---------------------------------------------------------------- serve again
if start_set "$dst"; then
    tap_pass "the bus and the four services start on the restored database"
else
    tap_fail "the bus and the four services start on the restored database"
fi
reapplied=$(cat "$work"/log/*-"$dst".log | grep -c 'migrate .*: applied' || true)
tap_is "$reapplied" 0 "no migration is applied again on the restored database"
stop_all
tap_done
