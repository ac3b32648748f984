#!/usr/bin/env bash
# compose-check.sh - bring docker-compose.yml up with a built image and
# check that the set works; then take it down. Run by
# `deploy/docker/check-image.sh --compose`, or alone:
#
#   deploy/docker/compose-check.sh [TAG]        (TAG: kontor:0.1.0)
#
# Works in a copy of docker-compose.yml, deploy/docker and deploy/local in
# a temporary folder, so the keys it makes (keygen) never land in the
# checkout, under its own project name, with the bus's published ports
# moved to KONTOR_CHECK_PORT.. (25555..25557) so that it does not collide
# with a local set. Without Docker Hub, postgres:15-bookworm and
# redis:7-bookworm are built from deploy/docker/standin/ first (Debian's
# packages; only when the engine lacks them).
#
# Checks: keygen makes the keys; every Kontor container (bus, clients,
# orders, orders-2, logistics, receivables) turns healthy (/readyz); `kontor
# status` as admin, from the image on the compose network, answers and
# lists every service; logistics and receivables serve the reservation
# and credit-hold metrics. Prints how long the set took to become healthy.
set -euo pipefail

cd "$(dirname "$0")/../.."
TAG=${1:-kontor:0.1.0}
NETWORK=${KONTOR_BUILD_NETWORK:-host}
PORT=${KONTOR_CHECK_PORT:-25555}
project=kontorcheck$$
work=$(mktemp -d /tmp/kontor-compose.XXXXXX)
failures=0
say() { printf '== %s\n' "$*"; }
check() {
    local what="$1"; shift
    if "$@"; then printf 'ok   %s\n' "$what"; else printf 'FAIL %s\n' "$what"; failures=$((failures + 1)); fi
}
compose() { (cd "$work" && docker-compose -p "$project" "$@"); }
quiet() { "$@" >/dev/null 2>&1; }
quiet_config() { compose config -q; }
cleanup() {
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    # keygen made the keys as root inside the container, some for uid 999.
    rm -rf "$work"
}
trap cleanup EXIT

for standin in postgres:15-bookworm:postgres redis:7-bookworm:redis; do
    image=${standin%:*}
    name=${standin##*:}
    if ! docker image inspect "$image" >/dev/null 2>&1; then
        say "no $image here: building the stand-in from deploy/docker/standin/$name.Dockerfile"
        t0=$(date +%s)
        docker build --network "$NETWORK" -t "$image" -f "deploy/docker/standin/$name.Dockerfile" \
            deploy/docker/standin >"$work.$name.log" 2>&1 \
            || { tail -20 "$work.$name.log" >&2; exit 1; }
        rm -f "$work.$name.log"
        say "$image built in $(( $(date +%s) - t0 )) s"
    fi
done

mkdir -p "$work/deploy"
cp docker-compose.yml "$work/"
cp -a deploy/docker deploy/local "$work/deploy/"
rm -rf "$work/deploy/docker/keys"
export KONTOR_IMAGE="$TAG" KONTOR_BUS_PORT="$PORT" KONTOR_EVENTS_IN_PORT=$((PORT + 1)) \
    KONTOR_EVENTS_OUT_PORT=$((PORT + 2)) KONTOR_KEYS_OWNER=10001:10001

check "docker-compose config accepts the file" quiet_config
check "keygen makes the keys and passwords" quiet compose run --rm keygen

say "docker-compose up -d"
t0=$(date +%s)
compose up -d --no-build >"$work.up.log" 2>&1 || { cat "$work.up.log" >&2; exit 1; }
rm -f "$work.up.log"
kontor_services="bus clients orders orders-2 logistics receivables"
healthy() {   # one docker ps a round: docker-compose itself takes a second a call
    local s states
    states=$(docker ps --filter "label=com.docker.compose.project=$project" \
        --format '{{.Label "com.docker.compose.service"}} {{.Status}}')
    for s in $kontor_services; do
        grep -q "^$s .*(healthy)" <<<"$states" || return 1
    done
}
for _ in $(seq 1 120); do
    healthy && break
    sleep 1
done
took=$(( $(date +%s) - t0 ))
if healthy; then
    printf 'ok   every Kontor container healthy (/readyz) %s s after up\n' "$took"
else
    printf 'FAIL not every Kontor container became healthy in %s s\n' "$took"
    failures=$((failures + 1))
    compose ps
    compose logs --tail 20
fi
compose ps

bus=$(docker ps -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=bus")
net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$bus")
status=$(docker run --rm --network "$net" \
    -v "$work/deploy/docker/keys/allow/bus.cert:/etc/kontor/keys/allow/bus.cert:ro" \
    -v "$work/deploy/docker/keys/secret/admin.secret:/etc/kontor/admin.secret:ro" \
    -e KONTOR_BUS=tcp://bus:15555 -e KONTOR_EVENTS_IN=tcp://bus:15556 \
    -e KONTOR_EVENTS_OUT=tcp://bus:15557 -e KONTOR_CERT=/etc/kontor/admin.secret \
    "$TAG" kontor status 2>&1) || true
printf '%s\n' "$status" | sed 's/^/   | /'
listed() { local s; for s in clients orders logistics receivables; do grep -qw "$s" <<<"$status" || return 1; done; }
check "kontor status as admin answers and lists the four services" listed
metrics() {   # metrics SERVICE: its /metrics, from inside its container
    compose exec -T "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3'
}
check "logistics exports logistics_reservations{state=...}" \
    grep -q '^logistics_reservations{state="held"}' <(metrics logistics)
check "receivables exports receivables_credit_holds_total" \
    grep -q '^receivables_credit_holds_total ' <(metrics receivables)
say "memory of each container:"
mapfile -t ids < <(docker ps -q --filter "label=com.docker.compose.project=$project")
docker stats --no-stream --format '   {{.Name}} {{.MemUsage}}' "${ids[@]}" || true

[ "$failures" = 0 ] || { echo "compose-check.sh: $failures check(s) failed" >&2; exit 1; }
say "compose checks passed"
