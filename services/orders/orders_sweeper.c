/*  orders_sweeper - the actor that finishes what placements leave behind.
 *
 *  One per process; only the instance holding the sweeper's advisory lock
 *  works (it passes on when that instance's connection dies). Each round:
 *
 *    1. confirm (a safety net): receivables and logistics confirm their
 *       reservations when they apply OrderConfirmed; CONFIRMED orders for
 *       which that has not been seen after confirm_after_s (no shipment
 *       request yet; for credit, nothing tells us) get ConfirmCredit /
 *       ConfirmReservation, idempotent, until both have answered;
 *    2. release: orders owing a release (refused, cancelled, undone) get
 *       ReleaseCredit and ReleaseReservation until both have answered;
 *    3. undo: PENDING orders older than the pending timeout whose lock is
 *       free (their placer died) go back to their undo status, owing a
 *       release (step 2 does it next round);
 *    4. back-orders: those marked ready by StockChanged (and, as a safety
 *       net, any not looked at for a minute) are tried again, oldest
 *       first, when availability says every line can be had.
 */
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"
#include "receivables.pb-c.h"

#define S_BACKORDER_EVERY_MS 500
#define S_RECHECK_S 60
#define S_CALL_MS 2000          //  budget of one call out: the sweeper tries again anyway

static const kt_stmt_t s_leader = {
    "orders_sweeper_leader", "SELECT pg_try_advisory_lock(hashtext('kontor.orders.sweeper'))",
    0};

typedef struct {
    kt_service_t *svc;
    zsock_t *pipe;
    bool terminated;            //  $TERM arrived: leave at the next check
    kt_pg_t *pg;
    kt_client_t *rpc;
    kt_redis_t *redis;
    orders_ctx_t ctx;
    bool leader;
    int64_t next_backorders;
} s_sweeper_t;

//  True when the actor was told to stop: checked between orders, so that a
//  round of calls to services that are going away does not hold up a stop.
static bool s_stopping(s_sweeper_t *self)
{
    while (!self->terminated && (zsock_events(self->pipe) & ZMQ_POLLIN)) {
        char *command = zstr_recv(self->pipe);
        if (!command || strcmp(command, "$TERM") == 0)
            self->terminated = true;
        zstr_free(&command);
    }
    return self->terminated;
}

static void s_exec_id(s_sweeper_t *self, const kt_stmt_t *stmt, int64_t id)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long) id);
    const char *params[] = {buf};
    PQclear(kt_pg_exec(self->pg, stmt, params));
}

static void s_refresh_ctx(s_sweeper_t *self)
{
    self->ctx.deadline_ms = kt_now_ms() + S_CALL_MS;
}

//  1 confirmed (or nothing to confirm any more), 0 try again later.
static int s_confirm_one(s_sweeper_t *self, const char *service, const char *method,
                         const ProtobufCMessage *req, int64_t order_id)
{
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = S_CALL_MS, .retry = true};
    int status = kt_client_call(self->rpc, service, method, req, NULL, NULL, &opts, &reply);
    int rc = 1;
    if (kt_status_retryable(status))
        rc = 0;
    else if (status != KT_OK)
        //  Expired or unknown: the order is confirmed without it. Loud, for ops.
        kt_error("order %lld: %s.%s refused: %s %s: %s", (long long) order_id, service, method,
                 kt_status_name(status), reply.reason, reply.message);
    kt_reply_clear(&reply);
    return rc;
}

//  Which of these orders receivables has confirmed already (it does so when
//  it applies OrderConfirmed): one CreditStatus call for the lot. Sets
//  done[i] for those it reports CONFIRMED or INVOICED. A failed call leaves
//  them all to ConfirmCredit.
static void s_credit_seen(s_sweeper_t *self, const int64_t *ids, size_t n, bool *done)
{
    if (n == 0)
        return;
    Kontor__Receivables__CreditStatusRequest req =
        KONTOR__RECEIVABLES__CREDIT_STATUS_REQUEST__INIT;
    req.order_ids = (int64_t *) ids;
    req.n_order_ids = n;
    kt_reply_t reply;
    ProtobufCMessage *out = NULL;
    kt_call_opts_t opts = {.timeout_ms = S_CALL_MS, .retry = true};
    int status = kt_client_call(self->rpc, "receivables", "CreditStatus", &req.base,
                                &kontor__receivables__credit_status_reply__descriptor, &out,
                                &opts, &reply);
    if (status == KT_OK && out) {
        const Kontor__Receivables__CreditStatusReply *rep =
            (const Kontor__Receivables__CreditStatusReply *) out;
        for (size_t k = 0; k < rep->n_items; k++) {
            const Kontor__Receivables__CreditReply *it = rep->items[k];
            if (it->status != KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_CONFIRMED
                && it->status != KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_INVOICED)
                continue;
            for (size_t i = 0; i < n; i++)
                if (ids[i] == it->order_id)
                    done[i] = true;
        }
    }
    kt_msg_free(out);
    kt_reply_clear(&reply);
}

