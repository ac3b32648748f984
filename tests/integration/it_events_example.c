/*  it_events_example - tools/kontor-events, the reference consumer for outside
 *  systems, against a real bus and producer.
 *
 *  The producer is a real orders process (its relay publishes its outbox);
 *  the test writes events into orders.outbox as the database superuser, the
 *  way a handler's transaction would. kontor-events runs as "wms-1", a
 *  logistics-system principal, exactly as an integrator's process would.
 *
 *  What "exactly once" means for a consumer whose effect (a printed line)
 *  cannot share a transaction with its offset (a file), and what
 *  test_killed_mid_stream_... checks:
 *    - every event is printed at least once, in seq order within a run;
 *    - every event at or below the saved offset was printed (and flushed)
 *      before the offset was saved;
 *    - no run prints an event at or below the offset it started from, so
 *      after a crash only the events printed after the last save can come
 *      out twice: exactly once with respect to the saved offset.
 *  A consumer that keeps its offset in the same transaction as its effect
 *  (docs/integration.md) gets exactly once outright.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "kt_harness.h"

#define S_PROGRAM      "kontor-events"
#define S_PRINCIPAL    "wms-1"
#define S_WAIT_MS      60000 //  longest wait for the relay or the consumer
#define S_LOAD_TX      50    //  events per producer transaction in the live load
#define S_LOAD_PACE_MS 20    //  between two of them: a paced load, 2,500 events/s
#define S_KILL_AFTER   1000  //  events the first consumer saves before kill -9
#define S_LIVE_AFTER   500   //  events the restarted consumer saves while the load runs

static kth_set_t *s_set;

//  ---------------------------------------------------------------- helpers

//  Write `n` events of `type` into the orders outbox, `per_tx` to a transaction.
static void s_produce(int n, int per_tx, const char *type)
{
    kth_outbox_fill(s_set, "orders", type, n, per_tx);
}

//  Every event written so far has its seq: returns the last one.
static int64_t s_published(void)
{
    assert_true(kth_wait_sql_min(
        s_set, "SELECT (count(*) = 0)::int FROM orders.outbox WHERE seq IS NULL", 1, S_WAIT_MS));
    return kth_sql_i64(s_set, "SELECT last_seq FROM orders.outbox_state");
}

static char *s_path(const char *name)
{
    char *path = malloc(1024);
    assert_non_null(path);
    snprintf(path, 1024, "%s/%s", kth_home(s_set), name);
    return path;
}

//  The seq in an offset file ("orders <seq>\n"), or -1 if it cannot be read
//  or is not whole.
static int64_t s_offset(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    char text[64] = "";
    size_t len = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[len] = '\0';
    unsigned long long seq;
    int end = 0;
    if (sscanf(text, "orders %llu%n", &seq, &end) != 1 || strcmp(text + end, "\n") != 0)
        return -1;
    return (int64_t)seq;
}

typedef struct {
    const char *path;
    int64_t want;
} s_offset_cond_t;

static bool s_offset_reached(void *arg)
{
    s_offset_cond_t *c = arg;
    return s_offset(c->path) >= c->want;
}

static void s_wait_offset(const char *path, int64_t want)
{
    s_offset_cond_t c = {path, want};
    bool ok = kth_wait_for(s_offset_reached, &c, S_WAIT_MS);
    if (!ok)
        print_message("# waited for offset %lld in %s, have %lld\n", (long long)want, path,
                      (long long)s_offset(path));
    assert_true(ok);
}

//  What kontor-events must print for the orders events with seq in
//  [from, to] (of `type`, or any when NULL), built from the outbox itself:
//  "<seq> orders.<type> <created_at, UTC, ms> <payload hex>\n" each.
static char *s_expected(int64_t from, int64_t to, const char *type)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(string_agg(format('%%s orders.%%s %%s %%s', seq, type,"
             "  to_char(to_timestamp((extract(epoch FROM created_at) * 1000)::bigint / 1000.0)"
             "          AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
             "  CASE WHEN length(payload) = 0 THEN '-' ELSE encode(payload, 'hex') END)"
             "  || E'\\n', '' ORDER BY seq), '')"
             " FROM orders.outbox WHERE seq BETWEEN %lld AND %lld%s%s%s",
             (long long)from, (long long)to, type ? " AND type = '" : "", type ? type : "",
             type ? "'" : "");
    char *text = kth_sql_value(s_set, sql);
    assert_non_null(text);
    return text;
}

//  Run kontor-events as wms-1 to completion; its exit status. kontor-events
//  itself runs under its own sanitizer: a leak there is a non-zero exit
//  status.
static int s_run(const char *const *argv, char **out, char **err)
{
    return kth_run(s_set, S_PRINCIPAL, S_PROGRAM, argv, NULL, out, err);
}

//  The seqs of the event lines in `text`, in the order printed. Only whole
//  lines count (a process killed mid-write may leave its last line cut).
//  Other lines must be kontor-events' own messages: in a spawned process's
//  log, stderr shares the file with stdout.
typedef struct {
    int64_t *seqs;
    size_t n;
} s_printed_t;

static void s_parse(const char *text, s_printed_t *out)
{
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^([0-9]+) orders\\.[A-Z][A-Za-z0-9]* "
                             "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                             "([0-9a-f]+|-)$",
                             REG_EXTENDED),
                     0);
    size_t cap = 1024;
    out->n = 0;
    out->seqs = malloc(cap * sizeof *out->seqs);
    assert_non_null(out->seqs);
    const char *line = text;
    const char *nl;
    char buf[512];
    while ((nl = strchr(line, '\n')) != NULL) {
        size_t len = (size_t)(nl - line);
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        regmatch_t m[2];
        if (len < sizeof buf && regexec(&re, buf, 2, m, 0) == 0) {
            if (out->n == cap) {
                cap *= 2;
                out->seqs = realloc(out->seqs, cap * sizeof *out->seqs);
                assert_non_null(out->seqs);
            }
            out->seqs[out->n++] = strtoll(buf + m[1].rm_so, NULL, 10);
        } else if (strncmp(buf, "kontor-events: ", 15) != 0) {
            print_message("# unexpected line: %s\n", buf);
            fail();
        }
        line = nl + 1;
    }
    regfree(&re);
}

//  A spawned process's stdout and stderr: the harness writes them to
//  <home>/log/<program>-<pid>.log.
static char *s_spawn_log(pid_t pid)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/log/%s-%d.log", kth_home(s_set), S_PROGRAM, (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        print_message("# cannot open %s\n", path);
    assert_non_null(file);
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t got;
    while ((got = fread(text + len, 1, cap - len - 1, file)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
    }
    fclose(file);
    text[len] = '\0';
    return text;
}

//  The printed seqs are exactly from, from + 1, ..., to: each once, in order.
static void s_check_run(const s_printed_t *p, int64_t from, int64_t to)
{
    assert_int_equal((int64_t)p->n, to - from + 1);
    for (size_t i = 0; i < p->n; i++)
        if (p->seqs[i] != from + (int64_t)i) {
            print_message("# line %zu: seq %lld, expected %lld\n", i + 1, (long long)p->seqs[i],
                          (long long)(from + (int64_t)i));
            fail();
        }
}

//  ---------------------------------------------------------------- tests

//  (a) 200 events published before the consumer starts come out by
//  catching up: seq 1 to 200, once each, in order, every byte as expected.
static void test_prints_events_published_before_start_once_in_order(void **state)
{
    s_produce(200, 50, "TestEvent");
    assert_int_equal(s_published(), 200);
    char *offsets = s_path("wms.offset");
    const char *argv[] = {"--count", "200", "--offset-file", offsets, "orders", NULL};
    char *out = NULL, *err = NULL;
    int rc = s_run(argv, &out, &err);
    if (rc != 0 || *err)
        print_message("# exit %d, stderr:\n%s\n", rc, err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    char *want = s_expected(1, 200, NULL);
    assert_string_equal(out, want);
    s_printed_t p;
    s_parse(out, &p);
    s_check_run(&p, 1, 200);
    assert_int_equal(s_offset(offsets), 200);
    //  A sample for docs/integration.md.
    print_message("# kontor-events --count 200 --offset-file wms.offset orders:\n");
    const char *line = out;
    for (int i = 0; i < 3; i++) {
        const char *nl = strchr(line, '\n');
        print_message("#   %.*s\n", (int)(nl - line), line);
        line = nl + 1;
    }
    free(p.seqs);
    free(want);
    free(out);
    free(err);
    free(offsets);
}

//  (b) A second run with the same offset file goes on where the first
//  stopped: the 50 events published since, 201 to 250, and nothing else.
static void test_second_run_goes_on_from_its_offset_file(void **state)
{
    s_produce(50, 25, "TestEvent");
    assert_int_equal(s_published(), 250);
    char *offsets = s_path("wms.offset");
    assert_int_equal(s_offset(offsets), 200);
    const char *argv[] = {"--count", "50", "--offset-file", offsets, "orders", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(argv, &out, &err), 0);
    assert_string_equal(err, "");
    char *want = s_expected(201, 250, NULL);
    assert_string_equal(out, want);
    s_printed_t p;
    s_parse(out, &p);
    s_check_run(&p, 201, 250);
    assert_int_equal(s_offset(offsets), 250);
    free(p.seqs);
    free(want);
    free(out);
    free(err);
    free(offsets);
}

//  A steady producer on its own connection (the set's admin connection
//  belongs to the test thread), until told to stop. File-scope, and stopped
//  by the teardown too: a failed assertion leaves the test function at once.
typedef struct {
    pthread_t thread;    //  the producer thread, while running
    bool running;        //  thread started and not joined yet
    atomic_bool stop;    //  set to make it finish
    atomic_int produced; //  events committed so far
} s_load_t;

static s_load_t s_load;

static void *s_load_thread(void *arg)
{
    kt_pg_t *pg = kt_pg_new(kth_admin_dsn(s_set));
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO orders.outbox (type, payload)"
             " SELECT 'TestEvent', int8send(g) FROM generate_series(1, %d) g",
             S_LOAD_TX);
    while (pg && !atomic_load(&s_load.stop)) {
        if (kt_pg_command(pg, sql) == 0)
            atomic_fetch_add(&s_load.produced, S_LOAD_TX);
        //  Pacing a load, not waiting for anything: the consumer must be
        //  killed while events are still coming.
        struct timespec pace = {0, S_LOAD_PACE_MS * 1000000L};
        nanosleep(&pace, NULL);
    }
    kt_pg_destroy(&pg);
    return NULL;
}

static void s_load_start(void)
{
    assert_false(s_load.running);
    atomic_store(&s_load.stop, false);
    atomic_store(&s_load.produced, 0);
    assert_int_equal(pthread_create(&s_load.thread, NULL, s_load_thread, NULL), 0);
    s_load.running = true;
}

//  Stop the load and wait for it; returns the events it committed.
static int64_t s_load_stop(void)
{
    if (s_load.running) {
        atomic_store(&s_load.stop, true);
        pthread_join(s_load.thread, NULL);
        s_load.running = false;
    }
    return atomic_load(&s_load.produced);
}

//  (c) kill -9 while events stream in, then start again with the same
//  offset file: together the two runs print every event; the second prints
//  exactly the events after the offset the first had saved, each once; the
//  first printed everything up to that offset (and perhaps a few beyond it:
//  the only events printed twice). SIGTERM stops the second with status 0
//  and its offset saved.
static void test_killed_mid_stream_and_restarted_repeats_nothing_below_its_offset(void **state)
{
    int64_t before = s_published();
    char *offsets = s_path("killed.offset");
    char from[24];
    snprintf(from, sizeof from, "%lld", (long long)before + 1);
    const char *argv[] = {"--from", from, "--offset-file", offsets, "orders", NULL};

    s_load_start();
    pid_t first = kth_spawn(s_set, S_PRINCIPAL, S_PROGRAM, argv);
    s_wait_offset(offsets, before + S_KILL_AFTER);
    kth_signal(s_set, first, SIGKILL);
    //  Replaced atomically: whole after a kill -9, whenever it came.
    int64_t saved = s_offset(offsets);
    assert_true(saved >= before + S_KILL_AFTER);
    int64_t at_restart = before + atomic_load(&s_load.produced);

    pid_t second = kth_spawn(s_set, S_PRINCIPAL, S_PROGRAM, argv);
    //  The load is still on: the second run catches up, then follows live.
    s_wait_offset(offsets, at_restart + S_LIVE_AFTER);
    int64_t total = before + s_load_stop();
    assert_int_equal(s_published(), total);
    s_wait_offset(offsets, total);
    int status = kth_signal(s_set, second, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(s_offset(offsets), total);

    char *log1 = s_spawn_log(first), *log2 = s_spawn_log(second);
    s_printed_t p1, p2;
    s_parse(log1, &p1);
    s_parse(log2, &p2);
    //  First run: before + 1 onwards, each once, in order, at least to the
    //  offset it saved.
    assert_true(p1.n > 0);
    int64_t first_last = p1.seqs[p1.n - 1];
    s_check_run(&p1, before + 1, first_last);
    assert_true(first_last >= saved);
    //  Second run: exactly what lies after the saved offset.
    s_check_run(&p2, saved + 1, total);
    print_message("# first run printed %lld..%lld and saved %lld when killed; the second "
                  "printed %lld..%lld; printed twice: %lld\n",
                  (long long)before + 1, (long long)first_last, (long long)saved,
                  (long long)saved + 1, (long long)total, (long long)(first_last - saved));
    free(p1.seqs);
    free(p2.seqs);
    free(log1);
    free(log2);
    free(offsets);
}

//  TYPE arguments: only those types are printed, the others passed over in
//  order, and the offset moves past them too.
static void test_type_filter_prints_only_those_types_and_still_advances(void **state)
{
    int64_t before = s_published();
    s_produce(10, 10, "OtherEvent");
    s_produce(10, 10, "TestEvent");
    assert_int_equal(s_published(), before + 20);
    char *offsets = s_path("filtered.offset");
    char from[24];
    snprintf(from, sizeof from, "%lld", (long long)before + 1);
    const char *argv[] = {"--from", from,     "--offset-file", offsets,  "--count",
                          "10",     "orders", "TestEvent",     "Unused", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(argv, &out, &err), 0);
    assert_string_equal(err, "");
    char *want = s_expected(before + 1, before + 20, "TestEvent");
    assert_string_equal(out, want);
    assert_int_equal(s_offset(offsets), before + 20);
    free(want);
    free(out);
    free(err);
    free(offsets);
}

//  Behind retention: exit 3, naming the oldest seq still kept; the offset
//  file is left as it was; nothing is printed.
static void test_offset_behind_retention_exits_3_naming_the_oldest_kept(void **state)
{
    kth_sql_exec(s_set, "UPDATE orders.outbox_state SET oldest_seq = 100");
    char *offsets = s_path("expired.offset");
    const char *argv[] = {"--from", "50", "--offset-file", offsets, "orders", NULL};
    char *out = NULL, *err = NULL;
    int rc = s_run(argv, &out, &err);
    kth_sql_exec(s_set, "UPDATE orders.outbox_state SET oldest_seq = 1");
    print_message("# exit %d, stderr:\n%s", rc, err);
    assert_int_equal(rc, 3);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "orders no longer keeps event 50"));
    assert_non_null(strstr(err, "the oldest it keeps is 100"));
    assert_non_null(strstr(err, "--from 100"));
    assert_int_equal(s_offset(offsets), 49);
    free(out);
    free(err);
    free(offsets);
}

//  A principal whose kind may not call EventsSince (a manager) is refused:
//  exit 1 with the status and reason, since asking again would not help.
static void test_principal_not_allowed_to_catch_up_exits_1(void **state)
{
    const char *argv[] = {"--count", "1", "orders", NULL};
    char *out = NULL, *err = NULL;
    int rc = kth_run(s_set, "manager-1", S_PROGRAM, argv, NULL, &out, &err);
    print_message("# exit %d, stderr:\n%s", rc, err);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "PERMISSION_DENIED"));
    assert_non_null(strstr(err, "(role_required)"));
    free(out);
    free(err);
}

//  (d) Usage errors exit 2, print nothing on stdout and say why on stderr.
static void test_usage_errors_exit_2(void **state)
{
    const char *const cases[][6] = {
        {NULL},
        {"--count", "0", "orders", NULL},
        {"--count", "many", "orders", NULL},
        {"--from", "-1", "orders", NULL},
        {"--no-such-option", "orders", NULL},
        {"orders", "lower_case_type", NULL},
        {"Orders!", NULL},
        {"orders", "--count", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *err = NULL;
        int rc = s_run(cases[i][0] ? cases[i] : NULL, &out, &err);
        if (rc != 2)
            print_message("# case %zu: exit %d, stderr: %s\n", i, rc, err);
        assert_int_equal(rc, 2);
        assert_string_equal(out, "");
        assert_true(strlen(err) > 0);
        free(out);
        free(err);
    }
    //  An offset file of another producer is a usage error too.
    char *offsets = s_path("wms.offset");
    const char *argv[] = {"--offset-file", offsets, "logistics", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(s_run(argv, &out, &err), 2);
    assert_non_null(strstr(err, "belongs to producer \"orders\""));
    free(out);
    free(err);
    free(offsets);
}

//  ---------------------------------------------------------------- set

static int s_setup(void **state)
{
    s_set = kth_set_new("events_example");
    kth_start_bus(s_set);
    kth_start_service(s_set, "orders", 1);
    return 0;
}

static int s_teardown(void **state)
{
    s_load_stop();
    kth_set_destroy(&s_set);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prints_events_published_before_start_once_in_order),
        cmocka_unit_test(test_second_run_goes_on_from_its_offset_file),
        cmocka_unit_test(test_killed_mid_stream_and_restarted_repeats_nothing_below_its_offset),
        cmocka_unit_test(test_type_filter_prints_only_those_types_and_still_advances),
        cmocka_unit_test(test_offset_behind_retention_exits_3_naming_the_oldest_kept),
        cmocka_unit_test(test_principal_not_allowed_to_catch_up_exits_1),
        cmocka_unit_test(test_usage_errors_exit_2),
    };
    return cmocka_run_group_tests_name("events_example", tests, s_setup, s_teardown);
}
