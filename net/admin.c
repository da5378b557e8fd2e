/*
 * net/admin.c — the admin API's HTTP/1.1 server: one thread, poll(2) over an
 * eventfd (stop), the listener and up to GW_ADMIN_SRV_MAX_CONNS non-blocking
 * connections. Contract in net/admin.h.
 *
 * A connection alternates between reading one request and writing its
 * response. While a response is pending it is not polled for input, so
 * pipelined requests wait in its buffer (or the kernel's) and are answered in
 * order once the response is out; this also bounds what one client can make
 * us hold to one input buffer and one response.
 *
 * The input buffer grows on demand up to GW_ADMIN_SRV_MAX_HEAD +
 * GW_ADMIN_SRV_MAX_BODY, which always holds one whole acceptable request, so
 * "need more input" never meets "buffer full".
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "net/admin.h"
#include "net/http1.h"

#define MAX_HEADERS 64
#define IN_CAP (GW_ADMIN_SRV_MAX_HEAD + GW_ADMIN_SRV_MAX_BODY)
#define IN_INITIAL 4096
/* How long the listener rests after accept(2) ran out of descriptors or memory. */
#define ACCEPT_BACKOFF_MS 100

struct conn {
    int fd;
    char *in; /* owns: bytes received and not yet consumed by a request */
    size_t in_len;
    size_t in_cap; /* allocated size of in, <= IN_CAP */
    char *out;     /* owns: the response (or interim 100) being written */
    size_t out_len;
    size_t out_off;      /* bytes of out already sent */
    int64_t deadline_ms; /* CLOCK_MONOTONIC: the current phase's end */
    bool have_head;      /* the current request's head arrived (its body deadline is set) */
    bool sent_continue;  /* 100 Continue already sent for the current request */
    bool closing;        /* close once out is sent */
    bool peer_eof;       /* recv returned 0: answer what is buffered, then close */
    size_t slot;         /* index in the server's conns[] */
};

struct gw_admin_server {
    int lfd;
    int efd; /* eventfd: stop */
    uint16_t port;
    gw_admin_handle_fn handle;
    void *arg;
    pthread_t thread;
    struct conn *conns[GW_ADMIN_SRV_MAX_CONNS]; /* owns; NULL = free slot */
    int64_t accept_resume_ms;                   /* listener not polled before this (0 = polled) */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Builds head + body into one malloc'd buffer. Returns it with *len set, or
 * NULL when out of memory.
 */
static char *build_response(int status, const char *body, size_t body_len, bool keep_alive,
                            size_t *len)
{
    char head[256];
    struct gw_sb sb;
    gw_sb_init(&sb, head, sizeof(head));
    gw_sb_lit(&sb, "HTTP/1.1 ");
    gw_sb_u64(&sb, (uint64_t)status);
    gw_sb_lit(&sb, " ");
    gw_sb_puts(&sb, gw_http_reason(status));
    gw_sb_lit(&sb, "\r\nContent-Type: application/json\r\nContent-Length: ");
    gw_sb_u64(&sb, body_len);
    if (keep_alive)
        gw_sb_lit(&sb, "\r\nConnection: keep-alive\r\n\r\n");
    else
        gw_sb_lit(&sb, "\r\nConnection: close\r\n\r\n");
    GW_BUG_ON(sb.overflow);
    char *out = malloc(sb.len + body_len);
    if (!out)
        return NULL;
    memcpy(out, head, sb.len);
    if (body_len)
        memcpy(out + sb.len, body, body_len);
    *len = sb.len + body_len;
    return out;
}

/* The OpenAI error object into buf; returns its length (buf is large enough for our messages). */
static size_t error_body(char *buf, size_t cap, int status, const char *code, const char *msg)
{
    struct gw_jw w;
    gw_jw_init(&w, buf, cap);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "error");
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "message");
    gw_jw_cstr(&w, msg);
    gw_jw_key(&w, "type");
    gw_jw_cstr(&w, status >= 500 ? "server_error" : "invalid_request_error");
    gw_jw_key(&w, "param");
    gw_jw_null(&w);
    gw_jw_key(&w, "code");
    gw_jw_cstr(&w, code);
    gw_jw_obj_end(&w);
    gw_jw_obj_end(&w);
    GW_BUG_ON(w.overflow);
    return w.len;
}

