/*  clients_util - what the clients service's handlers share.
 */
#include "clients_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_money.h"
#include "kt_validate.h"

#define S_WHY 256

const char *clients_i64(char buf[24], int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

bool clients_bool(const PGresult *res, int r, int c)
{
    return strcmp(kt_pg_text(res, r, c), "t") == 0;
}

int clients_text_or_reply(kt_call_t *call, const char *field, const char *s, size_t min, size_t max)
{
    char why[S_WHY];
    if (kt_check_text(field, s, min, max, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    return 0;
}

int clients_id_or_reply(kt_call_t *call, const char *field, int64_t id)
{
    char why[S_WHY];
    if (kt_check_id(field, id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    return 0;
}

int clients_money_or_reply(kt_call_t *call, const char *field, const Kontor__Money *m)
{
    char why[S_WHY], path[64];
    if (!m)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s must be given", field);
    if (!kt_currency_valid(m->currency)) {
        snprintf(path, sizeof path, "%s.currency", field);
        return kt_call_fail(call, KT_INVALID_ARGUMENT, path, NULL,
                            "%s must be three upper-case letters (ISO 4217)", path);
    }
    snprintf(path, sizeof path, "%s.units", field);
    //  At most a trillion units: far above any real limit, far below overflow.
    if (kt_check_amount(path, m->units, 0, INT64_C(1000000000000000), why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, path, NULL, "%s", why);
    return 0;
}

int clients_date_or_reply(kt_call_t *call, const char *field, const char *s, bool optional)
{
    char why[S_WHY];
    int32_t days;
    if (optional && (!s || !*s))
        return 0;
    if (kt_check_date(field, s, &days, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    return 0;
}

int clients_owner_or_reply(kt_call_t *call, int64_t manager_id, const char *what)
{
    if (kt_call_acts_for(call, manager_id))
        return 0;
    return kt_call_fail(call, KT_PERMISSION_DENIED, NULL, "not_owner",
                        "%s belongs to manager %" PRId64 ", not to %s", what, manager_id,
                        call->caller->name);
}

int clients_no_client(kt_call_t *call, const char *field, int64_t id)
{
    return kt_call_fail(call, KT_NOT_FOUND, field, "unknown_client",
                        "client %" PRId64 " does not exist", id);
}

int clients_fault_reply(kt_call_t *call, const clients_fault_t *fault)
{
    return kt_call_fail(call, KT_INVALID_ARGUMENT, fault->field[0] ? fault->field : NULL, NULL,
                        "%s", fault->why);
}

int clients_holidays_or_reply(kt_call_t *call, Kontor__Clients__Holiday *const *holidays, size_t n)
{
    clients_fault_t fault;
    if (clients_holidays_check("", holidays, n, &fault) != 0)
        return clients_fault_reply(call, &fault);
    return 0;
}

int clients_holidays_store(kt_pg_t *pg, int64_t client_id,
                           Kontor__Clients__Holiday *const *holidays, size_t n)
{
    char id[24];
    const char *p[] = {clients_i64(id, client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_holidays_clear, p);
    if (!res)
        return -1;
    PQclear(res);
    for (size_t i = 0; i < n; i++) {
        int month = 0, day = 0;
        char m[8], d[8];
        //  Checked by clients_holidays_or_reply before the transaction.
        if (clients_parse_day("day", holidays[i]->day, &month, &day, NULL, 0) != 0)
            continue;
        snprintf(m, sizeof m, "%d", month);
        snprintf(d, sizeof d, "%d", day);
        const char *params[] = {id, holidays[i]->name, m, d};
        res = kt_pg_exec(pg, &clients_sql_holiday_insert, params);
        if (!res)
            return -1;
        PQclear(res);
    }
    return 0;
}

int clients_card_load(kt_pg_t *pg, int64_t id, clients_card_t *self)
{
    memset(self, 0, sizeof *self);
    kontor__clients__client_card__init(&self->card);
    char idt[24];
    const char *p[] = {clients_i64(idt, id)};
    self->res = kt_pg_exec(pg, &clients_sql_card_get, p);
    if (!self->res)
        return -1;
    if (PQntuples(self->res) == 0)
        return 1;
    self->hres = kt_pg_exec(pg, &clients_sql_holidays_get, p);
    if (!self->hres)
        return -1;
    const PGresult *r = self->res;
    Kontor__Clients__ClientCard *c = &self->card;
    c->id = kt_pg_i64(r, 0, 0);
    c->code = (char *)kt_pg_text(r, 0, 1);
    c->name = (char *)kt_pg_text(r, 0, 2);
    c->tax_id = (char *)kt_pg_text(r, 0, 3);
    c->legal_address = (char *)kt_pg_text(r, 0, 4);
    c->delivery_address = (char *)kt_pg_text(r, 0, 5);
    c->segment = (char *)kt_pg_text(r, 0, 6);
    int status = clients_status_from_name(kt_pg_text(r, 0, 7));
    c->status = status > 0 ? (Kontor__Clients__ClientStatus)status : 0;
    c->key_account = clients_bool(r, 0, 8);
    c->branch_id = kt_pg_i64(r, 0, 9);
    c->territory_id = kt_pg_i64(r, 0, 10);
    c->manager_id = kt_pg_i64(r, 0, 11);
    c->found_by_manager_id = kt_pg_i64(r, 0, 12);
    c->created_at_ms = kt_pg_i64(r, 0, 13);
    c->changed_at_ms = kt_pg_i64(r, 0, 14);
    c->version = kt_pg_i64(r, 0, 15);
    int n = PQntuples(self->hres);
    if (n > 0) {
        self->holidays = calloc((size_t)n, sizeof *self->holidays);
        self->holiday_ptrs = calloc((size_t)n, sizeof *self->holiday_ptrs);
        if (!self->holidays || !self->holiday_ptrs)
            return -1;
        for (int i = 0; i < n; i++) {
            kontor__clients__holiday__init(&self->holidays[i]);
            self->holidays[i].name = (char *)kt_pg_text(self->hres, i, 0);
            self->holidays[i].day = (char *)kt_pg_text(self->hres, i, 1);
            self->holiday_ptrs[i] = &self->holidays[i];
        }
        c->n_holidays = (size_t)n;
        c->holidays = self->holiday_ptrs;
    }
    return 0;
}

void clients_card_clear(clients_card_t *self)
{
    free(self->holiday_ptrs);
    free(self->holidays);
    if (self->hres)
        PQclear(self->hres);
    if (self->res)
        PQclear(self->res);
    memset(self, 0, sizeof *self);
}

int clients_emit_changed(kt_pg_t *pg, const PGresult *res)
{
    Kontor__Clients__ClientChanged ev = KONTOR__CLIENTS__CLIENT_CHANGED__INIT;
    ev.client_id = kt_pg_i64(res, 0, 0);
    ev.name = (char *)kt_pg_text(res, 0, 1);
    int status = clients_status_from_name(kt_pg_text(res, 0, 2));
    ev.status = status > 0 ? (Kontor__Clients__ClientStatus)status : 0;
    ev.manager_id = kt_pg_i64(res, 0, 3);
    ev.branch_id = kt_pg_i64(res, 0, 4);
    ev.territory_id = kt_pg_i64(res, 0, 5);
    ev.key_account = clients_bool(res, 0, 6);
    ev.version = kt_pg_i64(res, 0, 7);
    return kt_outbox_add(pg, "ClientChanged", &ev.base);
}

int32_t clients_today(kt_pg_t *pg)
{
    PGresult *res = kt_pg_exec(pg, &clients_sql_today, NULL);
    if (!res)
        return -1;
    int32_t days = (int32_t)kt_pg_i64(res, 0, 0);
    PQclear(res);
    return days;
}

int clients_tx_refused(kt_pg_t *pg)
{
    return PQtransactionStatus(kt_pg_conn(pg)) == PQTRANS_INTRANS ? 1 : -1;
}