static int s_confirm(s_sweeper_t *self)
{
    char after[16];
    snprintf(after, sizeof after, "%d", self->ctx.conf->confirm_after_s);
    const char *params[] = {after};
    PGresult *res = kt_pg_exec(self->pg, &orders_sql_unconfirmed, params);
    if (!res)
        return 0;
    int n = PQntuples(res);
    //  Credit first, for the whole round at once: in the common case
    //  receivables confirmed every one of them long ago, and one call says so.
    int64_t *ids = calloc((size_t) (n ? n : 1), sizeof *ids);
    int64_t *asked = calloc((size_t) (n ? n : 1), sizeof *asked);
    bool *seen = calloc((size_t) (n ? n : 1), sizeof *seen);
    bool *cflag = calloc((size_t) (n ? n : 1), sizeof *cflag);
    bool *sflag = calloc((size_t) (n ? n : 1), sizeof *sflag);
    int marked = 0;
    size_t nasked = 0;
    if (!cflag || !sflag)
        n = 0;
    for (int r = 0; ids && asked && seen && r < n; r++) {
        ids[r] = kt_pg_i64(res, r, 0);
        if (strcmp(kt_pg_text(res, r, 1), "t") != 0)
            asked[nasked++] = ids[r];
    }
    //  Not when stopping: the services asked may be going away too, and a
    //  stop must not wait for their silence.
    if (ids && asked && seen && !s_stopping(self))
        s_credit_seen(self, asked, nasked, seen);
    for (int r = 0; ids && asked && seen && r < n && !s_stopping(self); r++) {
        int64_t id = ids[r];
        bool credit = strcmp(kt_pg_text(res, r, 1), "t") == 0;
        bool stock = strcmp(kt_pg_text(res, r, 2), "t") == 0;
        for (size_t k = 0; !credit && k < nasked; k++)
            credit = asked[k] == id && seen[k];
        if (!credit) {
            Kontor__Receivables__CreditRequest req = KONTOR__RECEIVABLES__CREDIT_REQUEST__INIT;
            req.order_id = id;
            req.reason = (char *) "order confirmed";
            credit = s_confirm_one(self, "receivables", "ConfirmCredit", &req.base, id) == 1;
        }
        if (!stock) {
            Kontor__Logistics__ReservationRequest req =
                KONTOR__LOGISTICS__RESERVATION_REQUEST__INIT;
            req.order_id = id;
            req.reason = (char *) "order confirmed";
            stock = s_confirm_one(self, "logistics", "ConfirmReservation", &req.base, id) == 1;
        }
        cflag[r] = credit;
        sflag[r] = stock;
        marked = r + 1;
    }
    //  The round's marks in one statement.
    if (marked > 0) {
        char *a_id = orders_sql_i64s(ids, (size_t) marked);
        char *a_c = orders_sql_bools_at(cflag, sizeof *cflag, (size_t) marked);
        char *a_s = orders_sql_bools_at(sflag, sizeof *sflag, (size_t) marked);
        const char *cp[] = {a_id, a_c, a_s};
        if (a_id && a_c && a_s)
            PQclear(kt_pg_exec(self->pg, &orders_sql_confirmed_many, cp));
        free(a_id);
        free(a_c);
        free(a_s);
    }
    free(cflag);
    free(sflag);
    free(ids);
    free(asked);
    free(seen);
    PQclear(res);
    return n;
}

static void s_release(s_sweeper_t *self)
{
    PGresult *res = kt_pg_exec(self->pg, &orders_sql_release_due, NULL);
    if (!res)
        return;
    for (int r = 0; r < PQntuples(res) && !s_stopping(self); r++) {
        int64_t id = kt_pg_i64(res, r, 0);
        s_refresh_ctx(self);
        if (orders_engine_release(&self->ctx, id, "order not placed") == 0)
            s_exec_id(self, &orders_sql_release_done, id);
    }
    PQclear(res);
}

static void s_undo(s_sweeper_t *self)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", self->ctx.conf->pending_timeout_s);
    const char *params[] = {timeout};
    PGresult *res = kt_pg_exec(self->pg, &orders_sql_stale_pending, params);
    if (!res)
        return;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t id = kt_pg_i64(res, r, 0);
        char sid[24];
        snprintf(sid, sizeof sid, "%lld", (long long) id);
        const char *p[] = {sid};
        PGresult *lock = kt_pg_exec(self->pg, &orders_sql_try_lock, p);
        bool got = lock && strcmp(kt_pg_text(lock, 0, 0), "t") == 0;
        PQclear(lock);
        if (!got)
            continue;   //  its placer is alive and working
        PGresult *u = kt_pg_exec(self->pg, &orders_sql_undo, p);
        if (u && PQntuples(u) > 0)
            kt_warn("order %lld was left pending; undone", (long long) id);
        PQclear(u);
        PQclear(kt_pg_exec(self->pg, &orders_sql_unlock, p));
    }
    PQclear(res);
}

