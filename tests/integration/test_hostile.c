/*
 * tests/integration/test_hostile.c — the request path against a hostile
 * upstream (harness_hostile.c) and hostile clients: what goes upstream stays
 * the client's own bytes whatever the client sends meanwhile, early answers
 * from either side reach the client intact, every upstream phase has its own
 * timeout, and no upstream can make the gateway buffer without bound, take a
 * truncated TLS stream for a complete one, send a POST twice, or hold a
 * bodiless answer until a timeout.
 *
 * Each test starts conduit with one provider, "hostile", pointing at a
 * scripted upstream in this process, and model HMODEL mapped onto it. The
 * scripts decide by what they read (Content-Length, a marker in the body)
 * and meet the test at numbered flags (hs_flag_*). Everything runs on
 * 127.0.0.1 and every wait has a deadline, so each test ends well within 20 s
 * even under ASan.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "harness_hostile.h"

#define HMODEL "hostile-model"
#define HUPSTREAM "hostile-upstream"
#define MiB (1024u * 1024u)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static struct hs_server *S;

static void setup(void)
{
    h_setup();
}

static void teardown(void)
{
    h_teardown();
    hs_free(S);
    S = NULL;
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 40);

/* ---- helpers ---- */

struct gw_cfg {
    const char *type;         /* provider type, default openai */
    bool tls;                 /* https://localhost:port with the test CA */
    int workers;              /* default 2, as the harness's config */
    const char *server_lines; /* more keys under server: (2-space indent) */
    const char *prov_lines;   /* more keys of provider "hostile" (4-space indent) */
};

/* Starts the scripted upstream, then conduit with provider "hostile" on it and HMODEL mapped onto
 * it. */
static void start(const struct hs_opts *ho, const struct gw_cfg *g)
{
    S = hs_start(ho);
    char prov[2048];
    int n = snprintf(
        prov, sizeof(prov),
        "  - name: hostile\n"
        "    type: %s\n"
        "    base_url: \"%s://%s:%d\"\n"
        "    api_key: \"" H_PROVIDER_KEY "\"\n"
        "%s%s%s%s",
        g->type ? g->type : "openai", g->tls ? "https" : "http", g->tls ? "localhost" : "127.0.0.1",
        hs_port(S), g->tls ? "    tls_ca_file: \"" : "", g->tls ? GW_SOURCE_DIR : "",
        g->tls ? "/tests/data/tls/ca.pem\"\n" : "", g->prov_lines ? g->prov_lines : "");
    cr_assert(n > 0 && (size_t)n < sizeof(prov));
    struct h_gw_opts o = {
        .server_lines = g->server_lines,
        .workers = g->workers,
        .no_mock_provider = true,
        .provider_items = prov,
        .model_items = "  - name: " HMODEL "\n    provider: hostile\n    model: " HUPSTREAM "\n",
    };
    h_gw_start_with(&o);
}

/* Stops the upstream (so nothing of conduit's still waits on it), then conduit: clean exit. */
static void finish(void)
{
    hs_stop(S);
    h_finish();
}

/* A chat body for HMODEL whose user content is `tag` then filler up to content_len bytes. */
static char *chat_body(const char *tag, size_t content_len)
{
    static const char pre[] = "{\"model\":\"" HMODEL "\",\"messages\":[{\"role\":\"user\","
                              "\"content\":\"";
    static const char post[] = "\"}]}";
    size_t tl = strlen(tag);
    cr_assert(content_len >= tl);
    size_t len = sizeof(pre) - 1 + content_len + sizeof(post) - 1;
    char *b = malloc(len + 1);
    cr_assert(b != NULL);
    memcpy(b, pre, sizeof(pre) - 1);
    char *p = b + sizeof(pre) - 1;
    memcpy(p, tag, tl);
    /* A pattern that shifts every 4 KiB, so a misplaced or stale piece does not compare equal. */
    static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (size_t i = tl; i < content_len; i++)
        p[i] = alnum[(i * 7 + i / 4096 + tl) % 62];
    memcpy(p + content_len, post, sizeof(post) - 1);
    b[len] = '\0';
    return b;
}

/* The bytes chat_body() puts around its content. */
static size_t chat_overhead(void)
{
    char *b = chat_body("", 0);
    size_t n = strlen(b);
    free(b);
    return n;
}

