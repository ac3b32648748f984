/*  kt_http - the small HTTP listener every process runs for ops.
 *
 *  One zactor thread owns a non-blocking listening socket and at most
 *  S_CONN_MAX connections, polled with zmq_poll beside the actor's pipe (a
 *  zpoller cannot watch plain file descriptors). A connection moves
 *
 *      READ  -> WRITE -> DRAIN -> closed
 *
 *  READ gathers the request head until a blank line; WRITE sends the whole
 *  response as the socket accepts it; DRAIN has shut our side and reads and
 *  discards whatever the client still sends until it closes, so our close
 *  does not turn into a reset that destroys the response in flight. Each
 *  state has a deadline, so a silent or slow client holds one slot for a
 *  bounded time and never blocks the thread or other clients.
 *
 *  The parser does no I/O; a request that cannot be parsed gets a 400, a
 *  sanitised log line and a close, never an assert.
 */
#include "kt_http.h"

#include "kt_log.h"
#include "kt_metrics.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_CONN_MAX        64            //  connections served at once; more are closed
#define S_HEAD_MAX        8192          //  bytes of request head accepted
#define S_READ_US         (2 * 1000000) //  time from accept to a complete request head
#define S_WRITE_US        (2 * 1000000) //  time to send the whole response
#define S_LINGER_US       (500 * 1000)  //  time to wait for the client to close after
#define S_ACCEPT_PAUSE_US (100 * 1000)  //  rest after accept fails for lack of resources
#define S_ACCEPT_BURST    64            //  accepts per wakeup, so clients are not starved
#define S_BACKLOG         64            //  listen queue
#define S_LOG_LINE        80            //  bytes of a bad request line that reach the log

//  Routes, also the index of their http_requests_total series.
typedef enum { S_HEALTHZ = 0, S_READYZ, S_METRICS, S_OTHER, S_ROUTES } s_route_t;

static const char *const s_route_path[S_ROUTES] = {"/healthz", "/readyz", "/metrics", NULL};
static const char *const s_route_label[S_ROUTES] = {"path=\"healthz\"", "path=\"readyz\"",
                                                    "path=\"metrics\"", "path=\"other\""};

typedef enum { S_FREE = 0, S_READ, S_WRITE, S_DRAIN } s_state_t;

typedef struct {
    s_state_t state;       //  where the connection is; S_FREE for an unused slot
    int fd;                //  the connection's socket while not S_FREE
    int64_t deadline_us;   //  monotonic time at which the current state gives up
    size_t head_len;       //  bytes of request head read so far
    char head[S_HEAD_MAX]; //  the request head as read
    char *out;             //  S_WRITE: the response, owned
    size_t out_len;        //  bytes in out
    size_t out_sent;       //  bytes of out sent so far
} s_conn_t;

typedef struct {
    zsock_t *pipe;                   //  the actor's pipe, borrowed
    int listen_fd;                   //  listening socket
    int port;                        //  port bound
    int64_t accept_paused_until_us;  //  listener left out of the poll until then
    kt_ready_fn *ready;              //  readiness callback, or NULL for always ready
    void *ready_arg;                 //  argument for ready
    kt_metric_t *requests[S_ROUTES]; //  http_requests_total by route
    s_conn_t conn[S_CONN_MAX];       //  connection slots
} s_server_t;

//  What kt_http_new hands the actor; read before the actor signals.
typedef struct {
    const char *host; //  address to bind, NULL or "*" for all
    int port;         //  port to bind, 0 for any
    kt_ready_fn *ready; //  readiness callback, or NULL
    void *ready_arg;    //  argument for ready
} s_args_t;

struct kt_http {
    zactor_t *actor; //  the listener thread
    int port;        //  port it bound
};

//  ---------------------------------------------------------------- parser

typedef struct {
    int status;      //  200 for a GET to answer, else 400 or 405
    s_route_t route; //  where a well-formed request goes
} s_request_t;

