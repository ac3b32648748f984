/*  kt_redis - Redis for one thread: connect with a password, reconnect on
 *  failure, commands by argv only.
 *
 *  The connection is made on first use. Any failure of the connection
 *  (refused, timeout, EOF, protocol error) frees it: after a timeout the
 *  reply stream is out of step and the context cannot be used again. The
 *  next command connects again, but connection attempts are at most one per
 *  second, so a dead Redis costs one failed connect a second and otherwise
 *  an immediate -1.
 *
 *  hiredis writes with write(2), which raises SIGPIPE when Redis has closed
 *  the connection. Every exchange runs with SIGPIPE blocked in the calling
 *  thread and a SIGPIPE it caused is consumed, as libpq does, so the
 *  process does not die whatever main() did with the signal.
 */
#include "kt_redis.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "kt_log.h"
#include "kt_metrics.h"

//  Cache metrics, shared by every handle of the process.
static pthread_once_t s_metrics_once = PTHREAD_ONCE_INIT;
static kt_metric_t *s_m_hits;       //  fields found by HMGET
static kt_metric_t *s_m_misses;     //  fields HMGET did not find
static kt_metric_t *s_m_errors;     //  commands that failed (down, timeout, bad reply)

static void s_metrics_init(void)
{
    s_m_hits = kt_counter("kontor_redis_hits_total", NULL, "Cache fields found");
    s_m_misses = kt_counter("kontor_redis_misses_total", NULL, "Cache fields not found");
    s_m_errors = kt_counter("kontor_redis_errors_total", NULL, "Redis commands that failed");
}

#define KT_REDIS_ERROR_SIZE  256  //  bytes kept of the last error
#define KT_REDIS_RETRY_MS    1000 //  at most one connection attempt per this
#define KT_REDIS_I64_CHARS   21   //  "-9223372036854775808" and its NUL
#define KT_REDIS_SHOWN       64   //  bytes of a key or command shown in a message
#define KT_REDIS_REPLY_SHOWN 160  //  bytes of an error reply shown in a message

struct kt_redis {
    redisContext *ctx;               //  owned; NULL while not connected
    char *host;                      //  owned
    int port;                        //  TCP port
    char *password;                  //  owned; "" for none
    int timeout_ms;                  //  connect and per-command timeout
    bool attempted;                  //  a connection attempt has been made
    int64_t attempt_ms;              //  monotonic time of the last connection attempt
    char error[KT_REDIS_ERROR_SIZE]; //  the last error, on one line
};

static void s_fail(kt_redis_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Record the last error: printable ASCII only, so it stays one log line.
static void s_fail(kt_redis_t *self, const char *fmt, ...)
{
    pthread_once(&s_metrics_once, s_metrics_init);
    kt_metric_inc(s_m_errors);
    va_list args;
    va_start(args, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, args);
    va_end(args);
    for (char *p = self->error; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  --------------------------------------------------------------------------
//  SIGPIPE (see the top of the file)

typedef struct {
    sigset_t old; //  the thread's mask before
    bool pending; //  SIGPIPE was already pending before
} s_sigpipe_t;

static void s_sigpipe_block(s_sigpipe_t *saved)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &saved->old);
    saved->pending = sigismember(&saved->old, SIGPIPE) && sigpending(&pending) == 0 &&
                     sigismember(&pending, SIGPIPE);
}

static void s_sigpipe_restore(const s_sigpipe_t *saved)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (!saved->pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        //  Ours: take it before unblocking.
        struct timespec zero = {0, 0};
        int save_errno = errno;
        sigtimedwait(&pipe_set, NULL, &zero);
        errno = save_errno;
    }
    pthread_sigmask(SIG_SETMASK, &saved->old, NULL);
}

//  --------------------------------------------------------------------------
//  Connection

kt_redis_t *kt_redis_new(const char *host, int port, const char *password, int timeout_ms)
{
    assert(host);
    assert(port > 0 && port <= 65535);
    assert(timeout_ms > 0);
    //  A process that uses Redis exports its counters from the start, at 0.
    pthread_once(&s_metrics_once, s_metrics_init);
    kt_redis_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->host = strdup(host);
    self->password = strdup(password ? password : "");
    if (self->host == NULL || self->password == NULL) {
        kt_redis_destroy(&self);
        return NULL;
    }
    self->port = port;
    self->timeout_ms = timeout_ms;
    return self;
}

static void s_disconnect(kt_redis_t *self)
{
    if (self->ctx) {
        redisFree(self->ctx);
        self->ctx = NULL;
    }
}

void kt_redis_destroy(kt_redis_t **self_p)
{
    assert(self_p);
    kt_redis_t *self = *self_p;
    if (self == NULL)
        return;
    s_disconnect(self);
    if (self->password) {
        explicit_bzero(self->password, strlen(self->password));
        free(self->password);
    }
    free(self->host);
    free(self);
    *self_p = NULL;
}

