/*
 * Tests for store/db.c and store/db_sqlite.c: placeholders, value types,
 * row callbacks, bulk insert, transactions, a locked database, URL handling.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "store/db.h"

static struct gw_db *open_url(const char *url)
{
    struct gw_db *db = NULL;
    struct gw_db_err err = {0};
    int rc = gw_db_open(url, &db, &err);
    cr_assert_eq(rc, 0, "open %s: %s", url, err.message);
    cr_assert_not_null(db);
    return db;
}

static struct gw_db *open_mem(void)
{
    return open_url("sqlite::memory:");
}

/* A fresh file URL in a new temporary directory. */
static void temp_url(char *out, size_t cap)
{
    char dir[] = "/tmp/gw-dbtest-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out, cap, "sqlite:%s/t.db", dir);
}

static void must_exec(struct gw_db *db, const char *sql)
{
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_exec_script(db, sql, &err), 0, "%s: %s", sql, err.message);
}

/* Collects every row of a query as strings ("NULL" for NULL, integers in decimal). */
struct rows {
    size_t n;
    size_t stop_after; /* 0 = never stop */
    char cell[16][4][128];
    enum gw_dbv_type type[16][4];
    size_t ncols;
};

static int collect(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct rows *r = arg;
    cr_assert_lt(r->n, 16);
    cr_assert_leq(ncols, 4);
    r->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        char *c = r->cell[r->n][i];
        r->type[r->n][i] = cols[i].t;
        switch (cols[i].t) {
        case GW_DBV_NULL:
            snprintf(c, 128, "NULL");
            break;
        case GW_DBV_INT:
            snprintf(c, 128, "%" PRId64, cols[i].i);
            break;
        case GW_DBV_REAL:
            snprintf(c, 128, "%g", cols[i].d);
            break;
        case GW_DBV_TEXT:
            /* rows promise NUL-terminated text of exactly len bytes */
            cr_assert_eq(strlen(cols[i].s), cols[i].len);
            cr_assert_lt(cols[i].len, 128);
            memcpy(c, cols[i].s, cols[i].len + 1);
            break;
        default:
            cr_assert_fail("bad type");
        }
    }
    r->n++;
    return r->stop_after && r->n >= r->stop_after;
}

Test(db_sqlite, memory_url_opens_as_sqlite)
{
    struct gw_db *db = open_mem();
    cr_assert_eq(gw_db_kind_of(db), GW_DB_SQLITE);
    gw_db_close(db);
    gw_db_close(NULL);
}

Test(db_sqlite, dollar_placeholders_bind_by_number_and_literals_stay)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    struct rows r = {0};
    struct gw_dbv p[] = {GW_DBV_STR("first"), GW_DBV_INT(42)};
    /* $2 before $1, $1 twice, and "$1" inside a string literal and a comment */
    int64_t n = gw_db_exec(db, "SELECT $2, $1 || '-$1-' || $1, 'it''s $2' /* $1 */ -- $2\n", p, 2,
                           collect, &r, &err);
    cr_assert_eq(n, 1, "%s", err.message);
    cr_assert_eq(r.ncols, 3);
    cr_assert_str_eq(r.cell[0][0], "42");
    cr_assert_eq(r.type[0][0], GW_DBV_INT);
    cr_assert_str_eq(r.cell[0][1], "first-$1-first");
    cr_assert_str_eq(r.cell[0][2], "it's $2");
    gw_db_close(db);
}

