/*
 * bench/loadgen/worker.c — one load generator thread: its connections, its
 * epoll instance, its timer heap, and the request/response cycle of every
 * mode. It shares nothing with other workers but its slot of the shared
 * statistics region and two atomics (the stream mode's open-session count).
 *
 * Cost per request matters more than elegance here: during a benchmark the
 * load generator shares a core with the mock, and every cycle it burns is a
 * cycle the system under test cannot have. So the request is one
 * preformatted buffer written with one send(); sockets are registered once,
 * edge-triggered, for both directions (no epoll_ctl per request); a receive
 * that returns less than it asked for ends the read, because with
 * edge-triggered epoll any later byte raises a fresh edge, so the usual
 * "read until EAGAIN" costs a syscall for nothing; responses are parsed in
 * the connection's fixed buffer with our own HTTP/1.1, chunked and SSE
 * parsers; nothing is allocated after start-up.
 *
 * Timers: each connection has at most one entry in a binary min-heap keyed
 * by its next deadline, which means, by state: IDLE - when to open the
 * socket (ramp, reconnect); READY in open mode - the next scheduled send;
 * anything busy - the idle timeout. The timeout entry is lazy: progress only
 * stamps t_progress, and a timeout that fires early re-arms itself at
 * t_progress + timeout, so a busy connection costs no heap work per response.
 * epoll_pwait2 takes the wait in nanoseconds and the thread's timer slack is
 * set to 1 ns, so open-mode sends are not rounded to a millisecond (which
 * would count as latency, since open mode measures from the schedule).
 *
 * Stale events: a connection closed while handling one event of a batch
 * may still be named by a later event of the same batch. Closing only sets
 * fd = -1, and every reopen happens from the timer phase, after the batch,
 * so such an event finds fd < 0 and is dropped; it can never land on a new
 * socket that reused the slot.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/loadgen.h"
#include "core/common.h"
#include "net/http1.h"
#include "core/sse.h"

#define EVENT_BATCH 512
#define HEAP_NONE UINT32_MAX
#define MAX_WAIT_NS 100000000ull /* wake at least this often to publish live counters */
#define NS_PER_S 1000000000.0

/*
 * Connection state. What holds in each:
 *  IDLE       - fd < 0. Armed at its open time (start, ramp, reconnect), or
 *               not armed at all once `finished` (stream sessions are single-use).
 *  CONNECTING - fd >= 0, non-blocking connect under way; armed for the timeout.
 *  READY      - connected, no request out. Open mode: armed at the next slot.
 *  SENDING    - request partly written (socket buffer full); armed for the timeout.
 *  HEAD       - request written, response head not complete.
 *  BODY       - head parsed; the body is framed by bm.
 */
enum conn_state { CS_IDLE = 0, CS_CONNECTING, CS_READY, CS_SENDING, CS_HEAD, CS_BODY, CS_COUNT };

enum body_mode {
    BM_LENGTH = 0, /* Content-Length, or no body (204, 304) */
    BM_CHUNKED,
    BM_EOF, /* neither: the body ends when the peer closes */
    BM_COUNT
};

