/*
 * tests/unit/providers/test_bedrock.c — the Bedrock Converse dialect.
 *
 * Fixtures are in the wire formats of the Amazon Bedrock Runtime API
 * reference (Converse request and response, ConverseStream's event stream
 * messages with their "p" padding, error bodies) and OpenAI's chat
 * completions API; outputs are compared byte for byte, since the writer is
 * deterministic. Streams are built with gw_es_encode and fed through the
 * dialect table, whole, split at every byte boundary and a byte at a time
 * (xtest.h). The signature is checked by recomputing it with
 * gw_sigv4_authorization over what went on the wire (test_sigv4.c pins that
 * function to AWS's own test vectors). The fixture, the checks over the
 * dialect table, the refusals and bounds every dialect shares and the stream
 * drivers are the dialect suites' shared ones (xtest.h, amplify.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/span.h"
#include "providers/bedrock.h"
#include "providers/dialect.h"
#include "providers/eventstream.h"
#include "providers/sigv4.h"
#include "providers/xlate.h"

#include "amplify.h"
#include "xtest.h"

#define KEY_ID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define HOST "bedrock-runtime.us-east-1.amazonaws.com"
#define MODEL "anthropic.claude-3-5-sonnet-20240620-v1:0"
#define MODEL_PATH "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"

/* xtest.h's fixture with AWS credentials, at the time of AWS's SigV4 examples. */
static void setup(void)
{
    xt_setup("bedrock", "", MODEL, "claude");
    prov.type = GW_PT_BEDROCK;
    prov.aws_access_key_id = KEY_ID;
    prov.aws_secret_access_key = SECRET;
    prov.aws_session_token = "";
    prov.region = "us-east-1";
    prov.host_header = HOST;
    prov.base_path = "";
    X.created = 1440938160; /* 2015-08-30T12:36:00Z */
}

TestSuite(bedrock, .init = setup, .fini = xt_teardown);

static const struct gw_dialect *const D = &gw_dialect_bedrock;

/* The value of header `name` in the request's header block, or "" (static buffer). */
static const char *header(const struct gw_xlate_req *req, const char *name)
{
    static char v[1024];
    v[0] = '\0';
    size_t nl = strlen(name);
    const char *p = req->headers.ptr, *end = p + req->headers.len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        cr_assert(eol, "header block not CRLF-terminated");
        if ((size_t)(eol - p) > nl + 2 && strncmp(p, name, nl) == 0 && p[nl] == ':' &&
            p[nl + 1] == ' ') {
            snprintf(v, sizeof(v), "%.*s", (int)(eol - p - nl - 2), p + nl + 2);
            return v;
        }
        p = eol + 2;
    }
    return v;
}

/* ---- requests ---- */

#define HI_IN "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}]"
#define HI_MSGS "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Weather?\"}]}]"

Test(bedrock, system_messages_become_system_blocks_and_users_merge)
{
    struct gw_xlate_req req = xt_build_ok(
        D, "{\"model\":\"claude\",\"messages\":["
           "{\"role\":\"system\",\"content\":\"You are terse.\"},"
           "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Answer in "
           "French.\"},{\"type\":\"text\",\"text\":\"\"}]},"
           "{\"role\":\"user\",\"content\":\"Hi \\u00e9\\\"\"},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Still there?\"}]},"
           "{\"role\":\"assistant\",\"content\":\"Oui.\"},"
           "{\"role\":\"system\",\"content\":\"\"}]}");
    xt_assert_span(req.body,
                   "{\"system\":[{\"text\":\"You are terse.\"},{\"text\":\"Answer in French.\"}],"
                   "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi \\u00e9\\\"\"},"
                   "{\"text\":\"Still there?\"}]},"
                   "{\"role\":\"assistant\",\"content\":[{\"text\":\"Oui.\"}]}]}");
    cr_assert_str_eq(req.path, MODEL_PATH);
    cr_assert_null(req.warning);
}

Test(bedrock, inference_config_and_dropped_fields)
{
    xt_expect_body(D,
                   HI_IN ",\"max_tokens\":50,\"max_completion_tokens\":100,\"stop\":\"\\n\\n\","
                         "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"stream\":false,"
                         "\"stream_options\":{\"include_usage\":true},\"user\":\"u-42\","
                         "\"frequency_penalty\":0.5,\"presence_penalty\":0.1,\"seed\":7,"
                         "\"parallel_tool_calls\":false,\"store\":true,\"service_tier\":\"auto\","
                         "\"metadata\":{\"a\":\"b\"},\"reasoning_effort\":\"low\","
                         "\"response_format\":{\"type\":\"text\"},\"logprobs\":false,"
                         "\"top_logprobs\":0,\"logit_bias\":{},\"modalities\":[\"text\"],\"n\":1}",
                   "{" HI_MSGS ",\"inferenceConfig\":{\"maxTokens\":100,\"temperature\":0.7,"
                   "\"topP\":0.9,\"stopSequences\":[\"\\n\\n\"]}}");
    xt_expect_body(D, HI_IN ",\"max_tokens\":7,\"stop\":[\"END\",\"STOP\"],\"temperature\":null}",
                   "{" HI_MSGS ",\"inferenceConfig\":{\"maxTokens\":7,"
                   "\"stopSequences\":[\"END\",\"STOP\"]}}");
    /* Nothing to configure: no inferenceConfig at all (Converse's defaults). */
    xt_expect_body(D, HI_IN "}", "{" HI_MSGS "}");
}

