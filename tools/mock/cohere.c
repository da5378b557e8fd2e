/*
 * tools/mock/cohere.c — the mock's Cohere dialect: Cohere's v2 API,
 * POST /v2/chat and POST /v2/embed (https://docs.cohere.com/reference/chat,
 * /reference/chat-stream, /reference/embed, /reference/errors).
 *
 * It is strict the way the real API is, and stricter where that catches a
 * translation bug: the bearer key, the path, the required fields, the enum
 * values (tool_choice REQUIRED/NONE, input_type, embedding_types), the ranges
 * of p and the penalties, and no top-level field the v2 API does not define
 * (besides the "mock" control object). Errors come in Cohere's shape
 * {"id":"<uuid>","message":"..."}. The chat answer is a v2 chat response or
 * its SSE stream (event: + data: lines: message-start, content-start,
 * content-delta..., content-end, message-end; with mock.tool, tool-plan-delta,
 * tool-call-start, tool-call-delta..., tool-call-end), paced and broken by the
 * same "mock" controls as chat completions (reply.c). Embeddings are the
 * deterministic unit vectors of reply.c, in every requested embedding type.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/mock.h"
#include "tools/mock/reply.h"

#define C_TOOL_ID "get_weather_mock1"
#define C_TOOL_PLAN "I will look up the weather."
#define C_TEMPLATE_TOKENS 10 /* usage.tokens.input_tokens adds these to the billed ones */
#define C_CACHED_TOKENS 3    /* usage.cached_tokens, fixed */
#define C_EMBED_DIMS 8       /* without output_dimension */
#define C_MAX_TEXTS 96

/* The tool plan streamed as tool-plan-delta pieces; joined they read C_TOOL_PLAN. */
static const char *const plan_pieces[] = {"I will look up ", "the weather."};

/* The response id, a UUID as Cohere's are. */
static void jw_uuid(struct gw_jw *jw, uint64_t id)
{
    char s[40];
    int n = snprintf(s, sizeof(s), "c0e4e000-0000-4000-8000-%012" PRIx64, id & 0xffffffffffffu);
    gw_jw_str(jw, s, (size_t)n);
}

/* ---- errors ---- */

struct c_error_args {
    const char *message;
    uint64_t id;
};

static void render_c_error(struct gw_jw *jw, const void *arg)
{
    const struct c_error_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "id");
    jw_uuid(jw, a->id);
    gw_jw_key(jw, "message");
    gw_jw_cstr(jw, a->message);
    gw_jw_obj_end(jw);
}

/* Appends a complete error response in Cohere's shape. */
static void c_reply_error(struct gw_mock_conn *c, int status, const char *message,
                          const char *retry_after)
{
    struct c_error_args a = {message, c->plan.id};
    gw_mock_reply(c, status, retry_after, NULL, render_c_error, &a);
}

__attribute__((format(printf, 2, 3))) static void c_bad_request(struct gw_mock_conn *c,
                                                                const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c_reply_error(c, 400, msg, NULL);
}

static void c_bad_ctl(struct gw_mock_conn *c, const char *message)
{
    c_reply_error(c, 400, message, NULL);
}

/* A forced mock.status, with the messages Cohere's error reference shows (404 names the model). */
static const struct gw_mock_status_text status_texts[] = {
    {400, NULL, NULL, "invalid request: mock status 400 was requested"},
    {401, NULL, NULL, "invalid api token"},
    {402, NULL, NULL,
     "Please add or update your payment method at https://dashboard.cohere.com/billing to "
     "continue"},
    {422, NULL, NULL, "invalid request: the request could not be processed"},
    {429, NULL, NULL, "You are using a Trial key, which is limited to 20 API calls / minute."},
    {499, NULL, NULL, "request cancelled"},
    {500, NULL, NULL, "internal server error, this has been reported to our developers"},
    {503, NULL, NULL, "service unavailable: the model is overloaded"},
    {504, NULL, NULL, "gateway timeout"},
};

static void c_reply_status(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl)
{
    const struct gw_mock_plan *p = &c->plan;
    const struct gw_mock_status_text *t =
        gw_mock_status_find(status_texts, GW_ARRAY_SIZE(status_texts), ctl->status);
    char msg[GW_MOCK_MODEL_CAP + 160];
    if (ctl->status == 404)
        snprintf(msg, sizeof(msg),
                 "model '%.*s' not found, make sure the correct model ID was used and that you "
                 "have access to the model.",
                 (int)(p->model_len ? p->model_len - 2 : 0), p->model + 1);
    else if (t)
        snprintf(msg, sizeof(msg), "%s", t->message);
    else
        snprintf(msg, sizeof(msg), "mock error: status %d was requested", ctl->status);
    c_reply_error(c, ctl->status, msg, ctl->retry_after);
}

/* Authorization: Bearer <key> (the scheme case-insensitively). 0, or -1 after the 401. */
static int check_auth(struct gw_mock_conn *c, const struct gw_http1_req *req)
{
    if (!gw_mock.api_key)
        return 0;
    struct gw_span key = gw_mock_bearer(req);
    if (!key.ptr || !gw_mock_span_is(key, gw_mock.api_key)) {
        bool sent = gw_mock_header(req, "authorization") != NULL;
        c_reply_error(c, 401, sent ? "invalid api token" : "no api key supplied", NULL);
        return -1;
    }
    return 0;
}

