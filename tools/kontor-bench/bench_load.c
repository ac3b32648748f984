/*  bench_load - the benchmark's data set, written straight into a fresh
 *  set's schemas as the superuser.
 *
 *  The data are the monolith reference's (shared/bench/monolith/load.sql),
 *  made the same way: setseed(0.42), then one random() per SKU for its base
 *  price and one per SKU for its stock, in SKU order, so that with the
 *  reference's sizes every price and every stock figure is the same as the
 *  reference's (tests/bench/run.sh compares checksums of both). Clients:
 *  id i, 1 % blocked (i % 100 = 7), 2 % with a tight limit of 10,000.00
 *  (i % 50 = 0), the rest 1,000,000.00; price column A..D from 1 + i % 4;
 *  discount (i % 11) * 50 basis points. SKUs: base price 1.00..99.99 in
 *  column A, 95 %, 90 %, 85 % of it in B, C, D; one warehouse holding
 *  100,000..200,000 units of each.
 *
 *  Why SQL and not the methods: 10,000 CreateClient + SetTerms calls and
 *  100 UpsertProduct + Receive + SetPrices calls take minutes through the
 *  services; these statements take seconds. They write what the methods
 *  and the event consumers would have written, table by table:
 *
 *    clients      branches, managers, territories, clients, terms,
 *                 assignments (CreateClient, SetTerms, UpsertManager ...)
 *    orders       client_terms (what TermsChanged/ClientChanged leave),
 *                 price_lists, prices (UpsertPriceList, SetPrices)
 *    logistics    warehouses, products, stock, stock_moves 'receive'
 *                 (UpsertWarehouse, UpsertProduct, Receive)
 *    receivables  accounts with terms (what TermsChanged/ClientChanged leave)
 *
 *  What is not written: the events themselves (outbox rows), the terms
 *  history, idempotency rows of Receive; nothing in the benchmark reads
 *  them. The Redis availability cache is then rebuilt by the logistics
 *  service itself: the loader removes the cache's marker key, which makes
 *  the keeper rebuild everything from PostgreSQL within a second, and waits
 *  until every SKU is in the cache.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_metrics.h"
#include "kt_pg.h"
#include "kt_redis.h"

int bench_manager_of(const bench_shape_t *shape, int client)
{
    return (int) ((int64_t) (client - 1) * shape->managers / shape->clients) + 1;
}

//  The manager of client i, as bench_manager_of says: $1 clients, $2
//  managers, $3 the first manager's id - 1.
#define S_MGR_OF(i) "($3::bigint + ((" i " - 1)::bigint * $2::int / $1::int) + 1)"

static const kt_stmt_t s_fresh = {
    "bench_fresh",
    "SELECT (SELECT count(*) FROM clients.clients) + (SELECT count(*) FROM logistics.products)"
    "     + (SELECT count(*) FROM orders.orders) + (SELECT count(*) FROM receivables.accounts)",
    0};

//  The reference's random numbers, in the reference's order.
static const kt_stmt_t s_seed = {"bench_seed", "SELECT setseed(0.42)", 0};
static const kt_stmt_t s_src_products = {
    "bench_src_products",
    "CREATE TEMP TABLE bench_src_products AS"
    " SELECT i AS sku, (100 + floor(random() * 9900))::bigint AS b"
    "   FROM generate_series(1, $1::int) i",
    1};
static const kt_stmt_t s_src_stock = {
    "bench_src_stock",
    "CREATE TEMP TABLE bench_src_stock AS"
    " SELECT i AS sku, 100000 + (random() * 100000)::int AS on_hand"
    "   FROM generate_series(1, $1::int) i",
    1};

static const kt_stmt_t s_branch = {
    "bench_branch",
    "INSERT INTO clients.branches (code, name) VALUES ('BENCH', 'Bench branch') RETURNING id",
    0};
static const kt_stmt_t s_managers = {
    "bench_managers",
    "INSERT INTO clients.managers (id, name, role, branch_id)"
    " SELECT $1::bigint + k, 'Bench manager ' || k, 'manager', $3::bigint"
    "   FROM generate_series(1, $2::int) k",
    3};
static const kt_stmt_t s_territory = {
    "bench_territory",
    "INSERT INTO clients.territories (branch_id, name) VALUES ($1::bigint, 'Bench territory')"
    " RETURNING id",
    1};
static const kt_stmt_t s_clients = {
    "bench_clients",
    "INSERT INTO clients.clients (id, code, name, tax_id, status, branch_id, territory_id,"
    "       manager_id, found_by_manager_id)"
    " SELECT i, 'C' || lpad(i::text, 6, '0'), 'client ' || i, lpad(i::text, 10, '0'),"
    "        CASE WHEN i % 100 = 7 THEN 'blocked' ELSE 'active' END, $4::bigint, $5::bigint,"
    "        " S_MGR_OF("i") ", " S_MGR_OF("i")
    "   FROM generate_series(1, $1::int) i",
    5};
static const kt_stmt_t s_client_seq = {
    "bench_client_seq", "SELECT setval('clients.clients_id_seq', $1::bigint)", 1};
static const kt_stmt_t s_terms = {
    "bench_terms",
    "INSERT INTO clients.terms (client_id, price_column, discount_bp, payment_days, grace_days,"
    "       credit_limit, currency, short_policy, changed_by, why)"
    " SELECT i, chr(65 + i % 4), (i % 11) * 50, 30, 10,"
    "        CASE WHEN i % 50 = 0 THEN 1000000 ELSE 100000000 END, 'EUR', 'ship_available',"
    "        'bench-load', 'benchmark data'"
    "   FROM generate_series(1, $1::int) i",
    1};
static const kt_stmt_t s_assignments = {
    "bench_assignments",
    "INSERT INTO clients.assignments (client_id, to_manager_id, by, why)"
    " SELECT id, manager_id, 'bench-load', 'benchmark data' FROM clients.clients ORDER BY id",
    0};
//  As TermsChanged leaves it (orders_sql_terms_upsert): status 2 active, 3
//  blocked; short policy 1 ship available.
static const kt_stmt_t s_order_terms = {
    "bench_order_terms",
    "INSERT INTO orders.client_terms (client_id, price_column, discount_bp, payment_days,"
    "       credit_limit, currency, short_policy, status, manager_id, branch_id, version)"
    " SELECT c.id, t.price_column, t.discount_bp, t.payment_days, t.credit_limit, t.currency, 1,"
    "        CASE c.status WHEN 'blocked' THEN 3 ELSE 2 END, c.manager_id, c.branch_id,"
    "        c.version"
    "   FROM clients.clients c JOIN clients.terms t ON t.client_id = c.id",
    0};
//  As rcv_q_terms_event leaves it.
static const kt_stmt_t s_accounts = {
    "bench_accounts",
    "INSERT INTO receivables.accounts (client_id, currency, has_terms, credit_limit,"
    "       payment_days, grace_days, client_status, manager_id, branch_id, terms_version,"
    "       client_version)"
    " SELECT c.id, t.currency, true, t.credit_limit, t.payment_days, t.grace_days,"
    "        CASE c.status WHEN 'blocked' THEN 3 ELSE 2 END, c.manager_id, c.branch_id,"
    "        c.version, c.version"
    "   FROM clients.clients c JOIN clients.terms t ON t.client_id = c.id",
    0};
static const kt_stmt_t s_warehouse = {
    "bench_warehouse",
    "INSERT INTO logistics.warehouses (code, name, kind, branch_id)"
    " VALUES ('BENCH', 'Bench central warehouse', 'central', $1::bigint) RETURNING warehouse_id",
    1};
static const kt_stmt_t s_products = {
    "bench_products",
    "INSERT INTO logistics.products (sku, name, unit, weight_g)"
    " SELECT sku, 'sku ' || sku, 'pcs', 0 FROM bench_src_products ORDER BY sku",
    0};
static const kt_stmt_t s_stock = {
    "bench_stock",
    "INSERT INTO logistics.stock (warehouse_id, sku, on_hand, reserved)"
    " SELECT $1::bigint, sku, on_hand, 0 FROM bench_src_stock ORDER BY sku",
    1};
static const kt_stmt_t s_moves = {
    "bench_moves",
    "INSERT INTO logistics.stock_moves (warehouse_id, sku, delta, kind, ref, note)"
    " SELECT $1::bigint, sku, on_hand, 'receive', 'bench-load', '' FROM bench_src_stock"
    "  ORDER BY sku",
    1};
static const kt_stmt_t s_price_list = {
    "bench_price_list",
    "INSERT INTO orders.price_lists (name, currency, valid_from, updated_by)"
    " VALUES ('Bench prices', 'EUR', date '2020-01-01', 'bench-load') RETURNING price_list_id",
    0};
static const kt_stmt_t s_prices = {
    "bench_prices",
    "INSERT INTO orders.prices (sku, col, price_list_id, price)"
    " SELECT p.sku, c.col, $1::bigint,"
    "        CASE c.col WHEN 'A' THEN p.b WHEN 'B' THEN p.b * 95 / 100"
    "                   WHEN 'C' THEN p.b * 90 / 100 ELSE p.b * 85 / 100 END"
    "   FROM bench_src_products p CROSS JOIN (VALUES ('A'), ('B'), ('C'), ('D')) c(col)"
    "  ORDER BY p.sku, c.col",
    1};
static const kt_stmt_t s_checksum = {
    "bench_checksum",
    "SELECT (SELECT sum(b) FROM bench_src_products), (SELECT sum(on_hand) FROM bench_src_stock)",
    0};
static const kt_stmt_t s_drop = {
    "bench_drop", "DROP TABLE bench_src_products, bench_src_stock", 0};

static const char *const s_analyze[] = {
    "ANALYZE clients.clients, clients.terms, clients.managers, clients.assignments",
    "ANALYZE orders.client_terms, orders.prices, orders.price_lists",
    "ANALYZE logistics.products, logistics.stock, logistics.stock_moves, logistics.warehouses",
    "ANALYZE receivables.accounts",
    NULL,
};

static int64_t s_one(kt_pg_t *pg, const kt_stmt_t *stmt, const char *const *params, bool *ok)
{
    PGresult *res = kt_pg_exec(pg, stmt, params);
    if (!res) {
        fprintf(stderr, "kontor-bench: load: %s: %s\n", stmt->name, kt_pg_error(pg));
        *ok = false;
        return 0;
    }
    int64_t v = 0;
    if (PQntuples(res) > 0 && PQnfields(res) > 0 && PQftype(res, 0) != 2278 /* void */)
        v = kt_pg_i64(res, 0, 0);
    PQclear(res);
    return v;
}

