/*
 * net/worker.c — the worker thread: ring set-up, the loop, accept, and the
 * client connection's I/O and closing rules.
 *
 * Loop shape [rds beforesleep, ss, uring]: load the snapshot and publish the
 * oldest generation in use; run expired timers; submit everything and wait
 * (timeout from the timer wheel, at most 100 ms); dispatch every ready CQE
 * through one op table; advance the CQ once per batch; then deferred work
 * (receives to re-arm, log flushes).
 *
 * Descriptors are io_uring direct descriptors [issue 3]: accepted sockets go
 * straight into the ring's fixed-file table (the kernel allocates from the
 * client range), upstream sockets are installed into the upstream range. They
 * do not count against the process's open-file limit, which is how one process
 * holds more sessions than RLIMIT_NOFILE allows.
 *
 * Closing a connection: set CLOSING, cancel its in-flight ops, and
 * once its in-flight count reaches zero, close_direct; only the close's CQE
 * frees the slot and bumps its generation, so no CQE can land on a reused slot.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "core/common.h"
#include "net/tls.h"
#include "net/worker.h"

#define RING_ENTRIES 1024
#define RING_CQ_ENTRIES 16384
#define WAIT_MAX_MS 100
#define FILE_TABLE_MAX 65536

/* The worker running on this thread: timer callbacks find their worker here. */
__thread struct gw_worker *gw__self;

uint64_t gw__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
    return gw__now_ns() / 1000000u;
}

struct io_uring_sqe *gw__sqe(struct gw_worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    while (!sqe) {
        /* SQ full: submit what is queued and try again; never drop an SQE. */
        int r = io_uring_submit(&w->ring);
        if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR) {
            fprintf(stderr, "worker %u: io_uring_submit: %s\n", w->id, strerror(-r));
            abort();
        }
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

void gw__cancel(struct gw_worker *w, uint64_t ud)
{
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_cancel64(sqe, ud, 0);
    sqe->user_data = gw__ud(GW_OP_CANCEL, 0, 0);
}

int gw_listener_probe(const struct sockaddr *addr, socklen_t len, uint16_t *port)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* SO_REUSEADDR: an earlier process's connections in TIME_WAIT do not hold
     * the address; a listening socket still does, whatever its options. */
    int one = 1;
    int err = 0;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, addr, len) < 0 || getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
        err = -errno;
    else if (bound.ss_family == AF_INET6)
        *port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    else
        *port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    close(fd);
    return err;
}

int gw_listener_open(const struct sockaddr *addr, socklen_t len)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, addr, len) < 0 || listen(fd, 4096) < 0)
        goto fail;
    return fd;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

/* ---- provided buffer rings ---- */

static struct io_uring_buf_ring *buf_ring_setup(struct io_uring *ring, unsigned count,
                                                unsigned group, char **bufs_out, int *err)
{
    size_t ringsz = count * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, ringsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)mem, .ring_entries = count, .bgid = (uint16_t)group};
    int r = io_uring_register_buf_ring(ring, &reg, 0);
    if (r < 0) {
        munmap(mem, ringsz);
        *err = r;
        return NULL;
    }
    struct io_uring_buf_ring *br = mem;
    char *bufs = malloc((size_t)count * GW_RBUF_SIZE);
    if (!bufs) {
        *err = -ENOMEM;
        return NULL;
    }
    int mask = io_uring_buf_ring_mask(count);
    for (unsigned i = 0; i < count; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * GW_RBUF_SIZE, GW_RBUF_SIZE, (uint16_t)i,
                              mask, (int)i);
    io_uring_buf_ring_advance(br, (int)count);
    *bufs_out = bufs;
    return br;
}

