/*
 * providers/anthropic.c — OpenAI chat completions <-> Anthropic Messages API.
 *
 * Wire formats follow Anthropic's Messages API reference: request fields
 * (model, max_tokens, system, messages with text/image/tool_use/tool_result
 * blocks, stop_sequences, tools with input_schema, tool_choice), the message
 * object (content blocks, stop_reason, usage with cache tokens), the error
 * shape, and the SSE events of a streamed message. JSON is read with the
 * core/json.h tokenizer (strings are copied as their raw, already escaped
 * text whenever they pass through unchanged) and written with gw_jw_*.
 * The request body is bounded by providers/xbound.h (400 past its limit) and
 * function names follow its rule (1 to 64 of [a-zA-Z0-9_-], Anthropic's too).
 */
#include <stdarg.h>
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
#include "providers/anthropic.h"
#include "providers/dialect.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* The provider's anthropic_version; the default when unset (config fills it in). */
static const char *prov_version(const struct gw_provider *p)
{
    if (p && p->anthropic_version && p->anthropic_version[0])
        return p->anthropic_version;
    return GW_ANTHROPIC_VERSION_DEFAULT;
}

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
    struct gw_json_member m[16];
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

/* ---- request: OpenAI -> Anthropic ---- */

enum role { R_NONE = 0, R_USER, R_ASSISTANT };

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    enum role open; /* the message whose content array is open */
    size_t msg;     /* index in messages of the message being written */
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
 * consecutive messages of one role (tool results after each other, or a user
 * turn after them) become one Anthropic message, as parallel tool results
 * must; a message with no block is never written.
 */
static void begin_block(struct bctx *c, enum role role)
{
    if (c->open == role)
        return;
    close_msg(c);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "role");
    gw_jw_cstr(&c->w, role == R_USER ? "user" : "assistant");
    gw_jw_key(&c->w, "content");
    gw_jw_arr_begin(&c->w);
    c->open = role;
}

static void text_block(struct bctx *c, const struct jv *s)
{
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "text");
    gw_jw_key(&c->w, "text");
    gw_jw_raw(&c->w, s->raw.ptr, s->raw.len);
    gw_jw_obj_end(&c->w);
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && strncasecmp(s, p, k) == 0;
}

/* An image_url part's URL -> an image block (data: base64 or http(s) URL). */
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
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "image");
    gw_jw_key(&c->w, "source");
    gw_jw_obj_begin(&c->w);
    if (has_prefix(u, n, "data:")) {
        const char *semi = memchr(u, ';', n);
        if (!semi || !has_prefix(semi, n - (size_t)(semi - u), ";base64,") || semi == u + 5)
            return fail(c->err, "messages",
                        "image data URLs must be data:<media type>;base64,<data>");
        const char *data = semi + 8;
        gw_jw_key(&c->w, "type");
        gw_jw_cstr(&c->w, "base64");
        gw_jw_key(&c->w, "media_type");
        gw_jw_str(&c->w, u + 5, (size_t)(semi - (u + 5)));
        gw_jw_key(&c->w, "data");
        gw_jw_str(&c->w, data, n - (size_t)(data - u));
    } else if (has_prefix(u, n, "https://") || has_prefix(u, n, "http://")) {
        gw_jw_key(&c->w, "type");
        gw_jw_cstr(&c->w, "url");
        gw_jw_key(&c->w, "url");
        gw_jw_str(&c->w, u, n);
    } else {
        return fail(c->err, "messages", "image URLs must be http(s) or data: URLs");
    }
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * One OpenAI content part -> one Anthropic block; `role` opens the message
 * first (R_NONE inside a tool_result). Empty text parts are dropped
 * (Anthropic refuses empty text blocks).
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
        if (role != R_NONE)
            begin_block(c, role);
        text_block(c, &v[1]);
        return 0;
    }
    if (jv_streq(&v[0], "image_url")) {
        if (!images)
            return fail(c->err, "messages",
                        "image parts are only accepted in user and tool messages");
        if (role != R_NONE)
            begin_block(c, role);
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
            begin_block(c, role);
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

/* Assistant tool_calls -> tool_use blocks; arguments must be a JSON object. */
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
        begin_block(c, R_ASSISTANT);
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "type");
        gw_jw_cstr(&c->w, "tool_use");
        gw_jw_key(&c->w, "id");
        gw_jw_raw(&c->w, cv[0].raw.ptr, cv[0].raw.len);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        gw_jw_key(&c->w, "input");
        gw_jw_raw(&c->w, args, alen);
        gw_jw_obj_end(&c->w);
    }
    return r == 0 ? 0 : fail(c->err, "messages", "invalid tool_calls");
}

