#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/span.h"
#include "core/sse.h"

/*
 * A parsed event, copied out of the parse buffer so sequences from different
 * buffers (whole stream vs. pieces) can be compared.
 */
struct ev_copy {
    char *raw, *event, *id, *data; /* owns; data is the joined data buffer */
    size_t raw_len, event_len, id_len, data_len;
    bool has_event, has_id;
    unsigned data_lines;
    bool has_fields;
    bool done;
};

#define MAX_EVENTS 64

struct ev_list {
    struct ev_copy ev[MAX_EVENTS];
    size_t n;
};

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void list_push(struct ev_list *l, const struct gw_sse_event *ev)
{
    cr_assert_lt(l->n, MAX_EVENTS);
    struct ev_copy *c = &l->ev[l->n++];
    c->raw = dup_bytes(ev->raw.ptr, ev->raw.len);
    c->raw_len = ev->raw.len;
    c->has_event = ev->event.ptr != NULL;
    c->event = dup_bytes(ev->event.ptr, ev->event.len);
    c->event_len = ev->event.len;
    c->has_id = ev->id.ptr != NULL;
    c->id = dup_bytes(ev->id.ptr, ev->id.len);
    c->id_len = ev->id.len;
    char buf[4096];
    long n = gw_sse_data_join(ev, buf, sizeof(buf));
    cr_assert_geq(n, 0);
    c->data = dup_bytes(buf, (size_t)n);
    c->data_len = (size_t)n;
    c->data_lines = ev->data_lines;
    c->has_fields = ev->has_fields;
    c->done = gw_sse_is_done(ev);
}

static void list_free(struct ev_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->ev[i].raw);
        free(l->ev[i].event);
        free(l->ev[i].id);
        free(l->ev[i].data);
    }
    l->n = 0;
}

/* Parses every complete event in s; returns the bytes consumed. */
static size_t parse_all(const char *s, size_t len, struct ev_list *out)
{
    size_t off = 0;
    struct gw_sse_event ev;
    int r;
    while ((r = gw_sse_next(s + off, len - off, &ev)) > 0) {
        cr_assert_eq((size_t)r, ev.raw.len);
        cr_assert_eq(ev.raw.ptr, s + off);
        list_push(out, &ev);
        off += (size_t)r;
    }
    cr_assert_eq(r, -2);
    return off;
}

/*
 * The caller the parser is built for: a buffer that keeps the unconsumed tail
 * and gets more bytes appended. The stream arrives in two pieces split at
 * `cut`; each piece is appended, then events are drained.
 */
static size_t parse_split(const char *s, size_t len, size_t cut, struct ev_list *out)
{
    char *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    size_t have = 0, consumed = 0;
    const size_t ends[2] = {cut, len};
    size_t fed = 0;
    for (int piece = 0; piece < 2; piece++) {
        memcpy(buf + have, s + fed, ends[piece] - fed);
        have += ends[piece] - fed;
        fed = ends[piece];
        size_t used = parse_all(buf, have, out);
        memmove(buf, buf + used, have - used);
        have -= used;
        consumed += used;
    }
    free(buf);
    return consumed;
}

static void assert_same(const struct ev_list *a, const struct ev_list *b, size_t cut)
{
    cr_assert_eq(a->n, b->n, "cut %zu: %zu events vs %zu", cut, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct ev_copy *x = &a->ev[i], *y = &b->ev[i];
        cr_assert_eq(x->raw_len, y->raw_len, "cut %zu event %zu", cut, i);
        cr_assert_eq(memcmp(x->raw, y->raw, x->raw_len), 0, "cut %zu event %zu", cut, i);
        cr_assert_eq(x->data_len, y->data_len);
        cr_assert_eq(memcmp(x->data, y->data, x->data_len), 0);
        cr_assert_eq(x->event_len, y->event_len);
        cr_assert_eq(memcmp(x->event, y->event, x->event_len), 0);
        cr_assert_eq(x->id_len, y->id_len);
        cr_assert_eq(memcmp(x->id, y->id, x->id_len), 0);
        cr_assert_eq(x->has_event, y->has_event);
        cr_assert_eq(x->has_id, y->has_id);
        cr_assert_eq(x->data_lines, y->data_lines);
        cr_assert_eq(x->has_fields, y->has_fields);
        cr_assert_eq(x->done, y->done);
    }
}

/* Every split point of s gives the same events, and consumes the same bytes, as s whole. */
static void assert_split_invariant(const char *s, size_t len)
{
    struct ev_list whole = {.n = 0};
    size_t used = parse_all(s, len, &whole);
    for (size_t cut = 0; cut <= len; cut++) {
        struct ev_list parts = {.n = 0};
        size_t used2 = parse_split(s, len, cut, &parts);
        cr_assert_eq(used, used2, "cut %zu", cut);
        assert_same(&whole, &parts, cut);
        list_free(&parts);
    }
    list_free(&whole);
}

