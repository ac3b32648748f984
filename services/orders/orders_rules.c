/*  orders_rules - request checks, pricing, authority and short-line split.
 *
 *  Pure: no I/O, no globals. The order of the pricing steps is the
 *  contract written in orders_rules.h; tests/unit/test_orders_rules.c holds
 *  it to its examples.
 */
#include "orders_rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kt_money.h"
#include "kt_status.h"
#include "kt_validate.h"

#define S_MAX_ADDRESS 500
#define S_MAX_NOTE 1000

static int s_fault(orders_fault_t *fault, int status, const char *field, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int s_fault(orders_fault_t *fault, int status, const char *field, const char *reason,
                   const char *fmt, ...)
{
    fault->status = status;
    snprintf(fault->field, sizeof fault->field, "%s", field ? field : "");
    fault->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fault->message, sizeof fault->message, fmt, ap);
    va_end(ap);
    return -1;
}

int orders_check_request(const orders_request_t *req, int32_t today, size_t max_lines,
                         int32_t *delivery_days, orders_fault_t *fault)
{
    char why[200], field[64];
    *delivery_days = -1;
    if (kt_check_id("client_id", req->client_id, why, sizeof why) != 0)
        return s_fault(fault, KT_INVALID_ARGUMENT, "client_id", NULL, "%s", why);
    if (kt_check_id("warehouse_id", req->warehouse_id, why, sizeof why) != 0)
        return s_fault(fault, KT_INVALID_ARGUMENT, "warehouse_id", NULL, "%s", why);
    if (req->nlines == 0)
        return s_fault(fault, KT_INVALID_ARGUMENT, "lines", NULL,
                       "an order needs at least one line");
    if (req->nlines > max_lines)
        return s_fault(fault, KT_INVALID_ARGUMENT, "lines", NULL,
                       "an order may have at most %zu lines: %zu", max_lines, req->nlines);
    for (size_t i = 0; i < req->nlines; i++) {
        const orders_line_req_t *l = &req->lines[i];
        snprintf(field, sizeof field, "lines[%zu].sku", i);
        if (kt_check_id("sku", l->sku, why, sizeof why) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
        for (size_t j = 0; j < i; j++)
            if (req->lines[j].sku == l->sku)
                return s_fault(fault, KT_INVALID_ARGUMENT, field, "duplicate_line",
                               "sku %lld appears on lines %zu and %zu", (long long) l->sku, j,
                               i);
        snprintf(field, sizeof field, "lines[%zu].qty", i);
        if (kt_check_qty("quantity", l->qty, ORDERS_MAX_QTY, why, sizeof why) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
        snprintf(field, sizeof field, "lines[%zu].extra_discount_bp", i);
        if (kt_check_bp("extra discount", l->extra_bp, why, sizeof why) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    }
    if (kt_check_bp("extra discount", req->extra_bp, why, sizeof why) != 0)
        return s_fault(fault, KT_INVALID_ARGUMENT, "extra_discount_bp", NULL, "%s", why);
    if (req->delivery_date && req->delivery_date[0]) {
        int32_t days;
        if (kt_check_date("delivery date", req->delivery_date, &days, why, sizeof why) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, "delivery_date", NULL, "%s", why);
        if (days < today)
            return s_fault(fault, KT_INVALID_ARGUMENT, "delivery_date", NULL,
                           "delivery date is in the past: %s", req->delivery_date);
        *delivery_days = days;
    }
    if (req->address
        && kt_check_text("address", req->address, 0, S_MAX_ADDRESS, why, sizeof why) != 0)
        return s_fault(fault, KT_INVALID_ARGUMENT, "address", NULL, "%s", why);
    if (req->note && kt_check_text("note", req->note, 0, S_MAX_NOTE, why, sizeof why) != 0)
        return s_fault(fault, KT_INVALID_ARGUMENT, "note", NULL, "%s", why);
    if (req->short_policy < ORDERS_SHORT_DEFAULT || req->short_policy > ORDERS_WAIT_FOR_ALL)
        return s_fault(fault, KT_INVALID_ARGUMENT, "short_policy", NULL,
                       "short policy is not known: %d", req->short_policy);
    return 0;
}

//  ---------------------------------------------------------------- pricing

static bool s_promo_matches(const orders_promo_t *p, const orders_line_in_t *line, int32_t day,
                            int64_t subtotal)
{
    if (day < p->from_days || day > p->to_days)
        return false;
    switch (p->scope) {
    case ORDERS_SCOPE_ALL:
        break;
    case ORDERS_SCOPE_SKU:
        if (line->sku != p->scope_id)
            return false;
        break;
    case ORDERS_SCOPE_GROUP:
        if (line->group == 0 || line->group != p->scope_id)
            return false;
        break;
    default:
        return false;
    }
    if (p->min_qty > 0 && line->qty < p->min_qty)
        return false;
    if (p->min_order_value > 0 && subtotal < p->min_order_value)
        return false;
    return true;
}

//  True if a should be preferred to b among percent promotions.
static bool s_promo_better(const orders_promo_t *a, const orders_promo_t *b)
{
    if (a->percent_bp != b->percent_bp)
        return a->percent_bp > b->percent_bp;
    if (a->priority != b->priority)
        return a->priority < b->priority;
    return a->id < b->id;
}

size_t orders_price_capacity(const orders_pricing_t *ctx, size_t n)
{
    size_t free_promos = 0;
    for (size_t k = 0; k < ctx->npromos; k++)
        if (ctx->promos[k].kind == ORDERS_PROMO_FREE)
            free_promos++;
    return n + n * free_promos;
}

//  Apply one discount step to *price, recording it on the line.
static int s_step(orders_line_t *line, int kind, int32_t bp, int64_t promo_id, int64_t *price)
{
    if (bp <= 0)
        return 0;
    int64_t after;
    if (kt_money_discount(*price, bp, &after) != 0)
        return -1;
    orders_adj_t *a = &line->adj[line->nadj++];
    a->kind = kind;
    a->bp = bp;
    a->per_unit = *price - after;
    a->promo_id = promo_id;
    *price = after;
    return 0;
}

int orders_price(const orders_pricing_t *ctx, const orders_line_in_t *in, size_t n,
                 orders_line_t *out, size_t cap, size_t *nout, int64_t *list_total,
                 int64_t *total, orders_fault_t *fault)
{
    char field[64];
    //  Step 2 first over all lines: promotions' order value is measured on
    //  the subtotal after the client's discount.
    int64_t subtotal = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].has_price) {
            snprintf(field, sizeof field, "lines[%zu].sku", i);
            return s_fault(fault, KT_FAILED_PRECONDITION, field, "no_price",
                           "sku %lld has no price in the client's price column",
                           (long long) in[i].sku);
        }
        int64_t after, line;
        snprintf(field, sizeof field, "lines[%zu].qty", i);
        if (kt_money_discount(in[i].list_price, ctx->client_bp, &after) != 0
            || kt_money_line(after, in[i].qty, &line) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, field, NULL,
                           "the line's total would overflow: %lld units at %lld",
                           (long long) in[i].qty, (long long) in[i].list_price);
        if (kt_add_i64(subtotal, line, &subtotal) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, "lines", NULL,
                           "the order's total would overflow at line %zu", i);
    }
    size_t k = 0;
    int64_t lt = 0, tt = 0;
    for (size_t i = 0; i < n; i++) {
        if (k >= cap)
            return s_fault(fault, KT_INTERNAL, "lines", NULL, "too many priced lines");
        orders_line_t *line = &out[k++];
        memset(line, 0, sizeof *line);
        line->sku = in[i].sku;
        line->qty = in[i].qty;
        line->list_price = in[i].list_price;
        line->src = (int) i;
        int64_t price = in[i].list_price;
        snprintf(field, sizeof field, "lines[%zu].qty", i);
        line->client_bp = ctx->client_bp;
        if (s_step(line, ORDERS_ADJ_CLIENT, ctx->client_bp, 0, &price) != 0)
            goto overflow;
        const orders_promo_t *best = NULL;
        for (size_t p = 0; p < ctx->npromos; p++) {
            const orders_promo_t *promo = &ctx->promos[p];
            if (promo->kind != ORDERS_PROMO_PERCENT || promo->percent_bp <= 0
                || !s_promo_matches(promo, &in[i], ctx->day, subtotal))
                continue;
            if (!best || s_promo_better(promo, best))
                best = promo;
        }
        if (best) {
            line->promo_id = best->id;
            line->promo_bp = best->percent_bp;
            if (s_step(line, ORDERS_ADJ_PROMO, best->percent_bp, best->id, &price) != 0)
                goto overflow;
        }
        line->extra_bp = in[i].extra_bp > 0 ? in[i].extra_bp : ctx->extra_bp;
        if (s_step(line, ORDERS_ADJ_EXTRA, line->extra_bp, 0, &price) != 0)
            goto overflow;
        line->unit_price = price;
        int64_t at_list;
        if (kt_money_line(price, line->qty, &line->line_total) != 0
            || kt_money_line(line->list_price, line->qty, &at_list) != 0)
            goto overflow;
        if (kt_add_i64(tt, line->line_total, &tt) != 0 || kt_add_i64(lt, at_list, &lt) != 0)
            return s_fault(fault, KT_INVALID_ARGUMENT, "lines", NULL,
                           "the order's total would overflow at line %zu", i);
        continue;
    overflow:
        return s_fault(fault, KT_INVALID_ARGUMENT, field, NULL,
                       "the line's total would overflow: %lld units at %lld",
                       (long long) in[i].qty, (long long) in[i].list_price);
    }
    //  Free goods, after every ordered line.
    for (size_t i = 0; i < n; i++) {
        for (size_t p = 0; p < ctx->npromos; p++) {
            const orders_promo_t *promo = &ctx->promos[p];
            if (promo->kind != ORDERS_PROMO_FREE || promo->min_qty < 1 || promo->free_qty < 1
                || !s_promo_matches(promo, &in[i], ctx->day, subtotal))
                continue;
            int64_t qty;
            if (kt_mul_i64(in[i].qty / promo->min_qty, promo->free_qty, &qty) != 0
                || qty > ORDERS_MAX_QTY) {
                snprintf(field, sizeof field, "lines[%zu].qty", i);
                return s_fault(fault, KT_INVALID_ARGUMENT, field, NULL,
                               "free goods for line %zu would be too many", i);
            }
            if (qty <= 0)
                continue;
            if (k >= cap)
                return s_fault(fault, KT_INTERNAL, "lines", NULL, "too many priced lines");
            orders_line_t *line = &out[k++];
            memset(line, 0, sizeof *line);
            line->sku = promo->free_sku > 0 ? promo->free_sku : in[i].sku;
            line->qty = qty;
            line->list_price = line->sku == in[i].sku ? in[i].list_price : 0;
            line->free = true;
            line->src = (int) i;
            line->promo_id = promo->id;
            line->adj[0].kind = ORDERS_ADJ_FREE;
            line->adj[0].per_unit = line->list_price;
            line->adj[0].promo_id = promo->id;
            line->nadj = 1;
        }
    }
    *nout = k;
    *list_total = lt;
    *total = tt;
    return 0;
}

