/*  receivables_dunning - the dunning run: notices for the managers'
 *  worklist (a reminder before due, escalating levels after), and credit
 *  holds on and off. RunDunning runs it on demand as of any date; the
 *  sweeper (receivables_sweeper.c) runs it once a day as of the database's
 *  today.
 *
 *  Each notice exists once: dunning_notices is unique on (invoice_id,
 *  level), and a notice is issued only if no notice of that level or a
 *  higher one exists for the invoice. Two runs at once (two instances, or
 *  the sweeper and a caller) insert with ON CONFLICT DO NOTHING, so each
 *  notice and its DunningNotice event are written by exactly one of them.
 *  A hold is set or lifted in a transaction holding the client's account
 *  row, after looking again, so each change gives one CreditHoldChanged.
 *
 *  The work is done in pages, each page its own transaction, so a run over
 *  millions of open invoices holds no lock for long; a run that fails part
 *  way leaves what it did, and running again finishes it.
 */
#include <stdio.h>
#include <string.h>

#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_status.h"
#include "receivables.h"
#include "receivables.pb-c.h"
#include "receivables_handlers.h"
#include "receivables_store.h"

#define S_TX_ATTEMPTS 5
#define S_PAGE 500
#define S_MAX_PAGES 100000          //  a bound on any loop here

//  ---------------------------------------------------------------- notices

typedef struct {
    const char *as_of;
    char levels[128];
    char after_due[11];             //  page cursor: (due, id) of the last invoice seen
    int64_t after_id;
    //  per page
    bool more;
    int64_t notices;
    int64_t reminders;
} s_notices_t;

static int s_notices_tx(kt_pg_t *pg, void *arg)
{
    s_notices_t *x = arg;
    x->more = false;
    x->notices = 0;
    x->reminders = 0;
    char b[3][24];
    const char *params[] = {x->as_of,
                            rcv_i64(b[0], rcv_policy()->reminder_days),
                            x->levels,
                            rcv_i64(b[1], S_PAGE),
                            x->after_due,
                            rcv_i64(b[2], x->after_id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_dunning_notices, params);
    if (!res)
        return -1;
    int rc = 0;
    for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
        if (strcmp(kt_pg_text(res, r, 0), "page") == 0) {
            x->more = kt_pg_i64(res, r, 1) > 0;
            x->after_id = kt_pg_i64(res, r, 2);
            snprintf(x->after_due, sizeof x->after_due, "%s", kt_pg_text(res, r, 6));
            continue;
        }
        Kontor__Receivables__DunningNotice ev = KONTOR__RECEIVABLES__DUNNING_NOTICE__INIT;
        Kontor__Money amount = KONTOR__MONEY__INIT;
        ev.notice_id = kt_pg_i64(res, r, 1);
        ev.invoice_id = kt_pg_i64(res, r, 2);
        ev.client_id = kt_pg_i64(res, r, 3);
        ev.manager_id = kt_pg_i64(res, r, 4);
        ev.level = (int32_t) kt_pg_i64(res, r, 5);
        ev.due = (char *) kt_pg_text(res, r, 6);
        amount.units = kt_pg_i64(res, r, 7);
        amount.currency = (char *) kt_pg_text(res, r, 8);
        ev.amount = &amount;
        if (kt_outbox_add(pg, "DunningNotice", &ev.base) != 0)
            rc = -1;
        x->notices++;
        if (ev.level == 0)
            x->reminders++;
    }
    PQclear(res);
    return rc;
}

//  ---------------------------------------------------------------- holds

typedef struct {
    int64_t client_id;
    const char *as_of;
    const char *by;
    bool on;                        //  putting on (else lifting)
    bool changed;
} s_hold_t;

static int s_hold_tx(kt_pg_t *pg, void *arg)
{
    s_hold_t *x = arg;
    x->changed = false;
    rcv_account_t acct;
    int rc = rcv_account_read(pg, x->client_id, true, &acct);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (!x->on) {
        if (rcv_hold_lift_if_clear(pg, &acct, x->as_of, x->by, &x->changed) != 0)
            return -1;
        if (x->changed && rcv_hold_event(pg, acct.client_id, false,
                                         "the overdue invoices are paid", 0, acct.currency) != 0)
            return -1;
        return 0;
    }
    if (acct.on_hold)
        return 0;                   //  another run was first
    int64_t count = 0, amount = 0;
    if (rcv_overdue(pg, acct.client_id, acct.grace_days, x->as_of, &count, &amount, NULL, 0, NULL)
        != 0)
        return -1;
    if (count == 0)
        return 0;
    char why[128];
    snprintf(why, sizeof why, "%lld invoice(s) overdue past %d grace days as of %s",
             (long long) count, acct.grace_days, x->as_of);
    if (rcv_hold_set(pg, &acct, true, x->as_of, amount, x->by, why) != 0
        || rcv_hold_event(pg, acct.client_id, true, why, amount, acct.currency) != 0)
        return -1;
    x->changed = true;
    return 0;
}

