/*
 * The PostgreSQL driver (store/db_pg.c) against a real server that each test
 * starts and stops (tests/pgtest.h): values both ways, COPY's text escaping,
 * errors that leave the connection usable versus outages that break it
 * (deadline, server stopped), and LISTEN/NOTIFY between two connections.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "store/db.h"
#include "tests/pgtest.h"

PGT_SHARED_SERVER();

/* Every test's database: a schema of its own on the shared server, or a private server. */
static char url[512];
static struct pgt srv;

static void fresh_schema(void)
{
    char err[1024];
    cr_assert_eq(pgt_fresh(url, sizeof(url), err, sizeof(err)), 0, "%s", err);
}

/* The outage tests stop their server: each gets one of its own. */
static void start_private(void)
{
    cr_assert_eq(pgt_start(&srv), 0, "%s", srv.err);
    snprintf(url, sizeof(url), "%s", srv.url);
}

static void stop_private(void)
{
    pgt_stop(&srv);
}

TestSuite(db_pg, .init = fresh_schema, .timeout = 30);
TestSuite(db_pg_outage, .init = start_private, .fini = stop_private, .timeout = 60);
TestSuite(db_pg_noserver, .timeout = 30);

static struct gw_db *open_db(void)
{
    struct gw_db *db = NULL;
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_open(url, &db, &err), 0, "open %s: %s", url, err.message);
    cr_assert_eq(gw_db_kind_of(db), GW_DB_PG);
    return db;
}

static void exec_ok(struct gw_db *db, const char *sql)
{
    struct gw_db_err err = {0};
    cr_assert_geq(gw_db_exec(db, sql, NULL, 0, NULL, NULL, &err), 0, "%s: %s", sql, err.message);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rows collected as owned copies: text (or "<NULL>") per column. */
#define MAXR 16
#define MAXC 8
struct rows {
    size_t n, ncols;
    bool null[MAXR][MAXC];
    char *text[MAXR][MAXC];
    size_t len[MAXR][MAXC];
    int stop_after; /* 0: never */
};

static int collect(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct rows *r = arg;
    cr_assert_lt(r->n, (size_t)MAXR);
    cr_assert_leq(ncols, (size_t)MAXC);
    r->ncols = ncols;
    for (size_t c = 0; c < ncols; c++) {
        r->null[r->n][c] = cols[c].t == GW_DBV_NULL;
        if (cols[c].t == GW_DBV_TEXT) {
            /* Row text is documented NUL-terminated: check it, then copy. */
            cr_assert_eq(cols[c].s[cols[c].len], '\0');
            r->text[r->n][c] = strndup(cols[c].s, cols[c].len);
            r->len[r->n][c] = cols[c].len;
        } else {
            cr_assert_eq(cols[c].t, GW_DBV_NULL, "PostgreSQL rows are text or NULL");
        }
    }
    r->n++;
    return r->stop_after && (int)r->n >= r->stop_after;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < MAXR; i++)
        for (size_t c = 0; c < MAXC; c++)
            free(r->text[i][c]);
    memset(r, 0, sizeof(*r));
}

