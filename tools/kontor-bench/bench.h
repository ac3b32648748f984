/*  bench - what the parts of kontor-bench share: the data set's shape, the
 *  latency histogram, the process sampler, the loader and the terminals.
 *
 *  kontor-bench drives Kontor the way TPC-C drives a database: N terminals,
 *  each a manager at a desk, run a mix of business transactions back to back
 *  for a fixed time after a warm-up; every transaction's latency goes into a
 *  histogram of its type. See main.c for the command line and
 *  docs/performance.md for what the figures mean.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kt_config.h"

//  ---------------------------------------------------------------- the data set

//  Principals the terminals act as (made by kontor-keygen beside the set's
//  other keys): "bench-manager-<k>" (manager, id BENCH_MANAGER_BASE + k) for
//  k = 1..managers, "bench-accountant" and "bench-wms" (logistics system).
#define BENCH_MANAGER_BASE 1000
#define BENCH_ACCOUNTANT "bench-accountant"
#define BENCH_WMS "bench-wms"

typedef struct {
    int clients;        //  10,000 in the reference
    int skus;           //  100,000 in the reference
    int managers;       //  clients are split among them in contiguous blocks
} bench_shape_t;

//  The manager (1..managers) of client `client` (1..clients).
int bench_manager_of(const bench_shape_t *shape, int client);

//  Load the data set into a fresh set's schemas, as the superuser at `dsn`
//  (see bench_load.c for exactly what is written), and wait until the
//  logistics service has rebuilt the Redis availability cache from it
//  (Redis as in `cfg`). Prints progress on stderr. 0 or -1.
int bench_load(const char *dsn, const bench_shape_t *shape, const kt_config_t *cfg,
               int cache_wait_s);

//  ---------------------------------------------------------------- histograms

//  Latency histogram in microseconds, log-linear: exact below 64 us, then 32
//  buckets per power of two (at most 3 % wide), up to ~2^40 us. Adding is
//  O(1) and lock-free per owner; histograms merge by adding.
#define BENCH_HIST_BUCKETS 1280

typedef struct {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t n;
    int64_t max_us;
    int64_t min_us;
    double sum_us;
} bench_hist_t;

void bench_hist_add(bench_hist_t *h, int64_t us);
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
//  The value at quantile q (0..1]: the upper edge of the bucket holding the
//  nearest-rank sample (never above max). 0 when empty.
int64_t bench_hist_quantile(const bench_hist_t *h, double q);

//  ---------------------------------------------------------------- processes

//  CPU time (user + system, in clock ticks) and peak resident memory
//  (VmHWM, kB) of a process; for a PostgreSQL postmaster, of it and its
//  children (the backends and auxiliary processes).
typedef struct {
    char name[32];          //  "orders", "postgresql", ...
    pid_t pid;
    bool with_children;     //  add the children (postmaster)
    //  samples
    uint64_t ticks0, ticks1;
    long hwm_kb;            //  the process's own VmHWM (kB) at the end
    long child_hwm_max_kb;  //  largest VmHWM among the children
    int children;           //  children seen at the end
    int children0;          //  ... at the start
} bench_proc_t;

//  Live children of a process now.
int bench_proc_children(pid_t pid);

//  Take the first / last sample. The last also reads VmHWM.
void bench_proc_start(bench_proc_t *procs, size_t n);
void bench_proc_stop(bench_proc_t *procs, size_t n);
//  Seconds of CPU between the two samples.
double bench_proc_cpu_s(const bench_proc_t *p);

//  ---------------------------------------------------------------- the workload

typedef enum {
    BENCH_TX_ORDER = 0,     //  PlaceOrder
    BENCH_TX_PAYMENT,       //  RecordPayment
    BENCH_TX_STATUS,        //  GetOrder + ListOrders of the client
    BENCH_TX_DISPATCH,      //  ListShipments + UpdateShipment(DISPATCHED) for up to 10
    BENCH_TX_STOCK,         //  Availability of the SKUs of recent orders
    BENCH_TX_COUNT
} bench_tx_t;

const char *bench_tx_name(int tx);

#define BENCH_MAX_REASONS 24

//  Outcomes of one transaction type, summed over terminals.
typedef struct {
    bench_hist_t hist;          //  latency of every transaction that got an answer
    uint64_t ok;                //  answered with the outcome asked for
    uint64_t refused;           //  answered with a business refusal
    uint64_t errors;            //  no business answer (error status, timeout)
    char reasons[BENCH_MAX_REASONS][49];     //  refusal reasons seen
    uint64_t reason_n[BENCH_MAX_REASONS];
    uint64_t status_n[20];      //  errors by status number (kt_status.h)
    uint64_t items;             //  PlaceOrder: confirmed; dispatch: shipments dispatched
} bench_result_t;

typedef struct {
    const kt_config_t *cfg;
    bench_shape_t shape;
    int terminals;
    int warmup_s;
    int seconds;
    int mix[BENCH_TX_COUNT];    //  weights in percent
    bool hot;                   //  20 % of lines on SKUs 1..100
    int64_t warehouse_id;
    const char *run_id;         //  makes idempotency keys and references unique
    int timeout_ms;             //  budget of one call
} bench_run_t;

//  Run the terminals: warm-up, then the measured window, in which
//  `on_measure(arg)` is called at its start and `on_end(arg)` at its end.
//  Fills results[BENCH_TX_COUNT]; *elapsed_s is the measured window. 0, or
//  -1 if the terminals could not start (keys, bus).
int bench_run(const bench_run_t *run, bench_result_t *results, double *elapsed_s,
              void (*on_measure)(void *), void (*on_end)(void *), void *arg);

#endif
