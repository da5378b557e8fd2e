/*
 * tests/integration/test_gemini.c — a client speaking OpenAI's API to models
 * served by Gemini's API (the mock, strict about x-goog-api-key, the path,
 * alt=sse and every field): answers, streams with and without usage, tool
 * calls plain and streamed, several candidates, upstream errors, embeddings,
 * and requests that must be refused before they are sent, end to end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CHAT "gem-chat"   /* -> gemini-2.5-flash */
#define ODD "gem-odd"     /* -> "tuned model/v2": the path must carry it encoded */
#define EMBED "gem-embed" /* -> text-embedding-004 */
#define BADKEY "gem-bad"  /* provider with a key the mock does not take */

static void setup(void)
{
    h_setup();
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    h_mock_start(&mo);
    char providers[1024];
    snprintf(providers, sizeof(providers),
             "  - name: gem\n    type: gemini\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: gembad\n    type: gemini\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    api_key: \"not-the-key\"\n",
             H.mock_port, H.mock_port);
    struct h_gw_opts o = {.provider_items = providers,
                          .extra_model_items = "  - name: " CHAT "\n    provider: gem\n"
                                               "    model: gemini-2.5-flash\n"
                                               "  - name: " ODD "\n    provider: gem\n"
                                               "    model: \"tuned model/v2\"\n"
                                               "  - name: " EMBED "\n    provider: gem\n"
                                               "    model: text-embedding-004\n"
                                               "  - name: " BADKEY "\n    provider: gembad\n"
                                               "    model: gemini-2.5-flash\n"};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(gemini, .init = setup, .fini = teardown, .timeout = 60);

static void post(const char *body, struct h_resp *r)
{
    cr_assert_eq(h_chat(body, NULL, r), 0);
}

/* The body the mock last received, unescaped (malloc'd). */
static char *last_body(void)
{
    char *doc = h_mock_last();
    cr_assert(doc);
    char *body = h_json_dup(doc, strlen(doc), "body");
    cr_assert(body, "no body in %s", doc);
    free(doc);
    return body;
}

static long long mock_requests(void)
{
    struct h_mock_stats st;
    h_mock_stats(&st);
    return st.requests;
}

Test(gemini, completion_is_translated_both_ways)
{
    struct h_resp r;
    post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
         "{\"role\":\"user\",\"content\":\"Hello\"}],\"temperature\":0.2,\"max_tokens\":64,"
         "\"mock\":{\"chunks\":3}}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512];
    h_json_get(r.body, r.body_len, "object", v, sizeof(v));
    cr_assert_str_eq(v, "chat.completion");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, CHAT);
    h_json_get(r.body, r.body_len, "id", v, sizeof(v));
    cr_assert(strncmp(v, "chatcmpl-", 9) == 0, "id %s", v);
    h_json_get(r.body, r.body_len, "choices.0.message.content", v, sizeof(v));
    cr_assert_str_eq(v, "tok0 tok1 tok2");
    h_json_get(r.body, r.body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "stop");
    long long ct, cached, pt, tt;
    cr_assert(h_json_int(r.body, r.body_len, "usage.completion_tokens", &ct));
    cr_assert_eq(ct, 3);
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens_details.cached_tokens", &cached));
    cr_assert_eq(cached, 3);
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens", &pt));
    cr_assert_gt(pt, cached, "prompt_tokens counts cached input too");
    cr_assert(h_json_int(r.body, r.body_len, "usage.total_tokens", &tt));
    cr_assert_eq(tt, pt + ct);
    h_resp_free(&r);

    /* What went upstream: Gemini's path, key header and body. */
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v1beta/models/gemini-2.5-flash:generateContent");
    h_mock_last_get("headers.x-goog-api-key", v, sizeof(v));
    cr_assert_str_eq(v, H_PROVIDER_KEY);
    h_mock_last_get("headers.authorization", v, sizeof(v));
    cr_assert_str_eq(v, "", "the key must not also go as a bearer token");
    char *body = last_body();
    h_json_get(body, strlen(body), "systemInstruction.parts.0.text", v, sizeof(v));
    cr_assert_str_eq(v, "Be brief.", "system message lifted: %s", body);
    h_json_get(body, strlen(body), "contents.0.role", v, sizeof(v));
    cr_assert_str_eq(v, "user");
    h_json_get(body, strlen(body), "contents.0.parts.0.text", v, sizeof(v));
    cr_assert_str_eq(v, "Hello");
    long long mo;
    cr_assert(h_json_int(body, strlen(body), "generationConfig.maxOutputTokens", &mo), "%s", body);
    cr_assert_eq(mo, 64);
    cr_assert_null(strstr(body, "\"model\""), "no model in a Gemini body: %s", body);
    free(body);
    h_finish();
}

