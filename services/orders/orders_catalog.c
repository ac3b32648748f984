/*  orders_catalog - what prices are made of, kept by heads and admins:
 *  price lists and their columns (UpsertPriceList, SetPrices: many SKUs in
 *  one call and one statement), promotions (UpsertPromotion,
 *  ListPromotions) and discount authority (SetDiscountAuthority).
 */
#include <stdlib.h>
#include <string.h>

#include "kt_money.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "orders_internal.h"

#define S_MAX_PRICES 5000

static int s_check_period(kt_call_t *call, const char *from, const char *to,
                          const char *from_field, const char *to_field)
{
    char why[128];
    int32_t f, t;
    if (kt_check_date("valid from", from, &f, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, from_field, NULL, "%s", why);
    if (to[0]) {
        if (kt_check_date("valid to", to, &t, why, sizeof why) != 0)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, to_field, NULL, "%s", why);
        if (t < f)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, to_field, NULL,
                                "validity ends before it starts: %s to %s", from, to);
    }
    return 0;
}

int orders_upsert_price_list(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__UpsertPriceListRequest *req =
        (const Kontor__Orders__UpsertPriceListRequest *) msg;
    const Kontor__Orders__PriceList *l = req->list;
    char why[200];
    if (!l)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "list", NULL, "the price list is missing");
    if (l->price_list_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "list.price_list_id", NULL,
                            "price_list_id must not be negative: %lld",
                            (long long) l->price_list_id);
    if (kt_check_text("name", l->name, 1, 200, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "list.name", NULL, "%s", why);
    if (!kt_currency_valid(l->currency))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "list.currency", NULL,
                            "currency must be three upper-case letters");
    if (s_check_period(call, l->valid_from, l->valid_to, "list.valid_from", "list.valid_to")
        != 0)
        return -1;
    PGresult *res;
    bool created = l->price_list_id == 0;
    if (created) {
        const char *params[] = {l->name, l->currency, l->valid_from,
                                l->valid_to[0] ? l->valid_to : NULL, call->caller->name};
        res = kt_pg_exec(call->pg, &orders_sql_price_list_insert, params);
    } else {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long) l->price_list_id);
        const char *params[] = {id, l->name, l->currency, l->valid_from,
                                l->valid_to[0] ? l->valid_to : NULL, call->caller->name};
        res = kt_pg_exec(call->pg, &orders_sql_price_list_update, params);
    }
    if (!res) {
        if (kt_pg_status(call->pg) == KT_ALREADY_EXISTS)
            return kt_call_fail(call, KT_ALREADY_EXISTS, "list.name", NULL,
                                "a price list named so exists already");
        return kt_call_fail_pg(call, "save the price list");
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return kt_call_fail(call, KT_NOT_FOUND, "list.price_list_id", NULL,
                            "price list %lld does not exist", (long long) l->price_list_id);
    }
    Kontor__Orders__UpsertPriceListReply rep = KONTOR__ORDERS__UPSERT_PRICE_LIST_REPLY__INIT;
    Kontor__Orders__PriceList out = *l;
    out.price_list_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    rep.list = &out;
    rep.created = created;
    return kt_call_reply(call, &rep.base);
}

typedef struct {
    int64_t sku;
    char col;
    size_t at;
} s_key_t;

static int s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->sku != y->sku)
        return x->sku < y->sku ? -1 : 1;
    return (x->col > y->col) - (x->col < y->col);
}

typedef struct {
    const char *id;
    const char *const *prices;
    const char *const *groups;
} s_prices_tx_t;

static int s_prices_tx(kt_pg_t *pg, void *arg)
{
    s_prices_tx_t *t = arg;
    const char *p0[] = {t->id};
    PGresult *res = kt_pg_exec(pg, &orders_sql_price_list_exists, p0);
    if (!res)
        return -1;
    bool exists = PQntuples(res) > 0;
    PQclear(res);
    if (!exists)
        return 1;
    if (!(res = kt_pg_exec(pg, &orders_sql_set_prices, t->prices)))
        return -1;
    PQclear(res);
    if (!(res = kt_pg_exec(pg, &orders_sql_set_groups, t->groups)))
        return -1;
    PQclear(res);
    return 0;
}