/* A tool message -> a tool_result block in a user message. */
static int write_tool_result(struct bctx *c, const struct jv *id, const struct jv *content)
{
    if (!jv_is(id, GW_JT_STRING))
        return fail(c->err, "messages", "tool messages need tool_call_id");
    begin_block(c, R_USER);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "tool_result");
    gw_jw_key(&c->w, "tool_use_id");
    gw_jw_raw(&c->w, id->raw.ptr, id->raw.len);
    if (jv_is(content, GW_JT_STRING)) {
        gw_jw_key(&c->w, "content");
        gw_jw_raw(&c->w, content->raw.ptr, content->raw.len);
    } else if (jv_is(content, GW_JT_ARR_BEGIN)) {
        struct arr_it it;
        struct jv part;
        int r;
        gw_jw_key(&c->w, "content");
        gw_jw_arr_begin(&c->w);
        if (arr_begin(&it, content) != 0)
            return fail(c->err, "messages", "invalid tool message content");
        while ((r = arr_next(&it, &part)) == 1)
            if (write_part(c, R_NONE, &part, true) != 0)
                return -1;
        if (r != 0)
            return fail(c->err, "messages", "invalid tool message content");
        gw_jw_arr_end(&c->w);
    } else if (content->found) {
        return fail(c->err, "messages", "tool message content must be a string or parts");
    }
    gw_jw_obj_end(&c->w);
    return 0;
}

static const char *const msg_keys[] = {"role", "content", "tool_calls", "tool_call_id"};
enum { MK_ROLE, MK_CONTENT, MK_TOOL_CALLS, MK_TOOL_CALL_ID, MK_COUNT };

static bool is_system(const struct jv *role)
{
    return jv_streq(role, "system") || jv_streq(role, "developer");
}

/* System and developer messages' text, joined with "\n\n", unescaped, in the arena. */
static int collect_system(struct bctx *c, const struct jv *msgs, size_t total, char **out,
                          size_t *out_len)
{
    struct arr_it it;
    struct jv m, mv[MK_COUNT];
    char *buf = gw_arena_alloc(c->a, total + 1);
    size_t n = 0;
    int r;
    if (!buf)
        return fail_mem(c->err);
    if (arr_begin(&it, msgs) != 0)
        return fail(c->err, "messages", "messages must be an array");
    while ((r = arr_next(&it, &m)) == 1) {
        if (!jv_is(&m, GW_JT_OBJ_BEGIN) || scan(m.raw, msg_keys, MK_COUNT, mv) != 0)
            return fail(c->err, "messages", "messages must be objects");
        if (!is_system(&mv[MK_ROLE]))
            continue;
        struct jv one = mv[MK_CONTENT];
        struct arr_it pit;
        bool parts = jv_is(&one, GW_JT_ARR_BEGIN);
        if (!parts && !jv_is(&one, GW_JT_STRING))
            return fail(c->err, "messages", "system message content must be text");
        if (parts && arr_begin(&pit, &mv[MK_CONTENT]) != 0)
            return fail(c->err, "messages", "invalid system content");
        for (;;) {
            struct jv text = one;
            if (parts) {
                static const char *const pk[] = {"type", "text"};
                struct jv part, pv[2];
                int pr = arr_next(&pit, &part);
                if (pr == 0)
                    break;
                if (pr < 0 || !jv_is(&part, GW_JT_OBJ_BEGIN) || scan(part.raw, pk, 2, pv) != 0 ||
                    !jv_streq(&pv[0], "text") || !jv_is(&pv[1], GW_JT_STRING))
                    return fail(c->err, "messages", "system message parts must be text");
                text = pv[1];
            }
            if (text.str.len) {
                if (n) {
                    memcpy(buf + n, "\n\n", 2);
                    n += 2;
                }
                long k = gw_json_unescape(text.str, buf + n, total - n);
                if (k < 0)
                    return fail(c->err, "messages", "invalid system text");
                n += (size_t)k;
            }
            if (!parts)
                break;
        }
    }
    if (r != 0)
        return fail(c->err, "messages", "invalid messages");
    *out = buf;
    *out_len = n;
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
    close_msg(c);
    gw_jw_arr_end(&c->w);
    return 0;
}

