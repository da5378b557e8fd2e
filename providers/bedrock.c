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
 * operation, told apart by the x-amzn-ErrorType header where a status is
 * shared. Requests are signed with SigV4, service "bedrock"
 * (providers/sigv4.h); the stream is framed by providers/eventstream.h.
 * JSON is read through providers/jv.h (strings pass through as their raw,
 * already escaped text), Converse is written with gw_jw_*, and everything
 * the client gets back is written by providers/oai.h, so this file holds the
 * mapping only. The request body is bounded by providers/xbound.h (400 past
 * its limit) and function names follow its rule, which is
 * ToolSpecification.name's: 1 to 64 of [a-zA-Z0-9_-].
 */
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
#include "providers/jv.h"
#include "providers/oai.h"
#include "providers/sigv4.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

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
        return gw_xlate_fail(
            c->err, "messages",
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

static void text_block(struct bctx *c, const struct gw_jv *s)
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
    if (has_prefix(u, n, "https://") || has_prefix(u, n, "http://"))
        return gw_xlate_fail(c->err, "messages",
                             "this provider (Bedrock) takes image bytes only: send the image as a "
                             "data:image/...;base64,... URL");
    if (!has_prefix(u, n, "data:"))
        return gw_xlate_fail(c->err, "messages", "image URLs must be data: URLs for this provider");
    const char *semi = memchr(u, ';', n);
    if (!semi || !has_prefix(semi, n - (size_t)(semi - u), ";base64,"))
        return gw_xlate_fail(c->err, "messages",
                             "image data URLs must be data:<media type>;base64,<data>");
    const char *fmt = image_format(u + 5, (size_t)(semi - (u + 5)));
    if (!fmt)
        return gw_xlate_fail(c->err, "messages",
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
        if (role != R_NONE && begin_block(c, role) != 0)
            return -1;
        text_block(c, &v[1]);
        return 0;
    }
    if (gw_jv_streq(&v[0], "image_url")) {
        if (!images)
            return gw_xlate_fail(c->err, "messages",
                                 "image parts are only accepted in user and tool messages");
        if (role != R_NONE && begin_block(c, role) != 0)
            return -1;
        return image_block(c, part);
    }
    if (gw_jv_streq(&v[0], "refusal"))
        return 0; /* an earlier refusal carries nothing the model needs */
    return gw_xlate_fail(c->err, "messages", "content part type not supported by this provider");
}

/* Each part of the array parts (write_part); `invalid` is the message for a malformed array. */
static int write_parts(struct bctx *c, enum role role, const struct gw_jv *parts, bool images,
                       const char *invalid)
{
    struct gw_jv_it it;
    struct gw_jv part;
    int r;
    if (gw_jv_arr_begin(&it, parts) != 0)
        return gw_xlate_fail(c->err, "messages", "%s", invalid);
    while ((r = gw_jv_arr_next(&it, &part)) == 1)
        if (write_part(c, role, &part, images) != 0)
            return -1;
    return r == 0 ? 0 : gw_xlate_fail(c->err, "messages", "%s", invalid);
}

/* Content (string or parts) of a user or assistant message. */
static int write_content(struct bctx *c, enum role role, const struct gw_jv *content)
{
    if (gw_jv_is(content, GW_JT_STRING)) {
        if (content->str.len) {
            if (begin_block(c, role) != 0)
                return -1;
            text_block(c, content);
        }
        return 0;
    }
    if (gw_jv_is(content, GW_JT_ARR_BEGIN))
        return write_parts(c, role, content, role == R_USER, "invalid content");
    if (!content->found && role == R_ASSISTANT)
        return 0;
    return gw_xlate_fail(c->err, "messages",
                         "message content must be a string or an array of parts");
}

/* Remembers a tool name the history uses (raw JSON string token), once. */
static int note_tool_name(struct bctx *c, struct gw_span name)
{
    if (++c->ncalls > GW_XBOUND_TOOL_CALLS_MAX)
        return gw_xlate_fail(c->err, "messages", "A request may carry at most %u tool calls.",
                             (unsigned)GW_XBOUND_TOOL_CALLS_MAX);
    for (size_t i = 0; i < c->nnames; i++)
        if (gw_span_eq(c->names[i], name))
            return 0;
    if (c->nnames == c->names_cap) {
        size_t cap = c->names_cap ? c->names_cap * 2 : 8;
        struct gw_span *p = gw_arena_alloc(c->a, cap * sizeof(*p));
        if (!p)
            return gw_xlate_fail_mem(c->err);
        if (c->nnames)
            memcpy(p, c->names, c->nnames * sizeof(*p));
        c->names = p;
        c->names_cap = cap;
    }
    c->names[c->nnames++] = name;
    return 0;
}

