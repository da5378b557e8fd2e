/*
 * store/store.c — Conduit's queries over store/db.h: loading the accounts
 * for a snapshot, writing usage with the spend it adds, ingest progress, and
 * spend sums.
 *
 * Spend is written the way LiteLLM's deadlocks (issue 10) teach: no UPDATE of
 * key or team rows per request. A batch of usage records becomes, in one
 * transaction, the usage rows plus one upsert per (subject, UTC day) of the
 * batch, taken in sorted order so that two instances inserting at once lock
 * the same spend rows in the same order and cannot deadlock.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "core/accounts.h"
#include "core/budget.h"
#include "core/common.h"
#include "core/json.h"
#include "core/money.h"
#include "core/usage.h"
#include "core/vkey.h"
#include "store/db.h"
#include "store/store.h"

/* ---- loading accounts ---- */

struct load_ctx {
    struct gw_accounts_builder *b;
    struct gw_db_err *err;
    bool failed;
};

static int load_fail(struct load_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records why a row cannot be loaded and stops the rows: the whole load fails, so the
 * snapshot keeps the accounts it had rather than dropping a key or a budget. */
static int load_fail(struct load_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    c->err->unavailable = false;
    c->failed = true;
    return 1; /* stop the rows */
}

static const char *col_str(const struct gw_dbv *v, const char *dflt)
{
    return v->t == GW_DBV_TEXT ? v->s : dflt;
}

static uint32_t col_u32(const struct gw_dbv *v)
{
    int64_t x = gw_dbv_int(v, 0);
    if (x <= 0)
        return 0;
    return x > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

/*
 * budget_limit_pusd, budget_period, budget_hard: a budget is set when the limit
 * is; a NULL period means `total`. An unknown period is an error, not "no
 * budget": reading it as unlimited would let the subject spend without bound.
 */
static bool col_budget(const struct gw_dbv *cols, struct gw_budget *out)
{
    *out = (struct gw_budget){.set = false, .period = GW_PERIOD_TOTAL};
    if (cols[0].t == GW_DBV_NULL)
        return true;
    out->set = true;
    out->limit_pusd = gw_dbv_int(&cols[0], 0);
    out->hard = gw_dbv_int(&cols[2], 0) != 0;
    if (cols[1].t == GW_DBV_NULL)
        return true;
    return cols[1].t == GW_DBV_TEXT &&
           gw_period_parse(gw_span_make(cols[1].s, cols[1].len), &out->period);
}

enum {
    TC_ID,
    TC_NAME,
    TC_ENABLED,
    TC_BUDGET, /* 3 columns: limit, period, hard */
    TC_RPM = TC_BUDGET + 3,
    TC_TPM,
    TC_METADATA,
    TC_COUNT
};

static const char teams_sql[] = "SELECT id, name, enabled, budget_limit_pusd, budget_period,"
                                " budget_hard, rpm, tpm, metadata FROM teams ORDER BY id";

static int team_row(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct load_ctx *c = arg;
    GW_BUG_ON(ncols != TC_COUNT);
    struct gw_team t = {
        .id = col_str(&cols[TC_ID], ""),
        .name = col_str(&cols[TC_NAME], ""),
        .enabled = gw_dbv_int(&cols[TC_ENABLED], 0) != 0,
        .rpm = col_u32(&cols[TC_RPM]),
        .tpm = col_u32(&cols[TC_TPM]),
        .metadata = col_str(&cols[TC_METADATA], "{}"),
        .slot = GW_SLOT_NONE,
    };
    if (!col_budget(&cols[TC_BUDGET], &t.budget))
        return load_fail(c, "team %s: bad budget_period \"%s\"", t.id,
                         col_str(&cols[TC_BUDGET + 1], ""));
    char msg[256];
    if (gw_accounts_add_team(c->b, &t, msg, sizeof(msg)) < 0)
        return load_fail(c, "team %s: %s", t.id, msg);
    return 0;
}

enum {
    KC_ID,
    KC_NAME,
    KC_TEAM,
    KC_DIGEST,
    KC_ENABLED,
    KC_EXPIRES,
    KC_MODELS,
    KC_BUDGET, /* 3 columns */
    KC_RPM = KC_BUDGET + 3,
    KC_TPM,
    KC_METADATA,
    KC_OLD_DIGEST,
    KC_OLD_UNTIL,
    KC_COUNT
};

static const char keys_sql[] =
    "SELECT id, name, team_id, digest, enabled, expires_at, models, budget_limit_pusd,"
    " budget_period, budget_hard, rpm, tpm, metadata, old_digest, old_until"
    " FROM keys WHERE revoked_at IS NULL ORDER BY id";

/* Strings decoded from one key's models array; freed after the key is added (the builder
 * copies them). */
struct models {
    char **v; /* owns: n strings, each owned */
    size_t n;
};

static void models_free(struct models *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

/* Parses a JSON array of strings. false on anything else (the row is then refused). */
static bool models_parse(const char *text, size_t len, struct models *out)
{
    struct gw_json j;
    struct gw_json_tok t;
    out->v = NULL;
    out->n = 0;
    gw_json_init(&j, text, len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_ARR_BEGIN)
        return false;
    for (;;) {
        int rc = gw_json_next(&j, &t);
        if (rc != 1)
            goto fail;
        if (t.type == GW_JT_ARR_END)
            break;
        if (t.type != GW_JT_STRING)
            goto fail;
        char **nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
        if (!nv)
            goto fail;
        out->v = nv;
        char *s = malloc(t.span.len + 1);
        if (!s)
            goto fail;
        long n = gw_json_unescape(t.span, s, t.span.len + 1);
        /* A decoded NUL would cut the name short: such a model name is refused. */
        if (n < 0 || memchr(s, '\0', (size_t)n)) {
            free(s);
            goto fail;
        }
        s[n] = '\0';
        out->v[out->n++] = s;
    }
    if (gw_json_next(&j, &t) != 0) /* exactly one value */
        goto fail;
    return true;
fail:
    models_free(out);
    return false;
}

static int key_row(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct load_ctx *c = arg;
    GW_BUG_ON(ncols != KC_COUNT);
    const char *id = col_str(&cols[KC_ID], "");
    struct gw_vkey k = {
        .id = id,
        .name = col_str(&cols[KC_NAME], ""),
        .enabled = gw_dbv_int(&cols[KC_ENABLED], 0) != 0,
        .is_static = false,
        .expires_at = gw_dbv_int(&cols[KC_EXPIRES], 0),
        .rpm = col_u32(&cols[KC_RPM]),
        .tpm = col_u32(&cols[KC_TPM]),
        .metadata = col_str(&cols[KC_METADATA], "{}"),
        .slot = GW_SLOT_NONE,
    };
    if (!col_budget(&cols[KC_BUDGET], &k.budget))
        return load_fail(c, "key %s: bad budget_period \"%s\"", id,
                         col_str(&cols[KC_BUDGET + 1], ""));

    uint8_t digest[GW_DIGEST_LEN], old[GW_DIGEST_LEN];
    const struct gw_dbv *d = &cols[KC_DIGEST];
    if (d->t != GW_DBV_TEXT || !gw_digest_from_hex(gw_span_make(d->s, d->len), digest))
        return load_fail(c, "key %s: bad digest", id);
    const uint8_t *old_digest = NULL;
    int64_t old_until = gw_dbv_int(&cols[KC_OLD_UNTIL], 0);
    const struct gw_dbv *od = &cols[KC_OLD_DIGEST];
    if (od->t == GW_DBV_TEXT && old_until > 0) {
        if (!gw_digest_from_hex(gw_span_make(od->s, od->len), old))
            return load_fail(c, "key %s: bad old_digest", id);
        old_digest = old;
    }

    struct models m = {0};
    const struct gw_dbv *mv = &cols[KC_MODELS];
    if (mv->t == GW_DBV_TEXT && !models_parse(mv->s, mv->len, &m))
        return load_fail(c, "key %s: models is not a JSON array of strings", id);
    k.models = (const char *const *)m.v;
    k.nmodels = m.n;

    char msg[256];
    int rc = gw_accounts_add_key(c->b, &k, col_str(&cols[KC_TEAM], NULL), digest, old_digest,
                                 old_digest ? old_until : 0, msg, sizeof(msg));
    models_free(&m);
    if (rc < 0)
        return load_fail(c, "key %s: %s", id, msg);
    return 0;
}

enum { PC_MODEL, PC_INPUT, PC_OUTPUT, PC_CACHED, PC_CACHE_WRITE, PC_EMBEDDING, PC_COUNT };

static const char prices_sql[] =
    "SELECT model, input, output, cached_input, cache_write, embedding FROM prices ORDER BY model";

static int price_row(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct load_ctx *c = arg;
    GW_BUG_ON(ncols != PC_COUNT);
    struct gw_price p = {
        .model = col_str(&cols[PC_MODEL], ""),
        .input = gw_dbv_int(&cols[PC_INPUT], 0),
        .output = gw_dbv_int(&cols[PC_OUTPUT], 0),
        .cached_input = gw_dbv_int(&cols[PC_CACHED], -1),
        .cache_write = gw_dbv_int(&cols[PC_CACHE_WRITE], -1),
        .embedding = gw_dbv_int(&cols[PC_EMBEDDING], -1),
        .source = "admin",
    };
    if (gw_accounts_set_price(c->b, &p) < 0)
        return load_fail(c, "price %s: cannot be added", p.model);
    return 0;
}

int gw_store_load_accounts(struct gw_db *db, struct gw_accounts_builder *b, struct gw_db_err *err)
{
    struct gw_db_err local;
    if (!err)
        err = &local;
    struct load_ctx c = {.b = b, .err = err};
    /* Teams first: a key names its team, and the builder resolves it on add. */
    if (gw_db_exec(db, teams_sql, NULL, 0, team_row, &c, err) < 0 || c.failed)
        return -1;
    if (gw_db_exec(db, keys_sql, NULL, 0, key_row, &c, err) < 0 || c.failed)
        return -1;
    if (gw_db_exec(db, prices_sql, NULL, 0, price_row, &c, err) < 0 || c.failed)
        return -1;
    return 0;
}

/* ---- usage and spend ---- */

#define SUBJECT_MAX 64 /* "k:" / "t:" + an id of up to 47 bytes (core/usage.h fields) */

struct spend_add {
    char subject[SUBJECT_MAX];
    int64_t day;
    int64_t cost_pusd;
    int64_t requests;
};

static int spend_cmp(const void *a, const void *b)
{
    const struct spend_add *x = a, *y = b;
    int c = strcmp(x->subject, y->subject);
    if (c)
        return c;
    return (x->day > y->day) - (x->day < y->day);
}

/* Floor division: the UTC day of a time in ms, also before 1970 (as gw_days_from_unix). */
static int64_t day_of_ms(int64_t ms)
{
    int64_t q = ms / 86400000, r = ms % 86400000;
    return r < 0 ? q - 1 : q;
}

static int64_t clamp_u64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Empty strings are stored as NULL (schema v1) for the optional text columns. */
static struct gw_dbv text_or_null(const char *s)
{
    return s[0] ? GW_DBV_STR(s) : GW_DBV_NUL;
}

static const char *const usage_cols[] = {
    "time_ms",
    "request_id",
    "key_id",
    "key_name",
    "team_id",
    "model",
    "provider",
    "deployment",
    "endpoint",
    "stream",
    "status",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_pusd",
    "est_pusd",
    "price_version",
    "ttfb_us",
    "duration_us",
    "bytes_in",
    "bytes_out",
    "boot",
    "worker",
    "seq",
};
#define NUSAGE_COLS GW_ARRAY_SIZE(usage_cols)

static void usage_values(const struct gw_usage_rec *r, struct gw_dbv *v)
{
    size_t i = 0;
    v[i++] = GW_DBV_INT(r->time_ms);
    v[i++] = GW_DBV_STR(r->request_id);
    v[i++] = text_or_null(r->key_id);
    v[i++] = text_or_null(r->key_name);
    v[i++] = text_or_null(r->team_id);
    v[i++] = GW_DBV_STR(r->model);
    v[i++] = text_or_null(r->provider);
    v[i++] = text_or_null(r->deployment);
    v[i++] = GW_DBV_STR(r->endpoint);
    v[i++] = GW_DBV_INT(r->stream ? 1 : 0);
    v[i++] = GW_DBV_INT(r->status);
    v[i++] = text_or_null(r->error);
    v[i++] = GW_DBV_INT(clamp_u64(r->prompt_tokens));
    v[i++] = GW_DBV_INT(clamp_u64(r->completion_tokens));
    v[i++] = GW_DBV_INT(clamp_u64(r->cached_tokens));
    v[i++] = GW_DBV_INT(clamp_u64(r->cache_write_tokens));
    v[i++] = GW_DBV_INT(clamp_u64(r->reasoning_tokens));
    v[i++] = r->have_cost ? GW_DBV_INT(r->cost_pusd) : GW_DBV_NUL;
    v[i++] = GW_DBV_INT(r->est_pusd);
    v[i++] = text_or_null(r->price_version);
    v[i++] = r->ttfb_us >= 0 ? GW_DBV_INT(r->ttfb_us) : GW_DBV_NUL; /* -1: no first byte */
    v[i++] = GW_DBV_INT(r->duration_us);
    v[i++] = GW_DBV_INT(clamp_u64(r->bytes_in));
    v[i++] = GW_DBV_INT(clamp_u64(r->bytes_out));
    v[i++] = GW_DBV_STR(r->boot);
    v[i++] = GW_DBV_INT(r->worker);
    v[i++] = GW_DBV_INT(clamp_u64(r->seq));
    GW_BUG_ON(i != NUSAGE_COLS);
}

/*
 * One entry per (subject, day) of the batch, sorted: the aggregation keeps
 * the upserts to one per spend row, and the order is the lock order.
 * Every record with a key (team) counts as a request of it; unknown-price
 * records add no cost. Returns the number of entries, or -1 on allocation
 * failure (*out then NULL).
 */
static ssize_t spend_aggregate(const struct gw_usage_rec *recs, size_t n, struct spend_add **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    struct spend_add *a = calloc(2 * n, sizeof(*a));
    if (!a)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gw_usage_rec *r = &recs[i];
        const char *ids[2] = {r->key_id, r->team_id};
        const char *pfx[2] = {"k:", "t:"};
        for (size_t j = 0; j < 2; j++) {
            if (!ids[j][0])
                continue;
            struct spend_add *e = &a[k++];
            /* %.*s: the record's fields are NUL-terminated but bounded anyway */
            snprintf(e->subject, sizeof(e->subject), "%s%.*s", pfx[j], SUBJECT_MAX - 3, ids[j]);
            e->day = day_of_ms(r->time_ms);
            e->cost_pusd = r->have_cost && r->cost_pusd > 0 ? r->cost_pusd : 0;
            e->requests = 1;
        }
    }
    qsort(a, k, sizeof(*a), spend_cmp);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m > 0 && spend_cmp(&a[m - 1], &a[i]) == 0) {
            a[m - 1].cost_pusd = gw_pusd_add(a[m - 1].cost_pusd, a[i].cost_pusd);
            a[m - 1].requests++;
        } else {
            a[m++] = a[i];
        }
    }
    *out = a;
    return (ssize_t)m;
}

