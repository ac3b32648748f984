/*  clients_card - the client card: CreateClient, UpdateClient, AssignManager,
 *  UpsertContact, and GetClient (the card with everything around it).
 *
 *  Every change is one transaction that ends with ClientChanged in the
 *  outbox. UpdateClient is optimistic: it names the version it read, and
 *  the UPDATE is conditional on it (row count checked), so of two updates
 *  from the same version one wins and the other is refused ABORTED
 *  (stale_version) instead of silently overwriting the first.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clients_util.h"
#include "kt_money.h"
#include "kt_validate.h"

//  The editable fields, shared by CreateClient and UpdateClient.
typedef clients_card_fields_t s_fields_t;

static int s_fields_or_reply(kt_call_t *call, const s_fields_t *f)
{
    clients_fault_t fault;
    if (clients_card_check("", f, &fault) != 0)
        return clients_fault_reply(call, &fault);
    return 0;
}

//  In a transaction: the territory's branch into *branch_id, and no other
//  client with this tax id or code. Returns 0, or what the body returns.
static int s_references(kt_call_t *call, const s_fields_t *f, int64_t self_id, int64_t *branch_id)
{
    char id[24], self[24];
    const char *p[] = {clients_i64(id, f->territory_id)};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_territory_get, p);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        kt_call_fail(call, KT_NOT_FOUND, "territory_id", NULL,
                     "territory %" PRId64 " does not exist", f->territory_id);
        return 1;
    }
    *branch_id = kt_pg_i64(res, 0, 1);
    PQclear(res);
    const char *self_p = self_id > 0 ? clients_i64(self, self_id) : NULL;
    const char *tp[] = {f->tax_id, self_p};
    res = kt_pg_exec(call->pg, &clients_sql_tax_id_owner, tp);
    if (!res)
        return -1;
    if (PQntuples(res) > 0) {
        kt_call_fail(call, KT_ALREADY_EXISTS, "tax_id", NULL,
                     "tax id %s already belongs to client %" PRId64 " (%s)", f->tax_id,
                     kt_pg_i64(res, 0, 0), kt_pg_text(res, 0, 1));
        PQclear(res);
        return 1;
    }
    PQclear(res);
    if (f->code[0]) {
        const char *cp[] = {f->code, self_p};
        res = kt_pg_exec(call->pg, &clients_sql_code_owner, cp);
        if (!res)
            return -1;
        if (PQntuples(res) > 0) {
            kt_call_fail(call, KT_ALREADY_EXISTS, "code", NULL,
                         "code %s already belongs to client %" PRId64 " (%s)", f->code,
                         kt_pg_i64(res, 0, 0), kt_pg_text(res, 0, 1));
            PQclear(res);
            return 1;
        }
        PQclear(res);
    }
    return 0;
}

//  After a unique violation at commit (two creations racing with one tax id):
//  name the client that won, as the check inside the transaction would have.
static int s_duplicate_reply(kt_call_t *call, const s_fields_t *f)
{
    int64_t ignored;
    int rc = s_references(call, f, 0, &ignored);
    if (rc == 1)
        return -1;
    return kt_call_fail(call, KT_ALREADY_EXISTS, NULL, NULL,
                        "a client with this tax id or code already exists");
}

static int s_reply_card(kt_call_t *call, int64_t id)
{
    clients_card_t card;
    int rc = clients_card_load(call->pg, id, &card);
    if (rc == 0)
        rc = kt_call_reply(call, &card.card.base);
    else if (rc == 1)
        rc = clients_no_client(call, "client_id", id);
    else
        rc = kt_call_fail_pg(call, "read the client");
    clients_card_clear(&card);
    return rc;
}

//  ---------------------------------------------------------------- CreateClient

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__CreateClientRequest *req;
    s_fields_t f;
    int64_t manager_id;
    const char *currency;
    int64_t id; //  out
} s_create_t;

static int s_create_tx(kt_pg_t *pg, void *arg)
{
    s_create_t *c = arg;
    kt_call_t *call = c->call;
    char ids[4][24];
    int64_t branch_id = 0;
    if (clients_manager_or_reply(call, "manager_id", c->manager_id, true) != 0)
        return clients_tx_refused(pg);
    int rc = s_references(call, &c->f, 0, &branch_id);
    if (rc != 0)
        return rc;
    const char *status = clients_status_name(
        c->req->status ? (int)c->req->status : KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT);
    const char *p[] = {c->f.code,
                       c->f.name,
                       c->f.tax_id,
                       c->f.legal_address,
                       c->f.delivery_address,
                       c->f.segment,
                       status,
                       c->req->key_account ? "true" : "false",
                       clients_i64(ids[0], branch_id),
                       clients_i64(ids[1], c->f.territory_id),
                       clients_i64(ids[2], c->manager_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_client_insert, p);
    if (!res)
        return -1;
    c->id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    clients_i64(ids[3], c->id);
    const char *tp[] = {ids[3], c->currency, call->caller->name};
    if (!(res = kt_pg_exec(pg, &clients_sql_terms_insert, tp)))
        return -1;
    PQclear(res);
    const char *ap[] = {ids[3], NULL, ids[2], call->caller->name, "created"};
    if (!(res = kt_pg_exec(pg, &clients_sql_assignment_insert, ap)))
        return -1;
    PQclear(res);
    if (clients_holidays_store(pg, c->id, c->f.holidays, c->f.n_holidays) != 0)
        return -1;
    //  ClientChanged from the row as it now is.
    clients_card_t card;
    rc = clients_card_load(pg, c->id, &card);
    if (rc == 0) {
        Kontor__Clients__ClientChanged ev = KONTOR__CLIENTS__CLIENT_CHANGED__INIT;
        ev.client_id = card.card.id;
        ev.name = card.card.name;
        ev.status = card.card.status;
        ev.manager_id = card.card.manager_id;
        ev.branch_id = card.card.branch_id;
        ev.territory_id = card.card.territory_id;
        ev.key_account = card.card.key_account;
        ev.version = card.card.version;
        rc = kt_outbox_add(pg, "ClientChanged", &ev.base);
    } else
        rc = -1;
    clients_card_clear(&card);
    return rc;
}

int clients_create_client(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__CreateClientRequest *req =
        (const Kontor__Clients__CreateClientRequest *)request;
    s_create_t c = {.call = call, .req = req};
    c.f = (s_fields_t){
        req->code,    req->name,         req->tax_id,   req->legal_address, req->delivery_address,
        req->segment, req->territory_id, req->holidays, req->n_holidays};
    if (s_fields_or_reply(call, &c.f) != 0)
        return -1;
    c.currency = req->currency[0] ? req->currency : CLIENTS_DEFAULT_CURRENCY;
    if (!kt_currency_valid(c.currency))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "currency", NULL,
                            "currency must be three upper-case letters (ISO 4217)");
    if (req->manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "manager_id must not be negative: %" PRId64, req->manager_id);
    c.manager_id = req->manager_id ? req->manager_id : call->caller->manager_id;
    if (c.manager_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "manager_id must be given: %s is not a manager", call->caller->name);
    //  A manager creates clients for themself only.
    if (!kt_call_acts_for(call, c.manager_id))
        return kt_call_fail(call, KT_PERMISSION_DENIED, "manager_id", "not_owner",
                            "%s cannot create a client for manager %" PRId64, call->caller->name,
                            c.manager_id);
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_create_tx, &c);
    if (rc == 1)
        return -1;
    if (rc != 0) {
        if (kt_pg_status(call->pg) == KT_ALREADY_EXISTS)
            return s_duplicate_reply(call, &c.f);
        return kt_call_fail_pg(call, "create the client");
    }
    return s_reply_card(call, c.id);
}

//  ---------------------------------------------------------------- UpdateClient

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__UpdateClientRequest *req;
    s_fields_t f;
} s_update_t;

static int s_update_tx(kt_pg_t *pg, void *arg)
{
    s_update_t *u = arg;
    kt_call_t *call = u->call;
    const Kontor__Clients__UpdateClientRequest *req = u->req;
    char id[24], version[24], territory[24], branch[24];
    const char *p1[] = {clients_i64(id, req->client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_client_lock, p1);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        clients_no_client(call, "client_id", req->client_id);
        return 1;
    }
    int64_t manager_id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    if (clients_owner_or_reply(call, manager_id, "the client") != 0)
        return 1;
    int64_t branch_id = 0;
    int rc = s_references(call, &u->f, req->client_id, &branch_id);
    if (rc != 0)
        return rc;
    const char *status = req->status ? clients_status_name((int)req->status) : NULL;
    const char *p[] = {id,
                       clients_i64(version, req->version),
                       u->f.code,
                       u->f.name,
                       u->f.tax_id,
                       u->f.legal_address,
                       u->f.delivery_address,
                       u->f.segment,
                       status,
                       req->key_account ? "true" : "false",
                       clients_i64(territory, u->f.territory_id),
                       clients_i64(branch, branch_id)};
    res = kt_pg_exec(pg, &clients_sql_client_update, p);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        kt_call_fail(call, KT_ABORTED, "version", "stale_version",
                     "client %" PRId64 " was changed since version %" PRId64
                     " was read; reload it and try again",
                     req->client_id, req->version);
        return 1;
    }
    if (clients_holidays_store(pg, req->client_id, u->f.holidays, u->f.n_holidays) != 0) {
        PQclear(res);
        return -1;
    }
    rc = clients_emit_changed(pg, res);
    PQclear(res);
    return rc;
}

int clients_update_client(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__UpdateClientRequest *req =
        (const Kontor__Clients__UpdateClientRequest *)request;
    s_update_t u = {.call = call, .req = req};
    u.f = (s_fields_t){
        req->code,    req->name,         req->tax_id,   req->legal_address, req->delivery_address,
        req->segment, req->territory_id, req->holidays, req->n_holidays};
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0 ||
        clients_id_or_reply(call, "version", req->version) != 0 ||
        s_fields_or_reply(call, &u.f) != 0)
        return -1;
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_update_tx, &u);
    if (rc == 1)
        return -1;
    if (rc != 0) {
        if (kt_pg_status(call->pg) == KT_ALREADY_EXISTS)
            return s_duplicate_reply(call, &u.f);
        return kt_call_fail_pg(call, "update the client");
    }
    return s_reply_card(call, req->client_id);
}

//  ---------------------------------------------------------------- AssignManager

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__AssignManagerRequest *req;
} s_assign_t;

static int s_assign_tx(kt_pg_t *pg, void *arg)
{
    s_assign_t *a = arg;
    kt_call_t *call = a->call;
    char id[24], from[24], to[24];
    const char *p1[] = {clients_i64(id, a->req->client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_client_lock, p1);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        clients_no_client(call, "client_id", a->req->client_id);
        return 1;
    }
    int64_t old = kt_pg_i64(res, 0, 0);
    PQclear(res);
    if (clients_manager_or_reply(call, "manager_id", a->req->manager_id, true) != 0)
        return clients_tx_refused(pg);
    if (old == a->req->manager_id)
        return 0; //  already theirs: nothing to record
    const char *p2[] = {id, clients_i64(to, a->req->manager_id)};
    res = kt_pg_exec(pg, &clients_sql_client_assign, p2);
    if (!res)
        return -1;
    const char *p3[] = {id, clients_i64(from, old), to, call->caller->name, a->req->why};
    PGresult *ins = kt_pg_exec(pg, &clients_sql_assignment_insert, p3);
    if (!ins) {
        PQclear(res);
        return -1;
    }
    PQclear(ins);
    int rc = clients_emit_changed(pg, res);
    PQclear(res);
    return rc;
}

int clients_assign_manager(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__AssignManagerRequest *req =
        (const Kontor__Clients__AssignManagerRequest *)request;
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0 ||
        clients_id_or_reply(call, "manager_id", req->manager_id) != 0 ||
        clients_text_or_reply(call, "why", req->why, 0, CLIENTS_WHY_MAX) != 0)
        return -1;
    s_assign_t a = {call, req};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_assign_tx, &a);
    if (rc == 1)
        return -1;
    if (rc != 0)
        return kt_call_fail_pg(call, "assign the client");
    return s_reply_card(call, req->client_id);
}

//  ---------------------------------------------------------------- contacts

static void s_contact_row(const PGresult *res, int r, Kontor__Clients__Contact *c)
{
    kontor__clients__contact__init(c);
    c->id = kt_pg_i64(res, r, 0);
    c->client_id = kt_pg_i64(res, r, 1);
    c->name = (char *)kt_pg_text(res, r, 2);
    c->position = (char *)kt_pg_text(res, r, 3);
    c->phone = (char *)kt_pg_text(res, r, 4);
    c->email = (char *)kt_pg_text(res, r, 5);
    c->decision_maker = clients_bool(res, r, 6);
    c->birthday = (char *)kt_pg_text(res, r, 7);
}

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__Contact *req;
    PGresult *res; //  out: the contact's row
} s_contact_t;

static int s_contact_tx(kt_pg_t *pg, void *arg)
{
    s_contact_t *c = arg;
    if (c->res) {
        PQclear(c->res); //  from an attempt that was rolled back
        c->res = NULL;
    }
    kt_call_t *call = c->call;
    const Kontor__Clients__Contact *req = c->req;
    char client[24], id[24];
    const char *p1[] = {clients_i64(client, req->client_id)};
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
    if (clients_owner_or_reply(call, manager_id, "the client") != 0)
        return 1;
    const char *birthday = req->birthday[0] ? req->birthday : NULL;
    const char *dm = req->decision_maker ? "true" : "false";
    if (req->id == 0) {
        const char *p[] = {client, req->name, req->position, req->phone, req->email, dm, birthday};
        res = kt_pg_exec(pg, &clients_sql_contact_insert, p);
    } else {
        const char *p[] = {clients_i64(id, req->id),
                           client,
                           req->name,
                           req->position,
                           req->phone,
                           req->email,
                           dm,
                           birthday};
        res = kt_pg_exec(pg, &clients_sql_contact_update, p);
    }
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        kt_call_fail(call, KT_NOT_FOUND, "id", NULL, "client %" PRId64 " has no contact %" PRId64,
                     req->client_id, req->id);
        return 1;
    }
    c->res = res;
    return 0;
}

int clients_upsert_contact(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__Contact *req = (const Kontor__Clients__Contact *)request;
    if (req->id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "id", NULL,
                            "id must not be negative: %" PRId64, req->id);
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0)
        return -1;
    int32_t today = 0;
    if (req->birthday[0] && (today = clients_today(call->pg)) < 0)
        return kt_call_fail_pg(call, "read the date");
    clients_fault_t fault;
    if (clients_contact_check("", req, today, &fault) != 0)
        return clients_fault_reply(call, &fault);
    s_contact_t c = {call, req, NULL};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_contact_tx, &c);
    if (rc != 0) {
        if (c.res)
            PQclear(c.res);
        return rc == 1 ? -1 : kt_call_fail_pg(call, "save the contact");
    }
    Kontor__Clients__Contact out;
    s_contact_row(c.res, 0, &out);
    rc = kt_call_reply(call, &out.base);
    PQclear(c.res);
    return rc;
}

//  ---------------------------------------------------------------- GetClient

//  Results a view is read from; each is cleared at the end.
enum { S_CONTACTS, S_TERMS, S_CHECK, S_COMPLAINTS, S_ORDERS, S_BALANCES, S_ASSIGNMENTS, S_NRES };

static const kt_stmt_t *const s_view_stmts[S_NRES] = {
    &clients_sql_contacts_get,    &clients_sql_terms_get,   &clients_sql_check_latest,
    &clients_sql_complaints_open, &clients_sql_orders_last, &clients_sql_balances_get,
    &clients_sql_assignments_get,
};

int clients_get_client(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__ClientRequest *req = (const Kontor__Clients__ClientRequest *)request;
    if (clients_id_or_reply(call, "client_id", req->client_id) != 0)
        return -1;
    clients_card_t card;
    PGresult *res[S_NRES] = {0};
    void *mem[S_NRES * 2] = {0};
    int rc;
    //  One snapshot for all of it, so the parts agree with each other.
    if (kt_pg_command(call->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return kt_call_fail_pg(call, "read the client");
    rc = clients_card_load(call->pg, req->client_id, &card);
    if (rc != 0)
        goto done;
    char id[24];
    const char *p[] = {clients_i64(id, req->client_id)};
    for (int i = 0; i < S_NRES; i++)
        if (!(res[i] = kt_pg_exec(call->pg, s_view_stmts[i], p))) {
            rc = -1;
            goto done;
        }

    Kontor__Clients__ClientView view = KONTOR__CLIENTS__CLIENT_VIEW__INIT;
    view.card = &card.card;

    int n = PQntuples(res[S_CONTACTS]);
    Kontor__Clients__Contact *contacts = mem[0] = calloc((size_t)n + 1, sizeof *contacts);
    Kontor__Clients__Contact **contact_p = mem[1] = calloc((size_t)n + 1, sizeof *contact_p);
    int m = PQntuples(res[S_COMPLAINTS]);
    Kontor__Clients__Complaint *complaints = mem[2] = calloc((size_t)m + 1, sizeof *complaints);
    Kontor__Clients__Complaint **complaint_p = mem[3] = calloc((size_t)m + 1, sizeof *complaint_p);
    int o = PQntuples(res[S_ORDERS]);
    Kontor__Clients__OrderSummary *orders = mem[4] = calloc((size_t)o + 1, sizeof *orders);
    Kontor__Clients__OrderSummary **order_p = mem[5] = calloc((size_t)o + 1, sizeof *order_p);
    Kontor__Money *totals = mem[6] = calloc((size_t)o + 1, sizeof *totals);
    int b = PQntuples(res[S_BALANCES]);
    Kontor__Clients__BalanceSummary *balances = mem[7] = calloc((size_t)b + 1, sizeof *balances);
    Kontor__Clients__BalanceSummary **balance_p = mem[8] = calloc((size_t)b + 1, sizeof *balance_p);
    int a = PQntuples(res[S_ASSIGNMENTS]);
    Kontor__Clients__Assignment *assignments = mem[9] = calloc((size_t)a + 1, sizeof *assignments);
    Kontor__Clients__Assignment **assignment_p = mem[10] =
        calloc((size_t)a + 1, sizeof *assignment_p);
    for (int i = 0; i < 11; i++)
        if (!mem[i]) {
            kt_pg_command(call->pg, "ROLLBACK");
            rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto cleanup;
        }
    for (int i = 0; i < n; i++) {
        s_contact_row(res[S_CONTACTS], i, &contacts[i]);
        contact_p[i] = &contacts[i];
    }
    view.n_contacts = (size_t)n;
    view.contacts = contact_p;

    Kontor__Clients__Terms terms;
    Kontor__Money limit, rec;
    Kontor__Clients__Contract contract;
    Kontor__Clients__TermsReply terms_rep;
    if (PQntuples(res[S_TERMS]) > 0) {
        clients_terms_row(res[S_TERMS], &terms, &limit, &contract, &terms_rep);
        view.terms = &terms_rep;
    }
    Kontor__Clients__CreditCheck check;
    if (PQntuples(res[S_CHECK]) > 0) {
        clients_check_row(res[S_CHECK], 0, &check, &rec);
        view.latest_credit_check = &check;
    }
    for (int i = 0; i < m; i++) {
        clients_complaint_row(res[S_COMPLAINTS], i, &complaints[i]);
        complaint_p[i] = &complaints[i];
    }
    view.n_open_complaints = (size_t)m;
    view.open_complaints = complaint_p;
    for (int i = 0; i < o; i++) {
        const PGresult *r = res[S_ORDERS];
        kontor__clients__order_summary__init(&orders[i]);
        kontor__money__init(&totals[i]);
        orders[i].order_id = kt_pg_i64(r, i, 0);
        totals[i].units = kt_pg_i64(r, i, 1);
        totals[i].currency = (char *)kt_pg_text(r, i, 2);
        orders[i].total = &totals[i];
        orders[i].confirmed_at_ms = kt_pg_i64(r, i, 3);
        orders[i].manager_id = kt_pg_i64(r, i, 4);
        order_p[i] = &orders[i];
    }
    view.n_last_orders = (size_t)o;
    view.last_orders = order_p;
    for (int i = 0; i < b; i++) {
        const PGresult *r = res[S_BALANCES];
        kontor__clients__balance_summary__init(&balances[i]);
        balances[i].currency = (char *)kt_pg_text(r, i, 0);
        balances[i].invoiced = kt_pg_i64(r, i, 1);
        balances[i].paid = kt_pg_i64(r, i, 2);
        //  Both are bounded by the schema's bigint; the difference may not be.
        if (kt_sub_i64(balances[i].invoiced, balances[i].paid, &balances[i].open) != 0)
            balances[i].open = 0;
        balances[i].last_invoice_at_ms = kt_pg_i64(r, i, 3);
        balances[i].last_payment_at_ms = kt_pg_i64(r, i, 4);
        balance_p[i] = &balances[i];
    }
    view.n_balances = (size_t)b;
    view.balances = balance_p;
    for (int i = 0; i < a; i++) {
        const PGresult *r = res[S_ASSIGNMENTS];
        kontor__clients__assignment__init(&assignments[i]);
        assignments[i].from_manager_id = kt_pg_i64(r, i, 0);
        assignments[i].to_manager_id = kt_pg_i64(r, i, 1);
        assignments[i].by = (char *)kt_pg_text(r, i, 2);
        assignments[i].why = (char *)kt_pg_text(r, i, 3);
        assignments[i].at_ms = kt_pg_i64(r, i, 4);
        assignment_p[i] = &assignments[i];
    }
    view.n_assignments = (size_t)a;
    view.assignments = assignment_p;
    kt_pg_command(call->pg, "COMMIT");
    rc = kt_call_reply(call, &view.base);
    goto cleanup;

done:
    if (rc == 1) {
        kt_pg_command(call->pg, "ROLLBACK");
        rc = clients_no_client(call, "client_id", req->client_id);
    } else {
        rc = kt_call_fail_pg(call, "read the client");
        kt_pg_command(call->pg, "ROLLBACK");
    }
cleanup:
    for (int i = 0; i < S_NRES * 2; i++)
        free(mem[i]);
    for (int i = 0; i < S_NRES; i++)
        if (res[i])
            PQclear(res[i]);
    clients_card_clear(&card);
    return rc;
}
