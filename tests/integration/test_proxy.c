/*
 * tests/integration/test_proxy.c — the proxy path end to end: the real
 * conduit between a raw-socket client and the mock provider on loopback.
 *
 * Every test gets a fresh mock and a fresh conduit (Criterion forks per test)
 * with one config: provider "mock" (the mock's http port), provider "dead"
 * (a loopback port nobody listens on), provider "slow" (the mock again, with
 * one-second first-byte and read timeouts), and models mapped onto them.
 * Where "intact" matters, the answer through conduit is compared with the
 * same request sent straight to the mock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "harness.h"

#define DEAD_MODEL "dead-model"
#define SLOW_MODEL "slow-model"

static void setup(void)
{
    h_setup();
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    h_mock_start(&mo);

    char providers[1024], models[512];
    snprintf(providers, sizeof(providers),
             "  - name: dead\n"
             "    type: openai\n"
             "    base_url: \"http://127.0.0.1:%d/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    connect_timeout: 2s\n"
             "  - name: slow\n"
             "    type: openai\n"
             "    base_url: \"http://127.0.0.1:%d/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    connect_timeout: 2s\n"
             "    first_byte_timeout: 1s\n"
             "    read_timeout: 1s\n",
             h_free_port(), H.mock_port);
    snprintf(models, sizeof(models),
             "  - name: " DEAD_MODEL "\n"
             "    provider: dead\n"
             "    model: dead-upstream\n"
             "  - name: " SLOW_MODEL "\n"
             "    provider: slow\n"
             "    model: slow-upstream\n");
    struct h_gw_opts o = {.provider_items = providers, .extra_model_items = models};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(proxy, .init = setup, .fini = teardown, .timeout = 90);

/* The forwarded request as the mock saw it: its raw body, decoded from /mock/last. */
static char *last_forwarded_body(char **last_out)
{
    if (last_out) {
        *last_out = h_mock_last();
        cr_assert(*last_out != NULL, "GET /mock/last failed");
    }
    return h_mock_last_body();
}

static void assert_str_at(const char *doc, const char *path, const char *want)
{
    char v[4096];
    long n = h_json_get(doc, strlen(doc), path, v, sizeof(v));
    cr_assert(n >= 0, "%s missing in %s", path, doc);
    cr_assert_str_eq(v, want, "%s is \"%s\", want \"%s\" in %s", path, v, want, doc);
}

Test(proxy, non_streamed_completion_arrives_intact_with_upstream_model_and_key)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    const char *ct = h_resp_header(&r, "content-type");
    cr_assert(ct && strncasecmp(ct, "application/json", 16) == 0, "content-type %s", ct);
    assert_str_at(r.body, "object", "chat.completion");
    assert_str_at(r.body, "model", H_UPSTREAM_MODEL);
    char *content = h_json_dup(r.body, r.body_len, "choices.0.message.content");
    cr_assert(content && *content, "no choices[0].message.content: %s", r.body);

    /* What the mock received: rewritten model, provider key, the rest untouched. */
    char *last;
    char *fwd = last_forwarded_body(&last);
    assert_str_at(last, "method", "POST");
    assert_str_at(last, "path", "/v1/chat/completions");
    assert_str_at(last, "headers.authorization", "Bearer " H_PROVIDER_KEY);
    assert_str_at(fwd, "model", H_UPSTREAM_MODEL);
    assert_str_at(fwd, "messages.0.role", "user");
    assert_str_at(fwd, "messages.0.content", "Say hello");
    cr_assert(strstr(last, H_CLIENT_KEY) == NULL, "client key leaked upstream: %s", last);

    /* The same request straight to the mock gives the same answer. */
    char *direct_body = h_chat_body(H_UPSTREAM_MODEL, false, NULL);
    struct h_resp d;
    cr_assert_eq(h_mock_chat(direct_body, &d), 0);
    cr_assert_eq(d.status, 200, "direct status %d: %s", d.status, d.body);
    char *direct_content = h_json_dup(d.body, d.body_len, "choices.0.message.content");
    cr_assert_str_eq(content, direct_content);
    long long a, b;
    cr_assert(h_json_int(r.body, r.body_len, "usage.completion_tokens", &a));
    cr_assert(h_json_int(d.body, d.body_len, "usage.completion_tokens", &b));
    cr_assert_eq(a, b);

    free(direct_content);
    h_resp_free(&d);
    free(direct_body);
    free(fwd);
    free(last);
    free(content);
    h_resp_free(&r);
    free(body);
    h_finish();
}