/* A raw POST /v1/chat/completions with that key and body (malloc'd, length in *len). */
static char *chat_request(const char *key, const char *body, size_t *len)
{
    size_t bl = strlen(body);
    size_t cap = bl + 512;
    char *m = malloc(cap);
    cr_assert(m != NULL);
    int n = snprintf(m, cap,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     key, bl);
    cr_assert(n > 0 && (size_t)n + bl < cap);
    memcpy(m + n, body, bl + 1);
    *len = (size_t)n + bl;
    return m;
}

/* A chat request whose head plus body is exactly `total` bytes. */
static char *chat_request_exact(const char *key, const char *tag, size_t total, char **body_out)
{
    size_t over = chat_overhead();
    /* The head's length depends on the digits of the body's length: iterate to a fixed point. */
    size_t head = 0;
    for (int i = 0; i < 4; i++) {
        size_t bl = total - head;
        char probe[512];
        head = (size_t)snprintf(probe, sizeof(probe),
                                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\n\r\n",
                                key, bl);
    }
    char *body = chat_body(tag, total - head - over);
    size_t len;
    char *req = chat_request(key, body, &len);
    cr_assert_eq(len, total, "request is %zu bytes, want %zu", len, total);
    *body_out = body;
    return req;
}

/* What conduit forwards for a chat_body(): the same bytes with the upstream model's name. */
static char *forwarded(const char *client_body, size_t *len)
{
    static const char from[] = "{\"model\":\"" HMODEL "\"";
    static const char to[] = "{\"model\":\"" HUPSTREAM "\"";
    size_t bl = strlen(client_body);
    cr_assert(strncmp(client_body, from, sizeof(from) - 1) == 0);
    size_t n = bl - (sizeof(from) - 1) + (sizeof(to) - 1);
    char *f = malloc(n + 1);
    cr_assert(f != NULL);
    memcpy(f, to, sizeof(to) - 1);
    memcpy(f + sizeof(to) - 1, client_body + sizeof(from) - 1, bl - (sizeof(from) - 1) + 1);
    *len = n;
    return f;
}

static bool has_marker(struct hs_conn *c, const struct hs_req *r, const char *marker)
{
    return r->body_len && memmem(hs_body(c, r), r->body_len, marker, strlen(marker)) != NULL;
}

static void assert_chat_ok(const struct h_resp *r, const char *who)
{
    cr_assert_eq(r->status, 200, "%s: status %d, want 200: %s", who, r->status,
                 r->body ? r->body : "");
    char v[128];
    cr_assert(h_json_get(r->body, r->body_len, "object", v, sizeof(v)) > 0, "%s: %s", who, r->body);
    cr_assert_str_eq(v, "chat.completion", "%s: %s", who, r->body);
}

/* ---- 1: pipelined client bytes while its request is in flight and retried ---- */

#define T1_BIG (8 * MiB) /* head + body of X's second request: a whole power-of-two buffer */
enum { T1_TRAPPED = 0, T1_HELD, T1_GO_RESET };

/*
 * Every request is answered normally, except the first large one that comes
 * on a reused connection: of that one a part is read, then the script waits
 * for the test's word and resets the connection with the rest unread, so the
 * gateway's send fails half-way and it retries on a fresh connection.
 */
static void t1_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    for (;;) {
        const struct hs_req *r;
        if (hs_read_head(c, &r, 15000) <= 0)
            return;
        if (r->content_length > MiB && r->seq > 0 && hs_flag_add(c->srv, T1_TRAPPED, 1) == 1) {
            hs_read_body(c, r, 256 * 1024, 10000);
            hs_flag_set(c->srv, T1_HELD, 1);
            hs_flag_wait(c->srv, T1_GO_RESET, 1, 15000);
            hs_reset(c);
            return;
        }
        if (hs_read_body(c, r, r->content_length, 15000) < 0 || hs_send_chat(c, "fine") < 0)
            return;
    }
}

/*
 * The finding: the upstream request's body pointed into the client's input
 * buffer, which X's pipelined bytes grew (moved, freed) while the request was
 * in flight; the retry then sent from freed memory: another tenant's bytes, or
 * EFAULT ("Bad address") when the freed block was unmapped. Over plain HTTP
 * the kernel reads the request (sendmsg), which ASan cannot see; over TLS the
 * gateway copies it into the engine itself, so a stale read is an ASan report
 * there (and a crash in a release build).
 */
