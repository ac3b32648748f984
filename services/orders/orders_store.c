/*  orders_store - every SQL statement of the orders service.
 *
 *  Plain table names: each connection's search_path is the orders schema.
 *  The advisory lock a placement holds is the two-key form
 *  (1263489604 = "KORD", order id mod 2^31 - 1), which never meets the
 *  one-key locks of the framework (kt_events.c).
 */
#include "orders_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LOCK_KEY(id) "1263489604, (" id " % 2147483647)::int"

//  ---------------------------------------------------------------- pricing and terms

//  Terms, a fresh order id (when $6), the promotions' version, the order an
//  idempotency key made, the caller role's discount ceiling, and the price
//  of every SKU in the client's column valid on the day: one round trip.
//  No row: the client's terms are not here yet.
const kt_stmt_t orders_sql_load = {
    "orders_load",
    "WITH t AS MATERIALIZED ("
    "  SELECT client_id, price_column, discount_bp, credit_limit, currency, short_policy,"
    "         status, manager_id, branch_id, on_hold,"
    "         CASE WHEN $6::boolean THEN nextval('orders_id_seq') ELSE 0 END AS next_id"
    "    FROM client_terms WHERE client_id = $1::bigint)"
    " SELECT t.client_id, t.price_column, t.discount_bp, t.credit_limit, t.currency,"
    "        t.short_policy, t.status, t.manager_id, t.branch_id, t.on_hold, t.next_id,"
    "        (SELECT version FROM promo_state),"
    "        coalesce((SELECT order_id FROM orders WHERE idem_key = $4::text), 0),"
    "        coalesce((SELECT max_bp FROM discount_authority WHERE role = $5::text), 10000),"
    "        p.sku, p.price, p.currency, coalesce(g.analog_group, 0)"
    "   FROM t"
    "   LEFT JOIN LATERAL ("
    "     SELECT DISTINCT ON (pr.sku) pr.sku, pr.price, l.currency"
    "       FROM prices pr JOIN price_lists l ON l.price_list_id = pr.price_list_id"
    "      WHERE pr.sku = ANY ($2::bigint[]) AND pr.col = t.price_column"
    "        AND l.valid_from <= $3::date AND (l.valid_to IS NULL OR l.valid_to >= $3::date)"
    "      ORDER BY pr.sku, l.valid_from DESC, l.price_list_id DESC) p ON true"
    "   LEFT JOIN products g ON g.sku = p.sku",
    6};

const kt_stmt_t orders_sql_promos = {
    "orders_promos",
    "SELECT promotion_id, kind, scope, scope_id, valid_from - date '1970-01-01',"
    "       coalesce(valid_to - date '1970-01-01', 2147483647), min_qty, min_order_value,"
    "       percent_bp, free_sku, free_qty, priority, name, (SELECT version FROM promo_state)"
    "  FROM promotions WHERE active ORDER BY promotion_id",
    0};

const kt_stmt_t orders_sql_terms_upsert = {
    "orders_terms_upsert",
    "INSERT INTO client_terms (client_id, price_column, discount_bp, payment_days,"
    "                          credit_limit, currency, short_policy, status, manager_id,"
    "                          branch_id, version)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (client_id) DO UPDATE SET price_column = excluded.price_column,"
    "   discount_bp = excluded.discount_bp, payment_days = excluded.payment_days,"
    "   credit_limit = excluded.credit_limit, currency = excluded.currency,"
    "   short_policy = excluded.short_policy, status = excluded.status,"
    "   manager_id = excluded.manager_id, branch_id = excluded.branch_id,"
    "   version = excluded.version, refreshed_at = now()"
    " WHERE client_terms.version <= excluded.version",
    11};

const kt_stmt_t orders_sql_client_changed = {
    "orders_client_changed",
    "UPDATE client_terms SET status = $2, manager_id = $3, branch_id = $4, version = $5,"
    "       refreshed_at = now()"
    " WHERE client_id = $1 AND version < $5",
    5};

const kt_stmt_t orders_sql_credit_hold = {
    "orders_credit_hold", "UPDATE client_terms SET on_hold = $2 WHERE client_id = $1", 2};

//  ---------------------------------------------------------------- placing and settling

