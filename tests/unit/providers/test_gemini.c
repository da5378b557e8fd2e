/*
 * tests/unit/providers/test_gemini.c — the Gemini API dialect (v1beta).
 *
 * Fixtures are in the wire formats of Gemini's API reference
 * (GenerateContentRequest, GenerateContentResponse with candidates, parts,
 * finishReason, promptFeedback and usageMetadata, the alt=sse stream whose
 * events end in CRLF CRLF, google.rpc.Status errors, batchEmbedContents) and
 * OpenAI's chat completions and embeddings APIs; outputs are compared byte
 * for byte, since the writer is deterministic. The fixture, the checks over
 * the dialect table, the refusals and bounds every dialect shares and the
 * stream drivers are the dialect suites' shared ones (xtest.h, amplify.h).
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

/* The path names the model: xt_want_path stays NULL and the tests check it. */
static void setup(void)
{
    xt_setup("gem", "AIza-test", "gemini-2.5-flash", "gem");
}

TestSuite(gemini, .init = setup, .fini = xt_teardown);

static const struct gw_dialect *const D = &gw_dialect_gemini;

#define USER_HI "{\"role\":\"user\",\"content\":\"Hi\"}"
#define HI_IN "{\"messages\":[" USER_HI "],"
#define HI_OUT "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],"
#define HI_BODY "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}]}"

/* ---- requests ---- */

Test(gemini, path_headers_and_system_instruction)
{
    struct gw_xlate_req req = xt_build_ok(
        D,
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
    struct gw_xlate_req req = xt_build_ok(D, HI_IN "\"stream\":true}");
    cr_assert_str_eq(req.path,
                     "/v1beta/models/tuned%20model%2Fv1%2Bx:streamGenerateContent?alt=sse");
    cr_assert_eq(req.headers.len, 0);
    xt_assert_span(req.body, HI_BODY);
}

Test(gemini, every_generation_config_field)
{
    xt_expect_body(D,
                   HI_IN "\"max_tokens\":50,\"max_completion_tokens\":100,\"stop\":\"\\n\\n\","
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
    xt_expect_body(D,
                   HI_IN "\"max_tokens\":7,\"stop\":[\"END\",\"STOP\"],\"stream\":false,"
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
    xt_expect_body(
        D, HI_IN "\"reasoning_effort\":\"minimal\",\"response_format\":{\"type\":\"text\"}}",
        HI_OUT "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":1024}}}");
    xt_expect_body(D, HI_IN "\"reasoning_effort\":\"low\"}",
                   HI_OUT "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":1024}}}");
    xt_expect_body(D, HI_IN "\"reasoning_effort\":\"high\",\"stop\":[]}",
                   HI_OUT "\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":24576}}}");
}

Test(gemini, harmless_fields_are_dropped_and_mock_is_forwarded)
{
    xt_expect_body(D,
                   HI_IN
                   "\"user\":\"u-42\",\"store\":true,\"metadata\":{\"a\":\"b\"},"
                   "\"service_tier\":\"auto\",\"prompt_cache_key\":\"k\",\"safety_identifier\":"
                   "\"s\",\"stream_options\":{\"include_usage\":true},\"logit_bias\":{},"
                   "\"modalities\":[\"text\"],\"parallel_tool_calls\":true,"
                   "\"mock\":{\"chunks\":2,\"tool\":true}}",
                   HI_OUT "\"mock\":{\"chunks\":2,\"tool\":true}}");
}