Test(bedrock, path_encodes_model_ids_arns_and_profiles_once)
{
    static const struct {
        const char *model;
        const char *path;
    } t[] = {
        {MODEL, MODEL_PATH},
        {"us.anthropic.claude-3-7-sonnet-20250219-v1:0",
         "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"},
        {"arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
         "us.meta.llama3-2-1b-instruct-v1:0",
         "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
         "us.meta.llama3-2-1b-instruct-v1%3A0/converse"},
        {"amazon.nova-lite-v1:0", "/model/amazon.nova-lite-v1%3A0/converse"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        X.upstream_model = t[i].model;
        cr_assert_str_eq(xt_build_ok(D, HI_IN "}").path, t[i].path);
    }
    X.upstream_model = MODEL;
    X.stream = true;
    cr_assert_str_eq(xt_build_ok(D, HI_IN ",\"stream\":true}").path,
                     "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
    /* No upstream model: the client's "model" (decoded) names it. */
    X.stream = false;
    X.upstream_model = NULL;
    cr_assert_str_eq(
        xt_build_ok(D, "{\"model\":\"amazon.nova-pro-v1\\u003a0\",\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"x\"}]}")
            .path,
        "/model/amazon.nova-pro-v1%3A0/converse");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", "model");
}

/* Recomputes the signature over what goes on the wire and compares. */
static void expect_signed(const struct gw_xlate_req *req, const char *token)
{
    cr_assert_str_eq(header(req, "x-amz-date"), "20150830T123600Z");
    cr_assert_str_eq(header(req, "x-amz-security-token"), token);
    char hash[65];
    gw_sha256_hex(req->body.ptr, req->body.len, hash);
    char path[512];
    snprintf(path, sizeof(path), "%s%s", prov.base_path, req->path);
    struct gw_sigv4_creds c = {KEY_ID, SECRET, "us-east-1", "bedrock"};
    struct gw_sigv4_req r = {"POST", path, "", prov.host_header, "20150830T123600Z", token, hash};
    char want[GW_SIGV4_AUTH_MAX];
    cr_assert_gt(gw_sigv4_authorization(&c, &r, want, sizeof(want)), 0);
    cr_assert_str_eq(header(req, "authorization"), want);
    const char *auth = header(req, "authorization");
    cr_assert(strstr(auth, "AWS4-HMAC-SHA256 Credential=" KEY_ID
                           "/20150830/us-east-1/bedrock/aws4_request, "),
              "%s", auth);
    cr_assert(strstr(auth, token[0] ? "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                                    : "SignedHeaders=host;x-amz-date, "),
              "%s", auth);
}

Test(bedrock, requests_are_signed_with_sigv4_over_the_wire_path_host_and_body)
{
    struct gw_xlate_req req = xt_build_ok(D, HI_IN "}");
    expect_signed(&req, "");
    cr_assert_eq(memmem(req.headers.ptr, req.headers.len, "x-amz-security-token", 20), NULL);

    /* A session token is sent and signed; a base path is part of the signed path. */
    prov.aws_session_token = "FQoGZXIvYXdzEXAMPLE//token=";
    prov.base_path = "/bedrock";
    prov.host_header = "127.0.0.1:8443";
    req = xt_build_ok(D, HI_IN "}");
    expect_signed(&req, "FQoGZXIvYXdzEXAMPLE//token=");

    /* The signature covers the body and the time: either change changes it. */
    char a1[GW_SIGV4_AUTH_MAX], a2[GW_SIGV4_AUTH_MAX];
    snprintf(a1, sizeof(a1), "%s", header(&req, "authorization"));
    req = xt_build_ok(D, HI_IN ",\"temperature\":1}");
    snprintf(a2, sizeof(a2), "%s", header(&req, "authorization"));
    cr_assert_str_neq(a1, a2);
    X.created += 1;
    req = xt_build_ok(D, HI_IN "}");
    cr_assert_str_neq(header(&req, "authorization"), a1);
    cr_assert_str_eq(header(&req, "x-amz-date"), "20150830T123601Z");
}

Test(bedrock, no_access_key_sends_an_unsigned_request_and_bad_credentials_are_500)
{
    prov.aws_access_key_id = "";
    struct gw_xlate_req req = xt_build_ok(D, HI_IN "}");
    xt_assert_span(req.headers, "x-amz-date: 20150830T123600Z\r\n");
    prov.aws_access_key_id = "AKID WITH SPACE";
    struct gw_xlate_err err;
    cr_assert_eq(gw_bedrock_build_request(&X, HI_IN "}", LIT_LEN(HI_IN "}"), &req, &err), -1);
    cr_assert_eq(err.status, 500);
    cr_assert(strstr(err.message, "signed"), "%s", err.message);
}

Test(bedrock, images_are_sent_as_bytes)
{
    xt_expect_body(
        D,
        "{\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}},"
        "{\"type\":\"image_url\",\"image_url\":\"data:image/webp;base64,UklGRg==\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:IMAGE/GIF;base64,R0lGOD\"}}"
        "]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"What is in these?\"},"
        "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":\"iVBORw0KGgo=\"}}},"
        "{\"image\":{\"format\":\"jpeg\",\"source\":{\"bytes\":\"/9j/4AAQ\"}}},"
        "{\"image\":{\"format\":\"webp\",\"source\":{\"bytes\":\"UklGRg==\"}}},"
        "{\"image\":{\"format\":\"gif\",\"source\":{\"bytes\":\"R0lGOD\"}}}]}]}");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://upload.wikimedia.org/a.jpg\"}}]}]}",
                  "messages", "image bytes only");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"data:image/bmp;base64,Qk0=\"}}]}]}",
                  "messages", "png, jpeg, gif or webp");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"ftp://x/a.png\"}}]}]}",
                  "messages", "data: URLs");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","
                  "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
                  "\"data:image/png;base64,AA==\"}}]}]}",
                  "messages", "only accepted in user and tool messages");
}

#define WEATHER_TOOL                                                                               \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"description\":\"Get the current weather\",\"strict\":true,\"parameters\":"                  \
    "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"                    \
    "\"required\":[\"location\"]}}},"                                                              \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]"
#define WEATHER_SPECS                                                                              \
    "\"tools\":[{\"toolSpec\":{\"name\":\"get_weather\",\"description\":\"Get the current "        \
    "weather\",\"inputSchema\":{\"json\":{\"type\":\"object\",\"properties\":{\"location\":"       \
    "{\"type\":\"string\"}},\"required\":[\"location\"]}}}},"                                      \
    "{\"toolSpec\":{\"name\":\"now\",\"inputSchema\":{\"json\":{\"type\":\"object\","              \
    "\"properties\":{}}}}}]"
#define HI_OUT "{" HI_MSGS ","

