/*
 * tests/unit/core/test_spend.c — admission and settlement against key and
 * team budgets on a worker, the store thread's view of ingested spend, period
 * rollover, and the invariant core/spend.h claims: what a worker sees never
 * falls below the true total while the store thread moves spend from the
 * worker's unflushed counter into the settled cell.
 *
 * Amounts are in pUSD; USD(x) is x dollars. Expected values are sums worked
 * out in the test, never read back from the code under test.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/accounts.h"
#include "core/spend.h"

#define USD(x) ((int64_t)((x)*1e12 + 0.5))
#define NOW 1773576000     /* 2026-03-15T12:00:00Z */
#define MARCH_1 1772323200 /* 2026-03-01T00:00:00Z */
#define FEB_10 1770681600  /* 2026-02-10T00:00:00Z */
#define APRIL_1 1775001600 /* 2026-04-01T00:00:00Z */

enum { NSLOTS = 8, NWORKERS = 2 };

static struct gw_spend_board board;
static struct gw_spend_ledger led0, led1;

static void setup(void)
{
    cr_assert_eq(gw_spend_board_init(&board, NSLOTS, NWORKERS), 0);
    cr_assert_eq(gw_spend_ledger_init(&led0, NSLOTS), 0);
    cr_assert_eq(gw_spend_ledger_init(&led1, NSLOTS), 0);
}

static void teardown(void)
{
    gw_spend_ledger_destroy(&led1);
    gw_spend_ledger_destroy(&led0);
    gw_spend_board_destroy(&board);
}

static struct gw_budget budget(double usd, enum gw_period p)
{
    return (struct gw_budget){.set = true, .period = p, .limit_pusd = USD(usd)};
}

static int64_t seen(const struct gw_spend_ledger *l, unsigned w, uint32_t slot,
                    const struct gw_budget *b, int64_t now)
{
    return gw_spend_seen_on_worker(&board, l, w, slot, b, now);
}

TestSuite(spend, .init = setup, .fini = teardown);

Test(spend, admits_while_it_fits_and_refuses_without_reserving)
{
    struct gw_vkey k = {.id = "key_a", .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 0};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.4)), GW_ADMIT_OK);
    cr_assert_eq(seen(&led0, 0, 0, &k.budget, NOW), USD(0.4));
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.4)), GW_ADMIT_OK);
    /* 0.8 seen + 0.4 > 1.0 */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.4)),
                 GW_ADMIT_KEY_BUDGET);
    cr_assert_eq(seen(&led0, 0, 0, &k.budget, NOW), USD(0.8), "a refusal reserves nothing");
    /* exactly up to the limit fits: 0.8 + 0.2 = 1.0 */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.2)), GW_ADMIT_OK);
    cr_assert_eq(seen(&led0, 0, 0, &k.budget, NOW), USD(1.0));
    /* one pUSD more does not */
    gw_spend_settle_on_worker(&led0, &k, USD(0.2), USD(0.2));
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, 1), GW_ADMIT_KEY_BUDGET);
}

Test(spend, zero_estimate_is_admitted_only_below_the_limit)
{
    struct gw_vkey k = {.id = "key_z", .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 1};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.7)), GW_ADMIT_OK);
    gw_spend_settle_on_worker(&led0, &k, USD(0.7), USD(1.0) - 1);
    /* one pUSD below the limit: est 0 still gets in */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, 0), GW_ADMIT_OK);
    gw_spend_settle_on_worker(&led0, &k, 0, 1);
    cr_assert_eq(seen(&led0, 0, 1, &k.budget, NOW), USD(1.0));
    /* exactly at the limit: refused */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, 0), GW_ADMIT_KEY_BUDGET);
}

