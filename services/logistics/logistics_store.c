/*  logistics_store - every SQL statement of the logistics service.
 *
 *  Parameters are text; arrays are PostgreSQL array literals ("{1,2,3}",
 *  text elements quoted and escaped by logistics_array_text). Times go out as
 *  Unix milliseconds (bigint) so C never parses a timestamp.
 */
#include "logistics_store.h"

//  ------------------------------------------------------------ warehouses, products

const kt_stmt_t logistics_sql_warehouse_upsert = {
    "logistics_warehouse_upsert",
    "INSERT INTO warehouses (code, name, kind, branch_id, address)"
    " VALUES ($1, $2, $3, $4::bigint, $5)"
    " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
    "   branch_id = EXCLUDED.branch_id, address = EXCLUDED.address, updated_at = now()"
    " RETURNING warehouse_id, (xmax = 0)::int",
    5};

const kt_stmt_t logistics_sql_warehouse_list = {
    "logistics_warehouse_list",
    "SELECT warehouse_id, code, name, kind, branch_id, address FROM warehouses"
    " ORDER BY warehouse_id",
    0};

const kt_stmt_t logistics_sql_warehouse_kind = {
    "logistics_warehouse_kind", "SELECT kind FROM warehouses WHERE warehouse_id = $1::bigint", 1};

const kt_stmt_t logistics_sql_product_upsert = {
    "logistics_product_upsert",
    "INSERT INTO products (sku, name, unit, weight_g, storage, transport, analog_group)"
    " SELECT p.sku, p.name, p.unit, p.weight_g, p.storage, p.transport, NULLIF(p.grp, '')"
    " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],"
    "             $7::text[]) AS p(sku, name, unit, weight_g, storage, transport, grp)"
    " ORDER BY p.sku"
    " ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit,"
    "   weight_g = EXCLUDED.weight_g, storage = EXCLUDED.storage,"
    "   transport = EXCLUDED.transport, analog_group = EXCLUDED.analog_group, updated_at = now()"
    " RETURNING (xmax = 0)::int",
    7};

//  Which of these SKUs are not products.
const kt_stmt_t logistics_sql_skus_unknown = {
    "logistics_skus_unknown",
    "SELECT s.sku FROM unnest($1::bigint[]) AS s(sku)"
    " WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = s.sku)",
    1};

//  ------------------------------------------------------------ stock engine

//  Rows that do not exist yet, made in (warehouse, sku) order.
const kt_stmt_t logistics_sql_stock_create = {
    "logistics_stock_create",
    "INSERT INTO stock (warehouse_id, sku)"
    " SELECT r.wh, r.sku FROM unnest($1::bigint[], $2::bigint[]) AS r(wh, sku)"
    " ORDER BY r.wh, r.sku"
    " ON CONFLICT (warehouse_id, sku) DO NOTHING",
    2};

//  Lock the rows in (warehouse, sku) order: the LockRows node sits above the
//  sort, so locks are taken in the order of the ORDER BY.
const kt_stmt_t logistics_sql_stock_lock = {
    "logistics_stock_lock",
    "SELECT s.warehouse_id, s.sku, s.on_hand, s.reserved FROM stock s"
    " WHERE (s.warehouse_id, s.sku) IN"
    "   (SELECT r.wh, r.sku FROM unnest($1::bigint[], $2::bigint[]) AS r(wh, sku))"
    " ORDER BY s.warehouse_id, s.sku FOR UPDATE",
    2};

const kt_stmt_t logistics_sql_stock_update = {
    "logistics_stock_update",
    "UPDATE stock s SET on_hand = s.on_hand + d.don, reserved = s.reserved + d.dres,"
    "   version = nextval('stock_version'), changed_xid = pg_current_xact_id()"
    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS d(wh, sku, don, dres)"
    " WHERE s.warehouse_id = d.wh AND s.sku = d.sku"
    " RETURNING s.warehouse_id, s.sku, s.on_hand - s.reserved, s.version, s.on_hand, s.reserved",
    4};

