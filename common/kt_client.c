/*  kt_client - calling a method of a service through the bus.
 */
#include "kt_client.h"

#include <assert.h>
#include <czmq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_auth.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_proto.h"
#include "kt_status.h"

#define S_VERDICT_GRACE_MS 250

struct kt_client {
    zsock_t *dealer;            //  to the bus
    zcert_t *cert;              //  our key pair
    int default_timeout_ms;
    unsigned long stale;        //  late replies dropped
};

kt_client_t *kt_client_new(const kt_config_t *cfg)
{
    char bus_key[41];
    if (kt_cert_public_key(cfg->bus_cert, bus_key) != 0)
        return NULL;
    kt_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->default_timeout_ms = cfg->timeout_ms;
    self->cert = kt_cert_load_secret(cfg->cert);
    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->cert || !self->dealer) {
        kt_client_destroy(&self);
        return NULL;
    }
    kt_curve_client(self->dealer, self->cert, bus_key);
    zsock_set_zap_domain(self->dealer, KT_ZAP_DOMAIN);
    zsock_set_maxmsgsize(self->dealer, cfg->max_msg_bytes);
    zsock_set_linger(self->dealer, 0);
    //  A full queue (bus gone for long) must not block a caller for ever.
    zsock_set_sndtimeo(self->dealer, 1000);
    if (zsock_connect(self->dealer, "%s", cfg->bus) != 0) {
        kt_error("cannot connect to the bus at %s", cfg->bus);
        kt_client_destroy(&self);
        return NULL;
    }
    return self;
}

void kt_client_destroy(kt_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kt_client_t *self = *self_p;
    zsock_destroy(&self->dealer);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

unsigned long kt_client_stale(kt_client_t *self)
{
    return self->stale;
}

static int s_send(kt_client_t *self, const char *service, const uint8_t *body, size_t len)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, KT_CLIENT_HEADER);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, body, len);
    int rc = zmsg_send(&msg, self->dealer);
    zmsg_destroy(&msg);
    return rc;
}

//  Read one reply message off the client's socket ("" "KTC1" service Reply)
//  and keep it if it answers `request_id`. True with *reply filled when it
//  does; a reply to another id is stale (counted) and a malformed one is
//  dropped with a warning.
static bool s_take_reply(kt_client_t *self, zmsg_t **msg_p, const char *request_id,
                         kt_reply_t *reply)
{
    zmsg_t *msg = *msg_p;
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *header = zmsg_pop(msg);
    zframe_t *service = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    bool ok = empty && header && service && body && zmsg_size(msg) == 0
              && zframe_size(empty) == 0 && zframe_streq(header, KT_CLIENT_HEADER);
    bool matched = false;
    if (ok) {
        char why[160];
        kt_reply_t got;
        if (kt_reply_decode(zframe_data(body), zframe_size(body), &got, why, sizeof why) == 0) {
            if (strcmp(got.request_id, request_id) == 0) {
                *reply = got;
                matched = true;
            } else {
                //  The bus answers undecodable requests with an empty
                //  id; ours are always well-formed, so this is stale.
                self->stale++;
                kt_reply_clear(&got);
            }
        } else
            kt_warn("dropped a reply that does not decode: %s", why);
    } else
        kt_warn("dropped a malformed reply from the bus");
    zframe_destroy(&empty);
    zframe_destroy(&header);
    zframe_destroy(&service);
    zframe_destroy(&body);
    zmsg_destroy(msg_p);
    return matched;
}

//  Wait up to `wait_ms` for the reply to `request_id`. 0 with *reply filled,
//  or -1 on silence. Replies to other ids are dropped (counted as stale).
static int s_wait(kt_client_t *self, const char *request_id, int64_t wait_ms,
                  kt_reply_t *reply)
{
    int64_t until = kt_now_ms() + wait_ms;
    while (true) {
        int64_t left = until - kt_now_ms();
        if (left <= 0)
            return -1;
        zmq_pollitem_t item = {zsock_resolve(self->dealer), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, (long) left);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        zmsg_t *msg = zmsg_recv(self->dealer);
        if (!msg)
            return -1;
        if (s_take_reply(self, &msg, request_id, reply))
            return 0;
    }
}

