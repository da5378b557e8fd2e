/*
 * tests/integration/test_cohere.c — a client speaking OpenAI's API to models
 * served by Cohere's v2 API (the mock, strict about the bearer key, paths,
 * required fields, enum values and unknown fields): answers, streams with and
 * without usage, tool calls plain and streamed, upstream errors, embeddings in
 * both encodings, and the key check, end to end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CO "command"         /* model on provider co (the right key) */
#define CO_BAD "command-bad" /* model on provider cobad (a key the mock refuses) */
#define CO_EMBED "co-embed"  /* embeddings model on provider co */
#define HI "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]"

static void setup(void)
{
    h_setup();
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    h_mock_start(&mo);
    char providers[1024];
    snprintf(providers, sizeof(providers),
             "  - name: co\n    type: cohere\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: cobad\n    type: cohere\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    api_key: \"not-the-key\"\n",
             H.mock_port, H.mock_port);
    struct h_gw_opts o = {.provider_items = providers,
                          .extra_model_items = "  - name: " CO "\n    provider: co\n"
                                               "    model: command-a-03-2025\n"
                                               "  - name: " CO_BAD "\n    provider: cobad\n"
                                               "    model: command-a-03-2025\n"
                                               "  - name: " CO_EMBED "\n    provider: co\n"
                                               "    model: embed-v4.0\n"};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(cohere, .init = setup, .fini = teardown, .timeout = 60);

static void post(const char *body, struct h_resp *r)
{
    cr_assert_eq(h_chat(body, NULL, r), 0);
}

/* The body the mock received last (malloc'd, unescaped). */
static char *last_body(void)
{
    char *doc = h_mock_last();
    cr_assert(doc, "the mock saw no request");
    char *body = h_json_dup(doc, strlen(doc), "body");
    free(doc);
    cr_assert(body);
    return body;
}

Test(cohere, completion_is_translated_both_ways)
{
    struct h_resp r;
    post("{\"model\":\"" CO "\",\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
         "{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":50,\"stop\":\"END\","
         "\"temperature\":0.3,\"top_p\":1,\"user\":\"u-1\",\"store\":false,"
         "\"mock\":{\"chunks\":3}}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512];
    h_json_get(r.body, r.body_len, "object", v, sizeof(v));
    cr_assert_str_eq(v, "chat.completion");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, CO);
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
    cr_assert_gt(pt, 10, "prompt_tokens from usage.tokens (billed + template): %lld", pt);
    /* top_p 1 is outside Cohere's p range: clamped, and the client is told. */
    const char *warn = h_resp_header(&r, "x-conduit-warning");
    cr_assert(warn && strstr(warn, "top_p"), "warning: %s", warn ? warn : "(none)");
    h_resp_free(&r);

    /* What went upstream: Cohere's path, bearer key and body. */
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v2/chat");
    h_mock_last_get("headers.authorization", v, sizeof(v));
    cr_assert_str_eq(v, "Bearer " H_PROVIDER_KEY);
    char *body = last_body();
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
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CO "\",\"stream\":true," HI
                                ",\"mock\":{\"chunks\":4,\"delay_ms\":20}}"),
                 0);
    cr_assert_eq(s.head.status, 200);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    size_t n = 0;
    char *text = h_stream_text(&s, &n);
    cr_assert_str_eq(text, "tok0 tok1 tok2 tok3 ");
    cr_assert_eq(n, 4);
    free(text);
    bool usage = false;
    char finish[32] = "";
    for (size_t i = 0; i < s.nevs; i++) {
        const char *d = s.evs[i].data;
        usage |= h_event_is_usage(d);
        h_json_get(d, strlen(d), "choices.0.finish_reason", finish, sizeof(finish));
    }
    cr_assert(s.saw_done && s.complete, "no [DONE] or a cut stream");
    cr_assert_not(usage, "usage chunk for a client that did not ask");
    h_conn_close(&c);
    h_stream_free(&s);
    char *body = last_body();
    cr_assert(h_json_true(body, strlen(body), "stream"), "stream not asked upstream: %s", body);
    free(body);

    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CO "\",\"stream\":true,\"stream_options\":"
                                "{\"include_usage\":true}," HI ",\"mock\":{\"chunks\":2}}"),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    const char *last_usage = NULL;
    for (size_t i = 0; i < s.nevs; i++)
        if (h_event_is_usage(s.evs[i].data))
            last_usage = s.evs[i].data;
    cr_assert(last_usage, "no usage chunk although include_usage was asked");
    long long ct;
    cr_assert(h_json_int(last_usage, strlen(last_usage), "usage.completion_tokens", &ct));
    cr_assert_eq(ct, 2);
    cr_assert(s.saw_done);
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"      \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]"