Test(db_sqlite, nulls_ints_and_quoted_text_round_trip)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    must_exec(db, "CREATE TABLE t(a BIGINT, b TEXT, c REAL)");
    const char *quoted = "O'Brien said \"hi\"; DROP TABLE t; --";
    char slice[] = "abcXYZ";
    struct gw_dbv rows[][3] = {
        {GW_DBV_INT(INT64_MIN), GW_DBV_STR(quoted), GW_DBV_NUL},
        {GW_DBV_INT(INT64_MAX), GW_DBV_STRN(slice, 3), GW_DBV_REAL(2.5)},
        {GW_DBV_NUL, GW_DBV_STRN(NULL, 0), GW_DBV_NUL},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(rows); i++)
        cr_assert_eq(
            gw_db_exec(db, "INSERT INTO t VALUES ($1, $2, $3)", rows[i], 3, NULL, NULL, &err), 1,
            "%s", err.message);

    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT a, b, c FROM t ORDER BY rowid", NULL, 0, collect, &r, &err),
                 3, "%s", err.message);
    char min[32], max[32];
    snprintf(min, sizeof(min), "%lld", (long long)INT64_MIN);
    snprintf(max, sizeof(max), "%lld", (long long)INT64_MAX);
    cr_assert_str_eq(r.cell[0][0], min);
    cr_assert_str_eq(r.cell[0][1], quoted);
    cr_assert_eq(r.type[0][2], GW_DBV_NULL);
    cr_assert_str_eq(r.cell[1][0], max);
    cr_assert_str_eq(r.cell[1][1], "abc", "only len bytes of the param are bound");
    cr_assert_str_eq(r.cell[1][2], "2.5");
    cr_assert_eq(r.type[2][0], GW_DBV_NULL);
    cr_assert_eq(r.type[2][1], GW_DBV_TEXT, "a NULL pointer with len 0 is empty text");
    cr_assert_str_eq(r.cell[2][1], "");
    /* the injected text did not run */
    cr_assert_eq(gw_db_exec(db, "SELECT 1 FROM t", NULL, 0, NULL, NULL, &err), 3);
    gw_db_close(db);
}

Test(db_sqlite, exec_counts_changed_rows)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    must_exec(db, "CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1),(2),(3),(4),(5);");
    struct gw_dbv p[] = {GW_DBV_INT(2)};
    cr_assert_eq(gw_db_exec(db, "UPDATE t SET a = a + 10 WHERE a > $1", p, 1, NULL, NULL, &err), 3);
    cr_assert_eq(gw_db_exec(db, "DELETE FROM t WHERE a < $1", p, 1, NULL, NULL, &err), 1);
    cr_assert_eq(gw_db_exec(db, "UPDATE t SET a = 0 WHERE a = 999", NULL, 0, NULL, NULL, &err), 0);
    gw_db_close(db);
}

Test(db_sqlite, row_callback_can_stop_early)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    must_exec(db, "CREATE TABLE t(a INTEGER); INSERT INTO t VALUES (1),(2),(3),(4),(5);");
    struct rows r = {.stop_after = 2};
    int64_t n = gw_db_exec(db, "SELECT a FROM t ORDER BY a", NULL, 0, collect, &r, &err);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(r.cell[1][0], "2");
    /* the statement was reset: the same query runs again in full */
    struct rows all = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT a FROM t ORDER BY a", NULL, 0, collect, &all, &err), 5);
    cr_assert_eq(all.n, 5);
    gw_db_close(db);
}

Test(db_sqlite, wrong_parameter_count_and_several_statements_are_refused)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    struct gw_dbv p[] = {GW_DBV_INT(1), GW_DBV_INT(2)};
    cr_assert_eq(gw_db_exec(db, "SELECT $1", p, 2, NULL, NULL, &err), -1);
    cr_assert_eq(gw_db_exec(db, "SELECT $1, $2", p, 1, NULL, NULL, &err), -1);
    cr_assert_eq(gw_db_exec(db, "SELECT 1; SELECT 2", NULL, 0, NULL, NULL, &err), -1);
    cr_assert_not(err.unavailable);
    cr_assert_eq(gw_db_exec(db, "SELEKT 1", NULL, 0, NULL, NULL, &err), -1);
    cr_assert(strstr(err.message, "syntax") != NULL, "%s", err.message);
    cr_assert_not(err.unavailable, "a bad statement is not a reason to retry");
    gw_db_close(db);
}

