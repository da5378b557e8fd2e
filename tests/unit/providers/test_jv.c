/*
 * tests/unit/providers/test_jv.c — the read-only JSON value view
 * (providers/jv.h) every translator reads its input through: scanning an
 * object's members (escaped keys, null as absent, invalid JSON refused),
 * members of nested values, array iteration and counting, unescaping, and the
 * number readers.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/jv.h"

#define LIT_LEN(s) (sizeof(s) - 1)

static void assert_span(struct gw_span got, const char *want)
{
    cr_assert_not_null(got.ptr);
    cr_assert(gw_span_eq(got, gw_span_cstr(want)), "got \"%.*s\" want \"%s\"", (int)got.len,
              got.ptr, want);
}

/* A value view over the whole text s, as a caller that built one by hand would have it. */
static struct gw_jv jv_of(const char *s, enum gw_json_tok_type t)
{
    return (struct gw_jv){.found = true, .type = t, .raw = gw_span_cstr(s), .str = gw_span_cstr(s)};
}

/* A request body as the client sent it: escapes, nesting, a null member. */
static const char body[] = "{\"mod\\u0065l\" : \"cl\\u0061ude\",\n"
                           "  \"n\": 3, \"neg\": -2, \"frac\": 0.25,\n"
                           "  \"nested\": {\"a\": [1, [2, 3]], \"b\": {\"c\": null}},\n"
                           "  \"none\": null,\n"
                           "  \"s\": \"a\\\"b\\\\c\",\n"
                           "  \"t\": true, \"f\": false, \"arr\": [ ]}";

enum { K_MODEL, K_N, K_NEG, K_FRAC, K_NESTED, K_NONE, K_MISSING, K_S, K_T, K_F, K_ARR, K_COUNT };
static const char *const keys[K_COUNT] = {"model",   "n", "neg", "frac", "nested", "none",
                                          "missing", "s", "t",   "f",    "arr"};

Test(jv, scan_finds_members_by_their_unescaped_names)
{
    struct gw_jv v[K_COUNT];
    cr_assert_eq(gw_jv_scan(gw_span_make(body, LIT_LEN(body)), keys, K_COUNT, v), 0);

    cr_assert(gw_jv_is(&v[K_MODEL], GW_JT_STRING));
    assert_span(v[K_MODEL].raw, "\"cl\\u0061ude\"");
    assert_span(v[K_MODEL].str, "cl\\u0061ude");
    cr_assert(gw_jv_streq(&v[K_MODEL], "claude"));
    cr_assert_not(gw_jv_streq(&v[K_MODEL], "cl\\u0061ude"));
    cr_assert_not(gw_jv_streq(&v[K_MODEL], "claud"));

    cr_assert(gw_jv_is(&v[K_N], GW_JT_NUMBER));
    assert_span(v[K_N].raw, "3");
    assert_span(v[K_N].str, "3");
    cr_assert_not(gw_jv_streq(&v[K_N], "3"), "a number is not a string");

    cr_assert(gw_jv_is(&v[K_NESTED], GW_JT_OBJ_BEGIN));
    assert_span(v[K_NESTED].raw, "{\"a\": [1, [2, 3]], \"b\": {\"c\": null}}");

    assert_span(v[K_S].raw, "\"a\\\"b\\\\c\"");
    cr_assert(gw_jv_streq(&v[K_S], "a\"b\\c"));
    cr_assert(gw_jv_is(&v[K_T], GW_JT_TRUE));
    assert_span(v[K_T].raw, "true");
    cr_assert(gw_jv_is(&v[K_F], GW_JT_FALSE));
    cr_assert(gw_jv_is(&v[K_ARR], GW_JT_ARR_BEGIN));
    assert_span(v[K_ARR].raw, "[ ]");
}

Test(jv, null_and_missing_members_are_absent)
{
    struct gw_jv v[K_COUNT];
    cr_assert_eq(gw_jv_scan(gw_span_make(body, LIT_LEN(body)), keys, K_COUNT, v), 0);
    cr_assert_not(v[K_NONE].found);
    cr_assert_not(v[K_MISSING].found);
    cr_assert_not(gw_jv_is(&v[K_NONE], GW_JT_NULL), "null is never a type a caller sees");
    cr_assert_not(gw_jv_streq(&v[K_MISSING], ""));

    struct gw_jv nested = v[K_NESTED];
    struct gw_jv b = gw_jv_member(&nested, "b");
    cr_assert(gw_jv_is(&b, GW_JT_OBJ_BEGIN));
    cr_assert_not(gw_jv_member(&b, "c").found, "a null member of a member is absent too");
}

