/*
 * providers/anthropic.c — OpenAI chat completions <-> Anthropic Messages API.
 *
 * Wire formats follow Anthropic's Messages API reference: request fields
 * (model, max_tokens, system, messages with text/image/tool_use/tool_result
 * blocks, stop_sequences, tools with input_schema, tool_choice), the message
 * object (content blocks, stop_reason, usage with cache tokens), the error
 * shape, and the SSE events of a streamed message. This file holds only the
 * mapping: JSON is read through providers/jv.h (strings are copied as their
 * raw, already escaped text whenever they pass through unchanged), the
 * OpenAI request through providers/oreq.h (its walk hands this file the
 * conversation piece by piece), the OpenAI side is written by
 * providers/oai.h, and the event stream is framed by core/sse.h's reader.
 * The request body is bounded by providers/xbound.h (400 past its limit)
 * and function names follow its rule (1 to 64 of [a-zA-Z0-9_-],
 * Anthropic's too).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/json.h"
#include "core/span.h"
#include "core/sse.h"
#include "providers/anthropic.h"
#include "providers/dialect.h"
#include "providers/jv.h"
#include "providers/oai.h"
#include "providers/oreq.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* The provider's anthropic_version; the default when unset (config fills it in). */
static const char *prov_version(const struct gw_provider *p)
{
    if (p && p->anthropic_version && p->anthropic_version[0])
        return p->anthropic_version;
    return GW_ANTHROPIC_VERSION_DEFAULT;
}

/* ---- request: OpenAI -> Anthropic ---- */

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    int open; /* the role (enum gw_oreq_role) whose message's content array is open */
};

/*
 * Opens a message of `role` (user or assistant) for the next content block
 * unless one is open: consecutive messages of one role (tool results after
 * each other, or a user turn after them) become one Anthropic message, as
 * parallel tool results must; a message with no block is never written.
 */
static void begin_block(struct bctx *c, enum gw_oreq_role role)
{
    const char *name = role == GW_OREQ_ROLE_USER ? "user" : "assistant";
    (void)gw_oreq_turn(&c->w, &c->open, (int)role, name, "content");
}

/* An image_url part's URL -> an image block (data: base64 or http(s) URL). */
static int image_block(struct bctx *c, const struct gw_jv *part)
{
    struct gw_oreq_url u;
    if (gw_oreq_image_url(part, c->a, c->err, &u) != 0)
        return -1;
    if (u.kind == GW_OREQ_URL_OTHER)
        return gw_xlate_fail(c->err, "messages", "image URLs must be http(s) or data: URLs");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "image");
    gw_jw_key(&c->w, "source");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    if (u.kind == GW_OREQ_URL_DATA) {
        gw_jw_cstr(&c->w, "base64");
        gw_jw_key(&c->w, "media_type");
        gw_jw_str(&c->w, u.media.ptr, u.media.len);
        gw_jw_key(&c->w, "data");
        gw_jw_str(&c->w, u.data.ptr, u.data.len);
    } else {
        gw_jw_cstr(&c->w, "url");
        gw_jw_key(&c->w, "url");
        gw_jw_str(&c->w, u.url.ptr, u.url.len);
    }
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * A part (gw_oreq_walk) -> a text or an image block, in a message of its role
 * (a tool result's parts go inside the tool_result block).
 */
static int on_part(void *arg, enum gw_oreq_role role, const struct gw_oreq_part *p)
{
    struct bctx *c = arg;
    if (role != GW_OREQ_ROLE_TOOL)
        begin_block(c, role);
    if (p->kind == GW_OREQ_PART_TEXT) {
        gw_oreq_text_part(&c->w, &p->text);
        return 0;
    }
    return image_block(c, &p->part);
}

/* An assistant tool call (gw_oreq_walk) -> a tool_use block. */
static int on_call(void *arg, const struct gw_oreq_call *call)
{
    struct bctx *c = arg;
    begin_block(c, GW_OREQ_ROLE_ASSISTANT);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "tool_use");
    gw_oreq_call_members(&c->w, call, "id", "input");
    gw_jw_obj_end(&c->w);
    return 0;
}

