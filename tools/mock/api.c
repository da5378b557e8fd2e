/*
 * tools/mock/api.c — the mock's endpoints, in OpenAI's wire format
 * (https://platform.openai.com/docs/api-reference): chat completions
 * (plain and SSE-streamed), embeddings, models, and the /mock/stats and
 * /mock/last introspection endpoints, plus every error object. Other
 * dialects' endpoints live in their own files (anthropic.c: POST
 * /v1/messages) and share the helpers at the end of this file.
 *
 * A chat request's top-level "mock" object steers the answer (see
 * tools/mock/README.md): content chunk count, pacing, a forced status, and
 * faults. Responses are rendered with our own JSON writer into the worker's
 * scratch buffer and appended to the connection's output; a stream is
 * rendered one event at a time by gw_mock_stream_step as the loop's timer
 * and output space allow.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/mock.h"

#define MODELS_CREATED 1700000000
#define EMBED_DIMS 8
#define EVENT_CAP (1024 + GW_MOCK_MODEL_CAP) /* one rendered stream event */
#define SCRATCH_KEEP (4u * 1024 * 1024)      /* scratch above this is given back after use */

/* ---- small helpers ---- */

static bool span_is(struct gw_span s, const char *lit)
{
    return gw_span_eq(s, gw_span_cstr(lit));
}

static bool span_has_prefix(struct gw_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.ptr, lit, n) == 0;
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

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- rendering ---- */

typedef void render_fn(struct gw_jw *jw, const void *arg);

/*
 * Renders a JSON body with fn into the worker's scratch buffer, doubling the
 * buffer until the writer no longer overflows (fn must be repeatable).
 * Returns the body (valid until the next render on this worker), or a NULL
 * span with CF_OOM set on c.
 */
static struct gw_span render(struct gw_mock_conn *c, render_fn *fn, const void *arg)
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

/* Gives back scratch memory a huge body needed, once that body has been copied out. */
static void scratch_trim(struct gw_mock_worker *w)
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

enum framing {
    FRAME_LENGTH = 0, /* Content-Length */
    FRAME_CHUNKED,    /* chunked, or close-delimited for an HTTP/1.0 peer */
    FRAME_BAD_CHUNKED /* claims chunked whatever the peer (malformed_chunk fault) */
};

/* Appends the response head. retry_after may be NULL or "". */
static void put_head(struct gw_mock_conn *c, int status, const char *ctype, enum framing fr,
                     size_t content_length, const char *retry_after)
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
    if (!p->keepalive)
        gw_mock_out_printf(c, "Connection: close\r\n");
    else if (p->http10)
        gw_mock_out_printf(c, "Connection: keep-alive\r\n");
    gw_mock_out_append(c, "\r\n", 2);
}

/* Appends one HTTP chunk (raw bytes for an HTTP/1.0 peer). */
static void put_chunk(struct gw_mock_conn *c, const char *data, size_t len)
{
    if (c->plan.http10) {
        gw_mock_out_append(c, data, len);
        return;
    }
    gw_mock_out_printf(c, "%zx\r\n", len);
    gw_mock_out_append(c, data, len);
    gw_mock_out_append(c, "\r\n", 2);
}

/*
 * Appends "data: <json>\n\n" as one HTTP chunk. With bad_size the chunk's
 * size line is not hex (the malformed_chunk fault).
 */
static void put_event(struct gw_mock_conn *c, const char *json, size_t len, bool bad_size)
{
    size_t n = 6 + len + 2;
    if (bad_size)
        gw_mock_out_append(c, "zz\r\n", 4);
    else if (!c->plan.http10)
        gw_mock_out_printf(c, "%zx\r\n", n);
    gw_mock_out_append(c, "data: ", 6);
    gw_mock_out_append(c, json, len);
    gw_mock_out_append(c, "\n\n", 2);
    if (bad_size || !c->plan.http10)
        gw_mock_out_append(c, "\r\n", 2);
}

/* ---- errors ---- */

struct error_args {
    const char *message;
    const char *type;
    const char *param; /* NULL: JSON null */
    const char *code;  /* NULL: JSON null */
};

static void render_error(struct gw_jw *jw, const void *arg)
{
    const struct error_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "error");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "message");
    gw_jw_cstr(jw, a->message);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, a->type);
    gw_jw_key(jw, "param");
    if (a->param)
        gw_jw_cstr(jw, a->param);
    else
        gw_jw_null(jw);
    gw_jw_key(jw, "code");
    if (a->code)
        gw_jw_cstr(jw, a->code);
    else
        gw_jw_null(jw);
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

/* Appends a complete OpenAI error response. */
static void reply_error(struct gw_mock_conn *c, int status, const char *type, const char *message,
                        const char *param, const char *code, const char *retry_after)
{
    struct error_args a = {message, type, param, code};
    struct gw_span body = render(c, render_error, &a);
    if (!body.ptr)
        return;
    put_head(c, status, "application/json", FRAME_LENGTH, body.len, retry_after);
    gw_mock_out_append(c, body.ptr, body.len);
    c->plan.mode = GW_MOCK_MODE_DONE;
}

