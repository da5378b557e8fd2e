/*
 * tools/mock/conn.c — the mock's per-thread event loop: accept, plain and TLS
 * connection I/O over non-blocking sockets, HTTP/1.1 request framing
 * (Content-Length and chunked bodies, pipelining, 100-continue), the timer
 * heap that paces delayed responses and streams, and connection close.
 *
 * Loop shape: epoll_wait with the earliest timer as timeout, handle every
 * event, fire due timers, then recycle the connections closed during the
 * turn. A closed connection is only marked dead until the turn ends, so a
 * later event of the same batch that still names it is recognised and
 * dropped instead of landing on a recycled object.
 *
 * Every connection is driven by one function, conn_run: move bytes (socket
 * <-> buffers, through the BearSSL engine on the TLS port), frame and answer
 * requests while IDLE, advance the response (stream events, close), and
 * repeat while anything moved; then register exactly the events it now
 * waits for. epoll is level-triggered, so "registered" always equals
 * "wanted" and nothing is lost between turns.
 *
 * A peer's FIN while a timed response is pending (DELAY, STREAM, STALL) is
 * taken as the peer going away: the connection closes and a stream counts as
 * aborted. That is what a gateway does when its client leaves. A half-closing
 * client that still wants its delayed answer is not supported; one that
 * half-closes with requests already buffered gets them answered.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "core/common.h"
#include "net/http1.h"
#include "net/tls.h"
#include "tools/mock/mock.h"

#define HEAP_NONE SIZE_MAX
#define IN_MIN_CAP 4096u
#define OUT_MIN_CAP 4096u
#define BUF_KEEP_CAP (1024u * 1024) /* buffers above this are freed once empty */
#define ACCEPT_BATCH 64
#define EVENT_BATCH 256
#define FREE_CONNS_MAX 1024u

enum pump_result { PUMP_OK = 0, PUMP_EOF, PUMP_ERR };

static void conn_run(struct gw_mock_conn *c);

/* ---- names for logs ---- */

const char *gw_mock_rs_state_str(enum gw_mock_rs rs)
{
    static const char *const names[GW_MOCK_RS_COUNT] = {
        [GW_MOCK_RS_IDLE] = "IDLE",       [GW_MOCK_RS_DELAY] = "DELAY",
        [GW_MOCK_RS_STREAM] = "STREAM",   [GW_MOCK_RS_STALL] = "STALL",
        [GW_MOCK_RS_CLOSING] = "CLOSING", [GW_MOCK_RS_LINGER] = "LINGER",
    };
    return (unsigned)rs < GW_MOCK_RS_COUNT ? names[rs] : "?";
}

const char *gw_mock_conn_flags_str(unsigned flags, char *buf, size_t cap)
{
    static const char *const names[] = {"HAVE_HEAD", "CHUNKED", "EXPECT",     "SENT_100", "HOLD",
                                        "PEER_EOF",  "ABRUPT",  "TLS_NOTIFY", "OOM",      "DEAD"};
    size_t len = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++) {
        if (!(flags & (1u << i)))
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? "|" : "", names[i]);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    if (len == 0)
        snprintf(buf, cap, "-");
    return buf;
}

static void log_conn(const struct gw_mock_conn *c, const char *action, const char *what)
{
    if (gw_mock.quiet)
        return;
    char fl[128];
    fprintf(stderr, "conduit-mock: worker %u fd %d (%s, %s) %s: %s\n", c->w->id, c->ep.fd,
            gw_mock_rs_state_str(c->rs), gw_mock_conn_flags_str(c->flags, fl, sizeof(fl)), action,
            what);
}

static uint64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- timer heap: one timer per connection, keyed by deadline_ms ---- */

static void heap_swap(struct gw_mock_worker *w, size_t i, size_t j)
{
    struct gw_mock_conn *t = w->heap[i];
    w->heap[i] = w->heap[j];
    w->heap[j] = t;
    w->heap[i]->heap_idx = i;
    w->heap[j]->heap_idx = j;
}

static void heap_up(struct gw_mock_worker *w, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (w->heap[p]->deadline_ms <= w->heap[i]->deadline_ms)
            break;
        heap_swap(w, i, p);
        i = p;
    }
}

static void heap_down(struct gw_mock_worker *w, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_len && w->heap[l]->deadline_ms < w->heap[m]->deadline_ms)
            m = l;
        if (r < w->heap_len && w->heap[r]->deadline_ms < w->heap[m]->deadline_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(w, i, m);
        i = m;
    }
}

static void timer_cancel(struct gw_mock_conn *c)
{
    struct gw_mock_worker *w = c->w;
    size_t i = c->heap_idx;
    if (i == HEAP_NONE)
        return;
    GW_BUG_ON(i >= w->heap_len || w->heap[i] != c);
    size_t last = --w->heap_len;
    if (i != last) {
        w->heap[i] = w->heap[last];
        w->heap[i]->heap_idx = i;
        heap_down(w, i);
        heap_up(w, i);
    }
    c->heap_idx = HEAP_NONE;
}