Test(cohere, tool_calls_come_back_in_openai_shape)
{
    struct h_resp r;
    post("{\"model\":\"" CO "\"," HI ",\"tool_choice\":\"required\",\"mock\":{\"tool\":true}," TOOLS
         "}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512];
    h_json_get(r.body, r.body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "tool_calls");
    h_json_get(r.body, r.body_len, "choices.0.message.content", v, sizeof(v));
    cr_assert_str_eq(v, "null", "tool_plan leaked into content: %s", r.body);
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.name", v, sizeof(v));
    cr_assert_str_eq(v, "get_weather");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.id", v, sizeof(v));
    cr_assert_str_eq(v, "get_weather_mock1");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.arguments", v,
               sizeof(v));
    char city[64];
    cr_assert(h_json_get(v, strlen(v), "city", city, sizeof(city)) > 0, "arguments: %s", v);
    cr_assert_str_eq(city, "Paris");
    h_resp_free(&r);
    char *body = last_body();
    h_json_get(body, strlen(body), "tool_choice", v, sizeof(v));
    cr_assert_str_eq(v, "REQUIRED");
    free(body);

    /* A named function: only it is offered to Cohere, required. */
    post("{\"model\":\"" CO "\"," HI ",\"tool_choice\":{\"type\":\"function\",\"function\":"
         "{\"name\":\"now\"}},\"mock\":{\"tool\":true}," TOOLS "}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.name", v, sizeof(v));
    cr_assert_str_eq(v, "now");
    h_resp_free(&r);
    body = last_body();
    cr_assert_eq(h_json_array_len(body, strlen(body), "tools"), 1, "%s", body);
    free(body);

    /* Streamed: the first delta names the call, the argument pieces add up. */
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CO "\",\"stream\":true," HI
                                ",\"mock\":{\"tool\":true}," TOOLS "}"),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    char args[512] = "", name[64] = "", finish[32] = "";
    size_t named = 0;
    for (size_t i = 0; i < s.nevs; i++) {
        char piece[256];
        const char *d = s.evs[i].data;
        if (h_json_get(d, strlen(d), "choices.0.delta.tool_calls.0.function.name", name,
                       sizeof(name)) > 0)
            named++;
        if (h_json_get(d, strlen(d), "choices.0.delta.tool_calls.0.function.arguments", piece,
                       sizeof(piece)) > 0)
            strncat(args, piece, sizeof(args) - strlen(args) - 1);
        h_json_get(d, strlen(d), "choices.0.finish_reason", finish, sizeof(finish));
        char content[64] = "";
        h_json_get(d, strlen(d), "choices.0.delta.content", content, sizeof(content));
        cr_assert(!strstr(content, "weather"), "tool_plan leaked into the stream: %s", d);
    }
    cr_assert_eq(named, 1);
    cr_assert_str_eq(name, "get_weather");
    cr_assert(h_json_get(args, strlen(args), "city", city, sizeof(city)) > 0, "args: %s", args);
    cr_assert_str_eq(city, "Paris");
    cr_assert_str_eq(finish, "tool_calls");
    cr_assert(s.saw_done);
    h_conn_close(&c);
    h_stream_free(&s);
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
        post(body, &r);
        h_assert_error(&r, t[i].client, t[i].code);
        char msg[256];
        h_json_get(r.body, r.body_len, "error.message", msg, sizeof(msg));
        cr_assert(!strstr(msg, "upstream provider error"), "Cohere's message was lost for %d: %s",
                  t[i].upstream, msg);
        h_resp_free(&r);
    }
    post("{\"model\":\"" CO "\"," HI ",\"mock\":{\"status\":429,\"retry_after\":\"3\"}}", &r);
    h_assert_error(&r, 429, "rate_limit_exceeded");
    const char *ra = h_resp_header(&r, "retry-after");
    cr_assert(ra && strcmp(ra, "3") == 0, "retry-after %s", ra ? ra : "(none)");
    h_resp_free(&r);

    /* What Cohere cannot express is refused before anything is sent. */
    struct h_mock_stats before, after;
    h_mock_stats(&before);
    post("{\"model\":\"" CO "\"," HI ",\"n\":2}", &r);
    h_assert_error(&r, 400, NULL);
    char param[32];
    h_json_get(r.body, r.body_len, "error.param", param, sizeof(param));
    cr_assert_str_eq(param, "n");
    h_resp_free(&r);
    post("{\"model\":\"" CO "\"," HI ",\"logit_bias\":{\"1\":5}}", &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    h_mock_stats(&after);
    cr_assert_eq(after.requests, before.requests, "a refused request reached the mock");

    /* A stream the upstream cuts short is cut for the client too, never given a [DONE]
     * (the relay cuts the connection on an upstream reset: see test_proxy). */
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CO "\",\"stream\":true," HI
                                ",\"mock\":{\"chunks\":6,\"fault\":\"close_mid_stream\"}}"),
                 0);
    cr_assert_eq(s.head.status, 200);
    int rc = h_stream_read_all(&c, &s, 10000);
    cr_assert(rc == 0 || rc == -ECONNRESET, "stream read: %d", rc);
    cr_assert_not(s.saw_done, "a cut stream ended with [DONE]");
    size_t n;
    free(h_stream_text(&s, &n));
    cr_assert_lt(n, 6, "all chunks arrived although the upstream cut the stream");
    if (rc == 0)
        cr_assert(h_conn_wait_closed(&c, 5000), "the cut stream's connection stays open");
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

