/*
 * Fuzzes the AWS event stream decoder (providers/eventstream.c). The input
 * is a byte stream; it is decoded in one piece, in three pieces cut at points
 * derived from the input's hash, and (when short) byte by byte. Each piece is
 * copied into its own exact-size allocation, so reading past a piece is an
 * ASan report even where the next piece follows in the input. The messages
 * handed out (all their spans, hashed), the final error and the idle state
 * must not depend on the split. A payload starting with '!' makes the
 * callback stop the stream, to cover that path too.
 *
 * Random bytes almost never carry right CRCs, which would leave the header
 * parser unexplored; so each input is also run a second time with its CRCs
 * rewritten to match wherever its lengths frame a message (fix_crcs).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/span.h"
#include "providers/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE (1u << 16)
#define ARENA_LIMIT (1u << 20) /* over 2 * MAX_MESSAGE + the first buffer: never NOMEM */

struct run {
    uint64_t digest; /* over every message handed out, in order */
    size_t n;
    enum gw_es_error err;
    bool idle;
};

static uint64_t mix(uint64_t h, struct gw_span s)
{
    h = (h ^ s.len) * 0x100000001b3ull;
    GW_BUG_ON(s.len && !s.ptr);
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.ptr[i]) * 0x100000001b3ull;
    return h;
}

static int on_msg(void *arg, const struct gw_es_message *m)
{
    struct run *r = arg;
    uint64_t h = r->digest;
    h = mix(h, m->message_type);
    h = mix(h, m->event_type);
    h = mix(h, m->exception_type);
    h = mix(h, m->error_code);
    h = mix(h, m->error_message);
    h = mix(h, m->content_type);
    h = mix(h, m->headers);
    h = mix(h, m->payload);
    /* The surfaced headers lie inside the raw block. */
    const struct gw_span *k[] = {&m->message_type, &m->event_type,    &m->exception_type,
                                 &m->error_code,   &m->error_message, &m->content_type};
    for (size_t i = 0; i < GW_ARRAY_SIZE(k); i++)
        GW_BUG_ON(k[i]->len && (k[i]->ptr < m->headers.ptr ||
                                k[i]->ptr + k[i]->len > m->headers.ptr + m->headers.len));
    r->digest = h;
    r->n++;
    return m->payload.len && m->payload.ptr[0] == '!' ? -1 : 0;
}

/* Decodes data[0..size) fed as the pieces between cuts[0..ncuts) (ascending). */
static void run(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts, struct run *out)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, ARENA_LIMIT);
    struct gw_es_decoder d;
    gw_es_init(&d, &a, MAX_MESSAGE);
    *out = (struct run){.digest = 0xcbf29ce484222325ull};
    size_t from = 0;
    int rc = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : size;
        size_t n = to - from;
        char *piece = malloc(n ? n : 1);
        GW_BUG_ON(!piece);
        if (n)
            memcpy(piece, data + from, n);
        int r = gw_es_feed(&d, piece, n, on_msg, out);
        free(piece);
        GW_BUG_ON(r != 0 && r != -1);
        GW_BUG_ON(rc == -1 && r != -1); /* once broken, always broken */
        rc = r;
        from = to;
    }
    out->err = gw_es_error(&d);
    out->idle = gw_es_idle(&d);
    GW_BUG_ON((rc == -1) != (out->err != GW_ES_OK));
    GW_BUG_ON(out->err == GW_ES_NOMEM);
    GW_BUG_ON(a.total > ARENA_LIMIT);
    gw_arena_destroy(&a);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Rewrites the prelude and message CRCs of each message p's lengths frame, in place. */
static void fix_crcs(uint8_t *p, size_t n)
{
    size_t i = 0;
    while (n - i >= GW_ES_PRELUDE_LEN) {
        put_be32(p + i + 8, gw_crc32(0, p + i, 8));
        uint32_t total = be32(p + i);
        if (total < GW_ES_MIN_MESSAGE || total > n - i)
            return;
        put_be32(p + i + total - 4, gw_crc32(0, p + i, total - 4));
        i += total;
    }
}

static void same(const struct run *x, const struct run *y)
{
    GW_BUG_ON(x->n != y->n);
    GW_BUG_ON(x->digest != y->digest);
    GW_BUG_ON(x->err != y->err);
    GW_BUG_ON(x->idle != y->idle);
}

static void check(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a picks the cut points */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;

    struct run one, three;
    run(data, size, NULL, 0, &one);

    size_t cuts[2] = {(size_t)(h % (size + 1)), (size_t)((h >> 32) % (size + 1))};
    if (cuts[0] > cuts[1]) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    run(data, size, cuts, 2, &three);
    same(&one, &three);

    if (size <= 512) {
        size_t *all = malloc((size ? size : 1) * sizeof(*all));
        GW_BUG_ON(!all);
        for (size_t i = 0; i < size; i++)
            all[i] = i;
        struct run bytes;
        run(data, size, all, size, &bytes);
        same(&one, &bytes);
        free(all);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    uint8_t *fixed = malloc(size ? size : 1);
    GW_BUG_ON(!fixed);
    if (size)
        memcpy(fixed, data, size);
    fix_crcs(fixed, size);
    check(fixed, size);
    free(fixed);
    return 0;
}