struct conn {
    int fd; /* owns; -1 when there is no socket */
    enum conn_state state;
    enum body_mode bm;
    uint32_t heap_idx;     /* position in the worker's heap, HEAP_NONE when not armed */
    uint32_t gidx;         /* index among all connections of the run (schedule phase) */
    uint16_t status;       /* of the response being read */
    bool keepalive;        /* the response lets the connection carry another request */
    bool sse;              /* parse the body as SSE: stream mode and a 2xx */
    bool done_seen;        /* stream: "data: [DONE]" arrived */
    bool in_window;        /* the request's base time is inside the measured window */
    bool finished;         /* stream without --repeat: the session is over for good */
    bool ever_connected;   /* for counting reconnects */
    bool rx_pending;       /* an input edge arrived while SENDING: read once sent */
    uint32_t events;       /* stream: data events of the current response */
    uint64_t deadline;     /* heap key, ns (CLOCK_MONOTONIC) */
    uint64_t t_base;       /* latency base: the scheduled slot (open) or t_sent */
    uint64_t t_sent;       /* first byte of the request written */
    uint64_t t_progress;   /* last connect or response byte: the idle timeout counts from it */
    uint64_t t_last_event; /* stream: the previous data event */
    uint64_t seq;          /* open: slot number k of the next request on this connection */
    uint64_t body_left;    /* BM_LENGTH: body bytes still to come */
    size_t sent;           /* request bytes written */
    size_t keep;           /* buf[0..keep): decoded SSE bytes not yet a whole event */
    size_t len;            /* buf[keep..len): raw bytes not yet looked at */
    struct gw_chunked dec;
    char buf[GW_LG_BUF_SIZE];
};

struct worker {
    const struct gw_lg_config *cfg; /* borrowed, read-only */
    struct gw_lg_shared *sh;        /* borrowed: the shared region */
    struct gw_lg_stats *st;         /* borrowed: sh->stats[index], ours alone */
    int ep;                         /* owns */
    struct conn *conns;             /* owns: nconns */
    unsigned nconns;
    struct conn **heap; /* owns: nconns slots */
    uint32_t heap_len;
    unsigned finished;  /* stream without --repeat: sessions over */
    int64_t open_here;  /* stream: requests out on this worker (mirrors sh->open_now) */
    uint64_t win_start; /* measured window [win_start, win_end) */
    uint64_t win_end;
    uint64_t timeout_ns;
    double slot_ns;       /* open: 1e9 / rate, the gap between consecutive global slots */
    uint64_t interval_ns; /* stream: --interval-ms in ns; 0: no lateness samples */
    uint64_t done_count;  /* for the live counters */
    uint64_t fail_count;
    uint64_t sock_count;
    bool stream; /* mode == STREAM */
    bool once;   /* stream without --repeat */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- timer heap ---- */

static void heap_place(struct worker *w, uint32_t i, struct conn *c)
{
    w->heap[i] = c;
    c->heap_idx = i;
}

static void heap_up(struct worker *w, uint32_t i)
{
    struct conn *c = w->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (w->heap[p]->deadline <= c->deadline)
            break;
        heap_place(w, i, w->heap[p]);
        i = p;
    }
    heap_place(w, i, c);
}

static void heap_down(struct worker *w, uint32_t i)
{
    struct conn *c = w->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= w->heap_len)
            break;
        uint32_t m = l;
        if (l + 1 < w->heap_len && w->heap[l + 1]->deadline < w->heap[l]->deadline)
            m = l + 1;
        if (w->heap[m]->deadline >= c->deadline)
            break;
        heap_place(w, i, w->heap[m]);
        i = m;
    }
    heap_place(w, i, c);
}

static void heap_del(struct worker *w, struct conn *c)
{
    uint32_t i = c->heap_idx;
    if (i == HEAP_NONE)
        return;
    GW_BUG_ON(i >= w->heap_len || w->heap[i] != c);
    c->heap_idx = HEAP_NONE;
    uint32_t last = --w->heap_len;
    if (i == last)
        return;
    heap_place(w, i, w->heap[last]);
    heap_down(w, i);
    heap_up(w, i); /* a no-op when heap_down moved it */
}

/* Arms c at t, moving it when already armed. Never fails: the heap has a slot per conn. */
static void timer_set(struct worker *w, struct conn *c, uint64_t t)
{
    c->deadline = t;
    if (c->heap_idx == HEAP_NONE) {
        GW_BUG_ON(w->heap_len >= w->nconns);
        heap_place(w, w->heap_len++, c);
        heap_up(w, c->heap_idx);
        return;
    }
    heap_down(w, c->heap_idx);
    heap_up(w, c->heap_idx);
}

