/*
 * tests/integration/test_cohere.c — a client speaking OpenAI's API to models
 * served by Cohere's v2 API (the mock, strict about the bearer key, paths,
 * required fields, enum values and unknown fields): answers, streams with and
 * without usage, tool calls plain and streamed, upstream errors, embeddings in
 * both encodings, and the key check, end to end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_dialect.h"

#define CO "command"         /* model on provider co (the right key) */
#define CO_BAD "command-bad" /* model on provider cobad (a key the mock refuses) */
#define CO_EMBED "co-embed"  /* embeddings model on provider co */
#define HI "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]"

static void setup(void)
{
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    hd_setup(&mo,
             "  - name: co\n    type: cohere\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: cobad\n    type: cohere\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"not-the-key\"\n",
             "  - name: " CO "\n    provider: co\n    model: command-a-03-2025\n"
             "  - name: " CO_BAD "\n    provider: cobad\n    model: command-a-03-2025\n"
             "  - name: " CO_EMBED "\n    provider: co\n    model: embed-v4.0\n");
}

TestSuite(cohere, .init = setup, .fini = h_teardown, .timeout = 60);

Test(cohere, completion_is_translated_both_ways)
{
    struct h_resp r;
    hd_post("{\"model\":\"" CO
            "\",\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
            "{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":50,\"stop\":\"END\","
            "\"temperature\":0.3,\"top_p\":1,\"user\":\"u-1\",\"store\":false,"
            "\"mock\":{\"chunks\":3}}",
            &r);
    hd_expect_completion(&r, CO, "tok0 tok1 tok2", "stop", 3, 3);
    char v[512];
    /* top_p 1 is outside Cohere's p range: clamped, and the client is told. */
    const char *warn = h_resp_header(&r, "x-conduit-warning");
    cr_assert(warn && strstr(warn, "top_p"), "warning: %s", warn ? warn : "(none)");
    h_resp_free(&r);

    /* What went upstream: Cohere's path, bearer key and body. */
    h_mock_last_expect("path", "/v2/chat");
    h_mock_last_expect("headers.authorization", "Bearer " H_PROVIDER_KEY);
    char *body = hd_last_body();
    size_t bl = strlen(body);
    h_json_get(body, bl, "model", v, sizeof(v));
    cr_assert_str_eq(v, "command-a-03-2025");
    h_json_get(body, bl, "messages.0.role", v, sizeof(v));
    cr_assert_str_eq(v, "system", "developer becomes system: %s", body);
    h_json_get(body, bl, "stop_sequences.0", v, sizeof(v));
    cr_assert_str_eq(v, "END");
    h_json_get(body, bl, "p", v, sizeof(v));
    cr_assert_str_eq(v, "0.99");
    cr_assert(h_json_get(body, bl, "user", v, sizeof(v)) < 0, "user forwarded: %s", body);
    cr_assert(h_json_get(body, bl, "top_p", v, sizeof(v)) < 0, "top_p forwarded: %s", body);
    free(body);
    h_finish();
}

Test(cohere, stream_is_translated_with_and_without_usage)
{
    hd_expect_plain_stream(CO, 4, false);
    char *body = hd_last_body();
    cr_assert(h_json_true(body, strlen(body), "stream"), "stream not asked upstream: %s", body);
    free(body);
    hd_expect_plain_stream(CO, 2, true);
    h_finish();
}

/* get_weather and now: a named tool_choice must offer Cohere only its function. */
#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"      \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]"

