/*  receivables_ledger - the money movements more than one method or event
 *  shares: the locked account row, allocations, overdue items, credit holds.
 *
 *  Every function here runs inside the caller's transaction, after the
 *  caller has locked the client's account row; none commits.
 */
#include "receivables.h"

#include <stdio.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "receivables.pb-c.h"
#include "receivables_store.h"

static rcv_policy_t s_policy = {3, {1, 15, 30}, 3};

const rcv_policy_t *rcv_policy(void)
{
    return &s_policy;
}

void rcv_policy_set(const rcv_policy_t *policy)
{
    s_policy = *policy;
}

const char *rcv_i64(char *buf, int64_t v)
{
    snprintf(buf, 24, "%lld", (long long) v);
    return buf;
}

int rcv_account_read(kt_pg_t *pg, int64_t client_id, bool lock, rcv_account_t *out)
{
    char id[24];
    const char *params[] = {rcv_i64(id, client_id)};
    PGresult *res = kt_pg_exec(pg, lock ? &rcv_q_account_lock : &rcv_q_account_read, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 1;
    }
    memset(out, 0, sizeof *out);
    out->client_id = kt_pg_i64(res, 0, 0);
    snprintf(out->currency, sizeof out->currency, "%s", kt_pg_text(res, 0, 1));
    out->has_terms = kt_pg_text(res, 0, 2)[0] == 't';
    out->limit = kt_pg_i64(res, 0, 3);
    out->payment_days = (int) kt_pg_i64(res, 0, 4);
    out->grace_days = (int) kt_pg_i64(res, 0, 5);
    out->client_status = (int) kt_pg_i64(res, 0, 6);
    out->manager_id = kt_pg_i64(res, 0, 7);
    out->branch_id = kt_pg_i64(res, 0, 8);
    out->on_hold = kt_pg_text(res, 0, 9)[0] == 't';
    snprintf(out->hold_as_of, sizeof out->hold_as_of, "%s", kt_pg_text(res, 0, 10));
    out->invoiced = kt_pg_i64(res, 0, 11);
    out->paid = kt_pg_i64(res, 0, 12);
    out->credited = kt_pg_i64(res, 0, 13);
    out->open_amount = kt_pg_i64(res, 0, 14);
    out->unapplied = kt_pg_i64(res, 0, 15);
    out->reserved = kt_pg_i64(res, 0, 16);
    snprintf(out->today, sizeof out->today, "%s", kt_pg_text(res, 0, 17));
    PQclear(res);
    return 0;
}

