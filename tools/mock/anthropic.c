/*
 * tools/mock/anthropic.c — the mock's Anthropic dialect: POST /v1/messages
 * in the Messages API's wire format (https://docs.anthropic.com/en/api/messages,
 * streaming: https://docs.anthropic.com/en/docs/build-with-claude/streaming).
 *
 * It checks what the real API insists on: the anthropic-version header (one
 * of the versions below), the key header that version uses, and the body's
 * required fields; errors come in Anthropic's error shape. The answer is a
 * "message" object, or its SSE event stream (message_start, content_block_*,
 * ping, message_delta, message_stop), paced and broken by the same "mock"
 * controls as chat completions (reply.c). mock.tool answers with a tool_use
 * block.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/mock.h"
#include "tools/mock/reply.h"

#define A_TOOL_ID "toolu_mock_1"
#define A_CACHE_READ 3 /* usage.cache_read_input_tokens, fixed */

/* The versions the mock knows; V2026 takes Authorization: Bearer and refuses sampling knobs. */
enum a_version { A_V2023 = 0, A_V2026 };

/* ---- errors ---- */

struct a_error_args {
    const char *type;
    const char *message;
    uint64_t id;
};

static void render_a_error(struct gw_jw *jw, const void *arg)
{
    const struct a_error_args *a = arg;
    char rid[40];
    int n = snprintf(rid, sizeof(rid), "req_mock_%" PRIu64, a->id);
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, "error");
    gw_jw_key(jw, "error");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, a->type);
    gw_jw_key(jw, "message");
    gw_jw_cstr(jw, a->message);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "request_id");
    gw_jw_str(jw, rid, (size_t)n);
    gw_jw_obj_end(jw);
}

/* Appends a complete error response in Anthropic's shape. */
static void a_reply_error(struct gw_mock_conn *c, int status, const char *type, const char *message,
                          const char *retry_after)
{
    struct a_error_args a = {type, message, c->plan.id};
    gw_mock_reply(c, status, retry_after, NULL, render_a_error, &a);
}

static void a_bad_request(struct gw_mock_conn *c, const char *message)
{
    a_reply_error(c, 400, "invalid_request_error", message, NULL);
}

/* A forced mock.status, typed as Anthropic types that status. */
static const struct gw_mock_status_text status_texts[] = {
    {401, "authentication_error", NULL, "invalid x-api-key"},
    {402, "billing_error", NULL, "Your credit balance is too low"},
    {403, "permission_error", NULL,
     "Your API key does not have permission to use the specified resource."},
    {404, "not_found_error", NULL, "The requested resource could not be found."},
    {413, "request_too_large", NULL, "Request exceeds the maximum allowed number of bytes."},
    {429, "rate_limit_error", NULL, "Number of requests has exceeded your rate limit."},
    {500, "api_error", NULL, "Internal server error"},
    {504, "timeout_error", NULL, "Request timed out"},
    {529, "overloaded_error", NULL, "Overloaded"},
};

static void a_reply_status(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl)
{
    const struct gw_mock_status_text *t =
        gw_mock_status_find(status_texts, GW_ARRAY_SIZE(status_texts), ctl->status);
    const char *type = ctl->status >= 500 ? "api_error" : "invalid_request_error";
    a_reply_error(c, ctl->status, t ? t->type : type, t ? t->message : "Mock error",
                  ctl->retry_after);
}

/* ---- headers ---- */

/*
 * The anthropic-version header. Returns 0 with *v set, or -1 after answering
 * the 400.
 */
static int check_version(struct gw_mock_conn *c, const struct gw_http1_req *req, enum a_version *v)
{
    const struct gw_http1_header *h = gw_mock_header(req, "anthropic-version");
    if (!h) {
        a_bad_request(c, "anthropic-version: header is required");
        return -1;
    }
    if (gw_mock_span_is(h->value, "2023-06-01")) {
        *v = A_V2023;
        return 0;
    }
    if (gw_mock_span_is(h->value, "2026-10-21")) {
        *v = A_V2026;
        return 0;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "anthropic-version: \"%.*s\" is not a valid version",
             (int)GW_MIN(h->value.len, 64), h->value.ptr);
    a_bad_request(c, msg);
    return -1;
}

