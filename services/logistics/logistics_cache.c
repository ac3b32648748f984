/*  logistics_cache - the availability cache in Redis, and the keeper actor
 *  that sweeps expired reservations and keeps the cache whole.
 *
 *  The keeper also drops idempotency keys older than a week, once an hour,
 *  and every few seconds counts the reservations held and confirmed for
 *  /metrics (logistics_reservations{state}; two partial indexes, so the
 *  scrape itself never reaches the database). Every instance exports the
 *  same numbers: aggregate them with max, not sum.
 *
 *  Layout (docs/protocol.md, "Availability cache in Redis"):
 *    kontor:avail:<warehouse_id>     hash  field <sku> -> available units
 *    kontor:availver:<warehouse_id>  hash  field <sku> -> stock.version of that value
 *    kontor:avail-built              string, set when a full rebuild starts
 *
 *  Every write goes through one Lua script that sets a field only if its
 *  version is newer than the one stored, so writes from many workers and
 *  instances, arriving in any order, leave the newest committed value.
 *
 *  Why the cache cannot stay wrong:
 *  - a worker writes the rows its transaction changed right after COMMIT;
 *  - a write that fails marks the cache dirty, and the keeper rebuilds it;
 *  - changes made where no worker writes after commit (event consumers), or
 *    lost with a process killed between COMMIT and its write, are found by
 *    the keeper every second: rows whose changed_xid is not older than the
 *    oldest transaction running at its previous look;
 *  - FLUSHALL or a Redis restart removes the marker key: the keeper sees it
 *    missing within a second and rebuilds everything.
 *  A rebuild deletes a warehouse's two hashes and then writes what a fresh
 *  read of PostgreSQL shows, through the versioned script: a change
 *  committed before the read is in it, and one written after the delete
 *  keeps its newer version. A reader may see a missing field in between: a
 *  cache miss, never a wrong number.
 */
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_log.h"
#include "kt_metrics.h"
#include "logistics_core.h"
#include "logistics_store.h"

#define S_MARKER_KEY "kontor:avail-built"
#define S_TICK_MS 1000              //  sweep and check the cache this often
#define S_PUSH_CHUNK 1000           //  fields in one script call
#define S_EXPIRE_BATCH 500          //  reservations expired in one transaction
#define S_EXPIRE_ROUNDS 20          //  batches in one tick at most
#define S_REDIS_TIMEOUT_MS 2000
#define S_PRUNE_EVERY_MS 3600000    //  old idempotency keys go once an hour
#define S_GAUGES_EVERY_MS 5000      //  count the reservations held for /metrics

//  KEYS[1] the values, KEYS[2] their versions; ARGV: sku, value, version, ...
static const char s_script[] =
    "local n = 0\n"
    "for i = 1, #ARGV, 3 do\n"
    "  local old = redis.call('HGET', KEYS[2], ARGV[i])\n"
    "  if not old or tonumber(old) < tonumber(ARGV[i + 2]) then\n"
    "    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])\n"
    "    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

