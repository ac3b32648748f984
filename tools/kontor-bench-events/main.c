/*  kontor-bench-events - events per second through outbox -> relay ->
 *  consumer, and the end-to-end lag.
 *
 *      kontor-bench-events [OPTIONS] PRODUCER_DSN
 *
 *  Writes N events into a producer service's outbox over PRODUCER_DSN (the
 *  producer's role, or the superuser) from P writer threads, B events to a
 *  transaction, one INSERT per event as kt_outbox_add does. Each payload
 *  carries the wall-clock time, in microseconds, at which its INSERT was
 *  sent. The producer's running service relays them through the bus. This
 *  process consumes them with kt_consumer, exactly as a service does, acting
 *  as a service (--as, clients by default: its key and database role from
 *  its KONTOR_* environment) into a schema of that role's (--schema, "bench"
 *  by default) that holds only an event_offsets table. Its own schema, not
 *  the service's: a service consuming the same stream holds that consumer's
 *  leader lock, and two consumers of one stream into one schema take turns,
 *  they do not share. The handler takes lag = now - written time per event
 *  and counts the events applied; it runs no SQL of its own, so the figures
 *  are the pipeline's floor: a real handler adds its statements.
 *
 *  The bench schema, made once by the superuser after the service's own
 *  migrations ran (tests/bench/run.sh does this):
 *      CREATE SCHEMA bench AUTHORIZATION kontor_clients;
 *      CREATE TABLE bench.event_offsets (LIKE clients.event_offsets INCLUDING ALL);
 *      ALTER TABLE bench.event_offsets OWNER TO kontor_clients;
 *
 *  Figures (reported, never judged):
 *    produced/s  N / (last writer commit - first write)
 *    applied/s   N / (last event applied - first write): end to end
 *    lag         handler time - written time, per event: p50, p95, p99, max.
 *                The handler runs inside the consumer's transaction, so the
 *                consumer's own COMMIT is not in the lag.
 *
 *  Output: a plain table (a header line and one row) on stdout, the same
 *  figures and the run's settings as JSON in --json FILE. Progress and
 *  errors go to the log (stderr). Exit status: 0 when every event was
 *  applied, 1 when the run failed (a writer's database error, the consumer
 *  not starting, not done within --timeout, a stop signal), 2 on a usage
 *  error. Nothing here sleeps to wait for something: the main thread waits
 *  on the applied counter (a condition variable) with a deadline; only the
 *  optional --rate pacing waits for a clock time.
 */
#include <czmq.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "kt_config.h"
#include "kt_events.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_pg.h"
#include "kt_proto.h"

#define S_EXIT_OK     0
#define S_EXIT_FAILED 1
#define S_EXIT_USAGE  2

#define S_EVENT_TYPE        "BenchEvent" //  type of every event this program writes
#define S_PAYLOAD_LEN       24           //  nonce, index, written time: 3 x int64 big-endian
#define S_WARMUP_INDEX      UINT64_MAX   //  index of a warm-up event (not measured)
#define S_WARMUP_WAIT_MS    500          //  wait for one warm-up event before writing another
#define S_WARMUP_BUDGET_MS  30000        //  the consumer must be live within this
#define S_WAIT_SLICE_MS     200          //  longest single wait of the main thread
#define S_PROGRESS_EVERY_MS 5000         //  progress line interval
#define S_TX_ATTEMPTS       3            //  a writer's transaction, retried on 40001/40P01
#define S_MAX_WRITERS       64           //  --writers at most (connections to the producer)
#define S_MAX_BATCH         10000        //  --batch at most
#define S_MAX_EVENTS        10000000     //  --events at most (three arrays of N entries)
#define S_DEFAULT_JSON      "build/bench/events.json"

//  What the command line asks for.
typedef struct {
    uint64_t events;       //  N: events measured
    int writers;           //  P: writer threads, one connection each
    int batch;             //  B: events per transaction
    double rate;           //  events/s offered in total; 0: as fast as possible
    const char *producer;  //  service whose outbox is written and relayed
    const char *as;        //  the service this process acts as (key, database role)
    const char *schema;    //  schema consumed into, owned by that service's role
    const char *label;     //  name of the run in the table and the JSON
    const char *json_path; //  where the JSON goes
    int timeout_s;         //  the whole run, warm-up included
    const char *dsn;       //  PRODUCER_DSN
} s_options_t;