//  Parse a request head that ends in "\r\n\r\n": only the request line
//  matters, `METHOD SP /target SP HTTP/1.x`. Headers are ignored.
static s_request_t s_parse(const char *head, size_t len)
{
    s_request_t req = {.status = 400, .route = S_OTHER};
    const char *p = head;
    const char *end = head + len;
    //  RFC 9112 2.2: ignore empty lines before the request line.
    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol)
        return req;

    const char *method = p;
    while (p < eol && *p >= 'A' && *p <= 'Z')
        p++;
    size_t method_len = (size_t)(p - method);
    if (method_len == 0 || p == eol || *p++ != ' ')
        return req;

    const char *target = p;
    while (p<eol && * p> ' ' && *p < 0x7f)
        p++;
    size_t target_len = (size_t)(p - target);
    if (target_len == 0 || *target != '/' || p == eol || *p++ != ' ')
        return req;

    const char version[] = "HTTP/1.";
    size_t version_len = sizeof version - 1;
    if ((size_t)(eol - p) != version_len + 1 || memcmp(p, version, version_len) != 0 ||
        p[version_len] < '0' || p[version_len] > '9')
        return req;

    const char *query = memchr(target, '?', target_len);
    size_t path_len = query ? (size_t)(query - target) : target_len;
    for (int r = 0; r < S_OTHER; r++)
        if (strlen(s_route_path[r]) == path_len && memcmp(s_route_path[r], target, path_len) == 0)
            req.route = (s_route_t)r;
    req.status = method_len == 3 && memcmp(method, "GET", 3) == 0 ? 200 : 405;
    return req;
}

//  ---------------------------------------------------------------- connections

static void s_conn_close(s_conn_t *conn)
{
    assert(conn->state != S_FREE);
    close(conn->fd);
    free(conn->out);
    conn->out = NULL;
    conn->out_len = conn->out_sent = conn->head_len = 0;
    conn->fd = -1;
    conn->state = S_FREE;
}

//  Send what the socket takes; when all is sent, shut our side and drain.
static void s_conn_write(s_conn_t *conn)
{
    while (conn->out_sent < conn->out_len) {
        ssize_t n = send(conn->fd, conn->out + conn->out_sent, conn->out_len - conn->out_sent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            kt_debug("http: could not send response: %s", strerror(errno));
            s_conn_close(conn);
            return;
        }
        conn->out_sent += (size_t)n;
    }
    free(conn->out);
    conn->out = NULL;
    shutdown(conn->fd, SHUT_WR);
    conn->state = S_DRAIN;
    conn->deadline_us = kt_now_us() + S_LINGER_US;
}

static const char *s_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

//  Queue a response and start sending it. `body` is borrowed.
static void s_conn_respond(s_conn_t *conn, int status, const char *content_type, const char *body)
{
    size_t body_len = strlen(body);
    char header[256];
    int header_len = snprintf(header, sizeof header,
                              "HTTP/1.1 %d %s\r\n"
                              "Content-Type: %s\r\n"
                              "Content-Length: %zu\r\n"
                              "Cache-Control: no-store\r\n"
                              "%s"
                              "Connection: close\r\n\r\n",
                              status, s_reason(status), content_type, body_len,
                              status == 405 ? "Allow: GET\r\n" : "");
    assert(header_len > 0 && (size_t)header_len < sizeof header);
    conn->out = malloc((size_t)header_len + body_len);
    if (!conn->out) {
        kt_error("http: could not allocate a response of %zu bytes", body_len);
        s_conn_close(conn);
        return;
    }
    memcpy(conn->out, header, (size_t)header_len);
    memcpy(conn->out + header_len, body, body_len);
    conn->out_len = (size_t)header_len + body_len;
    conn->out_sent = 0;
    conn->state = S_WRITE;
    conn->deadline_us = kt_now_us() + S_WRITE_US;
    s_conn_write(conn);
}

static void s_bad_request(s_server_t *self, s_conn_t *conn, const char *reason, const char *body)
{
    const char *eol = memmem(conn->head, conn->head_len, "\r\n", 2);
    size_t line_len = eol ? (size_t)(eol - conn->head) : conn->head_len;
    char line[S_LOG_LINE];
    kt_warn("http: %s: %s", reason, kt_log_clean(line, sizeof line, conn->head, line_len));
    kt_metric_inc(self->requests[S_OTHER]);
    s_conn_respond(conn, 400, "text/plain; charset=utf-8", body);
}

static void s_conn_answer(s_server_t *self, s_conn_t *conn, size_t head_len)
{
    const char *text = "text/plain; charset=utf-8";
    s_request_t req = s_parse(conn->head, head_len);
    if (req.status == 400) {
        s_bad_request(self, conn, "malformed request line", "malformed request line\n");
        return;
    }
    kt_metric_inc(self->requests[req.route]);
    if (req.status == 405)
        s_conn_respond(conn, 405, text, "method not allowed; use GET\n");
    else if (req.route == S_HEALTHZ)
        s_conn_respond(conn, 200, text, "ok\n");
    else if (req.route == S_READYZ) {
        bool ready = !self->ready || self->ready(self->ready_arg);
        s_conn_respond(conn, ready ? 200 : 503, text, ready ? "ready\n" : "not ready\n");
    } else if (req.route == S_METRICS) {
        char *body = kt_metrics_render();
        if (body)
            s_conn_respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body);
        else
            s_conn_respond(conn, 500, text, "could not render metrics\n");
        free(body);
    } else
        s_conn_respond(conn, 404, text, "no such path; try /healthz, /readyz or /metrics\n");
}

