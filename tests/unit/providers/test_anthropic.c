/*
 * tests/unit/providers/test_anthropic.c — the Anthropic Messages dialect.
 *
 * Fixtures are in the wire formats of Anthropic's Messages API reference
 * (request fields, the message object, error shapes, the SSE events of a
 * streamed message) and OpenAI's chat completions API; outputs are compared
 * byte for byte, since the writer is deterministic. The fixture, the checks
 * over the dialect table, the refusals and bounds every dialect shares and
 * the stream drivers are the dialect suites' shared ones (xtest.h,
 * amplify.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/config.h"
#include "providers/anthropic.h"
#include "providers/dialect.h"
#include "providers/xlate.h"

#include "amplify.h"
#include "xtest.h"

static void setup(void)
{
    xt_setup("claude", "sk-ant-test", "claude-sonnet-4-5", "claude");
    prov.anthropic_version = "2023-06-01";
    xt_want_path = "/v1/messages";
}

TestSuite(anthropic, .init = setup, .fini = xt_teardown);

static const struct gw_dialect *const D = &gw_dialect_anthropic;

/* ---- requests ---- */

Test(anthropic, system_and_developer_messages_are_lifted_and_max_tokens_defaults)
{
    xt_expect_body(D,
                   "{\"model\":\"claude\",\"messages\":["
                   "{\"role\":\"system\",\"content\":\"You are terse.\"},"
                   "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Answer in "
                   "French.\"}]},"
                   "{\"role\":\"user\",\"content\":\"Hi \\u00e9\\\"\"}]}",
                   "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
                   "\"system\":\"You are terse.\\n\\nAnswer in French.\","
                   "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi "
                   "\\u00e9\\\"\"}]}]}");
}

Test(anthropic, headers_for_2023_06_01_use_x_api_key)
{
    struct gw_xlate_req req = xt_build_ok(D, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                             "\"content\":\"Hi\"}],\"temperature\":0.2}");
    xt_assert_span(req.headers, "anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-test\r\n");
    cr_assert_null(req.warning);
}

Test(anthropic, max_completion_tokens_stop_sampling_stream_and_user)
{
    xt_expect_body(D,
                   "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"Count\"}],"
                   "\"max_tokens\":50,\"max_completion_tokens\":100,\"stop\":\"\\n\\n\","
                   "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"stream\":true,"
                   "\"stream_options\":{\"include_usage\":true},\"user\":\"u-42\"}",
                   "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,"
                   "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                   "\"Count\"}]}],"
                   "\"stop_sequences\":[\"\\n\\n\"],\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,"
                   "\"stream\":true,\"metadata\":{\"user_id\":\"u-42\"}}");
    xt_expect_body(D,
                   "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":7,"
                   "\"stop\":[\"END\",\"STOP\"],\"stream\":false,\"temperature\":null}",
                   "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":7,"
                   "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                   "\"x\"}]}],\"stop_sequences\":[\"END\",\"STOP\"]}");
}

Test(anthropic, images_base64_and_url)
{
    xt_expect_body(
        D,
        "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://upload.wikimedia.org/a.jpg\"}}"
        "]}]}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
        "\"data\":\"iVBORw0KGgo=\"}},"
        "{\"type\":\"image\",\"source\":{\"type\":\"url\","
        "\"url\":\"https://upload.wikimedia.org/a.jpg\"}}]}]}");
}

#define WEATHER_TOOL                                                                               \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"description\":\"Get the current weather\",\"parameters\":{\"type\":\"object\","             \
    "\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"]}}},"          \
    "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]"
#define WEATHER_TOOL_OUT                                                                           \
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Get the current weather\","            \
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"   \
    "\"required\":[\"location\"]}},"                                                               \
    "{\"name\":\"now\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]"
#define HI_IN "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
#define HI_OUT                                                                                     \
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\","       \
    "\"content\":[{\"type\":\"text\",\"text\":\"Weather?\"}]}],"

