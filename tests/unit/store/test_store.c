/*
 * Tests for store/migrate.c and store/store.c: migrations, loading accounts,
 * usage with its spend and progress, spend sums.
 *
 * Engine-neutral: every test opens test_db_url(), a fresh empty SQLite file
 * by default. A second test file may run the same tests on another engine by
 * defining STORE_TEST_URL_FN and its own `static const char *test_db_url(void)`
 * (returning a fresh empty database each call) before including this file.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/usage.h"
#include "core/vkey.h"
#include "store/db.h"
#include "store/store.h"

#ifndef STORE_TEST_URL_FN
static const char *test_db_url(void)
{
    static char url[300];
    char dir[] = "/tmp/gw-storetest-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
    return url;
}
#endif

/* 2024-02-29T00:00:00Z: day 19782 (2024-01-01 is day 19723, then 31 + 28 days). */
#define LEAP_DAY 19782
#define DAY_MS INT64_C(86400000)

static struct gw_db *open_db(const char *url)
{
    struct gw_db *db = NULL;
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_open(url, &db, &err), 0, "open: %s", err.message);
    return db;
}

static struct gw_db *open_migrated(void)
{
    struct gw_db *db = open_db(test_db_url());
    struct gw_db_err err = {0};
    cr_assert_eq(gw_store_migrate(db, NULL, NULL, &err), 0, "migrate: %s", err.message);
    return db;
}

static void sql(struct gw_db *db, const char *s, const struct gw_dbv *p, size_t n)
{
    struct gw_db_err err = {0};
    cr_assert_geq(gw_db_exec(db, s, p, n, NULL, NULL, &err), 0, "%s: %s", s, err.message);
}

static int grab_int(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    cr_assert_geq(ncols, 1);
    *(int64_t *)arg = gw_dbv_int(&cols[0], INT64_MIN);
    return 0;
}

/* The single integer a query returns (INT64_MIN for NULL). */
static int64_t query_int(struct gw_db *db, const char *s, const struct gw_dbv *p, size_t n)
{
    struct gw_db_err err = {0};
    int64_t v = INT64_MIN;
    cr_assert_geq(gw_db_exec(db, s, p, n, grab_int, &v, &err), 0, "%s: %s", s, err.message);
    return v;
}

/* ---- migrations ---- */

Test(store_migrate, empty_database_goes_to_latest_with_every_table)
{
    struct gw_db *db = open_db(test_db_url());
    struct gw_db_err err = {0};
    int v = -1;
    cr_assert_eq(gw_store_schema_version(db, &v, &err), 0, "%s", err.message);
    cr_assert_eq(v, 0);
    int from = -1, to = -1;
    cr_assert_eq(gw_store_migrate(db, &from, &to, &err), 0, "%s", err.message);
    cr_assert_eq(from, 0);
    cr_assert_eq(to, gw_store_schema_latest());
    cr_assert_geq(gw_store_schema_latest(), 1);
    cr_assert_eq(gw_store_schema_version(db, &v, &err), 0);
    cr_assert_eq(v, gw_store_schema_latest());
    const char *tables[] = {"teams", "keys", "prices", "usage", "spend", "ingest_progress"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(tables); i++) {
        char q[64];
        snprintf(q, sizeof(q), "SELECT count(*) FROM %s", tables[i]);
        cr_assert_eq(query_int(db, q, NULL, 0), 0, "%s", tables[i]);
    }
    cr_assert_eq(query_int(db, "SELECT count(*) FROM conduit_schema", NULL, 0), 1);
    gw_db_close(db);
}

Test(store_migrate, second_run_changes_nothing)
{
    const char *url = test_db_url();
    struct gw_db *db = open_db(url);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_store_migrate(db, NULL, NULL, &err), 0, "%s", err.message);
    sql(db, "INSERT INTO prices (model, input, output, updated_at) VALUES ('m', 1, 2, 3)", NULL, 0);
    gw_db_close(db);

    db = open_db(url);
    int from = -1, to = -1;
    cr_assert_eq(gw_store_migrate(db, &from, &to, &err), 0, "%s", err.message);
    cr_assert_eq(from, gw_store_schema_latest());
    cr_assert_eq(to, gw_store_schema_latest());
    cr_assert_eq(query_int(db, "SELECT count(*) FROM conduit_schema", NULL, 0), 1);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM prices", NULL, 0), 1, "data kept");
    gw_db_close(db);
}