Test(gemini, model_name_is_percent_encoded_in_the_path)
{
    struct h_resp r;
    post("{\"model\":\"" ODD "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    char v[256];
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v1beta/models/tuned%20model%2Fv2:generateContent");
    h_finish();
}

Test(gemini, stream_with_and_without_usage)
{
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CHAT "\",\"stream\":true,\"messages\":[{\"role\":"
                                "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":4,"
                                "\"delay_ms\":20}}"),
                 0);
    cr_assert_eq(s.head.status, 200);
    const char *ct = h_resp_header(&s.head, "content-type");
    cr_assert(ct && strstr(ct, "text/event-stream"), "content-type %s", ct ? ct : "(none)");
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    size_t n = 0;
    char *text = h_stream_text(&s, &n);
    cr_assert_str_eq(text, "tok0 tok1 tok2 tok3 ");
    cr_assert_eq(n, 4);
    free(text);
    bool usage = false;
    char finish[64] = "";
    for (size_t i = 0; i < s.nevs; i++) {
        const char *d = s.evs[i].data;
        usage |= h_event_is_usage(d);
        h_json_get(d, strlen(d), "choices.0.finish_reason", finish, sizeof(finish));
    }
    cr_assert(s.saw_done && s.complete, "no [DONE] or a cut stream");
    cr_assert_not(usage, "usage chunk for a client that did not ask");
    cr_assert_str_eq(finish, "stop");
    h_conn_close(&c);
    h_stream_free(&s);
    char v[256];
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");

    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CHAT "\",\"stream\":true,\"stream_options\":"
                                "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
                                "\"content\":\"Hi\"}],\"mock\":{\"chunks\":2}}"),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    cr_assert(s.saw_done && s.nevs >= 2);
    /* The usage chunk is the last before [DONE], with the last usageMetadata's counts. */
    const char *last = s.evs[s.nevs - 2].data;
    cr_assert(h_event_is_usage(last), "not a usage chunk: %s", last);
    long long ctok, cached;
    cr_assert(h_json_int(last, strlen(last), "usage.completion_tokens", &ctok));
    cr_assert_eq(ctok, 2);
    cr_assert(h_json_int(last, strlen(last), "usage.prompt_tokens_details.cached_tokens", &cached));
    cr_assert_eq(cached, 3);
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]"

