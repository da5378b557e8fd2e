/*
 * tests/integration/test_anthropic.c — a client speaking OpenAI's API to a
 * model served by Anthropic's Messages API (the mock, strict about versions,
 * auth and fields): answers, streams, tool calls, usage, errors and the
 * anthropic-version rule for sampling parameters, end to end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define NEW "claude-new" /* provider on anthropic-version 2026-10-21 (the default) */
#define OLD "claude-old" /* provider on anthropic-version 2023-06-01 */

static void setup(void)
{
    h_setup();
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    h_mock_start(&mo);
    char providers[1024];
    snprintf(providers, sizeof(providers),
             "  - name: anew\n    type: anthropic\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: aold\n    type: anthropic\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n    anthropic_version: \"2023-06-01\"\n",
             H.mock_port, H.mock_port);
    struct h_gw_opts o = {.provider_items = providers,
                          .extra_model_items = "  - name: " NEW "\n    provider: anew\n"
                                               "    model: claude-sonnet-4-5\n"
                                               "  - name: " OLD "\n    provider: aold\n"
                                               "    model: claude-sonnet-4-5\n"};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(anthropic, .init = setup, .fini = teardown, .timeout = 60);

static void post(const char *body, struct h_resp *r)
{
    cr_assert_eq(h_chat(body, NULL, r), 0);
}

Test(anthropic, completion_is_translated_both_ways)
{
    struct h_resp r;
    post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
         "{\"role\":\"user\",\"content\":\"Hello\"}],\"mock\":{\"chunks\":3}}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512];
    cr_assert(h_json_get(r.body, r.body_len, "object", v, sizeof(v)) > 0);
    cr_assert_str_eq(v, "chat.completion");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, NEW);
    h_json_get(r.body, r.body_len, "choices.0.message.content", v, sizeof(v));
    cr_assert_str_eq(v, "tok0 tok1 tok2");
    h_json_get(r.body, r.body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "stop");
    long long ct, cached, pt;
    cr_assert(h_json_int(r.body, r.body_len, "usage.completion_tokens", &ct));
    cr_assert_eq(ct, 3);
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens_details.cached_tokens", &cached));
    cr_assert_eq(cached, 3);
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens", &pt));
    cr_assert_gt(pt, cached, "prompt_tokens counts cached input too");
    h_resp_free(&r);

    /* What went upstream: Anthropic's path, version, auth and body. */
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v1/messages");
    h_mock_last_get("headers.anthropic-version", v, sizeof(v));
    cr_assert_str_eq(v, "2026-10-21");
    h_mock_last_get("headers.authorization", v, sizeof(v));
    cr_assert_str_eq(v, "Bearer " H_PROVIDER_KEY);
    char *doc = h_mock_last();
    char body[4096];
    cr_assert(h_json_get(doc, strlen(doc), "body", body, sizeof(body)) > 0);
    free(doc);
    h_json_get(body, strlen(body), "system", v, sizeof(v));
    cr_assert_str_eq(v, "Be brief.", "system message lifted: %s", body);
    h_json_get(body, strlen(body), "model", v, sizeof(v));
    cr_assert_str_eq(v, "claude-sonnet-4-5");
    long long mt;
    cr_assert(h_json_int(body, strlen(body), "max_tokens", &mt), "max_tokens defaulted: %s", body);
    cr_assert_gt(mt, 0);
    h_finish();
}

