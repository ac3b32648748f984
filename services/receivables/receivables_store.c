/*  receivables_store - every SQL statement of the receivables service.
 *
 *  Sums of bigint columns come back as numeric and are read with
 *  kt_pg_i64_checked, so a total past int64 is an error, never a wrap.
 *  Windowed running sums (sum() OVER) pick what an amount pays, oldest
 *  first, in one statement: a row is taken while the running total before
 *  it is below what is available, and gets the smaller of its open amount
 *  and what is left.
 */
#include "receivables_store.h"

//  ---------------------------------------------------------------- accounts and terms

#define S_ACCOUNT_COLUMNS                                                                        \
    "SELECT client_id, coalesce(currency, ''), has_terms, credit_limit, payment_days,"          \
    "       grace_days, client_status, manager_id, branch_id, on_hold,"                          \
    "       coalesce(hold_as_of::text, ''), invoiced, paid, credited, open_amount, unapplied,"   \
    "       reserved, current_date::text"                                                        \
    "  FROM accounts WHERE client_id = $1"

const kt_stmt_t rcv_q_account_lock = {"rcv_account_lock", S_ACCOUNT_COLUMNS " FOR UPDATE", 1};
const kt_stmt_t rcv_q_account_read = {"rcv_account_read", S_ACCOUNT_COLUMNS, 1};

//  An account opened by money arriving before any terms (a dispatch or a
//  return for a client whose terms have not reached us): its currency is
//  the money's.
const kt_stmt_t rcv_q_account_ensure = {
    "rcv_account_ensure",
    "INSERT INTO accounts AS a (client_id, currency, manager_id) VALUES ($1, $2, $3)"
    " ON CONFLICT (client_id) DO UPDATE SET currency = excluded.currency"
    "  WHERE a.currency IS NULL",
    3};

const kt_stmt_t rcv_q_account_move = {
    "rcv_account_move",
    "UPDATE accounts SET invoiced = invoiced + $2::bigint, paid = paid + $3::bigint,"
    "       credited = credited + $4::bigint, open_amount = open_amount + $5::bigint,"
    "       unapplied = unapplied + $6::bigint, reserved = reserved + $7::bigint,"
    "       updated_at = now()"
    " WHERE client_id = $1",
    7};

const kt_stmt_t rcv_q_account_set_hold = {
    "rcv_account_set_hold",
    "UPDATE accounts SET on_hold = $2::boolean, hold_as_of = $3::date, updated_at = now()"
    " WHERE client_id = $1",
    3};

//  TermsChanged: the terms when their version is newer than the last terms
//  applied; manager, branch and status when newer than the last client
//  change applied (both versions count the same client's changes). A
//  version of 0 (a producer that does not count) always applies.
const kt_stmt_t rcv_q_terms_event = {
    "rcv_terms_event",
    "INSERT INTO accounts AS a (client_id, currency, has_terms, credit_limit, payment_days,"
    "       grace_days, client_status, manager_id, branch_id, terms_version, client_version)"
    " VALUES ($1, $2, true, $3, $4, $5, $6, $7, $8, $9, $9)"
    " ON CONFLICT (client_id) DO UPDATE SET"
    "   currency = CASE WHEN (a.terms_version < excluded.terms_version OR excluded.terms_version = 0)"
    "                   THEN excluded.currency ELSE a.currency END,"
    "   has_terms = a.has_terms OR (a.terms_version < excluded.terms_version OR excluded.terms_version = 0),"
    "   credit_limit = CASE WHEN (a.terms_version < excluded.terms_version OR excluded.terms_version = 0)"
    "                       THEN excluded.credit_limit ELSE a.credit_limit END,"
    "   payment_days = CASE WHEN (a.terms_version < excluded.terms_version OR excluded.terms_version = 0)"
    "                       THEN excluded.payment_days ELSE a.payment_days END,"
    "   grace_days = CASE WHEN (a.terms_version < excluded.terms_version OR excluded.terms_version = 0)"
    "                     THEN excluded.grace_days ELSE a.grace_days END,"
    "   terms_version = greatest(a.terms_version, excluded.terms_version),"
    "   client_status = CASE WHEN (a.client_version < excluded.client_version OR excluded.client_version = 0)"
    "                        THEN excluded.client_status ELSE a.client_status END,"
    "   manager_id = CASE WHEN (a.client_version < excluded.client_version OR excluded.client_version = 0)"
    "                     THEN excluded.manager_id ELSE a.manager_id END,"
    "   branch_id = CASE WHEN (a.client_version < excluded.client_version OR excluded.client_version = 0)"
    "                    THEN excluded.branch_id ELSE a.branch_id END,"
    "   client_version = greatest(a.client_version, excluded.client_version),"
    "   updated_at = now()",
    9};