/* Makes sure c wakes no later than its idle timeout; leaves an earlier entry alone. */
static void timer_timeout(struct worker *w, struct conn *c, uint64_t now)
{
    uint64_t t = now + w->timeout_ns;
    if (c->heap_idx == HEAP_NONE || c->deadline > t)
        timer_set(w, c, t);
}

/* ---- bookkeeping ---- */

static bool counts(const struct worker *w, const struct conn *c, uint64_t now)
{
    return c->in_window && now < w->win_end;
}

/*
 * Stream mode's open-session count over every worker and process. Relaxed:
 * it is a statistic, ordering nothing; the parent reads it after the
 * workers' release of `finished` (or after waitpid).
 */
static void open_inc(struct worker *w)
{
    w->open_here++;
    int64_t v = atomic_fetch_add_explicit(&w->sh->open_now, 1, memory_order_relaxed) + 1;
    int64_t p = atomic_load_explicit(&w->sh->open_peak, memory_order_relaxed);
    while (v > p && !atomic_compare_exchange_weak_explicit(
                        &w->sh->open_peak, &p, v, memory_order_relaxed, memory_order_relaxed))
        ;
}

static void open_dec(struct worker *w)
{
    GW_BUG_ON(w->open_here <= 0);
    w->open_here--;
    atomic_fetch_sub_explicit(&w->sh->open_now, 1, memory_order_relaxed);
}

static bool busy(const struct conn *c)
{
    return c->state == CS_SENDING || c->state == CS_HEAD || c->state == CS_BODY;
}

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set: the fd is never dup'ed */
        c->fd = -1;
        w->sock_count--;
    }
    c->state = CS_IDLE;
    c->keep = 0;
    c->len = 0;
}

/* A single-use stream session is over (well or not): the slot is never reopened. */
static void session_over(struct worker *w, struct conn *c)
{
    conn_close(w, c);
    heap_del(w, c);
    c->finished = true;
    w->finished++;
}

static void conn_send(struct worker *w, struct conn *c, uint64_t now, uint64_t base);
static void conn_read(struct worker *w, struct conn *c, uint64_t now, bool drain);

/*
 * The connection has no request out: start the next one now, or (open mode)
 * arm it for its next slot. Nothing is started once the window has closed.
 */
static void next_request(struct worker *w, struct conn *c, uint64_t now)
{
    /* Relaxed: `stop` is a plain flag set by the parent's SIGINT handler; it guards no data. */
    if (now >= w->win_end || atomic_load_explicit(&w->sh->stop, memory_order_relaxed))
        return;
    if (w->cfg->mode != GW_LG_MODE_OPEN) {
        conn_send(w, c, now, now);
        return;
    }
    double slot = ((double)c->seq * (double)w->cfg->conns + (double)c->gidx) * w->slot_ns;
    uint64_t due = w->cfg->t0_ns + (uint64_t)slot;
    if (now < due) {
        timer_set(w, c, due);
        return;
    }
    c->seq++;
    if (due >= w->win_start && now < w->win_end)
        gw_lg_hist_record(&w->st->sched, now - due);
    conn_send(w, c, now, due);
}

/*
 * Counts a failure of kind f on c and closes it. A request that was out is
 * lost (open mode: its slot is spent). Single-use sessions end for good;
 * other connections reconnect, at once after a loss, after
 * GW_LG_RECONNECT_NS when the connect itself failed.
 */
static void conn_fail(struct worker *w, struct conn *c, enum gw_lg_fail f, uint64_t now)
{
    bool had_req = busy(c);
    w->st->fails[f]++;
    w->fail_count++;
    if (had_req && w->stream)
        open_dec(w);
    if (had_req && w->cfg->mode == GW_LG_MODE_OPEN && counts(w, c, now))
        w->st->resolved++;
    if (w->stream && (w->once || (had_req && counts(w, c, now))))
        w->st->sessions_failed++;
    if (w->once) {
        session_over(w, c);
        return;
    }
    conn_close(w, c);
    timer_set(w, c, now + (f == GW_LG_FAIL_CONNECT ? GW_LG_RECONNECT_NS : 0));
}

