/*
 * Tests for core/rcu.c: publish/retire/reclaim semantics on one thread, the
 * generation tracker, and a stress test where two reader threads bind to
 * snapshots while the control thread publishes 10,000 of them and reclaims.
 *
 * Snapshots here are struct test_snap (a gw_config plus a canary) freed by a
 * custom free_fn that poisons the canary first: a reader that sees the poison
 * (or, under ASan, touches the freed memory) shows a premature free.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/rcu.h"

#define CANARY_LIVE 0x5eedf00dcafebabeull
#define CANARY_DEAD 0xdeaddeaddeaddeadull

struct test_snap {
    struct gw_config cfg;
    uint64_t canary;
    uint64_t id; /* creation order, 1-based */
};

static atomic_size_t nfreed;
static uint64_t freed_ids[64]; /* single-thread tests: ids in free order */

static void snap_free(struct gw_config *cfg)
{
    struct test_snap *s = gw_container_of(cfg, struct test_snap, cfg);
    size_t n = atomic_fetch_add(&nfreed, 1);
    if (n < GW_ARRAY_SIZE(freed_ids))
        freed_ids[n] = s->id;
    s->canary = CANARY_DEAD;
    free(s);
}

static struct gw_config *snap_new(uint64_t id)
{
    struct test_snap *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    s->canary = CANARY_LIVE;
    s->id = id;
    return &s->cfg;
}

static void init_domain(struct gw_rcu *r, size_t nreaders)
{
    cr_assert_eq(gw_rcu_init(r, nreaders), 0);
    r->free_fn = snap_free;
    atomic_store(&nfreed, 0);
}

/*
 * Destroys r (case what), after freed_before snapshots were freed, and checks
 * it frees exactly the n still in it (current and retired) and its arrays.
 */
static void destroy_freeing(const char *what, struct gw_rcu *r, size_t freed_before, size_t n)
{
    cr_assert_eq(atomic_load(&nfreed), freed_before, "%s: freed before destroy", what);
    gw_rcu_destroy(r);
    cr_assert_eq(atomic_load(&nfreed), freed_before + n, "%s: destroy freed %zu, want %zu", what,
                 atomic_load(&nfreed) - freed_before, n);
    cr_assert_null(r->readers, "%s", what);
    cr_assert_null(r->retired, "%s", what);
}

Test(rcu, init_starts_empty_with_idle_readers)
{
    struct gw_rcu r;
    cr_assert_eq(gw_rcu_init(&r, 3), 0);
    cr_assert_null(gw_rcu_current(&r));
    cr_assert_eq(r.nreaders, 3);
    cr_assert_eq(r.free_fn, gw_config_free);
    cr_assert_eq(gw_rcu_retired_count(&r), 0);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(atomic_load(&r.readers[i].oldest), UINT64_MAX);
        cr_assert_eq((uintptr_t)&r.readers[i] % GW_CACHELINE, 0);
    }
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 0);
    gw_rcu_destroy(&r);
}

Test(rcu, publish_assigns_generations_and_retires_the_previous)
{
    struct gw_rcu r;
    init_domain(&r, 2);
    struct gw_config *a = snap_new(1);
    struct gw_config *b = snap_new(2);
    cr_assert_eq(gw_rcu_publish_on_control(&r, a), 1);
    cr_assert_eq(a->generation, 1);
    cr_assert_eq(gw_rcu_current(&r), a);
    cr_assert_eq(gw_rcu_retired_count(&r), 0);
    cr_assert_eq(gw_rcu_publish_on_control(&r, b), 2);
    cr_assert_eq(b->generation, 2);
    cr_assert_eq(gw_rcu_current(&r), b);
    cr_assert_eq(gw_rcu_retired_count(&r), 1);
    /* Both readers idle (UINT64_MAX): the retired one goes at once. */
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 1);
    cr_assert_eq(atomic_load(&nfreed), 1);
    cr_assert_eq(freed_ids[0], 1);
    cr_assert_eq(gw_rcu_retired_count(&r), 0);
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 0);
    destroy_freeing("gen 2 current", &r, 1, 1);
}

Test(rcu, snapshot_kept_while_a_reader_oldest_is_at_or_below_its_generation)
{
    struct gw_rcu r;
    init_domain(&r, 2);
    gw_rcu_publish_on_control(&r, snap_new(1));
    gw_rcu_quiesce_on_worker(&r, 0, 1);
    gw_rcu_quiesce_on_worker(&r, 1, 1);
    gw_rcu_publish_on_control(&r, snap_new(2));

    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 0, "freed while both readers hold gen 1");
    gw_rcu_quiesce_on_worker(&r, 0, 2);
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 0, "freed while reader 1 holds gen 1");
    cr_assert_eq(atomic_load(&nfreed), 0);
    gw_rcu_quiesce_on_worker(&r, 1, 2);
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 1);
    cr_assert_eq(freed_ids[0], 1);
    destroy_freeing("gen 2 current", &r, 1, 1);
}

