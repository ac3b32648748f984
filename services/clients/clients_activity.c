/*  clients_activity - a manager's week: PlanActivity, CompleteActivity and
 *  Schedule (the week's plan, what is overdue, whom to greet, and what was
 *  done each day).
 *
 *  Times are the database's local time of day ("YYYY-MM-DDTHH:MM", stored as
 *  timestamp): a plan is a wall-clock appointment. Overdue means still
 *  planned and due before now.
 */
#include "clients_handlers.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clients_util.h"
#include "kt_validate.h"

static void s_activity_row(const PGresult *res, int r, Kontor__Clients__Activity *a)
{
    kontor__clients__activity__init(a);
    a->id = kt_pg_i64(res, r, 0);
    a->manager_id = kt_pg_i64(res, r, 1);
    a->client_id = kt_pg_i64(res, r, 2);
    int kind = clients_activity_from_name(kt_pg_text(res, r, 3));
    a->kind = kind > 0 ? (Kontor__Clients__ActivityKind)kind : 0;
    a->at = (char *)kt_pg_text(res, r, 4);
    a->subject = (char *)kt_pg_text(res, r, 5);
    int status = clients_activity_status_from_name(kt_pg_text(res, r, 6));
    a->status = status > 0 ? (Kontor__Clients__ActivityStatus)status : 0;
    a->outcome = (char *)kt_pg_text(res, r, 7);
    a->completed_at_ms = kt_pg_i64(res, r, 8);
}

//  The manager a request names, or the caller (0). Returns the id, or -1
//  after replying.
static int64_t s_manager_of(kt_call_t *call, int64_t asked)
{
    if (asked < 0) {
        kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                     "manager_id must not be negative: %" PRId64, asked);
        return -1;
    }
    int64_t id = asked ? asked : call->caller->manager_id;
    if (id <= 0) {
        kt_call_fail(call, KT_INVALID_ARGUMENT, "manager_id", NULL,
                     "manager_id must be given: %s is not a manager", call->caller->name);
        return -1;
    }
    if (!kt_call_acts_for(call, id)) {
        kt_call_fail(call, KT_PERMISSION_DENIED, "manager_id", "not_owner",
                     "%s cannot act for manager %" PRId64, call->caller->name, id);
        return -1;
    }
    if (clients_manager_or_reply(call, "manager_id", id, false) != 0)
        return -1;
    return id;
}

int clients_plan_activity(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__Activity *req = (const Kontor__Clients__Activity *)request;
    char why[256], manager[24], client[24];
    if (req->id != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "id", NULL, "id must be 0 for a new plan");
    if (req->status || req->outcome[0] || req->completed_at_ms)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, req->status ? "status" : "outcome", NULL,
                            "a new plan has no status or outcome yet");
    const char *kind = clients_activity_name(req->kind);
    if (!kind)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "kind", NULL,
                            "kind must be given: call, visit, meeting or offer");
    if (clients_parse_time("at", req->at, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "at", NULL, "%s", why);
    if (clients_text_or_reply(call, "subject", req->subject, 1, CLIENTS_WHY_MAX) != 0)
        return -1;
    if (req->client_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "client_id", NULL,
                            "client_id must not be negative: %" PRId64, req->client_id);
    int64_t manager_id = s_manager_of(call, req->manager_id);
    if (manager_id < 0)
        return -1;
    if (req->client_id > 0) {
        const char *p[] = {clients_i64(client, req->client_id)};
        PGresult *res = kt_pg_exec(call->pg, &clients_sql_client_name, p);
        if (!res)
            return kt_call_fail_pg(call, "look up the client");
        int n = PQntuples(res);
        PQclear(res);
        if (n == 0)
            return clients_no_client(call, "client_id", req->client_id);
    }
    const char *p[] = {clients_i64(manager, manager_id), req->client_id ? client : NULL, kind,
                       req->at, req->subject};
    PGresult *res = kt_pg_exec(call->pg, &clients_sql_activity_insert, p);
    if (!res)
        return kt_call_fail_pg(call, "plan the activity");
    Kontor__Clients__Activity out;
    s_activity_row(res, 0, &out);
    int rc = kt_call_reply(call, &out.base);
    PQclear(res);
    return rc;
}

