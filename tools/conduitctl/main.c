/*
 * tools/conduitctl/main.c — conduitctl, the command line over Conduit's admin
 * API (store/admin.h has the routes and shapes; `conduitctl --help` the
 * commands). Tables for people, --json for scripts (the server's JSON as it
 * came). Exit status: 0 success, 1 the API refused or could not be reached,
 * 2 a usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "core/json.h"
#include "tools/conduitctl/ctl.h"

#define DEFAULT_URL "http://127.0.0.1:8001"
#define EXIT_API 1
#define EXIT_USAGE 2
#define MAX_OPTS 32

static const char usage_text[] =
    "usage: conduitctl [--url URL] [--master-key KEY] [--json] COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "The command line for Conduit's admin API (virtual keys, teams, prices, usage).\n"
    "\n"
    "Global options (anywhere on the line; --opt VALUE or --opt=VALUE):\n"
    "  --url URL          the admin API, http://HOST[:PORT][/PREFIX]\n"
    "                     (default: $CONDUIT_ADMIN_URL, else " DEFAULT_URL ")\n"
    "  --master-key KEY   the admin master key (default: $CONDUIT_MASTER_KEY; required)\n"
    "  --json             print the server's JSON unchanged instead of a table\n"
    "  -h, --help         this text\n"
    "\n"
    "Virtual keys:\n"
    "  keys create --name NAME [--team TEAM_ID] [--models a,b,prefix*] [--budget USD\n"
    "              [--period total|daily|weekly|monthly] [--hard]] [--expires TIME]\n"
    "              [--rpm N] [--tpm N] [--metadata JSON_OBJECT]\n"
    "      Creates a key and prints its secret (condt_...) once: store it then,\n"
    "      Conduit keeps only its SHA-256 digest. --models: exact names or\n"
    "      prefixes ending in '*'; none = every model. --budget: USD per period\n"
    "      (default period monthly, calendar-aligned in UTC; weekly starts on\n"
    "      Monday); --hard also ends a stream that crosses the limit. --expires:\n"
    "      RFC 3339 (2025-12-31T23:59:59Z) or Unix seconds.\n"
    "  keys list [--team TEAM_ID] [--limit N] [--after ID] [--all] [--include-revoked]\n"
    "      Keys ordered by id, N per page (default 100, at most 1000); --all\n"
    "      follows the pages to the end.\n"
    "  keys show ID           the key with its spend in the current budget period\n"
    "  keys revoke ID         revokes at once (the row stays for the usage history)\n"
    "  keys rotate ID [--grace SECONDS]\n"
    "      Issues a new secret (shown once). The old one stops at once, or after\n"
    "      the grace period.\n"
    "  keys reset-spend ID    zeroes the current period's spend (history is kept)\n"
    "  keys update ID [--name NAME] [--enable|--disable] [--team TEAM_ID|--no-team]\n"
    "              [--models LIST] [--budget USD [--period P] [--hard]|--no-budget]\n"
    "              [--expires TIME|--no-expires] [--rpm N] [--tpm N] [--metadata JSON]\n"
    "      Changes only the fields given. --models '' allows every model.\n"
    "\n"
    "Teams (a request must fit both its key's and its team's budget):\n"
    "  teams create --name NAME [--budget USD [--period P] [--hard]] [--rpm N] [--tpm N]\n"
    "               [--metadata JSON] [--disable]\n"
    "  teams list [--limit N] [--after ID] [--all]\n"
    "  teams show ID | teams delete ID | teams reset-spend ID\n"
    "      delete refuses (409) while live keys belong to the team.\n"
    "  teams update ID [--name NAME] [--enable|--disable] [--budget USD [--period P]\n"
    "               [--hard]|--no-budget] [--rpm N] [--tpm N] [--metadata JSON]\n"
    "\n"
    "Prices (USD per 1M tokens; admin overrides win over the config and the shipped table):\n"
    "  prices list\n"
    "  prices set MODEL --input X --output Y [--cached-input Z] [--cache-write W]\n"
    "             [--embedding E]\n"
    "  prices delete MODEL    removes the admin override\n"
    "\n"
    "Usage and the request log:\n"
    "  usage --by key|team|model|day [--from D] [--to D] [--key ID] [--team ID]\n"
    "        [--model M]\n"
    "      Requests, tokens and cost per group; D is YYYY-MM-DD or RFC 3339\n"
    "      (default: the last 30 days). A TOTAL row ends the table.\n"
    "  requests [--key ID] [--model M] [--status N] [--limit N] [--before ID]\n"
    "           [--tail [--interval SECONDS]]\n"
    "      The request log, newest first (default 50 rows). --tail prints the\n"
    "      latest rows oldest first, then polls every SECONDS (default 2) and\n"
    "      prints new rows as they come, until interrupted; with --json, one\n"
    "      JSON object per line.\n"
    "\n"
    "Money is shown as $0.000000. Exit status: 0 success, 1 an API error (its message\n"
    "on stderr) or the API unreachable, 2 a usage error.\n"
    "\n"
    "Examples:\n"
    "  export CONDUIT_MASTER_KEY=...   # as in the config's admin.master_key\n"
    "  conduitctl teams create --name research --budget 500\n"
    "  conduitctl keys create --name notebook --team TEAM_ID --models 'gpt-4o*' \\\n"
    "      --budget 20 --period daily --hard\n"
    "  conduitctl usage --by model --from 2025-01-01\n"
    "  conduitctl requests --tail --key KEY_ID\n";

struct opt {
    const char *name; /* borrowed from argv: not NUL-terminated after nl bytes */
    size_t nl;
    const char *val; /* NULL for a flag */
};

struct ctx {
    struct ctl_url url;
    const char *key;
    bool json;
    const char *pos[4]; /* positional arguments after the command words */
    int npos;
    struct opt opts[MAX_OPTS];
    int nopts;
    size_t arg_bytes; /* total length of argv: bounds every request body we build */
};

struct cmd {
    const char *group;
    const char *sub;         /* NULL: the group is the command */
    int npos;                /* positional arguments it takes (ID, MODEL) */
    const char *const *opts; /* "name=" takes a value, "hard" is a flag; NULL-terminated */
    int (*run)(struct ctx *c);
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("conduitctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nRun 'conduitctl --help' for the commands.\n", stderr);
    return EXIT_USAGE;
}

