/*  kt_events - reliable events: transactional outbox, sequenced relay,
 *  idempotent consumers with catch-up.
 *
 *  The relay and each consumer are actors with their own PostgreSQL
 *  connection and their own bus sockets; they never share a connection with
 *  the service's workers.
 */
#include "kt_events.h"

#include <czmq.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "kt_auth.h"
#include "kt_client.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_proto.h"
#include "kt_status.h"
#include "kt_wire.h"

#define S_RELAY_BATCH 500          //  rows sequenced and published per transaction
#define S_RELAY_IDLE_MS 10         //  how often an idle leader looks for new rows
#define S_LEADER_RETRY_MS 1000     //  how often a follower tries to become leader
#define S_HEAD_EVERY_MS 1000       //  "$head" beacon interval
#define S_RETENTION_EVERY_MS 60000 //  how often old outbox rows are deleted
#define S_CATCHUP_LIMIT 500        //  events asked for per EventsSince call
#define S_CONSUMER_BATCH 200       //  live events applied per transaction
#define S_EVENTS_SINCE_MAX 1000    //  most events one EventsSince reply carries
#define S_EVENTS_SINCE_BYTES (256 * 1024) //  ... and about this many payload bytes, so a
                                          //  reply stays far below KONTOR_MAX_MSG

//  ---------------------------------------------------------------- outbox

static const kt_stmt_t s_outbox_insert = {
    "kt_outbox_insert", "INSERT INTO outbox (type, payload) VALUES ($1, $2)", 2};

