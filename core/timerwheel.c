#include <stdbool.h>
#include <stdint.h>

#include "core/common.h"
#include "core/timerwheel.h"

/*
 * Layout. A timer due at expire_ms hashes to the slot of tick
 * max(expire_ms / GW_TW_TICK_MS, _tick); each slot is a circular doubly
 * linked list whose head is the _slots[] entry, so add and delete are O(1)
 * and need no slot index. A slot mixes timers of different laps: those
 * longer than one lap are skipped (their expire_ms is checked) until the lap
 * in which they are due.
 *
 * Invariants, with _tick == now_ms / GW_TW_TICK_MS after init and each run:
 *  - every armed timer sits in the slot of a tick k >= _tick with
 *    expire_ms >= k * TICK, except "late" timers added already past due,
 *    which sit in the slot of _tick itself;
 *  - so a run to now_ms only needs the slots of ticks _tick..now_ms/TICK
 *    (all slots once when that spans a lap or more), and fires exactly the
 *    timers with expire_ms <= now_ms found there. The current tick's slot is
 *    walked again by the next run, since part of that tick is still ahead.
 *
 * Callbacks may add or delete any timer. A run therefore first moves every
 * due timer to a local list (no callback runs during the slot walk), then
 * pops and fires them one by one. A callback that deletes or re-arms a timer
 * still on the local list unlinks it from there like from any slot, so it
 * does not fire; one that arms a timer puts it in a slot, which this run no
 * longer walks.
 */
#define SLOT_MASK ((uint64_t)GW_TW_SLOTS - 1)

_Static_assert(GW_TW_SLOTS > 0 && (GW_TW_SLOTS & (GW_TW_SLOTS - 1)) == 0,
               "GW_TW_SLOTS must be a power of two");

static void list_init(struct gw_timer *head)
{
    head->_next = head->_prev = head;
}

static bool list_is_empty(const struct gw_timer *head)
{
    return head->_next == head;
}

static void list_add_tail(struct gw_timer *head, struct gw_timer *t)
{
    t->_prev = head->_prev;
    t->_next = head;
    head->_prev->_next = t;
    head->_prev = t;
}

static void list_unlink(struct gw_timer *t)
{
    t->_prev->_next = t->_next;
    t->_next->_prev = t->_prev;
    t->_next = t->_prev = NULL;
}

static struct gw_timer *slot_of_tick(struct gw_timerwheel *tw, uint64_t tick)
{
    return &tw->_slots[tick & SLOT_MASK];
}

void gw_tw_init(struct gw_timerwheel *tw, uint64_t now_ms)
{
    tw->now_ms = now_ms;
    tw->_tick = now_ms / GW_TW_TICK_MS;
    tw->_count = 0;
    for (unsigned i = 0; i < GW_TW_SLOTS; i++)
        list_init(&tw->_slots[i]);
}

void gw_tw_add(struct gw_timerwheel *tw, struct gw_timer *t, uint64_t expire_ms)
{
    GW_BUG_ON(!t->cb);
    if (gw_timer_is_armed(t)) {
        list_unlink(t);
        tw->_count--;
    }
    uint64_t tick = expire_ms / GW_TW_TICK_MS;
    if (tick < tw->_tick)
        tick = tw->_tick; /* already due: the next run walks this slot */
    t->expire_ms = expire_ms;
    list_add_tail(slot_of_tick(tw, tick), t);
    tw->_count++;
}

void gw_tw_del(struct gw_timerwheel *tw, struct gw_timer *t)
{
    if (!gw_timer_is_armed(t))
        return;
    GW_BUG_ON(tw->_count == 0);
    list_unlink(t);
    tw->_count--;
}

unsigned gw_tw_run(struct gw_timerwheel *tw, uint64_t now_ms)
{
    if (now_ms < tw->now_ms)
        now_ms = tw->now_ms;
    uint64_t cur = now_ms / GW_TW_TICK_MS;
    uint64_t walk = cur - tw->_tick + 1;
    if (walk > GW_TW_SLOTS)
        walk = GW_TW_SLOTS;

    struct gw_timer due;
    list_init(&due);
    for (uint64_t i = 0; i < walk && tw->_count; i++) {
        struct gw_timer *head = slot_of_tick(tw, tw->_tick + i);
        struct gw_timer *next;
        for (struct gw_timer *t = head->_next; t != head; t = next) {
            next = t->_next;
            if (t->expire_ms <= now_ms) {
                list_unlink(t);
                list_add_tail(&due, t);
            }
        }
    }
    /* Before any callback: timers they arm must hash relative to the new tick. */
    tw->_tick = cur;
    tw->now_ms = now_ms;

    unsigned fired = 0;
    while (!list_is_empty(&due)) {
        struct gw_timer *t = due._next;
        list_unlink(t);
        tw->_count--;
        fired++;
        t->cb(t);
    }
    return fired;
}

uint64_t gw_tw_wait_ms(const struct gw_timerwheel *tw, uint64_t now_ms, uint64_t max_ms)
{
    if (tw->_count == 0)
        return max_ms;
    /*
     * Slots in tick order from _tick: past the first, every timer in the slot
     * of tick k has expire_ms >= k * TICK, so the scan stops once the best
     * found so far is no later than that, or once k is past the cap. A full
     * lap has seen every timer.
     */
    uint64_t best = UINT64_MAX;
    for (uint64_t i = 0; i < GW_TW_SLOTS; i++) {
        uint64_t tick = tw->_tick + i;
        uint64_t start = tick * GW_TW_TICK_MS;
        if (i > 0) {
            if (best <= start)
                break;
            if (start > now_ms && start - now_ms >= max_ms)
                break;
        }
        const struct gw_timer *head = &tw->_slots[tick & SLOT_MASK];
        for (const struct gw_timer *t = head->_next; t != head; t = t->_next)
            best = GW_MIN(best, t->expire_ms);
    }
    if (best == UINT64_MAX)
        return max_ms;
    if (best <= now_ms)
        return 0;
    return GW_MIN(best - now_ms, max_ms);
}