/* The peer closed or reset a connection with no request out: not a failure, just reconnect. */
static void conn_idle_lost(struct worker *w, struct conn *c, uint64_t now)
{
    conn_close(w, c);
    timer_set(w, c, now);
}

static void conn_connected(struct worker *w, struct conn *c, uint64_t now)
{
    c->state = CS_READY;
    c->t_progress = now;
    w->st->connects++;
    if (c->ever_connected)
        w->st->reconnects++;
    c->ever_connected = true;
    next_request(w, c, now);
}

static void conn_open(struct worker *w, struct conn *c, uint64_t now)
{
    const struct gw_lg_config *cfg = w->cfg;
    int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_fail(w, c, GW_LG_FAIL_CONNECT, now);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (cfg->src_ips > 0) {
        /*
         * Every closed session leaves a TIME_WAIT entry on our side for 60 s,
         * and a connect to one destination must find a free port among
         * ip_local_port_range (~28k) that no live or TIME_WAIT socket to that
         * destination holds. Near that edge each connect() scans the whole
         * range in the kernel and the loop stalls for seconds. Each source
         * address has its own 4-tuple space; IP_BIND_ADDRESS_NO_PORT leaves
         * the port choice to connect(), which knows the destination.
         */
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + c->gidx % cfg->src_ips);
        if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 ||
            bind(fd, (const struct sockaddr *)&src, sizeof(src)) < 0) {
            close(fd);
            conn_fail(w, c, GW_LG_FAIL_CONNECT, now);
            return;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        conn_fail(w, c, GW_LG_FAIL_CONNECT, now);
        return;
    }
    c->fd = fd;
    w->sock_count++;
    c->keep = 0;
    c->len = 0;
    c->rx_pending = false;
    if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) == 0) {
        conn_connected(w, c, now);
        return;
    }
    if (errno != EINPROGRESS) {
        c->state = CS_CONNECTING;
        conn_fail(w, c, GW_LG_FAIL_CONNECT, now);
        return;
    }
    c->state = CS_CONNECTING;
    c->t_progress = now;
    timer_timeout(w, c, now);
}

/* Writes what is left of the request; ends in HEAD, stays SENDING, or fails. */
static void conn_write(struct worker *w, struct conn *c, uint64_t now)
{
    const struct gw_lg_config *cfg = w->cfg;
    while (c->sent < cfg->req_len) {
        ssize_t n = send(c->fd, cfg->req + c->sent, cfg->req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* EPOLLOUT's edge brings us back */
            conn_fail(w, c, GW_LG_FAIL_RESET, now);
            return;
        }
        c->sent += (size_t)n;
        if (c->in_window)
            w->st->bytes_out += (uint64_t)n;
    }
    c->state = CS_HEAD;
    if (c->rx_pending) {
        c->rx_pending = false;
        conn_read(w, c, now, true);
    }
}

static void conn_send(struct worker *w, struct conn *c, uint64_t now, uint64_t base)
{
    c->t_base = base;
    c->t_sent = now;
    c->t_progress = now;
    c->in_window = base >= w->win_start;
    c->sent = 0;
    c->status = 0;
    c->events = 0;
    c->done_seen = false;
    c->keep = 0;
    c->len = 0;
    c->state = CS_SENDING;
    if (w->stream)
        open_inc(w);
    timer_timeout(w, c, now);
    conn_write(w, c, now);
}

/*
 * The response ended with its framing intact. Records it, then reuses the
 * connection (keep-alive) or closes it: single-use sessions end; others
 * reconnect.
 */