typedef struct {
    kt_call_t *call;
    const Kontor__Clients__CompleteActivityRequest *req;
    PGresult *res;
} s_complete_t;

static int s_complete_tx(kt_pg_t *pg, void *arg)
{
    s_complete_t *s = arg;
    kt_call_t *call = s->call;
    if (s->res) {
        PQclear(s->res); //  from an attempt that was rolled back
        s->res = NULL;
    }
    char id[24];
    const char *p1[] = {clients_i64(id, s->req->activity_id)};
    PGresult *res = kt_pg_exec(pg, &clients_sql_activity_lock, p1);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        kt_call_fail(call, KT_NOT_FOUND, "activity_id", NULL, "activity %" PRId64 " does not exist",
                     s->req->activity_id);
        return 1;
    }
    int64_t manager_id = kt_pg_i64(res, 0, 0);
    bool planned = strcmp(kt_pg_text(res, 0, 1), "planned") == 0;
    PQclear(res);
    if (clients_owner_or_reply(call, manager_id, "the activity") != 0)
        return 1;
    if (!planned) {
        kt_call_fail(call, KT_FAILED_PRECONDITION, "activity_id", "invalid_transition",
                     "activity %" PRId64 " is already completed or cancelled", s->req->activity_id);
        return 1;
    }
    const char *p[] = {id, s->req->cancelled ? "cancelled" : "done", s->req->outcome};
    if (!(s->res = kt_pg_exec(pg, &clients_sql_activity_complete, p)))
        return -1;
    return 0;
}

int clients_complete_activity(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__CompleteActivityRequest *req =
        (const Kontor__Clients__CompleteActivityRequest *)request;
    if (clients_id_or_reply(call, "activity_id", req->activity_id) != 0 ||
        clients_text_or_reply(call, "outcome", req->outcome, req->cancelled ? 0 : 1,
                              CLIENTS_NOTE_MAX) != 0)
        return -1;
    s_complete_t s = {call, req, NULL};
    int rc = kt_pg_tx(call->pg, CLIENTS_TX_ATTEMPTS, s_complete_tx, &s);
    if (rc != 0) {
        if (s.res)
            PQclear(s.res);
        return rc == 1 ? -1 : kt_call_fail_pg(call, "complete the activity");
    }
    Kontor__Clients__Activity out;
    s_activity_row(s.res, 0, &out);
    rc = kt_call_reply(call, &out.base);
    PQclear(s.res);
    return rc;
}

//  ---------------------------------------------------------------- Schedule

//  Arrays for n rows of activities; NULL when out of memory.
static Kontor__Clients__Activity **s_activities(const PGresult *res,
                                                Kontor__Clients__Activity **mem)
{
    int n = PQntuples(res);
    *mem = calloc((size_t)n + 1, sizeof **mem);
    Kontor__Clients__Activity **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    if (!*mem || !ptrs) {
        free(ptrs);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        s_activity_row(res, i, &(*mem)[i]);
        ptrs[i] = &(*mem)[i];
    }
    return ptrs;
}

