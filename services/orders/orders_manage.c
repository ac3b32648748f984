/*  orders_manage - what happens to an order after it was placed: Approve
 *  and Reject by a head, Cancel, and returns and refusals (RecordReturn).
 */
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "orders_internal.h"

#define S_MAX_REASON 500

static orders_ctx_t s_ctx(kt_call_t *call)
{
    orders_ctx_t ctx = {.pg = call->pg, .rpc = call->rpc, .rpc2 = orders_rpc2(call),
                        .redis = call->redis,
                        .conf = orders_conf(call->service), .request_id = call->request_id,
                        .deadline_ms = call->deadline_ms};
    return ctx;
}

static int s_reply_order(kt_call_t *call, const orders_order_t *o)
{
    orders_arena_t *arena = orders_arena_new();
    if (!arena)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    Kontor__Orders__OrderReply rep = KONTOR__ORDERS__ORDER_REPLY__INIT;
    rep.order = orders_order_pb(o, arena);
    int rc = rep.order ? kt_call_reply(call, &rep.base)
                       : kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    orders_arena_destroy(&arena);
    return rc;
}

//  Load an order the caller may act on, or reply. 1 loaded, -1 replied.
static int s_load_or_reply(kt_call_t *call, int64_t order_id, orders_order_t *o)
{
    char why[128];
    if (kt_check_id("order_id", order_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL, "%s", why);
    int found = orders_order_load(call->pg, order_id, o);
    if (found < 0)
        return kt_call_fail_pg(call, "read the order");
    if (found == 0)
        return kt_call_fail(call, KT_NOT_FOUND, "order_id", "unknown_order",
                            "order %lld does not exist", (long long) order_id);
    if (!kt_call_acts_for(call, o->manager_id)) {
        orders_order_clear(o);
        return kt_call_fail(call, KT_PERMISSION_DENIED, "order_id", "not_owner",
                            "order %lld belongs to another manager", (long long) order_id);
    }
    return 1;
}

static int s_reason_or_reply(kt_call_t *call, const char *reason)
{
    char why[200];
    if (kt_check_text("reason", reason, 0, S_MAX_REASON, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "reason", NULL, "%s", why);
    return 0;
}

//  ---------------------------------------------------------------- approve, reject

int orders_approve(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__OrderRef *req = (const Kontor__Orders__OrderRef *) msg;
    orders_order_t o;
    if (s_reason_or_reply(call, req->reason) != 0 || s_load_or_reply(call, req->order_id, &o) < 0)
        return -1;
    int status = o.status;
    orders_order_clear(&o);
    if (status != ORDERS_PENDING_APPROVAL)
        return kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                            "order %lld does not wait for approval: it is %s",
                            (long long) req->order_id, orders_status_name(status));
    orders_ctx_t ctx = s_ctx(call);
    int claimed = orders_engine_claim(&ctx, req->order_id, ORDERS_PENDING_APPROVAL,
                                      call->caller->name, &o);
    if (claimed < 0)
        return kt_call_fail_pg(call, "claim the order");
    if (claimed == 0)
        return kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                            "order %lld changed meanwhile; look at it again",
                            (long long) req->order_id);
    int rc = orders_engine_proceed(&ctx, &o);
    if (rc < 0)
        rc = kt_call_fail_pg(call, "settle the order");
    else if (rc == 1)
        rc = kt_call_fail(call, KT_UNAVAILABLE, NULL, NULL,
                          "order %lld is approved but could not be reserved now; it goes back "
                          "to waiting for approval shortly, approve it again then",
                          (long long) o.order_id);
    else
        rc = s_reply_order(call, &o);
    orders_order_clear(&o);
    return rc;
}

int orders_reject(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__OrderRef *req = (const Kontor__Orders__OrderRef *) msg;
    orders_order_t o;
    if (s_reason_or_reply(call, req->reason) != 0 || s_load_or_reply(call, req->order_id, &o) < 0)
        return -1;
    bool called_out = o.called_out;
    orders_order_clear(&o);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) req->order_id);
    const char *params[] = {id, req->reason, call->caller->name};
    PGresult *res = kt_pg_exec(call->pg, &orders_sql_reject, params);
    if (!res)
        return kt_call_fail_pg(call, "reject the order");
    int rows = PQntuples(res);
    PQclear(res);
    if (rows == 0)
        return kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                            "order %lld does not wait for approval", (long long) req->order_id);
    if (called_out) {
        orders_ctx_t ctx = s_ctx(call);
        if (orders_engine_release(&ctx, req->order_id, "rejected") == 0) {
            const char *p[] = {id};
            PQclear(kt_pg_exec(call->pg, &orders_sql_release_done, p));
        }
    }
    if (orders_order_load(call->pg, req->order_id, &o) <= 0)
        return kt_call_fail_pg(call, "read the order");
    int rc = s_reply_order(call, &o);
    orders_order_clear(&o);
    return rc;
}