Test(bedrock, tools_and_every_tool_choice)
{
    xt_expect_body(D, HI_IN "," WEATHER_TOOL "}", HI_OUT "\"toolConfig\":{" WEATHER_SPECS "}}");
    xt_expect_body(D, HI_IN "," WEATHER_TOOL ",\"tool_choice\":\"auto\"}",
                   HI_OUT "\"toolConfig\":{" WEATHER_SPECS ",\"toolChoice\":{\"auto\":{}}}}");
    xt_expect_body(D, HI_IN "," WEATHER_TOOL ",\"tool_choice\":\"required\"}",
                   HI_OUT "\"toolConfig\":{" WEATHER_SPECS ",\"toolChoice\":{\"any\":{}}}}");
    xt_expect_body(D,
                   HI_IN "," WEATHER_TOOL ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                         "{\"name\":\"get_weather\"}}}",
                   HI_OUT "\"toolConfig\":{" WEATHER_SPECS
                          ",\"toolChoice\":{\"tool\":{\"name\":\"get_weather\"}}}}");
    /* none: Converse has no such choice; the model is not offered the tools. */
    xt_expect_body(D, HI_IN "," WEATHER_TOOL ",\"tool_choice\":\"none\"}", "{" HI_MSGS "}");
    /* An empty tools list is no tools; tool_choice without tools is ignored. */
    xt_expect_body(D, HI_IN ",\"tools\":[],\"tool_choice\":\"required\"}", "{" HI_MSGS "}");
    xt_expect_400(D, HI_IN "," WEATHER_TOOL ",\"tool_choice\":{\"type\":\"function\"}}",
                  "tool_choice", "name a function");
}

#define TOOL_HISTORY                                                                               \
    "{\"messages\":["                                                                              \
    "{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"                              \
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["                                    \
    "{\"id\":\"tooluse_01\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","         \
    "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"                                       \
    "{\"id\":\"tooluse_02\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","         \
    "\"arguments\":\"{\\\"location\\\":\\\"Rome\\\"}\"}}]},"                                       \
    "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_01\",\"content\":\"18C\"},"                     \
    "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_02\",\"content\":\" {\\\"temp\\\": 21}\"},"     \
    "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_03\",\"content\":[{\"type\":\"text\","          \
    "\"text\":\"windy\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"                          \
    "\"data:image/png;base64,AA==\"}}]},"                                                          \
    "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_04\",\"content\":\"\"},"                        \
    "{\"role\":\"user\",\"content\":\"Thanks\"},"                                                  \
    "{\"role\":\"assistant\",\"content\":\"Paris 18C, Rome 21C.\",\"tool_calls\":["                \
    "{\"id\":\"tooluse_05\",\"type\":\"function\",\"function\":{\"name\":\"now\","                 \
    "\"arguments\":\"\"}}]}"                                                                       \
    "]"
#define TOOL_HISTORY_OUT                                                                           \
    "{\"messages\":["                                                                              \
    "{\"role\":\"user\",\"content\":[{\"text\":\"Weather in Paris and Rome?\"}]},"                 \
    "{\"role\":\"assistant\",\"content\":["                                                        \
    "{\"toolUse\":{\"toolUseId\":\"tooluse_01\",\"name\":\"get_weather\","                         \
    "\"input\":{\"location\": \"Paris\"}}},"                                                       \
    "{\"toolUse\":{\"toolUseId\":\"tooluse_02\",\"name\":\"get_weather\","                         \
    "\"input\":{\"location\":\"Rome\"}}}]},"                                                       \
    "{\"role\":\"user\",\"content\":["                                                             \
    "{\"toolResult\":{\"toolUseId\":\"tooluse_01\",\"content\":[{\"text\":\"18C\"}]}},"            \
    "{\"toolResult\":{\"toolUseId\":\"tooluse_02\",\"content\":[{\"json\":{\"temp\": 21}}]}},"     \
    "{\"toolResult\":{\"toolUseId\":\"tooluse_03\",\"content\":[{\"text\":\"windy\"},"             \
    "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":\"AA==\"}}}]}},"                         \
    "{\"toolResult\":{\"toolUseId\":\"tooluse_04\",\"content\":[]}},"                              \
    "{\"text\":\"Thanks\"}]},"                                                                     \
    "{\"role\":\"assistant\",\"content\":[{\"text\":\"Paris 18C, Rome 21C.\"},"                    \
    "{\"toolUse\":{\"toolUseId\":\"tooluse_05\",\"name\":\"now\",\"input\":{}}}]}]"

Test(bedrock, tool_calls_and_parallel_results_are_merged)
{
    xt_expect_body(D, TOOL_HISTORY "," WEATHER_TOOL "}",
                   TOOL_HISTORY_OUT ",\"toolConfig\":{" WEATHER_SPECS "}}");
}

Test(bedrock, a_tool_history_always_gets_the_tool_config_converse_requires)
{
    /* tool_choice none: the client's tools, with no toolChoice. */
    xt_expect_body(D, TOOL_HISTORY "," WEATHER_TOOL ",\"tool_choice\":\"none\"}",
                   TOOL_HISTORY_OUT ",\"toolConfig\":{" WEATHER_SPECS "}}");
    /* No tools at all: the ones the history calls, once each, with an open schema. */
    xt_expect_body(D, TOOL_HISTORY "}",
                   TOOL_HISTORY_OUT ",\"toolConfig\":{\"tools\":["
                                    "{\"toolSpec\":{\"name\":\"get_weather\",\"inputSchema\":"
                                    "{\"json\":{\"type\":\"object\"}}}},"
                                    "{\"toolSpec\":{\"name\":\"now\",\"inputSchema\":"
                                    "{\"json\":{\"type\":\"object\"}}}}]}}");
}

/* Arguments, ids and types are among xt_check_openai_400's refusals. */
Test(bedrock, invalid_tool_calls_are_400)
{
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\","
                  "\"tool_call_id\":\"t\",\"content\":7}]}",
                  "messages", "string or parts");
}

Test(bedrock, the_conversation_must_start_with_the_user)
{
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"system\",\"content\":\"Be nice.\"},"
                  "{\"role\":\"assistant\",\"content\":\"Hello! How can I help?\"},"
                  "{\"role\":\"user\",\"content\":\"Hi\"}]}",
                  "messages", "start with a user message");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\","
                  "\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}]}",
                  "messages", "start with a user message");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"system\",\"content\":\"Only a system prompt\"}]}",
                  "messages", "at least one user message");
    xt_expect_400(D, "{\"messages\":[]}", "messages", "at least one user message");
    /* An empty assistant message first says nothing: it is skipped. */
    xt_expect_body(D,
                   "{\"messages\":[{\"role\":\"assistant\",\"content\":\"\"},"
                   "{\"role\":\"user\",\"content\":\"Hi\"}]}",
                   "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi\"}]}]}");
}

