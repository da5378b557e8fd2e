/*
 * tests/unit/providers/test_cohere.c — the Cohere v2 dialect.
 *
 * Fixtures are in the wire formats of Cohere's v2 API reference (the chat
 * request, the chat response with its usage, the SSE events of a streamed
 * chat, the error shape, the embed request and response) and OpenAI's chat
 * completions and embeddings APIs; outputs are compared byte for byte, since
 * the writer is deterministic. The fixture, the checks over the dialect
 * table, the refusals and bounds every dialect shares and the stream drivers
 * are the dialect suites' shared ones (xtest.h, amplify.h).
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
#include "providers/cohere.h"
#include "providers/dialect.h"
#include "providers/xlate.h"

#include "amplify.h"
#include "xtest.h"

static void setup(void)
{
    xt_setup("co", "co-test-key", "command-a-03-2025", "command");
    xt_want_path = "/v2/chat";
}

TestSuite(cohere, .init = setup, .fini = xt_teardown);

static const struct gw_dialect *const D = &gw_dialect_cohere;

#define HI "{\"role\":\"user\",\"content\":\"Hi\"}"
#define MSGS "\"messages\":[" HI "]"
#define OUT_HEAD "{\"model\":\"command-a-03-2025\",\"messages\":[" HI "],"

/* ---- requests ---- */

Test(cohere, messages_pass_with_developer_as_system_and_bearer_auth)
{
    struct gw_xlate_req req = xt_build_ok(
        D, "{\"model\":\"command\",\"messages\":["
           "{\"role\":\"system\",\"content\":\"You are terse.\"},"
           "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"French.\"}]},"
           "{\"role\":\"user\",\"name\":\"ann\",\"content\":\"Hi \\u00e9\\\"\"}]}");
    xt_assert_span(req.body,
                   "{\"model\":\"command-a-03-2025\",\"messages\":["
                   "{\"role\":\"system\",\"content\":\"You are terse.\"},"
                   "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":"
                   "\"French.\"}]},"
                   "{\"role\":\"user\",\"content\":\"Hi \\u00e9\\\"\"}],\"stream\":false}");
    xt_assert_span(req.headers, "authorization: Bearer co-test-key\r\n");
    cr_assert_null(req.warning);
    /* No key configured: no auth header. */
    prov.api_key = "";
    xt_assert_span(xt_build_ok(D, "{" MSGS "}").headers, "");
}

Test(cohere, every_sampling_and_limit_field_maps)
{
    xt_expect_body(D,
                   "{\"model\":\"command\"," MSGS
                   ",\"max_tokens\":50,\"max_completion_tokens\":100,"
                   "\"stop\":\"\\n\\n\",\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"seed\":-7,"
                   "\"frequency_penalty\":0.5,\"presence_penalty\":0,\"logprobs\":true,"
                   "\"top_logprobs\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                   "\"user\":\"u-42\",\"store\":true,\"metadata\":{\"k\":\"v\"},\"n\":1,"
                   "\"service_tier\":\"auto\",\"logit_bias\":{},\"modalities\":[\"text\"],"
                   "\"parallel_tool_calls\":true,\"mock\":{\"chunks\":3}}",
                   OUT_HEAD "\"stream\":true,\"max_tokens\":100,\"stop_sequences\":[\"\\n\\n\"],"
                            "\"temperature\":0.7,\"p\":0.9,\"k\":40,\"seed\":-7,"
                            "\"frequency_penalty\":0.5,\"presence_penalty\":0,\"logprobs\":true,"
                            "\"mock\":{\"chunks\":3}}");
    /* An empty logit_bias is empty however it is spaced. */
    xt_expect_body(D,
                   "{" MSGS ",\"max_tokens\":7,\"stop\":[\"END\",\"STOP\"],\"stream\":false,"
                   "\"temperature\":null,\"logprobs\":false,\"logit_bias\":{ \n}}",
                   OUT_HEAD
                   "\"stream\":false,\"max_tokens\":7,\"stop_sequences\":[\"END\",\"STOP\"]}");
}

Test(cohere, top_p_outside_cohere_range_is_clamped_with_a_warning)
{
    static const struct {
        const char *in, *p;
    } t[] = {{"1", "0.99"}, {"1.0", "0.99"}, {"0", "0.01"}, {"0.001", "0.01"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char in[256], want[256];
        snprintf(in, sizeof(in), "{" MSGS ",\"top_p\":%s}", t[i].in);
        snprintf(want, sizeof(want), OUT_HEAD "\"stream\":false,\"p\":%s}", t[i].p);
        struct gw_xlate_req req = xt_build_ok(D, in);
        xt_assert_span(req.body, want);
        cr_assert(req.warning && strstr(req.warning, "top_p"), "top_p %s: no warning", t[i].in);
    }
    xt_expect_body(D, "{" MSGS ",\"top_p\":0.99}", OUT_HEAD "\"stream\":false,\"p\":0.99}");
    xt_expect_body(D, "{" MSGS ",\"top_p\":0.01}", OUT_HEAD "\"stream\":false,\"p\":0.01}");
}

Test(cohere, images_pass_in_cohere_image_url_shape)
{
    xt_expect_body(
        D,
        "{\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.jpg\"}},"
        "{\"type\":\"image_url\",\"image_url\":\"https://example.com/b.jpg\"}]}]}",
        "{\"model\":\"command-a-03-2025\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.jpg\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/b.jpg\"}}]}],"
        "\"stream\":false}");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"detail\":\"low\"}}]}]}",
                  "messages", "image_url.url");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://x/a.png\",\"detail\":\"max\"}}]}]}",
                  "messages", "detail");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
                  "\"image_url\":{\"url\":\"https://x/a.png\"}}]}]}",
                  "messages", "only accepted in user messages");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
                  "\"input_audio\":{\"data\":\"AAA\",\"format\":\"wav\"}}]}]}",
                  "messages", "not supported");
}

