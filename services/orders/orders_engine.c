/*  orders_engine - reserving credit and stock for an order and settling
 *  its outcome, crash-safe.
 *
 *  The saga, for an order already written PENDING with its lines:
 *
 *    1. ReserveCredit in receivables (idempotent by order id, held hold_s);
 *    2. ReserveStock in logistics (idempotent by order id, all or nothing);
 *    3. settle: CONFIRMED and OrderConfirmed in one transaction (outbox).
 *
 *  A refusal settles the order as PENDING_APPROVAL (credit limit or hold:
 *  a head may approve), BACK_ORDER (stock) or REJECTED, after releasing what
 *  step 1 held; a release that gets no answer leaves needs_release set and
 *  the sweeper repeats it. A call with no answer at all leaves the order
 *  PENDING: a replay of the same idempotency key resumes it, and otherwise
 *  the sweeper undoes it (releases both, back to undo_status) once it is
 *  older than the pending timeout and nobody holds its lock.
 *
 *  The lock: a placement holds a session advisory lock on its order from
 *  the statement that writes it PENDING until the one that settles it. A
 *  process that dies loses its connection and so the lock, which is how
 *  the sweeper and a replay tell a dead placement from a slow one. The
 *  settling statement gives the lock up before its transaction commits;
 *  that is safe because whoever takes the lock next changes the order only
 *  with an UPDATE ... WHERE status = PENDING, which waits for our row lock
 *  and then sees the settled status.
 *
 *  Confirmations: ConfirmCredit and ConfirmReservation are not called on
 *  PlaceOrder's path. The committed OrderConfirmed is the confirmation:
 *  receivables and logistics both consume it and confirm their reservation
 *  in the transaction that applies it (logistics also raises the shipment
 *  request there). Reservations are held hold_s (15 min by default), far
 *  longer than a consumer takes even after a restart, and receivables
 *  revives a credit hold that expired before the event arrived. As a
 *  safety net the sweeper calls both Confirm methods (idempotent) for
 *  CONFIRMED orders that still show no sign of it after confirm_after_s.
 *  That keeps two round trips off PlaceOrder's path.
 *
 *  Ids and releases: receivables and logistics remember a released order
 *  id and never reserve for it again. An order that waited (approval,
 *  back-order) after a call out for its id therefore continues under a new
 *  id (orders_engine_claim), the old one marked REPLACED.
 */
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"
#include "receivables.pb-c.h"

//  ---------------------------------------------------------------- helpers

void orders_set_outcome(orders_order_t *o, int status, const char *reason, const char *text)
{
    o->status = status;
    snprintf(o->reason, sizeof o->reason, "%s", reason ? reason : "");
    kt_strlcpy_utf8(o->reason_text, text ? text : "", sizeof o->reason_text);
}

int orders_outcome_status(const orders_order_t *o)
{
    if (o->status != ORDERS_REJECTED && o->status != ORDERS_CANCELLED)
        return KT_OK;
    const kt_reason_t *r = kt_reason_lookup(o->reason);
    return r && r->status != KT_OK ? r->status : KT_FAILED_PRECONDITION;
}

uint8_t *orders_place_reply_pack(const orders_order_t *o, bool replayed, size_t *len)
{
    orders_arena_t *arena = orders_arena_new();
    if (!arena)
        return NULL;
    uint8_t *buf = NULL;
    Kontor__Orders__PlaceOrderReply rep = KONTOR__ORDERS__PLACE_ORDER_REPLY__INIT;
    Kontor__Orders__Credit credit = KONTOR__ORDERS__CREDIT__INIT;
    Kontor__Money limit = KONTOR__MONEY__INIT, exposure = KONTOR__MONEY__INIT,
                  exceeded = KONTOR__MONEY__INIT;
    rep.order = orders_order_pb(o, arena);
    rep.replayed = replayed;
    if (o->credit_known) {
        limit.units = o->credit_limit;
        exposure.units = o->credit_exposure;
        exceeded.units = o->credit_exceeded;
        limit.currency = exposure.currency = exceeded.currency = (char *) o->currency;
        credit.limit = &limit;
        credit.exposure = &exposure;
        credit.exceeded_by = &exceeded;
        credit.known = true;
        credit.fits = o->credit_exceeded <= 0;
        credit.on_hold = strcmp(o->reason, "credit_hold") == 0;
        rep.credit = &credit;
    }
    if (rep.order)
        buf = kt_msg_pack(&rep.base, len);
    orders_arena_destroy(&arena);
    return buf;
}

