/*  clients_complaints - OpenComplaint and MoveComplaint.
 *
 *  A complaint's life: open -> in progress -> resolved or rejected (open may
 *  go straight to resolved or rejected); nothing leaves resolved or rejected.
 *  The move is guarded in SQL (UPDATE ... WHERE status = the status read
 *  under the row lock), and resolution text is required to close one. The
 *  time to resolve is resolved_at - opened_at. ListComplaints reads them by
 *  client, manager, status and date, newest first, a page at a time.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clients_array.h"
#include "clients_util.h"

void clients_complaint_row(const PGresult *res, int r, Kontor__Clients__Complaint *c)
{
    kontor__clients__complaint__init(c);
    c->id = kt_pg_i64(res, r, 0);
    c->client_id = kt_pg_i64(res, r, 1);
    c->order_id = kt_pg_i64(res, r, 2);
    c->shipment_id = kt_pg_i64(res, r, 3);
    c->category = (char *)kt_pg_text(res, r, 4);
    c->description = (char *)kt_pg_text(res, r, 5);
    int status = clients_complaint_from_name(kt_pg_text(res, r, 6));
    c->status = status > 0 ? (Kontor__Clients__ComplaintStatus)status : 0;
    c->resolution = (char *)kt_pg_text(res, r, 7);
    c->opened_by = (char *)kt_pg_text(res, r, 8);
    c->opened_at_ms = kt_pg_i64(res, r, 9);
    c->resolved_at_ms = kt_pg_i64(res, r, 10);
    c->seconds_to_resolve = kt_pg_i64(res, r, 11);
}

static int s_reply_complaint(kt_call_t *call, PGresult *res)
{
    Kontor__Clients__Complaint out;
    clients_complaint_row(res, 0, &out);
    int rc = kt_call_reply(call, &out.base);
    PQclear(res);
    return rc;
}

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__OpenComplaintRequest *open;
    const Kontor__Clients__MoveComplaintRequest *move;
    PGresult *res;
} s_tx_t;

static int s_open_tx(kt_pg_t *pg, void *arg)
{
    s_tx_t *s = arg;
    const Kontor__Clients__OpenComplaintRequest *req = s->open;
    if (s->res) {
        PQclear(s->res); //  from an attempt that was rolled back
        s->res = NULL;
    }
    char id[24], order[24], shipment[24];
    const char *p1[] = {clients_i64(id, req->client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_client_owner, p1);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        clients_no_client(s->call, "client_id", req->client_id);
        return 1;
    }
    int64_t manager_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    //  Managers open complaints for their own clients; other staff for any.
    if (s->call->caller->kind == KT_KIND_MANAGER &&
        clients_owner_or_reply(s->call, manager_id, "the client") != 0)
        return 1;
    const char *p[] = {id,
                       req->order_id ? clients_i64(order, req->order_id) : NULL,
                       req->shipment_id ? clients_i64(shipment, req->shipment_id) : NULL,
                       req->category,
                       req->description,
                       s->call->caller->name};
    if (!(s->res = kt_pg_exec(pg, &clients_sql_complaint_insert, p)))
        return -1;
    return 0;
}

int clients_open_complaint(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__OpenComplaintRequest *req =
        (const Kontor__Clients__OpenComplaintRequest *)request;
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0)
        return -1;
    if (req->order_id < 0 || req->shipment_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->order_id < 0 ? "order_id" : "shipment_id", NULL,
                            "ids must not be negative");
    if (clients_text_or_reply(call, "category", req->category, 1, CLIENTS_CATEGORY_MAX) != 0 ||
        clients_text_or_reply(call, "description", req->description, 1, CLIENTS_TEXT_MAX) != 0)
        return -1;
    s_tx_t s = {call, req, NULL, NULL};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_open_tx, &s);
    if (rc != 0) {
        if (s.res)
            PQclear(s.res);
        return rc == 1 ? -1 : kt_call_fail_pg(call, "open the complaint");
    }
    return s_reply_complaint(call, s.res);
}

static int s_move_tx(kt_pg_t *pg, void *arg)
{
    s_tx_t *s = arg;
    const Kontor__Clients__MoveComplaintRequest *req = s->move;
    if (s->res) {
        PQclear(s->res); //  from an attempt that was rolled back
        s->res = NULL;
    }
    char id[24], from[16];
    const char *p1[] = {clients_i64(id, req->complaint_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_complaint_lock, p1);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        kt_call_fail(s->call, KT_NOT_FOUND, "complaint_id", NULL,
                     "complaint %" PRId64 " does not exist", req->complaint_id);
        return 1;
    }
    snprintf(from, sizeof from, "%s", kt_pg_text(res, 0, 0));
    int64_t manager_id = kt_pg_i64(res, 0, 1);
    PQclear(res);
    if (s->call->caller->kind == KT_KIND_MANAGER &&
        clients_owner_or_reply(s->call, manager_id, "the client") != 0)
        return 1;
    int from_status = clients_complaint_from_name(from);
    if (!clients_complaint_move_ok(from_status, (int)req->status)) {
        kt_call_fail(s->call, KT_FAILED_PRECONDITION, "status", "invalid_transition",
                     "complaint %" PRId64 " is %s and cannot become %s", req->complaint_id, from,
                     clients_complaint_name((int)req->status));
        return 1;
    }
    const char *p[] = {id, from, clients_complaint_name((int)req->status), req->resolution};
    if (!(s->res = kt_pg_exec(pg, &clients_sql_complaint_move, p)))
        return -1;
    return 0;
}

int clients_move_complaint(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__MoveComplaintRequest *req =
        (const Kontor__Clients__MoveComplaintRequest *)request;
    if (clients_id_or_reply(call, "complaint_id", req->complaint_id) != 0)
        return -1;
    bool closing = req->status == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_RESOLVED ||
                   req->status == KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_REJECTED;
    if (!closing && req->status != KONTOR__CLIENTS__COMPLAINT_STATUS__COMPLAINT_IN_PROGRESS)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "status", NULL,
                            "status must be in progress, resolved or rejected");
    if (clients_text_or_reply(call, "resolution", req->resolution, closing ? 1 : 0,
                              CLIENTS_TEXT_MAX) != 0)
        return -1;
    s_tx_t s = {call, NULL, req, NULL};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_move_tx, &s);
    if (rc != 0) {
        if (s.res)
            PQclear(s.res);
        return rc == 1 ? -1 : kt_call_fail_pg(call, "move the complaint");
    }
    return s_reply_complaint(call, s.res);
}

//  ---------------------------------------------------------------- ListComplaints

#define S_LIST_DEFAULT 50
#define S_LIST_MAX     200

//  Who may see which: a manager their own clients' complaints (their
//  manager id is the filter, and another manager's or client's is refused
//  not_owner); heads, admins and other staff everything.
int clients_list_complaints(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__ListComplaintsRequest *req =
        (const Kontor__Clients__ListComplaintsRequest *)request;
    char field[32], client[24], manager[24], after[24], limit[16];
    clients_fault_t fault;
    if (req->client_id < 0 || req->manager_id < 0 || req->after_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->client_id < 0    ? "client_id"
                            : req->manager_id < 0 ? "manager_id"
                                                  : "after_id",
                            NULL, "ids must not be negative");
    for (size_t i = 0; i < req->n_statuses; i++)
        if (!clients_complaint_name((int)req->statuses[i])) {
            snprintf(field, sizeof field, "statuses[%zu]", i);
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                                "%s must be open, in progress, resolved or rejected", field);
        }
    if (clients_date_check("", "opened_from", req->opened_from, true, &fault) != 0 ||
        clients_date_check("", "opened_to", req->opened_to, true, &fault) != 0)
        return clients_fault_reply(call, &fault);
    if (req->opened_from[0] && req->opened_to[0] && strcmp(req->opened_to, req->opened_from) < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "opened_to", NULL,
                            "opened_to %s is before opened_from %s", req->opened_to,
                            req->opened_from);
    if (req->limit > S_LIST_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "limit", NULL,
                            "limit must be at most %d: %u", S_LIST_MAX, req->limit);
    unsigned n = req->limit ? req->limit : S_LIST_DEFAULT;
    int64_t manager_id = req->manager_id;
    if (call->caller->kind == KT_KIND_MANAGER) {
        if (manager_id != 0 && !kt_call_acts_for(call, manager_id))
            return kt_call_fail(call, KT_PERMISSION_DENIED, "manager_id", "not_owner",
                                "%s sees the complaints of their own clients, not of manager "
                                "%" PRId64,
                                call->caller->name, manager_id);
        manager_id = call->caller->manager_id;
    }
    if (req->client_id > 0) {
        const char *p[] = {clients_i64(client, req->client_id)};
        PGresult *res = kt_pg_exec(call->pg, &clients_sql_client_name_manager, p);
        if (!res)
            return kt_call_fail_pg(call, "list complaints");
        int found = PQntuples(res);
        int64_t owner = found ? kt_pg_i64(res, 0, 1) : 0;
        PQclear(res);
        if (!found)
            return clients_no_client(call, "client_id", req->client_id);
        if (call->caller->kind == KT_KIND_MANAGER &&
            clients_owner_or_reply(call, owner, "the client") != 0)
            return -1;
    }
    clients_array_t statuses;
    clients_array_init(&statuses);
    for (size_t i = 0; i < req->n_statuses; i++)
        clients_array_text(&statuses, clients_complaint_name((int)req->statuses[i]));
    const char *status_list = clients_array_end(&statuses);
    if (!status_list) {
        clients_array_clear(&statuses);
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    }
    snprintf(limit, sizeof limit, "%u", n + 1); //  one more: is there a next page
    const char *p[] = {req->client_id ? clients_i64(client, req->client_id) : NULL,
                       manager_id ? clients_i64(manager, manager_id) : NULL,
                       req->n_statuses ? status_list : NULL,
                       req->opened_from[0] ? req->opened_from : NULL,
                       req->opened_to[0] ? req->opened_to : NULL,
                       req->after_id ? clients_i64(after, req->after_id) : NULL,
                       limit};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_complaints_list, p);
    clients_array_clear(&statuses);
    if (!res)
        return kt_call_fail_pg(call, "list complaints");
    int rows = PQntuples(res);
    int shown = rows > (int)n ? (int)n : rows;
    Kontor__Clients__Complaint *items = calloc((size_t)shown + 1, sizeof *items);
    Kontor__Clients__Complaint **ptrs = calloc((size_t)shown + 1, sizeof *ptrs);
    int rc;
    if (!items || !ptrs) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < shown; i++) {
        clients_complaint_row(res, i, &items[i]);
        ptrs[i] = &items[i];
    }
    Kontor__Clients__ListComplaintsReply rep = KONTOR__CLIENTS__LIST_COMPLAINTS_REPLY__INIT;
    rep.n_complaints = (size_t)shown;
    rep.complaints = ptrs;
    rep.next_after_id = rows > (int)n ? items[shown - 1].id : 0;
    rc = kt_call_reply(call, &rep.base);
cleanup:
    free(ptrs);
    free(items);
    PQclear(res);
    return rc;
}
