/*
 * store/db_pg.c — the PostgreSQL driver behind store/db.h, on libpq in
 * non-blocking mode.
 *
 * Every call is bounded by a deadline of db->timeout_ms from its start
 * (connecting uses GW_DB_TIMEOUT_DEFAULT: store/db.c sets the timeout after
 * open). The loop is libpq's documented asynchronous one: send
 * (PQsendQueryParams / PQsendQuery), PQflush until the output is gone, then
 * while PQisBusy wait for the socket with poll(2) and PQconsumeInput, and
 * PQgetResult until it returns NULL [libpq "Asynchronous Command Processing"].
 *
 * Failures come in two kinds. The statement's own (a constraint, bad SQL)
 * leave the connection usable. Anything that leaves the protocol in an
 * unknown state (a deadline passed mid-call, a socket error, the server
 * closed the session, PQstatus not CONNECTION_OK) marks the connection
 * broken: err.unavailable is set, and every later call fails fast with
 * unavailable until the caller closes it and opens a new one. A timed-out
 * statement is not cancelled (PQcancel blocks); the server finishes it on its
 * own or notices the closed socket.
 *
 * Names: libpq resolves a host name inside PQconnectPoll with a blocking
 * getaddrinfo unless the URL gives a numeric `hostaddr` (STYLE.md §10). This
 * runs only on the store, control and admin threads, never a worker, so a
 * slow resolver delays those threads, not requests; a deployment that cares
 * passes hostaddr (or a numeric host), as the tests do with 127.0.0.1.
 *
 * Values go as text in both directions: params are formatted here (integers
 * typed int8, doubles float8, text left for the server to infer), rows come
 * back as NUL-terminated text (NULL as GW_DBV_NULL) for gw_dbv_int to read.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/common.h"
#include "store/db-int.h"
#include "store/db.h"

/* Type OIDs from PostgreSQL's pg_type.dat (stable since forever). */
#define PG_INT8OID 20u
#define PG_FLOAT8OID 701u

/* COPY data is handed to libpq in pieces of about this size. */
#define COPY_CHUNK (64u * 1024u)

struct pg_db {
    struct gw_db base; /* first: store/db.c casts */
    PGconn *conn;      /* owned */
    bool broken;       /* protocol state unknown: every call fails with unavailable */
};

static struct pg_db *pg_of(struct gw_db *db)
{
    return gw_container_of(db, struct pg_db, base);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies a libpq message (often multi-line, newline-terminated) as one line. */
static void one_line(char *out, size_t cap, const char *msg)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && n + 1 < cap; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    out[n] = '\0';
}

/* Marks the connection broken and fills err as unavailable. Returns -1. */
static int fail_broken(struct pg_db *pg, struct gw_db_err *err, const char *what)
{
    char line[400];
    one_line(line, sizeof(line), PQerrorMessage(pg->conn));
    pg->broken = true;
    if (line[0])
        return gw__db_errf(err, true, "postgres: %s: %s", what, line);
    return gw__db_errf(err, true, "postgres: %s", what);
}

/* Fails fast on a connection already known to be unusable. */
static int check_usable(struct pg_db *pg, struct gw_db_err *err)
{
    if (pg->broken)
        return gw__db_errf(err, true, "postgres: connection is broken: reopen it");
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return fail_broken(pg, err, "connection lost");
    return 0;
}

/*
 * Waits until the socket is ready for events or the deadline passes.
 * 0 ready, -1 (broken, err set) on timeout or a poll error.
 */
static int wait_socket(struct pg_db *pg, short events, int64_t deadline, struct gw_db_err *err)
{
    int fd = PQsocket(pg->conn);
    if (fd < 0)
        return fail_broken(pg, err, "no socket");
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            pg->broken = true;
            return gw__db_errf(err, true, "postgres: no answer within %" PRIu32 " ms",
                               pg->base.timeout_ms);
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, (int)GW_MIN(left, (int64_t)INT32_MAX));
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR) {
            pg->broken = true;
            return gw__db_errf(err, true, "postgres: poll: %s", strerror(errno));
        }
    }
}