static bool opt_is(const struct opt *o, const char *name)
{
    return strlen(name) == o->nl && strncmp(o->name, name, o->nl) == 0;
}

/* The value of the last --name given, or NULL. */
static const char *opt_val(const struct ctx *c, const char *name)
{
    for (int i = c->nopts - 1; i >= 0; i--) {
        if (opt_is(&c->opts[i], name))
            return c->opts[i].val;
    }
    return NULL;
}

static bool opt_has(const struct ctx *c, const char *name)
{
    for (int i = 0; i < c->nopts; i++) {
        if (opt_is(&c->opts[i], name))
            return true;
    }
    return false;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ctl_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ---- argument checks ---- */

static bool is_uint(const char *s, uint64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return false;
    *out = strtoull(s, NULL, 10);
    return true;
}

/* A JSON number >= 0 as the user typed it ("12.5", "0.075", "1e3"). */
static bool is_money(const char *s)
{
    return s && *s >= '0' && *s <= '9' && gw_json_validate(s, strlen(s));
}

/* ---- requests ---- */

/* Prints the error object's message (or the raw body) to stderr. */
static void print_api_error(const struct ctx *c, const struct ctl_resp *r)
{
    struct gw_span doc = gw_span_make(r->body, r->len);
    char msg[1024], code[128];
    if (c->json)
        printf("%s\n", r->body);
    if (ctl_get_str(doc, "error.message", msg, sizeof(msg))) {
        if (!ctl_get_str(doc, "error.code", code, sizeof(code)))
            snprintf(code, sizeof(code), "error");
        char param[128];
        if (ctl_get_str(doc, "error.param", param, sizeof(param)))
            fprintf(stderr, "conduitctl: %s (HTTP %d, %s, param %s)\n", msg, r->status, code,
                    param);
        else
            fprintf(stderr, "conduitctl: %s (HTTP %d, %s)\n", msg, r->status, code);
    } else {
        fprintf(stderr, "conduitctl: HTTP %d: %.500s\n", r->status, r->body);
    }
}

/*
 * Calls the API. Returns 0 with *r filled on a 2xx answer; otherwise prints
 * why and returns EXIT_API (*r freed).
 */
static int api(const struct ctx *c, const char *method, const char *path, const char *body,
               size_t len, struct ctl_resp *r)
{
    char err[512];
    if (ctl_http(&c->url, c->key, method, path, body, len, r, err, sizeof(err)) < 0) {
        fprintf(stderr, "conduitctl: %s\n", err);
        return EXIT_API;
    }
    if (r->status < 200 || r->status > 299) {
        print_api_error(c, r);
        ctl_resp_free(r);
        return EXIT_API;
    }
    return 0;
}

static void print_json(const struct ctl_resp *r)
{
    fwrite(r->body, 1, r->len, stdout);
    if (!r->len || r->body[r->len - 1] != '\n')
        putchar('\n');
}

/* ---- request bodies ---- */

struct body {
    char *buf;
    struct gw_jw w;
};

static void body_begin(struct body *b, const struct ctx *c)
{
    size_t cap = 4096 + 6 * c->arg_bytes;
    b->buf = ctl_xmalloc(cap);
    gw_jw_init(&b->w, b->buf, cap);
    gw_jw_obj_begin(&b->w);
}

static void body_end(struct body *b)
{
    gw_jw_obj_end(&b->w);
    GW_BUG_ON(b->w.overflow);
}

static void put_models(struct gw_jw *w, const char *list)
{
    gw_jw_key(w, "models");
    gw_jw_arr_begin(w);
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s)
            gw_jw_str(w, s, (size_t)(e - s));
        p += n + (p[n] == ',');
    }
    gw_jw_arr_end(w);
}

/*
 * The fields keys and teams share, from the options given. for_key adds
 * team/models/expires; update allows the --no-* and --enable forms. Returns
 * 0, or EXIT_USAGE after printing why.
 */
static int put_fields(const struct ctx *c, struct gw_jw *w, bool for_key, bool update)
{
    const char *v;
    if ((v = opt_val(c, "name"))) {
        gw_jw_key(w, "name");
        gw_jw_cstr(w, v);
    }
    if (opt_has(c, "enable") && opt_has(c, "disable"))
        return usage_error("--enable and --disable exclude each other");
    if (opt_has(c, "enable") || opt_has(c, "disable")) {
        gw_jw_key(w, "enabled");
        gw_jw_bool(w, opt_has(c, "enable"));
    }
    if (for_key) {
        if ((v = opt_val(c, "team"))) {
            gw_jw_key(w, "team");
            gw_jw_cstr(w, v);
        } else if (opt_has(c, "no-team")) {
            gw_jw_key(w, "team");
            gw_jw_null(w);
        }
        if ((v = opt_val(c, "models")))
            put_models(w, v);
        if ((v = opt_val(c, "expires"))) {
            uint64_t t;
            gw_jw_key(w, "expires_at");
            if (is_uint(v, &t))
                gw_jw_uint(w, t);
            else
                gw_jw_cstr(w, v);
        } else if (opt_has(c, "no-expires")) {
            gw_jw_key(w, "expires_at");
            gw_jw_null(w);
        }
    }
    const char *budget = opt_val(c, "budget");
    if (budget) {
        if (!is_money(budget))
            return usage_error("--budget wants a number of US dollars >= 0, not '%s'", budget);
        gw_jw_key(w, "budget");
        gw_jw_obj_begin(w);
        gw_jw_key(w, "limit_usd");
        gw_jw_raw(w, budget, strlen(budget));
        if ((v = opt_val(c, "period"))) {
            if (strcmp(v, "total") && strcmp(v, "daily") && strcmp(v, "weekly") &&
                strcmp(v, "monthly"))
                return usage_error("--period is total, daily, weekly or monthly, not '%s'", v);
            gw_jw_key(w, "period");
            gw_jw_cstr(w, v);
        }
        if (opt_has(c, "hard")) {
            gw_jw_key(w, "hard");
            gw_jw_bool(w, true);
        }
        gw_jw_obj_end(w);
    } else if (opt_has(c, "period") || opt_has(c, "hard")) {
        return usage_error("--period and --hard go with --budget");
    } else if (update && opt_has(c, "no-budget")) {
        gw_jw_key(w, "budget");
        gw_jw_null(w);
    }
    static const char *const lims[] = {"rpm", "tpm"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(lims); i++) {
        if (!(v = opt_val(c, lims[i])))
            continue;
        uint64_t n;
        if (!is_uint(v, &n) || n == 0)
            return usage_error("--rpm and --tpm want a positive integer, not '%s'", v);
        gw_jw_key(w, lims[i]);
        gw_jw_uint(w, n);
    }
    if ((v = opt_val(c, "metadata"))) {
        if (*v != '{' || !gw_json_validate(v, strlen(v)))
            return usage_error("--metadata wants a JSON object, not '%s'", v);
        gw_jw_key(w, "metadata");
        gw_jw_raw(w, v, strlen(v));
    }
    return 0;
}

