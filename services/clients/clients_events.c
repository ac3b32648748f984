/*  clients_events - what the clients service keeps from other services'
 *  events, applied by the framework's consumers (kt_events.h), each inside
 *  the consumer's transaction with the stream's offset.
 *
 *  orders.OrderConfirmed: one order_facts row per order (last orders on the
 *  card, plan actuals). A prospect that gets a confirmed order becomes
 *  active and, as the sales department's rules say, moves to the lead
 *  manager of its territory (or of its branch): the assignment is kept in
 *  the history and ClientChanged is written.
 *  receivables.InvoiceIssued / PaymentRecorded: a per-client, per-currency
 *  balance summary.
 *
 *  Applying twice is a no-op twice over: the consumer's offset, and a key per
 *  business document (order id, invoice id, payment id), so that a
 *  duplicated event (the same order under two sequence numbers) or a replay
 *  from a reset offset changes nothing.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clients_util.h"
#include "kt_log.h"
#include "kt_money.h"
#include "kt_wire.h"
#include "orders.pb-c.h"
#include "receivables.pb-c.h"

//  Unpack an event's payload strictly; NULL (logged) when it cannot be.
static ProtobufCMessage *s_unpack(const ProtobufCMessageDescriptor *desc, const kt_event_t *ev)
{
    char field[KT_FIELD_MAX + 1], why[256];
    ProtobufCMessage *msg =
        kt_msg_unpack(desc, ev->payload, ev->len, field, sizeof field, why, sizeof why);
    if (!msg)
        kt_warn("%s #%" PRIu64 " %s does not decode: %s %s", ev->producer, ev->seq, ev->type, field,
                why);
    return msg;
}

//  A prospect's first confirmed order: active, and to the territory's lead.
static int s_activate(kt_pg_t *pg, int64_t client_id, int64_t order_id)
{
    char id[24], to[24], from[24], why[64];
    const char *p1[] = {clients_i64(id, client_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_first_order_target, p1);
    if (!res)
        return KT_EVENT_FAILED;
    //  Orders for a client this service does not know: nothing to move.
    if (PQntuples(res) == 0 || strcmp(kt_pg_text(res, 0, 0), "prospect") != 0) {
        PQclear(res);
        return KT_EVENT_APPLIED;
    }
    int64_t old = kt_pg_i64(res, 0, 1), target = kt_pg_i64(res, 0, 2);
    PQclear(res);
    const char *p2[] = {id, clients_i64(to, target)};
    if (!(res = kt_pg_exec(pg, &clients_sql_client_activate, p2)))
        return KT_EVENT_FAILED;
    if (target != old) {
        snprintf(why, sizeof why, "first confirmed order %" PRId64, order_id);
        const char *p3[] = {id, clients_i64(from, old), to, "orders", why};
        PGresult *ins = kt_pg_exec(pg, &clients_sql_assignment_insert, p3);
        if (!ins) {
            PQclear(res);
            return KT_EVENT_FAILED;
        }
        PQclear(ins);
    }
    int rc = clients_emit_changed(pg, res) == 0 ? KT_EVENT_APPLIED : KT_EVENT_FAILED;
    PQclear(res);
    return rc;
}

int clients_on_order_confirmed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Orders__OrderConfirmed *oc = (Kontor__Orders__OrderConfirmed *)s_unpack(
        &kontor__orders__order_confirmed__descriptor, ev);
    if (!oc)
        return KT_EVENT_POISON;
    int rc = KT_EVENT_POISON;
    if (oc->order_id <= 0 || oc->client_id <= 0 || oc->manager_id < 0 || oc->branch_id < 0 ||
        !kt_currency_valid(oc->currency) || oc->total < 0) {
        kt_warn("orders #%" PRIu64 " OrderConfirmed has an invalid order, client, amount"
                " or currency; skipped",
                ev->seq);
        goto done;
    }
    char order[24], client[24], manager[24], branch[24], total[24], at[24], seq[24];
    int64_t at_ms = oc->confirmed_at_ms > 0 ? oc->confirmed_at_ms : ev->time_ms;
    const char *p[] = {clients_i64(order, oc->order_id),
                       clients_i64(client, oc->client_id),
                       clients_i64(manager, oc->manager_id),
                       clients_i64(branch, oc->branch_id),
                       oc->currency,
                       clients_i64(total, oc->total),
                       clients_i64(at, at_ms),
                       clients_i64(seq, (int64_t)ev->seq)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_fact_insert, p);
    if (!res) {
        rc = KT_EVENT_FAILED;
        goto done;
    }
    bool fresh = PQntuples(res) > 0;
    PQclear(res);
    rc = fresh ? s_activate(pg, oc->client_id, oc->order_id) : KT_EVENT_APPLIED;
done:
    kt_msg_free(&oc->base);
    return rc;
}

//  One receivables document, once: its row, then the client's summary.
static int s_document(kt_pg_t *pg, const kt_event_t *ev, const char *kind, int64_t doc_id,
                      int64_t client_id, const Kontor__Money *amount)
{
    if (doc_id <= 0 || client_id <= 0 || !amount || !kt_currency_valid(amount->currency) ||
        amount->units < 0) {
        kt_warn("receivables #%" PRIu64 " %s has an invalid document, client or amount; skipped",
                ev->seq, ev->type);
        return KT_EVENT_POISON;
    }
    char doc[24], client[24], units[24], at[24];
    const char *p[] = {kind, clients_i64(doc, doc_id), clients_i64(client, client_id),
                       clients_i64(units, amount->units), amount->currency};
    PGresult *res = kt_pg_exec(pg, &clients_sql_doc_insert, p);
    if (!res)
        return KT_EVENT_FAILED;
    bool fresh = PQntuples(res) > 0;
    PQclear(res);
    if (!fresh)
        return KT_EVENT_APPLIED;
    const char *b[] = {client, amount->currency, units, clients_i64(at, ev->time_ms)};
    res = kt_pg_exec(pg,
                     strcmp(kind, "invoice") == 0 ? &clients_sql_balance_invoiced
                                                  : &clients_sql_balance_paid,
                     b);
    if (!res) {
        //  A sum past bigint cannot be kept, ever: skip it rather than stall.
        return strcmp(kt_pg_sqlstate(pg), "22003") == 0 ? KT_EVENT_POISON : KT_EVENT_FAILED;
    }
    PQclear(res);
    return KT_EVENT_APPLIED;
}

int clients_on_invoice_issued(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Receivables__InvoiceIssued *m = (Kontor__Receivables__InvoiceIssued *)s_unpack(
        &kontor__receivables__invoice_issued__descriptor, ev);
    if (!m)
        return KT_EVENT_POISON;
    int rc = s_document(pg, ev, "invoice", m->invoice_id, m->client_id, m->amount);
    kt_msg_free(&m->base);
    return rc;
}

int clients_on_payment_recorded(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Receivables__PaymentRecorded *m = (Kontor__Receivables__PaymentRecorded *)s_unpack(
        &kontor__receivables__payment_recorded__descriptor, ev);
    if (!m)
        return KT_EVENT_POISON;
    int rc = s_document(pg, ev, "payment", m->payment_id, m->client_id, m->amount);
    kt_msg_free(&m->base);
    return rc;
}
