/*
 * tests/integration/test_bedrock.c — a client speaking OpenAI's API to models
 * served by AWS Bedrock's Converse API (the mock, which verifies every SigV4
 * signature and checks the Converse body strictly): answers, streams (AWS
 * event stream, translated to SSE), tool calls, usage, errors, a wrong secret,
 * a session token, model ARNs and a corrupted event stream, end to end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_dialect.h"

#define KEY_ID "AKIDMOCKEXAMPLE"
#define SECRET "mock/Secret+Key0123456789EXAMPLEKEY"
#define TOKEN "FQoGZXIvYXdzEMOCK//session+token="
#define BR "claude-br"      /* bedrock, good credentials */
#define BR_BAD "claude-bad" /* bedrock, wrong secret */
#define BR_TOK "claude-tok" /* bedrock, with a session token */
#define BR_ARN "llama-arn"  /* bedrock, model named by an inference profile ARN */
#define UPSTREAM "anthropic.claude-3-5-sonnet-20240620-v1:0"
#define ARN "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-v1:0"

#define BR_PROVIDER(name, region, secret, extra)                                                   \
    "  - name: " name "\n    type: bedrock\n    base_url: \"http://127.0.0.1:{port}\"\n"           \
    "    region: " region "\n    aws_access_key_id: \"" KEY_ID "\"\n"                              \
    "    aws_secret_access_key: \"" secret "\"\n" extra

static void setup(void)
{
    struct h_mock_opts mo = {.aws_key_id = KEY_ID, .aws_secret = SECRET};
    hd_setup(&mo,
             BR_PROVIDER("br", "us-east-1", SECRET, "")
                 BR_PROVIDER("brbad", "us-east-1", "not-the-secret", "") BR_PROVIDER(
                     "brtok", "eu-west-3", SECRET, "    aws_session_token: \"" TOKEN "\"\n"),
             "  - name: " BR "\n    provider: br\n    model: \"" UPSTREAM "\"\n"
             "  - name: " BR_BAD "\n    provider: brbad\n    model: \"" UPSTREAM "\"\n"
             "  - name: " BR_TOK "\n    provider: brtok\n    model: \"" UPSTREAM "\"\n"
             "  - name: " BR_ARN "\n    provider: br\n    model: \"" ARN "\"\n");
}

TestSuite(bedrock, .init = setup, .fini = h_teardown, .timeout = 60);

Test(bedrock, completion_is_translated_both_ways_and_signed)
{
    struct h_resp r;
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            "{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":64,\"temperature\":0.3,"
            "\"mock\":{\"chunks\":3}}",
            &r);
    hd_expect_completion(&r, BR, "tok0 tok1 tok2", "stop", 3, 3);
    char v[1024];
    h_resp_free(&r);

    /* What went upstream: Converse's path (model id encoded once), SigV4, the body. */
    h_mock_last_expect("path", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
    h_mock_last_get("headers.authorization", v, sizeof(v));
    static const char cred[] = "AWS4-HMAC-SHA256 Credential=" KEY_ID "/";
    cr_assert(strncmp(v, cred, sizeof(cred) - 1) == 0, "%s", v);
    cr_assert(strstr(v, "/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, "
                        "Signature="),
              "%s", v);
    h_mock_last_get("headers.x-amz-date", v, sizeof(v));
    cr_assert_eq(strlen(v), 16, "x-amz-date %s", v);
    h_mock_last_expect("headers.x-amz-security-token", "");
    char *body = hd_last_body();
    h_json_expect(body, "system.0.text", "Be brief.");
    h_json_expect(body, "messages.0.content.0.text", "Hello");
    long long mt;
    cr_assert(h_json_int(body, strlen(body), "inferenceConfig.maxTokens", &mt), "%s", body);
    cr_assert_eq(mt, 64);
    cr_assert_eq(h_json_get(body, strlen(body), "model", v, sizeof(v)), -1, "model in body");
    free(body);
    h_finish();
}

