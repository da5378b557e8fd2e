/*
 * core/spend.c — live spend counters and admission (core/spend.h).
 *
 * Memory orders. Three pairs, each named again where it is used:
 *
 *  (A) add: the store thread stores cell.settled (release) and then
 *      ingested[w][slot] (release); worker w loads ingested (acquire) and
 *      then settled. If the worker's load of ingested sees a batch, the
 *      store of settled that preceded it happens-before the worker's load of
 *      settled, so the batch is counted there (and cancelled out of the
 *      worker's unflushed spent - ingested). If it does not see the batch,
 *      the batch is still in spent - ingested. Either way it is counted at
 *      least once; at most it is counted twice, for an instant (settled
 *      already has it, ingested not yet): the check then errs towards
 *      refusing.
 *
 *  (B) roll: when a record opens a newer period, the store thread stores
 *      settled (the new period's first amount) and then period_start
 *      (release); the worker loads period_start (acquire) before settled.
 *      A worker that sees the new period_start therefore sees the new
 *      period's amount, never the old period's total under the new start.
 *      One that still sees the old start counts 0 for a `now` in the new
 *      period, which is right: by (A) the roll precedes the ingested store,
 *      so whatever of its own it misses is still in its unflushed spend.
 *      (Other instances' spend reaches the cell by resync, (C).)
 *
 *  (C) resync: gw_spend_set_on_store stores settled, then period_start
 *      (release), as (B).
 *
 *  (D) settle: a worker adds a cost to its `spent` (release) before it takes
 *      the estimate out of `reserved` (release); another worker loads
 *      `reserved` (acquire) before `spent`. If it sees the estimate gone, it
 *      sees the cost; if not, it counts the estimate (and perhaps the cost
 *      too, for an instant: erring towards refusing).
 *
 * Every counter has one writer (the ledger its worker, the board the store
 * thread), so its read-modify-writes are a load and a store, not RMWs.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/budget.h"
#include "core/common.h"
#include "core/money.h"
#include "core/spend.h"

int gw_spend_board_init(struct gw_spend_board *b, uint32_t nslots, unsigned nworkers)
{
    b->nslots = nslots;
    b->nworkers = nworkers;
    b->cells = NULL;
    b->ingested = NULL;
    b->ledgers = NULL;
    size_t ncells = nslots ? nslots : 1;
    size_t ning = (size_t)(nworkers ? nworkers : 1) * ncells;
    b->cells = calloc(ncells, sizeof(*b->cells));
    b->ingested = calloc(ning, sizeof(*b->ingested));
    b->ledgers = calloc(nworkers ? nworkers : 1, sizeof(*b->ledgers));
    if (!b->cells || !b->ingested || !b->ledgers) {
        gw_spend_board_destroy(b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ncells; i++) {
        atomic_init(&b->cells[i].settled_pusd, 0);
        atomic_init(&b->cells[i].period_start, 0);
    }
    for (size_t i = 0; i < ning; i++)
        atomic_init(&b->ingested[i], 0);
    for (unsigned i = 0; i < nworkers; i++)
        atomic_init(&b->ledgers[i], NULL);
    return 0;
}

void gw_spend_board_attach(struct gw_spend_board *b, unsigned w, struct gw_spend_ledger *l)
{
    GW_BUG_ON(w >= b->nworkers || l->nslots < b->nslots);
    /* release, pairs with the acquire load in seen_on_worker: the zeroed arrays are visible */
    atomic_store_explicit(&b->ledgers[w], l, memory_order_release);
}

void gw_spend_board_destroy(struct gw_spend_board *b)
{
    free(b->cells);
    b->cells = NULL;
    free(b->ingested);
    b->ingested = NULL;
    free(b->ledgers);
    b->ledgers = NULL;
    b->nslots = 0;
}

int gw_spend_ledger_init(struct gw_spend_ledger *l, uint32_t nslots)
{
    size_t n = nslots ? nslots : 1;
    l->nslots = nslots;
    l->spent = calloc(n, sizeof(*l->spent));
    l->reserved = calloc(n, sizeof(*l->reserved));
    if (!l->spent || !l->reserved) {
        gw_spend_ledger_destroy(l);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        atomic_init(&l->spent[i], 0);
        atomic_init(&l->reserved[i], 0);
    }
    return 0;
}

void gw_spend_ledger_destroy(struct gw_spend_ledger *l)
{
    free(l->spent);
    l->spent = NULL;
    free(l->reserved);
    l->reserved = NULL;
    l->nslots = 0;
}

static _Atomic int64_t *ingested_at(const struct gw_spend_board *board, unsigned w, uint32_t slot)
{
    return &board->ingested[(size_t)w * board->nslots + slot];
}