int rcv_account_move(kt_pg_t *pg, int64_t client_id, int64_t d_invoiced, int64_t d_paid,
                     int64_t d_credited, int64_t d_open, int64_t d_unapplied, int64_t d_reserved)
{
    char b[7][24];
    const char *params[] = {rcv_i64(b[0], client_id), rcv_i64(b[1], d_invoiced),
                            rcv_i64(b[2], d_paid),    rcv_i64(b[3], d_credited),
                            rcv_i64(b[4], d_open),    rcv_i64(b[5], d_unapplied),
                            rcv_i64(b[6], d_reserved)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_account_move, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int rcv_history_add(kt_pg_t *pg, int64_t client_id, const char *kind, int64_t order_id,
                    int64_t amount, int64_t exposure, int64_t limit, const char *by,
                    const char *detail)
{
    char b[5][24];
    const char *params[] = {rcv_i64(b[0], client_id), kind, rcv_i64(b[1], order_id),
                            rcv_i64(b[2], amount),    rcv_i64(b[3], exposure),
                            rcv_i64(b[4], limit),     by ? by : "",
                            detail ? detail : ""};
    PGresult *res = kt_pg_exec(pg, &rcv_q_history_add, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int rcv_allocate(kt_pg_t *pg, int64_t client_id, int64_t settlement_id, const char *on_date,
                 int64_t available, const char *named, rcv_alloc_t *out, size_t max, size_t *n,
                 int64_t *allocated)
{
    *n = 0;
    *allocated = 0;
    if (available <= 0)
        return 0;
    char b[3][24];
    const char *params[] = {rcv_i64(b[0], client_id), rcv_i64(b[1], settlement_id), on_date,
                            rcv_i64(b[2], available), named};
    PGresult *res = kt_pg_exec(pg, &rcv_q_allocate, params);
    if (!res)
        return -1;
    int64_t sum = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t amount = kt_pg_i64(res, r, 1);
        //  The statement never takes more than is available in all, so the
        //  sum is at most `available`.
        sum += amount;
        if (out && *n < max) {
            out[*n].invoice_id = kt_pg_i64(res, r, 0);
            out[*n].amount = amount;
            (*n)++;
        }
    }
    PQclear(res);
    *allocated = sum;
    return 0;
}

int rcv_allocate_credit_to_invoice(kt_pg_t *pg, int64_t client_id, int64_t invoice_id,
                                   int64_t *allocated)
{
    char b[2][24];
    const char *params[] = {rcv_i64(b[0], client_id), rcv_i64(b[1], invoice_id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_alloc_credit_to_invoice, params);
    if (!res)
        return -1;
    int rc = kt_pg_i64_checked(res, 0, 0, allocated);
    PQclear(res);
    return rc;
}

int rcv_settlement_set_unapplied(kt_pg_t *pg, int64_t settlement_id, int64_t unapplied)
{
    char b[2][24];
    const char *params[] = {rcv_i64(b[0], settlement_id), rcv_i64(b[1], unapplied)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_settlement_unapplied, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int rcv_overdue(kt_pg_t *pg, int64_t client_id, int grace_days, const char *as_of,
                int64_t *count, int64_t *amount, int64_t *ids, size_t max, size_t *nids)
{
    char b[2][24];
    const char *params[] = {rcv_i64(b[0], client_id), rcv_i64(b[1], grace_days), as_of};
    PGresult *res = kt_pg_exec(pg, &rcv_q_overdue, params);
    if (!res)
        return -1;
    int64_t sum = 0;
    size_t k = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        //  Open amounts of one client sum to accounts.open_amount, a bigint.
        sum += kt_pg_i64(res, r, 1);
        if (ids && k < max)
            ids[k++] = kt_pg_i64(res, r, 0);
    }
    *count = PQntuples(res);
    *amount = sum;
    if (nids)
        *nids = k;
    PQclear(res);
    return 0;
}

int rcv_hold_set(kt_pg_t *pg, const rcv_account_t *acct, bool on, const char *as_of,
                 int64_t overdue, const char *by, const char *why)
{
    char id[24];
    const char *params[] = {rcv_i64(id, acct->client_id), on ? "true" : "false",
                            on ? as_of : NULL};
    PGresult *res = kt_pg_exec(pg, &rcv_q_account_set_hold, params);
    if (!res)
        return -1;
    PQclear(res);
    return rcv_history_add(pg, acct->client_id, on ? "hold_on" : "hold_off", 0, overdue, 0,
                           acct->limit, by, why);
}

int rcv_hold_lift_if_clear(kt_pg_t *pg, const rcv_account_t *acct, const char *run_as_of,
                           const char *by, bool *lifted)
{
    *lifted = false;
    if (!acct->on_hold)
        return 0;
    //  The latest date in play: a hold set by a run as of a later date
    //  stays until what held it then is paid, and a run as of a past date
    //  does not lift what today's overdue items would hold.
    const char *as_of = acct->today;
    if (acct->hold_as_of[0] && strcmp(acct->hold_as_of, as_of) > 0)
        as_of = acct->hold_as_of;
    if (run_as_of && strcmp(run_as_of, as_of) > 0)
        as_of = run_as_of;
    int64_t count = 0, amount = 0;
    if (rcv_overdue(pg, acct->client_id, acct->grace_days, as_of, &count, &amount, NULL, 0, NULL)
        != 0)
        return -1;
    if (count > 0)
        return 0;
    if (rcv_hold_set(pg, acct, false, NULL, 0, by, "the overdue invoices are paid") != 0)
        return -1;
    *lifted = true;
    return 0;
}

int rcv_hold_event(kt_pg_t *pg, int64_t client_id, bool on, const char *reason,
                   int64_t overdue, const char *currency)
{
    Kontor__Receivables__CreditHoldChanged ev = KONTOR__RECEIVABLES__CREDIT_HOLD_CHANGED__INIT;
    Kontor__Money money = KONTOR__MONEY__INIT;
    money.units = overdue;
    money.currency = (char *) currency;
    ev.client_id = client_id;
    ev.on_hold = on;
    ev.reason = (char *) reason;
    ev.overdue = &money;
    return kt_outbox_add(pg, "CreditHoldChanged", &ev.base);
}

bool rcv_may_see(const kt_call_t *call, int64_t manager_id)
{
    if (call->caller->kind != KT_KIND_MANAGER)
        return true;
    return manager_id > 0 && call->caller->manager_id == manager_id;
}

int rcv_date_or_reply(kt_call_t *call, const char *field, const char *value,
                      const char *fallback, char out[11])
{
    if (!value || !value[0]) {
        snprintf(out, 11, "%s", fallback);
        return 0;
    }
    char why[160];
    int32_t days;
    if (kt_check_date(field, value, &days, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    int y, m, d;
    kt_civil_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
    return 0;
}

int rcv_today(kt_pg_t *pg, char out[11])
{
    PGresult *res = kt_pg_exec(pg, &rcv_q_today, NULL);
    if (!res)
        return -1;
    snprintf(out, 11, "%s", kt_pg_text(res, 0, 0));
    PQclear(res);
    return 0;
}
