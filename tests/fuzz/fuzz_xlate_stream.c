/*
 * Fuzzes one translating dialect's stream translator through its table
 * (providers/dialect.h). The dialect is chosen at compile time:
 * GW_FUZZ_DIALECT names the table (gw_dialect_anthropic, ...), and CMake
 * builds fuzz_<dialect>_stream from this file for each, with its corpus in
 * tests/fuzz/corpus/<dialect>_stream.
 *
 * The input is the upstream's stream bytes after HTTP de-chunking. For a
 * dialect whose stream is AWS event stream framed (Bedrock), an input that
 * starts with "ESJ\n" is a readable script turned into valid messages first,
 * so the fuzzer reaches the JSON handling without having to forge CRCs:
 *   records separated by 0x1E; each is a kind byte ('e' event, 'x' exception,
 *   'r' error, anything else: no headers), a header value (the event type,
 *   exception type or error code) up to 0x1F, then the payload.
 *
 * The stream is fed whole, in two pieces split at a point derived from the
 * input's hash, and (inputs up to 512 bytes) a byte at a time, then ended,
 * with usage asked for or not (a hash bit). Checks:
 *  - every write is one chunk "data: " + valid JSON + "\n\n" or
 *    "data: [DONE]\n\n", and nothing follows [DONE];
 *  - nothing is written after the translator said the stream ended (a feed
 *    that returned non-zero), and ending it again writes nothing and says the
 *    same;
 *  - every stream, clean or not, ends with [DONE] (an error chunk first when
 *    it failed), so a client waiting for it always ends;
 *  - the arena stays under its limit;
 *  - where the input is cut changes nothing: each run writes the same bytes
 *    and ends the same way.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/common.h"
#include "providers/dialect.h"
#include "providers/eventstream.h"
#include "providers/xlate.h"
#include "fuzz_common.h"

#ifndef GW_FUZZ_DIALECT
#error "GW_FUZZ_DIALECT must name a dialect table (gw_dialect_anthropic, ...)"
#endif

#define ARENA_LIMIT (64u << 20)
#define BYTEWISE_MAX 512 /* inputs fed a byte at a time too */

static const struct gw_dialect *const dialect = &GW_FUZZ_DIALECT;

/*
 * Runs the translator over s[0..len) fed as the pieces between cuts[0..ncuts)
 * (ascending); the output goes to *o. Returns how the stream ended.
 */
static int run(const char *s, size_t len, const size_t *cuts, size_t ncuts, bool want_usage,
               struct fz_out *o)
{
    struct gw_arena a;
    struct gw_provider p;
    gw_arena_init(&a, 4096, ARENA_LIMIT);
    fz_provider(&p, fz_dialect_type(dialect));
    struct gw_xlate x = fz_xlate(&p, &a, GW_EP_CHAT);
    x.stream = true;
    x.want_usage = want_usage;
    void *st = gw_arena_zalloc(&a, dialect->stream_size);
    GW_BUG_ON(!st);
    struct gw_xlate_sink sink = {fz_sink_write, o};
    struct gw_xlate_usage u = {0};
    dialect->stream_init(st, &x);
    int r = 0;
    size_t off = 0;
    for (size_t i = 0; i <= ncuts && r == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        r = dialect->stream_feed(st, s + off, end - off, &sink, &u);
        GW_BUG_ON(r < -1 || r > 1);
        off = end;
    }
    o->closed = r != 0;
    int e = dialect->stream_end(st, &sink, &u);
    GW_BUG_ON(e != 1 && e != -1);
    GW_BUG_ON(r != 0 && e != r);
    o->closed = true;
    GW_BUG_ON(!o->done); /* ended, cleanly or not: [DONE] was the last write */
    GW_BUG_ON(dialect->stream_end(st, &sink, &u) != e);
    GW_BUG_ON(dialect->stream_feed(st, "x", 1, &sink, &u) != e);
    GW_BUG_ON(a.total > ARENA_LIMIT);
    gw_arena_destroy(&a);
    return e;
}

/* The "ESJ\n" script -> encoded event stream messages (malloc'd into *out). */
static size_t script(const uint8_t *d, size_t n, char **out)
{
    size_t cap = 2 * n + 256, len = 0;
    char *buf = malloc(cap);
    GW_BUG_ON(!buf);
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && d[end] != 0x1E)
            end++;
        /* one record d[i..end) */
        char kind = i < end ? (char)d[i] : 0;
        size_t v0 = i < end ? i + 1 : end, v1 = v0;
        while (v1 < end && d[v1] != 0x1F)
            v1++;
        char value[256];
        size_t vl = GW_MIN(v1 - v0, sizeof(value) - 1);
        memcpy(value, d + v0, vl);
        value[vl] = '\0';
        size_t p0 = v1 < end ? v1 + 1 : end;
        struct gw_es_header h[3];
        size_t nh = 0;
        if (kind == 'e') {
            h[nh++] = (struct gw_es_header){":event-type", value};
            h[nh++] = (struct gw_es_header){":content-type", "application/json"};
            h[nh++] = (struct gw_es_header){":message-type", "event"};
        } else if (kind == 'x') {
            h[nh++] = (struct gw_es_header){":exception-type", value};
            h[nh++] = (struct gw_es_header){":message-type", "exception"};
        } else if (kind == 'r') {
            h[nh++] = (struct gw_es_header){":error-code", value};
            h[nh++] = (struct gw_es_header){":message-type", "error"};
        }
        size_t need = len + 16 + 3 * (2 + 16 + 3 + sizeof(value)) + (end - p0);
        if (need > cap) {
            cap = need * 2;
            buf = realloc(buf, cap);
            GW_BUG_ON(!buf);
        }
        /* A NUL inside a header value ends it (strlen), as the encoder reads it. */
        size_t k = gw_es_encode(buf + len, cap - len, h, nh, d + p0, end - p0);
        GW_BUG_ON(k == 0);
        len += k;
        i = end + 1;
    }
    *out = buf;
    return len;
}

static bool eventstream_framed(void)
{
    static const char es[] = "application/vnd.amazon.eventstream";
    return dialect->stream_ctype && strncasecmp(dialect->stream_ctype, es, sizeof(es) - 1) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *owned = NULL;
    if (eventstream_framed() && size >= 4 && memcmp(data, "ESJ\n", 4) == 0) {
        size = script(data + 4, size - 4, &owned);
        s = owned;
    }
    uint64_t h = fz_hash((const uint8_t *)s, size);
    bool want_usage = h & 1;

    struct fz_out one = {0}, two = {0};
    int e1 = run(s, size, NULL, 0, want_usage, &one);
    size_t cut = (size_t)((h >> 1) % (size + 1));
    int e2 = run(s, size, &cut, 1, want_usage, &two);
    /* Where the input is cut must not matter. */
    GW_BUG_ON(e1 != e2 || !fz_out_eq(&one, &two));
    fz_out_free(&two);

    if (size <= BYTEWISE_MAX) {
        size_t *cuts = malloc((size ? size : 1) * sizeof(*cuts));
        GW_BUG_ON(!cuts);
        for (size_t i = 0; i + 1 < size; i++)
            cuts[i] = i + 1;
        struct fz_out bytes = {0};
        int e3 = run(s, size, cuts, size ? size - 1 : 0, want_usage, &bytes);
        GW_BUG_ON(e1 != e3 || !fz_out_eq(&one, &bytes));
        fz_out_free(&bytes);
        free(cuts);
    }
    fz_out_free(&one);
    free(owned);
    return 0;
}
