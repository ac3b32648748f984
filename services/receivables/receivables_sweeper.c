/*  receivables_sweeper - the process's housekeeping actor: gives back
 *  credit holds nobody confirmed in time, and runs the daily dunning once
 *  the database's date has none finished yet.
 *
 *  One actor per process, with its own database connection. Every
 *  instance runs one; what they do is safe to do twice at once (expiry
 *  locks each client's account row; dunning is idempotent per notice and
 *  per hold change), so no leader is needed. Time is the database's.
 *
 *  It also keeps the metrics that need the database: every few seconds it
 *  counts the credit reservations held and confirmed and the clients on
 *  credit hold (gauges, read from partial indexes; the same in every
 *  instance, so aggregate them with max), and it counts the reservations
 *  it expires itself (receivables_credit_reservations_expired_total; those
 *  a ReserveCredit of the same client expires first, in its own
 *  transaction, are not counted). Holds placed are counted by the dunning
 *  run (receivables_credit_holds_total, receivables_dunning.c).
 */
#include "receivables_sweeper.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_metrics.h"
#include "receivables.h"
#include "receivables_handlers.h"
#include "receivables_store.h"

#define S_TX_ATTEMPTS 5
#define S_DUNNING_RETRY_MS 60000    //  after a failed daily run, wait this long
#define S_GAUGES_EVERY_MS 5000      //  the gauges, at the first tick this long after the last

struct rcv_sweeper {
    zactor_t *actor;
    char dsn[KT_DSN_MAX];
    int every_ms;
    bool daily;
    bool start_failed;
};

typedef struct {
    kt_metric_t *expired;           //  credit reservations this process expired
    kt_metric_t *held;
    kt_metric_t *confirmed;
    kt_metric_t *holds;             //  clients on credit hold now
} s_metrics_t;

typedef struct {
    int64_t client_id;
    int64_t count;                  //  reservations expired, once committed
} s_expire_t;

static int s_expire_tx(kt_pg_t *pg, void *arg)
{
    s_expire_t *x = arg;
    x->count = 0;
    rcv_account_t acct;
    int rc = rcv_account_read(pg, x->client_id, true, &acct);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    char id[24];
    const char *params[] = {rcv_i64(id, x->client_id)};
    PGresult *res = kt_pg_exec(pg, &rcv_q_resv_expirable_count, params);
    if (!res)
        return -1;
    x->count = kt_pg_i64(res, 0, 0);
    PQclear(res);
    return rcv_expire_client(pg, x->client_id, "receivables", NULL);
}

//  Expire every hold whose time ran out, client by client.
static void s_expire_all(kt_pg_t *pg, const s_metrics_t *m)
{
    PGresult *res = kt_pg_exec(pg, &rcv_q_resv_expired_clients, NULL);
    if (!res) {
        kt_warn("sweeper could not look for expired credit holds: %s", kt_pg_error(pg));
        return;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        s_expire_t x = {kt_pg_i64(res, r, 0), 0};
        if (kt_pg_tx(pg, S_TX_ATTEMPTS, s_expire_tx, &x) < 0)
            kt_warn("sweeper could not expire the credit holds of client %lld: %s",
                    (long long) x.client_id, kt_pg_error(pg));
        else
            kt_metric_add(m->expired, x.count);
    }
    PQclear(res);
}

//  Run today's dunning if no run as of today has finished. Returns 0, or -1
//  if it failed (try again later).
static int s_daily(kt_pg_t *pg)
{
    PGresult *res = kt_pg_exec(pg, &rcv_q_dunning_due_today, NULL);
    if (!res)
        return -1;
    bool due = kt_pg_text(res, 0, 0)[0] == 't';
    char today[11];
    snprintf(today, sizeof today, "%s", kt_pg_text(res, 0, 1));
    PQclear(res);
    if (!due)
        return 0;
    return rcv_dunning_run(pg, today, "receivables", NULL, NULL, NULL, NULL, NULL);
}

//  The gauges read from the database.
static void s_count(kt_pg_t *pg, const s_metrics_t *m)
{
    PGresult *res = kt_pg_exec(pg, &rcv_q_metrics_counts, NULL);
    if (!res) {
        kt_warn("sweeper could not count reservations and holds: %s", kt_pg_error(pg));
        return;
    }
    kt_metric_set(m->held, kt_pg_i64(res, 0, 0));
    kt_metric_set(m->confirmed, kt_pg_i64(res, 0, 1));
    kt_metric_set(m->holds, kt_pg_i64(res, 0, 2));
    PQclear(res);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    rcv_sweeper_t *self = arg;
    s_metrics_t m;
    m.expired = kt_counter("receivables_credit_reservations_expired_total", NULL,
                           "Credit reservations the sweeper expired (not confirmed in time)");
    m.held = kt_gauge("receivables_credit_reservations", "state=\"held\"",
                      "Credit reservations live now, by state (the same in every instance)");
    m.confirmed = kt_gauge("receivables_credit_reservations", "state=\"confirmed\"", NULL);
    m.holds = kt_gauge("receivables_credit_holds", NULL,
                       "Clients on credit hold now (the same in every instance)");
    rcv_dunning_metrics();
    kt_pg_t *pg = kt_pg_new(self->dsn);
    if (!pg || kt_pg_command(pg, "SET search_path TO receivables, pg_catalog") != 0) {
        self->start_failed = true;
        kt_pg_destroy(&pg);
        zsock_signal(pipe, 0);
        return;
    }
    zsock_signal(pipe, 0);
    int64_t dunning_after = 0;
    int64_t next_count = 0;         //  the gauges, at the first tick
    while (true) {
        zmq_pollitem_t items[] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 1, self->every_ms) < 0)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (term)
                break;
            continue;
        }
        if (kt_pg_ensure(pg) != 0)
            continue;
        s_expire_all(pg, &m);
        if (self->daily && zclock_mono() >= dunning_after && s_daily(pg) != 0) {
            kt_warn("the daily dunning run failed: %s; trying again in %d s", kt_pg_error(pg),
                    S_DUNNING_RETRY_MS / 1000);
            dunning_after = zclock_mono() + S_DUNNING_RETRY_MS;
        }
        if (zclock_mono() >= next_count) {
            next_count = zclock_mono() + S_GAUGES_EVERY_MS;
            s_count(pg, &m);
        }
    }
    kt_pg_destroy(&pg);
}

rcv_sweeper_t *rcv_sweeper_new(const char *dsn, int every_ms, bool daily)
{
    rcv_sweeper_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->dsn, sizeof self->dsn, "%s", dsn);
    self->every_ms = every_ms;
    self->daily = daily;
    self->actor = zactor_new(s_actor, self);
    if (!self->actor || self->start_failed) {
        rcv_sweeper_destroy(&self);
        return NULL;
    }
    return self;
}

void rcv_sweeper_destroy(rcv_sweeper_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}
