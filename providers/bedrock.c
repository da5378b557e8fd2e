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
 * already escaped text), the OpenAI request through providers/oreq.h (its
 * walk hands this file the conversation piece by piece), Converse is
 * written with gw_jw_*, and everything the client gets back is written by
 * providers/oai.h, so this file holds the mapping only. The request body is bounded by
 * providers/xbound.h (400 past its limit) and function names follow its rule, which is
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
#include "providers/oreq.h"
#include "providers/sigv4.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* ---- request: OpenAI -> Converse ---- */

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    int open;                     /* the role (enum gw_oreq_role) whose message is open */
    bool any_message;             /* a message has been written */
    bool tool_blocks;             /* a toolUse or toolResult block has been written */
    struct gw_oreq_history calls; /* the history's tool calls, for the tools it uses */
};

/*
 * Opens a message of `role` for the next content block unless one is open:
 * consecutive messages of one role (parallel tool results, a user turn after
 * them, two user messages in a row) become one Converse message, since
 * Converse wants the roles to alternate; a message with no block is never
 * written. Converse also wants the first message to be the user's: an
 * assistant block first is refused (see bedrock.h).
 */
static int begin_block(struct bctx *c, enum gw_oreq_role role)
{
    bool user = role == GW_OREQ_ROLE_USER;
    if (!c->any_message && !user)
        return gw_xlate_fail(
            c->err, "messages",
            "this provider (Bedrock Converse) needs the conversation to start with a "
            "user message; the first message with content is an assistant message");
    if (gw_oreq_turn(&c->w, &c->open, (int)role, user ? "user" : "assistant", "content"))
        c->any_message = true;
    return 0;
}

/* A text block {"text":...} (a ContentBlock or SystemContentBlock), the string as sent. */
static void text_block_to(struct gw_jw *w, const struct gw_jv *s)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "text");
    gw_jw_raw(w, s->raw.ptr, s->raw.len);
    gw_jw_obj_end(w);
}

static void text_block(struct bctx *c, const struct gw_jv *s)
{
    text_block_to(&c->w, s);
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
    struct gw_oreq_url u;
    if (gw_oreq_image_url(part, c->a, c->err, &u) != 0)
        return -1;
    if (u.kind == GW_OREQ_URL_HTTP)
        return gw_xlate_fail(c->err, "messages",
                             "this provider (Bedrock) takes image bytes only: send the image as a "
                             "data:image/...;base64,... URL");
    if (u.kind != GW_OREQ_URL_DATA)
        return gw_xlate_fail(c->err, "messages", "image URLs must be data: URLs for this provider");
    const char *fmt = image_format(u.media.ptr, u.media.len);
    if (!fmt)
        return gw_xlate_fail(c->err, "messages",
                             "image type not supported by this provider: png, jpeg, gif or webp");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "image");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "format");
    gw_jw_cstr(&c->w, fmt);
    gw_jw_key(&c->w, "source");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "bytes");
    gw_jw_str(&c->w, u.data.ptr, u.data.len);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * A part (gw_oreq_walk) -> a text or an image block, in a message of its role
 * (a tool result's parts go inside the toolResult block).
 */
static int on_part(void *arg, enum gw_oreq_role role, const struct gw_oreq_part *p)
{
    struct bctx *c = arg;
    if (role != GW_OREQ_ROLE_TOOL && begin_block(c, role) != 0)
        return -1;
    if (p->kind == GW_OREQ_PART_TEXT) {
        text_block(c, &p->text);
        return 0;
    }
    return image_block(c, &p->part);
}

/* An assistant tool call (gw_oreq_walk) -> a toolUse block. */
static int on_call(void *arg, const struct gw_oreq_call *call)
{
    struct bctx *c = arg;
    /* The name is also repeated in the history's toolConfig (write_history_specs). */
    if (begin_block(c, GW_OREQ_ROLE_ASSISTANT) != 0 ||
        gw_oreq_history_add(&c->calls, c->a, call, c->err) != 0)
        return -1;
    c->tool_blocks = true;
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "toolUse");
    gw_jw_obj_begin(&c->w);
    gw_oreq_call_members(&c->w, call, "toolUseId", "input");
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * A tool message (gw_oreq_walk) -> a toolResult block in a user message. String content
 * that is a JSON object goes as {"json":{...}} (ToolResultContentBlock.json),
 * other strings as {"text":...}, parts as text and image blocks; empty
 * content gives an empty content list.
 */
static int on_result(void *arg, const struct gw_oreq_msg *m, const struct gw_oreq_walk *w)
{
    struct bctx *c = arg;
    const struct gw_jv *id = &m->tool_call_id, *content = &m->content;
    if (begin_block(c, GW_OREQ_ROLE_USER) != 0)
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
        size_t n, i;
        char *s = gw_jv_unesc(c->a, content->str, &n);
        if (!s)
            return gw_xlate_fail_mem(c->err);
        if (gw_oreq_object_text(s, n, &i)) {
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "json");
            gw_jw_raw(&c->w, s + i, n - i);
            gw_jw_obj_end(&c->w);
        } else if (content->str.len) {
            text_block(c, content);
        }
    } else if (gw_jv_is(content, GW_JT_ARR_BEGIN)) {
        if (gw_oreq_walk_parts(w, GW_OREQ_ROLE_TOOL, content, c, c->err) != 0)
            return -1;
    } else if (content->found) {
        return gw_xlate_fail(c->err, "messages", "tool message content must be a string or parts");
    }
    gw_jw_arr_end(&c->w);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * The conversation: text in every message, images in user and tool
 * messages; tool call arguments must be a JSON object (toolUse.input). Empty
 * text is dropped: Converse refuses blank text blocks.
 */