Test(cohere, embeddings_in_both_encodings)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" CO_EMBED "\",\"input\":[\"a\",\"b\"]}", &r),
                 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[256];
    h_json_get(r.body, r.body_len, "object", v, sizeof(v));
    cr_assert_str_eq(v, "list");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, CO_EMBED);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data"), 2);
    long long idx, pt;
    cr_assert(h_json_int(r.body, r.body_len, "data.1.index", &idx));
    cr_assert_eq(idx, 1);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data.0.embedding"), 8);
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens", &pt));
    cr_assert_gt(pt, 0);
    char first[64];
    h_json_get(r.body, r.body_len, "data.0.embedding.0", first, sizeof(first));
    h_resp_free(&r);
    char *body = last_body();
    size_t bl = strlen(body);
    h_json_get(body, bl, "input_type", v, sizeof(v));
    cr_assert_str_eq(v, "search_document");
    h_json_get(body, bl, "embedding_types.0", v, sizeof(v));
    cr_assert_str_eq(v, "float");
    h_json_get(body, bl, "model", v, sizeof(v));
    cr_assert_str_eq(v, "embed-v4.0");
    free(body);
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v2/embed");

    /* base64 (the openai SDKs' default): the same vector as little-endian float32. */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" CO_EMBED "\",\"input\":[\"a\",\"b\"],"
                      "\"encoding_format\":\"base64\"}",
                      &r),
                 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_json_get(r.body, r.body_len, "data.0.embedding", v, sizeof(v));
    cr_assert_eq(strlen(v), 44, "8 float32 in base64: %s", v); /* 32 bytes -> 44 chars */
    h_resp_free(&r);

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
    (void)first;
    h_finish();
}

Test(cohere, the_provider_key_is_checked)
{
    struct h_resp r;
    post("{\"model\":\"" CO_BAD "\"," HI "}", &r);
    h_assert_error(&r, 401, "invalid_api_key");
    char v[256];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert_str_eq(v, "invalid api token");
    h_resp_free(&r);
    h_mock_last_get("headers.authorization", v, sizeof(v));
    cr_assert_str_eq(v, "Bearer not-the-key");
    /* The right key on the same mock works. */
    post("{\"model\":\"" CO "\"," HI "}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    h_finish();
}
