/*
 * tests/unit/providers/test_anthropic.c — the Anthropic Messages dialect.
 *
 * Fixtures are in the wire formats of Anthropic's Messages API reference
 * (request fields, the message object, error shapes, the SSE events of a
 * streamed message) and OpenAI's chat completions API; outputs are compared
 * byte for byte, since the writer is deterministic. The fixture and the
 * stream driver are the dialect suites' shared ones (xtest.h).
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
#include "providers/anthropic.h"
#include "providers/dialect.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

#include "amplify.h"
#include "xtest.h"

static void setup(void)
{
    xt_setup("claude", "sk-ant-test", "claude-sonnet-4-5", "claude");
    prov.anthropic_version = "2023-06-01";
}

TestSuite(anthropic, .init = setup, .fini = xt_teardown);

static const struct gw_dialect *const D = &gw_dialect_anthropic;

static struct gw_xlate_req build_ok(const char *body)
{
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    int r = gw_anthropic_build_request(&X, body, strlen(body), &req, &err);
    cr_assert_eq(r, 0, "refused (%d): %s", err.status, err.message);
    cr_assert_str_eq(req.path, "/v1/messages");
    cr_assert(gw_json_validate(req.body.ptr, req.body.len));
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
    cr_assert_eq(gw_anthropic_build_request(&X, in, strlen(in), &req, &err), -1, "accepted: %s",
                 in);
    cr_assert_eq(err.status, 400);
    if (param)
        cr_assert_str_eq(err.param, param);
    cr_assert(strstr(err.message, msg_part), "message: %s", err.message);
}

/* ---- requests ---- */

Test(anthropic, system_and_developer_messages_are_lifted_and_max_tokens_defaults)
{
    expect_body("{\"model\":\"claude\",\"messages\":["
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
    struct gw_xlate_req req = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                       "\"content\":\"Hi\"}],\"temperature\":0.2}");
    xt_assert_span(req.headers, "anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-test\r\n");
    cr_assert_null(req.warning);
}

Test(anthropic, max_completion_tokens_stop_sampling_stream_and_user)
{
    expect_body("{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"Count\"}],"
                "\"max_tokens\":50,\"max_completion_tokens\":100,\"stop\":\"\\n\\n\","
                "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"stream\":true,"
                "\"stream_options\":{\"include_usage\":true},\"user\":\"u-42\"}",
                "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,"
                "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                "\"Count\"}]}],"
                "\"stop_sequences\":[\"\\n\\n\"],\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,"
                "\"stream\":true,\"metadata\":{\"user_id\":\"u-42\"}}");
    expect_body("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":7,"
                "\"stop\":[\"END\",\"STOP\"],\"stream\":false,\"temperature\":null}",
                "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":7,"
                "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                "\"x\"}]}],\"stop_sequences\":[\"END\",\"STOP\"]}");
}

Test(anthropic, images_base64_and_url)
{
    expect_body(
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
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
               "\"image_url\":{\"url\":\"ftp://x/a.png\"}}]}]}",
               "messages", "http(s) or data:");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
               "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
               "messages", "base64");
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
    expect_body(HI_IN WEATHER_TOOL "}", HI_OUT WEATHER_TOOL_OUT "}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"auto\"}",
                HI_OUT WEATHER_TOOL_OUT ",\"tool_choice\":{\"type\":\"auto\"}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"required\"}",
                HI_OUT WEATHER_TOOL_OUT ",\"tool_choice\":{\"type\":\"any\"}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"none\",\"parallel_tool_calls\":false}",
                HI_OUT WEATHER_TOOL_OUT ",\"tool_choice\":{\"type\":\"none\"}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                                   "{\"name\":\"get_weather\"}}}",
                HI_OUT WEATHER_TOOL_OUT
                ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}}");
    expect_body(HI_IN WEATHER_TOOL ",\"parallel_tool_calls\":false}", HI_OUT WEATHER_TOOL_OUT
                ",\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":true}}");
    expect_body(HI_IN WEATHER_TOOL ",\"tool_choice\":\"required\",\"parallel_tool_calls\":false}",
                HI_OUT WEATHER_TOOL_OUT
                ",\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}}");
    expect_400(HI_IN WEATHER_TOOL ",\"tool_choice\":\"sometimes\"}", "tool_choice", "auto");
    expect_400(HI_IN "\"tools\":[{\"type\":\"web_search\"}]}", "tools", "function");
}