/* ---- printing ---- */

/* Calls fn for each top-level member of the object doc, in document order. */
static void each_member(struct gw_span doc,
                        void (*fn)(void *arg, const char *key, const struct ctl_val *v), void *arg)
{
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, doc.ptr, doc.len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_OBJ_BEGIN)
        return;
    while (gw_json_next(&j, &t) == 1 && t.type == GW_JT_KEY) {
        char key[128];
        long kl = gw_json_unescape(t.span, key, sizeof(key) - 1);
        struct gw_json_tok vt;
        size_t end;
        if (gw_json_next(&j, &vt) != 1 || gw_json_skip(&j, &vt, &end) < 0)
            return;
        if (kl < 0)
            continue;
        key[kl] = 0;
        struct ctl_val v = {.type = vt.type,
                            .raw = vt.span,
                            .text = gw_span_make(doc.ptr + vt.start, end - vt.start)};
        fn(arg, key, &v);
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct vert {
    struct ctl_table t;
    const char *prefix; /* "budget." while flattening a nested object */
};

static void vert_member(void *arg, const char *key, const struct ctl_val *v)
{
    struct vert *vt = arg;
    char name[300];
    snprintf(name, sizeof(name), "%.150s%.128s", vt->prefix, key);
    if (v->type == GW_JT_OBJ_BEGIN && strcmp(key, "metadata") != 0 && !*vt->prefix) {
        char pre[320];
        snprintf(pre, sizeof(pre), "%s.", name);
        struct vert inner = {.t = vt->t, .prefix = pre};
        each_member(v->text, vert_member, &inner);
        vt->t = inner.t;
        return;
    }
    char *row[2];
    size_t nl = strlen(name);
    row[0] = ctl_xmalloc(nl + 2);
    memcpy(row[0], name, nl);
    memcpy(row[0] + nl, ":", 2);
    if (ends_with(key, "_usd") || strcmp(key, "input") == 0 || strcmp(key, "output") == 0 ||
        strcmp(key, "cached_input") == 0 || strcmp(key, "cache_write") == 0 ||
        strcmp(key, "embedding") == 0)
        row[1] = ctl_money_text(v, true);
    else if (strcmp(key, "models") == 0 && v->text.len == 2)
        row[1] = xstrdup("(all models)");
    else
        row[1] = ctl_val_text(v);
    ctl_table_add(&vt->t, row);
}

/* Prints an object as "field:  value" lines, nested objects flattened one level. */
static void print_vertical(struct gw_span doc)
{
    static const char *const heads[] = {"FIELD", "VALUE"};
    struct vert vt = {.prefix = ""};
    ctl_table_init(&vt.t, heads, 2);
    each_member(doc, vert_member, &vt);
    ctl_table_print(&vt.t, stdout, false);
    ctl_table_free(&vt.t);
}

enum col_kind { COL_TEXT, COL_MONEY, COL_BUDGET, COL_MODELS, COL_KEY };

struct col {
    const char *head;
    const char *path;
    enum col_kind kind;
};

static char *cell(struct gw_span obj, const struct col *col)
{
    struct ctl_val v;
    bool found = ctl_get(obj, col->path, &v);
    switch (col->kind) {
    case COL_MONEY:
        return ctl_money_text(&v, found);
    case COL_BUDGET: {
        if (!found || v.type != GW_JT_OBJ_BEGIN)
            return xstrdup("-");
        struct ctl_val lim;
        char *money = ctl_money_text(&lim, ctl_get(v.text, "limit_usd", &lim));
        char period[32] = "";
        ctl_get_str(v.text, "period", period, sizeof(period));
        struct ctl_val hard;
        bool is_hard = ctl_get(v.text, "hard", &hard) && hard.type == GW_JT_TRUE;
        struct ctl_buf b = {0};
        ctl_buf_printf(&b, "%s/%s%s", money, period, is_hard ? " hard" : "");
        free(money);
        return b.p;
    }
    case COL_MODELS:
        if (found && v.type == GW_JT_ARR_BEGIN && v.text.len == 2)
            return xstrdup("*");
        return found ? ctl_val_text(&v) : xstrdup("-");
    case COL_KEY: {
        char name[256];
        if (ctl_get_str(obj, "key_name", name, sizeof(name)))
            return xstrdup(name);
        return found ? ctl_val_text(&v) : xstrdup("-");
    }
    case COL_TEXT:
    default:
        return found ? ctl_val_text(&v) : xstrdup("-");
    }
}

struct rows {
    struct ctl_table t;
    const struct col *cols;
    size_t ncols;
    struct ctl_buf raw; /* --json --all: the elements' text, comma-separated */
    size_t count;
    char last_id[256];
};

static int add_row(void *arg, struct gw_span elem)
{
    struct rows *rs = arg;
    char **row = ctl_xmalloc(rs->ncols * sizeof(*row));
    for (size_t i = 0; i < rs->ncols; i++) {
        row[i] = cell(elem, &rs->cols[i]);
        if (!row[i])
            exit(1);
    }
    ctl_table_add(&rs->t, row);
    free(row);
    if (rs->count++)
        ctl_buf_puts(&rs->raw, ",");
    ctl_buf_put(&rs->raw, elem.ptr, elem.len);
    if (!ctl_get_str(elem, "id", rs->last_id, sizeof(rs->last_id))) {
        int64_t id;
        if (ctl_get_i64(elem, "id", &id))
            snprintf(rs->last_id, sizeof(rs->last_id), "%lld", (long long)id);
    }
    return 0;
}

static void rows_init(struct rows *rs, const struct col *cols, size_t n, const char **heads)
{
    memset(rs, 0, sizeof(*rs));
    for (size_t i = 0; i < n; i++)
        heads[i] = cols[i].head;
    ctl_table_init(&rs->t, heads, n);
    rs->cols = cols;
    rs->ncols = n;
}

static void rows_free(struct rows *rs)
{
    ctl_table_free(&rs->t);
    ctl_buf_free(&rs->raw);
}

/* Adds the rows of a list response's "data"; returns 0 or EXIT_API on a malformed answer. */
static int take_page(struct rows *rs, const struct ctl_resp *r)
{
    struct ctl_val data;
    if (!ctl_get(gw_span_make(r->body, r->len), "data", &data) ||
        ctl_each(data.text, add_row, rs) < 0) {
        fprintf(stderr, "conduitctl: the answer has no \"data\" list: %.300s\n", r->body);
        return EXIT_API;
    }
    return 0;
}

static bool has_more(const struct ctl_resp *r)
{
    struct ctl_val v;
    return ctl_get(gw_span_make(r->body, r->len), "has_more", &v) && v.type == GW_JT_TRUE;
}

/*
 * GET base (which already has "?"), following "after" pagination when all;
 * prints the table, or the JSON (one page as it came; with --all the pages'
 * data merged into one list).
 */
static int list_pages(struct ctx *c, const char *base, bool all, const struct col *cols,
                      size_t ncols)
{
    const char *heads[16];
    GW_BUG_ON(ncols > GW_ARRAY_SIZE(heads));
    struct rows rs;
    rows_init(&rs, cols, ncols, heads);
    int ret = 0;
    bool more = false;
    const char *after = opt_val(c, "after");
    char after_buf[256] = "";
    if (after)
        snprintf(after_buf, sizeof(after_buf), "%s", after);
    for (;;) {
        struct ctl_buf path = {0};
        ctl_buf_puts(&path, base);
        if (after_buf[0]) {
            ctl_buf_puts(&path, "&after=");
            ctl_buf_pct(&path, after_buf);
        }
        struct ctl_resp r;
        ret = api(c, "GET", path.p, NULL, 0, &r);
        ctl_buf_free(&path);
        if (ret)
            goto out;
        if (c->json && !all) {
            print_json(&r);
            ctl_resp_free(&r);
            goto out;
        }
        size_t before = rs.count;
        ret = take_page(&rs, &r);
        more = has_more(&r);
        ctl_resp_free(&r);
        if (ret)
            goto out;
        if (!all || !more || rs.count == before)
            break;
        snprintf(after_buf, sizeof(after_buf), "%s", rs.last_id);
    }
    if (c->json) {
        printf("{\"object\":\"list\",\"data\":[%s],\"has_more\":false}\n",
               rs.raw.p ? rs.raw.p : "");
    } else if (rs.count == 0) {
        puts("(none)");
    } else {
        ctl_table_print(&rs.t, stdout, true);
        if (more)
            fprintf(stderr, "(more: --after %s, or --all)\n", rs.last_id);
    }
out:
    rows_free(&rs);
    return ret;
}

/* ---- commands ---- */

static const char *kind_path(bool team)
{
    return team ? "/admin/v1/teams" : "/admin/v1/keys";
}

static char *id_path(bool team, const char *id, const char *suffix)
{
    struct ctl_buf b = {0};
    ctl_buf_puts(&b, kind_path(team));
    ctl_buf_puts(&b, "/");
    ctl_buf_pct(&b, id);
    ctl_buf_puts(&b, suffix);
    return b.p;
}

static void print_secret(const struct ctl_resp *r, const char *what)
{
    struct gw_span doc = gw_span_make(r->body, r->len);
    char secret[256] = "", id[256] = "?", name[256] = "";
    ctl_get_str(doc, "key", secret, sizeof(secret));
    ctl_get_str(doc, "id", id, sizeof(id));
    ctl_get_str(doc, "name", name, sizeof(name));
    printf("%s %s (%s). Its secret:\n\n    %s\n\n", what, id, name, secret);
    printf("This secret is shown once: store it now. Conduit keeps only its SHA-256 digest.\n\n");
}

static int run_create(struct ctx *c, bool team)
{
    if (!opt_val(c, "name"))
        return usage_error("--name is required");
    struct body b;
    body_begin(&b, c);
    int ret = put_fields(c, &b.w, !team, false);
    if (ret)
        goto out;
    body_end(&b);
    struct ctl_resp r;
    ret = api(c, "POST", kind_path(team), b.buf, b.w.len, &r);
    if (ret)
        goto out;
    if (c->json) {
        print_json(&r);
    } else {
        if (!team)
            print_secret(&r, "Created key");
        else
            puts("Created team:");
        print_vertical(gw_span_make(r.body, r.len));
    }
    ctl_resp_free(&r);
out:
    free(b.buf);
    return ret;
}

static int run_update(struct ctx *c, bool team)
{
    struct body b;
    body_begin(&b, c);
    int ret = put_fields(c, &b.w, !team, true);
    if (ret)
        goto out;
    body_end(&b);
    if (b.w.len <= 2) {
        ret = usage_error("nothing to update: give at least one field option");
        goto out;
    }
    char *path = id_path(team, c->pos[0], "");
    struct ctl_resp r;
    ret = api(c, "PATCH", path, b.buf, b.w.len, &r);
    free(path);
    if (ret)
        goto out;
    if (c->json)
        print_json(&r);
    else
        print_vertical(gw_span_make(r.body, r.len));
    ctl_resp_free(&r);
out:
    free(b.buf);
    return ret;
}

/* GET/DELETE/POST on /{kind}/{id}{suffix} with no body, printing the object; note before it. */
static int run_simple(struct ctx *c, bool team, const char *method, const char *suffix,
                      const char *note)
{
    char *path = id_path(team, c->pos[0], suffix);
    struct ctl_resp r;
    int ret = api(c, method, path, strcmp(method, "POST") == 0 ? "{}" : NULL,
                  strcmp(method, "POST") == 0 ? 2 : 0, &r);
    free(path);
    if (ret)
        return ret;
    if (c->json) {
        print_json(&r);
    } else {
        if (note)
            printf("%s %s %s.\n", team ? "Team" : "Key", c->pos[0], note);
        if (strcmp(method, "DELETE") != 0)
            print_vertical(gw_span_make(r.body, r.len));
    }
    ctl_resp_free(&r);
    return 0;
}

static const struct col key_cols[] = {
    {"ID", "id", COL_TEXT},
    {"NAME", "name", COL_TEXT},
    {"TEAM", "team", COL_TEXT},
    {"ENABLED", "enabled", COL_TEXT},
    {"MODELS", "models", COL_MODELS},
    {"BUDGET", "budget", COL_BUDGET},
    {"HINT", "key_hint", COL_TEXT},
    {"EXPIRES", "expires_at", COL_TEXT},
    {"CREATED", "created_at", COL_TEXT},
};

static const struct col team_cols[] = {
    {"ID", "id", COL_TEXT},
    {"NAME", "name", COL_TEXT},
    {"ENABLED", "enabled", COL_TEXT},
    {"BUDGET", "budget", COL_BUDGET},
    {"RPM", "rpm", COL_TEXT},
    {"TPM", "tpm", COL_TEXT},
    {"CREATED", "created_at", COL_TEXT},
};

static int run_list(struct ctx *c, bool team)
{
    struct ctl_buf base = {0};
    ctl_buf_puts(&base, kind_path(team));
    ctl_buf_puts(&base, "?limit=");
    const char *v = opt_val(c, "limit");
    uint64_t n = 100;
    if (v && (!is_uint(v, &n) || n < 1 || n > 1000)) {
        ctl_buf_free(&base);
        return usage_error("--limit is 1..1000, not '%s'", v);
    }
    ctl_buf_printf(&base, "%llu", (unsigned long long)n);
    if ((v = opt_val(c, "team"))) {
        ctl_buf_puts(&base, "&team=");
        ctl_buf_pct(&base, v);
    }
    if (opt_has(c, "include-revoked"))
        ctl_buf_puts(&base, "&include_revoked=true");
    int ret = team ? list_pages(c, base.p, opt_has(c, "all"), team_cols, GW_ARRAY_SIZE(team_cols))
                   : list_pages(c, base.p, opt_has(c, "all"), key_cols, GW_ARRAY_SIZE(key_cols));
    ctl_buf_free(&base);
    return ret;
}

static int keys_create(struct ctx *c)
{
    return run_create(c, false);
}
static int keys_list(struct ctx *c)
{
    return run_list(c, false);
}
static int keys_show(struct ctx *c)
{
    return run_simple(c, false, "GET", "", NULL);
}
static int keys_revoke(struct ctx *c)
{
    return run_simple(c, false, "DELETE", "", "revoked");
}
static int keys_reset(struct ctx *c)
{
    return run_simple(c, false, "POST", "/reset-spend", "spend reset for the current period");
}
static int keys_update(struct ctx *c)
{
    return run_update(c, false);
}
static int teams_create(struct ctx *c)
{
    return run_create(c, true);
}
static int teams_list(struct ctx *c)
{
    return run_list(c, true);
}
static int teams_show(struct ctx *c)
{
    return run_simple(c, true, "GET", "", NULL);
}
static int teams_delete(struct ctx *c)
{
    return run_simple(c, true, "DELETE", "", "deleted");
}
static int teams_reset(struct ctx *c)
{
    return run_simple(c, true, "POST", "/reset-spend", "spend reset for the current period");
}
static int teams_update(struct ctx *c)
{
    return run_update(c, true);
}

static int keys_rotate(struct ctx *c)
{
    const char *g = opt_val(c, "grace");
    uint64_t grace = 0;
    if (g && !is_uint(g, &grace))
        return usage_error("--grace wants seconds (an integer >= 0), not '%s'", g);
    char body[64];
    int bl = snprintf(body, sizeof(body), "{\"grace_seconds\":%llu}", (unsigned long long)grace);
    char *path = id_path(false, c->pos[0], "/rotate");
    struct ctl_resp r;
    int ret = api(c, "POST", path, body, (size_t)bl, &r);
    free(path);
    if (ret)
        return ret;
    if (c->json) {
        print_json(&r);
    } else {
        print_secret(&r, "Rotated key");
        if (grace)
            printf("The old secret keeps working for %llu more seconds.\n\n",
                   (unsigned long long)grace);
        else
            printf("The old secret has stopped working.\n\n");
        print_vertical(gw_span_make(r.body, r.len));
    }
    ctl_resp_free(&r);
    return 0;
}

static const struct col price_cols[] = {
    {"MODEL", "model", COL_TEXT},
    {"INPUT", "input", COL_MONEY},
    {"OUTPUT", "output", COL_MONEY},
    {"CACHED_INPUT", "cached_input", COL_MONEY},
    {"CACHE_WRITE", "cache_write", COL_MONEY},
    {"EMBEDDING", "embedding", COL_MONEY},
    {"SOURCE", "source", COL_TEXT},
};

static int prices_list(struct ctx *c)
{
    struct ctl_resp r;
    int ret = api(c, "GET", "/admin/v1/prices", NULL, 0, &r);
    if (ret)
        return ret;
    if (c->json) {
        print_json(&r);
        ctl_resp_free(&r);
        return 0;
    }
    const char *heads[GW_ARRAY_SIZE(price_cols)];
    struct rows rs;
    rows_init(&rs, price_cols, GW_ARRAY_SIZE(price_cols), heads);
    ret = take_page(&rs, &r);
    if (!ret) {
        struct ctl_val ver;
        char *version = ctl_get(gw_span_make(r.body, r.len), "version", &ver) ? ctl_val_text(&ver)
                                                                              : xstrdup("-");
        printf("USD per 1M tokens; price version %s\n\n", version);
        free(version);
        ctl_table_print(&rs.t, stdout, true);
    }
    rows_free(&rs);
    ctl_resp_free(&r);
    return ret;
}

static int prices_set(struct ctx *c)
{
    static const char *const fields[][2] = {
        {"input", "input"},
        {"output", "output"},
        {"cached-input", "cached_input"},
        {"cache-write", "cache_write"},
        {"embedding", "embedding"},
    };
    if (!opt_val(c, "input") || !opt_val(c, "output"))
        return usage_error("prices set needs --input and --output");
    struct body b;
    body_begin(&b, c);
    int ret = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(fields); i++) {
        const char *v = opt_val(c, fields[i][0]);
        if (!v)
            continue;
        if (!is_money(v)) {
            ret = usage_error("prices are numbers of US dollars >= 0, not '%s'", v);
            goto out;
        }
        gw_jw_key(&b.w, fields[i][1]);
        gw_jw_raw(&b.w, v, strlen(v));
    }
    body_end(&b);
    struct ctl_buf path = {0};
    ctl_buf_puts(&path, "/admin/v1/prices/");
    ctl_buf_pct(&path, c->pos[0]);
    struct ctl_resp r;
    ret = api(c, "PUT", path.p, b.buf, b.w.len, &r);
    ctl_buf_free(&path);
    if (ret)
        goto out;
    if (c->json) {
        print_json(&r);
    } else {
        printf("Price of %s set (USD per 1M tokens):\n", c->pos[0]);
        print_vertical(gw_span_make(r.body, r.len));
    }
    ctl_resp_free(&r);
out:
    free(b.buf);
    return ret;
}