Test(anthropic, tools_and_every_tool_choice)
{
    xt_expect_body(D, HI_IN WEATHER_TOOL "}", HI_OUT WEATHER_TOOL_OUT "}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"auto\"}",
                   HI_OUT WEATHER_TOOL_OUT ",\"tool_choice\":{\"type\":\"auto\"}}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"required\"}",
                   HI_OUT WEATHER_TOOL_OUT ",\"tool_choice\":{\"type\":\"any\"}}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"none\",\"parallel_tool_calls\":false}",
                   HI_OUT WEATHER_TOOL_OUT ",\"tool_choice\":{\"type\":\"none\"}}");
    xt_expect_body(D,
                   HI_IN WEATHER_TOOL ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                                      "{\"name\":\"get_weather\"}}}",
                   HI_OUT WEATHER_TOOL_OUT
                   ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}}");
    xt_expect_body(D, HI_IN WEATHER_TOOL ",\"parallel_tool_calls\":false}",
                   HI_OUT WEATHER_TOOL_OUT
                   ",\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":true}}");
    xt_expect_body(
        D, HI_IN WEATHER_TOOL ",\"tool_choice\":\"required\",\"parallel_tool_calls\":false}",
        HI_OUT WEATHER_TOOL_OUT
        ",\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}}");
}

Test(anthropic, tool_calls_and_parallel_results_are_merged)
{
    xt_expect_body(
        D,
        "{\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"toolu_01\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"
        "{\"id\":\"toolu_02\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\":\\\"Rome\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01\",\"content\":\"18C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_02\",\"content\":[{\"type\":\"text\","
        "\"text\":\"21C\"}]},"
        "{\"role\":\"user\",\"content\":\"Thanks\"},"
        "{\"role\":\"assistant\",\"content\":\"Paris 18C, Rome 21C.\",\"tool_calls\":["
        "{\"id\":\"toolu_03\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"\"}}]}"
        "]}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris and "
        "Rome?\"}]},"
        "{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\","
        "\"input\":{\"location\": \"Paris\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"get_weather\","
        "\"input\":{\"location\":\"Rome\"}}]},"
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01\",\"content\":\"18C\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_02\",\"content\":[{\"type\":\"text\","
        "\"text\":\"21C\"}]},"
        "{\"type\":\"text\",\"text\":\"Thanks\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Paris 18C, Rome "
        "21C.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_03\",\"name\":\"now\",\"input\":{}}]}]}");
}

/* The refusals every dialect shares (xtest.h), Anthropic parsing tool arguments too, and its own.
 */
Test(anthropic, invalid_requests_are_400)
{
    xt_check_openai_400(D, XT_REFUSES_BAD_ARGUMENTS | XT_PARSES_IMAGE_DATA | XT_TAKES_IMAGE_URLS);
    xt_expect_400(D, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", "n",
                  "n must be 1");
    xt_expect_400(D,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
                  "messages", "not supported");
}

Test(anthropic, version_2026_uses_bearer_without_sampling_parameters)
{
    prov.anthropic_version = "2026-10-21";
    struct gw_xlate_req req =
        xt_build_ok(D, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":10}");
    xt_assert_span(req.headers,
                   "anthropic-version: 2026-10-21\r\nauthorization: Bearer sk-ant-test\r\n");
    cr_assert_null(req.warning);
}

Test(anthropic, version_2026_falls_back_to_2023_for_sampling_parameters)
{
    static const char *const bodies[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":1}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"top_p\":1}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"top_k\":5}",
    };
    prov.anthropic_version = "2026-10-21";
    for (size_t i = 0; i < 3; i++) {
        struct gw_xlate_req req = xt_build_ok(D, bodies[i]);
        xt_assert_span(req.headers, "anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-test\r\n");
        cr_assert_str_eq(req.warning, "sent with anthropic-version 2023-06-01: 2026-10-21 "
                                      "refuses temperature, top_p and top_k");
    }
    /* The parameters themselves are kept: 2023-06-01 takes them. */
    struct gw_xlate_req req =
        xt_build_ok(D, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0}");
    xt_assert_span(
        req.body,
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":[{\"role\":"
        "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],\"temperature\":0}");
    cr_assert_not_null(req.warning);
    /* 2023-06-01 never needs the fallback. */
    prov.anthropic_version = "2023-06-01";
    cr_assert_null(xt_build_ok(D, bodies[0]).warning);
    /* No key configured: no auth header. */
    prov.api_key = "";
    prov.anthropic_version = "2026-10-21";
    xt_assert_span(
        xt_build_ok(D, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}").headers,
        "anthropic-version: 2026-10-21\r\n");
}

/* ---- bounds (providers/xbound.h) ---- */

