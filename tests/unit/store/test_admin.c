/*
 * Tests for store/admin.c: the admin API handler against a real SQLite
 * database in a temporary directory (migrated first), called directly with
 * method, target, Authorization and body.
 *
 * Expectations are computed here, independently of the handler: digests with
 * BearSSL's SHA-256, spend and usage sums by hand from the rows the tests
 * insert with plain SQL, times from a fixed clock (env->now).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bearssl.h>
#include <criterion/criterion.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/json.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/store.h"

#define MASTER "test-master-key"
/* 2026-03-15T12:00:00Z, a Sunday: day 20527 since the epoch. */
#define NOW 1773576000LL
#define DAY(t) ((t) / 86400)

static char dir[64];
static char dbpath[128];
static struct gw_db *db;
static struct gw_admin_env env;
static int changed_calls;
static int64_t now_value = NOW;
static struct gw_accounts *accounts;

static void on_changed(void *arg)
{
    (void)arg;
    changed_calls++;
}

static int64_t fixed_now(void *arg)
{
    (void)arg;
    return now_value;
}

static struct gw_accounts *get_accounts(void *arg)
{
    (void)arg;
    if (accounts)
        gw_accounts_ref(accounts);
    return accounts;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/gw_admin_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof(dbpath), "sqlite:%s/a.db", dir);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_open(dbpath, &db, &err), 0, "%s", err.message);
    cr_assert_eq(gw_store_migrate(db, NULL, NULL, &err), 0, "%s", err.message);
    memset(&env, 0, sizeof(env));
    env.db = db;
    env.master_key = MASTER;
    env.changed = on_changed;
    env.now = fixed_now;
    env.accounts_get = get_accounts;
    changed_calls = 0;
    now_value = NOW;
}

static void teardown(void)
{
    gw_db_close(db);
    db = NULL;
    gw_accounts_unref(accounts);
    accounts = NULL;
    char p[160];
    static const char *const files[] = {"a.db", "a.db-wal", "a.db-shm", "a.db-journal"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(files); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(admin, .init = setup, .fini = teardown);

/* ---- calling the handler ---- */

static struct gw_admin_resp call_auth(const char *method, const char *target, const char *auth,
                                      const char *body)
{
    struct gw_admin_resp r;
    gw_admin_handle(&env, gw_span_cstr(method), gw_span_cstr(target),
                    auth ? gw_span_cstr(auth) : GW_SPAN_NULL,
                    body ? gw_span_cstr(body) : GW_SPAN_NULL, &r);
    cr_assert_not_null(r.body);
    cr_assert_eq(strlen(r.body), r.len);
    cr_assert(gw_json_validate(r.body, r.len), "not JSON: %s", r.body);
    return r;
}

static struct gw_admin_resp call(const char *method, const char *target, const char *body)
{
    return call_auth(method, target, "Bearer " MASTER, body);
}

/* ---- reading responses: a dotted path ("data.0.id") to a value ---- */

static bool jfind(const char *buf, size_t len, const char *path, struct gw_json_tok *tok,
                  size_t *vstart, size_t *vend)
{
    size_t base = 0, n = len;
    char seg[128];
    const char *p = path;
    while (true) {
        struct gw_json j;
        struct gw_json_tok t;
        gw_json_init(&j, buf + base, n);
        if (gw_json_next(&j, &t) != 1)
            return false;
        if (!*p) {
            size_t end = t.end;
            if ((t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN) &&
                gw_json_skip(&j, &t, &end) < 0)
                return false;
            *tok = t;
            *vstart = base + t.start;
            *vend = base + end;
            return true;
        }
        const char *dot = strchr(p, '.');
        size_t sl = dot ? (size_t)(dot - p) : strlen(p);
        cr_assert_lt(sl, sizeof(seg));
        memcpy(seg, p, sl);
        seg[sl] = '\0';
        p += sl + (dot ? 1 : 0);
        if (t.type == GW_JT_OBJ_BEGIN) {
            const char *keys[] = {seg};
            struct gw_json_member m;
            if (gw_json_scan_object(buf + base, n, keys, 1, &m) < 0 || !m.found)
                return false;
            size_t s = base + m.value.start;
            n = m.value_end - m.value.start;
            base = s;
        } else if (t.type == GW_JT_ARR_BEGIN) {
            long idx = strtol(seg, NULL, 10);
            bool found = false;
            for (long i = 0;; i++) {
                if (gw_json_next(&j, &t) != 1 || t.type == GW_JT_ARR_END)
                    return false;
                size_t end = t.end;
                if ((t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN) &&
                    gw_json_skip(&j, &t, &end) < 0)
                    return false;
                if (i == idx) {
                    size_t s = base + t.start;
                    n = end - t.start;
                    base = s;
                    found = true;
                    break;
                }
            }
            if (!found)
                return false;
        } else {
            return false;
        }
    }
}

static enum gw_json_tok_type jtype(const struct gw_admin_resp *r, const char *path)
{
    struct gw_json_tok t;
    size_t s, e;
    if (!jfind(r->body, r->len, path, &t, &s, &e))
        return GW_JT_NONE;
    return t.type;
}

/* The string at path, unescaped, in a static buffer; NULL when absent or not a string. */
static const char *jstr(const struct gw_admin_resp *r, const char *path)
{
    static char bufs[4][4096];
    static unsigned next;
    struct gw_json_tok t;
    size_t s, e;
    if (!jfind(r->body, r->len, path, &t, &s, &e) || t.type != GW_JT_STRING)
        return NULL;
    char *out = bufs[next++ % 4];
    long n = gw_json_unescape(t.span, out, 4095);
    cr_assert_geq(n, 0);
    out[n] = '\0';
    return out;
}

static double jnum(const struct gw_admin_resp *r, const char *path)
{
    struct gw_json_tok t;
    size_t s, e;
    cr_assert(jfind(r->body, r->len, path, &t, &s, &e), "%s missing in %s", path, r->body);
    cr_assert_eq(t.type, GW_JT_NUMBER, "%s is not a number in %s", path, r->body);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)t.span.len, t.span.ptr);
    return strtod(tmp, NULL);
}

static bool jbool(const struct gw_admin_resp *r, const char *path)
{
    enum gw_json_tok_type t = jtype(r, path);
    cr_assert(t == GW_JT_TRUE || t == GW_JT_FALSE, "%s is not a bool in %s", path, r->body);
    return t == GW_JT_TRUE;
}

static size_t jlen(const struct gw_admin_resp *r, const char *path)
{
    char p[128];
    size_t n = 0;
    while (true) {
        snprintf(p, sizeof(p), "%s%s%zu", path, *path ? "." : "", n);
        if (jtype(r, p) == GW_JT_NONE)
            return n;
        n++;
    }
}

static void expect_error(const struct gw_admin_resp *r, int status, const char *code,
                         const char *param)
{
    cr_assert_eq(r->status, status, "status %d, want %d: %s", r->status, status, r->body);
    cr_assert_str_eq(jstr(r, "error.code"), code, "%s", r->body);
    cr_assert_str_eq(jstr(r, "error.type"),
                     status >= 500 ? "server_error" : "invalid_request_error");
    cr_assert_not_null(jstr(r, "error.message"));
    if (param)
        cr_assert_str_eq(jstr(r, "error.param"), param, "%s", r->body);
    else
        cr_assert_eq(jtype(r, "error.param"), GW_JT_NULL, "%s", r->body);
}

/* ---- reading the database directly ---- */

static int row_text(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    char *out = arg;
    cr_assert_geq(ncols, 1);
    if (cols[0].t == GW_DBV_NULL)
        snprintf(out, 256, "NULL");
    else if (cols[0].t == GW_DBV_TEXT)
        snprintf(out, 256, "%.*s", (int)cols[0].len, cols[0].s);
    else
        snprintf(out, 256, "%" PRId64, gw_dbv_int(&cols[0], 0));
    return 0;
}