Test(cohere, tool_calls_and_tool_results_keep_openai_shape)
{
    xt_expect_body(
        D,
        "{\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_01\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"
        "{\"id\":\"call_02\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_01\",\"content\":\"18C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_02\",\"content\":[{\"type\":\"text\","
        "\"text\":\"12:00\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"},"
        "{\"type\":\"text\",\"text\":\"Paris 18C.\"}]},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_03\","
        "\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]}]}",
        "{\"model\":\"command-a-03-2025\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
        "{\"role\":\"assistant\",\"tool_calls\":["
        "{\"id\":\"call_01\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"
        "{\"id\":\"call_02\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_01\",\"content\":\"18C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_02\",\"content\":[{\"type\":\"text\","
        "\"text\":\"12:00\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Paris 18C.\"}]},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_03\",\"type\":\"function\","
        "\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]}],\"stream\":false}");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\"}]}", "messages",
                  "need content");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"assistant\",\"content\":null}]}", "messages",
                  "content or tool_calls");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
                  "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":{}}}]}]}",
                  "messages", "JSON string");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\","
                  "\"function\":{\"name\":\"f\"}}]}]}",
                  "messages", "need id");
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"description\":\"Get the weather\",\"parameters\":{\"type\":\"object\","                     \
    "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"                  \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]"
#define TOOL_WEATHER_OUT                                                                           \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                               \
    "\"description\":\"Get the weather\",\"parameters\":{\"type\":\"object\","                     \
    "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}"
#define TOOL_NOW_OUT                                                                               \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\",\"parameters\":{\"type\":\"object\","   \
    "\"properties\":{}}}}"
#define TOOLS_OUT "\"tools\":[" TOOL_WEATHER_OUT "," TOOL_NOW_OUT "]"

Test(cohere, tools_and_every_tool_choice)
{
    xt_expect_body(D, "{" MSGS "," TOOLS "}", OUT_HEAD "\"stream\":false," TOOLS_OUT "}");
    xt_expect_body(D, "{" MSGS "," TOOLS ",\"tool_choice\":\"auto\"}",
                   OUT_HEAD "\"stream\":false," TOOLS_OUT "}");
    xt_expect_body(D, "{" MSGS "," TOOLS ",\"tool_choice\":\"required\"}",
                   OUT_HEAD "\"stream\":false," TOOLS_OUT ",\"tool_choice\":\"REQUIRED\"}");
    xt_expect_body(D, "{" MSGS "," TOOLS ",\"tool_choice\":\"none\"}",
                   OUT_HEAD "\"stream\":false," TOOLS_OUT ",\"tool_choice\":\"NONE\"}");
    /* A named function: Cohere cannot name one, so only that one is offered, required. */
    xt_expect_body(D,
                   "{" MSGS "," TOOLS ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                   "{\"name\":\"no\\u0077\"}}}",
                   OUT_HEAD "\"stream\":false,\"tools\":[" TOOL_NOW_OUT "],"
                            "\"tool_choice\":\"REQUIRED\"}");
    /* none without tools says nothing; an empty tools array is no tools. */
    xt_expect_body(D, "{" MSGS ",\"tool_choice\":\"none\",\"tools\":[]}",
                   OUT_HEAD "\"stream\":false}");
    /* strict on every tool is Cohere's strict_tools. */
    xt_expect_body(D,
                   "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"now\","
                   "\"strict\":true}}]}",
                   OUT_HEAD "\"stream\":false,\"tools\":[" TOOL_NOW_OUT "],\"strict_tools\":true}");
    xt_expect_400(D,
                  "{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"now\","
                  "\"strict\":true}},{\"type\":\"function\",\"function\":{\"name\":\"x\"}}]}",
                  "tools", "strict");
    xt_expect_400(D,
                  "{" MSGS "," TOOLS ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                  "{\"name\":\"nope\"}}}",
                  "tool_choice", "not in tools");
    xt_expect_400(D, "{" MSGS ",\"tool_choice\":\"required\"}", "tool_choice", "needs tools");
    xt_expect_400(D, "{" MSGS "," TOOLS ",\"parallel_tool_calls\":false}", "parallel_tool_calls",
                  "parallel");
    /* parallel_tool_calls false without tools constrains nothing. */
    xt_expect_body(D, "{" MSGS ",\"parallel_tool_calls\":false}", OUT_HEAD "\"stream\":false}");
}