//  True when every line of the order can be had now.
static bool s_all_available(s_sweeper_t *self, const orders_order_t *o)
{
    size_t n = o->nlines;
    int64_t *v = calloc(n * 4 + 1, sizeof *v);
    if (!v)
        return false;
    int64_t *qty = v + n, *avail = v + 2 * n, *ship = v + 3 * n;
    for (size_t i = 0; i < n; i++) {
        v[i] = o->lines[i].p.sku;
        qty[i] = o->lines[i].p.qty;
    }
    orders_availability(&self->ctx, o->warehouse_id, v, n, avail);
    bool all = orders_allocate(v, qty, avail, n, ship) == 0;
    free(v);
    return all;
}

static void s_backorders(s_sweeper_t *self)
{
    char recheck[16];
    snprintf(recheck, sizeof recheck, "%d", S_RECHECK_S);
    const char *rp[] = {recheck};
    PQclear(kt_pg_exec(self->pg, &orders_sql_bo_recheck, rp));
    PGresult *res = kt_pg_exec(self->pg, &orders_sql_bo_ready, NULL);
    if (!res)
        return;
    for (int r = 0; r < PQntuples(res) && !s_stopping(self); r++) {
        int64_t id = kt_pg_i64(res, r, 0);
        orders_order_t o;
        if (orders_order_load(self->pg, id, &o) <= 0)
            continue;
        s_refresh_ctx(self);
        bool ready = o.status == ORDERS_BACK_ORDER && s_all_available(self, &o);
        orders_order_clear(&o);
        if (!ready) {
            s_exec_id(self, &orders_sql_bo_unready, id);
            continue;
        }
        if (orders_engine_claim(&self->ctx, id, ORDERS_BACK_ORDER, "", &o) != 1)
            continue;
        kt_info("back-order %lld: goods arrived, placing it as order %lld", (long long) id,
                (long long) o.order_id);
        s_refresh_ctx(self);
        orders_engine_proceed(&self->ctx, &o);
        orders_order_clear(&o);
    }
    PQclear(res);
}

static void s_round(s_sweeper_t *self)
{
    if (kt_pg_ensure(self->pg) != 0) {
        self->leader = false;
        return;
    }
    if (!self->leader) {
        PGresult *res = kt_pg_exec(self->pg, &s_leader, NULL);
        self->leader = res && strcmp(kt_pg_text(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!self->leader)
            return;
        kt_info("this instance runs the orders sweeper");
    }
    s_refresh_ctx(self);
    s_confirm(self);
    if (!s_stopping(self))
        s_release(self);
    if (!s_stopping(self))
        s_undo(self);
    if (!s_stopping(self) && kt_now_ms() >= self->next_backorders) {
        self->next_backorders = kt_now_ms() + S_BACKORDER_EVERY_MS;
        s_backorders(self);
    }
    if (kt_pg_status(self->pg) == KT_UNAVAILABLE)
        self->leader = false;   //  a new connection holds no lock
}

static void s_actor(zsock_t *pipe, void *args)
{
    s_sweeper_t self_s, *self = &self_s;
    memset(self, 0, sizeof *self);
    self->svc = args;
    self->pipe = pipe;
    const kt_config_t *cfg = kt_service_config(self->svc);
    const orders_conf_t *conf = orders_conf(self->svc);
    self->pg = kt_pg_new(cfg->pg_dsn);
    self->rpc = kt_client_new(cfg);
    self->redis = kt_redis_new(cfg->redis_host, cfg->redis_port, cfg->redis_password, 200);
    if (self->pg && kt_pg_command(self->pg, "SET search_path TO \"orders\", pg_catalog") != 0)
        kt_pg_destroy(&self->pg);
    zsock_signal(pipe, self->pg && self->rpc ? 0 : 1);
    if (!self->pg || !self->rpc)
        goto cleanup;
    self->ctx = (orders_ctx_t){.pg = self->pg, .rpc = self->rpc, .redis = self->redis,
                               .conf = conf, .request_id = "sweeper"};
    while (!self->terminated) {
        zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, conf->sweep_ms) < 0)
            break;
        if ((item.revents & ZMQ_POLLIN) && s_stopping(self))
            break;
        s_round(self);
    }
cleanup:
    kt_redis_destroy(&self->redis);
    kt_client_destroy(&self->rpc);
    kt_pg_destroy(&self->pg);
}

zactor_t *orders_sweeper_new(kt_service_t *svc)
{
    zactor_t *actor = zactor_new(s_actor, svc);
    if (!actor)
        return NULL;
    return actor;
}
