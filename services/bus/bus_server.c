/*  bus_server - the broker: service-oriented request-reply plus the event proxy.
 *
 *  Everything here runs in one actor thread, so none of its tables need
 *  locks. The loop polls the pipe, the request socket and the two event
 *  sockets with a timeout set by the next heartbeat; after each wake-up it
 *  does housekeeping: heartbeats to idle workers, dropping dead workers,
 *  answering queued requests whose deadline passed, re-reading the
 *  allow-list.
 *
 *  Nothing that arrives over the network is asserted on: a malformed message
 *  is counted, logged in one bounded line, and dropped or answered.
 */
#include "bus_server.h"

#include <stdatomic.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "kt_auth.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_proto.h"
#include "kt_status.h"
#include "kt_wire.h"

#define S_DEFAULT_TIMEOUT_MS 5000
#define S_MAX_TIMEOUT_MS 600000
#define S_MAX_QUEUE 20000           //  waiting requests per service
#define S_MAX_SERVICES 256
#define S_BUSY_GRACE_MS 2000
#define S_QUEUE_TICK_MS 20          //  housekeeping interval while requests wait
//  ZMQ_ZAP_ENFORCE_DOMAIN is behind libzmq's draft API in its header, but
//  the option is in every libzmq since 4.3.0.
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
#define S_ZAP_ENFORCE_DOMAIN ZMQ_ZAP_ENFORCE_DOMAIN
#else
#define S_ZAP_ENFORCE_DOMAIN 93
#endif        //  how long past a request's deadline a busy worker may be silent

typedef struct s_service s_service_t;

typedef struct {
    char id[64];                //  hex of the routing id: key in self->workers
    zframe_t *address;          //  routing id (owned)
    s_service_t *service;       //  what it serves
    char key[41];               //  its principal's key, checked on every message
    int64_t expiry;             //  monotonic ms after which it is presumed dead
    bool busy;                  //  has a request and has not replied
    int64_t busy_deadline;      //  the request's deadline, while busy
    int64_t busy_since_us;      //  when that request reached the bus, while busy
    zframe_t *client;           //  the caller it owes a reply, while busy (owned)
    bool leaving;               //  said DISCONNECT while busy: removed once it replies
    void *waiting_handle;       //  its place in service->waiting, while idle
} s_worker_t;

typedef struct {
    zframe_t *client;           //  caller's routing id (owned)
    kt_principal_t principal;   //  who is calling
    zframe_t *body;             //  the Request as sent (owned)
    char request_id[KT_ID_MAX + 1];
    int64_t deadline;           //  monotonic ms
    int64_t accepted_us;        //  monotonic us, when it reached the bus
} s_request_t;

struct s_service {
    char name[KT_SERVICE_NAME_MAX + 1];
    zlistx_t *requests;         //  s_request_t, oldest first (owned)
    zlistx_t *waiting;          //  s_worker_t, idle, longest idle first (not owned)
    size_t workers;             //  live workers registered
    kt_metric_t *m_requests;    //  bus_requests_total{service=...}
    kt_metric_t *m_replies;     //  bus_replies_total{service=...}
    kt_metric_t *m_seconds;     //  bus_request_seconds{service=...}
};

struct bus_server {
    const kt_config_t *cfg;     //  borrowed from main
    zactor_t *actor;
    zactor_t *auth;             //  zauth, started before any bind
    atomic_bool running;        //  the broker loop is serving
    atomic_bool start_failed;   //  set by the actor before its start signal
};

//  The actor's own state.
typedef struct {
    const kt_config_t *cfg;
    zsock_t *pipe;
    zsock_t *router;            //  callers and workers
    zsock_t *xsub;              //  producers publish here
    zsock_t *xpub;              //  subscribers connect here
    zcert_t *cert;              //  the bus's own key pair
    kt_principals_t *principals;
    zhashx_t *services;         //  name -> s_service_t (owned)
    zhashx_t *workers;          //  id -> s_worker_t (owned)
    int64_t heartbeat_at;       //  next heartbeat to idle workers
    int64_t refresh_at;         //  next allow-list check
    int64_t started;
    uint64_t requests;
    uint64_t dropped;
    size_t queued;              //  requests waiting, as of the last housekeeping
    atomic_bool *running;
    kt_metric_t *m_dropped[8];
    kt_metric_t *m_workers;
    kt_metric_t *m_queued;
    kt_metric_t *m_events;
} s_bus_t;

//  Why a message was dropped: a closed set, so it can label a metric.
enum { DROP_FRAMES, DROP_HEADER, DROP_COMMAND, DROP_PRINCIPAL, DROP_DECODE, DROP_STATE, DROP_PUBLISH, DROP_COUNT };
static const char *s_drop_names[DROP_COUNT] = {"frames", "header", "command", "principal",
                                               "decode", "state", "publish"};

