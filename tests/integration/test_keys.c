/*
 * tests/integration/test_keys.c — virtual keys, teams and budgets end to end
 * with the real binary and an embedded SQLite store: the admin API over HTTP
 * (create, list, show with spend, patch, rotate, revoke), what a client of
 * the proxy sees for each kind of key (401 with one body for every refused
 * key, 403 for a model outside the allow-list, 429 for a budget), the usage
 * report against what the responses said, the access log and /metrics, the
 * conduitctl CLI, and the OpenAPI document.
 *
 * Expected costs are computed here from the prices this file configures
 * (PRICE_*), never read back from the gateway: a request's cost is
 * prompt_tokens * input + completion_tokens * output, in USD per 1M tokens.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "harness_store.h"

/* gpt-4o-mini (the default model) and gpt-4o, USD per 1M tokens. */
#define PRICE_IN 0.15
#define PRICE_OUT 0.60
#define PRICE4_IN 2.5
#define PRICE4_OUT 10.0
#define M4 "gpt-4o"

extern char **environ;

static int admin_port;

/* ---- setup: the mock, a config with store + admin, conduit ---- */

static void setup(void)
{
    h_setup();
    h_mock_start(NULL);
}

TestSuite(keys, .init = setup, .fini = h_teardown, .timeout = 60);

/* Writes the config (store_extra: more lines under store:, indented) and starts conduit. */
static void start_gw(const char *store_extra)
{
    admin_port = h_free_port();
    hst_gw_start(&(struct hst_cfg){
        .model_items = "  - name: " M4 "\n"
                       "    provider: mock\n"
                       "    model: " M4 "\n",
        .store_lines = store_extra,
        .admin_port = admin_port,
        .price_items = "  - {model: " H_MODEL ", input: 0.15, output: 0.60, cached_input: 0.075}\n"
                       "  - {model: " M4 ", input: 2.5, output: 10.0}\n",
    });
}

/* ---- small helpers ---- */

static void create_team(const char *body, char *id, size_t cap)
{
    char *resp = hst_admin_ok(admin_port, "POST", "/admin/v1/teams", body, 201);
    hst_json_str(resp, "id", id, cap);
    free(resp);
}

/*
 * Polls GET /v1/models with secret until it answers want; returns the
 * milliseconds it took, or fails the test after timeout_ms.
 */
static double wait_key_status(const char *secret, int want, int timeout_ms)
{
    double ms = hst_wait_models(H.gw_port, secret, want, h_now_ms(), timeout_ms);
    cr_assert(ms >= 0, "key %.12s... does not answer %d after %d ms", secret, want, timeout_ms);
    return ms;
}

/* A chat request with secret and extra headers (may be NULL). */
static void chat_with(const char *secret, const char *body, const char *extra, struct h_resp *r)
{
    char hdr[512];
    int n =
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n%s", secret, extra ? extra : "");
    cr_assert(n > 0 && (size_t)n < sizeof(hdr));
    int rc = h_do(H.gw_port, "POST", "/v1/chat/completions", hdr, body, r);
    cr_assert_eq(rc, 0, "chat: %s", strerror(-rc));
}

/* What one answered request costs at this file's prices (USD). */
struct tally {
    long long requests, prompt, completion;
    double cost;
};

static void tally_add(struct tally *t, const struct h_resp *r, double in, double out)
{
    long long p, c;
    cr_assert(h_json_int(r->body, r->body_len, "usage.prompt_tokens", &p), "%s", r->body);
    cr_assert(h_json_int(r->body, r->body_len, "usage.completion_tokens", &c), "%s", r->body);
    t->requests++;
    t->prompt += p;
    t->completion += c;
    t->cost += ((double)p * in + (double)c * out) / 1e6;
}