//  Budget of one call out: what is left of the caller's, within bounds.
static int s_budget(const orders_ctx_t *ctx)
{
    int64_t left = ctx->deadline_ms - kt_now_ms();
    if (left > ctx->conf->call_ms)
        left = ctx->conf->call_ms;
    if (left < 1000)
        left = 1000;
    return (int) left;
}

//  True when the call's outcome is not known: nobody answered, or the
//  answer says "try again".
static bool s_unknown(int status)
{
    return kt_status_retryable(status);
}

//  ---------------------------------------------------------------- inserting

int orders_engine_insert(kt_pg_t *pg, const orders_order_t *o, const char *idem_key,
                         const char *hash_hex, const uint8_t *reply, size_t reply_len,
                         int reply_status, bool lock, bool pending_async)
{
    size_t n = o->nlines;
    const orders_oline_t *l = o->lines;
    size_t st = sizeof *l;
    char *a_sku = orders_sql_i64s_at(&l->p.sku, st, n);
    char *a_qty = orders_sql_i64s_at(&l->p.qty, st, n);
    char *a_lp = orders_sql_i64s_at(&l->p.list_price, st, n);
    char *a_up = orders_sql_i64s_at(&l->p.unit_price, st, n);
    char *a_lt = orders_sql_i64s_at(&l->p.line_total, st, n);
    char *a_fr = orders_sql_bools_at(&l->p.free, st, n);
    char *a_cb = orders_sql_i32s_at(&l->p.client_bp, st, n);
    char *a_pi = orders_sql_i64s_at(&l->p.promo_id, st, n);
    char *a_pb = orders_sql_i32s_at(&l->p.promo_bp, st, n);
    char *a_eb = orders_sql_i32s_at(&l->p.extra_bp, st, n);
    char *a_av = orders_sql_i64s_at(&l->available, st, n);
    char *a_ed = orders_sql_dates_at(l->expected, st, n);
    char *reply_hex = reply ? orders_sql_hex(reply, reply_len) : NULL;
    int rc = -1;
    if (!a_sku || !a_qty || !a_lp || !a_up || !a_lt || !a_fr || !a_cb || !a_pi || !a_pb
        || !a_eb || !a_av || !a_ed || (reply && !reply_hex))
        goto done;
    char id[24], parent[24], client[24], mgr[24], branch[24], wh[24], status[8], undo[8],
        lt[24], tt[24], extra[16], policy[8], method[8], rstatus[8];
    snprintf(id, sizeof id, "%lld", (long long) o->order_id);
    snprintf(parent, sizeof parent, "%lld", (long long) o->parent_id);
    snprintf(client, sizeof client, "%lld", (long long) o->client_id);
    snprintf(mgr, sizeof mgr, "%lld", (long long) o->manager_id);
    snprintf(branch, sizeof branch, "%lld", (long long) o->branch_id);
    snprintf(wh, sizeof wh, "%lld", (long long) o->warehouse_id);
    snprintf(status, sizeof status, "%d", o->status);
    snprintf(undo, sizeof undo, "%d", o->undo_status ? o->undo_status : ORDERS_REJECTED);
    snprintf(lt, sizeof lt, "%lld", (long long) o->list_total);
    snprintf(tt, sizeof tt, "%lld", (long long) o->total);
    snprintf(extra, sizeof extra, "%d", o->extra_bp);
    snprintf(policy, sizeof policy, "%d", o->short_policy);
    snprintf(method, sizeof method, "%d", o->delivery_method);
    snprintf(rstatus, sizeof rstatus, "%d", reply_status);
    const char *params[] = {
        id, idem_key, hash_hex, o->parent_id ? parent : NULL, client, mgr, branch, wh, status,
        undo, o->reason, o->reason_text, o->currency, lt, tt, extra, policy,
        o->delivery_date[0] ? o->delivery_date : NULL, method, o->address ? o->address : "",
        o->note ? o->note : "", o->placed_by, o->called_out ? "t" : "f",
        o->expected_date[0] ? o->expected_date : NULL, reply_hex, reply ? rstatus : NULL,
        lock ? "t" : "f", a_sku, a_qty, a_lp, a_up, a_lt, a_fr, a_cb, a_pi, a_pb, a_eb, a_av,
        a_ed, o->approved_by};
    PGresult *res =
        kt_pg_exec(pg, pending_async ? &orders_sql_insert_pending : &orders_sql_insert_order,
                   params);
    if (res) {
        rc = PQntuples(res) > 0 ? 1 : 0;
        PQclear(res);
    }
done:
    free(a_sku);
    free(a_qty);
    free(a_lp);
    free(a_up);
    free(a_lt);
    free(a_fr);
    free(a_cb);
    free(a_pi);
    free(a_pb);
    free(a_eb);
    free(a_av);
    free(a_ed);
    free(reply_hex);
    return rc;
}