/* ---- body checks ---- */

/*
 * The body doc[0..len): a JSON object, m[i] its member keys[i], and every
 * top-level key one of keys[0..n) (the last of which is "mock"). NULL, or
 * the 400 message (written into msg).
 */
static const char *scan_fields(const char *doc, size_t len, const char *const *allowed, size_t n,
                               struct gw_json_member *m, char *msg, size_t cap)
{
    struct gw_json j;
    struct gw_json_tok t;
    int r;
    if (gw_json_scan_object(doc, len, allowed, n, m) < 0)
        return "invalid request: the body is not a valid JSON object";
    gw_json_init(&j, doc, len);
    while ((r = gw_json_next(&j, &t)) == 1) {
        if (t.type != GW_JT_KEY || t.depth != 1)
            continue;
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = gw_json_str_eq(t.span, allowed[i]);
        if (!ok) {
            snprintf(msg, cap,
                     "invalid request: unknown field: parameter '%.*s' is not a valid field",
                     (int)GW_MIN(t.span.len, 64), t.span.ptr);
            return msg;
        }
    }
    return r == 0 ? NULL : "invalid request: the body is not valid JSON";
}

/* The member's value as a sub-document (for scans of nested objects). */
static struct gw_span member_doc(const char *doc, const struct gw_json_member *m)
{
    return gw_span_make(doc + m->value.start, m->value_end - m->value.start);
}

static bool member_is(const struct gw_json_member *m, enum gw_json_tok_type t)
{
    return m->found && m->value.type == t;
}

/* A number member within [lo, hi]; true when absent. */
static bool member_range(const struct gw_json_member *m, double lo, double hi)
{
    if (!m->found)
        return true;
    if (m->value.type != GW_JT_NUMBER || m->value.span.len >= 64)
        return false;
    char buf[64];
    memcpy(buf, m->value.span.ptr, m->value.span.len);
    buf[m->value.span.len] = '\0';
    double d = strtod(buf, NULL);
    return d >= lo && d <= hi;
}

/* A JSON number with no fraction or exponent. */
static bool member_int(const struct gw_json_member *m)
{
    if (!member_is(m, GW_JT_NUMBER))
        return false;
    for (size_t i = 0; i < m->value.span.len; i++)
        if (strchr(".eE", m->value.span.ptr[i]))
            return false;
    return true;
}

/* One element of an array at a time: 1 (its bounds in *sub), 0 at the end, -1 invalid. */
struct arr {
    struct gw_json j;
    const char *base;
};

static int arr_open(struct arr *a, const char *doc, const struct gw_json_member *m)
{
    struct gw_json_tok t;
    if (!member_is(m, GW_JT_ARR_BEGIN))
        return -1;
    a->base = doc + m->value.start;
    gw_json_init(&a->j, a->base, m->value_end - m->value.start);
    return gw_json_next(&a->j, &t) == 1 ? 0 : -1;
}

static int arr_next(struct arr *a, struct gw_json_tok *t, struct gw_span *sub)
{
    size_t end;
    if (gw_json_next(&a->j, t) != 1)
        return -1;
    if (t->type == GW_JT_ARR_END && t->depth == 0)
        return 0;
    if (gw_json_skip(&a->j, t, &end) != 0)
        return -1;
    *sub = gw_span_make(a->base + t->start, end - t->start);
    return 1;
}

/* Content items: objects whose type is text (with a string text), image_url, document or thinking.
 */
static const char *check_items(struct gw_span content, unsigned i, char *msg, size_t cap)
{
    static const char *const k[] = {"type", "text", "image_url"};
    struct gw_json_member m[3];
    struct gw_json_member whole = {.found = true};
    struct arr a;
    struct gw_json_tok t;
    struct gw_span item;
    int r;
    whole.value.type = GW_JT_ARR_BEGIN;
    whole.value.start = 0;
    whole.value_end = content.len;
    if (arr_open(&a, content.ptr, &whole) != 0)
        return "invalid request: messages content is not a valid list";
    unsigned n = 0;
    while ((r = arr_next(&a, &t, &item)) == 1) {
        if (t.type != GW_JT_OBJ_BEGIN || gw_json_scan_object(item.ptr, item.len, k, 3, m) != 0 ||
            !member_is(&m[0], GW_JT_STRING)) {
            snprintf(msg, cap,
                     "invalid request: messages[%u].content[%u] must be an object with "
                     "a type",
                     i, n);
            return msg;
        }
        bool text = gw_json_str_eq(m[0].value.span, "text");
        if (text && !member_is(&m[1], GW_JT_STRING)) {
            snprintf(msg, cap, "invalid request: messages[%u].content[%u].text must be a string", i,
                     n);
            return msg;
        }
        if (gw_json_str_eq(m[0].value.span, "image_url") && !member_is(&m[2], GW_JT_OBJ_BEGIN)) {
            snprintf(msg, cap,
                     "invalid request: messages[%u].content[%u].image_url must be an "
                     "object with a url",
                     i, n);
            return msg;
        }
        if (!text && !gw_json_str_eq(m[0].value.span, "image_url") &&
            !gw_json_str_eq(m[0].value.span, "document") &&
            !gw_json_str_eq(m[0].value.span, "thinking")) {
            snprintf(msg, cap, "invalid request: messages[%u].content[%u].type is not valid", i, n);
            return msg;
        }
        n++;
    }
    return r == 0 ? NULL : "invalid request: messages content is not a valid list";
}