typedef struct {
    const bench_shape_t *shape;
    int64_t warehouse_id;
    int64_t base_sum;
    int64_t stock_sum;
} s_load_t;

static int s_load_tx(kt_pg_t *pg, void *arg)
{
    s_load_t *l = arg;
    const bench_shape_t *sh = l->shape;
    bool ok = true;
    char clients[16], skus[16], managers[16], mbase[24], branch[24], territory[24], wh[24],
        list[24];
    snprintf(clients, sizeof clients, "%d", sh->clients);
    snprintf(skus, sizeof skus, "%d", sh->skus);
    snprintf(managers, sizeof managers, "%d", sh->managers);
    snprintf(mbase, sizeof mbase, "%d", BENCH_MANAGER_BASE);
    if (s_one(pg, &s_fresh, NULL, &ok) != 0 && ok) {
        fprintf(stderr, "kontor-bench: load: the set is not fresh (it has clients, products,"
                        " orders or accounts already)\n");
        return 1;
    }
    const char *p_skus[] = {skus};
    s_one(pg, &s_seed, NULL, &ok);
    s_one(pg, &s_src_products, p_skus, &ok);
    s_one(pg, &s_src_stock, p_skus, &ok);
    if (!ok)
        return -1;
    snprintf(branch, sizeof branch, "%lld", (long long) s_one(pg, &s_branch, NULL, &ok));
    const char *p_mgr[] = {mbase, managers, branch};
    s_one(pg, &s_managers, p_mgr, &ok);
    const char *p_branch[] = {branch};
    snprintf(territory, sizeof territory, "%lld",
             (long long) s_one(pg, &s_territory, p_branch, &ok));
    const char *p_clients[] = {clients, managers, mbase, branch, territory};
    s_one(pg, &s_clients, p_clients, &ok);
    const char *p_n[] = {clients};
    s_one(pg, &s_client_seq, p_n, &ok);
    s_one(pg, &s_terms, p_n, &ok);
    s_one(pg, &s_assignments, NULL, &ok);
    s_one(pg, &s_order_terms, NULL, &ok);
    s_one(pg, &s_accounts, NULL, &ok);
    l->warehouse_id = s_one(pg, &s_warehouse, p_branch, &ok);
    snprintf(wh, sizeof wh, "%lld", (long long) l->warehouse_id);
    const char *p_wh[] = {wh};
    s_one(pg, &s_products, NULL, &ok);
    s_one(pg, &s_stock, p_wh, &ok);
    s_one(pg, &s_moves, p_wh, &ok);
    snprintf(list, sizeof list, "%lld", (long long) s_one(pg, &s_price_list, NULL, &ok));
    const char *p_list[] = {list};
    s_one(pg, &s_prices, p_list, &ok);
    if (ok) {
        PGresult *res = kt_pg_exec(pg, &s_checksum, NULL);
        if (res) {
            l->base_sum = kt_pg_i64(res, 0, 0);
            l->stock_sum = kt_pg_i64(res, 0, 1);
            PQclear(res);
        } else
            ok = false;
    }
    s_one(pg, &s_drop, NULL, &ok);
    return ok ? 0 : -1;
}