static void s_drop(s_bus_t *self, int why, const char *detail)
{
    self->dropped++;
    kt_metric_inc(self->m_dropped[why]);
    char clean[160];
    kt_log_clean(clean, sizeof clean, detail, strlen(detail));
    kt_warn("dropped a message: %s (%s)", s_drop_names[why], clean);
}

//  ---------------------------------------------------------------- receiving

//  Receive one message, frame by frame, refusing one with more than
//  KT_MAX_FRAMES frames (the rest is drained so the socket stays in step).
//  Returns NULL when the message was refused or nothing could be read.
static zmsg_t *s_recv_bounded(s_bus_t *self, zsock_t *sock)
{
    zmsg_t *msg = zmsg_new();
    bool over = false;
    while (true) {
        zframe_t *frame = zframe_recv(sock);
        if (!frame)
            break;
        bool more = zframe_more(frame);
        if (zmsg_size(msg) >= KT_MAX_FRAMES) {
            over = true;
            zframe_destroy(&frame);
        } else
            zmsg_append(msg, &frame);
        if (!more)
            break;
    }
    if (over || zmsg_size(msg) == 0) {
        if (over)
            s_drop(self, DROP_FRAMES, "too many frames");
        zmsg_destroy(&msg);
    }
    return msg;
}

//  The principal of a message from the router: its CURVE key, looked up in
//  the allow-list as it is now (so a revoked key stops working at once).
static const kt_principal_t *s_principal_of(s_bus_t *self, zframe_t *frame)
{
    const char *key = zframe_meta(frame, "User-Id");
    if (!key)
        return NULL;
    return kt_principals_lookup(self->principals, key);
}

static bool s_frame_is(zframe_t *frame, const char *text)
{
    size_t n = strlen(text);
    return frame && zframe_size(frame) == n && memcmp(zframe_data(frame), text, n) == 0;
}

static bool s_service_name_ok(zframe_t *frame)
{
    size_t n = zframe_size(frame);
    if (n == 0 || n > KT_SERVICE_NAME_MAX)
        return false;
    const char *p = (const char *) zframe_data(frame);
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'
              || p[i] == '_'))
            return false;
    return true;
}

//  ---------------------------------------------------------------- services and workers

static void s_request_destroy(s_request_t **self_p)
{
    if (!*self_p)
        return;
    zframe_destroy(&(*self_p)->client);
    zframe_destroy(&(*self_p)->body);
    free(*self_p);
    *self_p = NULL;
}

static void s_request_destructor(void **item)
{
    s_request_destroy((s_request_t **) item);
}

static void s_service_destructor(void **item)
{
    s_service_t *s = *item;
    if (!s)
        return;
    zlistx_destroy(&s->requests);
    zlistx_destroy(&s->waiting);
    free(s);
    *item = NULL;
}

static void s_worker_destructor(void **item)
{
    s_worker_t *w = *item;
    if (!w)
        return;
    zframe_destroy(&w->client);
    zframe_destroy(&w->address);
    free(w);
    *item = NULL;
}

static s_service_t *s_service_require(s_bus_t *self, const char *name)
{
    s_service_t *s = zhashx_lookup(self->services, name);
    if (s)
        return s;
    if (zhashx_size(self->services) >= S_MAX_SERVICES)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->requests = zlistx_new();
    s->waiting = zlistx_new();
    zlistx_set_destructor(s->requests, s_request_destructor);
    char labels[80];
    snprintf(labels, sizeof labels, "service=\"%s\"", name);
    s->m_requests = kt_counter("bus_requests_total", labels, "Requests accepted by the bus");
    s->m_replies = kt_counter("bus_replies_total", labels,
                              "Replies of workers passed back to their callers");
    s->m_seconds = kt_histogram("bus_request_seconds", labels,
                                "Time from a request reaching the bus to its worker's reply"
                                " leaving it, waiting for a worker included");
    zhashx_insert(self->services, name, s);
    return s;
}

static void s_send_to_worker(s_bus_t *self, s_worker_t *w, int command, zmsg_t **extra_p)
{
    zmsg_t *msg = extra_p && *extra_p ? *extra_p : zmsg_new();
    if (extra_p)
        *extra_p = NULL;
    uint8_t cmd = (uint8_t) command;
    zmsg_pushmem(msg, &cmd, 1);
    zmsg_pushstr(msg, KT_WORKER_HEADER);
    zmsg_pushstr(msg, "");
    zframe_t *addr = zframe_dup(w->address);
    zmsg_prepend(msg, &addr);
    zmsg_send(&msg, self->router);
}

