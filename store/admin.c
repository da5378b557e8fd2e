/*
 * store/admin.c — the admin API handler (store/admin.h): routing, the master
 * key check, JSON bodies in, JSON out, SQL through store/db.h.
 *
 * Shape of one request: parse the target (path and query string), answer the
 * OpenAPI document without auth, check the master key, route, and run one
 * handler. Handlers read a body with parse_obj (unknown members refused),
 * talk to the database with $N parameters only (the SQL text is built from
 * fixed fragments, never from input), and write their answer into one
 * growing buffer. A handler that fails calls fail(), which throws away
 * whatever was written and puts the error object in its place.
 *
 * Writes run in one transaction that also reads back the object it answers
 * with, so the answer is what was committed; only after COMMIT succeeds is
 * the control thread told (env->changed) and other instances notified.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/accounts.h"
#include "core/auth.h"
#include "core/budget.h"
#include "core/common.h"
#include "core/json.h"
#include "core/money.h"
#include "core/span.h"
#include "core/strbuf.h"
#include "core/vkey.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/store.h"

#define PREFIX "/admin/v1/"
#define MAX_QPARAMS 16
#define MAX_MEMBERS 16
#define NAME_MAX_CHARS 128
#define NAME_CAP (NAME_MAX_CHARS * 4 + 1) /* 128 characters of up to 4 UTF-8 bytes */
#define ID_CAP 65
#define MODEL_CAP 257
#define MAX_MODELS 1024
#define METADATA_MAX 16384
#define LIST_MAX 1000
#define TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z: the last time RFC 3339 can write */

/* ---- the growing response writer ---- */

/*
 * gw_jw writes into a fixed buffer. Before each call we make sure the call
 * cannot overflow (escaping grows a string at most 6 times, plus quotes,
 * comma and colon), growing the buffer first: the writer's buf and cap are
 * public fields, and moving them between calls is safe because it keeps no
 * other pointer into the buffer.
 */
struct out {
    struct gw_jw w; /* w.buf owns (malloc) */
    bool oom;
};