/*
 * Sends what libpq has buffered. While the socket is not writable it also
 * reads, as libpq asks (the server may be blocked writing to us). 0 or -1.
 */
static int flush_out(struct pg_db *pg, int64_t deadline, struct gw_db_err *err)
{
    for (;;) {
        int rc = PQflush(pg->conn);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return fail_broken(pg, err, "send failed");
        if (wait_socket(pg, POLLIN | POLLOUT, deadline, err) != 0)
            return -1;
        if (!PQconsumeInput(pg->conn))
            return fail_broken(pg, err, "receive failed");
    }
}

/* Waits until PQgetResult will not block. 0 or -1 (broken). */
static int await_result(struct pg_db *pg, int64_t deadline, struct gw_db_err *err)
{
    while (PQisBusy(pg->conn)) {
        if (wait_socket(pg, POLLIN, deadline, err) != 0)
            return -1;
        if (!PQconsumeInput(pg->conn))
            return fail_broken(pg, err, "receive failed");
    }
    return 0;
}

/*
 * SQLSTATEs that mean "try again later" rather than "this statement is wrong":
 * class 08 (connection exception), 53 (insufficient resources: disk full, too
 * many connections), 57P01-57P03 (shutdown, crash, not accepting connections
 * yet), and lock or serialization conflicts [PostgreSQL Appendix A].
 */
static bool sqlstate_is_transient(const char *st)
{
    if (!st || strlen(st) != 5)
        return false;
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0)
        return true;
    static const char *const codes[] = {"57P01", "57P02", "57P03", "57014",
                                        "40001", "40P01", "55P03"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(codes); i++)
        if (strcmp(st, codes[i]) == 0)
            return true;
    return false;
}

/* Fills err from a failed result; a lost connection also marks it broken. */
static void result_error(struct pg_db *pg, const PGresult *r, struct gw_db_err *err)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    char line[400];
    one_line(line, sizeof(line), primary ? primary : PQresultErrorMessage(r));
    if (!line[0])
        one_line(line, sizeof(line), PQerrorMessage(pg->conn));
    bool lost = PQstatus(pg->conn) != CONNECTION_OK;
    if (lost)
        pg->broken = true;
    gw__db_errf(err, lost || sqlstate_is_transient(st), "postgres: %s (SQLSTATE %s)", line,
                st ? st : "none");
}

/* Number of rows a command reported ("" for commands without a count). */
static int64_t cmd_tuples(PGresult *r)
{
    const char *s = PQcmdTuples(r);
    int64_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        n = n * 10 + (*s - '0');
    return n;
}

/* Delivers a result's rows to fn (NULL: only counts). Returns rows delivered. */
static int64_t deliver_rows(PGresult *r, gw_db_row_fn fn, void *arg, bool *stopped,
                            struct gw_db_err *err)
{
    int nrows = PQntuples(r);
    if (!fn || *stopped)
        return nrows;
    int ncols = PQnfields(r);
    struct gw_dbv *cols = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof(*cols));
    if (!cols)
        return gw__db_errf(err, false, "postgres: out of memory for a row of %d columns", ncols);
    int64_t done = 0;
    for (int i = 0; i < nrows && !*stopped; i++) {
        for (int c = 0; c < ncols; c++) {
            if (PQgetisnull(r, i, c)) {
                cols[c] = GW_DBV_NUL;
            } else {
                cols[c] = (struct gw_dbv){.t = GW_DBV_TEXT,
                                          .s = PQgetvalue(r, i, c),
                                          .len = (size_t)PQgetlength(r, i, c)};
            }
        }
        done++;
        if (fn(arg, cols, (size_t)ncols) != 0)
            *stopped = true;
    }
    free(cols);
    return done;
}

/*
 * Reads every result of the command in flight until PQgetResult returns NULL,
 * so the connection is ready for the next one. Rows go to fn; the first error
 * is kept. Returns rows delivered or changed (the last result's), or -1.
 */