static void assert_str(const char *got, size_t len, const char *want)
{
    cr_assert_eq(len, strlen(want), "got \"%.*s\" want \"%s\"", (int)len, got, want);
    cr_assert_eq(memcmp(got, want, len), 0, "got \"%.*s\" want \"%s\"", (int)len, got, want);
}

#define LIT_LEN(s) (sizeof(s) - 1)

/*
 * s[0..len) is exactly one event with fields: its event and id values, its
 * first data line (NULL: that field is absent) and its count of data lines.
 */
static struct gw_sse_event expect_event(const char *s, size_t len, const char *event,
                                        const char *id, const char *data, unsigned data_lines)
{
    struct gw_sse_event ev;
    cr_assert_eq(gw_sse_next(s, len, &ev), (int)len, "<<%.*s>>", (int)len, s);
    cr_assert(ev.has_fields, "<<%.*s>>", (int)len, s);
    const struct {
        const char *name, *want;
        struct gw_span got;
    } fields[] = {{"event", event, ev.event}, {"id", id, ev.id}, {"data", data, ev.data}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(fields); i++) {
        const char *want = fields[i].want;
        struct gw_span got = fields[i].got;
        cr_assert_eq(got.ptr != NULL, want != NULL, "<<%.*s>>: %s %s", (int)len, s, fields[i].name,
                     want ? "absent" : "present");
        cr_assert(!want || (got.len == strlen(want) && memcmp(got.ptr, want, got.len) == 0),
                  "<<%.*s>>: %s \"%.*s\", want \"%s\"", (int)len, s, fields[i].name, (int)got.len,
                  got.ptr, want);
    }
    cr_assert_eq(ev.data_lines, data_lines, "<<%.*s>>: data lines", (int)len, s);
    return ev;
}

/* Captured from OpenAI's chat completions API with stream_options.include_usage. */
static const char openai_stream[] =
    "data: {\"id\":\"chatcmpl-9xQ2\",\"object\":\"chat.completion.chunk\",\"created\":1724000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_48196bc67a\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-9xQ2\",\"object\":\"chat.completion.chunk\",\"created\":1724000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_48196bc67a\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-9xQ2\",\"object\":\"chat.completion.chunk\",\"created\":1724000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_48196bc67a\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"content\":\"!\"},\"logprobs\":null,\"finish_reason\":null}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-9xQ2\",\"object\":\"chat.completion.chunk\",\"created\":1724000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_48196bc67a\",\"choices\":"
    "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-9xQ2\",\"object\":\"chat.completion.chunk\",\"created\":1724000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_48196bc67a\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
    "data: [DONE]\n\n";

/* Anthropic Messages API streaming: every event names its type in an event: line. */
static const char anthropic_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFD\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-sonnet-20241022\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

Test(sse, openai_stream_yields_each_chunk_then_done)
{
    struct ev_list l = {.n = 0};
    size_t used = parse_all(openai_stream, LIT_LEN(openai_stream), &l);
    cr_assert_eq(used, LIT_LEN(openai_stream));
    cr_assert_eq(l.n, 6);
    for (size_t i = 0; i < 5; i++) {
        cr_assert(l.ev[i].has_fields);
        cr_assert_not(l.ev[i].has_event);
        cr_assert_not(l.ev[i].has_id);
        cr_assert_eq(l.ev[i].data_lines, 1);
        cr_assert_not(l.ev[i].done);
        cr_assert_eq(l.ev[i].data[0], '{');
        cr_assert_eq(l.ev[i].data[l.ev[i].data_len - 1], '}');
        /* raw is exactly "data: " + data + "\n\n", ready to forward. */
        cr_assert_eq(l.ev[i].raw_len, l.ev[i].data_len + 8);
    }
    cr_assert_not_null(strstr(l.ev[1].data, "\"content\":\"Hello\""));
    cr_assert_not_null(strstr(l.ev[4].data, "\"choices\":[],\"usage\":{\"prompt_tokens\":9"));
    cr_assert(l.ev[5].done);
    assert_str(l.ev[5].raw, l.ev[5].raw_len, "data: [DONE]\n\n");
    list_free(&l);
}

Test(sse, anthropic_stream_reports_event_names)
{
    static const char *const names[] = {
        "message_start",      "content_block_start", "ping",        "content_block_delta",
        "content_block_stop", "message_delta",       "message_stop"};
    struct ev_list l = {.n = 0};
    size_t used = parse_all(anthropic_stream, LIT_LEN(anthropic_stream), &l);
    cr_assert_eq(used, LIT_LEN(anthropic_stream));
    cr_assert_eq(l.n, GW_ARRAY_SIZE(names));
    for (size_t i = 0; i < l.n; i++) {
        cr_assert(l.ev[i].has_event);
        assert_str(l.ev[i].event, l.ev[i].event_len, names[i]);
        cr_assert_eq(l.ev[i].data_lines, 1);
        /* Each payload repeats its event name as "type". */
        char want[64];
        snprintf(want, sizeof(want), "\"type\":\"%s\"", names[i]);
        if (i != 2)
            cr_assert_not_null(strstr(l.ev[i].data, want), "%s", l.ev[i].data);
    }
    assert_str(l.ev[2].data, l.ev[2].data_len, "{\"type\": \"ping\"}");
    list_free(&l);
}