//  One run, shared by the main thread, the writers and the consumer's handler.
typedef struct {
    const s_options_t *opt;   //  borrowed from main
    uint64_t nonce;           //  marks this run's events; others are counted as foreign
    int64_t *lag_us;          //  per event index, the last lag the handler saw
    int64_t *written_us;      //  per event index, the wall time in its payload
    uint8_t *seen;            //  per event index: applied at least once
    pthread_mutex_t lock;     //  guards the fields below and the three arrays
    pthread_cond_t changed;   //  signalled on a warm-up applied, the last event applied,
                              //  a writer ready, go, and stop
    uint64_t applied;         //  distinct measured events applied
    uint64_t warmups_applied; //  warm-up events applied
    uint64_t foreign;         //  events of other runs or other writers, passed over
    int64_t last_apply_us;    //  monotonic time the N-th event was applied
    int writers_ready;        //  writers connected and waiting for `go`
    bool go;                  //  the writers may start (start_us is set)
    atomic_bool stop;         //  writers stop at the next transaction
    atomic_bool failed;       //  a writer gave up
    int64_t start_us;         //  monotonic time the writers were released
} s_bench_t;

//  One writer thread.
typedef struct {
    s_bench_t *bench; //  the run it belongs to
    int id;           //  0..P-1, for the log
    uint64_t first;   //  its events are [first, first + count)
    uint64_t count;   //  its share of N
    pthread_t thread; //  joined by s_measure
    int64_t done_us;  //  monotonic time of its last commit
} s_writer_t;

//  One transaction of a writer: events [first, first + n).
typedef struct {
    s_bench_t *bench; //  for the nonce
    uint64_t first;   //  index of its first event, or S_WARMUP_INDEX
    int n;            //  events in it
} s_tx_t;

static const kt_stmt_t s_insert = {"bench_outbox_insert",
                                   "INSERT INTO outbox (type, payload) VALUES ($1, $2)", 2};

//  ---------------------------------------------------------------- helpers

static int64_t s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

//  A number in [min, max] from text; -1 if it is not one.
static int s_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

//  Create the folders above `path` (like mkdir -p of its dirname).
static int s_mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

//  Wait on the bench's condition variable until `deadline_us` (monotonic) at
//  the latest; the caller holds the lock.
static void s_wait_changed(s_bench_t *self, int64_t deadline_us)
{
    int64_t now = kt_now_us();
    int64_t wait = deadline_us - now;
    if (wait <= 0)
        return;
    if (wait > S_WAIT_SLICE_MS * 1000)
        wait = S_WAIT_SLICE_MS * 1000;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + wait * 1000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&self->changed, &self->lock, &ts);
}

//  True if SIGTERM, SIGINT or SIGHUP is pending (they are blocked in every
//  thread; this takes one off the queue).
static bool s_stop_requested(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    struct timespec zero = {0, 0};
    return sigtimedwait(&set, NULL, &zero) > 0;
}

//  ---------------------------------------------------------------- the consumer's side

//  Runs in the consumer's thread, inside its transaction. Applying an event
//  again (a batch that rolled back and came round again) overwrites its lag
//  and does not count it twice. It wakes the main thread only for what that
//  waits on (a warm-up event, the last event), not once per event: on two
//  cores a wake-up per event would be a measurable share of the work.
static int s_on_event(kt_pg_t *pg, const kt_event_t *ev, void *arg)
{
    s_bench_t *self = arg;
    int64_t now = s_wall_us();
    pthread_mutex_lock(&self->lock);
    if (ev->len != S_PAYLOAD_LEN || s_get64(ev->payload) != self->nonce) {
        self->foreign++;
        pthread_mutex_unlock(&self->lock);
        return KT_EVENT_APPLIED;
    }
    uint64_t index = s_get64(ev->payload + 8);
    int64_t written = (int64_t)s_get64(ev->payload + 16);
    if (index == S_WARMUP_INDEX) {
        self->warmups_applied++;
        pthread_cond_broadcast(&self->changed);
    } else if (index < self->opt->events) {
        self->lag_us[index] = now - written;
        self->written_us[index] = written;
        if (!self->seen[index]) {
            self->seen[index] = 1;
            self->applied++;
            if (self->applied == self->opt->events) {
                self->last_apply_us = kt_now_us();
                pthread_cond_broadcast(&self->changed);
            }
        }
    } else
        self->foreign++;
    pthread_mutex_unlock(&self->lock);
    return KT_EVENT_APPLIED;
}

static const kt_event_handler_t s_handlers[] = {
    {S_EVENT_TYPE, s_on_event},
    {NULL, NULL},
};

//  ---------------------------------------------------------------- the producer's side