Test(rcu, reclaim_frees_exactly_the_generations_below_the_minimum)
{
    struct gw_rcu r;
    init_domain(&r, 2);
    for (uint64_t id = 1; id <= 4; id++)
        gw_rcu_publish_on_control(&r, snap_new(id));
    cr_assert_eq(gw_rcu_retired_count(&r), 3); /* gens 1..3; 4 is current */
    gw_rcu_quiesce_on_worker(&r, 0, 4);
    gw_rcu_quiesce_on_worker(&r, 1, 2);
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 1);
    cr_assert_eq(freed_ids[0], 1);
    cr_assert_eq(gw_rcu_retired_count(&r), 2);
    gw_rcu_quiesce_on_worker(&r, 1, 3);
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 1);
    cr_assert_eq(freed_ids[1], 2);
    gw_rcu_quiesce_on_worker(&r, 1, UINT64_MAX); /* worker 1 stopped for good */
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 1);
    cr_assert_eq(freed_ids[2], 3);
    cr_assert_eq(gw_rcu_retired_count(&r), 0);
    cr_assert_eq(gw_rcu_current(&r)->generation, 4);
    destroy_freeing("gen 4 current", &r, 3, 1);
}

Test(rcu, online_reader_holds_everything_until_its_first_quiesce)
{
    struct gw_rcu r;
    init_domain(&r, 1);
    gw_rcu_publish_on_control(&r, snap_new(1));
    gw_rcu_online_on_worker(&r, 0);
    cr_assert_eq(atomic_load(&r.readers[0].oldest), 0);
    gw_rcu_publish_on_control(&r, snap_new(2));
    gw_rcu_publish_on_control(&r, snap_new(3));
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 0);
    gw_rcu_quiesce_on_worker(&r, 0, 3);
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 2);
    destroy_freeing("gen 3 current", &r, 2, 1);
}

Test(rcu, destroy_frees_current_and_every_retired_snapshot)
{
    /* Readers quiesced at generation 0 hold every snapshot, so only destroy frees them;
     * with no reader and nothing published, there is nothing to free. */
    static const struct {
        size_t nreaders;
        uint64_t published;
    } cases[] = {{1, 5}, {2, 3}, {0, 0}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%zu readers holding %llu snapshots", cases[i].nreaders,
                 (unsigned long long)cases[i].published);
        struct gw_rcu r;
        init_domain(&r, cases[i].nreaders);
        for (size_t k = 0; k < cases[i].nreaders; k++)
            gw_rcu_quiesce_on_worker(&r, k, 0);
        for (uint64_t id = 1; id <= cases[i].published; id++)
            gw_rcu_publish_on_control(&r, snap_new(id));
        cr_assert_eq(gw_rcu_reclaim_on_control(&r), 0, "%s", name);
        destroy_freeing(name, &r, 0, cases[i].published);
    }
}

Test(rcu, default_free_fn_frees_loaded_configs)
{
    /* Runs gw_config_free on real snapshots; leaks would show under ASan. */
    struct gw_rcu r;
    cr_assert_eq(gw_rcu_init(&r, 1), 0);
    for (int i = 0; i < 3; i++) {
        struct gw_config *cfg = NULL;
        struct gw_config_error err;
        cr_assert_eq(gw_config_load_buffer("t.yaml", "", 0, &cfg, &err), 0, "%s", err.message);
        gw_rcu_publish_on_control(&r, cfg);
    }
    cr_assert_eq(gw_rcu_reclaim_on_control(&r), 2);
    gw_rcu_destroy(&r);
}

/* ---- generation tracker ---- */

Test(gentrack, oldest_is_current_when_nothing_is_live)
{
    struct gw_gentrack t;
    gw_gentrack_init(&t);
    cr_assert_eq(gw_gentrack_oldest(&t, 7), 7);
}

Test(gentrack, counts_requests_per_generation)
{
    struct gw_gentrack t;
    gw_gentrack_init(&t);
    cr_assert_eq(gw_gentrack_get(&t, 3), 0);
    cr_assert_eq(gw_gentrack_get(&t, 3), 0);
    cr_assert_eq(gw_gentrack_get(&t, 5), 0);
    cr_assert_eq(gw_gentrack_oldest(&t, 6), 3);
    gw_gentrack_put(&t, 3);
    cr_assert_eq(gw_gentrack_oldest(&t, 6), 3, "one request still on gen 3");
    gw_gentrack_put(&t, 3);
    cr_assert_eq(gw_gentrack_oldest(&t, 6), 5);
    gw_gentrack_put(&t, 5);
    cr_assert_eq(gw_gentrack_oldest(&t, 6), 6);
    /* a live generation newer than current does not raise the result */
    cr_assert_eq(gw_gentrack_get(&t, 9), 0);
    cr_assert_eq(gw_gentrack_oldest(&t, 8), 8);
}

