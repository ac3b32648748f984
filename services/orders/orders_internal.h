/*  orders_internal - what the orders service's files share: configuration,
 *  the per-worker cache, the order as the engine holds it, and the engine
 *  that reserves credit and stock and settles an order's outcome.
 *
 *  Who calls the engine: PlaceOrder (a new order), a replayed PlaceOrder
 *  whose first attempt died (resume), Approve, and the sweeper (back-orders
 *  whose goods arrived). Each first holds the order in status PENDING and
 *  its advisory lock (orders_engine.c explains the lock).
 */
#ifndef ORDERS_INTERNAL_H
#define ORDERS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "kt_metrics.h"
#include "kt_money.h"
#include "kt_service.h"
#include "orders.pb-c.h"
#include "orders_rules.h"
#include "orders_store.h"

//  Process-wide settings, from the environment at start (orders_server.c).
typedef struct {
    size_t max_lines;           //  KONTOR_ORDERS_MAX_LINES (200)
    uint32_t hold_s;            //  KONTOR_ORDERS_HOLD_S: reservations' hold (900)
    int pending_timeout_s;      //  KONTOR_ORDERS_PENDING_TIMEOUT_S: sweeper undoes after (30)
    int call_ms;                //  KONTOR_ORDERS_CALL_MS: budget of one call out (5000)
    int sweep_ms;               //  KONTOR_ORDERS_SWEEP_MS: sweeper period (200)
    int confirm_after_s;        //  KONTOR_ORDERS_CONFIRM_AFTER_S: safety-net confirm (30)
} orders_conf_t;

const orders_conf_t *orders_conf(kt_service_t *svc);

//  The worker's second bus client (orders_worker_t), or NULL.
kt_client_t *orders_rpc2(const kt_call_t *call);

//  A worker's own state: the promotions cache, and a second bus client
//  (credit and stock are asked at once, one call on each).
typedef struct {
    int64_t promo_version;      //  promo_state.version the cache holds; 0 none
    orders_promo_t *promos;
    size_t npromos;
    kt_client_t *rpc2;          //  may be NULL: the calls are then made one after the other
} orders_worker_t;

//  Where the engine runs: a worker's call or the sweeper.
typedef struct {
    kt_pg_t *pg;
    kt_client_t *rpc;
    kt_client_t *rpc2;              //  a second client for a call at the same time; may be NULL
    kt_redis_t *redis;              //  may be NULL
    const orders_conf_t *conf;
    const char *request_id;         //  for logs; may be ""
    int64_t deadline_ms;            //  monotonic
    bool keep_reply;                //  settle stores the PlaceOrder reply (first result)
} orders_ctx_t;

//  One line of an order in memory.
typedef struct {
    orders_line_t p;                //  as priced
    int64_t available;              //  when checked; -1 unknown
    char expected[11];              //  "YYYY-MM-DD" or ""
    int64_t backordered;            //  moved to the back-order
} orders_oline_t;

//  An order as the engine holds it.
typedef struct {
    int64_t order_id;
    int64_t client_id;
    int64_t manager_id;
    int64_t branch_id;
    int64_t warehouse_id;
    int status;                     //  ORDERS_*
    int undo_status;
    char reason[64];
    char reason_text[256];
    char currency[4];
    int64_t list_total;
    int64_t total;
    orders_oline_t *lines;          //  owned
    size_t nlines;
    int32_t extra_bp;
    int short_policy;
    char delivery_date[11];
    int delivery_method;
    char *address;                  //  owned
    char *note;                     //  owned
    char placed_by[64];
    char approved_by[64];
    int64_t created_at_ms;
    int64_t confirmed_at_ms;
    int64_t parent_id;
    int64_t backorder_id;
    int64_t replaced_by;
    char expected_date[11];
    bool called_out;
    int64_t shipped_qty;            //  left the warehouse (Shipment* events)
    int64_t delivered_qty;
    int64_t created_us;             //  created_at in microseconds, for page tokens
    //  credit figures from a refusal, for the reply
    bool credit_known;
    int64_t credit_limit;
    int64_t credit_exposure;
    int64_t credit_exceeded;
} orders_order_t;