/*
 * messages: a non-empty array of objects with a known role; system and user
 * messages need content, tool messages tool_call_id and content, assistant
 * messages content or tool_calls. NULL, or the 400 message.
 */
static const char *check_messages(const char *doc, const struct gw_json_member *m, char *msg,
                                  size_t cap)
{
    static const char *const keys[] = {"role", "content", "tool_calls", "tool_call_id"};
    struct gw_json_member mm[4];
    struct arr a;
    struct gw_json_tok t;
    struct gw_span sub;
    int r;
    if (!m->found)
        return "invalid request: messages must not be empty";
    if (arr_open(&a, doc, m) != 0)
        return "invalid request: messages must be a list";
    unsigned i = 0;
    while ((r = arr_next(&a, &t, &sub)) == 1) {
        if (t.type != GW_JT_OBJ_BEGIN || gw_json_scan_object(sub.ptr, sub.len, keys, 4, mm) != 0) {
            snprintf(msg, cap, "invalid request: messages[%u] must be an object", i);
            return msg;
        }
        struct gw_span role = mm[0].value.span;
        bool is_str = member_is(&mm[0], GW_JT_STRING);
        bool sys = is_str && gw_json_str_eq(role, "system");
        bool user = is_str && gw_json_str_eq(role, "user");
        bool asst = is_str && gw_json_str_eq(role, "assistant");
        bool tool = is_str && gw_json_str_eq(role, "tool");
        if (!sys && !user && !asst && !tool) {
            snprintf(msg, cap,
                     "invalid request: messages[%u].role must be one of system, user, "
                     "assistant, tool",
                     i);
            return msg;
        }
        const struct gw_json_member *content = &mm[1];
        if (tool && !member_is(&mm[3], GW_JT_STRING)) {
            snprintf(msg, cap, "invalid request: messages[%u].tool_call_id is required", i);
            return msg;
        }
        if (asst && !content->found && !member_is(&mm[2], GW_JT_ARR_BEGIN)) {
            snprintf(msg, cap, "invalid request: messages[%u] must have content or tool_calls", i);
            return msg;
        }
        if (!asst && !content->found) {
            snprintf(msg, cap, "invalid request: messages[%u].content is required", i);
            return msg;
        }
        if (content->found && content->value.type != GW_JT_STRING) {
            if (content->value.type != GW_JT_ARR_BEGIN) {
                snprintf(msg, cap,
                         "invalid request: messages[%u].content must be a string or a "
                         "list",
                         i);
                return msg;
            }
            const char *why = check_items(member_doc(sub.ptr, content), i, msg, cap);
            if (why)
                return why;
        }
        i++;
    }
    if (r != 0)
        return "invalid request: messages must be a list";
    return i ? NULL : "invalid request: messages must not be empty";
}

/*
 * tools: an array of {"type":"function","function":{"name":..,"parameters"?}};
 * the first one's name goes into plan.tool_name (else get_weather). NULL, or
 * the 400 message.
 */
static const char *take_tools(struct gw_mock_conn *c, const char *doc,
                              const struct gw_json_member *m, char *msg, size_t cap)
{
    static const char *const tk[] = {"type", "function"};
    static const char *const fk[] = {"name", "parameters"};
    struct gw_mock_plan *p = &c->plan;
    struct gw_json_member tv[2], fv[2];
    struct arr a;
    struct gw_json_tok t;
    struct gw_span sub;
    int r;
    gw_mock_tool_default(p);
    if (!m->found)
        return NULL;
    if (arr_open(&a, doc, m) != 0)
        return "invalid request: tools must be a list";
    unsigned i = 0;
    while ((r = arr_next(&a, &t, &sub)) == 1) {
        if (t.type != GW_JT_OBJ_BEGIN || gw_json_scan_object(sub.ptr, sub.len, tk, 2, tv) != 0 ||
            !member_is(&tv[0], GW_JT_STRING) || !gw_json_str_eq(tv[0].value.span, "function") ||
            !member_is(&tv[1], GW_JT_OBJ_BEGIN)) {
            snprintf(msg, cap,
                     "invalid request: tools[%u] must be {\"type\":\"function\","
                     "\"function\":{...}}",
                     i);
            return msg;
        }
        struct gw_span fn = member_doc(sub.ptr, &tv[1]);
        if (gw_json_scan_object(fn.ptr, fn.len, fk, 2, fv) != 0 ||
            !member_is(&fv[0], GW_JT_STRING)) {
            snprintf(msg, cap, "invalid request: tools[%u].function.name is required", i);
            return msg;
        }
        if (fv[1].found && fv[1].value.type != GW_JT_OBJ_BEGIN) {
            snprintf(msg, cap, "invalid request: tools[%u].function.parameters must be an object",
                     i);
            return msg;
        }
        if (i == 0) {
            size_t n = fv[0].value.end - fv[0].value.start;
            if (n > sizeof(p->tool_name))
                return "invalid request: tools[0].function.name is too long";
            memcpy(p->tool_name, fn.ptr + fv[0].value.start, n);
            p->tool_name_len = n;
        }
        i++;
    }
    return r == 0 ? NULL : "invalid request: tools must be a list";
}

