/*  logistics_core - what the logistics method families share: the process's
 *  shared state, the stock engine (lock rows in a fixed order, check, change,
 *  journal), the changes a transaction made (for the Redis cache after it
 *  commits and for StockChanged events inside it), idempotency keys, and the
 *  one way a handler turns a transaction's outcome into its reply.
 *
 *  Lock order, everywhere (so that nothing deadlocks): a shipment row, then
 *  a reservation row (one by one, or SKIP LOCKED), then stock rows ordered by
 *  (warehouse_id, sku). ReserveStock locks its stock rows before inserting
 *  its new reservation row, which no one else can be waiting for.
 */
#ifndef LOGISTICS_CORE_H
#define LOGISTICS_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_service.h"
#include "logistics.pb-c.h"
#include "logistics_logic.h"

typedef struct logistics_keeper logistics_keeper_t;

//  Process-wide state (kt_service_shared; also the event handlers' arg).
typedef struct {
    atomic_bool cache_dirty;        //  a Redis write failed: the keeper rebuilds the cache
    logistics_keeper_t *keeper;     //  sweeper and cache keeper actor
} logistics_shared_t;

//  ------------------------------------------------------------ arena

//  Memory for building one reply: every block is freed at once. Allocation
//  failure aborts (a reply cannot be half built, and the process cannot do
//  anything useful out of memory).
typedef struct logistics_arena_block logistics_arena_block_t;
typedef struct {
    logistics_arena_block_t *blocks;
} logistics_arena_t;

void *logistics_alloc(logistics_arena_t *arena, size_t size);     //  zeroed
char *logistics_strdup(logistics_arena_t *arena, const char *s);
void logistics_arena_free(logistics_arena_t *arena);

//  ------------------------------------------------------------ changes

//  A stock row as a transaction left it.
typedef struct {
    int64_t warehouse_id;
    int64_t sku;
    int64_t available;      //  on_hand - reserved
    int64_t version;        //  stock.version after the change
    int64_t on_hand;        //  when the statement returned it (else 0)
    int64_t reserved;       //  when the statement returned it (else 0)
} logistics_change_t;

typedef struct {
    logistics_change_t *items;
    size_t n;
    size_t cap;
} logistics_changes_t;

//  Append; -1 when out of memory.
int logistics_changes_add(logistics_changes_t *self, int64_t warehouse_id, int64_t sku,
                          int64_t available, int64_t version);
void logistics_changes_clear(logistics_changes_t *self);

//  Read (warehouse_id, sku, available, version[, on_hand, reserved]) rows
//  from columns c.. of `res` into `changes`. -1 when out of memory.
int logistics_changes_from(logistics_changes_t *changes, const PGresult *res, int c);

//  Write one StockChanged event per warehouse touched, in the open
//  transaction; call it last. 0 or -1 (database error on pg).
int logistics_stock_events(kt_pg_t *pg, const logistics_changes_t *changes);

//  ------------------------------------------------------------ stock engine

//  Apply `deltas` in the open transaction: merge, optionally create missing
//  rows (`create`), lock the rows in (warehouse, sku) order, check that
//  0 <= reserved <= on_hand holds after, update them in one statement,
//  journal on-hand moves as `move_kind` (NULL: none) with `ref` and `note`,
//  and append the rows to `changes`. Lines are named `what[index].qty` in a
//  refusal. Returns 0, 1 with `problem` filled (insufficient_stock or an
//  overflow), or -1 on a database error.
int logistics_stock_apply(kt_pg_t *pg, logistics_delta_t *deltas, size_t n, bool create,
                          const char *what, const char *move_kind, const char *ref,
                          const char *note, logistics_changes_t *changes,
                          logistics_problem_t *problem);

//  In the open transaction: 0 if the warehouse exists (its kind in `kind`,
//  "central" or "branch", if not NULL), 1 with NOT_FOUND unknown_warehouse
//  naming `field`, -1 on a database error.
int logistics_warehouse_require(kt_pg_t *pg, int64_t warehouse_id, const char *field,
                                char kind[16], logistics_problem_t *problem);

//  In the open transaction: 0 if every SKU of `lines` is a product, 1 with
//  NOT_FOUND unknown_sku naming `what[index].sku` of the first unknown one
//  (in request order), -1 on a database error.
int logistics_skus_require(kt_pg_t *pg, const logistics_line_t *lines, size_t n,
                           const char *what, logistics_problem_t *problem);

//  ------------------------------------------------------------ idempotency

//  Claim the idempotency key for `method` with this request, in the open
//  transaction. Returns 0 when claimed (do the work, then
//  logistics_idem_store), 2 when the same request was answered before (its
//  reply, packed, in *stored; caller frees), 1 with ABORTED
//  idempotency_mismatch when the key was used for another request, -1 on a
//  database error. A concurrent claim of the same key waits for the first
//  to commit or roll back.
int logistics_idem_claim(kt_pg_t *pg, const char *method, const char *key,
                         const ProtobufCMessage *request, uint8_t **stored, size_t *stored_len,
                         logistics_problem_t *problem);