static void reply_bad_request(struct gw_mock_conn *c, const char *message, const char *param,
                              const char *code)
{
    reply_error(c, 400, "invalid_request_error", message, param, code, NULL);
}

static void reply_bad_json(struct gw_mock_conn *c)
{
    reply_bad_request(c,
                      "We could not parse the JSON body of your request. (HINT: This likely "
                      "means you aren't using your HTTP library correctly. The OpenAI API "
                      "expects a JSON payload, but what was sent was not valid JSON.)",
                      NULL, NULL);
}

void gw_mock_reply_proto_error(struct gw_mock_conn *c, int status, const char *message)
{
    struct gw_mock_plan *p = &c->plan;
    memset(p, 0, sizeof(*p));
    p->id = c->w->req_seq++ * gw_mock.nworkers + c->w->id + 1;
    p->keepalive = false;
    reply_error(c, status, "invalid_request_error", message, NULL, NULL, NULL);
}

/*
 * The error object for a forced mock.status, shaped as OpenAI shapes that
 * status: 401 invalid_api_key, 404 model_not_found, 429 rate_limit_exceeded,
 * 5xx server_error, other 4xx invalid_request_error.
 */
static void reply_status(struct gw_mock_conn *c, int status, const char *retry_after)
{
    const char *type = "invalid_request_error", *code = NULL;
    char msg[GW_MOCK_MODEL_CAP + 128];
    snprintf(msg, sizeof(msg), "Mock error: status %d was requested", status);
    switch (status) {
    case 401:
        code = "invalid_api_key";
        snprintf(msg, sizeof(msg), "Incorrect API key provided");
        break;
    case 403:
        code = "permission_denied";
        snprintf(msg, sizeof(msg), "You are not allowed to access this resource");
        break;
    case 404:
        code = "model_not_found";
        /* plan.model holds the quoted token; show what is inside the quotes. */
        snprintf(msg, sizeof(msg),
                 "The model `%.*s` does not exist or you do not have access to it.",
                 (int)(c->plan.model_len ? c->plan.model_len - 2 : 0), c->plan.model + 1);
        break;
    case 429:
        type = "rate_limit_exceeded";
        code = "rate_limit_exceeded";
        snprintf(msg, sizeof(msg), "Rate limit reached for requests");
        break;
    case 500:
        type = "server_error";
        snprintf(msg, sizeof(msg),
                 "The server had an error while processing your request. Sorry about that!");
        break;
    case 503:
        type = "server_error";
        snprintf(msg, sizeof(msg), "The engine is currently overloaded, please try again later");
        break;
    default:
        if (status >= 500)
            type = "server_error";
        break;
    }
    reply_error(c, status, type, msg, NULL, code, retry_after);
}

/* ---- the "mock" control object ---- */

/* An optional integer member within [0, max]; true when absent (out untouched). */
static bool member_u64(const struct gw_json_member *m, uint64_t max, uint64_t *out)
{
    if (!m->found)
        return true;
    return m->value.type == GW_JT_NUMBER && gw_json_to_u64(m->value.span, out) && *out <= max;
}

/*
 * Parses the request's top-level "mock" member (may be absent). Returns NULL,
 * or the message of the 400 that a malformed control deserves.
 */
static const char *parse_mock(const char *doc, const struct gw_json_member *mock,
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

/* Copies the request's "model" token (quotes included). NULL, or the 400 message. */
static const char *take_model(struct gw_mock_conn *c, const char *doc,
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

/*
 * Finishes a non-streamed JSON answer per the mock controls: the whole body,
 * or a fault's share of it. The caller handled close_before_response and a
 * forced status.
 */
static void finish_json(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl, struct gw_span body)
{
    struct gw_mock_plan *p = &c->plan;
    switch (ctl->fault) {
    case GW_MOCK_FAULT_STALL:
        put_head(c, 200, "application/json", FRAME_LENGTH, body.len, ctl->retry_after);
        p->mode = GW_MOCK_MODE_STALL;
        break;
    case GW_MOCK_FAULT_CLOSE_MID_STREAM:
        put_head(c, 200, "application/json", FRAME_LENGTH, body.len, ctl->retry_after);
        gw_mock_out_append(c, body.ptr, body.len / 2);
        p->mode = GW_MOCK_MODE_CLOSE;
        break;
    case GW_MOCK_FAULT_MALFORMED_CHUNK:
        put_head(c, 200, "application/json", FRAME_BAD_CHUNKED, 0, ctl->retry_after);
        gw_mock_out_append(c, "zz\r\n", 4);
        gw_mock_out_append(c, body.ptr, body.len);
        gw_mock_out_append(c, "\r\n", 2);
        p->mode = GW_MOCK_MODE_CLOSE;
        break;
    default:
        put_head(c, 200, "application/json", FRAME_LENGTH, body.len, ctl->retry_after);
        gw_mock_out_append(c, body.ptr, body.len);
        p->mode = GW_MOCK_MODE_DONE;
        break;
    }
}

/* ---- chat completions ---- */

static void jw_chunk_id(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    char id[48];
    int n = snprintf(id, sizeof(id), "chatcmpl-mock-%" PRIu64, p->id);
    gw_jw_key(jw, "id");
    gw_jw_str(jw, id, (size_t)n);
}

static void jw_usage(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "prompt_tokens");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_key(jw, "completion_tokens");
    gw_jw_uint(jw, p->chunks);
    gw_jw_key(jw, "total_tokens");
    gw_jw_uint(jw, p->prompt_tokens + p->chunks);
    gw_jw_obj_end(jw);
}

struct chat_args {
    const struct gw_mock_plan *p;
    struct gw_span content;
};

static void render_chat(struct gw_jw *jw, const void *arg)
{
    const struct chat_args *a = arg;
    const struct gw_mock_plan *p = a->p;
    gw_jw_obj_begin(jw);
    jw_chunk_id(jw, p);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "chat.completion");
    gw_jw_key(jw, "created");
    gw_jw_int(jw, p->created);
    gw_jw_key(jw, "model");
    gw_jw_raw(jw, p->model, p->model_len);
    gw_jw_key(jw, "choices");
    gw_jw_arr_begin(jw);
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "index");
    gw_jw_int(jw, 0);
    gw_jw_key(jw, "message");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "role");
    gw_jw_cstr(jw, "assistant");
    gw_jw_key(jw, "content");
    gw_jw_str(jw, a->content.ptr, a->content.len);
    gw_jw_key(jw, "refusal");
    gw_jw_null(jw);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "logprobs");
    gw_jw_null(jw);
    gw_jw_key(jw, "finish_reason");
    gw_jw_cstr(jw, "stop");
    gw_jw_obj_end(jw);
    gw_jw_arr_end(jw);
    jw_usage(jw, p);
    gw_jw_obj_end(jw);
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