//  SetCreditTerms: local terms, versions untouched (the next TermsChanged wins).
const kt_stmt_t rcv_q_terms_set = {
    "rcv_terms_set",
    "INSERT INTO accounts AS a (client_id, currency, has_terms, credit_limit, payment_days,"
    "       grace_days, manager_id, branch_id)"
    " VALUES ($1, $2, true, $3, $4, $5, $6, $7)"
    " ON CONFLICT (client_id) DO UPDATE SET currency = excluded.currency, has_terms = true,"
    "   credit_limit = excluded.credit_limit, payment_days = excluded.payment_days,"
    "   grace_days = excluded.grace_days, manager_id = excluded.manager_id,"
    "   branch_id = excluded.branch_id, updated_at = now()",
    7};

const kt_stmt_t rcv_q_client_event = {
    "rcv_client_event",
    "INSERT INTO accounts AS a (client_id, client_status, manager_id, branch_id, client_version)"
    " VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (client_id) DO UPDATE SET client_status = excluded.client_status,"
    "   manager_id = excluded.manager_id, branch_id = excluded.branch_id,"
    "   client_version = greatest(a.client_version, excluded.client_version),"
    "   updated_at = now()"
    " WHERE a.client_version < excluded.client_version OR excluded.client_version = 0",
    5};