int clients_schedule(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__ScheduleRequest *req = (const Kontor__Clients__ScheduleRequest *)request;
    char why[256], manager[24], monday_s[16], sunday_s[16];
    int32_t monday;
    if (clients_parse_week("week", req->week, &monday, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "week", NULL, "%s", why);
    int64_t manager_id = s_manager_of(call, req->manager_id);
    if (manager_id < 0)
        return -1;
    int y, m, d;
    kt_civil_from_days(monday, &y, &m, &d);
    snprintf(monday_s, sizeof monday_s, "%04d-%02d-%02d", y, m, d);
    kt_civil_from_days(monday + 6, &y, &m, &d);
    snprintf(sunday_s, sizeof sunday_s, "%04d-%02d-%02d", y, m, d);
    const char *p2[] = {clients_i64(manager, manager_id), monday_s};
    const char *p1[] = {manager};

    PGresult *planned = NULL, *overdue = NULL, *greet = NULL, *days = NULL;
    Kontor__Clients__Activity *pmem = NULL, *omem = NULL, **pptr = NULL, **optr = NULL;
    Kontor__Clients__Greeting *gmem = NULL, **gptr = NULL;
    Kontor__Clients__DayCounts *dmem = NULL, **dptr = NULL;
    int rc;
    if (kt_pg_command(call->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return kt_call_fail_pg(call, "read the schedule");
    if (!(planned = kt_pg_exec(call->pg, &clients_sql_week_planned, p2)) ||
        !(overdue = kt_pg_exec(call->pg, &clients_sql_overdue, p1)) ||
        !(greet = kt_pg_exec(call->pg, &clients_sql_greetings, p2)) ||
        !(days = kt_pg_exec(call->pg, &clients_sql_day_counts, p2))) {
        rc = kt_call_fail_pg(call, "read the schedule");
        kt_pg_command(call->pg, "ROLLBACK");
        goto cleanup;
    }
    kt_pg_command(call->pg, "COMMIT");
    pptr = s_activities(planned, &pmem);
    optr = s_activities(overdue, &omem);
    int ng = PQntuples(greet), nd = PQntuples(days);
    gmem = calloc((size_t)ng + 1, sizeof *gmem);
    gptr = calloc((size_t)ng + 1, sizeof *gptr);
    dmem = calloc((size_t)nd + 1, sizeof *dmem);
    dptr = calloc((size_t)nd + 1, sizeof *dptr);
    if (!pptr || !optr || !gmem || !gptr || !dmem || !dptr) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < ng; i++) {
        kontor__clients__greeting__init(&gmem[i]);
        gmem[i].client_id = kt_pg_i64(greet, i, 0);
        gmem[i].contact_id = kt_pg_i64(greet, i, 1);
        gmem[i].name = (char *)kt_pg_text(greet, i, 2);
        gmem[i].date = (char *)kt_pg_text(greet, i, 3);
        gmem[i].birthday = clients_bool(greet, i, 4);
        gptr[i] = &gmem[i];
    }
    for (int i = 0; i < nd; i++) {
        kontor__clients__day_counts__init(&dmem[i]);
        dmem[i].date = (char *)kt_pg_text(days, i, 0);
        dmem[i].calls_made = (int32_t)kt_pg_i64(days, i, 1);
        dmem[i].visits_made = (int32_t)kt_pg_i64(days, i, 2);
        dmem[i].meetings_held = (int32_t)kt_pg_i64(days, i, 3);
        dmem[i].offers_sent = (int32_t)kt_pg_i64(days, i, 4);
        dptr[i] = &dmem[i];
    }
    Kontor__Clients__ScheduleReply rep = KONTOR__CLIENTS__SCHEDULE_REPLY__INIT;
    rep.manager_id = manager_id;
    rep.week = req->week;
    rep.from = monday_s;
    rep.to = sunday_s;
    rep.n_planned = (size_t)PQntuples(planned);
    rep.planned = pptr;
    rep.n_overdue = (size_t)PQntuples(overdue);
    rep.overdue = optr;
    rep.n_greetings = (size_t)ng;
    rep.greetings = gptr;
    rep.n_days = (size_t)nd;
    rep.days = dptr;
    rc = kt_call_reply(call, &rep.base);
cleanup:
    free(dptr);
    free(dmem);
    free(gptr);
    free(gmem);
    free(optr);
    free(omem);
    free(pptr);
    free(pmem);
    PGresult *all[] = {planned, overdue, greet, days};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            PQclear(all[i]);
    return rc;
}
