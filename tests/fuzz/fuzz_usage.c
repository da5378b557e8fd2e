/*
 * tests/fuzz/fuzz_usage.c — libFuzzer harness for core/usage.c, the usage
 * log's record reader and writer.
 *
 * Two properties:
 *   - any line gw_usage_parse accepts formats (within GW_USAGE_LINE_MAX) to
 *     a line that parses back to the same record, field by field, and that
 *     second line formats to the same bytes again (the writer is stable);
 *   - any record at all (the input's bytes laid over the struct) formats to
 *     a valid line that parses: a worker's record is never lost to a line
 *     the reader would skip as bad.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"
#include "core/usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_usage: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_same(const struct gw_usage_rec *a, const struct gw_usage_rec *b)
{
#define S(f) CHECK(strcmp(a->f, b->f) == 0)
#define N(f) CHECK(a->f == b->f)
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

/* Formats r and checks the line's framing; returns its length with the '\n'. */
static int format_checked(const struct gw_usage_rec *r, char *out)
{
    int n = gw_usage_format(r, out, GW_USAGE_LINE_MAX);
    CHECK(n > 1 && n <= GW_USAGE_LINE_MAX);
    CHECK(out[n - 1] == '\n' && !memchr(out, '\n', (size_t)n - 1));
    CHECK(gw_json_validate(out, (size_t)n - 1));
    return n;
}

static char line1[GW_USAGE_LINE_MAX], line2[GW_USAGE_LINE_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_usage_rec r, back, again;

    if (gw_usage_parse((const char *)data, size, &r) == 0) {
        int n1 = format_checked(&r, line1);
        CHECK(gw_usage_parse(line1, (size_t)n1 - 1, &back) == 0);
        check_same(&r, &back);
        int n2 = format_checked(&back, line2);
        CHECK(n1 == n2 && memcmp(line1, line2, (size_t)n1) == 0);
    }

    /* Any record, however odd its strings (unterminated, invalid UTF-8, control bytes). */
    memset(&r, 0, sizeof(r));
    memcpy(&r, data, GW_MIN(size, sizeof(r)));
    r.stream = size > 0 && (data[0] & 1);
    r.have_cost = size > 0 && (data[0] & 2);
    int n = format_checked(&r, line1);
    CHECK(gw_usage_parse(line1, (size_t)n - 1, &again) == 0);
    CHECK(again.time_ms == r.time_ms && again.seq == r.seq && again.worker == r.worker);
    return 0;
}
