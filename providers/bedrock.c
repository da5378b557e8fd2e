/*
 * providers/bedrock.c — OpenAI chat completions <-> AWS Bedrock Runtime
 * Converse / ConverseStream (API version 2023-09-30).
 *
 * Wire formats follow the Amazon Bedrock API Reference (Runtime): Converse
 * (request: messages with ContentBlock text/image/toolUse/toolResult, system
 * SystemContentBlock list, inferenceConfig {maxTokens, temperature, topP,
 * stopSequences}, toolConfig {tools:[{toolSpec}], toolChoice auto/any/tool};
 * response: output.message, stopReason, usage with cacheRead/WriteInputTokens,
 * metrics), ConverseStream (ConverseStreamOutput events messageStart,
 * contentBlockStart, contentBlockDelta, contentBlockStop, messageStop,
 * metadata, and the exceptions internalServerException,
 * modelStreamErrorException, validationException, throttlingException,
 * serviceUnavailableException, each an event stream message whose JSON
 * payload may carry a "p" padding member), and the error statuses of each
 * operation. Requests are signed with SigV4, service "bedrock"
 * (providers/sigv4.h); the stream is framed by providers/eventstream.h.
 * JSON is read with the core/json.h tokenizer (strings pass through as their
 * raw, already escaped text) and written with gw_jw_*. The request body is
 * bounded by providers/xbound.h (400 past its limit) and function names
 * follow its rule, which is ToolSpecification.name's: 1 to 64 of [a-zA-Z0-9_-].
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/bedrock.h"
#include "providers/dialect.h"
#include "providers/eventstream.h"
#include "providers/sigv4.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* ---- JSON reading helpers ---- */

/* One value: its type, its whole text, and for strings the raw text inside the quotes. */
struct jv {
    bool found; /* false when absent or null */
    enum gw_json_tok_type type;
    struct gw_span raw; /* the value's text (strings with their quotes) */
    struct gw_span str; /* strings: raw (escaped) text inside the quotes */
};

static bool jv_is(const struct jv *v, enum gw_json_tok_type t)
{
    return v->found && v->type == t;
}

static bool jv_streq(const struct jv *v, const char *s)
{
    return jv_is(v, GW_JT_STRING) && gw_json_str_eq(v->str, s);
}

/* Top-level members keys[0..n) of the object text obj; -1 if obj is not a valid object. */
static int scan(struct gw_span obj, const char *const *keys, size_t n, struct jv *out)
{
    struct gw_json_member m[24];
    GW_BUG_ON(n > GW_ARRAY_SIZE(m));
    memset(out, 0, n * sizeof(*out));
    if (!obj.ptr || gw_json_scan_object(obj.ptr, obj.len, keys, n, m) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!m[i].found || m[i].value.type == GW_JT_NULL)
            continue;
        out[i].found = true;
        out[i].type = m[i].value.type;
        out[i].raw = gw_span_make(obj.ptr + m[i].value.start, m[i].value_end - m[i].value.start);
        out[i].str = m[i].value.span;
    }
    return 0;
}

/* One member `key` of the object value v (found false when v is not an object). */
static struct jv member(const struct jv *v, const char *key)
{
    struct jv out = {0};
    if (jv_is(v, GW_JT_OBJ_BEGIN) && scan(v->raw, &key, 1, &out) != 0)
        memset(&out, 0, sizeof(out));
    return out;
}

struct arr_it {
    struct gw_json j;
};

/* Starts iterating the array text arr; -1 if it is not an array. */
static int arr_begin(struct arr_it *it, const struct jv *arr)
{
    struct gw_json_tok t;
    if (!jv_is(arr, GW_JT_ARR_BEGIN))
        return -1;
    gw_json_init(&it->j, arr->raw.ptr, arr->raw.len);
    return gw_json_next(&it->j, &t) == 1 && t.type == GW_JT_ARR_BEGIN ? 0 : -1;
}

/* The next element: 1, 0 at the end, -1 on invalid JSON. */
static int arr_next(struct arr_it *it, struct jv *el)
{
    struct gw_json_tok t;
    size_t end;
    if (gw_json_next(&it->j, &t) != 1)
        return -1;
    if (t.type == GW_JT_ARR_END)
        return 0;
    if (gw_json_skip(&it->j, &t, &end) != 0)
        return -1;
    el->found = t.type != GW_JT_NULL;
    el->type = t.type;
    el->raw = gw_span_make(it->j.buf + t.start, end - t.start);
    el->str = t.span;
    return 1;
}

/* True when the object value v has no members. */
static bool obj_empty(const struct jv *v)
{
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, v->raw.ptr, v->raw.len);
    return gw_json_next(&j, &t) == 1 && gw_json_next(&j, &t) == 1 && t.type == GW_JT_OBJ_END;
}

/* Unescapes a string value into the arena (NUL-terminated); NULL on failure. */
static char *unesc(struct gw_arena *a, struct gw_span raw, size_t *n)
{
    char *p = gw_arena_alloc(a, raw.len + 1);
    if (!p)
        return NULL;
    long k = gw_json_unescape(raw, p, raw.len + 1);
    if (k < 0)
        return NULL;
    p[k] = '\0';
    if (n)
        *n = (size_t)k;
    return p;
}

static bool num_u64(const struct jv *v, uint64_t *out)
{
    *out = 0;
    return jv_is(v, GW_JT_NUMBER) && gw_json_to_u64(v->str, out);
}

static size_t strlen0(const char *s)
{
    return s ? strlen(s) : 0;
}

/* ---- request: OpenAI -> Converse ---- */

enum role { R_NONE = 0, R_USER, R_ASSISTANT };

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    enum role open;        /* the message whose content array is open */
    bool any_message;      /* a message has been written */
    bool tool_blocks;      /* a toolUse or toolResult block has been written */
    struct gw_span *names; /* arena: raw JSON string tokens of the tools the history calls */
    size_t nnames, names_cap;
    size_t ncalls; /* tool calls in the history (GW_XBOUND_TOOL_CALLS_MAX) */
    size_t msg;    /* index in messages of the message being written */
};

__attribute__((format(printf, 3, 4))) static int fail(struct gw_xlate_err *e, const char *param,
                                                      const char *fmt, ...)
{
    va_list ap;
    e->status = 400;
    e->param = param;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_mem(struct gw_xlate_err *e)
{
    e->status = 500;
    e->param = NULL;
    snprintf(e->message, sizeof(e->message), "out of memory translating the request");
    return -1;
}

static void close_msg(struct bctx *c)
{
    if (c->open == R_NONE)
        return;
    gw_jw_arr_end(&c->w);
    gw_jw_obj_end(&c->w);
    c->open = R_NONE;
}

/*
 * Opens a message of `role` for the next content block unless one is open:
 * consecutive messages of one role (parallel tool results, a user turn after
 * them, two user messages in a row) become one Converse message, since
 * Converse wants the roles to alternate; a message with no block is never
 * written. Converse also wants the first message to be the user's: an
 * assistant block first is refused (see bedrock.h).
 */
static int begin_block(struct bctx *c, enum role role)
{
    if (c->open == role)
        return 0;
    if (!c->any_message && role == R_ASSISTANT)
        return fail(c->err, "messages",
                    "this provider (Bedrock Converse) needs the conversation to start with a "
                    "user message; the first message with content is an assistant message");
    close_msg(c);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "role");
    gw_jw_cstr(&c->w, role == R_USER ? "user" : "assistant");
    gw_jw_key(&c->w, "content");
    gw_jw_arr_begin(&c->w);
    c->open = role;
    c->any_message = true;
    return 0;
}

static void text_block(struct bctx *c, const struct jv *s)
{
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "text");
    gw_jw_raw(&c->w, s->raw.ptr, s->raw.len);
    gw_jw_obj_end(&c->w);
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && strncasecmp(s, p, k) == 0;
}