static void pipelined_input_mid_retry(bool tls)
{
    /* A small receive buffer upstream: the 8 MiB cannot hide in socket buffers, so the
     * gateway is still sending when the reset comes. */
    struct hs_opts ho = {.handler = t1_upstream, .rcvbuf = 32 * 1024, .tls = tls};
    start(&ho, &(struct gw_cfg){.workers = 1, .tls = tls});

    /* X's first request pools the upstream connection. */
    struct h_conn x;
    cr_assert_eq(h_conn_open(&x, H.gw_port), 0);
    char *x1 = chat_body("X1-first", 64);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, x1, &len);
    cr_assert_eq(h_conn_send(&x, raw, len), 0);
    free(raw);
    struct h_resp r;
    cr_assert_eq(h_read_response(&x, &r, H_IO_TIMEOUT_MS), 0);
    assert_chat_ok(&r, "X's first request");
    h_resp_free(&r);

    /* X's second request fills its input buffer exactly and goes out on the pooled
     * connection, where the upstream reads only a part of it. */
    char *x2;
    raw = chat_request_exact(H_CLIENT_KEY, "X2-second", T1_BIG, &x2);
    cr_assert_eq(h_conn_send(&x, raw, T1_BIG), 0);
    free(raw);
    cr_assert(hs_flag_wait(S, T1_HELD, 1, 10000), "the upstream never got X's second request");

    /* Meanwhile X pipelines the start of a next request (the input must grow), and Y,
     * another tenant, sends its own request. */
    char pad[4096 + 64];
    int pl = snprintf(pad, sizeof(pad), "GET /healthz HTTP/1.1\r\nX-Pad: ");
    memset(pad + pl, 'p', 4000);
    cr_assert_eq(h_conn_send(&x, pad, (size_t)pl + 4000), 0);
    h_sleep_ms(200);
    char *y = chat_body("Y-other-tenant-secret-prompt", 200 * 1024);
    raw = chat_request(H_OTHER_CLIENT_KEY, y, &len);
    struct h_conn yc;
    cr_assert_eq(h_conn_open(&yc, H.gw_port), 0, "Y cannot connect: is conduit still alive?");
    cr_assert_eq(h_conn_send(&yc, raw, len), 0);
    free(raw);
    int rc = h_read_response(&yc, &r, H_IO_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "Y got no response: %s", strerror(-rc));
    assert_chat_ok(&r, "Y");
    h_resp_free(&r);

    /* Now the upstream resets X's connection: the gateway retries on a fresh one. */
    hs_flag_set(S, T1_GO_RESET, 1);
    rc = h_read_response(&x, &r, H_IO_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "X's second request got no response: %s", strerror(-rc));
    assert_chat_ok(&r, "X's second request");
    h_resp_free(&r);
    h_conn_close(&x);
    h_conn_close(&yc);
    hs_stop(S);

    /* What went upstream: the provider's key only, and each body exactly as its client
     * sent it (the model renamed), or a prefix of it for the request cut by the reset. */
    cr_assert(!hs_saw(S, H_CLIENT_KEY, strlen(H_CLIENT_KEY)), "X's client key went upstream");
    cr_assert(!hs_saw(S, H_OTHER_CLIENT_KEY, strlen(H_OTHER_CLIENT_KEY)),
              "Y's client key went upstream");
    const char *bodies[] = {x1, x2, y};
    size_t flen[3];
    char *fwd[3];
    for (int i = 0; i < 3; i++)
        fwd[i] = forwarded(bodies[i], &flen[i]);
    size_t n = hs_nreqs(S), whole_x2 = 0;
    cr_assert_geq(n, 4, "the upstream saw %zu requests, want X1, X2 twice and Y", n);
    for (size_t i = 0; i < n; i++) {
        const struct hs_req *q = hs_req_at(S, i);
        const char *head = hs_req_head(S, q), *body = hs_req_body(S, q);
        cr_assert(strcasestr(head, "authorization: Bearer " H_PROVIDER_KEY "\r\n"),
                  "request %zu lacks the provider key: %.*s", i, (int)q->head_len, head);
        int match = -1;
        for (int k = 0; k < 3 && match < 0; k++)
            if (q->content_length == flen[k] && memcmp(body, fwd[k], q->body_len) == 0)
                match = k;
        if (match < 0) {
            /* Say where it went wrong, against the body of the same length. */
            size_t at = 0;
            for (int k = 0; k < 3; k++)
                if (q->content_length == flen[k])
                    while (at < q->body_len && body[at] == fwd[k][at])
                        at++;
            cr_assert_fail("request %zu (connection %u, %zu of %llu body bytes read) is no "
                           "client's body; first difference at byte %zu: \"%.40s\"",
                           i, q->conn, q->body_len, (unsigned long long)q->content_length, at,
                           body + (at < q->body_len ? at : 0));
        }
        if (match == 1 && q->complete)
            whole_x2++;
    }
    cr_assert_eq(whole_x2, 1, "X's second request arrived whole %zu times, want once", whole_x2);
    for (int i = 0; i < 3; i++)
        free(fwd[i]);
    free(x1);
    free(x2);
    free(y);
    finish();
}