Test(bedrock, fields_converse_cannot_honour_are_400_with_their_param)
{
    xt_expect_400(D, HI_IN ",\"n\":2}", "n", "n must be 1");
    xt_expect_400(D, HI_IN ",\"response_format\":{\"type\":\"json_object\"}}", "response_format",
                  "not supported");
    xt_expect_400(D, HI_IN ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{}}}",
                  "response_format", "not supported");
    xt_expect_400(D, HI_IN ",\"logprobs\":true}", "logprobs", "not supported");
    xt_expect_400(D, HI_IN ",\"top_logprobs\":3}", "top_logprobs", "not supported");
    xt_expect_400(D, HI_IN ",\"logit_bias\":{\"50256\":-100}}", "logit_bias", "not supported");
    xt_expect_400(D, HI_IN ",\"modalities\":[\"text\",\"audio\"]}", "modalities", "text only");
    xt_expect_400(D, HI_IN ",\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}}", "audio",
                  "not supported");
}

/* The refusals every dialect shares (xtest.h), Bedrock parsing tool arguments too, and its own. */
Test(bedrock, other_invalid_requests_are_400)
{
    xt_check_openai_400(D, XT_REFUSES_BAD_ARGUMENTS | XT_PARSES_IMAGE_DATA);
    xt_expect_400(D, "{\"messages\":[{\"role\":\"system\",\"content\":7}]}", "messages", "text");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}]}",
                  "messages", "system message parts must be text");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
                  "messages", "not supported");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                  "\"text\":3}]}]}",
                  "messages", "string text");
}

Test(bedrock, the_mock_controls_travel_verbatim)
{
    xt_expect_body(D, HI_IN ",\"mock\":{\"chunks\":3,\"fault\":\"malformed_chunk\"}}",
                   "{" HI_MSGS ",\"mock\":{\"chunks\":3,\"fault\":\"malformed_chunk\"}}");
}

Test(bedrock, a_tiny_arena_gives_500_never_a_crash)
{
    struct gw_arena small;
    gw_arena_init(&small, 256, 512);
    X.arena = &small;
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    const char *in = TOOL_HISTORY "," WEATHER_TOOL "}";
    cr_assert_eq(gw_bedrock_build_request(&X, in, strlen(in), &req, &err), -1);
    cr_assert_eq(err.status, 500);
    gw_arena_destroy(&small);
}

/* ---- bounds (providers/xbound.h) ---- */

/* Collecting the names the history calls looks back over them: calls are capped. No embeddings. */
Test(bedrock, translation_bounds)
{
    xt_check_bounds(D, &(struct xt_bounds){.caps_calls = true});
}

/* ---- responses ---- */

#define CHAT_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1440938160,"             \
    "\"model\":\"claude\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","

Test(bedrock, response_text)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
        "{\"metrics\":{\"latencyMs\":1105},\"output\":{\"message\":{\"content\":["
        "{\"text\":\"Hi! My name is \\\"Claude\\\".\"},{\"text\":\" Bye.\"}],"
        "\"role\":\"assistant\"}},\"stopReason\":\"end_turn\","
        "\"usage\":{\"inputTokens\":2095,\"outputTokens\":503,\"totalTokens\":2598}}",
        CHAT_HEAD
        "\"content\":\"Hi! My name is \\\"Claude\\\". Bye.\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}]," XT_USAGE(2095, 503, 2598, 0, 0) "}",
        &u);
    xt_assert_usage(
        &u, (struct gw_xlate_usage){.have = true, .prompt_tokens = 2095, .completion_tokens = 503});
}

Test(bedrock, response_tool_use_reasoning_and_cache_usage)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
        "{\"reasoningContent\":{\"reasoningText\":{\"text\":\"Let me see.\","
        "\"signature\":\"EqQBCgIY\"}}},"
        "{\"toolUse\":{\"toolUseId\":\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\",\"name\":\"get_weather\","
        "\"input\":{\"location\": \"Seattle, WA\", \"unit\": \"celsius\"}}},"
        "{\"toolUse\":{\"toolUseId\":\"tooluse_02\",\"name\":\"now\",\"input\":{}}}]}},"
        "\"stopReason\":\"tool_use\",\"usage\":{\"inputTokens\":21,\"outputTokens\":393,"
        "\"totalTokens\":189500,\"cacheReadInputTokens\":1000,\"cacheWriteInputTokens\":188086},"
        "\"metrics\":{\"latencyMs\":3212}}",
        CHAT_HEAD
        "\"content\":null,\"tool_calls\":["
        "{\"id\":\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\",\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\": \\\"Seattle, "
        "WA\\\", \\\"unit\\\": \\\"celsius\\\"}\"}},"
        "{\"id\":\"tooluse_02\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"{}\"}}],"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," XT_USAGE(
            189107, 393, 189500, 1000, 0) "}",
        &u);
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 189107,
                                                .cached_tokens = 1000,
                                                .cache_creation_tokens = 188086,
                                                .completion_tokens = 393});
}

Test(bedrock, response_text_and_tool_use_together)
{
    xt_expect_response(
        D,
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
        "{\"text\":\"Checking.\"},{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"f\"}}]}},"
        "\"stopReason\":\"tool_use\",\"usage\":{\"inputTokens\":1,\"outputTokens\":2}}",
        CHAT_HEAD
        "\"content\":\"Checking.\",\"tool_calls\":[{\"id\":\"t1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}],"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," XT_USAGE(
            1, 2, 3, 0, 0) "}",
        NULL);
}

Test(bedrock, response_every_stop_reason)
{
    static const char *const map[][2] = {
        {"\"end_turn\"", "stop"},
        {"\"stop_sequence\"", "stop"},
        {"\"max_tokens\"", "length"},
        {"\"tool_use\"", "tool_calls"},
        {"\"guardrail_intervened\"", "content_filter"},
        {"\"content_filtered\"", "content_filter"},
        {"\"model_context_window_exceeded\"", "length"},
        {"\"malformed_model_output\"", "stop"},
        {"\"malformed_tool_use\"", "stop"},
        {"\"something_new\"", "stop"},
        {"null", "stop"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(map); i++)
        xt_expect_finish(D,
                         "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":"
                         "[{\"text\":\"x\"}]}},\"stopReason\":",
                         map[i][0], ",\"usage\":{\"inputTokens\":1,\"outputTokens\":1}}",
                         map[i][1]);
}

Test(bedrock, response_that_is_not_converse_is_refused)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"message\":\"x\"}",
        "{\"output\":{}}",
        "{\"output\":{\"message\":{\"content\":\"x\"}}}",
        "{\"output\":{\"message\":{\"content\":[1]}}}",
        "{\"output\":{\"message\":{\"content\":[{\"toolUse\":{\"name\":\"f\"}}]}}}",
        "{\"output\":{\"message\":{\"content\":[{\"text\":\"\\x\"}]}}}",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        xt_expect_unreadable(D, bad[i]);
}

