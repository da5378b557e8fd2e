/*
 * tests/unit/providers/test_eventstream.c — the AWS event stream framing
 * (providers/eventstream.c).
 *
 * Byte-exact fixtures: the three messages of awslabs/aws-c-event-stream's
 * "multiple valid messages" test (an empty message, a payload-only one, and
 * one with a content-type string header), which were also derived by hand
 * from the layout in the header (prelude, headers, payload, CRC-32s) and
 * match. Bedrock-shaped messages follow what ConverseStream sends: string
 * headers :event-type, :content-type and :message-type, and a JSON payload
 * holding the event's members with the "p" padding field [Bedrock API
 * reference, ConverseStream; AWS SDKs' restJson1 event stream binding].
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/span.h"
#include "providers/eventstream.h"

/* ---- recording what the decoder hands out ---- */

#define MAX_MSGS 64

struct rec_msg {
    char *message_type, *event_type, *exception_type, *error_code, *error_message, *content_type;
    char *headers, *payload;
    size_t headers_len, payload_len;
    const char *payload_ptr; /* where the span pointed, to check zero-copy */
};

struct rec {
    struct rec_msg m[MAX_MSGS];
    size_t n;
    int stop_at; /* return -1 on this message (1-based); 0: never */
};

static char *dup_span(struct gw_span s)
{
    char *p = malloc(s.len + 1);
    cr_assert(p);
    if (s.len)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

static int on_msg(void *arg, const struct gw_es_message *m)
{
    struct rec *r = arg;
    cr_assert_lt(r->n, MAX_MSGS);
    struct rec_msg *o = &r->m[r->n++];
    o->message_type = dup_span(m->message_type);
    o->event_type = dup_span(m->event_type);
    o->exception_type = dup_span(m->exception_type);
    o->error_code = dup_span(m->error_code);
    o->error_message = dup_span(m->error_message);
    o->content_type = dup_span(m->content_type);
    o->headers = dup_span(m->headers);
    o->headers_len = m->headers.len;
    o->payload = dup_span(m->payload);
    o->payload_len = m->payload.len;
    o->payload_ptr = m->payload.ptr;
    return r->stop_at && (int)r->n == r->stop_at ? -1 : 0;
}

static void rec_free(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct rec_msg *o = &r->m[i];
        free(o->message_type);
        free(o->event_type);
        free(o->exception_type);
        free(o->error_code);
        free(o->error_message);
        free(o->content_type);
        free(o->headers);
        free(o->payload);
    }
    r->n = 0;
}

static void assert_same(const struct rec *a, const struct rec *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: %zu messages, want %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct rec_msg *x = &a->m[i], *y = &b->m[i];
        cr_assert_str_eq(x->message_type, y->message_type, "%s #%zu", what, i);
        cr_assert_str_eq(x->event_type, y->event_type, "%s #%zu", what, i);
        cr_assert_str_eq(x->exception_type, y->exception_type, "%s #%zu", what, i);
        cr_assert_str_eq(x->error_code, y->error_code, "%s #%zu", what, i);
        cr_assert_str_eq(x->error_message, y->error_message, "%s #%zu", what, i);
        cr_assert_str_eq(x->content_type, y->content_type, "%s #%zu", what, i);
        cr_assert_eq(x->headers_len, y->headers_len, "%s #%zu", what, i);
        cr_assert(memcmp(x->headers, y->headers, x->headers_len) == 0, "%s #%zu", what, i);
        cr_assert_eq(x->payload_len, y->payload_len, "%s #%zu", what, i);
        cr_assert(memcmp(x->payload, y->payload, x->payload_len) == 0, "%s #%zu", what, i);
    }
}

static struct gw_arena arena;

static void setup(void)
{
    gw_arena_init(&arena, 4096, 0);
}

static void teardown(void)
{
    gw_arena_destroy(&arena);
}

TestSuite(eventstream, .init = setup, .fini = teardown);

/* A decoder over an arena of its own, so each run starts clean and leaks nothing. */
struct own_decoder {
    struct gw_arena a;
    struct gw_es_decoder d;
};

static struct gw_es_decoder *own_open(struct own_decoder *o, size_t max)
{
    gw_arena_init(&o->a, 1024, 0);
    gw_es_init(&o->d, &o->a, max);
    return &o->d;
}

/* Decodes s[0..n) fed in pieces of `step` bytes (0: in one piece) with a fresh decoder. */
static int decode_steps(const char *s, size_t n, size_t step, struct rec *r, size_t max,
                        enum gw_es_error *err)
{
    struct own_decoder o;
    struct gw_es_decoder *d = own_open(&o, max);
    int rc = 0;
    if (step == 0)
        step = n ? n : 1;
    for (size_t i = 0; i < n && rc == 0; i += step)
        rc = gw_es_feed(d, s + i, GW_MIN(step, n - i), on_msg, r);
    if (rc == 0)
        cr_assert(gw_es_idle(d), "a whole stream leaves the decoder idle");
    if (err)
        *err = gw_es_error(d);
    gw_arena_destroy(&o.a);
    return rc;
}