/* A tool message (gw_oreq_walk) -> a tool_result block in a user message. */
static int on_result(void *arg, const struct gw_oreq_msg *m, const struct gw_oreq_walk *w)
{
    struct bctx *c = arg;
    const struct gw_jv *id = &m->tool_call_id, *content = &m->content;
    begin_block(c, GW_OREQ_ROLE_USER);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "tool_result");
    gw_jw_key(&c->w, "tool_use_id");
    gw_jw_raw(&c->w, id->raw.ptr, id->raw.len);
    if (gw_jv_is(content, GW_JT_STRING)) {
        gw_jw_key(&c->w, "content");
        gw_jw_raw(&c->w, content->raw.ptr, content->raw.len);
    } else if (gw_jv_is(content, GW_JT_ARR_BEGIN)) {
        gw_jw_key(&c->w, "content");
        gw_jw_arr_begin(&c->w);
        if (gw_oreq_walk_parts(w, GW_OREQ_ROLE_TOOL, content, c, c->err) != 0)
            return -1;
        gw_jw_arr_end(&c->w);
    } else if (content->found) {
        return gw_xlate_fail(c->err, "messages", "tool message content must be a string or parts");
    }
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * The conversation: text in every message, images in user and tool
 * messages; tool call arguments must be a JSON object (tool_use.input).
 * Empty text is dropped: Anthropic refuses empty text blocks.
 */
static const struct gw_oreq_walk walk = {
    .part = on_part,
    .call = on_call,
    .result = on_result,
    GW_OREQ_WALK_IMAGES_USER_TOOL,
    .object_args = true,
};

/* System and developer messages' text, joined with "\n\n", unescaped, in the arena. */
static int collect_system(struct bctx *c, const struct gw_jv *msgs, size_t total, char **out,
                          size_t *out_len)
{
    struct gw_oreq_system it;
    struct gw_jv text;
    char *buf = gw_arena_alloc(c->a, total + 1);
    size_t n = 0;
    int r;
    if (!buf)
        return gw_xlate_fail_mem(c->err);
    if (gw_oreq_system_begin(&it, msgs, c->err) != 0)
        return -1;
    while ((r = gw_oreq_system_next(&it, &text)) == 1) {
        if (n) {
            memcpy(buf + n, "\n\n", 2);
            n += 2;
        }
        long k = gw_json_unescape(text.str, buf + n, total - n);
        if (k < 0)
            return gw_xlate_fail(c->err, "messages", "invalid system text");
        n += (size_t)k;
    }
    if (r != 0)
        return -1;
    *out = buf;
    *out_len = n;
    return 0;
}

/* The conversation -> "messages"; system and developer messages went to "system". */
static int write_messages(struct bctx *c, const struct gw_jv *msgs)
{
    gw_jw_key(&c->w, "messages");
    gw_jw_arr_begin(&c->w);
    if (gw_oreq_walk(msgs, &walk, c, c->a, c->err) != 0)
        return -1;
    gw_oreq_turn_close(&c->w, &c->open);
    gw_jw_arr_end(&c->w);
    return 0;
}

static int write_tools(struct bctx *c, const struct gw_jv *tools)
{
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    int r;
    if (gw_oreq_tools_begin(&it, tools, NULL, c->a, c->err) != 0)
        return -1;
    gw_jw_key(&c->w, "tools");
    gw_jw_arr_begin(&c->w);
    while ((r = gw_oreq_tools_next(&it, &t)) == 1) {
        gw_jw_obj_begin(&c->w);
        gw_oreq_tool_head(&c->w, &t);
        gw_jw_key(&c->w, "input_schema");
        gw_oreq_tool_params(&c->w, &t);
        gw_jw_obj_end(&c->w);
    }
    gw_jw_arr_end(&c->w);
    return r;
}