Test(hostile, upstream_gets_only_its_clients_bytes_when_pipelined_input_arrives_mid_retry)
{
    pipelined_input_mid_retry(false);
}

Test(hostile, upstream_gets_only_its_clients_bytes_when_pipelined_input_arrives_mid_retry_tls)
{
    pipelined_input_mid_retry(true);
}

/* ---- 2: the upstream answers before it has read the body ---- */

enum { T2_STATUS = 0 };

static const char t2_error[] = "{\"error\":{\"message\":\"Told you early (hostile)\","
                               "\"type\":\"invalid_request_error\",\"param\":null,"
                               "\"code\":\"told_you_early\"}}";

/*
 * Answers with the status in flag T2_STATUS right after the head: the
 * response head first, then reads the body (for up to 3 s, so a gateway that
 * stops sending does not hang it), then the response body.
 */
static void t2_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    const struct hs_req *r;
    if (hs_read_head(c, &r, 15000) <= 0)
        return;
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 %ld Early\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             hs_flag_get(c->srv, T2_STATUS), sizeof(t2_error) - 1);
    if (hs_send_str(c, head) < 0)
        return;
    hs_read_body(c, r, r->content_length, 3000);
    if (hs_send_str(c, t2_error) < 0)
        return;
    hs_wait_peer_close(c, 3000);
}

static void early_upstream_answer_reaches_client(int status, bool tls)
{
    struct hs_opts ho = {.handler = t2_upstream, .rcvbuf = 32 * 1024, .tls = tls};
    start(&ho, &(struct gw_cfg){.tls = tls});
    hs_flag_set(S, T2_STATUS, status);
    char *body = chat_body("early", 8 * MiB);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, body, &len);
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    cr_assert_eq(h_conn_send(&c, raw, len), 0);
    struct h_resp r;
    int rc = h_read_response(&c, &r, H_IO_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "no response: %s", strerror(-rc));
    cr_assert_eq(r.status, status, "status %d, want the upstream's %d: %s", r.status, status,
                 r.body);
    cr_assert_eq(r.body_len, sizeof(t2_error) - 1, "body %s", r.body);
    cr_assert_str_eq(r.body, t2_error);
    h_resp_free(&r);
    h_conn_close(&c);
    free(raw);
    free(body);
    finish();
}

Test(hostile, upstream_401_before_reading_the_body_reaches_the_client_intact)
{
    early_upstream_answer_reaches_client(401, false);
}

Test(hostile, upstream_413_before_reading_the_body_reaches_the_client_intact)
{
    early_upstream_answer_reaches_client(413, false);
}

Test(hostile, upstream_413_before_reading_the_body_reaches_the_client_intact_tls)
{
    early_upstream_answer_reaches_client(413, true);
}

/* ---- 4: timeouts by phase ---- */

enum { T4_RATE = 0 }; /* bytes per second the upstream reads a large body at; 0: not at all */

/*
 * Small requests are answered at once. A large one (over 1 MiB) is read at
 * T4_RATE bytes per second, steadily, then answered; with rate 0 the script
 * stops reading after its head and holds the connection until the end.
 */
static void t4_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    for (;;) {
        const struct hs_req *r;
        if (hs_read_head(c, &r, 15000) <= 0)
            return;
        if (r->content_length > MiB) {
            long rate = hs_flag_get(c->srv, T4_RATE);
            if (rate == 0) {
                hs_flag_wait(c->srv, HS_NFLAGS - 1, 1, 15000); /* never set: until stopped */
                return;
            }
            double t0 = h_now_ms();
            while (!r->complete) {
                double due = (h_now_ms() - t0) * (double)rate / 1000.0;
                if ((double)r->body_len >= due) {
                    h_sleep_ms(5);
                    continue;
                }
                if (hs_read_body(c, r, r->body_len + 1, 5000) < 0)
                    return;
            }
        } else if (hs_read_body(c, r, r->content_length, 15000) < 0) {
            return;
        }
        if (hs_send_chat(c, "fine") < 0)
            return;
    }
}

/* One small request on a fresh connection, so the upstream connection is pooled. */
static void pool_one(struct h_conn *c)
{
    char *b = chat_body("warm", 16);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, b, &len);
    cr_assert_eq(h_conn_send(c, raw, len), 0);
    struct h_resp r;
    cr_assert_eq(h_read_response(c, &r, H_IO_TIMEOUT_MS), 0);
    assert_chat_ok(&r, "the first request");
    h_resp_free(&r);
    free(raw);
    free(b);
}

