/*
 * tests/integration/test_bedrock.c — a client speaking OpenAI's API to models
 * served by AWS Bedrock's Converse API (the mock, which verifies every SigV4
 * signature and checks the Converse body strictly): answers, streams (AWS
 * event stream, translated to SSE), tool calls, usage, errors, a wrong secret,
 * a session token, model ARNs and a corrupted event stream, end to end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define KEY_ID "AKIDMOCKEXAMPLE"
#define SECRET "mock/Secret+Key0123456789EXAMPLEKEY"
#define TOKEN "FQoGZXIvYXdzEMOCK//session+token="
#define BR "claude-br"      /* bedrock, good credentials */
#define BR_BAD "claude-bad" /* bedrock, wrong secret */
#define BR_TOK "claude-tok" /* bedrock, with a session token */
#define BR_ARN "llama-arn"  /* bedrock, model named by an inference profile ARN */
#define UPSTREAM "anthropic.claude-3-5-sonnet-20240620-v1:0"
#define ARN "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-v1:0"

static void setup(void)
{
    h_setup();
    struct h_mock_opts mo = {.aws_key_id = KEY_ID, .aws_secret = SECRET};
    h_mock_start(&mo);
    char providers[2048];
    snprintf(providers, sizeof(providers),
             "  - name: br\n    type: bedrock\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    region: us-east-1\n    aws_access_key_id: \"" KEY_ID "\"\n"
             "    aws_secret_access_key: \"" SECRET "\"\n"
             "  - name: brbad\n    type: bedrock\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    region: us-east-1\n    aws_access_key_id: \"" KEY_ID "\"\n"
             "    aws_secret_access_key: \"not-the-secret\"\n"
             "  - name: brtok\n    type: bedrock\n    base_url: \"http://127.0.0.1:%d\"\n"
             "    region: eu-west-3\n    aws_access_key_id: \"" KEY_ID "\"\n"
             "    aws_secret_access_key: \"" SECRET "\"\n"
             "    aws_session_token: \"" TOKEN "\"\n",
             H.mock_port, H.mock_port, H.mock_port);
    struct h_gw_opts o = {.provider_items = providers,
                          .extra_model_items = "  - name: " BR "\n    provider: br\n"
                                               "    model: \"" UPSTREAM "\"\n"
                                               "  - name: " BR_BAD "\n    provider: brbad\n"
                                               "    model: \"" UPSTREAM "\"\n"
                                               "  - name: " BR_TOK "\n    provider: brtok\n"
                                               "    model: \"" UPSTREAM "\"\n"
                                               "  - name: " BR_ARN "\n    provider: br\n"
                                               "    model: \"" ARN "\"\n"};
    h_gw_start_with(&o);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(bedrock, .init = setup, .fini = teardown, .timeout = 60);

static void post(const char *body, struct h_resp *r)
{
    cr_assert_eq(h_chat(body, NULL, r), 0);
}

/* The body the mock last received, into out. */
static void last_body(char *out, size_t cap)
{
    char *doc = h_mock_last();
    cr_assert(doc);
    cr_assert(h_json_get(doc, strlen(doc), "body", out, cap) > 0);
    free(doc);
}

Test(bedrock, completion_is_translated_both_ways_and_signed)
{
    struct h_resp r;
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
         "{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":64,\"temperature\":0.3,"
         "\"mock\":{\"chunks\":3}}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[1024];
    h_json_get(r.body, r.body_len, "object", v, sizeof(v));
    cr_assert_str_eq(v, "chat.completion");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, BR);
    h_json_get(r.body, r.body_len, "id", v, sizeof(v));
    cr_assert(strncmp(v, "chatcmpl-", 9) == 0, "id %s", v);
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

    /* What went upstream: Converse's path (model id encoded once), SigV4, the body. */
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
    h_mock_last_get("headers.authorization", v, sizeof(v));
    static const char cred[] = "AWS4-HMAC-SHA256 Credential=" KEY_ID "/";
    cr_assert(strncmp(v, cred, sizeof(cred) - 1) == 0, "%s", v);
    cr_assert(strstr(v, "/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, "
                        "Signature="),
              "%s", v);
    h_mock_last_get("headers.x-amz-date", v, sizeof(v));
    cr_assert_eq(strlen(v), 16, "x-amz-date %s", v);
    h_mock_last_get("headers.x-amz-security-token", v, sizeof(v));
    cr_assert_str_eq(v, "");
    char body[4096];
    last_body(body, sizeof(body));
    h_json_get(body, strlen(body), "system.0.text", v, sizeof(v));
    cr_assert_str_eq(v, "Be brief.", "system lifted: %s", body);
    h_json_get(body, strlen(body), "messages.0.content.0.text", v, sizeof(v));
    cr_assert_str_eq(v, "Hello");
    long long mt;
    cr_assert(h_json_int(body, strlen(body), "inferenceConfig.maxTokens", &mt), "%s", body);
    cr_assert_eq(mt, 64);
    cr_assert_eq(h_json_get(body, strlen(body), "model", v, sizeof(v)), -1, "model in body");
    h_finish();
}

