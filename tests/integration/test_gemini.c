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

#include "harness_dialect.h"

#define CHAT "gem-chat"   /* -> gemini-2.5-flash */
#define ODD "gem-odd"     /* -> "tuned model/v2": the path must carry it encoded */
#define EMBED "gem-embed" /* -> text-embedding-004 */
#define BADKEY "gem-bad"  /* provider with a key the mock does not take */

static void setup(void)
{
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    hd_setup(&mo,
             "  - name: gem\n    type: gemini\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: gembad\n    type: gemini\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"not-the-key\"\n",
             "  - name: " CHAT "\n    provider: gem\n    model: gemini-2.5-flash\n"
             "  - name: " ODD "\n    provider: gem\n    model: \"tuned model/v2\"\n"
             "  - name: " EMBED "\n    provider: gem\n    model: text-embedding-004\n"
             "  - name: " BADKEY "\n    provider: gembad\n    model: gemini-2.5-flash\n");
}

TestSuite(gemini, .init = setup, .fini = h_teardown, .timeout = 60);

static long long mock_requests(void)
{
    struct h_mock_stats st;
    h_mock_stats(&st);
    return st.requests;
}

Test(gemini, completion_is_translated_both_ways)
{
    struct h_resp r;
    hd_post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            "{\"role\":\"user\",\"content\":\"Hello\"}],\"temperature\":0.2,\"max_tokens\":64,"
            "\"mock\":{\"chunks\":3}}",
            &r);
    hd_expect_completion(&r, CHAT, "tok0 tok1 tok2", "stop", 3, 3);
    h_resp_free(&r);

    /* What went upstream: Gemini's path, key header and body. */
    h_mock_last_expect("path", "/v1beta/models/gemini-2.5-flash:generateContent");
    h_mock_last_expect("headers.x-goog-api-key", H_PROVIDER_KEY);
    h_mock_last_expect("headers.authorization", "");
    char *body = hd_last_body();
    h_json_expect(body, "systemInstruction.parts.0.text", "Be brief.");
    h_json_expect(body, "contents.0.role", "user");
    h_json_expect(body, "contents.0.parts.0.text", "Hello");
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
    hd_post("{\"model\":\"" ODD "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    h_mock_last_expect("path", "/v1beta/models/tuned%20model%2Fv2:generateContent");
    h_finish();
}

Test(gemini, stream_with_and_without_usage)
{
    hd_expect_streams_via(CHAT, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    h_finish();
}

Test(gemini, tool_calls_plain_and_streamed_and_their_results)
{
    struct h_resp r;
    hd_post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
            "\"tool_choice\":\"required\",\"mock\":{\"tool\":true}," HD_TOOLS "}",
            &r);
    char v[512], id[128];
    hd_expect_tool_call(&r, 0, "get_weather", "city", "Paris");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.id", id, sizeof(id));
    cr_assert(strncmp(id, "call_", 5) == 0, "id %s", id);
    h_resp_free(&r);
    char *body = hd_last_body();
    h_json_expect(body, "toolConfig.functionCallingConfig.mode", "ANY");
    h_json_get(body, strlen(body), "tools.0.functionDeclarations.0.parametersJsonSchema.type", v,
               sizeof(v));
    cr_assert_str_eq(v, "object", "%s", body);
    free(body);

    /* Streamed: one complete tool_call delta with the same JSON. */
    hd_expect_tool_stream("{\"model\":\"" CHAT "\",\"stream\":true,\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"Weather?\"}],\"mock\":{\"tool\":true}," HD_TOOLS
                          "}",
                          "get_weather", "city", "Paris", NULL);

    /* The call's result goes back as a functionResponse the strict mock accepts. */
    char req[2048];
    snprintf(
        req, sizeof(req),
        "{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"%s\",\"type\":"
        "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"{\\\"temp_c\\\":18}\"}]," HD_TOOLS
        "}",
        id, id);
    hd_post(req, &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    body = hd_last_body();
    h_json_expect(body, "contents.1.role", "model");
    h_json_expect(body, "contents.1.parts.0.functionCall.args.city", "Paris");
    h_json_expect(body, "contents.2.role", "user");
    h_json_expect(body, "contents.2.parts.0.functionResponse.name", "get_weather");
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
    hd_post("{\"model\":\"" CHAT "\",\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
            "\"mock\":{\"chunks\":1}}",
            &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "choices"), 3);
    long long idx;
    cr_assert(h_json_int(r.body, r.body_len, "choices.2.index", &idx));
    cr_assert_eq(idx, 2);
    h_json_expect(r.body, "choices.2.message.content", "tok0");
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
    hd_expect_rate_limited(CHAT, &r);
    h_resp_free(&r);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                 "\"mock\":{\"status\":%d}}",
                 t[i].status);
        hd_post(body, &r);
        h_assert_error(&r, t[i].want, t[i].code);
        h_resp_free(&r);
    }
    /* A streamed request that fails upstream is an error response, not a stream. */
    hd_post("{\"model\":\"" CHAT "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
            "\"Hi\"}],\"mock\":{\"status\":503}}",
            &r);
    h_assert_error(&r, 503, "service_unavailable");
    h_resp_free(&r);
    h_finish();
}

