/*  receivables_reports - Balance, Aging, Statement and Discipline: reads,
 *  for managers (their own clients only), heads, accountants, admins and
 *  services.
 *
 *  Aging stays fast with millions of invoices because it never scans the
 *  invoices that are paid: as of today or later it reads open_by_due (one
 *  row per client and due day with money open, kept by a trigger on
 *  invoices); as of a past date it reads the open invoices through their
 *  partial index. Either way it ages what is open now, as of that date.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_money.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "receivables.h"
#include "receivables.pb-c.h"
#include "receivables_handlers.h"
#include "receivables_store.h"

#define S_STATEMENT_MAX_LINES 5000
#define S_AGING_MAX_ROWS 10000

//  Read the account a report is about, checking who asks. 0, or -1 after
//  replying (unknown client, another manager's client, database error).
static int s_account_or_reply(kt_call_t *call, int64_t client_id, rcv_account_t *acct)
{
    char why[160];
    if (kt_check_id("client_id", client_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL, "%s", why);
    int rc = rcv_account_read(call->pg, client_id, false, acct);
    if (rc < 0)
        return kt_call_fail_pg(call, "read the account");
    if (rc == 1 || !acct->currency[0])
        return kt_call_fail(call, KT_NOT_FOUND, "client_id", "unknown_client",
                            "client %lld is not known to receivables", (long long) client_id);
    if (!rcv_may_see(call, acct->manager_id))
        return kt_call_fail(call, KT_PERMISSION_DENIED, "client_id", "not_owner",
                            "client %lld belongs to another manager", (long long) client_id);
    return 0;
}

static void s_money(Kontor__Money *m, int64_t units, char *currency)
{
    kontor__money__init(m);
    m->units = units;
    m->currency = currency;
}

//  ---------------------------------------------------------------- Balance

int receivables_balance(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__BalanceRequest *req =
        (const Kontor__Receivables__BalanceRequest *) request;
    rcv_account_t a;
    if (s_account_or_reply(call, req->client_id, &a) != 0)
        return -1;
    char id[24];
    const char *params[] = {rcv_i64(id, a.client_id)};
    PGresult *res = kt_pg_exec(call->pg, &rcv_q_balance_extra, params);
    if (!res)
        return kt_call_fail_pg(call, "read the balance");
    int64_t overdue = 0;
    int bad = kt_pg_i64_checked(res, 0, 0, &overdue);
    int64_t count = kt_pg_i64(res, 0, 1);
    PQclear(res);
    int64_t open, exposure;
    if (bad || kt_sub_i64(a.invoiced, a.paid, &open) != 0
        || kt_sub_i64(open, a.credited, &open) != 0 || kt_add_i64(open, a.reserved, &exposure) != 0)
        return kt_call_fail(call, KT_OUT_OF_RANGE, "client_id", NULL,
                            "the balance of client %lld is too large to report",
                            (long long) a.client_id);
    Kontor__Money m[10];
    s_money(&m[0], a.invoiced, a.currency);
    s_money(&m[1], a.paid, a.currency);
    s_money(&m[2], a.credited, a.currency);
    s_money(&m[3], open, a.currency);
    s_money(&m[4], a.open_amount, a.currency);
    s_money(&m[5], a.unapplied, a.currency);
    s_money(&m[6], a.reserved, a.currency);
    s_money(&m[7], exposure, a.currency);
    s_money(&m[8], a.limit, a.currency);
    s_money(&m[9], overdue, a.currency);
    Kontor__Receivables__BalanceReply rep = KONTOR__RECEIVABLES__BALANCE_REPLY__INIT;
    rep.client_id = a.client_id;
    rep.invoiced = &m[0];
    rep.paid = &m[1];
    rep.credited = &m[2];
    rep.open = &m[3];
    rep.open_invoices = &m[4];
    rep.unapplied = &m[5];
    rep.reserved = &m[6];
    rep.exposure = &m[7];
    rep.limit = &m[8];
    rep.overdue = &m[9];
    rep.on_hold = a.on_hold;
    rep.manager_id = a.manager_id;
    rep.branch_id = a.branch_id;
    rep.payment_days = a.payment_days;
    rep.grace_days = a.grace_days;
    rep.open_invoice_count = count;
    return kt_call_reply(call, &rep.base);
}

//  ---------------------------------------------------------------- Aging

int receivables_aging(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__AgingRequest *req =
        (const Kontor__Receivables__AgingRequest *) request;
    int64_t client_id = req->client_id, manager_id = req->manager_id;
    if (client_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL,
                            "client_id must not be negative: %lld", (long long) client_id);
    if (manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "manager_id must not be negative: %lld", (long long) manager_id);
    if (req->branch_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "branch_id", NULL,
                            "branch_id must not be negative: %lld", (long long) req->branch_id);
    char today[11], as_of[11];
    if (rcv_today(call->pg, today) != 0)
        return kt_call_fail_pg(call, "read the date");
    if (rcv_date_or_reply(call, "as_of", req->as_of, today, as_of) != 0)
        return -1;
    if (client_id > 0) {
        rcv_account_t a;
        if (s_account_or_reply(call, client_id, &a) != 0)
            return -1;
    }
    if (call->caller->kind == KT_KIND_MANAGER) {
        //  A manager's aging covers their own clients only.
        if (manager_id > 0 && manager_id != call->caller->manager_id)
            return kt_call_fail(call, KT_PERMISSION_DENIED, "manager_id", "not_owner",
                                "you may see only your own clients' aging, not manager %lld's",
                                (long long) manager_id);
        manager_id = call->caller->manager_id;
    }
    char b[4][24];
    const char *params[] = {as_of, rcv_i64(b[0], req->group_by), rcv_i64(b[1], client_id),
                            rcv_i64(b[2], manager_id), rcv_i64(b[3], req->branch_id)};
    bool fast = strcmp(as_of, today) >= 0;
    PGresult *res = kt_pg_exec(call->pg, fast ? &rcv_q_aging_open : &rcv_q_aging_items, params);
    if (!res)
        return kt_call_fail_pg(call, "compute the aging");
    int n = PQntuples(res);
    if (n > S_AGING_MAX_ROWS) {
        PQclear(res);
        return kt_call_fail(call, KT_OUT_OF_RANGE, "group_by", NULL,
                            "the aging has more than %d rows; filter it", S_AGING_MAX_ROWS);
    }
    Kontor__Receivables__AgingRow *rows = calloc((size_t) n + 1, sizeof *rows);
    Kontor__Receivables__AgingRow **items = calloc((size_t) n + 1, sizeof *items);
    Kontor__Money *money = calloc(((size_t) n + 1) * 6, sizeof *money);
    char(*currency)[4] = calloc((size_t) n + 1, sizeof *currency);
    int rc = -1;
    if (!rows || !items || !money || !currency) {
        kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    for (int r = 0; r < n; r++) {
        Kontor__Receivables__AgingRow *row = &rows[r];
        kontor__receivables__aging_row__init(row);
        row->key = kt_pg_i64(res, r, 0);
        snprintf(currency[r], 4, "%s", kt_pg_text(res, r, 1));
        Kontor__Money *m = &money[r * 6];
        for (int k = 0; k < 6; k++) {
            int64_t v;
            if (kt_pg_i64_checked(res, r, 2 + k, &v) != 0) {
                kt_call_fail(call, KT_OUT_OF_RANGE, "group_by", NULL,
                             "an aging total is too large to report; filter it");
                goto done;
            }
            s_money(&m[k], v, currency[r]);
        }
        row->current = &m[0];
        row->days_1_30 = &m[1];
        row->days_31_60 = &m[2];
        row->days_61_90 = &m[3];
        row->over_90 = &m[4];
        row->total = &m[5];
        items[r] = row;
    }
    Kontor__Receivables__AgingReply rep = KONTOR__RECEIVABLES__AGING_REPLY__INIT;
    rep.as_of = as_of;
    rep.group_by = req->group_by;
    rep.n_rows = (size_t) n;
    rep.rows = items;
    rc = kt_call_reply(call, &rep.base);
done:
    PQclear(res);
    free(rows);
    free(items);
    free(money);
    free(currency);
    return rc;
}

//  ---------------------------------------------------------------- Statement

int receivables_statement(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__StatementRequest *req =
        (const Kontor__Receivables__StatementRequest *) request;
    char from[11], to[11];
    if (!req->from[0])
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "from", NULL, "from is required");
    if (rcv_date_or_reply(call, "from", req->from, "", from) != 0)
        return -1;
    rcv_account_t a;
    if (s_account_or_reply(call, req->client_id, &a) != 0)
        return -1;
    if (rcv_date_or_reply(call, "to", req->to, a.today, to) != 0)
        return -1;
    if (strcmp(from, to) > 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "to", NULL,
                            "to (%s) must not be before from (%s)", to, from);
    char id[24], lim[24];
    const char *oparams[] = {rcv_i64(id, a.client_id), from};
    PGresult *res = kt_pg_exec(call->pg, &rcv_q_statement_opening, oparams);
    if (!res)
        return kt_call_fail_pg(call, "compute the opening balance");
    int64_t opening = 0;
    int bad = kt_pg_i64_checked(res, 0, 0, &opening);
    PQclear(res);
    if (bad)
        return kt_call_fail(call, KT_OUT_OF_RANGE, "from", NULL,
                            "the opening balance is too large to report");
    const char *lparams[] = {id, from, to, rcv_i64(lim, S_STATEMENT_MAX_LINES + 1)};
    res = kt_pg_exec(call->pg, &rcv_q_statement_lines, lparams);
    if (!res)
        return kt_call_fail_pg(call, "read the statement");
    int n = PQntuples(res);
    if (n > S_STATEMENT_MAX_LINES) {
        PQclear(res);
        return kt_call_fail(call, KT_OUT_OF_RANGE, "from", NULL,
                            "the period has more than %d lines; ask for a shorter one",
                            S_STATEMENT_MAX_LINES);
    }
    Kontor__Receivables__StatementLine *lines = calloc((size_t) n + 1, sizeof *lines);
    Kontor__Receivables__StatementLine **items = calloc((size_t) n + 1, sizeof *items);
    Kontor__Money *money = calloc(((size_t) n + 1) * 3, sizeof *money);
    int rc = -1;
    if (!lines || !items || !money) {
        kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    int64_t balance = opening;
    for (int r = 0; r < n; r++) {
        Kontor__Receivables__StatementLine *l = &lines[r];
        kontor__receivables__statement_line__init(l);
        int64_t debit = kt_pg_i64(res, r, 4), credit = kt_pg_i64(res, r, 5);
        if (kt_add_i64(balance, debit, &balance) != 0 || kt_sub_i64(balance, credit, &balance) != 0) {
            kt_call_fail(call, KT_OUT_OF_RANGE, "from", NULL,
                         "the running balance is too large to report");
            goto done;
        }
        l->date = (char *) kt_pg_text(res, r, 0);
        l->kind = (Kontor__Receivables__StatementLineKind) kt_pg_i64(res, r, 1);
        l->document_id = kt_pg_i64(res, r, 2);
        l->reference = (char *) kt_pg_text(res, r, 3);
        s_money(&money[r * 3], debit, a.currency);
        s_money(&money[r * 3 + 1], credit, a.currency);
        s_money(&money[r * 3 + 2], balance, a.currency);
        l->debit = &money[r * 3];
        l->credit = &money[r * 3 + 1];
        l->balance = &money[r * 3 + 2];
        items[r] = l;
    }
    Kontor__Money open_m, close_m;
    s_money(&open_m, opening, a.currency);
    s_money(&close_m, balance, a.currency);
    Kontor__Receivables__StatementReply rep = KONTOR__RECEIVABLES__STATEMENT_REPLY__INIT;
    rep.client_id = a.client_id;
    rep.from = from;
    rep.to = to;
    rep.opening = &open_m;
    rep.n_lines = (size_t) n;
    rep.lines = items;
    rep.closing = &close_m;
    rc = kt_call_reply(call, &rep.base);
done:
    PQclear(res);
    free(lines);
    free(items);
    free(money);
    return rc;
}

//  ---------------------------------------------------------------- Discipline

int receivables_discipline(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__DisciplineRequest *req =
        (const Kontor__Receivables__DisciplineRequest *) request;
    rcv_account_t a;
    if (s_account_or_reply(call, req->client_id, &a) != 0)
        return -1;
    char as_of[11];
    if (rcv_date_or_reply(call, "as_of", req->as_of, a.today, as_of) != 0)
        return -1;
    char id[24];
    const char *params[] = {rcv_i64(id, a.client_id), as_of};
    PGresult *res = kt_pg_exec(call->pg, &rcv_q_discipline, params);
    if (!res)
        return kt_call_fail_pg(call, "compute the payment discipline");
    Kontor__Receivables__DisciplineReply rep = KONTOR__RECEIVABLES__DISCIPLINE_REPLY__INIT;
    rep.client_id = a.client_id;
    rep.to = as_of;
    rep.from = (char *) kt_pg_text(res, 0, 7);
    rep.invoices_due = kt_pg_i64(res, 0, 0);
    rep.invoices_paid = kt_pg_i64(res, 0, 1);
    rep.paid_on_time = kt_pg_i64(res, 0, 2);
    int64_t days_late = 0;
    kt_pg_i64_checked(res, 0, 3, &days_late);
    rep.on_time_bp = rcv_ratio_bp(rep.paid_on_time, rep.invoices_paid);
    rep.avg_days_late = rcv_average_rounded(days_late, rep.invoices_paid);
    int64_t settled_late = kt_pg_i64(res, 0, 4), open_late = kt_pg_i64(res, 0, 6);
    int64_t longest = settled_late > open_late ? settled_late : open_late;
    rep.longest_overdue_days = (int32_t) (longest > 0 ? longest : 0);
    rep.open_overdue = kt_pg_i64(res, 0, 5);
    int rc = kt_call_reply(call, &rep.base);
    PQclear(res);
    return rc;
}