//  ---------------------------------------------------------------- settling

//  OrderConfirmed for o, packed and hex-encoded for the settling statement
//  (malloc'd), or NULL when out of memory.
static char *s_confirmed_event_hex(const orders_order_t *o)
{
    Kontor__Orders__OrderConfirmed ev = KONTOR__ORDERS__ORDER_CONFIRMED__INIT;
    Kontor__Orders__OrderLine *lines = calloc(o->nlines ? o->nlines : 1, sizeof *lines);
    Kontor__Orders__OrderLine **linep = calloc(o->nlines ? o->nlines : 1, sizeof *linep);
    char *hex = NULL;
    if (!lines || !linep)
        goto done;
    for (size_t i = 0; i < o->nlines; i++) {
        kontor__orders__order_line__init(&lines[i]);
        lines[i].sku = o->lines[i].p.sku;
        lines[i].qty = o->lines[i].p.qty;
        lines[i].unit_price = o->lines[i].p.unit_price;
        lines[i].line_total = o->lines[i].p.line_total;
        lines[i].list_price = o->lines[i].p.list_price;
        linep[i] = &lines[i];
    }
    ev.order_id = o->order_id;
    ev.client_id = o->client_id;
    ev.manager_id = o->manager_id;
    ev.branch_id = o->branch_id;
    ev.warehouse_id = o->warehouse_id;
    ev.currency = (char *) o->currency;
    ev.total = o->total;
    ev.lines = linep;
    ev.n_lines = o->nlines;
    ev.delivery_date = (char *) o->delivery_date;
    ev.delivery_method = (Kontor__DeliveryMethod) o->delivery_method;
    ev.address = o->address ? o->address : (char *) "";
    ev.confirmed_at_ms = kt_wall_ms();
    ev.approved = o->approved_by[0] != 0;
    size_t len;
    uint8_t *buf = kt_msg_pack(&ev.base, &len);
    if (buf)
        hex = orders_sql_hex(buf, len);
    free(buf);
done:
    free(lines);
    free(linep);
    return hex;
}

//  Settle o (its status, reason and lines already set): one statement,
//  which is its own transaction (the event, if any, is written by it too:
//  orders_sql_settle). Returns 0 settled, 1 the order was not PENDING any
//  more, -1 database error. Called outside any explicit transaction.
//  The lines as written before the calls out (available, expected date),
//  so that settling rewrites only the lines whose figures changed.
typedef struct {
    int64_t *available;
    char (*expected)[11];
} s_lines_before_t;