Test(gemini, tool_calls_plain_and_streamed_and_their_results)
{
    struct h_resp r;
    post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
         "\"tool_choice\":\"required\",\"mock\":{\"tool\":true}," TOOLS "}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512], id[128];
    h_json_get(r.body, r.body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "tool_calls");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.name", v, sizeof(v));
    cr_assert_str_eq(v, "get_weather");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.id", id, sizeof(id));
    cr_assert(strncmp(id, "call_", 5) == 0, "id %s", id);
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.arguments", v,
               sizeof(v));
    char city[64];
    cr_assert(h_json_get(v, strlen(v), "city", city, sizeof(city)) > 0, "arguments: %s", v);
    cr_assert_str_eq(city, "Paris");
    h_resp_free(&r);
    char *body = last_body();
    h_json_get(body, strlen(body), "toolConfig.functionCallingConfig.mode", v, sizeof(v));
    cr_assert_str_eq(v, "ANY");
    h_json_get(body, strlen(body), "tools.0.functionDeclarations.0.parametersJsonSchema.type", v,
               sizeof(v));
    cr_assert_str_eq(v, "object", "%s", body);
    free(body);

    /* Streamed: one complete tool_call delta with the same JSON. */
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(
        h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                       "{\"model\":\"" CHAT "\",\"stream\":true,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"Weather?\"}],\"mock\":{\"tool\":true}," TOOLS "}"),
        0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    int calls = 0;
    char args[512] = "", finish[64] = "";
    for (size_t i = 0; i < s.nevs; i++) {
        const char *d = s.evs[i].data;
        if (h_json_get(d, strlen(d), "choices.0.delta.tool_calls.0.function.arguments", args,
                       sizeof(args)) > 0)
            calls++;
        h_json_get(d, strlen(d), "choices.0.finish_reason", finish, sizeof(finish));
    }
    cr_assert_eq(calls, 1);
    cr_assert(h_json_get(args, strlen(args), "city", city, sizeof(city)) > 0, "args: %s", args);
    cr_assert_str_eq(city, "Paris");
    cr_assert_str_eq(finish, "tool_calls");
    cr_assert(s.saw_done);
    h_conn_close(&c);
    h_stream_free(&s);

    /* The call's result goes back as a functionResponse the strict mock accepts. */
    char req[2048];
    snprintf(
        req, sizeof(req),
        "{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"%s\",\"type\":"
        "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"{\\\"temp_c\\\":18}\"}]," TOOLS
        "}",
        id, id);
    post(req, &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    body = last_body();
    h_json_get(body, strlen(body), "contents.1.role", v, sizeof(v));
    cr_assert_str_eq(v, "model");
    h_json_get(body, strlen(body), "contents.1.parts.0.functionCall.args.city", v, sizeof(v));
    cr_assert_str_eq(v, "Paris", "%s", body);
    h_json_get(body, strlen(body), "contents.2.role", v, sizeof(v));
    cr_assert_str_eq(v, "user");
    h_json_get(body, strlen(body), "contents.2.parts.0.functionResponse.name", v, sizeof(v));
    cr_assert_str_eq(v, "get_weather");
    long long temp;
    cr_assert(h_json_int(body, strlen(body), "contents.2.parts.0.functionResponse.response.temp_c",
                         &temp),
              "%s", body);
    cr_assert_eq(temp, 18);
    free(body);
    h_finish();
}

Test(gemini, several_candidates_are_several_choices)
{
    struct h_resp r;
    post("{\"model\":\"" CHAT "\",\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"mock\":{\"chunks\":1}}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "choices"), 3);
    long long idx;
    cr_assert(h_json_int(r.body, r.body_len, "choices.2.index", &idx));
    cr_assert_eq(idx, 2);
    char v[64];
    h_json_get(r.body, r.body_len, "choices.2.message.content", v, sizeof(v));
    cr_assert_str_eq(v, "tok0");
    h_resp_free(&r);

    /* Streamed: each choice gets its role, deltas and finish under its own index. */
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(
        h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                       "{\"model\":\"" CHAT "\",\"n\":2,\"stream\":true,\"messages\":"
                       "[{\"role\":\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":2}}"),
        0);
    cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    char text[2][64] = {"", ""};
    int finishes[2] = {0, 0};
    for (size_t i = 0; i < s.nevs; i++) {
        const char *d = s.evs[i].data;
        long long ix;
        char piece[64];
        if (!h_json_int(d, strlen(d), "choices.0.index", &ix))
            continue;
        cr_assert(ix == 0 || ix == 1, "index %lld", ix);
        if (h_json_get(d, strlen(d), "choices.0.delta.content", piece, sizeof(piece)) > 0)
            snprintf(text[ix] + strlen(text[ix]), sizeof(text[ix]) - strlen(text[ix]), "%s", piece);
        if (h_json_get(d, strlen(d), "choices.0.finish_reason", piece, sizeof(piece)) > 0 &&
            strcmp(piece, "null") != 0)
            finishes[ix]++;
    }
    cr_assert_str_eq(text[0], "tok0 tok1 ");
    cr_assert_str_eq(text[1], "tok0 tok1 ");
    cr_assert(finishes[0] == 1 && finishes[1] == 1);
    cr_assert(s.saw_done);
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

Test(gemini, upstream_errors_are_translated)
{
    static const struct {
        int status;
        int want;
        const char *code;
    } t[] = {
        {400, 400, NULL},
        {403, 403, NULL},
        {404, 404, "not_found"},
        {500, 500, NULL},
        {503, 503, "service_unavailable"},
        {504, 504, "timeout"},
    };
    struct h_resp r;
    post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"mock\":{\"status\":429,\"retry_after\":\"3\"}}",
         &r);
    h_assert_error(&r, 429, "rate_limit_exceeded");
    const char *ra = h_resp_header(&r, "retry-after");
    cr_assert(ra && strcmp(ra, "3") == 0, "retry-after %s", ra ? ra : "(none)");
    char v[256];
    h_json_get(r.body, r.body_len, "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "rate_limit_error");
    h_resp_free(&r);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                 "\"mock\":{\"status\":%d}}",
                 t[i].status);
        post(body, &r);
        h_assert_error(&r, t[i].want, t[i].code);
        h_resp_free(&r);
    }
    /* A streamed request that fails upstream is an error response, not a stream. */
    post("{\"model\":\"" CHAT "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
         "\"Hi\"}],\"mock\":{\"status\":503}}",
         &r);
    h_assert_error(&r, 503, "service_unavailable");
    h_resp_free(&r);
    h_finish();
}

