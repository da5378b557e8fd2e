/*
 * tests/unit/core/test_accounts.c — the keys/teams/prices object: lookups by
 * digest with every refusal reason, rotation grace, allow-lists, the price
 * table, cost math (cached tokens billed once, at their own rate) and the
 * price version recorded with every usage row.
 *
 * Expected amounts are worked out by hand in the comments (pUSD = tokens *
 * uUSD-per-1M, core/money.h), never by calling the code under test.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/accounts.h"
#include "core/money.h"

/* A fake digest: distinct for distinct n; the first four bytes (the table's hash) may collide. */
static void fake_digest(uint8_t d[GW_DIGEST_LEN], uint32_t n, bool collide)
{
    memset(d, 0x5a, GW_DIGEST_LEN);
    if (!collide) {
        d[0] = (uint8_t)n;
        d[1] = (uint8_t)(n >> 8);
        d[2] = (uint8_t)(n >> 16);
        d[3] = (uint8_t)(n >> 24);
    }
    d[28] = (uint8_t)n;
    d[29] = (uint8_t)(n >> 8);
    d[30] = (uint8_t)(n >> 16);
    d[31] = (uint8_t)(n >> 24);
}

static struct gw_accounts_builder *builder(void)
{
    struct gw_accounts_builder *b = gw_accounts_builder_new(NULL, NULL);
    cr_assert_not_null(b);
    return b;
}

static void add_key(struct gw_accounts_builder *b, const char *id, const char *team, uint32_t n,
                    bool enabled, int64_t expires_at)
{
    struct gw_vkey k = {.id = id, .name = id, .enabled = enabled, .expires_at = expires_at};
    uint8_t d[GW_DIGEST_LEN];
    fake_digest(d, n, false);
    char err[128] = "";
    cr_assert_eq(gw_accounts_add_key(b, &k, team, d, NULL, 0, err, sizeof(err)), 0, "%s", err);
}

static void add_team(struct gw_accounts_builder *b, const char *id, bool enabled)
{
    struct gw_team t = {.id = id, .name = id, .enabled = enabled};
    char err[128] = "";
    cr_assert_eq(gw_accounts_add_team(b, &t, err, sizeof(err)), 0, "%s", err);
}

static const struct gw_vkey *find(const struct gw_accounts *a, uint32_t n, int64_t now,
                                  enum gw_key_status *st)
{
    uint8_t d[GW_DIGEST_LEN];
    fake_digest(d, n, false);
    return gw_accounts_find_key(a, d, now, st);
}

#define NOW 1773576000 /* 2026-03-15T12:00:00Z */

Test(accounts, find_key_by_digest_and_unknown_digest)
{
    struct gw_accounts_builder *b = builder();
    add_key(b, "key_a", NULL, 1, true, 0);
    add_key(b, "key_b", NULL, 2, true, 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);

    enum gw_key_status st = GW_KEY_STATUS_COUNT;
    const struct gw_vkey *k = find(a, 2, NOW, &st);
    cr_assert_not_null(k);
    cr_assert_eq(st, GW_KEY_OK);
    cr_assert_str_eq(k->id, "key_b");
    cr_assert_null(k->team);

    cr_assert_null(find(a, 3, NOW, &st));
    cr_assert_eq(st, GW_KEY_UNKNOWN);
    cr_assert_str_eq(gw_key_status_str(st), "unknown");
    gw_accounts_unref(a);
}

Test(accounts, disabled_key_and_key_of_disabled_team_are_refused)
{
    struct gw_accounts_builder *b = builder();
    add_team(b, "team_on", true);
    add_team(b, "team_off", false);
    add_key(b, "key_off", "team_on", 1, false, 0);
    add_key(b, "key_in_off_team", "team_off", 2, true, 0);
    add_key(b, "key_in_on_team", "team_on", 3, true, 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);

    enum gw_key_status st;
    cr_assert_null(find(a, 1, NOW, &st));
    cr_assert_eq(st, GW_KEY_DISABLED);
    cr_assert_null(find(a, 2, NOW, &st));
    cr_assert_eq(st, GW_KEY_DISABLED);
    const struct gw_vkey *k = find(a, 3, NOW, &st);
    cr_assert_not_null(k);
    cr_assert_not_null(k->team);
    cr_assert_str_eq(k->team->id, "team_on");
    gw_accounts_unref(a);
}

