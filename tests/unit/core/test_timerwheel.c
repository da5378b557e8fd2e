#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/timerwheel.h"

#define LAP_MS ((uint64_t)GW_TW_SLOTS * GW_TW_TICK_MS)

/* A test timer: records when it fired, against the wheel's clock at that run. */
struct probe {
    struct gw_timer t;
    struct gw_timerwheel *tw;
    uint64_t fired_at;
    unsigned fires;
    void (*then)(struct probe *p); /* optional extra action inside the callback */
    struct probe *other;           /* borrowed: the timer `then` acts on */
    uint64_t arg;
};

static void probe_fire(struct gw_timer *t)
{
    struct probe *p = gw_container_of(t, struct probe, t);
    cr_assert_not(gw_timer_is_armed(t), "a timer is disarmed before its callback");
    cr_assert_leq(t->expire_ms, p->tw->now_ms, "fired early");
    p->fired_at = p->tw->now_ms;
    p->fires++;
    if (p->then)
        p->then(p);
}

static void probe_init(struct probe *p, struct gw_timerwheel *tw)
{
    *p = (struct probe){.tw = tw};
    gw_timer_init(&p->t, probe_fire);
}

/* Starts tw at now with the probes of the NULL-terminated list ps, none armed. */
static void wheel_with(struct gw_timerwheel *tw, uint64_t now, struct probe *const *ps)
{
    gw_tw_init(tw, now);
    for (; *ps; ps++)
        probe_init(*ps, tw);
}

/* Gives p the action `then` runs inside its callback, on other and with arg. */
static void probe_then(struct probe *p, void (*then)(struct probe *p), struct probe *other,
                       uint64_t arg)
{
    p->then = then;
    p->other = other;
    p->arg = arg;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* Starts tw at start with the n probes p armed at random in [start, start + span). */
static void arm_random(struct gw_timerwheel *tw, uint64_t start, struct probe *p, int n,
                       uint64_t span)
{
    gw_tw_init(tw, start);
    for (int i = 0; i < n; i++) {
        probe_init(&p[i], tw);
        gw_tw_add(tw, &p[i].t, start + rnd_below(span));
    }
}

Test(timerwheel, fires_exactly_at_expiry_when_run_every_ms)
{
    struct gw_timerwheel tw;
    const uint64_t start = 1000003;
    enum { N = 400 };
    static struct probe p[N];
    arm_random(&tw, start, p, N, 3 * LAP_MS);
    for (uint64_t now = start; now <= start + 3 * LAP_MS; now++)
        gw_tw_run(&tw, now);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(p[i].fires, 1, "timer %d fired %u times", i, p[i].fires);
        cr_assert_eq(p[i].fired_at, p[i].t.expire_ms, "timer %d", i);
    }
    cr_assert_eq(gw_tw_wait_ms(&tw, start + 3 * LAP_MS, 77), 77, "wheel is empty");
}

Test(timerwheel, fires_within_one_tick_when_run_every_tick)
{
    /* Run on tick boundaries and off them: lateness stays below one tick either way. */
    for (uint64_t phase = 0; phase < GW_TW_TICK_MS; phase += 3) {
        struct gw_timerwheel tw;
        const uint64_t start = 5000 + phase;
        enum { N = 300 };
        static struct probe p[N];
        arm_random(&tw, start, p, N, 2 * LAP_MS);
        for (uint64_t now = start; now <= start + 2 * LAP_MS + GW_TW_TICK_MS;
             now += GW_TW_TICK_MS) {
            gw_tw_run(&tw, now);
            for (int i = 0; i < N; i++)
                cr_assert(p[i].fires || p[i].t.expire_ms > now, "timer %d is overdue", i);
        }
        for (int i = 0; i < N; i++) {
            cr_assert_eq(p[i].fires, 1);
            cr_assert_geq(p[i].fired_at, p[i].t.expire_ms);
            cr_assert_lt(p[i].fired_at - p[i].t.expire_ms, GW_TW_TICK_MS);
        }
    }
}