static kt_pg_t *s_producer_connect(const s_options_t *opt)
{
    kt_pg_t *pg = kt_pg_new(opt->dsn);
    if (!pg)
        return NULL;
    char sql[128];
    snprintf(sql, sizeof sql, "SET search_path TO \"%s\", pg_catalog", opt->producer);
    if (kt_pg_command(pg, sql) != 0) {
        kt_error("cannot use schema %s: %s", opt->producer, kt_pg_error(pg));
        kt_pg_destroy(&pg);
    }
    return pg;
}

//  One transaction: its events, one INSERT each, each stamped just before
//  it is sent.
static int s_write_tx(kt_pg_t *pg, void *arg)
{
    s_tx_t *tx = arg;
    for (int i = 0; i < tx->n; i++) {
        uint8_t payload[S_PAYLOAD_LEN];
        s_put64(payload, tx->bench->nonce);
        s_put64(payload + 8, tx->first == S_WARMUP_INDEX ? S_WARMUP_INDEX : tx->first + i);
        s_put64(payload + 16, (uint64_t)s_wall_us());
        const char *params[] = {S_EVENT_TYPE, (const char *)payload};
        int lengths[] = {0, S_PAYLOAD_LEN};
        int formats[] = {0, 1};
        PGresult *res = kt_pg_exec_bin(pg, &s_insert, params, lengths, formats);
        if (!res)
            return -1;
        PQclear(res);
    }
    return 0;
}

