/*  bench_work - the terminals: each a manager at a desk, with the
 *  accountant and the warehouse system beside it, running a TPC-C-like mix
 *  back to back through the bus.
 *
 *    PlaceOrder    (TPC-C New-Order)  5..10 lines of distinct SKUs, qty 1..10,
 *                  for one of the manager's clients; SKUs uniform, or 20 % of
 *                  lines on SKUs 1..100 (hot). The manager's key.
 *    RecordPayment (Payment)          1.00..5,000.00 from one of the manager's
 *                  clients, a fresh bank reference, oldest due first. The
 *                  accountant's key.
 *    order status  (Order-Status)     GetOrder of one of this terminal's recent
 *                  orders, then ListOrders of that client (10 newest). The
 *                  manager's key.
 *    dispatch      (Delivery)         ListShipments: the 10 oldest REQUESTED in
 *                  the warehouse, then UpdateShipment DISPATCHED for each
 *                  (logistics consumes the reservation, receivables invoices
 *                  it from the event). The warehouse system's key.
 *    stock level   (Stock-Level)      Availability of the SKUs of this
 *                  terminal's last 20 orders. The manager's key.
 *
 *  A transaction is measured from its first call to its last answer. Only
 *  those that start and end inside the measured window count; those of the
 *  warm-up and those cut by the end are dropped. Each terminal keeps its own
 *  histograms; they are added up at the end, so nothing is shared while
 *  measuring but the phase flag.
 */
#include "bench.h"

#include <czmq.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_client.h"
#include "kt_metrics.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"
#include "receivables.pb-c.h"

#define S_RECENT 20             //  orders a terminal remembers
#define S_MAX_LINES 10
#define S_DISPATCH_BATCH 10
#define S_HOT_SKUS 100
#define S_HOT_SHARE 20          //  percent of lines

enum { S_WARMUP = 0, S_MEASURE = 1, S_STOP = 2 };

const char *bench_tx_name(int tx)
{
    static const char *const names[] = {"PlaceOrder", "RecordPayment", "OrderStatus",
                                        "Dispatch", "StockLevel"};
    return tx >= 0 && tx < BENCH_TX_COUNT ? names[tx] : "?";
}

typedef struct {
    const bench_run_t *run;
    int index;
    atomic_int *phase;
    atomic_int *ready;
    bool failed;
    kt_client_t *mgr, *acct, *wms;
    int *clients;               //  the manager's clients
    int nclients;
    unsigned seed;
    long serial;
    //  recent orders (ring)
    int64_t recent_id[S_RECENT];
    int recent_client[S_RECENT];
    int64_t recent_sku[S_RECENT][S_MAX_LINES];
    int recent_n[S_RECENT];
    int nrecent, next_recent;
    bench_result_t results[BENCH_TX_COUNT];
} s_term_t;

//  One outcome of one call, folded into a transaction's outcome.
typedef struct {
    int status;                 //  KT_OK, or the first non-OK status
    char reason[KT_REASON_MAX + 1]; //  a refusal's reason
    bool refused;
    bool error;
} s_outcome_t;

static uint32_t s_rand(s_term_t *t, uint32_t n)
{
    //  rand_r gives 31 bits; two of them for ranges past 2^31 are not needed.
    return n ? (uint32_t) rand_r(&t->seed) % n : 0;
}

static void s_note(s_outcome_t *o, int status, const char *reason)
{
    if (o->error || o->refused)
        return;
    if (status == KT_OK)
        return;
    o->status = status;
    if (status == KT_FAILED_PRECONDITION) {
        o->refused = true;
        snprintf(o->reason, sizeof o->reason, "%s", reason && *reason ? reason : "refused");
    } else
        o->error = true;
}