void orders_order_clear(orders_order_t *o);

//  Load an order with its lines. 1 found, 0 not found, -1 database error.
int orders_order_load(kt_pg_t *pg, int64_t order_id, orders_order_t *o);
//  The header of an order from row r of a result of orders_sql_get or
//  orders_sql_list (no lines). 0, or -1 when out of memory.
int orders_order_row(const PGresult *res, int r, orders_order_t *o);

//  Fill a generated Order from `o`; strings and arrays point into `o` or
//  into `arena` (freed with orders_pb_free). Returns 0 or -1 (memory).
typedef struct orders_arena orders_arena_t;
orders_arena_t *orders_arena_new(void);
void orders_arena_destroy(orders_arena_t **self_p);
void *orders_arena_alloc(orders_arena_t *self, size_t size);
Kontor__Orders__Order *orders_order_pb(const orders_order_t *o, orders_arena_t *arena);
Kontor__Orders__PricedLine *orders_line_pb(const orders_oline_t *l, orders_arena_t *arena);

//  The advisory lock a placement holds on its order (SQL in orders_store.c).
#define ORDERS_LOCK_CLASS 1263489604

//  Proceed with an order held PENDING under its lock: reserve credit
//  (with `approved_by`, "" for none), reserve stock, and settle it as
//  CONFIRMED (with OrderConfirmed), PENDING_APPROVAL, BACK_ORDER or
//  REJECTED, releasing whatever a refusal leaves held; the lock is given
//  up when it is settled. `o` is updated to the outcome. Returns 0 when
//  settled, 1 when the outcome is not known yet (a service did not answer:
//  the order stays PENDING for a retry or the sweeper), -1 on a database
//  error (kt_pg_status on ctx->pg).
int orders_engine_proceed(orders_ctx_t *ctx, orders_order_t *o);

//  Availability of `n` SKUs in a warehouse: Redis in one round trip, then
//  logistics for what Redis does not have (or all, Redis down). avail[i] is
//  -1 when nobody could say. Returns how many came from logistics.
int orders_availability(orders_ctx_t *ctx, int64_t warehouse_id, const int64_t *skus, size_t n,
                        int64_t *avail);

//  Ask logistics for details of `n` SKUs (expected arrivals, analogs, names,
//  availability). Returns the reply (caller frees with kt_msg_free) or NULL.
ProtobufCMessage *orders_logistics_details(orders_ctx_t *ctx, int64_t warehouse_id,
                                           const int64_t *skus, size_t n, int *status);

//  Claim an order waiting in PENDING_APPROVAL (from == 3) or BACK_ORDER (4)
//  for proceeding: it becomes PENDING under its lock, undoing back to
//  `from`; an order that has already been called out for is continued as a
//  new order (the old one REPLACED), since the other services never reserve
//  again for an id they released. Returns 1 claimed (o loaded, maybe a new
//  id), 0 not in that status any more, -1 database error.
int orders_engine_claim(orders_ctx_t *ctx, int64_t order_id, int from, const char *approved_by,
                        orders_order_t *o);

//  Insert an order with its lines; with `lock` the placement's advisory
//  lock is taken on it. `idem_key`, `hash_hex`, `reply` may be NULL. With
//  `pending_async` (a PENDING write, run outside any explicit transaction)
//  the statement's own transaction commits without waiting for the WAL
//  flush (orders_sql_insert_pending).
//  Returns 1 inserted, 0 the idempotency key is taken, -1 database error.
int orders_engine_insert(kt_pg_t *pg, const orders_order_t *o, const char *idem_key,
                         const char *hash_hex, const uint8_t *reply, size_t reply_len,
                         int reply_status, bool lock, bool pending_async);