Test(sse, crlf_and_cr_line_ends_parse_like_lf)
{
    static const char *const variants[] = {
        "event: a\ndata: one\ndata: two\nid: 7\n\n",
        "event: a\r\ndata: one\r\ndata: two\r\nid: 7\r\n\r\n",
        "event: a\rdata: one\rdata: two\rid: 7\r\r",
        "event: a\r\ndata: one\rdata: two\nid: 7\r\n\r",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(variants); i++) {
        const char *s = variants[i];
        size_t len = strlen(s);
        struct gw_sse_event ev;
        int r = gw_sse_next(s, len, &ev);
        if (s[len - 1] == '\r') {
            /* The closing blank line may still get its LF; only the stream's end settles it. */
            cr_assert_eq(r, -2, "variant %zu: a trailing lone CR is incomplete", i);
            r = gw_sse_next_final(s, len, &ev);
        }
        cr_assert_eq(r, (int)len, "variant %zu", i);
        assert_str(ev.event.ptr, ev.event.len, "a");
        assert_str(ev.id.ptr, ev.id.len, "7");
        assert_str(ev.data.ptr, ev.data.len, "one");
        cr_assert_eq(ev.data_lines, 2);
        char buf[32];
        long n = gw_sse_data_join(&ev, buf, sizeof(buf));
        assert_str(buf, (size_t)n, "one\ntwo");
    }
}

Test(sse, crlf_split_between_cr_and_lf_keeps_the_lf_in_the_event)
{
    const char s[] = "data: x\r\n\r\ndata: y\r\n\r\n";
    struct gw_sse_event ev;
    /* "data: x\r\n\r" could still be followed by the LF of the blank line. */
    cr_assert_eq(gw_sse_next(s, 10, &ev), -2);
    cr_assert_eq(gw_sse_next(s, 11, &ev), 11);
    assert_str(ev.raw.ptr, ev.raw.len, "data: x\r\n\r\n");
    cr_assert_eq(gw_sse_next(s + 11, LIT_LEN(s) - 11, &ev), 11);
    assert_str(ev.data.ptr, ev.data.len, "y");
    /* With the LF on a line of content, CR then CR is two line ends. */
    cr_assert_eq(gw_sse_next("data: z\r\r", 9, &ev), -2);
    cr_assert_eq(gw_sse_next("data: z\r\rx", 10, &ev), 9);
}

/* Data lines joined with LF; the reader and gw_sse_data_join both give "{\n \"a\": 1,\n\n\n}". */
static const char multi_line[] = "data: {\n"
                                 "data:  \"a\": 1,\n" /* only one space is stripped */
                                 "data\n"             /* no colon: an empty data line */
                                 "data:\n"
                                 "data:}\n"
                                 "\n";

Test(sse, multi_line_data_joins_with_newlines)
{
    struct gw_sse_event ev = expect_event(multi_line, LIT_LEN(multi_line), NULL, NULL, "{", 5);
    char buf[64];
    long n = gw_sse_data_join(&ev, buf, sizeof(buf));
    assert_str(buf, (size_t)n, "{\n \"a\": 1,\n\n\n}");
    cr_assert_eq(gw_sse_data_join(&ev, buf, (size_t)n), n);
    cr_assert_eq(gw_sse_data_join(&ev, buf, (size_t)n - 1), -1);
    cr_assert_eq(gw_sse_data_join(&ev, buf, 0), -1);
    cr_assert_not(gw_sse_is_done(&ev));
}

Test(sse, single_data_line_join_respects_cap)
{
    struct gw_sse_event ev;
    cr_assert_eq(gw_sse_next("data: hello\n\n", 13, &ev), 13);
    char buf[8];
    cr_assert_eq(gw_sse_data_join(&ev, buf, 4), -1);
    cr_assert_eq(gw_sse_data_join(&ev, buf, 5), 5);
    assert_str(buf, 5, "hello");
}

Test(sse, comments_and_keep_alives_have_no_fields)
{
    const char s[] = ": OPENROUTER PROCESSING\n\n"
                     ":\n:ping\n\n"
                     "data: a\n: a comment inside an event\ndata: b\n\n";
    struct ev_list l = {.n = 0};
    cr_assert_eq(parse_all(s, LIT_LEN(s), &l), LIT_LEN(s));
    cr_assert_eq(l.n, 3);
    cr_assert_not(l.ev[0].has_fields);
    cr_assert_eq(l.ev[0].data_lines, 0);
    cr_assert_not(l.ev[1].has_fields);
    assert_str(l.ev[1].raw, l.ev[1].raw_len, ":\n:ping\n\n");
    cr_assert(l.ev[2].has_fields);
    assert_str(l.ev[2].data, l.ev[2].data_len, "a\nb");
    list_free(&l);
}