Test(gemini, a_wrong_provider_key_is_caught_by_the_mock_and_translated)
{
    struct h_resp r;
    post("{\"model\":\"" BADKEY "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    h_assert_error(&r, 401, "invalid_api_key");
    char v[256];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "API key not valid"), "message %s", v);
    h_resp_free(&r);
    h_mock_last_get("headers.x-goog-api-key", v, sizeof(v));
    cr_assert_str_eq(v, "not-the-key");
    h_finish();
}

Test(gemini, embeddings_in_both_encodings)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" EMBED "\",\"input\":[\"a\",\"b\"]}", &r),
                 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[256];
    h_json_get(r.body, r.body_len, "object", v, sizeof(v));
    cr_assert_str_eq(v, "list");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, EMBED);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data"), 2);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data.1.embedding"), 8);
    long long pt;
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens", &pt));
    cr_assert_eq(pt, 0, "Gemini counts no embedding tokens");
    char first_a[64];
    h_json_get(r.body, r.body_len, "data.0.embedding.0", first_a, sizeof(first_a));
    h_resp_free(&r);
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/v1beta/models/text-embedding-004:batchEmbedContents");
    char *body = last_body();
    h_json_get(body, strlen(body), "requests.1.model", v, sizeof(v));
    cr_assert_str_eq(v, "models/text-embedding-004");
    h_json_get(body, strlen(body), "requests.1.content.parts.0.text", v, sizeof(v));
    cr_assert_str_eq(v, "b");
    free(body);

    /* dimensions -> outputDimensionality; base64 is 4 bytes per float: 3 -> 16 chars. */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" EMBED "\",\"input\":\"a\",\"dimensions\":3,"
                      "\"encoding_format\":\"base64\"}",
                      &r),
                 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_json_get(r.body, r.body_len, "data.0.embedding", v, sizeof(v));
    cr_assert_eq(strlen(v), 16, "base64 %s", v);
    h_resp_free(&r);
    body = last_body();
    long long dims;
    cr_assert(h_json_int(body, strlen(body), "requests.0.outputDimensionality", &dims));
    cr_assert_eq(dims, 3);
    free(body);

    /* The same input gives the same vector (the mock's are deterministic). */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" EMBED "\",\"input\":\"a\"}", &r),
                 0);
    h_json_get(r.body, r.body_len, "data.0.embedding.0", v, sizeof(v));
    cr_assert_str_eq(v, first_a);
    h_resp_free(&r);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" EMBED "\",\"input\":\"a\",\"mock\":{\"status\":429}}", &r),
                 0);
    h_assert_error(&r, 429, "rate_limit_exceeded");
    h_resp_free(&r);
    h_finish();
}