/* Arms (or moves) the connection's timer. False when the heap cannot grow. */
static bool timer_arm(struct gw_mock_conn *c, uint64_t at_ms)
{
    struct gw_mock_worker *w = c->w;
    if (c->heap_idx != HEAP_NONE) {
        c->deadline_ms = at_ms;
        heap_down(w, c->heap_idx);
        heap_up(w, c->heap_idx);
        return true;
    }
    if (w->heap_len == w->heap_cap) {
        size_t ncap = w->heap_cap ? w->heap_cap * 2 : 1024;
        struct gw_mock_conn **nh = realloc(w->heap, ncap * sizeof(*nh));
        if (!nh) {
            c->flags |= GW_MOCK_CF_OOM;
            return false;
        }
        w->heap = nh;
        w->heap_cap = ncap;
    }
    c->deadline_ms = at_ms;
    c->heap_idx = w->heap_len;
    w->heap[w->heap_len++] = c;
    heap_up(w, c->heap_idx);
    return true;
}

/* epoll_wait timeout: ms until the earliest timer, -1 when none is armed. */
static int heap_timeout(const struct gw_mock_worker *w)
{
    if (w->heap_len == 0)
        return -1;
    uint64_t d = w->heap[0]->deadline_ms;
    if (d <= w->now_ms)
        return 0;
    uint64_t ms = d - w->now_ms;
    return ms > 60000 ? 60000 : (int)ms;
}

/* ---- buffers ---- */

/* Bytes that may be sent now. */
static size_t out_sendable(const struct gw_mock_conn *c)
{
    size_t end = (c->flags & GW_MOCK_CF_HOLD) ? c->out_hold : c->out_len;
    return end - c->out_off;
}

static size_t out_backlog(const struct gw_mock_conn *c)
{
    return c->out_len - c->out_off;
}

/* Resets a drained output buffer, giving a big one back. */
static void out_settle(struct gw_mock_conn *c)
{
    if (c->out_off != c->out_len)
        return;
    c->out_off = c->out_len = 0;
    if (c->flags & GW_MOCK_CF_HOLD)
        c->out_hold = 0;
    if (c->out_cap > BUF_KEEP_CAP) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
}

char *gw_mock_out_reserve(struct gw_mock_conn *c, size_t n)
{
    if (c->flags & GW_MOCK_CF_OOM)
        return NULL;
    if (c->out_cap - c->out_len >= n)
        return c->out + c->out_len;
    if (c->out_off > 0) {
        /* Slide the unsent bytes down before growing. */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        if (c->flags & GW_MOCK_CF_HOLD)
            c->out_hold -= c->out_off;
        c->out_off = 0;
        if (c->out_cap - c->out_len >= n)
            return c->out + c->out_len;
    }
    size_t ncap = c->out_cap ? c->out_cap : OUT_MIN_CAP;
    while (ncap - c->out_len < n) {
        if (ncap > SIZE_MAX / 2)
            goto fail;
        ncap *= 2;
    }
    char *nb = realloc(c->out, ncap);
    if (!nb)
        goto fail;
    c->out = nb;
    c->out_cap = ncap;
    return c->out + c->out_len;
fail:
    c->flags |= GW_MOCK_CF_OOM;
    return NULL;
}

void gw_mock_out_commit(struct gw_mock_conn *c, size_t n)
{
    GW_BUG_ON(n > c->out_cap - c->out_len);
    c->out_len += n;
}

void gw_mock_out_append(struct gw_mock_conn *c, const void *p, size_t n)
{
    char *dst = gw_mock_out_reserve(c, n);
    if (!dst)
        return;
    memcpy(dst, p, n);
    c->out_len += n;
}

void gw_mock_out_printf(struct gw_mock_conn *c, const char *fmt, ...)
{
    va_list ap;
    char *dst = gw_mock_out_reserve(c, 256);
    if (!dst)
        return;
    size_t room = c->out_cap - c->out_len;
    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room) {
        dst = gw_mock_out_reserve(c, (size_t)n + 1);
        if (!dst)
            return;
        va_start(ap, fmt);
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    c->out_len += (size_t)n;
}

/* How much input the connection may hold in its current state. */
static size_t in_limit(const struct gw_mock_conn *c)
{
    switch (c->rs) {
    case GW_MOCK_RS_IDLE:
        if (!(c->flags & GW_MOCK_CF_HAVE_HEAD))
            return GW_MOCK_HEAD_CAP + GW_MOCK_PIPELINE_CAP;
        if (c->flags & GW_MOCK_CF_CHUNKED)
            return c->head_len + GW_MOCK_BODY_CAP + GW_MOCK_PIPELINE_CAP;
        return c->head_len + (size_t)c->content_length + GW_MOCK_PIPELINE_CAP;
    case GW_MOCK_RS_DELAY:
    case GW_MOCK_RS_STREAM:
    case GW_MOCK_RS_STALL:
        return GW_MOCK_PIPELINE_CAP;
    case GW_MOCK_RS_LINGER:
        return SIZE_MAX; /* discarded as read */
    case GW_MOCK_RS_CLOSING:
    default:
        return 0;
    }
}