Test(gemini, images_audio_and_files)
{
    xt_expect_body(
        D,
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
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\","
                  "\"file\":{\"file_id\":\"file-1\"}}]}]}",
                  "messages", "file_id");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
                  "\"input_audio\":{\"data\":\"x\",\"format\":\"flac\"}}]}]}",
                  "messages", "wav or mp3");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://a/b.png\"}}]}]}",
                  "messages", "only accepted in user");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
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
    xt_expect_body(D, HI_IN WEATHER_TOOL "}", HI_OUT WEATHER_TOOL_OUT "}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"auto\"}",
                   HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                           "{\"mode\":\"AUTO\"}}}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"required\"}",
                   HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                           "{\"mode\":\"ANY\"}}}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"none\"}",
                   HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                           "{\"mode\":\"NONE\"}}}");
    xt_expect_body(D,
                   HI_IN WEATHER_TOOL ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                                      "{\"name\":\"get_weather\"}}}",
                   HI_OUT WEATHER_TOOL_OUT ",\"toolConfig\":{\"functionCallingConfig\":"
                                           "{\"mode\":\"ANY\",\"allowedFunctionNames\":"
                                           "[\"get_weather\"]}}}");
    /* Without tools: auto and none say nothing; a forced call cannot be. */
    xt_expect_body(D, HI_IN "\"tool_choice\":\"none\"}", HI_BODY);
    xt_expect_body(D, HI_IN "\"tools\":[],\"tool_choice\":\"auto\"}", HI_BODY);
    xt_expect_400(D, HI_IN "\"tool_choice\":\"required\"}", "tool_choice", "needs tools");
    xt_expect_400(D,
                  HI_IN WEATHER_TOOL
                  ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":"
                  "{\"mode\":\"auto\",\"tools\":[]}}}",
                  "tool_choice", "allowed_tools");
}

Test(gemini, parallel_tool_calls_false_goes_out_with_a_warning)
{
    struct gw_xlate_req req = xt_build_ok(D, HI_IN WEATHER_TOOL ",\"parallel_tool_calls\":false}");
    xt_assert_span(req.body, HI_OUT WEATHER_TOOL_OUT "}");
    cr_assert(req.warning && strstr(req.warning, "parallel_tool_calls"));
    cr_assert_null(xt_build_ok(D, HI_IN "\"parallel_tool_calls\":false}").warning);
}

Test(gemini, tool_calls_and_results_merged_with_names_looked_up)
{
    xt_expect_body(
        D,
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

/* Arguments that are not an object are among xt_check_openai_400's refusals. */
Test(gemini, tool_results_that_cannot_be_translated_are_400)
{
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                  "{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
                  "messages", "matches no earlier assistant tool call");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\","
                  "\"type\":\"function\",\"function\":{\"name\":\"f\"}}]},"
                  "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://a/b.png\"}}]}]}",
                  "messages", "must be text");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\","
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
        {"\"top_logprobs\":2", "top_logprobs", "needs logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":21", "top_logprobs", "0 to 20"},
        {"\"response_format\":{\"type\":\"xml\"}", "response_format", "json_schema"},
        {"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":[]}}",
         "response_format", "JSON Schema"},
        {"\"top_k\":-1", "top_k", "non-negative integer"},
        {"\"seed\":1.5", "seed", "integer"},
        {"\"parallel_tool_calls\":1", "parallel_tool_calls", "boolean"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char in[512];
        snprintf(in, sizeof(in), HI_IN "%s}", t[i].field);
        xt_expect_400(D, in, t[i].param, t[i].msg);
    }
}

/* The refusals every dialect shares (xtest.h), Gemini parsing tool arguments too, and its own. */
Test(gemini, other_invalid_requests_are_400)
{
    xt_check_openai_400(D, XT_REFUSES_BAD_ARGUMENTS | XT_PARSES_IMAGE_DATA | XT_TAKES_IMAGE_URLS);
    xt_expect_400(D, "{\"messages\":[{\"role\":\"system\",\"content\":\"only rules\"}]}",
                  "messages", "user, assistant or tool");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "messages",
                  "user, assistant or tool");
    xt_expect_400(
        D,
        "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\"}]}," USER_HI "]}",
        "messages", "system message parts must be text");
    X.upstream_model = NULL;
    xt_expect_400(D, HI_IN "\"n\":1}", "model", "model is required");
    /* With no upstream name configured, the body's model is used. */
    struct gw_xlate_req req = xt_build_ok(D, HI_IN "\"model\":\"gemini-pro\"}");
    cr_assert_str_eq(req.path, "/v1beta/models/gemini-pro:generateContent");
}

/* ---- bounds (providers/xbound.h) ---- */

/*
 * Matching results to calls looks back over the calls, and each result back
 * for its call's name: both counts are capped. Declarations also take '.'
 * and ':'; embeddings go to batchEmbedContents.
 */