Test(anthropic, tool_calls_and_parallel_results_are_merged)
{
    expect_body(
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

Test(anthropic, invalid_tool_arguments_are_400)
{
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
               "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]}]}",
               "messages", "arguments must be a JSON object");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
               "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
               "messages", "arguments must be a JSON object");
    expect_400("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages",
               "tool_call_id");
}

Test(anthropic, other_invalid_requests_are_400)
{
    expect_400("{\"messages\":", NULL, "JSON object");
    expect_400("[1]", NULL, "JSON object");
    expect_400("{\"model\":\"m\"}", "messages", "messages");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", "n",
               "n must be 1");
    expect_400("{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages", "role");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}",
               "max_tokens", "positive integer");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
               "temperature", "number");
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
               "messages", "not supported");
}

Test(anthropic, version_2026_uses_bearer_without_sampling_parameters)
{
    prov.anthropic_version = "2026-10-21";
    struct gw_xlate_req req =
        build_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":10}");
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
        struct gw_xlate_req req = build_ok(bodies[i]);
        xt_assert_span(req.headers, "anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-test\r\n");
        cr_assert_str_eq(req.warning, "sent with anthropic-version 2023-06-01: 2026-10-21 "
                                      "refuses temperature, top_p and top_k");
    }
    /* The parameters themselves are kept: 2023-06-01 takes them. */
    expect_body("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0}",
                "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":[{\"role\":"
                "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],\"temperature\":0}");
    /* 2023-06-01 never needs the fallback. */
    prov.anthropic_version = "2023-06-01";
    cr_assert_null(build_ok(bodies[0]).warning);
    /* No key configured: no auth header. */
    prov.api_key = "";
    prov.anthropic_version = "2026-10-21";
    xt_assert_span(build_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}").headers,
                   "anthropic-version: 2026-10-21\r\n");
}

/* ---- bounds (providers/xbound.h) ---- */

/* The request of the security finding (Gemini's): refused on its name, nothing rendered. */
Test(anthropic, the_amplification_request_is_refused_and_the_arena_stays_small)
{
    char *in = amp_body(AMP_NAME_LEN, 1, AMP_RESULTS, 0);
    struct gw_xlate_req req;
    struct gw_xlate_err err;
    cr_assert_eq(gw_anthropic_build_request(&X, in, strlen(in), &req, &err), -1);
    cr_assert_eq(err.status, 400);
    cr_assert_str_eq(err.param, AMP_PARAM);
    cr_assert(strstr(err.message, "too long"), "%s", err.message);
    cr_assert_lt(arena.total, (size_t)1 << 20, "arena %zu bytes", arena.total);
    free(in);
}

Test(anthropic, function_names_over_64_characters_are_refused_where_they_are_copied)
{
    char n65[66], in[512];
    memset(n65, 'n', 65);
    n65[65] = '\0';
    snprintf(in, sizeof(in),
             HI_IN "\"tools\":["
                   "{\"type\":\"function\",\"function\":{\"name\":\"%s\"}}]}",
             n65);
    expect_400(in, "tools[0].function.name", "too long (65 bytes)");
    snprintf(in, sizeof(in),
             HI_IN "\"tools\":["
                   "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                   "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"%s\"}}}",
             n65);
    expect_400(in, "tool_choice.function.name", "too long");
    expect_400(HI_IN "\"tools\":["
                     "{\"type\":\"function\",\"function\":{\"name\":\"mcp.f\"}}]}",
               "tools[0].function.name", "not valid");
    char *hist = amp_body(GW_XBOUND_NAME_MAX + 1, 1, 1, 0);
    expect_400(hist, AMP_PARAM, "too long");
    free(hist);
}

Test(anthropic, a_large_request_under_the_limits_still_translates)
{
    char *in = amp_body(GW_XBOUND_NAME_MAX, 64, 512, 8 << 20);
    struct gw_xlate_req req = build_ok(in);
    cr_assert_gt(req.body.len, (size_t)8 << 20);
    cr_assert_lt(req.body.len, 2 * strlen(in));
    free(in);
}