static void buf_return(struct io_uring_buf_ring *br, char *bufs, unsigned count, unsigned bid)
{
    io_uring_buf_ring_add(br, bufs + (size_t)bid * GW_RBUF_SIZE, GW_RBUF_SIZE, (uint16_t)bid,
                          io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(br, 1);
}

/* ---- ring and tables ---- */

static int worker_setup(struct gw_worker *w)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = RING_CQ_ENTRIES;
    int r = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
    if (r < 0) {
        fprintf(stderr, "worker %u: io_uring_setup: %s (Linux 6.1 or newer is required)\n",
                w->id, strerror(-r));
        return r;
    }
    if (!(p.features & IORING_FEAT_NODROP)) {
        fprintf(stderr, "worker %u: kernel lacks IORING_FEAT_NODROP\n", w->id);
        return -ENOTSUP;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&w->ring);
    static const int needed[] = {IORING_OP_ACCEPT,    IORING_OP_RECV,  IORING_OP_SENDMSG,
                                 IORING_OP_CONNECT,   IORING_OP_CLOSE, IORING_OP_ASYNC_CANCEL,
                                 IORING_OP_WRITE,     IORING_OP_READ,  IORING_OP_SEND,
                                 IORING_OP_SHUTDOWN};
    for (size_t i = 0; probe && i < GW_ARRAY_SIZE(needed); i++) {
        if (!io_uring_opcode_supported(probe, needed[i])) {
            fprintf(stderr, "worker %u: io_uring opcode %d unsupported\n", w->id, needed[i]);
            io_uring_free_probe(probe);
            return -ENOTSUP;
        }
    }
    if (probe)
        io_uring_free_probe(probe);

    /* The fixed-file table is bounded by RLIMIT_NOFILE per ring: half for
     * clients (allocated by the kernel on accept), half for upstreams (ours). */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    uint32_t total = rl.rlim_cur > FILE_TABLE_MAX ? FILE_TABLE_MAX : (uint32_t)rl.rlim_cur;
    total = total > 64 ? total - 32 : total;
    r = io_uring_register_files_sparse(&w->ring, total);
    if (r < 0) {
        fprintf(stderr, "worker %u: register files: %s\n", w->id, strerror(-r));
        return r;
    }
    w->nclients = total / 2;
    w->up_base = w->nclients;
    w->nups = total - w->nclients;
    r = io_uring_register_file_alloc_range(&w->ring, 0, w->nclients);
    if (r < 0) {
        fprintf(stderr, "worker %u: file alloc range: %s\n", w->id, strerror(-r));
        return r;
    }
    w->clients = calloc(w->nclients, sizeof(*w->clients));
    w->ups = calloc(w->nups, sizeof(*w->ups));
    if (!w->clients || !w->ups)
        return -ENOMEM;
    for (uint32_t i = 0; i < w->nclients; i++)
        w->clients[i].idx = i;
    for (uint32_t i = w->nups; i-- > 0;) {
        w->ups[i].idx = i;
        w->ups[i].free_next = w->up_free;
        w->up_free = &w->ups[i];
    }
    int err = 0;
    w->cbr = buf_ring_setup(&w->ring, GW_CBUF_COUNT, GW_CBUF_GROUP, &w->cbufs, &err);
    if (!w->cbr)
        goto bufs_fail;
    w->ubr = buf_ring_setup(&w->ring, GW_UBUF_COUNT, GW_UBUF_GROUP, &w->ubufs, &err);
    if (!w->ubr)
        goto bufs_fail;
    /* Output and input blocks: 64 MiB per worker before requests are refused
     * with 503; small input buffers: another 64 MiB (16,384 requests in flight). */
    gw_iopool_init(&w->iopool, 4096);
    gw_bufpool_init(&w->inpool, GW_INSMALL_SIZE, 16384);
    if (gw__log_init(&w->log_out, STDOUT_FILENO) < 0 || gw__log_init(&w->log_err, STDERR_FILENO) < 0)
        return -ENOMEM;
    if (w->rt->board) {
        if (gw_spend_ledger_init(&w->ledger, w->rt->board->nslots) < 0)
            return -ENOMEM;
        /* The other workers see this one's reservations and spend from now on. */
        gw_spend_board_attach(w->rt->board, w->id, &w->ledger);
    }
    int ur = gw__usage_init(w);
    if (ur < 0) {
        fprintf(stderr, "worker %u: usage log: %s\n", w->id, strerror(-ur));
        return ur;
    }
    w->now_ms = now_ms();
    gw_tw_init(&w->tw, w->now_ms);
    gw_gentrack_init(&w->gentrack);
    return 0;
bufs_fail:
    fprintf(stderr, "worker %u: provided buffer ring: %s\n", w->id, strerror(-err));
    return err;
}

static void arm_accept(struct gw_worker *w)
{
    if (w->listen_fd < 0 || w->accept_armed)
        return;
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_multishot_accept_direct(sqe, w->listen_fd, NULL, NULL, 0);
    sqe->user_data = gw__ud(GW_OP_ACCEPT, 0, 0);
    w->accept_armed = true;
}

static void arm_wake(struct gw_worker *w)
{
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_val, sizeof(w->wake_val), 0);
    sqe->user_data = gw__ud(GW_OP_WAKE, 0, 0);
}

