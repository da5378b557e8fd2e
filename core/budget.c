/*
 * core/budget.c — budget periods in UTC by day arithmetic.
 *
 * Dates go through days since 1970-01-01 with Howard Hinnant's
 * days_from_civil / civil_from_days (proleptic Gregorian calendar, valid for
 * every int64_t day number we can produce): no gmtime, no mktime, no TZ, so
 * the answer is the same on every thread and machine. Division by 86400 is
 * floored, so a negative time belongs to the day that contains it.
 *
 * Period ends for times near INT64_MAX (and starts near INT64_MIN) would not
 * fit in seconds: they saturate instead of wrapping.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/budget.h"
#include "core/common.h"

#define SECS_PER_DAY 86400

static const char *const period_names[GW_PERIOD_COUNT] = {
    [GW_PERIOD_TOTAL] = "total",
    [GW_PERIOD_DAILY] = "daily",
    [GW_PERIOD_WEEKLY] = "weekly",
    [GW_PERIOD_MONTHLY] = "monthly",
};

const char *gw_period_str(enum gw_period p)
{
    if ((unsigned)p >= GW_PERIOD_COUNT)
        return "unknown";
    return period_names[p];
}

bool gw_period_parse(struct gw_span s, enum gw_period *out)
{
    for (unsigned i = 0; i < GW_PERIOD_COUNT; i++) {
        if (gw_span_eq(s, gw_span_cstr(period_names[i]))) {
            *out = (enum gw_period)i;
            return true;
        }
    }
    return false;
}

/* Floored division for a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0)
        q--;
    return q;
}

int64_t gw_days_from_unix(int64_t t)
{
    return floor_div(t, SECS_PER_DAY);
}

/* Day number to Unix seconds, saturating where the product does not fit. */
static int64_t days_to_secs(int64_t days)
{
    int64_t r;
    if (__builtin_mul_overflow(days, (int64_t)SECS_PER_DAY, &r))
        return days < 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/*
 * Hinnant, "chrono-Compatible Low-Level Date Algorithms": eras of 400 years
 * (146097 days) starting on March 1st, so the leap day is the last day of
 * the era's year and month lengths follow the (153 * m + 2) / 5 pattern.
 */
int64_t gw_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                          /* [0, 399] */
    int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;    /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void gw_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void gw_period_bounds(enum gw_period p, int64_t now, int64_t *start, int64_t *end)
{
    int64_t day = gw_days_from_unix(now);
    int64_t first, next;

    switch (p) {
    case GW_PERIOD_DAILY:
        first = day;
        next = day + 1;
        break;
    case GW_PERIOD_WEEKLY: {
        /* 1970-01-01 was a Thursday: day + 3 counts from a Monday. */
        int64_t wd = (day + 3) - floor_div(day + 3, 7) * 7; /* 0 = Monday */
        first = day - wd;
        next = first + 7;
        break;
    }
    case GW_PERIOD_MONTHLY: {
        int64_t y;
        unsigned m, d;
        gw_civil_from_days(day, &y, &m, &d);
        first = gw_days_from_civil(y, m, 1);
        next = m == 12 ? gw_days_from_civil(y + 1, 1, 1) : gw_days_from_civil(y, m + 1, 1);
        break;
    }
    case GW_PERIOD_TOTAL:
    default:
        *start = 0;
        *end = INT64_MAX;
        return;
    }
    *start = days_to_secs(first);
    *end = days_to_secs(next);
}

int gw_time_rfc3339(int64_t t, char *out, unsigned cap)
{
    int64_t day = gw_days_from_unix(t);
    int64_t sod = t % SECS_PER_DAY; /* not t - day * 86400: that overflows near INT64_MIN */
    int64_t y;
    unsigned m, d;

    if (sod < 0)
        sod += SECS_PER_DAY;
    gw_civil_from_days(day, &y, &m, &d);
    int n = snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
                     (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60));
    if (n < 0 || (unsigned)n >= cap)
        return -1;
    return n;
}

/* Reads exactly n decimal digits at s[*pos]. */
static bool digits(struct gw_span s, size_t *pos, unsigned n, unsigned *out)
{
    unsigned v = 0;
    if (s.len - *pos < n)
        return false;
    for (unsigned i = 0; i < n; i++) {
        char c = s.ptr[*pos + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *pos += n;
    *out = v;
    return true;
}

static bool expect(struct gw_span s, size_t *pos, char c)
{
    if (*pos >= s.len || s.ptr[*pos] != c)
        return false;
    (*pos)++;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/*
 * RFC 3339 §5.6 date-time restricted to UTC: "Z" or the "+00:00" offset
 * (the lowercase 't' and 'z' of its NOTE are accepted too). A leap second
 * (:60) is refused: nothing we store ever carries one. Fractional seconds
 * are dropped, which floors the instant to its second.
 */
bool gw_time_parse_rfc3339(struct gw_span s, int64_t *out)
{
    size_t pos = 0;
    unsigned y, m, d, hh = 0, mm = 0, ss = 0;

    if (!s.ptr)
        return false;
    if (!digits(s, &pos, 4, &y) || !expect(s, &pos, '-') || !digits(s, &pos, 2, &m) ||
        !expect(s, &pos, '-') || !digits(s, &pos, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return false;
    if (pos < s.len) {
        if (s.ptr[pos] != 'T' && s.ptr[pos] != 't')
            return false;
        pos++;
        if (!digits(s, &pos, 2, &hh) || !expect(s, &pos, ':') || !digits(s, &pos, 2, &mm) ||
            !expect(s, &pos, ':') || !digits(s, &pos, 2, &ss))
            return false;
        if (hh > 23 || mm > 59 || ss > 59)
            return false;
        if (pos < s.len && s.ptr[pos] == '.') {
            pos++;
            size_t first = pos;
            while (pos < s.len && s.ptr[pos] >= '0' && s.ptr[pos] <= '9')
                pos++;
            if (pos == first)
                return false;
        }
        if (pos < s.len && (s.ptr[pos] == 'Z' || s.ptr[pos] == 'z')) {
            pos++;
        } else {
            unsigned oh, om;
            if (!expect(s, &pos, '+') || !digits(s, &pos, 2, &oh) || !expect(s, &pos, ':') ||
                !digits(s, &pos, 2, &om) || oh != 0 || om != 0)
                return false;
        }
        if (pos != s.len)
            return false;
    }
    *out = gw_days_from_civil(y, m, d) * SECS_PER_DAY + (int64_t)hh * 3600 + (int64_t)mm * 60 +
           (int64_t)ss;
    return true;
}