/*
 * With --api-key: 2023-06-01 takes the key in x-api-key, 2026-10-21 in
 * Authorization: Bearer (the scheme case-insensitively). The other header
 * does not count. Returns 0, or -1 after answering the 401.
 */
static int check_auth(struct gw_mock_conn *c, const struct gw_http1_req *req, enum a_version v)
{
    if (!gw_mock.api_key)
        return 0;
    if (v == A_V2023) {
        const struct gw_http1_header *h = gw_mock_header(req, "x-api-key");
        if (!h) {
            a_reply_error(c, 401, "authentication_error", "x-api-key header is required", NULL);
            return -1;
        }
        if (!gw_mock_span_is(h->value, gw_mock.api_key)) {
            a_reply_error(c, 401, "authentication_error", "invalid x-api-key", NULL);
            return -1;
        }
        return 0;
    }
    struct gw_span key = gw_mock_bearer(req);
    if (!key.ptr) {
        a_reply_error(c, 401, "authentication_error",
                      "Authorization: Bearer header is required with anthropic-version "
                      "2026-10-21",
                      NULL);
        return -1;
    }
    if (!gw_mock_span_is(key, gw_mock.api_key)) {
        a_reply_error(c, 401, "authentication_error", "invalid bearer token", NULL);
        return -1;
    }
    return 0;
}

/* ---- body ---- */

/*
 * messages: a non-empty array of objects, each with role "user" or
 * "assistant" and a content (string or array). NULL, or the 400 message
 * (written into msg).
 */
static const char *check_messages(const char *doc, const struct gw_json_member *m, char *msg,
                                  size_t cap)
{
    if (!m->found)
        return "messages: Field required";
    if (m->value.type != GW_JT_ARR_BEGIN)
        return "messages: Input should be a valid list";
    const char *sub = doc + m->value.start;
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, sub, m->value_end - m->value.start);
    if (gw_json_next(&j, &t) != 1)
        return "messages: Input should be a valid list";
    for (unsigned i = 0;; i++) {
        if (gw_json_next(&j, &t) != 1)
            return "messages: Input should be a valid list";
        if (t.type == GW_JT_ARR_END && t.depth == 0)
            return i ? NULL : "messages: at least one message is required";
        size_t end = t.end;
        if (t.type == GW_JT_OBJ_BEGIN || t.type == GW_JT_ARR_BEGIN) {
            if (gw_json_skip(&j, &t, &end) != 0)
                return "messages: Input should be a valid list";
        }
        if (t.type != GW_JT_OBJ_BEGIN) {
            snprintf(msg, cap, "messages.%u: Input should be a valid dictionary", i);
            return msg;
        }
        static const char *const keys[] = {"role", "content"};
        struct gw_json_member mm[2];
        if (gw_json_scan_object(sub + t.start, end - t.start, keys, 2, mm) < 0)
            return "messages: Input should be a valid list";
        const struct gw_json_tok *role = &mm[0].value;
        if (mm[0].found && role->type == GW_JT_STRING && gw_json_str_eq(role->span, "system")) {
            snprintf(msg, cap,
                     "messages.%u.role: Unexpected role \"system\". The Messages API accepts a "
                     "top-level `system` parameter, not \"system\" as an input message role.",
                     i);
            return msg;
        }
        if (!mm[0].found || role->type != GW_JT_STRING ||
            !(gw_json_str_eq(role->span, "user") || gw_json_str_eq(role->span, "assistant"))) {
            snprintf(msg, cap, "messages.%u.role: Input should be 'user' or 'assistant'", i);
            return msg;
        }
        if (!mm[1].found) {
            snprintf(msg, cap, "messages.%u.content: Field required", i);
            return msg;
        }
        if (mm[1].value.type != GW_JT_STRING && mm[1].value.type != GW_JT_ARR_BEGIN) {
            snprintf(msg, cap, "messages.%u.content: Input should be a valid string or list", i);
            return msg;
        }
    }
}

/*
 * The first tool's name (tools[0].name) into plan.tool_name as a JSON
 * string token, else "get_weather". NULL, or the 400 message.
 */
