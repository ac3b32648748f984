/*  logistics_core - what the logistics method families share (see the header).
 */
#include "logistics_core.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_log.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "logistics_store.h"

//  ------------------------------------------------------------ arena

struct logistics_arena_block {
    logistics_arena_block_t *next;
    max_align_t data[];
};

void *logistics_alloc(logistics_arena_t *arena, size_t size)
{
    logistics_arena_block_t *block = calloc(1, sizeof *block + size);
    assert(block);
    block->next = arena->blocks;
    arena->blocks = block;
    return block->data;
}

char *logistics_strdup(logistics_arena_t *arena, const char *s)
{
    size_t len = strlen(s);
    char *copy = logistics_alloc(arena, len + 1);
    memcpy(copy, s, len);
    return copy;
}

void logistics_arena_free(logistics_arena_t *arena)
{
    while (arena->blocks) {
        logistics_arena_block_t *next = arena->blocks->next;
        free(arena->blocks);
        arena->blocks = next;
    }
}

//  ------------------------------------------------------------ problems

void logistics_problem_set(logistics_problem_t *p, int status, const char *field,
                           const char *reason, const char *fmt, ...)
{
    p->status = status;
    p->reason = reason;
    snprintf(p->field, sizeof p->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
}

int logistics_refuse(kt_call_t *call, const logistics_problem_t *p)
{
    return kt_call_fail(call, p->status, p->field[0] ? p->field : NULL, p->reason, "%s",
                        p->message);
}

int logistics_text_check(const char *field, const char *value, size_t min, size_t max,
                         logistics_problem_t *problem)
{
    char why[200];
    if (kt_check_text(field, value, min, max, why, sizeof why) == 0)
        return 0;
    logistics_problem_set(problem, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    return -1;
}

int logistics_date_check(const char *field, const char *value, int max_days,
                         logistics_problem_t *problem)
{
    char why[200];
    int32_t days;
    if (kt_check_date(field, value, &days, why, sizeof why) != 0) {
        logistics_problem_set(problem, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
        return -1;
    }
    int32_t today = (int32_t) (time(NULL) / 86400);
    if (days < today) {
        logistics_problem_set(problem, KT_INVALID_ARGUMENT, field, NULL,
                              "%s is in the past: %s", field, value);
        return -1;
    }
    if (days > today + max_days) {
        logistics_problem_set(problem, KT_INVALID_ARGUMENT, field, NULL,
                              "%s is too far ahead: %s (at most %d days from today)", field, value,
                              max_days);
        return -1;
    }
    return 0;
}

//  ------------------------------------------------------------ changes

int logistics_changes_add(logistics_changes_t *self, int64_t warehouse_id, int64_t sku,
                          int64_t available, int64_t version)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        logistics_change_t *grown = realloc(self->items, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->items = grown;
        self->cap = cap;
    }
    self->items[self->n++] = (logistics_change_t) {warehouse_id, sku, available, version, 0, 0};
    return 0;
}

void logistics_changes_clear(logistics_changes_t *self)
{
    free(self->items);
    memset(self, 0, sizeof *self);
}

int logistics_changes_from(logistics_changes_t *changes, const PGresult *res, int c)
{
    bool levels = PQnfields(res) >= c + 6;
    for (int r = 0; r < PQntuples(res); r++) {
        if (logistics_changes_add(changes, kt_pg_i64(res, r, c), kt_pg_i64(res, r, c + 1),
                                  kt_pg_i64(res, r, c + 2), kt_pg_i64(res, r, c + 3))
            != 0)
            return -1;
        if (levels) {
            changes->items[changes->n - 1].on_hand = kt_pg_i64(res, r, c + 4);
            changes->items[changes->n - 1].reserved = kt_pg_i64(res, r, c + 5);
        }
    }
    return 0;
}

int logistics_stock_events(kt_pg_t *pg, const logistics_changes_t *changes)
{
    //  One event per warehouse, items in the order the rows changed; a row
    //  changed twice in one transaction appears with its last value.
    size_t n = changes->n;
    if (n == 0)
        return 0;
    Kontor__Logistics__StockLine *lines = calloc(n, sizeof *lines);
    Kontor__Logistics__StockLine **ptrs = calloc(n, sizeof *ptrs);
    bool *done = calloc(n, sizeof *done);
    int rc = -1;
    if (!lines || !ptrs || !done)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        int64_t wh = changes->items[i].warehouse_id;
        size_t k = 0;
        for (size_t j = i; j < n; j++) {
            if (done[j] || changes->items[j].warehouse_id != wh)
                continue;
            done[j] = true;
            //  a later change of the same SKU replaces the earlier one
            size_t at = k;
            for (size_t m = 0; m < k; m++)
                if (lines[m].sku == changes->items[j].sku)
                    at = m;
            kontor__logistics__stock_line__init(&lines[at]);
            lines[at].sku = changes->items[j].sku;
            lines[at].qty = changes->items[j].available;
            ptrs[at] = &lines[at];
            if (at == k)
                k++;
        }
        Kontor__Logistics__StockChanged ev = KONTOR__LOGISTICS__STOCK_CHANGED__INIT;
        ev.warehouse_id = wh;
        ev.n_items = k;
        ev.items = ptrs;
        if (kt_outbox_add(pg, "StockChanged", &ev.base) != 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    free(done);
    free(ptrs);
    free(lines);
    return rc;
}

//  ------------------------------------------------------------ stock engine

int logistics_stock_apply(kt_pg_t *pg, logistics_delta_t *deltas, size_t n, bool create,
                          const char *what, const char *move_kind, const char *ref,
                          const char *note, logistics_changes_t *changes,
                          logistics_problem_t *problem)
{
    int bad = -1;
    long merged = logistics_plan_merge(deltas, n, &bad);
    if (merged < 0) {
        char field[96];
        snprintf(field, sizeof field, "%s[%d].qty", what, bad);
        logistics_problem_set(problem, KT_INVALID_ARGUMENT, field, NULL,
                              "the quantities of this request add up past the largest number");
        return 1;
    }
    n = (size_t) merged;
    if (n == 0)
        return 0;
    int rc = -1;
    PGresult *res = NULL;
    int64_t *cols = calloc(4 * n, sizeof *cols);
    char *a_wh = NULL, *a_sku = NULL, *a_don = NULL, *a_dres = NULL;
    if (!cols)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        cols[i] = deltas[i].warehouse_id;
        cols[n + i] = deltas[i].sku;
        cols[2 * n + i] = deltas[i].d_on_hand;
        cols[3 * n + i] = deltas[i].d_reserved;
    }
    a_wh = logistics_array_i64(cols, n, sizeof(int64_t));
    a_sku = logistics_array_i64(cols + n, n, sizeof(int64_t));
    a_don = logistics_array_i64(cols + 2 * n, n, sizeof(int64_t));
    a_dres = logistics_array_i64(cols + 3 * n, n, sizeof(int64_t));
    if (!a_wh || !a_sku || !a_don || !a_dres)
        goto cleanup;
    const char *p2[] = {a_wh, a_sku};
    if (create) {
        res = kt_pg_exec(pg, &logistics_sql_stock_create, p2);
        if (!res)
            goto cleanup;
        PQclear(res);
    }
    res = kt_pg_exec(pg, &logistics_sql_stock_lock, p2);
    if (!res)
        goto cleanup;
    //  Both sorted by (warehouse, sku): walk them together.
    int rows = PQntuples(res), r = 0;
    for (size_t i = 0; i < n; i++) {
        deltas[i].found = false;
        while (r < rows
               && (kt_pg_i64(res, r, 0) < deltas[i].warehouse_id
                   || (kt_pg_i64(res, r, 0) == deltas[i].warehouse_id
                       && kt_pg_i64(res, r, 1) < deltas[i].sku)))
            r++;
        if (r < rows && kt_pg_i64(res, r, 0) == deltas[i].warehouse_id
            && kt_pg_i64(res, r, 1) == deltas[i].sku) {
            deltas[i].found = true;
            deltas[i].on_hand = kt_pg_i64(res, r, 2);
            deltas[i].reserved = kt_pg_i64(res, r, 3);
        }
    }
    PQclear(res);
    res = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t available = 0;
        logistics_plan_rc_t check = logistics_plan_check(&deltas[i], &available);
        if (check == LOGISTICS_PLAN_OK)
            continue;
        char field[96];
        snprintf(field, sizeof field, "%s[%d].qty", what, deltas[i].index);
        if (check == LOGISTICS_PLAN_OVERFLOW)
            logistics_problem_set(problem, KT_INVALID_ARGUMENT, field, NULL,
                                  "sku %" PRId64 " in warehouse %" PRId64
                                  ": the quantity would overflow",
                                  deltas[i].sku, deltas[i].warehouse_id);
        else if (deltas[i].d_reserved == 0 && deltas[i].d_on_hand < 0
                 && (deltas[i].found ? deltas[i].on_hand : 0) + deltas[i].d_on_hand >= 0)
            logistics_problem_set(problem, KT_FAILED_PRECONDITION, field, "insufficient_stock",
                                  "sku %" PRId64 " in warehouse %" PRId64 ": %" PRId64
                                  " units are free, the rest is reserved; %" PRId64
                                  " would be needed",
                                  deltas[i].sku, deltas[i].warehouse_id, available,
                                  -deltas[i].d_on_hand);
        else
            logistics_problem_set(problem, KT_FAILED_PRECONDITION, field, "insufficient_stock",
                                  "not enough stock of sku %" PRId64 " in warehouse %" PRId64
                                  ": %" PRId64 " available",
                                  deltas[i].sku, deltas[i].warehouse_id, available);
        rc = 1;
        goto cleanup;
    }
    const char *p4[] = {a_wh, a_sku, a_don, a_dres};
    res = kt_pg_exec(pg, &logistics_sql_stock_update, p4);
    if (!res)
        goto cleanup;
    if (PQntuples(res) != (int) n) {
        //  A row the lock found is gone: only a bug could do that.
        kt_error("stock update changed %d rows of %zu", PQntuples(res), n);
        goto cleanup;
    }
    if (logistics_changes_from(changes, res, 0) != 0)
        goto cleanup;
    PQclear(res);
    res = NULL;
    if (move_kind) {
        const char *p6[] = {a_wh, a_sku, a_don, move_kind, ref ? ref : "", note ? note : ""};
        res = kt_pg_exec(pg, &logistics_sql_moves_insert, p6);
        if (!res)
            goto cleanup;
    }
    rc = 0;
cleanup:
    PQclear(res);
    free(a_dres);
    free(a_don);
    free(a_sku);
    free(a_wh);
    free(cols);
    return rc;
}

int logistics_warehouse_require(kt_pg_t *pg, int64_t warehouse_id, const char *field,
                                char kind[16], logistics_problem_t *problem)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, warehouse_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_warehouse_kind, params);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 0) {
        logistics_problem_set(problem, KT_NOT_FOUND, field, "unknown_warehouse",
                              "warehouse %" PRId64 " does not exist", warehouse_id);
        rc = 1;
    } else if (kind)
        snprintf(kind, 16, "%s", kt_pg_text(res, 0, 0));
    PQclear(res);
    return rc;
}

