/*
 * Tests for core/auth.c: extracting the presented key from Authorization or
 * X-API-Key, constant-time comparison, and lookup in a loaded config.
 */
#include <stdbool.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/auth.h"
#include "core/common.h"
#include "core/config.h"
#include "store/runtime.h"

static struct gw_span sp(const char *s)
{
    return gw_span_cstr(s);
}

/* Runs gw_auth_extract; returns the key as a string in a static buffer, or NULL for none. */
static const char *extract(const char *authorization, const char *x_api_key)
{
    static char out[128];
    struct gw_span key = {(const char *)1, 12345};
    struct gw_span a = authorization ? sp(authorization) : GW_SPAN_NULL;
    struct gw_span x = x_api_key ? sp(x_api_key) : GW_SPAN_NULL;
    if (!gw_auth_extract(a, x, &key)) {
        cr_assert_eq(key.len, 12345, "key written on failure");
        return NULL;
    }
    cr_assert_lt(key.len, sizeof(out));
    cr_assert_gt(key.len, 0);
    /* the key is a span into one of the inputs, not a copy */
    bool in_a = authorization && key.ptr >= authorization &&
                key.ptr + key.len <= authorization + strlen(authorization);
    bool in_x =
        x_api_key && key.ptr >= x_api_key && key.ptr + key.len <= x_api_key + strlen(x_api_key);
    cr_assert(in_a || in_x);
    memcpy(out, key.ptr, key.len);
    out[key.len] = '\0';
    return out;
}

Test(auth, bearer_scheme_is_case_insensitive)
{
    cr_assert_str_eq(extract("Bearer sk-abc", NULL), "sk-abc");
    cr_assert_str_eq(extract("bearer sk-abc", NULL), "sk-abc");
    cr_assert_str_eq(extract("BEARER sk-abc", NULL), "sk-abc");
    cr_assert_str_eq(extract("bEaReR sk-abc", NULL), "sk-abc");
}

Test(auth, bearer_allows_several_spaces_and_trims_trailing_whitespace)
{
    cr_assert_str_eq(extract("Bearer    sk-abc", NULL), "sk-abc");
    cr_assert_str_eq(extract("Bearer sk-abc  \t ", NULL), "sk-abc");
    cr_assert_str_eq(extract("  Bearer sk-abc", NULL), "sk-abc");
    cr_assert_str_eq(extract("Bearer a b", NULL), "a b");
}

Test(auth, malformed_bearer_yields_nothing)
{
    cr_assert_null(extract("Bearer", NULL));
    cr_assert_null(extract("Bearer ", NULL));
    cr_assert_null(extract("Bearer    \t", NULL));
    cr_assert_null(extract("Bearersk-abc", NULL));
    cr_assert_null(extract("Bearer\tsk-abc", NULL));
    cr_assert_null(extract("Bear sk-abc", NULL));
    cr_assert_null(extract("Basic dXNlcjpwYXNz", NULL));
    cr_assert_null(extract("sk-abc", NULL));
    cr_assert_null(extract("", NULL));
    cr_assert_null(extract(NULL, NULL));
}

Test(auth, x_api_key_is_the_fallback)
{
    cr_assert_str_eq(extract(NULL, "sk-x"), "sk-x");
    cr_assert_str_eq(extract("", " sk-x \t"), "sk-x");
    cr_assert_str_eq(extract("Basic dXNlcjpwYXNz", "sk-x"), "sk-x");
    cr_assert_str_eq(extract("Bearer ", "sk-x"), "sk-x");
    cr_assert_null(extract(NULL, "  "));
}

Test(auth, bearer_wins_over_x_api_key)
{
    cr_assert_str_eq(extract("Bearer sk-bearer", "sk-x"), "sk-bearer");
}