static char *build_error(int status, const char *code, const char *msg, bool keep_alive,
                         size_t *len)
{
    char body[512];
    size_t n = error_body(body, sizeof(body), status, code, msg);
    return build_response(status, body, n, keep_alive, len);
}

static void conn_free(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Queues out (owned) as the connection's pending output. */
static void conn_queue(struct conn *c, char *out, size_t len)
{
    GW_BUG_ON(c->out_off != c->out_len);
    free(c->out);
    c->out = out;
    c->out_len = len;
    c->out_off = 0;
    c->deadline_ms = now_ms() + GW_ADMIN_SRV_TIMEOUT_MS;
}

/*
 * Queues an error response and marks the connection to close after it.
 * Returns 1 (a response is queued) or -1 (out of memory: close now).
 */
static int conn_fail(struct conn *c, int status, const char *code, const char *msg)
{
    size_t len;
    char *out = build_error(status, code, msg, false, &len);
    if (!out)
        return -1;
    conn_queue(c, out, len);
    c->closing = true;
    return 1;
}

/*
 * Sends pending output. Returns 1 when all of it is out, 0 when the socket is
 * full (poll for POLLOUT), -1 when the connection is dead.
 */
static int conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->out_off += (size_t)n;
        c->deadline_ms = now_ms() + GW_ADMIN_SRV_TIMEOUT_MS;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return 1;
}

/*
 * Reads what the socket has, as far as the buffer may grow. Returns 0, or -1
 * when the connection is dead (a reset, or out of memory). Sets peer_eof on
 * an orderly shutdown.
 */
static int conn_read(struct conn *c)
{
    for (;;) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap == IN_CAP)
                return 0; /* one whole request fits: try_request makes room */
            size_t ncap = c->in_cap ? GW_MIN(c->in_cap * 2, (size_t)IN_CAP) : IN_INITIAL;
            char *n = realloc(c->in, ncap);
            if (!n)
                return -1;
            c->in = n;
            c->in_cap = ncap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        if (n == 0) {
            c->peer_eof = true;
            return 0;
        }
        c->in_len += (size_t)n;
    }
}

/*
 * Takes the next request from the input buffer if it is complete, calls the
 * handler and queues its response. Returns 1 when something was queued (a
 * response, an error, or an interim 100), 0 when more input is needed, -1
 * to close now.
 */
