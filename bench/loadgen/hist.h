/*
 * bench/loadgen/hist.h — a fixed-size log-linear latency histogram in
 * nanoseconds, in the manner of HdrHistogram: cheap enough to record every
 * request on the load generator's hot path (a count of leading zeros, a
 * shift and an add), mergeable by adding buckets, so per-thread and
 * per-process histograms combine into one report without keeping samples.
 *
 * Layout: values below 2 * GW_LG_HIST_SUB ns get one bucket each (exact);
 * above that every power of two is split into GW_LG_HIST_SUB equal buckets,
 * so a bucket is at most 1/128 (0.78%) of the values it holds wide, and a
 * quantile reported at the bucket's midpoint is within 0.4% of the truth.
 * Values of 2^GW_LG_HIST_MAX_BITS ns (about 68.7 s) and more land in the last
 * bucket; the exact min, max and sum are kept beside the buckets.
 */
#ifndef GW_BENCH_LOADGEN_HIST_H
#define GW_BENCH_LOADGEN_HIST_H

#include <stdint.h>

#define GW_LG_HIST_SUB_BITS 7
#define GW_LG_HIST_SUB (1u << GW_LG_HIST_SUB_BITS) /* linear buckets per power of two */
#define GW_LG_HIST_MAX_BITS 36                     /* values clamp below 2^36 ns */
#define GW_LG_HIST_BUCKETS                                                                         \
    (2 * GW_LG_HIST_SUB + (GW_LG_HIST_MAX_BITS - GW_LG_HIST_SUB_BITS - 1) * GW_LG_HIST_SUB)

/* Zero-initialised (memset or calloc) is an empty histogram. */
struct gw_lg_hist {
    uint64_t count;
    uint64_t sum_ns; /* exact; wraps only after ~584 years of summed latency */
    uint64_t min_ns; /* exact; meaningful when count > 0 */
    uint64_t max_ns; /* exact */
    uint64_t b[GW_LG_HIST_BUCKETS];
};

/* Adds one value. Inline: it runs once per request or stream event. */
static inline void gw_lg_hist_record(struct gw_lg_hist *h, uint64_t ns);
/* Adds every count of src into dst (dst may already hold values). */
void gw_lg_hist_merge(struct gw_lg_hist *dst, const struct gw_lg_hist *src);
/*
 * The value at percentile p (0 < p <= 100) in ns: the midpoint of the bucket
 * holding the ceil(p/100 * count)-th smallest value, clamped to [min, max];
 * p = 100 gives the exact max. Returns 0 for an empty histogram.
 */
uint64_t gw_lg_hist_pct(const struct gw_lg_hist *h, double p);
/* Mean in ns, or 0 when empty. */
double gw_lg_hist_mean(const struct gw_lg_hist *h);
/* Bucket index for a value, and the smallest value and width of a bucket (for tests). */
static inline unsigned gw_lg_hist_index(uint64_t ns);
uint64_t gw_lg_hist_bucket_low(unsigned idx);
uint64_t gw_lg_hist_bucket_width(unsigned idx);

/* ---- inline bodies ---- */

static inline unsigned gw_lg_hist_index(uint64_t ns)
{
    if (ns < 2 * GW_LG_HIST_SUB)
        return (unsigned)ns;
    if (ns >> GW_LG_HIST_MAX_BITS)
        return GW_LG_HIST_BUCKETS - 1;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns); /* >= SUB_BITS + 1 */
    unsigned shift = msb - GW_LG_HIST_SUB_BITS;         /* >= 1 */
    unsigned sub = (unsigned)(ns >> shift) - GW_LG_HIST_SUB;
    return 2 * GW_LG_HIST_SUB + (shift - 1) * GW_LG_HIST_SUB + sub;
}

static inline void gw_lg_hist_record(struct gw_lg_hist *h, uint64_t ns)
{
    h->b[gw_lg_hist_index(ns)]++;
    if (h->count == 0 || ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->count++;
    h->sum_ns += ns;
}

#endif