static int prices_delete(struct ctx *c)
{
    struct ctl_buf path = {0};
    ctl_buf_puts(&path, "/admin/v1/prices/");
    ctl_buf_pct(&path, c->pos[0]);
    struct ctl_resp r;
    int ret = api(c, "DELETE", path.p, NULL, 0, &r);
    ctl_buf_free(&path);
    if (ret)
        return ret;
    if (c->json)
        print_json(&r);
    else
        printf("Admin price override of %s removed.\n", c->pos[0]);
    ctl_resp_free(&r);
    return 0;
}

/* Appends &name=value (percent-encoded) for each option given. */
static void put_query(const struct ctx *c, struct ctl_buf *b, const char *const (*map)[2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = opt_val(c, map[i][0]);
        if (!v)
            continue;
        ctl_buf_printf(b, "&%s=", map[i][1]);
        ctl_buf_pct(b, v);
    }
}

static const struct col usage_cols[] = {
    {"GROUP", "group", COL_TEXT},
    {"REQUESTS", "requests", COL_TEXT},
    {"PROMPT_TOKENS", "prompt_tokens", COL_TEXT},
    {"COMPLETION_TOKENS", "completion_tokens", COL_TEXT},
    {"CACHED_TOKENS", "cached_tokens", COL_TEXT},
    {"COST", "cost_usd", COL_MONEY},
    {"UNPRICED", "unpriced_requests", COL_TEXT},
};