const kt_stmt_t logistics_sql_moves_insert = {
    "logistics_moves_insert",
    "INSERT INTO stock_moves (warehouse_id, sku, delta, kind, ref, note)"
    " SELECT m.wh, m.sku, m.delta, $4, $5, $6"
    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS m(wh, sku, delta)"
    " WHERE m.delta <> 0",
    6};

//  ------------------------------------------------------------ idempotency

const kt_stmt_t logistics_sql_idem_claim = {
    "logistics_idem_claim",
    "INSERT INTO idempotency (method, key, request) VALUES ($1, $2, $3::bytea)"
    " ON CONFLICT (method, key) DO NOTHING RETURNING 1",
    3};

const kt_stmt_t logistics_sql_idem_read = {
    "logistics_idem_read",
    "SELECT (request = $3::bytea)::int, reply FROM idempotency WHERE method = $1 AND key = $2",
    3};

const kt_stmt_t logistics_sql_idem_store = {
    "logistics_idem_store",
    "UPDATE idempotency SET reply = $3::bytea WHERE method = $1 AND key = $2", 3};

//  ------------------------------------------------------------ arrivals, availability

const kt_stmt_t logistics_sql_arrival_insert = {
    "logistics_arrival_insert",
    "INSERT INTO arrivals (warehouse_id, sku, qty, expected_on, note)"
    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::date, $5) RETURNING arrival_id",
    5};

const kt_stmt_t logistics_sql_arrival_close = {
    "logistics_arrival_close",
    "UPDATE arrivals SET status = 'received'"
    " WHERE arrival_id = $1::bigint AND warehouse_id = $2::bigint AND status = 'open'",
    2};

const kt_stmt_t logistics_sql_arrival_status = {
    "logistics_arrival_status",
    "SELECT status, warehouse_id FROM arrivals WHERE arrival_id = $1::bigint", 1};

const kt_stmt_t logistics_sql_avail_products = {
    "logistics_avail_products",
    "SELECT sku, name, coalesce(analog_group, '') FROM products WHERE sku = ANY($1::bigint[])",
    1};

//  $2 = 0: every warehouse.
const kt_stmt_t logistics_sql_avail_stock = {
    "logistics_avail_stock",
    "SELECT sku, warehouse_id, on_hand, reserved FROM stock"
    " WHERE sku = ANY($1::bigint[]) AND ($2::bigint = 0 OR warehouse_id = $2::bigint)"
    " ORDER BY sku, warehouse_id",
    2};

//  Open supplier arrivals and transfers in transit, soonest first.
const kt_stmt_t logistics_sql_avail_arrivals = {
    "logistics_avail_arrivals",
    "SELECT sku, warehouse_id, qty, to_char(day, 'YYYY-MM-DD'), in_transit FROM ("
    "  SELECT a.sku, a.warehouse_id, a.qty, a.expected_on AS day, 0 AS in_transit"
    "  FROM arrivals a WHERE a.status = 'open' AND a.sku = ANY($1::bigint[])"
    "    AND ($2::bigint = 0 OR a.warehouse_id = $2::bigint)"
    "  UNION ALL"
    "  SELECT l.sku, t.to_warehouse_id, l.qty, t.expected_on, 1"
    "  FROM transfers t JOIN transfer_lines l ON l.transfer_id = t.transfer_id"
    "  WHERE t.status = 'in_transit' AND l.sku = ANY($1::bigint[])"
    "    AND ($2::bigint = 0 OR t.to_warehouse_id = $2::bigint)"
    ") x ORDER BY sku, day, warehouse_id",
    2};