//  The order and its lines in one statement; nothing when the idempotency
//  key is taken (a concurrent twin waits here for the first to commit).
//  With $27 the placement's advisory lock is taken on the new id.
#define S_INSERT_ORDER                                                                         \
    " o AS ("                                                                                  \
    "  INSERT INTO orders (order_id, idem_key, body_hash, parent_id, client_id, manager_id,"   \
    "         branch_id, warehouse_id, status, undo_status, reason, reason_text, currency,"    \
    "         list_total, total, n_lines, extra_bp, short_policy, delivery_date,"              \
    "         delivery_method, address, note, placed_by, called_out, expected_date, reply,"    \
    "         reply_status, approved_by)"                                                      \
    "  VALUES ($1, $2, decode($3, 'hex'), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"    \
    "          $15, cardinality($28::bigint[]), $16, $17, $18::date, $19, $20, $21, $22, $23,"  \
    "          $24::date, decode($25, 'hex'), $26, $40)"                                       \
    "  ON CONFLICT (idem_key) DO NOTHING"                                                      \
    "  RETURNING order_id),"                                                                   \
    " l AS ("                                                                                  \
    "  INSERT INTO order_lines (order_id, line_no, sku, qty, list_price, unit_price,"          \
    "         line_total, free, client_bp, promo_id, promo_bp, extra_bp, available,"           \
    "         expected_date)"                                                                  \
    "  SELECT o.order_id, u.n, u.sku, u.qty, u.lp, u.up, u.lt, u.fr, u.cb, u.pi, u.pb,"        \
    "         u.eb, u.av, u.ed"                                                                \
    "    FROM o, unnest($28::bigint[], $29::bigint[], $30::bigint[], $31::bigint[],"           \
    "                   $32::bigint[], $33::boolean[], $34::int[], $35::bigint[], $36::int[],"  \
    "                   $37::int[], $38::bigint[], $39::date[])"                               \
    "         WITH ORDINALITY AS u(sku, qty, lp, up, lt, fr, cb, pi, pb, eb, av, ed, n))"      \
    " SELECT order_id, CASE WHEN $27::boolean THEN pg_advisory_lock(" S_LOCK_KEY("order_id")  \
    ")::text END"

const kt_stmt_t orders_sql_insert_order = {
    "orders_insert_order", "WITH" S_INSERT_ORDER " FROM o", 40};

//  The PENDING write of a placement, as a transaction of its own (run
//  outside any explicit transaction): the same statement, whose commit
//  does not wait for the WAL flush. Nothing is promised to anyone until
//  the order settles, and the settling commit (synchronous) flushes the WAL
//  past this one; lost in a database crash, it takes nothing with it but
//  reservations that expire by themselves. set_config(..., true) lasts
//  until the end of the statement's own (implicit) transaction, and
//  synchronous_commit is read when that transaction commits.
const kt_stmt_t orders_sql_insert_pending = {
    "orders_insert_pending",
    "WITH a AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS v),"
    S_INSERT_ORDER ", (SELECT v FROM a) FROM o",
    40};

//  Settle a PENDING order: its outcome, the first reply (kept if one is
//  there), the lines' availability; the lock is given up whatever happened.
//  A CONFIRMED settlement writes its OrderConfirmed ($14, packed, hex) into
//  the outbox in the same statement, so that the settlement is one
//  transaction of one statement: the event exists iff the order was
//  PENDING and is now CONFIRMED.
//  The order's row as settled; $1-$8, $12-$14 as below.
#define S_SETTLE_ORDER                                                                         \
    "WITH u AS ("                                                                              \
    "  UPDATE orders SET status = $2::smallint, reason = $3, reason_text = $4,"                \
    "         reply = coalesce(reply, decode($5, 'hex')),"                                     \
    "         reply_status = coalesce(reply_status, $6::smallint),"                            \
    "         needs_release = needs_release OR $7::boolean, expected_date = $8::date,"         \
    "         approved_by = $12, bo_ready = false, updated_at = now(),"                        \
    "         confirmed_at = CASE WHEN $2::smallint = 2 THEN now() END,"                       \
    "         total = CASE WHEN $13::bigint >= 0 THEN $13::bigint ELSE total END"              \
    "   WHERE order_id = $1 AND status = 1 RETURNING order_id),"                               \
    " e AS ("                                                                                  \
    "  INSERT INTO outbox (type, payload)"                                                     \
    "  SELECT 'OrderConfirmed', decode($14, 'hex') FROM u"                                     \
    "   WHERE $2::smallint = 2 AND $14 IS NOT NULL)"

#define S_SETTLE_RESULT                                                                        \
    " SELECT (SELECT order_id FROM u), pg_advisory_unlock(" S_LOCK_KEY("$1::bigint") ")"

const kt_stmt_t orders_sql_settle = {
    "orders_settle",
    S_SETTLE_ORDER ","
    " l AS ("
    "  UPDATE order_lines ol SET available = x.a, expected_date = x.d"
    "    FROM u, unnest($9::int[], $10::bigint[], $11::date[]) AS x(n, a, d)"
    "   WHERE ol.order_id = u.order_id AND ol.line_no = x.n)" S_SETTLE_RESULT,
    14};

