/*
 * Fuzzes the Bedrock ConverseStream translator (providers/bedrock.c) and the
 * event stream decoder under it. The input is either raw upstream bytes
 * (AWS event stream messages, CRCs and all), or, when it starts with
 * "ESJ\n", a readable script turned into valid messages first, so the
 * fuzzer reaches the JSON handling without having to forge CRCs:
 *   records separated by 0x1E; each is a kind byte ('e' event, 'x' exception,
 *   'r' error, anything else: no headers), a header value (the event type,
 *   exception type or error code) up to 0x1F, then the payload.
 * The stream is fed in two pieces, split at a point derived from the input's
 * hash, then ended. Every chunk written must be "data: " + valid JSON + "\n\n"
 * or "data: [DONE]\n\n", nothing may be written after the translator said
 * the stream ended, the arena stays bounded, and the output must not depend
 * on the split: a one-piece run must write the same bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "providers/bedrock.h"
#include "providers/eventstream.h"
#include "providers/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_LIMIT (16u << 20)

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

/* Runs the translator over s[0..len) cut at `cut`; the output goes to *o. */
static void run(const char *s, size_t len, size_t cut, bool want_usage, struct out *o)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, ARENA_LIMIT);
    struct gw_xlate x = {
        .upstream_model = "anthropic.claude-3-5-sonnet-20240620-v1:0",
        .client_model = "claude",
        .request_id = "fuzz",
        .created = 1,
        .want_usage = want_usage,
        .arena = &a,
    };
    struct gw_bedrock_stream st;
    struct gw_xlate_sink sink = {sink_write, o};
    struct gw_xlate_usage u = {0};
    gw_bedrock_stream_init(&st, &x);
    int r = gw_bedrock_stream_feed(&st, s, cut, &sink, &u);
    GW_BUG_ON(r < -1 || r > 1);
    if (r == 0) {
        r = gw_bedrock_stream_feed(&st, s + cut, len - cut, &sink, &u);
        GW_BUG_ON(r < -1 || r > 1);
    }
    o->closed = r != 0;
    int e = gw_bedrock_stream_end(&st, &sink, &u);
    GW_BUG_ON(e != 1 && e != -1);
    GW_BUG_ON(r != 0 && e != r);
    o->closed = true;
    GW_BUG_ON(a.total > ARENA_LIMIT);
    gw_arena_destroy(&a);
}

/* The "ESJ\n" script -> encoded messages (malloc'd into *out). */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *owned = NULL;
    const char *s = (const char *)data;
    if (size >= 4 && memcmp(data, "ESJ\n", 4) == 0) {
        size = script(data + 4, size - 4, &owned);
        s = owned;
    }
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a picks the split point */
    for (size_t i = 0; i < size; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    bool want_usage = h & 1;
    struct out one = {0}, two = {0};
    run(s, size, size, want_usage, &one);
    run(s, size, (size_t)((h >> 1) % (size + 1)), want_usage, &two);
    /* Where the input is cut must not matter. */
    GW_BUG_ON(one.n != two.n || (one.n && memcmp(one.p, two.p, one.n) != 0));
    free(one.p);
    free(two.p);
    free(owned);
    return 0;
}
