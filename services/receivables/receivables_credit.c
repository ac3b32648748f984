/*  receivables_credit - credit reservations (try-confirm-cancel), credit
 *  terms and the credit history: ReserveCredit, ConfirmCredit,
 *  ReleaseCredit, SetCreditTerms, CreditHistory.
 *
 *  The credit check and the reservation are one decision: both happen in
 *  one transaction holding the client's accounts row (SELECT ... FOR
 *  UPDATE), which carries the exposure (open invoices, unapplied credit,
 *  live reservations). Two orders of one client therefore check one after
 *  the other, and the second sees the first's reservation: they can never
 *  both pass when only one fits. Holds that ran out are expired inside the
 *  same transaction before the check, so exposure counts only live ones.
 */
#include "receivables.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_log.h"
#include "kt_money.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "receivables.pb-c.h"
#include "receivables_handlers.h"
#include "receivables_store.h"

#define S_TX_ATTEMPTS 5
#define S_DEFAULT_HOLD_S 900            //  15 minutes
#define S_MAX_HOLD_S (7 * 24 * 3600)    //  a week
#define S_MAX_OVERDUE_IDS 50            //  overdue invoices named in a credit_hold refusal
#define S_NAME_MAX 64                   //  approved_by: a principal's name
#define S_REASON_MAX 200

//  ---------------------------------------------------------------- shared

int rcv_expire_client(kt_pg_t *pg, int64_t client_id, const char *by, int64_t *expired)
{
    char id[24];
    const char *params[] = {rcv_i64(id, client_id), by};
    PGresult *res = kt_pg_exec(pg, &rcv_q_resv_expire_client, params);
    if (!res)
        return -1;
    int64_t sum = 0;
    int rc = kt_pg_i64_checked(res, 0, 0, &sum);
    PQclear(res);
    if (rc != 0)
        return -1;
    if (sum > 0 && rcv_account_move(pg, client_id, 0, 0, 0, 0, 0, -sum) != 0)
        return -1;
    if (expired)
        *expired = sum;
    return 0;
}

//  Reservation status names in the table <-> the proto enum.
static int s_status_of(const char *text)
{
    if (strcmp(text, "HELD") == 0)
        return KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_HELD;
    if (strcmp(text, "CONFIRMED") == 0)
        return KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_CONFIRMED;
    if (strcmp(text, "RELEASED") == 0)
        return KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_RELEASED;
    if (strcmp(text, "EXPIRED") == 0)
        return KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_EXPIRED;
    if (strcmp(text, "INVOICED") == 0)
        return KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_INVOICED;
    return KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_UNSPECIFIED;
}

//  A reservation as read.
typedef struct {
    int64_t order_id;
    int64_t client_id;
    int64_t amount;
    char currency[4];
    char status[12];
    int64_t expires_ms;
    bool expired;           //  its time has run out (whatever its status)
} s_resv_t;

