/*  kt_metrics - a process's metrics registry, rendered as Prometheus text.
 *
 *  The registry is one fixed array of series. A series is written once, under
 *  the registry's lock, before the registry's size is raised past it; after
 *  that only its atomics change. Registration is lookup-or-create under the
 *  lock, so two threads asking for the same series at once get the same
 *  pointer, and callers cache that pointer instead of asking again.
 *
 *  Series of one name form a family, linked in registration order. The links
 *  change when a later series joins a family, so render copies the order of
 *  every series under the lock and formats the values without it.
 */
#include "kt_metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define S_NAME_MAX     128                  //  bytes in a metric name, with the NUL
#define S_LABELS_MAX   256                  //  bytes in a label string, with the NUL
#define S_HELP_MAX     256                  //  bytes kept of a help text, with the NUL
#define S_BUCKETS      15                   //  histogram buckets, the last one +Inf
#define S_RENDER_FIRST 16384                //  bytes first allocated for a render
#define S_INDEX_SIZE   (2 * KT_METRICS_MAX) //  hash slots, a power of two, at most half full
#define S_FNV_OFFSET   2166136261u          //  FNV-1a, 32 bits
#define S_FNV_PRIME    16777619u
#define S_US_PER_S     1000000

//  Upper bounds (inclusive, as Prometheus's `le`) of every bucket but +Inf.
static const int64_t s_bucket_us[S_BUCKETS - 1] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const s_bucket_le[S_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf",
};

//  Names the renderer writes itself, so nobody may register them.
static const char *const s_reserved[] = {
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_uptime_seconds",
};

struct kt_metric {
    char name[S_NAME_MAX];             //  metric name, checked at registration
    char labels[S_LABELS_MAX];         //  label pairs as `k="v",k2="v2"`, "" for none
    char help[S_HELP_MAX];             //  help text, kept only in a family's first series
    kt_metric_kind_t kind;             //  the same for every series of a family
    int family_first;                  //  index of the first series with this name
    int family_next;                   //  next series with this name, or -1 (under the lock)
    int family_last;                   //  in a family's first series: its last (under the lock)
    _Atomic int64_t value;             //  counter or gauge value; histogram: observations
    _Atomic int64_t sum_us;            //  histogram: sum of observations, microseconds
    _Atomic int64_t bucket[S_BUCKETS]; //  histogram: observations per bucket, not cumulative
};

//  Both indexes hold a series' index plus one (0 is an empty slot), probed
//  linearly; nothing is ever removed, so a probe ends at the first empty slot.
static struct {
    pthread_mutex_t lock;               //  guards everything below but the atomics
    int size;                           //  series in use, raised after one is written
    kt_metric_t series[KT_METRICS_MAX]; //  the series, never moved or freed
    int by_series[S_INDEX_SIZE];        //  (name, labels) -> series
    int by_name[S_INDEX_SIZE];          //  name -> first series of the family
} s_registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t s_clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * S_US_PER_S + ts.tv_nsec / 1000;
}

//  ---------------------------------------------------------------- checks

static bool s_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) >= S_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (p > name && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < sizeof s_reserved / sizeof s_reserved[0]; i++)
        if (strcmp(name, s_reserved[i]) == 0)
            return false;
    return true;
}

//  True when `labels` reads `k="v"` pairs separated by commas. A value may
//  hold the escapes \\ \" \n but no raw quote, backslash or control byte, so
//  a rendered line stays one line. Histograms may not use `le`, which the
//  renderer adds to every bucket.
static bool s_labels_valid(const char *labels, bool histogram)
{
    if (strlen(labels) >= S_LABELS_MAX)
        return false;
    const char *p = labels;
    while (*p) {
        const char *key = p;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
            return false;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
               (*p >= '0' && *p <= '9'))
            p++;
        size_t key_len = (size_t)(p - key);
        if (histogram && key_len == 2 && memcmp(key, "le", 2) == 0)
            return false;
        if (*p++ != '=' || *p++ != '"')
            return false;
        while (*p != '"') {
            unsigned char c = (unsigned char)*p;
            if (c == '\0' || c < 0x20 || c == 0x7f)
                return false;
            if (c == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    return false;
            }
            p++;
        }
        p++;
        if (*p == ',') {
            p++;
            if (!*p)
                return false;
        } else if (*p)
            return false;
    }
    return true;
}