/* The kinds of stream event, in the order they are sent. */
enum ev_kind { EV_ROLE = 0, EV_CONTENT, EV_FINISH, EV_USAGE };

/* Renders one chat.completion.chunk; returns its length (the buffer is EVENT_CAP). */
static size_t render_event(const struct gw_mock_plan *p, enum ev_kind kind, uint32_t index,
                           char *buf)
{
    struct gw_jw jw;
    gw_jw_init(&jw, buf, EVENT_CAP);
    gw_jw_obj_begin(&jw);
    jw_chunk_id(&jw, p);
    gw_jw_key(&jw, "object");
    gw_jw_cstr(&jw, "chat.completion.chunk");
    gw_jw_key(&jw, "created");
    gw_jw_int(&jw, p->created);
    gw_jw_key(&jw, "model");
    gw_jw_raw(&jw, p->model, p->model_len);
    gw_jw_key(&jw, "choices");
    gw_jw_arr_begin(&jw);
    if (kind != EV_USAGE) {
        gw_jw_obj_begin(&jw);
        gw_jw_key(&jw, "index");
        gw_jw_int(&jw, 0);
        gw_jw_key(&jw, "delta");
        gw_jw_obj_begin(&jw);
        if (kind == EV_ROLE) {
            gw_jw_key(&jw, "role");
            gw_jw_cstr(&jw, "assistant");
            gw_jw_key(&jw, "content");
            gw_jw_cstr(&jw, "");
        } else if (kind == EV_CONTENT) {
            char tok[24];
            int n = snprintf(tok, sizeof(tok), "tok%" PRIu32 " ", index);
            gw_jw_key(&jw, "content");
            gw_jw_str(&jw, tok, (size_t)n);
        }
        gw_jw_obj_end(&jw);
        gw_jw_key(&jw, "logprobs");
        gw_jw_null(&jw);
        gw_jw_key(&jw, "finish_reason");
        if (kind == EV_FINISH)
            gw_jw_cstr(&jw, "stop");
        else
            gw_jw_null(&jw);
        gw_jw_obj_end(&jw);
    }
    gw_jw_arr_end(&jw);
    if (kind == EV_USAGE) {
        jw_usage(&jw, p);
    } else if (p->include_usage) {
        gw_jw_key(&jw, "usage");
        gw_jw_null(&jw);
    }
    gw_jw_obj_end(&jw);
    GW_BUG_ON(jw.overflow);
    return jw.len;
}

static void emit_event(struct gw_mock_conn *c, enum ev_kind kind, uint32_t index, bool bad_size)
{
    char buf[EVENT_CAP];
    size_t n = render_event(&c->plan, kind, index, buf);
    put_event(c, buf, n, bad_size);
}

/*
 * Stream pacing: the head and the role event go out when the response is
 * released (after first_delay_ms); content chunk i is due delay_ms after the
 * one before it (the first, delay_ms after the role event); the finish
 * event, the usage event, [DONE] and the terminating chunk follow the last
 * content chunk at once.
 */
