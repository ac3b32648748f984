#!/usr/bin/env bash
# make-keys.sh - the keys and passwords docker-compose.yml mounts, made once.
#
#   deploy/docker/make-keys.sh [--no-chown] [DIR]      (DIR: deploy/docker/keys)
#
# Either through the image, with nothing built on the host (the usual way):
#
#   docker-compose build && docker-compose run --rm keygen
#
# or on the host, as root, with a kontor-keygen built there (make FLAVOUR=release all):
#
#   sudo deploy/docker/make-keys.sh
#
# Makes only what is missing, so a second run changes nothing; it never
# replaces a key or a password. What it makes, under DIR:
#
#   allow/<name>.cert        public certificates: the bus's allow-list (0644)
#   secret/<name>.secret     secret keys (0600): bus, clients, orders,
#                            logistics, receivables (owned by uid 10001, the
#                            image's `kontor` user) and admin (see below)
#   db/pgpass                the four service roles' passwords (a libpq
#                            passfile for host `postgres`, made by
#                            deploy/local/roles.sql.sh passfile), read by the
#                            PostgreSQL init script (uid 999, the postgres
#                            image's user)
#   db/<service>.pgpass      that service's line only: its KONTOR_PG_DSN passfile (uid 10001)
#   db/postgres.pass         the superuser's password (POSTGRES_PASSWORD_FILE; uid 999).
#                            The superuser may log in only over the container's
#                            unix socket (deploy/docker/initdb/10-kontor.sh).
#   redis/redis.conf         Redis's config with `requirepass` (uid 999, the redis image's user)
#   redis/redis.pass         the same password, read by the services as
#                            KONTOR_HOME/redis.pass (uid 10001)
#
# Ownership is what lets each container read its files, and only those: a
# bind-mounted file keeps its host owner and mode, libpq ignores a passfile
# that group or others can read, and Kontor warns about such a secret key.
# Hence root (the keygen service runs as root in the container). --no-chown
# skips it, for when the containers run as your uid (rootless Docker,
# user-namespace remapping) or you will chown yourself.
#
# The admin key is for people (`kontor status` and the CLI; docs/operations.md):
# it is given to KONTOR_KEYS_OWNER (uid[:gid]), or to the sudo caller when
# run with sudo; else it stays with whoever ran this (root in the container).
# More principals: kontor-keygen --public DIR/allow --secret DIR/secret NAME KIND [ID]
# (docs/security.md); the bus picks up a new .cert within about a second.
#
# Environment: KONTOR_KEYGEN (the kontor-keygen to run; default: on PATH,
# else build/release or build/debug of this checkout), KONTOR_UID (10001),
# KONTOR_DATA_UID (999), KONTOR_KEYS_OWNER.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# deploy/local next to deploy/docker: in the checkout, and in the keygen
# container (both mounted under /opt/kontor).
local_dir=$(cd "$here/../local" && pwd)
KL_PROG=make-keys
# shellcheck source=deploy/local/kontor-lib.sh
. "$local_dir/kontor-lib.sh"

usage() {
    echo "usage: $0 [--no-chown] [DIR]" >&2
    exit 2
}

chown_ok=1
dir=""
while [ $# -gt 0 ]; do
    case $1 in
        --no-chown) chown_ok=0 ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' && exit 0 ;;
        -*) usage ;;
        *) [ -z "$dir" ] || usage; dir=$1 ;;
    esac
    shift
done
dir=${dir:-$here/keys}

kontor_uid=${KONTOR_UID:-10001}
data_uid=${KONTOR_DATA_UID:-999}
for v in "$kontor_uid" "$data_uid"; do
    [[ $v =~ ^[0-9]+$ ]] || kl_die "KONTOR_UID and KONTOR_DATA_UID must be numbers: $v"
done
owner=${KONTOR_KEYS_OWNER:-}
if [ -z "$owner" ] && [ -n "${SUDO_UID:-}" ]; then
    owner=$SUDO_UID:${SUDO_GID:-$SUDO_UID}
fi
[ -z "$owner" ] || [[ $owner =~ ^[0-9]+(:[0-9]+)?$ ]] || kl_die "KONTOR_KEYS_OWNER must be uid or uid:gid: $owner"