Test(anthropic, older_version_uses_x_api_key)
{
    struct h_resp r;
    post("{\"model\":\"" OLD "\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\","
         "\"content\":\"Hi\"}]}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    cr_assert_null(h_resp_header(&r, "x-conduit-warning"));
    h_resp_free(&r);
    char v[256];
    h_mock_last_get("headers.anthropic-version", v, sizeof(v));
    cr_assert_str_eq(v, "2023-06-01");
    h_mock_last_get("headers.x-api-key", v, sizeof(v));
    cr_assert_str_eq(v, H_PROVIDER_KEY);
    h_finish();
}

Test(anthropic, sampling_parameters_on_the_new_version_go_out_on_the_old_one_with_a_warning)
{
    /* 2026-10-21 answers 400 to any temperature/top_p/top_k: the client must
     * not get a 400 it did not cause (the mock enforces the rule). */
    struct h_resp r;
    post("{\"model\":\"" NEW "\",\"temperature\":0.7,\"top_p\":0.9,\"messages\":[{\"role\":"
         "\"user\",\"content\":\"Hi\"}]}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    const char *warn = h_resp_header(&r, "x-conduit-warning");
    cr_assert(warn && strstr(warn, "2023-06-01"), "warning: %s", warn ? warn : "(none)");
    h_resp_free(&r);
    char v[256];
    h_mock_last_get("headers.anthropic-version", v, sizeof(v));
    cr_assert_str_eq(v, "2023-06-01");
    h_finish();
}

Test(anthropic, stream_is_translated_event_by_event)
{
    struct h_conn c;
    struct h_stream s;
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"" NEW "\",\"stream\":true,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hi\"}],\"mock\":{\"chunks\":4,\"delay_ms\":20}}");
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH, body),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    size_t n = 0;
    char *text = h_stream_text(&s, &n);
    cr_assert_str_eq(text, "tok0 tok1 tok2 tok3 ");
    free(text);
    bool usage = false;
    for (size_t i = 0; i < s.nevs; i++)
        usage |= h_event_is_usage(s.evs[i].data);
    cr_assert(s.saw_done && s.complete, "no [DONE] or a cut stream");
    cr_assert_not(usage, "usage chunk for a client that did not ask");
    h_conn_close(&c);
    h_stream_free(&s);

    snprintf(body, sizeof(body),
             "{\"model\":\"" NEW "\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
             "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":2}}");
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH, body),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    usage = false;
    for (size_t i = 0; i < s.nevs; i++)
        usage |= h_event_is_usage(s.evs[i].data);
    cr_assert(usage, "no usage chunk although include_usage was asked");
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

Test(anthropic, tool_calls_come_back_in_openai_shape)
{
#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                  \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]"
    struct h_resp r;
    post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
         "\"mock\":{\"tool\":true}," TOOLS "}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512];
    h_json_get(r.body, r.body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "tool_calls");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.name", v, sizeof(v));
    cr_assert_str_eq(v, "get_weather");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.arguments", v,
               sizeof(v));
    char city[64];
    cr_assert(h_json_get(v, strlen(v), "city", city, sizeof(city)) > 0, "arguments: %s", v);
    cr_assert_str_eq(city, "Paris");
    h_resp_free(&r);

    /* Streamed: the argument pieces add up to the same JSON. */
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" NEW "\",\"stream\":true,\"messages\":[{\"role\":"
                                "\"user\",\"content\":\"Weather?\"}],\"mock\":{\"tool\":true}," TOOLS
                                "}"),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    char args[512] = "";
    for (size_t i = 0; i < s.nevs; i++) {
        char piece[256];
        const char *d = s.evs[i].data;
        if (h_json_get(d, strlen(d), "choices.0.delta.tool_calls.0.function.arguments", piece,
                       sizeof(piece)) > 0)
            strncat(args, piece, sizeof(args) - strlen(args) - 1);
    }
    cr_assert(h_json_get(args, strlen(args), "city", city, sizeof(city)) > 0, "args: %s", args);
    cr_assert_str_eq(city, "Paris");
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

Test(anthropic, errors_are_translated)
{
    struct h_resp r;
    post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"mock\":{\"status\":429,\"retry_after\":\"3\"}}",
         &r);
    h_assert_error(&r, 429, NULL);
    const char *ra = h_resp_header(&r, "retry-after");
    cr_assert(ra && strcmp(ra, "3") == 0, "retry-after %s", ra ? ra : "(none)");
    h_resp_free(&r);
    post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"mock\":{\"status\":529}}",
         &r);
    h_assert_error(&r, 503, NULL);
    h_resp_free(&r);
    /* Anthropic serves no embeddings: a clear 400, not a request it cannot parse. */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" NEW "\",\"input\":\"x\"}", &r),
                 0);
    h_assert_error(&r, 400, "unsupported_endpoint");
    h_resp_free(&r);
    /* A tool call whose arguments are not JSON cannot be translated: 400, never sent. */
    post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
         "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
         "\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}]}",
         &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    h_finish();
}
