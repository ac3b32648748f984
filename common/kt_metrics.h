/*  kt_metrics - a process's metrics registry, rendered as Prometheus text.
 *
 *  Counters, gauges and histograms are registered once (at start, from one
 *  thread, or lazily under the registry's lock) and then updated from any
 *  thread without locks (C11 atomics). A metric is identified by its name plus
 *  a label string such as `method="PlaceOrder",status="OK"`; the registry
 *  keeps at most KT_METRICS_MAX series and refuses more (returns NULL), so
 *  labels must come from closed sets (method names, statuses), never from
 *  input.
 */
#ifndef KT_METRICS_H
#define KT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define KT_METRICS_MAX 1024

typedef struct kt_metric kt_metric_t;

typedef enum { KT_COUNTER, KT_GAUGE, KT_HISTOGRAM } kt_metric_kind_t;

//  The counter/gauge/histogram with this name and labels, created on first
//  use. `labels` may be NULL or "" for none; otherwise `k="v"` pairs joined
//  by commas, values holding no raw quote, backslash or control byte (the
//  escapes \\ \" \n are allowed). `help` is copied on the name's first
//  creation (at most 255 bytes). Safe from any thread; callers keep the
//  pointer. Returns NULL when the registry is full, when the name or labels
//  are malformed, when the name is one of the process_* metrics render adds,
//  when a histogram uses the label `le`, or when the name is already
//  registered as another kind. The registry is process-wide.
kt_metric_t *kt_counter(const char *name, const char *labels, const char *help);
kt_metric_t *kt_gauge(const char *name, const char *labels, const char *help);
//  Histogram of durations in seconds with fixed buckets from 0.5 ms to 10 s.
kt_metric_t *kt_histogram(const char *name, const char *labels, const char *help);

//  Updates; all accept NULL and then do nothing. inc/add/set are for
//  counters and gauges, observe for histograms; the wrong kind, or a negative
//  add to a counter, is the caller's bug and asserts.
void kt_metric_inc(kt_metric_t *m);
void kt_metric_add(kt_metric_t *m, int64_t n);
void kt_metric_set(kt_metric_t *m, int64_t v);
//  Histogram: observe a duration in microseconds.
void kt_metric_observe_us(kt_metric_t *m, int64_t us);

//  Current value of a counter or gauge, or a histogram's number of
//  observations (for tests and status replies); 0 for NULL.
int64_t kt_metric_value(const kt_metric_t *m);

//  Number of series registered so far, at most KT_METRICS_MAX.
size_t kt_metrics_size(void);

//  Render every series in Prometheus text exposition format 0.0.4, series of
//  one name together, with process_cpu_seconds_total,
//  process_resident_memory_bytes, process_start_time_seconds and
//  process_uptime_seconds added. Returns a malloc'd string (caller frees) or NULL.
char *kt_metrics_render(void);

//  Monotonic clock in microseconds / milliseconds (CLOCK_MONOTONIC).
int64_t kt_now_us(void);
int64_t kt_now_ms(void);
//  Wall clock, Unix milliseconds.
int64_t kt_wall_ms(void);

#endif
