/*  orders_place - PlaceOrder: check, price, early availability check,
 *  write the order PENDING, then the engine's saga (orders_engine.c).
 *
 *  Idempotency: the key is unique in SQL and stored with a hash of the
 *  request body. A second call with the key and the same body gets the
 *  first answer (stored with the order when it settled); with another body,
 *  ABORTED idempotency_mismatch. Two identical calls at once: the second
 *  one's INSERT waits on the unique key for the first's, then waits on the
 *  first placement's lock, then answers with its result. If the first
 *  placement died (its lock is free, the order still PENDING), the second
 *  resumes it: every step is idempotent by order id.
 *
 *  Short lines, from the early check (Redis, then logistics for misses and
 *  for the short lines' figures): with WAIT_FOR_ALL, or when nothing at all
 *  can be had, the whole order waits as a BACK_ORDER and nothing is
 *  reserved. With SHIP_AVAILABLE the order keeps what is available (unit
 *  prices as priced for the whole order) and a new back-order, its child,
 *  takes the rest. A shortage found only by ReserveStock (a race, or a
 *  stale cache) back-orders the whole order.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"

#define S_HASH_BYTES 32

//  A hash of the request body, as hex.
static int s_body_hash(const ProtobufCMessage *msg, char hex[S_HASH_BYTES * 2 + 1])
{
    size_t len;
    uint8_t *buf = kt_msg_pack(msg, &len);
    if (!buf)
        return -1;
    uint8_t hash[S_HASH_BYTES];
    crypto_generichash(hash, sizeof hash, buf, len, NULL, 0);
    free(buf);
    char *h = orders_sql_hex(hash, sizeof hash);
    if (!h)
        return -1;
    memcpy(hex, h, S_HASH_BYTES * 2 + 1);
    free(h);
    return 0;
}

//  Answer with a packed PlaceOrderReply and the status it carries.
static int s_answer(kt_call_t *call, uint8_t *buf, size_t len, int status, const char *reason,
                    const char *text)
{
    if (status == KT_OK) {
        free(call->reply.payload);
        call->reply.payload = buf;
        call->reply.payload_len = len;
        call->reply.status = KT_OK;
        return 0;
    }
    kt_call_fail(call, status, NULL, reason && *reason ? reason : NULL, "%s",
                 text && *text ? text : kt_status_sentence(status));
    call->reply.payload = buf;
    call->reply.payload_len = len;
    return -1;
}

static int s_answer_order(kt_call_t *call, const orders_order_t *o, bool replayed)
{
    size_t len;
    uint8_t *buf = orders_place_reply_pack(o, replayed, &len);
    if (!buf)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    return s_answer(call, buf, len, orders_outcome_status(o), o->reason, o->reason_text);
}

//  ---------------------------------------------------------------- replays

typedef struct {
    int64_t order_id;
    int wait_ms;
} s_wait_t;

//  Wait for the placer of an order to let go of its lock (at most wait_ms).
static int s_wait_tx(kt_pg_t *pg, void *arg)
{
    s_wait_t *w = arg;
    char sql[64], id[24];
    snprintf(sql, sizeof sql, "SET LOCAL lock_timeout = %d", w->wait_ms);
    if (kt_pg_command(pg, sql) != 0)
        return -1;
    snprintf(id, sizeof id, "%lld", (long long) w->order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &orders_sql_wait_lock, params);
    if (!res)
        return strcmp(kt_pg_sqlstate(pg), "55P03") == 0 ? 1 : -1;
    PQclear(res);
    return 0;
}

static int s_replay(kt_call_t *call, const char *hash_hex)
{
    orders_ctx_t ctx = {.pg = call->pg, .rpc = call->rpc, .rpc2 = orders_rpc2(call),
                        .redis = call->redis,
                        .conf = orders_conf(call->service), .request_id = call->request_id,
                        .deadline_ms = call->deadline_ms, .keep_reply = true};
    const char *params[] = {call->idem_key};
    for (int round = 0; round < 4; round++) {
        PGresult *res = kt_pg_exec(call->pg, &orders_sql_replay, params);
        if (!res)
            return kt_call_fail_pg(call, "read the order of this idempotency key");
        if (PQntuples(res) == 0) {
            PQclear(res);
            return kt_call_fail(call, KT_ABORTED, NULL, NULL,
                                "the order of this idempotency key could not be read; try again");
        }
        int64_t order_id = kt_pg_i64(res, 0, 0);
        bool same = strcmp(kt_pg_text(res, 0, 1), hash_hex) == 0;
        const char *reply_hex = kt_pg_text(res, 0, 3);
        if (!same) {
            PQclear(res);
            return kt_call_fail(call, KT_ABORTED, "idempotency_key", "idempotency_mismatch",
                                "the idempotency key was already used for order %lld with "
                                "another request",
                                (long long) order_id);
        }
        if (reply_hex[0]) {
            size_t len = strlen(reply_hex) / 2;
            uint8_t *buf = malloc(len ? len : 1);
            for (size_t i = 0; buf && i < len; i++) {
                unsigned v;
                sscanf(reply_hex + 2 * i, "%2x", &v);
                buf[i] = (uint8_t) v;
            }
            Kontor__Orders__PlaceOrderReply *rep =
                buf ? (Kontor__Orders__PlaceOrderReply *) kt_msg_unpack(
                          &kontor__orders__place_order_reply__descriptor, buf, len, NULL, 0,
                          NULL, 0)
                    : NULL;
            free(buf);
            int rstatus = (int) kt_pg_i64(res, 0, 4);
            char reason[48], text[256];
            snprintf(reason, sizeof reason, "%s", kt_pg_text(res, 0, 5));
            snprintf(text, sizeof text, "%s", kt_pg_text(res, 0, 6));
            PQclear(res);
            if (!rep)
                return kt_call_fail(call, KT_INTERNAL, NULL, NULL, "the stored answer is damaged");
            if (rep->order && !kt_call_acts_for(call, rep->order->manager_id)) {
                kt_msg_free(&rep->base);
                return kt_call_fail(call, KT_PERMISSION_DENIED, "client_id", "not_owner",
                                    "this order belongs to another manager");
            }
            rep->replayed = true;
            uint8_t *out = kt_msg_pack(&rep->base, &len);
            //  The stored reply's own reason, as the first answer had it.
            if (rep->order && rstatus != KT_OK) {
                snprintf(reason, sizeof reason, "%s", rep->order->reason);
                snprintf(text, sizeof text, "%s", rep->order->reason_text);
            }
            kt_msg_free(&rep->base);
            if (!out)
                return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            return s_answer(call, out, len, rstatus, reason, text);
        }
        PQclear(res);
        orders_order_t o;
        int found = orders_order_load(call->pg, order_id, &o);
        if (found < 0)
            return kt_call_fail_pg(call, "read the order");
        if (found == 0)
            return kt_call_fail(call, KT_ABORTED, NULL, NULL, "the order vanished; try again");
        if (!kt_call_acts_for(call, o.manager_id)) {
            orders_order_clear(&o);
            return kt_call_fail(call, KT_PERMISSION_DENIED, "client_id", "not_owner",
                                "this order belongs to another manager");
        }
        if (o.status != ORDERS_PENDING) {
            int rc = s_answer_order(call, &o, true);
            orders_order_clear(&o);
            return rc;
        }
        //  In flight: wait for its placer, then look again. A free lock on
        //  a PENDING order means the placer is gone: resume it.
        int64_t left = kt_call_left_ms(call) - 500;
        s_wait_t w = {order_id, left > 600000 ? 600000 : (int) (left > 50 ? left : 50)};
        int waited = kt_pg_tx(call->pg, 1, s_wait_tx, &w);
        if (waited < 0) {
            orders_order_clear(&o);
            return kt_call_fail_pg(call, "wait for the first placement of this order");
        }
        if (waited == 1) {
            orders_order_clear(&o);
            return kt_call_fail(call, KT_UNAVAILABLE, NULL, NULL,
                                "order %lld is still being placed; try again with the same key",
                                (long long) order_id);
        }
        if (round == 0) {
            orders_order_clear(&o);
            continue;
        }
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long) order_id);
        const char *lp[] = {id};
        PGresult *lr = kt_pg_exec(call->pg, &orders_sql_try_lock, lp);
        bool got = lr && strcmp(kt_pg_text(lr, 0, 0), "t") == 0;
        PQclear(lr);
        if (!got) {
            orders_order_clear(&o);
            continue;
        }
        orders_order_clear(&o);
        //  Re-read under the lock, after any transaction holding the row
        //  (the placer settles just after letting the lock go): the order
        //  may be settled, or undone by the sweeper.
        if (orders_engine_status(&ctx, order_id) != ORDERS_PENDING) {
            PQclear(kt_pg_exec(call->pg, &orders_sql_unlock, lp));
            continue;
        }
        found = orders_order_load(call->pg, order_id, &o);
        if (found <= 0 || o.status != ORDERS_PENDING) {
            PGresult *ur = kt_pg_exec(call->pg, &orders_sql_unlock, lp);
            PQclear(ur);
            if (found > 0)
                orders_order_clear(&o);
            continue;
        }
        kt_log(KT_LOG_INFO, call->request_id, "resuming order %lld left pending",
               (long long) order_id);
        int rc = orders_engine_proceed(&ctx, &o);
        if (rc < 0) {
            orders_order_clear(&o);
            return kt_call_fail_pg(call, "settle the order");
        }
        if (rc == 1) {
            orders_order_clear(&o);
            continue;
        }
        rc = s_answer_order(call, &o, true);
        orders_order_clear(&o);
        return rc;
    }
    return kt_call_fail(call, KT_UNAVAILABLE, NULL, NULL,
                        "the order of this key is still being placed; try again");
}

//  ---------------------------------------------------------------- placing

static void s_order_from(orders_order_t *o, const orders_priced_t *p,
                         const Kontor__Orders__PlaceOrderRequest *req, const kt_call_t *call)
{
    memset(o, 0, sizeof *o);
    o->order_id = p->next_id;
    o->client_id = p->terms.client_id;
    o->manager_id = p->terms.manager_id;
    o->branch_id = p->terms.branch_id;
    o->warehouse_id = req->warehouse_id;
    o->status = ORDERS_PENDING;
    o->undo_status = ORDERS_REJECTED;
    snprintf(o->currency, sizeof o->currency, "%s", p->currency);
    o->list_total = p->list_total;
    o->total = p->total;
    o->extra_bp = req->extra_discount_bp;
    o->short_policy = req->short_policy != 0 ? (int) req->short_policy
                      : p->terms.short_policy != 0 ? p->terms.short_policy
                                                   : ORDERS_SHIP_AVAILABLE;
    if (p->delivery_days >= 0)
        orders_date_text(p->delivery_days, o->delivery_date);
    o->delivery_method = (int) req->delivery_method;
    o->address = req->address;
    o->note = req->note;
    snprintf(o->placed_by, sizeof o->placed_by, "%s", call->caller->name);
    o->created_at_ms = kt_wall_ms();
}

//  Work out short lines from the early check; fills each line's available
//  and expected date. Returns the number of short lines.
static size_t s_early_check(orders_ctx_t *ctx, orders_order_t *o, int64_t *ship)
{
    size_t n = o->nlines;
    int64_t *sku = calloc(n * 4, sizeof *sku);
    if (!sku)
        return 0;
    int64_t *qty = sku + n, *avail = sku + 2 * n, *msku = sku + 3 * n;
    for (size_t i = 0; i < n; i++) {
        sku[i] = o->lines[i].p.sku;
        qty[i] = o->lines[i].p.qty;
    }
    //  One figure per SKU.
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m && msku[j] != sku[i])
            j++;
        if (j == m)
            msku[m++] = sku[i];
    }
    int64_t *mav = malloc(sizeof *mav * (m ? m : 1));
    if (!mav) {
        free(sku);
        return 0;
    }
    orders_availability(ctx, o->warehouse_id, msku, m, mav);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            if (msku[j] == sku[i])
                //  Unknown (nobody could say): let ReserveStock decide.
                avail[i] = mav[j] < 0 ? INT64_MAX / 4 : mav[j];
    size_t short_lines = orders_allocate(sku, qty, avail, n, ship);
    if (short_lines > 0) {
        //  Ask logistics for the short SKUs: the figure that counts (the
        //  cache may be behind) and when the rest is expected.
        int64_t ss[256];
        size_t k = 0;
        for (size_t i = 0; i < n && k < 256; i++)
            if (ship[i] < qty[i])
                ss[k++] = sku[i];
        int status;
        ProtobufCMessage *out = orders_logistics_details(ctx, o->warehouse_id, ss, k, &status);
        if (out) {
            const Kontor__Logistics__AvailabilityReply *rep =
                (const Kontor__Logistics__AvailabilityReply *) out;
            for (size_t i = 0; i < n; i++)
                for (size_t it = 0; it < rep->n_items; it++) {
                    const Kontor__Logistics__SkuAvailability *a = rep->items[it];
                    if (a->sku != sku[i])
                        continue;
                    avail[i] = a->available;
                    for (size_t r = 0; r < a->n_arrivals; r++)
                        if (a->arrivals[r]->warehouse_id == o->warehouse_id
                            || a->arrivals[r]->warehouse_id == 0) {
                            snprintf(o->lines[i].expected, sizeof o->lines[i].expected, "%.10s",
                                     a->arrivals[r]->date);
                            break;
                        }
                }
            kt_msg_free(out);
            short_lines = orders_allocate(sku, qty, avail, n, ship);
        }
    }
    for (size_t i = 0; i < n; i++) {
        o->lines[i].available = avail[i] >= INT64_MAX / 4 ? -1 : avail[i];
        if (ship[i] < qty[i] && o->lines[i].expected[0]
            && strcmp(o->lines[i].expected, o->expected_date) > 0)
            snprintf(o->expected_date, sizeof o->expected_date, "%s", o->lines[i].expected);
    }
    free(mav);
    free(sku);
    return short_lines;
}

//  Split o into what ships now (o) and a back-order (bo) of the rest.
static int s_split(orders_order_t *o, const int64_t *ship, orders_order_t *bo, int64_t bo_id)
{
    *bo = *o;
    bo->lines = calloc(o->nlines, sizeof *bo->lines);
    if (!bo->lines)
        return -1;
    bo->order_id = bo_id;
    bo->parent_id = o->order_id;
    bo->status = ORDERS_BACK_ORDER;
    bo->undo_status = ORDERS_BACK_ORDER;
    snprintf(bo->reason, sizeof bo->reason, "insufficient_stock");
    snprintf(bo->reason_text, sizeof bo->reason_text,
             "back-order of order %lld: the goods were not in stock", (long long) o->order_id);
    bo->nlines = 0;
    bo->total = bo->list_total = 0;
    size_t kept = 0;
    int64_t total = 0, list_total = 0;
    for (size_t i = 0; i < o->nlines; i++) {
        orders_oline_t l = o->lines[i];
        int64_t back = l.p.qty - ship[i];
        if (back > 0) {
            orders_oline_t *b = &bo->lines[bo->nlines++];
            *b = l;
            b->p.qty = back;
            kt_money_line(b->p.unit_price, back, &b->p.line_total);
            bo->total += b->p.line_total;
            bo->list_total += b->p.list_price * back;
        }
        if (ship[i] > 0) {
            l.p.qty = ship[i];
            l.backordered = back;
            kt_money_line(l.p.unit_price, ship[i], &l.p.line_total);
            l.expected[0] = 0;
            total += l.p.line_total;
            list_total += l.p.list_price * ship[i];
            o->lines[kept++] = l;
        }
    }
    o->nlines = kept;
    o->total = total;
    o->list_total = list_total;
    o->backorder_id = bo_id;
    o->expected_date[0] = 0;
    return 0;
}

typedef struct {
    orders_order_t *o;
    orders_order_t *bo;
    const char *idem_key;
    const char *hash;
    int inserted;
} s_split_tx_t;

//  The PENDING write need not wait for its WAL flush: nothing is promised
//  to anyone until the order settles, and the settling commit (synchronous)
//  flushes the WAL up to and past this one. Lost in a database crash, it
//  takes nothing with it but reservations that expire by themselves.
static int s_async_commit(kt_pg_t *pg)
{
    return kt_pg_command(pg, "SET LOCAL synchronous_commit TO off");
}

static int s_split_insert_tx(kt_pg_t *pg, void *arg)
{
    s_split_tx_t *s = arg;
    if (s_async_commit(pg) != 0)
        return -1;
    s->inserted = orders_engine_insert(pg, s->o, s->idem_key, s->hash, NULL, 0, 0, false, false);
    if (s->inserted <= 0)
        return s->inserted < 0 ? -1 : 1;
    return orders_engine_insert(pg, s->bo, NULL, NULL, NULL, 0, 0, false, false) == 1 ? 0 : -1;
}

int orders_place(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__PlaceOrderRequest *req = (const Kontor__Orders__PlaceOrderRequest *) msg;
    orders_ctx_t ctx = {.pg = call->pg, .rpc = call->rpc, .rpc2 = orders_rpc2(call),
                        .redis = call->redis,
                        .conf = orders_conf(call->service), .request_id = call->request_id,
                        .deadline_ms = call->deadline_ms, .keep_reply = true};
    char hash[S_HASH_BYTES * 2 + 1];
    if (s_body_hash(msg, hash) != 0)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    orders_line_req_t *lines = calloc(req->n_lines ? req->n_lines : 1, sizeof *lines);
    if (!lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < req->n_lines; i++)
        lines[i] = (orders_line_req_t){req->lines[i]->sku, req->lines[i]->qty,
                                       req->lines[i]->extra_discount_bp};
    orders_request_t r = {req->client_id, req->warehouse_id, lines, req->n_lines,
                          req->extra_discount_bp, req->delivery_date, req->address, req->note,
                          (int) req->short_policy};
    orders_priced_t p;
    orders_order_t o, bo;
    memset(&o, 0, sizeof o);
    memset(&bo, 0, sizeof bo);
    int64_t *ship = NULL;
    int rc = orders_price_or_reply(call, &r, call->idem_key, &p);
    if (rc < 0)
        goto done;
    if (rc == 1) {
        rc = s_replay(call, hash);
        goto done;
    }
    s_order_from(&o, &p, req, call);
    o.lines = p.lines;  //  borrowed from p
    o.nlines = p.nlines;

    if (p.needs_approval) {
        char pct[16], max[16], text[200];
        snprintf(text, sizeof text, "an extra discount of %s is over the %s this role may give",
                 orders_bp_text(p.max_extra_bp, pct, sizeof pct),
                 orders_bp_text(p.authority_bp, max, sizeof max));
        orders_set_outcome(&o, ORDERS_PENDING_APPROVAL, "discount_over_authority", text);
        o.undo_status = ORDERS_PENDING_APPROVAL;
    } else {
        ship = calloc(o.nlines, sizeof *ship);
        if (!ship) {
            rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto done;
        }
        size_t short_lines = s_early_check(&ctx, &o, ship);
        if (short_lines > 0) {
            bool none = true;
            for (size_t i = 0; i < o.nlines; i++)
                if (ship[i] > 0)
                    none = false;
            if (o.short_policy == ORDERS_WAIT_FOR_ALL || none) {
                orders_set_outcome(&o, ORDERS_BACK_ORDER, "insufficient_stock",
                                   "the order waits for goods that are not in stock");
                o.undo_status = ORDERS_BACK_ORDER;
            } else {
                //  A fresh id for the back-order (the load gave us one, take another).
                PGresult *res = kt_pg_exec(call->pg, &orders_sql_next_id, NULL);
                if (!res) {
                    rc = kt_call_fail_pg(call, "number the back-order");
                    goto done;
                }
                int64_t bo_id = kt_pg_i64(res, 0, 0);
                PQclear(res);
                if (s_split(&o, ship, &bo, bo_id) != 0) {
                    rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
                    goto done;
                }
            }
        }
    }
    if (o.status != ORDERS_PENDING) {
        //  Decided without calling out: written settled, with its answer.
        size_t len;
        uint8_t *buf = orders_place_reply_pack(&o, false, &len);
        if (!buf) {
            rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto done;
        }
        int ins = orders_engine_insert(call->pg, &o, call->idem_key, hash, buf, len,
                                       orders_outcome_status(&o), false, false);
        if (ins <= 0) {
            free(buf);
            rc = ins < 0 ? kt_call_fail_pg(call, "write the order") : s_replay(call, hash);
            goto done;
        }
        rc = s_answer(call, buf, len, orders_outcome_status(&o), o.reason, o.reason_text);
        goto done;
    }
    o.called_out = true;
    if (bo.lines) {
        s_split_tx_t s = {&o, &bo, call->idem_key, hash, 0};
        int tx = kt_pg_tx(call->pg, 3, s_split_insert_tx, &s);
        if (tx < 0) {
            rc = kt_call_fail_pg(call, "write the order");
            goto done;
        }
        if (tx == 1) {
            rc = s_replay(call, hash);
            goto done;
        }
        //  Written without its lock (a transaction retry would take it
        //  twice): take it now; the order is too young for the sweeper.
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long) o.order_id);
        const char *lp[] = {id};
        PGresult *lr = kt_pg_exec(call->pg, &orders_sql_lock, lp);
        if (!lr) {
            rc = kt_call_fail_pg(call, "lock the order");
            goto done;
        }
        PQclear(lr);
    } else {
        //  One statement, its own transaction, not retried: it takes a
        //  session lock, which a second attempt would take twice. A failed
        //  statement wrote nothing, and took the lock only if it got that
        //  far (the lock is its last step): give it back if held.
        int ins = orders_engine_insert(call->pg, &o, call->idem_key, hash, NULL, 0, 0, true,
                                       true);
        if (ins < 0) {
            char id[24];
            snprintf(id, sizeof id, "%lld", (long long) o.order_id);
            const char *lp[] = {id};
            PQclear(kt_pg_exec(call->pg, &orders_sql_unlock_if_held, lp));
            rc = kt_call_fail_pg(call, "write the order");
            goto done;
        }
        if (ins == 0) {
            rc = s_replay(call, hash);
            goto done;
        }
    }
    rc = orders_engine_proceed(&ctx, &o);
    if (rc < 0) {
        rc = kt_call_fail_pg(call, "settle the order");
        goto done;
    }
    if (rc == 1) {
        rc = kt_call_fail(call, KT_UNAVAILABLE, NULL, NULL,
                          "order %lld could not be finished now; try again with the same "
                          "idempotency key",
                          (long long) o.order_id);
        kt_call_hint(call, "a retry with the same key resumes this order");
        goto done;
    }
    rc = s_answer_order(call, &o, false);
done:
    //  o's address and note are the request's; its lines are p's.
    o.address = o.note = NULL;
    if (o.lines != p.lines)
        free(o.lines);
    o.lines = NULL;
    free(bo.lines);
    free(ship);
    free(lines);
    orders_priced_clear(&p);
    return rc;
}