/* The ImageFormat for a data: URL's media type, or NULL when Converse has none. */
static const char *image_format(const char *mt, size_t n)
{
    static const struct {
        const char *media, *format;
    } fm[] = {{"image/png", "png"},
              {"image/jpeg", "jpeg"},
              {"image/jpg", "jpeg"},
              {"image/gif", "gif"},
              {"image/webp", "webp"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(fm); i++)
        if (n == strlen(fm[i].media) && strncasecmp(mt, fm[i].media, n) == 0)
            return fm[i].format;
    return NULL;
}

/*
 * An image_url part -> {"image":{"format":...,"source":{"bytes":<base64>}}}.
 * Converse takes the image's bytes only (ImageSource.bytes; the JSON
 * protocol carries a blob as base64, which a data: URL already holds).
 */
static int image_block(struct bctx *c, const struct jv *part)
{
    static const char *const pk[] = {"image_url"};
    static const char *const uk[] = {"url"};
    struct jv iu, url;
    if (scan(part->raw, pk, 1, &iu) != 0)
        return fail(c->err, "messages", "invalid content part");
    if (jv_is(&iu, GW_JT_STRING)) {
        url = iu;
    } else if (jv_is(&iu, GW_JT_OBJ_BEGIN)) {
        if (scan(iu.raw, uk, 1, &url) != 0)
            return fail(c->err, "messages", "invalid image_url");
    } else {
        return fail(c->err, "messages", "image_url part needs image_url.url");
    }
    if (!jv_is(&url, GW_JT_STRING))
        return fail(c->err, "messages", "image_url part needs image_url.url");
    size_t n;
    const char *u = unesc(c->a, url.str, &n);
    if (!u)
        return fail_mem(c->err);
    if (has_prefix(u, n, "https://") || has_prefix(u, n, "http://"))
        return fail(c->err, "messages",
                    "this provider (Bedrock) takes image bytes only: send the image as a "
                    "data:image/...;base64,... URL");
    if (!has_prefix(u, n, "data:"))
        return fail(c->err, "messages", "image URLs must be data: URLs for this provider");
    const char *semi = memchr(u, ';', n);
    if (!semi || !has_prefix(semi, n - (size_t)(semi - u), ";base64,"))
        return fail(c->err, "messages", "image data URLs must be data:<media type>;base64,<data>");
    const char *fmt = image_format(u + 5, (size_t)(semi - (u + 5)));
    if (!fmt)
        return fail(c->err, "messages",
                    "image type not supported by this provider: png, jpeg, gif or webp");
    const char *data = semi + 8;
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "image");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "format");
    gw_jw_cstr(&c->w, fmt);
    gw_jw_key(&c->w, "source");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "bytes");
    gw_jw_str(&c->w, data, n - (size_t)(data - u));
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * One OpenAI content part -> one Converse block; `role` opens the message
 * first (R_NONE inside a toolResult). Empty text parts are dropped (Converse
 * refuses blank text blocks).
 */
static int write_part(struct bctx *c, enum role role, const struct jv *part, bool images)
{
    static const char *const k[] = {"type", "text"};
    struct jv v[2];
    if (!jv_is(part, GW_JT_OBJ_BEGIN) || scan(part->raw, k, 2, v) != 0)
        return fail(c->err, "messages", "content parts must be objects");
    if (jv_streq(&v[0], "text")) {
        if (!jv_is(&v[1], GW_JT_STRING))
            return fail(c->err, "messages", "text part needs a string text");
        if (v[1].str.len == 0)
            return 0;
        if (role != R_NONE && begin_block(c, role) != 0)
            return -1;
        text_block(c, &v[1]);
        return 0;
    }
    if (jv_streq(&v[0], "image_url")) {
        if (!images)
            return fail(c->err, "messages",
                        "image parts are only accepted in user and tool messages");
        if (role != R_NONE && begin_block(c, role) != 0)
            return -1;
        return image_block(c, part);
    }
    if (jv_streq(&v[0], "refusal"))
        return 0; /* an earlier refusal carries nothing the model needs */
    return fail(c->err, "messages", "content part type not supported by this provider");
}

/* Content (string or parts) of a user or assistant message. */
static int write_content(struct bctx *c, enum role role, const struct jv *content)
{
    if (jv_is(content, GW_JT_STRING)) {
        if (content->str.len) {
            if (begin_block(c, role) != 0)
                return -1;
            text_block(c, content);
        }
        return 0;
    }
    if (jv_is(content, GW_JT_ARR_BEGIN)) {
        struct arr_it it;
        struct jv part;
        int r;
        if (arr_begin(&it, content) != 0)
            return fail(c->err, "messages", "invalid content");
        while ((r = arr_next(&it, &part)) == 1)
            if (write_part(c, role, &part, role == R_USER) != 0)
                return -1;
        return r == 0 ? 0 : fail(c->err, "messages", "invalid content");
    }
    if (!content->found && role == R_ASSISTANT)
        return 0;
    return fail(c->err, "messages", "message content must be a string or an array of parts");
}

/* Remembers a tool name the history uses (raw JSON string token), once. */
static int note_tool_name(struct bctx *c, struct gw_span name)
{
    if (++c->ncalls > GW_XBOUND_TOOL_CALLS_MAX)
        return fail(c->err, "messages", "A request may carry at most %u tool calls.",
                    (unsigned)GW_XBOUND_TOOL_CALLS_MAX);
    for (size_t i = 0; i < c->nnames; i++)
        if (gw_span_eq(c->names[i], name))
            return 0;
    if (c->nnames == c->names_cap) {
        size_t cap = c->names_cap ? c->names_cap * 2 : 8;
        struct gw_span *p = gw_arena_alloc(c->a, cap * sizeof(*p));
        if (!p)
            return fail_mem(c->err);
        if (c->nnames)
            memcpy(p, c->names, c->nnames * sizeof(*p));
        c->names = p;
        c->names_cap = cap;
    }
    c->names[c->nnames++] = name;
    return 0;
}

/* Assistant tool_calls -> toolUse blocks; arguments must be a JSON object. */
static int write_tool_calls(struct bctx *c, const struct jv *calls)
{
    static const char *const ck[] = {"id", "type", "function"};
    static const char *const fk[] = {"name", "arguments"};
    struct arr_it it;
    struct jv call, cv[3], fv[2];
    size_t k = 0;
    int r;
    if (arr_begin(&it, calls) != 0)
        return fail(c->err, "messages", "tool_calls must be an array");
    for (; (r = arr_next(&it, &call)) == 1; k++) {
        if (!jv_is(&call, GW_JT_OBJ_BEGIN) || scan(call.raw, ck, 3, cv) != 0)
            return fail(c->err, "messages", "tool_calls entries must be objects");
        if (cv[1].found && !jv_streq(&cv[1], "function"))
            return fail(c->err, "messages", "only function tool calls are supported");
        if (!jv_is(&cv[0], GW_JT_STRING) || !jv_is(&cv[2], GW_JT_OBJ_BEGIN) ||
            scan(cv[2].raw, fk, 2, fv) != 0 || !jv_is(&fv[0], GW_JT_STRING))
            return fail(c->err, "messages", "tool_calls entries need id and function.name");
        /* The name is also repeated in the history's toolConfig (write_history_specs). */
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err,
                           "messages[%zu].tool_calls[%zu].function.name", c->msg, k) != 0)
            return -1;
        const char *args = "{}";
        size_t alen = 2;
        if (fv[1].found) {
            if (!jv_is(&fv[1], GW_JT_STRING))
                return fail(c->err, "messages", "tool call arguments must be a JSON string");
            char *s = unesc(c->a, fv[1].str, &alen);
            if (!s)
                return fail_mem(c->err);
            size_t i = 0;
            while (i < alen && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
            if (i == alen) {
                args = "{}";
                alen = 2;
            } else if (s[i] != '{' || !gw_json_validate(s, alen)) {
                return fail(c->err, "messages",
                            "tool call arguments must be a JSON object (function %.*s)",
                            (int)GW_MIN(fv[0].str.len, 64), fv[0].str.ptr);
            } else {
                args = s;
            }
        }
        if (begin_block(c, R_ASSISTANT) != 0 || note_tool_name(c, fv[0].raw) != 0)
            return -1;
        c->tool_blocks = true;
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "toolUse");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "toolUseId");
        gw_jw_raw(&c->w, cv[0].raw.ptr, cv[0].raw.len);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        gw_jw_key(&c->w, "input");
        gw_jw_raw(&c->w, args, alen);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    return r == 0 ? 0 : fail(c->err, "messages", "invalid tool_calls");
}

/*
 * A tool message -> a toolResult block in a user message. String content
 * that is a JSON object goes as {"json":{...}} (ToolResultContentBlock.json),
 * other strings as {"text":...}, parts as text and image blocks; empty
 * content gives an empty content list.
 */
static int write_tool_result(struct bctx *c, const struct jv *id, const struct jv *content)
{
    if (!jv_is(id, GW_JT_STRING))
        return fail(c->err, "messages", "tool messages need tool_call_id");
    if (begin_block(c, R_USER) != 0)
        return -1;
    c->tool_blocks = true;
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "toolResult");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "toolUseId");
    gw_jw_raw(&c->w, id->raw.ptr, id->raw.len);
    gw_jw_key(&c->w, "content");
    gw_jw_arr_begin(&c->w);
    if (jv_is(content, GW_JT_STRING)) {
        size_t n;
        char *s = unesc(c->a, content->str, &n);
        if (!s)
            return fail_mem(c->err);
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i < n && s[i] == '{' && gw_json_validate(s, n)) {
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "json");
            gw_jw_raw(&c->w, s + i, n - i);
            gw_jw_obj_end(&c->w);
        } else if (content->str.len) {
            text_block(c, content);
        }
    } else if (jv_is(content, GW_JT_ARR_BEGIN)) {
        struct arr_it it;
        struct jv part;
        int r;
        if (arr_begin(&it, content) != 0)
            return fail(c->err, "messages", "invalid tool message content");
        while ((r = arr_next(&it, &part)) == 1)
            if (write_part(c, R_NONE, &part, true) != 0)
                return -1;
        if (r != 0)
            return fail(c->err, "messages", "invalid tool message content");
    } else if (content->found) {
        return fail(c->err, "messages", "tool message content must be a string or parts");
    }
    gw_jw_arr_end(&c->w);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