/* Decodes s[0..n) with a fresh decoder, cut before each of the ascending offsets cuts[0..k). */
static int decode_cuts(const char *s, size_t n, const size_t *cuts, size_t k, struct rec *r)
{
    struct own_decoder o;
    struct gw_es_decoder *d = own_open(&o, 0);
    size_t at = 0;
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; at = cuts[i++])
        rc = gw_es_feed(d, s + at, cuts[i] - at, on_msg, r);
    if (rc == 0)
        rc = gw_es_feed(d, s + at, n - at, on_msg, r);
    if (rc == 0)
        cr_assert(gw_es_idle(d));
    gw_arena_destroy(&o.a);
    return rc;
}

/*
 * Decodes s[0..n) split as decode_cuts does when cuts is set, else in pieces
 * of step bytes, and checks it hands out exactly what want holds; messages
 * name the split (what, the step, the first two cuts).
 */
static void expect_split_same(const char *s, size_t n, size_t step, const size_t *cuts, size_t k,
                              const struct rec *want, const char *what)
{
    char name[128];
    snprintf(name, sizeof(name), "%s (step %zu; pieces end at %zu, %zu, ..., %zu)", what, step,
             k > 0 ? cuts[0] : n, k > 1 ? cuts[1] : n, n);

    struct rec got = {0};
    int rc = cuts ? decode_cuts(s, n, cuts, k, &got) : decode_steps(s, n, step, &got, 0, NULL);
    cr_assert_eq(rc, 0, "%s", name);
    assert_same(&got, want, name);
    rec_free(&got);
}

/* ---- CRC-32 ---- */

/* Bitwise CRC-32, the independent path the table is checked against. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

Test(eventstream, crc32_check_value)
{
    cr_assert_eq(gw_crc32(0, "123456789", 9), 0xCBF43926u);
    cr_assert_eq(gw_crc32(0, "", 0), 0);
    cr_assert_eq(gw_crc32(0, "a", 1), 0xE8B7BE43u);
    /* Continuing from a previous CRC is the same as one pass. */
    cr_assert_eq(gw_crc32(gw_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

Test(eventstream, crc32_agrees_with_a_bitwise_crc)
{
    unsigned char buf[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t n = 0; n <= sizeof(buf); n += 97)
        cr_assert_eq(gw_crc32(0, buf, n), crc_bitwise(buf, n), "n=%zu", n);
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        cr_assert_eq(gw_crc32(0, &c, 1), crc_bitwise(&c, 1));
    }
}

/* ---- the published fixtures ---- */

static const unsigned char FIX_EMPTY[] = {
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff,
};
static const unsigned char FIX_PAYLOAD[] = {
    0x00, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, 0x7b, 0x27, 0x66,
    0x6f, 0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0xc3, 0x65, 0x39, 0x36,
};
static const unsigned char FIX_HEADER[] = {
    0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x20, 0x07, 0xfd, 0x83, 0x96, 0x0c, 'c',  'o',  'n',
    't',  'e',  'n',  't',  '-',  't',  'y',  'p',  'e',  0x07, 0x00, 0x10, 'a',  'p',  'p',  'l',
    'i',  'c',  'a',  't',  'i',  'o',  'n',  '/',  'j',  's',  'o',  'n',  0x7b, 0x27, 0x66, 0x6f,
    0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0x8d, 0x9c, 0x08, 0xb1,
};

Test(eventstream, encoder_matches_the_published_messages)
{
    char out[128];
    size_t n = gw_es_encode(out, sizeof(out), NULL, 0, NULL, 0);
    cr_assert_eq(n, sizeof(FIX_EMPTY));
    cr_assert(memcmp(out, FIX_EMPTY, n) == 0);

    n = gw_es_encode(out, sizeof(out), NULL, 0, "{'foo':'bar'}", 13);
    cr_assert_eq(n, sizeof(FIX_PAYLOAD));
    cr_assert(memcmp(out, FIX_PAYLOAD, n) == 0);

    struct gw_es_header h = {"content-type", "application/json"};
    n = gw_es_encode(out, sizeof(out), &h, 1, "{'foo':'bar'}", 13);
    cr_assert_eq(n, sizeof(FIX_HEADER));
    cr_assert(memcmp(out, FIX_HEADER, n) == 0);
}

Test(eventstream, published_stream_decodes_at_every_fragment_size_and_cut)
{
    unsigned char s[sizeof(FIX_EMPTY) + sizeof(FIX_PAYLOAD) + sizeof(FIX_HEADER)];
    memcpy(s, FIX_EMPTY, sizeof(FIX_EMPTY));
    memcpy(s + sizeof(FIX_EMPTY), FIX_PAYLOAD, sizeof(FIX_PAYLOAD));
    memcpy(s + sizeof(FIX_EMPTY) + sizeof(FIX_PAYLOAD), FIX_HEADER, sizeof(FIX_HEADER));

    struct rec want = {0};
    cr_assert_eq(decode_steps((const char *)s, sizeof(s), 0, &want, 0, NULL), 0);
    cr_assert_eq(want.n, 3);
    cr_assert_eq(want.m[0].payload_len, 0);
    cr_assert_eq(want.m[0].headers_len, 0);
    cr_assert_str_eq(want.m[1].payload, "{'foo':'bar'}");
    cr_assert_eq(want.m[1].headers_len, 0);
    cr_assert_str_eq(want.m[2].payload, "{'foo':'bar'}");
    cr_assert_eq(want.m[2].headers_len, 0x20);
    /* "content-type" is not the well-known ":content-type": it stays in the raw block. */
    cr_assert_str_eq(want.m[2].content_type, "");

    for (size_t step = 1; step <= sizeof(s); step++)
        expect_split_same((const char *)s, sizeof(s), step, NULL, 0, &want, "fragment size");
    for (size_t cut = 0; cut <= sizeof(s); cut++)
        expect_split_same((const char *)s, sizeof(s), 0, &cut, 1, &want, "cut");
    rec_free(&want);
}

/* ---- Bedrock-shaped streams ---- */

struct ev {
    const char *type;
    const char *payload;
};

static const struct ev CONVERSE[] = {
    {"messageStart",
     "{\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\",\"role\":\"assistant\"}"},
    {"contentBlockDelta",
     "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"},\"p\":\"abcdefghijk\"}"},
    {"contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\" there, "
                          "\\\"friend\\\"\"},\"p\":\"abcdefghijklmn\"}"},
    {"contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"abcdefghijklmnopqrstuvwxyzABCDE\"}"},
    {"messageStop", "{\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123\","
                    "\"stopReason\":\"end_turn\"}"},
    {"metadata", "{\"metrics\":{\"latencyMs\":312},\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEF\","
                 "\"usage\":{\"inputTokens\":12,\"outputTokens\":5,\"totalTokens\":17}}"},
};

