/*  it_receivables_bench - runs tools/kontor-bench-receivables against a
 *  private set (bus and two receivables processes), only when asked:
 *
 *      KT_BENCH=1 KT_TIMEOUT=1800 KT_FILTER=it_receivables_bench \
 *          bash tests/run.sh build/release
 *
 *  KT_BENCH_ARGS passes options to the bench ("--calls 4000 --threads 8
 *  --sizes 10000,100000,1000000" by default). Without KT_BENCH it skips, so
 *  `make test` stays fast. The figures are printed, never asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_harness.h"

static void test_bench(void **state)
{
    if (!getenv("KT_BENCH")) {
        print_message("# KT_BENCH not set: bench skipped\n");
        skip();
    }
    kth_set_t *set = kth_set_new("receivables_bench");
    kth_set_env(set, "KONTOR_DUNNING_DAILY", "0");
    kth_start_bus(set);
    kth_start_service(set, "receivables", 4);
    kth_start_service(set, "receivables", 4);
    char *dsn = kth_service_dsn(set, "receivables");
    const char *argv[16];
    int n = 0;
    char *extra = getenv("KT_BENCH_ARGS") ? strdup(getenv("KT_BENCH_ARGS")) : NULL;
    for (char *tok = extra ? strtok(extra, " ") : NULL; tok && n < 12; tok = strtok(NULL, " "))
        argv[n++] = tok;
    argv[n++] = dsn;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int status = kth_run(set, "admin", "kontor-bench-receivables", argv, NULL, &out, &err);
    printf("%s", out ? out : "");
    if (status != 0)
        fprintf(stderr, "%s", err ? err : "");
    fflush(stdout);
    free(out);
    free(err);
    free(extra);
    free(dsn);
    assert_int_equal(status, 0);
    assert_int_equal(kth_set_stop(set), 0);
    kth_set_destroy(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bench)};
    return cmocka_run_group_tests_name("receivables_bench", tests, NULL, NULL);
}
