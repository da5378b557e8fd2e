/*
 * tests/unit/providers/test_gemini.c — the Gemini API dialect (v1beta).
 *
 * Fixtures are in the wire formats of Gemini's API reference
 * (GenerateContentRequest, GenerateContentResponse with candidates, parts,
 * finishReason, promptFeedback and usageMetadata, the alt=sse stream whose
 * events end in CRLF CRLF, google.rpc.Status errors, batchEmbedContents) and
 * OpenAI's chat completions and embeddings APIs; outputs are compared byte
 * for byte, since the writer is deterministic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/dialect.h"
#include "providers/gemini.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

#include "amplify.h"
#include "xtest.h"

static void setup(void)
{
    xt_setup("gem", "AIza-test", "gemini-2.5-flash", "gem");
}

TestSuite(gemini, .init = setup, .fini = xt_teardown);

static struct gw_xlate_req build_ok(const char *body)
{
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    int r = gw_gemini_build_request(&X, body, strlen(body), &req, &err);
    cr_assert_eq(r, 0, "refused (%d, %s): %s", err.status, err.param ? err.param : "-",
                 err.message);
    cr_assert(gw_json_validate(req.body.ptr, req.body.len), "%.*s", (int)req.body.len,
              req.body.ptr);
    return req;
}

static void expect_body(const char *in, const char *want)
{
    struct gw_xlate_req req = build_ok(in);
    xt_assert_span(req.body, want);
}

static void expect_400(const char *in, const char *param, const char *msg_part)
{
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    cr_assert_eq(gw_gemini_build_request(&X, in, strlen(in), &req, &err), -1, "accepted: %s", in);
    cr_assert_eq(err.status, 400);
    if (param)
        cr_assert(err.param && strcmp(err.param, param) == 0, "param %s, want %s (%s)",
                  err.param ? err.param : "(null)", param, in);
    else
        cr_assert_null(err.param);
    cr_assert(strstr(err.message, msg_part), "message: %s", err.message);
}

#define USER_HI "{\"role\":\"user\",\"content\":\"Hi\"}"
#define HI_IN "{\"messages\":[" USER_HI "],"
#define HI_OUT "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],"
#define HI_BODY "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}]}"

/* ---- requests ---- */

Test(gemini, path_headers_and_system_instruction)
{
    struct gw_xlate_req req = build_ok(
        "{\"model\":\"gem\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"You are terse.\"},"
        "{\"role\":\"user\",\"content\":\"Hi \\u00e9\\\"\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Answer in French.\"},"
        "{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"No lists.\"}]}]}");
    xt_assert_span(req.body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi "
                             "\\u00e9\\\"\"}]}],"
                             "\"systemInstruction\":{\"parts\":[{\"text\":\"You are terse.\"},"
                             "{\"text\":\"Answer in French.\"},{\"text\":\"No lists.\"}]}}");
    cr_assert_str_eq(req.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    xt_assert_span(req.headers, "x-goog-api-key: AIza-test\r\n");
    cr_assert_null(req.warning);
}

Test(gemini, stream_path_encoded_model_and_no_key)
{
    X.stream = true;
    X.upstream_model = "models/tuned model/v1+x";
    prov.api_key = "";
    struct gw_xlate_req req = build_ok(HI_IN "\"stream\":true}");
    cr_assert_str_eq(req.path,
                     "/v1beta/models/tuned%20model%2Fv1%2Bx:streamGenerateContent?alt=sse");
    cr_assert_eq(req.headers.len, 0);
    xt_assert_span(req.body, HI_BODY);
}

Test(gemini, every_generation_config_field)
{
    expect_body(HI_IN "\"max_tokens\":50,\"max_completion_tokens\":100,\"stop\":\"\\n\\n\","
                      "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"n\":2,\"seed\":-7,"
                      "\"presence_penalty\":0.5,\"frequency_penalty\":-0.25,\"logprobs\":true,"
                      "\"top_logprobs\":3,\"response_format\":{\"type\":\"json_object\"},"
                      "\"reasoning_effort\":\"medium\"}",
                HI_OUT "\"generationConfig\":{\"stopSequences\":[\"\\n\\n\"],"
                       "\"maxOutputTokens\":100,\"temperature\":0.7,\"topP\":0.9,\"topK\":40,"
                       "\"candidateCount\":2,\"seed\":-7,\"presencePenalty\":0.5,"
                       "\"frequencyPenalty\":-0.25,\"responseLogprobs\":true,\"logprobs\":3,"
                       "\"responseMimeType\":\"application/json\","
                       "\"thinkingConfig\":{\"thinkingBudget\":8192}}}");
    expect_body(HI_IN "\"max_tokens\":7,\"stop\":[\"END\",\"STOP\"],\"stream\":false,"
                      "\"temperature\":null,\"logprobs\":false,\"reasoning_effort\":\"none\","
                      "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
                      "\"w\",\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":"
                      "{\"t\":{\"type\":\"number\"}}}}}}",
                HI_OUT
                "\"generationConfig\":{\"stopSequences\":[\"END\",\"STOP\"],"
                "\"maxOutputTokens\":7,\"responseMimeType\":\"application/json\","
                "\"responseJsonSchema\":{\"type\":\"object\",\"properties\":"
                "{\"t\":{\"type\":\"number\"}}},\"thinkingConfig\":{\"thinkingBudget\":0}}}");
    /* The reasoning table: minimal and low 1024, high 24576; text format adds nothing. */
    expect_body(HI_IN "\"reasoning_effort\":\"minimal\",\"response_format\":{\"type\":\"text\"}}",
                HI_OUT "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":1024}}}");
    expect_body(HI_IN "\"reasoning_effort\":\"low\"}",
                HI_OUT "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":1024}}}");
    expect_body(HI_IN "\"reasoning_effort\":\"high\",\"stop\":[]}",
                HI_OUT "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":24576}}}");
}

Test(gemini, harmless_fields_are_dropped_and_mock_is_forwarded)
{
    expect_body(HI_IN "\"user\":\"u-42\",\"store\":true,\"metadata\":{\"a\":\"b\"},"
                      "\"service_tier\":\"auto\",\"prompt_cache_key\":\"k\",\"safety_identifier\":"
                      "\"s\",\"stream_options\":{\"include_usage\":true},\"logit_bias\":{},"
                      "\"modalities\":[\"text\"],\"parallel_tool_calls\":true,"
                      "\"mock\":{\"chunks\":2,\"tool\":true}}",
                HI_OUT "\"mock\":{\"chunks\":2,\"tool\":true}}");
}

Test(gemini, images_audio_and_files)
{
    expect_body(
        "{\"messages\":[{\"role\":\"user\",\"name\":\"ann\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://upload.example/a.JPG?w=2\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/render\"}},"
        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRg==\",\"format\":\"wav\"}},"
        "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\",\"file_data\":"
        "\"data:application/pdf;base64,JVBERi0=\"}}]}]}",
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"What is in these?\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
        "{\"fileData\":{\"mimeType\":\"image/jpeg\",\"fileUri\":\"https://upload.example/"
        "a.JPG?w=2\"}},"
        "{\"fileData\":{\"fileUri\":\"https://example.com/render\"}},"
        "{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":\"UklGRg==\"}},"
        "{\"inlineData\":{\"mimeType\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]}]}");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
               "\"image_url\":{\"url\":\"ftp://x/a.png\"}}]}]}",
               "messages", "http(s) or data:");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
               "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
               "messages", "base64");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\","
               "\"file\":{\"file_id\":\"file-1\"}}]}]}",
               "messages", "file_id");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
               "\"input_audio\":{\"data\":\"x\",\"format\":\"flac\"}}]}]}",
               "messages", "wav or mp3");
    expect_400("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"image_url\","
               "\"image_url\":{\"url\":\"https://a/b.png\"}}]}]}",
               "messages", "only accepted in user");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
               "messages", "not supported");
}

