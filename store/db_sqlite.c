/*
 * store/db_sqlite.c — the SQLite driver behind store/db.h.
 *
 * One sqlite3 connection in WAL mode (readers run beside the one writer),
 * synchronous=NORMAL (a commit is durable once the WAL is synced at
 * checkpoint; a power cut may lose the last commits but never corrupts, and
 * the usage logs replay whatever was lost because progress is committed with
 * the rows), foreign keys on. A locked database waits at most the busy
 * timeout and then fails with err.unavailable, so the store thread never
 * hangs on another process's long transaction.
 *
 * Statements are written with PostgreSQL's $N placeholders; they are
 * rewritten to SQLite's ?N (same length, same numbering) once, when the
 * statement is prepared, and kept in a small cache keyed by their text.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/common.h"
#include "store/db-int.h"
#include "store/db.h"

#define STMT_CACHE 32
#define STACK_COLS 32

struct cached_stmt {
    char *sql; /* owns: the statement as the caller wrote it ($N); NULL = free slot */
    uint64_t hash;
    sqlite3_stmt *stmt;
};

struct sqlite_db {
    struct gw_db base; /* first: store/db.c casts */
    sqlite3 *h;
    struct cached_stmt cache[STMT_CACHE];
    unsigned next_evict; /* round-robin victim when the cache is full */
};

static struct sqlite_db *sdb(struct gw_db *db)
{
    return (struct sqlite_db *)db;
}

/*
 * BUSY and LOCKED are another connection's lock (retry later); IOERR, FULL and
 * CANTOPEN are the disk (also worth retrying: the records wait in the logs).
 * Everything else is a fault in the statement or the data.
 */
static bool rc_unavailable(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        return true;
    default:
        return false;
    }
}

static int fail_rc(struct sqlite_db *s, int rc, struct gw_db_err *err, const char *what)
{
    const char *msg = s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(rc);
    return gw__db_errf(err, rc_unavailable(rc), "sqlite: %s: %s", what, msg);
}

/*
 * Rewrites $N to ?N in place outside string literals ('…', with '' inside),
 * quoted identifiers ("…") and comments. Both placeholders have the same
 * length and numbering, so nothing moves.
 */
static void translate_placeholders(char *sql)
{
    char *p = sql;
    while (*p) {
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p) {
                if (*p == q) {
                    if (p[1] == q) { /* doubled quote: still inside */
                        p += 2;
                        continue;
                    }
                    break;
                }
                p++;
            }
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else if (p[0] == '$' && p[1] >= '1' && p[1] <= '9') {
            *p = '?';
            p++;
        } else {
            p++;
        }
    }
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static bool only_space(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return false;
    return true;
}

/*
 * Prepares sql (one statement), or returns the cached one. The statement is
 * reset and its bindings cleared by release_stmt after every use. NULL with
 * err filled on failure.
 */
static sqlite3_stmt *get_stmt(struct sqlite_db *s, const char *sql, struct gw_db_err *err)
{
    uint64_t h = hash_str(sql);
    for (size_t i = 0; i < STMT_CACHE; i++) {
        struct cached_stmt *c = &s->cache[i];
        if (c->sql && c->hash == h && strcmp(c->sql, sql) == 0)
            return c->stmt;
    }

    sqlite3_stmt *st = NULL;
    char *text = strdup(sql);
    char *key = strdup(sql);
    if (!text || !key) {
        gw__db_errf(err, false, "sqlite: out of memory");
        goto fail;
    }
    translate_placeholders(text);
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(s->h, text, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) {
        fail_rc(s, rc, err, "prepare");
        goto fail;
    }
    if (!st) {
        gw__db_errf(err, false, "sqlite: empty statement");
        goto fail;
    }
    if (!only_space(tail)) {
        gw__db_errf(err, false, "sqlite: more than one statement (use gw_db_exec_script)");
        goto fail;
    }
    free(text);

    struct cached_stmt *slot = NULL;
    for (size_t i = 0; i < STMT_CACHE && !slot; i++)
        if (!s->cache[i].sql)
            slot = &s->cache[i];
    if (!slot) {
        slot = &s->cache[s->next_evict];
        s->next_evict = (s->next_evict + 1) % STMT_CACHE;
        sqlite3_finalize(slot->stmt);
        free(slot->sql);
    }
    slot->sql = key;
    slot->hash = h;
    slot->stmt = st;
    return st;

fail:
    sqlite3_finalize(st);
    free(text);
    free(key);
    return NULL;
}

