/*  clients_terms - contract and commercial terms (SetTerms, GetTerms) and
 *  credit checks (RecordCreditCheck).
 *
 *  SetTerms is for heads (method table): it records who and why (terms_history
 *  keeps the row before and after), bumps the client's version and writes
 *  TermsChanged, which orders and receivables apply, in the same transaction.
 *  A credit limit above the latest check's recommended limit (or with no
 *  check, or in another currency) needs a head in person: an admin is refused.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <string.h>

#include "clients_util.h"
#include "kt_validate.h"

//  A row of S_TERMS_COLUMNS into the messages (strings borrowed from res).
void clients_terms_row(const PGresult *res, Kontor__Clients__Terms *t, Kontor__Money *limit,
                       Kontor__Clients__Contract *contract, Kontor__Clients__TermsReply *rep)
{
    kontor__clients__terms__init(t);
    kontor__money__init(limit);
    kontor__clients__contract__init(contract);
    kontor__clients__terms_reply__init(rep);
    t->client_id = kt_pg_i64(res, 0, 0);
    t->price_column = (char *)kt_pg_text(res, 0, 1);
    t->discount_bp = (int32_t)kt_pg_i64(res, 0, 2);
    t->payment_days = (int32_t)kt_pg_i64(res, 0, 3);
    t->grace_days = (int32_t)kt_pg_i64(res, 0, 4);
    limit->units = kt_pg_i64(res, 0, 5);
    limit->currency = (char *)kt_pg_text(res, 0, 6);
    t->credit_limit = limit;
    int policy = clients_short_policy_from_name(kt_pg_text(res, 0, 7));
    t->short_policy = policy > 0 ? (Kontor__Clients__ShortPolicy)policy : 0;
    int status = clients_status_from_name(kt_pg_text(res, 0, 8));
    t->status = status > 0 ? (Kontor__Clients__ClientStatus)status : 0;
    t->manager_id = kt_pg_i64(res, 0, 9);
    t->branch_id = kt_pg_i64(res, 0, 10);
    t->version = kt_pg_i64(res, 0, 11);
    contract->number = (char *)kt_pg_text(res, 0, 12);
    contract->date = (char *)kt_pg_text(res, 0, 13);
    contract->until = (char *)kt_pg_text(res, 0, 14);
    rep->terms = t;
    rep->contract = contract;
    rep->changed_by = (char *)kt_pg_text(res, 0, 15);
    rep->why = (char *)kt_pg_text(res, 0, 16);
    rep->changed_at_ms = kt_pg_i64(res, 0, 17);
}

void clients_check_row(const PGresult *res, int r, Kontor__Clients__CreditCheck *c,
                       Kontor__Money *limit)
{
    kontor__clients__credit_check__init(c);
    kontor__money__init(limit);
    c->id = kt_pg_i64(res, r, 0);
    c->client_id = kt_pg_i64(res, r, 1);
    c->checked_on = (char *)kt_pg_text(res, r, 2);
    c->checked_by = (char *)kt_pg_text(res, r, 3);
    c->sources = (char *)kt_pg_text(res, r, 4);
    c->score = (int32_t)kt_pg_i64(res, r, 5);
    c->grade = (char *)kt_pg_text(res, r, 6);
    limit->units = kt_pg_i64(res, r, 7);
    limit->currency = (char *)kt_pg_text(res, r, 8);
    c->recommended_limit = limit;
    c->note = (char *)kt_pg_text(res, r, 9);
    c->created_at_ms = kt_pg_i64(res, r, 10);
}

//  ---------------------------------------------------------------- SetTerms

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__SetTermsRequest *req;
    PGresult *res; //  out: the terms as committed
} s_set_t;

static int s_set_tx(kt_pg_t *pg, void *arg)
{
    s_set_t *s = arg;
    kt_call_t *call = s->call;
    const Kontor__Clients__SetTermsRequest *req = s->req;
    if (s->res) {
        PQclear(s->res); //  from an attempt that was rolled back
        s->res = NULL;
    }
    char id[24], bp[16], pay[16], grace[16], limit[24];
    const char *p1[] = {clients_i64(id, req->client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_client_lock, p1);
    if (!res)
        return -1;
    int found = PQntuples(res);
    PQclear(res);
    if (found == 0) {
        clients_no_client(call, "client_id", req->client_id);
        return 1;
    }
    //  Over the recommended limit: a head's decision.
    if (!(res = kt_pg_exec(pg, &clients_sql_check_latest, p1)))
        return -1;
    bool has_check = PQntuples(res) > 0;
    bool needs_head = clients_limit_needs_head(
        req->credit_limit->units, req->credit_limit->currency, has_check,
        has_check ? kt_pg_i64(res, 0, 7) : 0, has_check ? kt_pg_text(res, 0, 8) : "");
    PQclear(res);
    if (needs_head && call->caller->kind != KT_KIND_HEAD) {
        kt_call_fail(call, KT_PERMISSION_DENIED, "credit_limit", "role_required",
                     "a credit limit above the recommended one needs a head");
        return 1;
    }
    snprintf(bp, sizeof bp, "%d", req->discount_bp);
    snprintf(pay, sizeof pay, "%d", req->payment_days);
    snprintf(grace, sizeof grace, "%d", req->grace_days);
    const char *policy = clients_short_policy_name(
        req->short_policy ? (int)req->short_policy : KONTOR__CLIENTS__SHORT_POLICY__SHIP_AVAILABLE);
    const char *p[] = {id,
                       req->contract_number,
                       req->contract_date[0] ? req->contract_date : NULL,
                       req->contract_until[0] ? req->contract_until : NULL,
                       req->price_column,
                       bp,
                       pay,
                       grace,
                       clients_i64(limit, req->credit_limit->units),
                       req->credit_limit->currency,
                       policy,
                       call->caller->name,
                       req->why};
    if (!(res = kt_pg_exec(pg, &clients_sql_terms_update, p)))
        return -1;
    PQclear(res);
    if (!(res = kt_pg_exec(pg, &clients_sql_client_bump, p1)))
        return -1;
    PQclear(res);
    if (!(s->res = kt_pg_exec(pg, &clients_sql_terms_get, p1)))
        return -1;
    Kontor__Clients__Terms t;
    Kontor__Money m;
    Kontor__Clients__Contract c;
    Kontor__Clients__TermsReply r;
    clients_terms_row(s->res, &t, &m, &c, &r);
    Kontor__Clients__TermsChanged ev = KONTOR__CLIENTS__TERMS_CHANGED__INIT;
    ev.terms = &t;
    ev.changed_by = (char *)call->caller->name;
    ev.why = req->why;
    return kt_outbox_add(pg, "TermsChanged", &ev.base);
}

int clients_set_terms(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__SetTermsRequest *req = (const Kontor__Clients__SetTermsRequest *)request;
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0)
        return -1;
    clients_fault_t fault;
    if (clients_terms_check("", req, true, &fault) != 0)
        return clients_fault_reply(call, &fault);
    s_set_t s = {call, req, NULL};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_set_tx, &s);
    if (rc != 0) {
        if (s.res)
            PQclear(s.res);
        return rc == 1 ? -1 : kt_call_fail_pg(call, "change the terms");
    }
    Kontor__Clients__Terms t;
    Kontor__Money m;
    Kontor__Clients__Contract c;
    Kontor__Clients__TermsReply r;
    clients_terms_row(s.res, &t, &m, &c, &r);
    rc = kt_call_reply(call, &r.base);
    PQclear(s.res);
    return rc;
}

int clients_get_terms(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__GetTermsRequest *req = (const Kontor__Clients__GetTermsRequest *)request;
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0)
        return -1;
    char id[24];
    const char *p[] = {clients_i64(id, req->client_id)};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_terms_get, p);
    if (!res)
        return kt_call_fail_pg(call, "read the terms");
    if (PQntuples(res) == 0) {
        PQclear(res);
        return clients_no_client(call, "client_id", req->client_id);
    }
    Kontor__Clients__Terms t;
    Kontor__Money m;
    Kontor__Clients__Contract c;
    Kontor__Clients__TermsReply r;
    clients_terms_row(res, &t, &m, &c, &r);
    int rc = kt_call_reply(call, &t.base);
    PQclear(res);
    return rc;
}

//  ---------------------------------------------------------------- RecordCreditCheck

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__CreditCheck *req;
    PGresult *res;
} s_check_t;

static int s_check_tx(kt_pg_t *pg, void *arg)
{
    s_check_t *s = arg;
    if (s->res) {
        PQclear(s->res); //  from an attempt that was rolled back
        s->res = NULL;
    }
    kt_call_t *call = s->call;
    const Kontor__Clients__CreditCheck *req = s->req;
    char id[24], score[16], limit[24];
    const char *p1[] = {clients_i64(id, req->client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_client_owner, p1);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        clients_no_client(call, "client_id", req->client_id);
        return 1;
    }
    int64_t manager_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    //  Accountants check any client; a manager only their own.
    if (call->caller->kind != KT_KIND_ACCOUNTANT &&
        clients_owner_or_reply(call, manager_id, "the client") != 0)
        return 1;
    snprintf(score, sizeof score, "%d", req->score);
    const char *p[] = {id,
                       req->checked_on,
                       call->caller->name,
                       req->sources,
                       score,
                       req->grade,
                       clients_i64(limit, req->recommended_limit->units),
                       req->recommended_limit->currency,
                       req->note};
    if (!(s->res = kt_pg_exec(pg, &clients_sql_check_insert, p)))
        return -1;
    return 0;
}

int clients_record_credit_check(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__CreditCheck *req = (const Kontor__Clients__CreditCheck *)request;
    if (req->id != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "id", NULL,
                            "id must be 0: a check is recorded once and not changed");
    if (req->checked_by[0])
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "checked_by", NULL,
                            "checked_by must be empty: the service records who checked");
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0)
        return -1;
    clients_fault_t fault;
    if (clients_credit_check_check("", req, &fault) != 0)
        return clients_fault_reply(call, &fault);
    s_check_t s = {call, req, NULL};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_check_tx, &s);
    if (rc != 0) {
        if (s.res)
            PQclear(s.res);
        return rc == 1 ? -1 : kt_call_fail_pg(call, "record the credit check");
    }
    Kontor__Clients__CreditCheck out;
    Kontor__Money m;
    clients_check_row(s.res, 0, &out, &m);
    rc = kt_call_reply(call, &out.base);
    PQclear(s.res);
    return rc;
}