void gw_worker_wake_on_control(struct gw_worker *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->wake_fd, &one, sizeof(one));
    (void)r; /* a full counter already means a wakeup is pending */
}

/* ---- client connections ---- */

void gw__client_arm_timer(struct gw_worker *w, struct gw_client *c, uint32_t ms)
{
    gw_tw_add(&w->tw, &c->timer, w->now_ms + ms);
}

static void client_timeout(struct gw_timer *t)
{
    struct gw_client *c = gw_container_of(t, struct gw_client, timer);
    struct gw_worker *w = gw__self;
    if (c->state == GW_CS_CLOSING)
        return;
    if (c->state == GW_CS_LINGER) {
        gw__client_close(w, c, "linger over");
        return;
    }
    if (c->state == GW_CS_READING) {
        if (c->ilen == 0 && c->req.head_len == 0) {
            c->action = "waiting for a request (keep-alive idle)";
            gw__client_close(w, c, "idle timeout");
            return;
        }
        c->action = c->req.head_len ? "reading request body" : "reading request head";
        gw__client_refuse_rest(c);
        gw__resp_error(w, c, 408, "invalid_request_error", "request_timeout", NULL,
                       "The request was not received in time.");
        return;
    }
    /* ACTIVE: the client stopped reading our output. */
    c->action = "sending response (client not reading)";
    gw__client_close(w, c, "send timeout");
}

static void client_open(struct gw_worker *w, uint32_t idx)
{
    if (idx >= w->nclients) {
        gw__log_err(w, "worker %u: accepted file index %u out of range", w->id, idx);
        return;
    }
    struct gw_client *c = &w->clients[idx];
    GW_BUG_ON(c->state != GW_CS_FREE);
    uint32_t gen = c->gen + 1;
    memset(c, 0, sizeof(*c));
    c->idx = idx;
    c->gen = gen;
    c->state = GW_CS_READING;
    c->action = "waiting for a request";
    gw_obuf_init(&c->out);
    gw_timer_init(&c->timer, client_timeout);
    gw_arena_init(&c->req.arena, 4096, 0);
    w->live_clients++;
    gw__stat_add(&w->shared.conns_active, 1);
    gw__stat_add(&w->shared.conns_total, 1);
    uint32_t hto = w->snap ? w->snap->server.header_timeout_ms : 10000;
    gw__client_arm_timer(w, c, hto);
    gw__client_want_recv(w, c);
}