Test(db_pg, params_go_as_their_types_and_come_back_as_text)
{
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, n BIGINT)");
    struct gw_db_err err = {0};
    struct gw_dbv p[] = {GW_DBV_INT(INT64_MIN), GW_DBV_REAL(0.1), GW_DBV_STR("plain"), GW_DBV_NUL};
    cr_assert_eq(gw_db_exec(db, "INSERT INTO t VALUES ($1, $2, $3, $4)", p, 4, NULL, NULL, &err), 1,
                 "%s", err.message);
    struct gw_dbv p2[] = {GW_DBV_INT(INT64_MAX)};
    cr_assert_eq(gw_db_exec(db, "INSERT INTO t (i) VALUES ($1)", p2, 1, NULL, NULL, &err), 1, "%s",
                 err.message);

    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT i, d, s, n FROM t ORDER BY i", NULL, 0, collect, &r, &err),
                 2, "%s", err.message);
    char want[32];
    snprintf(want, sizeof(want), "%" PRId64, INT64_MIN);
    cr_assert_str_eq(r.text[0][0], want);
    struct gw_dbv got = {.t = GW_DBV_TEXT, .s = r.text[0][0], .len = r.len[0][0]};
    cr_assert_eq(gw_dbv_int(&got, 0), INT64_MIN);
    got = (struct gw_dbv){.t = GW_DBV_TEXT, .s = r.text[0][1], .len = r.len[0][1]};
    cr_assert_eq(gw_dbv_real(&got, -1.0), 0.1, "0.1 must round-trip exactly, got %s", r.text[0][1]);
    cr_assert_str_eq(r.text[0][2], "plain");
    cr_assert(r.null[0][3]);
    snprintf(want, sizeof(want), "%" PRId64, INT64_MAX);
    cr_assert_str_eq(r.text[1][0], want);
    cr_assert(r.null[1][1] && r.null[1][2] && r.null[1][3]);
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, null_params_and_null_columns)
{
    struct gw_db *db = open_db();
    struct gw_db_err err = {0};
    struct gw_dbv p[] = {GW_DBV_NUL, GW_DBV_INT(7)};
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT $1::text IS NULL, COALESCE($1::bigint, $2), NULL", p, 2,
                            collect, &r, &err),
                 1, "%s", err.message);
    cr_assert_str_eq(r.text[0][0], "t");
    cr_assert_str_eq(r.text[0][1], "7");
    cr_assert(r.null[0][2]);
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, awkward_text_params_are_stored_byte_for_byte)
{
    static const char *const vals[] = {
        "it's \"quoted\"; DROP TABLE t; --",
        "back\\slash \\N \\t",
        "tab\there\nnew\r\nline",
        "UTF-8: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "",
        "$1 ?1 %s",
    };
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT PRIMARY KEY, s TEXT)");
    struct gw_db_err err = {0};
    for (size_t i = 0; i < GW_ARRAY_SIZE(vals); i++) {
        struct gw_dbv p[] = {GW_DBV_INT(i), GW_DBV_STR(vals[i])};
        cr_assert_eq(gw_db_exec(db, "INSERT INTO t VALUES ($1, $2)", p, 2, NULL, NULL, &err), 1,
                     "%s", err.message);
    }
    struct rows r = {0};
    cr_assert_eq(
        gw_db_exec(db, "SELECT s, length(s) FROM t ORDER BY k", NULL, 0, collect, &r, &err),
        (int64_t)GW_ARRAY_SIZE(vals), "%s", err.message);
    for (size_t i = 0; i < GW_ARRAY_SIZE(vals); i++) {
        cr_assert_eq(r.len[i][0], strlen(vals[i]), "row %zu", i);
        cr_assert_arr_eq(r.text[i][0], vals[i], strlen(vals[i]), "row %zu", i);
        cr_assert(!r.null[i][0], "an empty string is not NULL");
    }
    /* The server saw characters, not bytes: count UTF-8 lead bytes. */
    int64_t chars = 0;
    for (const char *c = vals[3]; *c; c++)
        chars += ((unsigned char)*c & 0xc0) != 0x80;
    struct gw_dbv got = {.t = GW_DBV_TEXT, .s = r.text[3][1], .len = r.len[3][1]};
    cr_assert_eq(gw_dbv_int(&got, -1), chars);
    cr_assert_lt(chars, (int64_t)strlen(vals[3]));
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, text_params_need_no_terminating_nul)
{
    struct gw_db *db = open_db();
    struct gw_db_err err = {0};
    char buf[] = {'a', 'b', 'c', 'X', 'Y'};
    struct gw_dbv p[] = {GW_DBV_STRN(buf, 3)};
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT $1::text", p, 1, collect, &r, &err), 1, "%s", err.message);
    cr_assert_str_eq(r.text[0][0], "abc");
    rows_free(&r);

    char nul[] = {'a', '\0', 'b'};
    struct gw_dbv pn[] = {GW_DBV_STRN(nul, 3)};
    cr_assert_eq(gw_db_exec(db, "SELECT $1::text", pn, 1, NULL, NULL, &err), -1,
                 "PostgreSQL text cannot hold NUL: refused, not truncated");
    cr_assert_not(err.unavailable);
    gw_db_close(db);
}