/* tool_choice (with tools) -> Anthropic's; parallel_tool_calls false needs one too. */
static int write_tool_choice(struct bctx *c, const struct gw_jv *tc, bool no_parallel)
{
    static const char *const types[GW_OREQ_TC_COUNT] = {[GW_OREQ_TC_ABSENT] = "auto",
                                                        [GW_OREQ_TC_AUTO] = "auto",
                                                        [GW_OREQ_TC_REQUIRED] = "any",
                                                        [GW_OREQ_TC_NONE] = "none",
                                                        [GW_OREQ_TC_FUNCTION] = "tool"};
    struct gw_oreq_choice ch;
    if (gw_oreq_tool_choice(tc, NULL, c->a, c->err, &ch) != 0)
        return -1;
    if (ch.mode == GW_OREQ_TC_ABSENT && !no_parallel)
        return 0;
    gw_jw_key(&c->w, "tool_choice");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, types[ch.mode]);
    if (ch.mode == GW_OREQ_TC_FUNCTION) {
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, ch.name.raw.ptr, ch.name.raw.len);
    }
    if (no_parallel && ch.mode != GW_OREQ_TC_NONE) {
        gw_jw_key(&c->w, "disable_parallel_tool_use");
        gw_jw_bool(&c->w, true);
    }
    gw_jw_obj_end(&c->w);
    return 0;
}

static const char warn_version[] =
    "sent with anthropic-version 2023-06-01: 2026-10-21 refuses temperature, top_p and top_k";

int gw_anthropic_build_request(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    static const enum gw_oreq_key sampling[] = {GW_RQ_TEMPERATURE, GW_RQ_TOP_P, GW_RQ_TOP_K};
    struct gw_jv v[GW_RQ_COUNT];
    struct bctx c = {.a = x->arena, .err = err};
    const struct gw_jv *max;
    if (gw_oreq_chat(body, len, v, out, err) != 0 || gw_oreq_one_choice(&v[GW_RQ_N], err) != 0 ||
        gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, err) != 0 ||
        gw_oreq_numbers(v, sampling, GW_ARRAY_SIZE(sampling), err) != 0)
        return -1;
    bool any_sampling = false;
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++)
        any_sampling |= v[sampling[i]].found;
    bool no_parallel = gw_jv_is(&v[GW_RQ_PARALLEL_TOOL_CALLS], GW_JT_FALSE);

    char *sys = NULL;
    size_t sys_len = 0;
    if (collect_system(&c, &v[GW_RQ_MESSAGES], len, &sys, &sys_len) != 0)
        return -1;
    /* Tool arguments get shorter when decoded, like every other string. */
    struct gw_xbound b;
    if (gw_oreq_body_begin(&c.w, &b, x, len, 0, &v[GW_RQ_MODEL], err) != 0)
        return -1;
    gw_jw_key(&c.w, "max_tokens");
    if (max->found)
        gw_jw_raw(&c.w, max->raw.ptr, max->raw.len);
    else
        gw_jw_uint(&c.w, 4096);
    if (sys_len) {
        gw_jw_key(&c.w, "system");
        gw_jw_str(&c.w, sys, sys_len);
    }
    if (write_messages(&c, &v[GW_RQ_MESSAGES]) != 0)
        return -1;
    if (v[GW_RQ_STOP].found) {
        if (gw_oreq_stop(&v[GW_RQ_STOP], 0, err) < 0)
            return -1;
        gw_jw_key(&c.w, "stop_sequences");
        gw_oreq_stop_write(&c.w, &v[GW_RQ_STOP]);
    }
    gw_oreq_copy(&c.w, v, sampling, GW_ARRAY_SIZE(sampling));
    if (gw_jv_is(&v[GW_RQ_STREAM], GW_JT_TRUE)) {
        gw_jw_key(&c.w, "stream");
        gw_jw_bool(&c.w, true);
    }
    gw_oreq_mock(&c.w, &v[GW_RQ_MOCK]);
    if (gw_jv_is(&v[GW_RQ_USER], GW_JT_STRING)) {
        gw_jw_key(&c.w, "metadata");
        gw_jw_obj_begin(&c.w);
        gw_jw_key(&c.w, "user_id");
        gw_jw_raw(&c.w, v[GW_RQ_USER].raw.ptr, v[GW_RQ_USER].raw.len);
        gw_jw_obj_end(&c.w);
    }
    if (v[GW_RQ_TOOLS].found) {
        if (write_tools(&c, &v[GW_RQ_TOOLS]) != 0)
            return -1;
        if (write_tool_choice(&c, &v[GW_RQ_TOOL_CHOICE], no_parallel) != 0)
            return -1;
    }
    if (gw_oreq_body_end(&c.w, &b, out, err) != 0)
        return -1;

    /* The version rule (issue 4): 2026-10-21 refuses every sampling parameter. */
    const char *ver = prov_version(x->prov);
    bool bearer = strcmp(ver, GW_ANTHROPIC_VERSION_2026) == 0;
    if (bearer && any_sampling) {
        ver = GW_ANTHROPIC_VERSION_DEFAULT;
        bearer = false;
        out->warning = warn_version;
    }
    const char *key = x->prov && x->prov->api_key ? x->prov->api_key : "";
    size_t hcap = strlen(ver) + strlen(key) + 64;
    char *h = gw_arena_alloc(x->arena, hcap);
    if (!h)
        return gw_xlate_fail_mem(err);
    int hn;
    if (!key[0])
        hn = snprintf(h, hcap, "anthropic-version: %s\r\n", ver);
    else if (bearer)
        hn = snprintf(h, hcap, "anthropic-version: %s\r\nauthorization: Bearer %s\r\n", ver, key);
    else
        hn = snprintf(h, hcap, "anthropic-version: %s\r\nx-api-key: %s\r\n", ver, key);
    GW_BUG_ON(hn < 0 || (size_t)hn >= hcap);

    out->path = "/v1/messages";
    out->headers = gw_span_make(h, (size_t)hn);
    return 0;
}

