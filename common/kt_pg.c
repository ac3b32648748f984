/*  kt_pg - PostgreSQL for one thread: connection, lazily prepared statements,
 *  transactions with bounded retries, the SQLSTATE mapping, and migrations.
 *
 *  The contract is in kt_pg.h. What the code below relies on:
 *
 *  - Prepared statements live in the server session. The table of names
 *    prepared on this connection is emptied whenever the session is reset,
 *    so each statement is prepared again on the new session.
 *  - Every failure goes through s_fail(), which records SQLSTATE, message and
 *    status on the object and counts the failure. kt_pg_tx() compares the
 *    count before and after the body to tell "a statement failed" from "the
 *    body refused".
 *  - A connection lost inside a transaction is not reset until the
 *    transaction is over: a reset in the middle would run the remaining
 *    statements outside any transaction, in autocommit. `in_tx` follows what
 *    the server last said (BEGIN through kt_pg_command counts too) and
 *    stays set while the connection is bad, until kt_pg_tx() ends the
 *    attempt or the caller runs BEGIN, COMMIT or ROLLBACK through
 *    kt_pg_command(): COMMIT and ROLLBACK then fail without a reset, BEGIN
 *    resets and starts afresh.
 */
#include "kt_pg.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_status.h"

#include <pthread.h>

//  Database metrics, shared by every connection of the process.
static pthread_once_t s_metrics_once = PTHREAD_ONCE_INIT;
static kt_metric_t *s_m_connections;    //  connections open
static kt_metric_t *s_m_busy;           //  connections running a statement now
static kt_metric_t *s_m_query;          //  statement latency
static kt_metric_t *s_m_errors;         //  statements that failed

static void s_metrics_init(void)
{
    s_m_connections = kt_gauge("kontor_db_connections", NULL, "PostgreSQL connections open");
    s_m_busy = kt_gauge("kontor_db_busy", NULL, "PostgreSQL connections running a statement");
    s_m_query = kt_histogram("kontor_db_query_seconds", NULL,
                             "Time from sending a prepared statement to its result");
    s_m_errors = kt_counter("kontor_db_errors_total", NULL, "Statements that failed");
}

#define KT_PG_ERROR_SIZE      512   //  bytes kept of the last failure's message
#define KT_PG_NAME_SHOWN      64    //  bytes of a statement name or SQL shown in a message
#define KT_PG_BACKOFF_BASE_US 1000  //  retry n waits between base*2^n/2 and base*2^n
#define KT_PG_BACKOFF_CAP_US  50000 //  ... but never more than this

//  SQLSTATEs this file sets itself (src/backend/utils/errcodes.txt)
#define S_STATE_CONNECTION  "08006" //  connection_failure
#define S_STATE_ABORTED_TX  "25P02" //  in_failed_sql_transaction
#define S_STATE_ROLLED_BACK "40000" //  transaction_rollback
#define S_STATE_NO_MEMORY   "53200" //  out_of_memory
#define S_STATE_UNSUPPORTED "0A000" //  feature_not_supported
#define S_STATE_INTERNAL    "XX000" //  internal_error

struct kt_pg {
    bool counted;                 //  in kontor_db_connections
    PGconn *conn;                 //  owned; never NULL
    char **prepared;              //  owned copies of the names prepared on this session
    size_t nprepared;             //  names in use in `prepared`
    size_t prepared_max;          //  names allocated in `prepared`
    bool in_tx;                   //  a transaction is open (or was, when the connection broke)
    unsigned long failures;       //  failures recorded so far (kt_pg_tx compares it)
    unsigned int seed;            //  rand_r() state for the retry jitter
    int status;                   //  kt_status_t for the last failure, KT_OK if none
    char sqlstate[6];             //  SQLSTATE of the last failure, "" if none
    char error[KT_PG_ERROR_SIZE]; //  message of the last failure, on one line
};

//  --------------------------------------------------------------------------
//  Failures