enum gw_mock_step gw_mock_stream_step(struct gw_mock_conn *c, uint64_t now_ms)
{
    struct gw_mock_plan *p = &c->plan;
    switch (p->dialect) {
    case GW_MOCK_DIALECT_ANTHROPIC:
        return gw_mock_anthropic_step(c, now_ms);
    case GW_MOCK_DIALECT_GEMINI:
        return gw_mock_gemini_step(c, now_ms);
    case GW_MOCK_DIALECT_COHERE:
        return gw_mock_cohere_step(c, now_ms);
    case GW_MOCK_DIALECT_BEDROCK:
        return gw_mock_bedrock_step(c, now_ms);
    default:
        break;
    }
    if (p->fault == GW_MOCK_FAULT_CLOSE_MID_STREAM && p->next_chunk >= p->chunks / 2)
        return GW_MOCK_STEP_FAULT;
    if (p->next_chunk < p->chunks && now_ms < p->next_ms)
        return GW_MOCK_STEP_WAIT;
    if (p->fault == GW_MOCK_FAULT_MALFORMED_CHUNK) {
        emit_event(c, p->next_chunk < p->chunks ? EV_CONTENT : EV_FINISH, p->next_chunk, true);
        return GW_MOCK_STEP_FAULT;
    }
    if (p->next_chunk < p->chunks) {
        emit_event(c, EV_CONTENT, p->next_chunk, false);
        p->next_chunk++;
        p->next_ms += p->delay_ms;
        return GW_MOCK_STEP_MORE;
    }
    emit_event(c, EV_FINISH, 0, false);
    if (p->include_usage)
        emit_event(c, EV_USAGE, 0, false);
    put_chunk(c, "data: [DONE]\n\n", 14);
    if (!p->http10)
        gw_mock_out_append(c, "0\r\n\r\n", 5);
    return GW_MOCK_STEP_DONE;
}

static void chat_completions(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const keys[] = {"model", "messages", "stream", "stream_options", "mock"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    if (gw_json_scan_object(body.ptr, body.len, keys, GW_ARRAY_SIZE(keys), m) < 0) {
        reply_bad_json(c);
        return;
    }
    const char *why = take_model(c, body.ptr, &m[0]);
    if (why) {
        reply_bad_request(c, why, "model", NULL);
        return;
    }
    if (!m[1].found) {
        reply_bad_request(c, "Missing required parameter: 'messages'.", "messages",
                          "missing_required_parameter");
        return;
    }
    if (m[1].value.type != GW_JT_ARR_BEGIN) {
        reply_bad_request(c, "Invalid type for 'messages': expected an array.", "messages",
                          "invalid_type");
        return;
    }
    bool stream = m[2].found && m[2].value.type == GW_JT_TRUE;
    if (m[3].found && m[3].value.type == GW_JT_OBJ_BEGIN) {
        static const char *const okeys[] = {"include_usage"};
        struct gw_json_member u;
        const char *sub = body.ptr + m[3].value.start;
        if (gw_json_scan_object(sub, m[3].value_end - m[3].value.start, okeys, 1, &u) == 0)
            p->include_usage = u.found && u.value.type == GW_JT_TRUE;
    }
    struct gw_mock_ctl ctl;
    why = parse_mock(body.ptr, &m[4], &ctl);
    if (why) {
        reply_bad_request(c, why, "mock", NULL);
        return;
    }
    p->first_delay_ms = ctl.first_delay_ms;
    p->delay_ms = ctl.delay_ms;
    p->chunks = (uint32_t)ctl.chunks;
    p->fault = ctl.fault;
    p->prompt_tokens = body.len / 4;

    if (ctl.fault == GW_MOCK_FAULT_CLOSE_BEFORE_RESPONSE) {
        p->mode = GW_MOCK_MODE_CLOSE;
        return;
    }
    if (ctl.status != 200) {
        reply_status(c, ctl.status, ctl.retry_after);
        return;
    }
    if (!stream) {
        struct gw_span content = build_content(c, p->chunks);
        if (!content.ptr)
            return;
        struct chat_args a = {p, content};
        struct gw_span out = render(c, render_chat, &a);
        if (out.ptr)
            finish_json(c, &ctl, out);
        return;
    }
    gw_mock_stream_begin(c, "text/event-stream", ctl.retry_after);
    emit_event(c, EV_ROLE, 0, false);
    p->mode = ctl.fault == GW_MOCK_FAULT_STALL ? GW_MOCK_MODE_STALL : GW_MOCK_MODE_STREAM;
}

/* ---- embeddings ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
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

/* A deterministic unit vector for one input's raw JSON text. */
static void jw_embedding(struct gw_jw *jw, const char *raw, size_t len)
{
    double v[EMBED_DIMS], norm = 0;
    uint64_t h = fnv1a(raw, len);
    for (int i = 0; i < EMBED_DIMS; i++) {
        uint64_t x = splitmix64(h + (uint64_t)i);
        v[i] = (double)(x >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
        norm += v[i] * v[i];
    }
    norm = norm > 0 ? 1.0 / root(norm) : 0;
    gw_jw_arr_begin(jw);
    for (int i = 0; i < EMBED_DIMS; i++)
        gw_jw_double(jw, v[i] * norm);
    gw_jw_arr_end(jw);
}

struct embed_args {
    const struct gw_mock_plan *p;
    const char *doc; /* the request body */
    const struct gw_json_member *input;
};

static void jw_embedding_item(struct gw_jw *jw, unsigned index, const char *raw, size_t len)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "embedding");
    gw_jw_key(jw, "index");
    gw_jw_uint(jw, index);
    gw_jw_key(jw, "embedding");
    jw_embedding(jw, raw, len);
    gw_jw_obj_end(jw);
}