/* Worker v's part: unflushed (spent - ingested, never below 0) + reserved. */
static int64_t ledger_part(const struct gw_spend_board *board, const struct gw_spend_ledger *l,
                           unsigned v, uint32_t slot)
{
    /* (A) acquire, pairs with the release store of ingested in gw_spend_apply_on_store. */
    int64_t ingested = atomic_load_explicit(ingested_at(board, v, slot), memory_order_acquire);
    /* (D) acquire, pairs with the release store of reserved in settle_slot. */
    int64_t reserved = atomic_load_explicit(&l->reserved[slot], memory_order_acquire);
    /* (D) acquire, pairs with the release store of spent in settle_slot. */
    int64_t spent = atomic_load_explicit(&l->spent[slot], memory_order_acquire);
    /*
     * Unflushed spend cannot be negative (the store ingests only what the
     * worker booked first); were it so, count 0.
     */
    int64_t unflushed = spent - ingested;
    if (unflushed < 0)
        unflushed = 0;
    return gw_pusd_add(unflushed, reserved < 0 ? 0 : reserved);
}

int64_t gw_spend_seen_on_worker(const struct gw_spend_board *board, const struct gw_spend_ledger *l,
                                unsigned w, uint32_t slot, const struct gw_budget *b, int64_t now)
{
    if (slot == GW_SLOT_NONE)
        return 0;
    GW_BUG_ON(slot >= board->nslots || slot >= l->nslots || w >= board->nworkers);
    /* Every worker's ingested is loaded before the cell: (A). */
    int64_t mine = ledger_part(board, l, w, slot);
    int64_t others = 0;
    for (unsigned v = 0; v < board->nworkers; v++) {
        if (v == w)
            continue;
        /* acquire, pairs with the release store in gw_spend_board_attach */
        const struct gw_spend_ledger *lv =
            atomic_load_explicit(&board->ledgers[v], memory_order_acquire);
        if (lv)
            others = gw_pusd_add(others, ledger_part(board, lv, v, slot));
    }
    int64_t start, end;
    gw_period_bounds(b->period, now, &start, &end);
    const struct gw_spend_cell *c = &board->cells[slot];
    /* (B, C) acquire, pairs with the release store of period_start in apply/set_on_store. */
    int64_t ps = atomic_load_explicit(&c->period_start, memory_order_acquire);
    /* Ordered after the acquires above; no pair of its own. */
    int64_t settled = atomic_load_explicit(&c->settled_pusd, memory_order_relaxed);
    if (ps != start)
        settled = 0;
    return gw_pusd_add(gw_pusd_add(settled, mine), others);
}

/* Does a request of est fit under b's limit given what is seen? */
static bool fits(int64_t seen, int64_t est, int64_t limit)
{
    if (est <= 0)
        return seen < limit;
    return gw_pusd_add(seen, est) <= limit;
}

static bool subject_fits(const struct gw_spend_board *board, const struct gw_spend_ledger *l,
                         unsigned w, uint32_t slot, const struct gw_budget *b, int64_t now,
                         int64_t est)
{
    if (slot == GW_SLOT_NONE || !b->set)
        return true;
    return fits(gw_spend_seen_on_worker(board, l, w, slot, b, now), est, b->limit_pusd);
}

static uint32_t team_slot(const struct gw_vkey *k)
{
    return k->team ? k->team->slot : GW_SLOT_NONE;
}

/* Single writer: a load and a release store (other workers read it, (D)). */
static void reserve_slot(struct gw_spend_ledger *l, uint32_t slot, int64_t est)
{
    if (slot == GW_SLOT_NONE)
        return;
    int64_t r = atomic_load_explicit(&l->reserved[slot], memory_order_relaxed);
    atomic_store_explicit(&l->reserved[slot], gw_pusd_add(r, est), memory_order_release);
}

enum gw_admit gw_spend_admit_on_worker(const struct gw_spend_board *board,
                                       struct gw_spend_ledger *l, unsigned w,
                                       const struct gw_vkey *k, int64_t now, int64_t est_pusd)
{
    if (est_pusd < 0)
        est_pusd = 0;
    if (!subject_fits(board, l, w, k->slot, &k->budget, now, est_pusd))
        return GW_ADMIT_KEY_BUDGET;
    if (k->team && !subject_fits(board, l, w, k->team->slot, &k->team->budget, now, est_pusd))
        return GW_ADMIT_TEAM_BUDGET;
    reserve_slot(l, k->slot, est_pusd);
    reserve_slot(l, team_slot(k), est_pusd);
    return GW_ADMIT_OK;
}