Test(jv, scan_refuses_invalid_json_and_clears_out)
{
    static const char *const bad[] = {
        "{\"n\": 1,}",          /* trailing comma */
        "{\"n\": 1} x",         /* trailing bytes */
        "{\"n\": 01}",          /* leading zero */
        "{\"n\": \"\\x\"}",     /* invalid escape */
        "{\"n\": 1",            /* truncated */
        "[{\"n\": 1}]",         /* not an object */
        "\"n\"",                /* not an object */
        "",                     /* empty */
        "{\"n\": \"\\ud800\"}", /* lone surrogate */
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        const char *k = "n";
        struct gw_jv v = {.found = true, .type = GW_JT_NUMBER};
        cr_assert_eq(gw_jv_scan(gw_span_cstr(bad[i]), &k, 1, &v), -1, "\"%s\"", bad[i]);
        cr_assert_not(v.found, "\"%s\": out is cleared", bad[i]);
    }
    const char *k = "n";
    struct gw_jv v = {.found = true};
    cr_assert_eq(gw_jv_scan(GW_SPAN_NULL, &k, 1, &v), -1);
    cr_assert_not(v.found);
}

Test(jv, scan_obj_reads_a_member_object_and_refuses_anything_else)
{
    static const char *const top[] = {"nested", "s", "missing"};
    struct gw_jv v[3];
    cr_assert_eq(gw_jv_scan(gw_span_make(body, LIT_LEN(body)), top, 3, v), 0);

    static const char *const inner[] = {"a", "b", "z"};
    struct gw_jv m[3];
    cr_assert_eq(gw_jv_scan_obj(&v[0], inner, 3, m), 0);
    cr_assert(gw_jv_is(&m[0], GW_JT_ARR_BEGIN));
    assert_span(m[0].raw, "[1, [2, 3]]");
    cr_assert(gw_jv_is(&m[1], GW_JT_OBJ_BEGIN));
    assert_span(m[1].raw, "{\"c\": null}");
    cr_assert_not(m[2].found);

    for (size_t i = 1; i < 3; i++) { /* a string; an absent value */
        struct gw_jv o[3] = {{.found = true}, {.found = true}, {.found = true}};
        cr_assert_eq(gw_jv_scan_obj(&v[i], inner, 3, o), -1);
        for (size_t j = 0; j < 3; j++)
            cr_assert_not(o[j].found);
    }
    /* Typed as an object but not a valid one (a view built by hand). */
    struct gw_jv broken = jv_of("{\"a\": }", GW_JT_OBJ_BEGIN);
    struct gw_jv o = {.found = true};
    cr_assert_eq(gw_jv_scan_obj(&broken, inner, 1, &o), -1);
    cr_assert_not(o.found);
}

Test(jv, member_of_a_non_object_is_absent)
{
    static const char doc[] =
        "{\"arr\": [{\"k\": 1}], \"s\": \"{\\\"k\\\": 1}\", \"o\": {\"k\": 7}}";
    static const char *const top[] = {"arr", "s", "o"};
    struct gw_jv v[3];
    cr_assert_eq(gw_jv_scan(gw_span_make(doc, LIT_LEN(doc)), top, 3, v), 0);
    cr_assert_not(gw_jv_member(&v[0], "k").found, "an array has no members");
    cr_assert_not(gw_jv_member(&v[1], "k").found, "a string holding JSON is still a string");
    struct gw_jv absent = {0};
    cr_assert_not(gw_jv_member(&absent, "k").found);
    struct gw_jv k = gw_jv_member(&v[2], "k");
    cr_assert(gw_jv_is(&k, GW_JT_NUMBER));
    assert_span(k.raw, "7");
    cr_assert_not(gw_jv_member(&v[2], "K").found, "names are case-sensitive");
}

Test(jv, obj_empty_allows_whitespace_only)
{
    static const char doc[] = "{\"e\": {}, \"w\": { \n\t\r }, \"one\": {\"a\": 1}, \"arr\": [], "
                              "\"nul\": {\"a\": null}}";
    static const char *const top[] = {"e", "w", "one", "arr", "nul", "missing"};
    struct gw_jv v[6];
    cr_assert_eq(gw_jv_scan(gw_span_make(doc, LIT_LEN(doc)), top, 6, v), 0);
    cr_assert(gw_jv_obj_empty(&v[0]));
    cr_assert(gw_jv_obj_empty(&v[1]));
    cr_assert_not(gw_jv_obj_empty(&v[2]));
    cr_assert_not(gw_jv_obj_empty(&v[3]), "an empty array is not an empty object");
    cr_assert_not(gw_jv_obj_empty(&v[4]), "a member whose value is null is still a member");
    cr_assert_not(gw_jv_obj_empty(&v[5]));
}