//  Copy src into dst as one line: control characters become spaces, runs of
//  spaces collapse, trailing space goes. Returns dst.
static char *s_oneline(char *dst, size_t size, const char *src)
{
    assert(size > 0);
    size_t n = 0;
    bool space = false;
    for (const char *p = src ? src : ""; *p && n + 1 < size; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f || ch == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < size)
            dst[n++] = ' ';
        space = false;
        dst[n++] = (char)ch;
    }
    dst[n] = '\0';
    return dst;
}

static void s_fail(kt_pg_t *self, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

//  Record a failure: SQLSTATE (NULL means the connection broke), message and
//  the status the caller should get.
static void s_fail(kt_pg_t *self, const char *state, const char *fmt, ...)
{
    char raw[KT_PG_ERROR_SIZE];
    va_list args;
    va_start(args, fmt);
    vsnprintf(raw, sizeof raw, fmt, args);
    va_end(args);
    s_oneline(self->error, sizeof self->error, raw);

    if (state == NULL)
        state = S_STATE_CONNECTION;
    snprintf(self->sqlstate, sizeof self->sqlstate, "%.5s", state);
    self->status = kt_pg_status_for(self->sqlstate);
    self->failures++;
}

//  Record the failure described by `res` (which may be NULL: out of memory
//  or the connection broke) of `action` on `name`.
static void s_fail_result(kt_pg_t *self, const PGresult *res, const char *action, const char *name)
{
    ExecStatusType st = PQresultStatus(res);
    if (res != NULL && st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR) {
        s_fail(self, S_STATE_INTERNAL, "%s %.*s: unexpected result %s", action, KT_PG_NAME_SHOWN,
               name, PQresStatus(st));
        return;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (primary == NULL) {
        //  Made by libpq, not the server: the text is on the connection.
        primary = PQerrorMessage(self->conn);
        if (*primary == '\0')
            primary = "no result from server";
    }
    s_fail(self, state, "%s %.*s: %s%s%s", action, KT_PG_NAME_SHOWN, name, primary,
           detail ? ": " : "", detail ? detail : "");
}

//  libpq prints notices on stderr unless told otherwise; they belong in the log.
static void s_notice(void *arg, const PGresult *res)
{
    (void)arg;
    char line[KT_PG_ERROR_SIZE];
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    s_oneline(line, sizeof line, PQresultErrorMessage(res));
    if (severity && strcmp(severity, "WARNING") == 0)
        kt_warn("database %s", line);
    else
        kt_debug("database %s", line);
}

//  Note whether the server says a transaction is open. Nothing is learnt
//  from a bad connection: what was open stays open until it is ended.
static void s_observe(kt_pg_t *self)
{
    if (PQstatus(self->conn) != CONNECTION_OK)
        return;
    PGTransactionStatusType ts = PQtransactionStatus(self->conn);
    self->in_tx = ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
}

//  --------------------------------------------------------------------------
//  Connection

kt_pg_t *kt_pg_new(const char *dsn)
{
    assert(dsn);
    kt_pg_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        kt_error("could not connect to database: out of memory");
        return NULL;
    }
    self->status = KT_OK;
    self->conn = PQconnectdb(dsn);
    if (self->conn == NULL) {
        kt_error("could not connect to database: out of memory");
        free(self);
        return NULL;
    }
    if (PQstatus(self->conn) != CONNECTION_OK) {
        //  libpq's messages name host, port, user and database, never the password.
        char line[KT_PG_ERROR_SIZE];
        kt_error("could not connect to database: %s",
                 s_oneline(line, sizeof line, PQerrorMessage(self->conn)));
        kt_pg_destroy(&self);
        return NULL;
    }
    PQsetNoticeReceiver(self->conn, s_notice, NULL);
    pthread_once(&s_metrics_once, s_metrics_init);
    kt_metric_add(s_m_connections, 1);
    self->counted = true;

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    self->seed = (unsigned int)now.tv_nsec ^ (unsigned int)getpid() ^ (unsigned int)(uintptr_t)self;
    return self;
}

//  Forget what was prepared: the session it was prepared on is gone.
static void s_forget_prepared(kt_pg_t *self)
{
    for (size_t i = 0; i < self->nprepared; i++)
        free(self->prepared[i]);
    self->nprepared = 0;
}

void kt_pg_destroy(kt_pg_t **self_p)
{
    assert(self_p);
    kt_pg_t *self = *self_p;
    if (self == NULL)
        return;
    s_forget_prepared(self);
    free(self->prepared);
    if (self->counted)
        kt_metric_add(s_m_connections, -1);
    PQfinish(self->conn);
    free(self);
    *self_p = NULL;
}

PGconn *kt_pg_conn(kt_pg_t *self)
{
    assert(self);
    return self->conn;
}

int kt_pg_ensure(kt_pg_t *self)
{
    assert(self);
    if (PQstatus(self->conn) == CONNECTION_OK)
        return 0;
    if (self->in_tx) {
        s_fail(self, S_STATE_CONNECTION, "connection lost inside a transaction");
        return -1;
    }
    s_forget_prepared(self);
    PQreset(self->conn);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        s_fail(self, S_STATE_CONNECTION, "could not reconnect to database: %s",
               PQerrorMessage(self->conn));
        return -1;
    }
    kt_info("reconnected to database");
    return 0;
}