/* Waits until /admin/v1/requests?key=id lists n rows; returns the answer (malloc'd). */
static char *wait_requests(const char *key_id, long n)
{
    char path[256];
    snprintf(path, sizeof(path), "/admin/v1/requests?key=%s&limit=1000", key_id);
    double deadline = h_now_ms() + 10000;
    for (;;) {
        char *b = hst_admin_ok(admin_port, "GET", path, NULL, 200);
        long got = h_json_array_len(b, strlen(b), "data");
        if (got == n)
            return b;
        cr_assert(got < n, "%ld request rows for key %s, want %ld: %s", got, key_id, n, b);
        cr_assert(h_now_ms() < deadline, "only %ld of %ld request rows after 10 s", got, n);
        free(b);
        h_sleep_ms(50);
    }
}

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 + 1e-9 * fabs(b);
}

/* ---- admin API and the proxy ---- */

Test(keys, created_key_works_at_once_and_its_spend_matches_the_requests)
{
    start_gw(NULL);
    char team[128];
    create_team("{\"name\":\"research\"}", team, sizeof(team));
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"name\":\"alice\",\"team\":\"%s\",\"models\":[\"" H_MODEL "\"],"
             "\"budget\":{\"limit_usd\":5,\"period\":\"monthly\"},\"metadata\":{\"owner\":\"a\"}}",
             team);
    struct hst_key k;
    double t0 = h_now_ms();
    char *created = hst_key_create(admin_port, body, &k);
    double t_created = h_now_ms();
    double ms = wait_key_status(k.secret, 200, 1000);
    fprintf(stderr,
            "keys: a new virtual key was accepted %.1f ms after its 201 (%.1f ms after the POST "
            "was sent)\n",
            ms, ms + (t_created - t0));
    char v[256];
    hst_json_str(created, "team", v, sizeof(v));
    cr_assert_str_eq(v, team);
    hst_json_str(created, "models.0", v, sizeof(v));
    cr_assert_str_eq(v, H_MODEL);
    hst_json_str(created, "key_hint", v, sizeof(v));
    cr_assert(strncmp(v, k.secret, 10) == 0, "hint %s is not the start of the secret", v);
    free(created);

    /* A few answered requests, costs summed from their usage objects. */
    struct tally t = {0};
    const int nreq = 4;
    for (int i = 0; i < nreq; i++) {
        char extra[64];
        snprintf(extra, sizeof(extra), "\"max_tokens\":20,\"mock\":{\"chunks\":%d}", 3 + i);
        char *cb = h_chat_body(H_MODEL, false, extra);
        char rid[96];
        snprintf(rid, sizeof(rid), "X-Request-Id: keys-spend-%d\r\n", i);
        struct h_resp r;
        chat_with(k.secret, cb, rid, &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        tally_add(&t, &r, PRICE_IN, PRICE_OUT);
        h_resp_free(&r);
        free(cb);
        /* The log orders by the millisecond a request ended; two in one
         * millisecond have no order between them, so keep them apart. */
        h_sleep_ms(2);
    }

    /* The request log: one row per request, costs as computed here. */
    char *reqs = wait_requests(k.id, nreq);
    double sum_cost = 0;
    for (int i = 0; i < nreq; i++) {
        char p[64];
        snprintf(p, sizeof(p), "data.%d.cost_usd", i);
        sum_cost += hst_json_num(reqs, p);
        snprintf(p, sizeof(p), "data.%d.key_id", i);
        hst_json_str(reqs, p, v, sizeof(v));
        cr_assert_str_eq(v, k.id);
    }
    /* newest first */
    hst_json_str(reqs, "data.0.request_id", v, sizeof(v));
    cr_assert_str_eq(v, "keys-spend-3");
    cr_assert(near(sum_cost, t.cost), "request log costs %.12f, computed %.12f", sum_cost, t.cost);
    free(reqs);

    /* show: spend_usd is the sum of the request log's costs, over this month. */
    char path[256];
    snprintf(path, sizeof(path), "/admin/v1/keys/%s", k.id);
    char *show = hst_admin_ok(admin_port, "GET", path, NULL, 200);
    double spend = hst_json_num(show, "spend.spend_usd");
    cr_assert(near(spend, sum_cost), "show spend %.12f, request log %.12f", spend, sum_cost);
    cr_assert(near(hst_json_num(show, "spend.limit_usd"), 5.0));
    hst_json_str(show, "spend.period_start", v, sizeof(v));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char month[16];
    strftime(month, sizeof(month), "%Y-%m-01", &tm);
    cr_assert(strncmp(v, month, 10) == 0, "period_start %s, want %s", v, month);
    free(show);

    /* usage by key, model and day: sums equal what the responses said. */
    static const char *const groups[] = {"key", "model", "day"};
    char today[16];
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    const char *want_group[] = {k.id, H_MODEL, today};
    for (size_t g = 0; g < 3; g++) {
        snprintf(path, sizeof(path), "/admin/v1/usage?group_by=%s&key=%s", groups[g], k.id);
        char *u = hst_admin_ok(admin_port, "GET", path, NULL, 200);
        cr_assert_eq(h_json_array_len(u, strlen(u), "data"), 1, "%s", u);
        hst_json_str(u, "data.0.group", v, sizeof(v));
        cr_assert_str_eq(v, want_group[g]);
        cr_assert_eq(hst_json_ll(u, "data.0.requests"), t.requests, "%s", u);
        cr_assert_eq(hst_json_ll(u, "data.0.prompt_tokens"), t.prompt, "%s", u);
        cr_assert_eq(hst_json_ll(u, "data.0.completion_tokens"), t.completion, "%s", u);
        cr_assert(near(hst_json_num(u, "data.0.cost_usd"), t.cost), "%s: want %.12f", u, t.cost);
        free(u);
    }

    /* The access log line names the key id, the team and the cost. */
    char *line = h_log_find("keys-spend-0", 5000);
    cr_assert(line != NULL, "no access log line for keys-spend-0");
    hst_json_str(line, "key_id", v, sizeof(v));
    cr_assert_str_eq(v, k.id);
    hst_json_str(line, "key", v, sizeof(v));
    cr_assert_str_eq(v, "alice");
    hst_json_str(line, "team", v, sizeof(v));
    cr_assert_str_eq(v, "research");
    double c0 = hst_json_num(line, "cost_usd");
    cr_assert(c0 > 0, "%s", line);
    free(line);

    /* /metrics: conduit_spend_usd_total for the key is the computed total. */
    struct h_resp m;
    cr_assert_eq(h_do(H.gw_port, "GET", "/metrics", NULL, NULL, &m), 0);
    cr_assert_eq(m.status, 200);
    const char *needle =
        "conduit_spend_usd_total{key=\"alice\",team=\"research\",model=\"" H_MODEL "\"} ";
    const char *at = strstr(m.body, needle);
    cr_assert(at != NULL, "no %s in /metrics", needle);
    double mv = strtod(at + strlen(needle), NULL);
    cr_assert(near(mv, t.cost), "metrics spend %.12f, computed %.12f", mv, t.cost);
    h_resp_free(&m);
    h_finish();
}