struct usage_sum {
    uint64_t n[5]; /* requests, prompt, completion, cached, unpriced */
    double cost;
};

static int sum_row(void *arg, struct gw_span elem)
{
    static const char *const fields[] = {"requests", "prompt_tokens", "completion_tokens",
                                         "cached_tokens", "unpriced_requests"};
    struct usage_sum *s = arg;
    for (size_t i = 0; i < GW_ARRAY_SIZE(fields); i++) {
        int64_t v;
        if (ctl_get_i64(elem, fields[i], &v))
            s->n[i] += (uint64_t)v;
    }
    struct ctl_val v;
    if (ctl_get(elem, "cost_usd", &v) && v.type == GW_JT_NUMBER) {
        char num[64];
        size_t n = GW_MIN(v.raw.len, sizeof(num) - 1);
        memcpy(num, v.raw.ptr, n);
        num[n] = 0;
        s->cost += strtod(num, NULL);
    }
    return 0;
}

static int run_usage(struct ctx *c)
{
    static const char *const q[][2] = {
        {"from", "from"}, {"to", "to"}, {"key", "key"}, {"team", "team"}, {"model", "model"},
    };
    const char *by = opt_val(c, "by");
    if (!by ||
        (strcmp(by, "key") && strcmp(by, "team") && strcmp(by, "model") && strcmp(by, "day")))
        return usage_error("usage needs --by key, team, model or day");
    struct ctl_buf path = {0};
    ctl_buf_puts(&path, "/admin/v1/usage?group_by=");
    ctl_buf_puts(&path, by);
    put_query(c, &path, q, GW_ARRAY_SIZE(q));
    struct ctl_resp r;
    int ret = api(c, "GET", path.p, NULL, 0, &r);
    ctl_buf_free(&path);
    if (ret)
        return ret;
    if (c->json) {
        print_json(&r);
        ctl_resp_free(&r);
        return 0;
    }
    const char *heads[GW_ARRAY_SIZE(usage_cols)];
    struct rows rs;
    rows_init(&rs, usage_cols, GW_ARRAY_SIZE(usage_cols), heads);
    ret = take_page(&rs, &r);
    if (!ret && rs.count == 0)
        puts("(no usage in the range)");
    if (!ret && rs.count) {
        /* The TOTAL row, from the answer's numbers (not the rounded cells). */
        struct usage_sum sum = {0};
        struct ctl_val data;
        ctl_get(gw_span_make(r.body, r.len), "data", &data);
        ctl_each(data.text, sum_row, &sum);
        uint64_t *sums = sum.n;
        double cost = sum.cost;
        char *tot[GW_ARRAY_SIZE(usage_cols)];
        tot[0] = xstrdup("TOTAL");
        for (size_t k = 0; k < 4; k++) {
            struct ctl_buf b = {0};
            ctl_buf_printf(&b, "%llu", (unsigned long long)sums[k]);
            tot[1 + k] = b.p;
        }
        struct ctl_buf cb = {0}, ub = {0};
        ctl_buf_printf(&cb, "$%.6f", cost);
        ctl_buf_printf(&ub, "%llu", (unsigned long long)sums[4]);
        tot[5] = cb.p;
        tot[6] = ub.p;
        ctl_table_add(&rs.t, tot);
        ctl_table_print(&rs.t, stdout, true);
    }
    rows_free(&rs);
    ctl_resp_free(&r);
    return ret;
}