static int write_tools(struct bctx *c, const struct jv *tools)
{
    static const char *const tk[] = {"type", "function"};
    static const char *const fk[] = {"name", "description", "parameters"};
    struct arr_it it;
    struct jv t, tv[2], fv[3];
    int r;
    if (arr_begin(&it, tools) != 0)
        return fail(c->err, "tools", "tools must be an array");
    gw_jw_key(&c->w, "tools");
    gw_jw_arr_begin(&c->w);
    for (size_t i = 0; (r = arr_next(&it, &t)) == 1; i++) {
        if (!jv_is(&t, GW_JT_OBJ_BEGIN) || scan(t.raw, tk, 2, tv) != 0)
            return fail(c->err, "tools", "tools entries must be objects");
        if (!jv_streq(&tv[0], "function"))
            return fail(c->err, "tools", "only function tools are supported by this provider");
        if (!jv_is(&tv[1], GW_JT_OBJ_BEGIN) || scan(tv[1].raw, fk, 3, fv) != 0 ||
            !jv_is(&fv[0], GW_JT_STRING))
            return fail(c->err, "tools", "function tools need function.name");
        if (fv[2].found && !jv_is(&fv[2], GW_JT_OBJ_BEGIN))
            return fail(c->err, "tools", "function.parameters must be a JSON Schema object");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "tools[%zu].function.name", i) != 0)
            return -1;
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        if (jv_is(&fv[1], GW_JT_STRING)) {
            gw_jw_key(&c->w, "description");
            gw_jw_raw(&c->w, fv[1].raw.ptr, fv[1].raw.len);
        }
        gw_jw_key(&c->w, "input_schema");
        if (fv[2].found) {
            gw_jw_raw(&c->w, fv[2].raw.ptr, fv[2].raw.len);
        } else {
            static const char empty_schema[] = "{\"type\":\"object\",\"properties\":{}}";
            gw_jw_raw(&c->w, empty_schema, sizeof(empty_schema) - 1);
        }
        gw_jw_obj_end(&c->w);
    }
    if (r != 0)
        return fail(c->err, "tools", "invalid tools");
    gw_jw_arr_end(&c->w);
    return 0;
}

static int write_tool_choice(struct bctx *c, const struct jv *tc, bool no_parallel)
{
    static const char *const ok[] = {"type", "function"};
    static const char *const fk[] = {"name"};
    const char *type = "auto";
    struct jv name = {0};
    if (!tc->found) {
        if (!no_parallel)
            return 0;
    } else if (jv_is(tc, GW_JT_STRING)) {
        if (jv_streq(tc, "auto"))
            type = "auto";
        else if (jv_streq(tc, "required"))
            type = "any";
        else if (jv_streq(tc, "none"))
            type = "none";
        else
            return fail(c->err, "tool_choice", "tool_choice must be auto, required or none");
    } else if (jv_is(tc, GW_JT_OBJ_BEGIN)) {
        struct jv ov[2], fv[1];
        if (scan(tc->raw, ok, 2, ov) != 0 || !jv_streq(&ov[0], "function") ||
            !jv_is(&ov[1], GW_JT_OBJ_BEGIN) || scan(ov[1].raw, fk, 1, fv) != 0 ||
            !jv_is(&fv[0], GW_JT_STRING))
            return fail(c->err, "tool_choice",
                        "tool_choice must name a function: "
                        "{\"type\":\"function\",\"function\":{\"name\":...}}");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "%s", "tool_choice.function.name") != 0)
            return -1;
        type = "tool";
        name = fv[0];
    } else {
        return fail(c->err, "tool_choice", "invalid tool_choice");
    }
    gw_jw_key(&c->w, "tool_choice");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, type);
    if (name.found) {
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, name.raw.ptr, name.raw.len);
    }
    if (no_parallel && strcmp(type, "none") != 0) {
        gw_jw_key(&c->w, "disable_parallel_tool_use");
        gw_jw_bool(&c->w, true);
    }
    gw_jw_obj_end(&c->w);
    return 0;
}

static int write_stop(struct bctx *c, const struct jv *stop)
{
    gw_jw_key(&c->w, "stop_sequences");
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
    "model",  "messages",    "max_tokens",  "max_completion_tokens",
    "stop",   "temperature", "top_p",       "top_k",
    "stream", "tools",       "tool_choice", "parallel_tool_calls",
    "n",      "user",        "mock",
};
enum {
    RK_MODEL,
    RK_MESSAGES,
    RK_MAX_TOKENS,
    RK_MAX_COMPLETION_TOKENS,
    RK_STOP,
    RK_TEMPERATURE,
    RK_TOP_P,
    RK_TOP_K,
    RK_STREAM,
    RK_TOOLS,
    RK_TOOL_CHOICE,
    RK_PARALLEL,
    RK_N,
    RK_USER,
    RK_MOCK,
    RK_COUNT
};

static const char warn_version[] =
    "sent with anthropic-version 2023-06-01: 2026-10-21 refuses temperature, top_p and top_k";