Test(store_migrate, newer_database_is_refused_with_the_upgrade_message)
{
    struct gw_db *db = open_migrated();
    int newer = gw_store_schema_latest() + 1;
    struct gw_dbv p[] = {GW_DBV_INT(newer)};
    sql(db, "UPDATE conduit_schema SET version = $1", p, 1);

    struct gw_db_err err = {0};
    int from = -1, to = -1;
    cr_assert_eq(gw_store_migrate(db, &from, &to, &err), -1);
    char want[160];
    snprintf(want, sizeof(want),
             "database schema version %d is newer than this binary's %d: upgrade conduit", newer,
             newer - 1);
    cr_assert_str_eq(err.message, want);
    cr_assert_not(err.unavailable);
    cr_assert_eq(from, newer);
    cr_assert_eq(query_int(db, "SELECT version FROM conduit_schema", NULL, 0), newer);
    gw_db_close(db);
}

Test(store_migrate, two_processes_migrating_at_once_both_succeed)
{
    const char *url = test_db_url();
    char u[300];
    snprintf(u, sizeof(u), "%s", url);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        cr_assert_geq(kids[i], 0);
        if (kids[i] == 0) {
            struct gw_db *db = NULL;
            struct gw_db_err err = {0};
            int rc = gw_db_open(u, &db, &err);
            if (rc == 0)
                rc = gw_store_migrate(db, NULL, NULL, &err);
            if (rc != 0)
                fprintf(stderr, "child %d: %s\n", i, err.message);
            gw_db_close(db);
            _exit(rc == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < 2; i++) {
        int st;
        cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed", i);
    }
    struct gw_db *db = open_db(u);
    struct gw_db_err err = {0};
    int v;
    cr_assert_eq(gw_store_schema_version(db, &v, &err), 0);
    cr_assert_eq(v, gw_store_schema_latest());
    cr_assert_eq(query_int(db, "SELECT count(*) FROM conduit_schema", NULL, 0), 1);
    gw_db_close(db);
}

/* ---- loading accounts ---- */

static void digest_of(const char *secret, uint8_t d[GW_DIGEST_LEN], char hex[65])
{
    gw_vkey_digest(secret, strlen(secret), d);
    for (size_t i = 0; i < GW_DIGEST_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

struct slots {
    char ids[8][64];
    uint32_t n;
};

static uint32_t slot_of(void *arg, const char *id)
{
    struct slots *s = arg;
    cr_assert_lt(s->n, 8);
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
    return 100 + s->n++;
}

static void add_team(struct gw_db *db, const char *id, const struct gw_dbv *limit,
                     const char *period, int hard, int enabled)
{
    struct gw_dbv p[] = {GW_DBV_STR(id),
                         GW_DBV_STR(id),
                         GW_DBV_INT(enabled),
                         *limit,
                         period ? GW_DBV_STR(period) : GW_DBV_NUL,
                         GW_DBV_INT(hard)};
    sql(db,
        "INSERT INTO teams (id, name, enabled, budget_limit_pusd, budget_period, budget_hard,"
        " rpm, tpm, metadata, created_at, updated_at)"
        " VALUES ($1, $2 || '-name', $3, $4, $5, $6, 60, NULL, '{\"cc\":\"42\"}', 1, 1)",
        p, GW_ARRAY_SIZE(p));
}

struct key_row {
    const char *id, *team, *digest_hex, *models, *period, *old_hex;
    struct gw_dbv limit;
    int64_t expires_at, old_until, revoked_at;
    int enabled;
};

static void add_key(struct gw_db *db, const struct key_row *k)
{
    struct gw_dbv p[] = {
        GW_DBV_STR(k->id),
        k->team ? GW_DBV_STR(k->team) : GW_DBV_NUL,
        GW_DBV_STR(k->digest_hex),
        GW_DBV_INT(k->enabled),
        k->expires_at ? GW_DBV_INT(k->expires_at) : GW_DBV_NUL,
        GW_DBV_STR(k->models ? k->models : "[]"),
        k->limit,
        k->period ? GW_DBV_STR(k->period) : GW_DBV_NUL,
        k->old_hex ? GW_DBV_STR(k->old_hex) : GW_DBV_NUL,
        k->old_until ? GW_DBV_INT(k->old_until) : GW_DBV_NUL,
        k->revoked_at ? GW_DBV_INT(k->revoked_at) : GW_DBV_NUL,
    };
    sql(db,
        "INSERT INTO keys (id, name, team_id, digest, hint, enabled, expires_at, models,"
        " budget_limit_pusd, budget_period, budget_hard, rpm, tpm, metadata, old_digest,"
        " old_until, created_at, updated_at, revoked_at)"
        " VALUES ($1, $1 || '-name', $2, $3, 'condt_AbCd', $4, $5, $6, $7, $8, 0, NULL, 1000,"
        " '{}', $9, $10, 1, 1, $11)",
        p, GW_ARRAY_SIZE(p));
}

Test(store_accounts, keys_teams_and_prices_round_trip_into_the_snapshot)
{
    struct gw_db *db = open_migrated();
    uint8_t d1[32], d2[32], d3[32], dold[32], dnone[32];
    char h1[65], h2[65], h3[65], hold[65], hnone[65];
    digest_of("condt_first", d1, h1);
    digest_of("condt_second", d2, h2);
    digest_of("condt_revoked", d3, h3);
    digest_of("condt_old", dold, hold);
    digest_of("condt_never_stored", dnone, hnone);

    int64_t five_usd = 5 * INT64_C(1000000000000);
    add_team(db, "team_a", &GW_DBV_INT(five_usd), "monthly", 1, 1);
    add_team(db, "team_b", &GW_DBV_NUL, NULL, 0, 1);
    struct key_row k1 = {.id = "key_1",
                         .team = "team_a",
                         .digest_hex = h1,
                         .models = "[\"gpt-4o\", \"claude-\\u0033*\"]",
                         .period = "daily",
                         .limit = GW_DBV_INT(250),
                         .enabled = 1,
                         .expires_at = 4000000000,
                         .old_hex = hold,
                         .old_until = 3000000000};
    struct key_row k2 = {.id = "key_2", .digest_hex = h2, .limit = GW_DBV_NUL, .enabled = 0};
    struct key_row k3 = {
        .id = "key_3", .digest_hex = h3, .limit = GW_DBV_NUL, .enabled = 1, .revoked_at = 5};
    add_key(db, &k1);
    add_key(db, &k2);
    add_key(db, &k3);
    sql(db,
        "INSERT INTO prices (model, input, output, cached_input, cache_write, embedding,"
        " updated_at) VALUES ('my-model', 150000, 600000, 75000, NULL, NULL, 1)",
        NULL, 0);

    struct slots sl = {0};
    struct gw_accounts_builder *b = gw_accounts_builder_new(slot_of, &sl);
    cr_assert_not_null(b);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_store_load_accounts(db, b, &err), 0, "%s", err.message);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);

    cr_assert_eq(gw_accounts_nteams(a), 2);
    cr_assert_eq(gw_accounts_nkeys(a), 2, "the revoked key is not loaded");
    /* only budgeted subjects asked for a slot */
    cr_assert_eq(sl.n, 2);
    bool saw_team = false, saw_key = false;
    for (uint32_t i = 0; i < sl.n; i++) {
        saw_team |= strcmp(sl.ids[i], "team_a") == 0;
        saw_key |= strcmp(sl.ids[i], "key_1") == 0;
    }
    cr_assert(saw_team && saw_key);

    enum gw_key_status st;
    const struct gw_vkey *k = gw_accounts_find_key(a, d1, 1700000000, &st);
    cr_assert_not_null(k, "status %d", st);
    cr_assert_str_eq(k->id, "key_1");
    cr_assert_str_eq(k->name, "key_1-name");
    cr_assert_eq(k->expires_at, 4000000000);
    cr_assert_eq(k->tpm, 1000);
    cr_assert_eq(k->rpm, 0);
    cr_assert(k->budget.set);
    cr_assert_eq(k->budget.period, GW_PERIOD_DAILY);
    cr_assert_eq(k->budget.limit_pusd, 250);
    cr_assert_not(k->budget.hard);
    cr_assert_neq(k->slot, GW_SLOT_NONE);
    cr_assert_eq(k->nmodels, 2);
    cr_assert_str_eq(k->models[0], "gpt-4o");
    cr_assert_str_eq(k->models[1], "claude-3*", "escapes are decoded");
    cr_assert(gw_vkey_allows_model(k, gw_span_cstr("claude-3-opus")));
    cr_assert_not(gw_vkey_allows_model(k, gw_span_cstr("gpt-4")));

    cr_assert_not_null(k->team);
    cr_assert_str_eq(k->team->id, "team_a");
    cr_assert_str_eq(k->team->name, "team_a-name");
    cr_assert_str_eq(k->team->metadata, "{\"cc\":\"42\"}");
    cr_assert_eq(k->team->rpm, 60);
    cr_assert(k->team->budget.set);
    cr_assert(k->team->budget.hard);
    cr_assert_eq(k->team->budget.period, GW_PERIOD_MONTHLY);
    cr_assert_eq(k->team->budget.limit_pusd, five_usd);

    /* the old digest works until old_until, then not */
    cr_assert_eq(gw_accounts_find_key(a, dold, 2999999999, &st), k);
    cr_assert_null(gw_accounts_find_key(a, dold, 3000000000, &st));
    cr_assert_eq(st, GW_KEY_EXPIRED);

    cr_assert_null(gw_accounts_find_key(a, d2, 1700000000, &st));
    cr_assert_eq(st, GW_KEY_DISABLED);
    const struct gw_vkey *k2l = gw_accounts_key_by_id(a, "key_2");
    cr_assert_not_null(k2l);
    cr_assert_null(k2l->team);
    cr_assert_not(k2l->budget.set);
    cr_assert_eq(k2l->nmodels, 0);
    cr_assert_null(gw_accounts_find_key(a, d3, 1700000000, &st));
    cr_assert_eq(st, GW_KEY_UNKNOWN);
    cr_assert_null(gw_accounts_find_key(a, dnone, 1700000000, &st));

    const struct gw_price *p = gw_accounts_find_price(a, gw_span_cstr("my-model"), GW_SPAN_NULL);
    cr_assert_not_null(p);
    cr_assert_str_eq(p->source, "admin");
    cr_assert_eq(p->input, 150000);
    cr_assert_eq(p->output, 600000);
    cr_assert_eq(p->cached_input, 75000);
    cr_assert_eq(p->cache_write, -1);
    cr_assert_eq(p->embedding, -1);
    gw_accounts_unref(a);
    gw_db_close(db);
}

static void expect_load_fails(struct gw_db *db, const char *needle)
{
    struct gw_accounts_builder *b = gw_accounts_builder_new(NULL, NULL);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_store_load_accounts(db, b, &err), -1);
    cr_assert(strstr(err.message, needle) != NULL, "message: %s", err.message);
    gw_accounts_builder_free(b);
}

