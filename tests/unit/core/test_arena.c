/*
 * tests/unit/core/test_arena.c — the per-request bump allocator: alignment,
 * limits, and what a reset keeps. The last matters for memory held by idle
 * keep-alive connections: an arena that served one large request must not
 * keep that request's memory while its connection idles.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"

Test(arena, allocations_are_16_byte_aligned_and_distinct)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    char *prev = NULL;
    for (size_t n = 1; n < 300; n += 7) {
        char *p = gw_arena_alloc(&a, n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0, "size %zu not aligned", n);
        memset(p, 0xab, n);
        cr_assert_neq(p, prev);
        prev = p;
    }
    gw_arena_destroy(&a);
    cr_assert_eq(a.total, 0);
}

Test(arena, limit_refuses_what_would_pass_it)
{
    struct gw_arena a;
    gw_arena_init(&a, 1024, 4096);
    cr_assert_not_null(gw_arena_alloc(&a, 3000));
    cr_assert_null(gw_arena_alloc(&a, 2000), "4,096-byte limit passed");
    cr_assert_leq(a.total, 4096);
    gw_arena_destroy(&a);
}

Test(arena, reset_keeps_a_default_sized_first_chunk)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    cr_assert_not_null(gw_arena_alloc(&a, 100));
    cr_assert_not_null(gw_arena_alloc(&a, 10000)); /* a second, larger chunk */
    size_t before = a.total;
    cr_assert_geq(before, 4096 + 10000);
    gw_arena_reset(&a);
#ifdef GW_POOL_PASSTHROUGH
    cr_assert_eq(a.total, 0, "pass-through keeps nothing");
#else
    cr_assert_eq(a.total, 4096, "only the first, default-sized chunk stays: %zu", a.total);
#endif
    /* and it is reused: a small allocation takes no new memory */
    cr_assert_not_null(gw_arena_alloc(&a, 64));
#ifndef GW_POOL_PASSTHROUGH
    cr_assert_eq(a.total, 4096);
#endif
    gw_arena_destroy(&a);
}

Test(arena, reset_frees_a_first_chunk_sized_for_one_large_request)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    /* The first allocation of a request with an 8 MB body: the first chunk is sized for it. */
    char *big = gw_arena_alloc(&a, 8u << 20);
    cr_assert_not_null(big);
    memset(big, 1, 8u << 20);
    cr_assert_geq(a.total, 8u << 20);
    gw_arena_reset(&a);
    cr_assert_eq(a.total, 0, "an idle arena kept %zu bytes of its largest request", a.total);
    cr_assert_null(a.first);
    /* Usable again afterwards. */
    cr_assert_not_null(gw_arena_alloc(&a, 10));
    gw_arena_destroy(&a);
}

Test(arena, strndup_terminates_and_copies)
{
    struct gw_arena a;
    gw_arena_init(&a, 64, 0);
    char *s = gw_arena_strndup(&a, "hello, world", 5);
    cr_assert_str_eq(s, "hello");
    char *z = gw_arena_zalloc(&a, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(z[i], 0);
    gw_arena_destroy(&a);
}