/* ---- chat rendering ---- */

/* usage as Cohere reports it: billed units, the tokens the model saw, cached tokens. */
static void jw_c_usage(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "billed_units");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "input_tokens");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_key(jw, "output_tokens");
    gw_jw_uint(jw, p->output_tokens);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "tokens");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "input_tokens");
    gw_jw_uint(jw, p->prompt_tokens + C_TEMPLATE_TOKENS);
    gw_jw_key(jw, "output_tokens");
    gw_jw_uint(jw, p->output_tokens);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "cached_tokens");
    gw_jw_uint(jw, C_CACHED_TOKENS);
    gw_jw_obj_end(jw);
}

/* One tool call; with full the arguments, else "" (a stream's start). */
static void jw_tool_call(struct gw_jw *jw, const struct gw_mock_plan *p, bool full)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "id");
    gw_jw_cstr(jw, C_TOOL_ID);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, "function");
    gw_jw_key(jw, "function");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "name");
    gw_jw_raw(jw, p->tool_name, p->tool_name_len);
    gw_jw_key(jw, "arguments");
    gw_jw_cstr(jw, full ? GW_MOCK_TOOL_INPUT : "");
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

static void render_chat(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_body *a = arg;
    const struct gw_mock_plan *p = a->p;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "id");
    jw_uuid(jw, p->id);
    gw_jw_key(jw, "message");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "role");
    gw_jw_cstr(jw, "assistant");
    if (p->tool) {
        gw_jw_key(jw, "tool_plan");
        gw_jw_cstr(jw, C_TOOL_PLAN);
        gw_jw_key(jw, "tool_calls");
        gw_jw_arr_begin(jw);
        jw_tool_call(jw, p, true);
        gw_jw_arr_end(jw);
    } else {
        gw_jw_key(jw, "content");
        gw_jw_arr_begin(jw);
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "type");
        gw_jw_cstr(jw, "text");
        gw_jw_key(jw, "text");
        gw_jw_str(jw, a->text.ptr, a->text.len);
        gw_jw_obj_end(jw);
        gw_jw_arr_end(jw);
    }
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "finish_reason");
    gw_jw_cstr(jw, p->tool ? "TOOL_CALL" : "COMPLETE");
    jw_c_usage(jw, p);
    gw_jw_obj_end(jw);
}

/* The kinds of stream event. */
enum c_ev {
    C_EV_MESSAGE_START = 0,
    C_EV_CONTENT_START,
    C_EV_CONTENT_DELTA,
    C_EV_CONTENT_END,
    C_EV_TOOL_PLAN_DELTA,
    C_EV_TOOL_CALL_START,
    C_EV_TOOL_CALL_DELTA,
    C_EV_TOOL_CALL_END,
    C_EV_MESSAGE_END
};

static const char *const ev_names[] = {"message-start",   "content-start",   "content-delta",
                                       "content-end",     "tool-plan-delta", "tool-call-start",
                                       "tool-call-delta", "tool-call-end",   "message-end"};

/* Opens {"type":..,"index"?:..,"delta":{"message":{ and leaves the message open. */
static void ev_open_message(struct gw_jw *jw, bool index)
{
    if (index) {
        gw_jw_key(jw, "index");
        gw_jw_int(jw, 0);
    }
    gw_jw_key(jw, "delta");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "message");
    gw_jw_obj_begin(jw);
}

