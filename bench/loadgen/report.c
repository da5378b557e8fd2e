/*
 * bench/loadgen/report.c — merge the workers' statistics and present them:
 * a table for people on stdout, one JSON object for scripts (bench/run,
 * RESULTS.md). Both are derived from the same figures (struct figures), so
 * they cannot disagree. Durations are in microseconds in JSON and in
 * whatever unit reads best in the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/loadgen/report.h"
#include "core/common.h"
#include "core/json.h"

#define JSON_CAP (256u * 1024)

void gw_lg_report_merge(const struct gw_lg_shared *sh, struct gw_lg_stats *out)
{
    for (unsigned i = 0; i < sh->nworkers; i++) {
        const struct gw_lg_stats *s = &sh->stats[i];
        out->conns += s->conns;
        out->requests += s->requests;
        out->ok += s->ok;
        for (unsigned k = 0; k < GW_LG_STATUS_MAX; k++)
            out->status[k] += s->status[k];
        for (unsigned k = 0; k < GW_LG_FAIL_COUNT; k++)
            out->fails[k] += s->fails[k];
        out->bytes_in += s->bytes_in;
        out->bytes_out += s->bytes_out;
        out->connects += s->connects;
        out->reconnects += s->reconnects;
        out->scheduled += s->scheduled;
        out->resolved += s->resolved;
        out->sessions_ok += s->sessions_ok;
        out->sessions_failed += s->sessions_failed;
        out->events += s->events;
        out->done_seen += s->done_seen;
        if (s->t_end_ns > out->t_end_ns)
            out->t_end_ns = s->t_end_ns;
        gw_lg_hist_merge(&out->lat, &s->lat);
        gw_lg_hist_merge(&out->sched, &s->sched);
        gw_lg_hist_merge(&out->ttft, &s->ttft);
        gw_lg_hist_merge(&out->gap, &s->gap);
        gw_lg_hist_merge(&out->late, &s->late);
    }
}

/* Numbers both outputs show, computed once. */
struct figures {
    bool once;       /* stream without --repeat */
    double window_s; /* the measured window; `once`: the wall time */
    double wall_s;   /* t0 to the last worker's end */
    uint64_t errors; /* sum of fails */
    uint64_t backlog;
    double rps;        /* closed/open: responses per second */
    double streams_ps; /* stream: completed sessions per second */
    double events_ps;
    int64_t peak_open;
};

static void compute(const struct gw_lg_config *cfg, const struct gw_lg_shared *sh,
                    const struct gw_lg_stats *t, struct figures *f)
{
    memset(f, 0, sizeof(*f));
    f->once = cfg->mode == GW_LG_MODE_STREAM && !cfg->repeat;
    f->wall_s = t->t_end_ns > cfg->t0_ns ? (double)(t->t_end_ns - cfg->t0_ns) / 1e9 : 0.0;
    f->window_s = f->once ? f->wall_s : cfg->duration_s;
    if (!f->once && f->wall_s < cfg->warmup_s + cfg->duration_s) /* stopped early (SIGINT) */
        f->window_s = f->wall_s > cfg->warmup_s ? f->wall_s - cfg->warmup_s : 0.0;
    for (unsigned k = 0; k < GW_LG_FAIL_COUNT; k++)
        f->errors += t->fails[k];
    f->backlog = t->scheduled > t->resolved ? t->scheduled - t->resolved : 0;
    if (f->window_s > 0) {
        f->rps = (double)t->requests / f->window_s;
        f->streams_ps = (double)t->sessions_ok / f->window_s;
        f->events_ps = (double)t->events / f->window_s;
    }
    f->peak_open = atomic_load_explicit(&sh->open_peak, memory_order_relaxed);
}

/* ---- table ---- */

static const char *fmt_ns(char *buf, size_t cap, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, cap, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
    else
        snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
    return buf;
}

static const char *fmt_bytes(char *buf, size_t cap, double b)
{
    if (b < 1e3)
        snprintf(buf, cap, "%.0f B", b);
    else if (b < 1e6)
        snprintf(buf, cap, "%.1f kB", b / 1e3);
    else if (b < 1e9)
        snprintf(buf, cap, "%.1f MB", b / 1e6);
    else
        snprintf(buf, cap, "%.2f GB", b / 1e9);
    return buf;
}