const kt_stmt_t rcv_q_history_add = {
    "rcv_history_add",
    "INSERT INTO credit_events (client_id, kind, order_id, amount, exposure, credit_limit,"
    "       by_whom, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    8};

const kt_stmt_t rcv_q_history = {
    "rcv_history",
    "SELECT id, (extract(epoch FROM at) * 1000)::bigint, kind, order_id, amount, exposure,"
    "       credit_limit, by_whom, detail"
    "  FROM credit_events"
    " WHERE client_id = $1 AND ($2::bigint = 0 OR id < $2::bigint)"
    " ORDER BY id DESC LIMIT $3::int",
    3};

const kt_stmt_t rcv_q_today = {"rcv_today", "SELECT current_date::text", 0};

//  ---------------------------------------------------------------- credit reservations

const kt_stmt_t rcv_q_resv_get = {
    "rcv_resv_get",
    "SELECT order_id, client_id, amount, currency, status,"
    "       (extract(epoch FROM expires_at) * 1000)::bigint, expires_at <= now(), approved_by"
    "  FROM credit_reservations WHERE order_id = $1",
    1};

const kt_stmt_t rcv_q_resv_insert = {
    "rcv_resv_insert",
    "INSERT INTO credit_reservations (order_id, client_id, amount, currency, status,"
    "       expires_at, approved_by, manager_id)"
    " VALUES ($1, $2, $3, $4, 'HELD', now() + make_interval(secs => $5::int), $6, $7)"
    " ON CONFLICT (order_id) DO NOTHING"
    " RETURNING (extract(epoch FROM expires_at) * 1000)::bigint",
    7};

//  ReserveCredit's common case in one statement (migrations/003): outcome
//  'reserved' or 'slow', expires (ms), limit, exposure before, currency.
const kt_stmt_t rcv_q_reserve_fast = {
    "rcv_reserve_fast",
    "SELECT outcome, expires_ms, credit_limit, exposure, coalesce(currency, '')"
    "  FROM reserve_credit_fast($1, $2, $3, $4, $5, $6, $7, $8)",
    8};

const kt_stmt_t rcv_q_confirm_fast = {
    "rcv_confirm_fast", "SELECT credit_confirm_fast($1, $2)", 2};

const kt_stmt_t rcv_q_resv_statuses = {
    "rcv_resv_statuses",
    "SELECT order_id, status FROM credit_reservations WHERE order_id = ANY ($1::bigint[])"
    " ORDER BY order_id",
    1};

const kt_stmt_t rcv_q_resv_set_status = {
    "rcv_resv_set_status",
    "UPDATE credit_reservations SET status = $2, updated_at = now()"
    " WHERE order_id = $1 AND status = $3"
    " RETURNING amount",
    3};

//  Holds of one client whose time ran out; the caller holds the account
//  row and takes the sum off accounts.reserved.
const kt_stmt_t rcv_q_resv_expire_client = {
    "rcv_resv_expire_client",
    "WITH e AS (UPDATE credit_reservations SET status = 'EXPIRED', updated_at = now()"
    "            WHERE client_id = $1 AND status = 'HELD' AND expires_at <= now()"
    "        RETURNING order_id, client_id, amount),"
    "     h AS (INSERT INTO credit_events (client_id, kind, order_id, amount, by_whom, detail)"
    "           SELECT client_id, 'expired', order_id, amount, $2, 'not confirmed in time'"
    "             FROM e)"
    " SELECT coalesce(sum(amount), 0), count(*) FROM e",
    2};

const kt_stmt_t rcv_q_resv_expired_clients = {
    "rcv_resv_expired_clients",
    "SELECT DISTINCT client_id FROM credit_reservations"
    " WHERE status = 'HELD' AND expires_at <= now() ORDER BY client_id LIMIT 200",
    0};

//  How many holds of one client rcv_q_resv_expire_client would expire now;
//  the sweeper asks under the account row's lock (so nothing else expires
//  them in between; now() is the transaction's) to count them for /metrics.
const kt_stmt_t rcv_q_resv_expirable_count = {
    "rcv_resv_expirable_count",
    "SELECT count(*) FROM credit_reservations"
    " WHERE client_id = $1 AND status = 'HELD' AND expires_at <= now()",
    1};

//  The sweeper's gauges: credit reservations held and confirmed now, and
//  clients on credit hold, each read from a partial index
//  (credit_reservations_expiry, credit_reservations_live, accounts_on_hold).
const kt_stmt_t rcv_q_metrics_counts = {
    "rcv_metrics_counts",
    "SELECT (SELECT count(*) FROM credit_reservations WHERE status = 'HELD'),"
    " (SELECT count(*) FROM credit_reservations WHERE status = 'CONFIRMED'),"
    " (SELECT count(*) FROM accounts WHERE on_hold)",
    0};

const kt_stmt_t rcv_q_resv_invoice = {
    "rcv_resv_invoice",
    "UPDATE credit_reservations SET status = 'INVOICED', invoice_id = $2, updated_at = now()"
    " WHERE order_id = $1 AND client_id = $3 AND status IN ('HELD', 'CONFIRMED')"
    " RETURNING amount",
    3};

//  ---------------------------------------------------------------- invoices

//  Issued on the dispatch day (the database's calendar; never after its
//  today), due payment_days later. ON CONFLICT: one invoice per dispatch.
const kt_stmt_t rcv_q_invoice_insert = {
    "rcv_invoice_insert",
    "WITH d AS (SELECT least(coalesce(to_timestamp(nullif($6::bigint, 0) / 1000.0)::date,"
    "                                 current_date), current_date) AS day)"
    " INSERT INTO invoices (client_id, order_id, shipment_id, currency, amount, open_amount,"
    "        issued_on, due_on, settled_on)"
    " SELECT $1, $2, $3, $4, $5::bigint, $5::bigint, d.day, d.day + $7::int,"
    "        CASE WHEN $5::bigint = 0 THEN d.day END FROM d"
    " ON CONFLICT (shipment_id) DO NOTHING"
    " RETURNING id, issued_on::text, due_on::text",
    7};

const kt_stmt_t rcv_q_invoice_lines = {
    "rcv_invoice_lines",
    "INSERT INTO invoice_lines (invoice_id, n, sku, qty, unit_price, line_total)"
    " SELECT $1, l.n, l.sku, l.qty, l.price, l.qty * l.price"
    "   FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) WITH ORDINALITY"
    "        AS l(sku, qty, price, n)",
    4};

const kt_stmt_t rcv_q_invoice_get = {
    "rcv_invoice_get",
    "SELECT id, client_id, open_amount FROM invoices WHERE id = ANY ($1::bigint[])",
    1};

const kt_stmt_t rcv_q_invoices_of_order = {
    "rcv_invoices_of_order",
    "SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM invoices"
    " WHERE order_id = $1 AND client_id = $2",
    2};

const kt_stmt_t rcv_q_invoice_of_shipment = {
    "rcv_invoice_of_shipment",
    "SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM invoices"
    " WHERE shipment_id = $1 AND client_id = $2",
    2};

//  A new invoice ($2) takes the client's ($1) unapplied credit, oldest first.
const kt_stmt_t rcv_q_alloc_credit_to_invoice = {
    "rcv_alloc_credit_to_invoice",
    "WITH inv AS (SELECT id, open_amount, issued_on FROM invoices"
    "              WHERE id = $2 AND open_amount > 0),"
    "     src AS (SELECT s.id, s.unapplied, s.on_date,"
    "                    sum(s.unapplied) OVER (ORDER BY s.on_date, s.id) AS run"
    "               FROM settlements s WHERE s.client_id = $1 AND s.unapplied > 0),"
    "     pick AS (SELECT src.id,"
    "                     least(src.unapplied, inv.open_amount - (src.run - src.unapplied))::bigint"
    "                         AS amt,"
    "                     greatest(src.on_date, inv.issued_on) AS eff"
    "                FROM src, inv WHERE src.run - src.unapplied < inv.open_amount),"
    "     ins AS (INSERT INTO allocations (settlement_id, invoice_id, client_id, amount,"
    "                    effective_on)"
    "             SELECT id, $2, $1, amt, eff FROM pick),"
    "     ups AS (UPDATE settlements s SET unapplied = s.unapplied - p.amt"
    "               FROM pick p WHERE s.id = p.id),"
    "     tot AS (SELECT sum(amt)::bigint AS amt, max(eff) AS eff FROM pick),"
    "     upi AS (UPDATE invoices i SET open_amount = i.open_amount - tot.amt,"
    "                    settled_on = CASE WHEN i.open_amount = tot.amt THEN tot.eff END"
    "               FROM tot WHERE i.id = $2 AND tot.amt IS NOT NULL)"
    " SELECT coalesce(sum(amt), 0) FROM pick",
    2};

//  Settlement $2 (value date $3) pays up to $4 of client $1's open
//  invoices: those named in $5 in their order, or (NULL) oldest due first.
const kt_stmt_t rcv_q_allocate = {
    "rcv_allocate",
    "WITH tgt AS (SELECT i.id, i.open_amount, i.issued_on,"
    "                    sum(i.open_amount) OVER (ORDER BY"
    "                        coalesce(array_position($5::bigint[], i.id), 0), i.due_on, i.id)"
    "                        AS run"
    "               FROM invoices i"
    "              WHERE i.client_id = $1 AND i.open_amount > 0"
    "                AND ($5::bigint[] IS NULL OR i.id = ANY ($5::bigint[]))),"
    "     pick AS (SELECT id, least(open_amount, $4::bigint - (run - open_amount))::bigint AS amt,"
    "                     greatest($3::date, issued_on) AS eff, run"
    "                FROM tgt WHERE run - open_amount < $4::bigint),"
    "     ins AS (INSERT INTO allocations (settlement_id, invoice_id, client_id, amount,"
    "                    effective_on)"
    "             SELECT $2, id, $1, amt, eff FROM pick),"
    "     upi AS (UPDATE invoices i SET open_amount = i.open_amount - p.amt,"
    "                    settled_on = CASE WHEN i.open_amount = p.amt THEN p.eff END"
    "               FROM pick p WHERE i.id = p.id)"
    " SELECT id, amt FROM pick ORDER BY run",
    5};

//  ---------------------------------------------------------------- settlements

//  ON CONFLICT: a payment's reference, or a credit note's source, seen before.
const kt_stmt_t rcv_q_settlement_insert = {
    "rcv_settlement_insert",
    "INSERT INTO settlements (client_id, kind, currency, amount, unapplied, on_date,"
    "       reference, source, source_id, order_id, recorded_by)"
    " VALUES ($1, $2, $3, $4::bigint, $4::bigint, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT DO NOTHING RETURNING id",
    10};

const kt_stmt_t rcv_q_settlement_unapplied = {
    "rcv_settlement_unapplied", "UPDATE settlements SET unapplied = $2 WHERE id = $1", 2};

const kt_stmt_t rcv_q_payment_by_ref = {
    "rcv_payment_by_ref",
    "SELECT id, client_id, amount, currency, on_date::text, unapplied,"
    "       reversed_on IS NOT NULL, coalesce(reversed_on::text, '')"
    "  FROM settlements WHERE kind = 'payment' AND reference = $1",
    1};

const kt_stmt_t rcv_q_payment_allocations = {
    "rcv_payment_allocations",
    "SELECT invoice_id, amount FROM allocations"
    " WHERE settlement_id = $1 AND reversed_at IS NULL ORDER BY id",
    1};

//  Undo a settlement's live allocations: the invoices are open again.
const kt_stmt_t rcv_q_payment_unallocate = {
    "rcv_payment_unallocate",
    "WITH a AS (UPDATE allocations SET reversed_at = now()"
    "            WHERE settlement_id = $1 AND reversed_at IS NULL"
    "        RETURNING invoice_id, amount),"
    "     g AS (SELECT invoice_id, sum(amount)::bigint AS amt FROM a GROUP BY invoice_id),"
    "     u AS (UPDATE invoices i SET open_amount = i.open_amount + g.amt, settled_on = NULL"
    "             FROM g WHERE i.id = g.invoice_id)"
    " SELECT invoice_id, amt FROM g ORDER BY invoice_id",
    1};

const kt_stmt_t rcv_q_payment_reverse = {
    "rcv_payment_reverse",
    "UPDATE settlements SET unapplied = 0, reversed_on = current_date, reversed_reason = $2"
    " WHERE id = $1 AND reversed_on IS NULL"
    " RETURNING reversed_on::text",
    2};

//  Open invoices past grace on a date.
const kt_stmt_t rcv_q_overdue = {
    "rcv_overdue",
    "SELECT id, open_amount FROM invoices"
    " WHERE client_id = $1 AND open_amount > 0 AND due_on + $2::int < $3::date"
    " ORDER BY due_on, id",
    3};

//  ---------------------------------------------------------------- reports

const kt_stmt_t rcv_q_balance_extra = {
    "rcv_balance_extra",
    "SELECT coalesce(sum(open_amount) FILTER (WHERE due_on < current_date), 0), count(*)"
    "  FROM invoices WHERE client_id = $1 AND open_amount > 0",
    1};

//  $1 as_of, $2 group (0 client, 1 manager, 2 branch, 3 total), $3 client,
//  $4 manager, $5 branch (0: any).
#define S_AGING_SELECT(src, due)                                                                 \
    "SELECT CASE $2::int WHEN 0 THEN a.client_id WHEN 1 THEN a.manager_id"                      \
    "                    WHEN 2 THEN a.branch_id ELSE 0 END,"                                    \
    "       a.currency,"                                                                         \
    "       coalesce(sum(" src ") FILTER (WHERE $1::date - " due " <= 0), 0),"                   \
    "       coalesce(sum(" src ") FILTER (WHERE $1::date - " due " BETWEEN 1 AND 30), 0),"       \
    "       coalesce(sum(" src ") FILTER (WHERE $1::date - " due " BETWEEN 31 AND 60), 0),"      \
    "       coalesce(sum(" src ") FILTER (WHERE $1::date - " due " BETWEEN 61 AND 90), 0),"      \
    "       coalesce(sum(" src ") FILTER (WHERE $1::date - " due " > 90), 0),"                   \
    "       coalesce(sum(" src "), 0)"

#define S_AGING_FILTER                                                                           \
    " AND ($3::bigint = 0 OR a.client_id = $3::bigint)"                                          \
    " AND ($4::bigint = 0 OR a.manager_id = $4::bigint)"                                         \
    " AND ($5::bigint = 0 OR a.branch_id = $5::bigint)"                                          \
    " GROUP BY 1, 2 ORDER BY 1, 2"

//  Today or later: the per-day totals the invoices' trigger keeps.
const kt_stmt_t rcv_q_aging_open = {
    "rcv_aging_open",
    S_AGING_SELECT("o.open_amount", "o.due_on")
    "  FROM open_by_due o JOIN accounts a ON a.client_id = o.client_id WHERE true"
    S_AGING_FILTER,
    5};

//  A past date: the open invoices issued by then, through their index.
const kt_stmt_t rcv_q_aging_items = {
    "rcv_aging_items",
    S_AGING_SELECT("i.open_amount", "i.due_on")
    "  FROM invoices i JOIN accounts a ON a.client_id = i.client_id"
    " WHERE i.open_amount > 0 AND i.issued_on <= $1::date"
    S_AGING_FILTER,
    5};

//  What the client owed at the start of $2: invoiced - settled + reversed
//  before it.
const kt_stmt_t rcv_q_statement_opening = {
    "rcv_statement_opening",
    "SELECT (SELECT coalesce(sum(amount), 0) FROM invoices"
    "         WHERE client_id = $1 AND issued_on < $2::date)"
    "     - (SELECT coalesce(sum(amount), 0) FROM settlements"
    "         WHERE client_id = $1 AND on_date < $2::date)"
    "     + (SELECT coalesce(sum(amount), 0) FROM settlements"
    "         WHERE client_id = $1 AND reversed_on < $2::date)",
    2};

//  kind: 1 invoice, 2 payment, 3 credit note, 4 payment reversal.
const kt_stmt_t rcv_q_statement_lines = {
    "rcv_statement_lines",
    "SELECT day::text, kind, id, ref, debit, credit FROM ("
    " SELECT issued_on AS day, 1 AS kind, id, 'order ' || order_id AS ref, amount AS debit,"
    "        0::bigint AS credit"
    "   FROM invoices WHERE client_id = $1 AND issued_on BETWEEN $2::date AND $3::date"
    " UNION ALL"
    " SELECT on_date, CASE kind WHEN 'payment' THEN 2 ELSE 3 END, id,"
    "        coalesce(reference, source || ' ' || source_id), 0, amount"
    "   FROM settlements WHERE client_id = $1 AND on_date BETWEEN $2::date AND $3::date"
    " UNION ALL"
    " SELECT reversed_on, 4, id, reference, amount, 0"
    "   FROM settlements WHERE client_id = $1 AND reversed_on BETWEEN $2::date AND $3::date"
    ") l ORDER BY day, kind, id LIMIT $4::int",
    4};

//  Over the invoices falling due in the 12 months up to $2.
const kt_stmt_t rcv_q_discipline = {
    "rcv_discipline",
    "SELECT count(*),"
    "       count(*) FILTER (WHERE settled_on <= $2::date),"
    "       count(*) FILTER (WHERE settled_on <= $2::date AND settled_on <= due_on),"
    "       coalesce(sum(greatest(settled_on - due_on, 0)) FILTER (WHERE settled_on <= $2::date),"
    "                0),"
    "       coalesce(max(settled_on - due_on) FILTER (WHERE settled_on <= $2::date), 0),"
    "       count(*) FILTER (WHERE (settled_on IS NULL OR settled_on > $2::date)"
    "                          AND due_on < $2::date),"
    "       greatest("
    "         (SELECT max($2::date - due_on) FROM invoices"
    "           WHERE client_id = $1 AND open_amount > 0 AND due_on < $2::date),"
    "         (SELECT max($2::date - due_on) FROM invoices"
    "           WHERE client_id = $1 AND settled_on > $2::date AND due_on < $2::date), 0),"
    "       (($2::date - interval '12 months')::date + 1)::text"
    "  FROM invoices"
    " WHERE client_id = $1 AND due_on > ($2::date - interval '12 months')::date"
    "   AND due_on <= $2::date",
    2};

//  ---------------------------------------------------------------- dunning

const kt_stmt_t rcv_q_dunning_run_start = {
    "rcv_dunning_run_start",
    "INSERT INTO dunning_runs (as_of, by_whom) VALUES ($1, $2) RETURNING id", 2};

const kt_stmt_t rcv_q_dunning_run_finish = {
    "rcv_dunning_run_finish",
    "UPDATE dunning_runs SET finished_at = now(), notices = $2, holds_on = $3, holds_off = $4"
    " WHERE id = $1",
    4};

//  One page of open invoices by (due_on, id) after ($5, $6): the notice
//  each has reached as of $1 ($2 reminder days, $3 escalation days, $4 page
//  size), inserted unless that level or a higher one was issued before.
//  Rows: ('n', notice id, invoice, client, manager, level, due, amount,
//  currency) for each notice issued, then ('page', rows seen, last id, 0,
//  0, 0, last due, 0, '') unless the page was empty.
const kt_stmt_t rcv_q_dunning_notices = {
    "rcv_dunning_notices",
    "WITH c AS (SELECT i.id, i.client_id, i.due_on, i.issued_on, i.open_amount, i.currency"
    "             FROM invoices i"
    "            WHERE i.open_amount > 0 AND i.due_on <= $1::date + $2::int"
    "              AND (i.due_on, i.id) > ($5::date, $6::bigint)"
    "            ORDER BY i.due_on, i.id LIMIT $4::int),"
    "     l AS (SELECT c.*, a.manager_id,"
    "                  CASE WHEN c.due_on > $1::date THEN"
    "                         CASE WHEN c.due_on - $1::date <= $2::int THEN 0 END"
    "                       ELSE (SELECT max(x.k) FROM unnest($3::int[]) WITH ORDINALITY"
    "                                                  AS x(d, k)"
    "                              WHERE $1::date - c.due_on >= x.d)::int"
    "                  END AS level"
    "             FROM c JOIN accounts a ON a.client_id = c.client_id"
    "            WHERE c.issued_on <= $1::date),"
    "     n AS (INSERT INTO dunning_notices (invoice_id, client_id, manager_id, level, as_of,"
    "                  due_on, amount, currency)"
    "           SELECT id, client_id, manager_id, level, $1::date, due_on, open_amount, currency"
    "             FROM l"
    "            WHERE level IS NOT NULL AND NOT EXISTS"
    "                  (SELECT 1 FROM dunning_notices d"
    "                    WHERE d.invoice_id = l.id AND d.level >= l.level)"
    "            ORDER BY id"
    "           ON CONFLICT (invoice_id, level) DO NOTHING"
    "        RETURNING id, invoice_id, client_id, manager_id, level, due_on, amount, currency)"
    " SELECT 'n', id, invoice_id, client_id, manager_id, level, due_on::text, amount,"
    "        currency::text FROM n"
    " UNION ALL"
    " SELECT 'page', (SELECT count(*) FROM c), last.id, 0, 0, 0, last.due_on::text, 0, ''"
    "   FROM (SELECT id, due_on FROM c ORDER BY due_on DESC, id DESC LIMIT 1) last",
    6};

//  Clients not on hold with an open invoice past grace on $1, after client $2.
const kt_stmt_t rcv_q_dunning_hold_candidates = {
    "rcv_dunning_hold_candidates",
    "SELECT a.client_id FROM accounts a"
    " WHERE NOT a.on_hold AND a.client_id > $2::bigint"
    "   AND EXISTS (SELECT 1 FROM open_by_due o WHERE o.client_id = a.client_id"
    "                  AND o.due_on + a.grace_days < $1::date)"
    " ORDER BY a.client_id LIMIT 200",
    2};

//  Clients on hold with nothing past grace any more, after client $2.
const kt_stmt_t rcv_q_dunning_lift_candidates = {
    "rcv_dunning_lift_candidates",
    "SELECT a.client_id FROM accounts a"
    " WHERE a.on_hold AND a.client_id > $2::bigint"
    "   AND NOT EXISTS (SELECT 1 FROM open_by_due o WHERE o.client_id = a.client_id"
    "                      AND o.due_on + a.grace_days"
    "                          < greatest($1::date, coalesce(a.hold_as_of, $1::date)))"
    " ORDER BY a.client_id LIMIT 200",
    2};

//  Whether today's daily run is still to do, and today.
const kt_stmt_t rcv_q_dunning_due_today = {
    "rcv_dunning_due_today",
    "SELECT NOT EXISTS (SELECT 1 FROM dunning_runs"
    "                    WHERE as_of = current_date AND finished_at IS NOT NULL),"
    "       current_date::text",
    0};