static void ev_close_message(struct gw_jw *jw)
{
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

/* Renders one event's JSON (arg: a struct gw_mock_event of kind enum c_ev). */
static void render_c_event(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_event *ev = arg;
    const struct gw_mock_plan *p = ev->p;
    enum c_ev kind = (enum c_ev)ev->kind;
    uint32_t index = ev->index;
    gw_jw_obj_begin(jw);
    if (kind == C_EV_MESSAGE_START) {
        gw_jw_key(jw, "id");
        jw_uuid(jw, p->id);
    }
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, ev_names[kind]);
    switch (kind) {
    case C_EV_MESSAGE_START:
        ev_open_message(jw, false);
        gw_jw_key(jw, "role");
        gw_jw_cstr(jw, "assistant");
        gw_jw_key(jw, "content");
        gw_jw_arr_begin(jw);
        gw_jw_arr_end(jw);
        gw_jw_key(jw, "tool_plan");
        gw_jw_cstr(jw, "");
        gw_jw_key(jw, "tool_calls");
        gw_jw_arr_begin(jw);
        gw_jw_arr_end(jw);
        gw_jw_key(jw, "citations");
        gw_jw_arr_begin(jw);
        gw_jw_arr_end(jw);
        ev_close_message(jw);
        break;
    case C_EV_CONTENT_START:
    case C_EV_CONTENT_DELTA: {
        char tok[GW_MOCK_TOKEN_CAP];
        struct gw_span t = gw_mock_token(tok, index);
        ev_open_message(jw, true);
        gw_jw_key(jw, "content");
        gw_jw_obj_begin(jw);
        if (kind == C_EV_CONTENT_START) {
            gw_jw_key(jw, "type");
            gw_jw_cstr(jw, "text");
        }
        gw_jw_key(jw, "text");
        gw_jw_str(jw, t.ptr, kind == C_EV_CONTENT_START ? 0 : t.len);
        gw_jw_obj_end(jw);
        ev_close_message(jw);
        break;
    }
    case C_EV_TOOL_PLAN_DELTA:
        ev_open_message(jw, false);
        gw_jw_key(jw, "tool_plan");
        gw_jw_cstr(jw, plan_pieces[index % GW_ARRAY_SIZE(plan_pieces)]);
        ev_close_message(jw);
        break;
    case C_EV_TOOL_CALL_START:
        ev_open_message(jw, true);
        gw_jw_key(jw, "tool_calls");
        jw_tool_call(jw, p, false);
        ev_close_message(jw);
        break;
    case C_EV_TOOL_CALL_DELTA:
        ev_open_message(jw, true);
        gw_jw_key(jw, "tool_calls");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "function");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "arguments");
        gw_jw_cstr(jw, gw_mock_tool_piece(index));
        gw_jw_obj_end(jw);
        gw_jw_obj_end(jw);
        ev_close_message(jw);
        break;
    case C_EV_CONTENT_END:
    case C_EV_TOOL_CALL_END:
        gw_jw_key(jw, "index");
        gw_jw_int(jw, 0);
        break;
    case C_EV_MESSAGE_END:
        gw_jw_key(jw, "delta");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "finish_reason");
        gw_jw_cstr(jw, p->tool ? "TOOL_CALL" : "COMPLETE");
        jw_c_usage(jw, p);
        gw_jw_obj_end(jw);
        break;
    }
    gw_jw_obj_end(jw);
}

/*
 * The stream (paced by reply.c): message-start and content-start with the
 * head (in tool mode message-start, the tool-plan-delta events and
 * tool-call-start); a content-delta per chunk (tool mode: tool-call-delta
 * pieces; plan.chunks counts them); then content-end (tool-call-end) and
 * message-end.
 */
static void c_stream_head(struct gw_mock_conn *c)
{
    gw_mock_put_event(c, C_EV_MESSAGE_START, 0, false);
    if (c->plan.tool) {
        for (uint32_t i = 0; i < GW_ARRAY_SIZE(plan_pieces); i++)
            gw_mock_put_event(c, C_EV_TOOL_PLAN_DELTA, i, false);
        gw_mock_put_event(c, C_EV_TOOL_CALL_START, 0, false);
    } else {
        gw_mock_put_event(c, C_EV_CONTENT_START, 0, false);
    }
}

static void c_stream_event(struct gw_mock_conn *c, uint32_t i, bool bad)
{
    const struct gw_mock_plan *p = &c->plan;
    enum c_ev paced = p->tool ? C_EV_TOOL_CALL_DELTA : C_EV_CONTENT_DELTA;
    enum c_ev closing = p->tool ? C_EV_TOOL_CALL_END : C_EV_CONTENT_END;
    gw_mock_put_event(c, i < p->chunks ? paced : closing, i, bad);
}

static void c_stream_tail(struct gw_mock_conn *c)
{
    gw_mock_put_event(c, C_EV_MESSAGE_END, 0, false);
}

const struct gw_mock_wire gw_mock_wire_cohere = {
    .tool_events = GW_MOCK_TOOL_PIECES,
    .bad_ctl = c_bad_ctl,
    .reply_status = c_reply_status,
    .render = render_chat,
    .event_render = render_c_event,
    .event_names = ev_names,
    .stream_head = c_stream_head,
    .stream_event = c_stream_event,
    .stream_tail = c_stream_tail,
};

/* ---- POST /v2/chat ---- */

