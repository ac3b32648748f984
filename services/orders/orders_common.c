/*  orders_common - what several method families share: an order loaded
 *  from the database, turned into its protobuf form, dates, and a small
 *  arena for the pointers a generated message holds.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_log.h"
#include "kt_money.h"
#include "kt_validate.h"
#include "orders_internal.h"

//  ---------------------------------------------------------------- arena

typedef struct s_block {
    struct s_block *next;
    max_align_t data[];
} s_block_t;

struct orders_arena {
    s_block_t *blocks;
};

orders_arena_t *orders_arena_new(void)
{
    return calloc(1, sizeof(orders_arena_t));
}

void orders_arena_destroy(orders_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_block_t *b = (*self_p)->blocks;
    while (b) {
        s_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(*self_p);
    *self_p = NULL;
}

//  Zeroed memory that lives as long as the arena; NULL when out of memory.
void *orders_arena_alloc(orders_arena_t *self, size_t size)
{
    s_block_t *b = calloc(1, sizeof *b + (size ? size : 1));
    if (!b)
        return NULL;
    b->next = self->blocks;
    self->blocks = b;
    return b->data;
}

//  ---------------------------------------------------------------- dates

int32_t orders_today(void)
{
    return (int32_t) (time(NULL) / 86400);
}

void orders_date_text(int32_t days, char *buf)
{
    int y, m, d;
    kt_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
}

//  ---------------------------------------------------------------- orders

void orders_order_clear(orders_order_t *o)
{
    free(o->lines);
    free(o->address);
    free(o->note);
    memset(o, 0, sizeof *o);
}

void orders_priced_clear(orders_priced_t *p)
{
    free(p->lines);
    memset(p, 0, sizeof *p);
}

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

int orders_order_row(const PGresult *res, int r, orders_order_t *o)
{
    memset(o, 0, sizeof *o);
    int c = 0;
    o->order_id = kt_pg_i64(res, r, c++);
    o->client_id = kt_pg_i64(res, r, c++);
    o->manager_id = kt_pg_i64(res, r, c++);
    o->branch_id = kt_pg_i64(res, r, c++);
    o->warehouse_id = kt_pg_i64(res, r, c++);
    o->status = (int) kt_pg_i64(res, r, c++);
    o->undo_status = (int) kt_pg_i64(res, r, c++);
    s_copy(o->reason, sizeof o->reason, kt_pg_text(res, r, c++));
    s_copy(o->reason_text, sizeof o->reason_text, kt_pg_text(res, r, c++));
    s_copy(o->currency, sizeof o->currency, kt_pg_text(res, r, c++));
    o->list_total = kt_pg_i64(res, r, c++);
    o->total = kt_pg_i64(res, r, c++);
    o->extra_bp = (int32_t) kt_pg_i64(res, r, c++);
    o->short_policy = (int) kt_pg_i64(res, r, c++);
    s_copy(o->delivery_date, sizeof o->delivery_date, kt_pg_text(res, r, c++));
    o->delivery_method = (int) kt_pg_i64(res, r, c++);
    o->address = strdup(kt_pg_text(res, r, c++));
    o->note = strdup(kt_pg_text(res, r, c++));
    s_copy(o->placed_by, sizeof o->placed_by, kt_pg_text(res, r, c++));
    s_copy(o->approved_by, sizeof o->approved_by, kt_pg_text(res, r, c++));
    o->created_at_ms = kt_pg_i64(res, r, c++);
    o->confirmed_at_ms = kt_pg_i64(res, r, c++);
    o->parent_id = kt_pg_i64(res, r, c++);
    o->replaced_by = kt_pg_i64(res, r, c++);
    s_copy(o->expected_date, sizeof o->expected_date, kt_pg_text(res, r, c++));
    o->called_out = strcmp(kt_pg_text(res, r, c++), "t") == 0;
    o->backorder_id = kt_pg_i64(res, r, c++);
    o->shipped_qty = kt_pg_i64(res, r, c++);
    o->delivered_qty = kt_pg_i64(res, r, c++);
    o->created_us = kt_pg_i64(res, r, c++);
    return o->address && o->note ? 0 : -1;
}

int orders_order_load(kt_pg_t *pg, int64_t order_id, orders_order_t *o)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) order_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &orders_sql_get, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    int rc = orders_order_row(res, 0, o);
    PQclear(res);
    if (rc != 0) {
        orders_order_clear(o);
        return -1;
    }
    res = kt_pg_exec(pg, &orders_sql_get_lines, params);
    if (!res) {
        orders_order_clear(o);
        return -1;
    }
    size_t n = (size_t) PQntuples(res);
    o->lines = calloc(n ? n : 1, sizeof *o->lines);
    if (!o->lines) {
        PQclear(res);
        orders_order_clear(o);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        orders_oline_t *l = &o->lines[i];
        int r = (int) i;
        l->p.sku = kt_pg_i64(res, r, 1);
        l->p.qty = kt_pg_i64(res, r, 2);
        l->p.list_price = kt_pg_i64(res, r, 3);
        l->p.unit_price = kt_pg_i64(res, r, 4);
        l->p.line_total = kt_pg_i64(res, r, 5);
        l->p.free = strcmp(kt_pg_text(res, r, 6), "t") == 0;
        l->p.client_bp = (int32_t) kt_pg_i64(res, r, 7);
        l->p.promo_id = kt_pg_i64(res, r, 8);
        l->p.promo_bp = (int32_t) kt_pg_i64(res, r, 9);
        l->p.extra_bp = (int32_t) kt_pg_i64(res, r, 10);
        l->available = kt_pg_i64(res, r, 11);
        s_copy(l->expected, sizeof l->expected, kt_pg_text(res, r, 12));
        //  The adjustments follow from what was applied, in pricing order.
        int64_t price = l->p.list_price;
        if (l->p.free) {
            l->p.adj[l->p.nadj++] = (orders_adj_t){ORDERS_ADJ_FREE, 0, price, l->p.promo_id};
            continue;
        }
        const struct {
            int kind;
            int32_t bp;
            int64_t promo;
        } steps[3] = {{ORDERS_ADJ_CLIENT, l->p.client_bp, 0},
                      {ORDERS_ADJ_PROMO, l->p.promo_bp, l->p.promo_id},
                      {ORDERS_ADJ_EXTRA, l->p.extra_bp, 0}};
        for (int k = 0; k < 3; k++) {
            int64_t after;
            if (steps[k].bp <= 0 || kt_money_discount(price, steps[k].bp, &after) != 0)
                continue;
            l->p.adj[l->p.nadj++] = (orders_adj_t){steps[k].kind, steps[k].bp, price - after,
                                                   steps[k].promo};
            price = after;
        }
    }
    o->nlines = n;
    PQclear(res);
    return 1;
}

//  ---------------------------------------------------------------- protobuf form

static const char *s_adj_text(const orders_adj_t *a, orders_arena_t *arena)
{
    char *buf = orders_arena_alloc(arena, 96);
    if (!buf)
        return "";
    char pct[16];
    orders_bp_text(a->bp, pct, sizeof pct);
    switch (a->kind) {
    case ORDERS_ADJ_CLIENT:
        snprintf(buf, 96, "client discount %s", pct);
        break;
    case ORDERS_ADJ_PROMO:
        snprintf(buf, 96, "promotion %lld: %s off", (long long) a->promo_id, pct);
        break;
    case ORDERS_ADJ_EXTRA:
        snprintf(buf, 96, "manager's extra discount %s", pct);
        break;
    default:
        snprintf(buf, 96, "free goods from promotion %lld", (long long) a->promo_id);
        break;
    }
    return buf;
}

Kontor__Orders__PricedLine *orders_line_pb(const orders_oline_t *l, orders_arena_t *arena)
{
    Kontor__Orders__PricedLine *pl = orders_arena_alloc(arena, sizeof *pl);
    if (!pl)
        return NULL;
    kontor__orders__priced_line__init(pl);
    pl->sku = l->p.sku;
    pl->qty = l->p.qty;
    pl->list_price = l->p.list_price;
    pl->unit_price = l->p.unit_price;
    pl->line_total = l->p.line_total;
    pl->free = l->p.free;
    pl->available = l->available;
    pl->expected_date = (char *) l->expected;
    pl->backordered = l->backordered;
    if (l->p.nadj > 0) {
        pl->adjustments = orders_arena_alloc(arena, sizeof *pl->adjustments * (size_t) l->p.nadj);
        Kontor__Orders__Adjustment *adj =
            orders_arena_alloc(arena, sizeof *adj * (size_t) l->p.nadj);
        if (!pl->adjustments || !adj)
            return NULL;
        for (int k = 0; k < l->p.nadj; k++) {
            kontor__orders__adjustment__init(&adj[k]);
            adj[k].kind = (Kontor__Orders__AdjustmentKind) l->p.adj[k].kind;
            adj[k].bp = l->p.adj[k].bp;
            adj[k].per_unit = l->p.adj[k].per_unit;
            adj[k].promotion_id = l->p.adj[k].promo_id;
            adj[k].reason = (char *) s_adj_text(&l->p.adj[k], arena);
            pl->adjustments[k] = &adj[k];
        }
        pl->n_adjustments = (size_t) l->p.nadj;
    }
    return pl;
}

Kontor__Orders__Order *orders_order_pb(const orders_order_t *o, orders_arena_t *arena)
{
    Kontor__Orders__Order *m = orders_arena_alloc(arena, sizeof *m);
    if (!m)
        return NULL;
    kontor__orders__order__init(m);
    m->order_id = o->order_id;
    m->client_id = o->client_id;
    m->manager_id = o->manager_id;
    m->branch_id = o->branch_id;
    m->warehouse_id = o->warehouse_id;
    m->status = (Kontor__Orders__OrderStatus) o->status;
    m->reason = (char *) o->reason;
    m->reason_text = (char *) o->reason_text;
    m->currency = (char *) o->currency;
    m->list_total = o->list_total;
    m->total = o->total;
    m->delivery_date = (char *) o->delivery_date;
    m->delivery_method = (Kontor__DeliveryMethod) o->delivery_method;
    m->address = o->address ? o->address : (char *) "";
    m->note = o->note ? o->note : (char *) "";
    m->short_policy = (Kontor__Orders__ShortPolicy) o->short_policy;
    m->extra_discount_bp = o->extra_bp;
    m->placed_by = (char *) o->placed_by;
    m->approved_by = (char *) o->approved_by;
    m->created_at_ms = o->created_at_ms;
    m->confirmed_at_ms = o->confirmed_at_ms;
    m->parent_order_id = o->parent_id;
    m->backorder_id = o->backorder_id;
    m->replaced_by = o->replaced_by;
    m->expected_date = (char *) o->expected_date;
    m->shipped_qty = o->shipped_qty;
    m->delivered_qty = o->delivered_qty;
    if (o->nlines > 0) {
        m->lines = orders_arena_alloc(arena, sizeof *m->lines * o->nlines);
        if (!m->lines)
            return NULL;
        for (size_t i = 0; i < o->nlines; i++) {
            m->lines[i] = orders_line_pb(&o->lines[i], arena);
            if (!m->lines[i])
                return NULL;
        }
        m->n_lines = o->nlines;
    }
    return m;
}
