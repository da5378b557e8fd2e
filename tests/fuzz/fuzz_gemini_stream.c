/*
 * Fuzzes the Gemini stream translator (providers/gemini.c), and with the same
 * input its response and error translators. The input is an upstream alt=sse
 * event stream; it is fed in two pieces, split at a point derived from the
 * input's hash, then ended. Every chunk written must be "data: " + valid JSON
 * + "\n\n" or "data: [DONE]\n\n", nothing may be written after the translator
 * said the stream ended, ending twice must write nothing more, and the output
 * must not depend on the split: a one-piece run must write the same bytes.
 * The whole input is also given to gw_gemini_translate_response and
 * gw_gemini_translate_error, whose outputs must be valid JSON.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "providers/gemini.h"
#include "providers/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    char *p;
    size_t n, cap;
    bool closed; /* the translator returned non-zero: no more writes */
};

static int sink_write(void *arg, const char *p, size_t n)
{
    struct out *o = arg;
    GW_BUG_ON(o->closed);
    GW_BUG_ON(n < 8 || memcmp(p, "data: ", 6) != 0 || memcmp(p + n - 2, "\n\n", 2) != 0);
    bool done = n == 14 && memcmp(p, "data: [DONE]\n\n", 14) == 0;
    GW_BUG_ON(!done && !gw_json_validate(p + 6, n - 8));
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        GW_BUG_ON(!o->p);
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
    return 0;
}

static struct gw_xlate make_x(struct gw_arena *a, bool want_usage)
{
    return (struct gw_xlate){
        .upstream_model = "gemini-2.5-flash",
        .client_model = "gem",
        .request_id = "fuzz",
        .created = 1,
        .want_usage = want_usage,
        .arena = a,
    };
}

/* Runs the translator over s[0..len) cut at `cut`; the output goes to *o. */
static void run(const char *s, size_t len, size_t cut, bool want_usage, struct out *o)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 64u << 20);
    struct gw_xlate x = make_x(&a, want_usage);
    struct gw_gemini_stream st;
    struct gw_xlate_sink sink = {sink_write, o};
    struct gw_xlate_usage u = {0};
    gw_gemini_stream_init(&st, &x);
    int r = gw_gemini_stream_feed(&st, s, cut, &sink, &u);
    GW_BUG_ON(r < -1 || r > 1);
    if (r == 0) {
        r = gw_gemini_stream_feed(&st, s + cut, len - cut, &sink, &u);
        GW_BUG_ON(r < -1 || r > 1);
    }
    o->closed = r != 0;
    int e = gw_gemini_stream_end(&st, &sink, &u);
    GW_BUG_ON(e != 1 && e != -1);
    GW_BUG_ON(r != 0 && e != r);
    o->closed = true;
    GW_BUG_ON(gw_gemini_stream_end(&st, &sink, &u) != e); /* writes nothing: closed */
    GW_BUG_ON(a.total > (64u << 20));
    gw_arena_destroy(&a);
}

static void whole_body(const char *s, size_t len)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    struct gw_xlate x = make_x(&a, false);
    struct gw_span out;
    struct gw_xlate_usage u = {0};
    if (gw_gemini_translate_response(&x, s, len, &out, &u) == 0)
        GW_BUG_ON(!gw_json_validate(out.ptr, out.len) || !u.have);
    int st = 0;
    GW_BUG_ON(gw_gemini_translate_error(429, GW_SPAN_NULL, s, len, &a, &out, &st) != 0);
    GW_BUG_ON(!gw_json_validate(out.ptr, out.len) || st < 400 || st > 599);
    gw_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a picks the split point */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    bool want_usage = h & 1;
    struct out one = {0}, two = {0};
    run(s, size, size, want_usage, &one);
    run(s, size, (size_t)((h >> 1) % (size + 1)), want_usage, &two);
    /* Where the input is cut must not matter. */
    GW_BUG_ON(one.n != two.n || (one.n && memcmp(one.p, two.p, one.n) != 0));
    free(one.p);
    free(two.p);
    whole_body(s, size);
    return 0;
}