static void s_lines_snapshot(const orders_order_t *o, s_lines_before_t *b)
{
    b->available = malloc(sizeof *b->available * (o->nlines ? o->nlines : 1));
    b->expected = malloc(sizeof *b->expected * (o->nlines ? o->nlines : 1));
    for (size_t i = 0; b->available && b->expected && i < o->nlines; i++) {
        b->available[i] = o->lines[i].available;
        memcpy(b->expected[i], o->lines[i].expected, sizeof b->expected[i]);
    }
}

static void s_lines_snapshot_free(s_lines_before_t *b)
{
    free(b->available);
    free(b->expected);
    b->available = NULL;
    b->expected = NULL;
}

static int s_settle(orders_ctx_t *ctx, orders_order_t *o, bool needs_release,
                    const s_lines_before_t *before)
{
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    char *reply_hex = NULL, *event_hex = NULL;
    if (ctx->keep_reply) {
        reply = orders_place_reply_pack(o, false, &reply_len);
        reply_hex = reply ? orders_sql_hex(reply, reply_len) : NULL;
    }
    //  Only the lines whose figures differ from what was written (all of
    //  them when that is not known).
    size_t n = o->nlines, m = 0;
    int32_t *nos = malloc(sizeof *nos * (n ? n : 1));
    orders_oline_t *changed = malloc(sizeof *changed * (n ? n : 1));
    bool known = before && before->available && before->expected;
    for (size_t i = 0; nos && changed && i < n; i++) {
        if (known && before->available[i] == o->lines[i].available
            && strcmp(before->expected[i], o->lines[i].expected) == 0)
            continue;
        nos[m] = (int32_t) i + 1;
        changed[m++] = o->lines[i];
    }
    char *a_no = nos ? orders_sql_i32s_at(nos, sizeof *nos, m) : NULL;
    char *a_av = changed ? orders_sql_i64s_at(&changed->available, sizeof *changed, m) : NULL;
    char *a_ed = changed ? orders_sql_dates_at(changed->expected, sizeof *changed, m) : NULL;
    bool confirmed = o->status == ORDERS_CONFIRMED;
    if (confirmed)
        event_hex = s_confirmed_event_hex(o);
    int rc = -1;
    if (a_no && a_av && a_ed && (!confirmed || event_hex)) {
        char id[24], status[8], rstatus[8], total[24];
        snprintf(id, sizeof id, "%lld", (long long) o->order_id);
        snprintf(status, sizeof status, "%d", o->status);
        snprintf(rstatus, sizeof rstatus, "%d", orders_outcome_status(o));
        snprintf(total, sizeof total, "%lld", (long long) o->total);
        const char *params[] = {id, status, o->reason, o->reason_text, reply_hex,
                                reply_hex ? rstatus : NULL, needs_release ? "t" : "f",
                                o->expected_date[0] ? o->expected_date : NULL, a_no, a_av, a_ed,
                                o->approved_by, total, event_hex};
        //  A lost deadlock or serialization conflict is tried again, as
        //  kt_pg_tx would.
        for (int attempt = 1; attempt <= 3; attempt++) {
            PGresult *res = kt_pg_exec(
                ctx->pg, m > 0 ? &orders_sql_settle : &orders_sql_settle_order, params);
            if (res) {
                rc = kt_pg_isnull(res, 0, 0) ? 1 : 0;
                PQclear(res);
                break;
            }
            if (!kt_pg_retryable(kt_pg_sqlstate(ctx->pg)))
                break;
        }
    }
    free(event_hex);
    free(nos);
    free(changed);
    free(a_no);
    free(a_av);
    free(a_ed);
    free(reply_hex);
    free(reply);
    return rc;
}

//  The order's committed status, waiting for a transaction that holds its
//  row to finish; -1 when it cannot be read.
static int s_current_status(orders_ctx_t *ctx, int64_t order_id)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(ctx->pg, &orders_sql_lock_order, params);
    int status = res && PQntuples(res) > 0 ? (int) kt_pg_i64(res, 0, 0) : -1;
    PQclear(res);
    return status;
}