Test(cohere, response_format_maps_to_json_object_with_schema)
{
    xt_expect_body(D, "{" MSGS ",\"response_format\":{\"type\":\"text\"}}",
                   OUT_HEAD "\"stream\":false}");
    xt_expect_body(D, "{" MSGS ",\"response_format\":{\"type\":\"json_object\"}}",
                   OUT_HEAD "\"stream\":false,\"response_format\":{\"type\":\"json_object\"}}");
    xt_expect_body(D,
                   "{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                   "{\"name\":\"person\",\"strict\":true,\"schema\":{\"type\":\"object\","
                   "\"properties\":{\"name\":{\"type\":\"string\"}}}}}}",
                   OUT_HEAD "\"stream\":false,\"response_format\":{\"type\":\"json_object\","
                            "\"json_schema\":{\"type\":\"object\",\"properties\":{\"name\":"
                            "{\"type\":\"string\"}}}}}");
    xt_expect_400(D,
                  "{" MSGS ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                  "{\"name\":\"x\"}}}",
                  "response_format", "schema");
    xt_expect_400(D, "{" MSGS ",\"response_format\":{\"type\":\"yaml\"}}", "response_format",
                  "json_object");
    xt_expect_400(D, "{" MSGS ",\"response_format\":\"json\"}", "response_format", "object");
}

Test(cohere, what_cohere_cannot_express_is_400_naming_the_field)
{
    static const struct {
        const char *extra, *param, *msg;
    } t[] = {
        {"\"n\":2", "n", "n must be 1"},
        {"\"logit_bias\":{\"50256\":-100}", "logit_bias", "not supported"},
        {"\"top_logprobs\":3", "top_logprobs", "top_logprobs must be 0"},
        {"\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}", "audio", "audio"},
        {"\"modalities\":[\"text\",\"audio\"]", "modalities", "only outputs text"},
        {"\"functions\":[{\"name\":\"f\"}]", "functions", "use tools"},
        {"\"function_call\":\"auto\"", "function_call", "use tools"},
        {"\"reasoning_effort\":\"low\"", "reasoning_effort", "not supported"},
        {"\"web_search_options\":{}", "web_search_options", "web search"},
        {"\"frequency_penalty\":1.5", "frequency_penalty", "from 0 to 1"},
        {"\"presence_penalty\":-0.5", "presence_penalty", "from 0 to 1"},
        {"\"top_k\":501", "top_k", "0 to 500"},
        {"\"seed\":1.5", "seed", "integer"},
        {"\"logprobs\":1", "logprobs", "boolean"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char in[512];
        snprintf(in, sizeof(in), "{" MSGS ",%s}", t[i].extra);
        xt_expect_400(D, in, t[i].param, t[i].msg);
    }
    xt_expect_400(D, "{\"messages\":[]}", "messages", "non-empty");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"user\"}]}", "messages", "need content");
    xt_expect_400(D, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages", "string or");
}

/* The refusals every dialect shares (xtest.h); Cohere passes tool arguments on as text. */
Test(cohere, invalid_requests_are_400)
{
    xt_check_openai_400(D, 0);
}

Test(cohere, a_tiny_arena_is_a_500_not_a_crash)
{
    struct gw_arena small;
    gw_arena_init(&small, 64, 128);
    struct gw_xlate x = X;
    x.arena = &small;
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    const char *in = "{" MSGS "," TOOLS "}";
    cr_assert_eq(gw_cohere_build_request(&x, in, strlen(in), &req, &err), -1);
    cr_assert_eq(err.status, 500);
    gw_arena_destroy(&small);
}

/* ---- bounds (providers/xbound.h) ---- */

/* Cohere looks nothing up across messages, so it caps no tool call counts. */
Test(cohere, translation_bounds)
{
    xt_check_bounds(D, &(struct xt_bounds){.embeddings = true, .embed_path = "/v2/embed"});
}

/* ---- responses ---- */

#define CHAT_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1700000000,"             \
    "\"model\":\"command\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","

Test(cohere, response_text_items_are_joined_and_usage_comes_from_tokens)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
        "{\"id\":\"c14c80c3-18eb-4519-9460-6c92edd8cfb4\",\"finish_reason\":\"COMPLETE\","
        "\"message\":{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"The user greets me.\"},"
        "{\"type\":\"text\",\"text\":\"Hi! I am \\\"Command\\\".\"},"
        "{\"type\":\"text\",\"text\":\" Bye.\"}]},"
        "\"usage\":{\"billed_units\":{\"input_tokens\":5,\"output_tokens\":418},"
        "\"tokens\":{\"input_tokens\":71,\"output_tokens\":418},\"cached_tokens\":64}}",
        CHAT_HEAD
        "\"content\":\"Hi! I am \\\"Command\\\". Bye.\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}]," XT_USAGE(71, 418, 489, 64, 0) "}",
        &u);
    xt_assert_usage(
        &u, (struct gw_xlate_usage){
                .have = true, .prompt_tokens = 71, .completion_tokens = 418, .cached_tokens = 64});
}