//  0 found, 1 none, -1 database error.
static int s_resv_get(kt_pg_t *pg, int64_t order_id, s_resv_t *out)
{
    char id[24];
    const char *params[] = {rcv_i64(id, order_id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_resv_get, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 1;
    }
    memset(out, 0, sizeof *out);
    out->order_id = kt_pg_i64(res, 0, 0);
    out->client_id = kt_pg_i64(res, 0, 1);
    out->amount = kt_pg_i64(res, 0, 2);
    snprintf(out->currency, sizeof out->currency, "%s", kt_pg_text(res, 0, 3));
    snprintf(out->status, sizeof out->status, "%s", kt_pg_text(res, 0, 4));
    out->expires_ms = kt_pg_i64(res, 0, 5);
    out->expired = kt_pg_text(res, 0, 6)[0] == 't';
    PQclear(res);
    return 0;
}

//  Set a reservation's status from `from` to `to`; *amount gets its amount.
//  0 done, 1 it was not in `from`, -1 database error.
static int s_resv_move(kt_pg_t *pg, int64_t order_id, const char *from, const char *to,
                       int64_t *amount)
{
    char id[24];
    const char *params[] = {rcv_i64(id, order_id), to, from};
    PGresult *res = kt_pg_exec(pg, &rcv_q_resv_set_status, params);
    if (!res)
        return -1;
    int rc = PQntuples(res) == 1 ? 0 : 1;
    if (rc == 0 && amount)
        *amount = kt_pg_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

//  A refusal decided inside a transaction, replied after it.
typedef struct {
    int status;                     //  KT_OK when none
    const char *field;
    const char *reason;
    char message[KT_MESSAGE_MAX + 1];
} s_refusal_t;

static void s_refuse(s_refusal_t *r, int status, const char *field, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void s_refuse(s_refusal_t *r, int status, const char *field, const char *reason,
                     const char *fmt, ...)
{
    r->status = status;
    r->field = field;
    r->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static int s_money_or_reply(kt_call_t *call, const char *field, const Kontor__Money *m,
                            bool positive)
{
    char path[64];
    if (!m)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s is required", field);
    if (!kt_currency_valid(m->currency)) {
        snprintf(path, sizeof path, "%s.currency", field);
        return kt_call_fail(call, KT_INVALID_ARGUMENT, path, NULL,
                            "%s must be an ISO 4217 code of three capital letters: \"%s\"",
                            path, m->currency);
    }
    if (positive ? m->units <= 0 : m->units < 0) {
        snprintf(path, sizeof path, "%s.units", field);
        return kt_call_fail(call, KT_INVALID_ARGUMENT, path, NULL, "%s must be %s: %lld", field,
                            positive ? "positive" : "zero or more", (long long) m->units);
    }
    return 0;
}

//  ---------------------------------------------------------------- ReserveCredit

typedef struct {
    kt_call_t *call;
    const Kontor__Receivables__ReserveCreditRequest *req;
    uint32_t hold_s;
    //  what happened (reset at every attempt)
    s_refusal_t refusal;
    bool figures;                   //  the refusal carries the reply's figures
    int status;                     //  CreditStatus of the reservation
    char currency[4];
    int64_t limit;
    int64_t exposure;
    int64_t exceeded_by;
    int64_t expires_ms;
    int64_t overdue[S_MAX_OVERDUE_IDS];
    size_t noverdue;
} s_reserve_t;

static int s_reserve_tx(kt_pg_t *pg, void *arg)
{
    s_reserve_t *x = arg;
    const Kontor__Receivables__ReserveCreditRequest *req = x->req;
    const char *by = x->call->caller->name;
    memset(&x->refusal, 0, sizeof x->refusal);
    x->figures = false;
    x->noverdue = 0;
    x->exceeded_by = 0;

    rcv_account_t acct;
    int rc = rcv_account_read(pg, req->client_id, true, &acct);
    if (rc < 0)
        return -1;
    if (rc == 1 || !acct.has_terms) {
        s_refuse(&x->refusal, KT_NOT_FOUND, "client_id", "unknown_client",
                 "client %lld is not known to receivables: no credit terms have arrived for it",
                 (long long) req->client_id);
        return 1;
    }
    snprintf(x->currency, sizeof x->currency, "%s", acct.currency);
    x->limit = acct.limit;
    int64_t expired = 0;
    if (rcv_expire_client(pg, acct.client_id, "receivables", &expired) != 0)
        return -1;
    acct.reserved -= expired;

    //  Idempotent by order id: the same order again gets the first answer.
    s_resv_t resv;
    rc = s_resv_get(pg, req->order_id, &resv);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (resv.client_id != req->client_id || resv.amount != req->amount->units
            || strcmp(resv.currency, req->amount->currency) != 0) {
            s_refuse(&x->refusal, KT_ABORTED, "order_id", "idempotency_mismatch",
                     "order %lld already has a credit reservation of another client or amount",
                     (long long) req->order_id);
            return 1;
        }
        x->status = s_status_of(resv.status);
        x->expires_ms = resv.expires_ms;
        rcv_credit_t c;
        if (rcv_credit_check(acct.open_amount, acct.unapplied, acct.reserved, 0, acct.limit, &c)
            >= 0)
            x->exposure = c.exposure;
        return 0;
    }
    if (strcmp(acct.currency, req->amount->currency) != 0) {
        s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "amount.currency", "currency_mismatch",
                 "client %lld is invoiced in %s, not %s", (long long) req->client_id,
                 acct.currency, req->amount->currency);
        return 1;
    }
    rcv_credit_t c;
    int fits = rcv_credit_check(acct.open_amount, acct.unapplied, acct.reserved,
                                req->amount->units, acct.limit, &c);
    if (fits < 0) {
        s_refuse(&x->refusal, KT_INVALID_ARGUMENT, "amount.units", NULL,
                 "amount %lld would overflow the client's exposure",
                 (long long) req->amount->units);
        return 1;
    }
    x->exposure = c.exposure;
    bool approved = req->approved_by[0] != '\0';
    char detail[160];
    if (!approved) {
        if (acct.client_status == KONTOR__CLIENTS__CLIENT_STATUS__BLOCKED) {
            x->figures = true;
            s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "client_id", "client_blocked",
                     "client %lld is blocked; a head must approve the order",
                     (long long) req->client_id);
        } else if (acct.on_hold) {
            const char *as_of = acct.hold_as_of[0] && strcmp(acct.hold_as_of, acct.today) > 0
                                    ? acct.hold_as_of
                                    : acct.today;
            int64_t count = 0, amount = 0;
            if (rcv_overdue(pg, acct.client_id, acct.grace_days, as_of, &count, &amount,
                            x->overdue, S_MAX_OVERDUE_IDS, &x->noverdue)
                != 0)
                return -1;
            char money[48];
            x->figures = true;
            s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "client_id", "credit_hold",
                     "client %lld is on credit hold: %lld overdue invoice(s), %s past %d grace "
                     "days",
                     (long long) req->client_id, (long long) count,
                     kt_money_format(amount, acct.currency, money, sizeof money),
                     acct.grace_days);
        } else if (fits == 1) {
            char over[48], lim[48];
            x->figures = true;
            x->exceeded_by = c.exceeded_by;
            s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "amount", "credit_limit_exceeded",
                     "order %lld would take client %lld %s over its credit limit of %s",
                     (long long) req->order_id, (long long) req->client_id,
                     kt_money_format(c.exceeded_by, acct.currency, over, sizeof over),
                     kt_money_format(acct.limit, acct.currency, lim, sizeof lim));
        }
        if (x->refusal.status != KT_OK) {
            //  The refusal is history too: commit it (and any expiry above).
            snprintf(detail, sizeof detail, "%s", x->refusal.reason);
            if (rcv_history_add(pg, acct.client_id, "refused", req->order_id,
                                req->amount->units, c.exposure, acct.limit, by, detail)
                != 0)
                return -1;
            return 0;
        }
    }
    char b[5][24];
    const char *params[] = {rcv_i64(b[0], req->order_id), rcv_i64(b[1], req->client_id),
                            rcv_i64(b[2], req->amount->units), req->amount->currency,
                            rcv_i64(b[3], x->hold_s), req->approved_by,
                            rcv_i64(b[4], req->manager_id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_resv_insert, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        //  Another client's reservation took this order id meanwhile.
        PQclear(res);
        s_refuse(&x->refusal, KT_ABORTED, "order_id", "idempotency_mismatch",
                 "order %lld already has a credit reservation of another client",
                 (long long) req->order_id);
        return 1;
    }
    x->expires_ms = kt_pg_i64(res, 0, 0);
    PQclear(res);
    if (rcv_account_move(pg, acct.client_id, 0, 0, 0, 0, 0, req->amount->units) != 0)
        return -1;
    if (approved)
        snprintf(detail, sizeof detail, "approved by %s", req->approved_by);
    else
        detail[0] = '\0';
    if (rcv_history_add(pg, acct.client_id, "reserved", req->order_id, req->amount->units,
                        c.exposure, acct.limit, by, detail)
        != 0)
        return -1;
    x->status = KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_HELD;
    return 0;
}

