/*
 * tools/conduitctl/view.c — reading the admin API's JSON with core/json.h's
 * tokenizer (no DOM: members are found by scanning, arrays walked element by
 * element) and printing aligned tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "tools/conduitctl/ctl.h"

/* The member named key (length kl) of the object doc. */
static bool get_member(struct gw_span doc, const char *key, size_t kl, struct ctl_val *v)
{
    char name[128];
    if (kl >= sizeof(name))
        return false;
    memcpy(name, key, kl);
    name[kl] = 0;
    const char *keys[] = {name};
    struct gw_json_member m;
    if (gw_json_scan_object(doc.ptr, doc.len, keys, 1, &m) < 0 || !m.found)
        return false;
    v->type = m.value.type;
    v->raw = m.value.span;
    v->text = gw_span_make(doc.ptr + m.value.start, m.value_end - m.value.start);
    return true;
}

bool ctl_get(struct gw_span doc, const char *path, struct ctl_val *v)
{
    for (;;) {
        size_t kl = strcspn(path, ".");
        if (!get_member(doc, path, kl, v))
            return false;
        if (!path[kl])
            return true;
        if (v->type != GW_JT_OBJ_BEGIN)
            return false;
        doc = v->text;
        path += kl + 1;
    }
}

int ctl_each(struct gw_span arr, int (*fn)(void *arg, struct gw_span elem), void *arg)
{
    if (!gw_json_validate(arr.ptr, arr.len))
        return -1;
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, arr.ptr, arr.len);
    if (gw_json_next(&j, &t) != 1 || t.type != GW_JT_ARR_BEGIN)
        return -1;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_ARR_END)
            return 0;
        size_t end;
        if (gw_json_skip(&j, &t, &end) < 0)
            return -1;
        if (fn(arg, gw_span_make(arr.ptr + t.start, end - t.start)))
            return 0;
    }
}

static char *dup_span(const char *p, size_t n)
{
    char *s = ctl_xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* A string value unescaped; control characters shown as '?' so a table stays one line. */
static char *unescape(struct gw_span raw)
{
    char *s = ctl_xmalloc(raw.len + 1);
    long n = gw_json_unescape(raw, s, raw.len);
    if (n < 0)
        n = 0;
    for (long i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = '?';
    }
    s[n] = 0;
    return s;
}

struct join {
    struct ctl_buf b;
    bool all_strings;
};

static int join_one(void *arg, struct gw_span elem)
{
    struct join *jn = arg;
    if (elem.len < 2 || elem.ptr[0] != '"') {
        jn->all_strings = false;
        return 1;
    }
    char *s = unescape(gw_span_make(elem.ptr + 1, elem.len - 2));
    if (jn->b.len)
        ctl_buf_puts(&jn->b, ",");
    ctl_buf_puts(&jn->b, s);
    free(s);
    return 0;
}

char *ctl_val_text(const struct ctl_val *v)
{
    switch (v->type) {
    case GW_JT_STRING:
        return unescape(v->raw);
    case GW_JT_NULL:
        return dup_span("-", 1);
    case GW_JT_ARR_BEGIN: {
        struct join jn = {.all_strings = true};
        if (ctl_each(v->text, join_one, &jn) == 0 && jn.all_strings)
            return jn.b.p ? jn.b.p : dup_span("", 0);
        ctl_buf_free(&jn.b);
        return dup_span(v->text.ptr, v->text.len);
    }
    default:
        return dup_span(v->text.ptr, v->text.len);
    }
}

char *ctl_money_text(const struct ctl_val *v, bool found)
{
    if (!found || v->type != GW_JT_NUMBER)
        return found && v->type != GW_JT_NULL ? ctl_val_text(v) : dup_span("-", 1);
    char num[64];
    size_t n = GW_MIN(v->raw.len, sizeof(num) - 1);
    memcpy(num, v->raw.ptr, n);
    num[n] = 0;
    char out[64];
    double d = strtod(num, NULL);
    snprintf(out, sizeof(out), "%s$%.6f", d < 0 ? "-" : "", d < 0 ? -d : d);
    return dup_span(out, strlen(out));
}

bool ctl_get_str(struct gw_span doc, const char *path, char *buf, size_t cap)
{
    struct ctl_val v;
    if (!ctl_get(doc, path, &v) || v.type != GW_JT_STRING || cap == 0)
        return false;
    long n = gw_json_unescape(v.raw, buf, cap - 1);
    if (n < 0)
        return false;
    buf[n] = 0;
    return true;
}

bool ctl_get_i64(struct gw_span doc, const char *path, int64_t *out)
{
    struct ctl_val v;
    if (!ctl_get(doc, path, &v) || (v.type != GW_JT_NUMBER && v.type != GW_JT_STRING))
        return false;
    uint64_t u;
    if (!gw_json_to_u64(v.raw, &u) || u > INT64_MAX)
        return false;
    *out = (int64_t)u;
    return true;
}

void ctl_table_init(struct ctl_table *t, const char *const *heads, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->heads = heads;
    t->ncols = ncols;
}

void ctl_table_add(struct ctl_table *t, char **row)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
        if (!c) {
            fputs("conduitctl: out of memory\n", stderr);
            exit(1);
        }
        t->cells = c;
        t->cap = cap;
    }
    memcpy(t->cells + t->nrows * t->ncols, row, t->ncols * sizeof(*row));
    t->nrows++;
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t width_of(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void print_row(FILE *f, const char *const *cells, const size_t *w, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        fputs(cells[c], f);
        if (c + 1 < n) {
            for (size_t k = width_of(cells[c]); k < w[c] + 2; k++)
                fputc(' ', f);
        }
    }
    fputc('\n', f);
}

void ctl_table_print(const struct ctl_table *t, FILE *f, bool with_head)
{
    size_t *w = ctl_xmalloc(t->ncols * sizeof(*w));
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = with_head ? width_of(t->heads[c]) : 0;
        for (size_t r = 0; r < t->nrows; r++)
            w[c] = GW_MAX(w[c], width_of(t->cells[r * t->ncols + c]));
    }
    if (with_head)
        print_row(f, t->heads, w, t->ncols);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(f, (const char *const *)t->cells + r * t->ncols, w, t->ncols);
    free(w);
}

void ctl_table_free(struct ctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