static bool o_reserve(struct out *o, size_t need)
{
    if (o->oom)
        return false;
    need += 16;
    if (o->w.cap - o->w.len >= need)
        return true;
    size_t cap = o->w.cap ? o->w.cap : 4096;
    while (cap - o->w.len < need) {
        if (cap > SIZE_MAX / 2) {
            o->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(o->w.buf, cap);
    if (!p) {
        o->oom = true;
        return false;
    }
    o->w.buf = p;
    o->w.cap = cap;
    return true;
}

static void o_reset(struct out *o)
{
    gw_jw_init(&o->w, o->w.buf, o->w.cap);
}

static void o_obj_begin(struct out *o)
{
    if (o_reserve(o, 2))
        gw_jw_obj_begin(&o->w);
}

static void o_obj_end(struct out *o)
{
    if (o_reserve(o, 2))
        gw_jw_obj_end(&o->w);
}

static void o_arr_begin(struct out *o)
{
    if (o_reserve(o, 2))
        gw_jw_arr_begin(&o->w);
}

static void o_arr_end(struct out *o)
{
    if (o_reserve(o, 2))
        gw_jw_arr_end(&o->w);
}

static void o_key(struct out *o, const char *k)
{
    if (o_reserve(o, 6 * strlen(k) + 4))
        gw_jw_key(&o->w, k);
}

static void o_str(struct out *o, const char *s, size_t len)
{
    if (len > (SIZE_MAX - 64) / 6) {
        o->oom = true;
        return;
    }
    if (o_reserve(o, 6 * len + 4))
        gw_jw_str(&o->w, s, len);
}

static void o_cstr(struct out *o, const char *s)
{
    o_str(o, s, strlen(s));
}

static void o_int(struct out *o, int64_t v)
{
    if (o_reserve(o, 24))
        gw_jw_int(&o->w, v);
}

static void o_double(struct out *o, double v)
{
    /* Magnitudes >= 1e12 are written as integers: up to 309 digits. */
    if (o_reserve(o, 400))
        gw_jw_double(&o->w, v);
}

static void o_bool(struct out *o, bool v)
{
    if (o_reserve(o, 6))
        gw_jw_bool(&o->w, v);
}

static void o_null(struct out *o)
{
    if (o_reserve(o, 5))
        gw_jw_null(&o->w);
}

static void o_raw(struct out *o, const char *json, size_t len)
{
    if (o_reserve(o, len + 2))
        gw_jw_raw(&o->w, json, len);
}

/*
 * pUSD as USD, exactly: up to 12 decimals, trailing zeros dropped. A double
 * rounded to 6 decimals (gw_jw_double) would show a cheap request as 0.
 */
static void o_usd(struct out *o, int64_t pusd)
{
    uint64_t mag = pusd < 0 ? (uint64_t)0 - (uint64_t)pusd : (uint64_t)pusd;
    uint64_t whole = mag / (uint64_t)GW_PUSD_PER_USD, frac = mag % (uint64_t)GW_PUSD_PER_USD;
    char buf[48];
    int n =
        snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%012" PRIu64, pusd < 0 ? "-" : "", whole, frac);
    if (n <= 0 || (size_t)n >= sizeof(buf))
        return;
    while (buf[n - 1] == '0')
        n--;
    if (buf[n - 1] == '.')
        n--;
    o_raw(o, buf, (size_t)n);
}

static void o_kstr(struct out *o, const char *k, const char *v)
{
    o_key(o, k);
    if (v)
        o_cstr(o, v);
    else
        o_null(o);
}

static void o_kint(struct out *o, const char *k, int64_t v)
{
    o_key(o, k);
    o_int(o, v);
}

static void o_kbool(struct out *o, const char *k, bool v)
{
    o_key(o, k);
    o_bool(o, v);
}

/* ---- request context and errors ---- */

struct qparam {
    const char *name; /* into query.mem */
    const char *val;
};

struct query {
    size_t n;
    struct qparam p[MAX_QPARAMS];
    char *mem; /* owns: the decoded query string */
};

struct ctx {
    const struct gw_admin_env *env;
    struct gw_db *db;
    int64_t now;
    struct out o;
    int status;
    struct query q;
    struct gw_span body;
};

static int fail(struct ctx *c, int status, const char *code, const char *param, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/* Length of the valid UTF-8 sequence at s[0..len), or 0 when it is not one (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

static bool utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/*
 * Replaces every byte that does not start a valid UTF-8 sequence with '?',
 * in place: error messages and params quote what the client sent (query
 * names, path ids), and the body must stay valid JSON whatever that was.
 */
static void utf8_scrub(char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((unsigned char *)s + i, len - i);
        if (!n) {
            s[i] = '?';
            n = 1;
        }
        i += n;
    }
}

/*
 * Replaces whatever was written with an OpenAI error object. Returns -1 so a
 * handler can `return fail(...)`.
 */
static int fail(struct ctx *c, int status, const char *code, const char *param, const char *fmt,
                ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    utf8_scrub(msg);
    char pbuf[128];
    if (param) {
        snprintf(pbuf, sizeof(pbuf), "%s", param);
        utf8_scrub(pbuf);
        param = pbuf;
    }
    c->status = status;
    o_reset(&c->o);
    o_obj_begin(&c->o);
    o_key(&c->o, "error");
    o_obj_begin(&c->o);
    o_kstr(&c->o, "message", msg);
    o_kstr(&c->o, "type", status >= 500 ? "server_error" : "invalid_request_error");
    o_kstr(&c->o, "param", param);
    o_kstr(&c->o, "code", code);
    o_obj_end(&c->o);
    o_obj_end(&c->o);
    return -1;
}

/* The database's own message stays out of the body: it may quote SQL or data. */
static int db_fail(struct ctx *c, const struct gw_db_err *err)
{
    if (err->unavailable)
        return fail(c, 503, "store_unavailable", NULL,
                    "the database is unavailable; try again later");
    return fail(c, 500, "store_error", NULL, "the database refused the operation");
}

static int oom_fail(struct ctx *c)
{
    return fail(c, 500, "out_of_memory", NULL, "out of memory");
}

static int invalid(struct ctx *c, const char *param, const char *what)
{
    return fail(c, 400, "invalid_value", param, "%s: %s", param, what);
}

/* ---- database helpers ---- */

static int64_t db_exec(struct ctx *c, const char *sql, const struct gw_dbv *p, size_t n,
                       gw_db_row_fn fn, void *arg)
{
    struct gw_db_err err;
    memset(&err, 0, sizeof(err));
    int64_t r = gw_db_exec(c->db, sql, p, n, fn, arg, &err);
    if (r < 0)
        db_fail(c, &err);
    return r;
}

static int tx_begin(struct ctx *c)
{
    struct gw_db_err err;
    memset(&err, 0, sizeof(err));
    if (gw_db_begin(c->db, &err) == 0)
        return 0;
    return db_fail(c, &err);
}

static int tx_commit(struct ctx *c)
{
    struct gw_db_err err;
    memset(&err, 0, sizeof(err));
    if (gw_db_commit(c->db, &err) == 0)
        return 0;
    gw_db_rollback(c->db);
    return db_fail(c, &err);
}

/*
 * After a committed change: the control thread rebuilds the snapshot, and on
 * PostgreSQL the other instances hear of it. A lost NOTIFY is not an error
 * for the caller (the change is committed; every instance resyncs
 * periodically), so its result only decides nothing.
 */
static void announce(struct ctx *c)
{
    if (c->env->changed)
        c->env->changed(c->env->arg);
    struct gw_db_err err;
    memset(&err, 0, sizeof(err));
    if (gw_db_notify(c->db, GW_STORE_CHANNEL, &err) < 0)
        return;
}

/* Rows copied out of the callback (text duplicated), nrows x ncols, row-major. */
struct rs {
    size_t ncols, nrows, cap;
    struct gw_dbv *v; /* owns, and owns every text's bytes */
    bool oom;
};

static int rs_row(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct rs *rs = arg;
    if (rs->oom)
        return 0;
    if (rs->ncols == 0)
        rs->ncols = ncols;
    if (ncols != rs->ncols) {
        rs->oom = true;
        return 0;
    }
    if (rs->nrows == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        struct gw_dbv *v = realloc(rs->v, cap * ncols * sizeof(*v));
        if (!v) {
            rs->oom = true;
            return 0;
        }
        rs->v = v;
        rs->cap = cap;
    }
    struct gw_dbv *row = rs->v + rs->nrows * ncols;
    for (size_t i = 0; i < ncols; i++) {
        row[i] = cols[i];
        if (cols[i].t == GW_DBV_TEXT) {
            char *s = malloc(cols[i].len + 1);
            if (!s) {
                for (size_t k = 0; k < i; k++)
                    if (row[k].t == GW_DBV_TEXT)
                        free((char *)row[k].s);
                rs->oom = true;
                return 0;
            }
            if (cols[i].len)
                memcpy(s, cols[i].s, cols[i].len);
            s[cols[i].len] = '\0';
            row[i].s = s;
        }
    }
    rs->nrows++;
    return 0;
}

static void rs_free(struct rs *rs)
{
    for (size_t i = 0; i < rs->nrows * rs->ncols; i++)
        if (rs->v[i].t == GW_DBV_TEXT)
            free((char *)rs->v[i].s);
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

static const struct gw_dbv *rs_row_at(const struct rs *rs, size_t r)
{
    return rs->v + r * rs->ncols;
}

/* Runs a query into rs. Returns the row count, or -1 (failed). */
static int64_t db_query(struct ctx *c, struct rs *rs, const char *sql, const struct gw_dbv *p,
                        size_t n)
{
    if (db_exec(c, sql, p, n, rs_row, rs) < 0)
        return -1;
    if (rs->oom)
        return oom_fail(c);
    return (int64_t)rs->nrows;
}

static bool dbv_null(const struct gw_dbv *v)
{
    return v->t == GW_DBV_NULL;
}

/* Text column as a C string (rows from rs are NUL-terminated), NULL for NULL. */
static const char *dbv_cstr(const struct gw_dbv *v)
{
    return v->t == GW_DBV_TEXT ? v->s : NULL;
}

static void o_dbv_str(struct out *o, const char *k, const struct gw_dbv *v)
{
    o_key(o, k);
    if (v->t == GW_DBV_TEXT)
        o_str(o, v->s, v->len);
    else
        o_null(o);
}

static void o_dbv_int(struct out *o, const char *k, const struct gw_dbv *v)
{
    o_key(o, k);
    if (dbv_null(v))
        o_null(o);
    else
        o_int(o, gw_dbv_int(v, 0));
}

static void o_time(struct out *o, const char *k, bool null, int64_t t)
{
    o_key(o, k);
    if (null) {
        o_null(o);
        return;
    }
    char buf[40];
    int n = gw_time_rfc3339(t, buf, sizeof(buf));
    o_str(o, buf, n > 0 ? (size_t)n : 0);
}

static void o_dbv_time(struct out *o, const char *k, const struct gw_dbv *v)
{
    o_time(o, k, dbv_null(v), gw_dbv_int(v, 0));
}

/* A stored JSON text (models, metadata) as a value; `def` when it is not valid JSON. */
static void o_dbv_json(struct out *o, const char *k, const struct gw_dbv *v, const char *def)
{
    o_key(o, k);
    if (v->t == GW_DBV_TEXT && gw_json_validate(v->s, v->len))
        o_raw(o, v->s, v->len);
    else
        o_raw(o, def, strlen(def));
}

/* ---- query string and path ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into out (cap >= len + 1), NUL-terminated. -1 on a bad
 * escape or a decoded NUL (no value we take may hold one). */
static int pct_decode(const char *s, size_t len, bool plus_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (len - i < 3)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        }
        if (ch == '\0')
            return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    return 0;
}

static int parse_query(struct ctx *c, struct gw_span qs)
{
    if (qs.len == 0)
        return 0;
    c->q.mem = malloc(qs.len + 1);
    if (!c->q.mem)
        return oom_fail(c);
    char *mem = c->q.mem;
    size_t i = 0;
    while (i < qs.len) {
        size_t j = i;
        while (j < qs.len && qs.ptr[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && qs.ptr[eq] != '=')
                eq++;
            if (c->q.n == MAX_QPARAMS)
                return fail(c, 400, "invalid_value", NULL, "too many query parameters");
            /* Name and value decode into the same bytes they came from, shifted:
             * each decoded text is never longer than its source. */
            char *name = mem + i;
            if (pct_decode(qs.ptr + i, eq - i, true, name) < 0)
                return fail(c, 400, "invalid_value", NULL, "bad percent-encoding in the query");
            char *val = mem + (eq < j ? eq + 1 : eq);
            if (eq < j) {
                if (pct_decode(qs.ptr + eq + 1, j - eq - 1, true, val) < 0)
                    return fail(c, 400, "invalid_value", name, "bad percent-encoding in the query");
            } else {
                val = mem + j; /* "name" alone: empty value; mem[j] is written below */
                mem[j] = '\0';
            }
            if (!utf8_valid(name, strlen(name)) || !utf8_valid(val, strlen(val)))
                return fail(c, 400, "invalid_value", NULL, "query parameters must be UTF-8");
            for (size_t k = 0; k < c->q.n; k++)
                if (strcmp(c->q.p[k].name, name) == 0)
                    return fail(c, 400, "invalid_value", name, "query parameter %s given twice",
                                name);
            c->q.p[c->q.n].name = name;
            c->q.p[c->q.n].val = val;
            c->q.n++;
        }
        i = j + 1;
    }
    return 0;
}

/* Refuses query parameters other than allowed[0..n). */
static int q_allow(struct ctx *c, const char *const *allowed, size_t n)
{
    for (size_t i = 0; i < c->q.n; i++) {
        bool ok = false;
        for (size_t k = 0; k < n && !ok; k++)
            ok = strcmp(c->q.p[i].name, allowed[k]) == 0;
        if (!ok)
            return fail(c, 400, "unknown_field", c->q.p[i].name, "unknown query parameter %s",
                        c->q.p[i].name);
    }
    return 0;
}

static const char *q_get(const struct ctx *c, const char *name)
{
    for (size_t i = 0; i < c->q.n; i++)
        if (strcmp(c->q.p[i].name, name) == 0)
            return c->q.p[i].val;
    return NULL;
}

/* A decimal integer lo..hi (digits only). */
static bool parse_dec(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!*s || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int q_limit(struct ctx *c, int64_t def, int64_t *out)
{
    const char *s = q_get(c, "limit");
    *out = def;
    if (s && !parse_dec(s, 1, LIST_MAX, out))
        return invalid(c, "limit", "must be an integer from 1 to 1000");
    return 0;
}

static int q_bool(struct ctx *c, const char *name, bool *out)
{
    const char *s = q_get(c, name);
    *out = false;
    if (!s)
        return 0;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") != 0 && strcmp(s, "0") != 0)
        return invalid(c, name, "must be true or false");
    return 0;
}

/* ---- JSON bodies ---- */

struct member {
    char name[64];
    struct gw_json_tok v; /* the value's first token */
    size_t vend;          /* offset just past the value */
};

struct obj {
    const char *buf; /* borrowed */
    size_t n;
    struct member m[MAX_MEMBERS];
};

static const struct member *obj_get(const struct obj *ob, const char *name)
{
    for (size_t i = 0; i < ob->n; i++)
        if (strcmp(ob->m[i].name, name) == 0)
            return &ob->m[i];
    return NULL;
}

static void param_name(char *out, size_t cap, const char *prefix, const char *name)
{
    snprintf(out, cap, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", name);
}

/*
 * Reads an object's top-level members, refusing invalid JSON, a non-object,
 * duplicate names and names not in allowed[0..nallowed). `prefix` names the
 * enclosing member in error params ("budget"), NULL at the top. An empty
 * body counts as {} when empty_ok.
 */
static int parse_obj(struct ctx *c, const char *buf, size_t len, const char *prefix,
                     const char *const *allowed, size_t nallowed, bool empty_ok, struct obj *ob)
{
    memset(ob, 0, sizeof(*ob));
    ob->buf = buf;
    if (len == 0 && empty_ok)
        return 0;
    if (len > GW_ADMIN_MAX_BODY)
        return fail(c, 400, "invalid_value", NULL, "the body is larger than %u bytes",
                    GW_ADMIN_MAX_BODY);
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, buf, len);
    int r = gw_json_next(&j, &t);
    if (r == 1 && t.type != GW_JT_OBJ_BEGIN)
        return fail(c, 400, "invalid_value", prefix, "%s must be a JSON object",
                    prefix ? prefix : "the body");
    char pname[96];
    while (r == 1) {
        r = gw_json_next(&j, &t);
        if (r != 1 || t.type == GW_JT_OBJ_END)
            break;
        /* A key (the tokenizer guarantees it, the object being open). */
        char name[64];
        long nl = gw_json_unescape(t.span, name, sizeof(name) - 1);
        if (nl < 0) {
            size_t cut = GW_MIN(t.span.len, sizeof(name) - 1);
            memcpy(name, t.span.ptr, cut);
            nl = (long)cut;
        }
        name[nl] = '\0';
        if (memchr(name, '\0', (size_t)nl))
            name[0] = '?', name[1] = '\0';
        bool ok = false;
        for (size_t k = 0; k < nallowed && !ok; k++)
            ok = strcmp(name, allowed[k]) == 0;
        param_name(pname, sizeof(pname), prefix, name);
        if (!ok)
            return fail(c, 400, "unknown_field", pname, "unknown member %s", pname);
        if (obj_get(ob, name))
            return fail(c, 400, "invalid_value", pname, "member %s given twice", pname);
        r = gw_json_next(&j, &t);
        if (r != 1)
            break;
        size_t vend = t.end;
        if (t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN) {
            if (gw_json_skip(&j, &t, &vend) < 0) {
                r = -1;
                break;
            }
        }
        GW_BUG_ON(ob->n >= MAX_MEMBERS); /* nallowed <= MAX_MEMBERS, duplicates refused */
        struct member *m = &ob->m[ob->n++];
        memcpy(m->name, name, (size_t)nl + 1);
        m->v = t;
        m->vend = vend;
    }
    if (r == 1)
        r = gw_json_next(&j, &t); /* after the closing brace: must be the end */
    if (r != 0)
        return fail(c, 400, "invalid_json", NULL, "the body is not valid JSON (at byte %zu)",
                    j.pos);
    return 0;
}

static bool m_null(const struct member *m)
{
    return m->v.type == GW_JT_NULL;
}

/* A string member into out (cap bytes, NUL-terminated); length in bytes, or -1 (failed). */
static long m_str(struct ctx *c, const struct member *m, const char *pname, char *out, size_t cap)
{
    if (m->v.type != GW_JT_STRING)
        return invalid(c, pname, "must be a string");
    long n = gw_json_unescape(m->v.span, out, cap - 1);
    if (n < 0)
        return invalid(c, pname, "is too long");
    if (memchr(out, '\0', (size_t)n))
        return invalid(c, pname, "must not contain NUL characters");
    out[n] = '\0';
    return n;
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int m_num(struct ctx *c, const struct member *m, const char *pname, double *out)
{
    if (m->v.type != GW_JT_NUMBER)
        return invalid(c, pname, "must be a number");
    char tmp[64];
    if (m->v.span.len >= sizeof(tmp))
        return invalid(c, pname, "is not a usable number");
    memcpy(tmp, m->v.span.ptr, m->v.span.len);
    tmp[m->v.span.len] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end || !isfinite(d))
        return invalid(c, pname, "is not a usable number");
    *out = d;
    return 0;
}

static int m_bool(struct ctx *c, const struct member *m, const char *pname, bool *out)
{
    if (m->v.type != GW_JT_TRUE && m->v.type != GW_JT_FALSE)
        return invalid(c, pname, "must be true or false");
    *out = m->v.type == GW_JT_TRUE;
    return 0;
}

/* A non-negative integer <= hi. */
static int m_uint(struct ctx *c, const struct member *m, const char *pname, uint64_t hi,
                  uint64_t *out)
{
    if (m->v.type != GW_JT_NUMBER || !gw_json_to_u64(m->v.span, out) || *out > hi)
        return fail(c, 400, "invalid_value", pname, "%s must be an integer from 0 to %" PRIu64,
                    pname, hi);
    return 0;
}

/* ---- key and team fields ---- */

/* What a POST or PATCH of a key or team said; has_* tell which members were present. */
struct fields {
    bool has_name;
    char name[NAME_CAP];
    bool has_team;
    char team[ID_CAP]; /* "" = none */
    bool has_enabled, enabled;
    bool has_models;
    char *models; /* owns (malloc): normalised JSON array */
    bool has_budget, budget_set, budget_hard;
    int64_t budget_pusd;
    enum gw_period budget_period;
    bool has_expires, expires_set;
    int64_t expires_at;
    bool has_rpm, rpm_set, has_tpm, tpm_set;
    int64_t rpm, tpm;
    bool has_metadata;
    struct gw_span metadata; /* into the body */
};

static int parse_budget(struct ctx *c, const struct obj *top, const struct member *m,
                        struct fields *f)
{
    static const char *const allowed[] = {"limit_usd", "period", "hard"};
    f->has_budget = true;
    if (m_null(m))
        return 0;
    if (m->v.type != GW_JT_OBJ_BEGIN)
        return invalid(c, "budget", "must be an object or null");
    struct obj b;
    if (parse_obj(c, top->buf + m->v.start, m->vend - m->v.start, "budget", allowed,
                  GW_ARRAY_SIZE(allowed), false, &b) < 0)
        return -1;
    const struct member *lim = obj_get(&b, "limit_usd");
    if (!lim)
        return fail(c, 400, "missing_field", "budget.limit_usd", "budget.limit_usd is required");
    double usd;
    if (m_num(c, lim, "budget.limit_usd", &usd) < 0)
        return -1;
    if (!gw_usd_to_pusd(usd, &f->budget_pusd))
        return invalid(c, "budget.limit_usd", "must be a number from 0 to 9000000");
    f->budget_period = GW_PERIOD_MONTHLY;
    const struct member *per = obj_get(&b, "period");
    if (per) {
        char tmp[16];
        long n = per->v.type == GW_JT_STRING ? gw_json_unescape(per->v.span, tmp, sizeof(tmp)) : -1;
        if (n < 0 || !gw_period_parse(gw_span_make(tmp, (size_t)n), &f->budget_period))
            return invalid(c, "budget.period", "must be total, daily, weekly or monthly");
    }
    const struct member *hard = obj_get(&b, "hard");
    f->budget_hard = false;
    if (hard && m_bool(c, hard, "budget.hard", &f->budget_hard) < 0)
        return -1;
    f->budget_set = true;
    return 0;
}

static int parse_models(struct ctx *c, const struct obj *top, const struct member *m,
                        struct fields *f)
{
    f->has_models = true;
    if (m->v.type != GW_JT_ARR_BEGIN)
        return invalid(c, "models", "must be an array of strings");
    struct out o = {0};
    o_arr_begin(&o);
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, top->buf + m->v.start, m->vend - m->v.start);
    int r = gw_json_next(&j, &t); /* '[' */
    size_t n = 0;
    int ret = -1;
    while ((r = gw_json_next(&j, &t)) == 1 && t.type != GW_JT_ARR_END) {
        char name[MODEL_CAP];
        long len;
        if (t.type != GW_JT_STRING || (len = gw_json_unescape(t.span, name, sizeof(name))) < 0 ||
            len == 0 || memchr(name, '\0', (size_t)len)) {
            invalid(c, "models", "must hold model names (strings of 1 to 256 bytes)");
            goto out;
        }
        if (++n > MAX_MODELS) {
            invalid(c, "models", "holds more than 1024 names");
            goto out;
        }
        o_str(&o, name, (size_t)len);
    }
    o_arr_end(&o);
    if (o.oom || o.w.overflow || !o_reserve(&o, 1)) {
        oom_fail(c);
        goto out;
    }
    o.w.buf[o.w.len] = '\0';
    f->models = o.w.buf;
    o.w.buf = NULL;
    ret = 0;
out:
    free(o.w.buf);
    return ret;
}

/* rpm or tpm: a positive integer or null. */
static int parse_limit(struct ctx *c, const struct member *m, const char *pname, bool *set,
                       int64_t *v)
{
    *set = false;
    if (m_null(m))
        return 0;
    uint64_t u;
    if (m->v.type != GW_JT_NUMBER || !gw_json_to_u64(m->v.span, &u) || u == 0 || u > UINT32_MAX)
        return invalid(c, pname, "must be a positive integer (at most 4294967295) or null");
    *set = true;
    *v = (int64_t)u;
    return 0;
}

static int parse_expires(struct ctx *c, const struct member *m, struct fields *f)
{
    f->has_expires = true;
    f->expires_set = false;
    if (m_null(m))
        return 0;
    if (m->v.type == GW_JT_STRING) {
        char tmp[64];
        long n = gw_json_unescape(m->v.span, tmp, sizeof(tmp));
        if (n < 0 || !gw_time_parse_rfc3339(gw_span_make(tmp, (size_t)n), &f->expires_at) ||
            f->expires_at < 0 || f->expires_at > TIME_MAX)
            return invalid(c, "expires_at", "must be an RFC 3339 time, Unix seconds or null");
    } else {
        uint64_t u;
        if (m->v.type != GW_JT_NUMBER || !gw_json_to_u64(m->v.span, &u) || u > TIME_MAX)
            return invalid(c, "expires_at", "must be an RFC 3339 time, Unix seconds or null");
        f->expires_at = (int64_t)u;
    }
    f->expires_set = true;
    return 0;
}

/*
 * Reads a key's or team's members into f. is_key picks the member set;
 * create requires name (and refuses a null team only as a no-op).
 */
static int parse_fields(struct ctx *c, bool is_key, bool create, struct fields *f)
{
    static const char *const key_create[] = {"name",       "team", "models", "budget",
                                             "expires_at", "rpm",  "tpm",    "metadata"};
    static const char *const key_patch[] = {"name", "team", "models",   "budget", "expires_at",
                                            "rpm",  "tpm",  "metadata", "enabled"};
    static const char *const team_all[] = {"name", "budget", "rpm", "tpm", "metadata", "enabled"};
    const char *const *allowed;
    size_t nallowed;
    if (is_key && create) {
        allowed = key_create;
        nallowed = GW_ARRAY_SIZE(key_create);
    } else if (is_key) {
        allowed = key_patch;
        nallowed = GW_ARRAY_SIZE(key_patch);
    } else {
        allowed = team_all;
        nallowed = GW_ARRAY_SIZE(team_all);
    }
    struct obj ob;
    if (parse_obj(c, c->body.ptr, c->body.len, NULL, allowed, nallowed, false, &ob) < 0)
        return -1;
    const struct member *m;
    if ((m = obj_get(&ob, "name"))) {
        long n = m_str(c, m, "name", f->name, sizeof(f->name));
        if (n < 0)
            return -1;
        size_t chars = utf8_chars(f->name, (size_t)n);
        if (chars < 1 || chars > NAME_MAX_CHARS)
            return invalid(c, "name", "must be 1 to 128 characters");
        f->has_name = true;
    } else if (create) {
        return fail(c, 400, "missing_field", "name", "name is required");
    }
    if ((m = obj_get(&ob, "team"))) {
        f->has_team = true;
        f->team[0] = '\0';
        if (!m_null(m)) {
            long n = m_str(c, m, "team", f->team, sizeof(f->team));
            if (n < 0)
                return -1;
            if (n == 0)
                return invalid(c, "team", "must be a team id or null");
        }
    }
    if ((m = obj_get(&ob, "enabled"))) {
        if (m_bool(c, m, "enabled", &f->enabled) < 0)
            return -1;
        f->has_enabled = true;
    }
    if ((m = obj_get(&ob, "models")) && parse_models(c, &ob, m, f) < 0)
        return -1;
    if ((m = obj_get(&ob, "budget")) && parse_budget(c, &ob, m, f) < 0)
        return -1;
    if ((m = obj_get(&ob, "expires_at")) && parse_expires(c, m, f) < 0)
        return -1;
    if ((m = obj_get(&ob, "rpm"))) {
        if (parse_limit(c, m, "rpm", &f->rpm_set, &f->rpm) < 0)
            return -1;
        f->has_rpm = true;
    }
    if ((m = obj_get(&ob, "tpm"))) {
        if (parse_limit(c, m, "tpm", &f->tpm_set, &f->tpm) < 0)
            return -1;
        f->has_tpm = true;
    }
    if ((m = obj_get(&ob, "metadata"))) {
        if (m->v.type != GW_JT_OBJ_BEGIN)
            return invalid(c, "metadata", "must be a JSON object");
        size_t len = m->vend - m->v.start;
        if (len > METADATA_MAX)
            return invalid(c, "metadata", "is larger than 16384 bytes");
        f->has_metadata = true;
        f->metadata = gw_span_make(ob.buf + m->v.start, len);
    }
    return 0;
}

/* ---- keys and teams: reading and writing objects ---- */

#define KEY_COLS                                                                                   \
    "id, name, team_id, enabled, expires_at, models, budget_limit_pusd, budget_period, "           \
    "budget_hard, rpm, tpm, metadata, hint, created_at, updated_at, revoked_at"
enum {
    K_ID = 0,
    K_NAME,
    K_TEAM,
    K_ENABLED,
    K_EXPIRES,
    K_MODELS,
    K_BLIMIT,
    K_BPERIOD,
    K_BHARD,
    K_RPM,
    K_TPM,
    K_META,
    K_HINT,
    K_CREATED,
    K_UPDATED,
    K_REVOKED,
    K_COUNT
};

#define TEAM_COLS                                                                                  \
    "id, name, enabled, budget_limit_pusd, budget_period, budget_hard, rpm, tpm, metadata, "       \
    "created_at, updated_at"
enum {
    T_ID = 0,
    T_NAME,
    T_ENABLED,
    T_BLIMIT,
    T_BPERIOD,
    T_BHARD,
    T_RPM,
    T_TPM,
    T_META,
    T_CREATED,
    T_UPDATED,
    T_COUNT
};

/* The kind of subject a route works on: what differs between keys and teams. */
struct kind {
    bool is_key;
    const char *table;             /* "keys" / "teams" (fixed SQL fragments) */
    const char *object;            /* "key" / "team" */
    const char *id_pfx;            /* "key_" / "team_" */
    const char *subject;           /* spend subject prefix: "k:" / "t:" */
    const char *select;            /* SELECT <cols> FROM <table> WHERE id = $1 */
    size_t blimit, bperiod, bhard; /* column indexes of the budget */
};

static const struct kind KIND_KEY = {
    true,     "keys",    "key",   "key_", "k:", "SELECT " KEY_COLS " FROM keys WHERE id = $1",
    K_BLIMIT, K_BPERIOD, K_BHARD,
};
static const struct kind KIND_TEAM = {
    false,    "teams",   "team",  "team_", "t:", "SELECT " TEAM_COLS " FROM teams WHERE id = $1",
    T_BLIMIT, T_BPERIOD, T_BHARD,
};

static void o_budget(struct out *o, const struct gw_dbv *lim, const struct gw_dbv *per,
                     const struct gw_dbv *hard)
{
    o_key(o, "budget");
    if (dbv_null(lim)) {
        o_null(o);
        return;
    }
    o_obj_begin(o);
    o_key(o, "limit_usd");
    o_usd(o, gw_dbv_int(lim, 0));
    o_dbv_str(o, "period", per);
    o_kbool(o, "hard", gw_dbv_int(hard, 0) != 0);
    o_obj_end(o);
}

/* Opens the object and writes every member; the caller adds its own and closes it. */
static void o_key_object(struct out *o, const struct gw_dbv *r)
{
    o_obj_begin(o);
    o_dbv_str(o, "id", &r[K_ID]);
    o_kstr(o, "object", "key");
    o_dbv_str(o, "name", &r[K_NAME]);
    o_dbv_str(o, "team", &r[K_TEAM]);
    o_kbool(o, "enabled", gw_dbv_int(&r[K_ENABLED], 0) != 0);
    o_dbv_time(o, "expires_at", &r[K_EXPIRES]);
    o_dbv_json(o, "models", &r[K_MODELS], "[]");
    o_budget(o, &r[K_BLIMIT], &r[K_BPERIOD], &r[K_BHARD]);
    o_dbv_int(o, "rpm", &r[K_RPM]);
    o_dbv_int(o, "tpm", &r[K_TPM]);
    o_dbv_json(o, "metadata", &r[K_META], "{}");
    o_dbv_str(o, "key_hint", &r[K_HINT]);
    o_dbv_time(o, "created_at", &r[K_CREATED]);
    o_dbv_time(o, "updated_at", &r[K_UPDATED]);
    o_dbv_time(o, "revoked_at", &r[K_REVOKED]);
}

static void o_team_object(struct out *o, const struct gw_dbv *r)
{
    o_obj_begin(o);
    o_dbv_str(o, "id", &r[T_ID]);
    o_kstr(o, "object", "team");
    o_dbv_str(o, "name", &r[T_NAME]);
    o_kbool(o, "enabled", gw_dbv_int(&r[T_ENABLED], 0) != 0);
    o_budget(o, &r[T_BLIMIT], &r[T_BPERIOD], &r[T_BHARD]);
    o_dbv_int(o, "rpm", &r[T_RPM]);
    o_dbv_int(o, "tpm", &r[T_TPM]);
    o_dbv_json(o, "metadata", &r[T_META], "{}");
    o_dbv_time(o, "created_at", &r[T_CREATED]);
    o_dbv_time(o, "updated_at", &r[T_UPDATED]);
}

static void o_subject_object(struct out *o, const struct kind *k, const struct gw_dbv *r)
{
    if (k->is_key)
        o_key_object(o, r);
    else
        o_team_object(o, r);
}

/* Loads one row by id into rs. 1 found, 0 not (404 written unless quiet), -1 failed. */
static int load_subject(struct ctx *c, const struct kind *k, const char *id, bool live_only,
                        struct rs *rs)
{
    struct gw_dbv p[] = {GW_DBV_STR(id)};
    int64_t n = db_query(c, rs, k->select, p, GW_ARRAY_SIZE(p));
    if (n < 0)
        return -1;
    if (n == 0 || (live_only && k->is_key && !dbv_null(&rs_row_at(rs, 0)[K_REVOKED]))) {
        fail(c, 404, "not_found", "id", "no %s with id %s", k->object, id);
        return 0;
    }
    return 1;
}

/* Spend of a subject over its budget's current period (the total when it has none). */
struct spend {
    bool budget;
    int64_t limit_pusd;
    enum gw_period period;
    int64_t start, end; /* Unix seconds; TOTAL: unbounded */
    int64_t pusd;
};

static int subject_spend(struct ctx *c, const struct kind *k, const struct gw_dbv *r,
                         struct spend *s)
{
    memset(s, 0, sizeof(*s));
    s->period = GW_PERIOD_TOTAL;
    s->budget = !dbv_null(&r[k->blimit]);
    if (s->budget) {
        s->limit_pusd = gw_dbv_int(&r[k->blimit], 0);
        const char *per = dbv_cstr(&r[k->bperiod]);
        if (!per || !gw_period_parse(gw_span_cstr(per), &s->period))
            s->period = GW_PERIOD_TOTAL;
    }
    int64_t from_day = INT64_MIN, to_day = INT64_MAX;
    gw_period_bounds(s->period, c->now, &s->start, &s->end);
    if (s->period != GW_PERIOD_TOTAL) {
        from_day = gw_days_from_unix(s->start);
        to_day = gw_days_from_unix(s->end);
    }
    char subject[ID_CAP + 2];
    snprintf(subject, sizeof(subject), "%s%s", k->subject, dbv_cstr(&r[0]) ? r[0].s : "");
    struct gw_db_err err;
    memset(&err, 0, sizeof(err));
    if (gw_store_spend_of(c->db, subject, from_day, to_day, &s->pusd, &err) < 0)
        return db_fail(c, &err);
    return 0;
}

static void o_spend(struct out *o, const struct spend *s)
{
    o_key(o, "spend");
    o_obj_begin(o);
    bool total = s->period == GW_PERIOD_TOTAL;
    o_time(o, "period_start", total, s->start);
    o_time(o, "period_end", total, s->end);
    o_key(o, "spend_usd");
    o_usd(o, s->pusd);
    o_key(o, "limit_usd");
    if (s->budget)
        o_usd(o, s->limit_pusd);
    else
        o_null(o);
    o_obj_end(o);
}

/* 1 when the team exists, 0 when not (400 param team written), -1 failed. */
static int team_exists(struct ctx *c, const char *team)
{
    struct gw_dbv p[] = {GW_DBV_STR(team)};
    int64_t n = db_exec(c, "SELECT id FROM teams WHERE id = $1", p, 1, NULL, NULL);
    if (n < 0)
        return -1;
    if (n == 0) {
        fail(c, 400, "invalid_value", "team", "no team with id %s", team);
        return 0;
    }
    return 1;
}

/* UPDATE … SET col = $N, …: the columns are ours, every value a parameter. */
struct upd {
    char sql[1024];
    struct gw_sb sb;
    struct gw_dbv p[24];
    size_t n;
};

static void upd_init(struct upd *u, const char *table)
{
    gw_sb_init(&u->sb, u->sql, sizeof(u->sql) - 1);
    gw_sb_puts(&u->sb, "UPDATE ");
    gw_sb_puts(&u->sb, table);
    gw_sb_puts(&u->sb, " SET ");
    u->n = 0;
}

static void upd_set(struct upd *u, const char *col, struct gw_dbv v)
{
    GW_BUG_ON(u->n >= GW_ARRAY_SIZE(u->p));
    if (u->n)
        gw_sb_lit(&u->sb, ", ");
    gw_sb_puts(&u->sb, col);
    gw_sb_lit(&u->sb, " = $");
    u->p[u->n++] = v;
    gw_sb_u64(&u->sb, u->n);
}

/* Appends " WHERE id = $N[ AND revoked_at IS NULL]" and terminates the text. */
static void upd_where_id(struct upd *u, const char *id, bool live_only)
{
    GW_BUG_ON(u->n >= GW_ARRAY_SIZE(u->p));
    gw_sb_lit(&u->sb, " WHERE id = $");
    u->p[u->n++] = GW_DBV_STR(id);
    gw_sb_u64(&u->sb, u->n);
    if (live_only)
        gw_sb_lit(&u->sb, " AND revoked_at IS NULL");
    GW_BUG_ON(u->sb.overflow);
    u->sql[u->sb.len] = '\0';
}

/* The budget columns of f (which has has_budget). */
static void upd_budget(struct upd *u, const struct fields *f)
{
    if (f->budget_set) {
        upd_set(u, "budget_limit_pusd", GW_DBV_INT(f->budget_pusd));
        upd_set(u, "budget_period", GW_DBV_STR(gw_period_str(f->budget_period)));
        upd_set(u, "budget_hard", GW_DBV_INT(f->budget_hard));
    } else {
        upd_set(u, "budget_limit_pusd", GW_DBV_NUL);
        upd_set(u, "budget_period", GW_DBV_NUL);
        upd_set(u, "budget_hard", GW_DBV_INT(0));
    }
}

static struct gw_dbv opt_int(bool set, int64_t v)
{
    return set ? GW_DBV_INT(v) : GW_DBV_NUL;
}

/* Reads the row back inside the transaction, commits, announces, writes the answer. */
static int finish_write(struct ctx *c, const struct kind *k, const char *id, int status,
                        const char *secret, bool with_spend)
{
    struct rs rs = {0};
    int ret = -1;
    if (load_subject(c, k, id, false, &rs) != 1)
        goto rollback;
    const struct gw_dbv *r = rs_row_at(&rs, 0);
    struct spend s;
    if (with_spend && subject_spend(c, k, r, &s) < 0)
        goto rollback;
    if (tx_commit(c) < 0)
        goto out;
    announce(c);
    o_subject_object(&c->o, k, r);
    if (secret)
        o_kstr(&c->o, "key", secret);
    if (with_spend)
        o_spend(&c->o, &s);
    o_obj_end(&c->o);
    c->status = status;
    ret = 0;
    goto out;
rollback:
    gw_db_rollback(c->db);
out:
    rs_free(&rs);
    return ret;
}

/* ---- /admin/v1/keys and /admin/v1/teams ---- */

/* A new secret with its digest (hex) and hint. */
static int new_secret(struct ctx *c, char secret[GW_VKEY_LEN + 1], char hex[2 * GW_DIGEST_LEN + 1],
                      char hint[GW_VKEY_HINT_LEN + 1])
{
    if (gw_vkey_generate(secret) < 0)
        return fail(c, 500, "internal_error", NULL, "could not draw random bytes");
    uint8_t d[GW_DIGEST_LEN];
    gw_vkey_digest(secret, strlen(secret), d);
    gw_digest_hex(d, hex);
    memcpy(hint, secret, GW_VKEY_HINT_LEN);
    hint[GW_VKEY_HINT_LEN] = '\0';
    return 0;
}

static int h_create(struct ctx *c, const struct kind *k)
{
    struct fields f;
    memset(&f, 0, sizeof(f));
    int ret = -1;
    if (parse_fields(c, k->is_key, true, &f) < 0)
        goto out;
    char id[ID_CAP];
    if (gw_vkey_new_id(k->id_pfx, id, sizeof(id)) < 0) {
        fail(c, 500, "internal_error", NULL, "could not draw random bytes");
        goto out;
    }
    char secret[GW_VKEY_LEN + 1], hex[2 * GW_DIGEST_LEN + 1], hint[GW_VKEY_HINT_LEN + 1];
    if (k->is_key && new_secret(c, secret, hex, hint) < 0)
        goto out;
    struct gw_dbv meta =
        f.has_metadata ? GW_DBV_STRN(f.metadata.ptr, f.metadata.len) : GW_DBV_STR("{}");
    struct gw_dbv blim = opt_int(f.budget_set, f.budget_pusd);
    struct gw_dbv bper = f.budget_set ? GW_DBV_STR(gw_period_str(f.budget_period)) : GW_DBV_NUL;
    if (tx_begin(c) < 0)
        goto out;
    if (k->is_key) {
        if (f.team[0] && team_exists(c, f.team) != 1)
            goto rollback;
        struct gw_dbv p[] = {
            GW_DBV_STR(id),
            GW_DBV_STR(f.name),
            f.team[0] ? GW_DBV_STR(f.team) : GW_DBV_NUL,
            GW_DBV_STR(hex),
            GW_DBV_STR(hint),
            opt_int(f.expires_set, f.expires_at),
            GW_DBV_STR(f.models ? f.models : "[]"),
            blim,
            bper,
            GW_DBV_INT(f.budget_hard),
            opt_int(f.rpm_set, f.rpm),
            opt_int(f.tpm_set, f.tpm),
            meta,
            GW_DBV_INT(c->now),
        };
        if (db_exec(c,
                    "INSERT INTO keys (id, name, team_id, digest, hint, enabled, expires_at, "
                    "models, budget_limit_pusd, budget_period, budget_hard, rpm, tpm, metadata, "
                    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, "
                    "$10, $11, $12, $13, $14, $14)",
                    p, GW_ARRAY_SIZE(p), NULL, NULL) < 0)
            goto rollback;
    } else {
        struct gw_dbv p[] = {
            GW_DBV_STR(id),
            GW_DBV_STR(f.name),
            GW_DBV_INT(f.has_enabled ? f.enabled : true),
            blim,
            bper,
            GW_DBV_INT(f.budget_hard),
            opt_int(f.rpm_set, f.rpm),
            opt_int(f.tpm_set, f.tpm),
            meta,
            GW_DBV_INT(c->now),
        };
        if (db_exec(c,
                    "INSERT INTO teams (id, name, enabled, budget_limit_pusd, budget_period, "
                    "budget_hard, rpm, tpm, metadata, created_at, updated_at) VALUES ($1, $2, "
                    "$3, $4, $5, $6, $7, $8, $9, $10, $10)",
                    p, GW_ARRAY_SIZE(p), NULL, NULL) < 0)
            goto rollback;
    }
    ret = finish_write(c, k, id, 201, k->is_key ? secret : NULL, false);
    goto out;
rollback:
    gw_db_rollback(c->db);
out:
    free(f.models);
    return ret;
}

static int h_patch(struct ctx *c, const struct kind *k, const char *id)
{
    struct fields f;
    memset(&f, 0, sizeof(f));
    int ret = -1;
    struct rs rs = {0};
    if (parse_fields(c, k->is_key, false, &f) < 0)
        goto out;
    struct upd u;
    upd_init(&u, k->table);
    if (f.has_name)
        upd_set(&u, "name", GW_DBV_STR(f.name));
    if (f.has_team)
        upd_set(&u, "team_id", f.team[0] ? GW_DBV_STR(f.team) : GW_DBV_NUL);
    if (f.has_enabled)
        upd_set(&u, "enabled", GW_DBV_INT(f.enabled));
    if (f.has_models)
        upd_set(&u, "models", GW_DBV_STR(f.models));
    if (f.has_budget)
        upd_budget(&u, &f);
    if (f.has_expires)
        upd_set(&u, "expires_at", opt_int(f.expires_set, f.expires_at));
    if (f.has_rpm)
        upd_set(&u, "rpm", opt_int(f.rpm_set, f.rpm));
    if (f.has_tpm)
        upd_set(&u, "tpm", opt_int(f.tpm_set, f.tpm));
    if (f.has_metadata)
        upd_set(&u, "metadata", GW_DBV_STRN(f.metadata.ptr, f.metadata.len));
    upd_set(&u, "updated_at", GW_DBV_INT(c->now));
    upd_where_id(&u, id, k->is_key);
    if (tx_begin(c) < 0)
        goto out;
    if (load_subject(c, k, id, true, &rs) != 1)
        goto rollback;
    if (f.has_team && f.team[0] && team_exists(c, f.team) != 1)
        goto rollback;
    if (db_exec(c, u.sql, u.p, u.n, NULL, NULL) < 0)
        goto rollback;
    ret = finish_write(c, k, id, 200, NULL, false);
    goto out;
rollback:
    gw_db_rollback(c->db);
out:
    rs_free(&rs);
    free(f.models);
    return ret;
}

static int h_get(struct ctx *c, const struct kind *k, const char *id)
{
    struct rs rs = {0};
    int ret = -1;
    if (load_subject(c, k, id, false, &rs) != 1)
        goto out;
    const struct gw_dbv *r = rs_row_at(&rs, 0);
    struct spend s;
    if (subject_spend(c, k, r, &s) < 0)
        goto out;
    o_subject_object(&c->o, k, r);
    o_spend(&c->o, &s);
    o_obj_end(&c->o);
    c->status = 200;
    ret = 0;
out:
    rs_free(&rs);
    return ret;
}

static void o_deleted(struct out *o, const char *id, const char *object)
{
    o_obj_begin(o);
    o_kstr(o, "id", id);
    o_kstr(o, "object", object);
    o_kbool(o, "deleted", true);
    o_obj_end(o);
}

/*
 * Keys are revoked, not deleted: usage rows and spend name them, and an
 * audit wants to see what a revoked key was. A team is deleted only when no
 * live key names it; revoked keys that named it forget it first (the
 * foreign key), their usage rows still carry the team id.
 */
static int h_delete(struct ctx *c, const struct kind *k, const char *id)
{
    struct gw_dbv p[] = {GW_DBV_INT(c->now), GW_DBV_STR(id)};
    if (tx_begin(c) < 0)
        return -1;
    int64_t n;
    if (k->is_key) {
        n = db_exec(c,
                    "UPDATE keys SET revoked_at = $1, enabled = 0, updated_at = $1 "
                    "WHERE id = $2 AND revoked_at IS NULL",
                    p, 2, NULL, NULL);
    } else {
        n = db_exec(c, "SELECT id FROM keys WHERE team_id = $1 AND revoked_at IS NULL", p + 1, 1,
                    NULL, NULL);
        if (n > 0) {
            fail(c, 409, "team_in_use", "id", "team %s still has %" PRId64 " live key(s)", id, n);
            goto rollback;
        }
        if (n == 0)
            n = db_exec(c, "UPDATE keys SET team_id = NULL WHERE team_id = $1", p + 1, 1, NULL,
                        NULL);
        if (n >= 0)
            n = db_exec(c, "DELETE FROM teams WHERE id = $1", p + 1, 1, NULL, NULL);
    }
    if (n < 0)
        goto rollback;
    if (n == 0) {
        fail(c, 404, "not_found", "id", "no %s with id %s", k->object, id);
        goto rollback;
    }
    if (tx_commit(c) < 0)
        return -1;
    announce(c);
    o_deleted(&c->o, id, k->object);
    c->status = 200;
    return 0;
rollback:
    gw_db_rollback(c->db);
    return -1;
}

static int h_rotate(struct ctx *c, const char *id)
{
    static const char *const allowed[] = {"grace_seconds"};
    struct obj ob;
    if (parse_obj(c, c->body.ptr, c->body.len, NULL, allowed, 1, true, &ob) < 0)
        return -1;
    uint64_t grace = 0;
    const struct member *m = obj_get(&ob, "grace_seconds");
    if (m && m_uint(c, m, "grace_seconds", 10ull * 366 * 86400, &grace) < 0)
        return -1;
    char secret[GW_VKEY_LEN + 1], hex[2 * GW_DIGEST_LEN + 1], hint[GW_VKEY_HINT_LEN + 1];
    if (new_secret(c, secret, hex, hint) < 0)
        return -1;
    struct gw_dbv p[] = {GW_DBV_STR(hex), GW_DBV_STR(hint), GW_DBV_INT(c->now), GW_DBV_STR(id),
                         GW_DBV_INT(c->now + (int64_t)grace)};
    /* SET's right-hand sides see the row before the update: old_digest gets the old digest. */
    const char *sql = grace ? "UPDATE keys SET old_digest = digest, old_until = $5, digest = $1, "
                              "hint = $2, updated_at = $3 WHERE id = $4 AND revoked_at IS NULL"
                            : "UPDATE keys SET old_digest = NULL, old_until = NULL, digest = $1, "
                              "hint = $2, updated_at = $3 WHERE id = $4 AND revoked_at IS NULL";
    if (tx_begin(c) < 0)
        return -1;
    int64_t n = db_exec(c, sql, p, grace ? 5 : 4, NULL, NULL);
    if (n < 0)
        goto rollback;
    if (n == 0) {
        fail(c, 404, "not_found", "id", "no key with id %s", id);
        goto rollback;
    }
    return finish_write(c, &KIND_KEY, id, 200, secret, false);
rollback:
    gw_db_rollback(c->db);
    return -1;
}

/*
 * Adds minus the current period's spend on today's row (schema: history
 * keeps its periods; a later period never sees the negative row, since
 * today lies in the current period).
 */
static int h_reset_spend(struct ctx *c, const struct kind *k, const char *id)
{
    struct obj ob;
    if (parse_obj(c, c->body.ptr, c->body.len, NULL, NULL, 0, true, &ob) < 0)
        return -1;
    struct rs rs = {0};
    if (tx_begin(c) < 0)
        return -1;
    if (load_subject(c, k, id, true, &rs) != 1)
        goto rollback;
    struct spend s;
    if (subject_spend(c, k, rs_row_at(&rs, 0), &s) < 0)
        goto rollback;
    if (s.pusd != 0 && s.pusd != INT64_MIN) {
        char subject[ID_CAP + 2];
        snprintf(subject, sizeof(subject), "%s%s", k->subject, id);
        struct gw_dbv p[] = {GW_DBV_STR(subject), GW_DBV_INT(gw_days_from_unix(c->now)),
                             GW_DBV_INT(-s.pusd)};
        if (db_exec(c,
                    "INSERT INTO spend (subject, day, cost_pusd, requests) VALUES ($1, $2, $3, "
                    "0) ON CONFLICT (subject, day) DO UPDATE SET cost_pusd = spend.cost_pusd + "
                    "excluded.cost_pusd",
                    p, GW_ARRAY_SIZE(p), NULL, NULL) < 0)
            goto rollback;
    }
    rs_free(&rs);
    return finish_write(c, k, id, 200, NULL, true);
rollback:
    gw_db_rollback(c->db);
    rs_free(&rs);
    return -1;
}

static int h_list(struct ctx *c, const struct kind *k)
{
    static const char *const key_q[] = {"limit", "after", "team", "include_revoked"};
    static const char *const team_q[] = {"limit", "after"};
    if (k->is_key ? q_allow(c, key_q, GW_ARRAY_SIZE(key_q))
                  : q_allow(c, team_q, GW_ARRAY_SIZE(team_q)))
        return -1;
    int64_t limit;
    bool revoked = false;
    if (q_limit(c, 100, &limit) < 0 || (k->is_key && q_bool(c, "include_revoked", &revoked) < 0))
        return -1;
    char sql[512];
    struct gw_sb sb;
    gw_sb_init(&sb, sql, sizeof(sql) - 1);
    struct gw_dbv p[4];
    size_t n = 0;
    gw_sb_puts(&sb, k->is_key ? "SELECT " KEY_COLS " FROM keys WHERE 1 = 1"
                              : "SELECT " TEAM_COLS " FROM teams WHERE 1 = 1");
    const char *after = q_get(c, "after");
    if (after && *after) {
        p[n++] = GW_DBV_STR(after);
        gw_sb_lit(&sb, " AND id > $");
        gw_sb_u64(&sb, n);
    }
    const char *team = k->is_key ? q_get(c, "team") : NULL;
    if (team && *team) {
        p[n++] = GW_DBV_STR(team);
        gw_sb_lit(&sb, " AND team_id = $");
        gw_sb_u64(&sb, n);
    }
    if (k->is_key && !revoked)
        gw_sb_lit(&sb, " AND revoked_at IS NULL");
    p[n++] = GW_DBV_INT(limit + 1); /* one more than asked tells has_more */
    gw_sb_lit(&sb, " ORDER BY id LIMIT $");
    gw_sb_u64(&sb, n);
    GW_BUG_ON(sb.overflow);
    sql[sb.len] = '\0';
    struct rs rs = {0};
    int64_t got = db_query(c, &rs, sql, p, n);
    if (got < 0) {
        rs_free(&rs);
        return -1;
    }
    bool more = got > limit;
    size_t shown = more ? (size_t)limit : (size_t)got;
    o_obj_begin(&c->o);
    o_kstr(&c->o, "object", "list");
    o_key(&c->o, "data");
    o_arr_begin(&c->o);
    for (size_t i = 0; i < shown; i++) {
        o_subject_object(&c->o, k, rs_row_at(&rs, i));
        o_obj_end(&c->o);
    }
    o_arr_end(&c->o);
    o_kbool(&c->o, "has_more", more);
    o_key(&c->o, "last_id");
    if (shown)
        o_cstr(&c->o, rs_row_at(&rs, shown - 1)[0].s);
    else
        o_null(&c->o);
    o_obj_end(&c->o);
    c->status = 200;
    rs_free(&rs);
    return 0;
}

/* ---- /admin/v1/prices ---- */

struct price_ent {
    const char *model; /* borrowed: from the accounts or a result set */
    int64_t v[5];      /* input, output, cached_input, cache_write, embedding; -1 = not set */
    const char *source;
};

static const char *const PRICE_FIELDS[] = {"input", "output", "cached_input", "cache_write",
                                           "embedding"};

static int price_cmp(const void *a, const void *b)
{
    return strcmp(((const struct price_ent *)a)->model, ((const struct price_ent *)b)->model);
}

static void o_price(struct out *o, const struct price_ent *e)
{
    o_obj_begin(o);
    o_kstr(o, "model", e->model);
    for (size_t i = 0; i < GW_ARRAY_SIZE(PRICE_FIELDS); i++) {
        o_key(o, PRICE_FIELDS[i]);
        if (e->v[i] < 0)
            o_null(o);
        else
            o_double(o, (double)e->v[i] / (double)GW_UUSD_PER_USD);
    }
    o_kstr(o, "source", e->source);
    o_obj_end(o);
}

static void price_from_row(struct price_ent *e, const struct gw_dbv *r)
{
    e->model = r[0].s;
    for (size_t i = 0; i < 5; i++)
        e->v[i] = dbv_null(&r[1 + i]) ? -1 : gw_dbv_int(&r[1 + i], 0);
    e->source = "admin";
}

static const char *source_name(const char *s)
{
    if (s && strcmp(s, "default") == 0)
        return "default";
    if (s && strcmp(s, "config") == 0)
        return "config";
    return "admin";
}

/*
 * The merged table: the published accounts' prices, with the database's
 * admin overrides laid over them. The database wins because a PUT or DELETE
 * answered a moment ago may not be published yet; an admin price the
 * snapshot still holds but the database no longer does was deleted, so it is
 * left out (what it hid comes back once the snapshot is rebuilt).
 */
static int h_prices_list(struct ctx *c)
{
    if (q_allow(c, NULL, 0) < 0)
        return -1;
    struct rs rs = {0};
    struct price_ent *ents = NULL;
    struct gw_accounts *a = c->env->accounts_get ? c->env->accounts_get(c->env->arg) : NULL;
    int ret = -1;
    if (db_query(c, &rs,
                 "SELECT model, input, output, cached_input, cache_write, embedding FROM prices",
                 NULL, 0) < 0)
        goto out;
    size_t na = a ? gw_accounts_nprices(a) : 0;
    ents = calloc(na + rs.nrows + 1, sizeof(*ents));
    if (!ents) {
        oom_fail(c);
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < rs.nrows; i++)
        price_from_row(&ents[n++], rs_row_at(&rs, i));
    size_t ndb = n;
    for (size_t i = 0; i < na; i++) {
        const struct gw_price *p = gw_accounts_price_at(a, i);
        const char *src = source_name(p->source);
        if (strcmp(src, "admin") == 0)
            continue;
        bool over = false;
        for (size_t k = 0; k < ndb && !over; k++)
            over = strcmp(ents[k].model, p->model) == 0;
        if (over)
            continue;
        struct price_ent *e = &ents[n++];
        e->model = p->model;
        e->v[0] = p->input;
        e->v[1] = p->output;
        e->v[2] = p->cached_input;
        e->v[3] = p->cache_write;
        e->v[4] = p->embedding;
        e->source = src;
    }
    qsort(ents, n, sizeof(*ents), price_cmp);
    o_obj_begin(&c->o);
    o_kstr(&c->o, "object", "list");
    o_kstr(&c->o, "version", a ? gw_accounts_price_version(a) : NULL);
    o_key(&c->o, "data");
    o_arr_begin(&c->o);
    for (size_t i = 0; i < n; i++)
        o_price(&c->o, &ents[i]);
    o_arr_end(&c->o);
    o_obj_end(&c->o);
    c->status = 200;
    ret = 0;
out:
    free(ents);
    rs_free(&rs);
    gw_accounts_unref(a);
    return ret;
}

static int check_model(struct ctx *c, const char *model)
{
    size_t len = strlen(model);
    if (len == 0 || len > MODEL_CAP - 1)
        return invalid(c, "model", "must be 1 to 256 bytes");
    if (!utf8_valid(model, len))
        return invalid(c, "model", "must be UTF-8");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)model[i] < 0x20 || model[i] == 0x7f)
            return invalid(c, "model", "must not contain control characters");
    return 0;
}