/* Sends a large request on c and reads its response; *ms gets the time from the last byte sent. */
static int big_request(struct h_conn *c, size_t content, struct h_resp *r, int timeout_ms,
                       double *ms)
{
    char *b = chat_body("big", content);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, b, &len);
    cr_assert_eq(h_conn_send(c, raw, len), 0);
    double t0 = h_now_ms();
    int rc = h_read_response(c, r, timeout_ms);
    *ms = h_now_ms() - t0;
    free(raw);
    free(b);
    return rc;
}

Test(hostile, pooled_upstream_that_stops_reading_the_request_is_a_504_after_send_timeout)
{
    struct hs_opts ho = {.handler = t4_upstream, .rcvbuf = 32 * 1024};
    start(&ho, &(struct gw_cfg){.workers = 1, .prov_lines = "    send_timeout: 1s\n"});
    hs_flag_set(S, T4_RATE, 0);
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    pool_one(&c);
    struct h_resp r;
    double ms;
    int rc = big_request(&c, 8 * MiB, &r, 8000, &ms);
    cr_assert_eq(rc, 0, "no response %.0f ms after the request: %s", ms, strerror(-rc));
    h_assert_error(&r, 504, "upstream_timeout");
    cr_assert_lt(ms, 5000, "the 504 came %.0f ms after the request; send_timeout is 1 s", ms);
    h_resp_free(&r);
    h_conn_close(&c);
    finish();
}

Test(hostile, send_timeout_measures_stalls_not_a_slow_steady_upload)
{
    struct hs_opts ho = {.handler = t4_upstream, .rcvbuf = 32 * 1024};
    start(&ho, &(struct gw_cfg){.workers = 1, .prov_lines = "    send_timeout: 1s\n"});
    hs_flag_set(S, T4_RATE, 4 * MiB); /* 12 MiB: about 3 s */
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    pool_one(&c);
    struct h_resp r;
    double ms;
    int rc = big_request(&c, 12 * MiB, &r, 12000, &ms);
    cr_assert_eq(rc, 0, "no response %.0f ms after the request: %s", ms, strerror(-rc));
    assert_chat_ok(&r, "the slow upload");
    cr_assert_gt(ms, 1500, "the upload took only %.0f ms: the test proves nothing", ms);
    h_resp_free(&r);
    h_conn_close(&c);
    finish();
}

Test(hostile, connect_timeout_covers_the_connect_not_a_slow_upload_after_it)
{
    struct hs_opts ho = {.handler = t4_upstream, .rcvbuf = 32 * 1024};
    start(&ho, &(struct gw_cfg){.prov_lines = "    connect_timeout: 1s\n"});
    hs_flag_set(S, T4_RATE, 4 * MiB);
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    struct h_resp r;
    double ms;
    int rc = big_request(&c, 12 * MiB, &r, 12000, &ms);
    cr_assert_eq(rc, 0, "no response %.0f ms after the request: %s", ms, strerror(-rc));
    assert_chat_ok(&r, "the slow upload on a fresh connection");
    cr_assert_gt(ms, 1500, "the upload took only %.0f ms: the test proves nothing", ms);
    h_resp_free(&r);
    h_conn_close(&c);
    finish();
}

/* An upstream that takes the TCP connection and never answers the ClientHello. */
static void silent_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    hs_wait_peer_close(c, 15000);
}

Test(hostile, a_stalled_tls_handshake_is_a_504_after_tls_handshake_timeout)
{
    struct hs_opts ho = {.handler = silent_upstream}; /* plain: no ServerHello ever comes */
    start(&ho, &(struct gw_cfg){.tls = true,
                                .prov_lines = "    connect_timeout: 5s\n"
                                              "    tls_handshake_timeout: 1s\n"});
    char *body = h_chat_body(HMODEL, false, NULL);
    struct h_resp r;
    double t0 = h_now_ms();
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    double ms = h_now_ms() - t0;
    free(body);
    h_assert_error(&r, 504, "upstream_timeout");
    cr_assert(strstr(r.body, "handshake"), "%s", r.body);
    /* Its own timer, not the connect timeout's 5 s. */
    cr_assert(ms > 900 && ms < 4000, "answered after %.0f ms", ms);
    h_resp_free(&r);
    finish();
}

/* ---- 5: an endless run of 100 Continue ---- */

#define T5_FLOOD_MAX (128ull * MiB) /* bounded, so the old gateway's growth is too */

