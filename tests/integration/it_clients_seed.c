/*  it_clients_seed - `kontor seed` against a private set: how long it takes
 *  to load clients (ImportClients, 1,000 a call), and how long orders and
 *  receivables then take to apply every client's ClientChanged and
 *  TermsChanged (consumer lag back to zero): seed is only done when the
 *  other services know the terms.
 *
 *  By default a smoke run (3,000 clients, 300 SKUs) so that `make test`
 *  keeps it working. The figures of issue #9:
 *
 *      make FLAVOUR=release all
 *      KT_CLIENTS_SEED=1 KT_FILTER=it_clients_seed KT_TIMEOUT=3600 \
 *          bash tests/run.sh build/release
 *
 *  KT_CLIENTS_SEED_SIZES (default 100000,1000000: a fresh set for each),
 *  KT_CLIENTS_SEED_SKUS (default 0: clients alone), KT_CLIENTS_SEED_THREADS
 *  (default 4) and KT_CLIENTS_SEED_BRANCHES (default 10) change the run.
 *  The figures are TAP diagnostics in logs/it_clients_seed.log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "kt_harness.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

//  The lines of the seed's summary (its standard output, in its log).
static void s_print_log(kth_set_t *set, pid_t pid)
{
    char path[700], line[512];
    snprintf(path, sizeof path, "%s/log/kontor-%d.log", kth_home(set), (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "seed ", 5) == 0 || strncmp(line, "  ", 2) == 0)
            print_message("#   | %s", line);
    if (f)
        fclose(f);
}

//  How far `consumer` is behind clients' stream (sequenced and not yet).
static int64_t s_lag(kth_set_t *set, const char *consumer)
{
    return kth_sql_i64f(set,
                        "SELECT (SELECT last_seq FROM clients.outbox_state)"
                        " + (SELECT count(*) FROM clients.outbox WHERE seq IS NULL)"
                        " - coalesce((SELECT last_seq FROM %s.event_offsets"
                        "             WHERE producer = 'clients'), 0)",
                        consumer);
}

static void s_seed_one(int64_t clients, const char *skus, const char *threads,
                       const char *branches)
{
    kth_set_t *set = kth_set_new("clients_seed");
    kth_start_bus(set);
    pid_t svc_clients = kth_start_service(set, "clients", 4);
    pid_t svc_logistics = kth_start_service(set, "logistics", 2);
    pid_t svc_orders = kth_start_service(set, "orders", 2);
    pid_t svc_receivables = kth_start_service(set, "receivables", 2);
    char n[24];
    snprintf(n, sizeof n, "%" PRId64, clients);
    const char *argv[] = {"seed",    "--clients", n,          "--skus", skus, "--branches",
                          branches, "--threads", threads, NULL};
    double t0 = s_now();
    //  kth_run allows 2 minutes; a million clients may take longer: spawn
    //  and wait (tests/run.sh's KT_TIMEOUT bounds the whole program).
    pid_t seed = kth_spawn(set, "admin", "kontor", argv);
    int status = 0;
    while (waitpid(seed, &status, 0) < 0 && errno == EINTR)
        ;
    double t1 = s_now();
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    print_message("# kontor seed --clients %s --skus %s --branches %s --threads %s: exit %d in "
                  "%.1f s, %.0f clients/s\n",
                  n, skus, branches, threads, rc, t1 - t0, (double)clients / (t1 - t0));
    s_print_log(set, seed);
    assert_int_equal(rc, 0);
    int64_t events = kth_sql_i64(set, "SELECT (SELECT last_seq FROM clients.outbox_state)"
                                      " + (SELECT count(*) FROM clients.outbox WHERE seq IS NULL)");
    int64_t lag_orders = s_lag(set, "orders"), lag_rcv = s_lag(set, "receivables");
    print_message("# at the end of seed: %" PRId64 " clients events; orders %" PRId64
                  " behind, receivables %" PRId64 " behind\n",
                  events, lag_orders, lag_rcv);
    //  Poll the lag (no event tells a test when a consumer is done).
    double t_orders = lag_orders == 0 ? t1 : 0, t_rcv = lag_rcv == 0 ? t1 : 0;
    double limit = t1 + (clients > 100000 ? 3000.0 : 600.0);
    while ((t_orders == 0 || t_rcv == 0) && s_now() < limit) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        if (t_orders == 0 && s_lag(set, "orders") == 0)
            t_orders = s_now();
        if (t_rcv == 0 && s_lag(set, "receivables") == 0)
            t_rcv = s_now();
    }
    print_message("# consumers caught up after seed ended: orders %.1f s, receivables %.1f s"
                  " (%.0f and %.0f events/s); seed to all known: %.1f s\n",
                  t_orders ? t_orders - t1 : -1.0, t_rcv ? t_rcv - t1 : -1.0,
                  t_orders > t1 ? (double)lag_orders / (t_orders - t1) : 0.0,
                  t_rcv > t1 ? (double)lag_rcv / (t_rcv - t1) : 0.0,
                  (t_orders > t_rcv ? t_orders : t_rcv) - t0);
    assert_true(t_orders > 0 && t_rcv > 0);
    //  Every client is there, with its terms, and orders and receivables know them.
    assert_int_equal(kth_sql_i64(set, "SELECT count(*) FROM clients.clients"), clients);
    assert_int_equal(kth_sql_i64(set, "SELECT count(*) FROM clients.terms"), clients);
    assert_int_equal(kth_sql_i64(set, "SELECT count(*) FROM orders.client_terms"), clients);
    assert_int_equal(
        kth_sql_i64(set, "SELECT count(*) FROM receivables.accounts WHERE has_terms"), clients);
    assert_int_equal(kth_sql_i64(set, "SELECT count(*) FROM clients.terms t"
                                      " JOIN orders.client_terms o USING (client_id)"
                                      " WHERE o.price_column <> t.price_column"
                                      "    OR o.discount_bp <> t.discount_bp"
                                      "    OR o.credit_limit <> t.credit_limit"),
                     0);
    //  Consumers first (they are idle now), then their producer.
    int st = kth_signal(set, svc_orders, SIGTERM);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = kth_signal(set, svc_receivables, SIGTERM);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = kth_signal(set, svc_logistics, SIGTERM);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = kth_signal(set, svc_clients, SIGTERM);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(kth_set_stop(set), 0);
    kth_set_destroy(&set);
}

static void test_seed_loads_clients_and_the_consumers_catch_up(void **state)
{
    bool real = strcmp(s_env("KT_CLIENTS_SEED", "0"), "1") == 0;
    const char *sizes = real ? s_env("KT_CLIENTS_SEED_SIZES", "100000,1000000") : "3000";
    const char *skus = real ? s_env("KT_CLIENTS_SEED_SKUS", "0") : "300";
    const char *threads = s_env("KT_CLIENTS_SEED_THREADS", "4");
    const char *branches = real ? s_env("KT_CLIENTS_SEED_BRANCHES", "10") : "2";
    char list[256];
    snprintf(list, sizeof list, "%s", sizes);
    for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int64_t n = strtoll(w, NULL, 10);
        assert_true(n > 0);
        s_seed_one(n, skus, threads, branches);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_loads_clients_and_the_consumers_catch_up),
    };
    return cmocka_run_group_tests_name("clients_seed", tests, NULL, NULL);
}