Test(gemini, translation_bounds)
{
    xt_check_bounds(D, &(struct xt_bounds){
                           .name_extra = ".:",
                           .caps_calls = true,
                           .caps_results = true,
                           .embeddings = true,
                           .embed_model = "text-embedding-004",
                           .embed_path = "/v1beta/models/text-embedding-004:batchEmbedContents",
                       });
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
    struct gw_xlate_req req = xt_build_ok(D, in);
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
    xt_expect_400(D, in, NULL, want);
    cr_assert_lt(arena.total, 2 * X.out_max + 2 * len, "arena %zu bytes", arena.total);
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
#define NO_USAGE XT_USAGE(0, 0, 0, 0, 0) "}"

Test(gemini, response_text_thoughts_dropped_and_usage)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
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
                  "\"finish_reason\":\"stop\"}]," XT_USAGE(2105, 823, 2928, 1024, 320) "}",
        &u);
    /* reasoning_tokens: thoughtsTokenCount. */
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 2105,
                                                .completion_tokens = 823,
                                                .cached_tokens = 1024,
                                                .reasoning_tokens = 320});
}

Test(gemini, response_function_calls_with_and_without_ids)
{
    xt_expect_response(
        D,
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
        "{\"text\":\"Checking.\"},"
        "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris, FR\","
        "\"unit\":\"celsius\"}}},"
        "{\"functionCall\":{\"id\":\"fc_7\",\"name\":\"now\",\"args\":{}}},"
        "{\"functionCall\":{\"name\":\"ping\"}}]},\"finishReason\":\"STOP\"}],"
        "\"usageMetadata\":{\"promptTokenCount\":21,\"candidatesTokenCount\":39,"
        "\"totalTokenCount\":60}}",
        CHAT_HEAD
        "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Checking.\","
        "\"tool_calls\":["
        "{\"id\":\"call_req1_0\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris, FR\\\","
        "\\\"unit\\\":\\\"celsius\\\"}\"}},"
        "{\"id\":\"fc_7\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"{}\"}},"
        "{\"id\":\"call_req1_1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"ping\",\"arguments\":\"{}\"}}],"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," XT_USAGE(
            21, 39, 60, 0, 0) "}",
        NULL);
}

Test(gemini, response_several_candidates_become_several_choices)
{
    xt_expect_response(
        D,
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
        xt_expect_finish(D,
                         "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],"
                         "\"role\":\"model\"},\"index\":0,\"finishReason\":",
                         map[i][0], "}]}", map[i][1]);
    /* A call that ends otherwise than STOP still reads as tool_calls, unless cut or filtered. */
    static const char *const calls[][2] = {{"\"OTHER\"", "tool_calls"},
                                           {"\"MAX_TOKENS\"", "length"},
                                           {"\"SAFETY\"", "content_filter"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(calls); i++)
        xt_expect_finish(D,
                         "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
                         "{\"name\":\"f\",\"args\":{}}}],\"role\":\"model\"},"
                         "\"finishReason\":",
                         calls[i][0], "}]}", calls[i][1]);
}

Test(gemini, response_blocked_prompt_is_one_filtered_choice)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(D,
                       "{\"promptFeedback\":{\"blockReason\":\"SAFETY\",\"safetyRatings\":[{"
                       "\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"probability\":\"HIGH\","
                       "\"blocked\":true}]},\"usageMetadata\":{\"promptTokenCount\":8,"
                       "\"totalTokenCount\":8},\"modelVersion\":\"gemini-2.5-flash\"}",
                       CHAT_HEAD
                       "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
                       "\"refusal\":null},\"logprobs\":null,"
                       "\"finish_reason\":\"content_filter\"}]," XT_USAGE(8, 0, 8, 0, 0) "}",
                       &u);
    cr_assert_eq(u.prompt_tokens, 8);
}

Test(gemini, response_logprobs)
{
    xt_expect_response(
        D,
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
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        xt_expect_unreadable(D, bad[i]);
    xt_expect_unreadable(D, NULL);
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
    static const struct xt_error_map t[] = {
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
        char in[256];
        snprintf(in, sizeof(in),
                 "{\n  \"error\": {\n    \"code\": %d,\n    \"message\": \"Oh \\\"no\\\"\",\n"
                 "    \"status\": \"%s\"\n  }\n}\n",
                 t[i].in, t[i].type);
        xt_expect_error_map(D, &t[i], NULL, in, "Oh \\\"no\\\"");
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
    xt_expect_error(D, 400, NULL, in, 401,
                    "{\"error\":{\"message\":\"API key not valid. Please pass a valid API key.\","
                    "\"type\":\"invalid_request_error\",\"param\":null,"
                    "\"code\":\"invalid_api_key\"}}");
}

/* A status outside 4xx/5xx from a broken upstream is a 502 to the client (xtest.h). */
Test(gemini, unparseable_error_bodies_get_a_generic_message)
{
    xt_check_unreadable_errors(D);
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
    xt_check_table(D, GW_PT_GEMINI, "gemini", NULL, sizeof(struct gw_gemini_stream));
    cr_assert_eq(D->build_request, gw_gemini_build_request);
    cr_assert_eq(D->build_embeddings, gw_gemini_build_embeddings);
    cr_assert_eq(D->translate_embeddings, gw_gemini_translate_embeddings);
}

/* ---- streams ---- */

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
    "\"model\":\"gem\",\"choices\":[]," XT_USAGE(472, 189, 661, 100, 100) "}\n\n"

Test(gemini, stream_transcript_translates)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    cr_assert_eq(xt_run_stream(D, in, n, NULL, 0, &c, &u, NULL), 1);
    xt_assert_out(&c, WANT_CHUNKS XT_DONE);
    /* The 100 thoughts count as completion: 89 + 100. */
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 472,
                                                .cached_tokens = 100,
                                                .completion_tokens = 189,
                                                .reasoning_tokens = 100});
    free(c.p);
    free(in);
}

