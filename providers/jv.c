/*
 * providers/jv.c — the read-only JSON value view (providers/jv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "providers/jv.h"

bool gw_jv_streq(const struct gw_jv *v, const char *s)
{
    return gw_jv_is(v, GW_JT_STRING) && gw_json_str_eq(v->str, s);
}

int gw_jv_scan(struct gw_span obj, const char *const *keys, size_t n, struct gw_jv *out)
{
    struct gw_json_member m[GW_JV_SCAN_MAX];
    GW_BUG_ON(n > GW_ARRAY_SIZE(m));
    memset(out, 0, n * sizeof(*out));
    if (!obj.ptr || gw_json_scan_object(obj.ptr, obj.len, keys, n, m) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!m[i].found || m[i].value.type == GW_JT_NULL)
            continue;
        out[i].found = true;
        out[i].type = m[i].value.type;
        out[i].raw = gw_span_make(obj.ptr + m[i].value.start, m[i].value_end - m[i].value.start);
        out[i].str = m[i].value.span;
    }
    return 0;
}

int gw_jv_scan_obj(const struct gw_jv *v, const char *const *keys, size_t n, struct gw_jv *out)
{
    if (!gw_jv_is(v, GW_JT_OBJ_BEGIN)) {
        memset(out, 0, n * sizeof(*out));
        return -1;
    }
    if (gw_jv_scan(v->raw, keys, n, out) != 0) {
        memset(out, 0, n * sizeof(*out));
        return -1;
    }
    return 0;
}

struct gw_jv gw_jv_member(const struct gw_jv *v, const char *key)
{
    struct gw_jv out = {0};
    (void)gw_jv_scan_obj(v, &key, 1, &out);
    return out;
}

bool gw_jv_obj_empty(const struct gw_jv *v)
{
    struct gw_json j;
    struct gw_json_tok t;
    if (!gw_jv_is(v, GW_JT_OBJ_BEGIN))
        return false;
    gw_json_init(&j, v->raw.ptr, v->raw.len);
    return gw_json_next(&j, &t) == 1 && gw_json_next(&j, &t) == 1 && t.type == GW_JT_OBJ_END;
}

int gw_jv_arr_begin(struct gw_jv_it *it, const struct gw_jv *arr)
{
    struct gw_json_tok t;
    if (!gw_jv_is(arr, GW_JT_ARR_BEGIN))
        return -1;
    gw_json_init(&it->j, arr->raw.ptr, arr->raw.len);
    return gw_json_next(&it->j, &t) == 1 && t.type == GW_JT_ARR_BEGIN ? 0 : -1;
}

int gw_jv_arr_next(struct gw_jv_it *it, struct gw_jv *el)
{
    struct gw_json_tok t;
    size_t end;
    if (gw_json_next(&it->j, &t) != 1)
        return -1;
    if (t.type == GW_JT_ARR_END)
        return 0;
    if (gw_json_skip(&it->j, &t, &end) != 0)
        return -1;
    el->found = t.type != GW_JT_NULL;
    el->type = t.type;
    el->raw = gw_span_make(it->j.buf + t.start, end - t.start);
    el->str = t.span;
    return 1;
}

long gw_jv_arr_count(const struct gw_jv *arr)
{
    struct gw_jv_it it;
    struct gw_jv el;
    long n = 0;
    int r;
    if (gw_jv_arr_begin(&it, arr) != 0)
        return -1;
    while ((r = gw_jv_arr_next(&it, &el)) == 1)
        n++;
    return r == 0 ? n : -1;
}

char *gw_jv_unesc(struct gw_arena *a, struct gw_span raw, size_t *n)
{
    char *p = gw_arena_alloc(a, raw.len + 1);
    if (!p)
        return NULL;
    long k = gw_json_unescape(raw, p, raw.len + 1);
    if (k < 0)
        return NULL;
    p[k] = '\0';
    if (n)
        *n = (size_t)k;
    return p;
}

bool gw_jv_u64(const struct gw_jv *v, uint64_t *out)
{
    *out = 0;
    return gw_jv_is(v, GW_JT_NUMBER) && gw_json_to_u64(v->str, out);
}

bool gw_jv_double(const struct gw_jv *v, double *out)
{
    char buf[64];
    *out = 0;
    if (!gw_jv_is(v, GW_JT_NUMBER) || v->str.len >= sizeof(buf))
        return false;
    memcpy(buf, v->str.ptr, v->str.len);
    buf[v->str.len] = '\0';
    *out = strtod(buf, NULL);
    return true;
}

bool gw_jv_is_int(const struct gw_jv *v)
{
    if (!gw_jv_is(v, GW_JT_NUMBER))
        return false;
    for (size_t i = 0; i < v->str.len; i++)
        if (v->str.ptr[i] == '.' || v->str.ptr[i] == 'e' || v->str.ptr[i] == 'E')
            return false;
    return true;
}