/* Appends one event message to buf at *n, headers in the order ConverseStream sends them. */
static void put_event(char *buf, size_t cap, size_t *n, const char *type, const char *payload)
{
    struct gw_es_header h[] = {
        {":event-type", type},
        {":content-type", "application/json"},
        {":message-type", "event"},
    };
    size_t k = gw_es_encode(buf + *n, cap - *n, h, 3, payload, strlen(payload));
    cr_assert_gt(k, 0);
    *n += k;
}

static size_t converse_stream(char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(CONVERSE); i++)
        put_event(buf, cap, &n, CONVERSE[i].type, CONVERSE[i].payload);
    return n;
}

/* Writes the CONVERSE stream into buf, decodes it whole into r (one message an event). */
static size_t converse_decoded(char *buf, size_t cap, struct rec *r)
{
    size_t n = converse_stream(buf, cap);
    cr_assert_eq(decode_steps(buf, n, 0, r, 0, NULL), 0);
    cr_assert_eq(r->n, GW_ARRAY_SIZE(CONVERSE));
    return n;
}

Test(eventstream, bedrock_events_decode_with_their_headers)
{
    char s[4096];
    struct rec r = {0};
    converse_decoded(s, sizeof(s), &r);
    for (size_t i = 0; i < r.n; i++) {
        cr_assert_str_eq(r.m[i].message_type, "event");
        cr_assert_str_eq(r.m[i].event_type, CONVERSE[i].type);
        cr_assert_str_eq(r.m[i].content_type, "application/json");
        cr_assert_str_eq(r.m[i].exception_type, "");
        cr_assert_str_eq(r.m[i].error_code, "");
        cr_assert_str_eq(r.m[i].error_message, "");
        cr_assert_str_eq(r.m[i].payload, CONVERSE[i].payload);
        /* 1+11+1+2+len(type) + 1+13+1+2+16 + 1+13+1+2+5 */
        cr_assert_eq(r.m[i].headers_len, 15 + strlen(CONVERSE[i].type) + 33 + 22);
    }
    rec_free(&r);
}

Test(eventstream, bedrock_stream_decodes_the_same_at_every_split)
{
    char s[4096];
    struct rec want = {0};
    size_t n = converse_decoded(s, sizeof(s), &want);
    for (size_t cut = 0; cut <= n; cut++)
        expect_split_same(s, n, 0, &cut, 1, &want, "cut");
    for (size_t step = 1; step <= 64; step++)
        expect_split_same(s, n, step, NULL, 0, &want, "step");
    /* Three pieces: every pair of cuts, in a coarser grid. */
    for (size_t a = 0; a <= n; a += 7) {
        for (size_t b = a; b <= n; b += 11)
            expect_split_same(s, n, 0, (const size_t[]){a, b}, 2, &want, "three pieces");
    }
    rec_free(&want);
}

