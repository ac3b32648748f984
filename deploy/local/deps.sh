#!/usr/bin/env bash
# deps.sh - install from Debian packages whatever Kontor needs and is missing.
#
# Idempotent and quiet when everything is there. Runs apt-get update only when
# something has to be installed. Needs root (or sudo) only in that case.
set -euo pipefail

packages=(
    build-essential pkg-config
    libzmq3-dev libczmq-dev libsodium-dev
    libprotobuf-c-dev protobuf-c-compiler
    libpq-dev postgresql postgresql-contrib
    libhiredis-dev redis-server redis-tools
    libcmocka-dev libjson-c-dev
    clang libclang-rt-14-dev
    procps iproute2 curl
    docker-compose python3-yaml
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged servers; Kontor runs its own from the checkout.
# Stop the system ones only if this script's install started them.
for svc in redis-server postgresql; do
    if printf '%s\n' "${missing[@]}" | grep -qx "$svc"; then
        $sudo service "$svc" stop >/dev/null 2>&1 || true
    fi
done
echo "deps: done"
