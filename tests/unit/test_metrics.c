/*  test_metrics - the metrics registry: lookup, concurrent updates, rendering, limits.
 *
 *  The registry is process-wide and cannot be emptied, so every test uses its
 *  own metric names and the test that fills the registry runs last.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_metrics.h"

#define THREADS    8
#define ITERATIONS 50000
#define REG_KEYS   48

//  The rendered text with a newline in front, so "\nline\n" finds whole lines.
static char *s_render(void)
{
    char *text = kt_metrics_render();
    assert_non_null(text);
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    char *framed = malloc(len + 2);
    assert_non_null(framed);
    framed[0] = '\n';
    memcpy(framed + 1, text, len + 1);
    free(text);
    return framed;
}

static int s_count(const char *text, const char *needle)
{
    int count = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        count++;
    return count;
}

static void s_assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("render lacks:\n%s\n---- in:%s", needle, text);
}

//  ---------------------------------------------------------------- tests

static void test_require_returns_same_series(void **state)
{
    kt_metric_t *a = kt_counter("t_same_total", "k=\"v\"", "same series");
    assert_non_null(a);
    assert_ptr_equal(kt_counter("t_same_total", "k=\"v\"", "other help is ignored"), a);
    kt_metric_t *b = kt_counter("t_same_total", "k=\"w\"", NULL);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    kt_metric_t *bare = kt_counter("t_same_total", NULL, NULL);
    assert_non_null(bare);
    assert_ptr_equal(kt_counter("t_same_total", "", NULL), bare);
    assert_int_equal(kt_metric_value(a), 0);

    //  One name, one kind.
    assert_null(kt_gauge("t_same_total", "k=\"v\"", NULL));
    assert_null(kt_histogram("t_same_total", "k=\"x\"", NULL));

    kt_metric_t *g = kt_gauge("t_same_gauge", NULL, "a gauge");
    kt_metric_set(g, -5);
    kt_metric_add(g, 2);
    assert_int_equal(kt_metric_value(g), -3);
    kt_metric_inc(a);
    kt_metric_add(a, 4);
    assert_int_equal(kt_metric_value(a), 5);
}

static void test_null_is_ignored(void **state)
{
    kt_metric_inc(NULL);
    kt_metric_add(NULL, 3);
    kt_metric_set(NULL, 3);
    kt_metric_observe_us(NULL, 3);
    assert_int_equal(kt_metric_value(NULL), 0);
}

static void test_bad_names_and_labels_refused(void **state)
{
    const char *bad_labels[] = {
        "k=v",        "k=\"v",     "k=\"a\nb\"",       "k=\"a\"b",       "\"v\"",    "k=\"v\",",
        "1k=\"v\"",   "k=\"a\\\"", "k=\"a\\x\"",       "k =\"v\"",       "k=\"v\" ", ",k=\"v\"",
        "k=\"a\rb\"", "k-1=\"v\"", "k=\"v\",,j=\"w\"", "k=\"v\"j=\"w\"",
    };
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
        if (kt_counter("t_bad_total", bad_labels[i], NULL))
            fail_msg("labels accepted: %s", bad_labels[i]);
    }
    char long_labels[400];
    memset(long_labels, 'x', sizeof long_labels);
    memcpy(long_labels, "k=\"", 3);
    memcpy(long_labels + sizeof long_labels - 2, "\"", 2);
    assert_null(kt_counter("t_bad_total", long_labels, NULL));

    //  Histograms own `le`.
    assert_null(kt_histogram("t_bad_seconds", "le=\"1\"", NULL));
    assert_null(kt_histogram("t_bad_seconds", "a=\"1\",le=\"1\"", NULL));
    assert_non_null(kt_counter("t_le_total", "le=\"1\"", NULL));

    const char *bad_names[] = {
        "", "1abc", "a-b", "a b", "a\nb", "process_uptime_seconds", "process_cpu_seconds_total"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        if (kt_gauge(bad_names[i], NULL, NULL))
            fail_msg("name accepted: %s", bad_names[i]);
    assert_null(kt_gauge(NULL, NULL, NULL));

    //  Escapes inside values are fine.
    kt_metric_t *m = kt_counter("t_escaped_total", "a=\"x \\\"q\\\" \\\\ \\n\",b_2=\"\"", NULL);
    assert_non_null(m);
    assert_non_null(kt_counter("t_ok:total", "_k=\"v\"", NULL));
}

typedef struct {
    kt_metric_t *counter;
    kt_metric_t *gauge;
    kt_metric_t *histogram;
} s_shared_t;

static void *s_updater(void *arg)
{
    s_shared_t *shared = arg;
    static const int64_t samples_us[] = {100, 2000, 700000, 20000000};
    for (int i = 0; i < ITERATIONS; i++) {
        kt_metric_inc(shared->counter);
        kt_metric_add(shared->gauge, 2);
        kt_metric_add(shared->gauge, -1);
        kt_metric_observe_us(shared->histogram, samples_us[i % 4]);
    }
    return NULL;
}

static void test_updates_from_threads_sum_exactly(void **state)
{
    s_shared_t shared = {
        .counter = kt_counter("t_threads_total", NULL, "threads"),
        .gauge = kt_gauge("t_threads_gauge", NULL, "threads"),
        .histogram = kt_histogram("t_threads_seconds", "kind=\"mixed\"", "threads"),
    };
    assert_non_null(shared.counter);
    assert_non_null(shared.gauge);
    assert_non_null(shared.histogram);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, s_updater, &shared), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    int64_t total = (int64_t)THREADS * ITERATIONS;
    assert_int_equal(kt_metric_value(shared.counter), total);
    assert_int_equal(kt_metric_value(shared.gauge), total);
    assert_int_equal(kt_metric_value(shared.histogram), total);

    //  A quarter of the samples in each of 0.0005, 0.001..0.0025 (2 ms),
    //  0.5..1 (700 ms) and +Inf (20 s); the sum is exact.
    char *text = s_render();
    char line[256];
    int64_t quarter = total / 4;
    snprintf(line, sizeof line, "\nt_threads_seconds_bucket{kind=\"mixed\",le=\"0.0005\"} %lld\n",
             (long long)quarter);
    s_assert_contains(text, line);
    snprintf(line, sizeof line, "\nt_threads_seconds_bucket{kind=\"mixed\",le=\"0.0025\"} %lld\n",
             (long long)(2 * quarter));
    s_assert_contains(text, line);
    snprintf(line, sizeof line, "\nt_threads_seconds_bucket{kind=\"mixed\",le=\"0.5\"} %lld\n",
             (long long)(2 * quarter));
    s_assert_contains(text, line);
    snprintf(line, sizeof line, "\nt_threads_seconds_bucket{kind=\"mixed\",le=\"1\"} %lld\n",
             (long long)(3 * quarter));
    s_assert_contains(text, line);
    snprintf(line, sizeof line, "\nt_threads_seconds_bucket{kind=\"mixed\",le=\"+Inf\"} %lld\n",
             (long long)total);
    s_assert_contains(text, line);
    int64_t sum_us = quarter * (100 + 2000 + 700000 + 20000000);
    snprintf(line, sizeof line, "\nt_threads_seconds_sum{kind=\"mixed\"} %lld.%06lld\n",
             (long long)(sum_us / 1000000), (long long)(sum_us % 1000000));
    s_assert_contains(text, line);
    snprintf(line, sizeof line, "\nt_threads_seconds_count{kind=\"mixed\"} %lld\n",
             (long long)total);
    s_assert_contains(text, line);
    free(text);
}

typedef struct {
    int offset;                 //  where this thread starts in the key list
    kt_metric_t *got[REG_KEYS]; //  what it got for each key
} s_registrar_t;

static void *s_registrar(void *arg)
{
    s_registrar_t *self = arg;
    for (int i = 0; i < REG_KEYS; i++) {
        int key = (i + self->offset) % REG_KEYS;
        char labels[32];
        snprintf(labels, sizeof labels, "key=\"%d\"", key);
        self->got[key] = kt_counter("t_register_total", labels, "registered from threads");
        kt_metric_inc(self->got[key]);
    }
    return NULL;
}

static void test_registration_from_threads(void **state)
{
    size_t before = kt_metrics_size();
    s_registrar_t registrars[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        registrars[i].offset = i * 7;
        assert_int_equal(pthread_create(&threads[i], NULL, s_registrar, &registrars[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(kt_metrics_size(), before + REG_KEYS);
    for (int key = 0; key < REG_KEYS; key++) {
        assert_non_null(registrars[0].got[key]);
        for (int i = 1; i < THREADS; i++)
            assert_ptr_equal(registrars[i].got[key], registrars[0].got[key]);
        assert_int_equal(kt_metric_value(registrars[0].got[key]), THREADS);
    }
    char *text = s_render();
    assert_int_equal(s_count(text, "\n# TYPE t_register_total counter\n"), 1);
    assert_int_equal(s_count(text, "\nt_register_total{key="), REG_KEYS);
    free(text);
}

static void test_render_format(void **state)
{
    //  One family registered in two parts with another metric between.
    kt_metric_t *a = kt_counter("t_render_total", "method=\"A\"", "Calls by method.");
    kt_metric_t *between = kt_gauge("t_render_between", NULL, "Help with \\ and\nnewline.");
    kt_metric_t *b = kt_counter("t_render_total", "method=\"B\"", NULL);
    kt_metric_t *h = kt_histogram("t_render_seconds", "method=\"A\"", "Call duration.");
    kt_metric_t *bare = kt_histogram("t_render_bare_seconds", NULL, "No labels.");
    assert_non_null(a);
    assert_non_null(between);
    assert_non_null(b);
    assert_non_null(h);
    assert_non_null(bare);
    kt_metric_add(a, 5);
    kt_metric_add(b, 7);
    kt_metric_set(between, -2);
    kt_metric_observe_us(h, 400);      //  0.0005
    kt_metric_observe_us(h, 1000);     //  0.001, on the bound
    kt_metric_observe_us(h, 3000);     //  0.005
    kt_metric_observe_us(h, 20000000); //  +Inf
    kt_metric_observe_us(h, -7);       //  counts as zero: 0.0005

    char *text = s_render();
    s_assert_contains(text, "\n# HELP t_render_total Calls by method.\n"
                            "# TYPE t_render_total counter\n"
                            "t_render_total{method=\"A\"} 5\n"
                            "t_render_total{method=\"B\"} 7\n");
    assert_int_equal(s_count(text, "# HELP t_render_total "), 1);
    assert_int_equal(s_count(text, "# TYPE t_render_total "), 1);
    s_assert_contains(text, "\n# HELP t_render_between Help with \\\\ and\\nnewline.\n"
                            "# TYPE t_render_between gauge\n"
                            "t_render_between -2\n");
    s_assert_contains(text, "\n# HELP t_render_seconds Call duration.\n"
                            "# TYPE t_render_seconds histogram\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.0005\"} 2\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.001\"} 3\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.0025\"} 3\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.005\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.01\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.025\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.05\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.1\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.25\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"0.5\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"1\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"2.5\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"5\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"10\"} 4\n"
                            "t_render_seconds_bucket{method=\"A\",le=\"+Inf\"} 5\n"
                            "t_render_seconds_sum{method=\"A\"} 20.004400\n"
                            "t_render_seconds_count{method=\"A\"} 5\n");
    s_assert_contains(text, "\n# TYPE t_render_bare_seconds histogram\n"
                            "t_render_bare_seconds_bucket{le=\"0.0005\"} 0\n");
    s_assert_contains(text, "\nt_render_bare_seconds_bucket{le=\"+Inf\"} 0\n"
                            "t_render_bare_seconds_sum 0.000000\n"
                            "t_render_bare_seconds_count 0\n");
    assert_int_equal(kt_metric_value(h), 5);

    s_assert_contains(text, "\n# TYPE process_resident_memory_bytes gauge\n"
                            "process_resident_memory_bytes ");
    s_assert_contains(text, "\n# TYPE process_start_time_seconds gauge\n");
    s_assert_contains(text, "\n# TYPE process_uptime_seconds gauge\n");
    s_assert_contains(text, "\n# TYPE process_cpu_seconds_total counter\n");

    //  Every line: a comment, or `name[{labels}] value`; every TYPE once per name.
    char *save = NULL;
    for (char *line = strtok_r(text + 1, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[160];
            assert_int_equal(sscanf(line, "# TYPE %159s", name), 1);
            char *rest = kt_metrics_render();
            char needle[200];
            snprintf(needle, sizeof needle, "# TYPE %s ", name);
            assert_int_equal(s_count(rest, needle), 1);
            snprintf(needle, sizeof needle, "# HELP %s ", name);
            assert_int_equal(s_count(rest, needle), 1);
            free(rest);
            continue;
        }
        const char *space = strrchr(line, ' ');
        assert_non_null(space);
        assert_true(space > line);
        const char *brace = strchr(line, '{');
        if (brace && brace < space)
            assert_int_equal(space[-1], '}');
        char *end = NULL;
        strtod(space + 1, &end);
        assert_int_equal(*end, '\0');
    }
    free(text);
}

static void test_clocks(void **state)
{
    int64_t a = kt_now_us();
    int64_t b = kt_now_us();
    assert_true(b >= a);
    int64_t ms = kt_now_ms();
    assert_true(ms >= a / 1000 && ms <= kt_now_us() / 1000);
    assert_true(kt_wall_ms() > INT64_C(1600000000000));
}

//  Last: afterwards the registry has no room left.
static void test_full_registry_refuses(void **state)
{
    kt_metric_t *kept = kt_counter("t_full_kept_total", NULL, "kept");
    assert_non_null(kept);
    int added = 0;
    while (true) {
        char labels[32];
        snprintf(labels, sizeof labels, "n=\"%d\"", added);
        kt_metric_t *m = kt_gauge("t_full_gauge", labels, "filling");
        if (!m)
            break;
        added++;
        assert_true(added <= KT_METRICS_MAX);
    }
    assert_true(added > 0);
    assert_int_equal(kt_metrics_size(), KT_METRICS_MAX);
    assert_null(kt_counter("t_full_new_total", NULL, NULL));
    assert_null(kt_gauge("t_full_gauge", "n=\"new\"", NULL));
    //  What exists is still found.
    assert_ptr_equal(kt_counter("t_full_kept_total", NULL, NULL), kept);
    char *text = s_render();
    char line[64];
    snprintf(line, sizeof line, "\nt_full_gauge{n=\"%d\"} 0\n", added - 1);
    s_assert_contains(text, line);
    assert_int_equal(s_count(text, "\n# TYPE t_full_gauge gauge\n"), 1);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_require_returns_same_series),
        cmocka_unit_test(test_null_is_ignored),
        cmocka_unit_test(test_bad_names_and_labels_refused),
        cmocka_unit_test(test_updates_from_threads_sum_exactly),
        cmocka_unit_test(test_registration_from_threads),
        cmocka_unit_test(test_render_format),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_full_registry_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
