/*
 * bench/loadgen/hist.c — merge and quantiles for the log-linear histogram;
 * recording is inline in hist.h.
 */
#include <math.h>
#include <stdint.h>

#include "bench/loadgen/hist.h"
#include "core/common.h"

uint64_t gw_lg_hist_bucket_low(unsigned idx)
{
    if (idx < 2 * GW_LG_HIST_SUB)
        return idx;
    unsigned j = idx - 2 * GW_LG_HIST_SUB;
    unsigned shift = j / GW_LG_HIST_SUB + 1;
    uint64_t sub = GW_LG_HIST_SUB + j % GW_LG_HIST_SUB;
    return sub << shift;
}

uint64_t gw_lg_hist_bucket_width(unsigned idx)
{
    if (idx < 2 * GW_LG_HIST_SUB)
        return 1;
    return (uint64_t)1 << ((idx - 2 * GW_LG_HIST_SUB) / GW_LG_HIST_SUB + 1);
}

void gw_lg_hist_merge(struct gw_lg_hist *dst, const struct gw_lg_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    for (unsigned i = 0; i < GW_LG_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

uint64_t gw_lg_hist_pct(const struct gw_lg_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max_ns;
    double r = ceil(p / 100.0 * (double)h->count);
    uint64_t rank = r < 1.0 ? 1 : (uint64_t)r;
    uint64_t seen = 0;
    for (unsigned i = 0; i < GW_LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen < rank)
            continue;
        uint64_t v = gw_lg_hist_bucket_low(i) + gw_lg_hist_bucket_width(i) / 2;
        if (v < h->min_ns)
            v = h->min_ns;
        if (v > h->max_ns)
            v = h->max_ns;
        return v;
    }
    return h->max_ns;
}

double gw_lg_hist_mean(const struct gw_lg_hist *h)
{
    return h->count ? (double)h->sum_ns / (double)h->count : 0.0;
}