Test(store_accounts, a_bad_row_fails_the_load_and_names_the_key)
{
    struct gw_db *db = open_migrated();
    uint8_t d[32];
    char h[65];
    digest_of("condt_x", d, h);
    struct key_row k = {.id = "key_badmodels",
                        .digest_hex = h,
                        .models = "[\"a\", 3]",
                        .limit = GW_DBV_NUL,
                        .enabled = 1};
    add_key(db, &k);
    expect_load_fails(db, "key_badmodels");
    sql(db,
        "UPDATE keys SET models = '[\"a\"]', budget_limit_pusd = 5,"
        " budget_period = 'fortnightly'",
        NULL, 0);
    expect_load_fails(db, "fortnightly");
    sql(db, "UPDATE keys SET budget_period = NULL, digest = 'zz'", NULL, 0);
    expect_load_fails(db, "digest");
    gw_db_close(db);
}

/* ---- usage and spend ---- */

static struct gw_usage_rec mkrec(int64_t time_ms, const char *key, const char *team, int64_t cost,
                                 bool have_cost, uint64_t seq)
{
    struct gw_usage_rec r;
    memset(&r, 0, sizeof(r));
    r.time_ms = time_ms;
    snprintf(r.boot, sizeof(r.boot), "bootA");
    r.worker = 1;
    r.seq = seq;
    snprintf(r.request_id, sizeof(r.request_id), "req-%" PRIu64, seq);
    snprintf(r.key_id, sizeof(r.key_id), "%s", key);
    snprintf(r.key_name, sizeof(r.key_name), "%s", key);
    snprintf(r.team_id, sizeof(r.team_id), "%s", team);
    snprintf(r.model, sizeof(r.model), "gpt-4o");
    snprintf(r.endpoint, sizeof(r.endpoint), "chat");
    r.status = 200;
    r.prompt_tokens = 10;
    r.completion_tokens = 20;
    r.have_cost = have_cost;
    r.cost_pusd = cost;
    r.est_pusd = 1;
    r.ttfb_us = -1;
    r.duration_us = 1000;
    return r;
}

