/*  kt_service - the shape every Kontor service process has.
 *
 *  A service declares itself once, in a kt_service_def_t: its name (which is
 *  also its bus service, its schema and its principal), its method table,
 *  its migrations, and hooks for what it runs besides workers (outbox relay,
 *  event consumers, sweepers). kt_service_main then does the rest, the same
 *  way for every service: configuration, logging, signals, migrations, N
 *  worker threads (each with its own bus socket, PostgreSQL connection and
 *  Redis handle), the HTTP listener, and on SIGTERM a clean stop: workers
 *  leave the bus, finish what they hold, and the process exits 0.
 *
 *  The dispatcher checks, in this order and before any handler runs: the
 *  envelope decodes; the method exists; the caller's role is allowed; the
 *  deadline has not passed; a required idempotency key is present; the
 *  payload decodes strictly as the method's request type. A handler only
 *  sees requests that passed all of that.
 *
 *  Every service also serves Status, Describe and EventsSince, runs an outbox relay
 *  (kt_events.h) and a consumer for each stream it declares.
 */
#ifndef KT_SERVICE_H
#define KT_SERVICE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "kt_auth.h"
#include "kt_client.h"
#include "kt_config.h"
#include "kt_events.h"
#include "kt_pg.h"
#include "kt_redis.h"
#include "kt_wire.h"

typedef struct kt_service kt_service_t;

//  One call being handled: who asks, with what, on which connections, and
//  (once decided) the reply. Lives for one request on one worker thread.
typedef struct {
    const kt_principal_t *caller;   //  stamped by the bus
    const char *method;             //  the method's name
    const char *request_id;         //  for logs
    const char *idem_key;           //  "" when none was given
    int64_t deadline_ms;            //  monotonic; kt_now_ms() >= deadline: too late
    kt_pg_t *pg;                    //  this worker's connection, in search_path of the schema
    kt_redis_t *redis;              //  this worker's Redis, or NULL if the service uses none
    kt_client_t *rpc;               //  this worker's bus client, for calling other services
    kt_service_t *service;          //  the process
    void *local;                    //  the worker's own state (def->worker_new)
    kt_reply_t reply;               //  filled by kt_call_reply / kt_call_fail
} kt_call_t;

//  A handler: returns 0 after kt_call_reply, or -1 after kt_call_fail.
typedef int(kt_handler_fn)(kt_call_t *call, const ProtobufCMessage *request);

//  Method flags.
#define KT_M_READ 0x0u          //  changes nothing
#define KT_M_WRITE 0x1u         //  changes state
#define KT_M_NEEDS_KEY 0x2u     //  refused without an idempotency key

typedef struct {
    const char *name;                               //  "PlaceOrder"
    const ProtobufCMessageDescriptor *request;      //  its request type
    const ProtobufCMessageDescriptor *reply;        //  its reply type
    unsigned roles;                                 //  KT_ROLE_* mask of who may call it
    unsigned flags;                                 //  KT_M_*
    kt_handler_fn *handler;
    const char *summary;                            //  one line for `kontor describe`
} kt_method_t;

//  A producer's stream this service applies, and the handlers by type.
typedef struct {
    const char *producer;                   //  "orders"
    const kt_event_handler_t *handlers;     //  ends with an entry whose type is NULL
} kt_subscription_t;

typedef struct {
    const char *name;                   //  "orders"
    const kt_method_t *methods;         //  ends with an entry whose name is NULL
    const kt_migration_t *migrations;   //  ends with an entry whose sql is NULL
    bool uses_redis;                    //  give each worker a Redis handle
    const kt_subscription_t *consumes;  //  streams applied; ends with producer NULL; may be NULL
    //  Process-wide start and stop, around the workers: start runs after the
    //  migrations and before the workers (return -1 to abort the start);
    //  stop runs after the workers have left. Either may be NULL.
    int (*start)(kt_service_t *svc);
    void (*stop)(kt_service_t *svc);
    //  Per-worker state, made on the worker's thread; either may be NULL.
    void *(*worker_new)(kt_service_t *svc, kt_pg_t *pg);
    void (*worker_destroy)(void **local_p);
} kt_service_def_t;

//  Run the service; returns main's exit code.
int kt_service_main(const kt_service_def_t *def, int argc, char **argv);

//  The process's configuration and definition.
const kt_config_t *kt_service_config(kt_service_t *svc);
const kt_service_def_t *kt_service_def(kt_service_t *svc);

//  Process-wide state for the service's own use (set in start).
void kt_service_set_shared(kt_service_t *svc, void *shared);
void *kt_service_shared(kt_service_t *svc);

//  The consumers' shared argument (passed to every event handler); set it
//  in start, before the consumers begin.
void kt_service_set_event_arg(kt_service_t *svc, void *arg);

//  Mark the process failed (a part it cannot live without died): it then
//  stops as on SIGTERM and exits 1.
void kt_service_fail(kt_service_t *svc, const char *why);

//  Pack `msg` as the reply payload with status OK. Returns 0.
int kt_call_reply(kt_call_t *call, const ProtobufCMessage *msg);

//  Refuse: status, the field at fault (or NULL), a refusal reason token from
//  kt_status.h (or NULL), and a sentence for a manager. Returns -1.
int kt_call_fail(kt_call_t *call, int status, const char *field, const char *reason,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

//  Refuse as kt_call_fail does, and carry `detail` (usually the method's
//  reply type) as the payload, so the caller can read the figures behind the
//  refusal (short lines, how far over the limit). Returns -1.
int kt_call_refuse(kt_call_t *call, const ProtobufCMessage *detail, int status,
                   const char *field, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

//  Refuse because the database failed: logs the SQLSTATE and message (for
//  ops, not the caller), replies with kt_pg_status(). Returns -1.
int kt_call_fail_pg(kt_call_t *call, const char *doing);

//  Add a hint (what to do about it) to a refusal already made.
void kt_call_hint(kt_call_t *call, const char *hint);

//  Milliseconds left before the caller stops waiting (may be <= 0).
int64_t kt_call_left_ms(const kt_call_t *call);

//  True if the caller is a manager or head whose manager id is `manager_id`,
//  or a head, service or admin (who act for everyone).
bool kt_call_acts_for(const kt_call_t *call, int64_t manager_id);

#endif
