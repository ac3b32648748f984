/*  receivables_payments - RecordPayment and ReversePayment.
 *
 *  A payment is idempotent by its reference: the same reference with the
 *  same client, amount and date gives the first answer again (duplicate =
 *  true); with anything else it is refused, ABORTED idempotency_mismatch.
 *  Two calls with one reference at once: for one client they queue on the
 *  account row; for two clients the unique index makes the second wait
 *  for the first and then find it. Either way one payment exists.
 *
 *  It pays the invoices named, in that order, or else the client's open
 *  invoices oldest due first; what is left is unapplied credit that the
 *  next invoice takes. Nothing is lost: the account's totals move in the
 *  same statement (accounts_money_conserved CHECK).
 */
#include <stdarg.h>
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

#define S_TX_ATTEMPTS 5
#define S_REFERENCE_MAX 64
#define S_REASON_MAX 200
#define S_MAX_NAMED 100         //  invoices one payment may name

typedef struct {
    int status;
    char field[40];
    const char *reason;
    char message[KT_MESSAGE_MAX + 1];
} s_refusal_t;

static void s_refuse(s_refusal_t *r, int status, const char *field, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void s_refuse(s_refusal_t *r, int status, const char *field, const char *reason,
                     const char *fmt, ...)
{
    r->status = status;
    snprintf(r->field, sizeof r->field, "%s", field ? field : "");
    r->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

//  A payment as stored.
typedef struct {
    int64_t id;
    int64_t client_id;
    int64_t amount;
    char currency[4];
    char date[11];
    int64_t unapplied;
    bool reversed;
    char reversed_on[11];
} s_payment_t;

//  0 found, 1 none, -1 database error.
static int s_payment_by_ref(kt_pg_t *pg, const char *reference, s_payment_t *out)
{
    const char *params[] = {reference};
    PGresult *res = kt_pg_exec(pg, &rcv_q_payment_by_ref, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 1;
    }
    out->id = kt_pg_i64(res, 0, 0);
    out->client_id = kt_pg_i64(res, 0, 1);
    out->amount = kt_pg_i64(res, 0, 2);
    snprintf(out->currency, sizeof out->currency, "%s", kt_pg_text(res, 0, 3));
    snprintf(out->date, sizeof out->date, "%s", kt_pg_text(res, 0, 4));
    out->unapplied = kt_pg_i64(res, 0, 5);
    out->reversed = kt_pg_text(res, 0, 6)[0] == 't';
    snprintf(out->reversed_on, sizeof out->reversed_on, "%s", kt_pg_text(res, 0, 7));
    PQclear(res);
    return 0;
}

//  ---------------------------------------------------------------- RecordPayment

typedef struct {
    kt_call_t *call;
    const Kontor__Receivables__RecordPaymentRequest *req;
    char date[11];              //  "" until known: today
    const char *named;          //  "{1,2}" or NULL
    //  outcome (reset at each attempt)
    s_refusal_t refusal;
    bool duplicate;
    bool lifted;
    s_payment_t payment;
    rcv_alloc_t allocs[RCV_MAX_ALLOCS];
    size_t nallocs;
} s_record_t;

//  The stored payment answers again, if it is the same payment.
static int s_replay(kt_pg_t *pg, s_record_t *x, const s_payment_t *p)
{
    const Kontor__Receivables__RecordPaymentRequest *req = x->req;
    if (p->client_id != req->client_id || p->amount != req->amount->units
        || strcmp(p->currency, req->amount->currency) != 0
        || (x->date[0] && strcmp(p->date, x->date) != 0)) {
        s_refuse(&x->refusal, KT_ABORTED, "reference", "idempotency_mismatch",
                 "payment reference \"%s\" was recorded before with another client, amount or "
                 "date",
                 req->reference);
        return 1;
    }
    x->duplicate = true;
    x->payment = *p;
    char id[24];
    const char *params[] = {rcv_i64(id, p->id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_payment_allocations, params);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res) && x->nallocs < RCV_MAX_ALLOCS; r++) {
        x->allocs[x->nallocs].invoice_id = kt_pg_i64(res, r, 0);
        x->allocs[x->nallocs].amount = kt_pg_i64(res, r, 1);
        x->nallocs++;
    }
    PQclear(res);
    return 0;
}

static int s_record_tx(kt_pg_t *pg, void *arg)
{
    s_record_t *x = arg;
    const Kontor__Receivables__RecordPaymentRequest *req = x->req;
    memset(&x->refusal, 0, sizeof x->refusal);
    x->duplicate = false;
    x->lifted = false;
    x->nallocs = 0;

    rcv_account_t acct;
    int rc = rcv_account_read(pg, req->client_id, true, &acct);
    if (rc < 0)
        return -1;
    if (rc == 1 || !acct.currency[0]) {
        s_refuse(&x->refusal, KT_NOT_FOUND, "client_id", "unknown_client",
                 "client %lld is not known to receivables", (long long) req->client_id);
        return 1;
    }
    s_payment_t p;
    rc = s_payment_by_ref(pg, req->reference, &p);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return s_replay(pg, x, &p);
    if (strcmp(acct.currency, req->amount->currency) != 0) {
        s_refuse(&x->refusal, KT_FAILED_PRECONDITION, "amount.currency", "currency_mismatch",
                 "client %lld pays in %s, not %s", (long long) req->client_id, acct.currency,
                 req->amount->currency);
        return 1;
    }
    char date[11];
    snprintf(date, sizeof date, "%s", x->date[0] ? x->date : acct.today);
    if (strcmp(date, acct.today) > 0) {
        s_refuse(&x->refusal, KT_INVALID_ARGUMENT, "date", NULL,
                 "date must not be after today (%s): %s", acct.today, date);
        return 1;
    }
    int64_t check;
    if (kt_add_i64(acct.paid, req->amount->units, &check) != 0
        || kt_add_i64(acct.unapplied, req->amount->units, &check) != 0) {
        s_refuse(&x->refusal, KT_INVALID_ARGUMENT, "amount.units", NULL,
                 "amount %lld would overflow the client's paid total",
                 (long long) req->amount->units);
        return 1;
    }
    if (x->named) {
        //  Every invoice named exists and is this client's.
        const char *params[] = {x->named};
        PGresult *res = kt_pg_exec(pg, &rcv_q_invoice_get, params);
        if (!res)
            return -1;
        for (size_t i = 0; i < req->n_invoice_ids; i++) {
            int64_t owner = 0;
            for (int r = 0; r < PQntuples(res); r++)
                if (kt_pg_i64(res, r, 0) == req->invoice_ids[i])
                    owner = kt_pg_i64(res, r, 1);
            char field[40];
            snprintf(field, sizeof field, "invoice_ids[%zu]", i);
            if (owner == 0)
                s_refuse(&x->refusal, KT_NOT_FOUND, field, "unknown_invoice",
                         "invoice %lld does not exist", (long long) req->invoice_ids[i]);
            else if (owner != req->client_id)
                s_refuse(&x->refusal, KT_INVALID_ARGUMENT, field, NULL,
                         "invoice %lld belongs to another client than %lld",
                         (long long) req->invoice_ids[i], (long long) req->client_id);
            if (x->refusal.status != KT_OK)
                break;
        }
        PQclear(res);
        if (x->refusal.status != KT_OK)
            return 1;
    }
    char b[2][24];
    const char *params[] = {rcv_i64(b[0], req->client_id), "payment", req->amount->currency,
                            rcv_i64(b[1], req->amount->units), date, req->reference, NULL, NULL,
                            "0", x->call->caller->name};
    PGresult *res = kt_pg_exec(pg, &rcv_q_settlement_insert, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        //  Another client's payment took this reference meanwhile.
        PQclear(res);
        if (s_payment_by_ref(pg, req->reference, &p) != 0)
            return -1;
        return s_replay(pg, x, &p);
    }
    int64_t id = kt_pg_i64(res, 0, 0);
    PQclear(res);
    int64_t allocated = 0;
    if (rcv_allocate(pg, req->client_id, id, date, req->amount->units, x->named, x->allocs,
                     RCV_MAX_ALLOCS, &x->nallocs, &allocated)
        != 0)
        return -1;
    int64_t unapplied = req->amount->units - allocated;
    if (unapplied != req->amount->units && rcv_settlement_set_unapplied(pg, id, unapplied) != 0)
        return -1;
    if (rcv_account_move(pg, req->client_id, 0, req->amount->units, 0, -allocated, unapplied, 0)
        != 0)
        return -1;
    acct.open_amount -= allocated;
    if (rcv_hold_lift_if_clear(pg, &acct, NULL, x->call->caller->name, &x->lifted) != 0)
        return -1;

    x->payment.id = id;
    x->payment.client_id = req->client_id;
    x->payment.amount = req->amount->units;
    snprintf(x->payment.currency, sizeof x->payment.currency, "%s", acct.currency);
    snprintf(x->payment.date, sizeof x->payment.date, "%s", date);
    x->payment.unapplied = unapplied;

    //  Events last: the payment, then the hold it lifted.
    Kontor__Receivables__PaymentRecorded ev = KONTOR__RECEIVABLES__PAYMENT_RECORDED__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT, left = KONTOR__MONEY__INIT;
    amount.units = req->amount->units;
    amount.currency = acct.currency;
    left.units = unapplied;
    left.currency = acct.currency;
    ev.payment_id = id;
    ev.client_id = req->client_id;
    ev.amount = &amount;
    ev.unapplied = &left;
    ev.reference = (char *) req->reference;
    if (kt_outbox_add(pg, "PaymentRecorded", &ev.base) != 0)
        return -1;
    if (x->lifted && rcv_hold_event(pg, req->client_id, false, "the overdue invoices are paid", 0,
                                    acct.currency) != 0)
        return -1;
    return 0;
}

int receivables_record_payment(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__RecordPaymentRequest *req =
        (const Kontor__Receivables__RecordPaymentRequest *) request;
    char why[160];
    if (kt_check_id("client_id", req->client_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL, "%s", why);
    if (!req->amount)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "amount", NULL, "amount is required");
    if (!kt_currency_valid(req->amount->currency))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "amount.currency", NULL,
                            "amount.currency must be an ISO 4217 code of three capital letters: "
                            "\"%s\"",
                            req->amount->currency);
    if (req->amount->units <= 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "amount.units", NULL,
                            "amount must be positive: %lld", (long long) req->amount->units);
    if (kt_check_text("reference", req->reference, 1, S_REFERENCE_MAX, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "reference", NULL, "%s", why);
    s_record_t *x = calloc(1, sizeof *x);
    if (!x)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    x->call = call;
    x->req = req;
    char *named = NULL;
    int rc = -1;
    if (rcv_date_or_reply(call, "date", req->date, "", x->date) != 0)
        goto done;
    if (req->n_invoice_ids > S_MAX_NAMED) {
        kt_call_fail(call, KT_INVALID_ARGUMENT, "invoice_ids", NULL,
                     "a payment may name at most %d invoices: %zu", S_MAX_NAMED,
                     req->n_invoice_ids);
        goto done;
    }
    for (size_t i = 0; i < req->n_invoice_ids; i++) {
        char field[40];
        snprintf(field, sizeof field, "invoice_ids[%zu]", i);
        if (req->invoice_ids[i] <= 0) {
            kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                         "%s must be a positive id: %lld", field, (long long) req->invoice_ids[i]);
            goto done;
        }
        for (size_t k = 0; k < i; k++)
            if (req->invoice_ids[k] == req->invoice_ids[i]) {
                kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL,
                             "invoice %lld is named twice", (long long) req->invoice_ids[i]);
                goto done;
            }
    }
    if (req->n_invoice_ids > 0) {
        size_t size = 3 + req->n_invoice_ids * 21;
        named = malloc(size);
        if (!named) {
            kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto done;
        }
        size_t used = (size_t) snprintf(named, size, "{");
        for (size_t i = 0; i < req->n_invoice_ids; i++)
            used += (size_t) snprintf(named + used, size - used, "%s%lld", i ? "," : "",
                                      (long long) req->invoice_ids[i]);
        snprintf(named + used, size - used, "}");
        x->named = named;
    }
    if (kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_record_tx, x) < 0) {
        kt_call_fail_pg(call, "record the payment");
        goto done;
    }
    if (x->refusal.status != KT_OK) {
        kt_call_fail(call, x->refusal.status, x->refusal.field, x->refusal.reason, "%s",
                     x->refusal.message);
        goto done;
    }
    Kontor__Receivables__RecordPaymentReply rep = KONTOR__RECEIVABLES__RECORD_PAYMENT_REPLY__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT, left = KONTOR__MONEY__INIT;
    amount.units = x->payment.amount;
    amount.currency = x->payment.currency;
    left.units = x->payment.unapplied;
    left.currency = x->payment.currency;
    Kontor__Receivables__Allocation *allocs = calloc(x->nallocs + 1, sizeof *allocs);
    Kontor__Receivables__Allocation **items = calloc(x->nallocs + 1, sizeof *items);
    Kontor__Money *money = calloc(x->nallocs + 1, sizeof *money);
    if (!allocs || !items || !money) {
        free(allocs);
        free(items);
        free(money);
        kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < x->nallocs; i++) {
        kontor__receivables__allocation__init(&allocs[i]);
        kontor__money__init(&money[i]);
        money[i].units = x->allocs[i].amount;
        money[i].currency = x->payment.currency;
        allocs[i].invoice_id = x->allocs[i].invoice_id;
        allocs[i].amount = &money[i];
        items[i] = &allocs[i];
    }
    rep.payment_id = x->payment.id;
    rep.client_id = x->payment.client_id;
    rep.amount = &amount;
    rep.unapplied = &left;
    rep.n_allocations = x->nallocs;
    rep.allocations = items;
    rep.duplicate = x->duplicate;
    rep.date = x->payment.date;
    rep.hold_lifted = x->lifted;
    rc = kt_call_reply(call, &rep.base);
    free(allocs);
    free(items);
    free(money);
