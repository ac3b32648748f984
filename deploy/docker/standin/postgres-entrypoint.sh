#!/usr/bin/env bash
# The official postgres image's entrypoint, reduced to what
# docker-compose.yml uses: POSTGRES_USER, POSTGRES_DB,
# POSTGRES_PASSWORD_FILE, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD,
# and /docker-entrypoint-initdb.d/*.sh run once, when the cluster is made,
# against a server that listens on its unix socket only.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups bash "$0" "$@"
fi

: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
export POSTGRES_USER POSTGRES_DB
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password=""
    [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && password=$(cat "$POSTGRES_PASSWORD_FILE")
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS holds several arguments
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$password") \
        ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
    printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                echo "running $f"
                if [ -x "$f" ]; then "$f"; else
                    # shellcheck disable=SC1090
                    . "$f"
                fi ;;
            *.sql)
                echo "running $f"
                psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
                    --dbname "$POSTGRES_DB" -f "$f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi
if [ "${1:-}" = postgres ]; then shift; fi
exec postgres -c listen_addresses='*' "$@"
