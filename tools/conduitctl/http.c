/*
 * tools/conduitctl/http.c — the CLI's HTTP/1.1 client: one request per
 * connection (Connection: close), blocking sockets with timeouts. The admin
 * listener always answers with Content-Length; a chunked or read-to-EOF
 * response (a proxy in between) is read too.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/common.h"
#include "tools/conduitctl/ctl.h"

#define CONNECT_TIMEOUT_MS 10000
#define IO_TIMEOUT_S 60
#define MAX_RESPONSE (256u << 20)

void *ctl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("conduitctl: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static void buf_reserve(struct ctl_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fputs("conduitctl: out of memory\n", stderr);
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

void ctl_buf_put(struct ctl_buf *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ctl_buf_puts(struct ctl_buf *b, const char *s)
{
    ctl_buf_put(b, s, strlen(s));
}

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ctl_buf_pct(struct ctl_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            ctl_buf_put(b, &c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            ctl_buf_put(b, e, 3);
        }
    }
}

void ctl_buf_free(struct ctl_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int ctl_url_parse(const char *s, struct ctl_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (strncasecmp(s, "https://", 8) == 0) {
        snprintf(err, errlen,
                 "https is not supported: the admin API listens on plain HTTP "
                 "(reach a remote one through an SSH tunnel)");
        return -1;
    }
    if (strncasecmp(s, "http://", 7) != 0) {
        snprintf(err, errlen, "the URL must start with http://");
        return -1;
    }
    const char *p = s + 7;
    const char *host_end;
    const char *after;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end) {
            snprintf(err, errlen, "unclosed '[' in the URL's host");
            return -1;
        }
        p++;
        after = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        after = host_end;
    }
    size_t hl = (size_t)(host_end - p);
    if (hl == 0 || hl >= sizeof(u->host)) {
        snprintf(err, errlen, "the URL has no host, or one too long");
        return -1;
    }
    memcpy(u->host, p, hl);
    if (*after == ':') {
        after++;
        size_t pl = strspn(after, "0123456789");
        long port = pl && pl < 6 ? strtol(after, NULL, 10) : 0;
        if (port < 1 || port > 65535) {
            snprintf(err, errlen, "the URL's port must be 1-65535");
            return -1;
        }
        snprintf(u->port, sizeof(u->port), "%ld", port);
        after += pl;
    } else {
        snprintf(u->port, sizeof(u->port), "80");
    }
    if (*after && *after != '/') {
        snprintf(err, errlen, "unexpected '%c' after the URL's host and port", *after);
        return -1;
    }
    size_t rl = strcspn(after, "?#");
    while (rl && after[rl - 1] == '/')
        rl--;
    if (rl >= sizeof(u->prefix)) {
        snprintf(err, errlen, "the URL's path is too long");
        return -1;
    }
    memcpy(u->prefix, after, rl);
    bool v6 = strchr(u->host, ':') != NULL;
    snprintf(u->hostport, sizeof(u->hostport), "%s%s%s:%s", v6 ? "[" : "", u->host, v6 ? "]" : "",
             u->port);
    return 0;
}

/* Connects to the first address that answers within the timeout; returns the fd or -1. */
static int dial(const struct ctl_url *u, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int r = getaddrinfo(u->host, u->port, &hints, &res);
    if (r) {
        snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(r));
        return -1;
    }
    int fd = -1;
    int last = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last = errno;
            goto next;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        r = poll(&p, 1, CONNECT_TIMEOUT_MS);
        if (r <= 0) {
            last = r == 0 ? ETIMEDOUT : errno;
            goto next;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            last = soerr ? soerr : errno;
            goto next;
        }
        int fl = fcntl(fd, F_GETFL);
        struct timeval tv = {IO_TIMEOUT_S, 0};
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
            last = errno;
            goto next;
        }
        break;
    next:
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot connect to %s: %s", u->hostport, strerror(last));
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Case-insensitive search for a header line "\r\nName:" in head; returns its value or NULL. */
static const char *find_field(const char *head, size_t head_len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + 2 + nl + 1 <= head_len; i++) {
        if (head[i] == '\r' && head[i + 1] == '\n' && strncasecmp(head + i + 2, name, nl) == 0 &&
            head[i + 2 + nl] == ':') {
            const char *v = head + i + 3 + nl;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

/* Decodes a chunked body in place; returns its length or -1 (RFC 9112 §7.1). */
static long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(b + in, &end, 16);
        if (end == b + in || errno)
            return -1;
        char *crlf = memmem(end, len - (size_t)(end - b), "\r\n", 2);
        if (!crlf)
            return -1;
        in = (size_t)(crlf - b) + 2;
        if (n == 0)
            return (long)out;
        if (n > len - in || len - in - n < 2)
            return -1;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
    }
}