static void s_conn_read(s_server_t *self, s_conn_t *conn)
{
    ssize_t n = recv(conn->fd, conn->head + conn->head_len, S_HEAD_MAX - conn->head_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        //  The client went away before finishing its request: nobody to answer.
        s_conn_close(conn);
        return;
    }
    //  The blank line may straddle the previous read.
    size_t from = conn->head_len > 3 ? conn->head_len - 3 : 0;
    conn->head_len += (size_t)n;
    const char *blank = memmem(conn->head + from, conn->head_len - from, "\r\n\r\n", 4);
    if (blank)
        s_conn_answer(self, conn, (size_t)(blank - conn->head) + 4);
    else if (conn->head_len == S_HEAD_MAX)
        s_bad_request(self, conn, "request head too large", "request head over 8192 bytes\n");
}

//  Read and discard until the client closes. A client that keeps sending
//  only gets one head's worth per wakeup; the deadline ends it.
static void s_conn_drain(s_conn_t *conn)
{
    ssize_t n = recv(conn->fd, conn->head, sizeof conn->head, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0)
        s_conn_close(conn);
}

//  ---------------------------------------------------------------- server

static int s_listen(const char *host, int port, int *bound_port)
{
    const char *node = host && *host && strcmp(host, "*") != 0 ? host : NULL;
    const char *shown = node ? node : "*";
    if (port < 0 || port > 65535) {
        kt_error("http: port must be between 0 and 65535: %d", port);
        return -1;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(node, service, &hints, &list);
    if (rc != 0) {
        kt_error("http: could not resolve host %s: %s", shown, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    int err = 0;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int on = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, S_BACKLOG) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) {
        kt_error("http: could not listen on %s:%d: %s", shown, port, strerror(err));
        return -1;
    }
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        kt_error("http: could not read the bound address: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (addr.ss_family == AF_INET6)
        *bound_port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    else
        *bound_port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
    return fd;
}

static void s_server_destroy(s_server_t **self_p)
{
    assert(self_p);
    s_server_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < S_CONN_MAX; i++)
        if (self->conn[i].state != S_FREE)
            s_conn_close(&self->conn[i]);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    free(self);
    *self_p = NULL;
}

static s_server_t *s_server_new(zsock_t *pipe, const s_args_t *args)
{
    s_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        kt_error("http: could not allocate the listener");
        return NULL;
    }
    self->pipe = pipe;
    self->ready = args->ready;
    self->ready_arg = args->ready_arg;
    for (int i = 0; i < S_CONN_MAX; i++)
        self->conn[i].fd = -1;
    for (int r = 0; r < S_ROUTES; r++)
        self->requests[r] = kt_counter("http_requests_total", s_route_label[r],
                                       "HTTP requests to the ops listener by path.");
    self->listen_fd = s_listen(args->host, args->port, &self->port);
    if (self->listen_fd < 0)
        s_server_destroy(&self);
    return self;
}

static void s_server_accept(s_server_t *self)
{
    for (int burst = 0; burst < S_ACCEPT_BURST; burst++) {
        int fd = accept4(self->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                //  Out of descriptors or memory: the connection stays queued
                //  and would wake us at once, so leave the listener alone
                //  for a moment instead of spinning.
                kt_warn("http: could not accept a connection: %s", strerror(errno));
                self->accept_paused_until_us = kt_now_us() + S_ACCEPT_PAUSE_US;
            }
            return;
        }
        s_conn_t *conn = NULL;
        for (int i = 0; i < S_CONN_MAX && !conn; i++)
            if (self->conn[i].state == S_FREE)
                conn = &self->conn[i];
        if (!conn) {
            kt_debug("http: %d connections open, closing a new one", S_CONN_MAX);
            close(fd);
            continue;
        }
        conn->fd = fd;
        conn->state = S_READ;
        conn->head_len = 0;
        conn->deadline_us = kt_now_us() + S_READ_US;
    }
}

