/*
 * core/budget.h — budget periods, calendar-aligned in UTC.
 *
 * A budget is {limit, period, hard}. Periods start at 00:00:00 UTC: a day,
 * an ISO week (Monday), a calendar month, or `total` (one period forever).
 * No time zone is ever consulted (no localtime, no TZ): the arithmetic is
 * days since the epoch, so it is the same on every machine and thread.
 * Times are Unix seconds (int64_t), never negative in practice but handled.
 */
#ifndef GW_CORE_BUDGET_H
#define GW_CORE_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/span.h"

enum gw_period {
    GW_PERIOD_TOTAL = 0, /* never resets */
    GW_PERIOD_DAILY,
    GW_PERIOD_WEEKLY,  /* ISO week: Monday 00:00 UTC to the next Monday */
    GW_PERIOD_MONTHLY, /* calendar month */
    GW_PERIOD_COUNT
};

struct gw_budget {
    bool set;  /* false: no budget (unlimited) */
    bool hard; /* streams are cut when spend crosses the limit mid-way */
    enum gw_period period;
    int64_t limit_pusd; /* core/money.h */
};

/* "total", "daily", "weekly", "monthly" (what the config and admin API use). */
const char *gw_period_str(enum gw_period p);
/* Parses one of the names above (exact, lowercase). false if none. */
bool gw_period_parse(struct gw_span s, enum gw_period *out);

/*
 * The period containing `now`: [*start, *end) in Unix seconds. For
 * GW_PERIOD_TOTAL start is 0 and end INT64_MAX. Exact at every boundary
 * (the first second of a period belongs to it).
 */
void gw_period_bounds(enum gw_period p, int64_t now, int64_t *start, int64_t *end);

/* Days since 1970-01-01 (floor, also for negative times) and back. */
int64_t gw_days_from_unix(int64_t t);
/* Civil date of a day number: year, month 1-12, day 1-31 (proleptic Gregorian). */
void gw_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
int64_t gw_days_from_civil(int64_t y, unsigned m, unsigned d);

/*
 * Formats Unix seconds as RFC 3339 UTC, "2026-12-07T00:00:00Z", into out
 * (at least 32 bytes). Returns the length.
 */
int gw_time_rfc3339(int64_t t, char *out, unsigned cap);
/* Parses "YYYY-MM-DDTHH:MM:SSZ" (also with fractional seconds, or +00:00) or
 * "YYYY-MM-DD" (midnight UTC). Returns false on anything else. */
bool gw_time_parse_rfc3339(struct gw_span s, int64_t *out);

#endif
