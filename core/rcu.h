/*
 * core/rcu.h — publishing config snapshots to workers and reclaiming old ones,
 * QSBR-style [urcu QSBR].
 *
 * The control thread publishes a new snapshot with one release store. Each
 * worker acquire-loads the pointer once per loop turn; every request binds to
 * the snapshot current when it started and holds it until it ends. Each
 * worker publishes, in its own cache line, the oldest generation it still
 * uses (the minimum over its live requests and the snapshot it last loaded).
 * The control thread frees a retired snapshot once every worker's published
 * generation is newer, polling and never blocking a worker.
 *
 * Why it is safe: a worker's published value only grows, and it is stored
 * after the load it covers, so any generation a worker can still touch is >=
 * the value the control thread reads. Pairing: publish's release store pairs
 * with the worker's acquire load of `current`; the worker's release store of
 * `oldest` pairs with the control thread's acquire load in reclaim, so the
 * worker's last reads of an old snapshot happen before the free.
 *
 * Start-up is the exception to "only grows": a reader starts at UINT64_MAX
 * ("nothing in use", so a worker that never runs blocks nothing) and must go
 * down before its first load of `current`. That is a store-then-load on each
 * side (worker: oldest then current; control: current then oldest), which
 * acquire/release cannot order, so those four accesses are seq_cst: the
 * store and a load of `current` in gw_rcu_online_on_worker, the exchange in
 * gw_rcu_publish_on_control and the loads in gw_rcu_reclaim_on_control. In
 * their single total order either the worker's load comes after the publish
 * (it never sees the old snapshot) or its store of 0 comes before the
 * control thread's load (nothing is freed). Operations rather than fences,
 * because ThreadSanitizer does not model fences. A worker that stops for good passes UINT64_MAX to
 * gw_rcu_quiesce_on_worker after its last use of any snapshot.
 */
#ifndef GW_CORE_RCU_H
#define GW_CORE_RCU_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/config.h"

/* One per worker, alone in its cache line (the worker's shared block). */
struct gw_rcu_reader {
    /* oldest generation in use; UINT64_MAX = none */
    _Alignas(GW_CACHELINE) _Atomic uint64_t oldest;
    char _pad[GW_CACHELINE - sizeof(uint64_t)];
};

struct gw_rcu_retired {
    struct gw_config *cfg;
    struct gw_rcu_retired *next;
};

struct gw_rcu {
    _Alignas(GW_CACHELINE) _Atomic(struct gw_config *) current;
    uint64_t next_gen;             /* control thread only */
    struct gw_rcu_reader *readers; /* owns: nreaders entries */
    size_t nreaders;
    struct gw_rcu_retired *retired;      /* control thread only: snapshots waiting to be freed */
    void (*free_fn)(struct gw_config *); /* default gw_config_free */
};

/* Sets up the domain for nreaders workers (control thread, at boot). Returns 0 or -ENOMEM. */
int gw_rcu_init(struct gw_rcu *r, size_t nreaders);
/* Frees the current and all retired snapshots; only once every worker has stopped. */
void gw_rcu_destroy(struct gw_rcu *r);
/*
 * Assigns cfg the next generation (the first is 1) and makes it current; the
 * previous one is retired, for gw_rcu_reclaim_on_control to free. Takes
 * ownership of cfg. Returns the new generation. If the retire-list node
 * cannot be allocated, the previous snapshot is leaked (and logged), never
 * freed early.
 */
uint64_t gw_rcu_publish_on_control(struct gw_rcu *r, struct gw_config *cfg);
/* Frees every retired snapshot no worker still uses. Returns how many were freed. */
size_t gw_rcu_reclaim_on_control(struct gw_rcu *r);
/* Count of retired snapshots not yet freed (tests, metrics). */
size_t gw_rcu_retired_count(const struct gw_rcu *r);

/* The current snapshot (acquire). NULL before the first publish. */
static inline struct gw_config *gw_rcu_current(struct gw_rcu *r);
/*
 * Worker `idx` joins: call once, on the worker, before its first
 * gw_rcu_current. Until its first quiesce it holds every snapshot.
 */
static inline void gw_rcu_online_on_worker(struct gw_rcu *r, size_t idx);
/*
 * Worker `idx` says the oldest generation it still uses (release): what
 * gw_gentrack_oldest returns for the snapshot loaded this turn, which never
 * goes down; UINT64_MAX once the worker has stopped for good.
 */
static inline void gw_rcu_quiesce_on_worker(struct gw_rcu *r, size_t idx, uint64_t oldest);

/*
 * Per-worker count of live requests by generation, to compute what the worker
 * passes to gw_rcu_quiesce_on_worker. Fixed size: a worker rarely has more
 * than two generations alive; if all slots are taken, get() returns -1 and
 * the caller refuses the request (503) rather than risk a premature free.
 */
#define GW_GENTRACK_SLOTS 16
struct gw_gentrack {
    uint64_t gen[GW_GENTRACK_SLOTS];
    uint32_t count[GW_GENTRACK_SLOTS];
};

void gw_gentrack_init(struct gw_gentrack *t);
/* A request bound to generation gen starts. 0, or -1 when no slot is free. */
int gw_gentrack_get(struct gw_gentrack *t, uint64_t gen);
/* A request bound to gen ended. GW_BUG_ON if it was never counted. */
void gw_gentrack_put(struct gw_gentrack *t, uint64_t gen);
/* min(current_gen, oldest generation with live requests). */
uint64_t gw_gentrack_oldest(const struct gw_gentrack *t, uint64_t current_gen);

/* ---- inline bodies ---- */

static inline struct gw_config *gw_rcu_current(struct gw_rcu *r)
{
    /* pairs with the release store in gw_rcu_publish_on_control */
    return atomic_load_explicit(&r->current, memory_order_acquire);
}

static inline void gw_rcu_online_on_worker(struct gw_rcu *r, size_t idx)
{
    /* Both seq_cst, against the exchange in publish and the loads in reclaim (top comment).
     * Every later load of `current` reads this value or a newer one (coherence). */
    atomic_store_explicit(&r->readers[idx].oldest, 0, memory_order_seq_cst);
    (void)atomic_load_explicit(&r->current, memory_order_seq_cst);
}

static inline void gw_rcu_quiesce_on_worker(struct gw_rcu *r, size_t idx, uint64_t oldest)
{
    /* pairs with the acquire load in gw_rcu_reclaim_on_control */
    atomic_store_explicit(&r->readers[idx].oldest, oldest, memory_order_release);
}

#endif