//  Wait until the keeper has rebuilt the cache: the marker is back and the
//  warehouse's hash holds every SKU.
static int s_cache_wait(const kt_config_t *cfg, int64_t wh, int skus, int wait_s)
{
    kt_redis_t *redis =
        kt_redis_new(cfg->redis_host, cfg->redis_port, cfg->redis_password, 2000);
    if (!redis)
        return -1;
    //  Everything the cache holds for the warehouse, and the marker: the
    //  keeper's next look finds the marker gone and rebuilds in SKU order,
    //  so the last SKU is there only when the rebuild is through.
    char key[48], verkey[48];
    snprintf(key, sizeof key, "kontor:avail:%lld", (long long) wh);
    snprintf(verkey, sizeof verkey, "kontor:availver:%lld", (long long) wh);
    const char *del[] = {"DEL", "kontor:avail-built", key, verkey};
    int rc = -1;
    if (kt_redis_command(redis, 4, del, NULL) != 0) {
        fprintf(stderr, "kontor-bench: load: redis: %s\n", kt_redis_error(redis));
        goto done;
    }
    int64_t until = kt_now_ms() + (int64_t) wait_s * 1000;
    while (kt_now_ms() < until) {
        char seen[128];
        int marker = kt_redis_get(redis, "kontor:avail-built", seen, sizeof seen);
        int64_t n = -1;
        if (marker == 1) {
            char field[16];
            snprintf(field, sizeof field, "%d", skus);
            const char *fields[] = {field};
            int64_t v;
            int present = 0;
            if (kt_redis_hmget_i64(redis, key, fields, 1, &v, &present) == 0 && present)
                n = skus;
        }
        if (n == skus) {
            rc = 0;
            goto done;
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "kontor-bench: load: the availability cache was not rebuilt within %d s\n",
            wait_s);
done:
    kt_redis_destroy(&redis);
    return rc;
}

int bench_load(const char *dsn, const bench_shape_t *shape, const kt_config_t *cfg,
               int cache_wait_s)
{
    int64_t t0 = kt_now_ms();
    kt_pg_t *pg = kt_pg_new(dsn);
    if (!pg)
        return -1;
    s_load_t l = {.shape = shape};
    int rc = kt_pg_tx(pg, 1, s_load_tx, &l);
    if (rc == 0)
        for (int i = 0; s_analyze[i]; i++)
            if (kt_pg_command(pg, s_analyze[i]) != 0) {
                fprintf(stderr, "kontor-bench: load: %s\n", kt_pg_error(pg));
                rc = -1;
                break;
            }
    kt_pg_destroy(&pg);
    if (rc != 0) {
        fprintf(stderr, "kontor-bench: load failed\n");
        return -1;
    }
    fprintf(stderr,
            "kontor-bench: loaded %d clients, %d SKUs in warehouse %lld, %d managers in %lld ms;"
            " checksums: base prices %lld, stock %lld\n",
            shape->clients, shape->skus, (long long) l.warehouse_id, shape->managers,
            (long long) (kt_now_ms() - t0), (long long) l.base_sum, (long long) l.stock_sum);
    printf("warehouse %lld base_price_sum %lld stock_sum %lld\n", (long long) l.warehouse_id,
           (long long) l.base_sum, (long long) l.stock_sum);
    fflush(stdout);
    int64_t t1 = kt_now_ms();
    if (s_cache_wait(cfg, l.warehouse_id, shape->skus, cache_wait_s) != 0)
        return -1;
    fprintf(stderr, "kontor-bench: availability cache rebuilt by logistics in %lld ms\n",
            (long long) (kt_now_ms() - t1));
    return 0;
}
