/*
 * tests/unit/providers/test_anthropic.c — the Anthropic Messages dialect.
 *
 * Fixtures are in the wire formats of Anthropic's Messages API reference
 * (request fields, the message object, error shapes, the SSE events of a
 * streamed message) and OpenAI's chat completions API; outputs are compared
 * byte for byte, since the writer is deterministic.
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
#include "providers/xbound.h"
#include "providers/xlate.h"

#include "amplify.h"

#define LIT_LEN(s) (sizeof(s) - 1)

static struct gw_arena arena;
static struct gw_provider prov;
static struct gw_xlate X;

static void setup(void)
{
    gw_arena_init(&arena, 1 << 16, 0);
    memset(&prov, 0, sizeof(prov));
    prov.name = "claude";
    prov.api_key = "sk-ant-test";
    prov.anthropic_version = "2023-06-01";
    X = (struct gw_xlate){
        .prov = &prov,
        .upstream_model = "claude-sonnet-4-5",
        .client_model = "claude",
        .request_id = "req1",
        .created = 1700000000,
        .arena = &arena,
    };
}

static void teardown(void)
{
    gw_arena_destroy(&arena);
}

TestSuite(anthropic, .init = setup, .fini = teardown);

static void assert_span(struct gw_span got, const char *want)
{
    cr_assert(got.ptr != NULL);
    cr_assert(gw_span_eq(got, gw_span_cstr(want)), "got:\n%.*s\nwant:\n%s", (int)got.len, got.ptr,
              want);
}

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
    assert_span(req.body, want);
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
    assert_span(req.headers, "anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-test\r\n");
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
    assert_span(req.headers,
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
        assert_span(req.headers, "anthropic-version: 2023-06-01\r\nx-api-key: sk-ant-test\r\n");
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
    assert_span(build_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}").headers,
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
    assert_span(out, want);
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
                  "\"total_tokens\":2598,\"prompt_tokens_details\":{\"cached_tokens\":0}}}",
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
                  "\"total_tokens\":189500,\"prompt_tokens_details\":{\"cached_tokens\":1000}}}",
        &u);
    cr_assert_eq(u.prompt_tokens, 189107);
    cr_assert_eq(u.cached_tokens, 1000);
    cr_assert_eq(u.cache_creation_tokens, 188086);
    cr_assert_eq(u.completion_tokens, 393);
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
        cr_assert_eq(gw_anthropic_translate_error(t[i].in, GW_SPAN_NULL, in, strlen(in), &arena, &out, &st), 0);
        cr_assert_eq(st, t[i].out, "%s", t[i].type);
        assert_span(out, want);
    }
}

Test(anthropic, unparseable_error_bodies_get_a_generic_message)
{
    struct gw_span out;
    int st = 0;
    const char *html = "<html><body>502 Bad Gateway</body></html>";
    cr_assert_eq(gw_anthropic_translate_error(502, GW_SPAN_NULL, html, strlen(html), &arena, &out, &st), 0);
    cr_assert_eq(st, 502);
    assert_span(out, "{\"error\":{\"message\":\"upstream provider error (HTTP 502)\","
                     "\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    cr_assert_eq(gw_anthropic_translate_error(529, GW_SPAN_NULL, "", 0, &arena, &out, &st), 0);
    cr_assert_eq(st, 503);
    cr_assert_eq(gw_anthropic_translate_error(400, GW_SPAN_NULL, NULL, 0, &arena, &out, &st), 0);
    cr_assert_eq(st, 400);
    assert_span(out, "{\"error\":{\"message\":\"upstream provider error (HTTP 400)\","
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

static const char want_chunks[] = CHUNK
    "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END CHUNK
    "{\"content\":\"Okay, let's check \\\"SF\\\":\"}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}" NUL_END
        CHUNK
    "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]}" NUL_END
        CHUNK "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"San Francisco, "
    "CA\\\"\"}}]}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\", \\\"unit\\\": "
    "\\\"fahrenheit\\\"}\"}}]}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":1,\"id\":\"toolu_02\",\"type\":\"function\","
    "\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]}" NUL_END CHUNK
    "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}" NUL_END CHUNK
    "{},\"finish_reason\":\"tool_calls\"}]}\n\n";

static const char want_usage_chunk[] =
    "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"claude\",\"choices\":[],\"usage\":{\"prompt_tokens\":592,"
    "\"completion_tokens\":89,\"total_tokens\":681,\"prompt_tokens_details\":"
    "{\"cached_tokens\":100}}}\n\n";

static const char want_done[] = "data: [DONE]\n\n";

struct collect {
    char *p;
    size_t n, cap;
    unsigned writes;
};

static int collect_write(void *arg, const char *p, size_t n)
{
    struct collect *c = arg;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2 + 64;
        c->p = realloc(c->p, c->cap);
        cr_assert(c->p);
    }
    memcpy(c->p + c->n, p, n);
    c->n += n;
    c->writes++;
    return 0;
}

/* Feeds `in` cut at the offsets cuts[0..ncuts) (ascending), then ends it. */
static int run_stream(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                      struct collect *c, struct gw_xlate_usage *u)
{
    struct gw_arena a;
    struct gw_xlate x = X;
    struct gw_anthropic_stream s;
    struct gw_xlate_sink sink = {collect_write, c};
    gw_arena_init(&a, 4096, 0);
    x.arena = &a;
    gw_anthropic_stream_init(&s, &x);
    size_t off = 0;
    int last = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        last = gw_anthropic_stream_feed(&s, in + off, end - off, &sink, u);
        cr_assert(last >= 0, "feed %zu..%zu gave %d", off, end, last);
        off = end;
        if (last == 1)
            break;
    }
    /* Ended early only when all that is left is the LF of the last CRLF. */
    cr_assert(off == len || (last == 1 && off + 1 == len && in[off] == '\n'), "ended at %zu", off);
    int r = gw_anthropic_stream_end(&s, &sink, u);
    cr_assert_eq(r, last == 1 ? 1 : -1);
    gw_arena_destroy(&a);
    return r;
}

