/*  kontor-bench-receivables - ReserveCredit and RecordPayment per second
 *  with p50/p99, and how the aging report's time grows with the number of
 *  invoices.
 *
 *      kontor-bench-receivables [--calls N] [--threads T] [--sizes A,B,C] RECEIVABLES_DSN
 *
 *  Runs against a set whose KONTOR_* environment it is given (a bus and at
 *  least one receivables process), as a principal that may call
 *  SetCreditTerms, ReserveCredit, RecordPayment and Aging (admin). Calls go
 *  through the bus like any caller's. RECEIVABLES_DSN (the receivables
 *  role, or the superuser) is used only to seed invoices directly in SQL
 *  for the aging part: invoices across 1,000 clients, due over the last two
 *  years, one in ten still open; the accounts' totals are moved with them
 *  so the schema's CHECKs hold (the paid ones carry no payment rows).
 *
 *  Figures (printed, never judged): for each kind of call, calls/s over
 *  the whole run and p50/p99 of each call's own time from sorted samples;
 *  for each size, the median of 5 Aging calls as of today (read from the
 *  per-day totals), as of 30 days ago (read from the open invoices), and
 *  grouped by manager.
 *
 *  Exit status: 0 done, 1 a call or the seeding failed, 2 usage.
 */
#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_log.h"
#include "kt_pg.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "receivables.pb-c.h"

#define S_MAX_THREADS 64
#define S_MAX_SIZES 8
#define S_CLIENT_BASE 900000000LL   //  bench clients' ids start here
#define S_AGING_CLIENTS 1000
#define S_AGING_REPEAT 5

typedef struct {
    long calls;
    int threads;
    long sizes[S_MAX_SIZES];
    int nsizes;
    const char *dsn;
} s_args_t;

typedef struct {
    int index;
    const s_args_t *args;
    const char *method;         //  "ReserveCredit" or "RecordPayment"
    bool hot;                   //  every thread on one client
    int64_t run;                //  makes ids unique per run
    int64_t *samples_us;
    long n;
    long failed;
} s_worker_t;

static atomic_int s_go;

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static kt_client_t *s_client(void)
{
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "bench", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bench-receivables: %s\n", why);
        return NULL;
    }
    return kt_client_new(&cfg);
}

static int s_terms(kt_client_t *c, int64_t client_id)
{
    Kontor__Money lim = KONTOR__MONEY__INIT;
    lim.units = INT64_C(1000000000000000);
    lim.currency = "EUR";
    Kontor__Receivables__SetCreditTermsRequest req =
        KONTOR__RECEIVABLES__SET_CREDIT_TERMS_REQUEST__INIT;
    req.client_id = client_id;
    req.credit_limit = &lim;
    req.payment_days = 30;
    req.grace_days = 5;
    req.manager_id = 1 + client_id % 20;
    req.branch_id = 1 + client_id % 5;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = 10000};
    int status = kt_client_call(c, "receivables", "SetCreditTerms", &req.base,
                                &kontor__receivables__credit_terms_reply__descriptor, NULL, &opts,
                                &reply);
    if (status != KT_OK)
        fprintf(stderr, "SetCreditTerms: %s %s\n", kt_status_name(status), reply.message);
    kt_reply_clear(&reply);
    return status;
}

static void *s_worker(void *arg)
{
    s_worker_t *w = arg;
    kt_client_t *c = s_client();
    if (!c) {
        w->failed = w->n;
        return NULL;
    }
    while (!atomic_load(&s_go))
        ;
    int64_t client_id = S_CLIENT_BASE + (w->hot ? 0 : w->index);
    for (long i = 0; i < w->n; i++) {
        Kontor__Money m = KONTOR__MONEY__INIT;
        m.units = 100 + i % 1000;
        m.currency = "EUR";
        kt_reply_t reply;
        kt_call_opts_t opts = {.timeout_ms = 20000};
        int64_t t0 = zclock_usecs();
        int status;
        if (strcmp(w->method, "ReserveCredit") == 0) {
            Kontor__Receivables__ReserveCreditRequest req =
                KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
            req.order_id = w->run * 10000000 + (int64_t) w->index * 1000000 + i + 1;
            req.client_id = client_id;
            req.amount = &m;
            status = kt_client_call(c, "receivables", "ReserveCredit", &req.base,
                                    &kontor__receivables__reserve_credit_reply__descriptor, NULL,
                                    &opts, &reply);
        } else {
            char ref[64];
            snprintf(ref, sizeof ref, "BENCH-%lld-%d-%ld", (long long) w->run, w->index, i);
            Kontor__Receivables__RecordPaymentRequest req =
                KONTOR__RECEIVABLES__RECORD_PAYMENT_REQUEST__INIT;
            req.client_id = client_id;
            req.amount = &m;
            req.reference = ref;
            status = kt_client_call(c, "receivables", "RecordPayment", &req.base,
                                    &kontor__receivables__record_payment_reply__descriptor, NULL,
                                    &opts, &reply);
        }
        w->samples_us[i] = zclock_usecs() - t0;
        if (status != KT_OK) {
            if (w->failed == 0)
                fprintf(stderr, "%s: %s %s\n", w->method, kt_status_name(status), reply.message);
            w->failed++;
        }
        kt_reply_clear(&reply);
    }
    kt_client_destroy(&c);
    return NULL;
}

