/*
 * net/metrics.c — the access log, the error log and Prometheus metrics.
 *
 * Logs never block a worker: lines gather in a per-worker
 * buffer that the ring writes to stdout (access log) or stderr (errors) with
 * one write in flight at a time. A line that does not fit while a write is in
 * flight is dropped and counted (conduit_log_dropped_total). Each write is cut
 * at a line boundary under PIPE_BUF where possible, so that two workers'
 * lines do not interleave inside a line on a pipe.
 *
 * Metrics are per-worker counters in each worker's shared block, written by
 * their owner only and summed when /metrics is scraped (on whichever worker
 * took the scrape), so the request path takes no lock and shares no line.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liburing.h>

#include "core/common.h"
#include "core/json.h"
#include "core/money.h"
#include "core/prom.h"
#include "net/worker.h"

/* ---- log buffers ---- */

int gw__log_init(struct gw_logbuf *lb, int fd)
{
    lb->fd = fd;
    lb->fill = malloc(GW_LOGBUF_SIZE);
    lb->flight = malloc(GW_LOGBUF_SIZE);
    lb->fill_len = lb->flight_len = lb->flight_off = 0;
    lb->busy = false;
    return lb->fill && lb->flight ? 0 : -ENOMEM;
}

void gw__log_destroy(struct gw_logbuf *lb)
{
    free(lb->fill);
    free(lb->flight);
    lb->fill = lb->flight = NULL;
}

static void log_submit(struct gw_worker *w, struct gw_logbuf *lb)
{
    size_t n = lb->flight_len - lb->flight_off;
    if (n > PIPE_BUF) {
        /* Cut after the last newline within PIPE_BUF, if there is one. */
        const char *base = lb->flight + lb->flight_off;
        const char *nl = memrchr(base, '\n', PIPE_BUF);
        if (nl)
            n = (size_t)(nl - base) + 1;
    }
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_write(sqe, lb->fd, lb->flight + lb->flight_off, (unsigned)n, (uint64_t)-1);
    sqe->user_data = gw__ud(GW_OP_LOGWRITE, lb == &w->log_err ? 1 : 0, 0);
    lb->busy = true;
}

static void log_kick(struct gw_worker *w, struct gw_logbuf *lb)
{
    if (lb->busy || lb->fill_len == 0)
        return;
    char *t = lb->flight;
    lb->flight = lb->fill;
    lb->flight_len = lb->fill_len;
    lb->flight_off = 0;
    lb->fill = t;
    lb->fill_len = 0;
    log_submit(w, lb);
}

void gw__log_flush(struct gw_worker *w)
{
    log_kick(w, &w->log_out);
    log_kick(w, &w->log_err);
}

void gw__log_on_cqe(struct gw_worker *w, struct gw_logbuf *lb, int res)
{
    lb->busy = false;
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN) {
            log_submit(w, lb);
            return;
        }
        /* stdout gone (EPIPE, closed): drop what was in flight, count it */
        gw__stat_add(&w->shared.log_dropped, 1);
        lb->flight_len = lb->flight_off = 0;
        return;
    }
    lb->flight_off += (size_t)res;
    if (lb->flight_off < lb->flight_len)
        log_submit(w, lb);
    else
        log_kick(w, lb);
}

static void log_append(struct gw_worker *w, struct gw_logbuf *lb, const char *line, size_t n)
{
    if (lb->fill_len + n > GW_LOGBUF_SIZE) {
        gw__stat_add(&w->shared.log_dropped, 1);
        return;
    }
    memcpy(lb->fill + lb->fill_len, line, n);
    lb->fill_len += n;
}

static void format_time(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

void gw__log_err(struct gw_worker *w, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char ts[40];
    format_time(ts, sizeof(ts));
    char line[1024];
    struct gw_jw jw;
    gw_jw_init(&jw, line, sizeof(line) - 1);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "time");
    gw_jw_cstr(&jw, ts);
    gw_jw_key(&jw, "level");
    gw_jw_cstr(&jw, "error");
    gw_jw_key(&jw, "worker");
    gw_jw_uint(&jw, w->id);
    gw_jw_key(&jw, "msg");
    gw_jw_cstr(&jw, msg);
    gw_jw_obj_end(&jw);
    if (jw.overflow)
        return;
    line[jw.len] = '\n';
    log_append(w, &w->log_err, line, jw.len + 1);
}