Test(spend, team_budget_binds_before_a_larger_key_budget)
{
    struct gw_team t = {
        .id = "team_t", .enabled = true, .budget = budget(0.5, GW_PERIOD_TOTAL), .slot = 2};
    struct gw_vkey k = {
        .id = "key_t", .team = &t, .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 3};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.3)), GW_ADMIT_OK);
    cr_assert_eq(seen(&led0, 0, 2, &t.budget, NOW), USD(0.3), "reserved on the team too");
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.3)),
                 GW_ADMIT_TEAM_BUDGET);
    cr_assert_eq(seen(&led0, 0, 3, &k.budget, NOW), USD(0.3), "nothing reserved on the key");
    cr_assert_eq(seen(&led0, 0, 2, &t.budget, NOW), USD(0.3), "nor on the team");

    /* Another key of the same team shares the team's budget. */
    struct gw_vkey k2 = {.id = "key_t2", .team = &t, .slot = GW_SLOT_NONE};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k2, NOW, USD(0.25)),
                 GW_ADMIT_TEAM_BUDGET);
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k2, NOW, USD(0.2)), GW_ADMIT_OK);
}

Test(spend, settle_replaces_the_estimate_with_the_real_cost)
{
    struct gw_team t = {.id = "team_s", .budget = budget(10, GW_PERIOD_TOTAL), .slot = 4};
    struct gw_vkey k = {
        .id = "key_s", .team = &t, .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 5};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.5)), GW_ADMIT_OK);
    gw_spend_settle_on_worker(&led0, &k, USD(0.5), USD(0.125));
    cr_assert_eq(seen(&led0, 0, 5, &k.budget, NOW), USD(0.125));
    cr_assert_eq(seen(&led0, 0, 4, &t.budget, NOW), USD(0.125));
    /* a failed request: reservation released, nothing booked */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.5)), GW_ADMIT_OK);
    gw_spend_settle_on_worker(&led0, &k, USD(0.5), 0);
    cr_assert_eq(seen(&led0, 0, 5, &k.budget, NOW), USD(0.125));
    /* worker 1 saw none of it: its ledger is its own and nothing is ingested yet */
    cr_assert_eq(seen(&led1, 1, 5, &k.budget, NOW), 0);
}

Test(spend, ingest_moves_spend_without_counting_it_twice)
{
    struct gw_budget b = budget(100, GW_PERIOD_MONTHLY);
    struct gw_vkey k = {.id = "key_i", .budget = b, .slot = 6};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(1)), GW_ADMIT_OK);
        gw_spend_settle_on_worker(&led0, &k, USD(1), USD(0.25));
    }
    cr_assert_eq(seen(&led0, 0, 6, &b, NOW), USD(0.75));
    /* the store ingests worker 0's first two records */
    gw_spend_apply_on_store(&board, 0, 6, &b, NOW - 10, USD(0.25));
    gw_spend_apply_on_store(&board, 0, 6, &b, NOW - 5, USD(0.25));
    cr_assert_eq(seen(&led0, 0, 6, &b, NOW), USD(0.75), "seen does not change on ingest");
    cr_assert_eq(atomic_load(&board.cells[6].settled_pusd), USD(0.5));
    cr_assert_eq(atomic_load(&board.cells[6].period_start), MARCH_1);
    /* worker 1 sees what is ingested, not worker 0's unflushed remainder */
    cr_assert_eq(seen(&led1, 1, 6, &b, NOW), USD(0.5));
    gw_spend_apply_on_store(&board, 0, 6, &b, NOW, USD(0.25));
    cr_assert_eq(seen(&led0, 0, 6, &b, NOW), USD(0.75));
    cr_assert_eq(seen(&led1, 1, 6, &b, NOW), USD(0.75));

    /* a record from another process (replayed log): in the cell only */
    gw_spend_apply_on_store(&board, UINT_MAX, 6, &b, NOW, USD(2));
    cr_assert_eq(seen(&led0, 0, 6, &b, NOW), USD(2.75));
    cr_assert_eq(seen(&led1, 1, 6, &b, NOW), USD(2.75));
}