Test(db_sqlite, copy_inserts_every_row_inside_the_transaction)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    must_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a BIGINT, b TEXT, c BIGINT)");
    enum { N = 300 };
    static struct gw_dbv vals[N * 3];
    static char names[N][16];
    int64_t want_sum = 0;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "n'%d", i);
        vals[i * 3 + 0] = GW_DBV_INT((int64_t)i * 7);
        vals[i * 3 + 1] = GW_DBV_STR(names[i]);
        vals[i * 3 + 2] = i % 3 ? GW_DBV_INT(i) : GW_DBV_NUL;
        want_sum += (int64_t)i * 7;
    }
    const char *cols[] = {"a", "b", "c"};
    cr_assert_eq(gw_db_begin(db, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_copy(db, "t", cols, 3, vals, N, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_commit(db, &err), 0, "%s", err.message);

    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT count(*), sum(a), count(c), max(b) FROM t", NULL, 0,
                            collect, &r, &err),
                 1);
    char want[32];
    snprintf(want, sizeof(want), "%" PRId64, want_sum);
    cr_assert_str_eq(r.cell[0][0], "300");
    cr_assert_str_eq(r.cell[0][1], want);
    cr_assert_str_eq(r.cell[0][2], "200"); /* every third c is NULL */
    cr_assert_str_eq(r.cell[0][3], "n'99");

    /* rolled back with its transaction */
    cr_assert_eq(gw_db_begin(db, &err), 0);
    cr_assert_eq(gw_db_copy(db, "t", cols, 3, vals, 10, &err), 0);
    gw_db_rollback(db);
    struct rows r2 = {0};
    gw_db_exec(db, "SELECT count(*) FROM t", NULL, 0, collect, &r2, &err);
    cr_assert_str_eq(r2.cell[0][0], "300");
    gw_db_close(db);
}

Test(db_sqlite, copy_refuses_names_that_are_not_identifiers)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    must_exec(db, "CREATE TABLE t(a BIGINT)");
    struct gw_dbv v[] = {GW_DBV_INT(1)};
    const char *bad_col[] = {"a) VALUES(1); DROP TABLE t; --"};
    const char *good_col[] = {"a"};
    cr_assert_eq(gw_db_copy(db, "t", bad_col, 1, v, 1, &err), -1);
    cr_assert_eq(gw_db_copy(db, "t;x", good_col, 1, v, 1, &err), -1);
    cr_assert_eq(gw_db_copy(db, "t", good_col, 1, v, 0, &err), 0, "no rows is a no-op");
    cr_assert_eq(gw_db_copy(db, "missing", good_col, 1, v, 1, &err), -1);
    gw_db_close(db);
}

Test(db_sqlite, rollback_discards_and_never_fails_without_a_transaction)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    must_exec(db, "CREATE TABLE t(a BIGINT)");
    gw_db_rollback(db); /* nothing open: harmless */
    cr_assert_eq(gw_db_begin(db, &err), 0);
    struct gw_dbv v[] = {GW_DBV_INT(5)};
    cr_assert_eq(gw_db_exec(db, "INSERT INTO t VALUES ($1)", v, 1, NULL, NULL, &err), 1);
    gw_db_rollback(db);
    cr_assert_eq(gw_db_exec(db, "SELECT a FROM t", NULL, 0, NULL, NULL, &err), 0);
    gw_db_close(db);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(db_sqlite, locked_database_fails_fast_as_unavailable)
{
    char url[256];
    temp_url(url, sizeof(url));
    struct gw_db *a = open_url(url);
    struct gw_db *b = open_url(url);
    struct gw_db_err err = {0};
    must_exec(a, "CREATE TABLE t(a BIGINT); INSERT INTO t VALUES (1);");
    must_exec(a, "BEGIN EXCLUSIVE");
    gw_db_set_timeout(b, 50);

    double t0 = now_s();
    struct gw_dbv v[] = {GW_DBV_INT(2)};
    cr_assert_eq(gw_db_exec(b, "INSERT INTO t VALUES ($1)", v, 1, NULL, NULL, &err), -1);
    cr_assert(err.unavailable, "%s", err.message);
    err.unavailable = false;
    cr_assert_eq(gw_db_begin(b, &err), -1);
    cr_assert(err.unavailable, "%s", err.message);
    cr_assert_lt(now_s() - t0, 2.0, "the busy timeout bounds the wait");

    /* once the lock is gone the same connection works again */
    must_exec(a, "COMMIT");
    cr_assert_eq(gw_db_exec(b, "INSERT INTO t VALUES ($1)", v, 1, NULL, NULL, &err), 1, "%s",
                 err.message);
    gw_db_close(a);
    gw_db_close(b);
}