//  Tell an unknown or misbehaving peer to register again.
static void s_send_disconnect_to(s_bus_t *self, zframe_t *address)
{
    zmsg_t *msg = zmsg_new();
    zframe_t *addr = zframe_dup(address);
    zmsg_append(msg, &addr);
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, KT_WORKER_HEADER);
    uint8_t cmd = KT_CMD_DISCONNECT;
    zmsg_addmem(msg, &cmd, 1);
    zmsg_send(&msg, self->router);
}

static void s_worker_delete(s_bus_t *self, s_worker_t *w, bool tell)
{
    if (tell)
        s_send_disconnect_to(self, w->address);
    if (w->service) {
        if (w->waiting_handle)
            zlistx_delete(w->service->waiting, w->waiting_handle);
        if (w->service->workers > 0)
            w->service->workers--;
    }
    zhashx_delete(self->workers, w->id);
}

//  Send a reply to a caller from the bus itself.
static void s_reply_to_client(s_bus_t *self, zframe_t *client, const char *service,
                              const char *request_id, int status, const char *field,
                              const char *reason, const char *message)
{
    char labels[64];
    snprintf(labels, sizeof labels, "status=\"%s\"", kt_status_name(status));
    kt_metric_inc(kt_counter("bus_answers_total", labels,
                             "Requests the bus answered itself (no worker's reply), by status"));
    kt_reply_t reply;
    memset(&reply, 0, sizeof reply);
    snprintf(reply.request_id, sizeof reply.request_id, "%s", request_id);
    kt_reply_set(&reply, status, field, reason, message);
    size_t len;
    uint8_t *buf = kt_reply_encode(&reply, &len);
    if (!buf)
        return;
    zmsg_t *msg = zmsg_new();
    zframe_t *addr = zframe_dup(client);
    zmsg_append(msg, &addr);
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, KT_CLIENT_HEADER);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, buf, len);
    free(buf);
    zmsg_send(&msg, self->router);
}

//  Hand queued requests to idle workers while both exist. A request whose
//  deadline has passed is answered instead of handed over.
static void s_dispatch(s_bus_t *self, s_service_t *s)
{
    int64_t now = kt_now_ms();
    while (zlistx_size(s->requests) > 0 && zlistx_size(s->waiting) > 0) {
        s_request_t *r = zlistx_first(s->requests);
        zlistx_detach_cur(s->requests);
        if (r->deadline <= now) {
            s_reply_to_client(self, r->client, s->name, r->request_id, KT_DEADLINE_EXCEEDED,
                              NULL, NULL, "the request waited too long for a worker");
            s_request_destroy(&r);
            continue;
        }
        s_worker_t *w = zlistx_first(s->waiting);
        zlistx_detach_cur(s->waiting);
        w->waiting_handle = NULL;
        w->busy = true;
        w->busy_deadline = r->deadline;
        w->busy_since_us = r->accepted_us;
        zframe_destroy(&w->client);
        w->client = zframe_dup(r->client);

        size_t plen;
        uint8_t *principal = kt_principal_encode(&r->principal, (uint32_t) (r->deadline - now),
                                                 &plen);
        if (!principal) {
            s_request_destroy(&r);
            continue;
        }
        zmsg_t *msg = zmsg_new();
        zmsg_append(msg, &r->client);
        zmsg_addstr(msg, "");
        zmsg_addmem(msg, principal, plen);
        zmsg_append(msg, &r->body);
        free(principal);
        s_send_to_worker(self, w, KT_CMD_REQUEST, &msg);
        s_request_destroy(&r);
    }
}

//  ---------------------------------------------------------------- the bus's own service

static void s_bus_status(s_bus_t *self, zframe_t *client, const kt_request_t *req)
{
    size_t n = zhashx_size(self->services);
    Kontor__BusService *svc = calloc(n ? n : 1, sizeof *svc);
    Kontor__BusService **items = calloc(n ? n : 1, sizeof *items);
    kt_reply_t reply;
    memset(&reply, 0, sizeof reply);
    if (!svc || !items)
        goto cleanup;
    size_t i = 0;
    for (s_service_t *s = zhashx_first(self->services); s && i < n;
         s = zhashx_next(self->services), i++) {
        kontor__bus_service__init(&svc[i]);
        svc[i].name = s->name;
        svc[i].workers = (uint32_t) s->workers;
        svc[i].idle = (uint32_t) zlistx_size(s->waiting);
        svc[i].queued = (uint32_t) zlistx_size(s->requests);
        items[i] = &svc[i];
    }
    Kontor__BusStatusReply rep = KONTOR__BUS_STATUS_REPLY__INIT;
    rep.n_services = i;
    rep.services = items;
    rep.requests = self->requests;
    rep.dropped = self->dropped;
    rep.uptime_ms = kt_now_ms() - self->started;
    rep.version = (char *) KONTOR_VERSION;

    snprintf(reply.request_id, sizeof reply.request_id, "%s", req->request_id);
    reply.status = KT_OK;
    reply.payload = kt_msg_pack(&rep.base, &reply.payload_len);
    size_t len;
    uint8_t *buf = reply.payload ? kt_reply_encode(&reply, &len) : NULL;
    if (buf) {
        zmsg_t *msg = zmsg_new();
        zframe_t *addr = zframe_dup(client);
        zmsg_append(msg, &addr);
        zmsg_addstr(msg, "");
        zmsg_addstr(msg, KT_CLIENT_HEADER);
        zmsg_addstr(msg, KT_BUS_SERVICE);
        zmsg_addmem(msg, buf, len);
        zmsg_send(&msg, self->router);
    }
    free(buf);
cleanup:
    kt_reply_clear(&reply);
    free(svc);
    free(items);
}

