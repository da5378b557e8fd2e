/*
 * core/spend.h — live spend and admission against budgets, with no lock and
 * no database call on the request path.
 *
 * Three kinds of counter, all in pUSD (core/money.h), per budgeted subject
 * (a key or team with a budget owns a slot, core/accounts.h):
 *
 *   board.cells[slot]        settled spend of the subject's current period as
 *                            the store thread knows it (this instance's
 *                            ingested records plus, from the database, every
 *                            other instance's). Written by the store thread only.
 *   board.ingested[w][slot]  how much of worker w's own spend (since this
 *                            process started) the store thread has added to
 *                            the cell. Written by the store thread only.
 *   ledger(w).spent[slot]    everything worker w settled since start;
 *   ledger(w).reserved[slot] estimates of worker w's requests in flight.
 *                            Written by worker w only (plain load and store:
 *                            a single writer needs no read-modify-write);
 *                            the other workers of the process read them.
 *
 * Worker w sees, for a subject:
 *     settled + sum over every worker v of (spent_v - ingested_v) + reserved_v
 * so within one process every admission sees every other worker's
 * reservations and settled spend at once, without waiting for the store.
 * Orders: the store thread adds a batch to `settled` (release) before it
 * adds it to `ingested` (release), and a reader loads `ingested` (acquire)
 * before `settled`, so a record is never missing from both; a worker settles
 * by adding to `spent` (release) before it takes the estimate out of
 * `reserved` (release), and a reader loads `reserved` (acquire) before
 * `spent`. At worst a cost is counted twice for an instant (the check then
 * errs towards refusing), never zero times.
 *
 * What a worker cannot see is a reservation another worker makes between
 * its own check and its own reservation (a race of microseconds), and other
 * instances' spend until the store thread's next resync. README "Budgets"
 * states the overshoot bound that follows; tests/integration/test_budget.c
 * measures it.
 */
#ifndef GW_CORE_SPEND_H
#define GW_CORE_SPEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/accounts.h"
#include "core/budget.h"
#include "core/common.h"

struct gw_spend_cell {
    _Atomic int64_t settled_pusd; /* spend in the period that starts at period_start */
    _Atomic int64_t period_start; /* Unix seconds; which period settled_pusd counts */
};

struct gw_spend_ledger;

/* Process-wide, allocated once at boot (control thread), never moved or freed before exit. */
struct gw_spend_board {
    uint32_t nslots;
    unsigned nworkers;
    struct gw_spend_cell *cells; /* owns: nslots */
    _Atomic int64_t *ingested;   /* owns: nworkers * nslots, row w = worker w */
    /* owns the array (nworkers), borrows each ledger: worker w's, once attached */
    struct gw_spend_ledger *_Atomic *ledgers;
};

/* One per worker, written by it only; read by the other workers. */
struct gw_spend_ledger {
    uint32_t nslots;
    _Atomic int64_t *spent;    /* owns: nslots */
    _Atomic int64_t *reserved; /* owns: nslots */
};

int gw_spend_board_init(struct gw_spend_board *b, uint32_t nslots, unsigned nworkers);
void gw_spend_board_destroy(struct gw_spend_board *b);
int gw_spend_ledger_init(struct gw_spend_ledger *l, uint32_t nslots);
void gw_spend_ledger_destroy(struct gw_spend_ledger *l);
/*
 * Worker w makes its ledger visible to the other workers (release); before
 * it does, they count nothing for it. The ledger must stay in place until the
 * board is destroyed (workers are joined first).
 */
void gw_spend_board_attach(struct gw_spend_board *b, unsigned w, struct gw_spend_ledger *l);

/*
 * What worker w believes subject `slot` has spent in the period containing
 * `now` for budget b: settled (0 if the cell is for an older period) + every
 * attached worker's unflushed and reserved (its own ledger l counted whether
 * attached or not). Returns 0 for GW_SLOT_NONE.
 */
int64_t gw_spend_seen_on_worker(const struct gw_spend_board *board, const struct gw_spend_ledger *l,
                                unsigned w, uint32_t slot, const struct gw_budget *b, int64_t now);

enum gw_admit {
    GW_ADMIT_OK = 0,
    GW_ADMIT_KEY_BUDGET,  /* the key's own budget is spent */
    GW_ADMIT_TEAM_BUDGET, /* its team's budget is spent */
    GW_ADMIT_COUNT
};

/*
 * Admission: the request, estimated at est_pusd, is admitted when it fits
 * both the key's and its team's budget (seen + est <= limit; a request with
 * est 0 is admitted while seen < limit). On GW_ADMIT_OK, est is reserved on
 * both slots; the caller must later call gw_spend_settle_on_worker exactly
 * once with the same est. Otherwise nothing is reserved.
 */
enum gw_admit gw_spend_admit_on_worker(const struct gw_spend_board *board,
                                       struct gw_spend_ledger *l, unsigned w,
                                       const struct gw_vkey *k, int64_t now, int64_t est_pusd);
/*
 * The request ended: releases its reservation and books its real cost
 * (0 when it failed or its price is unknown) on the key's and team's slots.
 */
void gw_spend_settle_on_worker(struct gw_spend_ledger *l, const struct gw_vkey *k, int64_t est_pusd,
                               int64_t cost_pusd);
/*
 * Headroom left for a request already admitted (its own reservation not
 * counted against it): min over key and team of limit - (seen - est).
 * INT64_MAX when neither has a budget. Used to cut a hard-budget stream.
 */
int64_t gw_spend_headroom_on_worker(const struct gw_spend_board *board,
                                    const struct gw_spend_ledger *l, unsigned w,
                                    const struct gw_vkey *k, int64_t now, int64_t est_pusd);

/*
 * Store thread: worker w's ingested record of cost_pusd for `slot`, timed
 * `t` (Unix seconds) under budget b: added to the cell if t falls in the
 * cell's period (release), then to ingested[w][slot] (release). w ==
 * UINT_MAX for a record from another process (a replayed log): cell only.
 */
void gw_spend_apply_on_store(struct gw_spend_board *board, unsigned w, uint32_t slot,
                             const struct gw_budget *b, int64_t t, int64_t cost_pusd);
/* Store thread: the database's figure for the period starting period_start (resync). */
void gw_spend_set_on_store(struct gw_spend_board *board, uint32_t slot, int64_t period_start,
                           int64_t settled_pusd);

#endif