//  --------------------------------------------------------------------------
//  Statements

static bool s_is_prepared(const kt_pg_t *self, const char *name)
{
    for (size_t i = 0; i < self->nprepared; i++)
        if (strcmp(self->prepared[i], name) == 0)
            return true;
    return false;
}

//  Prepare `stmt` on this session unless it already is. Room in the table is
//  made first, so a statement the server prepared is always remembered (a
//  second PQprepare of the same name would fail and abort the transaction).
static int s_prepare(kt_pg_t *self, const kt_stmt_t *stmt)
{
    if (s_is_prepared(self, stmt->name))
        return 0;

    int rc = -1;
    PGresult *res = NULL;
    char *name = NULL;
    if (self->nprepared == self->prepared_max) {
        size_t max = self->prepared_max ? self->prepared_max * 2 : 32;
        char **grown = realloc(self->prepared, max * sizeof *grown);
        if (grown == NULL)
            goto nomem;
        self->prepared = grown;
        self->prepared_max = max;
    }
    name = strdup(stmt->name);
    if (name == NULL)
        goto nomem;

    res = PQprepare(self->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        s_fail_result(self, res, "could not prepare statement", stmt->name);
        goto cleanup;
    }
    self->prepared[self->nprepared++] = name;
    name = NULL;
    rc = 0;
    goto cleanup;

nomem:
    s_fail(self, S_STATE_NO_MEMORY, "could not prepare statement %.*s: out of memory",
           KT_PG_NAME_SHOWN, stmt->name);
cleanup:
    free(name);
    PQclear(res);
    return rc;
}

PGresult *kt_pg_exec_bin(kt_pg_t *self, const kt_stmt_t *stmt, const char *const *params,
                         const int *lengths, const int *formats)
{
    assert(self);
    assert(stmt && stmt->name && *stmt->name && stmt->sql);
    assert(stmt->nparams >= 0 && stmt->nparams <= 65535);
    assert(stmt->nparams == 0 || params);

    PGresult *res = NULL;
    if (kt_pg_ensure(self) != 0 || s_prepare(self, stmt) != 0)
        goto failed;
    int64_t start = kt_now_us();
    kt_metric_add(s_m_busy, 1);
    res = PQexecPrepared(self->conn, stmt->name, stmt->nparams, params, lengths, formats, 0);
    kt_metric_add(s_m_busy, -1);
    kt_metric_observe_us(s_m_query, kt_now_us() - start);
    s_observe(self);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    kt_metric_inc(s_m_errors);
    s_fail_result(self, res, "could not execute statement", stmt->name);
failed:
    PQclear(res);
    return NULL;
}

