#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/common.h"
#include "core/span.h"
#include "core/sse.h"

/*
 * Finding line ends fast. A line ends at the first CR or LF, and memchr can
 * look for only one byte, so each of the two has a cursor remembering the
 * next hit or how far the search came up empty. The smaller of the two
 * bounds is extended each round; once one byte is found, the other is only
 * searched up to it. In an LF stream that is one memchr for LF and one for CR
 * bounded by the line, per line.
 *
 * A plain "memchr to the end of the buffer" would be quadratic: in a CR-only
 * stream every line (and every gw_sse_next call) would scan the whole rest of
 * the buffer for an LF that never comes. So a search that is not bounded by
 * the other byte's hit looks only through a window, and the window doubles
 * each time such a search comes up empty. Searched ranges never overlap
 * within a call, and the last window overshoots the event by no more than
 * the bytes already searched plus the first window: work stays linear in
 * the event returned.
 */
#define NO_HIT SIZE_MAX
#define FIRST_WINDOW 256

struct seek {
    size_t hit;  /* index of the next such byte at or after the current line, or NO_HIT */
    size_t done; /* with NO_HIT: none in [current position, done) */
};

struct lines {
    const char *buf;
    size_t len;
    size_t win; /* size of the next unbounded search */
    struct seek lf, cr;
};

static void lines_init(struct lines *l, const char *buf, size_t len)
{
    l->buf = buf;
    l->len = len;
    l->win = FIRST_WINDOW;
    l->lf = (struct seek){NO_HIT, 0};
    l->cr = (struct seek){NO_HIT, 0};
}

/* Forgets what lies before pos: a hit there is stale, an empty range starts at pos. */
static void seek_move(struct seek *k, size_t pos)
{
    if (k->hit == NO_HIT ? k->done < pos : k->hit < pos) {
        k->hit = NO_HIT;
        k->done = pos;
    }
}

static size_t seek_bound(const struct seek *k)
{
    return k->hit != NO_HIT ? k->hit : k->done;
}

/* Returns the index of the first CR or LF at or after pos, or len when there is none. */
static size_t find_eol(struct lines *l, size_t pos)
{
    seek_move(&l->lf, pos);
    seek_move(&l->cr, pos);
    for (;;) {
        size_t blf = seek_bound(&l->lf), bcr = seek_bound(&l->cr);
        if (l->lf.hit != NO_HIT && blf <= bcr)
            return blf;
        if (l->cr.hit != NO_HIT && bcr <= blf)
            return bcr;
        /* The smaller bound is an empty range; extend it. */
        bool lf_first = blf <= bcr;
        struct seek *k = lf_first ? &l->lf : &l->cr;
        const struct seek *o = lf_first ? &l->cr : &l->lf;
        if (k->done >= l->len)
            return l->len; /* then o is an empty range up to len as well */
        size_t end;
        bool windowed = o->hit == NO_HIT;
        if (windowed) {
            end = l->len - k->done > l->win ? k->done + l->win : l->len;
            end = GW_MAX(end, o->done);
        } else {
            end = o->hit;
        }
        const char *p = memchr(l->buf + k->done, lf_first ? '\n' : '\r', end - k->done);
        if (p) {
            k->hit = (size_t)(p - l->buf);
        } else {
            k->done = end;
            if (windowed && l->win <= SIZE_MAX / 2)
                l->win *= 2;
        }
    }
}

/*
 * Finds the line starting at pos. Returns false when it is incomplete: no
 * terminator yet, or a CR that is the last byte (unless the stream has ended,
 * `final`). On true, *eol is where the line's content ends and *next where the
 * following line starts.
 */
static bool line_next(struct lines *l, size_t pos, bool final, size_t *eol, size_t *next)
{
    size_t e = find_eol(l, pos);
    if (e == l->len)
        return false;
    size_t n = e + 1;
    if (l->buf[e] == '\r') {
        if (n == l->len) {
            if (!final)
                return false;
        } else if (l->buf[n] == '\n') {
            n++;
        }
    }
    *eol = e;
    *next = n;
    return true;
}

/*
 * Splits a non-empty line into field name and value (§9.2.6: value after the
 * first colon, one leading space removed; no colon means the whole line is
 * the name and the value is empty). Returns false for a comment line.
 */