Test(eventstream, whole_messages_are_handed_out_in_place)
{
    char s[4096];
    size_t n = converse_stream(s, sizeof(s));
    struct own_decoder o;
    struct gw_es_decoder *d = own_open(&o, 0);
    struct rec r = {0};
    cr_assert_eq(gw_es_feed(d, s, n, on_msg, &r), 0);
    cr_assert_eq(r.n, GW_ARRAY_SIZE(CONVERSE));
    for (size_t i = 0; i < r.n; i++)
        cr_assert(r.m[i].payload_ptr >= s && r.m[i].payload_ptr < s + n, "zero-copy");
    cr_assert_eq(o.a.total, 0, "no arena memory taken");
    rec_free(&r);

    /* A message split across feeds is gathered, and only that one. */
    size_t first = 12 + 2; /* inside the first message */
    cr_assert_eq(gw_es_feed(d, s, first, on_msg, &r), 0);
    cr_assert_eq(r.n, 0);
    cr_assert_not(gw_es_idle(d));
    cr_assert_eq(gw_es_feed(d, s + first, n - first, on_msg, &r), 0);
    cr_assert_eq(r.n, GW_ARRAY_SIZE(CONVERSE));
    cr_assert(r.m[0].payload_ptr < s || r.m[0].payload_ptr >= s + n, "gathered");
    for (size_t i = 1; i < r.n; i++)
        cr_assert(r.m[i].payload_ptr >= s && r.m[i].payload_ptr < s + n, "zero-copy");
    cr_assert(gw_es_idle(d));
    rec_free(&r);
    gw_arena_destroy(&o.a);
}

Test(eventstream, exceptions_and_errors_surface_their_headers)
{
    char s[1024];
    size_t n = 0;
    struct gw_es_header ex[] = {
        {":exception-type", "throttlingException"},
        {":content-type", "application/json"},
        {":message-type", "exception"},
    };
    const char *body = "{\"message\":\"Too many requests, please wait before trying again.\"}";
    n += gw_es_encode(s + n, sizeof(s) - n, ex, 3, body, strlen(body));
    struct gw_es_header er[] = {
        {":error-code", "InternalFailure"},
        {":error-message", "An internal error occurred."},
        {":message-type", "error"},
    };
    n += gw_es_encode(s + n, sizeof(s) - n, er, 3, NULL, 0);
    struct rec r = {0};
    cr_assert_eq(decode_steps(s, n, 0, &r, 0, NULL), 0);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.m[0].message_type, "exception");
    cr_assert_str_eq(r.m[0].exception_type, "throttlingException");
    cr_assert_str_eq(r.m[0].content_type, "application/json");
    cr_assert_str_eq(r.m[0].event_type, "");
    cr_assert_str_eq(r.m[0].payload, body);
    cr_assert_str_eq(r.m[1].message_type, "error");
    cr_assert_str_eq(r.m[1].error_code, "InternalFailure");
    cr_assert_str_eq(r.m[1].error_message, "An internal error occurred.");
    cr_assert_eq(r.m[1].payload_len, 0);
    rec_free(&r);
}

/* ---- hand-built messages: any header block ---- */

/* Frames the raw header block h[0..hl) and payload into out; returns the length. */
static size_t frame(unsigned char *out, const void *h, size_t hl, const void *p, size_t pl)
{
    size_t total = 16 + hl + pl;
    unsigned char pre[8] = {(unsigned char)(total >> 24), (unsigned char)(total >> 16),
                            (unsigned char)(total >> 8),  (unsigned char)total,
                            (unsigned char)(hl >> 24),    (unsigned char)(hl >> 16),
                            (unsigned char)(hl >> 8),     (unsigned char)hl};
    memcpy(out, pre, 8);
    uint32_t c = crc_bitwise(out, 8);
    out[8] = (unsigned char)(c >> 24);
    out[9] = (unsigned char)(c >> 16);
    out[10] = (unsigned char)(c >> 8);
    out[11] = (unsigned char)c;
    if (hl)
        memcpy(out + 12, h, hl);
    if (pl)
        memcpy(out + 12 + hl, p, pl);
    c = crc_bitwise(out, 12 + hl + pl);
    out[total - 4] = (unsigned char)(c >> 24);
    out[total - 3] = (unsigned char)(c >> 16);
    out[total - 2] = (unsigned char)(c >> 8);
    out[total - 1] = (unsigned char)c;
    return total;
}

/* Decodes one framed header block; returns the feed's result and the error. */
static int decode_headers(const void *h, size_t hl, struct rec *r, enum gw_es_error *err)
{
    unsigned char m[1024];
    size_t n = frame(m, h, hl, "{}", 2);
    return decode_steps((const char *)m, n, 0, r, 0, err);
}

