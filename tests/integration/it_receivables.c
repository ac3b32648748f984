/*  it_receivables - the receivables service against a real PostgreSQL and bus.
 *
 *  Events of other services are fed the way their handlers would write
 *  them: the protobuf-packed payload inserted into <producer>.outbox as
 *  superuser, with that producer's process running so that its relay
 *  publishes them (clients: TermsChanged, ClientChanged; logistics:
 *  ShipmentDispatched, DiscrepancyRecorded; orders: ReturnRecorded). The
 *  invariants are checked in SQL; aging against a computation of its own
 *  over the rows. Waiting is on conditions (kth_wait_for), never on a clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_harness.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"
#include "receivables.pb-c.h"

#define S_WAIT_MS 30000
#define S_DAY_MS 86400000LL

static kth_set_t *s_set;
static pid_t s_rcv[2];

//  ---------------------------------------------------------------- helpers

//  A client for another thread: kth_use must have run on the main thread.
static kt_client_t *s_thread_client(void)
{
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "test", why, sizeof why) != 0)
        return NULL;
    return kt_client_new(&cfg);
}

//  Call receivables as `principal`; returns the status; *out (may be NULL)
//  gets the reply payload (caller frees with kt_msg_free), reply the envelope.
static int s_call_as(kt_client_t *client, const char *method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                     kt_reply_t *reply)
{
    ProtobufCMessage *got = NULL;
    kt_reply_t r;
    kt_call_opts_t opts = {.timeout_ms = 20000};
    int status = kt_client_call(client, "receivables", method, req, desc, &got, &opts, &r);
    if (out)
        *out = got;
    else
        kt_msg_free(got);
    if (reply)
        *reply = r;
    else
        kt_reply_clear(&r);
    return status;
}

static int s_call(const char *principal, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                  kt_reply_t *reply)
{
    kt_client_t *client = kth_client(s_set, principal);
    int status = s_call_as(client, method, req, desc, out, reply);
    kt_client_destroy(&client);
    return status;
}

//  Expect a refusal with this status and field (and reason, if not NULL).
static void s_expect(const char *principal, const char *method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, int status, const char *field,
                     const char *reason)
{
    kt_reply_t reply;
    int got = s_call(principal, method, req, desc, NULL, &reply);
    if (got != status || (field && strcmp(reply.field, field) != 0)
        || (reason && strcmp(reply.reason, reason) != 0))
        print_message("# %s: got %s field=%s reason=%s (%s); want %s field=%s reason=%s\n", method,
                      kt_status_name(got), reply.field, reply.reason, reply.message,
                      kt_status_name(status), field ? field : "", reason ? reason : "");
    assert_int_equal(got, status);
    if (field)
        assert_string_equal(reply.field, field);
    if (reason)
        assert_string_equal(reply.reason, reason);
    kt_reply_clear(&reply);
}

static void s_terms_event(int64_t client, int64_t limit, const char *currency, int pd, int gd,
                          int64_t manager, int64_t branch, int64_t version)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = limit;
    m.currency = (char *) currency;
    Kontor__Clients__Terms t = KONTOR__CLIENTS__TERMS__INIT;
    t.client_id = client;
    t.price_column = "A";
    t.payment_days = pd;
    t.grace_days = gd;
    t.credit_limit = &m;
    t.status = KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE;
    t.manager_id = manager;
    t.branch_id = branch;
    t.version = version;
    Kontor__Clients__TermsChanged ev = KONTOR__CLIENTS__TERMS_CHANGED__INIT;
    ev.terms = &t;
    ev.changed_by = "head-1";
    kth_outbox(s_set, "clients", "TermsChanged", &ev.base);
}

//  Terms through the clients stream, applied before returning.
static void s_terms(int64_t client, int64_t limit, int pd, int gd, int64_t manager,
                    int64_t branch)
{
    int64_t before =
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM receivables.credit_events WHERE client_id = %lld"
                     " AND kind = 'terms'",
                     (long long)client);
    s_terms_event(client, limit, "EUR", pd, gd, manager, branch, 0);
    assert_true(
        kth_wait_sqlf(s_set, before + 1, S_WAIT_MS,
                      "SELECT count(*) FROM receivables.credit_events WHERE client_id = %lld"
                      " AND kind = 'terms'",
                      (long long)client));
}

//  A dispatch of `n` lines (qty, price pairs) `days_ago` days back.
static void s_dispatch(int64_t shipment, int64_t order, int64_t client, int days_ago, int n,
                       const int64_t *qty, const int64_t *price)
{
    Kontor__Logistics__ShipmentLine lines[16];
    Kontor__Logistics__ShipmentLine *items[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        kontor__logistics__shipment_line__init(&lines[i]);
        lines[i].sku = 100 + i;
        lines[i].qty = qty[i];
        lines[i].unit_price = price[i];
        items[i] = &lines[i];
    }
    Kontor__Logistics__Shipment sh = KONTOR__LOGISTICS__SHIPMENT__INIT;
    sh.shipment_id = shipment;
    sh.order_id = order;
    sh.client_id = client;
    sh.warehouse_id = 1;
    sh.n_lines = (size_t) n;
    sh.lines = items;
    sh.currency = "EUR";
    sh.status = KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED;
    sh.changed_at_ms = (int64_t) zclock_time() - days_ago * S_DAY_MS;
    Kontor__Logistics__ShipmentDispatched ev = KONTOR__LOGISTICS__SHIPMENT_DISPATCHED__INIT;
    ev.shipment = &sh;
    kth_outbox(s_set, "logistics", "ShipmentDispatched", &ev.base);
}

static void s_dispatch1(int64_t shipment, int64_t order, int64_t client, int days_ago,
                        int64_t amount)
{
    int64_t qty = 1;
    s_dispatch(shipment, order, client, days_ago, 1, &qty, &amount);
}

static void s_wait_invoice(int64_t shipment)
{
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM receivables.invoices WHERE shipment_id = %lld",
                              (long long)shipment));
}

static int64_t s_invoice_of(int64_t shipment)
{
    return kth_sql_i64f(s_set, "SELECT id FROM receivables.invoices WHERE shipment_id = %lld",
                        (long long)shipment);
}

static void s_return_event(int64_t return_id, int64_t order, int64_t client, int64_t amount)
{
    Kontor__Orders__ReturnRecorded ev = KONTOR__ORDERS__RETURN_RECORDED__INIT;
    ev.return_id = return_id;
    ev.order_id = order;
    ev.client_id = client;
    ev.currency = "EUR";
    ev.amount = amount;
    ev.reason = KONTOR__ORDERS__RETURN_REASON__DEFECT;
    kth_outbox(s_set, "orders", "ReturnRecorded", &ev.base);
}

static void s_discrepancy_event(int64_t act, int64_t shipment, int64_t order, int64_t client,
                                int64_t qty, int64_t price)
{
    Kontor__Logistics__ShipmentLine line = KONTOR__LOGISTICS__SHIPMENT_LINE__INIT;
    Kontor__Logistics__ShipmentLine *items[] = {&line};
    line.sku = 100;
    line.qty = qty;
    line.unit_price = price;
    Kontor__Logistics__DiscrepancyRecorded ev = KONTOR__LOGISTICS__DISCREPANCY_RECORDED__INIT;
    ev.act_id = act;
    ev.shipment_id = shipment;
    ev.order_id = order;
    ev.client_id = client;
    ev.kind = KONTOR__LOGISTICS__DISCREPANCY_KIND__SHORTAGE;
    ev.n_lines = 1;
    ev.lines = items;
    ev.currency = "EUR";
    kth_outbox(s_set, "logistics", "DiscrepancyRecorded", &ev.base);
}

//  All events written so far by logistics and orders are applied.
static void s_drain(void)
{
    assert_true(kth_wait_sqlf(s_set, 0, S_WAIT_MS,
                              "SELECT (SELECT count(*) FROM logistics.outbox WHERE seq IS NULL)"
                              " + (SELECT count(*) FROM orders.outbox WHERE seq IS NULL)"
                              " + (SELECT count(*) FROM clients.outbox WHERE seq IS NULL)"));
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT (coalesce((SELECT last_seq FROM receivables.event_offsets"
                              "                   WHERE producer = 'logistics'), 0)"
                              "        = (SELECT last_seq FROM logistics.outbox_state))::int"
                              "     * (coalesce((SELECT last_seq FROM receivables.event_offsets"
                              "                   WHERE producer = 'orders'), 0)"
                              "        = (SELECT last_seq FROM orders.outbox_state))::int"
                              "     * (coalesce((SELECT last_seq FROM receivables.event_offsets"
                              "                   WHERE producer = 'clients'), 0)"
                              "        = (SELECT last_seq FROM clients.outbox_state))::int"));
}

static int s_reserve_as(kt_client_t *client, int64_t order, int64_t client_id, int64_t amount,
                        const char *currency, uint32_t hold_s, const char *approved_by,
                        Kontor__Receivables__ReserveCreditReply **out, kt_reply_t *reply)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = amount;
    m.currency = (char *) currency;
    Kontor__Receivables__ReserveCreditRequest req =
        KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
    req.order_id = order;
    req.client_id = client_id;
    req.amount = &m;
    req.hold_seconds = hold_s;
    req.approved_by = (char *) (approved_by ? approved_by : "");
    return s_call_as(client, "ReserveCredit", &req.base,
                     &kontor__receivables__reserve_credit_reply__descriptor,
                     (ProtobufCMessage **) out, reply);
}

static int s_reserve(int64_t order, int64_t client_id, int64_t amount)
{
    kt_client_t *c = kth_client(s_set, "orders");
    int status = s_reserve_as(c, order, client_id, amount, "EUR", 0, NULL, NULL, NULL);
    kt_client_destroy(&c);
    return status;
}

static int s_credit(const char *method, int64_t order, int *credit_status)
{
    Kontor__Receivables__CreditRequest req = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
    req.order_id = order;
    req.reason = "test";
    ProtobufCMessage *out = NULL;
    int status = s_call("orders", method, &req.base, &kontor__receivables__credit_reply__descriptor,
                        &out, NULL);
    if (credit_status)
        *credit_status = out ? (int) ((Kontor__Receivables__CreditReply *) out)->status : -1;
    kt_msg_free(out);
    return status;
}

static int s_pay_as(kt_client_t *client, int64_t client_id, int64_t amount, const char *currency,
                    const char *date, const char *reference, const int64_t *invoices, size_t n,
                    Kontor__Receivables__RecordPaymentReply **out, kt_reply_t *reply)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = amount;
    m.currency = (char *) currency;
    Kontor__Receivables__RecordPaymentRequest req =
        KONTOR__RECEIVABLES__RECORD_PAYMENT_REQUEST__INIT;
    req.client_id = client_id;
    req.amount = &m;
    req.date = (char *) (date ? date : "");
    req.reference = (char *) reference;
    req.n_invoice_ids = n;
    req.invoice_ids = (int64_t *) invoices;
    return s_call_as(client, "RecordPayment", &req.base,
                     &kontor__receivables__record_payment_reply__descriptor,
                     (ProtobufCMessage **) out, reply);
}

static int s_pay(int64_t client_id, int64_t amount, const char *date, const char *reference,
                 Kontor__Receivables__RecordPaymentReply **out)
{
    kt_client_t *c = kth_client(s_set, "accountant-1");
    int status = s_pay_as(c, client_id, amount, "EUR", date, reference, NULL, 0, out, NULL);
    kt_client_destroy(&c);
    return status;
}

static Kontor__Receivables__BalanceReply *s_balance(int64_t client_id)
{
    Kontor__Receivables__BalanceRequest req = KONTOR__RECEIVABLES__BALANCE_REQUEST__INIT;
    req.client_id = client_id;
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("accountant-1", "Balance", &req.base,
                            &kontor__receivables__balance_reply__descriptor, &out, NULL),
                     KT_OK);
    return (Kontor__Receivables__BalanceReply *) out;
}

//  The database's date `days` from today, as text (caller frees).
static char *s_date(int days)
{
    return kth_sql_valuef(s_set, "SELECT (current_date + %d)::text", days);
}

//  The money invariants, per client and in total, from the detail rows.
static void s_check_money(void)
{
    //  Per client: invoiced - paid - credited = open invoices - unapplied,
    //  from the detail rows; and the kept totals equal the detail sums.
    const char *per_client =
        "WITH i AS (SELECT client_id, sum(amount) AS invoiced, sum(open_amount) AS open"
        "             FROM receivables.invoices GROUP BY client_id),"
        "     s AS (SELECT client_id,"
        "                  sum(amount) FILTER (WHERE kind = 'payment' AND reversed_on IS NULL)"
        "                      AS paid,"
        "                  sum(amount) FILTER (WHERE kind = 'credit_note') AS credited,"
        "                  sum(unapplied) AS unapplied"
        "             FROM receivables.settlements GROUP BY client_id)"
        " SELECT count(*) FROM receivables.accounts a"
        "   LEFT JOIN i ON i.client_id = a.client_id LEFT JOIN s ON s.client_id = a.client_id"
        "  WHERE coalesce(i.invoiced, 0) - coalesce(s.paid, 0) - coalesce(s.credited, 0)"
        "          <> coalesce(i.open, 0) - coalesce(s.unapplied, 0)"
        "     OR a.invoiced <> coalesce(i.invoiced, 0) OR a.paid <> coalesce(s.paid, 0)"
        "     OR a.credited <> coalesce(s.credited, 0) OR a.open_amount <> coalesce(i.open, 0)"
        "     OR a.unapplied <> coalesce(s.unapplied, 0)";
    assert_int_equal(kth_sql_i64(s_set, per_client), 0);
    assert_int_equal(
        kth_sql_i64(s_set, "SELECT ((SELECT coalesce(sum(amount), 0) FROM receivables.invoices)"
                           " - (SELECT coalesce(sum(amount), 0) FROM receivables.settlements"
                           "     WHERE reversed_on IS NULL)"
                           " - (SELECT coalesce(sum(open_amount), 0) FROM receivables.invoices)"
                           " + (SELECT coalesce(sum(unapplied), 0) FROM receivables.settlements)"
                           ")::bigint"),
        0);
    //  Each invoice's open amount = amount - its live allocations; each
    //  settlement's unapplied = amount - its live allocations (0 if reversed).
    assert_int_equal(
        kth_sql_i64(s_set, "SELECT count(*) FROM receivables.invoices i"
                           " WHERE i.amount - i.open_amount <> (SELECT coalesce(sum(amount), 0)"
                           "   FROM receivables.allocations a"
                           "  WHERE a.invoice_id = i.id AND a.reversed_at IS NULL)"),
        0);
    assert_int_equal(
        kth_sql_i64(s_set, "SELECT count(*) FROM receivables.settlements s"
                           " WHERE s.reversed_on IS NULL AND s.amount - s.unapplied <>"
                           "   (SELECT coalesce(sum(amount), 0) FROM receivables.allocations a"
                           "     WHERE a.settlement_id = s.id AND a.reversed_at IS NULL)"),
        0);
    //  Reserved = live reservations; open_by_due = the open invoices.
    assert_int_equal(
        kth_sql_i64(s_set, "SELECT count(*) FROM receivables.accounts a WHERE a.reserved <>"
                           " (SELECT coalesce(sum(amount), 0) FROM receivables.credit_reservations r"
                           "   WHERE r.client_id = a.client_id AND r.status IN ('HELD','CONFIRMED'))"),
        0);
    assert_int_equal(
        kth_sql_i64(s_set,
                    "SELECT count(*) FROM (SELECT client_id, due_on, sum(open_amount) AS amt,"
                    "        count(*) AS n FROM receivables.invoices WHERE open_amount > 0"
                    "        GROUP BY 1, 2) i FULL JOIN receivables.open_by_due o"
                    "     ON o.client_id = i.client_id AND o.due_on = i.due_on"
                    " WHERE o.open_amount IS DISTINCT FROM i.amt::bigint"
                    "    OR o.open_count IS DISTINCT FROM i.n::int"),
        0);
}

//  ---------------------------------------------------------------- setup

static int s_setup(void **state)
{
    s_set = kth_set_new("receivables");
    kth_set_env(s_set, "KONTOR_DUNNING_DAILY", "0");
    kth_set_env(s_set, "KONTOR_RECEIVABLES_SWEEP_MS", "200");
    kth_start_bus(s_set);
    kth_start_service(s_set, "clients", 1);
    kth_start_service(s_set, "logistics", 1);
    kth_start_service(s_set, "orders", 1);
    s_rcv[0] = kth_start_service(s_set, "receivables", 4);
    s_rcv[1] = kth_start_service(s_set, "receivables", 4);
    *state = s_set; //  for kth_teardown
    return 0;
}

//  ---------------------------------------------------------------- terms and ownership

static void test_terms_from_clients_and_ownership(void **state)
{
    s_terms_event(100, 100000, "EUR", 30, 5, 2, 7, 5);
    assert_true(kth_wait_sqlf(
        s_set, 1, S_WAIT_MS,
        "SELECT count(*) FROM receivables.accounts WHERE client_id = 100 AND has_terms"));
    //  An older version changes nothing; a newer one does.
    s_terms_event(100, 1, "EUR", 1, 1, 3, 1, 4);
    s_terms_event(100, 200000, "EUR", 30, 5, 2, 7, 6);
    assert_true(
        kth_wait_sqlf(s_set, 200000, S_WAIT_MS,
                      "SELECT credit_limit FROM receivables.accounts WHERE client_id = 100"));
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT manager_id FROM receivables.accounts WHERE client_id = 100"),
        2);

    //  manager-1 (id 2) owns client 100; manager-2 (id 3) does not.
    Kontor__Receivables__BalanceRequest req = KONTOR__RECEIVABLES__BALANCE_REQUEST__INIT;
    req.client_id = 100;
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("manager-1", "Balance", &req.base,
                            &kontor__receivables__balance_reply__descriptor, &out, NULL),
                     KT_OK);
    Kontor__Receivables__BalanceReply *b = (Kontor__Receivables__BalanceReply *) out;
    assert_int_equal(b->limit->units, 200000);
    assert_string_equal(b->limit->currency, "EUR");
    assert_int_equal(b->payment_days, 30);
    kt_msg_free(out);
    s_expect("manager-2", "Balance", &req.base, &kontor__receivables__balance_reply__descriptor,
             KT_PERMISSION_DENIED, "client_id", "not_owner");
    Kontor__Receivables__StatementRequest st = KONTOR__RECEIVABLES__STATEMENT_REQUEST__INIT;
    st.client_id = 100;
    st.from = "2024-01-01";
    s_expect("manager-2", "Statement", &st.base, &kontor__receivables__statement_reply__descriptor,
             KT_PERMISSION_DENIED, "client_id", "not_owner");
    Kontor__Receivables__DisciplineRequest dr = KONTOR__RECEIVABLES__DISCIPLINE_REQUEST__INIT;
    dr.client_id = 100;
    s_expect("manager-2", "Discipline", &dr.base,
             &kontor__receivables__discipline_reply__descriptor, KT_PERMISSION_DENIED,
             "client_id", "not_owner");
    Kontor__Receivables__AgingRequest ar = KONTOR__RECEIVABLES__AGING_REQUEST__INIT;
    ar.client_id = 100;
    s_expect("manager-2", "Aging", &ar.base, &kontor__receivables__aging_reply__descriptor,
             KT_PERMISSION_DENIED, "client_id", "not_owner");
    ar.client_id = 0;
    ar.manager_id = 2;
    s_expect("manager-2", "Aging", &ar.base, &kontor__receivables__aging_reply__descriptor,
             KT_PERMISSION_DENIED, "manager_id", "not_owner");

    //  ClientChanged moves the client to manager 3: now manager-2 owns it.
    Kontor__Clients__ClientChanged cc = KONTOR__CLIENTS__CLIENT_CHANGED__INIT;
    cc.client_id = 100;
    cc.status = KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE;
    cc.manager_id = 3;
    cc.branch_id = 8;
    cc.version = 7;
    kth_outbox(s_set, "clients", "ClientChanged", &cc.base);
    assert_true(kth_wait_sqlf(s_set, 3, S_WAIT_MS,
                              "SELECT manager_id FROM receivables.accounts WHERE client_id = 100"));
    assert_int_equal(s_call("manager-2", "Balance", &req.base,
                            &kontor__receivables__balance_reply__descriptor, NULL, NULL),
                     KT_OK);
    s_expect("manager-1", "Balance", &req.base, &kontor__receivables__balance_reply__descriptor,
             KT_PERMISSION_DENIED, "client_id", "not_owner");
}

//  ---------------------------------------------------------------- concurrent credit

#define S_RACERS 32

typedef struct {
    int64_t order;
    int64_t client;
    int64_t amount;
    bool retry;
    int status;
    char reason[64];
    int64_t exceeded_by;
} s_racer_t;

static atomic_int s_go;

static void *s_racer(void *arg)
{
    s_racer_t *r = arg;
    kt_client_t *c = s_thread_client();
    r->status = -1;
    if (!c)
        return NULL;
    while (!atomic_load(&s_go))
        ;
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = r->amount;
    m.currency = "EUR";
    Kontor__Receivables__ReserveCreditRequest req =
        KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
    req.order_id = r->order;
    req.client_id = r->client;
    req.amount = &m;
    req.hold_seconds = 600;
    //  A caller that gets no answer (its instance was killed) asks again
    //  with the same order id, as orders does.
    for (int attempt = 0; attempt < 20; attempt++) {
        ProtobufCMessage *out = NULL;
        kt_reply_t reply;
        kt_call_opts_t opts = {.timeout_ms = 8000, .retry = r->retry, .attempt_ms = 1000};
        r->status = kt_client_call(c, "receivables", "ReserveCredit", &req.base,
                                   &kontor__receivables__reserve_credit_reply__descriptor, &out,
                                   &opts, &reply);
        snprintf(r->reason, sizeof r->reason, "%s", reply.reason);
        if (out && ((Kontor__Receivables__ReserveCreditReply *) out)->exceeded_by)
            r->exceeded_by = ((Kontor__Receivables__ReserveCreditReply *) out)->exceeded_by->units;
        kt_msg_free(out);
        kt_reply_clear(&reply);
        if (!r->retry || !kt_status_retryable(r->status))
            break;
    }
    kt_client_destroy(&c);
    return NULL;
}

static void s_race(int64_t client, int64_t first_order, bool kill_one)
{
    s_racer_t racers[S_RACERS];
    pthread_t threads[S_RACERS];
    kth_use(s_set, "orders");
    atomic_store(&s_go, 0);
    for (int i = 0; i < S_RACERS; i++) {
        racers[i] = (s_racer_t){first_order + i, client, 1000, kill_one, -1, "", 0};
        pthread_create(&threads[i], NULL, s_racer, &racers[i]);
    }
    atomic_store(&s_go, 1);
    if (kill_one) {
        //  kill -9 one of the two instances while the calls are in flight.
        assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                                  "SELECT (count(*) >= 1)::int FROM receivables.credit_events"
                                  " WHERE client_id = %lld",
                                  (long long)client));
        kth_signal(s_set, s_rcv[0], SIGKILL);
        print_message("# killed one instance after %lld of %d decisions\n",
                      (long long)kth_sql_i64f(s_set,
                                              "SELECT count(*) FROM receivables.credit_events"
                                              " WHERE client_id = %lld",
                                              (long long)client),
                      S_RACERS);
        s_rcv[0] = kth_start_service(s_set, "receivables", 4);
    }
    int ok = 0, over = 0;
    for (int i = 0; i < S_RACERS; i++) {
        pthread_join(threads[i], NULL);
        if (racers[i].status == KT_OK)
            ok++;
        else if (racers[i].status == KT_FAILED_PRECONDITION
                 && strcmp(racers[i].reason, "credit_limit_exceeded") == 0) {
            over++;
            assert_int_equal(racers[i].exceeded_by, 1000);
        } else
            print_message("# racer %d: %s %s\n", i, kt_status_name(racers[i].status),
                          racers[i].reason);
    }
    print_message("# %d reserved, %d refused over the limit%s\n", ok, over,
                  kill_one ? " (one instance killed mid-run)" : "");
    assert_int_equal(ok, 10);
    assert_int_equal(over, S_RACERS - 10);
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM receivables.credit_reservations"
                                  " WHERE client_id = %lld AND status = 'HELD'",
                                  (long long)client),
                     10);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT reserved FROM receivables.accounts WHERE client_id = %lld",
                     (long long)client),
        10000);
    //  Exposure never above the limit.
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM receivables.accounts WHERE client_id = %lld"
                                  " AND open_amount - unapplied + reserved > credit_limit",
                                  (long long)client),
                     0);
}

static void test_concurrent_reservations_exactly_ten_fit(void **state)
{
    s_terms(200, 10000, 30, 5, 2, 7);
    s_race(200, 20000, false);
    s_check_money();
}

static void test_concurrent_reservations_with_kill_9(void **state)
{
    s_terms(300, 10000, 30, 5, 2, 7);
    s_race(300, 30000, true);
    s_check_money();
}

//  ---------------------------------------------------------------- the reservation's life

static void test_reservation_idempotent_confirm_release_expire(void **state)
{
    s_terms(400, 50000, 30, 5, 2, 7);
    assert_int_equal(s_reserve(4001, 400, 10000), KT_OK);
    assert_int_equal(s_reserve(4001, 400, 10000), KT_OK);        //  same again: same answer
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT reserved FROM receivables.accounts WHERE client_id = 400"),
        10000);
    kt_client_t *c = kth_client(s_set, "orders");
    kt_reply_t reply;
    assert_int_equal(s_reserve_as(c, 4001, 400, 12000, "EUR", 0, NULL, NULL, &reply), KT_ABORTED);
    assert_string_equal(reply.reason, "idempotency_mismatch");
    assert_string_equal(reply.field, "order_id");
    kt_reply_clear(&reply);

    int cs;
    assert_int_equal(s_credit("ConfirmCredit", 4001, &cs), KT_OK);
    assert_int_equal(cs, KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_CONFIRMED);
    assert_int_equal(s_credit("ConfirmCredit", 4001, &cs), KT_OK);
    assert_int_equal(s_credit("ReleaseCredit", 4001, &cs), KT_OK);
    assert_int_equal(cs, KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_RELEASED);
    assert_int_equal(s_credit("ReleaseCredit", 4001, &cs), KT_OK);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT reserved FROM receivables.accounts WHERE client_id = 400"), 0);
    Kontor__Receivables__CreditRequest zero = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
    s_expect("orders", "ConfirmCredit", &zero.base,
             &kontor__receivables__credit_reply__descriptor, KT_INVALID_ARGUMENT, "order_id", NULL);
    Kontor__Receivables__CreditRequest unknown = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
    unknown.order_id = 999999;
    s_expect("orders", "ConfirmCredit", &unknown.base,
             &kontor__receivables__credit_reply__descriptor, KT_NOT_FOUND, "order_id",
             "unknown_order");

    //  Expiry gives it back by itself (the sweeper); confirming then is refused.
    assert_int_equal(s_reserve_as(c, 4002, 400, 20000, "EUR", 1, NULL, NULL, NULL), KT_OK);
    assert_true(kth_wait_sqlf(s_set, 1, S_WAIT_MS,
                              "SELECT count(*) FROM receivables.credit_reservations"
                              " WHERE order_id = 4002 AND status = 'EXPIRED'"));
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT reserved FROM receivables.accounts WHERE client_id = 400"), 0);
    Kontor__Receivables__CreditRequest late = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
    late.order_id = 4002;
    s_expect("orders", "ConfirmCredit", &late.base,
             &kontor__receivables__credit_reply__descriptor, KT_FAILED_PRECONDITION, "order_id",
             "reservation_expired");

    //  Over the limit: refused with the figures; a head's approval lets it through.
    Kontor__Receivables__ReserveCreditReply *rep = NULL;
    assert_int_equal(s_reserve_as(c, 4003, 400, 60000, "EUR", 0, NULL, &rep, &reply),
                     KT_FAILED_PRECONDITION);
    assert_string_equal(reply.reason, "credit_limit_exceeded");
    assert_non_null(rep);
    assert_int_equal(rep->exceeded_by->units, 10000);
    assert_int_equal(rep->limit->units, 50000);
    assert_int_equal(rep->exposure->units, 0);
    kt_msg_free(&rep->base);
    kt_reply_clear(&reply);
    assert_int_equal(s_reserve_as(c, 4003, 400, 60000, "EUR", 0, "head-1", NULL, NULL), KT_OK);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.credit_reservations"
                                         " WHERE order_id = 4003 AND approved_by = 'head-1'"),
                     1);
    assert_int_equal(s_credit("ReleaseCredit", 4003, NULL), KT_OK);

    //  The history tells it.
    Kontor__Receivables__CreditHistoryRequest h = KONTOR__RECEIVABLES__CREDIT_HISTORY_REQUEST__INIT;
    h.client_id = 400;
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("head-1", "CreditHistory", &h.base,
                            &kontor__receivables__credit_history_reply__descriptor, &out, NULL),
                     KT_OK);
    Kontor__Receivables__CreditHistoryReply *hist = (Kontor__Receivables__CreditHistoryReply *) out;
    int refused = 0, expired = 0;
    for (size_t i = 0; i < hist->n_events; i++) {
        refused += strcmp(hist->events[i]->kind, "refused") == 0;
        expired += strcmp(hist->events[i]->kind, "expired") == 0;
    }
    assert_int_equal(refused, 1);
    assert_int_equal(expired, 1);
    kt_msg_free(out);
    kt_client_destroy(&c);
    s_check_money();
}

//  ---------------------------------------------------------------- invoices, payments, credit notes

static void test_invoice_from_dispatch_payments_and_credit_notes(void **state)
{
    s_terms(500, 100000, 30, 5, 2, 7);
    assert_int_equal(s_reserve(5001, 500, 5000), KT_OK);
    assert_int_equal(s_credit("ConfirmCredit", 5001, NULL), KT_OK);
    int64_t qty[] = {2, 1}, price[] = {1500, 2000};
    s_dispatch(5001, 5001, 500, 0, 2, qty, price);
    s_wait_invoice(5001);
    //  Priced from the lines; due = dispatch + payment days; the
    //  reservation became the invoice without counting twice.
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT amount FROM receivables.invoices WHERE shipment_id = 5001"),
        5000);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT due_on - issued_on FROM receivables.invoices"
                                         " WHERE shipment_id = 5001"),
                     30);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.invoice_lines l"
                                         " JOIN receivables.invoices i ON i.id = l.invoice_id"
                                         " WHERE i.shipment_id = 5001"),
                     2);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.credit_reservations"
                                         " WHERE order_id = 5001 AND status = 'INVOICED'"),
                     1);
    Kontor__Receivables__BalanceReply *b = s_balance(500);
    assert_int_equal(b->reserved->units, 0);
    assert_int_equal(b->open_invoices->units, 5000);
    assert_int_equal(b->exposure->units, 5000);
    kt_msg_free(&b->base);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.outbox WHERE type = 'InvoiceIssued'"),
        kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.invoices"));
    int cs;
    assert_int_equal(s_credit("ReleaseCredit", 5001, &cs), KT_FAILED_PRECONDITION);

    //  The same dispatch again (a replayed event): still one invoice.
    s_dispatch(5001, 5001, 500, 0, 2, qty, price);
    s_drain();
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.invoices WHERE shipment_id = 5001"),
        1);

    //  Overpayment: 7000 pays the 5000 and keeps 2000 unapplied ...
    Kontor__Receivables__RecordPaymentReply *p = NULL;
    assert_int_equal(s_pay(500, 7000, NULL, "BANK-500-1", &p), KT_OK);
    assert_int_equal(p->unapplied->units, 2000);
    assert_int_equal(p->n_allocations, 1);
    assert_int_equal(p->allocations[0]->amount->units, 5000);
    assert_false(p->duplicate);
    kt_msg_free(&p->base);
    //  ... the same payment again is the same answer, nothing new ...
    assert_int_equal(s_pay(500, 7000, NULL, "BANK-500-1", &p), KT_OK);
    assert_true(p->duplicate);
    kt_msg_free(&p->base);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT count(*) FROM receivables.outbox WHERE type = 'PaymentRecorded'"),
        1);
    //  ... and the next invoice uses the 2000 at once.
    s_dispatch1(5002, 5002, 500, 0, 1500);
    s_wait_invoice(5002);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT open_amount FROM receivables.invoices WHERE shipment_id = 5002"),
        0);
    b = s_balance(500);
    assert_int_equal(b->unapplied->units, 500);
    assert_int_equal(b->open->units, -500);
    kt_msg_free(&b->base);

    //  Credit notes: a return on an open invoice, a discrepancy act.
    s_dispatch1(5003, 5003, 500, 0, 4000);
    s_wait_invoice(5003);
    //  (the 500 unapplied went to it: 3500 open)
    s_return_event(1, 5003, 500, 1000);
    s_discrepancy_event(1, 5003, 5003, 500, 2, 250);
    s_drain();
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT open_amount FROM receivables.invoices WHERE shipment_id = 5003"),
        2000);
    b = s_balance(500);
    assert_int_equal(b->credited->units, 1500);
    assert_int_equal(b->open->units, 2000);
    kt_msg_free(&b->base);
    //  The same return again: one credit note.
    s_return_event(1, 5003, 500, 1000);
    s_drain();
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.settlements"
                                         " WHERE kind = 'credit_note' AND client_id = 500"),
                     2);

    //  Named invoices; a reversal opens them again.
    s_dispatch1(5004, 5004, 500, 0, 3000);
    s_wait_invoice(5004);
    int64_t named[] = {s_invoice_of(5004)};
    kt_client_t *c = kth_client(s_set, "accountant-1");
    assert_int_equal(s_pay_as(c, 500, 1000, "EUR", NULL, "BANK-500-2", named, 1, &p, NULL), KT_OK);
    assert_int_equal(p->allocations[0]->invoice_id, named[0]);
    kt_msg_free(&p->base);
    kt_client_destroy(&c);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT open_amount FROM receivables.invoices WHERE shipment_id = 5004"),
        2000);
    Kontor__Receivables__ReversePaymentRequest rv =
        KONTOR__RECEIVABLES__REVERSE_PAYMENT_REQUEST__INIT;
    rv.reference = "BANK-500-2";
    rv.reason = "bounced";
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("accountant-1", "ReversePayment", &rv.base,
                            &kontor__receivables__reverse_payment_reply__descriptor, &out, NULL),
                     KT_OK);
    assert_int_equal(((Kontor__Receivables__ReversePaymentReply *) out)->n_reopened, 1);
    kt_msg_free(out);
    assert_int_equal(
        kth_sql_i64f(s_set,
                     "SELECT open_amount FROM receivables.invoices WHERE shipment_id = 5004"),
        3000);
    s_check_money();
}

//  ---------------------------------------------------------------- bad input

//  Everything that a refused call must leave as it was.
static char *s_snapshot(void)
{
    return kth_sql_valuef(
        s_set, "SELECT concat_ws(',', (SELECT count(*) FROM receivables.settlements),"
               " (SELECT count(*) FROM receivables.credit_reservations),"
               " (SELECT count(*) FROM receivables.allocations),"
               " (SELECT count(*) FROM receivables.outbox),"
               " (SELECT sum(paid) FROM receivables.accounts),"
               " (SELECT sum(reserved) FROM receivables.accounts),"
               " (SELECT sum(open_amount) FROM receivables.accounts),"
               " (SELECT string_agg(credit_limit || '/' || currency, ';' ORDER BY client_id)"
               "    FROM receivables.accounts))");
}

static void s_bad_reserve(int64_t order, int64_t client, bool with_amount, int64_t units,
                          const char *currency, int status, const char *field, const char *reason)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = units;
    m.currency = (char *) currency;
    Kontor__Receivables__ReserveCreditRequest req =
        KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
    req.order_id = order;
    req.client_id = client;
    req.amount = with_amount ? &m : NULL;
    s_expect("orders", "ReserveCredit", &req.base,
             &kontor__receivables__reserve_credit_reply__descriptor, status, field, reason);
}

static void s_bad_pay(int64_t client, bool with_amount, int64_t units, const char *currency,
                      const char *date, const char *reference, const int64_t *invoices, size_t n,
                      int status, const char *field, const char *reason)
{
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = units;
    m.currency = (char *) currency;
    Kontor__Receivables__RecordPaymentRequest req =
        KONTOR__RECEIVABLES__RECORD_PAYMENT_REQUEST__INIT;
    req.client_id = client;
    req.amount = with_amount ? &m : NULL;
    req.date = (char *) date;
    req.reference = (char *) reference;
    req.n_invoice_ids = n;
    req.invoice_ids = (int64_t *) invoices;
    s_expect("accountant-1", "RecordPayment", &req.base,
             &kontor__receivables__record_payment_reply__descriptor, status, field, reason);
}

static void test_bad_input_changes_nothing(void **state)
{
    s_terms(600, 100000, 30, 5, 2, 7);
    s_terms(601, 100000, 30, 5, 2, 7);
    s_dispatch1(6001, 6001, 600, 0, 1000);
    s_dispatch1(6011, 6011, 601, 0, 1000);
    s_wait_invoice(6001);
    s_wait_invoice(6011);
    assert_int_equal(s_pay(600, 100, NULL, "BANK-600-1", NULL), KT_OK);
    assert_int_equal(s_reserve(6002, 600, 100), KT_OK);
    s_drain();
    char *before = s_snapshot();

    //  ReserveCredit
    s_bad_reserve(0, 600, true, 100, "EUR", KT_INVALID_ARGUMENT, "order_id", NULL);
    s_bad_reserve(-5, 600, true, 100, "EUR", KT_INVALID_ARGUMENT, "order_id", NULL);
    s_bad_reserve(6003, 0, true, 100, "EUR", KT_INVALID_ARGUMENT, "client_id", NULL);
    s_bad_reserve(6003, 600, false, 0, "", KT_INVALID_ARGUMENT, "amount", NULL);
    s_bad_reserve(6003, 600, true, 0, "EUR", KT_INVALID_ARGUMENT, "amount.units", NULL);
    s_bad_reserve(6003, 600, true, -100, "EUR", KT_INVALID_ARGUMENT, "amount.units", NULL);
    s_bad_reserve(6003, 600, true, 100, "eur", KT_INVALID_ARGUMENT, "amount.currency", NULL);
    s_bad_reserve(6003, 600, true, 100, "USD", KT_FAILED_PRECONDITION, "amount.currency",
                  "currency_mismatch");
    s_bad_reserve(6003, 999, true, 100, "EUR", KT_NOT_FOUND, "client_id", "unknown_client");
    s_bad_reserve(6003, 600, true, INT64_MAX, "EUR", KT_INVALID_ARGUMENT, "amount.units", NULL);
    s_bad_reserve(6002, 600, true, 200, "EUR", KT_ABORTED, "order_id", "idempotency_mismatch");
    Kontor__Money m = KONTOR__MONEY__INIT;
    m.units = 1;
    m.currency = "EUR";
    Kontor__Receivables__ReserveCreditRequest rr = KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
    rr.order_id = 6004;
    rr.client_id = 600;
    rr.amount = &m;
    rr.hold_seconds = 30 * 24 * 3600;
    s_expect("orders", "ReserveCredit", &rr.base,
             &kontor__receivables__reserve_credit_reply__descriptor, KT_INVALID_ARGUMENT,
             "hold_seconds", NULL);
    rr.hold_seconds = 0;
    //  Roles: a head, a manager, an accountant may not reserve.
    s_expect("head-1", "ReserveCredit", &rr.base,
             &kontor__receivables__reserve_credit_reply__descriptor, KT_PERMISSION_DENIED, NULL,
             "role_required");
    s_expect("manager-1", "ReserveCredit", &rr.base,
             &kontor__receivables__reserve_credit_reply__descriptor, KT_PERMISSION_DENIED, NULL,
             "role_required");

    //  RecordPayment
    int64_t other[] = {s_invoice_of(6001), s_invoice_of(6011)};
    int64_t missing[] = {987654321};
    int64_t twice[] = {other[0], other[0]};
    int64_t zero[] = {0};
    char *tomorrow = s_date(1);
    s_bad_pay(0, true, 100, "EUR", "", "R-1", NULL, 0, KT_INVALID_ARGUMENT, "client_id", NULL);
    s_bad_pay(600, false, 0, "", "", "R-1", NULL, 0, KT_INVALID_ARGUMENT, "amount", NULL);
    s_bad_pay(600, true, 0, "EUR", "", "R-1", NULL, 0, KT_INVALID_ARGUMENT, "amount.units", NULL);
    s_bad_pay(600, true, -1, "EUR", "", "R-1", NULL, 0, KT_INVALID_ARGUMENT, "amount.units", NULL);
    s_bad_pay(600, true, 100, "EURO", "", "R-1", NULL, 0, KT_INVALID_ARGUMENT, "amount.currency",
              NULL);
    s_bad_pay(600, true, 100, "USD", "", "R-1", NULL, 0, KT_FAILED_PRECONDITION, "amount.currency",
              "currency_mismatch");
    s_bad_pay(999, true, 100, "EUR", "", "R-1", NULL, 0, KT_NOT_FOUND, "client_id",
              "unknown_client");
    s_bad_pay(600, true, 100, "EUR", "", "", NULL, 0, KT_INVALID_ARGUMENT, "reference", NULL);
    s_bad_pay(600, true, 100, "EUR", "2023-02-30", "R-1", NULL, 0, KT_INVALID_ARGUMENT, "date",
              NULL);
    s_bad_pay(600, true, 100, "EUR", tomorrow, "R-1", NULL, 0, KT_INVALID_ARGUMENT, "date", NULL);
    s_bad_pay(600, true, 100, "EUR", "", "R-1", missing, 1, KT_NOT_FOUND, "invoice_ids[0]",
              "unknown_invoice");
    s_bad_pay(600, true, 100, "EUR", "", "R-1", other, 2, KT_INVALID_ARGUMENT, "invoice_ids[1]",
              NULL);
    s_bad_pay(600, true, 100, "EUR", "", "R-1", twice, 2, KT_INVALID_ARGUMENT, "invoice_ids[1]",
              NULL);
    s_bad_pay(600, true, 100, "EUR", "", "R-1", zero, 1, KT_INVALID_ARGUMENT, "invoice_ids[0]",
              NULL);
    //  A sum that would overflow: 100 paid already, then INT64_MAX.
    s_bad_pay(600, true, INT64_MAX, "EUR", "", "R-1", NULL, 0, KT_INVALID_ARGUMENT,
              "amount.units", NULL);
    //  The same reference with another amount, or another client.
    s_bad_pay(600, true, 101, "EUR", "", "BANK-600-1", NULL, 0, KT_ABORTED, "reference",
              "idempotency_mismatch");
    s_bad_pay(601, true, 100, "EUR", "", "BANK-600-1", NULL, 0, KT_ABORTED, "reference",
              "idempotency_mismatch");
    free(tomorrow);
    Kontor__Receivables__RecordPaymentRequest pr = KONTOR__RECEIVABLES__RECORD_PAYMENT_REQUEST__INIT;
    pr.client_id = 600;
    pr.amount = &m;
    pr.reference = "R-2";
    s_expect("manager-1", "RecordPayment", &pr.base,
             &kontor__receivables__record_payment_reply__descriptor, KT_PERMISSION_DENIED, NULL,
             "role_required");
    s_expect("orders", "RecordPayment", &pr.base,
             &kontor__receivables__record_payment_reply__descriptor, KT_PERMISSION_DENIED, NULL,
             "role_required");

    //  SetCreditTerms: head and admin only; each field checked.
    Kontor__Money lim = KONTOR__MONEY__INIT;
    lim.units = 5;
    lim.currency = "USD";
    Kontor__Receivables__SetCreditTermsRequest t = KONTOR__RECEIVABLES__SET_CREDIT_TERMS_REQUEST__INIT;
    t.client_id = 600;
    t.credit_limit = &lim;
    t.payment_days = 10;
    s_expect("accountant-1", "SetCreditTerms", &t.base,
             &kontor__receivables__credit_terms_reply__descriptor, KT_PERMISSION_DENIED, NULL,
             "role_required");
    s_expect("manager-1", "SetCreditTerms", &t.base,
             &kontor__receivables__credit_terms_reply__descriptor, KT_PERMISSION_DENIED, NULL,
             "role_required");
    s_expect("head-1", "SetCreditTerms", &t.base,
             &kontor__receivables__credit_terms_reply__descriptor, KT_FAILED_PRECONDITION,
             "credit_limit.currency", "currency_mismatch");
    lim.currency = "EUR";
    lim.units = -1;
    s_expect("head-1", "SetCreditTerms", &t.base,
             &kontor__receivables__credit_terms_reply__descriptor, KT_INVALID_ARGUMENT,
             "credit_limit.units", NULL);
    lim.units = 5;
    t.payment_days = -1;
    s_expect("admin", "SetCreditTerms", &t.base,
             &kontor__receivables__credit_terms_reply__descriptor, KT_INVALID_ARGUMENT,
             "payment_days", NULL);
    t.payment_days = 10;
    t.grace_days = 5000;
    s_expect("admin", "SetCreditTerms", &t.base,
             &kontor__receivables__credit_terms_reply__descriptor, KT_INVALID_ARGUMENT,
             "grace_days", NULL);

    //  RunDunning: accountant, head, admin only; a date that exists.
    Kontor__Receivables__RunDunningRequest d = KONTOR__RECEIVABLES__RUN_DUNNING_REQUEST__INIT;
    d.as_of = "2024-13-01";
    s_expect("manager-1", "RunDunning", &d.base, &kontor__receivables__run_dunning_reply__descriptor,
             KT_PERMISSION_DENIED, NULL, "role_required");
    s_expect("accountant-1", "RunDunning", &d.base,
             &kontor__receivables__run_dunning_reply__descriptor, KT_INVALID_ARGUMENT, "as_of",
             NULL);
    //  Reports: unknown client, bad dates.
    Kontor__Receivables__BalanceRequest br = KONTOR__RECEIVABLES__BALANCE_REQUEST__INIT;
    br.client_id = 999;
    s_expect("accountant-1", "Balance", &br.base, &kontor__receivables__balance_reply__descriptor,
             KT_NOT_FOUND, "client_id", "unknown_client");
    Kontor__Receivables__StatementRequest st = KONTOR__RECEIVABLES__STATEMENT_REQUEST__INIT;
    st.client_id = 600;
    st.from = "2024-05-01";
    st.to = "2024-04-01";
    s_expect("accountant-1", "Statement", &st.base,
             &kontor__receivables__statement_reply__descriptor, KT_INVALID_ARGUMENT, "to", NULL);
    st.from = "yesterday";
    s_expect("accountant-1", "Statement", &st.base,
             &kontor__receivables__statement_reply__descriptor, KT_INVALID_ARGUMENT, "from", NULL);

    char *after = s_snapshot();
    assert_string_equal(before, after);
    free(before);
    free(after);
    s_check_money();
}

//  ---------------------------------------------------------------- conservation under a random run

typedef struct {
    char reference[32];
    int64_t client;
    int64_t amount;
    int status;
} s_payer_t;

static void *s_payer(void *arg)
{
    s_payer_t *p = arg;
    kt_client_t *c = s_thread_client();
    p->status = -1;
    if (!c)
        return NULL;
    while (!atomic_load(&s_go))
        ;
    p->status = s_pay_as(c, p->client, p->amount, "EUR", "", p->reference, NULL, 0, NULL, NULL);
    kt_client_destroy(&c);
    return NULL;
}

static void test_money_conserved_after_a_random_run(void **state)
{
    unsigned seed = 12345;
    const int64_t clients[] = {700, 701, 702, 703};
    for (int i = 0; i < 4; i++)
        s_terms(clients[i], 10000000, 20 + 5 * i, 3, 2 + i % 2, 7 + i % 2);
    int64_t shipment = 70000, order = 70000, ret = 7000, act = 7000;
    int payments = 0;
    for (int round = 0; round < 60; round++) {
        int64_t client = clients[rand_r(&seed) % 4];
        int op = rand_r(&seed) % 10;
        if (op < 4) {
            int64_t qty[] = {1 + rand_r(&seed) % 5, 1 + rand_r(&seed) % 3};
            int64_t price[] = {100 + rand_r(&seed) % 5000, rand_r(&seed) % 2000};
            s_dispatch(++shipment, ++order, client, rand_r(&seed) % 120, 2, qty, price);
            if (rand_r(&seed) % 3 == 0)     //  a replayed dispatch
                s_dispatch(shipment, order, client, 0, 2, qty, price);
        } else if (op < 7) {
            char ref[32];
            snprintf(ref, sizeof ref, "RND-%d", ++payments);
            int64_t amount = 500 + rand_r(&seed) % 9000;
            assert_int_equal(s_pay(client, amount, NULL, ref, NULL), KT_OK);
            if (rand_r(&seed) % 2)          //  a duplicated payment
                assert_int_equal(s_pay(client, amount, NULL, ref, NULL), KT_OK);
        } else if (op < 8) {
            s_return_event(++ret, order, client, 1 + rand_r(&seed) % 800);
        } else if (op < 9) {
            s_discrepancy_event(++act, shipment, order, client, 1, 1 + rand_r(&seed) % 300);
        } else if (payments > 0) {
            char ref[32];
            snprintf(ref, sizeof ref, "RND-%d", 1 + rand_r(&seed) % payments);
            Kontor__Receivables__ReversePaymentRequest rv =
                KONTOR__RECEIVABLES__REVERSE_PAYMENT_REQUEST__INIT;
            rv.reference = ref;
            rv.reason = "bounced";
            //  Either it reverses, or it names another client's reference.
            int st = s_call("accountant-1", "ReversePayment", &rv.base,
                            &kontor__receivables__reverse_payment_reply__descriptor, NULL, NULL);
            assert_int_equal(st, KT_OK);
        }
    }
    //  Concurrent payments with one reference: one payment, one answer.
    s_payer_t payers[8];
    pthread_t threads[8];
    kth_use(s_set, "accountant-1");
    atomic_store(&s_go, 0);
    for (int i = 0; i < 8; i++) {
        payers[i] = (s_payer_t){"", clients[i % 2], 777, -1};
        snprintf(payers[i].reference, sizeof payers[i].reference, "RND-SAME");
        pthread_create(&threads[i], NULL, s_payer, &payers[i]);
    }
    atomic_store(&s_go, 1);
    int ok = 0, mismatch = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        ok += payers[i].status == KT_OK;
        mismatch += payers[i].status == KT_ABORTED;
    }
    //  Four ask for client 700 and four for 701: whichever came first wins,
    //  its four get OK, the others ABORTED.
    assert_int_equal(ok, 4);
    assert_int_equal(mismatch, 4);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.settlements"
                                         " WHERE reference = 'RND-SAME'"),
                     1);
    s_drain();
    print_message("# %lld invoices, %lld payments, %lld credit notes, %lld reversed\n",
                  (long long)kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.invoices"),
                  (long long)kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.settlements"
                                                 " WHERE kind = 'payment'"),
                  (long long)kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.settlements"
                                                 " WHERE kind = 'credit_note'"),
                  (long long)kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.settlements"
                                                 " WHERE reversed_on IS NOT NULL"));
    //  One invoice per dispatch.
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) - count(DISTINCT shipment_id)"
                                         " FROM receivables.invoices"),
                     0);
    s_check_money();
    //  And per client through the method: open = invoiced - paid - credited.
    for (int i = 0; i < 4; i++) {
        Kontor__Receivables__BalanceReply *b = s_balance(clients[i]);
        assert_int_equal(b->open->units, b->invoiced->units - b->paid->units - b->credited->units);
        assert_int_equal(b->open->units, b->open_invoices->units - b->unapplied->units);
        kt_msg_free(&b->base);
    }
}

//  ---------------------------------------------------------------- aging

typedef struct {
    int64_t key;
    int64_t b[6];
} s_bucket_row_t;

//  Aging computed here, over the invoice rows, for `group` (0 client, 1
//  manager, 2 branch, 3 total) as of `as_of` (days since 1970-01-01).
static int s_aging_by_hand(int group, int32_t as_of, int32_t today, s_bucket_row_t *rows, int max)
{
    char *text = kth_sql_valuef(
        s_set,
        "SELECT string_agg(concat_ws(' ', i.client_id, a.manager_id, a.branch_id,"
        "       i.due_on - date '1970-01-01', i.issued_on - date '1970-01-01', i.open_amount),"
        "       ' ' ORDER BY i.id)"
        "  FROM receivables.invoices i JOIN receivables.accounts a ON a.client_id = i.client_id");
    assert_non_null(text);
    int n = 0;
    char *p = text;
    long long client, manager, branch, due, issued, open;
    int used = 0;
    while (sscanf(p, "%lld %lld %lld %lld %lld %lld%n", &client, &manager, &branch, &due,
                  &issued, &open, &used) == 6) {
        p += used;
        //  What is open now; as of a past date only what was issued by then.
        if (open <= 0 || (as_of < today && issued > as_of))
            continue;
        int64_t key = group == 0 ? client : group == 1 ? manager : group == 2 ? branch : 0;
        int k = 0;
        while (k < n && rows[k].key != key)
            k++;
        if (k == n) {
            assert_true(n < max);
            memset(&rows[n], 0, sizeof rows[n]);
            rows[n++].key = key;
        }
        long long past = as_of - due;
        int bucket = past <= 0 ? 0 : past <= 30 ? 1 : past <= 60 ? 2 : past <= 90 ? 3 : 4;
        rows[k].b[bucket] += open;
        rows[k].b[5] += open;
    }
    free(text);
    return n;
}

static void s_check_aging(int group, int days_from_today)
{
    char *date = s_date(days_from_today);
    int32_t as_of, today;
    char why[128];
    assert_int_equal(kt_check_date("as_of", date, &as_of, why, sizeof why), 0);
    char *today_text = s_date(0);
    assert_int_equal(kt_check_date("today", today_text, &today, why, sizeof why), 0);
    free(today_text);
    s_bucket_row_t want[64];
    int n = s_aging_by_hand(group, as_of, today, want, 64);

    Kontor__Receivables__AgingRequest req = KONTOR__RECEIVABLES__AGING_REQUEST__INIT;
    req.as_of = date;
    req.group_by = (Kontor__Receivables__AgingGroup) group;
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("accountant-1", "Aging", &req.base,
                            &kontor__receivables__aging_reply__descriptor, &out, NULL),
                     KT_OK);
    Kontor__Receivables__AgingReply *rep = (Kontor__Receivables__AgingReply *) out;
    assert_int_equal((int) rep->n_rows, n);
    for (size_t r = 0; r < rep->n_rows; r++) {
        const Kontor__Receivables__AgingRow *row = rep->rows[r];
        int k = 0;
        while (k < n && want[k].key != row->key)
            k++;
        assert_true(k < n);
        const int64_t got[] = {row->current->units,    row->days_1_30->units,
                               row->days_31_60->units, row->days_61_90->units,
                               row->over_90->units,    row->total->units};
        for (int b = 0; b < 6; b++)
            assert_int_equal(got[b], want[k].b[b]);
        assert_string_equal(row->total->currency, "EUR");
    }
    kt_msg_free(out);
    free(date);
}

static void test_aging_matches_a_computation_over_the_rows(void **state)
{
    //  Invoices issued across the last 200 days, some partly paid.
    s_terms(800, 10000000, 14, 3, 2, 9);
    s_terms(801, 10000000, 45, 3, 3, 9);
    for (int i = 0; i < 24; i++)
        s_dispatch1(80000 + i, 80000 + i, 800 + i % 2, i * 9, 1000 + i * 37);
    s_drain();
    assert_int_equal(s_pay(800, 2500, NULL, "AGING-800", NULL), KT_OK);
    const int days[] = {0, -30, -75, 10, 200};
    for (int d = 0; d < 5; d++)
        for (int group = 0; group <= 3; group++)
            s_check_aging(group, days[d]);

    //  A manager sees only their own clients' rows.
    Kontor__Receivables__AgingRequest req = KONTOR__RECEIVABLES__AGING_REQUEST__INIT;
    req.group_by = KONTOR__RECEIVABLES__AGING_GROUP__AGING_BY_CLIENT;
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("manager-2", "Aging", &req.base,
                            &kontor__receivables__aging_reply__descriptor, &out, NULL),
                     KT_OK);
    Kontor__Receivables__AgingReply *rep = (Kontor__Receivables__AgingReply *) out;
    assert_true(rep->n_rows >= 1);
    for (size_t r = 0; r < rep->n_rows; r++)
        assert_int_equal(
            kth_sql_i64f(s_set,
                         "SELECT manager_id FROM receivables.accounts WHERE client_id = %lld",
                         (long long)rep->rows[r]->key),
            3);
    kt_msg_free(out);
    s_check_money();
}

//  ---------------------------------------------------------------- statement and discipline

static void test_statement_and_discipline(void **state)
{
    s_terms(900, 10000000, 10, 3, 2, 7);
    s_dispatch1(90001, 90001, 900, 100, 1000);      //  due 90 days ago
    s_dispatch1(90002, 90002, 900, 50, 2000);       //  due 40 days ago
    s_dispatch1(90003, 90003, 900, 5, 4000);        //  due in 5 days
    s_drain();
    char *d1 = s_date(-88), *d2 = s_date(-40), *from = s_date(-60), *to = s_date(0);
    assert_int_equal(s_pay(900, 1000, d1, "ST-1", NULL), KT_OK);     //  2 days late
    assert_int_equal(s_pay(900, 2000, d2, "ST-2", NULL), KT_OK);     //  on the due day
    s_return_event(90001, 90003, 900, 500);
    s_drain();

    Kontor__Receivables__StatementRequest req = KONTOR__RECEIVABLES__STATEMENT_REQUEST__INIT;
    req.client_id = 900;
    req.from = from;
    req.to = to;
    ProtobufCMessage *out = NULL;
    assert_int_equal(s_call("accountant-1", "Statement", &req.base,
                            &kontor__receivables__statement_reply__descriptor, &out, NULL),
                     KT_OK);
    Kontor__Receivables__StatementReply *st = (Kontor__Receivables__StatementReply *) out;
    //  Before the period: invoice 1000 issued, paid 1000: opening 0.
    assert_int_equal(st->opening->units, 0);
    //  In it: invoice 2000, payment 2000, invoice 4000, return 500.
    assert_int_equal(st->n_lines, 4);
    assert_int_equal(st->closing->units, 3500);
    int64_t sum = st->opening->units;
    for (size_t i = 0; i < st->n_lines; i++) {
        sum += st->lines[i]->debit->units - st->lines[i]->credit->units;
        assert_int_equal(st->lines[i]->balance->units, sum);
    }
    assert_int_equal(sum, st->closing->units);
    kt_msg_free(out);
    Kontor__Receivables__BalanceReply *b = s_balance(900);
    assert_int_equal(b->open->units, 3500);
    kt_msg_free(&b->base);

    Kontor__Receivables__DisciplineRequest dr = KONTOR__RECEIVABLES__DISCIPLINE_REQUEST__INIT;
    dr.client_id = 900;
    assert_int_equal(s_call("manager-1", "Discipline", &dr.base,
                            &kontor__receivables__discipline_reply__descriptor, &out, NULL),
                     KT_OK);
    Kontor__Receivables__DisciplineReply *dp = (Kontor__Receivables__DisciplineReply *) out;
    assert_int_equal(dp->invoices_due, 2);
    assert_int_equal(dp->invoices_paid, 2);
    assert_int_equal(dp->paid_on_time, 1);
    assert_int_equal(dp->on_time_bp, 5000);
    assert_int_equal(dp->avg_days_late, 1);
    assert_int_equal(dp->longest_overdue_days, 2);
    assert_int_equal(dp->open_overdue, 0);
    kt_msg_free(out);
    free(d1);
    free(d2);
    free(from);
    free(to);
}

//  ---------------------------------------------------------------- dunning and holds

typedef struct {
    const char *as_of;
    int status;
    int64_t notices;
    int64_t holds_on;
} s_dunner_t;

static void *s_dunner(void *arg)
{
    s_dunner_t *d = arg;
    kt_client_t *c = s_thread_client();
    d->status = -1;
    if (!c)
        return NULL;
    while (!atomic_load(&s_go))
        ;
    Kontor__Receivables__RunDunningRequest req = KONTOR__RECEIVABLES__RUN_DUNNING_REQUEST__INIT;
    req.as_of = (char *) d->as_of;
    ProtobufCMessage *out = NULL;
    d->status = s_call_as(c, "RunDunning", &req.base,
                          &kontor__receivables__run_dunning_reply__descriptor, &out, NULL);
    if (out) {
        d->notices = ((Kontor__Receivables__RunDunningReply *) out)->notices;
        d->holds_on = ((Kontor__Receivables__RunDunningReply *) out)->holds_on;
    }
    kt_msg_free(out);
    kt_client_destroy(&c);
    return NULL;
}

//  Two runs at once as of `as_of`; returns the notices and holds they made.
static void s_dunning_twice(const char *as_of, int64_t *notices, int64_t *holds_on)
{
    s_dunner_t d[2] = {{as_of, -1, 0, 0}, {as_of, -1, 0, 0}};
    pthread_t threads[2];
    kth_use(s_set, "accountant-1");
    atomic_store(&s_go, 0);
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, s_dunner, &d[i]);
    atomic_store(&s_go, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(d[i].status, KT_OK);
    }
    *notices = d[0].notices + d[1].notices;
    *holds_on = d[0].holds_on + d[1].holds_on;
}

static int64_t s_events(const char *type)
{
    return kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.outbox WHERE type = '%s'", type);
}

static void test_dunning_each_notice_once_and_credit_hold(void **state)
{
    s_terms(950, 10000000, 10, 5, 2, 7);
    s_dispatch1(95001, 95001, 950, 40, 3000);      //  30 days past due: level 3, past grace
    s_dispatch1(95002, 95002, 950, 8, 2000);       //  due in 2 days: the reminder
    s_dispatch1(95003, 95003, 950, 12, 1000);      //  2 days past due: level 1, within grace
    s_drain();
    int64_t a = s_invoice_of(95001), b = s_invoice_of(95002), c = s_invoice_of(95003);
    int64_t holds_before = s_events("CreditHoldChanged");
    char *today = s_date(0);
    int64_t notices, holds_on;
    s_dunning_twice(today, &notices, &holds_on);
    //  Each notice once, each with its event, however many runs.
    assert_int_equal(notices,
                     kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.dunning_notices"));
    assert_int_equal(s_events("DunningNotice"),
                     kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.dunning_notices"));
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT level FROM receivables.dunning_notices WHERE invoice_id = %lld",
                     (long long)a),
        3);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT level FROM receivables.dunning_notices WHERE invoice_id = %lld",
                     (long long)b),
        0);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT level FROM receivables.dunning_notices WHERE invoice_id = %lld",
                     (long long)c),
        1);
    //  Holds: each client put on hold once, one event each.
    assert_true(holds_on >= 1);
    assert_int_equal(s_events("CreditHoldChanged") - holds_before, holds_on);
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.accounts WHERE on_hold"),
                     holds_on);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT on_hold::int FROM receivables.accounts WHERE client_id = 950"),
        1);
    //  Again: nothing new.
    int64_t again, holds_again;
    s_dunning_twice(today, &again, &holds_again);
    assert_int_equal(again, 0);
    assert_int_equal(holds_again, 0);

    //  On hold: credit refused, naming the overdue invoice.
    kt_client_t *cl = kth_client(s_set, "orders");
    Kontor__Receivables__ReserveCreditReply *rep = NULL;
    kt_reply_t reply;
    assert_int_equal(s_reserve_as(cl, 95100, 950, 100, "EUR", 0, NULL, &rep, &reply),
                     KT_FAILED_PRECONDITION);
    assert_string_equal(reply.reason, "credit_hold");
    assert_non_null(rep);
    assert_int_equal(rep->n_overdue_invoices, 1);
    assert_int_equal(rep->overdue_invoices[0], a);
    kt_msg_free(&rep->base);
    kt_reply_clear(&reply);
    kt_client_destroy(&cl);

    //  Paying the overdue invoice lifts the hold, with its event.
    int64_t before_lift = s_events("CreditHoldChanged");
    Kontor__Receivables__RecordPaymentReply *p = NULL;
    cl = kth_client(s_set, "accountant-1");
    assert_int_equal(s_pay_as(cl, 950, 3000, "EUR", NULL, "DUN-950", &a, 1, &p, NULL), KT_OK);
    assert_true(p->hold_lifted);
    kt_msg_free(&p->base);
    kt_client_destroy(&cl);
    assert_int_equal(s_events("CreditHoldChanged") - before_lift, 1);
    assert_int_equal(
        kth_sql_i64f(s_set, "SELECT on_hold::int FROM receivables.accounts WHERE client_id = 950"),
        0);
    assert_int_equal(s_reserve(95100, 950, 100), KT_OK);

    //  Twenty days on: the next levels, each once.
    char *later = s_date(20);
    s_dunning_twice(later, &notices, &holds_on);
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT max(level) FROM receivables.dunning_notices"
                                  " WHERE invoice_id = %lld",
                                  (long long)b),
                     2);
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT max(level) FROM receivables.dunning_notices"
                                  " WHERE invoice_id = %lld",
                                  (long long)c),
                     2);
    assert_int_equal(kth_sql_i64f(s_set,
                                  "SELECT count(*) FROM receivables.dunning_notices"
                                  " WHERE invoice_id = %lld",
                                  (long long)a),
                     1);
    assert_int_equal(s_events("DunningNotice"),
                     kth_sql_i64f(s_set, "SELECT count(*) FROM receivables.dunning_notices"));
    assert_int_equal(kth_sql_i64f(s_set, "SELECT count(*) - count(DISTINCT (invoice_id, level))"
                                         " FROM receivables.dunning_notices"),
                     0);
    free(later);
    free(today);
    s_check_money();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_from_clients_and_ownership),
        cmocka_unit_test(test_concurrent_reservations_exactly_ten_fit),
        cmocka_unit_test(test_concurrent_reservations_with_kill_9),
        cmocka_unit_test(test_reservation_idempotent_confirm_release_expire),
        cmocka_unit_test(test_invoice_from_dispatch_payments_and_credit_notes),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_money_conserved_after_a_random_run),
        cmocka_unit_test(test_aging_matches_a_computation_over_the_rows),
        cmocka_unit_test(test_statement_and_discipline),
        cmocka_unit_test(test_dunning_each_notice_once_and_credit_hold),
    };
    return cmocka_run_group_tests_name("receivables", tests, s_setup, kth_teardown);
}