//  ---------------------------------------------------------------- registry

//  FNV-1a, continuing from `hash`.
static uint32_t s_hash(const char *text, uint32_t hash)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        hash = (hash ^ *p) * S_FNV_PRIME;
    return hash;
}

static kt_metric_t *s_require(const char *name, const char *labels, const char *help,
                              kt_metric_kind_t kind)
{
    if (!labels)
        labels = "";
    if (!s_name_valid(name) || !s_labels_valid(labels, kind == KT_HISTOGRAM))
        return NULL;

    //  Callers may look a series up on every use, so lookup is hashed.
    //  Between name and labels, a byte no name holds.
    uint32_t name_hash = s_hash(name, S_FNV_OFFSET);
    uint32_t series_hash = s_hash(labels, (name_hash ^ 0xffu) * S_FNV_PRIME);
    kt_metric_t *metric = NULL;
    pthread_mutex_lock(&s_registry.lock);
    uint32_t series_slot = series_hash & (S_INDEX_SIZE - 1);
    for (int i; (i = s_registry.by_series[series_slot]) != 0;
         series_slot = (series_slot + 1) & (S_INDEX_SIZE - 1)) {
        kt_metric_t *m = &s_registry.series[i - 1];
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0) {
            metric = m;
            break;
        }
    }
    uint32_t name_slot = name_hash & (S_INDEX_SIZE - 1);
    int first = -1;
    if (!metric)
        for (int i; (i = s_registry.by_name[name_slot]) != 0;
             name_slot = (name_slot + 1) & (S_INDEX_SIZE - 1))
            if (strcmp(s_registry.series[i - 1].name, name) == 0) {
                first = i - 1;
                break;
            }
    if (metric) {
        if (metric->kind != kind)
            metric = NULL;
    } else if (first >= 0 && s_registry.series[first].kind != kind)
        metric = NULL;
    else if (s_registry.size < KT_METRICS_MAX) {
        int index = s_registry.size;
        metric = &s_registry.series[index];
        snprintf(metric->name, sizeof metric->name, "%s", name);
        snprintf(metric->labels, sizeof metric->labels, "%s", labels);
        metric->kind = kind;
        metric->family_next = -1;
        if (first < 0) {
            snprintf(metric->help, sizeof metric->help, "%s", help ? help : "");
            metric->family_first = index;
            metric->family_last = index;
            s_registry.by_name[name_slot] = index + 1;
        } else {
            kt_metric_t *head = &s_registry.series[first];
            metric->family_first = first;
            s_registry.series[head->family_last].family_next = index;
            head->family_last = index;
        }
        s_registry.by_series[series_slot] = index + 1;
        s_registry.size++;
    }
    pthread_mutex_unlock(&s_registry.lock);
    return metric;
}

kt_metric_t *kt_counter(const char *name, const char *labels, const char *help)
{
    return s_require(name, labels, help, KT_COUNTER);
}

kt_metric_t *kt_gauge(const char *name, const char *labels, const char *help)
{
    return s_require(name, labels, help, KT_GAUGE);
}

kt_metric_t *kt_histogram(const char *name, const char *labels, const char *help)
{
    return s_require(name, labels, help, KT_HISTOGRAM);
}

size_t kt_metrics_size(void)
{
    pthread_mutex_lock(&s_registry.lock);
    int size = s_registry.size;
    pthread_mutex_unlock(&s_registry.lock);
    return (size_t)size;
}