Test(db_pg, counts_rows_changed_and_stops_when_the_callback_says_so)
{
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT)");
    struct gw_db_err err = {0};
    cr_assert_eq(
        gw_db_exec(db, "INSERT INTO t SELECT generate_series(1, 5)", NULL, 0, NULL, NULL, &err), 5,
        "%s", err.message);
    struct gw_dbv p[] = {GW_DBV_INT(2)};
    cr_assert_eq(gw_db_exec(db, "UPDATE t SET k = k + 10 WHERE k > $1", p, 1, NULL, NULL, &err), 3,
                 "%s", err.message);
    cr_assert_eq(gw_db_exec(db, "DELETE FROM t WHERE k < 10", NULL, 0, NULL, NULL, &err), 2);
    cr_assert_eq(gw_db_exec(db, "CREATE INDEX t_k ON t (k)", NULL, 0, NULL, NULL, &err), 0);

    struct rows r = {.stop_after = 2};
    cr_assert_eq(gw_db_exec(db, "SELECT k FROM t ORDER BY k", NULL, 0, collect, &r, &err), 2);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.text[1][0], "14");
    rows_free(&r);
    /* Stopping early still reads the whole answer: the next call works. */
    cr_assert_eq(gw_db_exec(db, "SELECT count(*) FROM t", NULL, 0, collect, &r, &err), 1, "%s",
                 err.message);
    cr_assert_str_eq(r.text[0][0], "3");
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, statement_errors_leave_the_connection_usable)
{
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT PRIMARY KEY)");
    struct gw_db_err err = {0};
    struct gw_dbv p[] = {GW_DBV_INT(1)};
    cr_assert_eq(gw_db_exec(db, "INSERT INTO t VALUES ($1)", p, 1, NULL, NULL, &err), 1);
    cr_assert_eq(gw_db_exec(db, "INSERT INTO t VALUES ($1)", p, 1, NULL, NULL, &err), -1);
    cr_assert_not(err.unavailable, "a duplicate key is not an outage");
    cr_assert(strstr(err.message, "23505"), "SQLSTATE in the message: %s", err.message);

    cr_assert_eq(gw_db_exec(db, "SELEC nonsense", NULL, 0, NULL, NULL, &err), -1);
    cr_assert_not(err.unavailable);
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT count(*) FROM t", NULL, 0, collect, &r, &err), 1, "%s",
                 err.message);
    cr_assert_str_eq(r.text[0][0], "1");
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, scripts_run_several_statements_and_stop_at_the_first_error)
{
    struct gw_db *db = open_db();
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_exec_script(db,
                                   "CREATE TABLE a (x BIGINT);\n"
                                   "CREATE TABLE IF NOT EXISTS a (x BIGINT);\n"
                                   "INSERT INTO a VALUES (1), (2);\n"
                                   "CREATE TABLE b (y TEXT NOT NULL DEFAULT '{}');",
                                   &err),
                 0, "%s", err.message);
    cr_assert_eq(
        gw_db_exec_script(db, "INSERT INTO a VALUES (3); INSERT INTO nope VALUES (1);", &err), -1);
    cr_assert_not(err.unavailable);
    /* The simple protocol runs a multi-statement string as one transaction: 3 is gone too. */
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT sum(x) FROM a", NULL, 0, collect, &r, &err), 1, "%s",
                 err.message);
    cr_assert_str_eq(r.text[0][0], "3");
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, transactions_commit_and_roll_back)
{
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT)");
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_begin(db, &err), 0, "%s", err.message);
    exec_ok(db, "INSERT INTO t VALUES (1)");
    gw_db_rollback(db);
    cr_assert_eq(gw_db_begin(db, &err), 0, "%s", err.message);
    exec_ok(db, "INSERT INTO t VALUES (2)");
    cr_assert_eq(gw_db_commit(db, &err), 0, "%s", err.message);
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT k FROM t", NULL, 0, collect, &r, &err), 1);
    cr_assert_str_eq(r.text[0][0], "2");
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, copy_stores_awkward_text_ints_doubles_and_nulls_exactly)
{
    static const char *const texts[] = {
        "tab\there",
        "new\nline and\r\ncrlf",
        "back\\slash at end\\",
        "\\N", /* the literal two characters, not NULL */
        "\\.", /* COPY's old end-of-data marker, as data */
        "it's \"quoted\"",
        "UTF-8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "",
    };
    enum { N = GW_ARRAY_SIZE(texts) };
    struct gw_dbv vals[N * 4];
    for (size_t i = 0; i < N; i++) {
        vals[i * 4 + 0] = GW_DBV_INT((int64_t)i - 3);
        vals[i * 4 + 1] = GW_DBV_STR(texts[i]);
        vals[i * 4 + 2] = i % 2 ? GW_DBV_NUL : GW_DBV_REAL(1.0 / 3.0 * (double)i);
        vals[i * 4 + 3] = i == 0 ? GW_DBV_INT(INT64_MIN) : GW_DBV_NUL;
    }
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE \"usage\" (k BIGINT, s TEXT, d DOUBLE PRECISION, n BIGINT, "
                "extra TEXT NOT NULL DEFAULT 'dflt')");
    static const char *const cols[] = {"k", "s", "d", "n"};
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_begin(db, &err), 0);
    cr_assert_eq(gw_db_copy(db, "usage", cols, 4, vals, N, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_commit(db, &err), 0, "%s", err.message);

    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT k, s, d, n, extra FROM usage ORDER BY k", NULL, 0, collect,
                            &r, &err),
                 N, "%s", err.message);
    for (size_t i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof(want), "%" PRId64, (int64_t)i - 3);
        cr_assert_str_eq(r.text[i][0], want);
        cr_assert_eq(r.len[i][1], strlen(texts[i]), "row %zu: %s", i, r.text[i][1]);
        cr_assert_arr_eq(r.text[i][1], texts[i], strlen(texts[i]), "row %zu", i);
        cr_assert_not(r.null[i][1], "row %zu: text must not turn into NULL", i);
        if (i % 2) {
            cr_assert(r.null[i][2]);
        } else {
            struct gw_dbv d = {.t = GW_DBV_TEXT, .s = r.text[i][2], .len = r.len[i][2]};
            cr_assert_eq(gw_dbv_real(&d, NAN), 1.0 / 3.0 * (double)i, "row %zu: %s", i,
                         r.text[i][2]);
        }
        cr_assert_eq(r.null[i][3], i != 0);
        cr_assert_str_eq(r.text[i][4], "dflt");
    }
    char min[32];
    snprintf(min, sizeof(min), "%" PRId64, INT64_MIN);
    cr_assert_str_eq(r.text[0][3], min);
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, copy_of_many_rows_spans_several_chunks)
{
    enum { N = 20000 };
    struct gw_dbv *vals = calloc(N * 2, sizeof(*vals));
    char pad[200];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (size_t i = 0; i < N; i++) {
        vals[i * 2] = GW_DBV_INT(i);
        vals[i * 2 + 1] = GW_DBV_STRN(pad, i % sizeof(pad));
    }
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT, s TEXT)");
    static const char *const cols[] = {"k", "s"};
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_copy(db, "t", cols, 2, vals, N, &err), 0, "%s", err.message);
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT count(*), sum(k), sum(length(s)) FROM t", NULL, 0, collect,
                            &r, &err),
                 1, "%s", err.message);
    int64_t sum_k = 0, sum_len = 0;
    for (int64_t i = 0; i < N; i++) {
        sum_k += i;
        sum_len += i % (int64_t)sizeof(pad);
    }
    char want[64];
    snprintf(want, sizeof(want), "%d", N);
    cr_assert_str_eq(r.text[0][0], want);
    snprintf(want, sizeof(want), "%" PRId64, sum_k);
    cr_assert_str_eq(r.text[0][1], want);
    snprintf(want, sizeof(want), "%" PRId64, sum_len);
    cr_assert_str_eq(r.text[0][2], want);
    rows_free(&r);
    free(vals);
    gw_db_close(db);
}