static void s_reason_add(bench_result_t *r, const char *reason, uint64_t count)
{
    for (int i = 0; i < BENCH_MAX_REASONS; i++) {
        if (r->reasons[i][0] == 0) {
            snprintf(r->reasons[i], sizeof r->reasons[i], "%s", reason);
            r->reason_n[i] += count;
            return;
        }
        if (strcmp(r->reasons[i], reason) == 0) {
            r->reason_n[i] += count;
            return;
        }
    }
}

static kt_client_t *s_client_as(const kt_config_t *base, const char *name)
{
    kt_config_t cfg = *base;
    char dir[KT_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", base->cert);
    snprintf(cfg.cert, sizeof cfg.cert, "%s/%s.secret", dirname(dir), name);
    kt_client_t *c = kt_client_new(&cfg);
    if (!c)
        fprintf(stderr, "kontor-bench: cannot use the key of %s (%s)\n", name, cfg.cert);
    return c;
}

static kt_call_opts_t s_opts(s_term_t *t, const char *key)
{
    return (kt_call_opts_t) {.timeout_ms = t->run->timeout_ms, .retry = key != NULL,
                             .idem_key = key};
}

//  ---------------------------------------------------------------- transactions

static void s_place_order(s_term_t *t, s_outcome_t *o, uint64_t *confirmed)
{
    const bench_run_t *run = t->run;
    Kontor__Orders__LineRequest lines[S_MAX_LINES], *lp[S_MAX_LINES];
    int n = 5 + (int) s_rand(t, 6);
    for (int i = 0; i < n; i++) {
        int64_t sku;
        bool dup;
        do {
            if (run->hot && (int) s_rand(t, 100) < S_HOT_SHARE)
                sku = 1 + s_rand(t, S_HOT_SKUS);
            else if (run->hot)
                sku = S_HOT_SKUS + 1 + s_rand(t, (uint32_t) (run->shape.skus - S_HOT_SKUS));
            else
                sku = 1 + s_rand(t, (uint32_t) run->shape.skus);
            dup = false;
            for (int j = 0; j < i; j++)
                dup = dup || lines[j].sku == sku;
        } while (dup);
        kontor__orders__line_request__init(&lines[i]);
        lines[i].sku = sku;
        lines[i].qty = 1 + s_rand(t, 10);
        lp[i] = &lines[i];
    }
    int client = t->clients[s_rand(t, (uint32_t) t->nclients)];
    Kontor__Orders__PlaceOrderRequest req = KONTOR__ORDERS__PLACE_ORDER_REQUEST__INIT;
    req.client_id = client;
    req.warehouse_id = run->warehouse_id;
    req.lines = lp;
    req.n_lines = (size_t) n;
    req.delivery_method = KONTOR__DELIVERY_METHOD__OWN_FLEET;
    char key[96];
    snprintf(key, sizeof key, "bench-%s-%d-%ld", run->run_id, t->index, t->serial++);
    kt_call_opts_t opts = s_opts(t, key);
    kt_reply_t reply;
    ProtobufCMessage *out = NULL;
    int st = kt_client_call(t->mgr, "orders", "PlaceOrder", &req.base,
                            &kontor__orders__place_order_reply__descriptor, &out, &opts, &reply);
    const Kontor__Orders__PlaceOrderReply *rep = (const Kontor__Orders__PlaceOrderReply *) out;
    if (st == KT_OK && rep && rep->order) {
        const Kontor__Orders__Order *ord = rep->order;
        if (ord->status == KONTOR__ORDERS__ORDER_STATUS__CONFIRMED) {
            (*confirmed)++;
            int k = t->next_recent;
            t->recent_id[k] = ord->order_id;
            t->recent_client[k] = client;
            t->recent_n[k] = n;
            for (int i = 0; i < n; i++)
                t->recent_sku[k][i] = lines[i].sku;
            t->next_recent = (k + 1) % S_RECENT;
            if (t->nrecent < S_RECENT)
                t->nrecent++;
        } else {
            //  Kept waiting (approval, back-order): a business refusal.
            o->refused = true;
            o->status = KT_FAILED_PRECONDITION;
            snprintf(o->reason, sizeof o->reason, "%.48s",
                     ord->reason[0] ? ord->reason : "waiting");
        }
    } else
        s_note(o, st == KT_OK ? KT_INTERNAL : st, reply.reason);
    kt_msg_free(out);
    kt_reply_clear(&reply);
}

static void s_payment(s_term_t *t, s_outcome_t *o)
{
    Kontor__Receivables__RecordPaymentRequest req =
        KONTOR__RECEIVABLES__RECORD_PAYMENT_REQUEST__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT;
    amount.units = 100 + s_rand(t, 500000 - 100 + 1);
    amount.currency = (char *) "EUR";
    char ref[96];
    snprintf(ref, sizeof ref, "bench-%s-%d-%ld", t->run->run_id, t->index, t->serial++);
    req.client_id = t->clients[s_rand(t, (uint32_t) t->nclients)];
    req.amount = &amount;
    req.reference = ref;
    kt_call_opts_t opts = s_opts(t, NULL);
    opts.retry = true;  //  idempotent by its reference
    kt_reply_t reply;
    int st = kt_client_call(t->acct, "receivables", "RecordPayment", &req.base,
                            &kontor__receivables__record_payment_reply__descriptor, NULL, &opts,
                            &reply);
    s_note(o, st, reply.reason);
    kt_reply_clear(&reply);
}

static void s_order_status(s_term_t *t, s_outcome_t *o)
{
    int client;
    kt_reply_t reply;
    kt_call_opts_t opts = s_opts(t, NULL);
    opts.retry = true;
    if (t->nrecent > 0) {
        int k = (int) s_rand(t, (uint32_t) t->nrecent);
        client = t->recent_client[k];
        Kontor__Orders__OrderRef ref = KONTOR__ORDERS__ORDER_REF__INIT;
        ref.order_id = t->recent_id[k];
        int st = kt_client_call(t->mgr, "orders", "GetOrder", &ref.base,
                                &kontor__orders__order_reply__descriptor, NULL, &opts, &reply);
        s_note(o, st, reply.reason);
        kt_reply_clear(&reply);
    } else
        client = t->clients[s_rand(t, (uint32_t) t->nclients)];
    Kontor__Orders__ListOrdersRequest lr = KONTOR__ORDERS__LIST_ORDERS_REQUEST__INIT;
    lr.client_id = client;
    lr.page_size = 10;
    int st = kt_client_call(t->mgr, "orders", "ListOrders", &lr.base,
                            &kontor__orders__list_orders_reply__descriptor, NULL, &opts, &reply);
    s_note(o, st, reply.reason);
    kt_reply_clear(&reply);
}

static void s_dispatch(s_term_t *t, s_outcome_t *o, uint64_t *dispatched)
{
    Kontor__Logistics__ListShipmentsRequest lr = KONTOR__LOGISTICS__LIST_SHIPMENTS_REQUEST__INIT;
    lr.status = KONTOR__LOGISTICS__SHIPMENT_STATUS__REQUESTED;
    lr.warehouse_id = t->run->warehouse_id;
    lr.limit = S_DISPATCH_BATCH;
    kt_call_opts_t opts = s_opts(t, NULL);
    opts.retry = true;  //  a read, and UpdateShipment is idempotent by the status it sets
    kt_reply_t reply;
    ProtobufCMessage *out = NULL;
    int st = kt_client_call(t->wms, "logistics", "ListShipments", &lr.base,
                            &kontor__logistics__list_shipments_reply__descriptor, &out, &opts,
                            &reply);
    s_note(o, st, reply.reason);
    kt_reply_clear(&reply);
    const Kontor__Logistics__ListShipmentsReply *rep =
        (const Kontor__Logistics__ListShipmentsReply *) out;
    for (size_t i = 0; st == KT_OK && rep && i < rep->n_shipments; i++) {
        Kontor__Logistics__UpdateShipmentRequest up =
            KONTOR__LOGISTICS__UPDATE_SHIPMENT_REQUEST__INIT;
        up.shipment_id = rep->shipments[i]->shipment_id;
        up.status = KONTOR__LOGISTICS__SHIPMENT_STATUS__DISPATCHED;
        int s2 = kt_client_call(t->wms, "logistics", "UpdateShipment", &up.base, NULL, NULL,
                                &opts, &reply);
        if (s2 == KT_OK)
            (*dispatched)++;
        s_note(o, s2, reply.reason);
        kt_reply_clear(&reply);
    }
    kt_msg_free(out);
}

static void s_stock_level(s_term_t *t, s_outcome_t *o)
{
    int64_t skus[S_RECENT * S_MAX_LINES];
    size_t n = 0;
    for (int k = 0; k < t->nrecent; k++)
        for (int i = 0; i < t->recent_n[k]; i++) {
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = skus[j] == t->recent_sku[k][i];
            if (!dup)
                skus[n++] = t->recent_sku[k][i];
        }
    if (n == 0)
        skus[n++] = 1 + s_rand(t, (uint32_t) t->run->shape.skus);
    Kontor__Logistics__AvailabilityRequest req = KONTOR__LOGISTICS__AVAILABILITY_REQUEST__INIT;
    req.skus = skus;
    req.n_skus = n;
    req.warehouse_id = t->run->warehouse_id;
    kt_call_opts_t opts = s_opts(t, NULL);
    opts.retry = true;
    kt_reply_t reply;
    int st = kt_client_call(t->mgr, "logistics", "Availability", &req.base,
                            &kontor__logistics__availability_reply__descriptor, NULL, &opts,
                            &reply);
    s_note(o, st, reply.reason);
    kt_reply_clear(&reply);
}

//  ---------------------------------------------------------------- a terminal

static int s_pick(s_term_t *t)
{
    int r = (int) s_rand(t, 100), acc = 0;
    for (int tx = 0; tx < BENCH_TX_COUNT; tx++) {
        acc += t->run->mix[tx];
        if (r < acc)
            return tx;
    }
    return BENCH_TX_ORDER;
}

static void *s_terminal(void *arg)
{
    s_term_t *t = arg;
    const bench_run_t *run = t->run;
    int m = t->index % run->shape.managers + 1;
    char name[64];
    snprintf(name, sizeof name, "bench-manager-%d", m);
    t->mgr = s_client_as(run->cfg, name);
    t->acct = s_client_as(run->cfg, BENCH_ACCOUNTANT);
    t->wms = s_client_as(run->cfg, BENCH_WMS);
    t->clients = calloc((size_t) run->shape.clients, sizeof *t->clients);
    if (!t->mgr || !t->acct || !t->wms || !t->clients)
        t->failed = true;
    for (int c = 1; !t->failed && c <= run->shape.clients; c++)
        if (bench_manager_of(&run->shape, c) == m)
            t->clients[t->nclients++] = c;
    if (t->nclients == 0)
        t->failed = true;
    atomic_fetch_add(t->ready, 1);
    while (!t->failed && atomic_load(t->phase) != S_STOP) {
        int tx = s_pick(t);
        int phase0 = atomic_load(t->phase);
        s_outcome_t o = {0};
        uint64_t items = 0;
        int64_t t0 = kt_now_us();
        switch (tx) {
        case BENCH_TX_ORDER:
            s_place_order(t, &o, &items);
            break;
        case BENCH_TX_PAYMENT:
            s_payment(t, &o);
            break;
        case BENCH_TX_STATUS:
            s_order_status(t, &o);
            break;
        case BENCH_TX_DISPATCH:
            s_dispatch(t, &o, &items);
            break;
        default:
            s_stock_level(t, &o);
            break;
        }
        int64_t took = kt_now_us() - t0;
        if (phase0 != S_MEASURE || atomic_load(t->phase) != S_MEASURE)
            continue;
        bench_result_t *r = &t->results[tx];
        r->items += items;
        if (o.error) {
            r->errors++;
            if (o.status >= 0 && o.status < 20)
                r->status_n[o.status]++;
            continue;
        }
        bench_hist_add(&r->hist, took);
        if (o.refused) {
            r->refused++;
            s_reason_add(r, o.reason, 1);
        } else
            r->ok++;
    }
    kt_client_destroy(&t->mgr);
    kt_client_destroy(&t->acct);
    kt_client_destroy(&t->wms);
    free(t->clients);
    return NULL;
}

static void s_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

//  Sleep in the main thread, where the stop signals are blocked
//  (kt_process_init): false if one came first.
static bool s_wait_ms(int64_t ms)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    int64_t until = kt_now_ms() + ms;
    while (true) {
        int64_t left = until - kt_now_ms();
        if (left <= 0)
            return true;
        struct timespec ts = {left / 1000, (left % 1000) * 1000000};
        int sig = sigtimedwait(&stop, NULL, &ts);
        if (sig > 0) {
            fprintf(stderr, "kontor-bench: stopped by signal %d\n", sig);
            return false;
        }
    }
}

