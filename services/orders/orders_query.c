/*  orders_query - reading: GetOrder, ListOrders (keyset pagination, newest
 *  first), SalesReport, ReturnsReport and OrderStats for the monthly report.
 *
 *  Managers see their own: an order's manager is the client's manager when
 *  it was placed; lists and reports are filtered to the caller's manager id.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kt_status.h"
#include "kt_validate.h"
#include "orders_internal.h"

#define S_PAGE_DEFAULT 50
#define S_PAGE_MAX 200

int orders_get(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__OrderRef *req = (const Kontor__Orders__OrderRef *) msg;
    char why[128];
    if (kt_check_id("order_id", req->order_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "order_id", NULL, "%s", why);
    orders_order_t o;
    int found = orders_order_load(call->pg, req->order_id, &o);
    if (found < 0)
        return kt_call_fail_pg(call, "read the order");
    if (found == 0)
        return kt_call_fail(call, KT_NOT_FOUND, "order_id", "unknown_order",
                            "order %lld does not exist", (long long) req->order_id);
    int rc;
    if (!kt_call_acts_for(call, o.manager_id))
        rc = kt_call_fail(call, KT_PERMISSION_DENIED, "order_id", "not_owner",
                          "order %lld belongs to another manager", (long long) req->order_id);
    else {
        orders_arena_t *arena = orders_arena_new();
        Kontor__Orders__OrderReply rep = KONTOR__ORDERS__ORDER_REPLY__INIT;
        rep.order = arena ? orders_order_pb(&o, arena) : NULL;
        rc = rep.order ? kt_call_reply(call, &rep.base)
                       : kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        orders_arena_destroy(&arena);
    }
    orders_order_clear(&o);
    return rc;
}

//  A date field: "" (open) or a valid date. 0, or -1 after replying.
static int s_date_or_reply(kt_call_t *call, const char *field, const char *value)
{
    char why[128];
    int32_t days;
    if (value[0] && kt_check_date(field, value, &days, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, field, NULL, "%s", why);
    return 0;
}

//  Managers see only their own; others whom they name (0: everyone).
static int64_t s_scope(const kt_call_t *call, int64_t asked)
{
    return call->caller->kind == KT_KIND_MANAGER ? call->caller->manager_id : asked;
}

int orders_list(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__ListOrdersRequest *req =
        (const Kontor__Orders__ListOrdersRequest *) msg;
    if (req->client_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL,
                            "client_id must not be negative: %lld", (long long) req->client_id);
    if (s_date_or_reply(call, "from", req->from) != 0 || s_date_or_reply(call, "to", req->to) != 0)
        return -1;
    if (req->page_size > S_PAGE_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "page_size", NULL,
                            "page size must be at most %d: %u", S_PAGE_MAX, req->page_size);
    char after_us[24] = "", after_id[24] = "";
    if (req->page_token[0]) {
        long long us, id;
        char extra;
        if (sscanf(req->page_token, "%lld:%lld%c", &us, &id, &extra) != 2 || id <= 0)
            return kt_call_fail(call, KT_INVALID_ARGUMENT, "page_token", NULL,
                                "page token is not one this service gave");
        snprintf(after_us, sizeof after_us, "%lld", us);
        snprintf(after_id, sizeof after_id, "%lld", id);
    }
    uint32_t size = req->page_size ? req->page_size : S_PAGE_DEFAULT;
    char client[24], mgr[24], status[8], limit[8];
    snprintf(client, sizeof client, "%lld", (long long) req->client_id);
    snprintf(mgr, sizeof mgr, "%lld", (long long) s_scope(call, 0));
    snprintf(status, sizeof status, "%d", (int) req->status);
    snprintf(limit, sizeof limit, "%u", size + 1);
    const char *params[] = {client, mgr, status, req->from[0] ? req->from : NULL,
                            req->to[0] ? req->to : NULL, after_us[0] ? after_us : NULL,
                            after_id[0] ? after_id : NULL, limit};
    PGresult *res = kt_pg_exec(
        call->pg, req->client_id > 0 ? &orders_sql_list_client : &orders_sql_list, params);
    if (!res)
        return kt_call_fail_pg(call, "list orders");
    int rows = PQntuples(res);
    bool more = rows > (int) size;
    if (more)
        rows = (int) size;
    orders_order_t *os = calloc((size_t) (rows ? rows : 1), sizeof *os);
    orders_arena_t *arena = orders_arena_new();
    Kontor__Orders__ListOrdersReply rep = KONTOR__ORDERS__LIST_ORDERS_REPLY__INIT;
    rep.orders = arena ? orders_arena_alloc(arena, sizeof *rep.orders * (size_t) (rows + 1))
                       : NULL;
    int rc = 0;
    char token[64] = "";
    if (!os || !rep.orders) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    for (int r = 0; r < rows; r++) {
        if (orders_order_row(res, r, &os[r]) != 0) {
            rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto done;
        }
        if (req->with_lines) {
            orders_order_t full;
            if (orders_order_load(call->pg, os[r].order_id, &full) > 0) {
                orders_order_clear(&os[r]);
                os[r] = full;
            }
        }
        rep.orders[rep.n_orders] = orders_order_pb(&os[r], arena);
        if (!rep.orders[rep.n_orders]) {
            rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
            goto done;
        }
        rep.n_orders++;
    }
    if (more && rows > 0)
        snprintf(token, sizeof token, "%lld:%lld", (long long) os[rows - 1].created_us,
                 (long long) os[rows - 1].order_id);
    rep.next_page_token = token;
    rc = kt_call_reply(call, &rep.base);
done:
    for (int r = 0; os && r < rows; r++)
        orders_order_clear(&os[r]);
    free(os);
    orders_arena_destroy(&arena);
    PQclear(res);
    return rc;
}

//  ---------------------------------------------------------------- reports

static int s_period_or_reply(kt_call_t *call, const char *from, const char *to)
{
    char why[128];
    int32_t f, t;
    if (kt_check_date("from", from, &f, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "from", NULL, "%s", why);
    if (kt_check_date("to", to, &t, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "to", NULL, "%s", why);
    if (t < f)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "to", NULL,
                            "the period ends before it starts: %s to %s", from, to);
    return 0;
}

static int s_report(kt_call_t *call, const Kontor__Orders__ReportRequest *req,
                    const kt_stmt_t *stmt, bool returns)
{
    if (s_period_or_reply(call, req->from, req->to) != 0)
        return -1;
    int g = (int) req->group;
    bool ok = returns ? (g == 1 || g == 2 || g == 3 || g == 5) : (g >= 1 && g <= 4);
    if (!ok)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "group", NULL,
                            "a report is grouped by %s", returns
                                ? "manager, client, SKU or reason"
                                : "manager, client, SKU or branch");
    if (req->manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "manager_id must not be negative: %lld",
                            (long long) req->manager_id);
    char group[8], mgr[24];
    snprintf(group, sizeof group, "%d", g);
    snprintf(mgr, sizeof mgr, "%lld", (long long) s_scope(call, req->manager_id));
    const char *params[] = {req->from, req->to, group, mgr};
    PGresult *res = kt_pg_exec(call->pg, stmt, params);
    if (!res)
        return kt_call_fail_pg(call, "make the report");
    int n = PQntuples(res);
    Kontor__Orders__ReportRow *rows = calloc((size_t) (n ? n : 1), sizeof *rows);
    Kontor__Orders__ReportRow **rp = calloc((size_t) (n ? n : 1), sizeof *rp);
    int rc;
    if (!rows || !rp) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    Kontor__Orders__ReportReply rep = KONTOR__ORDERS__REPORT_REPLY__INIT;
    for (int r = 0; r < n; r++) {
        kontor__orders__report_row__init(&rows[r]);
        rows[r].key = kt_pg_i64(res, r, 0);
        rows[r].orders = kt_pg_i64(res, r, 1);
        kt_pg_i64_checked(res, r, 2, &rows[r].qty);
        if (kt_pg_i64_checked(res, r, 3, &rows[r].amount) != 0
            || kt_pg_i64_checked(res, r, 5, &rows[r].list_amount) != 0) {
            rc = kt_call_fail(call, KT_OUT_OF_RANGE, NULL, NULL,
                              "the report's sums are too large; ask for a shorter period");
            goto done;
        }
        rows[r].currency = (char *) kt_pg_text(res, r, 4);
        if (kt_add_i64(rep.total_amount, rows[r].amount, &rep.total_amount) != 0) {
            rc = kt_call_fail(call, KT_OUT_OF_RANGE, NULL, NULL,
                              "the report's sums are too large; ask for a shorter period");
            goto done;
        }
        rep.total_orders += rows[r].orders;
        rp[r] = &rows[r];
    }
    rep.rows = rp;
    rep.n_rows = (size_t) n;
    rc = kt_call_reply(call, &rep.base);
done:
    free(rows);
    free(rp);
    PQclear(res);
    return rc;
}

int orders_sales_report(kt_call_t *call, const ProtobufCMessage *msg)
{
    return s_report(call, (const Kontor__Orders__ReportRequest *) msg, &orders_sql_sales_report,
                    false);
}

int orders_returns_report(kt_call_t *call, const ProtobufCMessage *msg)
{
    return s_report(call, (const Kontor__Orders__ReportRequest *) msg,
                    &orders_sql_returns_report, true);
}

int orders_stats(kt_call_t *call, const ProtobufCMessage *msg)
{
    const Kontor__Orders__OrderStatsRequest *req =
        (const Kontor__Orders__OrderStatsRequest *) msg;
    if (s_period_or_reply(call, req->from, req->to) != 0)
        return -1;
    char mgr[24];
    snprintf(mgr, sizeof mgr, "%lld", (long long) s_scope(call, req->manager_id));
    const char *params[] = {req->from, req->to, mgr};
    PGresult *res = kt_pg_exec(call->pg, &orders_sql_stats_status, params);
    if (!res)
        return kt_call_fail_pg(call, "count orders");
    PGresult *tot = kt_pg_exec(call->pg, &orders_sql_stats_totals, params);
    if (!tot) {
        PQclear(res);
        return kt_call_fail_pg(call, "count orders");
    }
    int n = PQntuples(res);
    Kontor__Orders__StatusCount *sc = calloc((size_t) (n ? n : 1), sizeof *sc);
    Kontor__Orders__StatusCount **scp = calloc((size_t) (n ? n : 1), sizeof *scp);
    int rc;
    if (!sc || !scp) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto done;
    }
    Kontor__Orders__OrderStatsReply rep = KONTOR__ORDERS__ORDER_STATS_REPLY__INIT;
    for (int r = 0; r < n; r++) {
        kontor__orders__status_count__init(&sc[r]);
        sc[r].status = (Kontor__Orders__OrderStatus) kt_pg_i64(res, r, 0);
        sc[r].orders = kt_pg_i64(res, r, 1);
        kt_pg_i64_checked(res, r, 2, &sc[r].amount);
        scp[r] = &sc[r];
    }
    rep.by_status = scp;
    rep.n_by_status = (size_t) n;
    rep.orders = kt_pg_i64(tot, 0, 0);
    kt_pg_i64_checked(tot, 0, 1, &rep.lines);
    kt_pg_i64_checked(tot, 0, 2, &rep.confirmed_amount);
    rep.shipments = kt_pg_i64(tot, 0, 3);
    rep.shipments_dispatched = kt_pg_i64(tot, 0, 4);
    rep.shipments_delivered = kt_pg_i64(tot, 0, 5);
    rep.backorders = kt_pg_i64(tot, 0, 6);
    rep.returns = kt_pg_i64(tot, 0, 7);
    kt_pg_i64_checked(tot, 0, 8, &rep.returned_amount);
    rc = kt_call_reply(call, &rep.base);
done:
    free(sc);
    free(scp);
    PQclear(res);
    PQclear(tot);
    return rc;
}