/* The length of the JSON whitespace s[0..n) starts with (RFC 8259 §2). */
static size_t json_ws(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Assistant tool_calls -> toolUse blocks; arguments must be a JSON object. */
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
        /* The name is also repeated in the history's toolConfig (write_history_specs). */
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
            size_t i = json_ws(s, alen);
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
    return r == 0 ? 0 : gw_xlate_fail(c->err, "messages", "invalid tool_calls");
}

/*
 * A tool message -> a toolResult block in a user message. String content
 * that is a JSON object goes as {"json":{...}} (ToolResultContentBlock.json),
 * other strings as {"text":...}, parts as text and image blocks; empty
 * content gives an empty content list.
 */
static int write_tool_result(struct bctx *c, const struct gw_jv *id, const struct gw_jv *content)
{
    if (!gw_jv_is(id, GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages", "tool messages need tool_call_id");
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
    if (gw_jv_is(content, GW_JT_STRING)) {
        size_t n;
        char *s = gw_jv_unesc(c->a, content->str, &n);
        if (!s)
            return gw_xlate_fail_mem(c->err);
        size_t i = json_ws(s, n);
        if (i < n && s[i] == '{' && gw_json_validate(s, n)) {
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "json");
            gw_jw_raw(&c->w, s + i, n - i);
            gw_jw_obj_end(&c->w);
        } else if (content->str.len) {
            text_block(c, content);
        }
    } else if (gw_jv_is(content, GW_JT_ARR_BEGIN)) {
        if (write_parts(c, R_NONE, content, true, "invalid tool message content") != 0)
            return -1;
    } else if (content->found) {
        return gw_xlate_fail(c->err, "messages", "tool message content must be a string or parts");
    }
    gw_jw_arr_end(&c->w);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

static const char *const msg_keys[] = {"role", "content", "tool_calls", "tool_call_id"};
enum { MK_ROLE, MK_CONTENT, MK_TOOL_CALLS, MK_TOOL_CALL_ID, MK_COUNT };

static bool is_system(const struct gw_jv *role)
{
    return gw_jv_streq(role, "system") || gw_jv_streq(role, "developer");
}

/*
 * System and developer messages -> "system":[{"text":...},...], one block
 * per non-empty text (string content or text part), in order, wherever they
 * stand in the conversation. Nothing is written when there is none. sw is a
 * writer of its own (the caller splices it in) so that an absent system
 * costs no key.
 */
static int write_system(struct bctx *c, const struct gw_jv *msgs, struct gw_jw *sw, bool *any)
{
    struct gw_jv_it it;
    struct gw_jv m, mv[MK_COUNT];
    int r;
    *any = false;
    if (gw_jv_arr_begin(&it, msgs) != 0)
        return gw_xlate_fail(c->err, "messages", "messages must be an array");
    gw_jw_arr_begin(sw);
    while ((r = gw_jv_arr_next(&it, &m)) == 1) {
        if (gw_jv_scan_obj(&m, msg_keys, MK_COUNT, mv) != 0)
            return gw_xlate_fail(c->err, "messages", "messages must be objects");
        if (!is_system(&mv[MK_ROLE]))
            continue;
        const struct gw_jv *content = &mv[MK_CONTENT];
        if (gw_jv_is(content, GW_JT_STRING)) {
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
        struct gw_jv_it pit;
        struct gw_jv part, pv[2];
        int pr;
        if (!gw_jv_is(content, GW_JT_ARR_BEGIN) || gw_jv_arr_begin(&pit, content) != 0)
            return gw_xlate_fail(c->err, "messages", "system message content must be text");
        while ((pr = gw_jv_arr_next(&pit, &part)) == 1) {
            if (gw_jv_scan_obj(&part, pk, 2, pv) != 0 || !gw_jv_streq(&pv[0], "text") ||
                !gw_jv_is(&pv[1], GW_JT_STRING))
                return gw_xlate_fail(c->err, "messages", "system message parts must be text");
            if (!pv[1].str.len)
                continue;
            gw_jw_obj_begin(sw);
            gw_jw_key(sw, "text");
            gw_jw_raw(sw, pv[1].raw.ptr, pv[1].raw.len);
            gw_jw_obj_end(sw);
            *any = true;
        }
        if (pr != 0)
            return gw_xlate_fail(c->err, "messages", "invalid system content");
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "messages", "invalid messages");
    gw_jw_arr_end(sw);
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
    if (!c->any_message)
        return gw_xlate_fail(c->err, "messages",
                             "messages must hold at least one user message with content");
    close_msg(c);
    gw_jw_arr_end(&c->w);
    return 0;
}

/* Checks the tools array; *count gets the number of function tools. */
static int check_tools(struct bctx *c, const struct gw_jv *tools, size_t *count)
{
    static const char *const tk[] = {"type", "function"};
    static const char *const fk[] = {"name", "description", "parameters"};
    struct gw_jv_it it;
    struct gw_jv t, tv[2], fv[3];
    int r;
    *count = 0;
    if (gw_jv_arr_begin(&it, tools) != 0)
        return gw_xlate_fail(c->err, "tools", "tools must be an array");
    for (size_t i = 0; (r = gw_jv_arr_next(&it, &t)) == 1; i++) {
        if (gw_jv_scan_obj(&t, tk, 2, tv) != 0)
            return gw_xlate_fail(c->err, "tools", "tools entries must be objects");
        if (!gw_jv_streq(&tv[0], "function"))
            return gw_xlate_fail(c->err, "tools",
                                 "only function tools are supported by this provider");
        if (gw_jv_scan_obj(&tv[1], fk, 3, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "tools", "function tools need function.name");
        if (fv[1].found && !gw_jv_is(&fv[1], GW_JT_STRING))
            return gw_xlate_fail(c->err, "tools", "function.description must be a string");
        if (fv[2].found && !gw_jv_is(&fv[2], GW_JT_OBJ_BEGIN))
            return gw_xlate_fail(c->err, "tools",
                                 "function.parameters must be a JSON Schema object");
        if (gw_xbound_name(fv[0].str, NULL, c->a, c->err, "tools[%zu].function.name", i) != 0)
            return -1;
        (*count)++;
    }
    return r == 0 ? 0 : gw_xlate_fail(c->err, "tools", "invalid tools");
}

/* The client's (checked) tools -> [{"toolSpec":{name,description,inputSchema:{json}}}]. */
static void write_tool_specs(struct bctx *c, const struct gw_jv *tools)
{
    static const char *const tk[] = {"function"};
    static const char *const fk[] = {"name", "description", "parameters"};
    static const char empty_schema[] = "{\"type\":\"object\",\"properties\":{}}";
    struct gw_jv_it it;
    struct gw_jv t, tv, fv[3];
    gw_jw_arr_begin(&c->w);
    if (gw_jv_arr_begin(&it, tools) != 0) {
        gw_jw_arr_end(&c->w);
        return; /* check_tools accepted it: cannot happen */
    }
    while (gw_jv_arr_next(&it, &t) == 1) {
        if (gw_jv_scan(t.raw, tk, 1, &tv) != 0 || gw_jv_scan(tv.raw, fk, 3, fv) != 0)
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
static int read_tool_choice(struct bctx *c, const struct gw_jv *tc, enum choice *out,
                            struct gw_jv *name)
{
    static const char *const ok[] = {"type", "function"};
    static const char *const fk[] = {"name"};
    memset(name, 0, sizeof(*name));
    *out = TC_DEFAULT;
    if (!tc->found)
        return 0;
    if (gw_jv_is(tc, GW_JT_STRING)) {
        if (gw_jv_streq(tc, "auto"))
            *out = TC_AUTO;
        else if (gw_jv_streq(tc, "required"))
            *out = TC_REQUIRED;
        else if (gw_jv_streq(tc, "none"))
            *out = TC_NONE;
        else
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice must be auto, required or none");
        return 0;
    }
    struct gw_jv ov[2], fv[1];
    if (gw_jv_scan_obj(tc, ok, 2, ov) != 0 || !gw_jv_streq(&ov[0], "function") ||
        gw_jv_scan_obj(&ov[1], fk, 1, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
        return gw_xlate_fail(c->err, "tool_choice",
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
static void write_tool_config(struct bctx *c, const struct gw_jv *tools, size_t ntools,
                              enum choice choice, const struct gw_jv *name)
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

static int write_stop(struct bctx *c, const struct gw_jv *stop)
{
    gw_jw_key(&c->w, "stopSequences");
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
static int refuse_unsupported(struct gw_xlate_err *err, const struct gw_jv *v)
{
    uint64_t n;
    if (v[RK_N].found && (!gw_jv_u64(&v[RK_N], &n) || n != 1))
        return gw_xlate_fail(err, "n", "this provider returns one choice: n must be 1");
    if (v[RK_RESPONSE_FORMAT].found) {
        struct gw_jv type = gw_jv_member(&v[RK_RESPONSE_FORMAT], "type");
        if (!gw_jv_streq(&type, "text"))
            return gw_xlate_fail(
                err, "response_format",
                "response_format json_object and json_schema are not supported by this "
                "provider (Bedrock Converse)");
    }
    if (v[RK_LOGPROBS].found && !gw_jv_is(&v[RK_LOGPROBS], GW_JT_FALSE))
        return gw_xlate_fail(err, "logprobs", "logprobs are not supported by this provider");
    if (v[RK_TOP_LOGPROBS].found && (!gw_jv_u64(&v[RK_TOP_LOGPROBS], &n) || n != 0))
        return gw_xlate_fail(err, "top_logprobs", "logprobs are not supported by this provider");
    if (v[RK_LOGIT_BIAS].found &&
        (!gw_jv_is(&v[RK_LOGIT_BIAS], GW_JT_OBJ_BEGIN) || !gw_jv_obj_empty(&v[RK_LOGIT_BIAS])))
        return gw_xlate_fail(err, "logit_bias", "logit_bias is not supported by this provider");
    if (v[RK_AUDIO].found)
        return gw_xlate_fail(err, "audio", "audio output is not supported by this provider");
    if (v[RK_MODALITIES].found) {
        struct gw_jv_it it;
        struct gw_jv m;
        int r;
        if (gw_jv_arr_begin(&it, &v[RK_MODALITIES]) != 0)
            return gw_xlate_fail(err, "modalities", "modalities must be an array");
        while ((r = gw_jv_arr_next(&it, &m)) == 1)
            if (!gw_jv_streq(&m, "text"))
                return gw_xlate_fail(err, "modalities", "this provider answers with text only");
        if (r != 0)
            return gw_xlate_fail(err, "modalities", "invalid modalities");
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
            return gw_xlate_fail_mem(err);
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
        return gw_xlate_fail_mem(err);
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
    struct gw_jv v[RK_COUNT];
    struct bctx c = {.a = x->arena, .err = err};
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (gw_jv_scan(gw_span_make(body, len), req_keys, RK_COUNT, v) != 0)
        return gw_xlate_fail(err, NULL, "the request body must be a JSON object");
    if (!gw_jv_is(&v[RK_MESSAGES], GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "messages", "messages must be a non-empty array");
    if (refuse_unsupported(err, v) != 0)
        return -1;
    uint64_t n;
    const struct gw_jv *max =
        v[RK_MAX_COMPLETION_TOKENS].found ? &v[RK_MAX_COMPLETION_TOKENS] : &v[RK_MAX_TOKENS];
    if (max->found && (!gw_jv_u64(max, &n) || n == 0))
        return gw_xlate_fail(err, max == &v[RK_MAX_TOKENS] ? "max_tokens" : "max_completion_tokens",
                             "must be a positive integer");
    static const int sampling[] = {RK_TEMPERATURE, RK_TOP_P};
    static const char *const sampling_out[] = {"temperature", "topP"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(sampling); i++) {
        const struct gw_jv *s = &v[sampling[i]];
        if (s->found && !gw_jv_is(s, GW_JT_NUMBER))
            return gw_xlate_fail(err, req_keys[sampling[i]], "must be a number");
    }
    if (v[RK_STREAM].found && !gw_jv_is(&v[RK_STREAM], GW_JT_TRUE) &&
        !gw_jv_is(&v[RK_STREAM], GW_JT_FALSE))
        return gw_xlate_fail(err, "stream", "stream must be a boolean");
    if (v[RK_STOP].found && !gw_jv_is(&v[RK_STOP], GW_JT_STRING) &&
        !gw_jv_is(&v[RK_STOP], GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "stop", "stop must be a string or an array of strings");
    size_t ntools = 0;
    if (v[RK_TOOLS].found && check_tools(&c, &v[RK_TOOLS], &ntools) != 0)
        return -1;
    enum choice choice;
    struct gw_jv choice_name;
    if (read_tool_choice(&c, &v[RK_TOOL_CHOICE], &choice, &choice_name) != 0)
        return -1;

    /* The model id goes in the path, never in the body. */
    const char *model = x->upstream_model;
    size_t model_len = model ? strlen(model) : 0;
    if (!model || !model_len) {
        if (!gw_jv_is(&v[RK_MODEL], GW_JT_STRING) || !v[RK_MODEL].str.len)
            return gw_xlate_fail(err, "model", "model is required");
        char *m = gw_jv_unesc(x->arena, v[RK_MODEL].str, &model_len);
        if (!m)
            return gw_xlate_fail_mem(err);
        model = m;
    }
    char *path = model_path(x->arena, model, model_len, x->stream);
    if (!path)
        return gw_xlate_fail_mem(err);

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
        return gw_xlate_fail_mem(err);
    struct gw_jw sw;
    bool any_system;
    gw_jw_init(&sw, sbuf, len + 64);
    if (write_system(&c, &v[RK_MESSAGES], &sw, &any_system) != 0)
        return -1;
    gw_jw_init(&c.w, obuf, cap);
    gw_jw_obj_begin(&c.w);
    if (any_system) {
        if (sw.overflow)
            return gw_xlate_fail_mem(err);
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
            const struct gw_jv *s = &v[sampling[i]];
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
    if (gw_jv_is(&v[RK_MOCK], GW_JT_OBJ_BEGIN)) {
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
static const char *finish_reason(const struct gw_jv *stop)
{
    if (gw_jv_streq(stop, "max_tokens") || gw_jv_streq(stop, "model_context_window_exceeded"))
        return "length";
    if (gw_jv_streq(stop, "tool_use"))
        return "tool_calls";
    if (gw_jv_streq(stop, "guardrail_intervened") || gw_jv_streq(stop, "content_filtered"))
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, malformed_*, unknown */
}

static const char *const usage_keys[] = {"inputTokens", "outputTokens", "cacheReadInputTokens",
                                         "cacheWriteInputTokens"};
enum { UK_INPUT, UK_OUTPUT, UK_CACHE_READ, UK_CACHE_WRITE, UK_COUNT };

/*
 * A TokenUsage object -> OpenAI's usage. inputTokens leaves the cached
 * tokens out (totalTokens = input + output + cacheRead + cacheWrite), so
 * prompt_tokens is the sum of the three. Converse does not count thinking
 * tokens apart from the output: reasoning_tokens is 0. Absent counters are 0.
 */
static struct gw_xlate_usage read_usage(const struct gw_jv *usage)
{
    struct gw_jv uv[UK_COUNT];
    uint64_t n[UK_COUNT] = {0};
    if (gw_jv_scan_obj(usage, usage_keys, UK_COUNT, uv) == 0)
        for (size_t i = 0; i < UK_COUNT; i++)
            (void)gw_jv_u64(&uv[i], &n[i]);
    return (struct gw_xlate_usage){
        .prompt_tokens = n[UK_INPUT] + n[UK_CACHE_READ] + n[UK_CACHE_WRITE],
        .completion_tokens = n[UK_OUTPUT],
        .cached_tokens = n[UK_CACHE_READ],
        .cache_creation_tokens = n[UK_CACHE_WRITE],
        .have = true,
    };
}

static const char *const block_keys[] = {"text", "toolUse"};
static const char *const tool_use_keys[] = {"toolUseId", "name", "input"};

int gw_bedrock_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                  struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const rk[] = {"output", "stopReason", "usage"};
    struct gw_jv rv[3], b, bv[2], tv[3];
    struct gw_jv_it it;
    int r;
    *out = GW_SPAN_NULL;
    if (gw_jv_scan(gw_span_make(body, len), rk, 3, rv) != 0)
        return -1;
    struct gw_jv msg = gw_jv_member(&rv[0], "message");
    struct gw_jv content = gw_jv_member(&msg, "content");
    if (!gw_jv_is(&content, GW_JT_ARR_BEGIN))
        return -1;

    /* Pass 1: the text blocks joined (decoded), and whether there are tool calls. */
    char *text = gw_arena_alloc(x->arena, len + 1);
    size_t text_len = 0;
    bool have_text = false, have_tools = false;
    if (!text || gw_jv_arr_begin(&it, &content) != 0)
        return -1;
    while ((r = gw_jv_arr_next(&it, &b)) == 1) {
        if (gw_jv_scan_obj(&b, block_keys, 2, bv) != 0)
            return -1;
        if (gw_jv_is(&bv[0], GW_JT_STRING)) {
            long k = gw_json_unescape(bv[0].str, text + text_len, len - text_len);
            if (k < 0)
                return -1;
            text_len += (size_t)k;
            have_text = true;
        } else if (bv[1].found) {
            if (gw_jv_scan_obj(&bv[1], tool_use_keys, 3, tv) != 0 ||
                !gw_jv_is(&tv[0], GW_JT_STRING) || !gw_jv_is(&tv[1], GW_JT_STRING))
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
        if (gw_jv_arr_begin(&it, &content) != 0)
            return -1;
        while (gw_jv_arr_next(&it, &b) == 1) {
            if (gw_jv_scan_obj(&b, block_keys, 2, bv) != 0 || !bv[1].found ||
                gw_jv_scan_obj(&bv[1], tool_use_keys, 3, tv) != 0)
                continue; /* text and other blocks */
            /* toolUse.input is a JSON object: it becomes the arguments string. */
            struct gw_oai_call c = {.index = -1,
                                    .id = tv[0].raw,
                                    .name = tv[1].raw,
                                    .args = tv[2].found ? tv[2].raw : GW_SPAN_NULL,
                                    .args_text = true};
            gw_oai_tool_call(&w, &c);
        }
        gw_jw_arr_end(&w);
    }
    gw_oai_message_end(&w);
    gw_oai_choice_end(&w, false, finish_reason(&rv[1]));
    struct gw_xlate_usage usage = read_usage(&rv[2]);
    gw_oai_completion_end(&w, &usage);
    if (w.overflow)
        return -1;
    if (u)
        *u = usage;
    *out = gw_span_make(obuf, w.len);
    return 0;
}

/* ---- errors ---- */

/*
 * Bedrock's errors -> OpenAI's: the client's status, error.type and
 * error.code. A row is found by the exception's name (the x-amzn-ErrorType
 * header, the body's __type, a stream exception's :exception-type), compared
 * without regard to case since the stream spells them in lower camel case
 * (throttlingException), or, when no known name came, by the HTTP status the
 * exception is sent with (`status`, 0: never guessed from the status). The
 * status alone is ambiguous: 429 is throttling, a spent quota or a model
 * still loading; 400 is a bad request or, again, a spent quota.
 * [Bedrock API Reference: Converse and ConverseStream "Errors",
 * ConverseStreamOutput; AWS common errors for the credential ones]
 */
struct err_map {
    int status;       /* the status that names this row when no type came; 0: none */
    const char *name; /* the exception; NULL: a status Bedrock does not document */
    int client;       /* the status the client sees */
    const char *type; /* OpenAI error.type (as the other dialects spell them) */
    const char *code; /* OpenAI error.code, or NULL */
};

static const struct err_map err_maps[] = {
    {400, "ValidationException", 400, "invalid_request_error", NULL},
    {401, NULL, 401, "invalid_request_error", "invalid_api_key"},
    {403, "AccessDeniedException", 403, "permission_error", NULL},
    /* The gateway's AWS credentials are wrong: not the client's key, so not 401. */
    {0, "UnrecognizedClientException", 403, "invalid_request_error", "invalid_api_key"},
    {0, "InvalidSignatureException", 403, "invalid_request_error", "invalid_api_key"},
    {0, "ExpiredTokenException", 403, "invalid_request_error", "invalid_api_key"},
    {404, "ResourceNotFoundException", 404, "invalid_request_error", "not_found"},
    {408, "ModelTimeoutException", 504, "server_error", "timeout"},
    {413, NULL, 413, "invalid_request_error", "request_too_large"},
    {424, "ModelErrorException", 502, "server_error", "model_error"},
    {0, "ModelStreamErrorException", 502, "server_error", "model_error"},
    {429, "ThrottlingException", 429, "rate_limit_error", "rate_limit_exceeded"},
    /* Sent with 400 or 429: the account's quota is spent, OpenAI's 429 insufficient_quota. */
    {0, "ServiceQuotaExceededException", 429, "insufficient_quota", "insufficient_quota"},
    /* The model is loading (429 upstream): the service is not there yet, not the client's rate. */
    {0, "ModelNotReadyException", 503, "server_error", "model_not_ready"},
    {500, "InternalServerException", 500, "server_error", NULL},
    {503, "ServiceUnavailableException", 503, "server_error", "service_unavailable"},
};

/*
 * The exception name in an error type: x-amzn-ErrorType's value
 * "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
 * or a __type "com.amazon.coral.service#ThrottlingException" -> the name
 * (before the first ':', after the last '#', blanks trimmed).
 */
static struct gw_span exception_name(struct gw_span t)
{
    const char *p = t.ptr, *end = t.ptr + t.len;
    if (!p)
        return GW_SPAN_NULL;
    const char *colon = memchr(p, ':', t.len);
    if (colon)
        end = colon;
    for (const char *q = p; q < end; q++)
        if (*q == '#')
            p = q + 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return gw_span_make(p, (size_t)(end - p));
}

static const struct err_map *err_by_name(struct gw_span name)
{
    for (size_t i = 0; name.len && i < GW_ARRAY_SIZE(err_maps); i++)
        if (err_maps[i].name && gw_span_ieq_cstr(name, err_maps[i].name))
            return &err_maps[i];
    return NULL;
}

static const struct err_map *err_by_status(int status)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(err_maps); i++)
        if (err_maps[i].status == status)
            return &err_maps[i];
    return NULL;
}

static const char *const err_keys[] = {"message", "Message", "__type"};
enum { ERK_MESSAGE, ERK_MESSAGE_CAP, ERK_TYPE, ERK_COUNT };

/*
 * Reads an AWS error body: its "message" (some services spell it "Message")
 * into e as a JSON token when it has text, and its "__type". A body that is
 * not a JSON object has neither.
 */
static void read_error_body(struct gw_span body, struct gw_oai_error *e, struct gw_jv *type)
{
    struct gw_jv v[ERK_COUNT];
    (void)gw_jv_scan(body, err_keys, ERK_COUNT, v);
    const struct gw_jv *msg =
        gw_jv_is(&v[ERK_MESSAGE], GW_JT_STRING) ? &v[ERK_MESSAGE] : &v[ERK_MESSAGE_CAP];
    if (gw_jv_is(msg, GW_JT_STRING) && msg->str.len) {
        e->message = msg->raw;
        e->message_json = true;
    }
    *type = v[ERK_TYPE];
}

/* e's type and code from row m, or from the client's status st when there is none. */
static void set_kind(struct gw_oai_error *e, const struct err_map *m, int st)
{
    e->type = gw_span_cstr(m ? m->type : st >= 500 ? "server_error" : "invalid_request_error");
    e->code = m ? m->code : NULL;
}

int gw_bedrock_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                               struct gw_arena *a, struct gw_span *out, int *out_status)
{
    struct gw_oai_error e = {0};
    struct gw_jv type;
    char fallback[64];
    *out = GW_SPAN_NULL;
    read_error_body(gw_span_make(body, len), &e, &type);
    /* The header names the exception; the body's __type where it does not; else the status. */
    const struct err_map *m = err_by_name(exception_name(error_type));
    if (!m && gw_jv_is(&type, GW_JT_STRING))
        m = err_by_name(exception_name(type.str));
    if (!m)
        m = err_by_status(status);
    int st = m ? m->client : gw_oai_client_status(status);
    set_kind(&e, m, st);
    if (!e.message.ptr)
        e.message = gw_oai_status_message(fallback, sizeof(fallback), status);
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

void gw_bedrock_stream_init(struct gw_bedrock_stream *s, const struct gw_xlate *x)
{
    memset(s, 0, sizeof(*s));
    gw_oai_stream_init(&s->_o, x);
    gw_es_init(&s->_dec, x->arena, GW_BEDROCK_MESSAGE_MAX);
}

static int broken(struct gw_bedrock_stream *s, const char *why)
{
    return gw_oai_stream_fail(&s->_o, s->_sink, why, -1);
}

/* The finish chunk, once: at messageStop, or at metadata if messageStop never came. */
static int finish_chunk(struct gw_bedrock_stream *s, const char *reason)
{
    if (s->_finish_sent)
        return 0;
    s->_finish_sent = true;
    return gw_oai_chunk_finish(&s->_o, s->_sink, 0, reason);
}

static const char *const ev_keys[] = {"start", "delta", "stopReason", "usage"};
enum { EK_START, EK_DELTA, EK_STOP, EK_USAGE, EK_COUNT };

/* One event (":message-type" event) -> chunks. 0, 1 when the stream ended, -1. */
static int on_event(struct gw_bedrock_stream *s, const struct gw_es_message *m)
{
    struct gw_span et = m->event_type;
    struct gw_jv v[EK_COUNT];
    bool known = gw_span_eq(et, GW_SPAN_LIT("messageStart")) ||
                 gw_span_eq(et, GW_SPAN_LIT("contentBlockStart")) ||
                 gw_span_eq(et, GW_SPAN_LIT("contentBlockDelta")) ||
                 gw_span_eq(et, GW_SPAN_LIT("contentBlockStop")) ||
                 gw_span_eq(et, GW_SPAN_LIT("messageStop")) ||
                 gw_span_eq(et, GW_SPAN_LIT("metadata"));
    if (!known)
        return 0; /* event types added later */
    if (gw_jv_scan(m->payload, ev_keys, EK_COUNT, v) != 0)
        return broken(s, "invalid event payload in the upstream stream");

    if (gw_span_eq(et, GW_SPAN_LIT("messageStart"))) {
        if (s->_started)
            return 0;
        s->_started = true;
        return gw_oai_chunk_content(&s->_o, s->_sink, 0, GW_SPAN_LIT("\"\""));
    }
    if (gw_span_eq(et, GW_SPAN_LIT("contentBlockStart"))) {
        struct gw_jv tu = gw_jv_member(&v[EK_START], "toolUse");
        if (!tu.found)
            return 0; /* other block starts carry nothing to say yet */
        struct gw_jv tv[3];
        if (gw_jv_scan_obj(&tu, tool_use_keys, 3, tv) != 0 || !gw_jv_is(&tv[0], GW_JT_STRING) ||
            !gw_jv_is(&tv[1], GW_JT_STRING))
            return broken(s, "invalid toolUse block start upstream");
        /* the arguments follow in toolUse deltas */
        struct gw_oai_call c = {.index = s->_tool_count++, .id = tv[0].raw, .name = tv[1].raw};
        return gw_oai_chunk_tool_call(&s->_o, s->_sink, 0, &c);
    }
    if (gw_span_eq(et, GW_SPAN_LIT("contentBlockDelta"))) {
        struct gw_jv dv[2];
        if (gw_jv_scan_obj(&v[EK_DELTA], block_keys, 2, dv) != 0)
            return broken(s, "invalid contentBlockDelta upstream");
        if (gw_jv_is(&dv[0], GW_JT_STRING))
            return dv[0].str.len ? gw_oai_chunk_content(&s->_o, s->_sink, 0, dv[0].raw) : 0;
        struct gw_jv input = gw_jv_member(&dv[1], "input");
        if (gw_jv_is(&input, GW_JT_STRING) && input.str.len && s->_tool_count > 0) {
            struct gw_oai_call c = {.index = s->_tool_count - 1, .args = input.raw};
            return gw_oai_chunk_tool_call(&s->_o, s->_sink, 0, &c);
        }
        return 0; /* reasoningContent, citation and other deltas are not translated */
    }
    if (gw_span_eq(et, GW_SPAN_LIT("messageStop")))
        return finish_chunk(s, finish_reason(&v[EK_STOP]));
    if (gw_span_eq(et, GW_SPAN_LIT("metadata"))) {
        struct gw_xlate_usage usage = read_usage(&v[EK_USAGE]);
        if (s->_u)
            *s->_u = usage;
        if (finish_chunk(s, "stop") != 0)
            return -1;
        return gw_oai_stream_finish(&s->_o, s->_sink, &usage);
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

/*
 * An exception message (throttlingException, ...; its payload is
 * {"message":...} [ConverseStreamOutput]) ends the stream as the upstream
 * meant it to: one error chunk of its kind, then [DONE]. Without a message
 * the exception's name says what happened.
 */
static int on_exception(struct gw_bedrock_stream *s, const struct gw_es_message *m)
{
    struct gw_oai_error e = {0};
    struct gw_jv type;
    char ex[65], name[96];
    read_error_body(m->payload, &e, &type);
    set_kind(&e, err_by_name(m->exception_type), 500);
    if (!e.message.ptr) {
        printable(ex, m->exception_type, 64);
        int n = snprintf(name, sizeof(name), "upstream %s", ex[0] ? ex : "exception");
        e.message = gw_span_make(name, (size_t)n);
    }
    return gw_oai_stream_error(&s->_o, s->_sink, &e, 1);
}

/* The decoder's callback: one complete message. <0 stops the decoder (state says why). */
static int on_message(void *arg, const struct gw_es_message *m)
{
    struct gw_bedrock_stream *s = arg;
    int r;
    if (gw_span_eq(m->message_type, GW_SPAN_LIT("event"))) {
        r = on_event(s, m);
    } else if (gw_span_eq(m->message_type, GW_SPAN_LIT("exception"))) {
        r = on_exception(s, m);
    } else if (gw_span_eq(m->message_type, GW_SPAN_LIT("error"))) {
        /* the framing's own error: :error-code and :error-message, no payload */
        char code[49], text[97], why[176];
        printable(code, m->error_code, 48);
        printable(text, m->error_message, 96);
        snprintf(why, sizeof(why), "upstream stream error %s: %s", code, text);
        r = gw_oai_stream_fail(&s->_o, s->_sink, why, 1);
    } else {
        return 0; /* no other message type is defined */
    }
    if (r != 0) { /* ended: finished, an error chunk written, or a write or allocation failed */
        s->_o.done = true;
        s->_o.failed |= r < 0;
        return -1;
    }
    return 0;
}

int gw_bedrock_stream_feed(struct gw_bedrock_stream *s, const char *data, size_t len,
                           const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    if (s->_o.done)
        return s->_o.failed ? -1 : 1;
    s->_sink = sink;
    s->_u = u;
    if (gw_es_feed(&s->_dec, data, len, on_message, s) < 0 && !s->_o.done) {
        enum gw_es_error e = gw_es_error(&s->_dec);
        if (e == GW_ES_NOMEM) {
            s->_o.done = s->_o.failed = true;
        } else {
            char why[128];
            snprintf(why, sizeof(why), "broken event stream from the upstream: %s",
                     gw_es_error_str(e));
            broken(s, why);
        }
    }
    s->_sink = NULL;
    s->_u = NULL;
    if (s->_o.done)
        return s->_o.failed ? -1 : 1;
    return 0;
}

int gw_bedrock_stream_end(struct gw_bedrock_stream *s, const struct gw_xlate_sink *sink,
                          struct gw_xlate_usage *u)
{
    (void)u;
    if (s->_o.done)
        return s->_o.failed ? -1 : 1;
    if (!s->_finish_sent)
        return gw_oai_stream_fail(&s->_o, sink, "upstream stream ended before messageStop", -1);
    /* messageStop came, the metadata event did not: the answer is whole but
     * there is no usage to tell, so [DONE] comes without a usage chunk
     * (gw_oai_stream_finish would make one up from zeros). */
    static const char done[] = "data: [DONE]\n\n";
    s->_o.done = true;
    s->_o.failed = sink->write(sink->arg, done, sizeof(done) - 1) < 0;
    return s->_o.failed ? -1 : 1;
}

/* ---- the dialect table (providers/dialect.h) ---- */

GW_DIALECT_STREAM_FNS(bedrock)

const struct gw_dialect gw_dialect_bedrock = {
    .name = "bedrock",
    .build_request = gw_bedrock_build_request,
    .translate_response = gw_bedrock_translate_response,
    .translate_error = gw_bedrock_translate_error,
    .error_type_header = "x-amzn-errortype",
    .stream_ctype = GW_BEDROCK_STREAM_CTYPE,
    .stream_size = sizeof(struct gw_bedrock_stream),
    .stream_init = bedrock_stream_init_v,
    .stream_feed = bedrock_stream_feed_v,
    .stream_end = bedrock_stream_end_v,
};