/*
 * The inputs of an "input" value, one callback per item: a string is one
 * input, an array of strings (or of token arrays) one per element, an array
 * of numbers (one token list) one input. Returns the count, -1 if invalid.
 */
static long each_input(const char *doc, const struct gw_json_member *in, struct gw_jw *jw)
{
    const struct gw_json_tok *v = &in->value;
    if (v->type == GW_JT_STRING) {
        if (jw)
            jw_embedding_item(jw, 0, v->span.ptr, v->span.len);
        return 1;
    }
    if (v->type != GW_JT_ARR_BEGIN)
        return -1;
    const char *sub = doc + v->start;
    size_t sublen = in->value_end - v->start;
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, sub, sublen);
    if (gw_json_next(&j, &t) != 1)
        return -1;
    long count = 0;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_ARR_END && t.depth == 0)
            return count;
        size_t end = t.end;
        if (t.type == GW_JT_NUMBER && count == 0) {
            /* A token list: the whole array is one input. */
            if (jw)
                jw_embedding_item(jw, 0, sub, sublen);
            return 1;
        }
        if (t.type == GW_JT_ARR_BEGIN) {
            if (gw_json_skip(&j, &t, &end) != 0)
                return -1;
        } else if (t.type != GW_JT_STRING) {
            return -1;
        }
        if (jw)
            jw_embedding_item(jw, (unsigned)count, sub + t.start, end - t.start);
        count++;
    }
}

static void render_embeddings(struct gw_jw *jw, const void *arg)
{
    const struct embed_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "list");
    gw_jw_key(jw, "data");
    gw_jw_arr_begin(jw);
    each_input(a->doc, a->input, jw);
    gw_jw_arr_end(jw);
    gw_jw_key(jw, "model");
    gw_jw_raw(jw, a->p->model, a->p->model_len);
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "prompt_tokens");
    gw_jw_uint(jw, a->p->prompt_tokens);
    gw_jw_key(jw, "total_tokens");
    gw_jw_uint(jw, a->p->prompt_tokens);
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

static void embeddings(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const keys[] = {"model", "input", "mock"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    if (gw_json_scan_object(body.ptr, body.len, keys, GW_ARRAY_SIZE(keys), m) < 0) {
        reply_bad_json(c);
        return;
    }
    const char *why = take_model(c, body.ptr, &m[0]);
    if (why) {
        reply_bad_request(c, why, "model", NULL);
        return;
    }
    if (!m[1].found) {
        reply_bad_request(c, "Missing required parameter: 'input'.", "input",
                          "missing_required_parameter");
        return;
    }
    long n = each_input(body.ptr, &m[1], NULL);
    if (n <= 0) {
        reply_bad_request(c,
                          "'input' must be a non-empty string, array of strings, or array of "
                          "token arrays",
                          "input", "invalid_type");
        return;
    }
    struct gw_mock_ctl ctl;
    why = parse_mock(body.ptr, &m[2], &ctl);
    if (why) {
        reply_bad_request(c, why, "mock", NULL);
        return;
    }
    p->first_delay_ms = ctl.first_delay_ms;
    p->prompt_tokens = body.len / 4;
    if (ctl.fault == GW_MOCK_FAULT_CLOSE_BEFORE_RESPONSE) {
        p->mode = GW_MOCK_MODE_CLOSE;
        return;
    }
    if (ctl.status != 200) {
        reply_status(c, ctl.status, ctl.retry_after);
        return;
    }
    struct embed_args a = {p, body.ptr, &m[1]};
    struct gw_span out = render(c, render_embeddings, &a);
    if (out.ptr)
        finish_json(c, &ctl, out);
}

/* ---- models ---- */

static void jw_model(struct gw_jw *jw, const char *id, size_t id_len)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "id");
    gw_jw_str(jw, id, id_len);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "model");
    gw_jw_key(jw, "created");
    gw_jw_int(jw, MODELS_CREATED);
    gw_jw_key(jw, "owned_by");
    gw_jw_cstr(jw, "conduit-mock");
    gw_jw_obj_end(jw);
}

static void render_models(struct gw_jw *jw, const void *arg)
{
    (void)arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "list");
    gw_jw_key(jw, "data");
    gw_jw_arr_begin(jw);
    jw_model(jw, "mock-model", 10);
    gw_jw_arr_end(jw);
    gw_jw_obj_end(jw);
}

static void render_one_model(struct gw_jw *jw, const void *arg)
{
    const struct gw_span *id = arg;
    jw_model(jw, id->ptr, id->len);
}

