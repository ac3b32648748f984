/*  orders_price - from a request to priced lines: the client's terms (kept
 *  from clients' events, fetched on a miss), the prices of every line and
 *  the promotions' version in one query, the worker's promotions cache,
 *  ownership and status checks, then the pure pricing (orders_rules.c).
 *
 *  Quote and PlaceOrder both come through here, so a quote prices exactly
 *  as the order would.
 */
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_log.h"
#include "kt_status.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"

//  ---------------------------------------------------------------- terms

int orders_terms_fetch(orders_ctx_t *ctx, int64_t client_id, int *status)
{
    Kontor__Clients__GetTermsRequest req = KONTOR__CLIENTS__GET_TERMS_REQUEST__INIT;
    req.client_id = client_id;
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = ctx->conf->call_ms, .retry = true};
    *status = kt_client_call(ctx->rpc, "clients", "GetTerms", &req.base,
                             &kontor__clients__terms__descriptor, &out, &opts, &reply);
    int rc = -1;
    if (*status == KT_NOT_FOUND) {
        rc = 0;
    } else if (*status != KT_OK || !out) {
        kt_log(KT_LOG_WARN, ctx->request_id, "could not get terms of client %lld: %s: %s",
               (long long) client_id, kt_status_name(*status), reply.message);
    } else {
        const Kontor__Clients__Terms *t = (const Kontor__Clients__Terms *) out;
        char id[24], disc[16], pay[16], limit[24], policy[8], st[8], mgr[24], branch[24],
            version[24];
        snprintf(id, sizeof id, "%lld", (long long) client_id);
        snprintf(disc, sizeof disc, "%d", t->discount_bp);
        snprintf(pay, sizeof pay, "%d", t->payment_days);
        snprintf(limit, sizeof limit, "%lld",
                 (long long) (t->credit_limit ? t->credit_limit->units : 0));
        snprintf(policy, sizeof policy, "%d", (int) t->short_policy);
        snprintf(st, sizeof st, "%d", (int) t->status);
        snprintf(mgr, sizeof mgr, "%lld", (long long) t->manager_id);
        snprintf(branch, sizeof branch, "%lld", (long long) t->branch_id);
        snprintf(version, sizeof version, "%lld", (long long) t->version);
        const char *params[] = {id, t->price_column, disc, pay, limit,
                                t->credit_limit ? t->credit_limit->currency : "",
                                policy, st, mgr, branch, version};
        PGresult *res = kt_pg_exec(ctx->pg, &orders_sql_terms_upsert, params);
        if (res) {
            PQclear(res);
            rc = 1;
        } else
            *status = kt_pg_status(ctx->pg);
    }
    kt_msg_free(out);
    kt_reply_clear(&reply);
    return rc;
}

//  ---------------------------------------------------------------- promotions cache

static int s_promos_refresh(kt_pg_t *pg, orders_worker_t *w, int64_t version)
{
    if (w->promo_version == version && version != 0)
        return 0;
    PGresult *res = kt_pg_exec(pg, &orders_sql_promos, NULL);
    if (!res)
        return -1;
    size_t n = (size_t) PQntuples(res);
    orders_promo_t *promos = calloc(n ? n : 1, sizeof *promos);
    if (!promos) {
        PQclear(res);
        return -1;
    }
    int64_t seen = version;
    for (size_t i = 0; i < n; i++) {
        int r = (int) i;
        orders_promo_t *p = &promos[i];
        p->id = kt_pg_i64(res, r, 0);
        p->kind = (int) kt_pg_i64(res, r, 1);
        p->scope = (int) kt_pg_i64(res, r, 2);
        p->scope_id = kt_pg_i64(res, r, 3);
        p->from_days = (int32_t) kt_pg_i64(res, r, 4);
        p->to_days = (int32_t) kt_pg_i64(res, r, 5);
        p->min_qty = kt_pg_i64(res, r, 6);
        p->min_order_value = kt_pg_i64(res, r, 7);
        p->percent_bp = (int32_t) kt_pg_i64(res, r, 8);
        p->free_sku = kt_pg_i64(res, r, 9);
        p->free_qty = kt_pg_i64(res, r, 10);
        p->priority = (int32_t) kt_pg_i64(res, r, 11);
        snprintf(p->name, sizeof p->name, "%s", kt_pg_text(res, r, 12));
        seen = kt_pg_i64(res, r, 13);
    }
    PQclear(res);
    free(w->promos);
    w->promos = promos;
    w->npromos = n;
    //  A change between the two reads only makes the next call reload.
    w->promo_version = seen == version ? version : 0;
    return 0;
}