#define H(s) s, sizeof(s) - 1

Test(eventstream, all_ten_header_types_are_parsed)
{
    /* clang-format off */
    static const unsigned char h[] = {
        4, 't', 'r', 'u', 'e', 0,                                     /* bool true */
        5, 'f', 'a', 'l', 's', 'e', 1,                                /* bool false */
        4, 'b', 'y', 't', 'e', 2, 0xcf,                               /* byte */
        5, 's', 'h', 'o', 'r', 't', 3, 0x7f, 0xff,                    /* int16 */
        3, 'i', 'n', 't', 4, 0x00, 0x00, 0x00, 0x2a,                  /* int32 */
        4, 'l', 'o', 'n', 'g', 5, 0, 0, 0, 0, 0, 0, 0x10, 0x00,       /* int64 */
        5, 'b', 'y', 't', 'e', 's', 6, 0x00, 0x03, 0x00, 0xff, 0x10,  /* bytes */
        11, ':', 'e', 'v', 'e', 'n', 't', '-', 't', 'y', 'p', 'e', 7, 0x00, 0x05,
        'c', 'h', 'u', 'n', 'k',                                      /* string */
        4, 't', 'i', 'm', 'e', 8, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* timestamp */
        4, 'u', 'u', 'i', 'd', 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* uuid */
        13, ':', 'm', 'e', 's', 's', 'a', 'g', 'e', '-', 't', 'y', 'p', 'e', 7, 0x00, 0x05,
        'e', 'v', 'e', 'n', 't',
        /* A well-known name with a non-string type is left in the raw block. */
        13, ':', 'c', 'o', 'n', 't', 'e', 'n', 't', '-', 't', 'y', 'p', 'e', 6, 0x00, 0x01, 'x',
    };
    /* clang-format on */
    struct rec r = {0};
    enum gw_es_error err;
    cr_assert_eq(decode_headers(h, sizeof(h), &r, &err), 0, "%s", gw_es_error_str(err));
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.m[0].event_type, "chunk");
    cr_assert_str_eq(r.m[0].message_type, "event");
    cr_assert_str_eq(r.m[0].content_type, "");
    cr_assert_eq(r.m[0].headers_len, sizeof(h));
    cr_assert(memcmp(r.m[0].headers, h, sizeof(h)) == 0);
    cr_assert_str_eq(r.m[0].payload, "{}");
    rec_free(&r);
}

static void expect_bad_header(const void *h, size_t hl)
{
    struct rec r = {0};
    enum gw_es_error err;
    cr_assert_eq(decode_headers(h, hl, &r, &err), -1);
    cr_assert_eq(err, GW_ES_BAD_HEADER, "got %s", gw_es_error_str(err));
    cr_assert_eq(r.n, 0, "nothing is handed out");
}

Test(eventstream, malformed_headers_are_refused)
{
    /* The name runs past the block. */
    expect_bad_header(H("\005abc"));
    /* A name but no type byte. */
    expect_bad_header(H("\003abc"));
    /* Unknown types. */
    expect_bad_header(H("\001a\012"));
    expect_bad_header(H("\001a\377"));
    /* Each fixed-size value cut short. */
    expect_bad_header(H("\001a\002"));
    expect_bad_header(H("\001a\003\000"));
    expect_bad_header(H("\001a\004\000\000\000"));
    expect_bad_header(H("\001a\005\000\000\000\000\000\000\000"));
    expect_bad_header(H("\001a\010\000\000\000\000\000\000\000"));
    expect_bad_header(H("\001a\0110123456789abcde"));
    /* A string or bytes length that is cut, or runs past the block. */
    expect_bad_header(H("\001a\007\000"));
    expect_bad_header(H("\001a\007\000\004abc"));
    expect_bad_header(H("\001a\006\377\377abc"));
    /* An empty name. */
    expect_bad_header(H("\000\000"));
    /* A good header, then a truncated one. */
    expect_bad_header(H("\001a\000\001"));
    /* A well-known header twice. */
    expect_bad_header(H("\013:event-type\007\000\001a\013:event-type\007\000\001b"));
    /* A header block whose last header spills into the payload: the block length decides. */
    static const unsigned char h[] = {1, 'a', 7, 0, 4, 'x', 'y'};
    unsigned char m[64];
    size_t n = frame(m, h, sizeof(h), "zz", 2);
    struct rec r = {0};
    enum gw_es_error err;
    cr_assert_eq(decode_steps((const char *)m, n, 0, &r, 0, &err), -1);
    cr_assert_eq(err, GW_ES_BAD_HEADER);

    /* The edge cases that are fine: an empty string value and a 255-byte name. */
    struct rec ok = {0};
    cr_assert_eq(decode_headers(H("\x0d:message-type\x07\x00\x00"), &ok, &err), 0);
    cr_assert_eq(ok.n, 1);
    rec_free(&ok);
    unsigned char longname[1 + 255 + 1];
    longname[0] = 255;
    memset(longname + 1, 'n', 255);
    longname[256] = 0;
    cr_assert_eq(decode_headers(longname, sizeof(longname), &ok, &err), 0);
    rec_free(&ok);
}