int kt_client_call_raw(kt_client_t *self, const char *service, const char *method,
                       const uint8_t *payload, size_t len, const kt_call_opts_t *opts,
                       kt_reply_t *reply)
{
    kt_call_opts_t none = {0};
    if (!opts)
        opts = &none;
    memset(reply, 0, sizeof *reply);
    int budget = opts->timeout_ms > 0 ? opts->timeout_ms : self->default_timeout_ms;
    int attempt = budget;
    if (opts->retry) {
        attempt = opts->attempt_ms > 0 ? opts->attempt_ms : budget / 3;
        if (attempt < 1000)
            attempt = budget < 1000 ? budget : 1000;
    }

    kt_request_t req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "%s", method);
    if (opts->request_id && *opts->request_id)
        snprintf(req.request_id, sizeof req.request_id, "%s", opts->request_id);
    else
        kt_request_id_new(req.request_id);
    if (opts->idem_key)
        snprintf(req.idem_key, sizeof req.idem_key, "%s", opts->idem_key);
    req.payload = (uint8_t *) payload;
    req.payload_len = len;

    int64_t deadline = kt_now_ms() + budget;
    int rc = -1;
    bool sent = false;
    while (true) {
        int64_t left = deadline - kt_now_ms();
        if (left <= 0)
            break;
        //  Each attempt carries what is left of the budget, so the bus and
        //  the worker never work on after the caller stopped waiting.
        req.timeout_ms = (uint32_t) left;
        size_t body_len;
        uint8_t *body = kt_request_encode(&req, &body_len);
        if (!body)
            break;
        int sent_rc = s_send(self, service, body, body_len);
        free(body);
        if (sent_rc == 0)
            sent = true;
        int64_t wait = left < attempt ? left : attempt;
        //  On the last attempt, give the bus a moment past the budget: when no
        //  worker took the request, the bus's answer (UNAVAILABLE) says more
        //  than our silence would.
        if (wait == left)
            wait += S_VERDICT_GRACE_MS;
        if (s_wait(self, req.request_id, wait, reply) == 0) {
            rc = 0;
            break;
        }
        if (!opts->retry)
            break;
    }
    if (rc != 0) {
        memset(reply, 0, sizeof *reply);
        snprintf(reply->request_id, sizeof reply->request_id, "%s", req.request_id);
        char sentence[200];
        if (sent)
            snprintf(sentence, sizeof sentence, "no answer from %s within %d ms", service,
                     budget);
        else
            snprintf(sentence, sizeof sentence, "cannot reach the bus to call %s", service);
        kt_reply_set(reply, sent ? KT_DEADLINE_EXCEEDED : KT_UNAVAILABLE, NULL, NULL,
                     sentence);
    }
    return rc;
}

