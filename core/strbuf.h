/*
 * core/strbuf.h — appending text into a caller's fixed buffer: what response
 * and request heads, chunk sizes and ids are built with on the request path.
 * snprintf parses its format on every call; building a head with it cost
 * about a third of a proxied request's user-space instructions (bench/RESULTS.md).
 * Never writes past cap: once something does not fit, `overflow` is set and
 * further appends are ignored. The result is not NUL-terminated.
 */
#ifndef GW_CORE_STRBUF_H
#define GW_CORE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct gw_sb {
    char *p;  /* borrowed: output */
    size_t len;
    size_t cap;
    bool overflow;
};

static inline void gw_sb_init(struct gw_sb *b, char *buf, size_t cap);
static inline void gw_sb_put(struct gw_sb *b, const void *s, size_t n);
static inline void gw_sb_puts(struct gw_sb *b, const char *s);
/* Decimal. */
static inline void gw_sb_u64(struct gw_sb *b, uint64_t v);
/* Lower-case hex without leading zeros ("0" for 0); width > 0 pads with zeros to width. */
static inline void gw_sb_hex(struct gw_sb *b, uint64_t v, unsigned width);
/* A string literal, length known at compile time. */
#define gw_sb_lit(b, s) gw_sb_put((b), (s), sizeof(s) - 1)

/* ---- inline bodies ---- */

static inline void gw_sb_init(struct gw_sb *b, char *buf, size_t cap)
{
    b->p = buf;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}

static inline void gw_sb_put(struct gw_sb *b, const void *s, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void gw_sb_puts(struct gw_sb *b, const char *s)
{
    gw_sb_put(b, s, strlen(s));
}

static inline void gw_sb_u64(struct gw_sb *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    gw_sb_put(b, tmp + i, sizeof(tmp) - i);
}

static inline void gw_sb_hex(struct gw_sb *b, uint64_t v, unsigned width)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = digits[v & 15];
        v >>= 4;
    } while (v);
    while (width > sizeof(tmp) - i && i > 0)
        tmp[--i] = '0';
    gw_sb_put(b, tmp + i, sizeof(tmp) - i);
}

#endif
