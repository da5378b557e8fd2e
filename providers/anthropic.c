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
 * OpenAI side is written by providers/oai.h, and the event stream is framed
 * by core/sse.h's reader. The request body is bounded by providers/xbound.h
 * (400 past its limit) and function names follow its rule (1 to 64 of
 * [a-zA-Z0-9_-], Anthropic's too).
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

enum role { R_NONE = 0, R_USER, R_ASSISTANT };

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    enum role open; /* the message whose content array is open */
    size_t msg;     /* index in messages of the message being written */
};

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

static void text_block(struct bctx *c, const struct gw_jv *s)
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
static int image_block(struct bctx *c, const struct gw_jv *part)
{
    static const char *const pk[] = {"image_url"};
    static const char *const uk[] = {"url"};
    struct gw_jv iu, url;
    if (gw_jv_scan(part->raw, pk, 1, &iu) != 0)
        return gw_xlate_fail(c->err, "messages", "invalid content part");
    if (gw_jv_is(&iu, GW_JT_STRING)) {
        url = iu;
    } else if (gw_jv_is(&iu, GW_JT_OBJ_BEGIN)) {
        if (gw_jv_scan(iu.raw, uk, 1, &url) != 0)
            return gw_xlate_fail(c->err, "messages", "invalid image_url");
    } else {
        return gw_xlate_fail(c->err, "messages", "image_url part needs image_url.url");
    }
    if (!gw_jv_is(&url, GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages", "image_url part needs image_url.url");
    size_t n;
    const char *u = gw_jv_unesc(c->a, url.str, &n);
    if (!u)
        return gw_xlate_fail_mem(c->err);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "image");
    gw_jw_key(&c->w, "source");
    gw_jw_obj_begin(&c->w);
    if (has_prefix(u, n, "data:")) {
        const char *semi = memchr(u, ';', n);
        if (!semi || !has_prefix(semi, n - (size_t)(semi - u), ";base64,") || semi == u + 5)
            return gw_xlate_fail(c->err, "messages",
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
        return gw_xlate_fail(c->err, "messages", "image URLs must be http(s) or data: URLs");
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
static int write_part(struct bctx *c, enum role role, const struct gw_jv *part, bool images)
{
    static const char *const k[] = {"type", "text"};
    struct gw_jv v[2];
    if (gw_jv_scan_obj(part, k, 2, v) != 0)
        return gw_xlate_fail(c->err, "messages", "content parts must be objects");
    if (gw_jv_streq(&v[0], "text")) {
        if (!gw_jv_is(&v[1], GW_JT_STRING))
            return gw_xlate_fail(c->err, "messages", "text part needs a string text");
        if (v[1].str.len == 0)
            return 0;
        if (role != R_NONE)
            begin_block(c, role);
        text_block(c, &v[1]);
        return 0;
    }
    if (gw_jv_streq(&v[0], "image_url")) {
        if (!images)
            return gw_xlate_fail(c->err, "messages",
                                 "image parts are only accepted in user and tool messages");
        if (role != R_NONE)
            begin_block(c, role);
        return image_block(c, part);
    }
    if (gw_jv_streq(&v[0], "refusal"))
        return 0; /* an earlier refusal carries nothing the model needs */
    return gw_xlate_fail(c->err, "messages", "content part type not supported by this provider");
}

/* Content (string or parts) of a user or assistant message. */
static int write_content(struct bctx *c, enum role role, const struct gw_jv *content)
{
    if (gw_jv_is(content, GW_JT_STRING)) {
        if (content->str.len) {
            begin_block(c, role);
            text_block(c, content);
        }
        return 0;
    }
    if (gw_jv_is(content, GW_JT_ARR_BEGIN)) {
        struct gw_jv_it it;
        struct gw_jv part;
        int r;
        if (gw_jv_arr_begin(&it, content) != 0)
            return gw_xlate_fail(c->err, "messages", "invalid content");
        while ((r = gw_jv_arr_next(&it, &part)) == 1)
            if (write_part(c, role, &part, role == R_USER) != 0)
                return -1;
        return r == 0 ? 0 : gw_xlate_fail(c->err, "messages", "invalid content");
    }
    if (!content->found && role == R_ASSISTANT)
        return 0;
    return gw_xlate_fail(c->err, "messages",
                         "message content must be a string or an array of parts");
}

/* Assistant tool_calls -> tool_use blocks; arguments must be a JSON object. */
static int write_tool_calls(struct bctx *c, const struct gw_jv *calls)
{
    static const char *const ck[] = {"id", "type", "function"};
    static const char *const fk[] = {"name", "arguments"};
    struct gw_jv_it it;
    struct gw_jv call, cv[3], fv[2];
    size_t k = 0;
    int r;
    if (gw_jv_arr_begin(&it, calls) != 0)
        return gw_xlate_fail(c->err, "messages", "tool_calls must be an array");
    for (; (r = gw_jv_arr_next(&it, &call)) == 1; k++) {
        if (gw_jv_scan_obj(&call, ck, 3, cv) != 0)
            return gw_xlate_fail(c->err, "messages", "tool_calls entries must be objects");
        if (cv[1].found && !gw_jv_streq(&cv[1], "function"))
            return gw_xlate_fail(c->err, "messages", "only function tool calls are supported");
        if (!gw_jv_is(&cv[0], GW_JT_STRING) || gw_jv_scan_obj(&cv[2], fk, 2, fv) != 0 ||
            !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "messages",
                                 "tool_calls entries need id and function.name");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err,
                           "messages[%zu].tool_calls[%zu].function.name", c->msg, k) != 0)
            return -1;
        const char *args = "{}";
        size_t alen = 2;
        if (fv[1].found) {
            if (!gw_jv_is(&fv[1], GW_JT_STRING))
                return gw_xlate_fail(c->err, "messages",
                                     "tool call arguments must be a JSON string");
            char *s = gw_jv_unesc(c->a, fv[1].str, &alen);
            if (!s)
                return gw_xlate_fail_mem(c->err);
            size_t i = 0;
            while (i < alen && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
            if (i == alen) {
                args = "{}";
                alen = 2;
            } else if (s[i] != '{' || !gw_json_validate(s, alen)) {
                return gw_xlate_fail(c->err, "messages",
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
    return r == 0 ? 0 : gw_xlate_fail(c->err, "messages", "invalid tool_calls");
}

/* A tool message -> a tool_result block in a user message. */
static int write_tool_result(struct bctx *c, const struct gw_jv *id, const struct gw_jv *content)
{
    if (!gw_jv_is(id, GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages", "tool messages need tool_call_id");
    begin_block(c, R_USER);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "tool_result");
    gw_jw_key(&c->w, "tool_use_id");
    gw_jw_raw(&c->w, id->raw.ptr, id->raw.len);
    if (gw_jv_is(content, GW_JT_STRING)) {
        gw_jw_key(&c->w, "content");
        gw_jw_raw(&c->w, content->raw.ptr, content->raw.len);
    } else if (gw_jv_is(content, GW_JT_ARR_BEGIN)) {
        struct gw_jv_it it;
        struct gw_jv part;
        int r;
        gw_jw_key(&c->w, "content");
        gw_jw_arr_begin(&c->w);
        if (gw_jv_arr_begin(&it, content) != 0)
            return gw_xlate_fail(c->err, "messages", "invalid tool message content");
        while ((r = gw_jv_arr_next(&it, &part)) == 1)
            if (write_part(c, R_NONE, &part, true) != 0)
                return -1;
        if (r != 0)
            return gw_xlate_fail(c->err, "messages", "invalid tool message content");
        gw_jw_arr_end(&c->w);
    } else if (content->found) {
        return gw_xlate_fail(c->err, "messages", "tool message content must be a string or parts");
    }
    gw_jw_obj_end(&c->w);
    return 0;
}

static const char *const msg_keys[] = {"role", "content", "tool_calls", "tool_call_id"};
enum { MK_ROLE, MK_CONTENT, MK_TOOL_CALLS, MK_TOOL_CALL_ID, MK_COUNT };

static bool is_system(const struct gw_jv *role)
{
    return gw_jv_streq(role, "system") || gw_jv_streq(role, "developer");
}

/* System and developer messages' text, joined with "\n\n", unescaped, in the arena. */
static int collect_system(struct bctx *c, const struct gw_jv *msgs, size_t total, char **out,
                          size_t *out_len)
{
    struct gw_jv_it it;
    struct gw_jv m, mv[MK_COUNT];
    char *buf = gw_arena_alloc(c->a, total + 1);
    size_t n = 0;
    int r;
    if (!buf)
        return gw_xlate_fail_mem(c->err);
    if (gw_jv_arr_begin(&it, msgs) != 0)
        return gw_xlate_fail(c->err, "messages", "messages must be an array");
    while ((r = gw_jv_arr_next(&it, &m)) == 1) {
        if (gw_jv_scan_obj(&m, msg_keys, MK_COUNT, mv) != 0)
            return gw_xlate_fail(c->err, "messages", "messages must be objects");
        if (!is_system(&mv[MK_ROLE]))
            continue;
        struct gw_jv one = mv[MK_CONTENT];
        struct gw_jv_it pit;
        bool parts = gw_jv_is(&one, GW_JT_ARR_BEGIN);
        if (!parts && !gw_jv_is(&one, GW_JT_STRING))
            return gw_xlate_fail(c->err, "messages", "system message content must be text");
        if (parts && gw_jv_arr_begin(&pit, &mv[MK_CONTENT]) != 0)
            return gw_xlate_fail(c->err, "messages", "invalid system content");
        for (;;) {
            struct gw_jv text = one;
            if (parts) {
                static const char *const pk[] = {"type", "text"};
                struct gw_jv part, pv[2];
                int pr = gw_jv_arr_next(&pit, &part);
                if (pr == 0)
                    break;
                if (pr < 0 || gw_jv_scan_obj(&part, pk, 2, pv) != 0 ||
                    !gw_jv_streq(&pv[0], "text") || !gw_jv_is(&pv[1], GW_JT_STRING))
                    return gw_xlate_fail(c->err, "messages", "system message parts must be text");
                text = pv[1];
            }
            if (text.str.len) {
                if (n) {
                    memcpy(buf + n, "\n\n", 2);
                    n += 2;
                }
                long k = gw_json_unescape(text.str, buf + n, total - n);
                if (k < 0)
                    return gw_xlate_fail(c->err, "messages", "invalid system text");
                n += (size_t)k;
            }
            if (!parts)
                break;
        }
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "messages", "invalid messages");
    *out = buf;
    *out_len = n;
    return 0;
}

static int write_messages(struct bctx *c, const struct gw_jv *msgs)
{
    struct gw_jv_it it;
    struct gw_jv m, mv[MK_COUNT];
    int r;
    if (gw_jv_arr_begin(&it, msgs) != 0)
        return gw_xlate_fail(c->err, "messages", "messages must be an array");
    gw_jw_key(&c->w, "messages");
    gw_jw_arr_begin(&c->w);
    for (c->msg = 0; (r = gw_jv_arr_next(&it, &m)) == 1; c->msg++) {
        if (gw_jv_scan_obj(&m, msg_keys, MK_COUNT, mv) != 0)
            return gw_xlate_fail(c->err, "messages", "messages must be objects");
        const struct gw_jv *role = &mv[MK_ROLE];
        if (is_system(role))
            continue;
        if (gw_jv_streq(role, "user")) {
            if (write_content(c, R_USER, &mv[MK_CONTENT]) != 0)
                return -1;
        } else if (gw_jv_streq(role, "assistant")) {
            if (write_content(c, R_ASSISTANT, &mv[MK_CONTENT]) != 0)
                return -1;
            if (mv[MK_TOOL_CALLS].found && write_tool_calls(c, &mv[MK_TOOL_CALLS]) != 0)
                return -1;
        } else if (gw_jv_streq(role, "tool")) {
            if (write_tool_result(c, &mv[MK_TOOL_CALL_ID], &mv[MK_CONTENT]) != 0)
                return -1;
        } else {
            return gw_xlate_fail(c->err, "messages",
                                 "message role must be system, developer, user, assistant or tool");
        }
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "messages", "invalid messages");
    close_msg(c);
    gw_jw_arr_end(&c->w);
    return 0;
}

static int write_tools(struct bctx *c, const struct gw_jv *tools)
{
    static const char *const tk[] = {"type", "function"};
    static const char *const fk[] = {"name", "description", "parameters"};
    struct gw_jv_it it;
    struct gw_jv t, tv[2], fv[3];
    int r;
    if (gw_jv_arr_begin(&it, tools) != 0)
        return gw_xlate_fail(c->err, "tools", "tools must be an array");
    gw_jw_key(&c->w, "tools");
    gw_jw_arr_begin(&c->w);
    for (size_t i = 0; (r = gw_jv_arr_next(&it, &t)) == 1; i++) {
        if (gw_jv_scan_obj(&t, tk, 2, tv) != 0)
            return gw_xlate_fail(c->err, "tools", "tools entries must be objects");
        if (!gw_jv_streq(&tv[0], "function"))
            return gw_xlate_fail(c->err, "tools",
                                 "only function tools are supported by this provider");
        if (gw_jv_scan_obj(&tv[1], fk, 3, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "tools", "function tools need function.name");
        if (fv[2].found && !gw_jv_is(&fv[2], GW_JT_OBJ_BEGIN))
            return gw_xlate_fail(c->err, "tools",
                                 "function.parameters must be a JSON Schema object");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "tools[%zu].function.name", i) != 0)
            return -1;
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        if (gw_jv_is(&fv[1], GW_JT_STRING)) {
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
        return gw_xlate_fail(c->err, "tools", "invalid tools");
    gw_jw_arr_end(&c->w);
    return 0;
}

static int write_tool_choice(struct bctx *c, const struct gw_jv *tc, bool no_parallel)
{
    static const char *const ok[] = {"type", "function"};
    static const char *const fk[] = {"name"};
    const char *type = "auto";
    struct gw_jv name = {0};
    if (!tc->found) {
        if (!no_parallel)
            return 0;
    } else if (gw_jv_is(tc, GW_JT_STRING)) {
        if (gw_jv_streq(tc, "auto"))
            type = "auto";
        else if (gw_jv_streq(tc, "required"))
            type = "any";
        else if (gw_jv_streq(tc, "none"))
            type = "none";
        else
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice must be auto, required or none");
    } else if (gw_jv_is(tc, GW_JT_OBJ_BEGIN)) {
        struct gw_jv ov[2], fv[1];
        if (gw_jv_scan(tc->raw, ok, 2, ov) != 0 || !gw_jv_streq(&ov[0], "function") ||
            gw_jv_scan_obj(&ov[1], fk, 1, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice must name a function: "
                                 "{\"type\":\"function\",\"function\":{\"name\":...}}");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "%s", "tool_choice.function.name") != 0)
            return -1;
        type = "tool";
        name = fv[0];
    } else {
        return gw_xlate_fail(c->err, "tool_choice", "invalid tool_choice");
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

static int write_stop(struct bctx *c, const struct gw_jv *stop)
{
    gw_jw_key(&c->w, "stop_sequences");
    if (gw_jv_is(stop, GW_JT_STRING)) {
        gw_jw_arr_begin(&c->w);
        gw_jw_raw(&c->w, stop->raw.ptr, stop->raw.len);
        gw_jw_arr_end(&c->w);
        return 0;
    }
    struct gw_jv_it it;
    struct gw_jv s;
    int r;
    if (gw_jv_arr_begin(&it, stop) != 0)
        return gw_xlate_fail(c->err, "stop", "stop must be a string or an array of strings");
    gw_jw_arr_begin(&c->w);
    while ((r = gw_jv_arr_next(&it, &s)) == 1) {
        if (!gw_jv_is(&s, GW_JT_STRING))
            return gw_xlate_fail(c->err, "stop", "stop must be a string or an array of strings");
        gw_jw_raw(&c->w, s.raw.ptr, s.raw.len);
    }
    gw_jw_arr_end(&c->w);
    return r == 0 ? 0 : gw_xlate_fail(c->err, "stop", "invalid stop");
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
    struct gw_jv v[RK_COUNT];
    struct bctx c = {.a = x->arena, .err = err};
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (gw_jv_scan(gw_span_make(body, len), req_keys, RK_COUNT, v) != 0)
        return gw_xlate_fail(err, NULL, "the request body must be a JSON object");
    if (!gw_jv_is(&v[RK_MESSAGES], GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "messages", "messages must be a non-empty array");
    uint64_t n;
    if (v[RK_N].found && (!gw_jv_u64(&v[RK_N], &n) || n != 1))
        return gw_xlate_fail(err, "n", "this provider returns one choice: n must be 1");
    const struct gw_jv *max =
        v[RK_MAX_COMPLETION_TOKENS].found ? &v[RK_MAX_COMPLETION_TOKENS] : &v[RK_MAX_TOKENS];
    if (max->found && (!gw_jv_u64(max, &n) || n == 0))
        return gw_xlate_fail(err, max == &v[RK_MAX_TOKENS] ? "max_tokens" : "max_completion_tokens",
                             "must be a positive integer");
    static const int sampling[] = {RK_TEMPERATURE, RK_TOP_P, RK_TOP_K};
    bool any_sampling = false;
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++) {
        const struct gw_jv *s = &v[sampling[i]];
        if (s->found && !gw_jv_is(s, GW_JT_NUMBER))
            return gw_xlate_fail(err, req_keys[sampling[i]], "must be a number");
        any_sampling |= s->found;
    }
    if (v[RK_STREAM].found && !gw_jv_is(&v[RK_STREAM], GW_JT_TRUE) &&
        !gw_jv_is(&v[RK_STREAM], GW_JT_FALSE))
        return gw_xlate_fail(err, "stream", "stream must be a boolean");
    bool no_parallel = gw_jv_is(&v[RK_PARALLEL], GW_JT_FALSE);

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
    else if (gw_jv_is(&v[RK_MODEL], GW_JT_STRING))
        gw_jw_raw(&c.w, v[RK_MODEL].raw.ptr, v[RK_MODEL].raw.len);
    else
        return gw_xlate_fail(err, "model", "model is required");
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
        const struct gw_jv *s = &v[sampling[i]];
        if (!s->found)
            continue;
        gw_jw_key(&c.w, req_keys[sampling[i]]);
        gw_jw_raw(&c.w, s->raw.ptr, s->raw.len);
    }
    if (gw_jv_is(&v[RK_STREAM], GW_JT_TRUE)) {
        gw_jw_key(&c.w, "stream");
        gw_jw_bool(&c.w, true);
    }
    /* The bundled mock provider's per-request controls (tools/mock) travel as
     * they are; every other field a dialect does not know is dropped. */
    if (gw_jv_is(&v[RK_MOCK], GW_JT_OBJ_BEGIN)) {
        gw_jw_key(&c.w, "mock");
        gw_jw_raw(&c.w, v[RK_MOCK].raw.ptr, v[RK_MOCK].raw.len);
    }
    if (gw_jv_is(&v[RK_USER], GW_JT_STRING)) {
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
    out->body = gw_span_make(obuf, c.w.len);
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
        .prompt_tokens = n[U_IN] + n[U_READ] + n[U_CREATION],
        .completion_tokens = n[U_OUT],
        .cached_tokens = n[U_READ],
        .cache_creation_tokens = n[U_CREATION],
        .have = true,
    };
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
    struct gw_jv mv[4], b, bv[5];
    struct gw_jv_it it;
    int r;
    *out = GW_SPAN_NULL;
    if (gw_jv_scan(gw_span_make(body, len), mk, 4, mv) != 0 || !gw_jv_streq(&mv[0], "message") ||
        !gw_jv_is(&mv[1], GW_JT_ARR_BEGIN))
        return -1;

    /* Pass 1: the text blocks joined (decoded), and whether there are tool calls. */
    char *text = gw_arena_alloc(x->arena, len + 1);
    size_t text_len = 0;
    bool have_text = false, have_tools = false;
    if (!text || gw_jv_arr_begin(&it, &mv[1]) != 0)
        return -1;
    while ((r = gw_jv_arr_next(&it, &b)) == 1) {
        if (gw_jv_scan_obj(&b, bk, 5, bv) != 0)
            return -1;
        if (gw_jv_streq(&bv[0], "text") && gw_jv_is(&bv[1], GW_JT_STRING)) {
            long k = gw_json_unescape(bv[1].str, text + text_len, len - text_len);
            if (k < 0)
                return -1;
            text_len += (size_t)k;
            have_text = true;
        } else if (gw_jv_streq(&bv[0], "tool_use")) {
            if (!gw_jv_is(&bv[2], GW_JT_STRING) || !gw_jv_is(&bv[3], GW_JT_STRING))
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
    gw_oai_completion_begin(&w, x);
    gw_oai_choice_begin(&w, 0);
    gw_jw_key(&w, "content");
    if (have_text)
        gw_jw_str(&w, text, text_len);
    else
        gw_jw_null(&w);
    if (have_tools) {
        gw_jw_key(&w, "tool_calls");
        gw_jw_arr_begin(&w);
        if (gw_jv_arr_begin(&it, &mv[1]) != 0)
            return -1;
        while ((r = gw_jv_arr_next(&it, &b)) == 1) {
            if (gw_jv_scan(b.raw, bk, 5, bv) != 0 || !gw_jv_streq(&bv[0], "tool_use"))
                continue;
            /* input is an object: OpenAI carries it as a JSON string */
            gw_oai_tool_call(&w, &(struct gw_oai_call){.index = -1,
                                                       .id = bv[2].raw,
                                                       .name = bv[3].raw,
                                                       .args = bv[4].raw,
                                                       .args_text = true});
        }
        gw_jw_arr_end(&w);
    }
    gw_oai_message_end(&w);
    gw_oai_choice_end(&w, false, finish_reason(&mv[2]));

    uint64_t n[U_COUNT] = {0};
    read_usage(&mv[3], n);
    struct gw_xlate_usage tmp = to_usage(n);
    gw_oai_completion_end(&w, &tmp);
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
    *out = GW_SPAN_NULL;
    struct gw_oai_error e;
    char msg[64];
    int st = map_error(&err, status, &e, msg, sizeof(msg));
    size_t cap = len + 512;
    char *buf = gw_arena_alloc(a, cap);
    if (!buf)
        return -1;
    struct gw_jw w;
    gw_jw_init(&w, buf, cap);
    gw_oai_error_write(&w, &e);
    if (w.overflow)
        return -1;
    if (out_status)
        *out_status = st;
    *out = gw_span_make(buf, w.len);
    return 0;
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
 * One event's data (JSON) -> chunks. The data's "type" says what the event
 * is; the SSE event name repeats it. 0, 1 when the stream ended, -1.
 */
static int dispatch(struct gw_anthropic_stream *s, struct gw_span data,
                    const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    struct gw_oai_stream *o = &s->_o;
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

struct feed {
    struct gw_anthropic_stream *s;
    const struct gw_xlate_sink *sink;
    struct gw_xlate_usage *u;
};

static int on_event(void *arg, struct gw_span event, struct gw_span data)
{
    struct feed *f = arg;
    (void)event;
    return dispatch(f->s, data, f->sink, f->u);
}

int gw_anthropic_stream_feed(struct gw_anthropic_stream *s, const char *data, size_t len,
                             const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    struct gw_oai_stream *o = &s->_o;
    if (o->done)
        return o->failed ? -1 : 1;
    struct feed f = {s, sink, u};
    int r = gw_sse_reader_feed(&s->_sse, data, len, on_event, &f);
    if (r == GW_SSE_OVERSIZE)
        return gw_oai_stream_fail(o, sink, "upstream stream event over 1 MiB", -1);
    if (r == GW_SSE_NOMEM)
        r = -1;
    if (r != 0) { /* ended: finished, an error chunk written, or a write or allocation failed */
        o->done = true;
        o->failed |= r < 0;
    }
    return r;
}

int gw_anthropic_stream_end(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                            struct gw_xlate_usage *u)
{
    (void)u;
    if (s->_o.done)
        return s->_o.failed ? -1 : 1;
    return gw_oai_stream_fail(&s->_o, sink, "upstream stream ended before message_stop", -1);
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