/* ---- response: Anthropic -> OpenAI ---- */

static const char *finish_reason(const struct gw_jv *stop)
{
    if (gw_jv_streq(stop, "max_tokens") || gw_jv_streq(stop, "model_context_window_exceeded"))
        return "length";
    if (gw_jv_streq(stop, "tool_use"))
        return "tool_calls";
    if (gw_jv_streq(stop, "refusal"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn */
}

/*
 * Anthropic's usage counters (U_*), as the header's _usage holds them.
 * input_tokens counts only the uncached input, so OpenAI's prompt_tokens is
 * its sum with the cache reads and writes. Anthropic reports no separate
 * count of thinking tokens: reasoning_tokens stays 0.
 */
enum { U_IN, U_OUT, U_READ, U_CREATION, U_COUNT };
_Static_assert(sizeof(((struct gw_anthropic_stream *)0)->_usage) == U_COUNT * sizeof(uint64_t),
               "the stream holds every counter");

/* Updates the counters that the usage object carries (a stream sends them in parts). */
static void read_usage(const struct gw_jv *usage, uint64_t n[U_COUNT])
{
    static const char *const k[U_COUNT] = {
        "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"};
    struct gw_jv v[U_COUNT];
    if (gw_jv_scan_obj(usage, k, U_COUNT, v) != 0)
        return;
    for (size_t i = 0; i < U_COUNT; i++) {
        uint64_t x;
        if (gw_jv_u64(&v[i], &x))
            n[i] = x;
    }
}

static struct gw_xlate_usage to_usage(const uint64_t n[U_COUNT])
{
    return (struct gw_xlate_usage){
        .prompt_tokens =
            gw_xlate_tokens_add(gw_xlate_tokens_add(n[U_IN], n[U_READ]), n[U_CREATION]),
        .completion_tokens = n[U_OUT],
        .cached_tokens = n[U_READ],
        .cache_creation_tokens = n[U_CREATION],
        .have = true,
    };
}

/* A content block (a gw_oai_block_fn): text, tool_use, or one not translated (thinking, ...). */
static int read_block(const struct gw_jv *b, struct gw_jv *text, struct gw_oai_call *call)
{
    static const char *const bk[] = {"type", "text", "id", "name", "input"};
    struct gw_jv bv[5];
    if (gw_jv_scan_obj(b, bk, 5, bv) != 0)
        return -1;
    if (gw_jv_streq(&bv[0], "text") && gw_jv_is(&bv[1], GW_JT_STRING)) {
        *text = bv[1];
        return GW_OAI_BLOCK_TEXT;
    }
    if (!gw_jv_streq(&bv[0], "tool_use"))
        return GW_OAI_BLOCK_OTHER;
    if (!gw_jv_is(&bv[2], GW_JT_STRING) || !gw_jv_is(&bv[3], GW_JT_STRING))
        return -1;
    /* input is an object: OpenAI carries it as a JSON string */
    *call = (struct gw_oai_call){
        .index = -1, .id = bv[2].raw, .name = bv[3].raw, .args = bv[4].raw, .args_text = true};
    return GW_OAI_BLOCK_CALL;
}

int gw_anthropic_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                    struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const mk[] = {"type", "content", "stop_reason", "usage"};
    struct gw_jv mv[4];
    struct gw_jw w;
    *out = GW_SPAN_NULL;
    if (gw_jv_scan(gw_span_make(body, len), mk, 4, mv) != 0 || !gw_jv_streq(&mv[0], "message") ||
        !gw_jv_is(&mv[1], GW_JT_ARR_BEGIN) ||
        gw_oai_message_blocks(&w, x, len, &mv[1], read_block) != 0)
        return -1;
    gw_oai_choice_end(&w, false, finish_reason(&mv[2]));

    uint64_t n[U_COUNT] = {0};
    read_usage(&mv[3], n);
    struct gw_xlate_usage usage = to_usage(n);
    return gw_oai_completion_close(&w, &usage, out, u);
}

/* ---- errors ---- */

struct err_map {
    const char *anth; /* Anthropic error.type */
    int status;       /* the status the client sees */
    const char *type; /* OpenAI error.type */
    const char *code; /* OpenAI error.code, or NULL */
};

static const struct err_map err_maps[] = {
    {"invalid_request_error", 400, "invalid_request_error", NULL},
    {"authentication_error", 401, "invalid_request_error", "invalid_api_key"},
    {"billing_error", 402, "insufficient_quota", "insufficient_quota"},
    {"permission_error", 403, "permission_error", NULL},
    {"not_found_error", 404, "invalid_request_error", "not_found"},
    {"request_too_large", 413, "invalid_request_error", "request_too_large"},
    {"rate_limit_error", 429, "rate_limit_error", "rate_limit_exceeded"},
    {"api_error", 500, "server_error", NULL},
    {"timeout_error", 504, "server_error", "timeout"},
    {"overloaded_error", 503, "server_error", "overloaded"},
};

static const struct err_map *err_lookup(const struct gw_jv *type)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(err_maps); i++)
        if (gw_jv_streq(type, err_maps[i].anth))
            return &err_maps[i];
    return NULL;
}