Test(cohere, response_tool_calls_drop_the_tool_plan)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
        "{\"id\":\"3d1e3a3b\",\"finish_reason\":\"TOOL_CALL\",\"message\":{\"role\":\"assistant\","
        "\"tool_plan\":\"I will find the weather for Toronto and Rome.\",\"tool_calls\":["
        "{\"id\":\"get_weather_1byjy32y4hvq\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Toronto\\\"}\"}},"
        "{\"id\":\"get_weather_2\",\"type\":\"function\",\"function\":{\"name\":\"now\"}}]},"
        "\"usage\":{\"billed_units\":{\"input_tokens\":37,\"output_tokens\":28},"
        "\"tokens\":{\"input_tokens\":1022,\"output_tokens\":83}}}",
        CHAT_HEAD
        "\"content\":null,\"tool_calls\":["
        "{\"id\":\"get_weather_1byjy32y4hvq\",\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Toronto\\\"}\"}},"
        "{\"id\":\"get_weather_2\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"{}\"}}],"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," XT_USAGE(
            1022, 83, 1105, 0, 0) "}",
        &u);
    cr_assert_eq(u.prompt_tokens, 1022);
}

Test(cohere, response_usage_falls_back_to_billed_units)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(D,
                       "{\"id\":\"x\",\"finish_reason\":\"MAX_TOKENS\",\"message\":{\"role\":"
                       "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},"
                       "\"usage\":{\"billed_units\":{\"input_tokens\":12.0,\"output_tokens\":4}}}",
                       CHAT_HEAD "\"content\":\"a\",\"refusal\":null},\"logprobs\":null,"
                                 "\"finish_reason\":\"length\"}]," XT_USAGE(12, 4, 16, 0, 0) "}",
                       &u);
    cr_assert_eq(u.prompt_tokens, 12);
    cr_assert_eq(u.completion_tokens, 4);
    /* No usage at all, no content: zeros and an empty string. */
    xt_expect_response(D,
                       "{\"id\":\"x\",\"finish_reason\":\"COMPLETE\",\"message\":{\"role\":"
                       "\"assistant\"}}",
                       CHAT_HEAD "\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
                                 "\"finish_reason\":\"stop\"}]," XT_USAGE(0, 0, 0, 0, 0) "}",
                       &u);
}

Test(cohere, response_every_finish_reason)
{
    static const char *const map[][2] = {
        {"\"COMPLETE\"", "stop"},      {"\"STOP_SEQUENCE\"", "stop"},
        {"\"MAX_TOKENS\"", "length"},  {"\"TOOL_CALL\"", "tool_calls"},
        {"\"SOMETHING_NEW\"", "stop"}, {"null", "stop"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(map); i++)
        xt_expect_finish(D, "{\"id\":\"1\",\"finish_reason\":", map[i][0],
                         ",\"message\":{\"role\":\"assistant\","
                         "\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}}",
                         map[i][1]);
    /* ERROR and TIMEOUT have no OpenAI reason and their text cannot be trusted: a 502. */
    static const char *const bad[] = {"\"ERROR\"", "\"TIMEOUT\""};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        char in[256];
        snprintf(in, sizeof(in),
                 "{\"id\":\"1\",\"finish_reason\":%s,\"message\":{\"role\":\"assistant\","
                 "\"content\":[{\"type\":\"text\",\"text\":\"partial\"}]}}",
                 bad[i]);
        xt_expect_unreadable(D, in);
    }
}

Test(cohere, response_logprobs_become_one_entry_per_chunk)
{
    xt_expect_response(
        D,
        "{\"id\":\"1\",\"finish_reason\":\"COMPLETE\",\"message\":{\"role\":\"assistant\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hi \\u00e9\"}]},"
        "\"logprobs\":[{\"token_ids\":[28339],\"text\":\"Hi\",\"logprobs\":[-0.5]},"
        "{\"token_ids\":[1,2],\"text\":\" \\u00e9\",\"logprobs\":[-0.25,-1]}]}",
        CHAT_HEAD "\"content\":\"Hi \xc3\xa9\",\"refusal\":null},\"logprobs\":{\"content\":["
                  "{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],\"top_logprobs\":[]},"
                  "{\"token\":\" \\u00e9\",\"logprob\":-1.25,\"bytes\":[32,195,169],"
                  "\"top_logprobs\":[]}],\"refusal\":null},\"finish_reason\":\"stop\"}]," XT_USAGE(
                      0, 0, 0, 0, 0) "}",
        NULL);
}

Test(cohere, response_that_is_not_a_chat_response_is_refused)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"id\":\"x\",\"message\":\"hi\"}",
        "{\"id\":\"x\",\"finish_reason\":\"COMPLETE\"}",
        ("{\"finish_reason\":\"COMPLETE\",\"message\":{\"content\":[{\"type\":\"text\","
         "\"text\":7}]}}"),
        "{\"finish_reason\":\"TOOL_CALL\",\"message\":{\"tool_calls\":[{\"id\":\"a\"}]}}",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        xt_expect_unreadable(D, bad[i]);
}

/* ---- errors ---- */