static void reply_json(struct gw_mock_conn *c, render_fn *fn, const void *arg)
{
    struct gw_span out = render(c, fn, arg);
    if (!out.ptr)
        return;
    put_head(c, 200, "application/json", FRAME_LENGTH, out.len, NULL);
    gw_mock_out_append(c, out.ptr, out.len);
    c->plan.mode = GW_MOCK_MODE_DONE;
}

static void model_one(struct gw_mock_conn *c, struct gw_span id)
{
    if (!span_is(id, "mock-model")) {
        char msg[320];
        snprintf(msg, sizeof(msg), "The model '%.*s' does not exist", (int)GW_MIN(id.len, 256),
                 id.ptr);
        reply_error(c, 404, "invalid_request_error", msg, "model", "model_not_found", NULL);
        return;
    }
    reply_json(c, render_one_model, &id);
}

/* ---- /mock/stats ---- */

struct stats {
    uint64_t opened, closed, requests, started, completed, aborted, faulted;
};

static void render_stats(struct gw_jw *jw, const void *arg)
{
    const struct stats *s = arg;
    uint64_t ended = s->completed + s->aborted + s->faulted;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "connections_open");
    gw_jw_uint(jw, s->opened >= s->closed ? s->opened - s->closed : 0);
    gw_jw_key(jw, "connections_total");
    gw_jw_uint(jw, s->opened);
    gw_jw_key(jw, "requests");
    gw_jw_uint(jw, s->requests);
    gw_jw_key(jw, "streams_active");
    gw_jw_uint(jw, s->started >= ended ? s->started - ended : 0);
    gw_jw_key(jw, "streams_completed");
    gw_jw_uint(jw, s->completed);
    gw_jw_key(jw, "streams_aborted");
    gw_jw_uint(jw, s->aborted);
    gw_jw_obj_end(jw);
}

static uint64_t ld(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_acquire);
}

/*
 * Sums every worker's counters. The "ended" counters are loaded before the
 * "started" ones: each acquire pairs with the owner's release store, so every
 * end counted here has its start counted too and the gauges stay >= 0.
 */
static void mock_stats(struct gw_mock_conn *c)
{
    struct stats s = {0};
    for (unsigned i = 0; i < gw_mock.nworkers; i++) {
        struct gw_mock_counters *k = &gw_mock.workers[i].ctr;
        s.closed += ld(&k->conns_closed);
        s.completed += ld(&k->streams_completed);
        s.aborted += ld(&k->streams_aborted);
        s.faulted += ld(&k->streams_faulted);
        s.requests += ld(&k->requests);
        s.opened += ld(&k->conns_opened);
        s.started += ld(&k->streams_started);
    }
    reply_json(c, render_stats, &s);
}

/* ---- /mock/last ---- */

/* Records a request for /mock/last: a copy of its head and body under the worker's lock. */
static void record_last(struct gw_mock_worker *w, struct gw_span head, struct gw_span body)
{
    struct gw_mock_last *l = &w->last;
    size_t need = head.len + body.len;
    pthread_mutex_lock(&l->mu);
    if (need > l->cap || (l->cap > SCRATCH_KEEP && need < l->cap / 8)) {
        size_t ncap = need > 4096 ? need : 4096;
        char *nb = malloc(ncap);
        if (!nb) {
            l->stamp = 0; /* better nothing than a stale record */
            goto out;
        }
        free(l->buf);
        l->buf = nb;
        l->cap = ncap;
    }
    memcpy(l->buf, head.ptr, head.len);
    if (body.len)
        memcpy(l->buf + head.len, body.ptr, body.len);
    l->head_len = head.len;
    l->body_len = body.len;
    l->stamp = mono_ns();
out:
    pthread_mutex_unlock(&l->mu);
}

struct last_args {
    const struct gw_http1_req *req;
    struct gw_span body;
    const char *names;  /* lowercased, NUL-terminated names, one per distinct header */
    const char *values; /* the values of each name joined by ", ", NUL-terminated */
    size_t n;
};

static void render_last(struct gw_jw *jw, const void *arg)
{
    const struct last_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "method");
    gw_jw_str(jw, a->req->method.ptr, a->req->method.len);
    gw_jw_key(jw, "path");
    gw_jw_str(jw, a->req->target.ptr, a->req->target.len);
    gw_jw_key(jw, "headers");
    gw_jw_obj_begin(jw);
    const char *name = a->names, *value = a->values;
    for (size_t i = 0; i < a->n; i++) {
        gw_jw_key(jw, name);
        gw_jw_cstr(jw, value);
        name += strlen(name) + 1;
        value += strlen(value) + 1;
    }
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "body");
    gw_jw_str(jw, a->body.ptr, a->body.len);
    gw_jw_obj_end(jw);
}