PGresult *kt_pg_exec(kt_pg_t *self, const kt_stmt_t *stmt, const char *const *params)
{
    return kt_pg_exec_bin(self, stmt, params, NULL, NULL);
}

//  After PQexec stopped at a COPY: end it and read what is left, so the
//  connection is usable again.
static void s_end_copy(kt_pg_t *self, ExecStatusType st)
{
    if (st == PGRES_COPY_IN || st == PGRES_COPY_BOTH)
        PQputCopyEnd(self->conn, "COPY is not supported here");
    if (st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        char *buf = NULL;
        while (PQgetCopyData(self->conn, &buf, 0) > 0) {
            PQfreemem(buf);
            buf = NULL;
        }
    }
    PGresult *res;
    while ((res = PQgetResult(self->conn)) != NULL)
        PQclear(res);
}

//  Run SQL text (one or more statements, no parameters). Returns the last
//  result (caller clears it) or NULL with the failure recorded; `what` names
//  the text in messages.
static PGresult *s_exec_text(kt_pg_t *self, const char *sql, const char *what)
{
    PGresult *res = NULL;
    if (kt_pg_ensure(self) != 0)
        goto failed;
    res = PQexec(self->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
        s_end_copy(self, st);
    s_observe(self);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
        return res;
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        s_fail(self, S_STATE_UNSUPPORTED, "could not run %.*s: COPY is not supported here",
               KT_PG_NAME_SHOWN, what);
        goto failed;
    }
    s_fail_result(self, res, "could not run", what);
failed:
    PQclear(res);
    return NULL;
}

//  What a command does to a transaction: starts one, ends one, or neither.
typedef enum { S_TX_OTHER, S_TX_BEGIN, S_TX_END } s_tx_control_t;

//  True if `sql` is `word` followed by nothing but spaces and semicolons
//  (whole = true), or by a space or the end (whole = false).
static bool s_is_word(const char *sql, const char *word, bool whole)
{
    size_t len = strlen(word);
    if (strncasecmp(sql, word, len) != 0)
        return false;
    const char *rest = sql + len;
    if (!whole)
        return *rest == '\0' || *rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == ';';
    for (; *rest; rest++)
        if (!(*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == ';'))
            return false;
    return true;
}

static s_tx_control_t s_tx_control(const char *sql)
{
    while (*sql == ' ' || *sql == '\t' || *sql == '\n')
        sql++;
    if (s_is_word(sql, "BEGIN", false) || s_is_word(sql, "START", false))
        return S_TX_BEGIN;
    //  "ROLLBACK TO SAVEPOINT x" keeps the transaction open: whole words only.
    if (s_is_word(sql, "COMMIT", true) || s_is_word(sql, "END", true) ||
        s_is_word(sql, "ROLLBACK", true) || s_is_word(sql, "ABORT", true))
        return S_TX_END;
    return S_TX_OTHER;
}

int kt_pg_command(kt_pg_t *self, const char *sql)
{
    assert(self);
    assert(sql);
    if (self->in_tx && PQstatus(self->conn) != CONNECTION_OK) {
        //  The transaction died with the connection (see the top of the file).
        s_tx_control_t control = s_tx_control(sql);
        if (control == S_TX_END) {
            self->in_tx = false;
            s_fail(self, S_STATE_CONNECTION, "could not run %.*s: %s", KT_PG_NAME_SHOWN, sql,
                   "connection lost inside a transaction");
            return -1;
        }
        if (control == S_TX_BEGIN)
            self->in_tx = false;
    }
    PGresult *res = s_exec_text(self, sql, sql);
    int rc = res ? 0 : -1;
    PQclear(res);
    return rc;
}

//  --------------------------------------------------------------------------
//  Transactions