//  ---------------------------------------------------------------- callers

//  [client] "" "KTC1" service Request
static void s_handle_client(s_bus_t *self, zframe_t *client, const kt_principal_t *who,
                            zmsg_t *msg)
{
    if (zmsg_size(msg) != 2) {
        s_drop(self, DROP_FRAMES, "caller message must have service and body frames");
        return;
    }
    zframe_t *service_frame = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    if (!s_service_name_ok(service_frame)) {
        s_drop(self, DROP_STATE, "service name is not valid");
        goto cleanup;
    }
    char service[KT_SERVICE_NAME_MAX + 1];
    memcpy(service, zframe_data(service_frame), zframe_size(service_frame));
    service[zframe_size(service_frame)] = '\0';

    kt_request_t req;
    char why[160];
    if (kt_request_decode(zframe_data(body), zframe_size(body), &req, why, sizeof why) != 0) {
        s_drop(self, DROP_DECODE, why);
        //  The caller cannot match a reply without a request id; answer
        //  anyway so a human with a debugger sees why.
        s_reply_to_client(self, client, service, "", KT_INVALID_ARGUMENT, "request", NULL, why);
        goto cleanup;
    }
    self->requests++;
    if (strcmp(service, KT_BUS_SERVICE) == 0) {
        if (strcmp(req.method, "Status") == 0)
            s_bus_status(self, client, &req);
        else
            s_reply_to_client(self, client, service, req.request_id, KT_UNIMPLEMENTED, "method",
                              NULL, "the bus has no such method; it serves Status");
        kt_request_clear(&req);
        goto cleanup;
    }
    s_service_t *s = s_service_require(self, service);
    if (!s) {
        s_reply_to_client(self, client, service, req.request_id, KT_RESOURCE_EXHAUSTED, NULL,
                          "overloaded", "the bus knows too many services");
        kt_request_clear(&req);
        goto cleanup;
    }
    if (zlistx_size(s->requests) >= S_MAX_QUEUE) {
        s_reply_to_client(self, client, service, req.request_id, KT_RESOURCE_EXHAUSTED, NULL,
                          "overloaded", "too many requests are waiting; try again shortly");
        kt_request_clear(&req);
        goto cleanup;
    }
    s_request_t *r = calloc(1, sizeof *r);
    if (!r) {
        kt_request_clear(&req);
        goto cleanup;
    }
    uint32_t timeout = req.timeout_ms ? req.timeout_ms : S_DEFAULT_TIMEOUT_MS;
    if (timeout > S_MAX_TIMEOUT_MS)
        timeout = S_MAX_TIMEOUT_MS;
    r->client = zframe_dup(client);
    r->principal = *who;
    r->body = body;
    body = NULL;
    snprintf(r->request_id, sizeof r->request_id, "%s", req.request_id);
    r->deadline = kt_now_ms() + timeout;
    r->accepted_us = kt_now_us();
    kt_request_clear(&req);
    zlistx_add_end(s->requests, r);
    kt_metric_inc(s->m_requests);
    s_dispatch(self, s);
cleanup:
    zframe_destroy(&service_frame);
    zframe_destroy(&body);
}

//  ---------------------------------------------------------------- workers

static void s_worker_waiting(s_bus_t *self, s_worker_t *w)
{
    w->busy = false;
    w->expiry = kt_now_ms() + (int64_t) self->cfg->heartbeat_ms * self->cfg->liveness;
    if (!w->waiting_handle)
        w->waiting_handle = zlistx_add_end(w->service->waiting, w);
    s_dispatch(self, w->service);
}