void gw__log_access(struct gw_worker *w, struct gw_client *c)
{
    const struct gw_req *r = &c->req;
    uint64_t now = gw__now_ns();
    char ts[40];
    format_time(ts, sizeof(ts));
    /* Room for every field at its longest: the model name alone may take
     * 256 bytes escaped six-fold (net/server.c bounds it). */
    char line[3072];
    struct gw_jw jw;
    gw_jw_init(&jw, line, sizeof(line) - 1);
    gw_jw_obj_begin(&jw);
    gw_jw_key(&jw, "time");
    gw_jw_cstr(&jw, ts);
    gw_jw_key(&jw, "request_id");
    gw_jw_cstr(&jw, r->rid);
    gw_jw_key(&jw, "key");
    if (r->key)
        gw_jw_cstr(&jw, r->key->name);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "key_id");
    if (r->key)
        gw_jw_cstr(&jw, r->key->id);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "team");
    if (r->key && r->key->team)
        gw_jw_cstr(&jw, r->key->team->name);
    else
        gw_jw_null(&jw);
    /* The name asked for, also when no model has it (a 404 model_not_found). */
    gw_jw_key(&jw, "model");
    if (r->model)
        gw_jw_cstr(&jw, r->model->name);
    else if (r->model_asked)
        gw_jw_cstr(&jw, r->model_asked);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "provider");
    if (r->model)
        gw_jw_cstr(&jw, r->model->provider->name);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "endpoint");
    gw_jw_cstr(&jw, r->model || r->model_asked ? gw_endpoint_str(r->ep) : "local");
    gw_jw_key(&jw, "stream");
    gw_jw_bool(&jw, r->stream);
    gw_jw_key(&jw, "status");
    gw_jw_int(&jw, r->status);
    gw_jw_key(&jw, "bytes_in");
    gw_jw_uint(&jw, r->bytes_in);
    gw_jw_key(&jw, "bytes_out");
    gw_jw_uint(&jw, r->bytes_out);
    gw_jw_key(&jw, "ttfb_ms");
    if (r->t_ttfb_ns && r->t_start_ns)
        gw_jw_double(&jw, (double)(r->t_ttfb_ns - r->t_start_ns) / 1e6);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "duration_ms");
    gw_jw_double(&jw, r->t_start_ns ? (double)(now - r->t_start_ns) / 1e6 : 0.0);
    gw_jw_key(&jw, "prompt_tokens");
    if (r->have_usage)
        gw_jw_uint(&jw, r->prompt_tokens);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "completion_tokens");
    if (r->have_usage)
        gw_jw_uint(&jw, r->completion_tokens);
    else
        gw_jw_null(&jw);
    gw_jw_key(&jw, "cost_usd");
    if (r->key && r->recorded && r->have_cost)
        gw_jw_double(&jw, gw_pusd_to_usd(r->cost_pusd));
    else
        gw_jw_null(&jw);
    if (r->fail != GW_FAIL_NONE) {
        gw_jw_key(&jw, "error");
        gw_jw_cstr(&jw, gw_fail_str(r->fail));
    }
    gw_jw_obj_end(&jw);
    if (jw.overflow)
        return;
    line[jw.len] = '\n';
    log_append(w, &w->log_out, line, jw.len + 1);
}

/* ---- metrics ---- */

static const double hist_bounds[GW_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                                     5,      10,    30,     60};

static void hist_observe(_Atomic uint64_t *buckets, _Atomic uint64_t *sum_us, uint64_t ns)
{
    double s = (double)ns / 1e9;
    unsigned i = 0;
    while (i < GW_HIST_BUCKETS && s > hist_bounds[i])
        i++;
    gw__stat_add(&buckets[i], 1);
    gw__stat_add(sum_us, ns / 1000);
}