Test(gemini, stream_usage_chunk_only_when_asked)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    X.want_usage = true;
    xt_expect_stream(D, in, n, WANT_CHUNKS WANT_USAGE_CHUNK XT_DONE, 1);
    free(in);
}

Test(gemini, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    xt_check_splits_both(D, in, n);
    free(in);
}

Test(gemini, stream_lf_and_cr_line_ends)
{
    X.want_usage = true;
    const char *eols[] = {"\n", "\r"};
    for (size_t e = 0; e < GW_ARRAY_SIZE(eols); e++) {
        size_t n;
        char *in = transcript_with(eols[e], &n);
        xt_expect_stream(D, in, n, WANT_CHUNKS WANT_USAGE_CHUNK XT_DONE, 1);
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
                     CHUNK ROLE CHUNK
                     "{\"content\":\"Hi\"}" NUL_END
                     "data: {\"error\":{\"message\":\"The model is overloaded. "
                     "Please try again later.\",\"type\":\"server_error\","
                     "\"param\":null,\"code\":\"service_unavailable\"}}\n\n" XT_DONE,
                     1);
    /* A status Gemini's table does not name: server_error, no code. */
    static const char odd[] = "data: {\"error\":{\"code\":409,\"message\":\"Aborted.\",\"status\":"
                              "\"ABORTED\"}}\r\n\r\n";
    xt_expect_stream(D, odd, LIT_LEN(odd),
                     "data: {\"error\":{\"message\":\"Aborted.\",\"type\":\"server_error\","
                     "\"param\":null,\"code\":null}}\n\n" XT_DONE,
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
                     CHUNK ROLE CHUNK "{\"content\":\"Hi\"}" NUL_END XT_ERROR_END(
                         "upstream stream ended before a finishReason"),
                     -1);
    /* Nothing at all. */
    xt_expect_stream(D, "", 0, XT_ERROR_END("upstream stream ended before a finishReason"), -1);
    /* Not JSON: the feed itself fails, and what follows is not read. */
    static const char bad[] = "data: {\"candidates\":\n\ndata: {}\n\n";
    int fed = 0;
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(D, bad, LIT_LEN(bad), NULL, 0, &c, NULL, &fed), -1);
    cr_assert_eq(fed, -1);
    xt_assert_out(&c, XT_ERROR_END("invalid event in the upstream stream"));
    free(c.p);

    static const struct {
        const char *in, *want;
    } broken[] = {
        {"data: {\"candidates\":[{\"index\":8}]}\n\n",
         XT_ERROR_END("candidate index over 7 in the upstream stream")},
        {"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{}}]}}]}\n\n",
         CHUNK ROLE XT_ERROR_END("invalid functionCall in the upstream stream")},
        {"data: {\"candidates\":{}}\n\n",
         XT_ERROR_END("invalid candidates in the upstream stream")},
        {"data: {\"candidates\":[{\"content\":{\"parts\":7}}]}\n\n",
         CHUNK ROLE XT_ERROR_END("invalid candidate content in the upstream stream")},
        {"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"logprobsResult\":"
         "{}}]}\n\n",
         CHUNK ROLE XT_ERROR_END("invalid logprobsResult in the upstream stream")},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(broken); i++)
        xt_expect_stream(D, broken[i].in, strlen(broken[i].in), broken[i].want, -1);
}