//  The PlaceOrder reply for an order's current state (packed; caller
//  frees), and the status such a reply carries (OK, or the refusal's).
uint8_t *orders_place_reply_pack(const orders_order_t *o, bool replayed, size_t *len);
int orders_outcome_status(const orders_order_t *o);

//  Set o's fields for an outcome decided without calling out.
void orders_set_outcome(orders_order_t *o, int status, const char *reason, const char *text);

//  An order's committed status (waits for a transaction holding its row);
//  -1 when it cannot be read.
int orders_engine_status(orders_ctx_t *ctx, int64_t order_id);

//  Release whatever may be held for an order in receivables and logistics
//  (both idempotent). 0 when both answered, -1 otherwise.
int orders_engine_release(orders_ctx_t *ctx, int64_t order_id, const char *why);

//  Terms of a client: from the orders schema, refreshed from clients on a
//  miss. 1 found, 0 unknown client, -1 failure (status in *status).
typedef struct {
    int64_t client_id;
    char price_column[8];
    int32_t discount_bp;
    int64_t credit_limit;
    char currency[4];
    int short_policy;
    int status;                     //  ClientStatus
    int64_t manager_id;
    int64_t branch_id;
    bool on_hold;
} orders_terms_t;

int orders_terms_fetch(orders_ctx_t *ctx, int64_t client_id, int *status);

//  Pricing a request: terms, prices, promotions, authority (orders_price.c).
typedef struct {
    orders_terms_t terms;
    int64_t next_id;                //  a fresh order id (PlaceOrder) or 0
    int64_t seen_id;                //  the order this idempotency key made, or 0
    int32_t authority_bp;           //  the caller's ceiling
    orders_oline_t *lines;          //  owned
    size_t nlines;
    int64_t list_total;
    int64_t total;
    char currency[4];
    bool needs_approval;
    int32_t max_extra_bp;
    int32_t delivery_days;
} orders_priced_t;

void orders_priced_clear(orders_priced_t *p);

//  Check, authorise and price a Quote or PlaceOrder request. Replies itself
//  on any refusal (returns -1); returns 1 when the idempotency key was seen
//  (p->seen_id set, nothing priced), 0 when priced.
int orders_price_or_reply(kt_call_t *call, const orders_request_t *req, const char *idem_key,
                          orders_priced_t *p);

//  Today in UTC, days since 1970-01-01.
int32_t orders_today(void);

//  "YYYY-MM-DD" of days since 1970-01-01 into buf (>= 11 bytes).
void orders_date_text(int32_t days, char *buf);

//  Event handlers (orders_events.c) and the sweeper (orders_sweeper.c).
extern const kt_subscription_t orders_subscriptions[];
zactor_t *orders_sweeper_new(kt_service_t *svc);

//  Method handlers.
int orders_quote(kt_call_t *call, const ProtobufCMessage *req);
int orders_place(kt_call_t *call, const ProtobufCMessage *req);
int orders_approve(kt_call_t *call, const ProtobufCMessage *req);
int orders_reject(kt_call_t *call, const ProtobufCMessage *req);
int orders_cancel(kt_call_t *call, const ProtobufCMessage *req);
int orders_get(kt_call_t *call, const ProtobufCMessage *req);
int orders_list(kt_call_t *call, const ProtobufCMessage *req);
int orders_record_return(kt_call_t *call, const ProtobufCMessage *req);
int orders_sales_report(kt_call_t *call, const ProtobufCMessage *req);
int orders_returns_report(kt_call_t *call, const ProtobufCMessage *req);
int orders_stats(kt_call_t *call, const ProtobufCMessage *req);
int orders_upsert_price_list(kt_call_t *call, const ProtobufCMessage *req);
int orders_set_prices(kt_call_t *call, const ProtobufCMessage *req);
int orders_upsert_promotion(kt_call_t *call, const ProtobufCMessage *req);
int orders_list_promotions(kt_call_t *call, const ProtobufCMessage *req);
int orders_set_authority(kt_call_t *call, const ProtobufCMessage *req);

#endif