static uint32_t str_hash(const char *s, uint32_t h)
{
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

void gw__metrics_spend(struct gw_worker *w, const struct gw_req *r)
{
    struct gw_worker_shared *sh = &w->shared;
    const char *key = r->key->name;
    const char *team = r->key->team ? r->key->team->name : "";
    const char *model = r->model ? r->model->name : "";
    uint32_t h = str_hash(model, str_hash(team, str_hash(key, 2166136261u)));
    struct gw_spendcount *slot = NULL;
    for (unsigned i = 0; i < GW_SPENDCOUNT_SLOTS; i++) {
        struct gw_spendcount *e = &sh->spend[(h + i) % GW_SPENDCOUNT_SLOTS];
        if (!atomic_load_explicit(&e->used, memory_order_relaxed)) {
            snprintf(e->key, sizeof(e->key), "%s", key);
            snprintf(e->team, sizeof(e->team), "%s", team);
            snprintf(e->model, sizeof(e->model), "%s", model);
            /* pairs with the acquire load in gw__metrics_render */
            atomic_store_explicit(&e->used, 1, memory_order_release);
            slot = e;
            break;
        }
        if (!strcmp(e->key, key) && !strcmp(e->team, team) && !strcmp(e->model, model)) {
            slot = e;
            break;
        }
    }
    if (!slot) {
        gw__stat_add(&sh->spend_overflow, 1);
        return;
    }
    gw__stat_add(&slot->requests, 1);
    gw__stat_add(&slot->prompt_tokens, r->prompt_tokens);
    gw__stat_add(&slot->completion_tokens, r->completion_tokens);
    gw__stat_add(&slot->cached_tokens, r->cached_tokens);
    if (r->cost_pusd > 0)
        gw__stat_add(&slot->cost_pusd, (uint64_t)r->cost_pusd);
}

void gw__metrics_request(struct gw_worker *w, struct gw_client *c, int status)
{
    const struct gw_req *r = &c->req;
    struct gw_worker_shared *sh = &w->shared;
    const char *model = r->model ? r->model->name : "";
    const char *prov = r->model ? r->model->provider->name : "";
    uint32_t h = str_hash(prov, str_hash(model, 2166136261u)) ^ (uint32_t)status * 2654435761u;
    struct gw_reqcount *slot = NULL;
    for (unsigned i = 0; i < GW_REQCOUNT_SLOTS; i++) {
        struct gw_reqcount *e = &sh->reqs[(h + i) % GW_REQCOUNT_SLOTS];
        if (!atomic_load_explicit(&e->used, memory_order_relaxed)) {
            e->status = (uint16_t)status;
            snprintf(e->model, sizeof(e->model), "%s", model);
            snprintf(e->provider, sizeof(e->provider), "%s", prov);
            atomic_store_explicit(&e->count, 0, memory_order_relaxed);
            /* pairs with the acquire load in gw__metrics_render */
            atomic_store_explicit(&e->used, 1, memory_order_release);
            slot = e;
            break;
        }
        if (e->status == status && strncmp(e->model, model, sizeof(e->model) - 1) == 0 &&
            strncmp(e->provider, prov, sizeof(e->provider) - 1) == 0) {
            slot = e;
            break;
        }
    }
    if (slot)
        gw__stat_add(&slot->count, 1);
    else
        gw__stat_add(&sh->reqs_overflow, 1);
    uint64_t now = gw__now_ns();
    if (r->t_start_ns)
        hist_observe(sh->total_hist, &sh->total_sum_us, now - r->t_start_ns);
    if (r->t_ttfb_ns && r->t_sent_ns)
        hist_observe(sh->up_hist, &sh->up_sum_us, r->t_ttfb_ns - r->t_sent_ns);
}

struct text {
    char *buf;
    size_t len, cap;
    struct gw_arena *a;
    bool failed;
};

static void tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(struct text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap * 2 + (size_t)n;
        char *nb = gw_arena_alloc(t->a, ncap);
        if (!nb) {
            t->failed = true;
            return;
        }
        memcpy(nb, t->buf, t->len);
        t->buf = nb;
        t->cap = ncap;
    }
}

