/*  kontor-bench-orders - PlaceOrder throughput and latency through the
 *  whole set (bus, orders, receivables, logistics, clients), and Quote.
 *
 *  Runs against a running set whose environment is given (KONTOR_* as
 *  `kontor-local.sh env admin` prints, or as the harness sets them), acting
 *  as a principal that may set up data: admin. It makes its own data first,
 *  through the services' methods (a branch, territory and manager in
 *  clients, clients with terms, a warehouse, products and stock in
 *  logistics, a price list in orders), then places orders at 1, 8 and 32
 *  concurrent callers and quotes at 8, for a fixed time each.
 *
 *  Workload, the monolith reference's (shared/bench/monolith): 5 to 10
 *  lines, quantities 1 to 10, SKUs uniform over all SKUs; clients' price
 *  columns A to D and discounts 0 to 5 %; ample stock and credit.
 *
 *  Environment: KT_BENCH_SECONDS (per run, default 10), KT_BENCH_SKUS
 *  (default 2000), KT_BENCH_CLIENTS (default 200), KT_BENCH_CALLERS
 *  ("1,8,32"). Prints one line per run: calls, OK, orders/s, p50, p99 (ms,
 *  from the sorted samples), and a JSON line per run on stdout with -j.
 */
#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_metrics.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"

#define S_MAX_CALLERS 64
#define S_MAX_CLIENTS 2000

static kt_config_t s_cfg;
static int64_t s_wh;
static int64_t s_clients[S_MAX_CLIENTS];
static int s_nclients;
static int s_nskus;
static atomic_long s_key;
static char s_run_id[32];

static int s_call(kt_client_t *c, const char *service, const char *method,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out, bool keyed)
{
    char key[80];
    snprintf(key, sizeof key, "bench-%s-%ld", s_run_id, atomic_fetch_add(&s_key, 1));
    kt_call_opts_t opts = {.timeout_ms = 30000, .retry = keyed, .idem_key = keyed ? key : NULL};
    kt_reply_t reply;
    ProtobufCMessage *o = NULL;
    int st = kt_client_call(c, service, method, req, desc, &o, &opts, &reply);
    if (st != KT_OK && strcmp(method, "Quote") != 0 && strcmp(method, "PlaceOrder") != 0)
        fprintf(stderr, "kontor-bench-orders: %s.%s: %s %s: %s\n", service, method,
                kt_status_name(st), reply.field, reply.message);
    kt_reply_clear(&reply);
    if (out)
        *out = o;
    else
        kt_msg_free(o);
    return st;
}

