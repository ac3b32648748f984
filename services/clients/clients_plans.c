/*  clients_plans - monthly plans per manager (SetPlan, heads only) and plan
 *  against actual (PlanReport).
 *
 *  Actuals are computed from order_facts, the rows kept from orders'
 *  OrderConfirmed (one per order, so a duplicated or replayed event changes
 *  nothing): revenue = sum of totals in the plan's currency, active clients
 *  = distinct clients with a confirmed order in the month, new clients =
 *  clients whose first confirmed order fell in the month. An order counts
 *  for the manager named on it.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clients_util.h"
#include "kt_money.h"
#include "kt_validate.h"

int clients_set_plan(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__SetPlanRequest *req = (const Kontor__Clients__SetPlanRequest *)request;
    char why[256], manager[24], month[16], revenue[24], active[16], fresh[16];
    int32_t first;
    if (clients_id_or_reply(call, "manager_id", req->manager_id) != 0)
        return -1;
    if (clients_parse_month("month", req->month, &first, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "month", NULL, "%s", why);
    if (clients_money_or_reply(call, "revenue", req->revenue) != 0)
        return -1;
    if (req->active_clients < 0 || req->new_clients < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->active_clients < 0 ? "active_clients" : "new_clients", NULL,
                            "client counts must not be negative");
    if (clients_manager_or_reply(call, "manager_id", req->manager_id, false) != 0)
        return -1;
    snprintf(month, sizeof month, "%s-01", req->month);
    snprintf(active, sizeof active, "%d", req->active_clients);
    snprintf(fresh, sizeof fresh, "%d", req->new_clients);
    const char *p[] = {clients_i64(manager, req->manager_id),
                       month,
                       clients_i64(revenue, req->revenue->units),
                       req->revenue->currency,
                       active,
                       fresh,
                       call->caller->name};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_plan_upsert, p);
    if (!res)
        return kt_call_fail_pg(call, "save the plan");
    PQclear(res);
    Kontor__Clients__Plan out = KONTOR__CLIENTS__PLAN__INIT;
    out.manager_id = req->manager_id;
    out.month = req->month;
    out.revenue = req->revenue;
    out.active_clients = req->active_clients;
    out.new_clients = req->new_clients;
    return kt_call_reply(call, &out.base);
}

//  One line of the report and the messages it points to.
typedef struct {
    Kontor__Clients__PlanLine line;
    Kontor__Clients__Plan plan;
    Kontor__Money plan_revenue;
    Kontor__Money revenue;
} s_line_t;

static void s_line_init(s_line_t *l)
{
    kontor__clients__plan_line__init(&l->line);
    kontor__clients__plan__init(&l->plan);
    kontor__money__init(&l->plan_revenue);
    kontor__money__init(&l->revenue);
    l->plan.revenue = &l->plan_revenue;
    l->line.plan = &l->plan;
    l->line.revenue = &l->revenue;
}

int clients_plan_report(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__PlanReportRequest *req =
        (const Kontor__Clients__PlanReportRequest *)request;
    char why[256], manager[24], branch[24], month[16];
    int32_t first;
    if (req->manager_id < 0 || req->branch_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->manager_id < 0 ? "manager_id" : "branch_id", NULL,
                            "ids must not be negative");
    if ((req->manager_id > 0) == (req->branch_id > 0))
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                            "give either manager_id or branch_id");
    if (clients_parse_month("month", req->month, &first, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "month", NULL, "%s", why);
    //  A manager reads their own line; a branch is for heads and the like.
    if (call->caller->kind == KT_KIND_MANAGER &&
        (req->branch_id > 0 || req->manager_id != call->caller->manager_id))
        return kt_call_fail(call, KT_PERMISSION_DENIED, req->branch_id ? "branch_id" : "manager_id",
                            "not_owner", "%s may read only their own plan", call->caller->name);
    if (req->manager_id > 0 &&
        clients_manager_or_reply(call, "manager_id", req->manager_id, false) != 0)
        return -1;
    snprintf(month, sizeof month, "%s-01", req->month);
    const char *p[] = {req->manager_id ? clients_i64(manager, req->manager_id) : NULL,
                       req->branch_id ? clients_i64(branch, req->branch_id) : NULL, month};
    PGresult *res = NULL, *total = NULL;
    if (kt_pg_command(call->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return kt_call_fail_pg(call, "read the plan report");
    if (!(res = kt_pg_exec(call->pg, &clients_sql_plan_report, p)) ||
        !(total = kt_pg_exec(call->pg, &clients_sql_plan_total_clients, p))) {
        int rc = kt_call_fail_pg(call, "read the plan report");
        kt_pg_command(call->pg, "ROLLBACK");
        if (res)
            PQclear(res);
        return rc;
    }
    kt_pg_command(call->pg, "COMMIT");
    int n = PQntuples(res);
    int rc;
    s_line_t *lines = calloc((size_t)n + 1, sizeof *lines);
    Kontor__Clients__PlanLine **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    if (!lines || !ptrs) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    s_line_t sum;
    s_line_init(&sum);
    sum.revenue.currency = sum.plan_revenue.currency = (char *)CLIENTS_DEFAULT_CURRENCY;
    sum.line.has_plan = false;
    bool overflow = false;
    for (int i = 0; i < n; i++) {
        s_line_t *l = &lines[i];
        s_line_init(l);
        l->line.manager_id = l->plan.manager_id = kt_pg_i64(res, i, 0);
        l->line.has_plan = clients_bool(res, i, 1);
        l->plan.month = req->month;
        l->plan_revenue.units = kt_pg_i64(res, i, 2);
        l->plan_revenue.currency = l->revenue.currency = (char *)kt_pg_text(res, i, 3);
        l->plan.active_clients = (int32_t)kt_pg_i64(res, i, 4);
        l->plan.new_clients = (int32_t)kt_pg_i64(res, i, 5);
        if (kt_pg_i64_checked(res, i, 6, &l->revenue.units) != 0)
            overflow = true;
        l->line.active_clients = (int32_t)kt_pg_i64(res, i, 7);
        l->line.new_clients = (int32_t)kt_pg_i64(res, i, 8);
        l->line.orders = (int32_t)kt_pg_i64(res, i, 9);
        ptrs[i] = &l->line;
        //  The total adds what is in the first line's currency.
        if (i == 0)
            sum.revenue.currency = sum.plan_revenue.currency = l->revenue.currency;
        if (strcmp(l->revenue.currency, sum.revenue.currency) == 0) {
            if (kt_add_i64(sum.revenue.units, l->revenue.units, &sum.revenue.units) != 0 ||
                kt_add_i64(sum.plan_revenue.units, l->plan_revenue.units,
                           &sum.plan_revenue.units) != 0)
                overflow = true;
        }
        sum.line.has_plan = sum.line.has_plan || l->line.has_plan;
        sum.plan.active_clients += l->plan.active_clients;
        sum.plan.new_clients += l->plan.new_clients;
        sum.line.new_clients += l->line.new_clients;
        sum.line.orders += l->line.orders;
    }
    if (overflow) {
        rc = kt_call_fail(call, KT_OUT_OF_RANGE, NULL, NULL,
                          "the month's revenue is too large to add up");
        goto cleanup;
    }
    sum.line.active_clients = (int32_t)kt_pg_i64(total, 0, 0);
    sum.plan.month = req->month;
    Kontor__Clients__PlanReportReply rep = KONTOR__CLIENTS__PLAN_REPORT_REPLY__INIT;
    rep.month = req->month;
    rep.n_lines = (size_t)n;
    rep.lines = ptrs;
    rep.total = &sum.line;
    rc = kt_call_reply(call, &rep.base);
cleanup:
    free(ptrs);
    free(lines);
    PQclear(total);
    PQclear(res);
    return rc;
}
