/*  orders_server - the orders service: its method table and process hooks.
 *
 *  Every service also answers Status, EventsSince and Describe (kt_service.c).
 *  Roles: managers act for their own clients only (the client's manager in
 *  its terms); heads and admins for everyone. The dispatcher checks the
 *  roles, the deadline and the idempotency key before a handler runs.
 */
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "orders_internal.h"
#include "orders_server.h"

extern const kt_migration_t orders_migrations[];

#define S_SELLERS (KT_ROLE_MANAGER | KT_ROLE_HEAD | KT_ROLE_ADMIN)
#define S_HEADS (KT_ROLE_HEAD | KT_ROLE_ADMIN)
#define S_M(name, type) &kontor__orders__##type##__descriptor

//  Methods of this service.
static const kt_method_t s_methods[] = {
    {"Quote", S_M(q, quote_request), S_M(q, quote_reply), S_SELLERS | KT_ROLE_SERVICE, KT_M_READ,
     orders_quote, "prices, promotions, availability, credit and suggestions; changes nothing"},
    {"PlaceOrder", S_M(p, place_order_request), S_M(p, place_order_reply),
     S_SELLERS | KT_ROLE_SERVICE, KT_M_WRITE | KT_M_NEEDS_KEY, orders_place,
     "place an order: reserve credit and stock, confirm, or keep it waiting with its reason"},
    {"GetOrder", S_M(g, order_ref), S_M(g, order_reply), S_SELLERS | KT_ROLE_SERVICE, KT_M_READ,
     orders_get, "an order with its lines"},
    {"ListOrders", S_M(l, list_orders_request), S_M(l, list_orders_reply),
     S_SELLERS | KT_ROLE_SERVICE, KT_M_READ, orders_list,
     "orders, newest first, by client, status and period; keyset pages"},
    {"Approve", S_M(a, order_ref), S_M(a, order_reply), S_HEADS, KT_M_WRITE, orders_approve,
     "approve an order waiting for a head: its reservations go through with the approval"},
    {"Reject", S_M(r, order_ref), S_M(r, order_reply), S_HEADS, KT_M_WRITE, orders_reject,
     "reject an order waiting for a head"},
    {"Cancel", S_M(c, order_ref), S_M(c, order_reply), S_SELLERS, KT_M_WRITE, orders_cancel,
     "cancel an order not yet dispatched; its reservations are released"},
    {"RecordReturn", S_M(rr, record_return_request), S_M(rr, record_return_reply), S_SELLERS,
     KT_M_WRITE | KT_M_NEEDS_KEY, orders_record_return,
     "a return or refusal with its reason: receivables issues the credit note"},
    {"SalesReport", S_M(s, report_request), S_M(s, report_reply), S_SELLERS, KT_M_READ,
     orders_sales_report, "sales by manager, client, SKU or branch for a period"},
    {"ReturnsReport", S_M(rr, report_request), S_M(rr, report_reply), S_SELLERS, KT_M_READ,
     orders_returns_report, "returns and refusals by reason, manager, client or SKU"},
    {"OrderStats", S_M(os, order_stats_request), S_M(os, order_stats_reply), S_SELLERS,
     KT_M_READ, orders_stats, "orders and shipments statistics for a period"},
    {"UpsertPriceList", S_M(u, upsert_price_list_request), S_M(u, upsert_price_list_reply),
     S_HEADS, KT_M_WRITE, orders_upsert_price_list, "create or change a price list"},
    {"SetPrices", S_M(sp, set_prices_request), S_M(sp, set_prices_reply), S_HEADS, KT_M_WRITE,
     orders_set_prices, "set many SKUs' prices per column in one call"},
    {"UpsertPromotion", S_M(up, upsert_promotion_request), S_M(up, upsert_promotion_reply),
     S_HEADS, KT_M_WRITE, orders_upsert_promotion, "create or change a promotion"},
    {"ListPromotions", S_M(lp, list_promotions_request), S_M(lp, list_promotions_reply),
     S_SELLERS, KT_M_READ, orders_list_promotions, "promotions"},
    {"SetDiscountAuthority", S_M(sa, set_discount_authority_request),
     S_M(sa, set_discount_authority_reply), S_HEADS, KT_M_WRITE, orders_set_authority,
     "the largest extra discount a role may give without approval"},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

typedef struct {
    orders_conf_t conf;
    zactor_t *sweeper;
} s_shared_t;

static int s_env_int(const char *name, int fallback, int min, int max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max) {
        kt_warn("%s is not a number in [%d, %d]; using %d", name, min, max, fallback);
        return fallback;
    }
    return (int) n;
}

const orders_conf_t *orders_conf(kt_service_t *svc)
{
    return &((s_shared_t *) kt_service_shared(svc))->conf;
}

static int s_start(kt_service_t *svc)
{
    s_shared_t *shared = calloc(1, sizeof *shared);
    if (!shared)
        return -1;
    shared->conf.max_lines = (size_t) s_env_int("KONTOR_ORDERS_MAX_LINES", 200, 1, 1000);
    shared->conf.hold_s = (uint32_t) s_env_int("KONTOR_ORDERS_HOLD_S", 900, 60, 86400);
    shared->conf.pending_timeout_s = s_env_int("KONTOR_ORDERS_PENDING_TIMEOUT_S", 30, 1, 3600);
    shared->conf.call_ms = s_env_int("KONTOR_ORDERS_CALL_MS", 5000, 500, 60000);
    shared->conf.sweep_ms = s_env_int("KONTOR_ORDERS_SWEEP_MS", 200, 10, 60000);
    shared->conf.confirm_after_s = s_env_int("KONTOR_ORDERS_CONFIRM_AFTER_S", 30, 0, 3600);
    kt_service_set_shared(svc, shared);
    shared->sweeper = orders_sweeper_new(svc);
    if (!shared->sweeper) {
        kt_service_set_shared(svc, NULL);
        free(shared);
        return -1;
    }
    return 0;
}

static void s_stop(kt_service_t *svc)
{
    s_shared_t *shared = kt_service_shared(svc);
    if (!shared)
        return;
    zactor_destroy(&shared->sweeper);
    kt_service_set_shared(svc, NULL);
    free(shared);
}

kt_client_t *orders_rpc2(const kt_call_t *call)
{
    const orders_worker_t *w = call->local;
    return w ? w->rpc2 : NULL;
}

static void *s_worker_new(kt_service_t *svc, kt_pg_t *pg)
{
    orders_worker_t *w = calloc(1, sizeof *w);
    if (w) {
        //  Without it the worker calls out one call at a time.
        w->rpc2 = kt_client_new(kt_service_config(svc));
        if (!w->rpc2)
            kt_warn("no second bus client for a worker; credit and stock are asked in turn");
    }
    return w;
}

static void s_worker_destroy(void **local_p)
{
    orders_worker_t *w = *local_p;
    if (w) {
        free(w->promos);
        kt_client_destroy(&w->rpc2);
    }
    free(w);
    *local_p = NULL;
}

const kt_service_def_t orders_service = {
    .name = "orders",
    .methods = s_methods,
    .migrations = orders_migrations,
    .uses_redis = true,
    .consumes = orders_subscriptions,
    .start = s_start,
    .stop = s_stop,
    .worker_new = s_worker_new,
    .worker_destroy = s_worker_destroy,
};