//  Products of these analog groups with stock free in the warehouses asked.
const kt_stmt_t logistics_sql_avail_analogs = {
    "logistics_avail_analogs",
    "SELECT p.analog_group, p.sku, p.name, sum(s.on_hand - s.reserved)::bigint"
    " FROM products p JOIN stock s ON s.sku = p.sku"
    " WHERE p.analog_group = ANY($1::text[])"
    "   AND ($2::bigint = 0 OR s.warehouse_id = $2::bigint)"
    " GROUP BY p.analog_group, p.sku, p.name"
    " HAVING sum(s.on_hand - s.reserved) > 0"
    " ORDER BY p.analog_group, 4 DESC, p.sku",
    2};

//  ------------------------------------------------------------ reservations

//  ReserveStock in one statement, so the stock rows stay locked for as
//  short a time as possible:
//  - `locked` locks the order's rows in SKU order (the LockRows node sits
//    above the sort) and, under READ COMMITTED, sees each row as last
//    committed;
//  - `short` lists the lines that cannot be met (no row, or too little);
//  - only when there is none, `r` inserts the reservation (no row when the
//    order has one already: ON CONFLICT DO NOTHING), and `ins` and `upd`
//    write its lines and raise `reserved`, all from the same arrays.
//  `r` reads `short` and `short` reads `locked` to its end before anything
//  is written, so every lock is taken, in order, before the first update.
//  `ev` writes the StockChanged of the rows `upd` changed into the outbox:
//  the statement is its own transaction (migrations/003).
//  Rows out: ('r', warehouse, sku, available, version, expires ms) per
//  line reserved, or ('s', warehouse, sku, requested, available, missing)
//  per line short.
const kt_stmt_t logistics_sql_reserve_event = {
    "logistics_reserve_event",
    "WITH l AS (SELECT * FROM unnest($5::bigint[], $6::bigint[]) AS l(sku, qty)),"
    " locked AS (SELECT s.sku, s.on_hand, s.reserved FROM stock s"
    "   WHERE s.warehouse_id = $2::bigint AND s.sku = ANY($5::bigint[])"
    "   ORDER BY s.sku FOR UPDATE),"
    " short AS (SELECT l.sku, l.qty, coalesce(k.on_hand - k.reserved, 0) AS available,"
    "     (k.sku IS NULL)::int AS missing"
    "   FROM l LEFT JOIN locked k ON k.sku = l.sku"
    "   WHERE k.sku IS NULL OR k.on_hand - k.reserved < l.qty),"
    " r AS (INSERT INTO reservations (order_id, warehouse_id, status, fingerprint, expires_at)"
    "   SELECT $1::bigint, $2::bigint, 'held', $3, now() + $4::int * interval '1 second'"
    "   WHERE NOT EXISTS (SELECT 1 FROM short)"
    "   ON CONFLICT (order_id) DO NOTHING"
    "   RETURNING order_id, expires_at),"
    " ins AS (INSERT INTO reservation_lines (order_id, sku, qty)"
    "   SELECT r.order_id, l.sku, l.qty FROM r CROSS JOIN l),"
    " upd AS (UPDATE stock s SET reserved = s.reserved + l.qty,"
    "     version = nextval('stock_version'), changed_xid = pg_current_xact_id()"
    "   FROM l, r WHERE s.warehouse_id = $2::bigint AND s.sku = l.sku"
    "   RETURNING s.warehouse_id, s.sku, s.on_hand - s.reserved AS available, s.version),"
    " ev AS (INSERT INTO outbox (type, payload)"
    "   SELECT 'StockChanged', stock_changed_pb($2::bigint, array_agg(sku ORDER BY sku),"
    "                                           array_agg(available ORDER BY sku))"
    "     FROM upd HAVING count(*) > 0)"
    " SELECT 'r', upd.warehouse_id, upd.sku, upd.available, upd.version,"
    "   (extract(epoch FROM r.expires_at) * 1000)::bigint"
    " FROM upd CROSS JOIN r"
    " UNION ALL"
    " SELECT 's', $2::bigint, short.sku, short.qty, short.available, short.missing::bigint"
    " FROM short",
    6};