/* ---- errors ---- */

/* What follows the exception's name in x-amzn-ErrorType. */
#define CORAL ":http://internal.amazon.com/coral/com.amazon.bedrock/"
#define SLOW_DOWN "{\"message\":\"Too many requests, please wait before trying again.\"}"
#define ERR(type, code)                                                                            \
    "{\"error\":{\"message\":\"Too many requests, please wait before trying again.\","             \
    "\"type\":\"" type "\",\"param\":null,\"code\":" code "}}"

Test(bedrock, error_message_spellings_and_unparseable_bodies)
{
    /* The message goes through as the upstream escaped it. */
    xt_expect_error(D, 400, NULL, "{\"message\":\"The provided model identifier is \\\"bad\\\".\"}",
                    400,
                    "{\"error\":{\"message\":\"The provided model identifier is \\\"bad\\\".\","
                    "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
    xt_expect_error(D, 403, NULL,
                    "{\"Message\":\"User: arn:aws:iam::123:user/x is not authorized\"}", 403,
                    "{\"error\":{\"message\":\"User: arn:aws:iam::123:user/x is not authorized\","
                    "\"type\":\"permission_error\",\"param\":null,\"code\":null}}");
    /* No message to pass on: the upstream's status is named instead. */
    xt_check_unreadable_errors(D);
    xt_expect_error(D, 429, NULL, "", 429,
                    XT_NO_MESSAGE("429", "rate_limit_error", "\"rate_limit_exceeded\""));
    xt_expect_error(D, 400, NULL, "{\"message\":\"\",\"__type\":\"ValidationException\"}", 400,
                    XT_NO_MESSAGE("400", "invalid_request_error", "null"));
}

/* One status, three meanings: only the header tells them apart. */
Test(bedrock, a_429_is_throttling_a_spent_quota_or_a_model_still_loading_by_its_error_type)
{
    xt_expect_error(D, 429, "ThrottlingException" CORAL, SLOW_DOWN, 429,
                    ERR("rate_limit_error", "\"rate_limit_exceeded\""));
    xt_expect_error(D, 429, "ServiceQuotaExceededException" CORAL, SLOW_DOWN, 429,
                    ERR("insufficient_quota", "\"insufficient_quota\""));
    xt_expect_error(D, 429, "ModelNotReadyException" CORAL, SLOW_DOWN, 503,
                    ERR("server_error", "\"model_not_ready\""));
    /* Without the ':' suffix, and whatever the case. */
    xt_expect_error(D, 429, "ServiceQuotaExceededException", SLOW_DOWN, 429,
                    ERR("insufficient_quota", "\"insufficient_quota\""));
    xt_expect_error(D, 429, " modelnotreadyexception :x", SLOW_DOWN, 503,
                    ERR("server_error", "\"model_not_ready\""));
}

Test(bedrock, a_400_is_a_bad_request_or_a_spent_quota_by_its_error_type)
{
    xt_expect_error(D, 400, "ValidationException" CORAL, SLOW_DOWN, 400,
                    ERR("invalid_request_error", "null"));
    xt_expect_error(D, 400, "ServiceQuotaExceededException" CORAL, SLOW_DOWN, 429,
                    ERR("insufficient_quota", "\"insufficient_quota\""));
}

/* A type the table does not know, an empty one, or none: the status decides, as before. */
Test(bedrock, an_unknown_or_absent_error_type_falls_back_to_the_status)
{
    static const char *const hdrs[] = {NULL, "", ":", "SomethingNewException:http://x/"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(hdrs); i++) {
        xt_expect_error(D, 429, hdrs[i], SLOW_DOWN, 429,
                        ERR("rate_limit_error", "\"rate_limit_exceeded\""));
        xt_expect_error(D, 400, hdrs[i], SLOW_DOWN, 400, ERR("invalid_request_error", "null"));
        xt_expect_error(D, 409, hdrs[i], SLOW_DOWN, 409, ERR("invalid_request_error", "null"));
        xt_expect_error(D, 502, hdrs[i], SLOW_DOWN, 502, ERR("server_error", "null"));
    }
}

/* Without the header the body's __type names the exception; the header wins over it. */
Test(bedrock, the_bodys_type_is_the_fallback_and_the_header_wins_over_it)
{
    static const char quota[] =
        "{\"__type\":\"ServiceQuotaExceededException\","
        "\"message\":\"Too many requests, please wait before trying again.\"}";
    static const char ns[] = "{\"__type\":\"com.amazon.coral.service#ModelNotReadyException\","
                             "\"message\":\"Too many requests, please wait before trying again.\"}";
    xt_expect_error(D, 429, NULL, quota, 429, ERR("insufficient_quota", "\"insufficient_quota\""));
    xt_expect_error(D, 400, "", quota, 429, ERR("insufficient_quota", "\"insufficient_quota\""));
    xt_expect_error(D, 429, NULL, ns, 503, ERR("server_error", "\"model_not_ready\""));
    xt_expect_error(D, 429, "ThrottlingException" CORAL, quota, 429,
                    ERR("rate_limit_error", "\"rate_limit_exceeded\""));
    /* A header the table does not know leaves the choice to __type. */
    xt_expect_error(D, 429, "SomethingNewException", quota, 429,
                    ERR("insufficient_quota", "\"insufficient_quota\""));
}

/*
 * Every exception Converse documents and the credential errors, named by the
 * header; with no error type, the status says which exception it is, as
 * Bedrock sends each.
 */
Test(bedrock, every_error_maps_by_its_type_or_else_its_status)
{
    /* type: x-amzn-ErrorType's exception; NULL: no header. */
    static const struct xt_error_map t[] = {
        {400, "ValidationException", 400, "invalid_request_error", "null"},
        {403, "AccessDeniedException", 403, "permission_error", "null"},
        {403, "UnrecognizedClientException", 403, "invalid_request_error", "\"invalid_api_key\""},
        {403, "InvalidSignatureException", 403, "invalid_request_error", "\"invalid_api_key\""},
        {403, "ExpiredTokenException", 403, "invalid_request_error", "\"invalid_api_key\""},
        {404, "ResourceNotFoundException", 404, "invalid_request_error", "\"not_found\""},
        {408, "ModelTimeoutException", 504, "server_error", "\"timeout\""},
        {424, "ModelErrorException", 502, "server_error", "\"model_error\""},
        {429, "ThrottlingException", 429, "rate_limit_error", "\"rate_limit_exceeded\""},
        {429, "ServiceQuotaExceededException", 429, "insufficient_quota", "\"insufficient_quota\""},
        {429, "ModelNotReadyException", 503, "server_error", "\"model_not_ready\""},
        {500, "InternalServerException", 500, "server_error", "null"},
        {503, "ServiceUnavailableException", 503, "server_error", "\"service_unavailable\""},
        {400, NULL, 400, "invalid_request_error", "null"},
        {401, NULL, 401, "invalid_request_error", "\"invalid_api_key\""},
        {403, NULL, 403, "permission_error", "null"},
        {404, NULL, 404, "invalid_request_error", "\"not_found\""},
        {408, NULL, 504, "server_error", "\"timeout\""},
        {413, NULL, 413, "invalid_request_error", "\"request_too_large\""},
        {424, NULL, 502, "server_error", "\"model_error\""},
        {429, NULL, 429, "rate_limit_error", "\"rate_limit_exceeded\""},
        {500, NULL, 500, "server_error", "null"},
        {503, NULL, 503, "server_error", "\"service_unavailable\""},
        {409, NULL, 409, "invalid_request_error", "null"},
        {502, NULL, 502, "server_error", "null"},
        {302, NULL, 502, "server_error", "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char hdr[128];
        snprintf(hdr, sizeof(hdr), "%s" CORAL, t[i].type ? t[i].type : "");
        xt_expect_error_map(D, &t[i], t[i].type ? hdr : NULL, SLOW_DOWN,
                            "Too many requests, please wait before trying again.");
    }
    /* With no message, the status the upstream sent says what happened. */
    xt_expect_error(D, 429, "ServiceQuotaExceededException", "", 429,
                    XT_NO_MESSAGE("429", "insufficient_quota", "\"insufficient_quota\""));
}

/* ---- streams ---- */

/*
 * Appends one message with the given headers (name, value pairs; NULL-terminated)
 * to the stream being built (xtest.h's byte collector holds inputs too).
 */
static void es_add(struct xt_out *b, const char *const *hv, const char *payload)
{
    struct gw_es_header h[8];
    size_t nh = 0;
    for (; hv[2 * nh]; nh++)
        h[nh] = (struct gw_es_header){hv[2 * nh], hv[2 * nh + 1]};
    size_t cap = strlen(payload) + 1024;
    char *buf = malloc(cap);
    size_t n = gw_es_encode(buf, cap, h, nh, payload, strlen(payload));
    cr_assert_gt(n, 0);
    xt_out_write(b, buf, n);
    free(buf);
}

/* An event as ConverseStream sends it: :event-type, :content-type, :message-type. */
static void ev(struct xt_out *b, const char *type, const char *payload)
{
    const char *const hv[] = {
        ":event-type", type, ":content-type", "application/json", ":message-type", "event", NULL};
    es_add(b, hv, payload);
}

static void exc(struct xt_out *b, const char *type, const char *payload)
{
    const char *const hv[] = {
        ":exception-type", type, ":content-type", "application/json", ":message-type",
        "exception",       NULL};
    es_add(b, hv, payload);
}

/* Text (after a dropped reasoning delta), then two toolUse blocks, as Bedrock streams them. */
static struct xt_out transcript(bool metadata)
{
    struct xt_out b = {0};
    ev(&b, "messageStart",
       "{\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0\","
       "\"role\":\"assistant\"}");
    ev(&b, "contentBlockDelta",
       "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"text\":\"Hmm.\"}},"
       "\"p\":\"abcdefghijklmnopqrs\"}");
    ev(&b, "contentBlockDelta",
       "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Let me check \\\"Seattle\\\".\"},"
       "\"p\":\"abcdefghijklmnopqrstu\"}");
    ev(&b, "contentBlockDelta",
       "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"\"},\"p\":\"abcd\"}");
    ev(&b, "contentBlockStop",
       "{\"contentBlockIndex\":0,\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFG\"}");
    ev(&b, "contentBlockStart",
       "{\"contentBlockIndex\":1,\"p\":\"abcdefghij\",\"start\":{\"toolUse\":{\"name\":"
       "\"get_weather\",\"toolUseId\":\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\"}}}");
    ev(&b, "contentBlockDelta",
       "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"{\\\"location\\\":\"}},"
       "\"p\":\"abcdefghijklmn\"}");
    ev(&b, "contentBlockDelta",
       "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\" \\\"Seattle, WA\\\"}\"}},"
       "\"p\":\"abc\"}");
    ev(&b, "contentBlockStop", "{\"contentBlockIndex\":1,\"p\":\"abcdefghijklmnopqrst\"}");
    ev(&b, "contentBlockStart",
       "{\"contentBlockIndex\":2,\"p\":\"ab\",\"start\":{\"toolUse\":{\"name\":\"now\","
       "\"toolUseId\":\"tooluse_02\"}}}");
    ev(&b, "contentBlockDelta",
       "{\"contentBlockIndex\":2,\"delta\":{\"toolUse\":{\"input\":\"{}\"}},\"p\":\"abcdefg\"}");
    ev(&b, "contentBlockStop", "{\"contentBlockIndex\":2,\"p\":\"abcdefghijklmnopqrstuvwx\"}");
    ev(&b, "messageStop", "{\"p\":\"abcdefghijklmnop\",\"stopReason\":\"tool_use\"}");
    if (metadata)
        ev(&b, "metadata",
           "{\"metrics\":{\"latencyMs\":1542},\"p\":\"abcdefghijklmnopqrst\",\"usage\":"
           "{\"inputTokens\":375,\"outputTokens\":78,\"totalTokens\":573,"
           "\"cacheReadInputTokens\":100,\"cacheWriteInputTokens\":20}}");
    return b;
}

#define CHUNK                                                                                      \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1440938160," \
    "\"model\":\"claude\",\"choices\":[{\"index\":0,\"delta\":"
#define NUL_END ",\"finish_reason\":null}]}\n\n"

static const char want_chunks[] = CHUNK
    "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END CHUNK
    "{\"content\":\"Let me check \\\"Seattle\\\".\"}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":0,\"id\":\"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q\","
    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}" NUL_END
        CHUNK
    "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]}" NUL_END
        CHUNK "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"Seattle, "
    "WA\\\"}\"}}]}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":1,\"id\":\"tooluse_02\",\"type\":\"function\","
    "\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}" NUL_END CHUNK
    "{},\"finish_reason\":\"tool_calls\"}]}\n\n";

static const char want_usage_chunk[] =
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1440938160,"
    "\"model\":\"claude\",\"choices\":[]," XT_USAGE(495, 78, 573, 100, 0) "}\n\n";

static const char want_done[] = XT_DONE;

Test(bedrock, stream_transcript_translates)
{
    struct xt_out in = transcript(true);
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    int fed;
    cr_assert_eq(xt_run_stream(D, in.p, in.n, NULL, 0, &c, &u, &fed), 1);
    cr_assert_eq(fed, 1, "metadata ends the stream in the feed");
    char want[sizeof(want_chunks) + sizeof(want_done)];
    snprintf(want, sizeof(want), "%s%s", want_chunks, want_done);
    xt_assert_out(&c, want);
    /* Converse does not count thinking tokens apart: reasoning 0. */
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 495,
                                                .cached_tokens = 100,
                                                .cache_creation_tokens = 20,
                                                .completion_tokens = 78});
    free(c.p);
    free(in.p);
}