Test(db_pg, a_failed_copy_inserts_nothing_and_the_connection_goes_on)
{
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT, s TEXT)");
    static const char *const cols[] = {"k", "s"};
    struct gw_dbv vals[] = {GW_DBV_INT(1), GW_DBV_STR("ok"), GW_DBV_STR("not a number"),
                            GW_DBV_STR("bad row")};
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_copy(db, "t", cols, 2, vals, 2, &err), -1);
    cr_assert_not(err.unavailable, "%s", err.message);
    cr_assert_eq(gw_db_copy(db, "missing", cols, 2, vals, 1, &err), -1);
    cr_assert_not(err.unavailable, "%s", err.message);
    static const char *const nocol[] = {"k", "nope"};
    cr_assert_eq(gw_db_copy(db, "t", nocol, 2, vals, 1, &err), -1);
    cr_assert_not(err.unavailable, "%s", err.message);
    char nul[] = {'a', '\0'};
    struct gw_dbv withnul[] = {GW_DBV_INT(2), GW_DBV_STRN(nul, 2)};
    cr_assert_eq(gw_db_copy(db, "t", cols, 2, withnul, 1, &err), -1);
    cr_assert_not(err.unavailable, "%s", err.message);

    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT count(*) FROM t", NULL, 0, collect, &r, &err), 1, "%s",
                 err.message);
    cr_assert_str_eq(r.text[0][0], "0");
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, a_call_past_its_deadline_is_unavailable_and_breaks_the_connection)
{
    struct gw_db *db = open_db();
    gw_db_set_timeout(db, 300);
    struct gw_db_err err = {0};
    int64_t t0 = mono_ms();
    cr_assert_eq(gw_db_exec(db, "SELECT pg_sleep(2)", NULL, 0, NULL, NULL, &err), -1);
    int64_t took = mono_ms() - t0;
    cr_assert(err.unavailable, "%s", err.message);
    cr_assert_geq(took, 290);
    cr_assert_lt(took, 1500, "the deadline must bound the call, took %" PRId64 " ms", took);

    t0 = mono_ms();
    cr_assert_eq(gw_db_exec(db, "SELECT 1", NULL, 0, NULL, NULL, &err), -1);
    cr_assert(err.unavailable);
    cr_assert_eq(gw_db_exec_script(db, "SELECT 1", &err), -1);
    cr_assert(err.unavailable);
    cr_assert_eq(gw_db_wait_notify(db, 1000), -1);
    cr_assert_lt(mono_ms() - t0, 100, "a broken connection fails fast");
    gw_db_close(db);

    struct gw_db *db2 = open_db();
    exec_ok(db2, "SELECT 1");
    gw_db_close(db2);
}