int orders_engine_status(orders_ctx_t *ctx, int64_t order_id)
{
    return s_current_status(ctx, order_id);
}

static void s_unlock(orders_ctx_t *ctx, int64_t order_id)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(ctx->pg, &orders_sql_unlock, params);
    PQclear(res);
}

//  ---------------------------------------------------------------- calls out

static int s_release_credit(orders_ctx_t *ctx, int64_t order_id, const char *why)
{
    Kontor__Receivables__CreditRequest req = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
    req.order_id = order_id;
    req.reason = (char *) why;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = s_budget(ctx), .retry = true};
    int status = kt_client_call(ctx->rpc, "receivables", "ReleaseCredit", &req.base, NULL,
                                NULL, &opts, &reply);
    kt_reply_clear(&reply);
    return s_unknown(status) ? -1 : 0;
}

static int s_release_stock(orders_ctx_t *ctx, int64_t order_id, const char *why)
{
    Kontor__Logistics__ReservationRequest req = KONTOR__LOGISTICS__RESERVATION_REQUEST__INIT;
    req.order_id = order_id;
    req.reason = (char *) why;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = s_budget(ctx), .retry = true};
    int status = kt_client_call(ctx->rpc, "logistics", "ReleaseReservation", &req.base, NULL,
                                NULL, &opts, &reply);
    kt_reply_clear(&reply);
    return s_unknown(status) ? -1 : 0;
}

int orders_engine_release(orders_ctx_t *ctx, int64_t order_id, const char *why)
{
    int a = s_release_credit(ctx, order_id, why);
    int b = s_release_stock(ctx, order_id, why);
    return a == 0 && b == 0 ? 0 : -1;
}

//  Expected dates for short lines, best effort (one Availability call).
static void s_expected_dates(orders_ctx_t *ctx, orders_order_t *o)
{
    int64_t skus[256];
    size_t m = 0;
    for (size_t i = 0; i < o->nlines && m < 256; i++)
        if (o->lines[i].available >= 0 && o->lines[i].available < o->lines[i].p.qty)
            skus[m++] = o->lines[i].p.sku;
    if (m == 0)
        return;
    int status;
    ProtobufCMessage *out = orders_logistics_details(ctx, o->warehouse_id, skus, m, &status);
    if (!out)
        return;
    const Kontor__Logistics__AvailabilityReply *rep =
        (const Kontor__Logistics__AvailabilityReply *) out;
    o->expected_date[0] = 0;
    for (size_t i = 0; i < o->nlines; i++) {
        orders_oline_t *l = &o->lines[i];
        for (size_t k = 0; k < rep->n_items; k++) {
            const Kontor__Logistics__SkuAvailability *it = rep->items[k];
            if (it->sku != l->p.sku || l->available >= l->p.qty)
                continue;
            //  The first arrival into this warehouse (soonest first).
            for (size_t a = 0; a < it->n_arrivals; a++)
                if (it->arrivals[a]->warehouse_id == o->warehouse_id
                    || it->arrivals[a]->warehouse_id == 0) {
                    snprintf(l->expected, sizeof l->expected, "%.10s", it->arrivals[a]->date);
                    break;
                }
            if (l->expected[0] && strcmp(l->expected, o->expected_date) > 0)
                snprintf(o->expected_date, sizeof o->expected_date, "%s", l->expected);
        }
    }
    kt_msg_free(out);
}