#define WEATHER_TOOL                                                                               \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"description\":\"Get the current weather\",\"strict\":true,\"parameters\":"                  \
    "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"                    \
    "\"required\":[\"location\"],\"additionalProperties\":false}}},"                               \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]"
#define WEATHER_TOOL_OUT                                                                           \
    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\",\"description\":"             \
    "\"Get the current weather\",\"parametersJsonSchema\":{\"type\":\"object\",\"properties\":"    \
    "{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"],"                            \
    "\"additionalProperties\":false}},{\"name\":\"now\"}]}]"

Test(gemini, tools_and_every_tool_choice)
{
    expect_body(HI_IN WEATHER_TOOL "}", HI_OUT WEATHER_TOOL_OUT "}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"auto\"}",
                HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                        "{\"mode\":\"AUTO\"}}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"required\"}",
                HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                        "{\"mode\":\"ANY\"}}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"none\"}",
                HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                        "{\"mode\":\"NONE\"}}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                                   "{\"name\":\"get_weather\"}}}",
                HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                        "{\"mode\":\"ANY\",\"allowedFunctionNames\":"
                                        "[\"get_weather\"]}}}");
    /* Without tools: auto and none say nothing; a forced call cannot be. */
    expect_body(HI_IN "\"tool_choice\":\"none\"}", HI_BODY);
    expect_body(HI_IN "\"tools\":[],\"tool_choice\":\"auto\"}", HI_BODY);
    expect_400(HI_IN "\"tool_choice\":\"required\"}", "tool_choice", "needs tools");
    expect_400(HI_IN WEATHER_TOOL ",\"tool_choice\":\"sometimes\"}", "tool_choice", "auto");
    expect_400(HI_IN WEATHER_TOOL ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":"
                                  "{\"mode\":\"auto\",\"tools\":[]}}}",
               "tool_choice", "allowed_tools");
    expect_400(HI_IN "\"tools\":[{\"type\":\"web_search\"}]}", "tools", "function");
    expect_400(HI_IN "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
                     "\"parameters\":[]}}]}",
               "tools", "JSON Schema");
}

Test(gemini, parallel_tool_calls_false_goes_out_with_a_warning)
{
    struct gw_xlate_req req = build_ok(HI_IN WEATHER_TOOL ",\"parallel_tool_calls\":false}");
    xt_assert_span(req.body, HI_OUT WEATHER_TOOL_OUT "}");
    cr_assert(req.warning && strstr(req.warning, "parallel_tool_calls"));
    cr_assert_null(build_ok(HI_IN "\"parallel_tool_calls\":false}").warning);
}

Test(gemini, tool_calls_and_results_merged_with_names_looked_up)
{
    expect_body(
        "{\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"
        "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"lookup\","
        "\"arguments\":\" \"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
        "{\"role\":\"system\",\"content\":\"(interleaved)\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":\"text\","
        "\"text\":\" {\\\"temp\\\": 21,\"},{\"type\":\"text\",\"text\":\"\\\"unit\\\":\\\"C\\\"}"
        "\"}]},"
        "{\"role\":\"user\",\"content\":\"Thanks\"},"
        "{\"role\":\"assistant\",\"content\":\"Paris 18C, Rome 21C.\",\"tool_calls\":["
        "{\"id\":\"call_3\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_3\",\"content\":\"[1,2]\"}"
        "]}",
        "{\"contents\":["
        "{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris and Rome?\"}]},"
        "{\"role\":\"model\",\"parts\":["
        "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\": \"Paris\"}}},"
        "{\"functionCall\":{\"name\":\"lookup\",\"args\":{}}}]},"
        "{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"result\":\"18C\"}}},"
        "{\"functionResponse\":{\"name\":\"lookup\",\"response\":{\"temp\": 21,\"unit\":\"C\"}}}"
        "]},"
        "{\"role\":\"user\",\"parts\":[{\"text\":\"Thanks\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"text\":\"Paris 18C, Rome 21C.\"},"
        "{\"functionCall\":{\"name\":\"now\",\"args\":{}}}]},"
        "{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"now\",\"response\":{\"result\":\"[1,2]\"}}}]}],"
        "\"systemInstruction\":{\"parts\":[{\"text\":\"(interleaved)\"}]}}");
}

Test(gemini, tool_results_that_cannot_be_translated_are_400)
{
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
               "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]}]}",
               "messages", "arguments must be a JSON object");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
               "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
               "messages", "arguments must be a JSON object");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
               "messages", "matches no earlier assistant tool call");
    expect_400("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages",
               "tool_call_id");
    expect_400("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\","
               "\"type\":\"function\",\"function\":{\"name\":\"f\"}}]},"
               "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":[{\"type\":\"image_url\","
               "\"image_url\":{\"url\":\"https://a/b.png\"}}]}]}",
               "messages", "must be text");
    expect_400("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\","
               "\"type\":\"custom\",\"custom\":{\"name\":\"f\"}}]}]}",
               "messages", "only function tool calls");
}

Test(gemini, fields_gemini_cannot_express_are_400_with_their_param)
{
    static const struct {
        const char *field;
        const char *param;
        const char *msg;
    } t[] = {
        {"\"logit_bias\":{\"50256\":-100}", "logit_bias", "not supported"},
        {"\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}", "audio", "not supported"},
        {"\"modalities\":[\"text\",\"audio\"]", "modalities", "text only"},
        {"\"prediction\":{\"type\":\"content\",\"content\":\"x\"}", "prediction", "not supported"},
        {"\"web_search_options\":{}", "web_search_options", "not supported"},
        {"\"functions\":[{\"name\":\"f\"}]", "functions", "not supported"},
        {"\"function_call\":\"auto\"", "function_call", "not supported"},
        {"\"verbosity\":\"low\"", "verbosity", "not supported"},
        {"\"reasoning_effort\":\"xhigh\"", "reasoning_effort", "none, minimal"},
        {"\"n\":9", "n", "from 1 to 8"},
        {"\"n\":0", "n", "from 1 to 8"},
        {"\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]", "stop", "at most 5"},
        {"\"stop\":[1]", "stop", "array of strings"},
        {"\"top_logprobs\":2", "top_logprobs", "needs logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":21", "top_logprobs", "0 to 20"},
        {"\"response_format\":{\"type\":\"xml\"}", "response_format", "json_schema"},
        {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":[]}}",
         "response_format", "JSON Schema"},
        {"\"max_tokens\":1.5", "max_tokens", "positive integer"},
        {"\"max_completion_tokens\":0", "max_completion_tokens", "positive integer"},
        {"\"temperature\":\"hot\"", "temperature", "number"},
        {"\"top_k\":-1", "top_k", "non-negative integer"},
        {"\"seed\":1.5", "seed", "integer"},
        {"\"stream\":\"yes\"", "stream", "boolean"},
        {"\"parallel_tool_calls\":1", "parallel_tool_calls", "boolean"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char in[512];
        snprintf(in, sizeof(in), HI_IN "%s}", t[i].field);
        expect_400(in, t[i].param, t[i].msg);
    }
}

Test(gemini, other_invalid_requests_are_400)
{
    expect_400("{\"messages\":", NULL, "JSON object");
    expect_400("[1]", NULL, "JSON object");
    expect_400("{\"model\":\"m\"}", "messages", "messages");
    expect_400("{\"messages\":[{\"role\":\"system\",\"content\":\"only rules\"}]}", "messages",
               "user, assistant or tool");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "messages",
               "user, assistant or tool");
    expect_400("{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages", "role");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":7}]}", "messages", "string");
    expect_400(
        "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}," USER_HI "]}",
        "messages", "system message parts must be text");
    X.upstream_model = NULL;
    expect_400(HI_IN "\"n\":1}", "model", "model is required");
    /* With no upstream name configured, the body's model is used. */
    struct gw_xlate_req req = build_ok(HI_IN "\"model\":\"gemini-pro\"}");
    cr_assert_str_eq(req.path, "/v1beta/models/gemini-pro:generateContent");
}

/* ---- bounds (providers/xbound.h) ---- */

/* Matching results to calls looks back over the calls: both counts are capped. */
Test(gemini, tool_calls_and_tool_results_are_capped_at_4096_each)
{
    char *in = amp_body(8, GW_XBOUND_TOOL_CALLS_MAX, GW_XBOUND_TOOL_CALLS_MAX, 0);
    build_ok(in);
    free(in);
    in = amp_body(8, GW_XBOUND_TOOL_CALLS_MAX + 1, 1, 0);
    expect_400(in, "messages", "at most 4096 tool calls");
    free(in);
    /* Every result naming the first call: the worst case for the look-back. */
    in = amp_body(8, 1, GW_XBOUND_TOOL_CALLS_MAX + 1, 0);
    expect_400(in, "messages", "at most 4096 tool results");
    free(in);
}

/* The request of the security finding: refused on its name, before any render. */
Test(gemini, the_amplification_request_is_refused_and_the_arena_stays_small)
{
    char *in = amp_body(AMP_NAME_LEN, 1, AMP_RESULTS, 0);
    expect_400(in, AMP_PARAM, "too long");
    cr_assert_lt(arena.total, (size_t)1 << 20, "arena %zu bytes", arena.total);
    free(in);
}

Test(gemini, function_names_over_64_characters_are_refused_where_they_are_copied)
{
    char n65[66], in[512];
    memset(n65, 'n', 65);
    n65[65] = '\0';
    snprintf(in, sizeof(in),
             HI_IN "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"%s\"}}]}", n65);
    expect_400(in, "tools[0].function.name", "too long (65 bytes)");
    snprintf(in, sizeof(in),
             HI_IN "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                   "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"%s\"}}}",
             n65);
    expect_400(in, "tool_choice.function.name", "too long");
    expect_400(HI_IN "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]}",
               "tools[0].function.name", "not valid");
    /* Gemini's declarations also take '.' and ':'. */
    build_ok(HI_IN "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"mcp.srv:f\"}}]}");
}

/*
 * A 64-character name repeated by 3,000 tool results: the output outgrows the
 * first buffer (2x the input), is rendered again, and fits under 4x.
 */
Test(gemini, a_name_repeated_by_many_tool_results_renders_again_within_the_limit)
{
    amp_exact_arena(&arena);
    char *in = amp_body(GW_XBOUND_NAME_MAX, 1, AMP_RESULTS, 0);
    size_t len = strlen(in);
    struct gw_xlate_req req = build_ok(in);
    cr_assert_gt(req.body.len, 2 * len + 1024, "the first buffer was enough (%zu for %zu)",
                 req.body.len, len);
    cr_assert(memmem(req.body.ptr, req.body.len, "{\"result\":\"ok\"}", 15));
    /* Two buffers (2x, then the 4x limit) and the decoded results' scratch. */
    cr_assert_lt(arena.total, 2 * gw_xbound_limit(len, 0, 0) + 2 * len, "arena %zu bytes for %zu",
                 arena.total, len);
    free(in);
}

/* The same conversation against a lower ceiling: the loop stops at it, with 400. */
Test(gemini, the_render_loop_stops_at_the_limit_with_400)
{
    amp_exact_arena(&arena);
    char *in = amp_body(GW_XBOUND_NAME_MAX, 1, AMP_RESULTS, 0);
    size_t len = strlen(in);
    X.out_max = 2 * len + 1024 + 4096; /* over the first buffer, under the output */
    char want[64];
    snprintf(want, sizeof(want), "larger than %zu bytes", X.out_max);
    expect_400(in, NULL, want);
    cr_assert_lt(arena.total, 2 * X.out_max + 2 * len, "arena %zu bytes", arena.total);
    free(in);
}

Test(gemini, a_large_request_under_the_limits_still_translates)
{
    char *in = amp_body(GW_XBOUND_NAME_MAX, 64, 512, 8 << 20);
    struct gw_xlate_req req = build_ok(in);
    cr_assert_gt(req.body.len, (size_t)8 << 20);
    cr_assert_lt(req.body.len, 2 * strlen(in));
    free(in);
}

Test(gemini, a_request_over_the_ceiling_is_refused_with_400)
{
    char *in = amp_user_body(20000);
    X.out_max = 8192;
    expect_400(in, NULL, "larger than 8192 bytes");
    cr_assert_lt(arena.total, (size_t)256 << 10);
    free(in);
}

/* Short inputs repeat the model per input: the dialect's bytes, allowed for. */
Test(gemini, embeddings_of_2048_short_inputs_fit_the_limit)
{
    X.upstream_model = "text-embedding-004";
    X.ep = GW_EP_EMBEDDINGS;
    size_t cap = 2048 * 6 + 64, k = 0;
    char *in = malloc(cap);
    k += (size_t)snprintf(in, cap, "{\"input\":[");
    for (int i = 0; i < 2048; i++)
        k += (size_t)snprintf(in + k, cap - k, "%s\"w\"", i ? "," : "");
    snprintf(in + k, cap - k, "]}");
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    cr_assert_eq(gw_gemini_build_embeddings(&X, in, strlen(in), &req, &err), 0, "%s", err.message);
    cr_assert_gt(req.body.len, 4 * strlen(in)); /* past the relative limit alone */
    free(in);
}

Test(gemini, embeddings_over_the_ceiling_are_refused_with_400)
{
    X.upstream_model = "text-embedding-004";
    X.ep = GW_EP_EMBEDDINGS;
    X.out_max = 4096;
    char *in = malloc(12000);
    memcpy(in, "{\"input\":\"", 10);
    memset(in + 10, 'w', 10000);
    memcpy(in + 10010, "\"}", 3);
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    cr_assert_eq(gw_gemini_build_embeddings(&X, in, strlen(in), &req, &err), -1);
    cr_assert_eq(err.status, 400);
    cr_assert(strstr(err.message, "larger than 4096 bytes"), "%s", err.message);
    free(in);
}

/* A response body of n functionCall parts without ids (malloc'd). */
static char *calls_response(size_t n)
{
    size_t cap = n * 48 + 128, k = 0;
    char *in = malloc(cap);
    k += (size_t)snprintf(in, cap, "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(in + k, cap - k, "%s{\"functionCall\":{\"name\":\"f\",\"args\":{}}}",
                              i ? "," : "");
    snprintf(in + k, cap - k, "]},\"finishReason\":\"STOP\"}]}");
    return in;
}

#define RID63 "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"

/* Generated ids ("call_<request id>_<n>") outgrow 2x the body: the response is rendered again. */
Test(gemini, a_response_with_many_generated_ids_renders_again_within_bounds)
{
    X.request_id = RID63;
    char *in = calls_response(3000);
    size_t len = strlen(in);
    struct gw_span out;
    cr_assert_eq(gw_gemini_translate_response(&X, in, len, &out, NULL), 0);
    cr_assert_gt(out.len, 2 * len + 1024);
    cr_assert(memmem(out.ptr, out.len, "\"call_" RID63 "_2999\"", 71));
    cr_assert_lt(arena.total, 2 * out.len + 3 * len, "arena %zu bytes", arena.total);
    free(in);
}

Test(gemini, a_response_over_the_ceiling_is_refused_and_the_arena_stays_bounded)
{
    X.request_id = RID63;
    char *in = calls_response(3000);
    size_t len = strlen(in);
    X.out_max = 3 * len; /* over the first buffer, under the output */
    struct gw_span out;
    cr_assert_eq(gw_gemini_translate_response(&X, in, len, &out, NULL), -1);
    cr_assert_lt(arena.total, 2 * X.out_max + 2 * len, "arena %zu bytes", arena.total);
    free(in);
}

/* ---- responses ---- */

#define CHAT_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1700000000,"             \
    "\"model\":\"gem\",\"choices\":["
#define NO_USAGE                                                                                   \
    "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0,"                   \
    "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":"               \
    "{\"reasoning_tokens\":0}}}"

static void expect_response(const char *in, const char *want, struct gw_xlate_usage *u)
{
    struct gw_span out;
    cr_assert_eq(gw_gemini_translate_response(&X, in, strlen(in), &out, u), 0, "refused: %s", in);
    xt_assert_span(out, want);
}

Test(gemini, response_text_thoughts_dropped_and_usage)
{
    struct gw_xlate_usage u = {0};
    expect_response(
        "{\"candidates\":[{\"content\":{\"parts\":["
        "{\"text\":\"**Planning** the answer\",\"thought\":true},"
        "{\"text\":\"Hi! I am \\\"Gemini\\\".\"},{\"text\":\" Bye.\",\"thoughtSignature\":"
        "\"CiQB\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0,"
        "\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\",\"probability\":"
        "\"NEGLIGIBLE\"}]}],"
        "\"usageMetadata\":{\"promptTokenCount\":2095,\"candidatesTokenCount\":503,"
        "\"totalTokenCount\":2928,\"cachedContentTokenCount\":1024,\"toolUsePromptTokenCount\":"
        "10,\"thoughtsTokenCount\":320,\"promptTokensDetails\":[{\"modality\":\"TEXT\","
        "\"tokenCount\":2095}]},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":"
        "\"mAitaJ-4FpXX\"}",
        CHAT_HEAD "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi! I am "
                  "\\\"Gemini\\\". Bye.\",\"refusal\":null},\"logprobs\":null,"
                  "\"finish_reason\":\"stop\"}],"
                  "\"usage\":{\"prompt_tokens\":2105,\"completion_tokens\":823,"
                  "\"total_tokens\":2928,\"prompt_tokens_details\":{\"cached_tokens\":1024},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":320}}}",
        &u);
    cr_assert(u.have);
    cr_assert_eq(u.prompt_tokens, 2105);
    cr_assert_eq(u.completion_tokens, 823);
    cr_assert_eq(u.cached_tokens, 1024);
    cr_assert_eq(u.reasoning_tokens, 320, "thoughtsTokenCount");
    cr_assert_eq(u.cache_creation_tokens, 0);
}