/* "p50 1.2 ms  p99 ..." for the given percentiles (100 = max). */
static void print_hist(FILE *out, const char *name, const struct gw_lg_hist *h, const double *pcts,
                       size_t n)
{
    char b[32];
    fprintf(out, "  %-13s", name);
    if (h->count == 0) {
        fputs("(no samples)\n", out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = gw_lg_hist_pct(h, pcts[i]);
        if (pcts[i] >= 100)
            fprintf(out, "max %-10s ", fmt_ns(b, sizeof(b), v));
        else if (pcts[i] == 99.9)
            fprintf(out, "p99.9 %-10s ", fmt_ns(b, sizeof(b), v));
        else
            fprintf(out, "p%.0f %-10s ", pcts[i], fmt_ns(b, sizeof(b), v));
    }
    fprintf(out, "mean %s  (n=%" PRIu64 ")\n", fmt_ns(b, sizeof(b), (uint64_t)gw_lg_hist_mean(h)),
            h->count);
}

static void print_errors(FILE *out, const char *name, const struct gw_lg_stats *t, uint64_t total)
{
    fprintf(out, "  %-13s%" PRIu64, name, total);
    if (total) {
        const char *sep = " (";
        for (unsigned k = 0; k < GW_LG_FAIL_COUNT; k++) {
            if (!t->fails[k])
                continue;
            fprintf(out, "%s%s %" PRIu64, sep, gw_lg_fail_name(k), t->fails[k]);
            sep = ", ";
        }
        fputs(")", out);
    }
    fputs("\n", out);
}

/* "status  200:n 503:n"; status 0 counts codes outside 0..599. */
static void print_status(FILE *out, const struct gw_lg_stats *t)
{
    bool any = false;
    fprintf(out, "  %-13s", "status");
    for (unsigned k = 0; k < GW_LG_STATUS_MAX; k++) {
        if (!t->status[k])
            continue;
        fprintf(out, "%s%u:%" PRIu64, any ? " " : "", k, t->status[k]);
        any = true;
    }
    fputs(any ? "\n" : "-\n", out);
}

void gw_lg_report_print(FILE *out, const struct gw_lg_config *cfg, const struct gw_lg_shared *sh,
                        const struct gw_lg_stats *t)
{
    static const double lat_p[] = {50, 90, 99, 99.9, 100};
    static const double ttft_p[] = {50, 99, 100};
    static const double gap_p[] = {50, 99, 99.9, 100};
    struct figures f;
    char b1[32], b2[32], b3[32];
    compute(cfg, sh, t, &f);

    fprintf(out, "conduit-loadgen %s", gw_lg_mode_name(cfg->mode));
    if (cfg->mode == GW_LG_MODE_STREAM) {
        if (cfg->repeat)
            fprintf(out, " --repeat: %u connections", cfg->conns);
        else
            fprintf(out, ": %u sessions", cfg->sessions);
        fprintf(out, ", %u events every %u ms", cfg->events, cfg->interval_ms);
    } else {
        fprintf(out, ": %u connections", cfg->conns);
        if (cfg->mode == GW_LG_MODE_OPEN)
            fprintf(out, ", %.1f req/s", cfg->rate);
    }
    fprintf(out, ", %u thread%s x %u process%s", cfg->threads, cfg->threads == 1 ? "" : "s",
            cfg->procs, cfg->procs == 1 ? "" : "es");
    if (cfg->label)
        fprintf(out, "  [%s]", cfg->label);
    fprintf(out, "\n  target       %s POST %s  (request %zu B, body %zu B)\n", cfg->target,
            cfg->path, cfg->req_len, cfg->body_len);
    if (f.once)
        fprintf(out, "  wall time    %.3f s\n", f.wall_s);
    else
        fprintf(out, "  window       %.3f s measured after %.3f s warm-up\n", f.window_s,
                cfg->warmup_s);

    if (cfg->mode != GW_LG_MODE_STREAM) {
        fprintf(out,
                "  requests     %" PRIu64 "  %.1f req/s  (2xx %" PRIu64 ", non-2xx %" PRIu64 ")\n",
                t->requests, f.rps, t->ok, t->requests - t->ok);
        if (cfg->mode == GW_LG_MODE_OPEN)
            fprintf(out,
                    "  rate         target %.1f/s  achieved %.1f/s  scheduled %" PRIu64
                    "  backlog %" PRIu64 "\n",
                    cfg->rate, f.rps, t->scheduled, f.backlog);
        print_hist(out, "latency", &t->lat, lat_p, GW_ARRAY_SIZE(lat_p));
        if (cfg->mode == GW_LG_MODE_OPEN)
            print_hist(out, "send delay", &t->sched, lat_p, GW_ARRAY_SIZE(lat_p));
        print_status(out, t);
        print_errors(out, "errors", t, f.errors);
    } else {
        fprintf(out,
                "  sessions     completed %" PRIu64 "  failed %" PRIu64 "  peak open %" PRId64
                "  [DONE] seen %" PRIu64 "\n",
                t->sessions_ok, t->sessions_failed, f.peak_open, t->done_seen);
        if (cfg->repeat)
            fprintf(out, "  streams      %.1f streams/s\n", f.streams_ps);
        print_status(out, t);
        print_errors(out, "failures", t, f.errors);
        print_hist(out, "ttft", &t->ttft, ttft_p, GW_ARRAY_SIZE(ttft_p));
        print_hist(out, "event gap", &t->gap, gap_p, GW_ARRAY_SIZE(gap_p));
        print_hist(out, "lateness", &t->late, gap_p, GW_ARRAY_SIZE(gap_p));
        fprintf(out, "  events       %" PRIu64 "  %.1f events/s\n", t->events, f.events_ps);
    }
    double win = f.window_s > 0 ? f.window_s : 1;
    fprintf(out,
            "  transfer     in %s (%s/s)  out %s  connects %" PRIu64 "  reconnects %" PRIu64 "\n",
            fmt_bytes(b1, sizeof(b1), (double)t->bytes_in),
            fmt_bytes(b2, sizeof(b2), (double)t->bytes_in / win),
            fmt_bytes(b3, sizeof(b3), (double)t->bytes_out), t->connects, t->reconnects);
}

/* ---- JSON ---- */

static void jw_kuint(struct gw_jw *w, const char *k, uint64_t v)
{
    gw_jw_key(w, k);
    gw_jw_uint(w, v);
}

static void jw_kdouble(struct gw_jw *w, const char *k, double v)
{
    gw_jw_key(w, k);
    gw_jw_double(w, v);
}

static void jw_kstr(struct gw_jw *w, const char *k, const char *v)
{
    gw_jw_key(w, k);
    if (v)
        gw_jw_cstr(w, v);
    else
        gw_jw_null(w);
}

/* {"count","min","mean","p50","p90","p99","p99_9","max"} in microseconds. */
static void jw_hist(struct gw_jw *w, const char *k, const struct gw_lg_hist *h)
{
    gw_jw_key(w, k);
    gw_jw_obj_begin(w);
    jw_kuint(w, "count", h->count);
    jw_kdouble(w, "min", h->count ? (double)h->min_ns / 1e3 : 0.0);
    jw_kdouble(w, "mean", gw_lg_hist_mean(h) / 1e3);
    jw_kdouble(w, "p50", (double)gw_lg_hist_pct(h, 50) / 1e3);
    jw_kdouble(w, "p90", (double)gw_lg_hist_pct(h, 90) / 1e3);
    jw_kdouble(w, "p99", (double)gw_lg_hist_pct(h, 99) / 1e3);
    jw_kdouble(w, "p99_9", (double)gw_lg_hist_pct(h, 99.9) / 1e3);
    jw_kdouble(w, "max", (double)h->max_ns / 1e3);
    gw_jw_obj_end(w);
}

static void jw_errors(struct gw_jw *w, const struct gw_lg_stats *t, uint64_t total)
{
    gw_jw_key(w, "errors");
    gw_jw_obj_begin(w);
    jw_kuint(w, "total", total);
    for (unsigned k = 0; k < GW_LG_FAIL_COUNT; k++)
        jw_kuint(w, gw_lg_fail_name(k), t->fails[k]);
    gw_jw_obj_end(w);
}

static void jw_body(struct gw_jw *w, const struct gw_lg_config *cfg, const struct gw_lg_stats *t,
                    const struct figures *f)
{
    gw_jw_obj_begin(w);
    jw_kstr(w, "tool", "conduit-loadgen");
    jw_kstr(w, "label", cfg->label);
    jw_kstr(w, "mode", gw_lg_mode_name(cfg->mode));
    jw_kstr(w, "target", cfg->target);
    jw_kstr(w, "path", cfg->path);
    jw_kstr(w, "model", cfg->model);
    jw_kuint(w, "threads", cfg->threads);
    jw_kuint(w, "procs", cfg->procs);
    jw_kuint(w, "request_bytes", cfg->req_len);
    jw_kuint(w, "body_bytes", cfg->body_len);
    jw_kdouble(w, "timeout_s", cfg->timeout_s);
    jw_kdouble(w, "ramp_s", cfg->ramp_s);
    jw_kdouble(w, "warmup_s", cfg->warmup_s);
    jw_kdouble(w, "duration_s", cfg->duration_s);
    jw_kdouble(w, "window_s", f->window_s);
    jw_kdouble(w, "wall_s", f->wall_s);
    if (cfg->mode != GW_LG_MODE_STREAM) {
        jw_kuint(w, "conns", cfg->conns);
        jw_kuint(w, "requests", t->requests);
        jw_kuint(w, "ok", t->ok);
        jw_kuint(w, "non_2xx", t->requests - t->ok);
        jw_kdouble(w, "rps", f->rps);
        if (cfg->mode == GW_LG_MODE_OPEN) {
            jw_kdouble(w, "rate_target", cfg->rate);
            jw_kdouble(w, "rate_achieved", f->rps);
            jw_kuint(w, "scheduled", t->scheduled);
            jw_kuint(w, "backlog", f->backlog);
            jw_hist(w, "send_delay_us", &t->sched);
        }
        jw_hist(w, "latency_us", &t->lat);
    } else {
        gw_jw_key(w, "repeat");
        gw_jw_bool(w, cfg->repeat);
        jw_kuint(w, "sessions", f->once ? cfg->sessions : cfg->conns);
        jw_kuint(w, "events_per_session", cfg->events);
        jw_kuint(w, "interval_ms", cfg->interval_ms);
        jw_kuint(w, "completed", t->sessions_ok);
        jw_kuint(w, "failed", t->sessions_failed);
        jw_kuint(w, "done_seen", t->done_seen);
        jw_kuint(w, "peak_open", (uint64_t)(f->peak_open > 0 ? f->peak_open : 0));
        jw_kuint(w, "events", t->events);
        jw_kdouble(w, "events_per_s", f->events_ps);
        if (cfg->repeat)
            jw_kdouble(w, "streams_per_s", f->streams_ps);
        jw_hist(w, "ttft_us", &t->ttft);
        jw_hist(w, "gap_us", &t->gap);
        jw_hist(w, "lateness_us", &t->late);
    }
    gw_jw_key(w, "status");
    gw_jw_obj_begin(w);
    for (unsigned k = 0; k < GW_LG_STATUS_MAX; k++) {
        if (!t->status[k])
            continue;
        char key[8];
        snprintf(key, sizeof(key), "%u", k);
        jw_kuint(w, key, t->status[k]);
    }
    gw_jw_obj_end(w);
    jw_errors(w, t, f->errors);
    jw_kuint(w, "bytes_in", t->bytes_in);
    jw_kuint(w, "bytes_out", t->bytes_out);
    jw_kuint(w, "connects", t->connects);
    jw_kuint(w, "reconnects", t->reconnects);
    gw_jw_obj_end(w);
}

int gw_lg_report_json(const char *path, const struct gw_lg_config *cfg,
                      const struct gw_lg_shared *sh, const struct gw_lg_stats *t)
{
    struct figures f;
    int rc = 0;
    int fd = -1;
    compute(cfg, sh, t, &f);
    char *buf = malloc(JSON_CAP);
    if (!buf)
        return -ENOMEM;
    struct gw_jw w;
    gw_jw_init(&w, buf, JSON_CAP - 1);
    jw_body(&w, cfg, t, &f);
    if (w.overflow) {
        rc = -EOVERFLOW;
        goto out;
    }
    buf[w.len++] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    for (size_t off = 0; off < w.len;) {
        ssize_t n = write(fd, buf + off, w.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0)
        rc = -errno;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}