//  The credit part of the outcome: a refusal (approvable or not) from
//  ReserveCredit's reply. Sets o's outcome and its credit figures.
static void s_credit_refused(orders_order_t *o, const kt_client_job_t *job)
{
    const Kontor__Receivables__ReserveCreditReply *cre =
        (const Kontor__Receivables__ReserveCreditReply *) job->out;
    bool approvable = strcmp(job->reply.reason, "credit_limit_exceeded") == 0
                      || strcmp(job->reply.reason, "credit_hold") == 0;
    if (cre) {
        o->credit_known = true;
        o->credit_limit = cre->limit ? cre->limit->units : 0;
        o->credit_exposure = cre->exposure ? cre->exposure->units : 0;
        o->credit_exceeded = cre->exceeded_by ? cre->exceeded_by->units : 0;
    }
    //  An approved order refused again is not approvable again.
    if (approvable && !o->approved_by[0])
        orders_set_outcome(o, ORDERS_PENDING_APPROVAL, job->reply.reason, job->reply.message);
    else
        orders_set_outcome(o, ORDERS_REJECTED,
                           job->reply.reason[0] ? job->reply.reason : "refused",
                           job->reply.message);
}

static void s_job_clear(kt_client_job_t *job)
{
    kt_msg_free(job->out);
    job->out = NULL;
    kt_reply_clear(&job->reply);
}