Test(keys, list_paginates_with_limit_and_after)
{
    start_gw(NULL);
    char ids[5][128];
    for (int i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"name\":\"page-%d\"}", i);
        struct hst_key k;
        free(hst_key_create(admin_port, body, &k));
        snprintf(ids[i], sizeof(ids[i]), "%s", k.id);
    }
    /* Walk pages of 2; every created id exactly once, ascending, has_more till the end. */
    char seen[8][128];
    int nseen = 0;
    char after[128] = "";
    for (int page = 0; page < 5; page++) {
        char path[256];
        snprintf(path, sizeof(path), "/admin/v1/keys?limit=2%s%s", after[0] ? "&after=" : "",
                 after);
        char *b = hst_admin_ok(admin_port, "GET", path, NULL, 200);
        long n = h_json_array_len(b, strlen(b), "data");
        cr_assert(n >= 0 && n <= 2, "%s", b);
        for (long i = 0; i < n; i++) {
            char p[32];
            snprintf(p, sizeof(p), "data.%ld.id", i);
            cr_assert(nseen < 8);
            hst_json_str(b, p, seen[nseen], sizeof(seen[nseen]));
            nseen++;
        }
        bool more = h_json_true(b, strlen(b), "has_more");
        if (!more) {
            free(b);
            break;
        }
        cr_assert_eq(n, 2, "has_more with a short page: %s", b);
        hst_json_str(b, "last_id", after, sizeof(after));
        cr_assert_str_eq(after, seen[nseen - 1]);
        free(b);
    }
    cr_assert_eq(nseen, 5, "listed %d keys, created 5", nseen);
    for (int i = 1; i < nseen; i++)
        cr_assert(strcmp(seen[i - 1], seen[i]) < 0, "not ordered by id: %s, %s", seen[i - 1],
                  seen[i]);
    for (int i = 0; i < 5; i++) {
        int found = 0;
        for (int j = 0; j < nseen; j++)
            found += strcmp(ids[i], seen[j]) == 0;
        cr_assert_eq(found, 1, "key %s listed %d times", ids[i], found);
    }
    h_finish();
}