Test(timerwheel, irregular_runs_fire_at_the_first_run_past_expiry)
{
    struct gw_timerwheel tw;
    enum { N = 2000 };
    static struct probe p[N];
    arm_random(&tw, 0, p, N, 5 * LAP_MS);
    uint64_t prev = 0, now = 0;
    while (now < 6 * LAP_MS) {
        prev = now;
        now += 1 + rnd_below(rnd_below(4) == 0 ? 3 * LAP_MS / 2 : 40);
        gw_tw_run(&tw, now);
        for (int i = 0; i < N; i++) {
            uint64_t e = p[i].t.expire_ms;
            if (e <= now && e > prev)
                cr_assert(p[i].fires == 1 && p[i].fired_at == now, "timer %d due at %llu", i,
                          (unsigned long long)e);
        }
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(p[i].fires, 1);
}

Test(timerwheel, ten_minute_timer_fires_right)
{
    struct gw_timerwheel tw;
    const uint64_t start = 123456789;
    const uint64_t ten_min = 10 * 60 * 1000;
    struct probe a, b;
    wheel_with(&tw, start, (struct probe *[]){&a, &b, NULL});
    gw_tw_add(&tw, &a.t, start + ten_min);
    gw_tw_add(&tw, &b.t, start + ten_min + 1);

    /* Stepping through every lap in odd steps. */
    uint64_t now = start;
    while (!a.fires) {
        now += 7;
        gw_tw_run(&tw, now);
        cr_assert(a.fires == 0 || now >= start + ten_min);
    }
    cr_assert_lt(now - (start + ten_min), 7);
    cr_assert_eq(a.fired_at, now);

    /* One big jump: just before, then exactly at expiry. */
    wheel_with(&tw, start, (struct probe *[]){&a, NULL});
    gw_tw_add(&tw, &a.t, start + ten_min);
    cr_assert_eq(gw_tw_wait_ms(&tw, start, UINT64_MAX), ten_min);
    cr_assert_eq(gw_tw_wait_ms(&tw, start, 1000), 1000);
    cr_assert_eq(gw_tw_run(&tw, start + ten_min - 1), 0);
    cr_assert_eq(gw_tw_wait_ms(&tw, start + ten_min - 1, 1000), 1);
    cr_assert_eq(gw_tw_run(&tw, start + ten_min), 1);
    cr_assert_eq(a.fired_at, start + ten_min);
}

Test(timerwheel, past_and_present_expiry_fires_at_the_next_run)
{
    struct gw_timerwheel tw;
    struct probe a, b, c;
    wheel_with(&tw, 10000, (struct probe *[]){&a, &b, &c, NULL});
    gw_tw_add(&tw, &a.t, 0);
    gw_tw_add(&tw, &b.t, 10000);
    gw_tw_add(&tw, &c.t, 10000 - LAP_MS - 3); /* a lap back: must not wait a lap */
    cr_assert_eq(gw_tw_wait_ms(&tw, 10000, 500), 0);
    cr_assert_eq(gw_tw_run(&tw, 10000), 3);
    cr_assert(a.fires == 1 && b.fires == 1 && c.fires == 1);
    cr_assert_eq(gw_tw_run(&tw, 10001), 0);
}

Test(timerwheel, clock_going_backwards_counts_as_standing_still)
{
    struct gw_timerwheel tw;
    struct probe a;
    wheel_with(&tw, 1000, (struct probe *[]){&a, NULL});
    gw_tw_add(&tw, &a.t, 1005);
    cr_assert_eq(gw_tw_run(&tw, 900), 0);
    cr_assert_eq(tw.now_ms, 1000);
    cr_assert_eq(gw_tw_run(&tw, 1005), 1);
}

static void rearm_periodic(struct probe *p)
{
    if (p->fires < 10)
        gw_tw_add(p->tw, &p->t, p->t.expire_ms + p->arg);
}

Test(timerwheel, callback_rearms_itself)
{
    /* A short period run every ms, and a long one that crosses laps each time. */
    static const struct {
        uint64_t period, step, until; /* ms: the re-arm interval, between runs, last run */
    } cases[] = {
        {100, 1, 2000},
        {LAP_MS + 5, 5, 11 * (LAP_MS + 5)},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        const uint64_t period = cases[i].period;
        struct gw_timerwheel tw;
        struct probe p;
        wheel_with(&tw, 0, (struct probe *[]){&p, NULL});
        probe_then(&p, rearm_periodic, NULL, period);
        gw_tw_add(&tw, &p.t, period);
        for (uint64_t now = 0; now <= cases[i].until; now += cases[i].step) {
            gw_tw_run(&tw, now);
            cr_assert_eq(p.fires, GW_MIN(10, now / period), "period %llu: at %llu",
                         (unsigned long long)period, (unsigned long long)now);
        }
        cr_assert_eq(p.fires, 10, "period %llu", (unsigned long long)period);
        cr_assert_eq(p.fired_at, 10 * period, "period %llu", (unsigned long long)period);
        cr_assert_not(gw_timer_is_armed(&p.t), "period %llu", (unsigned long long)period);
    }
}

static void rearm_now(struct probe *p)
{
    gw_tw_add(p->tw, &p->t, p->tw->now_ms);
}

Test(timerwheel, rearming_for_now_fires_at_the_next_run_not_this_one)
{
    struct gw_timerwheel tw;
    struct probe p;
    wheel_with(&tw, 40, (struct probe *[]){&p, NULL});
    probe_then(&p, rearm_now, NULL, 0);
    gw_tw_add(&tw, &p.t, 41);
    cr_assert_eq(gw_tw_run(&tw, 41), 1);
    cr_assert(gw_timer_is_armed(&p.t));
    cr_assert_eq(gw_tw_wait_ms(&tw, 41, 100), 0);
    cr_assert_eq(gw_tw_run(&tw, 41), 1, "same time, next run");
    cr_assert_eq(gw_tw_run(&tw, 42 + LAP_MS), 1);
    cr_assert_eq(p.fires, 3);
    gw_tw_del(&tw, &p.t);
    cr_assert_eq(gw_tw_run(&tw, 50 + LAP_MS), 0);
}

static void delete_other(struct probe *p)
{
    gw_tw_del(p->tw, &p->other->t);
}

Test(timerwheel, callback_deletes_another_timer_in_the_same_slot)
{
    struct gw_timerwheel tw;
    struct probe a, b, c, far;
    wheel_with(&tw, 0, (struct probe *[]){&a, &b, &c, &far, NULL});
    /* Both due together, same slot; whichever fires first deletes the other. */
    probe_then(&a, delete_other, &b, 0);
    probe_then(&b, delete_other, &a, 0);
    gw_tw_add(&tw, &a.t, 80);
    gw_tw_add(&tw, &b.t, 80);
    /* Same slot, a later lap, not due: deleting it mid-walk is fine too. */
    gw_tw_add(&tw, &far.t, 80 + 3 * LAP_MS);
    probe_then(&c, delete_other, &far, 0);
    gw_tw_add(&tw, &c.t, 81);

    cr_assert_eq(gw_tw_run(&tw, 100), 2);
    cr_assert_eq(a.fires + b.fires, 1);
    cr_assert_eq(c.fires, 1);
    cr_assert_not(gw_timer_is_armed(&a.t));
    cr_assert_not(gw_timer_is_armed(&b.t));
    cr_assert_not(gw_timer_is_armed(&far.t));
    cr_assert_eq(gw_tw_wait_ms(&tw, 100, 1234), 1234);
    cr_assert_eq(gw_tw_run(&tw, 100 + 4 * LAP_MS), 0);
}

static void delete_self(struct probe *p)
{
    gw_tw_del(p->tw, &p->t);
}

static void move_other_later(struct probe *p)
{
    gw_tw_add(p->tw, &p->other->t, p->tw->now_ms + p->arg);
}

static void arm_other_now(struct probe *p)
{
    gw_tw_add(p->tw, &p->other->t, p->tw->now_ms);
}

Test(timerwheel, callbacks_may_delete_themselves_and_move_or_arm_others)
{
    struct gw_timerwheel tw;
    struct probe a, b, c, d;
    wheel_with(&tw, 0, (struct probe *[]){&a, &b, &c, &d, NULL});
    probe_then(&a, delete_self, NULL, 0);
    probe_then(&b, move_other_later, &c, 30); /* postpones c, due in the same run */
    probe_then(&c, arm_other_now, &d, 0);     /* arms d for the current time */
    gw_tw_add(&tw, &a.t, 16);
    gw_tw_add(&tw, &b.t, 16);
    gw_tw_add(&tw, &c.t, 17);

    unsigned n = gw_tw_run(&tw, 20);
    cr_assert(a.fires == 1 && b.fires == 1);
    if (c.fires == 0) {
        /* b ran first: c moved to 50. */
        cr_assert_eq(n, 2);
        cr_assert_eq(c.t.expire_ms, 50);
        cr_assert_eq(gw_tw_run(&tw, 49), 0);
        cr_assert_eq(gw_tw_run(&tw, 50), 1);
    } else {
        /* c ran first and b re-armed it afterwards. */
        cr_assert_eq(n, 3);
        cr_assert(gw_timer_is_armed(&c.t));
    }
    cr_assert(gw_timer_is_armed(&d.t), "armed by a callback, waiting for the next run");
    cr_assert_eq(d.fires, 0);
    cr_assert_geq(gw_tw_run(&tw, 51), 1);
    cr_assert_eq(d.fires, 1);
}

Test(timerwheel, delete_disarms_and_is_idempotent)
{
    struct gw_timerwheel tw;
    struct probe a;
    wheel_with(&tw, 0, (struct probe *[]){&a, NULL});
    gw_tw_del(&tw, &a.t);
    cr_assert_not(gw_timer_is_armed(&a.t));
    gw_tw_add(&tw, &a.t, 50);
    cr_assert(gw_timer_is_armed(&a.t));
    gw_tw_add(&tw, &a.t, 5000); /* re-arm moves it */
    gw_tw_del(&tw, &a.t);
    gw_tw_del(&tw, &a.t);
    cr_assert_not(gw_timer_is_armed(&a.t));
    cr_assert_eq(gw_tw_run(&tw, 10000), 0);
    cr_assert_eq(gw_tw_wait_ms(&tw, 10000, 9), 9);
}

Test(timerwheel, wait_ms_reports_time_to_the_earliest_timer)
{
    struct gw_timerwheel tw;
    struct probe a, b, c;
    wheel_with(&tw, 1000, (struct probe *[]){&a, &b, &c, NULL});
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, 250), 250, "nothing armed");
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, 0), 0);

    gw_tw_add(&tw, &a.t, 1000 + 2 * LAP_MS + 3); /* far, hashed to a slot scanned early */
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, UINT64_MAX), 2 * LAP_MS + 3);
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, 250), 250);
    gw_tw_add(&tw, &b.t, 1100);
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, 250), 100);
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, 60), 60);
    cr_assert_eq(gw_tw_wait_ms(&tw, 1042, 250), 58, "now may run ahead of the wheel");
    cr_assert_eq(gw_tw_wait_ms(&tw, 1100, 250), 0);
    cr_assert_eq(gw_tw_wait_ms(&tw, 1200, 250), 0, "overdue");
    gw_tw_add(&tw, &c.t, 1003); /* same tick as now, later in it */
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, 250), 3);
    gw_tw_del(&tw, &c.t);
    gw_tw_del(&tw, &b.t);
    cr_assert_eq(gw_tw_wait_ms(&tw, 1000, UINT64_MAX), 2 * LAP_MS + 3);

    /* Waiting the returned time, then running, fires the timer. */
    gw_tw_add(&tw, &b.t, 1337);
    uint64_t now = 1000;
    while (!b.fires) {
        uint64_t w = gw_tw_wait_ms(&tw, now, 100);
        cr_assert_gt(w, 0);
        now += w;
        gw_tw_run(&tw, now);
    }
    cr_assert_eq(b.fired_at, 1337);
}

