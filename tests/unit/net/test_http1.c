/*
 * tests/unit/net/test_http1.c — request/response head parsing and the chunked
 * decoder (net/http1.c), fed heads as real clients and upstreams send them.
 *
 * Every input is copied into a heap buffer of exactly its length before it is
 * parsed, so a sanitizer build catches any read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "net/http1.h"

#define MAXH 64

static struct gw_http1_header hdrs[MAXH];

/* Heap copy of exactly n bytes (at least one allocated so malloc(0) is not NULL). */
static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    if (n)
        memcpy(p, s, n);
    return p;
}

/*
 * Parses raw[0..n) with max header slots: a request head into req, or a
 * response head into resp when req is NULL. In place when in_place (spans
 * stay valid while raw lives); otherwise from an exact-size heap copy, freed
 * before returning, so callers look only at counts, flags and err.
 */
static int parse_head(const char *raw, size_t n, struct gw_http1_req *req,
                      struct gw_http1_resp *resp, size_t max, bool in_place)
{
    char *copy = in_place ? NULL : dup_exact(raw, n);
    const char *b = copy ? copy : raw;
    int r = req ? gw_http1_parse_request(b, n, req, hdrs, max)
                : gw_http1_parse_response(b, n, resp, hdrs, max);
    free(copy);
    return r;
}

static int parse_req_n(const char *s, size_t n, struct gw_http1_req *req, size_t max)
{
    return parse_head(s, n, req, NULL, max, false);
}

static int parse_resp_n(const char *s, size_t n, struct gw_http1_resp *resp, size_t max)
{
    return parse_head(s, n, NULL, resp, max, false);
}

/* Parses s in place (spans stay valid while s lives). */
static int parse_req(const char *s, struct gw_http1_req *req)
{
    return parse_head(s, strlen(s), req, NULL, MAXH, true);
}

/* Parses raw in place, a request into req or a response into resp; all of raw is the head. */
static void expect_whole(const char *raw, struct gw_http1_req *req, struct gw_http1_resp *resp)
{
    int r = parse_head(raw, strlen(raw), req, resp, MAXH, true);
    enum gw_http1_err err = req ? req->err : resp->err;
    cr_assert_eq(r, (int)strlen(raw), "<<%s>>: r=%d err %s", raw, r, gw_http1_err_str(err));
}

#define F_CHUNKED GW_H1_F_CHUNKED
#define F_KA GW_H1_F_KEEPALIVE
#define F_100 GW_H1_F_EXPECT_100
#define F_CL GW_H1_F_HAS_CL

static bool span_is(struct gw_span s, const char *lit)
{
    return gw_span_eq(s, gw_span_cstr(lit));
}

static const char *hval(const struct gw_http1_header *h, size_t n, const char *name)
{
    static char out[256];
    const struct gw_http1_header *f = gw_http1_find(h, n, name);
    if (!f)
        return NULL;
    cr_assert_lt(f->value.len, sizeof(out));
    memcpy(out, f->value.ptr, f->value.len);
    out[f->value.len] = '\0';
    return out;
}

/* ---- real request heads ---- */

