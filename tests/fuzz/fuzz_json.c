/*
 * tests/fuzz/fuzz_json.c — libFuzzer harness for core/json.c.
 *
 * Beyond "does not crash", it cross-checks the entry points against each
 * other: validate agrees with the tokenizer, a skip-driven walk agrees with a
 * plain one, every string unescapes (decoded text is never longer than the
 * raw text) and compares equal to its own decoding, the writer's escape of a
 * decoded string is valid JSON that decodes back to the same bytes, and each
 * member scan_object reports is a valid value that can be cut out or replaced.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_json: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char dec[4096];
static char dec_z[4097];
static char wbuf[4096 * 6 + 16];
static char dec2[4096];

static void check_string(const struct gw_json_tok *t)
{
    long n = gw_json_unescape(t->span, dec, sizeof(dec));
    if (t->span.len <= sizeof(dec))
        CHECK(n >= 0 && (size_t)n <= t->span.len);
    if (n < 0)
        return;
    CHECK(t->escaped || ((size_t)n == t->span.len && memcmp(dec, t->span.ptr, (size_t)n) == 0));
    if (!memchr(dec, '\0', (size_t)n)) {
        memcpy(dec_z, dec, (size_t)n);
        dec_z[n] = '\0';
        CHECK(gw_json_str_eq(t->span, dec_z));
    }

    /* Writing the decoded text back must give a valid string with the same content. */
    struct gw_jw w;
    gw_jw_init(&w, wbuf, sizeof(wbuf));
    gw_jw_str(&w, dec, (size_t)n);
    CHECK(!w.overflow);
    CHECK(gw_json_validate(wbuf, w.len));
    long n2 = gw_json_unescape(gw_span_make(wbuf + 1, w.len - 2), dec2, sizeof(dec2));
    CHECK(n2 == n && memcmp(dec2, dec, (size_t)n) == 0);
}

/* Walks the document, skipping the first container value met; returns the final result. */
static int walk_with_skip(const char *buf, size_t len)
{
    struct gw_json j;
    struct gw_json_tok t;
    bool skipped = false;
    int r;

    gw_json_init(&j, buf, len);
    while ((r = gw_json_next(&j, &t)) == 1) {
        if (!skipped && (t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN)) {
            size_t end;
            skipped = true;
            if (gw_json_skip(&j, &t, &end) != 0)
                return -1;
            CHECK(end > t.start && end <= len && j.pos == end);
            CHECK(buf[end - 1] == (t.type == GW_JT_OBJ_BEGIN ? '}' : ']'));
        }
    }
    return r;
}

static void check_members(const char *buf, size_t len, bool valid_object)
{
    static const char *const keys[] = {"model", "stream", "stream_options", "messages", "", "a"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];

    int r = gw_json_scan_object(buf, len, keys, GW_ARRAY_SIZE(keys), m);
    CHECK((r == 0) == valid_object);
    if (r != 0) {
        for (size_t i = 0; i < GW_ARRAY_SIZE(keys); i++)
            CHECK(!m[i].found);
        return;
    }
    for (size_t i = 0; i < GW_ARRAY_SIZE(keys); i++) {
        if (!m[i].found)
            continue;
        CHECK(buf[m[i].member_start] == '"');
        CHECK(m[i].member_start < m[i].value.start && m[i].value.start < m[i].value_end);
        CHECK(m[i].value.end <= m[i].value_end && m[i].value_end == m[i].member_end);
        CHECK(m[i].member_end < len);
        CHECK(m[i].value.depth == 1);
        CHECK(gw_json_validate(buf + m[i].value.start, m[i].value_end - m[i].value.start));

        size_t a, b;
        CHECK(gw_json_member_cut(buf, len, &m[i], &a, &b));
        CHECK(a <= m[i].member_start && b >= m[i].member_end && b <= len);
        char *out = malloc(len + 8);
        CHECK(out);
        memcpy(out, buf, a);
        memcpy(out + a, buf + b, len - b);
        CHECK(gw_json_validate(out, a + len - b));
        /* Replacing the value keeps the document valid too. */
        size_t vs = m[i].value.start, ve = m[i].value_end;
        memcpy(out, buf, vs);
        memcpy(out + vs, "null", 4);
        memcpy(out + vs + 4, buf + ve, len - ve);
        CHECK(gw_json_validate(out, vs + 4 + len - ve));
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct gw_json j;
    struct gw_json_tok t;
    bool first_obj = false;
    size_t ntok = 0, last_end = 0;
    int r;

    gw_json_init(&j, buf, size);
    while ((r = gw_json_next(&j, &t)) == 1) {
        if (ntok++ == 0)
            first_obj = t.type == GW_JT_OBJ_BEGIN;
        CHECK(t.type > GW_JT_NONE && t.type < GW_JT_COUNT);
        CHECK(t.start >= last_end && t.start < t.end && t.end <= size);
        CHECK(t.span.ptr >= buf && t.span.ptr + t.span.len <= buf + size);
        /* Brackets sit at depth 0..63; what is inside the 64th container at 64. */
        CHECK(t.depth <= GW_JSON_MAX_DEPTH && j.depth <= GW_JSON_MAX_DEPTH);
        if (t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN)
            CHECK(t.depth < GW_JSON_MAX_DEPTH && j.depth == t.depth + 1);
        CHECK(j.pos == t.end);
        last_end = t.end;
        switch (t.type) {
        case GW_JT_KEY:
        case GW_JT_STRING:
            CHECK(buf[t.start] == '"' && buf[t.end - 1] == '"');
            CHECK(t.span.ptr == buf + t.start + 1 && t.span.len == t.end - t.start - 2);
            check_string(&t);
            break;
        case GW_JT_NUMBER: {
            uint64_t v;
            CHECK(t.span.ptr == buf + t.start && t.span.len == t.end - t.start);
            (void)gw_json_to_u64(t.span, &v);
            break;
        }
        default:
            CHECK(t.span.ptr == buf + t.start && t.span.len == t.end - t.start);
            break;
        }
    }
    CHECK(r == 0 || r == -1);
    CHECK(gw_json_next(&j, &t) == r);
    CHECK(j.pos <= size);
    CHECK(gw_json_validate(buf, size) == (r == 0));
    CHECK(walk_with_skip(buf, size) == r);
    if (r == 0)
        CHECK(j.depth == 0);
    check_members(buf, size, r == 0 && first_obj);
    return 0;
}
