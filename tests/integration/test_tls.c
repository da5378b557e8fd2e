/*
 * tests/integration/test_tls.c — conduit to a TLS upstream (BearSSL) against
 * the mock's TLS port, with the test PKI in tests/data/tls: the right CA
 * works for plain and streamed answers and the connection is pooled; a CA
 * that did not sign the mock's certificate is refused with a 502.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>

#include "harness.h"

#define BAD_CA_MODEL "bad-ca-model"
#define FRESH_MODEL "fresh-conn-model"
#define IP_MODEL "ip-literal-model"
#define WORKERS 2

static void setup(void)
{
    h_setup();
    struct h_mock_opts mo = {.tls = true, .api_key = H_PROVIDER_KEY};
    h_mock_start(&mo);

    char base_url[128], mock_lines[512], providers[2048];
    snprintf(base_url, sizeof(base_url), "https://localhost:%d/v1", H.mock_tls_port);
    snprintf(mock_lines, sizeof(mock_lines), "    tls_ca_file: \"%s/tests/data/tls/ca.pem\"\n",
             GW_SOURCE_DIR);
    snprintf(providers, sizeof(providers),
             "  - name: bad-ca\n"
             "    type: openai\n"
             "    base_url: \"https://localhost:%d/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    tls_ca_file: \"%s/tests/data/tls/other-ca.pem\"\n"
             "  - name: fresh\n"
             "    type: openai\n"
             "    base_url: \"https://localhost:%d/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    tls_ca_file: \"%s/tests/data/tls/ca.pem\"\n"
             "    pool: {max_idle: 0}\n"
             "  - name: by-ip\n"
             "    type: openai\n"
             "    base_url: \"https://127.0.0.1:%d/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    tls_ca_file: \"%s/tests/data/tls/ca.pem\"\n",
             H.mock_tls_port, GW_SOURCE_DIR, H.mock_tls_port, GW_SOURCE_DIR, H.mock_tls_port,
             GW_SOURCE_DIR);
    struct h_gw_opts o = {.mock_base_url = base_url,
                          .mock_lines = mock_lines,
                          .provider_items = providers,
                          .extra_model_items = "  - name: " BAD_CA_MODEL "\n"
                                               "    provider: bad-ca\n"
                                               "    model: never-reached\n"
                                               "  - name: " FRESH_MODEL "\n"
                                               "    provider: fresh\n"
                                               "    model: fresh-upstream\n"
                                               "  - name: " IP_MODEL "\n"
                                               "    provider: by-ip\n"
                                               "    model: ip-upstream\n"};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 90);

Test(tls, non_streamed_completion_over_tls)
{
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    char v[256];
    cr_assert(h_json_get(r.body, r.body_len, "object", v, sizeof(v)) > 0, "%s", r.body);
    cr_assert_str_eq(v, "chat.completion");
    cr_assert(h_json_get(r.body, r.body_len, "model", v, sizeof(v)) > 0);
    cr_assert_str_eq(v, H_UPSTREAM_MODEL);
    cr_assert(h_json_get(r.body, r.body_len, "choices.0.message.content", v, sizeof(v)) > 0, "%s",
              r.body);

    /* It really went over TLS with the provider's key (the mock shares /mock/last). */
    h_mock_last_expect("headers.authorization", "Bearer " H_PROVIDER_KEY);
    h_resp_free(&r);
    free(body);
    h_finish();
}

Test(tls, streamed_completion_over_tls)
{
    char *body = h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":6,\"delay_ms\":20}");
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH, body), 0);
    cr_assert_eq(s.head.status, 200, "status %d: %s", s.head.status, s.head.body);
    cr_assert_eq(h_stream_read_all(&c, &s, 30000), 0);
    cr_assert(s.complete);
    size_t n;
    char *text = h_stream_text(&s, &n);
    cr_assert_eq(n, 6, "%zu content chunks, want 6", n);
    cr_assert(s.nevs > 0 && strcmp(s.evs[s.nevs - 1].data, "[DONE]") == 0);
    for (size_t i = 0; i < s.nevs; i++)
        cr_assert(!h_event_is_usage(s.evs[i].data), "unrequested usage chunk");
    free(text);
    h_conn_close(&c);
    h_stream_free(&s);
    free(body);
    h_finish();
}

