/*
 * tests/integration/test_newuser.c — what a new user meets first: which
 * routes need a key (/metrics only when server.metrics_require_key says so,
 * the probes never), and an access log that says which model a refused
 * request asked for.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static void setup(void)
{
    h_setup();
    h_mock_start(NULL);
}

static void teardown(void)
{
    h_teardown();
}

TestSuite(newuser, .init = setup, .fini = teardown, .timeout = 60);

/* GET path with optional header lines; returns the status, asserting the 401's error object. */
static int get_status(const char *path, const char *headers)
{
    struct h_resp r;
    cr_assert_eq(h_do(H.gw_port, "GET", path, headers, NULL, &r), 0, "GET %s", path);
    int st = r.status;
    if (st == 401)
        h_assert_error(&r, 401, "invalid_api_key");
    else if (st == 200 && strcmp(path, "/metrics") == 0)
        cr_assert(strstr(r.body, "conduit_requests_total"), "%s", r.body);
    h_resp_free(&r);
    return st;
}

Test(newuser, metrics_need_no_key_by_default_and_probes_never_do)
{
    h_gw_start_with(NULL);
    cr_assert_eq(get_status("/metrics", NULL), 200);
    cr_assert_eq(get_status("/healthz", NULL), 200);
    cr_assert_eq(get_status("/readyz", NULL), 200);
    h_finish();
}

Test(newuser, metrics_require_key_refuses_metrics_without_a_valid_key_and_is_reloadable)
{
    struct h_gw_opts o = {.server_lines = "  metrics_require_key: true\n"};
    h_gw_start_with(&o);
    cr_assert_eq(get_status("/metrics", NULL), 401);
    cr_assert_eq(get_status("/metrics", "Authorization: Bearer sk-wrong\r\n"), 401);
    cr_assert_eq(get_status("/metrics", H_AUTH), 200);
    cr_assert_eq(get_status("/metrics", "x-api-key: " H_OTHER_CLIENT_KEY "\r\n"), 200);
    /* The probes stay open: Kubernetes sends no key. */
    cr_assert_eq(get_status("/healthz", NULL), 200);
    cr_assert_eq(get_status("/readyz", NULL), 200);

    /* Switched off by a reload, /metrics is open again without a restart. */
    h_gw_config(NULL);
    h_gw_signal(SIGHUP);
    double deadline = h_now_ms() + 5000;
    while (get_status("/metrics", NULL) != 200) {
        cr_assert(h_now_ms() < deadline, "/metrics still needs a key 5 s after the reload");
        h_sleep_ms(50);
    }
    /* And on again. */
    h_gw_config(&o);
    h_gw_signal(SIGHUP);
    deadline = h_now_ms() + 5000;
    while (get_status("/metrics", NULL) != 401) {
        cr_assert(h_now_ms() < deadline, "/metrics still open 5 s after the reload");
        h_sleep_ms(50);
    }
    h_finish();
}

/* The "model" member of the access log line for request id rid (malloc'd), or NULL. */
static char *logged_model(const char *rid)
{
    char *line = h_log_find(rid, 5000);
    cr_assert(line, "no access log line for %s", rid);
    char *m = h_json_dup(line, strlen(line), "model");
    long long st;
    cr_assert(h_json_int(line, strlen(line), "status", &st), "%s", line);
    cr_assert_eq(st, 404, "%s", line);
    free(line);
    return m;
}

static void chat_unknown(const char *model_json, const char *rid)
{
    char body[4096];
    snprintf(body, sizeof(body), "{\"model\":\"%s\",\"messages\":[]}", model_json);
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "x-request-id: %s\r\n", rid);
    struct h_resp r;
    cr_assert_eq(h_chat(body, hdr, &r), 0);
    h_assert_error(&r, 404, "model_not_found");
    h_resp_free(&r);
}

Test(newuser, access_log_keeps_the_unknown_model_name_asked_for)
{
    h_gw_start_with(NULL);
    chat_unknown("gpt-5-typo", "unknown-model-1");
    char *m = logged_model("unknown-model-1");
    cr_assert(m, "the log line has \"model\":null");
    cr_assert_str_eq(m, "gpt-5-typo");
    free(m);
    char *line = h_log_find("unknown-model-1", 100);
    cr_assert(strstr(line, "\"endpoint\":\"chat.completions\""), "%s", line);
    free(line);

    /* Escapes are decoded, and what the log writes is JSON-escaped again. */
    chat_unknown("quote\\\"back\\\\slash\\u00e9\\n", "unknown-model-2");
    m = logged_model("unknown-model-2");
    cr_assert(m);
    cr_assert_str_eq(m, "quote\"back\\slash\xc3\xa9\n");
    free(m);

    /* Bounded: 300 bytes asked for, 256 kept; with a 2-byte character across
     * the bound the cut falls before it, never inside it. */
    char longname[512];
    memset(longname, 'a', 255);
    memcpy(longname + 255, "\xc3\xa9", 2);
    memset(longname + 257, 'b', 43);
    longname[300] = '\0';
    chat_unknown(longname, "unknown-model-3");
    m = logged_model("unknown-model-3");
    cr_assert(m);
    cr_assert_eq(strlen(m), 255, "%zu bytes logged", strlen(m));
    cr_assert_eq(strspn(m, "a"), 255);
    free(m);

    /* A known model is logged by its configured name, as before. */
    char *body = h_chat_body(H_MODEL, false, NULL);
    struct h_resp r;
    cr_assert_eq(h_chat(body, "x-request-id: known-model-ok\r\n", &r), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    free(body);
    line = h_log_find("known-model-ok", 5000);
    cr_assert(line);
    cr_assert(strstr(line, "\"model\":\"" H_MODEL "\""), "%s", line);
    free(line);
    h_finish();
}

/*
 * A keep-alive connection hashes its key once and reuses the digest while
 * the same key comes back (net/server.c): a different key on the same
 * connection, even one of the same length, must be looked up afresh, and
 * the first key must work again after it.
 */
/* Sends GET /v1/models on c with key; returns the status. */
static int models_with(struct h_conn *c, const char *key)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", key);
    cr_assert_eq(h_send_request(c, "GET", "/v1/models", hdr, NULL), 0);
    struct h_resp r;
    cr_assert_eq(h_read_response(c, &r, H_IO_TIMEOUT_MS), 0, "key '%s'", key);
    int st = r.status;
    h_resp_free(&r);
    return st;
}

Test(newuser, one_connection_changing_its_key_is_authenticated_each_time)
{
    h_gw_start_with(NULL);
    struct h_conn c;
    cr_assert_eq(h_conn_open(&c, H.gw_port), 0);
    cr_assert_eq(models_with(&c, H_CLIENT_KEY), 200);
    cr_assert_eq(models_with(&c, H_OTHER_CLIENT_KEY), 200);
    cr_assert_eq(models_with(&c, H_CLIENT_KEY), 200);
    /* sk-tesX differs from sk-test in its last byte only: refused (a 401
     * closes the connection, so it comes last on this one). */
    cr_assert_eq(models_with(&c, "sk-tesX"), 401);
    h_conn_close(&c);
    h_finish();
}