int bench_run(const bench_run_t *run, bench_result_t *results, double *elapsed_s,
              void (*on_measure)(void *), void (*on_end)(void *), void *arg)
{
    atomic_int phase, ready;
    atomic_init(&phase, S_WARMUP);
    atomic_init(&ready, 0);
    s_term_t *terms = calloc((size_t) run->terminals, sizeof *terms);
    pthread_t *th = calloc((size_t) run->terminals, sizeof *th);
    if (!terms || !th) {
        free(terms);
        free(th);
        return -1;
    }
    //  CZMQ initialises itself on the first socket; many threads making
    //  their first sockets at once race in it (an assertion in zsys.c).
    zsys_init();
    int started = 0;
    for (int i = 0; i < run->terminals; i++) {
        terms[i] = (s_term_t) {.run = run, .index = i, .phase = &phase, .ready = &ready,
                               .seed = (unsigned) (0x9e3779b9u * (unsigned) (i + 1))
                                       ^ (unsigned) kt_wall_ms()};
        if (pthread_create(&th[i], NULL, s_terminal, &terms[i]) != 0)
            break;
        started++;
    }
    while (atomic_load(&ready) < started)
        s_sleep_ms(10);
    bool failed = started < run->terminals;
    for (int i = 0; i < started; i++)
        failed = failed || terms[i].failed;
    if (!failed && !s_wait_ms((int64_t) run->warmup_s * 1000))
        failed = true;
    if (!failed) {
        int64_t t0 = kt_now_us();
        if (on_measure)
            on_measure(arg);
        atomic_store(&phase, S_MEASURE);
        failed = !s_wait_ms((int64_t) run->seconds * 1000);
        atomic_store(&phase, S_STOP);
        *elapsed_s = (double) (kt_now_us() - t0) / 1e6;
        if (on_end)
            on_end(arg);
    }
    atomic_store(&phase, S_STOP);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    memset(results, 0, sizeof *results * BENCH_TX_COUNT);
    for (int i = 0; i < started; i++)
        for (int tx = 0; tx < BENCH_TX_COUNT; tx++) {
            bench_result_t *r = &results[tx];
            const bench_result_t *f = &terms[i].results[tx];
            bench_hist_merge(&r->hist, &f->hist);
            r->ok += f->ok;
            r->refused += f->refused;
            r->errors += f->errors;
            r->items += f->items;
            for (int s = 0; s < 20; s++)
                r->status_n[s] += f->status_n[s];
            for (int k = 0; k < BENCH_MAX_REASONS && f->reasons[k][0]; k++)
                s_reason_add(r, f->reasons[k], f->reason_n[k]);
        }
    free(terms);
    free(th);
    return failed ? -1 : 0;
}