static void client_arm_recv(struct gw_worker *w, struct gw_client *c)
{
    if (c->state == GW_CS_CLOSING || (c->flags & (GW_CF_RECV_ARMED | GW_CF_PEER_EOF)))
        return;
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_recv_multishot(sqe, (int)c->idx, NULL, 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = GW_CBUF_GROUP;
    sqe->user_data = gw__ud(GW_OP_CRECV, c->idx, c->gen);
    c->inflight++;
    c->flags |= GW_CF_RECV_ARMED;
}

void gw__client_want_recv(struct gw_worker *w, struct gw_client *c)
{
    c->flags &= ~GW_CF_RECV_PAUSED;
    if (c->flags & (GW_CF_RECV_ARMED | GW_CF_IN_REARM_LIST))
        return;
    c->flags |= GW_CF_IN_REARM_LIST;
    c->rearm_next = w->rearm;
    w->rearm = c;
}

static void client_submit_close(struct gw_worker *w, struct gw_client *c)
{
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_close_direct(sqe, c->idx);
    sqe->user_data = gw__ud(GW_OP_CCLOSE, c->idx, c->gen);
    c->inflight++;
}

void gw__client_close(struct gw_worker *w, struct gw_client *c, const char *why)
{
    (void)why;
    if (c->state == GW_CS_CLOSING || c->state == GW_CS_FREE)
        return;
    if (c->state == GW_CS_ACTIVE || c->req.bound)
        gw__server_request_abort(w, c);
    c->state = GW_CS_CLOSING;
    gw_tw_del(&w->tw, &c->timer);
    if (c->flags & GW_CF_RECV_ARMED)
        gw__cancel(w, gw__ud(GW_OP_CRECV, c->idx, c->gen));
    if (c->flags & GW_CF_SEND_BUSY)
        gw__cancel(w, gw__ud(GW_OP_CSEND, c->idx, c->gen));
    if (!c->inflight)
        client_submit_close(w, c);
}

/* A closing client whose last op just completed gets its close now. */
static void client_maybe_close(struct gw_worker *w, struct gw_client *c)
{
    if (c->state == GW_CS_CLOSING && c->inflight == 0)
        client_submit_close(w, c);
}

static void client_free(struct gw_worker *w, struct gw_client *c)
{
    gw_obuf_clear(&c->out, &w->iopool);
    gw__client_input_free(w, c);
    gw__req_input_release(w, &c->req);
    free(c->req.sse);
    c->req.sse = NULL;
    free(c->req.xbuf);
    c->req.xbuf = NULL;
    gw_arena_destroy(&c->req.arena);
    c->state = GW_CS_FREE;
    c->gen++;
    w->live_clients--;
    gw__stat_sub(&w->shared.conns_active, 1);
}

void gw__client_flush(struct gw_worker *w, struct gw_client *c)
{
    /* A held response sends nothing until its usage record is written (net/usagelog.c). */
    if ((c->flags & (GW_CF_SEND_BUSY | GW_CF_USAGE_HOLD)) || c->state == GW_CS_CLOSING)
        return;
    if (c->out.len == 0) {
        if (c->flags & GW_CF_CLOSE_AFTER)
            gw__client_close(w, c, "response sent, connection: close");
        return;
    }
    int n = gw_obuf_iov(&c->out, c->siov, (int)GW_ARRAY_SIZE(c->siov));
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += c->siov[i].iov_len;
    memset(&c->smsg, 0, sizeof(c->smsg));
    c->smsg.msg_iov = c->siov;
    c->smsg.msg_iovlen = (size_t)n;
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_sendmsg(sqe, (int)c->idx, &c->smsg, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = gw__ud(GW_OP_CSEND, c->idx, c->gen);
    c->inflight++;
    c->flags |= GW_CF_SEND_BUSY;
    c->out_inflight = bytes;
    /* A client that stops reading must not hold its slot forever. */
    if (c->state == GW_CS_ACTIVE && w->snap)
        gw__client_arm_timer(w, c, w->snap->server.idle_timeout_ms);
}

/* Gives an input buffer back to where its kind says it came from. */
static void inbuf_put(struct gw_worker *w, char *buf, struct gw_ioblock *blk, unsigned kind)
{
    switch ((enum gw_in_kind)kind) {
    case GW_IN_SMALL:
        gw_bufpool_put(&w->inpool, buf);
        break;
    case GW_IN_BLOCK:
        gw_iopool_put(&w->iopool, blk);
        break;
    case GW_IN_MALLOC:
        free(buf);
        break;
    default:
        break;
    }
}

void gw__client_input_free(struct gw_worker *w, struct gw_client *c)
{
    inbuf_put(w, c->ibuf, c->iblock, c->ikind);
    c->ibuf = NULL;
    c->iblock = NULL;
    c->ikind = GW_IN_NONE;
    c->ilen = c->icap = 0;
}

void gw__req_input_release(struct gw_worker *w, struct gw_req *r)
{
    inbuf_put(w, r->in_buf, r->in_block, r->in_kind);
    r->in_buf = NULL;
    r->in_block = NULL;
    r->in_kind = GW_IN_NONE;
    /* The pieces may point into those bytes: no send may read them now. */
    r->up_iov = NULL;
    r->up_iovcnt = 0;
}

/*
 * Copies received bytes into the client's input buffer, moving it to a larger
 * home as it grows: a small pool buffer, then an I/O block, then malloc up to
 * the head and body limits. False when the cap or memory is exhausted.
 */
static bool client_take_input(struct gw_worker *w, struct gw_client *c, const char *data,
                              size_t len)
{
    const struct gw_server_config *sc = &w->snap->server;
    size_t cap = (size_t)sc->max_header_bytes + (size_t)sc->max_body_bytes + GW_RBUF_SIZE * 2;
    size_t need = c->ilen + len;
    if (need > c->icap) {
        if (need > cap)
            return false;
        char *nb = NULL;
        size_t ncap = 0;
        enum gw_in_kind kind = GW_IN_MALLOC;
        if (need <= GW_INSMALL_SIZE && c->ikind == GW_IN_NONE) {
            nb = gw_bufpool_get(&w->inpool);
            ncap = GW_INSMALL_SIZE;
            kind = GW_IN_SMALL;
        }
        struct gw_ioblock *blk = NULL;
        if (!nb && need <= GW_IOBLOCK_SIZE && c->ikind < GW_IN_BLOCK) {
            blk = gw_iopool_get(&w->iopool);
            if (blk) {
                nb = blk->data;
                ncap = GW_IOBLOCK_SIZE;
                kind = GW_IN_BLOCK;
            }
        }
        if (!nb) {
            ncap = c->icap > GW_IOBLOCK_SIZE ? c->icap * 2 : GW_IOBLOCK_SIZE * 2;
            while (ncap < need)
                ncap *= 2;
            if (ncap > cap)
                ncap = cap;
            nb = malloc(ncap);
            if (!nb)
                return false;
            kind = GW_IN_MALLOC;
        }
        if (c->ilen)
            memcpy(nb, c->ibuf, c->ilen);
        size_t keep = c->ilen;
        gw__client_input_free(w, c);
        c->ibuf = nb;
        c->iblock = blk;
        c->ikind = (unsigned char)kind;
        c->icap = ncap;
        c->ilen = keep;
    }
    memcpy(c->ibuf + c->ilen, data, len);
    c->ilen += len;
    return true;
}

bool gw__client_input_to_request(struct gw_worker *w, struct gw_client *c)
{
    struct gw_req *r = &c->req;
    GW_BUG_ON(r->in_buf || r->raw_end > c->ilen);
    size_t end = r->raw_end, extra = c->ilen - end;
    r->in_buf = c->ibuf;
    r->in_block = c->iblock;
    r->in_kind = c->ikind;
    c->ibuf = NULL;
    c->iblock = NULL;
    c->ikind = GW_IN_NONE;
    c->ilen = c->icap = 0;
    /* The request's bytes are no longer in ibuf: nothing to drop when it ends. */
    r->raw_end = 0;
    return extra == 0 || client_take_input(w, c, r->in_buf + end, extra);
}

void gw__client_refuse_rest(struct gw_client *c)
{
    c->req.keepalive = false;
    c->flags |= GW_CF_CLOSE_AFTER | GW_CF_DISCARD;
}

/* Input that arrives for a request answered before it was read: counted and dropped. */
static void discard_input(struct gw_worker *w, struct gw_client *c, size_t n)
{
    c->discarded = (uint32_t)GW_MIN((size_t)c->discarded + n, (size_t)UINT32_MAX);
    if (c->discarded > GW_LINGER_MAX_BYTES)
        gw__client_close(w, c, "discarded input over its cap");
}

void gw__client_linger(struct gw_worker *w, struct gw_client *c)
{
    GW_BUG_ON(c->state != GW_CS_READING && c->state != GW_CS_ACTIVE);
    if (c->flags & GW_CF_PEER_EOF) {
        gw__client_close(w, c, "error answered, client gone");
        return;
    }
    c->state = GW_CS_LINGER;
    c->action = "lingering after an early error (dropping input)";
    gw__client_input_free(w, c);
    struct io_uring_sqe *sqe = gw__sqe(w);
    io_uring_prep_shutdown(sqe, (int)c->idx, SHUT_WR);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe->user_data = gw__ud(GW_OP_CSHUTDOWN, c->idx, c->gen);
    c->inflight++;
    gw__client_arm_timer(w, c, GW_LINGER_MS);
    gw__client_want_recv(w, c);
}

static void on_client_recv(struct gw_worker *w, struct gw_client *c,
                           const struct io_uring_cqe *cqe)
{
    int res = cqe->res;
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) {
        /* The receive ended: account it before anything below may close. */
        c->inflight--;
        c->flags &= ~GW_CF_RECV_ARMED;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (res > 0 && c->state != GW_CS_CLOSING &&
            (c->state == GW_CS_LINGER || (c->flags & GW_CF_DISCARD))) {
            gw__stat_add(&w->shared.bytes_in, (uint64_t)res);
            buf_return(w->cbr, w->cbufs, GW_CBUF_COUNT, bid);
            discard_input(w, c, (size_t)res);
            goto done;
        }
        if (res > 0 && c->state != GW_CS_CLOSING) {
            gw__stat_add(&w->shared.bytes_in, (uint64_t)res);
            c->req.bytes_in += (uint64_t)res;
            if (!client_take_input(w, c, w->cbufs + (size_t)bid * GW_RBUF_SIZE, (size_t)res)) {
                buf_return(w->cbr, w->cbufs, GW_CBUF_COUNT, bid);
                if (c->state == GW_CS_READING && c->req.head_len == 0) {
                    gw__client_refuse_rest(c);
                    gw__resp_error(w, c, 431, "invalid_request_error",
                                   "request_header_fields_too_large", NULL,
                                   "The request head is larger than %u bytes.",
                                   w->snap->server.max_header_bytes);
                } else if (c->state == GW_CS_READING) {
                    gw__client_refuse_rest(c);
                    gw__resp_error(w, c, 413, "invalid_request_error", "request_too_large", NULL,
                                   "The request body is larger than %llu bytes.",
                                   (unsigned long long)w->snap->server.max_body_bytes);
                } else {
                    gw__client_close(w, c, "input over its cap while a request runs");
                }
                goto done;
            }
        }
        buf_return(w->cbr, w->cbufs, GW_CBUF_COUNT, bid);
    }
    if (c->state == GW_CS_CLOSING)
        goto done;
    if (res == -ENOBUFS)
        gw__stat_add(&w->shared.client_enobufs, 1);
    if (res > 0) {
        if (c->state == GW_CS_READING) {
            gw__server_process(w, c);
        } else if (c->ilen > (size_t)w->snap->server.max_header_bytes + c->req.raw_end) {
            /* Pipelined bytes pile up behind a running request: stop reading. */
            c->flags |= GW_CF_RECV_PAUSED;
            if (more)
                gw__cancel(w, gw__ud(GW_OP_CRECV, c->idx, c->gen));
        }
    } else if (res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED)) {
        c->flags |= GW_CF_PEER_EOF;
        c->action = res == 0 ? "client closed the connection" : "client connection error";
        gw__client_close(w, c, c->action);
    }
done:
    if (!more) {
        if (c->state != GW_CS_CLOSING && !(c->flags & (GW_CF_RECV_PAUSED | GW_CF_PEER_EOF)))
            gw__client_want_recv(w, c);
        client_maybe_close(w, c);
    }
}