static const char *const msg_keys[] = {"role", "content", "tool_calls", "tool_call_id"};
enum { MK_ROLE, MK_CONTENT, MK_TOOL_CALLS, MK_TOOL_CALL_ID, MK_COUNT };

static bool is_system(const struct jv *role)
{
    return jv_streq(role, "system") || jv_streq(role, "developer");
}

/*
 * System and developer messages -> "system":[{"text":...},...], one block
 * per non-empty text (string content or text part), in order, wherever they
 * stand in the conversation. Nothing is written when there is none. sw is a
 * writer of its own (the caller splices it in) so that an absent system
 * costs no key.
 */
static int write_system(struct bctx *c, const struct jv *msgs, struct gw_jw *sw, bool *any)
{
    struct arr_it it;
    struct jv m, mv[MK_COUNT];
    int r;
    *any = false;
    if (arr_begin(&it, msgs) != 0)
        return fail(c->err, "messages", "messages must be an array");
    gw_jw_arr_begin(sw);
    while ((r = arr_next(&it, &m)) == 1) {
        if (!jv_is(&m, GW_JT_OBJ_BEGIN) || scan(m.raw, msg_keys, MK_COUNT, mv) != 0)
            return fail(c->err, "messages", "messages must be objects");
        if (!is_system(&mv[MK_ROLE]))
            continue;
        const struct jv *content = &mv[MK_CONTENT];
        if (jv_is(content, GW_JT_STRING)) {
            if (content->str.len) {
                gw_jw_obj_begin(sw);
                gw_jw_key(sw, "text");
                gw_jw_raw(sw, content->raw.ptr, content->raw.len);
                gw_jw_obj_end(sw);
                *any = true;
            }
            continue;
        }
        static const char *const pk[] = {"type", "text"};
        struct arr_it pit;
        struct jv part, pv[2];
        int pr;
        if (!jv_is(content, GW_JT_ARR_BEGIN) || arr_begin(&pit, content) != 0)
            return fail(c->err, "messages", "system message content must be text");
        while ((pr = arr_next(&pit, &part)) == 1) {
            if (!jv_is(&part, GW_JT_OBJ_BEGIN) || scan(part.raw, pk, 2, pv) != 0 ||
                !jv_streq(&pv[0], "text") || !jv_is(&pv[1], GW_JT_STRING))
                return fail(c->err, "messages", "system message parts must be text");
            if (!pv[1].str.len)
                continue;
            gw_jw_obj_begin(sw);
            gw_jw_key(sw, "text");
            gw_jw_raw(sw, pv[1].raw.ptr, pv[1].raw.len);
            gw_jw_obj_end(sw);
            *any = true;
        }
        if (pr != 0)
            return fail(c->err, "messages", "invalid system content");
    }
    if (r != 0)
        return fail(c->err, "messages", "invalid messages");
    gw_jw_arr_end(sw);
    return 0;
}

static int write_messages(struct bctx *c, const struct jv *msgs)
{
    struct arr_it it;
    struct jv m, mv[MK_COUNT];
    int r;
    if (arr_begin(&it, msgs) != 0)
        return fail(c->err, "messages", "messages must be an array");
    gw_jw_key(&c->w, "messages");
    gw_jw_arr_begin(&c->w);
    for (c->msg = 0; (r = arr_next(&it, &m)) == 1; c->msg++) {
        if (!jv_is(&m, GW_JT_OBJ_BEGIN) || scan(m.raw, msg_keys, MK_COUNT, mv) != 0)
            return fail(c->err, "messages", "messages must be objects");
        const struct jv *role = &mv[MK_ROLE];
        if (is_system(role))
            continue;
        if (jv_streq(role, "user")) {
            if (write_content(c, R_USER, &mv[MK_CONTENT]) != 0)
                return -1;
        } else if (jv_streq(role, "assistant")) {
            if (write_content(c, R_ASSISTANT, &mv[MK_CONTENT]) != 0)
                return -1;
            if (mv[MK_TOOL_CALLS].found && write_tool_calls(c, &mv[MK_TOOL_CALLS]) != 0)
                return -1;
        } else if (jv_streq(role, "tool")) {
            if (write_tool_result(c, &mv[MK_TOOL_CALL_ID], &mv[MK_CONTENT]) != 0)
                return -1;
        } else {
            return fail(c->err, "messages",
                        "message role must be system, developer, user, assistant or tool");
        }
    }
    if (r != 0)
        return fail(c->err, "messages", "invalid messages");
    if (!c->any_message)
        return fail(c->err, "messages",
                    "messages must hold at least one user message with content");
    close_msg(c);
    gw_jw_arr_end(&c->w);
    return 0;
}

/* Checks the tools array; *count gets the number of function tools. */
static int check_tools(struct bctx *c, const struct jv *tools, size_t *count)
{
    static const char *const tk[] = {"type", "function"};
    static const char *const fk[] = {"name", "description", "parameters"};
    struct arr_it it;
    struct jv t, tv[2], fv[3];
    int r;
    *count = 0;
    if (arr_begin(&it, tools) != 0)
        return fail(c->err, "tools", "tools must be an array");
    for (size_t i = 0; (r = arr_next(&it, &t)) == 1; i++) {
        if (!jv_is(&t, GW_JT_OBJ_BEGIN) || scan(t.raw, tk, 2, tv) != 0)
            return fail(c->err, "tools", "tools entries must be objects");
        if (!jv_streq(&tv[0], "function"))
            return fail(c->err, "tools", "only function tools are supported by this provider");
        if (!jv_is(&tv[1], GW_JT_OBJ_BEGIN) || scan(tv[1].raw, fk, 3, fv) != 0 ||
            !jv_is(&fv[0], GW_JT_STRING))
            return fail(c->err, "tools", "function tools need function.name");
        if (fv[1].found && !jv_is(&fv[1], GW_JT_STRING))
            return fail(c->err, "tools", "function.description must be a string");
        if (fv[2].found && !jv_is(&fv[2], GW_JT_OBJ_BEGIN))
            return fail(c->err, "tools", "function.parameters must be a JSON Schema object");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "tools[%zu].function.name", i) != 0)
            return -1;
        (*count)++;
    }
    return r == 0 ? 0 : fail(c->err, "tools", "invalid tools");
}

/* The client's (checked) tools -> [{"toolSpec":{name,description,inputSchema:{json}}}]. */
static void write_tool_specs(struct bctx *c, const struct jv *tools)
{
    static const char *const tk[] = {"function"};
    static const char *const fk[] = {"name", "description", "parameters"};
    static const char empty_schema[] = "{\"type\":\"object\",\"properties\":{}}";
    struct arr_it it;
    struct jv t, tv, fv[3];
    gw_jw_arr_begin(&c->w);
    if (arr_begin(&it, tools) != 0) {
        gw_jw_arr_end(&c->w);
        return; /* check_tools accepted it: cannot happen */
    }
    while (arr_next(&it, &t) == 1) {
        if (scan(t.raw, tk, 1, &tv) != 0 || scan(tv.raw, fk, 3, fv) != 0)
            continue; /* check_tools accepted it: cannot happen */
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "toolSpec");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        if (fv[1].found && fv[1].str.len) {
            gw_jw_key(&c->w, "description");
            gw_jw_raw(&c->w, fv[1].raw.ptr, fv[1].raw.len);
        }
        gw_jw_key(&c->w, "inputSchema");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "json");
        if (fv[2].found)
            gw_jw_raw(&c->w, fv[2].raw.ptr, fv[2].raw.len);
        else
            gw_jw_raw(&c->w, empty_schema, sizeof(empty_schema) - 1);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    gw_jw_arr_end(&c->w);
}

/* The tools the history calls, for a toolConfig Converse requires (see bedrock.h). */
static void write_history_specs(struct bctx *c)
{
    static const char schema[] = "{\"type\":\"object\"}";
    gw_jw_arr_begin(&c->w);
    for (size_t i = 0; i < c->nnames; i++) {
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "toolSpec");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, c->names[i].ptr, c->names[i].len);
        gw_jw_key(&c->w, "inputSchema");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "json");
        gw_jw_raw(&c->w, schema, sizeof(schema) - 1);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    gw_jw_arr_end(&c->w);
}