/*
 * Anthropic's error object err_obj ({"type","message"}; absent or another
 * shape: nothing known) with HTTP `status` -> OpenAI's error in *e, whose
 * spans point into err_obj or msg[0..cap). Returns the status the client
 * sees: the mapped type's, else the upstream's (529 overloaded as 503).
 */
static int map_error(const struct gw_jv *err_obj, int status, struct gw_oai_error *e, char *msg,
                     size_t cap)
{
    static const char *const k[] = {"type", "message"};
    struct gw_jv v[2];
    (void)gw_jv_scan_obj(err_obj, k, 2, v);
    const struct err_map *m = err_lookup(&v[0]);
    int st = status == 529 ? 503 : gw_oai_client_status(status);
    if (m)
        st = m->status;
    *e = (struct gw_oai_error){.code = m ? m->code : NULL};
    if (gw_jv_is(&v[1], GW_JT_STRING)) {
        e->message = v[1].raw;
        e->message_json = true;
    } else {
        e->message = gw_oai_status_message(msg, cap, status);
    }
    if (m) {
        e->type = gw_span_cstr(m->type);
    } else if (gw_jv_is(&v[0], GW_JT_STRING)) {
        e->type = v[0].raw;
        e->type_json = true;
    } else {
        e->type = gw_span_cstr(st >= 500 ? "server_error" : "invalid_request_error");
    }
    return st;
}

