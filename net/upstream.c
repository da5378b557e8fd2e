/*
 * net/upstream.c — the upstream HTTP/1.1 client: per-worker keep-alive pools
 * per origin, connect, BearSSL over the ring, sending the prepared request,
 * receiving the response into the relay, timeouts, failure and retry.
 *
 * Pools [ngx keepalive]: fixed limits per origin (idle kept, total
 * connections, requests per connection, idle time); idle connections keep a
 * receive armed so that an upstream close or a stray byte is noticed at once
 * and the connection dropped; LRU eviction past max_idle. A connection goes
 * back to the pool only when its response was read to the end, the upstream
 * allowed keep-alive and nothing followed the response.
 *
 * Receives are single-shot and take a provided buffer only when data is
 * there (an idle or waiting connection holds none); a TLS connection copies
 * what arrived into its engine's record buffer and gives the provided buffer
 * back. Backpressure is simply not posting the next receive while the
 * client's output queue is over its high-water mark.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>
#include <liburing.h>

#include "core/common.h"
#include "net/tls.h"
#include "net/worker.h"

static void up_pump(struct gw_worker *w, struct gw_upconn *up);
static void up_fail(struct gw_worker *w, struct gw_upconn *up, enum gw_fail f, const char *detail);

static inline int up_fidx(const struct gw_worker *w, const struct gw_upconn *up)
{
    return (int)(w->up_base + up->idx);
}

/* ---- pools ---- */

static struct gw_pool *pool_get(struct gw_worker *w, const struct gw_provider *p)
{
    struct gw_pool *pl;
    for (pl = w->pools; pl; pl = pl->next)
        if (strcmp(pl->key, p->origin_key) == 0)
            goto found;
    /* A new origin (first request, or a reload added one): rare, so plain malloc. */
    pl = calloc(1, sizeof(*pl));
    if (!pl)
        return NULL;
    pl->key = strdup(p->origin_key);
    if (!pl->key) {
        free(pl);
        return NULL;
    }
    pl->next = w->pools;
    w->pools = pl;
found:
    pl->max_idle = p->pool_max_idle;
    pl->idle_timeout_ms = p->pool_idle_timeout_ms;
    pl->max_requests = p->pool_max_requests;
    return pl;
}

static void idle_unlink(struct gw_upconn *up)
{
    struct gw_pool *pl = up->pool;
    if (up->pool_prev)
        up->pool_prev->pool_next = up->pool_next;
    else
        pl->idle_head = up->pool_next;
    if (up->pool_next)
        up->pool_next->pool_prev = up->pool_prev;
    up->pool_next = up->pool_prev = NULL;
    pl->nidle--;
}

/* A free TLS context holds the free list's link in its first bytes. */
struct tls_free_node {
    struct gw_tls_client *next;
};

static struct gw_tls_client *tls_get(struct gw_worker *w)
{
    struct gw_tls_client *t = w->tls_free;
    if (t) {
        w->tls_free = ((struct tls_free_node *)(void *)t)->next;
        return t;
    }
    return malloc(sizeof(*t));
}

static void tls_put(struct gw_worker *w, struct gw_tls_client *t)
{
#ifdef GW_POOL_PASSTHROUGH
    (void)w;
    free(t);
#else
    ((struct tls_free_node *)(void *)t)->next = w->tls_free;
    w->tls_free = t;
#endif
}

/* ---- lifecycle ---- */

static void up_timeout(struct gw_timer *t);

static void up_submit_close(struct gw_worker *w, struct gw_upconn *up)
{
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_close_direct(sqe, (unsigned)up_fidx(w, up));
    sqe->user_data = gw__ud(GW_OP_UCLOSE, up->idx, up->gen);
    up->inflight++;
}

static void up_close(struct gw_worker *w, struct gw_upconn *up)
{
    if (up->state == GW_US_CLOSING || up->state == GW_US_FREE)
        return;
    if (up->state == GW_US_IDLE)
        idle_unlink(up);
    if (up->pool)
        up->pool->nconns--;
    bool connecting = up->state == GW_US_CONNECTING;
    up->state = GW_US_CLOSING;
    up->owner = NULL;
    gw_tw_del(&w->tw, &up->timer);
    /* Cancel exactly the ops in flight (see gw__cancel), then close at zero. */
    if (connecting)
        gw__cancel(w, gw__ud(GW_OP_UCONNECT, up->idx, up->gen));
    if (up->recv_busy)
        gw__cancel(w, gw__ud(GW_OP_URECV, up->idx, up->gen));
    if (up->send_busy)
        gw__cancel(w, gw__ud(GW_OP_USEND, up->idx, up->gen));
    if (!up->inflight)
        up_submit_close(w, up);
}