enum choice { TC_DEFAULT = 0, TC_AUTO, TC_REQUIRED, TC_NONE, TC_NAMED };

/* Reads tool_choice; for TC_NAMED *name gets the function's name token. */
static int read_tool_choice(struct bctx *c, const struct jv *tc, enum choice *out, struct jv *name)
{
    static const char *const ok[] = {"type", "function"};
    static const char *const fk[] = {"name"};
    memset(name, 0, sizeof(*name));
    *out = TC_DEFAULT;
    if (!tc->found)
        return 0;
    if (jv_is(tc, GW_JT_STRING)) {
        if (jv_streq(tc, "auto"))
            *out = TC_AUTO;
        else if (jv_streq(tc, "required"))
            *out = TC_REQUIRED;
        else if (jv_streq(tc, "none"))
            *out = TC_NONE;
        else
            return fail(c->err, "tool_choice", "tool_choice must be auto, required or none");
        return 0;
    }
    struct jv ov[2], fv[1];
    if (!jv_is(tc, GW_JT_OBJ_BEGIN) || scan(tc->raw, ok, 2, ov) != 0 ||
        !jv_streq(&ov[0], "function") || !jv_is(&ov[1], GW_JT_OBJ_BEGIN) ||
        scan(ov[1].raw, fk, 1, fv) != 0 || !jv_is(&fv[0], GW_JT_STRING))
        return fail(c->err, "tool_choice",
                    "tool_choice must name a function: "
                    "{\"type\":\"function\",\"function\":{\"name\":...}}");
    if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "%s", "tool_choice.function.name") != 0)
        return -1;
    *out = TC_NAMED;
    *name = fv[0];
    return 0;
}

/*
 * "toolConfig", when there is one to send: the client's tools with the
 * ToolChoice (auto {auto:{}}, required {any:{}}, a named function
 * {tool:{name}}); for tool_choice none, no tools unless the history needs
 * them; the history's own tools when the client sent none (bedrock.h).
 */
static void write_tool_config(struct bctx *c, const struct jv *tools, size_t ntools,
                              enum choice choice, const struct jv *name)
{
    bool client = ntools > 0 && (choice != TC_NONE || c->tool_blocks);
    if (!client && !c->tool_blocks)
        return;
    gw_jw_key(&c->w, "toolConfig");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "tools");
    if (!client) {
        write_history_specs(c);
        gw_jw_obj_end(&c->w);
        return;
    }
    write_tool_specs(c, tools);
    if (choice == TC_AUTO || choice == TC_REQUIRED || choice == TC_NAMED) {
        gw_jw_key(&c->w, "toolChoice");
        gw_jw_obj_begin(&c->w);
        if (choice == TC_NAMED) {
            gw_jw_key(&c->w, "tool");
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "name");
            gw_jw_raw(&c->w, name->raw.ptr, name->raw.len);
            gw_jw_obj_end(&c->w);
        } else {
            gw_jw_key(&c->w, choice == TC_AUTO ? "auto" : "any");
            gw_jw_obj_begin(&c->w);
            gw_jw_obj_end(&c->w);
        }
        gw_jw_obj_end(&c->w);
    }
    gw_jw_obj_end(&c->w);
}

static int write_stop(struct bctx *c, const struct jv *stop)
{
    gw_jw_key(&c->w, "stopSequences");
    if (jv_is(stop, GW_JT_STRING)) {
        gw_jw_arr_begin(&c->w);
        gw_jw_raw(&c->w, stop->raw.ptr, stop->raw.len);
        gw_jw_arr_end(&c->w);
        return 0;
    }
    struct arr_it it;
    struct jv s;
    int r;
    if (arr_begin(&it, stop) != 0)
        return fail(c->err, "stop", "stop must be a string or an array of strings");
    gw_jw_arr_begin(&c->w);
    while ((r = arr_next(&it, &s)) == 1) {
        if (!jv_is(&s, GW_JT_STRING))
            return fail(c->err, "stop", "stop must be a string or an array of strings");
        gw_jw_raw(&c->w, s.raw.ptr, s.raw.len);
    }
    gw_jw_arr_end(&c->w);
    return r == 0 ? 0 : fail(c->err, "stop", "invalid stop");
}

static const char *const req_keys[] = {
    "model",    "messages",     "max_tokens", "max_completion_tokens",
    "stop",     "temperature",  "top_p",      "stream",
    "tools",    "tool_choice",  "n",          "response_format",
    "logprobs", "top_logprobs", "logit_bias", "modalities",
    "audio",    "mock",
};
enum {
    RK_MODEL,
    RK_MESSAGES,
    RK_MAX_TOKENS,
    RK_MAX_COMPLETION_TOKENS,
    RK_STOP,
    RK_TEMPERATURE,
    RK_TOP_P,
    RK_STREAM,
    RK_TOOLS,
    RK_TOOL_CHOICE,
    RK_N,
    RK_RESPONSE_FORMAT,
    RK_LOGPROBS,
    RK_TOP_LOGPROBS,
    RK_LOGIT_BIAS,
    RK_MODALITIES,
    RK_AUDIO,
    RK_MOCK,
    RK_COUNT
};

/* The OpenAI fields Converse has no way to honour: 400 naming the field (bedrock.h). */
static int refuse_unsupported(struct gw_xlate_err *err, const struct jv *v)
{
    uint64_t n;
    if (v[RK_N].found && (!num_u64(&v[RK_N], &n) || n != 1))
        return fail(err, "n", "this provider returns one choice: n must be 1");
    if (v[RK_RESPONSE_FORMAT].found) {
        struct jv type = member(&v[RK_RESPONSE_FORMAT], "type");
        if (!jv_streq(&type, "text"))
            return fail(err, "response_format",
                        "response_format json_object and json_schema are not supported by this "
                        "provider (Bedrock Converse)");
    }
    if (v[RK_LOGPROBS].found && !jv_is(&v[RK_LOGPROBS], GW_JT_FALSE))
        return fail(err, "logprobs", "logprobs are not supported by this provider");
    if (v[RK_TOP_LOGPROBS].found && (!num_u64(&v[RK_TOP_LOGPROBS], &n) || n != 0))
        return fail(err, "top_logprobs", "logprobs are not supported by this provider");
    if (v[RK_LOGIT_BIAS].found &&
        (!jv_is(&v[RK_LOGIT_BIAS], GW_JT_OBJ_BEGIN) || !obj_empty(&v[RK_LOGIT_BIAS])))
        return fail(err, "logit_bias", "logit_bias is not supported by this provider");
    if (v[RK_AUDIO].found)
        return fail(err, "audio", "audio output is not supported by this provider");
    if (v[RK_MODALITIES].found) {
        struct arr_it it;
        struct jv m;
        int r;
        if (arr_begin(&it, &v[RK_MODALITIES]) != 0)
            return fail(err, "modalities", "modalities must be an array");
        while ((r = arr_next(&it, &m)) == 1)
            if (!jv_streq(&m, "text"))
                return fail(err, "modalities", "this provider answers with text only");
        if (r != 0)
            return fail(err, "modalities", "invalid modalities");
    }
    return 0;
}

/*
 * The request path for model (NUL-terminated): "/model/{id}/converse" or
 * "/converse-stream", the id URI-encoded once as Converse's URI label wants
 * (':' -> %3A, '/' of an ARN -> %2F). NULL when the arena is exhausted.
 */
static char *model_path(struct gw_arena *a, const char *model, size_t n, bool stream)
{
    const char *op = stream ? "/converse-stream" : "/converse";
    size_t cap = 7 + 3 * n + strlen(op) + 1;
    char *p = gw_arena_alloc(a, cap);
    if (!p)
        return NULL;
    memcpy(p, "/model/", 7);
    long k = gw_sigv4_uri_encode(model, n, false, p + 7, cap - 7);
    if (k < 0)
        return NULL;
    memcpy(p + 7 + k, op, strlen(op) + 1);
    return p;
}

/*
 * The headers that authenticate the request: x-amz-date, x-amz-security-token
 * (a session token) and the SigV4 authorization over host, x-amz-date and the
 * token, the path as it goes on the wire (base_path + path) and the body.
 * [AWS General Reference: Signature Version 4 signing process] Without an
 * access key only x-amz-date is sent (an unsigned request, for local mocks).
 */
