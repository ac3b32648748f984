#!/usr/bin/env bash
# check-image.sh - build the Kontor image on a machine with no registry
# access (no Docker Hub; only a Debian package mirror), and check it.
#
#   deploy/docker/check-image.sh [--tag TAG] [--no-build] [--compose]
#
# 1. The base image. The Dockerfile starts FROM debian:bookworm-slim; when
#    the engine does not have it (and cannot pull it), this makes it with
#    debootstrap --variant=minbase from the Debian mirror and `docker
#    import`s it under that tag: a Debian 12 root with the slim image's
#    dpkg excludes (no manuals, docs, locales) and apt sources for
#    bookworm, bookworm-updates and bookworm-security.
# 2. `docker build` of the Dockerfile (tag: kontor:0.1.0, or --tag), timed.
# 3. Checks of the image: it runs as uid 10001 (not root); every process
#    answers --help; every binary's libraries resolve; no compiler, make,
#    pkg-config or -dev package is in it; its size.
# 4. With --compose: stand-ins for postgres:15-bookworm and redis:7-bookworm
#    when the engine lacks them (deploy/docker/standin/, from Debian's
#    postgresql-15 and redis-server), then docker-compose.yml brought up with
#    a copy of its network set to the host's (see below), every Kontor
#    container waited for until healthy (/readyz), and `kontor status` run
#    in the image as admin; then `down -v`.
#
# Needs: root (debootstrap, chroot), debootstrap, a running dockerd
# (DOCKER_HOST is honoured), docker-compose for --compose. Not part of
# `make test`: a cold run takes minutes (docs/operations.md, "Building the
# image without a registry", has the figures).
#
# Environment: KONTOR_BUILD_NETWORK (host: `docker build --network`),
# KONTOR_DEBIAN_MIRROR (http://deb.debian.org/debian),
# KONTOR_DEBIAN_SECURITY (http://deb.debian.org/debian-security),
# KONTOR_BASE_IMAGE (debian:bookworm-slim).
# Single-quoted scripts below run in the container, expanded there.
# shellcheck disable=SC2016
set -euo pipefail

cd "$(dirname "$0")/../.."
TAG=kontor:0.1.0
BUILD=1
COMPOSE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) TAG="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --compose) COMPOSE=1; shift ;;
        -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "check-image.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
MIRROR=${KONTOR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${KONTOR_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
BASE=${KONTOR_BASE_IMAGE:-debian:bookworm-slim}
# The build's apt-get needs the mirror: on the host's network, which works
# whether or not the engine has a bridge (dockerd --bridge=none has none).
NETWORK=${KONTOR_BUILD_NETWORK:-host}

say() { printf '== %s\n' "$*"; }
fail() { printf 'check-image.sh: %s\n' "$*" >&2; exit 1; }
failures=0
check() {   # check WHAT COMMAND...: run it, report ok/FAIL
    local what="$1"; shift
    if "$@"; then printf 'ok   %s\n' "$what"; else printf 'FAIL %s\n' "$what"; failures=$((failures + 1)); fi
}

docker info >/dev/null 2>&1 || fail "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}); start dockerd first"

# ------------------------------------------------------------ 1. base image
if docker image inspect "$BASE" >/dev/null 2>&1; then
    say "base image $BASE is there"
else
    command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
    root=$(mktemp -d /tmp/kontor-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    say "making $BASE with debootstrap from $MIRROR"
    t0=$(date +%s)
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; fail "debootstrap failed (log: $root.log)"; }
    # What the official slim image does: no manuals, docs or locales from
    # later installs, no recommends, apt caches cleaned after each install.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
        "$root"/var/cache/apt/archives/*.deb "$root"/var/log/* "$root"/tmp/*
    tar -C "$root" --numeric-owner -c . \
        | docker import --change 'CMD ["bash"]' \
              --message "debootstrap --variant=minbase bookworm $MIRROR" - "$BASE" >/dev/null
    rm -rf "$root" "$root.log"
    trap - EXIT
    say "base image made in $(( $(date +%s) - t0 )) s: $(docker image inspect -f '{{.Size}}' "$BASE" | awk '{printf "%.0f MB", $1 / 1e6}')"
fi

# ------------------------------------------------------------ 2. build
if [ "$BUILD" = 1 ]; then
    say "docker build -t $TAG ."
    t0=$(date +%s)
    docker build --network "$NETWORK" -t "$TAG" . >/tmp/kontor-image-build.log 2>&1 \
        || { tail -30 /tmp/kontor-image-build.log >&2; fail "docker build failed (log: /tmp/kontor-image-build.log)"; }
    say "built in $(( $(date +%s) - t0 )) s (log: /tmp/kontor-image-build.log)"
fi
docker image inspect "$TAG" >/dev/null 2>&1 || fail "no image $TAG (build it, or drop --no-build)"

# ------------------------------------------------------------ 3. checks
run() { docker run --rm --network none "$@"; }
quiet() { "$@" >/dev/null; }
check "runs as uid 10001, not root" test "$(run "$TAG" id -u)" = 10001
check "image user is kontor:kontor" test "$(docker image inspect -f '{{.Config.User}}' "$TAG")" = kontor:kontor
for p in kontor-bus kontor-clients kontor-orders kontor-logistics kontor-receivables \
         kontor kontor-keygen kontor-events; do
    check "$p --help" quiet run "$TAG" "$p" --help
done
check "every binary's libraries resolve" \
    run "$TAG" bash -c '! ldd /usr/local/bin/* 2>&1 | grep -q "not found"'
check "no compiler, make, pkg-config or headers" \
    run "$TAG" bash -c '! command -v gcc && ! command -v cc && ! command -v make && ! command -v pkg-config && ! ls /usr/include/*.h >/dev/null 2>&1'
check "no -dev package installed" \
    run "$TAG" bash -c '! dpkg-query -W -f "\${Package}\n" | grep -q -- "-dev$"'
check "no secret baked in" \
    run "$TAG" bash -c 'test -z "$(find /etc/kontor -type f)"'
size=$(docker image inspect -f '{{.Size}}' "$TAG")
say "image $TAG: $(awk -v s="$size" 'BEGIN {printf "%.1f MB", s / 1e6}') ($size bytes); base $(docker image inspect -f '{{.Size}}' "$BASE" | awk '{printf "%.1f MB", $1 / 1e6}')"
run "$TAG" dpkg-query -W -f '${Package}\n' | sort >/tmp/kontor-image-pkgs.txt
run "$BASE" dpkg-query -W -f '${Package}\n' | sort >/tmp/kontor-base-pkgs.txt
say "packages beyond the base: $(comm -13 /tmp/kontor-base-pkgs.txt /tmp/kontor-image-pkgs.txt | tr '\n' ' ')"

# ------------------------------------------------------------ 4. compose
if [ "$COMPOSE" = 1 ]; then
    bash deploy/docker/compose-check.sh "$TAG" || failures=$((failures + 1))
fi

[ "$failures" = 0 ] || fail "$failures check(s) failed"
say "all checks passed"