/* Streams body through conduit and reads every event. */
static void stream_through_gw(const char *body, const char *extra_headers, struct h_stream *s)
{
    char hdrs[1024];
    snprintf(hdrs, sizeof(hdrs), H_AUTH "%s", extra_headers ? extra_headers : "");
    struct h_conn c;
    int rc = h_stream_start(&c, s, H.gw_port, "/v1/chat/completions", hdrs, body);
    cr_assert_eq(rc, 0, "stream start: %s", strerror(-rc));
    rc = h_stream_read_all(&c, s, 30000);
    cr_assert_eq(rc, 0, "stream read: %s (after %zu events)", strerror(-rc), s->nevs);
    h_conn_close(&c);
}

static void stream_direct(const char *body, struct h_stream *s)
{
    struct h_conn c;
    int rc = h_stream_start(&c, s, H.mock_port, "/v1/chat/completions", H_MOCK_AUTH, body);
    cr_assert_eq(rc, 0, "direct stream start: %s", strerror(-rc));
    cr_assert_eq(h_stream_read_all(&c, s, 30000), 0);
    h_conn_close(&c);
}

Test(proxy, streamed_completion_arrives_intact_with_sse_headers)
{
    char *body = h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":7}");
    struct h_stream s;
    stream_through_gw(body, NULL, &s);
    cr_assert_eq(s.head.status, 200, "status %d: %s", s.head.status, s.head.body);
    const char *ct = h_resp_header(&s.head, "content-type");
    cr_assert(ct && strncasecmp(ct, "text/event-stream", 17) == 0, "content-type %s", ct);
    const char *cc = h_resp_header(&s.head, "cache-control");
    cr_assert(cc && strcasecmp(cc, "no-cache") == 0, "cache-control %s", cc);
    const char *xab = h_resp_header(&s.head, "x-accel-buffering");
    cr_assert(xab && strcasecmp(xab, "no") == 0, "x-accel-buffering %s", xab);
    cr_assert(s.complete, "the body did not end properly");
    cr_assert(s.nevs > 0 && s.saw_done, "no [DONE]");
    cr_assert_str_eq(s.evs[s.nevs - 1].data, "[DONE]", "[DONE] is not the last event");

    size_t n;
    char *text = h_stream_text(&s, &n);
    cr_assert_eq(n, 7, "%zu content chunks, want 7; text \"%s\"", n, text);
    for (size_t i = 0; i + 1 < s.nevs; i++) {
        const char *d = s.evs[i].data;
        cr_assert(strcmp(d, "[DONE]") != 0, "[DONE] before the end");
        assert_str_at(d, "object", "chat.completion.chunk");
    }

    /* The same stream straight from the mock: same content, same order. */
    char *direct_body = h_chat_body(H_UPSTREAM_MODEL, true, "\"mock\":{\"chunks\":7}");
    struct h_stream d;
    stream_direct(direct_body, &d);
    size_t dn;
    char *dtext = h_stream_text(&d, &dn);
    cr_assert_eq(dn, n);
    cr_assert_str_eq(text, dtext);

    free(dtext);
    h_stream_free(&d);
    free(direct_body);
    free(text);
    h_stream_free(&s);
    free(body);
    h_finish();
}

/*
 * The usage numbers the mock reports for exactly this upstream body: the body
 * conduit forwarded is replayed straight to the mock, which answers the same
 * request the same way.
 */
static void direct_usage(const char *fwd_body, long long *prompt, long long *completion)
{
    struct h_stream d;
    stream_direct(fwd_body, &d);
    bool found = false;
    for (size_t i = 0; i < d.nevs; i++) {
        const char *e = d.evs[i].data;
        if (!h_event_is_usage(e))
            continue;
        cr_assert(h_json_int(e, strlen(e), "usage.prompt_tokens", prompt));
        cr_assert(h_json_int(e, strlen(e), "usage.completion_tokens", completion));
        found = true;
    }
    cr_assert(found, "the mock sent no usage chunk for the forwarded body: %s", fwd_body);
    h_stream_free(&d);
}

