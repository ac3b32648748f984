/*  it_demo - `make demo`'s story, start to finish, on a private set, twice.
 *
 *  The local set's bus and HTTP ports are fixed (15555-15557, 18080-18084),
 *  so a test cannot bring up a second one next to a developer's `make up`.
 *  Instead the harness starts a set of its own on free ports (bus and four
 *  services) and runs the very script `make demo` runs, in its --on-set mode,
 *  with the set's KONTOR_* environment (kth_use): deploy/local/demo.sh seeds
 *  a small data set with `kontor seed` and walks through the wholesale day
 *  with `kontor call`. The script writes its key figures to a file
 *  (KONTOR_DEMO_FIGURES); every one is checked here against the services'
 *  own databases and against the others (an order's total is the sum of
 *  its lines and the invoice's amount; a part payment leaves the rest open;
 *  the hold is on after dunning and off after the last payment; ...).
 *
 *  The story then runs a second time on the same set, as `make demo` twice
 *  in a row would: it must tell the same figures with new clients, and the
 *  second seed must add nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt_harness.h"

#define S_RUN_MS    150000 //  one story, seed included, at most
#define S_SEED_ARGS "--clients 60 --skus 200 --branches 2"
#define S_CLIENTS   60
#define S_SKUS      200
#define S_MAX_FIGS  64
#define S_TERMS_A   800000 //  client A's credit limit in the story
#define S_TERMS_B   150000 //  client B's

static kth_set_t *s_set;

//  What one run of the story said.
typedef struct {
    int rc;
    char *out; //  what it printed (stdout and stderr)
    int n;
    char name[S_MAX_FIGS][48];
    char value[S_MAX_FIGS][128];
} s_story_t;

static s_story_t s_runs[2];

//  ---------------------------------------------------------------- helpers

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *more = realloc(buf, cap * 2);
            if (!more)
                break;
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Run deploy/local/demo.sh --on-set on the set, as admin (the script
//  acts as each principal with --as), into s_runs[k].
static void s_run_story(int k)
{
    s_story_t *s = &s_runs[k];
    memset(s, 0, sizeof *s);
    const char *root = getenv("KT_TEST_ROOT"), *bin = getenv("KT_TEST_BIN");
    assert_non_null(root);
    assert_non_null(bin);
    char script[4096], build[4096], out[4096], figs[4096];
    snprintf(script, sizeof script, "%s/deploy/local/demo.sh", root);
    snprintf(build, sizeof build, "%s/..", bin);
    snprintf(out, sizeof out, "%s/demo-%d.out", kth_home(s_set), k + 1);
    snprintf(figs, sizeof figs, "%s/demo-%d.figures", kth_home(s_set), k + 1);
    unlink(figs);
    kth_use(s_set, "admin");
    setenv("KONTOR_DEMO_FIGURES", figs, 1);
    setenv("KONTOR_DEMO_SEED_ARGS", S_SEED_ARGS, 1);
    setenv("KONTOR_DEMO_WAIT_S", "30", 1);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execl("/bin/bash", "bash", script, "--on-set", build, (char *)NULL);
        _exit(127);
    }
    int64_t deadline = s_now_ms() + S_RUN_MS;
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (s_now_ms() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    s->rc = status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    s->out = s_slurp(out);
    fprintf(stderr, "# --- demo run %d (exit %d) ---\n", k + 1, s->rc);
    for (char *line = s->out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        fprintf(stderr, "# %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
    }
    char *text = s_slurp(figs);
    for (char *line = text, *nl; line && *line && s->n < S_MAX_FIGS; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        snprintf(s->name[s->n], sizeof s->name[0], "%s", line);
        snprintf(s->value[s->n], sizeof s->value[0], "%s", eq + 1);
        s->n++;
    }
    free(text);
    if (s->rc != 0)
        fail_msg("demo.sh run %d exited %d (-1: killed after %d s); its output is above", k + 1,
                 s->rc, S_RUN_MS / 1000);
}

static const char *s_fig(int k, const char *name)
{
    for (int i = 0; i < s_runs[k].n; i++)
        if (strcmp(s_runs[k].name[i], name) == 0)
            return s_runs[k].value[i];
    fail_msg("run %d printed no figure %s", k + 1, name);
    return "";
}

static int64_t s_num(int k, const char *name)
{
    const char *v = s_fig(k, name);
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end)
        fail_msg("run %d: figure %s is not a number: '%s'", k + 1, name, v);
    return n;
}

static int64_t s_sql_i64(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int64_t s_sql_i64(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return kth_sql_i64(s_set, sql);
}

static char *s_sql_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_sql_text(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = kth_sql_value(s_set, sql);
    return v ? v : strdup("(null)");
}

#define S_TEXT_IS(expected, ...)                                                                   \
    do {                                                                                           \
        char *got_ = s_sql_text(__VA_ARGS__);                                                      \
        assert_string_equal(got_, expected);                                                       \
        free(got_);                                                                                \
    } while (0)

typedef struct {
    const char *sql;
} s_cond_t;

static bool s_sql_true(void *arg)
{
    return kth_sql_i64(s_set, ((s_cond_t *)arg)->sql) == 1;
}

//  ---------------------------------------------------------------- setup

static int s_setup(void **state)
{
    s_set = kth_set_new("demo");
    //  Only the story's RunDunning runs dunning.
    kth_set_env(s_set, "KONTOR_DUNNING_DAILY", "0");
    kth_start_bus(s_set);
    static const char *const services[] = {"clients", "orders", "logistics", "receivables"};
    for (size_t i = 0; i < 4; i++)
        kth_start_service(s_set, services[i], 2);
    return 0;
}

static int s_teardown(void **state)
{
    kth_set_destroy(&s_set);
    free(s_runs[0].out);
    free(s_runs[1].out);
    return 0;
}

//  ---------------------------------------------------------------- checks of one run

//  Every figure of run k against the databases.
static void s_check_run(int k)
{
    const s_story_t *s = &s_runs[k];
    for (int step = 1; step <= 16; step++) {
        char heading[32];
        snprintf(heading, sizeof heading, "\n== %d. ", step);
        if (!strstr(s->out, heading))
            fail_msg("run %d printed no step %d", k + 1, step);
    }
    assert_non_null(strstr(s->out, "closing 0.00 EUR"));
    assert_non_null(strstr(s->out, "== Done"));

    int64_t a = s_num(k, "client_a"), b = s_num(k, "client_b");
    //  Order 1: its total is its lines' and the invoice's; it was delivered.
    int64_t o1 = s_num(k, "order1"), o1_total = s_num(k, "order1_total");
    assert_true(o1_total > 0);
    assert_int_equal(s_sql_i64("SELECT total FROM orders.orders WHERE order_id = %" PRId64, o1),
                     o1_total);
    assert_int_equal(
        s_sql_i64("SELECT sum(line_total) FROM orders.order_lines WHERE order_id = %" PRId64, o1),
        o1_total);
    assert_int_equal(s_sql_i64("SELECT client_id FROM orders.orders WHERE order_id = %" PRId64, o1),
                     a);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT (status = 10)::int FROM orders.orders WHERE order_id = %" PRId64, o1);
    s_cond_t delivered = {sql};
    assert_true(kth_wait_for(s_sql_true, &delivered, 20000));
    assert_int_equal(s_num(k, "invoice_amount"), o1_total);
    assert_int_equal(
        s_sql_i64("SELECT amount FROM receivables.invoices WHERE order_id = %" PRId64, o1),
        o1_total);
    S_TEXT_IS(s_fig(k, "invoice_due"),
              "SELECT due_on::text FROM receivables.invoices WHERE order_id = %" PRId64, o1);
    S_TEXT_IS("DELIVERED",
              "SELECT upper(status) FROM logistics.shipments WHERE shipment_id = %" PRId64,
              s_num(k, "shipment1"));

    //  Order 2 (client B) was refused for credit by exactly what it went over
    //  the limit with (nothing else open), then approved as a new order.
    int64_t o2 = s_num(k, "order2"), o2b = s_num(k, "order2_approved");
    assert_int_equal(s_num(k, "order2_exceeded_by"), s_num(k, "order2_total") - S_TERMS_B);
    S_TEXT_IS("credit_limit_exceeded", "SELECT reason FROM orders.orders WHERE order_id = %" PRId64,
              o2);
    assert_int_equal(
        s_sql_i64("SELECT replaced_by FROM orders.orders WHERE order_id = %" PRId64, o2), o2b);
    assert_int_equal(s_sql_i64("SELECT status FROM orders.orders WHERE order_id = %" PRId64, o2b),
                     2);
    S_TEXT_IS("head-1", "SELECT approved_by FROM orders.orders WHERE order_id = %" PRId64, o2b);
    assert_int_equal(
        s_sql_i64("SELECT client_id FROM orders.orders WHERE order_id = %" PRId64, o2b), b);

    //  Order 3: 6 of the scarce SKU confirmed, 14 back-ordered with the date
    //  of its expected arrival.
    int64_t o3 = s_num(k, "order3"), bo = s_num(k, "backorder");
    assert_int_equal(s_sql_i64("SELECT status FROM orders.orders WHERE order_id = %" PRId64, o3),
                     2);
    assert_int_equal(s_sql_i64("SELECT qty FROM orders.order_lines WHERE order_id = %" PRId64
                               " AND sku = 100001",
                               o3),
                     6);
    assert_int_equal(s_sql_i64("SELECT parent_id FROM orders.orders WHERE order_id = %" PRId64, bo),
                     o3);
    assert_string_equal(s_fig(k, "backorder_status"), "BACK_ORDER");
    assert_int_equal(s_sql_i64("SELECT qty FROM orders.order_lines WHERE order_id = %" PRId64
                               " AND sku = 100001",
                               bo),
                     14);
    S_TEXT_IS(
        s_fig(k, "backorder_expected"),
        "SELECT min(a.expected_on)::text FROM logistics.arrivals a JOIN logistics.warehouses w"
        " USING (warehouse_id) WHERE a.sku = 100001 AND w.code = 'WH-MSK'"
        " AND a.status = 'open'");

    //  Payments: 40 % first, the rest later; dunning put the client on hold
    //  and the last payment took it off.
    int64_t paid1 = s_num(k, "paid1");
    assert_int_equal(paid1, o1_total * 40 / 100);
    assert_int_equal(s_num(k, "open_after_part"), o1_total - paid1);
    assert_int_equal(s_num(k, "reminders"), 1);
    assert_int_equal(s_num(k, "holds_on"), 1);
    assert_string_equal(s_fig(k, "on_hold_after_dunning"), "true");
    assert_string_equal(s_fig(k, "held_reason"), "credit_hold");
    S_TEXT_IS("credit_hold", "SELECT reason FROM orders.orders WHERE order_id = %" PRId64,
              s_num(k, "held_order"));
    assert_string_equal(s_fig(k, "hold_lifted"), "true");
    assert_int_equal(s_num(k, "open_final"), 0);
    assert_string_equal(s_fig(k, "on_hold_final"), "false");
    assert_int_equal(
        s_sql_i64("SELECT on_hold::int FROM receivables.accounts WHERE client_id = %" PRId64, a),
        0);
    assert_int_equal(
        s_sql_i64("SELECT open_amount FROM receivables.accounts WHERE client_id = %" PRId64, a), 0);
    assert_int_equal(
        s_sql_i64("SELECT count(*) FROM receivables.dunning_notices WHERE client_id = %" PRId64, a),
        2);
    assert_int_equal(s_sql_i64("SELECT status FROM orders.orders WHERE order_id = %" PRId64,
                               s_num(k, "held_order_approved")),
                     2);
    assert_int_equal(s_num(k, "statement_lines"), 3);
    assert_int_equal(s_num(k, "statement_closing"), 0);

    S_TEXT_IS("resolved", "SELECT status FROM clients.complaints WHERE id = %" PRId64,
              s_num(k, "complaint"));
    assert_string_equal(s_fig(k, "complaint_status"), "COMPLAINT_RESOLVED");

    //  The plan report counts this run's four confirmed orders (and the
    //  runs before it): the sum of manager 2's confirmed orders this month.
    assert_true(s_num(k, "plan_orders") >= 4 * (k + 1));
    assert_int_equal(
        s_num(k, "plan_revenue"),
        s_sql_i64("SELECT coalesce(sum(total), 0) FROM orders.orders WHERE manager_id = 2"
                  " AND confirmed_at IS NOT NULL AND status <> 11"
                  " AND date_trunc('month', confirmed_at) = date_trunc('month', now())"));
}

//  ---------------------------------------------------------------- tests

static void test_the_story_runs_and_every_figure_holds(void **state)
{
    s_run_story(0);
    s_check_run(0);
    //  The seed made what it was asked for, and the story its own.
    assert_int_equal(s_sql_i64("SELECT count(*) FROM clients.clients"), S_CLIENTS + 2);
    assert_int_equal(s_sql_i64("SELECT count(*) FROM logistics.products"), S_SKUS);
    assert_int_equal(s_sql_i64("SELECT count(DISTINCT sku) FROM orders.prices"), S_SKUS);
    assert_int_equal(s_sql_i64("SELECT count(*) FROM clients.terms WHERE why <> 'created'"),
                     S_CLIENTS + 2);
}

static void test_a_second_run_tells_the_same_story_and_seeds_nothing_twice(void **state)
{
    if (s_runs[0].rc != 0)
        skip();
    int64_t contacts = s_sql_i64("SELECT count(*) FROM clients.contacts");
    int64_t checks = s_sql_i64("SELECT count(*) FROM clients.credit_checks");
    int64_t stock = s_sql_i64("SELECT sum(on_hand) FROM logistics.stock");
    int64_t moves = s_sql_i64("SELECT count(*) FROM logistics.stock_moves");
    int64_t arrivals = s_sql_i64("SELECT count(*) FROM logistics.arrivals");
    s_run_story(1);
    s_check_run(1);
    //  Same figures, new clients and orders.
    static const char *const same[] = {
        "order1_total",    "order2_total",    "order2_exceeded_by",
        "order3_total",    "invoice_amount",  "invoice_due",
        "paid1",           "open_after_part", "backorder_expected",
        "statement_lines",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (strcmp(s_fig(0, same[i]), s_fig(1, same[i])) != 0)
            fail_msg("%s: %s in the first run, %s in the second", same[i], s_fig(0, same[i]),
                     s_fig(1, same[i]));
    assert_true(s_num(1, "client_a") != s_num(0, "client_a"));
    assert_true(s_num(1, "order1") > s_num(0, "order1"));
    assert_int_equal(s_num(1, "plan_revenue"), 2 * s_num(0, "plan_revenue"));
    //  The seed added nothing: only the story's own clients, their contact
    //  and credit check, the stock it took and its stock count.
    assert_int_equal(s_sql_i64("SELECT count(*) FROM clients.clients"), S_CLIENTS + 4);
    assert_int_equal(s_sql_i64("SELECT count(*) FROM clients.contacts"), contacts + 1);
    assert_int_equal(s_sql_i64("SELECT count(*) FROM clients.credit_checks"), checks + 1);
    assert_int_equal(s_sql_i64("SELECT count(*) FROM logistics.arrivals"), arrivals);
    assert_int_equal(s_sql_i64("SELECT count(*) FROM logistics.products"), S_SKUS);
    //  Stock went down by what left on the second run's shipment and up by
    //  the stock count's correction (6 taken by the first run's order 3):
    //  no receipt was made twice.
    int64_t shipped =
        s_sql_i64("SELECT sum(qty) FROM logistics.shipment_lines WHERE shipment_id = %" PRId64,
                  s_num(1, "shipment1"));
    assert_int_equal(s_sql_i64("SELECT sum(on_hand) FROM logistics.stock"), stock - shipped + 6);
    assert_true(s_sql_i64("SELECT count(*) FROM logistics.stock_moves") - moves <= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_story_runs_and_every_figure_holds),
        cmocka_unit_test(test_a_second_run_tells_the_same_story_and_seeds_nothing_twice),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
