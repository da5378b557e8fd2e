/*
 * Tests for core/budget.c: day arithmetic, period bounds at their exact
 * boundaries, RFC 3339 formatting and parsing.
 *
 * Expected instants are known values (checked against Python's
 * calendar.timegm), or come from an independent day-by-day calendar walk.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/budget.h"
#include "core/common.h"

#define DAY 86400LL

static struct gw_span sp(const char *s)
{
    return gw_span_cstr(s);
}

static void bounds(enum gw_period p, int64_t now, int64_t want_start, int64_t want_end)
{
    int64_t s = 12345, e = 12345;
    gw_period_bounds(p, now, &s, &e);
    cr_assert_eq(s, want_start, "%s at %lld: start %lld, want %lld", gw_period_str(p),
                 (long long)now, (long long)s, (long long)want_start);
    cr_assert_eq(e, want_end, "%s at %lld: end %lld, want %lld", gw_period_str(p), (long long)now,
                 (long long)e, (long long)want_end);
}

Test(budget, period_names_round_trip_and_unknown_names_are_refused)
{
    for (int p = 0; p < GW_PERIOD_COUNT; p++) {
        enum gw_period got = GW_PERIOD_COUNT;
        cr_assert(gw_period_parse(sp(gw_period_str((enum gw_period)p)), &got));
        cr_assert_eq((int)got, p);
    }
    cr_assert_str_eq(gw_period_str(GW_PERIOD_WEEKLY), "weekly");
    enum gw_period out = GW_PERIOD_DAILY;
    cr_assert_not(gw_period_parse(sp("Monthly"), &out));
    cr_assert_not(gw_period_parse(sp("month"), &out));
    cr_assert_not(gw_period_parse(sp("dailyx"), &out));
    cr_assert_not(gw_period_parse(sp(""), &out));
    cr_assert_not(gw_period_parse(gw_span_make("daily", 4), &out));
    cr_assert_eq(out, GW_PERIOD_DAILY, "out untouched on failure");
}

Test(budget, days_from_unix_floors_negative_times)
{
    cr_assert_eq(gw_days_from_unix(0), 0);
    cr_assert_eq(gw_days_from_unix(DAY - 1), 0);
    cr_assert_eq(gw_days_from_unix(DAY), 1);
    cr_assert_eq(gw_days_from_unix(-1), -1);
    cr_assert_eq(gw_days_from_unix(-DAY), -1);
    cr_assert_eq(gw_days_from_unix(-DAY - 1), -2);
    cr_assert_eq(gw_days_from_unix(1709164800), 19782); /* 2024-02-29 */
}