if [ "$chown_ok" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    kl_die "needs root to give each file to the container user that reads it (uid $kontor_uid, $data_uid);
run it through the image (docker-compose run --rm keygen), with sudo, or with --no-chown"
fi

keygen=${KONTOR_KEYGEN:-}
if [ -z "$keygen" ]; then
    keygen=$(command -v kontor-keygen || true)
    for b in release debug; do
        [ -n "$keygen" ] || [ ! -x "$here/../../build/$b/bin/kontor-keygen" ] ||
            keygen=$here/../../build/$b/bin/kontor-keygen
    done
fi
if [ -z "$keygen" ] || [ ! -x "$keygen" ]; then
    kl_die "kontor-keygen not found: build it (make FLAVOUR=release all), set KONTOR_KEYGEN, or use docker-compose run --rm keygen"
fi

# give UID[:GID] MODE FILE...: owner and mode (owner skipped with --no-chown).
give() {
    local who=$1 mode=$2
    shift 2
    chmod "$mode" "$@"
    [ "$chown_ok" = 0 ] || [ -z "$who" ] || chown "$who" "$@"
}

# A bind mount whose source is missing makes Docker create an empty folder
# there (a `docker-compose up` before this script ran); take such a folder
# away so the file can be made.
unfold() {
    local f
    for f in "$@"; do
        if [ -d "$f" ]; then
            rmdir "$f" 2>/dev/null || kl_die "$f is a folder, not a file (Docker made it?); remove it and run again"
            kl_say "removed the empty folder $f (Docker makes one for a missing mount source)"
        fi
    done
}

# new_file PATH: true if PATH must be made (absent or an empty folder).
new_file() {
    unfold "$1"
    [ ! -e "$1" ]
}

made=()
mkdir -p "$dir/allow" "$dir/secret" "$dir/db" "$dir/redis"
chmod 0755 "$dir" "$dir/allow" "$dir/db" "$dir/redis"
chmod 0700 "$dir/secret"

# ---------------------------------------------------------------- CURVE keys
mapfile -t services < <(bash "$local_dir/roles.sql.sh" services)
principals=("bus service")
for s in "${services[@]}"; do principals+=("$s service"); done
principals+=("admin admin")

for line in "${principals[@]}"; do
    name=${line%% *}
    cert=$dir/allow/$name.cert
    secret=$dir/secret/$name.secret
    unfold "$cert" "$secret"
    if [ -e "$cert" ] && [ -e "$secret" ]; then
        continue
    elif [ -e "$cert" ] || [ -e "$secret" ]; then
        kl_die "half a key pair for $name in $dir (one of $name.cert, $name.secret); remove the other half and run again"
    fi
    # shellcheck disable=SC2086 # name and kind
    "$keygen" --public "$dir/allow" --secret "$dir/secret" $line >/dev/null ||
        kl_die "kontor-keygen failed for $name"
    if [ "$name" = admin ]; then
        give "$owner" 0600 "$secret"
    else
        give "$kontor_uid:$kontor_uid" 0600 "$secret"
    fi
    chmod 0644 "$cert"
    made+=("$name key")
done

# ---------------------------------------------------------------- PostgreSQL
if new_file "$dir/db/pgpass"; then
    (umask 077 && bash "$local_dir/roles.sql.sh" passfile postgres 5432 kontor >"$dir/db/pgpass.new")
    mv "$dir/db/pgpass.new" "$dir/db/pgpass"
    made+=("service role passwords")
fi
give "$data_uid:$data_uid" 0600 "$dir/db/pgpass"
for s in "${services[@]}"; do
    f=$dir/db/$s.pgpass
    if new_file "$f"; then
        (umask 077 && awk -F: -v r="kontor_$s" '$4 == r' "$dir/db/pgpass" >"$f.new")
        [ -s "$f.new" ] || kl_die "no line for kontor_$s in $dir/db/pgpass"
        mv "$f.new" "$f"
    fi
    give "$kontor_uid:$kontor_uid" 0600 "$f"
done
if new_file "$dir/db/postgres.pass"; then
    (umask 077 && kl_secret >"$dir/db/postgres.pass.new")
    mv "$dir/db/postgres.pass.new" "$dir/db/postgres.pass"
    made+=("superuser password")
fi
give "$data_uid:$data_uid" 0600 "$dir/db/postgres.pass"

# ---------------------------------------------------------------- Redis
if new_file "$dir/redis/redis.pass"; then
    (umask 077 && kl_secret >"$dir/redis/redis.pass.new")
    mv "$dir/redis/redis.pass.new" "$dir/redis/redis.pass"
    made+=("Redis password")
fi
give "$kontor_uid:$kontor_uid" 0600 "$dir/redis/redis.pass"
if new_file "$dir/redis/redis.conf"; then
    (
        umask 077
        cat >"$dir/redis/redis.conf.new" <<CONF
# Written by deploy/docker/make-keys.sh. Redis is a cache here, never the
# truth: no snapshots, no append-only file. Reached only on the compose network.
bind 0.0.0.0
port 6379
protected-mode yes
requirepass $(head -n 1 "$dir/redis/redis.pass")
appendonly no
save ""
CONF
    )
    mv "$dir/redis/redis.conf.new" "$dir/redis/redis.conf"
fi
give "$data_uid:$data_uid" 0600 "$dir/redis/redis.conf"

if [ ${#made[@]} -eq 0 ]; then
    echo "make-keys: everything was there already in $dir"
else
    echo "make-keys: made $(printf '%s, ' "${made[@]}" | sed 's/, $//') in $dir"
fi