Test(db_pg_outage, server_stopped_is_unavailable_quickly_and_a_new_open_works_after_restart)
{
    struct gw_db *db = open_db();
    exec_ok(db, "CREATE TABLE t (k BIGINT)");
    exec_ok(db, "INSERT INTO t VALUES (42)");
    cr_assert_eq(pgt_pause(&srv), 0, "%s", srv.err);

    struct gw_db_err err = {0};
    int64_t t0 = mono_ms();
    cr_assert_eq(gw_db_exec(db, "SELECT k FROM t", NULL, 0, NULL, NULL, &err), -1);
    cr_assert(err.unavailable, "%s", err.message);
    cr_assert_eq(gw_db_exec(db, "SELECT 1", NULL, 0, NULL, NULL, &err), -1);
    cr_assert(err.unavailable);
    gw_db_close(db);

    struct gw_db *down = NULL;
    cr_assert_eq(gw_db_open(url, &down, &err), -1);
    cr_assert_null(down);
    cr_assert(err.unavailable, "%s", err.message);
    cr_assert_lt(mono_ms() - t0, 1000, "an outage must not take the deadline to notice");

    cr_assert_eq(pgt_resume(&srv), 0, "%s", srv.err);
    db = open_db();
    struct rows r = {0};
    cr_assert_eq(gw_db_exec(db, "SELECT k FROM t", NULL, 0, collect, &r, &err), 1, "%s",
                 err.message);
    cr_assert_str_eq(r.text[0][0], "42");
    rows_free(&r);
    gw_db_close(db);
}