static int64_t drain_results(struct pg_db *pg, int64_t deadline, gw_db_row_fn fn, void *arg,
                             struct gw_db_err *err)
{
    int64_t ret = 0;
    bool failed = false, stopped = false;
    for (;;) {
        if (await_result(pg, deadline, err) != 0)
            return -1;
        PGresult *r = PQgetResult(pg->conn);
        if (!r)
            break;
        switch (PQresultStatus(r)) {
        case PGRES_TUPLES_OK:
        case PGRES_SINGLE_TUPLE:
            if (!failed) {
                int64_t n = deliver_rows(r, fn, arg, &stopped, err);
                if (n < 0)
                    failed = true;
                else
                    ret = n;
            }
            break;
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            if (!failed)
                ret = cmd_tuples(r);
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            /* Not ours to serve here (a COPY in exec's SQL): the protocol cannot go on. */
            PQclear(r);
            pg->broken = true;
            if (!failed)
                gw__db_errf(err, true, "postgres: unexpected COPY in a statement");
            return -1;
        default:
            if (!failed)
                result_error(pg, r, err);
            failed = true;
            break;
        }
        PQclear(r);
    }
    if (!failed && PQstatus(pg->conn) != CONNECTION_OK)
        return fail_broken(pg, err, "connection lost");
    return failed ? -1 : ret;
}

/*
 * Params in text format, in one allocation: integers and doubles formatted,
 * text copied to add the NUL libpq needs. *bufp owns the memory; free it.
 */
static int format_params(const struct gw_dbv *params, size_t n, const char ***valuesp, Oid **typesp,
                         void **bufp, struct gw_db_err *err)
{
    size_t bytes = n * (sizeof(char *) + sizeof(Oid));
    for (size_t i = 0; i < n; i++) {
        if (params[i].t == GW_DBV_TEXT) {
            if (params[i].len && memchr(params[i].s, '\0', params[i].len))
                return gw__db_errf(err, false, "postgres: param $%zu: text holds a NUL byte",
                                   i + 1);
            bytes += params[i].len + 1;
        } else {
            bytes += 32;
        }
    }
    char *buf = malloc(bytes ? bytes : 1);
    if (!buf)
        return gw__db_errf(err, false, "postgres: out of memory for %zu params", n);
    const char **values = (const char **)buf;
    Oid *types = (Oid *)(buf + n * sizeof(char *));
    char *text = buf + n * (sizeof(char *) + sizeof(Oid));
    for (size_t i = 0; i < n; i++) {
        const struct gw_dbv *v = &params[i];
        types[i] = 0;
        values[i] = text;
        switch (v->t) {
        case GW_DBV_NULL:
            values[i] = NULL;
            break;
        case GW_DBV_INT:
            types[i] = PG_INT8OID;
            text += (size_t)snprintf(text, 32, "%" PRId64, v->i) + 1;
            break;
        case GW_DBV_REAL:
            types[i] = PG_FLOAT8OID;
            if (isnan(v->d))
                text += (size_t)snprintf(text, 32, "NaN") + 1;
            else if (isinf(v->d))
                text += (size_t)snprintf(text, 32, "%sInfinity", v->d < 0 ? "-" : "") + 1;
            else
                text += (size_t)snprintf(text, 32, "%.17g", v->d) + 1;
            break;
        case GW_DBV_TEXT:
            if (v->len)
                memcpy(text, v->s, v->len);
            text[v->len] = '\0';
            text += v->len + 1;
            break;
        default:
            free(buf);
            return gw__db_errf(err, false, "postgres: param $%zu: bad type %d", i + 1, (int)v->t);
        }
    }
    *valuesp = values;
    *typesp = types;
    *bufp = buf;
    return 0;
}

static int64_t pg_exec(struct gw_db *db, const char *sql, const struct gw_dbv *params,
                       size_t nparams, gw_db_row_fn fn, void *arg, struct gw_db_err *err)
{
    struct pg_db *pg = pg_of(db);
    int64_t deadline = now_ms() + db->timeout_ms;
    if (check_usable(pg, err) != 0)
        return -1;
    if (nparams > 65535)
        return gw__db_errf(err, false, "postgres: %zu params (at most 65535)", nparams);
    const char **values = NULL;
    Oid *types = NULL;
    void *buf = NULL;
    if (format_params(params, nparams, &values, &types, &buf, err) != 0)
        return -1;
    int sent = PQsendQueryParams(pg->conn, sql, (int)nparams, types, values, NULL, NULL, 0);
    free(buf);
    if (!sent)
        return fail_broken(pg, err, "send failed");
    if (flush_out(pg, deadline, err) != 0)
        return -1;
    return drain_results(pg, deadline, fn, arg, err);
}