Test(anthropic, a_request_over_the_ceiling_is_refused_with_400)
{
    char *in = amp_user_body(20000);
    X.out_max = 8192;
    expect_400(in, NULL, "larger than 8192 bytes");
    cr_assert_lt(arena.total, (size_t)256 << 10);
    free(in);
}

/* ---- responses ---- */

#define CHAT_HEAD                                                                                  \
    "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1700000000,"             \
    "\"model\":\"claude\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","

static void expect_response(const char *in, const char *want, struct gw_xlate_usage *u)
{
    struct gw_span out;
    cr_assert_eq(gw_anthropic_translate_response(&X, in, strlen(in), &out, u), 0);
    xt_assert_span(out, want);
}

Test(anthropic, response_text)
{
    struct gw_xlate_usage u = {0};
    expect_response(
        "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hi! My name is \\\"Claude\\\".\"},"
        "{\"type\":\"text\",\"text\":\" Bye.\"}],\"model\":\"claude-sonnet-4-5\","
        "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
        "\"usage\":{\"input_tokens\":2095,\"output_tokens\":503}}",
        CHAT_HEAD "\"content\":\"Hi! My name is \\\"Claude\\\". Bye.\",\"refusal\":null},"
                  "\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                  "\"usage\":{\"prompt_tokens\":2095,\"completion_tokens\":503,"
                  "\"total_tokens\":2598,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
        &u);
    cr_assert(u.have);
    cr_assert_eq(u.prompt_tokens, 2095);
    cr_assert_eq(u.completion_tokens, 503);
}

Test(anthropic, response_tool_use_and_cache_usage)
{
    struct gw_xlate_usage u = {0};
    expect_response(
        "{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-sonnet-4-5\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"Let me see.\",\"signature\":\"EqQBCgIY\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\","
        "\"input\":{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"now\",\"input\":{}}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":21,"
        "\"cache_creation_input_tokens\":188086,\"cache_read_input_tokens\":1000,"
        "\"output_tokens\":393}}",
        CHAT_HEAD "\"content\":null,\"tool_calls\":["
                  "{\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"type\":\"function\",\"function\":"
                  "{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\": \\\"San "
                  "Francisco, CA\\\", \\\"unit\\\": \\\"celsius\\\"}\"}},"
                  "{\"id\":\"toolu_02\",\"type\":\"function\",\"function\":{\"name\":\"now\","
                  "\"arguments\":\"{}\"}}],"
                  "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
                  "\"usage\":{\"prompt_tokens\":189107,\"completion_tokens\":393,"
                  "\"total_tokens\":189500,\"prompt_tokens_details\":{\"cached_tokens\":1000},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
        &u);
    cr_assert_eq(u.prompt_tokens, 189107);
    cr_assert_eq(u.cached_tokens, 1000);
    cr_assert_eq(u.cache_creation_tokens, 188086);
    cr_assert_eq(u.completion_tokens, 393);
    /* Anthropic counts thinking in output_tokens and reports no share of its own. */
    cr_assert_eq(u.reasoning_tokens, 0);
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
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char in[512], want[128];
        snprintf(in, sizeof(in),
                 "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
                 "[{\"type\":\"text\",\"text\":\"x\"}],\"model\":\"m\",\"stop_reason\":%s,"
                 "\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
                 map[i][0]);
        snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"", map[i][1]);
        struct gw_span out;
        cr_assert_eq(gw_anthropic_translate_response(&X, in, strlen(in), &out, NULL), 0);
        cr_assert(memmem(out.ptr, out.len, want, strlen(want)), "%s: %.*s", map[i][0], (int)out.len,
                  out.ptr);
    }
}

Test(anthropic, response_that_is_not_a_message_is_refused)
{
    static const char *const bad[] = {"", "{", "[]", "{\"type\":\"error\"}",
                                      "{\"type\":\"message\",\"content\":\"x\"}"};
    for (size_t i = 0; i < 5; i++) {
        struct gw_span out;
        cr_assert_eq(gw_anthropic_translate_response(&X, bad[i], strlen(bad[i]), &out, NULL), -1);
    }
}

/* ---- errors ---- */