//  Credit and stock. With a second client (a worker's call) both are asked
//  at once, which takes one call's time instead of two; otherwise (the
//  sweeper) credit first, and stock only if credit went through. Either way
//  the outcome is decided as if credit came first: a credit refusal wins;
//  what the other call held is given back (and needs_release is set, so
//  the sweeper repeats the release until it is answered).
static int s_proceed(orders_ctx_t *ctx, orders_order_t *o, const s_lines_before_t *before)
{
    int rc;
    //  ReserveCredit.
    Kontor__Receivables__ReserveCreditRequest cr =
        KONTOR__RECEIVABLES__RESERVE_CREDIT_REQUEST__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT;
    amount.units = o->total;
    amount.currency = o->currency;
    cr.order_id = o->order_id;
    cr.client_id = o->client_id;
    cr.amount = &amount;
    cr.hold_seconds = ctx->conf->hold_s;
    cr.approved_by = o->approved_by;
    cr.manager_id = o->manager_id;
    //  ReserveStock: one line per SKU (free goods may share a SKU with a line).
    size_t n = o->nlines;
    int64_t *sku = malloc(sizeof *sku * (n ? n : 1) * 4);
    int m = -1;
    Kontor__Logistics__StockLine *sl = NULL, **slp = NULL;
    if (sku) {
        int64_t *qty = sku + n, *msku = sku + 2 * n, *mqty = sku + 3 * n;
        for (size_t i = 0; i < n; i++) {
            sku[i] = o->lines[i].p.sku;
            qty[i] = o->lines[i].p.qty;
        }
        m = orders_merge_skus(sku, qty, n, msku, mqty);
        sl = calloc((size_t) (m > 0 ? m : 1), sizeof *sl);
        slp = calloc((size_t) (m > 0 ? m : 1), sizeof *slp);
        for (int i = 0; sl && slp && i < m; i++) {
            kontor__logistics__stock_line__init(&sl[i]);
            sl[i].sku = msku[i];
            sl[i].qty = mqty[i];
            slp[i] = &sl[i];
        }
    }
    if (m < 0 || !sl || !slp) {
        free(sku);
        free(sl);
        free(slp);
        s_unlock(ctx, o->order_id);
        return 1;
    }
    Kontor__Logistics__ReserveStockRequest sr = KONTOR__LOGISTICS__RESERVE_STOCK_REQUEST__INIT;
    sr.order_id = o->order_id;
    sr.warehouse_id = o->warehouse_id;
    sr.lines = slp;
    sr.n_lines = (size_t) m;
    sr.hold_seconds = ctx->conf->hold_s;

    kt_client_job_t jobs[2] = {
        {.client = ctx->rpc, .service = "receivables", .method = "ReserveCredit",
         .request = &cr.base, .reply_desc = &kontor__receivables__reserve_credit_reply__descriptor,
         .opts = {.timeout_ms = s_budget(ctx), .retry = true}},
        {.client = ctx->rpc2 ? ctx->rpc2 : ctx->rpc, .service = "logistics",
         .method = "ReserveStock", .request = &sr.base,
         .reply_desc = &kontor__logistics__reserve_stock_reply__descriptor,
         .opts = {.timeout_ms = s_budget(ctx), .retry = true}},
    };
    kt_client_job_t *credit = &jobs[0], *stock = &jobs[1];
    bool stock_called = true;
    if (ctx->rpc2)
        kt_client_call_many(jobs, 2);
    else {
        kt_client_call_many(credit, 1);
        stock_called = credit->status == KT_OK;
        if (stock_called) {
            stock->opts.timeout_ms = s_budget(ctx);
            kt_client_call_many(stock, 1);
        }
    }
    free(sl);
    free(slp);
    free(sku);

    //  1. Credit.
    if (credit->status != KT_OK) {
        if (s_unknown(credit->status)) {
            kt_log(KT_LOG_WARN, ctx->request_id, "order %lld: ReserveCredit: %s: %s",
                   (long long) o->order_id, kt_status_name(credit->status),
                   credit->reply.message);
            //  PENDING: a replay resumes it, or the sweeper undoes it (and
            //  releases both, whatever they hold).
            s_job_clear(credit);
            if (stock_called)
                s_job_clear(stock);
            s_unlock(ctx, o->order_id);
            return 1;
        }
        s_credit_refused(o, credit);
        s_job_clear(credit);
        //  Stock asked at the same time and held: give it back now (the
        //  sweeper repeats it if this goes unanswered: needs_release).
        if (stock_called && stock->status == KT_OK)
            s_release_stock(ctx, o->order_id, o->reason);
        if (stock_called)
            s_job_clear(stock);
        //  A refusal holds nothing, but an earlier attempt of ours might have.
        rc = s_settle(ctx, o, true, before);
        return rc < 0 ? -1 : 0;
    }
    s_job_clear(credit);

    //  2. Stock.
    if (stock->status == KT_OK) {
        s_job_clear(stock);
        orders_set_outcome(o, ORDERS_CONFIRMED, "", "");
        for (size_t i = 0; i < o->nlines; i++)
            if (o->lines[i].available < 0)
                o->lines[i].available = o->lines[i].p.qty;
        rc = s_settle(ctx, o, false, before);
        if (rc == 1) {
            //  Not PENDING any more. Settled by another placement of the same
            //  order (a resumed replay): the reservations are its own, keep
            //  them. Undone by the sweeper (our lock was lost with our
            //  connection): give back what we just took.
            int now = s_current_status(ctx, o->order_id);
            if (now == ORDERS_PENDING_APPROVAL || now == ORDERS_BACK_ORDER
                || now == ORDERS_REJECTED || now == ORDERS_REPLACED)
                orders_engine_release(ctx, o->order_id, "placement undone");
            return 1;
        }
        return rc < 0 ? -1 : 0;
    }
    if (s_unknown(stock->status)) {
        kt_log(KT_LOG_WARN, ctx->request_id, "order %lld: ReserveStock: %s: %s",
               (long long) o->order_id, kt_status_name(stock->status), stock->reply.message);
        s_job_clear(stock);
        s_unlock(ctx, o->order_id);
        return 1;
    }
    bool short_stock = strcmp(stock->reply.reason, "insufficient_stock") == 0;
    if (short_stock) {
        const Kontor__Logistics__ReserveStockReply *rep =
            (const Kontor__Logistics__ReserveStockReply *) stock->out;
        for (size_t i = 0; i < o->nlines; i++)
            o->lines[i].available = -1;
        if (rep)
            for (size_t k = 0; k < rep->n_short_; k++)
                for (size_t i = 0; i < o->nlines; i++)
                    if (o->lines[i].p.sku == rep->short_[k]->sku)
                        o->lines[i].available = rep->short_[k]->available;
        for (size_t i = 0; i < o->nlines; i++)
            if (o->lines[i].available < 0)
                o->lines[i].available = o->lines[i].p.qty;
        orders_set_outcome(o, ORDERS_BACK_ORDER, "insufficient_stock", stock->reply.message);
    } else
        orders_set_outcome(o, ORDERS_REJECTED,
                           stock->reply.reason[0] ? stock->reply.reason : "refused",
                           stock->reply.message);
    s_job_clear(stock);
    bool released = s_release_credit(ctx, o->order_id, o->reason) == 0;
    if (short_stock)
        s_expected_dates(ctx, o);
    rc = s_settle(ctx, o, !released, before);
    return rc < 0 ? -1 : 0;
}