//  Handle one command from the pipe; -1 when the actor should end.
static int s_server_command(s_server_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return -1; //  interrupted
    char *command = zmsg_popstr(msg);
    int rc = 0;
    if (command && streq(command, "$TERM"))
        rc = -1;
    else
        kt_warn("http: unknown actor command");
    free(command);
    zmsg_destroy(&msg);
    return rc;
}

//  One turn of the loop: wait for the pipe, the listener, a connection or the
//  nearest deadline, then handle what is ready and end what is late.
//  Returns -1 when the actor should end.
static int s_server_poll(s_server_t *self)
{
    zmq_pollitem_t items[2 + S_CONN_MAX];
    s_conn_t *owner[2 + S_CONN_MAX];
    int64_t now = kt_now_us();
    int64_t wake = INT64_MAX;

    bool accepting = now >= self->accept_paused_until_us;
    if (!accepting)
        wake = self->accept_paused_until_us;
    items[0] = (zmq_pollitem_t){.socket = zsock_resolve(self->pipe), .events = ZMQ_POLLIN};
    items[1] = (zmq_pollitem_t){.fd = self->listen_fd, .events = accepting ? ZMQ_POLLIN : 0};
    int count = 2;
    for (int i = 0; i < S_CONN_MAX; i++) {
        s_conn_t *conn = &self->conn[i];
        if (conn->state == S_FREE)
            continue;
        short events = conn->state == S_WRITE ? ZMQ_POLLOUT : ZMQ_POLLIN;
        items[count] = (zmq_pollitem_t){.fd = conn->fd, .events = events};
        owner[count++] = conn;
        if (conn->deadline_us < wake)
            wake = conn->deadline_us;
    }
    long timeout = -1;
    if (wake != INT64_MAX)
        timeout = wake > now ? (long)((wake - now + 999) / 1000) : 0;

    if (zmq_poll(items, count, timeout) < 0) {
        if (errno == EINTR)
            return 0;
        kt_error("http: could not poll: %s", zmq_strerror(errno));
        return -1;
    }
    if ((items[0].revents & ZMQ_POLLIN) && s_server_command(self) != 0)
        return -1;

    //  Connections before the listener, so slots freed now can take the
    //  connections waiting to be accepted.
    for (int i = 2; i < count; i++) {
        s_conn_t *conn = owner[i];
        if (!items[i].revents)
            continue;
        if (conn->state == S_READ)
            s_conn_read(self, conn);
        else if (conn->state == S_WRITE)
            s_conn_write(conn);
        else if (conn->state == S_DRAIN)
            s_conn_drain(conn);
    }
    now = kt_now_us();
    for (int i = 0; i < S_CONN_MAX; i++) {
        s_conn_t *conn = &self->conn[i];
        if (conn->state == S_FREE || conn->deadline_us > now)
            continue;
        if (conn->state == S_READ)
            kt_debug("http: no complete request within %d ms, closing", S_READ_US / 1000);
        else if (conn->state == S_WRITE)
            kt_debug("http: response not taken within %d ms, closing", S_WRITE_US / 1000);
        s_conn_close(conn);
    }
    if (items[1].revents & ZMQ_POLLIN)
        s_server_accept(self);
    return 0;
}

//  The actor: bind, report the port (or -1) after the start signal, serve
//  until "$TERM", free everything before returning.
static void s_actor(zsock_t *pipe, void *args)
{
    s_server_t *self = s_server_new(pipe, args);
    zsock_signal(pipe, 0);
    zsock_send(pipe, "i", self ? self->port : -1);
    if (!self)
        return;
    while (s_server_poll(self) == 0)
        ;
    s_server_destroy(&self);
}

//  ---------------------------------------------------------------- public

kt_http_t *kt_http_new(const char *host, int port, kt_ready_fn *ready, void *arg)
{
    kt_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        kt_error("http: could not allocate the listener");
        return NULL;
    }
    s_args_t args = {.host = host, .port = port, .ready = ready, .ready_arg = arg};
    self->actor = zactor_new(s_actor, &args);
    int bound = -1;
    if (!self->actor || zsock_recv(self->actor, "i", &bound) != 0 || bound < 0) {
        kt_http_destroy(&self);
        return NULL;
    }
    self->port = bound;
    return self;
}

int kt_http_port(kt_http_t *self)
{
    assert(self);
    return self->port;
}

void kt_http_destroy(kt_http_t **self_p)
{
    assert(self_p);
    kt_http_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}