Test(sse, unknown_fields_and_retry_are_ignored_but_count_as_fields)
{
    const char s[] = "retry: 3000\nDATA: no, names are case-sensitive\nfoo\n\n";
    expect_event(s, LIT_LEN(s), NULL, NULL, NULL, 0);
}

Test(sse, last_event_and_id_win_and_nul_ids_are_ignored)
{
    const char s[] = "event: first\nevent: second\nid: 1\nid: 2\nid: 3\0x\ndata: d\n\n";
    expect_event(s, LIT_LEN(s), "second", "2", "d", 1);
    /* Present but empty differs from absent. */
    expect_event("id\nevent:\ndata\n\n", 16, "", "", "", 1);
}

Test(sse, colon_value_keeps_later_colons_and_spaces)
{
    const char s[] = "data:  two spaces: kept\nevent:x:y\n\n";
    expect_event(s, LIT_LEN(s), "x:y", NULL, " two spaces: kept", 1);
}

Test(sse, leading_blank_lines_belong_to_the_next_event)
{
    const char s[] = "\n\r\n\rdata: a\n\n\n\ndata: b\n\n";
    struct gw_sse_event ev;
    cr_assert_eq(gw_sse_next(s, 4, &ev), -2, "blank lines alone are no event");
    cr_assert_eq(gw_sse_next(s, 13, &ev), 13);
    assert_str(ev.raw.ptr, ev.raw.len, "\n\r\n\rdata: a\n\n");
    assert_str(ev.data.ptr, ev.data.len, "a");
    cr_assert_eq(gw_sse_next(s + 13, LIT_LEN(s) - 13, &ev), (int)LIT_LEN(s) - 13);
    assert_str(ev.raw.ptr, ev.raw.len, "\n\ndata: b\n\n");
}

Test(sse, incomplete_events_need_more_bytes)
{
    struct gw_sse_event ev = {.data_lines = 42};
    cr_assert_eq(gw_sse_next("", 0, &ev), -2);
    cr_assert_eq(gw_sse_next("data: a", 7, &ev), -2);
    cr_assert_eq(gw_sse_next("data: a\n", 8, &ev), -2);
    cr_assert_eq(gw_sse_next("data: a\r", 8, &ev), -2);
    cr_assert_eq(gw_sse_next("data: a\n\r", 9, &ev), -2);
    cr_assert_eq(ev.data_lines, 42, "ev is untouched on -2");
    /* At the end of the stream a lone CR ends its line, but a missing blank line stays missing. */
    cr_assert_eq(gw_sse_next_final("data: a\n\r", 9, &ev), 9);
    cr_assert_eq(gw_sse_next_final("data: a\r", 8, &ev), -2);
    cr_assert_eq(gw_sse_next_final("data: a", 7, &ev), -2);
}

Test(sse, done_marker_must_be_exact)
{
    struct gw_sse_event ev;
    cr_assert_eq(gw_sse_next("data: [DONE]\n\n", 14, &ev), 14);
    cr_assert(gw_sse_is_done(&ev));
    cr_assert_eq(gw_sse_next("data:[DONE]\r\n\r\n", 15, &ev), 15);
    cr_assert(gw_sse_is_done(&ev));
    cr_assert_eq(gw_sse_next("data: [DONE] \n\n", 15, &ev), 15);
    cr_assert_not(gw_sse_is_done(&ev));
    cr_assert_eq(gw_sse_next("data: [DONE]\ndata\n\n", 19, &ev), 19);
    cr_assert_not(gw_sse_is_done(&ev));
    cr_assert_eq(gw_sse_next("event: [DONE]\n\n", 15, &ev), 15);
    cr_assert_not(gw_sse_is_done(&ev));
}

Test(sse, bom_is_skipped_only_when_whole)
{
    cr_assert_eq(gw_sse_skip_bom("\xEF\xBB\xBF: x\n\n", 8), 3);
    cr_assert_eq(gw_sse_skip_bom("\xEF\xBB", 2), 0);
    cr_assert_eq(gw_sse_skip_bom("\xEF\xBB\xBE", 3), 0);
    cr_assert_eq(gw_sse_skip_bom("data", 4), 0);
    cr_assert_eq(gw_sse_skip_bom("", 0), 0);
}

Test(sse, write_data_frames_and_round_trips)
{
    char out[32];
    const char payload[] = "{\"a\":1}";
    size_t n = gw_sse_write_data(out, sizeof(out), payload, LIT_LEN(payload));
    assert_str(out, n, "data: {\"a\":1}\n\n");
    struct gw_sse_event ev;
    cr_assert_eq(gw_sse_next(out, n, &ev), (int)n);
    assert_str(ev.data.ptr, ev.data.len, payload);

    cr_assert_eq(gw_sse_write_data(out, n, payload, LIT_LEN(payload)), n, "exact fit");
    cr_assert_eq(gw_sse_write_data(out, n - 1, payload, LIT_LEN(payload)), 0);
    cr_assert_eq(gw_sse_write_data(out, 0, payload, LIT_LEN(payload)), 0);
    cr_assert_eq(gw_sse_write_data(out, 8, NULL, 0), 8);
    assert_str(out, 8, "data: \n\n");
    cr_assert_eq(gw_sse_write_data(out, 7, NULL, 0), 0);
    cr_assert_eq(gw_sse_write_data(out, sizeof(out), payload, (size_t)-1), 0, "no overflow");
}

