#!/usr/bin/env bash
# local_set.sh - the local set's data half (`make up` with KONTOR_LOCAL_ONLY_DATA=1):
# made once, reused, stopped exactly; least privilege as the services meet it.
#
# Runs deploy/local/kontor-local.sh with its own KONTOR_HOME under
# KT_TEST_TMP and free ports, so it never touches a developer's .kontor.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh
. "$KT_TEST_ROOT/tests/lib/tap.sh"
KL_PROG=local_set.sh
# shellcheck source=deploy/local/kontor-lib.sh
. "$KT_TEST_ROOT/deploy/local/kontor-lib.sh"

local_sh=$KT_TEST_ROOT/deploy/local/kontor-local.sh
export KONTOR_HOME=$KT_TEST_TMP/local_set/.kontor
export KONTOR_LOCAL_ONLY_DATA=1
kl_free_port KONTOR_PG_PORT
kl_free_port KONTOR_REDIS_PORT
export KONTOR_PG_PORT KONTOR_REDIS_PORT
mkdir -p "$(dirname "$KONTOR_HOME")"
# On the way out: stop what this test started; keep only logs (KT_KEEP=1: all).
# shellcheck disable=SC2317 # run by the EXIT trap
leave() {
    bash "$local_sh" down >/dev/null 2>&1 || true
    [ "${KT_KEEP:-0}" = 1 ] || rm -rf "$KONTOR_HOME/pg" "$KONTOR_HOME/redis"
}
trap leave EXIT
trap 'exit 143' TERM INT

table_pid() { awk -v p="$1" '$1 == p { print $2 }' <<<"$2"; }
as_role() {
    local role=$1
    shift
    PGPASSFILE=$KONTOR_HOME/pgpass psql -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$KONTOR_PG_PORT" -U "$role" -d kontor "$@"
}
redis() { redis-cli --no-auth-warning -h 127.0.0.1 -p "$KONTOR_REDIS_PORT" "$@"; }

out=$(bash "$local_sh" up 2>&1) || tap_bail "kontor-local.sh up failed: $out"
tap_like "$out" "postgres +[0-9]+ +$KONTOR_PG_PORT +yes" "up starts PostgreSQL on the chosen port"
tap_like "$out" "redis +[0-9]+ +$KONTOR_REDIS_PORT +yes" "up starts Redis on the chosen port"
pg_pid=$(table_pid postgres "$out")
redis_pid=$(table_pid redis "$out")

tap_is "$(stat -c %a "$KONTOR_HOME/pgpass") $(stat -c %a "$KONTOR_HOME/redis.pass")" "600 600" \
    "the passfile and the Redis password are readable by their owner only"
tap_is "$(stat -c %a "$KONTOR_HOME/pg/run")" 700 "the superuser socket folder is closed to others"
tap_is "$(as_role kontor_orders -tA -c 'SELECT current_user')" kontor_orders \
    "a service role logs in over TCP with its password from the passfile"
tap_ok "the orders role creates a table in its own schema" \
    as_role kontor_orders -c 'CREATE TABLE orders.kept (x int); INSERT INTO orders.kept VALUES (42)'
denied=$(as_role kontor_clients -c 'SELECT x FROM orders.kept' 2>&1 || true)
tap_like "$denied" "permission denied for schema orders" "the clients role cannot read the orders schema"
denied=$(as_role kontor_clients -c 'CREATE TABLE public.t (x int)' 2>&1 || true)
tap_like "$denied" "permission denied for schema public" "no role can create in public"
tap_fails "the superuser cannot log in over TCP" \
    psql -X -w -h 127.0.0.1 -p "$KONTOR_PG_PORT" -U postgres -d kontor -c 'SELECT 1'
tap_like "$(redis set k v 2>&1)" "NOAUTH" "Redis refuses a client without the password"
tap_is "$(REDISCLI_AUTH=$(cat "$KONTOR_HOME/redis.pass") redis config get bind | tail -n 1)" \
    127.0.0.1 "Redis listens on loopback only"

out=$(bash "$local_sh" up 2>&1) || tap_bail "second up failed: $out"
tap_is "$(table_pid postgres "$out") $(table_pid redis "$out")" "$pg_pid $redis_pid" \
    "a second up leaves the running servers alone"

tap_ok "down stops the set" bash "$local_sh" down
# shellcheck disable=SC2317 # called through tap_ok
gone() { ! kl_is_proc "$pg_pid" postgres && ! kl_is_proc "$redis_pid" redis-server; }
tap_ok "PostgreSQL and Redis are gone after down" gone

out=$(bash "$local_sh" up 2>&1) || tap_bail "up after down failed: $out"
tap_is "$(as_role kontor_orders -tA -c 'SELECT x FROM orders.kept')" 42 \
    "up after down reuses the cluster and its data"
tap_ok "down stops it again" bash "$local_sh" down
tap_done