static const struct gw_oreq_walk walk = {
    .part = on_part,
    .call = on_call,
    .result = on_result,
    GW_OREQ_WALK_IMAGES_USER_TOOL,
    .object_args = true,
};

/*
 * System and developer messages -> "system":[{"text":...},...], one block
 * per non-empty text (string content or text part), in order, wherever they
 * stand in the conversation. Nothing is written when there is none. sw is a
 * writer of its own (the caller splices it in) so that an absent system
 * costs no key.
 */
static int write_system(struct bctx *c, const struct gw_jv *msgs, struct gw_jw *sw, bool *any)
{
    struct gw_oreq_system it;
    struct gw_jv text;
    int r;
    *any = false;
    if (gw_oreq_system_begin(&it, msgs, c->err) != 0)
        return -1;
    gw_jw_arr_begin(sw);
    while ((r = gw_oreq_system_next(&it, &text)) == 1) {
        text_block_to(sw, &text);
        *any = true;
    }
    gw_jw_arr_end(sw);
    return r;
}

static int write_messages(struct bctx *c, const struct gw_jv *msgs)
{
    gw_jw_key(&c->w, "messages");
    gw_jw_arr_begin(&c->w);
    if (gw_oreq_walk(msgs, &walk, c, c->a, c->err) != 0)
        return -1;
    if (!c->any_message)
        return gw_xlate_fail(c->err, "messages",
                             "messages must hold at least one user message with content");
    gw_oreq_turn_close(&c->w, &c->open);
    gw_jw_arr_end(&c->w);
    return 0;
}

/*
 * Checks the tools array (gw_oreq_tools; Converse also wants a description
 * to be a string); *count gets the number of function tools.
 */
static int check_tools(struct bctx *c, const struct gw_jv *tools, size_t *count)
{
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    int r;
    *count = 0;
    if (gw_oreq_tools_begin(&it, tools, NULL, c->a, c->err) != 0)
        return -1;
    while ((r = gw_oreq_tools_next(&it, &t)) == 1) {
        if (t.description.found && !gw_jv_is(&t.description, GW_JT_STRING))
            return gw_xlate_fail(c->err, "tools", "function.description must be a string");
        (*count)++;
    }
    return r;
}

/*
 * One {"toolSpec":{"name","description" (when a non-empty string),
 * "inputSchema":{"json":schema}}}; name is a string token, schema JSON text.
 */
static void tool_spec(struct bctx *c, struct gw_span name, const struct gw_jv *desc,
                      struct gw_span schema)
{
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "toolSpec");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "name");
    gw_jw_raw(&c->w, name.ptr, name.len);
    if (gw_jv_is(desc, GW_JT_STRING) && desc->str.len) {
        gw_jw_key(&c->w, "description");
        gw_jw_raw(&c->w, desc->raw.ptr, desc->raw.len);
    }
    gw_jw_key(&c->w, "inputSchema");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "json");
    gw_jw_raw(&c->w, schema.ptr, schema.len);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
}

/* The client's tools (check_tools accepted them) -> their toolSpecs. */
static void write_tool_specs(struct bctx *c, const struct gw_jv *tools)
{
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    gw_jw_arr_begin(&c->w);
    if (gw_oreq_tools_begin(&it, tools, NULL, c->a, c->err) == 0)
        while (gw_oreq_tools_next(&it, &t) == 1)
            tool_spec(c, t.name.raw, &t.description,
                      t.parameters.found ? t.parameters.raw : GW_SPAN_LIT(GW_OREQ_EMPTY_SCHEMA));
    gw_jw_arr_end(&c->w);
}

