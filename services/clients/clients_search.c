/*  clients_search - SearchClients: by a fragment of name or code, tax id,
 *  manager, territory, status and key-account flag, a page at a time.
 *
 *  Pages are keyset-paginated on (name, id): the caller passes the last id
 *  of the page it has, and the next page starts after that client's
 *  (name, id), so a page costs the same however deep it is. How fragments
 *  are found without pg_trgm is in migrations/002_client_base.sql (and
 *  s_literal below). The
 *  fragment reaches SQL only as parameters: once as it is (for the word
 *  index) and once with LIKE's metacharacters escaped (kt_like_escape), so
 *  % _ \ and quotes in it are matched literally.
 */
#include "clients_handlers.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clients_util.h"
#include "kt_validate.h"

#define S_LIMIT_DEFAULT 50

//  True if `q` holds ASCII punctuation: then the fragment must appear in the
//  name literally, not only as the prefixes of its words ("100%" must not
//  find "100 Cotton"); letters, digits and spaces alone match word prefixes
//  in any order ("ром плюс" finds "Ромашка-Плюс").
static bool s_literal(const char *q)
{
    for (const unsigned char *p = (const unsigned char *)q; *p; p++)
        if (*p < 0x80 && !isalnum(*p) && *p != ' ')
            return true;
    return false;
}
#define S_LIMIT_MAX 200

int clients_search_clients(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Clients__SearchClientsRequest *req =
        (const Kontor__Clients__SearchClientsRequest *)request;
    char why[256], manager[24], territory[24], after[24], limit[16];
    if (clients_text_or_reply(call, "q", req->q, 0, CLIENTS_QUERY_MAX) != 0)
        return -1;
    if (req->tax_id[0] && kt_check_tax_id("tax_id", req->tax_id, why, sizeof why) != 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "tax_id", NULL, "%s", why);
    if (req->manager_id < 0 || req->territory_id < 0 || req->after_id < 0)
        return kt_call_fail(call, KT_INVALID_ARGUMENT,
                            req->manager_id < 0     ? "manager_id"
                            : req->territory_id < 0 ? "territory_id"
                                                    : "after_id",
                            NULL, "ids must not be negative");
    if (req->limit > S_LIMIT_MAX)
        return kt_call_fail(call, KT_INVALID_ARGUMENT, "limit", NULL,
                            "limit must be at most %d: %u", S_LIMIT_MAX, req->limit);
    unsigned n = req->limit ? req->limit : S_LIMIT_DEFAULT;

    //  Keyset: where the previous page ended.
    PGresult *prev = NULL;
    const char *after_name = NULL;
    if (req->after_id > 0) {
        const char *p[] = {clients_i64(after, req->after_id)};
        prev = kt_pg_exec(call->pg, &clients_sql_client_name, p);
        if (!prev)
            return kt_call_fail_pg(call, "search clients");
        if (PQntuples(prev) == 0) {
            PQclear(prev);
            return kt_call_fail(call, KT_NOT_FOUND, "after_id", "unknown_client",
                                "client %" PRId64 " does not exist", req->after_id);
        }
        after_name = kt_pg_text(prev, 0, 0);
    }
    char *escaped = req->q[0] ? kt_like_escape(req->q) : NULL;
    if (req->q[0] && !escaped) {
        if (prev)
            PQclear(prev);
        return kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
    }
    //  One more than asked, to know whether there is a next page.
    snprintf(limit, sizeof limit, "%u", n + 1);
    const char *key = req->key_account == KONTOR__CLIENTS__TRISTATE__YES  ? "true"
                      : req->key_account == KONTOR__CLIENTS__TRISTATE__NO ? "false"
                                                                          : NULL;
    const char *p[] = {req->q[0] ? req->q : NULL,
                       escaped,
                       req->tax_id[0] ? req->tax_id : NULL,
                       req->manager_id ? clients_i64(manager, req->manager_id) : NULL,
                       req->territory_id ? clients_i64(territory, req->territory_id) : NULL,
                       req->status ? clients_status_name((int)req->status) : NULL,
                       key,
                       after_name,
                       after_name ? after : NULL,
                       limit,
                       s_literal(req->q) ? "true" : "false"};
    //  The planner underrates what a scan pays per row for @@ and fold(), and
    //  would scan a small table rather than use its indexes: not here.
    PGresult *res = NULL;
    if (kt_pg_command(call->pg, "BEGIN READ ONLY") == 0) {
        if (kt_pg_command(call->pg, "SET LOCAL enable_seqscan = off") == 0)
            res = kt_pg_exec(call->pg, &clients_sql_search, p);
        kt_pg_command(call->pg, res ? "COMMIT" : "ROLLBACK");
    }
    free(escaped);
    if (prev)
        PQclear(prev);
    if (!res)
        return kt_call_fail_pg(call, "search clients");
    int rows = PQntuples(res);
    int shown = rows > (int)n ? (int)n : rows;
    Kontor__Clients__ClientSummary *items = calloc((size_t)shown + 1, sizeof *items);
    Kontor__Clients__ClientSummary **ptrs = calloc((size_t)shown + 1, sizeof *ptrs);
    int rc;
    if (!items || !ptrs) {
        rc = kt_call_fail(call, KT_RESOURCE_EXHAUSTED, NULL, NULL, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < shown; i++) {
        Kontor__Clients__ClientSummary *s = &items[i];
        kontor__clients__client_summary__init(s);
        s->id = kt_pg_i64(res, i, 0);
        s->code = (char *)kt_pg_text(res, i, 1);
        s->name = (char *)kt_pg_text(res, i, 2);
        s->tax_id = (char *)kt_pg_text(res, i, 3);
        int status = clients_status_from_name(kt_pg_text(res, i, 4));
        s->status = status > 0 ? (Kontor__Clients__ClientStatus)status : 0;
        s->key_account = clients_bool(res, i, 5);
        s->manager_id = kt_pg_i64(res, i, 6);
        s->territory_id = kt_pg_i64(res, i, 7);
        ptrs[i] = s;
    }
    Kontor__Clients__SearchClientsReply rep = KONTOR__CLIENTS__SEARCH_CLIENTS_REPLY__INIT;
    rep.n_clients = (size_t)shown;
    rep.clients = ptrs;
    rep.next_after_id = rows > (int)n ? items[shown - 1].id : 0;
    rc = kt_call_reply(call, &rep.base);
cleanup:
    free(ptrs);
    free(items);
    PQclear(res);
    return rc;
}