static const struct col req_cols[] = {
    {"ID", "id", COL_TEXT},
    {"TIME", "time", COL_TEXT},
    {"KEY", "key_id", COL_KEY},
    {"MODEL", "model", COL_TEXT},
    {"STATUS", "status", COL_TEXT},
    {"PROMPT", "prompt_tokens", COL_TEXT},
    {"COMPLETION", "completion_tokens", COL_TEXT},
    {"CACHED", "cached_tokens", COL_TEXT},
    {"COST", "cost_usd", COL_MONEY},
    {"TTFB_MS", "ttfb_ms", COL_TEXT},
    {"DURATION_MS", "duration_ms", COL_TEXT},
};
/* Column widths while tailing (rows come in batches; the columns must not move). */
static const size_t tail_widths[GW_ARRAY_SIZE(req_cols)] = {8, 24, 20, 24, 6, 8, 10, 8, 11, 8, 11};

static void print_fixed(const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n)
            printf("%-*s ", (int)tail_widths[i], cells[i]);
        else
            printf("%s\n", cells[i]);
    }
}

/* The query for /admin/v1/requests from the filter options, limit and before. */
static char *requests_path(const struct ctx *c, uint64_t limit, const char *before)
{
    static const char *const q[][2] = {{"key", "key"}, {"model", "model"}, {"status", "status"}};
    struct ctl_buf b = {0};
    ctl_buf_printf(&b, "/admin/v1/requests?limit=%llu", (unsigned long long)limit);
    put_query(c, &b, q, GW_ARRAY_SIZE(q));
    if (before && *before) {
        ctl_buf_puts(&b, "&before=");
        ctl_buf_pct(&b, before);
    }
    return b.p;
}

