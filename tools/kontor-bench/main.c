/*  kontor-bench - the TPC-C-like workload driver for a Kontor set.
 *
 *      kontor-bench load [--clients N] [--skus N] [--managers N]
 *                        [--cache-wait S] SUPERUSER_DSN
 *      kontor-bench run  [--label L] [--terminals N] [--seconds S] [--warmup S]
 *                        [--mix tpcc|orders|A,B,C,D,E] [--hot] [--clients N]
 *                        [--skus N] [--managers N] [--warehouse ID]
 *                        [--proc NAME=PID]... [--pg-postmaster PID]
 *                        [--json FILE]
 *      kontor-bench exec [--label L] [--proc NAME=PID]... [--pg-postmaster PID]
 *                        [--json FILE] -- COMMAND [ARGS...]
 *
 *  `exec` measures another program the same way (the reference's pgbench):
 *  it samples the processes named, runs COMMAND to its end, samples again,
 *  and reports their CPU and peak memory, and COMMAND's own (from its
 *  rusage); COMMAND's output passes through. Its exit status is COMMAND's.
 *
 *  Load and run run against a set whose KONTOR_* environment they are given (as
 *  tests/run.sh, the harness or tests/bench/run.sh set it). `load` writes
 *  the benchmark's data set into a fresh set (bench_load.c) and waits for
 *  the availability cache. `run` runs N terminals (bench_work.c) for a
 *  warm-up and then S measured seconds, and prints, per transaction type,
 *  what was done, the rate, latency p50/p95/p99/max from a histogram,
 *  refusals by reason and errors by status; and per process named with
 *  --proc (and PostgreSQL with its backends, --pg-postmaster) the CPU
 *  seconds used in the window and the peak resident memory. The same goes
 *  to --json as one object.
 *
 *  The mix is in percent: PlaceOrder, RecordPayment, order status,
 *  dispatch, stock level. `tpcc` is 45,43,4,4,4 and `orders` 100,0,0,0,0.
 *  Principals: bench-manager-1..M, bench-accountant, bench-wms (bench.h),
 *  whose secret keys are beside KONTOR_CERT's.
 *
 *  Exit status: 0 when the run finished (whatever the figures), 1 when it
 *  could not run or a transaction type failed every time, 2 on a usage
 *  error. Figures are reported, never judged.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kt_log.h"
#include "kt_metrics.h"
#include "kt_process.h"
#include "kt_status.h"

#define S_MAX_PROCS 16

typedef struct {
    const char *cmd;
    const char *label;
    const char *json;
    const char *dsn;
    bench_shape_t shape;
    int terminals;
    int seconds;
    int warmup;
    int mix[BENCH_TX_COUNT];
    bool hot;
    int64_t warehouse;
    int cache_wait;
    bench_proc_t procs[S_MAX_PROCS];
    size_t nprocs;
    char **command;             //  exec: what to run
} s_opts_t;

static void s_usage(void)
{
    fprintf(stderr,
            "usage: kontor-bench load [--clients N] [--skus N] [--managers N] [--cache-wait S]"
            " SUPERUSER_DSN\n"
            "       kontor-bench run [--label L] [--terminals N] [--seconds S] [--warmup S]\n"
            "                        [--mix tpcc|orders|P,R,S,D,L] [--hot] [--clients N]"
            " [--skus N]\n"
            "                        [--managers N] [--warehouse ID] [--proc NAME=PID]..."
            " [--pg-postmaster PID]\n"
            "                        [--json FILE]\n"
            "       kontor-bench exec [--label L] [--proc NAME=PID]... [--pg-postmaster PID]"
            " [--json FILE]\n"
            "                         -- COMMAND [ARGS...]\n");
}

static int s_int(const char *v, int min, int max, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max)
        return -1;
    *out = (int) n;
    return 0;
}

static int s_mix(const char *v, int mix[BENCH_TX_COUNT])
{
    static const int tpcc[] = {45, 43, 4, 4, 4}, orders[] = {100, 0, 0, 0, 0};
    if (strcmp(v, "tpcc") == 0 || strcmp(v, "orders") == 0) {
        memcpy(mix, strcmp(v, "tpcc") == 0 ? tpcc : orders, sizeof tpcc);
        return 0;
    }
    char copy[64];
    snprintf(copy, sizeof copy, "%s", v);
    int n = 0, sum = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == BENCH_TX_COUNT || s_int(t, 0, 100, &mix[n]) != 0)
            return -1;
        sum += mix[n++];
    }
    return n == BENCH_TX_COUNT && sum == 100 ? 0 : -1;
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    *o = (s_opts_t) {.label = "run", .shape = {10000, 100000, 32}, .terminals = 1,
                     .seconds = 20, .warmup = 5, .warehouse = 1, .cache_wait = 120};
    s_mix("tpcc", o->mix);
    if (argc < 2)
        return -1;
    o->cmd = argv[1];
    if (strcmp(o->cmd, "load") != 0 && strcmp(o->cmd, "run") != 0
        && strcmp(o->cmd, "exec") != 0)
        return -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0 && strcmp(o->cmd, "exec") == 0) {
            o->command = i + 1 < argc ? &argv[i + 1] : NULL;
            break;
        }
        if (strcmp(a, "--hot") == 0) {
            o->hot = true;
            continue;
        }
        if (a[0] != '-') {
            if (o->dsn)
                return -1;
            o->dsn = a;
            continue;
        }
        if (!v)
            return -1;
        i++;
        int pid;
        if (strcmp(a, "--label") == 0)
            o->label = v;
        else if (strcmp(a, "--json") == 0)
            o->json = v;
        else if (strcmp(a, "--clients") == 0) {
            if (s_int(v, 1, 10000000, &o->shape.clients) != 0)
                return -1;
        } else if (strcmp(a, "--skus") == 0) {
            if (s_int(v, 200, 10000000, &o->shape.skus) != 0)
                return -1;
        } else if (strcmp(a, "--managers") == 0) {
            if (s_int(v, 1, 1000, &o->shape.managers) != 0)
                return -1;
        } else if (strcmp(a, "--terminals") == 0) {
            if (s_int(v, 1, 1000, &o->terminals) != 0)
                return -1;
        } else if (strcmp(a, "--seconds") == 0) {
            if (s_int(v, 1, 3600, &o->seconds) != 0)
                return -1;
        } else if (strcmp(a, "--warmup") == 0) {
            if (s_int(v, 0, 3600, &o->warmup) != 0)
                return -1;
        } else if (strcmp(a, "--cache-wait") == 0) {
            if (s_int(v, 1, 3600, &o->cache_wait) != 0)
                return -1;
        } else if (strcmp(a, "--warehouse") == 0) {
            int w;
            if (s_int(v, 1, 1000000000, &w) != 0)
                return -1;
            o->warehouse = w;
        } else if (strcmp(a, "--mix") == 0) {
            if (s_mix(v, o->mix) != 0)
                return -1;
        } else if (strcmp(a, "--proc") == 0 || strcmp(a, "--pg-postmaster") == 0) {
            const char *eq = strcmp(a, "--proc") == 0 ? strchr(v, '=') : NULL;
            const char *num = eq ? eq + 1 : v;
            if (o->nprocs == S_MAX_PROCS || s_int(num, 1, 1 << 30, &pid) != 0)
                return -1;
            if (strcmp(a, "--proc") == 0 && !eq)
                return -1;
            bench_proc_t *p = &o->procs[o->nprocs++];
            memset(p, 0, sizeof *p);
            if (eq)
                snprintf(p->name, sizeof p->name, "%.*s", (int) (eq - v), v);
            else {
                snprintf(p->name, sizeof p->name, "postgresql");
                p->with_children = true;
            }
            p->pid = pid;
        } else
            return -1;
    }
    if (strcmp(o->cmd, "load") == 0 && !o->dsn)
        return -1;
    if (strcmp(o->cmd, "run") == 0 && o->dsn)
        return -1;
    if (strcmp(o->cmd, "exec") == 0 && (o->dsn || !o->command))
        return -1;
    if (o->shape.managers > o->shape.clients)
        return -1;
    return 0;
}

//  ---------------------------------------------------------------- reporting

typedef struct {
    s_opts_t *o;
    struct timespec cpu0, cpu1;
} s_window_t;

static void s_on_measure(void *arg)
{
    s_window_t *w = arg;
    bench_proc_start(w->o->procs, w->o->nprocs);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &w->cpu0);
}

static void s_on_end(void *arg)
{
    s_window_t *w = arg;
    bench_proc_stop(w->o->procs, w->o->nprocs);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &w->cpu1);
}

static double s_ms(int64_t us)
{
    return (double) us / 1000.0;
}

static void s_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void s_report(const s_opts_t *o, const bench_result_t *res, double secs,
                     double driver_cpu_s, FILE *json)
{
    printf("run %s: %d terminal%s, %.1f s measured after %d s warm-up, mix %d/%d/%d/%d/%d,"
           " SKUs %s\n",
           o->label, o->terminals, o->terminals == 1 ? "" : "s", secs, o->warmup, o->mix[0],
           o->mix[1], o->mix[2], o->mix[3], o->mix[4], o->hot ? "hot" : "uniform");
    printf("  %-14s %8s %8s %8s %7s %8s %8s %8s %8s %8s\n", "transaction", "done", "per s",
           "refused", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "items");
    for (int tx = 0; tx < BENCH_TX_COUNT; tx++) {
        const bench_result_t *r = &res[tx];
        if (o->mix[tx] == 0)
            continue;
        uint64_t done = r->ok + r->refused;
        printf("  %-14s %8" PRIu64 " %8.1f %8" PRIu64 " %7" PRIu64 " %8.2f %8.2f %8.2f %8.2f"
               " %8" PRIu64 "\n",
               bench_tx_name(tx), done, (double) done / secs, r->refused, r->errors,
               s_ms(bench_hist_quantile(&r->hist, 0.50)),
               s_ms(bench_hist_quantile(&r->hist, 0.95)),
               s_ms(bench_hist_quantile(&r->hist, 0.99)), s_ms(r->hist.max_us), r->items);
        for (int k = 0; k < BENCH_MAX_REASONS && r->reasons[k][0]; k++)
            printf("      refused %-28s %8" PRIu64 "\n", r->reasons[k], r->reason_n[k]);
        for (int s = 0; s < 20; s++)
            if (r->status_n[s])
                printf("      error   %-28s %8" PRIu64 "\n", kt_status_name(s), r->status_n[s]);
    }
    //  One machine-readable line per type (tests/bench/run.sh reads them).
    for (int tx = 0; tx < BENCH_TX_COUNT; tx++) {
        const bench_result_t *r = &res[tx];
        if (o->mix[tx] == 0)
            continue;
        uint64_t done = r->ok + r->refused;
        printf("#result %s %s %.2f %.3f %.3f %.3f %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
               o->label, bench_tx_name(tx), (double) done / secs,
               s_ms(bench_hist_quantile(&r->hist, 0.50)),
               s_ms(bench_hist_quantile(&r->hist, 0.99)), s_ms(r->hist.max_us), r->refused,
               r->errors, r->items);
    }
    double total_cpu = driver_cpu_s;
    for (size_t i = 0; i < o->nprocs; i++)
        total_cpu += bench_proc_cpu_s(&o->procs[i]);
    printf("#cpu %s %.3f %.3f\n", o->label, total_cpu, driver_cpu_s);
    printf("  %-14s %10s %8s %10s\n", "process", "cpu s", "cores", "peak MB");
    for (size_t i = 0; i < o->nprocs; i++) {
        const bench_proc_t *p = &o->procs[i];
        double cpu = bench_proc_cpu_s(p);
        if (p->with_children)
            printf("  %-14s %10.2f %8.2f %10.1f  (postmaster; largest of %d children %.1f)\n",
                   p->name, cpu, cpu / secs, (double) p->hwm_kb / 1024.0, p->children,
                   (double) p->child_hwm_max_kb / 1024.0);
        else
            printf("  %-14s %10.2f %8.2f %10.1f\n", p->name, cpu, cpu / secs,
                   (double) p->hwm_kb / 1024.0);
    }
    printf("  %-14s %10.2f %8.2f\n", "driver", driver_cpu_s, driver_cpu_s / secs);
    fflush(stdout);
    if (!json)
        return;
    fprintf(json, "{\"label\":");
    s_json_str(json, o->label);
    fprintf(json,
            ",\"terminals\":%d,\"seconds\":%.3f,\"warmup_s\":%d,\"skus\":\"%s\","
            "\"mix\":[%d,%d,%d,%d,%d],\"clients\":%d,\"sku_count\":%d,\"managers\":%d,"
            "\"transactions\":{",
            o->terminals, secs, o->warmup, o->hot ? "hot" : "uniform", o->mix[0], o->mix[1],
            o->mix[2], o->mix[3], o->mix[4], o->shape.clients, o->shape.skus,
            o->shape.managers);
    bool first = true;
    for (int tx = 0; tx < BENCH_TX_COUNT; tx++) {
        const bench_result_t *r = &res[tx];
        if (o->mix[tx] == 0)
            continue;
        uint64_t done = r->ok + r->refused;
        fprintf(json, "%s\"%s\":{\"done\":%" PRIu64 ",\"per_s\":%.2f,\"ok\":%" PRIu64
                      ",\"refused\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"items\":%" PRIu64
                      ",\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
                      "\"mean_ms\":%.3f,\"refusals\":{",
                first ? "" : ",", bench_tx_name(tx), done, (double) done / secs, r->ok,
                r->refused, r->errors, r->items, s_ms(bench_hist_quantile(&r->hist, 0.50)),
                s_ms(bench_hist_quantile(&r->hist, 0.95)),
                s_ms(bench_hist_quantile(&r->hist, 0.99)), s_ms(r->hist.max_us),
                r->hist.n ? r->hist.sum_us / (double) r->hist.n / 1000.0 : 0.0);
        first = false;
        for (int k = 0; k < BENCH_MAX_REASONS && r->reasons[k][0]; k++) {
            fprintf(json, "%s", k ? "," : "");
            s_json_str(json, r->reasons[k]);
            fprintf(json, ":%" PRIu64, r->reason_n[k]);
        }
        fprintf(json, "},\"errors_by_status\":{");
        bool f2 = true;
        for (int s = 0; s < 20; s++)
            if (r->status_n[s]) {
                fprintf(json, "%s\"%s\":%" PRIu64, f2 ? "" : ",", kt_status_name(s),
                        r->status_n[s]);
                f2 = false;
            }
        fprintf(json, "}}");
    }
    fprintf(json, "},\"processes\":{");
    for (size_t i = 0; i < o->nprocs; i++) {
        const bench_proc_t *p = &o->procs[i];
        fprintf(json, "%s", i ? "," : "");
        s_json_str(json, p->name);
        fprintf(json, ":{\"pid\":%d,\"cpu_s\":%.3f,\"cores\":%.3f,\"peak_rss_kb\":%ld", (int) p->pid,
                bench_proc_cpu_s(p), bench_proc_cpu_s(p) / secs, p->hwm_kb);
        if (p->with_children)
            fprintf(json, ",\"children\":%d,\"largest_child_peak_rss_kb\":%ld", p->children,
                    p->child_hwm_max_kb);
        fprintf(json, "}");
    }
    fprintf(json, "%s\"driver\":{\"cpu_s\":%.3f,\"cores\":%.3f}}}\n", o->nprocs ? "," : "",
            driver_cpu_s, driver_cpu_s / secs);
}

//  ---------------------------------------------------------------- exec

static int s_exec(s_opts_t *o)
{
    bench_proc_start(o->procs, o->nprocs);
    int64_t t0 = kt_now_us();
    pid_t child = fork();
    if (child < 0) {
        perror("kontor-bench: fork");
        return 1;
    }
    if (child == 0) {
        //  kt_process_init blocked the stop signals: the child gets them back.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(o->command[0], o->command);
        perror("kontor-bench: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(child, &status, 0, &ru) < 0)
        ;
    double secs = (double) (kt_now_us() - t0) / 1e6;
    //  The command's database sessions end after it does: wait (at most
    //  2 s) until the postmaster has reaped them, so that their time is in
    //  its children's total (a session that ended between two looks at
    //  /proc would otherwise be counted nowhere).
    for (int waited = 0; waited < 2000; waited += 20) {
        bool extra = false;
        for (size_t i = 0; i < o->nprocs; i++)
            if (o->procs[i].with_children
                && bench_proc_children(o->procs[i].pid) > o->procs[i].children0)
                extra = true;
        if (!extra)
            break;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    bench_proc_stop(o->procs, o->nprocs);
    double cpu = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
                 + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *json = o->json ? fopen(o->json, "w") : NULL;
    fprintf(stderr, "kontor-bench: %s: %.1f s, exit %d; cpu s: %s %.2f", o->label, secs, rc,
            o->command[0], cpu);
    for (size_t i = 0; i < o->nprocs; i++)
        fprintf(stderr, ", %s %.2f", o->procs[i].name, bench_proc_cpu_s(&o->procs[i]));
    fprintf(stderr, "\n");
    if (json) {
        fprintf(json, "{\"label\":");
        s_json_str(json, o->label);
        fprintf(json, ",\"seconds\":%.3f,\"exit\":%d,\"processes\":{", secs, rc);
        for (size_t i = 0; i < o->nprocs; i++) {
            const bench_proc_t *p = &o->procs[i];
            s_json_str(json, p->name);
            fprintf(json, ":{\"pid\":%d,\"cpu_s\":%.3f,\"cores\":%.3f,\"peak_rss_kb\":%ld",
                    (int) p->pid, bench_proc_cpu_s(p), bench_proc_cpu_s(p) / secs, p->hwm_kb);
            if (p->with_children)
                fprintf(json, ",\"children\":%d,\"largest_child_peak_rss_kb\":%ld",
                        p->children, p->child_hwm_max_kb);
            fprintf(json, "},");
        }
        s_json_str(json, o->command[0]);
        fprintf(json, ":{\"cpu_s\":%.3f,\"cores\":%.3f,\"peak_rss_kb\":%ld}}}\n", cpu,
                cpu / secs, ru.ru_maxrss);
        fclose(json);
    }
    return rc;
}

//  ---------------------------------------------------------------- main

int main(int argc, char **argv)
{
    s_opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage();
        return 2;
    }
    //  exec keeps the default signal handling, so that a signal to the
    //  process group (timeout, ^C) stops it and its command alike.
    if (strcmp(o.cmd, "exec") == 0)
        return s_exec(&o);
    char *args[] = {argv[0]};
    if (kt_process_init(1, args, "kontor-bench") != 0)
        return 2;
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "bench", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-bench: %s\n", why);
        return 2;
    }
    kt_log_init("kontor-bench", cfg.log_level > KT_LOG_WARN ? cfg.log_level : KT_LOG_WARN);
    if (strcmp(o.cmd, "load") == 0)
        return bench_load(o.dsn, &o.shape, &cfg, o.cache_wait) == 0 ? 0 : 1;

    char run_id[32];
    snprintf(run_id, sizeof run_id, "%" PRId64, kt_wall_ms());
    bench_run_t run = {.cfg = &cfg, .shape = o.shape, .terminals = o.terminals,
                       .warmup_s = o.warmup, .seconds = o.seconds, .hot = o.hot,
                       .warehouse_id = o.warehouse, .run_id = run_id, .timeout_ms = 30000};
    memcpy(run.mix, o.mix, sizeof run.mix);
    bench_result_t *res = calloc(BENCH_TX_COUNT, sizeof *res);
    if (!res)
        return 1;
    s_window_t w = {.o = &o};
    double secs = 0;
    if (bench_run(&run, res, &secs, s_on_measure, s_on_end, &w) != 0) {
        fprintf(stderr, "kontor-bench: the terminals could not start\n");
        free(res);
        return 1;
    }
    double driver = (double) (w.cpu1.tv_sec - w.cpu0.tv_sec)
                    + (double) (w.cpu1.tv_nsec - w.cpu0.tv_nsec) / 1e9;
    FILE *json = NULL;
    if (o.json) {
        json = fopen(o.json, "w");
        if (!json)
            fprintf(stderr, "kontor-bench: cannot write %s\n", o.json);
    }
    s_report(&o, res, secs, driver, json);
    if (json)
        fclose(json);
    int rc = 0;
    for (int tx = 0; tx < BENCH_TX_COUNT; tx++)
        if (o.mix[tx] > 0 && res[tx].ok + res[tx].refused == 0 && res[tx].errors > 0) {
            fprintf(stderr, "kontor-bench: every %s failed\n", bench_tx_name(tx));
            rc = 1;
        }
    free(res);
    return rc;
}