Test(sse, every_split_of_the_openai_stream_gives_the_same_events)
{
    assert_split_invariant(openai_stream, LIT_LEN(openai_stream));
}

Test(sse, every_split_of_the_anthropic_stream_gives_the_same_events)
{
    assert_split_invariant(anthropic_stream, LIT_LEN(anthropic_stream));
}

Test(sse, every_split_of_a_mixed_line_end_stream_gives_the_same_events)
{
    const char s[] = "\r\n: keep-alive\r\n\r\n"
                     "event: a\rdata: 1\rdata: 2\r\r"
                     "id: 9\r\ndata:x\r\n\r\n"
                     "\n\ndata\n\n"
                     ":c\r\r\n"
                     "data: tail\r\n\r";
    assert_split_invariant(s, LIT_LEN(s));
    struct ev_list l = {.n = 0};
    size_t used = parse_all(s, LIT_LEN(s), &l);
    cr_assert_eq(l.n, 5);
    cr_assert_eq(used, LIT_LEN(s) - LIT_LEN("data: tail\r\n\r"));
    assert_str(l.ev[1].data, l.ev[1].data_len, "1\n2");
    assert_str(l.ev[4].raw, l.ev[4].raw_len, ":c\r\r\n");
    list_free(&l);
}

Test(sse, long_cr_only_stream_parses_in_linear_time)
{
    /*
     * Many short CR-terminated events in one big buffer: a parser that looked
     * for an LF to the end of the buffer on every call would take ~N^2/2.
     */
    const size_t count = 200000;
    const char unit[] = "data: x\r\r";
    size_t len = count * LIT_LEN(unit);
    char *s = malloc(len);
    cr_assert_not_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * LIT_LEN(unit), unit, LIT_LEN(unit));
    size_t off = 0, events = 0;
    struct gw_sse_event ev;
    int r;
    while ((r = gw_sse_next_final(s + off, len - off, &ev)) > 0) {
        off += (size_t)r;
        events++;
    }
    cr_assert_eq(events, count);
    cr_assert_eq(off, len);
    free(s);
}

/* ---- the incremental reader (struct gw_sse_reader) ---- */

/* What the reader dispatched: each event's type and data, copied. */
struct rd_log {
    struct rd_ev {
        char *type, *data; /* owns */
        size_t type_len, data_len;
    } ev[MAX_EVENTS];
    size_t n;
    size_t stop_at; /* 1-based: the event whose callback returns stop_ret; 0: never */
    int stop_ret;
};

static int rd_collect(void *arg, struct gw_span event, struct gw_span data)
{
    struct rd_log *l = arg;
    cr_assert_lt(l->n, MAX_EVENTS);
    cr_assert_gt(data.len, 0, "an event with empty data is never dispatched");
    struct rd_ev *e = &l->ev[l->n++];
    e->type = dup_bytes(event.ptr, event.len);
    e->type_len = event.len;
    e->data = dup_bytes(data.ptr, data.len);
    e->data_len = data.len;
    return l->n == l->stop_at ? l->stop_ret : 0;
}

static int rd_count(void *arg, struct gw_span event, struct gw_span data)
{
    cr_assert_eq(event.len, 0);
    assert_str(data.ptr, data.len, "01");
    (*(unsigned *)arg)++;
    return 0;
}

static void rd_free(struct rd_log *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->ev[i].type);
        free(l->ev[i].data);
    }
    l->n = 0;
}

/*
 * Feeds s[0..len) to a fresh reader capped at max, cut before each offset in
 * cuts[0..ncuts) (ascending), stopping at the first non-zero result, which it
 * returns (0 when every piece was taken).
 */
static int rd_feed(const char *s, size_t len, const size_t *cuts, size_t ncuts, size_t max,
                   struct rd_log *l)
{
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    struct gw_sse_reader r;
    gw_sse_reader_init(&r, &a, max);
    size_t off = 0;
    int ret = 0;
    for (size_t i = 0; i <= ncuts && ret == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        ret = gw_sse_reader_feed(&r, s + off, end - off, rd_collect, l);
        off = end;
    }
    gw_arena_destroy(&a);
    return ret;
}

static int rd_whole(const char *s, size_t len, size_t max, struct rd_log *l)
{
    return rd_feed(s, len, NULL, 0, max, l);
}

static void rd_assert(const struct rd_log *l, size_t i, const char *type, const char *data)
{
    cr_assert_lt(i, l->n, "event %zu of %zu", i, l->n);
    assert_str(l->ev[i].type, l->ev[i].type_len, type);
    assert_str(l->ev[i].data, l->ev[i].data_len, data);
}