//  The same when no line changed since the PENDING write (the common
//  case), without the line rewrite; `l` only gives $9-$11 their types (a
//  CTE nobody reads is not run), so that both take the same parameters.
//  Measured in the benchmark (pg_stat_statements' plans), the statement
//  with the rewrite was planned afresh at every call, the planner
//  preferring a custom plan for the unnest join; without it the cached
//  generic plan serves.
const kt_stmt_t orders_sql_settle_order = {
    "orders_settle_order",
    S_SETTLE_ORDER ","
    " l AS (SELECT $9::int[], $10::bigint[], $11::date[])" S_SETTLE_RESULT,
    14};

const kt_stmt_t orders_sql_unlock = {
    "orders_unlock", "SELECT pg_advisory_unlock(" S_LOCK_KEY("$1::bigint") ")", 1};

//  Give the placement's lock back if this session holds it (after a failed
//  statement that may or may not have taken it), without the warning an
//  unlock of a lock not held logs.
const kt_stmt_t orders_sql_unlock_if_held = {
    "orders_unlock_if_held",
    "SELECT pg_advisory_unlock(" S_LOCK_KEY("$1::bigint") ")"
    "  FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    "   AND classid = 1263489604 AND objid = ($1::bigint % 2147483647) AND objsubid = 2"
    "   AND granted",
    1};

const kt_stmt_t orders_sql_try_lock = {
    "orders_try_lock", "SELECT pg_try_advisory_lock(" S_LOCK_KEY("$1::bigint") ")", 1};

const kt_stmt_t orders_sql_lock = {
    "orders_lock", "SELECT pg_advisory_lock(" S_LOCK_KEY("$1::bigint") ")::text", 1};

//  Wait (inside a transaction with a lock_timeout) until the placer of an
//  order lets go of it.
const kt_stmt_t orders_sql_wait_lock = {
    "orders_wait_lock",
    "SELECT pg_advisory_xact_lock_shared(" S_LOCK_KEY("$1::bigint") ")::text", 1};

//  Claim an order that has never been called out for: PENDING, to go back
//  to `$2` if interrupted.
const kt_stmt_t orders_sql_claim = {
    "orders_claim",
    "UPDATE orders SET status = 1, undo_status = $2, called_out = true,"
    "       approved_by = CASE WHEN $3 = '' THEN approved_by ELSE $3 END,"
    "       bo_ready = false, updated_at = now()"
    " WHERE order_id = $1 AND status = $2 AND NOT called_out"
    " RETURNING pg_advisory_lock(" S_LOCK_KEY("order_id") ")::text",
    3};

const kt_stmt_t orders_sql_next_id = {"orders_next_id", "SELECT nextval('orders_id_seq')", 0};

//  Continue order $1 (in status $3) as the new order $2, PENDING.
const kt_stmt_t orders_sql_copy_order = {
    "orders_copy_order",
    "INSERT INTO orders (order_id, parent_id, client_id, manager_id, branch_id, warehouse_id,"
    "       status, undo_status, currency, list_total, total, n_lines, extra_bp,"
    "       short_policy, delivery_date, delivery_method, address, note, placed_by,"
    "       approved_by, called_out, expected_date, created_at)"
    " SELECT $2, parent_id, client_id, manager_id, branch_id, warehouse_id, 1, $3,"
    "        currency, list_total, total, n_lines, extra_bp, short_policy, delivery_date,"
    "        delivery_method, address, note, placed_by,"
    "        CASE WHEN $4 = '' THEN approved_by ELSE $4 END, true, expected_date, created_at"
    "   FROM orders WHERE order_id = $1 AND status = $3 FOR UPDATE",
    4};

const kt_stmt_t orders_sql_copy_lines = {
    "orders_copy_lines",
    "INSERT INTO order_lines (order_id, line_no, sku, qty, list_price, unit_price, line_total,"
    "       free, client_bp, promo_id, promo_bp, extra_bp, available, expected_date)"
    " SELECT $2, line_no, sku, qty, list_price, unit_price, line_total, free, client_bp,"
    "        promo_id, promo_bp, extra_bp, available, expected_date"
    "   FROM order_lines WHERE order_id = $1",
    2};

const kt_stmt_t orders_sql_replace = {
    "orders_replace",
    "UPDATE orders SET status = 11, replaced_by = $2, bo_ready = false, updated_at = now()"
    " WHERE order_id = $1",
    2};

//  What a replayed idempotency key needs.
const kt_stmt_t orders_sql_replay = {
    "orders_replay",
    "SELECT order_id, encode(body_hash, 'hex'), status, encode(reply, 'hex'), reply_status,"
    "       reason, reason_text"
    "  FROM orders WHERE idem_key = $1",
    1};

const kt_stmt_t orders_sql_release_done = {
    "orders_release_done", "UPDATE orders SET needs_release = false WHERE order_id = $1", 1};

//  ---------------------------------------------------------------- reading orders