static void t5_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    const struct hs_req *r;
    if (hs_read_request(c, &r, 15000) <= 0)
        return;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char block[64 * 1024];
    size_t per = sizeof(block) / (sizeof(cont) - 1), bl = per * (sizeof(cont) - 1);
    for (size_t i = 0; i < per; i++)
        memcpy(block + i * (sizeof(cont) - 1), cont, sizeof(cont) - 1);
    for (unsigned long long sent = 0; sent < T5_FLOOD_MAX && !hs_stopping(c->srv); sent += bl)
        if (hs_send(c, block, bl) < 0)
            return;
    hs_wait_peer_close(c, 15000);
}

struct rss_sampler {
    pthread_t thr;
    volatile bool stop;
    long max_kb;
};

static void *rss_sample_main(void *arg)
{
    struct rss_sampler *s = arg;
    while (!s->stop) {
        long kb = h_gw_rss_kb();
        if (kb > s->max_kb)
            s->max_kb = kb;
        h_sleep_ms(10);
    }
    return NULL;
}

Test(hostile, endless_100_continue_is_a_quick_502_with_bounded_memory)
{
    struct hs_opts ho = {.handler = t5_upstream};
    start(&ho, &(struct gw_cfg){.prov_lines = "    first_byte_timeout: 10s\n"});
    long base = h_gw_rss_kb();
    cr_assert_gt(base, 0);
    struct rss_sampler smp = {.max_kb = base};
    cr_assert_eq(pthread_create(&smp.thr, NULL, rss_sample_main, &smp), 0);
    char *b = chat_body("flood", 16);
    struct h_resp r;
    double t0 = h_now_ms();
    int rc = h_chat(b, NULL, &r);
    double ms = h_now_ms() - t0;
    smp.stop = true;
    pthread_join(smp.thr, NULL);
    long grew = smp.max_kb - base;
    cr_log_info("RSS %ld KiB before the flood, at most %ld KiB during it", base, smp.max_kb);
    cr_assert_lt(grew, 100 * 1024, "conduit's RSS grew by %ld KiB during the flood", grew);
    cr_assert_eq(rc, 0, "no response: %s", strerror(-rc));
    h_assert_error(&r, 502, "upstream_protocol_error");
    cr_assert_lt(ms, 5000, "the 502 took %.0f ms (first_byte_timeout is 10 s)", ms);
    h_resp_free(&r);
    free(b);
    finish();
}

/* ---- 6: idle keep-alive connections after large translated requests ---- */

static void t6_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    static const char body[] =
        "{\"id\":\"msg_hostile\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"" HUPSTREAM
        "\",\"content\":[{\"type\":\"text\",\"text\":\"fine\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}";
    char msg[1024];
    snprintf(msg, sizeof(msg),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof(body) - 1, body);
    for (;;) {
        const struct hs_req *r;
        if (hs_read_request(c, &r, 15000) <= 0 || hs_send_str(c, msg) < 0)
            return;
    }
}

Test(hostile, idle_keepalive_connections_give_back_their_large_request_memory)
{
    if (UNDER_ASAN) {
        /* Freed memory waits in ASan's quarantine and would count as resident. */
        const char *prev = getenv("ASAN_OPTIONS");
        char opts[1024];
        snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0",
                 prev ? prev : "", prev && *prev ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
    }
    struct hs_opts ho = {.handler = t6_upstream};
    start(&ho, &(struct gw_cfg){.type = "anthropic", .workers = 1});
    char *small = chat_body("small", 16);
    struct h_resp r;
    cr_assert_eq(h_chat(small, NULL, &r), 0);
    assert_chat_ok(&r, "the warm-up");
    h_resp_free(&r);
    h_sleep_ms(200);
    long base = h_gw_rss_kb();
    cr_assert_gt(base, 0);

    char *big = chat_body("big", 8 * MiB);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, big, &len);
    struct h_conn c[4];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(h_conn_open(&c[i], H.gw_port), 0);
        cr_assert_eq(h_conn_send(&c[i], raw, len), 0);
        int rc = h_read_response(&c[i], &r, H_IO_TIMEOUT_MS);
        cr_assert_eq(rc, 0, "connection %d: %s", i, strerror(-rc));
        assert_chat_ok(&r, "a large translated request");
        cr_assert(r.keepalive, "connection %d is not kept alive", i);
        h_resp_free(&r);
    }
    h_sleep_ms(500);
    long idle = h_gw_rss_kb();
    long grew = idle - base;
    cr_log_info("RSS %ld KiB after the warm-up, %ld KiB with 4 idle connections", base, idle);
    cr_assert_lt(grew, 24 * 1024,
                 "with 4 idle connections conduit's RSS is %ld KiB over its baseline (%ld KiB)",
                 grew, base);
    for (int i = 0; i < 4; i++)
        h_conn_close(&c[i]);
    free(raw);
    free(big);
    free(small);
    finish();
}