int logistics_skus_require(kt_pg_t *pg, const logistics_line_t *lines, size_t n,
                           const char *what, logistics_problem_t *problem)
{
    char *skus = logistics_array_i64(&lines[0].sku, n, sizeof lines[0]);
    if (!skus)
        return -1;
    const char *params[] = {skus};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_skus_unknown, params);
    free(skus);
    if (!res)
        return -1;
    int rc = 0;
    int first = -1;
    int64_t sku = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t unknown = kt_pg_i64(res, r, 0);
        for (size_t i = 0; i < n; i++)
            if (lines[i].sku == unknown && (first < 0 || lines[i].index < first)) {
                first = lines[i].index;
                sku = unknown;
            }
    }
    PQclear(res);
    if (first >= 0) {
        char field[96];
        snprintf(field, sizeof field, "%s[%d].sku", what, first);
        logistics_problem_set(problem, KT_NOT_FOUND, field, "unknown_sku",
                              "sku %" PRId64 " is not a product", sku);
        rc = 1;
    }
    return rc;
}

//  ------------------------------------------------------------ idempotency

int logistics_idem_claim(kt_pg_t *pg, const char *method, const char *key,
                         const ProtobufCMessage *request, uint8_t **stored, size_t *stored_len,
                         logistics_problem_t *problem)
{
    size_t len = 0;
    uint8_t *packed = kt_msg_pack(request, &len);
    if (!packed)
        return -1;
    const char *params[] = {method, key, (const char *) packed};
    const int lengths[] = {0, 0, (int) len};
    const int formats[] = {0, 0, 1};
    int rc = -1;
    PGresult *res = kt_pg_exec_bin(pg, &logistics_sql_idem_claim, params, lengths, formats);
    if (!res)
        goto cleanup;
    if (PQntuples(res) == 1) {
        rc = 0;
        goto cleanup;
    }
    PQclear(res);
    res = kt_pg_exec_bin(pg, &logistics_sql_idem_read, params, lengths, formats);
    if (!res || PQntuples(res) != 1)
        goto cleanup;
    if (kt_pg_i64(res, 0, 0) != 1 || kt_pg_isnull(res, 0, 1)) {
        logistics_problem_set(problem, KT_ABORTED, "idempotency_key", "idempotency_mismatch",
                              "the idempotency key was already used for a different %s request",
                              method);
        rc = 1;
        goto cleanup;
    }
    unsigned char *bytes = PQunescapeBytea((const unsigned char *) kt_pg_text(res, 0, 1),
                                           stored_len);
    if (!bytes)
        goto cleanup;
    *stored = malloc(*stored_len ? *stored_len : 1);
    if (*stored)
        memcpy(*stored, bytes, *stored_len);
    PQfreemem(bytes);
    rc = *stored ? 2 : -1;
cleanup:
    PQclear(res);
    free(packed);
    return rc;
}