static int h_price_put(struct ctx *c, const char *model)
{
    if (check_model(c, model) < 0)
        return -1;
    struct obj ob;
    if (parse_obj(c, c->body.ptr, c->body.len, NULL, PRICE_FIELDS, GW_ARRAY_SIZE(PRICE_FIELDS),
                  false, &ob) < 0)
        return -1;
    struct price_ent e = {.model = model, .source = "admin"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(PRICE_FIELDS); i++) {
        const struct member *m = obj_get(&ob, PRICE_FIELDS[i]);
        e.v[i] = -1;
        if (!m && i < 2)
            return fail(c, 400, "missing_field", PRICE_FIELDS[i], "%s is required",
                        PRICE_FIELDS[i]);
        if (!m || (m_null(m) && i >= 2))
            continue;
        double usd;
        if (m_num(c, m, PRICE_FIELDS[i], &usd) < 0)
            return -1;
        if (!gw_price_usd_to_uusd(usd, &e.v[i]))
            return invalid(c, PRICE_FIELDS[i], "must be a number from 0 to 1000000 (USD per 1M)");
    }
    struct gw_dbv p[7];
    p[0] = GW_DBV_STR(model);
    for (size_t i = 0; i < 5; i++)
        p[1 + i] = opt_int(e.v[i] >= 0, e.v[i]);
    p[6] = GW_DBV_INT(c->now);
    if (tx_begin(c) < 0)
        return -1;
    if (db_exec(c,
                "INSERT INTO prices (model, input, output, cached_input, cache_write, embedding, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (model) DO UPDATE "
                "SET input = excluded.input, output = excluded.output, cached_input = "
                "excluded.cached_input, cache_write = excluded.cache_write, embedding = "
                "excluded.embedding, updated_at = excluded.updated_at",
                p, GW_ARRAY_SIZE(p), NULL, NULL) < 0) {
        gw_db_rollback(c->db);
        return -1;
    }
    if (tx_commit(c) < 0)
        return -1;
    announce(c);
    o_price(&c->o, &e);
    c->status = 200;
    return 0;
}

