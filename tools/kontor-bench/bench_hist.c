/*  bench_hist - a log-linear latency histogram (microseconds).
 *
 *  Values below 64 us have a bucket each; above, every power of two is cut
 *  into 32 equal buckets, so a bucket is at most 1/32 of its value wide and
 *  a quantile read from it is within 3 % (always rounded up: the upper edge,
 *  capped at the largest value seen). The same shape as HdrHistogram with
 *  two significant binary digits; no sorting, no samples kept.
 */
#include "bench.h"

#include <string.h>

static size_t s_index(int64_t us)
{
    if (us < 0)
        us = 0;
    uint64_t v = (uint64_t) us;
    if (v < 64)
        return (size_t) v;
    int e = 63 - __builtin_clzll(v);        //  6 ..
    int shift = e - 5;
    size_t idx = (size_t) shift * 32 + (size_t) (v >> shift);
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

//  The largest value that falls into bucket idx.
static int64_t s_upper(size_t idx)
{
    if (idx < 64)
        return (int64_t) idx;
    int shift = (int) (idx / 32) - 1;
    uint64_t sub = idx % 32 + 32;
    return (int64_t) (((sub + 1) << shift) - 1);
}

void bench_hist_add(bench_hist_t *h, int64_t us)
{
    if (us < 0)
        us = 0;
    h->counts[s_index(us)]++;
    if (h->n == 0 || us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
    h->n++;
    h->sum_us += (double) us;
}

void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    if (from->n == 0)
        return;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    if (into->n == 0 || from->min_us < into->min_us)
        into->min_us = from->min_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
    into->n += from->n;
    into->sum_us += from->sum_us;
}

int64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->n == 0)
        return 0;
    //  Nearest rank: the ceil(q * n)-th smallest sample.
    uint64_t rank = (uint64_t) (q * (double) h->n);
    if ((double) rank < q * (double) h->n)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->n)
        rank = h->n;
    uint64_t seen = 0;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t v = s_upper(i);
            return v > h->max_us ? h->max_us : v;
        }
    }
    return h->max_us;
}