//  The common case, a reservation that goes through, in one statement that
//  is its own transaction (reserve_credit_fast, migrations/003): 1 when it
//  was made (x filled as s_reserve_tx fills it), 0 when the full
//  transaction must decide (a refusal, a replay, an account without terms),
//  -1 on a database error that the full transaction would not cure.
static int s_reserve_fast(kt_call_t *call, s_reserve_t *x)
{
    const Kontor__Receivables__ReserveCreditRequest *req = x->req;
    char b[6][24];
    const char *params[] = {rcv_i64(b[0], req->order_id), rcv_i64(b[1], req->client_id),
                            rcv_i64(b[2], req->amount->units), req->amount->currency,
                            rcv_i64(b[3], x->hold_s), req->approved_by,
                            rcv_i64(b[4], req->manager_id), call->caller->name};
    PGresult *res = kt_pg_exec(call->pg, &rcv_q_reserve_fast, params);
    if (!res)
        return kt_pg_retryable(kt_pg_sqlstate(call->pg)) ? 0 : -1;
    int rc = 0;
    if (PQntuples(res) == 1 && strcmp(kt_pg_text(res, 0, 0), "reserved") == 0) {
        x->status = KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_HELD;
        x->expires_ms = kt_pg_i64(res, 0, 1);
        x->limit = kt_pg_i64(res, 0, 2);
        x->exposure = kt_pg_i64(res, 0, 3);
        snprintf(x->currency, sizeof x->currency, "%s", kt_pg_text(res, 0, 4));
        rc = 1;
    }
    PQclear(res);
    return rc;
}

