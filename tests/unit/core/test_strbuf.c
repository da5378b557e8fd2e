#include <criterion/criterion.h>
#include <stdio.h>

#include "core/strbuf.h"

Test(strbuf, builds_a_head_like_snprintf_would)
{
    char buf[128], want[128];
    struct gw_sb b;
    gw_sb_init(&b, buf, sizeof(buf));
    gw_sb_lit(&b, "content-length: ");
    gw_sb_u64(&b, 18446744073709551615ull);
    gw_sb_lit(&b, "\r\n");
    gw_sb_hex(&b, 0x1f4, 0);
    gw_sb_puts(&b, "|");
    gw_sb_hex(&b, 0, 0);
    gw_sb_puts(&b, "|");
    gw_sb_hex(&b, 0xabc, 8);
    int n = snprintf(want, sizeof(want), "content-length: %llu\r\n%x|%x|%08x",
                     18446744073709551615ull, 0x1f4u, 0u, 0xabcu);
    cr_assert_not(b.overflow);
    cr_assert_eq(b.len, (size_t)n);
    cr_assert_arr_eq(buf, want, (size_t)n);
}

Test(strbuf, decimal_edges)
{
    static const unsigned long long vals[] = {0, 9, 10, 99, 100, 4294967295ull, 10000000000ull};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char buf[32], want[32];
        struct gw_sb b;
        gw_sb_init(&b, buf, sizeof(buf));
        gw_sb_u64(&b, vals[i]);
        int n = snprintf(want, sizeof(want), "%llu", vals[i]);
        cr_assert_eq(b.len, (size_t)n);
        cr_assert_arr_eq(buf, want, (size_t)n);
    }
}

Test(strbuf, never_writes_past_cap_and_stops_at_first_overflow)
{
    for (size_t cap = 0; cap < 12; cap++) {
        char buf[16];
        memset(buf, '#', sizeof(buf));
        struct gw_sb b;
        gw_sb_init(&b, buf, cap);
        gw_sb_lit(&b, "abcde");
        gw_sb_u64(&b, 123456);
        gw_sb_lit(&b, "z");
        for (size_t i = cap; i < sizeof(buf); i++)
            cr_assert_eq(buf[i], '#', "byte %zu written with cap %zu", i, cap);
        cr_assert_eq(b.overflow, cap < 12, "cap %zu", cap);
        if (cap >= 5 && cap < 11)
            cr_assert_eq(b.len, 5u, "a partial number must not be appended (cap %zu)", cap);
    }
}
