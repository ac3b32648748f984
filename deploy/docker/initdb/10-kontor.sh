#!/usr/bin/env bash
# 10-kontor.sh - Kontor's roles and schemas in the postgres container.
#
# Run by the postgres image's entrypoint once, when it creates the cluster
# (mounted at /docker-entrypoint-initdb.d by docker-compose.yml), as the
# postgres user over the unix socket. The SQL is not written here: it is what
# deploy/local/roles.sql.sh prints (mounted at /opt/kontor/local), the one
# source the local set, the tests and the benchmarks use too:
#
#   roles PASSFILE   the four LOGIN roles kontor_<service>, with the passwords
#                    of KONTOR_PGPASS (deploy/docker/keys/db/pgpass)
#   schemas          one schema per service owned by its role, CONNECT for the
#                    roles only, nothing for PUBLIC
#
# Then, as in the local set, the superuser may not log in over TCP (only over
# the container's socket: `docker-compose exec postgres psql -U postgres kontor`).
#
# Idempotent: run it again to apply a changed passfile (roles.sql.sh resets
# the passwords to the file's) or after a restore into a fresh volume:
#
#   docker-compose exec postgres /docker-entrypoint-initdb.d/10-kontor.sh
#
# Migrations are not applied here: each service applies its own at start.

kontor_init() {
    local roles_sql=${KONTOR_ROLES_SQL:-/opt/kontor/local/roles.sql.sh}
    local passfile=${KONTOR_PGPASS:-/run/kontor/pgpass}
    local superuser=${POSTGRES_USER:-postgres}
    local db=${POSTGRES_DB:-kontor}
    local hba tmp rule
    psql_su() {
        PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 --no-password \
            --username "$superuser" "$@"
    }
    [ -r "$roles_sql" ] || { echo "10-kontor.sh: cannot read $roles_sql (is deploy/local mounted?)" >&2; return 1; }
    [ -r "$passfile" ] || { echo "10-kontor.sh: cannot read $passfile (run deploy/docker/make-keys.sh first)" >&2; return 1; }

    if [ -z "$(psql_su --dbname postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        psql_su --dbname postgres -c "CREATE DATABASE \"$db\""
    fi
    bash "$roles_sql" roles "$passfile" | psql_su --dbname postgres -f -
    bash "$roles_sql" schemas | psql_su --dbname "$db" -f -

    # First matching line wins: this one, first, keeps the superuser off TCP.
    # The file is rewritten in place (cat >), so it keeps its owner.
    rule="host all $superuser all reject"
    hba=$(psql_su --dbname postgres -tA -c 'SHOW hba_file')
    if ! grep -qxF "$rule" "$hba"; then
        tmp=$(mktemp)
        { echo "# Kontor (10-kontor.sh): the superuser only over the unix socket"; echo "$rule"; cat "$hba"; } >"$tmp"
        cat "$tmp" >"$hba"
        rm -f "$tmp"
        psql_su --dbname postgres -tA -c 'SELECT pg_reload_conf()' >/dev/null
    fi
    echo "10-kontor.sh: roles and schemas of $(bash "$roles_sql" services | paste -sd' ' -) in database $db"
}

# The entrypoint sources a script that is not executable: a subshell keeps
# these options out of the entrypoint's shell either way.
(
    set -euo pipefail
    kontor_init
)
