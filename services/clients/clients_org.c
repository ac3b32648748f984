/*  clients_org - branches, territories and managers (UpsertBranch,
 *  UpsertTerritory, UpsertManager). Heads and admins only (method table).
 *
 *  Managers carry explicit ids: a principal's manager_id (its certificate)
 *  names a manager here, so seeding creates head-1 as 1, manager-1 as 2 and
 *  so on. An upsert without an id takes the next from managers_id_seq.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <string.h>

#include "clients_util.h"

//  Row of a branch: id, code, name.
static int s_reply_branch(kt_call_t *call, PGresult *res)
{
    Kontor__Clients__Branch b = KONTOR__CLIENTS__BRANCH__INIT;
    b.id = kt_pg_i64(res, 0, 0);
    b.code = (char *)kt_pg_text(res, 0, 1);
    b.name = (char *)kt_pg_text(res, 0, 2);
    int rc = kt_call_reply(call, &b.base);
    PQclear(res);
    return rc;
}

int clients_upsert_branch(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__Branch *req = (const Kontor__Clients__Branch *)request;
    char why[256], id[24];
    if (req->id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "id", NULL,
                            "id must not be negative: %" PRId64, req->id);
    if (clients_check_code("code", req->code, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "code", NULL, "%s", why);
    if (clients_text_or_reply(call, "name", req->name, 1, CLIENTS_NAME_MAX) != 0)
        return -1;
    PGresult *res;
    if (req->id == 0) {
        const char *p[] = {req->code, req->name};
        res = kt_pg_exec(call->pg, &clients_sql_branch_insert, p);
    } else {
        const char *p[] = {clients_i64(id, req->id), req->code, req->name};
        res = kt_pg_exec(call->pg, &clients_sql_branch_update, p);
    }
    if (!res) {
        if (kt_pg_status(call->pg) == KT_ALREADY_EXISTS)
            return kt_call_fail(call, KT_ALREADY_EXISTS, "code", NULL,
                                "another branch has the code %s", req->code);
        return kt_call_fail_pg(call, "save the branch");
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return kt_call_fail(call, KT_NOT_FOUND, "id", NULL, "branch %" PRId64 " does not exist",
                            req->id);
    }
    return s_reply_branch(call, res);
}

//  0 if the branch exists, else -1 after replying (NOT_FOUND naming `field`).
static int s_branch_or_reply(kt_call_t *call, const char *field, int64_t branch_id)
{
    char id[24];
    const char *p[] = {clients_i64(id, branch_id)};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_branch_exists, p);
    if (!res)
        return kt_call_fail_pg(call, "look up the branch");
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0)
        return kt_call_fail(call, KT_NOT_FOUND, field, NULL, "branch %" PRId64 " does not exist",
                            branch_id);
    return 0;
}

int clients_manager_or_reply(kt_call_t *call, const char *field, int64_t manager_id,
                             bool must_be_active)
{
    char id[24];
    const char *p[] = {clients_i64(id, manager_id)};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_manager_get, p);
    if (!res)
        return kt_call_fail_pg(call, "look up the manager");
    int n = PQntuples(res);
    bool active = n > 0 && clients_bool(res, 0, 4);
    PQclear(res);
    if (n == 0)
        return kt_call_fail(call, KT_NOT_FOUND, field, NULL, "manager %" PRId64 " does not exist",
                            manager_id);
    if (must_be_active && !active)
        return kt_call_fail(call, KT_FAILED_PRECONDITION, field, NULL,
                            "manager %" PRId64 " is no longer active", manager_id);
    return 0;
}

int clients_upsert_territory(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__Territory *req = (const Kontor__Clients__Territory *)request;
    char id[24], branch[24], lead[24];
    if (req->id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "id", NULL,
                            "id must not be negative: %" PRId64, req->id);
    if (clients_id_or_reply(call, "branch_id", req->branch_id) != 0 ||
        clients_text_or_reply(call, "name", req->name, 1, CLIENTS_NAME_MAX) != 0)
        return -1;
    if (req->lead_manager_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "lead_manager_id", NULL,
                            "lead_manager_id must not be negative: %" PRId64, req->lead_manager_id);
    if (s_branch_or_reply(call, "branch_id", req->branch_id) != 0)
        return -1;
    if (req->lead_manager_id > 0 &&
        clients_manager_or_reply(call, "lead_manager_id", req->lead_manager_id, true) != 0)
        return -1;
    clients_i64(branch, req->branch_id);
    const char *lead_p = req->lead_manager_id > 0 ? clients_i64(lead, req->lead_manager_id) : NULL;
    PGresult *res;
    if (req->id == 0) {
        const char *p[] = {branch, req->name, lead_p};
        res = kt_pg_exec(call->pg, &clients_sql_territory_insert, p);
    } else {
        const char *p[] = {clients_i64(id, req->id), branch, req->name, lead_p};
        res = kt_pg_exec(call->pg, &clients_sql_territory_update, p);
    }
    if (!res) {
        if (kt_pg_status(call->pg) == KT_ALREADY_EXISTS)
            return kt_call_fail(call, KT_ALREADY_EXISTS, "name", NULL,
                                "branch %" PRId64 " already has a territory with this name",
                                req->branch_id);
        return kt_call_fail_pg(call, "save the territory");
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return kt_call_fail(call, KT_NOT_FOUND, "id", NULL, "territory %" PRId64 " does not exist",
                            req->id);
    }
    Kontor__Clients__Territory t = KONTOR__CLIENTS__TERRITORY__INIT;
    t.id = kt_pg_i64(res, 0, 0);
    t.branch_id = kt_pg_i64(res, 0, 1);
    t.name = (char *)kt_pg_text(res, 0, 2);
    t.lead_manager_id = kt_pg_i64(res, 0, 3);
    int rc = kt_call_reply(call, &t.base);
    PQclear(res);
    return rc;
}

int clients_upsert_manager(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__Manager *req = (const Kontor__Clients__Manager *)request;
    char id[24], branch[24];
    if (req->id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "id", NULL,
                            "id must not be negative: %" PRId64, req->id);
    if (clients_text_or_reply(call, "name", req->name, 1, CLIENTS_NAME_MAX) != 0)
        return -1;
    const char *role = clients_role_name(req->role);
    if (!role)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "role", NULL,
                            "role must be given: manager, lead manager or head");
    if (clients_id_or_reply(call, "branch_id", req->branch_id) != 0 ||
        s_branch_or_reply(call, "branch_id", req->branch_id) != 0)
        return -1;
    const char *p[] = {req->id > 0 ? clients_i64(id, req->id) : NULL, req->name, role,
                       clients_i64(branch, req->branch_id), req->inactive ? "false" : "true"};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_manager_upsert, p);
    if (!res)
        return kt_call_fail_pg(call, "save the manager");
    Kontor__Clients__Manager m = KONTOR__CLIENTS__MANAGER__INIT;
    m.id = kt_pg_i64(res, 0, 0);
    m.name = (char *)kt_pg_text(res, 0, 1);
    int r = clients_role_from_name(kt_pg_text(res, 0, 2));
    m.role = r > 0 ? (Kontor__Clients__ManagerRole)r : 0;
    m.branch_id = kt_pg_i64(res, 0, 3);
    m.inactive = !clients_bool(res, 0, 4);
    int rc = kt_call_reply(call, &m.base);
    PQclear(res);
    return rc;
}