/* One expected event. */
struct rd_want {
    const char *type, *data;
};

/*
 * Feeds s[0..len) whole to a reader capped at max: it must take all of it and
 * dispatch exactly want[0..n).
 */
static void rd_expect(const char *s, size_t len, size_t max, const struct rd_want *want, size_t n)
{
    struct rd_log l = {.n = 0};
    cr_assert_eq(rd_whole(s, len, max, &l), 0);
    cr_assert_eq(l.n, n, "%zu events, want %zu", l.n, n);
    for (size_t i = 0; i < n; i++)
        rd_assert(&l, i, want[i].type, want[i].data);
    rd_free(&l);
}

/* rd_expect with the events listed: RD_EXPECT(s, len, max, {type, data}, ...). */
#define RD_EXPECT(s, len, max, ...)                                                                \
    do {                                                                                           \
        static const struct rd_want want_[] = {__VA_ARGS__};                                       \
        rd_expect(s, len, max, want_, GW_ARRAY_SIZE(want_));                                       \
    } while (0)

static void rd_assert_same(const struct rd_log *a, const struct rd_log *b, const char *how)
{
    cr_assert_eq(a->n, b->n, "%s: %zu events vs %zu", how, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct rd_ev *x = &a->ev[i], *y = &b->ev[i];
        cr_assert(x->type_len == y->type_len && memcmp(x->type, y->type, x->type_len) == 0,
                  "%s: event %zu type", how, i);
        cr_assert(x->data_len == y->data_len && memcmp(x->data, y->data, x->data_len) == 0,
                  "%s: event %zu data", how, i);
    }
}

/* Whole, cut at every offset, and a byte at a time: the same events and the same result. */
static void rd_assert_split_invariant(const char *s, size_t len, size_t max)
{
    struct rd_log whole = {.n = 0};
    int rw = rd_whole(s, len, max, &whole);
    for (size_t cut = 0; cut <= len; cut++) {
        struct rd_log parts = {.n = 0};
        char how[32];
        snprintf(how, sizeof(how), "cut %zu", cut);
        cr_assert_eq(rd_feed(s, len, &cut, 1, max, &parts), rw, "%s", how);
        rd_assert_same(&whole, &parts, how);
        rd_free(&parts);
    }
    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
    cr_assert_not_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    struct rd_log bytes = {.n = 0};
    cr_assert_eq(rd_feed(s, len, cuts, len ? len - 1 : 0, max, &bytes), rw);
    rd_assert_same(&whole, &bytes, "byte at a time");
    rd_free(&bytes);
    free(cuts);
    rd_free(&whole);
}

Test(sse_reader, lf_crlf_and_cr_line_ends_read_alike)
{
    static const char *const variants[] = {
        "event: a\ndata: one\ndata: two\nid: 7\n\n",
        "event: a\r\ndata: one\r\ndata: two\r\nid: 7\r\n\r\n",
        "event: a\rdata: one\rdata: two\rid: 7\r\r",
        "event: a\r\ndata: one\rdata: two\nid: 7\r\n\r",
    };
    /* A CR ends its line at once: no need to wait for a possible LF. */
    for (size_t i = 0; i < GW_ARRAY_SIZE(variants); i++)
        RD_EXPECT(variants[i], strlen(variants[i]), 1024, {"a", "one\ntwo"});
}

Test(sse_reader, crlf_split_between_feeds_is_one_line_end)
{
    /* Were the LF of the first CRLF read as a blank line, "a" and "b" would be two events. */
    const char s[] = "data: a\r\ndata: b\r\n\r\n";
    const size_t cut[] = {8};
    struct rd_log l = {.n = 0};
    cr_assert_eq(rd_feed(s, LIT_LEN(s), cut, 1, 1024, &l), 0);
    cr_assert_eq(l.n, 1);
    rd_assert(&l, 0, "", "a\nb");
    rd_free(&l);

    /* The same with the blank line's CRLF split, and an empty feed between. */
    const size_t cuts[] = {18, 18, 19};
    cr_assert_eq(rd_feed(s, LIT_LEN(s), cuts, 3, 1024, &l), 0);
    cr_assert_eq(l.n, 1);
    rd_assert(&l, 0, "", "a\nb");
    rd_free(&l);

    /* A CR then CR is two line ends, even across feeds. */
    const char t[] = "data: x\r\rdata: y\r\r";
    const size_t cut2[] = {8};
    cr_assert_eq(rd_feed(t, LIT_LEN(t), cut2, 1, 1024, &l), 0);
    cr_assert_eq(l.n, 2);
    rd_assert(&l, 0, "", "x");
    rd_assert(&l, 1, "", "y");
    rd_free(&l);
}

Test(sse_reader, multi_line_data_is_joined_with_newlines)
{
    RD_EXPECT(multi_line, LIT_LEN(multi_line), 1024, {"", "{\n \"a\": 1,\n\n\n}"});
}

