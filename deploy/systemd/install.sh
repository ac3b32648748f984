#!/usr/bin/env bash
# install.sh - Kontor on a branch server: the whole set on one machine under
# systemd, with the distribution's PostgreSQL and Redis.
#
#   deploy/systemd/install.sh [--dry-run] [--destdir DIR] [BUILD_DIR]
#
# BUILD_DIR (default: build/release of this checkout; make FLAVOUR=release
# all) holds bin/kontor-*. As root, and idempotent: run it again after a new
# build (it replaces changed binaries and units, nothing else) or after
# starting PostgreSQL. It never replaces a key, a password or kontor.env,
# and it starts nothing: `systemctl start kontor.target` does.
#
#   --dry-run      say what would be done, change nothing (no root needed)
#   --destdir DIR  stage the files under DIR (packaging, tests): no user,
#                  no ownership, no database, no Redis, no systemctl
#
# What it does, each step only if needed:
#   1. the system user and group `kontor` (no login, no home)
#   2. /usr/local/bin/kontor-*; docs/operations.md in /usr/local/share/doc/kontor
#   3. /etc/kontor (0750 root:kontor): kontor.env (from deploy/systemd/kontor.env),
#      keys/allow (the bus's allow-list, root's), keys/secret (one key per
#      process, 0600 kontor; admin's 0600 root) made with kontor-keygen,
#      db/pgpass (the four roles' passwords, root's; deploy/local/roles.sql.sh
#      passfile) and db/<service>.pgpass (0600 kontor), redis.pass (0600 kontor)
#   4. the units kontor-bus.service, kontor@.service, kontor.target in
#      /etc/systemd/system; daemon-reload; enable kontor.target
#   5. PostgreSQL (if it answers on its socket): database kontor, the roles
#      and schemas printed by deploy/local/roles.sql.sh (passwords: db/pgpass)
#   6. Redis (/etc/redis/redis.conf): requirepass from redis.pass in a marked
#      block at the end; redis-server is restarted if it was running and the
#      block changed
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
KL_PROG=install.sh
# shellcheck source=deploy/local/kontor-lib.sh
. "$repo/deploy/local/kontor-lib.sh"

dry=0
destdir=""
build=""
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry=1 ;;
        --destdir)
            [ $# -ge 2 ] || kl_die "--destdir needs a folder"
            destdir=$2
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*) kl_die "unknown option $1 (try --help)" ;;
        *)
            [ -z "$build" ] || kl_die "one build folder only"
            build=$1
            ;;
    esac
    shift
done
build=${build:-$repo/build/release}
[ -x "$build/bin/kontor-bus" ] || kl_die "no $build/bin/kontor-bus: build first (make FLAVOUR=release all) or name the build folder"
build=$(cd "$build" && pwd)
if [ -n "$destdir" ]; then
    destdir=$(realpath -m "$destdir")
    [ "$dry" = 1 ] || mkdir -p "$destdir"