static const char *take_tool_name(struct gw_mock_conn *c, const char *doc,
                                  const struct gw_json_member *m)
{
    struct gw_mock_plan *p = &c->plan;
    gw_mock_tool_default(p);
    if (!m->found)
        return NULL;
    if (m->value.type != GW_JT_ARR_BEGIN)
        return "tools: Input should be a valid list";
    const char *sub = doc + m->value.start;
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, sub, m->value_end - m->value.start);
    if (gw_json_next(&j, &t) != 1 || gw_json_next(&j, &t) != 1)
        return "tools: Input should be a valid list";
    if (t.type == GW_JT_ARR_END)
        return NULL;
    size_t end = t.end;
    if (t.type != GW_JT_OBJ_BEGIN || gw_json_skip(&j, &t, &end) != 0)
        return "tools.0: Input should be a valid dictionary";
    static const char *const keys[] = {"name"};
    struct gw_json_member name;
    if (gw_json_scan_object(sub + t.start, end - t.start, keys, 1, &name) < 0)
        return "tools.0: Input should be a valid dictionary";
    if (!name.found || name.value.type != GW_JT_STRING)
        return "tools.0.name: Field required";
    size_t n = name.value.end - name.value.start;
    if (n > sizeof(p->tool_name))
        return "tools.0.name: String should have at most 128 characters";
    memcpy(p->tool_name, sub + t.start + name.value.start, n);
    p->tool_name_len = n;
    return NULL;
}

/* ---- rendering ---- */

static void jw_msg_id(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    char id[40];
    int n = snprintf(id, sizeof(id), "msg_mock_%" PRIu64, p->id);
    gw_jw_key(jw, "id");
    gw_jw_str(jw, id, (size_t)n);
}

/* usage with the input-side counts; output_tokens as given. */
static void jw_a_usage(struct gw_jw *jw, const struct gw_mock_plan *p, uint64_t output_tokens)
{
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "input_tokens");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_key(jw, "cache_creation_input_tokens");
    gw_jw_uint(jw, 0);
    gw_jw_key(jw, "cache_read_input_tokens");
    gw_jw_uint(jw, A_CACHE_READ);
    gw_jw_key(jw, "output_tokens");
    gw_jw_uint(jw, output_tokens);
    gw_jw_obj_end(jw);
}

/* The tool_use block; with full_input the mock's input, else {} (a stream's start). */
static void jw_tool_block(struct gw_jw *jw, const struct gw_mock_plan *p, bool full_input)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, "tool_use");
    gw_jw_key(jw, "id");
    gw_jw_cstr(jw, A_TOOL_ID);
    gw_jw_key(jw, "name");
    gw_jw_raw(jw, p->tool_name, p->tool_name_len);
    gw_jw_key(jw, "input");
    if (full_input)
        gw_jw_raw(jw, GW_MOCK_TOOL_INPUT, sizeof(GW_MOCK_TOOL_INPUT) - 1);
    else
        gw_jw_raw(jw, "{}", 2);
    gw_jw_obj_end(jw);
}

/* The message object's fields up to content (type, role, model), after "id". */
static void jw_msg_head(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    jw_msg_id(jw, p);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, "message");
    gw_jw_key(jw, "role");
    gw_jw_cstr(jw, "assistant");
    gw_jw_key(jw, "model");
    gw_jw_raw(jw, p->model, p->model_len);
}

static void render_message(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_body *a = arg;
    const struct gw_mock_plan *p = a->p;
    gw_jw_obj_begin(jw);
    jw_msg_head(jw, p);
    gw_jw_key(jw, "content");
    gw_jw_arr_begin(jw);
    if (p->tool) {
        jw_tool_block(jw, p, true);
    } else {
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "type");
        gw_jw_cstr(jw, "text");
        gw_jw_key(jw, "text");
        gw_jw_str(jw, a->text.ptr, a->text.len);
        gw_jw_obj_end(jw);
    }
    gw_jw_arr_end(jw);
    gw_jw_key(jw, "stop_reason");
    gw_jw_cstr(jw, p->tool ? "tool_use" : "end_turn");
    gw_jw_key(jw, "stop_sequence");
    gw_jw_null(jw);
    jw_a_usage(jw, p, p->output_tokens);
    gw_jw_obj_end(jw);
}