static const char spend_upsert_sql[] =
    "INSERT INTO spend (subject, day, cost_pusd, requests) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (subject, day) DO UPDATE SET"
    " cost_pusd = spend.cost_pusd + excluded.cost_pusd,"
    " requests = spend.requests + excluded.requests";

static const char progress_upsert_sql[] =
    "INSERT INTO ingest_progress (file, done_bytes, updated_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (file) DO UPDATE SET"
    " done_bytes = excluded.done_bytes, updated_at = excluded.updated_at";

int gw_store_insert_usage(struct gw_db *db, const struct gw_usage_rec *recs, size_t n,
                          const char *file, int64_t offset, struct gw_db_err *err)
{
    struct gw_db_err local;
    if (!err)
        err = &local;
    struct gw_dbv *vals = NULL;
    struct spend_add *adds = NULL;
    bool open = false;
    int ret = -1;

    if (n > 0) {
        vals = calloc(n * NUSAGE_COLS, sizeof(*vals));
        if (!vals) {
            snprintf(err->message, sizeof(err->message), "insert usage: out of memory");
            err->unavailable = false;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            usage_values(&recs[i], vals + i * NUSAGE_COLS);
    }
    ssize_t nadds = spend_aggregate(recs, n, &adds);
    if (nadds < 0) {
        snprintf(err->message, sizeof(err->message), "insert usage: out of memory");
        err->unavailable = false;
        goto out;
    }

    if (gw_db_begin(db, err) < 0)
        goto out;
    open = true;
    if (gw_db_copy(db, "usage", usage_cols, NUSAGE_COLS, vals, n, err) < 0)
        goto out;
    for (ssize_t i = 0; i < nadds; i++) {
        struct gw_dbv p[] = {GW_DBV_STR(adds[i].subject), GW_DBV_INT(adds[i].day),
                             GW_DBV_INT(adds[i].cost_pusd), GW_DBV_INT(adds[i].requests)};
        if (gw_db_exec(db, spend_upsert_sql, p, GW_ARRAY_SIZE(p), NULL, NULL, err) < 0)
            goto out;
    }
    if (file) {
        struct gw_dbv p[] = {GW_DBV_STR(file), GW_DBV_INT(offset), GW_DBV_INT(time(NULL))};
        if (gw_db_exec(db, progress_upsert_sql, p, GW_ARRAY_SIZE(p), NULL, NULL, err) < 0)
            goto out;
    }
    if (gw_db_commit(db, err) < 0)
        goto out;
    open = false;
    ret = 0;
out:
    if (open)
        gw_db_rollback(db);
    free(adds);
    free(vals);
    return ret;
}

static int first_int(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    if (ncols > 0)
        *(int64_t *)arg = gw_dbv_int(&cols[0], 0);
    return 1;
}

int gw_store_progress_get(struct gw_db *db, const char *file, int64_t *offset,
                          struct gw_db_err *err)
{
    *offset = 0;
    struct gw_dbv p[] = {GW_DBV_STR(file)};
    return gw_db_exec(db, "SELECT done_bytes FROM ingest_progress WHERE file = $1", p, 1, first_int,
                      offset, err) < 0
               ? -1
               : 0;
}

int gw_store_progress_delete(struct gw_db *db, const char *file, struct gw_db_err *err)
{
    struct gw_dbv p[] = {GW_DBV_STR(file)};
    return gw_db_exec(db, "DELETE FROM ingest_progress WHERE file = $1", p, 1, NULL, NULL, err) < 0
               ? -1
               : 0;
}

struct since_ctx {
    void (*fn)(void *arg, const char *subject, int64_t pusd);
    void *arg;
};

static int since_row(void *arg, const struct gw_dbv *cols, size_t ncols)
{
    struct since_ctx *c = arg;
    if (ncols == 2 && cols[0].t == GW_DBV_TEXT)
        c->fn(c->arg, cols[0].s, gw_dbv_int(&cols[1], 0));
    return 0;
}

int gw_store_spend_since(struct gw_db *db, int64_t from_day,
                         void (*fn)(void *arg, const char *subject, int64_t pusd), void *arg,
                         struct gw_db_err *err)
{
    struct since_ctx c = {fn, arg};
    struct gw_dbv p[] = {GW_DBV_INT(from_day)};
    return gw_db_exec(db,
                      "SELECT subject, SUM(cost_pusd) FROM spend WHERE day >= $1"
                      " GROUP BY subject ORDER BY subject",
                      p, 1, since_row, &c, err) < 0
               ? -1
               : 0;
}

int gw_store_spend_of(struct gw_db *db, const char *subject, int64_t from_day, int64_t to_day,
                      int64_t *pusd, struct gw_db_err *err)
{
    *pusd = 0;
    struct gw_dbv p[] = {GW_DBV_STR(subject), GW_DBV_INT(from_day), GW_DBV_INT(to_day)};
    return gw_db_exec(db,
                      "SELECT COALESCE(SUM(cost_pusd), 0) FROM spend"
                      " WHERE subject = $1 AND day >= $2 AND day < $3",
                      p, 3, first_int, pusd, err) < 0
               ? -1
               : 0;
}
