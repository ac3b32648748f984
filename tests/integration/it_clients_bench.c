/*  it_clients_bench - runs tools/kontor-bench-clients against a private set.
 *
 *  By default a smoke run (2,000 clients, 30 samples per operation) so that
 *  `make test` keeps the bench working. The figures the issue asks for:
 *
 *      make FLAVOUR=release all
 *      KT_CLIENTS_BENCH=1 KT_FILTER=it_clients_bench KT_TIMEOUT=1800 \
 *          bash tests/run.sh build/release
 *
 *  (KT_CLIENTS_BENCH_SIZES=10000,1000000 and KT_CLIENTS_BENCH_SAMPLES=2000 are
 *  the defaults then); the table is in the program's log and on stdout with
 *  KT_KEEP=1 under logs/it_clients_bench.log.
 *
 *  Only the bus and clients run: the bench calls nothing else. clients'
 *  event consumers then find no orders or receivables to catch up from, and
 *  a consumer waiting on such a call may hold its stop past the harness's
 *  5 s, so the test ends clients with SIGKILL itself (it_clients checks the
 *  clean stop).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kt_harness.h"

static void test_bench_clients(void **state)
{
    const char *full = getenv("KT_CLIENTS_BENCH");
    bool real = full && strcmp(full, "1") == 0;
    const char *sizes = real ? getenv("KT_CLIENTS_BENCH_SIZES") : NULL;
    const char *samples = real ? getenv("KT_CLIENTS_BENCH_SAMPLES") : NULL;
    if (!sizes)
        sizes = real ? "10000,1000000" : "2000";
    if (!samples)
        samples = real ? "2000" : "30";

    kth_set_t *set = kth_set_new("clients_bench");
    kth_start_bus(set);
    pid_t clients = kth_start_service(set, "clients", 2);
    //  kth_run allows 2 minutes; a million clients take longer: spawn and
    //  wait (tests/run.sh's KT_TIMEOUT bounds the whole program).
    char path[600];
    snprintf(path, sizeof path, "%s/bench-clients.txt", kth_home(set));
    const char *argv[] = {"--sizes", sizes, "--samples",        samples,
                          "--out",   path,  kth_admin_dsn(set), NULL};
    pid_t bench = kth_spawn(set, "head-1", "kontor-bench-clients", argv);
    int status = 0;
    while (waitpid(bench, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    //  The table, as TAP diagnostics.
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        print_message("# %s", line);
    if (f)
        fclose(f);
    if (rc != 0)
        print_message("# kontor-bench-clients exited %d (its log is in the set's folder)\n", rc);
    kth_signal(set, clients, SIGKILL);
    assert_int_equal(rc, 0);
    assert_int_equal(kth_set_stop(set), 0);
    kth_set_destroy(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_clients),
    };
    return cmocka_run_group_tests_name("clients_bench", tests, NULL, NULL);
}