//  ---------------------------------------------------------------- cancel

typedef struct {
    const orders_order_t *o;
    const char *reason;
    bool cancelled;
} s_cancel_t;

static int s_cancel_tx(kt_pg_t *pg, void *arg)
{
    s_cancel_t *c = arg;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) c->o->order_id);
    const char *params[] = {id, c->reason};
    PGresult *res = kt_pg_exec(pg, &orders_sql_cancel, params);
    if (!res)
        return -1;
    c->cancelled = PQntuples(res) > 0;
    PQclear(res);
    if (!c->cancelled)
        return 1;
    Kontor__Orders__OrderCancelled ev = KONTOR__ORDERS__ORDER_CANCELLED__INIT;
    ev.order_id = c->o->order_id;
    ev.client_id = c->o->client_id;
    ev.reason = (char *) c->reason;
    return kt_outbox_add(pg, "OrderCancelled", &ev.base) == 0 ? 0 : -1;
}

int orders_cancel(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__OrderRef *req = (const Kontor__Orders__OrderRef *) msg;
    orders_order_t o;
    if (s_reason_or_reply(call, req->reason) != 0 || s_load_or_reply(call, req->order_id, &o) < 0)
        return -1;
    int rc;
    if (o.status >= ORDERS_PARTIALLY_SHIPPED && o.status <= ORDERS_DELIVERED) {
        rc = kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "already_dispatched",
                          "order %lld has already been dispatched", (long long) o.order_id);
        goto done;
    }
    if (o.status == ORDERS_PENDING) {
        rc = kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                          "order %lld is being placed; try again in a moment",
                          (long long) o.order_id);
        goto done;
    }
    if (o.status != ORDERS_CONFIRMED && o.status != ORDERS_PENDING_APPROVAL
        && o.status != ORDERS_BACK_ORDER) {
        rc = kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                          "order %lld cannot be cancelled: it is %s", (long long) o.order_id,
                          orders_status_name(o.status));
        goto done;
    }
    s_cancel_t c = {&o, req->reason[0] ? req->reason : "cancelled", false};
    int tx = kt_pg_tx(call->pg, 3, s_cancel_tx, &c);
    if (tx < 0) {
        rc = kt_call_fail_pg(call, "cancel the order");
        goto done;
    }
    if (tx == 1) {
        //  A shipment left meanwhile, or the status moved.
        orders_order_t now;
        int found = orders_order_load(call->pg, o.order_id, &now);
        bool dispatched = found > 0 && now.shipped_qty > 0;
        if (found > 0)
            orders_order_clear(&now);
        rc = dispatched ? kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id",
                                       "already_dispatched",
                                       "order %lld has already been dispatched",
                                       (long long) o.order_id)
                        : kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id",
                                       "invalid_transition",
                                       "order %lld changed meanwhile; look at it again",
                                       (long long) o.order_id);
        goto done;
    }
    if (o.called_out) {
        orders_ctx_t ctx = s_ctx(call);
        if (orders_engine_release(&ctx, o.order_id, "cancelled") == 0) {
            char id[24];
            snprintf(id, sizeof id, "%lld", (long long) o.order_id);
            const char *p[] = {id};
            PQclear(kt_pg_exec(call->pg, &orders_sql_release_done, p));
        }
    }
    orders_order_clear(&o);
    if (orders_order_load(call->pg, req->order_id, &o) <= 0)
        return kt_call_fail_pg(call, "read the order");
    rc = s_reply_order(call, &o);
done:
    orders_order_clear(&o);
    return rc;
}

//  ---------------------------------------------------------------- returns

typedef struct {
    kt_call_t *call;
    const Kontor__Orders__RecordReturnRequest *req;
    const orders_order_t *o;
    int64_t *unit;          //  per request line
    int64_t *total;         //  per request line
    int64_t amount;
    int64_t return_id;
    int refused;            //  1: replied with a refusal
} s_return_t;