static void on_client_send(struct gw_worker *w, struct gw_client *c, int res)
{
    c->inflight--;
    c->flags &= ~GW_CF_SEND_BUSY;
    if (c->state == GW_CS_CLOSING) {
        client_maybe_close(w, c);
        return;
    }
    if (res < 0) {
        c->action = "sending response";
        gw__client_close(w, c, "send failed");
        return;
    }
    gw_obuf_consume(&c->out, &w->iopool, (size_t)res);
    gw__stat_add(&w->shared.bytes_out, (uint64_t)res);
    c->req.bytes_out += (uint64_t)res;
    if (c->state == GW_CS_ACTIVE && c->req.up && c->out.len < GW_OUT_LOWAT)
        gw__up_resume(w, c);
    if (c->out.len) {
        gw__client_flush(w, c);
        return;
    }
    if (c->state == GW_CS_ACTIVE && (c->flags & GW_CF_RESP_DONE)) {
        gw__server_request_done(w, c);
        return;
    }
    if (c->state == GW_CS_ACTIVE && w->snap)
        gw_tw_del(&w->tw, &c->timer); /* nothing queued: only the upstream's timers run */
    if (c->flags & GW_CF_CLOSE_AFTER)
        gw__client_close(w, c, "response sent, connection: close");
}

