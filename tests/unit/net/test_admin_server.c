/*
 * tests/unit/net/test_admin_server.c — the admin listener (net/admin.c) on
 * 127.0.0.1:0 with a handler that echoes what it received as JSON, driven by
 * plain blocking sockets: framing, keep-alive, pipelining, split bodies,
 * concurrency, the caps and their error answers, the connection limit, stop.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/json.h"
#include "net/admin.h"
#include "net/http1.h"

static atomic_int calls;

/*
 * Echo handler: {"method","target","authorization","body","body_len","call"}.
 * "/big?n=N" answers a JSON string of N 'x' (a response larger than socket
 * buffers); "/status/NNN" answers that status.
 */
static void echo_handler(void *arg, struct gw_span method, struct gw_span target,
                         struct gw_span authorization, struct gw_span body, int *status,
                         char **body_out, size_t *len_out)
{
    (void)arg;
    int call = atomic_fetch_add(&calls, 1) + 1;
    if (target.len > 7 && memcmp(target.ptr, "/big?n=", 7) == 0) {
        size_t n = strtoul(target.ptr + 7, NULL, 10);
        char *b = malloc(n + 2);
        b[0] = '"';
        memset(b + 1, 'x', n);
        b[n + 1] = '"';
        *status = 200;
        *body_out = b;
        *len_out = n + 2;
        return;
    }
    size_t cap = 2 * (method.len + target.len + authorization.len) + 6 * body.len + 256;
    char *b = malloc(cap);
    struct gw_jw w;
    gw_jw_init(&w, b, cap);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "method");
    gw_jw_str(&w, method.ptr, method.len);
    gw_jw_key(&w, "target");
    gw_jw_str(&w, target.ptr, target.len);
    gw_jw_key(&w, "authorization");
    gw_jw_str(&w, authorization.ptr, authorization.len);
    gw_jw_key(&w, "body");
    gw_jw_str(&w, body.ptr, body.len);
    gw_jw_key(&w, "body_len");
    gw_jw_uint(&w, body.len);
    gw_jw_key(&w, "call");
    gw_jw_int(&w, call);
    gw_jw_obj_end(&w);
    cr_assert(!w.overflow);
    *status = 200;
    if (target.len == 11 && memcmp(target.ptr, "/status/", 8) == 0)
        *status = atoi(target.ptr + 8);
    *body_out = b;
    *len_out = w.len;
}

static struct gw_admin_server *srv;
static uint16_t port;

static void start(void)
{
    atomic_store(&calls, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = gw_admin_server_start((struct sockaddr *)&a, sizeof(a), echo_handler, NULL, &srv);
    cr_assert_eq(r, 0, "start: %s", strerror(-r));
    port = gw_admin_server_port(srv);
    cr_assert_neq(port, 0);
}

static void stop(void)
{
    gw_admin_server_stop(srv);
    srv = NULL;
}

TestSuite(admin_server, .init = start, .fini = stop, .timeout = 30);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A blocking client socket with a 5 s receive timeout, so a missing answer fails, not hangs. */
static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        cr_assert_gt(k, 0, "send: %s", strerror(errno));
        c += k;
        n -= (size_t)k;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* A client's receive buffer: responses may arrive back to back (pipelining). */
struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
};

struct resp {
    int status;
    char head[2048]; /* the head, NUL-terminated */
    char *body;      /* malloc'd, NUL-terminated */
    size_t body_len;
};