struct spend_rows {
    size_t n;
    char subject[16][64];
    int64_t day[16], cost[16], requests[16];
};

static int spend_row(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct spend_rows *s = arg;
    cr_assert_eq(ncols, 4);
    cr_assert_lt(s->n, 16);
    snprintf(s->subject[s->n], 64, "%s", cols[0].s);
    s->day[s->n] = gw_dbv_int(&cols[1], -1);
    s->cost[s->n] = gw_dbv_int(&cols[2], -1);
    s->requests[s->n] = gw_dbv_int(&cols[3], -1);
    s->n++;
    return 0;
}

static void read_spend(struct gw_db *db, struct spend_rows *s)
{
    struct gw_db_err err = {0};
    memset(s, 0, sizeof(*s));
    cr_assert_geq(gw_db_exec(db,
                             "SELECT subject, day, cost_pusd, requests FROM spend"
                             " ORDER BY subject, day",
                             NULL, 0, spend_row, s, &err),
                  0, "%s", err.message);
}

Test(store_usage, spend_is_added_per_subject_and_utc_day)
{
    struct gw_db *db = open_migrated();
    int64_t midnight = (int64_t)LEAP_DAY * DAY_MS;
    struct gw_usage_rec recs[] = {
        mkrec(midnight - 1, "key_1", "team_a", 100, true, 1), /* last ms of day - 1 */
        mkrec(midnight, "key_1", "team_a", 200, true, 2),     /* first ms of the day */
        mkrec(midnight + 5000, "key_1", "team_a", 300, true, 3),
        mkrec(midnight + 6000, "key_2", "", 40, true, 4),   /* no team */
        mkrec(midnight + 7000, "key_2", "", 999, false, 5), /* unknown price */
        mkrec(midnight + 8000, "", "", 0, false, 6),        /* no key accepted */
    };
    struct gw_db_err err = {0};
    cr_assert_eq(gw_store_insert_usage(db, recs, GW_ARRAY_SIZE(recs), "f1", 600, &err), 0, "%s",
                 err.message);

    struct spend_rows s;
    read_spend(db, &s);
    struct {
        const char *subject;
        int64_t day, cost, requests;
    } want[] = {
        {"k:key_1", LEAP_DAY - 1, 100, 1}, {"k:key_1", LEAP_DAY, 500, 2},
        {"k:key_2", LEAP_DAY, 40, 2},      {"t:team_a", LEAP_DAY - 1, 100, 1},
        {"t:team_a", LEAP_DAY, 500, 2},
    };
    cr_assert_eq(s.n, GW_ARRAY_SIZE(want));
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_str_eq(s.subject[i], want[i].subject, "row %zu", i);
        cr_assert_eq(s.day[i], want[i].day, "row %zu", i);
        cr_assert_eq(s.cost[i], want[i].cost, "row %zu", i);
        cr_assert_eq(s.requests[i], want[i].requests, "row %zu", i);
    }
    cr_assert_eq(query_int(db, "SELECT count(*) FROM usage", NULL, 0), 6);

    /* a second batch on the same days adds to the same rows */
    struct gw_usage_rec more[] = {mkrec(midnight + 9000, "key_1", "team_a", 7, true, 7)};
    cr_assert_eq(gw_store_insert_usage(db, more, 1, "f1", 700, &err), 0, "%s", err.message);
    read_spend(db, &s);
    cr_assert_eq(s.n, GW_ARRAY_SIZE(want));
    cr_assert_eq(s.cost[1], 507);
    cr_assert_eq(s.requests[1], 3);
    cr_assert_eq(s.cost[4], 507);
    gw_db_close(db);
}