Test(spend, cell_of_an_older_period_counts_zero)
{
    struct gw_budget b = budget(5, GW_PERIOD_MONTHLY);
    /* February's spend, from another worker */
    gw_spend_apply_on_store(&board, 1, 0, &b, FEB_10, USD(4));
    cr_assert_eq(seen(&led0, 0, 0, &b, FEB_10 + 3600), USD(4));
    cr_assert_eq(seen(&led0, 0, 0, &b, MARCH_1 - 1), USD(4), "last second of February");
    cr_assert_eq(seen(&led0, 0, 0, &b, MARCH_1), 0, "a new month starts at 0");
    cr_assert_eq(seen(&led0, 0, 0, &b, NOW), 0);

    /* the first March record opens March in the cell */
    gw_spend_apply_on_store(&board, 1, 0, &b, NOW, USD(1));
    cr_assert_eq(seen(&led0, 0, 0, &b, NOW), USD(1));
    cr_assert_eq(atomic_load(&board.cells[0].period_start), MARCH_1);
    /* a late February record does not reach March */
    gw_spend_apply_on_store(&board, 1, 0, &b, FEB_10, USD(3));
    cr_assert_eq(seen(&led0, 0, 0, &b, NOW), USD(1));
    /* and on April 1st the March cell counts 0 */
    cr_assert_eq(seen(&led0, 0, 0, &b, APRIL_1), 0);
    struct gw_vkey k = {.id = "key_p", .budget = b, .slot = 0};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, APRIL_1, USD(5)), GW_ADMIT_OK);
}

Test(spend, resync_sets_the_cell_for_a_period)
{
    struct gw_budget b = budget(5, GW_PERIOD_DAILY);
    int64_t day = NOW - NOW % 86400;
    gw_spend_set_on_store(&board, 7, day, USD(3));
    cr_assert_eq(seen(&led0, 0, 7, &b, NOW), USD(3));
    gw_spend_set_on_store(&board, 7, day - 86400, USD(3));
    cr_assert_eq(seen(&led0, 0, 7, &b, NOW), 0, "yesterday's figure does not count today");
}

static uint32_t no_slot_left(void *arg, const char *id)
{
    (void)arg;
    (void)id;
    return GW_SLOT_NONE;
}

Test(spend, subjects_without_a_slot_are_never_refused)
{
    struct gw_budget tiny = budget(0.000001, GW_PERIOD_TOTAL);
    /* a budget but no slot left for it (gw_accounts_builder_new's slot_of ran out) */
    struct gw_accounts_builder *ab = gw_accounts_builder_new(no_slot_left, NULL);
    struct gw_team t = {.id = "team_n", .enabled = true, .budget = tiny};
    cr_assert_eq(gw_accounts_add_team(ab, &t, NULL, 0), 0);
    struct gw_vkey kin = {.id = "key_n", .enabled = true, .budget = tiny};
    uint8_t d[GW_DIGEST_LEN] = {1};
    cr_assert_eq(gw_accounts_add_key(ab, &kin, "team_n", d, NULL, 0, NULL, 0), 0);
    struct gw_accounts *a = gw_accounts_builder_finish(ab);
    const struct gw_vkey *k = gw_accounts_key_at(a, 0);
    cr_assert_eq(k->slot, GW_SLOT_NONE);
    cr_assert_eq(k->team->slot, GW_SLOT_NONE);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, k, NOW, USD(1000)), GW_ADMIT_OK);
        gw_spend_settle_on_worker(&led0, k, USD(1000), USD(1000));
    }
    cr_assert_eq(seen(&led0, 0, GW_SLOT_NONE, &tiny, NOW), 0);
    cr_assert_eq(gw_spend_headroom_on_worker(&board, &led0, 0, k, NOW, 0), INT64_MAX);
    gw_spend_apply_on_store(&board, 0, GW_SLOT_NONE, &tiny, NOW, USD(1)); /* ignored */
    gw_accounts_unref(a);

    /* no budget at all */
    struct gw_vkey plain = {.id = "key_free", .slot = GW_SLOT_NONE};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &plain, NOW, INT64_MAX), GW_ADMIT_OK);
    gw_spend_settle_on_worker(&led0, &plain, INT64_MAX, 0);
}