int receivables_reserve_credit(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__ReserveCreditRequest *req =
        (const Kontor__Receivables__ReserveCreditRequest *) request;
    char why[160];
    if (kt_check_id("order_id", req->order_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL, "%s", why);
    if (kt_check_id("client_id", req->client_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL, "%s", why);
    if (s_money_or_reply(call, "amount", req->amount, true) != 0)
        return -1;
    if (req->hold_seconds > S_MAX_HOLD_S)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "hold_seconds", NULL,
                            "hold_seconds must be at most %d: %u", S_MAX_HOLD_S,
                            req->hold_seconds);
    if (kt_check_text("approved_by", req->approved_by, 0, S_NAME_MAX, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "approved_by", NULL, "%s", why);
    if (req->manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "manager_id must not be negative: %lld", (long long) req->manager_id);

    s_reserve_t x = {.call = call, .req = req};
    x.hold_s = req->hold_seconds ? req->hold_seconds : S_DEFAULT_HOLD_S;
    int fast = s_reserve_fast(call, &x);
    if (fast < 0)
        return kt_call_fail_pg(call, "reserve credit");
    int rc = 0;
    if (fast == 0)
        rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_reserve_tx, &x);
    if (rc < 0)
        return kt_call_fail_pg(call, "reserve credit");

    Kontor__Receivables__ReserveCreditReply rep = KONTOR__RECEIVABLES__RESERVE_CREDIT_REPLY__INIT;
    Kontor__Money limit = KONTOR__MONEY__INIT, exposure = KONTOR__MONEY__INIT,
                  exceeded = KONTOR__MONEY__INIT;
    limit.units = x.limit;
    limit.currency = x.currency;
    exposure.units = x.exposure;
    exposure.currency = x.currency;
    exceeded.units = x.exceeded_by;
    exceeded.currency = x.currency;
    rep.order_id = req->order_id;
    rep.limit = &limit;
    rep.exposure = &exposure;
    if (x.refusal.status != KT_OK) {
        if (!x.figures)
            return kt_call_fail(call, x.refusal.status, x.refusal.field, x.refusal.reason, "%s",
                                x.refusal.message);
        rep.status = KONTOR__RECEIVABLES__CREDIT_STATUS__CREDIT_UNSPECIFIED;
        rep.exceeded_by = &exceeded;
        rep.n_overdue_invoices = x.noverdue;
        rep.overdue_invoices = x.overdue;
        kt_call_refuse(call, &rep.base, x.refusal.status, x.refusal.field, x.refusal.reason, "%s",
                       x.refusal.message);
        if (strcmp(x.refusal.reason, "credit_limit_exceeded") == 0)
            kt_call_hint(call, "ask a head to approve the order, or take a payment first");
        else if (strcmp(x.refusal.reason, "credit_hold") == 0)
            kt_call_hint(call, "the overdue invoices must be paid, or a head must approve");
        return -1;
    }
    rep.status = (Kontor__Receivables__CreditStatus) x.status;
    rep.expires_at_ms = x.expires_ms;
    return kt_call_reply(call, &rep.base);
}

//  ---------------------------------------------------------------- Confirm / Release

typedef struct {
    kt_call_t *call;
    const Kontor__Receivables__CreditRequest *req;
    bool release;
    s_refusal_t refusal;
    int status;
} s_settle_t;

static int s_settle_tx(kt_pg_t *pg, void *arg)
{
    s_settle_t *x = arg;
    int64_t order_id = x->req->order_id;
    memset(&x->refusal, 0, sizeof x->refusal);
    s_resv_t resv;
    int rc = s_resv_get(pg, order_id, &resv);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        s_refuse(&x->refusal, KT_NOT_FOUND, "order_id", "unknown_order",
                 "order %lld has no credit reservation", (long long) order_id);
        return 1;
    }
    //  Lock the account first, then look again: the status may have moved.
    rcv_account_t acct;
    if (rcv_account_read(pg, resv.client_id, true, &acct) != 0)
        return -1;
    if (rcv_expire_client(pg, resv.client_id, "receivables", NULL) != 0)
        return -1;
    if (s_resv_get(pg, order_id, &resv) != 0)
        return -1;
    x->status = s_status_of(resv.status);
    const char *by = x->call->caller->name;
    int64_t amount = 0;
    if (strcmp(resv.status, "HELD") == 0 || (x->release && strcmp(resv.status, "CONFIRMED") == 0)) {
        const char *to = x->release ? "RELEASED" : "CONFIRMED";
        if (s_resv_move(pg, order_id, resv.status, to, &amount) != 0)
            return -1;
        if (x->release && rcv_account_move(pg, resv.client_id, 0, 0, 0, 0, 0, -amount) != 0)
            return -1;
        if (rcv_history_add(pg, resv.client_id, x->release ? "released" : "confirmed", order_id,
                            amount, 0, acct.limit, by, x->req->reason)
            != 0)
            return -1;
        x->status = s_status_of(to);
        return 0;
    }
    if (x->release) {
        if (strcmp(resv.status, "INVOICED") == 0)
            s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "order_id", "already_dispatched",
                     "order %lld is dispatched and invoiced; its credit cannot be released",
                     (long long) order_id);
        //  RELEASED or EXPIRED: released already, the same answer again.
        return 0;
    }
    if (strcmp(resv.status, "EXPIRED") == 0)
        s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "order_id", "reservation_expired",
                 "the credit reservation of order %lld has expired", (long long) order_id);
    else if (strcmp(resv.status, "RELEASED") == 0)
        s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "order_id", "invalid_transition",
                 "the credit reservation of order %lld was released", (long long) order_id);
    //  CONFIRMED or INVOICED: confirmed already.
    return 0;
}