//  Write `n` rows of one warehouse. 0 or -1.
static int s_push_warehouse(kt_redis_t *redis, int64_t warehouse_id,
                            const logistics_change_t *const *rows, size_t n)
{
    char key[48], verkey[48], nkeys[] = "2";
    snprintf(key, sizeof key, "kontor:avail:%" PRId64, warehouse_id);
    snprintf(verkey, sizeof verkey, "kontor:availver:%" PRId64, warehouse_id);
    size_t argc = 5 + 3 * n;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    char *numbers = calloc(3 * n + 1, 24);
    int rc = -1;
    if (argv && lens && numbers) {
        argv[0] = "EVAL";
        argv[1] = s_script;
        argv[2] = nkeys;
        argv[3] = key;
        argv[4] = verkey;
        for (size_t i = 0; i < n; i++) {
            char *at = numbers + 3 * i * 24;
            snprintf(at, 24, "%" PRId64, rows[i]->sku);
            snprintf(at + 24, 24, "%" PRId64, rows[i]->available);
            snprintf(at + 48, 24, "%" PRId64, rows[i]->version);
            argv[5 + 3 * i] = at;
            argv[6 + 3 * i] = at + 24;
            argv[7 + 3 * i] = at + 48;
        }
        for (size_t i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        rc = kt_redis_command(redis, (int) argc, argv, lens);
    }
    free(numbers);
    free(lens);
    free(argv);
    return rc;
}

//  Write every row of `changes`, grouped by warehouse. 0 or -1.
static int s_push(kt_redis_t *redis, const logistics_changes_t *changes)
{
    size_t n = changes->n;
    if (n == 0)
        return 0;
    const logistics_change_t **rows = calloc(n, sizeof *rows);
    bool *done = calloc(n, sizeof *done);
    int rc = rows && done ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (done[i])
            continue;
        int64_t wh = changes->items[i].warehouse_id;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && changes->items[j].warehouse_id == wh) {
                done[j] = true;
                rows[k++] = &changes->items[j];
            }
        for (size_t at = 0; rc == 0 && at < k; at += S_PUSH_CHUNK)
            rc = s_push_warehouse(redis, wh, rows + at,
                                  k - at < S_PUSH_CHUNK ? k - at : S_PUSH_CHUNK);
    }
    free(done);
    free(rows);
    return rc;
}

void logistics_cache_push(kt_service_t *svc, kt_redis_t *redis,
                          const logistics_changes_t *changes)
{
    if (!redis || changes->n == 0)
        return;
    if (s_push(redis, changes) != 0) {
        logistics_shared_t *shared = kt_service_shared(svc);
        if (shared && !atomic_exchange(&shared->cache_dirty, true))
            kt_warn("could not write availability to redis (%s); the cache will be rebuilt",
                    kt_redis_error(redis));
    }
}

//  ------------------------------------------------------------ the keeper

struct logistics_keeper {
    zactor_t *actor;
    const kt_config_t *cfg;
    logistics_shared_t *shared;
    atomic_bool start_failed;
};

typedef struct {
    logistics_keeper_t *owner;
    kt_pg_t *pg;
    kt_redis_t *redis;
    char last_xmin[32];         //  oldest transaction running at the previous look
    kt_metric_t *m_expired;
    kt_metric_t *m_rebuilds;
    kt_metric_t *m_held;
    kt_metric_t *m_confirmed;
} s_keeper_t;

static int s_read_xmin(kt_pg_t *pg, char *out, size_t size)
{
    PGresult *res = kt_pg_exec(pg, &logistics_sql_snapshot_xmin, NULL);
    if (!res)
        return -1;
    snprintf(out, size, "%s", kt_pg_text(res, 0, 0));
    PQclear(res);
    return 0;
}