static void expect_stream(const char *in, size_t len, const char *want)
{
    struct collect c = {0};
    struct gw_xlate_usage u = {0};
    run_stream(in, len, NULL, 0, &c, &u);
    cr_assert(c.n == strlen(want) && memcmp(c.p, want, c.n) == 0, "got:\n%.*s\nwant:\n%s", (int)c.n,
              c.p, want);
    free(c.p);
}

Test(anthropic, stream_transcript_translates)
{
    struct collect c = {0};
    struct gw_xlate_usage u = {0};
    cr_assert_eq(run_stream(transcript, LIT_LEN(transcript), NULL, 0, &c, &u), 1);
    size_t wl = LIT_LEN(want_chunks), dl = LIT_LEN(want_done);
    cr_assert(c.n == wl + dl && memcmp(c.p, want_chunks, wl) == 0 &&
                  memcmp(c.p + wl, want_done, dl) == 0,
              "got:\n%.*s", (int)c.n, c.p);
    cr_assert(u.have);
    cr_assert_eq(u.prompt_tokens, 592);
    cr_assert_eq(u.cached_tokens, 100);
    cr_assert_eq(u.cache_creation_tokens, 20);
    cr_assert_eq(u.completion_tokens, 89);
    free(c.p);
}

Test(anthropic, stream_usage_chunk_only_when_asked)
{
    X.want_usage = true;
    char want[sizeof(want_chunks) + sizeof(want_usage_chunk) + sizeof(want_done)];
    snprintf(want, sizeof(want), "%s%s%s", want_chunks, want_usage_chunk, want_done);
    expect_stream(transcript, LIT_LEN(transcript), want);
}

/* The whole output for the transcript, fed in one piece. */
static struct collect whole(const char *in, size_t len)
{
    struct collect c = {0};
    run_stream(in, len, NULL, 0, &c, NULL);
    return c;
}

static void check_splits(const char *in, size_t len)
{
    struct collect ref = whole(in, len);
    cr_assert(ref.n > 0);
    for (size_t cut = 0; cut <= len; cut++) {
        struct collect c = {0};
        struct gw_xlate_usage u = {0};
        run_stream(in, len, &cut, 1, &c, &u);
        cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "split at %zu differs", cut);
        cr_assert_eq(u.completion_tokens, 89);
        free(c.p);
    }
    size_t *cuts = malloc(len * sizeof(*cuts));
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct collect c = {0};
    run_stream(in, len, cuts, len - 1, &c, NULL);
    cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "byte at a time differs");
    free(c.p);
    free(cuts);
    free(ref.p);
}