/* The first column of the first row as text ("NULL", "" when no row). */
static const char *sql1(const char *sql, const char *arg)
{
    static char out[256];
    out[0] = '\0';
    struct gw_dbv p[] = {GW_DBV_STR(arg ? arg : "")};
    struct gw_db_err err = {0};
    int64_t n = gw_db_exec(db, sql, p, arg ? 1 : 0, row_text, out, &err);
    cr_assert_geq(n, 0, "%s: %s", sql, err.message);
    return out;
}

static void exec_sql(const char *sql, const struct gw_dbv *p, size_t n)
{
    struct gw_db_err err = {0};
    cr_assert_geq(gw_db_exec(db, sql, p, n, NULL, NULL, &err), 0, "%s: %s", sql, err.message);
}

static void sha256_hex(const char *s, char out[65])
{
    br_sha256_context ctx;
    uint8_t d[32];
    br_sha256_init(&ctx);
    br_sha256_update(&ctx, s, strlen(s));
    br_sha256_out(&ctx, d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Creates a key (or team) from body, asserts 201, copies its id. */
static void create(const char *what, const char *body, char id[80])
{
    char target[64];
    snprintf(target, sizeof(target), "/admin/v1/%s", what);
    struct gw_admin_resp r = call("POST", target, body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(id, 80, "%s", jstr(&r, "id"));
    gw_admin_resp_free(&r);
}

static void add_spend(const char *subject, int64_t day, int64_t pusd)
{
    struct gw_dbv p[] = {GW_DBV_STR(subject), GW_DBV_INT(day), GW_DBV_INT(pusd)};
    exec_sql("INSERT INTO spend (subject, day, cost_pusd, requests) VALUES ($1, $2, $3, 1)", p, 3);
}

/* One usage row; cost < 0 stores NULL (unknown price). */
static void add_usage(int64_t time_ms, const char *key, const char *team, const char *model,
                      int status, int64_t pt, int64_t ct, int64_t cached, int64_t cost)
{
    static int64_t seq;
    struct gw_dbv p[] = {
        GW_DBV_INT(time_ms),
        GW_DBV_STR("req"),
        key ? GW_DBV_STR(key) : GW_DBV_NUL,
        team ? GW_DBV_STR(team) : GW_DBV_NUL,
        GW_DBV_STR(model),
        GW_DBV_INT(status),
        GW_DBV_INT(pt),
        GW_DBV_INT(ct),
        GW_DBV_INT(cached),
        cost >= 0 ? GW_DBV_INT(cost) : GW_DBV_NUL,
        GW_DBV_INT(++seq),
    };
    exec_sql("INSERT INTO usage (time_ms, request_id, key_id, key_name, team_id, model, provider, "
             "deployment, endpoint, stream, status, error, prompt_tokens, completion_tokens, "
             "cached_tokens, cache_write_tokens, reasoning_tokens, cost_pusd, est_pusd, "
             "price_version, ttfb_us, duration_us, bytes_in, bytes_out, boot, worker, seq) "
             "VALUES ($1, $2, $3, 'name', $4, $5, 'openai', 'dep', 'chat', 0, $6, NULL, $7, $8, "
             "$9, 0, 0, $10, 0, 'v1', 1500, 25000, 10, 20, 'boot', 0, $11)",
             p, GW_ARRAY_SIZE(p));
}

/* ---- auth and routing ---- */

Test(admin, requests_without_or_with_a_wrong_master_key_get_401)
{
    static const char *const auths[] = {NULL,
                                        "",
                                        "Bearer",
                                        "Bearer wrong",
                                        "Basic " MASTER,
                                        "Bearer " MASTER "x",
                                        "Bearer test-master-ke"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(auths); i++) {
        struct gw_admin_resp r = call_auth("GET", "/admin/v1/keys", auths[i], NULL);
        expect_error(&r, 401, "invalid_api_key", NULL);
        gw_admin_resp_free(&r);
    }
    struct gw_admin_resp r = call_auth("GET", "/admin/v1/keys", "bearer   " MASTER, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    gw_admin_resp_free(&r);
    r = call_auth("POST", "/admin/v1/keys", "Bearer nope", "{\"name\":\"x\"}");
    expect_error(&r, 401, "invalid_api_key", NULL);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 0);
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM keys", NULL), "0");
}

Test(admin, openapi_document_needs_no_auth_and_is_the_exported_text)
{
    struct gw_admin_resp r = call_auth("GET", "/admin/v1/openapi.json", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, gw_admin_openapi_json);
    cr_assert_str_eq(jstr(&r, "openapi"), "3.1.0");
    cr_assert_str_eq(jstr(&r, "components.securitySchemes.master_key.scheme"), "bearer");
    gw_admin_resp_free(&r);
}

Test(admin, unknown_routes_are_404_and_wrong_methods_405)
{
    static const char *const paths[] = {"/admin/v1/nope",
                                        "/admin/v2/keys",
                                        "/other",
                                        "/admin/v1/keys/k1/explode",
                                        "/admin/v1/teams/t/rotate",
                                        "/admin/v1/keys/",
                                        "/admin/v1/prices/"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(paths); i++) {
        struct gw_admin_resp r = call("GET", paths[i], NULL);
        expect_error(&r, 404, "not_found", NULL);
        gw_admin_resp_free(&r);
    }
    static const char *const m405[][2] = {{"PUT", "/admin/v1/keys"},
                                          {"POST", "/admin/v1/keys/key_x"},
                                          {"GET", "/admin/v1/keys/key_x/rotate"},
                                          {"DELETE", "/admin/v1/usage"},
                                          {"POST", "/admin/v1/prices"},
                                          {"GET", "/admin/v1/prices/gpt-4o"},
                                          {"POST", "/admin/v1/openapi.json"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(m405); i++) {
        struct gw_admin_resp r = call(m405[i][0], m405[i][1], NULL);
        expect_error(&r, 405, "method_not_allowed", NULL);
        gw_admin_resp_free(&r);
    }
    cr_assert_eq(changed_calls, 0);
}

/* ---- keys ---- */

Test(admin, create_key_returns_the_secret_once_and_stores_only_its_digest)
{
    struct gw_admin_resp r = call("POST", "/admin/v1/keys", "{\"name\":\"app one\"}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_eq(changed_calls, 1);
    cr_assert_not_null(jstr(&r, "key"));
    char secret[64];
    snprintf(secret, sizeof(secret), "%s", jstr(&r, "key"));
    cr_assert_eq(strlen(secret), 38);
    cr_assert_eq(strncmp(secret, "condt_", 6), 0);
    char hint[11];
    memcpy(hint, secret, 10);
    hint[10] = '\0';
    cr_assert_str_eq(jstr(&r, "key_hint"), hint);
    char want[65];
    sha256_hex(secret, want);
    const char *id = jstr(&r, "id");
    cr_assert_eq(strncmp(id, "key_", 4), 0);
    cr_assert_str_eq(sql1("SELECT digest FROM keys WHERE id = $1", id), want);
    cr_assert_str_eq(sql1("SELECT hint FROM keys WHERE id = $1", id), hint);
    cr_assert_str_eq(jstr(&r, "object"), "key");
    cr_assert_str_eq(jstr(&r, "name"), "app one");
    cr_assert_eq(jtype(&r, "team"), GW_JT_NULL);
    cr_assert(jbool(&r, "enabled"));
    cr_assert_eq(jtype(&r, "expires_at"), GW_JT_NULL);
    cr_assert_eq(jlen(&r, "models"), 0);
    cr_assert_eq(jtype(&r, "budget"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "rpm"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "metadata"), GW_JT_OBJ_BEGIN);
    cr_assert_str_eq(jstr(&r, "created_at"), "2026-03-15T12:00:00Z");
    cr_assert_eq(jtype(&r, "revoked_at"), GW_JT_NULL);

    /* The secret is never shown again. */
    char target[96];
    snprintf(target, sizeof(target), "/admin/v1/keys/%s", id);
    gw_admin_resp_free(&r);
    r = call("GET", target, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(jtype(&r, "key"), GW_JT_NONE);
    cr_assert_null(strstr(r.body, secret));
    cr_assert_null(strstr(r.body, want));
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 1);
}

Test(admin, create_key_stores_every_member)
{
    char team[80];
    create("teams", "{\"name\":\"t\"}", team);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"full\",\"team\":\"%s\",\"models\":[\"gpt-4o\",\"claude-*\"],"
             "\"budget\":{\"limit_usd\":12.5,\"period\":\"weekly\",\"hard\":true},"
             "\"expires_at\":\"2027-01-02T03:04:05Z\",\"rpm\":60,\"tpm\":null,"
             "\"metadata\":{\"owner\":\"ana\",\"n\":[1,2]}}",
             team);
    struct gw_admin_resp r = call("POST", "/admin/v1/keys", body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "team"), team);
    cr_assert_eq(jlen(&r, "models"), 2);
    cr_assert_str_eq(jstr(&r, "models.1"), "claude-*");
    cr_assert_float_eq(jnum(&r, "budget.limit_usd"), 12.5, 1e-9);
    cr_assert_str_eq(jstr(&r, "budget.period"), "weekly");
    cr_assert(jbool(&r, "budget.hard"));
    cr_assert_str_eq(jstr(&r, "expires_at"), "2027-01-02T03:04:05Z");
    cr_assert_eq(jnum(&r, "rpm"), 60);
    cr_assert_eq(jtype(&r, "tpm"), GW_JT_NULL);
    cr_assert_str_eq(jstr(&r, "metadata.owner"), "ana");
    const char *id = jstr(&r, "id");
    /* 12.5 USD = 12.5e12 pUSD; 2027-01-02T03:04:05Z = 1798859045. */
    cr_assert_str_eq(sql1("SELECT budget_limit_pusd FROM keys WHERE id = $1", id),
                     "12500000000000");
    cr_assert_str_eq(sql1("SELECT expires_at FROM keys WHERE id = $1", id), "1798859045");
    gw_admin_resp_free(&r);

    r = call("POST", "/admin/v1/keys",
             "{\"name\":\"unix\",\"expires_at\":1798859045,"
             "\"budget\":{\"limit_usd\":1}}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "expires_at"), "2027-01-02T03:04:05Z");
    cr_assert_str_eq(jstr(&r, "budget.period"), "monthly");
    cr_assert(!jbool(&r, "budget.hard"));
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 3);
}

Test(admin, bad_key_bodies_are_refused_naming_the_member)
{
    static const struct {
        const char *body, *code, *param;
    } cases[] = {
        {"{\"name\":\"a\",\"colour\":\"red\"}", "unknown_field", "colour"},
        {"{\"team\":null}", "missing_field", "name"},
        {"{\"name\":\"\"}", "invalid_value", "name"},
        {"{\"name\":5}", "invalid_value", "name"},
        {"{\"name\":\"a\",\"budget\":{\"limit_usd\":5,\"period\":\"yearly\"}}", "invalid_value",
         "budget.period"},
        {"{\"name\":\"a\",\"budget\":{\"limit_usd\":-1}}", "invalid_value", "budget.limit_usd"},
        {"{\"name\":\"a\",\"budget\":{\"period\":\"daily\"}}", "missing_field", "budget.limit_usd"},
        {"{\"name\":\"a\",\"budget\":{\"limit_usd\":1,\"x\":1}}", "unknown_field", "budget.x"},
        {"{\"name\":\"a\",\"budget\":7}", "invalid_value", "budget"},
        {"{\"name\":\"a\",\"team\":\"team_nope\"}", "invalid_value", "team"},
        {"{\"name\":\"a\",\"models\":\"gpt-4o\"}", "invalid_value", "models"},
        {"{\"name\":\"a\",\"models\":[1]}", "invalid_value", "models"},
        {"{\"name\":\"a\",\"rpm\":0}", "invalid_value", "rpm"},
        {"{\"name\":\"a\",\"tpm\":1.5}", "invalid_value", "tpm"},
        {"{\"name\":\"a\",\"expires_at\":\"tomorrow\"}", "invalid_value", "expires_at"},
        {"{\"name\":\"a\",\"metadata\":[1]}", "invalid_value", "metadata"},
        {"{\"name\":\"a\",\"name\":\"b\"}", "invalid_value", "name"},
        {"{\"name\":\"a\"", "invalid_json", NULL},
        {"", "invalid_json", NULL},
        {"[\"name\"]", "invalid_value", NULL},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        struct gw_admin_resp r = call("POST", "/admin/v1/keys", cases[i].body);
        expect_error(&r, 400, cases[i].code, cases[i].param);
        gw_admin_resp_free(&r);
    }
    /* 129 characters is one too many; 128 multi-byte characters are fine. */
    char body[1024];
    snprintf(body, sizeof(body), "{\"name\":\"%0129d\"}", 0);
    struct gw_admin_resp r = call("POST", "/admin/v1/keys", body);
    expect_error(&r, 400, "invalid_value", "name");
    gw_admin_resp_free(&r);
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"name\":\"");
    for (int i = 0; i < 128; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "\xc3\xa9");
    snprintf(body + n, sizeof(body) - n, "\"}");
    r = call("POST", "/admin/v1/keys", body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    gw_admin_resp_free(&r);
    /* Metadata over 16 KiB. */
    char *big = malloc(20000);
    n = (size_t)snprintf(big, 20000, "{\"name\":\"a\",\"metadata\":{\"x\":\"");
    memset(big + n, 'y', 17000);
    snprintf(big + n + 17000, 20000 - n - 17000, "\"}}");
    r = call("POST", "/admin/v1/keys", big);
    expect_error(&r, 400, "invalid_value", "metadata");
    gw_admin_resp_free(&r);
    free(big);
    cr_assert_eq(changed_calls, 1);
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM keys", NULL), "1");
}

Test(admin, a_body_over_the_limit_is_refused)
{
    size_t len = GW_ADMIN_MAX_BODY + 10;
    char *big = malloc(len + 1);
    memset(big, ' ', len);
    memcpy(big, "{\"name\":\"a\"}", 12);
    big[len] = '\0';
    struct gw_admin_resp r = call("POST", "/admin/v1/keys", big);
    expect_error(&r, 400, "invalid_value", NULL);
    gw_admin_resp_free(&r);
    free(big);
}

Test(admin, unknown_ids_are_404)
{
    static const char *const m[][2] = {
        {"GET", "/admin/v1/keys/key_nope"},
        {"PATCH", "/admin/v1/keys/key_nope"},
        {"DELETE", "/admin/v1/keys/key_nope"},
        {"POST", "/admin/v1/keys/key_nope/rotate"},
        {"POST", "/admin/v1/keys/key_nope/reset-spend"},
        {"GET", "/admin/v1/teams/team_nope"},
        {"PATCH", "/admin/v1/teams/team_nope"},
        {"DELETE", "/admin/v1/teams/team_nope"},
        {"POST", "/admin/v1/teams/team_nope/reset-spend"},
        {"DELETE", "/admin/v1/prices/nope"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(m); i++) {
        struct gw_admin_resp r = call(m[i][0], m[i][1], strcmp(m[i][0], "PATCH") ? NULL : "{}");
        cr_assert_eq(r.status, 404, "%s %s: %s", m[i][0], m[i][1], r.body);
        cr_assert_str_eq(jstr(&r, "error.code"), "not_found");
        gw_admin_resp_free(&r);
    }
    cr_assert_eq(changed_calls, 0);
}

Test(admin, patch_changes_only_the_given_members)
{
    char team[80], id[80], target[128];
    create("teams", "{\"name\":\"t\"}", team);
    create("keys", "{\"name\":\"k\",\"rpm\":5,\"budget\":{\"limit_usd\":3}}", id);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s", id);
    now_value = NOW + 100;
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"renamed\",\"team\":\"%s\",\"enabled\":false}", team);
    struct gw_admin_resp r = call("PATCH", target, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "name"), "renamed");
    cr_assert_str_eq(jstr(&r, "team"), team);
    cr_assert(!jbool(&r, "enabled"));
    cr_assert_eq(jnum(&r, "rpm"), 5);
    cr_assert_float_eq(jnum(&r, "budget.limit_usd"), 3, 1e-9);
    cr_assert_str_eq(jstr(&r, "updated_at"), "2026-03-15T12:01:40Z");
    cr_assert_str_eq(jstr(&r, "created_at"), "2026-03-15T12:00:00Z");
    gw_admin_resp_free(&r);

    r = call("PATCH", target, "{\"team\":null,\"budget\":null,\"rpm\":null,\"models\":[\"a\"]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(jtype(&r, "team"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "budget"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "rpm"), GW_JT_NULL);
    cr_assert_str_eq(jstr(&r, "models.0"), "a");
    cr_assert_str_eq(jstr(&r, "name"), "renamed");
    gw_admin_resp_free(&r);
    cr_assert_str_eq(sql1("SELECT budget_period FROM keys WHERE id = $1", id), "NULL");

    r = call("PATCH", target, "{\"team\":\"team_missing\"}");
    expect_error(&r, 400, "invalid_value", "team");
    gw_admin_resp_free(&r);
    r = call("PATCH", target, "{\"grace_seconds\":1}");
    expect_error(&r, 400, "unknown_field", "grace_seconds");
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 4); /* team, key, two patches */
}

Test(admin, list_keys_pages_in_id_order_with_after_and_has_more)
{
    char ids[5][80];
    for (int i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"name\":\"k%d\"}", i);
        create("keys", body, ids[i]);
    }
    /* Expected order: the ids sorted bytewise. */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (strcmp(ids[j], ids[i]) < 0) {
                char t[80];
                memcpy(t, ids[i], 80);
                memcpy(ids[i], ids[j], 80);
                memcpy(ids[j], t, 80);
            }
    int calls = changed_calls;
    char target[160];
    snprintf(target, sizeof(target), "/admin/v1/keys?limit=2");
    size_t seen = 0;
    for (int page = 0; page < 3; page++) {
        struct gw_admin_resp r = call("GET", target, NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        cr_assert_str_eq(jstr(&r, "object"), "list");
        size_t n = jlen(&r, "data");
        cr_assert_eq(n, page < 2 ? 2 : 1);
        for (size_t i = 0; i < n; i++) {
            char p[32];
            snprintf(p, sizeof(p), "data.%zu.id", i);
            cr_assert_str_eq(jstr(&r, p), ids[seen + i]);
        }
        seen += n;
        cr_assert_eq(jbool(&r, "has_more"), page < 2);
        cr_assert_str_eq(jstr(&r, "last_id"), ids[seen - 1]);
        snprintf(target, sizeof(target), "/admin/v1/keys?limit=2&after=%s", ids[seen - 1]);
        gw_admin_resp_free(&r);
    }
    struct gw_admin_resp r = call("GET", target, NULL);
    cr_assert_eq(jlen(&r, "data"), 0);
    cr_assert_eq(jtype(&r, "last_id"), GW_JT_NULL);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/keys", NULL);
    cr_assert_eq(jlen(&r, "data"), 5);
    cr_assert(!jbool(&r, "has_more"));
    gw_admin_resp_free(&r);
    static const char *const bad[][2] = {
        {"/admin/v1/keys?limit=0", "limit"},
        {"/admin/v1/keys?limit=1001", "limit"},
        {"/admin/v1/keys?limit=x", "limit"},
        {"/admin/v1/keys?include_revoked=maybe", "include_revoked"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        r = call("GET", bad[i][0], NULL);
        expect_error(&r, 400, "invalid_value", bad[i][1]);
        gw_admin_resp_free(&r);
    }
    r = call("GET", "/admin/v1/keys?colour=red", NULL);
    expect_error(&r, 400, "unknown_field", "colour");
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, calls);
}

Test(admin, list_keys_filters_by_a_percent_encoded_team)
{
    char team[80], k1[80], k2[80];
    create("teams", "{\"name\":\"t\"}", team);
    char body[160];
    snprintf(body, sizeof(body), "{\"name\":\"in\",\"team\":\"%s\"}", team);
    create("keys", body, k1);
    create("keys", "{\"name\":\"out\"}", k2);
    /* "team_" with its underscore percent-encoded. */
    char target[160];
    snprintf(target, sizeof(target), "/admin/v1/keys?team=team%%5F%s", team + 5);
    struct gw_admin_resp r = call("GET", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(jlen(&r, "data"), 1);
    cr_assert_str_eq(jstr(&r, "data.0.id"), k1);
    gw_admin_resp_free(&r);
}

Test(admin, revoke_keeps_the_row_and_hides_the_key_from_lists)
{
    char id[80], target[128];
    create("keys", "{\"name\":\"k\"}", id);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s", id);
    now_value = NOW + 60;
    struct gw_admin_resp r = call("DELETE", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "id"), id);
    cr_assert_str_eq(jstr(&r, "object"), "key");
    cr_assert(jbool(&r, "deleted"));
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
    cr_assert_str_eq(sql1("SELECT revoked_at FROM keys WHERE id = $1", id), "1773576060");
    cr_assert_str_eq(sql1("SELECT enabled FROM keys WHERE id = $1", id), "0");

    r = call("GET", "/admin/v1/keys", NULL);
    cr_assert_eq(jlen(&r, "data"), 0);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/keys?include_revoked=true", NULL);
    cr_assert_eq(jlen(&r, "data"), 1);
    cr_assert_str_eq(jstr(&r, "data.0.revoked_at"), "2026-03-15T12:01:00Z");
    gw_admin_resp_free(&r);
    r = call("GET", target, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(jstr(&r, "revoked_at"), "2026-03-15T12:01:00Z");
    gw_admin_resp_free(&r);
    static const char *const again[] = {"DELETE", "PATCH"};
    for (size_t i = 0; i < 2; i++) {
        r = call(again[i], target, "{}");
        expect_error(&r, 404, "not_found", "id");
        gw_admin_resp_free(&r);
    }
    char rot[160];
    snprintf(rot, sizeof(rot), "%s/rotate", target);
    r = call("POST", rot, NULL);
    expect_error(&r, 404, "not_found", "id");
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
}

Test(admin, rotate_without_grace_drops_the_old_digest_at_once)
{
    struct gw_admin_resp r = call("POST", "/admin/v1/keys", "{\"name\":\"k\"}");
    char id[80], old[64], target[128];
    snprintf(id, sizeof(id), "%s", jstr(&r, "id"));
    snprintf(old, sizeof(old), "%s", jstr(&r, "key"));
    gw_admin_resp_free(&r);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s/rotate", id);
    r = call("POST", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    const char *secret = jstr(&r, "key");
    cr_assert_not_null(secret);
    cr_assert_str_neq(secret, old);
    char want[65];
    sha256_hex(secret, want);
    cr_assert_str_eq(sql1("SELECT digest FROM keys WHERE id = $1", id), want);
    cr_assert_str_eq(sql1("SELECT old_digest FROM keys WHERE id = $1", id), "NULL");
    cr_assert_str_eq(sql1("SELECT old_until FROM keys WHERE id = $1", id), "NULL");
    char hint[11];
    memcpy(hint, secret, 10);
    hint[10] = '\0';
    cr_assert_str_eq(jstr(&r, "key_hint"), hint);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
    r = call("POST", target, "{\"grace_seconds\":-5}");
    expect_error(&r, 400, "invalid_value", "grace_seconds");
    gw_admin_resp_free(&r);
    r = call("POST", target, "{\"grace\":5}");
    expect_error(&r, 400, "unknown_field", "grace");
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
}

Test(admin, rotate_with_grace_keeps_the_old_digest_until_then)
{
    struct gw_admin_resp r = call("POST", "/admin/v1/keys", "{\"name\":\"k\"}");
    char id[80], old[65], target[128];
    snprintf(id, sizeof(id), "%s", jstr(&r, "id"));
    sha256_hex(jstr(&r, "key"), old);
    gw_admin_resp_free(&r);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s/rotate", id);
    r = call("POST", target, "{\"grace_seconds\":600}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    char want[65];
    sha256_hex(jstr(&r, "key"), want);
    cr_assert_str_eq(sql1("SELECT digest FROM keys WHERE id = $1", id), want);
    cr_assert_str_eq(sql1("SELECT old_digest FROM keys WHERE id = $1", id), old);
    char until[32];
    snprintf(until, sizeof(until), "%lld", NOW + 600);
    cr_assert_str_eq(sql1("SELECT old_until FROM keys WHERE id = $1", id), until);
    gw_admin_resp_free(&r);
}

Test(admin, get_key_reports_the_budget_periods_spend)
{
    char id[80], target[128], subject[96];
    create("keys", "{\"name\":\"k\",\"budget\":{\"limit_usd\":10,\"period\":\"monthly\"}}", id);
    snprintf(subject, sizeof(subject), "k:%s", id);
    int64_t today = DAY(NOW);
    /* March 2026 started 14 days before the 15th. */
    add_spend(subject, today, 2000000000000LL);      /* 2 USD */
    add_spend(subject, today - 14, 500000000000LL);  /* 0.5 USD, March 1st */
    add_spend(subject, today - 15, 7000000000000LL); /* 7 USD, February 28th */
    add_spend("k:other", today, 9000000000000LL);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s", id);
    struct gw_admin_resp r = call("GET", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "spend.period_start"), "2026-03-01T00:00:00Z");
    cr_assert_str_eq(jstr(&r, "spend.period_end"), "2026-04-01T00:00:00Z");
    cr_assert_float_eq(jnum(&r, "spend.spend_usd"), 2.5, 1e-9);
    cr_assert_float_eq(jnum(&r, "spend.limit_usd"), 10, 1e-9);
    gw_admin_resp_free(&r);

    /* Without a budget: the total, with no period and no limit. */
    char id2[80];
    create("keys", "{\"name\":\"free\"}", id2);
    snprintf(subject, sizeof(subject), "k:%s", id2);
    add_spend(subject, today, 1000000000000LL);
    add_spend(subject, 100, 250000000000LL);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s", id2);
    r = call("GET", target, NULL);
    cr_assert_eq(jtype(&r, "spend.period_start"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "spend.period_end"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "spend.limit_usd"), GW_JT_NULL);
    cr_assert_float_eq(jnum(&r, "spend.spend_usd"), 1.25, 1e-9);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
}

Test(admin, reset_spend_zeroes_the_period_and_keeps_history)
{
    char id[80], target[160], subject[96];
    create("keys", "{\"name\":\"k\",\"budget\":{\"limit_usd\":10,\"period\":\"daily\"}}", id);
    snprintf(subject, sizeof(subject), "k:%s", id);
    int64_t today = DAY(NOW);
    add_spend(subject, today, 3000000000000LL);
    add_spend(subject, today - 1, 4000000000000LL);
    snprintf(target, sizeof(target), "/admin/v1/keys/%s/reset-spend", id);
    struct gw_admin_resp r = call("POST", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_float_eq(jnum(&r, "spend.spend_usd"), 0, 1e-12);
    cr_assert_str_eq(jstr(&r, "spend.period_start"), "2026-03-15T00:00:00Z");
    cr_assert_str_eq(jstr(&r, "id"), id);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
    struct gw_dbv p[] = {GW_DBV_STR(subject), GW_DBV_INT(today)};
    char got[256] = "";
    struct gw_db_err err = {0};
    cr_assert_geq(gw_db_exec(db, "SELECT cost_pusd FROM spend WHERE subject = $1 AND day = $2", p,
                             2, row_text, got, &err),
                  0);
    cr_assert_str_eq(got, "0"); /* 3 USD plus minus 3 USD on today's row */
    p[1] = GW_DBV_INT(today - 1);
    cr_assert_geq(gw_db_exec(db, "SELECT cost_pusd FROM spend WHERE subject = $1 AND day = $2", p,
                             2, row_text, got, &err),
                  0);
    cr_assert_str_eq(got, "4000000000000");
    /* A second reset with nothing spent writes nothing and still answers. */
    r = call("POST", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_float_eq(jnum(&r, "spend.spend_usd"), 0, 1e-12);
    gw_admin_resp_free(&r);
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM spend", NULL), "2");
    r = call("POST", target, "{\"x\":1}");
    expect_error(&r, 400, "unknown_field", "x");
    gw_admin_resp_free(&r);
}

/* ---- teams ---- */

Test(admin, teams_create_get_patch_list_and_reset)
{
    struct gw_admin_resp r = call("POST", "/admin/v1/teams",
                                  "{\"name\":\"research\",\"budget\":{\"limit_usd\":100,"
                                  "\"period\":\"total\"},\"tpm\":1000,\"metadata\":{\"cc\":7},"
                                  "\"enabled\":false}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char id[80], target[128];
    snprintf(id, sizeof(id), "%s", jstr(&r, "id"));
    cr_assert_eq(strncmp(id, "team_", 5), 0);
    cr_assert_str_eq(jstr(&r, "object"), "team");
    cr_assert(!jbool(&r, "enabled"));
    cr_assert_eq(jnum(&r, "tpm"), 1000);
    cr_assert_eq(jnum(&r, "metadata.cc"), 7);
    cr_assert_eq(jtype(&r, "key"), GW_JT_NONE);
    gw_admin_resp_free(&r);
    char subject[96];
    snprintf(subject, sizeof(subject), "t:%s", id);
    add_spend(subject, 10, 1500000000000LL);
    add_spend(subject, DAY(NOW), 500000000000LL);

    snprintf(target, sizeof(target), "/admin/v1/teams/%s", id);
    r = call("GET", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "budget.period"), "total");
    cr_assert_float_eq(jnum(&r, "spend.spend_usd"), 2, 1e-9);
    cr_assert_float_eq(jnum(&r, "spend.limit_usd"), 100, 1e-9);
    gw_admin_resp_free(&r);

    r = call("PATCH", target, "{\"enabled\":true,\"name\":\"lab\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(jbool(&r, "enabled"));
    cr_assert_str_eq(jstr(&r, "name"), "lab");
    gw_admin_resp_free(&r);
    r = call("PATCH", target, "{\"models\":[]}");
    expect_error(&r, 400, "unknown_field", "models");
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/teams?limit=1", NULL);
    cr_assert_eq(jlen(&r, "data"), 1);
    cr_assert_str_eq(jstr(&r, "data.0.id"), id);
    cr_assert(!jbool(&r, "has_more"));
    gw_admin_resp_free(&r);

    char reset[160];
    snprintf(reset, sizeof(reset), "%s/reset-spend", target);
    r = call("POST", reset, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_float_eq(jnum(&r, "spend.spend_usd"), 0, 1e-12);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 3);
}

Test(admin, a_team_with_live_keys_cannot_be_deleted)
{
    char team[80], key[80], body[160], target[128], ktarget[128];
    create("teams", "{\"name\":\"t\"}", team);
    snprintf(body, sizeof(body), "{\"name\":\"k\",\"team\":\"%s\"}", team);
    create("keys", body, key);
    snprintf(target, sizeof(target), "/admin/v1/teams/%s", team);
    struct gw_admin_resp r = call("DELETE", target, NULL);
    expect_error(&r, 409, "team_in_use", "id");
    gw_admin_resp_free(&r);
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM teams", NULL), "1");
    cr_assert_eq(changed_calls, 2);

    snprintf(ktarget, sizeof(ktarget), "/admin/v1/keys/%s", key);
    r = call("DELETE", ktarget, NULL);
    cr_assert_eq(r.status, 200);
    gw_admin_resp_free(&r);
    r = call("DELETE", target, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "object"), "team");
    cr_assert(jbool(&r, "deleted"));
    gw_admin_resp_free(&r);
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM teams", NULL), "0");
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM keys", NULL), "1");
    cr_assert_eq(changed_calls, 4);
}

/* ---- prices ---- */

Test(admin, put_and_delete_an_admin_price)
{
    struct gw_admin_resp r = call("PUT", "/admin/v1/prices/openai%2Fgpt-4o",
                                  "{\"input\":2.5,\"output\":10,\"cached_input\":1.25}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "model"), "openai/gpt-4o");
    cr_assert_float_eq(jnum(&r, "input"), 2.5, 1e-9);
    cr_assert_float_eq(jnum(&r, "cached_input"), 1.25, 1e-9);
    cr_assert_eq(jtype(&r, "cache_write"), GW_JT_NULL);
    cr_assert_str_eq(jstr(&r, "source"), "admin");
    gw_admin_resp_free(&r);
    cr_assert_str_eq(sql1("SELECT input FROM prices WHERE model = $1", "openai/gpt-4o"), "2500000");
    cr_assert_eq(changed_calls, 1);

    /* The same model by its unencoded path, replaced. */
    r = call("PUT", "/admin/v1/prices/openai/gpt-4o", "{\"input\":3,\"output\":12}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    gw_admin_resp_free(&r);
    cr_assert_str_eq(sql1("SELECT COUNT(*) FROM prices", NULL), "1");
    cr_assert_str_eq(sql1("SELECT cached_input FROM prices", NULL), "NULL");

    r = call("GET", "/admin/v1/prices", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(jlen(&r, "data"), 1);
    cr_assert_str_eq(jstr(&r, "data.0.model"), "openai/gpt-4o");
    cr_assert_float_eq(jnum(&r, "data.0.output"), 12, 1e-9);
    gw_admin_resp_free(&r);

    static const struct {
        const char *body, *code, *param;
    } bad[] = {
        {"{\"input\":1}", "missing_field", "output"},
        {"{\"input\":-1,\"output\":1}", "invalid_value", "input"},
        {"{\"input\":1,\"output\":\"1\"}", "invalid_value", "output"},
        {"{\"input\":1,\"output\":1,\"batch\":1}", "unknown_field", "batch"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        r = call("PUT", "/admin/v1/prices/m", bad[i].body);
        expect_error(&r, 400, bad[i].code, bad[i].param);
        gw_admin_resp_free(&r);
    }

    r = call("DELETE", "/admin/v1/prices/openai/gpt-4o", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(jbool(&r, "deleted"));
    gw_admin_resp_free(&r);
    r = call("DELETE", "/admin/v1/prices/openai/gpt-4o", NULL);
    expect_error(&r, 404, "not_found", "model");
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 3);
}

Test(admin, price_list_merges_published_prices_with_admin_overrides)
{
    struct gw_accounts_builder *b = gw_accounts_builder_new(NULL, NULL);
    cr_assert_not_null(b);
    struct gw_price p1 = {"m-default", 1000000, 2000000, -1, -1, -1, "default"};
    struct gw_price p2 = {"m-config", 3000000, 4000000, 500000, -1, -1, "config"};
    struct gw_price p3 = {"m-over", 5000000, 6000000, -1, -1, -1, "config"};
    cr_assert_eq(gw_accounts_set_price(b, &p1), 0);
    cr_assert_eq(gw_accounts_set_price(b, &p2), 0);
    cr_assert_eq(gw_accounts_set_price(b, &p3), 0);
    accounts = gw_accounts_builder_finish(b);
    cr_assert_not_null(accounts);
    struct gw_admin_resp r = call("PUT", "/admin/v1/prices/m-over", "{\"input\":7,\"output\":8}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/prices", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "version"), gw_accounts_price_version(accounts));
    cr_assert_eq(jlen(&r, "data"), 3);
    /* Sorted by model: m-config, m-default, m-over. */
    cr_assert_str_eq(jstr(&r, "data.0.model"), "m-config");
    cr_assert_str_eq(jstr(&r, "data.0.source"), "config");
    cr_assert_float_eq(jnum(&r, "data.0.cached_input"), 0.5, 1e-9);
    cr_assert_eq(jtype(&r, "data.0.embedding"), GW_JT_NULL);
    cr_assert_str_eq(jstr(&r, "data.1.source"), "default");
    cr_assert_float_eq(jnum(&r, "data.1.output"), 2, 1e-9);
    cr_assert_str_eq(jstr(&r, "data.2.model"), "m-over");
    cr_assert_str_eq(jstr(&r, "data.2.source"), "admin");
    cr_assert_float_eq(jnum(&r, "data.2.input"), 7, 1e-9);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 1);
}

/* ---- usage and requests ---- */

static void usage_fixture(void)
{
    int64_t t0 = (NOW - 2 * 86400) * 1000; /* March 13th */
    int64_t t1 = NOW * 1000;               /* March 15th */
    add_usage(t0 + 1, "key_a", "team_x", "gpt-4o", 200, 100, 10, 5, 1000);
    add_usage(t0 + 2, "key_a", "team_x", "gpt-4o-mini", 200, 200, 20, 0, 2000);
    add_usage(t1 - 5, "key_b", "team_x", "gpt-4o", 200, 300, 30, 50, -1);
    add_usage(t1 - 4, "key_b", NULL, "gpt-4o", 500, 400, 0, 0, 4000);
    add_usage(t1 - 3, NULL, NULL, "gpt-4o-mini", 401, 0, 0, 0, -1);
    /* Outside the default 30 days. */
    add_usage((NOW - 40 * 86400) * 1000, "key_a", "team_x", "gpt-4o", 200, 9999, 9999, 0, 99999);
}

static void expect_usage_row(const struct gw_admin_resp *r, size_t i, const char *group,
                             int64_t req, int64_t pt, int64_t ct, int64_t cached, int64_t pusd,
                             int64_t unpriced)
{
    char p[64];
    snprintf(p, sizeof(p), "data.%zu.group", i);
    if (group)
        cr_assert_str_eq(jstr(r, p), group, "%s", r->body);
    else
        cr_assert_eq(jtype(r, p), GW_JT_NULL, "%s", r->body);
    static const char *const f[] = {"requests", "prompt_tokens", "completion_tokens",
                                    "cached_tokens", "unpriced_requests"};
    int64_t v[] = {req, pt, ct, cached, unpriced};
    for (size_t k = 0; k < GW_ARRAY_SIZE(f); k++) {
        snprintf(p, sizeof(p), "data.%zu.%s", i, f[k]);
        cr_assert_eq((int64_t)jnum(r, p), v[k], "%s: %s", p, r->body);
    }
    snprintf(p, sizeof(p), "data.%zu.cost_usd", i);
    cr_assert_float_eq(jnum(r, p), (double)pusd / 1e12, 1e-12, "%s", r->body);
}

Test(admin, usage_groups_by_key_team_model_and_day)
{
    usage_fixture();
    struct gw_admin_resp r = call("GET", "/admin/v1/usage?group_by=key", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(&r, "group_by"), "key");
    /* NULL sorts first in SQLite's ORDER BY. */
    cr_assert_eq(jlen(&r, "data"), 3);
    expect_usage_row(&r, 0, NULL, 1, 0, 0, 0, 0, 1);
    expect_usage_row(&r, 1, "key_a", 2, 300, 30, 5, 3000, 0);
    expect_usage_row(&r, 2, "key_b", 2, 700, 30, 50, 4000, 1);
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/usage?group_by=team", NULL);
    cr_assert_eq(jlen(&r, "data"), 2);
    expect_usage_row(&r, 0, NULL, 2, 400, 0, 0, 4000, 1);
    expect_usage_row(&r, 1, "team_x", 3, 600, 60, 55, 3000, 1);
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/usage?group_by=model", NULL);
    cr_assert_eq(jlen(&r, "data"), 2);
    expect_usage_row(&r, 0, "gpt-4o", 3, 800, 40, 55, 5000, 1);
    expect_usage_row(&r, 1, "gpt-4o-mini", 2, 200, 20, 0, 2000, 1);
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/usage?group_by=day", NULL);
    cr_assert_eq(jlen(&r, "data"), 2);
    expect_usage_row(&r, 0, "2026-03-13", 2, 300, 30, 5, 3000, 0);
    expect_usage_row(&r, 1, "2026-03-15", 3, 700, 30, 50, 4000, 2);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 0);
}

Test(admin, usage_filters_and_time_range)
{
    usage_fixture();
    struct gw_admin_resp r = call("GET", "/admin/v1/usage?group_by=model&key=key_b", NULL);
    cr_assert_eq(jlen(&r, "data"), 1);
    expect_usage_row(&r, 0, "gpt-4o", 2, 700, 30, 50, 4000, 1);
    gw_admin_resp_free(&r);
    /* to as a bare date includes that whole day; from is inclusive. */
    r = call("GET", "/admin/v1/usage?group_by=day&from=2026-01-01&to=2026-03-13", NULL);
    cr_assert_eq(jlen(&r, "data"), 2);
    expect_usage_row(&r, 0, "2026-02-03", 1, 9999, 9999, 0, 99999, 0);
    expect_usage_row(&r, 1, "2026-03-13", 2, 300, 30, 5, 3000, 0);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/usage?group_by=team&team=team_x&from=2026-03-14T00:00:00Z", NULL);
    cr_assert_eq(jlen(&r, "data"), 1);
    expect_usage_row(&r, 0, "team_x", 1, 300, 30, 50, 0, 1);
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/usage", NULL);
    expect_error(&r, 400, "missing_field", "group_by");
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/usage?group_by=hour", NULL);
    expect_error(&r, 400, "invalid_value", "group_by");
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/usage?group_by=day&from=yesterday", NULL);
    expect_error(&r, 400, "invalid_value", "from");
    gw_admin_resp_free(&r);
}

Test(admin, requests_are_listed_newest_first_with_before)
{
    usage_fixture();
    struct gw_admin_resp r = call("GET", "/admin/v1/requests?limit=2", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(jlen(&r, "data"), 2);
    /* Newest first by time (ids follow insertion, which several workers' logs
     * interleave): rows 5 (t1-3), 4 (t1-4), 3 (t1-5), 2, 1, then 6 (40 days ago). */
    cr_assert_eq(jnum(&r, "data.0.id"), 5);
    cr_assert_eq(jnum(&r, "data.1.id"), 4);
    cr_assert(jbool(&r, "has_more"));
    cr_assert_eq(jnum(&r, "next_before"), 4);
    cr_assert_str_eq(jstr(&r, "data.0.time"), "2026-03-15T11:59:59.997Z");
    cr_assert_eq(jtype(&r, "data.0.key_id"), GW_JT_NULL);
    cr_assert_eq(jtype(&r, "data.0.cost_usd"), GW_JT_NULL);
    cr_assert_eq(jnum(&r, "data.0.status"), 401);
    cr_assert_float_eq(jnum(&r, "data.0.ttfb_ms"), 1.5, 1e-9);
    cr_assert_float_eq(jnum(&r, "data.0.duration_ms"), 25, 1e-9);
    cr_assert(!jbool(&r, "data.0.stream"));
    cr_assert_str_eq(jstr(&r, "data.0.provider"), "openai");
    cr_assert_float_eq(jnum(&r, "data.1.cost_usd"), 4000 / 1e12, 1e-15);
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/requests?limit=3&before=4", NULL);
    cr_assert_eq(jlen(&r, "data"), 3);
    cr_assert_eq(jnum(&r, "data.0.id"), 3);
    cr_assert_eq(jnum(&r, "data.1.id"), 2);
    cr_assert_eq(jnum(&r, "data.2.id"), 1);
    cr_assert_float_eq(jnum(&r, "data.1.cost_usd"), 2000 / 1e12, 1e-15);
    cr_assert(jbool(&r, "has_more"));
    cr_assert_eq(jnum(&r, "next_before"), 1);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/requests?before=1", NULL);
    cr_assert_eq(jlen(&r, "data"), 1);
    cr_assert_eq(jnum(&r, "data.0.id"), 6);
    cr_assert_str_eq(jstr(&r, "data.0.time"), "2026-02-03T12:00:00.000Z");
    cr_assert(!jbool(&r, "has_more"));
    cr_assert_eq(jtype(&r, "next_before"), GW_JT_NULL);
    gw_admin_resp_free(&r);

    /* Two rows in the same millisecond: the page boundary falls between them by id. */
    add_usage(NOW * 1000, "key_t", NULL, "gpt-4o", 200, 1, 1, 0, 1);
    add_usage(NOW * 1000, "key_t", NULL, "gpt-4o", 200, 1, 1, 0, 1);
    r = call("GET", "/admin/v1/requests?limit=1", NULL);
    cr_assert_eq(jnum(&r, "data.0.id"), 8);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/requests?limit=1&before=8", NULL);
    cr_assert_eq(jnum(&r, "data.0.id"), 7);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/requests?limit=1&before=7", NULL);
    cr_assert_eq(jnum(&r, "data.0.id"), 5);
    gw_admin_resp_free(&r);

    r = call("GET", "/admin/v1/requests?key=key_b&status=200", NULL);
    cr_assert_eq(jlen(&r, "data"), 1);
    cr_assert_eq(jnum(&r, "data.0.id"), 3);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/requests?model=gpt-4o-mini", NULL);
    cr_assert_eq(jlen(&r, "data"), 2);
    gw_admin_resp_free(&r);
    r = call("GET", "/admin/v1/requests?status=abc", NULL);
    expect_error(&r, 400, "invalid_value", "status");
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 0);
}

/* ---- the OpenAPI document against the routes ---- */

static const char *const METHODS[] = {"get", "post", "put", "patch", "delete"};

struct route {
    char path[128];
    char method[8];
};

/* Every (path, method) in the document's "paths". */
static size_t doc_routes(struct route *out, size_t cap)
{
    const char *doc = gw_admin_openapi_json;
    const char *keys[] = {"paths"};
    struct gw_json_member m;
    cr_assert_eq(gw_json_scan_object(doc, strlen(doc), keys, 1, &m), 0);
    cr_assert(m.found);
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, doc + m.value.start, m.value_end - m.value.start);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    size_t n = 0;
    char path[128] = "";
    while (gw_json_next(&j, &t) == 1 && t.depth > 0) {
        if (t.type == GW_JT_KEY && t.depth == 1) {
            snprintf(path, sizeof(path), "%.*s", (int)t.span.len, t.span.ptr);
        } else if (t.type == GW_JT_KEY && t.depth == 2) {
            for (size_t i = 0; i < GW_ARRAY_SIZE(METHODS); i++) {
                if (gw_json_str_eq(t.span, METHODS[i])) {
                    cr_assert_lt(n, cap);
                    snprintf(out[n].path, sizeof(out[n].path), "%s", path);
                    snprintf(out[n].method, sizeof(out[n].method), "%s", METHODS[i]);
                    n++;
                }
            }
        }
    }
    return n;
}

/* The path with {id} and {model} replaced by existing objects. */
static void concrete(const char *path, const char *key, const char *team, char *out, size_t cap)
{
    const char *id = strstr(path, "/teams/") ? team : key;
    char tmp[256];
    size_t o = 0;
    for (const char *p = path; *p && o < sizeof(tmp) - 80;) {
        if (strncmp(p, "{id}", 4) == 0) {
            o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%s", id);
            p += 4;
        } else if (strncmp(p, "{model}", 7) == 0) {
            o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "m1");
            p += 7;
        } else {
            tmp[o++] = *p++;
        }
    }
    tmp[o] = '\0';
    snprintf(out, cap, "%s", tmp);
}

Test(admin, every_documented_route_is_served)
{
    struct route routes[64];
    size_t n = doc_routes(routes, GW_ARRAY_SIZE(routes));
    cr_assert_geq(n, 17);
    for (size_t i = 0; i < n; i++) {
        /* Fresh objects per route: a DELETE must not hide the next route's object. */
        char key[80], team[80], target[256], upper[8];
        create("keys", "{\"name\":\"k\"}", key);
        create("teams", "{\"name\":\"t\"}", team);
        struct gw_admin_resp pr = call("PUT", "/admin/v1/prices/m1", "{\"input\":1,\"output\":1}");
        gw_admin_resp_free(&pr);
        concrete(routes[i].path, key, team, target, sizeof(target));
        if (strcmp(routes[i].path, "/admin/v1/usage") == 0)
            snprintf(target + strlen(target), sizeof(target) - strlen(target), "?group_by=day");
        size_t k = 0;
        for (; routes[i].method[k]; k++)
            upper[k] = (char)(routes[i].method[k] - 'a' + 'A');
        upper[k] = '\0';
        const char *body = NULL;
        if (strcmp(upper, "POST") == 0 && strstr(target, "/rotate") == NULL &&
            strstr(target, "/reset-spend") == NULL)
            body = "{\"name\":\"n\"}";
        else if (strcmp(upper, "PATCH") == 0)
            body = "{\"name\":\"n\"}";
        else if (strcmp(upper, "PUT") == 0)
            body = "{\"input\":1,\"output\":2}";
        struct gw_admin_resp r = call(upper, target, body);
        cr_assert(r.status >= 200 && r.status < 300, "%s %s: %d %s", upper, target, r.status,
                  r.body);
        gw_admin_resp_free(&r);
    }
}

Test(admin, every_served_route_is_documented)
{
    struct route routes[64];
    size_t n = doc_routes(routes, GW_ARRAY_SIZE(routes));
    /* The handler's routes, written out by hand from store/admin.c. */
    static const char *const served[][2] = {
        {"get", "/admin/v1/keys"},
        {"post", "/admin/v1/keys"},
        {"get", "/admin/v1/keys/{id}"},
        {"patch", "/admin/v1/keys/{id}"},
        {"delete", "/admin/v1/keys/{id}"},
        {"post", "/admin/v1/keys/{id}/rotate"},
        {"post", "/admin/v1/keys/{id}/reset-spend"},
        {"get", "/admin/v1/teams"},
        {"post", "/admin/v1/teams"},
        {"get", "/admin/v1/teams/{id}"},
        {"patch", "/admin/v1/teams/{id}"},
        {"delete", "/admin/v1/teams/{id}"},
        {"post", "/admin/v1/teams/{id}/reset-spend"},
        {"get", "/admin/v1/prices"},
        {"put", "/admin/v1/prices/{model}"},
        {"delete", "/admin/v1/prices/{model}"},
        {"get", "/admin/v1/usage"},
        {"get", "/admin/v1/requests"},
        {"get", "/admin/v1/openapi.json"},
    };
    cr_assert_eq(n, GW_ARRAY_SIZE(served));
    for (size_t i = 0; i < GW_ARRAY_SIZE(served); i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(routes[k].method, served[i][0]) == 0 &&
                    strcmp(routes[k].path, served[i][1]) == 0;
        cr_assert(found, "%s %s is not documented", served[i][0], served[i][1]);
    }
    /* And the handler answers every (path, method) it is not documented for with 404/405:
     * try each method the document lacks on every documented path. */
    char key[80], team[80], target[256];
    create("keys", "{\"name\":\"k\"}", key);
    create("teams", "{\"name\":\"t\"}", team);
    static const char *const upper[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < n; i++) {
        concrete(routes[i].path, key, team, target, sizeof(target));
        for (size_t m = 0; m < GW_ARRAY_SIZE(METHODS); m++) {
            bool documented = false;
            for (size_t k = 0; k < n && !documented; k++)
                documented = strcmp(routes[k].path, routes[i].path) == 0 &&
                             strcmp(routes[k].method, METHODS[m]) == 0;
            if (documented)
                continue;
            struct gw_admin_resp r = call(upper[m], target, "{}");
            cr_assert_eq(r.status, 405, "%s %s: %d %s", upper[m], target, r.status, r.body);
            gw_admin_resp_free(&r);
        }
    }
}

Test(admin, changed_is_called_once_per_write_and_never_for_reads)
{
    char key[80], team[80], target[160];
    create("teams", "{\"name\":\"t\"}", team);
    cr_assert_eq(changed_calls, 1);
    create("keys", "{\"name\":\"k\"}", key);
    cr_assert_eq(changed_calls, 2);
    static const char *const reads[] = {"/admin/v1/keys",     "/admin/v1/teams",
                                        "/admin/v1/prices",   "/admin/v1/usage?group_by=key",
                                        "/admin/v1/requests", "/admin/v1/openapi.json"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(reads); i++) {
        struct gw_admin_resp r = call("GET", reads[i], NULL);
        cr_assert_eq(r.status, 200, "%s: %s", reads[i], r.body);
        gw_admin_resp_free(&r);
    }
    snprintf(target, sizeof(target), "/admin/v1/keys/%s", key);
    struct gw_admin_resp r = call("GET", target, NULL);
    gw_admin_resp_free(&r);
    cr_assert_eq(changed_calls, 2);
    const char *writes[][3] = {
        {"PATCH", "", "{\"rpm\":3}"},
        {"POST", "/rotate", "{\"grace_seconds\":5}"},
        {"POST", "/reset-spend", NULL},
        {"DELETE", "", NULL},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(writes); i++) {
        char t[200];
        snprintf(t, sizeof(t), "%s%s", target, writes[i][1]);
        r = call(writes[i][0], t, writes[i][2]);
        cr_assert_eq(r.status, 200, "%s %s: %s", writes[i][0], t, r.body);
        gw_admin_resp_free(&r);
        cr_assert_eq(changed_calls, 3 + (int)i);
    }
}