Test(gemini, stream_event_over_1_mib_is_refused)
{
    xt_check_event_cap(D, GW_GEMINI_EVENT_MAX);
}

/* An arena that runs out under a growing event: the stream fails, with nothing to write with. */
Test(gemini, stream_arena_exhaustion_fails_the_stream)
{
    char *big = xt_unended_event(256 << 10);
    xt_check_stream_oom(D, big, 256 << 10, "\n\n", 4096, 64 << 10);
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
                     WANT_HEAD XT_ERROR_END("upstream stream ended before a finishReason"), -1);
    static const char fin[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]},\"finishReason\":"
        "\"MAX_TOKENS\"},{\"content\":{\"parts\":[{\"text\":\"ignored after finish\"}]},"
        "\"index\":1}]}\n\n";
    char both[sizeof(in) + sizeof(fin)];
    snprintf(both, sizeof(both), "%s%s", in, fin);
    xt_expect_stream(D, both, strlen(both),
                     WANT_HEAD CHUNK "{},\"finish_reason\":\"length\"}]}\n\n" XT_DONE, 1);
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
                     "\"created\":1700000000,\"model\":\"gem\",\"choices\":[]," XT_USAGE(
                         12, 0, 12, 0, 0) "}\n\n" XT_DONE,
                     1);
    X.want_usage = false;
    static const char filtered[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Once upon\"}]}}]}\r\n\r\n"
        "data: {\"candidates\":[{\"finishReason\":\"RECITATION\",\"index\":0}]}\r\n\r\n";
    xt_expect_stream(D, filtered, LIT_LEN(filtered),
                     CHUNK ROLE CHUNK "{\"content\":\"Once upon\"}" NUL_END CHUNK
                                      "{},\"finish_reason\":\"content_filter\"}]}\n\n" XT_DONE,
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
        "{},\"finish_reason\":\"stop\"}]}\n\n" XT_DONE,
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
    cr_assert(c.n > LIT_LEN(XT_DONE) &&
              memcmp(c.p + c.n - LIT_LEN(XT_DONE), XT_DONE, LIT_LEN(XT_DONE)) == 0);
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
                                      "{},\"finish_reason\":\"stop\"}]}\n\n" XT_DONE,
                     1);
    /* Blank lines before any field (nothing buffered yet) dispatch nothing. */
    static const char blank[] = "\r\n\n\rdata: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n";
    xt_expect_stream(D, blank, LIT_LEN(blank),
                     CHUNK ROLE CHUNK "{},\"finish_reason\":\"stop\"}]}\n\n" XT_DONE, 1);
    /* Two empty data lines make the data "\n": an event, and not JSON. */
    static const char two[] = "data:\ndata\n\n";
    xt_expect_stream(D, two, LIT_LEN(two), XT_ERROR_END("invalid event in the upstream stream"),
                     -1);
}

Test(gemini, stream_sink_refusal_stops_the_translation)
{
    size_t n;
    char *in = transcript_with("\r\n", &n);
    xt_check_sink_refusal(D, in, n);
    free(in);
}

Test(gemini, cached_tokens_never_exceed_prompt_tokens)
{
    /* A usageMetadata with a cache count but a smaller prompt count (fuzz finding):
     * cached stays within prompt, so prompt minus cached cannot wrap in a spend sum. */
    static const char in[] =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"x\"}]},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":10,"
        "\"cachedContentTokenCount\":1024,\"candidatesTokenCount\":1}}";
    struct gw_span out;
    struct gw_xlate_usage u = {0};
    cr_assert_eq(gw_gemini_translate_response(&X, in, strlen(in), &out, &u), 0);
    xt_assert_usage(
        &u, (struct gw_xlate_usage){
                .have = true, .prompt_tokens = 10, .completion_tokens = 1, .cached_tokens = 10});
    cr_assert(memmem(out.ptr, out.len, "\"cached_tokens\":10}", 19), "%.*s", (int)out.len, out.ptr);
}
