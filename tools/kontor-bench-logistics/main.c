/*  kontor-bench-logistics - ReserveStock throughput and latency.
 *
 *      kontor-bench-logistics [--skus N] [--seconds S] [--lines L]
 *                             [--callers 1,8,32] [--hot-skus H] [--hot-share P]
 *
 *  Runs against a Kontor set whose KONTOR_* environment it is given, as a
 *  principal that may seed stock and reserve it (admin). It seeds one
 *  warehouse ("BENCH") with N products (SKUs 10,000,001 ..) and 10^9 units
 *  of each, through the service's own methods (UpsertProduct and Receive,
 *  1,000 per call, idempotent keys, so a second run reuses the seed). Then,
 *  for each mode (uniform; hot: P% of lines on the first H SKUs) and each
 *  number of concurrent callers C, it runs C threads for S seconds, each
 *  with its own bus client, calling ReserveStock with L lines of one unit
 *  (distinct SKUs, new order id each call, held 10 minutes) back to back.
 *
 *  Figures (reported, never judged): reservations per second (OK replies /
 *  wall time), p50 / p99 / max latency of a call as the caller sees it
 *  (sorted samples, microseconds), refusals and errors. A plain table on
 *  stdout; progress on stderr. Exit 0 when every phase ran, 1 when seeding
 *  failed, 2 on a usage error.
 *
 *  Defaults: 100,000 SKUs, 5 s per phase, 5 lines, callers 1, 8 and 32,
 *  100 hot SKUs taking 20 % of the lines.
 */
#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_client.h"
#include "kt_config.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_process.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"

#define S_SKU_BASE 10000000LL
#define S_BATCH 1000
#define S_MAX_CALLERS 256
#define S_MAX_LINES 50
#define S_STOCK 1000000000LL
#define S_HOLD_S 600

typedef struct {
    int64_t skus;
    int seconds;
    int lines;
    int callers[16];
    int ncallers;
    int hot_skus;
    int hot_share;      //  percent
} s_opts_t;

typedef struct {
    const kt_config_t *cfg;
    const s_opts_t *opts;
    int64_t warehouse;
    bool hot;
    int index;
    atomic_llong *next_order;       //  order ids, shared by every caller of a run
    int64_t end_ms;
    //  out
    int64_t *lat_us;
    size_t n;
    size_t cap;
    int64_t ok;
    int64_t refused;
    int64_t errors;
} s_caller_t;

static int s_call(kt_client_t *client, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *rd, ProtobufCMessage **out, const char *key,
                  char *message, size_t size)
{
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = 60000, .idem_key = key, .retry = key != NULL};
    int status = kt_client_call(client, "logistics", method, req, rd, out, &opts, &reply);
    if (message)
        snprintf(message, size, "%s", reply.message);
    kt_reply_clear(&reply);
    return status;
}

static int s_seed(kt_client_t *client, const s_opts_t *opts, int64_t *warehouse)
{
    char message[KT_MESSAGE_MAX + 1];
    Kontor__Logistics__UpsertWarehouseRequest wr = KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REQUEST__INIT;
    wr.code = "BENCH";
    wr.name = "Bench warehouse";
    wr.kind = KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL;
    wr.branch_id = 1;
    ProtobufCMessage *out = NULL;
    int st = s_call(client, "UpsertWarehouse", &wr.base,
                    &kontor__logistics__upsert_warehouse_reply__descriptor, &out, NULL, message,
                    sizeof message);
    if (st != KT_OK) {
        kt_error("UpsertWarehouse: %s: %s", kt_status_name(st), message);
        return -1;
    }
    *warehouse = ((Kontor__Logistics__UpsertWarehouseReply *) out)->warehouse->warehouse_id;
    kt_msg_free(out);
    Kontor__Logistics__Product *ps = calloc(S_BATCH, sizeof *ps);
    Kontor__Logistics__Product **pp = calloc(S_BATCH, sizeof *pp);
    Kontor__Logistics__StockLine *ls = calloc(S_BATCH, sizeof *ls);
    Kontor__Logistics__StockLine **lp = calloc(S_BATCH, sizeof *lp);
    char(*names)[32] = calloc(S_BATCH, 32);
    int rc = 0;
    int64_t t0 = kt_now_ms();
    for (int64_t at = 0; rc == 0 && at < opts->skus; at += S_BATCH) {
        size_t n = (size_t) (opts->skus - at < S_BATCH ? opts->skus - at : S_BATCH);
        for (size_t i = 0; i < n; i++) {
            int64_t sku = S_SKU_BASE + at + (int64_t) i + 1;
            kontor__logistics__product__init(&ps[i]);
            snprintf(names[i], 32, "Bench product %" PRId64, sku);
            ps[i].sku = sku;
            ps[i].name = names[i];
            ps[i].unit = "pcs";
            ps[i].weight_g = 100;
            pp[i] = &ps[i];
            kontor__logistics__stock_line__init(&ls[i]);
            ls[i].sku = sku;
            ls[i].qty = S_STOCK;
            lp[i] = &ls[i];
        }
        Kontor__Logistics__UpsertProductRequest pr = KONTOR__LOGISTICS__UPSERT_PRODUCT_REQUEST__INIT;
        pr.n_products = n;
        pr.products = pp;
        st = s_call(client, "UpsertProduct", &pr.base,
                    &kontor__logistics__upsert_product_reply__descriptor, NULL, NULL, message,
                    sizeof message);
        if (st != KT_OK) {
            kt_error("UpsertProduct: %s: %s", kt_status_name(st), message);
            rc = -1;
            break;
        }
        Kontor__Logistics__ReceiveRequest rr = KONTOR__LOGISTICS__RECEIVE_REQUEST__INIT;
        rr.warehouse_id = *warehouse;
        rr.n_lines = n;
        rr.lines = lp;
        char key[64];
        snprintf(key, sizeof key, "bench-seed-%" PRId64 "-%" PRId64, *warehouse, at);
        st = s_call(client, "Receive", &rr.base, &kontor__logistics__stock_reply__descriptor,
                    NULL, key, message, sizeof message);
        if (st != KT_OK) {
            kt_error("Receive: %s: %s", kt_status_name(st), message);
            rc = -1;
        }
    }
    if (rc == 0)
        kt_info("seeded %" PRId64 " SKUs in warehouse %" PRId64 " in %lld ms", opts->skus,
                *warehouse, (long long) (kt_now_ms() - t0));
    free(names);
    free(lp);
    free(ls);
    free(pp);
    free(ps);
    return rc;
}

