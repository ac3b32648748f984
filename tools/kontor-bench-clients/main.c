/*  kontor-bench-clients - GetClient and SearchClients latency with a large
 *  client base.
 *
 *      kontor-bench-clients [--sizes N,N,...] [--samples S] [--loaders L] [--out FILE] PG_DSN
 *
 *  For each size N in turn (default 10000,1000000) it bulk-loads clients
 *  straight into the clients schema over PG_DSN (the set's superuser, or the
 *  kontor_clients role) with INSERT ... SELECT FROM generate_series, in
 *  chunks of 50,000 from L connections at once (default 2), until the base
 *  holds N bench clients, with their terms, then VACUUM ANALYZE. As superuser the
 *  load skips the foreign-key triggers (session_replication_role = replica;
 *  the ids it writes exist); as the service role it keeps them.
 *
 *  Then it calls the clients service through the bus, one call at a time,
 *  as the principal of its KONTOR_* environment (a head or admin), S times
 *  for each of:
 *    GetClient               a random bench client: the whole view
 *    Search name fragment    two word prefixes ("рома tra"): ~N/1600 matches, a page of 50
 *    Search code prefix      "B12345" style
 *    Search tax id           an exact tax id
 *    Search manager+status   a manager's active clients, a page of 50
 *  and prints p50, p99 and max in milliseconds from the sorted samples, on
 *  stdout or into FILE.
 *
 *  Needs a running set: the bus and the clients service (migrated). The
 *  manager and territory rows it needs (ids from 5001) are created if absent.
 *  Exit status: 0, 1 when a load or a call failed, 2 on a usage error.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_pg.h"
#include "kt_status.h"
#include "kt_wire.h"

#define S_CHUNK       50000
#define S_MANAGERS    20
#define S_TERRITORIES 20
#define S_FIRST_ID    5001 //  bench managers and territories: 5001..5020
#define S_MAX_SIZES   8

//  40 x 40 name words: a name is "<form> <a> <b> <n>", so a pair of word
//  prefixes matches one client in 1,600.
#define S_WORDS_A                                                                                                                                          \
    "'Ромашка','Берёза','Северный','Волга','Урал','Сибирь','Альфа','Вектор','Гранит','Дельта'," \
    "'Заря','Исток','Кедр','Лидер','Маяк','Норд','Омега','Прогресс','Радуга','Сокол','Титан',"      \
    "'Факел','Химпром','Центр','Эталон','Южный','Ясень','Агро','Бриз','Восток','Горизонт',"         \
    "'Днепр','Енисей','Жемчуг','Звезда','Импульс','Кристалл','Лотос','Монолит','Нева'"
#define S_WORDS_B                                                                                  \
    "'Trade','Logistic','Supply','Steel','Food','Pharm','Build','Tech','Auto','Textile','Chem',"   \
    "'Agrotech','Energy','Metal','Paper','Glass','Wood','Plast','Electro','Market','Retail',"      \
    "'Group','Service','Invest','Holding','Export','Import','Capital','Systems','Solutions',"      \
    "'Partners','Resource','Industry','Product','Distrib','Optima','Snab','Torg','Prom','Stroy'"

static const char *const s_words_a[] = {
    "ромашка", "берёза",   "северный", "волга",   "урал",     "сибирь", "альфа",    "вектор",
    "гранит",  "дельта",   "заря",     "исток",   "кедр",     "лидер",  "маяк",     "норд",
    "омега",   "прогресс", "радуга",   "сокол",   "титан",    "факел",  "химпром",  "центр",
    "эталон",  "южный",    "ясень",    "агро",    "бриз",     "восток", "горизонт", "днепр",
    "енисей",  "жемчуг",   "звезда",   "импульс", "кристалл", "лотос",  "монолит",  "нева"};
static const char *const s_words_b[] = {
    "trade",    "logistic", "supply",  "steel",    "food",    "pharm",     "build",    "tech",
    "auto",     "textile",  "chem",    "agrotech", "energy",  "metal",     "paper",    "glass",
    "wood",     "plast",    "electro", "market",   "retail",  "group",     "service",  "invest",
    "holding",  "export",   "import",  "capital",  "systems", "solutions", "partners", "resource",
    "industry", "product",  "distrib", "optima",   "snab",    "torg",      "prom",     "stroy"};

static const kt_stmt_t s_seed_branch = {
    "bench_seed_branch",
    "INSERT INTO clients.branches (code, name) VALUES ('BENCH', 'Bench branch')"
    " ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id",
    0};
static const kt_stmt_t s_seed_managers = {
    "bench_seed_managers",
    "INSERT INTO clients.managers (id, name, role, branch_id)"
    " SELECT g, 'Bench manager ' || g, 'manager', $1::bigint"
    "   FROM generate_series(5001, 5020) g ON CONFLICT (id) DO NOTHING",
    1};
static const kt_stmt_t s_seed_territories = {
    "bench_seed_territories",
    "INSERT INTO clients.territories (id, branch_id, name)"
    " SELECT g, $1::bigint, 'Bench territory ' || g"
    "   FROM generate_series(5001, 5020) g ON CONFLICT (id) DO NOTHING",
    1};
static const kt_stmt_t s_count = {"bench_count",
                                  "SELECT count(*) FROM clients.clients WHERE code LIKE 'B%'", 0};
//  Bench client g: code B<g>, tax id B<g, 11 digits>; ids from the sequence.
static const kt_stmt_t s_load = {
    "bench_load",
    "INSERT INTO clients.clients (code, name, tax_id, legal_address, segment, status,"
    "   key_account, branch_id, territory_id, manager_id, found_by_manager_id)"
    " SELECT 'B' || g,"
    "   (ARRAY['ООО','АО','ИП','ЗАО','LLC','GmbH'])[1 + g % 6] || ' '"
    "     || w.a[1 + (g / 6) % 40] || ' ' || w.b[1 + (g / 240) % 40] || ' ' || g,"
    "   'B' || lpad(g::text, 11, '0'), 'ул. Тестовая, ' || g,"
    "   (ARRAY['retail','wholesale','horeca','industry'])[1 + g % 4],"
    "   (ARRAY['prospect','active','active','active','blocked'])[1 + g % 5],"
    "   g % 50 = 0, $3::bigint, 5001 + g % 20, 5001 + (g / 7) % 20, 5001 + (g / 7) % 20"
    "   FROM generate_series($1::bigint, $2::bigint) g,"
    "        (SELECT ARRAY[" S_WORDS_A "] AS a, ARRAY[" S_WORDS_B "] AS b) w",
    3};
static const kt_stmt_t s_load_terms = {
    "bench_load_terms",
    "INSERT INTO clients.terms (client_id, price_column, discount_bp, payment_days, credit_limit)"
    " SELECT c.id, 'B', 250, 30, 1000000 FROM clients.clients c"
    "  WHERE c.code LIKE 'B%' AND NOT EXISTS (SELECT 1 FROM clients.terms t WHERE t.client_id = "
    "c.id)",
    0};
static const kt_stmt_t s_id_range = {
    "bench_id_range", "SELECT min(id), max(id) FROM clients.clients WHERE code LIKE 'B%'", 0};

typedef struct {
    const char *dsn;
    int64_t branch;
    atomic_llong next; //  next g to load
    int64_t last;      //  load up to this g
    atomic_int failed;
} s_load_t;

static void *s_loader(void *arg)
{
    s_load_t *l = arg;
    kt_pg_t *pg = kt_pg_new(l->dsn);
    if (!pg) {
        atomic_store(&l->failed, 1);
        return NULL;
    }
    //  Only a superuser may skip the triggers; the role keeps them.
    kt_pg_command(pg, "SET session_replication_role = replica");
    char from[24], to[24], branch[24];
    snprintf(branch, sizeof branch, "%" PRId64, l->branch);
    while (!atomic_load(&l->failed)) {
        int64_t first = atomic_fetch_add(&l->next, S_CHUNK);
        if (first > l->last)
            break;
        int64_t end = first + S_CHUNK - 1 < l->last ? first + S_CHUNK - 1 : l->last;
        snprintf(from, sizeof from, "%" PRId64, first);
        snprintf(to, sizeof to, "%" PRId64, end);
        const char *p[] = {from, to, branch};
        PGresult *res = kt_pg_exec(pg, &s_load, p);
        if (!res) {
            fprintf(stderr, "load %s..%s failed: %s\n", from, to, kt_pg_error(pg));
            atomic_store(&l->failed, 1);
            break;
        }
        PQclear(res);
    }
    kt_pg_destroy(&pg);
    return NULL;
}

static int64_t s_i64_of(kt_pg_t *pg, const kt_stmt_t *stmt, int col)
{
    PGresult *res = kt_pg_exec(pg, stmt, NULL);
    if (!res)
        return -1;
    int64_t v = kt_pg_i64(res, 0, col);
    PQclear(res);
    return v;
}

//  Grow the bench base to `size` clients. Returns 0, or -1.
static int s_grow(kt_pg_t *pg, const char *dsn, int64_t branch, int64_t size, int loaders,
                  double *seconds)
{
    int64_t have = s_i64_of(pg, &s_count, 0);
    if (have < 0)
        return -1;
    int64_t t0 = kt_now_ms();
    if (have < size) {
        s_load_t l = {.dsn = dsn, .branch = branch, .last = size};
        atomic_init(&l.next, have + 1);
        atomic_init(&l.failed, 0);
        pthread_t threads[16];
        int n = loaders < 1 ? 1 : loaders > 16 ? 16 : loaders;
        for (int i = 0; i < n; i++)
            pthread_create(&threads[i], NULL, s_loader, &l);
        for (int i = 0; i < n; i++)
            pthread_join(threads[i], NULL);
        if (atomic_load(&l.failed))
            return -1;
        PGresult *res = kt_pg_exec(pg, &s_load_terms, NULL);
        if (!res)
            return -1;
        PQclear(res);
    }
    if (kt_pg_command(pg, "VACUUM ANALYZE clients.clients") != 0 ||
        kt_pg_command(pg, "VACUUM ANALYZE clients.terms") != 0)
        return -1;
    *seconds = (double)(kt_now_ms() - t0) / 1000.0;
    return 0;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

//  The sample at quantile q of sorted samples (nearest rank).
static double s_ms_at(const int64_t *us, int n, double q)
{
    int i = (int)(q * n + 0.999999) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return (double)us[i] / 1000.0;
}

typedef enum { S_GET, S_NAME, S_CODE, S_TAX, S_FILTER, S_OPS } s_op_t;
static const char *const s_op_names[S_OPS] = {"GetClient", "Search name fragment",
                                              "Search code prefix", "Search tax id",
                                              "Search manager+status"};

//  One call of `op`; returns its status.
static int s_call(kt_client_t *client, s_op_t op, int64_t min_id, int64_t max_id, int64_t size,
                  unsigned *seed)
{
    char q[64], tax[16];
    kt_call_opts_t opts = {.timeout_ms = 30000};
    kt_reply_t reply;
    ProtobufCMessage *out = NULL;
    int status;
    int64_t g = 1 + (int64_t)(rand_r(seed) % (unsigned)size);
    if (op == S_GET) {
        Kontor__Clients__ClientRequest req = KONTOR__CLIENTS__CLIENT_REQUEST__INIT;
        req.client_id = min_id + (int64_t)(rand_r(seed) % (unsigned)(max_id - min_id + 1));
        status = kt_client_call(client, "clients", "GetClient", &req.base,
                                &kontor__clients__client_view__descriptor, &out, &opts, &reply);
    } else {
        Kontor__Clients__SearchClientsRequest req = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
        req.limit = 50;
        if (op == S_NAME) {
            //  The first 4 letters of one word and 3 of another (UTF-8 aware:
            //  Cyrillic letters are 2 bytes each).
            const char *a = s_words_a[rand_r(seed) % 40], *b = s_words_b[rand_r(seed) % 40];
            snprintf(q, sizeof q, "%.8s %.3s", a, b);
            req.q = q;
        } else if (op == S_CODE) {
            snprintf(q, sizeof q, "B%" PRId64, g / 10 ? g / 10 : g);
            req.q = q;
        } else if (op == S_TAX) {
            snprintf(tax, sizeof tax, "B%011" PRId64, g);
            req.tax_id = tax;
        } else {
            req.manager_id = S_FIRST_ID + (int64_t)(rand_r(seed) % S_MANAGERS);
            req.status = KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE;
        }
        status =
            kt_client_call(client, "clients", "SearchClients", &req.base,
                           &kontor__clients__search_clients_reply__descriptor, &out, &opts, &reply);
    }
    if (status != KT_OK)
        fprintf(stderr, "%s: %s %s\n", s_op_names[op], kt_status_name(status), reply.message);
    kt_msg_free(out);
    kt_reply_clear(&reply);
    return status;
}

static int s_usage(void)
{
    fprintf(stderr, "usage: kontor-bench-clients [--sizes N,N,...] [--samples S] [--loaders L]"
                    " [--out FILE] PG_DSN\n");
    return 2;
}

int main(int argc, char **argv)
{
    int64_t sizes[S_MAX_SIZES] = {10000, 1000000};
    int nsizes = 2, samples = 2000, loaders = 2;
    const char *dsn = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            nsizes = 0;
            char *s = argv[++i], *end;
            while (*s && nsizes < S_MAX_SIZES) {
                sizes[nsizes] = strtoll(s, &end, 10);
                if (end == s || sizes[nsizes] < 100)
                    return s_usage();
                nsizes++;
                s = *end == ',' ? end + 1 : end;
            }
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = atoi(argv[++i]);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--loaders") == 0 && i + 1 < argc)
            loaders = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !dsn)
            dsn = argv[i];
        else
            return s_usage();
    }
    if (!dsn || nsizes == 0 || samples < 1)
        return s_usage();
    kt_log_init("bench-clients", KT_LOG_WARN);
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "bench-clients", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bench-clients: %s\n", why);
        return 2;
    }
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "kontor-bench-clients: cannot write %s\n", out_path);
        return 2;
    }
    kt_pg_t *pg = kt_pg_new(dsn);
    kt_client_t *client = kt_client_new(&cfg);
    int64_t *us = calloc((size_t)samples, sizeof *us);
    int rc = 1;
    if (!pg || !client || !us) {
        fprintf(stderr, "kontor-bench-clients: cannot reach the database or the bus\n");
        goto cleanup;
    }
    int64_t branch = s_i64_of(pg, &s_seed_branch, 0);
    char branch_s[24];
    snprintf(branch_s, sizeof branch_s, "%" PRId64, branch);
    const char *bp[] = {branch_s};
    PGresult *res;
    if (branch < 0 || !(res = kt_pg_exec(pg, &s_seed_managers, bp))) {
        fprintf(stderr, "kontor-bench-clients: seeding failed: %s\n", kt_pg_error(pg));
        goto cleanup;
    }
    PQclear(res);
    if (!(res = kt_pg_exec(pg, &s_seed_territories, bp))) {
        fprintf(stderr, "kontor-bench-clients: seeding failed: %s\n", kt_pg_error(pg));
        goto cleanup;
    }
    PQclear(res);

    fprintf(out, "%-10s %-24s %8s %9s %9s %9s\n", "clients", "operation", "samples", "p50_ms",
            "p99_ms", "max_ms");
    unsigned seed = 20261122;
    for (int s = 0; s < nsizes; s++) {
        double load_s = 0;
        if (s_grow(pg, dsn, branch, sizes[s], loaders, &load_s) != 0) {
            fprintf(stderr, "kontor-bench-clients: loading %" PRId64 " clients failed: %s\n",
                    sizes[s], kt_pg_error(pg));
            goto cleanup;
        }
        PGresult *range = kt_pg_exec(pg, &s_id_range, NULL);
        if (!range)
            goto cleanup;
        int64_t min_id = kt_pg_i64(range, 0, 0), max_id = kt_pg_i64(range, 0, 1);
        PQclear(range);
        fprintf(out, "%-10" PRId64 " %-24s %8s %9.1f s (load to this size, then VACUUM ANALYZE)\n",
                sizes[s], "bulk load", "-", load_s);
        fflush(out);
        for (int op = 0; op < S_OPS; op++) {
            //  A few calls first: connections, prepared statements, caches.
            for (int i = 0; i < 20; i++)
                s_call(client, (s_op_t)op, min_id, max_id, sizes[s], &seed);
            for (int i = 0; i < samples; i++) {
                int64_t t0 = kt_now_us();
                if (s_call(client, (s_op_t)op, min_id, max_id, sizes[s], &seed) != KT_OK)
                    goto cleanup;
                us[i] = kt_now_us() - t0;
            }
            qsort(us, (size_t)samples, sizeof *us, s_cmp);
            fprintf(out, "%-10" PRId64 " %-24s %8d %9.2f %9.2f %9.2f\n", sizes[s], s_op_names[op],
                    samples, s_ms_at(us, samples, 0.50), s_ms_at(us, samples, 0.99),
                    (double)us[samples - 1] / 1000.0);
            fflush(out);
        }
    }
    rc = 0;
cleanup:
    free(us);
    kt_client_destroy(&client);
    kt_pg_destroy(&pg);
    if (out != stdout)
        fclose(out);
    return rc;
}