//  Send argv and read the reply, SIGPIPE blocked. On a NULL reply the
//  context is broken: the error is recorded and the context freed.
static redisReply *s_exchange(kt_redis_t *self, int argc, const char **argv, const size_t *lens)
{
    s_sigpipe_t saved;
    s_sigpipe_block(&saved);
    redisReply *reply = redisCommandArgv(self->ctx, argc, argv, lens);
    int err = errno;
    s_sigpipe_restore(&saved);
    if (reply == NULL) {
        if (self->ctx->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK))
            s_fail(self, "redis at %s:%d: no reply within %d ms", self->host, self->port,
                   self->timeout_ms);
        else
            s_fail(self, "redis at %s:%d: %s", self->host, self->port,
                   self->ctx->err ? self->ctx->errstr : "no reply");
        s_disconnect(self);
    }
    return reply;
}

//  Connected, or -1 with the reason recorded. Connects when it is time to.
static int s_connect(kt_redis_t *self)
{
    if (self->ctx)
        return 0;
    int64_t now = s_now_ms();
    if (self->attempted && now - self->attempt_ms < KT_REDIS_RETRY_MS) {
        //  Keep the reason of the last failure; it is still the reason.
        return -1;
    }
    self->attempted = true;
    self->attempt_ms = now;

    int rc = -1;
    redisReply *reply = NULL;
    struct timeval tv = {self->timeout_ms / 1000, (self->timeout_ms % 1000) * 1000};
    self->ctx = redisConnectWithTimeout(self->host, self->port, tv);
    if (self->ctx == NULL) {
        s_fail(self, "could not connect to redis at %s:%d: out of memory", self->host, self->port);
        goto cleanup;
    }
    if (self->ctx->err) {
        s_fail(self, "could not connect to redis at %s:%d: %s", self->host, self->port,
               self->ctx->errstr);
        goto cleanup;
    }
    if (redisSetTimeout(self->ctx, tv) != REDIS_OK || redisEnableKeepAlive(self->ctx) != REDIS_OK) {
        s_fail(self, "could not set up connection to redis at %s:%d: %s", self->host, self->port,
               self->ctx->errstr);
        goto cleanup;
    }
    if (*self->password) {
        const char *argv[] = {"AUTH", self->password};
        const size_t lens[] = {4, strlen(self->password)};
        reply = s_exchange(self, 2, argv, lens);
        if (reply == NULL)
            goto cleanup;
        if (reply->type != REDIS_REPLY_STATUS) {
            //  The server's text (WRONGPASS ...) never repeats the password.
            s_fail(self, "could not authenticate to redis at %s:%d: %.*s", self->host, self->port,
                   KT_REDIS_REPLY_SHOWN,
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
            goto cleanup;
        }
    }
    kt_info("connected to redis at %s:%d", self->host, self->port);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject(reply);
    if (rc != 0) {
        kt_warn("%s", self->error);
        s_disconnect(self);
    }
    return rc;
}

//  Run a command and return its reply (caller frees it) unless it is an
//  error reply or none came; then NULL with the reason recorded.
static redisReply *s_command(kt_redis_t *self, int argc, const char **argv, const size_t *lens)
{
    if (s_connect(self) != 0)
        return NULL;
    redisReply *reply = s_exchange(self, argc, argv, lens);
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        s_fail(self, "redis %.*s: %.*s", KT_REDIS_SHOWN, argv[0], KT_REDIS_REPLY_SHOWN, reply->str);
        freeReplyObject(reply);
        reply = NULL;
    }
    return reply;
}

//  Record a reply of the wrong type for `command` and free it.
static int s_unexpected(kt_redis_t *self, const char *command, redisReply *reply)
{
    s_fail(self, "redis %s: unexpected reply type %d", command, reply->type);
    freeReplyObject(reply);
    return -1;
}

//  --------------------------------------------------------------------------
//  Commands

int kt_redis_ping(kt_redis_t *self)
{
    assert(self);
    const char *argv[] = {"PING"};
    redisReply *reply = s_command(self, 1, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "PONG") != 0)
        return s_unexpected(self, "PING", reply);
    freeReplyObject(reply);
    return 0;
}

