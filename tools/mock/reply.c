/*
 * tools/mock/reply.c — the answer the mock's dialects share (reply.h): the
 * "mock" controls, the response head and HTTP/1.1 framing, SSE events,
 * non-streamed answers and their faults, the stream loop, and the pieces
 * every dialect renders alike. The dialects keep only their wire format
 * (struct gw_mock_wire).
 *
 * Bodies are rendered with our own JSON writer into the worker's scratch
 * buffer and appended to the connection's output; a stream is written one
 * event at a time by gw_mock_stream_step as the loop's timer and output
 * space allow.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/mock.h"
#include "tools/mock/reply.h"

#define SCRATCH_KEEP (4u * 1024 * 1024) /* scratch above this is given back after use */

/* The wire of each dialect, by enum gw_mock_dialect. */
static const struct gw_mock_wire *const wires[GW_MOCK_DIALECT_COUNT] = {
    [GW_MOCK_DIALECT_OPENAI] = &gw_mock_wire_openai,
    [GW_MOCK_DIALECT_ANTHROPIC] = &gw_mock_wire_anthropic,
    [GW_MOCK_DIALECT_GEMINI] = &gw_mock_wire_gemini,
    [GW_MOCK_DIALECT_COHERE] = &gw_mock_wire_cohere,
    [GW_MOCK_DIALECT_BEDROCK] = &gw_mock_wire_bedrock,
};

static const struct gw_mock_wire *wire_of(const struct gw_mock_conn *c)
{
    GW_BUG_ON((unsigned)c->plan.dialect >= GW_MOCK_DIALECT_COUNT);
    return wires[c->plan.dialect];
}

static const char *reason_phrase(int status)
{
    static const struct {
        int status;
        const char *reason;
    } phrases[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(phrases); i++)
        if (phrases[i].status == status)
            return phrases[i].reason;
    return "Mock Status";
}

/* ---- rendering ---- */

/*
 * Renders with fn into the worker's scratch buffer, doubling the buffer
 * until the writer no longer overflows.
 */
struct gw_span gw_mock_render(struct gw_mock_conn *c, gw_mock_render_fn *fn, const void *arg)
{
    struct gw_mock_worker *w = c->w;
    for (;;) {
        struct gw_jw jw;
        gw_jw_init(&jw, w->scratch, w->scratch_cap);
        fn(&jw, arg);
        if (!jw.overflow)
            return gw_span_make(w->scratch, jw.len);
        char *nb = w->scratch_cap <= SIZE_MAX / 2 ? malloc(w->scratch_cap * 2) : NULL;
        if (!nb) {
            c->flags |= GW_MOCK_CF_OOM;
            return GW_SPAN_NULL;
        }
        free(w->scratch);
        w->scratch = nb;
        w->scratch_cap *= 2;
    }
}

void gw_mock_scratch_trim(struct gw_mock_worker *w)
{
    if (w->scratch_cap > SCRATCH_KEEP) {
        char *nb = malloc(64 * 1024);
        if (nb) {
            free(w->scratch);
            w->scratch = nb;
            w->scratch_cap = 64 * 1024;
        }
    }
    if (w->scratch2_cap > SCRATCH_KEEP) {
        char *nb = malloc(16 * 1024);
        if (nb) {
            free(w->scratch2);
            w->scratch2 = nb;
            w->scratch2_cap = 16 * 1024;
        }
    }
}

/* Ensures the worker's second scratch holds n bytes; false (and CF_OOM) if not. */
static bool scratch2_reserve(struct gw_mock_conn *c, size_t n)
{
    struct gw_mock_worker *w = c->w;
    if (w->scratch2_cap >= n)
        return true;
    char *nb = malloc(n);
    if (!nb) {
        c->flags |= GW_MOCK_CF_OOM;
        return false;
    }
    free(w->scratch2);
    w->scratch2 = nb;
    w->scratch2_cap = n;
    return true;
}

/* The non-streamed content: "tok0 tok1 ... tok<N-1>" in the worker's scratch2. */
static struct gw_span build_content(struct gw_mock_conn *c, uint32_t chunks)
{
    if (!scratch2_reserve(c, (size_t)chunks * 12 + 1))
        return GW_SPAN_NULL;
    char *s = c->w->scratch2;
    size_t len = 0;
    for (uint32_t i = 0; i < chunks; i++) {
        int n = snprintf(s + len, c->w->scratch2_cap - len, "%stok%" PRIu32, i ? " " : "", i);
        len += (size_t)n;
    }
    return gw_span_make(s, len);
}

/* ---- the head and its framing ---- */

