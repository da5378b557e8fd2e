/*
 * Tests for store/ingest.c against a real SQLite database: log files written
 * by hand into a temporary directory, gw_ingest_run over them, and the rows
 * that arrive. Every record is inserted exactly once across repeated passes,
 * restarts and database outages; files are deleted when, and only when,
 * they are finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "core/common.h"
#include "core/usage.h"
#include "store/db.h"
#include "store/ingest.h"
#include "store/store.h"

#define MAXW 4

struct env {
    char root[64];
    char logs[96];
    char dbpath[96];
    char url[128];
    struct gw_db *db;
    uint64_t cur[MAXW]; /* current_file per worker */
    uint64_t applied, applied_this_boot;
    int64_t applied_seq_sum;
};

static struct env E;

static uint64_t current_file(void *arg, unsigned w)
{
    struct env *e = arg;
    cr_assert_lt(w, MAXW);
    return e->cur[w];
}

static void applied(void *arg, const struct gw_usage_rec *r, bool this_boot)
{
    struct env *e = arg;
    e->applied++;
    e->applied_this_boot += this_boot;
    e->applied_seq_sum += (int64_t)r->seq;
}

static void setup(void)
{
    memset(&E, 0, sizeof(E));
    snprintf(E.root, sizeof(E.root), "/tmp/gw-ingest-XXXXXX");
    cr_assert_not_null(mkdtemp(E.root));
    snprintf(E.logs, sizeof(E.logs), "%s/logs", E.root);
    cr_assert_eq(mkdir(E.logs, 0700), 0);
    snprintf(E.dbpath, sizeof(E.dbpath), "%s/t.db", E.root);
    snprintf(E.url, sizeof(E.url), "sqlite:%s", E.dbpath);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_db_open(E.url, &E.db, &err), 0, "open: %s", err.message);
    cr_assert_eq(gw_store_migrate(E.db, NULL, NULL, &err), 0, "migrate: %s", err.message);
    gw_db_set_timeout(E.db, 200);
    for (int w = 0; w < MAXW; w++)
        E.cur[w] = 1;
}

static void teardown(void)
{
    gw_db_close(E.db);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", E.root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(ingest, .init = setup, .fini = teardown);

static struct gw_ingest *new_ingest(const char *boot, size_t batch_max)
{
    struct gw_ingest_cfg cfg = {
        .dir = E.logs,
        .boot = boot,
        .nworkers = MAXW,
        .batch_max = batch_max,
        .current_file = current_file,
        .applied = applied,
        .arg = &E,
    };
    struct gw_ingest *ing = gw_ingest_new(&cfg);
    cr_assert_not_null(ing);
    return ing;
}

static int64_t run(struct gw_ingest *ing)
{
    struct gw_db_err err = {0};
    int64_t n = gw_ingest_run(ing, E.db, &err);
    cr_assert_geq(n, 0, "ingest failed: %s", err.message);
    return n;
}

static void path_of(const char *boot, unsigned w, uint64_t fileseq, char *out, size_t cap)
{
    char name[128];
    cr_assert_gt(gw_usage_log_name(boot, w, fileseq, name, sizeof(name)), 0);
    snprintf(out, cap, "%s/%s", E.logs, name);
}

static bool exists(const char *boot, unsigned w, uint64_t fileseq)
{
    char p[256];
    path_of(boot, w, fileseq, p, sizeof(p));
    return access(p, F_OK) == 0;
}

static void append_raw(const char *boot, unsigned w, uint64_t fileseq, const char *s, size_t n)
{
    int fd = gw_usage_log_open(E.logs, boot, w, fileseq);
    cr_assert_geq(fd, 0);
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        cr_assert_gt(k, 0);
        s += k;
        n -= (size_t)k;
    }
    close(fd);
}

static void rec_init(struct gw_usage_rec *r, const char *boot, unsigned w, uint64_t seq)
{
    memset(r, 0, sizeof(*r));
    r->time_ms = 1796601600000 + (int64_t)seq;
    snprintf(r->boot, sizeof(r->boot), "%s", boot);
    r->worker = w;
    r->seq = seq;
    snprintf(r->request_id, sizeof(r->request_id), "req-%s-%u-%llu", boot, w,
             (unsigned long long)seq);
    snprintf(r->key_id, sizeof(r->key_id), "key_test");
    snprintf(r->model, sizeof(r->model), "gpt-test");
    snprintf(r->endpoint, sizeof(r->endpoint), "chat");
    r->status = 200;
    r->have_cost = true;
    r->cost_pusd = 1000;
    r->ttfb_us = -1;
    r->key_slot = r->team_slot = UINT32_MAX;
}

