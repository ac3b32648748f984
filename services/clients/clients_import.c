/*  clients_import - ImportClients: up to a thousand clients in one call and
 *  one transaction, each with its card, terms, contacts, credit check and
 *  manager, as CreateClient, SetTerms, UpsertContact and RecordCreditCheck
 *  would make them one by one (`kontor seed` loads a million this way).
 *
 *  All or nothing. Every client is checked with the same pure checks the
 *  single-client methods use (clients_checks.h), with its index in the field
 *  path ("clients[417].tax_id"); then, in the transaction, managers,
 *  territories and tax ids / codes already taken are looked up for the whole
 *  batch at once. The first fault refuses the batch and nothing changes.
 *
 *  Each table gets one multi-row INSERT from arrays (clients_array.h) and
 *  unnest, not a statement per row. The ids are drawn first, so the events
 *  can be packed here: for every client ClientChanged and TermsChanged
 *  (version 1, the terms as stored), which orders and receivables apply
 *  exactly as they apply CreateClient's and SetTerms' events; they are the
 *  transaction's last statement, in the batch's order.
 *
 *  The idempotency key is required (method table): the first import with a
 *  key stores its reply with the clients; the same batch again gets that
 *  reply and changes nothing; another batch under the key is refused
 *  ABORTED (idempotency_mismatch). Two imports with one key at once: the
 *  second's claim waits on the first's row, then reads its reply.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "clients_array.h"
#include "clients_util.h"
#include "kt_money.h"

#define S_BATCH_MAX  1000
#define S_HASH_BYTES 32
#define S_PREFIX_MAX 48
#define S_WHY_IMPORT "imported"

//  What the service decides about one client of the batch.
typedef struct {
    int64_t id;           //  drawn in the transaction
    int64_t manager_id;   //  given, or the calling head
    int64_t branch_id;    //  the territory's, read in the transaction
    const char *currency; //  of the terms
    const char *status;   //  as the schema names it
} s_item_t;

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__ImportClientsRequest *req;
    s_item_t *items;
    char hash[S_HASH_BYTES * 2 + 1]; //  of the packed request, hex
    uint8_t *reply;                  //  out: the packed reply (made or replayed)
    size_t reply_len;
    bool replayed; //  out: the key's first reply
} s_import_t;

static void s_hex(const uint8_t *data, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[data[i] >> 4];
        out[2 * i + 1] = hex[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static void s_prefix(char out[S_PREFIX_MAX], size_t i)
{
    snprintf(out, S_PREFIX_MAX, "clients[%zu].", i);
}

//  ---------------------------------------------------------------- checks

static const char *s_terms_currency(const Kontor__Clients__ImportClient *c)
{
    if (c->terms)
        return c->terms->credit_limit->currency;
    return c->currency[0] ? c->currency : CLIENTS_DEFAULT_CURRENCY;
}

//  Client i alone, as the single-client methods check theirs. Returns 0 or
//  -1 after replying.
static int s_client_or_reply(kt_call_t *call, size_t i, const Kontor__Clients__ImportClient *c,
                             int32_t today, s_item_t *item)
{
    char prefix[S_PREFIX_MAX], sub[S_PREFIX_MAX + 32], field[KT_FIELD_MAX + 1];
    clients_fault_t fault;
    s_prefix(prefix, i);
    clients_card_fields_t f = {c->code,    c->name,         c->tax_id,   c->legal_address,
                               c->delivery_address, c->segment, c->territory_id, c->holidays,
                               c->n_holidays};
    if (clients_card_check(prefix, &f, &fault) != 0)
        return clients_fault_reply(call, &fault);
    snprintf(field, sizeof field, "%smanager_id", prefix);
    if (c->manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                            "%s must not be negative: %" PRId64, field, c->manager_id);
    item->manager_id = c->manager_id ? c->manager_id : call->caller->manager_id;
    if (item->manager_id <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                            "%s must be given: %s is not a manager", field, call->caller->name);
    snprintf(field, sizeof field, "%scurrency", prefix);
    if (c->currency[0] && !kt_currency_valid(c->currency))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                            "%s must be three upper-case letters (ISO 4217)", field);
    if (c->terms) {
        snprintf(sub, sizeof sub, "%sterms.", prefix);
        if (c->terms->client_id != 0) {
            snprintf(field, sizeof field, "%sclient_id", sub);
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                                "%s must be 0: the client is new", field);
        }
        if (clients_terms_check(sub, c->terms, false, &fault) != 0)
            return clients_fault_reply(call, &fault);
        if (c->currency[0] && strcmp(c->currency, c->terms->credit_limit->currency) != 0)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                                "%s %s differs from the credit limit's currency %s", field,
                                c->currency, c->terms->credit_limit->currency);
    }
    item->currency = s_terms_currency(c);
    item->status = clients_status_name(c->status ? (int)c->status
                                                 : KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT);
    if (c->n_contacts > CLIENTS_IMPORT_CONTACTS_MAX) {
        snprintf(field, sizeof field, "%scontacts", prefix);
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                            "too many contacts: %zu, at most %d", c->n_contacts,
                            CLIENTS_IMPORT_CONTACTS_MAX);
    }
    for (size_t j = 0; j < c->n_contacts; j++) {
        const Kontor__Clients__Contact *ct = c->contacts[j];
        snprintf(sub, sizeof sub, "%scontacts[%zu].", prefix, j);
        if (ct->id != 0 || ct->client_id != 0) {
            snprintf(field, sizeof field, "%s%s", sub, ct->id != 0 ? "id" : "client_id");
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                                "%s must be 0: the contact is new", field);
        }
        if (clients_contact_check(sub, ct, today, &fault) != 0)
            return clients_fault_reply(call, &fault);
    }
    const Kontor__Clients__CreditCheck *ck = c->credit_check;
    if (ck) {
        snprintf(sub, sizeof sub, "%scredit_check.", prefix);
        if (ck->id != 0 || ck->client_id != 0 || ck->checked_by[0]) {
            snprintf(field, sizeof field, "%s%s", sub,
                     ck->id != 0          ? "id"
                     : ck->client_id != 0 ? "client_id"
                                          : "checked_by");
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                                "%s must be empty: the service records the check and who made it",
                                field);
        }
        if (clients_credit_check_check(sub, ck, &fault) != 0)
            return clients_fault_reply(call, &fault);
    }
    //  SetTerms' rule: a limit above the recommended one is a head's decision.
    if (c->terms && call->caller->kind != KT_KIND_HEAD &&
        clients_limit_needs_head(c->terms->credit_limit->units, c->terms->credit_limit->currency,
                                 ck != NULL, ck ? ck->recommended_limit->units : 0,
                                 ck ? ck->recommended_limit->currency : "")) {
        snprintf(field, sizeof field, "%sterms.credit_limit", prefix);
        return kt_call_fail(call, KT_PERMISSION_DENIED, field, "role_required",
                            "%s: a credit limit above the recommended one needs a head", field);
    }
    return 0;
}

typedef struct {
    const char *value;
    size_t index;
} s_key_t;

static int s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    int c = strcmp(x->value, y->value);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

//  The same tax id or code twice in the batch: the later one is refused,
//  naming the earlier. `code` selects which. Returns 0 or -1 after replying.
static int s_unique_or_reply(kt_call_t *call, const Kontor__Clients__ImportClientsRequest *req,
                             bool code)
{
    size_t n = req->n_clients, k = 0;
    s_key_t *keys = calloc(n + 1, sizeof *keys);
    if (!keys)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *v = code ? req->clients[i]->code : req->clients[i]->tax_id;
        if (v[0])
            keys[k++] = (s_key_t){v, i};
    }
    qsort(keys, k, sizeof *keys, s_key_cmp);
    size_t later = SIZE_MAX, earlier = 0;
    for (size_t j = 1; j < k; j++)
        if (strcmp(keys[j].value, keys[j - 1].value) == 0 && keys[j].index < later) {
            later = keys[j].index;
            earlier = keys[j - 1].index;
        }
    free(keys);
    if (later == SIZE_MAX)
        return 0;
    char field[KT_FIELD_MAX + 1];
    snprintf(field, sizeof field, "clients[%zu].%s", later, code ? "code" : "tax_id");
    return kt_call_fail(call, KT_ALREADY_EXISTS, field, NULL,
                        "%s %s is also clients[%zu]'s: a batch holds each client once",
                        code ? "code" : "tax id",
                        code ? req->clients[later]->code : req->clients[later]->tax_id, earlier);
}

//  ---------------------------------------------------------------- the transaction

//  Run `stmt` and clear its result. 0 or -1.
static int s_exec(kt_pg_t *pg, const kt_stmt_t *stmt, const char *const *params)
{
    PGresult *res = kt_pg_exec(pg, stmt, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

//  The key: claimed now (0), or a replay whose reply is now in s (0 with
//  s->replayed), or another batch's (1 after replying).
static int s_claim(kt_pg_t *pg, s_import_t *s)
{
    kt_call_t *call = s->call;
    const char *p[] = {call->idem_key, s->hash, call->caller->name};
    PGresult *res = kt_pg_exec(pg, &clients_sql_import_claim, p);
    if (!res)
        return -1;
    int claimed = PQntuples(res);
    PQclear(res);
    if (claimed)
        return 0;
    if (!(res = kt_pg_exec(pg, &clients_sql_import_read, p)))
        return -1;
    if (PQntuples(res) == 0 || kt_pg_isnull(res, 0, 1)) {
        //  Committed claims carry their reply (same transaction).
        PQclear(res);
        kt_call_fail(call, KT_ABORTED, "idempotency_key", NULL,
                     "the import with this key did not finish; try again");
        return 1;
    }
    if (strcmp(kt_pg_text(res, 0, 0), "t") != 0) {
        PQclear(res);
        kt_call_fail(call, KT_ABORTED, "idempotency_key", "idempotency_mismatch",
                     "the idempotency key %s was already used for another batch of clients",
                     call->idem_key);
        return 1;
    }
    size_t len = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &len);
    PQclear(res);
    if (!bytes)
        return -1;
    s->reply = malloc(len ? len : 1);
    if (s->reply)
        memcpy(s->reply, bytes, len);
    PQfreemem(bytes);
    if (!s->reply)
        return -1;
    s->reply_len = len;
    s->replayed = true;
    return 0;
}

//  Managers (exist, active) and territories (exist; their branches) of the
//  whole batch. 0, 1 after replying, -1.
static int s_references(kt_pg_t *pg, s_import_t *s)
{
    kt_call_t *call = s->call;
    size_t n = s->req->n_clients;
    clients_array_t mgr, terr;
    clients_array_init(&mgr);
    clients_array_init(&terr);
    for (size_t i = 0; i < n; i++) {
        clients_array_i64(&mgr, s->items[i].manager_id);
        clients_array_i64(&terr, s->req->clients[i]->territory_id);
    }
    const char *pm[] = {clients_array_end(&mgr)};
    const char *pt[] = {clients_array_end(&terr)};
    int rc = -1;
    PGresult *res = NULL;
    char field[KT_FIELD_MAX + 1];
    if (!pm[0] || !pt[0] || !(res = kt_pg_exec(pg, &clients_sql_import_managers, pm)))
        goto done;
    if (PQntuples(res) > 0) {
        size_t i = (size_t)kt_pg_i64(res, 0, 0);
        bool exists = clients_bool(res, 0, 1);
        snprintf(field, sizeof field, "clients[%zu].manager_id", i);
        if (exists)
            kt_call_fail(call, KT_FAILED_PRECONDITION, field, NULL,
                         "manager %" PRId64 " is no longer active", s->items[i].manager_id);
        else
            kt_call_fail(call, KT_NOT_FOUND, field, NULL, "manager %" PRId64 " does not exist",
                         s->items[i].manager_id);
        rc = 1;
        goto done;
    }
    PQclear(res);
    if (!(res = kt_pg_exec(pg, &clients_sql_import_territories, pt)))
        goto done;
    if ((size_t)PQntuples(res) != n) {
        kt_call_fail(call, KT_INTERNAL, NULL, NULL, "territories came back short");
        rc = 1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (kt_pg_isnull(res, (int)i, 1)) {
            snprintf(field, sizeof field, "clients[%zu].territory_id", i);
            kt_call_fail(call, KT_NOT_FOUND, field, NULL, "territory %" PRId64 " does not exist",
                         s->req->clients[i]->territory_id);
            rc = 1;
            goto done;
        }
        s->items[i].branch_id = kt_pg_i64(res, (int)i, 1);
    }
    rc = 0;
done:
    if (res)
        PQclear(res);
    clients_array_clear(&mgr);
    clients_array_clear(&terr);
    return rc;
}

//  Tax ids and codes the table has already, on `pg` (in the transaction or,
//  after a unique violation, on its own). 0 none, 1 after replying, -1.
static int s_taken(kt_pg_t *pg, kt_call_t *call, const Kontor__Clients__ImportClientsRequest *req)
{
    clients_array_t tax, code;
    clients_array_init(&tax);
    clients_array_init(&code);
    for (size_t i = 0; i < req->n_clients; i++) {
        clients_array_text(&tax, req->clients[i]->tax_id);
        clients_array_text(&code, req->clients[i]->code);
    }
    const char *p[] = {clients_array_end(&tax), clients_array_end(&code)};
    int rc = -1;
    PGresult *res = NULL;
    if (p[0] && p[1] && (res = kt_pg_exec(pg, &clients_sql_import_taken, p))) {
        rc = 0;
        if (PQntuples(res) > 0) {
            size_t i = (size_t)kt_pg_i64(res, 0, 0);
            bool is_tax = strcmp(kt_pg_text(res, 0, 3), "tax_id") == 0;
            char field[KT_FIELD_MAX + 1];
            snprintf(field, sizeof field, "clients[%zu].%s", i, is_tax ? "tax_id" : "code");
            kt_call_fail(call, KT_ALREADY_EXISTS, field, NULL,
                         "%s %s already belongs to client %" PRId64 " (%s)",
                         is_tax ? "tax id" : "code",
                         is_tax ? req->clients[i]->tax_id : req->clients[i]->code,
                         kt_pg_i64(res, 0, 1), kt_pg_text(res, 0, 2));
            rc = 1;
        }
        PQclear(res);
    }
    clients_array_clear(&tax);
    clients_array_clear(&code);
    return rc;
}

static int s_id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

//  Ids for the batch, ascending in its order. 0 or -1.
static int s_draw_ids(kt_pg_t *pg, s_import_t *s)
{
    size_t n = s->req->n_clients;
    char count[24];
    const char *p[] = {clients_i64(count, (int64_t)n)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_import_ids, p);
    if (!res)
        return -1;
    int64_t *ids = calloc(n, sizeof *ids);
    if (!ids || (size_t)PQntuples(res) != n) {
        free(ids);
        PQclear(res);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = kt_pg_i64(res, (int)i, 0);
    PQclear(res);
    qsort(ids, n, sizeof *ids, s_id_cmp);
    for (size_t i = 0; i < n; i++)
        s->items[i].id = ids[i];
    free(ids);
    return 0;
}

//  Columns of the clients, terms and assignments of the batch.
static int s_insert_clients(kt_pg_t *pg, s_import_t *s)
{
    enum { C_ID, C_CODE, C_NAME, C_TAX, C_LEGAL, C_DELIV, C_SEG, C_STATUS, C_KEY, C_BRANCH,
           C_TERR, C_MGR, T_NUM, T_D1, T_D2, T_COL, T_BP, T_PAY, T_GRACE, T_LIM, T_CUR, T_POL,
           T_WHY, NCOL };
    clients_array_t a[NCOL];
    for (int k = 0; k < NCOL; k++)
        clients_array_init(&a[k]);
    for (size_t i = 0; i < s->req->n_clients; i++) {
        const Kontor__Clients__ImportClient *c = s->req->clients[i];
        const s_item_t *it = &s->items[i];
        const Kontor__Clients__SetTermsRequest *t = c->terms;
        clients_array_i64(&a[C_ID], it->id);
        clients_array_text(&a[C_CODE], c->code);
        clients_array_text(&a[C_NAME], c->name);
        clients_array_text(&a[C_TAX], c->tax_id);
        clients_array_text(&a[C_LEGAL], c->legal_address);
        clients_array_text(&a[C_DELIV], c->delivery_address);
        clients_array_text(&a[C_SEG], c->segment);
        clients_array_text(&a[C_STATUS], it->status);
        clients_array_bool(&a[C_KEY], c->key_account);
        clients_array_i64(&a[C_BRANCH], it->branch_id);
        clients_array_i64(&a[C_TERR], c->territory_id);
        clients_array_i64(&a[C_MGR], it->manager_id);
        clients_array_text(&a[T_NUM], t ? t->contract_number : "");
        clients_array_text(&a[T_D1], t && t->contract_date[0] ? t->contract_date : NULL);
        clients_array_text(&a[T_D2], t && t->contract_until[0] ? t->contract_until : NULL);
        clients_array_text(&a[T_COL], t ? t->price_column : "A");
        clients_array_i64(&a[T_BP], t ? t->discount_bp : 0);
        clients_array_i64(&a[T_PAY], t ? t->payment_days : 0);
        clients_array_i64(&a[T_GRACE], t ? t->grace_days : 0);
        clients_array_i64(&a[T_LIM], t ? t->credit_limit->units : 0);
        clients_array_text(&a[T_CUR], it->currency);
        clients_array_text(&a[T_POL],
                           clients_short_policy_name(t && t->short_policy
                                                         ? (int)t->short_policy
                                                         : KONTOR__CLIENTS__SHORT_POLICY__SHIP_AVAILABLE));
        clients_array_text(&a[T_WHY], t && t->why[0] ? t->why : S_WHY_IMPORT);
    }
    const char *v[NCOL];
    int rc = 0;
    for (int k = 0; k < NCOL; k++)
        if (!(v[k] = clients_array_end(&a[k])))
            rc = -1;
    if (rc == 0) {
        const char *pc[] = {v[C_ID],    v[C_CODE],  v[C_NAME],   v[C_TAX],
                            v[C_LEGAL], v[C_DELIV], v[C_SEG],    v[C_STATUS],
                            v[C_KEY],   v[C_BRANCH], v[C_TERR],  v[C_MGR]};
        const char *pt[] = {v[C_ID],  v[T_NUM],   v[T_D1],  v[T_D2],  v[T_COL],
                            v[T_BP],  v[T_PAY],   v[T_GRACE], v[T_LIM], v[T_CUR],
                            v[T_POL], s->call->caller->name, v[T_WHY]};
        const char *pa[] = {v[C_ID], v[C_MGR], s->call->caller->name};
        if (s_exec(pg, &clients_sql_import_clients, pc) != 0 ||
            s_exec(pg, &clients_sql_import_terms, pt) != 0 ||
            s_exec(pg, &clients_sql_import_assignments, pa) != 0)
            rc = -1;
    }
    for (int k = 0; k < NCOL; k++)
        clients_array_clear(&a[k]);
    return rc;
}

//  Holidays, contacts and credit checks: rows of their own, flattened.
//  *contacts and *checks count them. 0 or -1.
static int s_insert_rest(kt_pg_t *pg, s_import_t *s, int32_t *contacts, int32_t *checks)
{
    enum { H_ID, H_NAME, H_M, H_D, P_ID, P_NAME, P_POS, P_PHONE, P_EMAIL, P_DM, P_BD, K_ID, K_ON,
           K_SRC, K_SCORE, K_GRADE, K_REC, K_CUR, K_NOTE, NCOL };
    clients_array_t a[NCOL];
    for (int k = 0; k < NCOL; k++)
        clients_array_init(&a[k]);
    size_t nh = 0, np = 0, nk = 0;
    for (size_t i = 0; i < s->req->n_clients; i++) {
        const Kontor__Clients__ImportClient *c = s->req->clients[i];
        int64_t id = s->items[i].id;
        for (size_t j = 0; j < c->n_holidays; j++) {
            int month = 0, day = 0;
            //  Checked before the transaction (clients_holidays_check).
            if (clients_parse_day("day", c->holidays[j]->day, &month, &day, NULL, 0) != 0)
                continue;
            clients_array_i64(&a[H_ID], id);
            clients_array_text(&a[H_NAME], c->holidays[j]->name);
            clients_array_i64(&a[H_M], month);
            clients_array_i64(&a[H_D], day);
            nh++;
        }
        for (size_t j = 0; j < c->n_contacts; j++) {
            const Kontor__Clients__Contact *ct = c->contacts[j];
            clients_array_i64(&a[P_ID], id);
            clients_array_text(&a[P_NAME], ct->name);
            clients_array_text(&a[P_POS], ct->position);
            clients_array_text(&a[P_PHONE], ct->phone);
            clients_array_text(&a[P_EMAIL], ct->email);
            clients_array_bool(&a[P_DM], ct->decision_maker);
            clients_array_text(&a[P_BD], ct->birthday[0] ? ct->birthday : NULL);
            np++;
        }
        const Kontor__Clients__CreditCheck *ck = c->credit_check;
        if (ck) {
            clients_array_i64(&a[K_ID], id);
            clients_array_text(&a[K_ON], ck->checked_on);
            clients_array_text(&a[K_SRC], ck->sources);
            clients_array_i64(&a[K_SCORE], ck->score);
            clients_array_text(&a[K_GRADE], ck->grade);
            clients_array_i64(&a[K_REC], ck->recommended_limit->units);
            clients_array_text(&a[K_CUR], ck->recommended_limit->currency);
            clients_array_text(&a[K_NOTE], ck->note);
            nk++;
        }
    }
    const char *v[NCOL];
    int rc = 0;
    for (int k = 0; k < NCOL; k++)
        if (!(v[k] = clients_array_end(&a[k])))
            rc = -1;
    if (rc == 0 && nh > 0) {
        const char *p[] = {v[H_ID], v[H_NAME], v[H_M], v[H_D]};
        rc = s_exec(pg, &clients_sql_import_holidays, p);
    }
    if (rc == 0 && np > 0) {
        const char *p[] = {v[P_ID], v[P_NAME], v[P_POS], v[P_PHONE], v[P_EMAIL], v[P_DM], v[P_BD]};
        rc = s_exec(pg, &clients_sql_import_contacts, p);
    }
    if (rc == 0 && nk > 0) {
        const char *p[] = {v[K_ID],    v[K_ON],  v[K_SRC],  v[K_SCORE], v[K_GRADE],
                           v[K_REC],   v[K_CUR], v[K_NOTE], s->call->caller->name};
        rc = s_exec(pg, &clients_sql_import_checks, p);
    }
    for (int k = 0; k < NCOL; k++)
        clients_array_clear(&a[k]);
    *contacts = (int32_t)np;
    *checks = (int32_t)nk;
    return rc;
}

//  Append one packed event to the outbox's columns. 0 or -1.
static int s_event(clients_array_t *types, clients_array_t *payloads, const char *type,
                   const ProtobufCMessage *msg)
{
    size_t len;
    uint8_t *buf = kt_msg_pack(msg, &len);
    if (!buf)
        return -1;
    clients_array_text(types, type);
    clients_array_bytea(payloads, buf, len);
    free(buf);
    return 0;
}

//  ClientChanged and TermsChanged of every client, as the rows now are
//  (version 1), into the outbox in the batch's order. 0 or -1.
static int s_events(kt_pg_t *pg, s_import_t *s)
{
    clients_array_t types, payloads;
    clients_array_init(&types);
    clients_array_init(&payloads);
    int rc = 0;
    for (size_t i = 0; i < s->req->n_clients && rc == 0; i++) {
        const Kontor__Clients__ImportClient *c = s->req->clients[i];
        const s_item_t *it = &s->items[i];
        const Kontor__Clients__SetTermsRequest *t = c->terms;
        Kontor__Clients__ClientStatus status =
            c->status ? c->status : KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT;
        Kontor__Clients__ClientChanged cc = KONTOR__CLIENTS__CLIENT_CHANGED__INIT;
        cc.client_id = it->id;
        cc.name = c->name;
        cc.status = status;
        cc.manager_id = it->manager_id;
        cc.branch_id = it->branch_id;
        cc.territory_id = c->territory_id;
        cc.key_account = c->key_account;
        cc.version = 1;
        Kontor__Money limit = KONTOR__MONEY__INIT;
        limit.units = t ? t->credit_limit->units : 0;
        limit.currency = (char *)it->currency;
        Kontor__Clients__Terms terms = KONTOR__CLIENTS__TERMS__INIT;
        terms.client_id = it->id;
        terms.price_column = t ? t->price_column : "A";
        terms.discount_bp = t ? t->discount_bp : 0;
        terms.payment_days = t ? t->payment_days : 0;
        terms.grace_days = t ? t->grace_days : 0;
        terms.credit_limit = &limit;
        terms.short_policy = t && t->short_policy ? t->short_policy
                                                  : KONTOR__CLIENTS__SHORT_POLICY__SHIP_AVAILABLE;
        terms.status = status;
        terms.manager_id = it->manager_id;
        terms.branch_id = it->branch_id;
        terms.version = 1;
        Kontor__Clients__TermsChanged tc = KONTOR__CLIENTS__TERMS_CHANGED__INIT;
        tc.terms = &terms;
        tc.changed_by = (char *)s->call->caller->name;
        tc.why = t && t->why[0] ? t->why : S_WHY_IMPORT;
        if (s_event(&types, &payloads, "ClientChanged", &cc.base) != 0 ||
            s_event(&types, &payloads, "TermsChanged", &tc.base) != 0)
            rc = -1;
    }
    const char *p[] = {clients_array_end(&types), clients_array_end(&payloads)};
    if (rc == 0 && (!p[0] || !p[1]))
        rc = -1;
    if (rc == 0)
        rc = s_exec(pg, &clients_sql_import_outbox, p);
    clients_array_clear(&types);
    clients_array_clear(&payloads);
    return rc;
}

//  The reply, packed into s->reply and stored with the key. 0 or -1.
static int s_store_reply(kt_pg_t *pg, s_import_t *s, int32_t contacts, int32_t checks)
{
    size_t n = s->req->n_clients;
    int64_t *ids = calloc(n, sizeof *ids);
    if (!ids)
        return -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = s->items[i].id;
    Kontor__Clients__ImportClientsReply rep = KONTOR__CLIENTS__IMPORT_CLIENTS_REPLY__INIT;
    rep.client_ids = ids;
    rep.n_client_ids = n;
    rep.contacts = contacts;
    rep.credit_checks = checks;
    s->reply = kt_msg_pack(&rep.base, &s->reply_len);
    free(ids);
    if (!s->reply)
        return -1;
    char *hex = malloc(s->reply_len * 2 + 1);
    if (!hex)
        return -1;
    s_hex(s->reply, s->reply_len, hex);
    char count[24];
    const char *p[] = {s->call->idem_key, hex, clients_i64(count, (int64_t)n)};
    int rc = s_exec(pg, &clients_sql_import_store, p);
    free(hex);
    return rc;
}

static int s_import_tx(kt_pg_t *pg, void *arg)
{
    s_import_t *s = arg;
    free(s->reply); //  from an attempt that was rolled back
    s->reply = NULL;
    s->reply_len = 0;
    s->replayed = false;
    if (s_exec(pg, &clients_sql_import_prune, NULL) != 0)
        return -1;
    int rc = s_claim(pg, s);
    if (rc != 0 || s->replayed)
        return rc;
    if ((rc = s_references(pg, s)) != 0 || (rc = s_taken(pg, s->call, s->req)) != 0)
        return rc;
    int32_t contacts = 0, checks = 0;
    if (s_draw_ids(pg, s) != 0 || s_insert_clients(pg, s) != 0 ||
        s_insert_rest(pg, s, &contacts, &checks) != 0 ||
        s_store_reply(pg, s, contacts, checks) != 0)
        return -1;
    //  Last: the events, after every lock the batch takes.
    return s_events(pg, s);
}

int clients_import_clients(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__ImportClientsRequest *req =
        (const Kontor__Clients__ImportClientsRequest *)request;
    size_t n = req->n_clients;
    if (n == 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "clients", NULL,
                            "clients must not be empty");
    if (n > S_BATCH_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "clients", NULL,
                            "too many clients: %zu, at most %d in one call", n, S_BATCH_MAX);
    //  Birthdays are checked against the database's today, read once.
    int32_t today = 0;
    for (size_t i = 0; i < n && today == 0; i++)
        for (size_t j = 0; j < req->clients[i]->n_contacts; j++)
            if (req->clients[i]->contacts[j]->birthday[0]) {
                if ((today = clients_today(call->pg)) < 0)
                    return kt_call_fail_pg(call, "read the date");
                break;
            }
    s_import_t s = {.call = call, .req = req};
    s.items = calloc(n, sizeof *s.items);
    if (!s.items)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        if (s_client_or_reply(call, i, req->clients[i], today, &s.items[i]) != 0)
            goto done;
    if (s_unique_or_reply(call, req, false) != 0 || s_unique_or_reply(call, req, true) != 0)
        goto done;
    size_t len;
    uint8_t *packed = kt_msg_pack(request, &len);
    if (!packed) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    uint8_t hash[S_HASH_BYTES];
    crypto_generichash(hash, sizeof hash, packed, len, NULL, 0);
    free(packed);
    s_hex(hash, sizeof hash, s.hash);

    rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_import_tx, &s);
    if (rc == 1) {
        rc = -1;
        goto done;
    }
    if (rc != 0) {
        //  Another import took a tax id or code between the check and the
        //  insert: name it as the check would have.
        if (kt_pg_status(call->pg) == KT_ALREADY_EXISTS && s_taken(call->pg, call, req) == 1) {
            rc = -1;
            goto done;
        }
        rc = kt_call_fail_pg(call, "import the clients");
        goto done;
    }
    ProtobufCMessage *out = kt_msg_unpack(&kontor__clients__import_clients_reply__descriptor,
                                          s.reply, s.reply_len, NULL, 0, NULL, 0);
    if (!out) {
        rc = kt_call_fail(call, KT_INTERNAL, NULL, NULL, "the stored reply does not decode");
        goto done;
    }
    ((Kontor__Clients__ImportClientsReply *)out)->replayed = s.replayed;
    rc = kt_call_reply(call, out);
    kt_msg_free(out);
done:
    free(s.reply);
    free(s.items);
    return rc;
}