static void req_end(struct worker *w, struct conn *c, uint64_t now)
{
    struct gw_lg_stats *st = w->st;
    bool rec = counts(w, c, now);
    bool good = c->status >= 200 && c->status < 300;
    if (w->stream) {
        open_dec(w);
        if (!good) {
            st->fails[GW_LG_FAIL_STATUS]++;
        } else if (!c->done_seen) {
            good = false;
            st->fails[GW_LG_FAIL_NO_DONE]++;
        }
        if (rec || w->once) {
            st->status[c->status < GW_LG_STATUS_MAX ? c->status : 0]++;
            if (good)
                st->sessions_ok++;
            else
                st->sessions_failed++;
            if (c->done_seen)
                st->done_seen++;
        }
        if (good)
            w->done_count++;
        else
            w->fail_count++;
    } else {
        if (rec) {
            st->requests++;
            st->ok += good;
            st->status[c->status < GW_LG_STATUS_MAX ? c->status : 0]++;
            gw_lg_hist_record(&st->lat, now - c->t_base);
            if (w->cfg->mode == GW_LG_MODE_OPEN)
                st->resolved++;
        }
        w->done_count++;
    }
    c->state = CS_READY;
    c->keep = 0;
    c->len = 0;
    if (w->once) {
        session_over(w, c);
        return;
    }
    if (!c->keepalive) {
        conn_close(w, c);
        timer_set(w, c, now);
        return;
    }
    next_request(w, c, now);
}

/*
 * One SSE data event (not [DONE]) arrived at now. Besides the raw gap, an
 * event after the first gives a lateness sample: how much longer than the
 * stream's interval it took, floored at 0. The gap's histogram cannot show
 * that: at 500 ms its buckets are about 2 ms wide, while lateness sits near
 * zero, where the buckets are sub-microsecond. Gaps under half the interval
 * are events that came together (the mock's finish delta rides with the last
 * content delta), not late ones, so they give no lateness sample.
 */
static void stream_event(struct worker *w, struct conn *c, uint64_t now)
{
    if (counts(w, c, now)) {
        if (c->events == 0) {
            gw_lg_hist_record(&w->st->ttft, now - c->t_sent);
        } else {
            uint64_t gap = now - c->t_last_event;
            gw_lg_hist_record(&w->st->gap, gap);
            if (w->interval_ns > 0 && gap >= w->interval_ns / 2)
                gw_lg_hist_record(&w->st->late, gap > w->interval_ns ? gap - w->interval_ns : 0);
        }
        w->st->events++;
    }
    c->events++;
    c->t_last_event = now;
}

/* Takes every whole event out of buf[0..keep) and moves the rest to the front. */
static void sse_scan(struct worker *w, struct conn *c, uint64_t now)
{
    size_t off = 0;
    struct gw_sse_event ev;
    int r;
    while ((r = gw_sse_next(c->buf + off, c->keep - off, &ev)) > 0) {
        off += (size_t)r;
        if (ev.data_lines == 0)
            continue; /* comments, keep-alives */
        if (gw_sse_is_done(&ev))
            c->done_seen = true;
        else
            stream_event(w, c, now);
    }
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->keep - off);
        c->keep -= off;
    }
}

/*
 * Feeds the raw body bytes buf[keep..len) through the framing, then to the
 * SSE scanner (or drops them). Returns whether c still has its socket and
 * may be read further.
 */
static bool conn_body(struct worker *w, struct conn *c, uint64_t now)
{
    size_t n = c->len - c->keep;
    bool complete = false;
    switch (c->bm) {
    case BM_CHUNKED: {
        ssize_t r = gw_chunked_decode(&c->dec, c->buf + c->keep, &n);
        if (r == -1 || r > 0) { /* bad framing, or bytes after the response we never asked for */
            conn_fail(w, c, GW_LG_FAIL_PROTO, now);
            return false;
        }
        complete = r == 0;
        break;
    }
    case BM_LENGTH:
        if (n > c->body_left) {
            conn_fail(w, c, GW_LG_FAIL_PROTO, now);
            return false;
        }
        c->body_left -= n;
        complete = c->body_left == 0;
        break;
    case BM_EOF:
    case BM_COUNT:
        break;
    }
    if (c->sse) {
        c->keep += n;
        sse_scan(w, c, now);
        if (c->keep == GW_LG_BUF_SIZE) {
            conn_fail(w, c, GW_LG_FAIL_TOO_BIG, now);
            return false;
        }
    }
    c->len = c->keep;
    if (complete) {
        req_end(w, c, now);
        return c->fd >= 0;
    }
    return true;
}

