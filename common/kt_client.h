/*  kt_client - calling a method of a service through the bus.
 *
 *  One client belongs to one thread. A call sends a Request with a budget
 *  (timeout), waits for the Reply with the same request id, and ignores any
 *  other (late answers to earlier attempts). A call marked retry resends the
 *  same request id after each attempt's timeout until the budget is spent:
 *  use it only for methods that are idempotent (reads, or writes carrying an
 *  idempotency key), since a retried request may run twice.
 *
 *  When no reply comes at all the call still fills a reply, with status
 *  UNAVAILABLE or DEADLINE_EXCEEDED, so callers handle one shape.
 */
#ifndef KT_CLIENT_H
#define KT_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "kt_config.h"
#include "kt_wire.h"

typedef struct kt_client kt_client_t;

//  Connect to the bus named in `cfg` with this process's key (cfg->cert) and
//  the bus's public key (cfg->bus_cert). NULL if the keys cannot be read.
kt_client_t *kt_client_new(const kt_config_t *cfg);

//  Disconnect and free; accepts NULL; nulls the pointer.
void kt_client_destroy(kt_client_t **self_p);

typedef struct {
    int timeout_ms;             //  whole budget; 0: the config's default
    int attempt_ms;             //  per attempt when retrying; 0: a third of the budget, at least 1 s
    bool retry;                 //  resend on silence (idempotent methods only)
    const char *idem_key;       //  idempotency key, or NULL
    const char *request_id;     //  reuse an id (a caller's own retry), or NULL for a new one
} kt_call_opts_t;

//  Call `service`.`method` with an encoded payload. Always fills `reply`
//  (free with kt_reply_clear). Returns 0 if a reply came from the service
//  or the bus (look at reply->status), -1 if none came in the budget
//  (reply->status is DEADLINE_EXCEEDED or UNAVAILABLE).
int kt_client_call_raw(kt_client_t *self, const char *service, const char *method,
                       const uint8_t *payload, size_t len, const kt_call_opts_t *opts,
                       kt_reply_t *reply);

//  Same with messages: packs `request`; unpacks the reply's payload strictly
//  as `reply_desc` into *out (free with kt_msg_free) when there is one: on
//  OK, and on a refusal that carries its figures (kt_call_refuse). A reply
//  payload that does not decode turns an OK into INTERNAL. Returns the
//  reply's status (KT_OK == 0 on success).
int kt_client_call(kt_client_t *self, const char *service, const char *method,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
                   ProtobufCMessage **out, const kt_call_opts_t *opts, kt_reply_t *reply);

//  One of several calls made at once (kt_client_call_many): the call as
//  kt_client_call takes it, and its outcome as kt_client_call gives it.
typedef struct {
    kt_client_t *client;                        //  one client per call, all of one thread
    const char *service;
    const char *method;
    const ProtobufCMessage *request;
    const ProtobufCMessageDescriptor *reply_desc;   //  may be NULL
    kt_call_opts_t opts;
    //  out
    ProtobufCMessage *out;                      //  free with kt_msg_free
    kt_reply_t reply;                           //  free with kt_reply_clear
    int status;                                 //  reply.status
} kt_client_job_t;

//  Make n calls at once, each on its own client (distinct clients), and
//  wait for all of them: every request is sent first, then the replies are
//  awaited together, each within its own budget and with its own retries,
//  exactly as kt_client_call would make it alone. Fills each job's out,
//  reply and status.
void kt_client_call_many(kt_client_job_t *jobs, size_t n);

//  Replies dropped because their request id matched no call in flight.
unsigned long kt_client_stale(kt_client_t *self);

#endif
