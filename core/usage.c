/*
 * core/usage.c — the usage record's line format, log file names, the
 * writer's open, boot ids.
 *
 * One table (members[]) describes every member: its JSON name, its kind and
 * where it lives in struct gw_usage_rec. Format and parse both walk it, so
 * the two cannot drift apart.
 *
 * Fitting strings. A string field is written, and read back, as its longest
 * prefix that (a) ends at a UTF-8 character boundary, (b) fits the field with
 * its NUL and (c) escapes to at most twice the field's capacity. (c) is what
 * keeps a record under GW_USAGE_LINE_MAX even when a field is full of control
 * bytes (6 bytes each as \u00XX); most text escapes to its own length.
 * Because parse applies the same rule as format, a parsed record formats to
 * a line that parses back to the same record (tests/fuzz/fuzz_usage.c).
 * Invalid UTF-8 in a record (format's input comes from clients and
 * providers) is written as '?' per bad byte: the line must stay valid JSON,
 * or the record would be lost as a bad line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/json.h"
#include "core/usage.h"
#include "core/vkey.h"

enum mkind {
    MK_STR = 0, /* char[size], NUL-terminated */
    MK_I64,
    MK_U64,
    MK_U32,
    MK_INT,
    MK_BOOL,
    MK_SLOT, /* uint32_t; null <-> GW_SLOT_NONE */
    MK_COST, /* cost_pusd; null <-> !have_cost */
    MK_TTFB, /* int64_t; null <-> -1 */
    MK_COUNT
};

struct member {
    const char *name;
    size_t namelen;
    enum mkind kind;
    size_t off;
    size_t size;
    bool required;
};

/* clang-format cannot lay out a braced initializer in a macro */
/* clang-format off */
#define FSIZE(f) sizeof(((struct gw_usage_rec *)0)->f)
#define M(f, k) {#f, sizeof(#f) - 1, k, offsetof(struct gw_usage_rec, f), FSIZE(f), false}
#define MREQ(f, k) {#f, sizeof(#f) - 1, k, offsetof(struct gw_usage_rec, f), FSIZE(f), true}
/* clang-format on */

static const struct member members[] = {
    MREQ(time_ms, MK_I64),
    MREQ(boot, MK_STR),
    MREQ(worker, MK_U32),
    MREQ(seq, MK_U64),
    M(request_id, MK_STR),
    M(key_id, MK_STR),
    M(key_name, MK_STR),
    M(team_id, MK_STR),
    M(key_slot, MK_SLOT),
    M(team_slot, MK_SLOT),
    M(model, MK_STR),
    M(provider, MK_STR),
    M(deployment, MK_STR),
    M(endpoint, MK_STR),
    M(stream, MK_BOOL),
    M(status, MK_INT),
    M(error, MK_STR),
    M(prompt_tokens, MK_U64),
    M(completion_tokens, MK_U64),
    M(cached_tokens, MK_U64),
    M(cache_write_tokens, MK_U64),
    M(reasoning_tokens, MK_U64),
    M(cost_pusd, MK_COST),
    M(est_pusd, MK_I64),
    M(price_version, MK_STR),
    M(ttfb_us, MK_TTFB),
    M(duration_us, MK_I64),
    M(bytes_in, MK_U64),
    M(bytes_out, MK_U64),
};

#undef M
#undef MREQ
#undef FSIZE

_Static_assert(GW_ARRAY_SIZE(members) <= 64, "required/seen masks are 64-bit");

/* Length of the valid UTF-8 sequence at s[p] (1-4), or 0 if it is not one (RFC 3629 §4). */
static size_t utf8_len(const unsigned char *s, size_t n, size_t p)
{
    unsigned char c = s[p];
    size_t k;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2;
    else if (c >= 0xe0 && c <= 0xef)
        k = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        k = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n - p < k || s[p + 1] < lo || s[p + 1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++) {
        if (s[p + i] < 0x80 || s[p + i] > 0xbf)
            return 0;
    }
    return k;
}