//  Wait until monotonic time `due_us` (pacing for --rate).
static void s_pace(int64_t due_us)
{
    struct timespec ts = {(time_t)(due_us / 1000000), (long)(due_us % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

//  Stop the run: writers leave at their next transaction, waiters wake.
static void s_abort(s_bench_t *self, bool failed)
{
    pthread_mutex_lock(&self->lock);
    if (failed)
        atomic_store(&self->failed, true);
    atomic_store(&self->stop, true);
    pthread_cond_broadcast(&self->changed);
    pthread_mutex_unlock(&self->lock);
}

//  A writer: connect, say so, wait for `go`, write its share.
static void *s_writer_run(void *arg)
{
    s_writer_t *w = arg;
    s_bench_t *bench = w->bench;
    const s_options_t *opt = bench->opt;
    kt_pg_t *pg = s_producer_connect(opt);
    if (!pg) {
        kt_error("writer %d cannot connect to the producer's database", w->id);
        s_abort(bench, true);
        return NULL;
    }
    //  Connecting is not measured: every writer is connected before the start.
    pthread_mutex_lock(&bench->lock);
    bench->writers_ready++;
    pthread_cond_broadcast(&bench->changed);
    while (!bench->go && !atomic_load(&bench->stop))
        pthread_cond_wait(&bench->changed, &bench->lock);
    pthread_mutex_unlock(&bench->lock);
    //  Each writer offers rate / P events per second, its transactions due
    //  at even intervals from the common start.
    double per_writer = opt->rate > 0 ? opt->rate / opt->writers : 0;
    uint64_t done = 0;
    while (done < w->count && !atomic_load(&bench->stop)) {
        if (per_writer > 0)
            s_pace(bench->start_us + (int64_t)((double)done * 1e6 / per_writer));
        uint64_t left = w->count - done;
        s_tx_t tx = {bench, w->first + done, left < (uint64_t)opt->batch ? (int)left : opt->batch};
        if (kt_pg_tx(pg, S_TX_ATTEMPTS, s_write_tx, &tx) != 0) {
            kt_error("writer %d could not write events %llu..%llu: %s", w->id,
                     (unsigned long long)tx.first, (unsigned long long)(tx.first + tx.n - 1),
                     kt_pg_error(pg));
            s_abort(bench, true);
            break;
        }
        done += (uint64_t)tx.n;
    }
    w->done_us = kt_now_us();
    kt_pg_destroy(&pg);
    return NULL;
}

//  True (and the run stopped) if a stop signal came.
static bool s_signalled(s_bench_t *self)
{
    if (!s_stop_requested())
        return false;
    kt_error("stopped by a signal");
    atomic_store(&self->stop, true);
    return true;
}

//  Write warm-up events, one a transaction, until the consumer applies one
//  (it is then the leader and subscribed), then wait until it has applied
//  every one, so the measured events start on a quiet stream. Returns 0, or
//  -1 if that did not happen within the budget.
static int s_warm_up(s_bench_t *self, kt_pg_t *pg, int64_t run_deadline_us)
{
    int64_t deadline = kt_now_us() + (int64_t)S_WARMUP_BUDGET_MS * 1000;
    if (deadline > run_deadline_us)
        deadline = run_deadline_us;
    uint64_t written = 0;
    bool live = false;
    while (!live && kt_now_us() < deadline) {
        s_tx_t tx = {self, S_WARMUP_INDEX, 1};
        if (kt_pg_tx(pg, S_TX_ATTEMPTS, s_write_tx, &tx) != 0) {
            kt_error("could not write a warm-up event: %s", kt_pg_error(pg));
            return -1;
        }
        written++;
        int64_t until = kt_now_us() + (int64_t)S_WARMUP_WAIT_MS * 1000;
        pthread_mutex_lock(&self->lock);
        while (self->warmups_applied == 0 && kt_now_us() < until && !atomic_load(&self->stop))
            s_wait_changed(self, until);
        live = self->warmups_applied > 0;
        pthread_mutex_unlock(&self->lock);
        if (s_signalled(self))
            return -1;
    }
    pthread_mutex_lock(&self->lock);
    while (self->warmups_applied < written && kt_now_us() < deadline && !s_signalled(self))
        s_wait_changed(self, deadline);
    bool all = self->warmups_applied >= written;
    pthread_mutex_unlock(&self->lock);
    if (!all) {
        kt_error("the consumer of %s into %s did not apply the warm-up events within %d ms "
                 "(applied %llu of %llu)",
                 self->opt->producer, self->opt->schema, S_WARMUP_BUDGET_MS,
                 (unsigned long long)self->warmups_applied, (unsigned long long)written);
        return -1;
    }
    kt_info("consumer live after %llu warm-up event(s)", (unsigned long long)written);
    return 0;
}

//  ---------------------------------------------------------------- figures

//  One second of the run, by the time events were written.
typedef struct {
    int64_t events; //  written in this second
    int64_t lag_p50_us;
    int64_t lag_max_us;
} s_second_t;

//  One event as the timeline sees it.
typedef struct {
    int64_t written_us;
    int64_t lag_us;
} s_sample_t;

typedef struct {
    uint64_t events;
    double produce_s; //  first write to last writer commit
    double e2e_s;     //  first write to last event applied
    double produced_per_s;
    double applied_per_s;
    int64_t lag_min_us, lag_p50_us, lag_p95_us, lag_p99_us, lag_max_us;
    double lag_mean_us;
    int64_t gaps_healed; //  gaps in the live stream filled through EventsSince
    int64_t skipped;     //  malformed or unappliable events the consumer skipped
    uint64_t foreign;
    double load_before[3]; //  getloadavg at start: how busy the machine was
    double load_after[3];
    s_second_t *timeline; //  per second of writing, from the first event; owned
    size_t seconds;       //  entries in timeline
} s_figures_t;

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

//  Nearest-rank percentile of a sorted array.
static int64_t s_percentile(const int64_t *sorted, uint64_t n, double p)
{
    uint64_t rank = (uint64_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static int s_cmp_sample(const void *a, const void *b)
{
    const s_sample_t *x = a, *y = b;
    return (x->written_us > y->written_us) - (x->written_us < y->written_us);
}

//  Lag per second of the run (by written time), to show when it grew: a
//  backlog, a checkpoint, a neighbour on the machine. Leaves f->timeline
//  NULL if memory is short (the JSON then has none).
static void s_timeline(const s_bench_t *self, s_figures_t *f)
{
    uint64_t n = self->opt->events;
    s_sample_t *samples = malloc(n * sizeof *samples);
    int64_t *lags = malloc(n * sizeof *lags);
    if (!samples || !lags)
        goto cleanup;
    for (uint64_t i = 0; i < n; i++)
        samples[i] = (s_sample_t){self->written_us[i], self->lag_us[i]};
    qsort(samples, n, sizeof *samples, s_cmp_sample);
    int64_t t0 = samples[0].written_us;
    size_t seconds = (size_t)((samples[n - 1].written_us - t0) / 1000000) + 1;
    f->timeline = calloc(seconds, sizeof *f->timeline);
    if (!f->timeline)
        goto cleanup;
    f->seconds = seconds;
    for (uint64_t i = 0; i < n;) {
        size_t second = (size_t)((samples[i].written_us - t0) / 1000000);
        uint64_t k = 0;
        while (i + k < n && (size_t)((samples[i + k].written_us - t0) / 1000000) == second) {
            lags[k] = samples[i + k].lag_us;
            k++;
        }
        qsort(lags, k, sizeof *lags, s_cmp_i64);
        f->timeline[second] = (s_second_t){(int64_t)k, s_percentile(lags, k, 50), lags[k - 1]};
        i += k;
    }
cleanup:
    free(lags);
    free(samples);
}

static void s_figures(s_bench_t *self, const s_writer_t *writers, s_figures_t *f)
{
    const s_options_t *opt = self->opt;
    int64_t produced_us = self->start_us;
    for (int i = 0; i < opt->writers; i++)
        if (writers[i].done_us > produced_us)
            produced_us = writers[i].done_us;
    f->events = opt->events;
    f->produce_s = (double)(produced_us - self->start_us) / 1e6;
    f->e2e_s = (double)(self->last_apply_us - self->start_us) / 1e6;
    f->produced_per_s = f->produce_s > 0 ? (double)opt->events / f->produce_s : 0;
    f->applied_per_s = f->e2e_s > 0 ? (double)opt->events / f->e2e_s : 0;
    s_timeline(self, f);
    qsort(self->lag_us, opt->events, sizeof *self->lag_us, s_cmp_i64);
    double sum = 0;
    for (uint64_t i = 0; i < opt->events; i++)
        sum += (double)self->lag_us[i];
    f->lag_mean_us = sum / (double)opt->events;
    f->lag_min_us = self->lag_us[0];
    f->lag_p50_us = s_percentile(self->lag_us, opt->events, 50);
    f->lag_p95_us = s_percentile(self->lag_us, opt->events, 95);
    f->lag_p99_us = s_percentile(self->lag_us, opt->events, 99);
    f->lag_max_us = self->lag_us[opt->events - 1];
    f->foreign = self->foreign;
}

//  The consumer's own counters (kt_events.c registers them in this process).
static void s_consumer_counters(const s_options_t *opt, s_figures_t *f)
{
    char labels[96];
    snprintf(labels, sizeof labels, "consumer=\"%s\",producer=\"%s\"", opt->schema, opt->producer);
    f->gaps_healed = kt_metric_value(kt_counter("kontor_consumer_gaps_healed_total", labels,
                                                "Gaps in the live stream filled from EventsSince"));
    f->skipped = kt_metric_value(kt_counter("kontor_consumer_skipped_total", labels,
                                            "Malformed or unappliable events skipped"));
}

static void s_print_table(const s_options_t *opt, const s_figures_t *f)
{
    printf("%-22s %8s %7s %5s %7s %11s %11s %9s %9s %9s %9s %5s\n", "run", "events", "writers",
           "batch", "rate", "produced/s", "applied/s", "lag p50", "lag p95", "lag p99", "lag max",
           "gaps");
    char rate[16];
    if (opt->rate > 0)
        snprintf(rate, sizeof rate, "%.0f", opt->rate);
    else
        snprintf(rate, sizeof rate, "max");
    printf("%-22s %8llu %7d %5d %7s %11.0f %11.0f %7.1fms %7.1fms %7.1fms %7.1fms %5lld\n",
           opt->label, (unsigned long long)f->events, opt->writers, opt->batch, rate,
           f->produced_per_s, f->applied_per_s, (double)f->lag_p50_us / 1000,
           (double)f->lag_p95_us / 1000, (double)f->lag_p99_us / 1000, (double)f->lag_max_us / 1000,
           (long long)f->gaps_healed);
    fflush(stdout);
}

static json_object *s_load_json(const double load[3])
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < 3; i++)
        json_object_array_add(a, json_object_new_double(load[i]));
    return a;
}

//  Write the run as one JSON object to opt->json_path. Returns 0 or -1.
static int s_write_json(const s_options_t *opt, const s_figures_t *f)
{
    json_object *root = json_object_new_object();
    json_object *config = json_object_new_object();
    json_object *lag = json_object_new_object();
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    struct utsname uts;
    const char *host = uname(&uts) == 0 ? uts.nodename : "";

    json_object_object_add(root, "benchmark", json_object_new_string("events"));
    json_object_object_add(root, "label", json_object_new_string(opt->label));
    json_object_object_add(root, "date", json_object_new_string(date));
    json_object_object_add(root, "host", json_object_new_string(host));
    json_object_object_add(config, "events", json_object_new_int64((int64_t)opt->events));
    json_object_object_add(config, "writers", json_object_new_int(opt->writers));
    json_object_object_add(config, "batch", json_object_new_int(opt->batch));
    json_object_object_add(config, "rate", json_object_new_double(opt->rate));
    json_object_object_add(config, "producer", json_object_new_string(opt->producer));
    json_object_object_add(config, "consumer_as", json_object_new_string(opt->as));
    json_object_object_add(config, "consumer_schema", json_object_new_string(opt->schema));
    json_object_object_add(config, "payload_bytes", json_object_new_int(S_PAYLOAD_LEN));
    json_object_object_add(root, "config", config);
    json_object_object_add(root, "produce_seconds", json_object_new_double(f->produce_s));
    json_object_object_add(root, "end_to_end_seconds", json_object_new_double(f->e2e_s));
    json_object_object_add(root, "produced_per_second", json_object_new_double(f->produced_per_s));
    json_object_object_add(root, "applied_per_second", json_object_new_double(f->applied_per_s));
    json_object_object_add(lag, "min", json_object_new_int64(f->lag_min_us));
    json_object_object_add(lag, "mean", json_object_new_double(f->lag_mean_us));
    json_object_object_add(lag, "p50", json_object_new_int64(f->lag_p50_us));
    json_object_object_add(lag, "p95", json_object_new_int64(f->lag_p95_us));
    json_object_object_add(lag, "p99", json_object_new_int64(f->lag_p99_us));
    json_object_object_add(lag, "max", json_object_new_int64(f->lag_max_us));
    json_object_object_add(root, "lag_us", lag);
    json_object_object_add(root, "gaps_healed", json_object_new_int64(f->gaps_healed));
    json_object_object_add(root, "skipped", json_object_new_int64(f->skipped));
    json_object_object_add(root, "foreign_events", json_object_new_int64((int64_t)f->foreign));
    json_object_object_add(root, "loadavg_before", s_load_json(f->load_before));
    json_object_object_add(root, "loadavg_after", s_load_json(f->load_after));
    json_object *timeline = json_object_new_array();
    for (size_t i = 0; i < f->seconds; i++) {
        json_object *second = json_object_new_object();
        json_object_object_add(second, "second", json_object_new_int64((int64_t)i));
        json_object_object_add(second, "events", json_object_new_int64(f->timeline[i].events));
        json_object_object_add(second, "lag_p50_us",
                               json_object_new_int64(f->timeline[i].lag_p50_us));
        json_object_object_add(second, "lag_max_us",
                               json_object_new_int64(f->timeline[i].lag_max_us));
        json_object_array_add(timeline, second);
    }
    json_object_object_add(root, "timeline", timeline);

    int rc = -1;
    if (s_mkdir_parents(opt->json_path) != 0)
        kt_error("cannot create the folder of %s: %s", opt->json_path, strerror(errno));
    else if (json_object_to_file_ext(opt->json_path, root, JSON_C_TO_STRING_PRETTY) != 0)
        kt_error("cannot write %s: %s", opt->json_path, json_util_get_last_err());
    else
        rc = 0;
    json_object_put(root);
    return rc;
}

//  ---------------------------------------------------------------- main

static void s_usage(FILE *out)
{
    fprintf(out, "usage: kontor-bench-events [OPTIONS] PRODUCER_DSN\n"
                 "\n"
                 "Writes events into PRODUCER's outbox over PRODUCER_DSN (its role or the\n"
                 "superuser), lets the running PRODUCER service relay them through the bus, and\n"
                 "consumes them in this process with kt_consumer into SCHEMA. Reports events\n"
                 "per second produced and applied end to end, and the lag from write to apply.\n"
                 "The bus, the consumer's database and key come from KONTOR_* variables, as for\n"
                 "the --as service's own process. SCHEMA holds an event_offsets table like the\n"
                 "services' and belongs to that service's role (docs/performance.md).\n"
                 "\n"
                 "  --events N       events measured (default 10000)\n"
                 "  --writers P      writer threads, one connection each (default 1)\n"
                 "  --batch B        events per transaction (default 1)\n"
                 "  --rate R         events per second offered in total, paced; 0 = as fast\n"
                 "                   as the writers go (default 0)\n"
                 "  --producer NAME  the producing service (default orders)\n"
                 "  --as NAME        the service the consumer acts as (default clients)\n"
                 "  --schema NAME    the schema consumed into (default bench)\n"
                 "  --label TEXT     the run's name in the table and the JSON\n"
                 "  --json FILE      where the JSON goes (default " S_DEFAULT_JSON ")\n"
                 "  --timeout S      give up after S seconds (default 300)\n"
                 "\n"
                 "example: kontor-bench-events --events 20000 --writers 4 --batch 10 \\\n"
                 "             'host=127.0.0.1 port=15432 dbname=kontor user=kontor_orders'\n");
}

//  A service or schema name: lower-case letters, digits and '_'.
static bool s_is_name(const char *s)
{
    if (!s || !*s || strlen(s) > KT_SERVICE_NAME_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

//  Parse argv into opt. Returns 0, 1 for --help (printed), or -1 (message printed).
static int s_parse(int argc, char **argv, s_options_t *opt, char *label, size_t label_size)
{
    *opt = (s_options_t){.events = 10000,
                         .writers = 1,
                         .batch = 1,
                         .producer = "orders",
                         .as = "clients",
                         .schema = "bench",
                         .json_path = S_DEFAULT_JSON,
                         .timeout_s = 300};
    const char *label_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 1;
        }
        if (a[0] != '-') {
            if (opt->dsn) {
                fprintf(stderr, "kontor-bench-events: one PRODUCER_DSN only: '%s'\n", a);
                return -1;
            }
            opt->dsn = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kontor-bench-events: %s needs a value (try --help)\n", a);
            return -1;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        bool ok = true;
        if (strcmp(a, "--events") == 0)
            ok = s_parse_u64(v, 1, S_MAX_EVENTS, &opt->events) == 0;
        else if (strcmp(a, "--writers") == 0) {
            ok = s_parse_u64(v, 1, S_MAX_WRITERS, &n) == 0;
            opt->writers = (int)n;
        } else if (strcmp(a, "--batch") == 0) {
            ok = s_parse_u64(v, 1, S_MAX_BATCH, &n) == 0;
            opt->batch = (int)n;
        } else if (strcmp(a, "--rate") == 0) {
            ok = s_parse_u64(v, 0, 10000000, &n) == 0;
            opt->rate = (double)n;
        } else if (strcmp(a, "--timeout") == 0) {
            ok = s_parse_u64(v, 1, 86400, &n) == 0;
            opt->timeout_s = (int)n;
        } else if (strcmp(a, "--producer") == 0)
            ok = s_is_name(opt->producer = v);
        else if (strcmp(a, "--as") == 0)
            ok = s_is_name(opt->as = v);
        else if (strcmp(a, "--schema") == 0)
            ok = s_is_name(opt->schema = v);
        else if (strcmp(a, "--label") == 0)
            ok = *(label_arg = v) != '\0';
        else if (strcmp(a, "--json") == 0)
            ok = *(opt->json_path = v) != '\0';
        else {
            fprintf(stderr, "kontor-bench-events: unknown option '%s' (try --help)\n", a);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "kontor-bench-events: bad value for %s: '%s' (try --help)\n", a, v);
            return -1;
        }
    }
    if (!opt->dsn) {
        fprintf(stderr, "kontor-bench-events: PRODUCER_DSN is missing (try --help)\n");
        return -1;
    }
    if ((uint64_t)opt->writers > opt->events) {
        fprintf(stderr, "kontor-bench-events: more writers (%d) than events (%llu)\n", opt->writers,
                (unsigned long long)opt->events);
        return -1;
    }
    if (label_arg)
        snprintf(label, label_size, "%s", label_arg);
    else
        snprintf(label, label_size, "%dx%d", opt->writers, opt->batch);
    opt->label = label;
    return 0;
}

static s_bench_t *s_bench_new(const s_options_t *opt)
{
    s_bench_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->opt = opt;
    self->lag_us = calloc(opt->events, sizeof *self->lag_us);
    self->written_us = calloc(opt->events, sizeof *self->written_us);
    self->seen = calloc(opt->events, 1);
    if (!self->lag_us || !self->written_us || !self->seen) {
        free(self->seen);
        free(self->written_us);
        free(self->lag_us);
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->changed, &attr);
    pthread_condattr_destroy(&attr);
    //  Unique enough across runs against one database: pid and wall time.
    self->nonce = ((uint64_t)getpid() << 40) ^ (uint64_t)s_wall_us();
    return self;
}

static void s_bench_destroy(s_bench_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_bench_t *self = *self_p;
    pthread_cond_destroy(&self->changed);
    pthread_mutex_destroy(&self->lock);
    free(self->seen);
    free(self->written_us);
    free(self->lag_us);
    free(self);
    *self_p = NULL;
}

//  Start the writers, release them together once all are connected, wait
//  until every event is applied (or the run fails), join them. Returns 0
//  when all N were applied.
static int s_measure(s_bench_t *self, s_writer_t *writers, int64_t deadline_us)
{
    const s_options_t *opt = self->opt;
    uint64_t share = opt->events / (uint64_t)opt->writers;
    uint64_t extra = opt->events % (uint64_t)opt->writers;
    uint64_t next = 0;
    int started = 0;
    for (; started < opt->writers; started++) {
        s_writer_t *w = &writers[started];
        w->bench = self;
        w->id = started;
        w->first = next;
        w->count = share + ((uint64_t)started < extra ? 1 : 0);
        next += w->count;
        if (pthread_create(&w->thread, NULL, s_writer_run, w) != 0) {
            kt_error("cannot start writer thread %d", started);
            s_abort(self, true);
            break;
        }
    }
    pthread_mutex_lock(&self->lock);
    while (self->writers_ready < started && !atomic_load(&self->stop) &&
           kt_now_us() < deadline_us && !s_signalled(self))
        s_wait_changed(self, deadline_us);
    if (self->writers_ready == opt->writers && !atomic_load(&self->stop)) {
        self->start_us = kt_now_us();
        self->go = true;
        pthread_cond_broadcast(&self->changed);
        kt_info("writing %llu events: %d writer(s), %d per transaction%s",
                (unsigned long long)opt->events, opt->writers, opt->batch,
                opt->rate > 0 ? ", paced" : "");
    }
    int64_t next_progress = kt_now_us() + (int64_t)S_PROGRESS_EVERY_MS * 1000;
    while (self->go && self->applied < opt->events && !atomic_load(&self->failed)) {
        int64_t now = kt_now_us();
        if (now >= deadline_us) {
            kt_error("not done within %d s: %llu of %llu events applied", opt->timeout_s,
                     (unsigned long long)self->applied, (unsigned long long)opt->events);
            break;
        }
        if (s_signalled(self))
            break;
        if (now >= next_progress) {
            kt_info("applied %llu of %llu", (unsigned long long)self->applied,
                    (unsigned long long)opt->events);
            next_progress = now + (int64_t)S_PROGRESS_EVERY_MS * 1000;
        }
        s_wait_changed(self, deadline_us);
    }
    bool all = self->go && self->applied == opt->events;
    atomic_store(&self->stop, true);
    pthread_cond_broadcast(&self->changed);
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < started; i++)
        pthread_join(writers[i].thread, NULL);
    return all && !atomic_load(&self->failed) ? 0 : -1;
}

int main(int argc, char **argv)
{
    //  Before any thread: stop signals are taken by the main thread only
    //  (s_stop_requested), and CZMQ installs no handler of its own.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);

    s_options_t opt;
    char label[64];
    int rc = s_parse(argc, argv, &opt, label, sizeof label);
    if (rc != 0)
        return rc > 0 ? S_EXIT_OK : S_EXIT_USAGE;
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, opt.as, why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bench-events: %s\n", why);
        return S_EXIT_USAGE;
    }
    kt_log_init("bench-events", cfg.log_level);
    int64_t deadline_us = kt_now_us() + (int64_t)opt.timeout_s * 1000000;

    s_figures_t fig = {0};
    getloadavg(fig.load_before, 3);
    s_bench_t *bench = s_bench_new(&opt);
    s_writer_t *writers = calloc((size_t)opt.writers, sizeof *writers);
    kt_pg_t *pg = NULL;
    kt_consumer_t *consumer = NULL;
    int status = S_EXIT_FAILED;
    if (!bench || !writers) {
        kt_error("out of memory for %llu events", (unsigned long long)opt.events);
        goto cleanup;
    }
    pg = s_producer_connect(&opt);
    if (!pg) {
        kt_error("cannot connect to the producer's database");
        goto cleanup;
    }
    consumer = kt_consumer_new(&cfg, opt.schema, opt.producer, s_handlers, bench);
    if (!consumer) {
        kt_error("cannot start the consumer of %s into %s as %s (does %s.event_offsets exist, "
                 "owned by the role of %s?)",
                 opt.producer, opt.schema, opt.as, opt.schema, opt.as);
        goto cleanup;
    }
    if (s_warm_up(bench, pg, deadline_us) != 0 || s_measure(bench, writers, deadline_us) != 0)
        goto cleanup;
    s_consumer_counters(&opt, &fig);
    //  The consumer is done with the arrays once it is stopped.
    kt_consumer_destroy(&consumer);
    getloadavg(fig.load_after, 3);
    s_figures(bench, writers, &fig);
    s_print_table(&opt, &fig);
    status = s_write_json(&opt, &fig) == 0 ? S_EXIT_OK : S_EXIT_FAILED;

cleanup:
    free(fig.timeline);
    kt_consumer_destroy(&consumer);
    kt_pg_destroy(&pg);
    free(writers);
    s_bench_destroy(&bench);
    return status;
}
