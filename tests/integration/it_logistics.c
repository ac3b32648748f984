/*  it_logistics - the logistics service against real PostgreSQL, Redis and
 *  bus: stock, reservations under concurrency and kill -9, expiry, shipment
 *  requests from orders' events (delivered twice, replayed), discrepancies,
 *  transfers, the Redis availability cache after FLUSHALL, every bad input
 *  by status and field, and the example WMS (tools/kontor-wms-example).
 *
 *  Orders' events are fed the way orders' own handlers would write them: a
 *  row in orders.outbox (as superuser) with the packed OrderConfirmed, with
 *  an orders process running whose relay publishes it.
 *
 *  Three groups, each with its own set: the main one (one logistics
 *  process), the crash one (two logistics processes, one killed with -9 in
 *  the middle of a reservation storm), and the WMS one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kt_client.h"
#include "kt_config.h"
#include "kt_harness.h"
#include "kt_metrics.h"
#include "kt_redis.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"

#define S_WAIT_MS 20000
#define S_STORM_MS 12000            //  the longest the concurrent reservers run
#define S_STORM_ATTEMPTS 2500       //  reservations tried in the storm (time allowing)
#define S_CRASH_STORM_MS 6000       //  the reservers around the kill -9
#define S_CALLERS 32
#define S_SKUS 10

static kth_set_t *s_set;
static kt_client_t *s_admin;        //  admin
static kt_client_t *s_orders;       //  the orders service's key
static int64_t s_central;           //  warehouse ids
static int64_t s_branch;
static pid_t s_logistics;           //  the main group's logistics process

//  ---------------------------------------------------------------- helpers

typedef struct {
    int status;
    char field[KT_FIELD_MAX + 1];
    char reason[KT_REASON_MAX + 1];
    char message[KT_MESSAGE_MAX + 1];
} s_outcome_t;

static _Thread_local s_outcome_t s_last;

//  Call logistics; the outcome goes to s_last; *out (if asked) is the
//  reply (or the refusal's figures), freed by the caller.
static int s_call_opts(kt_client_t *client, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *rd, ProtobufCMessage **out,
                       const kt_call_opts_t *opts)
{
    ProtobufCMessage *got = NULL;
    kt_reply_t reply;
    int status = kt_client_call(client, "logistics", method, req, rd, &got, opts, &reply);
    s_last.status = status;
    snprintf(s_last.field, sizeof s_last.field, "%s", reply.field);
    snprintf(s_last.reason, sizeof s_last.reason, "%s", reply.reason);
    snprintf(s_last.message, sizeof s_last.message, "%s", reply.message);
    kt_reply_clear(&reply);
    if (out)
        *out = got;
    else
        kt_msg_free(got);
    return status;
}

static int s_call(kt_client_t *client, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *rd, ProtobufCMessage **out, const char *key)
{
    kt_call_opts_t opts = {.timeout_ms = 15000, .idem_key = key};
    return s_call_opts(client, method, req, rd, out, &opts);
}

static void s_expect(int status, const char *field, const char *reason)
{
    if (s_last.status != status || strcmp(s_last.field, field ? field : "") != 0
        || (reason && strcmp(s_last.reason, reason) != 0))
        print_message("# got %s field=%s reason=%s: %s; wanted %s field=%s reason=%s\n",
                      kt_status_name(s_last.status), s_last.field, s_last.reason,
                      s_last.message, kt_status_name(status), field ? field : "",
                      reason ? reason : "(any)");
    assert_int_equal(s_last.status, status);
    assert_string_equal(s_last.field, field ? field : "");
    if (reason)
        assert_string_equal(s_last.reason, reason);
}

//  A fingerprint of everything logistics keeps, to show a refusal changed nothing.
static char *s_state(void)
{
    return kth_sql_value(
        s_set,
        "SELECT md5(coalesce((SELECT string_agg(warehouse_id || ':' || sku || ':' || on_hand"
        "   || ':' || reserved || ':' || version, ',' ORDER BY warehouse_id, sku)"
        "   FROM logistics.stock), '')"
        " || coalesce((SELECT string_agg(order_id || status, ',' ORDER BY order_id)"
        "   FROM logistics.reservations), '')"
        " || coalesce((SELECT string_agg(shipment_id || status, ',' ORDER BY shipment_id)"
        "   FROM logistics.shipments), '')"
        " || (SELECT count(*) FROM logistics.arrivals)"
        " || (SELECT count(*) FROM logistics.transfers)"
        " || (SELECT count(*) FROM logistics.discrepancy_acts)"
        " || (SELECT count(*) FROM logistics.products)"
        " || (SELECT count(*) FROM logistics.outbox))");
}

static int64_t s_warehouse(const char *code, int kind)
{
    Kontor__Logistics__UpsertWarehouseRequest req = KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REQUEST__INIT;
    req.code = (char *) code;
    req.name = (char *) code;
    req.kind = kind;
    req.branch_id = 1;
    req.address = "Main street 1";
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call(s_admin, "UpsertWarehouse", &req.base,
                            &kontor__logistics__upsert_warehouse_reply__descriptor, &out, NULL),
                     KT_OK);
    int64_t id = ((Kontor__Logistics__UpsertWarehouseReply *) out)->warehouse->warehouse_id;
    kt_msg_free(out);
    return id;
}

//  Products first..first+n-1, named "P<sku>", in analog group `group` ("" none).
static void s_products(int64_t first, int n, const char *group)
{
    Kontor__Logistics__UpsertProductRequest req = KONTOR__LOGISTICS__UPSERT_PRODUCT_REQUEST__INIT;
    Kontor__Logistics__Product *ps = calloc((size_t) n, sizeof *ps);
    Kontor__Logistics__Product **pp = calloc((size_t) n, sizeof *pp);
    char (*names)[32] = calloc((size_t) n, 32);
    for (int i = 0; i < n; i++) {
        kontor__logistics__product__init(&ps[i]);
        ps[i].sku = first + i;
        snprintf(names[i], 32, "P%lld", (long long) (first + i));
        ps[i].name = names[i];
        ps[i].unit = "pcs";
        ps[i].weight_g = 250;
        ps[i].storage = "dry";
        ps[i].analog_group = (char *) group;
        pp[i] = &ps[i];
    }
    req.n_products = (size_t) n;
    req.products = pp;
    assert_int_equal(s_call(s_admin, "UpsertProduct", &req.base,
                            &kontor__logistics__upsert_product_reply__descriptor, NULL, NULL),
                     KT_OK);
    free(names);
    free(pp);
    free(ps);
}

static int s_receive(kt_client_t *client, const char *key, int64_t wh, int64_t sku, int64_t qty)
{
    Kontor__Logistics__ReceiveRequest req = KONTOR__LOGISTICS__RECEIVE_REQUEST__INIT;
    Kontor__Logistics__StockLine line = KONTOR__LOGISTICS__STOCK_LINE__INIT;
    Kontor__Logistics__StockLine *lp = &line;
    line.sku = sku;
    line.qty = qty;
    req.warehouse_id = wh;
    req.n_lines = 1;
    req.lines = &lp;
    return s_call(client, "Receive", &req.base, &kontor__logistics__stock_reply__descriptor, NULL,
                  key);
}

//  ReserveStock with lines (sku, qty) pairs.
static int s_reserve_opts(kt_client_t *client, int64_t order, int64_t wh, uint32_t hold,
                          const int64_t *skus, const int64_t *qtys, size_t n,
                          Kontor__Logistics__ReserveStockReply **out, const kt_call_opts_t *opts)
{
    Kontor__Logistics__ReserveStockRequest req = KONTOR__LOGISTICS__RESERVE_STOCK_REQUEST__INIT;
    Kontor__Logistics__StockLine lines[16];
    Kontor__Logistics__StockLine *lp[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        kontor__logistics__stock_line__init(&lines[i]);
        lines[i].sku = skus[i];
        lines[i].qty = qtys[i];
        lp[i] = &lines[i];
    }
    req.order_id = order;
    req.warehouse_id = wh;
    req.hold_seconds = hold;
    req.n_lines = n;
    req.lines = lp;
    return s_call_opts(client, "ReserveStock", &req.base,
                       &kontor__logistics__reserve_stock_reply__descriptor,
                       (ProtobufCMessage **) out, opts);
}

static int s_reserve(kt_client_t *client, int64_t order, int64_t wh, uint32_t hold,
                     const int64_t *skus, const int64_t *qtys, size_t n,
                     Kontor__Logistics__ReserveStockReply **out)
{
    kt_call_opts_t opts = {.timeout_ms = 15000};
    return s_reserve_opts(client, order, wh, hold, skus, qtys, n, out, &opts);
}

static int s_reservation(kt_client_t *client, const char *method, int64_t order)
{
    Kontor__Logistics__ReservationRequest req = KONTOR__LOGISTICS__RESERVATION_REQUEST__INIT;
    req.order_id = order;
    return s_call(client, method, &req.base, &kontor__logistics__reservation_reply__descriptor,
                  NULL, NULL);
}

static int s_update_shipment(kt_client_t *client, int64_t id, int status)
{
    Kontor__Logistics__UpdateShipmentRequest req =
        KONTOR__LOGISTICS__UPDATE_SHIPMENT_REQUEST__INIT;
    req.shipment_id = id;
    req.status = status;
    return s_call(client, "UpdateShipment", &req.base,
                  &kontor__logistics__shipment_reply__descriptor, NULL, NULL);
}

static int64_t s_on_hand(int64_t wh, int64_t sku)
{
    return kth_sql_i64f(
        s_set,
        "SELECT coalesce((SELECT on_hand FROM logistics.stock WHERE warehouse_id = %lld"
        " AND sku = %lld), 0)",
        (long long)wh, (long long)sku);
}

static int64_t s_reserved(int64_t wh, int64_t sku)
{
    return kth_sql_i64f(
        s_set,
        "SELECT coalesce((SELECT reserved FROM logistics.stock WHERE warehouse_id = %lld"
        " AND sku = %lld), 0)",
        (long long)wh, (long long)sku);
}

//  OrderConfirmed for `order` with lines (sku, qty) at price 100 + sku.
static void s_order_confirmed(int64_t order, int64_t wh, const int64_t *skus,
                              const int64_t *qtys, size_t n)
{
    Kontor__Orders__OrderConfirmed oc = KONTOR__ORDERS__ORDER_CONFIRMED__INIT;
    Kontor__Orders__OrderLine lines[16];
    Kontor__Orders__OrderLine *lp[16];
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        kontor__orders__order_line__init(&lines[i]);
        lines[i].sku = skus[i];
        lines[i].qty = qtys[i];
        lines[i].unit_price = 100 + skus[i];
        lines[i].line_total = lines[i].unit_price * qtys[i];
        lines[i].list_price = lines[i].unit_price;
        total += lines[i].line_total;
        lp[i] = &lines[i];
    }
    oc.order_id = order;
    oc.client_id = 77;
    oc.manager_id = 2;
    oc.branch_id = 1;
    oc.warehouse_id = wh;
    oc.currency = "EUR";
    oc.total = total;
    oc.n_lines = n;
    oc.lines = lp;
    oc.delivery_date = "2030-01-15";
    oc.delivery_method = KONTOR__DELIVERY_METHOD__CARRIER;
    oc.address = "Client road 5";
    oc.confirmed_at_ms = 1;
    kth_outbox(s_set, "orders", "OrderConfirmed", &oc.base);
}

static void s_order_cancelled(int64_t order)
{
    Kontor__Orders__OrderCancelled oc = KONTOR__ORDERS__ORDER_CANCELLED__INIT;
    oc.order_id = order;
    oc.client_id = 77;
    oc.reason = "client changed its mind";
    kth_outbox(s_set, "orders", "OrderCancelled", &oc.base);
}

//  Redis as the test sees it.
static kt_redis_t *s_redis(void)
{
    const char *port = getenv("KT_TEST_REDIS_PORT");
    const char *password = getenv("KT_TEST_REDIS_PASSWORD");
    assert_non_null(port);
    return kt_redis_new("127.0.0.1", atoi(port), password ? password : "", 2000);
}

//  True when Redis holds exactly what PostgreSQL says is available, for
//  every stock row.
static bool s_cache_matches(void *arg)
{
    kt_redis_t *redis = arg;
    PGresult *res = NULL;
    static const kt_stmt_t rows = {
        "it_stock_rows",
        "SELECT warehouse_id, sku::text, on_hand - reserved FROM logistics.stock"
        " ORDER BY warehouse_id, sku",
        0};
    res = kt_pg_exec(kth_admin(s_set), &rows, NULL);
    if (!res)
        return false;
    bool ok = true;
    for (int r = 0; ok && r < PQntuples(res); r++) {
        char key[48];
        snprintf(key, sizeof key, "kontor:avail:%s", PQgetvalue(res, r, 0));
        const char *field = PQgetvalue(res, r, 1);
        int64_t value = 0;
        int present = 0;
        if (kt_redis_hmget_i64(redis, key, &field, 1, &value, &present) != 0 || !present
            || value != strtoll(PQgetvalue(res, r, 2), NULL, 10))
            ok = false;
    }
    PQclear(res);
    return ok;
}

//  ---------------------------------------------------------------- main group

static int s_setup(void **state)
{
    s_set = kth_set_new("logistics");
    kth_start_bus(s_set);
    kth_start_service(s_set, "orders", 1);
    s_logistics = kth_start_service(s_set, "logistics", 4);
    s_admin = kth_client(s_set, "admin");
    s_orders = kth_client(s_set, "orders");
    s_central = s_warehouse("CENTRAL", KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL);
    s_branch = s_warehouse("BRANCH-1", KONTOR__LOGISTICS__WAREHOUSE_KIND__BRANCH);
    s_products(1, 100, "");
    s_products(1001, 3, "bolts-m8");
    return 0;
}

static int s_teardown(void **state)
{
    kt_client_destroy(&s_orders);
    kt_client_destroy(&s_admin);
    kth_set_destroy(&s_set);
    return 0;
}

static void test_receive_adjust_and_journal(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-1", s_central, 1, 100), KT_OK);
    //  The same key again: once.
    assert_int_equal(s_receive(s_admin, "rcv-1", s_central, 1, 100), KT_OK);
    assert_int_equal(s_on_hand(s_central, 1), 100);
    //  The same key with another body: refused.
    assert_int_equal(s_receive(s_admin, "rcv-1", s_central, 1, 5), KT_ABORTED);
    s_expect(KT_ABORTED, "idempotency_key", "idempotency_mismatch");
    Kontor__Logistics__AdjustRequest adj = KONTOR__LOGISTICS__ADJUST_REQUEST__INIT;
    Kontor__Logistics__AdjustLine line = KONTOR__LOGISTICS__ADJUST_LINE__INIT;
    Kontor__Logistics__AdjustLine *lp = &line;
    line.sku = 1;
    line.delta = -7;
    adj.warehouse_id = s_central;
    adj.n_lines = 1;
    adj.lines = &lp;
    adj.reason = "inventory count: broken boxes";
    assert_int_equal(s_call(s_admin, "Adjust", &adj.base,
                            &kontor__logistics__stock_reply__descriptor, NULL, "adj-1"),
                     KT_OK);
    assert_int_equal(s_on_hand(s_central, 1), 93);
    //  The journal adds up to on hand.
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT sum(delta) FROM logistics.stock_moves WHERE warehouse_id = %lld"
                     " AND sku = 1",
                     (long long)s_central),
        93);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.outbox WHERE type = 'StockChanged'"),
        2);
    //  A logistician may, a manager may not.
    kt_client_t *manager = kth_client(s_set, "manager-1");
    assert_int_equal(s_receive(manager, "rcv-m", s_central, 1, 1), KT_PERMISSION_DENIED);
    kt_client_destroy(&manager);
    kt_client_t *logistician = kth_client(s_set, "logistician-1");
    assert_int_equal(s_receive(logistician, "rcv-l", s_central, 2, 50), KT_OK);
    kt_client_destroy(&logistician);
}

static void test_bad_input_changes_nothing(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-bad-0", s_central, 3, 10), KT_OK);
    char *before = s_state();
    int64_t sk[4], q[4];
    //  ReserveStock, field by field.
    sk[0] = 3, q[0] = 1;
    assert_int_not_equal(s_reserve(s_orders, 0, s_central, 0, sk, q, 1, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "order_id", NULL);
    assert_int_not_equal(s_reserve(s_orders, 900, 0, 0, sk, q, 1, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "warehouse_id", NULL);
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 0, sk, q, 0, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "lines", NULL);
    q[0] = 0;
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 0, sk, q, 1, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    q[0] = -4;
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 0, sk, q, 1, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    sk[1] = 2, q[0] = 1, q[1] = INT64_MAX;
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 0, sk, q, 2, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "lines[1].qty", NULL);
    sk[0] = 3, sk[1] = 2, sk[2] = 3, q[0] = q[1] = q[2] = 1;
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 0, sk, q, 3, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "lines[2].sku", "duplicate_line");
    sk[1] = 99999;
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 0, sk, q, 2, NULL), KT_OK);
    s_expect(KT_NOT_FOUND, "lines[1].sku", "unknown_sku");
    sk[1] = 2;
    assert_int_not_equal(s_reserve(s_orders, 900, 424242, 0, sk, q, 2, NULL), KT_OK);
    s_expect(KT_NOT_FOUND, "warehouse_id", "unknown_warehouse");
    assert_int_not_equal(s_reserve(s_orders, 900, s_central, 100000000, sk, q, 1, NULL), KT_OK);
    s_expect(KT_INVALID_ARGUMENT, "hold_seconds", NULL);
    //  Receive.
    assert_int_equal(s_receive(s_admin, "rcv-bad-1", s_central, 3, 0), KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    assert_int_equal(s_receive(s_admin, "rcv-bad-2", s_central, 3, -1), KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    assert_int_equal(s_receive(s_admin, "rcv-bad-3", s_central, 3, INT64_MAX),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    assert_int_equal(s_receive(s_admin, "rcv-bad-4", s_central, 424242, 1), KT_NOT_FOUND);
    s_expect(KT_NOT_FOUND, "lines[0].sku", "unknown_sku");
    assert_int_equal(s_receive(s_admin, "rcv-bad-5", 424242, 3, 1), KT_NOT_FOUND);
    s_expect(KT_NOT_FOUND, "warehouse_id", "unknown_warehouse");
    assert_int_equal(s_receive(s_admin, NULL, s_central, 3, 1), KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "idempotency_key", NULL);
    {
        Kontor__Logistics__ReceiveRequest rr = KONTOR__LOGISTICS__RECEIVE_REQUEST__INIT;
        Kontor__Logistics__StockLine l[2] = {KONTOR__LOGISTICS__STOCK_LINE__INIT,
                                             KONTOR__LOGISTICS__STOCK_LINE__INIT};
        Kontor__Logistics__StockLine *lp2[2] = {&l[0], &l[1]};
        l[0].sku = l[1].sku = 3;
        l[0].qty = l[1].qty = 1;
        rr.warehouse_id = s_central;
        rr.n_lines = 2;
        rr.lines = lp2;
        assert_int_equal(s_call(s_admin, "Receive", &rr.base,
                                &kontor__logistics__stock_reply__descriptor, NULL, "rcv-bad-6"),
                         KT_INVALID_ARGUMENT);
        s_expect(KT_INVALID_ARGUMENT, "lines[1].sku", "duplicate_line");
    }
    //  Adjust: zero, no reason, below what is reserved.
    Kontor__Logistics__AdjustRequest adj = KONTOR__LOGISTICS__ADJUST_REQUEST__INIT;
    Kontor__Logistics__AdjustLine line = KONTOR__LOGISTICS__ADJUST_LINE__INIT;
    Kontor__Logistics__AdjustLine *lp = &line;
    line.sku = 3;
    adj.warehouse_id = s_central;
    adj.n_lines = 1;
    adj.lines = &lp;
    adj.reason = "count";
    assert_int_equal(s_call(s_admin, "Adjust", &adj.base,
                            &kontor__logistics__stock_reply__descriptor, NULL, "adj-bad-1"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].delta", NULL);
    line.delta = -11;
    assert_int_equal(s_call(s_admin, "Adjust", &adj.base,
                            &kontor__logistics__stock_reply__descriptor, NULL, "adj-bad-2"),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "lines[0].qty", "insufficient_stock");
    adj.reason = "";
    line.delta = 1;
    assert_int_equal(s_call(s_admin, "Adjust", &adj.base,
                            &kontor__logistics__stock_reply__descriptor, NULL, "adj-bad-3"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "reason", NULL);
    //  ExpectArrival: a date in the past, an absurd one, no quantity.
    Kontor__Logistics__ExpectArrivalRequest ea = KONTOR__LOGISTICS__EXPECT_ARRIVAL_REQUEST__INIT;
    ea.sku = 3;
    ea.warehouse_id = s_central;
    ea.qty = 5;
    ea.date = "2001-01-01";
    assert_int_equal(s_call(s_admin, "ExpectArrival", &ea.base,
                            &kontor__logistics__expect_arrival_reply__descriptor, NULL, "ea-1"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "date", NULL);
    ea.date = "2099-12-31";
    assert_int_equal(s_call(s_admin, "ExpectArrival", &ea.base,
                            &kontor__logistics__expect_arrival_reply__descriptor, NULL, "ea-2"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "date", NULL);
    ea.date = "2030-02-30";
    assert_int_equal(s_call(s_admin, "ExpectArrival", &ea.base,
                            &kontor__logistics__expect_arrival_reply__descriptor, NULL, "ea-3"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "date", NULL);
    //  Availability: the same SKU twice, an unknown one.
    Kontor__Logistics__AvailabilityRequest av = KONTOR__LOGISTICS__AVAILABILITY_REQUEST__INIT;
    int64_t skus[3] = {3, 2, 3};
    av.n_skus = 3;
    av.skus = skus;
    assert_int_equal(s_call(s_orders, "Availability", &av.base,
                            &kontor__logistics__availability_reply__descriptor, NULL, NULL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "skus[2]", "duplicate_line");
    skus[0] = 55555;
    av.n_skus = 1;
    assert_int_equal(s_call(s_orders, "Availability", &av.base,
                            &kontor__logistics__availability_reply__descriptor, NULL, NULL),
                     KT_NOT_FOUND);
    s_expect(KT_NOT_FOUND, "skus[0]", "unknown_sku");
    //  Warehouses and products.
    Kontor__Logistics__UpsertWarehouseRequest uw = KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REQUEST__INIT;
    uw.code = "NEW-1";
    uw.name = "New";
    uw.branch_id = 1;
    assert_int_equal(s_call(s_admin, "UpsertWarehouse", &uw.base,
                            &kontor__logistics__upsert_warehouse_reply__descriptor, NULL, NULL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "kind", NULL);
    uw.kind = KONTOR__LOGISTICS__WAREHOUSE_KIND__BRANCH;
    uw.code = "new one";
    assert_int_equal(s_call(s_admin, "UpsertWarehouse", &uw.base,
                            &kontor__logistics__upsert_warehouse_reply__descriptor, NULL, NULL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "code", NULL);
    Kontor__Logistics__UpsertProductRequest up = KONTOR__LOGISTICS__UPSERT_PRODUCT_REQUEST__INIT;
    Kontor__Logistics__Product pr[2] = {KONTOR__LOGISTICS__PRODUCT__INIT,
                                        KONTOR__LOGISTICS__PRODUCT__INIT};
    Kontor__Logistics__Product *pp[2] = {&pr[0], &pr[1]};
    pr[0].sku = 501, pr[0].name = "A", pr[0].unit = "pcs";
    pr[1].sku = 0, pr[1].name = "B", pr[1].unit = "pcs";
    up.n_products = 2;
    up.products = pp;
    assert_int_equal(s_call(s_admin, "UpsertProduct", &up.base,
                            &kontor__logistics__upsert_product_reply__descriptor, NULL, NULL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "products[1].sku", NULL);
    pr[1].sku = 501;
    assert_int_equal(s_call(s_admin, "UpsertProduct", &up.base,
                            &kontor__logistics__upsert_product_reply__descriptor, NULL, NULL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "products[1].sku", "duplicate_line");
    pr[1].sku = 502, pr[0].name = "";
    assert_int_equal(s_call(s_admin, "UpsertProduct", &up.base,
                            &kontor__logistics__upsert_product_reply__descriptor, NULL, NULL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "products[0].name", NULL);
    //  A transfer expected yesterday.
    Kontor__Logistics__RequestTransferRequest rt = KONTOR__LOGISTICS__REQUEST_TRANSFER_REQUEST__INIT;
    Kontor__Logistics__StockLine tl = KONTOR__LOGISTICS__STOCK_LINE__INIT;
    Kontor__Logistics__StockLine *tlp = &tl;
    tl.sku = 3, tl.qty = 1;
    rt.from_warehouse_id = s_central;
    rt.to_warehouse_id = s_branch;
    rt.n_lines = 1;
    rt.lines = &tlp;
    char yesterday[16];
    time_t t_y = time(NULL) - 86400;
    strftime(yesterday, sizeof yesterday, "%Y-%m-%d", gmtime(&t_y));
    rt.expected_date = yesterday;
    assert_int_equal(s_call(s_admin, "RequestTransfer", &rt.base,
                            &kontor__logistics__transfer_reply__descriptor, NULL, "tr-bad"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "expected_date", NULL);
    //  Shipments that do not exist, statuses that do not exist.
    assert_int_equal(s_update_shipment(s_admin, 987654, KONTOR__LOGISTICS__SHIPMENT_STATUS__PICKING),
                     KT_NOT_FOUND);
    s_expect(KT_NOT_FOUND, "shipment_id", NULL);
    assert_int_equal(s_update_shipment(s_admin, 1, 0), KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "status", NULL);
    //  Roles: an external system may only update shipments.
    kt_client_t *wms = kth_client(s_set, "wms-1");
    sk[0] = 3, q[0] = 1;
    assert_int_equal(s_reserve(wms, 901, s_central, 0, sk, q, 1, NULL), KT_PERMISSION_DENIED);
    s_expect(KT_PERMISSION_DENIED, NULL, "role_required");
    assert_int_equal(s_receive(wms, "rcv-wms", s_central, 3, 1), KT_PERMISSION_DENIED);
    kt_client_destroy(&wms);
    kt_client_t *manager = kth_client(s_set, "manager-1");
    assert_int_equal(s_reserve(manager, 902, s_central, 0, sk, q, 1, NULL), KT_PERMISSION_DENIED);
    kt_client_destroy(&manager);
    kt_client_t *receivables = kth_client(s_set, "receivables");
    assert_int_equal(s_reserve(receivables, 903, s_central, 0, sk, q, 1, NULL),
                     KT_PERMISSION_DENIED);
    s_expect(KT_PERMISSION_DENIED, NULL, "role_required");
    kt_client_destroy(&receivables);

    char *after = s_state();
    assert_string_equal(before, after);
    free(before);
    free(after);

    //  A sum past int64: on hand near the top (set by hand), one more receipt.
    kth_sql_exec(s_set,
                 "UPDATE logistics.stock SET on_hand = 9223372036854775000,"
                 " version = nextval('logistics.stock_version'), changed_xid = pg_current_xact_id()"
                 " WHERE sku = 3");
    before = s_state();
    assert_int_equal(s_receive(s_admin, "rcv-bad-7", s_central, 3, 1000000000000LL),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    after = s_state();
    assert_string_equal(before, after);
    free(before);
    free(after);
    kth_sql_exec(s_set,
                 "UPDATE logistics.stock SET on_hand = 10,"
                 " version = nextval('logistics.stock_version'), changed_xid = pg_current_xact_id()"
                 " WHERE sku = 3");
}

static void test_reserve_twice_reserves_once(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-idem", s_central, 4, 10), KT_OK);
    int64_t sk[] = {4}, q[] = {3};
    Kontor__Logistics__ReserveStockReply *a = NULL, *b = NULL;
    assert_int_equal(s_reserve(s_orders, 1000, s_central, 0, sk, q, 1, &a), KT_OK);
    assert_int_equal(s_reserve(s_orders, 1000, s_central, 0, sk, q, 1, &b), KT_OK);
    assert_int_equal(a->status, KONTOR__LOGISTICS__RESERVATION_STATUS__HELD);
    assert_int_equal(b->status, KONTOR__LOGISTICS__RESERVATION_STATUS__HELD);
    assert_true(a->expires_at_ms > 0);
    assert_int_equal(a->expires_at_ms, b->expires_at_ms);
    kt_msg_free(&a->base);
    kt_msg_free(&b->base);
    assert_int_equal(s_reserved(s_central, 4), 3);
    //  Other lines with the same order id: refused, nothing changes.
    q[0] = 4;
    assert_int_equal(s_reserve(s_orders, 1000, s_central, 0, sk, q, 1, NULL), KT_ABORTED);
    s_expect(KT_ABORTED, "order_id", "idempotency_mismatch");
    assert_int_equal(s_reserved(s_central, 4), 3);
    //  Short: which lines and by how much, nothing reserved.
    int64_t sk2[] = {4, 1}, q2[] = {8, 5};
    assert_int_equal(s_reserve(s_orders, 1001, s_central, 0, sk2, q2, 2, &a),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "lines", "insufficient_stock");
    assert_non_null(a);
    assert_int_equal(a->n_short_, 1);
    assert_int_equal(a->short_[0]->sku, 4);
    assert_int_equal(a->short_[0]->requested, 8);
    assert_int_equal(a->short_[0]->available, 7);
    kt_msg_free(&a->base);
    assert_int_equal(s_reserved(s_central, 4), 3);
    assert_int_equal(s_reserved(s_central, 1), 0);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id = 1001"),
        0);
    //  Release gives it back; a second release is the same answer.
    assert_int_equal(s_reservation(s_orders, "ReleaseReservation", 1000), KT_OK);
    assert_int_equal(s_reservation(s_orders, "ReleaseReservation", 1000), KT_OK);
    assert_int_equal(s_reserved(s_central, 4), 0);
    //  Released: the order cannot reserve again.
    q[0] = 3;
    assert_int_equal(s_reserve(s_orders, 1000, s_central, 0, sk, q, 1, NULL),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "order_id", "invalid_transition");
    //  A release before its reservation: the late reservation holds nothing.
    assert_int_equal(s_reservation(s_orders, "ReleaseReservation", 1002), KT_OK);
    assert_int_equal(s_reserve(s_orders, 1002, s_central, 0, sk, q, 1, NULL),
                     KT_FAILED_PRECONDITION);
    assert_int_equal(s_reserved(s_central, 4), 0);
}

typedef struct {
    kt_client_t *client;
    int64_t order;
    int status;
} s_same_t;

static void *s_same_thread(void *arg)
{
    s_same_t *t = arg;
    int64_t sk[] = {5, 6}, q[] = {2, 1};
    t->status = s_reserve(t->client, t->order, s_central, 0, sk, q, 2, NULL);
    return NULL;
}

static void test_same_reservation_in_parallel_reserves_once(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-par-5", s_central, 5, 100), KT_OK);
    assert_int_equal(s_receive(s_admin, "rcv-par-6", s_central, 6, 100), KT_OK);
    enum { N = 8 };
    s_same_t t[N];
    pthread_t th[N];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++) {
            t[i] = (s_same_t){kth_client(s_set, "orders"), 2000 + round, -1};
        }
        for (int i = 0; i < N; i++)
            pthread_create(&th[i], NULL, s_same_thread, &t[i]);
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(t[i].status, KT_OK);
            kt_client_destroy(&t[i].client);
        }
    }
    assert_int_equal(s_reserved(s_central, 5), 10);
    assert_int_equal(s_reserved(s_central, 6), 5);
    assert_int_equal(
        kth_sql_i64f(
            s_set,
            "SELECT count(*) FROM logistics.reservations WHERE order_id BETWEEN 2000 AND 2004"),
        5);
}

static void test_expiry_returns_stock_and_confirm_keeps_it(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-exp", s_central, 7, 10), KT_OK);
    int64_t sk[] = {7}, q[] = {4};
    assert_int_equal(s_reserve(s_orders, 3000, s_central, 1, sk, q, 1, NULL), KT_OK);
    assert_int_equal(s_reserve(s_orders, 3001, s_central, 1, sk, q, 1, NULL), KT_OK);
    assert_int_equal(s_reservation(s_orders, "ConfirmReservation", 3001), KT_OK);
    assert_int_equal(s_reserved(s_central, 7), 8);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM logistics.reservations WHERE order_id = 3000"
                              " AND status = 'expired'"));
    assert_int_equal(s_reserved(s_central, 7), 4);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id = 3001"
                            " AND status = 'confirmed'"),
        1);
    //  Confirming the expired one is refused and says why.
    assert_int_equal(s_reservation(s_orders, "ConfirmReservation", 3000), KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "order_id", "reservation_expired");
    //  Retrying the expired reservation does not hold stock again.
    assert_int_equal(s_reserve(s_orders, 3000, s_central, 1, sk, q, 1, NULL),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "order_id", "reservation_expired");
    assert_int_equal(s_reserved(s_central, 7), 4);
    assert_int_equal(s_reservation(s_orders, "ReleaseReservation", 3001), KT_OK);
    assert_int_equal(s_reserved(s_central, 7), 0);
}

//  ---------------------------------------------------------------- the storm

typedef struct {
    kt_client_t *client;
    int index;
    int64_t warehouse;
    int64_t first_sku;
    uint32_t hold;
    bool retry;                     //  retry the same order id on no answer
    int64_t end_ms;
    atomic_bool *stop;
    atomic_int *budget;             //  orders left to try, shared; NULL: until end_ms
    //  out
    int attempts;
    int ok;
    int refused;
    int64_t reserved[S_SKUS];       //  units of successful reservations, per SKU
    int64_t *ok_orders;             //  order ids answered OK
    int n_ok_orders;
} s_storm_t;

static void *s_storm_thread(void *arg)
{
    s_storm_t *t = arg;
    unsigned int seed = (unsigned int) (t->index * 7919 + 1);
    int64_t order = 100000 + (int64_t) t->index * 100000;
    t->ok_orders = calloc(100000, sizeof *t->ok_orders);
    while (kt_now_ms() < t->end_ms && !atomic_load(t->stop)) {
        if (t->budget && atomic_fetch_sub(t->budget, 1) <= 0)
            break;
        order++;
        size_t n = 1 + (size_t) (rand_r(&seed) % 3);
        int64_t sk[3], q[3];
        for (size_t i = 0; i < n; i++) {
            bool dup;
            do {
                sk[i] = t->first_sku + rand_r(&seed) % S_SKUS;
                dup = false;
                for (size_t j = 0; j < i; j++)
                    dup = dup || sk[j] == sk[i];
            } while (dup);
            q[i] = 1 + rand_r(&seed) % 3;
        }
        int status;
        int tries = 0;
        do {
            kt_call_opts_t opts = {.timeout_ms = 5000, .retry = t->retry};
            t->attempts++;
            status = s_reserve_opts(t->client, order, t->warehouse, t->hold, sk, q, n, NULL,
                                    &opts);
        } while (t->retry && kt_status_retryable(status) && ++tries < 10);
        if (status == KT_OK) {
            t->ok++;
            if (t->n_ok_orders < 100000)
                t->ok_orders[t->n_ok_orders++] = order;
            for (size_t i = 0; i < n; i++)
                t->reserved[sk[i] - t->first_sku] += q[i];
        } else if (status == KT_FAILED_PRECONDITION)
            t->refused++;
    }
    return NULL;
}

static void test_concurrent_reservers_keep_stock_consistent(void **state)
{
    const int64_t first = 11;  //  SKUs 11..20, scarce
    for (int i = 0; i < S_SKUS; i++) {
        char key[32];
        snprintf(key, sizeof key, "rcv-storm-%d", i);
        assert_int_equal(s_receive(s_admin, key, s_branch, first + i, 300), KT_OK);
    }
    s_storm_t t[S_CALLERS];
    pthread_t th[S_CALLERS];
    atomic_bool stop = false;
    atomic_int budget = S_STORM_ATTEMPTS;
    int64_t end = kt_now_ms() + S_STORM_MS;
    for (int i = 0; i < S_CALLERS; i++)
        t[i] = (s_storm_t){.client = kth_client(s_set, "orders"),
                           .index = i,
                           .warehouse = s_branch,
                           .first_sku = first,
                           .hold = 600,
                           .end_ms = end,
                           .stop = &stop,
                           .budget = &budget};
    for (int i = 0; i < S_CALLERS; i++)
        pthread_create(&th[i], NULL, s_storm_thread, &t[i]);
    int attempts = 0, ok = 0, refused = 0;
    int64_t total[S_SKUS] = {0};
    for (int i = 0; i < S_CALLERS; i++) {
        pthread_join(th[i], NULL);
        attempts += t[i].attempts;
        ok += t[i].ok;
        refused += t[i].refused;
        for (int k = 0; k < S_SKUS; k++)
            total[k] += t[i].reserved[k];
        free(t[i].ok_orders);
        kt_client_destroy(&t[i].client);
    }
    print_message("# storm: %d attempts, %d reserved, %d refused short\n", attempts, ok,
                  refused);
    //  Thousands on an idle machine; fewer (time-capped) on a crowded one.
    assert_true(attempts >= 300);
    assert_true(ok > 0 && refused > 0);
    assert_int_equal(attempts, ok + refused);
    for (int k = 0; k < S_SKUS; k++) {
        int64_t reserved = s_reserved(s_branch, first + k);
        assert_int_equal(reserved, total[k]);
        assert_true(reserved >= 0 && reserved <= s_on_hand(s_branch, first + k));
    }
    //  reserved = the sum of live reservations' lines, everywhere.
    assert_int_equal(
        kth_sql_i64f(
            s_set,
            "SELECT count(*) FROM logistics.stock s WHERE s.reserved <> coalesce(("
            " SELECT sum(l.qty) FROM logistics.reservations r JOIN logistics.reservation_lines l"
            " ON l.order_id = r.order_id WHERE r.status IN ('held', 'confirmed')"
            " AND r.warehouse_id = s.warehouse_id AND l.sku = s.sku), 0)"),
        0);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id >= 100000"),
        ok);
}

//  ---------------------------------------------------------------- shipments

//  Events of orders the logistics process has applied (its consumer's counter).
static int64_t s_applied_metric(void)
{
    int64_t value =
        kth_metric(kth_http_port(s_set, s_logistics),
                   "kontor_events_applied_total{consumer=\"logistics\",producer=\"orders\"} ");
    assert_true(value >= 0);
    return value;
}

//  Wait until logistics applied every event written into orders.outbox.
static void s_wait_orders_applied(void)
{
    assert_true(kth_wait_sqlf(
        s_set, 0, S_WAIT_MS,
        "SELECT count(*) FROM orders.outbox WHERE seq IS NULL OR seq > coalesce(("
        " SELECT last_seq FROM logistics.event_offsets WHERE producer = 'orders'), 0)"));
}

static int64_t s_shipment_of(int64_t order)
{
    return kth_sql_i64f(s_set,
                        "SELECT coalesce((SELECT shipment_id FROM logistics.shipments"
                        " WHERE order_id = %lld), 0)",
                        (long long)order);
}

static void test_order_confirmed_makes_one_shipment_and_dispatch_consumes(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-ship-21", s_central, 21, 50), KT_OK);
    assert_int_equal(s_receive(s_admin, "rcv-ship-22", s_central, 22, 50), KT_OK);
    int64_t sk[] = {21, 22}, q[] = {5, 2};
    assert_int_equal(s_reserve(s_orders, 5000, s_central, 0, sk, q, 2, NULL), KT_OK);
    //  Delivered twice: one shipment request.
    s_order_confirmed(5000, s_central, sk, q, 2);
    s_order_confirmed(5000, s_central, sk, q, 2);
    s_wait_orders_applied();
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.shipments WHERE order_id = 5000"), 1);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM logistics.outbox WHERE type = 'ShipmentRequested'"),
        1);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id = 5000"
                            " AND status = 'confirmed'"),
        1);
    int64_t id = s_shipment_of(5000);
    assert_true(id > 0);
    //  Replay the whole orders stream: nothing doubles.
    int64_t head = kth_sql_i64f(s_set, "SELECT max(seq) FROM orders.outbox");
    int64_t shipments = kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.shipments");
    int64_t events = kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.outbox");
    int64_t applied = s_applied_metric();
    kth_sql_exec(s_set,
                 "UPDATE logistics.event_offsets SET last_seq = 0 WHERE producer = 'orders'");
    //  The consumer notices at its next event (its offset no longer matches)
    //  and applies the stream again from the start.
    Kontor__Orders__OrderCancelled noise = KONTOR__ORDERS__ORDER_CANCELLED__INIT;
    kth_outbox(s_set, "orders", "OrdersNoise", &noise.base);
    assert_true(
        kth_wait_sqlf(s_set, head + 1, S_WAIT_MS,
                      "SELECT last_seq FROM logistics.event_offsets WHERE producer = 'orders'"));
    //  Every event went through the handlers again (and one new one).
    assert_true(s_applied_metric() >= applied + head + 1);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.shipments"), shipments);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.outbox"), events);
    //  Picking, dispatch (on hand and reserved go down), delivery.
    kt_client_t *logistician = kth_client(s_set, "logistician-1");
    assert_int_equal(s_update_shipment(logistician, id, KONTOR__LOGISTICS__SHIPMENT_STATUS__PICKING),
                     KT_OK);
    assert_int_equal(s_reserved(s_central, 21), 5);
    assert_int_equal(
        s_update_shipment(logistician, id, KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED), KT_OK);
    assert_int_equal(s_on_hand(s_central, 21), 45);
    assert_int_equal(s_reserved(s_central, 21), 0);
    assert_int_equal(s_on_hand(s_central, 22), 48);
    assert_int_equal(s_reserved(s_central, 22), 0);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id = 5000"
                            " AND status = 'consumed'"),
        1);
    //  Reported again: the same answer, nothing moves twice.
    assert_int_equal(
        s_update_shipment(logistician, id, KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED), KT_OK);
    assert_int_equal(s_on_hand(s_central, 21), 45);
    //  ShipmentDispatched carries the order's prices.
    static const kt_stmt_t last_dispatched = {
        "it_last_dispatched",
        "SELECT payload FROM logistics.outbox WHERE type = 'ShipmentDispatched'"
        " ORDER BY id DESC LIMIT 1",
        0};
    PGresult *res = kt_pg_exec(kth_admin(s_set), &last_dispatched, NULL);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 1);
    size_t len = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *) PQgetvalue(res, 0, 0), &len);
    PQclear(res);
    Kontor__Logistics__ShipmentDispatched *sd = kontor__logistics__shipment_dispatched__unpack(
        NULL, len, bytes);
    PQfreemem(bytes);
    assert_non_null(sd);
    assert_int_equal(sd->shipment->order_id, 5000);
    assert_int_equal(sd->shipment->n_lines, 2);
    assert_int_equal(sd->shipment->lines[0]->unit_price, 121);
    assert_string_equal(sd->shipment->currency, "EUR");
    assert_int_equal(sd->shipment->status, KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED);
    kontor__logistics__shipment_dispatched__free_unpacked(sd, NULL);
    kt_client_t *wms = kth_client(s_set, "wms-1");
    assert_int_equal(s_update_shipment(wms, id, KONTOR__LOGISTICS__SHIPMENT_STATUS__DELIVERED),
                     KT_OK);
    //  delivered -> picking is not a way a shipment goes.
    char *before = s_state();
    assert_int_equal(s_update_shipment(wms, id, KONTOR__LOGISTICS__SHIPMENT_STATUS__PICKING),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "status", "invalid_transition");
    char *after = s_state();
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM logistics.outbox WHERE type = 'ShipmentDelivered'"),
        1);
    //  A manager reads it, an accountant too; a manager may not update it.
    kt_client_t *manager = kth_client(s_set, "manager-1");
    Kontor__Logistics__GetShipmentRequest get = KONTOR__LOGISTICS__GET_SHIPMENT_REQUEST__INIT;
    get.order_id = 5000;
    Kontor__Logistics__ShipmentReply *got = NULL;
    assert_int_equal(s_call(manager, "GetShipment", &get.base,
                            &kontor__logistics__shipment_reply__descriptor,
                            (ProtobufCMessage **) &got, NULL),
                     KT_OK);
    assert_int_equal(got->shipment->status, KONTOR__LOGISTICS__SHIPMENT_STATUS__DELIVERED);
    kt_msg_free(&got->base);
    assert_int_equal(s_update_shipment(manager, id, KONTOR__LOGISTICS__SHIPMENT_STATUS__FAILED),
                     KT_PERMISSION_DENIED);
    kt_client_destroy(&manager);

    //  Discrepancies against the delivered shipment.
    Kontor__Logistics__RecordDiscrepancyRequest rd =
        KONTOR__LOGISTICS__RECORD_DISCREPANCY_REQUEST__INIT;
    Kontor__Logistics__DiscrepancyLine dl = KONTOR__LOGISTICS__DISCREPANCY_LINE__INIT;
    Kontor__Logistics__DiscrepancyLine *dlp = &dl;
    rd.shipment_id = id;
    rd.kind = KONTOR__LOGISTICS__DISCREPANCY_KIND__SHORTAGE;
    rd.n_lines = 1;
    rd.lines = &dlp;
    dl.sku = 21;
    dl.qty = 9;
    assert_int_equal(s_call(logistician, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor, NULL,
                            "disc-0"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    dl.qty = 0;
    assert_int_equal(s_call(logistician, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor, NULL,
                            "disc-0b"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].qty", NULL);
    dl.qty = 2;
    Kontor__Logistics__RecordDiscrepancyReply *act = NULL;
    assert_int_equal(s_call(logistician, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor,
                            (ProtobufCMessage **) &act, "disc-1"),
                     KT_OK);
    assert_int_equal(act->act->lines[0]->unit_price, 121);
    assert_int_equal(act->act->client_id, 77);
    kt_msg_free(&act->base);
    //  The same key again: one act.
    assert_int_equal(s_call(logistician, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor, NULL,
                            "disc-1"),
                     KT_OK);
    assert_int_equal(s_on_hand(s_central, 21), 47); //  the shortage never left
    //  A mis-sort: sku 23 went instead of 22.
    assert_int_equal(s_receive(s_admin, "rcv-ship-23", s_central, 23, 10), KT_OK);
    rd.kind = KONTOR__LOGISTICS__DISCREPANCY_KIND__MIS_SORT;
    dl.sku = 22;
    dl.qty = 1;
    assert_int_equal(s_call(logistician, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor, NULL,
                            "disc-2"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "lines[0].delivered_sku", NULL);
    dl.delivered_sku = 23;
    assert_int_equal(s_call(logistician, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor, NULL,
                            "disc-3"),
                     KT_OK);
    assert_int_equal(s_on_hand(s_central, 22), 49);
    assert_int_equal(s_on_hand(s_central, 23), 9);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM logistics.outbox WHERE type = 'DiscrepancyRecorded'"),
        2);
    //  An external system may not record acts.
    assert_int_equal(s_call(wms, "RecordDiscrepancy", &rd.base,
                            &kontor__logistics__record_discrepancy_reply__descriptor, NULL,
                            "disc-4"),
                     KT_PERMISSION_DENIED);
    kt_client_destroy(&wms);
    kt_client_destroy(&logistician);
}

static void test_order_cancelled_cancels_shipment_and_releases(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-cancel", s_central, 24, 20), KT_OK);
    int64_t sk[] = {24}, q[] = {6};
    assert_int_equal(s_reserve(s_orders, 5100, s_central, 0, sk, q, 1, NULL), KT_OK);
    s_order_confirmed(5100, s_central, sk, q, 1);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM logistics.shipments WHERE order_id = 5100"));
    assert_int_equal(s_reserved(s_central, 24), 6);
    s_order_cancelled(5100);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM logistics.shipments WHERE order_id = 5100"
                              " AND status = 'cancelled'"));
    assert_int_equal(s_reserved(s_central, 24), 0);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id = 5100"
                            " AND status = 'released'"),
        1);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM logistics.outbox WHERE type = 'ShipmentCancelled'"),
        1);
    //  A cancelled shipment cannot be dispatched.
    assert_int_equal(s_update_shipment(s_admin, s_shipment_of(5100),
                                       KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "status", "invalid_transition");
}

static void test_transfer_shows_as_arrival_until_received(void **state)
{
    assert_int_equal(s_receive(s_admin, "rcv-tr", s_central, 25, 40), KT_OK);
    Kontor__Logistics__RequestTransferRequest rt = KONTOR__LOGISTICS__REQUEST_TRANSFER_REQUEST__INIT;
    Kontor__Logistics__StockLine line = KONTOR__LOGISTICS__STOCK_LINE__INIT;
    Kontor__Logistics__StockLine *lp = &line;
    line.sku = 25;
    line.qty = 15;
    rt.from_warehouse_id = s_branch;
    rt.to_warehouse_id = s_central;
    rt.n_lines = 1;
    rt.lines = &lp;
    char date[16];
    time_t later = time(NULL) + 3 * 86400;
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&later));
    rt.expected_date = date;
    kt_client_t *manager = kth_client(s_set, "manager-1");
    //  From a branch: refused.
    assert_int_equal(s_call(manager, "RequestTransfer", &rt.base,
                            &kontor__logistics__transfer_reply__descriptor, NULL, "tr-0"),
                     KT_INVALID_ARGUMENT);
    s_expect(KT_INVALID_ARGUMENT, "from_warehouse_id", NULL);
    rt.from_warehouse_id = s_central;
    rt.to_warehouse_id = s_branch;
    line.qty = 41;
    assert_int_equal(s_call(manager, "RequestTransfer", &rt.base,
                            &kontor__logistics__transfer_reply__descriptor, NULL, "tr-1"),
                     KT_FAILED_PRECONDITION);
    s_expect(KT_FAILED_PRECONDITION, "lines[0].qty", "insufficient_stock");
    line.qty = 15;
    Kontor__Logistics__TransferReply *tr = NULL;
    assert_int_equal(s_call(manager, "RequestTransfer", &rt.base,
                            &kontor__logistics__transfer_reply__descriptor,
                            (ProtobufCMessage **) &tr, "tr-2"),
                     KT_OK);
    int64_t transfer = tr->transfer->transfer_id;
    kt_msg_free(&tr->base);
    kt_client_destroy(&manager);
    assert_int_equal(s_on_hand(s_central, 25), 25);
    //  The branch sees it coming, in transit, on the date.
    Kontor__Logistics__AvailabilityRequest av = KONTOR__LOGISTICS__AVAILABILITY_REQUEST__INIT;
    int64_t skus[] = {25};
    av.n_skus = 1;
    av.skus = skus;
    av.warehouse_id = s_branch;
    Kontor__Logistics__AvailabilityReply *rep = NULL;
    assert_int_equal(s_call(s_orders, "Availability", &av.base,
                            &kontor__logistics__availability_reply__descriptor,
                            (ProtobufCMessage **) &rep, NULL),
                     KT_OK);
    assert_int_equal(rep->items[0]->available, 0);
    assert_int_equal(rep->items[0]->n_arrivals, 1);
    assert_int_equal(rep->items[0]->arrivals[0]->qty, 15);
    assert_true(rep->items[0]->arrivals[0]->in_transit);
    assert_string_equal(rep->items[0]->arrivals[0]->date, date);
    kt_msg_free(&rep->base);
    Kontor__Logistics__ReceiveTransferRequest rcv = KONTOR__LOGISTICS__RECEIVE_TRANSFER_REQUEST__INIT;
    rcv.transfer_id = transfer;
    assert_int_equal(s_call(s_admin, "ReceiveTransfer", &rcv.base,
                            &kontor__logistics__transfer_reply__descriptor, NULL, NULL),
                     KT_OK);
    assert_int_equal(s_call(s_admin, "ReceiveTransfer", &rcv.base,
                            &kontor__logistics__transfer_reply__descriptor, NULL, NULL),
                     KT_OK);
    assert_int_equal(s_on_hand(s_branch, 25), 15);
    assert_int_equal(s_call(s_orders, "Availability", &av.base,
                            &kontor__logistics__availability_reply__descriptor,
                            (ProtobufCMessage **) &rep, NULL),
                     KT_OK);
    assert_int_equal(rep->items[0]->available, 15);
    assert_int_equal(rep->items[0]->n_arrivals, 0);
    kt_msg_free(&rep->base);
}

static void test_availability_lines_warehouses_arrivals_analogs(void **state)
{
    //  1001 is out of stock; its analogs 1002 (free) and 1003 (all reserved).
    assert_int_equal(s_receive(s_admin, "rcv-an-2", s_central, 1002, 30), KT_OK);
    assert_int_equal(s_receive(s_admin, "rcv-an-2b", s_branch, 1002, 5), KT_OK);
    assert_int_equal(s_receive(s_admin, "rcv-an-3", s_central, 1003, 4), KT_OK);
    int64_t sk[] = {1003}, q[] = {4};
    assert_int_equal(s_reserve(s_orders, 6000, s_central, 0, sk, q, 1, NULL), KT_OK);
    Kontor__Logistics__ExpectArrivalRequest ea = KONTOR__LOGISTICS__EXPECT_ARRIVAL_REQUEST__INIT;
    char date[16];
    time_t later = time(NULL) + 10 * 86400;
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&later));
    ea.sku = 1001;
    ea.warehouse_id = s_central;
    ea.qty = 100;
    ea.date = date;
    assert_int_equal(s_call(s_admin, "ExpectArrival", &ea.base,
                            &kontor__logistics__expect_arrival_reply__descriptor, NULL, "ea-ok"),
                     KT_OK);
    Kontor__Logistics__AvailabilityRequest av = KONTOR__LOGISTICS__AVAILABILITY_REQUEST__INIT;
    int64_t skus[] = {1001, 1002};
    av.n_skus = 2;
    av.skus = skus;
    Kontor__Logistics__AvailabilityReply *rep = NULL;
    kt_client_t *manager = kth_client(s_set, "manager-2");
    assert_int_equal(s_call(manager, "Availability", &av.base,
                            &kontor__logistics__availability_reply__descriptor,
                            (ProtobufCMessage **) &rep, NULL),
                     KT_OK);
    kt_client_destroy(&manager);
    assert_int_equal(rep->n_items, 2);
    Kontor__Logistics__SkuAvailability *a = rep->items[0], *b = rep->items[1];
    assert_int_equal(a->sku, 1001);
    assert_string_equal(a->name, "P1001");
    assert_int_equal(a->available, 0);
    assert_int_equal(a->n_arrivals, 1);
    assert_string_equal(a->arrivals[0]->date, date);
    assert_false(a->arrivals[0]->in_transit);
    assert_int_equal(a->n_analogs, 1); //  1002 only: 1003 has nothing free
    assert_int_equal(a->analogs[0]->sku, 1002);
    assert_int_equal(a->analogs[0]->available, 35);
    assert_int_equal(b->available, 35);
    assert_int_equal(b->n_warehouses, 2);
    kt_msg_free(&rep->base);
}

//  Reservers running while Redis is flushed.
static void test_redis_flushall_cache_whole_again(void **state)
{
    kt_redis_t *redis = s_redis();
    assert_true(kth_wait_for(s_cache_matches, redis, S_WAIT_MS));
    const int64_t first = 31;
    for (int i = 0; i < S_SKUS; i++) {
        char key[32];
        snprintf(key, sizeof key, "rcv-flush-%d", i);
        assert_int_equal(s_receive(s_admin, key, s_central, first + i, 1000), KT_OK);
    }
    enum { N = 4 };
    s_storm_t t[N];
    pthread_t th[N];
    atomic_bool stop = false;
    for (int i = 0; i < N; i++)
        t[i] = (s_storm_t){.client = kth_client(s_set, "orders"),
                           .index = 50 + i,
                           .warehouse = s_central,
                           .first_sku = first,
                           .hold = 1,
                           .end_ms = kt_now_ms() + 60000,
                           .stop = &stop};
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, s_storm_thread, &t[i]);
    const char *flush[] = {"FLUSHALL"};
    for (int round = 0; round < 3; round++) {
        struct timespec nap = {0, 300 * 1000000L};
        nanosleep(&nap, NULL); //  let the reservers run: load, not a wait for a condition
        assert_int_equal(kt_redis_command(redis, 1, flush, NULL), 0);
    }
    //  Still under load, the marker comes back and the cache is rebuilt.
    char marker[128];
    int64_t t0 = kt_now_ms();
    while (kt_redis_get(redis, "kontor:avail-built", marker, sizeof marker) != 1
           && kt_now_ms() - t0 < S_WAIT_MS) {
        struct timespec nap = {0, 20 * 1000000L};
        nanosleep(&nap, NULL);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        free(t[i].ok_orders);
        kt_client_destroy(&t[i].client);
    }
    //  Quiet: every field equals PostgreSQL within a few seconds.
    t0 = kt_now_ms();
    assert_true(kth_wait_for(s_cache_matches, redis, 5000));
    print_message("# cache matched PostgreSQL %lld ms after the load stopped\n",
                  (long long) (kt_now_ms() - t0));
    //  And the held reservations expire back to nothing reserved.
    assert_true(kth_wait_sqlf(
        s_set, 0, S_WAIT_MS,
        "SELECT coalesce(sum(reserved), 0) FROM logistics.stock WHERE sku BETWEEN 31 AND 40"));
    assert_true(kth_wait_for(s_cache_matches, redis, 5000));
    kt_redis_destroy(&redis);
}

//  ---------------------------------------------------------------- kill -9

static pid_t s_second;

static int s_crash_setup(void **state)
{
    s_set = kth_set_new("logistics_crash");
    kth_start_bus(s_set);
    kth_start_service(s_set, "orders", 1);
    kth_start_service(s_set, "logistics", 3);
    s_second = kth_start_service(s_set, "logistics", 3);
    s_admin = kth_client(s_set, "admin");
    s_orders = kth_client(s_set, "orders");
    s_central = s_warehouse("CENTRAL", KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL);
    s_products(11, S_SKUS, "");
    return 0;
}

static void test_kill_9_mid_storm_keeps_invariants(void **state)
{
    const int64_t first = 11;
    for (int i = 0; i < S_SKUS; i++) {
        char key[32];
        snprintf(key, sizeof key, "rcv-crash-%d", i);
        assert_int_equal(s_receive(s_admin, key, s_central, first + i, 300), KT_OK);
    }
    s_storm_t t[S_CALLERS];
    pthread_t th[S_CALLERS];
    atomic_bool stop = false;
    int64_t end = kt_now_ms() + S_CRASH_STORM_MS;
    for (int i = 0; i < S_CALLERS; i++)
        t[i] = (s_storm_t){.client = kth_client(s_set, "orders"),
                           .index = i,
                           .warehouse = s_central,
                           .first_sku = first,
                           .hold = 2,
                           .retry = true,
                           .end_ms = end,
                           .stop = &stop};
    for (int i = 0; i < S_CALLERS; i++)
        pthread_create(&th[i], NULL, s_storm_thread, &t[i]);
    //  Part way: kill -9 one instance, holding requests and transactions.
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT (count(*) >= 200)::int FROM logistics.reservations"));
    kth_signal(s_set, s_second, SIGKILL);
    int ok = 0, attempts = 0;
    int64_t *all_ok = calloc(S_CALLERS * 100000, sizeof *all_ok);
    int n_all = 0;
    for (int i = 0; i < S_CALLERS; i++) {
        pthread_join(th[i], NULL);
        ok += t[i].ok;
        attempts += t[i].attempts;
        for (int k = 0; k < t[i].n_ok_orders; k++)
            all_ok[n_all++] = t[i].ok_orders[k];
        free(t[i].ok_orders);
        kt_client_destroy(&t[i].client);
    }
    print_message("# crash storm: %d attempts, %d reserved\n", attempts, ok);
    assert_true(ok > 0);
    //  While held: reserved = the sum of live reservations, 0 <= reserved <= on hand.
    assert_int_equal(
        kth_sql_i64f(
            s_set, "SELECT count(*) FROM logistics.stock WHERE reserved < 0 OR reserved > on_hand"),
        0);
    //  Every reservation answered OK exists, once.
    for (int k = 0; k < n_all; k++)
        assert_int_equal(
            kth_sql_i64f(s_set, "SELECT count(*) FROM logistics.reservations WHERE order_id = %lld",
                         (long long)all_ok[k]),
            1);
    free(all_ok);
    //  After expiry (the surviving sweeper): nothing held, stock whole.
    assert_true(kth_wait_sqlf(s_set, 0, S_WAIT_MS,
                              "SELECT count(*) FROM logistics.reservations WHERE status = 'held'"));
    assert_int_equal(kth_sql_i64f(s_set, "SELECT coalesce(sum(reserved), 0) FROM logistics.stock"),
                     0);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT sum(on_hand) FROM logistics.stock"), 300 * S_SKUS);
    //  The killed instance comes back and serves.
    s_second = kth_start_service(s_set, "logistics", 2);
    int64_t sk[] = {first}, q[] = {1};
    assert_int_equal(s_reserve(s_orders, 999999999, s_central, 0, sk, q, 1, NULL), KT_OK);
    assert_int_equal(s_reserved(s_central, first), 1);
}

//  ---------------------------------------------------------------- the WMS example

static int s_wms_setup(void **state)
{
    s_set = kth_set_new("logistics_wms");
    kth_start_bus(s_set);
    kth_start_service(s_set, "orders", 1);
    kth_start_service(s_set, "logistics", 2);
    s_admin = kth_client(s_set, "admin");
    s_orders = kth_client(s_set, "orders");
    s_central = s_warehouse("CENTRAL", KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL);
    s_products(1, 5, "");
    for (int i = 1; i <= 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "rcv-wms-%d", i);
        assert_int_equal(s_receive(s_admin, key, s_central, i, 100), KT_OK);
    }
    return 0;
}

static void test_wms_example_ships_and_catches_up(void **state)
{
    char offset[1024];
    snprintf(offset, sizeof offset, "%s/wms.offset", kth_home(s_set));
    const char *argv[] = {"--offset-file", offset, NULL};
    pid_t wms = kth_spawn(s_set, "wms-1", "kontor-wms-example", argv);
    int64_t sk[] = {1, 2}, q[] = {3, 4};
    assert_int_equal(s_reserve(s_orders, 7000, s_central, 0, sk, q, 2, NULL), KT_OK);
    s_order_confirmed(7000, s_central, sk, q, 2);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM logistics.shipments WHERE order_id = 7000"
                              " AND status = 'delivered'"));
    assert_int_equal(s_on_hand(s_central, 1), 97);
    assert_int_equal(s_reserved(s_central, 1), 0);
    //  Killed; two orders confirmed while it is down; started again, it
    //  catches up from its offset and ships them, and 7000 is not shipped twice.
    kth_signal(s_set, wms, SIGKILL);
    int64_t sk2[] = {3}, q2[] = {5};
    assert_int_equal(s_reserve(s_orders, 7001, s_central, 0, sk2, q2, 1, NULL), KT_OK);
    s_order_confirmed(7001, s_central, sk2, q2, 1);
    s_order_confirmed(7002, s_central, sk2, q2, 1);
    assert_true(
        kth_wait_sqlf(s_set, 2, S_WAIT_MS,
                      "SELECT count(*) FROM logistics.shipments WHERE order_id IN (7001, 7002)"
                      " AND status = 'requested'"));
    wms = kth_spawn(s_set, "wms-1", "kontor-wms-example", argv);
    assert_true(kth_wait_sqlf(
        s_set, 3, S_WAIT_MS,
        "SELECT count(*) FROM logistics.shipments WHERE order_id BETWEEN 7000 AND 7002"
        " AND status = 'delivered'"));
    assert_int_equal(s_on_hand(s_central, 3), 90);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT coalesce(sum(reserved), 0) FROM logistics.stock"),
                     0);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT -sum(delta) FROM logistics.stock_moves WHERE kind = 'dispatch'"),
        3 + 4 + 5 + 5);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM logistics.outbox WHERE type = 'ShipmentDispatched'"),
        3);
    assert_int_equal(kth_signal(s_set, wms, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest main_tests[] = {
        cmocka_unit_test(test_receive_adjust_and_journal),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_reserve_twice_reserves_once),
        cmocka_unit_test(test_same_reservation_in_parallel_reserves_once),
        cmocka_unit_test(test_expiry_returns_stock_and_confirm_keeps_it),
        cmocka_unit_test(test_concurrent_reservers_keep_stock_consistent),
        cmocka_unit_test(test_order_confirmed_makes_one_shipment_and_dispatch_consumes),
        cmocka_unit_test(test_order_cancelled_cancels_shipment_and_releases),
        cmocka_unit_test(test_transfer_shows_as_arrival_until_received),
        cmocka_unit_test(test_availability_lines_warehouses_arrivals_analogs),
        cmocka_unit_test(test_redis_flushall_cache_whole_again),
    };
    const struct CMUnitTest crash_tests[] = {
        cmocka_unit_test(test_kill_9_mid_storm_keeps_invariants),
    };
    const struct CMUnitTest wms_tests[] = {
        cmocka_unit_test(test_wms_example_ships_and_catches_up),
    };
    int failed = cmocka_run_group_tests_name("logistics", main_tests, s_setup, s_teardown);
    failed += cmocka_run_group_tests_name("logistics_crash", crash_tests, s_crash_setup,
                                          s_teardown);
    failed += cmocka_run_group_tests_name("logistics_wms", wms_tests, s_wms_setup, s_teardown);
    return failed ? 1 : 0;
}