//  status, fingerprint, expires (ms, 0 if none), expired by time (0/1), warehouse
const kt_stmt_t logistics_sql_reservation_read = {
    "logistics_reservation_read",
    "SELECT status, fingerprint, coalesce((extract(epoch FROM expires_at) * 1000)::bigint, 0),"
    "   (expires_at IS NOT NULL AND expires_at <= now())::int, coalesce(warehouse_id, 0)"
    " FROM reservations WHERE order_id = $1::bigint",
    1};

const kt_stmt_t logistics_sql_reservation_lock = {
    "logistics_reservation_lock",
    "SELECT status, coalesce(warehouse_id, 0),"
    "   (expires_at IS NOT NULL AND expires_at <= now())::int"
    " FROM reservations WHERE order_id = $1::bigint FOR UPDATE",
    1};

const kt_stmt_t logistics_sql_reservation_lines = {
    "logistics_reservation_lines",
    "SELECT sku, qty FROM reservation_lines WHERE order_id = $1::bigint ORDER BY sku", 1};

//  Guarded: only from the status the caller read under the row lock.
const kt_stmt_t logistics_sql_reservation_set = {
    "logistics_reservation_set",
    "UPDATE reservations SET status = $2, reason = $4, expires_at = NULL, updated_at = now()"
    " WHERE order_id = $1::bigint AND status = $3",
    4};

const kt_stmt_t logistics_sql_reservation_tombstone = {
    "logistics_reservation_tombstone",
    "INSERT INTO reservations (order_id, status, fingerprint, reason)"
    " VALUES ($1::bigint, 'released', '', $2) ON CONFLICT (order_id) DO NOTHING",
    2};

//  Confirm a held reservation that has not run out; no row when it is not one.
const kt_stmt_t logistics_sql_reservation_confirm = {
    "logistics_reservation_confirm",
    "UPDATE reservations SET status = 'confirmed', expires_at = NULL, updated_at = now()"
    " WHERE order_id = $1::bigint AND status = 'held' AND expires_at > now()"
    " RETURNING order_id",
    1};

//  Mark up to $1 held reservations past their time expired (skipping those
//  someone holds) and return what they held, summed per stock row, in
//  (warehouse, sku) order for the stock engine.
const kt_stmt_t logistics_sql_expire_batch = {
    "logistics_expire_batch",
    "WITH due AS ("
    "  SELECT order_id FROM reservations"
    "  WHERE status = 'held' AND expires_at <= now()"
    "  ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED),"
    " gone AS (UPDATE reservations r SET status = 'expired', expires_at = NULL,"
    "     reason = 'expired', updated_at = now()"
    "   FROM due WHERE r.order_id = due.order_id"
    "   RETURNING r.order_id, r.warehouse_id)"
    " SELECT g.warehouse_id, l.sku, sum(l.qty)::bigint, (SELECT count(*) FROM gone)::bigint"
    " FROM gone g JOIN reservation_lines l ON l.order_id = g.order_id"
    " GROUP BY g.warehouse_id, l.sku ORDER BY g.warehouse_id, l.sku",
    1};

//  ------------------------------------------------------------ shipments

#define S_SHIPMENT_COLUMNS                                                                     \
    "shipment_id, order_id, client_id, warehouse_id, delivery_date, delivery_method, address," \
    " currency, status, (extract(epoch FROM changed_at) * 1000)::bigint, manager_id"