int gw_anthropic_build_request(const struct gw_xlate *x, const char *body, size_t len,
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
    uint64_t n;
    if (v[RK_N].found && (!num_u64(&v[RK_N], &n) || n != 1))
        return fail(err, "n", "this provider returns one choice: n must be 1");
    const struct jv *max =
        v[RK_MAX_COMPLETION_TOKENS].found ? &v[RK_MAX_COMPLETION_TOKENS] : &v[RK_MAX_TOKENS];
    if (max->found && (!num_u64(max, &n) || n == 0))
        return fail(err, max == &v[RK_MAX_TOKENS] ? "max_tokens" : "max_completion_tokens",
                    "must be a positive integer");
    static const int sampling[] = {RK_TEMPERATURE, RK_TOP_P, RK_TOP_K};
    bool any_sampling = false;
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++) {
        const struct jv *s = &v[sampling[i]];
        if (s->found && !jv_is(s, GW_JT_NUMBER))
            return fail(err, req_keys[sampling[i]], "must be a number");
        any_sampling |= s->found;
    }
    if (v[RK_STREAM].found && !jv_is(&v[RK_STREAM], GW_JT_TRUE) &&
        !jv_is(&v[RK_STREAM], GW_JT_FALSE))
        return fail(err, "stream", "stream must be a boolean");
    bool no_parallel = jv_is(&v[RK_PARALLEL], GW_JT_FALSE);

    /* Strings are copied raw or get shorter when decoded; tool arguments get
     * shorter too. The fixed part covers keys, headers and the model name.
     * The buffer is never larger than xbound's limit; overflowing it there
     * is the client's 400, below it this estimate's bug (500). */
    const char *model = x->upstream_model;
    size_t model_len = model ? strlen(model) : 0;
    struct gw_xbound b;
    gw_xbound_init(&b, x, len, model_len * 2);
    char *obuf = gw_xbound_buf(&b, x->arena, 2 * len + model_len * 2 + 1024, err);
    if (!obuf)
        return -1;
    gw_jw_init(&c.w, obuf, b.cap);

    char *sys = NULL;
    size_t sys_len = 0;
    if (collect_system(&c, &v[RK_MESSAGES], len, &sys, &sys_len) != 0)
        return -1;

    gw_jw_obj_begin(&c.w);
    gw_jw_key(&c.w, "model");
    if (model)
        gw_jw_str(&c.w, model, model_len);
    else if (jv_is(&v[RK_MODEL], GW_JT_STRING))
        gw_jw_raw(&c.w, v[RK_MODEL].raw.ptr, v[RK_MODEL].raw.len);
    else
        return fail(err, "model", "model is required");
    gw_jw_key(&c.w, "max_tokens");
    if (max->found)
        gw_jw_raw(&c.w, max->raw.ptr, max->raw.len);
    else
        gw_jw_uint(&c.w, 4096);
    if (sys_len) {
        gw_jw_key(&c.w, "system");
        gw_jw_str(&c.w, sys, sys_len);
    }
    if (write_messages(&c, &v[RK_MESSAGES]) != 0)
        return -1;
    if (v[RK_STOP].found && write_stop(&c, &v[RK_STOP]) != 0)
        return -1;
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++) {
        const struct jv *s = &v[sampling[i]];
        if (!s->found)
            continue;
        gw_jw_key(&c.w, req_keys[sampling[i]]);
        gw_jw_raw(&c.w, s->raw.ptr, s->raw.len);
    }
    if (jv_is(&v[RK_STREAM], GW_JT_TRUE)) {
        gw_jw_key(&c.w, "stream");
        gw_jw_bool(&c.w, true);
    }
    /* The bundled mock provider's per-request controls (tools/mock) travel as
     * they are; every other field a dialect does not know is dropped. */
    if (jv_is(&v[RK_MOCK], GW_JT_OBJ_BEGIN)) {
        gw_jw_key(&c.w, "mock");
        gw_jw_raw(&c.w, v[RK_MOCK].raw.ptr, v[RK_MOCK].raw.len);
    }
    if (jv_is(&v[RK_USER], GW_JT_STRING)) {
        gw_jw_key(&c.w, "metadata");
        gw_jw_obj_begin(&c.w);
        gw_jw_key(&c.w, "user_id");
        gw_jw_raw(&c.w, v[RK_USER].raw.ptr, v[RK_USER].raw.len);
        gw_jw_obj_end(&c.w);
    }
    if (v[RK_TOOLS].found) {
        if (write_tools(&c, &v[RK_TOOLS]) != 0)
            return -1;
        if (write_tool_choice(&c, &v[RK_TOOL_CHOICE], no_parallel) != 0)
            return -1;
    }
    gw_jw_obj_end(&c.w);
    if (c.w.overflow)
        return gw_xbound_overflow(&b, err);

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
        return fail_mem(err);
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
    out->body = gw_span_make(obuf, c.w.len);
    return 0;
}

/* ---- response: Anthropic -> OpenAI ---- */