Test(gemini, response_function_calls_with_and_without_ids)
{
    expect_response(
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
        "{\"text\":\"Checking.\"},"
        "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris, FR\","
        "\"unit\":\"celsius\"}}},"
        "{\"functionCall\":{\"id\":\"fc_7\",\"name\":\"now\",\"args\":{}}},"
        "{\"functionCall\":{\"name\":\"ping\"}}]},\"finishReason\":\"STOP\"}],"
        "\"usageMetadata\":{\"promptTokenCount\":21,\"candidatesTokenCount\":39,"
        "\"totalTokenCount\":60}}",
        CHAT_HEAD "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Checking.\","
                  "\"tool_calls\":["
                  "{\"id\":\"call_req1_0\",\"type\":\"function\",\"function\":{\"name\":"
                  "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris, FR\\\","
                  "\\\"unit\\\":\\\"celsius\\\"}\"}},"
                  "{\"id\":\"fc_7\",\"type\":\"function\",\"function\":{\"name\":\"now\","
                  "\"arguments\":\"{}\"}},"
                  "{\"id\":\"call_req1_1\",\"type\":\"function\",\"function\":{\"name\":"
                  "\"ping\",\"arguments\":\"{}\"}}],"
                  "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
                  "\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":39,"
                  "\"total_tokens\":60,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
        NULL);
}