int kt_outbox_add(kt_pg_t *pg, const char *type, const ProtobufCMessage *payload)
{
    size_t len;
    uint8_t *buf = kt_msg_pack(payload, &len);
    if (!buf)
        return -1;
    const char *params[] = {type, (const char *) buf};
    int lengths[] = {0, (int) len};
    int formats[] = {0, 1};
    PGresult *res = kt_pg_exec_bin(pg, &s_outbox_insert, params, lengths, formats);
    free(buf);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

//  ---------------------------------------------------------------- shared helpers

//  A socket to the bus's event side, CURVE client with this process's key.
static zsock_t *s_event_socket(const kt_config_t *cfg, int type, const char *endpoint)
{
    char bus_key[41];
    if (kt_cert_public_key(cfg->bus_cert, bus_key) != 0)
        return NULL;
    zcert_t *cert = kt_cert_load_secret(cfg->cert);
    if (!cert)
        return NULL;
    zsock_t *sock = zsock_new(type);
    if (sock) {
        kt_curve_client(sock, cert, bus_key);
        zsock_set_zap_domain(sock, KT_ZAP_DOMAIN);
        zsock_set_maxmsgsize(sock, cfg->max_msg_bytes);
        zsock_set_linger(sock, 0);
        zsock_set_sndhwm(sock, 100000);
        zsock_set_rcvhwm(sock, 100000);
        if (zsock_connect(sock, "%s", endpoint) != 0) {
            kt_error("cannot connect to %s", endpoint);
            zsock_destroy(&sock);
        }
    }
    zcert_destroy(&cert);
    return sock;
}

static kt_pg_t *s_connect(const kt_config_t *cfg, const char *schema)
{
    kt_pg_t *pg = kt_pg_new(cfg->pg_dsn);
    if (!pg)
        return NULL;
    char sql[128];
    snprintf(sql, sizeof sql, "SET search_path TO \"%s\", pg_catalog", schema);
    if (kt_pg_command(pg, sql) != 0)
        kt_pg_destroy(&pg);
    return pg;
}

//  Try to take a session-level advisory lock named `name`: true if held.
static const kt_stmt_t s_try_lock = {
    "kt_events_try_lock", "SELECT pg_try_advisory_lock(hashtext($1))", 1};

static bool s_try_leader(kt_pg_t *pg, const char *name)
{
    if (kt_pg_ensure(pg) != 0)
        return false;
    const char *params[] = {name};
    PGresult *res = kt_pg_exec(pg, &s_try_lock, params);
    if (!res)
        return false;
    bool held = strcmp(kt_pg_text(res, 0, 0), "t") == 0;
    PQclear(res);
    return held;
}

static char *s_actor_wait_term(zsock_t *pipe, int timeout_ms, bool *term)
{
    zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
    *term = false;
    if (zmq_poll(&item, 1, timeout_ms) > 0 && (item.revents & ZMQ_POLLIN)) {
        char *command = zstr_recv(pipe);
        if (!command || strcmp(command, "$TERM") == 0)
            *term = true;
        return command;
    }
    return NULL;
}

//  ---------------------------------------------------------------- relay

struct kt_relay {
    zactor_t *actor;
    const kt_config_t *cfg;
    char producer[KT_SERVICE_NAME_MAX + 1];
    atomic_bool start_failed;
};

typedef struct {
    kt_pg_t *pg;
    zsock_t *pub;
    const char *producer;
    uint64_t last_seq;              //  highest seq published by us
    kt_metric_t *m_published;
    kt_metric_t *m_backlog;
    kt_metric_t *m_leader;
    long retention_s;
} s_relay_t;

static const kt_stmt_t s_relay_state = {
    "kt_relay_state", "SELECT last_seq FROM outbox_state FOR UPDATE", 0};
//  Give the oldest unsequenced committed rows the next numbers, in id order.
static const kt_stmt_t s_relay_sequence = {
    "kt_relay_sequence",
    "UPDATE outbox o SET seq = $1::bigint + p.rn"
    "  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn"
    "          FROM outbox WHERE seq IS NULL ORDER BY id LIMIT $2::int) p"
    " WHERE o.id = p.id"
    " RETURNING o.seq, o.type, o.payload,"
    "           (extract(epoch FROM o.created_at) * 1000)::bigint",
    2};
static const kt_stmt_t s_relay_bump = {
    "kt_relay_bump", "UPDATE outbox_state SET last_seq = $1::bigint", 1};
static const kt_stmt_t s_relay_backlog = {
    "kt_relay_backlog", "SELECT count(*) FROM outbox WHERE seq IS NULL", 0};
//  Whether there is anything to sequence: read-only and outside any
//  transaction, so an idle relay's look costs no transaction id, no row
//  lock and no WAL flush (the sequencing transaction's FOR UPDATE takes
//  all three). Uses the partial index outbox_pending.
static const kt_stmt_t s_relay_pending = {
    "kt_relay_pending", "SELECT EXISTS (SELECT 1 FROM outbox WHERE seq IS NULL)", 0};
static const kt_stmt_t s_relay_retention = {
    "kt_relay_retention",
    "WITH gone AS (DELETE FROM outbox"
    "               WHERE seq IS NOT NULL AND created_at < now() - make_interval(secs => $1::int)"
    "              RETURNING seq)"
    " UPDATE outbox_state SET oldest_seq = greatest(oldest_seq,"
    "        coalesce((SELECT max(seq) + 1 FROM gone), oldest_seq))"
    " RETURNING oldest_seq",
    1};

typedef struct {
    s_relay_t *relay;
    PGresult *rows;     //  what was sequenced (owned by the caller after commit)
} s_sequence_t;

static int s_relay_tx(kt_pg_t *pg, void *arg)
{
    s_sequence_t *job = arg;
    PGresult *res = kt_pg_exec(pg, &s_relay_state, NULL);
    if (!res)
        return -1;
    int64_t last = kt_pg_i64(res, 0, 0);
    PQclear(res);
    char last_text[24], limit_text[16];
    snprintf(last_text, sizeof last_text, "%lld", (long long) last);
    snprintf(limit_text, sizeof limit_text, "%d", S_RELAY_BATCH);
    const char *params[] = {last_text, limit_text};
    PGresult *rows = kt_pg_exec(pg, &s_relay_sequence, params);
    if (!rows)
        return -1;
    int n = PQntuples(rows);
    if (n > 0) {
        snprintf(last_text, sizeof last_text, "%lld", (long long) (last + n));
        const char *bump[] = {last_text};
        res = kt_pg_exec(pg, &s_relay_bump, bump);
        if (!res) {
            PQclear(rows);
            return -1;
        }
        PQclear(res);
    }
    if (job->rows)
        PQclear(job->rows);
    job->rows = rows;
    return 0;
}

static int s_publish(zsock_t *pub, const char *producer, uint64_t seq, const char *type,
                     int64_t time_ms, const uint8_t *payload, size_t len)
{
    Kontor__Event ev = KONTOR__EVENT__INIT;
    ev.producer = (char *) producer;
    ev.seq = seq;
    ev.type = (char *) type;
    ev.time_ms = time_ms;
    ev.payload.data = (uint8_t *) payload;
    ev.payload.len = len;
    size_t blen;
    uint8_t *buf = kt_msg_pack(&ev.base, &blen);
    if (!buf)
        return -1;
    zmsg_t *msg = zmsg_new();
    zmsg_addstrf(msg, "%s.%s", producer, type);
    zmsg_addmem(msg, buf, blen);
    free(buf);
    return zmsg_send(&msg, pub);
}

//  Sequence and publish one batch. Returns rows published, or -1.
static int s_relay_step(s_relay_t *self)
{
    PGresult *pending = kt_pg_exec(self->pg, &s_relay_pending, NULL);
    if (!pending) {
        kt_warn("relay could not look at the outbox: %s", kt_pg_error(self->pg));
        return -1;
    }
    bool any = strcmp(kt_pg_text(pending, 0, 0), "t") == 0;
    PQclear(pending);
    if (!any)
        return 0;
    s_sequence_t job = {self, NULL};
    if (kt_pg_tx(self->pg, 3, s_relay_tx, &job) != 0) {
        if (job.rows)
            PQclear(job.rows);
        kt_warn("relay could not sequence the outbox: %s", kt_pg_error(self->pg));
        return -1;
    }
    int n = PQntuples(job.rows);
    //  RETURNING gives no order: publish by seq.
    int *order = calloc((size_t) (n ? n : 1), sizeof *order);
    if (!order) {
        PQclear(job.rows);
        return -1;
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    //  Insertion sort by seq: batches are small and nearly sorted.
    for (int i = 1; i < n; i++) {
        int k = order[i], j = i - 1;
        int64_t key = kt_pg_i64(job.rows, k, 0);
        while (j >= 0 && kt_pg_i64(job.rows, order[j], 0) > key) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = k;
    }
    for (int i = 0; i < n; i++) {
        int r = order[i];
        size_t len = 0;
        unsigned char *payload =
            PQunescapeBytea((const unsigned char *) PQgetvalue(job.rows, r, 2), &len);
        uint64_t seq = (uint64_t) kt_pg_i64(job.rows, r, 0);
        if (payload)
            s_publish(self->pub, self->producer, seq, PQgetvalue(job.rows, r, 1),
                      kt_pg_i64(job.rows, r, 3), payload, len);
        PQfreemem(payload);
        self->last_seq = seq;
    }
    free(order);
    PQclear(job.rows);
    kt_metric_add(self->m_published, n);
    return n;
}

static void s_relay_head(s_relay_t *self)
{
    s_publish(self->pub, self->producer, self->last_seq, "$head", kt_wall_ms(), NULL, 0);
}

static void s_relay_housekeeping(s_relay_t *self, bool retention)
{
    PGresult *res = kt_pg_exec(self->pg, &s_relay_backlog, NULL);
    if (res) {
        kt_metric_set(self->m_backlog, kt_pg_i64(res, 0, 0));
        PQclear(res);
    }
    if (retention) {
        char secs[24];
        snprintf(secs, sizeof secs, "%ld", self->retention_s);
        const char *params[] = {secs};
        res = kt_pg_exec(self->pg, &s_relay_retention, params);
        if (res)
            PQclear(res);
    }
}

static const kt_stmt_t s_relay_last = {"kt_relay_last", "SELECT last_seq FROM outbox_state", 0};

static void s_relay_actor(zsock_t *pipe, void *args)
{
    kt_relay_t *relay = args;
    s_relay_t self_s = {0}, *self = &self_s;
    self->producer = relay->producer;
    self->retention_s = relay->cfg->outbox_retention_s;
    char labels[80];
    snprintf(labels, sizeof labels, "producer=\"%s\"", relay->producer);
    self->m_published = kt_counter("kontor_events_published_total", labels,
                                   "Events published by this process's relay");
    self->m_backlog = kt_gauge("kontor_outbox_backlog", labels,
                               "Committed outbox rows not yet published");
    self->m_leader = kt_gauge("kontor_relay_leader", labels,
                              "1 if this process's relay is the one publishing");
    self->pg = s_connect(relay->cfg, relay->producer);
    self->pub = s_event_socket(relay->cfg, ZMQ_PUB, relay->cfg->events_in);
    if (!self->pg || !self->pub) {
        atomic_store(&relay->start_failed, true);
        zsock_signal(pipe, 0);
        goto cleanup;
    }
    zsock_signal(pipe, 0);

    char lock_name[96];
    snprintf(lock_name, sizeof lock_name, "kontor.relay.%s", relay->producer);
    bool leader = false;
    int64_t next_try = 0, next_head = 0, next_retention = kt_now_ms() + 5000;
    int wait = 0;
    while (true) {
        bool term;
        char *command = s_actor_wait_term(pipe, wait, &term);
        zstr_free(&command);
        if (term)
            break;
        int64_t now = kt_now_ms();
        if (!leader) {
            if (now >= next_try) {
                leader = s_try_leader(self->pg, lock_name);
                next_try = now + S_LEADER_RETRY_MS;
                if (leader) {
                    PGresult *res = kt_pg_exec(self->pg, &s_relay_last, NULL);
                    if (res) {
                        self->last_seq = (uint64_t) kt_pg_i64(res, 0, 0);
                        PQclear(res);
                    }
                    kt_info("relay for %s is the leader from seq %llu", self->producer,
                            (unsigned long long) self->last_seq);
                    kt_metric_set(self->m_leader, 1);
                }
            }
            wait = S_LEADER_RETRY_MS;
            continue;
        }
        int n = s_relay_step(self);
        if (n < 0 && kt_pg_status(self->pg) == KT_UNAVAILABLE) {
            //  Connection lost: the lock went with it. Compete again.
            leader = false;
            kt_metric_set(self->m_leader, 0);
            kt_warn("relay for %s lost its database connection", self->producer);
            wait = S_LEADER_RETRY_MS;
            continue;
        }
        now = kt_now_ms();
        if (now >= next_head) {
            s_relay_head(self);
            s_relay_housekeeping(self, now >= next_retention);
            if (now >= next_retention)
                next_retention = now + S_RETENTION_EVERY_MS;
            next_head = now + S_HEAD_EVERY_MS;
        }
        wait = n == S_RELAY_BATCH ? 0 : S_RELAY_IDLE_MS;
    }
cleanup:
    kt_metric_set(self->m_leader, 0);
    zsock_destroy(&self->pub);
    kt_pg_destroy(&self->pg);
}

kt_relay_t *kt_relay_new(const kt_config_t *cfg, const char *producer)
{
    kt_relay_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    snprintf(self->producer, sizeof self->producer, "%s", producer);
    self->actor = zactor_new(s_relay_actor, self);
    if (!self->actor || atomic_load(&self->start_failed)) {
        kt_relay_destroy(&self);
        return NULL;
    }
    return self;
}

void kt_relay_destroy(kt_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- EventsSince

static const kt_stmt_t s_since_state = {
    "kt_since_state", "SELECT last_seq, oldest_seq FROM outbox_state", 0};
static const kt_stmt_t s_since_rows = {
    "kt_since_rows",
    "SELECT seq, type, payload, (extract(epoch FROM created_at) * 1000)::bigint"
    "  FROM outbox WHERE seq > $1::bigint ORDER BY seq LIMIT $2::int",
    2};

uint8_t *kt_events_since(kt_pg_t *pg, const char *producer, uint64_t after_seq, uint32_t limit,
                         size_t *len, int *status)
{
    if (limit == 0 || limit > S_EVENTS_SINCE_MAX)
        limit = S_EVENTS_SINCE_MAX;
    PGresult *state = NULL, *rows = NULL;
    uint8_t *out = NULL;
    Kontor__Event *events = NULL;
    Kontor__Event **items = NULL;
    unsigned char **payloads = NULL;
    int n = 0;
    //  One snapshot for the state and the rows, so head and rows agree.
    if (kt_pg_command(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0) {
        *status = kt_pg_status(pg);
        return NULL;
    }
    state = kt_pg_exec(pg, &s_since_state, NULL);
    if (!state)
        goto db_failed;
    uint64_t head = (uint64_t) kt_pg_i64(state, 0, 0);
    uint64_t oldest = (uint64_t) kt_pg_i64(state, 0, 1);
    if (after_seq + 1 < oldest) {
        //  Refused, but with the figures: what is kept, from where.
        Kontor__EventsSinceReply gone = KONTOR__EVENTS_SINCE_REPLY__INIT;
        gone.head_seq = head;
        gone.oldest_seq = oldest;
        out = kt_msg_pack(&gone.base, len);
        *status = KT_OUT_OF_RANGE;
        goto cleanup;
    }
    char after_text[24], limit_text[16];
    snprintf(after_text, sizeof after_text, "%llu", (unsigned long long) after_seq);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *params[] = {after_text, limit_text};
    rows = kt_pg_exec(pg, &s_since_rows, params);
    if (!rows)
        goto db_failed;
    n = PQntuples(rows);
    events = calloc((size_t) (n ? n : 1), sizeof *events);
    items = calloc((size_t) (n ? n : 1), sizeof *items);
    payloads = calloc((size_t) (n ? n : 1), sizeof *payloads);
    if (!events || !items || !payloads) {
        *status = KT_RESOURCE_EXHAUSTED;
        goto cleanup;
    }
    size_t bytes = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        kontor__event__init(&events[i]);
        size_t plen = 0;
        payloads[i] = PQunescapeBytea((const unsigned char *) PQgetvalue(rows, i, 2), &plen);
        kept = i + 1;
        events[i].producer = (char *) producer;
        events[i].seq = (uint64_t) kt_pg_i64(rows, i, 0);
        events[i].type = PQgetvalue(rows, i, 1);
        events[i].time_ms = kt_pg_i64(rows, i, 3);
        events[i].payload.data = payloads[i];
        events[i].payload.len = payloads[i] ? plen : 0;
        items[i] = &events[i];
        //  At least one event per page, however large; the caller asks again.
        bytes += plen;
        if (bytes >= S_EVENTS_SINCE_BYTES)
            break;
    }
    Kontor__EventsSinceReply rep = KONTOR__EVENTS_SINCE_REPLY__INIT;
    rep.n_events = (size_t) kept;
    rep.events = items;
    rep.head_seq = head;
    rep.oldest_seq = oldest;
    out = kt_msg_pack(&rep.base, len);
    *status = out ? KT_OK : KT_RESOURCE_EXHAUSTED;
    goto cleanup;

db_failed:
    *status = kt_pg_status(pg);
cleanup:
    kt_pg_command(pg, "COMMIT");
    if (payloads)
        for (int i = 0; i < n; i++)
            if (payloads[i])
                PQfreemem(payloads[i]);
    free(payloads);
    free(items);
    free(events);
    if (rows)
        PQclear(rows);
    if (state)
        PQclear(state);
    return out;
}

//  ---------------------------------------------------------------- consumer

struct kt_consumer {
    zactor_t *actor;
    const kt_config_t *cfg;
    char schema[KT_SERVICE_NAME_MAX + 1];
    char producer[KT_SERVICE_NAME_MAX + 1];
    const kt_event_handler_t *handlers;
    void *arg;
    atomic_bool start_failed;
};

typedef struct {
    kt_consumer_t *owner;
    kt_pg_t *pg;
    zsock_t *sub;
    kt_client_t *rpc;
    uint64_t last_seq;              //  last applied, as committed
    uint64_t head_seq;              //  highest the producer has announced
    bool expired;                   //  behind retention: stuck until ops act
    kt_metric_t *m_applied;
    kt_metric_t *m_lag;
    kt_metric_t *m_gaps;
    kt_metric_t *m_skipped;
    kt_metric_t *m_expired;
} s_consumer_t;

//  A run of consecutive events to apply in one transaction.
typedef struct {
    s_consumer_t *consumer;
    Kontor__Event **events;
    size_t n;
} s_batch_t;

static const kt_stmt_t s_offset_ensure = {
    "kt_offset_ensure",
    "INSERT INTO event_offsets (producer) VALUES ($1) ON CONFLICT (producer) DO NOTHING", 1};
static const kt_stmt_t s_offset_read = {
    "kt_offset_read", "SELECT last_seq FROM event_offsets WHERE producer = $1", 1};
static const kt_stmt_t s_offset_advance = {
    "kt_offset_advance",
    "UPDATE event_offsets SET last_seq = $3::bigint, applied_at = now()"
    " WHERE producer = $1 AND last_seq = $2::bigint",
    3};

//  The consumer's offset row, if there is one.
static int s_read_offset(s_consumer_t *self, bool *found)
{
    const char *params[] = {self->owner->producer};
    PGresult *res = kt_pg_exec(self->pg, &s_offset_read, params);
    if (!res)
        return -1;
    *found = PQntuples(res) == 1;
    if (*found)
        self->last_seq = (uint64_t) kt_pg_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

//  Read the offset, making its row only if it is not there yet. Reading
//  first matters: the leader's batches update that row one after another,
//  and an INSERT ... ON CONFLICT on it waits for each of them in turn, so a
//  new instance's consumer could not even start while the stream was busy.
static int s_load_offset(s_consumer_t *self)
{
    bool found;
    if (s_read_offset(self, &found) != 0)
        return -1;
    if (found)
        return 0;
    const char *params[] = {self->owner->producer};
    PGresult *res = kt_pg_exec(self->pg, &s_offset_ensure, params);
    if (!res)
        return -1;
    PQclear(res);
    return s_read_offset(self, &found) == 0 && found ? 0 : -1;
}

static const kt_event_handler_t *s_handler_for(kt_consumer_t *owner, const char *type)
{
    for (const kt_event_handler_t *h = owner->handlers; h && h->type; h++)
        if (strcmp(h->type, type) == 0 || strcmp(h->type, "*") == 0)
            return h;
    return NULL;
}

static int s_batch_tx(kt_pg_t *pg, void *arg)
{
    s_batch_t *batch = arg;
    s_consumer_t *self = batch->consumer;
    char from[24], to[24];
    snprintf(from, sizeof from, "%llu", (unsigned long long) self->last_seq);
    snprintf(to, sizeof to, "%llu", (unsigned long long) batch->events[batch->n - 1]->seq);
    const char *params[] = {self->owner->producer, from, to};
    PGresult *res = kt_pg_exec(pg, &s_offset_advance, params);
    if (!res)
        return -1;
    bool ours = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    //  Someone else (another instance) applied from here already: refuse,
    //  and reload the offset.
    if (!ours)
        return 1;
    for (size_t i = 0; i < batch->n; i++) {
        Kontor__Event *ev = batch->events[i];
        const kt_event_handler_t *h = s_handler_for(self->owner, ev->type);
        if (!h)
            continue;
        kt_event_t view = {self->owner->producer, ev->seq,    ev->type,
                           ev->time_ms,           ev->payload.data, ev->payload.len};
        int rc = h->fn(pg, &view, self->owner->arg);
        if (rc == KT_EVENT_FAILED)
            return -1;
        if (rc == KT_EVENT_POISON) {
            kt_error("event %s #%llu %s cannot be applied; skipped", self->owner->producer,
                     (unsigned long long) ev->seq, ev->type);
            kt_metric_inc(self->m_skipped);
        }
    }
    return 0;
}

//  Apply a consecutive run starting at last_seq + 1. Returns 0 when applied.
static int s_apply(s_consumer_t *self, Kontor__Event **events, size_t n)
{
    if (n == 0)
        return 0;
    s_batch_t batch = {self, events, n};
    int rc = kt_pg_tx(self->pg, 5, s_batch_tx, &batch);
    if (rc == 0) {
        self->last_seq = events[n - 1]->seq;
        kt_metric_add(self->m_applied, (int64_t) n);
        return 0;
    }
    if (rc == 1) {
        s_load_offset(self);
        return -1;
    }
    kt_warn("consumer of %s could not apply events from %llu: %s", self->owner->producer,
            (unsigned long long) self->last_seq + 1, kt_pg_error(self->pg));
    return -1;
}

//  Fetch and apply everything after last_seq from the producer.
static void s_catch_up(s_consumer_t *self)
{
    if (self->expired)
        return;
    while (true) {
        Kontor__EventsSinceRequest req = KONTOR__EVENTS_SINCE_REQUEST__INIT;
        req.after_seq = self->last_seq;
        req.limit = S_CATCHUP_LIMIT;
        ProtobufCMessage *out = NULL;
        kt_reply_t reply;
        //  Short: a stopping process waits for this call before it can go.
        kt_call_opts_t opts = {.timeout_ms = 1500, .retry = true, .attempt_ms = 750};
        int status = kt_client_call(self->rpc, self->owner->producer, "EventsSince", &req.base,
                                    &kontor__events_since_reply__descriptor, &out, &opts, &reply);
        if (status == KT_OUT_OF_RANGE) {
            kt_error("consumer of %s is behind retention: events after %llu are no longer "
                     "kept; reset its offset after repairing by hand (docs/operations.md)",
                     self->owner->producer, (unsigned long long) self->last_seq);
            self->expired = true;
            kt_metric_set(self->m_expired, 1);
        } else if (status != KT_OK)
            kt_warn("consumer of %s cannot catch up: %s: %s", self->owner->producer,
                    kt_status_name(status), reply.message);
        kt_reply_clear(&reply);
        if (status != KT_OK) {
            kt_msg_free(out);
            return;
        }
        Kontor__EventsSinceReply *rep = (Kontor__EventsSinceReply *) out;
        if (rep->head_seq > self->head_seq)
            self->head_seq = rep->head_seq;
        //  Keep only a run that starts right after what we have.
        size_t n = 0;
        while (n < rep->n_events && rep->events[n]->seq == self->last_seq + 1 + n
               && strcmp(rep->events[n]->producer, self->owner->producer) == 0)
            n++;
        int rc = s_apply(self, rep->events, n);
        bool more = rc == 0 && n > 0 && n == rep->n_events && self->last_seq < rep->head_seq;
        kt_msg_free(out);
        if (!more)
            break;
    }
    kt_metric_set(self->m_lag, (int64_t) (self->head_seq > self->last_seq
                                              ? self->head_seq - self->last_seq
                                              : 0));
}

//  Read one event from SUB; NULL for a malformed one (logged and counted).
static Kontor__Event *s_recv_event(s_consumer_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        return NULL;
    Kontor__Event *ev = NULL;
    zframe_t *topic = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    if (zmsg_size(msg) == 2 && topic && body) {
        char why[160];
        ev = (Kontor__Event *) kt_msg_unpack(&kontor__event__descriptor, zframe_data(body),
                                             zframe_size(body), NULL, 0, why, sizeof why);
        if (ev && strcmp(ev->producer, self->owner->producer) != 0) {
            kt_msg_free(&ev->base);
            ev = NULL;
        }
    }
    if (!ev) {
        kt_warn("consumer of %s skipped a malformed event message", self->owner->producer);
        kt_metric_inc(self->m_skipped);
    }
    zmsg_destroy(&msg);
    return ev;
}

static void s_on_live(s_consumer_t *self)
{
    //  Gather what is waiting, up to a batch, and apply the consecutive run.
    Kontor__Event *events[S_CONSUMER_BATCH];
    size_t n = 0;
    bool gap = false;
    while (n < S_CONSUMER_BATCH && (zsock_events(self->sub) & ZMQ_POLLIN)) {
        Kontor__Event *ev = s_recv_event(self);
        if (!ev)
            continue;
        if (strcmp(ev->type, "$head") == 0) {
            if (ev->seq > self->head_seq)
                self->head_seq = ev->seq;
            kt_msg_free(&ev->base);
            continue;
        }
        if (ev->seq > self->head_seq)
            self->head_seq = ev->seq;
        uint64_t expect = self->last_seq + 1 + n;
        if (ev->seq < expect) {
            kt_msg_free(&ev->base);     //  already applied
            continue;
        }
        if (ev->seq > expect) {
            gap = true;
            kt_msg_free(&ev->base);
            continue;
        }
        events[n++] = ev;
    }
    if (n > 0)
        s_apply(self, events, n);
    for (size_t i = 0; i < n; i++)
        kt_msg_free(&events[i]->base);
    if (gap || self->head_seq > self->last_seq) {
        if (gap)
            kt_metric_inc(self->m_gaps);
        s_catch_up(self);
    }
    kt_metric_set(self->m_lag, (int64_t) (self->head_seq > self->last_seq
                                              ? self->head_seq - self->last_seq
                                              : 0));
}

static void s_consumer_actor(zsock_t *pipe, void *args)
{
    kt_consumer_t *owner = args;
    s_consumer_t self_s = {0}, *self = &self_s;
    self->owner = owner;
    char labels[96];
    snprintf(labels, sizeof labels, "consumer=\"%s\",producer=\"%s\"", owner->schema,
             owner->producer);
    self->m_applied = kt_counter("kontor_events_applied_total", labels,
                                 "Events applied (or passed over) by this consumer");
    self->m_lag = kt_gauge("kontor_consumer_lag", labels,
                           "Events the producer has published that this consumer has not applied");
    self->m_gaps = kt_counter("kontor_consumer_gaps_healed_total", labels,
                              "Gaps in the live stream filled from EventsSince");
    self->m_skipped = kt_counter("kontor_consumer_skipped_total", labels,
                                 "Malformed or unappliable events skipped");
    self->m_expired = kt_gauge("kontor_consumer_expired", labels,
                               "1 if the consumer is behind what the producer still keeps");
    self->pg = s_connect(owner->cfg, owner->schema);
    self->sub = s_event_socket(owner->cfg, ZMQ_SUB, owner->cfg->events_out);
    self->rpc = kt_client_new(owner->cfg);
    if (!self->pg || !self->sub || !self->rpc || s_load_offset(self) != 0) {
        atomic_store(&owner->start_failed, true);
        zsock_signal(pipe, 0);
        goto cleanup;
    }
    char prefix[KT_SERVICE_NAME_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s.", owner->producer);
    zsock_set_subscribe(self->sub, prefix);
    zsock_signal(pipe, 0);

    char lock_name[128];
    snprintf(lock_name, sizeof lock_name, "kontor.consume.%s.%s", owner->schema,
             owner->producer);
    bool leader = false;
    int64_t next_try = 0;
    while (true) {
        zmq_pollitem_t items[] = {
            {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, leader ? S_HEAD_EVERY_MS * 3 : S_LEADER_RETRY_MS) < 0)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (term)
                break;
        }
        if (!leader) {
            //  Followers drop the live stream; the leader applies it.
            while (zsock_events(self->sub) & ZMQ_POLLIN) {
                zmsg_t *msg = zmsg_recv(self->sub);
                zmsg_destroy(&msg);
            }
            if (kt_now_ms() >= next_try) {
                next_try = kt_now_ms() + S_LEADER_RETRY_MS;
                if (s_try_leader(self->pg, lock_name) && s_load_offset(self) == 0) {
                    leader = true;
                    kt_info("consumer of %s into %s is the leader from seq %llu",
                            owner->producer, owner->schema, (unsigned long long) self->last_seq);
                    s_catch_up(self);
                }
            }
            continue;
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_on_live(self);
        else if (!self->expired) {
            //  Quiet for three beacons: ask, in case the stream is gone.
            s_catch_up(self);
        }
        if (kt_pg_status(self->pg) == KT_UNAVAILABLE && kt_pg_ensure(self->pg) == 0) {
            //  A new connection holds no lock: compete again.
            leader = false;
        }
    }
cleanup:
    kt_client_destroy(&self->rpc);
    zsock_destroy(&self->sub);
    kt_pg_destroy(&self->pg);
}

kt_consumer_t *kt_consumer_new(const kt_config_t *cfg, const char *schema, const char *producer,
                               const kt_event_handler_t *handlers, void *arg)
{
    kt_consumer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    snprintf(self->schema, sizeof self->schema, "%s", schema);
    snprintf(self->producer, sizeof self->producer, "%s", producer);
    self->handlers = handlers;
    self->arg = arg;
    self->actor = zactor_new(s_consumer_actor, self);
    if (!self->actor || atomic_load(&self->start_failed)) {
        kt_consumer_destroy(&self);
        return NULL;
    }
    return self;
}

void kt_consumer_destroy(kt_consumer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}