Test(db_pg, notify_reaches_a_listening_connection_once)
{
    struct gw_db *a = open_db(), *b = open_db();
    struct gw_db_err err = {0};
    /* Channels are per database: a name of this test's own, in case tests run side by side. */
    char ch[32], other[40];
    snprintf(ch, sizeof(ch), "accounts_%ld", (long)getpid());
    snprintf(other, sizeof(other), "other_%ld", (long)getpid());
    cr_assert_eq(gw_db_listen(a, ch, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_wait_notify(a, 0), 0, "nothing sent yet");

    cr_assert_eq(gw_db_notify(b, ch, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_notify(b, ch, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_notify(b, other, &err), 0, "%s", err.message);
    cr_assert_eq(gw_db_wait_notify(a, 2000), 1);
    /* Both pending notifications were consumed by that one wait (or arrive now and are). */
    int again = gw_db_wait_notify(a, 200);
    if (again == 1)
        again = gw_db_wait_notify(a, 200);
    cr_assert_eq(again, 0, "no third notification; other channels are not heard");

    /* Inside a transaction the notification waits for COMMIT. */
    cr_assert_eq(gw_db_begin(b, &err), 0);
    cr_assert_eq(gw_db_notify(b, ch, &err), 0);
    cr_assert_eq(gw_db_wait_notify(a, 200), 0);
    cr_assert_eq(gw_db_commit(b, &err), 0);
    cr_assert_eq(gw_db_wait_notify(a, 2000), 1);

    /* A notification read while a statement ran is not lost. */
    cr_assert_eq(gw_db_notify(b, ch, &err), 0);
    exec_ok(a, "SELECT pg_sleep(0.2)");
    cr_assert_eq(gw_db_wait_notify(a, 0), 1);
    gw_db_close(a);
    gw_db_close(b);
}

Test(db_pg, wait_notify_times_out_after_about_the_timeout)
{
    struct gw_db *db = open_db();
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_listen(db, "quiet", &err), 0, "%s", err.message);
    int64_t t0 = mono_ms();
    cr_assert_eq(gw_db_wait_notify(db, 300), 0);
    int64_t took = mono_ms() - t0;
    cr_assert_geq(took, 295);
    cr_assert_lt(took, 1000);
    exec_ok(db, "SELECT 1");
    gw_db_close(db);
}

Test(db_pg_outage, wait_notify_reports_a_server_that_went_away)
{
    struct gw_db *db = open_db();
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_listen(db, "conduit_accounts", &err), 0, "%s", err.message);
    cr_assert_eq(pgt_pause(&srv), 0, "%s", srv.err);
    int64_t t0 = mono_ms();
    cr_assert_eq(gw_db_wait_notify(db, 3000), -1);
    cr_assert_lt(mono_ms() - t0, 2000);
    gw_db_close(db);
}

Test(db_pg_noserver, a_refused_connection_is_unavailable)
{
    int port = pgt__free_port();
    cr_assert_gt(port, 0);
    char refused[128];
    snprintf(refused, sizeof(refused), "postgresql://nobody:secret@127.0.0.1:%d/conduit", port);
    struct gw_db *db = (struct gw_db *)1;
    struct gw_db_err err = {0};
    int64_t t0 = mono_ms();
    cr_assert_eq(gw_db_open(refused, &db, &err), -1);
    cr_assert_null(db);
    cr_assert(err.unavailable, "%s", err.message);
    cr_assert_lt(mono_ms() - t0, 1000);
    cr_assert_null(strstr(err.message, "secret"), "no password in messages: %s", err.message);
}

Test(db_pg_noserver, a_malformed_url_is_a_configuration_error)
{
    struct gw_db *db = NULL;
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_open("postgresql://127.0.0.1:5432/x?nosuchoption=1", &db, &err), -1);
    cr_assert_null(db);
    cr_assert_not(err.unavailable, "%s", err.message);
    cr_assert_neq(err.message[0], '\0');
}