/* Returns bytes read, 0 at EOF, -1 on error or timeout. */
static ssize_t fill(struct client *c)
{
    cr_assert_lt(c->len, sizeof(c->buf));
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

/*
 * Reads one whole response (head and Content-Length body). Returns 0, or -1
 * when the connection ended or failed before one arrived.
 */
static int read_resp(struct client *c, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    struct gw_http1_header hs[32];
    struct gw_http1_resp pr;
    int hl;
    while ((hl = c->len ? gw_http1_parse_response(c->buf, c->len, &pr, hs, 32) : -2) == -2) {
        if (fill(c) <= 0)
            return -1;
    }
    cr_assert_gt(hl, 0, "bad response head: %.*s", (int)c->len, c->buf);
    cr_assert(pr.flags & GW_H1_F_HAS_CL, "no Content-Length");
    cr_assert_lt((size_t)hl, sizeof(r->head));
    memcpy(r->head, c->buf, (size_t)hl);
    r->status = pr.status;
    size_t cl = (size_t)pr.content_length;
    r->body = malloc(cl + 1);
    size_t have = GW_MIN(cl, c->len - (size_t)hl);
    memcpy(r->body, c->buf + hl, have);
    memmove(c->buf, c->buf + hl + have, c->len - (size_t)hl - have);
    c->len -= (size_t)hl + have;
    while (have < cl) {
        ssize_t n = recv(c->fd, r->body + have, cl - have, 0);
        if (n <= 0) {
            free(r->body);
            return -1;
        }
        have += (size_t)n;
    }
    r->body[cl] = 0;
    r->body_len = cl;
    return 0;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* True when the connection is at EOF (or reset) with nothing more buffered. */
static bool at_eof(struct client *c)
{
    if (c->len)
        return false;
    ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* The decoded string value of top-level member key of an echo body (static buffer). */
static const char *member_str(const struct resp *r, const char *key)
{
    static char out[1 << 21];
    const char *keys[] = {key};
    struct gw_json_member m;
    cr_assert_eq(gw_json_scan_object(r->body, r->body_len, keys, 1, &m), 0, "not an object: %s",
                 r->body);
    cr_assert(m.found, "no %s in %s", key, r->body);
    cr_assert_eq(m.value.type, GW_JT_STRING);
    long n = gw_json_unescape(m.value.span, out, sizeof(out) - 1);
    cr_assert_geq(n, 0);
    out[n] = 0;
    return out;
}

static uint64_t member_u64(const struct resp *r, const char *key)
{
    const char *keys[] = {key};
    struct gw_json_member m;
    cr_assert_eq(gw_json_scan_object(r->body, r->body_len, keys, 1, &m), 0);
    cr_assert(m.found);
    uint64_t v;
    cr_assert(gw_json_to_u64(m.value.span, &v));
    return v;
}

/* Checks an error answer: status, the OpenAI error object with its code, and Connection: close. */
static void assert_error(const struct resp *r, int status, const char *code)
{
    cr_assert_eq(r->status, status, "status %d, want %d: %s", r->status, status, r->body);
    const char *keys[] = {"error"};
    struct gw_json_member m;
    cr_assert_eq(gw_json_scan_object(r->body, r->body_len, keys, 1, &m), 0);
    cr_assert(m.found && m.value.type == GW_JT_OBJ_BEGIN, "%s", r->body);
    const char *ek[] = {"message", "type", "param", "code"};
    struct gw_json_member em[4];
    cr_assert_eq(
        gw_json_scan_object(r->body + m.value.start, m.value_end - m.value.start, ek, 4, em), 0);
    cr_assert(em[0].found && em[0].value.type == GW_JT_STRING);
    cr_assert(em[1].found && gw_json_str_eq(em[1].value.span, "invalid_request_error"));
    cr_assert(em[2].found && em[2].value.type == GW_JT_NULL);
    cr_assert(em[3].found && gw_json_str_eq(em[3].value.span, code), "%s", r->body);
    cr_assert_not_null(strcasestr(r->head, "\r\nConnection: close\r\n"), "%s", r->head);
}

Test(admin_server, request_fields_reach_the_handler_exactly)
{
    struct client c = {.fd = dial()};
    const char *body = "{\"name\":\"a b\",\"x\":[1,2]}";
    char req[512];
    snprintf(req, sizeof(req),
             "POST /admin/v1/keys?limit=2&after=k%%20x HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer condt-master \t\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    send_str(c.fd, req);
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(member_str(&r, "method"), "POST");
    cr_assert_str_eq(member_str(&r, "target"), "/admin/v1/keys?limit=2&after=k%20x");
    /* The field value, with the whitespace around it removed (RFC 9110 §5.5). */
    cr_assert_str_eq(member_str(&r, "authorization"), "Bearer condt-master");
    cr_assert_str_eq(member_str(&r, "body"), body);
    cr_assert_not_null(strcasestr(r.head, "\r\nContent-Type: application/json\r\n"));
    cr_assert_not_null(strcasestr(r.head, "\r\nConnection: keep-alive\r\n"));
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", r.body_len);
    cr_assert_not_null(strcasestr(r.head, cl));
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, absent_authorization_and_body_arrive_empty)
{
    struct client c = {.fd = dial()};
    send_str(c.fd, "GET /admin/v1/prices HTTP/1.1\r\nHost: x\r\n\r\n");
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_str_eq(member_str(&r, "method"), "GET");
    cr_assert_str_eq(member_str(&r, "authorization"), "");
    cr_assert_eq(member_u64(&r, "body_len"), 0);
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, handler_status_is_sent)
{
    struct client c = {.fd = dial()};
    send_str(c.fd, "DELETE /status/404 HTTP/1.1\r\nHost: x\r\n\r\n");
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_not_null(strstr(r.head, "HTTP/1.1 404 "));
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, keep_alive_serves_two_requests_on_one_connection)
{
    struct client c = {.fd = dial()};
    for (int i = 1; i <= 2; i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        send_str(c.fd, req);
        struct resp r;
        cr_assert_eq(read_resp(&c, &r), 0, "response %d", i);
        char want[16];
        snprintf(want, sizeof(want), "/r%d", i);
        cr_assert_str_eq(member_str(&r, "target"), want);
        cr_assert_eq(member_u64(&r, "call"), (uint64_t)i);
        resp_free(&r);
    }
    close(c.fd);
}

Test(admin_server, pipelined_requests_are_answered_in_order)
{
    struct client c = {.fd = dial()};
    char all[1024] = "";
    size_t len = 0;
    for (int i = 1; i <= 5; i++) {
        len += (size_t)snprintf(all + len, sizeof(all) - len,
                                "POST /p%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nb=%d", i,
                                i);
    }
    send_all(c.fd, all, len);
    for (int i = 1; i <= 5; i++) {
        struct resp r;
        cr_assert_eq(read_resp(&c, &r), 0, "response %d", i);
        char want[16];
        snprintf(want, sizeof(want), "/p%d", i);
        cr_assert_str_eq(member_str(&r, "target"), want);
        snprintf(want, sizeof(want), "b=%d", i);
        cr_assert_str_eq(member_str(&r, "body"), want);
        resp_free(&r);
    }
    close(c.fd);
}

Test(admin_server, pipelined_requests_then_half_close_are_all_answered)
{
    struct client c = {.fd = dial()};
    send_str(c.fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(c.fd, SHUT_WR);
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_str_eq(member_str(&r, "target"), "/a");
    resp_free(&r);
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_str_eq(member_str(&r, "target"), "/b");
    resp_free(&r);
    cr_assert(at_eof(&c));
    close(c.fd);
}

Test(admin_server, body_split_across_many_small_writes_arrives_whole)
{
    struct client c = {.fd = dial()};
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char body[301];
    for (size_t i = 0; i < sizeof(body) - 1; i++)
        body[i] = (char)('a' + i % 26);
    body[sizeof(body) - 1] = 0;
    char head[128];
    snprintf(head, sizeof(head),
             "PATCH /admin/v1/keys/k1 HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: %zu\r\n\r\n",
             strlen(body));
    /* The head too arrives in pieces. */
    for (size_t i = 0; head[i]; i += 7) {
        send_all(c.fd, head + i, GW_MIN((size_t)7, strlen(head + i)));
        usleep(500);
    }
    for (size_t i = 0; body[i]; i++) {
        send_all(c.fd, body + i, 1);
        if (i % 10 == 0)
            usleep(500);
    }
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_str_eq(member_str(&r, "body"), body);
    cr_assert_str_eq(member_str(&r, "method"), "PATCH");
    cr_assert_eq(atomic_load(&calls), 1);
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, slow_client_does_not_block_another)
{
    struct client slow = {.fd = dial()};
    send_str(slow.fd, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    struct client half = {.fd = dial()};
    send_str(half.fd, "GET /half HTTP/1.1\r\nHo");
    /* Also a reader that does not read a response larger than the socket buffers. */
    struct client lazy = {.fd = dial()};
    send_str(lazy.fd, "GET /big?n=8000000 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100 * 1000);

    int64_t t0 = mono_ms();
    struct client fast = {.fd = dial()};
    send_str(fast.fd, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    struct resp r;
    cr_assert_eq(read_resp(&fast, &r), 0);
    cr_assert_str_eq(member_str(&r, "target"), "/fast");
    cr_assert_lt(mono_ms() - t0, 1000, "the fast client waited %lld ms",
                 (long long)(mono_ms() - t0));
    resp_free(&r);

    send_str(slow.fd, "defghij");
    cr_assert_eq(read_resp(&slow, &r), 0);
    cr_assert_str_eq(member_str(&r, "body"), "abcdefghij");
    resp_free(&r);
    send_str(half.fd, "st: x\r\n\r\n");
    cr_assert_eq(read_resp(&half, &r), 0);
    cr_assert_str_eq(member_str(&r, "target"), "/half");
    resp_free(&r);
    cr_assert_eq(read_resp(&lazy, &r), 0);
    cr_assert_eq(r.body_len, 8000002);
    cr_assert_eq(r.body[0], '"');
    cr_assert_eq(r.body[4000000], 'x');
    resp_free(&r);
    close(fast.fd);
    close(slow.fd);
    close(half.fd);
    close(lazy.fd);
}

Test(admin_server, body_of_exactly_the_cap_is_accepted)
{
    struct client c = {.fd = dial()};
    size_t n = GW_ADMIN_SRV_MAX_BODY;
    char head[128];
    snprintf(head, sizeof(head), "POST /cap HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
    send_str(c.fd, head);
    char *body = malloc(n);
    memset(body, 'q', n);
    send_all(c.fd, body, n);
    free(body);
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(member_u64(&r, "body_len"), n);
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, body_over_the_cap_is_refused_with_413_and_close)
{
    cr_assert_eq(GW_ADMIN_SRV_MAX_BODY, 1u << 20, "the cap must match store/admin.h's");
    struct client c = {.fd = dial()};
    char head[128];
    snprintf(head, sizeof(head),
             "POST /admin/v1/keys HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: %u\r\n\r\n{",
             (1u << 20) + 1);
    send_str(c.fd, head);
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    assert_error(&r, 413, "request_too_large");
    resp_free(&r);
    cr_assert(at_eof(&c));
    cr_assert_eq(atomic_load(&calls), 0, "the handler must not see a refused request");
    close(c.fd);
}

Test(admin_server, malformed_request_is_refused_with_400_and_close)
{
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",                                   /* no Host */
        "GET / HTTP/1.1\nHost: x\n\n",                              /* bare LF */
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", /* bad length */
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        struct client c = {.fd = dial()};
        send_str(c.fd, bad[i]);
        struct resp r;
        cr_assert_eq(read_resp(&c, &r), 0, "case %zu", i);
        assert_error(&r, 400, "invalid_request");
        resp_free(&r);
        cr_assert(at_eof(&c), "case %zu", i);
        close(c.fd);
    }
    cr_assert_eq(atomic_load(&calls), 0);
}

Test(admin_server, chunked_body_is_refused_with_411)
{
    struct client c = {.fd = dial()};
    send_str(c.fd, "POST /admin/v1/keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\n{}\r\n0\r\n\r\n");
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    assert_error(&r, 411, "length_required");
    resp_free(&r);
    cr_assert(at_eof(&c));
    close(c.fd);
}

Test(admin_server, head_over_16_kib_is_refused_with_431)
{
    struct client c = {.fd = dial()};
    size_t n = GW_ADMIN_SRV_MAX_HEAD + 100;
    char *req = malloc(n + 64);
    int k = snprintf(req, 64, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + k, 'a', n);
    /* No end of head: the server must not wait for one past the cap. */
    send_all(c.fd, req, (size_t)k + n);
    free(req);
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    assert_error(&r, 431, "request_header_fields_too_large");
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, expect_100_continue_gets_an_interim_response)
{
    struct client c = {.fd = dial()};
    send_str(c.fd, "PUT /admin/v1/prices/m HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                   "Content-Length: 2\r\n\r\n");
    while (c.len < 25)
        cr_assert_gt(fill(&c), 0);
    cr_assert_eq(memcmp(c.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0);
    memmove(c.buf, c.buf + 25, c.len - 25);
    c.len -= 25;
    send_str(c.fd, "{}");
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(member_str(&r, "body"), "{}");
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, http10_without_keep_alive_closes_after_the_response)
{
    struct client c = {.fd = dial()};
    send_str(c.fd, "GET /old HTTP/1.0\r\n\r\n");
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_str_eq(member_str(&r, "target"), "/old");
    cr_assert_not_null(strcasestr(r.head, "\r\nConnection: close\r\n"));
    resp_free(&r);
    cr_assert(at_eof(&c));
    close(c.fd);
}

Test(admin_server, connections_over_the_limit_get_503_and_the_rest_are_served)
{
    enum { N = GW_ADMIN_SRV_MAX_CONNS + 6 };
    static struct client cs[N];
    bool was_refused[N] = {0};
    for (int i = 0; i < N; i++) {
        cs[i].fd = dial();
        cs[i].len = 0;
        /* Connections are accepted in order; wait for each to be taken in. */
        usleep(2000);
    }
    usleep(200 * 1000);
    int served = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        struct pollfd p = {.fd = cs[i].fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            struct resp r;
            cr_assert_eq(read_resp(&cs[i], &r), 0, "connection %d", i);
            cr_assert_eq(r.status, 503, "connection %d", i);
            cr_assert_not_null(strstr(r.body, "\"server_error\""));
            resp_free(&r);
            cr_assert(at_eof(&cs[i]));
            was_refused[i] = true;
            refused++;
            continue;
        }
        char req[64];
        snprintf(req, sizeof(req), "GET /c%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        send_str(cs[i].fd, req);
    }
    for (int i = 0; i < N; i++) {
        if (was_refused[i])
            continue;
        struct resp r;
        cr_assert_eq(read_resp(&cs[i], &r), 0, "connection %d", i);
        char want[16];
        snprintf(want, sizeof(want), "/c%d", i);
        cr_assert_str_eq(member_str(&r, "target"), want);
        resp_free(&r);
        served++;
    }
    cr_assert_eq(served, GW_ADMIN_SRV_MAX_CONNS);
    cr_assert_eq(refused, N - GW_ADMIN_SRV_MAX_CONNS);
    for (int i = 0; i < N; i++)
        close(cs[i].fd);
    /* Closed connections free their slots. */
    usleep(100 * 1000);
    struct client c = {.fd = dial()};
    send_str(c.fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    struct resp r;
    cr_assert_eq(read_resp(&c, &r), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    close(c.fd);
}

Test(admin_server, stop_with_clients_connected_closes_them)
{
    struct client idle = {.fd = dial()};
    struct client partial = {.fd = dial()};
    send_str(partial.fd, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab");
    struct client lazy = {.fd = dial()};
    send_str(lazy.fd, "GET /big?n=8000000 HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100 * 1000);
    int64_t t0 = mono_ms();
    stop();
    cr_assert_lt(mono_ms() - t0, 2000);
    cr_assert(at_eof(&idle));
    cr_assert(at_eof(&partial));
    /* The lazy reader gets a prefix of its response, then the end. */
    ssize_t n;
    char buf[65536];
    while ((n = recv(lazy.fd, buf, sizeof(buf), 0)) > 0)
        ;
    cr_assert(n == 0 || errno == ECONNRESET, "recv: %s", strerror(errno));
    close(idle.fd);
    close(partial.fd);
    close(lazy.fd);
    start(); /* for .fini */
}

Test(admin_server, start_on_a_busy_port_fails_with_eaddrinuse)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct gw_admin_server *other = NULL;
    int r = gw_admin_server_start((struct sockaddr *)&a, sizeof(a), echo_handler, NULL, &other);
    cr_assert_eq(r, -EADDRINUSE, "got %d", r);
    cr_assert_null(other);
}