enum framing {
    FRAME_LENGTH = 0, /* Content-Length */
    FRAME_CHUNKED,    /* chunked, or close-delimited for an HTTP/1.0 peer */
    FRAME_BAD_CHUNKED /* claims chunked whatever the peer (malformed_chunk fault) */
};

/* Appends the response head. retry_after may be NULL or ""; header NULL or one header line. */
static void put_head(struct gw_mock_conn *c, int status, const char *ctype, enum framing fr,
                     size_t content_length, const char *retry_after, const char *header)
{
    const struct gw_mock_plan *p = &c->plan;
    gw_mock_out_printf(
        c, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nX-Request-Id: req_mock_%" PRIu64 "\r\n", status,
        reason_phrase(status), ctype, p->id);
    if (fr == FRAME_LENGTH)
        gw_mock_out_printf(c, "Content-Length: %zu\r\n", content_length);
    else if (fr == FRAME_BAD_CHUNKED || !p->http10)
        gw_mock_out_printf(c, "Transfer-Encoding: chunked\r\n");
    if (strcmp(ctype, "text/event-stream") == 0)
        gw_mock_out_printf(c, "Cache-Control: no-cache\r\n");
    if (retry_after && *retry_after)
        gw_mock_out_printf(c, "Retry-After: %s\r\n", retry_after);
    if (header)
        gw_mock_out_printf(c, "%s\r\n", header);
    if (!p->keepalive)
        gw_mock_out_printf(c, "Connection: close\r\n");
    else if (p->http10)
        gw_mock_out_printf(c, "Connection: keep-alive\r\n");
    gw_mock_out_append(c, "\r\n", 2);
}

void gw_mock_reply(struct gw_mock_conn *c, int status, const char *retry_after, const char *header,
                   gw_mock_render_fn *fn, const void *arg)
{
    struct gw_span body = gw_mock_render(c, fn, arg);
    if (!body.ptr)
        return;
    const char *ctype = wire_of(c)->json_ctype;
    put_head(c, status, ctype ? ctype : "application/json", FRAME_LENGTH, body.len, retry_after,
             header);
    gw_mock_out_append(c, body.ptr, body.len);
    c->plan.mode = GW_MOCK_MODE_DONE;
}

const struct gw_mock_status_text *gw_mock_status_find(const struct gw_mock_status_text *table,
                                                      size_t n, int status)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].status == status)
            return &table[i];
    return NULL;
}

void gw_mock_put_chunk(struct gw_mock_conn *c, const struct gw_span *piece, size_t n, bool bad_size)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += piece[i].len;
    if (bad_size)
        gw_mock_out_append(c, "zz\r\n", 4);
    else if (!c->plan.http10)
        gw_mock_out_printf(c, "%zx\r\n", len);
    for (size_t i = 0; i < n; i++)
        gw_mock_out_append(c, piece[i].ptr, piece[i].len);
    if (bad_size || !c->plan.http10)
        gw_mock_out_append(c, "\r\n", 2);
}

void gw_mock_put_sse(struct gw_mock_conn *c, const char *event, const char *json, size_t len,
                     bool bad_size)
{
    struct gw_span piece[5];
    size_t n = 0;
    if (event) {
        piece[n++] = GW_SPAN_LIT("event: ");
        piece[n++] = gw_span_cstr(event);
        piece[n++] = GW_SPAN_LIT("\ndata: ");
    } else {
        piece[n++] = GW_SPAN_LIT("data: ");
    }
    piece[n++] = gw_span_make(json, len);
    piece[n++] = wire_of(c)->sse_crlf ? GW_SPAN_LIT("\r\n\r\n") : GW_SPAN_LIT("\n\n");
    gw_mock_put_chunk(c, piece, n, bad_size);
}

void gw_mock_put_event(struct gw_mock_conn *c, int kind, uint32_t index, bool bad_size)
{
    const struct gw_mock_wire *wire = wire_of(c);
    struct gw_mock_event ev = {&c->plan, kind, index};
    struct gw_span json = gw_mock_render(c, wire->event_render, &ev);
    if (json.ptr)
        gw_mock_put_sse(c, wire->event_names ? wire->event_names[kind] : NULL, json.ptr, json.len,
                        bad_size);
}

/* ---- the "mock" control object ---- */

/* An optional integer member within [0, max]; true when absent (out untouched). */
static bool member_u64(const struct gw_json_member *m, uint64_t max, uint64_t *out)
{
    if (!m->found)
        return true;
    return m->value.type == GW_JT_NUMBER && gw_json_to_u64(m->value.span, out) && *out <= max;
}

