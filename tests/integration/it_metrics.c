/*  it_metrics - what ops teams read on every process's /metrics, over HTTP,
 *  against a real set (bus, clients, orders, logistics, receivables).
 *
 *  1. The families the issue lists are exported by every process they
 *     apply to: requests by method and status, latency histograms by
 *     method, requests in flight, database pool and query latency, Redis
 *     hits, misses and errors (the services that use Redis), outbox backlog
 *     and consumer lag, reservations held and expired, process memory and
 *     uptime; the bus's own by service.
 *  2. Stock reservations: one held, one confirmed, one left to run out (a
 *     one-second hold): logistics_reservations{state} shows 1 held and 1
 *     confirmed once the keeper has counted, and
 *     logistics_reservations_expired_total counts the expired one.
 *  3. Credit: the same three on receivables
 *     (receivables_credit_reservations{state},
 *     receivables_credit_reservations_expired_total), then a client with an
 *     invoice long overdue put on credit hold by RunDunning:
 *     receivables_credit_holds (gauge) and receivables_credit_holds_total
 *     (counter) both move to 1, and a second run places no second hold.
 *  Waiting is on the metric's value (kth_wait_for), never on a clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_harness.h"
#include "kt_status.h"
#include "logistics.pb-c.h"
#include "receivables.pb-c.h"

#define S_WAIT_MS 20000             //  gauges are refreshed every 5 s
#define S_DAY_MS 86400000LL

static kth_set_t *s_set;
static pid_t s_bus, s_clients, s_orders, s_logistics, s_receivables;

//  ---------------------------------------------------------------- helpers

static int s_call_key(const char *principal, const char *service, const char *method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                      ProtobufCMessage **out, const char *idem_key)
{
    kt_client_t *client = kth_client(s_set, principal);
    ProtobufCMessage *got = NULL;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = 15000, .idem_key = idem_key};
    int status = kt_client_call(client, service, method, req, desc, &got, &opts, &reply);
    if (status != KT_OK)
        print_message("# %s.%s: %s %s %s\n", service, method, kt_status_name(status),
                      reply.field, reply.message);
    kt_reply_clear(&reply);
    kt_client_destroy(&client);
    if (out)
        *out = got;
    else
        kt_msg_free(got);
    return status;
}

static int s_call(const char *principal, const char *service, const char *method,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out)
{
    return s_call_key(principal, service, method, req, desc, out, NULL);
}

typedef struct {
    int port;
    const char *prefix;
    int64_t want;
    int64_t last;
} s_exact_t;

static bool s_is_exact(void *arg)
{
    s_exact_t *x = arg;
    x->last = kth_metric(x->port, x->prefix);
    return x->last == x->want;
}

//  Wait until the series `prefix` on the process's /metrics is exactly `want`.
static bool s_wait_exact(pid_t pid, const char *prefix, int64_t want)
{
    s_exact_t x = {kth_http_port(s_set, pid), prefix, want, 0};
    if (kth_wait_for(s_is_exact, &x, S_WAIT_MS))
        return true;
    print_message("# %s is %lld, wanted %lld\n", prefix, (long long) x.last, (long long) want);
    return false;
}

//  Does the process's /metrics have a line starting with `prefix`?
static bool s_has(const char *body, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = body; line && *line;) {
        if (strncmp(line, prefix, n) == 0)
            return true;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return false;
}

static void s_expect_families(pid_t pid, const char *name, const char *const *families)
{
    char *body = NULL;
    assert_int_equal(kth_http_get(kth_http_port(s_set, pid), "/metrics", &body), 200);
    int missing = 0;
    for (int i = 0; families[i]; i++)
        if (!s_has(body, families[i])) {
            print_message("# %s: no series starting with %s\n", name, families[i]);
            missing++;
        }
    free(body);
    assert_int_equal(missing, 0);
}

//  ---------------------------------------------------------------- setup

static int s_setup(void **state)
{
    s_set = kth_set_new("metrics");
    kth_set_env(s_set, "KONTOR_DUNNING_DAILY", "0");
    kth_set_env(s_set, "KONTOR_RECEIVABLES_SWEEP_MS", "200");
    s_bus = kth_start_bus(s_set);
    s_clients = kth_start_service(s_set, "clients", 1);
    s_orders = kth_start_service(s_set, "orders", 1);
    s_logistics = kth_start_service(s_set, "logistics", 2);
    s_receivables = kth_start_service(s_set, "receivables", 2);
    *state = s_set;
    return 0;
}

//  ---------------------------------------------------------------- stock

static int s_reserve_stock(int64_t order, int64_t wh, uint32_t hold_s)
{
    Kontor__Logistics__StockLine line = KONTOR__LOGISTICS__STOCK_LINE__INIT;
    Kontor__Logistics__StockLine *lp = &line;
    line.sku = 1;
    line.qty = 2;
    Kontor__Logistics__ReserveStockRequest req = KONTOR__LOGISTICS__RESERVE_STOCK_REQUEST__INIT;
    req.order_id = order;
    req.warehouse_id = wh;
    req.hold_seconds = hold_s;
    req.n_lines = 1;
    req.lines = &lp;
    return s_call("orders", "logistics", "ReserveStock", &req.base,
                  &kontor__logistics__reserve_stock_reply__descriptor, NULL);
}

static void test_stock_reservations_held_confirmed_expired(void **state)
{
    (void) state;
    //  A warehouse, a product, stock.
    Kontor__Logistics__UpsertWarehouseRequest wr =
        KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REQUEST__INIT;
    wr.code = "CENTRAL";
    wr.name = "Central";
    wr.kind = KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL;
    wr.branch_id = 1;
    wr.address = "Main street 1";
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("admin", "logistics", "UpsertWarehouse", &wr.base,
                            &kontor__logistics__upsert_warehouse_reply__descriptor, &out),
                     KT_OK);
    int64_t wh = ((Kontor__Logistics__UpsertWarehouseReply *) out)->warehouse->warehouse_id;
    kt_msg_free(out);
    Kontor__Logistics__Product p = KONTOR__LOGISTICS__PRODUCT__INIT;
    Kontor__Logistics__Product *pp = &p;
    p.sku = 1;
    p.name = "P1";
    p.unit = "pcs";
    p.weight_g = 250;
    p.storage = "dry";
    p.analog_group = "";
    Kontor__Logistics__UpsertProductRequest pr = KONTOR__LOGISTICS__UPSERT_PRODUCT_REQUEST__INIT;
    pr.n_products = 1;
    pr.products = &pp;
    assert_int_equal(s_call("admin", "logistics", "UpsertProduct", &pr.base,
                            &kontor__logistics__upsert_product_reply__descriptor, NULL),
                     KT_OK);
    Kontor__Logistics__StockLine line = KONTOR__LOGISTICS__STOCK_LINE__INIT;
    Kontor__Logistics__StockLine *lp = &line;
    line.sku = 1;
    line.qty = 100;
    Kontor__Logistics__ReceiveRequest rr = KONTOR__LOGISTICS__RECEIVE_REQUEST__INIT;
    rr.warehouse_id = wh;
    rr.n_lines = 1;
    rr.lines = &lp;
    assert_int_equal(s_call_key("admin", "logistics", "Receive", &rr.base,
                                &kontor__logistics__stock_reply__descriptor, NULL, "it-metrics-1"),
                     KT_OK);

    //  Nothing held yet: the gauges are there, at 0.
    assert_true(s_wait_exact(s_logistics, "logistics_reservations{state=\"held\"} ", 0));
    assert_true(s_wait_exact(s_logistics, "logistics_reservations{state=\"confirmed\"} ", 0));
    assert_true(s_wait_exact(s_logistics, "logistics_reservations_expired_total ", 0));

    //  One held for an hour, one confirmed, one held for a second.
    assert_int_equal(s_reserve_stock(101, wh, 3600), KT_OK);
    assert_int_equal(s_reserve_stock(102, wh, 3600), KT_OK);
    Kontor__Logistics__ReservationRequest cr = KONTOR__LOGISTICS__RESERVATION_REQUEST__INIT;
    cr.order_id = 102;
    assert_int_equal(s_call("orders", "logistics", "ConfirmReservation", &cr.base,
                            &kontor__logistics__reservation_reply__descriptor, NULL),
                     KT_OK);
    assert_int_equal(s_reserve_stock(103, wh, 1), KT_OK);

    //  The sweeper expires the short one and counts it; the gauges follow.
    assert_true(s_wait_exact(s_logistics, "logistics_reservations_expired_total ", 1));
    assert_true(s_wait_exact(s_logistics, "logistics_reservations{state=\"held\"} ", 1));
    assert_true(s_wait_exact(s_logistics, "logistics_reservations{state=\"confirmed\"} ", 1));
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM logistics.reservations"
                                        " WHERE order_id = 103 AND status = 'expired'"),
                     1);
    //  Requests by method and status, and their latency, moved too.
    int port = kth_http_port(s_set, s_logistics);
    assert_true(kth_metric(port, "kontor_requests_total{method=\"ReserveStock\",status=\"OK\"} ")
                >= 3);
    assert_true(kth_metric(port, "kontor_request_seconds_count{method=\"ReserveStock\"} ") >= 3);
}

//  ---------------------------------------------------------------- credit

static void s_terms(int64_t client, int64_t limit, int payment_days, int grace_days)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = limit;
    m.currency = "EUR";
    Kontor__Clients__Terms t = KONTOR__CLIENTS__TERMS__INIT;
    t.client_id = client;
    t.price_column = "A";
    t.payment_days = payment_days;
    t.grace_days = grace_days;
    t.credit_limit = &m;
    t.status = KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE;
    t.manager_id = 2;
    t.branch_id = 1;
    t.version = 1;
    Kontor__Clients__TermsChanged ev = KONTOR__CLIENTS__TERMS_CHANGED__INIT;
    ev.terms = &t;
    ev.changed_by = "head-1";
    kth_outbox(s_set, "clients", "TermsChanged", &ev.base);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM receivables.accounts WHERE client_id = %lld"
                              " AND has_terms",
                              (long long) client));
}

static int s_reserve_credit(int64_t order, int64_t client, uint32_t hold_s)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = 1000;
    m.currency = "EUR";
    Kontor__Receivables__ReserveCreditRequest req =
        KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
    req.order_id = order;
    req.client_id = client;
    req.amount = &m;
    req.hold_seconds = hold_s;
    req.approved_by = "";
    return s_call("orders", "receivables", "ReserveCredit", &req.base,
                  &kontor__receivables__reserve_credit_reply__descriptor, NULL);
}

static int64_t s_run_dunning(void)
{
    Kontor__Receivables__RunDunningRequest req = KONTOR__RECEIVABLES__RUN_DUNNING_REQUEST__INIT;
    req.as_of = "";
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("accountant-1", "receivables", "RunDunning", &req.base,
                            &kontor__receivables__run_dunning_reply__descriptor, &out),
                     KT_OK);
    int64_t on = ((Kontor__Receivables__RunDunningReply *) out)->holds_on;
    kt_msg_free(out);
    return on;
}

static void test_credit_reservations_and_holds(void **state)
{
    (void) state;
    assert_true(s_wait_exact(s_receivables, "receivables_credit_reservations{state=\"held\"} ", 0));
    assert_true(
        s_wait_exact(s_receivables, "receivables_credit_reservations{state=\"confirmed\"} ", 0));
    assert_true(s_wait_exact(s_receivables, "receivables_credit_reservations_expired_total ", 0));
    assert_true(s_wait_exact(s_receivables, "receivables_credit_holds ", 0));
    assert_true(s_wait_exact(s_receivables, "receivables_credit_holds_total ", 0));

    //  Credit reservations: held, confirmed, one that runs out.
    s_terms(500, 1000000, 30, 5);
    assert_int_equal(s_reserve_credit(201, 500, 3600), KT_OK);
    assert_int_equal(s_reserve_credit(202, 500, 3600), KT_OK);
    Kontor__Receivables__CreditRequest cr = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
    cr.order_id = 202;
    cr.reason = "test";
    assert_int_equal(s_call("orders", "receivables", "ConfirmCredit", &cr.base,
                            &kontor__receivables__credit_reply__descriptor, NULL),
                     KT_OK);
    assert_int_equal(s_reserve_credit(203, 500, 1), KT_OK);
    assert_true(s_wait_exact(s_receivables, "receivables_credit_reservations_expired_total ", 1));
    assert_true(s_wait_exact(s_receivables, "receivables_credit_reservations{state=\"held\"} ", 1));
    assert_true(
        s_wait_exact(s_receivables, "receivables_credit_reservations{state=\"confirmed\"} ", 1));
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM receivables.credit_reservations"
                                        " WHERE order_id = 203 AND status = 'EXPIRED'"),
                     1);

    //  A client whose invoice fell due 50 days ago (10 payment days, 5 of
    //  grace), through logistics' ShipmentDispatched, goes on hold at the
    //  next dunning run.
    s_terms(600, 1000000, 10, 5);
    Kontor__Logistics__ShipmentLine sl = KONTOR__LOGISTICS__SHIPMENT_LINE__INIT;
    Kontor__Logistics__ShipmentLine *slp = &sl;
    sl.sku = 1;
    sl.qty = 1;
    sl.unit_price = 5000;
    Kontor__Logistics__Shipment sh = KONTOR__LOGISTICS__SHIPMENT__INIT;
    sh.shipment_id = 9001;
    sh.order_id = 9001;
    sh.client_id = 600;
    sh.warehouse_id = 1;
    sh.n_lines = 1;
    sh.lines = &slp;
    sh.currency = "EUR";
    sh.status = KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED;
    sh.changed_at_ms = (int64_t) zclock_time() - 60 * S_DAY_MS;
    Kontor__Logistics__ShipmentDispatched ev = KONTOR__LOGISTICS__SHIPMENT_DISPATCHED__INIT;
    ev.shipment = &sh;
    kth_outbox(s_set, "logistics", "ShipmentDispatched", &ev.base);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM receivables.invoices WHERE client_id = 600"));
    assert_int_equal(s_run_dunning(), 1);
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM receivables.accounts"
                                        " WHERE client_id = 600 AND on_hold"),
                     1);
    assert_true(s_wait_exact(s_receivables, "receivables_credit_holds_total ", 1));
    assert_true(s_wait_exact(s_receivables, "receivables_credit_holds ", 1));
    //  Running again places no second hold.
    assert_int_equal(s_run_dunning(), 0);
    assert_true(s_wait_exact(s_receivables, "receivables_credit_holds_total ", 1));
    int port = kth_http_port(s_set, s_receivables);
    assert_true(kth_metric(port, "kontor_requests_total{method=\"RunDunning\",status=\"OK\"} ")
                == 2);
}

//  ---------------------------------------------------------------- the list

static void test_every_process_exports_the_list(void **state)
{
    (void) state;
    //  Every process: memory and uptime (kt_metrics_render adds them).
    //  Every service: requests by method and status, latency by method, in
    //  flight, the database pool and query latency, outbox backlog (each
    //  has a relay); consumer lag for those that consume.
#define S_PROCESS "process_resident_memory_bytes ", "process_uptime_seconds ", \
                  "process_start_time_seconds ", "process_cpu_seconds_total "
#define S_SERVICE                                                                           \
    S_PROCESS, "kontor_requests_total{method=", "kontor_request_seconds_bucket{method=",     \
        "kontor_request_seconds_count{method=", "kontor_requests_in_flight ",               \
        "kontor_db_connections ", "kontor_db_busy ", "kontor_db_query_seconds_bucket{",     \
        "kontor_db_errors_total ", "kontor_outbox_backlog{", "kontor_events_published_total{"
#define S_REDIS "kontor_redis_hits_total ", "kontor_redis_misses_total ", "kontor_redis_errors_total "
#define S_CONSUMER "kontor_consumer_lag{", "kontor_events_applied_total{"
    const char *bus[] = {S_PROCESS,
                         "bus_requests_total{service=",
                         "bus_request_seconds_bucket{service=",
                         "bus_replies_total{service=",
                         "bus_workers ",
                         "bus_queued_requests ",
                         "bus_events_total ",
                         NULL};
    const char *clients[] = {S_SERVICE, S_CONSUMER, NULL};
    const char *orders[] = {S_SERVICE, S_REDIS, S_CONSUMER, NULL};
    const char *logistics[] = {S_SERVICE,
                               S_REDIS,
                               S_CONSUMER,
                               "logistics_reservations{state=\"held\"} ",
                               "logistics_reservations{state=\"confirmed\"} ",
                               "logistics_reservations_expired_total ",
                               NULL};
    const char *receivables[] = {S_SERVICE,
                                 S_CONSUMER,
                                 "receivables_credit_reservations{state=\"held\"} ",
                                 "receivables_credit_reservations{state=\"confirmed\"} ",
                                 "receivables_credit_reservations_expired_total ",
                                 "receivables_credit_holds ",
                                 "receivables_credit_holds_total ",
                                 NULL};
    s_expect_families(s_bus, "bus", bus);
    s_expect_families(s_clients, "clients", clients);
    s_expect_families(s_orders, "orders", orders);
    s_expect_families(s_logistics, "logistics", logistics);
    s_expect_families(s_receivables, "receivables", receivables);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock_reservations_held_confirmed_expired),
        cmocka_unit_test(test_credit_reservations_and_holds),
        cmocka_unit_test(test_every_process_exports_the_list),
    };
    return cmocka_run_group_tests_name("it_metrics", tests, s_setup, kth_teardown);
}