Test(keys, rotate_stops_the_old_secret_at_once_or_after_the_grace)
{
    start_gw(NULL);
    struct hst_key k;
    free(hst_key_create(admin_port, "{\"name\":\"rot\"}", &k));
    wait_key_status(k.secret, 200, 1000);

    char path[256];
    snprintf(path, sizeof(path), "/admin/v1/keys/%s/rotate", k.id);
    char *rot = hst_admin_ok(admin_port, "POST", path, "{}", 200);
    char fresh[128];
    hst_json_str(rot, "key", fresh, sizeof(fresh));
    free(rot);
    cr_assert_str_neq(fresh, k.secret);
    wait_key_status(fresh, 200, 1000);
    cr_assert_eq(hst_models(H.gw_port, k.secret, NULL), 401,
                 "the old secret still works after rotate");

    /* With a grace period both work. */
    rot = hst_admin_ok(admin_port, "POST", path, "{\"grace_seconds\":60}", 200);
    char third[128];
    hst_json_str(rot, "key", third, sizeof(third));
    free(rot);
    wait_key_status(third, 200, 1000);
    cr_assert_eq(hst_models(H.gw_port, fresh, NULL), 200,
                 "the previous secret stopped inside its grace");
    cr_assert_eq(hst_models(H.gw_port, k.secret, NULL), 401);
    h_finish();
}

Test(keys, revoked_expired_disabled_and_unknown_keys_get_the_same_401)
{
    start_gw(NULL);
    struct h_resp unknown;
    cr_assert_eq(hst_models(H.gw_port, "condt_00000000000000000000000000000000", &unknown), 401);
    h_assert_error(&unknown, 401, "invalid_api_key");

    struct hst_key expired, revoked, disabled, probe;
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"old\",\"expires_at\":%lld}",
             (long long)time(NULL) - 10);
    free(hst_key_create(admin_port, body, &expired));
    free(hst_key_create(admin_port, "{\"name\":\"rev\"}", &revoked));
    free(hst_key_create(admin_port, "{\"name\":\"dis\"}", &disabled));
    free(hst_key_create(admin_port, "{\"name\":\"probe\"}", &probe));
    /* The last key working means the snapshot holds the earlier ones too. */
    wait_key_status(probe.secret, 200, 1000);
    cr_assert_eq(hst_models(H.gw_port, revoked.secret, NULL), 200);
    cr_assert_eq(hst_models(H.gw_port, disabled.secret, NULL), 200);

    char path[256];
    snprintf(path, sizeof(path), "/admin/v1/keys/%s", revoked.id);
    char *del = hst_admin_ok(admin_port, "DELETE", path, NULL, 200);
    cr_assert(h_json_true(del, strlen(del), "deleted"), "%s", del);
    free(del);
    snprintf(path, sizeof(path), "/admin/v1/keys/%s", disabled.id);
    free(hst_admin_ok(admin_port, "PATCH", path, "{\"enabled\":false}", 200));
    wait_key_status(revoked.secret, 401, 1000);
    wait_key_status(disabled.secret, 401, 1000);

    const struct hst_key *refused[] = {&expired, &revoked, &disabled};
    const char *what[] = {"expired", "revoked", "disabled"};
    char *cb = h_chat_body(H_MODEL, false, NULL);
    for (size_t i = 0; i < 3; i++) {
        struct h_resp r;
        cr_assert_eq(hst_models(H.gw_port, refused[i]->secret, &r), 401, "%s key", what[i]);
        cr_assert_eq(r.body_len, unknown.body_len, "%s: %s vs unknown: %s", what[i], r.body,
                     unknown.body);
        cr_assert(memcmp(r.body, unknown.body, r.body_len) == 0, "%s: %s vs unknown: %s", what[i],
                  r.body, unknown.body);
        h_resp_free(&r);
        /* And on the chat route. */
        chat_with(refused[i]->secret, cb, NULL, &r);
        h_assert_error(&r, 401, "invalid_api_key");
        h_resp_free(&r);
    }
    free(cb);
    h_resp_free(&unknown);
    h_finish();
}