struct tail_batch {
    struct gw_span *rows; /* borrowed: into the page bodies tail_once keeps */
    int64_t *ids;
    size_t n, cap;
    int64_t after; /* only rows with id > after */
    bool reached;  /* a row with id <= after was seen: no need for older pages */
};

static int tail_take(void *arg, struct gw_span elem)
{
    struct tail_batch *tb = arg;
    int64_t id;
    if (!ctl_get_i64(elem, "id", &id))
        return 0;
    if (id <= tb->after) {
        tb->reached = true;
        return 1;
    }
    if (tb->n == tb->cap) {
        tb->cap = tb->cap ? tb->cap * 2 : 128;
        tb->rows = realloc(tb->rows, tb->cap * sizeof(*tb->rows));
        tb->ids = realloc(tb->ids, tb->cap * sizeof(*tb->ids));
        if (!tb->rows || !tb->ids)
            exit(1);
    }
    tb->rows[tb->n] = elem;
    tb->ids[tb->n] = id;
    tb->n++;
    return 0;
}

static void print_req_row(const struct ctx *c, struct gw_span elem)
{
    if (c->json) {
        printf("%.*s\n", (int)elem.len, elem.ptr);
        return;
    }
    char *cells[GW_ARRAY_SIZE(req_cols)];
    for (size_t i = 0; i < GW_ARRAY_SIZE(req_cols); i++)
        cells[i] = cell(elem, &req_cols[i]);
    print_fixed((const char *const *)cells, GW_ARRAY_SIZE(req_cols));
    for (size_t i = 0; i < GW_ARRAY_SIZE(req_cols); i++)
        free(cells[i]);
}

/*
 * One poll: fetches the rows newer than *last (newest first, following
 * "before" pages until it reaches *last; at most max_pages), prints them
 * oldest first and moves *last. first: only one page of `limit` rows.
 */
static int tail_once(const struct ctx *c, int64_t *last, uint64_t limit, bool first)
{
    struct tail_batch tb = {.after = *last};
    struct ctl_resp pages[20];
    size_t np = 0;
    char before[64] = "";
    int ret = 0;
    while (np < GW_ARRAY_SIZE(pages)) {
        char *path = requests_path(c, limit, before);
        ret = api(c, "GET", path, NULL, 0, &pages[np]);
        free(path);
        if (ret)
            break;
        struct ctl_resp *r = &pages[np++];
        struct ctl_val data;
        if (!ctl_get(gw_span_make(r->body, r->len), "data", &data) ||
            ctl_each(data.text, tail_take, &tb) < 0) {
            fprintf(stderr, "conduitctl: the answer has no \"data\" list\n");
            ret = EXIT_API;
            break;
        }
        int64_t nb;
        if (first || tb.reached || !has_more(r) ||
            !ctl_get_i64(gw_span_make(r->body, r->len), "next_before", &nb))
            break;
        snprintf(before, sizeof(before), "%lld", (long long)nb);
    }
    for (size_t i = tb.n; i-- > 0;) {
        print_req_row(c, tb.rows[i]);
        if (tb.ids[i] > *last)
            *last = tb.ids[i];
    }
    fflush(stdout);
    for (size_t i = 0; i < np; i++)
        ctl_resp_free(&pages[i]);
    free(tb.rows);
    free(tb.ids);
    return ret;
}