Test(gemini, response_several_candidates_become_several_choices)
{
    expect_response(
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A\"}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\"},{\"content\":{\"parts\":[{\"text\":\"B\"}],\"role\":"
        "\"model\"},\"finishReason\":\"MAX_TOKENS\",\"index\":1},{\"finishReason\":\"SAFETY\","
        "\"index\":2}]}",
        CHAT_HEAD
        "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"A\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"},"
        "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"B\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"length\"},"
        "{\"index\":2,\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"content_filter\"}]," NO_USAGE,
        NULL);
}

/* The response `candidate` + finish (a JSON value) + "}]}" must say finish_reason want. */
static void expect_finish(const char *candidate, const char *finish, const char *want)
{
    char in[512], w[128];
    snprintf(in, sizeof(in), "%s%s}]}", candidate, finish);
    snprintf(w, sizeof(w), "\"finish_reason\":\"%s\"", want);
    struct gw_span out;
    cr_assert_eq(gw_gemini_translate_response(&X, in, strlen(in), &out, NULL), 0, "%s", in);
    cr_assert(memmem(out.ptr, out.len, w, strlen(w)), "%s: %.*s", finish, (int)out.len, out.ptr);
}

Test(gemini, response_every_finish_reason)
{
    static const char *const map[][2] = {
        {"\"STOP\"", "stop"},
        {"\"MAX_TOKENS\"", "length"},
        {"\"SAFETY\"", "content_filter"},
        {"\"RECITATION\"", "content_filter"},
        {"\"BLOCKLIST\"", "content_filter"},
        {"\"PROHIBITED_CONTENT\"", "content_filter"},
        {"\"SPII\"", "content_filter"},
        {"\"IMAGE_SAFETY\"", "content_filter"},
        {"\"IMAGE_PROHIBITED_CONTENT\"", "content_filter"},
        {"\"IMAGE_RECITATION\"", "content_filter"},
        {"\"LANGUAGE\"", "stop"},
        {"\"OTHER\"", "stop"},
        {"\"MALFORMED_FUNCTION_CALL\"", "stop"},
        {"\"UNEXPECTED_TOOL_CALL\"", "stop"},
        {"\"TOO_MANY_TOOL_CALLS\"", "stop"},
        {"\"FINISH_REASON_UNSPECIFIED\"", "stop"},
        {"\"SOMETHING_NEW\"", "stop"},
        {"null", "stop"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(map); i++)
        expect_finish("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],"
                      "\"role\":\"model\"},\"index\":0,\"finishReason\":",
                      map[i][0], map[i][1]);
    /* A call that ends otherwise than STOP still reads as tool_calls, unless cut or filtered. */
    static const char *const calls[][2] = {{"\"OTHER\"", "tool_calls"},
                                           {"\"MAX_TOKENS\"", "length"},
                                           {"\"SAFETY\"", "content_filter"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(calls); i++)
        expect_finish("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
                      "{\"name\":\"f\",\"args\":{}}}],\"role\":\"model\"},"
                      "\"finishReason\":",
                      calls[i][0], calls[i][1]);
}

Test(gemini, response_blocked_prompt_is_one_filtered_choice)
{
    struct gw_xlate_usage u = {0};
    expect_response("{\"promptFeedback\":{\"blockReason\":\"SAFETY\",\"safetyRatings\":[{"
                    "\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"probability\":\"HIGH\","
                    "\"blocked\":true}]},\"usageMetadata\":{\"promptTokenCount\":8,"
                    "\"totalTokenCount\":8},\"modelVersion\":\"gemini-2.5-flash\"}",
                    CHAT_HEAD "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
                              "\"refusal\":null},\"logprobs\":null,"
                              "\"finish_reason\":\"content_filter\"}],"
                              "\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":0,"
                              "\"total_tokens\":8,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                              "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
                    &u);
    cr_assert_eq(u.prompt_tokens, 8);
}

Test(gemini, response_logprobs)
{
    expect_response(
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi \\u00e9\"}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\",\"avgLogprobs\":-0.2,\"logprobsResult\":{"
        "\"topCandidates\":[{\"candidates\":[{\"token\":\"Hi\",\"tokenId\":7,"
        "\"logProbability\":-0.01},{\"token\":\"Hello\",\"tokenId\":8,\"logProbability\":-4.5}]},"
        "{\"candidates\":[{\"token\":\" \\u00e9\",\"tokenId\":9}]}],"
        "\"chosenCandidates\":[{\"token\":\"Hi\",\"tokenId\":7,\"logProbability\":-0.01},"
        "{\"token\":\" \\u00e9\",\"tokenId\":9}]}}]}",
        CHAT_HEAD "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi \xc3\xa9\","
                  "\"refusal\":null},\"logprobs\":{\"content\":["
                  "{\"token\":\"Hi\",\"logprob\":-0.01,\"bytes\":[72,105],\"top_logprobs\":["
                  "{\"token\":\"Hi\",\"logprob\":-0.01,\"bytes\":[72,105]},"
                  "{\"token\":\"Hello\",\"logprob\":-4.5,\"bytes\":[72,101,108,108,111]}]},"
                  "{\"token\":\" \\u00e9\",\"logprob\":0,\"bytes\":[32,195,169],\"top_logprobs\":["
                  "{\"token\":\" \\u00e9\",\"logprob\":0,\"bytes\":[32,195,169]}]}],"
                  "\"refusal\":null},\"finish_reason\":\"stop\"}]," NO_USAGE,
        NULL);
}

Test(gemini, response_that_is_not_a_generate_content_response_is_refused)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"usageMetadata\":{}}",
        "{\"candidates\":{}}",
        "{\"candidates\":[7]}",
        "{\"candidates\":[{\"content\":{\"parts\":{}}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"args\":{}}}]}}]}",
        "{\"candidates\":[{\"index\":-1}]}",
        "{\"candidates\":[{\"logprobsResult\":{\"chosenCandidates\":[{\"tokenId\":1}]}}]}",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        struct gw_span out;
        cr_assert_eq(gw_gemini_translate_response(&X, bad[i], strlen(bad[i]), &out, NULL), -1, "%s",
                     bad[i]);
    }
    struct gw_span out;
    cr_assert_eq(gw_gemini_translate_response(&X, NULL, 0, &out, NULL), -1);
}