//  OrderConfirmed's whole effect in one statement: the shipment request and
//  its lines ($9..$11, in the order's line order), and the order's
//  reservation confirmed if it is still held. No row when the order has
//  its shipment already (the event applied before); nothing changes then.
const kt_stmt_t logistics_sql_shipment_request = {
    "logistics_shipment_request",
    "WITH s AS ("
    "  INSERT INTO shipments (order_id, client_id, manager_id, warehouse_id, delivery_date,"
    "     delivery_method, address, currency, status)"
    "  VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5, $6::int, $7, $8, 'requested')"
    "  ON CONFLICT (order_id) DO NOTHING RETURNING " S_SHIPMENT_COLUMNS "),"
    " l AS ("
    "  INSERT INTO shipment_lines (shipment_id, line_no, sku, qty, unit_price)"
    "  SELECT s.shipment_id, u.n, u.sku, u.qty, u.price"
    "    FROM s, unnest($9::bigint[], $10::bigint[], $11::bigint[])"
    "         WITH ORDINALITY AS u(sku, qty, price, n)),"
    " c AS ("
    "  UPDATE reservations SET status = 'confirmed', expires_at = NULL, updated_at = now()"
    "   WHERE order_id = $1::bigint AND status = 'held' AND expires_at > now()"
    "     AND EXISTS (SELECT 1 FROM s))"
    " SELECT * FROM s",
    11};

const kt_stmt_t logistics_sql_shipment_read = {
    "logistics_shipment_read",
    "SELECT " S_SHIPMENT_COLUMNS " FROM shipments WHERE shipment_id = $1::bigint", 1};

const kt_stmt_t logistics_sql_shipment_by_order = {
    "logistics_shipment_by_order",
    "SELECT " S_SHIPMENT_COLUMNS " FROM shipments WHERE order_id = $1::bigint", 1};

const kt_stmt_t logistics_sql_shipment_lock = {
    "logistics_shipment_lock",
    "SELECT " S_SHIPMENT_COLUMNS " FROM shipments WHERE shipment_id = $1::bigint FOR UPDATE", 1};

const kt_stmt_t logistics_sql_shipment_lock_by_order = {
    "logistics_shipment_lock_by_order",
    "SELECT " S_SHIPMENT_COLUMNS " FROM shipments WHERE order_id = $1::bigint FOR UPDATE", 1};

const kt_stmt_t logistics_sql_shipment_lines = {
    "logistics_shipment_lines",
    "SELECT sku, qty, unit_price FROM shipment_lines WHERE shipment_id = $1::bigint"
    " ORDER BY line_no",
    1};

//  The state change, guarded by the status read: no row if it moved on.
const kt_stmt_t logistics_sql_shipment_set_status = {
    "logistics_shipment_set_status",
    "UPDATE shipments SET status = $2, note = CASE WHEN $4 = '' THEN note ELSE $4 END,"
    "   changed_at = now()"
    " WHERE shipment_id = $1::bigint AND status = $3"
    " RETURNING (extract(epoch FROM changed_at) * 1000)::bigint",
    4};

const kt_stmt_t logistics_sql_shipment_list = {
    "logistics_shipment_list",
    "SELECT " S_SHIPMENT_COLUMNS " FROM shipments"
    " WHERE shipment_id > $1::bigint AND ($2 = '' OR status = $2)"
    "   AND ($3::bigint = 0 OR warehouse_id = $3::bigint)"
    " ORDER BY shipment_id LIMIT $4::int",
    4};

//  ------------------------------------------------------------ discrepancies

const kt_stmt_t logistics_sql_discrepancy_insert = {
    "logistics_discrepancy_insert",
    "INSERT INTO discrepancy_acts (shipment_id, kind, note, recorded_by)"
    " VALUES ($1::bigint, $2, $3, $4) RETURNING act_id",
    4};

const kt_stmt_t logistics_sql_discrepancy_line_insert = {
    "logistics_discrepancy_line_insert",
    "INSERT INTO discrepancy_lines (act_id, line_no, sku, delivered_sku, qty, unit_price)"
    " SELECT $1::bigint, l.n, l.sku, NULLIF(l.dsku, 0), l.qty, l.price"
    " FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])"
    "   WITH ORDINALITY AS l(sku, dsku, qty, price, n)",
    5};