Test(accounts, key_expires_at_the_exact_second)
{
    struct gw_accounts_builder *b = builder();
    add_key(b, "key_x", NULL, 7, true, NOW + 100);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);
    enum gw_key_status st;
    cr_assert_not_null(find(a, 7, NOW + 99, &st));
    cr_assert_eq(st, GW_KEY_OK);
    cr_assert_null(find(a, 7, NOW + 100, &st));
    cr_assert_eq(st, GW_KEY_EXPIRED);
    cr_assert_null(find(a, 7, NOW + 101, &st));
    cr_assert_eq(st, GW_KEY_EXPIRED);
    gw_accounts_unref(a);
}

Test(accounts, rotated_key_answers_to_new_digest_and_old_one_until_grace_ends)
{
    struct gw_accounts_builder *b = builder();
    struct gw_vkey k = {.id = "key_r", .name = "r", .enabled = true};
    uint8_t nd[GW_DIGEST_LEN], od[GW_DIGEST_LEN];
    fake_digest(nd, 20, false);
    fake_digest(od, 21, false);
    char err[128] = "";
    cr_assert_eq(gw_accounts_add_key(b, &k, NULL, nd, od, NOW + 60, err, sizeof(err)), 0, "%s",
                 err);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);
    cr_assert_eq(gw_accounts_nkeys(a), 1, "the old digest is not a second key");

    enum gw_key_status st;
    const struct gw_vkey *viaold = gw_accounts_find_key(a, od, NOW + 59, &st);
    cr_assert_not_null(viaold);
    cr_assert_eq(st, GW_KEY_OK);
    const struct gw_vkey *vianew = gw_accounts_find_key(a, nd, NOW + 59, &st);
    cr_assert_eq(viaold, vianew, "both digests name the same key");

    cr_assert_null(gw_accounts_find_key(a, od, NOW + 60, &st));
    cr_assert_eq(st, GW_KEY_EXPIRED);
    cr_assert_null(gw_accounts_find_key(a, od, NOW + 3600, &st));
    cr_assert_eq(st, GW_KEY_EXPIRED);
    cr_assert_not_null(gw_accounts_find_key(a, nd, NOW + 3600, &st));
    cr_assert_eq(st, GW_KEY_OK);
    gw_accounts_unref(a);
}

