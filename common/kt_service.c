/*  kt_service - the shape every Kontor service process has.
 *
 *  Threads: main (signals, start and stop), N worker actors, the HTTP
 *  listener, and whatever the service's start hook adds (relay, consumers).
 *  Each worker owns its bus socket, its PostgreSQL connection, its Redis
 *  handle and its bus client; nothing is shared between workers but the
 *  metrics registry (atomics) and the service's read-only definition.
 */
#include "kt_service.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "kt_http.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_process.h"
#include "kt_proto.h"
#include "kt_status.h"

#define S_MAX_WORKERS 256
#define S_MAX_CONSUMERS 8
#define S_DRAIN_MS 3000         //  longest a stopping worker waits for the bus's goodbye

struct kt_service {
    const kt_service_def_t *def;
    kt_config_t cfg;
    void *shared;                   //  the service's own process-wide state
    zactor_t *workers[S_MAX_WORKERS];
    int nworkers;
    atomic_int ready_workers;       //  workers connected to the database and the bus
    atomic_bool stopping;
    atomic_bool failed;
    int64_t started_ms;
    int schema_version;
    kt_relay_t *relay;              //  publishes this service's outbox
    kt_consumer_t *consumers[S_MAX_CONSUMERS];
    void *event_arg;                //  what event handlers get
    kt_metric_t *m_inflight;
};

//  ---------------------------------------------------------------- calls

int kt_call_reply(kt_call_t *call, const ProtobufCMessage *msg)
{
    free(call->reply.payload);
    call->reply.payload = kt_msg_pack(msg, &call->reply.payload_len);
    if (!call->reply.payload)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    call->reply.status = KT_OK;
    return 0;
}

int kt_call_fail(kt_call_t *call, int status, const char *field, const char *reason,
                 const char *fmt, ...)
{
    char sentence[KT_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sentence, sizeof sentence, fmt, ap);
    va_end(ap);
    free(call->reply.payload);
    call->reply.payload = NULL;
    call->reply.payload_len = 0;
    kt_reply_set(&call->reply, status, field, reason, sentence);
    return -1;
}

int kt_call_refuse(kt_call_t *call, const ProtobufCMessage *detail, int status,
                   const char *field, const char *reason, const char *fmt, ...)
{
    char sentence[KT_MESSAGE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sentence, sizeof sentence, fmt, ap);
    va_end(ap);
    kt_call_fail(call, status, field, reason, "%s", sentence);
    if (detail)
        call->reply.payload = kt_msg_pack(detail, &call->reply.payload_len);
    return -1;
}

int kt_call_fail_pg(kt_call_t *call, const char *doing)
{
    int status = kt_pg_status(call->pg);
    //  The SQL detail is for the log; the caller gets a plain sentence.
    kt_log(status == KT_ABORTED ? KT_LOG_INFO : KT_LOG_WARN, call->request_id,
           "database error while %s: sqlstate=%s %s", doing, kt_pg_sqlstate(call->pg),
           kt_pg_error(call->pg));
    switch (status) {
    case KT_UNAVAILABLE:
        return kt_call_fail(call, status, NULL, NULL,
                            "could not reach the database; try again shortly");
    case KT_ABORTED:
        return kt_call_fail(call, status, NULL, NULL,
                            "could not finish because of a conflicting change; try again");
    case KT_DEADLINE_EXCEEDED:
        return kt_call_fail(call, status, NULL, NULL, "the database took too long");
    case KT_RESOURCE_EXHAUSTED:
        return kt_call_fail(call, status, NULL, NULL,
                            "the database is out of resources; try again later");
    default:
        return kt_call_fail(call, status, NULL, NULL, "could not %s", doing);
    }
}

void kt_call_hint(kt_call_t *call, const char *hint)
{
    kt_strlcpy_utf8(call->reply.hint, hint, sizeof call->reply.hint);
}

int64_t kt_call_left_ms(const kt_call_t *call)
{
    return call->deadline_ms - kt_now_ms();
}

bool kt_call_acts_for(const kt_call_t *call, int64_t manager_id)
{
    switch (call->caller->kind) {
    case KT_KIND_HEAD:
    case KT_KIND_SERVICE:
    case KT_KIND_ADMIN:
        return true;
    case KT_KIND_MANAGER:
        return manager_id > 0 && call->caller->manager_id == manager_id;
    default:
        return false;
    }
}