static int s_settle(kt_call_t *call, const ProtobufCMessage *request, bool release)
{
    const Kontor__Receivables__CreditRequest *req =
        (const Kontor__Receivables__CreditRequest *) request;
    char why[160];
    if (kt_check_id("order_id", req->order_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL, "%s", why);
    if (kt_check_text("reason", req->reason, 0, S_REASON_MAX, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "reason", NULL, "%s", why);
    s_settle_t x = {.call = call, .req = req, .release = release};
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_settle_tx, &x);
    if (rc < 0)
        return kt_call_fail_pg(call, release ? "release credit" : "confirm credit");
    if (x.refusal.status != KT_OK)
        return kt_call_fail(call, x.refusal.status, x.refusal.field, x.refusal.reason, "%s",
                            x.refusal.message);
    Kontor__Receivables__CreditReply rep = KONTOR__RECEIVABLES__CREDIT_REPLY__INIT;
    rep.order_id = req->order_id;
    rep.status = (Kontor__Receivables__CreditStatus) x.status;
    return kt_call_reply(call, &rep.base);
}

int receivables_confirm_credit(kt_call_t *call, const ProtobufCMessage *request)
{
    return s_settle(call, request, false);
}

int receivables_release_credit(kt_call_t *call, const ProtobufCMessage *request)
{
    return s_settle(call, request, true);
}

int rcv_credit_on_order(kt_pg_t *pg, int64_t order_id, bool cancelled, const char *by)
{
    s_resv_t resv;
    int rc = s_resv_get(pg, order_id, &resv);
    if (rc != 0)
        return rc < 0 ? -1 : 0;     //  no reservation: nothing to do
    rcv_account_t acct;
    if (rcv_account_read(pg, resv.client_id, true, &acct) != 0)
        return -1;
    if (s_resv_get(pg, order_id, &resv) != 0)
        return -1;
    int64_t amount = 0;
    bool live = strcmp(resv.status, "HELD") == 0 || strcmp(resv.status, "CONFIRMED") == 0;
    if (cancelled) {
        if (!live)
            return 0;
        if (s_resv_move(pg, order_id, resv.status, "RELEASED", &amount) != 0
            || rcv_account_move(pg, resv.client_id, 0, 0, 0, 0, 0, -amount) != 0)
            return -1;
        return rcv_history_add(pg, resv.client_id, "released", order_id, amount, 0, acct.limit,
                               by, "order cancelled");
    }
    if (strcmp(resv.status, "HELD") == 0) {
        if (s_resv_move(pg, order_id, "HELD", "CONFIRMED", &amount) != 0)
            return -1;
        return rcv_history_add(pg, resv.client_id, "confirmed", order_id, amount, 0, acct.limit,
                               by, "order confirmed");
    }
    if (strcmp(resv.status, "EXPIRED") == 0) {
        //  The order stands although its hold ran out before the
        //  confirmation arrived: its credit counts again.
        if (s_resv_move(pg, order_id, "EXPIRED", "CONFIRMED", &amount) != 0
            || rcv_account_move(pg, resv.client_id, 0, 0, 0, 0, 0, amount) != 0)
            return -1;
        return rcv_history_add(pg, resv.client_id, "confirmed", order_id, amount, 0, acct.limit,
                               by, "order confirmed after its hold expired");
    }
    return 0;
}

//  ---------------------------------------------------------------- CreditStatus

#define S_STATUS_MAX 500

int receivables_credit_status(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__CreditStatusRequest *req =
        (const Kontor__Receivables__CreditStatusRequest *) request;
    if (req->n_order_ids == 0 || req->n_order_ids > S_STATUS_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_ids", NULL,
                            "give 1 to %d order ids: %zu", S_STATUS_MAX, req->n_order_ids);
    //  "{id,id,...}": at most 20 digits and a comma each.
    char *ids = malloc(req->n_order_ids * 21 + 3);
    if (!ids)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    size_t at = 0;
    ids[at++] = '{';
    for (size_t i = 0; i < req->n_order_ids; i++) {
        if (req->order_ids[i] <= 0) {
            free(ids);
            char field[32];
            snprintf(field, sizeof field, "order_ids[%zu]", i);
            return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                                "order ids must be positive: %lld",
                                (long long) req->order_ids[i]);
        }
        at += (size_t) sprintf(ids + at, "%s%lld", i ? "," : "", (long long) req->order_ids[i]);
    }
    ids[at++] = '}';
    ids[at] = 0;
    const char *params[] = {ids};
    PGresult *res = kt_pg_exec(call->pg, &rcv_q_resv_statuses, params);
    free(ids);
    if (!res)
        return kt_call_fail_pg(call, "read credit reservations");
    size_t n = (size_t) PQntuples(res);
    Kontor__Receivables__CreditReply *items = calloc(n ? n : 1, sizeof *items);
    Kontor__Receivables__CreditReply **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    int rc;
    if (!items || !ptrs)
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    else {
        for (size_t i = 0; i < n; i++) {
            kontor__receivables__credit_reply__init(&items[i]);
            items[i].order_id = kt_pg_i64(res, (int) i, 0);
            items[i].status = (Kontor__Receivables__CreditStatus) s_status_of(
                kt_pg_text(res, (int) i, 1));
            ptrs[i] = &items[i];
        }
        Kontor__Receivables__CreditStatusReply rep =
            KONTOR__RECEIVABLES__CREDIT_STATUS_REPLY__INIT;
        rep.n_items = n;
        rep.items = ptrs;
        rc = kt_call_reply(call, &rep.base);
    }
    free(items);
    free(ptrs);
    PQclear(res);
    return rc;
}

