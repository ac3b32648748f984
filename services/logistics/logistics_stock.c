/*  logistics_stock - warehouses, products, goods in, inventory corrections,
 *  expected arrivals, and availability.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "logistics_core.h"
#include "logistics_store.h"

#define S_TX_ATTEMPTS 5
#define S_NOTE_MAX 500
#define S_ARRIVAL_MAX_DAYS 730       //  an expected arrival at most two years ahead
#define S_ANALOGS_MAX 10             //  analogs listed per SKU

//  ------------------------------------------------------------ warehouses

static int s_code_check(const char *code, logistics_problem_t *problem)
{
    size_t len = strlen(code);
    if (len < 1 || len > 32) {
        logistics_problem_set(problem, KT_INVALID_ARGUMENT, "code", NULL,
                              "code must be 1 to 32 characters long: %zu", len);
        return -1;
    }
    for (const char *p = code; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_')) {
            logistics_problem_set(problem, KT_INVALID_ARGUMENT, "code", NULL,
                                  "code may hold only letters, digits, '-' and '_'");
            return -1;
        }
    return 0;
}

static const char *s_kind_name(int kind)
{
    return kind == KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL  ? "central"
           : kind == KONTOR__LOGISTICS__WAREHOUSE_KIND__BRANCH ? "branch"
                                                                : NULL;
}

static int s_kind_value(const char *name)
{
    return strcmp(name, "central") == 0 ? KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL
                                        : KONTOR__LOGISTICS__WAREHOUSE_KIND__BRANCH;
}

int logistics_upsert_warehouse(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__UpsertWarehouseRequest *req =
        (const Kontor__Logistics__UpsertWarehouseRequest *) msg;
    logistics_problem_t problem;
    const char *kind = s_kind_name(req->kind);
    if (s_code_check(req->code, &problem) != 0
        || logistics_text_check("name", req->name, 1, 200, &problem) != 0
        || logistics_text_check("address", req->address, 0, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    if (!kind)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "kind", NULL,
                            "kind must be CENTRAL or BRANCH: %d", (int) req->kind);
    if (req->branch_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "branch_id", NULL,
                            "branch_id must be positive: %" PRId64, req->branch_id);
    char branch[24];
    snprintf(branch, sizeof branch, "%" PRId64, req->branch_id);
    const char *params[] = {req->code, req->name, kind, branch, req->address};
    PGresult *res = kt_pg_exec(call->pg, &logistics_sql_warehouse_upsert, params);
    if (!res)
        return kt_call_fail_pg(call, "saving a warehouse");
    Kontor__Logistics__Warehouse wh = KONTOR__LOGISTICS__WAREHOUSE__INIT;
    wh.warehouse_id = kt_pg_i64(res, 0, 0);
    wh.code = req->code;
    wh.name = req->name;
    wh.kind = req->kind;
    wh.branch_id = req->branch_id;
    wh.address = req->address;
    Kontor__Logistics__UpsertWarehouseReply rep = KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REPLY__INIT;
    rep.warehouse = &wh;
    rep.created = kt_pg_i64(res, 0, 1) == 1;
    PQclear(res);
    return kt_call_reply(call, &rep.base);
}

int logistics_list_warehouses(kt_call_t *call, const ProtobufCMessage *msg)
{
    (void) msg;
    PGresult *res = kt_pg_exec(call->pg, &logistics_sql_warehouse_list, NULL);
    if (!res)
        return kt_call_fail_pg(call, "listing warehouses");
    int n = PQntuples(res);
    logistics_arena_t arena = {0};
    Kontor__Logistics__ListWarehousesReply rep = KONTOR__LOGISTICS__LIST_WAREHOUSES_REPLY__INIT;
    rep.n_warehouses = (size_t) n;
    rep.warehouses = logistics_alloc(&arena, (size_t) n * sizeof *rep.warehouses + 1);
    for (int r = 0; r < n; r++) {
        Kontor__Logistics__Warehouse *wh = logistics_alloc(&arena, sizeof *wh);
        kontor__logistics__warehouse__init(wh);
        wh->warehouse_id = kt_pg_i64(res, r, 0);
        wh->code = logistics_strdup(&arena, kt_pg_text(res, r, 1));
        wh->name = logistics_strdup(&arena, kt_pg_text(res, r, 2));
        wh->kind = s_kind_value(kt_pg_text(res, r, 3));
        wh->branch_id = kt_pg_i64(res, r, 4);
        wh->address = logistics_strdup(&arena, kt_pg_text(res, r, 5));
        rep.warehouses[r] = wh;
    }
    PQclear(res);
    int out = kt_call_reply(call, &rep.base);
    logistics_arena_free(&arena);
    return out;
}

//  ------------------------------------------------------------ products

int logistics_upsert_product(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__UpsertProductRequest *req =
        (const Kontor__Logistics__UpsertProductRequest *) msg;
    size_t n = req->n_products;
    logistics_problem_t problem;
    char field[96];
    if (n == 0 || n > LOGISTICS_MAX_PRODUCTS)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "products", NULL,
                            "products must have 1 to %d entries: %zu", LOGISTICS_MAX_PRODUCTS, n);
    logistics_line_t *lines = calloc(n, sizeof *lines);
    if (!lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    int out = -1;
    for (size_t i = 0; i < n; i++) {
        const Kontor__Logistics__Product *p = req->products[i];
        lines[i] = (logistics_line_t) {p->sku, 1, (int) i};
        struct {
            const char *name;
            const char *value;
            size_t min, max;
        } texts[] = {{"name", p->name, 1, 200},          {"unit", p->unit, 1, 16},
                     {"storage", p->storage, 0, 200},    {"transport", p->transport, 0, 200},
                     {"analog_group", p->analog_group, 0, 64}};
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
            snprintf(field, sizeof field, "products[%zu].%s", i, texts[t].name);
            if (logistics_text_check(field, texts[t].value, texts[t].min, texts[t].max,
                                     &problem)
                != 0) {
                out = logistics_refuse(call, &problem);
                goto cleanup;
            }
        }
        if (p->weight_g < 0 || p->weight_g > 1000000000) {
            snprintf(field, sizeof field, "products[%zu].weight_g", i);
            out = kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                               "weight_g must be between 0 and 1000000000: %" PRId64, p->weight_g);
            goto cleanup;
        }
    }
    //  The same checks as lines of goods (sku > 0, no SKU twice; every
    //  quantity is 1 here, so only the sku can be at fault).
    if (logistics_lines_check(lines, n, LOGISTICS_MAX_PRODUCTS, "products", false, &problem)
        != 0) {
        out = logistics_refuse(call, &problem);
        goto cleanup;
    }
    {
        int64_t *nums = calloc(2 * n, sizeof *nums);
        const char **texts = calloc(5 * n, sizeof *texts);
        char *arrays[7] = {0};
        if (nums && texts) {
            for (size_t i = 0; i < n; i++) {
                const Kontor__Logistics__Product *p = req->products[i];
                nums[i] = p->sku;
                nums[n + i] = p->weight_g;
                texts[i] = p->name;
                texts[n + i] = p->unit;
                texts[2 * n + i] = p->storage;
                texts[3 * n + i] = p->transport;
                texts[4 * n + i] = p->analog_group;
            }
            arrays[0] = logistics_array_i64(nums, n, sizeof *nums);
            arrays[1] = logistics_array_text(texts, n);
            arrays[2] = logistics_array_text(texts + n, n);
            arrays[3] = logistics_array_i64(nums + n, n, sizeof *nums);
            arrays[4] = logistics_array_text(texts + 2 * n, n);
            arrays[5] = logistics_array_text(texts + 3 * n, n);
            arrays[6] = logistics_array_text(texts + 4 * n, n);
        }
        bool ok = nums && texts;
        for (int a = 0; a < 7; a++)
            ok = ok && arrays[a];
        PGresult *res = NULL;
        if (ok)
            res = kt_pg_exec(call->pg, &logistics_sql_product_upsert,
                             (const char *const *) arrays);
        if (!ok)
            out = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        else if (!res)
            out = kt_call_fail_pg(call, "saving products");
        else {
            Kontor__Logistics__UpsertProductReply rep =
                KONTOR__LOGISTICS__UPSERT_PRODUCT_REPLY__INIT;
            for (int r = 0; r < PQntuples(res); r++) {
                if (kt_pg_i64(res, r, 0) == 1)
                    rep.created++;
                else
                    rep.updated++;
            }
            out = kt_call_reply(call, &rep.base);
        }
        PQclear(res);
        for (int a = 0; a < 7; a++)
            free(arrays[a]);
        free(texts);
        free(nums);
    }
cleanup:
    free(lines);
    return out;
}

//  ------------------------------------------------------------ receive, adjust

typedef struct {
    logistics_tx_t tx;
    const char *method;
    const ProtobufCMessage *request;
    int64_t warehouse_id;
    logistics_line_t *lines;        //  sorted by sku
    size_t n;
    int64_t arrival_id;             //  Receive: the arrival to close, or 0
    const char *move_kind;          //  "receive", "adjust"
    const char *note;
    const char *what;               //  "lines"
    logistics_arena_t arena;
    Kontor__Logistics__StockReply reply;
} s_goods_t;

static int s_close_arrival(kt_pg_t *pg, s_goods_t *self)
{
    char id[24], wh[24];
    snprintf(id, sizeof id, "%" PRId64, self->arrival_id);
    snprintf(wh, sizeof wh, "%" PRId64, self->warehouse_id);
    const char *params[] = {id, wh};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_arrival_close, params);
    if (!res)
        return -1;
    bool closed = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (closed)
        return 0;
    res = kt_pg_exec(pg, &logistics_sql_arrival_status, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0)
        logistics_problem_set(&self->tx.problem, KT_NOT_FOUND, "arrival_id", NULL,
                              "expected arrival %" PRId64 " does not exist", self->arrival_id);
    else if (kt_pg_i64(res, 0, 1) != self->warehouse_id)
        logistics_problem_set(&self->tx.problem, KT_INVALID_ARGUMENT, "arrival_id", NULL,
                              "expected arrival %" PRId64 " is for warehouse %" PRId64
                              ", not %" PRId64,
                              self->arrival_id, kt_pg_i64(res, 0, 1), self->warehouse_id);
    else
        logistics_problem_set(&self->tx.problem, KT_FAILED_PRECONDITION, "arrival_id",
                              "invalid_transition",
                              "expected arrival %" PRId64 " has been received already",
                              self->arrival_id);
    PQclear(res);
    return 1;
}

static int s_goods_tx(kt_pg_t *pg, void *arg)
{
    s_goods_t *self = arg;
    logistics_changes_clear(&self->tx.changes);
    logistics_arena_free(&self->arena);
    int rc = logistics_idem_claim(pg, self->method, self->tx.call->idem_key, self->request,
                                  &self->tx.replay, &self->tx.replay_len, &self->tx.problem);
    if (rc == 2)
        return 0;
    if (rc != 0)
        return rc;
    rc = logistics_warehouse_require(pg, self->warehouse_id, "warehouse_id", NULL,
                                     &self->tx.problem);
    if (rc == 0)
        rc = logistics_skus_require(pg, self->lines, self->n, self->what, &self->tx.problem);
    if (rc == 0 && self->arrival_id > 0)
        rc = s_close_arrival(pg, self);
    if (rc != 0)
        return rc;
    logistics_delta_t *deltas = logistics_alloc(&self->arena, self->n * sizeof *deltas);
    for (size_t i = 0; i < self->n; i++)
        deltas[i] = (logistics_delta_t) {.warehouse_id = self->warehouse_id,
                                         .sku = self->lines[i].sku,
                                         .d_on_hand = self->lines[i].qty,
                                         .index = self->lines[i].index};
    char ref[160];
    snprintf(ref, sizeof ref, "%s:%s", self->method, self->tx.call->idem_key);
    rc = logistics_stock_apply(pg, deltas, self->n, true, self->what, self->move_kind, ref,
                               self->note, &self->tx.changes, &self->tx.problem);
    if (rc != 0)
        return rc;
    //  The reply: the rows as they are now.
    Kontor__Logistics__StockReply *rep = &self->reply;
    kontor__logistics__stock_reply__init(rep);
    rep->warehouse_id = self->warehouse_id;
    rep->n_items = self->tx.changes.n;
    rep->items = logistics_alloc(&self->arena, rep->n_items * sizeof *rep->items + 1);
    for (size_t i = 0; i < rep->n_items; i++) {
        const logistics_change_t *c = &self->tx.changes.items[i];
        Kontor__Logistics__StockLevel *level = logistics_alloc(&self->arena, sizeof *level);
        kontor__logistics__stock_level__init(level);
        level->sku = c->sku;
        level->on_hand = c->on_hand;
        level->reserved = c->reserved;
        level->available = c->available;
        rep->items[i] = level;
    }
    if (logistics_idem_store(pg, self->method, self->tx.call->idem_key, &rep->base) != 0
        || logistics_stock_events(pg, &self->tx.changes) != 0)
        return -1;
    return 0;
}

static int s_goods_run(s_goods_t *self)
{
    int rc = kt_pg_tx(self->tx.call->pg, S_TX_ATTEMPTS, s_goods_tx, self);
    int out = logistics_finish(&self->tx, rc, &self->reply.base,
                               &kontor__logistics__stock_reply__descriptor, "changing stock");
    logistics_arena_free(&self->arena);
    free(self->lines);
    return out;
}

int logistics_receive(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ReceiveRequest *req = (const Kontor__Logistics__ReceiveRequest *) msg;
    logistics_problem_t problem;
    if (req->warehouse_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "warehouse_id", NULL,
                            "warehouse_id must be positive: %" PRId64, req->warehouse_id);
    if (req->arrival_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "arrival_id", NULL,
                            "arrival_id must not be negative: %" PRId64, req->arrival_id);
    if (logistics_text_check("note", req->note, 0, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    s_goods_t self = {.tx.call = call,
                      .method = "Receive",
                      .request = msg,
                      .warehouse_id = req->warehouse_id,
                      .n = req->n_lines,
                      .arrival_id = req->arrival_id,
                      .move_kind = "receive",
                      .note = req->note,
                      .what = "lines"};
    self.lines = calloc(req->n_lines + 1, sizeof *self.lines);
    if (!self.lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < req->n_lines; i++)
        self.lines[i] = (logistics_line_t) {req->lines[i]->sku, req->lines[i]->qty, (int) i};
    if (logistics_lines_check(self.lines, self.n, LOGISTICS_MAX_LINES, "lines", false, &problem)
        != 0) {
        free(self.lines);
        return logistics_refuse(call, &problem);
    }
    return s_goods_run(&self);
}

int logistics_adjust(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__AdjustRequest *req = (const Kontor__Logistics__AdjustRequest *) msg;
    logistics_problem_t problem;
    if (req->warehouse_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "warehouse_id", NULL,
                            "warehouse_id must be positive: %" PRId64, req->warehouse_id);
    if (logistics_text_check("reason", req->reason, 1, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    s_goods_t self = {.tx.call = call,
                      .method = "Adjust",
                      .request = msg,
                      .warehouse_id = req->warehouse_id,
                      .n = req->n_lines,
                      .move_kind = "adjust",
                      .note = req->reason,
                      .what = "lines"};
    self.lines = calloc(req->n_lines + 1, sizeof *self.lines);
    if (!self.lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < req->n_lines; i++)
        self.lines[i] = (logistics_line_t) {req->lines[i]->sku, req->lines[i]->delta, (int) i};
    if (logistics_lines_check(self.lines, self.n, LOGISTICS_MAX_LINES, "lines", true, &problem)
        != 0) {
        free(self.lines);
        return logistics_refuse(call, &problem);
    }
    return s_goods_run(&self);
}

//  ------------------------------------------------------------ expected arrivals

typedef struct {
    logistics_tx_t tx;
    const Kontor__Logistics__ExpectArrivalRequest *req;
    Kontor__Logistics__ExpectArrivalReply reply;
} s_arrival_t;

static int s_arrival_tx(kt_pg_t *pg, void *arg)
{
    s_arrival_t *self = arg;
    const Kontor__Logistics__ExpectArrivalRequest *req = self->req;
    int rc = logistics_idem_claim(pg, "ExpectArrival", self->tx.call->idem_key, &req->base,
                                  &self->tx.replay, &self->tx.replay_len, &self->tx.problem);
    if (rc == 2)
        return 0;
    if (rc != 0)
        return rc;
    logistics_line_t line = {req->sku, req->qty, 0};
    rc = logistics_warehouse_require(pg, req->warehouse_id, "warehouse_id", NULL,
                                     &self->tx.problem);
    if (rc == 0) {
        rc = logistics_skus_require(pg, &line, 1, "lines", &self->tx.problem);
        if (rc == 1)
            snprintf(self->tx.problem.field, sizeof self->tx.problem.field, "sku");
    }
    if (rc != 0)
        return rc;
    char wh[24], sku[24], qty[24];
    snprintf(wh, sizeof wh, "%" PRId64, req->warehouse_id);
    snprintf(sku, sizeof sku, "%" PRId64, req->sku);
    snprintf(qty, sizeof qty, "%" PRId64, req->qty);
    const char *params[] = {wh, sku, qty, req->date, req->note};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_arrival_insert, params);
    if (!res)
        return -1;
    kontor__logistics__expect_arrival_reply__init(&self->reply);
    self->reply.arrival_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    return logistics_idem_store(pg, "ExpectArrival", self->tx.call->idem_key, &self->reply.base);
}

int logistics_expect_arrival(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ExpectArrivalRequest *req =
        (const Kontor__Logistics__ExpectArrivalRequest *) msg;
    logistics_problem_t problem;
    if (req->sku <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "sku", NULL,
                            "sku must be positive: %" PRId64, req->sku);
    if (req->warehouse_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "warehouse_id", NULL,
                            "warehouse_id must be positive: %" PRId64, req->warehouse_id);
    if (req->qty <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "qty", NULL,
                            "quantity must be positive: %" PRId64, req->qty);
    if (req->qty > LOGISTICS_QTY_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "qty", NULL,
                            "quantity is too large: %" PRId64 " (at most %lld)", req->qty,
                            LOGISTICS_QTY_MAX);
    if (logistics_date_check("date", req->date, S_ARRIVAL_MAX_DAYS, &problem) != 0
        || logistics_text_check("note", req->note, 0, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    s_arrival_t self = {.tx.call = call, .req = req};
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_arrival_tx, &self);
    return logistics_finish(&self.tx, rc, &self.reply.base,
                            &kontor__logistics__expect_arrival_reply__descriptor,
                            "recording an expected arrival");
}

//  ------------------------------------------------------------ availability

//  The item of `sku` in the reply (items are in request order; few enough
//  to look up linearly against a sorted copy would not pay).
static Kontor__Logistics__SkuAvailability *s_item(Kontor__Logistics__AvailabilityReply *rep,
                                                  const logistics_line_t *sorted, size_t n,
                                                  int64_t sku)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid].sku < sku)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && sorted[lo].sku == sku)
        return rep->items[sorted[lo].index];
    return NULL;
}

int logistics_availability(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__AvailabilityRequest *req =
        (const Kontor__Logistics__AvailabilityRequest *) msg;
    logistics_problem_t problem;
    size_t n = req->n_skus;
    if (n > LOGISTICS_AVAIL_MAX_SKUS)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "skus", NULL,
                            "skus has %zu entries, at most %d allowed", n,
                            LOGISTICS_AVAIL_MAX_SKUS);
    if (req->warehouse_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "warehouse_id", NULL,
                            "warehouse_id must not be negative: %" PRId64, req->warehouse_id);
    logistics_line_t *sorted = calloc(n + 1, sizeof *sorted);
    if (!sorted)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        sorted[i] = (logistics_line_t) {req->skus[i], 1, (int) i};
    logistics_arena_t arena = {0};
    PGresult *res = NULL;
    char *skus = NULL, *groups = NULL;
    const char **group_list = NULL;
    int out = -1;
    if (logistics_lines_check(sorted, n, LOGISTICS_AVAIL_MAX_SKUS, "skus", false, &problem)
        != 0) {
        //  lines_check names "skus[i].sku"; the field here is "skus[i]"
        char *dot = strstr(problem.field, "].sku");
        if (dot)
            dot[1] = '\0';
        out = logistics_refuse(call, &problem);
        goto cleanup;
    }
    char wh[24];
    snprintf(wh, sizeof wh, "%" PRId64, req->warehouse_id);
    if (req->warehouse_id > 0) {
        int rc = logistics_warehouse_require(call->pg, req->warehouse_id, "warehouse_id", NULL,
                                             &problem);
        if (rc != 0) {
            out = rc == 1 ? logistics_refuse(call, &problem)
                          : kt_call_fail_pg(call, "reading a warehouse");
            goto cleanup;
        }
    }
    skus = logistics_array_i64(&sorted[0].sku, n, sizeof sorted[0]);
    group_list = calloc(n + 1, sizeof *group_list);
    if (!skus || !group_list) {
        out = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    Kontor__Logistics__AvailabilityReply rep = KONTOR__LOGISTICS__AVAILABILITY_REPLY__INIT;
    rep.n_items = n;
    rep.items = logistics_alloc(&arena, n * sizeof *rep.items + 1);
    const char **item_group = logistics_alloc(&arena, (n + 1) * sizeof *item_group);
    for (size_t i = 0; i < n; i++) {
        rep.items[i] = logistics_alloc(&arena, sizeof *rep.items[i]);
        kontor__logistics__sku_availability__init(rep.items[i]);
        rep.items[i]->sku = req->skus[i];
        rep.items[i]->warehouses = logistics_alloc(&arena, 64 * sizeof(void *));
    }
    //  Products: every SKU must be one.
    const char *p1[] = {skus};
    res = kt_pg_exec(call->pg, &logistics_sql_avail_products, p1);
    if (!res) {
        out = kt_call_fail_pg(call, "reading products");
        goto cleanup;
    }
    size_t ngroups = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        Kontor__Logistics__SkuAvailability *item = s_item(&rep, sorted, n, kt_pg_i64(res, r, 0));
        if (!item)
            continue;
        item->name = logistics_strdup(&arena, kt_pg_text(res, r, 1));
        const char *group = kt_pg_text(res, r, 2);
        for (size_t i = 0; i < n; i++)
            if (rep.items[i] == item && *group) {
                item_group[i] = logistics_strdup(&arena, group);
                group_list[ngroups++] = item_group[i];
            }
    }
    PQclear(res);
    res = NULL;
    for (size_t i = 0; i < n; i++)
        if (rep.items[i]->name == NULL || rep.items[i]->name == protobuf_c_empty_string) {
            char field[32];
            snprintf(field, sizeof field, "skus[%zu]", i);
            out = kt_call_fail(call, KT_NOT_FOUND, field, "unknown_sku",
                               "sku %" PRId64 " is not a product", req->skus[i]);
            goto cleanup;
        }
    //  Stock per warehouse.
    const char *p2[] = {skus, wh};
    res = kt_pg_exec(call->pg, &logistics_sql_avail_stock, p2);
    if (!res) {
        out = kt_call_fail_pg(call, "reading stock");
        goto cleanup;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        Kontor__Logistics__SkuAvailability *item = s_item(&rep, sorted, n, kt_pg_i64(res, r, 0));
        if (!item)
            continue;
        if (item->n_warehouses % 64 == 0 && item->n_warehouses > 0) {
            void **grown = logistics_alloc(&arena, (item->n_warehouses + 64) * sizeof(void *));
            memcpy(grown, item->warehouses, item->n_warehouses * sizeof(void *));
            item->warehouses = (Kontor__Logistics__WarehouseStock **) grown;
        }
        Kontor__Logistics__WarehouseStock *ws = logistics_alloc(&arena, sizeof *ws);
        kontor__logistics__warehouse_stock__init(ws);
        ws->warehouse_id = kt_pg_i64(res, r, 1);
        ws->on_hand = kt_pg_i64(res, r, 2);
        ws->reserved = kt_pg_i64(res, r, 3);
        ws->available = ws->on_hand - ws->reserved;
        item->warehouses[item->n_warehouses++] = ws;
        if (__builtin_add_overflow(item->available, ws->available, &item->available))
            item->available = INT64_MAX;
    }
    PQclear(res);
    //  Expected arrivals and transfers in transit.
    res = kt_pg_exec(call->pg, &logistics_sql_avail_arrivals, p2);
    if (!res) {
        out = kt_call_fail_pg(call, "reading expected arrivals");
        goto cleanup;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        Kontor__Logistics__SkuAvailability *item = s_item(&rep, sorted, n, kt_pg_i64(res, r, 0));
        if (!item)
            continue;
        if (item->n_arrivals % 16 == 0) {
            void **grown = logistics_alloc(&arena, (item->n_arrivals + 16) * sizeof(void *));
            if (item->n_arrivals)
                memcpy(grown, item->arrivals, item->n_arrivals * sizeof(void *));
            item->arrivals = (Kontor__Logistics__Arrival **) grown;
        }
        Kontor__Logistics__Arrival *a = logistics_alloc(&arena, sizeof *a);
        kontor__logistics__arrival__init(a);
        a->warehouse_id = kt_pg_i64(res, r, 1);
        a->qty = kt_pg_i64(res, r, 2);
        a->date = logistics_strdup(&arena, kt_pg_text(res, r, 3));
        a->in_transit = kt_pg_i64(res, r, 4) == 1;
        item->arrivals[item->n_arrivals++] = a;
    }
    PQclear(res);
    res = NULL;
    //  Analogs in stock, for the SKUs that have a group.
    if (ngroups > 0) {
        groups = logistics_array_text(group_list, ngroups);
        if (!groups) {
            out = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto cleanup;
        }
        const char *p3[] = {groups, wh};
        res = kt_pg_exec(call->pg, &logistics_sql_avail_analogs, p3);
        if (!res) {
            out = kt_call_fail_pg(call, "reading analogs");
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++) {
            if (!item_group[i])
                continue;
            Kontor__Logistics__SkuAvailability *item = rep.items[i];
            item->analogs = logistics_alloc(&arena, S_ANALOGS_MAX * sizeof(void *));
            for (int r = 0; r < PQntuples(res) && item->n_analogs < S_ANALOGS_MAX; r++) {
                if (strcmp(kt_pg_text(res, r, 0), item_group[i]) != 0
                    || kt_pg_i64(res, r, 1) == item->sku)
                    continue;
                Kontor__Logistics__Analog *a = logistics_alloc(&arena, sizeof *a);
                kontor__logistics__analog__init(a);
                a->sku = kt_pg_i64(res, r, 1);
                a->name = logistics_strdup(&arena, kt_pg_text(res, r, 2));
                a->available = kt_pg_i64(res, r, 3);
                item->analogs[item->n_analogs++] = a;
            }
        }
    }
    out = kt_call_reply(call, &rep.base);
cleanup:
    PQclear(res);
    free(groups);
    free(group_list);
    free(skus);
    free(sorted);
    logistics_arena_free(&arena);
    return out;
}