static bool split_field(const char *p, size_t n, struct gw_span *name, struct gw_span *val)
{
    if (p[0] == ':')
        return false;
    const char *colon = memchr(p, ':', n);
    if (!colon) {
        *name = gw_span_make(p, n);
        *val = gw_span_make(p + n, 0);
        return true;
    }
    *name = gw_span_make(p, (size_t)(colon - p));
    const char *v = colon + 1;
    const char *end = p + n;
    if (v < end && *v == ' ')
        v++;
    *val = gw_span_make(v, (size_t)(end - v));
    return true;
}

static bool name_is(struct gw_span name, const char *lit, size_t n)
{
    return name.len == n && memcmp(name.ptr, lit, n) == 0;
}

static void take_field(struct gw_sse_event *e, const char *p, size_t n)
{
    struct gw_span name, val;
    if (!split_field(p, n, &name, &val))
        return;
    e->has_fields = true;
    if (name_is(name, "data", 4)) {
        if (e->data_lines++ == 0)
            e->data = val;
    } else if (name_is(name, "event", 5)) {
        e->event = val;
    } else if (name_is(name, "id", 2)) {
        /* §9.2.6: an id containing NUL is ignored, not applied. */
        if (!memchr(val.ptr, '\0', val.len))
            e->id = val;
    }
    /* "retry" and anything else: nothing a relay needs. */
}

static int parse(const char *buf, size_t len, struct gw_sse_event *ev, bool final)
{
    /* The result is an int; an event that does not fit reads as incomplete and
     * the caller's cap on kept bytes ends it. */
    if (len > INT_MAX)
        len = INT_MAX;
    struct lines l;
    lines_init(&l, buf, len);
    struct gw_sse_event e = {
        .raw = gw_span_make(buf, 0),
        .event = GW_SPAN_NULL,
        .id = GW_SPAN_NULL,
        .data = GW_SPAN_NULL,
        .data_lines = 0,
        .has_fields = false,
    };
    bool open = false; /* a non-blank line has been seen */
    size_t pos = 0;
    for (;;) {
        size_t eol, next;
        if (!line_next(&l, pos, final, &eol, &next))
            return -2;
        if (eol == pos) {
            pos = next;
            if (open) {
                e.raw.len = pos;
                *ev = e;
                return (int)pos;
            }
            continue;
        }
        open = true;
        take_field(&e, buf + pos, eol - pos);
        pos = next;
    }
}

int gw_sse_next(const char *buf, size_t len, struct gw_sse_event *ev)
{
    return parse(buf, len, ev, false);
}

int gw_sse_next_final(const char *buf, size_t len, struct gw_sse_event *ev)
{
    return parse(buf, len, ev, true);
}

long gw_sse_data_join(const struct gw_sse_event *ev, char *out, size_t cap)
{
    if (ev->data_lines <= 1) {
        if (ev->data.len > cap)
            return -1;
        if (ev->data.len)
            memcpy(out, ev->data.ptr, ev->data.len);
        return (long)ev->data.len;
    }
    /* raw is a complete event, so every line in it is terminated. */
    struct lines l;
    lines_init(&l, ev->raw.ptr, ev->raw.len);
    size_t pos = 0, n = 0;
    unsigned seen = 0;
    while (seen < ev->data_lines) {
        size_t eol, next;
        bool ok = line_next(&l, pos, true, &eol, &next);
        GW_BUG_ON(!ok); /* raw does not come from gw_sse_next */
        struct gw_span name, val;
        if (eol > pos && split_field(ev->raw.ptr + pos, eol - pos, &name, &val) &&
            name_is(name, "data", 4)) {
            size_t sep = seen ? 1 : 0;
            if (val.len + sep > cap - n)
                return -1;
            if (sep)
                out[n++] = '\n';
            if (val.len)
                memcpy(out + n, val.ptr, val.len);
            n += val.len;
            seen++;
        }
        pos = next;
    }
    return (long)n;
}

bool gw_sse_is_done(const struct gw_sse_event *ev)
{
    /* Two or more data lines always join with a "\n", so only one can match. */
    return ev->data_lines == 1 && gw_span_eq(ev->data, GW_SPAN_LIT("[DONE]"));
}