Test(db_sqlite, file_database_is_in_wal_mode_with_foreign_keys)
{
    char url[256];
    temp_url(url, sizeof(url));
    struct gw_db *db = open_url(url);
    struct gw_db_err err = {0};
    struct rows r = {0};
    gw_db_exec(db, "PRAGMA journal_mode", NULL, 0, collect, &r, &err);
    cr_assert_str_eq(r.cell[0][0], "wal");
    must_exec(db, "CREATE TABLE p(id TEXT PRIMARY KEY); CREATE TABLE c(p TEXT REFERENCES p(id))");
    struct gw_dbv v[] = {GW_DBV_STR("nope")};
    cr_assert_eq(gw_db_exec(db, "INSERT INTO c VALUES ($1)", v, 1, NULL, NULL, &err), -1);
    cr_assert_not(err.unavailable);
    gw_db_close(db);
}

Test(db_sqlite, bad_urls_and_paths_are_refused)
{
    struct gw_db *db = (struct gw_db *)1;
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_open("mysql://u:hunter2@h/db", &db, &err), -1);
    cr_assert_null(db);
    cr_assert(strstr(err.message, "hunter2") == NULL, "password leaked: %s", err.message);
    cr_assert_eq(gw_db_open("sqlite:", &db, &err), -1);
    cr_assert_eq(gw_db_open("", &db, &err), -1);
    cr_assert_eq(gw_db_open("sqlite:/nonexistent-dir-gw/x/t.db", &db, &err), -1);
    cr_assert_null(db);
}

Test(db_sqlite, sqlite_double_slash_url_takes_the_path_after_it)
{
    char url[256];
    temp_url(url, sizeof(url));
    /* "sqlite:/tmp/…/t.db" -> "sqlite:///tmp/…/t.db" names the same file */
    char url2[300];
    snprintf(url2, sizeof(url2), "sqlite://%s", url + strlen("sqlite:"));
    struct gw_db *a = open_url(url);
    must_exec(a, "CREATE TABLE marker(a BIGINT)");
    gw_db_close(a);
    struct gw_db *b = open_url(url2);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_exec(b, "SELECT * FROM marker", NULL, 0, NULL, NULL, &err), 0, "%s",
                 err.message);
    gw_db_close(b);
}

Test(db_sqlite, notifications_are_accepted_and_wait_times_out)
{
    struct gw_db *db = open_mem();
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_listen(db, "conduit_accounts", &err), 0);
    cr_assert_eq(gw_db_notify(db, "conduit_accounts", &err), 0);
    cr_assert_eq(gw_db_listen(db, "bad channel;", &err), -1);
    double t0 = now_s();
    cr_assert_eq(gw_db_wait_notify(db, 30), 0);
    cr_assert_geq(now_s() - t0, 0.025);
    gw_db_close(db);
}

static void redacted(const char *url, const char *want)
{
    char out[256];
    gw_db_url_redact(url, out, sizeof(out));
    cr_assert_str_eq(out, want, "redact(%s)", url);
}