Test(sse_reader, comments_id_retry_and_unknown_fields_are_skipped)
{
    const char s[] =
        ": OPENROUTER PROCESSING\n\n"
        "id: 5\nretry: 100\n\n"
        "id: 6\n: mid-event comment\ndata: d\nretry: 7\nfoo: bar\nDATA: x\ndata: e\n\n";
    RD_EXPECT(s, LIT_LEN(s), 1024, {"", "d\ne"});
}

Test(sse_reader, event_type_is_passed_and_reset_after_each_event)
{
    const char s[] = "event: a\ndata: 1\n\n"
                     "data: 2\n\n"
                     "event: first\nevent: b\ndata: 3\n\n"
                     "event: lost\n\n" /* no data: not dispatched, and its type goes with it */
                     "data: 4\n\n"
                     "event:\ndata: 5\n\n"
                     "event:c:d\ndata: 6\n\n";
    RD_EXPECT(s, LIT_LEN(s), 1024, {"a", "1"}, {"", "2"}, {"b", "3"}, {"", "4"}, {"", "5"},
              {"c:d", "6"});
}

Test(sse_reader, an_event_name_longer_than_31_bytes_matches_no_name)
{
    static const char n31[] = "content_block_delta_0123456789a"; /* 31 bytes: kept */
    static const char n32[] = "content_block_delta_0123456789ab";
    cr_assert_eq(LIT_LEN(n31), 31);
    char s[256];
    int len =
        snprintf(s, sizeof(s), "event: %s\ndata: 1\n\nevent: %s\ndata: 2\n\ndata: 3\n\n", n31, n32);
    struct rd_log l = {.n = 0};
    cr_assert_eq(rd_whole(s, (size_t)len, 1024, &l), 0);
    cr_assert_eq(l.n, 3);
    rd_assert(&l, 0, n31, "1");
    const struct rd_ev *e = &l.ev[1];
    cr_assert_gt(e->type_len, 0, "not the same as no event: line");
    cr_assert(e->type_len > LIT_LEN(n32) || memcmp(e->type, n32, e->type_len) != 0,
              "not a prefix of the long name: \"%.*s\"", (int)e->type_len, e->type);
    for (size_t i = 0; i < e->type_len; i++)
        cr_assert(e->type[i] == '\n' || e->type[i] == '\r', "no field value can name it");
    assert_str(e->data, e->data_len, "2");
    rd_assert(&l, 2, "", "3");
    rd_free(&l);
}

Test(sse_reader, an_event_with_empty_data_is_not_dispatched)
{
    const char s[] = "data\n\n"
                     "data:\n\n"
                     "data: \n\n"
                     "event: x\n\n"
                     ":\n\n"
                     "\n\n\n";
    rd_expect(s, LIT_LEN(s), 1024, NULL, 0);
    /* Two empty data lines join to "\n": not empty, so dispatched (WHATWG). */
    RD_EXPECT("data:\ndata:\n\n", 13, 1024, {"", "\n"});
    /* An unterminated last event is never dispatched. */
    rd_expect("data: a\n", 8, 1024, NULL, 0);
}

Test(sse_reader, a_callback_result_stops_the_feed_and_is_returned)
{
    const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    struct rd_log l = {.n = 0, .stop_at = 2, .stop_ret = 7};
    cr_assert_eq(rd_whole(s, LIT_LEN(s), 1024, &l), 7);
    cr_assert_eq(l.n, 2, "the rest of the feed is not read");
    rd_assert(&l, 1, "", "2");
    rd_free(&l);

    l = (struct rd_log){.n = 0, .stop_at = 1, .stop_ret = -3};
    const size_t cut[] = {9};
    cr_assert_eq(rd_feed(s, LIT_LEN(s), cut, 1, 1024, &l), -3);
    cr_assert_eq(l.n, 1);
    rd_free(&l);
}

Test(sse_reader, an_event_past_max_is_oversize_and_exactly_max_is_taken)
{
    const char s[] = "data: 0123456789\n\n"; /* the line: 16 bytes */
    RD_EXPECT(s, LIT_LEN(s), 16, {"", "0123456789"});
    struct rd_log l = {.n = 0};
    cr_assert_eq(rd_whole(s, LIT_LEN(s), 15, &l), GW_SSE_OVERSIZE);
    cr_assert_eq(l.n, 0);
    rd_assert_split_invariant(s, LIT_LEN(s), 15);
    rd_assert_split_invariant(s, LIT_LEN(s), 16);

    /* The cap is on the event's data so far plus the line being read. */
    const char t[] = "data: 01234\ndata: 56789\n\n"; /* 5 bytes of data, then an 11-byte line */
    RD_EXPECT(t, LIT_LEN(t), 16, {"", "01234\n56789"});
    cr_assert_eq(rd_whole(t, LIT_LEN(t), 15, &l), GW_SSE_OVERSIZE);
    cr_assert_eq(l.n, 0);

    /* A long comment is a line like any other. */
    cr_assert_eq(rd_whole(": 0123456789abcdef\n\n", 20, 16, &l), GW_SSE_OVERSIZE);
    /* Many small events under the cap never add up. */
    char many[4000];
    for (size_t i = 0; i < sizeof(many); i += 10)
        memcpy(many + i, "data: 01\n\n", 10);
    struct gw_arena a;
    gw_arena_init(&a, 4096, 0);
    struct gw_sse_reader r;
    gw_sse_reader_init(&r, &a, 16);
    unsigned count = 0;
    cr_assert_eq(gw_sse_reader_feed(&r, many, sizeof(many), rd_count, &count), 0);
    cr_assert_eq(count, sizeof(many) / 10);
    gw_arena_destroy(&a);
}