//  [worker] "" "KTW1" command ...
static void s_handle_worker(s_bus_t *self, zframe_t *address, const kt_principal_t *who,
                            zmsg_t *msg)
{
    zframe_t *command = zmsg_pop(msg);
    if (!command || zframe_size(command) != 1) {
        s_drop(self, DROP_COMMAND, "worker command must be one byte");
        zframe_destroy(&command);
        return;
    }
    uint8_t cmd = zframe_data(command)[0];
    zframe_destroy(&command);

    char id[64];
    char *hex = zframe_strhex(address);
    snprintf(id, sizeof id, "%s", hex);
    free(hex);
    s_worker_t *w = zhashx_lookup(self->workers, id);
    //  A known address must keep the key it registered with.
    if (w && strcmp(w->key, who->key) != 0) {
        s_drop(self, DROP_PRINCIPAL, "worker address reused by another key");
        return;
    }

    switch (cmd) {
    case KT_CMD_READY: {
        zframe_t *service_frame = zmsg_pop(msg);
        if (w || !service_frame || zmsg_size(msg) != 0 || !s_service_name_ok(service_frame)) {
            s_drop(self, DROP_STATE, "READY out of order or malformed");
            zframe_destroy(&service_frame);
            if (w)
                s_worker_delete(self, w, true);
            else
                s_send_disconnect_to(self, address);
            return;
        }
        char service[KT_SERVICE_NAME_MAX + 1];
        memcpy(service, zframe_data(service_frame), zframe_size(service_frame));
        service[zframe_size(service_frame)] = '\0';
        zframe_destroy(&service_frame);
        //  Only a service's own key may serve it (or an admin's, for ops tools).
        if (!(who->kind == KT_KIND_ADMIN
              || (who->kind == KT_KIND_SERVICE && strcmp(who->name, service) == 0))
            || strcmp(service, KT_BUS_SERVICE) == 0) {
            char detail[160];
            snprintf(detail, sizeof detail, "%s may not serve %s", who->name, service);
            s_drop(self, DROP_PRINCIPAL, detail);
            s_send_disconnect_to(self, address);
            return;
        }
        s_service_t *s = s_service_require(self, service);
        if (!s) {
            s_send_disconnect_to(self, address);
            return;
        }
        w = calloc(1, sizeof *w);
        if (!w)
            return;
        snprintf(w->id, sizeof w->id, "%s", id);
        w->address = zframe_dup(address);
        w->service = s;
        snprintf(w->key, sizeof w->key, "%s", who->key);
        zhashx_insert(self->workers, w->id, w);
        s->workers++;
        kt_info("worker ready service=%s principal=%s workers=%zu", s->name, who->name,
                s->workers);
        //  An immediate heartbeat tells the worker it is registered.
        s_send_to_worker(self, w, KT_CMD_HEARTBEAT, NULL);
        s_worker_waiting(self, w);
        break;
    }
    case KT_CMD_REPLY: {
        //  caller "" Reply
        if (zmsg_size(msg) != 3) {
            s_drop(self, DROP_FRAMES, "REPLY must have caller, empty and body frames");
            return;
        }
        zframe_t *client = zmsg_pop(msg);
        zframe_t *empty = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        if (zframe_size(empty) != 0 || zframe_size(client) == 0) {
            s_drop(self, DROP_FRAMES, "REPLY envelope is malformed");
        } else if (!w || !w->busy || !zframe_eq(client, w->client)) {
            //  Only the worker handed a request may answer it, and only to
            //  that caller: nobody else can put words in a service's mouth.
            //  (A late reply from a worker we dropped is lost; its caller
            //  retries or has given up.)
            s_drop(self, DROP_STATE, "REPLY from a worker that owes none to that caller");
            if (!w)
                s_send_disconnect_to(self, address);
        } else {
            const char *service = w->service->name;
            kt_metric_inc(w->service->m_replies);
            kt_metric_observe_us(w->service->m_seconds, kt_now_us() - w->busy_since_us);
            zmsg_t *out = zmsg_new();
            zmsg_append(out, &client);
            zmsg_addstr(out, "");
            zmsg_addstr(out, KT_CLIENT_HEADER);
            zmsg_addstr(out, service);
            zmsg_append(out, &body);
            zmsg_send(&out, self->router);
            zframe_destroy(&w->client);
            if (w->leaving)
                s_worker_delete(self, w, false);
            else
                s_worker_waiting(self, w);
        }
        zframe_destroy(&client);
        zframe_destroy(&empty);
        zframe_destroy(&body);
        break;
    }
    case KT_CMD_HEARTBEAT:
        if (!w) {
            s_send_disconnect_to(self, address);
            return;
        }
        w->expiry = kt_now_ms() + (int64_t) self->cfg->heartbeat_ms * self->cfg->liveness;
        break;
    case KT_CMD_DISCONNECT:
        //  Answer with DISCONNECT: the worker then knows that every request
        //  the bus sent it has arrived (one connection keeps order).
        if (w && w->busy) {
            //  It still owes a reply: keep it until that comes, hand it
            //  nothing more, and confirm now (the request it holds was sent
            //  before this answer, so it arrives first).
            kt_info("worker leaving service=%s principal=%s (after its reply)",
                    w->service->name, who->name);
            w->leaving = true;
            s_send_disconnect_to(self, address);
        } else if (w) {
            kt_info("worker leaving service=%s principal=%s", w->service->name, who->name);
            s_worker_delete(self, w, true);
        } else
            s_send_disconnect_to(self, address);
        break;
    default:
        s_drop(self, DROP_COMMAND, "unknown worker command");
        break;
    }
}