Test(cohere, every_status_maps)
{
    /* Cohere's errors are {"message": ...}: the status alone says which. */
    static const struct xt_error_map t[] = {
        {400, NULL, 400, "invalid_request_error", "null"},
        {401, NULL, 401, "invalid_request_error", "\"invalid_api_key\""},
        {402, NULL, 402, "insufficient_quota", "\"insufficient_quota\""},
        {403, NULL, 403, "permission_error", "null"},
        {404, NULL, 404, "invalid_request_error", "\"not_found\""},
        {422, NULL, 400, "invalid_request_error", "null"},
        {429, NULL, 429, "rate_limit_error", "\"rate_limit_exceeded\""},
        {498, NULL, 401, "invalid_request_error", "\"invalid_api_key\""},
        {499, NULL, 502, "server_error", "\"upstream_cancelled\""},
        {500, NULL, 500, "server_error", "null"},
        {501, NULL, 501, "server_error", "\"not_implemented\""},
        {503, NULL, 503, "server_error", "\"overloaded\""},
        {504, NULL, 504, "server_error", "\"timeout\""},
        {409, NULL, 409, "invalid_request_error", "null"},
        {502, NULL, 502, "server_error", "null"},
        {302, NULL, 502, "server_error", "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        static const char in[] =
            "{\"id\":\"aa17d0a2-1234-4a5b-8c9d-0e1f2a3b4c5d\",\"message\":\"Oh \\\"no\\\"\"}";
        xt_expect_error_map(D, &t[i], NULL, in, "Oh \\\"no\\\"");
    }
}

Test(cohere, error_bodies_without_a_message_get_a_generic_one)
{
    xt_check_unreadable_errors(D);
    /* The SDK's TooManyRequests body: {"data": "..."}. */
    xt_expect_error(D, 429, NULL, "{\"data\":\"slow down\"}", 429,
                    "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\","
                    "\"param\":null,\"code\":\"rate_limit_exceeded\"}}");
    xt_expect_error(D, 500, NULL, "{\"message\":42}", 500,
                    XT_NO_MESSAGE("500", "server_error", "null"));
}

/* ---- embeddings ---- */

Test(cohere, embed_request_defaults_input_type_and_asks_for_floats)
{
    X.ep = GW_EP_EMBEDDINGS;
    xt_want_path = "/v2/embed";
    X.upstream_model = "embed-v4.0";
    struct gw_xlate_req req = xt_build_ok(
        D, "{\"model\":\"emb\",\"input\":[\"a\",\"b \\\"c\\\"\"],\"encoding_format\":\"base64\","
           "\"user\":\"u\",\"mock\":{\"status\":500}}");
    xt_assert_span(req.body, "{\"model\":\"embed-v4.0\",\"texts\":[\"a\",\"b \\\"c\\\"\"],"
                             "\"input_type\":\"search_document\",\"embedding_types\":[\"float\"],"
                             "\"mock\":{\"status\":500}}");
    xt_assert_span(req.headers, "authorization: Bearer co-test-key\r\n");
    xt_assert_span(xt_build_ok(D, "{\"input\":\"one\",\"dimensions\":256,"
                                  "\"input_type\":\"search_query\"}")
                       .body,
                   "{\"model\":\"embed-v4.0\",\"texts\":[\"one\"],\"input_type\":\"search_query\","
                   "\"embedding_types\":[\"float\"],\"output_dimension\":256}");
    xt_expect_400(D, "{\"input\":\"x\",\"input_type\":\"image\"}", "input_type", "search_query");
    xt_expect_400(D, "{\"input\":[[1,2]]}", "input", "token arrays");
    xt_expect_400(D, "{\"input\":[]}", "input", "empty");
    /* Cohere takes at most 96 texts per call. */
    char big[2048];
    size_t bl = (size_t)snprintf(big, sizeof(big), "{\"input\":[\"x\"");
    for (int i = 1; i < 97; i++)
        bl += (size_t)snprintf(big + bl, sizeof(big) - bl, ",\"x\"");
    snprintf(big + bl, sizeof(big) - bl, "]}");
    xt_expect_400(D, big, "input", "at most 96");
}

#define EMBED_RESP                                                                                 \
    "{\"id\":\"da6e531f-54c6-4a73-bf92-f60566d8d753\",\"embeddings\":{\"float\":"                  \
    "[[1.0,-2],[0.5,0.25,-0.125]]},\"texts\":[\"a\",\"b\"],\"meta\":{\"api_version\":"             \
    "{\"version\":\"2\"},\"billed_units\":{\"input_tokens\":7}},"                                  \
    "\"response_type\":\"embeddings_by_type\"}"

Test(cohere, embed_response_in_both_encodings)
{
    struct gw_span out;
    struct gw_xlate_usage u = {0};
    cr_assert_eq(gw_cohere_translate_embeddings(&X, EMBED_RESP, LIT_LEN(EMBED_RESP), &out, &u), 0);
    xt_assert_span(out,
                   "{\"object\":\"list\",\"data\":["
                   "{\"object\":\"embedding\",\"index\":0,\"embedding\":[1.0,-2]},"
                   "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.5,0.25,-0.125]}],"
                   "\"model\":\"command\",\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}");
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true, .prompt_tokens = 7});
    X.embed_base64 = true;
    cr_assert_eq(gw_cohere_translate_embeddings(&X, EMBED_RESP, LIT_LEN(EMBED_RESP), &out, &u), 0);
    xt_assert_span(out,
                   "{\"object\":\"list\",\"data\":["
                   "{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AACAPwAAAMA=\"},"
                   "{\"object\":\"embedding\",\"index\":1,\"embedding\":\"AAAAPwAAgD4AAAC+\"}],"
                   "\"model\":\"command\",\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}");
    /* The older embeddings_floats shape: embeddings is the list itself. */
    X.embed_base64 = false;
    static const char old[] = "{\"id\":\"1\",\"embeddings\":[[0.5]],\"texts\":[\"a\"],"
                              "\"response_type\":\"embeddings_floats\"}";
    cr_assert_eq(gw_cohere_translate_embeddings(&X, old, LIT_LEN(old), &out, NULL), 0);
    xt_assert_span(out,
                   "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                   "\"embedding\":[0.5]}],\"model\":\"command\",\"usage\":{\"prompt_tokens\":0,"
                   "\"total_tokens\":0}}");
    static const char *const bad[] = {"{}", "{\"embeddings\":{\"int8\":[[1]]}}",
                                      "{\"embeddings\":{\"float\":[[\"x\"]]}}",
                                      "{\"embeddings\":{\"float\":[1]}}", "nope"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        cr_assert_eq(gw_cohere_translate_embeddings(&X, bad[i], strlen(bad[i]), &out, NULL), -1,
                     "accepted %s", bad[i]);
}