int gw_anthropic_translate_error(int status, struct gw_span error_type, const char *body,
                                 size_t len, struct gw_arena *a, struct gw_span *out,
                                 int *out_status)
{
    (void)error_type; /* one status, one error: the body says which */
    static const char *const k[] = {"error"};
    struct gw_jv err; /* absent when the body is not Anthropic's error shape */
    (void)gw_jv_scan(gw_span_make(body, len), k, 1, &err);
    struct gw_oai_error e;
    char msg[64];
    int st = map_error(&err, status, &e, msg, sizeof(msg));
    return gw_oai_error_body(a, &e, st, out, out_status);
}

/* ---- stream ---- */

void gw_anthropic_stream_init(struct gw_anthropic_stream *s, const struct gw_xlate *x)
{
    memset(s, 0, sizeof(*s));
    gw_oai_stream_init(&s->_o, x);
    gw_sse_reader_init(&s->_sse, x->arena, GW_ANTHROPIC_EVENT_MAX);
}

static void report_usage(const struct gw_anthropic_stream *s, struct gw_xlate_usage *u)
{
    if (u)
        *u = to_usage(s->_usage);
}

static const char *const ev_keys[] = {"type",  "message", "content_block",
                                      "delta", "usage",   "error"};
enum { EK_TYPE, EK_MESSAGE, EK_BLOCK, EK_DELTA, EK_USAGE, EK_ERROR, EK_COUNT };

/*
 * One event's data (JSON) -> chunks (a gw_oai_event_fn). The data's "type"
 * says what the event is; the SSE event name repeats it. 0, 1 when the
 * stream ended, -1.
 */