/* The kinds of stream event, in the order they are sent. */
enum a_ev {
    A_EV_MESSAGE_START = 0,
    A_EV_BLOCK_START,
    A_EV_PING,
    A_EV_DELTA,
    A_EV_BLOCK_STOP,
    A_EV_MESSAGE_DELTA,
    A_EV_MESSAGE_STOP
};

static const char *const ev_names[] = {
    "message_start",      "content_block_start", "ping",        "content_block_delta",
    "content_block_stop", "message_delta",       "message_stop"};

/* Renders one event's JSON (arg: a struct gw_mock_event of kind enum a_ev). */
static void render_a_event(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_event *ev = arg;
    const struct gw_mock_plan *p = ev->p;
    enum a_ev kind = (enum a_ev)ev->kind;
    uint32_t index = ev->index;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, ev_names[kind]);
    switch (kind) {
    case A_EV_MESSAGE_START:
        gw_jw_key(jw, "message");
        gw_jw_obj_begin(jw);
        jw_msg_head(jw, p);
        gw_jw_key(jw, "content");
        gw_jw_arr_begin(jw);
        gw_jw_arr_end(jw);
        gw_jw_key(jw, "stop_reason");
        gw_jw_null(jw);
        gw_jw_key(jw, "stop_sequence");
        gw_jw_null(jw);
        jw_a_usage(jw, p, 1);
        gw_jw_obj_end(jw);
        break;
    case A_EV_BLOCK_START:
        gw_jw_key(jw, "index");
        gw_jw_int(jw, 0);
        gw_jw_key(jw, "content_block");
        if (p->tool) {
            jw_tool_block(jw, p, false);
        } else {
            gw_jw_obj_begin(jw);
            gw_jw_key(jw, "type");
            gw_jw_cstr(jw, "text");
            gw_jw_key(jw, "text");
            gw_jw_cstr(jw, "");
            gw_jw_obj_end(jw);
        }
        break;
    case A_EV_DELTA:
        gw_jw_key(jw, "index");
        gw_jw_int(jw, 0);
        gw_jw_key(jw, "delta");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "type");
        if (p->tool) {
            gw_jw_cstr(jw, "input_json_delta");
            gw_jw_key(jw, "partial_json");
            gw_jw_cstr(jw, gw_mock_tool_piece(index));
        } else {
            char tok[GW_MOCK_TOKEN_CAP];
            struct gw_span t = gw_mock_token(tok, index);
            gw_jw_cstr(jw, "text_delta");
            gw_jw_key(jw, "text");
            gw_jw_str(jw, t.ptr, t.len);
        }
        gw_jw_obj_end(jw);
        break;
    case A_EV_BLOCK_STOP:
        gw_jw_key(jw, "index");
        gw_jw_int(jw, 0);
        break;
    case A_EV_MESSAGE_DELTA:
        gw_jw_key(jw, "delta");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "stop_reason");
        gw_jw_cstr(jw, p->tool ? "tool_use" : "end_turn");
        gw_jw_key(jw, "stop_sequence");
        gw_jw_null(jw);
        gw_jw_obj_end(jw);
        gw_jw_key(jw, "usage");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "output_tokens");
        gw_jw_uint(jw, p->output_tokens);
        gw_jw_obj_end(jw);
        break;
    case A_EV_PING:
    case A_EV_MESSAGE_STOP:
        break;
    }
    gw_jw_obj_end(jw);
}

/*
 * The stream (paced by reply.c): message_start, content_block_start and
 * ping with the head; a content_block_delta per chunk (plan.chunks counts
 * the deltas); then content_block_stop, message_delta and message_stop.
 */
static void a_stream_head(struct gw_mock_conn *c)
{
    gw_mock_put_event(c, A_EV_MESSAGE_START, 0, false);
    gw_mock_put_event(c, A_EV_BLOCK_START, 0, false);
    gw_mock_put_event(c, A_EV_PING, 0, false);
}