/* s[p..n) is the start of a multi-byte character that the end of s cuts short. */
static bool torn_tail(const unsigned char *s, size_t n, size_t p)
{
    unsigned char c = s[p];
    size_t need = c >= 0xc2 && c <= 0xdf   ? 2
                  : c >= 0xe0 && c <= 0xef ? 3
                  : c >= 0xf0 && c <= 0xf4 ? 4
                                           : 0;
    if (need == 0 || n - p >= need)
        return false;
    for (size_t i = p + 1; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return false;
    }
    return true;
}

/* Bytes gw_json_escape writes for c (core/json.h). */
static size_t escaped_len(unsigned char c)
{
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    return c < 0x20 ? 6 : 1;
}

/*
 * The length of s's prefix that fits a field of `size` bytes (see the top of
 * the file), at a character boundary. An invalid byte counts as one '?'.
 */
static size_t fit_len(const char *s, size_t len, size_t size)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t max = size - 1, esc_max = 2 * max, p = 0, esc = 0;

    while (p < len) {
        size_t k = utf8_len(u, len, p);
        if (k == 0 && torn_tail(u, len, p))
            break; /* a character cut by the end of the text (snprintf into a field): drop it */
        size_t e = k == 1 ? escaped_len(u[p]) : k ? k : 1;
        k = k ? k : 1;
        if (p + k > max || esc + e > esc_max)
            break;
        p += k;
        esc += e;
    }
    return p;
}

/* Every byte printable ASCII (0x20-0x7e): valid UTF-8, at most 2 bytes each escaped. */
static bool plain_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] - 0x20u > 0x5eu)
            return false;
    return true;
}

static void write_str(struct gw_jw *w, const char *field, size_t size)
{
    char tmp[512];
    size_t len = strnlen(field, size);
    /* The common case (ids, names, model names): nothing to cut or replace. */
    if (len < size && plain_ascii(field, len)) {
        gw_jw_str(w, field, len);
        return;
    }
    size_t n = fit_len(field, len, size);
    const unsigned char *u = (const unsigned char *)field;

    _Static_assert(sizeof(tmp) >= 256, "tmp holds the largest string field");
    GW_BUG_ON(n >= sizeof(tmp));
    for (size_t p = 0; p < n;) {
        size_t k = utf8_len(u, n, p);
        if (k == 0) {
            tmp[p++] = '?';
            continue;
        }
        memcpy(tmp + p, field + p, k);
        p += k;
    }
    gw_jw_str(w, tmp, n);
}

int gw_usage_format(const struct gw_usage_rec *r, char *out, size_t cap)
{
    struct gw_jw w;
    const char *base = (const char *)r;

    if (cap < 2)
        return -1;
    gw_jw_init(&w, out, cap - 1); /* room for the '\n' */
    gw_jw_obj_begin(&w);
    for (size_t i = 0; i < GW_ARRAY_SIZE(members); i++) {
        const struct member *m = &members[i];
        const void *f = base + m->off;
        gw_jw_key_plain(&w, m->name, m->namelen);
        switch (m->kind) {
        case MK_STR:
            write_str(&w, f, m->size);
            break;
        case MK_I64:
            gw_jw_int(&w, *(const int64_t *)f);
            break;
        case MK_U64:
            gw_jw_uint(&w, *(const uint64_t *)f);
            break;
        case MK_U32:
            gw_jw_uint(&w, *(const uint32_t *)f);
            break;
        case MK_INT:
            gw_jw_int(&w, *(const int *)f);
            break;
        case MK_BOOL:
            gw_jw_bool(&w, *(const bool *)f);
            break;
        case MK_SLOT: {
            uint32_t v = *(const uint32_t *)f;
            if (v == GW_SLOT_NONE)
                gw_jw_null(&w);
            else
                gw_jw_uint(&w, v);
            break;
        }
        case MK_COST:
            if (r->have_cost)
                gw_jw_int(&w, r->cost_pusd);
            else
                gw_jw_null(&w);
            break;
        case MK_TTFB: {
            int64_t v = *(const int64_t *)f;
            if (v == -1)
                gw_jw_null(&w);
            else
                gw_jw_int(&w, v);
            break;
        }
        case MK_COUNT:
        default:
            GW_BUG_ON(1);
        }
    }
    gw_jw_obj_end(&w);
    if (w.overflow)
        return -1;
    out[w.len] = '\n';
    return (int)(w.len + 1);
}