//  ---------------------------------------------------------------- router input

static void s_handle_router(s_bus_t *self)
{
    zmsg_t *msg = s_recv_bounded(self, self->router);
    if (!msg)
        return;
    //  address "" header ...
    if (zmsg_size(msg) < 4) {
        s_drop(self, DROP_FRAMES, "too few frames");
        zmsg_destroy(&msg);
        return;
    }
    zframe_t *address = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *header = zmsg_pop(msg);
    const kt_principal_t *who = s_principal_of(self, header);
    if (zframe_size(empty) != 0) {
        s_drop(self, DROP_FRAMES, "missing empty delimiter");
    } else if (!who) {
        //  Its key passed the handshake but is no longer allowed (revoked).
        s_drop(self, DROP_PRINCIPAL, "key not in the allow-list");
    } else if (s_frame_is(header, KT_CLIENT_HEADER)) {
        s_handle_client(self, address, who, msg);
    } else if (s_frame_is(header, KT_WORKER_HEADER)) {
        s_handle_worker(self, address, who, msg);
    } else {
        s_drop(self, DROP_HEADER, "unknown protocol header");
    }
    zframe_destroy(&address);
    zframe_destroy(&empty);
    zframe_destroy(&header);
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------- events

//  Producers -> subscribers. Only services publish: a subscriber's key
//  (an external logistics system, say) cannot inject events.
static void s_handle_xsub(s_bus_t *self)
{
    zmsg_t *msg = s_recv_bounded(self, self->xsub);
    if (!msg)
        return;
    zframe_t *first = zmsg_first(msg);
    const kt_principal_t *who = s_principal_of(self, first);
    if (!who || who->kind != KT_KIND_SERVICE) {
        s_drop(self, DROP_PUBLISH, "only services may publish events");
        zmsg_destroy(&msg);
        return;
    }
    //  ... and each only its own stream: the topic starts "<its name>.".
    size_t n = strlen(who->name);
    if (zframe_size(first) <= n || memcmp(zframe_data(first), who->name, n) != 0
        || zframe_data(first)[n] != '.') {
        s_drop(self, DROP_PUBLISH, "a service may publish only its own events");
        zmsg_destroy(&msg);
        return;
    }
    kt_metric_inc(self->m_events);
    zmsg_send(&msg, self->xpub);
}

//  Subscriptions. The XPUB socket is in manual mode: a subscription takes
//  effect only when we apply it, and we apply it only for principals that
//  may read events (the same that may call EventsSince: services, external
//  logistics systems, admins).
static void s_handle_xpub(s_bus_t *self)
{
    zmsg_t *msg = s_recv_bounded(self, self->xpub);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first(msg);
    size_t size = frame ? zframe_size(frame) : 0;
    const uint8_t *data = frame ? zframe_data(frame) : NULL;
    if (zmsg_size(msg) != 1 || size == 0 || (data[0] != 0 && data[0] != 1)) {
        s_drop(self, DROP_FRAMES, "malformed subscription");
        zmsg_destroy(&msg);
        return;
    }
    //  CZMQ's zsock_set_(un)subscribe insist on a SUB socket; an XPUB in
    //  manual mode takes the same options from libzmq directly, and a topic
    //  is bytes, not a string.
    void *handle = zsock_resolve(self->xpub);
    if (data[0] == 0) {
        zmq_setsockopt(handle, ZMQ_UNSUBSCRIBE, data + 1, size - 1);
    } else {
        const kt_principal_t *who = s_principal_of(self, frame);
        if (!who
            || !(who->kind == KT_KIND_SERVICE || who->kind == KT_KIND_LOGISTICS_SYSTEM
                 || who->kind == KT_KIND_ADMIN)) {
            s_drop(self, DROP_PRINCIPAL, "this key may not subscribe to events");
            zmsg_destroy(&msg);
            return;
        }
        zmq_setsockopt(handle, ZMQ_SUBSCRIBE, data + 1, size - 1);
    }
    //  Not forwarded upstream: the bus takes every event from producers (it
    //  subscribed to everything at start) and filters per subscriber here.
    //  Forwarding would also forward the unsubscriptions libzmq makes for
    //  refused subscribers when they leave, and cancel others' topics.
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------- housekeeping

static void s_housekeeping(s_bus_t *self)
{
    int64_t now = kt_now_ms();
    if (now >= self->refresh_at) {
        kt_principals_refresh(self->principals);
        self->refresh_at = now + 1000;
        //  A revoked worker is removed at once, not when it next speaks:
        //  requests must not be handed to a key that is no longer allowed.
        zlistx_t *revoked = zlistx_new();
        for (s_worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
            if (!kt_principals_lookup(self->principals, w->key))
                zlistx_add_end(revoked, w);
        for (s_worker_t *w = zlistx_first(revoked); w; w = zlistx_next(revoked)) {
            kt_warn("worker of %s removed: its key was revoked", w->service->name);
            s_worker_delete(self, w, true);
        }
        zlistx_destroy(&revoked);
    }
    //  Drop dead workers: idle ones silent for `liveness` heartbeats; busy
    //  ones once their request's deadline and a grace have passed too.
    zlistx_t *dead = zlistx_new();
    size_t live = 0;
    for (s_worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers)) {
        int64_t expiry = w->expiry;
        if (w->busy && w->busy_deadline + S_BUSY_GRACE_MS > expiry)
            expiry = w->busy_deadline + S_BUSY_GRACE_MS;
        if (expiry <= now)
            zlistx_add_end(dead, w);
        else
            live++;
    }
    for (s_worker_t *w = zlistx_first(dead); w; w = zlistx_next(dead)) {
        kt_warn("worker expired service=%s", w->service->name);
        s_worker_delete(self, w, false);
    }
    zlistx_destroy(&dead);
    kt_metric_set(self->m_workers, (int64_t) live);

    //  Requests that waited past their deadline get UNAVAILABLE.
    size_t queued = 0;
    for (s_service_t *s = zhashx_first(self->services); s; s = zhashx_next(self->services)) {
        //  zlistx_delete moves the cursor back one, so iterating forwards
        //  while deleting visits every item once.
        for (s_request_t *r = zlistx_first(s->requests); r; r = zlistx_next(s->requests)) {
            if (r->deadline > now)
                continue;
            char sentence[160];
            snprintf(sentence, sizeof sentence, "no %s worker is available; try again shortly",
                     s->name);
            s_reply_to_client(self, r->client, s->name, r->request_id, KT_UNAVAILABLE, NULL,
                              NULL, sentence);
            zlistx_delete(s->requests, zlistx_cursor(s->requests));
        }
        queued += zlistx_size(s->requests);
    }
    kt_metric_set(self->m_queued, (int64_t) queued);
    self->queued = queued;

    if (now >= self->heartbeat_at) {
        for (s_worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
            if (!w->busy)
                s_send_to_worker(self, w, KT_CMD_HEARTBEAT, NULL);
        self->heartbeat_at = now + self->cfg->heartbeat_ms;
    }
}

//  ---------------------------------------------------------------- the actor

static zsock_t *s_server_socket(s_bus_t *self, int type, const char *endpoint)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        return NULL;
    zsock_set_zap_domain(sock, KT_ZAP_DOMAIN);
    //  Refuse when no ZAP handler answers, rather than libzmq's default of
    //  allowing (RELIABILITY.md).
    int one = 1;
    if (zmq_setsockopt(zsock_resolve(sock), S_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0) {
        kt_error("cannot enforce the ZAP domain: %s", zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_maxmsgsize(sock, self->cfg->max_msg_bytes);
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 100000);
    zsock_set_rcvhwm(sock, 100000);
    if (type == ZMQ_ROUTER)
        zsock_set_router_mandatory(sock, 0);
    if (type == ZMQ_XPUB) {
        int manual = 1;
        zmq_setsockopt(zsock_resolve(sock), ZMQ_XPUB_MANUAL, &manual, sizeof manual);
    }
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        kt_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    return sock;
}

static void s_actor(zsock_t *pipe, void *args)
{
    bus_server_t *server = args;
    s_bus_t self_s = {0}, *self = &self_s;
    self->cfg = server->cfg;
    self->pipe = pipe;
    self->running = &server->running;
    self->started = kt_now_ms();
    self->services = zhashx_new();
    zhashx_set_destructor(self->services, s_service_destructor);
    self->workers = zhashx_new();
    zhashx_set_destructor(self->workers, s_worker_destructor);
    for (int i = 0; i < DROP_COUNT; i++) {
        char labels[48];
        snprintf(labels, sizeof labels, "reason=\"%s\"", s_drop_names[i]);
        self->m_dropped[i] = kt_counter("bus_dropped_total", labels,
                                        "Messages the bus refused or could not read");
    }
    self->m_workers = kt_gauge("bus_workers", NULL, "Live workers registered");
    self->m_queued = kt_gauge("bus_queued_requests", NULL, "Requests waiting for a worker");
    self->m_events = kt_counter("bus_events_total", NULL, "Events forwarded to subscribers");

    self->principals = kt_principals_new(self->cfg->keys_dir);
    self->cert = kt_cert_load_secret(self->cfg->cert);
    if (!self->cert || !self->principals || kt_principals_refresh(self->principals) < 0)
        goto failed;
    self->router = s_server_socket(self, ZMQ_ROUTER, self->cfg->bus);
    self->xsub = s_server_socket(self, ZMQ_XSUB, self->cfg->events_in);
    self->xpub = s_server_socket(self, ZMQ_XPUB, self->cfg->events_out);
    if (!self->router || !self->xsub || !self->xpub)
        goto failed;
    //  Take every event from every producer; subscribers are filtered at XPUB.
    {
        uint8_t all = 1;
        zmq_send(zsock_resolve(self->xsub), &all, 1, 0);
    }

    zsock_signal(pipe, 0);
    atomic_store(self->running, true);
    kt_info("bus serving requests=%s events_in=%s events_out=%s", self->cfg->bus,
            self->cfg->events_in, self->cfg->events_out);

    zpoller_t *poller = zpoller_new(pipe, self->router, self->xsub, self->xpub, NULL);
    self->heartbeat_at = kt_now_ms() + self->cfg->heartbeat_ms;
    self->refresh_at = kt_now_ms() + 1000;
    while (true) {
        int64_t wait = self->heartbeat_at - kt_now_ms();
        if (wait < 0)
            wait = 0;
        if (wait > self->cfg->heartbeat_ms)
            wait = self->cfg->heartbeat_ms;
        //  Requests waiting for a worker are answered close to their deadline.
        if (self->queued > 0 && wait > S_QUEUE_TICK_MS)
            wait = S_QUEUE_TICK_MS;
        void *which = zpoller_wait(poller, (int) wait);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (term)
                break;
        } else if (which == self->router) {
            //  Drain what is there, bounded, so housekeeping still runs under load.
            for (int i = 0; i < 1000 && (zsock_events(self->router) & ZMQ_POLLIN); i++)
                s_handle_router(self);
        } else if (which == self->xsub) {
            for (int i = 0; i < 1000 && (zsock_events(self->xsub) & ZMQ_POLLIN); i++)
                s_handle_xsub(self);
        } else if (which == self->xpub) {
            s_handle_xpub(self);
        } else if (zpoller_terminated(poller)) {
            break;
        }
        s_housekeeping(self);
    }
    atomic_store(self->running, false);
    zpoller_destroy(&poller);
    //  Tell workers to go so they re-register with whichever bus comes next.
    for (s_worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
        s_send_disconnect_to(self, w->address);
    goto cleanup;

failed:
    atomic_store(&server->start_failed, true);
    zsock_signal(pipe, 1);
cleanup:
    zsock_destroy(&self->xpub);
    zsock_destroy(&self->xsub);
    zsock_destroy(&self->router);
    zhashx_destroy(&self->workers);
    zhashx_destroy(&self->services);
    zcert_destroy(&self->cert);
    kt_principals_destroy(&self->principals);
}

bus_server_t *bus_server_new(const kt_config_t *cfg)
{
    bus_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    //  zauth first: it must be answering before any socket binds, or the
    //  first handshakes would meet no ZAP handler.
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth) {
        free(self);
        return NULL;
    }
    zstr_sendx(self->auth, "CURVE", cfg->keys_dir, NULL);
    zsock_wait(self->auth);
    //  zactor_new returns once the actor signals, whatever the signal says;
    //  the actor sets start_failed before signalling when it cannot serve.
    self->actor = zactor_new(s_actor, self);
    if (!self->actor || atomic_load(&self->start_failed)) {
        zactor_destroy(&self->actor);
        zactor_destroy(&self->auth);
        free(self);
        return NULL;
    }
    return self;
}

void bus_server_destroy(bus_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_server_t *self = *self_p;
    zactor_destroy(&self->actor);
    zactor_destroy(&self->auth);
    free(self);
    *self_p = NULL;
}

bool bus_server_ready(void *self)
{
    return self && atomic_load(&((bus_server_t *) self)->running);
}