/* ---- framing errors ---- */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A 12-byte prelude with a correct CRC for any lengths. */
static void prelude(unsigned char *p, uint32_t total, uint32_t hl)
{
    put32(p, total);
    put32(p + 4, hl);
    put32(p + 8, crc_bitwise(p, 8));
}

/* Feeds s[0..n) at every step size; every run must fail with want and hand out `msgs` messages. */
static void expect_error(const void *s, size_t n, size_t max, enum gw_es_error want, size_t msgs)
{
    for (size_t step = 0; step <= n; step++) {
        struct rec r = {0};
        enum gw_es_error err;
        cr_assert_eq(decode_steps(s, n, step, &r, max, &err), -1, "step %zu", step);
        cr_assert_eq(err, want, "step %zu: %s, want %s", step, gw_es_error_str(err),
                     gw_es_error_str(want));
        cr_assert_eq(r.n, msgs, "step %zu", step);
        rec_free(&r);
    }
}

Test(eventstream, a_bad_prelude_crc_is_refused)
{
    unsigned char m[sizeof(FIX_PAYLOAD)];
    memcpy(m, FIX_PAYLOAD, sizeof(m));
    m[9] ^= 0x01;
    expect_error(m, sizeof(m), 0, GW_ES_PRELUDE_CRC, 0);
    /* A flipped length bit is caught by the prelude CRC, before the length is used. */
    memcpy(m, FIX_PAYLOAD, sizeof(m));
    m[0] = 0x7f;
    expect_error(m, sizeof(m), 0, GW_ES_PRELUDE_CRC, 0);
}

Test(eventstream, a_bad_message_crc_is_refused)
{
    unsigned char s[sizeof(FIX_EMPTY) + sizeof(FIX_HEADER)];
    memcpy(s, FIX_EMPTY, sizeof(FIX_EMPTY));
    memcpy(s + sizeof(FIX_EMPTY), FIX_HEADER, sizeof(FIX_HEADER));
    unsigned char *m = s + sizeof(FIX_EMPTY);
    m[50] ^= 0x20; /* in the payload */
    expect_error(s, sizeof(s), 0, GW_ES_MESSAGE_CRC, 1);
    m[50] ^= 0x20;
    m[20] ^= 0x01; /* in the headers */
    expect_error(s, sizeof(s), 0, GW_ES_MESSAGE_CRC, 1);
    m[20] ^= 0x01;
    m[sizeof(FIX_HEADER) - 1] ^= 0x80; /* the CRC itself */
    expect_error(s, sizeof(s), 0, GW_ES_MESSAGE_CRC, 1);
}

Test(eventstream, impossible_lengths_are_refused)
{
    unsigned char p[GW_ES_MIN_MESSAGE + 8] = {0};
    prelude(p, 15, 0); /* shorter than a prelude and a CRC */
    expect_error(p, GW_ES_PRELUDE_LEN, 0, GW_ES_BAD_LENGTH, 0);
    prelude(p, 0, 0);
    expect_error(p, GW_ES_PRELUDE_LEN, 0, GW_ES_BAD_LENGTH, 0);
    prelude(p, 16, 1); /* headers longer than the message has room for */
    expect_error(p, GW_ES_PRELUDE_LEN, 0, GW_ES_BAD_LENGTH, 0);
    prelude(p, 24, 9);
    expect_error(p, GW_ES_PRELUDE_LEN, 0, GW_ES_BAD_LENGTH, 0);
    prelude(p, 24, 0xffffffffu);
    expect_error(p, GW_ES_PRELUDE_LEN, 0, GW_ES_BAD_LENGTH, 0);
    prelude(p, 0xffffffffu, 0);
    expect_error(p, GW_ES_PRELUDE_LEN, 0, GW_ES_BAD_LENGTH, 0);
    /* The largest header block that fits passes the length check: the decoder waits for more. */
    prelude(p, 24, 8);
    struct gw_es_decoder d;
    gw_es_init(&d, &arena, 0);
    struct rec r = {0};
    cr_assert_eq(gw_es_feed(&d, (const char *)p, GW_ES_PRELUDE_LEN, on_msg, &r), 0);
    cr_assert_not(gw_es_idle(&d));
}