Test(cohere, tool_calls_come_back_in_openai_shape)
{
    struct h_resp r;
    hd_post("{\"model\":\"" CO "\"," HI
            ",\"tool_choice\":\"required\",\"mock\":{\"tool\":true}," TOOLS "}",
            &r);
    h_json_expect(r.body, "choices.0.message.content", "null");
    hd_expect_tool_call(&r, 0, "get_weather", "city", "Paris");
    h_json_expect(r.body, "choices.0.message.tool_calls.0.id", "get_weather_mock1");
    h_resp_free(&r);
    char *body = hd_last_body();
    h_json_expect(body, "tool_choice", "REQUIRED");
    free(body);

    /* A named function: only it is offered to Cohere, required. */
    hd_post("{\"model\":\"" CO "\"," HI ",\"tool_choice\":{\"type\":\"function\",\"function\":"
            "{\"name\":\"now\"}},\"mock\":{\"tool\":true}," TOOLS "}",
            &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_json_expect(r.body, "choices.0.message.tool_calls.0.function.name", "now");
    h_resp_free(&r);
    body = hd_last_body();
    cr_assert_eq(h_json_array_len(body, strlen(body), "tools"), 1, "%s", body);
    free(body);

    /* Streamed: the first delta names the call, the argument pieces add up. */
    struct hd_stream s;
    hd_expect_tool_stream("{\"model\":\"" CO "\",\"stream\":true," HI
                          ",\"mock\":{\"tool\":true}," TOOLS "}",
                          "get_weather", "city", "Paris", &s);
    cr_assert(!strstr(s.text, "weather"), "tool_plan leaked into the stream: %s", s.text);
    hd_stream_free(&s);
    h_finish();
}

Test(cohere, upstream_errors_are_translated)
{
    static const struct {
        int upstream, client;
        const char *code;
    } t[] = {
        {400, 400, NULL},
        {401, 401, "invalid_api_key"},
        {402, 402, "insufficient_quota"},
        {404, 404, "not_found"},
        {422, 400, NULL},
        {499, 502, "upstream_cancelled"},
        {500, 500, NULL},
        {503, 503, "overloaded"},
        {504, 504, "timeout"},
    };
    struct h_resp r;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"model\":\"" CO "\"," HI ",\"mock\":{\"status\":%d}}",
                 t[i].upstream);
        hd_post(body, &r);
        h_assert_error(&r, t[i].client, t[i].code);
        char msg[256];
        h_json_get(r.body, r.body_len, "error.message", msg, sizeof(msg));
        cr_assert(!strstr(msg, "upstream provider error"), "Cohere's message was lost for %d: %s",
                  t[i].upstream, msg);
        h_resp_free(&r);
    }
    hd_expect_rate_limited(CO, &r);
    h_resp_free(&r);

    /* What Cohere cannot express is refused before anything is sent. */
    struct h_mock_stats before, after;
    h_mock_stats(&before);
    hd_post("{\"model\":\"" CO "\"," HI ",\"n\":2}", &r);
    h_assert_error(&r, 400, NULL);
    char param[32];
    h_json_get(r.body, r.body_len, "error.param", param, sizeof(param));
    cr_assert_str_eq(param, "n");
    h_resp_free(&r);
    hd_post("{\"model\":\"" CO "\"," HI ",\"logit_bias\":{\"1\":5}}", &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    h_mock_stats(&after);
    cr_assert_eq(after.requests, before.requests, "a refused request reached the mock");

    /* A stream the upstream cuts short ends with an error chunk and [DONE]. */
    hd_expect_cut_stream_ends_with_error(CO);
    h_finish();
}

Test(cohere, embeddings_in_both_encodings)
{
    struct h_resp r;
    char v[256];
    hd_expect_embeddings(CO_EMBED, 8, true);
    char *body = hd_last_body();
    size_t bl = strlen(body);
    h_json_get(body, bl, "input_type", v, sizeof(v));
    cr_assert_str_eq(v, "search_document");
    h_json_get(body, bl, "embedding_types.0", v, sizeof(v));
    cr_assert_str_eq(v, "float");
    h_json_get(body, bl, "model", v, sizeof(v));
    cr_assert_str_eq(v, "embed-v4.0");
    free(body);
    h_mock_last_expect("path", "/v2/embed");

    /* dimensions is Cohere's output_dimension. */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" CO_EMBED "\",\"input\":\"x\",\"dimensions\":256}", &r),
                 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data.0.embedding"), 256);
    h_resp_free(&r);
    /* ... which the mock, like Cohere, limits to its sizes: its 400 comes back translated. */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" CO_EMBED "\",\"input\":\"x\",\"dimensions\":100}", &r),
                 0);
    h_assert_error(&r, 400, NULL);
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "output_dimension"), "%s", v);
    h_resp_free(&r);
    h_finish();
}

Test(cohere, the_provider_key_is_checked)
{
    struct h_resp r;
    hd_post("{\"model\":\"" CO_BAD "\"," HI "}", &r);
    h_assert_error(&r, 401, "invalid_api_key");
    h_json_expect(r.body, "error.message", "invalid api token");
    h_resp_free(&r);
    h_mock_last_expect("headers.authorization", "Bearer not-the-key");
    /* The right key on the same mock works. */
    hd_post("{\"model\":\"" CO "\"," HI "}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    h_finish();
}