Test(tls, wrong_ca_is_refused_with_502)
{
    struct h_resp r;
    h_expect_chat_error(BAD_CA_MODEL, false, NULL, 502, NULL, &r);
    char msg[1024];
    cr_assert(h_json_get(r.body, r.body_len, "error.message", msg, sizeof(msg)) > 0);
    cr_assert(strcasestr(msg, "certificate") != NULL,
              "the 502 does not say the certificate was the problem: %s", msg);
    h_resp_free(&r);

    /* The good provider on the same host is unaffected. */
    char *good = h_chat_body(H_MODEL, false, NULL);
    cr_assert_eq(h_chat(good, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    h_resp_free(&r);
    free(good);
    h_finish();
}

Test(tls, sequential_requests_reuse_pooled_tls_connections)
{
    struct h_mock_stats before, after;
    h_mock_stats(&before);
    char *plain = h_chat_body(H_MODEL, false, NULL);
    char *streamed = h_chat_body(H_MODEL, true, "\"mock\":{\"chunks\":2}");
    for (int i = 0; i < 10; i++) {
        if (i % 2 == 0) {
            struct h_resp r;
            cr_assert_eq(h_chat(plain, NULL, &r), 0);
            cr_assert_eq(r.status, 200, "request %d: %d %s", i, r.status, r.body);
            h_resp_free(&r);
        } else {
            struct h_conn c;
            struct h_stream s;
            cr_assert_eq(
                h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH, streamed), 0);
            cr_assert_eq(s.head.status, 200);
            cr_assert_eq(h_stream_read_all(&c, &s, 30000), 0);
            cr_assert(s.saw_done);
            h_conn_close(&c);
            h_stream_free(&s);
        }
    }
    h_mock_stats(&after);
    /* Each stats query is one plain connection of its own; the later one counts itself. */
    long long upstream = after.connections_total - before.connections_total - 1;
    cr_assert(after.requests - before.requests >= 10, "the mock saw only %lld requests",
              after.requests - before.requests);
    cr_assert(upstream <= WORKERS * 2,
              "%lld upstream connections for 10 sequential requests: no pooling", upstream);
    free(streamed);
    free(plain);
    h_finish();
}

/* The value of an unlabelled counter in /metrics, or -1. */
static long long metric(const char *name)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    long long v = -1;
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(r.body, key);
    if (p)
        v = strtoll(p + strlen(key), NULL, 10);
    h_resp_free(&r);
    return v;
}

Test(tls, new_connections_resume_the_pooled_tls_session)
{
    /* max_idle 0: every request opens a new TLS connection. On one client
     * connection (so one worker), the second and later handshakes offer the
     * session the first one got, and the mock (with a session cache) resumes. */
    long long connects0 = metric("conduit_upstream_connects_total");
    long long resumed0 = metric("conduit_upstream_tls_resumed_total");
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    char *body = h_chat_body(FRESH_MODEL, false, NULL);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(h_send_request(&c, "POST", "/v1/chat/completions", H_AUTH, body), 0);
        struct h_resp r;
        cr_assert_eq(h_read_response(&c, &r, 10000), 0);
        cr_assert_eq(r.status, 200, "request %d: %d %s", i, r.status, r.body);
        h_resp_free(&r);
    }
    free(body);
    h_conn_close(&c);
    long long connects = metric("conduit_upstream_connects_total") - connects0;
    long long resumed = metric("conduit_upstream_tls_resumed_total") - resumed0;
    cr_assert_eq(connects, 4, "%lld new upstream connections for 4 requests", connects);
    cr_assert_eq(resumed, 3, "%lld of the 3 later handshakes resumed", resumed);
    h_finish();
}

/* An internal host reached by address: the mock's certificate lists IP:127.0.0.1. */
Test(tls, an_ip_literal_base_url_is_verified_against_the_certificates_ip_san)
{
    char *body = h_chat_body(IP_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    free(body);
    cr_assert_eq(r.status, 200, "status %d: %s", r.status, r.body);
    char v[64];
    cr_assert(h_json_get(r.body, r.body_len, "model", v, sizeof(v)) > 0, "%s", r.body);
    cr_assert_str_eq(v, "ip-upstream");
    h_resp_free(&r);
    h_finish();
}