Test(eventstream, messages_over_max_are_refused_at_the_prelude)
{
    unsigned char m[200];
    size_t n = frame(m, NULL, 0, "0123456789012345678901234567890123456789", 40); /* 56 bytes */
    struct rec r = {0};
    cr_assert_eq(decode_steps((const char *)m, n, 0, &r, 56, NULL), 0);
    cr_assert_eq(r.n, 1);
    rec_free(&r);
    expect_error(m, n, 55, GW_ES_BAD_LENGTH, 0);
    /* Only the prelude is needed to refuse it. */
    expect_error(m, GW_ES_PRELUDE_LEN, 55, GW_ES_BAD_LENGTH, 0);

    /* The default maximum is GW_ES_MESSAGE_MAX. */
    unsigned char p[GW_ES_PRELUDE_LEN];
    prelude(p, GW_ES_MESSAGE_MAX, 0);
    struct gw_es_decoder d;
    gw_es_init(&d, &arena, 0);
    cr_assert_eq(gw_es_feed(&d, (const char *)p, sizeof(p), on_msg, &r), 0);
    cr_assert_not(gw_es_idle(&d));
    prelude(p, GW_ES_MESSAGE_MAX + 1, 0);
    expect_error(p, sizeof(p), 0, GW_ES_BAD_LENGTH, 0);
}

Test(eventstream, a_large_message_grows_the_buffer_within_bounds)
{
    size_t plen = 100000;
    char *payload = malloc(plen);
    for (size_t i = 0; i < plen; i++)
        payload[i] = (char)('a' + i % 26);
    size_t cap = plen + 256;
    char *m = malloc(cap * 2);
    struct gw_es_header h = {":event-type", "chunk"};
    size_t n = gw_es_encode(m, cap, &h, 1, payload, plen);
    cr_assert_gt(n, 0);
    memcpy(m + n, FIX_EMPTY, sizeof(FIX_EMPTY));
    size_t total = n + sizeof(FIX_EMPTY);

    struct gw_es_decoder d;
    size_t max = 131072;
    gw_es_init(&d, &arena, max);
    struct rec r = {0};
    for (size_t i = 0; i < total; i += 333)
        cr_assert_eq(gw_es_feed(&d, m + i, GW_MIN(333, total - i), on_msg, &r), 0);
    cr_assert(gw_es_idle(&d));
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.m[0].payload_len, plen);
    cr_assert(memcmp(r.m[0].payload, payload, plen) == 0);
    cr_assert_str_eq(r.m[0].event_type, "chunk");
    cr_assert_eq(r.m[1].payload_len, 0);
    /* Doubling from 256 leaves less behind than the final buffer: under 2 * max + 256. */
    cr_assert_lt(arena.total, 2 * max + 256 + 4096);
    rec_free(&r);
    free(m);
    free(payload);
}

Test(eventstream, a_tiny_arena_runs_out_only_when_gathering)
{
    struct gw_arena tiny;
    gw_arena_init(&tiny, 64, 64);
    char s[4096];
    size_t n = converse_stream(s, sizeof(s));
    struct gw_es_decoder d;
    struct rec r = {0};

    /* Whole messages need no memory. */
    gw_es_init(&d, &tiny, 0);
    cr_assert_eq(gw_es_feed(&d, s, n, on_msg, &r), 0);
    cr_assert_eq(r.n, GW_ARRAY_SIZE(CONVERSE));
    rec_free(&r);

    /* A split one needs more than 64 bytes. */
    gw_es_init(&d, &tiny, 0);
    cr_assert_eq(gw_es_feed(&d, s, 5, on_msg, &r), -1);
    cr_assert_eq(gw_es_error(&d), GW_ES_NOMEM);
    cr_assert_eq(gw_es_feed(&d, s + 5, n - 5, on_msg, &r), -1, "stays broken");
    cr_assert_eq(r.n, 0);
    gw_arena_destroy(&tiny);

    /* With room for the first buffer but not for growing it. */
    gw_arena_init(&tiny, 256, 256);
    char big[2048];
    struct gw_es_header h = {":event-type", "chunk"};
    char payload[1000];
    memset(payload, 'x', sizeof(payload));
    size_t bn = gw_es_encode(big, sizeof(big), &h, 1, payload, sizeof(payload));
    gw_es_init(&d, &tiny, 0);
    cr_assert_eq(gw_es_feed(&d, big, 100, on_msg, &r), -1);
    cr_assert_eq(gw_es_error(&d), GW_ES_NOMEM);
    gw_es_init(&d, &tiny, 0);
    cr_assert_eq(gw_es_feed(&d, big, 8, on_msg, &r), 0, "a prelude fits");
    cr_assert_eq(gw_es_feed(&d, big + 8, bn - 8, on_msg, &r), -1);
    cr_assert_eq(gw_es_error(&d), GW_ES_NOMEM);
    cr_assert_eq(r.n, 0);
    gw_arena_destroy(&tiny);
}

