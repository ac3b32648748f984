/*  test_log - cleaning of outside values, and the shape of lines written to stderr.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_log.h"

#define THREADS          8
#define LINES_PER_THREAD 200

static void test_clean(void **state)
{
    char dst[32];
    assert_string_equal(kt_log_clean(dst, sizeof dst, "plain", 5), "plain");
    assert_string_equal(kt_log_clean(dst, sizeof dst, "a\nb\rc\td", 7), "a?b?c?d");
    assert_string_equal(kt_log_clean(dst, sizeof dst, "say \"hi\" 'x'", 12), "say ?hi? ?x?");
    assert_string_equal(kt_log_clean(dst, sizeof dst, "\x1b[31mred\x7f", 9), "?[31mred?");
    //  Bytes >= 0x7f, so UTF-8 too, become '?' one byte each.
    assert_string_equal(kt_log_clean(dst, sizeof dst, "Да", 4), "????");
    //  An embedded NUL within len is a control character, not an end.
    assert_string_equal(kt_log_clean(dst, sizeof dst, "a\0b", 3), "a?b");
    //  len bounds the read: src need not be terminated.
    assert_string_equal(kt_log_clean(dst, sizeof dst, "abcdef", 3), "abc");
    assert_string_equal(kt_log_clean(dst, sizeof dst, "", 0), "");
    assert_string_equal(kt_log_clean(dst, sizeof dst, NULL, 0), "(null)");

    //  Exactly size - 1 bytes fit; one more is cut and ends in "...".
    char exact[31];
    memset(exact, 'x', sizeof exact);
    kt_log_clean(dst, sizeof dst, exact, 31);
    assert_int_equal(strlen(dst), 31);
    assert_true(dst[30] == 'x');
    char longer[1000];
    memset(longer, 'y', sizeof longer);
    longer[5] = '\n';
    kt_log_clean(dst, sizeof dst, longer, sizeof longer);
    assert_int_equal(strlen(dst), 31);
    assert_string_equal(dst + 28, "...");
    assert_true(dst[5] == '?');

    //  Tiny buffers stay terminated and in bounds.
    char tiny[3];
    assert_string_equal(kt_log_clean(tiny, sizeof tiny, "abcdef", 6), "ab");
    char one[1] = {'z'};
    assert_string_equal(kt_log_clean(one, sizeof one, "abc", 3), "");
    char four[4];
    assert_string_equal(kt_log_clean(four, sizeof four, "abcdef", 6), "...");
    char none[1] = {'z'};
    kt_log_clean(none, 0, "abc", 3);
    assert_true(none[0] == 'z');
}

static void test_level_names(void **state)
{
    assert_int_equal(kt_log_level_from_name("debug"), KT_LOG_DEBUG);
    assert_int_equal(kt_log_level_from_name("info"), KT_LOG_INFO);
    assert_int_equal(kt_log_level_from_name("warn"), KT_LOG_WARN);
    assert_int_equal(kt_log_level_from_name("error"), KT_LOG_ERROR);
    assert_int_equal(kt_log_level_from_name("INFO"), -1);
    assert_int_equal(kt_log_level_from_name("trace"), -1);
    assert_int_equal(kt_log_level_from_name(""), -1);
    assert_int_equal(kt_log_level_from_name(NULL), -1);
}

//  Capture what is written to fd 2: it goes to a temporary file until stopped.
typedef struct {
    int saved;  //  the real stderr
    FILE *file; //  the capture
} capture_t;

static void s_capture_start(capture_t *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    //  Appending, as a log file is opened: each write lands whole at the end.
    assert_int_equal(fcntl(fileno(c->file), F_SETFL, O_APPEND), 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

//  Stop capturing; returns what was written (caller frees) and its length.
static char *s_capture_stop(capture_t *c, size_t *len)
{
    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    assert_int_equal(fseek(c->file, 0, SEEK_END), 0);
    long end = ftell(c->file);
    assert_true(end >= 0);
    rewind(c->file);
    char *text = malloc((size_t)end + 1);
    assert_non_null(text);
    size_t n = fread(text, 1, (size_t)end, c->file);
    text[n] = '\0';
    fclose(c->file);
    *len = n;
    return text;
}

static size_t s_count(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_line_shape(void **state)
{
    kt_log_init("orders", KT_LOG_INFO);
    capture_t c;
    size_t len;

    s_capture_start(&c);
    errno = EAGAIN;
    kt_log(KT_LOG_INFO, "7f3a9c", "placed order id=%d lines=%d", 42, 7);
    int saved_errno = errno;
    char *text = s_capture_stop(&c, &len);
    assert_int_equal(saved_errno, EAGAIN);
    //  One line, ending in a newline.
    assert_int_equal(s_count(text, '\n'), 1);
    assert_true(len > 0 && text[len - 1] == '\n');
    //  2026-11-22T09:45:19.123Z info orders req=7f3a9c placed order id=42 lines=7
    int y, mo, d, h, mi, s, ms;
    char z;
    assert_int_equal(
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &z), 8);
    assert_true(z == 'Z');
    assert_true(text[4] == '-' && text[10] == 'T' && text[19] == '.' && text[23] == 'Z');
    assert_string_equal(text + 24, " info orders req=7f3a9c placed order id=42 lines=7\n");
    free(text);

    //  Without a request id there is no req= field.
    s_capture_start(&c);
    kt_warn("disk %s", "slow");
    text = s_capture_stop(&c, &len);
    assert_string_equal(text + 24, " warn orders disk slow\n");
    free(text);

    //  Below the level nothing is written.
    s_capture_start(&c);
    kt_debug("not shown");
    text = s_capture_stop(&c, &len);
    assert_int_equal(len, 0);
    free(text);
}

static void test_line_stays_one_line(void **state)
{
    kt_log_init("bus", KT_LOG_DEBUG);
    capture_t c;
    size_t len;

    //  A newline in the message or in the request id does not split the line.
    s_capture_start(&c);
    kt_log(KT_LOG_ERROR, "req\n1 \"x\"", "bad frame: %s", "line one\nline two\r\x1b[0m");
    char *text = s_capture_stop(&c, &len);
    assert_int_equal(s_count(text, '\n'), 1);
    assert_non_null(strstr(text, " error bus req=req?1 ?x? bad frame: line one?line two??[0m\n"));
    free(text);

    //  A long line is cut to 4 KiB and ends in "...".
    size_t big = 10000;
    char *payload = malloc(big + 1);
    assert_non_null(payload);
    memset(payload, 'p', big);
    payload[big] = '\0';
    s_capture_start(&c);
    kt_log(KT_LOG_INFO, "long-1", "payload=%s", payload);
    text = s_capture_stop(&c, &len);
    free(payload);
    assert_int_equal(s_count(text, '\n'), 1);
    assert_true(len <= 4096);
    assert_true(len > 4000);
    assert_string_equal(text + len - 4, "...\n");
    assert_non_null(strstr(text, "req=long-1 payload=ppp"));
    free(text);
}

static void *s_writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char pad[600];
    memset(pad, 'a' + id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < LINES_PER_THREAD; i++)
        kt_log(KT_LOG_INFO, "thread", "t=%d i=%d pad=%s end", id, i, pad);
    return NULL;
}

//  Lines from many threads never interleave: each is whole.
static void test_threads(void **state)
{
    kt_log_init("orders", KT_LOG_INFO);
    capture_t c;
    size_t len;
    s_capture_start(&c);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, s_writer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    char *text = s_capture_stop(&c, &len);
    assert_int_equal(s_count(text, '\n'), THREADS * LINES_PER_THREAD);
    int seen[THREADS] = {0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int t, i, n = 0;
        char *body = strstr(line, " info orders req=thread t=");
        assert_non_null(body);
        assert_int_equal(sscanf(body, " info orders req=thread t=%d i=%d pad=%n", &t, &i, &n), 2);
        assert_true(t >= 0 && t < THREADS && n > 0);
        const char *pad = body + n;
        for (int k = 0; k < 599; k++)
            assert_true(pad[k] == 'a' + t);
        assert_string_equal(pad + 599, " end");
        seen[t]++;
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(seen[t], LINES_PER_THREAD);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),      cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_line_shape), cmocka_unit_test(test_line_stays_one_line),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
