/*
 * tests/unit/providers/test_xbound.c — the translation bounds every dialect
 * shares: the size limit's formula, the buffer sequence of a render-and-grow
 * loop (sizes, refusal, arena use) and the function name rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/span.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

static struct gw_arena arena;
static struct gw_xlate X;

static void setup(void)
{
    gw_arena_init(&arena, 4096, 0);
    X = (struct gw_xlate){.arena = &arena};
}

static void teardown(void)
{
    gw_arena_destroy(&arena);
}

TestSuite(xbound, .init = setup, .fini = teardown);

Test(xbound, limit_is_four_times_the_request_with_a_floor_and_a_ceiling)
{
    cr_assert_eq(gw_xbound_limit(0, 0, 0), GW_XBOUND_FLOOR);
    cr_assert_eq(gw_xbound_limit(1000, 0, 0), GW_XBOUND_FLOOR);
    cr_assert_eq(gw_xbound_limit(1 << 20, 0, 0), (size_t)4 << 20);
    cr_assert_eq(gw_xbound_limit(1 << 20, 100, 0), ((size_t)4 << 20) + 100);
    cr_assert_eq(gw_xbound_limit(1000, 100, 0), GW_XBOUND_FLOOR + 100);
    cr_assert_eq(gw_xbound_limit((size_t)32 << 20, 0, 0), GW_XBOUND_MAX);
    /* No wrap-around, whatever the sizes. */
    cr_assert_eq(gw_xbound_limit(SIZE_MAX, SIZE_MAX, 0), GW_XBOUND_MAX);
    cr_assert_eq(gw_xbound_limit(10, SIZE_MAX, 0), GW_XBOUND_MAX);
    /* out_max only lowers the ceiling. */
    cr_assert_eq(gw_xbound_limit(1 << 20, 0, 5000), 5000);
    cr_assert_eq(gw_xbound_limit(1 << 20, 0, SIZE_MAX), (size_t)4 << 20);
}

Test(xbound, buffers_double_up_to_the_limit_then_refuse_with_400)
{
    struct gw_xbound b;
    struct gw_xlate_err err;
    memset(&err, 0, sizeof(err));
    X.out_max = 100000;
    gw_xbound_init(&b, &X, 1000, 0);
    cr_assert_eq(b.limit, 65536);
    static const size_t want[] = {10000, 20000, 65536};
    size_t sum = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_not_null(gw_xbound_buf(&b, &arena, 10000, &err));
        cr_assert_eq(b.cap, want[i], "buffer %zu is %zu bytes", i, b.cap);
        sum += b.cap;
    }
    cr_assert_null(gw_xbound_buf(&b, &arena, 10000, &err));
    cr_assert_eq(err.status, 400);
    cr_assert_null(err.param);
    cr_assert(strstr(err.message, "larger than 65536 bytes"), "%s", err.message);
    cr_assert(strstr(err.message, "4x this request's 1000 bytes"), "%s", err.message);
    /* Everything handed out adds up to less than twice the last buffer. */
    cr_assert_lt(sum, 2 * 65536);
    cr_assert_lt(arena.total, 2 * 65536 + 4 * 4096);
}

Test(xbound, a_first_buffer_over_the_limit_is_the_limit)
{
    struct gw_xbound b;
    struct gw_xlate_err err;
    X.out_max = 8192;
    gw_xbound_init(&b, &X, 100000, 0);
    cr_assert_not_null(gw_xbound_buf(&b, &arena, 1 << 20, &err));
    cr_assert_eq(b.cap, 8192);
    cr_assert_lt(arena.total, 16384);
    /* A single render that overflowed there is the client's request, 400. */
    cr_assert_eq(gw_xbound_overflow(&b, &err), -1);
    cr_assert_eq(err.status, 400);
    cr_assert(strstr(err.message, "larger than 8192 bytes"), "%s", err.message);
}

Test(xbound, an_overflow_below_the_limit_is_the_estimates_fault)
{
    struct gw_xbound b;
    struct gw_xlate_err err;
    gw_xbound_init(&b, &X, 100000, 0);
    cr_assert_not_null(gw_xbound_buf(&b, &arena, 1000, &err));
    cr_assert_eq(gw_xbound_overflow(&b, &err), -1);
    cr_assert_eq(err.status, 500);
}

Test(xbound, an_exhausted_arena_is_500)
{
    struct gw_arena small;
    struct gw_xbound b;
    struct gw_xlate_err err;
    gw_arena_init(&small, 1024, 4096);
    gw_xbound_init(&b, &X, 100000, 0);
    cr_assert_null(gw_xbound_buf(&b, &small, 100000, &err));
    cr_assert_eq(err.status, 500);
    gw_arena_destroy(&small);
}

static int name(const char *raw, const char *extra, struct gw_xlate_err *err)
{
    memset(err, 0, sizeof(*err));
    return gw_xbound_name(gw_span_cstr(raw), extra, &arena, err, "tools[%d].function.name", 7);
}

Test(xbound, names_follow_openais_rule)
{
    struct gw_xlate_err err;
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'a', 65);
    n65[65] = '\0';
    cr_assert_eq(name("get_weather-2", NULL, &err), 0);
    cr_assert_eq(name("A", NULL, &err), 0);
    cr_assert_eq(name(n64, NULL, &err), 0);
    /* Escapes are decoded first: \u0041 is "A". */
    cr_assert_eq(name("\\u0041bc", NULL, &err), 0);

    cr_assert_eq(name(n65, NULL, &err), -1);
    cr_assert_eq(err.status, 400);
    cr_assert_str_eq(err.param, "tools[7].function.name");
    cr_assert(strstr(err.message, "Invalid 'tools[7].function.name'"), "%s", err.message);
    cr_assert(strstr(err.message, "too long (65 bytes)"), "%s", err.message);
    cr_assert(strstr(err.message, "1 to 64 characters"), "%s", err.message);

    cr_assert_eq(name("", NULL, &err), -1);
    cr_assert_str_eq(err.param, "tools[7].function.name");
    cr_assert_eq(name("a b", NULL, &err), -1);
    cr_assert_eq(name("a\\n", NULL, &err), -1);
    cr_assert_eq(name("a\\u0000", NULL, &err), -1);
    cr_assert_eq(name("caf\xc3\xa9", NULL, &err), -1);
    cr_assert_eq(name("mcp.tool", NULL, &err), -1);
    cr_assert(strstr(err.message, "is not valid"), "%s", err.message);
}

Test(xbound, a_dialect_may_allow_more_characters)
{
    struct gw_xlate_err err;
    cr_assert_eq(name("mcp.server:tool", ".:", &err), 0);
    cr_assert_eq(name("mcp/tool", ".:", &err), -1);
    cr_assert(strstr(err.message, "\"_-.:\""), "%s", err.message);
}
