/*  it_bench_short - the benchmark's workload, short, then the full audit.
 *
 *  `make bench` runs tools/kontor-bench (the TPC-C-like workload) for
 *  minutes against the reference's data set and checks the set with
 *  tools/kontor-audit after every run. Here the same programs run against a
 *  private set (the bus and the four services) for a few seconds with two
 *  terminals, on a small data set loaded the same way (kontor-bench load),
 *  so that a change that breaks an invariant under the workload fails
 *  `make test`: every check of the auditor must pass. The figures the
 *  workload prints go to the log; they are never asserted.
 *
 *  The set also checks logistics' SQL encoder of StockChanged (the
 *  reservation writes its event in the same statement: migrations/003 of
 *  logistics) against protobuf-c, byte for byte, edge values included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_harness.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"

#define S_CLIENTS "300"
#define S_SKUS "2000"
#define S_MANAGERS "2"
#define S_AS "admin"            //  the programs' own principal; they use the bench keys beside it

static kth_set_t *s_set;

//  Run a program of the build as S_AS; print what it said; its exit status.
static int s_run(const char *program, const char *const *argv)
{
    char *out = NULL, *err = NULL;
    int rc = kth_run(s_set, S_AS, program, argv, NULL, &out, &err);
    printf("# %s %s ... exit %d\n", program, argv[0], rc);
    for (char *line = out ? strtok(out, "\n") : NULL; line; line = strtok(NULL, "\n"))
        printf("#   %s\n", line);
    for (char *line = err ? strtok(err, "\n") : NULL; line; line = strtok(NULL, "\n"))
        printf("#   ! %s\n", line);
    fflush(stdout);
    free(out);
    free(err);
    return rc;
}

static void s_keygen(const char *name, const char *kind, const char *id)
{
    char allow[1024], secret[1024];
    snprintf(allow, sizeof allow, "%s/keys/allow", kth_home(s_set));
    snprintf(secret, sizeof secret, "%s/keys/secret", kth_home(s_set));
    const char *argv[] = {"--public", allow, "--secret", secret, name, kind, id, NULL};
    if (!id)
        argv[6] = NULL;
    assert_int_equal(s_run("kontor-keygen", argv), 0);
}

//  ---------------------------------------------------------------- tests

static void test_workload_then_every_consistency_check_passes(void **state)
{
    (void) state;
    const char *dsn = kth_admin_dsn(s_set);
    const char *load[] = {"load", "--clients", S_CLIENTS, "--skus", S_SKUS, "--managers",
                          S_MANAGERS, "--cache-wait", "60", dsn, NULL};
    assert_int_equal(s_run("kontor-bench", load), 0);
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM logistics.stock"), 2000);
    assert_int_equal(kth_sql_i64(s_set, "SELECT count(*) FROM receivables.accounts"), 300);

    //  The whole mix, then orders alone on the hot SKUs.
    const char *mix[] = {"run", "--label", "short-mix", "--terminals", "2", "--seconds", "4",
                         "--warmup", "1", "--mix", "tpcc", "--clients", S_CLIENTS, "--skus",
                         S_SKUS, "--managers", S_MANAGERS, NULL};
    assert_int_equal(s_run("kontor-bench", mix), 0);
    const char *hot[] = {"run", "--label", "short-hot", "--terminals", "2", "--seconds", "2",
                         "--warmup", "0", "--mix", "orders", "--hot", "--clients", S_CLIENTS,
                         "--skus", S_SKUS, "--managers", S_MANAGERS, NULL};
    assert_int_equal(s_run("kontor-bench", hot), 0);
    //  It did place orders, pay, and dispatch (so that the checks have
    //  something to check).
    assert_true(kth_sql_i64(s_set, "SELECT count(*) FROM orders.orders WHERE status = 2") > 0);
    assert_true(kth_sql_i64(s_set, "SELECT count(*) FROM receivables.settlements") > 0);

    const char *audit[] = {"--wait", "120", dsn, NULL};
    assert_int_equal(s_run("kontor-audit", audit), 0);
}

//  logistics.stock_changed_pb against kt_msg_pack for the same message.
static void test_stock_changed_sql_encoding_is_protobuf_c_s(void **state)
{
    (void) state;
    static const struct {
        int64_t warehouse;
        int64_t sku[4];
        int64_t qty[4];
        size_t n;
    } cases[] = {
        {1, {5, 300, 150000}, {0, 150000, 127}, 3},
        {987654321, {1}, {1}, 1},
        {7, {INT64_MAX, 128, 16383}, {-1, 16384, 0}, 3},
        {2, {INT64_MIN, 2}, {INT64_MIN, 0}, 2},
        {3, {0}, {0}, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Kontor__Logistics__StockLine lines[4], *lp[4];
        char skus[256] = "{", qtys[256] = "{";
        for (size_t i = 0; i < cases[c].n; i++) {
            kontor__logistics__stock_line__init(&lines[i]);
            lines[i].sku = cases[c].sku[i];
            lines[i].qty = cases[c].qty[i];
            lp[i] = &lines[i];
            snprintf(skus + strlen(skus), sizeof skus - strlen(skus), "%s%" PRId64,
                     i ? "," : "", cases[c].sku[i]);
            snprintf(qtys + strlen(qtys), sizeof qtys - strlen(qtys), "%s%" PRId64,
                     i ? "," : "", cases[c].qty[i]);
        }
        strcat(skus, "}");
        strcat(qtys, "}");
        Kontor__Logistics__StockChanged ev = KONTOR__LOGISTICS__STOCK_CHANGED__INIT;
        ev.warehouse_id = cases[c].warehouse;
        ev.items = lp;
        ev.n_items = cases[c].n;
        size_t len;
        uint8_t *buf = kt_msg_pack(&ev.base, &len);
        assert_non_null(buf);
        char want[1024] = "";
        for (size_t i = 0; i < len; i++)
            snprintf(want + 2 * i, sizeof want - 2 * i, "%02x", buf[i]);
        free(buf);
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "SELECT encode(logistics.stock_changed_pb(%" PRId64
                 ", '%s'::bigint[], '%s'::bigint[]), 'hex')",
                 cases[c].warehouse, skus, qtys);
        char *got = kth_sql_value(s_set, sql);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
    }
}

//  ---------------------------------------------------------------- set

static int s_setup(void **state)
{
    (void) state;
    s_set = kth_set_new("bench_short");
    //  The principals the terminals act as (bench.h), before the bus reads
    //  its allow-list.
    s_keygen("bench-manager-1", "manager", "1001");
    s_keygen("bench-manager-2", "manager", "1002");
    s_keygen("bench-accountant", "accountant", NULL);
    s_keygen("bench-wms", "logistics-system", NULL);
    kth_start_bus(s_set);
    kth_start_service(s_set, "clients", 1);
    kth_start_service(s_set, "orders", 4);
    kth_start_service(s_set, "logistics", 2);
    kth_start_service(s_set, "receivables", 2);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    kth_set_destroy(&s_set);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock_changed_sql_encoding_is_protobuf_c_s),
        cmocka_unit_test(test_workload_then_every_consistency_check_passes),
    };
    return cmocka_run_group_tests_name("bench_short", tests, s_setup, s_teardown);
}
