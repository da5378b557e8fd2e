/*
 * Tests for core/usage.c: the usage record's JSON line (round trips, UTF-8
 * cuts, escaping, refusals, defaults), log file names, the writer's open and
 * boot ids.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/json.h"
#include "core/usage.h"

#define SET(dst, s) snprintf(dst, sizeof(dst), "%s", s)

static void sample(struct gw_usage_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->time_ms = 1796601600123;
    SET(r->boot, "Boot0123456789ab");
    r->worker = 3;
    r->seq = 77;
    SET(r->request_id, "req-abc");
    SET(r->key_id, "key_AAAA");
    SET(r->key_name, "billing app");
    SET(r->team_id, "team_BBBB");
    r->key_slot = 5;
    r->team_slot = 9;
    SET(r->model, "gpt-4o-mini");
    SET(r->provider, "openai");
    SET(r->deployment, "gpt-4o-mini-2024-07-18");
    SET(r->endpoint, "chat");
    r->stream = true;
    r->status = 200;
    SET(r->error, "");
    r->prompt_tokens = 1200;
    r->completion_tokens = 345;
    r->cached_tokens = 1024;
    r->cache_write_tokens = 11;
    r->reasoning_tokens = 12;
    r->have_cost = true;
    r->cost_pusd = 123456789;
    r->est_pusd = 987654321;
    SET(r->price_version, "genai-prices@0.0.1");
    r->ttfb_us = 150000;
    r->duration_us = 2500000;
    r->bytes_in = 4567;
    r->bytes_out = 89012;
}

static void assert_same(const struct gw_usage_rec *a, const struct gw_usage_rec *b)
{
#define S(f) cr_assert_str_eq(a->f, b->f, #f)
#define N(f) cr_assert_eq(a->f, b->f, #f)
    N(time_ms);
    S(boot);
    N(worker);
    N(seq);
    S(request_id);
    S(key_id);
    S(key_name);
    S(team_id);
    N(key_slot);
    N(team_slot);
    S(model);
    S(provider);
    S(deployment);
    S(endpoint);
    N(stream);
    N(status);
    S(error);
    N(prompt_tokens);
    N(completion_tokens);
    N(cached_tokens);
    N(cache_write_tokens);
    N(reasoning_tokens);
    N(have_cost);
    N(cost_pusd);
    N(est_pusd);
    S(price_version);
    N(ttfb_us);
    N(duration_us);
    N(bytes_in);
    N(bytes_out);
#undef S
#undef N
}

static char line[GW_USAGE_LINE_MAX + 64];

/* Formats r, checks the line's framing, returns its length without the '\n'. */
static size_t format(const struct gw_usage_rec *r)
{
    int n = gw_usage_format(r, line, sizeof(line) - 1);
    cr_assert_gt(n, 1);
    cr_assert_leq(n, GW_USAGE_LINE_MAX);
    cr_assert_eq(line[n - 1], '\n');
    cr_assert_null(memchr(line, '\n', (size_t)n - 1), "one line");
    cr_assert(gw_json_validate(line, (size_t)n - 1), "%.*s", n, line);
    line[n] = '\0';
    return (size_t)n - 1;
}

static struct gw_usage_rec parse_ok(const char *s)
{
    struct gw_usage_rec r;
    cr_assert_eq(gw_usage_parse(s, strlen(s), &r), 0, "refused %s", s);
    return r;
}

static bool parses(const char *s)
{
    struct gw_usage_rec r;
    return gw_usage_parse(s, strlen(s), &r) == 0;
}