//  ---------------------------------------------------------------- pricing a request

static const char *s_role(const kt_call_t *call)
{
    switch (call->caller->kind) {
    case KT_KIND_MANAGER:
        return "manager";
    case KT_KIND_HEAD:
        return "head";
    default:
        return "none";  //  admin and services: no ceiling row, so 100 %
    }
}

//  Lines without a price: unknown products (logistics does not know them)
//  or a price column that lacks them. Replies; returns -1.
static int s_missing_price_reply(kt_call_t *call, orders_ctx_t *ctx, const orders_request_t *req,
                                 const orders_line_in_t *in)
{
    int64_t skus[1];
    size_t first = 0;
    while (first < req->nlines && in[first].has_price)
        first++;
    char field[64];
    snprintf(field, sizeof field, "lines[%zu].sku", first);
    skus[0] = in[first].sku;
    int status = KT_OK;
    ProtobufCMessage *out = orders_logistics_details(ctx, req->warehouse_id, skus, 1, &status);
    bool known = false;
    if (out) {
        const Kontor__Logistics__AvailabilityReply *rep =
            (const Kontor__Logistics__AvailabilityReply *) out;
        for (size_t i = 0; i < rep->n_items; i++)
            if (rep->items[i]->sku == skus[0])
                known = true;
        kt_msg_free(out);
    }
    if (!known && (status == KT_OK || status == KT_NOT_FOUND))
        return kt_call_fail(call, KT_NOT_FOUND, field, "unknown_sku", "sku %lld does not exist",
                            (long long) skus[0]);
    return kt_call_fail(call, KT_FAILED_PRECONDITION, field, "no_price",
                        "sku %lld has no price in the client's price column",
                        (long long) skus[0]);
}