Test(eventstream, the_callback_can_stop_the_stream)
{
    char s[4096];
    size_t n = converse_stream(s, sizeof(s));
    for (size_t step = 0; step <= 40; step += 5) {
        struct rec r = {.stop_at = 2};
        enum gw_es_error err;
        cr_assert_eq(decode_steps(s, n, step, &r, 0, &err), -1);
        cr_assert_eq(err, GW_ES_STOPPED);
        cr_assert_eq(r.n, 2, "nothing after the stop");
        rec_free(&r);
    }
    struct gw_es_decoder d;
    gw_es_init(&d, &arena, 0);
    struct rec r = {.stop_at = 1};
    cr_assert_eq(gw_es_feed(&d, s, n, on_msg, &r), -1);
    cr_assert_eq(gw_es_feed(&d, (const char *)FIX_EMPTY, sizeof(FIX_EMPTY), on_msg, &r), -1);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(gw_es_error(&d), GW_ES_STOPPED);
    cr_assert_not(gw_es_idle(&d));
    rec_free(&r);
}

Test(eventstream, idle_only_between_messages)
{
    struct gw_es_decoder d;
    gw_es_init(&d, &arena, 0);
    cr_assert(gw_es_idle(&d));
    cr_assert_eq(gw_es_error(&d), GW_ES_OK);
    struct rec r = {0};
    cr_assert_eq(gw_es_feed(&d, NULL, 0, on_msg, &r), 0);
    cr_assert(gw_es_idle(&d));
    for (size_t i = 0; i < sizeof(FIX_HEADER); i++) {
        cr_assert_eq(gw_es_feed(&d, (const char *)FIX_HEADER + i, 1, on_msg, &r), 0);
        bool last = i + 1 == sizeof(FIX_HEADER);
        cr_assert_eq(gw_es_idle(&d), last, "after byte %zu", i);
        cr_assert_eq(r.n, last ? 1u : 0u);
    }
    /* A stream cut inside a message is not idle; a broken one never is again. */
    cr_assert_eq(gw_es_feed(&d, (const char *)FIX_EMPTY, 3, on_msg, &r), 0);
    cr_assert_not(gw_es_idle(&d));
    unsigned char bad[GW_ES_PRELUDE_LEN];
    prelude(bad, 8, 0);
    gw_es_init(&d, &arena, 0);
    cr_assert_eq(gw_es_feed(&d, (const char *)bad, sizeof(bad), on_msg, &r), -1);
    cr_assert_not(gw_es_idle(&d));
    cr_assert_eq(gw_es_feed(&d, (const char *)FIX_EMPTY, sizeof(FIX_EMPTY), on_msg, &r), -1);
    cr_assert_eq(gw_es_error(&d), GW_ES_BAD_LENGTH);
    rec_free(&r);
}

Test(eventstream, error_strings)
{
    for (int e = 0; e < GW_ES_ERROR_COUNT; e++) {
        const char *s = gw_es_error_str((enum gw_es_error)e);
        cr_assert(s && s[0]);
        for (int f = 0; f < e; f++)
            cr_assert_str_neq(s, gw_es_error_str((enum gw_es_error)f));
    }
    cr_assert_str_eq(gw_es_error_str(GW_ES_ERROR_COUNT), "unknown");
}

/* ---- the encoder's limits ---- */

Test(eventstream, encoder_refuses_what_does_not_fit)
{
    char out[64];
    struct gw_es_header h = {":event-type", "x"};
    size_t need = 16 + 1 + 11 + 1 + 2 + 1 + 3;
    cr_assert_eq(gw_es_encode(out, need, &h, 1, "abc", 3), need);
    cr_assert_eq(gw_es_encode(out, need - 1, &h, 1, "abc", 3), 0);
    cr_assert_eq(gw_es_encode(out, 15, NULL, 0, NULL, 0), 0);
    cr_assert_eq(gw_es_encode(NULL, 64, NULL, 0, NULL, 0), 0);

    static char name[257];
    memset(name, 'n', 256);
    struct gw_es_header longname = {name, "v"};
    static char big[200000];
    cr_assert_eq(gw_es_encode(big, sizeof(big), &longname, 1, NULL, 0), 0);
    name[255] = '\0';
    cr_assert_gt(gw_es_encode(big, sizeof(big), &longname, 1, NULL, 0), 0);
    struct gw_es_header empty = {"", "v"};
    cr_assert_eq(gw_es_encode(big, sizeof(big), &empty, 1, NULL, 0), 0);
    static char value[65537];
    memset(value, 'v', 65536);
    struct gw_es_header longval = {"a", value};
    cr_assert_eq(gw_es_encode(big, sizeof(big), &longval, 1, NULL, 0), 0);
    value[65535] = '\0';
    size_t n = gw_es_encode(big, sizeof(big), &longval, 1, NULL, 0);
    cr_assert_eq(n, 16 + 1 + 1 + 1 + 2 + 65535);
    struct rec r = {0};
    cr_assert_eq(decode_steps(big, n, 0, &r, 0, NULL), 0);
    cr_assert_eq(r.n, 1);
    rec_free(&r);
}