static void settle_slot(struct gw_spend_ledger *l, uint32_t slot, int64_t est, int64_t cost)
{
    if (slot == GW_SLOT_NONE)
        return;
    GW_BUG_ON(slot >= l->nslots);
    /* The only writer: relaxed loads of its own counters. */
    int64_t sp = atomic_load_explicit(&l->spent[slot], memory_order_relaxed);
    int64_t r = atomic_load_explicit(&l->reserved[slot], memory_order_relaxed) - est;
    GW_BUG_ON(r < 0);
    /* (D) release: the cost is in spent before the estimate leaves reserved. */
    atomic_store_explicit(&l->spent[slot], gw_pusd_add(sp, cost), memory_order_release);
    atomic_store_explicit(&l->reserved[slot], r, memory_order_release);
}

void gw_spend_settle_on_worker(struct gw_spend_ledger *l, const struct gw_vkey *k, int64_t est_pusd,
                               int64_t cost_pusd)
{
    if (est_pusd < 0)
        est_pusd = 0;
    if (cost_pusd < 0)
        cost_pusd = 0;
    settle_slot(l, k->slot, est_pusd, cost_pusd);
    settle_slot(l, team_slot(k), est_pusd, cost_pusd);
}

static int64_t subject_headroom(const struct gw_spend_board *board, const struct gw_spend_ledger *l,
                                unsigned w, uint32_t slot, const struct gw_budget *b, int64_t now,
                                int64_t est)
{
    if (slot == GW_SLOT_NONE || !b->set)
        return INT64_MAX;
    int64_t others = gw_spend_seen_on_worker(board, l, w, slot, b, now) - est;
    return b->limit_pusd - others;
}

int64_t gw_spend_headroom_on_worker(const struct gw_spend_board *board,
                                    const struct gw_spend_ledger *l, unsigned w,
                                    const struct gw_vkey *k, int64_t now, int64_t est_pusd)
{
    if (est_pusd < 0)
        est_pusd = 0;
    int64_t h = subject_headroom(board, l, w, k->slot, &k->budget, now, est_pusd);
    if (k->team) {
        int64_t th = subject_headroom(board, l, w, k->team->slot, &k->team->budget, now, est_pusd);
        h = GW_MIN(h, th);
    }
    return h;
}

void gw_spend_apply_on_store(struct gw_spend_board *board, unsigned w, uint32_t slot,
                             const struct gw_budget *b, int64_t t, int64_t cost_pusd)
{
    if (slot == GW_SLOT_NONE)
        return;
    GW_BUG_ON(slot >= board->nslots);
    GW_BUG_ON(w != UINT_MAX && w >= board->nworkers);

    struct gw_spend_cell *c = &board->cells[slot];
    int64_t start, end;
    gw_period_bounds(b->period, t, &start, &end);
    /* Relaxed: this thread is the only writer of the cell. */
    int64_t ps = atomic_load_explicit(&c->period_start, memory_order_relaxed);
    int64_t settled = atomic_load_explicit(&c->settled_pusd, memory_order_relaxed);
    if (start == ps) {
        /* (A) release, pairs with the worker's acquire load of ingested (via the store below). */
        atomic_store_explicit(&c->settled_pusd, gw_pusd_add(settled, cost_pusd),
                              memory_order_release);
    } else if (start > ps) {
        /* A newer period: the record opens it. (B) settled first, then period_start. */
        atomic_store_explicit(&c->settled_pusd, cost_pusd, memory_order_release);
        /* (B) release, pairs with the worker's acquire load of period_start. */
        atomic_store_explicit(&c->period_start, start, memory_order_release);
    }
    /* else: a late record of a period already closed; the cell does not count it. */

    if (w == UINT_MAX)
        return;
    _Atomic int64_t *ing = ingested_at(board, w, slot);
    int64_t old = atomic_load_explicit(ing, memory_order_relaxed); /* the only writer */
    /* (A) release, pairs with the worker's acquire load of ingested in seen_on_worker. */
    atomic_store_explicit(ing, gw_pusd_add(old, cost_pusd), memory_order_release);
}

void gw_spend_set_on_store(struct gw_spend_board *board, uint32_t slot, int64_t period_start,
                           int64_t settled_pusd)
{
    if (slot == GW_SLOT_NONE)
        return;
    GW_BUG_ON(slot >= board->nslots);
    struct gw_spend_cell *c = &board->cells[slot];
    /* (C) settled first, then period_start (release, pairs with the worker's acquire). */
    atomic_store_explicit(&c->settled_pusd, settled_pusd, memory_order_release);
    atomic_store_explicit(&c->period_start, period_start, memory_order_release);
}