static const char *finish_reason(const struct jv *stop)
{
    if (jv_streq(stop, "max_tokens") || jv_streq(stop, "model_context_window_exceeded"))
        return "length";
    if (jv_streq(stop, "tool_use"))
        return "tool_calls";
    if (jv_streq(stop, "refusal"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn */
}

static const char *const usage_keys[] = {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                         "cache_creation_input_tokens"};

/* Reads the usage object's counters that are present into in/out/read/creation. */
static void read_usage(const struct jv *usage, uint64_t *in, uint64_t *outp, uint64_t *read,
                       uint64_t *creation)
{
    struct jv uv[4];
    uint64_t *dst[4] = {in, outp, read, creation};
    if (!jv_is(usage, GW_JT_OBJ_BEGIN) || scan(usage->raw, usage_keys, 4, uv) != 0)
        return;
    for (size_t i = 0; i < 4; i++) {
        uint64_t n;
        if (num_u64(&uv[i], &n))
            *dst[i] = n;
    }
}

static void fill_usage(struct gw_xlate_usage *u, uint64_t in, uint64_t outp, uint64_t read,
                       uint64_t creation)
{
    if (!u)
        return;
    u->prompt_tokens = in + read + creation;
    u->completion_tokens = outp;
    u->cached_tokens = read;
    u->cache_creation_tokens = creation;
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

static size_t strlen0(const char *s)
{
    return s ? strlen(s) : 0;
}

int gw_anthropic_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                    struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const mk[] = {"type", "content", "stop_reason", "usage"};
    static const char *const bk[] = {"type", "text", "id", "name", "input"};
    struct jv mv[4], b, bv[5];
    struct arr_it it;
    int r;
    *out = GW_SPAN_NULL;
    if (scan(gw_span_make(body, len), mk, 4, mv) != 0 || !jv_streq(&mv[0], "message") ||
        !jv_is(&mv[1], GW_JT_ARR_BEGIN))
        return -1;

    /* Pass 1: the text blocks joined (decoded), and whether there are tool calls. */
    char *text = gw_arena_alloc(x->arena, len + 1);
    size_t text_len = 0;
    bool have_text = false, have_tools = false;
    if (!text || arr_begin(&it, &mv[1]) != 0)
        return -1;
    while ((r = arr_next(&it, &b)) == 1) {
        if (!jv_is(&b, GW_JT_OBJ_BEGIN) || scan(b.raw, bk, 5, bv) != 0)
            return -1;
        if (jv_streq(&bv[0], "text") && jv_is(&bv[1], GW_JT_STRING)) {
            long k = gw_json_unescape(bv[1].str, text + text_len, len - text_len);
            if (k < 0)
                return -1;
            text_len += (size_t)k;
            have_text = true;
        } else if (jv_streq(&bv[0], "tool_use")) {
            if (!jv_is(&bv[2], GW_JT_STRING) || !jv_is(&bv[3], GW_JT_STRING))
                return -1;
            have_tools = true;
        }
    }
    if (r != 0)
        return -1;

    /* Tool inputs are escaped into strings: at most 6 bytes per input byte
     * (control characters as \u00XX; the tokenizer refuses raw ones, so 2). */
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
        if (arr_begin(&it, &mv[1]) != 0)
            return -1;
        while ((r = arr_next(&it, &b)) == 1) {
            if (scan(b.raw, bk, 5, bv) != 0 || !jv_streq(&bv[0], "tool_use"))
                continue;
            gw_jw_obj_begin(&w);
            gw_jw_key(&w, "id");
            gw_jw_raw(&w, bv[2].raw.ptr, bv[2].raw.len);
            gw_jw_key(&w, "type");
            gw_jw_cstr(&w, "function");
            gw_jw_key(&w, "function");
            gw_jw_obj_begin(&w);
            gw_jw_key(&w, "name");
            gw_jw_raw(&w, bv[3].raw.ptr, bv[3].raw.len);
            gw_jw_key(&w, "arguments");
            if (bv[4].found)
                gw_jw_str(&w, bv[4].raw.ptr, bv[4].raw.len);
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
    gw_jw_cstr(&w, finish_reason(&mv[2]));
    gw_jw_obj_end(&w);
    gw_jw_arr_end(&w);

    uint64_t in = 0, outp = 0, read = 0, creation = 0;
    read_usage(&mv[3], &in, &outp, &read, &creation);
    struct gw_xlate_usage tmp = {0};
    fill_usage(&tmp, in, outp, read, creation);
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

static const struct err_map *err_lookup(const struct jv *type)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(err_maps); i++)
        if (jv_streq(type, err_maps[i].anth))
            return &err_maps[i];
    return NULL;
}

static int client_status(int status)
{
    if (status == 529)
        return 503;
    return status >= 400 && status <= 599 ? status : 502;
}

/*
 * Writes {"error":{"message","type","param","code"}} for the Anthropic error
 * object text err_obj (may be absent), falling back to `status`.
 */
static void write_error(struct gw_jw *w, const struct jv *err_obj, int status, int *out_status)
{
    static const char *const ek[] = {"type", "message"};
    struct jv ev[2] = {{0}, {0}};
    if (err_obj && jv_is(err_obj, GW_JT_OBJ_BEGIN))
        (void)scan(err_obj->raw, ek, 2, ev);
    const struct err_map *m = err_lookup(&ev[0]);
    int st = m ? m->status : client_status(status);
    gw_jw_obj_begin(w);
    gw_jw_key(w, "error");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "message");
    if (jv_is(&ev[1], GW_JT_STRING)) {
        gw_jw_raw(w, ev[1].raw.ptr, ev[1].raw.len);
    } else {
        char msg[96];
        int n = snprintf(msg, sizeof(msg), "upstream provider error (HTTP %d)", status);
        gw_jw_str(w, msg, (size_t)GW_MAX(n, 0));
    }
    gw_jw_key(w, "type");
    if (m)
        gw_jw_cstr(w, m->type);
    else if (jv_is(&ev[0], GW_JT_STRING))
        gw_jw_raw(w, ev[0].raw.ptr, ev[0].raw.len);
    else
        gw_jw_cstr(w, st >= 500 ? "server_error" : "invalid_request_error");
    gw_jw_key(w, "param");
    gw_jw_null(w);
    gw_jw_key(w, "code");
    if (m && m->code)
        gw_jw_cstr(w, m->code);
    else
        gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_obj_end(w);
    if (out_status)
        *out_status = st;
}

int gw_anthropic_translate_error(int status, struct gw_span error_type, const char *body,
                                 size_t len, struct gw_arena *a, struct gw_span *out,
                                 int *out_status)
{
    (void)error_type; /* one status, one error: the body says which */
    static const char *const k[] = {"type", "error"};
    struct jv v[2] = {{0}, {0}};
    *out = GW_SPAN_NULL;
    if (body && scan(gw_span_make(body, len), k, 2, v) != 0)
        memset(v, 0, sizeof(v));
    size_t cap = len + 512;
    char *buf = gw_arena_alloc(a, cap);
    if (!buf)
        return -1;
    struct gw_jw w;
    gw_jw_init(&w, buf, cap);
    write_error(&w, &v[1], status, out_status);
    if (w.overflow)
        return -1;
    *out = gw_span_make(buf, w.len);
    return 0;
}

/* ---- stream ---- */

void gw_anthropic_stream_init(struct gw_anthropic_stream *s, const struct gw_xlate *x)
{
    memset(s, 0, sizeof(*s));
    s->_x = x;
}

/* Makes _buf hold at least `need` bytes, keeping what it holds. */
static int buf_reserve(struct gw_anthropic_stream *s, size_t need)
{
    if (need <= s->_cap)
        return 0;
    if (need > GW_ANTHROPIC_EVENT_MAX)
        return -1;
    size_t cap = s->_cap ? s->_cap : 4096;
    while (cap < need)
        cap *= 2;
    cap = GW_MIN(cap, (size_t)GW_ANTHROPIC_EVENT_MAX);
    char *p = gw_arena_alloc(s->_x->arena, cap);
    if (!p)
        return -1;
    if (s->_data_len + s->_line_len)
        memcpy(p, s->_buf, s->_data_len + s->_line_len);
    s->_buf = p;
    s->_cap = cap;
    return 0;
}

static int out_reserve(struct gw_anthropic_stream *s, size_t need)
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
static int chunk_begin(struct gw_anthropic_stream *s, struct gw_jw *w, size_t extra)
{
    const struct gw_xlate *x = s->_x;
    size_t need = 2 * extra + 2 * (strlen0(x->client_model) + strlen0(x->request_id)) + 1024;
    if (out_reserve(s, need) != 0)
        return -1;
    memcpy(s->_out, "data: ", 6);
    gw_jw_init(w, s->_out + 6, s->_out_cap - 8);
    return 0;
}

static int chunk_send(struct gw_anthropic_stream *s, struct gw_jw *w,
                      const struct gw_xlate_sink *sink)
{
    if (w->overflow)
        return -1;
    memcpy(s->_out + 6 + w->len, "\n\n", 2);
    return sink_write(sink, s->_out, w->len + 8);
}

/* Opens a chat.completion.chunk up to its choice's delta object (left open). */
static void chunk_head(struct gw_anthropic_stream *s, struct gw_jw *w)
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

static void stream_usage(struct gw_anthropic_stream *s, struct gw_xlate_usage *u)
{
    fill_usage(u, s->_input_tokens, s->_output_tokens, s->_cache_read, s->_cache_creation);
}

/* Writes an error chunk for the Anthropic error object (or a message) and ends the stream. */
static int stream_error(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                        const struct jv *err_obj, const char *msg, int ret)
{
    struct gw_jw w;
    s->_done = true;
    s->_failed = ret < 0;
    if (chunk_begin(s, &w, err_obj ? err_obj->raw.len : 0) != 0)
        return -1;
    if (err_obj) {
        write_error(&w, err_obj, 500, NULL);
    } else {
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "error");
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "message");
        gw_jw_cstr(&w, msg);
        gw_jw_key(&w, "type");
        gw_jw_cstr(&w, "server_error");
        gw_jw_key(&w, "param");
        gw_jw_null(&w);
        gw_jw_key(&w, "code");
        gw_jw_null(&w);
        gw_jw_obj_end(&w);
        gw_jw_obj_end(&w);
    }
    if (chunk_send(s, &w, sink) != 0)
        return -1;
    return ret;
}