static void a_stream_event(struct gw_mock_conn *c, uint32_t i, bool bad)
{
    gw_mock_put_event(c, i < c->plan.chunks ? A_EV_DELTA : A_EV_BLOCK_STOP, i, bad);
}

static void a_stream_tail(struct gw_mock_conn *c)
{
    gw_mock_put_event(c, A_EV_MESSAGE_DELTA, 0, false);
    gw_mock_put_event(c, A_EV_MESSAGE_STOP, 0, false);
}

const struct gw_mock_wire gw_mock_wire_anthropic = {
    .tool_events = GW_MOCK_TOOL_PIECES,
    .bad_ctl = a_bad_request,
    .reply_status = a_reply_status,
    .render = render_message,
    .event_render = render_a_event,
    .event_names = ev_names,
    .stream_head = a_stream_head,
    .stream_event = a_stream_event,
    .stream_tail = a_stream_tail,
};

/* ---- the endpoint ---- */

void gw_mock_anthropic_messages(struct gw_mock_conn *c, const struct gw_http1_req *req,
                                struct gw_span body)
{
    static const char *const keys[] = {"model",       "max_tokens", "messages", "system", "stream",
                                       "temperature", "top_p",      "top_k",    "tools",  "mock"};
    enum { K_MODEL, K_MAX, K_MSGS, K_SYSTEM, K_STREAM, K_TEMP, K_TOP_P, K_TOP_K, K_TOOLS, K_MOCK };
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    char msg[256];
    p->dialect = GW_MOCK_DIALECT_ANTHROPIC;

    enum a_version v;
    if (check_version(c, req, &v) < 0 || check_auth(c, req, v) < 0)
        return;
    if (gw_json_scan_object(body.ptr, body.len, keys, GW_ARRAY_SIZE(keys), m) < 0) {
        a_bad_request(c, "There was an issue with your request body: it is not a valid JSON "
                         "object");
        return;
    }
    if (!m[K_MODEL].found) {
        a_bad_request(c, "model: Field required");
        return;
    }
    if (gw_mock_take_model(c, body.ptr, &m[K_MODEL])) {
        a_bad_request(c, m[K_MODEL].value.type == GW_JT_STRING
                             ? "model: String should have at most 254 characters"
                             : "model: Input should be a valid string");
        return;
    }
    uint64_t max_tokens = 0;
    if (!m[K_MAX].found) {
        a_bad_request(c, "max_tokens: Field required");
        return;
    }
    if (m[K_MAX].value.type != GW_JT_NUMBER || !gw_json_to_u64(m[K_MAX].value.span, &max_tokens)) {
        a_bad_request(c, "max_tokens: Input should be a valid integer");
        return;
    }
    if (max_tokens < 1) {
        a_bad_request(c, "max_tokens: Input should be greater than or equal to 1");
        return;
    }
    const char *why = check_messages(body.ptr, &m[K_MSGS], msg, sizeof(msg));
    if (why) {
        a_bad_request(c, why);
        return;
    }
    if (m[K_SYSTEM].found && m[K_SYSTEM].value.type != GW_JT_STRING &&
        m[K_SYSTEM].value.type != GW_JT_ARR_BEGIN) {
        a_bad_request(c, "system: Input should be a valid string or list");
        return;
    }
    if (m[K_STREAM].found && m[K_STREAM].value.type != GW_JT_TRUE &&
        m[K_STREAM].value.type != GW_JT_FALSE) {
        a_bad_request(c, "stream: Input should be a valid boolean");
        return;
    }
    bool stream = m[K_STREAM].found && m[K_STREAM].value.type == GW_JT_TRUE;
    if (v == A_V2026) {
        static const char *const knobs[] = {"temperature", "top_p", "top_k"};
        for (int k = K_TEMP; k <= K_TOP_K; k++) {
            if (!m[k].found)
                continue;
            snprintf(msg, sizeof(msg), "%s: is not supported with anthropic-version 2026-10-21",
                     knobs[k - K_TEMP]);
            a_bad_request(c, msg);
            return;
        }
    }
    why = take_tool_name(c, body.ptr, &m[K_TOOLS]);
    if (why) {
        a_bad_request(c, why);
        return;
    }
    gw_mock_answer(c, body, &m[K_MOCK], stream);
}
