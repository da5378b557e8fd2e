/*
 * core/json.c — JSON tokenizer and writer (RFC 8259).
 *
 * The tokenizer is a small state machine over a complete buffer. Every call
 * to gw_json_next skips whitespace, resolves the structural character the
 * state expects (':' after a key, ',' or a close after a value) and then
 * reads exactly one token, so the caller sees keys, values and brackets in
 * document order and can stop anywhere. Nesting is a 64-bit stack, one bit
 * per open container (1 = object), which is why GW_JSON_MAX_DEPTH is 64.
 *
 * Strings dominate the bytes of LLM traffic (prompts, completions), so the
 * string scanner looks at eight bytes per step and only drops to byte-wise
 * work at a quote, a backslash, a control character or a non-ASCII byte.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"

/*
 * Tokenizer states (struct gw_json._state): what the next call must find. A
 * ':' or ',' is consumed by the same call that reads the token after it, so
 * no state sits between a separator and its token.
 */
enum {
    ST_VALUE = 0, /* the top-level value, at the start of the document */
    ST_ARR_FIRST, /* after '[': a value or ']' */
    ST_OBJ_FIRST, /* after '{': a key or '}' */
    ST_COLON,     /* after a key: ':' then a value */
    ST_NEXT,      /* after a value inside a container: ',' or the matching close */
    ST_TAIL,      /* after the top-level value: whitespace, then the end of the buffer */
    ST_END,       /* terminal: the document was valid, calls return 0 */
    ST_ERROR      /* terminal: the document was invalid, calls return -1 */
};

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * Bytes inside a JSON string that need a closer look: '"', '\\', controls
 * (< 0x20) and, when `utf8` is set, non-ASCII. Each term is the classic
 * "has a byte equal/less than" trick; a borrow can flag a byte above a real
 * hit but never one below it, so the lowest flagged byte is always a real one.
 */
