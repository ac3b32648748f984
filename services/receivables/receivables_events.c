/*  receivables_events - what receivables applies from other services'
 *  streams: terms and owners (clients), invoices and discrepancy credit
 *  notes (logistics), return credit notes and the orders' fate (orders).
 *
 *  Each handler runs inside the consumer's batch transaction, wrapped in a
 *  savepoint: an event that cannot be applied ever (it does not validate,
 *  or a constraint refuses it) is rolled back to the savepoint, logged and
 *  skipped (POISON) without holding up the stream; a database failure that
 *  may pass (connection, serialization) fails the batch so it is retried.
 *  Every handler checks the event before touching the database.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_log.h"
#include "kt_money.h"
#include "kt_status.h"
#include "kt_wire.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"
#include "receivables.h"
#include "receivables.pb-c.h"
#include "receivables_handlers.h"
#include "receivables_store.h"

#define S_MAX_LINES 1000
#define S_MAX_DAYS 3650
#define S_MAX_TIME_MS 4102444800000LL   //  2100-01-01: later times are absurd

//  An applier: 0 applied, KT_EVENT_POISON (nothing written, or rolled back
//  by the wrapper), -1 database error (on pg).
typedef int(s_apply_fn)(kt_pg_t *pg, const ProtobufCMessage *msg, const kt_event_t *ev);

static int s_guarded(kt_pg_t *pg, const kt_event_t *ev, const ProtobufCMessageDescriptor *desc,
                     s_apply_fn *fn)
{
    char field[KT_FIELD_MAX + 1] = "", why[160] = "";
    ProtobufCMessage *msg =
        kt_msg_unpack(desc, ev->payload, ev->len, field, sizeof field, why, sizeof why);
    if (!msg) {
        kt_error("event %s #%llu %s does not decode (%s: %s); skipped", ev->producer,
                 (unsigned long long) ev->seq, ev->type, field, why);
        return KT_EVENT_POISON;
    }
    if (kt_pg_command(pg, "SAVEPOINT rcv_event") != 0) {
        kt_msg_free(msg);
        return KT_EVENT_FAILED;
    }
    int rc = fn(pg, msg, ev);
    kt_msg_free(msg);
    if (rc == 0)
        return kt_pg_command(pg, "RELEASE SAVEPOINT rcv_event") == 0 ? KT_EVENT_APPLIED
                                                                      : KT_EVENT_FAILED;
    if (rc < 0) {
        int status = kt_pg_status(pg);
        if (kt_pg_retryable(kt_pg_sqlstate(pg)) || status == KT_UNAVAILABLE
            || status == KT_DEADLINE_EXCEEDED || status == KT_RESOURCE_EXHAUSTED)
            return KT_EVENT_FAILED;
        kt_error("event %s #%llu %s refused by the database (sqlstate %s: %s); skipped",
                 ev->producer, (unsigned long long) ev->seq, ev->type, kt_pg_sqlstate(pg),
                 kt_pg_error(pg));
    }
    if (kt_pg_command(pg, "ROLLBACK TO SAVEPOINT rcv_event") != 0)
        return KT_EVENT_FAILED;
    return KT_EVENT_POISON;
}

//  Log why an event is skipped; returns KT_EVENT_POISON.
static int s_poison(const kt_event_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_poison(const kt_event_t *ev, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    kt_error("event %s #%llu %s cannot be applied: %s; skipped", ev->producer,
             (unsigned long long) ev->seq, ev->type, why);
    return KT_EVENT_POISON;
}

//  ---------------------------------------------------------------- clients

static int s_terms(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Clients__TermsChanged *msg = (const Kontor__Clients__TermsChanged *) m;
    const Kontor__Clients__Terms *t = msg->terms;
    if (!t || t->client_id <= 0)
        return s_poison(ev, "no terms or no client id");
    if (!t->credit_limit || !kt_currency_valid(t->credit_limit->currency)
        || t->credit_limit->units < 0)
        return s_poison(ev, "client %lld: credit limit missing, negative or without a currency",
                        (long long) t->client_id);
    if (t->payment_days < 0 || t->payment_days > S_MAX_DAYS || t->grace_days < 0
        || t->grace_days > S_MAX_DAYS)
        return s_poison(ev, "client %lld: payment days %d or grace days %d out of range",
                        (long long) t->client_id, t->payment_days, t->grace_days);
    if (t->manager_id < 0 || t->branch_id < 0)
        return s_poison(ev, "client %lld: negative manager or branch", (long long) t->client_id);
    rcv_account_t acct;
    int found = rcv_account_read(pg, t->client_id, true, &acct);
    if (found < 0)
        return -1;
    if (found == 0 && acct.currency[0] && strcmp(acct.currency, t->credit_limit->currency) != 0
        && (acct.invoiced || acct.paid || acct.credited || acct.reserved || acct.unapplied))
        return s_poison(ev, "client %lld has money booked in %s; terms in %s cannot apply",
                        (long long) t->client_id, acct.currency, t->credit_limit->currency);
    int64_t version = t->version > 0 ? t->version : 0;
    char b[8][24];
    const char *params[] = {rcv_i64(b[0], t->client_id),         t->credit_limit->currency,
                            rcv_i64(b[1], t->credit_limit->units), rcv_i64(b[2], t->payment_days),
                            rcv_i64(b[3], t->grace_days),          rcv_i64(b[4], t->status),
                            rcv_i64(b[5], t->manager_id),          rcv_i64(b[6], t->branch_id),
                            rcv_i64(b[7], version)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_terms_event, params);
    if (!res)
        return -1;
    PQclear(res);
    char detail[128];
    snprintf(detail, sizeof detail, "from clients v%lld: limit %lld %s, %d payment days, %d grace",
             (long long) t->version, (long long) t->credit_limit->units,
             t->credit_limit->currency, t->payment_days, t->grace_days);
    return rcv_history_add(pg, t->client_id, "terms", 0, 0, 0, t->credit_limit->units,
                           msg->changed_by, detail);
}

static int s_client(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Clients__ClientChanged *msg = (const Kontor__Clients__ClientChanged *) m;
    if (msg->client_id <= 0 || msg->manager_id < 0 || msg->branch_id < 0)
        return s_poison(ev, "client %lld: bad client, manager or branch id",
                        (long long) msg->client_id);
    char b[5][24];
    const char *params[] = {rcv_i64(b[0], msg->client_id), rcv_i64(b[1], msg->status),
                            rcv_i64(b[2], msg->manager_id), rcv_i64(b[3], msg->branch_id),
                            rcv_i64(b[4], msg->version > 0 ? msg->version : 0)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_client_event, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int receivables_on_terms_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__clients__terms_changed__descriptor, s_terms);
}

int receivables_on_client_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__clients__client_changed__descriptor, s_client);
}

//  ---------------------------------------------------------------- money in

//  Open (if need be) and lock the account money arrives for, in `currency`.
//  0 locked, KT_EVENT_POISON wrong currency, -1 database error.
static int s_account_for_money(kt_pg_t *pg, const kt_event_t *ev, int64_t client_id,
                               const char *currency, int64_t manager_id, rcv_account_t *acct)
{
    char b[2][24];
    const char *params[] = {rcv_i64(b[0], client_id), currency,
                            rcv_i64(b[1], manager_id > 0 ? manager_id : 0)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_account_ensure, params);
    if (!res)
        return -1;
    PQclear(res);
    if (rcv_account_read(pg, client_id, true, acct) != 0)
        return -1;
    if (strcmp(acct->currency, currency) != 0)
        return s_poison(ev, "client %lld is invoiced in %s, the event is in %s",
                        (long long) client_id, acct->currency, currency);
    return 0;
}

//  "{1,2,3}" of n values (caller frees); NULL when out of memory.
static char *s_array(const int64_t *v, size_t n)
{
    size_t size = 3 + n * 21;
    char *buf = malloc(size);
    if (!buf)
        return NULL;
    size_t used = (size_t) snprintf(buf, size, "{");
    for (size_t i = 0; i < n; i++)
        used += (size_t) snprintf(buf + used, size - used, "%s%lld", i ? "," : "",
                                  (long long) v[i]);
    snprintf(buf + used, size - used, "}");
    return buf;
}

static int s_dispatched(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Logistics__ShipmentDispatched *msg =
        (const Kontor__Logistics__ShipmentDispatched *) m;
    const Kontor__Logistics__Shipment *sh = msg->shipment;
    if (!sh || sh->shipment_id <= 0 || sh->order_id <= 0 || sh->client_id <= 0)
        return s_poison(ev, "no shipment, or no shipment, order or client id");
    if (!kt_currency_valid(sh->currency))
        return s_poison(ev, "shipment %lld: currency \"%s\" is not valid",
                        (long long) sh->shipment_id, sh->currency);
    if (sh->n_lines == 0 || sh->n_lines > S_MAX_LINES)
        return s_poison(ev, "shipment %lld has %zu lines", (long long) sh->shipment_id,
                        sh->n_lines);
    if (sh->changed_at_ms < 0 || sh->changed_at_ms >= S_MAX_TIME_MS)
        return s_poison(ev, "shipment %lld: dispatch time %lld out of range",
                        (long long) sh->shipment_id, (long long) sh->changed_at_ms);
    int64_t *sku = calloc(sh->n_lines, sizeof *sku);
    int64_t *qty = calloc(sh->n_lines, sizeof *qty);
    int64_t *price = calloc(sh->n_lines, sizeof *price);
    char *skus = NULL, *qtys = NULL, *prices = NULL;
    int rc = -1;
    if (!sku || !qty || !price)
        goto done;
    for (size_t i = 0; i < sh->n_lines; i++) {
        const Kontor__Logistics__ShipmentLine *l = sh->lines[i];
        if (l->sku <= 0 || l->qty <= 0 || l->unit_price < 0) {
            rc = s_poison(ev, "shipment %lld line %zu: sku %lld, qty %lld, price %lld",
                          (long long) sh->shipment_id, i, (long long) l->sku,
                          (long long) l->qty, (long long) l->unit_price);
            goto done;
        }
        sku[i] = l->sku;
        qty[i] = l->qty;
        price[i] = l->unit_price;
    }
    int64_t total;
    if (rcv_lines_total(qty, price, sh->n_lines, &total) != 0) {
        rc = s_poison(ev, "shipment %lld: the invoice total overflows", (long long) sh->shipment_id);
        goto done;
    }
    rcv_account_t acct;
    rc = s_account_for_money(pg, ev, sh->client_id, sh->currency, sh->manager_id, &acct);
    if (rc != 0)
        goto done;
    int64_t check;
    if (kt_add_i64(acct.invoiced, total, &check) != 0
        || kt_add_i64(acct.open_amount, total, &check) != 0) {
        rc = s_poison(ev, "client %lld: invoiced total would overflow", (long long) sh->client_id);
        goto done;
    }
    char b[6][24];
    const char *params[] = {rcv_i64(b[0], sh->client_id), rcv_i64(b[1], sh->order_id),
                            rcv_i64(b[2], sh->shipment_id), sh->currency, rcv_i64(b[3], total),
                            rcv_i64(b[4], sh->changed_at_ms), rcv_i64(b[5], acct.payment_days)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_invoice_insert, params);
    if (!res)
        goto done;
    if (PQntuples(res) == 0) {
        //  This dispatch has its invoice already.
        PQclear(res);
        rc = 0;
        goto done;
    }
    int64_t invoice_id = kt_pg_i64(res, 0, 0);
    char issued[11], due[11];
    snprintf(issued, sizeof issued, "%s", kt_pg_text(res, 0, 1));
    snprintf(due, sizeof due, "%s", kt_pg_text(res, 0, 2));
    PQclear(res);

    skus = s_array(sku, sh->n_lines);
    qtys = s_array(qty, sh->n_lines);
    prices = s_array(price, sh->n_lines);
    if (!skus || !qtys || !prices)
        goto done;
    char inv[24];
    const char *lparams[] = {rcv_i64(inv, invoice_id), skus, qtys, prices};
    res = kt_pg_exec(pg, &rcv_q_invoice_lines, lparams);
    if (!res)
        goto done;
    PQclear(res);

    //  The order's credit reservation becomes this invoice: its exposure
    //  leaves `reserved` as the invoice's enters `open_amount`.
    const char *rparams[] = {b[1], inv, b[0]};
    res = kt_pg_exec(pg, &rcv_q_resv_invoice, rparams);
    if (!res)
        goto done;
    int64_t reserved = PQntuples(res) == 1 ? kt_pg_i64(res, 0, 0) : 0;
    bool had_reservation = PQntuples(res) == 1;
    PQclear(res);

    //  Unapplied credit (an overpayment, a credit note) pays it at once.
    int64_t allocated = 0;
    if (acct.unapplied > 0 && total > 0
        && rcv_allocate_credit_to_invoice(pg, sh->client_id, invoice_id, &allocated) != 0)
        goto done;
    if (rcv_account_move(pg, sh->client_id, total, 0, 0, total - allocated, -allocated, -reserved)
        != 0)
        goto done;
    if (had_reservation
        && rcv_history_add(pg, sh->client_id, "invoiced", sh->order_id, reserved, 0, acct.limit,
                           "logistics", "the reservation became the open invoice")
               != 0)
        goto done;

    Kontor__Receivables__InvoiceIssued out = KONTOR__RECEIVABLES__INVOICE_ISSUED__INIT;
    Kontor__Money amount = KONTOR__MONEY__INIT;
    amount.units = total;
    amount.currency = (char *) sh->currency;
    out.invoice_id = invoice_id;
    out.client_id = sh->client_id;
    out.order_id = sh->order_id;
    out.shipment_id = sh->shipment_id;
    out.amount = &amount;
    out.issued = issued;
    out.due = due;
    if (kt_outbox_add(pg, "InvoiceIssued", &out.base) != 0)
        goto done;
    rc = 0;
done:
    free(skus);
    free(qtys);
    free(prices);
    free(sku);
    free(qty);
    free(price);
    return rc;
}

//  A credit note: reduces what the client owes, first on the invoices it
//  names (those of the order or shipment it comes from), the rest on the
//  client's other open invoices oldest due first, anything left as
//  unapplied credit. One per source (a return, a discrepancy act).
static int s_credit_note(kt_pg_t *pg, const kt_event_t *ev, int64_t client_id,
                         const char *currency, int64_t amount, const char *source,
                         int64_t source_id, int64_t order_id, int64_t shipment_id)
{
    rcv_account_t acct;
    int rc = s_account_for_money(pg, ev, client_id, currency, 0, &acct);
    if (rc != 0)
        return rc;
    int64_t check;
    if (kt_add_i64(acct.credited, amount, &check) != 0
        || kt_add_i64(acct.unapplied, amount, &check) != 0)
        return s_poison(ev, "client %lld: credited total would overflow", (long long) client_id);
    char b[5][24];
    const char *params[] = {rcv_i64(b[0], client_id), "credit_note", currency,
                            rcv_i64(b[1], amount),    acct.today,    NULL,
                            source,                   rcv_i64(b[2], source_id),
                            rcv_i64(b[3], order_id),  ev->producer};
    PGresult *res = kt_pg_exec(pg, &rcv_q_settlement_insert, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;       //  this source has its credit note already
    }
    int64_t note_id = kt_pg_i64(res, 0, 0);
    PQclear(res);

    //  The invoices it comes from.
    const char *iparams[] = {rcv_i64(b[4], shipment_id > 0 ? shipment_id : order_id), b[0]};
    res = kt_pg_exec(pg, shipment_id > 0 ? &rcv_q_invoice_of_shipment : &rcv_q_invoices_of_order,
                     iparams);
    if (!res)
        return -1;
    char named[1024];
    snprintf(named, sizeof named, "%s", kt_pg_text(res, 0, 0));
    PQclear(res);
    int64_t first = 0, rest = 0;
    size_t n = 0;
    if (strcmp(named, "{}") != 0
        && rcv_allocate(pg, client_id, note_id, acct.today, amount, named, NULL, 0, &n, &first)
               != 0)
        return -1;
    if (rcv_allocate(pg, client_id, note_id, acct.today, amount - first, NULL, NULL, 0, &n, &rest)
        != 0)
        return -1;
    int64_t allocated = first + rest;
    if (rcv_settlement_set_unapplied(pg, note_id, amount - allocated) != 0)
        return -1;
    if (rcv_account_move(pg, client_id, 0, 0, amount, -allocated, amount - allocated, 0) != 0)
        return -1;
    acct.open_amount -= allocated;
    bool lifted = false;
    if (rcv_hold_lift_if_clear(pg, &acct, NULL, ev->producer, &lifted) != 0)
        return -1;
    if (lifted && rcv_hold_event(pg, client_id, false, "the overdue invoices are paid", 0,
                                 currency) != 0)
        return -1;
    return 0;
}

static int s_discrepancy(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Logistics__DiscrepancyRecorded *msg =
        (const Kontor__Logistics__DiscrepancyRecorded *) m;
    if (msg->act_id <= 0 || msg->client_id <= 0 || msg->shipment_id <= 0)
        return s_poison(ev, "no act, client or shipment id");
    if (!kt_currency_valid(msg->currency))
        return s_poison(ev, "act %lld: currency \"%s\" is not valid", (long long) msg->act_id,
                        msg->currency);
    if (msg->n_lines == 0 || msg->n_lines > S_MAX_LINES)
        return s_poison(ev, "act %lld has %zu lines", (long long) msg->act_id, msg->n_lines);
    int64_t total = 0;
    for (size_t i = 0; i < msg->n_lines; i++) {
        const Kontor__Logistics__ShipmentLine *l = msg->lines[i];
        int64_t line;
        if (l->qty <= 0 || l->unit_price < 0 || kt_money_line(l->unit_price, l->qty, &line) != 0
            || kt_add_i64(total, line, &total) != 0)
            return s_poison(ev, "act %lld line %zu: qty %lld, price %lld, or the sum overflows",
                            (long long) msg->act_id, i, (long long) l->qty,
                            (long long) l->unit_price);
    }
    if (total == 0)
        return s_poison(ev, "act %lld credits nothing", (long long) msg->act_id);
    return s_credit_note(pg, ev, msg->client_id, msg->currency, total, "discrepancy",
                         msg->act_id, msg->order_id, msg->shipment_id);
}

static int s_return(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Orders__ReturnRecorded *msg = (const Kontor__Orders__ReturnRecorded *) m;
    if (msg->return_id <= 0 || msg->client_id <= 0 || msg->order_id <= 0)
        return s_poison(ev, "no return, client or order id");
    if (!kt_currency_valid(msg->currency))
        return s_poison(ev, "return %lld: currency \"%s\" is not valid",
                        (long long) msg->return_id, msg->currency);
    if (msg->amount <= 0)
        return s_poison(ev, "return %lld credits %lld", (long long) msg->return_id,
                        (long long) msg->amount);
    return s_credit_note(pg, ev, msg->client_id, msg->currency, msg->amount, "return",
                         msg->return_id, msg->order_id, 0);
}

int receivables_on_shipment_dispatched(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__logistics__shipment_dispatched__descriptor, s_dispatched);
}

int receivables_on_discrepancy_recorded(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__logistics__discrepancy_recorded__descriptor, s_discrepancy);
}

int receivables_on_return_recorded(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__orders__return_recorded__descriptor, s_return);
}

//  ---------------------------------------------------------------- orders' fate

static int s_confirmed(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Orders__OrderConfirmed *msg = (const Kontor__Orders__OrderConfirmed *) m;
    if (msg->order_id <= 0)
        return s_poison(ev, "no order id");
    //  The common case (a held reservation) in one statement; anything else
    //  as before.
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) msg->order_id);
    const char *params[] = {id, "orders"};
    PGresult *res = kt_pg_exec(pg, &rcv_q_confirm_fast, params);
    if (!res)
        return -1;
    bool slow = strcmp(kt_pg_text(res, 0, 0), "slow") == 0;
    PQclear(res);
    return slow ? rcv_credit_on_order(pg, msg->order_id, false, "orders") : 0;
}

static int s_cancelled(kt_pg_t *pg, const ProtobufCMessage *m, const kt_event_t *ev)
{
    const Kontor__Orders__OrderCancelled *msg = (const Kontor__Orders__OrderCancelled *) m;
    if (msg->order_id <= 0)
        return s_poison(ev, "no order id");
    return rcv_credit_on_order(pg, msg->order_id, true, "orders");
}

int receivables_on_order_confirmed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__orders__order_confirmed__descriptor, s_confirmed);
}

int receivables_on_order_cancelled(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    return s_guarded(pg, ev, &kontor__orders__order_cancelled__descriptor, s_cancelled);
}