Test(jv, array_iteration_yields_each_element_with_its_text)
{
    static const char doc[] =
        "{\"a\": [1, \"tw\\u006f\", [3, [4]], {\"k\": null}, null, true, -0.5]}";
    const char *k = "a";
    struct gw_jv a;
    cr_assert_eq(gw_jv_scan(gw_span_make(doc, LIT_LEN(doc)), &k, 1, &a), 0);
    cr_assert_eq(gw_jv_arr_count(&a), 7);

    static const struct {
        enum gw_json_tok_type type;
        bool found;
        const char *raw;
    } want[] = {
        {GW_JT_NUMBER, true, "1"},           {GW_JT_STRING, true, "\"tw\\u006f\""},
        {GW_JT_ARR_BEGIN, true, "[3, [4]]"}, {GW_JT_OBJ_BEGIN, true, "{\"k\": null}"},
        {GW_JT_NULL, false, "null"},         {GW_JT_TRUE, true, "true"},
        {GW_JT_NUMBER, true, "-0.5"},
    };
    struct gw_jv_it it;
    struct gw_jv el;
    cr_assert_eq(gw_jv_arr_begin(&it, &a), 0);
    for (size_t i = 0; i < GW_ARRAY_SIZE(want); i++) {
        cr_assert_eq(gw_jv_arr_next(&it, &el), 1, "element %zu", i);
        cr_assert_eq(el.type, want[i].type, "element %zu", i);
        cr_assert_eq(el.found, want[i].found, "element %zu: a null element is absent", i);
        assert_span(el.raw, want[i].raw);
        if (i == 1)
            cr_assert(gw_jv_streq(&el, "two"));
        if (i == 2) {
            cr_assert_eq(gw_jv_arr_count(&el), 2, "a nested array counts its own elements");
            struct gw_jv_it in;
            struct gw_jv e2;
            cr_assert_eq(gw_jv_arr_begin(&in, &el), 0);
            cr_assert_eq(gw_jv_arr_next(&in, &e2), 1);
            cr_assert_eq(gw_jv_arr_next(&in, &e2), 1);
            assert_span(e2.raw, "[4]");
            cr_assert_eq(gw_jv_arr_next(&in, &e2), 0);
        }
    }
    cr_assert_eq(gw_jv_arr_next(&it, &el), 0);
    cr_assert_eq(gw_jv_arr_next(&it, &el), -1, "past the end the tokenizer has nothing more");
}

Test(jv, arr_begin_and_count_refuse_what_is_not_an_array)
{
    static const char doc[] = "{\"o\": {\"a\": [1]}, \"s\": \"[1]\", \"e\": [ \n ]}";
    static const char *const top[] = {"o", "s", "e", "missing"};
    struct gw_jv v[4];
    cr_assert_eq(gw_jv_scan(gw_span_make(doc, LIT_LEN(doc)), top, 4, v), 0);
    struct gw_jv_it it;
    cr_assert_eq(gw_jv_arr_begin(&it, &v[0]), -1);
    cr_assert_eq(gw_jv_arr_count(&v[0]), -1);
    cr_assert_eq(gw_jv_arr_begin(&it, &v[1]), -1);
    cr_assert_eq(gw_jv_arr_count(&v[1]), -1);
    cr_assert_eq(gw_jv_arr_count(&v[3]), -1);
    cr_assert_eq(gw_jv_arr_count(&v[2]), 0);
    struct gw_jv el;
    cr_assert_eq(gw_jv_arr_begin(&it, &v[2]), 0);
    cr_assert_eq(gw_jv_arr_next(&it, &el), 0);
}

Test(jv, arr_count_of_an_invalid_array_is_minus_one)
{
    /* Views typed as arrays over text that is not a valid array (built by hand). */
    static const char *const bad[] = {"[1, 2",      "[1,, 2]",     "[1 2]", "[1, 2,]",
                                      "[\"a\\q\"]", "[{\"k\" 1}]", "["};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        struct gw_jv a = jv_of(bad[i], GW_JT_ARR_BEGIN);
        cr_assert_eq(gw_jv_arr_count(&a), -1, "\"%s\"", bad[i]);
    }
    /* The iterator hands out what is valid so far, then -1 where it breaks. */
    struct gw_jv a = jv_of("[1, 2, ?]", GW_JT_ARR_BEGIN);
    struct gw_jv_it it;
    struct gw_jv el;
    cr_assert_eq(gw_jv_arr_begin(&it, &a), 0);
    cr_assert_eq(gw_jv_arr_next(&it, &el), 1);
    assert_span(el.raw, "1");
    cr_assert_eq(gw_jv_arr_next(&it, &el), 1);
    assert_span(el.raw, "2");
    cr_assert_eq(gw_jv_arr_next(&it, &el), -1);
    /* An object typed as an array does not start one. */
    struct gw_jv o = jv_of("{}", GW_JT_ARR_BEGIN);
    cr_assert_eq(gw_jv_arr_begin(&it, &o), -1);
}