Test(timerwheel, jump_past_a_lap_fires_all_due_and_keeps_the_rest)
{
    struct gw_timerwheel tw;
    enum { N = 5000 };
    static struct probe p[N];
    arm_random(&tw, 0, p, N, 10 * LAP_MS);
    const uint64_t mid = 5 * LAP_MS + 17;
    unsigned due = 0;
    for (int i = 0; i < N; i++)
        due += p[i].t.expire_ms <= mid;
    cr_assert_eq(gw_tw_run(&tw, mid), due);
    for (int i = 0; i < N; i++)
        cr_assert_eq(p[i].fires, p[i].t.expire_ms <= mid);
    cr_assert_eq(gw_tw_run(&tw, 10 * LAP_MS), N - due);
}

/*
 * Stress: 100k timers, random arm/re-arm/delete from outside and from
 * callbacks, random time steps from sub-tick to many laps, checked after
 * every run against a brute-force model: each fire is of an armed, due timer;
 * after a run no armed timer is due; gw_tw_wait_ms matches the model's minimum.
 */
struct stress_timer {
    struct gw_timer t;
    bool armed; /* the model's view */
};

enum { STRESS_N = 100000 };

static struct stress_timer *stress;
static struct gw_timerwheel stress_tw;
static uint64_t stress_fired;