int orders_engine_proceed(orders_ctx_t *ctx, orders_order_t *o)
{
    //  The lines as they are in the database now (written PENDING, or
    //  loaded from there), for s_settle.
    s_lines_before_t before;
    s_lines_snapshot(o, &before);
    int rc = s_proceed(ctx, o, &before);
    s_lines_snapshot_free(&before);
    return rc;
}

//  ---------------------------------------------------------------- claiming a waiting order

typedef struct {
    int64_t old_id;
    int64_t new_id;
    int from;
    const char *approved_by;
    bool copied;
} s_renumber_t;

static int s_renumber_tx(kt_pg_t *pg, void *arg)
{
    s_renumber_t *r = arg;
    PGresult *res = kt_pg_exec(pg, &orders_sql_next_id, NULL);
    if (!res)
        return -1;
    r->new_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    char old[24], nid[24], from[8];
    snprintf(old, sizeof old, "%lld", (long long) r->old_id);
    snprintf(nid, sizeof nid, "%lld", (long long) r->new_id);
    snprintf(from, sizeof from, "%d", r->from);
    const char *p1[] = {old, nid, from, r->approved_by};
    res = kt_pg_exec(pg, &orders_sql_copy_order, p1);
    if (!res)
        return -1;
    r->copied = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!r->copied)
        return 1;
    const char *p2[] = {old, nid};
    res = kt_pg_exec(pg, &orders_sql_copy_lines, p2);
    if (!res)
        return -1;
    PQclear(res);
    res = kt_pg_exec(pg, &orders_sql_replace, p2);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int orders_engine_claim(orders_ctx_t *ctx, int64_t order_id, int from, const char *approved_by,
                        orders_order_t *o)
{
    orders_order_t cur;
    int found = orders_order_load(ctx->pg, order_id, &cur);
    if (found <= 0)
        return found;
    bool called_out = cur.called_out;
    int status = cur.status;
    orders_order_clear(&cur);
    if (status != from)
        return 0;
    int64_t id = order_id;
    if (!called_out) {
        char oid[24], f[8];
        snprintf(oid, sizeof oid, "%lld", (long long) order_id);
        snprintf(f, sizeof f, "%d", from);
        const char *params[] = {oid, f, approved_by};
        PGresult *res = kt_pg_exec(ctx->pg, &orders_sql_claim, params);
        if (!res)
            return -1;
        int rows = PQntuples(res);
        PQclear(res);
        if (rows == 0)
            return 0;
    } else {
        s_renumber_t r = {order_id, 0, from, approved_by, false};
        int rc = kt_pg_tx(ctx->pg, 3, s_renumber_tx, &r);
        if (rc < 0)
            return -1;
        if (rc == 1 || !r.copied)
            return 0;
        id = r.new_id;
        char nid[24];
        snprintf(nid, sizeof nid, "%lld", (long long) id);
        const char *params[] = {nid};
        PGresult *res = kt_pg_exec(ctx->pg, &orders_sql_lock, params);
        if (!res)
            return -1;
        PQclear(res);
        kt_log(KT_LOG_INFO, ctx->request_id, "order %lld continues as order %lld",
               (long long) order_id, (long long) id);
    }
    found = orders_order_load(ctx->pg, id, o);
    if (found <= 0) {
        s_unlock(ctx, id);
        return found < 0 ? -1 : 0;
    }
    return 1;
}
