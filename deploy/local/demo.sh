#!/usr/bin/env bash
# demo.sh - a wholesale day at Kontor, told step by step with its figures.
#
#   demo.sh BUILD_DIR            what `make demo` runs: bring the local set up
#                                (kontor-local.sh up), seed a small data set, tell
#                                the story, say how to go on and how to stop
#   demo.sh --on-set BUILD_DIR   tell the same story on the set the KONTOR_*
#                                environment already names (the integration test
#                                gives it a private set on free ports)
#
# Everything goes through the services' methods with `kontor call`, as the
# principal each step belongs to (--as manager-1, head-1, logistician-1,
# accountant-1). Each run makes two clients of its own (the run's number is in
# their codes and tax ids) and its own idempotency keys, so running it again
# on the same set tells the story again with the same figures; the seed is
# idempotent. What travels by event (terms to orders and receivables, the
# shipment request, the invoice, the credit hold) is waited for by polling
# the read that shows it, for at most KONTOR_DEMO_WAIT_S (30) seconds.
#
# Environment:
#   KONTOR_DEMO_SEED_ARGS  the data set (default: --clients 500 --skus 1000 --branches 3)
#   KONTOR_DEMO_FIGURES    a file to append the key figures to, one name=value a
#                          line (the integration test checks them against the
#                          databases)
#   KONTOR_DEMO_WAIT_S     how long to wait for an event to show (default 30)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

on_set=0
if [ "${1:-}" = --on-set ]; then
    on_set=1
    shift
fi
[ $# -eq 1 ] || {
    echo "usage: demo.sh [--on-set] BUILD_DIR" >&2
    exit 2
}
build=$(cd "$1" && pwd)
K=$build/bin/kontor
cd "$repo"
[ -x "$K" ] || {
    echo "demo.sh: no $K: build it first (make all)" >&2
    exit 2
}
seed_args=${KONTOR_DEMO_SEED_ARGS:---clients 500 --skus 1000 --branches 3}
figures=${KONTOR_DEMO_FIGURES:-}
wait_s=${KONTOR_DEMO_WAIT_S:-30}
[[ $wait_s =~ ^[0-9]+$ ]] || {
    echo "demo.sh: KONTOR_DEMO_WAIT_S must be a number of seconds: $wait_s" >&2
    exit 2
}
err=$(mktemp "${TMPDIR:-/tmp}/kontor-demo.XXXXXX")
trap 'rm -f "$err"' EXIT

# ---------------------------------------------------------------- helpers

step_no=0
step() {
    step_no=$((step_no + 1))
    printf '\n== %d. %s\n' "$step_no" "$*"
}
say() { printf '   %s\n' "$*"; }

die() {
    printf '\ndemo.sh: %s\n' "$*" >&2
    [ ! -s "$err" ] || sed 's/^/    /' "$err" >&2
    exit 1
}

# figure NAME VALUE: record a key figure for whoever checks the story.
figure() {
    [ -z "$figures" ] || printf '%s=%s\n' "$1" "$2" >>"$figures"
}

# kontor's pretty JSON as path=value lines: "order.lines[0].qty=10".
flatten() {
    awk '
    function cat(p, k) {
        if (k == "") return p
        if (p == "") return k
        return substr(k, 1, 1) == "[" ? p k : p "." k
    }
    {
        line = $0
        sub(/^[ \t]+/, "", line); sub(/[ \t\r]+$/, "", line)
        if (line == "") next
        if (line ~ /^[]}],?$/) { d--; next }
        key = ""
        if (match(line, /^"([^"\\]|\\.)*": /)) {
            key = substr(line, 2, RLENGTH - 4)
            line = substr(line, RLENGTH + 1)
        } else if (d > 0 && ty[d] == "a") {
            key = "[" ix[d] "]"
            ix[d]++
        }
        sub(/,$/, "", line)
        if (line == "{" || line == "[") {
            d++; ty[d] = (line == "{") ? "o" : "a"; ix[d] = 0; nm[d] = key
            next
        }
        if (line == "{}" || line == "[]") next
        if (line ~ /^"/) {
            line = substr(line, 2, length(line) - 2)
            gsub(/\\"/, "\"", line); gsub(/\\\\/, "\\", line)
        }
        p = ""
        for (i = 2; i <= d; i++) p = cat(p, nm[i])
        print cat(p, key) "=" line
    }'
}