/* Appends records seq first..last (inclusive) of (boot, worker) to file fileseq. */
static void append_recs(const char *boot, unsigned w, uint64_t fileseq, uint64_t first,
                        uint64_t last)
{
    for (uint64_t s = first; s <= last; s++) {
        struct gw_usage_rec r;
        char line[GW_USAGE_LINE_MAX];
        rec_init(&r, boot, w, s);
        int n = gw_usage_format(&r, line, sizeof(line));
        cr_assert_gt(n, 0);
        append_raw(boot, w, fileseq, line, (size_t)n);
    }
}

static int grab_int(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    cr_assert_geq(ncols, 1);
    *(int64_t *)arg = gw_dbv_int(&cols[0], INT64_MIN);
    return 0;
}

static int64_t q(const char *sql)
{
    struct gw_db_err err = {0};
    int64_t v = INT64_MIN;
    cr_assert_geq(gw_db_exec(E.db, sql, NULL, 0, grab_int, &v, &err), 0, "%s: %s", sql,
                  err.message);
    return v;
}

static int64_t rows(void)
{
    return q("SELECT COUNT(*) FROM usage");
}

/* Rows counted once per (boot, worker, seq): equals rows() when nothing is doubled. */
static int64_t distinct_rows(void)
{
    return q("SELECT COUNT(*) FROM (SELECT DISTINCT boot, worker, seq FROM usage) AS d");
}

Test(ingest, dead_boot_files_are_replayed_once_and_deleted)
{
    append_recs("Old", 0, 1, 1, 5);
    append_recs("Old", 0, 2, 6, 8);
    append_recs("Old", 1, 1, 1, 4);
    struct gw_ingest *ing = new_ingest("New", 0);
    cr_assert_eq(run(ing), 12);
    cr_assert_eq(rows(), 12);
    cr_assert_eq(distinct_rows(), 12);
    cr_assert_not(exists("Old", 0, 1));
    cr_assert_not(exists("Old", 0, 2));
    cr_assert_not(exists("Old", 1, 1));
    cr_assert_eq(q("SELECT COUNT(*) FROM ingest_progress"), 0, "progress forgotten");
    cr_assert_eq(E.applied, 12);
    cr_assert_eq(E.applied_this_boot, 0);
    cr_assert_eq(E.applied_seq_sum, 15 + 21 + 10);
    const struct gw_ingest_stats *st = gw_ingest_stats(ing);
    cr_assert_eq(st->records, 12);
    cr_assert_eq(st->files_deleted, 3);
    cr_assert_eq(st->backlog_bytes, 0);
    cr_assert_eq(st->failures, 0);
    /* spend went in with the records: 12 * 1000 pUSD on the key's day */
    cr_assert_eq(q("SELECT SUM(cost_pusd) FROM spend WHERE subject = 'k:key_test'"), 12000);

    cr_assert_eq(run(ing), 0, "a second pass finds nothing");
    cr_assert_eq(rows(), 12);
    gw_ingest_free(ing);
}

Test(ingest, records_arrive_in_worker_and_file_order)
{
    /* 999999 sorts after 1000000 by name but before it by number */
    append_recs("Old", 0, 1000000, 3, 4);
    append_recs("Old", 0, 999999, 1, 2);
    struct gw_ingest *ing = new_ingest("New", 0);
    cr_assert_eq(run(ing), 4);
    /* ids grow with insertion: the seqs in id order must be 1, 2, 3, 4 */
    cr_assert_eq(q("SELECT COUNT(*) FROM usage a JOIN usage b ON a.id < b.id WHERE a.seq > b.seq"),
                 0);
    gw_ingest_free(ing);
}

Test(ingest, current_file_is_read_but_kept_finished_file_deleted)
{
    E.cur[0] = 2;
    append_recs("Cur", 0, 1, 1, 3);
    append_recs("Cur", 0, 2, 4, 5);
    struct gw_ingest *ing = new_ingest("Cur", 0);
    cr_assert_eq(run(ing), 5);
    cr_assert_not(exists("Cur", 0, 1), "the worker moved past it");
    cr_assert(exists("Cur", 0, 2), "the worker still appends to it");
    cr_assert_eq(E.applied_this_boot, 5);

    append_recs("Cur", 0, 2, 6, 7);
    cr_assert_eq(run(ing), 2, "only the new lines");
    cr_assert_eq(rows(), 7);
    cr_assert_eq(distinct_rows(), 7);
    cr_assert(exists("Cur", 0, 2));

    E.cur[0] = 3; /* the worker moves on */
    cr_assert_eq(run(ing), 0);
    cr_assert_not(exists("Cur", 0, 2));
    cr_assert_eq(q("SELECT COUNT(*) FROM ingest_progress"), 0);
    cr_assert_eq(rows(), 7);
    gw_ingest_free(ing);
}