/* ---- 7a: TLS without close_notify under a close-delimited body ---- */

static void t7a_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    const struct hs_req *r;
    if (hs_read_request(c, &r, 15000) <= 0)
        return;
    /* No Content-Length, not chunked: the body ends where the connection does. */
    static const char msg[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        "{\"id\":\"chatcmpl-cut\",\"object\":\"chat.completion\",\"created\":1700000000,"
        "\"model\":\"" HUPSTREAM "\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"this may not be all\"},\"finish_reason\":\"stop\"}]}";
    if (hs_send(c, msg, sizeof(msg) - 1) < 0)
        return;
    h_sleep_ms(50);
    hs_close(c); /* a TCP FIN with no TLS close_notify before it */
}

Test(hostile, tls_eof_without_close_notify_does_not_end_a_close_delimited_body)
{
    struct hs_opts ho = {.handler = t7a_upstream, .tls = true};
    start(&ho, &(struct gw_cfg){.tls = true});
    char *b = chat_body("tls", 16);
    struct h_resp r;
    int rc = h_chat(b, NULL, &r);
    cr_log_info("the client got %s (status %d)", rc ? strerror(-rc) : "a response",
                rc ? 0 : r.status);
    cr_assert(rc != 0 || r.status != 200,
              "a truncated TLS stream was relayed as a complete 200: %s", r.body);
    if (rc == 0) {
        cr_assert_geq(r.status, 500, "status %d: %s", r.status, r.body);
        h_resp_free(&r);
    }
    free(b);
    finish();
}

/* ---- 7b: no second copy of a POST the upstream read whole ---- */

static void t7b_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    for (;;) {
        const struct hs_req *r;
        if (hs_read_request(c, &r, 15000) <= 0)
            return;
        if (has_marker(c, r, "close-me")) {
            hs_close(c); /* read it all, answer nothing */
            return;
        }
        if (hs_send_chat(c, "fine") < 0)
            return;
    }
}

Test(hostile, post_read_whole_by_the_upstream_is_not_retried_after_a_close)
{
    struct hs_opts ho = {.handler = t7b_upstream};
    start(&ho, &(struct gw_cfg){.workers = 1});
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    pool_one(&c);
    char *b = chat_body("close-me", 64);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, b, &len);
    cr_assert_eq(h_conn_send(&c, raw, len), 0);
    struct h_resp r;
    cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
    h_assert_error(&r, 502, "upstream_reset");
    h_resp_free(&r);
    h_conn_close(&c);
    h_sleep_ms(200);
    hs_stop(S);
    size_t seen = 0;
    for (size_t i = 0; i < hs_nreqs(S); i++) {
        const struct hs_req *q = hs_req_at(S, i);
        if (memmem(hs_req_body(S, q), q->body_len, "close-me", 8))
            seen++;
    }
    cr_assert_eq(seen, 1, "the upstream got the POST %zu times", seen);
    free(raw);
    free(b);
    finish();
}

/* ---- 7c: 204 and 304 carry no body ---- */

static void t7c_upstream(struct hs_conn *c, void *arg)
{
    (void)arg;
    for (;;) {
        const struct hs_req *r;
        if (hs_read_request(c, &r, 15000) <= 0)
            return;
        int k;
        if (has_marker(c, r, "want-204"))
            k = hs_send_str(c, "HTTP/1.1 204 No Content\r\nX-Hostile: 1\r\n\r\n");
        else if (has_marker(c, r, "want-304"))
            k = hs_send_str(c, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n");
        else
            k = hs_send_chat(c, "fine");
        if (k < 0)
            return;
    }
}

/* Asks for `status` on c; asserts a prompt, bodiless answer with nothing after it. */
static void expect_bodiless(struct h_conn *c, int status)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "want-%d", status);
    char *b = chat_body(tag, 32);
    size_t len;
    char *raw = chat_request(H_CLIENT_KEY, b, &len);
    cr_assert_eq(h_conn_send(c, raw, len), 0);
    struct h_resp r;
    double t0 = h_now_ms();
    int rc = h_read_response(c, &r, 8000);
    double ms = h_now_ms() - t0;
    cr_assert_eq(rc, 0, "no response to the %d after %.0f ms: %s", status, ms, strerror(-rc));
    cr_assert_eq(r.status, status, "status %d, want %d: %s", r.status, status, r.body);
    cr_assert_eq(r.body_len, 0);
    cr_assert_lt(ms, 2000, "the %d took %.0f ms (read_timeout is 5 s)", status, ms);
    /* Nothing may follow the head: no chunk, no body. */
    h_sleep_ms(200);
    char peek[64];
    ssize_t extra = (ssize_t)c->len;
    if (!extra && !c->eof) {
        extra = recv(c->fd, peek, sizeof(peek), MSG_DONTWAIT | MSG_PEEK);
        if (extra == 0 || (extra < 0 && errno != EAGAIN))
            c->eof = true;
    }
    cr_assert(extra <= 0, "%zd bytes after the %d head: %.*s", extra, status,
              (int)(extra > 0 ? extra : 0), c->len ? c->buf : peek);
    h_resp_free(&r);
    free(raw);
    free(b);
}

