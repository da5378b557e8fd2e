/*
 * tests/integration/harness_hostile.c — the scripted hostile upstream. See
 * harness_hostile.h for the contracts.
 *
 * One acceptor thread polls the listening socket; each accepted connection
 * gets a thread that runs the test's handler over blocking-with-deadline
 * helpers. All shared state (the record lists, the flags, the descriptors
 * that hs_stop shuts down) is under one mutex; a connection's raw bytes and
 * its requests' body counters are written by its own thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>
#include <criterion/criterion.h>

#include "net/tls.h"

#include "harness.h"
#include "harness_hostile.h"

#define HEAD_MAX (64 * 1024)
#define READ_CHUNK (64 * 1024)
#define SEND_BLOCK_MS 10000

struct hs_rec {
    struct hs_conn conn;
    char *raw; /* owns: every byte received */
    size_t len;
    size_t cap;
    pthread_t thr;
    bool started; /* thr is joinable */
};

struct hs_server {
    struct hs_opts o;
    int lfd;
    int port;
    pthread_t acceptor;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct hs_rec **conns; /* owns each */
    size_t nconns;
    size_t conns_cap;
    struct hs_req **reqs; /* owns each */
    size_t nreqs;
    size_t reqs_cap;
    long flags[HS_NFLAGS];
    struct gw_tls_creds *creds; /* owns, when tls */
};

/* ---- small helpers ---- */

static void grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *np = realloc(*p, n * elem);
    cr_assert(np != NULL, "out of memory");
    *p = np;
    *cap = n;
}

static struct hs_rec *rec_of(struct hs_conn *c)
{
    return c->_rec;
}

/* ---- server ---- */