int orders_set_prices(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__SetPricesRequest *req = (const Kontor__Orders__SetPricesRequest *) msg;
    char why[200], field[64];
    if (kt_check_id("price_list_id", req->price_list_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "price_list_id", NULL, "%s", why);
    if (req->n_prices == 0 || req->n_prices > S_MAX_PRICES)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "prices", NULL,
                            "a call sets 1 to %d prices: %zu", S_MAX_PRICES, req->n_prices);
    size_t n = req->n_prices;
    s_key_t *keys = calloc(n, sizeof *keys);
    int64_t *sku = calloc(n * 3, sizeof *sku);
    char *cols = calloc(n * 2 + 3, 1);
    int rc = -1;
    if (!keys || !sku || !cols) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    int64_t *price = sku + n, *group = sku + 2 * n;
    for (size_t i = 0; i < n; i++) {
        const Kontor__Orders__Price *p = req->prices[i];
        snprintf(field, sizeof field, "prices[%zu].sku", i);
        if (kt_check_id("sku", p->sku, why, sizeof why) != 0) {
            rc = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
            goto done;
        }
        snprintf(field, sizeof field, "prices[%zu].column", i);
        if (strlen(p->column) != 1 || p->column[0] < 'A' || p->column[0] > 'Z') {
            rc = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                              "a price column is one letter A to Z");
            goto done;
        }
        snprintf(field, sizeof field, "prices[%zu].price", i);
        if (kt_check_amount("price", p->price, 0, ORDERS_MAX_PRICE, why, sizeof why) != 0) {
            rc = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
            goto done;
        }
        snprintf(field, sizeof field, "prices[%zu].analog_group", i);
        if (p->analog_group < 0) {
            rc = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                              "analog group must not be negative: %lld",
                              (long long) p->analog_group);
            goto done;
        }
        keys[i] = (s_key_t){p->sku, p->column[0], i};
        sku[i] = p->sku;
        price[i] = p->price;
        group[i] = p->analog_group;
    }
    qsort(keys, n, sizeof *keys, s_key_cmp);
    for (size_t i = 1; i < n; i++)
        if (keys[i].sku == keys[i - 1].sku && keys[i].col == keys[i - 1].col) {
            snprintf(field, sizeof field, "prices[%zu].sku", keys[i].at);
            rc = kt_call_fail(call, KT_INVALID_ARGUMENT, field, "duplicate_line",
                              "sku %lld column %c appears twice", (long long) keys[i].sku,
                              keys[i].col);
            goto done;
        }
    //  "{A,B,...}": one letter each, no quoting needed.
    cols[0] = '{';
    for (size_t i = 0; i < n; i++) {
        cols[1 + 2 * i] = req->prices[i]->column[0];
        cols[2 + 2 * i] = i + 1 < n ? ',' : '}';
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) req->price_list_id);
    char *a_sku = orders_sql_i64s(sku, n), *a_price = orders_sql_i64s(price, n),
         *a_group = orders_sql_i64s(group, n);
    if (!a_sku || !a_price || !a_group) {
        free(a_sku);
        free(a_price);
        free(a_group);
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    //  One transaction: the list must exist, then every price and group.
    const char *p1[] = {id, a_sku, cols, a_price};
    const char *p2[] = {a_sku, a_group};
    s_prices_tx_t t = {id, p1, p2};
    int tx = kt_pg_tx(call->pg, 3, s_prices_tx, &t);
    free(a_sku);
    free(a_price);
    free(a_group);
    if (tx < 0)
        rc = kt_call_fail_pg(call, "save the prices");
    else if (tx == 1)
        rc = kt_call_fail(call, KT_NOT_FOUND, "price_list_id", NULL,
                          "price list %lld does not exist", (long long) req->price_list_id);
    else {
        Kontor__Orders__SetPricesReply rep = KONTOR__ORDERS__SET_PRICES_REPLY__INIT;
        rep.set = (uint32_t) n;
        rc = kt_call_reply(call, &rep.base);
    }
done:
    free(keys);
    free(sku);
    free(cols);
    return rc;
}

//  ---------------------------------------------------------------- promotions