/* The tools the history calls, each once, for a toolConfig Converse requires (see bedrock.h). */
static void write_history_specs(struct bctx *c)
{
    static const struct gw_jv no_description;
    gw_jw_arr_begin(&c->w);
    for (size_t i = 0; i < c->calls.n; i++)
        if (gw_oreq_history_first_name(&c->calls, i))
            tool_spec(c, c->calls.calls[i].name, &no_description,
                      GW_SPAN_LIT("{\"type\":\"object\"}"));
    gw_jw_arr_end(&c->w);
}

/*
 * "toolConfig", when there is one to send: the client's tools with the
 * ToolChoice (auto {auto:{}}, required {any:{}}, a named function
 * {tool:{name}}); for tool_choice none, no tools unless the history needs
 * them; the history's own tools when the client sent none (bedrock.h).
 */
static void write_tool_config(struct bctx *c, const struct gw_jv *tools, size_t ntools,
                              const struct gw_oreq_choice *ch)
{
    enum gw_oreq_tc choice = ch->mode;
    bool client = ntools > 0 && (choice != GW_OREQ_TC_NONE || c->tool_blocks);
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
    if (choice == GW_OREQ_TC_AUTO || choice == GW_OREQ_TC_REQUIRED ||
        choice == GW_OREQ_TC_FUNCTION) {
        gw_jw_key(&c->w, "toolChoice");
        gw_jw_obj_begin(&c->w);
        if (choice == GW_OREQ_TC_FUNCTION) {
            gw_jw_key(&c->w, "tool");
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "name");
            gw_jw_raw(&c->w, ch->name.raw.ptr, ch->name.raw.len);
            gw_jw_obj_end(&c->w);
        } else {
            gw_jw_key(&c->w, choice == GW_OREQ_TC_AUTO ? "auto" : "any");
            gw_jw_obj_begin(&c->w);
            gw_jw_obj_end(&c->w);
        }
        gw_jw_obj_end(&c->w);
    }
    gw_jw_obj_end(&c->w);
}

/* The OpenAI fields Converse has no way to honour: 400 naming the field (bedrock.h). */
static int refuse_unsupported(struct gw_xlate_err *err, const struct gw_jv *v)
{
    uint64_t n;
    if (gw_oreq_one_choice(&v[GW_RQ_N], err) != 0)
        return -1;
    if (v[GW_RQ_RESPONSE_FORMAT].found) {
        struct gw_jv type = gw_jv_member(&v[GW_RQ_RESPONSE_FORMAT], "type");
        if (!gw_jv_streq(&type, "text"))
            return gw_xlate_fail(
                err, "response_format",
                "response_format json_object and json_schema are not supported by this "
                "provider (Bedrock Converse)");
    }
    if (v[GW_RQ_LOGPROBS].found && !gw_jv_is(&v[GW_RQ_LOGPROBS], GW_JT_FALSE))
        return gw_xlate_fail(err, "logprobs", "logprobs are not supported by this provider");
    if (v[GW_RQ_TOP_LOGPROBS].found && (!gw_jv_u64(&v[GW_RQ_TOP_LOGPROBS], &n) || n != 0))
        return gw_xlate_fail(err, "top_logprobs", "logprobs are not supported by this provider");
    return gw_oreq_text_only(v, err);
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
    static const enum gw_oreq_key sampling[] = {GW_RQ_TEMPERATURE, GW_RQ_TOP_P};
    static const char *const sampling_out[] = {"temperature", "topP"};
    struct gw_jv v[GW_RQ_COUNT];
    struct bctx c = {.a = x->arena, .err = err};
    const struct gw_jv *max;
    if (gw_oreq_chat(body, len, v, out, err) != 0 || refuse_unsupported(err, v) != 0 ||
        gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, err) != 0 ||
        gw_oreq_numbers(v, sampling, GW_ARRAY_SIZE(sampling), err) != 0)
        return -1;
    if (v[GW_RQ_STOP].found && gw_oreq_stop(&v[GW_RQ_STOP], 0, err) < 0)
        return -1;
    size_t ntools = 0;
    struct gw_oreq_choice choice;
    if ((v[GW_RQ_TOOLS].found && check_tools(&c, &v[GW_RQ_TOOLS], &ntools) != 0) ||
        gw_oreq_tool_choice(&v[GW_RQ_TOOL_CHOICE], NULL, c.a, err, &choice) != 0)
        return -1;

    /* The model id goes in the path, never in the body. */
    const char *model;
    size_t model_len;
    if (gw_oreq_model_name(x, &v[GW_RQ_MODEL], &model, &model_len, err) != 0)
        return -1;
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
    if (write_system(&c, &v[GW_RQ_MESSAGES], &sw, &any_system) != 0)
        return -1;
    gw_jw_init(&c.w, obuf, cap);
    gw_jw_obj_begin(&c.w);
    if (any_system) {
        if (sw.overflow)
            return gw_xlate_fail_mem(err);
        gw_jw_key(&c.w, "system");
        gw_jw_raw(&c.w, sw.buf, sw.len);
    }
    if (write_messages(&c, &v[GW_RQ_MESSAGES]) != 0)
        return -1;
    bool any_inference = max->found || v[GW_RQ_STOP].found;
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
        if (v[GW_RQ_STOP].found) {
            gw_jw_key(&c.w, "stopSequences");
            gw_oreq_stop_write(&c.w, &v[GW_RQ_STOP]);
        }
        gw_jw_obj_end(&c.w);
    }
    write_tool_config(&c, &v[GW_RQ_TOOLS], ntools, &choice);
    gw_oreq_mock(&c.w, &v[GW_RQ_MOCK]);
    if (gw_oreq_body_end(&c.w, &b, out, err) != 0)
        return -1;
    out->path = path;
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
        .prompt_tokens = gw_xlate_tokens_add(gw_xlate_tokens_add(n[UK_INPUT], n[UK_CACHE_READ]),
                                             n[UK_CACHE_WRITE]),
        .completion_tokens = n[UK_OUTPUT],
        .cached_tokens = n[UK_CACHE_READ],
        .cache_creation_tokens = n[UK_CACHE_WRITE],
        .have = true,
    };
}