/* Anthropic looks nothing up across messages, so it caps no tool call counts; no embeddings. */
Test(anthropic, translation_bounds)
{
    xt_check_bounds(D, &(struct xt_bounds){.name_extra = NULL});
}

/* ---- responses ---- */

#define CHAT_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1700000000,"             \
    "\"model\":\"claude\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","

Test(anthropic, response_text)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
        "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hi! My name is \\\"Claude\\\".\"},"
        "{\"type\":\"text\",\"text\":\" Bye.\"}],\"model\":\"claude-sonnet-4-5\","
        "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
        "\"usage\":{\"input_tokens\":2095,\"output_tokens\":503}}",
        CHAT_HEAD
        "\"content\":\"Hi! My name is \\\"Claude\\\". Bye.\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}]," XT_USAGE(2095, 503, 2598, 0, 0) "}",
        &u);
    xt_assert_usage(
        &u, (struct gw_xlate_usage){.have = true, .prompt_tokens = 2095, .completion_tokens = 503});
}

Test(anthropic, response_tool_use_and_cache_usage)
{
    struct gw_xlate_usage u = {0};
    xt_expect_response(
        D,
        "{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-sonnet-4-5\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"Let me see.\",\"signature\":\"EqQBCgIY\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\","
        "\"input\":{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"now\",\"input\":{}}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":21,"
        "\"cache_creation_input_tokens\":188086,\"cache_read_input_tokens\":1000,"
        "\"output_tokens\":393}}",
        CHAT_HEAD
        "\"content\":null,\"tool_calls\":["
        "{\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\": \\\"San "
        "Francisco, CA\\\", \\\"unit\\\": \\\"celsius\\\"}\"}},"
        "{\"id\":\"toolu_02\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"{}\"}}],"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," XT_USAGE(
            189107, 393, 189500, 1000, 0) "}",
        &u);
    /* Anthropic counts thinking in output_tokens and reports no share of its own (reasoning 0). */
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 189107,
                                                .cached_tokens = 1000,
                                                .cache_creation_tokens = 188086,
                                                .completion_tokens = 393});
}

