/*
 * store/db.c — the driver-independent half of store/db.h: URL dispatch,
 * redaction, value conversions, and the calls every driver shares.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "store/db-int.h"
#include "store/db.h"

int gw__db_errf(struct gw_db_err *err, bool unavailable, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        err->message[0] = '\0';
    err->unavailable = unavailable;
    return -1;
}

bool gw__db_is_ident(const char *s)
{
    if (!s || !s[0] || strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int gw_db_open(const char *url, struct gw_db **out, struct gw_db_err *err)
{
    *out = NULL;
    if (err) {
        err->message[0] = '\0';
        err->unavailable = false;
    }
    if (!url || !url[0])
        return gw__db_errf(err, false, "no database URL");

    struct gw_db *db = NULL;
    enum gw_db_kind kind;
    int rc;
    if (has_prefix(url, "sqlite:")) {
        /* "sqlite://PATH" is "sqlite:" + "//PATH": the path is what follows "//"
         * ("sqlite:///abs" -> "/abs"); "sqlite::memory:" is SQLite's own name. */
        const char *path = url + strlen("sqlite:");
        if (has_prefix(path, "//"))
            path += 2;
        if (!path[0])
            return gw__db_errf(err, false, "sqlite URL without a path: \"%s\"", url);
        kind = GW_DB_SQLITE;
        rc = gw__db_sqlite_open(path, &db, err);
    } else if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        kind = GW_DB_PG;
        rc = gw__db_pg_open(url, &db, err);
    } else {
        char red[256];
        gw_db_url_redact(url, red, sizeof(red));
        return gw__db_errf(err, false,
                           "unsupported database URL \"%s\": use sqlite:PATH or postgres://", red);
    }
    if (rc < 0)
        return -1;
    GW_BUG_ON(!db || !db->ops);
    db->kind = kind;
    db->timeout_ms = GW_DB_TIMEOUT_DEFAULT;
    *out = db;
    return 0;
}

void gw_db_close(struct gw_db *db)
{
    if (db)
        db->ops->close(db);
}

enum gw_db_kind gw_db_kind_of(const struct gw_db *db)
{
    return db->kind;
}

void gw_db_set_timeout(struct gw_db *db, uint32_t ms)
{
    db->timeout_ms = ms;
    if (db->ops->set_timeout)
        db->ops->set_timeout(db, ms);
}

/* Bounded appender for gw_db_url_redact: never writes past cap, always terminates. */
struct redact_out {
    char *buf;
    size_t cap, len;
};

static void put(struct redact_out *o, const char *s, size_t n)
{
    if (o->cap == 0)
        return;
    size_t room = o->cap - 1 - o->len;
    size_t k = GW_MIN(n, room);
    memcpy(o->buf + o->len, s, k);
    o->len += k;
    o->buf[o->len] = '\0';
}

/*
 * Passwords can sit in two places of a libpq URI: the userinfo
 * ("postgres://user:secret@host/db") and the query ("?password=secret").
 * Both are replaced; everything else (user, host, database, other options)
 * stays, because that is what a person debugging a connection needs to see.
 */
void gw_db_url_redact(const char *url, char *out, size_t cap)
{
    struct redact_out o = {out, cap, 0};
    if (cap == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;

    const char *p = url;
    const char *scheme_end = strstr(url, "://");
    if (scheme_end) {
        const char *auth = scheme_end + 3;
        size_t auth_len = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < auth_len; i++)
            if (auth[i] == '@')
                at = auth + i; /* the last '@': a password may contain an unescaped one */
        put(&o, url, (size_t)(auth - url));
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                put(&o, auth, (size_t)(colon - auth) + 1);
                put(&o, "***", 3);
                put(&o, at, (size_t)(auth + auth_len - at));
            } else {
                put(&o, auth, auth_len);
            }
        } else {
            put(&o, auth, auth_len);
        }
        p = auth + auth_len;
    }

    /* The rest: hide the value of every password=… option (query or keyword form). */
    while (*p) {
        const char *hit = strstr(p, "password=");
        if (!hit) {
            put(&o, p, strlen(p));
            break;
        }
        bool boundary = hit == url || hit[-1] == '?' || hit[-1] == '&' || hit[-1] == ' ';
        size_t upto = (size_t)(hit - p) + strlen("password=");
        put(&o, p, upto);
        p = hit + strlen("password=");
        if (boundary) {
            put(&o, "***", 3);
            p += strcspn(p, "& #");
        }
    }
}