static bool want_read(const struct gw_mock_conn *c)
{
    return !(c->flags & GW_MOCK_CF_PEER_EOF) && c->in_len < in_limit(c);
}

/* Room to read into (at least one byte), or 0 on allocation failure. */
static size_t in_room(struct gw_mock_conn *c)
{
    if (c->in_len == c->in_cap) {
        size_t ncap = c->in_cap ? c->in_cap * 2 : IN_MIN_CAP;
        char *nb = realloc(c->in, ncap);
        if (!nb) {
            c->flags |= GW_MOCK_CF_OOM;
            return 0;
        }
        c->in = nb;
        c->in_cap = ncap;
    }
    size_t room = c->in_cap - c->in_len;
    size_t lim = in_limit(c);
    if (lim != SIZE_MAX && lim - c->in_len < room)
        room = lim - c->in_len;
    return room;
}

/* ---- connection lifecycle ---- */

static void tls_put(struct gw_mock_worker *w, struct gw_tls_server *t)
{
    if (w->n_tls_cache < GW_ARRAY_SIZE(w->tls_cache))
        w->tls_cache[w->n_tls_cache++] = t;
    else
        free(t);
}

static struct gw_tls_server *tls_get(struct gw_mock_worker *w)
{
    if (w->n_tls_cache > 0)
        return w->tls_cache[--w->n_tls_cache];
    return malloc(sizeof(struct gw_tls_server));
}

/*
 * Closes the socket at once and retires the connection: a stream still live
 * counts as aborted (the peer left, or I/O failed). The object stays readable
 * until the end of the loop turn (CF_DEAD), so callers must not touch it
 * beyond checking that flag.
 */
static void conn_close(struct gw_mock_conn *c)
{
    struct gw_mock_worker *w = c->w;
    if (c->flags & GW_MOCK_CF_DEAD)
        return;
    timer_cancel(c);
    if (c->plan.stream_live) {
        c->plan.stream_live = false;
        gw_mock_ctr_inc(&w->ctr.streams_aborted);
    }
    close(c->ep.fd);
    c->ep.fd = -1;
    c->flags |= GW_MOCK_CF_DEAD;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = w->dead;
    w->dead = c;
    gw_mock_ctr_inc(&w->ctr.conns_closed);
}

/* Frees what a dead connection holds and keeps the object for reuse. */
static void conn_recycle(struct gw_mock_worker *w, struct gw_mock_conn *c)
{
    if (c->tls) {
        tls_put(w, c->tls);
        c->tls = NULL;
    }
    free(c->in);
    free(c->out);
    if (w->n_free_conns >= FREE_CONNS_MAX) {
        free(c);
        return;
    }
    c->next = w->free_conns;
    w->free_conns = c;
    w->n_free_conns++;
}

static void reap_dead(struct gw_mock_worker *w)
{
    while (w->dead) {
        struct gw_mock_conn *c = w->dead;
        w->dead = c->next;
        conn_recycle(w, c);
    }
}

static struct gw_mock_conn *conn_new(struct gw_mock_worker *w, int fd)
{
    struct gw_mock_conn *c = w->free_conns;
    if (c) {
        w->free_conns = c->next;
        w->n_free_conns--;
    } else {
        c = malloc(sizeof(*c));
        if (!c)
            return NULL;
    }
    memset(c, 0, sizeof(*c));
    c->ep.kind = GW_MOCK_EP_CONN;
    c->ep.fd = fd;
    c->w = w;
    c->heap_idx = HEAP_NONE;
    c->rs = GW_MOCK_RS_IDLE;
    c->next = w->live;
    if (w->live)
        w->live->prev = c;
    w->live = c;
    return c;
}

/* Registers exactly the events the connection now waits for. */
static void update_interest(struct gw_mock_conn *c)
{
    uint32_t m = 0;
    bool eof = (c->flags & GW_MOCK_CF_PEER_EOF) != 0;
    if (!eof)
        m |= EPOLLRDHUP;
    if (c->tls && c->rs != GW_MOCK_RS_LINGER) {
        unsigned st = br_ssl_engine_current_state(gw_tls_server_engine(c->tls));
        if (st & BR_SSL_SENDREC)
            m |= EPOLLOUT;
        if ((st & BR_SSL_RECVREC) && !eof)
            m |= EPOLLIN;
    } else {
        if (out_sendable(c) > 0)
            m |= EPOLLOUT;
        if (want_read(c))
            m |= EPOLLIN;
    }
    if (m == c->ep_mask)
        return;
    struct epoll_event ev = {.events = m, .data.ptr = &c->ep};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->ep.fd, &ev) < 0) {
        log_conn(c, "updating epoll interest", strerror(errno));
        conn_close(c);
        return;
    }
    c->ep_mask = m;
}