const char *gw_mock_parse_ctl(const char *doc, const struct gw_json_member *mock,
                              struct gw_mock_ctl *ctl)
{
    static const char *const keys[] = {
        "chunks", "delay_ms", "first_delay_ms", "status", "retry_after", "fault", "tool"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    memset(ctl, 0, sizeof(*ctl));
    ctl->chunks = 5;
    ctl->status = 200;
    if (!mock->found || mock->value.type == GW_JT_NULL)
        return NULL;
    if (mock->value.type != GW_JT_OBJ_BEGIN)
        return "mock must be an object";
    const char *sub = doc + mock->value.start;
    if (gw_json_scan_object(sub, mock->value_end - mock->value.start, keys, GW_ARRAY_SIZE(keys),
                            m) < 0)
        return "mock must be an object";
    if (!member_u64(&m[0], GW_MOCK_MAX_CHUNKS, &ctl->chunks))
        return "mock.chunks must be an integer from 0 to 1000000";
    if (!member_u64(&m[1], GW_MOCK_MAX_DELAY_MS, &ctl->delay_ms))
        return "mock.delay_ms must be an integer from 0 to 3600000";
    if (!member_u64(&m[2], GW_MOCK_MAX_DELAY_MS, &ctl->first_delay_ms))
        return "mock.first_delay_ms must be an integer from 0 to 3600000";
    uint64_t st = 200;
    if (!member_u64(&m[3], 599, &st) || st < 200)
        return "mock.status must be an HTTP status from 200 to 599";
    ctl->status = (int)st;
    if (m[4].found) {
        const struct gw_json_tok *v = &m[4].value;
        long n = -1;
        if (v->type == GW_JT_STRING)
            n = gw_json_unescape(v->span, ctl->retry_after, sizeof(ctl->retry_after) - 1);
        if (v->type == GW_JT_NUMBER && v->span.len < sizeof(ctl->retry_after)) {
            memcpy(ctl->retry_after, v->span.ptr, v->span.len);
            n = (long)v->span.len;
        }
        if (n < 0)
            return "mock.retry_after must be a short string or a number";
        ctl->retry_after[n] = '\0';
        for (long i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)ctl->retry_after[i];
            if (ch < 0x20 || ch == 0x7f)
                return "mock.retry_after must not contain control characters";
        }
    }
    if (m[5].found) {
        static const struct {
            const char *name;
            enum gw_mock_fault fault;
        } faults[] = {
            {"close_mid_stream", GW_MOCK_FAULT_CLOSE_MID_STREAM},
            {"stall", GW_MOCK_FAULT_STALL},
            {"close_before_response", GW_MOCK_FAULT_CLOSE_BEFORE_RESPONSE},
            {"malformed_chunk", GW_MOCK_FAULT_MALFORMED_CHUNK},
        };
        if (m[5].value.type != GW_JT_STRING)
            return "mock.fault must be a string";
        for (size_t i = 0; i < GW_ARRAY_SIZE(faults) && !ctl->fault; i++)
            if (gw_json_str_eq(m[5].value.span, faults[i].name))
                ctl->fault = faults[i].fault;
        if (!ctl->fault)
            return "mock.fault must be close_mid_stream, stall, close_before_response or "
                   "malformed_chunk";
    }
    if (m[6].found) {
        if (m[6].value.type != GW_JT_TRUE && m[6].value.type != GW_JT_FALSE)
            return "mock.tool must be a boolean";
        ctl->tool = m[6].value.type == GW_JT_TRUE;
    }
    return NULL;
}

const char *gw_mock_take_model(struct gw_mock_conn *c, const char *doc,
                               const struct gw_json_member *m)
{
    if (!m->found || m->value.type != GW_JT_STRING)
        return "you must provide a model parameter";
    size_t n = m->value.end - m->value.start;
    if (n > sizeof(c->plan.model))
        return "model is too long for the mock";
    memcpy(c->plan.model, doc + m->value.start, n);
    c->plan.model_len = n;
    return NULL;
}

const struct gw_http1_header *gw_mock_header(const struct gw_http1_req *req, const char *name)
{
    return gw_http1_find(req->headers, req->num_headers, name);
}

struct gw_span gw_mock_bearer(const struct gw_http1_req *req)
{
    const struct gw_http1_header *h = gw_mock_header(req, "authorization");
    if (!h || h->value.len < 7 || strncasecmp(h->value.ptr, "bearer ", 7) != 0)
        return GW_SPAN_NULL;
    struct gw_span key = gw_span_make(h->value.ptr + 7, h->value.len - 7);
    while (key.len && key.ptr[0] == ' ') {
        key.ptr++;
        key.len--;
    }
    return key;
}