int64_t gw_db_exec(struct gw_db *db, const char *sql, const struct gw_dbv *params, size_t nparams,
                   gw_db_row_fn fn, void *arg, struct gw_db_err *err)
{
    return db->ops->exec(db, sql, params, nparams, fn, arg, err);
}

int gw_db_exec_script(struct gw_db *db, const char *sql, struct gw_db_err *err)
{
    return db->ops->exec_script(db, sql, err);
}

int gw_db_begin(struct gw_db *db, struct gw_db_err *err)
{
    if (db->ops->begin)
        return db->ops->begin(db, err);
    return gw_db_exec(db, "BEGIN", NULL, 0, NULL, NULL, err) < 0 ? -1 : 0;
}

int gw_db_commit(struct gw_db *db, struct gw_db_err *err)
{
    if (db->ops->commit)
        return db->ops->commit(db, err);
    return gw_db_exec(db, "COMMIT", NULL, 0, NULL, NULL, err) < 0 ? -1 : 0;
}

void gw_db_rollback(struct gw_db *db)
{
    if (db->ops->rollback) {
        db->ops->rollback(db);
        return;
    }
    struct gw_db_err ignored;
    (void)gw_db_exec(db, "ROLLBACK", NULL, 0, NULL, NULL, &ignored);
}

int gw_db_copy(struct gw_db *db, const char *table, const char *const *cols, size_t ncols,
               const struct gw_dbv *vals, size_t nrows, struct gw_db_err *err)
{
    if (!gw__db_is_ident(table))
        return gw__db_errf(err, false, "copy: bad table name");
    if (ncols == 0)
        return gw__db_errf(err, false, "copy into %s: no columns", table);
    for (size_t i = 0; i < ncols; i++)
        if (!gw__db_is_ident(cols[i]))
            return gw__db_errf(err, false, "copy into %s: bad column name", table);
    if (nrows == 0)
        return 0;
    return db->ops->copy(db, table, cols, ncols, vals, nrows, err);
}

int gw_db_listen(struct gw_db *db, const char *channel, struct gw_db_err *err)
{
    if (!gw__db_is_ident(channel))
        return gw__db_errf(err, false, "listen: bad channel name");
    return db->ops->listen ? db->ops->listen(db, channel, err) : 0;
}

int gw_db_notify(struct gw_db *db, const char *channel, struct gw_db_err *err)
{
    if (!gw__db_is_ident(channel))
        return gw__db_errf(err, false, "notify: bad channel name");
    return db->ops->notify ? db->ops->notify(db, channel, err) : 0;
}

int gw_db_wait_notify(struct gw_db *db, int timeout_ms)
{
    if (db->ops->wait_notify)
        return db->ops->wait_notify(db, timeout_ms);
    /* Nothing can arrive: just let the time pass (an early wake-up by a signal is harmless). */
    if (timeout_ms > 0 && poll(NULL, 0, timeout_ms) < 0 && errno != EINTR)
        return -1;
    return 0;
}

/*
 * Decimal text as PostgreSQL's text protocol writes integers, and sums
 * (numeric: "123", also "123.000"): optional sign, digits, optional fraction
 * (dropped, towards zero). Anything else, or overflow, is false.
 */
static bool parse_int_text(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len || s[i] < '0' || s[i] > '9')
        return false;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned dig = (unsigned)(s[i] - '0');
        if (v > (lim - dig) / 10)
            return false;
        v = v * 10 + dig;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    }
    if (i != len)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

int64_t gw_dbv_int(const struct gw_dbv *v, int64_t def)
{
    switch (v->t) {
    case GW_DBV_INT:
        return v->i;
    case GW_DBV_REAL:
        /* 2^63 is exactly representable: the range check is exact. */
        if (isfinite(v->d) && v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0)
            return (int64_t)v->d;
        return def;
    case GW_DBV_TEXT: {
        int64_t r;
        return v->s && parse_int_text(v->s, v->len, &r) ? r : def;
    }
    default:
        return def;
    }
}

double gw_dbv_real(const struct gw_dbv *v, double def)
{
    switch (v->t) {
    case GW_DBV_REAL:
        return v->d;
    case GW_DBV_INT:
        return (double)v->i;
    case GW_DBV_TEXT: {
        /* Params need not be NUL-terminated: copy into a bounded buffer first. */
        char buf[64];
        if (!v->s || v->len == 0 || v->len >= sizeof(buf))
            return def;
        memcpy(buf, v->s, v->len);
        buf[v->len] = '\0';
        char *end;
        errno = 0;
        double d = strtod(buf, &end);
        if (end != buf + v->len || errno == ERANGE)
            return def;
        return d;
    }
    default:
        return def;
    }
}