static void chat(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const keys[] = {"model",
                                       "messages",
                                       "stream",
                                       "tools",
                                       "strict_tools",
                                       "documents",
                                       "citation_options",
                                       "response_format",
                                       "safety_mode",
                                       "max_tokens",
                                       "stop_sequences",
                                       "temperature",
                                       "seed",
                                       "frequency_penalty",
                                       "presence_penalty",
                                       "k",
                                       "p",
                                       "logprobs",
                                       "tool_choice",
                                       "thinking",
                                       "priority",
                                       "mock"};
    enum {
        K_MODEL,
        K_MSGS,
        K_STREAM,
        K_TOOLS,
        K_STRICT,
        K_DOCS,
        K_CITE,
        K_RF,
        K_SAFETY,
        K_MAX,
        K_STOP,
        K_TEMP,
        K_SEED,
        K_FREQ,
        K_PRES,
        K_K,
        K_P,
        K_LOGPROBS,
        K_TOOL_CHOICE,
        K_THINKING,
        K_PRIORITY,
        K_MOCK
    };
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    char msg[320];
    const char *why =
        scan_fields(body.ptr, body.len, keys, GW_ARRAY_SIZE(keys), m, msg, sizeof(msg));
    if (why) {
        c_bad_request(c, "%s", why);
        return;
    }
    if (!m[K_MODEL].found) {
        c_bad_request(c, "invalid request: a model parameter is required for this endpoint.");
        return;
    }
    if (gw_mock_take_model(c, body.ptr, &m[K_MODEL])) {
        c_bad_request(c, "invalid request: model must be a string of at most 254 characters");
        return;
    }
    why = check_messages(body.ptr, &m[K_MSGS], msg, sizeof(msg));
    if (why) {
        c_bad_request(c, "%s", why);
        return;
    }
    static const int bools[] = {K_STREAM, K_STRICT, K_LOGPROBS};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bools); i++) {
        const struct gw_json_member *b = &m[bools[i]];
        if (b->found && b->value.type != GW_JT_TRUE && b->value.type != GW_JT_FALSE) {
            c_bad_request(c, "invalid request: %s must be a boolean", keys[bools[i]]);
            return;
        }
    }
    bool stream = member_is(&m[K_STREAM], GW_JT_TRUE);
    if (m[K_MAX].found && (!member_int(&m[K_MAX]) || !member_range(&m[K_MAX], 1, 1e12))) {
        c_bad_request(c, "invalid request: max_tokens must be a positive integer");
        return;
    }
    if (!member_range(&m[K_TEMP], 0, 1e9)) {
        c_bad_request(c, "invalid request: temperature must be a non-negative number");
        return;
    }
    if (!member_range(&m[K_P], 0.01, 0.99)) {
        c_bad_request(c, "invalid request: p must be between 0.01 and 0.99 inclusive");
        return;
    }
    if (m[K_K].found && (!member_int(&m[K_K]) || !member_range(&m[K_K], 0, 500))) {
        c_bad_request(c, "invalid request: k must be an integer between 0 and 500 inclusive");
        return;
    }
    if (!member_range(&m[K_FREQ], 0, 1) || !member_range(&m[K_PRES], 0, 1)) {
        c_bad_request(c, "invalid request: frequency_penalty and presence_penalty must be "
                         "between 0 and 1 inclusive");
        return;
    }
    if (m[K_SEED].found && !member_int(&m[K_SEED])) {
        c_bad_request(c, "invalid request: seed must be an integer");
        return;
    }
    if (m[K_STOP].found) {
        struct arr a;
        struct gw_json_tok t;
        struct gw_span sub;
        int r, n = 0;
        if (arr_open(&a, body.ptr, &m[K_STOP]) != 0) {
            c_bad_request(c, "invalid request: stop_sequences must be a list of strings");
            return;
        }
        while ((r = arr_next(&a, &t, &sub)) == 1 && t.type == GW_JT_STRING)
            n++;
        if (r != 0 || n > 5) {
            c_bad_request(c, "invalid request: stop_sequences must be a list of at most 5 "
                             "strings");
            return;
        }
    }
    if (m[K_RF].found) {
        static const char *const rk[] = {"type", "json_schema"};
        struct gw_json_member rv[2];
        struct gw_span rf = member_doc(body.ptr, &m[K_RF]);
        bool ok = m[K_RF].value.type == GW_JT_OBJ_BEGIN &&
                  gw_json_scan_object(rf.ptr, rf.len, rk, 2, rv) == 0 &&
                  member_is(&rv[0], GW_JT_STRING);
        bool json = ok && gw_json_str_eq(rv[0].value.span, "json_object");
        if (!ok || (!json && !gw_json_str_eq(rv[0].value.span, "text")) ||
            (rv[1].found && (!json || rv[1].value.type != GW_JT_OBJ_BEGIN))) {
            c_bad_request(c, "invalid request: response_format must be {\"type\":\"text\"} or "
                             "{\"type\":\"json_object\",\"json_schema\"?:{...}}");
            return;
        }
    }
    why = take_tools(c, body.ptr, &m[K_TOOLS], msg, sizeof(msg));
    if (why) {
        c_bad_request(c, "%s", why);
        return;
    }
    if (m[K_TOOL_CHOICE].found) {
        const struct gw_json_member *tc = &m[K_TOOL_CHOICE];
        bool req = member_is(tc, GW_JT_STRING) && gw_json_str_eq(tc->value.span, "REQUIRED");
        bool none = member_is(tc, GW_JT_STRING) && gw_json_str_eq(tc->value.span, "NONE");
        if (!req && !none) {
            c_bad_request(c, "invalid request: tool_choice must be one of REQUIRED, NONE");
            return;
        }
        if (req && !m[K_TOOLS].found) {
            c_bad_request(c, "invalid request: tool_choice REQUIRED needs tools");
            return;
        }
    }
    gw_mock_answer(c, body, &m[K_MOCK], stream);
}

