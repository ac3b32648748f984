/*  logistics_logic - the logistics service's rules that need no I/O.
 */
#include "logistics_logic.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_money.h"
#include "kt_status.h"

static void s_problem(logistics_problem_t *p, int status, const char *reason, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void s_problem(logistics_problem_t *p, int status, const char *reason, const char *field,
                      const char *fmt, ...)
{
    p->status = status;
    p->reason = reason;
    snprintf(p->field, sizeof p->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
}

static int s_by_sku(const void *a, const void *b)
{
    const logistics_line_t *x = a, *y = b;
    if (x->sku != y->sku)
        return x->sku < y->sku ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void logistics_lines_sort(logistics_line_t *lines, size_t n)
{
    if (n > 1)
        qsort(lines, n, sizeof *lines, s_by_sku);
}

int logistics_lines_check(logistics_line_t *lines, size_t n, size_t max, const char *what,
                          bool signed_qty, logistics_problem_t *problem)
{
    char field[96];
    if (n == 0) {
        s_problem(problem, KT_INVALID_ARGUMENT, NULL, what, "%s must have at least one line",
                  what);
        return -1;
    }
    if (n > max) {
        s_problem(problem, KT_INVALID_ARGUMENT, NULL, what, "%s has %zu lines, at most %zu allowed",
                  what, n, max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const logistics_line_t *l = &lines[i];
        if (l->sku <= 0) {
            snprintf(field, sizeof field, "%s[%d].sku", what, l->index);
            s_problem(problem, KT_INVALID_ARGUMENT, NULL, field, "sku must be positive: %" PRId64,
                      l->sku);
            return -1;
        }
        const char *qname = signed_qty ? "delta" : "qty";
        snprintf(field, sizeof field, "%s[%d].%s", what, l->index, qname);
        if (signed_qty) {
            if (l->qty == 0) {
                s_problem(problem, KT_INVALID_ARGUMENT, NULL, field, "delta must not be zero");
                return -1;
            }
            if (l->qty > LOGISTICS_QTY_MAX || l->qty < -LOGISTICS_QTY_MAX) {
                s_problem(problem, KT_INVALID_ARGUMENT, NULL, field,
                          "delta is out of range: %" PRId64 " (at most %lld either way)", l->qty,
                          LOGISTICS_QTY_MAX);
                return -1;
            }
        } else {
            if (l->qty <= 0) {
                s_problem(problem, KT_INVALID_ARGUMENT, NULL, field,
                          "quantity must be positive: %" PRId64, l->qty);
                return -1;
            }
            if (l->qty > LOGISTICS_QTY_MAX) {
                s_problem(problem, KT_INVALID_ARGUMENT, NULL, field,
                          "quantity is too large: %" PRId64 " (at most %lld)", l->qty,
                          LOGISTICS_QTY_MAX);
                return -1;
            }
        }
    }
    logistics_lines_sort(lines, n);
    //  The same SKU twice: name the second of the pair that comes first in
    //  the request, so the caller sees the line to remove.
    int dup = -1;
    int64_t dup_sku = 0;
    for (size_t i = 1; i < n; i++)
        if (lines[i].sku == lines[i - 1].sku && (dup < 0 || lines[i].index < dup)) {
            dup = lines[i].index;
            dup_sku = lines[i].sku;
        }
    if (dup >= 0) {
        int first = -1;
        for (size_t i = 0; i < n; i++)
            if (lines[i].sku == dup_sku && (first < 0 || lines[i].index < first))
                first = lines[i].index;
        snprintf(field, sizeof field, "%s[%d].sku", what, dup);
        s_problem(problem, KT_INVALID_ARGUMENT, "duplicate_line", field,
                  "sku %" PRId64 " appears on %s[%d] and again on %s[%d]; put it on one line",
                  dup_sku, what, first, what, dup);
        return -1;
    }
    return 0;
}

char *logistics_fingerprint(int64_t warehouse_id, const logistics_line_t *sorted, size_t n)
{
    size_t size = 24 + n * 44;
    char *out = malloc(size);
    if (!out)
        return NULL;
    size_t at = (size_t) snprintf(out, size, "%" PRId64 ":", warehouse_id);
    for (size_t i = 0; i < n; i++)
        at += (size_t) snprintf(out + at, size - at, "%s%" PRId64 "*%" PRId64, i ? "," : "",
                                sorted[i].sku, sorted[i].qty);
    return out;
}

//  ------------------------------------------------------------ statuses

static const char *const s_ship_names[] = {NULL,         "requested", "picking",  "dispatched",
                                           "delivered",  "failed",    "cancelled"};
static const char *const s_res_names[] = {NULL,       "held",    "confirmed",
                                          "released", "expired", "consumed"};
static const char *const s_disc_names[] = {NULL, "shortage", "mis_sort", "damage"};

#define S_COUNT(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const char *s_name(const char *const *names, int count, int value)
{
    return value > 0 && value < count ? names[value] : NULL;
}

static int s_value(const char *const *names, int count, const char *name)
{
    for (int i = 1; name && i < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return 0;
}

const char *logistics_ship_status_name(int status)
{
    return s_name(s_ship_names, S_COUNT(s_ship_names), status);
}

int logistics_ship_status_from_name(const char *name)
{
    return s_value(s_ship_names, S_COUNT(s_ship_names), name);
}

const char *logistics_res_status_name(int status)
{
    return s_name(s_res_names, S_COUNT(s_res_names), status);
}

int logistics_res_status_from_name(const char *name)
{
    return s_value(s_res_names, S_COUNT(s_res_names), name);
}

const char *logistics_discrepancy_name(int kind)
{
    return s_name(s_disc_names, S_COUNT(s_disc_names), kind);
}

int logistics_discrepancy_from_name(const char *name)
{
    return s_value(s_disc_names, S_COUNT(s_disc_names), name);
}

//  The one table of shipment transitions: s_ship_next[from] is a mask of
//  the statuses it may go to.
#define S_BIT(s) (1u << (s))
static const unsigned s_ship_next[] = {
    [LOGISTICS_SHIP_REQUESTED] = S_BIT(LOGISTICS_SHIP_PICKING) | S_BIT(LOGISTICS_SHIP_DISPATCHED)
                                 | S_BIT(LOGISTICS_SHIP_CANCELLED),
    [LOGISTICS_SHIP_PICKING] = S_BIT(LOGISTICS_SHIP_DISPATCHED) | S_BIT(LOGISTICS_SHIP_CANCELLED)
                               | S_BIT(LOGISTICS_SHIP_FAILED),
    [LOGISTICS_SHIP_DISPATCHED] = S_BIT(LOGISTICS_SHIP_DELIVERED) | S_BIT(LOGISTICS_SHIP_FAILED),
    [LOGISTICS_SHIP_DELIVERED] = 0,
    [LOGISTICS_SHIP_FAILED] = 0,
    [LOGISTICS_SHIP_CANCELLED] = 0,
};

bool logistics_ship_transition_ok(int from, int to)
{
    if (from <= 0 || from >= S_COUNT(s_ship_next) || to <= 0 || to >= S_COUNT(s_ship_next))
        return false;
    return (s_ship_next[from] & S_BIT(to)) != 0;
}

//  ------------------------------------------------------------ stock plans

static int s_by_row(const void *a, const void *b)
{
    const logistics_delta_t *x = a, *y = b;
    if (x->warehouse_id != y->warehouse_id)
        return x->warehouse_id < y->warehouse_id ? -1 : 1;
    if (x->sku != y->sku)
        return x->sku < y->sku ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

long logistics_plan_merge(logistics_delta_t *deltas, size_t n, int *bad_index)
{
    if (n == 0)
        return 0;
    qsort(deltas, n, sizeof *deltas, s_by_row);
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        logistics_delta_t *last = &deltas[out];
        if (deltas[i].warehouse_id == last->warehouse_id && deltas[i].sku == last->sku) {
            if (kt_add_i64(last->d_on_hand, deltas[i].d_on_hand, &last->d_on_hand) != 0
                || kt_add_i64(last->d_reserved, deltas[i].d_reserved, &last->d_reserved) != 0) {
                if (bad_index)
                    *bad_index = deltas[i].index;
                return -1;
            }
        } else
            deltas[++out] = deltas[i];
    }
    return (long) out + 1;
}

logistics_plan_rc_t logistics_plan_check(const logistics_delta_t *d, int64_t *available)
{
    int64_t on_hand = d->found ? d->on_hand : 0;
    int64_t reserved = d->found ? d->reserved : 0;
    if (available)
        *available = on_hand - reserved;
    int64_t new_on, new_res;
    if (kt_add_i64(on_hand, d->d_on_hand, &new_on) != 0
        || kt_add_i64(reserved, d->d_reserved, &new_res) != 0)
        return LOGISTICS_PLAN_OVERFLOW;
    if (new_on < 0 || new_res < 0 || new_res > new_on)
        return LOGISTICS_PLAN_SHORT;
    return LOGISTICS_PLAN_OK;
}

char *logistics_array_i64(const int64_t *values, size_t n, size_t stride_bytes)
{
    size_t size = 3 + n * 21;
    char *out = malloc(size);
    if (!out)
        return NULL;
    size_t at = 0;
    out[at++] = '{';
    const char *p = (const char *) values;
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, p + i * stride_bytes, sizeof v);
        at += (size_t) snprintf(out + at, size - at, "%s%" PRId64, i ? "," : "", v);
    }
    out[at++] = '}';
    out[at] = '\0';
    return out;
}

char *logistics_array_text(const char *const *values, size_t n)
{
    size_t size = 3;
    for (size_t i = 0; i < n; i++)
        size += 3 + 2 * strlen(values[i]);
    char *out = malloc(size);
    if (!out)
        return NULL;
    size_t at = 0;
    out[at++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[at++] = ',';
        out[at++] = '"';
        for (const char *p = values[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                out[at++] = '\\';
            out[at++] = *p;
        }
        out[at++] = '"';
    }
    out[at++] = '}';
    out[at] = '\0';
    return out;
}
