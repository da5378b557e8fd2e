/*
 * bench/loadgen/report.h — the end of a run: merge every worker's statistics,
 * print the human table, write the JSON object.
 */
#ifndef GW_BENCH_LOADGEN_REPORT_H
#define GW_BENCH_LOADGEN_REPORT_H

#include <stdio.h>

#include "bench/loadgen/loadgen.h"

/*
 * Adds sh->stats[0..sh->nworkers) into *out, which the caller zeroed. Sums
 * counters and histograms; t_end_ns becomes the latest of the workers'.
 */
void gw_lg_report_merge(const struct gw_lg_shared *sh, struct gw_lg_stats *out);
/* Prints the run's table to f (stdout). */
void gw_lg_report_print(FILE *f, const struct gw_lg_config *cfg, const struct gw_lg_shared *sh,
                        const struct gw_lg_stats *t);
/*
 * Writes one JSON object with every figure to path (replaced if it exists),
 * newline-terminated. Returns 0, or -errno (open, write, or the object
 * outgrowing its buffer: -EOVERFLOW).
 */
int gw_lg_report_json(const char *path, const struct gw_lg_config *cfg,
                      const struct gw_lg_shared *sh, const struct gw_lg_stats *t);

#endif