static void assert_log_int(const char *line, const char *field, long long want)
{
    long long v;
    cr_assert(h_json_int(line, strlen(line), field, &v), "no integer %s in log line %s", field,
              line);
    cr_assert_eq(v, want, "log %s is %lld, want %lld: %s", field, v, want, line);
}

Test(proxy, usage_is_requested_upstream_but_hidden_when_the_client_did_not_ask)
{
    char *body = h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":4}");
    struct h_stream s;
    stream_through_gw(body, "X-Request-Id: usage-hidden-1\r\n", &s);
    cr_assert_eq(s.head.status, 200);
    cr_assert(s.saw_done && s.complete);
    for (size_t i = 0; i < s.nevs; i++)
        cr_assert(!h_event_is_usage(s.evs[i].data), "client saw a usage chunk: %s", s.evs[i].data);
    size_t n;
    free(h_stream_text(&s, &n));
    cr_assert_eq(n, 4);

    char *fwd = last_forwarded_body(NULL);
    cr_assert(h_json_true(fwd, strlen(fwd), "stream_options.include_usage"),
              "conduit did not ask upstream for usage: %s", fwd);
    long long prompt, completion;
    direct_usage(fwd, &prompt, &completion);
    free(fwd);
    char *line = h_log_find("usage-hidden-1", 5000);
    cr_assert(line != NULL, "no access-log line for the request");
    assert_log_int(line, "prompt_tokens", prompt);
    assert_log_int(line, "completion_tokens", completion);
    assert_log_int(line, "status", 200);
    free(line);
    h_stream_free(&s);
    free(body);
    h_finish();
}

Test(proxy, usage_chunk_is_shown_when_the_client_asked)
{
    char *body = h_chat_body(H_MODEL, true,
                             "\"stream_options\":{\"include_usage\":true},\"mock\":{\"chunks\":3}");
    struct h_stream s;
    stream_through_gw(body, "X-Request-Id: usage-shown-1\r\n", &s);
    cr_assert_eq(s.head.status, 200);
    cr_assert(s.saw_done && s.complete);
    size_t usage_events = 0, usage_at = 0;
    for (size_t i = 0; i < s.nevs; i++) {
        if (h_event_is_usage(s.evs[i].data)) {
            usage_events++;
            usage_at = i;
        }
    }
    cr_assert_eq(usage_events, 1, "%zu usage chunks, want 1", usage_events);
    cr_assert_eq(usage_at, s.nevs - 2, "the usage chunk is not right before [DONE]");
    const char *u = s.evs[usage_at].data;
    long long prompt, completion;
    cr_assert(h_json_int(u, strlen(u), "usage.prompt_tokens", &prompt), "%s", u);
    cr_assert(h_json_int(u, strlen(u), "usage.completion_tokens", &completion), "%s", u);

    char *line = h_log_find("usage-shown-1", 5000);
    cr_assert(line != NULL, "no access-log line for the request");
    assert_log_int(line, "prompt_tokens", prompt);
    assert_log_int(line, "completion_tokens", completion);
    free(line);
    h_stream_free(&s);
    free(body);
    h_finish();
}

Test(proxy, first_streamed_event_arrives_long_before_the_upstream_finishes)
{
    char *body = h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":10,\"delay_ms\":200}");
    struct h_conn c;
    struct h_stream s;
    double t0 = h_now_ms();
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH, body), 0);
    cr_assert_eq(s.head.status, 200);
    cr_assert_eq(h_stream_read_all(&c, &s, 30000), 0);
    h_conn_close(&c);
    cr_assert(s.nevs >= 11 && s.saw_done);
    double first = s.evs[0].t_ms - t0;
    double last = s.evs[s.nevs - 1].t_ms - t0;
    /* The mock spends ~2 s on this stream; relayed event by event, the first shows at once. */
    cr_assert(last >= 1500, "the stream took only %.0f ms; the mock did not delay", last);
    cr_assert(first < 1000, "first event after %.0f ms (whole stream %.0f ms)", first, last);
    h_stream_free(&s);
    free(body);
    h_finish();
}