/* ---- POST /v2/embed ---- */

enum etype { ET_FLOAT = 0, ET_INT8, ET_UINT8, ET_BINARY, ET_UBINARY, ET_BASE64, ET_COUNT };
static const char *const etype_names[] = {"float", "int8", "uint8", "binary", "ubinary", "base64"};

struct embed_args {
    const struct gw_mock_plan *p;
    const struct gw_span *texts; /* each input's text (raw, inside the quotes) */
    size_t n;
    bool want[ET_COUNT];
    unsigned dims;
    bool echo_texts;
};

static long round_half(double v)
{
    return v < 0 ? (long)(v - 0.5) : (long)(v + 0.5);
}

static void jw_base64_floats(struct gw_jw *jw, uint64_t h, double inv, unsigned dims)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4 * ((1536 * 4 + 2) / 3) + 4];
    size_t o = 0, nb = (size_t)dims * 4;
    unsigned char bytes[1536 * 4];
    for (unsigned i = 0; i < dims; i++) {
        float f = (float)gw_mock_vec_at(h, inv, i);
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int b = 0; b < 4; b++)
            bytes[i * 4 + (unsigned)b] = (unsigned char)(u >> (8 * b));
    }
    for (size_t i = 0; i < nb; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16;
        if (i + 1 < nb)
            v |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < nb)
            v |= bytes[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < nb ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < nb ? tbl[v & 63] : '=';
    }
    gw_jw_str(jw, out, o);
}

/* One input's embedding in one type. */
static void jw_vector(struct gw_jw *jw, enum etype t, struct gw_span text, unsigned dims)
{
    uint64_t h = gw_mock_fnv1a(GW_MOCK_FNV_SEED, text.ptr, text.len);
    double inv = gw_mock_vec_scale(h, dims);
    if (t == ET_BASE64) {
        jw_base64_floats(jw, h, inv, dims);
        return;
    }
    gw_jw_arr_begin(jw);
    if (t == ET_BINARY || t == ET_UBINARY) {
        for (unsigned i = 0; i < dims; i += 8) {
            unsigned byte = 0;
            for (unsigned b = 0; b < 8 && i + b < dims; b++)
                byte |= (gw_mock_vec_at(h, inv, i + b) > 0 ? 1u : 0u) << (7 - b);
            gw_jw_int(jw, t == ET_BINARY ? (int64_t)byte - 128 : (int64_t)byte);
        }
    } else {
        for (unsigned i = 0; i < dims; i++) {
            double v = gw_mock_vec_at(h, inv, i);
            if (t == ET_FLOAT)
                gw_jw_double(jw, v);
            else if (t == ET_INT8)
                gw_jw_int(jw, round_half(v * 127.0));
            else
                gw_jw_int(jw, round_half((v + 1.0) * 127.5));
        }
    }
    gw_jw_arr_end(jw);
}

static void render_embed(struct gw_jw *jw, const void *arg)
{
    const struct embed_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "id");
    jw_uuid(jw, a->p->id);
    gw_jw_key(jw, "embeddings");
    gw_jw_obj_begin(jw);
    for (int t = 0; t < ET_COUNT; t++) {
        if (!a->want[t])
            continue;
        gw_jw_key(jw, etype_names[t]);
        gw_jw_arr_begin(jw);
        for (size_t i = 0; i < a->n; i++)
            jw_vector(jw, (enum etype)t, a->texts[i], a->dims);
        gw_jw_arr_end(jw);
    }
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "texts");
    gw_jw_arr_begin(jw);
    for (size_t i = 0; i < a->n && a->echo_texts; i++) /* the string tokens as sent */
        gw_jw_raw(jw, a->texts[i].ptr - 1, a->texts[i].len + 2);
    gw_jw_arr_end(jw);
    gw_jw_key(jw, "meta");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "api_version");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "version");
    gw_jw_cstr(jw, "2");
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "billed_units");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "input_tokens");
    gw_jw_uint(jw, a->p->prompt_tokens);
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "response_type");
    gw_jw_cstr(jw, "embeddings_by_type");
    gw_jw_obj_end(jw);
}