fi
if [ "$dry" = 0 ] && [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
    kl_die "run it as root (or with --dry-run, or --destdir)"
fi
# Only a real install touches users, ownership, services and servers.
real=0
if [ "$dry" = 0 ] && [ -z "$destdir" ]; then real=1; fi

R=$destdir # prefix of every path written
ETC=$R/etc/kontor
BIN=$R/usr/local/bin
DOC=$R/usr/local/share/doc/kontor
UNITS=$R/etc/systemd/system
USER_NAME=kontor
PG_DB=kontor
mapfile -t SERVICES < <(bash "$repo/deploy/local/roles.sql.sh" services)
changed_units=0
redis_restart=0

say() { printf 'install.sh: %s\n' "$*"; }

# act DESCRIPTION CMD...: run CMD, or only say it with --dry-run.
act() {
    local what=$1
    shift
    if [ "$dry" = 1 ]; then
        say "would $what"
    else
        say "$what"
        "$@"
    fi
}

# own USER:GROUP MODE PATH...: mode always, owner on a real install only.
own() {
    local who=$1 mode=$2
    shift 2
    [ "$dry" = 1 ] && return 0
    chmod "$mode" "$@"
    [ "$real" = 0 ] || chown "$who" "$@"
}

# put SRC DEST MODE OWNER: copy SRC to DEST if DEST is missing or differs.
put() {
    local src=$1 dest=$2 mode=$3 who=$4
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        own "$who" "$mode" "$dest"
        return 1
    fi
    act "install $dest" install -m "$mode" "$src" "$dest"
    own "$who" "$mode" "$dest"
    return 0
}

# dir PATH MODE OWNER
dir() {
    [ -d "$1" ] || act "create $1/" mkdir -p "$1"
    own "$3" "$2" "$1"
}

# ---------------------------------------------------------------- 1. user
if [ -z "$destdir" ]; then
    if getent passwd "$USER_NAME" >/dev/null; then
        :
    else
        act "create the system user $USER_NAME" \
            useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin --comment "Kontor services" "$USER_NAME"
    fi
fi

# ---------------------------------------------------------------- 2. binaries
dir "$BIN" 0755 root:root
for f in "$build"/bin/kontor*; do
    if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
    put "$f" "$BIN/${f##*/}" 0755 root:root || true
done
if [ -f "$repo/docs/operations.md" ]; then
    dir "$DOC" 0755 root:root
    put "$repo/docs/operations.md" "$DOC/operations.md" 0644 root:root || true
fi

# ---------------------------------------------------------------- 3. /etc/kontor
dir "$ETC" 0750 "root:$USER_NAME"
dir "$ETC/keys" 0750 "root:$USER_NAME"
dir "$ETC/keys/allow" 0755 root:root
dir "$ETC/keys/secret" 0750 "root:$USER_NAME"
dir "$ETC/db" 0750 "root:$USER_NAME"
if [ ! -e "$ETC/kontor.env" ]; then
    put "$here/kontor.env" "$ETC/kontor.env" 0640 "root:$USER_NAME" || true
fi

# Keys: the bus and each service (owned by kontor), admin (root's, for the CLI).
keygen=$build/bin/kontor-keygen
# It prints the public key; the key files are what matters here.
keygen_quiet() { "$keygen" "$@" >/dev/null; }
principals=("bus service")
for s in "${SERVICES[@]}"; do principals+=("$s service"); done
principals+=("admin admin")
for line in "${principals[@]}"; do
    name=${line%% *}
    cert=$ETC/keys/allow/$name.cert
    secret=$ETC/keys/secret/$name.secret
    if [ -e "$cert" ] && [ -e "$secret" ]; then
        :
    elif [ -e "$cert" ] || [ -e "$secret" ]; then
        kl_die "half a key pair for $name ($cert, $secret): remove the other half and run again"
    else
        # shellcheck disable=SC2086 # name and kind
        act "make the key of $name" keygen_quiet --public "$ETC/keys/allow" --secret "$ETC/keys/secret" $line
    fi
    [ "$dry" = 1 ] && continue
    own root:root 0644 "$cert"
    if [ "$name" = admin ]; then
        own root:root 0600 "$secret"
    else
        own "$USER_NAME:$USER_NAME" 0600 "$secret"
    fi
done
own root:root 0755 "$ETC/keys/allow"
own "root:$USER_NAME" 0750 "$ETC/keys/secret"

# Passwords: the four roles' (a libpq passfile for 127.0.0.1:5432), one
# passfile per service holding its own line, and Redis's.
if [ ! -s "$ETC/db/pgpass" ]; then
    if [ "$dry" = 1 ]; then
        say "would make $ETC/db/pgpass (roles.sql.sh passfile 127.0.0.1 5432 $PG_DB)"
    else
        say "make $ETC/db/pgpass"
        (umask 077 && bash "$repo/deploy/local/roles.sql.sh" passfile 127.0.0.1 5432 "$PG_DB" >"$ETC/db/pgpass.new")
        mv "$ETC/db/pgpass.new" "$ETC/db/pgpass"
    fi
fi
own root:root 0600 "$ETC/db/pgpass"
for s in "${SERVICES[@]}"; do
    if [ "$dry" = 1 ]; then
        [ -s "$ETC/db/$s.pgpass" ] || say "would make $ETC/db/$s.pgpass (its line of db/pgpass)"
        continue
    fi
    tmp=$(mktemp)
    awk -F: -v r="kontor_$s" '$4 == r' "$ETC/db/pgpass" >"$tmp"
    [ -s "$tmp" ] || kl_die "no line for kontor_$s in $ETC/db/pgpass"
    put "$tmp" "$ETC/db/$s.pgpass" 0600 "$USER_NAME:$USER_NAME" || true
    rm -f "$tmp"
done
if [ ! -s "$ETC/redis.pass" ]; then
    if [ "$dry" = 1 ]; then
        say "would make $ETC/redis.pass"
    else
        say "make $ETC/redis.pass"
        (umask 077 && kl_secret >"$ETC/redis.pass.new")
        mv "$ETC/redis.pass.new" "$ETC/redis.pass"
    fi
fi
own "$USER_NAME:$USER_NAME" 0600 "$ETC/redis.pass"

# ---------------------------------------------------------------- 4. units
dir "$UNITS" 0755 root:root
for u in kontor-bus.service kontor@.service kontor.target; do
    if put "$here/$u" "$UNITS/$u" 0644 root:root; then changed_units=1; fi
done
if [ -z "$destdir" ]; then
    if [ -d /run/systemd/system ]; then
        [ "$changed_units" = 0 ] || act "reload systemd" systemctl daemon-reload
        if ! systemctl is-enabled --quiet kontor.target 2>/dev/null; then
            units=(kontor.target kontor-bus.service)
            for s in "${SERVICES[@]}"; do units+=("kontor@$s.service"); done
            act "enable kontor.target (and through it the bus and services)" systemctl enable "${units[@]}"
        fi
    else
        say "systemd is not running here: enable later with systemctl enable kontor.target"
    fi
fi

# ---------------------------------------------------------------- 5. PostgreSQL
as_pg() { (cd / && runuser -u postgres -- "$@"); }
if [ -z "$destdir" ]; then
    if command -v pg_isready >/dev/null && as_pg pg_isready -q 2>/dev/null; then
        if [ -z "$(as_pg psql -X -tA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
            act "create database $PG_DB" as_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $PG_DB"
        fi
        if [ "$dry" = 1 ]; then
            say "would apply roles.sql.sh roles and schemas to database $PG_DB (idempotent)"
        else
            say "apply the roles and schemas (deploy/local/roles.sql.sh) to database $PG_DB"
            bash "$repo/deploy/local/roles.sql.sh" roles "$ETC/db/pgpass" |
                PGOPTIONS="-c client_min_messages=warning" as_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres -f -
            bash "$repo/deploy/local/roles.sql.sh" schemas |
                PGOPTIONS="-c client_min_messages=warning" as_pg psql -X -q -v ON_ERROR_STOP=1 -d "$PG_DB" -f -
        fi
    else
        say "PostgreSQL does not answer on its socket: start it (systemctl start postgresql) and run install.sh again for the database step"
    fi
fi

# ---------------------------------------------------------------- 6. Redis
redis_conf=/etc/redis/redis.conf
if [ -z "$destdir" ]; then
    if [ -f "$redis_conf" ]; then
        begin="# BEGIN kontor (deploy/systemd/install.sh; the password is /etc/kontor/redis.pass)"
        end="# END kontor"
        if [ "$dry" = 1 ] && [ ! -s "$ETC/redis.pass" ]; then
            say "would set requirepass in $redis_conf"
        else
            block=$(printf '%s\nrequirepass %s\n%s' "$begin" "$(head -n 1 "$ETC/redis.pass")" "$end")
            current=$(awk -v b="$begin" -v e="$end" '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' "$redis_conf")
            if [ "$current" != "$block" ]; then
                if [ "$dry" = 1 ]; then
                    say "would set requirepass in $redis_conf (a marked block at its end)"
                else
                    say "set requirepass in $redis_conf"
                    tmp=$(mktemp)
                    awk -v b="$begin" -v e="$end" '$0 == b { on = 1 } !on { print } $0 == e { on = 0 }' "$redis_conf" >"$tmp"
                    printf '%s\n' "$block" >>"$tmp"
                    cat "$tmp" >"$redis_conf" # in place: keeps its owner and mode
                    rm -f "$tmp"
                    redis_restart=1
                fi
            fi
            if grep -Eq '^[[:space:]]*requirepass[[:space:]]' <(awk -v b="$begin" -v e="$end" '$0 == b { on = 1 } !on { print } $0 == e { on = 0 }' "$redis_conf"); then
                say "note: $redis_conf sets requirepass outside Kontor's block too; Redis uses the last one (Kontor's)"
            fi
        fi
        if [ "$redis_restart" = 1 ] && [ -d /run/systemd/system ] && systemctl is-active --quiet redis-server; then
            act "restart redis-server (a cache: it starts empty and is refilled)" systemctl restart redis-server
        fi
    else
        say "no $redis_conf: install redis-server, or set requirepass to the contents of $ETC/redis.pass in your Redis"
    fi
fi

if [ "$dry" = 1 ]; then
    say "dry run: nothing was changed"
elif [ -n "$destdir" ]; then
    say "staged under $destdir"
else
    say "done. Start: systemctl start kontor.target; then: systemctl status 'kontor*', curl -fsS 127.0.0.1:18080/readyz"
fi