static int try_request(struct gw_admin_server *s, struct conn *c)
{
    if (c->in_len == 0)
        return 0;
    struct gw_http1_header headers[MAX_HEADERS];
    struct gw_http1_req req;
    int hl = gw_http1_parse_request(c->in, c->in_len, &req, headers, MAX_HEADERS);
    if (hl == -2) {
        if (c->in_len >= GW_ADMIN_SRV_MAX_HEAD)
            return conn_fail(c, 431, "request_header_fields_too_large",
                             "The request head is larger than 16 KiB.");
        return 0;
    }
    if (hl == -1) {
        if (req.err == GW_H1E_TOO_MANY_HEADERS)
            return conn_fail(c, 431, "request_header_fields_too_large",
                             "The request has too many header fields.");
        char msg[160];
        snprintf(msg, sizeof(msg), "Malformed HTTP request: %s.", gw_http1_err_str(req.err));
        return conn_fail(c, 400, "invalid_request", msg);
    }
    if ((size_t)hl > GW_ADMIN_SRV_MAX_HEAD)
        return conn_fail(c, 431, "request_header_fields_too_large",
                         "The request head is larger than 16 KiB.");
    if (req.flags & GW_H1_F_CHUNKED)
        return conn_fail(c, 411, "length_required",
                         "Send the body with a Content-Length; chunked bodies are not accepted.");
    uint64_t cl = (req.flags & GW_H1_F_HAS_CL) ? req.content_length : 0;
    if (cl > GW_ADMIN_SRV_MAX_BODY)
        return conn_fail(c, 413, "request_too_large",
                         "The request body is larger than the admin API's limit of 1 MiB.");
    if (!c->have_head) {
        c->have_head = true;
        c->deadline_ms = now_ms() + GW_ADMIN_SRV_TIMEOUT_MS;
    }
    size_t total = (size_t)hl + (size_t)cl;
    if (c->in_len < total) {
        if ((req.flags & GW_H1_F_EXPECT_100) && !c->sent_continue) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            char *out = malloc(sizeof(cont) - 1);
            if (!out)
                return -1;
            memcpy(out, cont, sizeof(cont) - 1);
            c->sent_continue = true;
            conn_queue(c, out, sizeof(cont) - 1);
            /* The body phase keeps its deadline; conn_queue set a write deadline. */
            return 1;
        }
        return 0;
    }

    const struct gw_http1_header *auth = gw_http1_find(headers, req.num_headers, "authorization");
    struct gw_span auth_v = auth ? auth->value : gw_span_make("", 0);
    struct gw_span body = gw_span_make(c->in + hl, (size_t)cl);
    int status = 500;
    char *rbody = NULL;
    size_t rlen = 0;
    s->handle(s->arg, req.method, req.target, auth_v, body, &status, &rbody, &rlen);
    if (status < 100 || status > 599)
        status = 500;
    if (!rbody)
        rlen = 0;
    bool keep = (req.flags & GW_H1_F_KEEPALIVE) != 0;
    size_t len;
    char *out = build_response(status, rbody, rlen, keep, &len);
    free(rbody);
    if (!out)
        return -1;

    memmove(c->in, c->in + total, c->in_len - total);
    c->in_len -= total;
    c->have_head = false;
    c->sent_continue = false;
    conn_queue(c, out, len);
    if (!keep)
        c->closing = true;
    return 1;
}

/*
 * Moves a connection as far as it can go without blocking. Returns false
 * when it must be closed.
 */
static bool conn_progress(struct gw_admin_server *s, struct conn *c)
{
    for (;;) {
        if (c->out_off < c->out_len) {
            int r = conn_flush(c);
            if (r < 0)
                return false;
            if (r == 0)
                return true;
            if (c->closing)
                return false;
            if (!c->have_head)
                c->deadline_ms = now_ms() + GW_ADMIN_SRV_TIMEOUT_MS;
        }
        if (c->closing)
            return false;
        int r = try_request(s, c);
        if (r < 0)
            return false;
        if (r == 0)
            return !c->peer_eof; /* an incomplete request can never complete now */
    }
}

static void accept_all(struct gw_admin_server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                s->accept_resume_ms = now_ms() + ACCEPT_BACKOFF_MS;
            return;
        }
        size_t slot = GW_ARRAY_SIZE(s->conns);
        for (size_t i = 0; i < GW_ARRAY_SIZE(s->conns); i++) {
            if (!s->conns[i]) {
                slot = i;
                break;
            }
        }
        struct conn *c = slot < GW_ARRAY_SIZE(s->conns) ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            /* Full (or out of memory): answer 503 best-effort and close. The socket
             * is fresh, so a short response fits its send buffer. */
            size_t len;
            char *out =
                build_error(503, "too_many_connections",
                            "The admin API is serving too many connections; retry.", false, &len);
            if (out) {
                ssize_t n = send(fd, out, len, MSG_NOSIGNAL);
                (void)n;
                free(out);
            }
            shutdown(fd, SHUT_WR);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->slot = slot;
        c->deadline_ms = now_ms() + GW_ADMIN_SRV_TIMEOUT_MS;
        s->conns[slot] = c;
    }
}

/* A phase ran out of time: a partial request gets a 408 (best-effort), then it closes. */
static void conn_timeout(struct conn *c)
{
    if (c->out_off == c->out_len && c->in_len > 0) {
        size_t len;
        char *out = build_error(408, "request_timeout",
                                "The request did not arrive within 10 seconds.", false, &len);
        if (out) {
            ssize_t n = send(c->fd, out, len, MSG_NOSIGNAL);
            (void)n;
            free(out);
        }
    }
}