static int s_return_tx(kt_pg_t *pg, void *arg)
{
    s_return_t *r = arg;
    kt_call_t *call = r->call;
    const Kontor__Orders__RecordReturnRequest *req = r->req;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) req->order_id);
    const char *p1[] = {id};
    PGresult *res = kt_pg_exec(pg, &orders_sql_lock_order, p1);
    if (!res)
        return -1;
    PQclear(res);
    res = kt_pg_exec(pg, &orders_sql_returnable, p1);
    if (!res)
        return -1;
    r->amount = 0;
    for (size_t i = 0; i < req->n_lines; i++) {
        int row = -1;
        for (int k = 0; k < PQntuples(res); k++)
            if (kt_pg_i64(res, k, 0) == req->lines[i]->sku)
                row = k;
        char field[64];
        if (row < 0) {
            snprintf(field, sizeof field, "lines[%zu].sku", i);
            kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                         "sku %lld is not on order %lld", (long long) req->lines[i]->sku,
                         (long long) req->order_id);
            PQclear(res);
            r->refused = 1;
            return 1;
        }
        int64_t left = kt_pg_i64(res, row, 1) - kt_pg_i64(res, row, 2);
        if (req->lines[i]->qty > left) {
            snprintf(field, sizeof field, "lines[%zu].qty", i);
            kt_call_fail(call, KT_FAILED_PRECONDITION, field, "invalid_transition",
                         "only %lld of sku %lld can be returned: %lld",
                         (long long) (left > 0 ? left : 0), (long long) req->lines[i]->sku,
                         (long long) req->lines[i]->qty);
            PQclear(res);
            r->refused = 1;
            return 1;
        }
        r->unit[i] = kt_pg_i64(res, row, 3);
        if (kt_money_line(r->unit[i], req->lines[i]->qty, &r->total[i]) != 0
            || kt_add_i64(r->amount, r->total[i], &r->amount) != 0) {
            kt_call_fail(call, KT_INVALID_ARGUMENT, "lines", NULL,
                         "the return's amount would overflow");
            PQclear(res);
            r->refused = 1;
            return 1;
        }
    }
    PQclear(res);
    char client[24], mgr[24], reason[8], amount[24];
    snprintf(client, sizeof client, "%lld", (long long) r->o->client_id);
    snprintf(mgr, sizeof mgr, "%lld", (long long) r->o->manager_id);
    snprintf(reason, sizeof reason, "%d", (int) req->reason);
    snprintf(amount, sizeof amount, "%lld", (long long) r->amount);
    const char *p2[] = {call->idem_key, id, client, mgr, reason, req->note, r->o->currency,
                        amount, call->caller->name};
    res = kt_pg_exec(pg, &orders_sql_return_insert, p2);
    if (!res)
        return -1;
    r->return_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    size_t n = req->n_lines;
    int64_t *sku = calloc(n * 2, sizeof *sku);
    if (!sku)
        return -1;
    int64_t *qty = sku + n;
    for (size_t i = 0; i < n; i++) {
        sku[i] = req->lines[i]->sku;
        qty[i] = req->lines[i]->qty;
    }
    char rid[24];
    snprintf(rid, sizeof rid, "%lld", (long long) r->return_id);
    char *a1 = orders_sql_i64s(sku, n), *a2 = orders_sql_i64s(qty, n),
         *a3 = orders_sql_i64s(r->unit, n), *a4 = orders_sql_i64s(r->total, n);
    const char *p3[] = {rid, a1, a2, a3, a4};
    res = a1 && a2 && a3 && a4 ? kt_pg_exec(pg, &orders_sql_return_lines, p3) : NULL;
    free(a1);
    free(a2);
    free(a3);
    free(a4);
    if (!res) {
        free(sku);
        return -1;
    }
    PQclear(res);
    Kontor__Orders__ReturnRecorded ev = KONTOR__ORDERS__RETURN_RECORDED__INIT;
    Kontor__Orders__OrderLine *lines = calloc(n, sizeof *lines);
    Kontor__Orders__OrderLine **lp = calloc(n, sizeof *lp);
    int rc = -1;
    if (lines && lp) {
        for (size_t i = 0; i < n; i++) {
            kontor__orders__order_line__init(&lines[i]);
            lines[i].sku = sku[i];
            lines[i].qty = qty[i];
            lines[i].unit_price = r->unit[i];
            lines[i].line_total = r->total[i];
            lp[i] = &lines[i];
        }
        ev.return_id = r->return_id;
        ev.order_id = req->order_id;
        ev.client_id = r->o->client_id;
        ev.currency = (char *) r->o->currency;
        ev.lines = lp;
        ev.n_lines = n;
        ev.amount = r->amount;
        ev.reason = req->reason;
        rc = kt_outbox_add(pg, "ReturnRecorded", &ev.base) == 0 ? 0 : -1;
    }
    free(lines);
    free(lp);
    free(sku);
    return rc;
}