//  Run `method` from every thread; print one line. 0, or -1 if any call failed.
static int s_load(const s_args_t *args, const char *method, bool hot, int64_t run)
{
    s_worker_t w[S_MAX_THREADS];
    pthread_t threads[S_MAX_THREADS];
    long per = args->calls / args->threads;
    atomic_store(&s_go, 0);
    for (int i = 0; i < args->threads; i++) {
        w[i] = (s_worker_t){i, args, method, hot, run, calloc((size_t) per + 1, sizeof(int64_t)),
                            per, 0};
        pthread_create(&threads[i], NULL, s_worker, &w[i]);
    }
    int64_t t0 = zclock_usecs();
    atomic_store(&s_go, 1);
    long total = 0, failed = 0;
    int64_t *all = calloc((size_t) per * (size_t) args->threads + 1, sizeof *all);
    for (int i = 0; i < args->threads; i++) {
        pthread_join(threads[i], NULL);
        memcpy(all + total, w[i].samples_us, (size_t) per * sizeof *all);
        total += per;
        failed += w[i].failed;
        free(w[i].samples_us);
    }
    int64_t took = zclock_usecs() - t0;
    qsort(all, (size_t) total, sizeof *all, s_cmp);
    printf("%-14s %-6s %8ld calls %3d threads %9.0f calls/s  p50 %7.2f ms  p99 %7.2f ms"
           "  max %7.2f ms  failed %ld\n",
           method, hot ? "hot" : "spread", total, args->threads, total * 1e6 / (double) took,
           all[total / 2] / 1000.0, all[(total * 99) / 100] / 1000.0, all[total - 1] / 1000.0,
           failed);
    fflush(stdout);
    free(all);
    return failed ? -1 : 0;
}

//  ---------------------------------------------------------------- aging

//  Add `n` invoices (10% open) over S_AGING_CLIENTS clients, with the
//  accounts' totals moved to match.
static const kt_stmt_t s_seed_accounts = {
    "bench_seed_accounts",
    "INSERT INTO accounts (client_id, currency, has_terms, credit_limit, payment_days,"
    "       grace_days, manager_id, branch_id)"
    " SELECT $1::bigint + g, 'EUR', true, 0, 30, 5, 1 + g % 20, 1 + g % 5"
    "   FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING",
    2};

static const kt_stmt_t s_seed_invoices = {
    "bench_seed_invoices",
    "WITH n AS (SELECT coalesce(max(shipment_id) - 8000000000000, 0) AS base FROM invoices"
    "            WHERE shipment_id > 8000000000000),"
    "     v AS (SELECT $1::bigint + 1 + (g % $3::int) AS client_id, 8000000000000 + n.base + g AS sh,"
    "                  1000 + (g * 7919) % 100000 AS amount,"
    "                  current_date - ((g * 104729) % 730)::int AS issued,"
    "                  g % 10 = 0 AS open"
    "             FROM n, generate_series(1, $2::bigint) g),"
    "     i AS (INSERT INTO invoices (client_id, order_id, shipment_id, currency, amount,"
    "                  open_amount, issued_on, due_on, settled_on)"
    "           SELECT client_id, sh, sh, 'EUR', amount, CASE WHEN open THEN amount ELSE 0 END,"
    "                  issued, issued + 30, CASE WHEN open THEN NULL ELSE issued + 25 END FROM v"
    "        RETURNING client_id, amount, open_amount),"
    "     t AS (SELECT client_id, sum(amount)::bigint AS inv, sum(open_amount)::bigint AS op"
    "             FROM i GROUP BY client_id)"
    " UPDATE accounts a SET invoiced = a.invoiced + t.inv, open_amount = a.open_amount + t.op,"
    "        paid = a.paid + (t.inv - t.op)"
    "   FROM t WHERE a.client_id = t.client_id",
    3};

static const kt_stmt_t s_seeded_count = {
    "bench_seeded_count",
    "SELECT count(*) FROM invoices WHERE shipment_id > 8000000000000", 0};

static double s_aging_ms(kt_client_t *c, const char *as_of, int group)
{
    int64_t samples[S_AGING_REPEAT];
    for (int i = 0; i < S_AGING_REPEAT; i++) {
        Kontor__Receivables__AgingRequest req = KONTOR__RECEIVABLES__AGING_REQUEST__INIT;
        req.as_of = (char *) as_of;
        req.group_by = (Kontor__Receivables__AgingGroup) group;
        kt_reply_t reply;
        kt_call_opts_t opts = {.timeout_ms = 120000};
        int64_t t0 = zclock_usecs();
        int status = kt_client_call(c, "receivables", "Aging", &req.base,
                                    &kontor__receivables__aging_reply__descriptor, NULL, &opts,
                                    &reply);
        samples[i] = zclock_usecs() - t0;
        if (status != KT_OK) {
            fprintf(stderr, "Aging: %s %s\n", kt_status_name(status), reply.message);
            kt_reply_clear(&reply);
            return -1;
        }
        kt_reply_clear(&reply);
    }
    qsort(samples, S_AGING_REPEAT, sizeof samples[0], s_cmp);
    return samples[S_AGING_REPEAT / 2] / 1000.0;
}