//  ---------------------------------------------------------------- SetCreditTerms

typedef struct {
    kt_call_t *call;
    const Kontor__Receivables__SetCreditTermsRequest *req;
    s_refusal_t refusal;
} s_terms_t;

static int s_terms_tx(kt_pg_t *pg, void *arg)
{
    s_terms_t *x = arg;
    const Kontor__Receivables__SetCreditTermsRequest *req = x->req;
    memset(&x->refusal, 0, sizeof x->refusal);
    rcv_account_t acct;
    int rc = rcv_account_read(pg, req->client_id, true, &acct);
    if (rc < 0)
        return -1;
    if (rc == 0 && acct.currency[0] && strcmp(acct.currency, req->credit_limit->currency) != 0
        && (acct.invoiced || acct.paid || acct.credited || acct.reserved || acct.unapplied)) {
        s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "credit_limit.currency",
                 "currency_mismatch",
                 "client %lld has money booked in %s; its terms cannot change to %s",
                 (long long) req->client_id, acct.currency, req->credit_limit->currency);
        return 1;
    }
    char b[6][24];
    const char *params[] = {rcv_i64(b[0], req->client_id), req->credit_limit->currency,
                            rcv_i64(b[1], req->credit_limit->units),
                            rcv_i64(b[2], req->payment_days), rcv_i64(b[3], req->grace_days),
                            rcv_i64(b[4], req->manager_id), rcv_i64(b[5], req->branch_id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_terms_set, params);
    if (!res)
        return -1;
    PQclear(res);
    char detail[96];
    snprintf(detail, sizeof detail, "limit %lld %s, %d payment days, %d grace days",
             (long long) req->credit_limit->units, req->credit_limit->currency,
             req->payment_days, req->grace_days);
    return rcv_history_add(pg, req->client_id, "terms", 0, 0, 0, req->credit_limit->units,
                           x->call->caller->name, detail);
}

