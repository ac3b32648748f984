/*  logistics_shipments - shipment requests raised from orders' events, their
 *  progress reported by logistics staff and external systems, and
 *  discrepancy acts recorded against them.
 *
 *  A shipment's status moves only along logistics_ship_transition_ok, under
 *  its row lock, and the UPDATE is guarded by the status read (WHERE status
 *  = $expected, row count checked). Dispatch consumes the order's
 *  reservation: on hand and reserved both go down.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics_core.h"
#include "logistics_store.h"
#include "orders.pb-c.h"

#define S_TX_ATTEMPTS 5
#define S_NOTE_MAX 500
#define S_LIST_DEFAULT 100
#define S_LIST_MAX 500

//  ------------------------------------------------------------ loading

//  A shipment from a row of S_SHIPMENT_COLUMNS (logistics_store.c), with
//  its lines read from the database. NULL on a database error.
//  A shipment from a row of S_SHIPMENT_COLUMNS, without its lines.
static Kontor__Logistics__Shipment *s_shipment_row(logistics_arena_t *arena, const PGresult *res,
                                                   int r)
{
    Kontor__Logistics__Shipment *s = logistics_alloc(arena, sizeof *s);
    kontor__logistics__shipment__init(s);
    s->shipment_id = kt_pg_i64(res, r, 0);
    s->order_id = kt_pg_i64(res, r, 1);
    s->client_id = kt_pg_i64(res, r, 2);
    s->warehouse_id = kt_pg_i64(res, r, 3);
    s->delivery_date = logistics_strdup(arena, kt_pg_text(res, r, 4));
    s->delivery_method = (Kontor__DeliveryMethod) kt_pg_i64(res, r, 5);
    s->address = logistics_strdup(arena, kt_pg_text(res, r, 6));
    s->currency = logistics_strdup(arena, kt_pg_text(res, r, 7));
    s->status = logistics_ship_status_from_name(kt_pg_text(res, r, 8));
    s->changed_at_ms = kt_pg_i64(res, r, 9);
    s->manager_id = kt_pg_i64(res, r, 10);
    return s;
}

static Kontor__Logistics__Shipment *s_shipment_load(kt_pg_t *pg, logistics_arena_t *arena,
                                                    const PGresult *res, int r)
{
    Kontor__Logistics__Shipment *s = s_shipment_row(arena, res, r);
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, s->shipment_id);
    const char *params[] = {id};
    PGresult *lines = kt_pg_exec(pg, &logistics_sql_shipment_lines, params);
    if (!lines)
        return NULL;
    s->n_lines = (size_t) PQntuples(lines);
    s->lines = logistics_alloc(arena, s->n_lines * sizeof *s->lines + 1);
    for (size_t i = 0; i < s->n_lines; i++) {
        Kontor__Logistics__ShipmentLine *l = logistics_alloc(arena, sizeof *l);
        kontor__logistics__shipment_line__init(l);
        l->sku = kt_pg_i64(lines, (int) i, 0);
        l->qty = kt_pg_i64(lines, (int) i, 1);
        l->unit_price = kt_pg_i64(lines, (int) i, 2);
        s->lines[i] = l;
    }
    PQclear(lines);
    return s;
}

//  Lock and load by shipment id (or by order id). 0, 1 when there is none,
//  -1 on a database error.
static int s_shipment_lock(kt_pg_t *pg, logistics_arena_t *arena, const kt_stmt_t *stmt,
                           int64_t id, Kontor__Logistics__Shipment **out)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, id);
    const char *params[] = {text};
    PGresult *res = kt_pg_exec(pg, stmt, params);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples(res) == 1) {
        *out = s_shipment_load(pg, arena, res, 0);
        rc = *out ? 0 : -1;
    }
    PQclear(res);
    return rc;
}

//  The guarded state change. 0, or -1 (a database error, or the row had
//  moved on, which the row lock we hold rules out: logged as a bug).
static int s_shipment_set(kt_pg_t *pg, Kontor__Logistics__Shipment *s, int to, const char *note)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, s->shipment_id);
    const char *params[] = {id, logistics_ship_status_name(to),
                            logistics_ship_status_name(s->status), note ? note : ""};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_shipment_set_status, params);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) != 1) {
        kt_error("shipment %s left status %s under its lock", id, params[2]);
        rc = -1;
    } else {
        s->status = to;
        s->changed_at_ms = kt_pg_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

//  The event for a shipment that reached `status`, if there is one.
static int s_shipment_event(kt_pg_t *pg, Kontor__Logistics__Shipment *s, const char *reason)
{
    switch (s->status) {
    case LOGISTICS_SHIP_REQUESTED: {
        Kontor__Logistics__ShipmentRequested ev = KONTOR__LOGISTICS__SHIPMENT_REQUESTED__INIT;
        ev.shipment = s;
        return kt_outbox_add(pg, "ShipmentRequested", &ev.base);
    }
    case LOGISTICS_SHIP_DISPATCHED: {
        Kontor__Logistics__ShipmentDispatched ev = KONTOR__LOGISTICS__SHIPMENT_DISPATCHED__INIT;
        ev.shipment = s;
        return kt_outbox_add(pg, "ShipmentDispatched", &ev.base);
    }
    case LOGISTICS_SHIP_DELIVERED: {
        Kontor__Logistics__ShipmentDelivered ev = KONTOR__LOGISTICS__SHIPMENT_DELIVERED__INIT;
        ev.shipment = s;
        return kt_outbox_add(pg, "ShipmentDelivered", &ev.base);
    }
    case LOGISTICS_SHIP_CANCELLED: {
        Kontor__Logistics__ShipmentCancelled ev = KONTOR__LOGISTICS__SHIPMENT_CANCELLED__INIT;
        ev.shipment = s;
        ev.reason = (char *) (reason ? reason : "");
        return kt_outbox_add(pg, "ShipmentCancelled", &ev.base);
    }
    default:
        return 0;
    }
}

//  Dispatch: take the goods off on-hand and consume the order's reservation
//  (its units come off reserved). Without a live reservation the goods come
//  from what is free. 0, 1 with `problem`, -1.
static int s_dispatch(kt_pg_t *pg, Kontor__Logistics__Shipment *s, logistics_changes_t *changes,
                      logistics_problem_t *problem)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, s->order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_reservation_lock, params);
    if (!res)
        return -1;
    int status = 0;
    int64_t res_wh = 0;
    if (PQntuples(res) == 1) {
        status = logistics_res_status_from_name(kt_pg_text(res, 0, 0));
        res_wh = kt_pg_i64(res, 0, 1);
    }
    PQclear(res);
    bool consume = status == LOGISTICS_RES_HELD || status == LOGISTICS_RES_CONFIRMED;
    PGresult *lines = NULL;
    if (consume) {
        lines = kt_pg_exec(pg, &logistics_sql_reservation_lines, params);
        if (!lines)
            return -1;
    }
    size_t nres = lines ? (size_t) PQntuples(lines) : 0;
    size_t n = s->n_lines + nres;
    logistics_delta_t *deltas = calloc(n + 1, sizeof *deltas);
    if (!deltas) {
        PQclear(lines);
        return -1;
    }
    for (size_t i = 0; i < s->n_lines; i++)
        deltas[i] = (logistics_delta_t) {.warehouse_id = s->warehouse_id,
                                         .sku = s->lines[i]->sku,
                                         .d_on_hand = -s->lines[i]->qty,
                                         .index = (int) i};
    for (size_t i = 0; i < nres; i++)
        deltas[s->n_lines + i] = (logistics_delta_t) {.warehouse_id = res_wh,
                                                      .sku = kt_pg_i64(lines, (int) i, 0),
                                                      .d_reserved = -kt_pg_i64(lines, (int) i, 1),
                                                      .index = -1};
    PQclear(lines);
    int rc = 0;
    if (consume) {
        const char *p4[] = {id, "consumed", logistics_res_status_name(status), "dispatched"};
        res = kt_pg_exec(pg, &logistics_sql_reservation_set, p4);
        if (!res)
            rc = -1;
        PQclear(res);
    }
    char ref[40];
    snprintf(ref, sizeof ref, "shipment:%" PRId64, s->shipment_id);
    if (rc == 0)
        rc = logistics_stock_apply(pg, deltas, n, false, "lines", "dispatch", ref, "", changes,
                                   problem);
    free(deltas);
    if (rc == 1) //  the goods are not there: the status change is what is refused
        snprintf(problem->field, sizeof problem->field, "status");
    return rc;
}

//  ------------------------------------------------------------ events from orders

int logistics_on_order_confirmed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    (void) arg;
    char field[KT_FIELD_MAX + 1], why[200];
    Kontor__Orders__OrderConfirmed *oc = (Kontor__Orders__OrderConfirmed *) kt_msg_unpack(
        &kontor__orders__order_confirmed__descriptor, ev->payload, ev->len, field, sizeof field,
        why, sizeof why);
    if (!oc) {
        kt_error("OrderConfirmed #%llu does not decode (%s): %s", (unsigned long long) ev->seq,
                 field, why);
        return KT_EVENT_POISON;
    }
    int rc = KT_EVENT_FAILED;
    logistics_arena_t arena = {0};
    PGresult *res = NULL;
    char *a_sku = NULL, *a_qty = NULL, *a_price = NULL;
    int64_t *cols = NULL;
    bool valid = oc->order_id > 0 && oc->warehouse_id > 0 && oc->n_lines > 0
                 && oc->n_lines <= LOGISTICS_MAX_LINES;
    for (size_t i = 0; valid && i < oc->n_lines; i++)
        valid = oc->lines[i]->sku > 0 && oc->lines[i]->qty > 0
                && oc->lines[i]->qty <= LOGISTICS_QTY_MAX && oc->lines[i]->unit_price >= 0;
    if (!valid) {
        kt_error("OrderConfirmed #%llu for order %lld has no valid warehouse or lines",
                 (unsigned long long) ev->seq, (long long) oc->order_id);
        rc = KT_EVENT_POISON;
        goto cleanup;
    }
    size_t n = oc->n_lines;
    cols = calloc(3 * n, sizeof *cols);
    if (!cols)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        cols[i] = oc->lines[i]->sku;
        cols[n + i] = oc->lines[i]->qty;
        cols[2 * n + i] = oc->lines[i]->unit_price;
    }
    a_sku = logistics_array_i64(cols, n, sizeof *cols);
    a_qty = logistics_array_i64(cols + n, n, sizeof *cols);
    a_price = logistics_array_i64(cols + 2 * n, n, sizeof *cols);
    if (!a_sku || !a_qty || !a_price)
        goto cleanup;
    char order[24], client[24], manager[24], wh[24], method[16];
    snprintf(order, sizeof order, "%" PRId64, oc->order_id);
    snprintf(client, sizeof client, "%" PRId64, oc->client_id);
    snprintf(manager, sizeof manager, "%" PRId64, oc->manager_id);
    snprintf(wh, sizeof wh, "%" PRId64, oc->warehouse_id);
    snprintf(method, sizeof method, "%d", (int) oc->delivery_method);
    //  The request, its lines and the reservation's confirmation in one
    //  statement; the event is made from what it returns and the order's
    //  lines (stored in that order), as a read back would make it.
    const char *p11[] = {order,  client,      manager,     wh,    oc->delivery_date,
                         method, oc->address, oc->currency, a_sku, a_qty,
                         a_price};
    res = kt_pg_exec(pg, &logistics_sql_shipment_request, p11);
    if (!res)
        goto cleanup;
    if (PQntuples(res) == 0) {
        //  Delivered twice (a replay): the shipment exists; nothing to do.
        rc = KT_EVENT_APPLIED;
        goto cleanup;
    }
    Kontor__Logistics__Shipment *s = s_shipment_row(&arena, res, 0);
    s->n_lines = n;
    s->lines = logistics_alloc(&arena, n * sizeof *s->lines + 1);
    for (size_t i = 0; i < n; i++) {
        Kontor__Logistics__ShipmentLine *l = logistics_alloc(&arena, sizeof *l);
        kontor__logistics__shipment_line__init(l);
        l->sku = oc->lines[i]->sku;
        l->qty = oc->lines[i]->qty;
        l->unit_price = oc->lines[i]->unit_price;
        s->lines[i] = l;
    }
    if (s_shipment_event(pg, s, NULL) != 0)
        goto cleanup;
    rc = KT_EVENT_APPLIED;
cleanup:
    PQclear(res);
    free(a_price);
    free(a_qty);
    free(a_sku);
    free(cols);
    logistics_arena_free(&arena);
    kt_msg_free(&oc->base);
    return rc;
}

int logistics_on_order_cancelled(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    (void) arg;
    char field[KT_FIELD_MAX + 1], why[200];
    Kontor__Orders__OrderCancelled *oc = (Kontor__Orders__OrderCancelled *) kt_msg_unpack(
        &kontor__orders__order_cancelled__descriptor, ev->payload, ev->len, field, sizeof field,
        why, sizeof why);
    if (!oc) {
        kt_error("OrderCancelled #%llu does not decode (%s): %s", (unsigned long long) ev->seq,
                 field, why);
        return KT_EVENT_POISON;
    }
    int rc = KT_EVENT_FAILED;
    logistics_arena_t arena = {0};
    logistics_changes_t changes = {0};
    logistics_problem_t problem;
    if (oc->order_id <= 0) {
        rc = KT_EVENT_POISON;
        goto cleanup;
    }
    const char *reason = *oc->reason ? oc->reason : "order cancelled";
    Kontor__Logistics__Shipment *s = NULL;
    int found = s_shipment_lock(pg, &arena, &logistics_sql_shipment_lock_by_order, oc->order_id,
                                &s);
    if (found < 0)
        goto cleanup;
    bool cancel = found == 0
                  && logistics_ship_transition_ok(s->status, LOGISTICS_SHIP_CANCELLED);
    if (found == 0 && !cancel) {
        //  Dispatched (or over): the goods are gone; a return handles it.
        kt_warn("order %lld cancelled, but its shipment is %s already; left as it is",
                (long long) oc->order_id, logistics_ship_status_name(s->status));
        rc = KT_EVENT_APPLIED;
        goto cleanup;
    }
    int status = 0;
    int released = logistics_release_tx(pg, oc->order_id, reason, &changes, &status, &problem);
    if (released < 0)
        goto cleanup;
    if (released == 1)
        kt_warn("order %lld cancelled: %s", (long long) oc->order_id, problem.message);
    if (cancel && s_shipment_set(pg, s, LOGISTICS_SHIP_CANCELLED, reason) != 0)
        goto cleanup;
    if (logistics_stock_events(pg, &changes) != 0)
        goto cleanup;
    if (cancel && s_shipment_event(pg, s, reason) != 0)
        goto cleanup;
    rc = KT_EVENT_APPLIED;
cleanup:
    logistics_changes_clear(&changes);
    logistics_arena_free(&arena);
    kt_msg_free(&oc->base);
    return rc;
}

//  ------------------------------------------------------------ UpdateShipment

typedef struct {
    logistics_tx_t tx;
    const Kontor__Logistics__UpdateShipmentRequest *req;
    logistics_arena_t arena;
    Kontor__Logistics__ShipmentReply reply;
} s_update_t;

static int s_update_tx(kt_pg_t *pg, void *arg)
{
    s_update_t *self = arg;
    const Kontor__Logistics__UpdateShipmentRequest *req = self->req;
    logistics_changes_clear(&self->tx.changes);
    logistics_arena_free(&self->arena);
    kontor__logistics__shipment_reply__init(&self->reply);
    Kontor__Logistics__Shipment *s = NULL;
    int rc = s_shipment_lock(pg, &self->arena, &logistics_sql_shipment_lock, req->shipment_id, &s);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        logistics_problem_set(&self->tx.problem, KT_NOT_FOUND, "shipment_id", NULL,
                              "shipment %" PRId64 " does not exist", req->shipment_id);
        return 1;
    }
    self->reply.shipment = s;
    int to = (int) req->status;
    if ((int) s->status == to)
        return 0; //  reported before: the same answer, nothing changes
    if (!logistics_ship_transition_ok(s->status, to)) {
        logistics_problem_set(&self->tx.problem, KT_FAILED_PRECONDITION, "status",
                              "invalid_transition",
                              "shipment %" PRId64 " is %s; it cannot become %s",
                              s->shipment_id, logistics_ship_status_name(s->status),
                              logistics_ship_status_name(to));
        return 1;
    }
    if (to == LOGISTICS_SHIP_DISPATCHED)
        rc = s_dispatch(pg, s, &self->tx.changes, &self->tx.problem);
    else if (to == LOGISTICS_SHIP_CANCELLED) {
        int status = 0;
        rc = logistics_release_tx(pg, s->order_id, *req->note ? req->note : "shipment cancelled",
                                  &self->tx.changes, &status, &self->tx.problem);
    }
    if (rc != 0)
        return rc;
    if (s_shipment_set(pg, s, to, req->note) != 0 || logistics_stock_events(pg, &self->tx.changes) != 0
        || s_shipment_event(pg, s, req->note) != 0)
        return -1;
    return 0;
}

int logistics_update_shipment(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__UpdateShipmentRequest *req =
        (const Kontor__Logistics__UpdateShipmentRequest *) msg;
    logistics_problem_t problem;
    if (req->shipment_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "shipment_id", NULL,
                            "shipment_id must be positive: %" PRId64, req->shipment_id);
    if (!logistics_ship_status_name((int) req->status))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "status", NULL,
                            "status must be one of REQUESTED .. CANCELLED: %d", (int) req->status);
    if (logistics_text_check("note", req->note, 0, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    s_update_t self = {.tx.call = call, .req = req};
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_update_tx, &self);
    int out = logistics_finish(&self.tx, rc, &self.reply.base, NULL, "updating a shipment");
    logistics_arena_free(&self.arena);
    return out;
}

//  ------------------------------------------------------------ reading

int logistics_get_shipment(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__GetShipmentRequest *req =
        (const Kontor__Logistics__GetShipmentRequest *) msg;
    if (req->shipment_id < 0 || req->order_id < 0 || (req->shipment_id == 0 && req->order_id == 0))
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->shipment_id != 0 ? "shipment_id" : "order_id", NULL,
                            "give a positive shipment_id or order_id");
    bool by_order = req->shipment_id == 0;
    logistics_arena_t arena = {0};
    Kontor__Logistics__Shipment *s = NULL;
    int rc = s_shipment_lock(call->pg, &arena,
                             by_order ? &logistics_sql_shipment_by_order
                                      : &logistics_sql_shipment_read,
                             by_order ? req->order_id : req->shipment_id, &s);
    int out;
    if (rc < 0)
        out = kt_call_fail_pg(call, "reading a shipment");
    else if (rc == 1)
        out = by_order ? kt_call_fail(call, KT_NOT_FOUND, "order_id", "unknown_order",
                                      "order %" PRId64 " has no shipment", req->order_id)
                       : kt_call_fail(call, KT_NOT_FOUND, "shipment_id", NULL,
                                      "shipment %" PRId64 " does not exist", req->shipment_id);
    else {
        Kontor__Logistics__ShipmentReply rep = KONTOR__LOGISTICS__SHIPMENT_REPLY__INIT;
        rep.shipment = s;
        out = kt_call_reply(call, &rep.base);
    }
    logistics_arena_free(&arena);
    return out;
}

int logistics_list_shipments(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ListShipmentsRequest *req =
        (const Kontor__Logistics__ListShipmentsRequest *) msg;
    const char *status = "";
    if (req->status != 0) {
        status = logistics_ship_status_name((int) req->status);
        if (!status)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, "status", NULL, "unknown status: %d",
                                (int) req->status);
    }
    if (req->warehouse_id < 0 || req->after_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->warehouse_id < 0 ? "warehouse_id" : "after_id", NULL,
                            "must not be negative");
    if (req->limit > S_LIST_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "limit", NULL,
                            "limit is too large: %u (at most %d)", req->limit, S_LIST_MAX);
    uint32_t limit = req->limit ? req->limit : S_LIST_DEFAULT;
    char after[24], wh[24], lim[16];
    snprintf(after, sizeof after, "%" PRId64, req->after_id);
    snprintf(wh, sizeof wh, "%" PRId64, req->warehouse_id);
    snprintf(lim, sizeof lim, "%u", limit);
    const char *params[] = {after, status, wh, lim};
    PGresult *res = kt_pg_exec(call->pg, &logistics_sql_shipment_list, params);
    if (!res)
        return kt_call_fail_pg(call, "listing shipments");
    logistics_arena_t arena = {0};
    Kontor__Logistics__ListShipmentsReply rep = KONTOR__LOGISTICS__LIST_SHIPMENTS_REPLY__INIT;
    int n = PQntuples(res);
    rep.shipments = logistics_alloc(&arena, (size_t) n * sizeof *rep.shipments + 1);
    int out = 0;
    for (int r = 0; r < n; r++) {
        Kontor__Logistics__Shipment *s = s_shipment_load(call->pg, &arena, res, r);
        if (!s) {
            out = kt_call_fail_pg(call, "listing shipments");
            break;
        }
        rep.shipments[rep.n_shipments++] = s;
    }
    if (out == 0) {
        if (n == (int) limit && n > 0)
            rep.next_after_id = rep.shipments[n - 1]->shipment_id;
        out = kt_call_reply(call, &rep.base);
    }
    PQclear(res);
    logistics_arena_free(&arena);
    return out;
}

//  ------------------------------------------------------------ discrepancies

typedef struct {
    logistics_tx_t tx;
    const Kontor__Logistics__RecordDiscrepancyRequest *req;
    logistics_line_t *lines;        //  sorted by sku
    logistics_arena_t arena;
    Kontor__Logistics__RecordDiscrepancyReply reply;
} s_disc_t;

static int s_disc_tx(kt_pg_t *pg, void *arg)
{
    s_disc_t *self = arg;
    const Kontor__Logistics__RecordDiscrepancyRequest *req = self->req;
    logistics_problem_t *p = &self->tx.problem;
    size_t n = req->n_lines;
    logistics_changes_clear(&self->tx.changes);
    logistics_arena_free(&self->arena);
    int rc = logistics_idem_claim(pg, "RecordDiscrepancy", self->tx.call->idem_key, &req->base,
                                  &self->tx.replay, &self->tx.replay_len, p);
    if (rc == 2)
        return 0;
    if (rc != 0)
        return rc;
    Kontor__Logistics__Shipment *s = NULL;
    rc = s_shipment_lock(pg, &self->arena, &logistics_sql_shipment_lock, req->shipment_id, &s);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        logistics_problem_set(p, KT_NOT_FOUND, "shipment_id", NULL,
                              "shipment %" PRId64 " does not exist", req->shipment_id);
        return 1;
    }
    if (s->status != LOGISTICS_SHIP_DISPATCHED && s->status != LOGISTICS_SHIP_DELIVERED
        && s->status != LOGISTICS_SHIP_FAILED) {
        logistics_problem_set(p, KT_FAILED_PRECONDITION, "shipment_id", "invalid_transition",
                              "shipment %" PRId64
                              " is %s; discrepancies are recorded against goods that left",
                              s->shipment_id, logistics_ship_status_name(s->status));
        return 1;
    }
    //  What was shipped and what earlier acts recorded, per SKU.
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, s->shipment_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_discrepancy_recorded, params);
    if (!res)
        return -1;
    int64_t *prices = logistics_alloc(&self->arena, n * sizeof *prices + 1);
    for (size_t i = 0; i < n; i++) {
        const Kontor__Logistics__DiscrepancyLine *l = req->lines[i];
        int64_t shipped = 0, price = 0, recorded = 0;
        for (size_t k = 0; k < s->n_lines; k++)
            if (s->lines[k]->sku == l->sku) {
                shipped += s->lines[k]->qty;
                price = s->lines[k]->unit_price;
            }
        for (int r = 0; r < PQntuples(res); r++)
            if (kt_pg_i64(res, r, 0) == l->sku)
                recorded = kt_pg_i64(res, r, 1);
        char field[64];
        if (shipped == 0) {
            snprintf(field, sizeof field, "lines[%zu].sku", i);
            logistics_problem_set(p, KT_INVALID_ARGUMENT, field, NULL,
                                  "sku %" PRId64 " is not on shipment %" PRId64, l->sku,
                                  s->shipment_id);
            PQclear(res);
            return 1;
        }
        if (l->qty > shipped - recorded) {
            snprintf(field, sizeof field, "lines[%zu].qty", i);
            logistics_problem_set(p, KT_INVALID_ARGUMENT, field, NULL,
                                  "quantity %" PRId64 " of sku %" PRId64
                                  " is more than the %" PRId64 " shipped and not yet recorded",
                                  l->qty, l->sku, shipped - recorded);
            PQclear(res);
            return 1;
        }
        prices[i] = price;
    }
    PQclear(res);
    //  The product that went instead (mis-sort) must exist.
    if (req->kind == KONTOR__LOGISTICS__DISCREPANCY_KIND__MIS_SORT) {
        logistics_line_t *delivered = logistics_alloc(&self->arena, n * sizeof *delivered);
        for (size_t i = 0; i < n; i++)
            delivered[i] = (logistics_line_t) {req->lines[i]->delivered_sku, 1, (int) i};
        rc = logistics_skus_require(pg, delivered, n, "lines", p);
        if (rc != 0) {
            char *dot = strstr(p->field, ".sku");
            if (dot)
                snprintf(dot, sizeof p->field - (size_t) (dot - p->field), ".delivered_sku");
            return rc;
        }
    }
    //  Stock: a shortage never left (back on hand); a mis-sort left the
    //  wrong product instead of the ordered one; damaged goods left and are
    //  written off, so sellable stock does not change.
    logistics_delta_t *deltas = logistics_alloc(&self->arena, 2 * n * sizeof *deltas + 1);
    size_t nd = 0;
    for (size_t i = 0; i < n && req->kind != KONTOR__LOGISTICS__DISCREPANCY_KIND__DAMAGE; i++) {
        const Kontor__Logistics__DiscrepancyLine *l = req->lines[i];
        deltas[nd++] = (logistics_delta_t) {.warehouse_id = s->warehouse_id,
                                            .sku = l->sku,
                                            .d_on_hand = l->qty,
                                            .index = (int) i};
        if (req->kind == KONTOR__LOGISTICS__DISCREPANCY_KIND__MIS_SORT)
            deltas[nd++] = (logistics_delta_t) {.warehouse_id = s->warehouse_id,
                                                .sku = l->delivered_sku,
                                                .d_on_hand = -l->qty,
                                                .index = (int) i};
    }
    char ref[40];
    snprintf(ref, sizeof ref, "shipment:%" PRId64, s->shipment_id);
    rc = logistics_stock_apply(pg, deltas, nd, true, "lines", "discrepancy", ref, req->note,
                               &self->tx.changes, p);
    if (rc != 0)
        return rc;
    //  The act.
    const char *p4[] = {id, logistics_discrepancy_name((int) req->kind), req->note,
                        self->tx.call->caller->name};
    res = kt_pg_exec(pg, &logistics_sql_discrepancy_insert, p4);
    if (!res)
        return -1;
    Kontor__Logistics__DiscrepancyRecorded *act = logistics_alloc(&self->arena, sizeof *act);
    kontor__logistics__discrepancy_recorded__init(act);
    act->act_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    act->shipment_id = s->shipment_id;
    act->order_id = s->order_id;
    act->client_id = s->client_id;
    act->kind = req->kind;
    act->currency = s->currency;
    act->note = logistics_strdup(&self->arena, req->note);
    act->n_lines = n;
    act->lines = logistics_alloc(&self->arena, n * sizeof *act->lines + 1);
    int64_t *cols = logistics_alloc(&self->arena, 4 * n * sizeof *cols + 1);
    for (size_t i = 0; i < n; i++) {
        Kontor__Logistics__ShipmentLine *l = logistics_alloc(&self->arena, sizeof *l);
        kontor__logistics__shipment_line__init(l);
        l->sku = req->lines[i]->sku;
        l->qty = req->lines[i]->qty;
        l->unit_price = prices[i];
        act->lines[i] = l;
        cols[i] = l->sku;
        cols[n + i] = req->lines[i]->delivered_sku;
        cols[2 * n + i] = l->qty;
        cols[3 * n + i] = l->unit_price;
    }
    char act_id[24];
    snprintf(act_id, sizeof act_id, "%" PRId64, act->act_id);
    char *arrays[4];
    for (int a = 0; a < 4; a++)
        arrays[a] = logistics_array_i64(cols + (size_t) a * n, n, sizeof *cols);
    bool ok = arrays[0] && arrays[1] && arrays[2] && arrays[3];
    if (ok) {
        const char *p5[] = {act_id, arrays[0], arrays[1], arrays[2], arrays[3]};
        res = kt_pg_exec(pg, &logistics_sql_discrepancy_line_insert, p5);
        ok = res != NULL;
        PQclear(res);
    }
    for (int a = 0; a < 4; a++)
        free(arrays[a]);
    if (!ok)
        return -1;
    kontor__logistics__record_discrepancy_reply__init(&self->reply);
    self->reply.act = act;
    if (logistics_idem_store(pg, "RecordDiscrepancy", self->tx.call->idem_key, &self->reply.base)
            != 0
        || logistics_stock_events(pg, &self->tx.changes) != 0
        || kt_outbox_add(pg, "DiscrepancyRecorded", &act->base) != 0)
        return -1;
    return 0;
}

int logistics_record_discrepancy(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__RecordDiscrepancyRequest *req =
        (const Kontor__Logistics__RecordDiscrepancyRequest *) msg;
    logistics_problem_t problem;
    if (req->shipment_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "shipment_id", NULL,
                            "shipment_id must be positive: %" PRId64, req->shipment_id);
    if (!logistics_discrepancy_name((int) req->kind))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "kind", NULL,
                            "kind must be SHORTAGE, MIS_SORT or DAMAGE: %d", (int) req->kind);
    if (logistics_text_check("note", req->note, 0, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    size_t n = req->n_lines;
    s_disc_t self = {.tx.call = call, .req = req};
    self.lines = calloc(n + 1, sizeof *self.lines);
    if (!self.lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        self.lines[i] = (logistics_line_t) {req->lines[i]->sku, req->lines[i]->qty, (int) i};
    int out;
    if (logistics_lines_check(self.lines, n, LOGISTICS_MAX_LINES, "lines", false, &problem) != 0) {
        out = logistics_refuse(call, &problem);
        goto cleanup;
    }
    bool mis_sort = req->kind == KONTOR__LOGISTICS__DISCREPANCY_KIND__MIS_SORT;
    for (size_t i = 0; i < n; i++) {
        const Kontor__Logistics__DiscrepancyLine *l = req->lines[i];
        char field[64];
        snprintf(field, sizeof field, "lines[%zu].delivered_sku", i);
        if (mis_sort && (l->delivered_sku <= 0 || l->delivered_sku == l->sku)) {
            out = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                               "a mis-sort names the product delivered instead, another than "
                               "sku %" PRId64 ": %" PRId64,
                               l->sku, l->delivered_sku);
            goto cleanup;
        }
        if (!mis_sort && l->delivered_sku != 0) {
            out = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                               "delivered_sku is for mis-sorts only: %" PRId64, l->delivered_sku);
            goto cleanup;
        }
    }
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_disc_tx, &self);
    out = logistics_finish(&self.tx, rc, &self.reply.base,
                           &kontor__logistics__record_discrepancy_reply__descriptor,
                           "recording a discrepancy");
cleanup:
    logistics_arena_free(&self.arena);
    free(self.lines);
    return out;
}