Test(ingest, files_of_unknown_workers_and_later_files_are_never_deleted)
{
    E.cur[1] = 2;
    append_recs("Cur", 1, 3, 1, 2); /* ahead of what current_file said */
    append_recs("Cur", 9, 1, 1, 1); /* worker 9 of 4 */
    struct gw_ingest *ing = new_ingest("Cur", 0);
    cr_assert_eq(run(ing), 3);
    cr_assert(exists("Cur", 1, 3));
    cr_assert(exists("Cur", 9, 1));
    gw_ingest_free(ing);
}

Test(ingest, a_restart_replays_without_duplicates)
{
    E.cur[0] = 1;
    append_recs("A", 0, 1, 1, 4);
    struct gw_ingest *ing = new_ingest("A", 0);
    cr_assert_eq(run(ing), 4);
    append_recs("A", 0, 1, 5, 6); /* written, then the process is killed */
    gw_ingest_free(ing);

    /* The same process restarting with the same boot id would resume too... */
    ing = new_ingest("A", 0);
    cr_assert_eq(run(ing), 2);
    gw_ingest_free(ing);
    append_recs("A", 0, 1, 7, 9);

    /* ...but a real restart has a new boot: A's file is now a dead process's. */
    ing = new_ingest("B", 0);
    cr_assert_eq(run(ing), 3);
    cr_assert_eq(rows(), 9);
    cr_assert_eq(distinct_rows(), 9);
    cr_assert_not(exists("A", 0, 1));
    cr_assert_eq(run(ing), 0);
    gw_ingest_free(ing);
}

Test(ingest, torn_line_of_a_dead_boot_is_skipped)
{
    append_recs("Old", 2, 1, 1, 3);
    const char torn[] = "{\"time_ms\":1796601600004,\"boot\":\"Old\",\"worker\":2,\"se";
    append_raw("Old", 2, 1, torn, sizeof(torn) - 1);
    struct gw_ingest *ing = new_ingest("New", 0);
    cr_assert_eq(run(ing), 3);
    cr_assert_eq(gw_ingest_stats(ing)->torn_skipped, 1);
    cr_assert_eq(gw_ingest_stats(ing)->bad_lines, 0);
    cr_assert_not(exists("Old", 2, 1));
    gw_ingest_free(ing);
}

Test(ingest, torn_line_of_this_boot_is_waited_for)
{
    append_recs("Cur", 0, 1, 1, 2);
    struct gw_usage_rec r;
    char line[GW_USAGE_LINE_MAX];
    rec_init(&r, "Cur", 0, 3);
    snprintf(r.key_name, sizeof(r.key_name), "half-written");
    int n = gw_usage_format(&r, line, sizeof(line));
    cr_assert_gt(n, 10);
    append_raw("Cur", 0, 1, line, 10);

    struct gw_ingest *ing = new_ingest("Cur", 0);
    cr_assert_eq(run(ing), 2);
    cr_assert_eq(gw_ingest_stats(ing)->torn_skipped, 0);
    cr_assert_eq(gw_ingest_stats(ing)->backlog_bytes, 10, "the partial line waits");
    cr_assert_eq(run(ing), 0, "still partial");

    append_raw("Cur", 0, 1, line + 10, (size_t)n - 10);
    cr_assert_eq(run(ing), 1);
    cr_assert_eq(q("SELECT COUNT(*) FROM usage WHERE seq = 3 AND key_name = 'half-written'"), 1);
    cr_assert_eq(gw_ingest_stats(ing)->backlog_bytes, 0);
    cr_assert(exists("Cur", 0, 1));
    gw_ingest_free(ing);
}

Test(ingest, bad_and_overlong_lines_are_skipped_and_counted)
{
    append_recs("Old", 0, 1, 1, 1);
    append_raw("Old", 0, 1, "not json\n", 9);
    /* valid JSON but over GW_USAGE_LINE_MAX */
    size_t big = GW_USAGE_LINE_MAX + 100;
    char *s = malloc(big + 1);
    cr_assert_not_null(s);
    memset(s, ' ', big);
    memcpy(s, "{\"time_ms\":1,\"boot\":\"b\",\"worker\":0,\"seq\":9}", 44);
    s[big - 1] = '\n';
    append_raw("Old", 0, 1, s, big);
    free(s);
    append_recs("Old", 0, 1, 2, 2);
    /* longer than one read (1 MiB): skipped without being held */
    size_t huge = (3u << 20) / 2;
    s = malloc(huge);
    cr_assert_not_null(s);
    memset(s, 'x', huge);
    s[huge - 1] = '\n';
    append_raw("Old", 0, 1, s, huge);
    free(s);
    append_recs("Old", 0, 1, 3, 3);
    append_raw("Old", 0, 1, "\n", 1);

    struct gw_ingest *ing = new_ingest("New", 0);
    cr_assert_eq(run(ing), 3);
    cr_assert_eq(gw_ingest_stats(ing)->bad_lines, 4);
    cr_assert_eq(q("SELECT SUM(seq) FROM usage"), 6);
    cr_assert_not(exists("Old", 0, 1));
    gw_ingest_free(ing);
}