/* New bytes are in buf[keep..len). Returns whether c may be read further. */
static bool conn_input(struct worker *w, struct conn *c, uint64_t now)
{
    if (c->state == CS_READY) { /* nothing asked, something answered */
        conn_fail(w, c, GW_LG_FAIL_PROTO, now);
        return false;
    }
    while (c->state == CS_HEAD) {
        struct gw_http1_header hdrs[GW_LG_MAX_HEADERS];
        struct gw_http1_resp resp;
        int r = gw_http1_parse_response(c->buf, c->len, &resp, hdrs, GW_LG_MAX_HEADERS);
        if (r == -2) {
            if (c->len < GW_LG_BUF_SIZE)
                return true;
            conn_fail(w, c, GW_LG_FAIL_TOO_BIG, now);
            return false;
        }
        if (r < 0) {
            conn_fail(w, c, GW_LG_FAIL_PROTO, now);
            return false;
        }
        memmove(c->buf, c->buf + r, c->len - (size_t)r);
        c->len -= (size_t)r;
        if (resp.status < 200)
            continue; /* 1xx: the real head follows */
        c->status = (uint16_t)resp.status;
        c->keepalive = (resp.flags & GW_H1_F_KEEPALIVE) != 0;
        if (resp.flags & GW_H1_F_CHUNKED) {
            c->bm = BM_CHUNKED;
            gw_chunked_init(&c->dec);
        } else if (resp.flags & GW_H1_F_HAS_CL) {
            c->bm = BM_LENGTH;
            c->body_left = resp.content_length;
        } else if (resp.status == 204 || resp.status == 304) {
            c->bm = BM_LENGTH;
            c->body_left = 0;
        } else {
            c->bm = BM_EOF;
        }
        c->sse = w->stream && c->status >= 200 && c->status < 300;
        c->state = CS_BODY;
        c->keep = 0;
    }
    return conn_body(w, c, now);
}

/* The peer closed its side. */
static void conn_eof(struct worker *w, struct conn *c, uint64_t now)
{
    if (c->state == CS_READY) {
        conn_idle_lost(w, c, now);
        return;
    }
    if (c->state == CS_BODY && c->bm == BM_EOF) {
        c->keepalive = false; /* so req_end closes the socket */
        req_end(w, c, now);
        return;
    }
    conn_fail(w, c, GW_LG_FAIL_EOF, now);
}

/*
 * Reads and handles what the socket holds. A short read ends it (any later
 * byte raises a new edge) unless drain is set: when the edge we harvested
 * already carried the peer's FIN or an error, no further edge will come for
 * it, so we read on until EOF or EAGAIN.
 */
static void conn_read(struct worker *w, struct conn *c, uint64_t now, bool drain)
{
    for (;;) {
        size_t room = GW_LG_BUF_SIZE - c->len;
        ssize_t n = recv(c->fd, c->buf + c->len, room, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (c->state == CS_READY)
                conn_idle_lost(w, c, now);
            else
                conn_fail(w, c, GW_LG_FAIL_RESET, now);
            return;
        }
        if (n == 0) {
            conn_eof(w, c, now);
            return;
        }
        c->t_progress = now;
        if (c->in_window && now < w->win_end)
            w->st->bytes_in += (uint64_t)n;
        c->len += (size_t)n;
        if (!conn_input(w, c, now))
            return;
        if ((size_t)n < room && !drain)
            return; /* drained when we looked; a later byte raises a new edge */
    }
}

