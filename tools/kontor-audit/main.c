/*  kontor-audit - Kontor's consistency auditor, after any run.
 *
 *      kontor-audit [--wait S] [--no-redis] [--quiet-only] SUPERUSER_DSN
 *
 *  Connects as the superuser to a set's database and reads every service's
 *  schema (the one place where that is done: the services never read each
 *  other's). First it waits, at most S seconds (default 120), until the set
 *  has gone quiet: no order PENDING, no release owed, every outbox row
 *  sequenced by its relay, and every consumer's offset at its producer's
 *  last sequence number. Then it runs the checks below, in the manner of
 *  TPC-C's consistency conditions (shared/RELIABILITY.md) and DESIGN.md's
 *  invariants, each a query that returns one line per violation. Each check
 *  prints PASS, or FAIL with the number of violations and the first five.
 *  With Redis in the environment (KONTOR_REDIS_*), the availability cache is
 *  compared with the stock rows too (the cache keeper catches up within a
 *  second; the check looks again for up to 10 s).
 *
 *  Exit status: 0 all checks passed, 1 a check failed (or the set did not
 *  go quiet), 2 usage or connection error.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_config.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_pg.h"

#define S_CONFIRMED "(2, 7, 8, 9, 10)"      //  orders holding their reservations
#define S_WAITING "(3, 4, 5, 6, 11)"        //  orders that hold nothing
#define S_SHOWN 5

typedef struct {
    const char *name;
    const char *what;       //  the invariant, as the report says it
    const char *sql;        //  one text column per violation
} s_check_t;

//  Not quiet while any row comes back (one line per thing still moving).
//  The consumer pairs are those of the services' method tables (consumes).
static const char s_quiet_sql[] =
    "SELECT 'orders pending: ' || count(*) FROM orders.orders WHERE status = 1"
    "  HAVING count(*) > 0"
    " UNION ALL SELECT 'orders owing a release: ' || count(*) FROM orders.orders"
    "  WHERE needs_release HAVING count(*) > 0"
    " UNION ALL SELECT 'clients outbox unsequenced: ' || count(*) FROM clients.outbox"
    "  WHERE seq IS NULL HAVING count(*) > 0"
    " UNION ALL SELECT 'orders outbox unsequenced: ' || count(*) FROM orders.outbox"
    "  WHERE seq IS NULL HAVING count(*) > 0"
    " UNION ALL SELECT 'logistics outbox unsequenced: ' || count(*) FROM logistics.outbox"
    "  WHERE seq IS NULL HAVING count(*) > 0"
    " UNION ALL SELECT 'receivables outbox unsequenced: ' || count(*) FROM receivables.outbox"
    "  WHERE seq IS NULL HAVING count(*) > 0"
    " UNION ALL SELECT format('%s behind %s: applied %s of %s', c, p, a, l) FROM ("
    "   SELECT 'orders' c, 'clients' p,"
    "          (SELECT coalesce(max(last_seq), 0) FROM orders.event_offsets WHERE producer = 'clients') a,"
    "          (SELECT last_seq FROM clients.outbox_state) l"
    "   UNION ALL SELECT 'orders', 'logistics',"
    "          (SELECT coalesce(max(last_seq), 0) FROM orders.event_offsets WHERE producer = 'logistics'),"
    "          (SELECT last_seq FROM logistics.outbox_state)"
    "   UNION ALL SELECT 'orders', 'receivables',"
    "          (SELECT coalesce(max(last_seq), 0) FROM orders.event_offsets WHERE producer = 'receivables'),"
    "          (SELECT last_seq FROM receivables.outbox_state)"
    "   UNION ALL SELECT 'logistics', 'orders',"
    "          (SELECT coalesce(max(last_seq), 0) FROM logistics.event_offsets WHERE producer = 'orders'),"
    "          (SELECT last_seq FROM orders.outbox_state)"
    "   UNION ALL SELECT 'receivables', 'clients',"
    "          (SELECT coalesce(max(last_seq), 0) FROM receivables.event_offsets WHERE producer = 'clients'),"
    "          (SELECT last_seq FROM clients.outbox_state)"
    "   UNION ALL SELECT 'receivables', 'logistics',"
    "          (SELECT coalesce(max(last_seq), 0) FROM receivables.event_offsets WHERE producer = 'logistics'),"
    "          (SELECT last_seq FROM logistics.outbox_state)"
    "   UNION ALL SELECT 'receivables', 'orders',"
    "          (SELECT coalesce(max(last_seq), 0) FROM receivables.event_offsets WHERE producer = 'orders'),"
    "          (SELECT last_seq FROM orders.outbox_state)"
    "   UNION ALL SELECT 'clients', 'orders',"
    "          (SELECT coalesce(max(last_seq), 0) FROM clients.event_offsets WHERE producer = 'orders'),"
    "          (SELECT last_seq FROM orders.outbox_state)"
    "   UNION ALL SELECT 'clients', 'receivables',"
    "          (SELECT coalesce(max(last_seq), 0) FROM clients.event_offsets WHERE producer = 'receivables'),"
    "          (SELECT last_seq FROM receivables.outbox_state)"
    " ) x WHERE a < l";

static const s_check_t s_checks[] = {
    {"stock_bounds", "0 <= reserved <= on hand, on hand >= 0, for every warehouse and SKU",
     "SELECT format('warehouse %s sku %s: on hand %s, reserved %s', warehouse_id, sku, on_hand,"
     "              reserved)"
     "  FROM logistics.stock WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand"},

    {"stock_reserved", "reserved = the sum of the live (held, confirmed) reservations' lines",
     "SELECT format('warehouse %s sku %s: reserved %s, live reservations %s', s.warehouse_id,"
     "              s.sku, s.reserved, coalesce(x.q, 0))"
     "  FROM logistics.stock s"
     "  LEFT JOIN (SELECT r.warehouse_id, l.sku, sum(l.qty) AS q"
     "               FROM logistics.reservations r"
     "               JOIN logistics.reservation_lines l ON l.order_id = r.order_id"
     "              WHERE r.status IN ('held', 'confirmed') GROUP BY 1, 2) x"
     "    ON x.warehouse_id = s.warehouse_id AND x.sku = s.sku"
     " WHERE s.reserved <> coalesce(x.q, 0)"},

    {"stock_conservation", "on hand = the sum of the stock moves (received - dispatched +- adjusted)",
     "SELECT format('warehouse %s sku %s: on hand %s, moves add up to %s', s.warehouse_id, s.sku,"
     "              s.on_hand, coalesce(m.d, 0))"
     "  FROM logistics.stock s"
     "  LEFT JOIN (SELECT warehouse_id, sku, sum(delta) AS d FROM logistics.stock_moves"
     "              GROUP BY 1, 2) m ON m.warehouse_id = s.warehouse_id AND m.sku = s.sku"
     " WHERE s.on_hand <> coalesce(m.d, 0)"},

    {"order_totals", "each order's total and line count equal the sum of its lines;"
                     " line total = qty x unit price",
     "SELECT format('order %s: total %s, lines add up to %s; %s lines, %s rows%s', o.order_id,"
     "              o.total, coalesce(l.t, 0), o.n_lines, coalesce(l.n, 0),"
     "              CASE WHEN l.bad > 0 THEN ', a line total is not qty x price' ELSE '' END)"
     "  FROM orders.orders o"
     "  LEFT JOIN (SELECT order_id, sum(line_total) AS t, count(*) AS n,"
     "                    count(*) FILTER (WHERE line_total <> qty * unit_price) AS bad"
     "               FROM orders.order_lines GROUP BY 1) l ON l.order_id = o.order_id"
     " WHERE o.total <> coalesce(l.t, 0) OR o.n_lines <> coalesce(l.n, 0) OR l.bad > 0"},

    {"confirmed_credit", "every confirmed order has its credit reservation (confirmed or"
                         " invoiced) for its client and total",
     "SELECT format('order %s (client %s, total %s): credit reservation %s', o.order_id,"
     "              o.client_id, o.total, coalesce(c.status || ' of ' || c.amount || ' for client '"
     "              || c.client_id, 'missing'))"
     "  FROM orders.orders o"
     "  LEFT JOIN receivables.credit_reservations c ON c.order_id = o.order_id"
     " WHERE o.status IN " S_CONFIRMED
     "   AND (c.order_id IS NULL OR c.status NOT IN ('CONFIRMED', 'INVOICED')"
     "        OR c.amount <> o.total OR c.client_id <> o.client_id)"},

    {"confirmed_stock", "every confirmed order has its stock reservation (confirmed or consumed)"
                        " in its warehouse, for every line",
     "SELECT format('order %s: stock reservation %s', o.order_id,"
     "              coalesce(r.status || ' in warehouse ' || r.warehouse_id, 'missing'))"
     "  FROM orders.orders o LEFT JOIN logistics.reservations r ON r.order_id = o.order_id"
     " WHERE o.status IN " S_CONFIRMED
     "   AND (r.order_id IS NULL OR r.status NOT IN ('confirmed', 'consumed')"
     "        OR r.warehouse_id <> o.warehouse_id)"
     " UNION ALL "
     "SELECT format('order %s sku %s: ordered %s, reserved %s', x.order_id, x.sku, x.q, x.r)"
     "  FROM (SELECT coalesce(ol.order_id, rl.order_id) AS order_id,"
     "               coalesce(ol.sku, rl.sku) AS sku, coalesce(ol.q, 0) AS q,"
     "               coalesce(rl.qty, 0) AS r"
     "          FROM (SELECT l.order_id, l.sku, sum(l.qty) AS q FROM orders.order_lines l"
     "                  JOIN orders.orders o ON o.order_id = l.order_id"
     "                 WHERE o.status IN " S_CONFIRMED " GROUP BY 1, 2) ol"
     "          FULL JOIN (SELECT rl.order_id, rl.sku, rl.qty FROM logistics.reservation_lines rl"
     "                       JOIN orders.orders o ON o.order_id = rl.order_id"
     "                      WHERE o.status IN " S_CONFIRMED ") rl"
     "            ON rl.order_id = ol.order_id AND rl.sku = ol.sku) x"
     " WHERE x.q <> x.r"},

    {"refused_released", "an order refused, waiting, cancelled or replaced holds no credit and"
                         " no stock",
     "SELECT format('order %s (status %s): credit reservation %s of %s', o.order_id, o.status,"
     "              c.status, c.amount)"
     "  FROM orders.orders o JOIN receivables.credit_reservations c ON c.order_id = o.order_id"
     " WHERE o.status IN " S_WAITING " AND c.status IN ('HELD', 'CONFIRMED')"
     " UNION ALL "
     "SELECT format('order %s (status %s): stock reservation %s', o.order_id, o.status, r.status)"
     "  FROM orders.orders o JOIN logistics.reservations r ON r.order_id = o.order_id"
     " WHERE o.status IN " S_WAITING " AND r.status IN ('held', 'confirmed')"},

    {"no_orphan_holds", "no live credit or stock reservation without a confirmed order",
     "SELECT format('credit reservation of order %s (%s, %s): order %s', c.order_id, c.status,"
     "              c.amount, coalesce('in status ' || o.status, 'missing'))"
     "  FROM receivables.credit_reservations c"
     "  LEFT JOIN orders.orders o ON o.order_id = c.order_id"
     " WHERE c.status IN ('HELD', 'CONFIRMED') AND (o.order_id IS NULL OR o.status NOT IN "
     S_CONFIRMED ")"
     " UNION ALL "
     "SELECT format('stock reservation of order %s (%s): order %s', r.order_id, r.status,"
     "              coalesce('in status ' || o.status, 'missing'))"
     "  FROM logistics.reservations r LEFT JOIN orders.orders o ON o.order_id = r.order_id"
     " WHERE r.status IN ('held', 'confirmed') AND (o.order_id IS NULL OR o.status NOT IN "
     S_CONFIRMED ")"},

    {"one_shipment", "every confirmed order has exactly one shipment request, with its lines;"
                     " no other order has a live one",
     "SELECT format('order %s (status %s): %s shipment requests', o.order_id, o.status,"
     "              count(s.shipment_id))"
     "  FROM orders.orders o LEFT JOIN logistics.shipments s ON s.order_id = o.order_id"
     " WHERE o.status IN " S_CONFIRMED
     " GROUP BY o.order_id, o.status HAVING count(s.shipment_id) <> 1"
     " UNION ALL "
     "SELECT format('shipment %s (%s) of order %s: order %s', s.shipment_id, s.status, s.order_id,"
     "              coalesce('in status ' || o.status, 'missing'))"
     "  FROM logistics.shipments s LEFT JOIN orders.orders o ON o.order_id = s.order_id"
     " WHERE s.status <> 'cancelled' AND (o.order_id IS NULL OR o.status NOT IN " S_CONFIRMED ")"
     " UNION ALL "
     "SELECT format('order %s sku %s: ordered %s for %s, shipment %s for %s', x.order_id, x.sku,"
     "              x.oq, x.ot, x.sq, x.st)"
     "  FROM (SELECT coalesce(ol.order_id, sl.order_id) AS order_id,"
     "               coalesce(ol.sku, sl.sku) AS sku, ol.q AS oq, ol.t AS ot, sl.q AS sq,"
     "               sl.t AS st"
     "          FROM (SELECT l.order_id, l.sku, sum(l.qty) AS q, sum(l.line_total) AS t"
     "                  FROM orders.order_lines l JOIN orders.orders o ON o.order_id = l.order_id"
     "                 WHERE o.status IN " S_CONFIRMED " GROUP BY 1, 2) ol"
     "          FULL JOIN (SELECT s.order_id, l.sku, sum(l.qty) AS q,"
     "                            sum(l.qty * l.unit_price) AS t"
     "                       FROM logistics.shipment_lines l"
     "                       JOIN logistics.shipments s ON s.shipment_id = l.shipment_id"
     "                       JOIN orders.orders o ON o.order_id = s.order_id"
     "                      WHERE o.status IN " S_CONFIRMED " GROUP BY 1, 2) sl"
     "            ON sl.order_id = ol.order_id AND sl.sku = ol.sku) x"
     " WHERE x.oq IS DISTINCT FROM x.sq OR x.ot IS DISTINCT FROM x.st"},

    {"open_iff_undispatched", "an order is open (confirmed) iff no shipment of it has been"
                              " dispatched; dispatched means shipped",
     "SELECT format('order %s in status %s, its shipment %s is %s', o.order_id, o.status,"
     "              s.shipment_id, s.status)"
     "  FROM orders.orders o JOIN logistics.shipments s ON s.order_id = o.order_id"
     " WHERE (s.status IN ('requested', 'picking') AND o.status <> 2)"
     "    OR (s.status = 'dispatched' AND o.status NOT IN (7, 8))"
     "    OR (s.status = 'delivered' AND o.status NOT IN (9, 10))"},

    {"invoiced_dispatched", "dispatched shipments = invoices: one invoice per shipment, for its"
                            " client, order and lines",
     "SELECT format('shipment %s (%s): %s invoices', s.shipment_id, s.status, count(i.id))"
     "  FROM logistics.shipments s LEFT JOIN receivables.invoices i ON i.shipment_id = s.shipment_id"
     " WHERE s.status IN ('dispatched', 'delivered')"
     " GROUP BY s.shipment_id, s.status HAVING count(i.id) <> 1"
     " UNION ALL "
     "SELECT format('invoice %s: shipment %s %s', i.id, i.shipment_id,"
     "              coalesce('is ' || s.status, 'is missing'))"
     "  FROM receivables.invoices i LEFT JOIN logistics.shipments s ON s.shipment_id = i.shipment_id"
     " WHERE s.shipment_id IS NULL OR s.status NOT IN ('dispatched', 'delivered')"
     " UNION ALL "
     "SELECT format('invoice %s of shipment %s: amount %s, client %s, order %s; shipment lines"
     " %s, client %s, order %s; invoice lines %s', i.id, i.shipment_id, i.amount, i.client_id,"
     "              i.order_id, sl.t, s.client_id, s.order_id, il.t)"
     "  FROM receivables.invoices i"
     "  JOIN logistics.shipments s ON s.shipment_id = i.shipment_id"
     "  LEFT JOIN (SELECT shipment_id, sum(qty * unit_price) AS t FROM logistics.shipment_lines"
     "              GROUP BY 1) sl ON sl.shipment_id = i.shipment_id"
     "  LEFT JOIN (SELECT invoice_id, sum(line_total) AS t,"
     "                    count(*) FILTER (WHERE line_total <> qty * unit_price) AS bad"
     "               FROM receivables.invoice_lines GROUP BY 1) il ON il.invoice_id = i.id"
     " WHERE i.amount IS DISTINCT FROM sl.t OR i.amount IS DISTINCT FROM il.t OR il.bad > 0"
     "    OR i.client_id <> s.client_id OR i.order_id <> s.order_id"},

    {"client_balance", "per client: invoiced - paid - credited = open - unapplied, and every"
                       " kept total equals the sum of its detail rows",
     "WITH inv AS (SELECT client_id, sum(amount) AS a, sum(open_amount) AS o"
     "               FROM receivables.invoices GROUP BY 1),"
     " st AS (SELECT client_id,"
     "               coalesce(sum(amount) FILTER (WHERE kind = 'payment' AND reversed_on IS NULL),"
     "                        0) AS p,"
     "               coalesce(sum(amount) FILTER (WHERE kind = 'credit_note'), 0) AS c,"
     "               sum(unapplied) AS u"
     "          FROM receivables.settlements GROUP BY 1),"
     " rs AS (SELECT client_id, sum(amount) AS r FROM receivables.credit_reservations"
     "         WHERE status IN ('HELD', 'CONFIRMED') GROUP BY 1)"
     " SELECT format('client %s: invoiced %s (invoices %s), paid %s (payments %s), credited %s"
     " (notes %s), open %s (invoices %s), unapplied %s (settlements %s), reserved %s"
     " (reservations %s)', a.client_id, a.invoiced, coalesce(inv.a, 0), a.paid,"
     "        coalesce(st.p, 0), a.credited, coalesce(st.c, 0), a.open_amount, coalesce(inv.o, 0),"
     "        a.unapplied, coalesce(st.u, 0), a.reserved, coalesce(rs.r, 0))"
     "   FROM receivables.accounts a"
     "   LEFT JOIN inv ON inv.client_id = a.client_id"
     "   LEFT JOIN st ON st.client_id = a.client_id"
     "   LEFT JOIN rs ON rs.client_id = a.client_id"
     "  WHERE a.invoiced <> coalesce(inv.a, 0) OR a.paid <> coalesce(st.p, 0)"
     "     OR a.credited <> coalesce(st.c, 0) OR a.open_amount <> coalesce(inv.o, 0)"
     "     OR a.unapplied <> coalesce(st.u, 0) OR a.reserved <> coalesce(rs.r, 0)"
     "     OR a.invoiced - a.paid - a.credited <> a.open_amount - a.unapplied"},

    {"allocations", "what each invoice lost and each payment gave equals its allocations",
     "SELECT format('invoice %s: amount %s - open %s <> allocated %s', i.id, i.amount,"
     "              i.open_amount, coalesce(x.a, 0))"
     "  FROM receivables.invoices i"
     "  LEFT JOIN (SELECT invoice_id, sum(amount) AS a FROM receivables.allocations"
     "              WHERE reversed_at IS NULL GROUP BY 1) x ON x.invoice_id = i.id"
     " WHERE i.amount - i.open_amount <> coalesce(x.a, 0)"
     " UNION ALL "
     "SELECT format('settlement %s: amount %s - unapplied %s <> allocated %s', s.id, s.amount,"
     "              s.unapplied, coalesce(x.a, 0))"
     "  FROM receivables.settlements s"
     "  LEFT JOIN (SELECT settlement_id, sum(amount) AS a FROM receivables.allocations"
     "              WHERE reversed_at IS NULL GROUP BY 1) x ON x.settlement_id = s.id"
     " WHERE s.reversed_on IS NULL AND s.amount - s.unapplied <> coalesce(x.a, 0)"},

    {"credit_limit", "no client's exposure (open - unapplied + reserved) is over its limit"
                     " without a head's approval",
     "SELECT format('client %s: exposure %s over its limit %s', a.client_id,"
     "              a.open_amount - a.unapplied + a.reserved, a.credit_limit)"
     "  FROM receivables.accounts a"
     " WHERE a.open_amount - a.unapplied + a.reserved > a.credit_limit"
     "   AND NOT EXISTS (SELECT 1 FROM receivables.credit_reservations c"
     "                    WHERE c.client_id = a.client_id AND c.approved_by <> '')"},

    {"events_once", "each event applied once per consumer: one order fact per confirmed order,"
                    " one reservation and one invoicing per order in the credit history,"
                    " orders' copy of every shipment",
     "SELECT format('order %s (status %s): %s order facts in clients', o.order_id, o.status,"
     "              count(f.order_id))"
     "  FROM orders.orders o LEFT JOIN clients.order_facts f ON f.order_id = o.order_id"
     " WHERE o.status IN " S_CONFIRMED " GROUP BY o.order_id, o.status"
     " HAVING count(f.order_id) <> 1 OR max(f.total) <> o.total"
     " UNION ALL "
     "SELECT format('order fact %s: order %s', f.order_id,"
     "              coalesce('in status ' || o.status, 'missing'))"
     "  FROM clients.order_facts f LEFT JOIN orders.orders o ON o.order_id = f.order_id"
     " WHERE o.order_id IS NULL OR o.status NOT IN " S_CONFIRMED
     " UNION ALL "
     "SELECT format('order %s: credit history has %s %s rows', order_id, count(*), kind)"
     "  FROM receivables.credit_events WHERE kind IN ('reserved', 'invoiced') AND order_id > 0"
     " GROUP BY order_id, kind HAVING count(*) > 1"
     " UNION ALL "
     "SELECT format('shipment %s (%s): orders has %s', s.shipment_id, s.status,"
     "              coalesce('status ' || m.status || ', qty ' || m.qty, 'nothing'))"
     "  FROM logistics.shipments s"
     "  LEFT JOIN orders.shipments m ON m.shipment_id = s.shipment_id"
     "  LEFT JOIN (SELECT shipment_id, sum(qty) AS q FROM logistics.shipment_lines GROUP BY 1) l"
     "    ON l.shipment_id = s.shipment_id"
     " WHERE m.shipment_id IS NULL OR m.order_id <> s.order_id OR m.qty <> l.q"
     "    OR m.status <> CASE s.status WHEN 'requested' THEN 1 WHEN 'picking' THEN 2"
     "                   WHEN 'dispatched' THEN 3 WHEN 'delivered' THEN 4 WHEN 'failed' THEN 5"
     "                   ELSE 6 END"},

    {NULL, NULL, NULL},
};

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

//  Wait until quiet. 0, or -1 (what is still moving is printed).
static int s_wait_quiet(PGconn *conn, int wait_s)
{
    int64_t t0 = kt_now_ms(), until = t0 + (int64_t) wait_s * 1000;
    while (true) {
        PGresult *res = PQexec(conn, s_quiet_sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "kontor-audit: %s", PQerrorMessage(conn));
            PQclear(res);
            return -1;
        }
        int n = PQntuples(res);
        if (n == 0) {
            PQclear(res);
            printf("quiet after %.1f s\n", (double) (kt_now_ms() - t0) / 1000.0);
            return 0;
        }
        if (kt_now_ms() >= until) {
            printf("FAIL quiet: the set did not go quiet within %d s:\n", wait_s);
            for (int r = 0; r < n; r++)
                printf("    %s\n", PQgetvalue(res, r, 0));
            PQclear(res);
            return -1;
        }
        PQclear(res);
        s_sleep_ms(200);
    }
}

//  Run one check; 0 passed, 1 failed, -1 error.
static int s_run_check(PGconn *conn, const s_check_t *c)
{
    char *sql = NULL;
    if (asprintf(&sql, "SELECT count(*) OVER (), v.d FROM (%s) v(d) LIMIT %d", c->sql, S_SHOWN)
        < 0)
        return -1;
    int64_t t0 = kt_now_ms();
    PGresult *res = PQexec(conn, sql);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        printf("FAIL %-22s could not run: %s", c->name, PQerrorMessage(conn));
        PQclear(res);
        return 1;
    }
    int n = PQntuples(res);
    double ms = (double) (kt_now_ms() - t0);
    if (n == 0) {
        printf("PASS %-22s %s (%.0f ms)\n", c->name, c->what, ms);
        PQclear(res);
        return 0;
    }
    printf("FAIL %-22s %s: %s violation(s)\n", c->name, c->what, PQgetvalue(res, 0, 0));
    for (int r = 0; r < n; r++)
        printf("    %s\n", PQgetvalue(res, r, 1));
    PQclear(res);
    return 1;
}

typedef struct {
    int64_t sku;
    const char *value;
} s_field_t;

static int s_field_cmp(const void *a, const void *b)
{
    int64_t x = ((const s_field_t *) a)->sku, y = ((const s_field_t *) b)->sku;
    return (x > y) - (x < y);
}

//  The availability cache against the stock rows: 0 same, 1 different
//  (printed), -1 could not look.
static int s_cache_once(PGconn *conn, redisContext *rc, bool print, long *checked)
{
    PGresult *res = PQexec(conn, "SELECT warehouse_id, sku, on_hand - reserved"
                                 " FROM logistics.stock ORDER BY warehouse_id, sku");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "kontor-audit: %s", PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    int rows = PQntuples(res), bad = 0, shown = 0, rc_out = 0;
    int64_t wh = -1;
    redisReply *all = NULL;
    s_field_t *fields = NULL;
    size_t nfields = 0;
    for (int r = 0; r < rows; r++) {
        int64_t w = atoll(PQgetvalue(res, r, 0));
        if (w != wh) {
            freeReplyObject(all);
            free(fields);
            fields = NULL;
            char key[48];
            snprintf(key, sizeof key, "kontor:avail:%lld", (long long) w);
            const char *argv[] = {"HGETALL", key};
            all = redisCommandArgv(rc, 2, argv, NULL);
            if (!all || all->type != REDIS_REPLY_ARRAY) {
                rc_out = -1;
                break;
            }
            nfields = all->elements / 2;
            fields = calloc(nfields + 1, sizeof *fields);
            if (!fields) {
                rc_out = -1;
                break;
            }
            for (size_t i = 0; i < nfields; i++)
                fields[i] = (s_field_t) {atoll(all->element[2 * i]->str),
                                         all->element[2 * i + 1]->str};
            qsort(fields, nfields, sizeof *fields, s_field_cmp);
            wh = w;
        }
        const char *want = PQgetvalue(res, r, 2);
        s_field_t key = {atoll(PQgetvalue(res, r, 1)), NULL};
        const s_field_t *f = bsearch(&key, fields, nfields, sizeof *fields, s_field_cmp);
        if (!f || strcmp(f->value, want) != 0) {
            bad++;
            if (print && shown++ < S_SHOWN)
                printf("    warehouse %lld sku %lld: database %s, cache %s\n", (long long) w,
                       (long long) key.sku, want, f ? f->value : "missing");
        }
    }
    free(fields);
    freeReplyObject(all);
    PQclear(res);
    *checked = rows;
    if (rc_out < 0)
        return -1;
    return bad ? 1 : 0;
}

static int s_check_cache(PGconn *conn, const kt_config_t *cfg)
{
    const char *what = "the Redis availability cache equals on hand - reserved for every row";
    struct timeval tv = {5, 0};
    redisContext *rc = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
    if (!rc || rc->err) {
        printf("FAIL %-22s %s: cannot reach Redis at %s:%d\n", "cache", what, cfg->redis_host,
               cfg->redis_port);
        redisFree(rc);
        return 1;
    }
    redisSetTimeout(rc, tv);
    if (cfg->redis_password[0]) {
        const char *argv[] = {"AUTH", cfg->redis_password};
        redisReply *r = redisCommandArgv(rc, 2, argv, NULL);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (!ok) {
            printf("FAIL %-22s %s: Redis refused the password\n", "cache", what);
            redisFree(rc);
            return 1;
        }
    }
    //  It looks again for up to 10 s: the keeper may be a second behind.
    int64_t until = kt_now_ms() + 10000;
    long checked = 0;
    int rcode;
    while ((rcode = s_cache_once(conn, rc, false, &checked)) == 1 && kt_now_ms() < until)
        s_sleep_ms(500);
    if (rcode == 1) {
        printf("FAIL %-22s %s:\n", "cache", what);
        s_cache_once(conn, rc, true, &checked);
    } else if (rcode < 0)
        printf("FAIL %-22s %s: could not read the cache\n", "cache", what);
    else
        printf("PASS %-22s %s (%ld rows)\n", "cache", what, checked);
    redisFree(rc);
    return rcode == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int wait_s = 120;
    bool redis = true, quiet_only = false;
    const char *dsn = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc)
            wait_s = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-redis") == 0)
            redis = false;
        else if (strcmp(argv[i], "--quiet-only") == 0)
            quiet_only = true;
        else if (argv[i][0] != '-' && !dsn)
            dsn = argv[i];
        else
            dsn = NULL, i = argc;
    }
    if (!dsn || wait_s < 0) {
        fprintf(stderr, "usage: kontor-audit [--wait S] [--no-redis] [--quiet-only] SUPERUSER_DSN\n");
        return 2;
    }
    kt_config_t cfg;
    char why[256];
    if (redis && kt_config_load(&cfg, "audit", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-audit: %s\n", why);
        return 2;
    }
    PGconn *conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "kontor-audit: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 2;
    }
    int failed = 0;
    if (s_wait_quiet(conn, wait_s) != 0)
        failed++;
    else if (!quiet_only) {
        //  One snapshot for all the SQL checks: they compare schemas with
        //  each other, and a keeper or sweeper may still touch rows.
        PGresult *b = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        PQclear(b);
        for (const s_check_t *c = s_checks; c->name; c++)
            failed += s_run_check(conn, c) != 0;
        PGresult *e = PQexec(conn, "COMMIT");
        PQclear(e);
        if (redis)
            failed += s_check_cache(conn, &cfg);
    }
    PQfinish(conn);
    if (failed)
        printf("audit FAILED: %d check(s)\n", failed);
    else
        printf("audit passed\n");
    return failed ? 1 : 0;
}