static const char *const ev_keys[] = {"type",  "message", "content_block",
                                      "delta", "usage",   "error"};
enum { EK_TYPE, EK_MESSAGE, EK_BLOCK, EK_DELTA, EK_USAGE, EK_ERROR, EK_COUNT };

/* One complete event's data (JSON) -> chunks. 0, 1 when the stream ended, -1. */
static int dispatch(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                    struct gw_xlate_usage *u)
{
    struct jv v[EK_COUNT];
    struct gw_jw w;
    size_t dlen = s->_data_len;
    if (scan(gw_span_make(s->_buf, dlen), ev_keys, EK_COUNT, v) != 0 ||
        !jv_is(&v[EK_TYPE], GW_JT_STRING))
        return stream_error(s, sink, NULL, "invalid event in the upstream stream", -1);
    const struct jv *type = &v[EK_TYPE];

    if (jv_streq(type, "message_start")) {
        static const char *const mk[] = {"usage"};
        struct jv mu;
        if (jv_is(&v[EK_MESSAGE], GW_JT_OBJ_BEGIN) && scan(v[EK_MESSAGE].raw, mk, 1, &mu) == 0)
            read_usage(&mu, &s->_input_tokens, &s->_output_tokens, &s->_cache_read,
                       &s->_cache_creation);
        stream_usage(s, u);
        if (s->_role_sent)
            return 0;
        if (chunk_begin(s, &w, 0) != 0)
            return -1;
        chunk_head(s, &w);
        gw_jw_key(&w, "content");
        gw_jw_cstr(&w, "");
        chunk_tail(&w, NULL);
        return chunk_send(s, &w, sink);
    }
    if (jv_streq(type, "content_block_start")) {
        static const char *const bk[] = {"type", "id", "name"};
        struct jv bv[3];
        if (!jv_is(&v[EK_BLOCK], GW_JT_OBJ_BEGIN) || scan(v[EK_BLOCK].raw, bk, 3, bv) != 0)
            return stream_error(s, sink, NULL, "invalid content_block_start upstream", -1);
        if (!jv_streq(&bv[0], "tool_use"))
            return 0; /* text (deltas follow), thinking and server blocks: nothing yet */
        if (!jv_is(&bv[1], GW_JT_STRING) || !jv_is(&bv[2], GW_JT_STRING))
            return stream_error(s, sink, NULL, "invalid tool_use block upstream", -1);
        if (chunk_begin(s, &w, dlen) != 0)
            return -1;
        chunk_head(s, &w);
        gw_jw_key(&w, "tool_calls");
        gw_jw_arr_begin(&w);
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "index");
        gw_jw_uint(&w, s->_tool_count++);
        gw_jw_key(&w, "id");
        gw_jw_raw(&w, bv[1].raw.ptr, bv[1].raw.len);
        gw_jw_key(&w, "type");
        gw_jw_cstr(&w, "function");
        gw_jw_key(&w, "function");
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "name");
        gw_jw_raw(&w, bv[2].raw.ptr, bv[2].raw.len);
        gw_jw_key(&w, "arguments");
        gw_jw_cstr(&w, "");
        gw_jw_obj_end(&w);
        gw_jw_obj_end(&w);
        gw_jw_arr_end(&w);
        chunk_tail(&w, NULL);
        return chunk_send(s, &w, sink);
    }
    if (jv_streq(type, "content_block_delta")) {
        static const char *const dk[] = {"type", "text", "partial_json"};
        struct jv dv[3];
        if (!jv_is(&v[EK_DELTA], GW_JT_OBJ_BEGIN) || scan(v[EK_DELTA].raw, dk, 3, dv) != 0)
            return stream_error(s, sink, NULL, "invalid content_block_delta upstream", -1);
        bool text = jv_streq(&dv[0], "text_delta") && jv_is(&dv[1], GW_JT_STRING);
        bool args = jv_streq(&dv[0], "input_json_delta") && jv_is(&dv[2], GW_JT_STRING) &&
                    s->_tool_count > 0;
        if ((!text && !args) || (text && dv[1].str.len == 0) || (args && dv[2].str.len == 0))
            return 0; /* thinking, signature and citation deltas are not translated */
        if (chunk_begin(s, &w, dlen) != 0)
            return -1;
        chunk_head(s, &w);
        if (text) {
            gw_jw_key(&w, "content");
            gw_jw_raw(&w, dv[1].raw.ptr, dv[1].raw.len);
        } else {
            gw_jw_key(&w, "tool_calls");
            gw_jw_arr_begin(&w);
            gw_jw_obj_begin(&w);
            gw_jw_key(&w, "index");
            gw_jw_uint(&w, s->_tool_count - 1);
            gw_jw_key(&w, "function");
            gw_jw_obj_begin(&w);
            gw_jw_key(&w, "arguments");
            gw_jw_raw(&w, dv[2].raw.ptr, dv[2].raw.len);
            gw_jw_obj_end(&w);
            gw_jw_obj_end(&w);
            gw_jw_arr_end(&w);
        }
        chunk_tail(&w, NULL);
        return chunk_send(s, &w, sink);
    }
    if (jv_streq(type, "message_delta")) {
        static const char *const dk[] = {"stop_reason"};
        struct jv stop = {0};
        if (jv_is(&v[EK_DELTA], GW_JT_OBJ_BEGIN))
            (void)scan(v[EK_DELTA].raw, dk, 1, &stop);
        read_usage(&v[EK_USAGE], &s->_input_tokens, &s->_output_tokens, &s->_cache_read,
                   &s->_cache_creation);
        stream_usage(s, u);
        if (!stop.found || s->_finish_sent)
            return 0;
        s->_finish_sent = true;
        if (chunk_begin(s, &w, 0) != 0)
            return -1;
        chunk_head(s, &w);
        chunk_tail(&w, finish_reason(&stop));
        return chunk_send(s, &w, sink);
    }
    if (jv_streq(type, "message_stop")) {
        if (!s->_finish_sent) {
            s->_finish_sent = true;
            if (chunk_begin(s, &w, 0) != 0)
                return -1;
            chunk_head(s, &w);
            chunk_tail(&w, "stop");
            if (chunk_send(s, &w, sink) != 0)
                return -1;
        }
        stream_usage(s, u);
        s->_done = true;
        if (s->_x->want_usage) {
            struct gw_xlate_usage tmp = {0};
            fill_usage(&tmp, s->_input_tokens, s->_output_tokens, s->_cache_read,
                       s->_cache_creation);
            if (chunk_begin(s, &w, 0) != 0)
                return -1;
            gw_jw_obj_begin(&w);
            write_head(&w, s->_x, "chat.completion.chunk");
            gw_jw_key(&w, "choices");
            gw_jw_arr_begin(&w);
            gw_jw_arr_end(&w);
            write_usage(&w, &tmp);
            gw_jw_obj_end(&w);
            if (chunk_send(s, &w, sink) != 0)
                return -1;
        }
        static const char done[] = "data: [DONE]\n\n";
        return sink_write(sink, done, sizeof(done) - 1) == 0 ? 1 : -1;
    }
    if (jv_streq(type, "error"))
        return stream_error(s, sink, &v[EK_ERROR], NULL, 1);
    return 0; /* ping, content_block_stop, and event types added later */
}