static void release_stmt(sqlite3_stmt *st)
{
    /* reset returns the last step's error again; that was already reported. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Binds params to ?1..?n. Text is bound SQLITE_STATIC: release_stmt runs before the caller's
 * buffers can go away. */
static int bind_params(struct sqlite_db *s, sqlite3_stmt *st, const struct gw_dbv *params,
                       size_t nparams, struct gw_db_err *err)
{
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != nparams)
        return gw__db_errf(err, false, "sqlite: statement takes %d parameters, %zu given", want,
                           nparams);
    for (size_t i = 0; i < nparams; i++) {
        const struct gw_dbv *v = &params[i];
        int idx = (int)i + 1;
        int rc;
        switch (v->t) {
        case GW_DBV_NULL:
            rc = sqlite3_bind_null(st, idx);
            break;
        case GW_DBV_INT:
            rc = sqlite3_bind_int64(st, idx, v->i);
            break;
        case GW_DBV_REAL:
            rc = sqlite3_bind_double(st, idx, v->d);
            break;
        case GW_DBV_TEXT:
            /* A NULL pointer would bind SQL NULL: an empty text is still text. */
            rc = sqlite3_bind_text64(st, idx, v->s ? v->s : "", v->s ? v->len : 0, SQLITE_STATIC,
                                     SQLITE_UTF8);
            break;
        default:
            return gw__db_errf(err, false, "sqlite: parameter %d has a bad type", idx);
        }
        if (rc != SQLITE_OK)
            return fail_rc(s, rc, err, "bind");
    }
    return 0;
}

static void column_value(sqlite3_stmt *st, int i, struct gw_dbv *v)
{
    *v = GW_DBV_NUL;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        *v = GW_DBV_INT(sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        *v = GW_DBV_REAL(sqlite3_column_double(st, i));
        break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        /* column_text before column_bytes (sqlite docs: the conversion may change the size). */
        const unsigned char *t = sqlite3_column_text(st, i);
        v->t = GW_DBV_TEXT;
        v->s = t ? (const char *)t : "";
        v->len = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
        break;
    }
    default:
        break;
    }
}

static int64_t sq_exec(struct gw_db *db, const char *sql, const struct gw_dbv *params,
                       size_t nparams, gw_db_row_fn fn, void *arg, struct gw_db_err *err)
{
    struct sqlite_db *s = sdb(db);
    struct gw_dbv stack_cols[STACK_COLS];
    struct gw_dbv *cols = stack_cols;
    int64_t ret = -1;

    sqlite3_stmt *st = get_stmt(s, sql, err);
    if (!st)
        return -1;
    if (bind_params(s, st, params, nparams, err) < 0)
        goto out;

    int ncols = sqlite3_column_count(st);
    if (ncols > STACK_COLS) {
        cols = calloc((size_t)ncols, sizeof(*cols));
        if (!cols) {
            gw__db_errf(err, false, "sqlite: out of memory");
            goto out;
        }
    }
    int64_t rows = 0;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            fail_rc(s, rc, err, "step");
            goto out;
        }
        rows++;
        if (!fn)
            continue;
        for (int i = 0; i < ncols; i++)
            column_value(st, i, &cols[i]);
        if (fn(arg, cols, (size_t)ncols) != 0)
            break;
    }
    ret = ncols > 0 ? rows : (int64_t)sqlite3_changes64(s->h);
out:
    if (cols != stack_cols)
        free(cols);
    release_stmt(st);
    return ret;
}

