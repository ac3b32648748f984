#!/usr/bin/env bash
# roles.sql.sh - the one source of Kontor's PostgreSQL roles, schemas and rights.
#
# The local set (kontor-local.sh) and the test harness (tests/run.sh, then
# tests/lib/kt_harness.c per test database) both make their roles and schemas
# from what this prints, so what the tests check is what `make up` runs.
#
#   roles.sql.sh services                  the service names, one per line
#   roles.sql.sh passfile HOST PORT DB     a fresh libpq passfile: one random
#                                          password per service role (DB may be '*')
#   roles.sql.sh roles PASSFILE            cluster-wide SQL (run once per cluster,
#                                          as superuser): the LOGIN roles, with the
#                                          passwords read from PASSFILE
#   roles.sql.sh schemas                   per-database SQL (run as superuser while
#                                          connected to the database): one schema per
#                                          service owned by its role, CONNECT for the
#                                          roles only, nothing for PUBLIC
#
# Everything printed is idempotent: running it again on an existing cluster or
# database changes nothing except resetting the passwords to the passfile's.
#
# Least privilege: each kontor_<svc> role owns schema <svc> and has no right
# on any other schema (a new schema grants PUBLIC nothing), cannot create in
# public, is not a superuser and cannot create databases or roles. Its
# search_path is its own schema. Migrations are not applied here: each
# service applies its own at start (kt_pg_migrate).
set -euo pipefail

KL_PROG=roles.sql.sh
# shellcheck source=deploy/local/kontor-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/kontor-lib.sh"

KONTOR_SERVICES=(clients orders logistics receivables)

s_die() {
    kl_say "$*"
    exit 2
}

s_passfile() {
    local host=$1 port=$2 db=$3 s
    for s in "${KONTOR_SERVICES[@]}"; do
        printf '%s:%s:%s:kontor_%s:%s\n' "$host" "$port" "$db" "$s" "$(kl_secret)"
    done
}

# Password of role $2 in passfile $1 (the last field; our passwords never
# contain ':' or '\').
s_password_of() {
    local file=$1 role=$2 pw
    pw=$(awk -F: -v r="$role" '$4 == r { print $5; exit }' "$file")
    [ -n "$pw" ] || s_die "no password for $role in $file"
    [[ $pw =~ ^[A-Za-z0-9]+$ ]] || s_die "password for $role in $file is not letters and digits"
    printf '%s' "$pw"
}

s_roles() {
    local file=$1 s role pw
    [ -r "$file" ] || s_die "cannot read passfile: $file"
    for s in "${KONTOR_SERVICES[@]}"; do
        role="kontor_$s"
        pw=$(s_password_of "$file" "$role")
        cat <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '$role') THEN
        CREATE ROLE $role;
    END IF;
END \$\$;
ALTER ROLE $role WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    INHERIT PASSWORD '$pw';
ALTER ROLE $role SET search_path = $s;
SQL
    done
}

s_schemas() {
    local s
    # REVOKE/GRANT ON DATABASE need the database's name; current_database()
    # keeps this text the same for every database it is run in.
    cat <<'SQL'
DO $$ BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
END $$;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
    for s in "${KONTOR_SERVICES[@]}"; do
        cat <<SQL
DO \$\$ BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO kontor_$s', current_database());
END \$\$;
CREATE SCHEMA IF NOT EXISTS $s AUTHORIZATION kontor_$s;
ALTER SCHEMA $s OWNER TO kontor_$s;
REVOKE ALL ON SCHEMA $s FROM PUBLIC;
SQL
    done
}

case "${1:-}" in
    services) printf '%s\n' "${KONTOR_SERVICES[@]}" ;;
    passfile) [ $# -eq 4 ] || s_die "usage: roles.sql.sh passfile HOST PORT DB"; s_passfile "$2" "$3" "$4" ;;
    roles) [ $# -eq 2 ] || s_die "usage: roles.sql.sh roles PASSFILE"; s_roles "$2" ;;
    schemas) [ $# -eq 1 ] || s_die "usage: roles.sql.sh schemas"; s_schemas ;;
    *) s_die "usage: roles.sql.sh services | passfile HOST PORT DB | roles PASSFILE | schemas" ;;
esac