int32_t orders_max_extra_bp(const orders_line_req_t *lines, size_t n, int32_t order_bp)
{
    int32_t max = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t bp = lines[i].extra_bp > 0 ? lines[i].extra_bp : order_bp;
        if (bp > max)
            max = bp;
    }
    return max;
}

size_t orders_allocate(const int64_t *sku, const int64_t *qty, const int64_t *avail, size_t n,
                       int64_t *ship)
{
    size_t short_lines = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t left = avail[i] > 0 ? avail[i] : 0;
        for (size_t j = 0; j < i; j++)
            if (sku[j] == sku[i])
                left -= ship[j];
        if (left < 0)
            left = 0;
        ship[i] = qty[i] <= left ? qty[i] : left;
        if (ship[i] < qty[i])
            short_lines++;
    }
    return short_lines;
}

int orders_merge_skus(const int64_t *sku, const int64_t *qty, size_t n, int64_t *sku_out,
                      int64_t *qty_out)
{
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int j = 0;
        while (j < m && sku_out[j] != sku[i])
            j++;
        if (j == m) {
            sku_out[m] = sku[i];
            qty_out[m++] = qty[i];
        } else if (kt_add_i64(qty_out[j], qty[i], &qty_out[j]) != 0)
            return -1;
    }
    return m;
}

char *orders_bp_text(int32_t bp, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%02d%%", bp / 100, bp % 100);
    return buf;
}

const char *orders_status_name(int status)
{
    static const char *const names[] = {
        "UNSPECIFIED",      "PENDING", "CONFIRMED",           "PENDING_APPROVAL",
        "BACK_ORDER",       "REJECTED", "CANCELLED",          "PARTIALLY_SHIPPED",
        "SHIPPED",          "PARTIALLY_DELIVERED", "DELIVERED", "REPLACED",
    };
    if (status < 0 || status >= (int) (sizeof names / sizeof names[0]))
        return "UNSPECIFIED";
    return names[status];
}