//  ROLLBACK if a transaction is open. A failure here is only logged: the
//  reason for rolling back is what the caller must see, and a session whose
//  ROLLBACK fails has lost its connection, which ends the transaction anyway.
static void s_rollback(kt_pg_t *self)
{
    PGTransactionStatusType ts = PQtransactionStatus(self->conn);
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
        return;
    PGresult *res = PQexec(self->conn, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char line[KT_PG_ERROR_SIZE];
        kt_warn("could not roll back transaction: %s",
                s_oneline(line, sizeof line, PQerrorMessage(self->conn)));
    }
    PQclear(res);
}

//  COMMIT. A COMMIT can fail (serialization failure, deferred constraint) and
//  the server then ends the transaction; a COMMIT of a failed transaction
//  "succeeds" with the command tag ROLLBACK. Both are failures here.
static int s_commit(kt_pg_t *self)
{
    PGresult *res = s_exec_text(self, "COMMIT", "COMMIT");
    if (res == NULL)
        return -1;
    int rc = 0;
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        s_fail(self, S_STATE_ROLLED_BACK, "could not commit: transaction was rolled back");
        rc = -1;
    }
    PQclear(res);
    return rc;
}

//  One attempt: BEGIN, fn, COMMIT or ROLLBACK. Returns 0 committed, 1 fn
//  refused, -1 with a failure recorded during this attempt.
static int s_tx_attempt(kt_pg_t *self, kt_pg_tx_fn *fn, void *arg)
{
    if (kt_pg_command(self, "BEGIN") != 0)
        return -1;
    self->in_tx = true;
    unsigned long failures = self->failures;
    int rc = fn(self, arg);
    assert(rc == 0 || rc == 1 || rc == -1);
    bool failed = self->failures != failures;

    if (rc == 0) {
        PGTransactionStatusType ts = PQtransactionStatus(self->conn);
        //  IDLE would mean fn ended the transaction itself: a bug in fn.
        assert(ts != PQTRANS_IDLE && ts != PQTRANS_ACTIVE);
        if (ts == PQTRANS_INTRANS) {
            self->in_tx = false;
            return s_commit(self);
        }
        //  fn said commit, but a statement failed and it did not recover
        //  (or the connection is gone): that failure is the outcome.
        if (!failed && ts == PQTRANS_INERROR)
            s_fail(self, S_STATE_ABORTED_TX, "%s",
                   "transaction body returned success after an unreported failed statement");
        else if (!failed)
            s_fail(self, S_STATE_CONNECTION, "connection lost inside a transaction");
        failed = true;
    }
    s_rollback(self);
    self->in_tx = false;
    return rc != 1 && failed ? -1 : 1;
}

