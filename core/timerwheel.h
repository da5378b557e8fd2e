/*
 * core/timerwheel.h — a hashed timer wheel for one thread (a worker's
 * timeouts: header read, body read, keep-alive idle, upstream connect,
 * first byte, idle, drain). O(1) add and delete; expiry walks only the slots
 * that elapsed. Timers are intrusive: embed struct gw_timer in the owner and
 * use gw_container_of in the callback. Resolution is GW_TW_TICK_MS; a timer
 * never fires early, and fires at most one tick late once gw_tw_run is called.
 *
 * In fact gw_tw_run fires exactly the timers due at its now_ms: the tick only
 * decides which slot a timer hashes to, and a run walks the slots of every
 * tick since the last run, the current one included. A loop that calls
 * gw_tw_run after waiting gw_tw_wait_ms therefore fires timers on time, up
 * to the ring's own timeout granularity.
 */
#ifndef GW_CORE_TIMERWHEEL_H
#define GW_CORE_TIMERWHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define GW_TW_TICK_MS 8
#define GW_TW_SLOTS 512 /* power of two; one lap is ~4 s, longer timers wait for later laps */

struct gw_timer;
typedef void gw_timer_fn(struct gw_timer *t);

struct gw_timer {
    struct gw_timer *_next, *_prev; /* private: slot list; NULL when not armed */
    uint64_t expire_ms;             /* absolute, in the wheel's clock */
    gw_timer_fn *cb;                /* set by the owner before arming */
};

struct gw_timerwheel {
    uint64_t now_ms;                     /* time of the last gw_tw_run */
    uint64_t _tick;                      /* private: first tick not yet fully processed */
    unsigned _count;                     /* armed timers */
    struct gw_timer _slots[GW_TW_SLOTS]; /* private: list heads */
};

void gw_tw_init(struct gw_timerwheel *tw, uint64_t now_ms);
static inline void gw_timer_init(struct gw_timer *t, gw_timer_fn *cb);
static inline bool gw_timer_is_armed(const struct gw_timer *t);
/* Arms (or re-arms) t to fire at expire_ms; times in the past fire at the next run. */
void gw_tw_add(struct gw_timerwheel *tw, struct gw_timer *t, uint64_t expire_ms);
/* Disarms t; harmless when it is not armed. */
void gw_tw_del(struct gw_timerwheel *tw, struct gw_timer *t);
/*
 * Fires every timer whose expire_ms <= now_ms, each once, in no promised
 * order; a callback may add or delete any timer, itself included. A timer a
 * callback arms fires at a later run even when already due, so re-arming
 * for "now" cannot loop. A timer deleted by an earlier callback of the same
 * run does not fire. Not reentrant: never call it from a callback. A now_ms
 * below the wheel's clock counts as the wheel's clock. Returns the number
 * fired.
 */
unsigned gw_tw_run(struct gw_timerwheel *tw, uint64_t now_ms);
/*
 * Milliseconds from now_ms until the earliest armed timer may fire, capped at
 * max_ms; max_ms when none is armed. Used as the ring wait timeout.
 */
uint64_t gw_tw_wait_ms(const struct gw_timerwheel *tw, uint64_t now_ms, uint64_t max_ms);

/* ---- inline bodies ---- */

static inline void gw_timer_init(struct gw_timer *t, gw_timer_fn *cb)
{
    t->_next = t->_prev = 0;
    t->expire_ms = 0;
    t->cb = cb;
}

static inline bool gw_timer_is_armed(const struct gw_timer *t)
{
    return t->_next != 0;
}

#endif