Test(anthropic, every_error_type_maps)
{
    static const struct {
        int in;
        const char *type;
        int out;
        const char *oa_type;
        const char *code; /* JSON */
    } t[] = {
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
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char in[256], want[512];
        snprintf(in, sizeof(in),
                 "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"Oh \\\"no\\\"\"},"
                 "\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}",
                 t[i].type);
        snprintf(want, sizeof(want),
                 "{\"error\":{\"message\":\"Oh \\\"no\\\"\",\"type\":\"%s\",\"param\":null,"
                 "\"code\":%s}}",
                 t[i].oa_type, t[i].code);
        struct gw_span out;
        int st = 0;
        cr_assert_eq(
            gw_anthropic_translate_error(t[i].in, GW_SPAN_NULL, in, strlen(in), &arena, &out, &st),
            0);
        cr_assert_eq(st, t[i].out, "%s", t[i].type);
        xt_assert_span(out, want);
    }
}

Test(anthropic, unparseable_error_bodies_get_a_generic_message)
{
    struct gw_span out;
    int st = 0;
    const char *html = "<html><body>502 Bad Gateway</body></html>";
    cr_assert_eq(
        gw_anthropic_translate_error(502, GW_SPAN_NULL, html, strlen(html), &arena, &out, &st), 0);
    cr_assert_eq(st, 502);
    xt_assert_span(out, "{\"error\":{\"message\":\"upstream provider error (HTTP 502)\","
                        "\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    cr_assert_eq(gw_anthropic_translate_error(529, GW_SPAN_NULL, "", 0, &arena, &out, &st), 0);
    cr_assert_eq(st, 503);
    cr_assert_eq(gw_anthropic_translate_error(400, GW_SPAN_NULL, NULL, 0, &arena, &out, &st), 0);
    cr_assert_eq(st, 400);
    xt_assert_span(out, "{\"error\":{\"message\":\"upstream provider error (HTTP 400)\","
                        "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
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
#define DONE "data: [DONE]\n\n"
/* OpenAI's error chunk for a gateway message, and the [DONE] after it. */
#define ERROR_END(msg)                                                                             \
    "data: {\"error\":{\"message\":\"" msg "\",\"type\":\"server_error\",\"param\":null,"          \
    "\"code\":null}}\n\n" DONE

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
    "\"model\":\"claude\",\"choices\":[],\"usage\":{\"prompt_tokens\":592,"                        \
    "\"completion_tokens\":89,\"total_tokens\":681,\"prompt_tokens_details\":"                     \
    "{\"cached_tokens\":100},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"

Test(anthropic, stream_transcript_translates)
{
    struct xt_out c = {0};
    struct gw_xlate_usage u = {0};
    int fed = 0;
    cr_assert_eq(xt_run_stream(D, transcript, LIT_LEN(transcript), NULL, 0, &c, &u, &fed), 1);
    cr_assert_eq(fed, 1, "message_stop ends the stream as it is fed");
    xt_assert_out(&c, WANT_CHUNKS DONE);
    cr_assert(u.have);
    cr_assert_eq(u.prompt_tokens, 592);
    cr_assert_eq(u.cached_tokens, 100);
    cr_assert_eq(u.cache_creation_tokens, 20);
    cr_assert_eq(u.completion_tokens, 89);
    cr_assert_eq(u.reasoning_tokens, 0);
    free(c.p);
}

Test(anthropic, stream_usage_chunk_only_when_asked)
{
    X.want_usage = true;
    xt_expect_stream(D, transcript, LIT_LEN(transcript), WANT_CHUNKS WANT_USAGE_CHUNK DONE, 1);
}

Test(anthropic, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    X.want_usage = true;
    xt_check_splits(D, transcript, LIT_LEN(transcript));
    X.want_usage = false;
    xt_check_splits(D, transcript, LIT_LEN(transcript));
}

/* The same transcript with CRLF, and with CR line ends (both are SSE). */
Test(anthropic, stream_crlf_and_cr_line_ends)
{
    X.want_usage = true;
    const char *eols[] = {"\r\n", "\r"};
    for (size_t e = 0; e < 2; e++) {
        size_t n;
        char *in = xt_line_ends(transcript, LIT_LEN(transcript), eols[e], &n);
        xt_expect_stream(D, in, n, WANT_CHUNKS WANT_USAGE_CHUNK DONE, 1);
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
                           "\"param\":null,\"code\":\"overloaded\"}}\n\n" DONE,
                     1);
    xt_check_splits(D, in, LIT_LEN(in));

    /* A type the table does not know passes as it came; no message: the generic one. */
    static const char odd[] = MESSAGE_START
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"new_error\"}}\n\n";
    xt_expect_stream(D, odd, LIT_LEN(odd),
                     CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END
                           "data: {\"error\":{\"message\":\"upstream provider error (HTTP 500)\","
                           "\"type\":\"new_error\",\"param\":null,\"code\":null}}\n\n" DONE,
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
                     CHUNK "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END ERROR_END(
                         "upstream stream ended before message_stop"),
                     -1);

    /* Invalid event JSON: the error at once (feed -1), and nothing after it. */
    static const char bad[] = "data: {\"type\":\n\ndata: {\"type\":\"message_stop\"}\n\n";
    struct xt_out c = {0};
    int fed = 0;
    cr_assert_eq(xt_run_stream(D, bad, LIT_LEN(bad), NULL, 0, &c, NULL, &fed), -1);
    cr_assert_eq(fed, -1);
    xt_assert_out(&c, ERROR_END("invalid event in the upstream stream"));
    free(c.p);
}

Test(anthropic, stream_event_over_1_mib_is_refused)
{
    size_t n = GW_ANTHROPIC_EVENT_MAX + 16;
    char *big = malloc(n);
    cr_assert(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'a', n - 6);
    struct xt_out c = {0};
    struct gw_anthropic_stream s;
    struct gw_xlate_sink sink = {xt_out_write, &c};
    gw_anthropic_stream_init(&s, &X);
    int r = 0;
    for (size_t off = 0; off < n && r == 0; off += 4096)
        r = gw_anthropic_stream_feed(&s, big + off, GW_MIN(4096, n - off), &sink, NULL);
    cr_assert_eq(r, -1);
    cr_assert_eq(gw_anthropic_stream_end(&s, &sink, NULL), -1);
    xt_assert_out(&c, ERROR_END("upstream stream event over 1 MiB"));
    cr_assert(arena.total < 4 * GW_ANTHROPIC_EVENT_MAX);
    free(c.p);
    free(big);
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
                           "{},\"finish_reason\":\"stop\"}]}\n\n" DONE,
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
                           "{},\"finish_reason\":\"stop\"}]}\n\n" DONE,
                     1);
    xt_check_splits(D, in, LIT_LEN(in));
}

static int refuse_write(void *arg, const char *p, size_t n)
{
    (void)p;
    (void)n;
    ++*(unsigned *)arg;
    return -1;
}

/* The client's queue refused a chunk: the stream stops (-1) and writes nothing more. */
Test(anthropic, stream_stops_when_the_sink_refuses)
{
    unsigned calls = 0;
    struct gw_xlate_sink sink = {refuse_write, &calls};
    struct gw_anthropic_stream s;
    gw_anthropic_stream_init(&s, &X);
    cr_assert_eq(gw_anthropic_stream_feed(&s, transcript, LIT_LEN(transcript), &sink, NULL), -1);
    cr_assert_eq(calls, 1);
    cr_assert_eq(gw_anthropic_stream_feed(&s, transcript, LIT_LEN(transcript), &sink, NULL), -1);
    cr_assert_eq(gw_anthropic_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(calls, 1, "a stopped stream wrote again");
}

/* The request's arena ran out while an event was read: the stream fails, with nothing to write. */
Test(anthropic, stream_fails_when_the_arena_is_exhausted)
{
    struct gw_arena small;
    gw_arena_init(&small, 4096, 64 << 10);
    struct gw_xlate x = X;
    x.arena = &small;
    size_t n = 256 << 10; /* under GW_ANTHROPIC_EVENT_MAX, over the arena */
    char *big = malloc(n);
    cr_assert(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'a', n - 6);
    struct xt_out c = {0};
    struct gw_xlate_sink sink = {xt_out_write, &c};
    struct gw_anthropic_stream s;
    gw_anthropic_stream_init(&s, &x);
    cr_assert_eq(gw_anthropic_stream_feed(&s, big, n, &sink, NULL), -1);
    cr_assert_eq(gw_anthropic_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(c.writes, 0);
    free(big);
    gw_arena_destroy(&small);
}