Test(auth, ct_eq_compares_bytes_and_lengths)
{
    cr_assert(gw_ct_eq("secret", 6, "secret", 6));
    cr_assert_not(gw_ct_eq("secret", 6, "secreT", 6));
    cr_assert_not(gw_ct_eq("secret", 6, "Secret", 6));
    cr_assert_not(gw_ct_eq("secret", 6, "secrets", 7));
    cr_assert_not(gw_ct_eq("secrets", 7, "secret", 6));
    cr_assert_not(gw_ct_eq("secret", 6, "sec", 3));
    cr_assert_not(gw_ct_eq("", 0, "x", 1));
    cr_assert_not(gw_ct_eq("x", 1, NULL, 0));
    cr_assert(gw_ct_eq(NULL, 0, NULL, 0));
    cr_assert(gw_ct_eq("a\0b", 3, "a\0b", 3));
    cr_assert_not(gw_ct_eq("a\0b", 3, "a\0c", 3));
    /* a is longer but b's bytes repeat: lengths alone must decide */
    cr_assert_not(gw_ct_eq("aaaa", 4, "a", 1));
}

/* A config with static keys, its accounts attached as the control thread does. */
static struct gw_config *load_keys(void)
{
    static const char yaml[] = "keys:\n"
                               "  - {name: alice, key: sk-alice-0001}\n"
                               "  - {name: bob, key: sk-bob-0002}\n"
                               "  - {name: carol, key: sk-alice-00011}\n";
    struct gw_config *cfg = NULL;
    struct gw_config_error err;
    cr_assert_eq(gw_config_load_buffer("t.yaml", yaml, sizeof(yaml) - 1, &cfg, &err), 0, "%s",
                 err.message);
    char msg[256];
    struct gw_accounts *a = gw_store_accounts_from_config(cfg, msg, sizeof(msg));
    cr_assert_not_null(a, "%s", msg);
    gw_config_set_accounts(cfg, a);
    gw_accounts_unref(a);
    return cfg;
}

static const struct gw_vkey *lookup(const struct gw_config *cfg, struct gw_span key)
{
    enum gw_key_status st;
    const struct gw_vkey *k = gw_auth_lookup(cfg, key, 1800000000, &st);
    cr_assert_eq(k != NULL, st == GW_KEY_OK);
    return k;
}

Test(auth, lookup_finds_the_exact_key_only)
{
    /* load_keys' keys, in order, and a prefix, an extension, another case, nothing. */
    static const char *const found[] = {"sk-alice-0001", "sk-bob-0002", "sk-alice-00011"};
    static const char *const names[] = {"alice", "bob", "carol"};
    static const char *const refused[] = {"sk-alice-000", "sk-bob-00021", "SK-BOB-0002", ""};
    struct gw_config *cfg = load_keys();
    for (size_t i = 0; i < GW_ARRAY_SIZE(found); i++) {
        const struct gw_vkey *k = lookup(cfg, sp(found[i]));
        cr_assert_not_null(k, "'%s' is a key", found[i]);
        cr_assert_str_eq(k->name, names[i]);
        cr_assert(k->is_static);
        cr_assert_eq(k->slot, GW_SLOT_NONE, "a static key has no budget");
    }
    for (size_t i = 0; i < GW_ARRAY_SIZE(refused); i++)
        cr_assert_null(lookup(cfg, sp(refused[i])), "'%s' is no key", refused[i]);
    cr_assert_null(lookup(cfg, GW_SPAN_NULL));
    cr_assert_null(lookup(NULL, sp("sk-bob-0002")));
    gw_config_free(cfg);
}

Test(auth, extract_then_lookup)
{
    struct gw_config *cfg = load_keys();
    struct gw_span key;
    cr_assert(gw_auth_extract(sp("Bearer  sk-bob-0002 "), GW_SPAN_NULL, &key));
    cr_assert_str_eq(lookup(cfg, key)->name, "bob");
    cr_assert(gw_auth_extract(GW_SPAN_NULL, sp("sk-alice-0001"), &key));
    cr_assert_str_eq(lookup(cfg, key)->name, "alice");
    gw_config_free(cfg);
}

Test(auth, lookup_in_a_config_without_accounts_finds_nothing)
{
    struct gw_config *cfg = NULL;
    struct gw_config_error err;
    cr_assert_eq(
        gw_config_load_buffer("t.yaml", "keys:\n  - {name: a, key: sk-a}\n", 30, &cfg, &err), 0,
        "%s", err.message);
    /* Fresh from the loader: no accounts attached yet, so nothing is accepted. */
    cr_assert_null(lookup(cfg, sp("sk-a")));
    gw_config_free(cfg);
}