Test(bedrock, stream_is_translated_from_the_event_stream)
{
    hd_expect_streams_via(BR, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
    h_finish();
}

Test(bedrock, tool_calls_come_back_in_openai_shape)
{
    struct h_resp r;
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
            "\"tool_choice\":\"required\",\"mock\":{\"tool\":true}," HD_TOOLS "}",
            &r);
    char v[512];
    hd_expect_tool_call(&r, 0, "get_weather", "city", "Paris");
    h_json_expect(r.body, "choices.0.message.tool_calls.0.id", "tooluse_mock_1");
    h_resp_free(&r);
    char *body = hd_last_body();
    cr_assert(h_json_get(body, strlen(body), "toolConfig.toolChoice.any", v, sizeof(v)) > 0, "%s",
              body);
    free(body);

    /* The tool's answer goes back as a toolResult; the mock wants toolConfig with it. */
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
            "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"tooluse_mock_1\",\"type\":"
            "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
            "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
            "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_mock_1\",\"content\":"
            "\"{\\\"temp\\\":18}\"}]}",
            &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    body = hd_last_body();
    long long temp;
    cr_assert(h_json_int(body, strlen(body), "messages.2.content.0.toolResult.content.0.json.temp",
                         &temp),
              "%s", body);
    cr_assert_eq(temp, 18);

    free(body);

    /* Streamed: the argument pieces add up to the same JSON. */
    hd_expect_tool_stream("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"Weather?\"}],\"mock\":{\"tool\":true}," HD_TOOLS
                          "}",
                          "get_weather", "city", "Paris", NULL);
    h_finish();
}

Test(bedrock, errors_are_translated)
{
    struct h_resp r;
    hd_expect_rate_limited(BR, &r);
    char v[512];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "Too many requests"), "%s", v);
    h_resp_free(&r);
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
            "\"mock\":{\"status\":408}}",
            &r);
    h_assert_error(&r, 504, "timeout");
    h_resp_free(&r);
    hd_post("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
            "\"Hi\"}],\"mock\":{\"status\":503}}",
            &r);
    h_assert_error(&r, 503, NULL);
    h_resp_free(&r);
    /* Bedrock serves no embeddings here: a clear 400. */
    hd_expect_no_embeddings(BR);
    /* Requests Converse cannot take are refused before anything is sent. */
    struct h_mock_stats before, after;
    h_mock_stats(&before);
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
            "\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"assistant\",\"content\":\"Hello!\"},"
            "{\"role\":\"user\",\"content\":\"Hi\"}]}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_json_expect(r.body, "error.param", "messages");
    h_resp_free(&r);
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
            "\"response_format\":{\"type\":\"json_object\"}}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_json_expect(r.body, "error.param", "response_format");
    h_resp_free(&r);
    h_mock_stats(&after);
    cr_assert_eq(after.requests, before.requests, "a refused request reached the provider");
    /* A stream the upstream cuts short ends with an error chunk and [DONE]. */
    hd_expect_cut_stream_ends_with_error(BR);
    h_finish();
}

Test(bedrock, the_error_type_header_tells_errors_of_one_status_apart)
{
    /* Bedrock answers throttling and an exhausted quota both with 429 (and a
     * quota and a validation error both with 400): x-amzn-ErrorType says which. */
    static const struct {
        int status;
        const char *exception, *type, *code;
        int client;
    } t[] = {
        {429, "ThrottlingException", "rate_limit_error", "rate_limit_exceeded", 429},
        {429, "ServiceQuotaExceededException", "insufficient_quota", "insufficient_quota", 429},
        {400, "ValidationException", "invalid_request_error", NULL, 400},
        {400, "ServiceQuotaExceededException", "insufficient_quota", "insufficient_quota", 429},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                 "\"mock\":{\"status\":%d,\"error_type\":\"%s\"}}",
                 t[i].status, t[i].exception);
        struct h_resp r;
        hd_post(body, &r);
        h_assert_error(&r, t[i].client, t[i].code);
        h_json_expect(r.body, "error.type", t[i].type);
        h_resp_free(&r);
    }
    h_finish();
}