static int s_env(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

//  ---------------------------------------------------------------- data

static int s_setup(kt_client_t *c)
{
    ProtobufCMessage *out = NULL;
    char code[48], name[80];
    //  clients: branch, territory, the head as manager, clients with terms
    Kontor__Clients__Branch br = KONTOR__CLIENTS__BRANCH__INIT;
    snprintf(code, sizeof code, "B%s", s_run_id);
    br.code = code;
    br.name = (char *) "Bench branch";
    if (s_call(c, "clients", "UpsertBranch", &br.base, &kontor__clients__branch__descriptor, &out,
               false) != KT_OK)
        return -1;
    int64_t branch = ((Kontor__Clients__Branch *) out)->id;
    kt_msg_free(out);
    Kontor__Clients__Manager mg = KONTOR__CLIENTS__MANAGER__INIT;
    mg.id = 1;
    mg.name = (char *) "Head of wholesale";
    mg.role = KONTOR__CLIENTS__MANAGER_ROLE__ROLE_HEAD;
    mg.branch_id = branch;
    if (s_call(c, "clients", "UpsertManager", &mg.base, &kontor__clients__manager__descriptor,
               NULL, false) != KT_OK)
        return -1;
    Kontor__Clients__Territory te = KONTOR__CLIENTS__TERRITORY__INIT;
    snprintf(name, sizeof name, "Bench territory %s", s_run_id);
    te.branch_id = branch;
    te.name = name;
    if (s_call(c, "clients", "UpsertTerritory", &te.base,
               &kontor__clients__territory__descriptor, &out, false) != KT_OK)
        return -1;
    int64_t territory = ((Kontor__Clients__Territory *) out)->id;
    kt_msg_free(out);
    for (int i = 0; i < s_nclients; i++) {
        Kontor__Clients__CreateClientRequest cc = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
        char cname[64], tax[24];
        snprintf(cname, sizeof cname, "Bench client %s-%d", s_run_id, i);
        snprintf(tax, sizeof tax, "%08d%04d", atoi(s_run_id) % 100000000, i);
        cc.name = cname;
        cc.tax_id = tax;
        cc.status = KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE;
        cc.territory_id = territory;
        cc.manager_id = 1;
        cc.currency = (char *) "EUR";
        cc.code = (char *) "";
        cc.legal_address = cc.delivery_address = cc.segment = (char *) "";
        if (s_call(c, "clients", "CreateClient", &cc.base,
                   &kontor__clients__client_card__descriptor, &out, false) != KT_OK)
            return -1;
        s_clients[i] = ((Kontor__Clients__ClientCard *) out)->id;
        kt_msg_free(out);
        Kontor__Clients__SetTermsRequest st = KONTOR__CLIENTS__SET_TERMS_REQUEST__INIT;
        Kontor__Money limit = KONTOR__MONEY__INIT;
        limit.units = 100000000000LL;
        limit.currency = (char *) "EUR";
        static const char *const cols[] = {"A", "B", "C", "D"};
        st.client_id = s_clients[i];
        st.price_column = (char *) cols[i % 4];
        st.discount_bp = (i % 6) * 100;
        st.payment_days = 30;
        st.grace_days = 10;
        st.credit_limit = &limit;
        st.short_policy = KONTOR__CLIENTS__SHORT_POLICY__SHIP_AVAILABLE;
        st.why = (char *) "benchmark";
        st.contract_number = st.contract_date = st.contract_until = (char *) "";
        if (s_call(c, "clients", "SetTerms", &st.base, &kontor__clients__terms_reply__descriptor,
                   NULL, false) != KT_OK)
            return -1;
    }
    //  logistics: a warehouse, products, stock
    Kontor__Logistics__UpsertWarehouseRequest wr = KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REQUEST__INIT;
    snprintf(code, sizeof code, "W%s", s_run_id);
    wr.code = code;
    wr.name = (char *) "Bench warehouse";
    wr.kind = KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL;
    wr.branch_id = branch;
    wr.address = (char *) "";
    if (s_call(c, "logistics", "UpsertWarehouse", &wr.base,
               &kontor__logistics__upsert_warehouse_reply__descriptor, &out, false)
        != KT_OK)
        return -1;
    s_wh = ((Kontor__Logistics__UpsertWarehouseReply *) out)->warehouse->warehouse_id;
    kt_msg_free(out);
    for (int from = 0; from < s_nskus; from += 1000) {
        int n = s_nskus - from < 1000 ? s_nskus - from : 1000;
        Kontor__Logistics__Product *p = calloc((size_t) n, sizeof *p);
        Kontor__Logistics__Product **pp = calloc((size_t) n, sizeof *pp);
        Kontor__Logistics__StockLine *sl = calloc((size_t) n, sizeof *sl);
        Kontor__Logistics__StockLine **slp = calloc((size_t) n, sizeof *slp);
        char(*names)[24] = calloc((size_t) n, sizeof *names);
        for (int i = 0; i < n; i++) {
            kontor__logistics__product__init(&p[i]);
            p[i].sku = from + i + 1;
            snprintf(names[i], sizeof names[i], "SKU %d", from + i + 1);
            p[i].name = names[i];
            p[i].unit = (char *) "pcs";
            p[i].storage = p[i].transport = p[i].analog_group = (char *) "";
            pp[i] = &p[i];
            kontor__logistics__stock_line__init(&sl[i]);
            sl[i].sku = from + i + 1;
            sl[i].qty = 150000;
            slp[i] = &sl[i];
        }
        Kontor__Logistics__UpsertProductRequest up = KONTOR__LOGISTICS__UPSERT_PRODUCT_REQUEST__INIT;
        up.products = pp;
        up.n_products = (size_t) n;
        Kontor__Logistics__ReceiveRequest rr = KONTOR__LOGISTICS__RECEIVE_REQUEST__INIT;
        rr.warehouse_id = s_wh;
        rr.lines = slp;
        rr.n_lines = (size_t) n;
        rr.note = (char *) "";
        int ok = s_call(c, "logistics", "UpsertProduct", &up.base,
                        &kontor__logistics__upsert_product_reply__descriptor, NULL, false)
                     == KT_OK
                 && s_call(c, "logistics", "Receive", &rr.base,
                           &kontor__logistics__stock_reply__descriptor, NULL, true)
                        == KT_OK;
        free(p);
        free(pp);
        free(sl);
        free(slp);
        free(names);
        if (!ok)
            return -1;
    }
    //  orders: a price list with columns A to D
    Kontor__Orders__PriceList pl = KONTOR__ORDERS__PRICE_LIST__INIT;
    snprintf(name, sizeof name, "Bench %s", s_run_id);
    pl.name = name;
    pl.currency = (char *) "EUR";
    pl.valid_from = (char *) "2020-01-01";
    pl.valid_to = (char *) "";
    Kontor__Orders__UpsertPriceListRequest ul = KONTOR__ORDERS__UPSERT_PRICE_LIST_REQUEST__INIT;
    ul.list = &pl;
    if (s_call(c, "orders", "UpsertPriceList", &ul.base,
               &kontor__orders__upsert_price_list_reply__descriptor, &out, false)
        != KT_OK)
        return -1;
    int64_t list = ((Kontor__Orders__UpsertPriceListReply *) out)->list->price_list_id;
    kt_msg_free(out);
    static const char *const cols[] = {"A", "B", "C", "D"};
    for (int from = 0; from < s_nskus; from += 1000) {
        int n = s_nskus - from < 1000 ? s_nskus - from : 1000;
        Kontor__Orders__Price *pr = calloc((size_t) n * 4, sizeof *pr);
        Kontor__Orders__Price **prp = calloc((size_t) n * 4, sizeof *prp);
        for (int i = 0; i < n * 4; i++) {
            kontor__orders__price__init(&pr[i]);
            pr[i].sku = from + i / 4 + 1;
            pr[i].column = (char *) cols[i % 4];
            pr[i].price = 1000 + (from + i / 4) % 9000 - (i % 4) * 10;
            prp[i] = &pr[i];
        }
        Kontor__Orders__SetPricesRequest sp = KONTOR__ORDERS__SET_PRICES_REQUEST__INIT;
        sp.price_list_id = list;
        sp.prices = prp;
        sp.n_prices = (size_t) n * 4;
        int st = s_call(c, "orders", "SetPrices", &sp.base,
                        &kontor__orders__set_prices_reply__descriptor, NULL, false);
        free(pr);
        free(prp);
        if (st != KT_OK)
            return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------- runs

typedef struct {
    int index;
    bool quote;
    int64_t until_ms;
    int64_t *samples;       //  microseconds
    size_t n, cap;
    long ok, calls;
} s_caller_t;

static void *s_caller(void *arg)
{
    s_caller_t *w = arg;
    kt_client_t *c = kt_client_new(&s_cfg);
    unsigned seed = (unsigned) (w->index * 7919 + (int) (kt_wall_ms() % 1000));
    Kontor__Orders__LineRequest lines[10], *lp[10];
    while (c && kt_now_ms() < w->until_ms) {
        size_t n = 5 + (size_t) (rand_r(&seed) % 6);
        for (size_t i = 0; i < n; i++) {
            kontor__orders__line_request__init(&lines[i]);
            bool dup;
            do {
                lines[i].sku = 1 + rand_r(&seed) % (unsigned) s_nskus;
                dup = false;
                for (size_t j = 0; j < i; j++)
                    dup |= lines[j].sku == lines[i].sku;
            } while (dup);
            lines[i].qty = 1 + rand_r(&seed) % 10;
            lp[i] = &lines[i];
        }
        int64_t client = s_clients[rand_r(&seed) % (unsigned) s_nclients];
        int64_t t0 = kt_now_us();
        int st;
        if (w->quote) {
            Kontor__Orders__QuoteRequest q = KONTOR__ORDERS__QUOTE_REQUEST__INIT;
            q.client_id = client;
            q.warehouse_id = s_wh;
            q.lines = lp;
            q.n_lines = n;
            q.delivery_date = (char *) "";
            st = s_call(c, "orders", "Quote", &q.base, &kontor__orders__quote_reply__descriptor,
                        NULL, false);
        } else {
            Kontor__Orders__PlaceOrderRequest p = KONTOR__ORDERS__PLACE_ORDER_REQUEST__INIT;
            p.client_id = client;
            p.warehouse_id = s_wh;
            p.lines = lp;
            p.n_lines = n;
            p.delivery_method = KONTOR__DELIVERY_METHOD__OWN_FLEET;
            p.delivery_date = p.address = p.note = (char *) "";
            st = s_call(c, "orders", "PlaceOrder", &p.base,
                        &kontor__orders__place_order_reply__descriptor, NULL, true);
        }
        int64_t took = kt_now_us() - t0;
        w->calls++;
        if (st == KT_OK)
            w->ok++;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 1024;
            w->samples = realloc(w->samples, w->cap * sizeof *w->samples);
        }
        w->samples[w->n++] = took;
    }
    kt_client_destroy(&c);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

static void s_run(int callers, bool quote, int seconds, bool json)
{
    s_caller_t w[S_MAX_CALLERS];
    pthread_t th[S_MAX_CALLERS];
    int64_t start = kt_now_ms();
    for (int i = 0; i < callers; i++) {
        w[i] = (s_caller_t){.index = i, .quote = quote, .until_ms = start + seconds * 1000};
        pthread_create(&th[i], NULL, s_caller, &w[i]);
    }
    size_t total = 0;
    long ok = 0, calls = 0;
    for (int i = 0; i < callers; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
        ok += w[i].ok;
        calls += w[i].calls;
    }
    double elapsed = (double) (kt_now_ms() - start) / 1000.0;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < callers; i++) {
        memcpy(all + k, w[i].samples, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].samples);
    }
    qsort(all, total, sizeof *all, s_cmp);
    double p50 = total ? (double) all[total / 2] / 1000.0 : 0;
    double p99 = total ? (double) all[total * 99 / 100] / 1000.0 : 0;
    const char *what = quote ? "Quote" : "PlaceOrder";
    printf("%-10s callers %2d  calls %6ld  ok %6ld  %7.1f/s  p50 %7.2f ms  p99 %7.2f ms\n", what,
           callers, calls, ok, (double) ok / elapsed, p50, p99);
    if (json)
        printf("{\"method\":\"%s\",\"callers\":%d,\"calls\":%ld,\"ok\":%ld,\"per_s\":%.1f,"
               "\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
               what, callers, calls, ok, (double) ok / elapsed, p50, p99);
    fflush(stdout);
    free(all);
}

int main(int argc, char **argv)
{
    bool json = argc > 1 && strcmp(argv[1], "-j") == 0;
    char why[256];
    if (kt_config_load(&s_cfg, "kontor-bench-orders", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bench-orders: %s\n", why);
        return 2;
    }
    snprintf(s_run_id, sizeof s_run_id, "%lld", (long long) (kt_wall_ms() % 100000000));
    s_nskus = s_env("KT_BENCH_SKUS", 2000);
    s_nclients = s_env("KT_BENCH_CLIENTS", 200);
    if (s_nclients > S_MAX_CLIENTS)
        s_nclients = S_MAX_CLIENTS;
    int seconds = s_env("KT_BENCH_SECONDS", 10);
    kt_client_t *c = kt_client_new(&s_cfg);
    if (!c || s_setup(c) != 0) {
        fprintf(stderr, "kontor-bench-orders: could not set up the benchmark's data\n");
        kt_client_destroy(&c);
        return 1;
    }
    kt_client_destroy(&c);
    //  Orders that arrive before TermsChanged find the terms with GetTerms.
    const char *list = getenv("KT_BENCH_CALLERS");
    char buf[64];
    snprintf(buf, sizeof buf, "%s", list && *list ? list : "1,8,32");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int n = atoi(tok);
        if (n >= 1 && n <= S_MAX_CALLERS)
            s_run(n, false, seconds, json);
    }
    s_run(8, true, seconds, json);
    return 0;
}