#define S_ORDER_COLUMNS                                                                        \
    "o.order_id, o.client_id, o.manager_id, o.branch_id, o.warehouse_id, o.status,"            \
    " o.undo_status, o.reason, o.reason_text, o.currency, o.list_total, o.total, o.extra_bp," \
    " o.short_policy, coalesce(o.delivery_date::text, ''), o.delivery_method, o.address,"      \
    " o.note, o.placed_by, o.approved_by,"                                                     \
    " (extract(epoch FROM o.created_at) * 1000)::bigint,"                                      \
    " coalesce((extract(epoch FROM o.confirmed_at) * 1000)::bigint, 0),"                       \
    " coalesce(o.parent_id, 0), coalesce(o.replaced_by, 0),"                                   \
    " coalesce(o.expected_date::text, ''), o.called_out,"                                      \
    " coalesce((SELECT min(b.order_id) FROM orders b WHERE b.parent_id = o.order_id), 0),"     \
    " coalesce((SELECT sum(s.qty) FROM shipments s WHERE s.order_id = o.order_id"             \
    "           AND s.status IN (3, 4)), 0),"                                                  \
    " coalesce((SELECT sum(s.qty) FROM shipments s WHERE s.order_id = o.order_id"             \
    "           AND s.status = 4), 0),"                                                        \
    " (extract(epoch FROM o.created_at) * 1000000)::bigint"

const kt_stmt_t orders_sql_get = {
    "orders_get", "SELECT " S_ORDER_COLUMNS " FROM orders o WHERE o.order_id = $1", 1};

const kt_stmt_t orders_sql_get_lines = {
    "orders_get_lines",
    "SELECT line_no, sku, qty, list_price, unit_price, line_total, free, client_bp, promo_id,"
    "       promo_bp, extra_bp, available, coalesce(expected_date::text, '')"
    "  FROM order_lines WHERE order_id = $1 ORDER BY line_no",
    1};

//  Keyset pagination, newest first: $6/$7 are the last row's (created_at in
//  microseconds, id) of the previous page, or NULL.
#define S_LIST_FILTERS                                                                         \
    "   AND ($2::bigint = 0 OR o.manager_id = $2::bigint)"                                     \
    "   AND ($3::int = 0 OR o.status = $3::int)"                                               \
    "   AND ($4::date IS NULL OR o.created_at >= $4::date)"                                    \
    "   AND ($5::date IS NULL OR o.created_at < $5::date + 1)"                                 \
    "   AND ($6::bigint IS NULL OR (o.created_at, o.order_id) <"                               \
    "        (timestamptz 'epoch' + $6::bigint * interval '1 microsecond', $7::bigint))"       \
    " ORDER BY o.created_at DESC, o.order_id DESC LIMIT $8"

const kt_stmt_t orders_sql_list = {
    "orders_list",
    "SELECT " S_ORDER_COLUMNS
    "  FROM orders o"
    " WHERE ($1::bigint = 0 OR o.client_id = $1::bigint)" S_LIST_FILTERS,
    8};

//  The same for one client ($1 > 0): the plan a prepared statement keeps
//  can then walk orders_client newest first (with "$1 = 0 OR", a generic
//  plan cannot use the index and reads every order).
const kt_stmt_t orders_sql_list_client = {
    "orders_list_client",
    "SELECT " S_ORDER_COLUMNS
    "  FROM orders o"
    " WHERE o.client_id = $1::bigint" S_LIST_FILTERS,
    8};

//  What the client usually buys: SKUs of their orders in the last year,
//  most often first, leaving out the ones on this order.
const kt_stmt_t orders_sql_history = {
    "orders_history",
    "SELECT l.sku, count(DISTINCT o.order_id) AS times"
    "  FROM orders o JOIN order_lines l ON l.order_id = o.order_id"
    " WHERE o.client_id = $1 AND o.status IN (2, 7, 8, 9, 10)"
    "   AND o.created_at > now() - interval '365 days' AND NOT l.free"
    "   AND l.sku <> ALL ($2::bigint[])"
    " GROUP BY l.sku ORDER BY times DESC, l.sku LIMIT $3",
    3};

//  ---------------------------------------------------------------- approve, reject, cancel

const kt_stmt_t orders_sql_reject = {
    "orders_reject",
    "UPDATE orders SET status = 5, reason = 'rejected', reason_text = $2, approved_by = $3,"
    "       needs_release = called_out, updated_at = now()"
    " WHERE order_id = $1 AND status = 3 RETURNING order_id",
    3};

//  Cancel unless a shipment of it has left.
const kt_stmt_t orders_sql_cancel = {
    "orders_cancel",
    "UPDATE orders o SET status = 6, reason = 'cancelled', reason_text = $2,"
    "       needs_release = o.called_out, updated_at = now()"
    " WHERE o.order_id = $1 AND o.status IN (2, 3, 4)"
    "   AND NOT EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.order_id"
    "                   AND s.status IN (3, 4))"
    " RETURNING o.order_id",
    2};

