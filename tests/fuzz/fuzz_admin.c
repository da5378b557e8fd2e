/*
 * tests/fuzz/fuzz_admin.c — libFuzzer harness for store/admin.c.
 *
 * Input: "METHOD TARGET" up to the first '\n', then the request body. A
 * method line starting with '!' sends a wrong master key instead of the
 * right one (the refusal path). Requests run against one in-memory SQLite
 * database, migrated once and kept across inputs, so sequences of writes
 * build state later inputs meet. Checks: the handler never crashes or leaks,
 * and always answers a valid JSON body of the length it reports with a
 * status in 200..599.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_admin: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct gw_db *db;

static int64_t fixed_now(void *arg)
{
    (void)arg;
    return 1773576000; /* 2026-03-15T12:00:00Z */
}

static void open_db(void)
{
    struct gw_db_err err = {0};
    if (gw_db_open("sqlite::memory:", &db, &err) < 0 ||
        gw_store_migrate(db, NULL, NULL, &err) < 0) {
        fprintf(stderr, "fuzz_admin: %s\n", err.message);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        open_db();
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t line = nl ? (size_t)(nl - p) : size;
    struct gw_span body = nl ? gw_span_make(nl + 1, size - line - 1) : GW_SPAN_NULL;
    bool wrong = line > 0 && p[0] == '!';
    const char *mstart = p + (wrong ? 1 : 0);
    size_t mlen = line - (wrong ? 1 : 0);
    const char *sp = memchr(mstart, ' ', mlen);
    struct gw_span method = gw_span_make(mstart, sp ? (size_t)(sp - mstart) : mlen);
    struct gw_span target = sp ? gw_span_make(sp + 1, mlen - method.len - 1) : GW_SPAN_NULL;

    struct gw_admin_env env = {
        .db = db,
        .master_key = "fuzz-master",
        .now = fixed_now,
    };
    struct gw_span auth =
        wrong ? GW_SPAN_LIT("Bearer fuzz-mastex") : GW_SPAN_LIT("Bearer fuzz-master");
    struct gw_admin_resp r;
    gw_admin_handle(&env, method, target, auth, body, &r);
    CHECK(r.body != NULL);
    CHECK(strlen(r.body) == r.len);
    CHECK(r.status >= 200 && r.status <= 599);
    CHECK(gw_json_validate(r.body, r.len));
    if (wrong && !(method.len == 3 && memcmp(method.ptr, "GET", 3) == 0))
        CHECK(r.status == 401);
    gw_admin_resp_free(&r);
    return 0;
}
