/*
 * tests/unit/core/test_prom.c — core/prom.c: label values escaped for the
 * Prometheus text format (what /metrics writes model and provider names with).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/prom.h"

/* Escapes a C string into a buffer of its worst-case size and returns it (static storage). */
static const char *esc(const char *s)
{
    static char out[256];
    size_t n = gw_prom_escape(out, sizeof(out), s, strlen(s));
    cr_assert_lt(n, sizeof(out));
    cr_assert_eq(n, strlen(out), "returned length %zu, wrote \"%s\"", n, out);
    return out;
}

Test(prom, escapes_backslash_quote_and_newline_only)
{
    /* The text format escapes \ " and newline in label values; every other byte is kept. */
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"we\"ird", "we\\\"ird"},
        {"a\\b", "a\\\\b"},
        {"line\nbreak", "line\\nbreak"},
        {"\"\\\n", "\\\"\\\\\\n"},
        {"\\n", "\\\\n"}, /* a literal backslash-n is not a newline */
        {"", ""},
        {"gpt-4o-mini", "gpt-4o-mini"},
        {"meta-llama/Llama-3.1-70B:free", "meta-llama/Llama-3.1-70B:free"},
        {"mod\xc3\xa8le {x=\"1\"}", "mod\xc3\xa8le {x=\\\"1\\\"}"},
        {"tab\there\rcr", "tab\there\rcr"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++)
        cr_assert_str_eq(esc(cases[i].in), cases[i].want, "escaping \"%s\"", cases[i].in);
}

Test(prom, a_forged_sample_stays_inside_the_label)
{
    /* Unescaped, this name would close the label set and add a sample of its own. */
    const char *name = "x\"} 1\nconduit_requests_total{model=\"y";
    const char *out = esc(name);
    cr_assert_null(strchr(out, '\n'));
    for (const char *p = strchr(out, '"'); p; p = strchr(p + 1, '"'))
        cr_assert_eq(p[-1], '\\', "an unescaped quote in %s", out);
}

Test(prom, works_like_snprintf_when_the_buffer_is_short)
{
    char out[8];
    memset(out, 'Z', sizeof(out));
    /* "ab\"cd\"e" escapes to ab\"cd\"e (9 bytes): 7 fit with the NUL, but not half an escape. */
    cr_assert_eq(gw_prom_escape(out, sizeof(out), "ab\"cd\"e", 7), 9);
    cr_assert_str_eq(out, "ab\\\"cd");
    cr_assert_eq(gw_prom_escape(out, 3, "a\\b", 3), 4);
    cr_assert_str_eq(out, "a", "the pair \\\\ does not fit after 'a' with the NUL");
    cr_assert_eq(gw_prom_escape(out, 1, "abc", 3), 3);
    cr_assert_str_eq(out, "");
    out[0] = 'Z';
    cr_assert_eq(gw_prom_escape(out, 0, "abc", 3), 3);
    cr_assert_eq(out[0], 'Z', "cap 0 writes nothing");
    cr_assert_eq(gw_prom_escape(NULL, 0, "a\n", 2), 3, "sizing call");
}

Test(prom, escapes_bytes_after_an_embedded_nul)
{
    char out[16];
    cr_assert_eq(gw_prom_escape(out, sizeof(out), "a\0\"", 3), 4);
    cr_assert_eq(memcmp(out, "a\0\\\"", 5), 0);
}