Test(bedrock, stream_usage_chunk_only_when_asked)
{
    X.want_usage = true;
    struct xt_out in = transcript(true);
    char want[sizeof(want_chunks) + sizeof(want_usage_chunk) + sizeof(want_done)];
    snprintf(want, sizeof(want), "%s%s%s", want_chunks, want_usage_chunk, want_done);
    xt_expect_stream(D, in.p, in.n, want, 1);
    free(in.p);
}

Test(bedrock, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    struct xt_out in = transcript(true);
    xt_check_splits_both(D, in.p, in.n);
    free(in.p);
}

Test(bedrock, stream_message_stop_without_metadata_still_ends_with_done)
{
    X.want_usage = true; /* no usage chunk: there was no usage to tell */
    struct xt_out in = transcript(false);
    char want[sizeof(want_chunks) + sizeof(want_done)];
    snprintf(want, sizeof(want), "%s%s", want_chunks, want_done);
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    int fed;
    cr_assert_eq(xt_run_stream(D, in.p, in.n, NULL, 0, &c, &u, &fed), 1);
    cr_assert_eq(fed, 0);
    xt_assert_out(&c, want);
    cr_assert_not(u.have);
    free(c.p);
    xt_check_splits(D, in.p, in.n);
    free(in.p);
}

Test(bedrock, stream_every_stop_reason_and_text_only)
{
    static const char *const map[][2] = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"max_tokens", "length"},
        {"guardrail_intervened", "content_filter"},
        {"content_filtered", "content_filter"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(map); i++) {
        struct xt_out in = {0};
        char stop[128], want[1024];
        ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
        snprintf(stop, sizeof(stop), "{\"stopReason\":\"%s\"}", map[i][0]);
        ev(&in, "messageStop", stop);
        ev(&in, "metadata", "{\"usage\":{\"inputTokens\":3,\"outputTokens\":1}}");
        snprintf(want, sizeof(want),
                 CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END CHUNK
                       "{},\"finish_reason\":\"%s\"}]}\n\ndata: [DONE]\n\n",
                 map[i][1]);
        xt_expect_stream(D, in.p, in.n, want, 1);
        free(in.p);
    }
}