static int on_event(void *st, struct gw_span event, struct gw_span data,
                    const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    struct gw_anthropic_stream *s = st;
    struct gw_oai_stream *o = &s->_o;
    (void)event;
    struct gw_jv v[EK_COUNT];
    if (gw_jv_scan(data, ev_keys, EK_COUNT, v) != 0 || !gw_jv_is(&v[EK_TYPE], GW_JT_STRING))
        return gw_oai_stream_fail(o, sink, "invalid event in the upstream stream", -1);
    const struct gw_jv *type = &v[EK_TYPE];

    if (gw_jv_streq(type, "message_start")) {
        struct gw_jv mu = gw_jv_member(&v[EK_MESSAGE], "usage");
        read_usage(&mu, s->_usage);
        report_usage(s, u);
        if (s->_started)
            return 0;
        s->_started = true;
        return gw_oai_chunk_content(o, sink, 0, gw_span_make("\"\"", 2));
    }
    if (gw_jv_streq(type, "content_block_start")) {
        static const char *const bk[] = {"type", "id", "name"};
        struct gw_jv bv[3];
        if (gw_jv_scan_obj(&v[EK_BLOCK], bk, 3, bv) != 0)
            return gw_oai_stream_fail(o, sink, "invalid content_block_start upstream", -1);
        if (!gw_jv_streq(&bv[0], "tool_use"))
            return 0; /* text (deltas follow), thinking and server blocks: nothing yet */
        if (!gw_jv_is(&bv[1], GW_JT_STRING) || !gw_jv_is(&bv[2], GW_JT_STRING))
            return gw_oai_stream_fail(o, sink, "invalid tool_use block upstream", -1);
        /* the arguments follow in input_json_delta events */
        struct gw_oai_call c = {.index = s->_tool_count++, .id = bv[1].raw, .name = bv[2].raw};
        return gw_oai_chunk_tool_call(o, sink, 0, &c);
    }
    if (gw_jv_streq(type, "content_block_delta")) {
        static const char *const dk[] = {"type", "text", "partial_json"};
        struct gw_jv dv[3];
        if (gw_jv_scan_obj(&v[EK_DELTA], dk, 3, dv) != 0)
            return gw_oai_stream_fail(o, sink, "invalid content_block_delta upstream", -1);
        bool text = gw_jv_streq(&dv[0], "text_delta") && gw_jv_is(&dv[1], GW_JT_STRING);
        bool args = gw_jv_streq(&dv[0], "input_json_delta") && gw_jv_is(&dv[2], GW_JT_STRING) &&
                    s->_tool_count > 0;
        if ((!text && !args) || (text && dv[1].str.len == 0) || (args && dv[2].str.len == 0))
            return 0; /* thinking, signature and citation deltas are not translated */
        if (text)
            return gw_oai_chunk_content(o, sink, 0, dv[1].raw);
        struct gw_oai_call c = {.index = s->_tool_count - 1, .args = dv[2].raw};
        return gw_oai_chunk_tool_call(o, sink, 0, &c);
    }
    if (gw_jv_streq(type, "message_delta")) {
        struct gw_jv stop = gw_jv_member(&v[EK_DELTA], "stop_reason");
        read_usage(&v[EK_USAGE], s->_usage);
        report_usage(s, u);
        if (!stop.found || s->_finish_sent)
            return 0;
        s->_finish_sent = true;
        return gw_oai_chunk_finish(o, sink, 0, finish_reason(&stop));
    }
    if (gw_jv_streq(type, "message_stop")) {
        if (!s->_finish_sent) {
            s->_finish_sent = true;
            if (gw_oai_chunk_finish(o, sink, 0, "stop") != 0)
                return -1;
        }
        report_usage(s, u);
        struct gw_xlate_usage total = to_usage(s->_usage);
        return gw_oai_stream_finish(o, sink, &total);
    }
    if (gw_jv_streq(type, "error")) {
        /* Anthropic's documented mid-stream error (e.g. overloaded_error): the
         * stream ends as the upstream meant it to, with OpenAI's error chunk. */
        struct gw_oai_error e;
        char msg[64];
        (void)map_error(&v[EK_ERROR], 500, &e, msg, sizeof(msg));
        return gw_oai_stream_error(o, sink, &e, 1);
    }
    return 0; /* ping, content_block_stop, and event types added later */
}

int gw_anthropic_stream_feed(struct gw_anthropic_stream *s, const char *data, size_t len,
                             const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    return gw_oai_stream_feed_sse(&s->_o, &s->_sse, data, len, on_event, s, sink, u);
}

int gw_anthropic_stream_end(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                            struct gw_xlate_usage *u)
{
    (void)u;
    return gw_oai_stream_cut(&s->_o, sink, "upstream stream ended before message_stop");
}

/* ---- the dialect table (providers/dialect.h) ---- */

GW_DIALECT_STREAM_FNS(anthropic)

const struct gw_dialect gw_dialect_anthropic = {
    .name = "anthropic",
    .build_request = gw_anthropic_build_request,
    .translate_response = gw_anthropic_translate_response,
    .translate_error = gw_anthropic_translate_error,
    .stream_size = sizeof(struct gw_anthropic_stream),
    .stream_init = anthropic_stream_init_v,
    .stream_feed = anthropic_stream_feed_v,
    .stream_end = anthropic_stream_end_v,
};