//  ---------------------------------------------------------------- sweeper

const kt_stmt_t orders_sql_stale_pending = {
    "orders_stale_pending",
    "SELECT order_id FROM orders"
    " WHERE status = 1 AND updated_at < now() - make_interval(secs => $1::int)"
    " ORDER BY updated_at LIMIT 50",
    1};

const kt_stmt_t orders_sql_undo = {
    "orders_undo",
    "UPDATE orders SET status = undo_status,"
    "       reason = CASE WHEN undo_status = 5 THEN 'placement_abandoned' ELSE reason END,"
    "       reason_text = CASE WHEN undo_status = 5"
    "                     THEN 'the order could not be finished in time and was undone'"
    "                     ELSE reason_text END,"
    "       needs_release = true, updated_at = now()"
    " WHERE order_id = $1 AND status = 1 RETURNING order_id",
    1};

const kt_stmt_t orders_sql_release_due = {
    "orders_release_due",
    "SELECT order_id, status FROM orders WHERE needs_release AND status <> 1"
    " ORDER BY order_id LIMIT 100",
    0};

const kt_stmt_t orders_sql_unconfirmed = {
    "orders_unconfirmed",
    "SELECT order_id, credit_confirmed, stock_confirmed FROM orders"
    " WHERE status = 2 AND NOT (credit_confirmed AND stock_confirmed)"
    "   AND confirmed_at < now() - make_interval(secs => $1::int)"
    " ORDER BY confirmed_at, order_id LIMIT 200",
    1};

//  The sweeper's marks for a round at once: order ids, credit seen, stock seen.
const kt_stmt_t orders_sql_confirmed_many = {
    "orders_confirmed_many",
    "UPDATE orders o SET credit_confirmed = o.credit_confirmed OR x.c,"
    "       stock_confirmed = o.stock_confirmed OR x.s"
    "  FROM unnest($1::bigint[], $2::boolean[], $3::boolean[]) AS x(id, c, s)"
    " WHERE o.order_id = x.id AND (x.c OR x.s)",
    3};

const kt_stmt_t orders_sql_bo_ready = {
    "orders_bo_ready",
    "SELECT order_id, warehouse_id FROM orders WHERE status = 4 AND bo_ready"
    " ORDER BY created_at, order_id LIMIT 20",
    0};

const kt_stmt_t orders_sql_bo_unready = {
    "orders_bo_unready",
    "UPDATE orders SET bo_ready = false, updated_at = now() WHERE order_id = $1 AND status = 4",
    1};

//  A safety net under StockChanged: back-orders untouched for a while are
//  looked at again.
const kt_stmt_t orders_sql_bo_recheck = {
    "orders_bo_recheck",
    "UPDATE orders SET bo_ready = true"
    " WHERE status = 4 AND NOT bo_ready AND updated_at < now() - make_interval(secs => $1::int)",
    1};

//  ---------------------------------------------------------------- events

//  Also says whether the warehouse has a back-order not yet marked ready:
//  if none, there is nothing for orders_sql_bo_mark to look at.
const kt_stmt_t orders_sql_stock_seen = {
    "orders_stock_seen",
    "WITH s AS ("
    "  INSERT INTO stock_seen (warehouse_id, sku, available)"
    "  SELECT $1, u.sku, u.qty FROM unnest($2::bigint[], $3::bigint[]) AS u(sku, qty)"
    "  ON CONFLICT (warehouse_id, sku) DO UPDATE SET available = excluded.available)"
    " SELECT EXISTS (SELECT 1 FROM orders WHERE status = 4 AND NOT bo_ready"
    "                  AND warehouse_id = $1::bigint)",
    3};

//  Back-orders in the warehouse that hold one of these SKUs and whose every
//  line is now available, as far as StockChanged says.
const kt_stmt_t orders_sql_bo_mark = {
    "orders_bo_mark",
    "UPDATE orders o SET bo_ready = true"
    " WHERE o.status = 4 AND NOT o.bo_ready AND o.warehouse_id = $1"
    "   AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id"
    "               AND l.sku = ANY ($2::bigint[]))"
    "   AND NOT EXISTS (SELECT 1 FROM order_lines l LEFT JOIN stock_seen s"
    "                     ON s.warehouse_id = o.warehouse_id AND s.sku = l.sku"
    "                   WHERE l.order_id = o.order_id AND coalesce(s.available, 0) < l.qty)",
    2};