static void embed(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const keys[] = {
        "model",      "input_type",       "texts",           "images",   "inputs",
        "max_tokens", "output_dimension", "embedding_types", "truncate", "priority",
        "mock"};
    enum {
        K_MODEL,
        K_ITYPE,
        K_TEXTS,
        K_IMAGES,
        K_INPUTS,
        K_MAX,
        K_DIM,
        K_TYPES,
        K_TRUNCATE,
        K_PRIORITY,
        K_MOCK
    };
    static const char *const itypes[] = {"search_document", "search_query", "classification",
                                         "clustering", "image"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    char msg[320];
    const char *why =
        scan_fields(body.ptr, body.len, keys, GW_ARRAY_SIZE(keys), m, msg, sizeof(msg));
    if (why) {
        c_bad_request(c, "%s", why);
        return;
    }
    if (!m[K_MODEL].found || gw_mock_take_model(c, body.ptr, &m[K_MODEL])) {
        c_bad_request(c, "invalid request: a model parameter is required for this endpoint.");
        return;
    }
    bool itype_ok = false;
    for (size_t i = 0; i < GW_ARRAY_SIZE(itypes) && member_is(&m[K_ITYPE], GW_JT_STRING); i++)
        itype_ok |= gw_json_str_eq(m[K_ITYPE].value.span, itypes[i]);
    if (!itype_ok) {
        c_bad_request(c, "invalid request: valid input_type must be provided with the provided "
                         "model");
        return;
    }
    struct embed_args a = {.p = p, .dims = C_EMBED_DIMS};
    if (!m[K_TYPES].found) {
        c_bad_request(c, "invalid request: embedding_types is required for embed models v3 and "
                         "higher");
        return;
    }
    struct arr ar;
    struct gw_json_tok t;
    struct gw_span sub;
    int r, ntypes = 0;
    if (arr_open(&ar, body.ptr, &m[K_TYPES]) != 0) {
        c_bad_request(c, "invalid request: embedding_types must be a list");
        return;
    }
    while ((r = arr_next(&ar, &t, &sub)) == 1) {
        int k = -1;
        for (int e = 0; e < ET_COUNT && t.type == GW_JT_STRING && k < 0; e++)
            if (gw_json_str_eq(t.span, etype_names[e]))
                k = e;
        if (k < 0) {
            c_bad_request(c, "invalid request: embedding_types must be among float, int8, "
                             "uint8, binary, ubinary, base64");
            return;
        }
        a.want[k] = true;
        ntypes++;
    }
    if (r != 0 || ntypes == 0) {
        c_bad_request(c, "invalid request: embedding_types must be a non-empty list");
        return;
    }
    if (m[K_DIM].found) {
        bool ok = member_int(&m[K_DIM]);
        uint64_t d = 0;
        ok = ok && gw_json_to_u64(m[K_DIM].value.span, &d) &&
             (d == 256 || d == 512 || d == 1024 || d == 1536);
        if (!ok) {
            c_bad_request(c, "invalid request: output_dimension must be one of 256, 512, 1024, "
                             "1536");
            return;
        }
        a.dims = (unsigned)d;
    }
    if (m[K_TRUNCATE].found && !(member_is(&m[K_TRUNCATE], GW_JT_STRING) &&
                                 (gw_json_str_eq(m[K_TRUNCATE].value.span, "NONE") ||
                                  gw_json_str_eq(m[K_TRUNCATE].value.span, "START") ||
                                  gw_json_str_eq(m[K_TRUNCATE].value.span, "END")))) {
        c_bad_request(c, "invalid request: truncate must be one of NONE, START, END");
        return;
    }
    /* The inputs: texts (strings), or inputs (objects, embedded by their JSON text). */
    const struct gw_json_member *in = m[K_TEXTS].found ? &m[K_TEXTS] : &m[K_INPUTS];
    if (!in->found || arr_open(&ar, body.ptr, in) != 0) {
        c_bad_request(c, "invalid request: one of texts, images or inputs must be provided");
        return;
    }
    struct gw_span texts[C_MAX_TEXTS];
    size_t n = 0;
    while ((r = arr_next(&ar, &t, &sub)) == 1) {
        bool ok = in == &m[K_TEXTS] ? t.type == GW_JT_STRING : t.type == GW_JT_OBJ_BEGIN;
        if (!ok) {
            c_bad_request(c, "invalid request: %s must be a list of %s", keys[in - m],
                          in == &m[K_TEXTS] ? "strings" : "objects");
            return;
        }
        if (n == C_MAX_TEXTS) {
            c_bad_request(c, "invalid request: total number of texts must be at most 96");
            return;
        }
        texts[n++] = t.type == GW_JT_STRING ? t.span : gw_span_make(sub.ptr + 1, sub.len - 2);
    }
    if (r != 0 || n == 0) {
        c_bad_request(c, "invalid request: %s must not be empty", keys[in - m]);
        return;
    }
    a.texts = texts;
    a.n = n;
    a.echo_texts = in == &m[K_TEXTS];
    gw_mock_answer_json(c, body, &m[K_MOCK], render_embed, &a);
}

/* ---- the endpoint ---- */

void gw_mock_cohere(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                    struct gw_span body)
{
    c->plan.dialect = GW_MOCK_DIALECT_COHERE;
    if (check_auth(c, req) < 0)
        return;
    bool post = gw_mock_span_is(req->method, "POST");
    if (post && gw_mock_span_is(path, "/v2/chat")) {
        chat(c, body);
    } else if (post && gw_mock_span_is(path, "/v2/embed")) {
        embed(c, body);
    } else {
        char msg[320];
        snprintf(msg, sizeof(msg), "404 page not found: %.*s %.*s",
                 (int)GW_MIN(req->method.len, 16), req->method.ptr, (int)GW_MIN(path.len, 256),
                 path.ptr);
        c_reply_error(c, 404, msg, NULL);
    }
}