Test(usage, every_field_round_trips)
{
    struct gw_usage_rec r, back;
    sample(&r);
    size_t n = format(&r);
    cr_assert_eq(gw_usage_parse(line, n, &back), 0, "%s", line);
    assert_same(&r, &back);

    /* extremes of every numeric type */
    r.time_ms = INT64_MIN;
    r.worker = UINT32_MAX;
    r.seq = UINT64_MAX;
    r.key_slot = 0;
    r.team_slot = UINT32_MAX - 1;
    r.stream = false;
    r.status = INT_MIN;
    r.prompt_tokens = UINT64_MAX;
    r.cost_pusd = INT64_MIN;
    r.est_pusd = INT64_MAX;
    r.ttfb_us = 0;
    r.duration_us = -7;
    r.bytes_out = 0;
    n = format(&r);
    cr_assert_eq(gw_usage_parse(line, n, &back), 0, "%s", line);
    assert_same(&r, &back);
}

Test(usage, integers_are_decimal_and_unknowns_are_null)
{
    struct gw_usage_rec r, back;
    sample(&r);
    r.have_cost = false;
    r.cost_pusd = 555;
    r.ttfb_us = -1;
    r.key_slot = GW_SLOT_NONE;
    format(&r);
    cr_assert_not_null(strstr(line, "\"cost_pusd\":null"), "%s", line);
    cr_assert_not_null(strstr(line, "\"ttfb_us\":null"), "%s", line);
    cr_assert_not_null(strstr(line, "\"key_slot\":null"), "%s", line);
    cr_assert_not_null(strstr(line, "\"time_ms\":1796601600123,"), "%s", line);
    cr_assert_not_null(strstr(line, "\"prompt_tokens\":1200,"), "%s", line);
    cr_assert_not_null(strstr(line, "\"stream\":true,"), "%s", line);
    cr_assert_not_null(strstr(line, "\"boot\":\"Boot0123456789ab\""), "%s", line);
    cr_assert_eq(gw_usage_parse(line, strlen(line) - 1, &back), 0);
    cr_assert_not(back.have_cost);
    cr_assert_eq(back.cost_pusd, 0);
    cr_assert_eq(back.ttfb_us, -1);
    cr_assert_eq(back.key_slot, GW_SLOT_NONE);
    cr_assert_eq(back.team_slot, 9);
}

Test(usage, zero_cost_is_a_known_cost)
{
    struct gw_usage_rec r, back;
    sample(&r);
    r.cost_pusd = 0;
    format(&r);
    cr_assert_not_null(strstr(line, "\"cost_pusd\":0,"), "%s", line);
    cr_assert_eq(gw_usage_parse(line, strlen(line) - 1, &back), 0);
    cr_assert(back.have_cost);
}

Test(usage, quotes_backslashes_and_control_characters_are_escaped)
{
    struct gw_usage_rec r, back;
    sample(&r);
    SET(r.key_name, "a\"b\\c\nd\te\x01"
                    "f\x1f");
    format(&r);
    cr_assert_not_null(strstr(line, "\"key_name\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u001f\""), "%s",
                       line);
    cr_assert_eq(gw_usage_parse(line, strlen(line) - 1, &back), 0);
    cr_assert_str_eq(back.key_name, "a\"b\\c\nd\te\x01"
                                    "f\x1f");
}

Test(usage, long_strings_are_cut_at_a_utf8_boundary)
{
    struct gw_usage_rec r, back;
    sample(&r);
    /* model is char[256]: 255 bytes of text. "é" is 2 bytes: 127 fit (254 bytes). */
    static char big[1000];
    size_t o = 0;
    for (int i = 0; i < 300; i++) {
        memcpy(big + o, "\xc3\xa9", 2);
        o += 2;
    }
    big[o] = '\0';
    memcpy(r.model, big, sizeof(r.model)); /* not terminated: the writer must cope */
    /* key_id is char[48]: "a" then 3-byte characters: 1 + 15 * 3 = 46, the 16th would end at 49 */
    memset(r.key_id, 0, sizeof(r.key_id));
    r.key_id[0] = 'a';
    for (int i = 0; i < 15; i++)
        memcpy(r.key_id + 1 + 3 * i, "\xe2\x82\xac", 3);
    r.key_id[46] = '\xe2'; /* the start of a 16th, torn by the field's end */
    r.key_id[47] = '\x82';
    format(&r);
    cr_assert_eq(gw_usage_parse(line, strlen(line) - 1, &back), 0);
    cr_assert_eq(strlen(back.model), 254);
    cr_assert_eq(memcmp(back.model, big, 254), 0);
    cr_assert_eq(strlen(back.key_id), 46);
    cr_assert_eq(memcmp(back.key_id, r.key_id, 46), 0);

    /* parsing a value longer than its field cuts it the same way */
    char in[2048];
    snprintf(in, sizeof(in),
             "{\"time_ms\":1,\"boot\":\"b\",\"worker\":0,\"seq\":1,\"model\":\"%s\"}", big);
    back = parse_ok(in);
    cr_assert_eq(strlen(back.model), 254);
    cr_assert_eq(memcmp(back.model, big, 254), 0);
}