int orders_record_return(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__RecordReturnRequest *req =
        (const Kontor__Orders__RecordReturnRequest *) msg;
    char why[200], field[64];
    if (kt_check_id("order_id", req->order_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL, "%s", why);
    if (req->reason < 1 || req->reason > 4)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "reason", NULL,
                            "a return needs its reason: refused at delivery, defect, wrong "
                            "goods or surplus");
    if (req->n_lines == 0 || req->n_lines > orders_conf(call->service)->max_lines)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "lines", NULL,
                            "a return needs 1 to %zu lines: %zu",
                            orders_conf(call->service)->max_lines, req->n_lines);
    for (size_t i = 0; i < req->n_lines; i++) {
        snprintf(field, sizeof field, "lines[%zu].sku", i);
        if (kt_check_id("sku", req->lines[i]->sku, why, sizeof why) != 0)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
        for (size_t j = 0; j < i; j++)
            if (req->lines[j]->sku == req->lines[i]->sku)
                return kt_call_fail(call, KT_INVALID_ARGUMENT, field, "duplicate_line",
                                    "sku %lld appears on lines %zu and %zu",
                                    (long long) req->lines[i]->sku, j, i);
        snprintf(field, sizeof field, "lines[%zu].qty", i);
        if (kt_check_qty("quantity", req->lines[i]->qty, ORDERS_MAX_QTY, why, sizeof why) != 0)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    }
    if (kt_check_text("note", req->note, 0, 1000, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "note", NULL, "%s", why);
    //  The same key again: the first answer.
    const char *kp[] = {call->idem_key};
    PGresult *res = kt_pg_exec(call->pg, &orders_sql_return_seen, kp);
    if (!res)
        return kt_call_fail_pg(call, "read returns");
    if (PQntuples(res) > 0) {
        Kontor__Orders__RecordReturnReply rep = KONTOR__ORDERS__RECORD_RETURN_REPLY__INIT;
        rep.return_id = kt_pg_i64(res, 0, 0);
        rep.order_id = kt_pg_i64(res, 0, 1);
        rep.currency = (char *) kt_pg_text(res, 0, 2);
        rep.amount = kt_pg_i64(res, 0, 3);
        int rc = rep.order_id == req->order_id
                     ? kt_call_reply(call, &rep.base)
                     : kt_call_fail(call, KT_ABORTED, "idempotency_key", "idempotency_mismatch",
                                    "the idempotency key was already used for another return");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    orders_order_t o;
    if (s_load_or_reply(call, req->order_id, &o) < 0)
        return -1;
    int rc;
    int64_t *unit = calloc(req->n_lines * 2, sizeof *unit);
    if (!unit) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    if (o.status < ORDERS_PARTIALLY_SHIPPED || o.status > ORDERS_DELIVERED) {
        rc = kt_call_fail(call, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                          "order %lld has not been dispatched: it is %s", (long long) o.order_id,
                          orders_status_name(o.status));
        goto done;
    }
    s_return_t r = {call, req, &o, unit, unit + req->n_lines, 0, 0, 0};
    int tx = kt_pg_tx(call->pg, 3, s_return_tx, &r);
    if (tx < 0) {
        rc = kt_call_fail_pg(call, "record the return");
        goto done;
    }
    if (tx == 1) {
        rc = -1;
        goto done;
    }
    Kontor__Orders__RecordReturnReply rep = KONTOR__ORDERS__RECORD_RETURN_REPLY__INIT;
    Kontor__Orders__OrderLine *lines = calloc(req->n_lines, sizeof *lines);
    Kontor__Orders__OrderLine **lp = calloc(req->n_lines, sizeof *lp);
    if (!lines || !lp) {
        free(lines);
        free(lp);
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < req->n_lines; i++) {
        kontor__orders__order_line__init(&lines[i]);
        lines[i].sku = req->lines[i]->sku;
        lines[i].qty = req->lines[i]->qty;
        lines[i].unit_price = r.unit[i];
        lines[i].line_total = r.total[i];
        lp[i] = &lines[i];
    }
    rep.return_id = r.return_id;
    rep.order_id = o.order_id;
    rep.currency = o.currency;
    rep.amount = r.amount;
    rep.lines = lp;
    rep.n_lines = req->n_lines;
    rc = kt_call_reply(call, &rep.base);
    free(lines);
    free(lp);
done:
    free(unit);
    orders_order_clear(&o);
    return rc;
}