static void *s_caller_thread(void *arg)
{
    s_caller_t *self = arg;
    const s_opts_t *opts = self->opts;
    kt_client_t *client = kt_client_new(self->cfg);
    if (!client) {
        self->errors++;
        return NULL;
    }
    unsigned int seed = (unsigned int) (self->index * 2654435761u) ^ (unsigned int) kt_now_ms();
    Kontor__Logistics__StockLine lines[S_MAX_LINES];
    Kontor__Logistics__StockLine *lp[S_MAX_LINES];
    while (kt_now_ms() < self->end_ms) {
        int n = opts->lines;
        for (int i = 0; i < n; i++) {
            int64_t sku;
            bool dup;
            do {
                bool hot = self->hot && (int) (rand_r(&seed) % 100) < opts->hot_share;
                int64_t range = hot ? opts->hot_skus : opts->skus;
                int64_t r = ((int64_t) rand_r(&seed) << 16 ^ rand_r(&seed)) % range;
                sku = S_SKU_BASE + 1 + (r < 0 ? -r : r);
                dup = false;
                for (int j = 0; j < i; j++)
                    dup = dup || lines[j].sku == sku;
            } while (dup);
            kontor__logistics__stock_line__init(&lines[i]);
            lines[i].sku = sku;
            lines[i].qty = 1;
            lp[i] = &lines[i];
        }
        Kontor__Logistics__ReserveStockRequest req = KONTOR__LOGISTICS__RESERVE_STOCK_REQUEST__INIT;
        req.order_id = (int64_t) atomic_fetch_add(self->next_order, 1);
        req.warehouse_id = self->warehouse;
        req.hold_seconds = S_HOLD_S;
        req.n_lines = (size_t) n;
        req.lines = lp;
        int64_t t0 = kt_now_us();
        int st = s_call(client, "ReserveStock", &req.base,
                        &kontor__logistics__reserve_stock_reply__descriptor, NULL, NULL, NULL, 0);
        int64_t took = kt_now_us() - t0;
        if (self->n == self->cap) {
            self->cap = self->cap ? self->cap * 2 : 4096;
            self->lat_us = realloc(self->lat_us, self->cap * sizeof *self->lat_us);
        }
        self->lat_us[self->n++] = took;
        if (st == KT_OK)
            self->ok++;
        else if (st == KT_FAILED_PRECONDITION)
            self->refused++;
        else
            self->errors++;
    }
    kt_client_destroy(&client);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

static void s_phase(const kt_config_t *cfg, const s_opts_t *opts, int64_t warehouse, bool hot,
                    int callers, atomic_llong *next_order)
{
    s_caller_t *c = calloc((size_t) callers, sizeof *c);
    pthread_t *th = calloc((size_t) callers, sizeof *th);
    int64_t start = kt_now_ms();
    int64_t end = start + opts->seconds * 1000LL;
    for (int i = 0; i < callers; i++) {
        c[i] = (s_caller_t) {.cfg = cfg,
                             .opts = opts,
                             .warehouse = warehouse,
                             .hot = hot,
                             .index = i,
                             .next_order = next_order,
                             .end_ms = end};
        pthread_create(&th[i], NULL, s_caller_thread, &c[i]);
    }
    size_t total = 0;
    int64_t ok = 0, refused = 0, errors = 0;
    for (int i = 0; i < callers; i++) {
        pthread_join(th[i], NULL);
        total += c[i].n;
        ok += c[i].ok;
        refused += c[i].refused;
        errors += c[i].errors;
    }
    double secs = (double) (kt_now_ms() - start) / 1000.0;
    int64_t *all = calloc(total + 1, sizeof *all);
    size_t at = 0;
    for (int i = 0; i < callers; i++) {
        memcpy(all + at, c[i].lat_us, c[i].n * sizeof *all);
        at += c[i].n;
        free(c[i].lat_us);
    }
    qsort(all, total, sizeof *all, s_cmp);
    int64_t p50 = total ? all[total / 2] : 0;
    int64_t p99 = total ? all[(size_t) ((double) total * 0.99)] : 0;
    int64_t max = total ? all[total - 1] : 0;
    printf("%-8s %7d %9.0f %10.2f %10.2f %10.2f %9" PRId64 " %8" PRId64 " %7" PRId64 "\n",
           hot ? "hot" : "uniform", callers, (double) ok / secs, (double) p50 / 1000.0,
           (double) p99 / 1000.0, (double) max / 1000.0, ok, refused, errors);
    fflush(stdout);
    free(all);
    free(th);
    free(c);
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    *o = (s_opts_t) {.skus = 100000, .seconds = 5, .lines = 5, .callers = {1, 8, 32},
                     .ncallers = 3, .hot_skus = 100, .hot_share = 20};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (strcmp(a, "--skus") == 0)
            o->skus = atoll(v);
        else if (strcmp(a, "--seconds") == 0)
            o->seconds = atoi(v);
        else if (strcmp(a, "--lines") == 0)
            o->lines = atoi(v);
        else if (strcmp(a, "--hot-skus") == 0)
            o->hot_skus = atoi(v);
        else if (strcmp(a, "--hot-share") == 0)
            o->hot_share = atoi(v);
        else if (strcmp(a, "--callers") == 0) {
            o->ncallers = 0;
            char copy[128];
            snprintf(copy, sizeof copy, "%s", v);
            for (char *t = strtok(copy, ","); t && o->ncallers < 16; t = strtok(NULL, ","))
                o->callers[o->ncallers++] = atoi(t);
        } else
            return -1;
        i++;
    }
    if (o->skus < 100 || o->skus > 10000000 || o->seconds < 1 || o->seconds > 600 || o->lines < 1
        || o->lines > S_MAX_LINES || o->hot_skus < o->lines || o->hot_skus > o->skus
        || o->hot_share < 0 || o->hot_share > 100 || o->ncallers == 0)
        return -1;
    for (int i = 0; i < o->ncallers; i++)
        if (o->callers[i] < 1 || o->callers[i] > S_MAX_CALLERS)
            return -1;
    return 0;
}