Test(spend, headroom_excludes_the_requests_own_reservation)
{
    struct gw_team t = {.id = "team_h", .budget = budget(2.0, GW_PERIOD_TOTAL), .slot = 0};
    struct gw_vkey k = {
        .id = "key_h", .team = &t, .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 1};
    gw_spend_apply_on_store(&board, 1, 1, &k.budget, NOW, USD(0.3));  /* key spent 0.3 */
    gw_spend_apply_on_store(&board, 1, 0, &t.budget, NOW, USD(1.75)); /* team spent 1.75 */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.2)), GW_ADMIT_OK);
    /* key: 1.0 - 0.3 = 0.7; team: 2.0 - 1.75 = 0.25; the smaller binds */
    cr_assert_eq(gw_spend_headroom_on_worker(&board, &led0, 0, &k, NOW, USD(0.2)), USD(0.25));
    struct gw_vkey solo = {.id = "key_h2", .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 1};
    cr_assert_eq(gw_spend_headroom_on_worker(&board, &led0, 0, &solo, NOW, USD(0.2)), USD(0.7));
    gw_spend_settle_on_worker(&led0, &k, USD(0.2), USD(0.05));
    /* key: 1.0 - 0.35 = 0.65, team: 2.0 - 1.8 = 0.2 */
    cr_assert_eq(gw_spend_headroom_on_worker(&board, &led0, 0, &k, NOW, 0), USD(0.2));
    struct gw_vkey free_key = {.id = "key_f", .slot = GW_SLOT_NONE};
    cr_assert_eq(gw_spend_headroom_on_worker(&board, &led0, 0, &free_key, NOW, 0), INT64_MAX);
}

/*
 * Two threads: a worker that settles requests and checks its view, and a
 * store thread that ingests the worker's records (handed over through a
 * single-producer/single-consumer ring, as the usage log would) and applies
 * them to the board. The worker's view must never fall below what it has
 * truly spent, whatever the interleaving.
 */
enum { RECORDS = 200000, RING = 1024 };

struct handoff {
    int64_t cost[RING];
    _Atomic uint64_t head; /* written by the worker (release) */
    _Atomic uint64_t tail; /* written by the store (release) */
    _Atomic bool done;
};

static struct handoff ho;
static const struct gw_budget big = {
    .set = true, .period = GW_PERIOD_TOTAL, .limit_pusd = INT64_MAX / 2};

static void *store_thread(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t t = atomic_load_explicit(&ho.tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&ho.head, memory_order_acquire);
        if (t == h) {
            if (atomic_load_explicit(&ho.done, memory_order_acquire) &&
                t == atomic_load_explicit(&ho.head, memory_order_acquire))
                break;
            continue;
        }
        gw_spend_apply_on_store(&board, 0, 3, &big, NOW, ho.cost[t % RING]);
        atomic_store_explicit(&ho.tail, t + 1, memory_order_release);
    }
    return NULL;
}

Test(spend, worker_view_never_falls_below_true_spend_while_the_store_ingests)
{
    struct gw_vkey k = {.id = "key_mt", .budget = big, .slot = 3};
    pthread_t st;
    atomic_init(&ho.head, 0);
    atomic_init(&ho.tail, 0);
    atomic_init(&ho.done, false);
    cr_assert_eq(pthread_create(&st, NULL, store_thread, NULL), 0);

    int64_t truth = 0;
    uint64_t lowest_gap = UINT64_MAX, checks = 0;
    for (uint64_t i = 0; i < RECORDS; i++) {
        int64_t cost = (int64_t)(i % 97 + 1) * 1000003;
        cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, cost * 2), GW_ADMIT_OK);
        int64_t s = gw_spend_seen_on_worker(&board, &led0, 0, 3, &big, NOW);
        cr_assert_geq(s, truth + cost * 2, "in flight: %ld < %ld", (long)s,
                      (long)(truth + cost * 2));
        gw_spend_settle_on_worker(&led0, &k, cost * 2, cost);
        truth += cost;
        while (atomic_load_explicit(&ho.head, memory_order_relaxed) -
                   atomic_load_explicit(&ho.tail, memory_order_acquire) >=
               RING) {
            s = gw_spend_seen_on_worker(&board, &led0, 0, 3, &big, NOW);
            cr_assert_geq(s, truth, "while the ring is full: %ld < %ld", (long)s, (long)truth);
            checks++;
        }
        uint64_t h = atomic_load_explicit(&ho.head, memory_order_relaxed);
        ho.cost[h % RING] = cost;
        atomic_store_explicit(&ho.head, h + 1, memory_order_release);
        for (int j = 0; j < 4; j++) {
            s = gw_spend_seen_on_worker(&board, &led0, 0, 3, &big, NOW);
            cr_assert_geq(s, truth, "after settle: %ld < %ld", (long)s, (long)truth);
            if ((uint64_t)(s - truth) < lowest_gap)
                lowest_gap = (uint64_t)(s - truth);
            checks++;
        }
    }
    atomic_store_explicit(&ho.done, true, memory_order_release);
    cr_assert_eq(pthread_join(st, NULL), 0);
    /* all ingested: the view is exact again, and all of it is in the cell */
    cr_assert_eq(gw_spend_seen_on_worker(&board, &led0, 0, 3, &big, NOW), truth);
    cr_assert_eq(atomic_load(&board.cells[3].settled_pusd), truth);
    cr_assert_eq(lowest_gap, 0, "the view was exact at some point (%lu checks)",
                 (unsigned long)checks);
}