Test(proxy, embeddings_are_proxied)
{
    struct h_resp r;
    const char *body = "{\"model\":\"" H_EMBED_MODEL "\",\"input\":\"hello world\"}";
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH, body, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    assert_str_at(r.body, "object", "list");
    cr_assert(h_json_array_len(r.body, r.body_len, "data.0.embedding") > 0, "%s", r.body);

    char *last;
    char *fwd = last_forwarded_body(&last);
    assert_str_at(last, "path", "/v1/embeddings");
    assert_str_at(fwd, "model", H_UPSTREAM_EMBED_MODEL);
    assert_str_at(fwd, "input", "hello world");
    free(fwd);
    free(last);
    h_resp_free(&r);
    h_finish();
}

Test(proxy, models_lists_the_configured_names)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", "/v1/models", H_AUTH, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    assert_str_at(r.body, "object", "list");
    long n = h_json_array_len(r.body, r.body_len, "data");
    cr_assert_eq(n, 4, "%ld models, want 4: %s", n, r.body);
    const char *want[] = {H_MODEL, H_EMBED_MODEL, DEAD_MODEL, SLOW_MODEL};
    bool seen[4] = {false, false, false, false};
    for (long i = 0; i < n; i++) {
        char path[64], id[256], obj[64];
        snprintf(path, sizeof(path), "data.%ld.id", i);
        cr_assert(h_json_get(r.body, r.body_len, path, id, sizeof(id)) > 0, "%s", r.body);
        snprintf(path, sizeof(path), "data.%ld.object", i);
        cr_assert(h_json_get(r.body, r.body_len, path, obj, sizeof(obj)) > 0, "%s", r.body);
        cr_assert_str_eq(obj, "model");
        for (size_t k = 0; k < 4; k++)
            if (strcmp(id, want[k]) == 0)
                seen[k] = true;
        cr_assert(strcmp(id, H_UPSTREAM_MODEL) != 0, "upstream name listed: %s", r.body);
    }
    for (size_t k = 0; k < 4; k++)
        cr_assert(seen[k], "%s not listed: %s", want[k], r.body);
    h_resp_free(&r);
    h_finish();
}

Test(proxy, request_id_is_propagated_and_logged)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, "X-Request-Id: rid-propagated-42\r\n", &r), 0);
    cr_assert_eq(r.status, 200);
    const char *rid = h_resp_header(&r, "x-request-id");
    cr_assert(rid && strcmp(rid, "rid-propagated-42") == 0, "x-request-id %s", rid);
    char *line = h_log_find("rid-propagated-42", 5000);
    cr_assert(line != NULL, "no access-log line with the request id");
    char v[256];
    cr_assert(h_json_get(line, strlen(line), "request_id", v, sizeof(v)) >= 0, "%s", line);
    cr_assert_str_eq(v, "rid-propagated-42");
    cr_assert(h_json_get(line, strlen(line), "key", v, sizeof(v)) >= 0, "%s", line);
    cr_assert_str_eq(v, "demo");
    cr_assert(h_json_get(line, strlen(line), "model", v, sizeof(v)) >= 0, "%s", line);
    cr_assert_str_eq(v, H_MODEL);
    cr_assert(h_json_get(line, strlen(line), "provider", v, sizeof(v)) >= 0, "%s", line);
    cr_assert_str_eq(v, "mock");
    static const char *const fields[] = {"time", "bytes_in", "bytes_out", "ttfb_ms", "duration_ms"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        cr_assert(h_json_get(line, strlen(line), fields[i], v, sizeof(v)) >= 0, "no %s in %s",
                  fields[i], line);
    free(line);
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, request_id_is_generated_when_absent)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r, r2;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(h_chat(body, NULL, &r2), 0);
    cr_assert_eq(r.status, 200);
    const char *rid = h_resp_header(&r, "x-request-id");
    const char *rid2 = h_resp_header(&r2, "x-request-id");
    cr_assert(rid && *rid, "no x-request-id generated");
    cr_assert(rid2 && strcmp(rid, rid2) != 0, "two requests got the same id %s", rid);
    char needle[300];
    snprintf(needle, sizeof(needle), "\"%s\"", rid);
    char *line = h_log_find(needle, 5000);
    cr_assert(line != NULL, "generated id %s not in the access log", rid);
    free(line);
    h_resp_free(&r2);
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, keep_alive_serves_several_requests_on_one_connection)
{
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    char *plain = h_chat_body(H_MODEL, false, NULL);
    char *streamed = h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":3}");
    for (int i = 0; i < 3; i++) {
        struct h_resp r;
        cr_assert_eq(h_send_request(&c, "POST", "/v1/chat/completions", H_AUTH, plain), 0);
        cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0, "request %d", i);
        cr_assert_eq(r.status, 200, "request %d: %d %s", i, r.status, r.body);
        cr_assert(r.keepalive, "request %d: conduit closes the connection", i);
        assert_str_at(r.body, "object", "chat.completion");
        h_resp_free(&r);

        /* A stream in between must leave the connection usable as well. */
        struct h_stream s;
        cr_assert_eq(h_send_request(&c, "POST", "/v1/chat/completions", H_AUTH, streamed), 0);
        cr_assert_eq(h_stream_open(&c, &s, H_IO_TIMEOUT_MS), 0);
        cr_assert_eq(s.head.status, 200);
        cr_assert_eq(h_stream_read_all(&c, &s, 30000), 0);
        cr_assert(s.saw_done && s.complete);
        h_stream_free(&s);

        cr_assert_eq(h_send_request(&c, "GET", "/v1/models", H_AUTH, NULL), 0);
        cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
        cr_assert_eq(r.status, 200);
        assert_str_at(r.body, "object", "list");
        h_resp_free(&r);
    }
    free(streamed);
    free(plain);
    h_conn_close(&c);
    h_finish();
}