/*
 * Parses the request's controls (mock NULL: the top-level "mock" member of
 * body, which the dialect has found to be an object). False after the
 * wire's 400.
 */
static bool take_ctl(struct gw_mock_conn *c, struct gw_span body, const struct gw_json_member *mock,
                     struct gw_mock_ctl *ctl)
{
    struct gw_json_member found;
    if (!mock) {
        static const char *const mk[] = {"mock"};
        if (gw_json_scan_object(body.ptr, body.len, mk, 1, &found) < 0)
            found.found = false;
        mock = &found;
    }
    const char *why = gw_mock_parse_ctl(body.ptr, mock, ctl);
    if (why) {
        wire_of(c)->bad_ctl(c, why);
        return false;
    }
    return true;
}

/*
 * What every answer does first: the response delay, the prompt tokens, and
 * the controls that replace the answer. True when the answer is settled
 * (close_before_response, or the forced status written).
 */
static bool settled(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl, struct gw_span body)
{
    struct gw_mock_plan *p = &c->plan;
    p->first_delay_ms = ctl->first_delay_ms;
    p->prompt_tokens = body.len / 4;
    if (ctl->fault == GW_MOCK_FAULT_CLOSE_BEFORE_RESPONSE) {
        p->mode = GW_MOCK_MODE_CLOSE;
        return true;
    }
    if (ctl->status != 200) {
        wire_of(c)->reply_status(c, ctl);
        return true;
    }
    return false;
}

/*
 * Finishes a non-streamed JSON answer per the controls: the whole body, or a
 * fault's share of it.
 */
static void finish_json(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl, struct gw_span body)
{
    struct gw_mock_plan *p = &c->plan;
    const char *ctype = "application/json";
    switch (ctl->fault) {
    case GW_MOCK_FAULT_STALL:
        put_head(c, 200, ctype, FRAME_LENGTH, body.len, ctl->retry_after, NULL);
        p->mode = GW_MOCK_MODE_STALL;
        break;
    case GW_MOCK_FAULT_CLOSE_MID_STREAM:
        put_head(c, 200, ctype, FRAME_LENGTH, body.len, ctl->retry_after, NULL);
        gw_mock_out_append(c, body.ptr, body.len / 2);
        p->mode = GW_MOCK_MODE_CLOSE;
        break;
    case GW_MOCK_FAULT_MALFORMED_CHUNK:
        put_head(c, 200, ctype, FRAME_BAD_CHUNKED, 0, ctl->retry_after, NULL);
        gw_mock_put_chunk(c, &body, 1, true);
        p->mode = GW_MOCK_MODE_CLOSE;
        break;
    default:
        put_head(c, 200, ctype, FRAME_LENGTH, body.len, ctl->retry_after, NULL);
        gw_mock_out_append(c, body.ptr, body.len);
        p->mode = GW_MOCK_MODE_DONE;
        break;
    }
}

void gw_mock_answer_json(struct gw_mock_conn *c, struct gw_span body,
                         const struct gw_json_member *mock, gw_mock_render_fn *fn, const void *arg)
{
    struct gw_mock_ctl ctl;
    if (!take_ctl(c, body, mock, &ctl) || settled(c, &ctl, body))
        return;
    struct gw_span out = gw_mock_render(c, fn, arg);
    if (out.ptr)
        finish_json(c, &ctl, out);
}

void gw_mock_answer(struct gw_mock_conn *c, struct gw_span body, const struct gw_json_member *mock,
                    bool stream)
{
    const struct gw_mock_wire *wire = wire_of(c);
    struct gw_mock_plan *p = &c->plan;
    struct gw_mock_ctl ctl;
    if (!take_ctl(c, body, mock, &ctl))
        return;
    p->delay_ms = ctl.delay_ms;
    p->tool = wire->tool_events > 0 && ctl.tool;
    p->output_tokens = (uint32_t)ctl.chunks;
    p->chunks = p->tool ? wire->tool_events : (uint32_t)ctl.chunks;
    p->fault = ctl.fault;
    if (settled(c, &ctl, body))
        return;
    if (!stream) {
        struct gw_mock_body a = {p, GW_SPAN_NULL};
        if (!p->tool) {
            a.text = build_content(c, p->chunks);
            if (!a.text.ptr)
                return;
        }
        struct gw_span out = gw_mock_render(c, wire->render, &a);
        if (out.ptr)
            finish_json(c, &ctl, out);
        return;
    }
    /* An HTTP/1.0 peer gets the stream delimited by the close. */
    if (p->http10)
        p->keepalive = false;
    p->stream_live = true;
    gw_mock_ctr_inc(&c->w->ctr.streams_started);
    const char *ctype = wire->stream_ctype ? wire->stream_ctype : "text/event-stream";
    put_head(c, 200, ctype, FRAME_CHUNKED, 0, ctl.retry_after, NULL);
    if (wire->stream_head)
        wire->stream_head(c);
    p->mode = ctl.fault == GW_MOCK_FAULT_STALL ? GW_MOCK_MODE_STALL : GW_MOCK_MODE_STREAM;
}

