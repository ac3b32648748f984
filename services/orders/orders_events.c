/*  orders_events - what orders keeps from other services' events, each
 *  applied inside the consumer's transaction (exactly once, in order):
 *
 *    clients.TermsChanged, ClientChanged   -> client_terms (never older)
 *    receivables.CreditHoldChanged         -> client_terms.on_hold
 *    logistics.StockChanged                -> stock_seen; back-orders marked ready
 *    logistics.Shipment*                   -> shipments; the order's status follows
 */
#include <stdlib.h>
#include <string.h>

#include "clients.pb-c.h"
#include "kt_log.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"
#include "receivables.pb-c.h"

static ProtobufCMessage *s_unpack(const ProtobufCMessageDescriptor *desc, const kt_event_t *ev)
{
    char why[160];
    ProtobufCMessage *msg = kt_msg_unpack(desc, ev->payload, ev->len, NULL, 0, why, sizeof why);
    if (!msg)
        kt_warn("event %s #%llu does not decode: %s", ev->type, (unsigned long long) ev->seq,
                why);
    return msg;
}

static int s_exec(kt_pg_t *pg, const kt_stmt_t *stmt, const char *const *params)
{
    PGresult *res = kt_pg_exec(pg, stmt, params);
    if (!res)
        return KT_EVENT_FAILED;
    PQclear(res);
    return KT_EVENT_APPLIED;
}

static int s_terms(kt_pg_t *pg, const Kontor__Clients__Terms *t)
{
    if (!t || t->client_id <= 0)
        return KT_EVENT_POISON;
    char id[24], disc[16], pay[16], limit[24], policy[8], st[8], mgr[24], branch[24],
        version[24];
    snprintf(id, sizeof id, "%lld", (long long) t->client_id);
    snprintf(disc, sizeof disc, "%d", t->discount_bp < 0 ? 0 : t->discount_bp);
    snprintf(pay, sizeof pay, "%d", t->payment_days);
    snprintf(limit, sizeof limit, "%lld",
             (long long) (t->credit_limit ? t->credit_limit->units : 0));
    snprintf(policy, sizeof policy, "%d", (int) t->short_policy);
    snprintf(st, sizeof st, "%d", (int) t->status);
    snprintf(mgr, sizeof mgr, "%lld", (long long) t->manager_id);
    snprintf(branch, sizeof branch, "%lld", (long long) t->branch_id);
    snprintf(version, sizeof version, "%lld", (long long) t->version);
    const char *params[] = {id, t->price_column, disc, pay, limit,
                            t->credit_limit ? t->credit_limit->currency : "",
                            policy, st, mgr, branch, version};
    return s_exec(pg, &orders_sql_terms_upsert, params);
}

static int s_on_terms_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Clients__TermsChanged *m =
        (Kontor__Clients__TermsChanged *) s_unpack(&kontor__clients__terms_changed__descriptor, ev);
    if (!m)
        return KT_EVENT_POISON;
    int rc = s_terms(pg, m->terms);
    kt_msg_free(&m->base);
    return rc;
}

static int s_on_client_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Clients__ClientChanged *m =
        (Kontor__Clients__ClientChanged *) s_unpack(&kontor__clients__client_changed__descriptor, ev);
    if (!m)
        return KT_EVENT_POISON;
    char id[24], st[8], mgr[24], branch[24], version[24];
    snprintf(id, sizeof id, "%lld", (long long) m->client_id);
    snprintf(st, sizeof st, "%d", (int) m->status);
    snprintf(mgr, sizeof mgr, "%lld", (long long) m->manager_id);
    snprintf(branch, sizeof branch, "%lld", (long long) m->branch_id);
    snprintf(version, sizeof version, "%lld", (long long) m->version);
    const char *params[] = {id, st, mgr, branch, version};
    int rc = s_exec(pg, &orders_sql_client_changed, params);
    kt_msg_free(&m->base);
    return rc;
}

static int s_on_credit_hold(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Receivables__CreditHoldChanged *m = (Kontor__Receivables__CreditHoldChanged *) s_unpack(
        &kontor__receivables__credit_hold_changed__descriptor, ev);
    if (!m)
        return KT_EVENT_POISON;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) m->client_id);
    const char *params[] = {id, m->on_hold ? "t" : "f"};
    int rc = s_exec(pg, &orders_sql_credit_hold, params);
    kt_msg_free(&m->base);
    return rc;
}