static int h_price_delete(struct ctx *c, const char *model)
{
    struct gw_dbv p[] = {GW_DBV_STR(model)};
    if (tx_begin(c) < 0)
        return -1;
    int64_t n = db_exec(c, "DELETE FROM prices WHERE model = $1", p, 1, NULL, NULL);
    if (n <= 0) {
        if (n == 0)
            fail(c, 404, "not_found", "model", "no admin price for model %s", model);
        gw_db_rollback(c->db);
        return -1;
    }
    if (tx_commit(c) < 0)
        return -1;
    announce(c);
    o_obj_begin(&c->o);
    o_kstr(&c->o, "model", model);
    o_kstr(&c->o, "object", "price");
    o_kbool(&c->o, "deleted", true);
    o_obj_end(&c->o);
    c->status = 200;
    return 0;
}

/* ---- /admin/v1/usage and /admin/v1/requests ---- */

/* from/to: RFC 3339 or YYYY-MM-DD. A bare date as `to` means the end of that day. */
static int q_time(struct ctx *c, const char *name, bool end_of_day, int64_t def, int64_t *out)
{
    const char *s = q_get(c, name);
    *out = def;
    if (!s)
        return 0;
    if (!gw_time_parse_rfc3339(gw_span_cstr(s), out) || *out < 0 || *out > TIME_MAX)
        return invalid(c, name, "must be an RFC 3339 time or YYYY-MM-DD");
    if (end_of_day && strlen(s) == 10)
        *out += 86400;
    return 0;
}