/* Reads a whole translated stream of `body`; returns the joined text (malloc'd). */
static char *stream_all(const char *body, struct h_stream *s, bool *usage)
{
    struct h_conn c;
    cr_assert_eq(h_stream_start(&c, s, H.gw_port, "/v1/chat/completions", H_AUTH, body), 0);
    cr_assert_eq(s->head.status, 200);
    const char *ct = h_resp_header(&s->head, "content-type");
    cr_assert(ct && strncmp(ct, "text/event-stream", 17) == 0, "content-type %s", ct);
    cr_assert_eq(h_stream_read_all(&c, s, 10000), 0);
    h_conn_close(&c);
    *usage = false;
    for (size_t i = 0; i < s->nevs; i++)
        *usage |= h_event_is_usage(s->evs[i].data);
    size_t n = 0;
    return h_stream_text(s, &n);
}

Test(bedrock, stream_is_translated_from_the_event_stream)
{
    struct h_stream s;
    bool usage;
    char *text = stream_all("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                            "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":4,"
                            "\"delay_ms\":20}}",
                            &s, &usage);
    cr_assert_str_eq(text, "tok0 tok1 tok2 tok3 ");
    cr_assert(s.saw_done && s.complete, "no [DONE] or a cut stream");
    cr_assert_not(usage, "usage chunk for a client that did not ask");
    char v[256];
    h_json_get(s.evs[s.nevs - 2].data, strlen(s.evs[s.nevs - 2].data), "choices.0.finish_reason", v,
               sizeof(v));
    cr_assert_str_eq(v, "stop");
    free(text);
    h_stream_free(&s);
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");

    text = stream_all("{\"model\":\"" BR "\",\"stream\":true,\"stream_options\":{\"include_usage\":"
                      "true},\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                      "\"mock\":{\"chunks\":2}}",
                      &s, &usage);
    cr_assert_str_eq(text, "tok0 tok1 ");
    cr_assert(usage, "no usage chunk although include_usage was asked");
    cr_assert(s.saw_done && s.complete);
    const char *u = s.evs[s.nevs - 2].data; /* before [DONE] */
    long long ct, cached;
    cr_assert(h_json_int(u, strlen(u), "usage.completion_tokens", &ct), "%s", u);
    cr_assert_eq(ct, 2);
    cr_assert(h_json_int(u, strlen(u), "usage.prompt_tokens_details.cached_tokens", &cached));
    cr_assert_eq(cached, 3);
    free(text);
    h_stream_free(&s);
    h_finish();
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]"