Test(cohere, dialect_table_is_wired)
{
    xt_check_table(D, GW_PT_COHERE, "cohere", NULL, sizeof(struct gw_cohere_stream));
    cr_assert_eq(D->build_request, gw_cohere_build_request);
    cr_assert_eq(D->build_embeddings, gw_cohere_build_embeddings);
    cr_assert_eq(D->translate_embeddings, gw_cohere_translate_embeddings);
}

/* ---- streams ---- */

/* Text, then a tool plan and two tool calls, with citations and a debug event, as v2 streams. */
static const char transcript[] =
    "event: message-start\n"
    "data: {\"id\":\"29f14a5a-11de-4cae-9800-25e4747408ea\",\"type\":\"message-start\","
    "\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\","
    "\"tool_calls\":[],\"citations\":[]}}}\n"
    "\n"
    "event: content-start\n"
    "data: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":"
    "{\"type\":\"text\",\"text\":\"\"}}}}\n"
    "\n"
    "event: content-delta\n"
    "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":"
    "{\"text\":\"Let me check \\\"SF\\\":\"}}}}\n"
    "\n"
    "event: citation-start\n"
    "data: {\"type\":\"citation-start\",\"index\":0,\"delta\":{\"message\":{\"citations\":"
    "{\"start\":0,\"end\":3,\"text\":\"Let\",\"sources\":[]}}}}\n"
    "\n"
    "event: citation-end\n"
    "data: {\"type\":\"citation-end\",\"index\":0}\n"
    "\n"
    "event: content-end\n"
    "data: {\"type\":\"content-end\",\"index\":0}\n"
    "\n"
    "event: tool-plan-delta\n"
    "data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will \"}}}\n"
    "\n"
    "event: tool-call-start\n"
    "data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":"
    "{\"id\":\"get_weather_nsz5zm3w56q3\",\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"arguments\":\"\"}}}}}\n"
    "\n"
    "event: tool-call-delta\n"
    "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":"
    "{\"function\":{\"arguments\":\"{\\n    \\\"location\\\":\"}}}}}\n"
    "\n"
    "event: tool-call-delta\n"
    "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":"
    "{\"function\":{\"arguments\":\" \\\"San Francisco\\\"\\n}\"}}}}}\n"
    "\n"
    "event: tool-call-end\n"
    "data: {\"type\":\"tool-call-end\",\"index\":0}\n"
    "\n"
    "event: debug\n"
    "data: {\"type\":\"debug\",\"prompt\":\"...\"}\n"
    "\n"
    "event: tool-call-start\n"
    "data: {\"type\":\"tool-call-start\",\"index\":1,\"delta\":{\"message\":{\"tool_calls\":"
    "{\"id\":\"now_1\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":"
    "\"{}\"}}}}}\n"
    "\n"
    "event: tool-call-end\n"
    "data: {\"type\":\"tool-call-end\",\"index\":1}\n"
    "\n"
    "event: message-end\n"
    "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":"
    "{\"billed_units\":{\"input_tokens\":37,\"output_tokens\":28},\"tokens\":"
    "{\"input_tokens\":1022,\"output_tokens\":89},\"cached_tokens\":512}}}\n"
    "\n";

#define CHUNK                                                                                      \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"command\",\"choices\":[{\"index\":0,\"delta\":"
#define NUL_END ",\"finish_reason\":null}]}\n\n"

static const char want_chunks[] =
    CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END CHUNK
          "{\"content\":\"Let me check \\\"SF\\\":\"}" NUL_END CHUNK
          "{\"tool_calls\":[{\"index\":0,\"id\":\"get_weather_nsz5zm3w56q3\",\"type\":\"function\","
          "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}" NUL_END CHUNK
          "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\n    "
          "\\\"location\\\":\"}}]}" NUL_END CHUNK
          "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"San "
          "Francisco\\\"\\n}\"}}]}" NUL_END CHUNK
          "{\"tool_calls\":[{\"index\":1,\"id\":\"now_1\",\"type\":\"function\","
          "\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]}" NUL_END CHUNK
          "{},\"finish_reason\":\"tool_calls\"}]}\n\n";

static const char want_usage_chunk[] =
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"command\",\"choices\":[]," XT_USAGE(1022, 89, 1111, 512, 0) "}\n\n";

static const char want_done[] = XT_DONE;