static void conn_event(struct worker *w, struct conn *c, uint32_t ev)
{
    if (c->fd < 0)
        return; /* closed earlier in this batch */
    uint64_t now = now_ns();
    switch (c->state) {
    case CS_CONNECTING: {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t elen = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
            conn_fail(w, c, GW_LG_FAIL_CONNECT, now);
            return;
        }
        conn_connected(w, c, now);
        return;
    }
    case CS_SENDING:
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
            c->rx_pending = true;
        conn_write(w, c, now);
        return;
    case CS_READY:
    case CS_HEAD:
    case CS_BODY:
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
            conn_read(w, c, now, (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0);
        return;
    case CS_IDLE:
    case CS_COUNT:
        return;
    }
}

/* c's deadline passed. */
static void conn_timer(struct worker *w, struct conn *c, uint64_t now)
{
    switch (c->state) {
    case CS_IDLE:
        if (!c->finished && now < w->win_end)
            conn_open(w, c, now);
        return;
    case CS_READY:
        if (w->cfg->mode == GW_LG_MODE_OPEN)
            next_request(w, c, now);
        return;
    case CS_CONNECTING:
    case CS_SENDING:
    case CS_HEAD:
    case CS_BODY: {
        uint64_t due = c->t_progress + w->timeout_ns;
        if (due > now)
            timer_set(w, c, due);
        else
            conn_fail(w, c, GW_LG_FAIL_TIMEOUT, now);
        return;
    }
    case CS_COUNT:
        return;
    }
}

static void run_timers(struct worker *w, uint64_t now)
{
    while (w->heap_len > 0 && w->heap[0]->deadline <= now) {
        struct conn *c = w->heap[0];
        heap_del(w, c);
        conn_timer(w, c, now);
    }
}

/* Open mode: slots of connection g that fall before time x. */
static uint64_t slots_before(const struct worker *w, uint32_t g, uint64_t x)
{
    double first = (double)w->cfg->t0_ns + (double)g * w->slot_ns;
    if ((double)x <= first)
        return 0;
    return (uint64_t)ceil(((double)x - first) / (w->slot_ns * (double)w->cfg->conns));
}

/* After the loop: account for what was still going, then close everything. */
static void worker_finish(struct worker *w, uint64_t now)
{
    struct gw_lg_stats *st = w->st;
    for (unsigned i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (w->cfg->mode == GW_LG_MODE_OPEN)
            st->scheduled +=
                slots_before(w, c->gidx, w->win_end) - slots_before(w, c->gidx, w->win_start);
        if (busy(c) && w->stream)
            open_dec(w);
        if (w->once && !c->finished) {
            st->fails[GW_LG_FAIL_UNFINISHED]++;
            st->sessions_failed++;
        }
        conn_close(w, c);
    }
    st->t_end_ns = now;
}

/* Relaxed: the progress line only wants recent values; nothing is published with them. */
static void publish_live(struct worker *w)
{
    struct gw_lg_stats *st = w->st;
    atomic_store_explicit(&st->live_done, w->done_count, memory_order_relaxed);
    atomic_store_explicit(&st->live_failed, w->fail_count, memory_order_relaxed);
    atomic_store_explicit(&st->live_conns, w->sock_count, memory_order_relaxed);
}

static int wait_events(int ep, struct epoll_event *evs, int cap, uint64_t wait_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000ull),
                          .tv_nsec = (long)(wait_ns % 1000000000ull)};
    int n = epoll_pwait2(ep, evs, cap, &ts, NULL);
    if (n < 0 && errno == ENOSYS) /* kernels before 5.11: round up to a millisecond */
        n = epoll_wait(ep, evs, cap, (int)((wait_ns + 999999) / 1000000));
    return n;
}