/* ---- byte movers ---- */

static bool errno_is_again(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Plain socket: sends what may be sent, then reads what may be read. */
static enum pump_result plain_pump(struct gw_mock_conn *c, bool *progress)
{
    size_t n;
    while ((n = out_sendable(c)) > 0) {
        ssize_t k = send(c->ep.fd, c->out + c->out_off, n, MSG_NOSIGNAL);
        if (k > 0) {
            c->out_off += (size_t)k;
            *progress = true;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return PUMP_ERR;
    }
    out_settle(c);
    while (want_read(c)) {
        size_t room = in_room(c);
        if (room == 0)
            return PUMP_ERR;
        ssize_t k = recv(c->ep.fd, c->in + c->in_len, room, 0);
        if (k > 0) {
            if (c->rs != GW_MOCK_RS_LINGER)
                c->in_len += (size_t)k;
            *progress = true;
            continue;
        }
        if (k == 0)
            return PUMP_EOF;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        return PUMP_ERR;
    }
    return PUMP_OK;
}

/*
 * TLS: runs the BearSSL engine until nothing moves. Records go between the
 * socket and the engine; application bytes between the engine and the
 * connection's buffers. Plaintext is flushed into a record as soon as all
 * that may be sent has been handed over, so stream events leave one by one.
 */
static enum pump_result tls_pump(struct gw_mock_conn *c, bool *progress)
{
    br_ssl_engine_context *eng = gw_tls_server_engine(c->tls);
    for (;;) {
        bool moved = false;
        unsigned st = br_ssl_engine_current_state(eng);
        if (st & BR_SSL_CLOSED) {
            int err = br_ssl_engine_last_error(eng);
            if (err == BR_ERR_OK)
                return PUMP_EOF;
            log_conn(c, "TLS", gw_tls_strerror(err));
            return PUMP_ERR;
        }
        size_t len;
        unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
        if (buf && len > 0) {
            ssize_t k = send(c->ep.fd, buf, len, MSG_NOSIGNAL);
            if (k > 0) {
                br_ssl_engine_sendrec_ack(eng, (size_t)k);
                moved = true;
            } else if (k == 0 || !errno_is_again(errno)) {
                return PUMP_ERR;
            }
        }
        buf = br_ssl_engine_recvapp_buf(eng, &len);
        if (buf && len > 0 && c->in_len < in_limit(c)) {
            size_t room = in_room(c);
            if (room == 0)
                return PUMP_ERR;
            size_t k = GW_MIN(len, room);
            memcpy(c->in + c->in_len, buf, k);
            c->in_len += k;
            br_ssl_engine_recvapp_ack(eng, k);
            moved = true;
        }
        size_t pend = out_sendable(c);
        buf = pend ? br_ssl_engine_sendapp_buf(eng, &len) : NULL;
        if (buf && len > 0) {
            size_t k = GW_MIN(len, pend);
            memcpy(buf, c->out + c->out_off, k);
            br_ssl_engine_sendapp_ack(eng, k);
            c->out_off += k;
            if (k == pend)
                br_ssl_engine_flush(eng, 0);
            moved = true;
        }
        buf = (c->flags & GW_MOCK_CF_PEER_EOF) ? NULL : br_ssl_engine_recvrec_buf(eng, &len);
        if (buf && len > 0) {
            ssize_t k = recv(c->ep.fd, buf, len, 0);
            if (k > 0) {
                br_ssl_engine_recvrec_ack(eng, (size_t)k);
                moved = true;
            } else if (k == 0) {
                return PUMP_EOF;
            } else if (!errno_is_again(errno)) {
                return PUMP_ERR;
            }
        }
        if (!moved)
            break;
        *progress = true;
    }
    out_settle(c);
    return PUMP_OK;
}

/* True when every byte queued so far has been handed to the kernel. */
static bool flushed(const struct gw_mock_conn *c)
{
    if (c->out_off != c->out_len)
        return false;
    if (c->tls && c->rs != GW_MOCK_RS_LINGER) {
        unsigned st = br_ssl_engine_current_state(gw_tls_server_engine(c->tls));
        if (st & BR_SSL_SENDREC)
            return false;
    }
    return true;
}

/* ---- request framing ---- */

/* Queues an error for an unframeable request; the connection then closes. */
static int proto_error(struct gw_mock_conn *c, int status, const char *message)
{
    gw_mock_reply_proto_error(c, status, message);
    c->rs = GW_MOCK_RS_CLOSING;
    c->flags &= ~(GW_MOCK_CF_HAVE_HEAD | GW_MOCK_CF_CHUNKED | GW_MOCK_CF_EXPECT);
    c->in_len = 0;
    return -1;
}

/*
 * Feeds the chunked body bytes that arrived since the last call to the
 * decoder and packs the decoded data right after the head, so the body ends
 * up contiguous at in[head_len .. head_len + body_len) with any pipelined
 * bytes after it. Returns 1 when the body is complete, 0 when more is
 * needed, -1 on a framing error, -2 past the body cap.
 */
static int dechunk(struct gw_mock_conn *c)
{
    char *region = c->in + c->raw_pos;
    size_t len = c->in_len - c->raw_pos;
    if (len == 0)
        return 0;
    ssize_t r = gw_chunked_decode(&c->chunked, region, &len);
    if (r == -1)
        return -1;
    char *dst = c->in + c->head_len + c->body_len;
    memmove(dst, region, len);
    c->body_len += len;
    if (r == -2) {
        c->in_len = c->head_len + c->body_len;
        c->raw_pos = c->in_len;
        return c->body_len > GW_MOCK_BODY_CAP ? -2 : 0;
    }
    memmove(dst + len, region + len, (size_t)r);
    c->in_len = c->head_len + c->body_len + (size_t)r;
    c->raw_pos = c->in_len;
    return c->body_len > GW_MOCK_BODY_CAP ? -2 : 1;
}

/*
 * Frames the request at the front of the input. Returns 1 with *req parsed
 * (spans into c->in) when head and body are complete, 0 when more input is
 * needed, -1 when an error reply was queued and the connection is closing.
 */
static int frame_request(struct gw_mock_conn *c, struct gw_http1_req *req,
                         struct gw_http1_header *hdrs)
{
    bool parsed_now = false;
    if (!(c->flags & GW_MOCK_CF_HAVE_HEAD)) {
        int r = gw_http1_parse_request(c->in, c->in_len, req, hdrs, GW_MOCK_MAX_HEADERS);
        if (r == -2) {
            if (c->in_len > GW_MOCK_HEAD_CAP)
                return proto_error(c, 431, "Request header fields too large");
            return 0;
        }
        if (r < 0) {
            if (req->err == GW_H1E_TOO_MANY_HEADERS)
                return proto_error(c, 431, "Too many request header fields");
            return proto_error(c, 400, gw_http1_err_str(req->err));
        }
        if ((size_t)r > GW_MOCK_HEAD_CAP)
            return proto_error(c, 431, "Request header fields too large");
        c->head_len = (size_t)r;
        c->body_len = 0;
        c->raw_pos = c->head_len;
        c->flags |= GW_MOCK_CF_HAVE_HEAD;
        c->flags &= ~(GW_MOCK_CF_CHUNKED | GW_MOCK_CF_EXPECT | GW_MOCK_CF_SENT_100);
        if ((req->flags & GW_H1_F_EXPECT_100) && req->minor_version == 1)
            c->flags |= GW_MOCK_CF_EXPECT;
        if (req->flags & GW_H1_F_CHUNKED) {
            c->flags |= GW_MOCK_CF_CHUNKED;
            gw_chunked_init(&c->chunked);
        } else {
            c->content_length = (req->flags & GW_H1_F_HAS_CL) ? req->content_length : 0;
            if (c->content_length > GW_MOCK_BODY_CAP)
                return proto_error(c, 413, "Request body too large");
        }
        parsed_now = true;
    }
    bool complete;
    if (c->flags & GW_MOCK_CF_CHUNKED) {
        int r = dechunk(c);
        if (r == -1)
            return proto_error(c, 400, "Invalid chunked request body");
        if (r == -2)
            return proto_error(c, 413, "Request body too large");
        complete = r == 1;
    } else {
        complete = c->in_len - c->head_len >= c->content_length;
        if (complete)
            c->body_len = (size_t)c->content_length;
    }
    if (!complete) {
        if ((c->flags & (GW_MOCK_CF_EXPECT | GW_MOCK_CF_SENT_100)) == GW_MOCK_CF_EXPECT) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            gw_mock_out_append(c, cont, sizeof(cont) - 1);
            c->flags |= GW_MOCK_CF_SENT_100;
        }
        return 0;
    }
    if (!parsed_now) {
        /* The spans of the first parse may point into a buffer since reallocated. */
        int r = gw_http1_parse_request(c->in, c->head_len, req, hdrs, GW_MOCK_MAX_HEADERS);
        GW_BUG_ON(r != (int)c->head_len);
    }
    return 1;
}

/* Drops the answered request from the input, keeping what was pipelined after it. */
static void consume_request(struct gw_mock_conn *c)
{
    size_t total = c->head_len + c->body_len;
    GW_BUG_ON(total > c->in_len);
    memmove(c->in, c->in + total, c->in_len - total);
    c->in_len -= total;
    c->flags &=
        ~(GW_MOCK_CF_HAVE_HEAD | GW_MOCK_CF_CHUNKED | GW_MOCK_CF_EXPECT | GW_MOCK_CF_SENT_100);
    if (c->in_len == 0 && c->in_cap > BUF_KEEP_CAP) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

/* Moves on once the response's held part may go out (or at once without a delay). */
static void enter_after_delay(struct gw_mock_conn *c)
{
    c->flags &= ~GW_MOCK_CF_HOLD;
    switch (c->plan.mode) {
    case GW_MOCK_MODE_DONE:
        c->rs = c->plan.keepalive ? GW_MOCK_RS_IDLE : GW_MOCK_RS_CLOSING;
        break;
    case GW_MOCK_MODE_STREAM:
        c->rs = GW_MOCK_RS_STREAM;
        c->plan.next_ms = c->w->now_ms + c->plan.delay_ms;
        break;
    case GW_MOCK_MODE_STALL:
        c->rs = GW_MOCK_RS_STALL;
        break;
    case GW_MOCK_MODE_CLOSE:
    default:
        c->rs = GW_MOCK_RS_CLOSING;
        c->flags |= GW_MOCK_CF_ABRUPT;
        break;
    }
}

/*
 * Answers buffered requests while the connection is IDLE and its output
 * backlog is below the high-water mark. Returns false if it closed c.
 */
static bool process_requests(struct gw_mock_conn *c, bool *progress)
{
    while (c->rs == GW_MOCK_RS_IDLE && c->in_len > 0 && out_backlog(c) < GW_MOCK_OUT_HIGH) {
        struct gw_http1_header hdrs[GW_MOCK_MAX_HEADERS];
        struct gw_http1_req req;
        int r = frame_request(c, &req, hdrs);
        if (r == 0)
            break;
        *progress = true;
        if (r < 0)
            break;
        size_t unsent_before = c->out_len - c->out_off; /* survives a slide of the buffer */
        gw_mock_dispatch(c, &req, gw_span_make(c->in, c->head_len),
                         gw_span_make(c->in + c->head_len, c->body_len));
        consume_request(c);
        if (c->flags & GW_MOCK_CF_OOM) {
            log_conn(c, "answering a request", "out of memory");
            conn_close(c);
            return false;
        }
        if (c->plan.first_delay_ms > 0) {
            c->out_hold = c->out_off + unsent_before;
            c->flags |= GW_MOCK_CF_HOLD;
            c->rs = GW_MOCK_RS_DELAY;
            if (!timer_arm(c, c->w->now_ms + c->plan.first_delay_ms)) {
                conn_close(c);
                return false;
            }
        } else {
            enter_after_delay(c);
        }
    }
    return true;
}

/* ---- response progress and close ---- */

/* Emits stream events while output space allows; arms the timer when one is not due. */
static bool stream_pump(struct gw_mock_conn *c, bool *progress)
{
    struct gw_mock_worker *w = c->w;
    while (c->rs == GW_MOCK_RS_STREAM && out_backlog(c) < GW_MOCK_OUT_HIGH) {
        switch (gw_mock_stream_step(c, w->now_ms)) {
        case GW_MOCK_STEP_MORE:
            *progress = true;
            break;
        case GW_MOCK_STEP_WAIT:
            if (c->heap_idx == HEAP_NONE && !timer_arm(c, c->plan.next_ms)) {
                conn_close(c);
                return false;
            }
            return true;
        case GW_MOCK_STEP_DONE:
            c->plan.stream_live = false;
            gw_mock_ctr_inc(&w->ctr.streams_completed);
            c->rs = c->plan.keepalive ? GW_MOCK_RS_IDLE : GW_MOCK_RS_CLOSING;
            *progress = true;
            break;
        case GW_MOCK_STEP_FAULT:
        default:
            c->plan.stream_live = false;
            gw_mock_ctr_inc(&w->ctr.streams_faulted);
            c->rs = GW_MOCK_RS_CLOSING;
            c->flags |= GW_MOCK_CF_ABRUPT;
            *progress = true;
            break;
        }
    }
    if (c->flags & GW_MOCK_CF_OOM) {
        log_conn(c, "streaming", "out of memory");
        conn_close(c);
        return false;
    }
    return true;
}

/*
 * Graceful close once everything is flushed: TLS sends close_notify first
 * (and comes back here once it is out), then the write side is shut and
 * input is drained until the peer's FIN, so a peer that pipelined more gets
 * our last response rather than a reset.
 */
static bool close_gracefully(struct gw_mock_conn *c, bool *progress)
{
    if (c->tls && !(c->flags & GW_MOCK_CF_TLS_NOTIFY)) {
        c->flags |= GW_MOCK_CF_TLS_NOTIFY;
        br_ssl_engine_close(gw_tls_server_engine(c->tls));
        *progress = true;
        return true;
    }
    if ((c->flags & GW_MOCK_CF_PEER_EOF) || shutdown(c->ep.fd, SHUT_WR) < 0) {
        conn_close(c);
        return false;
    }
    c->rs = GW_MOCK_RS_LINGER;
    c->in_len = 0;
    if (!timer_arm(c, c->w->now_ms + GW_MOCK_LINGER_MS)) {
        conn_close(c);
        return false;
    }
    *progress = true;
    return true;
}

/* Moves the response along after I/O. Returns false if it closed c. */
static bool advance(struct gw_mock_conn *c, bool *progress)
{
    switch (c->rs) {
    case GW_MOCK_RS_STREAM:
        return stream_pump(c, progress);
    case GW_MOCK_RS_STALL:
        if (c->flags & GW_MOCK_CF_PEER_EOF) {
            conn_close(c);
            return false;
        }
        return true;
    case GW_MOCK_RS_CLOSING:
        if (!flushed(c))
            return true;
        if (c->flags & GW_MOCK_CF_ABRUPT) {
            conn_close(c);
            return false;
        }
        return close_gracefully(c, progress);
    case GW_MOCK_RS_IDLE:
        if ((c->flags & GW_MOCK_CF_PEER_EOF) && flushed(c)) {
            conn_close(c);
            return false;
        }
        return true;
    default:
        return true;
    }
}

/* The peer's FIN (or the engine's close). Returns false if it closed c. */
static bool on_eof(struct gw_mock_conn *c)
{
    c->flags |= GW_MOCK_CF_PEER_EOF;
    if (c->tls && (c->rs != GW_MOCK_RS_CLOSING ||
                   (br_ssl_engine_current_state(gw_tls_server_engine(c->tls)) & BR_SSL_CLOSED))) {
        /* After the peer's close_notify nothing more can be sent; keep TLS simple. */
        conn_close(c);
        return false;
    }
    switch (c->rs) {
    case GW_MOCK_RS_IDLE:
    case GW_MOCK_RS_CLOSING:
        return true;
    default:
        conn_close(c);
        return false;
    }
}

/* Drives the connection until nothing moves; may close (and retire) it. */
static void conn_run(struct gw_mock_conn *c)
{
    for (;;) {
        bool progress = false;
        enum pump_result r = (c->tls && c->rs != GW_MOCK_RS_LINGER) ? tls_pump(c, &progress)
                                                                    : plain_pump(c, &progress);
        if (r == PUMP_ERR) {
            conn_close(c);
            return;
        }
        if (r == PUMP_EOF && !on_eof(c))
            return;
        if (c->rs == GW_MOCK_RS_IDLE && !process_requests(c, &progress))
            return;
        if (!advance(c, &progress))
            return;
        if (!progress)
            break;
    }
    update_interest(c);
}

static void on_timer(struct gw_mock_conn *c)
{
    switch (c->rs) {
    case GW_MOCK_RS_DELAY:
        enter_after_delay(c);
        break;
    case GW_MOCK_RS_LINGER:
        conn_close(c);
        return;
    default:
        break; /* STREAM: the next event is due; conn_run emits it */
    }
    conn_run(c);
}

static void on_conn_event(struct gw_mock_conn *c, uint32_t ev)
{
    if (c->flags & GW_MOCK_CF_DEAD)
        return; /* closed earlier in this turn */
    if (ev & EPOLLERR) {
        conn_close(c);
        return;
    }
    conn_run(c);
    if (c->flags & GW_MOCK_CF_DEAD)
        return;
    /*
     * A FIN we cannot read up to (input capped, or nothing wanted) would
     * keep a level-triggered EPOLLRDHUP firing: take it as the EOF now.
     */
    if ((ev & (EPOLLRDHUP | EPOLLHUP)) && !(c->flags & GW_MOCK_CF_PEER_EOF) &&
        !(c->ep_mask & EPOLLIN)) {
        if (!on_eof(c))
            return;
        conn_run(c);
    }
}

/* ---- accept ---- */

static void on_accept(struct gw_mock_worker *w, struct gw_mock_ep *lep)
{
    bool tls = lep->kind == GW_MOCK_EP_LISTEN_TLS;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(lep->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && w->reserve_fd >= 0) {
                /* Out of fds: accept and drop one with the spare, or the listener spins. */
                close(w->reserve_fd);
                int shed = accept(lep->fd, NULL, NULL);
                if (shed >= 0)
                    close(shed);
                w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (!gw_mock.quiet)
                    fprintf(stderr,
                            "conduit-mock: worker %u: out of file descriptors, "
                            "dropped a connection\n",
                            w->id);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && !gw_mock.quiet) {
                fprintf(stderr, "conduit-mock: worker %u: accept: %s\n", w->id, strerror(errno));
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct gw_mock_conn *c = conn_new(w, fd);
        if (!c) {
            close(fd);
            continue;
        }
        gw_mock_ctr_inc(&w->ctr.conns_opened);
        if (tls) {
            c->tls = tls_get(w);
            if (!c->w->sessions) {
                /* One cache per thread (BearSSL's LRU is not thread safe), so a
                 * client's pooled reconnections resume their session. */
                c->w->sessions = malloc(sizeof(*c->w->sessions));
                if (c->w->sessions)
                    gw_tls_session_cache_init(c->w->sessions);
            }
            if (!c->tls || !c->w->sessions ||
                gw_tls_server_start_cached(c->tls, gw_mock.creds, c->w->sessions) != 0) {
                log_conn(c, "starting TLS", "engine refused to start");
                conn_close(c);
                continue;
            }
        }
        c->ep_mask = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = {.events = c->ep_mask, .data.ptr = &c->ep};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_conn(c, "registering with epoll", strerror(errno));
            conn_close(c);
        }
    }
}

/* ---- the loop ---- */

static void run_timers(struct gw_mock_worker *w)
{
    while (w->heap_len > 0 && w->heap[0]->deadline_ms <= w->now_ms) {
        struct gw_mock_conn *c = w->heap[0];
        timer_cancel(c);
        on_timer(c);
    }
}

static int ep_add(int epfd, struct gw_mock_ep *ep)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ep};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0 ? -errno : 0;
}