static void *conn_main(void *arg)
{
    struct hs_rec *rec = arg;
    struct hs_conn *c = &rec->conn;
    struct hs_server *s = c->srv;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->o.tls) {
        c->_tls = malloc(sizeof(*c->_tls));
        if (!c->_tls || gw_tls_server_start(c->_tls, s->creds) != 0) {
            hs_close(c);
            return NULL;
        }
    }
    s->o.handler(c, s->o.arg);
    hs_close(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct hs_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
        int pr = poll(&pfd, 1, 50);
        if (pr <= 0)
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct hs_rec *rec = calloc(1, sizeof(*rec));
        if (!rec) {
            close(fd);
            continue;
        }
        rec->conn.srv = s;
        rec->conn.fd = fd;
        rec->conn._rec = rec;
        pthread_mutex_lock(&s->mu);
        grow((void **)&s->conns, &s->conns_cap, s->nconns + 1, sizeof(*s->conns));
        rec->conn.index = (unsigned)s->nconns;
        s->conns[s->nconns++] = rec;
        rec->started = pthread_create(&rec->thr, NULL, conn_main, rec) == 0;
        if (!rec->started) {
            close(fd);
            rec->conn.fd = -1;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

struct hs_server *hs_start(const struct hs_opts *o)
{
    cr_assert(o && o->handler, "hs_start needs a handler");
    struct hs_server *s = calloc(1, sizeof(*s));
    cr_assert(s != NULL);
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (o->tls) {
        char cert[4096], key[4096], err[256];
        snprintf(cert, sizeof(cert), "%s/tests/data/tls/server.pem", GW_SOURCE_DIR);
        snprintf(key, sizeof(key), "%s/tests/data/tls/server.key", GW_SOURCE_DIR);
        s->creds = gw_tls_creds_load(cert, key, err, sizeof(err));
        cr_assert(s->creds != NULL, "loading the test certificate: %s", err);
    }
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s->lfd >= 0, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (o->rcvbuf > 0) {
        /* Set before listen so accepted sockets inherit it (and skip autotuning). */
        cr_assert(setsockopt(s->lfd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof(o->rcvbuf)) == 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
    cr_assert(listen(s->lfd, 64) == 0, "listen: %s", strerror(errno));
    socklen_t al = sizeof(a);
    cr_assert(getsockname(s->lfd, (struct sockaddr *)&a, &al) == 0);
    s->port = ntohs(a.sin_port);
    cr_assert(pthread_create(&s->acceptor, NULL, accept_main, s) == 0);
    return s;
}

int hs_port(const struct hs_server *s)
{
    return s->port;
}

void hs_stop(struct hs_server *s)
{
    if (!s || s->lfd < 0)
        return;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    s->lfd = -1;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->conn.fd >= 0)
            shutdown(s->conns[i]->conn.fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    /* No new connection can appear now: the acceptor is gone. */
    for (size_t i = 0; i < s->nconns; i++) {
        if (s->conns[i]->started)
            pthread_join(s->conns[i]->thr, NULL);
        s->conns[i]->started = false;
    }
}

void hs_free(struct hs_server *s)
{
    if (!s)
        return;
    hs_stop(s);
    for (size_t i = 0; i < s->nconns; i++) {
        free(s->conns[i]->conn._tls);
        free(s->conns[i]->raw);
        free(s->conns[i]);
    }
    free(s->conns);
    for (size_t i = 0; i < s->nreqs; i++)
        free(s->reqs[i]);
    free(s->reqs);
    gw_tls_creds_free(s->creds);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- records ---- */

size_t hs_nconns(struct hs_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const char *hs_conn_raw(struct hs_server *s, size_t i, size_t *len)
{
    pthread_mutex_lock(&s->mu);
    struct hs_rec *rec = i < s->nconns ? s->conns[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    cr_assert(rec != NULL, "no connection %zu", i);
    *len = rec->len;
    return rec->raw ? rec->raw : "";
}

size_t hs_nreqs(struct hs_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct hs_req *hs_req_at(struct hs_server *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const struct hs_req *r = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    cr_assert(r != NULL, "no request %zu", i);
    return r;
}

const char *hs_req_head(struct hs_server *s, const struct hs_req *r)
{
    pthread_mutex_lock(&s->mu);
    struct hs_rec *rec = s->conns[r->conn];
    pthread_mutex_unlock(&s->mu);
    return rec->raw + r->head_off;
}

const char *hs_req_body(struct hs_server *s, const struct hs_req *r)
{
    return hs_req_head(s, r) + r->head_len;
}

bool hs_saw(struct hs_server *s, const void *needle, size_t len)
{
    size_t n = hs_nconns(s);
    for (size_t i = 0; i < n; i++) {
        size_t rl;
        const char *raw = hs_conn_raw(s, i, &rl);
        if (rl >= len && memmem(raw, rl, needle, len))
            return true;
    }
    return false;
}

/* ---- flags ---- */

void hs_flag_set(struct hs_server *s, unsigned i, long v)
{
    cr_assert(i < HS_NFLAGS);
    pthread_mutex_lock(&s->mu);
    s->flags[i] = v;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

long hs_flag_add(struct hs_server *s, unsigned i, long d)
{
    cr_assert(i < HS_NFLAGS);
    pthread_mutex_lock(&s->mu);
    long v = s->flags[i] += d;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return v;
}

long hs_flag_get(struct hs_server *s, unsigned i)
{
    cr_assert(i < HS_NFLAGS);
    pthread_mutex_lock(&s->mu);
    long v = s->flags[i];
    pthread_mutex_unlock(&s->mu);
    return v;
}

bool hs_flag_wait(struct hs_server *s, unsigned i, long v, int timeout_ms)
{
    cr_assert(i < HS_NFLAGS);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (s->flags[i] < v && !atomic_load(&s->stopping) && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    bool ok = s->flags[i] >= v;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool hs_stopping(struct hs_server *s)
{
    return atomic_load(&s->stopping);
}

/* ---- handler I/O ---- */

static void set_timeo(int fd, int opt, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1000;
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Receives more bytes into the record before deadline: >0 bytes, 0 at EOF, -errno. */
static long conn_fill(struct hs_conn *c, double deadline)
{
    struct hs_rec *rec = rec_of(c);
    if (c->eof || c->fd < 0)
        return 0;
    grow((void **)&rec->raw, &rec->cap, rec->len + READ_CHUNK + 1, 1);
    char *dst = rec->raw + rec->len;
    if (c->_tls) {
        int ms = h_ms_left(deadline);
        if (ms == 0)
            return -ETIMEDOUT;
        set_timeo(c->fd, SO_RCVTIMEO, ms);
        long n = gw_tls_blocking_read(gw_tls_server_engine(c->_tls), c->fd, dst, READ_CHUNK);
        if (n > 0) {
            rec->len += (size_t)n;
            return n;
        }
        if (n < 0 && h_ms_left(deadline) == 0)
            return -ETIMEDOUT;
        c->eof = true;
        return n == 0 ? 0 : -ECONNRESET;
    }
    long n = h_recv_before(c->fd, dst, READ_CHUNK, deadline);
    if (n == 0)
        c->eof = true;
    if (n > 0)
        rec->len += (size_t)n;
    return n;
}

/* Counts buffered bytes past the connection's read point into r's body. */
static void take_body(struct hs_conn *c, struct hs_req *r)
{
    struct hs_rec *rec = rec_of(c);
    uint64_t want = r->content_length - r->body_len;
    size_t avail = rec->len - c->_off;
    size_t take = (uint64_t)avail < want ? avail : (size_t)want;
    r->body_len += take;
    c->_off += take;
    r->complete = r->body_len == r->content_length;
}

static uint64_t parse_content_length(const char *head, size_t len)
{
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            break;
        static const char name[] = "content-length:";
        if ((size_t)(eol - p) > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0)
            return strtoull(p + sizeof(name) - 1, NULL, 10);
        p = eol + 2;
    }
    return 0;
}

int hs_read_head(struct hs_conn *c, const struct hs_req **out, int timeout_ms)
{
    struct hs_rec *rec = rec_of(c);
    struct hs_server *s = c->srv;
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        size_t have = rec->len - c->_off;
        const char *start = rec->raw ? rec->raw + c->_off : NULL;
        const char *end = have >= 4 ? memmem(start, have, "\r\n\r\n", 4) : NULL;
        if (end) {
            struct hs_req *r = calloc(1, sizeof(*r));
            cr_assert(r != NULL);
            r->conn = c->index;
            r->seq = c->nreq++;
            r->head_off = c->_off;
            r->head_len = (size_t)(end - start) + 4;
            r->content_length = parse_content_length(start, r->head_len);
            c->_off += r->head_len;
            take_body(c, r);
            pthread_mutex_lock(&s->mu);
            grow((void **)&s->reqs, &s->reqs_cap, s->nreqs + 1, sizeof(*s->reqs));
            s->reqs[s->nreqs++] = r;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            *out = r;
            return 1;
        }
        if (have > HEAD_MAX)
            return -EPROTO;
        long n = conn_fill(c, deadline);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return have == 0 ? 0 : -ECONNRESET;
    }
}

long hs_read_body(struct hs_conn *c, const struct hs_req *cr, uint64_t upto, int timeout_ms)
{
    struct hs_req *r = (struct hs_req *)cr; /* ours: the handler's own request */
    double deadline = h_now_ms() + timeout_ms;
    if (upto > r->content_length)
        upto = r->content_length;
    for (;;) {
        take_body(c, r);
        if (r->body_len >= upto)
            return (long)r->body_len;
        long n = conn_fill(c, deadline);
        if (n < 0)
            return n;
        if (n == 0)
            return -ECONNRESET;
    }
}

int hs_read_request(struct hs_conn *c, const struct hs_req **out, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    int k = hs_read_head(c, out, timeout_ms);
    if (k <= 0)
        return k;
    int ms = h_ms_left(deadline);
    long n = hs_read_body(c, *out, (*out)->content_length, ms ? ms : 1);
    return n < 0 ? (int)n : 1;
}

const char *hs_body(struct hs_conn *c, const struct hs_req *r)
{
    return rec_of(c)->raw + r->head_off + r->head_len;
}

int hs_send(struct hs_conn *c, const void *p, size_t n)
{
    if (c->fd < 0)
        return -EBADF;
    if (c->_tls) {
        set_timeo(c->fd, SO_SNDTIMEO, SEND_BLOCK_MS);
        set_timeo(c->fd, SO_RCVTIMEO, SEND_BLOCK_MS);
        long k = gw_tls_blocking_write(gw_tls_server_engine(c->_tls), c->fd, p, n);
        return k == (long)n ? 0 : -ECONNRESET;
    }
    const char *q = p;
    while (n > 0) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        int pr = poll(&pfd, 1, SEND_BLOCK_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return -ETIMEDOUT;
        ssize_t w = send(c->fd, q, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return -errno;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int hs_send_str(struct hs_conn *c, const char *s)
{
    return hs_send(c, s, strlen(s));
}

int hs_send_chat(struct hs_conn *c, const char *content)
{
    char body[2048], msg[2560];
    int bl = snprintf(body, sizeof(body),
                      "{\"id\":\"chatcmpl-hostile-%u-%u\",\"object\":\"chat.completion\","
                      "\"created\":1700000000,\"model\":\"hostile-upstream\",\"choices\":[{"
                      "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
                      "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,"
                      "\"completion_tokens\":1,\"total_tokens\":2}}",
                      c->index, c->nreq, content);
    cr_assert(bl > 0 && (size_t)bl < sizeof(body));
    int ml = snprintf(msg, sizeof(msg),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n%s",
                      bl, body);
    cr_assert(ml > 0 && (size_t)ml < sizeof(msg));
    return hs_send(c, msg, (size_t)ml);
}

static void conn_close(struct hs_conn *c, bool rst)
{
    struct hs_server *s = c->srv;
    pthread_mutex_lock(&s->mu);
    if (c->fd >= 0) {
        if (rst) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(c->fd);
        c->fd = -1;
    }
    pthread_mutex_unlock(&s->mu);
}

void hs_reset(struct hs_conn *c)
{
    conn_close(c, true);
}

void hs_close(struct hs_conn *c)
{
    conn_close(c, false);
}

bool hs_wait_peer_close(struct hs_conn *c, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        long n = conn_fill(c, deadline);
        if (n == 0 || (n < 0 && n != -ETIMEDOUT))
            return true;
        if (n < 0)
            return false;
        /* Bytes after the last request stay recorded; the read point skips them. */
        c->_off = rec_of(c)->len;
    }
}
