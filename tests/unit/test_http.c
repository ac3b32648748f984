/*  test_http - the ops listener over real loopback sockets.
 *
 *  Each test talks to a kt_http on 127.0.0.1 with a free port, as a client
 *  would: connect, send, read until the server closes. Client sockets carry
 *  receive and send timeouts, so a server that hangs fails the test instead
 *  of hanging it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kt_http.h"
#include "kt_log.h"
#include "kt_metrics.h"

#define S_CLIENT_TIMEOUT_S 5  //  a client gives up on the server after this
#define S_CONN_MAX         64 //  kt_http's connection limit

typedef struct {
    kt_http_t *http;   //  the listener under test
    atomic_bool ready; //  what its ready callback answers
} s_fixture_t;

static bool s_ready(void *arg)
{
    s_fixture_t *fixture = arg;
    return atomic_load(&fixture->ready);
}

static int s_setup(void **state)
{
    s_fixture_t *fixture = calloc(1, sizeof *fixture);
    assert_non_null(fixture);
    atomic_init(&fixture->ready, false);
    fixture->http = kt_http_new("127.0.0.1", 0, s_ready, fixture);
    assert_non_null(fixture->http);
    assert_true(kt_http_port(fixture->http) > 0);
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    s_fixture_t *fixture = *state;
    kt_http_destroy(&fixture->http);
    assert_null(fixture->http);
    free(fixture);
    return 0;
}

static int s_port(void **state)
{
    return kt_http_port(((s_fixture_t *)*state)->http);
}

//  ---------------------------------------------------------------- client

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = S_CLIENT_TIMEOUT_S};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

static void s_send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

//  Everything the server sends until it closes, as a string (caller frees);
//  NULL if the connection was reset or timed out before any byte came.
static char *s_read_all(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while (true) {
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            fail_msg("server neither answered nor closed within %d s", S_CLIENT_TIMEOUT_S);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len == 0) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static char *s_exchange(int port, const char *request, size_t len)
{
    int fd = s_connect(port);
    s_send_all(fd, request, len);
    char *response = s_read_all(fd);
    close(fd);
    return response;
}

static char *s_get(int port, const char *path)
{
    char request[256];
    int len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
    return s_exchange(port, request, (size_t)len);
}

static int s_status(const char *response)
{
    int status = 0;
    assert_non_null(response);
    assert_int_equal(sscanf(response, "HTTP/1.1 %d ", &status), 1);
    return status;
}

//  The body, after checking the head declares its length and closing.
static const char *s_body(const char *response)
{
    const char *blank = strstr(response, "\r\n\r\n");
    assert_non_null(blank);
    const char *body = blank + 4;
    const char *length = strstr(response, "\r\nContent-Length: ");
    assert_non_null(length);
    assert_true(length < blank);
    assert_int_equal(strtoul(length + 18, NULL, 10), strlen(body));
    const char *close = strstr(response, "\r\nConnection: close\r\n");
    assert_true(close && close < blank);
    return body;
}

//  ---------------------------------------------------------------- tests

static void test_healthz(void **state)
{
    char *response = s_get(s_port(state), "/healthz");
    assert_int_equal(s_status(response), 200);
    assert_string_equal(s_body(response), "ok\n");
    free(response);

    //  A query string does not change the path; HTTP/1.0 is fine.
    response = s_get(s_port(state), "/healthz?verbose=1");
    assert_int_equal(s_status(response), 200);
    free(response);
    const char old[] = "GET /healthz HTTP/1.0\r\n\r\n";
    response = s_exchange(s_port(state), old, sizeof old - 1);
    assert_int_equal(s_status(response), 200);
    free(response);
}

static void test_readyz_follows_callback(void **state)
{
    s_fixture_t *fixture = *state;
    atomic_store(&fixture->ready, false);
    char *response = s_get(s_port(state), "/readyz");
    assert_int_equal(s_status(response), 503);
    assert_string_equal(s_body(response), "not ready\n");
    free(response);

    atomic_store(&fixture->ready, true);
    response = s_get(s_port(state), "/readyz");
    assert_int_equal(s_status(response), 200);
    assert_string_equal(s_body(response), "ready\n");
    free(response);
}

static void test_metrics_served(void **state)
{
    kt_metric_t *probe = kt_counter("test_http_probe_total", NULL, "Set by test_http.");
    assert_non_null(probe);
    kt_metric_add(probe, 3);
    char *response = s_get(s_port(state), "/metrics");
    assert_int_equal(s_status(response), 200);
    assert_non_null(strstr(response, "\r\nContent-Type: text/plain; version=0.0.4"));
    const char *body = s_body(response);
    assert_non_null(strstr(body, "\ntest_http_probe_total 3\n"));
    assert_non_null(strstr(body, "\n# TYPE http_requests_total counter\n"));
    //  This request is counted before the body is rendered.
    assert_non_null(strstr(body, "\nhttp_requests_total{path=\"metrics\"} "));
    assert_non_null(strstr(body, "\nprocess_resident_memory_bytes "));
    free(response);
}

static void test_unknown_path_404(void **state)
{
    kt_metric_t *other = kt_counter("http_requests_total", "path=\"other\"", NULL);
    int64_t before = kt_metric_value(other);
    const char *paths[] = {"/", "/nope", "/healthzz", "/metrics/x", "/%00"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *response = s_get(s_port(state), paths[i]);
        assert_int_equal(s_status(response), 404);
        s_body(response);
        free(response);
    }
    //  The actor counts before it answers, so the count is already there.
    assert_int_equal(kt_metric_value(other), before + 5);
}

static void test_post_405(void **state)
{
    const char post[] = "POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    char *response = s_exchange(s_port(state), post, sizeof post - 1);
    assert_int_equal(s_status(response), 405);
    assert_non_null(strstr(response, "\r\nAllow: GET\r\n"));
    s_body(response);
    free(response);
    const char del[] = "DELETE /metrics HTTP/1.1\r\n\r\n";
    response = s_exchange(s_port(state), del, sizeof del - 1);
    assert_int_equal(s_status(response), 405);
    free(response);
}

static void test_garbage_400(void **state)
{
    const char *requests[] = {
        "hello\r\n\r\n",
        "GET healthz HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/2.0\r\n\r\n",
        "GET /healthz\r\n\r\n",
        "GET  /healthz HTTP/1.1\r\n\r\n",
        "get /healthz HTTP/1.1\r\n\r\n",
        "GET /he\x01z HTTP/1.1\r\n\r\n",
        "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        char *response = s_exchange(s_port(state), requests[i], strlen(requests[i]));
        if (s_status(response) != 400)
            fail_msg("request %zu answered: %.40s", i, response);
        s_body(response);
        free(response);
    }
    const char binary[] = "GET /\0\xff\xfe HTTP/1.1\r\n\r\n";
    char *response = s_exchange(s_port(state), binary, sizeof binary - 1);
    assert_int_equal(s_status(response), 400);
    free(response);
}

static void test_oversized_head_400(void **state)
{
    size_t len = 9000;
    char *request = malloc(len);
    assert_non_null(request);
    memset(request, 'a', len);
    memcpy(request, "GET /healthz HTTP/1.1\r\nX-Pad: ", 30);
    char *response = s_exchange(s_port(state), request, len);
    assert_int_equal(s_status(response), 400);
    assert_string_equal(s_body(response), "request head over 8192 bytes\n");
    free(response);
    free(request);

    //  Just under the limit, with the blank line at its very end, is fine.
    len = 8192;
    request = malloc(len);
    assert_non_null(request);
    memset(request, 'a', len);
    memcpy(request, "GET /healthz HTTP/1.1\r\nX-Pad: ", 30);
    memcpy(request + len - 4, "\r\n\r\n", 4);
    response = s_exchange(s_port(state), request, len);
    assert_int_equal(s_status(response), 200);
    free(response);
    free(request);
}

static void test_request_in_pieces(void **state)
{
    int fd = s_connect(s_port(state));
    const char *pieces[] = {"GET /hea", "lthz HTTP/1.1\r\n\r", "\n"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        s_send_all(fd, pieces[i], strlen(pieces[i]));
    char *response = s_read_all(fd);
    close(fd);
    assert_int_equal(s_status(response), 200);
    free(response);
}

static void test_idle_client_blocks_nobody(void **state)
{
    int idle = s_connect(s_port(state));
    int64_t start = kt_now_ms();
    char *response = s_get(s_port(state), "/healthz");
    assert_int_equal(s_status(response), 200);
    free(response);
    assert_true(kt_now_ms() - start < 1000);

    //  The idle one is closed after its 2 s, without an answer.
    char byte;
    ssize_t n = recv(idle, &byte, 1, 0);
    assert_int_equal(n, 0);
    int64_t waited = kt_now_ms() - start;
    assert_true(waited >= 1500 && waited < 4000);
    close(idle);
}

static void test_hundred_sequential_requests(void **state)
{
    for (int i = 0; i < 100; i++) {
        char *response = s_get(s_port(state), i % 2 ? "/healthz" : "/metrics");
        assert_int_equal(s_status(response), 200);
        free(response);
    }
}

//  A client that sends its request and leaves at once is no trouble.
static void test_client_leaving_early(void **state)
{
    int fd = s_connect(s_port(state));
    const char request[] = "GET /metrics HTTP/1.1\r\n\r\n";
    s_send_all(fd, request, sizeof request - 1);
    close(fd);
    char *response = s_get(s_port(state), "/healthz");
    assert_int_equal(s_status(response), 200);
    free(response);
}

//  With every slot held, one more connection is closed unanswered; when the
//  slots free up, requests are served again.
static void test_connection_limit(void **state)
{
    s_fixture_t fixture = {.http = kt_http_new("127.0.0.1", 0, NULL, NULL)};
    assert_non_null(fixture.http);
    int port = kt_http_port(fixture.http);
    int idle[S_CONN_MAX];
    for (int i = 0; i < S_CONN_MAX; i++)
        idle[i] = s_connect(port);

    int extra = s_connect(port);
    const char request[] = "GET /healthz HTTP/1.1\r\n\r\n";
    s_send_all(extra, request, sizeof request - 1);
    char *response = s_read_all(extra);
    assert_null(response);
    close(extra);

    for (int i = 0; i < S_CONN_MAX; i++)
        close(idle[i]);
    response = s_get(port, "/readyz");
    assert_int_equal(s_status(response), 200); //  no callback: always ready
    free(response);
    kt_http_destroy(&fixture.http);
}

static void test_bind_failures(void **state)
{
    //  A port someone else listens on.
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t addr_len = sizeof addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &addr_len), 0);
    assert_null(kt_http_new("127.0.0.1", ntohs(addr.sin_port), NULL, NULL));
    close(fd);

    assert_null(kt_http_new("127.0.0.1", 70000, NULL, NULL));
    assert_null(kt_http_new("127.0.0.1", -1, NULL, NULL));
    assert_null(kt_http_new("192.0.2.1", 0, NULL, NULL)); //  not this host's address

    kt_http_t *none = NULL;
    kt_http_destroy(&none);
    kt_http_destroy(&none);
}

//  Destroying the listener with clients connected closes them and frees all.
static void test_destroy_with_clients(void **state)
{
    kt_http_t *http = kt_http_new("127.0.0.1", 0, NULL, NULL);
    assert_non_null(http);
    int port = kt_http_port(http);
    int idle = s_connect(port);
    //  Make sure the listener holds the connection before it stops.
    char *response = s_get(port, "/healthz");
    assert_int_equal(s_status(response), 200);
    free(response);
    kt_http_destroy(&http);
    assert_null(http);
    char byte;
    ssize_t n = recv(idle, &byte, 1, 0);
    assert_true(n <= 0);
    close(idle);
}

int main(void)
{
    kt_log_init("test_http", KT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readyz_follows_callback, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_served, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_404, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_post_405, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_400, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_head_400, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_request_in_pieces, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idle_client_blocks_nobody, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hundred_sequential_requests, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_client_leaving_early, s_setup, s_teardown),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_bind_failures),
        cmocka_unit_test(test_destroy_with_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