Test(anthropic, response_every_stop_reason)
{
    static const char *const map[][2] = {
        {"\"end_turn\"", "stop"},
        {"\"stop_sequence\"", "stop"},
        {"\"max_tokens\"", "length"},
        {"\"tool_use\"", "tool_calls"},
        {"\"refusal\"", "content_filter"},
        {"\"pause_turn\"", "stop"},
        {"\"model_context_window_exceeded\"", "length"},
        {"null", "stop"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(map); i++)
        xt_expect_finish(
            D,
            "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
            "[{\"type\":\"text\",\"text\":\"x\"}],\"model\":\"m\",\"stop_reason\":",
            map[i][0],
            ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
            map[i][1]);
}

Test(anthropic, response_that_is_not_a_message_is_refused)
{
    static const char *const bad[] = {"", "{", "[]", "{\"type\":\"error\"}",
                                      "{\"type\":\"message\",\"content\":\"x\"}"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        xt_expect_unreadable(D, bad[i]);
}

/* ---- errors ---- */

Test(anthropic, every_error_type_maps)
{
    static const struct xt_error_map t[] = {
        {400, "invalid_request_error", 400, "invalid_request_error", "null"},
        {401, "authentication_error", 401, "invalid_request_error", "\"invalid_api_key\""},
        {402, "billing_error", 402, "insufficient_quota", "\"insufficient_quota\""},
        {403, "permission_error", 403, "permission_error", "null"},
        {404, "not_found_error", 404, "invalid_request_error", "\"not_found\""},
        {413, "request_too_large", 413, "invalid_request_error", "\"request_too_large\""},
        {429, "rate_limit_error", 429, "rate_limit_error", "\"rate_limit_exceeded\""},
        {500, "api_error", 500, "server_error", "null"},
        {504, "timeout_error", 504, "server_error", "\"timeout\""},
        {529, "overloaded_error", 503, "server_error", "\"overloaded\""},
        {409, "conflict_error", 409, "conflict_error", "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        char in[256];
        snprintf(in, sizeof(in),
                 "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"Oh \\\"no\\\"\"},"
                 "\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}",
                 t[i].type);
        xt_expect_error_map(D, &t[i], NULL, in, "Oh \\\"no\\\"");
    }
}

Test(anthropic, unparseable_error_bodies_get_a_generic_message)
{
    xt_check_unreadable_errors(D);
    /* Anthropic's 529 (overloaded) is a 503 to the client. */
    xt_expect_error(D, 529, NULL, "", 503, XT_NO_MESSAGE("529", "server_error", "null"));
}

Test(anthropic, the_dialect_table)
{
    xt_check_table(D, GW_PT_ANTHROPIC, "anthropic", NULL, sizeof(struct gw_anthropic_stream));
    cr_assert_eq(D->build_request, gw_anthropic_build_request);
    cr_assert_eq(D->translate_response, gw_anthropic_translate_response);
    cr_assert_eq(D->translate_error, gw_anthropic_translate_error);
    cr_assert_null(D->build_embeddings);
}

/* ---- streams ---- */

/* Text, then two tool_use blocks (parallel calls), as Anthropic streams them. */
static const char transcript[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":20,"
    "\"cache_read_input_tokens\":100,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Okay, let's check \\\"SF\\\":\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"location\\\":\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\" \\\"San Francisco, CA\\\"\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\", \\\"unit\\\": \\\"fahrenheit\\\"}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_02\",\"name\":\"now\",\"input\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

#define CHUNK                                                                                      \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"claude\",\"choices\":[{\"index\":0,\"delta\":"
#define NUL_END ",\"finish_reason\":null}]}\n\n"

/* One chunk a line: the opening one, text, two tool calls with their argument deltas, the end. */
/* clang-format off */
#define WANT_CHUNKS                                                                                \
    CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END                                      \
    CHUNK "{\"content\":\"Okay, let's check \\\"SF\\\":\"}" NUL_END                                \
    CHUNK "{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","               \
          "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}"    \
          NUL_END                                                                                  \
    CHUNK "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]}"   \
          NUL_END                                                                                  \
    CHUNK "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"                             \
          "\" \\\"San Francisco, CA\\\"\"}}]}" NUL_END                                             \
    CHUNK "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"                             \
          "\", \\\"unit\\\": \\\"fahrenheit\\\"}\"}}]}" NUL_END                                    \
    CHUNK "{\"tool_calls\":[{\"index\":1,\"id\":\"toolu_02\",\"type\":\"function\","               \
          "\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]}" NUL_END                          \
    CHUNK "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}" NUL_END           \
    CHUNK "{},\"finish_reason\":\"tool_calls\"}]}\n\n"
/* clang-format on */

/* prompt_tokens: 472 uncached + 100 read from the cache + 20 written to it. */
#define WANT_USAGE_CHUNK                                                                           \
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000," \
    "\"model\":\"claude\",\"choices\":[]," XT_USAGE(592, 89, 681, 100, 0) "}\n\n"

Test(anthropic, stream_transcript_translates)
{
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    int fed = 0;
    cr_assert_eq(xt_run_stream(D, transcript, LIT_LEN(transcript), NULL, 0, &c, &u, &fed), 1);
    cr_assert_eq(fed, 1, "message_stop ends the stream as it is fed");
    xt_assert_out(&c, WANT_CHUNKS XT_DONE);
    xt_assert_usage(&u, (struct gw_xlate_usage){.have = true,
                                                .prompt_tokens = 592,
                                                .cached_tokens = 100,
                                                .cache_creation_tokens = 20,
                                                .completion_tokens = 89});
    free(c.p);
}

Test(anthropic, stream_usage_chunk_only_when_asked)
{
    X.want_usage = true;
    xt_expect_stream(D, transcript, LIT_LEN(transcript), WANT_CHUNKS WANT_USAGE_CHUNK XT_DONE, 1);
}

Test(anthropic, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    xt_check_splits_both(D, transcript, LIT_LEN(transcript));
}

/* The same transcript with CRLF, and with CR line ends (both are SSE). */
Test(anthropic, stream_crlf_and_cr_line_ends)
{
    X.want_usage = true;
    const char *eols[] = {"\r\n", "\r"};
    for (size_t e = 0; e < 2; e++) {
        size_t n;
        char *in = xt_line_ends(transcript, LIT_LEN(transcript), eols[e], &n);
        xt_expect_stream(D, in, n, WANT_CHUNKS WANT_USAGE_CHUNK XT_DONE, 1);
        xt_check_splits(D, in, n);
        free(in);
    }
}

#define MESSAGE_START                                                                              \
    "event: message_start\n"                                                                       \
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","        \
    "\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,"                  \
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"

/* Anthropic's mid-stream error ends the stream as the upstream meant it to (1), with [DONE]. */
Test(anthropic, stream_error_event_becomes_an_error_chunk_and_done)
{
    static const char in[] =
        MESSAGE_START "event: error\n"
                      "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
                      "\"message\": \"Overloaded\"}}\n\n"
                      "event: ping\ndata: {\"type\":\"ping\"}\n\n";
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END
                           "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\","
                           "\"param\":null,\"code\":\"overloaded\"}}\n\n" XT_DONE,
                     1);
    xt_check_splits(D, in, LIT_LEN(in));

    /* A type the table does not know passes as it came; no message: the generic one. */
    static const char odd[] = MESSAGE_START
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"new_error\"}}\n\n";
    xt_expect_stream(D, odd, LIT_LEN(odd),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END
                           "data: {\"error\":{\"message\":\"upstream provider error (HTTP 500)\","
                           "\"type\":\"new_error\",\"param\":null,\"code\":null}}\n\n" XT_DONE,
                     1);
}