Test(store_usage, empty_fields_are_stored_as_null)
{
    struct gw_db *db = open_migrated();
    struct gw_usage_rec r = mkrec(1000, "", "", 0, false, 1);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_store_insert_usage(db, &r, 1, NULL, 0, &err), 0, "%s", err.message);
    cr_assert_eq(query_int(db,
                           "SELECT count(*) FROM usage WHERE key_id IS NULL AND key_name IS NULL"
                           " AND team_id IS NULL AND provider IS NULL AND deployment IS NULL"
                           " AND error IS NULL AND price_version IS NULL AND cost_pusd IS NULL"
                           " AND ttfb_us IS NULL",
                           NULL, 0),
                 1);
    r = mkrec(2000, "key_1", "team_a", 55, true, 2);
    r.ttfb_us = 1234;
    snprintf(r.provider, sizeof(r.provider), "openai");
    snprintf(r.error, sizeof(r.error), "timeout");
    r.stream = true;
    r.cached_tokens = UINT64_MAX; /* clamped, not wrapped negative */
    cr_assert_eq(gw_store_insert_usage(db, &r, 1, NULL, 0, &err), 0, "%s", err.message);
    struct gw_dbv p[] = {GW_DBV_INT(2)};
    cr_assert_eq(query_int(db, "SELECT cost_pusd FROM usage WHERE seq = $1", p, 1), 55);
    cr_assert_eq(query_int(db, "SELECT ttfb_us FROM usage WHERE seq = $1", p, 1), 1234);
    cr_assert_eq(query_int(db, "SELECT stream FROM usage WHERE seq = $1", p, 1), 1);
    cr_assert_eq(query_int(db, "SELECT cached_tokens FROM usage WHERE seq = $1", p, 1), INT64_MAX);
    cr_assert_eq(query_int(db,
                           "SELECT count(*) FROM usage WHERE provider = 'openai'"
                           " AND error = 'timeout' AND key_id = 'key_1'",
                           NULL, 0),
                 1);
    gw_db_close(db);
}

