/*  logistics_transfers - goods moved from the central warehouse to a branch.
 *
 *  RequestTransfer takes the goods off the central warehouse at once (they
 *  must be free there) and puts them in transit; until ReceiveTransfer puts
 *  them on hand at the branch, the branch's availability lists them as an
 *  expected arrival (in_transit) on the expected date.
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
#define S_TRANSFER_MAX_DAYS 365

typedef struct {
    logistics_tx_t tx;
    const Kontor__Logistics__RequestTransferRequest *req;
    const Kontor__Logistics__ReceiveTransferRequest *receive;
    logistics_line_t *lines;        //  sorted by sku
    size_t n;
    logistics_arena_t arena;
    Kontor__Logistics__Transfer transfer;
    Kontor__Logistics__TransferReply reply;
} s_transfer_t;

//  The reply's lines from lines sorted by sku.
static void s_reply_lines(s_transfer_t *self, const int64_t *skus, const int64_t *qtys, size_t n)
{
    self->transfer.n_lines = n;
    self->transfer.lines = logistics_alloc(&self->arena, n * sizeof *self->transfer.lines + 1);
    for (size_t i = 0; i < n; i++) {
        Kontor__Logistics__StockLine *l = logistics_alloc(&self->arena, sizeof *l);
        kontor__logistics__stock_line__init(l);
        l->sku = skus[i];
        l->qty = qtys[i];
        self->transfer.lines[i] = l;
    }
    kontor__logistics__transfer_reply__init(&self->reply);
    self->reply.transfer = &self->transfer;
}

static int s_request_tx(kt_pg_t *pg, void *arg)
{
    s_transfer_t *self = arg;
    const Kontor__Logistics__RequestTransferRequest *req = self->req;
    logistics_problem_t *p = &self->tx.problem;
    logistics_changes_clear(&self->tx.changes);
    logistics_arena_free(&self->arena);
    int rc = logistics_idem_claim(pg, "RequestTransfer", self->tx.call->idem_key, &req->base,
                                  &self->tx.replay, &self->tx.replay_len, p);
    if (rc == 2)
        return 0;
    if (rc != 0)
        return rc;
    char kind[16];
    rc = logistics_warehouse_require(pg, req->from_warehouse_id, "from_warehouse_id", kind, p);
    if (rc != 0)
        return rc;
    if (strcmp(kind, "central") != 0) {
        logistics_problem_set(p, KT_INVALID_ARGUMENT, "from_warehouse_id", NULL,
                              "warehouse %" PRId64
                              " is a branch warehouse; transfers come from a central one",
                              req->from_warehouse_id);
        return 1;
    }
    rc = logistics_warehouse_require(pg, req->to_warehouse_id, "to_warehouse_id", kind, p);
    if (rc != 0)
        return rc;
    if (strcmp(kind, "branch") != 0) {
        logistics_problem_set(p, KT_INVALID_ARGUMENT, "to_warehouse_id", NULL,
                              "warehouse %" PRId64 " is not a branch warehouse",
                              req->to_warehouse_id);
        return 1;
    }
    rc = logistics_skus_require(pg, self->lines, self->n, "lines", p);
    if (rc != 0)
        return rc;
    char from[24], to[24];
    snprintf(from, sizeof from, "%" PRId64, req->from_warehouse_id);
    snprintf(to, sizeof to, "%" PRId64, req->to_warehouse_id);
    const char *p5[] = {from, to, req->expected_date, req->note, self->tx.call->caller->name};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_transfer_insert, p5);
    if (!res)
        return -1;
    kontor__logistics__transfer__init(&self->transfer);
    self->transfer.transfer_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, self->transfer.transfer_id);
    char *a_sku = logistics_array_i64(&self->lines[0].sku, self->n, sizeof self->lines[0]);
    char *a_qty = logistics_array_i64(&self->lines[0].qty, self->n, sizeof self->lines[0]);
    rc = -1;
    if (a_sku && a_qty) {
        const char *p3[] = {id, a_sku, a_qty};
        res = kt_pg_exec(pg, &logistics_sql_transfer_lines_insert, p3);
        if (res)
            rc = 0;
        PQclear(res);
    }
    free(a_sku);
    free(a_qty);
    if (rc != 0)
        return -1;
    logistics_delta_t *deltas = logistics_alloc(&self->arena, self->n * sizeof *deltas);
    int64_t *skus = logistics_alloc(&self->arena, 2 * self->n * sizeof *skus);
    for (size_t i = 0; i < self->n; i++) {
        deltas[i] = (logistics_delta_t) {.warehouse_id = req->from_warehouse_id,
                                         .sku = self->lines[i].sku,
                                         .d_on_hand = -self->lines[i].qty,
                                         .index = self->lines[i].index};
        skus[i] = self->lines[i].sku;
        skus[self->n + i] = self->lines[i].qty;
    }
    char ref[40];
    snprintf(ref, sizeof ref, "transfer:%s", id);
    rc = logistics_stock_apply(pg, deltas, self->n, false, "lines", "transfer_out", ref,
                               req->note, &self->tx.changes, p);
    if (rc != 0)
        return rc;
    self->transfer.from_warehouse_id = req->from_warehouse_id;
    self->transfer.to_warehouse_id = req->to_warehouse_id;
    self->transfer.expected_date = req->expected_date;
    self->transfer.note = req->note;
    self->transfer.status = KONTOR__LOGISTICS__TRANSFER_STATUS__IN_TRANSIT;
    s_reply_lines(self, skus, skus + self->n, self->n);
    if (logistics_idem_store(pg, "RequestTransfer", self->tx.call->idem_key, &self->reply.base)
            != 0
        || logistics_stock_events(pg, &self->tx.changes) != 0)
        return -1;
    return 0;
}

int logistics_request_transfer(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__RequestTransferRequest *req =
        (const Kontor__Logistics__RequestTransferRequest *) msg;
    logistics_problem_t problem;
    if (req->from_warehouse_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "from_warehouse_id", NULL,
                            "from_warehouse_id must be positive: %" PRId64,
                            req->from_warehouse_id);
    if (req->to_warehouse_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "to_warehouse_id", NULL,
                            "to_warehouse_id must be positive: %" PRId64, req->to_warehouse_id);
    if (req->to_warehouse_id == req->from_warehouse_id)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "to_warehouse_id", NULL,
                            "a transfer goes to another warehouse than it comes from: %" PRId64,
                            req->to_warehouse_id);
    if (logistics_date_check("expected_date", req->expected_date, S_TRANSFER_MAX_DAYS, &problem)
            != 0
        || logistics_text_check("note", req->note, 0, S_NOTE_MAX, &problem) != 0)
        return logistics_refuse(call, &problem);
    s_transfer_t self = {.tx.call = call, .req = req, .n = req->n_lines};
    self.lines = calloc(self.n + 1, sizeof *self.lines);
    if (!self.lines)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < self.n; i++)
        self.lines[i] = (logistics_line_t) {req->lines[i]->sku, req->lines[i]->qty, (int) i};
    int out;
    if (logistics_lines_check(self.lines, self.n, LOGISTICS_MAX_LINES, "lines", false, &problem)
        != 0)
        out = logistics_refuse(call, &problem);
    else {
        int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_request_tx, &self);
        out = logistics_finish(&self.tx, rc, &self.reply.base,
                               &kontor__logistics__transfer_reply__descriptor,
                               "requesting a transfer");
    }
    logistics_arena_free(&self.arena);
    free(self.lines);
    return out;
}

static int s_receive_tx(kt_pg_t *pg, void *arg)
{
    s_transfer_t *self = arg;
    logistics_problem_t *p = &self->tx.problem;
    logistics_changes_clear(&self->tx.changes);
    logistics_arena_free(&self->arena);
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, self->receive->transfer_id);
    const char *params[] = {id};
    PGresult *res = kt_pg_exec(pg, &logistics_sql_transfer_lock, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        logistics_problem_set(p, KT_NOT_FOUND, "transfer_id", NULL,
                              "transfer %" PRId64 " does not exist", self->receive->transfer_id);
        return 1;
    }
    kontor__logistics__transfer__init(&self->transfer);
    self->transfer.transfer_id = self->receive->transfer_id;
    self->transfer.from_warehouse_id = kt_pg_i64(res, 0, 0);
    self->transfer.to_warehouse_id = kt_pg_i64(res, 0, 1);
    bool received = strcmp(kt_pg_text(res, 0, 2), "received") == 0;
    self->transfer.expected_date = logistics_strdup(&self->arena, kt_pg_text(res, 0, 3));
    self->transfer.note = logistics_strdup(&self->arena, kt_pg_text(res, 0, 4));
    self->transfer.status = KONTOR__LOGISTICS__TRANSFER_STATUS__RECEIVED;
    PQclear(res);
    res = kt_pg_exec(pg, &logistics_sql_transfer_lines, params);
    if (!res)
        return -1;
    size_t n = (size_t) PQntuples(res);
    int64_t *cols = logistics_alloc(&self->arena, 2 * n * sizeof *cols + 1);
    logistics_delta_t *deltas = logistics_alloc(&self->arena, n * sizeof *deltas + 1);
    for (size_t i = 0; i < n; i++) {
        cols[i] = kt_pg_i64(res, (int) i, 0);
        cols[n + i] = kt_pg_i64(res, (int) i, 1);
        deltas[i] = (logistics_delta_t) {.warehouse_id = self->transfer.to_warehouse_id,
                                         .sku = cols[i],
                                         .d_on_hand = cols[n + i],
                                         .index = (int) i};
    }
    PQclear(res);
    s_reply_lines(self, cols, cols + n, n);
    if (received)
        return 0; //  received before: the same answer
    res = kt_pg_exec(pg, &logistics_sql_transfer_received, params);
    if (!res)
        return -1;
    bool ok = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!ok)
        return -1;
    char ref[40];
    snprintf(ref, sizeof ref, "transfer:%s", id);
    int rc = logistics_stock_apply(pg, deltas, n, true, "lines", "transfer_in", ref, "",
                                   &self->tx.changes, p);
    if (rc != 0)
        return rc;
    return logistics_stock_events(pg, &self->tx.changes);
}

int logistics_receive_transfer(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Logistics__ReceiveTransferRequest *req =
        (const Kontor__Logistics__ReceiveTransferRequest *) msg;
    if (req->transfer_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "transfer_id", NULL,
                            "transfer_id must be positive: %" PRId64, req->transfer_id);
    s_transfer_t self = {.tx.call = call, .receive = req};
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_receive_tx, &self);
    int out = logistics_finish(&self.tx, rc, &self.reply.base, NULL, "receiving a transfer");
    logistics_arena_free(&self.arena);
    return out;
}