Test(sse_reader, an_exhausted_arena_is_nomem)
{
    struct gw_arena a;
    gw_arena_init(&a, 1024, 1024);
    struct gw_sse_reader r;
    gw_sse_reader_init(&r, &a, 1 << 20);
    struct rd_log l = {.n = 0};
    cr_assert_eq(gw_sse_reader_feed(&r, "data: x\n", 8, rd_collect, &l), GW_SSE_NOMEM);
    cr_assert_eq(l.n, 0);
    gw_arena_destroy(&a);
}

/* Every event of s by gw_sse_next (+ gw_sse_next_final for the tail) that a browser dispatches. */
static void next_events(const char *s, size_t len, struct rd_log *l)
{
    size_t off = 0;
    struct gw_sse_event ev;
    int r;
    for (;;) {
        r = gw_sse_next(s + off, len - off, &ev);
        if (r == -2)
            r = gw_sse_next_final(s + off, len - off, &ev);
        if (r <= 0)
            break;
        off += (size_t)r;
        char buf[4096];
        long n = gw_sse_data_join(&ev, buf, sizeof(buf));
        cr_assert_geq(n, 0);
        if (n == 0)
            continue;
        cr_assert_lt(l->n, MAX_EVENTS);
        struct rd_ev *e = &l->ev[l->n++];
        e->type = dup_bytes(ev.event.ptr, ev.event.len);
        e->type_len = ev.event.len;
        e->data = dup_bytes(buf, (size_t)n);
        e->data_len = (size_t)n;
    }
}

/* Every field rule at once: comments, id/retry, types set and reset, multi-line data, line ends. */
static const char reader_sample[] = "\xEF\xBB\xBF: hi\r\n\r\n" /* BOM: the caller's; here a field */
                                    "retry: 10\nid: 1\nevent: ping\ndata: {}\n\n"
                                    "data: a\rdata: b\r\r"
                                    "event: only-type\r\n\r\n"
                                    "data\n\n"
                                    "event: x\r\nevent: y\r\ndata:  lead\r\n: c\r\ndata:\r\n\r\n"
                                    "data:[DONE]\n\n"
                                    "event: tail\ndata: t\r";

Test(sse_reader, agrees_with_gw_sse_next_and_data_join)
{
    static const struct {
        const char *s;
        size_t len;
    } samples[] = {
        {openai_stream, LIT_LEN(openai_stream)},
        {anthropic_stream, LIT_LEN(anthropic_stream)},
        {reader_sample, LIT_LEN(reader_sample)},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(samples); i++) {
        struct rd_log want = {.n = 0}, got = {.n = 0};
        next_events(samples[i].s, samples[i].len, &want);
        cr_assert_eq(rd_whole(samples[i].s, samples[i].len, 1 << 16, &got), 0);
        char how[32];
        snprintf(how, sizeof(how), "sample %zu", i);
        rd_assert_same(&want, &got, how);
        rd_free(&want);
        rd_free(&got);
    }
    /* The unterminated tail is not an event. */
    RD_EXPECT(reader_sample, LIT_LEN(reader_sample), 1 << 16, {"ping", "{}"}, {"", "a\nb"},
              {"y", " lead\n"}, {"", "[DONE]"});
}

Test(sse_reader, every_split_of_the_sample_streams_gives_the_same_events)
{
    rd_assert_split_invariant(openai_stream, LIT_LEN(openai_stream), 1 << 16);
    rd_assert_split_invariant(anthropic_stream, LIT_LEN(anthropic_stream), 1 << 16);
    rd_assert_split_invariant(reader_sample, LIT_LEN(reader_sample), 1 << 16);
    const char mixed[] = "\r\n: keep-alive\r\n\r\n"
                         "event: a\rdata: 1\rdata: 2\r\r"
                         "id: 9\r\ndata:x\r\n\r\n"
                         "\n\ndata\n\n"
                         ":c\r\r\n"
                         "data: tail\r\n\r";
    rd_assert_split_invariant(mixed, LIT_LEN(mixed), 1 << 16);
    RD_EXPECT(mixed, LIT_LEN(mixed), 1 << 16, {"a", "1\n2"}, {"", "x"}, {"", "tail"});
}