Test(ingest, progress_skips_bad_lines_of_a_live_file_once)
{
    append_recs("Cur", 0, 1, 1, 1);
    append_raw("Cur", 0, 1, "garbage\n", 8);
    struct gw_ingest *ing = new_ingest("Cur", 0);
    cr_assert_eq(run(ing), 1);
    cr_assert_eq(gw_ingest_stats(ing)->bad_lines, 1);
    append_raw("Cur", 0, 1, "more garbage\n", 13);
    cr_assert_eq(run(ing), 0);
    cr_assert_eq(gw_ingest_stats(ing)->bad_lines, 2, "the first bad line is not read again");
    /* a pass that met only bad lines still records how far it got */
    cr_assert_eq(run(ing), 0);
    cr_assert_eq(gw_ingest_stats(ing)->bad_lines, 2);
    gw_ingest_free(ing);
}

Test(ingest, batches_hold_at_most_batch_max_records)
{
    append_recs("Old", 0, 1, 1, 10);
    struct gw_ingest *ing = new_ingest("New", 4);
    cr_assert_eq(run(ing), 10);
    cr_assert_eq(gw_ingest_stats(ing)->batches, 3);
    cr_assert_eq(rows(), 10);
    gw_ingest_free(ing);
}

Test(ingest, locked_database_fails_the_pass_and_loses_nothing)
{
    E.cur[0] = 2;
    append_recs("Cur", 0, 1, 1, 3);
    append_recs("Cur", 0, 2, 4, 4);
    append_recs("Old", 1, 1, 1, 2);

    sqlite3 *lock = NULL;
    cr_assert_eq(sqlite3_open(E.dbpath, &lock), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

    struct gw_ingest *ing = new_ingest("Cur", 0);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_ingest_run(ing, E.db, &err), -1);
    cr_assert(err.unavailable, "%s", err.message);
    cr_assert_eq(gw_ingest_stats(ing)->failures, 1);
    cr_assert_gt(gw_ingest_stats(ing)->backlog_bytes, 0);
    cr_assert_eq(E.applied, 0, "nothing applied that did not commit");
    cr_assert(exists("Cur", 0, 1));
    cr_assert(exists("Cur", 0, 2));
    cr_assert(exists("Old", 1, 1));

    cr_assert_eq(sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(lock);

    cr_assert_eq(run(ing), 6);
    cr_assert_eq(rows(), 6);
    cr_assert_eq(distinct_rows(), 6);
    cr_assert_eq(E.applied, 6);
    cr_assert_not(exists("Cur", 0, 1));
    cr_assert(exists("Cur", 0, 2));
    cr_assert_not(exists("Old", 1, 1));
    cr_assert_eq(gw_ingest_stats(ing)->backlog_bytes, 0);
    gw_ingest_free(ing);
}

Test(ingest, other_files_in_the_directory_are_left_alone)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/notes.txt", E.logs);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("{\"time_ms\":1,\"boot\":\"b\",\"worker\":0,\"seq\":1}\n", f);
    fclose(f);
    struct gw_ingest *ing = new_ingest("New", 0);
    cr_assert_eq(run(ing), 0);
    cr_assert_eq(access(p, F_OK), 0);
    gw_ingest_free(ing);
}

Test(ingest, a_missing_directory_fails_the_pass)
{
    struct gw_ingest_cfg cfg = {
        .dir = "/nonexistent/gw-ingest",
        .boot = "B",
        .nworkers = 1,
        .current_file = current_file,
        .arg = &E,
    };
    struct gw_ingest *ing = gw_ingest_new(&cfg);
    cr_assert_not_null(ing);
    struct gw_db_err err = {0};
    cr_assert_eq(gw_ingest_run(ing, E.db, &err), -1);
    cr_assert_not(err.unavailable);
    cr_assert_neq(err.message[0], '\0');
    gw_ingest_free(ing);
}