Test(gentrack, refuses_a_new_generation_when_every_slot_is_taken)
{
    struct gw_gentrack t;
    gw_gentrack_init(&t);
    for (uint64_t g = 1; g <= GW_GENTRACK_SLOTS; g++)
        cr_assert_eq(gw_gentrack_get(&t, g), 0);
    cr_assert_eq(gw_gentrack_get(&t, GW_GENTRACK_SLOTS + 1), -1);
    cr_assert_eq(gw_gentrack_get(&t, 4), 0, "an existing generation still counts");
    gw_gentrack_put(&t, 2);
    cr_assert_eq(gw_gentrack_get(&t, GW_GENTRACK_SLOTS + 1), 0, "a freed slot is reused");
    cr_assert_eq(gw_gentrack_oldest(&t, 100), 1);
}

Test(gentrack, put_of_an_uncounted_generation_aborts, .signal = SIGABRT)
{
    struct gw_gentrack t;
    gw_gentrack_init(&t);
    cr_assert_eq(gw_gentrack_get(&t, 1), 0);
    gw_gentrack_put(&t, 2);
}

/* ---- two readers against a publishing control thread ---- */

#define STRESS_PUBLISHES 10000
#define STRESS_HELD 4 /* requests a reader keeps alive across loop turns */

struct reader_arg {
    struct gw_rcu *r;
    size_t idx;
    atomic_bool *stop;
    atomic_uint *running; /* readers that finished their first turn */
    uint64_t turns;
    uint64_t bad;      /* canary reads that were not CANARY_LIVE */
    uint64_t backward; /* generations that went down between loads */
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    struct gw_gentrack t;
    struct gw_config *held[STRESS_HELD] = {0};
    size_t head = 0;
    uint64_t last_gen = 0;

    gw_gentrack_init(&t);
    gw_rcu_online_on_worker(a->r, a->idx);
    while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
        struct gw_config *cur = gw_rcu_current(a->r);
        uint64_t gen = cur->generation;
        if (gen < last_gen)
            a->backward++;
        last_gen = gen;
        /* a request ends: the one bound STRESS_HELD turns ago */
        if (held[head]) {
            gw_gentrack_put(&t, held[head]->generation);
            held[head] = NULL;
        }
        /* a request starts, bound to the current snapshot */
        if (gw_gentrack_get(&t, gen) == 0)
            held[head] = cur;
        head = (head + 1) % STRESS_HELD;
        for (size_t i = 0; i < STRESS_HELD; i++) {
            if (!held[i])
                continue;
            struct test_snap *s = gw_container_of(held[i], struct test_snap, cfg);
            if (*(volatile uint64_t *)&s->canary != CANARY_LIVE)
                a->bad++;
        }
        if (gw_container_of(cur, struct test_snap, cfg)->canary != CANARY_LIVE)
            a->bad++;
        gw_rcu_quiesce_on_worker(a->r, a->idx, gw_gentrack_oldest(&t, gen));
        if (a->turns++ == 0 && a->running)
            atomic_fetch_add(a->running, 1);
    }
    for (size_t i = 0; i < STRESS_HELD; i++)
        if (held[i])
            gw_gentrack_put(&t, held[i]->generation);
    gw_rcu_quiesce_on_worker(a->r, a->idx, UINT64_MAX);
    return NULL;
}

Test(rcu, readers_never_see_a_freed_snapshot_under_10k_publishes, .timeout = 120)
{
    struct gw_rcu r;
    init_domain(&r, 2);
    atomic_bool stop = false;
    atomic_uint running = 0;
    gw_rcu_publish_on_control(&r, snap_new(1));

    struct reader_arg args[2];
    pthread_t th[2];
    for (size_t i = 0; i < 2; i++) {
        args[i] = (struct reader_arg){.r = &r, .idx = i, .stop = &stop, .running = &running};
        cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    /* Publishing before both readers run would make a fast machine's run prove nothing. */
    while (atomic_load(&running) < 2)
        sched_yield();
    size_t reclaimed = 0;
    for (uint64_t id = 2; id <= STRESS_PUBLISHES; id++) {
        gw_rcu_publish_on_control(&r, snap_new(id));
        reclaimed += gw_rcu_reclaim_on_control(&r);
        if (id % 64 == 0)
            sched_yield();
    }
    atomic_store(&stop, true);
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);

    /* Both readers offline now: everything retired goes. */
    reclaimed += gw_rcu_reclaim_on_control(&r);
    cr_assert_eq(reclaimed, STRESS_PUBLISHES - 1);
    cr_assert_eq(gw_rcu_retired_count(&r), 0);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(args[i].bad, 0, "reader %zu saw %llu poisoned canaries", i,
                     (unsigned long long)args[i].bad);
        cr_assert_eq(args[i].backward, 0, "reader %zu saw the generation go down", i);
        cr_assert_gt(args[i].turns, 0);
    }
    destroy_freeing("after the stress", &r, STRESS_PUBLISHES - 1, 1);
}