static uint64_t ld(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

#define SUM(field)                                                                                 \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (unsigned i_ = 0; i_ < rt->nworkers; i_++)                                             \
            s_ += ld(&rt->workers[i_].shared.field);                                               \
        s_;                                                                                        \
    })

static void hist_render(struct text *t, struct gw_runtime *rt, const char *name, const char *help,
                        bool total)
{
    tprintf(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0, sum_us = 0;
    for (unsigned b = 0; b <= GW_HIST_BUCKETS; b++) {
        for (unsigned i = 0; i < rt->nworkers; i++) {
            const struct gw_worker_shared *sh = &rt->workers[i].shared;
            cum += ld(total ? &sh->total_hist[b] : &sh->up_hist[b]);
        }
        if (b < GW_HIST_BUCKETS)
            tprintf(t, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, hist_bounds[b], cum);
        else
            tprintf(t, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        const struct gw_worker_shared *sh = &rt->workers[i].shared;
        sum_us += ld(total ? &sh->total_sum_us : &sh->up_sum_us);
    }
    tprintf(t, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, (double)sum_us / 1e6, name, cum);
}

/*
 * conduit_spend_usd_total and conduit_tokens_total by key (name), team and
 * model. Cardinality is bounded: each worker keeps GW_SPENDCOUNT_SLOTS label
 * sets; past that, requests count in conduit_spend_unlabelled_total only (the
 * exact figures are in the usage table either way).
 */
static void spend_render(struct text *t, struct gw_runtime *rt, struct gw_arena *a)
{
    size_t maxe = (size_t)rt->nworkers * GW_SPENDCOUNT_SLOTS;
    struct gw_spendcount **seen = gw_arena_alloc(a, maxe * sizeof(*seen));
    uint64_t(*sums)[5] = gw_arena_alloc(a, maxe * sizeof(*sums));
    if (!seen || !sums) {
        t->failed = true;
        return;
    }
    size_t nseen = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        for (unsigned k = 0; k < GW_SPENDCOUNT_SLOTS; k++) {
            struct gw_spendcount *e = &rt->workers[i].shared.spend[k];
            if (!atomic_load_explicit(&e->used, memory_order_acquire))
                continue;
            size_t j = 0;
            while (j < nseen && !(strcmp(seen[j]->key, e->key) == 0 &&
                                  strcmp(seen[j]->team, e->team) == 0 &&
                                  strcmp(seen[j]->model, e->model) == 0))
                j++;
            if (j == nseen) {
                seen[nseen] = e;
                memset(sums[nseen++], 0, sizeof(sums[0]));
            }
            sums[j][0] += ld(&e->requests);
            sums[j][1] += ld(&e->prompt_tokens);
            sums[j][2] += ld(&e->completion_tokens);
            sums[j][3] += ld(&e->cached_tokens);
            sums[j][4] += ld(&e->cost_pusd);
        }
    }
    tprintf(t, "# HELP conduit_spend_usd_total Cost of requests by key, team and model (USD).\n"
               "# TYPE conduit_spend_usd_total counter\n");
    for (size_t j = 0; j < nseen; j++) {
        char key[2 * sizeof(seen[j]->key) + 1], team[2 * sizeof(seen[j]->team) + 1],
            model[2 * sizeof(seen[j]->model) + 1];
        gw_prom_escape(key, sizeof(key), seen[j]->key, strlen(seen[j]->key));
        gw_prom_escape(team, sizeof(team), seen[j]->team, strlen(seen[j]->team));
        gw_prom_escape(model, sizeof(model), seen[j]->model, strlen(seen[j]->model));
        tprintf(t, "conduit_spend_usd_total{key=\"%s\",team=\"%s\",model=\"%s\"} %.12f\n", key,
                team, model, gw_pusd_to_usd((int64_t)sums[j][4]));
    }
    tprintf(t, "# HELP conduit_tokens_total Tokens by key, team, model and kind.\n"
               "# TYPE conduit_tokens_total counter\n");
    static const char *const kinds[] = {"prompt", "completion", "cached"};
    for (size_t j = 0; j < nseen; j++) {
        char key[2 * sizeof(seen[j]->key) + 1], team[2 * sizeof(seen[j]->team) + 1],
            model[2 * sizeof(seen[j]->model) + 1];
        gw_prom_escape(key, sizeof(key), seen[j]->key, strlen(seen[j]->key));
        gw_prom_escape(team, sizeof(team), seen[j]->team, strlen(seen[j]->team));
        gw_prom_escape(model, sizeof(model), seen[j]->model, strlen(seen[j]->model));
        for (unsigned k = 0; k < 3; k++)
            tprintf(t,
                    "conduit_tokens_total{key=\"%s\",team=\"%s\",model=\"%s\",kind=\"%s\"} "
                    "%" PRIu64 "\n",
                    key, team, model, kinds[k], sums[j][1 + k]);
    }
    tprintf(t, "# HELP conduit_spend_unlabelled_total Requests past the spend label table's size.\n"
               "# TYPE conduit_spend_unlabelled_total counter\n"
               "conduit_spend_unlabelled_total %" PRIu64 "\n",
            SUM(spend_overflow));
}

char *gw__metrics_render(struct gw_worker *w, struct gw_arena *a, size_t *len)
{
    struct gw_runtime *rt = w->rt;
    struct text t = {.a = a, .cap = 16384};
    t.buf = gw_arena_alloc(a, t.cap);
    if (!t.buf)
        return NULL;

    tprintf(&t, "# HELP conduit_requests_total Requests by model, provider and status.\n"
                "# TYPE conduit_requests_total counter\n");
    /* Merge the workers' tables: entries with the same labels add up. */
    size_t maxe = (size_t)rt->nworkers * GW_REQCOUNT_SLOTS;
    struct gw_reqcount **seen = gw_arena_alloc(a, maxe * sizeof(*seen));
    uint64_t *sums = gw_arena_alloc(a, maxe * sizeof(*sums));
    if (!seen || !sums)
        return NULL;
    size_t nseen = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        for (unsigned k = 0; k < GW_REQCOUNT_SLOTS; k++) {
            struct gw_reqcount *e = &rt->workers[i].shared.reqs[k];
            if (!atomic_load_explicit(&e->used, memory_order_acquire))
                continue;
            size_t j = 0;
            while (j < nseen && !(seen[j]->status == e->status &&
                                  strcmp(seen[j]->model, e->model) == 0 &&
                                  strcmp(seen[j]->provider, e->provider) == 0))
                j++;
            if (j == nseen) {
                seen[nseen] = e;
                sums[nseen++] = 0;
            }
            sums[j] += ld(&e->count);
        }
    }
    for (size_t j = 0; j < nseen; j++) {
        /* Names come from the config: a quote or newline in one must not break the format. */
        char model[2 * sizeof(seen[j]->model) + 1];
        char prov[2 * sizeof(seen[j]->provider) + 1];
        gw_prom_escape(model, sizeof(model), seen[j]->model, strlen(seen[j]->model));
        gw_prom_escape(prov, sizeof(prov), seen[j]->provider, strlen(seen[j]->provider));
        tprintf(&t,
                "conduit_requests_total{model=\"%s\",provider=\"%s\",status=\"%u\"} %" PRIu64 "\n",
                model, prov, seen[j]->status, sums[j]);
    }
    tprintf(&t, "# HELP conduit_requests_unlabelled_total Requests past the label table's size.\n"
                "# TYPE conduit_requests_unlabelled_total counter\n"
                "conduit_requests_unlabelled_total %" PRIu64 "\n",
            SUM(reqs_overflow));

    spend_render(&t, rt, a);
    tprintf(&t,
            "# HELP conduit_budget_refusals_total Requests refused with 429 budget_exceeded.\n"
            "# TYPE conduit_budget_refusals_total counter\n"
            "conduit_budget_refusals_total{budget=\"key\"} %" PRIu64 "\n"
            "conduit_budget_refusals_total{budget=\"team\"} %" PRIu64 "\n"
            "# HELP conduit_model_refusals_total Requests refused with 403 model_not_allowed.\n"
            "# TYPE conduit_model_refusals_total counter\nconduit_model_refusals_total %" PRIu64
            "\n"
            "# HELP conduit_unpriced_requests_total Requests served for a model with no known "
            "price (cost_usd null).\n"
            "# TYPE conduit_unpriced_requests_total counter\nconduit_unpriced_requests_total %" PRIu64
            "\n"
            "# HELP conduit_usage_records_total Usage records written to the usage logs.\n"
            "# TYPE conduit_usage_records_total counter\nconduit_usage_records_total %" PRIu64 "\n"
            "# HELP conduit_usage_write_errors_total Failed writes to the usage logs.\n"
            "# TYPE conduit_usage_write_errors_total counter\n"
            "conduit_usage_write_errors_total %" PRIu64 "\n"
            "# HELP conduit_usage_records_dropped_total Usage records lost: the log buffer was "
            "full.\n"
            "# TYPE conduit_usage_records_dropped_total counter\n"
            "conduit_usage_records_dropped_total %" PRIu64 "\n"
            "# HELP conduit_usage_hold_seconds_total Time responses' last bytes waited for "
            "their usage record's write.\n"
            "# TYPE conduit_usage_hold_seconds_total counter\nconduit_usage_hold_seconds_total "
            "%.6f\n",
            SUM(budget_refusals[GW_ADMIT_KEY_BUDGET]), SUM(budget_refusals[GW_ADMIT_TEAM_BUDGET]),
            SUM(model_refusals), SUM(unpriced), SUM(usage_records), SUM(usage_write_errors),
            SUM(usage_dropped), (double)SUM(usage_held_ns) / 1e9);

    if (rt->store_stats) {
        const struct gw_store_stats *ss = rt->store_stats;
        tprintf(&t,
                "# HELP conduit_store_records_total Usage records inserted into the store.\n"
                "# TYPE conduit_store_records_total counter\nconduit_store_records_total %" PRIu64
                "\n"
                "# HELP conduit_store_batches_total Store transactions that inserted usage.\n"
                "# TYPE conduit_store_batches_total counter\nconduit_store_batches_total %" PRIu64
                "\n"
                "# HELP conduit_store_failures_total Store passes that failed (database down or "
                "locked); records wait in the usage logs.\n"
                "# TYPE conduit_store_failures_total counter\nconduit_store_failures_total %" PRIu64
                "\n"
                "# HELP conduit_store_bad_lines_total Usage log lines that were not records.\n"
                "# TYPE conduit_store_bad_lines_total counter\nconduit_store_bad_lines_total %" PRIu64
                "\n"
                "# HELP conduit_usage_backlog_bytes Usage log bytes not yet inserted.\n"
                "# TYPE conduit_usage_backlog_bytes gauge\nconduit_usage_backlog_bytes %" PRIu64 "\n"
                "# HELP conduit_store_last_insert_timestamp_seconds When the store last took "
                "inserts (Unix time; 0: never).\n"
                "# TYPE conduit_store_last_insert_timestamp_seconds gauge\n"
                "conduit_store_last_insert_timestamp_seconds %" PRId64 "\n",
                atomic_load_explicit(&ss->records, memory_order_relaxed),
                atomic_load_explicit(&ss->batches, memory_order_relaxed),
                atomic_load_explicit(&ss->failures, memory_order_relaxed),
                atomic_load_explicit(&ss->bad_lines, memory_order_relaxed),
                atomic_load_explicit(&ss->backlog_bytes, memory_order_relaxed),
                atomic_load_explicit(&ss->last_insert, memory_order_relaxed));
    }

    hist_render(&t, rt, "conduit_request_duration_seconds",
                "Time from the request head to the end of the response.", true);
    hist_render(&t, rt, "conduit_upstream_ttfb_seconds",
                "Time from the request sent upstream to the response head.", false);

    tprintf(&t,
            "# HELP conduit_connections_active Open client connections.\n"
            "# TYPE conduit_connections_active gauge\nconduit_connections_active %" PRIu64 "\n"
            "# HELP conduit_connections_total Accepted client connections.\n"
            "# TYPE conduit_connections_total counter\nconduit_connections_total %" PRIu64 "\n"
            "# HELP conduit_streams_active Streaming responses in progress.\n"
            "# TYPE conduit_streams_active gauge\nconduit_streams_active %" PRIu64 "\n"
            "# HELP conduit_bytes_received_total Bytes read from clients.\n"
            "# TYPE conduit_bytes_received_total counter\nconduit_bytes_received_total %" PRIu64
            "\n"
            "# HELP conduit_bytes_sent_total Bytes written to clients.\n"
            "# TYPE conduit_bytes_sent_total counter\nconduit_bytes_sent_total %" PRIu64 "\n"
            "# HELP conduit_upstream_connections Open upstream connections.\n"
            "# TYPE conduit_upstream_connections gauge\nconduit_upstream_connections %" PRIu64 "\n"
            "# HELP conduit_upstream_connects_total New upstream connections.\n"
            "# TYPE conduit_upstream_connects_total counter\n"
            "conduit_upstream_connects_total %" PRIu64 "\n"
            "# HELP conduit_upstream_tls_resumed_total TLS handshakes that resumed a session.\n"
            "# TYPE conduit_upstream_tls_resumed_total counter\n"
            "conduit_upstream_tls_resumed_total %" PRIu64 "\n"
            "# HELP conduit_upstream_retries_total Requests retried on a fresh connection.\n"
            "# TYPE conduit_upstream_retries_total counter\n"
            "conduit_upstream_retries_total %" PRIu64 "\n"
            "# HELP conduit_buffer_refusals_total Requests refused for lack of buffer memory.\n"
            "# TYPE conduit_buffer_refusals_total counter\n"
            "conduit_buffer_refusals_total %" PRIu64 "\n"
            "# HELP conduit_log_dropped_total Log lines dropped because output was slow.\n"
            "# TYPE conduit_log_dropped_total counter\nconduit_log_dropped_total %" PRIu64 "\n"
            "# HELP conduit_stale_cqes_total Completions for closed slots (should stay 0).\n"
            "# TYPE conduit_stale_cqes_total counter\nconduit_stale_cqes_total %" PRIu64 "\n",
            SUM(conns_active), SUM(conns_total), SUM(streams_active), SUM(bytes_in),
            SUM(bytes_out), SUM(upstream_conns), SUM(upstream_connects), SUM(tls_resumed),
            SUM(upstream_retries), SUM(buffer_refusals), SUM(log_dropped), SUM(stale_cqes));
    tprintf(&t,
            "# HELP conduit_recv_buffers_exhausted_total Receives that found the worker's "
            "provided buffers all in use (retried).\n"
            "# TYPE conduit_recv_buffers_exhausted_total counter\n"
            "conduit_recv_buffers_exhausted_total{side=\"client\"} %" PRIu64 "\n"
            "conduit_recv_buffers_exhausted_total{side=\"upstream\"} %" PRIu64 "\n",
            SUM(client_enobufs), SUM(upstream_enobufs));
    tprintf(&t, "# HELP conduit_upstream_failures_total Upstream failures by reason.\n"
                "# TYPE conduit_upstream_failures_total counter\n");
    for (unsigned f = 1; f < GW_FAIL_COUNT; f++)
        tprintf(&t, "conduit_upstream_failures_total{reason=\"%s\"} %" PRIu64 "\n",
                gw_fail_name((enum gw_fail)f), SUM(fails[f]));
    tprintf(&t,
            "# HELP conduit_config_generation Generation of the configuration in use.\n"
            "# TYPE conduit_config_generation gauge\nconduit_config_generation %" PRIu64 "\n"
            "# HELP conduit_workers Worker threads.\n# TYPE conduit_workers gauge\n"
            "conduit_workers %u\n",
            w->snap->generation, rt->nworkers);
    if (t.failed)
        return NULL;
    *len = t.len;
    return t.buf;
}