int gw_mock_worker_init(struct gw_mock_worker *w, unsigned id, int lfd_http, int lfd_tls)
{
    int rc;
    w->id = id;
    w->epfd = -1;
    w->reserve_fd = -1;
    w->listen_http = (struct gw_mock_ep){GW_MOCK_EP_LISTEN_HTTP, lfd_http};
    w->listen_tls = (struct gw_mock_ep){GW_MOCK_EP_LISTEN_TLS, lfd_tls};
    w->wake = (struct gw_mock_ep){GW_MOCK_EP_WAKE, -1};
    rc = pthread_mutex_init(&w->last.mu, NULL);
    if (rc != 0)
        return -rc;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -errno;
    w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake.fd < 0)
        return -errno;
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if ((rc = ep_add(w->epfd, &w->wake)) < 0 || (rc = ep_add(w->epfd, &w->listen_http)) < 0)
        return rc;
    if (lfd_tls >= 0 && (rc = ep_add(w->epfd, &w->listen_tls)) < 0)
        return rc;
    w->heap_cap = 1024;
    w->heap = malloc(w->heap_cap * sizeof(*w->heap));
    w->scratch_cap = 64 * 1024;
    w->scratch = malloc(w->scratch_cap);
    w->scratch2_cap = 16 * 1024;
    w->scratch2 = malloc(w->scratch2_cap);
    if (!w->heap || !w->scratch || !w->scratch2)
        return -ENOMEM;
    return 0;
}