Test(bedrock, tool_calls_come_back_in_openai_shape)
{
    struct h_resp r;
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
         "\"tool_choice\":\"required\",\"mock\":{\"tool\":true}," TOOLS "}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    char v[512], city[64];
    h_json_get(r.body, r.body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "tool_calls");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.id", v, sizeof(v));
    cr_assert_str_eq(v, "tooluse_mock_1");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.name", v, sizeof(v));
    cr_assert_str_eq(v, "get_weather");
    h_json_get(r.body, r.body_len, "choices.0.message.tool_calls.0.function.arguments", v,
               sizeof(v));
    cr_assert(h_json_get(v, strlen(v), "city", city, sizeof(city)) > 0, "arguments: %s", v);
    cr_assert_str_eq(city, "Paris");
    h_resp_free(&r);
    char body[4096];
    last_body(body, sizeof(body));
    cr_assert(h_json_get(body, strlen(body), "toolConfig.toolChoice.any", v, sizeof(v)) > 0, "%s",
              body);

    /* The tool's answer goes back as a toolResult; the mock wants toolConfig with it. */
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
         "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"tooluse_mock_1\",\"type\":"
         "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
         "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
         "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_mock_1\",\"content\":"
         "\"{\\\"temp\\\":18}\"}]}",
         &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    last_body(body, sizeof(body));
    long long temp;
    cr_assert(h_json_int(body, strlen(body), "messages.2.content.0.toolResult.content.0.json.temp",
                         &temp),
              "%s", body);
    cr_assert_eq(temp, 18);

    /* Streamed: the argument pieces add up to the same JSON. */
    struct h_stream s;
    bool usage;
    char *text =
        stream_all("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                   "\"user\",\"content\":\"Weather?\"}],\"mock\":{\"tool\":true}," TOOLS "}",
                   &s, &usage);
    free(text);
    char args[512] = "", name[256] = "";
    for (size_t i = 0; i < s.nevs; i++) {
        char piece[256];
        const char *d = s.evs[i].data;
        if (h_json_get(d, strlen(d), "choices.0.delta.tool_calls.0.function.name", piece,
                       sizeof(piece)) > 0)
            snprintf(name, sizeof(name), "%s", piece);
        if (h_json_get(d, strlen(d), "choices.0.delta.tool_calls.0.function.arguments", piece,
                       sizeof(piece)) > 0)
            strncat(args, piece, sizeof(args) - strlen(args) - 1);
    }
    cr_assert_str_eq(name, "get_weather");
    cr_assert(h_json_get(args, strlen(args), "city", city, sizeof(city)) > 0, "args: %s", args);
    cr_assert_str_eq(city, "Paris");
    cr_assert(s.saw_done);
    h_stream_free(&s);
    h_finish();
}

Test(bedrock, errors_are_translated)
{
    struct h_resp r;
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"mock\":{\"status\":429,\"retry_after\":\"3\"}}",
         &r);
    h_assert_error(&r, 429, "rate_limit_exceeded");
    const char *ra = h_resp_header(&r, "retry-after");
    cr_assert(ra && strcmp(ra, "3") == 0, "retry-after %s", ra ? ra : "(none)");
    char v[512];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "Too many requests"), "%s", v);
    h_resp_free(&r);
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"mock\":{\"status\":408}}",
         &r);
    h_assert_error(&r, 504, "timeout");
    h_resp_free(&r);
    post("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
         "\"Hi\"}],\"mock\":{\"status\":503}}",
         &r);
    h_assert_error(&r, 503, NULL);
    h_resp_free(&r);
    /* Bedrock serves no embeddings here: a clear 400. */
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"" BR "\",\"input\":\"x\"}", &r),
                 0);
    h_assert_error(&r, 400, "unsupported_endpoint");
    h_resp_free(&r);
    /* Requests Converse cannot take are refused before anything is sent. */
    struct h_mock_stats before, after;
    h_mock_stats(&before);
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
         "\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}",
         &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"assistant\",\"content\":\"Hello!\"},"
         "{\"role\":\"user\",\"content\":\"Hi\"}]}",
         &r);
    h_assert_error(&r, 400, NULL);
    h_json_get(r.body, r.body_len, "error.param", v, sizeof(v));
    cr_assert_str_eq(v, "messages");
    h_resp_free(&r);
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
         "\"response_format\":{\"type\":\"json_object\"}}",
         &r);
    h_assert_error(&r, 400, NULL);
    h_json_get(r.body, r.body_len, "error.param", v, sizeof(v));
    cr_assert_str_eq(v, "response_format");
    h_resp_free(&r);
    h_mock_stats(&after);
    cr_assert_eq(after.requests, before.requests, "a refused request reached the provider");
    h_finish();
}