//  ---------------------------------------------------------------- the built-in Status method

static const kt_stmt_t s_status_stmt = {
    "kt_status",
    "SELECT (extract(epoch FROM now()) * 1000)::bigint,"
    "       coalesce((SELECT max(version) FROM schema_migrations WHERE component = $1), 0)",
    1};

static int s_status(kt_call_t *call, const ProtobufCMessage *request)
{
    const char *params[] = {call->service->def->name};
    PGresult *res = kt_pg_exec(call->pg, &s_status_stmt, params);
    if (!res)
        return kt_call_fail_pg(call, "read the service status");
    Kontor__StatusReply rep = KONTOR__STATUS_REPLY__INIT;
    rep.service = (char *) call->service->def->name;
    rep.version = (char *) KONTOR_VERSION;
    rep.instance = call->service->cfg.instance;
    rep.db_time_ms = kt_pg_i64(res, 0, 0);
    rep.schema_version = (uint32_t) kt_pg_i64(res, 0, 1);
    rep.workers = (uint32_t) call->service->nworkers;
    rep.uptime_ms = kt_now_ms() - call->service->started_ms;
    int rc = kt_call_reply(call, &rep.base);
    PQclear(res);
    return rc;
}

static int s_events_since(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__EventsSinceRequest *req = (const Kontor__EventsSinceRequest *) request;
    int status = KT_OK;
    size_t len = 0;
    uint8_t *buf = kt_events_since(call->pg, call->service->def->name, req->after_seq, req->limit,
                                   &len, &status);
    if (!buf)
        return kt_call_fail_pg(call, "read events");
    if (status == KT_OUT_OF_RANGE) {
        //  The refusal carries head_seq and oldest_seq (kt_call_refuse's way).
        kt_call_fail(call, KT_OUT_OF_RANGE, "after_seq", "events_expired",
                     "events after %llu are no longer kept",
                     (unsigned long long) req->after_seq);
        call->reply.payload = buf;
        call->reply.payload_len = len;
        return -1;
    }
    //  Already packed: hand the bytes over as the payload.
    free(call->reply.payload);
    call->reply.payload = buf;
    call->reply.payload_len = len;
    call->reply.status = KT_OK;
    return 0;
}

static int s_describe(kt_call_t *call, const ProtobufCMessage *request);

static const kt_method_t s_builtin[] = {
    {"Status", &kontor__status_request__descriptor, &kontor__status_reply__descriptor,
     KT_ROLE_ANY, KT_M_READ, s_status,
     "the service's version, instance and database time: proves bus, worker and database"},
    {"EventsSince", &kontor__events_since_request__descriptor,
     &kontor__events_since_reply__descriptor, KT_ROLE_SERVICE | KT_ROLE_LOGSYS | KT_ROLE_ADMIN,
     KT_M_READ, s_events_since,
     "events this service published after a sequence number, for catching up"},
    {"Describe", &kontor__describe_request__descriptor, &kontor__describe_reply__descriptor,
     KT_ROLE_ANY, KT_M_READ, s_describe,
     "this service's methods: request and reply types, roles, flags, summaries"},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

//  ---------------------------------------------------------------- the built-in Describe method

//  The service's own methods, then the built-in ones it does not override
//  (s_method_lookup prefers the service's), as the dispatcher would find them.
static int s_describe(kt_call_t *call, const ProtobufCMessage *request)
{
    const kt_service_def_t *def = call->service->def;
    size_t n = 0;
    for (const kt_method_t *m = def->methods; m && m->name; m++)
        n++;
    for (const kt_method_t *m = s_builtin; m->name; m++)
        n++;
    Kontor__MethodInfo *infos = calloc(n, sizeof *infos);
    Kontor__MethodInfo **list = calloc(n, sizeof *list);
    char *(*roles)[KT_KIND_COUNT] = calloc(n, sizeof *roles);
    int rc;
    if (!infos || !list || !roles) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (const kt_method_t *m = pass == 0 ? def->methods : s_builtin; m && m->name; m++) {
            if (pass == 1) {
                const kt_method_t *own = def->methods;
                while (own && own->name && strcmp(own->name, m->name) != 0)
                    own++;
                if (own && own->name)
                    continue;
            }
            Kontor__MethodInfo *info = &infos[count];
            kontor__method_info__init(info);
            info->name = (char *) m->name;
            info->request_type = (char *) m->request->name;
            info->reply_type = (char *) m->reply->name;
            info->writes = (m->flags & KT_M_WRITE) != 0;
            info->needs_key = (m->flags & KT_M_NEEDS_KEY) != 0;
            info->summary = (char *) (m->summary ? m->summary : "");
            info->roles = roles[count];
            for (int k = 1; k < KT_KIND_COUNT; k++)
                if (m->roles & KT_ROLE(k))
                    info->roles[info->n_roles++] = (char *) kt_kind_name(k);
            list[count++] = info;
        }
    }
    Kontor__DescribeReply rep = KONTOR__DESCRIBE_REPLY__INIT;
    rep.service = (char *) def->name;
    rep.methods = list;
    rep.n_methods = count;
    rc = kt_call_reply(call, &rep.base);
cleanup:
    free(roles);
    free(list);
    free(infos);
    return rc;
}