Test(gemini, response_with_many_generated_ids_outgrows_twice_its_size)
{
    static char rid[100];
    memset(rid, 'r', sizeof(rid) - 1);
    X.request_id = rid;
    size_t cap = 64 * 1024;
    char *in = malloc(cap);
    int k = snprintf(in, cap, "{\"candidates\":[{\"content\":{\"parts\":[");
    for (int i = 0; i < 300; i++)
        k += snprintf(in + k, cap - (size_t)k, "%s{\"functionCall\":{\"name\":\"f\"}}",
                      i ? "," : "");
    snprintf(in + k, cap - (size_t)k, "]}}]}");
    struct gw_span out;
    cr_assert_eq(gw_gemini_translate_response(&X, in, strlen(in), &out, NULL), 0);
    cr_assert_gt(out.len, 2 * strlen(in));
    cr_assert(gw_json_validate(out.ptr, out.len));
    char last[160];
    snprintf(last, sizeof(last), "\"call_%s_299\"", rid);
    cr_assert(memmem(out.ptr, out.len, last, strlen(last)));
    free(in);
}

/* ---- errors ---- */

Test(gemini, every_error_status_maps)
{
    static const struct {
        int in;
        const char *status;
        int out;
        const char *oa_type;
        const char *code; /* JSON */
    } t[] = {
        {400, "INVALID_ARGUMENT", 400, "invalid_request_error", "null"},
        {400, "FAILED_PRECONDITION", 400, "invalid_request_error", "null"},
        {400, "OUT_OF_RANGE", 400, "invalid_request_error", "null"},
        {401, "UNAUTHENTICATED", 401, "invalid_request_error", "\"invalid_api_key\""},
        {403, "PERMISSION_DENIED", 403, "permission_error", "null"},
        {404, "NOT_FOUND", 404, "invalid_request_error", "\"not_found\""},
        {429, "RESOURCE_EXHAUSTED", 429, "rate_limit_error", "\"rate_limit_exceeded\""},
        {500, "INTERNAL", 500, "server_error", "null"},
        {503, "UNAVAILABLE", 503, "server_error", "\"service_unavailable\""},
        {504, "DEADLINE_EXCEEDED", 504, "server_error", "\"timeout\""},
        {409, "ABORTED", 409, "invalid_request_error", "null"},
        {499, "CANCELLED", 499, "invalid_request_error", "null"},
        {501, "UNIMPLEMENTED", 501, "server_error", "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char in[256], want[512];
        snprintf(in, sizeof(in),
                 "{\n  \"error\": {\n    \"code\": %d,\n    \"message\": \"Oh \\\"no\\\"\",\n"
                 "    \"status\": \"%s\"\n  }\n}\n",
                 t[i].in, t[i].status);
        snprintf(want, sizeof(want),
                 "{\"error\":{\"message\":\"Oh \\\"no\\\"\",\"type\":\"%s\",\"param\":null,"
                 "\"code\":%s}}",
                 t[i].oa_type, t[i].code);
        struct gw_span out;
        int st = 0;
        cr_assert_eq(
            gw_gemini_translate_error(t[i].in, GW_SPAN_NULL, in, strlen(in), &arena, &out, &st), 0);
        cr_assert_eq(st, t[i].out, "%s", t[i].status);
        xt_assert_span(out, want);
    }
}

Test(gemini, an_invalid_api_key_is_401)
{
    static const char in[] =
        "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\","
        "\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/"
        "google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":\"googleapis.com\","
        "\"metadata\":{\"service\":\"generativelanguage.googleapis.com\"}},{\"@type\":"
        "\"type.googleapis.com/google.rpc.LocalizedMessage\",\"locale\":\"en-US\",\"message\":"
        "\"API key not valid. Please pass a valid API key.\"}]}}";
    struct gw_span out;
    int st = 0;
    cr_assert_eq(gw_gemini_translate_error(400, GW_SPAN_NULL, in, LIT_LEN(in), &arena, &out, &st),
                 0);
    cr_assert_eq(st, 401);
    xt_assert_span(out,
                   "{\"error\":{\"message\":\"API key not valid. Please pass a valid API key.\","
                   "\"type\":\"invalid_request_error\",\"param\":null,"
                   "\"code\":\"invalid_api_key\"}}");
}

Test(gemini, unparseable_error_bodies_get_a_generic_message)
{
    struct gw_span out;
    int st = 0;
    const char *html = "<html><body>502 Bad Gateway</body></html>";
    cr_assert_eq(
        gw_gemini_translate_error(502, GW_SPAN_NULL, html, strlen(html), &arena, &out, &st), 0);
    cr_assert_eq(st, 502);
    xt_assert_span(out, "{\"error\":{\"message\":\"upstream provider error (HTTP 502)\","
                        "\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    cr_assert_eq(gw_gemini_translate_error(400, GW_SPAN_NULL, NULL, 0, &arena, &out, &st), 0);
    cr_assert_eq(st, 400);
    xt_assert_span(out, "{\"error\":{\"message\":\"upstream provider error (HTTP 400)\","
                        "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
    /* A status outside 4xx/5xx from a broken upstream is a 502 to the client. */
    cr_assert_eq(gw_gemini_translate_error(302, GW_SPAN_NULL, "{}", 2, &arena, &out, &st), 0);
    cr_assert_eq(st, 502);
}

/* ---- embeddings ---- */

Test(gemini, embeddings_request)
{
    static const char in[] = "{\"model\":\"emb\",\"input\":[\"a\",\"b \\\"q\\\"\"],"
                             "\"dimensions\":256,\"encoding_format\":\"base64\","
                             "\"user\":\"u\",\"mock\":{\"status\":500}}";
    X.upstream_model = "text-embedding-004";
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    cr_assert_eq(gw_gemini_build_embeddings(&X, in, LIT_LEN(in), &req, &err), 0, "%s", err.message);
    cr_assert_str_eq(req.path, "/v1beta/models/text-embedding-004:batchEmbedContents");
    xt_assert_span(req.headers, "x-goog-api-key: AIza-test\r\n");
    xt_assert_span(req.body,
                   "{\"requests\":["
                   "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":"
                   "\"a\"}]},\"outputDimensionality\":256},"
                   "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":"
                   "\"b \\\"q\\\"\"}]},\"outputDimensionality\":256}],\"mock\":{\"status\":500}}");
    static const char one[] = "{\"model\":\"emb\",\"input\":\"solo\"}";
    cr_assert_eq(gw_gemini_build_embeddings(&X, one, LIT_LEN(one), &req, &err), 0);
    xt_assert_span(req.body, "{\"requests\":[{\"model\":\"models/text-embedding-004\","
                             "\"content\":{\"parts\":[{\"text\":\"solo\"}]}}]}");
    static const char bad[] = "{\"model\":\"emb\",\"input\":[[1,2]]}";
    cr_assert_eq(gw_gemini_build_embeddings(&X, bad, LIT_LEN(bad), &req, &err), -1);
    cr_assert_eq(err.status, 400);
    cr_assert_str_eq(err.param, "input");
    cr_assert_eq(gw_gemini_build_embeddings(&X, "[]", 2, &req, &err), -1);
    cr_assert_eq(err.status, 400);
}

Test(gemini, embeddings_response_in_both_encodings)
{
    static const char in[] = "{\"embeddings\":[{\"values\":[1,-2.5,0.25]},{\"values\":[0]}]}";
    struct gw_span out;
    struct gw_xlate_usage u = {.have = true, .prompt_tokens = 9};
    cr_assert_eq(gw_gemini_translate_embeddings(&X, in, LIT_LEN(in), &out, &u), 0);
    xt_assert_span(out, "{\"object\":\"list\",\"data\":["
                        "{\"object\":\"embedding\",\"index\":0,\"embedding\":[1,-2.5,0.25]},"
                        "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0]}],"
                        "\"model\":\"gem\",\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    cr_assert_not(u.have, "Gemini reports no embedding usage");
    cr_assert_eq(u.prompt_tokens, 0);
    X.embed_base64 = true;
    /* 1.0f = 00 00 80 3f, -2.5f = 00 00 20 c0, 0.25f = 00 00 80 3e (little endian). */
    cr_assert_eq(gw_gemini_translate_embeddings(&X, in, LIT_LEN(in), &out, NULL), 0);
    xt_assert_span(out, "{\"object\":\"list\",\"data\":["
                        "{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AACAPwAAIMAAAIA+\"},"
                        "{\"object\":\"embedding\",\"index\":1,\"embedding\":\"AAAAAA==\"}],"
                        "\"model\":\"gem\",\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    static const char *const bad[] = {"{}", "{\"embeddings\":[{}]}",
                                      "{\"embeddings\":[{\"values\":[\"x\"]}]}", "nope"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        cr_assert_eq(gw_gemini_translate_embeddings(&X, bad[i], strlen(bad[i]), &out, NULL), -1,
                     "%s", bad[i]);
}

Test(gemini, dialect_table_points_here)
{
    const struct gw_dialect *d = gw_dialect_for(GW_PT_GEMINI);
    cr_assert_eq(d, &gw_dialect_gemini);
    cr_assert_null(d->stream_ctype);
    cr_assert_eq(d->build_request, gw_gemini_build_request);
    cr_assert_eq(d->build_embeddings, gw_gemini_build_embeddings);
    cr_assert_eq(d->translate_embeddings, gw_gemini_translate_embeddings);
    cr_assert_eq(d->stream_size, sizeof(struct gw_gemini_stream));
}

/* ---- streams ---- */

#define D (&gw_dialect_gemini)

/*
 * Text, then a function call, then the finish, as Gemini streams them; Gemini
 * ends its lines in CRLF (events end in CRLF CRLF): xt_line_ends makes them so.
 */
static const char transcript[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"**Thinking**\",\"thought\":"
    "true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 472,"
    "\"totalTokenCount\": 472},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\n"
    "\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Okay, let's check "
    "\\\"SF\\\":\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\":"
    " 472,\"candidatesTokenCount\": 7,\"totalTokenCount\": 479},\"modelVersion\": "
    "\"gemini-2.5-flash\",\"responseId\": \"r1\"}\n"
    "\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": "
    "\"get_weather\",\"args\": {\"location\": \"San Francisco, CA\",\"unit\": \"fahrenheit\"}}},"
    "{\"functionCall\": {\"id\": \"fc_2\",\"name\": \"now\",\"args\": {}}}],\"role\": \"model\"},"
    "\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 472,"
    "\"candidatesTokenCount\": 89,\"totalTokenCount\": 661,\"cachedContentTokenCount\": 100,"
    "\"thoughtsTokenCount\": 100},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": "
    "\"r1\"}\n"
    "\n";

/* The transcript with its line ends as eol (malloc'd). */
static char *transcript_with(const char *eol, size_t *len)
{
    return xt_line_ends(transcript, LIT_LEN(transcript), eol, len);
}

#define CHUNK                                                                                      \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"gem\",\"choices\":[{\"index\":0,\"delta\":"
#define CHUNK1                                                                                     \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"gem\",\"choices\":[{\"index\":1,\"delta\":"
#define NUL_END ",\"finish_reason\":null}]}\n\n"
#define ROLE "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END
#define DONE "data: [DONE]\n\n"
/* The error chunk for a gateway message, and the [DONE] that follows it. */
#define FAIL(msg)                                                                                  \
    "data: {\"error\":{\"message\":\"" msg "\",\"type\":\"server_error\",\"param\":null,"          \
    "\"code\":null}}\n\n" DONE

#define WANT_CHUNKS                                                                                \
    CHUNK ROLE CHUNK                                                                               \
        "{\"content\":\"Okay, let's check \\\"SF\\\":\"}" NUL_END CHUNK                            \
        "{\"tool_calls\":[{\"index\":0,\"id\":\"call_req1_0\",\"type\":\"function\",\"function\":" \
        "{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\": \\\"San Francisco, CA\\\","  \
        "\\\"unit\\\": \\\"fahrenheit\\\"}\"}}]}" NUL_END CHUNK                                    \
        "{\"tool_calls\":[{\"index\":1,\"id\":\"fc_2\",\"type\":\"function\",\"function\":"        \
        "{\"name\":\"now\",\"arguments\":\"{}\"}}]}" NUL_END CHUNK                                 \
        "{},\"finish_reason\":\"tool_calls\"}]}\n\n"

#define WANT_USAGE_CHUNK                                                                           \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"gem\",\"choices\":[],\"usage\":{\"prompt_tokens\":472,"                           \
    "\"completion_tokens\":189,\"total_tokens\":661,\"prompt_tokens_details\":"                    \
    "{\"cached_tokens\":100},\"completion_tokens_details\":{\"reasoning_tokens\":100}}}\n\n"

Test(gemini, stream_transcript_translates)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    cr_assert_eq(xt_run_stream(D, in, n, NULL, 0, &c, &u, NULL), 1);
    xt_assert_out(&c, WANT_CHUNKS DONE);
    cr_assert(u.have);
    cr_assert_eq(u.prompt_tokens, 472);
    cr_assert_eq(u.cached_tokens, 100);
    cr_assert_eq(u.completion_tokens, 189, "thoughts count as completion");
    cr_assert_eq(u.reasoning_tokens, 100);
    free(c.p);
    free(in);
}

Test(gemini, stream_usage_chunk_only_when_asked)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    X.want_usage = true;
    xt_expect_stream(D, in, n, WANT_CHUNKS WANT_USAGE_CHUNK DONE, 1);
    free(in);
}

Test(gemini, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    X.want_usage = true;
    xt_check_splits(D, in, n);
    X.want_usage = false;
    xt_check_splits(D, in, n);
    free(in);
}

Test(gemini, stream_lf_and_cr_line_ends)
{
    X.want_usage = true;
    const char *eols[] = {"\n", "\r"};
    for (size_t e = 0; e < GW_ARRAY_SIZE(eols); e++) {
        size_t n;
        char *in = transcript_with(eols[e], &n);
        xt_expect_stream(D, in, n, WANT_CHUNKS WANT_USAGE_CHUNK DONE, 1);
        xt_check_splits(D, in, n);
        free(in);
    }
}

/* The upstream's own error: mapped as a non-2xx body would be, then [DONE]; later events ignored.
 */
Test(gemini, stream_error_object_becomes_an_error_chunk_and_done)
{
    static const char in[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},"
        "\"index\":0}]}\r\n\r\n"
        "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again "
        "later.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n"
        "data: "
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"late\"}]},\"index\":0}]}\r\n\r\n";
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK ROLE CHUNK "{\"content\":\"Hi\"}" NUL_END
                                      "data: {\"error\":{\"message\":\"The model is overloaded. "
                                      "Please try again later.\",\"type\":\"server_error\","
                                      "\"param\":null,\"code\":\"service_unavailable\"}}\n\n" DONE,
                     1);
    /* A status Gemini's table does not name: server_error, no code. */
    static const char odd[] = "data: {\"error\":{\"code\":409,\"message\":\"Aborted.\",\"status\":"
                              "\"ABORTED\"}}\r\n\r\n";
    xt_expect_stream(D, odd, LIT_LEN(odd),
                     "data: {\"error\":{\"message\":\"Aborted.\",\"type\":\"server_error\","
                     "\"param\":null,\"code\":null}}\n\n" DONE,
                     1);
    xt_check_splits(D, in, LIT_LEN(in));
}

Test(gemini, stream_cut_short_or_broken_ends_with_an_error_chunk_and_done)
{
    static const char cut[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},"
        "\"index\":0}]}\r\n\r\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"!\"}]},\"finishReason\":"
        "\"STOP\",\"index\":0}]}"; /* no blank line: discarded */
    xt_expect_stream(D, cut, LIT_LEN(cut),
                     CHUNK ROLE CHUNK "{\"content\":\"Hi\"}" NUL_END FAIL(
                         "upstream stream ended before a finishReason"),
                     -1);
    /* Nothing at all. */
    xt_expect_stream(D, "", 0, FAIL("upstream stream ended before a finishReason"), -1);
    /* Not JSON: the feed itself fails, and what follows is not read. */
    static const char bad[] = "data: {\"candidates\":\n\ndata: {}\n\n";
    int fed = 0;
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(D, bad, LIT_LEN(bad), NULL, 0, &c, NULL, &fed), -1);
    cr_assert_eq(fed, -1);
    xt_assert_out(&c, FAIL("invalid event in the upstream stream"));
    free(c.p);

    static const struct {
        const char *in, *want;
    } broken[] = {
        {"data: {\"candidates\":[{\"index\":8}]}\n\n",
         FAIL("candidate index over 7 in the upstream stream")},
        {"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{}}]}}]}\n\n",
         CHUNK ROLE FAIL("invalid functionCall in the upstream stream")},
        {"data: {\"candidates\":{}}\n\n", FAIL("invalid candidates in the upstream stream")},
        {"data: {\"candidates\":[{\"content\":{\"parts\":7}}]}\n\n",
         CHUNK ROLE FAIL("invalid candidate content in the upstream stream")},
        {"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"logprobsResult\":"
         "{}}]}\n\n",
         CHUNK ROLE FAIL("invalid logprobsResult in the upstream stream")},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(broken); i++)
        xt_expect_stream(D, broken[i].in, strlen(broken[i].in), broken[i].want, -1);
}

/* A sink that counts its calls and refuses each. */
static int refuse_write(void *arg, const char *p, size_t n)
{
    unsigned *calls = arg;
    (void)p;
    (void)n;
    (*calls)++;
    return -1;
}

/* "data: " and n - 6 bytes of 'a': an event that has not ended yet (malloc'd). */
static char *unended_event(size_t n)
{
    char *p = malloc(n);
    cr_assert(p);
    memcpy(p, "data: ", 6);
    memset(p + 6, 'a', n - 6);
    return p;
}

Test(gemini, stream_event_over_1_mib_is_refused)
{
    size_t n = GW_GEMINI_EVENT_MAX + 16;
    char *big = unended_event(n);
    struct xt_out c = {0};
    struct gw_gemini_stream s;
    struct gw_xlate_sink sink = {xt_out_write, &c};
    gw_gemini_stream_init(&s, &X);
    int r = 0;
    for (size_t off = 0; off < n && r == 0; off += 4096)
        r = gw_gemini_stream_feed(&s, big + off, GW_MIN(4096, n - off), &sink, NULL);
    cr_assert_eq(r, -1);
    xt_assert_out(&c, FAIL("upstream stream event over 1 MiB"));
    cr_assert(arena.total < 4 * GW_GEMINI_EVENT_MAX, "arena %zu bytes", arena.total);
    cr_assert_eq(gw_gemini_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(c.writes, 2, "the error chunk and [DONE], once");
    free(c.p);
    free(big);
}

/* An arena that runs out under a growing event: the stream fails, with nothing to write with. */
Test(gemini, stream_arena_exhaustion_fails_the_stream)
{
    gw_arena_destroy(&arena);
    gw_arena_init(&arena, 4096, 64 << 10);
    char *big = unended_event(256 << 10);
    unsigned writes = 0;
    struct gw_xlate_sink sink = {refuse_write, &writes};
    struct gw_gemini_stream s;
    gw_gemini_stream_init(&s, &X);
    cr_assert_eq(gw_gemini_stream_feed(&s, big, 256 << 10, &sink, NULL), -1);
    cr_assert_eq(gw_gemini_stream_feed(&s, "\n\n", 2, &sink, NULL), -1);
    cr_assert_eq(gw_gemini_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(writes, 0);
    free(big);
}

Test(gemini, stream_two_candidates_each_need_a_finish)
{
    static const char in[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A\"}]}},"
        "{\"content\":{\"parts\":[{\"text\":\"B\"}]},\"index\":1}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\","
        "\"args\":{\"k\":1}}}]},\"finishReason\":\"STOP\",\"index\":1}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"g\"}}]},"
        "\"index\":0}]}\n\n";
#define WANT_HEAD                                                                                  \
    CHUNK ROLE CHUNK                                                                               \
        "{\"content\":\"A\"}" NUL_END CHUNK1 ROLE CHUNK1 "{\"content\":\"B\"}" NUL_END CHUNK1      \
        "{\"tool_calls\":[{\"index\":0,\"id\":\"call_req1_0\",\"type\":\"function\",\"function\":" \
        "{\"name\":\"f\",\"arguments\":\"{\\\"k\\\":1}\"}}]}" NUL_END CHUNK1                       \
        "{},\"finish_reason\":\"tool_calls\"}]}\n\n" CHUNK                                         \
        "{\"tool_calls\":[{\"index\":0,\"id\":\"call_req1_1\",\"type\":\"function\",\"function\":" \
        "{\"name\":\"g\",\"arguments\":\"{}\"}}]}" NUL_END
    /* Choice 0 never finished: the stream was cut short. */
    xt_expect_stream(D, in, LIT_LEN(in),
                     WANT_HEAD FAIL("upstream stream ended before a finishReason"), -1);
    static const char fin[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]},\"finishReason\":"
        "\"MAX_TOKENS\"},{\"content\":{\"parts\":[{\"text\":\"ignored after finish\"}]},"
        "\"index\":1}]}\n\n";
    char both[sizeof(in) + sizeof(fin)];
    snprintf(both, sizeof(both), "%s%s", in, fin);
    xt_expect_stream(D, both, strlen(both),
                     WANT_HEAD CHUNK "{},\"finish_reason\":\"length\"}]}\n\n" DONE, 1);
    xt_check_splits(D, both, strlen(both));
}

Test(gemini, stream_blocked_prompt_and_filtered_candidate)
{
    static const char blocked[] =
        "data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":"
        "{\"promptTokenCount\":12,\"totalTokenCount\":12}}\r\n\r\n";
    X.want_usage = true;
    xt_expect_stream(D, blocked, LIT_LEN(blocked),
                     CHUNK ROLE CHUNK
                     "{},\"finish_reason\":\"content_filter\"}]}\n\n"
                     "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\","
                     "\"created\":1700000000,\"model\":\"gem\",\"choices\":[],\"usage\":"
                     "{\"prompt_tokens\":12,\"completion_tokens\":0,\"total_tokens\":12,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":0},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n" DONE,
                     1);
    X.want_usage = false;
    static const char filtered[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Once upon\"}]}}]}\r\n\r\n"
        "data: {\"candidates\":[{\"finishReason\":\"RECITATION\",\"index\":0}]}\r\n\r\n";
    xt_expect_stream(D, filtered, LIT_LEN(filtered),
                     CHUNK ROLE CHUNK "{\"content\":\"Once upon\"}" NUL_END CHUNK
                                      "{},\"finish_reason\":\"content_filter\"}]}\n\n" DONE,
                     1);
}

Test(gemini, stream_logprobs_ride_on_the_content_chunk)
{
    static const char in[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":"
        "\"STOP\",\"logprobsResult\":{\"topCandidates\":[{\"candidates\":[{\"token\":\"Hi\","
        "\"logProbability\":-0.5}]}],\"chosenCandidates\":[{\"token\":\"Hi\",\"logProbability\":"
        "-0.5}]}}]}\n\n";
    xt_expect_stream(
        D, in, LIT_LEN(in),
        CHUNK ROLE CHUNK
        "{\"content\":\"Hi\"},\"logprobs\":{\"content\":[{\"token\":"
        "\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],\"top_logprobs\":[{\"token\":"
        "\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105]}]}],\"refusal\":null}" NUL_END CHUNK
        "{},\"finish_reason\":\"stop\"}]}\n\n" DONE,
        1);
}

Test(gemini, stream_logprobs_with_long_tokens_fit_the_chunk)
{
    /* Digits become "48," in "bytes", twice (chosen and top): over 2x the event. */
    char tok[2001];
    memset(tok, '0', 2000);
    tok[2000] = '\0';
    size_t cap = 16 * 1024;
    char *in = malloc(cap);
    snprintf(in, cap,
             "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}]},"
             "\"finishReason\":\"STOP\",\"logprobsResult\":{\"topCandidates\":[{\"candidates\":"
             "[{\"token\":\"%s\"}]}],\"chosenCandidates\":[{\"token\":\"%s\"}]}}]}\n\n",
             tok, tok, tok);
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(D, in, strlen(in), NULL, 0, &c, NULL, NULL), 1);
    cr_assert_gt(c.n, 2 * strlen(in));
    cr_assert(c.n > LIT_LEN(DONE) && memcmp(c.p + c.n - LIT_LEN(DONE), DONE, LIT_LEN(DONE)) == 0);
    free(c.p);
    free(in);
}

Test(gemini, stream_comments_multiline_data_and_other_fields)
{
    static const char in[] = ": keep-alive\n"
                             "event: message\n"
                             "data: {\"candidates\":[{\"content\":{\"parts\":\n"
                             "data:[{\"text\":\"a\"}]},\"finishReason\":\"STOP\"}]}\n"
                             "id: 7\n\n"
                             "data\n\n"   /* a field name alone: empty data, no event */
                             "data:\n\n"; /* the same */
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK ROLE CHUNK "{\"content\":\"a\"}" NUL_END CHUNK
                                      "{},\"finish_reason\":\"stop\"}]}\n\n" DONE,
                     1);
    /* Blank lines before any field (nothing buffered yet) dispatch nothing. */
    static const char blank[] = "\r\n\n\rdata: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n";
    xt_expect_stream(D, blank, LIT_LEN(blank),
                     CHUNK ROLE CHUNK "{},\"finish_reason\":\"stop\"}]}\n\n" DONE, 1);
    /* Two empty data lines make the data "\n": an event, and not JSON. */
    static const char two[] = "data:\ndata\n\n";
    xt_expect_stream(D, two, LIT_LEN(two), FAIL("invalid event in the upstream stream"), -1);
}

Test(gemini, stream_sink_refusal_stops_the_translation)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    struct gw_gemini_stream s;
    unsigned calls = 0;
    struct gw_xlate_sink sink = {refuse_write, &calls};
    gw_gemini_stream_init(&s, &X);
    cr_assert_eq(gw_gemini_stream_feed(&s, in, n, &sink, NULL), -1);
    cr_assert_eq(calls, 1);
    cr_assert_eq(gw_gemini_stream_feed(&s, in, n, &sink, NULL), -1);
    cr_assert_eq(gw_gemini_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(calls, 1);
    free(in);
}