static int sign(const struct gw_xlate *x, const char *path, struct gw_span body,
                struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    const struct gw_provider *p = x->prov;
    const char *key_id = p && p->aws_access_key_id ? p->aws_access_key_id : "";
    const char *secret = p && p->aws_secret_access_key ? p->aws_secret_access_key : "";
    const char *token = p && p->aws_session_token ? p->aws_session_token : "";
    const char *region = p && p->region ? p->region : "";
    const char *base = p && p->base_path ? p->base_path : "";
    const char *host = p && p->host_header ? p->host_header : "";
    char date[GW_SIGV4_DATE_LEN];
    gw_sigv4_amz_date(x->created, date);

    char auth[GW_SIGV4_AUTH_MAX];
    auth[0] = '\0';
    if (key_id[0]) {
        size_t blen = strlen(base), plen = strlen(path);
        char *signed_path = gw_arena_alloc(x->arena, blen + plen + 1);
        if (!signed_path)
            return fail_mem(err);
        memcpy(signed_path, base, blen);
        memcpy(signed_path + blen, path, plen + 1);
        char hash[65];
        gw_sha256_hex(body.ptr, body.len, hash);
        struct gw_sigv4_creds cr = {key_id, secret, region, GW_BEDROCK_SIGV4_SERVICE};
        struct gw_sigv4_req rq = {"POST", signed_path, "", host, date, token, hash};
        if (gw_sigv4_authorization(&cr, &rq, auth, sizeof(auth)) < 0) {
            err->status = 500;
            err->param = NULL;
            snprintf(err->message, sizeof(err->message),
                     "the request could not be signed for AWS (check the provider's credentials)");
            return -1;
        }
    }
    size_t hcap = strlen(date) + strlen(token) + strlen(auth) + 96;
    char *h = gw_arena_alloc(x->arena, hcap);
    if (!h)
        return fail_mem(err);
    int n = snprintf(h, hcap, "x-amz-date: %s\r\n", date);
    if (token[0])
        n += snprintf(h + n, hcap - (size_t)n, "x-amz-security-token: %s\r\n", token);
    if (auth[0])
        n += snprintf(h + n, hcap - (size_t)n, "authorization: %s\r\n", auth);
    GW_BUG_ON(n < 0 || (size_t)n >= hcap);
    out->headers = gw_span_make(h, (size_t)n);
    return 0;
}

int gw_bedrock_build_request(const struct gw_xlate *x, const char *body, size_t len,
                             struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    struct jv v[RK_COUNT];
    struct bctx c = {.a = x->arena, .err = err};
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (scan(gw_span_make(body, len), req_keys, RK_COUNT, v) != 0)
        return fail(err, NULL, "the request body must be a JSON object");
    if (!jv_is(&v[RK_MESSAGES], GW_JT_ARR_BEGIN))
        return fail(err, "messages", "messages must be a non-empty array");
    if (refuse_unsupported(err, v) != 0)
        return -1;
    uint64_t n;
    const struct jv *max =
        v[RK_MAX_COMPLETION_TOKENS].found ? &v[RK_MAX_COMPLETION_TOKENS] : &v[RK_MAX_TOKENS];
    if (max->found && (!num_u64(max, &n) || n == 0))
        return fail(err, max == &v[RK_MAX_TOKENS] ? "max_tokens" : "max_completion_tokens",
                    "must be a positive integer");
    static const int sampling[] = {RK_TEMPERATURE, RK_TOP_P};
    static const char *const sampling_out[] = {"temperature", "topP"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++) {
        const struct jv *s = &v[sampling[i]];
        if (s->found && !jv_is(s, GW_JT_NUMBER))
            return fail(err, req_keys[sampling[i]], "must be a number");
    }
    if (v[RK_STREAM].found && !jv_is(&v[RK_STREAM], GW_JT_TRUE) &&
        !jv_is(&v[RK_STREAM], GW_JT_FALSE))
        return fail(err, "stream", "stream must be a boolean");
    if (v[RK_STOP].found && !jv_is(&v[RK_STOP], GW_JT_STRING) &&
        !jv_is(&v[RK_STOP], GW_JT_ARR_BEGIN))
        return fail(err, "stop", "stop must be a string or an array of strings");
    size_t ntools = 0;
    if (v[RK_TOOLS].found && check_tools(&c, &v[RK_TOOLS], &ntools) != 0)
        return -1;
    enum choice choice;
    struct jv choice_name;
    if (read_tool_choice(&c, &v[RK_TOOL_CHOICE], &choice, &choice_name) != 0)
        return -1;

    /* The model id goes in the path, never in the body. */
    const char *model = x->upstream_model;
    size_t model_len = model ? strlen(model) : 0;
    if (!model || !model_len) {
        if (!jv_is(&v[RK_MODEL], GW_JT_STRING) || !v[RK_MODEL].str.len)
            return fail(err, "model", "model is required");
        char *m = unesc(x->arena, v[RK_MODEL].str, &model_len);
        if (!m)
            return fail_mem(err);
        model = m;
    }
    char *path = model_path(x->arena, model, model_len, x->stream);
    if (!path)
        return fail_mem(err);

    /* Strings are copied raw or get shorter when decoded; the new wrappers
     * (toolSpec, toolResult, inferenceConfig) are shorter than the OpenAI
     * text they replace, at worst twice it. The buffer is never larger than
     * xbound's limit; overflowing it there is the client's 400. */
    struct gw_xbound b;
    gw_xbound_init(&b, x, len, 0);
    char *obuf = gw_xbound_buf(&b, x->arena, 2 * len + 1024, err);
    if (!obuf)
        return -1;
    size_t cap = b.cap;
    char *sbuf = gw_arena_alloc(x->arena, len + 64);
    if (!sbuf)
        return fail_mem(err);
    struct gw_jw sw;
    bool any_system;
    gw_jw_init(&sw, sbuf, len + 64);
    if (write_system(&c, &v[RK_MESSAGES], &sw, &any_system) != 0)
        return -1;
    gw_jw_init(&c.w, obuf, cap);
    gw_jw_obj_begin(&c.w);
    if (any_system) {
        if (sw.overflow)
            return fail_mem(err);
        gw_jw_key(&c.w, "system");
        gw_jw_raw(&c.w, sw.buf, sw.len);
    }
    if (write_messages(&c, &v[RK_MESSAGES]) != 0)
        return -1;
    bool any_inference = max->found || v[RK_STOP].found;
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++)
        any_inference |= v[sampling[i]].found;
    if (any_inference) {
        gw_jw_key(&c.w, "inferenceConfig");
        gw_jw_obj_begin(&c.w);
        if (max->found) {
            gw_jw_key(&c.w, "maxTokens");
            gw_jw_raw(&c.w, max->raw.ptr, max->raw.len);
        }
        for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++) {
            const struct jv *s = &v[sampling[i]];
            if (!s->found)
                continue;
            gw_jw_key(&c.w, sampling_out[i]);
            gw_jw_raw(&c.w, s->raw.ptr, s->raw.len);
        }
        if (v[RK_STOP].found && write_stop(&c, &v[RK_STOP]) != 0)
            return -1;
        gw_jw_obj_end(&c.w);
    }
    write_tool_config(&c, &v[RK_TOOLS], ntools, choice, &choice_name);
    /* The bundled mock provider's per-request controls (tools/mock) travel as
     * they are; every other field Converse does not know is dropped. */
    if (jv_is(&v[RK_MOCK], GW_JT_OBJ_BEGIN)) {
        gw_jw_key(&c.w, "mock");
        gw_jw_raw(&c.w, v[RK_MOCK].raw.ptr, v[RK_MOCK].raw.len);
    }
    gw_jw_obj_end(&c.w);
    if (c.w.overflow)
        return gw_xbound_overflow(&b, err);

    out->path = path;
    out->body = gw_span_make(obuf, c.w.len);
    return sign(x, path, out->body, out, err);
}

/* ---- response: Converse -> OpenAI ---- */

/*
 * Converse's StopReason -> OpenAI's finish_reason. malformed_model_output and
 * malformed_tool_use have no OpenAI value: they finish as "stop" with what
 * the model did produce; an unknown reason too.
 */