Test(spend, attached_workers_see_each_others_reservations_and_spend_at_once)
{
    gw_spend_board_attach(&board, 0, &led0);
    gw_spend_board_attach(&board, 1, &led1);
    struct gw_vkey k = {.id = "key_x", .budget = budget(1.0, GW_PERIOD_MONTHLY), .slot = 5};
    /* Worker 0 reserves 0.6: worker 1 sees it before any store pass. */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led0, 0, &k, NOW, USD(0.6)), GW_ADMIT_OK);
    cr_assert_eq(seen(&led1, 1, 5, &k.budget, NOW), USD(0.6));
    /* 0.6 + 0.5 > 1.0: worker 1 refuses what it alone would have admitted. */
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led1, 1, &k, NOW, USD(0.5)),
                 GW_ADMIT_KEY_BUDGET);
    /* Worker 0 settles at 0.3: worker 1 sees 0.3 (unflushed on worker 0), then room for 0.7. */
    gw_spend_settle_on_worker(&led0, &k, USD(0.6), USD(0.3));
    cr_assert_eq(seen(&led1, 1, 5, &k.budget, NOW), USD(0.3));
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led1, 1, &k, NOW, USD(0.7)), GW_ADMIT_OK);
    /* The store ingests worker 0's 0.3: it moves into the cell, counted once by both. */
    gw_spend_set_on_store(&board, 5, MARCH_1, 0);
    gw_spend_apply_on_store(&board, 0, 5, &k.budget, NOW, USD(0.3));
    cr_assert_eq(seen(&led1, 1, 5, &k.budget, NOW), USD(1.0));
    cr_assert_eq(seen(&led0, 0, 5, &k.budget, NOW), USD(1.0));
    /* Worker 1 settles 0.7 at 0.2: both see 0.5. */
    gw_spend_settle_on_worker(&led1, &k, USD(0.7), USD(0.2));
    cr_assert_eq(seen(&led0, 0, 5, &k.budget, NOW), USD(0.5));
    cr_assert_eq(seen(&led1, 1, 5, &k.budget, NOW), USD(0.5));
}

Test(spend, an_unattached_worker_is_not_counted_by_others)
{
    gw_spend_board_attach(&board, 0, &led0);
    struct gw_vkey k = {.id = "key_u", .budget = budget(1.0, GW_PERIOD_TOTAL), .slot = 6};
    cr_assert_eq(gw_spend_admit_on_worker(&board, &led1, 1, &k, NOW, USD(0.4)), GW_ADMIT_OK);
    cr_assert_eq(seen(&led0, 0, 6, &k.budget, NOW), 0, "worker 1 never attached its ledger");
    cr_assert_eq(seen(&led1, 1, 6, &k.budget, NOW), USD(0.4), "its own ledger always counts");
}
