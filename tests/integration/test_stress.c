/*
 * tests/integration/test_stress.c — many clients, a hostile upstream, and one
 * invariant checked for every request the upstream receives: it is exactly
 * the request one client sent (the "model" value rewritten, usage asked for on
 * streams), it carries the provider's key, and it carries no client's key.
 *
 * Why this exists: the gateway lends a client's input buffer to the upstream
 * request (the body iovecs point into it), to a retry that resends it, and to
 * a TLS engine that copies from it. A buffer that grows, moves or is freed
 * while lent sends stale memory upstream; with the worker's pools that memory
 * soon holds another client's request. The traffic is shaped to lend buffers
 * in each of those ways and to disturb them meanwhile:
 *  - clients (one key each) split heads and bodies at random offsets, pipeline
 *    two or three requests per write, pipeline an unfinished next request while
 *    the current one is upstream (a head padded with KiBs and no end, or a
 *    body cut short), abort mid-request and mid-response (FIN or RST), and
 *    send bodies from 100 B to 1 MiB, many sized so that head + body fill
 *    exactly 4, 16, 32 or 64 KiB (the input buffer's size classes: one more
 *    pipelined byte moves it);
 *  - the upstream (a thread here, plain or TLS) reads each request slowly
 *    through a small receive buffer and, per request, answers normally
 *    (Content-Length, chunked or close-delimited, an interim 100 first at
 *    times), streams SSE, stalls, answers early before reading the body, closes
 *    or resets after reading part of the request (on a pooled connection that
 *    makes the gateway retry), cuts its answer short, answers 429/500, or
 *    closes a connection while it idles in the pool.
 * Each request's x-request-id names its client, sequence number, body size,
 * stream flag and the seed of its padding, so the upstream regenerates the
 * exact bytes the client sent and compares every byte it reads, and the
 * client checks that its answer echoes its own id and nobody else's.
 *
 * Under ASan conduit runs with freed memory filled (ASAN_OPTIONS
 * max_free_fill_size, free_fill_byte): a send that reads a freed buffer in the
 * kernel, which ASan cannot see, still shows up here as a mismatch.
 *
 * The seed is printed; GW_STRESS_SEED=<n> replays the same random choices
 * (thread interleaving still differs), GW_STRESS_MS=<ms> lengthens the
 * traffic phase when hunting. GW_TEST_UPSTREAM_TLS=1 (see harness.h) puts
 * the upstream behind TLS.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "net/tls.h"

#include "harness.h"

#define NCLIENTS 20
#define KEY_PREFIX "sk-stress-"
#define TRAFFIC_MS 6000         /* per test; GW_STRESS_MS overrides */
#define MAX_REQS_PER_CLIENT 400 /* bound on requests per client and test */
#define RESP_TIMEOUT_MS 10000   /* an answer later than this is a hang */
#define UP_MAX_CONNS 512        /* upstream connections tracked at once */
#define UP_RCVBUF 16384         /* small, so the gateway's sends stay in flight */
#define UP_IO_TIMEOUT_S 8       /* no upstream thread blocks longer */
#define FREE_FILL_BYTE 0xbd     /* ASan fills freed memory with it; never in our traffic */

#define GW_STRESS_ARRAY(a) (sizeof(a) / sizeof((a)[0]))

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- random numbers (splitmix64) ---- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

static uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

static bool rng_pct(struct rng *r, unsigned pct)
{
    return rng_below(r, 100) < pct;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- failures, gathered from every thread and asserted by the test ---- */

static struct {
    pthread_mutex_t mu;
    unsigned n;
    char text[8192];
    size_t len;
} F = {.mu = PTHREAD_MUTEX_INITIALIZER};

__attribute__((format(printf, 1, 2))) static void note_failure(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&F.mu);
    F.n++;
    if (F.n <= 12 && F.len < sizeof(F.text) - 1) {
        int k = snprintf(F.text + F.len, sizeof(F.text) - F.len, "  - %s\n", line);
        if (k > 0)
            F.len = min_sz(F.len + (size_t)k, sizeof(F.text) - 1);
    }
    pthread_mutex_unlock(&F.mu);
}