Test(gemini, a_wrong_provider_key_is_caught_by_the_mock_and_translated)
{
    struct h_resp r;
    hd_post("{\"model\":\"" BADKEY "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    h_assert_error(&r, 401, "invalid_api_key");
    char v[256];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "API key not valid"), "message %s", v);
    h_resp_free(&r);
    h_mock_last_expect("headers.x-goog-api-key", "not-the-key");
    h_finish();
}

Test(gemini, embeddings_in_both_encodings)
{
    struct h_resp r;
    char v[256];
    hd_expect_embeddings(EMBED, 8, false);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" EMBED "\",\"input\":[\"a\",\"b\"]}", &r),
                 0);
    char first_a[64];
    h_json_get(r.body, r.body_len, "data.0.embedding.0", first_a, sizeof(first_a));
    h_resp_free(&r);
    h_mock_last_expect("path", "/v1beta/models/text-embedding-004:batchEmbedContents");
    char *body = hd_last_body();
    h_json_expect(body, "requests.1.model", "models/text-embedding-004");
    h_json_expect(body, "requests.1.content.parts.0.text", "b");
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
    body = hd_last_body();
    long long dims;
    cr_assert(h_json_int(body, strlen(body), "requests.0.outputDimensionality", &dims));
    cr_assert_eq(dims, 3);
    free(body);

    /* The same input gives the same vector (the mock's are deterministic). */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" EMBED "\",\"input\":\"a\"}", &r),
                 0);
    h_json_expect(r.body, "data.0.embedding.0", first_a);
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
    hd_post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
            "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
            "\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}]}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    hd_post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
            "\"logit_bias\":{\"50256\":-100}}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_json_expect(r.body, "error.param", "logit_bias");
    h_resp_free(&r);
    hd_post("{\"model\":\"" CHAT "\",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"x\","
            "\"content\":\"18C\"}]}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    cr_assert_eq(mock_requests(), before, "a refused request reached the provider");
    h_finish();
}

Test(gemini, a_stream_cut_by_the_provider_ends_with_an_error_chunk_and_done)
{
    hd_expect_cut_stream_ends_with_error(CHAT);
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
    hd_post(ok, &r); /* also the warm-up: buffers a large request touches are in the baseline */
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    char *body = hd_last_body();
    cr_assert(strstr(body, "\"functionResponse\""), "%.200s", body);
    free(body);
    free(ok);

    long rss0 = h_gw_rss_kb();
    cr_assert_gt(rss0, 0);
    long long before = mock_requests();
    char *bad = amplifying_body(50000, 3000);
    for (int i = 0; i < 3; i++) {
        hd_post(bad, &r);
        h_assert_error(&r, 400, NULL);
        h_json_expect(r.body, "error.param", "messages[1].tool_calls[0].function.name");
        h_resp_free(&r);
    }
    free(bad);
    long rss1 = h_gw_rss_kb();
    cr_assert_eq(mock_requests(), before, "a refused request reached the provider");
    cr_assert_lt(rss1 - rss0, 16 * 1024, "conduit grew by %ld KiB on three refused requests",
                 rss1 - rss0);
    h_finish();
}
