/*
 * tests/integration/test_http_errors.c — malformed and oversized requests
 * against the real conduit.
 *
 * Each framing error (RFC 9112: smuggling-prone Content-Length and
 * Transfer-Encoding combinations, bad chunk sizes, bare LF, obs-fold) must get
 * its 4xx with the OpenAI error object and the connection closed, because
 * after a framing error nobody knows where the next request starts. Then fresh
 * connections must still be served: several, so that both workers (which
 * share the port through SO_REUSEPORT) are very likely exercised.
 *
 * The config sets a 1 KiB body limit and a 1 s header timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static void setup(void)
{
    h_setup();
    h_mock_start(NULL);
    struct h_gw_opts o = {.server_lines = "  max_body_bytes: 1KiB\n"
                                          "  header_timeout: 1s\n"};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(http_errors, .init = setup, .fini = teardown, .timeout = 60);

#define CHAT_LINE "POST /v1/chat/completions HTTP/1.1\r\n"
#define HOST "Host: 127.0.0.1\r\n"
#define JSON_CT "Content-Type: application/json\r\n"
/* A valid chat body of exactly 73 (0x49) bytes, for the framing tests. */
#define SMALL_BODY                                                                                 \
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}"

/* Fresh connections still get proper answers. */
static void assert_still_serving(void)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    for (int i = 0; i < 4; i++) {
        struct h_resp r;
        int rc = h_chat(body, NULL, &r);
        cr_assert_eq(rc, 0, "fresh request %d after the bad one: %s", i, strerror(-rc));
        cr_assert_eq(r.status, 200, "fresh request %d: status %d %s", i, r.status, r.body);
        h_resp_free(&r);
    }
    free(body);
    cr_assert(h_gw_alive(), "conduit died");
}

/*
 * Sends raw bytes on a fresh connection and expects `status` with an error
 * object, then (when must_close) the connection closed by conduit.
 */
static void expect_rejected(const char *raw, size_t len, int status, bool must_close)
{
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    int rc = h_conn_send(&c, raw, len);
    cr_assert(rc == 0 || rc == -ECONNRESET || rc == -EPIPE, "send: %s", strerror(-rc));
    struct h_resp r;
    rc = h_read_response(&c, &r, H_IO_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "no response: %s", strerror(-rc));
    h_assert_error(&r, status, NULL);
    if (must_close) {
        cr_assert(h_conn_wait_closed(&c, 5000), "connection left open after a framing error");
        cr_assert_eq(c.len, 0, "bytes after the error response: %.*s", (int)c.len, c.buf);
    }
    h_resp_free(&r);
    h_conn_close(&c);
    assert_still_serving();
}

static void expect_400_close(const char *raw)
{
    expect_rejected(raw, strlen(raw), 400, true);
}

Test(http_errors, content_length_with_transfer_encoding_is_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: 73\r\n"
                                                   "Transfer-Encoding: chunked\r\n\r\n"
                                                   "49\r\n" SMALL_BODY "\r\n0\r\n\r\n");
    h_finish();
}

Test(http_errors, two_different_content_lengths_are_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: 73\r\n"
                                                   "Content-Length: 10\r\n\r\n" SMALL_BODY);
    h_finish();
}

Test(http_errors, two_equal_content_lengths_are_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: 73\r\n"
                                                   "Content-Length: 73\r\n\r\n" SMALL_BODY);
    h_finish();
}

Test(http_errors, content_length_with_junk_is_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: 12a\r\n\r\n" SMALL_BODY);
    h_finish();
}

Test(http_errors, negative_content_length_is_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: -1\r\n\r\n" SMALL_BODY);
    h_finish();
}

Test(http_errors, bad_chunk_size_is_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Transfer-Encoding: chunked\r\n\r\n"
                                                   "zz\r\n" SMALL_BODY "\r\n0\r\n\r\n");
    h_finish();
}

Test(http_errors, bare_lf_line_endings_are_400)
{
    expect_400_close("GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n");
    h_finish();
}

Test(http_errors, bare_lf_inside_the_head_is_400)
{
    expect_400_close(CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: 73\n"
                                                   "X-Other: 1\r\n\r\n" SMALL_BODY);
    h_finish();
}

Test(http_errors, obs_fold_is_400)
{
    expect_400_close("GET /healthz HTTP/1.1\r\n" HOST "X-Folded: first\r\n  second\r\n\r\n");
    h_finish();
}

Test(http_errors, header_section_too_large_is_431)
{
    /* 80 KiB in one header: over the 64 KiB default. */
    size_t vlen = 80 * 1024;
    size_t cap = vlen + 256;
    char *raw = malloc(cap);
    cr_assert(raw != NULL);
    int n = snprintf(raw, cap, "GET /healthz HTTP/1.1\r\n" HOST "X-Big: ");
    cr_assert(n > 0);
    size_t len = (size_t)n;
    memset(raw + len, 'a', vlen);
    len += vlen;
    memcpy(raw + len, "\r\n\r\n", 4);
    len += 4;
    expect_rejected(raw, len, 431, true);
    free(raw);
    h_finish();
}