Test(keys, allow_list_refuses_other_models_and_filters_the_model_list)
{
    start_gw(NULL);
    struct hst_key k;
    free(hst_key_create(admin_port, "{\"name\":\"narrow\",\"models\":[\"gpt-4o-m*\"]}", &k));
    wait_key_status(k.secret, 200, 1000);

    char *cb = h_chat_body(M4, false, NULL);
    struct h_resp r;
    chat_with(k.secret, cb, NULL, &r);
    h_assert_error(&r, 403, "model_not_allowed");
    h_resp_free(&r);
    free(cb);
    cb = h_chat_body(H_MODEL, false, NULL);
    chat_with(k.secret, cb, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_resp_free(&r);
    free(cb);

    cr_assert_eq(hst_models(H.gw_port, k.secret, &r), 200);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data"), 1, "%s", r.body);
    char v[128];
    hst_json_str(r.body, "data.0.id", v, sizeof(v));
    cr_assert_str_eq(v, H_MODEL);
    h_resp_free(&r);
    /* A static key is not filtered. */
    cr_assert_eq(hst_models(H.gw_port, H_CLIENT_KEY, &r), 200);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data"), 2, "%s", r.body);
    h_resp_free(&r);
    h_finish();
}

/* Tomorrow (UTC) as YYYY-MM-DD: when a daily budget resets. */
static void tomorrow_utc(char *out, size_t cap)
{
    time_t t = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d", &tm);
}

Test(keys, budget_refusal_is_429_insufficient_quota_naming_the_key_and_its_reset)
{
    start_gw(NULL);
    /*
     * The estimate of one request (max_tokens 100 at $0.60/1M = $0.00006
     * alone) is above the key's $0.00001 limit, so the first request is refused.
     */
    struct hst_key k;
    free(hst_key_create(
        admin_port, "{\"name\":\"tiny\",\"budget\":{\"limit_usd\":0.00001,\"period\":\"daily\"}}",
        &k));
    wait_key_status(k.secret, 200, 1000);
    char *cb = h_chat_body(H_MODEL, false, "\"max_tokens\":100");
    struct h_resp r;
    chat_with(k.secret, cb, NULL, &r);
    h_assert_error(&r, 429, "budget_exceeded");
    char v[512], day[16];
    hst_json_str(r.body, "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "insufficient_quota");
    hst_json_str(r.body, "error.message", v, sizeof(v));
    tomorrow_utc(day, sizeof(day));
    cr_assert(strstr(v, "tiny") && strstr(v, "key"), "message does not name the key: %s", v);
    cr_assert(strstr(v, day) != NULL, "message does not name the reset (%s): %s", day, v);
    h_resp_free(&r);

    /* The team's budget binds first: a roomy key in a team with a tiny budget. */
    char team[128];
    create_team("{\"name\":\"frugal\",\"budget\":{\"limit_usd\":0.00001,\"period\":\"daily\"}}",
                team, sizeof(team));
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"roomy\",\"team\":\"%s\",\"budget\":{\"limit_usd\":100}}", team);
    struct hst_key k2;
    free(hst_key_create(admin_port, body, &k2));
    wait_key_status(k2.secret, 200, 1000);
    chat_with(k2.secret, cb, NULL, &r);
    h_assert_error(&r, 429, "budget_exceeded");
    hst_json_str(r.body, "error.message", v, sizeof(v));
    cr_assert(strstr(v, "team") && strstr(v, "frugal"), "message does not name the team: %s", v);
    h_resp_free(&r);

    /* Within both budgets it is served. */
    free(cb);
    cb = h_chat_body(H_MODEL, false, "\"max_tokens\":5,\"mock\":{\"chunks\":2}");
    chat_with(k2.secret, cb, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    h_resp_free(&r);
    free(cb);
    h_finish();
}

Test(keys, openapi_document_parses_and_lists_the_keys_route)
{
    start_gw(NULL);
    struct h_resp r;
    cr_assert_eq(h_do(admin_port, "GET", "/admin/v1/openapi.json", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char v[64];
    cr_assert(h_json_get(r.body, r.body_len, "openapi", v, sizeof(v)) >= 0, "no openapi member");
    cr_assert(strncmp(v, "3.1", 3) == 0, "openapi %s", v);
    /* h_json_get's dotted path cannot name "/admin/v1/keys"; find the member textually. */
    cr_assert(strstr(r.body, "\"/admin/v1/keys\"") != NULL, "no /admin/v1/keys path");
    cr_assert(strstr(r.body, "\"/admin/v1/keys/{id}/rotate\"") != NULL, "no rotate path");
    h_resp_free(&r);
    /* Without the master key the API itself refuses. */
    cr_assert_eq(h_do(admin_port, "GET", "/admin/v1/keys", NULL, NULL, &r), 0);
    h_assert_error(&r, 401, NULL);
    h_resp_free(&r);
    h_finish();
}

/* ---- conduitctl ---- */

struct ctl_run {
    int code; /* exit status, -1 if it did not exit normally */
    char *out;
    char *err;
};

static void ctl_free(struct ctl_run *c)
{
    free(c->out);
    free(c->err);
}

/* Runs conduitctl --url <admin> --master-key HST_MASTER_KEY args... (NULL-terminated). */
static void ctl(struct ctl_run *res, const char *const *args)
{
    char url[64], out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", admin_port);
    snprintf(out_path, sizeof(out_path), "%s/ctl.out", H.dir);
    snprintf(err_path, sizeof(err_path), "%s/ctl.err", H.dir);
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)GW_CTL_BIN;
    argv[n++] = (char *)"--url";
    argv[n++] = url;
    argv[n++] = (char *)"--master-key";
    argv[n++] = (char *)HST_MASTER_KEY;
    for (size_t i = 0; args[i]; i++) {
        cr_assert(n < 31);
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn conduitctl: %s", strerror(rc));
    int st;
    double deadline = h_now_ms() + 10000;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        cr_assert(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (h_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            cr_assert_fail("conduitctl did not exit within 10 s");
        }
        h_sleep_ms(5);
    }
    res->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    res->out = h_read_file(out_path, NULL);
    res->err = h_read_file(err_path, NULL);
    cr_assert(res->out && res->err);
}

#define CTL(res, ...)                                                                              \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        ctl(res, a_);                                                                              \
    } while (0)

Test(keys, conduitctl_manages_keys_and_teams_and_reports_usage)
{
    start_gw(NULL);
    struct ctl_run c;
    CTL(&c, "--json", "teams", "create", "--name", "ctl-team");
    cr_assert_eq(c.code, 0, "teams create: %d %s", c.code, c.err);
    char team[128];
    hst_json_str(c.out, "id", team, sizeof(team));
    ctl_free(&c);

    CTL(&c, "--json", "keys", "create", "--name", "ctl-key", "--team", team, "--models", H_MODEL,
        "--budget", "2", "--period", "monthly");
    cr_assert_eq(c.code, 0, "keys create: %d %s", c.code, c.err);
    struct hst_key k;
    hst_json_str(c.out, "id", k.id, sizeof(k.id));
    hst_json_str(c.out, "key", k.secret, sizeof(k.secret));
    cr_assert(strncmp(k.secret, "condt_", 6) == 0, "%s", c.out);
    ctl_free(&c);

    /* The table form shows the secret once, prominently. */
    CTL(&c, "keys", "create", "--name", "ctl-table-key");
    cr_assert_eq(c.code, 0, "%s", c.err);
    cr_assert(strstr(c.out, "condt_") && strstr(c.out, "shown once"), "%s", c.out);
    ctl_free(&c);

    wait_key_status(k.secret, 200, 1000);
    char *cb = h_chat_body(H_MODEL, false, "\"max_tokens\":10,\"mock\":{\"chunks\":4}");
    struct h_resp r;
    struct tally t = {0};
    chat_with(k.secret, cb, "X-Request-Id: ctl-req-1\r\n", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    tally_add(&t, &r, PRICE_IN, PRICE_OUT);
    h_resp_free(&r);
    free(cb);
    free(wait_requests(k.id, 1));

    CTL(&c, "keys", "list");
    cr_assert_eq(c.code, 0, "%s", c.err);
    cr_assert(strstr(c.out, "ctl-key") && strstr(c.out, k.id), "%s", c.out);
    ctl_free(&c);

    CTL(&c, "keys", "show", k.id);
    cr_assert_eq(c.code, 0, "%s", c.err);
    cr_assert(strstr(c.out, "ctl-key") != NULL, "%s", c.out);
    ctl_free(&c);

    CTL(&c, "--json", "keys", "show", k.id);
    cr_assert_eq(c.code, 0, "%s", c.err);
    cr_assert(near(hst_json_num(c.out, "spend.spend_usd"), t.cost), "%s want %.12f", c.out, t.cost);
    ctl_free(&c);

    CTL(&c, "--json", "usage", "--by", "key", "--key", k.id);
    cr_assert_eq(c.code, 0, "%s", c.err);
    char v[128];
    hst_json_str(c.out, "data.0.group", v, sizeof(v));
    cr_assert_str_eq(v, k.id);
    cr_assert_eq(hst_json_ll(c.out, "data.0.requests"), 1);
    cr_assert_eq(hst_json_ll(c.out, "data.0.prompt_tokens"), t.prompt);
    cr_assert(near(hst_json_num(c.out, "data.0.cost_usd"), t.cost), "%s", c.out);
    ctl_free(&c);

    CTL(&c, "--json", "requests", "--key", k.id);
    cr_assert_eq(c.code, 0, "%s", c.err);
    hst_json_str(c.out, "data.0.request_id", v, sizeof(v));
    cr_assert_str_eq(v, "ctl-req-1");
    ctl_free(&c);

    CTL(&c, "keys", "revoke", k.id);
    cr_assert_eq(c.code, 0, "%s", c.err);
    ctl_free(&c);
    wait_key_status(k.secret, 401, 1000);

    /* An API error: exit 1 and the server's message on stderr. */
    CTL(&c, "keys", "show", "no-such-key-id");
    cr_assert_eq(c.code, 1, "show of an unknown id exited %d", c.code);
    cr_assert(strlen(c.err) > 0, "no message on stderr");
    ctl_free(&c);
    /* A usage error: exit 2. */
    CTL(&c, "keys", "create", "--no-such-flag");
    cr_assert_eq(c.code, 2, "a bad flag exited %d", c.code);
    cr_assert(strlen(c.err) > 0, "no message on stderr");
    ctl_free(&c);
    CTL(&c, "usage");
    cr_assert_eq(c.code, 2, "usage without --by exited %d", c.code);
    ctl_free(&c);
    h_finish();
}