Test(store_usage, progress_is_committed_with_the_rows_or_not_at_all)
{
    struct gw_db *db = open_migrated();
    struct gw_db_err err = {0};
    int64_t off = -1;
    cr_assert_eq(gw_store_progress_get(db, "usage-x.log", &off, &err), 0, "%s", err.message);
    cr_assert_eq(off, 0, "never inserted");

    struct gw_usage_rec r1[] = {mkrec(DAY_MS, "key_1", "", 10, true, 1),
                                mkrec(DAY_MS, "key_1", "", 20, true, 2)};
    cr_assert_eq(gw_store_insert_usage(db, r1, 2, "usage-x.log", 512, &err), 0, "%s", err.message);
    cr_assert_eq(gw_store_progress_get(db, "usage-x.log", &off, &err), 0);
    cr_assert_eq(off, 512);

    /* A batch whose last step fails (the progress table is gone) leaves no trace:
     * no usage row, no spend, old progress. */
    sql(db, "ALTER TABLE ingest_progress RENAME TO ingest_progress_away", NULL, 0);
    struct gw_usage_rec r2[] = {mkrec(DAY_MS, "key_1", "", 1000, true, 3)};
    cr_assert_eq(gw_store_insert_usage(db, r2, 1, "usage-x.log", 900, &err), -1);
    sql(db, "ALTER TABLE ingest_progress_away RENAME TO ingest_progress", NULL, 0);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM usage", NULL, 0), 2);
    int64_t spent = -1;
    cr_assert_eq(gw_store_spend_of(db, "k:key_1", 0, 100, &spent, &err), 0);
    cr_assert_eq(spent, 30);
    cr_assert_eq(gw_store_progress_get(db, "usage-x.log", &off, &err), 0);
    cr_assert_eq(off, 512);

    /* replayed, it now goes in exactly once */
    cr_assert_eq(gw_store_insert_usage(db, r2, 1, "usage-x.log", 900, &err), 0, "%s", err.message);
    cr_assert_eq(gw_store_spend_of(db, "k:key_1", 0, 100, &spent, &err), 0);
    cr_assert_eq(spent, 1030);
    cr_assert_eq(gw_store_progress_get(db, "usage-x.log", &off, &err), 0);
    cr_assert_eq(off, 900);

    /* no records: only progress moves */
    cr_assert_eq(gw_store_insert_usage(db, NULL, 0, "usage-x.log", 950, &err), 0);
    cr_assert_eq(gw_store_progress_get(db, "usage-x.log", &off, &err), 0);
    cr_assert_eq(off, 950);
    cr_assert_eq(query_int(db, "SELECT count(*) FROM usage", NULL, 0), 3);

    cr_assert_eq(gw_store_progress_delete(db, "usage-x.log", &err), 0);
    cr_assert_eq(gw_store_progress_get(db, "usage-x.log", &off, &err), 0);
    cr_assert_eq(off, 0);
    gw_db_close(db);
}