Test(accounts, rotation_without_grace_stops_the_old_secret_at_once)
{
    struct gw_accounts_builder *b = builder();
    struct gw_vkey k = {.id = "key_r", .enabled = true};
    uint8_t nd[GW_DIGEST_LEN], od[GW_DIGEST_LEN];
    fake_digest(nd, 30, false);
    fake_digest(od, 31, false);
    cr_assert_eq(gw_accounts_add_key(b, &k, NULL, nd, od, NOW, NULL, 0), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    enum gw_key_status st;
    cr_assert_null(gw_accounts_find_key(a, od, NOW, &st));
    cr_assert_eq(st, GW_KEY_EXPIRED);
    gw_accounts_unref(a);
}

Test(accounts, duplicate_digest_and_unknown_team_are_refused_with_a_message)
{
    struct gw_accounts_builder *b = builder();
    add_team(b, "team_1", true);
    add_key(b, "key_1", "team_1", 1, true, 0);
    struct gw_vkey k = {.id = "key_2", .enabled = true};
    uint8_t d1[GW_DIGEST_LEN], d2[GW_DIGEST_LEN], d3[GW_DIGEST_LEN];
    fake_digest(d1, 1, false);
    fake_digest(d2, 2, false);
    fake_digest(d3, 3, false);
    char err[128] = "";
    cr_assert_eq(gw_accounts_add_key(b, &k, NULL, d1, NULL, 0, err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    err[0] = '\0';
    cr_assert_eq(gw_accounts_add_key(b, &k, NULL, d2, d1, NOW, err, sizeof(err)), -1,
                 "an old digest that is another key's current one");
    cr_assert_neq(err[0], '\0');
    err[0] = '\0';
    cr_assert_eq(gw_accounts_add_key(b, &k, "team_nope", d2, NULL, 0, err, sizeof(err)), -1);
    cr_assert(strstr(err, "team_nope"), "%s", err);
    err[0] = '\0';
    struct gw_team dup = {.id = "team_1"};
    cr_assert_eq(gw_accounts_add_team(b, &dup, err, sizeof(err)), -1);
    cr_assert_neq(err[0], '\0');
    /* the refused attempts left nothing behind: d2 is still free */
    cr_assert_eq(gw_accounts_add_key(b, &k, NULL, d2, d3, NOW, NULL, 0), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_eq(gw_accounts_nkeys(a), 2);
    enum gw_key_status st;
    cr_assert_str_eq(gw_accounts_find_key(a, d1, NOW - 1, &st)->id, "key_1");
    cr_assert_str_eq(gw_accounts_find_key(a, d2, NOW - 1, &st)->id, "key_2");
    cr_assert_str_eq(gw_accounts_find_key(a, d3, NOW - 1, &st)->id, "key_2");
    gw_accounts_unref(a);
}

Test(accounts, many_keys_with_colliding_hashes_are_all_found)
{
    struct gw_accounts_builder *b = builder();
    enum { N = 3000 };
    static char ids[N][16];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "key_%u", i);
        struct gw_vkey k = {.id = ids[i], .enabled = true};
        uint8_t d[GW_DIGEST_LEN];
        fake_digest(d, i, i % 3 == 0); /* a third share one hash */
        cr_assert_eq(gw_accounts_add_key(b, &k, NULL, d, NULL, 0, NULL, 0), 0, "key %u", i);
    }
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);
    cr_assert_eq(gw_accounts_nkeys(a), N);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t d[GW_DIGEST_LEN];
        fake_digest(d, i, i % 3 == 0);
        enum gw_key_status st;
        const struct gw_vkey *k = gw_accounts_find_key(a, d, NOW, &st);
        cr_assert_not_null(k, "key %u", i);
        cr_assert_str_eq(k->id, ids[i]);
        cr_assert_eq(gw_accounts_key_by_id(a, ids[i]), k);
    }
    uint8_t miss[GW_DIGEST_LEN];
    fake_digest(miss, N + 5, true); /* shares the colliding hash, matches nothing */
    enum gw_key_status st;
    cr_assert_null(gw_accounts_find_key(a, miss, NOW, &st));
    cr_assert_eq(st, GW_KEY_UNKNOWN);
    cr_assert_null(gw_accounts_key_by_id(a, "key_none"));
    gw_accounts_unref(a);
}

Test(accounts, strings_are_copied_into_the_object)
{
    struct gw_accounts_builder *b = builder();
    char id[16] = "key_copy", name[16] = "copy", model[16] = "gpt-4o", tid[16] = "team_c";
    const char *models[] = {model};
    struct gw_team t = {.id = tid, .name = "tn", .enabled = true};
    cr_assert_eq(gw_accounts_add_team(b, &t, NULL, 0), 0);
    struct gw_vkey k = {.id = id, .name = name, .enabled = true, .models = models, .nmodels = 1};
    uint8_t d[GW_DIGEST_LEN];
    fake_digest(d, 9, false);
    cr_assert_eq(gw_accounts_add_key(b, &k, tid, d, NULL, 0, NULL, 0), 0);
    memset(id, 'X', sizeof(id) - 1);
    memset(name, 'X', sizeof(name) - 1);
    memset(model, 'X', sizeof(model) - 1);
    memset(tid, 'X', sizeof(tid) - 1);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    const struct gw_vkey *kk = gw_accounts_key_at(a, 0);
    cr_assert_str_eq(kk->id, "key_copy");
    cr_assert_str_eq(kk->name, "copy");
    cr_assert_str_eq(kk->models[0], "gpt-4o");
    cr_assert_str_eq(kk->metadata, "{}", "absent metadata reads as an empty object");
    cr_assert_str_eq(kk->team->id, "team_c");
    cr_assert_eq(gw_accounts_nteams(a), 1);
    cr_assert_eq(gw_accounts_team_at(a, 0), kk->team);
    cr_assert_null(gw_accounts_key_at(a, 1));
    gw_accounts_unref(a);
}