/* One complete line at _buf[_data_len.._data_len+_line_len). */
static int line(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                struct gw_xlate_usage *u)
{
    size_t n = s->_line_len;
    s->_line_len = 0;
    if (n == 0) { /* blank line: the event is complete (_buf may still be NULL) */
        int r = 0;
        if (s->_has_data)
            r = dispatch(s, sink, u);
        s->_data_len = 0;
        s->_has_data = false;
        return r;
    }
    char *l = s->_buf + s->_data_len;
    if (l[0] == ':')
        return 0;
    size_t colon = 0;
    while (colon < n && l[colon] != ':')
        colon++;
    if (colon != 4 || memcmp(l, "data", 4) != 0)
        return 0;                         /* event:, id:, retry: say nothing the data does not */
    size_t v = colon < n ? colon + 1 : n; /* "data" alone: an empty value */
    if (v < n && l[v] == ' ')
        v++;
    if (s->_has_data)
        s->_buf[s->_data_len++] = '\n'; /* at most the 'd' of "data" it overwrites */
    memmove(s->_buf + s->_data_len, l + v, n - v);
    s->_data_len += n - v;
    s->_has_data = true;
    return 0;
}

int gw_anthropic_stream_feed(struct gw_anthropic_stream *s, const char *data, size_t len,
                             const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    if (s->_done)
        return s->_failed ? -1 : 1;
    size_t i = 0;
    if (s->_cr && len) {
        s->_cr = false;
        if (data[0] == '\n')
            i = 1;
    }
    while (i < len) {
        size_t k = i;
        while (k < len && data[k] != '\n' && data[k] != '\r')
            k++;
        size_t add = k - i;
        if (add) {
            size_t need = s->_data_len + s->_line_len + add;
            if (need > GW_ANTHROPIC_EVENT_MAX)
                return stream_error(s, sink, NULL, "upstream stream event over 1 MiB", -1);
            if (buf_reserve(s, need) != 0) {
                s->_done = s->_failed = true;
                return -1;
            }
            memcpy(s->_buf + s->_data_len + s->_line_len, data + i, add);
            s->_line_len += add;
        }
        if (k == len)
            break;
        i = k + 1;
        if (data[k] == '\r') {
            if (i < len && data[i] == '\n')
                i++;
            else if (i == len)
                s->_cr = true;
        }
        int r = line(s, sink, u);
        if (r != 0) {
            s->_done = true;
            s->_failed |= r < 0;
            return r;
        }
    }
    return 0;
}

int gw_anthropic_stream_end(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                            struct gw_xlate_usage *u)
{
    (void)u;
    if (s->_done)
        return s->_failed ? -1 : 1;
    int r = stream_error(s, sink, NULL, "upstream stream ended before message_stop", -1);
    s->_done = s->_failed = true;
    return r < 0 ? -1 : r;
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