//  A Shipment* event in one statement: orders' copy of the shipment and its
//  lines ($6, $7; none given: the lines stay), and the order following its
//  shipments: shipped when its quantity has left, delivered when it has
//  arrived, partially on the way there. A shipment request means logistics
//  applied OrderConfirmed, which confirms the stock reservation in the same
//  transaction (stock_confirmed). The statement cannot see its own changes
//  to `shipments`, so the sums take this shipment's new status and quantity
//  from the parameters and the order's other shipments from the table.
const kt_stmt_t orders_sql_ship_event = {
    "orders_ship_event",
    "WITH up AS ("
    "  INSERT INTO shipments (shipment_id, order_id, status, qty, changed_at)"
    "  VALUES ($1, $2, $3, $4, to_timestamp($5::bigint / 1000.0))"
    "  ON CONFLICT (shipment_id) DO UPDATE SET status = excluded.status, qty = excluded.qty,"
    "    changed_at = excluded.changed_at"
    "  RETURNING shipment_id),"
    " li AS ("
    "  INSERT INTO shipment_lines (shipment_id, line_no, sku, qty)"
    "  SELECT $1, u.n, u.sku, u.qty"
    "    FROM unnest($6::bigint[], $7::bigint[]) WITH ORDINALITY AS u(sku, qty, n)"
    "  ON CONFLICT (shipment_id, line_no) DO UPDATE SET sku = excluded.sku, qty = excluded.qty),"
    " ld AS ("
    "  DELETE FROM shipment_lines WHERE shipment_id = $1 AND cardinality($6::bigint[]) > 0"
    "     AND line_no > cardinality($6::bigint[])),"
    " s AS (SELECT coalesce(sum(qty) FILTER (WHERE status IN (3, 4)), 0)"
    "                + CASE WHEN $3::smallint IN (3, 4) THEN $4::bigint ELSE 0 END AS shipped,"
    "              coalesce(sum(qty) FILTER (WHERE status = 4), 0)"
    "                + CASE WHEN $3::smallint = 4 THEN $4::bigint ELSE 0 END AS delivered"
    "         FROM shipments WHERE order_id = $2 AND shipment_id <> $1),"
    " q AS (SELECT coalesce(sum(qty), 0) AS total FROM order_lines WHERE order_id = $2)"
    " UPDATE orders o SET status = CASE"
    "          WHEN s.delivered >= q.total AND q.total > 0 THEN 10"
    "          WHEN s.delivered > 0 THEN 9"
    "          WHEN s.shipped >= q.total AND q.total > 0 THEN 8"
    "          WHEN s.shipped > 0 THEN 7 ELSE o.status END, updated_at = now(),"
    "        stock_confirmed = true"
    "   FROM s, q WHERE o.order_id = $2 AND o.status IN (2, 7, 8, 9)"
    "     AND EXISTS (SELECT 1 FROM up)",
    7};

//  ---------------------------------------------------------------- returns

const kt_stmt_t orders_sql_lock_order = {
    "orders_lock_order", "SELECT status FROM orders WHERE order_id = $1 FOR UPDATE", 1};

const kt_stmt_t orders_sql_return_seen = {
    "orders_return_seen",
    "SELECT return_id, order_id, currency, amount FROM returns WHERE idem_key = $1", 1};

//  Per SKU of the order: what has left the warehouse, what came back
//  already, and the price of a unit (the paid line's).
const kt_stmt_t orders_sql_returnable = {
    "orders_returnable",
    "SELECT l.sku,"
    "       coalesce((SELECT sum(sl.qty) FROM shipment_lines sl"
    "                   JOIN shipments s ON s.shipment_id = sl.shipment_id"
    "                  WHERE s.order_id = $1 AND s.status IN (3, 4) AND sl.sku = l.sku), 0),"
    "       coalesce((SELECT sum(rl.qty) FROM return_lines rl"
    "                   JOIN returns r ON r.return_id = rl.return_id"
    "                  WHERE r.order_id = $1 AND rl.sku = l.sku), 0),"
    "       max(l.unit_price)"
    "  FROM order_lines l WHERE l.order_id = $1 GROUP BY l.sku",
    1};

const kt_stmt_t orders_sql_return_insert = {
    "orders_return_insert",
    "INSERT INTO returns (idem_key, order_id, client_id, manager_id, reason, note, currency,"
    "                     amount, recorded_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING return_id",
    9};

const kt_stmt_t orders_sql_return_lines = {
    "orders_return_lines",
    "INSERT INTO return_lines (return_id, line_no, sku, qty, unit_price, line_total)"
    " SELECT $1, u.n, u.sku, u.qty, u.up, u.lt"
    "   FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])"
    "        WITH ORDINALITY AS u(sku, qty, up, lt, n)",
    5};

//  ---------------------------------------------------------------- reports