static const char *finish_reason(const struct jv *stop)
{
    if (jv_streq(stop, "max_tokens") || jv_streq(stop, "model_context_window_exceeded"))
        return "length";
    if (jv_streq(stop, "tool_use"))
        return "tool_calls";
    if (jv_streq(stop, "guardrail_intervened") || jv_streq(stop, "content_filtered"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, malformed_*, unknown */
}

static const char *const usage_keys[] = {"inputTokens", "outputTokens", "cacheReadInputTokens",
                                         "cacheWriteInputTokens"};

/* Reads the TokenUsage counters that are present into in/out/read/write. */
static void read_usage(const struct jv *usage, uint64_t *in, uint64_t *outp, uint64_t *read,
                       uint64_t *write)
{
    struct jv uv[4];
    uint64_t *dst[4] = {in, outp, read, write};
    if (!jv_is(usage, GW_JT_OBJ_BEGIN) || scan(usage->raw, usage_keys, 4, uv) != 0)
        return;
    for (size_t i = 0; i < 4; i++) {
        uint64_t n;
        if (num_u64(&uv[i], &n))
            *dst[i] = n;
    }
}

/* inputTokens excludes the cached ones (totalTokens = input + output + read + write). */
static void fill_usage(struct gw_xlate_usage *u, uint64_t in, uint64_t outp, uint64_t read,
                       uint64_t write)
{
    if (!u)
        return;
    u->prompt_tokens = in + read + write;
    u->completion_tokens = outp;
    u->cached_tokens = read;
    u->cache_creation_tokens = write;
    u->have = true;
}

static void write_usage(struct gw_jw *w, const struct gw_xlate_usage *u)
{
    gw_jw_key(w, "usage");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "prompt_tokens");
    gw_jw_uint(w, u->prompt_tokens);
    gw_jw_key(w, "completion_tokens");
    gw_jw_uint(w, u->completion_tokens);
    gw_jw_key(w, "total_tokens");
    gw_jw_uint(w, u->prompt_tokens + u->completion_tokens);
    gw_jw_key(w, "prompt_tokens_details");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "cached_tokens");
    gw_jw_uint(w, u->cached_tokens);
    gw_jw_obj_end(w);
    gw_jw_obj_end(w);
}

static void write_id(struct gw_jw *w, const struct gw_xlate *x)
{
    const char *rid = x->request_id ? x->request_id : "";
    size_t n = strlen(rid);
    char small[128];
    gw_jw_key(w, "id");
    if (n + 9 < sizeof(small)) {
        memcpy(small, "chatcmpl-", 9);
        memcpy(small + 9, rid, n);
        gw_jw_str(w, small, n + 9);
    } else {
        gw_jw_cstr(w, "chatcmpl-");
    }
}

static void write_head(struct gw_jw *w, const struct gw_xlate *x, const char *object)
{
    write_id(w, x);
    gw_jw_key(w, "object");
    gw_jw_cstr(w, object);
    gw_jw_key(w, "created");
    gw_jw_uint(w, x->created);
    gw_jw_key(w, "model");
    gw_jw_cstr(w, x->client_model ? x->client_model : "");
}

static const char *const block_keys[] = {"text", "toolUse"};
static const char *const tool_use_keys[] = {"toolUseId", "name", "input"};

int gw_bedrock_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                  struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const rk[] = {"output", "stopReason", "usage"};
    struct jv rv[3], b, bv[2], tv[3];
    struct arr_it it;
    int r;
    *out = GW_SPAN_NULL;
    if (scan(gw_span_make(body, len), rk, 3, rv) != 0 || !jv_is(&rv[0], GW_JT_OBJ_BEGIN))
        return -1;
    struct jv msg = member(&rv[0], "message");
    struct jv content = member(&msg, "content");
    if (!jv_is(&content, GW_JT_ARR_BEGIN))
        return -1;

    /* Pass 1: the text blocks joined (decoded), and whether there are tool calls. */
    char *text = gw_arena_alloc(x->arena, len + 1);
    size_t text_len = 0;
    bool have_text = false, have_tools = false;
    if (!text || arr_begin(&it, &content) != 0)
        return -1;
    while ((r = arr_next(&it, &b)) == 1) {
        if (!jv_is(&b, GW_JT_OBJ_BEGIN) || scan(b.raw, block_keys, 2, bv) != 0)
            return -1;
        if (jv_is(&bv[0], GW_JT_STRING)) {
            long k = gw_json_unescape(bv[0].str, text + text_len, len - text_len);
            if (k < 0)
                return -1;
            text_len += (size_t)k;
            have_text = true;
        } else if (bv[1].found) {
            if (!jv_is(&bv[1], GW_JT_OBJ_BEGIN) || scan(bv[1].raw, tool_use_keys, 3, tv) != 0 ||
                !jv_is(&tv[0], GW_JT_STRING) || !jv_is(&tv[1], GW_JT_STRING))
                return -1;
            have_tools = true;
        }
        /* reasoningContent, citationsContent, image, ...: not translated */
    }
    if (r != 0)
        return -1;

    /* Tool inputs are escaped into strings: at most twice their length (the
     * tokenizer refuses raw control characters, so no \u00XX expansion). */
    size_t cap = 2 * len + 2 * (strlen0(x->client_model) + strlen0(x->request_id)) + 1024;
    char *obuf = gw_arena_alloc(x->arena, cap);
    if (!obuf)
        return -1;
    struct gw_jw w;
    gw_jw_init(&w, obuf, cap);
    gw_jw_obj_begin(&w);
    write_head(&w, x, "chat.completion");
    gw_jw_key(&w, "choices");
    gw_jw_arr_begin(&w);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "index");
    gw_jw_uint(&w, 0);
    gw_jw_key(&w, "message");
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "role");
    gw_jw_cstr(&w, "assistant");
    gw_jw_key(&w, "content");
    if (have_text)
        gw_jw_str(&w, text, text_len);
    else
        gw_jw_null(&w);
    if (have_tools) {
        gw_jw_key(&w, "tool_calls");
        gw_jw_arr_begin(&w);
        if (arr_begin(&it, &content) != 0)
            return -1;
        while ((r = arr_next(&it, &b)) == 1) {
            if (scan(b.raw, block_keys, 2, bv) != 0 || !bv[1].found ||
                scan(bv[1].raw, tool_use_keys, 3, tv) != 0)
                continue;
            gw_jw_obj_begin(&w);
            gw_jw_key(&w, "id");
            gw_jw_raw(&w, tv[0].raw.ptr, tv[0].raw.len);
            gw_jw_key(&w, "type");
            gw_jw_cstr(&w, "function");
            gw_jw_key(&w, "function");
            gw_jw_obj_begin(&w);
            gw_jw_key(&w, "name");
            gw_jw_raw(&w, tv[1].raw.ptr, tv[1].raw.len);
            gw_jw_key(&w, "arguments");
            if (tv[2].found)
                gw_jw_str(&w, tv[2].raw.ptr, tv[2].raw.len);
            else
                gw_jw_cstr(&w, "{}");
            gw_jw_obj_end(&w);
            gw_jw_obj_end(&w);
        }
        gw_jw_arr_end(&w);
    }
    gw_jw_key(&w, "refusal");
    gw_jw_null(&w);
    gw_jw_obj_end(&w);
    gw_jw_key(&w, "logprobs");
    gw_jw_null(&w);
    gw_jw_key(&w, "finish_reason");
    gw_jw_cstr(&w, finish_reason(&rv[1]));
    gw_jw_obj_end(&w);
    gw_jw_arr_end(&w);

    uint64_t in = 0, outp = 0, read = 0, write = 0;
    read_usage(&rv[2], &in, &outp, &read, &write);
    struct gw_xlate_usage tmp = {0};
    fill_usage(&tmp, in, outp, read, write);
    write_usage(&w, &tmp);
    gw_jw_obj_end(&w);
    if (w.overflow)
        return -1;
    if (u)
        *u = tmp;
    *out = gw_span_make(obuf, w.len);
    return 0;
}

/* ---- errors ---- */

struct err_map {
    int status;       /* Bedrock's status */
    int client;       /* the status the client sees */
    const char *type; /* OpenAI error.type (the strings anthropic.c uses) */
    const char *code; /* OpenAI error.code, or NULL */
};

/* [Bedrock API Reference, Converse / ConverseStream "Errors"] */
static const struct err_map err_maps[] = {
    {400, 400, "invalid_request_error", NULL},                /* ValidationException */
    {401, 401, "invalid_request_error", "invalid_api_key"},   /* (not documented) */
    {403, 403, "permission_error", NULL},                     /* AccessDenied, bad signature */
    {404, 404, "invalid_request_error", "not_found"},         /* ResourceNotFound */
    {408, 504, "server_error", "timeout"},                    /* ModelTimeoutException */
    {413, 413, "invalid_request_error", "request_too_large"}, /* (not documented) */
    {424, 502, "server_error", "model_error"},                /* ModelErrorException */
    {429, 429, "rate_limit_error", "rate_limit_exceeded"},    /* Throttling, quota, not ready */
    {500, 500, "server_error", NULL},                         /* InternalServerException */
    {503, 503, "server_error", "service_unavailable"},        /* ServiceUnavailable */
};

static const struct err_map *err_lookup(int status)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(err_maps); i++)
        if (err_maps[i].status == status)
            return &err_maps[i];
    return NULL;
}

/* Writes {"error":{...}} with message msg (a JSON string token, or NULL for a generic one). */
static void write_error(struct gw_jw *w, const struct jv *msg, const char *fallback,
                        const char *type, const char *code)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "error");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "message");
    if (msg && jv_is(msg, GW_JT_STRING) && msg->str.len)
        gw_jw_raw(w, msg->raw.ptr, msg->raw.len);
    else
        gw_jw_cstr(w, fallback);
    gw_jw_key(w, "type");
    gw_jw_cstr(w, type);
    gw_jw_key(w, "param");
    gw_jw_null(w);
    gw_jw_key(w, "code");
    if (code)
        gw_jw_cstr(w, code);
    else
        gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_obj_end(w);
}