int receivables_set_credit_terms(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__SetCreditTermsRequest *req =
        (const Kontor__Receivables__SetCreditTermsRequest *) request;
    char why[160];
    if (kt_check_id("client_id", req->client_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL, "%s", why);
    if (s_money_or_reply(call, "credit_limit", req->credit_limit, false) != 0)
        return -1;
    if (req->payment_days < 0 || req->payment_days > 3650)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "payment_days", NULL,
                            "payment_days must be 0 to 3650: %d", req->payment_days);
    if (req->grace_days < 0 || req->grace_days > 3650)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "grace_days", NULL,
                            "grace_days must be 0 to 3650: %d", req->grace_days);
    if (req->manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "manager_id must not be negative: %lld", (long long) req->manager_id);
    if (req->branch_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "branch_id", NULL,
                            "branch_id must not be negative: %lld", (long long) req->branch_id);
    s_terms_t x = {.call = call, .req = req};
    int rc = kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_terms_tx, &x);
    if (rc < 0)
        return kt_call_fail_pg(call, "set the credit terms");
    if (x.refusal.status != KT_OK)
        return kt_call_fail(call, x.refusal.status, x.refusal.field, x.refusal.reason, "%s",
                            x.refusal.message);
    Kontor__Receivables__CreditTermsReply rep = KONTOR__RECEIVABLES__CREDIT_TERMS_REPLY__INIT;
    rep.client_id = req->client_id;
    rep.credit_limit = req->credit_limit;
    rep.payment_days = req->payment_days;
    rep.grace_days = req->grace_days;
    rep.manager_id = req->manager_id;
    rep.branch_id = req->branch_id;
    return kt_call_reply(call, &rep.base);
}