static const kt_method_t *s_method_lookup(const kt_service_def_t *def, const char *name)
{
    for (const kt_method_t *m = def->methods; m && m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    for (const kt_method_t *m = s_builtin; m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

//  ---------------------------------------------------------------- one worker

typedef struct {
    kt_service_t *svc;
    int index;
} s_worker_args_t;

typedef struct {
    kt_service_t *svc;
    const kt_config_t *cfg;
    zsock_t *pipe;
    zsock_t *sock;              //  DEALER to the bus
    zcert_t *cert;
    char bus_key[41];
    kt_pg_t *pg;
    kt_redis_t *redis;
    kt_client_t *rpc;
    void *local;
    int64_t heartbeat_at;       //  when we next tell the bus we are alive
    int64_t bus_expiry;         //  when we give the bus up for dead
    bool registered;            //  the bus has answered since our READY (counted in ready_workers)
} s_worker_t;

static void s_worker_send(s_worker_t *self, int command, zmsg_t **extra_p)
{
    zmsg_t *msg = extra_p && *extra_p ? *extra_p : zmsg_new();
    if (extra_p)
        *extra_p = NULL;
    uint8_t cmd = (uint8_t) command;
    zmsg_pushmem(msg, &cmd, 1);
    zmsg_pushstr(msg, KT_WORKER_HEADER);
    zmsg_pushstr(msg, "");
    zmsg_send(&msg, self->sock);
    self->heartbeat_at = kt_now_ms() + self->cfg->heartbeat_ms;
}

//  (Re)connect to the bus and register.
static int s_worker_connect(s_worker_t *self)
{
    if (self->registered) {
        self->registered = false;
        atomic_fetch_sub(&self->svc->ready_workers, 1);
    }
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        return -1;
    kt_curve_client(self->sock, self->cert, self->bus_key);
    zsock_set_zap_domain(self->sock, KT_ZAP_DOMAIN);
    zsock_set_maxmsgsize(self->sock, self->cfg->max_msg_bytes);
    zsock_set_linger(self->sock, 1000);
    zsock_set_sndtimeo(self->sock, 1000);
    if (zsock_connect(self->sock, "%s", self->cfg->bus) != 0) {
        kt_error("cannot connect to the bus at %s", self->cfg->bus);
        return -1;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, self->svc->def->name);
    s_worker_send(self, KT_CMD_READY, &msg);
    self->bus_expiry = kt_now_ms() + (int64_t) self->cfg->heartbeat_ms * self->cfg->liveness;
    return 0;
}

static kt_metric_t *s_request_counter(const char *method, int status)
{
    char labels[160];
    snprintf(labels, sizeof labels, "method=\"%s\",status=\"%s\"", method,
             kt_status_name(status));
    return kt_counter("kontor_requests_total", labels, "Requests handled, by method and status");
}

//  Run one request through the checks and its handler; fills `reply`.
static void s_handle(s_worker_t *self, const kt_principal_t *caller, uint32_t budget_ms,
                     zframe_t *body, kt_reply_t *out)
{
    int64_t start_us = kt_now_us();
    kt_call_t call;
    memset(&call, 0, sizeof call);
    call.caller = caller;
    call.pg = self->pg;
    call.redis = self->redis;
    call.rpc = self->rpc;
    call.service = self->svc;
    call.local = self->local;
    call.deadline_ms = kt_now_ms() + budget_ms;
    call.method = "";
    call.request_id = "";
    call.idem_key = "";

    kt_request_t req;
    char why[KT_MESSAGE_MAX + 1], field[KT_FIELD_MAX + 1];
    ProtobufCMessage *msg = NULL;
    const kt_method_t *m = NULL;
    if (kt_request_decode(zframe_data(body), zframe_size(body), &req, why, sizeof why) != 0) {
        //  The bus decodes every request before handing it over, so this is
        //  a bus of another version, or a bug: answer and say so in the log.
        kt_warn("request does not decode: %s", why);
        kt_call_fail(&call, KT_INVALID_ARGUMENT, "request", NULL, "%s", why);
        goto done;
    }
    call.method = req.method;
    call.request_id = req.request_id;
    call.idem_key = req.idem_key;
    m = s_method_lookup(self->svc->def, req.method);
    if (!m) {
        kt_call_fail(&call, KT_UNIMPLEMENTED, "method", NULL, "%s has no method %s",
                     self->svc->def->name, req.method);
        goto done;
    }
    if (!(m->roles & KT_ROLE(caller->kind))) {
        kt_call_fail(&call, KT_PERMISSION_DENIED, NULL, "role_required",
                     "%s may not call %s: it needs another role than %s", caller->name,
                     m->name, kt_kind_name(caller->kind));
        goto done;
    }
    if (budget_ms == 0) {
        kt_call_fail(&call, KT_DEADLINE_EXCEEDED, NULL, NULL,
                     "the request arrived after its deadline");
        goto done;
    }
    if ((m->flags & KT_M_NEEDS_KEY) && !req.idem_key[0]) {
        kt_call_fail(&call, KT_INVALID_ARGUMENT, "idempotency_key", NULL,
                     "%s needs an idempotency key, so that a retry cannot do it twice",
                     m->name);
        goto done;
    }
    msg = kt_msg_unpack(m->request, req.payload, req.payload_len, field, sizeof field, why,
                        sizeof why);
    if (!msg) {
        kt_call_fail(&call, KT_INVALID_ARGUMENT, field[0] ? field : "payload", NULL, "%s", why);
        goto done;
    }
    if (kt_pg_ensure(self->pg) != 0) {
        kt_call_fail(&call, KT_UNAVAILABLE, NULL, NULL,
                     "could not reach the database; try again shortly");
        goto done;
    }
    if (m->handler(&call, msg) != 0 && call.reply.status == KT_OK) {
        //  A handler that failed without saying why is a bug in it.
        kt_log(KT_LOG_ERROR, call.request_id, "handler %s failed without a reply", m->name);
        kt_call_fail(&call, KT_INTERNAL, NULL, NULL, "internal error");
    }

done:
    kt_msg_free(msg);
    *out = call.reply;
    snprintf(out->request_id, sizeof out->request_id, "%s", req.request_id);
    int64_t took_us = kt_now_us() - start_us;
    if (m) {
        kt_metric_inc(s_request_counter(m->name, out->status));
        char labels[96];
        snprintf(labels, sizeof labels, "method=\"%s\"", m->name);
        kt_metric_observe_us(
            kt_histogram("kontor_request_seconds", labels, "Time to handle a request"), took_us);
    } else
        kt_metric_inc(s_request_counter("unknown", out->status));
    kt_log_level_t level = out->status == KT_OK                                          ? KT_LOG_DEBUG
                           : out->status == KT_INTERNAL || out->status == KT_UNAVAILABLE ? KT_LOG_WARN
                                                                                         : KT_LOG_INFO;
    kt_log(level, out->request_id, "%s.%s by %s: %s%s%s (%lld us)", self->svc->def->name,
           m ? m->name : "?", caller->name, kt_status_name(out->status),
           out->field[0] ? " field=" : "", out->field, (long long) took_us);
    kt_request_clear(&req);
}

//  REQUEST: caller "" principal request
static void s_worker_request(s_worker_t *self, zmsg_t *msg)
{
    if (zmsg_size(msg) != 4) {
        kt_warn("dropped a REQUEST with %zu frames", zmsg_size(msg));
        return;
    }
    zframe_t *client = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *principal = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    kt_principal_t caller;
    uint32_t budget = 0;
    kt_reply_t reply;
    memset(&reply, 0, sizeof reply);
    if (zframe_size(empty) != 0
        || kt_principal_decode(zframe_data(principal), zframe_size(principal), &caller, &budget)
               != 0) {
        kt_warn("dropped a REQUEST with a malformed envelope");
        goto cleanup;
    }
    kt_metric_add(self->svc->m_inflight, 1);
    s_handle(self, &caller, budget, body, &reply);
    kt_metric_add(self->svc->m_inflight, -1);

    size_t len;
    uint8_t *buf = kt_reply_encode(&reply, &len);
    if (buf) {
        zmsg_t *out = zmsg_new();
        zmsg_append(out, &client);
        zmsg_addstr(out, "");
        zmsg_addmem(out, buf, len);
        s_worker_send(self, KT_CMD_REPLY, &out);
        free(buf);
    }
cleanup:
    kt_reply_clear(&reply);
    zframe_destroy(&client);
    zframe_destroy(&empty);
    zframe_destroy(&principal);
    zframe_destroy(&body);
}

//  One message from the bus. Returns 1 when the bus said DISCONNECT.
static int s_worker_recv(s_worker_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sock);
    if (!msg)
        return 0;
    int rc = 0;
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *header = zmsg_pop(msg);
    zframe_t *command = zmsg_pop(msg);
    if (!empty || zframe_size(empty) != 0 || !header || !zframe_streq(header, KT_WORKER_HEADER)
        || !command || zframe_size(command) != 1) {
        kt_warn("dropped a malformed message from the bus");
        goto cleanup;
    }
    self->bus_expiry = kt_now_ms() + (int64_t) self->cfg->heartbeat_ms * self->cfg->liveness;
    //  The bus answers READY with a heartbeat: from the first word after
    //  registering, this worker counts as ready.
    if (!self->registered) {
        self->registered = true;
        atomic_fetch_add(&self->svc->ready_workers, 1);
    }
    switch (zframe_data(command)[0]) {
    case KT_CMD_REQUEST:
        s_worker_request(self, msg);
        //  The bus heartbeats idle workers only: the silence while we were
        //  busy says nothing about it. Counting it would make a request
        //  longer than the liveness reconnect us, leaving the bus an idle
        //  entry for a socket that is gone (a request handed to it is lost
        //  until its caller's deadline).
        self->bus_expiry = kt_now_ms() + (int64_t) self->cfg->heartbeat_ms * self->cfg->liveness;
        break;
    case KT_CMD_HEARTBEAT:
        break;
    case KT_CMD_DISCONNECT:
        rc = 1;
        break;
    default:
        kt_warn("dropped an unknown command from the bus");
        break;
    }
cleanup:
    zframe_destroy(&empty);
    zframe_destroy(&header);
    zframe_destroy(&command);
    zmsg_destroy(&msg);
    return rc;
}

static int s_worker_setup(s_worker_t *self)
{
    const kt_config_t *cfg = self->cfg;
    if (kt_cert_public_key(cfg->bus_cert, self->bus_key) != 0)
        return -1;
    self->cert = kt_cert_load_secret(cfg->cert);
    if (!self->cert)
        return -1;
    self->pg = kt_pg_new(cfg->pg_dsn);
    if (!self->pg)
        return -1;
    char sql[128];
    snprintf(sql, sizeof sql, "SET search_path TO \"%s\", pg_catalog", self->svc->def->name);
    if (kt_pg_command(self->pg, sql) != 0)
        return -1;
    if (self->svc->def->uses_redis)
        self->redis = kt_redis_new(cfg->redis_host, cfg->redis_port, cfg->redis_password, 200);
    self->rpc = kt_client_new(cfg);
    if (!self->rpc)
        return -1;
    if (self->svc->def->worker_new) {
        self->local = self->svc->def->worker_new(self->svc, self->pg);
        if (!self->local)
            return -1;
    }
    return s_worker_connect(self);
}

static void s_worker_actor(zsock_t *pipe, void *args_)
{
    s_worker_args_t *args = args_;
    s_worker_t self_s, *self = &self_s;
    memset(self, 0, sizeof *self);
    self->svc = args->svc;
    self->cfg = &args->svc->cfg;
    self->pipe = pipe;
    free(args);

    if (s_worker_setup(self) != 0) {
        kt_service_fail(self->svc, "a worker could not start");
        zsock_signal(pipe, 0);
        goto cleanup;
    }
    zsock_signal(pipe, 0);

    bool stopping = false;
    int64_t stop_deadline = 0;
    while (true) {
        int64_t now = kt_now_ms();
        int64_t wait = self->heartbeat_at - now;
        if (stopping && stop_deadline - now < wait)
            wait = stop_deadline - now;
        if (wait < 0)
            wait = 0;
        zmq_pollitem_t items[] = {
            {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, (long) wait) < 0)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            if (command && strcmp(command, "STOP") == 0 && !stopping) {
                //  Leave the bus; the bus answers DISCONNECT once it has
                //  removed us, and every request it sent before that
                //  answer reaches us first: we finish them, then go.
                stopping = true;
                stop_deadline = kt_now_ms() + S_DRAIN_MS;
                s_worker_send(self, KT_CMD_DISCONNECT, NULL);
            }
            zstr_free(&command);
            if (term)
                break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            if (s_worker_recv(self) == 1) {
                if (stopping)
                    break;
                //  The bus forgot us (it restarted, or thought us dead).
                kt_info("bus asked us to register again");
                s_worker_connect(self);
            }
        }
        now = kt_now_ms();
        if (stopping && now >= stop_deadline) {
            kt_warn("the bus did not confirm our leaving; stopping anyway");
            break;
        }
        if (!stopping && now >= self->bus_expiry) {
            kt_warn("no word from the bus in %d ms; reconnecting",
                    self->cfg->heartbeat_ms * self->cfg->liveness);
            s_worker_connect(self);
        }
        if (now >= self->heartbeat_at)
            s_worker_send(self, KT_CMD_HEARTBEAT, NULL);
    }
    //  Tell main this worker is done; then wait for $TERM from zactor_destroy.
    zsock_signal(pipe, 0);
    if (self->registered)
        atomic_fetch_sub(&self->svc->ready_workers, 1);
    while (true) {
        char *command = zstr_recv(pipe);
        bool term = !command || strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (term)
            break;
    }
cleanup:
    if (self->svc->def->worker_destroy && self->local)
        self->svc->def->worker_destroy(&self->local);
    zsock_destroy(&self->sock);
    kt_client_destroy(&self->rpc);
    kt_redis_destroy(&self->redis);
    kt_pg_destroy(&self->pg);
    zcert_destroy(&self->cert);
}

//  ---------------------------------------------------------------- the process

const kt_config_t *kt_service_config(kt_service_t *svc)
{
    return &svc->cfg;
}

const kt_service_def_t *kt_service_def(kt_service_t *svc)
{
    return svc->def;
}

void kt_service_set_shared(kt_service_t *svc, void *shared)
{
    svc->shared = shared;
}

void *kt_service_shared(kt_service_t *svc)
{
    return svc->shared;
}

void kt_service_set_event_arg(kt_service_t *svc, void *arg)
{
    svc->event_arg = arg;
}

void kt_service_fail(kt_service_t *svc, const char *why)
{
    kt_error("%s", why);
    atomic_store(&svc->failed, true);
}

static bool s_failed(void *arg)
{
    return atomic_load(&((kt_service_t *) arg)->failed);
}

static bool s_ready(void *arg)
{
    kt_service_t *svc = arg;
    return !atomic_load(&svc->stopping) && !atomic_load(&svc->failed)
           && atomic_load(&svc->ready_workers) == svc->nworkers;
}

//  The framework's own tables, in every service's schema: the outbox the
//  relay publishes from and the offsets event consumers keep (kt_events.c).
extern const kt_migration_t kontor_migrations[];
#define s_framework_migrations kontor_migrations

//  Apply migrations on a connection of its own; retry while the database
//  is still starting (bounded), since services may start before it is up.
static int s_migrate(kt_service_t *svc)
{
    for (int attempt = 0; attempt < 30; attempt++) {
        kt_pg_t *pg = kt_pg_new(svc->cfg.pg_dsn);
        if (pg) {
            int version = kt_pg_migrate_list(pg, svc->def->name, "kontor", s_framework_migrations);
            if (version >= 0)
                version = kt_pg_migrate_list(pg, svc->def->name, svc->def->name,
                                             svc->def->migrations);
            kt_pg_destroy(&pg);
            return version;
        }
        if (attempt == 0)
            kt_warn("database not reachable yet; retrying for up to 30 s");
        zclock_sleep(1000);
    }
    return -1;
}

int kt_service_main(const kt_service_def_t *def, int argc, char **argv)
{
    if (kt_process_init(argc, argv, def->name) != 0)
        return 2;
    kt_service_t *svc = calloc(1, sizeof *svc);
    if (!svc)
        return 1;
    svc->def = def;
    svc->started_ms = kt_now_ms();
    char why[256];
    if (kt_config_load(&svc->cfg, def->name, why, sizeof why) != 0) {
        fprintf(stderr, "kontor-%s: %s\n", def->name, why);
        free(svc);
        return 2;
    }
    kt_log_init(def->name, svc->cfg.log_level);
    svc->m_inflight = kt_gauge("kontor_requests_in_flight", NULL, "Requests being handled");
    kt_http_t *http = NULL;
    int exit_code = 1;

    svc->schema_version = s_migrate(svc);
    if (svc->schema_version < 0) {
        kt_error("cannot apply migrations; not starting");
        goto cleanup;
    }
    kt_info("schema %s at version %d", def->name, svc->schema_version);
    //  Known before the HTTP listener starts, so /readyz waits for them all.
    svc->nworkers = svc->cfg.workers > S_MAX_WORKERS ? S_MAX_WORKERS : svc->cfg.workers;
    if (svc->cfg.http_port > 0) {
        http = kt_http_new(svc->cfg.http_host, svc->cfg.http_port, s_ready, svc);
        if (!http)
            goto cleanup;
    }
    if (def->start && def->start(svc) != 0) {
        kt_error("cannot start");
        goto cleanup;
    }
    svc->relay = kt_relay_new(&svc->cfg, def->name);
    if (!svc->relay) {
        kt_error("cannot start the outbox relay");
        goto stop_hook;
    }
    for (int i = 0; def->consumes && def->consumes[i].producer && i < S_MAX_CONSUMERS; i++) {
        svc->consumers[i] = kt_consumer_new(&svc->cfg, def->name, def->consumes[i].producer,
                                            def->consumes[i].handlers, svc->event_arg);
        if (!svc->consumers[i]) {
            kt_error("cannot start the consumer of %s", def->consumes[i].producer);
            goto stop_events;
        }
    }
    for (int i = 0; i < svc->nworkers; i++) {
        s_worker_args_t *args = calloc(1, sizeof *args);
        args->svc = svc;
        args->index = i;
        svc->workers[i] = zactor_new(s_worker_actor, args);
    }
    kt_info("serving with %d workers as %s", svc->nworkers, svc->cfg.instance);

    int sig = kt_process_wait(s_failed, svc);
    exit_code = sig ? 0 : 1;
    kt_info("stopping%s", sig ? " on signal" : " after a failure");
    atomic_store(&svc->stopping, true);
    //  All workers leave the bus at once, then each finishes what it holds.
    for (int i = 0; i < svc->nworkers; i++)
        zstr_send(svc->workers[i], "STOP");
    for (int i = 0; i < svc->nworkers; i++) {
        zsock_wait(svc->workers[i]);
        zactor_destroy(&svc->workers[i]);
    }
stop_events:
    for (int i = S_MAX_CONSUMERS - 1; i >= 0; i--)
        kt_consumer_destroy(&svc->consumers[i]);
    kt_relay_destroy(&svc->relay);
stop_hook:
    if (def->stop)
        def->stop(svc);
cleanup:
    kt_http_destroy(&http);
    kt_info("stopped");
    free(svc);
    return exit_code;
}