/* ---- dispatch ---- */

static void on_accept(struct gw_worker *w, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        /* The multishot accept ended (an error such as a full file table, or
         * the drain's cancel): re-arm it at the end of this loop turn. */
        w->accept_armed = false;
        w->accept_rearm = !w->draining;
    }
    if (cqe->res >= 0) {
        if (w->draining) {
            struct io_uring_sqe *sqe = gw__sqe(w);
            io_uring_prep_close_direct(sqe, (unsigned)cqe->res);
            sqe->user_data = gw__ud(GW_OP_CANCEL, 0, 0);
            return;
        }
        client_open(w, (uint32_t)cqe->res);
    } else if (cqe->res != -ECANCELED && cqe->res != -EBADF && cqe->res != -EINVAL) {
        /* Count rather than log each one: a full table fails every accept. */
        if (w->accept_errors++ == 0)
            gw__log_err(w, "worker %u: accept: %s (%u connections open; the table holds %u)",
                        w->id, strerror(-cqe->res), w->live_clients, w->nclients);
    }
}

static void dispatch(struct gw_worker *w, const struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    enum gw_op op = (enum gw_op)(ud >> 56);
    uint32_t idx = (uint32_t)(ud >> 32) & 0xffffff;
    uint32_t gen = (uint32_t)ud;

    switch (op) {
    case GW_OP_ACCEPT:
        on_accept(w, cqe);
        return;
    case GW_OP_WAKE:
        if (!w->draining)
            arm_wake(w);
        return;
    case GW_OP_LOGWRITE:
        gw__log_on_cqe(w, idx ? &w->log_err : &w->log_out, cqe->res);
        return;
    case GW_OP_USAGEWRITE:
    case GW_OP_USAGECLOSE:
        gw__usage_on_cqe(w, op, cqe->res);
        return;
    case GW_OP_CANCEL:
        return;
    case GW_OP_CRECV:
    case GW_OP_CSEND:
    case GW_OP_CSHUTDOWN:
    case GW_OP_CCLOSE: {
        struct gw_client *c = idx < w->nclients ? &w->clients[idx] : NULL;
        if (!c || c->gen != gen || c->state == GW_CS_FREE) {
            /* A stale CQE: the closing rule makes this impossible; count it
             * and give back any buffer it carries. */
            GW_DEBUG_ASSERT(!"stale client CQE");
            gw__stat_add(&w->shared.stale_cqes, 1);
            if (cqe->flags & IORING_CQE_F_BUFFER)
                buf_return(w->cbr, w->cbufs, GW_CBUF_COUNT, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            return;
        }
        if (op == GW_OP_CRECV)
            on_client_recv(w, c, cqe);
        else if (op == GW_OP_CSEND)
            on_client_send(w, c, cqe->res);
        else if (op == GW_OP_CSHUTDOWN) {
            c->inflight--;
            client_maybe_close(w, c);
        } else
            client_free(w, c);
        return;
    }
    case GW_OP_UCONNECT:
    case GW_OP_URECV:
    case GW_OP_USEND:
    case GW_OP_UCLOSE: {
        struct gw_upconn *up = idx < w->nups ? &w->ups[idx] : NULL;
        if (!up || up->gen != gen || up->state == GW_US_FREE) {
            GW_DEBUG_ASSERT(!"stale upstream CQE");
            gw__stat_add(&w->shared.stale_cqes, 1);
            if (cqe->flags & IORING_CQE_F_BUFFER)
                buf_return(w->ubr, w->ubufs, GW_UBUF_COUNT, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            return;
        }
        gw__up_on_cqe(w, op, up, cqe);
        return;
    }
    case GW_OP_COUNT:
        break;
    }
    GW_BUG_ON(1);
}

void gw__ubuf_return(struct gw_worker *w, unsigned bid)
{
    buf_return(w->ubr, w->ubufs, GW_UBUF_COUNT, bid);
}

static void run_rearms(struct gw_worker *w)
{
    while (w->rearm) {
        struct gw_client *c = w->rearm;
        w->rearm = c->rearm_next;
        c->flags &= ~GW_CF_IN_REARM_LIST;
        if (c->state != GW_CS_CLOSING && c->state != GW_CS_FREE &&
            !(c->flags & GW_CF_RECV_PAUSED))
            client_arm_recv(w, c);
    }
}

static void begin_drain(struct gw_worker *w)
{
    w->draining = true;
    w->drain_deadline_ms = w->now_ms + (w->snap ? w->snap->server.drain_timeout_ms : 30000);
    if (w->listen_fd >= 0) {
        /* The armed multishot accept holds a reference to the socket, so close()
         * alone would leave it listening in the SO_REUSEPORT group, taking
         * connections nobody accepts. shutdown() stops a listener at once and
         * resets what waits in its queue; the accept then ends without F_MORE. */
        shutdown(w->listen_fd, SHUT_RDWR);
        gw__cancel(w, gw__ud(GW_OP_ACCEPT, 0, 0));
        io_uring_submit(&w->ring);
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    /* Idle keep-alive clients are closed now; busy ones finish their request. */
    for (uint32_t i = 0; i < w->nclients; i++) {
        struct gw_client *c = &w->clients[i];
        if (c->state == GW_CS_READING && c->ilen == 0)
            gw__client_close(w, c, "draining");
        else if (c->state != GW_CS_FREE)
            c->req.keepalive = false;
    }
    gw__up_close_all_idle(w);
}

/* Dispatches every ready CQE and advances the CQ once for the batch. */
static void reap(struct gw_worker *w)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&w->ring, head, cqe)
    {
        struct io_uring_cqe copy = *cqe; /* copy out before the handler runs [h2o] */
        dispatch(w, &copy);
        n++;
    }
    io_uring_cq_advance(&w->ring, n);
}

static void *worker_main(void *arg)
{
    struct gw_worker *w = arg;
    gw__self = w;
    struct gw_rcu *rcu = &w->rt->rcu;
    arm_accept(w);
    arm_wake(w);
    for (;;) {
        struct gw_config *snap = gw_rcu_current(rcu);
        if (snap != w->snap)
            w->snap = snap;
        gw_rcu_quiesce_on_worker(rcu, w->id, gw_gentrack_oldest(&w->gentrack, snap->generation));

        if (!w->draining && atomic_load_explicit(&w->rt->draining, memory_order_acquire))
            begin_drain(w);
        if (w->draining) {
            if (w->live_clients == 0)
                break;
            if (w->now_ms >= w->drain_deadline_ms) {
                for (uint32_t i = 0; i < w->nclients; i++)
                    gw__client_close(w, &w->clients[i], "drain timeout");
                w->drain_deadline_ms = UINT64_MAX;
            }
        }

        w->now_ms = now_ms();
        gw_tw_run(&w->tw, w->now_ms);
        run_rearms(w);
        if (w->accept_rearm && !w->draining && w->live_clients < w->nclients) {
            /* With the table full, wait until a connection closes: the pending
             * ones stay in the listen queue (or go to another worker). */
            w->accept_rearm = false;
            arm_accept(w);
        }
        gw__log_flush(w);
        gw__usage_flush(w);

        uint64_t wait = gw_tw_wait_ms(&w->tw, w->now_ms, WAIT_MAX_MS);
        struct __kernel_timespec ts = {.tv_sec = (long long)(wait / 1000),
                                       .tv_nsec = (long long)(wait % 1000) * 1000000};
        struct io_uring_cqe *cqe;
        int r = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) {
            fprintf(stderr, "worker %u: io_uring wait: %s\n", w->id, strerror(-r));
            abort();
        }
        w->now_ms = now_ms();
        reap(w);
        run_rearms(w);
    }
    /* Drained: wait (bounded) for the last log lines and closes to complete. */
    for (int i = 0; i < 200 && (w->log_out.busy || w->log_err.busy || w->log_out.fill_len ||
                                w->log_err.fill_len || !gw__usage_idle(w));
         i++) {
        gw__log_flush(w);
        gw__usage_flush(w);
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        reap(w);
    }
    gw__up_free_all(w);
    gw_rcu_quiesce_on_worker(rcu, w->id, UINT64_MAX);
    atomic_fetch_add_explicit(&w->rt->workers_exited, 1, memory_order_release);
    return NULL;
}

