/*  kt_events - reliable events: transactional outbox, sequenced relay,
 *  idempotent consumers with catch-up.
 *
 *  Writing: a service calls kt_outbox_add inside the transaction that makes
 *  the change, so the event exists if and only if the change committed. It
 *  writes the outbox row last in the transaction, after every lock it takes,
 *  so that events of one entity are sequenced in the order they happened.
 *
 *  Publishing: every service process runs a relay. One relay per service is
 *  the leader (a PostgreSQL advisory lock held on its own connection; it
 *  passes to another instance when the leader's connection dies). The
 *  leader gives committed outbox rows their sequence numbers (gap-free, in
 *  one transaction with the counter in outbox_state) and publishes them
 *  through the bus with topic "<producer>.<Type>", in order. Once a second
 *  it publishes "<producer>.$head" with the last number, so a subscriber
 *  that missed the tail of the stream learns it is behind.
 *
 *  Consuming: a consumer per (service, producer) subscribes to the
 *  producer's stream, and applies events strictly in sequence order, each
 *  batch in one transaction together with the new offset in event_offsets
 *  (conditional on the old one), so applying twice is a no-op. On start and
 *  on any gap it asks the producer for what it missed (EventsSince).
 *  Publish-subscribe may drop; nothing is lost.
 */
#ifndef KT_EVENTS_H
#define KT_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_config.h"
#include "kt_pg.h"

//  Write an event of `type` ("OrderConfirmed": an upper-case letter, then
//  letters and digits) into the outbox, in the caller's open transaction.
//  Returns 0, or -1 with the database error on `pg`.
int kt_outbox_add(kt_pg_t *pg, const char *type, const ProtobufCMessage *payload);

//  ---------------------------------------------------------------- relay

typedef struct kt_relay kt_relay_t;

//  Start the relay actor for `producer` (the service's name and schema).
//  NULL if its keys or database cannot be reached.
kt_relay_t *kt_relay_new(const kt_config_t *cfg, const char *producer);

//  Stop and free; accepts NULL; nulls the pointer.
void kt_relay_destroy(kt_relay_t **self_p);

//  ---------------------------------------------------------------- consumer

//  One event as a consumer's handler sees it; the payload is borrowed for
//  the duration of the call.
typedef struct {
    const char *producer;
    uint64_t seq;
    const char *type;
    int64_t time_ms;
    const uint8_t *payload;
    size_t len;
} kt_event_t;

//  What a handler returns.
#define KT_EVENT_APPLIED 0  //  done; commit with the batch
#define KT_EVENT_FAILED (-1) //  database error: roll the batch back, try again later
#define KT_EVENT_POISON 1   //  the event cannot be applied, ever: log, count, skip

//  A handler runs inside the consumer's transaction, on the consumer's own
//  connection (search_path set to the consuming service's schema).
typedef int(kt_event_fn)(kt_pg_t *pg, const kt_event_t *ev, void *arg);

typedef struct {
    const char *type;       //  event type handled, or "*" for every type; types no
                            //  handler names are passed over (the offset still moves)
    kt_event_fn *fn;
} kt_event_handler_t;

typedef struct kt_consumer kt_consumer_t;

//  Start consuming `producer`'s stream into `schema` with `handlers` (ending
//  in an entry whose type is NULL); `arg` goes to every handler. NULL if
//  keys or database cannot be reached.
kt_consumer_t *kt_consumer_new(const kt_config_t *cfg, const char *schema, const char *producer,
                               const kt_event_handler_t *handlers, void *arg);

//  Stop and free; accepts NULL; nulls the pointer.
void kt_consumer_destroy(kt_consumer_t **self_p);

//  ---------------------------------------------------------------- EventsSince

//  Read up to `limit` events (and about 256 KiB of payloads) with seq >
//  after_seq from this service's own outbox, for the EventsSince method
//  (kt_service.c). Returns a packed EventsSinceReply (caller frees) with
//  *status OK; or, when after_seq is older than what retention kept, a
//  reply with no events but head_seq and oldest_seq, with *status
//  OUT_OF_RANGE; or NULL with the database's status.
uint8_t *kt_events_since(kt_pg_t *pg, const char *producer, uint64_t after_seq, uint32_t limit,
                         size_t *len, int *status);

#endif
