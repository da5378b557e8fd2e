/*
 * tests/integration/test_anthropic.c — a client speaking OpenAI's API to a
 * model served by Anthropic's Messages API (the mock, strict about versions,
 * auth and fields): answers, streams, tool calls, usage, errors and the
 * anthropic-version rule for sampling parameters, end to end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_dialect.h"

#define NEW "claude-new" /* provider on anthropic-version 2026-10-21 (the default) */
#define OLD "claude-old" /* provider on anthropic-version 2023-06-01 */

static void setup(void)
{
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    hd_setup(&mo,
             "  - name: anew\n    type: anthropic\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: aold\n    type: anthropic\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n    anthropic_version: \"2023-06-01\"\n",
             "  - name: " NEW "\n    provider: anew\n    model: claude-sonnet-4-5\n"
             "  - name: " OLD "\n    provider: aold\n    model: claude-sonnet-4-5\n");
}

TestSuite(anthropic, .init = setup, .fini = h_teardown, .timeout = 60);

Test(anthropic, completion_is_translated_both_ways)
{
    struct h_resp r;
    hd_post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            "{\"role\":\"user\",\"content\":\"Hello\"}],\"mock\":{\"chunks\":3}}",
            &r);
    hd_expect_completion(&r, NEW, "tok0 tok1 tok2", "stop", 3, 3);
    h_resp_free(&r);

    /* What went upstream: Anthropic's path, version, auth and body. */
    h_mock_last_expect("path", "/v1/messages");
    h_mock_last_expect("headers.anthropic-version", "2026-10-21");
    h_mock_last_expect("headers.authorization", "Bearer " H_PROVIDER_KEY);
    char *body = hd_last_body();
    h_json_expect(body, "system", "Be brief.");
    h_json_expect(body, "model", "claude-sonnet-4-5");
    long long mt;
    cr_assert(h_json_int(body, strlen(body), "max_tokens", &mt), "max_tokens defaulted: %s", body);
    cr_assert_gt(mt, 0);
    free(body);
    h_finish();
}

Test(anthropic, older_version_uses_x_api_key)
{
    struct h_resp r;
    hd_post("{\"model\":\"" OLD "\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}]}",
            &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    cr_assert_null(h_resp_header(&r, "x-conduit-warning"));
    h_resp_free(&r);
    h_mock_last_expect("headers.anthropic-version", "2023-06-01");
    h_mock_last_expect("headers.x-api-key", H_PROVIDER_KEY);
    h_finish();
}

Test(anthropic, sampling_parameters_on_the_new_version_go_out_on_the_old_one_with_a_warning)
{
    /* 2026-10-21 answers 400 to any temperature/top_p/top_k: the client must
     * not get a 400 it did not cause (the mock enforces the rule). */
    struct h_resp r;
    hd_post("{\"model\":\"" NEW "\",\"temperature\":0.7,\"top_p\":0.9,\"messages\":[{\"role\":"
            "\"user\",\"content\":\"Hi\"}]}",
            &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    const char *warn = h_resp_header(&r, "x-conduit-warning");
    cr_assert(warn && strstr(warn, "2023-06-01"), "warning: %s", warn ? warn : "(none)");
    h_resp_free(&r);
    h_mock_last_expect("headers.anthropic-version", "2023-06-01");
    h_finish();
}

Test(anthropic, stream_is_translated_event_by_event)
{
    hd_expect_plain_stream(NEW, 4, false);
    hd_expect_plain_stream(NEW, 2, true);
    h_finish();
}

Test(anthropic, tool_calls_come_back_in_openai_shape)
{
    struct h_resp r;
    hd_post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
            "\"mock\":{\"tool\":true}," HD_TOOLS "}",
            &r);
    hd_expect_tool_call(&r, 0, "get_weather", "city", "Paris");
    h_resp_free(&r);

    /* Streamed: the argument pieces add up to the same JSON. */
    hd_expect_tool_stream("{\"model\":\"" NEW "\",\"stream\":true,\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"Weather?\"}],\"mock\":{\"tool\":true}," HD_TOOLS
                          "}",
                          "get_weather", "city", "Paris", NULL);
    h_finish();
}

Test(anthropic, errors_are_translated)
{
    struct h_resp r;
    hd_expect_rate_limited(NEW, &r);
    h_resp_free(&r);
    hd_post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
            "\"mock\":{\"status\":529}}",
            &r);
    h_assert_error(&r, 503, NULL);
    h_resp_free(&r);
    /* Anthropic serves no embeddings: a clear 400, not a request it cannot parse. */
    hd_expect_no_embeddings(NEW);
    /* A tool call whose arguments are not JSON cannot be translated: 400, never sent. */
    hd_post("{\"model\":\"" NEW "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
            "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
            "\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}]}",
            &r);
    h_assert_error(&r, 400, NULL);
    h_resp_free(&r);
    /* A stream the upstream cuts short ends with an error chunk and [DONE]. */
    hd_expect_cut_stream_ends_with_error(NEW);
    h_finish();
}