size_t gw_sse_skip_bom(const char *buf, size_t len)
{
    return len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

size_t gw_sse_write_data(char *out, size_t cap, const char *payload, size_t len)
{
    static const char pre[] = "data: ";
    const size_t pre_len = sizeof(pre) - 1;
    if (cap < pre_len + 2 || len > cap - pre_len - 2)
        return 0;
    GW_DEBUG_ASSERT(!len || (!memchr(payload, '\n', len) && !memchr(payload, '\r', len)));
    memcpy(out, pre, pre_len);
    if (len)
        memcpy(out + pre_len, payload, len);
    out[pre_len + len] = '\n';
    out[pre_len + len + 1] = '\n';
    return pre_len + len + 2;
}

/* ---- the incremental reader ---- */

void gw_sse_reader_init(struct gw_sse_reader *r, struct gw_arena *a, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->_arena = a;
    r->_max = max;
}

/* Makes _buf hold at least `need` (<= _max) bytes, keeping what it holds. */
static int reader_reserve(struct gw_sse_reader *r, size_t need)
{
    if (need <= r->_cap)
        return 0;
    size_t cap = r->_cap ? r->_cap : 4096;
    while (cap < need)
        cap *= 2;
    cap = GW_MIN(cap, r->_max);
    char *p = gw_arena_alloc(r->_arena, cap);
    if (!p)
        return GW_SSE_NOMEM;
    if (r->_data_len + r->_line_len)
        memcpy(p, r->_buf, r->_data_len + r->_line_len);
    r->_buf = p;
    r->_cap = cap;
    return 0;
}

/* One complete line at _buf[_data_len.._data_len+_line_len). */
static int reader_line(struct gw_sse_reader *r, gw_sse_event_fn fn, void *arg)
{
    size_t n = r->_line_len;
    r->_line_len = 0;
    if (n == 0) { /* blank line: the event is complete (_buf may still be NULL) */
        int ret = 0;
        if (r->_has_data && r->_data_len) {
            size_t el = r->_event_len == UCHAR_MAX ? 0 : r->_event_len;
            struct gw_span ev = gw_span_make(r->_event, el);
            if (r->_event_len == UCHAR_MAX)
                ev = gw_span_make("\n", 1); /* a type no caller names */
            ret = fn(arg, ev, gw_span_make(r->_buf, r->_data_len));
        }
        r->_data_len = 0;
        r->_has_data = false;
        r->_event_len = 0;
        return ret;
    }
    char *l = r->_buf + r->_data_len;
    struct gw_span name, val;
    if (!split_field(l, n, &name, &val))
        return 0;
    if (name_is(name, "event", 5)) {
        if (val.len < sizeof(r->_event)) {
            memcpy(r->_event, val.ptr, val.len);
            r->_event_len = (unsigned char)val.len;
        } else {
            r->_event_len = UCHAR_MAX;
        }
        return 0;
    }
    if (!name_is(name, "data", 4))
        return 0; /* id:, retry: say nothing the data does not */
    if (r->_has_data)
        r->_buf[r->_data_len++] = '\n'; /* at most the 'd' of "data" it overwrites */
    memmove(r->_buf + r->_data_len, val.ptr, val.len);
    r->_data_len += val.len;
    r->_has_data = true;
    return 0;
}

int gw_sse_reader_feed(struct gw_sse_reader *r, const char *data, size_t len, gw_sse_event_fn fn,
                       void *arg)
{
    size_t i = 0;
    if (r->_cr && len) {
        r->_cr = false;
        if (data[0] == '\n')
            i = 1;
    }
    while (i < len) {
        /* A byte loop, not memchr for each of CR and LF: that would rescan the
         * rest of the input for every line of a CR-only stream. */
        size_t k = i;
        while (k < len && data[k] != '\n' && data[k] != '\r')
            k++;
        size_t add = k - i;
        if (add) {
            size_t need = r->_data_len + r->_line_len + add;
            if (need > r->_max)
                return GW_SSE_OVERSIZE;
            int e = reader_reserve(r, need);
            if (e != 0)
                return e;
            memcpy(r->_buf + r->_data_len + r->_line_len, data + i, add);
            r->_line_len += add;
        }
        if (k == len)
            break;
        i = k + 1;
        if (data[k] == '\r') {
            if (i < len && data[i] == '\n')
                i++;
            else if (i == len)
                r->_cr = true;
        }
        int ret = reader_line(r, fn, arg);
        if (ret != 0)
            return ret;
    }
    return 0;
}