static int sq_exec_script(struct gw_db *db, const char *sql, struct gw_db_err *err)
{
    struct sqlite_db *s = sdb(db);
    char *msg = NULL;
    int rc = sqlite3_exec(s->h, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    gw__db_errf(err, rc_unavailable(rc), "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return -1;
}

/*
 * IMMEDIATE takes the write lock at BEGIN, inside the busy timeout. A deferred
 * transaction that reads and then writes may find, in WAL mode, that its
 * snapshot is stale and fail with BUSY_SNAPSHOT at once, with no wait; every
 * transaction here writes, so taking the lock up front is the right trade.
 */
static int sq_begin(struct gw_db *db, struct gw_db_err *err)
{
    return sq_exec_script(db, "BEGIN IMMEDIATE", err);
}

static int sq_commit(struct gw_db *db, struct gw_db_err *err)
{
    return sq_exec_script(db, "COMMIT", err);
}

static void sq_rollback(struct gw_db *db)
{
    struct sqlite_db *s = sdb(db);
    if (sqlite3_get_autocommit(s->h))
        return; /* nothing open (an error may already have rolled it back) */
    (void)sqlite3_exec(s->h, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_copy(struct gw_db *db, const char *table, const char *const *cols, size_t ncols,
                   const struct gw_dbv *vals, size_t nrows, struct gw_db_err *err)
{
    struct sqlite_db *s = sdb(db);
    /* identifiers are checked by store/db.c: at most 63 bytes each, plus ",$NNNNN," */
    size_t cap = 128 + ncols * (64 + 24);
    char *sql = malloc(cap);
    int ret = -1;
    if (!sql)
        return gw__db_errf(err, false, "sqlite: out of memory");
    size_t len = (size_t)snprintf(sql, cap, "INSERT INTO %s(", table);
    for (size_t i = 0; i < ncols; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? "," : "", cols[i]);
    len += (size_t)snprintf(sql + len, cap - len, ") VALUES(");
    for (size_t i = 0; i < ncols; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s$%zu", i ? "," : "", i + 1);
    len += (size_t)snprintf(sql + len, cap - len, ")");
    GW_BUG_ON(len >= cap);

    sqlite3_stmt *st = get_stmt(s, sql, err);
    if (!st)
        goto out;
    for (size_t r = 0; r < nrows; r++) {
        if (bind_params(s, st, vals + r * ncols, ncols, err) < 0) {
            release_stmt(st);
            goto out;
        }
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            fail_rc(s, rc, err, "copy");
            release_stmt(st);
            goto out;
        }
        release_stmt(st);
    }
    ret = 0;
out:
    free(sql);
    return ret;
}

static void sq_set_timeout(struct gw_db *db, uint32_t ms)
{
    (void)sqlite3_busy_timeout(sdb(db)->h, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

static void sq_close(struct gw_db *db)
{
    struct sqlite_db *s = sdb(db);
    for (size_t i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(s->cache[i].stmt);
        free(s->cache[i].sql);
    }
    /* close_v2 cannot fail on busy statements: all are finalized above anyway. */
    (void)sqlite3_close_v2(s->h);
    free(s);
}

static const struct gw_db_ops sqlite_ops = {
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .copy = sq_copy,
    .set_timeout = sq_set_timeout,
    .close = sq_close,
};

int gw__db_sqlite_open(const char *path, struct gw_db **out, struct gw_db_err *err)
{
    *out = NULL;
    struct sqlite_db *s = calloc(1, sizeof(*s));
    if (!s)
        return gw__db_errf(err, false, "sqlite: out of memory");
    s->base.ops = &sqlite_ops;

    /* NOMUTEX: a connection is used by one thread at a time (store/db.h). */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->h, flags, NULL);
    if (rc != SQLITE_OK) {
        gw__db_errf(err, rc_unavailable(rc), "sqlite: cannot open \"%s\": %s", path,
                    s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(rc));
        goto fail;
    }
    (void)sqlite3_extended_result_codes(s->h, 1);
    rc = sqlite3_busy_timeout(s->h, (int)GW_DB_TIMEOUT_DEFAULT);
    if (rc != SQLITE_OK) {
        fail_rc(s, rc, err, "busy_timeout");
        goto fail;
    }
    /*
     * journal_mode answers with the mode it ended in; an in-memory database
     * stays "memory", which is fine. A file that cannot switch to WAL (a
     * filesystem without shared memory) keeps working in its old mode.
     */
    for (int tries = 0;; tries++) {
        struct gw_db_err e2 = {0};
        if (sq_exec_script(&s->base,
                           "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                           "PRAGMA foreign_keys=ON;",
                           &e2) == 0)
            break;
        /* Two connections switching one file to WAL at once: the loser gets
         * SQLITE_BUSY at once, without the busy handler's wait. Wait here,
         * up to the default timeout (10 ms steps). */
        if (!e2.unavailable || tries >= (int)(GW_DB_TIMEOUT_DEFAULT / 10)) {
            if (err)
                *err = e2;
            goto fail;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    *out = &s->base;
    return 0;

fail:
    if (s->h)
        (void)sqlite3_close_v2(s->h);
    free(s);
    return -1;
}