# kc PRINCIPAL SERVICE METHOD JSON [KEY]: call; the reply, flattened, in R.
# Returns kontor's exit status (1: refused, the sentence in $err).
R=""
kc() {
    local as=$1 service=$2 method=$3 json=$4 key=${5:-} out rc=0
    local args=(--as "$as")
    [ -z "$key" ] || args+=(--key "$key")
    out=$("$K" "${args[@]}" call "$service" "$method" "$json" 2>"$err") || rc=$?
    R=$(printf '%s\n' "$out" | flatten)
    return "$rc"
}

# kc, and stop the story if it is refused.
kcm() {
    kc "$@" || die "$2.$3 as $1 was refused or failed"
}

# v PATH: a value of the last reply ("" when absent).
v() { printf '%s\n' "$R" | awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }'; }

# money UNITS [CURRENCY]: 117930 -> "1,179.30 EUR".
money() {
    local u=${1:-0} cur=${2:-EUR} sign="" s out=""
    [ -n "$u" ] && [ "$u" != null ] || u=0
    if [ "${u:0:1}" = - ]; then
        sign=-
        u=${u#-}
    fi
    s=$((u / 100))
    while [ ${#s} -gt 3 ]; do
        out=",${s: -3}$out"
        s=${s:0:${#s}-3}
    done
    printf '%s%s%s.%02d %s' "$sign" "$s" "$out" $((u % 100)) "$cur"
}

# pct BP: 200 -> "2.00 %".
pct() { printf '%d.%02d %%' $(($1 / 100)) $(($1 % 100)); }

# wait_until WHAT CMD...: run CMD (a read) every 100 ms until it succeeds,
# for at most wait_s seconds.
wait_until() {
    local what=$1 end=$((SECONDS + wait_s))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || die "waited ${wait_s}s for $what"
        sleep 0.1
    done
}

# A 10-digit INN (Russian tax id) with its check digit, from a 7-digit body;
# region 97, which the seed never uses, so it cannot meet a seeded client.
inn10() {
    local d w=(2 4 10 3 5 9 4 6 8) sum=0 i
    d=$(printf '97%07d' $(($1 % 10000000)))
    for i in 0 1 2 3 4 5 6 7 8; do
        sum=$((sum + ${d:i:1} * w[i]))
    done
    printf '%s%d' "$d" $((sum % 11 % 10))
}

day_after() { date -u -d "$1 + $2 days" +%F; }

# ---------------------------------------------------------------- the set

if [ "$on_set" = 0 ]; then
    step "The local set: PostgreSQL, Redis, the bus and four services (in .kontor/)"
    bash "$here/kontor-local.sh" up "$build" | sed 's/^/   /'
else
    step "The set named by KONTOR_BUS (${KONTOR_BUS:-the local set})"
fi
"$K" status >/dev/null 2>"$err" || die "the services do not answer through the bus"
say "every service answers through the bus (kontor status)"

step "A data set to work with: kontor seed $seed_args"
# shellcheck disable=SC2086 # the options are words
"$K" seed $seed_args | sed 's/^/   /' || die "kontor seed failed (its reasons are above)"

# The run's own number: codes, tax ids and idempotency keys of this story.
run=$(date -u +%s)$((RANDOM % 10))
key() { printf 'demo-%s-%s' "$run" "$1"; }

kcm admin logistics ListWarehouses '{}'
wh=$(printf '%s\n' "$R" | awk -F= '/^warehouses\[[0-9]+\]\.code=WH-MSK$/ { sub(/\.code$/, "", $1); print $1; exit }')
[ -n "$wh" ] || die "the seed made no warehouse WH-MSK"
wh=$(v "$wh.warehouse_id")
kcm admin clients Status '{}'
today=$(date -u -d "@$(($(v db_time_ms) / 1000))" +%F)
month=${today:0:7}
# The plan report before this run's orders (an earlier run's are in it).
kcm manager-1 clients PlanReport "{\"manager_id\": 2, \"month\": \"$month\"}"
plan_orders0=$(v 'lines[0].orders')
# manager-1's territory, from one of the clients the seed gave them.
kcm admin clients SearchClients '{"manager_id": 2, "limit": 1}'
territory=$(v 'clients[0].territory_id')
[ -n "$territory" ] || territory=1

# ---------------------------------------------------------------- the story

step "A new client signs a contract"
tax_a=$(inn10 $((run % 9999999)))
kcm manager-1 clients CreateClient "{\"code\": \"DEMO-$run-A\", \"name\": \"ООО «Ромашка-Опт»\",
    \"tax_id\": \"$tax_a\", \"legal_address\": \"г. Москва, ул. Складская, д. 12\",
    \"segment\": \"стройка\", \"status\": \"ACTIVE\", \"territory_id\": $territory}"
a=$(v id)
say "manager-1 opens a card: $(v name), tax id $tax_a, code $(v code) -> client $a"
kcm manager-1 clients UpsertContact "{\"client_id\": $a, \"name\": \"Соколова Анна\",
    \"position\": \"начальник снабжения\", \"phone\": \"+7 495 123-45-67\",
    \"email\": \"zakupki@romashka-opt.ru\", \"decision_maker\": true}"
kcm manager-1 clients RecordCreditCheck "{\"client_id\": $a, \"checked_on\": \"$today\",
    \"sources\": \"ЕГРЮЛ, СПАРК, справка банка\", \"score\": 780, \"grade\": \"B\",
    \"recommended_limit\": {\"units\": 800000, \"currency\": \"EUR\"}}"
say "credit check: score 780, grade B, recommended limit $(money 800000)"
kcm head-1 clients SetTerms "{\"client_id\": $a, \"contract_number\": \"Д-$run\",
    \"contract_date\": \"$today\", \"price_column\": \"B\", \"discount_bp\": 200,
    \"payment_days\": 14, \"grace_days\": 5, \"credit_limit\": {\"units\": 800000,
    \"currency\": \"EUR\"}, \"short_policy\": \"SHIP_AVAILABLE\", \"why\": \"new contract\"}"
say "the head (head-1) sets the terms: price column B, discount $(pct 200), 14 days to pay,"
say "5 days' grace, credit limit $(money 800000)"
figure client_a "$a"

# Orders and receivables learn the terms from TermsChanged.
terms_in_orders() {
    kc manager-1 orders Quote "{\"client_id\": $1, \"warehouse_id\": $wh,
        \"lines\": [{\"sku\": 100007, \"qty\": 1}]}" && [ "$(v price_column)" = "$2" ]
}
terms_in_receivables() {
    kc accountant-1 receivables Balance "{\"client_id\": $1}" && [ "$(v limit.units)" = "$2" ]
}
wait_until "the terms to reach orders" terms_in_orders "$a" B
wait_until "the terms to reach receivables" terms_in_receivables "$a" 800000

step "The manager checks the client and quotes"
kcm manager-1 clients GetClient "{\"client_id\": $a}"
say "card: $(v card.name) ($(v card.status)), manager $(v card.manager_id), $(v 'contacts[0].name'), $(v 'contacts[0].position')"
say "terms: column $(v terms.terms.price_column), discount $(pct "$(v terms.terms.discount_bp)"), $(v terms.terms.payment_days) days to pay, limit $(money "$(v terms.terms.credit_limit.units)")"
order1_lines='[{"sku": 100004, "qty": 10}, {"sku": 100007, "qty": 40}]'
kcm manager-1 logistics Availability '{"skus": [100004, 100007]}'
name_cable=$(v 'items[0].name')
name_mix=$(v 'items[1].name')
kcm manager-1 orders Quote "{\"client_id\": $a, \"warehouse_id\": $wh, \"lines\": $order1_lines}"
say "quote:  10 x $name_cable at $(money "$(v 'lines[0].unit_price')") (list $(money "$(v 'lines[0].list_price')"))"
say "        40 x $name_mix at $(money "$(v 'lines[1].unit_price')") (list $(money "$(v 'lines[1].list_price')"))"
say "        total $(money "$(v total)"), list $(money "$(v list_total)"), all in stock: $(v all_available), credit fits: $(v credit.fits)"
quote1=$(v total)

step "The order is placed"
kcm manager-1 orders PlaceOrder "{\"client_id\": $a, \"warehouse_id\": $wh, \"lines\": $order1_lines,
    \"delivery_method\": \"OWN_FLEET\", \"address\": \"г. Москва, ул. Складская, д. 12\"}" "$(key o1)"
o1=$(v order.order_id)
o1_total=$(v order.total)
[ "$(v order.status)" = CONFIRMED ] || die "order $o1 is $(v order.status), not CONFIRMED: $(v order.reason_text)"
say "order $o1: CONFIRMED, $(money "$o1_total") (as quoted: $([ "$o1_total" = "$quote1" ] && echo yes || echo no)); stock and credit are reserved"
figure order1 "$o1"
figure order1_total "$o1_total"

step "A second client goes over its credit limit; the head approves"
kcm manager-1 clients CreateClient "{\"code\": \"DEMO-$run-B\", \"name\": \"Nordwind GmbH\",
    \"tax_id\": \"DE$(printf '%09d' $((run % 1000000000)))\", \"legal_address\": \"Hafenstraße 7, 20457 Hamburg\",
    \"segment\": \"Handel\", \"status\": \"ACTIVE\", \"territory_id\": $territory, \"currency\": \"EUR\"}"
b=$(v id)
kcm head-1 clients SetTerms "{\"client_id\": $b, \"price_column\": \"A\", \"discount_bp\": 0,
    \"payment_days\": 30, \"grace_days\": 7, \"credit_limit\": {\"units\": 150000,
    \"currency\": \"EUR\"}, \"why\": \"new client: a small limit to start with\"}"
say "manager-1 opens client $b, Nordwind GmbH; the head gives it a tight credit limit of $(money 150000)"
figure client_b "$b"
wait_until "the terms to reach orders" terms_in_orders "$b" A
wait_until "the terms to reach receivables" terms_in_receivables "$b" 150000
kcm manager-1 orders PlaceOrder "{\"client_id\": $b, \"warehouse_id\": $wh,
    \"lines\": [{\"sku\": 100002, \"qty\": 20}]}" "$(key o2)"
o2=$(v order.order_id)
{ [ "$(v order.status)" = PENDING_APPROVAL ] && [ "$(v order.reason)" = credit_limit_exceeded ]; } ||
    die "order $o2 is $(v order.status) ($(v order.reason)), not waiting for credit approval"
say "order $o2, 20 x SKU $(v 'order.lines[0].sku') for $(money "$(v order.total)"): refused for credit, it waits for the head:"
say "  limit $(money "$(v credit.limit.units)"), exposure $(money "$(v credit.exposure.units)"), over by $(money "$(v credit.exceeded_by.units)")"
figure order2 "$o2"
figure order2_total "$(v order.total)"
figure order2_exceeded_by "$(v credit.exceeded_by.units)"
kcm head-1 orders Approve "{\"order_id\": $o2}"
o2b=$(v order.order_id)
[ "$(v order.status)" = CONFIRMED ] || die "approved order is $(v order.status)"
say "head-1 approves: order $o2b CONFIRMED (continues order $o2), approved by $(v order.approved_by)"
figure order2_approved "$o2b"

step "Short on stock: an analog is offered, the rest is back-ordered"
# The shelf of the scarce SKU is counted: 6 left (an inventory correction
# when an earlier run took them).
kcm manager-1 logistics Availability "{\"skus\": [100001], \"warehouse_id\": $wh}"
avail=$(v 'items[0].available')
if [ "$avail" != 6 ]; then
    kcm logistician-1 logistics Adjust "{\"warehouse_id\": $wh, \"lines\": [{\"sku\": 100001,
        \"delta\": $((6 - avail))}], \"reason\": \"stock count: 6 on the shelf\"}" "$(key count)"
    say "(an earlier run of this story took SKU 100001 down to $avail available; logistician-1"
    say " records the $((6 - avail)) found at this morning's stock count, so 6 are available again)"
fi
order3_lines='[{"sku": 100001, "qty": 20}, {"sku": 100005, "qty": 5}]'
kcm manager-1 logistics Availability "{\"skus\": [100001], \"warehouse_id\": $wh}"
name_short=$(v 'items[0].name')
arrival="$(v 'items[0].arrivals[0].qty') expected on $(v 'items[0].arrivals[0].date')"
kcm manager-1 orders Quote "{\"client_id\": $a, \"warehouse_id\": $wh, \"lines\": $order3_lines}"
say "quote: 20 x $name_short: only $(v 'lines[0].available') in stock, $arrival"
say "  analogs in stock: $(v 'lines[0].analogs[0].name') ($(v 'lines[0].analogs[0].available')),"
say "                    $(v 'lines[0].analogs[1].name') ($(v 'lines[0].analogs[1].available'))"
say "  quote total $(money "$(v total)"), all in stock: $(v all_available)"
say "the client wants the original brand: ship what is there, back-order the rest"
kcm manager-1 orders PlaceOrder "{\"client_id\": $a, \"warehouse_id\": $wh, \"lines\": $order3_lines,
    \"short_policy\": \"SHIP_AVAILABLE\"}" "$(key o3)"
o3=$(v order.order_id)
bo=$(v order.backorder_id)
{ [ "$(v order.status)" = CONFIRMED ] && [ "$bo" != 0 ]; } ||
    die "order $o3 is $(v order.status) ($(v order.reason_text)), back-order $bo"
say "order $o3: CONFIRMED, $(v 'order.lines[0].qty') + $(v 'order.lines[1].qty') units, $(money "$(v order.total)"); $(v 'order.lines[0].backordered') back-ordered"
figure order3 "$o3"
figure order3_total "$(v order.total)"
kcm manager-1 orders GetOrder "{\"order_id\": $bo}"
say "back-order $bo: $(v order.status), $(v 'order.lines[0].qty') x SKU $(v 'order.lines[0].sku'), $(money "$(v order.total)"), expected $(v order.expected_date)"
figure backorder "$bo"
figure backorder_status "$(v order.status)"
figure backorder_expected "$(v order.expected_date)"

step "Logistics picks, dispatches and delivers order $o1"
shipment_of() { kc logistician-1 logistics GetShipment "{\"order_id\": $1}"; }
wait_until "the shipment request of order $o1" shipment_of "$o1"
s1=$(v shipment.shipment_id)
say "shipment $s1: $(v shipment.status), $(v 'shipment.lines[0].qty') + $(v 'shipment.lines[1].qty') units to $(v shipment.address)"
for st in PICKING DISPATCHED DELIVERED; do
    kcm logistician-1 logistics UpdateShipment "{\"shipment_id\": $s1, \"status\": \"$st\"}"
    say "  -> $(v shipment.status)"
done
figure shipment1 "$s1"

step "The invoice appears"
invoiced() { kc accountant-1 receivables Balance "{\"client_id\": $a}" && [ "$(v open_invoice_count)" = 1 ]; }
wait_until "the invoice of order $o1" invoiced
invoice_amount=$(v invoiced.units)
kcm accountant-1 receivables Statement "{\"client_id\": $a, \"from\": \"$today\"}"
issued=$(v 'lines[0].date')
due=$(day_after "$issued" 14)
say "invoice $(v 'lines[0].document_id') for $(v 'lines[0].reference'): $(money "$invoice_amount"), issued $issued, due $due"
figure invoice_amount "$invoice_amount"
figure invoice_due "$due"

step "The client pays part"
part=$((invoice_amount * 40 / 100))
kcm accountant-1 receivables RecordPayment "{\"client_id\": $a, \"amount\": {\"units\": $part,
    \"currency\": \"EUR\"}, \"reference\": \"PP-$run-1\"}"
say "payment $(v payment_id) (bank reference PP-$run-1): $(money "$part") -> invoice $(v 'allocations[0].invoice_id')"
kcm accountant-1 receivables Balance "{\"client_id\": $a}"
open1=$(v open.units)
say "balance: invoiced $(money "$(v invoiced.units)"), paid $(money "$(v paid.units)"), open $(money "$open1")"
figure paid1 "$part"
figure open_after_part "$open1"

step "Time moves on: the dunning run"
remind_on=$(day_after "$due" -3)
kcm accountant-1 receivables RunDunning "{\"as_of\": \"$remind_on\"}"
say "as of $remind_on, 3 days before due: $(v reminders) reminder sent"
figure reminders "$(v reminders)"
late_on=$(day_after "$due" 6)
kcm accountant-1 receivables RunDunning "{\"as_of\": \"$late_on\"}"
say "as of $late_on, 6 days past due and past the 5 days' grace: $(v notices) dunning notice, $(v holds_on) client put on credit hold"
figure holds_on "$(v holds_on)"
kcm accountant-1 receivables Balance "{\"client_id\": $a}"
say "client $a: on hold: $(v on_hold), $(money "$(v open.units)") open"
figure on_hold_after_dunning "$(v on_hold)"

step "The next order is held"
hold_in_orders() {
    kc manager-1 orders Quote "{\"client_id\": $a, \"warehouse_id\": $wh,
        \"lines\": [{\"sku\": 100004, \"qty\": 2}]}" && [ "$(v credit.on_hold)" = "$1" ]
}
wait_until "the credit hold to reach orders" hold_in_orders true
kcm manager-1 orders PlaceOrder "{\"client_id\": $a, \"warehouse_id\": $wh,
    \"lines\": [{\"sku\": 100004, \"qty\": 2}]}" "$(key o4)"
o4=$(v order.order_id)
{ [ "$(v order.status)" = PENDING_APPROVAL ] && [ "$(v order.reason)" = credit_hold ]; } ||
    die "order $o4 is $(v order.status) ($(v order.reason)), not held"
say "order $o4 ($(money "$(v order.total)")): $(v order.status) - $(v order.reason_text)"
figure held_order "$o4"
figure held_reason "$(v order.reason)"

step "The client pays the rest; the hold lifts"
kcm accountant-1 receivables RecordPayment "{\"client_id\": $a, \"amount\": {\"units\": $open1,
    \"currency\": \"EUR\"}, \"reference\": \"PP-$run-2\"}"
say "payment $(v payment_id) (PP-$run-2): $(money "$open1"); hold lifted: $(v hold_lifted)"
figure hold_lifted "$(v hold_lifted)"
wait_until "the end of the hold to reach orders" hold_in_orders false
kcm accountant-1 receivables Balance "{\"client_id\": $a}"
say "balance: open $(money "$(v open.units)"), on hold: $(v on_hold)"
figure open_final "$(v open.units)"
figure on_hold_final "$(v on_hold)"
kcm head-1 orders Approve "{\"order_id\": $o4}"
say "head-1 releases the held order: order $(v order.order_id) $(v order.status)"
figure held_order_approved "$(v order.order_id)"

step "The reconciliation statement"
kcm accountant-1 receivables Statement "{\"client_id\": $a, \"from\": \"$today\"}"
say "client $a, $(v from) .. $(v to): opening $(money "$(v opening.units)")"
i=0
while [ -n "$(v "lines[$i].date")" ]; do
    kind=$(v "lines[$i].kind")
    kind=${kind#LINE_}
    printf '     %s  %-8s %-22s debit %14s  credit %14s  balance %14s\n' "$(v "lines[$i].date")" \
        "$(echo "$kind" | tr 'A-Z_' 'a-z ')" "$(v "lines[$i].reference")" \
        "$(money "$(v "lines[$i].debit.units")")" "$(money "$(v "lines[$i].credit.units")")" \
        "$(money "$(v "lines[$i].balance.units")")"
    i=$((i + 1))
done
say "closing $(money "$(v closing.units)")"
figure statement_lines "$i"
figure statement_closing "$(v closing.units)"

step "A complaint is opened and resolved"
kcm manager-1 clients OpenComplaint "{\"client_id\": $a, \"order_id\": $o1, \"category\": \"damaged packaging\",
    \"description\": \"two coils arrived with torn film\"}"
c=$(v id)
say "complaint $c on order $o1: $(v category) - $(v status)"
kcm manager-1 clients MoveComplaint "{\"complaint_id\": $c, \"status\": \"COMPLAINT_IN_PROGRESS\"}"
say "  -> $(v status)"
kcm manager-1 clients MoveComplaint "{\"complaint_id\": $c, \"status\": \"COMPLAINT_RESOLVED\",
    \"resolution\": \"film replaced at the client's site; no goods damaged\"}"
say "  -> $(v status): $(v resolution) (in $(v seconds_to_resolve) s)"
figure complaint "$c"
figure complaint_status "$(v status)"

step "The month: plan against actual for manager-1"
# Actual revenue counts OrderConfirmed events: wait until this run's four
# confirmed orders (order 1, the approved one, order 3, the released one)
# have reached the clients service.
plan_has() {
    kc manager-1 clients PlanReport "{\"manager_id\": 2, \"month\": \"$month\"}" &&
        [ "$(v 'lines[0].orders')" -ge "$1" ]
}
wait_until "the confirmed orders to reach clients" plan_has $((${plan_orders0:-0} + 4))
say "$month, manager 2: plan $(money "$(v 'lines[0].plan.revenue.units')"), actual $(money "$(v 'lines[0].revenue.units')") from $(v 'lines[0].orders') orders"
say "active clients $(v 'lines[0].active_clients') of $(v 'lines[0].plan.active_clients') planned, new clients $(v 'lines[0].new_clients') of $(v 'lines[0].plan.new_clients')"
figure plan_revenue "$(v 'lines[0].revenue.units')"
figure plan_orders "$(v 'lines[0].orders')"

if [ "$on_set" = 0 ]; then
    ex=$build/bin/kontor
    ex=${ex#"$repo"/}
    cat <<TXT

== Try it yourself
   $ex --as manager-1 call clients GetClient '{"client_id": $a}'
   $ex --as manager-1 call orders Quote '{"client_id": $a, "warehouse_id": $wh, "lines": [{"sku": 100002, "qty": 3}]}'
   $ex --as accountant-1 call receivables Balance '{"client_id": $a}'
   $ex --as logistician-1 call logistics ListShipments '{"limit": 5}'
   $ex describe orders            # every method, field by field
   $ex --help                     # every command
   bash deploy/local/kontor-local.sh psql -c '\dn'
   make demo                      # the story again, with two new clients

== Stop the set
   make down
TXT
else
    printf '\n== Done: the story ran on %s\n' "${KONTOR_BUS:-the local set}"
fi