Test(proxy, pipelined_requests_are_answered_in_order)
{
    /* The first one is slow upstream, so answering out of order would show. */
    char *slow = h_chat_body(H_MODEL, false, "\"mock\":{\"first_delay_ms\":300}");
    char msg[4096];
    int n = snprintf(msg, sizeof(msg),
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" H_AUTH
                     "X-Request-Id: pipe-1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s"
                     "GET /v1/models HTTP/1.1\r\nHost: x\r\n" H_AUTH "X-Request-Id: pipe-2\r\n\r\n",
                     strlen(slow), slow);
    cr_assert(n > 0 && (size_t)n < sizeof(msg));
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    cr_assert_eq(h_conn_send(&c, msg, (size_t)n), 0);
    struct h_resp r1, r2;
    cr_assert_eq(h_read_response(&c, &r1, H_IO_TIMEOUT_MS), 0);
    cr_assert_eq(h_read_response(&c, &r2, H_IO_TIMEOUT_MS), 0);
    cr_assert_eq(r1.status, 200, "%d %s", r1.status, r1.body);
    cr_assert_eq(r2.status, 200, "%d %s", r2.status, r2.body);
    const char *id1 = h_resp_header(&r1, "x-request-id");
    const char *id2 = h_resp_header(&r2, "x-request-id");
    cr_assert(id1 && strcmp(id1, "pipe-1") == 0, "first answer has id %s", id1);
    cr_assert(id2 && strcmp(id2, "pipe-2") == 0, "second answer has id %s", id2);
    assert_str_at(r1.body, "object", "chat.completion");
    assert_str_at(r2.body, "object", "list");
    h_resp_free(&r2);
    h_resp_free(&r1);
    h_conn_close(&c);
    free(slow);
    h_finish();
}

/* An upstream 429 reaches the client as it came, retry-after included. */
static void expect_429_passes_through(bool stream, const char *retry_after)
{
    char extra[96];
    snprintf(extra, sizeof(extra), "\"mock\":{\"status\":429,\"retry_after\":\"%s\"}", retry_after);
    struct h_resp r;
    h_expect_chat_error(H_MODEL, stream, extra, 429, NULL, &r);
    const char *ra = h_resp_header(&r, "retry-after");
    cr_assert(ra && strcmp(ra, retry_after) == 0, "retry-after %s", ra ? ra : "(none)");
    h_resp_free(&r);
}

Test(proxy, upstream_429_passes_through_with_retry_after)
{
    expect_429_passes_through(false, "3");
    h_finish();
}

Test(proxy, streamed_upstream_429_passes_through_too)
{
    expect_429_passes_through(true, "7");
    h_finish();
}