int kt_client_call(kt_client_t *self, const char *service, const char *method,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
                   ProtobufCMessage **out, const kt_call_opts_t *opts, kt_reply_t *reply)
{
    if (out)
        *out = NULL;
    size_t len;
    uint8_t *payload = kt_msg_pack(request, &len);
    if (!payload) {
        memset(reply, 0, sizeof *reply);
        kt_reply_set(reply, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        return reply->status;
    }
    kt_client_call_raw(self, service, method, payload, len, opts, reply);
    free(payload);
    bool refusal_detail = reply->status != KT_OK && reply->payload_len > 0;
    if ((reply->status == KT_OK || refusal_detail) && reply_desc && out) {
        char field[KT_FIELD_MAX + 1], why[200];
        *out = kt_msg_unpack(reply_desc, reply->payload, reply->payload_len, field, sizeof field,
                             why, sizeof why);
        if (!*out && refusal_detail) {
            kt_warn("refusal detail from %s.%s does not decode: %s", service, method, why);
        } else if (!*out) {
            kt_warn("reply from %s.%s does not decode: %s", service, method, why);
            kt_reply_set(reply, KT_INTERNAL, field, NULL, "the service sent a reply that does not decode");
        }
    }
    return reply->status;
}

//  ---------------------------------------------------------------- several at once

#define S_MANY_MAX 8

typedef struct {
    kt_request_t req;
    uint8_t *payload;
    int64_t deadline;           //  end of the whole budget (monotonic ms)
    int64_t attempt_end;        //  end of this attempt's wait
    int budget;
    int attempt;
    bool sent;
    bool done;
} s_many_t;

//  Send (or resend) job j's request; sets its attempt's end.
static void s_many_send(kt_client_job_t *job, s_many_t *m)
{
    int64_t left = m->deadline - kt_now_ms();
    if (left <= 0)
        return;
    m->req.timeout_ms = (uint32_t) left;
    size_t body_len;
    uint8_t *body = kt_request_encode(&m->req, &body_len);
    if (body) {
        if (s_send(job->client, job->service, body, body_len) == 0)
            m->sent = true;
        free(body);
    }
    int64_t wait = left < m->attempt ? left : m->attempt;
    if (wait == left)
        wait += S_VERDICT_GRACE_MS;
    m->attempt_end = kt_now_ms() + wait;
}

//  Take one reply off job j's socket if it is ready; true when it was its own.
static bool s_many_take(kt_client_job_t *job, s_many_t *m)
{
    zmsg_t *msg = zmsg_recv(job->client->dealer);
    if (!msg)
        return false;
    return s_take_reply(job->client, &msg, m->req.request_id, &job->reply);
}

//  What kt_client_call does with a raw reply: unpack the payload.
static void s_many_finish(kt_client_job_t *job)
{
    job->out = NULL;
    bool refusal_detail = job->reply.status != KT_OK && job->reply.payload_len > 0;
    if ((job->reply.status == KT_OK || refusal_detail) && job->reply_desc) {
        char field[KT_FIELD_MAX + 1], why[200];
        job->out = kt_msg_unpack(job->reply_desc, job->reply.payload, job->reply.payload_len,
                                 field, sizeof field, why, sizeof why);
        if (!job->out && refusal_detail)
            kt_warn("refusal detail from %s.%s does not decode: %s", job->service, job->method,
                    why);
        else if (!job->out) {
            kt_warn("reply from %s.%s does not decode: %s", job->service, job->method, why);
            kt_reply_set(&job->reply, KT_INTERNAL, field, NULL,
                         "the service sent a reply that does not decode");
        }
    }
    job->status = job->reply.status;
}

void kt_client_call_many(kt_client_job_t *jobs, size_t n)
{
    assert(n <= S_MANY_MAX);
    s_many_t many[S_MANY_MAX];
    memset(many, 0, sizeof many);
    for (size_t j = 0; j < n; j++) {
        kt_client_job_t *job = &jobs[j];
        s_many_t *m = &many[j];
        memset(&job->reply, 0, sizeof job->reply);
        job->out = NULL;
        job->status = KT_INTERNAL;
        size_t len = 0;
        m->payload = kt_msg_pack(job->request, &len);
        if (!m->payload) {
            kt_reply_set(&job->reply, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            job->status = job->reply.status;
            m->done = true;
            continue;
        }
        m->budget = job->opts.timeout_ms > 0 ? job->opts.timeout_ms
                                             : job->client->default_timeout_ms;
        m->attempt = m->budget;
        if (job->opts.retry) {
            m->attempt = job->opts.attempt_ms > 0 ? job->opts.attempt_ms : m->budget / 3;
            if (m->attempt < 1000)
                m->attempt = m->budget < 1000 ? m->budget : 1000;
        }
        snprintf(m->req.method, sizeof m->req.method, "%s", job->method);
        if (job->opts.request_id && *job->opts.request_id)
            snprintf(m->req.request_id, sizeof m->req.request_id, "%s", job->opts.request_id);
        else
            kt_request_id_new(m->req.request_id);
        if (job->opts.idem_key)
            snprintf(m->req.idem_key, sizeof m->req.idem_key, "%s", job->opts.idem_key);
        m->req.payload = m->payload;
        m->req.payload_len = len;
        m->deadline = kt_now_ms() + m->budget;
        s_many_send(job, m);
    }
    while (true) {
        zmq_pollitem_t items[S_MANY_MAX];
        size_t idx[S_MANY_MAX], k = 0;
        int64_t now = kt_now_ms(), next = INT64_MAX;
        for (size_t j = 0; j < n; j++) {
            s_many_t *m = &many[j];
            if (m->done)
                continue;
            if (now >= m->attempt_end) {
                //  This attempt is over: try again, or give up.
                if (jobs[j].opts.retry && now < m->deadline) {
                    s_many_send(&jobs[j], m);
                } else {
                    char sentence[200];
                    snprintf(sentence, sizeof sentence,
                             m->sent ? "no answer from %s within %d ms"
                                     : "cannot reach the bus to call %s",
                             jobs[j].service, m->budget);
                    memset(&jobs[j].reply, 0, sizeof jobs[j].reply);
                    snprintf(jobs[j].reply.request_id, sizeof jobs[j].reply.request_id, "%s",
                             m->req.request_id);
                    kt_reply_set(&jobs[j].reply, m->sent ? KT_DEADLINE_EXCEEDED : KT_UNAVAILABLE,
                                 NULL, NULL, sentence);
                    jobs[j].status = jobs[j].reply.status;
                    m->done = true;
                    continue;
                }
            }
            items[k] = (zmq_pollitem_t) {zsock_resolve(jobs[j].client->dealer), 0, ZMQ_POLLIN, 0};
            idx[k++] = j;
            if (m->attempt_end < next)
                next = m->attempt_end;
        }
        if (k == 0)
            break;
        long wait = next - now;
        if (wait < 0)
            wait = 0;
        int rc = zmq_poll(items, (int) k, wait);
        if (rc < 0)
            continue;
        for (size_t i = 0; i < k; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            size_t j = idx[i];
            if (s_many_take(&jobs[j], &many[j])) {
                s_many_finish(&jobs[j]);
                many[j].done = true;
            }
        }
    }
    for (size_t j = 0; j < n; j++)
        free(many[j].payload);
}
