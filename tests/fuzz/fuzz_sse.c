/*
 * Fuzzes core/sse.c. The input is an event stream (after an optional BOM). It
 * is parsed three ways and each must agree:
 *  - gw_sse_next (and gw_sse_next_final) over the whole buffer;
 *  - a byte-at-a-time reference written straight from WHATWG HTML §9.2.6, with
 *    no memchr and no shared code;
 *  - a caller that receives the stream in two pieces, split at a point
 *    derived from the input's hash, keeping unconsumed bytes between pieces.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/span.h"
#include "core/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ref_event {
    size_t start, end;     /* raw, as offsets into the stream */
    size_t ev_off, ev_len; /* event value; ev_off == SIZE_MAX when absent */
    size_t id_off, id_len;
    size_t data_off, data_len; /* first data line */
    size_t join_off, join_len; /* joined data, in the reference's join buffer */
    unsigned data_lines;
    bool has_fields;
};

struct ref {
    struct ref_event *ev; /* owns */
    size_t n;
    char *join; /* owns: every event's joined data, back to back */
    size_t join_used;
};

static bool lit_eq(const char *p, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n && lit[i]; i++)
        if (p[i] != lit[i])
            return false;
    return i == n && lit[i] == '\0';
}

static void ref_field(struct ref *r, struct ref_event *e, const char *s, size_t a, size_t b)
{
    if (s[a] == ':')
        return;
    e->has_fields = true;
    size_t colon = a;
    while (colon < b && s[colon] != ':')
        colon++;
    size_t v = colon < b ? colon + 1 : b;
    if (colon < b && v < b && s[v] == ' ')
        v++;
    const char *name = s + a;
    size_t name_len = colon - a;
    if (lit_eq(name, name_len, "data")) {
        if (e->data_lines) {
            r->join[r->join_used++] = '\n';
        } else {
            e->data_off = v;
            e->data_len = b - v;
        }
        for (size_t i = v; i < b; i++)
            r->join[r->join_used++] = s[i];
        e->data_lines++;
    } else if (lit_eq(name, name_len, "event")) {
        e->ev_off = v;
        e->ev_len = b - v;
    } else if (lit_eq(name, name_len, "id")) {
        bool nul = false;
        for (size_t i = v; i < b; i++)
            nul |= s[i] == '\0';
        if (!nul) {
            e->id_off = v;
            e->id_len = b - v;
        }
    }
}

static void ref_parse(struct ref *r, const char *s, size_t len, bool final)
{
    r->n = 0;
    r->join_used = 0;
    struct ref_event cur = {.ev_off = SIZE_MAX, .id_off = SIZE_MAX, .data_off = SIZE_MAX};
    bool open = false;
    size_t line = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n' && s[i] != '\r')
            continue;
        size_t next = i + 1;
        if (s[i] == '\r') {
            if (next == len && !final)
                return;
            if (next < len && s[next] == '\n')
                next++;
        }
        if (i == line) {
            if (open) {
                cur.end = next;
                cur.join_len = r->join_used - cur.join_off;
                r->ev[r->n++] = cur;
                cur = (struct ref_event){.start = next,
                                         .ev_off = SIZE_MAX,
                                         .id_off = SIZE_MAX,
                                         .data_off = SIZE_MAX,
                                         .join_off = r->join_used};
                open = false;
            }
        } else {
            open = true;
            ref_field(r, &cur, s, line, i);
        }
        line = next;
        i = next - 1;
    }
    /* An open event at the end has no closing blank line: not an event. */
    r->join_used = cur.join_off;
}

/*
 * The library parsed a buffer `buf` whose first byte is stream offset `shift`;
 * the reference's offsets are into the stream.
 */
struct view {
    const char *buf;
    size_t shift;
};

static void check_span(struct gw_span got, struct view v, size_t off, size_t len)
{
    if (off == SIZE_MAX) {
        GW_BUG_ON(got.ptr != NULL || got.len != 0);
        return;
    }
    GW_BUG_ON(got.ptr < v.buf || (size_t)(got.ptr - v.buf) + v.shift != off);
    GW_BUG_ON(got.len != len);
}