static void s_promo_from_row(const PGresult *res, int r, Kontor__Orders__Promotion *p)
{
    kontor__orders__promotion__init(p);
    p->promotion_id = kt_pg_i64(res, r, 0);
    p->name = (char *) kt_pg_text(res, r, 1);
    p->kind = (Kontor__Orders__PromotionKind) kt_pg_i64(res, r, 2);
    p->scope = (Kontor__Orders__PromotionScope) kt_pg_i64(res, r, 3);
    p->scope_id = kt_pg_i64(res, r, 4);
    p->valid_from = (char *) kt_pg_text(res, r, 5);
    p->valid_to = (char *) kt_pg_text(res, r, 6);
    p->min_qty = kt_pg_i64(res, r, 7);
    p->min_order_value = kt_pg_i64(res, r, 8);
    p->percent_bp = (int32_t) kt_pg_i64(res, r, 9);
    p->free_sku = kt_pg_i64(res, r, 10);
    p->free_qty = kt_pg_i64(res, r, 11);
    p->priority = (int32_t) kt_pg_i64(res, r, 12);
    p->active = strcmp(kt_pg_text(res, r, 13), "t") == 0;
}

typedef struct {
    const Kontor__Orders__Promotion *p;
    const char *by;
    PGresult *res;
} s_promo_tx_t;

static int s_promo_tx(kt_pg_t *pg, void *arg)
{
    s_promo_tx_t *t = arg;
    const Kontor__Orders__Promotion *p = t->p;
    char id[24], kind[8], scope[8], sid[24], mq[24], mov[24], pct[16], fs[24], fq[24], prio[16];
    snprintf(id, sizeof id, "%lld", (long long) p->promotion_id);
    snprintf(kind, sizeof kind, "%d", (int) p->kind);
    snprintf(scope, sizeof scope, "%d", (int) p->scope);
    snprintf(sid, sizeof sid, "%lld", (long long) p->scope_id);
    snprintf(mq, sizeof mq, "%lld", (long long) p->min_qty);
    snprintf(mov, sizeof mov, "%lld", (long long) p->min_order_value);
    snprintf(pct, sizeof pct, "%d", p->percent_bp);
    snprintf(fs, sizeof fs, "%lld", (long long) p->free_sku);
    snprintf(fq, sizeof fq, "%lld", (long long) p->free_qty);
    snprintf(prio, sizeof prio, "%d", p->priority);
    const char *vt = p->valid_to[0] ? p->valid_to : NULL;
    PQclear(t->res);
    if (p->promotion_id == 0) {
        const char *params[] = {p->name, kind, scope, sid, p->valid_from, vt, mq, mov,
                                pct, fs, fq, prio, p->active ? "t" : "f", t->by};
        t->res = kt_pg_exec(pg, &orders_sql_promo_insert, params);
    } else {
        const char *params[] = {id, p->name, kind, scope, sid, p->valid_from, vt, mq,
                                mov, pct, fs, fq, prio, p->active ? "t" : "f", t->by};
        t->res = kt_pg_exec(pg, &orders_sql_promo_update, params);
    }
    if (!t->res)
        return -1;
    if (PQntuples(t->res) == 0)
        return 1;
    PGresult *bump = kt_pg_exec(pg, &orders_sql_promo_bump, NULL);
    if (!bump)
        return -1;
    PQclear(bump);
    return 0;
}

