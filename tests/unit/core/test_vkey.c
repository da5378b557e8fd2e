/*
 * Tests for core/vkey.c: secret and id format, randomness sanity, SHA-256
 * against FIPS 180-2 test vectors, hex round trips, shape checks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/vkey.h"

static struct gw_span sp(const char *s)
{
    return gw_span_cstr(s);
}

static bool b62(char c)
{
    return strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", c) && c;
}

Test(vkey, generated_secret_has_prefix_length_and_base62_alphabet)
{
    char k[GW_VKEY_LEN + 1];
    memset(k, 'x', sizeof(k));
    cr_assert_eq(gw_vkey_generate(k), 0);
    cr_assert_eq(strlen(k), 38);
    cr_assert_eq(memcmp(k, "condt_", 6), 0);
    for (size_t i = 6; i < 38; i++)
        cr_assert(b62(k[i]), "character %zu is %c", i, k[i]);
    cr_assert(gw_vkey_is_wellformed(sp(k)));
}

Test(vkey, two_secrets_differ)
{
    char a[GW_VKEY_LEN + 1], b[GW_VKEY_LEN + 1];
    cr_assert_eq(gw_vkey_generate(a), 0);
    cr_assert_eq(gw_vkey_generate(b), 0);
    cr_assert_str_neq(a, b);
}

/*
 * Rejection sampling must reach the whole alphabet with no character
 * favoured. 2000 secrets give 64000 characters, about 1032 per character;
 * the bounds are > 10 standard deviations away, and a modulo-biased
 * generator (256 % 62 = 8 characters with 5/256 instead of 4/256) would put
 * the first eight near 1290.
 */
Test(vkey, characters_are_uniform_over_the_alphabet)
{
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned count[62] = {0};
    for (int n = 0; n < 2000; n++) {
        char k[GW_VKEY_LEN + 1];
        cr_assert_eq(gw_vkey_generate(k), 0);
        for (size_t i = 6; i < 38; i++)
            count[strchr(alpha, k[i]) - alpha]++;
    }
    for (int c = 0; c < 62; c++)
        cr_assert(count[c] > 700 && count[c] < 1250, "%c seen %u times", alpha[c], count[c]);
}

Test(vkey, ids_have_prefix_and_sixteen_base62_characters)
{
    char id[32], id2[32];
    cr_assert_eq(gw_vkey_new_id("key_", id, sizeof(id)), 0);
    cr_assert_eq(strlen(id), 4 + 16);
    cr_assert_eq(memcmp(id, "key_", 4), 0);
    for (size_t i = 4; i < strlen(id); i++)
        cr_assert(b62(id[i]));
    cr_assert_eq(gw_vkey_new_id("key_", id2, sizeof(id2)), 0);
    cr_assert_str_neq(id, id2);

    char team[5 + 17];
    cr_assert_eq(gw_vkey_new_id("team_", team, sizeof(team)), 0, "exact capacity is enough");
    cr_assert_eq(strlen(team), 21);
    cr_assert_lt(gw_vkey_new_id("team_", team, sizeof(team) - 1), 0, "one byte short");
}

static void hex_of(const char *msg, char out[65])
{
    uint8_t d[GW_DIGEST_LEN];
    gw_vkey_digest(msg, strlen(msg), d);
    gw_digest_hex(d, out);
}

Test(vkey, digest_matches_sha256_test_vectors)
{
    char h[65];
    hex_of("abc", h);
    cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", h);
    cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
    cr_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hex_of("condt_0123456789abcdefghijABCDEFGHIJKL", h);
    cr_assert_str_eq(h, "dc30027f652a865903d265610351b533aa9f7181d0d1df42b337b51fa80410c8");
}

Test(vkey, hex_round_trips_and_accepts_upper_case)
{
    uint8_t d[GW_DIGEST_LEN], back[GW_DIGEST_LEN];
    char h[65];
    for (int i = 0; i < GW_DIGEST_LEN; i++)
        d[i] = (uint8_t)(i * 37 + 11);
    gw_digest_hex(d, h);
    cr_assert_eq(strlen(h), 64);
    cr_assert_eq(strspn(h, "0123456789abcdef"), 64, "lowercase hex");
    cr_assert_str_eq(h + 60, "6186", "bytes 30, 31 are 1121 & 255, 1158 & 255");
    cr_assert(gw_digest_from_hex(sp(h), back));
    cr_assert_eq(memcmp(d, back, sizeof(d)), 0);

    memset(back, 0, sizeof(back));
    cr_assert(gw_digest_from_hex(
        sp("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"), back));
    cr_assert_eq(back[0], 0xba);
    cr_assert_eq(back[31], 0xad);
}

Test(vkey, bad_hex_is_refused_and_out_untouched)
{
    static const char *const bad[] = {
        "",
        "ba7816bf",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 */
        "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a ",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015:d",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        uint8_t out[GW_DIGEST_LEN];
        memset(out, 0x5a, sizeof(out));
        cr_assert_not(gw_digest_from_hex(sp(bad[i]), out), "%s", bad[i]);
        for (size_t j = 0; j < sizeof(out); j++)
            cr_assert_eq(out[j], 0x5a);
    }
}

Test(vkey, wellformed_checks_prefix_length_and_alphabet)
{
    cr_assert(gw_vkey_is_wellformed(sp("condt_0123456789abcdefghijABCDEFGHIJKL")));
    cr_assert_not(gw_vkey_is_wellformed(sp("condt_0123456789abcdefghijABCDEFGHIJK")));
    cr_assert_not(gw_vkey_is_wellformed(sp("condt_0123456789abcdefghijABCDEFGHIJKLM")));
    cr_assert_not(gw_vkey_is_wellformed(sp("Condt_0123456789abcdefghijABCDEFGHIJKL")));
    cr_assert_not(gw_vkey_is_wellformed(sp("condt-0123456789abcdefghijABCDEFGHIJKL")));
    cr_assert_not(gw_vkey_is_wellformed(sp("condt_0123456789abcdefghij-BCDEFGHIJKL")));
    cr_assert_not(gw_vkey_is_wellformed(sp("condt_0123456789abcdefghij_BCDEFGHIJKL")));
    cr_assert_not(gw_vkey_is_wellformed(sp("sk-0123456789abcdefghijABCDEFGHIJKLmnop")));
    cr_assert_not(gw_vkey_is_wellformed(sp("")));
    cr_assert_not(gw_vkey_is_wellformed(GW_SPAN_NULL));
    char nul[] = "condt_0123456789abcdefghijABCDEFGHIJKL";
    nul[20] = '\0';
    cr_assert_not(gw_vkey_is_wellformed(gw_span_make(nul, 38)));
}