int main(int argc, char **argv)
{
    s_opts_t opts;
    if (s_parse(argc, argv, &opts) != 0) {
        fprintf(stderr, "usage: kontor-bench-logistics [--skus N] [--seconds S] [--lines L]"
                        " [--callers 1,8,32] [--hot-skus H] [--hot-share PERCENT]\n");
        return 2;
    }
    char *args[] = {argv[0]};
    if (kt_process_init(1, args, "kontor-bench-logistics") != 0)
        return 2;
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "bench", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bench-logistics: %s\n", why);
        return 2;
    }
    kt_log_init("bench-logistics", cfg.log_level);
    kt_client_t *client = kt_client_new(&cfg);
    if (!client)
        return 1;
    int64_t warehouse = 0;
    int rc = s_seed(client, &opts, &warehouse);
    kt_client_destroy(&client);
    if (rc != 0)
        return 1;
    printf("ReserveStock: %" PRId64 " SKUs, %d lines of 1 unit per call, %d s per row;"
           " hot = %d%% of lines on %d SKUs\n",
           opts.skus, opts.lines, opts.seconds, opts.hot_share, opts.hot_skus);
    printf("%-8s %7s %9s %10s %10s %10s %9s %8s %7s\n", "mode", "callers", "resv/s", "p50 ms",
           "p99 ms", "max ms", "ok", "refused", "errors");
    //  New order ids every run: wall-clock milliseconds times 1,000, then one by one.
    atomic_llong next_order;
    atomic_init(&next_order, (long long) time(NULL) * 1000000LL);
    for (int hot = 0; hot <= 1; hot++)
        for (int i = 0; i < opts.ncallers; i++)
            s_phase(&cfg, &opts, warehouse, hot == 1, opts.callers[i], &next_order);
    return 0;
}
