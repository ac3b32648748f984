# shellcheck shell=bash
# kontor-lib.sh - shell helpers shared by the local set and the test runner.
#
# Sourced (not run) by deploy/local/kontor-local.sh and tests/run.sh, both under
# `set -euo pipefail`. Set KL_PROG to the caller's name before sourcing; it
# prefixes every message. Functions are named kl_*; nothing runs on source.
#
# PostgreSQL refuses to run as root. When the caller is root the server runs
# as the `postgres` user (runuser) and owns its data and socket folders; as
# anyone else it runs as that user. The superuser role is always "postgres"
# and is reachable only over the unix socket, whose folder and socket are
# mode 0700 (so only the server's user and root can use it); TCP takes only
# the service roles, with scram-sha-256 passwords.

: "${KL_PROG:=kontor}"

kl_say() { printf '%s: %s\n' "$KL_PROG" "$*" >&2; }
kl_die() {
    kl_say "$*"
    exit 1
}

# ---------------------------------------------------------------- waiting

# kl_wait_until SECONDS CMD...: run CMD every 50 ms until it succeeds (0) or
# SECONDS have passed (1). For readiness probes only; never a fixed sleep.
kl_wait_until() {
    local secs=$1 deadline
    shift
    deadline=$((${EPOCHREALTIME/./} + secs * 1000000))
    while ! "$@"; do
        [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# ---------------------------------------------------------------- processes

# True if PID is a live (not zombie) process whose name is NAME (compared as
# the kernel keeps it: at most 15 characters).
kl_is_proc() {
    local pid=$1 name=$2 comm state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "${name:0:15}" ] || return 1
    state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

kl_gone() { ! kl_is_proc "$1" "$2"; }

# kl_stop_pid PID NAME SIGNAL SECONDS: send SIGNAL to PID if it is still NAME,
# wait up to SECONDS for it to exit, then SIGKILL it. Returns 0 if it exited
# by itself, 1 if it had to be killed.
kl_stop_pid() {
    local pid=$1 name=$2 sig=$3 secs=$4
    kl_is_proc "$pid" "$name" || return 0
    kill -s "$sig" "$pid" 2>/dev/null || true
    kl_wait_until "$secs" kl_gone "$pid" "$name" && return 0
    kl_say "$name (pid $pid) did not stop within $secs s of SIG$sig; killing it"
    kill -s KILL "$pid" 2>/dev/null || true
    kl_wait_until 5 kl_gone "$pid" "$name" || kl_say "$name (pid $pid) survived SIGKILL"
    return 1
}

# ---------------------------------------------------------------- ports

# True if something on 127.0.0.1 holds TCP port PORT (listening or otherwise).
kl_port_busy() {
    local port=$1
    if command -v ss >/dev/null; then
        [ -n "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] && return 0
    fi
    # Also a connect probe: it is what matters for a listener.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# kl_free_port VAR: set VAR to a TCP port that nothing holds now, chosen at
# random below the kernel's ephemeral range and not in KL_PORTS_TAKEN
# (space-separated), and add it there. Servers started on it still check the
# bind themselves.
KL_PORTS_TAKEN=""
kl_free_port() {
    local var=$1 _kl_try _kl_port
    for _kl_try in $(seq 1 200); do
        _kl_port=$((20000 + RANDOM % 12000))
        case " $KL_PORTS_TAKEN " in *" $_kl_port "*) continue ;; esac
        kl_port_busy "$_kl_port" && continue
        KL_PORTS_TAKEN+=" $_kl_port"
        printf -v "$var" '%s' "$_kl_port"
        return 0
    done
    kl_die "no free TCP port found on 127.0.0.1 after $_kl_try tries"
}

# ---------------------------------------------------------------- secrets

# A random secret of 32 letters and digits (nothing to quote anywhere).
kl_secret() {
    local s=""
    while [ ${#s} -lt 32 ]; do
        s+=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    done
    printf '%s' "${s:0:32}"
}

# ---------------------------------------------------------------- PostgreSQL

kl_pg_bindir() {
    local d
    d=$(pg_config --bindir 2>/dev/null) || d=""
    if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
        d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    [ -x "$d/initdb" ] || kl_die "PostgreSQL server binaries not found (pg_config --bindir); run make deps"
    printf '%s\n' "$d"
}

# The OS user that runs the server.
kl_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Run a command as the server's user, from / (the caller's folder may be one
# that user cannot enter).
kl_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# kl_grant_traverse DIR: make sure the server's user can reach DIR. Walks
# from / down to DIR and adds o+x to each folder it cannot traverse (a
# checkout inside a 0700 `mktemp -d` folder is the usual case), saying so.
kl_grant_traverse() {
    local dir=$1 path="" part
    [ "$(id -u)" -eq 0 ] || return 0
    local IFS=/
    for part in $dir; do
        [ -n "$part" ] || continue
        path+="/$part"
        [ -d "$path" ] || break
        if ! runuser -u postgres -- test -x "$path" 2>/dev/null; then
            kl_say "adding o+x to $path so the postgres user can reach $dir"
            chmod o+x "$path"
        fi
    done
}

# kl_pg_conf DATA RUN PORT FSYNC: (re)write DATA/kontor.conf, which
# postgresql.conf includes; written at every start so a changed port applies.
kl_pg_conf() {
    local data=$1 run=$2 port=$3 fsync=$4
    case "$run" in *"'"* | *\\*) kl_die "socket folder path must not contain quotes or backslashes: $run" ;; esac
    # sun_path holds 107 bytes.
    [ $((${#run} + 18)) -le 107 ] || kl_die "socket path too long for a unix socket: $run (set KONTOR_HOME to a shorter folder)"
    cat >"$data/kontor.conf" <<CONF
# Written by kontor-lib.sh at every start; edit postgresql.conf for your own settings.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
unix_socket_permissions = 0700
fsync = $fsync
max_connections = 200
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = off
CONF
    chown "$(kl_pg_user)" "$data/kontor.conf"
    chmod 0600 "$data/kontor.conf"
}

# kl_pg_init DATA RUN LOGFILE: a new cluster in DATA (which must be absent or
# empty). The superuser "postgres" has no password and may log in only over
# the unix socket in RUN; service roles log in over TCP with scram-sha-256.
kl_pg_init() {
    local data=$1 run=$2 logfile=$3 owner bindir out
    owner=$(kl_pg_user)
    bindir=$(kl_pg_bindir)
    mkdir -p "$data" "$run" "$(dirname "$logfile")"
    chown "$owner" "$data" "$run"
    chmod 0700 "$data" "$run"
    kl_grant_traverse "$data"
    kl_grant_traverse "$run"
    kl_grant_traverse "$(dirname "$logfile")"
    out=$(kl_as_pg "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --no-instructions 2>&1) ||
        {
            printf '%s\n' "$out" >&2
            kl_die "initdb failed in $data"
        }
    # Only these three lines: superuser on the socket, service roles on
    # loopback TCP with a password, and nothing else (no superuser over TCP).
    cat >"$data/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 trust
host    all       postgres  0.0.0.0/0      reject
host    all       all       127.0.0.1/32   scram-sha-256
HBA
    echo "include_if_exists = 'kontor.conf'" >>"$data/postgresql.conf"
    chown "$owner" "$data/pg_hba.conf" "$data/postgresql.conf"
}

kl_pg_running() {
    [ -s "$1/postmaster.pid" ] || return 1
    kl_as_pg "$(kl_pg_bindir)/pg_ctl" status -D "$1" >/dev/null 2>&1
}

# kl_pg_start DATA LOGFILE: start the server and wait until it accepts
# connections (pg_ctl -w polls for that). Returns 1, after showing the end of
# the log, if it did not start (a port taken since it was chosen, say).
kl_pg_start() {
    local data=$1 logfile=$2 owner
    owner=$(kl_pg_user)
    touch "$logfile"
    chown "$owner" "$logfile"
    chmod 0640 "$logfile"
    kl_as_pg "$(kl_pg_bindir)/pg_ctl" start -D "$data" -l "$logfile" -w -t 60 -s >/dev/null 2>&1 && return 0
    kl_say "PostgreSQL did not start; last lines of $logfile:"
    tail -n 20 "$logfile" >&2 || true
    return 1
}

# kl_pg_pid DATA: the postmaster's pid.
kl_pg_pid() { head -n 1 "$1/postmaster.pid" 2>/dev/null; }

# kl_pg_stop DATA: fast shutdown (rolls back open transactions), bounded;
# immediate if that does not finish.
kl_pg_stop() {
    local data=$1 bindir
    bindir=$(kl_pg_bindir)
    kl_pg_running "$data" || return 0
    kl_as_pg "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 30 -s >/dev/null 2>&1 && return 0
    kl_say "PostgreSQL in $data did not stop within 30 s; stopping it immediately"
    kl_as_pg "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 30 -s >/dev/null 2>&1
}

# kl_psql RUN PORT DB [psql args...]: psql as the superuser over the socket,
# stopping at the first error.
kl_psql() {
    local run=$1 port=$2 db=$3
    shift 3
    PGAPPNAME=kontor-setup PGOPTIONS="-c client_min_messages=warning" "$(kl_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$run" -p "$port" -U postgres -d "$db" "$@"
}

# ---------------------------------------------------------------- Redis

# kl_redis_conf FILE PORT PASSWORD DIR PIDFILE LOGFILE: a loopback-only,
# password-protected cache: no snapshots, no append-only file.
kl_redis_conf() {
    local file=$1 port=$2 pass=$3 dir=$4 pidfile=$5 logfile=$6
    (
        umask 077
        cat >"$file" <<CONF
# Written by kontor-lib.sh; Redis is a cache here, never the truth.
bind 127.0.0.1
port $port
protected-mode yes
requirepass $pass
dir $dir
daemonize yes
pidfile $pidfile
logfile $logfile
appendonly no
save ""
CONF
    )
}

kl_redis_ping() {
    local port=$1 pass=$2
    [ "$(REDISCLI_AUTH=$pass redis-cli --no-auth-warning -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]
}

kl_redis_pidfile_ready() { [ -s "$1" ]; }

# kl_redis_start CONF PORT PASSWORD PIDFILE LOGFILE: start the daemon, wait
# until it answers PING and has written its pid file. Returns 1, after showing
# the end of the log, if it did not.
kl_redis_start() {
    local conf=$1 port=$2 pass=$3 pidfile=$4 logfile=$5
    command -v redis-server >/dev/null || kl_die "redis-server not found; run make deps"
    if redis-server "$conf" >/dev/null 2>&1 && kl_wait_until 30 kl_redis_ping "$port" "$pass" &&
        kl_wait_until 5 kl_redis_pidfile_ready "$pidfile"; then
        return 0
    fi
    kl_say "Redis did not answer on 127.0.0.1:$port within 30 s; last lines of $logfile:"
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    return 1
}
