/*
 * core/rcu.c — snapshot publish and QSBR reclamation (control thread), and the
 * per-worker generation tracker. The reasoning for the memory orders is in
 * core/rcu.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rcu.h"

int gw_rcu_init(struct gw_rcu *r, size_t nreaders)
{
    memset(r, 0, sizeof(*r));
    atomic_init(&r->current, NULL);
    r->free_fn = gw_config_free;
    if (nreaders) {
        /* aligned_alloc wants a multiple of the alignment: the reader is exactly one line */
        _Static_assert(sizeof(struct gw_rcu_reader) % GW_CACHELINE == 0, "reader size");
        if (nreaders > SIZE_MAX / sizeof(*r->readers))
            return -ENOMEM;
        r->readers = aligned_alloc(GW_CACHELINE, nreaders * sizeof(*r->readers));
        if (!r->readers)
            return -ENOMEM;
        for (size_t i = 0; i < nreaders; i++)
            atomic_init(&r->readers[i].oldest, UINT64_MAX);
    }
    r->nreaders = nreaders;
    return 0;
}

void gw_rcu_destroy(struct gw_rcu *r)
{
    struct gw_rcu_retired *n = r->retired;
    while (n) {
        struct gw_rcu_retired *next = n->next;
        r->free_fn(n->cfg);
        free(n);
        n = next;
    }
    r->retired = NULL;
    struct gw_config *cur = atomic_load_explicit(&r->current, memory_order_relaxed);
    if (cur)
        r->free_fn(cur);
    atomic_store_explicit(&r->current, NULL, memory_order_relaxed);
    free(r->readers);
    r->readers = NULL;
    r->nreaders = 0;
}

uint64_t gw_rcu_publish_on_control(struct gw_rcu *r, struct gw_config *cfg)
{
    /* Taken before the switch so that running out of memory cannot lose track of the old one. */
    struct gw_rcu_retired *node = malloc(sizeof(*node));
    cfg->generation = ++r->next_gen;
    /* Release pairs with the acquire load in gw_rcu_current, so cfg is complete when seen;
     * seq_cst for gw_rcu_online_on_worker's handshake (core/rcu.h). */
    struct gw_config *old = atomic_exchange_explicit(&r->current, cfg, memory_order_seq_cst);
    if (!old) {
        free(node);
        return cfg->generation;
    }
    if (!node) {
        /* Without a list node the old snapshot cannot be tracked; leaking it is the safe choice. */
        fprintf(stderr, "conduit: out of memory retiring config generation %llu; leaked\n",
                (unsigned long long)old->generation);
        return cfg->generation;
    }
    node->cfg = old;
    node->next = r->retired;
    r->retired = node;
    return cfg->generation;
}

size_t gw_rcu_reclaim_on_control(struct gw_rcu *r)
{
    if (!r->retired)
        return 0;
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < r->nreaders; i++) {
        /* Acquire pairs with the release store in gw_rcu_quiesce_on_worker; seq_cst for the
         * start-up handshake with gw_rcu_online_on_worker (core/rcu.h). */
        uint64_t v = atomic_load_explicit(&r->readers[i].oldest, memory_order_seq_cst);
        if (v < min)
            min = v;
    }
    size_t freed = 0;
    struct gw_rcu_retired **link = &r->retired;
    while (*link) {
        struct gw_rcu_retired *n = *link;
        if (n->cfg->generation < min) {
            *link = n->next;
            r->free_fn(n->cfg);
            free(n);
            freed++;
        } else {
            link = &n->next;
        }
    }
    return freed;
}

size_t gw_rcu_retired_count(const struct gw_rcu *r)
{
    size_t n = 0;
    for (const struct gw_rcu_retired *p = r->retired; p; p = p->next)
        n++;
    return n;
}

void gw_gentrack_init(struct gw_gentrack *t)
{
    memset(t, 0, sizeof(*t));
}

int gw_gentrack_get(struct gw_gentrack *t, uint64_t gen)
{
    int free_slot = -1;
    for (int i = 0; i < GW_GENTRACK_SLOTS; i++) {
        if (t->count[i] && t->gen[i] == gen) {
            GW_BUG_ON(t->count[i] == UINT32_MAX);
            t->count[i]++;
            return 0;
        }
        if (!t->count[i] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return -1;
    t->gen[free_slot] = gen;
    t->count[free_slot] = 1;
    return 0;
}

void gw_gentrack_put(struct gw_gentrack *t, uint64_t gen)
{
    bool counted = false;
    for (int i = 0; i < GW_GENTRACK_SLOTS && !counted; i++) {
        if (t->count[i] && t->gen[i] == gen) {
            t->count[i]--;
            counted = true;
        }
    }
    GW_BUG_ON(!counted);
}

uint64_t gw_gentrack_oldest(const struct gw_gentrack *t, uint64_t current_gen)
{
    uint64_t min = current_gen;
    for (int i = 0; i < GW_GENTRACK_SLOTS; i++)
        if (t->count[i] && t->gen[i] < min)
            min = t->gen[i];
    return min;
}