static inline uint64_t special_bytes(uint64_t v, bool utf8)
{
    uint64_t q = v ^ (ONES * '"');
    uint64_t bs = v ^ (ONES * '\\');
    uint64_t m = ((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) | ((bs - ONES) & ~bs);
    if (utf8)
        m |= v;
    return m & HIGHS;
}

/* Index of the first flagged byte of a nonzero special_bytes() mask, or 0 if unknown. */
static inline size_t first_special(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    return 0; /* the byte loop after the fast path finds it */
#endif
}

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

static inline size_t skip_ws(const unsigned char *b, size_t n, size_t p)
{
    while (p < n && is_ws(b[p]))
        p++;
    return p;
}

static inline int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads the four hex digits at b[p..p+4); -1 if they are missing or not hex. */
static inline long hex4(const unsigned char *b, size_t n, size_t p)
{
    if (p > n || n - p < 4)
        return -1;
    int a = hexval(b[p]), c = hexval(b[p + 1]), d = hexval(b[p + 2]), e = hexval(b[p + 3]);
    if ((a | c | d | e) < 0)
        return -1;
    return (long)((a << 12) | (c << 8) | (d << 4) | e);
}

/*
 * Decodes the escape whose backslash is at b[p]. On success stores the code
 * point (a surrogate pair already combined) and returns the offset just past
 * the escape; returns 0 on an invalid escape. Lone surrogates are refused:
 * RFC 8259 §8.2 leaves their meaning undefined, and a gateway that forwards
 * them would hand each upstream a different string.
 */
static size_t decode_escape(const unsigned char *b, size_t n, size_t p, uint32_t *cp)
{
    if (p + 1 >= n)
        return 0;
    switch (b[p + 1]) {
    case '"':
        *cp = '"';
        return p + 2;
    case '\\':
        *cp = '\\';
        return p + 2;
    case '/':
        *cp = '/';
        return p + 2;
    case 'b':
        *cp = '\b';
        return p + 2;
    case 'f':
        *cp = '\f';
        return p + 2;
    case 'n':
        *cp = '\n';
        return p + 2;
    case 'r':
        *cp = '\r';
        return p + 2;
    case 't':
        *cp = '\t';
        return p + 2;
    case 'u':
        break;
    default:
        return 0;
    }
    long hi = hex4(b, n, p + 2);
    if (hi < 0)
        return 0;
    if (hi < 0xD800 || hi > 0xDFFF) {
        *cp = (uint32_t)hi;
        return p + 6;
    }
    if (hi > 0xDBFF) /* a low surrogate with no high one before it */
        return 0;
    if (n - (p + 6) < 6 || b[p + 6] != '\\' || b[p + 7] != 'u')
        return 0;
    long lo = hex4(b, n, p + 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return 0;
    *cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    return p + 12;
}

/* Writes cp as UTF-8 into out (room for 4 bytes); returns the byte count. */
static inline size_t utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Length of the well-formed UTF-8 sequence starting with the non-ASCII byte
 * b[p], or 0 if it is ill-formed. The ranges are RFC 3629 §4's table, which
 * excludes overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF).
 */
static inline size_t utf8_seq(const unsigned char *b, size_t n, size_t p)
{
    unsigned c = b[p];
    size_t avail = n - p;
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (b[p + 1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        if (avail < 3 || b[p + 1] < lo || b[p + 1] > hi || (b[p + 2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (avail < 4 || b[p + 1] < lo || b[p + 1] > hi || (b[p + 2] & 0xC0) != 0x80 ||
            (b[p + 3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/*
 * Scans the string body that starts at b[*pp] (just past the opening quote).
 * On success returns true with *pp at the closing quote; on failure returns
 * false with *pp at the offending byte (or n when the string is unterminated).
 */
static bool scan_string(const unsigned char *b, size_t n, size_t *pp, bool *escaped)
{
    size_t p = *pp;
    bool esc = false;

    for (;;) {
        while (n - p >= 8) {
            uint64_t m = special_bytes(load64(b + p), true);
            if (m) {
                p += first_special(m);
                break;
            }
            p += 8;
        }
        while (p < n && b[p] >= 0x20 && b[p] < 0x80 && b[p] != '"' && b[p] != '\\')
            p++;
        if (GW_UNLIKELY(p >= n))
            goto fail;
        unsigned char c = b[p];
        if (c == '"') {
            *pp = p;
            *escaped = esc;
            return true;
        }
        if (c == '\\') {
            uint32_t cp;
            size_t q = decode_escape(b, n, p, &cp);
            if (!q)
                goto fail;
            esc = true;
            p = q;
        } else if (c >= 0x80) {
            size_t k = utf8_seq(b, n, p);
            if (!k)
                goto fail;
            p += k;
        } else {
            goto fail; /* a raw control character, RFC 8259 §7 */
        }
    }
fail:
    *pp = p;
    return false;
}

/*
 * Scans a number at b[*pp] per RFC 8259 §6:
 *   [ '-' ] ( '0' / [1-9] *DIGIT ) [ '.' 1*DIGIT ] [ ( 'e' / 'E' ) [ '+' / '-' ] 1*DIGIT ]
 * The byte after the number is left to the caller's state: "01" scans as "0"
 * and the '1' then fails as a missing ',' — which is what refuses leading zeros.
 */
static bool scan_number(const unsigned char *b, size_t n, size_t *pp)
{
    size_t p = *pp;

    if (p < n && b[p] == '-')
        p++;
    if (p >= n)
        goto fail;
    if (b[p] == '0') {
        p++;
    } else if (is_digit(b[p])) {
        while (++p < n && is_digit(b[p]))
            ;
    } else {
        goto fail;
    }
    if (p < n && b[p] == '.') {
        if (++p >= n || !is_digit(b[p]))
            goto fail;
        while (++p < n && is_digit(b[p]))
            ;
    }
    if (p < n && (b[p] | 0x20) == 'e') {
        if (++p < n && (b[p] == '+' || b[p] == '-'))
            p++;
        if (p >= n || !is_digit(b[p]))
            goto fail;
        while (++p < n && is_digit(b[p]))
            ;
    }
    *pp = p;
    return true;
fail:
    *pp = p;
    return false;
}

void gw_json_init(struct gw_json *j, const char *buf, size_t len)
{
    j->buf = buf;
    j->len = len;
    j->pos = 0;
    j->depth = 0;
    j->_stack = 0;
    j->_state = ST_VALUE;
    j->_done = false;
}

int gw_json_next(struct gw_json *j, struct gw_json_tok *t)
{
    if (GW_UNLIKELY(j->_done))
        return j->_state == ST_END ? 0 : -1;

    const unsigned char *b = (const unsigned char *)j->buf;
    size_t n = j->len;
    size_t p = skip_ws(b, n, j->pos);
    size_t s;
    bool in_obj;

    switch (j->_state) {
    case ST_VALUE:
        goto value;
    case ST_ARR_FIRST:
        if (p < n && b[p] == ']')
            goto close;
        goto value;
    case ST_OBJ_FIRST:
        if (p < n && b[p] == '}')
            goto close;
        goto key;
    case ST_COLON:
        if (p >= n || b[p] != ':')
            goto fail;
        p = skip_ws(b, n, p + 1);
        goto value;
    case ST_NEXT:
        if (p >= n)
            goto fail;
        in_obj = (j->_stack >> (j->depth - 1)) & 1;
        if (b[p] == ',') {
            p = skip_ws(b, n, p + 1);
            if (in_obj)
                goto key;
            goto value;
        }
        if (b[p] == (in_obj ? '}' : ']'))
            goto close;
        goto fail;
    case ST_TAIL:
        if (p != n)
            goto fail;
        j->pos = p;
        j->_state = ST_END;
        j->_done = true;
        return 0;
    default:
        goto fail;
    }

close:
    /* The states above only jump here with the close that matches the open container. */
    j->depth--;
    t->type = b[p] == '}' ? GW_JT_OBJ_END : GW_JT_ARR_END;
    t->escaped = false;
    t->start = p;
    t->end = p + 1;
    t->depth = j->depth;
    t->span = gw_span_make(j->buf + p, 1);
    j->pos = p + 1;
    j->_state = j->depth ? ST_NEXT : ST_TAIL;
    return 1;

key:
    if (p >= n || b[p] != '"')
        goto fail;
    s = p++;
    if (!scan_string(b, n, &p, &t->escaped))
        goto fail;
    t->type = GW_JT_KEY;
    t->start = s;
    t->end = p + 1;
    t->depth = j->depth;
    t->span = gw_span_make(j->buf + s + 1, p - s - 1);
    j->pos = p + 1;
    j->_state = ST_COLON;
    return 1;

value:
    if (p >= n)
        goto fail;
    s = p;
    t->escaped = false;
    switch (b[p]) {
    case '{':
    case '[':
        if (j->depth >= GW_JSON_MAX_DEPTH)
            goto fail;
        t->depth = j->depth;
        if (b[p] == '{') {
            t->type = GW_JT_OBJ_BEGIN;
            j->_stack |= 1ull << j->depth;
            j->_state = ST_OBJ_FIRST;
        } else {
            t->type = GW_JT_ARR_BEGIN;
            j->_stack &= ~(1ull << j->depth);
            j->_state = ST_ARR_FIRST;
        }
        j->depth++;
        t->start = s;
        t->end = s + 1;
        t->span = gw_span_make(j->buf + s, 1);
        j->pos = s + 1;
        return 1;
    case '"':
        p++;
        if (!scan_string(b, n, &p, &t->escaped))
            goto fail;
        t->type = GW_JT_STRING;
        t->span = gw_span_make(j->buf + s + 1, p - s - 1);
        p++;
        break;
    case 't':
        if (n - p < 4 || memcmp(b + p, "true", 4) != 0)
            goto fail;
        t->type = GW_JT_TRUE;
        p += 4;
        t->span = gw_span_make(j->buf + s, 4);
        break;
    case 'f':
        if (n - p < 5 || memcmp(b + p, "false", 5) != 0)
            goto fail;
        t->type = GW_JT_FALSE;
        p += 5;
        t->span = gw_span_make(j->buf + s, 5);
        break;
    case 'n':
        if (n - p < 4 || memcmp(b + p, "null", 4) != 0)
            goto fail;
        t->type = GW_JT_NULL;
        p += 4;
        t->span = gw_span_make(j->buf + s, 4);
        break;
    default:
        if (!scan_number(b, n, &p))
            goto fail;
        t->type = GW_JT_NUMBER;
        t->span = gw_span_make(j->buf + s, p - s);
        break;
    }
    t->start = s;
    t->end = p;
    t->depth = j->depth;
    j->pos = p;
    j->_state = j->depth ? ST_NEXT : ST_TAIL;
    return 1;

fail:
    j->pos = p < n ? p : n;
    j->_state = ST_ERROR;
    j->_done = true;
    return -1;
}

int gw_json_skip(struct gw_json *j, const struct gw_json_tok *first, size_t *end)
{
    switch (first->type) {
    case GW_JT_OBJ_BEGIN:
    case GW_JT_ARR_BEGIN:
        break;
    case GW_JT_STRING:
    case GW_JT_NUMBER:
    case GW_JT_TRUE:
    case GW_JT_FALSE:
    case GW_JT_NULL:
        *end = first->end;
        return 0;
    default:
        return -1;
    }
    /* The tokenizer checks that closes match opens, so the first close back at
     * the opening depth is the matching one. */
    struct gw_json_tok t;
    int r;
    while ((r = gw_json_next(j, &t)) == 1) {
        if ((t.type == GW_JT_OBJ_END || t.type == GW_JT_ARR_END) && t.depth == first->depth) {
            *end = t.end;
            return 0;
        }
    }
    return -1;
}

bool gw_json_validate(const char *buf, size_t len)
{
    struct gw_json j;
    struct gw_json_tok t;
    int r;

    gw_json_init(&j, buf, len);
    while ((r = gw_json_next(&j, &t)) == 1)
        ;
    return r == 0;
}

int gw_json_scan_object(const char *buf, size_t len, const char *const *keys, size_t n,
                        struct gw_json_member *out)
{
    struct gw_json j;
    struct gw_json_tok t;
    int r;

    for (size_t i = 0; i < n; i++)
        out[i].found = out[i].dup = false;
    gw_json_init(&j, buf, len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_OBJ_BEGIN)
        return -1;
    while ((r = gw_json_next(&j, &t)) == 1) {
        if (t.type != GW_JT_KEY || t.depth != 1)
            continue;
        /* Most members are not wanted: their first byte already says so
         * (unless it starts an escape, which only the full compare decodes). */
        unsigned char c0 = t.span.len ? (unsigned char)t.span.ptr[0] : 0;
        size_t i;
        for (i = 0; i < n; i++)
            if ((c0 == '\\' || (unsigned char)keys[i][0] == c0) &&
                gw_json_str_eq(t.span, keys[i]))
                break;
        if (i == n)
            continue; /* its value is walked by the loop like any other token */
        size_t member_start = t.start;
        if (gw_json_next(&j, &t) != 1)
            goto fail;
        size_t value_end;
        if (gw_json_skip(&j, &t, &value_end) != 0)
            goto fail;
        out[i].dup = out[i].found;
        out[i].found = true;
        out[i].member_start = member_start;
        out[i].member_end = value_end;
        out[i].value = t;
        out[i].value_end = value_end;
    }
    if (r == 0)
        return 0;
fail:
    for (size_t i = 0; i < n; i++)
        out[i].found = out[i].dup = false;
    return -1;
}

bool gw_json_member_cut(const char *buf, size_t len, const struct gw_json_member *m,
                        size_t *cut_start, size_t *cut_end)
{
    if (!m->found || m->member_end > len || m->member_start >= m->member_end)
        return false;
    const unsigned char *b = (const unsigned char *)buf;
    size_t e = skip_ws(b, len, m->member_end);
    if (e < len && b[e] == ',') {
        *cut_start = m->member_start;
        *cut_end = e + 1;
        return true;
    }
    size_t s = m->member_start;
    while (s > 0 && is_ws(b[s - 1]))
        s--;
    *cut_start = s > 0 && b[s - 1] == ',' ? s - 1 : m->member_start;
    *cut_end = m->member_end;
    return true;
}

long gw_json_unescape(struct gw_span raw, char *out, size_t cap)
{
    const unsigned char *b = (const unsigned char *)raw.ptr;
    size_t n = raw.len, p = 0, o = 0;

    while (p < n) {
        const unsigned char *bs = memchr(b + p, '\\', n - p);
        size_t run = bs ? (size_t)(bs - (b + p)) : n - p;
        if (run > cap - o)
            return -1;
        if (run) {
            memcpy(out + o, b + p, run);
            o += run;
            p += run;
        }
        if (!bs)
            break;
        uint32_t cp;
        size_t q = decode_escape(b, n, p, &cp);
        if (!q)
            return -1;
        unsigned char u[4];
        size_t k = utf8_encode(cp, u);
        if (k > cap - o)
            return -1;
        memcpy(out + o, u, k);
        o += k;
        p = q;
    }
    return (long)o;
}

bool gw_json_str_eq(struct gw_span raw, const char *s)
{
    const unsigned char *b = (const unsigned char *)raw.ptr;
    const unsigned char *u = (const unsigned char *)s;
    size_t n = raw.len, p = 0, i = 0;

    /* A decoded NUL (from \u0000) never matches the terminator: u[i] is tested
     * for zero before every comparison. */
    while (p < n) {
        if (b[p] != '\\') {
            if (u[i] == 0 || u[i] != b[p])
                return false;
            i++;
            p++;
            continue;
        }
        uint32_t cp;
        size_t q = decode_escape(b, n, p, &cp);
        if (!q)
            return false;
        unsigned char enc[4];
        size_t k = utf8_encode(cp, enc);
        for (size_t x = 0; x < k; x++, i++)
            if (u[i] == 0 || u[i] != enc[x])
                return false;
        p = q;
    }
    return u[i] == 0;
}

bool gw_json_to_u64(struct gw_span num, uint64_t *out)
{
    const unsigned char *b = (const unsigned char *)num.ptr;
    uint64_t v = 0;

    if (num.len == 0 || (b[0] == '0' && num.len > 1))
        return false;
    for (size_t i = 0; i < num.len; i++) {
        unsigned d = (unsigned)(b[i] - '0');
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

const char *gw_json_tok_type_str(enum gw_json_tok_type type)
{
    static const char *const names[GW_JT_COUNT] = {
        [GW_JT_NONE] = "none",       [GW_JT_OBJ_BEGIN] = "obj_begin",
        [GW_JT_OBJ_END] = "obj_end", [GW_JT_ARR_BEGIN] = "arr_begin",
        [GW_JT_ARR_END] = "arr_end", [GW_JT_KEY] = "key",
        [GW_JT_STRING] = "string",   [GW_JT_NUMBER] = "number",
        [GW_JT_TRUE] = "true",       [GW_JT_FALSE] = "false",
        [GW_JT_NULL] = "null",
    };
    if ((unsigned)type >= GW_JT_COUNT)
        return "?";
    return names[type];
}

/* ---- writer ---- */

static const char hex_digits[] = "0123456789abcdef";

/* Writes the escape for c (a quote, a backslash or a control byte) to tmp; returns its length. */
static inline size_t escape_byte(unsigned char c, char tmp[6])
{
    switch (c) {
    case '"':
        memcpy(tmp, "\\\"", 2);
        return 2;
    case '\\':
        memcpy(tmp, "\\\\", 2);
        return 2;
    case '\b':
        memcpy(tmp, "\\b", 2);
        return 2;
    case '\f':
        memcpy(tmp, "\\f", 2);
        return 2;
    case '\n':
        memcpy(tmp, "\\n", 2);
        return 2;
    case '\r':
        memcpy(tmp, "\\r", 2);
        return 2;
    case '\t':
        memcpy(tmp, "\\t", 2);
        return 2;
    default:
        memcpy(tmp, "\\u00", 4);
        tmp[4] = hex_digits[c >> 4];
        tmp[5] = hex_digits[c & 15];
        return 6;
    }
}

size_t gw_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    const unsigned char *b = (const unsigned char *)s;
    size_t p = 0, o = 0;

    while (p < len) {
        size_t r = p;
        while (len - r >= 8) {
            uint64_t m = special_bytes(load64(b + r), false);
            if (m) {
                r += first_special(m);
                break;
            }
            r += 8;
        }
        while (r < len && b[r] >= 0x20 && b[r] != '"' && b[r] != '\\')
            r++;
        if (r > p) {
            size_t run = r - p;
            if (o < cap)
                memcpy(out + o, b + p, GW_MIN(run, cap - o));
            o += run;
            p = r;
        }
        if (p >= len)
            break;
        char tmp[6];
        size_t k = escape_byte(b[p++], tmp);
        if (o < cap)
            memcpy(out + o, tmp, GW_MIN(k, cap - o));
        o += k;
    }
    return o;
}

void gw_jw_init(struct gw_jw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
    w->depth = 0;
    w->_need_comma = 0;
    w->_after_key = false;
}

static inline void put(struct gw_jw *w, const void *p, size_t n)
{
    if (GW_UNLIKELY(w->overflow || n > w->cap - w->len)) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static inline void put_c(struct gw_jw *w, char c)
{
    if (GW_UNLIKELY(w->overflow || w->len >= w->cap)) {
        w->overflow = true;
        return;
    }
    w->buf[w->len++] = c;
}

/*
 * Called before every value and key: writes the ',' that separates it from
 * the previous item at this level, unless it is the value of a key. Bit
 * (depth - 1) of _need_comma says the open container already holds an item;
 * top-level values are never separated.
 */
static inline void before_item(struct gw_jw *w)
{
    if (w->_after_key) {
        w->_after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    uint64_t bit = 1ull << (w->depth - 1);
    if (w->_need_comma & bit)
        put_c(w, ',');
    w->_need_comma |= bit;
}

static void open_container(struct gw_jw *w, char c)
{
    before_item(w);
    if (w->depth >= GW_JSON_MAX_DEPTH) {
        w->overflow = true; /* output would be unusable; see the header */
        return;
    }
    put_c(w, c);
    w->depth++;
    w->_need_comma &= ~(1ull << (w->depth - 1));
}

static void close_container(struct gw_jw *w, char c)
{
    if (w->depth == 0 || w->_after_key) {
        w->overflow = true;
        return;
    }
    w->depth--;
    put_c(w, c);
}

void gw_jw_obj_begin(struct gw_jw *w)
{
    open_container(w, '{');
}

void gw_jw_obj_end(struct gw_jw *w)
{
    close_container(w, '}');
}

void gw_jw_arr_begin(struct gw_jw *w)
{
    open_container(w, '[');
}

void gw_jw_arr_end(struct gw_jw *w)
{
    close_container(w, ']');
}

static void put_string(struct gw_jw *w, const char *s, size_t len)
{
    put_c(w, '"');
    if (w->overflow)
        return;
    size_t room = w->cap - w->len;
    size_t k = gw_json_escape(w->buf + w->len, room, s, len);
    if (k > room) {
        w->overflow = true;
        return;
    }
    w->len += k;
    put_c(w, '"');
}

void gw_jw_key(struct gw_jw *w, const char *key)
{
    before_item(w);
    put_string(w, key, strlen(key));
    put_c(w, ':');
    w->_after_key = true;
}

void gw_jw_key_plain(struct gw_jw *w, const char *key, size_t len)
{
    before_item(w);
    put_c(w, '"');
    put(w, key, len);
    put(w, "\":", 2);
    w->_after_key = true;
}

void gw_jw_str(struct gw_jw *w, const char *s, size_t len)
{
    before_item(w);
    put_string(w, s, len);
}

void gw_jw_cstr(struct gw_jw *w, const char *s)
{
    gw_jw_str(w, s, strlen(s));
}

/* Formats v in decimal at the end of tmp[24]; returns the first digit's index. */
static size_t fmt_u64(uint64_t v, char tmp[24])
{
    size_t i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return i;
}

void gw_jw_uint(struct gw_jw *w, uint64_t v)
{
    char tmp[24];
    size_t i = fmt_u64(v, tmp);
    before_item(w);
    put(w, tmp + i, 24 - i);
}

void gw_jw_int(struct gw_jw *w, int64_t v)
{
    char tmp[24];
    /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t i = fmt_u64(u, tmp);
    if (v < 0)
        tmp[--i] = '-';
    before_item(w);
    put(w, tmp + i, 24 - i);
}

/*
 * Rounds to 6 decimals and drops trailing zeros ("1.5", "2", "0.000125").
 * Digits are produced by hand from a scaled integer, so the decimal point is
 * always '.', whatever LC_NUMERIC says. Magnitudes of 1e12 and above do not
 * fit the scaled integer; they have no meaningful decimals in a double anyway
 * and are printed as integers ("%.0f" has no decimal point to localise).
 * NaN and infinities have no JSON form and become null.
 */
void gw_jw_double(struct gw_jw *w, double v)
{
    if (!isfinite(v)) {
        gw_jw_null(w);
        return;
    }
    bool neg = v < 0;
    double a = neg ? -v : v;
    char tmp[400];
    size_t n;

    if (a >= 1e12) {
        int k = snprintf(tmp, sizeof(tmp), "%s%.0f", neg ? "-" : "", a);
        n = k > 0 ? GW_MIN((size_t)k, sizeof(tmp) - 1) : 0;
        before_item(w);
        put(w, tmp, n);
        return;
    }
    uint64_t scaled = (uint64_t)(a * 1e6 + 0.5);
    uint64_t ip = scaled / 1000000, fp = scaled % 1000000;
    char digits[24];
    size_t i = fmt_u64(ip, digits);
    n = 0;
    if (neg && scaled)
        tmp[n++] = '-';
    memcpy(tmp + n, digits + i, 24 - i);
    n += 24 - i;
    if (fp) {
        tmp[n++] = '.';
        char f[6];
        for (int d = 5; d >= 0; d--) {
            f[d] = (char)('0' + fp % 10);
            fp /= 10;
        }
        size_t fl = 6;
        while (f[fl - 1] == '0')
            fl--;
        memcpy(tmp + n, f, fl);
        n += fl;
    }
    before_item(w);
    put(w, tmp, n);
}

void gw_jw_bool(struct gw_jw *w, bool v)
{
    before_item(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void gw_jw_null(struct gw_jw *w)
{
    before_item(w);
    put(w, "null", 4);
}

void gw_jw_raw(struct gw_jw *w, const char *json, size_t len)
{
    before_item(w);
    put(w, json, len);
}