Test(budget, known_dates_convert_both_ways)
{
    static const struct {
        int64_t y;
        unsigned m, d;
        int64_t days;
    } k[] = {
        {1970, 1, 1, 0},      {2024, 2, 29, 19782}, {2024, 3, 1, 19783}, {2100, 2, 28, 47540},
        {2100, 3, 1, 47541},  {2000, 2, 29, 11016}, {2000, 3, 1, 11017}, {1900, 1, 1, -25567},
        {2026, 12, 7, 20794}, {1969, 12, 31, -1},   {1969, 12, 1, -31},  {2027, 1, 1, 20819},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(k); i++) {
        cr_assert_eq(gw_days_from_civil(k[i].y, k[i].m, k[i].d), k[i].days, "%lld-%u-%u",
                     (long long)k[i].y, k[i].m, k[i].d);
        int64_t y;
        unsigned m, d;
        gw_civil_from_days(k[i].days, &y, &m, &d);
        cr_assert(y == k[i].y && m == k[i].m && d == k[i].d, "day %lld -> %lld-%u-%u",
                  (long long)k[i].days, (long long)y, m, d);
    }
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Walks the calendar day by day from 1600-01-01 to 2400-12-31 and checks every day. */
Test(budget, every_day_of_eight_centuries_matches_a_calendar_walk)
{
    static const unsigned mlen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y = 1600;
    unsigned m = 1, d = 1;
    int64_t day = gw_days_from_civil(1600, 1, 1);
    /* 1600-01-01 to 1970-01-01: 370 years, 90 leap days (1600..1969). */
    cr_assert_eq(day, -(370 * 365 + 90));
    while (y <= 2400) {
        int64_t gy;
        unsigned gm, gd;
        gw_civil_from_days(day, &gy, &gm, &gd);
        if (gy != y || gm != m || gd != d)
            cr_assert_fail("day %lld: got %lld-%u-%u, want %lld-%u-%u", (long long)day,
                           (long long)gy, gm, gd, (long long)y, m, d);
        if (gw_days_from_civil(y, m, d) != day)
            cr_assert_fail("%lld-%u-%u: not day %lld", (long long)y, m, d, (long long)day);
        unsigned len = m == 2 && leap(y) ? 29 : mlen[m - 1];
        if (++d > len) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
        day++;
    }
}

Test(budget, daily_period_is_the_utc_day_with_exact_boundaries)
{
    int64_t t = 1709164800; /* 2024-02-29T00:00:00Z */
    bounds(GW_PERIOD_DAILY, t, t, t + DAY);
    bounds(GW_PERIOD_DAILY, t + DAY - 1, t, t + DAY);
    bounds(GW_PERIOD_DAILY, t - 1, t - DAY, t);
    bounds(GW_PERIOD_DAILY, -1, -DAY, 0);
    bounds(GW_PERIOD_DAILY, 0, 0, DAY);
}

Test(budget, weekly_period_starts_on_monday)
{
    int64_t mon = 1796601600;  /* 2026-12-07, a Monday (ISO week 50) */
    int64_t next = 1797206400; /* 2026-12-14 */
    bounds(GW_PERIOD_WEEKLY, mon, mon, next);
    bounds(GW_PERIOD_WEEKLY, mon + 3 * DAY + 5, mon, next);
    bounds(GW_PERIOD_WEEKLY, next - 1, mon, next); /* Sunday 23:59:59 */
    bounds(GW_PERIOD_WEEKLY, next, next, next + 7 * DAY);
    bounds(GW_PERIOD_WEEKLY, mon - 1, mon - 7 * DAY, mon);
    /* across a year end: 2021-01-03 (Sunday) is in the week of Monday 2020-12-28 */
    bounds(GW_PERIOD_WEEKLY, 1609113600 + 6 * DAY + 100, 1609113600, 1609718400);
    /* the epoch was a Thursday: its week started Monday 1969-12-29 */
    bounds(GW_PERIOD_WEEKLY, 0, -259200, 345600);
    bounds(GW_PERIOD_WEEKLY, -259200, -259200, 345600);
    bounds(GW_PERIOD_WEEKLY, -259201, -259200 - 7 * DAY, -259200);
}

Test(budget, monthly_period_follows_month_lengths_and_leap_years)
{
    /* February 2024 (leap): 29 days */
    int64_t feb24 = gw_days_from_civil(2024, 2, 1) * DAY;
    bounds(GW_PERIOD_MONTHLY, 1709164800 + DAY - 1, feb24, 1709251200);
    bounds(GW_PERIOD_MONTHLY, 1709251200, 1709251200, gw_days_from_civil(2024, 4, 1) * DAY);
    /* February 2100 is not leap: 28 days */
    bounds(GW_PERIOD_MONTHLY, 4107456000, 4107456000 - 27 * DAY, 4107542400);
    /* February 2000 is leap */
    bounds(GW_PERIOD_MONTHLY, 951782400, 951782400 - 28 * DAY, 951868800);
    /* December rolls into January of the next year */
    bounds(GW_PERIOD_MONTHLY, 1796601600, 1796083200, 1798761600);
    bounds(GW_PERIOD_MONTHLY, 1798761600 - 1, 1796083200, 1798761600);
    bounds(GW_PERIOD_MONTHLY, 1798761600, 1798761600, 1798761600 + 31 * DAY);
    /* February 2026: 28 days, from 2026-02-01 to 2026-03-01 */
    bounds(GW_PERIOD_MONTHLY, 1769904000, 1769904000, 1772323200);
    bounds(GW_PERIOD_MONTHLY, 1772323200 - 1, 1769904000, 1772323200);
    /* before the epoch: December 1969 */
    bounds(GW_PERIOD_MONTHLY, -1, -2678400, 0);
}

Test(budget, total_period_is_everything)
{
    bounds(GW_PERIOD_TOTAL, 1796601600, 0, INT64_MAX);
    bounds(GW_PERIOD_TOTAL, -5, 0, INT64_MAX);
}

Test(budget, extreme_times_saturate_instead_of_wrapping)
{
    int64_t s, e;
    for (int p = 0; p < GW_PERIOD_COUNT; p++) {
        gw_period_bounds((enum gw_period)p, INT64_MAX, &s, &e);
        cr_assert(s <= INT64_MAX && e == INT64_MAX, "%s", gw_period_str((enum gw_period)p));
        gw_period_bounds((enum gw_period)p, INT64_MIN, &s, &e);
        if (p != GW_PERIOD_TOTAL)
            cr_assert(s == INT64_MIN && e > INT64_MIN, "%s", gw_period_str((enum gw_period)p));
    }
    char buf[40];
    cr_assert_gt(gw_time_rfc3339(INT64_MAX, buf, sizeof(buf)), 0);
    cr_assert_gt(gw_time_rfc3339(INT64_MIN, buf, sizeof(buf)), 0);
}

static const char *fmt(int64_t t)
{
    static char buf[64];
    int n = gw_time_rfc3339(t, buf, 32);
    cr_assert_eq((size_t)n, strlen(buf));
    return buf;
}

Test(budget, rfc3339_formats_utc)
{
    cr_assert_str_eq(fmt(0), "1970-01-01T00:00:00Z");
    cr_assert_str_eq(fmt(1796601600), "2026-12-07T00:00:00Z");
    cr_assert_str_eq(fmt(1709164800 + 23 * 3600 + 59 * 60 + 59), "2024-02-29T23:59:59Z");
    cr_assert_str_eq(fmt(-1), "1969-12-31T23:59:59Z");
    cr_assert_str_eq(fmt(-2208988800), "1900-01-01T00:00:00Z");
    char small[8];
    cr_assert_eq(gw_time_rfc3339(0, small, sizeof(small)), -1);
}

static int64_t parse_ok(const char *s)
{
    int64_t t = 42;
    cr_assert(gw_time_parse_rfc3339(sp(s), &t), "refused %s", s);
    return t;
}

Test(budget, rfc3339_parses_utc_forms)
{
    cr_assert_eq(parse_ok("2026-12-07T00:00:00Z"), 1796601600);
    cr_assert_eq(parse_ok("2026-12-07"), 1796601600);
    cr_assert_eq(parse_ok("2026-12-07T00:00:00+00:00"), 1796601600);
    cr_assert_eq(parse_ok("2026-12-07T00:00:01.999Z"), 1796601601);
    cr_assert_eq(parse_ok("2026-12-07t10:20:30z"), 1796601600 + 10 * 3600 + 20 * 60 + 30);
    cr_assert_eq(parse_ok("2024-02-29T12:00:00Z"), 1709164800 + 12 * 3600);
    cr_assert_eq(parse_ok("1969-12-31T23:59:59Z"), -1);
    cr_assert_eq(parse_ok("2000-02-29"), 951782400);
}

Test(budget, rfc3339_round_trips)
{
    static const int64_t ts[] = {0,           1,          -1,          59,
                                 86399,       1709164800, 1796601599,  951868799,
                                 -2208988800, 4107542400, 253402300799 /* 9999-12-31 */};
    for (size_t i = 0; i < GW_ARRAY_SIZE(ts); i++) {
        int64_t back;
        cr_assert(gw_time_parse_rfc3339(sp(fmt(ts[i])), &back), "%s", fmt(ts[i]));
        cr_assert_eq(back, ts[i]);
    }
}

Test(budget, rfc3339_refuses_everything_else)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-12",
        "2026-13-01",
        "2026-00-01",
        "2026-12-00",
        "2026-12-32",
        "2100-02-29",
        "2023-02-29",
        "2026-04-31",
        "26-12-07",
        "2026-1-07",
        "2026/12/07",
        "2026-12-07T",
        "2026-12-07T00:00Z",
        "2026-12-07T00:00:00",
        "2026-12-07T24:00:00Z",
        "2026-12-07T00:60:00Z",
        "2026-12-07T00:00:60Z",
        "2026-12-07T00:00:00.Z",
        "2026-12-07T00:00:00+01:00",
        "2026-12-07T00:00:00-05:00",
        "2026-12-07T00:00:00+0000",
        "2026-12-07T00:00:00ZZ",
        "2026-12-07 00:00:00Z",
        "2026-12-07T00:00:00Z ",
        " 2026-12-07",
        "+2026-12-07",
        "2026-12-07x",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        int64_t t = 7;
        cr_assert_not(gw_time_parse_rfc3339(sp(bad[i]), &t), "accepted \"%s\"", bad[i]);
        cr_assert_eq(t, 7, "out written for \"%s\"", bad[i]);
    }
    int64_t t;
    cr_assert_not(gw_time_parse_rfc3339(GW_SPAN_NULL, &t));
    /* a span is not NUL-terminated: only its bytes count */
    cr_assert(gw_time_parse_rfc3339(gw_span_make("2026-12-07T00:00:00Zjunk", 20), &t));
    cr_assert_eq(t, 1796601600);
}