Test(gemini, untranslatable_requests_are_refused_before_they_are_sent)
{
    long long before = mock_requests();
    struct h_resp r;
    post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
         "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
         "\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}]}",
         &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"logit_bias\":{\"50256\":-100}}",
         &r);
    h_assert_error(&r, 400, NULL);
    char v[64];
    h_json_get(r.body, r.body_len, "error.param", v, sizeof(v));
    cr_assert_str_eq(v, "logit_bias");
    h_resp_free(&r);
    post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"x\","
         "\"content\":\"18C\"}]}",
         &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    cr_assert_eq(mock_requests(), before, "a refused request reached the provider");
    h_finish();
}

Test(gemini, a_stream_cut_by_the_provider_is_not_reported_as_complete)
{
    struct h_conn c;
    struct h_stream s;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" CHAT "\",\"stream\":true,\"messages\":[{\"role\":"
                                "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":4,"
                                "\"fault\":\"close_mid_stream\"}}"),
                 0);
    (void)h_stream_read_all(&c, &s, 10000);
    cr_assert_not(s.saw_done, "[DONE] after the provider cut the stream");
    size_t n = 0;
    char *text = h_stream_text(&s, &n);
    cr_assert_str_eq(text, "tok0 tok1 ");
    free(text);
    h_conn_close(&c);
    h_stream_free(&s);
    h_finish();
}

/*
 * The chat body of the "translation amplification" finding: an assistant tool
 * call whose name is name_len characters and `results` tool results for it,
 * each of which Gemini's functionResponse repeats the name in (malloc'd).
 */
static char *amplifying_body(size_t name_len, size_t results)
{
    size_t cap = name_len + results * 64 + 512, k = 0;
    char *b = malloc(cap);
    cr_assert(b);
    k += (size_t)snprintf(b, cap,
                          "{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"Hi\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
                          "\"function\",\"function\":{\"name\":\"");
    memset(b + k, 'n', name_len);
    k += name_len;
    k += (size_t)snprintf(b + k, cap - k, "\",\"arguments\":\"{}\"}}]}");
    for (size_t i = 0; i < results; i++)
        k += (size_t)snprintf(b + k, cap - k,
                              ",{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"ok\"}");
    snprintf(b + k, cap - k, "]}");
    cr_assert_lt(k + 3, cap);
    return b;
}

/*
 * The finding's request (197 KB: a 50,000-character name, 3,000 results) once
 * took conduit from 19 MiB to 355 MiB and would have sent about 150 MB
 * upstream. It is now a 400 naming the field, nothing reaches the provider,
 * and memory stays where it was; the same conversation with a name OpenAI
 * allows (64 characters) still goes through.
 */
Test(gemini, an_amplifying_request_is_refused_and_memory_stays_bounded)
{
    struct h_resp r;
    char *ok = amplifying_body(64, 3000);
    post(ok, &r); /* also the warm-up: buffers a large request touches are in the baseline */
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    char *body = last_body();
    cr_assert(strstr(body, "\"functionResponse\""), "%.200s", body);
    free(body);
    free(ok);

    long rss0 = h_gw_rss_kb();
    cr_assert_gt(rss0, 0);
    long long before = mock_requests();
    char *bad = amplifying_body(50000, 3000);
    for (int i = 0; i < 3; i++) {
        post(bad, &r);
        h_assert_error(&r, 400, NULL);
        char v[128];
        h_json_get(r.body, r.body_len, "error.param", v, sizeof(v));
        cr_assert_str_eq(v, "messages[1].tool_calls[0].function.name");
        h_resp_free(&r);
    }
    free(bad);
    long rss1 = h_gw_rss_kb();
    cr_assert_eq(mock_requests(), before, "a refused request reached the provider");
    cr_assert_lt(rss1 - rss0, 16 * 1024, "conduit grew by %ld KiB on three refused requests",
                 rss1 - rss0);
    h_finish();
}