Test(db_url, passwords_are_replaced_and_the_rest_kept)
{
    redacted("postgres://conduit:s3cret@db.local:5432/gw",
             "postgres://conduit:***@db.local:5432/gw");
    redacted("postgresql://u:p@ss:w@h/db?sslmode=require",
             "postgresql://u:***@h/db?sslmode=require");
    redacted("postgres://u@h/db?password=x&sslmode=disable",
             "postgres://u@h/db?password=***&sslmode=disable");
    redacted("postgres://h/db", "postgres://h/db");
    redacted("postgres://u:p@h", "postgres://u:***@h");
    redacted("sqlite:/var/lib/conduit.db", "sqlite:/var/lib/conduit.db");
    redacted("host=h password=pw user=u", "host=h password=*** user=u");
    redacted("postgres://h/db?nopassword=x", "postgres://h/db?nopassword=x");
}

Test(db_url, redaction_truncates_safely)
{
    char out[12];
    memset(out, 'Z', sizeof(out));
    gw_db_url_redact("postgres://user:secret@host/db", out, sizeof(out));
    cr_assert_eq(strlen(out), sizeof(out) - 1);
    cr_assert(strstr(out, "sec") == NULL);
    char none[1] = {'Z'};
    gw_db_url_redact("postgres://a:b@c", none, 1);
    cr_assert_eq(none[0], '\0');
}

Test(db_value, int_reads_integers_decimal_text_and_defaults)
{
    struct gw_dbv v = GW_DBV_INT(-7);
    cr_assert_eq(gw_dbv_int(&v, 0), -7);
    v = GW_DBV_STR("123");
    cr_assert_eq(gw_dbv_int(&v, 0), 123);
    v = GW_DBV_STR("-9223372036854775808");
    cr_assert_eq(gw_dbv_int(&v, 0), INT64_MIN);
    v = GW_DBV_STR("9223372036854775807");
    cr_assert_eq(gw_dbv_int(&v, 0), INT64_MAX);
    v = GW_DBV_STR("9223372036854775808");
    cr_assert_eq(gw_dbv_int(&v, 77), 77, "overflow gives the default");
    v = GW_DBV_STR("4200.000"); /* PostgreSQL numeric sums */
    cr_assert_eq(gw_dbv_int(&v, 0), 4200);
    v = GW_DBV_STR("12abc");
    cr_assert_eq(gw_dbv_int(&v, 5), 5);
    v = GW_DBV_STR("");
    cr_assert_eq(gw_dbv_int(&v, 5), 5);
    v = GW_DBV_STRN("1234", 2); /* params need not be NUL-terminated */
    cr_assert_eq(gw_dbv_int(&v, 0), 12);
    v = GW_DBV_NUL;
    cr_assert_eq(gw_dbv_int(&v, -1), -1);
    v = GW_DBV_REAL(3.9);
    cr_assert_eq(gw_dbv_int(&v, 0), 3);
}

Test(db_value, real_reads_every_numeric_form)
{
    struct gw_dbv v = GW_DBV_REAL(0.25);
    cr_assert_float_eq(gw_dbv_real(&v, 0), 0.25, 1e-12);
    v = GW_DBV_INT(3);
    cr_assert_float_eq(gw_dbv_real(&v, 0), 3.0, 1e-12);
    v = GW_DBV_STR("1.5e3");
    cr_assert_float_eq(gw_dbv_real(&v, 0), 1500.0, 1e-9);
    v = GW_DBV_STRN("2.5xyz", 3);
    cr_assert_float_eq(gw_dbv_real(&v, 0), 2.5, 1e-12);
    v = GW_DBV_STR("x");
    cr_assert_float_eq(gw_dbv_real(&v, -2), -2.0, 1e-12);
    v = GW_DBV_NUL;
    cr_assert_float_eq(gw_dbv_real(&v, 9), 9.0, 1e-12);
}