int orders_upsert_promotion(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__UpsertPromotionRequest *req =
        (const Kontor__Orders__UpsertPromotionRequest *) msg;
    const Kontor__Orders__Promotion *p = req->promotion;
    char why[200];
    if (!p)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion", NULL,
                            "the promotion is missing");
    if (p->promotion_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.promotion_id", NULL,
                            "promotion_id must not be negative");
    if (kt_check_text("name", p->name, 1, 60, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.name", NULL, "%s", why);
    if (p->kind != 1 && p->kind != 2)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.kind", NULL,
                            "a promotion is percent off or free goods");
    if (p->scope < 1 || p->scope > 3)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.scope", NULL,
                            "a promotion applies to all, a SKU or an analog group");
    if (p->scope != 1 && p->scope_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.scope_id", NULL,
                            "the SKU or group the promotion applies to is missing");
    if (s_check_period(call, p->valid_from, p->valid_to, "promotion.valid_from",
                       "promotion.valid_to")
        != 0)
        return -1;
    if (p->min_qty < 0 || p->min_qty > ORDERS_MAX_QTY)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.min_qty", NULL,
                            "minimum quantity out of range: %lld", (long long) p->min_qty);
    if (kt_check_amount("minimum order value", p->min_order_value, 0, INT64_MAX, why,
                        sizeof why)
        != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.min_order_value", NULL, "%s",
                            why);
    if (p->kind == 1 && (p->percent_bp < 1 || p->percent_bp > 10000))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.percent_bp", NULL,
                            "percent must be between 0.01%% and 100%%: %d bp", p->percent_bp);
    if (p->kind == 2 && (p->min_qty < 1 || p->free_qty < 1 || p->free_qty > ORDERS_MAX_QTY
                         || p->free_sku < 0))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "promotion.free_qty", NULL,
                            "free goods need a minimum quantity and a free quantity of at "
                            "least 1");
    s_promo_tx_t t = {p, call->caller->name, NULL};
    int tx = kt_pg_tx(call->pg, 3, s_promo_tx, &t);
    int rc;
    if (tx < 0)
        rc = kt_call_fail_pg(call, "save the promotion");
    else if (tx == 1)
        rc = kt_call_fail(call, KT_NOT_FOUND, "promotion.promotion_id", NULL,
                          "promotion %lld does not exist", (long long) p->promotion_id);
    else {
        Kontor__Orders__UpsertPromotionReply rep = KONTOR__ORDERS__UPSERT_PROMOTION_REPLY__INIT;
        Kontor__Orders__Promotion out;
        s_promo_from_row(t.res, 0, &out);
        rep.promotion = &out;
        rc = kt_call_reply(call, &rep.base);
    }
    PQclear(t.res);
    return rc;
}

int orders_list_promotions(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__ListPromotionsRequest *req =
        (const Kontor__Orders__ListPromotionsRequest *) msg;
    const char *params[] = {req->active_only ? "t" : "f"};
    PGresult *res = kt_pg_exec(call->pg, &orders_sql_promo_list, params);
    if (!res)
        return kt_call_fail_pg(call, "list promotions");
    int n = PQntuples(res);
    Kontor__Orders__Promotion *ps = calloc((size_t) (n ? n : 1), sizeof *ps);
    Kontor__Orders__Promotion **pp = calloc((size_t) (n ? n : 1), sizeof *pp);
    int rc;
    if (!ps || !pp)
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    else {
        for (int r = 0; r < n; r++) {
            s_promo_from_row(res, r, &ps[r]);
            pp[r] = &ps[r];
        }
        Kontor__Orders__ListPromotionsReply rep = KONTOR__ORDERS__LIST_PROMOTIONS_REPLY__INIT;
        rep.promotions = pp;
        rep.n_promotions = (size_t) n;
        rc = kt_call_reply(call, &rep.base);
    }
    free(ps);
    free(pp);
    PQclear(res);
    return rc;
}

int orders_set_authority(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__SetDiscountAuthorityRequest *req =
        (const Kontor__Orders__SetDiscountAuthorityRequest *) msg;
    char why[128];
    const char *role = req->role == KONTOR__PRINCIPAL_KIND__MANAGER ? "manager"
                       : req->role == KONTOR__PRINCIPAL_KIND__HEAD  ? "head"
                                                                    : NULL;
    if (!role)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "role", NULL,
                            "discount authority is set for managers or heads");
    if (kt_check_bp("max discount", req->max_bp, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "max_bp", NULL, "%s", why);
    char bp[16];
    snprintf(bp, sizeof bp, "%d", req->max_bp);
    const char *params[] = {role, bp, call->caller->name};
    PGresult *res = kt_pg_exec(call->pg, &orders_sql_authority_set, params);
    if (!res)
        return kt_call_fail_pg(call, "set the discount authority");
    PQclear(res);
    Kontor__Orders__SetDiscountAuthorityReply rep =
        KONTOR__ORDERS__SET_DISCOUNT_AUTHORITY_REPLY__INIT;
    rep.role = req->role;
    rep.max_bp = req->max_bp;
    return kt_call_reply(call, &rep.base);
}