void gw_mock_worker_wake(struct gw_mock_worker *w)
{
    uint64_t one = 1;
    if (w->wake.fd >= 0 && write(w->wake.fd, &one, sizeof(one)) < 0 && !gw_mock.quiet)
        fprintf(stderr, "conduit-mock: waking worker %u: %s\n", w->id, strerror(errno));
}

void *gw_mock_worker_main(void *arg)
{
    struct gw_mock_worker *w = arg;
    struct epoll_event evs[EVENT_BATCH];
    w->now_ms = clock_ms();
    while (!atomic_load_explicit(&gw_mock.stop, memory_order_acquire)) {
        int n = epoll_wait(w->epfd, evs, EVENT_BATCH, heap_timeout(w));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "conduit-mock: worker %u: epoll_wait: %s\n", w->id, strerror(errno));
            break;
        }
        w->now_ms = clock_ms();
        for (int i = 0; i < n; i++) {
            struct gw_mock_ep *ep = evs[i].data.ptr;
            switch (ep->kind) {
            case GW_MOCK_EP_CONN:
                on_conn_event(gw_container_of(ep, struct gw_mock_conn, ep), evs[i].events);
                break;
            case GW_MOCK_EP_LISTEN_HTTP:
            case GW_MOCK_EP_LISTEN_TLS:
                on_accept(w, ep);
                break;
            case GW_MOCK_EP_WAKE:
            default: {
                uint64_t v;
                if (read(ep->fd, &v, sizeof(v)) < 0 && errno != EAGAIN && !gw_mock.quiet)
                    fprintf(stderr, "conduit-mock: worker %u: eventfd: %s\n", w->id,
                            strerror(errno));
                break;
            }
            }
        }
        run_timers(w);
        reap_dead(w);
    }
    while (w->live) {
        w->live->plan.stream_live = false; /* shutting down: not an abort */
        conn_close(w->live);
    }
    reap_dead(w);
    return NULL;
}

void gw_mock_worker_destroy(struct gw_mock_worker *w)
{
    while (w->live)
        conn_close(w->live);
    reap_dead(w);
    while (w->free_conns) {
        struct gw_mock_conn *c = w->free_conns;
        w->free_conns = c->next;
        free(c);
    }
    w->n_free_conns = 0;
    while (w->n_tls_cache > 0)
        free(w->tls_cache[--w->n_tls_cache]);
    free(w->sessions);
    w->sessions = NULL;
    free(w->heap);
    free(w->scratch);
    free(w->scratch2);
    free(w->last.buf);
    w->heap = NULL;
    w->scratch = w->scratch2 = w->last.buf = NULL;
    int *fds[] = {&w->listen_http.fd, &w->listen_tls.fd, &w->wake.fd, &w->epfd, &w->reserve_fd};
    for (size_t i = 0; i < GW_ARRAY_SIZE(fds); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    pthread_mutex_destroy(&w->last.mu);
}