//  What earlier acts already recorded per SKU of a shipment.
const kt_stmt_t logistics_sql_discrepancy_recorded = {
    "logistics_discrepancy_recorded",
    "SELECT l.sku, sum(l.qty)::bigint FROM discrepancy_acts a"
    " JOIN discrepancy_lines l ON l.act_id = a.act_id"
    " WHERE a.shipment_id = $1::bigint GROUP BY l.sku",
    1};

//  ------------------------------------------------------------ transfers

const kt_stmt_t logistics_sql_transfer_insert = {
    "logistics_transfer_insert",
    "INSERT INTO transfers (from_warehouse_id, to_warehouse_id, status, expected_on, note,"
    "   requested_by)"
    " VALUES ($1::bigint, $2::bigint, 'in_transit', $3::date, $4, $5) RETURNING transfer_id",
    5};

const kt_stmt_t logistics_sql_transfer_lines_insert = {
    "logistics_transfer_lines_insert",
    "INSERT INTO transfer_lines (transfer_id, sku, qty)"
    " SELECT $1::bigint, l.sku, l.qty FROM unnest($2::bigint[], $3::bigint[]) AS l(sku, qty)",
    3};

const kt_stmt_t logistics_sql_transfer_lock = {
    "logistics_transfer_lock",
    "SELECT from_warehouse_id, to_warehouse_id, status, to_char(expected_on, 'YYYY-MM-DD'), note"
    " FROM transfers WHERE transfer_id = $1::bigint FOR UPDATE",
    1};

const kt_stmt_t logistics_sql_transfer_lines = {
    "logistics_transfer_lines",
    "SELECT sku, qty FROM transfer_lines WHERE transfer_id = $1::bigint ORDER BY sku", 1};

const kt_stmt_t logistics_sql_transfer_received = {
    "logistics_transfer_received",
    "UPDATE transfers SET status = 'received', received_at = now()"
    " WHERE transfer_id = $1::bigint AND status = 'in_transit'",
    1};

//  ------------------------------------------------------------ cache keeper

//  The oldest transaction still running: every transaction older than this
//  has committed or aborted, so what it did is visible to later reads.
const kt_stmt_t logistics_sql_snapshot_xmin = {
    "logistics_snapshot_xmin", "SELECT pg_snapshot_xmin(pg_current_snapshot())::text", 0};

const kt_stmt_t logistics_sql_changed_since = {
    "logistics_changed_since",
    "SELECT warehouse_id, sku, on_hand - reserved, version FROM stock"
    " WHERE changed_xid >= $1::xid8 ORDER BY warehouse_id, sku",
    1};

const kt_stmt_t logistics_sql_warehouse_ids = {
    "logistics_warehouse_ids", "SELECT warehouse_id FROM warehouses ORDER BY warehouse_id", 0};

//  One page of a warehouse's stock (keyset on sku).
const kt_stmt_t logistics_sql_stock_page = {
    "logistics_stock_page",
    "SELECT warehouse_id, sku, on_hand - reserved, version FROM stock"
    " WHERE warehouse_id = $1::bigint AND sku > $2::bigint ORDER BY sku LIMIT $3::int",
    3};

//  Reservations held and confirmed now, for the keeper's gauges: each count
//  reads a partial index (reservations_held_expiry, reservations_confirmed),
//  so its cost is the number of live reservations, not of orders ever.
const kt_stmt_t logistics_sql_reservation_counts = {
    "logistics_reservation_counts",
    "SELECT (SELECT count(*) FROM reservations WHERE status = 'held'),"
    " (SELECT count(*) FROM reservations WHERE status = 'confirmed')",
    0};

//  Idempotency keys are kept a week, like the events (KONTOR_OUTBOX_RETENTION_S).
const kt_stmt_t logistics_sql_idem_prune = {
    "logistics_idem_prune",
    "DELETE FROM idempotency WHERE created_at < now() - interval '7 days'", 0};