Test(proxy, upstream_connection_refused_gives_502)
{
    h_expect_chat_error(DEAD_MODEL, false, NULL, 502, NULL, NULL);
    h_finish();
}

Test(proxy, upstream_stall_gives_504)
{
    char *body = h_chat_body(SLOW_MODEL, false, "\"mock\":{\"fault\":\"stall\"}");
    struct h_resp r;
    double t0 = h_now_ms();
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    double took = h_now_ms() - t0;
    h_assert_error(&r, 504, NULL);
    /* The provider's 1 s timeout fired, not some default of minutes. */
    cr_assert(took < 10000, "504 after %.0f ms", took);
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, missing_key_gives_401)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/chat/completions", NULL, body, &r), 0);
    h_assert_error(&r, 401, "invalid_api_key");
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, wrong_key_gives_401)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/chat/completions",
                      "Authorization: Bearer sk-test-but-longer\r\n", body, &r),
                 0);
    h_assert_error(&r, 401, "invalid_api_key");
    h_resp_free(&r);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/chat/completions", "Authorization: Bearer sk-tes\r\n",
                      body, &r),
                 0);
    h_assert_error(&r, 401, "invalid_api_key");
    h_resp_free(&r);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/chat/completions",
                      "Authorization: Bearer " H_PROVIDER_KEY "\r\n", body, &r),
                 0);
    h_assert_error(&r, 401, "invalid_api_key");
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, x_api_key_header_is_accepted)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/chat/completions",
                      "X-API-Key: " H_OTHER_CLIENT_KEY "\r\nX-Request-Id: xapikey-1\r\n", body, &r),
                 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    char *line = h_log_find("xapikey-1", 5000);
    cr_assert(line != NULL);
    char v[64];
    cr_assert(h_json_get(line, strlen(line), "key", v, sizeof(v)) >= 0, "%s", line);
    cr_assert_str_eq(v, "other", "the log names key %s, want other", v);
    free(line);
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, unknown_model_gives_404)
{
    h_expect_chat_error("no-such-model", false, NULL, 404, "model_not_found", NULL);
    h_finish();
}

Test(proxy, unknown_path_gives_404_error_object)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", "/v1/nothing-here", H_AUTH, NULL, &r), 0);
    h_assert_error(&r, 404, NULL);
    h_resp_free(&r);
    h_finish();
}

Test(proxy, healthz_and_metrics)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", "/healthz", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);

    char *body = h_chat_body(H_MODEL, false, NULL);
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    free(body);

    /* Counters are merged when scraped; the request's own may land just after its answer. */
    double deadline = h_now_ms() + 3000;
    bool found = false;
    char *text = NULL;
    while (!found) {
        cr_assert_eq(h_do(H.gw_port, "GET", "/metrics", NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 200);
        free(text);
        text = r.body;
        r.body = NULL;
        h_resp_free(&r);
        cr_assert(strstr(text, "conduit_requests_total") != NULL, "%s", text);
        for (char *line = text; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(line, "conduit_requests_total{", 23) == 0 &&
                strstr(line, "model=\"" H_MODEL "\"") && strstr(line, "provider=\"mock\"") &&
                strstr(line, "status=\"200\""))
                found = true;
            if (nl)
                *nl = '\n';
            line = nl ? nl + 1 : NULL;
        }
        if (!found && h_now_ms() >= deadline)
            break;
        if (!found)
            h_sleep_ms(100);
    }
    cr_assert(found,
              "no conduit_requests_total{model=\"%s\",provider=\"mock\",status=\"200\"}:\n%s",
              H_MODEL, text);
    free(text);
    h_finish();
}