//  Rebuild the whole cache from PostgreSQL. 0 or -1.
static int s_rebuild(s_keeper_t *self)
{
    int64_t t0 = kt_now_ms();
    char xmin[32], token[96];
    if (s_read_xmin(self->pg, xmin, sizeof xmin) != 0)
        return -1;
    snprintf(token, sizeof token, "%s:%lld", self->owner->cfg->instance, (long long) t0);
    if (kt_redis_set(self->redis, S_MARKER_KEY, token) != 0)
        return -1;
    PGresult *whs = kt_pg_exec(self->pg, &logistics_sql_warehouse_ids, NULL);
    if (!whs)
        return -1;
    int rc = 0;
    size_t rows = 0;
    logistics_changes_t page = {0};
    for (int w = 0; rc == 0 && w < PQntuples(whs); w++) {
        int64_t wh = kt_pg_i64(whs, w, 0);
        char key[48], verkey[48];
        snprintf(key, sizeof key, "kontor:avail:%" PRId64, wh);
        snprintf(verkey, sizeof verkey, "kontor:availver:%" PRId64, wh);
        const char *argv[] = {"DEL", key, verkey};
        if (kt_redis_command(self->redis, 3, argv, NULL) != 0) {
            rc = -1;
            break;
        }
        char id[24], after[24] = "0", limit[16];
        snprintf(id, sizeof id, "%" PRId64, wh);
        snprintf(limit, sizeof limit, "%d", S_PUSH_CHUNK);
        while (rc == 0) {
            const char *params[] = {id, after, limit};
            PGresult *res = kt_pg_exec(self->pg, &logistics_sql_stock_page, params);
            if (!res) {
                rc = -1;
                break;
            }
            page.n = 0;
            int n = PQntuples(res);
            if (logistics_changes_from(&page, res, 0) != 0)
                rc = -1;
            if (n > 0)
                snprintf(after, sizeof after, "%s", kt_pg_text(res, n - 1, 1));
            PQclear(res);
            if (rc == 0 && s_push(self->redis, &page) != 0)
                rc = -1;
            rows += (size_t) n;
            if (n < S_PUSH_CHUNK)
                break;
        }
    }
    PQclear(whs);
    logistics_changes_clear(&page);
    if (rc != 0)
        return -1;
    //  Flushed while we wrote: the marker is gone (or someone else's).
    char seen[96];
    if (kt_redis_get(self->redis, S_MARKER_KEY, seen, sizeof seen) != 1
        || strcmp(seen, token) != 0)
        return -1;
    snprintf(self->last_xmin, sizeof self->last_xmin, "%s", xmin);
    kt_metric_inc(self->m_rebuilds);
    kt_info("availability cache rebuilt: %zu rows in %lld ms", rows,
            (long long) (kt_now_ms() - t0));
    return 0;
}

//  Push rows changed by transactions the previous look may have missed.
static int s_catch_up(s_keeper_t *self)
{
    char xmin[32];
    if (s_read_xmin(self->pg, xmin, sizeof xmin) != 0)
        return -1;
    const char *params[] = {self->last_xmin};
    PGresult *res = kt_pg_exec(self->pg, &logistics_sql_changed_since, params);
    if (!res)
        return -1;
    logistics_changes_t changes = {0};
    int rc = logistics_changes_from(&changes, res, 0);
    PQclear(res);
    if (rc == 0)
        rc = s_push(self->redis, &changes);
    logistics_changes_clear(&changes);
    if (rc == 0)
        snprintf(self->last_xmin, sizeof self->last_xmin, "%s", xmin);
    return rc;
}

static void s_keep_cache(s_keeper_t *self)
{
    logistics_shared_t *shared = self->owner->shared;
    char seen[96];
    int marker = kt_redis_get(self->redis, S_MARKER_KEY, seen, sizeof seen);
    if (marker < 0) {
        atomic_store(&shared->cache_dirty, true);
        return; //  Redis is down: try again next tick
    }
    if (marker == 0 || atomic_exchange(&shared->cache_dirty, false)) {
        if (marker == 0)
            kt_info("availability cache marker is gone (redis flushed or restarted); rebuilding");
        if (s_rebuild(self) != 0) {
            kt_warn("could not rebuild the availability cache: %s / %s",
                    kt_redis_error(self->redis), kt_pg_error(self->pg));
            atomic_store(&shared->cache_dirty, true);
        }
        return;
    }
    if (s_catch_up(self) != 0)
        atomic_store(&shared->cache_dirty, true);
}

static void s_sweep(s_keeper_t *self)
{
    for (int round = 0; round < S_EXPIRE_ROUNDS; round++) {
        logistics_changes_t changes = {0};
        int n = logistics_expire_batch(self->pg, S_EXPIRE_BATCH, &changes);
        if (n > 0) {
            kt_metric_add(self->m_expired, n);
            kt_debug("expired %d reservations", n);
            if (s_push(self->redis, &changes) != 0)
                atomic_store(&self->owner->shared->cache_dirty, true);
        } else if (n < 0)
            kt_warn("could not expire reservations: %s", kt_pg_error(self->pg));
        logistics_changes_clear(&changes);
        if (n < S_EXPIRE_BATCH)
            break;
    }
}