Test(bedrock, a_wrong_secret_gets_the_providers_403_translated)
{
    struct h_resp r;
    post("{\"model\":\"" BR_BAD "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    h_assert_error(&r, 403, NULL);
    char v[512];
    h_json_get(r.body, r.body_len, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "The request signature we calculated does not match"), "%s", v);
    h_json_get(r.body, r.body_len, "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "permission_error");
    h_resp_free(&r);
    h_finish();
}

Test(bedrock, a_session_token_is_sent_and_signed)
{
    struct h_resp r;
    post("{\"model\":\"" BR_TOK "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    char v[1024];
    h_mock_last_get("headers.x-amz-security-token", v, sizeof(v));
    cr_assert_str_eq(v, TOKEN);
    h_mock_last_get("headers.authorization", v, sizeof(v));
    cr_assert(strstr(v, "/eu-west-3/bedrock/aws4_request, "
                        "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="),
              "%s", v);
    h_finish();
}

Test(bedrock, a_model_arn_is_encoded_in_the_path_and_signed)
{
    struct h_resp r;
    post("{\"model\":\"" BR_ARN "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    char v[512];
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-"
                        "profile%2Fus.meta.llama3-2-1b-v1%3A0/converse");
    h_finish();
}

/* Streams body and returns the data of the first event carrying "error" (malloc'd). */
static char *stream_error_event(const char *body, struct h_stream *s)
{
    struct h_conn c;
    cr_assert_eq(h_stream_start(&c, s, H.gw_port, "/v1/chat/completions", H_AUTH, body), 0);
    cr_assert_eq(s->head.status, 200, "%d %s", s->head.status, s->head.body);
    int rc = h_stream_read_all(&c, s, 10000);
    cr_assert(rc == 0 || rc == -ECONNRESET, "read: %d", rc);
    h_conn_close(&c);
    for (size_t i = 0; i < s->nevs; i++) {
        const char *d = s->evs[i].data;
        char m[512];
        if (h_json_get(d, strlen(d), "error.message", m, sizeof(m)) > 0)
            return strdup(d);
    }
    return NULL;
}

Test(bedrock, a_corrupted_event_stream_ends_with_a_clean_error_for_the_client)
{
    /* The bad message comes 300 ms after the head: the stream has started
     * (the role chunk went out), so the client gets an error chunk. */
    struct h_stream s;
    char *err = stream_error_event("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                                   "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":3,"
                                   "\"delay_ms\":300,\"fault\":\"malformed_chunk\"}}",
                                   &s);
    cr_assert(err, "no error event among %zu events", s.nevs);
    char v[512];
    h_json_get(err, strlen(err), "error.message", v, sizeof(v));
    cr_assert(strstr(v, "CRC"), "%s", v);
    h_json_get(err, strlen(err), "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "server_error");
    cr_assert_not(s.saw_done, "[DONE] after a broken stream");
    free(err);
    h_stream_free(&s);

    /* At once (likely in the head's read): nothing reached the client yet, so
     * it gets either the gateway's 502 error object or the error chunk. */
    struct h_conn c;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH,
                                "{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                                "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":3,"
                                "\"fault\":\"malformed_chunk\"}}"),
                 0);
    int rc = h_stream_read_all(&c, &s, 10000);
    cr_assert(rc == 0 || rc == -ECONNRESET, "read: %d", rc);
    h_conn_close(&c);
    const char *b = s.head.body ? s.head.body : "";
    if (s.head.status == 200) {
        cr_assert(strstr(b, "data: {\"error\":") && strstr(b, "CRC"), "%s", b);
    } else {
        cr_assert_eq(s.head.status, 502, "%d %s", s.head.status, b);
        char m[256];
        cr_assert(h_json_get(b, s.head.body_len, "error.message", m, sizeof(m)) > 0, "%s", b);
    }
    cr_assert_not(s.saw_done);
    h_stream_free(&s);

    /* Conduit itself is fine afterwards. */
    struct h_resp r;
    post("{\"model\":\"" BR "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    h_finish();
}

Test(bedrock, an_exception_mid_stream_becomes_an_error_chunk)
{
    struct h_stream s;
    char *err = stream_error_event("{\"model\":\"" BR "\",\"stream\":true,\"messages\":[{\"role\":"
                                   "\"user\",\"content\":\"Hi\"}],\"mock\":{\"chunks\":4,"
                                   "\"exception\":\"throttlingException\"}}",
                                   &s);
    cr_assert(err, "no error event among %zu events", s.nevs);
    char v[512];
    h_json_get(err, strlen(err), "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "rate_limit_error");
    h_json_get(err, strlen(err), "error.message", v, sizeof(v));
    cr_assert(strstr(v, "throttlingException"), "%s", v);
    size_t n = 0;
    char *text = h_stream_text(&s, &n);
    cr_assert_str_eq(text, "tok0 tok1 ", "the deltas before the exception arrive");
    free(text);
    free(err);
    h_stream_free(&s);
    h_finish();
}