struct since {
    size_t n;
    char subject[8][64];
    int64_t pusd[8];
};

static void since_fn(void *arg, const char *subject, int64_t pusd)
{
    struct since *s = arg;
    cr_assert_lt(s->n, 8);
    snprintf(s->subject[s->n], 64, "%s", subject);
    s->pusd[s->n++] = pusd;
}

static int64_t since_of(const struct since *s, const char *subject)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->subject[i], subject) == 0)
            return s->pusd[i];
    return INT64_MIN;
}

Test(store_spend, sums_by_period_with_a_negative_reset_row)
{
    struct gw_db *db = open_migrated();
    struct gw_db_err err = {0};
    int64_t d0 = LEAP_DAY;
    struct gw_usage_rec recs[] = {
        mkrec((d0 - 2) * DAY_MS, "key_1", "team_a", 1, true, 1),
        mkrec((d0 - 1) * DAY_MS, "key_1", "team_a", 10, true, 2),
        mkrec(d0 * DAY_MS, "key_1", "team_a", 100, true, 3),
        mkrec(d0 * DAY_MS + 1, "key_9", "", 1000, true, 4),
    };
    cr_assert_eq(gw_store_insert_usage(db, recs, GW_ARRAY_SIZE(recs), NULL, 0, &err), 0, "%s",
                 err.message);

    int64_t v = -1;
    cr_assert_eq(gw_store_spend_of(db, "k:key_1", d0 - 2, d0 + 1, &v, &err), 0);
    cr_assert_eq(v, 111);
    cr_assert_eq(gw_store_spend_of(db, "k:key_1", d0 - 1, d0, &v, &err), 0);
    cr_assert_eq(v, 10, "the end day is excluded");
    cr_assert_eq(gw_store_spend_of(db, "t:team_a", d0, d0 + 1, &v, &err), 0);
    cr_assert_eq(v, 100);
    cr_assert_eq(gw_store_spend_of(db, "k:nobody", 0, d0 + 1, &v, &err), 0);
    cr_assert_eq(v, 0);

    /* reset-spend as the admin API writes it: minus the period's spend, on today */
    struct gw_dbv p[] = {GW_DBV_STR("k:key_1"), GW_DBV_INT(d0), GW_DBV_INT(-111)};
    sql(db,
        "INSERT INTO spend (subject, day, cost_pusd, requests) VALUES ($1, $2, $3, 0)"
        " ON CONFLICT (subject, day) DO UPDATE SET cost_pusd = spend.cost_pusd + "
        "excluded.cost_pusd",
        p, 3);
    cr_assert_eq(gw_store_spend_of(db, "k:key_1", d0 - 2, d0 + 1, &v, &err), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(gw_store_spend_of(db, "k:key_1", d0, d0 + 1, &v, &err), 0);
    cr_assert_eq(v, -11, "history before the reset keeps its days");

    struct since s = {0};
    cr_assert_eq(gw_store_spend_since(db, d0 - 1, since_fn, &s, &err), 0, "%s", err.message);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(since_of(&s, "k:key_1"), 10 - 11);
    cr_assert_eq(since_of(&s, "t:team_a"), 110);
    cr_assert_eq(since_of(&s, "k:key_9"), 1000);
    struct since later = {0};
    cr_assert_eq(gw_store_spend_since(db, d0 + 1, since_fn, &later, &err), 0);
    cr_assert_eq(later.n, 0);
    gw_db_close(db);
}