Test(http_errors, too_many_headers_is_431)
{
    size_t cap = 16384, len = 0;
    char *raw = malloc(cap);
    cr_assert(raw != NULL);
    int n = snprintf(raw, cap, "GET /healthz HTTP/1.1\r\n" HOST);
    len += (size_t)n;
    for (int i = 0; i < 200; i++) {
        n = snprintf(raw + len, cap - len, "X-Header-%d: v\r\n", i);
        cr_assert(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
    }
    memcpy(raw + len, "\r\n", 2);
    len += 2;
    expect_rejected(raw, len, 431, true);
    free(raw);
    h_finish();
}

Test(http_errors, body_over_the_limit_is_413)
{
    /* A valid JSON body of 2 KiB against the configured 1 KiB limit. */
    char body[2048 + 1];
    int n = snprintf(body, sizeof(body),
                     "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    size_t len = (size_t)n;
    memset(body + len, 'x', 2048 - len - 4);
    len = 2048 - 4;
    memcpy(body + len, "\"}]}", 4);
    len += 4;
    body[len] = '\0';
    char head[512];
    int hn = snprintf(head, sizeof(head),
                      CHAT_LINE HOST H_AUTH JSON_CT "Content-Length: %zu\r\n\r\n", len);
    char raw[4096];
    memcpy(raw, head, (size_t)hn);
    memcpy(raw + hn, body, len);
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    int rc = h_conn_send(&c, raw, (size_t)hn + len);
    cr_assert(rc == 0 || rc == -ECONNRESET || rc == -EPIPE);
    struct h_resp r;
    cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
    h_assert_error(&r, 413, NULL);
    h_resp_free(&r);
    h_conn_close(&c);
    assert_still_serving();
    h_finish();
}

Test(http_errors, chunked_body_over_the_limit_is_413)
{
    char raw[8192];
    int n = snprintf(raw, sizeof(raw),
                     CHAT_LINE HOST H_AUTH JSON_CT "Transfer-Encoding: chunked\r\n\r\n");
    size_t len = (size_t)n;
    /* Three 800-byte chunks: the limit is crossed in the second. */
    for (int i = 0; i < 3; i++) {
        n = snprintf(raw + len, sizeof(raw) - len, "320\r\n");
        len += (size_t)n;
        memset(raw + len, ' ', 800);
        len += 800;
        memcpy(raw + len, "\r\n", 2);
        len += 2;
    }
    memcpy(raw + len, "0\r\n\r\n", 5);
    len += 5;
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    int rc = h_conn_send(&c, raw, len);
    cr_assert(rc == 0 || rc == -ECONNRESET || rc == -EPIPE);
    struct h_resp r;
    cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
    h_assert_error(&r, 413, NULL);
    h_resp_free(&r);
    h_conn_close(&c);
    assert_still_serving();
    h_finish();
}

/* Bodies the gateway refuses before choosing a model: 400 with the code that says why. */
Test(http_errors, malformed_bodies_are_400_with_a_code)
{
    static const struct {
        const char *body, *code;
    } t[] = {
        {"{\"model\":\"gpt-4o-mini\",\"messages\":[", "invalid_json"},
        {"not json at all", "invalid_json"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "missing_required_parameter"},
        /* A model that is not a string is no better. */
        {"{\"model\":42,\"messages\":[]}", "invalid_type"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct h_resp r;
        cr_assert_eq(h_chat(t[i].body, NULL, &r), 0, "%s", t[i].body);
        h_assert_error(&r, 400, t[i].code);
        h_resp_free(&r);
    }
    assert_still_serving();
    h_finish();
}

/*
 * Every error the gateway makes itself carries a code a client can branch
 * on (OpenAI's own errors sometimes have "code": null; ours never do).
 */
Test(http_errors, every_gateway_made_error_has_a_code)
{
    static const struct {
        const char *method, *path, *headers, *body;
        int status;
        const char *code;
    } cases[] = {
        {"POST", "/v1/chat/completions", H_AUTH, "[1,2]", 400, "invalid_json"},
        {"POST", "/v1/chat/completions", H_AUTH,
         "{\"model\":\"gpt-4o-mini\",\"stream\":\"yes\",\"messages\":[]}", 400, "invalid_type"},
        {"POST", "/v1/chat/completions", H_AUTH,
         "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":3,\"messages\":[]}", 400,
         "invalid_type"},
        {"POST", "/v1/chat/completions", H_AUTH, "{\"model\":\"nope\",\"messages\":[]}", 404,
         "model_not_found"},
        {"POST", "/v1/chat/completions", NULL, "{}", 401, "invalid_api_key"},
        {"GET", "/v1/chat/completions", H_AUTH, NULL, 405, "method_not_allowed"},
        {"GET", "/v2/nothing", NULL, NULL, 404, "unknown_url"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct h_resp r;
        cr_assert_eq(
            h_do(H.gw_port, cases[i].method, cases[i].path, cases[i].headers, cases[i].body, &r), 0,
            "case %zu", i);
        h_assert_error(&r, cases[i].status, cases[i].code);
        h_resp_free(&r);
    }
    assert_still_serving();
    h_finish();
}

Test(http_errors, duplicate_members_the_gateway_reads_are_400_and_never_forwarded)
{
    struct h_mock_stats before, after;
    h_mock_stats(&before);
    /* An upstream that reads the first "model" would use one the gateway never approved. */
    static const char *const bodies[] = {
        "{\"model\":\"not-approved\",\"model\":\"gpt-4o-mini\",\"messages\":[]}",
        "{\"model\":\"gpt-4o-mini\",\"m\\u006fdel\":\"not-approved\",\"messages\":[]}",
        "{\"model\":\"gpt-4o-mini\",\"stream\":false,\"stream\":true,\"messages\":[]}",
        "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":null,"
        "\"stream_options\":{\"include_usage\":false},\"messages\":[]}",
        "{\"model\":\"gpt-4o-mini\",\"stream\":true,"
        "\"stream_options\":{\"include_usage\":false,\"include_usage\":true},\"messages\":[]}",
    };
    static const char *const params[] = {"model", "model", "stream", "stream_options",
                                         "stream_options.include_usage"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct h_resp r;
        cr_assert_eq(h_chat(bodies[i], NULL, &r), 0);
        h_assert_error(&r, 400, "duplicate_member");
        char param[32];
        cr_assert_gt(h_json_get(r.body, r.body_len, "error.param", param, sizeof(param)), 0);
        cr_assert_str_eq(param, params[i], "body %zu", i);
        h_resp_free(&r);
    }
    h_mock_stats(&after);
    cr_assert_eq(after.requests, before.requests, "a refused request reached the upstream");
    /* Other duplicate members are the upstream's business and pass. */
    struct h_resp r;
    cr_assert_eq(h_chat("{\"model\":\"gpt-4o-mini\",\"user\":\"a\",\"user\":\"b\","
                        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                        NULL, &r),
                 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_resp_free(&r);
    assert_still_serving();
    h_finish();
}

Test(http_errors, unknown_model_full_of_control_characters_gets_a_valid_404)
{
    /* The error message quotes the model name; escaped, each control byte
     * takes six bytes, so the message must have room for the worst case
     * (160 of them made the old 1 KiB error body overflow and abort). The
     * body stays under this suite's 1 KiB limit. */
    char body[2048];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"model\":\"");
    for (int i = 0; i < 160; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "\\u0001");
    snprintf(body + n, sizeof(body) - n, "\",\"messages\":[]}");
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    h_assert_error(&r, 404, "model_not_found");
    h_resp_free(&r);
    assert_still_serving();
    h_finish();
}

Test(http_errors, valid_chunked_request_body_is_proxied)
{
    /* SMALL_BODY split into chunks of 26, 26 and 21 bytes, one with an extension. */
    const char *b = SMALL_BODY;
    cr_assert_eq(strlen(b), 73);
    char raw[1024];
    int n = snprintf(raw, sizeof(raw),
                     CHAT_LINE HOST H_AUTH JSON_CT
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "1a\r\n%.26s\r\n1A;ext=1\r\n%.26s\r\n15\r\n%.21s\r\n0\r\n\r\n",
                     b, b + 26, b + 52);
    cr_assert(n > 0 && (size_t)n < sizeof(raw));
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    cr_assert_eq(h_conn_send(&c, raw, (size_t)n), 0);
    struct h_resp r;
    cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    char obj[64];
    cr_assert(h_json_get(r.body, r.body_len, "object", obj, sizeof(obj)) > 0);
    cr_assert_str_eq(obj, "chat.completion");
    h_resp_free(&r);

    /* The connection stays usable: the chunked body was consumed exactly. */
    cr_assert_eq(h_send_request(&c, "GET", "/healthz", NULL, NULL), 0);
    cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    h_conn_close(&c);

    char *fwd = h_mock_last_body();
    h_json_expect(fwd, "model", H_UPSTREAM_MODEL);
    h_json_expect(fwd, "messages.0.content", "hi there");
    free(fwd);
    h_finish();
}

Test(http_errors, header_read_timeout_closes_the_connection)
{
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    cr_assert_eq(h_conn_send_str(&c, CHAT_LINE HOST "X-Partial: yes\r\n"), 0);
    double t0 = h_now_ms();
    /* header_timeout is 1 s; allow plenty. */
    cr_assert(h_conn_wait_closed(&c, 8000), "a half head was kept open for 8 s");
    double took = h_now_ms() - t0;
    cr_assert(took >= 500, "closed after %.0f ms, before the 1 s header timeout", took);
    if (c.len > 0) {
        /* A 408 before closing is fine, and then it must be a proper one. */
        cr_assert(c.len >= 12 && memcmp(c.buf, "HTTP/1.1 408", 12) == 0,
                  "unexpected bytes before close: %.*s", (int)c.len, c.buf);
    }
    h_conn_close(&c);
    assert_still_serving();
    h_finish();
}