/* Appends " AND <col> = $N" with the query parameter's value when it is given. */
static void where_eq(struct ctx *c, struct gw_sb *sb, struct gw_dbv *p, size_t *n,
                     const char *qname, const char *col)
{
    const char *v = q_get(c, qname);
    if (!v || !*v)
        return;
    p[(*n)++] = GW_DBV_STR(v);
    gw_sb_lit(sb, " AND ");
    gw_sb_puts(sb, col);
    gw_sb_lit(sb, " = $");
    gw_sb_u64(sb, *n);
}

static int h_usage(struct ctx *c)
{
    static const char *const allowed[] = {"group_by", "from", "to", "key", "team", "model"};
    static const struct {
        const char *name, *expr;
    } groups[] = {
        {"key", "key_id"},
        {"team", "team_id"},
        {"model", "model"},
        {"day", "time_ms / 86400000"},
    };
    if (q_allow(c, allowed, GW_ARRAY_SIZE(allowed)) < 0)
        return -1;
    const char *gb = q_get(c, "group_by");
    if (!gb)
        return fail(c, 400, "missing_field", "group_by", "group_by is required");
    size_t g = 0;
    while (g < GW_ARRAY_SIZE(groups) && strcmp(groups[g].name, gb) != 0)
        g++;
    if (g == GW_ARRAY_SIZE(groups))
        return invalid(c, "group_by", "must be key, team, model or day");
    int64_t from, to;
    if (q_time(c, "from", false, c->now - 30 * 86400, &from) < 0 ||
        q_time(c, "to", true, c->now + 1, &to) < 0)
        return -1;
    char sql[1024];
    struct gw_sb sb;
    gw_sb_init(&sb, sql, sizeof(sql) - 1);
    struct gw_dbv p[5];
    size_t n = 0;
    gw_sb_lit(&sb, "SELECT ");
    gw_sb_puts(&sb, groups[g].expr);
    gw_sb_lit(&sb, ", COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), "
                   "SUM(COALESCE(cost_pusd, 0)), SUM(CASE WHEN cost_pusd IS NULL THEN 1 ELSE 0 "
                   "END) FROM usage WHERE time_ms >= $1 AND time_ms < $2");
    p[n++] = GW_DBV_INT(from * 1000);
    p[n++] = GW_DBV_INT(to * 1000);
    where_eq(c, &sb, p, &n, "key", "key_id");
    where_eq(c, &sb, p, &n, "team", "team_id");
    where_eq(c, &sb, p, &n, "model", "model");
    gw_sb_lit(&sb, " GROUP BY 1 ORDER BY 1");
    GW_BUG_ON(sb.overflow);
    sql[sb.len] = '\0';
    struct rs rs = {0};
    if (db_query(c, &rs, sql, p, n) < 0) {
        rs_free(&rs);
        return -1;
    }
    o_obj_begin(&c->o);
    o_kstr(&c->o, "object", "list");
    o_kstr(&c->o, "group_by", groups[g].name);
    o_key(&c->o, "data");
    o_arr_begin(&c->o);
    for (size_t i = 0; i < rs.nrows; i++) {
        const struct gw_dbv *r = rs_row_at(&rs, i);
        o_obj_begin(&c->o);
        if (strcmp(groups[g].name, "day") == 0 && !dbv_null(&r[0])) {
            int64_t y;
            unsigned mo, d;
            gw_civil_from_days(gw_dbv_int(&r[0], 0), &y, &mo, &d);
            char day[32];
            snprintf(day, sizeof(day), "%04" PRId64 "-%02u-%02u", y, mo, d);
            o_kstr(&c->o, "group", day);
        } else {
            o_dbv_str(&c->o, "group", &r[0]);
        }
        o_kint(&c->o, "requests", gw_dbv_int(&r[1], 0));
        o_kint(&c->o, "prompt_tokens", gw_dbv_int(&r[2], 0));
        o_kint(&c->o, "completion_tokens", gw_dbv_int(&r[3], 0));
        o_kint(&c->o, "cached_tokens", gw_dbv_int(&r[4], 0));
        o_key(&c->o, "cost_usd");
        o_usd(&c->o, gw_dbv_int(&r[5], 0));
        o_kint(&c->o, "unpriced_requests", gw_dbv_int(&r[6], 0));
        o_obj_end(&c->o);
    }
    o_arr_end(&c->o);
    o_obj_end(&c->o);
    c->status = 200;
    rs_free(&rs);
    return 0;
}

#define REQ_COLS                                                                                   \
    "id, time_ms, request_id, key_id, key_name, team_id, model, provider, deployment, endpoint, "  \
    "stream, status, error, prompt_tokens, completion_tokens, cached_tokens, "                     \
    "cache_write_tokens, reasoning_tokens, cost_pusd, price_version, ttfb_us, duration_us, "       \
    "bytes_in, bytes_out"

static void o_time_ms(struct out *o, const char *k, int64_t ms)
{
    int64_t s = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        s--;
        rem += 1000;
    }
    char buf[48];
    int n = gw_time_rfc3339(s, buf, 32);
    if (n <= 0 || buf[n - 1] != 'Z') {
        o_kstr(o, k, NULL);
        return;
    }
    snprintf(buf + n - 1, sizeof(buf) - (size_t)n + 1, ".%03dZ", (int)rem);
    o_kstr(o, k, buf);
}

static void o_us_as_ms(struct out *o, const char *k, const struct gw_dbv *v)
{
    o_key(o, k);
    int64_t us = gw_dbv_int(v, -1);
    if (dbv_null(v) || us < 0)
        o_null(o);
    else
        o_double(o, (double)us / 1000.0);
}

static int h_requests(struct ctx *c)
{
    static const char *const allowed[] = {"key", "model", "status", "limit", "before"};
    static const char *const strs[] = {"request_id", "key_id",   "key_name",   "team_id",
                                       "model",      "provider", "deployment", "endpoint"};
    static const char *const toks[] = {"prompt_tokens", "completion_tokens", "cached_tokens",
                                       "cache_write_tokens", "reasoning_tokens"};
    if (q_allow(c, allowed, GW_ARRAY_SIZE(allowed)) < 0)
        return -1;
    int64_t limit, before = -1, status = -1;
    if (q_limit(c, 50, &limit) < 0)
        return -1;
    const char *s = q_get(c, "before");
    if (s && !parse_dec(s, 0, INT64_MAX, &before))
        return invalid(c, "before", "must be a request log id");
    s = q_get(c, "status");
    if (s && !parse_dec(s, 100, 999, &status))
        return invalid(c, "status", "must be an HTTP status (100 to 999)");
    char sql[1536];
    struct gw_sb sb;
    gw_sb_init(&sb, sql, sizeof(sql) - 1);
    struct gw_dbv p[5];
    size_t n = 0;
    gw_sb_lit(&sb, "SELECT " REQ_COLS " FROM usage WHERE 1 = 1");
    if (before >= 0) {
        /* Rows come from several workers' logs, so ids do not follow time:
         * the page order is (time_ms, id), and `before` names the row the
         * last page ended with. */
        p[n++] = GW_DBV_INT(before);
        gw_sb_lit(&sb, " AND (time_ms < (SELECT time_ms FROM usage WHERE id = $");
        gw_sb_u64(&sb, n);
        gw_sb_lit(&sb, ") OR (time_ms = (SELECT time_ms FROM usage WHERE id = $");
        gw_sb_u64(&sb, n);
        gw_sb_lit(&sb, ") AND id < $");
        gw_sb_u64(&sb, n);
        gw_sb_lit(&sb, "))");
    }
    if (status >= 0) {
        p[n++] = GW_DBV_INT(status);
        gw_sb_lit(&sb, " AND status = $");
        gw_sb_u64(&sb, n);
    }
    where_eq(c, &sb, p, &n, "key", "key_id");
    where_eq(c, &sb, p, &n, "model", "model");
    p[n++] = GW_DBV_INT(limit + 1);
    gw_sb_lit(&sb, " ORDER BY time_ms DESC, id DESC LIMIT $");
    gw_sb_u64(&sb, n);
    GW_BUG_ON(sb.overflow);
    sql[sb.len] = '\0';
    struct rs rs = {0};
    int64_t got = db_query(c, &rs, sql, p, n);
    if (got < 0) {
        rs_free(&rs);
        return -1;
    }
    bool more = got > limit;
    size_t shown = more ? (size_t)limit : (size_t)got;
    o_obj_begin(&c->o);
    o_kstr(&c->o, "object", "list");
    o_key(&c->o, "data");
    o_arr_begin(&c->o);
    for (size_t i = 0; i < shown; i++) {
        const struct gw_dbv *r = rs_row_at(&rs, i);
        o_obj_begin(&c->o);
        o_kint(&c->o, "id", gw_dbv_int(&r[0], 0));
        o_time_ms(&c->o, "time", gw_dbv_int(&r[1], 0));
        for (size_t k = 0; k < GW_ARRAY_SIZE(strs); k++)
            o_dbv_str(&c->o, strs[k], &r[2 + k]);
        o_kbool(&c->o, "stream", gw_dbv_int(&r[10], 0) != 0);
        o_kint(&c->o, "status", gw_dbv_int(&r[11], 0));
        o_dbv_str(&c->o, "error", &r[12]);
        for (size_t k = 0; k < GW_ARRAY_SIZE(toks); k++)
            o_kint(&c->o, toks[k], gw_dbv_int(&r[13 + k], 0));
        o_key(&c->o, "cost_usd");
        if (dbv_null(&r[18]))
            o_null(&c->o);
        else
            o_usd(&c->o, gw_dbv_int(&r[18], 0));
        o_dbv_str(&c->o, "price_version", &r[19]);
        o_us_as_ms(&c->o, "ttfb_ms", &r[20]);
        o_us_as_ms(&c->o, "duration_ms", &r[21]);
        o_kint(&c->o, "bytes_in", gw_dbv_int(&r[22], 0));
        o_kint(&c->o, "bytes_out", gw_dbv_int(&r[23], 0));
        o_obj_end(&c->o);
    }
    o_arr_end(&c->o);
    o_kbool(&c->o, "has_more", more);
    o_key(&c->o, "next_before");
    if (more)
        o_int(&c->o, gw_dbv_int(&rs_row_at(&rs, shown - 1)[0], 0));
    else
        o_null(&c->o);
    o_obj_end(&c->o);
    c->status = 200;
    rs_free(&rs);
    return 0;
}