Test(usage, invalid_utf8_is_written_as_question_marks)
{
    struct gw_usage_rec r, back;
    sample(&r);
    SET(r.model, "ok\xff\xc3(x\xed\xa0\x80");
    format(&r);
    cr_assert_eq(gw_usage_parse(line, strlen(line) - 1, &back), 0);
    cr_assert_str_eq(back.model, "ok?\?(x?\?\?");
}

/* The worst record: every string full of what escapes longest, numbers at their widest. */
Test(usage, worst_case_record_fits_the_line_limit)
{
    static const char fills[] = {'\x01', '"', 'a'};
    for (size_t f = 0; f < sizeof(fills); f++) {
        struct gw_usage_rec r, back;
        memset(&r, fills[f], sizeof(r));
        r.time_ms = INT64_MIN;
        r.worker = UINT32_MAX;
        r.seq = UINT64_MAX;
        r.key_slot = r.team_slot = UINT32_MAX - 1;
        r.stream = true;
        r.status = INT_MIN;
        r.prompt_tokens = r.completion_tokens = r.cached_tokens = UINT64_MAX;
        r.cache_write_tokens = r.reasoning_tokens = r.bytes_in = r.bytes_out = UINT64_MAX;
        r.have_cost = true;
        r.cost_pusd = r.est_pusd = r.ttfb_us = r.duration_us = INT64_MIN;
        char out[GW_USAGE_LINE_MAX];
        int n = gw_usage_format(&r, out, sizeof(out));
        cr_assert_gt(n, 0, "fill 0x%02x does not fit", fills[f]);
        cr_assert_eq(gw_usage_parse(out, (size_t)n - 1, &back), 0);
        /* and what was kept formats to the same line (the cut is stable) */
        char again[GW_USAGE_LINE_MAX];
        cr_assert_eq(gw_usage_format(&back, again, sizeof(again)), n);
        cr_assert_eq(memcmp(out, again, (size_t)n), 0);
    }
}