static void *server_main(void *arg)
{
    struct gw_admin_server *s = arg;
    struct pollfd pfd[2 + GW_ADMIN_SRV_MAX_CONNS];
    struct conn *polled[2 + GW_ADMIN_SRV_MAX_CONNS];

    for (;;) {
        int64_t now = now_ms();
        int64_t next = now + 60000;
        nfds_t n = 0;
        pfd[n] = (struct pollfd){.fd = s->efd, .events = POLLIN};
        polled[n++] = NULL;
        if (s->accept_resume_ms && now >= s->accept_resume_ms)
            s->accept_resume_ms = 0;
        if (!s->accept_resume_ms) {
            pfd[n] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
            polled[n++] = NULL;
        } else {
            next = GW_MIN(next, s->accept_resume_ms);
        }
        nfds_t first_conn = n;
        for (size_t i = 0; i < GW_ARRAY_SIZE(s->conns); i++) {
            struct conn *c = s->conns[i];
            if (!c)
                continue;
            short ev = c->out_off < c->out_len ? POLLOUT : POLLIN;
            pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
            polled[n++] = c;
            next = GW_MIN(next, c->deadline_ms);
        }
        int wait = next > now ? (int)(next - now) : 0;
        int r = poll(pfd, n, wait);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* Only EFAULT/EINVAL/ENOMEM remain: rest, then try again. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (pfd[0].revents)
            break;
        if (first_conn == 2 && pfd[1].revents)
            accept_all(s);
        for (nfds_t k = first_conn; k < n; k++) {
            struct conn *c = polled[k];
            bool ok = true;
            if ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) && (pfd[k].events & POLLIN))
                ok = conn_read(c) == 0;
            if (ok && pfd[k].revents)
                ok = conn_progress(s, c);
            /* Checked even after progress: a client trickling bytes gets no extension. */
            if (ok && now_ms() >= c->deadline_ms) {
                conn_timeout(c);
                ok = false;
            }
            if (!ok) {
                s->conns[c->slot] = NULL;
                conn_free(c);
            }
        }
    }
    return NULL;
}

int gw_admin_server_start(const struct sockaddr *addr, socklen_t len, gw_admin_handle_fn handle,
                          void *arg, struct gw_admin_server **out)
{
    int err;
    struct gw_admin_server *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->lfd = s->efd = -1;
    s->handle = handle;
    s->arg = arg;

    s->lfd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        goto fail_errno;
    int one = 1;
    if (setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail_errno;
    if (bind(s->lfd, addr, len) < 0 || listen(s->lfd, 128) < 0)
        goto fail_errno;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) < 0)
        goto fail_errno;
    if (ss.ss_family == AF_INET)
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0)
        goto fail_errno;

    /* The thread inherits the mask in force at pthread_create: block the control
     * thread's signals (and SIGPIPE) for it here, then restore ours. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    err = pthread_sigmask(SIG_BLOCK, &set, &old);
    if (err) {
        err = -err;
        goto fail;
    }
    err = pthread_create(&s->thread, NULL, server_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        err = -err;
        goto fail;
    }
    *out = s;
    return 0;

fail_errno:
    err = -errno;
fail:
    if (s->efd >= 0)
        close(s->efd);
    if (s->lfd >= 0)
        close(s->lfd);
    free(s);
    return err;
}

uint16_t gw_admin_server_port(const struct gw_admin_server *s)
{
    return s->port;
}

void gw_admin_server_stop(struct gw_admin_server *s)
{
    if (!s)
        return;
    uint64_t one = 1;
    /* An eventfd write only fails when the counter would overflow: it is then readable anyway. */
    ssize_t n = write(s->efd, &one, sizeof(one));
    (void)n;
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < GW_ARRAY_SIZE(s->conns); i++) {
        if (s->conns[i])
            conn_free(s->conns[i]);
        s->conns[i] = NULL;
    }
    close(s->lfd);
    close(s->efd);
    free(s);
}