Test(cohere, stream_transcript_translates)
{
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    cr_assert_eq(xt_run_stream(D, transcript, LIT_LEN(transcript), NULL, 0, &c, &u, NULL), 1);
    size_t wl = LIT_LEN(want_chunks), dl = LIT_LEN(want_done);
    cr_assert(c.n == wl + dl && memcmp(c.p, want_chunks, wl) == 0 &&
                  memcmp(c.p + wl, want_done, dl) == 0,
              "got:\n%.*s", (int)c.n, c.p);
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 1022,
                                                .cached_tokens = 512,
                                                .completion_tokens = 89});
    free(c.p);
}

Test(cohere, stream_usage_chunk_only_when_asked)
{
    X.want_usage = true;
    char want[sizeof(want_chunks) + sizeof(want_usage_chunk) + sizeof(want_done)];
    snprintf(want, sizeof(want), "%s%s%s", want_chunks, want_usage_chunk, want_done);
    xt_expect_stream(D, transcript, LIT_LEN(transcript), want, 1);
}

Test(cohere, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    xt_check_splits_both(D, transcript, LIT_LEN(transcript));
}

/* The same transcript with CRLF, and with CR line ends (both are SSE). */
Test(cohere, stream_crlf_and_cr_line_ends)
{
    X.want_usage = true;
    struct xt_out ref = {0};
    cr_assert_eq(xt_run_stream(D, transcript, LIT_LEN(transcript), NULL, 0, &ref, NULL, NULL), 1);
    const char *eols[] = {"\r\n", "\r"};
    for (size_t e = 0; e < 2; e++) {
        size_t n;
        char *in = xt_line_ends(transcript, LIT_LEN(transcript), eols[e], &n);
        struct xt_out c = {0};
        cr_assert_eq(xt_run_stream(D, in, n, NULL, 0, &c, NULL, NULL), 1);
        cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "eol %zu", e);
        xt_check_splits(D, in, n);
        free(c.p);
        free(in);
    }
    free(ref.p);
}

#define TEXT_START                                                                                 \
    "event: message-start\ndata: {\"id\":\"1\",\"type\":\"message-start\",\"delta\":"              \
    "{\"message\":{\"role\":\"assistant\"}}}\n\n"                                                  \
    "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":"               \
    "{\"message\":{\"content\":{\"text\":\"Hi\"}}}}\n\n"
#define ROLE_AND_HI                                                                                \
    CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END CHUNK "{\"content\":\"Hi\"}" NUL_END
#define STOP_END                                                                                   \
    "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"            \
    "\"COMPLETE\"}}\n\n"
#define STOP_CHUNK CHUNK "{},\"finish_reason\":\"stop\"}]}\n\n"
/* An error chunk of type server_error; msg and code are JSON. */
#define ERR_CHUNK(msg, code)                                                                       \
    "data: {\"error\":{\"message\":" msg ",\"type\":\"server_error\",\"param\":null,"              \
    "\"code\":" code "}}\n\n"

/* The error chunk is followed by [DONE], so a client that waits for it ends. */
Test(cohere, stream_error_finish_becomes_an_error_chunk_then_done)
{
    static const char err[] = TEXT_START
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
        "\"ERROR\",\"error\":\"internal: model crashed\",\"usage\":{\"tokens\":"
        "{\"input_tokens\":5,\"output_tokens\":1}}}}\n\n"
        "event: content-delta\ndata: {\"type\":\"content-delta\",\"delta\":{}}\n\n";
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    int fed = 0;
    cr_assert_eq(xt_run_stream(D, err, LIT_LEN(err), NULL, 0, &c, &u, &fed), 1);
    cr_assert_eq(fed, 1);
    xt_assert_out(&c, ROLE_AND_HI ERR_CHUNK("\"internal: model crashed\"", "null") XT_DONE);
    cr_assert_eq(u.prompt_tokens, 5);
    cr_assert_eq(u.completion_tokens, 1);
    free(c.p);
    static const char timeout[] = TEXT_START
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
        "\"TIMEOUT\"}}\n\n";
    xt_expect_stream(D, timeout, LIT_LEN(timeout),
                     ROLE_AND_HI ERR_CHUNK("\"the provider timed out generating the answer\"",
                                           "\"timeout\"") XT_DONE,
                     1);
    xt_check_splits(D, timeout, LIT_LEN(timeout));
}

Test(cohere, stream_cut_short_or_broken_ends_with_an_error_chunk_then_done)
{
    static const char cut[] = TEXT_START
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
        "\"COMPLETE\"}}"; /* no blank line */
    xt_expect_stream(
        D, cut, LIT_LEN(cut),
        ROLE_AND_HI ERR_CHUNK("\"upstream stream ended before message-end\"", "null") XT_DONE, -1);
    xt_check_splits(D, cut, LIT_LEN(cut));
    /* An OpenAI-style [DONE] is not Cohere's end. */
    static const char done[] = TEXT_START "data: [DONE]\n\n";
    xt_expect_stream(
        D, done, LIT_LEN(done),
        ROLE_AND_HI ERR_CHUNK("\"upstream stream ended before message-end\"", "null") XT_DONE, -1);

    /* Invalid event JSON stops the feed itself; later input is ignored. */
    static const char bad[] = "data: {\"type\":\n\n" STOP_END;
    struct xt_out c = {0};
    int fed = 0;
    cr_assert_eq(xt_run_stream(D, bad, LIT_LEN(bad), NULL, 0, &c, NULL, &fed), -1);
    cr_assert_eq(fed, -1);
    cr_assert_eq(c.writes, 2);
    xt_assert_out(&c, ERR_CHUNK("\"invalid event in the upstream stream\"", "null") XT_DONE);
    free(c.p);

    /* A tool-call-start without id or name cannot be translated. */
    static const char badtool[] =
        "data: {\"type\":\"tool-call-start\",\"delta\":{\"message\":{\"tool_calls\":"
        "{\"type\":\"function\"}}}}\n\n";
    c = (struct xt_out){0};
    cr_assert_eq(xt_run_stream(D, badtool, LIT_LEN(badtool), NULL, 0, &c, NULL, &fed), -1);
    cr_assert_eq(fed, -1);
    xt_assert_out(&c, ERR_CHUNK("\"invalid tool-call-start upstream\"", "null") XT_DONE);
    free(c.p);

    /* Logprobs that are not Cohere's item shape. */
    static const char badlp[] =
        "data: {\"type\":\"content-delta\",\"delta\":{\"message\":{\"content\":{\"text\":\"a\"}}},"
        "\"logprobs\":{\"text\":\"a\",\"logprobs\":[\"x\"]}}\n\n";
    xt_expect_stream(D, badlp, LIT_LEN(badlp),
                     ERR_CHUNK("\"invalid logprobs upstream\"", "null") XT_DONE, -1);
}

Test(cohere, stream_event_over_1_mib_is_refused)
{
    xt_check_event_cap(D, GW_COHERE_EVENT_MAX);
}

Test(cohere, stream_an_exhausted_arena_fails_the_stream)
{
    xt_check_stream_oom(D, TEXT_START, LIT_LEN(TEXT_START), STOP_END, 64, 128);
}

Test(cohere, stream_event_name_types_data_without_one_and_comments_are_skipped)
{
    /* data without "type" takes the SSE event name; multi-line data joins with LF. */
    static const char in[] =
        ": keep-alive\n"
        "event: content-delta\n"
        "data: {\"index\":0,\n"
        "data:\"delta\":{\"message\":{\"content\":{\"text\":\"a\"}}}}\n"
        "id: 7\n\n"
        "event: content-delta\n"
        "data: {\"delta\":{\"message\":{\"content\":{\"thinking\":\"hm\"}}}}\n\n"
        "event: an-event-name-longer-than-thirty-one-bytes\n"
        "data: {\"delta\":{}}\n\n"
        "event: message-end\n"
        "data: {\"delta\":{\"finish_reason\":\"STOP_SEQUENCE\"}}\n\n";
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"a\"}" NUL_END STOP_CHUNK XT_DONE,
                     1);
    xt_check_splits(D, in, LIT_LEN(in));
}