done:
    free(named);
    free(x);
    return rc;
}

//  ---------------------------------------------------------------- ReversePayment

typedef struct {
    kt_call_t *call;
    const Kontor__Receivables__ReversePaymentRequest *req;
    s_refusal_t refusal;
    s_payment_t payment;
    rcv_alloc_t reopened[RCV_MAX_ALLOCS];
    size_t nreopened;
} s_reverse_t;

static int s_reverse_tx(kt_pg_t *pg, void *arg)
{
    s_reverse_t *x = arg;
    memset(&x->refusal, 0, sizeof x->refusal);
    x->nreopened = 0;
    s_payment_t p;
    int rc = s_payment_by_ref(pg, x->req->reference, &p);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        s_refuse(&x->refusal, KT_NOT_FOUND, "reference", NULL,
                 "no payment has the reference \"%s\"", x->req->reference);
        return 1;
    }
    rcv_account_t acct;
    if (rcv_account_read(pg, p.client_id, true, &acct) != 0)
        return -1;
    if (s_payment_by_ref(pg, x->req->reference, &p) != 0)
        return -1;
    x->payment = p;
    if (p.reversed)
        return 0;           //  reversed before: the same answer
    char id[24];
    const char *params[] = {rcv_i64(id, p.id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_payment_unallocate, params);
    if (!res)
        return -1;
    int64_t reopened = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t amt = kt_pg_i64(res, r, 1);
        reopened += amt;
        if (x->nreopened < RCV_MAX_ALLOCS) {
            x->reopened[x->nreopened].invoice_id = kt_pg_i64(res, r, 0);
            x->reopened[x->nreopened].amount = amt;
            x->nreopened++;
        }
    }
    PQclear(res);
    const char *rparams[] = {id, x->req->reason};
    res = kt_pg_exec(pg, &rcv_q_payment_reverse, rparams);
    if (!res)
        return -1;
    snprintf(x->payment.reversed_on, sizeof x->payment.reversed_on, "%s",
             PQntuples(res) ? kt_pg_text(res, 0, 0) : "");
    PQclear(res);
    return rcv_account_move(pg, p.client_id, 0, -p.amount, 0, reopened, -p.unapplied, 0);
}