int kt_redis_command(kt_redis_t *self, int argc, const char **argv, const size_t *lens)
{
    assert(self);
    assert(argc > 0 && argv);
    redisReply *reply = s_command(self, argc, argv, lens);
    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

int kt_redis_hset_i64(kt_redis_t *self, const char *key, const char *const *fields,
                      const int64_t *values, size_t n)
{
    assert(self);
    assert(key);
    assert(n == 0 || (fields && values));
    if (n == 0)
        return 0;
    if (n > (size_t)(INT_MAX - 2) / 2) {
        s_fail(self, "redis HSET: too many fields: %zu", n);
        return -1;
    }
    int rc = -1;
    int argc = (int)(2 + 2 * n);
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *lens = calloc((size_t)argc, sizeof *lens);
    char *numbers = calloc(n, KT_REDIS_I64_CHARS);
    redisReply *reply = NULL;
    if (argv == NULL || lens == NULL || numbers == NULL) {
        s_fail(self, "redis HSET: out of memory");
        goto cleanup;
    }
    argv[0] = "HSET";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        assert(fields[i]);
        char *number = numbers + i * KT_REDIS_I64_CHARS;
        int len = snprintf(number, KT_REDIS_I64_CHARS, "%" PRId64, values[i]);
        assert(len > 0 && len < KT_REDIS_I64_CHARS);
        argv[2 + 2 * i] = fields[i];
        lens[2 + 2 * i] = strlen(fields[i]);
        argv[3 + 2 * i] = number;
        lens[3 + 2 * i] = (size_t)len;
    }
    reply = s_command(self, argc, argv, lens);
    if (reply == NULL)
        goto cleanup;
    if (reply->type != REDIS_REPLY_INTEGER) {
        s_unexpected(self, "HSET", reply);
        reply = NULL;
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject(reply);
    free(numbers);
    free(lens);
    free(argv);
    return rc;
}

//  Strict integer: an optional '-' then decimal digits, nothing else, in
//  the int64 range. Returns 0 with *value set, or -1.
static int s_parse_i64(const char *str, size_t len, int64_t *value)
{
    size_t i = 0;
    bool negative = len > 0 && str[0] == '-';
    if (negative)
        i++;
    if (i == len)
        return -1;
    //  Accumulate as a negative number: its range is one larger.
    int64_t v = 0;
    for (; i < len; i++) {
        if (str[i] < '0' || str[i] > '9')
            return -1;
        int digit = str[i] - '0';
        if (v < (INT64_MIN + digit) / 10)
            return -1;
        v = v * 10 - digit;
    }
    if (!negative) {
        if (v == INT64_MIN)
            return -1;
        v = -v;
    }
    *value = v;
    return 0;
}

int kt_redis_hmget_i64(kt_redis_t *self, const char *key, const char *const *fields, size_t n,
                       int64_t *values, int *present)
{
    assert(self);
    assert(key);
    assert(n == 0 || (fields && values && present));
    for (size_t i = 0; i < n; i++) {
        values[i] = 0;
        present[i] = 0;
    }
    if (n == 0)
        return 0;
    if (n > (size_t)INT_MAX - 2) {
        s_fail(self, "redis HMGET: too many fields: %zu", n);
        return -1;
    }
    int rc = -1;
    int argc = (int)(2 + n);
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *lens = calloc((size_t)argc, sizeof *lens);
    redisReply *reply = NULL;
    if (argv == NULL || lens == NULL) {
        s_fail(self, "redis HMGET: out of memory");
        goto cleanup;
    }
    argv[0] = "HMGET";
    lens[0] = 5;
    argv[1] = key;
    lens[1] = strlen(key);
    for (size_t i = 0; i < n; i++) {
        assert(fields[i]);
        argv[2 + i] = fields[i];
        lens[2 + i] = strlen(fields[i]);
    }
    reply = s_command(self, argc, argv, lens);
    if (reply == NULL)
        goto cleanup;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
        s_fail(self, "redis HMGET: unexpected reply type %d with %zu elements for %zu fields",
               reply->type, reply->elements, n);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *element = reply->element[i];
        if (element->type == REDIS_REPLY_NIL)
            continue;
        if (element->type != REDIS_REPLY_STRING ||
            s_parse_i64(element->str, element->len, &values[i]) != 0) {
            s_fail(self, "redis HMGET %.*s: field %.*s does not hold an integer", KT_REDIS_SHOWN,
                   key, KT_REDIS_SHOWN, fields[i]);
            goto cleanup;
        }
        present[i] = 1;
    }
    pthread_once(&s_metrics_once, s_metrics_init);
    for (size_t i = 0; i < n; i++)
        kt_metric_inc(present[i] ? s_m_hits : s_m_misses);
    rc = 0;
cleanup:
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            values[i] = 0;
            present[i] = 0;
        }
    }
    if (reply)
        freeReplyObject(reply);
    free(lens);
    free(argv);
    return rc;
}

int kt_redis_get(kt_redis_t *self, const char *key, char *buf, size_t size)
{
    assert(self);
    assert(key);
    assert(buf && size > 0);
    buf[0] = '\0';
    const char *argv[] = {"GET", key};
    redisReply *reply = s_command(self, 2, argv, NULL);
    if (reply == NULL)
        return -1;
    int rc = -1;
    if (reply->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (reply->type != REDIS_REPLY_STRING) {
        s_fail(self, "redis GET: unexpected reply type %d", reply->type);
    } else if (reply->len >= size || memchr(reply->str, '\0', reply->len)) {
        s_fail(self, "redis GET %.*s: value of %zu bytes does not fit %zu or holds a NUL",
               KT_REDIS_SHOWN, key, reply->len, size);
    } else {
        memcpy(buf, reply->str, reply->len);
        buf[reply->len] = '\0';
        rc = 1;
    }
    freeReplyObject(reply);
    return rc;
}

int kt_redis_set(kt_redis_t *self, const char *key, const char *value)
{
    assert(self);
    assert(key);
    assert(value);
    const char *argv[] = {"SET", key, value};
    redisReply *reply = s_command(self, 3, argv, NULL);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "OK") != 0)
        return s_unexpected(self, "SET", reply);
    freeReplyObject(reply);
    return 0;
}

const char *kt_redis_error(kt_redis_t *self)
{
    assert(self);
    return self->error;
}