/* Metadata without a messageStop before it: the answer still finishes, as "stop". */
Test(bedrock, stream_metadata_without_message_stop_finishes_as_stop)
{
    struct xt_out in = {0};
    ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    ev(&in, "metadata", "{\"usage\":{\"inputTokens\":3,\"outputTokens\":1}}");
    xt_expect_stream(D, in.p, in.n,
                     CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END CHUNK
                           "{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
                     1);
    free(in.p);
}

Test(bedrock, stream_exception_becomes_one_error_chunk_then_done)
{
    static const struct {
        const char *type, *oa_type, *code; /* code as JSON */
    } t[] = {
        {"throttlingException", "rate_limit_error", "\"rate_limit_exceeded\""},
        {"validationException", "invalid_request_error", "null"},
        {"modelStreamErrorException", "server_error", "\"model_error\""},
        {"internalServerException", "server_error", "null"},
        {"serviceUnavailableException", "server_error", "\"service_unavailable\""},
        {"somethingNewException", "server_error", "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        struct xt_out in = {0};
        ev(&in, "messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}");
        ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
        exc(&in, t[i].type, "{\"message\":\"Too many tokens, please wait.\"}");
        ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"late\"}}");
        char want[1024];
        snprintf(want, sizeof(want),
                 CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END CHUNK
                       "{\"content\":\"Hi\"}" NUL_END
                       "data: {\"error\":{\"message\":\"Too many tokens, please wait.\","
                       "\"type\":\"%s\",\"param\":null,\"code\":%s}}\n\ndata: [DONE]\n\n",
                 t[i].oa_type, t[i].code);
        xt_expect_stream(D, in.p, in.n, want, 1);
        free(in.p);
    }
    /* No message in the payload: the exception's name says what happened. */
    struct xt_out in = {0};
    exc(&in, "internalServerException", "{}");
    xt_expect_stream(D, in.p, in.n, XT_ERROR_END("upstream internalServerException"), 1);
    xt_check_splits(D, in.p, in.n);
    free(in.p);
    /* A message-type "error" (the framing's own error) ends it the same way. */
    struct xt_out er = {0};
    const char *const hv[] = {":message-type",  "error", ":error-code", "InternalFailure",
                              ":error-message", "boom",  NULL};
    es_add(&er, hv, "");
    xt_expect_stream(D, er.p, er.n, XT_ERROR_END("upstream stream error InternalFailure: boom"), 1);
    free(er.p);
    /* Header bytes are not JSON text: anything but printable ASCII shows as '?'
     * (found by fuzz_bedrock_stream). */
    struct xt_out odd = {0};
    exc(&odd, "model\xcfStream\n", "{}");
    xt_expect_stream(D, odd.p, odd.n, XT_ERROR_END("upstream model?Stream?"), 1);
    free(odd.p);
}