//  Sales of confirmed orders (and what followed: shipped, delivered) by the
//  day they were confirmed; $3 groups: 1 manager, 2 client, 3 SKU, 4 branch.
const kt_stmt_t orders_sql_sales_report = {
    "orders_sales_report",
    "SELECT CASE $3::int WHEN 1 THEN o.manager_id WHEN 2 THEN o.client_id"
    "                    WHEN 3 THEN l.sku ELSE o.branch_id END AS k,"
    "       count(DISTINCT o.order_id), sum(l.qty), sum(l.line_total), o.currency,"
    "       sum(l.list_price * l.qty)"
    "  FROM orders o JOIN order_lines l ON l.order_id = o.order_id"
    " WHERE o.status IN (2, 7, 8, 9, 10)"
    "   AND o.confirmed_at >= $1::date AND o.confirmed_at < $2::date + 1"
    "   AND ($4::bigint = 0 OR o.manager_id = $4::bigint)"
    " GROUP BY 1, o.currency ORDER BY 4 DESC, 1",
    4};

//  Returns and refusals; $3 groups: 1 manager, 2 client, 3 SKU, 5 reason.
const kt_stmt_t orders_sql_returns_report = {
    "orders_returns_report",
    "SELECT CASE $3::int WHEN 1 THEN r.manager_id WHEN 2 THEN r.client_id"
    "                    WHEN 3 THEN rl.sku ELSE r.reason END AS k,"
    "       count(DISTINCT r.return_id), sum(rl.qty), sum(rl.line_total), r.currency, 0"
    "  FROM returns r JOIN return_lines rl ON rl.return_id = r.return_id"
    " WHERE r.created_at >= $1::date AND r.created_at < $2::date + 1"
    "   AND ($4::bigint = 0 OR r.manager_id = $4::bigint)"
    " GROUP BY 1, r.currency ORDER BY 4 DESC, 1",
    4};

const kt_stmt_t orders_sql_stats_status = {
    "orders_stats_status",
    "SELECT status, count(*), coalesce(sum(total), 0) FROM orders"
    " WHERE created_at >= $1::date AND created_at < $2::date + 1"
    "   AND ($3::bigint = 0 OR manager_id = $3::bigint)"
    " GROUP BY status ORDER BY status",
    3};

const kt_stmt_t orders_sql_stats_totals = {
    "orders_stats_totals",
    "WITH o AS (SELECT order_id, status, total, n_lines FROM orders"
    "            WHERE created_at >= $1::date AND created_at < $2::date + 1"
    "              AND ($3::bigint = 0 OR manager_id = $3::bigint) AND status <> 11)"
    " SELECT count(*), coalesce(sum(n_lines), 0),"
    "        coalesce(sum(total) FILTER (WHERE status IN (2, 7, 8, 9, 10)), 0),"
    "        (SELECT count(*) FROM shipments s JOIN o ON o.order_id = s.order_id),"
    "        (SELECT count(*) FROM shipments s JOIN o ON o.order_id = s.order_id"
    "          WHERE s.status IN (3, 4)),"
    "        (SELECT count(*) FROM shipments s JOIN o ON o.order_id = s.order_id"
    "          WHERE s.status = 4),"
    "        count(*) FILTER (WHERE status = 4),"
    "        (SELECT count(*) FROM returns r WHERE r.created_at >= $1::date"
    "           AND r.created_at < $2::date + 1"
    "           AND ($3::bigint = 0 OR r.manager_id = $3::bigint)),"
    "        (SELECT coalesce(sum(amount), 0) FROM returns r WHERE r.created_at >= $1::date"
    "           AND r.created_at < $2::date + 1"
    "           AND ($3::bigint = 0 OR r.manager_id = $3::bigint))"
    "   FROM o",
    3};

//  ---------------------------------------------------------------- price lists, promotions, authority

const kt_stmt_t orders_sql_price_list_insert = {
    "orders_price_list_insert",
    "INSERT INTO price_lists (name, currency, valid_from, valid_to, updated_by)"
    " VALUES ($1, $2, $3::date, $4::date, $5) RETURNING price_list_id",
    5};

const kt_stmt_t orders_sql_price_list_update = {
    "orders_price_list_update",
    "UPDATE price_lists SET name = $2, currency = $3, valid_from = $4::date,"
    "       valid_to = $5::date, updated_by = $6, updated_at = now()"
    " WHERE price_list_id = $1 RETURNING price_list_id",
    6};

const kt_stmt_t orders_sql_price_list_exists = {
    "orders_price_list_exists",
    "SELECT 1 FROM price_lists WHERE price_list_id = $1 FOR UPDATE", 1};

const kt_stmt_t orders_sql_set_prices = {
    "orders_set_prices",
    "INSERT INTO prices (sku, col, price_list_id, price)"
    " SELECT u.sku, u.col, $1, u.price"
    "   FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS u(sku, col, price)"
    " ON CONFLICT (sku, col, price_list_id) DO UPDATE SET price = excluded.price",
    4};