struct start_arg {
    struct gw_worker *w;
    _Atomic int status; /* 0 pending, 1 ready, <0 -errno */
};

static void *worker_thread(void *arg)
{
    struct start_arg *sa = arg;
    struct gw_worker *w = sa->w;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    /* Hold every snapshot until the first quiesce, then load one. */
    gw_rcu_online_on_worker(&w->rt->rcu, w->id);
    w->snap = gw_rcu_current(&w->rt->rcu);
    int r = worker_setup(w);
    /* pairs with the acquire load in gw_worker_start */
    atomic_store_explicit(&sa->status, r < 0 ? r : 1, memory_order_release);
    if (r < 0)
        return NULL;
    return worker_main(w);
}

int gw_worker_start(struct gw_worker *w, struct gw_runtime *rt, unsigned id, int cpu,
                    int listen_fd)
{
    w->id = id;
    w->cpu = cpu;
    w->rt = rt;
    w->listen_fd = listen_fd;
    w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->wake_fd < 0)
        return -errno;
    struct start_arg sa = {.w = w, .status = 0};
    int r = pthread_create(&w->thread, NULL, worker_thread, &sa);
    if (r)
        return -r;
    int st;
    while ((st = atomic_load_explicit(&sa.status, memory_order_acquire)) == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (st < 0) {
        pthread_join(w->thread, NULL);
        return st;
    }
    return 0;
}

void gw_worker_join(struct gw_worker *w)
{
    pthread_join(w->thread, NULL);
    io_uring_queue_exit(&w->ring);
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    close(w->wake_fd);
    gw__log_destroy(&w->log_out);
    gw__log_destroy(&w->log_err);
    gw__usage_destroy(w);
    gw_spend_ledger_destroy(&w->ledger);
    gw_iopool_destroy(&w->iopool);
    gw_bufpool_destroy(&w->inpool);
    free(w->clients);
    free(w->ups);
    free(w->cbufs);
    free(w->ubufs);
}