int orders_price_or_reply(kt_call_t *call, const orders_request_t *req, const char *idem_key,
                          orders_priced_t *p)
{
    memset(p, 0, sizeof *p);
    orders_worker_t *w = call->local;
    orders_ctx_t ctx = {.pg = call->pg, .rpc = call->rpc, .redis = call->redis,
                        .conf = orders_conf(call->service), .request_id = call->request_id,
                        .deadline_ms = call->deadline_ms};
    orders_fault_t fault;
    int32_t today = orders_today();
    if (orders_check_request(req, today, ctx.conf->max_lines, &p->delivery_days, &fault) != 0)
        return kt_call_fail(call, fault.status, fault.field, fault.reason, "%s", fault.message);

    int64_t *skus = malloc(sizeof *skus * req->nlines);
    orders_line_in_t *in = calloc(req->nlines, sizeof *in);
    PGresult *res = NULL;
    int rc = -1;
    if (!skus || !in) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < req->nlines; i++)
        skus[i] = req->lines[i].sku;
    char *sku_array = orders_sql_i64s(skus, req->nlines);
    char id[24], day[11];
    snprintf(id, sizeof id, "%lld", (long long) req->client_id);
    orders_date_text(today, day);
    const char *params[] = {id, sku_array, day, idem_key && *idem_key ? idem_key : NULL,
                            s_role(call), idem_key ? "t" : "f"};
    for (int attempt = 0; attempt < 2; attempt++) {
        res = kt_pg_exec(call->pg, &orders_sql_load, params);
        if (!res || PQntuples(res) > 0 || attempt > 0)
            break;
        PQclear(res);
        res = NULL;
        int status;
        int found = orders_terms_fetch(&ctx, req->client_id, &status);
        if (found == 0) {
            free(sku_array);
            rc = kt_call_fail(call, KT_NOT_FOUND, "client_id", "unknown_client",
                              "client %lld does not exist", (long long) req->client_id);
            goto done;
        }
        if (found < 0) {
            free(sku_array);
            rc = kt_call_fail(call, status == KT_OK ? KT_UNAVAILABLE : status, NULL, NULL,
                              "could not get the client's terms; try again shortly");
            goto done;
        }
    }
    free(sku_array);
    if (!res) {
        rc = kt_call_fail_pg(call, "read the client's terms and prices");
        goto done;
    }
    if (PQntuples(res) == 0) {
        rc = kt_call_fail(call, KT_UNAVAILABLE, NULL, NULL,
                          "the client's terms are not available yet; try again shortly");
        goto done;
    }
    orders_terms_t *t = &p->terms;
    t->client_id = kt_pg_i64(res, 0, 0);
    snprintf(t->price_column, sizeof t->price_column, "%s", kt_pg_text(res, 0, 1));
    t->discount_bp = (int32_t) kt_pg_i64(res, 0, 2);
    t->credit_limit = kt_pg_i64(res, 0, 3);
    snprintf(t->currency, sizeof t->currency, "%s", kt_pg_text(res, 0, 4));
    t->short_policy = (int) kt_pg_i64(res, 0, 5);
    t->status = (int) kt_pg_i64(res, 0, 6);
    t->manager_id = kt_pg_i64(res, 0, 7);
    t->branch_id = kt_pg_i64(res, 0, 8);
    t->on_hold = strcmp(kt_pg_text(res, 0, 9), "t") == 0;
    p->next_id = kt_pg_i64(res, 0, 10);
    int64_t promo_version = kt_pg_i64(res, 0, 11);
    p->seen_id = kt_pg_i64(res, 0, 12);
    p->authority_bp = (int32_t) kt_pg_i64(res, 0, 13);
    if (p->seen_id > 0) {
        rc = 1;
        goto done;
    }
    if (!kt_call_acts_for(call, t->manager_id)) {
        rc = kt_call_fail(call, KT_PERMISSION_DENIED, "client_id", "not_owner",
                          "client %lld belongs to another manager", (long long) t->client_id);
        goto done;
    }
    if (t->status == 3 || t->status == 4) {
        rc = kt_call_fail(call, KT_FAILED_PRECONDITION, "client_id", "client_blocked",
                          "client %lld is %s", (long long) t->client_id,
                          t->status == 3 ? "blocked" : "archived");
        goto done;
    }
    if (s_promos_refresh(call->pg, w, promo_version) != 0) {
        rc = kt_call_fail_pg(call, "read the promotions");
        goto done;
    }
    //  Prices by SKU; every price of one order comes in one currency.
    p->currency[0] = 0;
    for (size_t i = 0; i < req->nlines; i++) {
        in[i].sku = req->lines[i].sku;
        in[i].qty = req->lines[i].qty;
        in[i].extra_bp = req->lines[i].extra_bp;
        for (int r = 0; r < PQntuples(res); r++) {
            if (kt_pg_isnull(res, r, 14) || kt_pg_i64(res, r, 14) != in[i].sku)
                continue;
            in[i].has_price = true;
            in[i].list_price = kt_pg_i64(res, r, 15);
            in[i].group = kt_pg_i64(res, r, 17);
            const char *cur = kt_pg_text(res, r, 16);
            if (!p->currency[0])
                snprintf(p->currency, sizeof p->currency, "%s", cur);
            else if (strcmp(p->currency, cur) != 0) {
                char field[64];
                snprintf(field, sizeof field, "lines[%zu].sku", i);
                rc = kt_call_fail(call, KT_FAILED_PRECONDITION, field, "currency_mismatch",
                                  "sku %lld is priced in %s, the order's other lines in %s",
                                  (long long) in[i].sku, cur, p->currency);
                goto done;
            }
        }
    }
    for (size_t i = 0; i < req->nlines; i++)
        if (!in[i].has_price) {
            rc = s_missing_price_reply(call, &ctx, req, in);
            goto done;
        }
    orders_pricing_t pricing = {t->discount_bp, req->extra_bp, today, w->promos, w->npromos};
    size_t cap = orders_price_capacity(&pricing, req->nlines);
    orders_line_t *out = calloc(cap, sizeof *out);
    p->lines = calloc(cap, sizeof *p->lines);
    if (!out || !p->lines) {
        free(out);
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    size_t n;
    if (orders_price(&pricing, in, req->nlines, out, cap, &n, &p->list_total, &p->total, &fault)
        != 0) {
        free(out);
        rc = kt_call_fail(call, fault.status, fault.field, fault.reason, "%s", fault.message);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        p->lines[i].p = out[i];
        p->lines[i].available = -1;
    }
    p->nlines = n;
    free(out);
    p->max_extra_bp = orders_max_extra_bp(req->lines, req->nlines, req->extra_bp);
    p->needs_approval = p->max_extra_bp > p->authority_bp;
    rc = 0;
done:
    PQclear(res);
    free(in);
    free(skus);
    return rc;
}