/* One event from the library against the reference's k-th. */
static void check_event(const struct ref *r, size_t k, const struct gw_sse_event *ev, struct view v,
                        char *join_buf, size_t join_cap)
{
    GW_BUG_ON(k >= r->n);
    const struct ref_event *e = &r->ev[k];
    GW_BUG_ON(ev->raw.ptr < v.buf || (size_t)(ev->raw.ptr - v.buf) + v.shift != e->start);
    GW_BUG_ON(ev->raw.len != e->end - e->start);
    check_span(ev->event, v, e->ev_off, e->ev_len);
    check_span(ev->id, v, e->id_off, e->id_len);
    check_span(ev->data, v, e->data_off, e->data_len);
    GW_BUG_ON(ev->data_lines != e->data_lines);
    GW_BUG_ON(ev->has_fields != e->has_fields);
    long n = gw_sse_data_join(ev, join_buf, join_cap);
    GW_BUG_ON(n < 0 || (size_t)n != e->join_len);
    GW_BUG_ON(n && memcmp(join_buf, r->join + e->join_off, (size_t)n) != 0);
    if (n > 0)
        GW_BUG_ON(gw_sse_data_join(ev, join_buf, (size_t)n - 1) != -1);
    bool done = e->data_lines == 1 && lit_eq(r->join + e->join_off, e->join_len, "[DONE]");
    GW_BUG_ON(gw_sse_is_done(ev) != done);
}

typedef int next_fn(const char *buf, size_t len, struct gw_sse_event *ev);

/* Whole-buffer parse against the reference; returns the bytes consumed. */
static size_t check_whole(const struct ref *r, const char *s, size_t len, next_fn *next,
                          char *join_buf)
{
    size_t off = 0, k = 0;
    struct gw_sse_event ev;
    int got;
    while ((got = next(s + off, len - off, &ev)) > 0) {
        GW_BUG_ON((size_t)got != ev.raw.len);
        check_event(r, k++, &ev, (struct view){s, 0}, join_buf, len);
        off += (size_t)got;
    }
    GW_BUG_ON(got != -2);
    GW_BUG_ON(k != r->n);
    return off;
}

/* The two-piece caller: events must be the reference's, in order, same bytes. */
static void check_split(const struct ref *r, const char *s, size_t len, size_t cut, char *join_buf)
{
    char *buf = malloc(len ? len : 1);
    GW_BUG_ON(!buf);
    size_t have = 0, base = 0, k = 0, fed = 0;
    const size_t ends[2] = {cut, len};
    for (int piece = 0; piece < 2; piece++) {
        memcpy(buf + have, s + fed, ends[piece] - fed);
        have += ends[piece] - fed;
        fed = ends[piece];
        size_t off = 0;
        struct gw_sse_event ev;
        int got;
        while ((got = gw_sse_next(buf + off, have - off, &ev)) > 0) {
            check_event(r, k++, &ev, (struct view){buf, base}, join_buf, len);
            off += (size_t)got;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        base += off;
    }
    GW_BUG_ON(k != r->n);
    free(buf);
}

static void check_write(const struct ref *r, const char *s)
{
    if (!r->n || r->ev[0].data_lines != 1)
        return;
    const struct ref_event *e = &r->ev[0];
    size_t cap = e->data_len + 8;
    char *out = malloc(cap);
    GW_BUG_ON(!out);
    GW_BUG_ON(gw_sse_write_data(out, cap - 1, s + e->data_off, e->data_len) != 0);
    size_t n = gw_sse_write_data(out, cap, s + e->data_off, e->data_len);
    GW_BUG_ON(n != cap);
    struct gw_sse_event ev;
    GW_BUG_ON(gw_sse_next(out, n, &ev) != (int)n);
    GW_BUG_ON(ev.data_lines != 1 || ev.data.len != e->data_len);
    GW_BUG_ON(e->data_len && memcmp(ev.data.ptr, s + e->data_off, e->data_len) != 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t bom = gw_sse_skip_bom(s, size);
    s += bom;
    size_t len = size - bom;

    struct ref r = {
        .ev = malloc((len / 2 + 1) * sizeof(struct ref_event)),
        .join = malloc(len + 1),
    };
    char *join_buf = malloc(len + 1);
    GW_BUG_ON(!r.ev || !r.join || !join_buf);

    ref_parse(&r, s, len, false);
    size_t used = check_whole(&r, s, len, gw_sse_next, join_buf);
    GW_BUG_ON(used != (r.n ? r.ev[r.n - 1].end : 0));
    check_write(&r, s);

    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a picks the split point */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    check_split(&r, s, len, (size_t)(h % (len + 1)), join_buf);

    /* At the end of the stream, a trailing lone CR ends its line. */
    ref_parse(&r, s, len, true);
    check_whole(&r, s, len, gw_sse_next_final, join_buf);

    free(join_buf);
    free(r.join);
    free(r.ev);
    return 0;
}