//  The gauges of reservations held and confirmed now.
static void s_count_reservations(s_keeper_t *self)
{
    PGresult *res = kt_pg_exec(self->pg, &logistics_sql_reservation_counts, NULL);
    if (!res) {
        kt_warn("could not count reservations: %s", kt_pg_error(self->pg));
        return;
    }
    kt_metric_set(self->m_held, kt_pg_i64(res, 0, 0));
    kt_metric_set(self->m_confirmed, kt_pg_i64(res, 0, 1));
    PQclear(res);
}

static void s_keeper_actor(zsock_t *pipe, void *args)
{
    logistics_keeper_t *owner = args;
    s_keeper_t self_s = {0}, *self = &self_s;
    self->owner = owner;
    snprintf(self->last_xmin, sizeof self->last_xmin, "0");
    self->m_expired =
        kt_counter("logistics_reservations_expired_total", NULL, "Held reservations expired");
    self->m_rebuilds = kt_counter("logistics_cache_rebuilds_total", NULL,
                                  "Full rebuilds of the availability cache in Redis");
    self->m_held = kt_gauge("logistics_reservations", "state=\"held\"",
                            "Stock reservations live now, by state (the same in every instance)");
    self->m_confirmed = kt_gauge("logistics_reservations", "state=\"confirmed\"", NULL);
    const kt_config_t *cfg = owner->cfg;
    self->pg = kt_pg_new(cfg->pg_dsn);
    if (self->pg && kt_pg_command(self->pg, "SET search_path TO logistics, pg_catalog") != 0)
        kt_pg_destroy(&self->pg);
    self->redis = kt_redis_new(cfg->redis_host, cfg->redis_port, cfg->redis_password,
                               S_REDIS_TIMEOUT_MS);
    if (!self->pg || !self->redis) {
        atomic_store(&owner->start_failed, true);
        zsock_signal(pipe, 0);
        goto cleanup;
    }
    //  On start the cache is rebuilt in full, before the workers serve.
    if (s_rebuild(self) != 0) {
        kt_warn("could not build the availability cache at start (%s); retrying every second",
                kt_redis_error(self->redis));
        atomic_store(&owner->shared->cache_dirty, true);
    }
    zsock_signal(pipe, 0);
    int64_t next = kt_now_ms() + S_TICK_MS;
    int64_t next_prune = kt_now_ms() + S_PRUNE_EVERY_MS;
    int64_t next_gauges = 0;
    while (true) {
        int64_t wait = next - kt_now_ms();
        zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, wait > 0 ? wait : 0) < 0)
            break;
        if (item.revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool term = !command || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (term)
                break;
        }
        if (kt_now_ms() < next)
            continue;
        next = kt_now_ms() + S_TICK_MS;
        if (kt_pg_ensure(self->pg) != 0)
            continue;
        s_sweep(self);
        s_keep_cache(self);
        if (kt_now_ms() >= next_gauges) {
            next_gauges = kt_now_ms() + S_GAUGES_EVERY_MS;
            s_count_reservations(self);
        }
        if (kt_now_ms() >= next_prune) {
            next_prune = kt_now_ms() + S_PRUNE_EVERY_MS;
            PGresult *res = kt_pg_exec(self->pg, &logistics_sql_idem_prune, NULL);
            if (!res)
                kt_warn("could not prune idempotency keys: %s", kt_pg_error(self->pg));
            PQclear(res);
        }
    }
cleanup:
    kt_redis_destroy(&self->redis);
    kt_pg_destroy(&self->pg);
}

logistics_keeper_t *logistics_keeper_new(const kt_config_t *cfg, logistics_shared_t *shared)
{
    logistics_keeper_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->shared = shared;
    self->actor = zactor_new(s_keeper_actor, self);
    if (!self->actor || atomic_load(&self->start_failed)) {
        logistics_keeper_destroy(&self);
        return NULL;
    }
    return self;
}

void logistics_keeper_destroy(logistics_keeper_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}