static const char CURL_REQ[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                               "Host: localhost:8080\r\n"
                               "User-Agent: curl/8.5.0\r\n"
                               "Accept: */*\r\n"
                               "Content-Type: application/json\r\n"
                               "Authorization: Bearer condt_3f9a1c2b7d8e4f60a1b2c3d4e5f60718\r\n"
                               "Content-Length: 84\r\n"
                               "\r\n";

static const char PY_REQ[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                             "Host: api.openai.com\r\n"
                             "Accept-Encoding: gzip, deflate\r\n"
                             "Connection: keep-alive\r\n"
                             "Accept: application/json\r\n"
                             "Content-Type: application/json\r\n"
                             "User-Agent: OpenAI/Python 1.54.3\r\n"
                             "X-Stainless-Lang: python\r\n"
                             "X-Stainless-Package-Version: 1.54.3\r\n"
                             "X-Stainless-OS: Linux\r\n"
                             "X-Stainless-Arch: x64\r\n"
                             "X-Stainless-Runtime: CPython\r\n"
                             "X-Stainless-Runtime-Version: 3.11.9\r\n"
                             "Authorization: Bearer sk-proj-Zx8c1vQ2wE3rT4yU5iO6pA7sD8fG9hJ0\r\n"
                             "X-Stainless-Async: false\r\n"
                             "x-stainless-retry-count: 0\r\n"
                             "Content-Length: 113\r\n"
                             "\r\n";

static const char NODE_REQ[] = "POST /v1/chat/completions HTTP/1.1\r\n"
                               "host: localhost:8080\r\n"
                               "connection: keep-alive\r\n"
                               "content-type: application/json\r\n"
                               "accept: application/json\r\n"
                               "authorization: Bearer condt_node0123456789abcdef\r\n"
                               "user-agent: OpenAI/JS 4.73.0\r\n"
                               "x-stainless-lang: js\r\n"
                               "x-stainless-package-version: 4.73.0\r\n"
                               "x-stainless-os: Linux\r\n"
                               "x-stainless-arch: x64\r\n"
                               "x-stainless-runtime: node\r\n"
                               "x-stainless-runtime-version: v20.11.1\r\n"
                               "x-stainless-retry-count: 0\r\n"
                               "content-length: 120\r\n"
                               "accept-language: *\r\n"
                               "sec-fetch-mode: cors\r\n"
                               "accept-encoding: gzip, deflate\r\n"
                               "\r\n";

static const char GET_REQ[] = "GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n";

static const char CHUNKED_REQ[] = "POST /v1/embeddings HTTP/1.1\r\n"
                                  "Host: gw\r\n"
                                  "Transfer-Encoding:  Chunked \t\r\n"
                                  "Expect: 100-continue\r\n"
                                  "\r\n";

static const char HTTP10_REQ[] = "GET /healthz HTTP/1.0\r\n"
                                 "User-Agent: ApacheBench/2.3\r\n"
                                 "Connection: Keep-Alive\r\n"
                                 "\r\n";

/* ---- real response heads ---- */

static const char RESP_200_CL[] = "HTTP/1.1 200 OK\r\n"
                                  "Date: Sat, 30 Nov 2024 20:53:20 GMT\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: 812\r\n"
                                  "Connection: keep-alive\r\n"
                                  "access-control-expose-headers: X-Request-ID\r\n"
                                  "openai-organization: user-abc123\r\n"
                                  "openai-processing-ms: 431\r\n"
                                  "openai-version: 2020-10-01\r\n"
                                  "x-ratelimit-limit-requests: 10000\r\n"
                                  "x-ratelimit-limit-tokens: 200000\r\n"
                                  "x-ratelimit-remaining-requests: 9999\r\n"
                                  "x-ratelimit-remaining-tokens: 199971\r\n"
                                  "x-ratelimit-reset-requests: 8.64s\r\n"
                                  "x-ratelimit-reset-tokens: 8ms\r\n"
                                  "x-request-id: req_5c1e8f0a6b2d4e7f9a3c1b0d2e4f6a8c\r\n"
                                  "strict-transport-security: max-age=31536000; "
                                  "includeSubDomains; preload\r\n"
                                  "CF-Cache-Status: DYNAMIC\r\n"
                                  "Server: cloudflare\r\n"
                                  "CF-RAY: 8eb0c1d2e3f4a5b6-SJC\r\n"
                                  "alt-svc: h3=\":443\"; ma=86400\r\n"
                                  "\r\n";

static const char RESP_SSE[] = "HTTP/1.1 200 OK\r\n"
                               "Date: Sat, 30 Nov 2024 20:53:21 GMT\r\n"
                               "Content-Type: text/event-stream; charset=utf-8\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Connection: keep-alive\r\n"
                               "openai-processing-ms: 180\r\n"
                               "x-request-id: req_0a1b2c3d4e5f\r\n"
                               "Server: cloudflare\r\n"
                               "\r\n";

static const char RESP_429[] = "HTTP/1.1 429 Too Many Requests\r\n"
                               "Date: Sat, 30 Nov 2024 20:53:22 GMT\r\n"
                               "Content-Type: application/json; charset=utf-8\r\n"
                               "Content-Length: 329\r\n"
                               "Connection: keep-alive\r\n"
                               "retry-after: 20\r\n"
                               "x-ratelimit-remaining-requests: 0\r\n"
                               "x-request-id: req_429\r\n"
                               "\r\n";

static const char RESP_CLOSE[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                 "Content-Length: 19\r\n"
                                 "Connection: close\r\n"
                                 "\r\n";

static const char RESP_10[] = "HTTP/1.0 200 OK\r\n"
                              "Server: SimpleHTTP/0.6 Python/3.11.9\r\n"
                              "Content-type: application/json\r\n"
                              "\r\n";

static const char RESP_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/*
 * Valid heads and all the parser reads from them, by the test that checks
 * them: requests (status 0, no reason) and responses; headers lists up to two
 * fields (looked up in any case) and the values they must have.
 */
enum head_check {
    RQ_HTTP10,
    RQ_CLOSE,
    RQ_LENGTH,
    RS_200,
    RS_SSE,
    RS_429,
    RS_CLOSE,
    RS_HTTP10,
    RS_BODYLESS,
    RS_REASON
};

/* A request head: no status or reason, no header value checked. */
#define REQ_HEAD(check, raw, minor, flags, content_length, num_headers)                            \
    {                                                                                              \
        check, raw, minor, 0, NULL, flags, content_length, num_headers,                            \
        {                                                                                          \
            {                                                                                      \
                NULL                                                                               \
            }                                                                                      \
        }                                                                                          \
    }

/* A response head whose header values are not checked. */
#define RESP_HEAD(check, raw, minor, status, reason, flags, content_length, num_headers)           \
    {                                                                                              \
        check, raw, minor, status, reason, flags, content_length, num_headers,                     \
        {                                                                                          \
            {                                                                                      \
                NULL                                                                               \
            }                                                                                      \
        }                                                                                          \
    }

static const struct head {
    enum head_check check;
    const char *raw;
    int minor, status;
    const char *reason;
    unsigned flags;
    uint64_t content_length;
    size_t num_headers;
    const char *headers[2][2];
} valid_heads[] = {
    REQ_HEAD(RQ_HTTP10, HTTP10_REQ, 0, F_KA, 0, 2),
    REQ_HEAD(RQ_HTTP10, "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 0, 0, 0, 1),
    REQ_HEAD(RQ_HTTP10, "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, 0, 0, 1),
    /* RFC 9110 §10.1.1: 100-continue from an HTTP/1.0 client is ignored. */
    REQ_HEAD(RQ_HTTP10, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 0,
             F_CL, 1, 2),

    REQ_HEAD(RQ_CLOSE, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, 0, 0, 2),
    REQ_HEAD(RQ_CLOSE, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade ,\t CLOSE \r\n\r\n", 1, 0,
             0, 2),
    REQ_HEAD(RQ_CLOSE, "GET / HTTP/1.1\r\nConnection: te\r\nconnection: Close\r\nHost: a\r\n\r\n",
             1, 0, 0, 3),
    REQ_HEAD(RQ_CLOSE, "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n", 1, F_KA,
             0, 2),

    REQ_HEAD(RQ_LENGTH, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1, F_CL | F_KA,
             0, 2),
    REQ_HEAD(RQ_LENGTH,
             "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", 1,
             F_CL | F_KA, UINT64_MAX, 2),
    REQ_HEAD(RQ_LENGTH, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", 1, F_CL | F_KA,
             7, 2),

    {RS_200,
     RESP_200_CL,
     1,
     200,
     "OK",
     F_CL | F_KA,
     812,
     20,
     {{"x-ratelimit-reset-requests", "8.64s"}, {"alt-svc", "h3=\":443\"; ma=86400"}}},
    {RS_SSE,
     RESP_SSE,
     1,
     200,
     "OK",
     F_CHUNKED | F_KA,
     0,
     7,
     {{"content-type", "text/event-stream; charset=utf-8"}}},
    {RS_429, RESP_429, 1, 429, "Too Many Requests", F_CL | F_KA, 329, 7, {{"Retry-After", "20"}}},
    RESP_HEAD(RS_CLOSE, RESP_CLOSE, 1, 503, "Service Unavailable", F_CL, 19, 2),
    /* HTTP/1.0 without a length reads to EOF. */
    RESP_HEAD(RS_HTTP10, RESP_10, 0, 200, "OK", 0, 0, 2),
    RESP_HEAD(RS_HTTP10, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
              0, 200, "OK", F_CL | F_KA, 2, 2),
    RESP_HEAD(RS_BODYLESS, RESP_100, 1, 100, "Continue", F_KA, 0, 0),
    RESP_HEAD(RS_BODYLESS, "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", 1, 204, "No Content",
              F_KA, 0, 1),
    RESP_HEAD(RS_BODYLESS, "HTTP/1.1 304 Not Modified\r\n\r\n", 1, 304, "Not Modified", F_KA, 0, 0),
    /* A 1.1 200 with neither length nor chunked is close-delimited. */
    RESP_HEAD(RS_BODYLESS, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", 1, 200, "OK", 0,
              0, 1),
    RESP_HEAD(RS_REASON, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 1, 200, "", F_CL | F_KA, 0,
              1),
    RESP_HEAD(RS_REASON, "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", 1, 404, "", F_CL | F_KA, 0,
              1),
    RESP_HEAD(RS_REASON, "HTTP/1.1 599 we\xc3\xa9 \t x \r\n\r\n", 1, 599, "we\xc3\xa9 \t x ", 0, 0,
              0),
};

static void expect_head(const struct head *h)
{
    struct gw_http1_req req;
    struct gw_http1_resp resp;
    char flags[GW_H1_FLAGS_STR_SIZE];
    bool is_resp = h->status != 0;
    expect_whole(h->raw, is_resp ? NULL : &req, is_resp ? &resp : NULL);
    if (is_resp) {
        cr_expect_eq(resp.status, h->status, "<<%s>>: status", h->raw);
        cr_expect(span_is(resp.reason, h->reason), "<<%s>>: reason", h->raw);
    }
    int minor = is_resp ? resp.minor_version : req.minor_version;
    unsigned got_flags = is_resp ? resp.flags : req.flags;
    uint64_t content_length = is_resp ? resp.content_length : req.content_length;
    size_t num_headers = is_resp ? resp.num_headers : req.num_headers;
    const struct gw_http1_header *headers = is_resp ? resp.headers : req.headers;
    cr_expect_eq(minor, h->minor, "<<%s>>: minor version", h->raw);
    cr_expect_eq(got_flags, h->flags, "<<%s>>: flags %s", h->raw,
                 gw_http1_flags_str(got_flags, flags, sizeof(flags)));
    cr_expect_eq(content_length, h->content_length, "<<%s>>: Content-Length", h->raw);
    cr_expect_eq(num_headers, h->num_headers, "<<%s>>: header count", h->raw);
    cr_expect_eq(headers, hdrs, "<<%s>>: header storage", h->raw);
    for (size_t j = 0; j < 2 && h->headers[j][0]; j++) {
        const char *v = hval(hdrs, num_headers, h->headers[j][0]);
        cr_expect_str_eq(v ? v : "(none)", h->headers[j][1], "<<%s>>: %s", h->raw,
                         h->headers[j][0]);
    }
}

static void expect_heads(enum head_check check)
{
    size_t n = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(valid_heads); i++)
        if (valid_heads[i].check == check) {
            expect_head(&valid_heads[i]);
            n++;
        }
    cr_assert_gt(n, 0);
}

/* An SDK's POST: the whole head, its header count and its length; keep-alive. */
static void expect_post_head(const char *raw, size_t num_headers, uint64_t content_length,
                             struct gw_http1_req *req)
{
    expect_whole(raw, req, NULL);
    cr_assert_eq(req->num_headers, num_headers, "<<%s>>", raw);
    cr_assert_eq(req->flags, F_CL | F_KA, "<<%s>>", raw);
    cr_assert_eq(req->content_length, content_length, "<<%s>>", raw);
}

Test(http1_request, parses_curl_post)
{
    struct gw_http1_req req;
    expect_post_head(CURL_REQ, 6, 84, &req);
    cr_assert(span_is(req.method, "POST"));
    cr_assert(span_is(req.target, "/v1/chat/completions"));
    cr_assert_eq(req.minor_version, 1);
    cr_assert_eq(req.headers, hdrs);
    cr_assert_eq(req.err, GW_H1E_NONE);
    cr_assert(span_is(hdrs[0].name, "Host"));
    cr_assert(span_is(hdrs[0].value, "localhost:8080"));
    cr_assert_str_eq(hval(hdrs, req.num_headers, "authorization"),
                     "Bearer condt_3f9a1c2b7d8e4f60a1b2c3d4e5f60718");
    cr_assert_str_eq(hval(hdrs, req.num_headers, "ACCEPT"), "*/*");
}

Test(http1_request, parses_openai_python_sdk_post)
{
    struct gw_http1_req req;
    expect_post_head(PY_REQ, 16, 113, &req);
    cr_assert_str_eq(hval(hdrs, req.num_headers, "x-stainless-lang"), "python");
    cr_assert_str_eq(hval(hdrs, req.num_headers, "X-STAINLESS-RETRY-COUNT"), "0");
    cr_assert_str_eq(hval(hdrs, req.num_headers, "accept-encoding"), "gzip, deflate");
    cr_assert_str_eq(hval(hdrs, req.num_headers, "Authorization"),
                     "Bearer sk-proj-Zx8c1vQ2wE3rT4yU5iO6pA7sD8fG9hJ0");
    cr_assert_null(gw_http1_find(hdrs, req.num_headers, "x-stainless"));
}

Test(http1_request, parses_openai_node_sdk_post)
{
    struct gw_http1_req req;
    expect_post_head(NODE_REQ, 17, 120, &req);
    cr_assert_str_eq(hval(hdrs, req.num_headers, "User-Agent"), "OpenAI/JS 4.73.0");
    cr_assert_str_eq(hval(hdrs, req.num_headers, "x-stainless-runtime-version"), "v20.11.1");
}

Test(http1_request, parses_get_without_body)
{
    struct gw_http1_req req;
    expect_whole(GET_REQ, &req, NULL);
    cr_assert(span_is(req.method, "GET"));
    cr_assert(span_is(req.target, "/v1/models"));
    cr_assert_eq(req.flags, GW_H1_F_KEEPALIVE);
    cr_assert_eq(req.content_length, 0);
}

Test(http1_request, chunked_with_ows_and_expect_continue)
{
    struct gw_http1_req req;
    expect_whole(CHUNKED_REQ, &req, NULL);
    cr_assert_eq(req.flags, F_CHUNKED | F_KA | F_100);
    cr_assert(span_is(hdrs[1].value, "Chunked"));
}

Test(http1_request, http10_keepalive_only_when_asked)
{
    expect_heads(RQ_HTTP10);
}

Test(http1_request, connection_close_is_a_case_insensitive_token_list)
{
    expect_heads(RQ_CLOSE);
}

Test(http1_request, values_are_trimmed_and_may_hold_obs_text)
{
    struct gw_http1_req req;
    const char *s = "GET / HTTP/1.1\r\n"
                    "A:\t  x y \t \r\n"
                    "B:\r\n"
                    "C:    \r\n"
                    "D: caf\xc3\xa9\tok\r\n"
                    "!#$%&'*+-.^_`|~09azAZ: token\r\n"
                    "Host: a\r\n"
                    "\r\n";
    expect_whole(s, &req, NULL);
    cr_assert_eq(req.num_headers, 6);
    cr_assert(span_is(hdrs[0].value, "x y"));
    cr_assert_eq(hdrs[1].value.len, 0);
    cr_assert_eq(hdrs[2].value.len, 0);
    cr_assert(span_is(hdrs[3].value, "caf\xc3\xa9\tok"));
    cr_assert(span_is(hdrs[4].name, "!#$%&'*+-.^_`|~09azAZ"));

    /* Tabs stop the word-at-a-time scan; it must resume after each one. */
    const char *tabs = "GET / HTTP/1.1\r\n"
                       "X-Tabs: a\tb\t\tc\t0123456789abcdef\t\t\t\t\t\t\t\t\tz\t\r\n"
                       "Host: a\r\n"
                       "\r\n";
    expect_whole(tabs, &req, NULL);
    cr_assert(span_is(hdrs[0].value, "a\tb\t\tc\t0123456789abcdef\t\t\t\t\t\t\t\t\tz"));
}

Test(http1_request, content_length_bounds)
{
    expect_heads(RQ_LENGTH);
}

Test(http1_request, leading_empty_lines_are_skipped)
{
    struct gw_http1_req req;
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    expect_whole(s, &req, NULL);
    cr_assert(span_is(req.method, "GET"));
}

Test(http1_request, odd_but_valid_request_lines)
{
    struct gw_http1_req req;
    const char *star = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    expect_whole(star, &req, NULL);
    cr_assert(span_is(req.target, "*"));
    cr_assert_eq(req.num_headers, 1);

    const char *q = "GET /v1/models?limit=10&x=%20y HTTP/1.1\r\nHost: a\r\n\r\n";
    expect_whole(q, &req, NULL);
    cr_assert(span_is(req.target, "/v1/models?limit=10&x=%20y"));

    const char *ext = "M-SEARCH~ /x HTTP/1.1\r\nHost: a\r\n\r\n";
    expect_whole(ext, &req, NULL);
    cr_assert(span_is(req.method, "M-SEARCH~"));
}

Test(http1_request, pipelined_requests_parse_one_after_another)
{
    struct gw_http1_req req;
    const char *body =
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    char buf[2048];
    size_t off = 0;
    const char *h1 = "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: ";
    off +=
        (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%zu\r\n\r\n%s", h1, strlen(body), body);
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s", GET_REQ);
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s", "GET /v1/models/x HTTP/1.1\r\n");

    int r = gw_http1_parse_request(buf, off, &req, hdrs, MAXH);
    cr_assert_gt(r, 0);
    cr_assert(span_is(req.target, "/v1/chat/completions"));
    cr_assert_eq(req.content_length, strlen(body));
    size_t pos = (size_t)r;
    cr_assert_eq(memcmp(buf + pos, body, strlen(body)), 0);
    pos += req.content_length;

    r = gw_http1_parse_request(buf + pos, off - pos, &req, hdrs, MAXH);
    cr_assert_eq(r, (int)strlen(GET_REQ));
    cr_assert(span_is(req.target, "/v1/models"));
    pos += (size_t)r;

    r = gw_http1_parse_request(buf + pos, off - pos, &req, hdrs, MAXH);
    cr_assert_eq(r, -2);
}

Test(http1_request, header_count_limit)
{
    struct gw_http1_req req;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nB: 2\r\nC: 3\r\n\r\n";
    size_t n = strlen(s);
    cr_assert_eq(parse_req_n(s, n, &req, 3), (int)n);
    cr_assert_eq(req.num_headers, 3);
    cr_assert_eq(parse_req_n(s, n, &req, 2), -1);
    cr_assert_eq(req.err, GW_H1E_TOO_MANY_HEADERS);

    const char *none = "GET / HTTP/1.0\r\n\r\n";
    cr_assert_eq(parse_req_n(none, strlen(none), &req, 0), (int)strlen(none));
    cr_assert_eq(parse_req_n(s, n, &req, 0), -1);
    cr_assert_eq(req.err, GW_H1E_TOO_MANY_HEADERS);

    /* The real SDK heads fit the gateway's budget but not a tiny one. */
    cr_assert_eq(parse_req_n(NODE_REQ, strlen(NODE_REQ), &req, 16), -1);
    cr_assert_eq(req.err, GW_H1E_TOO_MANY_HEADERS);
    cr_assert_eq(parse_req_n(NODE_REQ, strlen(NODE_REQ), &req, 17), (int)strlen(NODE_REQ));
}

/* ---- request errors ---- */

struct err_case {
    bool resp; /* a response head; a request head otherwise */
    const char *raw;
    size_t len; /* inputs may hold NUL bytes */
    enum gw_http1_err err;
};

/* A request (RQ) or response (RS) head of these exact bytes. */
#define RQ(s) false, s, sizeof(s) - 1
#define RS(s) true, s, sizeof(s) - 1
/* A head after the usual first line: header lines h (each ending CRLF), then the empty line. */
#define GET11(h) RQ("GET / HTTP/1.1\r\n" h "\r\n")
#define POST11(h) RQ("POST / HTTP/1.1\r\n" h "\r\n")
#define RESP11(h) RS("HTTP/1.1 200 OK\r\n" h "\r\n")
#define E(err) GW_H1E_##err

static const struct err_case head_errors[] = {
    /* ---- requests ---- */
    /* request line */
    {RQ("G@T / HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ(" / HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET  / HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET /a b HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET /a\x01 HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET /a\x7f HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET /a\tb HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET /\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET / HTTP/1.1 \r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("GET\t/ HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    {RQ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), E(BAD_REQUEST_LINE)}, /* TLS hello */
    /* version */
    {RQ("GET / HTTP/1.2\r\n\r\n"), E(BAD_VERSION)},
    {RQ("GET / HTTP/2.0\r\n\r\n"), E(BAD_VERSION)},
    {RQ("GET / HTTP/1.10\r\n\r\n"), E(BAD_VERSION)},
    {RQ("GET / HTTP/1\r\n\r\n"), E(BAD_VERSION)},
    {RQ("GET / http/1.1\r\n\r\n"), E(BAD_VERSION)},
    {RQ("GET / \r\n\r\n"), E(BAD_VERSION)},
    {RQ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), E(BAD_VERSION)},
    /* line endings */
    {RQ("GET / HTTP/1.1\n\n"), E(BARE_LF)},
    {RQ("GET / HTTP/1.1\rX\r\n\r\n"), E(BARE_LF)},
    {RQ("GET / HTTP/1.1\r\nHost: a\n\r\n"), E(BARE_LF)},
    {RQ("GET / HTTP/1.1\r\nHost: a\r\n\n"), E(BARE_LF)},
    {RQ("GET / HTTP/1.1\r\nHost: a\r\n\rX"), E(BARE_LF)},
    {GET11("Host: a\rb\r\n"), E(BARE_LF)},
    {GET11("Host\n: a\r\n"), E(BARE_LF)},
    {RQ("\nGET / HTTP/1.1\r\n\r\n"), E(BARE_LF)},
    {RQ("\rGET / HTTP/1.1\r\n\r\n"), E(BARE_LF)},
    {RQ("GET\n"), E(BARE_LF)},
    /* header syntax */
    {GET11("Host : a\r\n"), E(BAD_HEADER)},
    {GET11("Host\t: a\r\n"), E(BAD_HEADER)},
    {GET11("X-A: 1\r\n  folded\r\n"), E(BAD_HEADER)},
    {GET11("X-A: 1\r\n\tfolded\r\n"), E(BAD_HEADER)},
    {GET11(" Host: a\r\n"), E(BAD_HEADER)},
    {GET11("Ho(st: a\r\n"), E(BAD_HEADER)},
    {GET11("Ho\"st: a\r\n"), E(BAD_HEADER)},
    {GET11(": a\r\n"), E(BAD_HEADER)},
    {GET11("Host\r\n"), E(BAD_HEADER)},
    {GET11("H\xc3\xb6st: a\r\n"), E(BAD_HEADER)},
    {GET11("X-A: a\001b\r\n"), E(BAD_HEADER)},
    {GET11("X-A: a\x7f\r\n"), E(BAD_HEADER)},
    {GET11("X-A: 0123456789abcdef\x1b[0m\r\n"), E(BAD_HEADER)},
    {GET11("X-A: a\tb\tc\td\te\tf\tg\th\t\x01\r\n"), E(BAD_HEADER)},
    {GET11("X-A: \t\t\t\t\t\t\t\t\t\x0b\r\n"), E(BAD_HEADER)},
    {RQ("GET /0123456789abcdef0123456789\x0b HTTP/1.1\r\n\r\n"), E(BAD_REQUEST_LINE)},
    /* Content-Length */
    {POST11("Content-Length: abc\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length:\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: -1\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: +5\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 1 2\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 0x10\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 5,\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 5, x\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 18446744073709551616\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 99999999999999999999999999\r\n"), E(BAD_CONTENT_LENGTH)},
    {POST11("Content-Length: 5\r\nContent-Length: 5\r\n"), E(DUP_CONTENT_LENGTH)},
    {POST11("Content-Length: 5\r\ncontent-length: 6\r\n"), E(DUP_CONTENT_LENGTH)},
    {POST11("Content-Length: 5, 5\r\n"), E(DUP_CONTENT_LENGTH)},
    {POST11("Content-Length: 5,5\r\n"), E(DUP_CONTENT_LENGTH)},
    {POST11("Content-Length: 5\r\nContent-Length: x\r\n"), E(DUP_CONTENT_LENGTH)},
    /* Transfer-Encoding */
    {POST11("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), E(CL_AND_TE)},
    {POST11("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), E(CL_AND_TE)},
    {POST11("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n"), E(CL_AND_TE)},
    {POST11("Transfer-Encoding: gzip\r\n"), E(BAD_TRANSFER_ENCODING)},
    {POST11("Transfer-Encoding: identity\r\n"), E(BAD_TRANSFER_ENCODING)},
    {POST11("Transfer-Encoding: chunked, chunked\r\n"), E(BAD_TRANSFER_ENCODING)},
    {POST11("Transfer-Encoding: gzip, chunked\r\n"), E(BAD_TRANSFER_ENCODING)},
    {POST11("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
     E(BAD_TRANSFER_ENCODING)},
    {POST11("Transfer-Encoding: xchunked\r\n"), E(BAD_TRANSFER_ENCODING)},
    {POST11("Transfer-Encoding:\r\n"), E(BAD_TRANSFER_ENCODING)},
    {RQ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), E(BAD_TRANSFER_ENCODING)},
    /* Host (RFC 9112 §3.2) */
    {RQ("GET / HTTP/1.1\r\n\r\n"), E(MISSING_HOST)},
    {GET11("X-Host: a\r\nHost-Name: b\r\nHosts: c\r\n"), E(MISSING_HOST)},
    {RQ("\r\nPOST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), E(MISSING_HOST)},
    {GET11("Host: a\r\nHost: b\r\n"), E(DUP_HOST)},
    {GET11("Host: a\r\nHost: a\r\n"), E(DUP_HOST)},
    {GET11("host: a\r\nX: 1\r\nHOST: b\r\n"), E(DUP_HOST)},
    {GET11("Host:\r\nHost: b\r\n"), E(DUP_HOST)},
    {RQ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), E(DUP_HOST)},
    /* ---- responses ---- */
    {RS("HTTP/1.2 200 OK\r\n\r\n"), E(BAD_VERSION)},
    {RS("HTTP/2 200 OK\r\n\r\n"), E(BAD_VERSION)},
    {RS("HTTP/1.10 200 OK\r\n\r\n"), E(BAD_VERSION)},
    {RS("http/1.1 200 OK\r\n\r\n"), E(BAD_VERSION)},
    {RS("ICY 200 OK\r\n\r\n"), E(BAD_VERSION)},
    {RS("HTTP/1.1\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1  200 OK\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 20 OK\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 2000 OK\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 099 OK\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 600 OK\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 abc OK\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 200 O\x01K\r\n\r\n"), E(BAD_STATUS_LINE)},
    {RS("HTTP/1.1 200 OK\n\r\n"), E(BARE_LF)},
    {RS("HTTP/1.1 200 OK\rX\r\n"), E(BARE_LF)},
    {RS("HTTP/1.1 200 OK\r\nServer: x\n\r\n"), E(BARE_LF)},
    {RS("HTTP/1.1 200 OK\r\n\n"), E(BARE_LF)},
    {RESP11("Server : x\r\n"), E(BAD_HEADER)},
    {RESP11("Server: x\r\n y\r\n"), E(BAD_HEADER)},
    {RESP11("Server: x\x00y\r\n"), E(BAD_HEADER)},
    {RESP11("Content-Length: 1x\r\n"), E(BAD_CONTENT_LENGTH)},
    {RESP11("Content-Length: 3\r\nContent-Length: 3\r\n"), E(DUP_CONTENT_LENGTH)},
    {RESP11("Content-Length: 3, 3\r\n"), E(DUP_CONTENT_LENGTH)},
    {RESP11("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"), E(CL_AND_TE)},
    {RESP11("Transfer-Encoding: gzip, chunked\r\n"), E(BAD_TRANSFER_ENCODING)},
    {RS("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), E(BAD_TRANSFER_ENCODING)},
};

/*
 * Parses the first n bytes of raw, a response head when resp and a request
 * head otherwise, from an exact-size heap copy; returns the parser's result
 * and its error.
 */
static int parse_head_n(bool resp, const char *raw, size_t n, enum gw_http1_err *err)
{
    if (resp) {
        struct gw_http1_resp r = {.err = GW_H1E_NONE};
        int rc = parse_resp_n(raw, n, &r, MAXH);
        *err = r.err;
        return rc;
    }
    struct gw_http1_req q = {.err = GW_H1E_NONE};
    int rc = parse_req_n(raw, n, &q, MAXH);
    *err = q.err;
    return rc;
}

/* Each invalid head of the kind fails with its reason; every prefix is incomplete or already that.
 */
static void expect_head_errors(bool resp)
{
    size_t n = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(head_errors); i++) {
        const struct err_case *c = &head_errors[i];
        if (c->resp != resp)
            continue;
        n++;
        enum gw_http1_err err;
        int r = parse_head_n(resp, c->raw, c->len, &err);
        cr_expect_eq(r, -1, "case %zu (%s): r=%d", i, c->raw, r);
        cr_expect_eq(err, c->err, "case %zu (%s): err %s, want %s", i, c->raw,
                     gw_http1_err_str(err), gw_http1_err_str(c->err));
        for (size_t k = 0; k < c->len; k++) {
            r = parse_head_n(resp, c->raw, k, &err);
            cr_assert(r == -2 || (r == -1 && err == c->err),
                      "case %zu prefix %zu of %s: r=%d err=%d want %d", i, k, c->raw, r, err,
                      c->err);
        }
    }
    cr_assert_gt(n, 0);
}

/* Every cut of each valid head is incomplete; the whole of it parses. */
static void expect_cuts_incomplete(bool resp, const char *const *heads, size_t nheads)
{
    for (size_t i = 0; i < nheads; i++) {
        size_t n = strlen(heads[i]);
        enum gw_http1_err err;
        for (size_t k = 0; k < n; k++) {
            int r = parse_head_n(resp, heads[i], k, &err);
            cr_assert_eq(r, -2, "%s %zu cut at %zu/%zu gave %d (err %d)",
                         resp ? "response" : "request", i, k, n, r, err);
        }
        cr_assert_eq(parse_head_n(resp, heads[i], n, &err), (int)n, "%s %zu",
                     resp ? "response" : "request", i);
    }
}

Test(http1_request, each_error_has_its_reason)
{
    expect_head_errors(false);
}

/* ---- Host (RFC 9112 §3.2) ---- */

Test(http1_request, http11_without_host_is_refused_at_the_end_of_the_head)
{
    struct gw_http1_req req;
    const char *s = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    size_t head = strlen(s) - 2;
    /* Every cut before the final CRLF is still incomplete: Host could yet arrive. */
    for (size_t k = 0; k < head; k++)
        cr_assert_eq(parse_req_n(s, k, &req, MAXH), -2, "cut at %zu", k);
    cr_assert_eq(parse_req_n(s, head, &req, MAXH), -1);
    cr_assert_eq(req.err, GW_H1E_MISSING_HOST);
    cr_assert_eq(parse_req(s, &req), -1);
    cr_assert_eq(req.err, GW_H1E_MISSING_HOST);
    cr_assert_eq(req.minor_version, 1);
    cr_assert_str_eq(gw_http1_err_str(GW_H1E_MISSING_HOST),
                     "HTTP/1.1 request without a Host header");
}

Test(http1_request, http10_without_host_is_accepted)
{
    struct gw_http1_req req;
    const char *s = "GET /healthz HTTP/1.0\r\n\r\n";
    expect_whole(s, &req, NULL);
    cr_assert_eq(req.minor_version, 0);
    cr_assert_eq(req.num_headers, 0);

    const char *post = "POST /v1/embeddings HTTP/1.0\r\nContent-Length: 2\r\n\r\n";
    expect_whole(post, &req, NULL);
    cr_assert_eq(req.content_length, 2);
}

Test(http1_request, one_host_in_any_case_is_accepted_and_may_be_empty)
{
    struct gw_http1_req req;
    const char *lower = "GET / HTTP/1.1\r\nhost: gw:8000\r\n\r\n";
    expect_whole(lower, &req, NULL);
    cr_assert_str_eq(hval(hdrs, req.num_headers, "Host"), "gw:8000");

    const char *upper = "GET / HTTP/1.1\r\nX-Forwarded-Host: a\r\nHOST: [::1]:8000\r\n\r\n";
    expect_whole(upper, &req, NULL);

    /* A client whose target has no authority sends an empty Host (RFC 9112 §3.2). */
    const char *empty = "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n";
    expect_whole(empty, &req, NULL);
    cr_assert_str_eq(hval(hdrs, req.num_headers, "Host"), "");
}

Test(http1_request, a_second_host_is_refused_as_soon_as_its_line_ends)
{
    struct gw_http1_req req;
    const char *s = "GET / HTTP/1.1\r\nHost: gw\r\nHost: internal.example\r\nX-More: 1\r\n";
    size_t second_end = (size_t)(strstr(s, "X-More") - s);
    for (size_t k = 0; k < second_end; k++)
        cr_assert_eq(parse_req_n(s, k, &req, MAXH), -2, "cut at %zu", k);
    /* The verdict needs no more bytes: the head is not complete yet. */
    cr_assert_eq(parse_req_n(s, second_end, &req, MAXH), -1);
    cr_assert_eq(req.err, GW_H1E_DUP_HOST);
    cr_assert_eq(parse_req_n(s, strlen(s), &req, MAXH), -1);
    cr_assert_eq(req.err, GW_H1E_DUP_HOST);
    cr_assert_str_eq(gw_http1_err_str(GW_H1E_DUP_HOST), "more than one Host header");

    /* HTTP/1.0 may omit Host but not repeat it. */
    const char *v10 = "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n";
    cr_assert_eq(parse_req(v10, &req), -1);
    cr_assert_eq(req.err, GW_H1E_DUP_HOST);
}

Test(http1_response, host_fields_are_no_concern_of_responses)
{
    struct gw_http1_resp resp;
    const char *s = "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n";
    expect_whole(s, NULL, &resp);
    const char *none = "HTTP/1.1 204 No Content\r\n\r\n";
    expect_whole(none, NULL, &resp);
}

/* ---- truncation ---- */

static const char *const valid_reqs[] = {CURL_REQ, PY_REQ,      NODE_REQ,
                                         GET_REQ,  CHUNKED_REQ, HTTP10_REQ};

Test(http1_request, every_truncation_is_incomplete)
{
    expect_cuts_incomplete(false, valid_reqs, GW_ARRAY_SIZE(valid_reqs));
}

Test(http1_request, bytes_after_the_head_are_not_consumed)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s{\"model\":", CURL_REQ);
    struct gw_http1_req req;
    cr_assert_eq(gw_http1_parse_request(buf, (size_t)n, &req, hdrs, MAXH), (int)strlen(CURL_REQ));
}

/* ---- responses ---- */

Test(http1_response, parses_200_with_content_length)
{
    expect_heads(RS_200);
}

Test(http1_response, parses_chunked_sse)
{
    expect_heads(RS_SSE);
}

Test(http1_response, parses_429_with_retry_after)
{
    expect_heads(RS_429);
}

Test(http1_response, connection_close_clears_keepalive)
{
    expect_heads(RS_CLOSE);
}

Test(http1_response, http10_without_length_reads_to_eof)
{
    expect_heads(RS_HTTP10);
}

Test(http1_response, bodyless_statuses_keep_the_connection)
{
    expect_heads(RS_BODYLESS);
}

Test(http1_response, reason_may_be_empty)
{
    expect_heads(RS_REASON);
}

Test(http1_response, each_error_has_its_reason)
{
    expect_head_errors(true);
}

Test(http1_response, header_count_limit)
{
    struct gw_http1_resp resp;
    size_t n = strlen(RESP_429);
    cr_assert_eq(parse_resp_n(RESP_429, n, &resp, 7), (int)n);
    cr_assert_eq(parse_resp_n(RESP_429, n, &resp, 6), -1);
    cr_assert_eq(resp.err, GW_H1E_TOO_MANY_HEADERS);
}

Test(http1_response, every_truncation_is_incomplete)
{
    static const char *const valid[] = {RESP_200_CL, RESP_SSE, RESP_429,
                                        RESP_CLOSE,  RESP_10,  RESP_100};
    expect_cuts_incomplete(true, valid, GW_ARRAY_SIZE(valid));
}

Test(http1, err_str_names_every_error)
{
    for (int e = GW_H1E_NONE; e < GW_H1E_COUNT; e++) {
        const char *s = gw_http1_err_str((enum gw_http1_err)e);
        cr_assert_not_null(s);
        cr_assert_gt(strlen(s), 0);
        for (int f = GW_H1E_NONE; f < e; f++)
            cr_assert_str_neq(s, gw_http1_err_str((enum gw_http1_err)f));
    }
    cr_assert_str_eq(gw_http1_err_str(GW_H1E_COUNT), "unknown error");
}

Test(http1, flags_str_names_set_bits)
{
    char buf[GW_H1_FLAGS_STR_SIZE];
    cr_assert_str_eq(gw_http1_flags_str(0, buf, sizeof(buf)), "");
    cr_assert_str_eq(gw_http1_flags_str(GW_H1_F_CHUNKED | GW_H1_F_KEEPALIVE, buf, sizeof(buf)),
                     "chunked|keepalive");
    cr_assert_str_eq(gw_http1_flags_str(~0u, buf, sizeof(buf)),
                     "chunked|keepalive|expect-100|has-cl");
    char small[10];
    cr_assert_str_eq(gw_http1_flags_str(~0u, small, sizeof(small)), "chunked");
}

/* ---- chunked decoder ---- */

#define EV1                                                                                        \
    "data: {\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\",\"created\":1733000000," \
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":"   \
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"          \
    "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
#define EV2                                                                                        \
    "data: {\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\",\"created\":1733000000," \
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":"   \
    "[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}"  \
    "\n\n"
#define EV3                                                                                        \
    "data: {\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\",\"created\":1733000000," \
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":"   \
    "[{\"index\":0,\"delta\":{\"content\":\"!\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
#define EV4                                                                                        \
    "data: {\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\",\"created\":1733000000," \
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":"   \
    "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
#define EV5 "data: [DONE]\n\n"

/* As an upstream sends it: hex sizes in both cases, one extension, one trailer. */
static const char SSE_CHUNKED[] = "110\r\n" EV1 "\r\n"
                                  "F3\r\n" EV2 "\r\n"
                                  "ef;name=\"x\"\r\n" EV3 "\r\n"
                                  "00e4\r\n" EV4 "\r\n"
                                  "e\r\n" EV5 "\r\n"
                                  "0\r\n"
                                  "x-usage: 12\r\n"
                                  "\r\n";
static const char SSE_DATA[] = EV1 EV2 EV3 EV4 EV5;

struct dec_out {
    ssize_t ret;     /* last return of the decoder */
    char data[4096]; /* decoded bytes, concatenated over all calls */
    size_t data_len;
    char left[4096]; /* left-over bytes after the message */
    size_t left_len;
};

/*
 * Feeds in[0..n) to a fresh decoder in pieces that end at cuts[0..ncuts)
 * (ascending, each < n) and at n, each piece in its own exact-size heap buffer.
 * Stops at the first -1; after completion later pieces are all left over.
 */
static void feed(const char *in, size_t n, const size_t *cuts, size_t ncuts, struct dec_out *o)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    memset(o, 0, sizeof(*o));
    o->ret = -2;
    size_t start = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t stop = i < ncuts ? cuts[i] : n;
        size_t len = stop - start;
        char *b = dup_exact(in + start, len);
        ssize_t r = gw_chunked_decode(&d, b, &len);
        cr_assert(r >= -2);
        cr_assert_leq(o->data_len + len, sizeof(o->data));
        memcpy(o->data + o->data_len, b, len);
        o->data_len += len;
        if (r >= 0) {
            cr_assert_leq(o->left_len + (size_t)r, sizeof(o->left));
            memcpy(o->left + o->left_len, b + len, (size_t)r);
            o->left_len += (size_t)r;
        }
        free(b);
        o->ret = r;
        start = stop;
        if (r == -1)
            break;
    }
}

static void feed_whole(const char *in, size_t n, struct dec_out *o)
{
    feed(in, n, NULL, 0, o);
}

/* The message ended (ret 0), decoded to exactly `data`, with nothing left over. */
static void expect_decoded(const struct dec_out *o, const char *data, const char *label)
{
    cr_assert_eq(o->ret, 0, "%s: ret %zd", label, o->ret);
    cr_assert_eq(o->data_len, strlen(data), "%s: %zu bytes decoded", label, o->data_len);
    cr_assert_eq(memcmp(o->data, data, o->data_len), 0, "%s: decoded bytes", label);
    cr_assert_eq(o->left_len, 0, "%s: left over", label);
}

Test(http1_chunked, decodes_sse_body_in_one_piece)
{
    struct dec_out o;
    feed_whole(SSE_CHUNKED, strlen(SSE_CHUNKED), &o);
    expect_decoded(&o, SSE_DATA, "whole");
}

Test(http1_chunked, decodes_sse_body_split_at_every_byte)
{
    size_t n = strlen(SSE_CHUNKED);
    static struct dec_out o;
    for (size_t k = 0; k <= n; k++) {
        char at[32];
        snprintf(at, sizeof(at), "split at %zu", k);
        feed(SSE_CHUNKED, n, &k, 1, &o);
        expect_decoded(&o, SSE_DATA, at);
    }
}

Test(http1_chunked, decodes_sse_body_one_byte_at_a_time)
{
    size_t n = strlen(SSE_CHUNKED);
    size_t *cuts = malloc(n * sizeof(*cuts));
    cr_assert_not_null(cuts);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    static struct dec_out o;
    feed(SSE_CHUNKED, n, cuts, n - 1, &o);
    free(cuts);
    expect_decoded(&o, SSE_DATA, "byte at a time");
}

Test(http1_chunked, prefixes_are_incomplete)
{
    size_t n = strlen(SSE_CHUNKED);
    static struct dec_out o;
    for (size_t k = 0; k < n; k++) {
        feed_whole(SSE_CHUNKED, k, &o);
        cr_assert_eq(o.ret, -2, "prefix %zu: ret %zd", k, o.ret);
        cr_assert_leq(o.data_len, strlen(SSE_DATA));
        cr_assert_eq(memcmp(o.data, SSE_DATA, o.data_len), 0);
    }
}

Test(http1_chunked, returns_bytes_left_after_the_message)
{
    char in[8192];
    int n = snprintf(in, sizeof(in), "%s%s", SSE_CHUNKED, RESP_200_CL);
    size_t tail = strlen(RESP_200_CL);
    static struct dec_out o;
    feed_whole(in, (size_t)n, &o);
    cr_assert_eq(o.ret, (ssize_t)tail);
    cr_assert_eq(o.data_len, strlen(SSE_DATA));
    cr_assert_eq(memcmp(o.left, RESP_200_CL, tail), 0);

    /* Split anywhere, the left-over bytes still come back whole and in order. */
    for (size_t k = 0; k <= (size_t)n; k++) {
        feed(in, (size_t)n, &k, 1, &o);
        cr_assert_geq(o.ret, 0);
        cr_assert_eq(o.data_len, strlen(SSE_DATA), "split at %zu", k);
        cr_assert_eq(o.left_len, tail, "split at %zu", k);
        cr_assert_eq(memcmp(o.left, RESP_200_CL, tail), 0);
    }
}

/*
 * Feeds `in`, copied to an exact-size heap buffer, to d in one call and
 * asserts the decoder returns ret and leaves len decoded bytes at the front.
 * Returns the buffer as the call left it (static storage).
 */
static const char *expect_step(struct gw_chunked *d, const char *in, ssize_t ret, size_t len)
{
    static char out[64];
    size_t n = strlen(in);
    cr_assert_lt(n, sizeof(out));
    char *b = dup_exact(in, n);
    size_t got = n;
    cr_assert_eq(gw_chunked_decode(d, b, &got), ret, "<<%s>>", in);
    cr_assert_eq(got, len, "<<%s>>: %zu bytes decoded", in, got);
    memcpy(out, b, n);
    free(b);
    return out;
}

Test(http1_chunked, done_decoder_passes_everything_through)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    cr_assert_eq(memcmp(expect_step(&d, "0\r\n\r\nGET", 3, 0), "GET", 3), 0);
    cr_assert_str_eq(gw_chunked_state_str(&d), "done");
    expect_step(&d, "xyz", 3, 0);
}

Test(http1_chunked, valid_edge_forms)
{
    static const struct {
        const char *in;
        const char *data;
    } cases[] = {
        {"0\r\n\r\n", ""},
        {"000\r\n\r\n", ""},
        {"1\r\na\r\n0\r\n\r\n", "a"},
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
        {"5;a=b;c=\"d e\"\r\nhello\r\n0;last\r\n\r\n", "hello"},
        {"5 ;x\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5\t; x\r\nhello\r\n0\r\n\r\n", "hello"},
        {"3\r\n\r\n\n\r\n0\r\n\r\n", "\r\n\n"},
        {"5\r\nhello\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n", "hello"},
        {"000000000000005\r\nhello\r\n0\r\n\r\n", "hello"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        static struct dec_out o;
        feed_whole(cases[i].in, strlen(cases[i].in), &o);
        expect_decoded(&o, cases[i].data, cases[i].in);
    }
}

Test(http1_chunked, largest_size_waits_for_data)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    expect_step(&d, "fffffffffffffff\r\nabc", -2, 3);
    cr_assert_str_eq(gw_chunked_state_str(&d), "data");
}

static void expect_chunk_error(const char *in, size_t n, const char *what)
{
    static struct dec_out o;
    feed_whole(in, n, &o);
    cr_assert_eq(o.ret, -1, "%s: whole input gave %zd", what, o.ret);
    /* The verdict does not depend on where the input is split. */
    for (size_t k = 0; k <= n; k++) {
        feed(in, n, &k, 1, &o);
        cr_assert_eq(o.ret, -1, "%s: split at %zu gave %zd", what, k, o.ret);
    }
}

Test(http1_chunked, framing_errors)
{
    static const char *const cases[] = {
        "g\r\n",                         /* not hex */
        "\r\n",                          /* empty size */
        "-1\r\n",                        /* sign */
        "0x5\r\nhello\r\n0\r\n\r\n",     /* C prefix */
        "5\nhello\r\n0\r\n\r\n",         /* bare LF after size */
        "5\rhello\r\n0\r\n\r\n",         /* bare CR after size */
        "5\r\nhelloX\r\n0\r\n\r\n",      /* missing CRLF after data */
        "5\r\nhello\n0\r\n\r\n",         /* bare LF after data */
        "5\r\nhello\r0\r\n\r\n",         /* bare CR after data */
        "5 \r\nhello\r\n0\r\n\r\n",      /* whitespace without extension */
        " 5\r\nhello\r\n0\r\n\r\n",      /* leading whitespace */
        "5;a\nhello\r\n0\r\n\r\n",       /* bare LF in extension */
        "5;a\x01\r\nhello\r\n0\r\n\r\n", /* control byte in extension */
        "1000000000000000\r\n",          /* 16 hex digits: 2^60 */
        "0000000000000001\r\n",          /* 16 digits even with zeros */
        "ffffffffffffffffff\r\n",        /* would overflow 64 bits */
        "0\r\nX-A: b\n\r\n",             /* bare LF in trailer */
        "0\r\nX-A: b\rc\r\n\r\n",        /* bare CR in trailer */
        "0\r\n\n",                       /* bare LF ending the body */
        "0\r\n\rX",                      /* bare CR ending the body */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_chunk_error(cases[i], strlen(cases[i]), cases[i]);
}

Test(http1_chunked, extension_over_limit)
{
    /* The size line "5", `count` fill bytes, then the rest of a 5-byte message. */
    static const struct {
        const char *size, *rest;
        char fill;
        size_t count;
        ssize_t ret;
    } cases[] = {
        {"5;", "\r\nhello\r\n0\r\n\r\n", 'a', 4094, 0}, /* ';' + 4094 = 4095 bytes: fits */
        /* Two more bytes of extension pass the 4 KiB bound. */
        {"5;", "\r\nhello\r\n0\r\n\r\n", 'a', 4096, -1},
        /* Whitespace before the ';' counts against the same bound. */
        {"5", ";\r\nhello\r\n0\r\n\r\n", ' ', 4097, -1},
    };
    static char in[8192];
    static struct dec_out o;
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        size_t n = strlen(cases[i].size);
        memcpy(in, cases[i].size, n);
        memset(in + n, cases[i].fill, cases[i].count);
        n += cases[i].count;
        memcpy(in + n, cases[i].rest, strlen(cases[i].rest));
        n += strlen(cases[i].rest);
        feed_whole(in, n, &o);
        cr_assert_eq(o.ret, cases[i].ret, "%zu x '%c' after \"%s\": ret %zd", cases[i].count,
                     cases[i].fill, cases[i].size, o.ret);
    }
}

Test(http1_chunked, trailers_over_limit)
{
    /* 8 KiB of trailer lines (CRLFs included) are fine; one byte more is not. */
    static char in[16384];
    size_t n = 0;
    memcpy(in, "0\r\n", 3);
    n = 3;
    for (int i = 0; i < 8; i++) {
        memcpy(in + n, "X-Pad: ", 7);
        memset(in + n + 7, 'p', 1024 - 9);
        memcpy(in + n + 1022, "\r\n", 2);
        n += 1024;
    }
    memcpy(in + n, "\r\n", 2);
    static struct dec_out o;
    feed_whole(in, n + 2, &o);
    cr_assert_eq(o.ret, 0);

    memcpy(in + n, "Y\r\n\r\n", 5);
    expect_chunk_error(in, n + 5, "trailers over 8 KiB");

    /* Many tiny trailer lines count too. */
    n = 3;
    for (int i = 0; i < 3000; i++) {
        memcpy(in + n, "a:\r\n", 4);
        n += 4;
    }
    memcpy(in + n, "\r\n", 2);
    feed_whole(in, n + 2, &o);
    cr_assert_eq(o.ret, -1);
}

Test(http1_chunked, error_is_sticky)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    expect_step(&d, "5\r\nhel", -2, 3);
    cr_assert_eq(memcmp(expect_step(&d, "loX", -1, 2), "lo", 2), 0);
    cr_assert_str_eq(gw_chunked_state_str(&d), "error");
    expect_step(&d, "\r\n0\r\n\r\n", -1, 0);
}