/* Printable excerpt of n bytes at p for failure messages (non-ASCII as \xNN). */
static void excerpt(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            out[o++] = (char)ch;
        } else {
            int k = snprintf(out + o, cap - o, "\\x%02x", ch);
            o += k > 0 ? (size_t)k : 0;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* ---- what a client sends: every byte derives from the request id ---- */

/*
 * "st-CC-SSSSSS-LLLLLLL-F-XXXXXXXXXXXXXXXX": client, sequence number, body
 * length, 's' (stream) or 'n', padding seed. Fixed width: 39 bytes.
 */
#define RID_LEN 39

struct reqspec {
    unsigned cid;
    unsigned seq;
    size_t body_len;
    bool stream;
    uint64_t seed;
};

static void spec_rid(const struct reqspec *s, char out[RID_LEN + 1])
{
    snprintf(out, RID_LEN + 1, "st-%02u-%06u-%07zu-%c-%016" PRIx64, s->cid % 100, s->seq % 1000000,
             s->body_len, s->stream ? 's' : 'n', s->seed);
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static bool spec_parse(const char *p, size_t n, struct reqspec *s)
{
    if (n != RID_LEN || memcmp(p, "st-", 3) != 0 || p[5] != '-' || p[12] != '-' || p[20] != '-' ||
        p[22] != '-' || !all_digits(p + 3, 2) || !all_digits(p + 6, 6) || !all_digits(p + 13, 7) ||
        (p[21] != 's' && p[21] != 'n'))
        return false;
    char tmp[RID_LEN + 1];
    memcpy(tmp, p, RID_LEN);
    tmp[RID_LEN] = '\0';
    char *end;
    s->cid = (unsigned)strtoul(tmp + 3, NULL, 10);
    s->seq = (unsigned)strtoul(tmp + 6, NULL, 10);
    s->body_len = (size_t)strtoull(tmp + 13, NULL, 10);
    s->stream = p[21] == 's';
    s->seed = strtoull(tmp + 23, &end, 16);
    char check[RID_LEN + 1];
    spec_rid(s, check);
    return *end == '\0' && memcmp(check, p, RID_LEN) == 0;
}

#define BODY_HEAD "{\"model\":\"" H_MODEL "\",\"messages\":[{\"role\":\"user\",\"content\":\""
#define BODY_TAIL_STREAM "\"}],\"stream\":true}"
#define BODY_TAIL_PLAIN "\"}],\"stream\":false}"
#define BODY_MIN (sizeof(BODY_HEAD) - 1 + RID_LEN + 1 + sizeof(BODY_TAIL_PLAIN) - 1)
/* What the gateway puts upstream instead of the client's {"model":"..." */
#define CLIENT_MODEL_MEMBER "{\"model\":\"" H_MODEL "\""
#define UP_MODEL_MEMBER "\"model\":\"" H_UPSTREAM_MODEL "\""
#define USAGE_MEMBER "\"stream_options\":{\"include_usage\":true},"

/*
 * The client's JSON body for s, body_len bytes: the id, a space, then padding
 * from the seed (JSON-safe characters) inside the message content.
 */
static char *spec_body(const struct reqspec *s)
{
    const char *tail = s->stream ? BODY_TAIL_STREAM : BODY_TAIL_PLAIN;
    size_t hl = sizeof(BODY_HEAD) - 1, tl = strlen(tail);
    cr_assert(s->body_len >= hl + RID_LEN + 1 + tl);
    char *b = malloc(s->body_len + 1);
    cr_assert(b != NULL);
    char rid[RID_LEN + 1];
    spec_rid(s, rid);
    memcpy(b, BODY_HEAD, hl);
    memcpy(b + hl, rid, RID_LEN);
    b[hl + RID_LEN] = ' ';
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 .,:;-_+=!?()<>";
    struct rng r = {s->seed};
    size_t pad_end = s->body_len - tl;
    uint64_t bits = 0;
    for (size_t i = hl + RID_LEN + 1, k = 0; i < pad_end; i++, k++) {
        if (k % 8 == 0)
            bits = rng_next(&r);
        b[i] = alphabet[(bits >> (8 * (k % 8))) % (sizeof(alphabet) - 1)];
    }
    memcpy(b + pad_end, tail, tl);
    b[s->body_len] = '\0';
    return b;
}

/* The body the upstream must receive for s (malloc'd, *len set). */
static char *spec_upstream_body(const struct reqspec *s, size_t *len)
{
    char *cb = spec_body(s);
    size_t skip = sizeof(CLIENT_MODEL_MEMBER) - 1;
    size_t pre = 1 + (s->stream ? sizeof(USAGE_MEMBER) - 1 : 0) + sizeof(UP_MODEL_MEMBER) - 1;
    size_t n = pre + s->body_len - skip;
    char *u = malloc(n + 1);
    cr_assert(u != NULL);
    size_t o = 0;
    u[o++] = '{';
    if (s->stream) {
        memcpy(u + o, USAGE_MEMBER, sizeof(USAGE_MEMBER) - 1);
        o += sizeof(USAGE_MEMBER) - 1;
    }
    memcpy(u + o, UP_MODEL_MEMBER, sizeof(UP_MODEL_MEMBER) - 1);
    o += sizeof(UP_MODEL_MEMBER) - 1;
    memcpy(u + o, cb + skip, s->body_len - skip);
    u[n] = '\0';
    free(cb);
    *len = n;
    return u;
}

/* ---- the hostile upstream ---- */

static struct upsrv {
    int lfd;
    int port;
    bool tls;
    struct gw_tls_creds *creds; /* owns, when tls */
    uint64_t seed;
    pthread_t accept_thr;
    bool accept_started;
    atomic_bool stop;
    atomic_bool calm; /* answer every request normally (the final check) */
    atomic_int live;  /* connection threads running */
    atomic_ulong nconns, nreqs, nwhole, npart;
    pthread_mutex_t mu;
    int fds[UP_MAX_CONNS]; /* connection sockets, -1 = free slot; for shutdown */
} U = {.lfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

struct upconn {
    int fd;
    int slot;
    struct gw_tls_server *tls; /* owns, NULL for plain */
    struct rng rng;
    char *buf; /* owns: bytes received and not consumed */
    size_t len, cap;
    unsigned served; /* requests answered on this connection */
};

enum up_action {
    UA_NORMAL = 0, /* read the whole body, answer */
    UA_STALL,      /* as normal, with pauses while reading and answering */
    UA_CLOSE,      /* read part of the request, close (FIN) without answering */
    UA_RST,        /* read part of the request, reset (SO_LINGER 0) */
    UA_EARLY,      /* answer (part of) the response before reading the body */
    UA_ERROR,      /* read the body, answer 429 or 500 */
    UA_CUT,        /* read the body, answer part of the response, then close or reset */
    UA_COUNT
};

static long uc_recv(struct upconn *u, char *dst, size_t cap)
{
    if (u->tls)
        return gw_tls_blocking_read(gw_tls_server_engine(u->tls), u->fd, dst, cap);
    for (;;) {
        ssize_t r = recv(u->fd, dst, cap, 0);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -1 : (long)r;
    }
}

/* Receives more bytes into u->buf. >0 bytes, 0 at EOF (or TLS close), -1 on error/timeout. */
static long uc_fill(struct upconn *u)
{
    if (atomic_load(&U.stop))
        return -1;
    if (u->cap - u->len < 16384) {
        size_t ncap = u->cap ? u->cap * 2 : 65536;
        char *nb = realloc(u->buf, ncap);
        cr_assert(nb != NULL);
        u->buf = nb;
        u->cap = ncap;
    }
    long r = uc_recv(u, u->buf + u->len, u->cap - u->len);
    if (r > 0)
        u->len += (size_t)r;
    return r;
}

static void uc_consume(struct upconn *u, size_t n)
{
    memmove(u->buf, u->buf + n, u->len - n);
    u->len -= n;
}

static int uc_send(struct upconn *u, const char *p, size_t n)
{
    if (!n)
        return 0;
    if (u->tls)
        return gw_tls_blocking_write(gw_tls_server_engine(u->tls), u->fd, p, n) == (long)n ? 0 : -1;
    while (n) {
        ssize_t w = send(u->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends in 1-4 pieces with short pauses, so the gateway sees the answer split anywhere. */
static int uc_send_split(struct upconn *u, const char *p, size_t n, bool slow)
{
    unsigned pieces = (unsigned)rng_range(&u->rng, 1, 4);
    size_t off = 0;
    for (unsigned i = 0; i < pieces && off < n; i++) {
        size_t k = i + 1 == pieces ? n - off : rng_range(&u->rng, 1, n - off);
        if (uc_send(u, p + off, k) < 0)
            return -1;
        off += k;
        if (off < n && (slow || rng_pct(&u->rng, 30)))
            sleep_us((long)rng_range(&u->rng, 100, slow ? 60000 : 3000));
    }
    return uc_send(u, p + off, n - off);
}

static void uc_reset(struct upconn *u)
{
    struct linger l = {1, 0};
    setsockopt(u->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* One request as the upstream reads it. */
struct upreq {
    char rid[RID_LEN + 1];
    struct reqspec spec;
    char *expect; /* owns: the body it must be */
    size_t expect_len;
    size_t got; /* body bytes read and compared */
    bool bad;   /* a mismatch was reported: stop comparing, close */
};

/*
 * Reads body bytes until `upto` of them were read (or EOF), comparing each
 * with the expected body. False on EOF/error or a mismatch.
 */
static bool body_take(struct upconn *u, struct upreq *q, size_t upto)
{
    while (q->got < upto) {
        if (u->len == 0 && uc_fill(u) <= 0)
            return false;
        size_t k = min_sz(u->len, upto - q->got);
        if (memcmp(u->buf, q->expect + q->got, k) != 0) {
            size_t i = 0;
            while (u->buf[i] == q->expect[q->got + i])
                i++;
            char want[256], got[256];
            excerpt(want, sizeof(want), q->expect + q->got + i,
                    min_sz((size_t)40, q->expect_len - q->got - i));
            excerpt(got, sizeof(got), u->buf + i, min_sz((size_t)40, k - i));
            note_failure("upstream: request %s: body byte %zu of %zu differs from what its client "
                         "sent: want \"%s\", got \"%s\"",
                         q->rid, q->got + i, q->expect_len, want, got);
            q->bad = true;
            return false;
        }
        if (memmem(u->buf, k, KEY_PREFIX, sizeof(KEY_PREFIX) - 1)) {
            note_failure("upstream: request %s: a client key in the body", q->rid);
            q->bad = true;
            return false;
        }
        uc_consume(u, k);
        q->got += k;
    }
    return true;
}

static const char *head_value(const char *head, size_t hlen, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = head, *end = head + hlen;
    const char *found = NULL;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            if (found)
                return NULL; /* twice */
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            found = v;
            *vlen = (size_t)(eol - v);
        }
        p = eol + 2;
    }
    return found;
}

/* Reads and checks one request head. False when the connection should end. */
static bool read_head(struct upconn *u, struct upreq *q)
{
    const char *eoh;
    while (!(eoh = u->len ? memmem(u->buf, u->len, "\r\n\r\n", 4) : NULL)) {
        if (u->len > 65536) {
            note_failure("upstream: a request head over 64 KiB");
            return false;
        }
        if (uc_fill(u) <= 0)
            return false; /* the gateway closed a pooled connection: fine */
    }
    size_t hlen = (size_t)(eoh - u->buf) + 4;
    const char *h = u->buf;
    char ex[256];
    atomic_fetch_add(&U.nreqs, 1);
    static const char line[] = "POST /v1/chat/completions HTTP/1.1\r\n";
    size_t vl = 0;
    const char *rid = head_value(h, hlen, "x-request-id", &vl);
    if (!rid || !spec_parse(rid, vl, &q->spec)) {
        excerpt(ex, sizeof(ex), h, min_sz(hlen, (size_t)200));
        note_failure("upstream: a request without one valid x-request-id: %s", ex);
        return false;
    }
    memcpy(q->rid, rid, RID_LEN);
    q->rid[RID_LEN] = '\0';
    if (hlen < sizeof(line) - 1 || memcmp(h, line, sizeof(line) - 1) != 0) {
        excerpt(ex, sizeof(ex), h, min_sz(hlen, (size_t)60));
        note_failure("upstream: request %s: request line %s", q->rid, ex);
        return false;
    }
    if (memmem(h, hlen, KEY_PREFIX, sizeof(KEY_PREFIX) - 1)) {
        excerpt(ex, sizeof(ex), h, min_sz(hlen, (size_t)240));
        note_failure("upstream: request %s: a client key in the head: %s", q->rid, ex);
        return false;
    }
    const char *auth = head_value(h, hlen, "authorization", &vl);
    static const char want_auth[] = "Bearer " H_PROVIDER_KEY;
    if (!auth || vl != sizeof(want_auth) - 1 || memcmp(auth, want_auth, vl) != 0) {
        note_failure("upstream: request %s: not exactly one authorization: Bearer %s", q->rid,
                     H_PROVIDER_KEY);
        return false;
    }
    q->expect = spec_upstream_body(&q->spec, &q->expect_len);
    const char *cl = head_value(h, hlen, "content-length", &vl);
    char clbuf[24];
    snprintf(clbuf, sizeof(clbuf), "%zu", q->expect_len);
    if (!cl || vl != strlen(clbuf) || memcmp(cl, clbuf, vl) != 0) {
        excerpt(ex, sizeof(ex), cl ? cl : "(none)", cl ? vl : 6);
        note_failure("upstream: request %s: content-length %s, want %s", q->rid, ex, clbuf);
        return false;
    }
    if (head_value(h, hlen, "transfer-encoding", &vl)) {
        note_failure("upstream: request %s: transfer-encoding on a request we expect sized",
                     q->rid);
        return false;
    }
    uc_consume(u, hlen);
    return true;
}

/* The answer for q: head and body, as separate strings (malloc'd). */
struct answer {
    char head[512];
    size_t head_len;
    char *body; /* owns: the body bytes on the wire (chunk framing included) */
    size_t body_len;
    bool close; /* close-delimited or Connection: close */
};

static void answer_free(struct answer *a)
{
    free(a->body);
    a->body = NULL;
}

/* Appends to a growing malloc'd buffer. */
static void sb_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < *len + n + 1)
            nc *= 2;
        char *nb = realloc(*b, nc);
        cr_assert(nb != NULL);
        *b = nb;
        *cap = nc;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    (*b)[*len] = '\0';
}

/* Frames a body: chunked in random pieces when chunked, else as is. */
static void frame_body(struct upconn *u, struct answer *a, const char *p, size_t n, bool chunked)
{
    size_t cap = 0;
    a->body = NULL;
    a->body_len = 0;
    if (!chunked) {
        sb_add(&a->body, &a->body_len, &cap, p, n);
        return;
    }
    size_t off = 0;
    while (off < n) {
        size_t k = min_sz(n - off, (size_t)rng_range(&u->rng, 1, 20000));
        char hdr[32];
        int hl = snprintf(hdr, sizeof(hdr), rng_pct(&u->rng, 20) ? "%zX\r\n" : "%zx\r\n", k);
        sb_add(&a->body, &a->body_len, &cap, hdr, (size_t)hl);
        sb_add(&a->body, &a->body_len, &cap, p + off, k);
        sb_add(&a->body, &a->body_len, &cap, "\r\n", 2);
        off += k;
    }
    sb_add(&a->body, &a->body_len, &cap, "0\r\n\r\n", 5);
}

/*
 * The answer to q with the given status, in a random framing. A cut answer
 * must not be close-delimited: the gateway (and anyone) would take the cut
 * for the end.
 */
static void make_answer(struct upconn *u, const struct upreq *q, int status, bool may_cut,
                        struct answer *a)
{
    char *body = NULL;
    size_t blen = 0, bcap = 0;
    const char *ctype = "application/json";
    if (status != 200) {
        char e[512];
        int n = snprintf(e, sizeof(e),
                         "{\"error\":{\"message\":\"%s: try later\",\"type\":\"rate_limit_error\","
                         "\"param\":null,\"code\":\"busy\"}}",
                         q->rid);
        sb_add(&body, &blen, &bcap, e, (size_t)n);
    } else if (q->spec.stream) {
        ctype = "text/event-stream";
        unsigned k = (unsigned)rng_range(&u->rng, 1, 12);
        char ev[512];
        for (unsigned i = 0; i < k; i++) {
            int n = snprintf(ev, sizeof(ev),
                             "data: {\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\","
                             "\"created\":1,\"model\":\"" H_UPSTREAM_MODEL "\",\"choices\":[{"
                             "\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}"
                             "\n\n",
                             q->rid, q->rid);
            sb_add(&body, &blen, &bcap, ev, (size_t)n);
        }
        int n = snprintf(ev, sizeof(ev),
                         "data: {\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\","
                         "\"created\":1,\"model\":\"" H_UPSTREAM_MODEL "\",\"choices\":[],"
                         "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":%u,"
                         "\"total_tokens\":%u}}\n\ndata: [DONE]\n\n",
                         q->rid, k, k + 3);
        sb_add(&body, &blen, &bcap, ev, (size_t)n);
    } else {
        char pre[512], post[256];
        int n = snprintf(pre, sizeof(pre),
                         "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion\",\"created\":1,"
                         "\"model\":\"" H_UPSTREAM_MODEL "\",\"choices\":[{\"index\":0,"
                         "\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
                         "\"finish_reason\":\"stop\"}],\"x_pad\":\"",
                         q->rid, q->rid);
        sb_add(&body, &blen, &bcap, pre, (size_t)n);
        /* Mostly small; sometimes past the gateway's 64 KiB high-water mark. */
        size_t pad =
            rng_pct(&u->rng, 10) ? rng_range(&u->rng, 60000, 150000) : rng_range(&u->rng, 0, 3000);
        char chunk[1024];
        memset(chunk, 'p', sizeof(chunk));
        for (size_t left = pad; left;) {
            size_t c = min_sz(left, sizeof(chunk));
            sb_add(&body, &blen, &bcap, chunk, c);
            left -= c;
        }
        n = snprintf(post, sizeof(post),
                     "\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,"
                     "\"total_tokens\":6}}");
        sb_add(&body, &blen, &bcap, post, (size_t)n);
    }
    /* Framing: Content-Length, chunked, or close-delimited. */
    unsigned f = (unsigned)rng_below(&u->rng, 10);
    bool chunked = f >= 6 && f < 9;
    bool eof = f == 9 && !may_cut;
    a->close = eof || rng_pct(&u->rng, 5);
    const char *reason = status == 200 ? "OK" : status == 429 ? "Too Many Requests" : "Oops";
    int hl =
        snprintf(a->head, sizeof(a->head), "%sHTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s%s%s",
                 rng_pct(&u->rng, 5) ? "HTTP/1.1 100 Continue\r\n\r\n" : "", status, reason, ctype,
                 status == 429 ? "Retry-After: 1\r\n" : "", a->close ? "Connection: close\r\n" : "",
                 chunked ? "Transfer-Encoding: chunked\r\n" : "");
    cr_assert(hl > 0 && (size_t)hl < sizeof(a->head) - 64);
    if (!chunked && !eof)
        hl += snprintf(a->head + hl, sizeof(a->head) - (size_t)hl, "Content-Length: %zu\r\n", blen);
    hl += snprintf(a->head + hl, sizeof(a->head) - (size_t)hl, "\r\n");
    a->head_len = (size_t)hl;
    frame_body(u, a, body, blen, chunked);
    free(body);
}

static int send_answer(struct upconn *u, const struct answer *a, bool slow)
{
    if (uc_send_split(u, a->head, a->head_len, slow) < 0)
        return -1;
    return uc_send_split(u, a->body, a->body_len, slow);
}

static enum up_action pick_action(struct upconn *u)
{
    if (atomic_load(&U.calm))
        return UA_NORMAL;
    static const unsigned weight[UA_COUNT] = {
        [UA_NORMAL] = 42, [UA_STALL] = 12, [UA_CLOSE] = 10, [UA_RST] = 8,
        [UA_EARLY] = 10,  [UA_ERROR] = 6,  [UA_CUT] = 12};
    unsigned total = 0;
    for (int i = 0; i < UA_COUNT; i++)
        total += weight[i];
    unsigned x = (unsigned)rng_below(&u->rng, total);
    for (int i = 0; i < UA_COUNT; i++) {
        if (x < weight[i])
            return (enum up_action)i;
        x -= weight[i];
    }
    return UA_NORMAL;
}

/* Serves one request. False when the connection ends. */
static bool serve_one(struct upconn *u)
{
    struct upreq q;
    memset(&q, 0, sizeof(q));
    bool keep = false;
    if (!read_head(u, &q))
        goto out;
    enum up_action act = pick_action(u);
    size_t part = (size_t)rng_below(&u->rng, q.expect_len + 1);
    struct answer a = {0};
    switch (act) {
    case UA_CLOSE:
    case UA_RST:
        /* On a pooled connection with nothing answered, the gateway retries elsewhere. */
        body_take(u, &q, part);
        if (act == UA_RST)
            uc_reset(u);
        goto out;
    case UA_EARLY: {
        body_take(u, &q, min_sz(part, (size_t)512));
        if (q.bad)
            goto out;
        make_answer(u, &q, 200, false, &a);
        /* The head and maybe some of the body now, the rest once the request is in. */
        size_t first = (size_t)rng_below(&u->rng, a.body_len + 1);
        bool ok = uc_send(u, a.head, a.head_len) == 0 && uc_send(u, a.body, first) == 0;
        if (ok)
            sleep_us((long)rng_range(&u->rng, 0, 20000));
        ok = ok && body_take(u, &q, q.expect_len);
        ok = ok && uc_send_split(u, a.body + first, a.body_len - first, false) == 0;
        keep = ok && !a.close;
        answer_free(&a);
        goto out;
    }
    case UA_STALL:
        sleep_us((long)rng_range(&u->rng, 10000, 250000));
        if (!body_take(u, &q, part))
            goto out;
        sleep_us((long)rng_range(&u->rng, 0, 200000));
        break;
    default:
        break;
    }
    if (!body_take(u, &q, q.expect_len))
        goto out;
    make_answer(u, &q, act == UA_ERROR ? (rng_pct(&u->rng, 50) ? 429 : 500) : 200, act == UA_CUT,
                &a);
    if (act == UA_CUT) {
        size_t total = a.head_len + a.body_len;
        size_t cut = (size_t)rng_below(&u->rng, total);
        if (cut <= a.head_len) {
            uc_send(u, a.head, cut);
        } else {
            uc_send(u, a.head, a.head_len);
            uc_send_split(u, a.body, cut - a.head_len, false);
        }
        if (rng_pct(&u->rng, 50))
            uc_reset(u);
        answer_free(&a);
        goto out;
    }
    keep = send_answer(u, &a, act == UA_STALL) == 0 && !a.close;
    answer_free(&a);
out:
    if (q.expect) {
        atomic_fetch_add(q.got == q.expect_len ? &U.nwhole : &U.npart, 1);
        free(q.expect);
    }
    if (keep)
        u->served++;
    return keep && !q.bad;
}

static void *up_conn_main(void *arg)
{
    struct upconn *u = arg;
    if (U.tls) {
        u->tls = malloc(sizeof(*u->tls));
        cr_assert(u->tls != NULL);
        if (gw_tls_server_start(u->tls, U.creds) != 0)
            goto out;
    }
    while (!atomic_load(&U.stop) && serve_one(u)) {
        /* A pooled connection closed while idle: the gateway must notice, or retry. */
        if (!atomic_load(&U.calm) && rng_pct(&u->rng, 4)) {
            sleep_us((long)rng_range(&u->rng, 0, 30000));
            break;
        }
    }
out:
    pthread_mutex_lock(&U.mu);
    U.fds[u->slot] = -1;
    pthread_mutex_unlock(&U.mu);
    close(u->fd);
    free(u->tls);
    free(u->buf);
    free(u);
    atomic_fetch_sub(&U.live, 1);
    return NULL;
}

static void *up_accept_main(void *arg)
{
    (void)arg;
    uint64_t n = 0;
    while (!atomic_load(&U.stop)) {
        struct pollfd p = {.fd = U.lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept4(U.lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct timeval tv = {UP_IO_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        pthread_mutex_lock(&U.mu);
        int slot = -1;
        for (int i = 0; i < UP_MAX_CONNS && slot < 0; i++)
            if (U.fds[i] < 0)
                slot = i;
        if (slot >= 0)
            U.fds[slot] = fd;
        pthread_mutex_unlock(&U.mu);
        if (slot < 0) {
            note_failure("upstream: more than %d connections at once", UP_MAX_CONNS);
            close(fd);
            continue;
        }
        struct upconn *u = calloc(1, sizeof(*u));
        cr_assert(u != NULL);
        u->fd = fd;
        u->slot = slot;
        u->rng.s = U.seed ^ (0x5851f42d4c957f2dull * ++n);
        atomic_fetch_add(&U.nconns, 1);
        atomic_fetch_add(&U.live, 1);
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 1u << 20);
        pthread_t t;
        if (pthread_create(&t, &at, up_conn_main, u) != 0) {
            atomic_fetch_sub(&U.live, 1);
            pthread_mutex_lock(&U.mu);
            U.fds[slot] = -1;
            pthread_mutex_unlock(&U.mu);
            close(fd);
            free(u);
            note_failure("upstream: pthread_create failed");
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

static void up_start(uint64_t seed)
{
    U.seed = seed;
    U.tls = h_upstream_tls();
    for (int i = 0; i < UP_MAX_CONNS; i++)
        U.fds[i] = -1;
    if (U.tls) {
        char cert[PATH_MAX], key[PATH_MAX], err[256];
        snprintf(cert, sizeof(cert), "%s/tests/data/tls/server.pem", GW_SOURCE_DIR);
        snprintf(key, sizeof(key), "%s/tests/data/tls/server.key", GW_SOURCE_DIR);
        U.creds = gw_tls_creds_load(cert, key, err, sizeof(err));
        cr_assert(U.creds != NULL, "test certificate: %s", err);
    }
    U.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(U.lfd >= 0);
    int one = 1, rcv = UP_RCVBUF;
    setsockopt(U.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Inherited by accepted sockets: the gateway's sends of big bodies take many rounds. */
    setsockopt(U.lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(U.lfd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
    cr_assert(listen(U.lfd, 512) == 0);
    socklen_t al = sizeof(a);
    cr_assert(getsockname(U.lfd, (struct sockaddr *)&a, &al) == 0);
    U.port = ntohs(a.sin_port);
    cr_assert(pthread_create(&U.accept_thr, NULL, up_accept_main, NULL) == 0);
    U.accept_started = true;
}

/* Stops accepting, cuts every connection, waits for their threads (5 s at most). */
static void up_stop(void)
{
    atomic_store(&U.stop, true);
    if (U.accept_started) {
        pthread_join(U.accept_thr, NULL);
        U.accept_started = false;
    }
    pthread_mutex_lock(&U.mu);
    for (int i = 0; i < UP_MAX_CONNS; i++)
        if (U.fds[i] >= 0)
            shutdown(U.fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&U.mu);
    double deadline = h_now_ms() + 5000;
    while (atomic_load(&U.live) > 0 && h_now_ms() < deadline)
        h_sleep_ms(10);
    if (U.lfd >= 0)
        close(U.lfd);
    U.lfd = -1;
    if (atomic_load(&U.live) == 0) {
        gw_tls_creds_free(U.creds);
        U.creds = NULL;
    }
}

/* ---- clients ---- */

static struct {
    atomic_ulong requests, ok, upstream_errors, cut, aborted, pipelined, unfinished, healthz;
} C;

struct client {
    unsigned id;
    char key[32];
    struct rng rng;
    unsigned seq;
    double deadline;
    pthread_t thr;
};

/* One request as the client built it. */
struct creq {
    char rid[RID_LEN + 1];
    bool stream;
    bool healthz; /* GET /healthz instead of a chat request */
    char *msg;    /* owns: head + body */
    size_t head_len, len;
};

static size_t digits(size_t n)
{
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static int client_head(const struct client *c, const char *rid, size_t body_len, char *out,
                       size_t cap)
{
    return snprintf(out, cap,
                    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Authorization: Bearer %s\r\nX-Request-Id: %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                    c->key, rid, body_len);
}

/* The head length for a body of n bytes does not depend on the body but on its digits. */
static size_t head_len_for(const struct client *c, size_t n)
{
    char rid[RID_LEN + 1], tmp[512];
    memset(rid, 'x', RID_LEN);
    rid[RID_LEN] = '\0';
    return (size_t)client_head(c, rid, n, tmp, sizeof(tmp));
}

/* A body length so that head + body is exactly `total`, or 0. */
static size_t body_len_for_total(const struct client *c, size_t total)
{
    for (size_t d = 1; d < 9; d++) {
        size_t fixed = head_len_for(c, 1) - 1; /* head with a one-digit length, minus the digit */
        if (total < fixed + d)
            return 0;
        size_t n = total - fixed - d;
        if (digits(n) == d && n >= BODY_MIN + 1)
            return n;
    }
    return 0;
}

/* Sizes: small, exact size classes (head included), just off them, medium, large. */
static size_t pick_body_len(struct client *c, bool allow_large)
{
    static const size_t classes[] = {4096, 8192, 16384, 32768, 65536};
    unsigned x = (unsigned)rng_below(&c->rng, 100);
    if (x < 30)
        return (size_t)rng_range(&c->rng, BODY_MIN + 1, 3000);
    if (x < 62) {
        size_t total = classes[rng_below(&c->rng, GW_STRESS_ARRAY(classes))];
        if (x >= 52)
            total += rng_pct(&c->rng, 50) ? 1 : (size_t)-1;
        size_t n = body_len_for_total(c, total);
        return n ? n : BODY_MIN + 1;
    }
    if (x < 92 || !allow_large)
        return (size_t)rng_range(&c->rng, 3000, 70000);
    if (rng_pct(&c->rng, 40)) {
        size_t n = body_len_for_total(c, (size_t)1 << rng_range(&c->rng, 17, 20));
        return n ? n : BODY_MIN + 1;
    }
    return (size_t)rng_range(&c->rng, 70000, 1u << 20);
}

static void creq_chat(struct client *c, size_t body_len, bool stream, struct creq *q)
{
    memset(q, 0, sizeof(*q));
    struct reqspec s = {.cid = c->id,
                        .seq = ++c->seq,
                        .body_len = body_len,
                        .stream = stream,
                        .seed = rng_next(&c->rng)};
    spec_rid(&s, q->rid);
    q->stream = stream;
    char *body = spec_body(&s);
    char head[512];
    int hl = client_head(c, q->rid, body_len, head, sizeof(head));
    cr_assert(hl > 0 && (size_t)hl < sizeof(head));
    q->head_len = (size_t)hl;
    q->len = q->head_len + body_len;
    q->msg = malloc(q->len + 1);
    cr_assert(q->msg != NULL);
    memcpy(q->msg, head, q->head_len);
    memcpy(q->msg + q->head_len, body, body_len);
    q->msg[q->len] = '\0';
    free(body);
}

static void creq_healthz(struct client *c, struct creq *q)
{
    memset(q, 0, sizeof(*q));
    q->healthz = true;
    snprintf(q->rid, sizeof(q->rid), "hz-%02u-%06u", c->id, ++c->seq);
    char m[256];
    int n = snprintf(m, sizeof(m), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\n\r\n",
                     q->rid);
    q->msg = malloc((size_t)n + 1);
    cr_assert(q->msg != NULL);
    memcpy(q->msg, m, (size_t)n + 1);
    q->head_len = q->len = (size_t)n;
}

static void creq_free(struct creq *q)
{
    free(q->msg);
    q->msg = NULL;
}

/* Sends n bytes in 1..max_pieces pieces at random offsets, with short random pauses. */
static int send_split(struct client *c, struct h_conn *hc, const char *p, size_t n,
                      unsigned max_pieces)
{
    unsigned pieces = (unsigned)rng_range(&c->rng, 1, max_pieces);
    size_t off = 0;
    for (unsigned i = 1; i < pieces && off < n; i++) {
        size_t k = (size_t)rng_range(&c->rng, 1, n - off);
        int rc = h_conn_send(hc, p + off, k);
        if (rc < 0)
            return rc;
        off += k;
        if (rng_pct(&c->rng, 70))
            sleep_us((long)rng_range(&c->rng, 50, 4000));
    }
    return off < n ? h_conn_send(hc, p + off, n - off) : 0;
}

static void conn_abort(struct client *c, struct h_conn *hc)
{
    if (hc->fd >= 0 && rng_pct(&c->rng, 50)) {
        struct linger l = {1, 0};
        setsockopt(hc->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    h_conn_close(hc);
    atomic_fetch_add(&C.aborted, 1);
}

/* True when some other request's id appears in p (a cross-client answer). */
static const char *foreign_id(const char *p, size_t n, const char *rid)
{
    const char *end = p + n;
    for (const char *s = p; (s = memmem(s, (size_t)(end - s), "st-", 3)) != NULL; s += 3) {
        struct reqspec x;
        if ((size_t)(end - s) >= RID_LEN && spec_parse(s, RID_LEN, &x) &&
            memcmp(s, rid, RID_LEN) != 0)
            return s;
    }
    return NULL;
}

static bool status_allowed(int st)
{
    return st == 200 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

/*
 * The gateway's last event of a stream whose upstream failed mid-way:
 * {"error":{"type":"server_error","code":<an upstream failure>,...}}.
 */
static bool stream_failure_event(const char *d)
{
    static const char *const codes[] = {"upstream_reset", "upstream_timeout",
                                        "upstream_protocol_error", "gateway_overloaded"};
    char type[32], code[32];
    if (h_json_get(d, strlen(d), "error.type", type, sizeof(type)) < 0 ||
        strcmp(type, "server_error") != 0 ||
        h_json_get(d, strlen(d), "error.code", code, sizeof(code)) < 0)
        return false;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/*
 * Reads the answer to q and checks it. Returns true when the connection can
 * carry the next request.
 */
static bool read_answer(struct client *c, struct h_conn *hc, const struct creq *q)
{
    (void)c;
    char ex[256];
    if (q->healthz) {
        struct h_resp r;
        int rc = h_read_response(hc, &r, RESP_TIMEOUT_MS);
        if (rc < 0) {
            note_failure("client: %s: no answer to a pipelined GET /healthz: %s", q->rid,
                         strerror(-rc));
            return false;
        }
        atomic_fetch_add(&C.healthz, 1);
        const char *id = h_resp_header(&r, "x-request-id");
        if (r.status != 200 || !strstr(r.body, "\"ok\"") || !id || strcmp(id, q->rid) != 0)
            note_failure("client: %s: /healthz answered %d, id %s: %s", q->rid, r.status,
                         id ? id : "(none)", r.body);
        bool keep = r.keepalive;
        h_resp_free(&r);
        return keep;
    }
    int rc;
    bool keep = false;
    if (!q->stream) {
        struct h_resp r;
        rc = h_read_response(hc, &r, RESP_TIMEOUT_MS);
        if (rc == -ECONNRESET) {
            atomic_fetch_add(&C.cut, 1);
            return false;
        }
        if (rc < 0) {
            note_failure("client: %s: reading the answer: %s", q->rid, strerror(-rc));
            return false;
        }
        const char *id = h_resp_header(&r, "x-request-id");
        if (!id || strcmp(id, q->rid) != 0)
            note_failure("client: %s: the answer has x-request-id %s", q->rid, id ? id : "(none)");
        const char *other = foreign_id(r.body, r.body_len, q->rid);
        if (other) {
            size_t at = (size_t)(other - r.body);
            excerpt(ex, sizeof(ex), other, min_sz(r.body_len - at, (size_t)80));
            note_failure("client: %s: another request's id in the answer, at byte %zu of %zu: %s",
                         q->rid, at, r.body_len, ex);
        }
        if (!status_allowed(r.status)) {
            excerpt(ex, sizeof(ex), r.body, min_sz(r.body_len, (size_t)200));
            note_failure("client: %s: status %d: %s", q->rid, r.status, ex);
        } else if (r.status == 200) {
            char content[64];
            long n = h_json_get(r.body, r.body_len, "choices.0.message.content", content,
                                sizeof(content));
            if (n != RID_LEN || strcmp(content, q->rid) != 0) {
                excerpt(ex, sizeof(ex), r.body, min_sz(r.body_len, (size_t)200));
                note_failure("client: %s: a 200 (%zu bytes) whose content is %s, not its id: %s",
                             q->rid, r.body_len, n < 0 ? "absent or unreadable" : content, ex);
            }
            atomic_fetch_add(&C.ok, 1);
        } else {
            atomic_fetch_add(&C.upstream_errors, 1);
        }
        keep = r.keepalive;
        h_resp_free(&r);
        return keep;
    }
    struct h_stream s;
    rc = h_stream_open(hc, &s, RESP_TIMEOUT_MS);
    if (rc == -ECONNRESET) {
        atomic_fetch_add(&C.cut, 1);
        return false;
    }
    if (rc < 0) {
        note_failure("client: %s: reading the stream head: %s", q->rid, strerror(-rc));
        return false;
    }
    const char *id = h_resp_header(&s.head, "x-request-id");
    if (!id || strcmp(id, q->rid) != 0)
        note_failure("client: %s: the stream has x-request-id %s", q->rid, id ? id : "(none)");
    rc = h_stream_read_all(hc, &s, RESP_TIMEOUT_MS);
    if (rc < 0 && rc != -ECONNRESET)
        note_failure("client: %s: reading the stream: %s (%zu events)", q->rid, strerror(-rc),
                     s.nevs);
    const char *other = foreign_id(s.head.body ? s.head.body : "", s.head.body_len, q->rid);
    if (other) {
        size_t at = (size_t)(other - s.head.body);
        excerpt(ex, sizeof(ex), other, min_sz(s.head.body_len - at, (size_t)80));
        note_failure("client: %s: another request's id in the stream, at byte %zu of %zu: %s",
                     q->rid, at, s.head.body_len, ex);
    }
    if (!status_allowed(s.head.status)) {
        note_failure("client: %s: stream status %d", q->rid, s.head.status);
    } else if (s.head.status == 200) {
        bool failed_upstream = false;
        for (size_t i = 0; i < s.nevs; i++) {
            const char *d = s.evs[i].data;
            if (strcmp(d, "[DONE]") == 0)
                continue;
            char content[64];
            long n = h_json_get(d, strlen(d), "choices.0.delta.content", content, sizeof(content));
            if (stream_failure_event(d)) {
                /* The upstream failed mid-stream: one error event, then only [DONE]. */
                bool last = i + 1 == s.nevs ||
                            (i + 2 == s.nevs && strcmp(s.evs[i + 1].data, "[DONE]") == 0);
                if (!last || !s.saw_done)
                    note_failure("client: %s: an upstream-failure event that does not end the "
                                 "stream with [DONE]",
                                 q->rid);
                failed_upstream = true;
            } else if (h_event_is_usage(d))
                note_failure("client: %s: a usage chunk it did not ask for", q->rid);
            else if (n != RID_LEN || strcmp(content, q->rid) != 0) {
                excerpt(ex, sizeof(ex), d, min_sz(strlen(d), (size_t)200));
                note_failure("client: %s: a stream event that does not echo its id: %s", q->rid,
                             ex);
            }
        }
        atomic_fetch_add(rc == 0 && !failed_upstream ? &C.ok : &C.cut, 1);
    } else {
        atomic_fetch_add(&C.upstream_errors, 1);
    }
    keep = rc == 0 && s.head.keepalive && s.complete;
    h_stream_free(&s);
    return keep;
}

static bool client_open(struct h_conn *hc)
{
    int rc = h_conn_open(hc, H.gw_port);
    if (rc < 0)
        note_failure("client: connect to conduit: %s", strerror(-rc));
    return rc == 0;
}

/* Keep-alive: one to four requests in turn, each written in pieces. */
static void sc_sequence(struct client *c)
{
    struct h_conn hc;
    if (!client_open(&hc))
        return;
    unsigned n = (unsigned)rng_range(&c->rng, 1, 4);
    for (unsigned i = 0; i < n && h_now_ms() < c->deadline; i++) {
        struct creq q;
        creq_chat(c, pick_body_len(c, false), rng_pct(&c->rng, 30), &q);
        atomic_fetch_add(&C.requests, 1);
        bool keep = send_split(c, &hc, q.msg, q.len, 4) == 0 && read_answer(c, &hc, &q);
        creq_free(&q);
        if (!keep)
            break;
    }
    h_conn_close(&hc);
}

/* Two or three requests in one write (or cut anywhere), answers read in order. */
static void sc_pipeline(struct client *c)
{
    struct h_conn hc;
    if (!client_open(&hc))
        return;
    struct creq q[3];
    unsigned n = (unsigned)rng_range(&c->rng, 2, 3);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (rng_pct(&c->rng, 25))
            creq_healthz(c, &q[i]);
        else
            creq_chat(c,
                      rng_pct(&c->rng, 50) ? pick_body_len(c, false)
                                           : (size_t)rng_range(&c->rng, BODY_MIN + 1, 2000),
                      rng_pct(&c->rng, 25), &q[i]);
        total += q[i].len;
    }
    char *all = malloc(total);
    cr_assert(all != NULL);
    size_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        memcpy(all + off, q[i].msg, q[i].len);
        off += q[i].len;
        if (!q[i].healthz)
            atomic_fetch_add(&C.requests, 1);
    }
    atomic_fetch_add(&C.pipelined, 1);
    bool keep = send_split(c, &hc, all, total, 3) == 0;
    for (unsigned i = 0; i < n && keep; i++)
        keep = read_answer(c, &hc, &q[i]);
    free(all);
    for (unsigned i = 0; i < n; i++)
        creq_free(&q[i]);
    h_conn_close(&hc);
}

/*
 * A request, then - while it is upstream - the start of the next one: a
 * GET head padded with KiBs and no end, or a chat request cut inside its
 * body. Then the answer to the first; then the rest of the second (and its
 * answer), or a close.
 */
static void sc_unfinished_next(struct client *c)
{
    struct h_conn hc;
    if (!client_open(&hc))
        return;
    struct creq a, b;
    creq_chat(c, pick_body_len(c, false), rng_pct(&c->rng, 30), &a);
    bool next_chat = rng_pct(&c->rng, 40);
    size_t pad = (size_t)rng_range(&c->rng, 1000, 12000);
    char *partial = NULL;
    size_t plen = 0;
    if (next_chat) {
        creq_chat(c, (size_t)rng_range(&c->rng, BODY_MIN + 1, 20000), rng_pct(&c->rng, 30), &b);
        plen = (size_t)rng_range(&c->rng, b.head_len, b.len - 1);
        partial = b.msg;
    } else {
        creq_healthz(c, &b);
        static const char start[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ";
        plen = sizeof(start) - 1 + pad;
        partial = malloc(plen);
        cr_assert(partial != NULL);
        memcpy(partial, start, sizeof(start) - 1);
        memset(partial + sizeof(start) - 1, 'k', pad);
    }
    atomic_fetch_add(&C.requests, 1);
    atomic_fetch_add(&C.unfinished, 1);
    bool ok = send_split(c, &hc, a.msg, a.len, 2) == 0;
    /* Let the first one be dispatched upstream before the next bytes come. */
    sleep_us((long)rng_range(&c->rng, 0, 5000));
    ok = ok && send_split(c, &hc, partial, plen, 3) == 0;
    ok = ok && read_answer(c, &hc, &a);
    if (ok && rng_pct(&c->rng, 60)) {
        if (next_chat) {
            atomic_fetch_add(&C.requests, 1);
            ok = send_split(c, &hc, b.msg + plen, b.len - plen, 2) == 0;
        } else {
            /* The rest of the pad line and our id, then the end of the head. */
            char rest[128];
            int n = snprintf(rest, sizeof(rest), "\r\nX-Request-Id: %s\r\n\r\n", b.rid);
            ok = h_conn_send(&hc, rest, (size_t)n) == 0;
        }
        if (ok)
            read_answer(c, &hc, &b);
        h_conn_close(&hc);
    } else {
        conn_abort(c, &hc);
    }
    if (!next_chat)
        free(partial);
    creq_free(&a);
    creq_free(&b);
}

/* Leaves mid-request: part of the request, or all of it before any answer. */
static void sc_abort_request(struct client *c)
{
    struct h_conn hc;
    if (!client_open(&hc))
        return;
    struct creq q;
    creq_chat(c, pick_body_len(c, false), rng_pct(&c->rng, 30), &q);
    size_t n = rng_pct(&c->rng, 50) ? q.len : (size_t)rng_range(&c->rng, 1, q.len - 1);
    if (n == q.len)
        atomic_fetch_add(&C.requests, 1);
    if (send_split(c, &hc, q.msg, n, 3) == 0)
        sleep_us((long)rng_range(&c->rng, 0, 20000));
    conn_abort(c, &hc);
    creq_free(&q);
}

/* Leaves mid-response: after the head, or after a few events of a stream. */
static void sc_abort_response(struct client *c)
{
    struct h_conn hc;
    if (!client_open(&hc))
        return;
    struct creq q;
    creq_chat(c, pick_body_len(c, false), rng_pct(&c->rng, 60), &q);
    atomic_fetch_add(&C.requests, 1);
    if (send_split(c, &hc, q.msg, q.len, 2) == 0) {
        struct h_stream s;
        if (h_stream_open(&hc, &s, RESP_TIMEOUT_MS) == 0) {
            unsigned k = (unsigned)rng_below(&c->rng, 3);
            for (unsigned i = 0; i < k && h_stream_next(&hc, &s, RESP_TIMEOUT_MS) == 1; i++)
                ;
            h_stream_free(&s);
        }
    }
    conn_abort(c, &hc);
    creq_free(&q);
}

/* A large body (64 KiB .. 1 MiB) in several pieces. */
static void sc_large(struct client *c)
{
    struct h_conn hc;
    if (!client_open(&hc))
        return;
    struct creq q;
    creq_chat(c, pick_body_len(c, true), rng_pct(&c->rng, 30), &q);
    atomic_fetch_add(&C.requests, 1);
    if (send_split(c, &hc, q.msg, q.len, 8) == 0)
        read_answer(c, &hc, &q);
    creq_free(&q);
    h_conn_close(&hc);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    while (h_now_ms() < c->deadline && c->seq < MAX_REQS_PER_CLIENT) {
        unsigned x = (unsigned)rng_below(&c->rng, 100);
        if (x < 26)
            sc_sequence(c);
        else if (x < 44)
            sc_pipeline(c);
        else if (x < 66)
            sc_unfinished_next(c);
        else if (x < 76)
            sc_abort_request(c);
        else if (x < 86)
            sc_abort_response(c);
        else
            sc_large(c);
    }
    return NULL;
}

/* ---- the test ---- */

static uint64_t pick_seed(void)
{
    const char *s = getenv("GW_STRESS_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
}

/* Conduit under ASan: fill freed memory so kernel reads of it show as wrong bytes. */
static void asan_fill_freed(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%smax_free_fill_size=4194304:free_fill_byte=%d", old ? old : "",
             old && *old ? ":" : "", FREE_FILL_BYTE);
    setenv("ASAN_OPTIONS", opts, 1);
}

static void write_config(unsigned workers)
{
    char keys[NCLIENTS * 64 + 1], prov[2048];
    size_t k = 0;
    for (unsigned i = 0; i < NCLIENTS; i++)
        k += (size_t)snprintf(keys + k, sizeof(keys) - k,
                              "  - name: client%02u\n    key: \"" KEY_PREFIX "%02u\"\n", i, i);
    cr_assert(k < sizeof(keys));
    int n = snprintf(prov, sizeof(prov),
                     "  - name: hostile\n"
                     "    type: openai\n"
                     "    base_url: \"%s://localhost:%d/v1\"\n"
                     "    api_key: \"" H_PROVIDER_KEY "\"\n"
                     "    connect_timeout: 3s\n"
                     "    first_byte_timeout: 5s\n"
                     "    read_timeout: 5s\n"
                     "    pool: {max_idle: 8}\n"
                     "%s%s%s",
                     U.tls ? "https" : "http", U.port, U.tls ? "    tls_ca_file: \"" : "",
                     U.tls ? GW_SOURCE_DIR : "", U.tls ? "/tests/data/tls/ca.pem\"\n" : "");
    cr_assert(n > 0 && (size_t)n < sizeof(prov));
    struct h_gw_opts o = {
        .server_lines = "  header_timeout: 10s\n  body_timeout: 10s\n  max_body_bytes: 4MiB\n",
        .workers = (int)workers,
        .key_items = keys,
        .no_mock_provider = true,
        .provider_items = prov,
        .model_items =
            "  - name: " H_MODEL "\n    provider: hostile\n    model: " H_UPSTREAM_MODEL "\n",
    };
    h_gw_config(&o);
}

/* With the upstream calm again, one plain request must go through intact. */
static void assert_still_serves(void)
{
    atomic_store(&U.calm, true);
    struct client c = {.id = 0, .rng = {U.seed}, .seq = 900000};
    snprintf(c.key, sizeof(c.key), KEY_PREFIX "00");
    bool ok = false;
    /* A pooled connection may still close under it (decided before calm): the
     * gateway retries that once; two tries cover the rest. */
    for (int attempt = 0; attempt < 3 && !ok; attempt++) {
        struct h_conn hc;
        cr_assert_eq(h_conn_open(&hc, H.gw_port), 0);
        struct creq q;
        creq_chat(&c, 4096, attempt == 1, &q);
        cr_assert_eq(h_conn_send(&hc, q.msg, q.len), 0);
        unsigned long before = atomic_load(&C.ok);
        read_answer(&c, &hc, &q);
        ok = atomic_load(&C.ok) > before;
        creq_free(&q);
        h_conn_close(&hc);
    }
    cr_assert(ok, "conduit no longer relays a plain request after the stress phase");
}

/*
 * The start of a sanitizer report in conduit's stderr, if any: the
 * teardown shows only the log's tail, and a report's first frames (what was
 * read, where it was freed) are what one needs.
 */
static void show_sanitizer_report(void)
{
    size_t len;
    char *s = h_read_file(H.err_path, &len);
    const char *at = s ? strstr(s, "ERROR: AddressSanitizer") : NULL;
    if (!at && s)
        at = strstr(s, "runtime error:");
    if (at) {
        while (at > s && at[-1] != '\n')
            at--;
        fprintf(stderr, "---- conduit's sanitizer report ----\n%.*s\n",
                (int)min_sz(strlen(at), 6000), at);
    }
    free(s);
}

static void run_stress(unsigned workers)
{
    uint64_t seed = pick_seed();
    long traffic_ms = TRAFFIC_MS;
    const char *ms = getenv("GW_STRESS_MS");
    if (ms && *ms)
        traffic_ms = strtol(ms, NULL, 10);
    fprintf(stderr,
            "test_stress: workers %u, %s upstream, seed %#" PRIx64 " (GW_STRESS_SEED=%#" PRIx64
            " replays the choices)\n",
            workers, h_upstream_tls() ? "TLS" : "plain", seed, seed);
    up_start(seed);
    write_config(workers);
    asan_fill_freed();
    h_gw_start();

    double t0 = h_now_ms();
    struct client *cl = calloc(NCLIENTS, sizeof(*cl));
    cr_assert(cl != NULL);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        cl[i].id = i;
        snprintf(cl[i].key, sizeof(cl[i].key), KEY_PREFIX "%02u", i);
        cl[i].rng.s = seed ^ (0x2545f4914f6cdd1dull * (i + 1));
        cl[i].deadline = t0 + (double)traffic_ms;
        cr_assert(pthread_create(&cl[i].thr, NULL, client_main, &cl[i]) == 0);
    }
    for (unsigned i = 0; i < NCLIENTS; i++)
        pthread_join(cl[i].thr, NULL);
    free(cl);
    double t1 = h_now_ms();

    if (!h_gw_alive()) {
        show_sanitizer_report();
        cr_assert_fail("conduit died under stress (status 0x%x; seed %#" PRIx64 ")",
                       H.gw_exit_status, seed);
    }
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", "/healthz", NULL, NULL, &r), 0, "/healthz unanswered");
    cr_assert_eq(r.status, 200, "/healthz: %d %s", r.status, r.body);
    h_resp_free(&r);
    if (F.n == 0)
        assert_still_serves();

    fprintf(stderr,
            "test_stress: %.1f s of traffic: clients sent %lu requests (%lu pipelined groups, "
            "%lu with an unfinished next): %lu answered 200, %lu upstream errors, %lu cut, %lu "
            "aborted by the client, %lu pipelined /healthz; upstream: %lu connections, %lu "
            "requests (%lu read whole and verified, %lu in part)\n",
            (t1 - t0) / 1000.0, atomic_load(&C.requests), atomic_load(&C.pipelined),
            atomic_load(&C.unfinished), atomic_load(&C.ok), atomic_load(&C.upstream_errors),
            atomic_load(&C.cut), atomic_load(&C.aborted), atomic_load(&C.healthz),
            atomic_load(&U.nconns), atomic_load(&U.nreqs), atomic_load(&U.nwhole),
            atomic_load(&U.npart));
    if (F.n)
        show_sanitizer_report();
    cr_assert(F.n == 0, "%u invariant violations (seed %#" PRIx64 "), the first:\n%s", F.n, seed,
              F.text);
    /* Not vacuous: traffic went through, and the upstream checked whole requests. */
    cr_assert(atomic_load(&U.nwhole) >= 20, "the upstream verified only %lu whole requests",
              atomic_load(&U.nwhole));
    cr_assert(atomic_load(&C.ok) >= 20, "only %lu requests answered 200", atomic_load(&C.ok));
    h_finish();
    up_stop();
}

static void setup(void)
{
    h_setup();
}

static void teardown(void)
{
    h_teardown();
    up_stop();
}

TestSuite(stress, .init = setup, .fini = teardown, .timeout = 120);

Test(stress, one_worker_keeps_every_request_whole_under_hostile_traffic)
{
    run_stress(1);
}

Test(stress, two_workers_keep_every_request_whole_under_hostile_traffic)
{
    run_stress(2);
}
