/*
 * core/money.h — money as exact integers.
 *
 * Spend is counted in picodollars (pUSD, 1e-12 USD) in an int64_t: exact
 * sums, no rounding drift between workers, the database and the bill, and
 * room for about 9.2 million USD per counter. Prices are micro-dollars per
 * million tokens (uUSD/1M): a price of $0.075 per 1M tokens is 75000. The two
 * units fit together so that the cost of n tokens is exactly n * price pUSD:
 *
 *     n tokens * (p uUSD / 1e6 tokens) = n * p * 1e-12 USD = n * p pUSD.
 *
 * Dollars as doubles appear only at the edges (config, admin API, reports).
 */
#ifndef GW_CORE_MONEY_H
#define GW_CORE_MONEY_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_PUSD_PER_USD 1000000000000LL /* 1e12 */
#define GW_UUSD_PER_USD 1000000LL       /* 1e6 */
/* The largest amount any counter or limit may hold: 9,000,000 USD. */
#define GW_USD_MAX 9000000.0

/* USD (finite, 0 <= usd <= GW_USD_MAX) to pUSD, rounded to nearest. false otherwise. */
static inline bool gw_usd_to_pusd(double usd, int64_t *out);
/* A price in USD per 1M tokens (finite, 0 <= p <= 1e6) to uUSD per 1M, rounded. */
static inline bool gw_price_usd_to_uusd(double usd_per_1m, int64_t *out);
/* pUSD to USD for display. */
static inline double gw_pusd_to_usd(int64_t pusd);
/* a + b, saturating at INT64_MAX / INT64_MIN (never wraps). */
static inline int64_t gw_pusd_add(int64_t a, int64_t b);
/* n * price (tokens times uUSD/1M), saturating at INT64_MAX; n and price >= 0. */
static inline int64_t gw_pusd_mul(uint64_t n, int64_t price_uusd);

/* ---- inline bodies ---- */

static inline bool gw_usd_to_pusd(double usd, int64_t *out)
{
    if (!(usd >= 0.0 && usd <= GW_USD_MAX))
        return false; /* also NaN */
    *out = (int64_t)llround(usd * 1e12);
    return true;
}

static inline bool gw_price_usd_to_uusd(double usd_per_1m, int64_t *out)
{
    if (!(usd_per_1m >= 0.0 && usd_per_1m <= 1e6))
        return false;
    *out = (int64_t)llround(usd_per_1m * 1e6);
    return true;
}

static inline double gw_pusd_to_usd(int64_t pusd)
{
    return (double)pusd / 1e12;
}

static inline int64_t gw_pusd_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t gw_pusd_mul(uint64_t n, int64_t price_uusd)
{
    if (price_uusd <= 0 || n == 0)
        return 0;
    if (n > (uint64_t)INT64_MAX)
        return INT64_MAX;
    int64_t r;
    if (__builtin_mul_overflow((int64_t)n, price_uusd, &r))
        return INT64_MAX;
    return r;
}

#endif
