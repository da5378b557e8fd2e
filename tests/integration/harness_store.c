/*
 * tests/integration/harness_store.c — config, admin API, key and SQLite
 * helpers of the store suites. See harness_store.h for the contracts.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "harness.h"
#include "harness_store.h"

/* ---- config ---- */

void hst_config(const struct hst_cfg *c)
{
    char url[PATH_MAX + 16];
    if (c->store_url) {
        snprintf(url, sizeof(url), "%s", c->store_url);
    } else {
        int un = snprintf(url, sizeof(url), "sqlite:%s/c.db", H.dir);
        cr_assert(un > 0 && (size_t)un < sizeof(url));
    }
    char admin[256] = "";
    if (c->admin_port > 0)
        snprintf(admin, sizeof(admin),
                 "admin:\n"
                 "  listen: \"127.0.0.1:%d\"\n"
                 "  master_key: \"" HST_MASTER_KEY "\"\n",
                 c->admin_port);
    const char *prices = c->price_items ? c->price_items
                                        : "  - {model: " H_MODEL ", input: " HST_PRICE_IN
                                          ", output: " HST_PRICE_OUT "}\n";
    char y[8192];
    int n = snprintf(y, sizeof(y),
                     "server:\n"
                     "  listen: \"127.0.0.1:%d\"\n"
                     "  workers: %d\n"
                     "  drain_timeout: 10s\n"
                     "keys:\n"
                     "  - name: demo\n"
                     "    key: \"" H_CLIENT_KEY "\"\n"
                     "providers:\n"
                     "  - name: mock\n"
                     "    type: openai\n"
                     "    base_url: \"http://127.0.0.1:%d/v1\"\n"
                     "    api_key: \"" H_PROVIDER_KEY "\"\n"
                     "    connect_timeout: 2s\n"
                     "models:\n"
                     "  - name: " H_MODEL "\n"
                     "    provider: mock\n"
                     "    model: %s\n"
                     "%s"
                     "store:\n"
                     "  url: \"%s\"\n"
                     "  flush_interval: %s\n"
                     "%s"
                     "%s"
                     "prices:\n"
                     "%s",
                     c->port ? c->port : H.gw_port, c->workers ? c->workers : 2, H.mock_port,
                     c->upstream_model ? c->upstream_model : H_MODEL,
                     c->model_items ? c->model_items : "", url,
                     c->flush_interval ? c->flush_interval : "100ms",
                     c->store_lines ? c->store_lines : "", admin, prices);
    cr_assert(n > 0 && (size_t)n < sizeof(y), "config too long");
    if (!c->path) {
        h_gw_config_raw(y);
        return;
    }
    FILE *f = fopen(c->path, "w");
    cr_assert(f != NULL, "open %s: %s", c->path, strerror(errno));
    cr_assert(fputs(y, f) >= 0, "write %s", c->path);
    cr_assert_eq(fclose(f), 0, "close %s: %s", c->path, strerror(errno));
}

void hst_gw_start(const struct hst_cfg *c)
{
    cr_assert(c->path == NULL, "hst_gw_start starts the harness's conduit, on H.cfg_path");
    hst_config(c);
    h_gw_start();
    if (c->admin_port > 0)
        cr_assert(h_stderr_wait("admin API listening", H_READY_TIMEOUT_MS),
                  "no \"admin API listening\" line on conduit's stderr");
}

/* ---- admin API ---- */

void hst_admin(int port, const char *method, const char *path, const char *body, struct h_resp *r)
{
    int rc = h_do(port, method, path, HST_MASTER_AUTH, body, r);
    cr_assert_eq(rc, 0, "%s %s: %s", method, path, strerror(-rc));
}

char *hst_admin_ok(int port, const char *method, const char *path, const char *body, int want)
{
    struct h_resp r;
    hst_admin(port, method, path, body, &r);
    cr_assert_eq(r.status, want, "%s %s: %d, want %d: %s", method, path, r.status, want, r.body);
    char *out = r.body;
    r.body = NULL;
    h_resp_free(&r);
    return out;
}

char *hst_key_create(int port, const char *body, struct hst_key *k)
{
    char *resp = hst_admin_ok(port, "POST", "/admin/v1/keys", body, 201);
    hst_json_str(resp, "id", k->id, sizeof(k->id));
    hst_json_str(resp, "key", k->secret, sizeof(k->secret));
    cr_assert(strncmp(k->secret, "condt_", 6) == 0 && strlen(k->secret) == 38,
              "secret %s is not condt_ + 32 characters", k->secret);
    return resp;
}

void hst_auth_line(char *out, size_t cap, const char *secret)
{
    int n = snprintf(out, cap, "Authorization: Bearer %s\r\n", secret);
    cr_assert(n > 0 && (size_t)n < cap, "secret too long for the header");
}

int hst_models(int port, const char *secret, struct h_resp *r)
{
    char hdr[256];
    hst_auth_line(hdr, sizeof(hdr), secret);
    struct h_resp tmp;
    int rc = h_do(port, "GET", "/v1/models", hdr, NULL, &tmp);
    if (rc < 0)
        return rc;
    int st = tmp.status;
    if (r)
        *r = tmp;
    else
        h_resp_free(&tmp);
    return st;
}

double hst_wait_models(int port, const char *secret, int want, double t0, int timeout_ms)
{
    double deadline = t0 + timeout_ms;
    for (;;) {
        int st = hst_models(port, secret, NULL);
        double now = h_now_ms();
        if (st == want)
            return now - t0;
        if (now >= deadline)
            return -1;
        h_sleep_ms(2);
    }
}

/* ---- JSON ---- */

void hst_json_str(const char *doc, const char *path, char *out, size_t cap)
{
    cr_assert(doc != NULL, "no document to read %s from", path);
    cr_assert(h_json_get(doc, strlen(doc), path, out, cap) >= 0, "no %s in %s", path, doc);
}

double hst_json_num(const char *doc, const char *path)
{
    char v[64];
    hst_json_str(doc, path, v, sizeof(v));
    char *end;
    double d = strtod(v, &end);
    cr_assert(end != v && *end == '\0', "%s is not a number in %s", path, doc);
    return d;
}

long long hst_json_ll(const char *doc, const char *path)
{
    long long v;
    cr_assert(doc && h_json_int(doc, strlen(doc), path, &v), "no integer %s in %s", path,
              doc ? doc : "(null)");
    return v;
}

/* ---- SQLite ---- */

sqlite3 *hst_db_open(int flags)
{
    char path[PATH_MAX + 8];
    int n = snprintf(path, sizeof(path), "%s/c.db", H.dir);
    cr_assert(n > 0 && (size_t)n < sizeof(path));
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    cr_assert_eq(rc, SQLITE_OK, "open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_busy_timeout(db, 5000);
    return db;
}

int64_t hst_db_int(sqlite3 *db, const char *sql, const char *p1)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    if (p1)
        cr_assert_eq(sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT), SQLITE_OK);
    rc = sqlite3_step(st);
    cr_assert_eq(rc, SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

void hst_db_wait(sqlite3 *db, const char *sql, const char *p1, int64_t want, int timeout_ms)
{
    double deadline = h_now_ms() + timeout_ms;
    for (;;) {
        int64_t v = hst_db_int(db, sql, p1);
        if (v >= want)
            return;
        cr_assert(h_now_ms() < deadline, "%s = %" PRId64 " after %d ms, want %" PRId64, sql, v,
                  timeout_ms, want);
        h_sleep_ms(50);
    }
}