static void stage_drop(struct gw_worker *w, struct gw_upconn *up)
{
    if (up->staged) {
        gw__ubuf_return(w, up->stage_bid);
        up->staged = false;
        up->stage_len = 0;
    }
}

/* Its request is not fully written yet: the send timer runs, and no reuse. */
static inline bool up_sending(const struct gw_upconn *up)
{
    return up->state == GW_US_BUSY && up->owner && !up->owner->req.up_written;
}

static void sblock_drop(struct gw_worker *w, struct gw_upconn *up)
{
    GW_BUG_ON(up->send_busy && up->sblock); /* the kernel may still read it */
    if (up->sblock) {
        gw_iopool_put(&w->iopool, up->sblock);
        up->sblock = NULL;
    }
}

static void up_free(struct gw_worker *w, struct gw_upconn *up)
{
    stage_drop(w, up);
    sblock_drop(w, up);
    if (up->tls) {
        tls_put(w, up->tls);
        up->tls = NULL;
    }
    up->state = GW_US_FREE;
    up->gen++;
    up->pool = NULL;
    up->free_next = w->up_free;
    w->up_free = up;
    gw__stat_sub(&w->shared.upstream_conns, 1);
}

static void arm_timer(struct gw_worker *w, struct gw_upconn *up, uint32_t ms)
{
    gw_tw_add(&w->tw, &up->timer, w->now_ms + ms);
}

/* Puts a connection whose response ended cleanly back in its pool, or closes it. */
static void up_release(struct gw_worker *w, struct gw_upconn *up, bool reusable)
{
    struct gw_pool *pl = up->pool;
    up->owner = NULL;
    up->prov = NULL;
    up->nrequests++;
    if (!reusable || w->draining || up->nrequests >= pl->max_requests || pl->max_idle == 0 ||
        up->send_busy) {
        up_close(w, up);
        return;
    }
    up->state = GW_US_IDLE;
    up->paused = false;
    up->action = "idle in pool";
    up->pool_prev = NULL;
    up->pool_next = pl->idle_head;
    if (pl->idle_head)
        pl->idle_head->pool_prev = up;
    pl->idle_head = up;
    pl->nidle++;
    arm_timer(w, up, pl->idle_timeout_ms);
    if (pl->nidle > pl->max_idle) {
        struct gw_upconn *lru = pl->idle_head;
        while (lru->pool_next)
            lru = lru->pool_next;
        up_close(w, lru);
    }
    if (up->state == GW_US_IDLE)
        up_pump(w, up); /* arms the receive that notices a close while idle */
}

/* ---- I/O ---- */