/* ---- routing ---- */

static bool meth(struct gw_span m, const char *s)
{
    return gw_span_eq(m, gw_span_cstr(s));
}

static int not_allowed(struct ctx *c, struct gw_span method)
{
    return fail(c, 405, "method_not_allowed", NULL, "method %.*s is not allowed here",
                (int)GW_MIN(method.len, 16), method.ptr ? method.ptr : "");
}

static int not_found(struct ctx *c)
{
    return fail(c, 404, "not_found", NULL, "no such admin route");
}

/* Keys and teams: "" (the collection), "{id}", "{id}/rotate", "{id}/reset-spend". */
static int route_subject(struct ctx *c, const struct kind *k, struct gw_span method,
                         const char *rest)
{
    if (!*rest) {
        if (meth(method, "GET"))
            return h_list(c, k);
        if (meth(method, "POST"))
            return q_allow(c, NULL, 0) < 0 ? -1 : h_create(c, k);
        return not_allowed(c, method);
    }
    if (*rest != '/')
        return not_found(c);
    rest++;
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (idlen == 0 || idlen >= ID_CAP)
        return not_found(c);
    char id[ID_CAP];
    if (pct_decode(rest, idlen, false, id) < 0 || !utf8_valid(id, strlen(id)))
        return not_found(c);
    if (q_allow(c, NULL, 0) < 0)
        return -1;
    if (!slash) {
        if (meth(method, "GET"))
            return h_get(c, k, id);
        if (meth(method, "PATCH"))
            return h_patch(c, k, id);
        if (meth(method, "DELETE"))
            return h_delete(c, k, id);
        return not_allowed(c, method);
    }
    const char *action = slash + 1;
    bool reset = strcmp(action, "reset-spend") == 0;
    if (!reset && !(k->is_key && strcmp(action, "rotate") == 0))
        return not_found(c);
    if (!meth(method, "POST"))
        return not_allowed(c, method);
    return reset ? h_reset_spend(c, k, id) : h_rotate(c, id);
}

static int route(struct ctx *c, struct gw_span method, const char *r)
{
    if (strncmp(r, "keys", 4) == 0 && (r[4] == '\0' || r[4] == '/'))
        return route_subject(c, &KIND_KEY, method, r + 4);
    if (strncmp(r, "teams", 5) == 0 && (r[5] == '\0' || r[5] == '/'))
        return route_subject(c, &KIND_TEAM, method, r + 5);
    if (strcmp(r, "prices") == 0)
        return meth(method, "GET") ? h_prices_list(c) : not_allowed(c, method);
    if (strncmp(r, "prices/", 7) == 0 && r[7]) {
        /* The model is the rest of the path, slashes included ("openai/gpt-4o"). */
        size_t len = strlen(r + 7);
        if (len > 3 * MODEL_CAP)
            return invalid(c, "model", "must be 1 to 256 bytes");
        char model[3 * MODEL_CAP + 1];
        if (pct_decode(r + 7, len, false, model) < 0)
            return invalid(c, "model", "bad percent-encoding");
        if (q_allow(c, NULL, 0) < 0)
            return -1;
        if (meth(method, "PUT"))
            return h_price_put(c, model);
        if (meth(method, "DELETE"))
            return h_price_delete(c, model);
        return not_allowed(c, method);
    }
    if (strcmp(r, "usage") == 0)
        return meth(method, "GET") ? h_usage(c) : not_allowed(c, method);
    if (strcmp(r, "requests") == 0)
        return meth(method, "GET") ? h_requests(c) : not_allowed(c, method);
    if (strcmp(r, "openapi.json") == 0)
        return not_allowed(c, method); /* GET was answered before the auth check */
    return not_found(c);
}

static int64_t now_of(const struct gw_admin_env *env)
{
    if (env->now)
        return env->now(env->arg);
    return (int64_t)time(NULL);
}

static void finish(struct ctx *c, struct gw_admin_resp *out)
{
    struct out *o = &c->o;
    if (o->oom || o->w.overflow || o->w.len == 0 || !o_reserve(o, 1)) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"param\":null,\"code\":\"out_of_memory\"}}";
        free(o->w.buf);
        out->status = 500;
        out->body = malloc(sizeof(oom));
        out->len = out->body ? sizeof(oom) - 1 : 0;
        if (out->body)
            memcpy(out->body, oom, sizeof(oom));
        return;
    }
    o->w.buf[o->w.len] = '\0';
    out->status = c->status;
    out->body = o->w.buf;
    out->len = o->w.len;
}

void gw_admin_handle(const struct gw_admin_env *env, struct gw_span method, struct gw_span target,
                     struct gw_span authorization, struct gw_span body, struct gw_admin_resp *out)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.env = env;
    c.db = env->db;
    c.body = body;
    c.status = 500;
    char *path = NULL;
    memset(out, 0, sizeof(*out));
    o_reserve(&c.o, 4096);

    const char *q = target.ptr ? memchr(target.ptr, '?', target.len) : NULL;
    size_t plen = q ? (size_t)(q - target.ptr) : target.len;
    if (gw_span_eq(gw_span_make(target.ptr, plen), GW_SPAN_LIT(PREFIX "openapi.json")) &&
        meth(method, "GET")) {
        o_raw(&c.o, gw_admin_openapi_json, strlen(gw_admin_openapi_json));
        c.status = 200;
        goto out;
    }
    struct gw_span key;
    const char *mk = env->master_key;
    if (!mk || !*mk || !gw_auth_extract(authorization, GW_SPAN_NULL, &key) ||
        !gw_ct_eq(key.ptr, key.len, mk, strlen(mk))) {
        fail(&c, 401, "invalid_api_key", NULL,
             "a valid master key is required (Authorization: Bearer <master key>)");
        goto out;
    }
    if (plen > 4096 || (target.len && memchr(target.ptr, '\0', target.len))) {
        not_found(&c);
        goto out;
    }
    path = malloc(plen + 1);
    if (!path) {
        oom_fail(&c);
        goto out;
    }
    if (plen)
        memcpy(path, target.ptr, plen);
    path[plen] = '\0';
    if (strncmp(path, PREFIX, strlen(PREFIX)) != 0) {
        not_found(&c);
        goto out;
    }
    if (q && parse_query(&c, gw_span_make(q + 1, target.len - plen - 1)) < 0)
        goto out;
    c.now = now_of(env);
    route(&c, method, path + strlen(PREFIX));
out:
    finish(&c, out);
    free(path);
    free(c.q.mem);
}