int receivables_reverse_payment(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__ReversePaymentRequest *req =
        (const Kontor__Receivables__ReversePaymentRequest *) request;
    char why[160];
    if (kt_check_text("reference", req->reference, 1, S_REFERENCE_MAX, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "reference", NULL, "%s", why);
    if (kt_check_text("reason", req->reason, 0, S_REASON_MAX, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "reason", NULL, "%s", why);
    s_reverse_t *x = calloc(1, sizeof *x);
    if (!x)
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    x->call = call;
    x->req = req;
    int rc = -1;
    if (kt_pg_tx(call->pg, S_TX_ATTEMPTS, s_reverse_tx, x) < 0) {
        kt_call_fail_pg(call, "reverse the payment");
        goto done;
    }
    if (x->refusal.status != KT_OK) {
        kt_call_fail(call, x->refusal.status, x->refusal.field, x->refusal.reason, "%s",
                     x->refusal.message);
        goto done;
    }
    Kontor__Receivables__ReversePaymentReply rep =
        KONTOR__RECEIVABLES__REVERSE_PAYMENT_REPLY__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT;
    amount.units = x->payment.amount;
    amount.currency = x->payment.currency;
    Kontor__Receivables__Allocation allocs[64];
    Kontor__Receivables__Allocation *items[64];
    Kontor__Money money[64];
    size_t n = x->nreopened < 64 ? x->nreopened : 64;
    for (size_t i = 0; i < n; i++) {
        kontor__receivables__allocation__init(&allocs[i]);
        kontor__money__init(&money[i]);
        money[i].units = x->reopened[i].amount;
        money[i].currency = x->payment.currency;
        allocs[i].invoice_id = x->reopened[i].invoice_id;
        allocs[i].amount = &money[i];
        items[i] = &allocs[i];
    }
    rep.payment_id = x->payment.id;
    rep.client_id = x->payment.client_id;
    rep.amount = &amount;
    rep.n_reopened = n;
    rep.reopened = items;
    rep.reversed_on = x->payment.reversed_on;
    rc = kt_call_reply(call, &rep.base);
done:
    free(x);
    return rc;
}