Test(anthropic, stream_cut_short_or_broken_ends_with_an_error_chunk_and_done)
{
    static const char cut[] =
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Hi\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}"; /* no blank line */
    xt_expect_stream(D, cut, LIT_LEN(cut),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END XT_ERROR_END(
                         "upstream stream ended before message_stop"),
                     -1);

    /* Invalid event JSON: the error at once (feed -1), and nothing after it. */
    static const char bad[] = "data: {\"type\":\n\ndata: {\"type\":\"message_stop\"}\n\n";
    struct xt_out c = {0};
    int fed = 0;
    cr_assert_eq(xt_run_stream(D, bad, LIT_LEN(bad), NULL, 0, &c, NULL, &fed), -1);
    cr_assert_eq(fed, -1);
    xt_assert_out(&c, XT_ERROR_END("invalid event in the upstream stream"));
    free(c.p);
}

Test(anthropic, stream_event_over_1_mib_is_refused)
{
    xt_check_event_cap(D, GW_ANTHROPIC_EVENT_MAX);
}

Test(anthropic, stream_multiline_data_and_comments)
{
    static const char in[] = ": keep-alive\n"
                             "event: content_block_delta\n"
                             "data: {\"type\":\"content_block_delta\",\"index\":0,\n"
                             "data:\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n"
                             "id: 7\n\n"
                             "data: {\"type\":\"message_stop\"}\n"
                             "data\n\n"; /* a field name alone: an empty data line */
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"a\"}" NUL_END CHUNK
                           "{},\"finish_reason\":\"stop\"}]}\n\n" XT_DONE,
                     1);
}

/* WHATWG: an event whose data is empty is not dispatched, so it is neither invalid JSON nor an end.
 */
Test(anthropic, stream_events_with_empty_data_are_skipped)
{
    static const char in[] = "event: ping\ndata:\n\n"
                             "data\n\n"
                             "data: \n\n"
                             "event: content_block_delta\nid: 3\n\n"
                             "data: {\"type\":\"content_block_delta\",\"index\":0,"
                             "\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\n"
                             "data:\n\n"
                             "data: {\"type\":\"message_stop\"}\n\n";
    xt_expect_stream(D, in, LIT_LEN(in),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"a\"}" NUL_END CHUNK
                           "{},\"finish_reason\":\"stop\"}]}\n\n" XT_DONE,
                     1);
    xt_check_splits(D, in, LIT_LEN(in));
}

/* The client's queue refused a chunk: the stream stops (-1) and writes nothing more. */
Test(anthropic, stream_stops_when_the_sink_refuses)
{
    xt_check_sink_refusal(D, transcript, LIT_LEN(transcript));
}

/* The request's arena ran out while an event was read: the stream fails, with nothing to write. */
Test(anthropic, stream_fails_when_the_arena_is_exhausted)
{
    size_t n = 256 << 10; /* under GW_ANTHROPIC_EVENT_MAX, over the arena */
    char *big = xt_unended_event(n);
    xt_check_stream_oom(D, big, n, "\n\n", 4096, 64 << 10);
    free(big);
}