static const char *const block_keys[] = {"text", "toolUse"};
static const char *const tool_use_keys[] = {"toolUseId", "name", "input"};

/*
 * A ContentBlock (a gw_oai_block_fn): text, toolUse, or one not translated
 * (reasoningContent, citationsContent, image, ...).
 */
static int read_block(const struct gw_jv *b, struct gw_jv *text, struct gw_oai_call *call)
{
    struct gw_jv bv[2], tv[3];
    if (gw_jv_scan_obj(b, block_keys, 2, bv) != 0)
        return -1;
    if (gw_jv_is(&bv[0], GW_JT_STRING)) {
        *text = bv[0];
        return GW_OAI_BLOCK_TEXT;
    }
    if (!bv[1].found)
        return GW_OAI_BLOCK_OTHER;
    if (gw_jv_scan_obj(&bv[1], tool_use_keys, 3, tv) != 0 || !gw_jv_is(&tv[0], GW_JT_STRING) ||
        !gw_jv_is(&tv[1], GW_JT_STRING))
        return -1;
    /* toolUse.input is a JSON object: it becomes the arguments string. */
    *call = (struct gw_oai_call){
        .index = -1, .id = tv[0].raw, .name = tv[1].raw, .args = tv[2].raw, .args_text = true};
    return GW_OAI_BLOCK_CALL;
}

int gw_bedrock_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                  struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const rk[] = {"output", "stopReason", "usage"};
    struct gw_jv rv[3];
    struct gw_jw w;
    *out = GW_SPAN_NULL;
    if (gw_jv_scan(gw_span_make(body, len), rk, 3, rv) != 0)
        return -1;
    struct gw_jv msg = gw_jv_member(&rv[0], "message");
    struct gw_jv content = gw_jv_member(&msg, "content");
    if (!gw_jv_is(&content, GW_JT_ARR_BEGIN) ||
        gw_oai_message_blocks(&w, x, len, &content, read_block) != 0)
        return -1;

    gw_oai_choice_end(&w, false, finish_reason(&rv[1]));
    struct gw_xlate_usage usage = read_usage(&rv[2]);
    return gw_oai_completion_close(&w, &usage, out, u);
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
    if (!t.ptr)
        return GW_SPAN_NULL; /* no header: NULL + 0 is undefined behaviour too */
    const char *p = t.ptr, *end = t.ptr + t.len;
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
    return gw_oai_error_body(a, &e, st, out, out_status);
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
        return gw_oai_chunk_role(&s->_o, s->_sink, 0);
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
    if (r != 0) /* ended: finished, an error chunk written, or a write or allocation failed */
        (void)gw_oai_stream_ended(&s->_o, r);
    return r != 0 ? -1 : 0;
}

int gw_bedrock_stream_feed(struct gw_bedrock_stream *s, const char *data, size_t len,
                           const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    if (s->_o.done)
        return gw_oai_stream_state(&s->_o);
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
    return gw_oai_stream_state(&s->_o);
}

int gw_bedrock_stream_end(struct gw_bedrock_stream *s, const struct gw_xlate_sink *sink,
                          struct gw_xlate_usage *u)
{
    (void)u;
    if (s->_o.done || !s->_finish_sent)
        return gw_oai_stream_cut(&s->_o, sink, "upstream stream ended before messageStop");
    /* messageStop came, the metadata event did not: the answer is whole but
     * there is no usage to tell, so [DONE] comes without a usage chunk
     * (one from zeros would be made up). */
    return gw_oai_stream_finish(&s->_o, sink, NULL);
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
