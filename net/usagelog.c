/*
 * net/usagelog.c — the worker's half of the usage log: settle each finished
 * request's spend, write its usage record to the worker's own log file
 * through the ring, and hold the response's last bytes until that write has
 * completed.
 *
 * Why the hold: the guarantee is that a process killed at any moment loses no
 * record of a response its client received in full. A write that returned
 * is in the page cache and survives the process; so the response's last
 * bytes (its final chunk, or the whole body of a short answer) are queued but
 * not sent until the write carrying its record has completed. Records are
 * gathered per loop turn and written with one write, so the cost is one
 * write per turn, not per request, and a few microseconds of latency on the
 * last bytes (measured in bench/RESULTS.md). A record whose write fails
 * (disk full, I/O error) is counted and logged, and its response is
 * released: the gateway serves on rather than stall every client.
 *
 * Records of requests that end without a full response (client gone,
 * upstream failure before any byte, a refusal by the gateway) are written
 * the same way but nothing waits for them.
 *
 * Rotation: past store.log_file_bytes, with no write in flight, the worker
 * takes the file the store thread opened ahead (core/usage.h handoff),
 * publishes it as current and closes the old one through the ring. If none
 * is ready it keeps writing to the current file (the store thread opens the
 * next within a flush interval).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liburing.h>

#include "core/budget.h"
#include "core/common.h"
#include "core/money.h"
#include "net/worker.h"

int gw__usage_init(struct gw_worker *w)
{
    struct gw_usagelog *u = &w->usage;
    memset(u, 0, sizeof(*u));
    u->fd = -1;
    u->closing_fd = -1;
    if (!w->rt->boot)
        return 0;
    struct gw_usage_handoff *h = &w->shared.usage;
    /* pairs with the store thread's release store of next_fd */
    int fd = atomic_exchange_explicit(&h->next_fd, -1, memory_order_acquire);
    if (fd < 0)
        return -ENOENT; /* the first file is opened before the workers start */
    u->fd = fd;
    u->fileseq = atomic_load_explicit(&h->next_file, memory_order_relaxed);
    /* pairs with the store thread's acquire load: files before this one are complete */
    atomic_store_explicit(&h->cur_file, u->fileseq, memory_order_release);
    u->fill_cap = u->flight_cap = GW_USAGEBUF_SIZE;
    u->fill = malloc(u->fill_cap);
    u->flight = malloc(u->flight_cap);
    u->held_cap = w->nclients;
    u->held = calloc(u->held_cap ? u->held_cap : 1, sizeof(*u->held));
    if (!u->fill || !u->flight || !u->held)
        return -ENOMEM;
    u->on = true;
    return 0;
}

void gw__usage_destroy(struct gw_worker *w)
{
    struct gw_usagelog *u = &w->usage;
    if (u->fd >= 0)
        close(u->fd);
    if (u->closing_fd >= 0)
        close(u->closing_fd);
    free(u->fill);
    free(u->flight);
    free(u->held);
    memset(u, 0, sizeof(*u));
    u->fd = u->closing_fd = -1;
}

bool gw__usage_idle(const struct gw_worker *w)
{
    const struct gw_usagelog *u = &w->usage;
    return !u->on || (!u->busy && u->fill_len == 0 && u->held_len == 0 && u->closing_fd < 0);
}

static void submit_write(struct gw_worker *w)
{
    struct gw_usagelog *u = &w->usage;
    struct io_uring_sqe *sqe = gw__sqe(w);
    /* The file is O_APPEND: the offset argument is ignored, each write lands at the end. */
    io_uring_prep_write(sqe, u->fd, u->flight + u->flight_off,
                        (unsigned)(u->flight_len - u->flight_off), (uint64_t)-1);
    sqe->user_data = gw__ud(GW_OP_USAGEWRITE, 0, 0);
    u->busy = true;
}

void gw__usage_flush(struct gw_worker *w)
{
    struct gw_usagelog *u = &w->usage;
    if (!u->on || u->busy || u->fill_len == 0)
        return;
    /* Swap the buffers: the flight buffer is lent to the kernel until the CQE. */
    char *t = u->flight;
    size_t tcap = u->flight_cap;
    u->flight = u->fill;
    u->flight_cap = u->fill_cap;
    u->flight_len = u->fill_len;
    u->flight_off = 0;
    u->fill = t;
    u->fill_cap = tcap;
    u->fill_len = 0;
    submit_write(w);
}