static uint64_t stress_expiry(uint64_t now)
{
    uint64_t r = rnd_below(100);
    if (r < 50)
        return now + rnd_below(200);
    if (r < 80)
        return now + rnd_below(5000);
    if (r < 95)
        return now + rnd_below(700000);
    return now - GW_MIN(now, rnd_below(3000)); /* already due */
}

static void stress_arm(struct stress_timer *s, uint64_t expire)
{
    gw_tw_add(&stress_tw, &s->t, expire);
    s->armed = true;
}

static void stress_del(struct stress_timer *s)
{
    gw_tw_del(&stress_tw, &s->t);
    s->armed = false;
}

static void stress_fire(struct gw_timer *t)
{
    struct stress_timer *s = gw_container_of(t, struct stress_timer, t);
    uint64_t now = stress_tw.now_ms;
    cr_assert(s->armed, "fired a timer that is not armed");
    cr_assert_leq(t->expire_ms, now, "fired early");
    s->armed = false;
    stress_fired++;
    uint64_t r = rnd_below(16);
    if (r == 0) {
        stress_arm(s, now + 1 + rnd_below(3 * LAP_MS)); /* re-arm self */
    } else if (r == 1) {
        stress_del(&stress[rnd_below(STRESS_N)]); /* maybe due in this very run */
    } else if (r == 2) {
        struct stress_timer *o = &stress[rnd_below(STRESS_N)];
        stress_arm(o, now + 1 + rnd_below(1000)); /* maybe moves a due one out */
    }
}