void gw_admin_resp_free(struct gw_admin_resp *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* ---- the OpenAPI document (GET /admin/v1/openapi.json) ---- */

/*
 * Kept by hand beside the routes above; tests/unit/store/test_admin.c checks
 * that every (path, method) here is served and every served route is here.
 */
const char gw_admin_openapi_json[] =
    "{\n"
    " \"openapi\": \"3.1.0\",\n"
    " \"info\": {\n"
    "  \"title\": \"Conduit admin API\",\n"
    "  \"version\": \"1\",\n"
    "  \"description\": \"Virtual keys, teams, budgets, prices, usage and the request log. Ever"
    "y route but this document needs Authorization: Bearer <master key>. Errors use the OpenAI "
    "error object. Money is USD; times are RFC 3339 UTC.\"\n"
    " },\n"
    " \"security\": [\n"
    "  {\n"
    "   \"master_key\": []\n"
    "  }\n"
    " ],\n"
    " \"paths\": {\n"
    "  \"/admin/v1/keys\": {\n"
    "   \"get\": {\n"
    "    \"operationId\": \"listKeys\",\n"
    "    \"summary\": \"List virtual keys, ordered by id\",\n"
    "    \"parameters\": [\n"
    "     {\n"
    "      \"name\": \"limit\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"integer\",\n"
    "       \"minimum\": 1,\n"
    "       \"maximum\": 1000,\n"
    "       \"default\": 100\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"$ref\": \"#/components/parameters/After\"\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"team\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\"\n"
    "      },\n"
    "      \"description\": \"only keys of this team\"\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"include_revoked\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"boolean\",\n"
    "       \"default\": false\n"
    "      }\n"
    "     }\n"
    "    ],\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"a page of keys\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/KeyList\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"post\": {\n"
    "    \"operationId\": \"createKey\",\n"
    "    \"summary\": \"Create a virtual key\",\n"
    "    \"requestBody\": {\n"
    "     \"required\": true,\n"
    "     \"content\": {\n"
    "      \"application/json\": {\n"
    "       \"schema\": {\n"
    "        \"$ref\": \"#/components/schemas/KeyCreate\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    },\n"
    "    \"responses\": {\n"
    "     \"201\": {\n"
    "      \"description\": \"the key with its secret (shown once)\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/KeyWithSecret\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/keys/{id}\": {\n"
    "   \"parameters\": [\n"
    "    {\n"
    "     \"$ref\": \"#/components/parameters/Id\"\n"
    "    }\n"
    "   ],\n"
    "   \"get\": {\n"
    "    \"operationId\": \"getKey\",\n"
    "    \"summary\": \"A key with its current period's spend\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the key\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/KeyWithSpend\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"patch\": {\n"
    "    \"operationId\": \"updateKey\",\n"
    "    \"summary\": \"Change a key (null removes team, budget, expires_at, rpm, tpm)\",\n"
    "    \"requestBody\": {\n"
    "     \"required\": true,\n"
    "     \"content\": {\n"
    "      \"application/json\": {\n"
    "       \"schema\": {\n"
    "        \"$ref\": \"#/components/schemas/KeyPatch\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    },\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the key\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/Key\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"delete\": {\n"
    "    \"operationId\": \"revokeKey\",\n"
    "    \"summary\": \"Revoke a key (the row stays for history)\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"revoked\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/Deleted\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/keys/{id}/rotate\": {\n"
    "   \"parameters\": [\n"
    "    {\n"
    "     \"$ref\": \"#/components/parameters/Id\"\n"
    "    }\n"
    "   ],\n"
    "   \"post\": {\n"
    "    \"operationId\": \"rotateKey\",\n"
    "    \"summary\": \"Replace a key's secret\",\n"
    "    \"requestBody\": {\n"
    "     \"required\": false,\n"
    "     \"content\": {\n"
    "      \"application/json\": {\n"
    "       \"schema\": {\n"
    "        \"$ref\": \"#/components/schemas/Rotate\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    },\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the key with its new secret\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/KeyWithSecret\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/keys/{id}/reset-spend\": {\n"
    "   \"parameters\": [\n"
    "    {\n"
    "     \"$ref\": \"#/components/parameters/Id\"\n"
    "    }\n"
    "   ],\n"
    "   \"post\": {\n"
    "    \"operationId\": \"resetKeySpend\",\n"
    "    \"summary\": \"Zero the current period's spend (adds a negative spend row today)\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the key with its spend\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/KeyWithSpend\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/teams\": {\n"
    "   \"get\": {\n"
    "    \"operationId\": \"listTeams\",\n"
    "    \"summary\": \"List teams, ordered by id\",\n"
    "    \"parameters\": [\n"
    "     {\n"
    "      \"name\": \"limit\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"integer\",\n"
    "       \"minimum\": 1,\n"
    "       \"maximum\": 1000,\n"
    "       \"default\": 100\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"$ref\": \"#/components/parameters/After\"\n"
    "     }\n"
    "    ],\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"a page of teams\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/TeamList\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"post\": {\n"
    "    \"operationId\": \"createTeam\",\n"
    "    \"summary\": \"Create a team\",\n"
    "    \"requestBody\": {\n"
    "     \"required\": true,\n"
    "     \"content\": {\n"
    "      \"application/json\": {\n"
    "       \"schema\": {\n"
    "        \"$ref\": \"#/components/schemas/TeamCreate\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    },\n"
    "    \"responses\": {\n"
    "     \"201\": {\n"
    "      \"description\": \"the team\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/Team\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/teams/{id}\": {\n"
    "   \"parameters\": [\n"
    "    {\n"
    "     \"$ref\": \"#/components/parameters/Id\"\n"
    "    }\n"
    "   ],\n"
    "   \"get\": {\n"
    "    \"operationId\": \"getTeam\",\n"
    "    \"summary\": \"A team with its current period's spend\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the team\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/TeamWithSpend\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"patch\": {\n"
    "    \"operationId\": \"updateTeam\",\n"
    "    \"summary\": \"Change a team\",\n"
    "    \"requestBody\": {\n"
    "     \"required\": true,\n"
    "     \"content\": {\n"
    "      \"application/json\": {\n"
    "       \"schema\": {\n"
    "        \"$ref\": \"#/components/schemas/TeamPatch\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    },\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the team\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/Team\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"delete\": {\n"
    "    \"operationId\": \"deleteTeam\",\n"
    "    \"summary\": \"Delete a team that no live key names\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"deleted\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/Deleted\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     },\n"
    "     \"409\": {\n"
    "      \"$ref\": \"#/components/responses/Conflict\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/teams/{id}/reset-spend\": {\n"
    "   \"parameters\": [\n"
    "    {\n"
    "     \"$ref\": \"#/components/parameters/Id\"\n"
    "    }\n"
    "   ],\n"
    "   \"post\": {\n"
    "    \"operationId\": \"resetTeamSpend\",\n"
    "    \"summary\": \"Zero the team's current period's spend\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the team with its spend\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/TeamWithSpend\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/prices\": {\n"
    "   \"get\": {\n"
    "    \"operationId\": \"listPrices\",\n"
    "    \"summary\": \"The merged price table (default, config, admin overrides)\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"prices\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/PriceList\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/prices/{model}\": {\n"
    "   \"parameters\": [\n"
    "    {\n"
    "     \"$ref\": \"#/components/parameters/Model\"\n"
    "    }\n"
    "   ],\n"
    "   \"put\": {\n"
    "    \"operationId\": \"setPrice\",\n"
    "    \"summary\": \"Set an admin price override\",\n"
    "    \"requestBody\": {\n"
    "     \"required\": true,\n"
    "     \"content\": {\n"
    "      \"application/json\": {\n"
    "       \"schema\": {\n"
    "        \"$ref\": \"#/components/schemas/PriceIn\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    },\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"the price\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/Price\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"delete\": {\n"
    "    \"operationId\": \"deletePrice\",\n"
    "    \"summary\": \"Remove an admin price override\",\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"removed\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/PriceDeleted\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     },\n"
    "     \"404\": {\n"
    "      \"$ref\": \"#/components/responses/NotFound\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/usage\": {\n"
    "   \"get\": {\n"
    "    \"operationId\": \"getUsage\",\n"
    "    \"summary\": \"Usage totals grouped by key, team, model or UTC day\",\n"
    "    \"parameters\": [\n"
    "     {\n"
    "      \"name\": \"group_by\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\",\n"
    "       \"enum\": [\n"
    "        \"key\",\n"
    "        \"team\",\n"
    "        \"model\",\n"
    "        \"day\"\n"
    "       ]\n"
    "      },\n"
    "      \"required\": true\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"from\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\",\n"
    "       \"description\": \"RFC 3339 time or YYYY-MM-DD (UTC)\"\n"
    "      },\n"
    "      \"description\": \"inclusive; default 30 days ago\"\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"to\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\",\n"
    "       \"description\": \"RFC 3339 time or YYYY-MM-DD (UTC)\"\n"
    "      },\n"
    "      \"description\": \"exclusive (a bare date: the end of that day); default now\"\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"key\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\"\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"team\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\"\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"model\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\"\n"
    "      }\n"
    "     }\n"
    "    ],\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"usage\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/UsageList\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/requests\": {\n"
    "   \"get\": {\n"
    "    \"operationId\": \"listRequests\",\n"
    "    \"summary\": \"The request log, newest first\",\n"
    "    \"parameters\": [\n"
    "     {\n"
    "      \"name\": \"key\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\"\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"model\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"string\"\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"status\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"integer\",\n"
    "       \"minimum\": 100,\n"
    "       \"maximum\": 999\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"limit\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"integer\",\n"
    "       \"minimum\": 1,\n"
    "       \"maximum\": 1000,\n"
    "       \"default\": 50\n"
    "      }\n"
    "     },\n"
    "     {\n"
    "      \"name\": \"before\",\n"
    "      \"in\": \"query\",\n"
    "      \"schema\": {\n"
    "       \"type\": \"integer\",\n"
    "       \"minimum\": 0\n"
    "      },\n"
    "      \"description\": \"only rows with a smaller id\"\n"
    "     }\n"
    "    ],\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"requests\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"$ref\": \"#/components/schemas/RequestList\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     },\n"
    "     \"400\": {\n"
    "      \"$ref\": \"#/components/responses/BadRequest\"\n"
    "     },\n"
    "     \"401\": {\n"
    "      \"$ref\": \"#/components/responses/Unauthorized\"\n"
    "     },\n"
    "     \"503\": {\n"
    "      \"$ref\": \"#/components/responses/Unavailable\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"/admin/v1/openapi.json\": {\n"
    "   \"get\": {\n"
    "    \"operationId\": \"getOpenAPI\",\n"
    "    \"summary\": \"This document (no authentication)\",\n"
    "    \"security\": [],\n"
    "    \"responses\": {\n"
    "     \"200\": {\n"
    "      \"description\": \"OpenAPI 3.1 document\",\n"
    "      \"content\": {\n"
    "       \"application/json\": {\n"
    "        \"schema\": {\n"
    "         \"type\": \"object\"\n"
    "        }\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  }\n"
    " },\n"
    " \"components\": {\n"
    "  \"securitySchemes\": {\n"
    "   \"master_key\": {\n"
    "    \"type\": \"http\",\n"
    "    \"scheme\": \"bearer\",\n"
    "    \"description\": \"admin.master_key\"\n"
    "   }\n"
    "  },\n"
    "  \"parameters\": {\n"
    "   \"Id\": {\n"
    "    \"name\": \"id\",\n"
    "    \"in\": \"path\",\n"
    "    \"required\": true,\n"
    "    \"schema\": {\n"
    "     \"type\": \"string\"\n"
    "    }\n"
    "   },\n"
    "   \"Model\": {\n"
    "    \"name\": \"model\",\n"
    "    \"in\": \"path\",\n"
    "    \"required\": true,\n"
    "    \"description\": \"percent-encoded; may contain slashes\",\n"
    "    \"schema\": {\n"
    "     \"type\": \"string\"\n"
    "    }\n"
    "   },\n"
    "   \"After\": {\n"
    "    \"name\": \"after\",\n"
    "    \"in\": \"query\",\n"
    "    \"description\": \"list ids greater than this one\",\n"
    "    \"schema\": {\n"
    "     \"type\": \"string\"\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"responses\": {\n"
    "   \"BadRequest\": {\n"
    "    \"description\": \"invalid request (param names the member)\",\n"
    "    \"content\": {\n"
    "     \"application/json\": {\n"
    "      \"schema\": {\n"
    "       \"$ref\": \"#/components/schemas/Error\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Unauthorized\": {\n"
    "    \"description\": \"missing or wrong master key\",\n"
    "    \"content\": {\n"
    "     \"application/json\": {\n"
    "      \"schema\": {\n"
    "       \"$ref\": \"#/components/schemas/Error\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"NotFound\": {\n"
    "    \"description\": \"no such object\",\n"
    "    \"content\": {\n"
    "     \"application/json\": {\n"
    "      \"schema\": {\n"
    "       \"$ref\": \"#/components/schemas/Error\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Conflict\": {\n"
    "    \"description\": \"the object is in use\",\n"
    "    \"content\": {\n"
    "     \"application/json\": {\n"
    "      \"schema\": {\n"
    "       \"$ref\": \"#/components/schemas/Error\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Unavailable\": {\n"
    "    \"description\": \"the database is unavailable (store_unavailable)\",\n"
    "    \"content\": {\n"
    "     \"application/json\": {\n"
    "      \"schema\": {\n"
    "       \"$ref\": \"#/components/schemas/Error\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  },\n"
    "  \"schemas\": {\n"
    "   \"Error\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"error\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"error\": {\n"
    "      \"type\": \"object\",\n"
    "      \"required\": [\n"
    "       \"message\",\n"
    "       \"type\",\n"
    "       \"param\",\n"
    "       \"code\"\n"
    "      ],\n"
    "      \"properties\": {\n"
    "       \"message\": {\n"
    "        \"type\": \"string\"\n"
    "       },\n"
    "       \"type\": {\n"
    "        \"type\": \"string\",\n"
    "        \"enum\": [\n"
    "         \"invalid_request_error\",\n"
    "         \"server_error\"\n"
    "        ]\n"
    "       },\n"
    "       \"param\": {\n"
    "        \"type\": [\n"
    "         \"string\",\n"
    "         \"null\"\n"
    "        ]\n"
    "       },\n"
    "       \"code\": {\n"
    "        \"type\": \"string\",\n"
    "        \"description\": \"invalid_api_key, invalid_value, missing_field, unknown_field, i"
    "nvalid_json, not_found, method_not_allowed, team_in_use, store_unavailable, store_error, ."
    "..\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Budget\": {\n"
    "    \"type\": [\n"
    "     \"object\",\n"
    "     \"null\"\n"
    "    ],\n"
    "    \"required\": [\n"
    "     \"limit_usd\",\n"
    "     \"period\",\n"
    "     \"hard\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"limit_usd\": {\n"
    "      \"type\": \"number\",\n"
    "      \"minimum\": 0\n"
    "     },\n"
    "     \"period\": {\n"
    "      \"type\": \"string\",\n"
    "      \"enum\": [\n"
    "       \"total\",\n"
    "       \"daily\",\n"
    "       \"weekly\",\n"
    "       \"monthly\"\n"
    "      ]\n"
    "     },\n"
    "     \"hard\": {\n"
    "      \"type\": \"boolean\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"BudgetIn\": {\n"
    "    \"type\": [\n"
    "     \"object\",\n"
    "     \"null\"\n"
    "    ],\n"
    "    \"additionalProperties\": false,\n"
    "    \"required\": [\n"
    "     \"limit_usd\"\n"
    "    ],\n"
    "    \"description\": \"null removes the budget (PATCH)\",\n"
    "    \"properties\": {\n"
    "     \"limit_usd\": {\n"
    "      \"type\": \"number\",\n"
    "      \"minimum\": 0,\n"
    "      \"maximum\": 9000000\n"
    "     },\n"
    "     \"period\": {\n"
    "      \"type\": \"string\",\n"
    "      \"enum\": [\n"
    "       \"total\",\n"
    "       \"daily\",\n"
    "       \"weekly\",\n"
    "       \"monthly\"\n"
    "      ],\n"
    "      \"default\": \"monthly\"\n"
    "     },\n"
    "     \"hard\": {\n"
    "      \"type\": \"boolean\",\n"
    "      \"default\": false\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Spend\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"period_start\",\n"
    "     \"period_end\",\n"
    "     \"spend_usd\",\n"
    "     \"limit_usd\"\n"
    "    ],\n"
    "    \"description\": \"spend over the budget's current period (UTC, calendar-aligned); the"
    " total when there is no budget or the period is total\",\n"
    "    \"properties\": {\n"
    "     \"period_start\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"format\": \"date-time\"\n"
    "     },\n"
    "     \"period_end\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"format\": \"date-time\"\n"
    "     },\n"
    "     \"spend_usd\": {\n"
    "      \"type\": \"number\"\n"
    "     },\n"
    "     \"limit_usd\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Key\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"id\",\n"
    "     \"object\",\n"
    "     \"name\",\n"
    "     \"team\",\n"
    "     \"enabled\",\n"
    "     \"expires_at\",\n"
    "     \"models\",\n"
    "     \"budget\",\n"
    "     \"rpm\",\n"
    "     \"tpm\",\n"
    "     \"metadata\",\n"
    "     \"key_hint\",\n"
    "     \"created_at\",\n"
    "     \"updated_at\",\n"
    "     \"revoked_at\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"id\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"object\": {\n"
    "      \"const\": \"key\"\n"
    "     },\n"
    "     \"name\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"team\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"enabled\": {\n"
    "      \"type\": \"boolean\"\n"
    "     },\n"
    "     \"expires_at\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"format\": \"date-time\"\n"
    "     },\n"
    "     \"models\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"type\": \"string\"\n"
    "      }\n"
    "     },\n"
    "     \"budget\": {\n"
    "      \"$ref\": \"#/components/schemas/Budget\"\n"
    "     },\n"
    "     \"rpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"tpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"metadata\": {\n"
    "      \"type\": \"object\"\n"
    "     },\n"
    "     \"key_hint\": {\n"
    "      \"type\": \"string\",\n"
    "      \"description\": \"the secret's first 10 characters\"\n"
    "     },\n"
    "     \"created_at\": {\n"
    "      \"type\": \"string\",\n"
    "      \"format\": \"date-time\"\n"
    "     },\n"
    "     \"updated_at\": {\n"
    "      \"type\": \"string\",\n"
    "      \"format\": \"date-time\"\n"
    "     },\n"
    "     \"revoked_at\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"format\": \"date-time\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"KeyWithSecret\": {\n"
    "    \"allOf\": [\n"
    "     {\n"
    "      \"$ref\": \"#/components/schemas/Key\"\n"
    "     },\n"
    "     {\n"
    "      \"type\": \"object\",\n"
    "      \"required\": [\n"
    "       \"key\"\n"
    "      ],\n"
    "      \"properties\": {\n"
    "       \"key\": {\n"
    "        \"type\": \"string\",\n"
    "        \"description\": \"the secret, condt_ + 32 base62 characters: shown only here\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    ]\n"
    "   },\n"
    "   \"KeyWithSpend\": {\n"
    "    \"allOf\": [\n"
    "     {\n"
    "      \"$ref\": \"#/components/schemas/Key\"\n"
    "     },\n"
    "     {\n"
    "      \"type\": \"object\",\n"
    "      \"required\": [\n"
    "       \"spend\"\n"
    "      ],\n"
    "      \"properties\": {\n"
    "       \"spend\": {\n"
    "        \"$ref\": \"#/components/schemas/Spend\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    ]\n"
    "   },\n"
    "   \"Team\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"id\",\n"
    "     \"object\",\n"
    "     \"name\",\n"
    "     \"enabled\",\n"
    "     \"budget\",\n"
    "     \"rpm\",\n"
    "     \"tpm\",\n"
    "     \"metadata\",\n"
    "     \"created_at\",\n"
    "     \"updated_at\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"id\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"object\": {\n"
    "      \"const\": \"team\"\n"
    "     },\n"
    "     \"name\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"enabled\": {\n"
    "      \"type\": \"boolean\"\n"
    "     },\n"
    "     \"budget\": {\n"
    "      \"$ref\": \"#/components/schemas/Budget\"\n"
    "     },\n"
    "     \"rpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"tpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"metadata\": {\n"
    "      \"type\": \"object\"\n"
    "     },\n"
    "     \"created_at\": {\n"
    "      \"type\": \"string\",\n"
    "      \"format\": \"date-time\"\n"
    "     },\n"
    "     \"updated_at\": {\n"
    "      \"type\": \"string\",\n"
    "      \"format\": \"date-time\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"TeamWithSpend\": {\n"
    "    \"allOf\": [\n"
    "     {\n"
    "      \"$ref\": \"#/components/schemas/Team\"\n"
    "     },\n"
    "     {\n"
    "      \"type\": \"object\",\n"
    "      \"required\": [\n"
    "       \"spend\"\n"
    "      ],\n"
    "      \"properties\": {\n"
    "       \"spend\": {\n"
    "        \"$ref\": \"#/components/schemas/Spend\"\n"
    "       }\n"
    "      }\n"
    "     }\n"
    "    ]\n"
    "   },\n"
    "   \"KeyList\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"object\",\n"
    "     \"data\",\n"
    "     \"has_more\",\n"
    "     \"last_id\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"object\": {\n"
    "      \"const\": \"list\"\n"
    "     },\n"
    "     \"data\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"$ref\": \"#/components/schemas/Key\"\n"
    "      }\n"
    "     },\n"
    "     \"has_more\": {\n"
    "      \"type\": \"boolean\"\n"
    "     },\n"
    "     \"last_id\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"TeamList\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"object\",\n"
    "     \"data\",\n"
    "     \"has_more\",\n"
    "     \"last_id\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"object\": {\n"
    "      \"const\": \"list\"\n"
    "     },\n"
    "     \"data\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"$ref\": \"#/components/schemas/Team\"\n"
    "      }\n"
    "     },\n"
    "     \"has_more\": {\n"
    "      \"type\": \"boolean\"\n"
    "     },\n"
    "     \"last_id\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Deleted\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"id\",\n"
    "     \"object\",\n"
    "     \"deleted\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"id\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"object\": {\n"
    "      \"type\": \"string\",\n"
    "      \"enum\": [\n"
    "       \"key\",\n"
    "       \"team\"\n"
    "      ]\n"
    "     },\n"
    "     \"deleted\": {\n"
    "      \"const\": true\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"KeyCreate\": {\n"
    "    \"type\": \"object\",\n"
    "    \"additionalProperties\": false,\n"
    "    \"required\": [\n"
    "     \"name\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"name\": {\n"
    "      \"type\": \"string\",\n"
    "      \"minLength\": 1,\n"
    "      \"maxLength\": 128\n"
    "     },\n"
    "     \"team\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"a team id; null = none\"\n"
    "     },\n"
    "     \"models\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"type\": \"string\",\n"
    "       \"minLength\": 1,\n"
    "       \"maxLength\": 256\n"
    "      },\n"
    "      \"maxItems\": 1024,\n"
    "      \"description\": \"allow-list: exact names or prefix*; empty = every model\"\n"
    "     },\n"
    "     \"budget\": {\n"
    "      \"$ref\": \"#/components/schemas/BudgetIn\"\n"
    "     },\n"
    "     \"expires_at\": {\n"
    "      \"description\": \"RFC 3339 time or Unix seconds; null = never\",\n"
    "      \"oneOf\": [\n"
    "       {\n"
    "        \"type\": \"string\",\n"
    "        \"format\": \"date-time\"\n"
    "       },\n"
    "       {\n"
    "        \"type\": \"integer\",\n"
    "        \"minimum\": 0\n"
    "       },\n"
    "       {\n"
    "        \"type\": \"null\"\n"
    "       }\n"
    "      ]\n"
    "     },\n"
    "     \"rpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"tpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"metadata\": {\n"
    "      \"type\": \"object\",\n"
    "      \"description\": \"any JSON object, at most 16 KiB\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"KeyPatch\": {\n"
    "    \"type\": \"object\",\n"
    "    \"additionalProperties\": false,\n"
    "    \"properties\": {\n"
    "     \"name\": {\n"
    "      \"type\": \"string\",\n"
    "      \"minLength\": 1,\n"
    "      \"maxLength\": 128\n"
    "     },\n"
    "     \"team\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"a team id; null = none\"\n"
    "     },\n"
    "     \"models\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"type\": \"string\",\n"
    "       \"minLength\": 1,\n"
    "       \"maxLength\": 256\n"
    "      },\n"
    "      \"maxItems\": 1024,\n"
    "      \"description\": \"allow-list: exact names or prefix*; empty = every model\"\n"
    "     },\n"
    "     \"budget\": {\n"
    "      \"$ref\": \"#/components/schemas/BudgetIn\"\n"
    "     },\n"
    "     \"expires_at\": {\n"
    "      \"description\": \"RFC 3339 time or Unix seconds; null = never\",\n"
    "      \"oneOf\": [\n"
    "       {\n"
    "        \"type\": \"string\",\n"
    "        \"format\": \"date-time\"\n"
    "       },\n"
    "       {\n"
    "        \"type\": \"integer\",\n"
    "        \"minimum\": 0\n"
    "       },\n"
    "       {\n"
    "        \"type\": \"null\"\n"
    "       }\n"
    "      ]\n"
    "     },\n"
    "     \"rpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"tpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"metadata\": {\n"
    "      \"type\": \"object\",\n"
    "      \"description\": \"any JSON object, at most 16 KiB\"\n"
    "     },\n"
    "     \"enabled\": {\n"
    "      \"type\": \"boolean\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"TeamCreate\": {\n"
    "    \"type\": \"object\",\n"
    "    \"additionalProperties\": false,\n"
    "    \"required\": [\n"
    "     \"name\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"name\": {\n"
    "      \"type\": \"string\",\n"
    "      \"minLength\": 1,\n"
    "      \"maxLength\": 128\n"
    "     },\n"
    "     \"budget\": {\n"
    "      \"$ref\": \"#/components/schemas/BudgetIn\"\n"
    "     },\n"
    "     \"rpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"tpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"metadata\": {\n"
    "      \"type\": \"object\",\n"
    "      \"description\": \"any JSON object, at most 16 KiB\"\n"
    "     },\n"
    "     \"enabled\": {\n"
    "      \"type\": \"boolean\",\n"
    "      \"default\": true\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"TeamPatch\": {\n"
    "    \"type\": \"object\",\n"
    "    \"additionalProperties\": false,\n"
    "    \"properties\": {\n"
    "     \"name\": {\n"
    "      \"type\": \"string\",\n"
    "      \"minLength\": 1,\n"
    "      \"maxLength\": 128\n"
    "     },\n"
    "     \"budget\": {\n"
    "      \"$ref\": \"#/components/schemas/BudgetIn\"\n"
    "     },\n"
    "     \"rpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"tpm\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 1,\n"
    "      \"maximum\": 4294967295\n"
    "     },\n"
    "     \"metadata\": {\n"
    "      \"type\": \"object\",\n"
    "      \"description\": \"any JSON object, at most 16 KiB\"\n"
    "     },\n"
    "     \"enabled\": {\n"
    "      \"type\": \"boolean\",\n"
    "      \"default\": true\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Rotate\": {\n"
    "    \"type\": \"object\",\n"
    "    \"additionalProperties\": false,\n"
    "    \"properties\": {\n"
    "     \"grace_seconds\": {\n"
    "      \"type\": \"integer\",\n"
    "      \"minimum\": 0,\n"
    "      \"default\": 0,\n"
    "      \"description\": \"how long the old secret keeps working; 0 = it stops at once\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"Price\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"model\",\n"
    "     \"input\",\n"
    "     \"output\",\n"
    "     \"cached_input\",\n"
    "     \"cache_write\",\n"
    "     \"embedding\",\n"
    "     \"source\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"model\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"input\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"USD per 1M tokens; null = not set\"\n"
    "     },\n"
    "     \"output\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"USD per 1M tokens; null = not set\"\n"
    "     },\n"
    "     \"cached_input\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"USD per 1M tokens; null = not set\"\n"
    "     },\n"
    "     \"cache_write\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"USD per 1M tokens; null = not set\"\n"
    "     },\n"
    "     \"embedding\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"USD per 1M tokens; null = not set\"\n"
    "     },\n"
    "     \"source\": {\n"
    "      \"type\": \"string\",\n"
    "      \"enum\": [\n"
    "       \"default\",\n"
    "       \"config\",\n"
    "       \"admin\"\n"
    "      ]\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"PriceList\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"object\",\n"
    "     \"version\",\n"
    "     \"data\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"object\": {\n"
    "      \"const\": \"list\"\n"
    "     },\n"
    "     \"version\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"the price table's version, recorded with every usage row\"\n"
    "     },\n"
    "     \"data\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"$ref\": \"#/components/schemas/Price\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"PriceIn\": {\n"
    "    \"type\": \"object\",\n"
    "    \"additionalProperties\": false,\n"
    "    \"required\": [\n"
    "     \"input\",\n"
    "     \"output\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"input\": {\n"
    "      \"type\": \"number\",\n"
    "      \"minimum\": 0,\n"
    "      \"maximum\": 1000000,\n"
    "      \"description\": \"USD per 1M tokens\"\n"
    "     },\n"
    "     \"output\": {\n"
    "      \"type\": \"number\",\n"
    "      \"minimum\": 0,\n"
    "      \"maximum\": 1000000,\n"
    "      \"description\": \"USD per 1M tokens\"\n"
    "     },\n"
    "     \"cached_input\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 0,\n"
    "      \"maximum\": 1000000,\n"
    "      \"description\": \"USD per 1M tokens; absent or null = billed at input\"\n"
    "     },\n"
    "     \"cache_write\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 0,\n"
    "      \"maximum\": 1000000,\n"
    "      \"description\": \"USD per 1M tokens; absent or null = billed at input\"\n"
    "     },\n"
    "     \"embedding\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"minimum\": 0,\n"
    "      \"maximum\": 1000000,\n"
    "      \"description\": \"USD per 1M tokens; absent or null = billed at input\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"PriceDeleted\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"model\",\n"
    "     \"object\",\n"
    "     \"deleted\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"model\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"object\": {\n"
    "      \"const\": \"price\"\n"
    "     },\n"
    "     \"deleted\": {\n"
    "      \"const\": true\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"UsageRow\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"group\",\n"
    "     \"requests\",\n"
    "     \"prompt_tokens\",\n"
    "     \"completion_tokens\",\n"
    "     \"cached_tokens\",\n"
    "     \"cost_usd\",\n"
    "     \"unpriced_requests\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"group\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"key id, team id, model or YYYY-MM-DD (UTC); null for rows without"
    " one\"\n"
    "     },\n"
    "     \"requests\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"prompt_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"completion_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"cached_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"cost_usd\": {\n"
    "      \"type\": \"number\",\n"
    "      \"description\": \"rows with an unknown price count 0\"\n"
    "     },\n"
    "     \"unpriced_requests\": {\n"
    "      \"type\": \"integer\"\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"UsageList\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"object\",\n"
    "     \"group_by\",\n"
    "     \"data\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"object\": {\n"
    "      \"const\": \"list\"\n"
    "     },\n"
    "     \"group_by\": {\n"
    "      \"type\": \"string\",\n"
    "      \"enum\": [\n"
    "       \"key\",\n"
    "       \"team\",\n"
    "       \"model\",\n"
    "       \"day\"\n"
    "      ]\n"
    "     },\n"
    "     \"data\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"$ref\": \"#/components/schemas/UsageRow\"\n"
    "      }\n"
    "     }\n"
    "    }\n"
    "   },\n"
    "   \"RequestRow\": {\n"
    "    \"type\": \"object\",\n"
    "    \"properties\": {\n"
    "     \"id\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"time\": {\n"
    "      \"type\": \"string\",\n"
    "      \"format\": \"date-time\",\n"
    "      \"description\": \"with milliseconds\"\n"
    "     },\n"
    "     \"request_id\": {\n"
    "      \"type\": \"string\"\n"
    "     },\n"
    "     \"key_id\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"key_name\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"team_id\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"model\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"provider\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"deployment\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"endpoint\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"stream\": {\n"
    "      \"type\": \"boolean\"\n"
    "     },\n"
    "     \"status\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"error\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"prompt_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"completion_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"cached_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"cache_write_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"reasoning_tokens\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"cost_usd\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"null when the model's price is unknown\"\n"
    "     },\n"
    "     \"price_version\": {\n"
    "      \"type\": [\n"
    "       \"string\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"ttfb_ms\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"duration_ms\": {\n"
    "      \"type\": [\n"
    "       \"number\",\n"
    "       \"null\"\n"
    "      ]\n"
    "     },\n"
    "     \"bytes_in\": {\n"
    "      \"type\": \"integer\"\n"
    "     },\n"
    "     \"bytes_out\": {\n"
    "      \"type\": \"integer\"\n"
    "     }\n"
    "    },\n"
    "    \"required\": [\n"
    "     \"id\",\n"
    "     \"time\",\n"
    "     \"request_id\",\n"
    "     \"key_id\",\n"
    "     \"key_name\",\n"
    "     \"team_id\",\n"
    "     \"model\",\n"
    "     \"provider\",\n"
    "     \"deployment\",\n"
    "     \"endpoint\",\n"
    "     \"stream\",\n"
    "     \"status\",\n"
    "     \"error\",\n"
    "     \"prompt_tokens\",\n"
    "     \"completion_tokens\",\n"
    "     \"cached_tokens\",\n"
    "     \"cache_write_tokens\",\n"
    "     \"reasoning_tokens\",\n"
    "     \"cost_usd\",\n"
    "     \"price_version\",\n"
    "     \"ttfb_ms\",\n"
    "     \"duration_ms\",\n"
    "     \"bytes_in\",\n"
    "     \"bytes_out\"\n"
    "    ]\n"
    "   },\n"
    "   \"RequestList\": {\n"
    "    \"type\": \"object\",\n"
    "    \"required\": [\n"
    "     \"object\",\n"
    "     \"data\",\n"
    "     \"has_more\",\n"
    "     \"next_before\"\n"
    "    ],\n"
    "    \"properties\": {\n"
    "     \"object\": {\n"
    "      \"const\": \"list\"\n"
    "     },\n"
    "     \"data\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "       \"$ref\": \"#/components/schemas/RequestRow\"\n"
    "      }\n"
    "     },\n"
    "     \"has_more\": {\n"
    "      \"type\": \"boolean\"\n"
    "     },\n"
    "     \"next_before\": {\n"
    "      \"type\": [\n"
    "       \"integer\",\n"
    "       \"null\"\n"
    "      ],\n"
    "      \"description\": \"pass as before= for the next page\"\n"
    "     }\n"
    "    }\n"
    "   }\n"
    "  }\n"
    " }\n"
    "}\n";
