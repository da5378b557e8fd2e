/*
 * core/span.h — the one span type, {ptr, len}, laid out like struct iovec so a
 * list of spans can be handed to writev/sendmsg as is.
 */
#ifndef GW_CORE_SPAN_H
#define GW_CORE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Borrowed bytes: a span never owns what it points at. */
struct gw_span {
    const char *ptr;
    size_t len;
};

#define GW_SPAN_LIT(s) ((struct gw_span){(s), sizeof(s) - 1})
#define GW_SPAN_NULL ((struct gw_span){NULL, 0})

static inline struct gw_span gw_span_make(const char *p, size_t n);
static inline struct gw_span gw_span_cstr(const char *s);
/* Byte-exact comparison. */
static inline bool gw_span_eq(struct gw_span a, struct gw_span b);
/* ASCII case-insensitive comparison (header names). */
static inline bool gw_span_ieq(struct gw_span a, struct gw_span b);
static inline bool gw_span_ieq_cstr(struct gw_span a, const char *s);

/* ---- inline bodies ---- */

static inline struct gw_span gw_span_make(const char *p, size_t n)
{
    return (struct gw_span){p, n};
}

static inline struct gw_span gw_span_cstr(const char *s)
{
    return (struct gw_span){s, s ? strlen(s) : 0};
}

static inline bool gw_span_eq(struct gw_span a, struct gw_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool gw_span_ieq(struct gw_span a, struct gw_span b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool gw_span_ieq_cstr(struct gw_span a, const char *s)
{
    return gw_span_ieq(a, gw_span_cstr(s));
}

#endif