int logistics_idem_store(kt_pg_t *pg, const char *method, const char *key,
                         const ProtobufCMessage *reply)
{
    size_t len = 0;
    uint8_t *packed = kt_msg_pack(reply, &len);
    if (!packed)
        return -1;
    const char *params[] = {method, key, (const char *) packed};
    const int lengths[] = {0, 0, (int) len};
    const int formats[] = {0, 0, 1};
    PGresult *res = kt_pg_exec_bin(pg, &logistics_sql_idem_store, params, lengths, formats);
    free(packed);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

//  ------------------------------------------------------------ replies

int logistics_finish(logistics_tx_t *tx, int rc, const ProtobufCMessage *reply,
                     const ProtobufCMessageDescriptor *reply_desc, const char *doing)
{
    kt_call_t *call = tx->call;
    int out;
    if (rc == 0) {
        logistics_cache_push(call->service, call->redis, &tx->changes);
        if (tx->replay) {
            char field[KT_FIELD_MAX + 1], why[200];
            ProtobufCMessage *msg = kt_msg_unpack(reply_desc, tx->replay, tx->replay_len, field,
                                                  sizeof field, why, sizeof why);
            if (msg) {
                out = kt_call_reply(call, msg);
                kt_msg_free(msg);
            } else
                out = kt_call_fail(call, KT_INTERNAL, NULL, NULL, "stored reply does not decode");
        } else
            out = kt_call_reply(call, reply);
    } else if (rc == 1) {
        if (tx->detail)
            out = kt_call_refuse(call, tx->detail, tx->problem.status,
                                 tx->problem.field[0] ? tx->problem.field : NULL,
                                 tx->problem.reason, "%s", tx->problem.message);
        else
            out = logistics_refuse(call, &tx->problem);
    } else
        out = kt_call_fail_pg(call, doing);
    free(tx->replay);
    tx->replay = NULL;
    logistics_changes_clear(&tx->changes);
    return out;
}
