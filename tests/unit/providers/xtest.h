/*
 * tests/unit/providers/xtest.h — what every dialect suite shares: the
 * fixture (an arena, a provider and the request being translated), a
 * fixture-file loader, byte-for-byte span checks, and the stream driver that
 * feeds an upstream stream whole, split at every byte boundary and a byte at
 * a time through the dialect's table (providers/dialect.h) and requires the
 * same output each way.
 *
 * Header-only (static functions) because each suite is its own executable.
 */
#ifndef GW_TESTS_UNIT_PROVIDERS_XTEST_H
#define GW_TESTS_UNIT_PROVIDERS_XTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/span.h"
#include "providers/dialect.h"
#include "providers/xlate.h"

#define LIT_LEN(s) (sizeof(s) - 1)

/* ---- the fixture ---- */

static struct gw_arena arena;
static struct gw_provider prov;
static struct gw_xlate X;

/* A fresh arena, a provider named name with key, and X translating model for client_model. */
static inline void xt_setup(const char *name, const char *key, const char *model,
                            const char *client_model)
{
    gw_arena_init(&arena, 1 << 16, 0);
    memset(&prov, 0, sizeof(prov));
    prov.name = name;
    prov.api_key = key;
    X = (struct gw_xlate){
        .prov = &prov,
        .upstream_model = model,
        .client_model = client_model,
        .request_id = "req1",
        .created = 1700000000,
        .arena = &arena,
    };
}

static inline void xt_teardown(void)
{
    gw_arena_destroy(&arena);
}

/* The file tests/data/<rel> (malloc'd, NUL-terminated), its length in *len. */
static inline char *xt_load(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/%s", GW_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "fixture %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n >= 0);
    rewind(f);
    char *p = malloc((size_t)n + 1);
    cr_assert(p);
    cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p[n] = '\0';
    if (len)
        *len = (size_t)n;
    return p;
}

static inline void xt_assert_span(struct gw_span got, const char *want)
{
    cr_assert(got.ptr != NULL);
    cr_assert(gw_span_eq(got, gw_span_cstr(want)), "got:\n%.*s\nwant:\n%s", (int)got.len, got.ptr,
              want);
}

/* ---- streams ---- */

/* What a stream translator wrote to its sink. */
struct xt_out {
    char *p;
    size_t n, cap;
    unsigned writes;
};

static inline int xt_out_write(void *arg, const char *p, size_t n)
{
    struct xt_out *c = arg;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2 + 64;
        c->p = realloc(c->p, c->cap);
        cr_assert(c->p);
    }
    memcpy(c->p + c->n, p, n);
    c->n += n;
    c->writes++;
    return 0;
}

static inline void xt_assert_out(const struct xt_out *c, const char *want)
{
    cr_assert(c->n == strlen(want) && memcmp(c->p, want, c->n) == 0, "got:\n%.*s\nwant:\n%s",
              (int)c->n, c->p, want);
}

/*
 * Feeds in[0..len) to dialect d's stream translator for X, cut at the offsets
 * cuts[0..ncuts) (ascending), stopping once a feed ends the stream, then ends
 * it. The last usage reported goes to *u (may be NULL), the last feed's
 * result to *fed (may be NULL). Checks that an ended stream stays ended: a
 * later feed and a second end write nothing and say the same. Returns what
 * stream_end returned.
 */
static inline int xt_run_stream(const struct gw_dialect *d, const char *in, size_t len,
                                const size_t *cuts, size_t ncuts, struct xt_out *c,
                                struct gw_xlate_usage *u, int *fed)
{
    struct gw_arena a;
    struct gw_xlate x = X;
    struct gw_xlate_sink sink = {xt_out_write, c};
    gw_arena_init(&a, 4096, 0);
    x.arena = &a;
    void *st = gw_arena_zalloc(&a, d->stream_size);
    cr_assert(st);
    d->stream_init(st, &x);
    size_t off = 0;
    int last = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        struct gw_xlate_usage uu = {0};
        last = d->stream_feed(st, in + off, end - off, &sink, &uu);
        if (uu.have && u)
            *u = uu;
        off = end;
        if (last != 0)
            break;
    }
    if (fed)
        *fed = last;
    struct gw_xlate_usage ue = {0};
    int r = d->stream_end(st, &sink, &ue);
    if (ue.have && u)
        *u = ue;
    if (last != 0)
        cr_assert_eq(r, last, "end %d after feed %d", r, last);
    unsigned writes = c->writes;
    cr_assert_eq(d->stream_feed(st, "x", 1, &sink, NULL), r);
    cr_assert_eq(d->stream_end(st, &sink, NULL), r);
    cr_assert_eq(c->writes, writes, "an ended stream wrote again");
    gw_arena_destroy(&a);
    return r;
}

/* Feeds in whole; the output must be want and stream_end must return ret. */
static inline void xt_expect_stream(const struct gw_dialect *d, const char *in, size_t len,
                                    const char *want, int ret)
{
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(d, in, len, NULL, 0, &c, NULL, NULL), ret);
    xt_assert_out(&c, want);
    free(c.p);
}

/*
 * The split-at-every-byte driver: in fed whole, then cut at each offset
 * 0..len, then a byte at a time, must give the same output, the same end
 * result and the same usage each time.
 */
static inline void xt_check_splits(const struct gw_dialect *d, const char *in, size_t len)
{
    struct xt_out ref = {0};
    struct gw_xlate_usage uref = {0};
    int rref = xt_run_stream(d, in, len, NULL, 0, &ref, &uref, NULL);
    cr_assert(ref.n > 0);
    for (size_t cut = 0; cut <= len; cut++) {
        struct xt_out c = {0};
        struct gw_xlate_usage u = {0};
        cr_assert_eq(xt_run_stream(d, in, len, &cut, 1, &c, &u, NULL), rref, "split at %zu", cut);
        cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "split at %zu differs:\n%.*s",
                  cut, (int)c.n, c.p);
        cr_assert(u.have == uref.have && u.prompt_tokens == uref.prompt_tokens &&
                      u.completion_tokens == uref.completion_tokens &&
                      u.cached_tokens == uref.cached_tokens &&
                      u.cache_creation_tokens == uref.cache_creation_tokens &&
                      u.reasoning_tokens == uref.reasoning_tokens,
                  "usage differs at split %zu", cut);
        free(c.p);
    }
    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
    cr_assert(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct xt_out c = {0};
    cr_assert_eq(xt_run_stream(d, in, len, cuts, len ? len - 1 : 0, &c, NULL, NULL), rref);
    cr_assert(c.n == ref.n && memcmp(c.p, ref.p, c.n) == 0, "byte at a time differs");
    free(c.p);
    free(cuts);
    free(ref.p);
}

/* in[0..n) with each LF replaced by eol (malloc'd), its length in *len. */
static inline char *xt_line_ends(const char *in, size_t n, const char *eol, size_t *len)
{
    size_t el = strlen(eol);
    char *out = malloc(n * el + 1);
    cr_assert(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\n') {
            memcpy(out + k, eol, el);
            k += el;
        } else {
            out[k++] = in[i];
        }
    }
    out[k] = '\0';
    *len = k;
    return out;
}

#endif