Test(jv, unesc_resolves_escapes_and_surrogate_pairs)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    size_t n = 0;
    static const char raw1[] = "a\\u00e9\\n\\t\\\"\\\\\\/\\b\\f\\r-\\u20AC";
    char *s = gw_jv_unesc(&a, gw_span_make(raw1, LIT_LEN(raw1)), &n);
    cr_assert_not_null(s);
    static const char want1[] = "a\xC3\xA9\n\t\"\\/\b\f\r-\xE2\x82\xAC";
    cr_assert_eq(n, LIT_LEN(want1));
    cr_assert_eq(memcmp(s, want1, n), 0);
    cr_assert_eq(s[n], '\0', "NUL-terminated");

    static const char raw2[] = "smile \\ud83d\\ude00!";
    s = gw_jv_unesc(&a, gw_span_make(raw2, LIT_LEN(raw2)), &n);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "smile \xF0\x9F\x98\x80!");
    cr_assert_eq(n, 11);

    static const char raw3[] = "x\\u0000y";
    s = gw_jv_unesc(&a, gw_span_make(raw3, LIT_LEN(raw3)), &n);
    cr_assert_not_null(s);
    cr_assert_eq(n, 3, "\\u0000 is a NUL byte inside the text");
    cr_assert_eq(memcmp(s, "x\0y", 4), 0);

    s = gw_jv_unesc(&a, gw_span_make("plain", 5), NULL);
    cr_assert_str_eq(s, "plain", "n may be NULL");
    s = gw_jv_unesc(&a, gw_span_make("", 0), &n);
    cr_assert_not_null(s);
    cr_assert_eq(n, 0);
    cr_assert_eq(s[0], '\0');
    gw_arena_destroy(&a);
}

Test(jv, unesc_refuses_invalid_escapes)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    static const char *const bad[] = {
        "a\\x",            /* unknown escape */
        "a\\",             /* backslash at the end */
        "\\u12",           /* short \u */
        "\\u12g4",         /* not hex */
        "\\ud83d",         /* high surrogate alone */
        "\\ud83dx\\ude00", /* high surrogate not followed by an escape */
        "\\ud83d\\u0041",  /* high surrogate followed by a non-surrogate */
        "\\ude00",         /* low surrogate alone */
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        size_t n = 77;
        cr_assert_null(gw_jv_unesc(&a, gw_span_cstr(bad[i]), &n), "\"%s\"", bad[i]);
    }
    gw_arena_destroy(&a);
}

Test(jv, unesc_on_an_exhausted_arena_is_null)
{
    struct gw_arena a;
    gw_arena_init(&a, 64, 64);
    char big[200];
    memset(big, 'x', sizeof(big));
    cr_assert_null(gw_jv_unesc(&a, gw_span_make(big, sizeof(big)), NULL));
    char *s = gw_jv_unesc(&a, gw_span_make(big, 10), NULL);
    cr_assert_not_null(s, "what fits still succeeds");
    cr_assert_eq(strlen(s), 10);
    gw_arena_destroy(&a);
}

/* The value of member "v" in the object text {"v": <num>}. */
static struct gw_jv num(const char *doc)
{
    const char *k = "v";
    struct gw_jv v;
    cr_assert_eq(gw_jv_scan(gw_span_cstr(doc), &k, 1, &v), 0, "%s", doc);
    return v;
}

Test(jv, u64_takes_non_negative_integers_up_to_the_limit)
{
    uint64_t u = 1;
    struct gw_jv v = num("{\"v\": 0}");
    cr_assert(gw_jv_u64(&v, &u));
    cr_assert_eq(u, 0);
    v = num("{\"v\": 18446744073709551615}");
    cr_assert(gw_jv_u64(&v, &u));
    cr_assert_eq(u, UINT64_MAX);
    v = num("{\"v\": 1234567}");
    cr_assert(gw_jv_u64(&v, &u));
    cr_assert_eq(u, 1234567);

    static const char *const bad[] = {
        "{\"v\": 18446744073709551616}", /* one past the limit */
        "{\"v\": 99999999999999999999}",
        "{\"v\": -1}",
        "{\"v\": -0}",
        "{\"v\": 1.5}",
        "{\"v\": 1.0}",
        "{\"v\": 1e3}",
        "{\"v\": 1E3}",
        "{\"v\": \"5\"}",
        "{\"v\": true}",
        "{\"v\": null}",
        "{\"w\": 1}",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        u = 42;
        v = num(bad[i]);
        cr_assert_not(gw_jv_u64(&v, &u), "%s", bad[i]);
        cr_assert_eq(u, 0, "%s: out is 0 when false", bad[i]);
    }
}