Test(proxy, upstream_closing_before_the_response_gives_502)
{
    char *body = h_chat_body(H_MODEL, false, "\"mock\":{\"fault\":\"close_before_response\"}");
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    h_assert_error(&r, 502, NULL);
    h_resp_free(&r);
    free(body);
    /* The broken upstream connection is not handed to the next request. */
    body = h_chat_body(H_MODEL, false, NULL);
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(proxy, upstream_malformed_chunked_body_gives_502)
{
    char *body = h_chat_body(H_MODEL, false, "\"mock\":{\"fault\":\"malformed_chunk\"}");
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    h_assert_error(&r, 502, NULL);
    h_resp_free(&r);
    free(body);
    h_finish();
}

/*
 * An upstream that closes mid-stream: the client's stream still ends the way
 * an OpenAI client understands (an error event, then [DONE], then the last
 * chunk), instead of a cut connection it would have to interpret; the
 * failure is in the access log.
 */
Test(proxy, upstream_closing_mid_stream_ends_the_client_stream_with_an_error_event_and_done)
{
    char *body =
        h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":6,\"fault\":\"close_mid_stream\"}");
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions",
                                H_AUTH "x-request-id: cut-stream-1\r\n", body),
                 0);
    free(body);
    cr_assert_eq(s.head.status, 200);
    int rc = h_stream_read_all(&c, &s, 10000);
    cr_assert_eq(rc, 0, "stream read: %s after %zu events", strerror(-rc), s.nevs);
    cr_assert(s.complete, "the body did not end with its last chunk");
    size_t n;
    free(h_stream_text(&s, &n));
    cr_assert_eq(n, 3, "%zu content chunks; the mock cuts after 3 of 6", n);
    cr_assert(s.nevs >= 2);
    cr_assert_str_eq(s.evs[s.nevs - 1].data, "[DONE]", "[DONE] is not the last event");
    const char *err = s.evs[s.nevs - 2].data;
    char v[256];
    cr_assert_gt(h_json_get(err, strlen(err), "error.code", v, sizeof(v)), 0, "%s", err);
    cr_assert_str_eq(v, "upstream_reset");
    cr_assert_gt(h_json_get(err, strlen(err), "error.type", v, sizeof(v)), 0, "%s", err);
    cr_assert_str_eq(v, "server_error");
    cr_assert_gt(h_json_get(err, strlen(err), "error.message", v, sizeof(v)), 0, "%s", err);
    cr_assert(strstr(v, "provider mock"), "%s", v);
    size_t dones = 0;
    for (size_t i = 0; i < s.nevs; i++)
        dones += strcmp(s.evs[i].data, "[DONE]") == 0;
    cr_assert_eq(dones, 1, "%zu [DONE] events", dones);
    h_stream_free(&s);

    /* The response was whole, so the connection serves the next request. */
    body = h_chat_body(H_MODEL, false, NULL);
    cr_assert_eq(h_send_request(&c, "POST", "/v1/chat/completions", H_AUTH, body), 0);
    struct h_resp r;
    cr_assert_eq(h_read_response(&c, &r, H_IO_TIMEOUT_MS), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    h_resp_free(&r);
    h_conn_close(&c);
    free(body);

    /* The access log still says the upstream failed. */
    char *line = h_log_find("cut-stream-1", 5000);
    cr_assert(line, "no access log line for the cut stream");
    cr_assert(strstr(line, "\"error\":\"upstream closed the connection early\""), "%s", line);
    free(line);
    h_finish();
}

Test(proxy, head_gets_headers_without_a_body_and_the_next_response_parses)
{
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    /* Pipelined: a HEAD that wrongly carried its body would corrupt the second response. */
    cr_assert_eq(h_conn_send_str(&c, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"),
                 0);
    char raw[2048] = "";
    size_t n = 0;
    double deadline = h_now_ms() + 5000;
    while (!strstr(raw, "ready\"}") && h_now_ms() < deadline && n < sizeof(raw) - 1) {
        ssize_t k = recv(c.fd, raw + n, sizeof(raw) - 1 - n, MSG_DONTWAIT);
        if (k > 0)
            n += (size_t)k;
        else
            h_sleep_ms(10);
        raw[n] = '\0';
    }
    const char *second = strstr(raw + 1, "HTTP/1.1 ");
    cr_assert(second, "no second response: %s", raw);
    cr_assert(strncmp(raw, "HTTP/1.1 200", 12) == 0, "%s", raw);
    /* The first response ends at its blank line: no {"status":"ok"} before the second. */
    cr_assert(strstr(raw, "\r\n\r\nHTTP/1.1 200") == second - 4, "HEAD carried a body: %s", raw);
    cr_assert(strstr(second, "{\"status\":\"ready\"}"), "%s", second);
    h_conn_close(&c);
    h_finish();
}