/* The SSE rule: an event whose data is empty is not dispatched, whatever its name. */
Test(cohere, stream_events_with_empty_data_are_not_dispatched)
{
    static const char in[] = TEXT_START "data:\n\n"
                                        "data\n\n"
                                        "event: message-end\ndata:\n\n"
                                        "event: message-end\n\n"
                                        ": only a comment\n\n" STOP_END;
    xt_expect_stream(D, in, LIT_LEN(in), ROLE_AND_HI STOP_CHUNK XT_DONE, 1);
    xt_check_splits(D, in, LIT_LEN(in));
}

Test(cohere, stream_a_repeated_or_late_message_start_opens_nothing)
{
    static const char start[] = "event: message-start\ndata: {\"type\":\"message-start\"}\n\n";
    static const char twice[] = TEXT_START "event: message-start\ndata: {\"type\":"
                                           "\"message-start\"}\n\n" STOP_END;
    xt_expect_stream(D, twice, LIT_LEN(twice), ROLE_AND_HI STOP_CHUNK XT_DONE, 1);
    /* Text before any message-start carries the role; a message-start after it adds nothing. */
    char late[512];
    snprintf(late, sizeof(late), "%s%s%s",
             "data: {\"type\":\"content-delta\",\"delta\":{\"message\":{\"content\":"
             "{\"text\":\"Hi\"}}}}\n\n",
             start, STOP_END);
    xt_expect_stream(D, late, strlen(late),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END STOP_CHUNK XT_DONE,
                     1);
}

Test(cohere, stream_logprobs_ride_on_their_content_chunk)
{
    static const char in[] =
        "event: content-delta\n"
        "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":"
        "{\"text\":\"Hi\"}}},\"logprobs\":{\"text\":\"Hi\",\"token_ids\":[28339],"
        "\"logprobs\":[-0.5]}}\n\n"
        "event: message-end\n"
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"MAX_TOKENS\"}}\n\n";
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"},\"logprobs\":{\"content\":"
                           "[{\"token\":\"Hi\",\"logprob\":-0.5,\"bytes\":[72,105],"
                           "\"top_logprobs\":[]}],\"refusal\":null}" NUL_END CHUNK
                           "{},\"finish_reason\":\"length\"}]}\n\n" XT_DONE,
                     1);
}

Test(cohere, stream_sink_refusal_stops_the_translation)
{
    xt_check_sink_refusal(D, TEXT_START, LIT_LEN(TEXT_START));
}