Test(timerwheel, stress_100k_random_timers_match_a_brute_force_model, .timeout = 120)
{
    stress = calloc(STRESS_N, sizeof(*stress));
    cr_assert_not_null(stress);
    uint64_t now = 777777;
    gw_tw_init(&stress_tw, now);
    for (size_t i = 0; i < STRESS_N; i++) {
        gw_timer_init(&stress[i].t, stress_fire);
        stress_arm(&stress[i], stress_expiry(now));
    }
    for (int step = 0; step < 1500; step++) {
        for (int op = 0; op < 60; op++) {
            struct stress_timer *s = &stress[rnd_below(STRESS_N)];
            if (rnd_below(3))
                stress_arm(s, stress_expiry(now));
            else
                stress_del(s);
        }
        uint64_t r = rnd_below(100);
        uint64_t adv = r < 80 ? rnd_below(20) : r < 95 ? rnd_below(500) : rnd_below(4 * LAP_MS);
        uint64_t max_ms = rnd_below(2) ? 1000 : UINT64_MAX;

        uint64_t min = UINT64_MAX;
        for (size_t i = 0; i < STRESS_N; i++)
            if (stress[i].armed)
                min = GW_MIN(min, stress[i].t.expire_ms);
        uint64_t want = min == UINT64_MAX  ? max_ms
                        : min <= now + adv ? 0
                                           : GW_MIN(min - (now + adv), max_ms);
        cr_assert_eq(gw_tw_wait_ms(&stress_tw, now + adv, max_ms), want, "step %d", step);

        now += adv;
        gw_tw_run(&stress_tw, now);
        for (size_t i = 0; i < STRESS_N; i++) {
            cr_assert_eq(gw_timer_is_armed(&stress[i].t), stress[i].armed);
            cr_assert(!stress[i].armed || stress[i].t.expire_ms > now,
                      "step %d: timer %zu due at %llu not fired by %llu", step, i,
                      (unsigned long long)stress[i].t.expire_ms, (unsigned long long)now);
        }
    }
    cr_assert_gt(stress_fired, 100000, "the stress fired only %llu",
                 (unsigned long long)stress_fired);
    free(stress);
}
