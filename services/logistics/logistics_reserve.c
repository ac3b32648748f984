/*  logistics_reserve - stock reservations, try-confirm-cancel.
 *
 *  ReserveStock is the hot path (orders calls it for every order), so it is
 *  one statement, a transaction of its own: it locks the order's stock rows
 *  in SKU order (SELECT ... FOR UPDATE), checks every line, and only if all
 *  can be met inserts the reservation and its lines, raises `reserved` and
 *  writes the StockChanged event (unnest arrays; logistics_sql_reserve_event,
 *  migrations/003).
 *  The reservation's primary key is the order id: a second call finds it
 *  (ON CONFLICT DO NOTHING returns no row) and answers with the reservation
 *  already made, when its lines are the same. Lines that are short come
 *  back from the same statement, and the refusal carries them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "logistics_core.h"
#include "logistics_store.h"

#define S_TX_ATTEMPTS 5
#define S_REASON_MAX 500

//  Reservations belong to orders: of the services, only orders may hold or
//  give back stock (the method table lets services and admins in).
static int s_orders_only(kt_call_t *call)
{
    if (call->caller->kind == KT_KIND_SERVICE && strcmp(call->caller->name, "orders") != 0)
        return kt_call_fail(call, KT_PERMISSION_DENIED, NULL, "role_required",
                            "%s may not change stock reservations; only orders does",
                            call->caller->name);
    return 0;
}

//  ------------------------------------------------------------ ReserveStock

typedef struct {
    logistics_tx_t tx;
    const Kontor__Logistics__ReserveStockRequest *req;
    logistics_line_t *lines;            //  sorted by sku
    size_t n;
    char *fingerprint;
    char *a_skus, *a_qtys;
    uint32_t hold_s;
    //  the answer
    Kontor__Logistics__ReserveStockReply reply;
    Kontor__Logistics__ShortLine *shorts;
    Kontor__Logistics__ShortLine **short_ptrs;
} s_reserve_t;

//  The order has a reservation already: answer as the first call was
//  answered, if this is the same request.
static int s_reserve_existing(kt_pg_t *pg, s_reserve_t *self)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, self->req->order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_reservation_read, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 3; //  none after all
    }
    int status = logistics_res_status_from_name(kt_pg_text(res, 0, 0));
    bool same = strcmp(kt_pg_text(res, 0, 1), self->fingerprint) == 0;
    int64_t expires = kt_pg_i64(res, 0, 2);
    bool timed_out = kt_pg_i64(res, 0, 3) == 1;
    PQclear(res);
    logistics_problem_t *p = &self->tx.problem;
    if (status == LOGISTICS_RES_RELEASED) {
        logistics_problem_set(p, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                              "the reservation for order %" PRId64
                              " was released; a released order cannot reserve again",
                              self->req->order_id);
        return 1;
    }
    if (!same) {
        logistics_problem_set(p, KT_ABORTED, "order_id", "idempotency_mismatch",
                              "order %" PRId64
                              " already has a reservation with other lines or another warehouse",
                              self->req->order_id);
        return 1;
    }
    if (status == LOGISTICS_RES_EXPIRED || (status == LOGISTICS_RES_HELD && timed_out)) {
        logistics_problem_set(p, KT_FAILED_PRECONDITION, "order_id", "reservation_expired",
                              "the reservation for order %" PRId64 " has expired",
                              self->req->order_id);
        return 1;
    }
    self->reply.status = status;
    self->reply.expires_at_ms = status == LOGISTICS_RES_HELD ? expires : 0;
    return 0;
}

//  Lines that cannot be met (the 's' rows of the statement): not a product,
//  no stock row, or too little. Returns 2 when the order's reservation was
//  made before (a retry finds its own units reserved), else 1 with the
//  refusal, or -1.
static int s_reserve_short(kt_pg_t *pg, s_reserve_t *self, const PGresult *res)
{
    size_t n = self->n, nshort = 0, missing = 0;
    for (int r = 0; r < PQntuples(res) && nshort < n; r++) {
        if (strcmp(kt_pg_text(res, r, 0), "s") != 0)
            continue;
        Kontor__Logistics__ShortLine *s = &self->shorts[nshort];
        kontor__logistics__short_line__init(s);
        s->sku = kt_pg_i64(res, r, 2);
        s->requested = kt_pg_i64(res, r, 3);
        s->available = kt_pg_i64(res, r, 4);
        if (kt_pg_i64(res, r, 5) == 1)
            missing++;
        self->short_ptrs[nshort++] = s;
    }
    int rc = s_reserve_existing(pg, self);
    if (rc != 3)
        return rc == 0 ? 2 : rc;
    if (missing > 0) {
        //  Unknown warehouse or SKU is NOT_FOUND, not a shortage.
        if (missing == n) {
            rc = logistics_warehouse_require(pg, self->req->warehouse_id, "warehouse_id", NULL,
                                             &self->tx.problem);
            if (rc != 0)
                return rc;
        }
        rc = logistics_skus_require(pg, self->lines, n, "lines", &self->tx.problem);
        if (rc != 0)
            return rc;
    }
    self->reply.order_id = self->req->order_id;
    self->reply.status = KONTOR__LOGISTICS__RESERVATION_STATUS__RESERVATION_UNSPECIFIED;
    self->reply.n_short_ = nshort;
    self->reply.short_ = self->short_ptrs;
    self->tx.detail = &self->reply.base;
    logistics_problem_set(&self->tx.problem, KT_FAILED_PRECONDITION, "lines",
                          "insufficient_stock",
                          "not enough stock in warehouse %" PRId64 " for %zu of %zu lines",
                          self->req->warehouse_id, nshort, n);
    return 1;
}

//  The reservation: one statement, its own transaction, which also writes
//  the StockChanged event (logistics_sql_reserve_event). What comes after it
//  only reads (a refusal's wording, a replay's answer). 0 reserved (or the
//  same reservation made before), 1 refused, -1 database error.
static int s_reserve(kt_pg_t *pg, s_reserve_t *self)
{
    self->tx.detail = NULL;
    self->reply.n_short_ = 0;
    self->reply.short_ = NULL;
    char order[24], wh[24], hold[16];
    snprintf(order, sizeof order, "%" PRId64, self->req->order_id);
    snprintf(wh, sizeof wh, "%" PRId64, self->req->warehouse_id);
    snprintf(hold, sizeof hold, "%u", self->hold_s);
    const char *params[] = {order, wh, self->fingerprint, hold, self->a_skus, self->a_qtys};
    PGresult *res = NULL;
    //  Rows are locked in SKU order, as everywhere else: a deadlock or a
    //  serialization failure would be a surprise, but is tried again.
    for (int attempt = 1; attempt <= S_TX_ATTEMPTS; attempt++) {
        res = kt_pg_exec(pg, &logistics_sql_reserve_event, params);
        if (res || !kt_pg_retryable(kt_pg_sqlstate(pg)))
            break;
    }
    if (!res)
        return -1;
    int rows = PQntuples(res);
    int reserved = 0, rc;
    for (int r = 0; r < rows; r++)
        if (strcmp(kt_pg_text(res, r, 0), "r") == 0)
            reserved++;
    if (reserved < rows) {
        //  Some lines are short: nothing was written.
        rc = s_reserve_short(pg, self, res);
        PQclear(res);
        return rc == 2 ? 0 : rc;
    }
    if (rows == 0) {
        //  The order has its reservation already.
        PQclear(res);
        rc = s_reserve_existing(pg, self);
        return rc == 3 ? -1 : rc;
    }
    if (rows != (int) self->n) {
        //  Committed already: only a bug could get here.
        kt_error("reservation of order %s changed %d stock rows for %zu lines", order, rows,
                 self->n);
        PQclear(res);
        return -1;
    }
    self->reply.status = KONTOR__LOGISTICS__RESERVATION_STATUS__HELD;
    self->reply.expires_at_ms = kt_pg_i64(res, 0, 5);
    rc = logistics_changes_from(&self->tx.changes, res, 1);
    PQclear(res);
    return rc != 0 ? -1 : 0;
}

int logistics_reserve_stock(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ReserveStockRequest *req =
        (const Kontor__Logistics__ReserveStockRequest *) msg;
    logistics_problem_t problem;
    if (s_orders_only(call) != 0)
        return -1;
    if (req->order_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL,
                            "order_id must be positive: %" PRId64, req->order_id);
    if (req->warehouse_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "warehouse_id", NULL,
                            "warehouse_id must be positive: %" PRId64, req->warehouse_id);
    if (req->hold_seconds > LOGISTICS_HOLD_MAX_S)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "hold_seconds", NULL,
                            "hold_seconds is too long: %u (at most %d, a week)", req->hold_seconds,
                            LOGISTICS_HOLD_MAX_S);
    s_reserve_t self = {.tx.call = call, .req = req, .n = req->n_lines};
    self.hold_s = req->hold_seconds ? req->hold_seconds : LOGISTICS_HOLD_DEFAULT_S;
    kontor__logistics__reserve_stock_reply__init(&self.reply);
    self.reply.order_id = req->order_id;
    int out = -1;
    self.lines = calloc(self.n + 1, sizeof *self.lines);
    self.shorts = calloc(self.n + 1, sizeof *self.shorts);
    self.short_ptrs = calloc(self.n + 1, sizeof *self.short_ptrs);
    if (!self.lines || !self.shorts || !self.short_ptrs) {
        out = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < self.n; i++)
        self.lines[i] = (logistics_line_t) {req->lines[i]->sku, req->lines[i]->qty, (int) i};
    if (logistics_lines_check(self.lines, self.n, LOGISTICS_MAX_LINES, "lines", false, &problem)
        != 0) {
        out = logistics_refuse(call, &problem);
        goto cleanup;
    }
    self.fingerprint = logistics_fingerprint(req->warehouse_id, self.lines, self.n);
    self.a_skus = logistics_array_i64(&self.lines[0].sku, self.n, sizeof self.lines[0]);
    self.a_qtys = logistics_array_i64(&self.lines[0].qty, self.n, sizeof self.lines[0]);
    if (!self.fingerprint || !self.a_skus || !self.a_qtys) {
        out = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    int rc = s_reserve(call->pg, &self);
    out = logistics_finish(&self.tx, rc, &self.reply.base, NULL, "reserving stock");
cleanup:
    free(self.a_qtys);
    free(self.a_skus);
    free(self.fingerprint);
    free(self.short_ptrs);
    free(self.shorts);
    free(self.lines);
    return out;
}

//  ------------------------------------------------------------ release

int logistics_release_tx(kt_pg_t *pg, int64_t order_id, const char *reason,
                         logistics_changes_t *changes, int *status, logistics_problem_t *problem)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_reservation_lock, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        //  Nothing reserved (yet): leave a released row, so a ReserveStock
        //  for this order that arrives later holds nothing.
        const char *p2[] = {id, reason};
        res = kt_pg_exec(pg, &logistics_sql_reservation_tombstone, p2);
        if (!res)
            return -1;
        PQclear(res);
        *status = LOGISTICS_RES_RELEASED;
        return 0;
    }
    int current = logistics_res_status_from_name(kt_pg_text(res, 0, 0));
    int64_t warehouse_id = kt_pg_i64(res, 0, 1);
    PQclear(res);
    *status = current;
    if (current == LOGISTICS_RES_RELEASED || current == LOGISTICS_RES_EXPIRED)
        return 0; //  given back already
    if (current == LOGISTICS_RES_CONSUMED) {
        logistics_problem_set(problem, KT_FAILED_PRECONDITION, "order_id", "already_dispatched",
                              "the goods of order %" PRId64
                              " have been dispatched; record a return instead",
                              order_id);
        return 1;
    }
    res = kt_pg_exec(pg, &logistics_sql_reservation_lines, params);
    if (!res)
        return -1;
    int n = PQntuples(res);
    logistics_delta_t *deltas = calloc((size_t) n + 1, sizeof *deltas);
    if (!deltas) {
        PQclear(res);
        return -1;
    }
    for (int r = 0; r < n; r++)
        deltas[r] = (logistics_delta_t) {.warehouse_id = warehouse_id,
                                         .sku = kt_pg_i64(res, r, 0),
                                         .d_reserved = -kt_pg_i64(res, r, 1),
                                         .index = r};
    PQclear(res);
    const char *p4[] = {id, "released", logistics_res_status_name(current), reason};
    res = kt_pg_exec(pg, &logistics_sql_reservation_set, p4);
    int rc = -1;
    if (res && strcmp(PQcmdTuples(res), "1") == 0)
        rc = logistics_stock_apply(pg, deltas, (size_t) n, false, "lines", NULL, NULL, NULL,
                                   changes, problem);
    else if (res)
        kt_error("reservation of order %s changed under its lock", id);
    PQclear(res);
    free(deltas);
    if (rc == 1) {
        //  reserved below what the reservation holds: only a bug does that
        kt_error("releasing order %s: %s", id, problem->message);
        rc = -1;
    }
    if (rc == 0)
        *status = LOGISTICS_RES_RELEASED;
    return rc;
}

typedef struct {
    logistics_tx_t tx;
    const Kontor__Logistics__ReservationRequest *req;
    Kontor__Logistics__ReservationReply reply;
} s_reservation_t;

static int s_release_tx(kt_pg_t *pg, void *arg)
{
    s_reservation_t *self = arg;
    logistics_changes_clear(&self->tx.changes);
    int status = 0;
    int rc = logistics_release_tx(pg, self->req->order_id,
                                  *self->req->reason ? self->req->reason : "released",
                                  &self->tx.changes, &status, &self->tx.problem);
    if (rc != 0)
        return rc;
    self->reply.status = status;
    return logistics_stock_events(pg, &self->tx.changes);
}

static int s_reservation_check(kt_call_t *call, const Kontor__Logistics__ReservationRequest *req)
{
    logistics_problem_t problem;
    if (s_orders_only(call) != 0)
        return -1;
    if (req->order_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL,
                            "order_id must be positive: %" PRId64, req->order_id);
    if (logistics_text_check("reason", req->reason, 0, S_REASON_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    return 0;
}

int logistics_release_reservation(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ReservationRequest *req =
        (const Kontor__Logistics__ReservationRequest *) msg;
    if (s_reservation_check(call, req) != 0)
        return -1;
    s_reservation_t self = {.tx.call = call, .req = req};
    kontor__logistics__reservation_reply__init(&self.reply);
    self.reply.order_id = req->order_id;
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_release_tx, &self);
    return logistics_finish(&self.tx, rc, &self.reply.base, NULL, "releasing a reservation");
}

//  ------------------------------------------------------------ confirm

static int s_confirm_tx(kt_pg_t *pg, void *arg)
{
    s_reservation_t *self = arg;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, self->req->order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_reservation_confirm, params);
    if (!res)
        return -1;
    bool confirmed = PQntuples(res) == 1;
    PQclear(res);
    if (confirmed) {
        self->reply.status = LOGISTICS_RES_CONFIRMED;
        return 0;
    }
    //  Not a live held reservation: say what it is.
    res = kt_pg_exec(pg, &logistics_sql_reservation_read, params);
    if (!res)
        return -1;
    logistics_problem_t *p = &self->tx.problem;
    int rc = 1;
    if (PQntuples(res) == 0)
        logistics_problem_set(p, KT_NOT_FOUND, "order_id", "unknown_order",
                              "order %" PRId64 " has no reservation", self->req->order_id);
    else {
        int status = logistics_res_status_from_name(kt_pg_text(res, 0, 0));
        if (status == LOGISTICS_RES_CONFIRMED || status == LOGISTICS_RES_CONSUMED) {
            self->reply.status = status;  //  confirmed before: the same answer
            rc = 0;
        } else if (status == LOGISTICS_RES_EXPIRED || status == LOGISTICS_RES_HELD)
            logistics_problem_set(p, KT_FAILED_PRECONDITION, "order_id", "reservation_expired",
                                  "the reservation for order %" PRId64
                                  " has expired; reserve again",
                                  self->req->order_id);
        else
            logistics_problem_set(p, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                                  "the reservation for order %" PRId64 " was released",
                                  self->req->order_id);
    }
    PQclear(res);
    return rc;
}

int logistics_confirm_reservation(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ReservationRequest *req =
        (const Kontor__Logistics__ReservationRequest *) msg;
    if (s_reservation_check(call, req) != 0)
        return -1;
    s_reservation_t self = {.tx.call = call, .req = req};
    kontor__logistics__reservation_reply__init(&self.reply);
    self.reply.order_id = req->order_id;
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_confirm_tx, &self);
    return logistics_finish(&self.tx, rc, &self.reply.base, NULL, "confirming a reservation");
}

//  ------------------------------------------------------------ expiry

typedef struct {
    int batch;
    int expired;
    logistics_changes_t *changes;
    size_t start;                   //  changes->n before the transaction
} s_expire_t;

static int s_expire_tx(kt_pg_t *pg, void *arg)
{
    s_expire_t *self = arg;
    self->expired = 0;
    self->changes->n = self->start; //  a retried attempt starts afresh
    char batch[16];
    snprintf(batch, sizeof batch, "%d", self->batch);
    const char *params[] = {batch};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_expire_batch, params);
    if (!res)
        return -1;
    int n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return 0;
    }
    self->expired = (int) kt_pg_i64(res, 0, 3);
    logistics_delta_t *deltas = calloc((size_t) n, sizeof *deltas);
    if (!deltas) {
        PQclear(res);
        return -1;
    }
    for (int r = 0; r < n; r++)
        deltas[r] = (logistics_delta_t) {.warehouse_id = kt_pg_i64(res, r, 0),
                                         .sku = kt_pg_i64(res, r, 1),
                                         .d_reserved = -kt_pg_i64(res, r, 2),
                                         .index = r};
    PQclear(res);
    size_t before = self->changes->n;
    logistics_problem_t problem;
    int rc = logistics_stock_apply(pg, deltas, (size_t) n, false, "lines", NULL, NULL, NULL,
                                   self->changes, &problem);
    free(deltas);
    if (rc == 1) {
        kt_error("expiring reservations: %s", problem.message);
        return -1;
    }
    if (rc != 0)
        return -1;
    logistics_changes_t mine = {self->changes->items + before, self->changes->n - before, 0};
    return logistics_stock_events(pg, &mine);
}

int logistics_expire_batch(kt_pg_t *pg, int batch, logistics_changes_t *changes)
{
    size_t before = changes->n;
    s_expire_t self = {batch, 0, changes, before};
    int rc = kt_pg_tx(pg, S_TX_ATTEMPTS, s_expire_tx, &self);
    if (rc != 0) {
        changes->n = before;
        return -1;
    }
    return self.expired;
}