const kt_stmt_t orders_sql_set_groups = {
    "orders_set_groups",
    "INSERT INTO products (sku, analog_group)"
    " SELECT DISTINCT ON (u.sku) u.sku, u.g"
    "   FROM unnest($1::bigint[], $2::bigint[]) AS u(sku, g) WHERE u.g > 0"
    " ON CONFLICT (sku) DO UPDATE SET analog_group = excluded.analog_group",
    2};

#define S_PROMO_COLUMNS                                                                        \
    "promotion_id, name, kind, scope, scope_id, valid_from::text,"                             \
    " coalesce(valid_to::text, ''), min_qty, min_order_value, percent_bp, free_sku, free_qty,"  \
    " priority, active"

const kt_stmt_t orders_sql_promo_insert = {
    "orders_promo_insert",
    "INSERT INTO promotions (name, kind, scope, scope_id, valid_from, valid_to, min_qty,"
    "       min_order_value, percent_bp, free_sku, free_qty, priority, active, updated_by)"
    " VALUES ($1, $2, $3, $4, $5::date, $6::date, $7, $8, $9, $10, $11, $12, $13, $14)"
    " RETURNING " S_PROMO_COLUMNS,
    14};

const kt_stmt_t orders_sql_promo_update = {
    "orders_promo_update",
    "UPDATE promotions SET name = $2, kind = $3, scope = $4, scope_id = $5,"
    "       valid_from = $6::date, valid_to = $7::date, min_qty = $8, min_order_value = $9,"
    "       percent_bp = $10, free_sku = $11, free_qty = $12, priority = $13, active = $14,"
    "       updated_by = $15, updated_at = now()"
    " WHERE promotion_id = $1 RETURNING " S_PROMO_COLUMNS,
    15};

const kt_stmt_t orders_sql_promo_bump = {
    "orders_promo_bump", "UPDATE promo_state SET version = version + 1", 0};

const kt_stmt_t orders_sql_promo_list = {
    "orders_promo_list",
    "SELECT " S_PROMO_COLUMNS " FROM promotions WHERE active OR NOT $1::boolean"
    " ORDER BY promotion_id",
    1};

const kt_stmt_t orders_sql_authority_set = {
    "orders_authority_set",
    "INSERT INTO discount_authority (role, max_bp, set_by) VALUES ($1, $2, $3)"
    " ON CONFLICT (role) DO UPDATE SET max_bp = excluded.max_bp, set_by = excluded.set_by,"
    "   set_at = now()",
    3};

//  ---------------------------------------------------------------- array parameters

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void s_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *buf = realloc(b->buf, cap);
        if (!buf) {
            b->failed = true;
            return;
        }
        b->buf = buf;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

static char *s_done(s_buf_t *b)
{
    if (b->failed) {
        free(b->buf);
        return NULL;
    }
    return b->buf;
}

char *orders_sql_i64s_at(const void *base, size_t stride, size_t n)
{
    s_buf_t b = {0};
    s_put(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, (const char *) base + i * stride, sizeof v);
        char num[24];
        int len = snprintf(num, sizeof num, i ? ",%lld" : "%lld", (long long) v);
        s_put(&b, num, (size_t) len);
    }
    s_put(&b, "}", 1);
    return s_done(&b);
}

char *orders_sql_i64s(const int64_t *v, size_t n)
{
    return orders_sql_i64s_at(v, sizeof *v, n);
}

char *orders_sql_i32s_at(const void *base, size_t stride, size_t n)
{
    s_buf_t b = {0};
    s_put(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, (const char *) base + i * stride, sizeof v);
        char num[16];
        int len = snprintf(num, sizeof num, i ? ",%d" : "%d", v);
        s_put(&b, num, (size_t) len);
    }
    s_put(&b, "}", 1);
    return s_done(&b);
}

char *orders_sql_bools_at(const void *base, size_t stride, size_t n)
{
    s_buf_t b = {0};
    s_put(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        bool v;
        memcpy(&v, (const char *) base + i * stride, sizeof v);
        if (i)
            s_put(&b, ",", 1);
        s_put(&b, v ? "t" : "f", 1);
    }
    s_put(&b, "}", 1);
    return s_done(&b);
}

char *orders_sql_dates_at(const void *base, size_t stride, size_t n)
{
    s_buf_t b = {0};
    s_put(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        const char *d = (const char *) base + i * stride;
        if (i)
            s_put(&b, ",", 1);
        //  Dates we format ourselves: digits and dashes only.
        if (d[0])
            s_put(&b, d, strnlen(d, 10));
        else
            s_put(&b, "NULL", 4);
    }
    s_put(&b, "}", 1);
    return s_done(&b);
}

char *orders_sql_hex(const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(len * 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[len * 2] = 0;
    return out;
}