Test(jv, double_reads_any_number)
{
    static const struct {
        const char *doc;
        double want;
    } ok[] = {
        {"{\"v\": 42}", 42.0},
        {"{\"v\": -2.5e-3}", -0.0025},
        {"{\"v\": 1E2}", 100.0},
        {"{\"v\": 0.125}", 0.125},
        {"{\"v\": -0}", 0.0},
        {"{\"v\": 1e+2}", 100.0},
        {"{\"v\": 18446744073709551616}", 18446744073709551616.0},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(ok); i++) {
        double d = -1;
        struct gw_jv v = num(ok[i].doc);
        cr_assert(gw_jv_double(&v, &d), "%s", ok[i].doc);
        cr_assert_float_eq(d, ok[i].want, 1e-12, "%s: %g", ok[i].doc, d);
    }
    static const char *const bad[] = {"{\"v\": \"1.5\"}", "{\"v\": false}", "{\"v\": null}",
                                      "{\"v\": [1]}", "{}"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        double d = 7;
        struct gw_jv v = num(bad[i]);
        cr_assert_not(gw_jv_double(&v, &d), "%s", bad[i]);
        cr_assert_eq(d, 0.0, "%s: out is 0 when false", bad[i]);
    }
}

Test(jv, is_int_allows_a_sign_but_no_fraction_or_exponent)
{
    static const char *const yes[] = {"{\"v\": 0}", "{\"v\": -7}", "{\"v\": 18446744073709551616}"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(yes); i++) {
        struct gw_jv v = num(yes[i]);
        cr_assert(gw_jv_is_int(&v), "%s", yes[i]);
    }
    static const char *const no[] = {"{\"v\": 1.0}",  "{\"v\": 2e5}",   "{\"v\": 2E5}",
                                     "{\"v\": -0.5}", "{\"v\": \"7\"}", "{\"v\": null}",
                                     "{\"v\": true}"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(no); i++) {
        struct gw_jv v = num(no[i]);
        cr_assert_not(gw_jv_is_int(&v), "%s", no[i]);
    }
}

Test(jv, scan_looks_up_gw_jv_scan_max_keys_at_once)
{
    /* An object with GW_JV_SCAN_MAX + 2 members k0.. (value = its index), scanned for
     * the first GW_JV_SCAN_MAX of them in reverse order. */
    char doc[2048];
    size_t len = 0;
    doc[len++] = '{';
    for (int i = 0; i < GW_JV_SCAN_MAX + 2; i++)
        len += (size_t)snprintf(doc + len, sizeof(doc) - len, "%s\"k%d\":%d", i ? "," : "", i, i);
    doc[len++] = '}';
    cr_assert_lt(len, sizeof(doc));

    char names[GW_JV_SCAN_MAX][8];
    const char *k[GW_JV_SCAN_MAX];
    for (int i = 0; i < GW_JV_SCAN_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", GW_JV_SCAN_MAX - 1 - i);
        k[i] = names[i];
    }
    struct gw_jv v[GW_JV_SCAN_MAX];
    cr_assert_eq(gw_jv_scan(gw_span_make(doc, len), k, GW_JV_SCAN_MAX, v), 0);
    for (int i = 0; i < GW_JV_SCAN_MAX; i++) {
        uint64_t u;
        cr_assert(gw_jv_u64(&v[i], &u), "key %s", k[i]);
        cr_assert_eq(u, (uint64_t)(GW_JV_SCAN_MAX - 1 - i), "key %s", k[i]);
    }
}

Test(jv, scan_past_gw_jv_scan_max_keys_is_a_bug, .signal = SIGABRT)
{
    const char *k[GW_JV_SCAN_MAX + 1];
    for (size_t i = 0; i < GW_ARRAY_SIZE(k); i++)
        k[i] = "k";
    struct gw_jv v[GW_JV_SCAN_MAX + 1];
    (void)gw_jv_scan(gw_span_make("{}", 2), k, GW_ARRAY_SIZE(k), v);
}