//  ---------------------------------------------------------------- CreditHistory

#define S_HISTORY_DEFAULT 50
#define S_HISTORY_MAX 500

int receivables_credit_history(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__CreditHistoryRequest *req =
        (const Kontor__Receivables__CreditHistoryRequest *) request;
    char why[160];
    if (kt_check_id("client_id", req->client_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL, "%s", why);
    if (req->limit > S_HISTORY_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "limit", NULL,
                            "limit must be at most %d: %u", S_HISTORY_MAX, req->limit);
    if (req->before_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "before_id", NULL,
                            "before_id must not be negative: %lld", (long long) req->before_id);
    rcv_account_t acct;
    int rc = rcv_account_read(call->pg, req->client_id, false, &acct);
    if (rc < 0)
        return kt_call_fail_pg(call, "read the account");
    if (rc == 1)
        return kt_call_fail(call, KT_NOT_FOUND, "client_id", "unknown_client",
                            "client %lld is not known to receivables", (long long) req->client_id);
    if (!rcv_may_see(call, acct.manager_id))
        return kt_call_fail(call, KT_PERMISSION_DENIED, "client_id", "not_owner",
                            "client %lld belongs to another manager", (long long) req->client_id);
    char b[3][24];
    const char *params[] = {rcv_i64(b[0], req->client_id), rcv_i64(b[1], req->before_id),
                            rcv_i64(b[2], req->limit ? req->limit : S_HISTORY_DEFAULT)};
    PGresult *res = kt_pg_exec(call->pg, &rcv_q_history, params);
    if (!res)
        return kt_call_fail_pg(call, "read the credit history");
    int n = PQntuples(res);
    Kontor__Receivables__CreditEvent events[S_HISTORY_MAX];
    Kontor__Receivables__CreditEvent *items[S_HISTORY_MAX];
    Kontor__Money money[S_HISTORY_MAX][3];
    for (int r = 0; r < n; r++) {
        Kontor__Receivables__CreditEvent *e = &events[r];
        kontor__receivables__credit_event__init(e);
        e->id = kt_pg_i64(res, r, 0);
        e->at_ms = kt_pg_i64(res, r, 1);
        e->kind = (char *) kt_pg_text(res, r, 2);
        e->order_id = kt_pg_i64(res, r, 3);
        for (int k = 0; k < 3; k++) {
            kontor__money__init(&money[r][k]);
            money[r][k].units = kt_pg_i64(res, r, 4 + k);
            money[r][k].currency = acct.currency;
        }
        e->amount = &money[r][0];
        e->exposure = &money[r][1];
        e->limit = &money[r][2];
        e->by = (char *) kt_pg_text(res, r, 7);
        e->detail = (char *) kt_pg_text(res, r, 8);
        items[r] = e;
    }
    Kontor__Receivables__CreditHistoryReply rep = KONTOR__RECEIVABLES__CREDIT_HISTORY_REPLY__INIT;
    rep.client_id = req->client_id;
    rep.n_events = (size_t) n;
    rep.events = items;
    rc = kt_call_reply(call, &rep.base);
    PQclear(res);
    return rc;
}
