/*
 * providers/xbound.c — the translated request's size limit and the function
 * name rule, shared by every dialect. See xbound.h.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t gw_xbound_limit(size_t in_len, size_t fixed, size_t out_max)
{
    size_t rel = in_len > SIZE_MAX / GW_XBOUND_FACTOR ? SIZE_MAX : in_len * GW_XBOUND_FACTOR;
    rel = add_sat(GW_MAX(rel, GW_XBOUND_FLOOR), fixed);
    size_t abs = out_max && out_max < GW_XBOUND_MAX ? out_max : GW_XBOUND_MAX;
    return GW_MIN(rel, abs);
}

void gw_xbound_init(struct gw_xbound *b, const struct gw_xlate *x, size_t in_len, size_t fixed)
{
    b->in_len = in_len;
    b->limit = gw_xbound_limit(in_len, fixed, x->out_max);
    b->cap = 0;
}

int gw_xbound_refuse(const struct gw_xbound *b, struct gw_xlate_err *err)
{
    err->status = 400;
    err->param = NULL;
    snprintf(err->message, sizeof(err->message),
             "The translated request would be larger than %zu bytes (%ux this request's %zu "
             "bytes, at least %zu, at most %zu); shorten the conversation, tool results or tool "
             "names.",
             b->limit, GW_XBOUND_FACTOR, b->in_len, GW_XBOUND_FLOOR, GW_XBOUND_MAX);
    return -1;
}

int gw_xlate_fail(struct gw_xlate_err *err, const char *param, const char *fmt, ...)
{
    va_list ap;
    err->status = 400;
    err->param = param;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int gw_xlate_fail_mem(struct gw_xlate_err *err)
{
    err->status = 500;
    err->param = NULL;
    snprintf(err->message, sizeof(err->message), "out of memory translating the request");
    return -1;
}

char *gw_xbound_buf(struct gw_xbound *b, struct gw_arena *a, size_t want, struct gw_xlate_err *err)
{
    size_t cap;
    if (b->cap == 0) {
        cap = GW_MIN(GW_MAX(want, (size_t)1), b->limit);
    } else if (b->cap >= b->limit) {
        gw_xbound_refuse(b, err);
        return NULL;
    } else {
        /* Double, but go straight to the limit once a doubling would pass half
         * of it: every earlier buffer then adds up to less than the last one. */
        cap = b->cap > b->limit / 4 ? b->limit : 2 * b->cap;
    }
    char *p = gw_arena_alloc(a, cap);
    if (!p) {
        gw_xlate_fail_mem(err);
        return NULL;
    }
    b->cap = cap;
    return p;
}

int gw_xbound_overflow(const struct gw_xbound *b, struct gw_xlate_err *err)
{
    if (b->cap >= b->limit)
        return gw_xbound_refuse(b, err);
    return gw_xlate_fail_mem(err);
}

static bool name_char(unsigned char ch, const char *extra)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '_' || ch == '-')
        return true;
    return extra && ch && strchr(extra, ch);
}

int gw_xbound_name(struct gw_span raw, const char *extra, struct gw_arena *a,
                   struct gw_xlate_err *err, const char *param_fmt, ...)
{
    char name[GW_XBOUND_NAME_MAX];
    /* -1: an invalid escape, or more than GW_XBOUND_NAME_MAX bytes decoded */
    long n = gw_json_unescape(raw, name, sizeof(name));
    bool ok = n > 0;
    for (long i = 0; ok && i < n; i++)
        ok = name_char((unsigned char)name[i], extra);
    if (ok)
        return 0;

    err->status = 400;
    err->param = NULL;
    char param[96];
    va_list ap;
    va_start(ap, param_fmt);
    int k = vsnprintf(param, sizeof(param), param_fmt, ap);
    va_end(ap);
    if (k > 0)
        err->param = gw_arena_strndup(a, param, GW_MIN((size_t)k, sizeof(param) - 1));
    const char *what = n < 0 && raw.len > GW_XBOUND_NAME_MAX ? "is too long" : "is not valid";
    snprintf(err->message, sizeof(err->message),
             "Invalid '%s': the function name %s (%zu bytes); it must be 1 to %d characters "
             "from a-z, A-Z, 0-9 and \"_-%s\".",
             err->param ? err->param : "name", what, raw.len, GW_XBOUND_NAME_MAX,
             extra ? extra : "");
    return -1;
}