/* Runs SQL with no params through the simple protocol (several statements allowed). */
static int simple_query(struct pg_db *pg, const char *sql, struct gw_db_err *err)
{
    int64_t deadline = now_ms() + pg->base.timeout_ms;
    if (check_usable(pg, err) != 0)
        return -1;
    if (!PQsendQuery(pg->conn, sql))
        return fail_broken(pg, err, "send failed");
    if (flush_out(pg, deadline, err) != 0)
        return -1;
    return drain_results(pg, deadline, NULL, NULL, err) < 0 ? -1 : 0;
}

static int pg_exec_script(struct gw_db *db, const char *sql, struct gw_db_err *err)
{
    return simple_query(pg_of(db), sql, err);
}

/* A growing byte buffer for COPY data (store thread: malloc is fine here). */
struct copybuf {
    char *p;
    size_t len, cap;
};

static bool cb_reserve(struct copybuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : COPY_CHUNK * 2;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

/*
 * Appends one value in COPY's text format: \N for NULL, and in text the
 * backslash, tab, newline and carriage return escaped, so no value can end a
 * field or a row early [PostgreSQL COPY, "Text Format"]. Every other byte,
 * UTF-8 included, goes as is.
 */
static bool cb_value(struct copybuf *b, const struct gw_dbv *v)
{
    char num[40];
    int n;
    switch (v->t) {
    case GW_DBV_NULL:
        if (!cb_reserve(b, 2))
            return false;
        memcpy(b->p + b->len, "\\N", 2);
        b->len += 2;
        return true;
    case GW_DBV_INT:
        n = snprintf(num, sizeof(num), "%" PRId64, v->i);
        break;
    case GW_DBV_REAL:
        if (isnan(v->d))
            n = snprintf(num, sizeof(num), "NaN");
        else if (isinf(v->d))
            n = snprintf(num, sizeof(num), "%sInfinity", v->d < 0 ? "-" : "");
        else
            n = snprintf(num, sizeof(num), "%.17g", v->d);
        break;
    case GW_DBV_TEXT:
        if (!cb_reserve(b, v->len * 2))
            return false;
        for (size_t i = 0; i < v->len; i++) {
            char c = v->s[i], esc = 0;
            switch (c) {
            case '\\':
                esc = '\\';
                break;
            case '\t':
                esc = 't';
                break;
            case '\n':
                esc = 'n';
                break;
            case '\r':
                esc = 'r';
                break;
            default:
                break;
            }
            if (esc) {
                b->p[b->len++] = '\\';
                b->p[b->len++] = esc;
            } else {
                b->p[b->len++] = c;
            }
        }
        return true;
    default:
        return false;
    }
    if (!cb_reserve(b, (size_t)n))
        return false;
    memcpy(b->p + b->len, num, (size_t)n);
    b->len += (size_t)n;
    return true;
}

/*
 * Hands b's bytes to libpq. In non-blocking mode PQputCopyData returns 0
 * when its buffer is full: flush (waiting for the socket), then retry.
 */
static int put_copy(struct pg_db *pg, struct copybuf *b, int64_t deadline, struct gw_db_err *err)
{
    size_t off = 0;
    while (off < b->len) {
        int len = (int)GW_MIN(b->len - off, (size_t)COPY_CHUNK);
        int rc = PQputCopyData(pg->conn, b->p + off, len);
        if (rc < 0)
            return fail_broken(pg, err, "COPY send failed");
        if (rc == 0) {
            if (flush_out(pg, deadline, err) != 0)
                return -1;
            continue;
        }
        off += (size_t)len;
    }
    b->len = 0;
    return 0;
}

static int pg_copy(struct gw_db *db, const char *table, const char *const *cols, size_t ncols,
                   const struct gw_dbv *vals, size_t nrows, struct gw_db_err *err)
{
    struct pg_db *pg = pg_of(db);
    int64_t deadline = now_ms() + db->timeout_ms;
    struct copybuf b = {0};
    int ret = -1;
    if (check_usable(pg, err) != 0)
        return -1;

    /*
     * Checked before COPY starts: once the server is in COPY IN, bailing out
     * takes an abort round trip. Text with a NUL cannot be stored anyway.
     */
    for (size_t i = 0; i < nrows * ncols; i++) {
        const struct gw_dbv *v = &vals[i];
        if (v->t < GW_DBV_NULL || v->t >= GW_DBV_TYPE_COUNT)
            return gw__db_errf(err, false, "postgres: copy into %s: row %zu: bad value type", table,
                               i / ncols + 1);
        if (v->t == GW_DBV_TEXT && v->len && memchr(v->s, '\0', v->len))
            return gw__db_errf(err, false,
                               "postgres: copy into %s: row %zu, column %s: text holds a NUL "
                               "byte",
                               table, i / ncols + 1, cols[i % ncols]);
    }

    /* Identifiers are checked plain by store/db.c; quoting keeps their case as written. */
    if (!cb_reserve(&b, 64 + ncols * 68))
        goto oom;
    b.len = (size_t)snprintf(b.p, b.cap, "COPY \"%s\" (", table);
    for (size_t c = 0; c < ncols; c++)
        b.len += (size_t)snprintf(b.p + b.len, b.cap - b.len, "%s\"%s\"", c ? ", " : "", cols[c]);
    b.len += (size_t)snprintf(b.p + b.len, b.cap - b.len, ") FROM STDIN");
    if (!PQsendQuery(pg->conn, b.p)) {
        fail_broken(pg, err, "send failed");
        goto out;
    }
    b.len = 0;
    if (flush_out(pg, deadline, err) != 0 || await_result(pg, deadline, err) != 0)
        goto out;
    PGresult *r = PQgetResult(pg->conn);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        /* The statement failed (no such table or column): drain and report. */
        if (r)
            result_error(pg, r, err);
        else
            gw__db_errf(err, false, "postgres: COPY into %s: no result", table);
        PQclear(r);
        struct gw_db_err ignored;
        if (!pg->broken && drain_results(pg, deadline, NULL, NULL, &ignored) < 0 &&
            ignored.unavailable && err) {
            *err = ignored;
        }
        goto out;
    }
    PQclear(r);

    for (size_t row = 0; row < nrows; row++) {
        for (size_t c = 0; c < ncols; c++) {
            if (!cb_value(&b, &vals[row * ncols + c]) || !cb_reserve(&b, 1))
                goto oom_in_copy;
            b.p[b.len++] = c + 1 < ncols ? '\t' : '\n';
        }
        if (b.len >= COPY_CHUNK && put_copy(pg, &b, deadline, err) != 0)
            goto out;
    }
    if (put_copy(pg, &b, deadline, err) != 0)
        goto out;
    for (;;) {
        int rc = PQputCopyEnd(pg->conn, NULL);
        if (rc == 1)
            break;
        if (rc < 0) {
            fail_broken(pg, err, "COPY end failed");
            goto out;
        }
        if (flush_out(pg, deadline, err) != 0)
            goto out;
    }
    if (flush_out(pg, deadline, err) != 0)
        goto out;
    /* The COPY's own result says whether every row went in (bad values fail it whole). */
    if (drain_results(pg, deadline, NULL, NULL, err) < 0)
        goto out;
    ret = 0;
    goto out;

oom_in_copy:
    /* Abort the COPY so the server rolls it back; the connection stays usable. */
    if (PQputCopyEnd(pg->conn, "client out of memory") == 1 && flush_out(pg, deadline, err) == 0) {
        struct gw_db_err ignored;
        (void)drain_results(pg, deadline, NULL, NULL, &ignored);
    } else {
        pg->broken = true;
    }
oom:
    gw__db_errf(err, false, "postgres: copy into %s: out of memory", table);
out:
    free(b.p);
    return ret;
}