/* Lets go of responses whose records are now written (or lost: see the top comment). */
static void release_held(struct gw_worker *w)
{
    struct gw_usagelog *u = &w->usage;
    while (u->held_len) {
        struct gw_usage_hold *hd = &u->held[u->held_head];
        if (hd->upto > u->durable)
            break;
        u->held_head = (u->held_head + 1) % u->held_cap;
        u->held_len--;
        struct gw_client *c = &w->clients[hd->idx];
        if (c->gen != hd->gen || !(c->flags & GW_CF_USAGE_HOLD))
            continue; /* closed (and perhaps reused) while it waited */
        c->flags &= ~GW_CF_USAGE_HOLD;
        gw__stat_add(&w->shared.usage_held_ns, gw__now_ns() - hd->since_ns);
        if (c->state == GW_CS_CLOSING || c->state == GW_CS_FREE)
            continue;
        gw__client_flush(w, c);
        if (!(c->flags & GW_CF_SEND_BUSY) && c->out.len == 0 && c->state == GW_CS_ACTIVE &&
            (c->flags & GW_CF_RESP_DONE))
            gw__server_request_done(w, c);
    }
}

static void maybe_rotate(struct gw_worker *w)
{
    struct gw_usagelog *u = &w->usage;
    if (u->busy || u->closing_fd >= 0 || !w->snap || u->file_bytes < w->snap->store.log_file_bytes)
        return;
    struct gw_usage_handoff *h = &w->shared.usage;
    /* pairs with the store thread's release store of next_fd */
    int fd = atomic_exchange_explicit(&h->next_fd, -1, memory_order_acquire);
    if (fd < 0)
        return;
    u->closing_fd = u->fd;
    u->fd = fd;
    u->fileseq = atomic_load_explicit(&h->next_file, memory_order_relaxed);
    u->file_bytes = 0;
    /* pairs with the store thread's acquire load: every write to the old file completed */
    atomic_store_explicit(&h->cur_file, u->fileseq, memory_order_release);
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_close(sqe, u->closing_fd);
    sqe->user_data = gw__ud(GW_OP_USAGECLOSE, 0, 0);
}

void gw__usage_on_cqe(struct gw_worker *w, enum gw_op op, int res)
{
    struct gw_usagelog *u = &w->usage;
    if (op == GW_OP_USAGECLOSE) {
        u->closing_fd = -1;
        return;
    }
    u->busy = false;
    if (res == -EINTR || res == -EAGAIN) {
        submit_write(w);
        return;
    }
    if (res <= 0) {
        /* The bytes in flight are lost: count them, say so, and let their responses go. */
        gw__stat_add(&w->shared.usage_write_errors, 1);
        gw__log_err(w, "worker %u: usage log write failed (%s): %zu bytes of records lost", w->id,
                    res < 0 ? strerror(-res) : "no progress", u->flight_len - u->flight_off);
        u->durable += u->flight_len - u->flight_off;
        u->flight_len = u->flight_off = 0;
    } else {
        u->flight_off += (size_t)res;
        u->file_bytes += (uint64_t)res;
        u->durable += (uint64_t)res;
        if (u->flight_off < u->flight_len) {
            submit_write(w); /* a short write: the rest, before anything newer */
            release_held(w);
            return;
        }
        u->flight_len = u->flight_off = 0;
    }
    release_held(w);
    maybe_rotate(w);
    gw__usage_flush(w);
}

/* ---- settling and the record ---- */

/* src cut to cap - 1 bytes (gw_usage_format cuts at a character boundary). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static void compute_cost(struct gw_req *r)
{
    r->have_cost = r->price != NULL;
    r->cost_pusd = 0;
    if (!r->price)
        return;
    /*
     * No usage from the provider, though it had the whole request and the
     * answer had begun or the client left while it was being made (a client
     * that hangs up before the usage chunk, an upstream cut mid-stream): the
     * provider bills it, so the budget does too — a stream for what was
     * relayed (the prompt as estimated, one token per content event), any
     * other answer at its reservation. Otherwise hanging up just before the
     * end would make every request free.
     */
    if (!r->have_usage && r->admitted && r->up_written &&
        (r->fail == GW_FAIL_CLIENT_GONE || r->status == 499 ||
         (r->status >= 200 && r->status < 300))) {
        if (r->stream) {
            r->prompt_tokens = r->prompt_est;
            r->completion_tokens = r->stream_tokens;
            r->have_usage = true;
        } else {
            r->cost_pusd = r->est_pusd;
            return;
        }
    }
    /* A stream a hard budget cut is billed for what it used (estimated, net/relay.c). */
    if (!r->have_usage ||
        ((r->status < 200 || r->status >= 300) && r->status != 499 &&
         r->fail != GW_FAIL_BUDGET))
        return;
    struct gw_cost_in in = {.prompt_tokens = r->prompt_tokens,
                            .completion_tokens = r->completion_tokens,
                            .cached_tokens = r->cached_tokens,
                            .cache_write_tokens = r->cache_write_tokens,
                            .embedding = r->ep == GW_EP_EMBEDDINGS};
    r->cost_pusd = gw_price_cost(r->price, &in);
}

