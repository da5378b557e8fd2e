/*
 * tests/integration/test_dialects.c — the OpenAI-compatible family against the
 * mock: Azure OpenAI's v1 and dated paths with its api-key header, OpenAI's
 * organization and project headers, and a preset (mistral) whose API takes no
 * stream_options. What the mock received is read back from /mock/last; the
 * mock requires the provider key in the header each dialect uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_dialect.h"

static void setup(void)
{
    struct h_mock_opts mo = {.api_key = H_PROVIDER_KEY};
    hd_setup(&mo,
             "  - name: az1\n    type: azure\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "  - name: az2\n    type: azure\n    base_url: \"http://127.0.0.1:{port}\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    api_version: \"2024-10-21\"\n    deployment: dep-1\n"
             "  - name: oai\n    type: openai\n    base_url: \"http://127.0.0.1:{port}/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n"
             "    organization: org-1\n    project: proj-1\n"
             "  - name: mis\n    type: mistral\n    base_url: \"http://127.0.0.1:{port}/v1\"\n"
             "    api_key: \"" H_PROVIDER_KEY "\"\n",
             "  - name: az-v1\n    provider: az1\n    model: az-deploy\n"
             "  - name: az-dated\n    provider: az2\n"
             "  - name: oai-org\n    provider: oai\n"
             "  - name: mis\n    provider: mis\n    model: mistral-small\n");
}

TestSuite(dialects, .init = setup, .fini = h_teardown, .timeout = 60);

/* A chat request for model, plain or streamed, must succeed. */
static void chat_ok(const char *model, bool stream)
{
    char *body = h_chat_body(model, stream, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s: %d %s", model, r.status, r.body);
    if (stream)
        cr_assert(strstr(r.body, "data: [DONE]"), "%s: %s", model, r.body);
    h_resp_free(&r);
    free(body);
}

Test(dialects, azure_v1_uses_the_v1_path_and_the_api_key_header)
{
    chat_ok("az-v1", false);
    h_mock_last_expect("path", "/openai/v1/chat/completions");
    h_mock_last_expect("headers.api-key", H_PROVIDER_KEY);
    h_mock_last_expect("headers.authorization", "");
    char *body = hd_last_body();
    char model[128];
    cr_assert(h_json_get(body, strlen(body), "model", model, sizeof(model)) > 0);
    cr_assert_str_eq(model, "az-deploy", "v1 names the deployment in the body");
    free(body);
    h_finish();
}

Test(dialects, azure_dated_uses_the_deployment_path_with_api_version)
{
    chat_ok("az-dated", false);
    h_mock_last_expect("path", "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21");
    chat_ok("az-dated", true);
    h_mock_last_expect("path", "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21");

    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH,
                      "{\"model\":\"az-dated\",\"input\":[\"a\",\"b\"]}", &r),
                 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
    h_mock_last_expect("path", "/openai/deployments/dep-1/embeddings?api-version=2024-10-21");
    h_finish();
}

Test(dialects, openai_organization_and_project_go_upstream)
{
    chat_ok("oai-org", false);
    h_mock_last_expect("headers.openai-organization", "org-1");
    h_mock_last_expect("headers.openai-project", "proj-1");
    h_mock_last_expect("headers.authorization", "Bearer " H_PROVIDER_KEY);
    h_finish();
}

Test(dialects, a_preset_without_stream_options_gets_none)
{
    chat_ok("mis", true);
    char *body = hd_last_body();
    cr_assert_null(strstr(body, "stream_options"), "mistral was sent stream_options: %s", body);
    char model[128];
    cr_assert(h_json_get(body, strlen(body), "model", model, sizeof(model)) > 0);
    cr_assert_str_eq(model, "mistral-small");
    free(body);
    h_finish();
}