Test(anthropic, stream_every_split_and_byte_at_a_time_give_the_same_chunks)
{
    X.want_usage = true;
    check_splits(transcript, LIT_LEN(transcript));
    X.want_usage = false;
    check_splits(transcript, LIT_LEN(transcript));
}

/* The same transcript with CRLF, and with CR line ends (both are SSE). */
static char *with_line_ends(const char *eol, size_t *len)
{
    size_t n = LIT_LEN(transcript), el = strlen(eol);
    char *out = malloc(n * el + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (transcript[i] == '\n') {
            memcpy(out + k, eol, el);
            k += el;
        } else {
            out[k++] = transcript[i];
        }
    }
    *len = k;
    return out;
}

Test(anthropic, stream_crlf_and_cr_line_ends)
{
    X.want_usage = true;
    struct collect ref = whole(transcript, LIT_LEN(transcript));
    const char *eols[] = {"\r\n", "\r"};
    for (size_t e = 0; e < 2; e++) {
        size_t n;
        char *in = with_line_ends(eols[e], &n);
        struct collect c = whole(in, n);
        cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "eol %zu", e);
        check_splits(in, n);
        free(c.p);
        free(in);
    }
    free(ref.p);
}

Test(anthropic, stream_error_event_becomes_an_error_chunk)
{
    static const char in[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
        "\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,"
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
        "event: error\n"
        "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": "
        "\"Overloaded\"}}\n\n"
        "event: ping\ndata: {\"type\":\"ping\"}\n\n";
    expect_stream(in, LIT_LEN(in),
                  CHUNK "{\"role\":\"assistant\",\"content\":\"\"}" NUL_END
                        "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\","
                        "\"param\":null,\"code\":\"overloaded\"}}\n\n");
}

Test(anthropic, stream_cut_short_or_broken_ends_with_an_error_chunk)
{
    static const char cut[] =
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Hi\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}"; /* no blank line */
    expect_stream(cut, LIT_LEN(cut),
                  CHUNK
                  "{\"role\":\"assistant\",\"content\":\"Hi\"}" NUL_END
                  "data: {\"error\":{\"message\":\"upstream stream ended before message_stop\","
                  "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n");

    static const char bad[] = "data: {\"type\":\n\n";
    struct collect c = {0};
    struct gw_anthropic_stream s;
    struct gw_xlate_sink sink = {collect_write, &c};
    gw_anthropic_stream_init(&s, &X);
    cr_assert_eq(gw_anthropic_stream_feed(&s, bad, LIT_LEN(bad), &sink, NULL), -1);
    cr_assert_eq(gw_anthropic_stream_feed(&s, "data: x\n\n", 9, &sink, NULL), -1);
    cr_assert_eq(gw_anthropic_stream_end(&s, &sink, NULL), -1);
    cr_assert_eq(c.writes, 1);
    cr_assert(memmem(c.p, c.n, "invalid event", 13));
    free(c.p);
}

Test(anthropic, stream_event_over_1_mib_is_refused)
{
    size_t n = GW_ANTHROPIC_EVENT_MAX + 16;
    char *big = malloc(n);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'a', n - 6);
    struct collect c = {0};
    struct gw_anthropic_stream s;
    struct gw_xlate_sink sink = {collect_write, &c};
    gw_anthropic_stream_init(&s, &X);
    int r = 0;
    for (size_t off = 0; off < n && r == 0; off += 4096)
        r = gw_anthropic_stream_feed(&s, big + off, GW_MIN(4096, n - off), &sink, NULL);
    cr_assert_eq(r, -1);
    cr_assert(memmem(c.p, c.n, "over 1 MiB", 10));
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
    expect_stream(in, LIT_LEN(in),
                  CHUNK "{\"role\":\"assistant\",\"content\":\"a\"}" NUL_END CHUNK
                        "{},\"finish_reason\":\"stop\"}]}\n\n"
                        "data: [DONE]\n\n");
}