kt_metric_t *rcv_dunning_metrics(void)
{
    return kt_counter("receivables_credit_holds_total", NULL,
                      "Clients put on credit hold (CreditHoldChanged on) by this process");
}

//  Put on (or lift) the holds of every candidate client. Returns the count
//  changed, or -1.
static int64_t s_holds(kt_pg_t *pg, const char *as_of, const char *by, bool on)
{
    int64_t changed = 0, after = 0;
    for (int page = 0; page < S_MAX_PAGES; page++) {
        char b[24];
        const char *params[] = {as_of, rcv_i64(b, after)};
        PGresult *res = kt_pg_exec(pg, on ? &rcv_q_dunning_hold_candidates
                                          : &rcv_q_dunning_lift_candidates,
                                   params);
        if (!res)
            return -1;
        int n = PQntuples(res);
        for (int r = 0; r < n; r++) {
            s_hold_t x = {kt_pg_i64(res, r, 0), as_of, by, on, false};
            after = x.client_id;
            if (kt_pg_tx(pg, S_TX_ATTEMPTS, s_hold_tx, &x) < 0) {
                PQclear(res);
                return -1;
            }
            changed += x.changed;
            if (on && x.changed)
                kt_metric_inc(rcv_dunning_metrics());
        }
        PQclear(res);
        if (n == 0)
            break;
    }
    return changed;
}

//  ---------------------------------------------------------------- the run

int rcv_dunning_run(kt_pg_t *pg, const char *as_of, const char *by, int64_t *notices,
                    int64_t *reminders, int64_t *holds_on, int64_t *holds_off, int64_t *run_id)
{
    const char *params[] = {as_of, by};
    PGresult *res = kt_pg_exec(pg, &rcv_q_dunning_run_start, params);
    if (!res)
        return -1;
    int64_t id = kt_pg_i64(res, 0, 0);
    PQclear(res);

    s_notices_t x;
    memset(&x, 0, sizeof x);
    x.as_of = as_of;
    rcv_policy_levels_text(rcv_policy(), x.levels, sizeof x.levels);
    snprintf(x.after_due, sizeof x.after_due, "1970-01-01");
    int64_t total = 0, early = 0;
    for (int page = 0; page < S_MAX_PAGES; page++) {
        if (kt_pg_tx(pg, S_TX_ATTEMPTS, s_notices_tx, &x) < 0)
            return -1;
        total += x.notices;
        early += x.reminders;
        if (!x.more)
            break;
    }
    int64_t on = s_holds(pg, as_of, by, true);
    if (on < 0)
        return -1;
    int64_t off = s_holds(pg, as_of, by, false);
    if (off < 0)
        return -1;

    char b[4][24];
    const char *fparams[] = {rcv_i64(b[0], id), rcv_i64(b[1], total), rcv_i64(b[2], on),
                             rcv_i64(b[3], off)};
    res = kt_pg_exec(pg, &rcv_q_dunning_run_finish, fparams);
    if (!res)
        return -1;
    PQclear(res);
    kt_info("dunning as of %s by %s: %lld notices (%lld reminders), %lld holds on, %lld off",
            as_of, by, (long long) total, (long long) early, (long long) on, (long long) off);
    if (notices)
        *notices = total;
    if (reminders)
        *reminders = early;
    if (holds_on)
        *holds_on = on;
    if (holds_off)
        *holds_off = off;
    if (run_id)
        *run_id = id;
    return 0;
}

int receivables_run_dunning(kt_call_t *call, const ProtobufCMessage *request)
{
    const Kontor__Receivables__RunDunningRequest *req =
        (const Kontor__Receivables__RunDunningRequest *) request;
    char today[11], as_of[11];
    if (rcv_today(call->pg, today) != 0)
        return kt_call_fail_pg(call, "read the date");
    if (rcv_date_or_reply(call, "as_of", req->as_of, today, as_of) != 0)
        return -1;
    Kontor__Receivables__RunDunningReply rep = KONTOR__RECEIVABLES__RUN_DUNNING_REPLY__INIT;
    if (rcv_dunning_run(call->pg, as_of, call->caller->name, &rep.notices, &rep.reminders,
                        &rep.holds_on, &rep.holds_off, &rep.run_id)
        != 0)
        return kt_call_fail_pg(call, "run dunning");
    rep.as_of = as_of;
    return kt_call_reply(call, &rep.base);
}