static int run_requests(struct ctx *c)
{
    const char *v;
    uint64_t limit = 50, interval = 2, n;
    if ((v = opt_val(c, "limit"))) {
        if (!is_uint(v, &limit) || limit < 1 || limit > 1000)
            return usage_error("--limit is 1..1000, not '%s'", v);
    }
    if ((v = opt_val(c, "status")) && !is_uint(v, &n))
        return usage_error("--status wants an HTTP status, not '%s'", v);
    if ((v = opt_val(c, "interval")) && (!is_uint(v, &interval) || interval < 1))
        return usage_error("--interval wants whole seconds >= 1, not '%s'", v);
    if (opt_has(c, "interval") && !opt_has(c, "tail"))
        return usage_error("--interval goes with --tail");

    if (!opt_has(c, "tail")) {
        char *path = requests_path(c, limit, opt_val(c, "before"));
        struct ctl_resp r;
        int ret = api(c, "GET", path, NULL, 0, &r);
        free(path);
        if (ret)
            return ret;
        if (c->json) {
            print_json(&r);
            ctl_resp_free(&r);
            return 0;
        }
        const char *heads[GW_ARRAY_SIZE(req_cols)];
        struct rows rs;
        rows_init(&rs, req_cols, GW_ARRAY_SIZE(req_cols), heads);
        ret = take_page(&rs, &r);
        if (!ret && rs.count == 0)
            puts("(no requests)");
        else if (!ret)
            ctl_table_print(&rs.t, stdout, true);
        if (!ret && has_more(&r)) {
            int64_t nb;
            if (ctl_get_i64(gw_span_make(r.body, r.len), "next_before", &nb))
                fprintf(stderr, "(more: --before %lld)\n", (long long)nb);
        }
        rows_free(&rs);
        ctl_resp_free(&r);
        return ret;
    }

    if (!c->json) {
        const char *heads[GW_ARRAY_SIZE(req_cols)];
        for (size_t i = 0; i < GW_ARRAY_SIZE(req_cols); i++)
            heads[i] = req_cols[i].head;
        print_fixed(heads, GW_ARRAY_SIZE(req_cols));
    }
    int64_t last = -1;
    bool first = true;
    for (;;) {
        int ret = tail_once(c, &last, first ? GW_MIN(limit, (uint64_t)20) : 100, first);
        if (ret && first)
            return ret; /* wrong key or URL: say so and stop */
        if (ret == 0)
            first = false;
        /* Later failures (the gateway restarting) were printed; keep polling. */
        struct timespec ts = {(time_t)interval, 0};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct cmd cmds[] = {
    {"keys", "create", 0,
     OPTS("name=", "team=", "models=", "budget=", "period=", "hard",
          "expires=", "rpm=", "tpm=", "metadata="),
     keys_create},
    {"keys", "list", 0, OPTS("team=", "limit=", "after=", "all", "include-revoked"), keys_list},
    {"keys", "show", 1, OPTS(NULL), keys_show},
    {"keys", "revoke", 1, OPTS(NULL), keys_revoke},
    {"keys", "rotate", 1, OPTS("grace="), keys_rotate},
    {"keys", "reset-spend", 1, OPTS(NULL), keys_reset},
    {"keys", "update", 1,
     OPTS("name=", "enable", "disable", "team=", "no-team", "models=", "budget=", "period=", "hard",
          "no-budget", "expires=", "no-expires", "rpm=", "tpm=", "metadata="),
     keys_update},
    {"teams", "create", 0,
     OPTS("name=", "budget=", "period=", "hard", "rpm=", "tpm=", "metadata=", "disable"),
     teams_create},
    {"teams", "list", 0, OPTS("limit=", "after=", "all"), teams_list},
    {"teams", "show", 1, OPTS(NULL), teams_show},
    {"teams", "delete", 1, OPTS(NULL), teams_delete},
    {"teams", "reset-spend", 1, OPTS(NULL), teams_reset},
    {"teams", "update", 1,
     OPTS("name=", "enable", "disable", "budget=", "period=", "hard", "no-budget",
          "rpm=", "tpm=", "metadata="),
     teams_update},
    {"prices", "list", 0, OPTS(NULL), prices_list},
    {"prices", "set", 1, OPTS("input=", "output=", "cached-input=", "cache-write=", "embedding="),
     prices_set},
    {"prices", "delete", 1, OPTS(NULL), prices_delete},
    {"usage", NULL, 0, OPTS("by=", "from=", "to=", "key=", "team=", "model="), run_usage},
    {"requests", NULL, 0,
     OPTS("key=", "model=", "status=", "limit=", "before=", "tail", "interval="), run_requests},
};

/* The spec of option name for cmd: 1 takes a value, 0 a flag, -1 unknown. */
static int opt_kind(const struct cmd *cmd, const char *name, size_t nl)
{
    for (const char *const *o = cmd->opts; *o; o++) {
        size_t ol = strcspn(*o, "=");
        if (ol == nl && strncmp(*o, name, nl) == 0)
            return (*o)[ol] == '=';
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct ctx c = {0};
    const char *url = getenv("CONDUIT_ADMIN_URL");
    const char *words[4];
    int nwords = 0;
    const struct cmd *cmd = NULL;
    bool help = false;

    if (!url || !*url)
        url = DEFAULT_URL;
    c.key = getenv("CONDUIT_MASTER_KEY");
    for (int i = 1; i < argc; i++)
        c.arg_bytes += strlen(argv[i]) + 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0) {
            help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (a[0] == '-' && a[1] && strcmp(a, "--") != 0)
                return usage_error("unknown option '%s'", a);
            if (!cmd) {
                if (nwords == (int)GW_ARRAY_SIZE(words))
                    return usage_error("unexpected argument '%s'", a);
                words[nwords++] = a;
                for (size_t k = 0; k < GW_ARRAY_SIZE(cmds); k++) {
                    const struct cmd *m = &cmds[k];
                    if (strcmp(words[0], m->group) == 0 &&
                        (m->sub ? nwords == 2 && strcmp(words[1], m->sub) == 0 : nwords == 1))
                        cmd = m;
                }
                continue;
            }
            if (c.npos >= cmd->npos)
                return usage_error("unexpected argument '%s'", a);
            c.pos[c.npos++] = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        int kind;
        bool global = false;
        if ((nl == 3 && strncmp(name, "url", 3) == 0) ||
            (nl == 10 && strncmp(name, "master-key", 10) == 0)) {
            kind = 1;
            global = true;
        } else if (nl == 4 && strncmp(name, "json", 4) == 0) {
            kind = 0;
            global = true;
        } else {
            if (!cmd)
                return usage_error("option '%s' before a command (or an unknown command)", a);
            kind = opt_kind(cmd, name, nl);
            if (kind < 0)
                return usage_error("unknown option '%s' for this command", a);
        }
        const char *val = NULL;
        if (kind == 1) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return usage_error("option '%s' needs a value", a);
        } else if (eq) {
            return usage_error("option '%s' takes no value", a);
        }
        if (global) {
            if (name[0] == 'u')
                url = val;
            else if (name[0] == 'm')
                c.key = val;
            else
                c.json = true;
            continue;
        }
        if (c.nopts == MAX_OPTS)
            return usage_error("too many options at '%s'", a);
        c.opts[c.nopts++] = (struct opt){name, nl, val};
    }

    int ret;
    if (help) {
        fputs(usage_text, stdout);
        ret = 0;
        goto out;
    }
    if (!cmd) {
        if (nwords == 0) {
            fputs(usage_text, stderr);
            ret = EXIT_USAGE;
        } else {
            ret = usage_error("unknown command '%s%s%s'", words[0], nwords > 1 ? " " : "",
                              nwords > 1 ? words[1] : "");
        }
        goto out;
    }
    if (c.npos < cmd->npos) {
        ret = usage_error("'%s' needs an argument (an id or a model name)", cmd->sub);
        goto out;
    }
    char err[256];
    if (ctl_url_parse(url, &c.url, err, sizeof(err)) < 0) {
        fprintf(stderr, "conduitctl: --url %s: %s\n", url, err);
        ret = EXIT_USAGE;
        goto out;
    }
    if (!c.key || !*c.key) {
        ret = usage_error("no master key: set CONDUIT_MASTER_KEY or pass --master-key");
        goto out;
    }
    for (const char *p = c.key; *p; p++) {
        if ((unsigned char)*p < 0x21 || *p == 0x7f) {
            ret = usage_error("the master key has a space or a control character");
            goto out;
        }
    }
    ret = cmd->run(&c);
out:
    return ret;
}