//  ---------------------------------------------------------------- updates
//  Relaxed ordering: each value is one independent number; nothing else is
//  published through it.

void kt_metric_inc(kt_metric_t *m)
{
    kt_metric_add(m, 1);
}

void kt_metric_add(kt_metric_t *m, int64_t n)
{
    if (!m)
        return;
    assert(m->kind != KT_HISTOGRAM);
    assert(m->kind != KT_COUNTER || n >= 0);
    atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void kt_metric_set(kt_metric_t *m, int64_t v)
{
    if (!m)
        return;
    assert(m->kind != KT_HISTOGRAM);
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

void kt_metric_observe_us(kt_metric_t *m, int64_t us)
{
    if (!m)
        return;
    assert(m->kind == KT_HISTOGRAM);
    //  A clock step can make a duration negative; it counts as zero.
    if (us < 0)
        us = 0;
    int b = 0;
    while (b < S_BUCKETS - 1 && us > s_bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&m->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}

int64_t kt_metric_value(const kt_metric_t *m)
{
    if (!m)
        return 0;
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

//  ---------------------------------------------------------------- render

typedef struct {
    char *data;  //  text so far, NUL-terminated while not failed
    size_t len;  //  bytes in data, without the NUL
    size_t cap;  //  bytes allocated
    bool failed; //  an allocation failed; the text is incomplete
} s_buf_t;

static void s_buf_printf(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_buf_printf(s_buf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    while (true) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, args);
        va_end(args);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
}

//  Microseconds as decimal seconds, exactly: 1234567 -> "1.234567".
static void s_buf_seconds(s_buf_t *b, int64_t us)
{
    const char *sign = us < 0 ? "-" : "";
    uint64_t mag = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    s_buf_printf(b, "%s%" PRIu64 ".%06" PRIu64, sign, mag / S_US_PER_S, mag % S_US_PER_S);
}

//  HELP text escapes backslash and newline (format 0.0.4).
static void s_buf_help(s_buf_t *b, const char *name, const char *help)
{
    s_buf_printf(b, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            s_buf_printf(b, "\\\\");
        else if (*p == '\n')
            s_buf_printf(b, "\\n");
        else
            s_buf_printf(b, "%c", *p);
    }
    s_buf_printf(b, "\n");
}

static const char *s_kind_name(kt_metric_kind_t kind)
{
    switch (kind) {
    case KT_COUNTER:
        return "counter";
    case KT_GAUGE:
        return "gauge";
    case KT_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static void s_render_series(s_buf_t *b, const kt_metric_t *m)
{
    const char *open = *m->labels ? "{" : "";
    const char *close = *m->labels ? "}" : "";
    if (m->kind != KT_HISTOGRAM) {
        s_buf_printf(b, "%s%s%s%s %" PRId64 "\n", m->name, open, m->labels, close,
                     atomic_load_explicit(&m->value, memory_order_relaxed));
        return;
    }
    //  _count is the +Inf bucket as read here, not the separate counter: the
    //  two are read at different moments, and Prometheus expects them equal.
    const char *sep = *m->labels ? "," : "";
    int64_t cumulative = 0;
    for (int i = 0; i < S_BUCKETS; i++) {
        cumulative += atomic_load_explicit(&m->bucket[i], memory_order_relaxed);
        s_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRId64 "\n", m->name, m->labels, sep,
                     s_bucket_le[i], cumulative);
    }
    s_buf_printf(b, "%s_sum%s%s%s ", m->name, open, m->labels, close);
    s_buf_seconds(b, atomic_load_explicit(&m->sum_us, memory_order_relaxed));
    s_buf_printf(b, "\n%s_count%s%s%s %" PRId64 "\n", m->name, open, m->labels, close, cumulative);
}

//  Microseconds since the process started, -1 if /proc cannot tell. The
//  kernel keeps the start as clock ticks since boot, on CLOCK_BOOTTIME's
//  scale; /proc/stat's btime is whole seconds and would be off by up to one.
static int64_t s_process_uptime_us(void)
{
    char stat[1024];
    FILE *file = fopen("/proc/self/stat", "r");
    if (!file)
        return -1;
    size_t n = fread(stat, 1, sizeof stat - 1, file);
    fclose(file);
    stat[n] = '\0';
    //  The command name may hold spaces and parentheses; fields resume
    //  after the last ')'. state is field 3, starttime field 22.
    char *p = strrchr(stat, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    unsigned long long ticks;
    long hz = sysconf(_SC_CLK_TCK);
    if (!p || sscanf(p, " %llu", &ticks) != 1 || hz <= 0)
        return -1;
    int64_t start_us = (int64_t)(ticks * S_US_PER_S / (unsigned long long)hz);
    int64_t uptime_us = s_clock_us(CLOCK_BOOTTIME) - start_us;
    return uptime_us > 0 ? uptime_us : 0;
}

static void s_render_process(s_buf_t *b)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == 0) {
        int64_t us = ((int64_t)usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * S_US_PER_S +
                     usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
        s_buf_printf(b, "# HELP process_cpu_seconds_total Total user and system CPU time spent "
                        "in seconds.\n# TYPE process_cpu_seconds_total counter\n"
                        "process_cpu_seconds_total ");
        s_buf_seconds(b, us);
        s_buf_printf(b, "\n");
    }
    FILE *file = fopen("/proc/self/statm", "r");
    if (file) {
        unsigned long long size, resident;
        long page = sysconf(_SC_PAGESIZE);
        if (fscanf(file, "%llu %llu", &size, &resident) == 2 && page > 0)
            s_buf_printf(b,
                         "# HELP process_resident_memory_bytes Resident memory size in "
                         "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
                         "process_resident_memory_bytes %llu\n",
                         resident * (unsigned long long)page);
        fclose(file);
    }
    int64_t uptime_us = s_process_uptime_us();
    if (uptime_us >= 0) {
        int64_t start_us = s_clock_us(CLOCK_REALTIME) - uptime_us;
        s_buf_printf(b, "# HELP process_start_time_seconds Start time of the process since "
                        "unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
                        "process_start_time_seconds ");
        s_buf_seconds(b, start_us);
        s_buf_printf(b, "\n# HELP process_uptime_seconds Time since the process started in "
                        "seconds.\n# TYPE process_uptime_seconds gauge\n"
                        "process_uptime_seconds ");
        s_buf_seconds(b, uptime_us);
        s_buf_printf(b, "\n");
    }
}

char *kt_metrics_render(void)
{
    s_buf_t b = {.data = malloc(S_RENDER_FIRST), .cap = S_RENDER_FIRST};
    if (!b.data)
        return NULL;
    b.data[0] = '\0';

    //  Family by family, each in registration order; copied under the lock
    //  because a registration may link a new series onto any family.
    int order[KT_METRICS_MAX];
    int count = 0;
    pthread_mutex_lock(&s_registry.lock);
    for (int i = 0; i < s_registry.size; i++)
        if (s_registry.series[i].family_first == i)
            for (int j = i; j >= 0; j = s_registry.series[j].family_next)
                order[count++] = j;
    pthread_mutex_unlock(&s_registry.lock);

    for (int k = 0; k < count; k++) {
        const kt_metric_t *m = &s_registry.series[order[k]];
        if (m->family_first == order[k]) {
            s_buf_help(&b, m->name, m->help);
            s_buf_printf(&b, "# TYPE %s %s\n", m->name, s_kind_name(m->kind));
        }
        s_render_series(&b, m);
    }
    s_render_process(&b);

    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

//  ---------------------------------------------------------------- clocks

int64_t kt_now_us(void)
{
    return s_clock_us(CLOCK_MONOTONIC);
}

int64_t kt_now_ms(void)
{
    return s_clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t kt_wall_ms(void)
{
    return s_clock_us(CLOCK_REALTIME) / 1000;
}