static void worker_loop(struct worker *w)
{
    struct epoll_event evs[EVENT_BATCH];
    uint64_t now = now_ns();
    for (;;) {
        run_timers(w, now);
        publish_live(w);
        bool stop = atomic_load_explicit(&w->sh->stop, memory_order_relaxed);
        if (stop || now >= w->win_end || (w->once && w->finished == w->nconns))
            break;
        uint64_t wake = w->win_end;
        if (w->heap_len > 0 && w->heap[0]->deadline < wake)
            wake = w->heap[0]->deadline;
        uint64_t wait = wake > now ? wake - now : 0;
        if (wait > MAX_WAIT_NS)
            wait = MAX_WAIT_NS;
        int n = wait_events(w->ep, evs, EVENT_BATCH, wait);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "conduit-loadgen: epoll_pwait2: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            conn_event(w, evs[i].data.ptr, evs[i].events);
        now = now_ns();
    }
    worker_finish(w, now);
    publish_live(w);
}

int gw_lg_worker_run(const struct gw_lg_config *cfg, struct gw_lg_shared *sh, unsigned index)
{
    struct worker w = {.cfg = cfg, .sh = sh, .st = &sh->stats[index], .ep = -1};
    int rc = 0;
    unsigned nw = cfg->procs * cfg->threads;
    bool once = cfg->mode == GW_LG_MODE_STREAM && !cfg->repeat;
    unsigned total = once ? cfg->sessions : cfg->conns;

    /* Timer slack defaults to 50 us; open mode would see it as latency. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    w.stream = cfg->mode == GW_LG_MODE_STREAM;
    w.once = once;
    w.nconns = gw_lg_share(total, nw, index);
    w.timeout_ns = (uint64_t)(cfg->timeout_s * NS_PER_S);
    w.slot_ns = cfg->rate > 0 ? NS_PER_S / cfg->rate : 0;
    w.interval_ns = (uint64_t)cfg->interval_ms * 1000000ull;
    if (once) {
        w.win_start = cfg->t0_ns;
        w.win_end =
            cfg->duration_s > 0 ? cfg->t0_ns + (uint64_t)(cfg->duration_s * NS_PER_S) : UINT64_MAX;
    } else {
        w.win_start = cfg->t0_ns + (uint64_t)(cfg->warmup_s * NS_PER_S);
        w.win_end = w.win_start + (uint64_t)(cfg->duration_s * NS_PER_S);
    }
    w.st->conns = w.nconns;
    if (w.nconns == 0)
        goto out;

    w.ep = epoll_create1(EPOLL_CLOEXEC);
    if (w.ep < 0) {
        rc = -errno;
        goto out;
    }
    w.conns = calloc(w.nconns, sizeof(*w.conns));
    w.heap = calloc(w.nconns, sizeof(*w.heap));
    if (!w.conns || !w.heap) {
        rc = -ENOMEM;
        goto out;
    }
    unsigned first = gw_lg_share_first(total, nw, index);
    for (unsigned i = 0; i < w.nconns; i++) {
        struct conn *c = &w.conns[i];
        c->fd = -1;
        c->state = CS_IDLE;
        c->heap_idx = HEAP_NONE;
        c->gidx = first + i;
        uint64_t at = cfg->t0_ns;
        if (cfg->ramp_s > 0)
            at += (uint64_t)(cfg->ramp_s * NS_PER_S * (double)c->gidx / (double)total);
        else
            at += (uint64_t)(i / GW_LG_RAMP_BATCH) * GW_LG_RAMP_STEP_NS;
        timer_set(&w, c, at);
    }
    worker_loop(&w);

out:
    free(w.heap);
    free(w.conns);
    if (w.ep >= 0)
        close(w.ep);
    /* Pairs with the acquire in main.c's all_finished: our stats slot is complete. */
    atomic_store_explicit(&w.st->finished, true, memory_order_release);
    return rc;
}