static void fill_record(struct gw_worker *w, struct gw_client *c, struct gw_usage_rec *rec)
{
    struct gw_req *r = &c->req;
    memset(rec, 0, sizeof(*rec));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rec->time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    copy_str(rec->boot, sizeof(rec->boot), w->rt->boot);
    rec->worker = w->id;
    rec->seq = ++w->usage.seq;
    copy_str(rec->request_id, sizeof(rec->request_id), r->rid);
    const struct gw_vkey *k = r->key;
    copy_str(rec->key_id, sizeof(rec->key_id), k->id);
    copy_str(rec->key_name, sizeof(rec->key_name), k->name);
    copy_str(rec->team_id, sizeof(rec->team_id), k->team ? k->team->id : "");
    rec->key_slot = k->slot;
    rec->team_slot = k->team ? k->team->slot : GW_SLOT_NONE;
    copy_str(rec->model, sizeof(rec->model),
             r->model ? r->model->name : (r->model_asked ? r->model_asked : ""));
    copy_str(rec->provider, sizeof(rec->provider), r->model ? r->model->provider->name : "");
    copy_str(rec->deployment, sizeof(rec->deployment), r->model ? r->model->upstream_model : "");
    copy_str(rec->endpoint, sizeof(rec->endpoint), gw_endpoint_str(r->ep));
    rec->stream = r->stream;
    rec->status = r->status ? r->status : 499;
    copy_str(rec->error, sizeof(rec->error),
             r->fail != GW_FAIL_NONE ? gw_fail_code(r->fail) : (r->err_code ? r->err_code : ""));
    rec->prompt_tokens = r->prompt_tokens;
    rec->completion_tokens = r->completion_tokens;
    rec->cached_tokens = r->cached_tokens;
    rec->cache_write_tokens = r->cache_write_tokens;
    rec->reasoning_tokens = r->reasoning_tokens;
    rec->have_cost = r->have_cost;
    rec->cost_pusd = r->cost_pusd;
    rec->est_pusd = r->est_pusd;
    copy_str(rec->price_version, sizeof(rec->price_version),
             r->snap && r->snap->accounts ? gw_accounts_price_version(r->snap->accounts) : "");
    uint64_t now = gw__now_ns();
    rec->ttfb_us =
        r->t_ttfb_ns && r->t_start_ns ? (int64_t)(r->t_ttfb_ns - r->t_start_ns) / 1000 : -1;
    rec->duration_us = r->t_start_ns ? (int64_t)(now - r->t_start_ns) / 1000 : 0;
    rec->bytes_in = r->bytes_in;
    rec->bytes_out = r->bytes_out;
}

/* Room in fill for n more bytes, growing it up to GW_USAGEBUF_MAX. */
static bool fill_room(struct gw_usagelog *u, size_t n)
{
    if (u->fill_len + n <= u->fill_cap)
        return true;
    size_t cap = u->fill_cap;
    while (cap < u->fill_len + n && cap < GW_USAGEBUF_MAX)
        cap *= 2;
    if (cap < u->fill_len + n)
        return false;
    char *nb = realloc(u->fill, cap);
    if (!nb)
        return false;
    u->fill = nb;
    u->fill_cap = cap;
    return true;
}

void gw__usage_finish(struct gw_worker *w, struct gw_client *c, bool hold)
{
    struct gw_req *r = &c->req;
    if (!r->key || r->recorded)
        return;
    r->recorded = true;
    compute_cost(r);
    if (r->admitted) {
        gw_spend_settle_on_worker(&w->ledger, r->key, r->est_pusd, r->cost_pusd);
        r->admitted = false;
    }
    if (r->model && !r->price && r->status >= 200 && r->status < 300)
        gw__stat_add(&w->shared.unpriced, 1);
    gw__metrics_spend(w, r);
    struct gw_usagelog *u = &w->usage;
    if (!u->on)
        return;
    struct gw_usage_rec rec;
    fill_record(w, c, &rec);
    if (!fill_room(u, GW_USAGE_LINE_MAX)) {
        /* The disk has not kept up with GW_USAGEBUF_MAX of records: count the loss. */
        gw__stat_add(&w->shared.usage_dropped, 1);
        return;
    }
    int n = gw_usage_format(&rec, u->fill + u->fill_len, u->fill_cap - u->fill_len);
    if (n < 0) {
        gw__stat_add(&w->shared.usage_dropped, 1);
        return;
    }
    u->fill_len += (size_t)n;
    u->appended += (uint64_t)n;
    gw__stat_add(&w->shared.usage_records, 1);
    if (!hold || u->held_len == u->held_cap)
        return;
    struct gw_usage_hold *hd = &u->held[(u->held_head + u->held_len) % u->held_cap];
    hd->idx = c->idx;
    hd->gen = c->gen;
    hd->upto = u->appended;
    hd->since_ns = gw__now_ns();
    u->held_len++;
    c->flags |= GW_CF_USAGE_HOLD;
}