static void post_recv_plain(struct gw_worker *w, struct gw_upconn *up)
{
    if (up->recv_busy)
        return;
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_recv(sqe, up_fidx(w, up), NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = GW_UBUF_GROUP;
    sqe->user_data = gw__ud(GW_OP_URECV, up->idx, up->gen);
    up->inflight++;
    up->recv_busy = true;
}

static void post_send(struct gw_worker *w, struct gw_upconn *up, const void *buf, size_t len)
{
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_send(sqe, up_fidx(w, up), buf, len, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = gw__ud(GW_OP_USEND, up->idx, up->gen);
    up->inflight++;
    up->send_busy = true;
}

/*
 * Copies up to `avail` bytes of the request, from up_sent on, to dst. The
 * request's pieces are read here and nowhere else on the upstream side: what
 * goes to the kernel is always a copy the connection owns (its send block, or
 * the TLS engine's buffer), so no SQE ever points into request or client
 * memory, and a request that ends, or a client that sends more, while a send
 * is in flight cannot change what that send carries.
 */
static size_t copy_out(struct gw_req *r, char *dst, size_t avail)
{
    GW_BUG_ON(!r->up_iov || r->up_sent >= r->up_total); /* released, or nothing left */
    size_t skip = r->up_sent, done = 0;
    for (int i = 0; i < r->up_iovcnt && done < avail; i++) {
        size_t l = r->up_iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        size_t n = GW_MIN(l - skip, avail - done);
        memcpy(dst + done, (char *)r->up_iov[i].iov_base + skip, n);
        done += n;
        skip = 0;
    }
    return done;
}

/*
 * Plain: sends the next piece of the request (up to a block) from the
 * connection's own send block. A short send resends the rest of the piece,
 * copied again from the request (which owns its bytes until it is written).
 */
static void send_plain(struct gw_worker *w, struct gw_upconn *up)
{
    struct gw_req *r = &up->owner->req;
    if (!up->sblock) {
        up->sblock = gw_iopool_get(&w->iopool);
        if (!up->sblock) {
            up_fail(w, up, GW_FAIL_NOMEM, "no send buffer");
            return;
        }
    }
    size_t n = copy_out(r, up->sblock->data, GW_IOBLOCK_SIZE);
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_send(sqe, up_fidx(w, up), up->sblock->data, n, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = gw__ud(GW_OP_USEND, up->idx, up->gen);
    up->inflight++;
    up->send_busy = true;
}

/*
 * Every byte of the request reached the kernel (plain) or left the TLS
 * engine: from now on a failure must not send it again (gw_fail_retryable),
 * the send timer gives way to the first-byte timer, and once the response
 * has begun too, the request's own bytes are no longer needed.
 */
static void request_written(struct gw_worker *w, struct gw_upconn *up)
{
    struct gw_client *c = up->owner;
    struct gw_req *r = &c->req;
    r->up_written = true;
    r->t_sent_ns = gw__now_ns();
    sblock_drop(w, up);
    if (up->got_bytes) {
        gw__req_input_release(w, r);
        return; /* the response's own timers run */
    }
    up->action = "waiting for the response head";
    arm_timer(w, up, up->prov->first_byte_timeout_ms);
}

/* Some of the request went out: the send timer measures progress, not the total. */
static void send_progress(struct gw_worker *w, struct gw_upconn *up)
{
    if (up_sending(up) && !up->got_bytes)
        arm_timer(w, up, up->prov->send_timeout_ms);
}

/* Copies request bytes into the engine's application buffer. */
static void tls_fill_app(struct gw_upconn *up, br_ssl_engine_context *eng, size_t avail,
                         unsigned char *dst)
{
    struct gw_req *r = &up->owner->req;
    size_t done = copy_out(r, (char *)dst, avail);
    br_ssl_engine_sendapp_ack(eng, done);
    r->up_sent += done;
    if (r->up_sent == r->up_total)
        br_ssl_engine_flush(eng, 0);
}

/*
 * The upstream response ended, by its framing or by a close that delimits it:
 * the connection goes back to its pool (or closes) first, so that a
 * pipelined request the completion starts can have it, then the relay ends
 * the client's response.
 */
static void response_complete(struct gw_worker *w, struct gw_upconn *up, bool reusable)
{
    struct gw_client *c = up->owner;
    struct gw_req *r = &c->req;
    r->up = NULL;
    /* A response that ended before its request was fully written leaves the
     * connection mid-request: never reuse it. */
    up_release(w, up, reusable && r->up_written);
    gw__relay_complete(w, c);
}

/*
 * Hands response bytes to the relay and acts on what it says. Returns false
 * when the connection is no longer this request's (finished, failed, closed).
 */
static bool deliver(struct gw_worker *w, struct gw_upconn *up, char *data, size_t len)
{
    struct gw_client *c = up->owner;
    struct gw_req *r = &c->req;
    bool first = !up->got_bytes;
    up->got_bytes = true;
    /* The response has begun: the request will not go out again, and once all
     * of it has been copied out its bytes can go (a long stream then holds no
     * input memory). An upstream that answers early, before reading the whole
     * request, still gets the rest: the bytes stay until they are copied out. */
    if (first && r->up_sent == r->up_total)
        gw__req_input_release(w, r);
    int k = gw__relay_feed(w, c, data, len);
    if (k < 0) {
        up_fail(w, up, (enum gw_fail)-k, "");
        return false;
    }
    if (k == 1) {
        response_complete(w, up, r->resp_keepalive && !r->resp_extra);
        return false;
    }
    if (r->resp_head_done)
        arm_timer(w, up, up->prov->read_timeout_ms);
    /* A non-streamed response is held until it ends or passes the high-water
     * mark, so a failure before then still gets a clean error response. */
    if (r->relay_sse || r->xstream || c->out.len >= GW_OUT_HIWAT) {
        r->committed = true;
        gw__client_flush(w, c);
    }
    if (c->out.len >= GW_OUT_HIWAT) {
        up->paused = true;
        gw_tw_del(&w->tw, &up->timer); /* the client is slow, not the upstream */
    }
    return true;
}

static void on_eof(struct gw_worker *w, struct gw_upconn *up)
{
    struct gw_client *c = up->owner;
    int k = gw__relay_eof(w, c);
    if (k < 0) {
        up_fail(w, up, GW_FAIL_RESET, up->got_bytes ? "closed mid-response" : "closed before answering");
        return;
    }
    response_complete(w, up, false);
}

/*
 * Drives a TLS connection's engine: posts the send and receive it asks for,
 * feeds decrypted bytes to the relay, and writes the request as the engine
 * takes application data. Each engine buffer has at most one ring op on it.
 */
static void up_pump(struct gw_worker *w, struct gw_upconn *up)
{
    if (!up->tls) {
        if (up->state == GW_US_IDLE || (up->state == GW_US_BUSY && !up->paused))
            post_recv_plain(w, up);
        return;
    }
    br_ssl_engine_context *eng = gw_tls_client_engine(up->tls);
    for (;;) {
        if (up->state == GW_US_CLOSING || up->state == GW_US_FREE)
            return;
        unsigned st = br_ssl_engine_current_state(eng);
        if (st == BR_SSL_CLOSED) {
            int err = br_ssl_engine_last_error(eng);
            up->br_err = err;
            if (up->state == GW_US_IDLE || !up->owner) {
                up_close(w, up);
            } else if (!up->handshake_done) {
                up_fail(w, up, GW_FAIL_TLS, gw_tls_strerror(err));
            } else if (err == BR_ERR_OK) {
                on_eof(w, up);
            } else {
                up_fail(w, up, GW_FAIL_RESET, gw_tls_strerror(err));
            }
            return;
        }
        if ((st & BR_SSL_SENDREC) && !up->send_busy) {
            size_t len;
            unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
            post_send(w, up, buf, len);
        }
        if (st & BR_SSL_RECVAPP) {
            if (up->state != GW_US_BUSY || !up->owner) {
                up_close(w, up); /* bytes on an idle connection: never reuse it */
                return;
            }
            if (up->paused)
                return;
            size_t len;
            unsigned char *buf = br_ssl_engine_recvapp_buf(eng, &len);
            /* The relay consumes everything it is given; ack first so that a
             * relay that finishes and pools this connection sees a clean engine. */
            char *data = (char *)buf;
            br_ssl_engine_recvapp_ack(eng, len);
            if (!deliver(w, up, data, len))
                return;
            continue;
        }
        if (!up->handshake_done && (st & BR_SSL_SENDAPP)) {
            up->handshake_done = true;
            br_ssl_session_parameters sp;
            if (gw_tls_client_session(up->tls, &sp)) {
                if (up->pool->have_session && sp.session_id_len &&
                    sp.session_id_len == up->pool->session.session_id_len &&
                    memcmp(sp.session_id, up->pool->session.session_id, sp.session_id_len) == 0)
                    gw__stat_add(&w->shared.tls_resumed, 1);
                up->pool->session = sp;
                up->pool->have_session = true;
            }
            up->state = GW_US_BUSY;
            up->action = "sending request upstream";
            arm_timer(w, up, up->prov->send_timeout_ms);
        }
        if (up->handshake_done && (st & BR_SSL_SENDAPP) && up->owner && up->state == GW_US_BUSY) {
            struct gw_req *r = &up->owner->req;
            if (r->up_sent < r->up_total) {
                size_t avail;
                unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &avail);
                tls_fill_app(up, eng, avail, dst);
                continue;
            }
        }
        /* Written once the engine holds none of it and no record is in flight. */
        if (up_sending(up) && !up->send_busy && !(st & BR_SSL_SENDREC) &&
            up->owner->req.up_sent == up->owner->req.up_total) {
            request_written(w, up);
            continue;
        }
        if ((st & BR_SSL_RECVREC) && up->staged) {
            size_t len;
            unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
            size_t n = GW_MIN(len, (size_t)up->stage_len);
            memcpy(buf, up->stage, n);
            up->stage += n;
            up->stage_len -= (uint32_t)n;
            if (!up->stage_len)
                stage_drop(w, up);
            br_ssl_engine_recvrec_ack(eng, n);
            continue;
        }
        if ((st & BR_SSL_RECVREC) && !up->staged && !up->paused)
            post_recv_plain(w, up);
        return;
    }
}

/* Starts the request on a connection that is ready (fresh after connect/TLS, or pooled). */
static void begin_request(struct gw_worker *w, struct gw_upconn *up)
{
    up->state = GW_US_BUSY;
    up->action = "sending request upstream";
    arm_timer(w, up, up->prov->send_timeout_ms);
    if (up->tls) {
        up_pump(w, up);
        return;
    }
    send_plain(w, up);
    post_recv_plain(w, up); /* a pooled connection already has one armed */
}

void gw__up_start(struct gw_worker *w, struct gw_client *c, bool fresh)
{
    struct gw_req *r = &c->req;
    const struct gw_provider *p = r->model->provider;
    struct gw_pool *pl = pool_get(w, p);
    if (!pl) {
        r->fail = GW_FAIL_NOMEM;
        gw__resp_error(w, c, 503, "server_error", gw_fail_code(GW_FAIL_NOMEM), NULL, "%s",
                       gw_fail_str(GW_FAIL_NOMEM));
        return;
    }
    struct gw_upconn *up = NULL;
    while (!fresh && (up = pl->idle_head)) {
        idle_unlink(up);
        if (up->nrequests < pl->max_requests && !up->send_busy)
            break;
        up->state = GW_US_BUSY; /* so up_close accounts it as not idle */
        up_close(w, up);
        up = NULL;
    }
    r->attempts++;
    if (up) {
        gw_tw_del(&w->tw, &up->timer);
        up->owner = c;
        up->prov = p;
        up->reused = true;
        up->got_bytes = false;
        up->paused = false;
        r->up = up;
        begin_request(w, up);
        return;
    }
    enum gw_fail f = GW_FAIL_NONE;
    const char *detail = "";
    if (pl->nconns >= p->pool_max_conns || !w->up_free) {
        f = GW_FAIL_POOL_LIMIT;
        goto fail;
    }
    int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        f = GW_FAIL_SOCKET;
        detail = strerror(errno);
        goto fail;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    up = w->up_free;
    int fidx = up_fidx(w, up);
    /* Install the socket in the ring's table, then drop the process descriptor:
     * the connection lives on as a direct descriptor only. */
    int rr = io_uring_register_files_update(&w->ring, (unsigned)fidx, &fd, 1);
    close(fd);
    if (rr < 0) {
        up = NULL;
        f = GW_FAIL_SOCKET;
        detail = strerror(-rr);
        goto fail;
    }
    w->up_free = up->free_next;
    uint32_t gen = up->gen;
    uint32_t idx = up->idx;
    memset(up, 0, sizeof(*up));
    up->gen = gen;
    up->idx = idx;
    gw_timer_init(&up->timer, up_timeout);
    up->pool = pl;
    up->owner = c;
    up->prov = p;
    up->created_ms = w->now_ms;
    memcpy(&up->addr, &p->addr, p->addrlen);
    up->addrlen = p->addrlen;
    pl->nconns++;
    gw__stat_add(&w->shared.upstream_conns, 1);
    gw__stat_add(&w->shared.upstream_connects, 1);
    if (p->tls) {
        up->tls = tls_get(w);
        if (!up->tls) {
            up->state = GW_US_CONNECTING;
            r->up = up;
            up_fail(w, up, GW_FAIL_NOMEM, "no memory for a TLS context");
            return;
        }
    }
    up->state = GW_US_CONNECTING;
    up->action = "connecting to upstream";
    r->up = up;
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_connect(sqe, fidx, (struct sockaddr *)&up->addr, up->addrlen);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = gw__ud(GW_OP_UCONNECT, up->idx, up->gen);
    up->inflight++;
    arm_timer(w, up, p->connect_timeout_ms);
    return;
fail:
    gw__stat_add(&w->shared.fails[f], 1);
    gw__log_err(w, "request %s: %s%s%s (provider %s)", r->rid, gw_fail_str(f), detail[0] ? ": " : "",
                detail, p->name);
    gw__relay_fail(w, c, f, detail, p->name);
}

/*
 * Every failure of an upstream request leaves through here [ngx
 * finalize_request]: the connection is closed and the failure counted; the
 * request is retried once on a fresh connection when that is safe, else the
 * failure is logged and the relay tells the client (gw__relay_fail: an
 * error response, an event stream's error event and [DONE], or a cut).
 */
static void up_fail(struct gw_worker *w, struct gw_upconn *up, enum gw_fail f, const char *detail)
{
    struct gw_client *c = up->owner;
    bool reused = up->reused, got = up->got_bytes;
    const char *action = up->action;
    const char *pname = up->prov ? up->prov->name : "?";
    up_close(w, up);
    if (!c)
        return;
    struct gw_req *r = &c->req;
    r->up = NULL;
    gw__stat_add(&w->shared.fails[f], 1);
    if (!r->head_sent && !r->resp_head_done &&
        gw_fail_retryable(f, reused, r->up_written, got, r->attempts)) {
        gw__stat_add(&w->shared.upstream_retries, 1);
        r->up_sent = 0;
        r->rhead_len = 0;
        r->interim = 0;
        gw__up_start(w, c, true);
        return;
    }
    gw__log_err(w, "request %s: %s%s%s (provider %s, while %s)", r->rid, gw_fail_str(f),
                detail && detail[0] ? ": " : "", detail ? detail : "", pname, action);
    gw__relay_fail(w, c, f, detail ? detail : "", pname);
}

static void up_timeout(struct gw_timer *t)
{
    struct gw_upconn *up = gw_container_of(t, struct gw_upconn, timer);
    struct gw_worker *w = gw__self;
    switch (up->state) {
    case GW_US_CONNECTING:
        up_fail(w, up, GW_FAIL_TIMEOUT_CONNECT, "");
        return;
    case GW_US_HANDSHAKE:
        up_fail(w, up, GW_FAIL_TIMEOUT_HANDSHAKE, "");
        return;
    case GW_US_BUSY:
        if (up_sending(up) && !up->got_bytes)
            up_fail(w, up, GW_FAIL_TIMEOUT_SEND, "");
        else if (up->owner && !up->owner->req.resp_head_done)
            up_fail(w, up, GW_FAIL_TIMEOUT_FIRST_BYTE, "");
        else
            up_fail(w, up, GW_FAIL_TIMEOUT_READ, "");
        return;
    case GW_US_IDLE:
        up_close(w, up);
        return;
    default:
        return;
    }
}

void gw__up_detach(struct gw_worker *w, struct gw_client *c)
{
    struct gw_upconn *up = c->req.up;
    c->req.up = NULL;
    if (!up)
        return;
    up->owner = NULL;
    up_close(w, up);
}

void gw__up_resume(struct gw_worker *w, struct gw_client *c)
{
    struct gw_upconn *up = c->req.up;
    if (!up || !up->paused || up->state != GW_US_BUSY)
        return;
    up->paused = false;
    arm_timer(w, up, up->prov->read_timeout_ms);
    up_pump(w, up);
}

void gw__up_on_cqe(struct gw_worker *w, enum gw_op op, struct gw_upconn *up,
                   const struct io_uring_cqe *cqe)
{
    int res = cqe->res;
    if (op == GW_OP_UCLOSE) {
        up_free(w, up);
        return;
    }
    up->inflight--;
    bool has_buf = cqe->flags & IORING_CQE_F_BUFFER;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (op == GW_OP_URECV)
        up->recv_busy = false;
    if (op == GW_OP_USEND)
        up->send_busy = false;
    if (up->state == GW_US_CLOSING) {
        if (has_buf)
            gw__ubuf_return(w, bid);
        if (up->inflight == 0)
            up_submit_close(w, up);
        return;
    }
    switch (op) {
    case GW_OP_UCONNECT:
        if (res < 0) {
            up_fail(w, up, GW_FAIL_CONNECT, strerror(-res));
            return;
        }
        if (up->tls) {
            const struct gw_pool *pl = up->pool;
            if (gw_tls_client_start(up->tls, up->prov->tls_anchors, up->prov->host,
                                    pl->have_session ? &pl->session : NULL) < 0) {
                up_fail(w, up, GW_FAIL_TLS, "engine did not start");
                return;
            }
            up->state = GW_US_HANDSHAKE;
            up->action = "TLS handshake with upstream";
            arm_timer(w, up, up->prov->handshake_timeout_ms);
            up_pump(w, up);
            return;
        }
        begin_request(w, up);
        return;
    case GW_OP_USEND:
        if (res < 0) {
            up_fail(w, up, GW_FAIL_RESET, strerror(-res));
            return;
        }
        if (up->tls) {
            br_ssl_engine_sendrec_ack(gw_tls_client_engine(up->tls), (size_t)res);
            if (res > 0)
                send_progress(w, up);
            up_pump(w, up);
            return;
        }
        if (up->state != GW_US_BUSY || !up->owner)
            return;
        up->owner->req.up_sent += (size_t)res;
        if (up->owner->req.up_sent < up->owner->req.up_total) {
            send_progress(w, up);
            send_plain(w, up);
        } else {
            request_written(w, up);
        }
        return;
    case GW_OP_URECV:
        if (up->tls) {
            if (res == -ENOBUFS || res == -EINTR || res == -EAGAIN) {
                if (res == -ENOBUFS)
                    gw__stat_add(&w->shared.upstream_enobufs, 1);
                up_pump(w, up);
                return;
            }
            if (res > 0 && has_buf) {
                GW_BUG_ON(up->staged);
                up->staged = true;
                up->stage_bid = (uint16_t)bid;
                up->stage = w->ubufs + (size_t)bid * GW_RBUF_SIZE;
                up->stage_len = (uint32_t)res;
                up_pump(w, up);
                return;
            }
            if (has_buf)
                gw__ubuf_return(w, bid);
            if (res <= 0) {
                if (up->state == GW_US_IDLE || !up->owner)
                    up_close(w, up);
                else if (!up->handshake_done)
                    up_fail(w, up, GW_FAIL_TLS, res == 0 ? "connection closed during handshake"
                                                         : strerror(-res));
                else if (res == 0)
                    /* A TCP close without close_notify: the response may have
                     * been cut by an attacker (RFC 8446 §6.1), so it is never
                     * a clean end, even for a close-delimited body. */
                    up_fail(w, up, GW_FAIL_RESET,
                            up->got_bytes ? "closed without TLS close_notify"
                                          : "closed before answering");
                else
                    up_fail(w, up, GW_FAIL_RESET, strerror(-res));
                return;
            }
            up_pump(w, up);
            return;
        }
        if (up->state == GW_US_IDLE || !up->owner) {
            if (has_buf)
                gw__ubuf_return(w, bid);
            up_close(w, up); /* closed by the upstream, or a stray byte: never reuse */
            return;
        }
        if (res == -ENOBUFS) {
            gw__stat_add(&w->shared.upstream_enobufs, 1);
            up_pump(w, up);
            return;
        }
        if (res < 0) {
            up_fail(w, up, GW_FAIL_RESET, strerror(-res));
            return;
        }
        if (res == 0) {
            on_eof(w, up);
            return;
        }
        {
            char *data = w->ubufs + (size_t)bid * GW_RBUF_SIZE;
            bool alive = deliver(w, up, data, (size_t)res);
            gw__ubuf_return(w, bid);
            if (alive)
                up_pump(w, up);
        }
        return;
    default:
        GW_BUG_ON(1);
    }
}

void gw__up_close_all_idle(struct gw_worker *w)
{
    for (struct gw_pool *pl = w->pools; pl; pl = pl->next)
        while (pl->idle_head)
            up_close(w, pl->idle_head);
}

void gw__up_free_all(struct gw_worker *w)
{
    while (w->pools) {
        struct gw_pool *pl = w->pools;
        w->pools = pl->next;
        free(pl->key);
        free(pl);
    }
    while (w->tls_free)
        free(tls_get(w));
    for (uint32_t i = 0; i < w->nups; i++) {
        if (w->ups[i].tls) {
            free(w->ups[i].tls);
            w->ups[i].tls = NULL;
        }
    }
}