int ctl_http(const struct ctl_url *u, const char *key, const char *method, const char *path,
             const char *body, size_t body_len, struct ctl_resp *out, char *err, size_t errlen)
{
    int ret = -1;
    struct ctl_buf req = {0}, in = {0};
    memset(out, 0, sizeof(*out));
    int fd = dial(u, err, errlen);
    if (fd < 0)
        goto out;

    ctl_buf_printf(&req,
                   "%s %s%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                   "Accept: application/json\r\nUser-Agent: conduitctl/" GW_VERSION "\r\n"
                   "Connection: close\r\n",
                   method, u->prefix, path, u->hostport, key);
    if (body)
        ctl_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    ctl_buf_puts(&req, "\r\n");
    if (body)
        ctl_buf_put(&req, body, body_len);
    if (send_all(fd, req.p, req.len) < 0) {
        snprintf(err, errlen, "sending to %s: %s", u->hostport, strerror(errno));
        goto out;
    }
    for (;;) {
        buf_reserve(&in, 65536);
        ssize_t n = recv(fd, in.p + in.len, in.cap - in.len - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "reading from %s: %s", u->hostport,
                     errno == EAGAIN ? "timed out" : strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        in.len += (size_t)n;
        in.p[in.len] = 0;
        if (in.len > MAX_RESPONSE) {
            snprintf(err, errlen, "the response from %s is larger than 256 MiB", u->hostport);
            goto out;
        }
    }
    if (!in.p) {
        snprintf(err, errlen, "%s closed the connection without answering", u->hostport);
        goto out;
    }

    /* Skip interim 1xx responses; then status line, fields, body. */
    char *p = in.p;
    size_t left = in.len;
    for (;;) {
        char *hend = memmem(p, left, "\r\n\r\n", 4);
        int status;
        if (!hend || sscanf(p, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100) {
            snprintf(err, errlen, "malformed HTTP response from %s", u->hostport);
            goto out;
        }
        size_t hl = (size_t)(hend - p) + 4;
        if (status < 200) {
            p += hl;
            left -= hl;
            continue;
        }
        char *b = p + hl;
        size_t bl = left - hl;
        const char *te = find_field(p, hl - 2, "Transfer-Encoding");
        const char *cl = find_field(p, hl - 2, "Content-Length");
        if (te && strncasecmp(te, "chunked", 7) == 0) {
            long n = dechunk(b, bl);
            if (n < 0) {
                snprintf(err, errlen, "malformed chunked response from %s", u->hostport);
                goto out;
            }
            bl = (size_t)n;
        } else if (cl) {
            unsigned long long n = strtoull(cl, NULL, 10);
            if (n > bl) {
                snprintf(err, errlen, "the response from %s was cut short", u->hostport);
                goto out;
            }
            bl = (size_t)n;
        }
        out->status = status;
        out->body = ctl_xmalloc(bl + 1);
        memcpy(out->body, b, bl);
        out->body[bl] = 0;
        out->len = bl;
        break;
    }
    ret = 0;
out:
    if (fd >= 0)
        close(fd);
    ctl_buf_free(&req);
    ctl_buf_free(&in);
    return ret;
}

void ctl_resp_free(struct ctl_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