/* Renders a recorded request; the caller holds l->mu. */
static void reply_last_locked(struct gw_mock_conn *c, const struct gw_mock_last *l)
{
    struct gw_http1_header hdrs[GW_MOCK_MAX_HEADERS];
    struct gw_http1_req req;
    int r = gw_http1_parse_request(l->buf, l->head_len, &req, hdrs, GW_MOCK_MAX_HEADERS);
    GW_BUG_ON(r != (int)l->head_len);
    /* Names and joined values fit in twice the head (", " is no longer than ": " + CRLF). */
    char *tmp = malloc(2 * l->head_len + 2);
    if (!tmp) {
        c->flags |= GW_MOCK_CF_OOM;
        return;
    }
    char *names = tmp, *values = tmp + l->head_len + 1;
    size_t nl = 0, vl = 0, n = 0;
    for (size_t i = 0; i < req.num_headers; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = gw_span_ieq(hdrs[j].name, hdrs[i].name);
        if (seen)
            continue;
        for (size_t k = 0; k < hdrs[i].name.len; k++) {
            char ch = hdrs[i].name.ptr[k];
            names[nl++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        names[nl++] = '\0';
        bool first = true;
        for (size_t j = i; j < req.num_headers; j++) {
            if (!gw_span_ieq(hdrs[j].name, hdrs[i].name))
                continue;
            if (!first) {
                values[vl++] = ',';
                values[vl++] = ' ';
            }
            memcpy(values + vl, hdrs[j].value.ptr, hdrs[j].value.len);
            vl += hdrs[j].value.len;
            first = false;
        }
        values[vl++] = '\0';
        n++;
    }
    struct last_args a = {&req, gw_span_make(l->buf + l->head_len, l->body_len), names, values, n};
    reply_json(c, render_last, &a);
    free(tmp);
}

static void mock_last(struct gw_mock_conn *c)
{
    struct gw_mock_last *best = NULL;
    uint64_t best_stamp = 0;
    for (unsigned i = 0; i < gw_mock.nworkers; i++) {
        struct gw_mock_last *l = &gw_mock.workers[i].last;
        pthread_mutex_lock(&l->mu);
        if (l->stamp > best_stamp) {
            best_stamp = l->stamp;
            best = l;
        }
        pthread_mutex_unlock(&l->mu);
    }
    if (!best) {
        reply_error(c, 404, "invalid_request_error", "No request has been recorded yet", NULL, NULL,
                    NULL);
        return;
    }
    /* Another request may have replaced it since: that one is newer still, so fine. */
    pthread_mutex_lock(&best->mu);
    if (best->stamp)
        reply_last_locked(c, best);
    else
        reply_error(c, 404, "invalid_request_error", "No request has been recorded yet", NULL, NULL,
                    NULL);
    pthread_mutex_unlock(&best->mu);
}

/* ---- shared with the other dialects (mock.h) ---- */

struct gw_span gw_mock_render(struct gw_mock_conn *c, gw_mock_render_fn *fn, const void *arg)
{
    return render(c, fn, arg);
}

void gw_mock_put_head(struct gw_mock_conn *c, int status, const char *ctype, bool chunked,
                      size_t content_length, const char *retry_after)
{
    put_head(c, status, ctype, chunked ? FRAME_CHUNKED : FRAME_LENGTH, content_length, retry_after);
}

void gw_mock_stream_begin(struct gw_mock_conn *c, const char *ctype, const char *retry_after)
{
    struct gw_mock_plan *p = &c->plan;
    /* An HTTP/1.0 peer gets the stream delimited by the close. */
    if (p->http10)
        p->keepalive = false;
    p->stream_live = true;
    gw_mock_ctr_inc(&c->w->ctr.streams_started);
    put_head(c, 200, ctype, FRAME_CHUNKED, 0, retry_after);
}

const char *gw_mock_parse_ctl(const char *doc, const struct gw_json_member *mock,
                              struct gw_mock_ctl *ctl)
{
    return parse_mock(doc, mock, ctl);
}

const char *gw_mock_take_model(struct gw_mock_conn *c, const char *doc,
                               const struct gw_json_member *m)
{
    return take_model(c, doc, m);
}

struct gw_span gw_mock_build_content(struct gw_mock_conn *c, uint32_t chunks)
{
    return build_content(c, chunks);
}

void gw_mock_finish_json(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl, struct gw_span body)
{
    finish_json(c, ctl, body);
}

/* ---- dispatch ---- */

/* Authorization: Bearer <key>, the scheme case-insensitively (RFC 9110 §11.1). */
static bool authorized(const struct gw_http1_req *req)
{
    const struct gw_http1_header *h =
        gw_http1_find(req->headers, req->num_headers, "authorization");
    if (!h || h->value.len < 7 || strncasecmp(h->value.ptr, "bearer ", 7) != 0)
        return false;
    struct gw_span key = gw_span_make(h->value.ptr + 7, h->value.len - 7);
    while (key.len && key.ptr[0] == ' ') {
        key.ptr++;
        key.len--;
    }
    return span_is(key, gw_mock.api_key);
}

/* Azure OpenAI's key header: api-key: <key>. */
static bool azure_authorized(const struct gw_http1_req *req)
{
    const struct gw_http1_header *h = gw_http1_find(req->headers, req->num_headers, "api-key");
    return h && span_is(h->value, gw_mock.api_key);
}

/*
 * Azure OpenAI's paths, mapped onto ours [Azure OpenAI REST reference]:
 * /openai/v1/{op} (the v1 API), and /openai/deployments/{d}/{op}, which needs
 * an api-version query. Returns 0 with *path set to "/v1/{op}", or -1 after
 * answering the error.
 */
static int azure_path(struct gw_mock_conn *c, const struct gw_http1_req *req,
                      struct gw_span *path, char *buf, size_t cap)
{
    struct gw_span op;
    if (span_has_prefix(*path, "/openai/v1/")) {
        op = gw_span_make(path->ptr + 10, path->len - 10);
    } else if (span_has_prefix(*path, "/openai/deployments/")) {
        struct gw_span rest = gw_span_make(path->ptr + 20, path->len - 20);
        const char *slash = memchr(rest.ptr, '/', rest.len);
        const char *q = memchr(req->target.ptr, '?', req->target.len);
        struct gw_span query = q ? gw_span_make(q + 1, req->target.len - (size_t)(q + 1 -
                                                                              req->target.ptr))
                                 : GW_SPAN_NULL;
        if (!slash || slash == rest.ptr) {
            reply_error(c, 404, "invalid_request_error", "DeploymentNotFound", NULL, NULL, NULL);
            return -1;
        }
        if (!query.len || !memmem(query.ptr, query.len, "api-version=", 12) ||
            (query.len >= 12 && memcmp(query.ptr + query.len - 12, "api-version=", 12) == 0)) {
            reply_error(c, 400, "invalid_request_error",
                        "Missing required query parameter: api-version", NULL, NULL, NULL);
            return -1;
        }
        op = gw_span_make(slash, rest.len - (size_t)(slash - rest.ptr));
    } else {
        return 0;
    }
    int n = snprintf(buf, cap, "/v1%.*s", (int)op.len, op.ptr);
    *path = gw_span_make(buf, n > 0 && (size_t)n < cap ? (size_t)n : 0);
    return 0;
}

void gw_mock_dispatch(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span head,
                      struct gw_span body)
{
    struct gw_mock_worker *w = c->w;
    struct gw_mock_plan *p = &c->plan;
    memset(p, 0, sizeof(*p));
    p->mode = GW_MOCK_MODE_DONE;
    p->keepalive = (req->flags & GW_H1_F_KEEPALIVE) != 0;
    p->http10 = req->minor_version == 0;
    p->id = w->req_seq++ * gw_mock.nworkers + w->id + 1;
    p->created = (int64_t)time(NULL);

    struct gw_span path = req->target;
    const char *q = memchr(path.ptr, '?', path.len);
    if (q)
        path.len = (size_t)(q - path.ptr);

    if (span_has_prefix(path, "/mock/")) {
        if (span_is(path, "/mock/stats"))
            mock_stats(c);
        else if (span_is(path, "/mock/last"))
            mock_last(c);
        else
            reply_error(c, 404, "invalid_request_error", "Unknown mock endpoint", NULL, NULL, NULL);
        scratch_trim(w);
        return;
    }

    gw_mock_ctr_inc(&w->ctr.requests);
    record_last(w, head, body);
    if (span_is(req->method, "POST") && span_is(path, "/v1/messages")) {
        gw_mock_anthropic_messages(c, req, body); /* checks its own auth headers */
        scratch_trim(w);
        return;
    }
    /* The other dialects check their own auth headers too. */
    if (span_has_prefix(path, "/v1beta/models/")) {
        gw_mock_gemini(c, req, path, body);
        scratch_trim(w);
        return;
    }
    if (span_has_prefix(path, "/v2/")) {
        gw_mock_cohere(c, req, path, body);
        scratch_trim(w);
        return;
    }
    if (span_has_prefix(path, "/model/")) {
        gw_mock_bedrock(c, req, path, body);
        scratch_trim(w);
        return;
    }
    bool azure = span_has_prefix(path, "/openai/");
    if (gw_mock.api_key && !(azure ? azure_authorized(req) : authorized(req))) {
        reply_error(c, 401, "invalid_request_error", "Incorrect API key provided", NULL,
                    "invalid_api_key", NULL);
        return;
    }
    char azbuf[256];
    if (azure && azure_path(c, req, &path, azbuf, sizeof(azbuf)) < 0) {
        scratch_trim(w);
        return;
    }
    bool post = span_is(req->method, "POST"), get = span_is(req->method, "GET");
    if (post && span_is(path, "/v1/chat/completions")) {
        chat_completions(c, body);
    } else if (post && span_is(path, "/v1/embeddings")) {
        embeddings(c, body);
    } else if (get && span_is(path, "/v1/models")) {
        reply_json(c, render_models, NULL);
    } else if (get && span_has_prefix(path, "/v1/models/")) {
        model_one(c, gw_span_make(path.ptr + 11, path.len - 11));
    } else {
        char msg[320];
        snprintf(msg, sizeof(msg), "Invalid URL (%.*s %.*s)", (int)GW_MIN(req->method.len, 16),
                 req->method.ptr, (int)GW_MIN(req->target.len, 256), req->target.ptr);
        reply_error(c, 404, "invalid_request_error", msg, NULL, NULL, NULL);
    }
    scratch_trim(w);
}