static int s_aging(const s_args_t *args, kt_client_t *c)
{
    kt_pg_t *pg = kt_pg_new(args->dsn);
    if (!pg || kt_pg_command(pg, "SET search_path TO receivables, pg_catalog") != 0) {
        kt_pg_destroy(&pg);
        return -1;
    }
    char base[24], nclients[24], today[11], past[11];
    snprintf(base, sizeof base, "%lld", S_CLIENT_BASE + 1000);
    snprintf(nclients, sizeof nclients, "%d", S_AGING_CLIENTS);
    const char *ap[] = {base, nclients};
    PGresult *res = kt_pg_exec(pg, &s_seed_accounts, ap);
    if (!res)
        goto failed;
    PQclear(res);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    now -= 30 * 86400;
    localtime_r(&now, &tm);
    strftime(past, sizeof past, "%Y-%m-%d", &tm);
    printf("%-10s %12s %14s %16s %14s %10s\n", "invoices", "open", "today total",
           "today by manager", "30 days ago", "seed s");
    for (int s = 0; s < args->nsizes; s++) {
        res = kt_pg_exec(pg, &s_seeded_count, NULL);
        if (!res)
            goto failed;
        long have = (long) kt_pg_i64(res, 0, 0);
        PQclear(res);
        int64_t t0 = zclock_usecs();
        while (have < args->sizes[s]) {
            long batch = args->sizes[s] - have > 100000 ? 100000 : args->sizes[s] - have;
            char nb[24];
            snprintf(nb, sizeof nb, "%ld", batch);
            const char *sp[] = {base, nb, nclients};
            res = kt_pg_exec(pg, &s_seed_invoices, sp);
            if (!res)
                goto failed;
            PQclear(res);
            have += batch;
        }
        kt_pg_command(pg, "ANALYZE invoices");
        kt_pg_command(pg, "ANALYZE open_by_due");
        double seed_s = (zclock_usecs() - t0) / 1e6;
        double total = s_aging_ms(c, today, 3);
        double by_manager = s_aging_ms(c, today, 1);
        double old = s_aging_ms(c, past, 3);
        if (total < 0 || by_manager < 0 || old < 0)
            goto failed;
        printf("%-10ld %12ld %11.2f ms %13.2f ms %11.2f ms %10.1f\n", args->sizes[s],
               args->sizes[s] / 10, total, by_manager, old, seed_s);
        fflush(stdout);
    }
    kt_pg_destroy(&pg);
    return 0;
failed:
    fprintf(stderr, "aging part failed: %s\n", pg ? kt_pg_error(pg) : "no database");
    kt_pg_destroy(&pg);
    return -1;
}

//  ---------------------------------------------------------------- main

static int s_usage(void)
{
    fprintf(stderr, "usage: kontor-bench-receivables [--calls N] [--threads T]"
                    " [--sizes 10000,100000,1000000] RECEIVABLES_DSN\n");
    return 2;
}

int main(int argc, char **argv)
{
    s_args_t args = {.calls = 4000, .threads = 8, .sizes = {10000, 100000, 1000000}, .nsizes = 3};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
            args.calls = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            args.threads = (int) strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            args.nsizes = 0;
            for (char *p = argv[++i]; *p && args.nsizes < S_MAX_SIZES;) {
                char *end;
                args.sizes[args.nsizes++] = strtol(p, &end, 10);
                p = *end == ',' ? end + 1 : end;
                if (end == p && *p)
                    return s_usage();
            }
        } else if (argv[i][0] == '-')
            return s_usage();
        else
            args.dsn = argv[i];
    }
    if (!args.dsn || args.calls < 1 || args.threads < 1 || args.threads > S_MAX_THREADS
        || args.calls < args.threads)
        return s_usage();
    for (int s = 0; s < args.nsizes; s++)
        if (args.sizes[s] < 1 || (s > 0 && args.sizes[s] < args.sizes[s - 1]))
            return s_usage();
    kt_log_init("bench", KT_LOG_WARN);
    kt_client_t *c = s_client();
    if (!c)
        return 1;
    int rc = 0;
    for (int i = 0; i < args.threads; i++)
        if (s_terms(c, S_CLIENT_BASE + i) != KT_OK)
            rc = 1;
    int64_t run = (int64_t) time(NULL) % 100000;
    if (rc == 0) {
        printf("# kontor-bench-receivables: %ld calls per kind, %d threads\n", args.calls,
               args.threads);
        rc |= s_load(&args, "ReserveCredit", false, run) != 0;
        rc |= s_load(&args, "ReserveCredit", true, run + 1) != 0;
        rc |= s_load(&args, "RecordPayment", false, run) != 0;
        rc |= s_aging(&args, c) != 0;
    }
    kt_client_destroy(&c);
    return rc;
}