Test(usage, small_buffer_is_refused)
{
    struct gw_usage_rec r;
    sample(&r);
    char out[GW_USAGE_LINE_MAX];
    int n = gw_usage_format(&r, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_assert_eq(gw_usage_format(&r, out, (size_t)n), n, "exact size fits");
    cr_assert_eq(gw_usage_format(&r, out, (size_t)n - 1), -1);
    cr_assert_eq(gw_usage_format(&r, out, 0), -1);
}

#define REQ "\"time_ms\":1,\"boot\":\"b\",\"worker\":2,\"seq\":3"

Test(usage, missing_optional_members_take_defaults)
{
    struct gw_usage_rec r = parse_ok("{" REQ "}");
    cr_assert_eq(r.time_ms, 1);
    cr_assert_str_eq(r.boot, "b");
    cr_assert_eq(r.worker, 2);
    cr_assert_eq(r.seq, 3);
    cr_assert_str_eq(r.model, "");
    cr_assert_eq(r.status, 0);
    cr_assert_eq(r.prompt_tokens, 0);
    cr_assert_not(r.have_cost);
    cr_assert_eq(r.ttfb_us, -1);
    cr_assert_eq(r.key_slot, GW_SLOT_NONE);
    cr_assert_eq(r.team_slot, GW_SLOT_NONE);
}

Test(usage, missing_required_members_are_refused)
{
    cr_assert_not(parses("{\"boot\":\"b\",\"worker\":2,\"seq\":3}"));
    cr_assert_not(parses("{\"time_ms\":1,\"worker\":2,\"seq\":3}"));
    cr_assert_not(parses("{\"time_ms\":1,\"boot\":\"b\",\"seq\":3}"));
    cr_assert_not(parses("{\"time_ms\":1,\"boot\":\"b\",\"worker\":2}"));
    cr_assert_not(parses("{}"));
}

Test(usage, non_objects_and_trailing_garbage_are_refused)
{
    cr_assert_not(parses(""));
    cr_assert_not(parses("[]"));
    cr_assert_not(parses("1"));
    cr_assert_not(parses("null"));
    cr_assert_not(parses("\"x\""));
    cr_assert_not(parses("{" REQ "} x"));
    cr_assert_not(parses("{" REQ "}{}"));
    cr_assert_not(parses("{" REQ ""));
    cr_assert_not(parses("{" REQ ","));
    cr_assert(parses("{" REQ "} \t\r\n"), "trailing whitespace is fine");
}

Test(usage, members_of_the_wrong_type_are_refused)
{
    static const char *const bad[] = {
        "\"time_ms\":1.5",
        "\"time_ms\":\"1\"",
        "\"time_ms\":1e3",
        "\"time_ms\":9223372036854775808",
        "\"worker\":-1",
        "\"worker\":4294967296",
        "\"seq\":-1",
        "\"seq\":18446744073709551616",
        "\"boot\":1",
        "\"boot\":null",
        "\"model\":[\"x\"]",
        "\"stream\":1",
        "\"stream\":\"true\"",
        "\"status\":2147483648",
        "\"status\":null",
        "\"key_slot\":-1",
        "\"key_slot\":4294967296",
        "\"cost_pusd\":\"5\"",
        "\"cost_pusd\":1.0",
        "\"ttfb_us\":true",
        "\"prompt_tokens\":-1",
        "\"model\":\"a\\u0000b\"",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        char in[256];
        snprintf(in, sizeof(in), "{" REQ ",%s}", bad[i]);
        cr_assert_not(parses(in), "accepted %s", in);
    }
    /* the same shapes in range are fine */
    cr_assert(parses("{" REQ ",\"status\":-2147483648,\"time_ms\":-9223372036854775808}"));
    cr_assert(parses("{" REQ ",\"worker\":4294967295,\"seq\":18446744073709551615}"));
}

Test(usage, unknown_members_are_ignored)
{
    struct gw_usage_rec r = parse_ok("{\"future\":{\"a\":[1,2,{\"b\":null}]}," REQ
                                     ",\"x\":[],\"model\":\"m\",\"y\":\"z\","
                                     "\"n\":1.5e10,\"t\":true}");
    cr_assert_str_eq(r.model, "m");
    cr_assert_eq(r.seq, 3);
    /* escaped member names are matched after unescaping */
    r = parse_ok("{" REQ ",\"mod\\u0065l\":\"m2\"}");
    cr_assert_str_eq(r.model, "m2");
}

Test(usage, null_cost_means_unknown_price)
{
    struct gw_usage_rec r = parse_ok("{" REQ ",\"cost_pusd\":null}");
    cr_assert_not(r.have_cost);
    r = parse_ok("{" REQ ",\"cost_pusd\":-5}");
    cr_assert(r.have_cost);
    cr_assert_eq(r.cost_pusd, -5);
}

Test(usage, log_names_round_trip)
{
    char name[128], boot[24];
    unsigned w = 99;
    uint64_t seq = 99;
    cr_assert_eq(gw_usage_log_name("AbC123", 3, 42, name, sizeof(name)),
                 (int)strlen("usage-AbC123-03-000042.log"));
    cr_assert_str_eq(name, "usage-AbC123-03-000042.log");
    cr_assert(gw_usage_log_name_parse(name, boot, sizeof(boot), &w, &seq));
    cr_assert_str_eq(boot, "AbC123");
    cr_assert_eq(w, 3);
    cr_assert_eq(seq, 42);

    cr_assert_gt(gw_usage_log_name("b", 123, 12345678, name, sizeof(name)), 0);
    cr_assert_str_eq(name, "usage-b-123-12345678.log");
    cr_assert(gw_usage_log_name_parse(name, boot, sizeof(boot), &w, &seq));
    cr_assert(w == 123 && seq == 12345678);

    cr_assert_eq(gw_usage_log_name("AbC123", 3, 42, name, 10), -1, "too small");
    cr_assert_eq(gw_usage_log_name("a-b", 3, 42, name, sizeof(name)), -1, "not base62");
    cr_assert_eq(gw_usage_log_name("", 3, 42, name, sizeof(name)), -1);
    cr_assert_eq(gw_usage_log_name("../x", 3, 42, name, sizeof(name)), -1);
}

Test(usage, other_file_names_are_not_logs)
{
    static const char *const bad[] = {
        "usage-AbC-03-000042.log.tmp",
        "usage-AbC-3-000042.log",
        "usage-AbC-03-42.log",
        "usage-AbC-003-000042.log",
        "usage-AbC-03-0000042.log",
        "usage--03-000042.log",
        "usage-AbC-03-000042",
        "Usage-AbC-03-000042.log",
        "usage-AbC-03-00004x.log",
        "usage-AbC-03--00042.log",
        "usage-A.C-03-000042.log",
        "x",
        "",
        ".",
        "usage-AbC-03-99999999999999999999.log",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        char boot[24];
        unsigned w;
        uint64_t seq;
        cr_assert_not(gw_usage_log_name_parse(bad[i], boot, sizeof(boot), &w, &seq), "%s", bad[i]);
    }
    char small[3];
    unsigned w;
    uint64_t seq;
    cr_assert_not(
        gw_usage_log_name_parse("usage-AbC-03-000042.log", small, sizeof(small), &w, &seq),
        "boot does not fit");
}

Test(usage, log_open_creates_an_append_only_private_file)
{
    char dir[] = "/tmp/gw_usage_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    int fd = gw_usage_log_open(dir, "Boot1", 0, 1);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "one\n", 4), 4);
    close(fd);
    fd = gw_usage_log_open(dir, "Boot1", 0, 1);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "two\n", 4), 4, "appends, does not truncate");
    int fl = fcntl(fd, F_GETFL);
    cr_assert(fl & O_APPEND);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);

    char path[256], buf[16] = {0};
    snprintf(path, sizeof(path), "%s/usage-Boot1-00-000001.log", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    int rfd = open(path, O_RDONLY);
    cr_assert_eq(read(rfd, buf, sizeof(buf) - 1), 8);
    close(rfd);
    cr_assert_str_eq(buf, "one\ntwo\n");
    unlink(path);
    rmdir(dir);

    cr_assert_eq(gw_usage_log_open("/nonexistent/gw", "Boot1", 0, 1), -ENOENT);
    cr_assert_eq(gw_usage_log_open("/tmp", "bad/boot", 0, 1), -EINVAL);
}

Test(usage, boot_ids_are_sixteen_base62_characters_and_differ)
{
    char a[17], b[17];
    cr_assert_eq(gw_usage_boot_id(a), 0);
    cr_assert_eq(gw_usage_boot_id(b), 0);
    cr_assert_eq(strlen(a), 16);
    cr_assert_eq(strspn(a, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), 16);
    cr_assert_str_neq(a, b);
    char name[128];
    cr_assert_gt(gw_usage_log_name(a, 0, 1, name, sizeof(name)), 0, "usable in a file name");
}