Test(bedrock, stream_bad_crc_is_an_error_chunk_and_minus_one)
{
    struct xt_out in = {0};
    ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    size_t first = in.n;
    ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"there\"}}");
    size_t second = in.n;
    ev(&in, "messageStop", "{\"stopReason\":\"end_turn\"}");
    static const char want_msg[] =
        CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END XT_ERROR_END(
            "broken event stream from the upstream: %s");
    char want[1024];

    /* A payload byte of the second message flipped: its message CRC fails. */
    in.p[second - 10] ^= 0x20;
    snprintf(want, sizeof(want), want_msg, gw_es_error_str(GW_ES_MESSAGE_CRC));
    xt_expect_stream(D, in.p, in.n, want, -1);
    in.p[second - 10] ^= 0x20;

    /* Its prelude's length changed: the prelude CRC fails. */
    in.p[first + 3] ^= 0x01;
    snprintf(want, sizeof(want), want_msg, gw_es_error_str(GW_ES_PRELUDE_CRC));
    xt_expect_stream(D, in.p, in.n, want, -1);
    in.p[first + 3] ^= 0x01;

    /* Split anywhere, the same: the last message's CRC fails once it is whole. */
    in.p[in.n - 1] ^= 0xff;
    snprintf(want, sizeof(want),
             CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END CHUNK
                   "{\"content\":\"there\"}" NUL_END XT_ERROR_END(
                       "broken event stream from the upstream: %s"),
             gw_es_error_str(GW_ES_MESSAGE_CRC));
    xt_expect_stream(D, in.p, in.n, want, -1);
    xt_check_splits(D, in.p, in.n);
    free(in.p);
}

Test(bedrock, stream_cut_short_ends_with_an_error_chunk_then_done)
{
    struct xt_out in = {0};
    ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    static const char want[] =
        CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END XT_ERROR_END(
            "upstream stream ended before messageStop");
    xt_expect_stream(D, in.p, in.n, want, -1);
    /* Also inside a message. */
    size_t whole = in.n;
    ev(&in, "messageStop", "{\"stopReason\":\"end_turn\"}");
    in.n = whole + 10;
    xt_expect_stream(D, in.p, in.n, want, -1);
    xt_check_splits(D, in.p, in.n);
    /* Nothing at all. */
    in.n = 0;
    xt_expect_stream(D, in.p, in.n, XT_ERROR_END("upstream stream ended before messageStop"), -1);
    free(in.p);
}

Test(bedrock, stream_invalid_payload_and_unknown_events)
{
    struct xt_out in = {0};
    ev(&in, "somethingNew", "not json at all");
    ev(&in, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"citation\":{}}}");
    ev(&in, "contentBlockStart", "{\"contentBlockIndex\":0,\"start\":{\"image\":{}}}");
    ev(&in, "contentBlockDelta",
       "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":"
       "\"{}\"}}}"); /* no tool block started: dropped */
    ev(&in, "contentBlockDelta", "{\"delta\":{\"text\":");
    xt_expect_stream(D, in.p, in.n, XT_ERROR_END("invalid event payload in the upstream stream"),
                     -1);
    free(in.p);

    struct xt_out bad = {0};
    ev(&bad, "contentBlockStart",
       "{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":7}}}");
    xt_expect_stream(D, bad.p, bad.n, XT_ERROR_END("invalid toolUse block start upstream"), -1);
    free(bad.p);
}

Test(bedrock, stream_sink_refusal_stops_the_translation)
{
    struct xt_out in = transcript(true);
    xt_check_sink_refusal(D, in.p, in.n);
    /* The same when the refusal comes at the [DONE] after messageStop without metadata. */
    free(in.p);
    in = transcript(false);
    struct xt_out c = {0};
    struct gw_bedrock_stream s;
    struct gw_xlate_sink ok = {xt_out_write, &c};
    struct gw_xlate_sink sink = {xt_refuse_write, NULL};
    gw_bedrock_stream_init(&s, &X);
    cr_assert_eq(gw_bedrock_stream_feed(&s, in.p, in.n, &ok, NULL), 0);
    cr_assert_eq(gw_bedrock_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(gw_bedrock_stream_feed(&s, "x", 1, &ok, NULL), -1);
    free(c.p);
    free(in.p);
}

Test(bedrock, stream_message_over_the_cap_is_refused_with_bounded_memory)
{
    /* A prelude claiming a 2 MiB message: refused before anything is gathered. */
    unsigned char prelude[12] = {0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    uint32_t crc = gw_crc32(0, prelude, 8);
    prelude[8] = (unsigned char)(crc >> 24);
    prelude[9] = (unsigned char)(crc >> 16);
    prelude[10] = (unsigned char)(crc >> 8);
    prelude[11] = (unsigned char)crc;
    char want[512];
    snprintf(want, sizeof(want), XT_ERROR_END("broken event stream from the upstream: %s"),
             gw_es_error_str(GW_ES_BAD_LENGTH));
    xt_expect_stream(D, (const char *)prelude, sizeof(prelude), want, -1);
    struct xt_out c = {0};
    struct gw_bedrock_stream s;
    struct gw_xlate_sink sink = {xt_out_write, &c};
    gw_bedrock_stream_init(&s, &X);
    cr_assert_eq(gw_bedrock_stream_feed(&s, (const char *)prelude, 12, &sink, NULL), -1);
    xt_assert_out(&c, want);
    cr_assert_lt(arena.total, 2u << 20);
    free(c.p);
}

Test(bedrock, the_dialect_table)
{
    xt_check_table(D, GW_PT_BEDROCK, "bedrock", "application/vnd.amazon.eventstream",
                   sizeof(struct gw_bedrock_stream));
    cr_assert_str_eq(D->error_type_header, "x-amzn-errortype");
    cr_assert_null(D->build_embeddings);
    cr_assert_eq(D->build_request, gw_bedrock_build_request);
    cr_assert_eq(D->translate_response, gw_bedrock_translate_response);
    cr_assert_eq(D->translate_error, gw_bedrock_translate_error);
    /* The stream entries are exercised by every stream test above (xtest.h drives the table). */
}