/* A JSON number token as an integer in [min, max]: "-"? digits, no fraction or exponent. */
static bool num_i64(struct gw_span s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = s.len > 0 && s.ptr[0] == '-';
    uint64_t u;

    if (!gw_json_to_u64(gw_span_make(s.ptr + neg, s.len - neg), &u))
        return false;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return false;
        int64_t v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        if (v < min)
            return false;
        *out = v;
        return true;
    }
    if (u > (uint64_t)max)
        return false;
    *out = (int64_t)u;
    return true;
}

static int read_str(const struct gw_json_tok *t, char *field, size_t size)
{
    char tmp[GW_USAGE_LINE_MAX];

    if (t->type != GW_JT_STRING || t->span.len > sizeof(tmp))
        return -1;
    /* No escape and printable ASCII that fits: the span is the value (what
     * write_str's fast path produces). */
    if (t->span.len < size && !memchr(t->span.ptr, '\\', t->span.len) &&
        plain_ascii(t->span.ptr, t->span.len)) {
        memcpy(field, t->span.ptr, t->span.len);
        field[t->span.len] = '\0';
        return 0;
    }
    long n = gw_json_unescape(t->span, tmp, sizeof(tmp));
    if (n < 0 || memchr(tmp, '\0', (size_t)n))
        return -1;
    size_t k = fit_len(tmp, (size_t)n, size);
    memcpy(field, tmp, k);
    field[k] = '\0';
    return 0;
}

/* A number token in [min, max] into *out. 0, or -1 on any other token. */
static int read_num(const struct gw_json_tok *t, int64_t min, int64_t max, int64_t *out)
{
    return t->type == GW_JT_NUMBER && num_i64(t->span, min, max, out) ? 0 : -1;
}

/* Stores value token t into member m of r. 0, or -1 when t is not of the member's type. */
static int read_member(const struct member *m, const struct gw_json_tok *t, struct gw_usage_rec *r)
{
    void *f = (char *)r + m->off;
    int64_t v = 0;
    uint64_t u;

    switch (m->kind) {
    case MK_STR:
        return read_str(t, f, m->size);
    case MK_BOOL:
        if (t->type != GW_JT_TRUE && t->type != GW_JT_FALSE)
            return -1;
        *(bool *)f = t->type == GW_JT_TRUE;
        return 0;
    case MK_U64:
        if (t->type != GW_JT_NUMBER || !gw_json_to_u64(t->span, &u))
            return -1;
        *(uint64_t *)f = u;
        return 0;
    case MK_SLOT:
    case MK_U32:
        if (m->kind == MK_SLOT && t->type == GW_JT_NULL)
            v = GW_SLOT_NONE;
        else if (read_num(t, 0, UINT32_MAX, &v) != 0)
            return -1;
        *(uint32_t *)f = (uint32_t)v;
        return 0;
    case MK_INT:
        if (read_num(t, INT_MIN, INT_MAX, &v) != 0)
            return -1;
        *(int *)f = (int)v;
        return 0;
    case MK_COST:
        r->have_cost = t->type != GW_JT_NULL;
        if (r->have_cost && read_num(t, INT64_MIN, INT64_MAX, &v) != 0)
            return -1;
        r->cost_pusd = v;
        return 0;
    case MK_I64:
    case MK_TTFB:
        if (m->kind == MK_TTFB && t->type == GW_JT_NULL)
            v = -1;
        else if (read_num(t, INT64_MIN, INT64_MAX, &v) != 0)
            return -1;
        *(int64_t *)f = v;
        return 0;
    case MK_COUNT:
    default:
        return -1;
    }
}

/*
 * Defaults of members a line leaves out: zero and empty, except the slots
 * (GW_SLOT_NONE: slot 0 is a real subject's) and ttfb_us (-1: unknown).
 */