Test(hostile, bodiless_204_and_304_are_relayed_at_once)
{
    struct hs_opts ho = {.handler = t7c_upstream};
    start(&ho, &(struct gw_cfg){.prov_lines = "    first_byte_timeout: 5s\n"
                                              "    read_timeout: 5s\n"});
    for (int status = 204; status <= 304; status += 100) {
        struct h_conn c;
        cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
        expect_bodiless(&c, status);
        /* When the connection stays open, the next answer on it is whole. */
        if (!c.eof) {
            struct h_resp r;
            char *b = chat_body("after", 16);
            size_t len;
            char *raw = chat_request(H_CLIENT_KEY, b, &len);
            if (h_conn_send(&c, raw, len) == 0 && h_read_response(&c, &r, 8000) == 0) {
                assert_chat_ok(&r, "the request after a bodiless answer");
                h_resp_free(&r);
            }
            free(raw);
            free(b);
        }
        h_conn_close(&c);
    }
    finish();
}

/* ---- 7h: the gateway's own early error, to a client still sending ---- */

/*
 * What most HTTP client libraries do: send the whole request, then read. The
 * client's send buffer is kept small, so the body cannot hide in socket
 * buffers: it gets through only if the gateway reads (and drops) it after
 * answering. The gateway drains up to GW_LINGER_MAX_BYTES (1 MiB) after an
 * early error, so a 768 KiB body must go through and the answer follow it.
 */
#define T7H_BODY (768 * 1024)

static void early_error_reaches_a_client_still_sending(const char *key, int status,
                                                       const char *code)
{
    char head[512];
    snprintf(head, sizeof(head),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
             "Content-Length: %u\r\n\r\n",
             key, T7H_BODY);
    size_t hl = strlen(head), len = hl + T7H_BODY;
    char *raw = malloc(len);
    cr_assert(raw != NULL);
    memcpy(raw, head, hl);
    memset(raw + hl, ' ', T7H_BODY);
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    int sndbuf = 16 * 1024;
    cr_assert_eq(setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    struct timeval tv = {8, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc = h_conn_send(&c, raw, len);
    cr_assert_eq(rc, 0,
                 "sending the body failed (%s): the gateway reset the connection "
                 "instead of reading what the client was still sending",
                 strerror(-rc));
    struct h_resp r;
    rc = h_read_response(&c, &r, H_IO_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "no whole response: %s", strerror(-rc));
    h_assert_error(&r, status, code);
    h_resp_free(&r);
    /* Then the gateway's end of the connection closes cleanly. */
    char tail[256];
    struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
    cr_assert_gt(poll(&pfd, 1, 5000), 0, "the connection stayed open after the error");
    ssize_t n = recv(c.fd, tail, sizeof(tail), 0);
    cr_assert(n == 0, "after the error: %s", n < 0 ? strerror(errno) : "more bytes");
    h_conn_close(&c);
    free(raw);
}

Test(hostile, gateway_413_reaches_a_client_still_sending_its_body)
{
    struct hs_opts ho = {.handler = t7c_upstream};
    start(&ho, &(struct gw_cfg){.server_lines = "  max_body_bytes: 1KiB\n"});
    early_error_reaches_a_client_still_sending(H_CLIENT_KEY, 413, "request_too_large");
    finish();
}

Test(hostile, gateway_401_reaches_a_client_still_sending_its_body)
{
    struct hs_opts ho = {.handler = t7c_upstream};
    start(&ho, &(struct gw_cfg){0});
    early_error_reaches_a_client_still_sending("sk-not-a-key", 401, "invalid_api_key");
    finish();
}