Test(bedrock, a_wrong_secret_gets_the_providers_403_translated)
{
    struct h_resp r;
    hd_post("{\"model\":\"" BR_BAD "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    /* The gateway's AWS credentials are wrong, not the client's key: 403, named as a key error. */
    h_assert_error(&r, 403, "invalid_api_key");
    char v[512];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "The request signature we calculated does not match"), "%s", v);
    h_json_expect(r.body, "error.type", "invalid_request_error");
    h_resp_free(&r);
    h_finish();
}

Test(bedrock, a_session_token_is_sent_and_signed)
{
    hd_post_ok("{\"model\":\"" BR_TOK "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    char v[1024];
    h_mock_last_expect("headers.x-amz-security-token", TOKEN);
    h_mock_last_get("headers.authorization", v, sizeof(v));
    cr_assert(strstr(v, "/eu-west-3/bedrock/aws4_request, "
                        "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="),
              "%s", v);
    h_finish();
}

Test(bedrock, a_model_arn_is_encoded_in_the_path_and_signed)
{
    hd_post_ok("{\"model\":\"" BR_ARN "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    h_mock_last_expect("path", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-"
                               "profile%2Fus.meta.llama3-2-1b-v1%3A0/converse");
    h_finish();
}

Test(bedrock, a_corrupted_event_stream_ends_with_a_clean_error_for_the_client)
{
    /* The bad message comes 300 ms after the head: the stream has started
     * (the role chunk went out), so the client gets an error chunk. */
    struct hd_stream s;
    hd_stream("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
              "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":3,"
              "\"delay_ms\":300,\"fault\":\"malformed_chunk\"}}",
              &s);
    cr_assert_eq(s.status, 200);
    cr_assert(s.error, "no error chunk");
    char v[512];
    h_json_get(s.error, strlen(s.error), "error.message", v, sizeof(v));
    cr_assert(strstr(v, "CRC"), "%s", v);
    h_json_get(s.error, strlen(s.error), "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "server_error");
    cr_assert(s.saw_done && s.complete, "a broken stream must still end with [DONE]");
    hd_stream_free(&s);

    /* At once (likely in the head's read): nothing reached the client yet, so
     * it gets either the gateway's 502 error object or the error chunk. */
    struct h_conn c;
    struct h_stream hs;
    cr_assert_eq(h_stream_start(&c, &hs, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                                "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":3,"
                                "\"fault\":\"malformed_chunk\"}}"),
                 0);
    cr_assert_eq(h_stream_read_all(&c, &hs, 10000), 0);
    h_conn_close(&c);
    const char *b = hs.head.body ? hs.head.body : "";
    if (hs.head.status == 200) {
        cr_assert(strstr(b, "data: {\"error\":") && strstr(b, "CRC"), "%s", b);
        cr_assert(hs.saw_done, "%s", b);
    } else {
        cr_assert_eq(hs.head.status, 502, "%d %s", hs.head.status, b);
        char m[256];
        cr_assert(h_json_get(b, hs.head.body_len, "error.message", m, sizeof(m)) > 0, "%s", b);
    }
    h_stream_free(&hs);

    /* Conduit itself is fine afterwards. */
    struct h_resp r;
    hd_post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    h_finish();
}

Test(bedrock, an_exception_mid_stream_becomes_an_error_chunk)
{
    struct hd_stream s;
    hd_stream("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
              "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":4,"
              "\"exception\":\"throttlingException\"}}",
              &s);
    cr_assert(s.error, "no error chunk");
    char v[512];
    h_json_get(s.error, strlen(s.error), "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "rate_limit_error");
    h_json_get(s.error, strlen(s.error), "error.message", v, sizeof(v));
    cr_assert(strstr(v, "throttlingException"), "%s", v);
    cr_assert_str_eq(s.text, "tok0 tok1 ", "the deltas before the exception arrive");
    cr_assert(s.saw_done && s.complete);
    hd_stream_free(&s);
    h_finish();
}