int gw_usage_parse(const char *line, size_t len, struct gw_usage_rec *r)
{
    struct gw_json j;
    struct gw_json_tok t;
    uint64_t seen = 0, required = 0;
    size_t next = 0;

    memset(r, 0, sizeof(*r));
    r->key_slot = r->team_slot = GW_SLOT_NONE;
    r->ttfb_us = -1;
    for (size_t i = 0; i < GW_ARRAY_SIZE(members); i++) {
        if (members[i].required)
            required |= 1ull << i;
    }

    gw_json_init(&j, line, len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_OBJ_BEGIN)
        return -1;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_OBJ_END)
            break;
        GW_BUG_ON(t.type != GW_JT_KEY);
        /* Lines this code wrote list the members in table order: try the
         * next one first, then search. */
        size_t i = next;
        if (i >= GW_ARRAY_SIZE(members) || t.span.len != members[i].namelen ||
            memcmp(t.span.ptr, members[i].name, t.span.len) != 0) {
            i = 0;
            while (i < GW_ARRAY_SIZE(members) && !gw_json_str_eq(t.span, members[i].name))
                i++;
        }
        next = i + 1;
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (i == GW_ARRAY_SIZE(members)) {
            size_t end;
            if (gw_json_skip(&j, &t, &end) != 0)
                return -1;
            continue;
        }
        if (read_member(&members[i], &t, r) != 0)
            return -1;
        seen |= 1ull << i;
    }
    if (gw_json_next(&j, &t) != 0)
        return -1; /* trailing bytes */
    if ((seen & required) != required)
        return -1;
    return 0;
}

static bool is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A boot id fit for a file name and for gw_usage_rec.boot: 1-23 base62 characters. */
static bool boot_ok(const char *boot, size_t n)
{
    if (n == 0 || n >= sizeof(((struct gw_usage_rec *)0)->boot))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_base62(boot[i]))
            return false;
    }
    return true;
}

int gw_usage_log_name(const char *boot, unsigned worker, uint64_t fileseq, char *out, size_t cap)
{
    if (!boot_ok(boot, strlen(boot)))
        return -1;
    int n =
        snprintf(out, cap, "usage-%s-%02u-%06llu.log", boot, worker, (unsigned long long)fileseq);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

/* Decimal digits at *p up to `stop`; false on none, other bytes, overflow. */
static bool name_number(const char **p, char stop, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (*s == stop)
        return false;
    for (; *s != stop; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

bool gw_usage_log_name_parse(const char *name, char *boot, size_t bootcap, unsigned *worker,
                             uint64_t *fileseq)
{
    static const char pre[] = "usage-";
    char again[128];
    uint64_t w, seq;

    if (strncmp(name, pre, sizeof(pre) - 1) != 0)
        return false;
    const char *b = name + sizeof(pre) - 1;
    const char *dash = strchr(b, '-');
    if (!dash || !boot_ok(b, (size_t)(dash - b)) || (size_t)(dash - b) >= bootcap)
        return false;
    const char *p = dash + 1;
    if (!name_number(&p, '-', UINT_MAX, &w))
        return false;
    p++;
    if (!name_number(&p, '.', UINT64_MAX, &seq) || strcmp(p, ".log") != 0)
        return false;
    /* Only the canonical spelling (no extra leading zeros): one file per (boot, worker, seq). */
    memcpy(boot, b, (size_t)(dash - b));
    boot[dash - b] = '\0';
    int n = gw_usage_log_name(boot, (unsigned)w, seq, again, sizeof(again));
    if (n < 0 || strcmp(again, name) != 0) {
        boot[0] = '\0';
        return false;
    }
    *worker = (unsigned)w;
    *fileseq = seq;
    return true;
}

int gw_usage_log_open(const char *dir, const char *boot, unsigned worker, uint64_t fileseq)
{
    char name[128], path[4096];

    if (gw_usage_log_name(boot, worker, fileseq, name, sizeof(name)) < 0)
        return -EINVAL;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    return fd;
}

int gw_usage_boot_id(char out[17])
{
    return gw_vkey_new_id("", out, 17);
}