/* ---- the stream loop ---- */

/* The terminating chunk (nothing for HTTP/1.0: the close ends the stream). */
static void stream_end(struct gw_mock_conn *c)
{
    if (!c->plan.http10)
        gw_mock_out_append(c, "0\r\n\r\n", 5);
}

/*
 * Stream pacing, the same for every dialect: the head and the wire's head
 * events go out when the response is released (after first_delay_ms); paced
 * event i is due delay_ms after the one before it (the first, delay_ms after
 * the head); the closing events and the terminating chunk follow the last
 * paced event at once. close_mid_stream ends it after chunks/2 paced events
 * with no closing events; malformed_chunk sends the event then due broken,
 * then ends it; a wire's cut replaces the event due and ends it properly.
 */
enum gw_mock_step gw_mock_stream_step(struct gw_mock_conn *c, uint64_t now_ms)
{
    const struct gw_mock_wire *wire = wire_of(c);
    struct gw_mock_plan *p = &c->plan;
    if (p->fault == GW_MOCK_FAULT_CLOSE_MID_STREAM && p->next_chunk >= p->chunks / 2)
        return GW_MOCK_STEP_FAULT;
    if (p->next_chunk < p->chunks && now_ms < p->next_ms)
        return GW_MOCK_STEP_WAIT;
    if (wire->stream_cut && wire->stream_cut(c)) {
        stream_end(c);
        return GW_MOCK_STEP_DONE;
    }
    if (p->fault == GW_MOCK_FAULT_MALFORMED_CHUNK) {
        wire->stream_event(c, p->next_chunk, true);
        return GW_MOCK_STEP_FAULT;
    }
    if (p->next_chunk < p->chunks) {
        wire->stream_event(c, p->next_chunk, false);
        p->next_chunk++;
        p->next_ms += p->delay_ms;
        return GW_MOCK_STEP_MORE;
    }
    wire->stream_event(c, p->chunks, false);
    if (wire->stream_tail)
        wire->stream_tail(c);
    stream_end(c);
    return GW_MOCK_STEP_DONE;
}

/* ---- pieces the dialects render alike ---- */

struct gw_span gw_mock_token(char *buf, uint32_t i)
{
    int n = snprintf(buf, GW_MOCK_TOKEN_CAP, "tok%" PRIu32 " ", i);
    return gw_span_make(buf, (size_t)n);
}

const char *gw_mock_tool_piece(uint32_t i)
{
    /* Joined they read GW_MOCK_TOOL_INPUT. */
    static const char *const pieces[GW_MOCK_TOOL_PIECES] = {"{\"city\"", ":\"Paris\",\"un",
                                                            "it\":\"c\"}"};
    return pieces[i % GW_MOCK_TOOL_PIECES];
}

void gw_mock_tool_default(struct gw_mock_plan *p)
{
    memcpy(p->tool_name, GW_MOCK_TOOL_NAME, sizeof(GW_MOCK_TOOL_NAME) - 1);
    p->tool_name_len = sizeof(GW_MOCK_TOOL_NAME) - 1;
}

uint64_t gw_mock_fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Square root by Newton's method, so the tool needs no libm; x > 0. */
static double root(double x)
{
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 64; i++) {
        double next = 0.5 * (r + x / r);
        if (next >= r)
            break;
        r = next;
    }
    return r;
}

double gw_mock_vec_at(uint64_t h, double scale, unsigned i)
{
    uint64_t x = splitmix64(h + (uint64_t)i);
    return ((double)(x >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) * scale;
}

double gw_mock_vec_scale(uint64_t h, unsigned dims)
{
    double norm = 0;
    for (unsigned i = 0; i < dims; i++) {
        double v = gw_mock_vec_at(h, 1.0, i);
        norm += v * v;
    }
    return norm > 0 ? 1.0 / root(norm) : 0;
}

void gw_mock_jw_vector(struct gw_jw *jw, uint64_t h, unsigned dims)
{
    double scale = gw_mock_vec_scale(h, dims);
    gw_jw_arr_begin(jw);
    for (unsigned i = 0; i < dims; i++)
        gw_jw_double(jw, gw_mock_vec_at(h, scale, i));
    gw_jw_arr_end(jw);
}