static int s_on_stock_changed(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    Kontor__Logistics__StockChanged *m =
        (Kontor__Logistics__StockChanged *) s_unpack(&kontor__logistics__stock_changed__descriptor, ev);
    if (!m)
        return KT_EVENT_POISON;
    int rc = KT_EVENT_APPLIED;
    size_t n = m->n_items;
    if (n > 0) {
        int64_t *v = calloc(n * 2, sizeof *v);
        if (!v) {
            kt_msg_free(&m->base);
            return KT_EVENT_FAILED;
        }
        for (size_t i = 0; i < n; i++) {
            v[i] = m->items[i]->sku;
            v[n + i] = m->items[i]->qty;
        }
        char wh[24];
        snprintf(wh, sizeof wh, "%lld", (long long) m->warehouse_id);
        char *skus = orders_sql_i64s(v, n), *qtys = orders_sql_i64s(v + n, n);
        const char *p1[] = {wh, skus, qtys};
        const char *p2[] = {wh, skus};
        rc = KT_EVENT_FAILED;
        PGresult *res = skus && qtys ? kt_pg_exec(pg, &orders_sql_stock_seen, p1) : NULL;
        if (res) {
            bool waiting = strcmp(kt_pg_text(res, 0, 0), "t") == 0;
            PQclear(res);
            rc = waiting ? s_exec(pg, &orders_sql_bo_mark, p2) : KT_EVENT_APPLIED;
        }
        free(skus);
        free(qtys);
        free(v);
    }
    kt_msg_free(&m->base);
    return rc;
}

static int s_shipment(kt_pg_t *pg, const Kontor__Logistics__Shipment *s)
{
    if (!s || s->shipment_id <= 0 || s->order_id <= 0)
        return KT_EVENT_POISON;
    size_t n = s->n_lines;
    int64_t *v = calloc(n * 2 + 1, sizeof *v);
    if (!v)
        return KT_EVENT_FAILED;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = s->lines[i]->sku;
        v[n + i] = s->lines[i]->qty;
        total += s->lines[i]->qty;
    }
    char sid[24], oid[24], st[8], qty[24], at[24];
    snprintf(sid, sizeof sid, "%lld", (long long) s->shipment_id);
    snprintf(oid, sizeof oid, "%lld", (long long) s->order_id);
    snprintf(st, sizeof st, "%d", (int) s->status);
    snprintf(qty, sizeof qty, "%lld", (long long) total);
    snprintf(at, sizeof at, "%lld", (long long) (s->changed_at_ms ? s->changed_at_ms : kt_wall_ms()));
    //  One statement: the copy, its lines and the order's status.
    char *skus = orders_sql_i64s(v, n), *qtys = orders_sql_i64s(v + n, n);
    const char *params[] = {sid, oid, st, qty, at, skus, qtys};
    int rc = skus && qtys ? s_exec(pg, &orders_sql_ship_event, params) : KT_EVENT_FAILED;
    free(skus);
    free(qtys);
    free(v);
    return rc;
}

//  Every Shipment* event carries the shipment as it is now.
#define S_SHIPMENT_HANDLER(name, type, desc)                                                   \
    static int name(kt_pg_t *pg, const kt_event_t *ev, void *arg)                              \
    {                                                                                          \
        type *m = (type *) s_unpack(&desc, ev);                                                \
        if (!m)                                                                                \
            return KT_EVENT_POISON;                                                            \
        int rc = s_shipment(pg, m->shipment);                                                  \
        kt_msg_free(&m->base);                                                                 \
        return rc;                                                                             \
    }

S_SHIPMENT_HANDLER(s_on_requested, Kontor__Logistics__ShipmentRequested,
                   kontor__logistics__shipment_requested__descriptor)
S_SHIPMENT_HANDLER(s_on_dispatched, Kontor__Logistics__ShipmentDispatched,
                   kontor__logistics__shipment_dispatched__descriptor)
S_SHIPMENT_HANDLER(s_on_delivered, Kontor__Logistics__ShipmentDelivered,
                   kontor__logistics__shipment_delivered__descriptor)
S_SHIPMENT_HANDLER(s_on_cancelled, Kontor__Logistics__ShipmentCancelled,
                   kontor__logistics__shipment_cancelled__descriptor)

static const kt_event_handler_t s_clients[] = {
    {"TermsChanged", s_on_terms_changed},
    {"ClientChanged", s_on_client_changed},
    {NULL, NULL},
};

static const kt_event_handler_t s_logistics[] = {
    {"StockChanged", s_on_stock_changed},
    {"ShipmentRequested", s_on_requested},
    {"ShipmentDispatched", s_on_dispatched},
    {"ShipmentDelivered", s_on_delivered},
    {"ShipmentCancelled", s_on_cancelled},
    {NULL, NULL},
};

static const kt_event_handler_t s_receivables[] = {
    {"CreditHoldChanged", s_on_credit_hold},
    {NULL, NULL},
};

const kt_subscription_t orders_subscriptions[] = {
    {"clients", s_clients},
    {"logistics", s_logistics},
    {"receivables", s_receivables},
    {NULL, NULL},
};