int logistics_idem_store(kt_pg_t *pg, const char *method, const char *key,
                         const ProtobufCMessage *reply);

//  ------------------------------------------------------------ replies

//  The outcome of one write transaction, shared by every writing handler.
typedef struct {
    kt_call_t *call;
    logistics_problem_t problem;        //  set when the body returned 1
    const ProtobufCMessage *detail;     //  refusal payload, or NULL
    uint8_t *replay;                    //  a stored reply to send again (owned)
    size_t replay_len;
    logistics_changes_t changes;        //  rows changed, for the cache
} logistics_tx_t;

//  Finish a handler after kt_pg_tx returned `rc`: on 0 push the changes to
//  Redis and reply with `reply` (or the replayed reply when tx->replay is
//  set, unpacked as `reply_desc`); on 1 refuse with tx->problem (and its
//  detail); on -1 fail with the database's status. Frees what tx owns.
//  Returns the handler's return value.
int logistics_finish(logistics_tx_t *tx, int rc, const ProtobufCMessage *reply,
                     const ProtobufCMessageDescriptor *reply_desc, const char *doing);

//  Refuse with a problem (no transaction). Returns -1.
int logistics_refuse(kt_call_t *call, const logistics_problem_t *problem);

//  Check a text field; on failure fill `problem` (INVALID_ARGUMENT naming
//  `field`) and return -1.
int logistics_text_check(const char *field, const char *value, size_t min, size_t max,
                         logistics_problem_t *problem);

//  "YYYY-MM-DD" that is today (UTC) or later and at most `max_days` ahead.
//  0, or -1 with `problem` naming `field`.
int logistics_date_check(const char *field, const char *value, int max_days,
                         logistics_problem_t *problem);

//  Fill `problem`.
void logistics_problem_set(logistics_problem_t *problem, int status, const char *field,
                           const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

//  ------------------------------------------------------------ cache (logistics_cache.c)

//  Write rows to Redis (versioned: an older value never replaces a newer
//  one). On failure mark the cache dirty so the keeper rebuilds it.
void logistics_cache_push(kt_service_t *svc, kt_redis_t *redis, const logistics_changes_t *changes);

//  The keeper actor: every second it expires held reservations past their
//  time, and keeps the Redis cache whole (rebuild on start, when the marker
//  key is gone or a write failed; rows changed by transactions it has not
//  seen yet are pushed again). NULL if it cannot start.
logistics_keeper_t *logistics_keeper_new(const kt_config_t *cfg, logistics_shared_t *shared);
void logistics_keeper_destroy(logistics_keeper_t **self_p);

//  Expire held reservations past their time, at most `batch` in one
//  transaction; returns how many were expired, or -1. Changes go to `changes`.
int logistics_expire_batch(kt_pg_t *pg, int batch, logistics_changes_t *changes);

//  ------------------------------------------------------------ handlers

//  logistics_stock.c
int logistics_upsert_warehouse(kt_call_t *call, const ProtobufCMessage *req);
int logistics_list_warehouses(kt_call_t *call, const ProtobufCMessage *req);
int logistics_upsert_product(kt_call_t *call, const ProtobufCMessage *req);
int logistics_receive(kt_call_t *call, const ProtobufCMessage *req);
int logistics_adjust(kt_call_t *call, const ProtobufCMessage *req);
int logistics_expect_arrival(kt_call_t *call, const ProtobufCMessage *req);
int logistics_availability(kt_call_t *call, const ProtobufCMessage *req);

//  logistics_reserve.c
int logistics_reserve_stock(kt_call_t *call, const ProtobufCMessage *req);
int logistics_confirm_reservation(kt_call_t *call, const ProtobufCMessage *req);
int logistics_release_reservation(kt_call_t *call, const ProtobufCMessage *req);
//  Release the reservation of `order_id` in the open transaction (also from
//  OrderCancelled): held/confirmed -> released with its stock given back;
//  none -> a released row without lines (so a late ReserveStock holds
//  nothing). Returns 0, 1 with `problem` (consumed: already_dispatched),
//  -1 on a database error. *status gets the reservation's status after.
int logistics_release_tx(kt_pg_t *pg, int64_t order_id, const char *reason,
                         logistics_changes_t *changes, int *status,
                         logistics_problem_t *problem);

//  logistics_shipments.c
int logistics_update_shipment(kt_call_t *call, const ProtobufCMessage *req);
int logistics_get_shipment(kt_call_t *call, const ProtobufCMessage *req);
int logistics_list_shipments(kt_call_t *call, const ProtobufCMessage *req);
int logistics_record_discrepancy(kt_call_t *call, const ProtobufCMessage *req);
int logistics_on_order_confirmed(kt_pg_t *pg, const kt_event_t *ev, void *arg);
int logistics_on_order_cancelled(kt_pg_t *pg, const kt_event_t *ev, void *arg);

//  logistics_transfers.c
int logistics_request_transfer(kt_call_t *call, const ProtobufCMessage *req);
int logistics_receive_transfer(kt_call_t *call, const ProtobufCMessage *req);

#endif