/* The "message" member of an AWS error body (some services spell it "Message"). */
static struct jv error_message(struct gw_span body)
{
    static const char *const k[] = {"message", "Message"};
    struct jv v[2];
    if (!body.ptr || scan(body, k, 2, v) != 0)
        return (struct jv){0};
    return jv_is(&v[0], GW_JT_STRING) ? v[0] : v[1];
}

int gw_bedrock_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                               struct gw_arena *a, struct gw_span *out, int *out_status)
{
    (void)error_type; /* TODO(issue 9): read x-amzn-ErrorType */
    *out = GW_SPAN_NULL;
    struct jv msg = error_message(gw_span_make(body, len));
    const struct err_map *m = err_lookup(status);
    int st = m ? m->client : (status >= 400 && status <= 599 ? status : 502);
    const char *type = m ? m->type : (st >= 500 ? "server_error" : "invalid_request_error");
    char fallback[96];
    snprintf(fallback, sizeof(fallback), "upstream provider error (HTTP %d)", status);
    size_t cap = len + 512;
    char *buf = gw_arena_alloc(a, cap);
    if (!buf)
        return -1;
    struct gw_jw w;
    gw_jw_init(&w, buf, cap);
    write_error(&w, &msg, fallback, type, m ? m->code : NULL);
    if (w.overflow)
        return -1;
    if (out_status)
        *out_status = st;
    *out = gw_span_make(buf, w.len);
    return 0;
}

/* ---- stream ---- */

void gw_bedrock_stream_init(struct gw_bedrock_stream *s, const struct gw_xlate *x)
{
    memset(s, 0, sizeof(*s));
    s->_x = x;
    gw_es_init(&s->_dec, x->arena, GW_BEDROCK_MESSAGE_MAX);
}

static int out_reserve(struct gw_bedrock_stream *s, size_t need)
{
    if (need <= s->_out_cap)
        return 0;
    size_t cap = s->_out_cap ? s->_out_cap : 4096;
    while (cap < need)
        cap *= 2;
    char *p = gw_arena_alloc(s->_x->arena, cap);
    if (!p)
        return -1;
    s->_out = p;
    s->_out_cap = cap;
    return 0;
}

static int sink_write(const struct gw_xlate_sink *sink, const char *p, size_t n)
{
    return sink->write(sink->arg, p, n) < 0 ? -1 : 0;
}

/* Starts "data: " + a JSON value in _out, sized for `extra` bytes of copied input. */
static int chunk_begin(struct gw_bedrock_stream *s, struct gw_jw *w, size_t extra)
{
    const struct gw_xlate *x = s->_x;
    size_t need = 2 * extra + 2 * (strlen0(x->client_model) + strlen0(x->request_id)) + 1024;
    if (out_reserve(s, need) != 0)
        return -1;
    memcpy(s->_out, "data: ", 6);
    gw_jw_init(w, s->_out + 6, s->_out_cap - 8);
    return 0;
}

static int chunk_send(struct gw_bedrock_stream *s, struct gw_jw *w)
{
    if (w->overflow)
        return -1;
    memcpy(s->_out + 6 + w->len, "\n\n", 2);
    return sink_write(s->_sink, s->_out, w->len + 8);
}

/* Opens a chat.completion.chunk up to its choice's delta object (left open). */
static void chunk_head(struct gw_bedrock_stream *s, struct gw_jw *w)
{
    gw_jw_obj_begin(w);
    write_head(w, s->_x, "chat.completion.chunk");
    gw_jw_key(w, "choices");
    gw_jw_arr_begin(w);
    gw_jw_obj_begin(w);
    gw_jw_key(w, "index");
    gw_jw_uint(w, 0);
    gw_jw_key(w, "delta");
    gw_jw_obj_begin(w);
    if (!s->_role_sent) {
        gw_jw_key(w, "role");
        gw_jw_cstr(w, "assistant");
        s->_role_sent = true;
    }
}

/* Closes what chunk_head opened, with the finish reason (NULL: null). */
static void chunk_tail(struct gw_jw *w, const char *finish)
{
    gw_jw_obj_end(w); /* delta */
    gw_jw_key(w, "finish_reason");
    if (finish)
        gw_jw_cstr(w, finish);
    else
        gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_arr_end(w);
    gw_jw_obj_end(w);
}

/* The stream's exceptions [ConverseStreamOutput] -> OpenAI error type and code. */
static void exception_kind(struct gw_span name, const char **type, const char **code)
{
    static const struct {
        const char *name, *type, *code;
    } t[] = {
        {"throttlingException", "rate_limit_error", "rate_limit_exceeded"},
        {"validationException", "invalid_request_error", NULL},
        {"modelStreamErrorException", "server_error", "model_error"},
        {"internalServerException", "server_error", NULL},
        {"serviceUnavailableException", "server_error", "service_unavailable"},
    };
    *type = "server_error";
    *code = NULL;
    for (size_t i = 0; i < GW_ARRAY_SIZE(t); i++) {
        if (gw_span_eq(name, gw_span_cstr(t[i].name))) {
            *type = t[i].type;
            *code = t[i].code;
            return;
        }
    }
}

/*
 * Writes an error chunk and ends the stream: with the message token msg (may
 * be NULL) or the text fallback. Returns ret, or -1 when it could not be
 * written.
 */
static int stream_error(struct gw_bedrock_stream *s, const struct jv *msg, const char *fallback,
                        const char *type, const char *code, int ret)
{
    struct gw_jw w;
    s->_done = true;
    s->_failed = ret < 0;
    if (chunk_begin(s, &w, (msg && msg->found ? msg->raw.len : 0) + strlen(fallback)) != 0) {
        s->_failed = true;
        return -1;
    }
    write_error(&w, msg, fallback, type, code);
    if (chunk_send(s, &w) != 0) {
        s->_failed = true;
        return -1;
    }
    return ret;
}

static int broken(struct gw_bedrock_stream *s, const char *why)
{
    return stream_error(s, NULL, why, "server_error", NULL, -1);
}

static void stream_usage(struct gw_bedrock_stream *s, struct gw_xlate_usage *u)
{
    fill_usage(u, s->_input_tokens, s->_output_tokens, s->_cache_read, s->_cache_write);
}

/* A chunk whose delta holds one tool_calls entry; id and name only on the first. */
static int tool_chunk(struct gw_bedrock_stream *s, const struct jv *id, const struct jv *name,
                      const struct jv *args, size_t extra)
{
    struct gw_jw w;
    if (chunk_begin(s, &w, extra) != 0)
        return -1;
    chunk_head(s, &w);
    gw_jw_key(&w, "tool_calls");
    gw_jw_arr_begin(&w);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "index");
    gw_jw_uint(&w, s->_tool_count - 1);
    if (id) {
        gw_jw_key(&w, "id");
        gw_jw_raw(&w, id->raw.ptr, id->raw.len);
        gw_jw_key(&w, "type");
        gw_jw_cstr(&w, "function");
    }
    gw_jw_key(&w, "function");
    gw_jw_obj_begin(&w);
    if (name) {
        gw_jw_key(&w, "name");
        gw_jw_raw(&w, name->raw.ptr, name->raw.len);
    }
    gw_jw_key(&w, "arguments");
    if (args)
        gw_jw_raw(&w, args->raw.ptr, args->raw.len);
    else
        gw_jw_cstr(&w, "");
    gw_jw_obj_end(&w);
    gw_jw_obj_end(&w);
    gw_jw_arr_end(&w);
    chunk_tail(&w, NULL);
    return chunk_send(s, &w);
}

/* The finish chunk, once. */
static int finish_chunk(struct gw_bedrock_stream *s, const char *reason)
{
    struct gw_jw w;
    if (s->_finish_sent)
        return 0;
    s->_finish_sent = true;
    if (chunk_begin(s, &w, 0) != 0)
        return -1;
    chunk_head(s, &w);
    chunk_tail(&w, reason);
    return chunk_send(s, &w);
}

/* metadata: usage, the usage chunk when asked, [DONE]. Returns 1, or -1. */
static int finish_stream(struct gw_bedrock_stream *s, bool with_usage)
{
    struct gw_jw w;
    s->_done = true;
    if (with_usage && s->_x->want_usage) {
        struct gw_xlate_usage tmp = {0};
        stream_usage(s, &tmp);
        if (chunk_begin(s, &w, 0) != 0)
            return -1;
        gw_jw_obj_begin(&w);
        write_head(&w, s->_x, "chat.completion.chunk");
        gw_jw_key(&w, "choices");
        gw_jw_arr_begin(&w);
        gw_jw_arr_end(&w);
        write_usage(&w, &tmp);
        gw_jw_obj_end(&w);
        if (chunk_send(s, &w) != 0)
            return -1;
    }
    static const char done[] = "data: [DONE]\n\n";
    return sink_write(s->_sink, done, sizeof(done) - 1) == 0 ? 1 : -1;
}