static uint32_t next_slot(void *arg, const char *id)
{
    (void)id;
    uint32_t *n = arg;
    return (*n)++;
}

Test(accounts, only_budgeted_subjects_get_a_slot)
{
    uint32_t n = 5;
    struct gw_accounts_builder *b = gw_accounts_builder_new(next_slot, &n);
    struct gw_team t1 = {.id = "team_b", .enabled = true, .budget = {.set = true, .limit_pusd = 1}};
    struct gw_team t2 = {.id = "team_nob", .enabled = true};
    cr_assert_eq(gw_accounts_add_team(b, &t1, NULL, 0), 0);
    cr_assert_eq(gw_accounts_add_team(b, &t2, NULL, 0), 0);
    struct gw_vkey k1 = {.id = "key_b", .enabled = true, .budget = {.set = true, .limit_pusd = 1}};
    struct gw_vkey k2 = {.id = "key_nob", .enabled = true, .slot = 3 /* ignored */};
    uint8_t d[GW_DIGEST_LEN];
    fake_digest(d, 1, false);
    cr_assert_eq(gw_accounts_add_key(b, &k1, "team_nob", d, NULL, 0, NULL, 0), 0);
    fake_digest(d, 2, false);
    cr_assert_eq(gw_accounts_add_key(b, &k2, "team_b", d, NULL, 0, NULL, 0), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_eq(gw_accounts_team_at(a, 0)->slot, 5);
    cr_assert_eq(gw_accounts_team_at(a, 1)->slot, GW_SLOT_NONE);
    cr_assert_eq(gw_accounts_key_at(a, 0)->slot, 6);
    cr_assert_eq(gw_accounts_key_at(a, 1)->slot, GW_SLOT_NONE);
    cr_assert_eq(n, 7);
    gw_accounts_unref(a);
}

static bool allows(const struct gw_vkey *k, const char *m)
{
    return gw_vkey_allows_model(k, gw_span_cstr(m));
}

Test(accounts, allow_list_exact_prefix_star_and_empty)
{
    const char *list[] = {"gpt-4o", "claude-*"};
    struct gw_vkey k = {.models = list, .nmodels = 2};
    cr_assert(allows(&k, "gpt-4o"));
    cr_assert_not(allows(&k, "gpt-4o-mini"), "an exact name is not a prefix");
    cr_assert_not(allows(&k, "gpt-4"));
    cr_assert(allows(&k, "claude-3-5-sonnet"));
    cr_assert(allows(&k, "claude-"), "the prefix itself matches");
    cr_assert_not(allows(&k, "claude"));
    cr_assert_not(allows(&k, "xclaude-3"));
    cr_assert_not(allows(&k, ""));

    struct gw_vkey all = {.nmodels = 0};
    cr_assert(allows(&all, "anything"), "an empty list allows every model");

    const char *star[] = {"*"};
    struct gw_vkey s = {.models = star, .nmodels = 1};
    cr_assert(allows(&s, "anything"));
    cr_assert(allows(&s, ""));
}

static struct gw_price price(const char *model, int64_t in, int64_t out, int64_t cached, int64_t cw,
                             const char *source)
{
    return (struct gw_price){.model = model,
                             .input = in,
                             .output = out,
                             .cached_input = cached,
                             .cache_write = cw,
                             .embedding = -1,
                             .source = source};
}

Test(accounts, price_lookup_by_model_then_upstream_name)
{
    struct gw_accounts_builder *b = builder();
    struct gw_price p1 = price("gpt-4o", 2500000, 10000000, 1250000, -1, "config");
    struct gw_price p2 = price("claude-sonnet", 3000000, 15000000, 300000, 3750000, "config");
    cr_assert_eq(gw_accounts_set_price(b, &p1), 0);
    cr_assert_eq(gw_accounts_set_price(b, &p2), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    const struct gw_price *p =
        gw_accounts_find_price(a, GW_SPAN_LIT("gpt-4o"), GW_SPAN_LIT("claude-sonnet"));
    cr_assert_not_null(p);
    cr_assert_str_eq(p->model, "gpt-4o", "the client-facing name wins");
    p = gw_accounts_find_price(a, GW_SPAN_LIT("my-alias"), GW_SPAN_LIT("claude-sonnet"));
    cr_assert_not_null(p);
    cr_assert_str_eq(p->model, "claude-sonnet");
    cr_assert_eq(p->cache_write, 3750000);
    cr_assert_null(gw_accounts_find_price(a, GW_SPAN_LIT("my-alias"), GW_SPAN_NULL));
    cr_assert_null(gw_accounts_find_price(a, GW_SPAN_LIT("gpt-4"), GW_SPAN_LIT("gpt-4o-")));
    /* a span, not a C string: no NUL after the name */
    const char buf[] = "gpt-4oXYZ";
    cr_assert_not_null(gw_accounts_find_price(a, gw_span_make(buf, 6), GW_SPAN_NULL));
    gw_accounts_unref(a);
}

Test(accounts, later_price_replaces_earlier_one)
{
    struct gw_accounts_builder *b = builder();
    gw_accounts_add_default_prices(b);
    size_t ndef = gw_prices_default_count;
    struct gw_price o = price("gpt-4o", 1, 2, 3, 4, "config");
    cr_assert_eq(gw_accounts_set_price(b, &o), 0);
    struct gw_price o2 = price("gpt-4o", 5, 6, 7, 8, "admin");
    cr_assert_eq(gw_accounts_set_price(b, &o2), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_eq(gw_accounts_nprices(a), ndef, "replaced, not added (gpt-4o is in the table)");
    const struct gw_price *p = gw_accounts_find_price(a, GW_SPAN_LIT("gpt-4o"), GW_SPAN_NULL);
    cr_assert_eq(p->input, 5);
    cr_assert_eq(p->cache_write, 8);
    cr_assert_str_eq(p->source, "admin");
    gw_accounts_unref(a);
}

Test(accounts, default_table_is_sorted_unique_and_converted_to_uusd)
{
    cr_assert_gt(gw_prices_default_count, 50);
    cr_assert_lt(gw_prices_default_count, 1000);
    for (size_t i = 1; i < gw_prices_default_count; i++)
        cr_assert_lt(strcmp(gw_prices_default[i - 1].model, gw_prices_default[i].model), 0,
                     "%s / %s", gw_prices_default[i - 1].model, gw_prices_default[i].model);
    cr_assert_not_null(strstr(gw_prices_default_source, "genai-prices"));

    struct gw_accounts_builder *b = builder();
    gw_accounts_add_default_prices(b);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_eq(gw_accounts_nprices(a), gw_prices_default_count);
    for (size_t i = 0; i < gw_prices_default_count; i++) {
        const struct gw_price_default *d = &gw_prices_default[i];
        const struct gw_price *p = gw_accounts_find_price(a, gw_span_cstr(d->model), GW_SPAN_NULL);
        cr_assert_not_null(p, "%s", d->model);
        cr_assert_str_eq(p->source, "default");
        /* USD per 1M to uUSD per 1M is a factor of 1e6, rounded */
        cr_assert_eq(p->input, d->input < 0 ? -1 : (int64_t)(d->input * 1e6 + 0.5), "%s", d->model);
        cr_assert_eq(p->output, d->output < 0 ? -1 : (int64_t)(d->output * 1e6 + 0.5));
        cr_assert_eq(p->cached_input,
                     d->cached_input < 0 ? -1 : (int64_t)(d->cached_input * 1e6 + 0.5));
        cr_assert_eq(p->cache_write,
                     d->cache_write < 0 ? -1 : (int64_t)(d->cache_write * 1e6 + 0.5));
    }
    /* Spot check against the package's published figures for gpt-4o: $2.50 / $10 / $1.25. */
    const struct gw_price *p = gw_accounts_find_price(a, GW_SPAN_LIT("gpt-4o"), GW_SPAN_NULL);
    cr_assert_not_null(p);
    cr_assert_eq(p->input, 2500000);
    cr_assert_eq(p->output, 10000000);
    cr_assert_eq(p->cached_input, 1250000);
    gw_accounts_unref(a);
}

Test(accounts, cost_bills_cached_tokens_once_at_their_rate)
{
    /* $2.50 input, $10 output, $1.25 cached per 1M tokens */
    struct gw_price p = price("m", 2500000, 10000000, 1250000, -1, "config");
    struct gw_cost_in u = {.prompt_tokens = 1000, .cached_tokens = 400, .completion_tokens = 200};
    /*
     * 600 uncached * $2.50/1M = $0.0015, 400 cached * $1.25/1M = $0.0005,
     * 200 out * $10/1M = $0.002: $0.004 = 4,000,000,000 pUSD.
     */
    cr_assert_eq(gw_price_cost(&p, &u), 4000000000LL);
}

Test(accounts, cost_with_cache_writes_and_unset_rates)
{
    /* Anthropic-like: $3 input, $15 output, $0.30 cache read, $3.75 cache write */
    struct gw_price p = price("m", 3000000, 15000000, 300000, 3750000, "config");
    struct gw_cost_in u = {.prompt_tokens = 10000,
                           .cached_tokens = 6000,
                           .cache_write_tokens = 3000,
                           .completion_tokens = 500};
    /*
     * 1000 uncached * $3/1M = $0.003, 6000 read * $0.30/1M = $0.0018,
     * 3000 written * $3.75/1M = $0.01125, 500 out * $15/1M = $0.0075:
     * $0.02355 = 23,550,000,000 pUSD.
     */
    cr_assert_eq(gw_price_cost(&p, &u), 23550000000LL);

    /* Unset cached and cache-write rates bill those tokens at the input rate: 10000 * $3/1M. */
    struct gw_price q = price("m", 3000000, -1, -1, -1, "config");
    struct gw_cost_in v = {.prompt_tokens = 10000,
                           .cached_tokens = 6000,
                           .cache_write_tokens = 3000,
                           .completion_tokens = 500};
    cr_assert_eq(gw_price_cost(&q, &v), 30000000000LL, "an unset output rate bills 0");
}

Test(accounts, cost_of_embeddings_and_inconsistent_counts)
{
    struct gw_price p = price("e", 100000, -1, -1, -1, "config");
    p.embedding = 20000; /* $0.02 per 1M */
    struct gw_cost_in u = {.prompt_tokens = 5000, .cached_tokens = 1000, .embedding = true};
    /* all 5000 at $0.02/1M = $0.0001 = 100,000,000 pUSD */
    cr_assert_eq(gw_price_cost(&p, &u), 100000000LL);
    p.embedding = -1; /* falls back to the input rate: 5000 * $0.10/1M = $0.0005 */
    cr_assert_eq(gw_price_cost(&p, &u), 500000000LL);

    /* cached larger than the prompt: the uncached part is 0, not 2^64 - 100 */
    struct gw_price c = price("m", 1000000, 0, 500000, -1, "config");
    struct gw_cost_in w = {.prompt_tokens = 100, .cached_tokens = 200};
    /* 200 * $0.50/1M = 100,000,000 pUSD */
    cr_assert_eq(gw_price_cost(&c, &w), 100000000LL);
}

Test(accounts, cost_saturates_instead_of_wrapping)
{
    struct gw_price p =
        price("m", 1000000000000LL /* $1e6 per 1M */, 1000000000000LL, -1, -1, "config");
    struct gw_cost_in u = {.prompt_tokens = UINT64_MAX / 2, .completion_tokens = UINT64_MAX};
    cr_assert_eq(gw_price_cost(&p, &u), INT64_MAX);
    struct gw_cost_in v = {.prompt_tokens = 9000000, .completion_tokens = 9000000};
    /* 9e6 * 1e12 = 9e18 each, 1.8e19 together > INT64_MAX (9.22e18) */
    cr_assert_eq(gw_price_cost(&p, &v), INT64_MAX);
}

static struct gw_accounts *with_overrides(const struct gw_price *ps, size_t n)
{
    struct gw_accounts_builder *b = builder();
    gw_accounts_add_default_prices(b);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(gw_accounts_set_price(b, &ps[i]), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    cr_assert_not_null(a);
    return a;
}

Test(accounts, price_version_names_the_table_and_hashes_overrides)
{
    struct gw_accounts *a0 = with_overrides(NULL, 0);
    cr_assert_str_eq(gw_accounts_price_version(a0), "genai-prices@0.1.8");

    struct gw_price o[] = {
        price("gpt-4o-mini", 150000, 600000, 75000, -1, "config"),
        price("my-model", 1, 2, -1, -1, "admin"),
    };
    struct gw_accounts *a1 = with_overrides(o, 2);
    const char *v1 = gw_accounts_price_version(a1);
    cr_assert_eq(strncmp(v1, "genai-prices@0.1.8+", 19), 0, "%s", v1);
    cr_assert_eq(strlen(v1), 19 + 8, "%s", v1);
    cr_assert_eq(strspn(v1 + 19, "0123456789abcdef"), 8, "%s", v1);

    struct gw_price rev[] = {o[1], o[0]};
    struct gw_accounts *a2 = with_overrides(rev, 2);
    cr_assert_str_eq(gw_accounts_price_version(a2), v1, "same overrides, any order");

    struct gw_price changed[] = {o[0], o[1]};
    changed[0].cached_input = 75001;
    struct gw_accounts *a3 = with_overrides(changed, 2);
    cr_assert_str_neq(gw_accounts_price_version(a3), v1);

    struct gw_price one[] = {o[0]};
    struct gw_accounts *a4 = with_overrides(one, 1);
    cr_assert_str_neq(gw_accounts_price_version(a4), v1);

    gw_accounts_unref(a0);
    gw_accounts_unref(a1);
    gw_accounts_unref(a2);
    gw_accounts_unref(a3);
    gw_accounts_unref(a4);
}

Test(accounts, references_keep_the_object_until_the_last_unref)
{
    struct gw_accounts_builder *b = builder();
    add_key(b, "key_ref", NULL, 1, true, 0);
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    gw_accounts_ref(a);
    gw_accounts_ref(a);
    gw_accounts_unref(a);
    gw_accounts_unref(a);
    /* one reference left: still readable (ASan reports a use after free otherwise) */
    enum gw_key_status st;
    cr_assert_str_eq(find(a, 1, NOW, &st)->id, "key_ref");
    gw_accounts_unref(a); /* freed here; LeakSanitizer reports it otherwise */
    gw_accounts_unref(NULL);
}

Test(accounts, empty_object_answers_every_lookup)
{
    struct gw_accounts *a = gw_accounts_builder_finish(builder());
    cr_assert_not_null(a);
    enum gw_key_status st;
    cr_assert_null(find(a, 1, NOW, &st));
    cr_assert_eq(st, GW_KEY_UNKNOWN);
    cr_assert_null(gw_accounts_find_price(a, GW_SPAN_LIT("x"), GW_SPAN_LIT("y")));
    cr_assert_eq(gw_accounts_nkeys(a) + gw_accounts_nteams(a) + gw_accounts_nprices(a), 0);
    gw_accounts_unref(a);
    gw_accounts_builder_free(builder());
}