//  Sleep a little before the next attempt, randomised so that two sessions
//  that just collided do not collide again at once. This waits out a
//  conflict; it does not wait for an event.
static void s_backoff(kt_pg_t *self, int attempt)
{
    long cap = KT_PG_BACKOFF_BASE_US << (attempt < 8 ? attempt : 8);
    if (cap > KT_PG_BACKOFF_CAP_US)
        cap = KT_PG_BACKOFF_CAP_US;
    long us = cap / 2 + rand_r(&self->seed) % (cap / 2 + 1);
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int kt_pg_tx(kt_pg_t *self, int max_attempts, kt_pg_tx_fn *fn, void *arg)
{
    assert(self);
    assert(fn);
    assert(max_attempts >= 1);
    //  Transactions do not nest. A transaction left open on a connection
    //  that broke since is over; BEGIN below starts afresh.
    assert(!self->in_tx || PQstatus(self->conn) != CONNECTION_OK);

    for (int attempt = 1;; attempt++) {
        int rc = s_tx_attempt(self, fn, arg);
        if (rc != -1 || !kt_pg_retryable(self->sqlstate))
            return rc;
        if (attempt >= max_attempts) {
            kt_warn("transaction failed after %d attempts: sqlstate=%s %s", attempt, self->sqlstate,
                    self->error);
            return -1;
        }
        kt_debug("retrying transaction after sqlstate=%s (attempt %d of %d)", self->sqlstate,
                 attempt, max_attempts);
        s_backoff(self, attempt);
    }
}

//  --------------------------------------------------------------------------
//  Last failure and the SQLSTATE mapping

const char *kt_pg_sqlstate(kt_pg_t *self)
{
    assert(self);
    return self->sqlstate;
}

const char *kt_pg_error(kt_pg_t *self)
{
    assert(self);
    return self->error;
}

int kt_pg_status(kt_pg_t *self)
{
    assert(self);
    return self->status;
}

//  A SQLSTATE is five characters, each a digit or an upper-case letter.
static bool s_sqlstate_valid(const char *state)
{
    for (int i = 0; i < 5; i++) {
        char ch = state[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')))
            return false;
    }
    return state[5] == '\0';
}

int kt_pg_status_for(const char *sqlstate)
{
    if (sqlstate == NULL)
        return KT_UNAVAILABLE; //  libpq reports a broken connection without one
    if (!s_sqlstate_valid(sqlstate))
        return KT_INTERNAL;
    if (strcmp(sqlstate, "23505") == 0) //  unique_violation
        return KT_ALREADY_EXISTS;
    if (strncmp(sqlstate, "23", 2) == 0) //  integrity constraint violation
        return KT_FAILED_PRECONDITION;
    if (kt_pg_retryable(sqlstate)) //  serialization failure, deadlock
        return KT_ABORTED;
    if (strncmp(sqlstate, "08", 2) == 0    //  connection exception
        || strcmp(sqlstate, "57P01") == 0  //  admin_shutdown
        || strcmp(sqlstate, "57P02") == 0  //  crash_shutdown
        || strcmp(sqlstate, "57P03") == 0) //  cannot_connect_now
        return KT_UNAVAILABLE;
    if (strcmp(sqlstate, "57014") == 0) //  query_canceled (statement_timeout)
        return KT_DEADLINE_EXCEEDED;
    if (strncmp(sqlstate, "53", 2) == 0) //  insufficient resources
        return KT_RESOURCE_EXHAUSTED;
    if (strncmp(sqlstate, "22", 2) == 0) //  data exception
        return KT_INVALID_ARGUMENT;
    return KT_INTERNAL;
}

bool kt_pg_retryable(const char *sqlstate)
{
    return sqlstate != NULL && (strcmp(sqlstate, "40001") == 0      //  serialization_failure
                                || strcmp(sqlstate, "40P01") == 0); //  deadlock_detected
}

//  --------------------------------------------------------------------------
//  Reading results

int kt_pg_i64_checked(const PGresult *res, int r, int c, int64_t *value)
{
    assert(res);
    assert(value);
    assert(r >= 0 && r < PQntuples(res));
    assert(c >= 0 && c < PQnfields(res));
    *value = 0;
    if (PQgetisnull(res, r, c))
        return -1;
    const char *text = PQgetvalue(res, r, c);
    //  Text format: an optional '-' and digits, nothing else.
    if (!(*text == '-' || (*text >= '0' && *text <= '9')))
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *value = (int64_t)v;
    return 0;
}

int64_t kt_pg_i64(const PGresult *res, int r, int c)
{
    int64_t value = 0;
    if (kt_pg_i64_checked(res, r, c, &value) != 0 && !PQgetisnull(res, r, c))
        kt_error("value is not a 64-bit integer: row %d column %d", r, c);
    return value;
}

const char *kt_pg_text(const PGresult *res, int r, int c)
{
    assert(res);
    assert(r >= 0 && r < PQntuples(res));
    assert(c >= 0 && c < PQnfields(res));
    return PQgetvalue(res, r, c);
}

bool kt_pg_isnull(const PGresult *res, int r, int c)
{
    assert(res);
    assert(r >= 0 && r < PQntuples(res));
    assert(c >= 0 && c < PQnfields(res));
    return PQgetisnull(res, r, c) == 1;
}
