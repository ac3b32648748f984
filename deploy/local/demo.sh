#!/usr/bin/env bash
# demo.sh BUILD_DIR - what `make demo` runs: bring the local set up and show
# Kontor at work through the bus, in plain words.
#
# Today the story is the foundation: every service answers through the bus,
# over CURVE, from its own database schema. The wholesale day (quote, order,
# credit, stock, dispatch, invoice, payment, dunning) joins it as the
# services gain their business (see the open issues).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:?usage: demo.sh BUILD_DIR}
cd "$repo"

say() { printf '\n== %s\n' "$*"; }

say "Starting the local set: PostgreSQL, Redis, the bus and four services (in .kontor/)"
bash "$here/kontor-local.sh" up "$build"

say "Asking the bus which services have live workers, then each service for its status"
echo "   (each answer travelled caller -> bus -> a worker thread -> its PostgreSQL schema -> back)"
echo
"$build/bin/kontor" status

cat <<TXT

== What you just saw
   - The bus admitted the caller by its CURVE key (.kontor/keys/allow/admin.cert)
     and stamped its identity onto each request.
   - Each service answered from its own schema with its own database role.
   - Health and metrics: curl -s http://127.0.0.1:18082/metrics | head

== Try it yourself
   $build/bin/kontor status
   bash deploy/local/kontor-local.sh status
   bash deploy/local/kontor-local.sh psql -c '\dn'

== Stop the set
   make down
TXT
