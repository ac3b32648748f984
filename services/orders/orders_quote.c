/*  orders_quote - Quote: what an order would cost and what can be had,
 *  changing nothing.
 *
 *  Prices exactly as PlaceOrder does (orders_price.c). Availability for the
 *  lines and for what the client usually buys comes from Redis in one
 *  round trip (logistics for misses, or for all when Redis is down); short
 *  lines then get logistics' figure, the expected arrival and analogs in
 *  stock. Credit: the client's limit and hold as orders knows them;
 *  exposure belongs to receivables, which offers no read of it to other
 *  services, so `credit.known` is false and `fits` compares with the limit.
 */
#include <stdlib.h>
#include <string.h>

#include "kt_status.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"

#define S_SUGGEST_ASK 10    //  candidates from history
#define S_SUGGEST_GIVE 5    //  suggestions returned

int orders_quote(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__QuoteRequest *req = (const Kontor__Orders__QuoteRequest *) msg;
    orders_ctx_t ctx = {.pg = call->pg, .rpc = call->rpc, .redis = call->redis,
                        .conf = orders_conf(call->service), .request_id = call->request_id,
                        .deadline_ms = call->deadline_ms};
    orders_line_req_t *lines = calloc(req->n_lines ? req->n_lines : 1, sizeof *lines);
    if (!lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < req->n_lines; i++)
        lines[i] = (orders_line_req_t){req->lines[i]->sku, req->lines[i]->qty,
                                       req->lines[i]->extra_discount_bp};
    orders_request_t r = {req->client_id, req->warehouse_id, lines, req->n_lines,
                          req->extra_discount_bp, req->delivery_date, "", "", 0};
    orders_priced_t p;
    int rc = orders_price_or_reply(call, &r, NULL, &p);
    if (rc != 0) {
        free(lines);
        return rc;
    }
    orders_arena_t *arena = orders_arena_new();
    int64_t *skus = calloc(p.nlines + S_SUGGEST_ASK, sizeof *skus);
    int64_t *avail = calloc(p.nlines + S_SUGGEST_ASK, sizeof *avail);
    int64_t times[S_SUGGEST_ASK];
    ProtobufCMessage *details = NULL;
    if (!arena || !skus || !avail) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    //  The client's usual SKUs that are not on this order.
    size_t n = 0;
    for (size_t i = 0; i < p.nlines; i++) {
        size_t j = 0;
        while (j < n && skus[j] != p.lines[i].p.sku)
            j++;
        if (j == n)
            skus[n++] = p.lines[i].p.sku;
    }
    size_t nlines_skus = n;
    char *arr = orders_sql_i64s(skus, n);
    char id[24], lim[8];
    snprintf(id, sizeof id, "%lld", (long long) req->client_id);
    snprintf(lim, sizeof lim, "%d", S_SUGGEST_ASK);
    const char *hp[] = {id, arr, lim};
    PGresult *res = arr ? kt_pg_exec(call->pg, &orders_sql_history, hp) : NULL;
    free(arr);
    if (!res) {
        rc = kt_call_fail_pg(call, "read the client's history");
        goto done;
    }
    for (int i = 0; i < PQntuples(res) && i < S_SUGGEST_ASK; i++) {
        skus[n] = kt_pg_i64(res, i, 0);
        times[i] = kt_pg_i64(res, i, 1);
        n++;
    }
    PQclear(res);
    orders_availability(&ctx, req->warehouse_id, skus, n, avail);

    Kontor__Orders__QuoteReply rep = KONTOR__ORDERS__QUOTE_REPLY__INIT;
    rep.client_id = req->client_id;
    rep.currency = p.currency;
    rep.price_column = p.terms.price_column;
    rep.list_total = p.list_total;
    rep.total = p.total;
    rep.needs_approval = p.needs_approval;
    rep.authority_bp = p.authority_bp;
    rep.all_available = true;
    rep.lines = orders_arena_alloc(arena, sizeof *rep.lines * (p.nlines ? p.nlines : 1));
    int64_t short_skus[256];
    size_t nshort = 0;
    //  What each line can have, lines of one SKU taking from it in order.
    int64_t *lsku = orders_arena_alloc(arena, sizeof(int64_t) * 4 * (p.nlines ? p.nlines : 1));
    if (!rep.lines || !lsku) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    int64_t *lqty = lsku + p.nlines, *lav = lsku + 2 * p.nlines, *ship = lsku + 3 * p.nlines;
    for (size_t i = 0; i < p.nlines; i++) {
        lsku[i] = p.lines[i].p.sku;
        lqty[i] = p.lines[i].p.qty;
        lav[i] = -1;
        for (size_t j = 0; j < nlines_skus; j++)
            if (skus[j] == lsku[i])
                lav[i] = avail[j];
    }
    orders_allocate(lsku, lqty, lav, p.nlines, ship);
    for (size_t i = 0; i < p.nlines; i++) {
        p.lines[i].available = lav[i];
        if (ship[i] < lqty[i] && nshort < 256) {
            rep.all_available = false;
            short_skus[nshort++] = lsku[i];
        }
    }
    if (nshort > 0) {
        int status;
        details = orders_logistics_details(&ctx, req->warehouse_id, short_skus, nshort, &status);
    }
    const Kontor__Logistics__AvailabilityReply *det =
        (const Kontor__Logistics__AvailabilityReply *) details;
    for (size_t i = 0; i < p.nlines; i++) {
        orders_oline_t *l = &p.lines[i];
        Kontor__Orders__PricedLine *pl = NULL;
        const Kontor__Logistics__SkuAvailability *it = NULL;
        for (size_t k = 0; det && ship[i] < lqty[i] && k < det->n_items; k++)
            if (det->items[k]->sku == l->p.sku)
                it = det->items[k];
        if (it) {
            l->available = it->available;
            for (size_t a = 0; a < it->n_arrivals; a++)
                if (it->arrivals[a]->warehouse_id == req->warehouse_id
                    || it->arrivals[a]->warehouse_id == 0) {
                    snprintf(l->expected, sizeof l->expected, "%.10s", it->arrivals[a]->date);
                    break;
                }
        }
        pl = orders_line_pb(l, arena);
        if (!pl) {
            rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto done;
        }
        if (it && it->n_analogs > 0) {
            pl->analogs = orders_arena_alloc(arena, sizeof *pl->analogs * it->n_analogs);
            Kontor__Orders__AnalogInStock *an =
                orders_arena_alloc(arena, sizeof *an * it->n_analogs);
            if (!pl->analogs || !an) {
                rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
                goto done;
            }
            for (size_t a = 0; a < it->n_analogs; a++) {
                kontor__orders__analog_in_stock__init(&an[a]);
                an[a].sku = it->analogs[a]->sku;
                an[a].name = it->analogs[a]->name;
                an[a].available = it->analogs[a]->available;
                pl->analogs[pl->n_analogs++] = &an[a];
            }
        }
        rep.lines[rep.n_lines++] = pl;
    }
    //  Suggestions: usual SKUs in stock.
    rep.suggestions = orders_arena_alloc(arena, sizeof *rep.suggestions * S_SUGGEST_GIVE);
    Kontor__Orders__Suggestion *sg = orders_arena_alloc(arena, sizeof *sg * S_SUGGEST_GIVE);
    if (!rep.suggestions || !sg) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t j = nlines_skus; j < n && rep.n_suggestions < S_SUGGEST_GIVE; j++) {
        if (avail[j] <= 0)
            continue;
        Kontor__Orders__Suggestion *s = &sg[rep.n_suggestions];
        kontor__orders__suggestion__init(s);
        s->sku = skus[j];
        s->times_bought = times[j - nlines_skus];
        s->available = avail[j];
        rep.suggestions[rep.n_suggestions++] = s;
    }
    //  Credit as far as orders can tell.
    Kontor__Orders__Credit credit = KONTOR__ORDERS__CREDIT__INIT;
    Kontor__Money limit = KONTOR__MONEY__INIT;
    limit.units = p.terms.credit_limit;
    limit.currency = p.terms.currency;
    credit.limit = &limit;
    credit.on_hold = p.terms.on_hold;
    credit.known = false;
    credit.fits = !p.terms.on_hold && p.total <= p.terms.credit_limit;
    rep.credit = &credit;
    rc = kt_call_reply(call, &rep.base);
done:
    kt_msg_free(details);
    free(skus);
    free(avail);
    orders_arena_destroy(&arena);
    orders_priced_clear(&p);
    free(lines);
    return rc;
}