static int pg_listen(struct gw_db *db, const char *channel, struct gw_db_err *err)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "LISTEN \"%s\"", channel);
    return simple_query(pg_of(db), sql, err);
}

static int pg_notify(struct gw_db *db, const char *channel, struct gw_db_err *err)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "NOTIFY \"%s\"", channel);
    return simple_query(pg_of(db), sql, err);
}

/* Consumes every queued notification; true when there was at least one. */
static bool take_notifies(PGconn *c)
{
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/*
 * Notifications can already be queued (read along with an earlier command's
 * results), so the queue is checked before waiting. A negative timeout is 0.
 */
static int pg_wait_notify(struct gw_db *db, int timeout_ms)
{
    struct pg_db *pg = pg_of(db);
    if (pg->broken)
        return -1;
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        pg->broken = true;
        return -1;
    }
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (take_notifies(pg->conn))
            return 1;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
        if (pfd.fd < 0) {
            pg->broken = true;
            return -1;
        }
        int rc = poll(&pfd, 1, (int)GW_MIN(left, (int64_t)INT32_MAX));
        if (rc < 0 && errno != EINTR) {
            pg->broken = true;
            return -1;
        }
        if (rc > 0 && (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK)) {
            pg->broken = true;
            return -1;
        }
    }
}

static void pg_close(struct gw_db *db)
{
    struct pg_db *pg = pg_of(db);
    PQfinish(pg->conn);
    pg->conn = NULL;
    free(pg);
}