static const char *const ev_keys[] = {"role",       "start", "delta",
                                      "stopReason", "usage", "contentBlockIndex"};
enum { EK_ROLE, EK_START, EK_DELTA, EK_STOP, EK_USAGE, EK_INDEX, EK_COUNT };

/* One event (":message-type" event) -> chunks. 0, 1 when the stream ended, -1. */
static int on_event(struct gw_bedrock_stream *s, const struct gw_es_message *m)
{
    struct gw_span et = m->event_type;
    struct jv v[EK_COUNT];
    struct gw_jw w;
    bool known = gw_span_eq(et, GW_SPAN_LIT("messageStart")) ||
                 gw_span_eq(et, GW_SPAN_LIT("contentBlockStart")) ||
                 gw_span_eq(et, GW_SPAN_LIT("contentBlockDelta")) ||
                 gw_span_eq(et, GW_SPAN_LIT("contentBlockStop")) ||
                 gw_span_eq(et, GW_SPAN_LIT("messageStop")) ||
                 gw_span_eq(et, GW_SPAN_LIT("metadata"));
    if (!known)
        return 0; /* event types added later */
    if (scan(m->payload, ev_keys, EK_COUNT, v) != 0)
        return broken(s, "invalid event payload in the upstream stream");
    size_t plen = m->payload.len;

    if (gw_span_eq(et, GW_SPAN_LIT("messageStart"))) {
        if (s->_role_sent)
            return 0;
        if (chunk_begin(s, &w, 0) != 0)
            return -1;
        chunk_head(s, &w);
        gw_jw_key(&w, "content");
        gw_jw_cstr(&w, "");
        chunk_tail(&w, NULL);
        return chunk_send(s, &w);
    }
    if (gw_span_eq(et, GW_SPAN_LIT("contentBlockStart"))) {
        struct jv tu = member(&v[EK_START], "toolUse");
        if (!tu.found)
            return 0; /* other block starts carry nothing to say yet */
        struct jv tv[3];
        if (!jv_is(&tu, GW_JT_OBJ_BEGIN) || scan(tu.raw, tool_use_keys, 3, tv) != 0 ||
            !jv_is(&tv[0], GW_JT_STRING) || !jv_is(&tv[1], GW_JT_STRING))
            return broken(s, "invalid toolUse block start upstream");
        s->_tool_count++;
        return tool_chunk(s, &tv[0], &tv[1], NULL, plen);
    }
    if (gw_span_eq(et, GW_SPAN_LIT("contentBlockDelta"))) {
        static const char *const dk[] = {"text", "toolUse"};
        struct jv dv[2];
        if (!jv_is(&v[EK_DELTA], GW_JT_OBJ_BEGIN) || scan(v[EK_DELTA].raw, dk, 2, dv) != 0)
            return broken(s, "invalid contentBlockDelta upstream");
        if (jv_is(&dv[0], GW_JT_STRING)) {
            if (!dv[0].str.len)
                return 0;
            if (chunk_begin(s, &w, plen) != 0)
                return -1;
            chunk_head(s, &w);
            gw_jw_key(&w, "content");
            gw_jw_raw(&w, dv[0].raw.ptr, dv[0].raw.len);
            chunk_tail(&w, NULL);
            return chunk_send(s, &w);
        }
        struct jv input = member(&dv[1], "input");
        if (jv_is(&input, GW_JT_STRING) && input.str.len && s->_tool_count > 0)
            return tool_chunk(s, NULL, NULL, &input, plen);
        return 0; /* reasoningContent, citation and other deltas are not translated */
    }
    if (gw_span_eq(et, GW_SPAN_LIT("messageStop")))
        return finish_chunk(s, finish_reason(&v[EK_STOP])) == 0 ? 0 : -1;
    if (gw_span_eq(et, GW_SPAN_LIT("metadata"))) {
        read_usage(&v[EK_USAGE], &s->_input_tokens, &s->_output_tokens, &s->_cache_read,
                   &s->_cache_write);
        stream_usage(s, s->_u);
        if (finish_chunk(s, "stop") != 0)
            return -1;
        return finish_stream(s, true);
    }
    return 0; /* contentBlockStop */
}

/*
 * Header text for a message: printable ASCII kept, any other byte '?', at
 * most `max` bytes (headers are bytes off the wire, JSON wants UTF-8).
 */
static size_t printable(char *out, struct gw_span s, size_t max)
{
    size_t n = GW_MIN(s.len, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[n] = '\0';
    return n;
}

/* The decoder's callback: one complete message. <0 stops the decoder (state says why). */
static int on_message(void *arg, const struct gw_es_message *m)
{
    struct gw_bedrock_stream *s = arg;
    int r;
    if (gw_span_eq(m->message_type, GW_SPAN_LIT("event"))) {
        r = on_event(s, m);
    } else if (gw_span_eq(m->message_type, GW_SPAN_LIT("exception"))) {
        /* [ConverseStream: the exception's payload is {"message":...}] */
        const char *type, *code;
        char ex[65], name[96];
        struct jv msg = error_message(m->payload);
        exception_kind(m->exception_type, &type, &code);
        printable(ex, m->exception_type, 64);
        snprintf(name, sizeof(name), "upstream %s", ex[0] ? ex : "exception");
        r = stream_error(s, &msg, name, type, code, 1);
    } else if (gw_span_eq(m->message_type, GW_SPAN_LIT("error"))) {
        char code[49], text[97], why[176];
        printable(code, m->error_code, 48);
        printable(text, m->error_message, 96);
        snprintf(why, sizeof(why), "upstream stream error %s: %s", code, text);
        struct jv none = {0};
        r = stream_error(s, &none, why, "server_error", NULL, 1);
    } else {
        return 0; /* no other message type is defined */
    }
    if (r != 0) {
        s->_done = true;
        s->_failed |= r < 0;
        return -1;
    }
    return 0;
}

int gw_bedrock_stream_feed(struct gw_bedrock_stream *s, const char *data, size_t len,
                           const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    if (s->_done)
        return s->_failed ? -1 : 1;
    s->_sink = sink;
    s->_u = u;
    int r = gw_es_feed(&s->_dec, data, len, on_message, s);
    if (r < 0 && !s->_done) {
        enum gw_es_error e = gw_es_error(&s->_dec);
        if (e == GW_ES_NOMEM) {
            s->_done = s->_failed = true;
        } else {
            char why[128];
            snprintf(why, sizeof(why), "broken event stream from the upstream: %s",
                     gw_es_error_str(e));
            broken(s, why);
        }
    }
    s->_sink = NULL;
    s->_u = NULL;
    if (s->_done)
        return s->_failed ? -1 : 1;
    return 0;
}

int gw_bedrock_stream_end(struct gw_bedrock_stream *s, const struct gw_xlate_sink *sink,
                          struct gw_xlate_usage *u)
{
    (void)u;
    if (s->_done)
        return s->_failed ? -1 : 1;
    s->_sink = sink;
    int r;
    if (s->_finish_sent) {
        r = finish_stream(s, false); /* messageStop came; metadata did not */
    } else {
        r = broken(s, "upstream stream ended before messageStop");
    }
    s->_sink = NULL;
    s->_done = true;
    s->_failed = r < 0;
    return r < 0 ? -1 : 1;
}

/* ---- the dialect table ---- */

static void stream_init(void *st, const struct gw_xlate *x)
{
    gw_bedrock_stream_init(st, x);
}

static int stream_feed(void *st, const char *data, size_t len, const struct gw_xlate_sink *sink,
                       struct gw_xlate_usage *u)
{
    return gw_bedrock_stream_feed(st, data, len, sink, u);
}

static int stream_end(void *st, const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    return gw_bedrock_stream_end(st, sink, u);
}

const struct gw_dialect gw_dialect_bedrock = {
    .name = "bedrock",
    .build_request = gw_bedrock_build_request,
    .translate_response = gw_bedrock_translate_response,
    .translate_error = gw_bedrock_translate_error,
    .error_type_header = "x-amzn-errortype",
    .stream_ctype = GW_BEDROCK_STREAM_CTYPE,
    .build_embeddings = NULL,
    .translate_embeddings = NULL,
    .stream_size = sizeof(struct gw_bedrock_stream),
    .stream_init = stream_init,
    .stream_feed = stream_feed,
    .stream_end = stream_end,
};