static const struct gw_db_ops pg_ops = {
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .copy = pg_copy,
    .listen = pg_listen,
    .notify = pg_notify,
    .wait_notify = pg_wait_notify,
    .close = pg_close,
};

/* Server notices (e.g. "relation already exists, skipping") are not errors: drop them. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int gw__db_pg_open(const char *url, struct gw_db **out, struct gw_db_err *err)
{
    *out = NULL;
    int64_t deadline = now_ms() + GW_DB_TIMEOUT_DEFAULT;

    /* A malformed URL is the operator's to fix, not an outage: parse it first. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        char line[300];
        one_line(line, sizeof(line), perr ? perr : "out of memory");
        PQfreemem(perr);
        return gw__db_errf(err, false, "postgres: bad URL: %s", line);
    }
    PQconninfoFree(opts);

    struct pg_db *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return gw__db_errf(err, false, "postgres: out of memory");
    pg->base.ops = &pg_ops;
    pg->base.timeout_ms = GW_DB_TIMEOUT_DEFAULT;

    /*
     * Entries after the expanded URL override it: the encoding is ours to
     * choose (rows are UTF-8 text), the application name only a fallback.
     */
    static const char *const keys[] = {"dbname", "client_encoding", "fallback_application_name",
                                       NULL};
    const char *const values[] = {url, "UTF8", "conduit", NULL};
    pg->conn = PQconnectStartParams(keys, values, 1);
    if (!pg->conn) {
        free(pg);
        return gw__db_errf(err, false, "postgres: out of memory");
    }
    PQsetNoticeProcessor(pg->conn, ignore_notice, NULL);
    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        fail_broken(pg, err, "connect failed");
        goto fail;
    }

    /* PQconnectPoll's contract: first wait as if it had said WRITING [libpq §34.1]. */
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            fail_broken(pg, err, "connect failed");
            goto fail;
        }
        short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (wait_socket(pg, ev, deadline, err) != 0) {
            gw__db_errf(err, true, "postgres: connect: no answer within %u ms",
                        GW_DB_TIMEOUT_DEFAULT);
            goto fail;
        }
        st = PQconnectPoll(pg->conn);
    }
    if (PQsetnonblocking(pg->conn, 1) != 0) {
        fail_broken(pg, err, "cannot set non-blocking mode");
        goto fail;
    }
    *out = &pg->base;
    return 0;

fail:
    PQfinish(pg->conn);
    free(pg);
    return -1;
}
