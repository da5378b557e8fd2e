/*
 * providers/cohere.c — OpenAI chat completions and embeddings <-> Cohere's v2
 * Chat and Embed APIs.
 *
 * Wire formats follow Cohere's v2 API reference (https://docs.cohere.com/reference/chat,
 * /reference/chat-stream, /reference/embed, /reference/errors): request fields
 * (model, messages with roles system/user/assistant/tool, text and image_url
 * content, assistant tool_calls in OpenAI's shape with a string "arguments",
 * tool messages with tool_call_id, stop_sequences, p, k, seed, penalties,
 * logprobs, response_format json_object with json_schema, tools,
 * tool_choice REQUIRED/NONE, strict_tools), the response (message.content
 * items, tool_plan, tool_calls, finish_reason COMPLETE/STOP_SEQUENCE/
 * MAX_TOKENS/TOOL_CALL/ERROR/TIMEOUT, usage.billed_units, usage.tokens,
 * usage.cached_tokens, logprobs per text chunk), the stream's SSE events
 * ("event: <type>" + "data: {"type":...}": message-start, content-start,
 * content-delta, content-end, tool-plan-delta, tool-call-start,
 * tool-call-delta, tool-call-end, citation-start, citation-end, debug,
 * message-end with delta.finish_reason, delta.usage and delta.error), the
 * error shape {"id":..,"message":..}, and the embed request/response
 * (texts, input_type, embedding_types, output_dimension; embeddings by type,
 * meta.billed_units).
 *
 * This file holds the mapping only: JSON is read through providers/jv.h
 * (strings are copied as their raw, already escaped text whenever they pass
 * through unchanged), what every dialect reads from the OpenAI request the
 * same way by providers/oreq.h; the OpenAI side is written by
 * providers/oai.h, the stream's SSE framing is core/sse.h's reader, and
 * request bodies (chat and embed) are bounded by providers/xbound.h (400
 * past its limit), whose rule function names follow. What is refused,
 * dropped or adjusted is listed in providers/cohere.h.
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
#include "providers/cohere.h"
#include "providers/dialect.h"
#include "providers/embed.h"
#include "providers/jv.h"
#include "providers/oai.h"
#include "providers/oreq.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/*
 * A token count. Cohere's schema types the counters as numbers ("5" or, from
 * some deployments, "5.0"): the integer part of a non-negative number is
 * taken; negative numbers and exponents count as absent.
 */
static bool num_tokens(const struct gw_jv *v, uint64_t *out)
{
    *out = 0;
    if (!gw_jv_is(v, GW_JT_NUMBER))
        return false;
    size_t i = 0;
    while (i < v->str.len && v->str.ptr[i] >= '0' && v->str.ptr[i] <= '9')
        i++;
    if (i == 0)
        return false;
    for (size_t k = i; k < v->str.len; k++)
        if (v->str.ptr[k] == 'e' || v->str.ptr[k] == 'E')
            return false;
    return gw_json_to_u64(gw_span_make(v->str.ptr, i), out);
}

/* ---- request: OpenAI -> Cohere ---- */

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
};

/*
 * An image_url part -> Cohere's image content, which has OpenAI's shape
 * {"type":"image_url","image_url":{"url","detail"}} (a data: URI or a web URL).
 */
static int image_item(struct bctx *c, const struct gw_jv *part)
{
    struct gw_jv uv[2];
    if (gw_oreq_image_url_member(part, &uv[0], &uv[1], c->err) != 0)
        return -1;
    if (uv[0].str.len == 0)
        return gw_xlate_fail(c->err, "messages", "image_url part needs image_url.url");
    if (uv[1].found && !gw_jv_streq(&uv[1], "auto") && !gw_jv_streq(&uv[1], "low") &&
        !gw_jv_streq(&uv[1], "high"))
        return gw_xlate_fail(c->err, "messages", "image_url.detail must be auto, low or high");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "type");
    gw_jw_cstr(&c->w, "image_url");
    gw_jw_key(&c->w, "image_url");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "url");
    gw_jw_raw(&c->w, uv[0].raw.ptr, uv[0].raw.len);
    if (uv[1].found) {
        gw_jw_key(&c->w, "detail");
        gw_jw_raw(&c->w, uv[1].raw.ptr, uv[1].raw.len);
    }
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * A message's content (string or parts) as the "content" member: a string
 * passes as it is; parts become Cohere content items (text; image_url in user
 * messages only; earlier refusal parts are dropped from assistant turns).
 * Returns 0 or -1 with the 400 filled. A missing content is the caller's.
 */
static int write_content(struct bctx *c, enum gw_oreq_role role, const struct gw_jv *content)
{
    struct gw_oreq_parts it;
    struct gw_oreq_part p;
    int r;
    gw_jw_key(&c->w, "content");
    if (gw_jv_is(content, GW_JT_STRING)) {
        gw_jw_raw(&c->w, content->raw.ptr, content->raw.len);
        return 0;
    }
    if (gw_oreq_parts_begin(&it, content, c->err) != 0)
        return -1;
    gw_jw_arr_begin(&c->w);
    while ((r = gw_oreq_parts_next(&it, &p)) == 1) {
        if (p.kind == GW_OREQ_PART_TEXT) {
            gw_oreq_text_part(&c->w, &p.text);
        } else if (p.kind == GW_OREQ_PART_IMAGE_URL) {
            if (role != GW_OREQ_ROLE_USER)
                return gw_xlate_fail(c->err, "messages",
                                     "image parts are only accepted in user messages");
            if (image_item(c, &p.part) != 0)
                return -1;
        } else if (p.kind != GW_OREQ_PART_REFUSAL || role != GW_OREQ_ROLE_ASSISTANT) {
            return gw_xlate_fail(c->err, "messages",
                                 "content part type not supported by this provider (text and "
                                 "image_url are)");
        }
    }
    if (r != 0)
        return -1;
    gw_jw_arr_end(&c->w);
    return 0;
}

/*
 * A call's "arguments" as the other side sent them: a non-empty JSON string as
 * it is, an object as its text (a string, as OpenAI's schema says), else "{}".
 */
static void call_args(struct gw_oai_call *c, const struct gw_jv *args)
{
    if (gw_jv_is(args, GW_JT_STRING) && args->str.len) {
        c->args = args->raw;
    } else {
        c->args_text = true;
        if (gw_jv_is(args, GW_JT_OBJ_BEGIN))
            c->args = args->raw;
    }
}

/*
 * Assistant tool_calls -> Cohere's tool_calls, which have OpenAI's shape
 * (arguments a JSON string), so the OpenAI writer writes them.
 */
static int write_tool_calls(struct bctx *c, const struct gw_jv *calls, size_t msg)
{
    struct gw_oreq_calls it;
    struct gw_oreq_call call;
    int r;
    if (gw_oreq_calls_begin(&it, calls, msg, NULL, false, c->a, c->err) != 0)
        return -1;
    gw_jw_key(&c->w, "tool_calls");
    gw_jw_arr_begin(&c->w);
    while ((r = gw_oreq_calls_next(&it, &call)) == 1) {
        struct gw_oai_call oc = {.index = -1, .id = call.id.raw, .name = call.name.raw};
        call_args(&oc, &call.arguments);
        gw_oai_tool_call(&c->w, &oc);
    }
    gw_jw_arr_end(&c->w);
    return r;
}

/* One OpenAI message -> one Cohere message (roles map one to one; developer is system). */
static int write_message(struct bctx *c, const struct gw_oreq_msg *m)
{
    static const char *const roles[GW_OREQ_ROLE_COUNT] = {[GW_OREQ_ROLE_SYSTEM] = "system",
                                                          [GW_OREQ_ROLE_USER] = "user",
                                                          [GW_OREQ_ROLE_ASSISTANT] = "assistant",
                                                          [GW_OREQ_ROLE_TOOL] = "tool"};
    const struct gw_jv *content = &m->content;
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "role");
    gw_jw_cstr(&c->w, roles[m->role]);
    if (m->role == GW_OREQ_ROLE_ASSISTANT) {
        bool calls =
            gw_jv_is(&m->tool_calls, GW_JT_ARR_BEGIN) && gw_jv_arr_count(&m->tool_calls) > 0;
        if (!content->found && !calls)
            return gw_xlate_fail(c->err, "messages",
                                 "assistant messages need content or tool_calls");
        /* With tool calls, an empty text says nothing Cohere needs. */
        bool empty = gw_jv_is(content, GW_JT_STRING) && content->str.len == 0;
        if (content->found && !(calls && empty) && write_content(c, m->role, content) != 0)
            return -1;
        if (m->tool_calls.found && write_tool_calls(c, &m->tool_calls, m->index) != 0)
            return -1;
    } else {
        if (m->role == GW_OREQ_ROLE_TOOL) {
            gw_jw_key(&c->w, "tool_call_id");
            gw_jw_raw(&c->w, m->tool_call_id.raw.ptr, m->tool_call_id.raw.len);
        }
        if (!content->found)
            return gw_xlate_fail(c->err, "messages", "%s messages need content", roles[m->role]);
        if (write_content(c, m->role, content) != 0)
            return -1;
    }
    gw_jw_obj_end(&c->w);
    return 0;
}

static int write_messages(struct bctx *c, const struct gw_jv *msgs)
{
    struct gw_oreq_msgs it;
    struct gw_oreq_msg m;
    int r;
    if (gw_oreq_msgs_begin(&it, msgs, c->err) != 0)
        return -1;
    gw_jw_key(&c->w, "messages");
    gw_jw_arr_begin(&c->w);
    while ((r = gw_oreq_msgs_next(&it, &m)) == 1)
        if (write_message(c, &m) != 0)
            return -1;
    if (r != 0)
        return -1;
    gw_jw_arr_end(&c->w);
    return 0;
}

/* What tool_choice asks for. */
struct tchoice {
    const char *mode;  /* "REQUIRED", "NONE", or NULL (auto: omitted) */
    struct gw_jv name; /* a named function: only it goes to Cohere, with REQUIRED */
};

static int read_tool_choice(struct bctx *c, const struct gw_jv *tc, bool have_tools,
                            struct tchoice *out)
{
    struct gw_oreq_choice ch;
    memset(out, 0, sizeof(*out));
    if (gw_oreq_tool_choice(tc, NULL, c->a, c->err, &ch) != 0)
        return -1;
    switch (ch.mode) {
    case GW_OREQ_TC_NONE:
        out->mode = have_tools ? "NONE" : NULL;
        break;
    case GW_OREQ_TC_REQUIRED:
        if (!have_tools)
            return gw_xlate_fail(c->err, "tool_choice", "tool_choice \"required\" needs tools");
        out->mode = "REQUIRED";
        break;
    case GW_OREQ_TC_FUNCTION:
        if (!have_tools)
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice names a function but there are no tools");
        out->mode = "REQUIRED";
        out->name = ch.name;
        break;
    default: /* absent or auto: Cohere's default */
        break;
    }
    return 0;
}

/*
 * tools -> Cohere's v2 tools ({"type":"function","function":{name,
 * description, parameters}}), only the named one when tool_choice names one.
 * Per-function "strict" becomes the request-wide strict_tools: all or none.
 */
static int write_tools(struct bctx *c, const struct gw_jv *tools, const struct tchoice *tc)
{
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    unsigned strict = 0, total = 0, written = 0;
    char *want = NULL; /* the named function, decoded */
    int r;
    /* read_tool_choice checked the name (gw_xbound_name): only memory can fail here. */
    if (tc->name.found && !(want = gw_jv_unesc(c->a, tc->name.str, NULL)))
        return gw_xlate_fail_mem(c->err);
    if (gw_oreq_tools_begin(&it, tools, NULL, c->a, c->err) != 0)
        return -1;
    gw_jw_key(&c->w, "tools");
    gw_jw_arr_begin(&c->w);
    while ((r = gw_oreq_tools_next(&it, &t)) == 1) {
        if (t.strict.found && !gw_jv_is(&t.strict, GW_JT_TRUE) && !gw_jv_is(&t.strict, GW_JT_FALSE))
            return gw_xlate_fail(c->err, "tools", "function.strict must be a boolean");
        total++;
        strict += gw_jv_is(&t.strict, GW_JT_TRUE);
        if (want && !gw_json_str_eq(t.name.str, want))
            continue;
        written++;
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "type");
        gw_jw_cstr(&c->w, "function");
        gw_jw_key(&c->w, "function");
        gw_jw_obj_begin(&c->w);
        gw_oreq_tool_head(&c->w, &t);
        gw_jw_key(&c->w, "parameters");
        gw_oreq_tool_params(&c->w, &t);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    if (r != 0)
        return -1;
    gw_jw_arr_end(&c->w);
    if (tc->name.found && written == 0)
        return gw_xlate_fail(c->err, "tool_choice",
                             "tool_choice names a function that is not in tools");
    if (strict && strict != total)
        return gw_xlate_fail(
            c->err, "tools",
            "this provider applies strict to all tools or to none: set function.strict "
            "on every tool or on none");
    if (strict) {
        gw_jw_key(&c->w, "strict_tools");
        gw_jw_bool(&c->w, true);
    }
    return 0;
}

/*
 * response_format: text -> nothing (Cohere's default); json_object -> the
 * same; json_schema -> {"type":"json_object","json_schema":<schema>}.
 */
static int write_response_format(struct bctx *c, const struct gw_jv *rf)
{
    static const char *const rk[] = {"type", "json_schema"};
    static const char *const sk[] = {"schema"};
    struct gw_jv rv[2], sv[1];
    if (gw_jv_scan_obj(rf, rk, 2, rv) != 0 || !gw_jv_is(&rv[0], GW_JT_STRING))
        return gw_xlate_fail(c->err, "response_format",
                             "response_format must be an object with a type");
    if (gw_jv_streq(&rv[0], "text"))
        return 0;
    if (gw_jv_streq(&rv[0], "json_object")) {
        gw_jw_key(&c->w, "response_format");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "type");
        gw_jw_cstr(&c->w, "json_object");
        gw_jw_obj_end(&c->w);
        return 0;
    }
    if (gw_jv_streq(&rv[0], "json_schema")) {
        if (gw_jv_scan_obj(&rv[1], sk, 1, sv) != 0 || !gw_jv_is(&sv[0], GW_JT_OBJ_BEGIN))
            return gw_xlate_fail(
                c->err, "response_format",
                "response_format json_schema needs json_schema.schema (an object)");
        gw_jw_key(&c->w, "response_format");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "type");
        gw_jw_cstr(&c->w, "json_object");
        gw_jw_key(&c->w, "json_schema");
        gw_jw_raw(&c->w, sv[0].raw.ptr, sv[0].raw.len);
        gw_jw_obj_end(&c->w);
        return 0;
    }
    return gw_xlate_fail(c->err, "response_format",
                         "response_format type must be text, json_object or json_schema");
}

static const char warn_top_p[] = "top_p clamped to 0.01..0.99, the range of Cohere's p";

/* The fields no Cohere request can express: a 400 naming the field, or 0. */
static int refuse_unexpressible(struct gw_xlate_err *err, const struct gw_jv *v)
{
    uint64_t n;
    if (gw_oreq_one_choice(&v[GW_RQ_N], err) != 0 || gw_oreq_text_only(v, err) != 0)
        return -1;
    if (v[GW_RQ_TOP_LOGPROBS].found) {
        if (!gw_jv_u64(&v[GW_RQ_TOP_LOGPROBS], &n))
            return gw_xlate_fail(err, "top_logprobs", "must be a non-negative integer");
        if (n > 0)
            return gw_xlate_fail(err, "top_logprobs",
                                 "this provider reports only the chosen token's log probability: "
                                 "top_logprobs must be 0");
    }
    if (v[GW_RQ_FUNCTIONS].found || v[GW_RQ_FUNCTION_CALL].found)
        return gw_xlate_fail(err, v[GW_RQ_FUNCTIONS].found ? "functions" : "function_call",
                             "functions and function_call are not supported by this provider: use "
                             "tools and tool_choice");
    if (v[GW_RQ_REASONING_EFFORT].found)
        return gw_xlate_fail(err, "reasoning_effort",
                             "reasoning_effort is not supported by this provider");
    if (v[GW_RQ_WEB_SEARCH_OPTIONS].found)
        return gw_xlate_fail(err, "web_search_options",
                             "web search is not supported by this provider");
    if (gw_jv_is(&v[GW_RQ_PARALLEL_TOOL_CALLS], GW_JT_FALSE) && v[GW_RQ_TOOLS].found)
        return gw_xlate_fail(
            err, "parallel_tool_calls",
            "this provider cannot turn parallel tool calls off: parallel_tool_calls "
            "false is not supported");
    return 0;
}

int gw_cohere_build_request(const struct gw_xlate *x, const char *body, size_t len,
                            struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    static const enum gw_oreq_key bools[] = {GW_RQ_LOGPROBS, GW_RQ_PARALLEL_TOOL_CALLS};
    static const enum gw_oreq_key copied[] = {GW_RQ_SEED, GW_RQ_FREQUENCY_PENALTY,
                                              GW_RQ_PRESENCE_PENALTY};
    static const enum gw_oreq_key temperature[] = {GW_RQ_TEMPERATURE};
    struct gw_jv v[GW_RQ_COUNT];
    struct bctx c = {.a = x->arena, .err = err};
    if (gw_oreq_chat(body, len, v, out, err) != 0)
        return -1;
    if (gw_jv_arr_count(&v[GW_RQ_MESSAGES]) <= 0)
        return gw_xlate_fail(err, "messages", "messages must be a non-empty array");
    if (refuse_unexpressible(err, v) != 0)
        return -1;
    uint64_t n;
    const struct gw_jv *max;
    if (gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &max, err) != 0)
        return -1;
    if (gw_oreq_numbers(v, temperature, 1, err) != 0)
        return -1;
    double top_p = 0;
    if (v[GW_RQ_TOP_P].found && !gw_jv_double(&v[GW_RQ_TOP_P], &top_p))
        return gw_xlate_fail(err, "top_p", "must be a number");
    if (v[GW_RQ_TOP_K].found && (!gw_jv_u64(&v[GW_RQ_TOP_K], &n) || n > 500))
        return gw_xlate_fail(err, "top_k", "must be an integer from 0 to 500");
    if (v[GW_RQ_SEED].found && !gw_jv_is_int(&v[GW_RQ_SEED]))
        return gw_xlate_fail(err, "seed", "must be an integer");
    for (size_t i = 1; i < GW_ARRAY_SIZE(copied); i++) { /* the penalties */
        const struct gw_jv *p = &v[copied[i]];
        double d;
        if (p->found && (!gw_jv_double(p, &d) || d < 0 || d > 1))
            return gw_xlate_fail(err, gw_oreq_keys[copied[i]], "this provider takes %s from 0 to 1",
                                 gw_oreq_keys[copied[i]]);
    }
    if (gw_oreq_bools(v, bools, GW_ARRAY_SIZE(bools), err) != 0)
        return -1;
    if (v[GW_RQ_TOOLS].found && !gw_jv_is(&v[GW_RQ_TOOLS], GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "tools", "tools must be an array");
    bool have_tools = v[GW_RQ_TOOLS].found && gw_jv_arr_count(&v[GW_RQ_TOOLS]) > 0;
    struct tchoice tc;
    if (read_tool_choice(&c, &v[GW_RQ_TOOL_CHOICE], have_tools, &tc) != 0)
        return -1;

    /* Every string is copied raw; content parts, tools and tool calls come out no
     * larger than they went in but for a few fixed members each. */
    struct gw_xbound b;
    if (gw_oreq_body_begin(&c.w, &b, x, len, 0, &v[GW_RQ_MODEL], err) != 0)
        return -1;
    if (write_messages(&c, &v[GW_RQ_MESSAGES]) != 0)
        return -1;
    gw_jw_key(&c.w, "stream");
    gw_jw_bool(&c.w, gw_jv_is(&v[GW_RQ_STREAM], GW_JT_TRUE));
    if (max->found) {
        gw_jw_key(&c.w, "max_tokens");
        gw_jw_raw(&c.w, max->raw.ptr, max->raw.len);
    }
    if (v[GW_RQ_STOP].found) {
        if (gw_oreq_stop(&v[GW_RQ_STOP], 0, err) < 0)
            return -1;
        gw_jw_key(&c.w, "stop_sequences");
        gw_oreq_stop_write(&c.w, &v[GW_RQ_STOP]);
    }
    gw_oreq_copy(&c.w, v, temperature, 1);
    if (v[GW_RQ_TOP_P].found) {
        /* Cohere's p takes 0.01..0.99; OpenAI's top_p 0..1, where 1 (no
         * nucleus cut, a common client default) is the usual value outside. */
        gw_jw_key(&c.w, "p");
        if (top_p < 0.01 || top_p > 0.99) {
            gw_jw_double(&c.w, top_p < 0.01 ? 0.01 : 0.99);
            out->warning = warn_top_p;
        } else {
            gw_jw_raw(&c.w, v[GW_RQ_TOP_P].raw.ptr, v[GW_RQ_TOP_P].raw.len);
        }
    }
    if (v[GW_RQ_TOP_K].found) {
        gw_jw_key(&c.w, "k");
        gw_jw_raw(&c.w, v[GW_RQ_TOP_K].raw.ptr, v[GW_RQ_TOP_K].raw.len);
    }
    gw_oreq_copy(&c.w, v, copied, GW_ARRAY_SIZE(copied));
    if (gw_jv_is(&v[GW_RQ_LOGPROBS], GW_JT_TRUE)) {
        gw_jw_key(&c.w, "logprobs");
        gw_jw_bool(&c.w, true);
    }
    if (v[GW_RQ_RESPONSE_FORMAT].found && write_response_format(&c, &v[GW_RQ_RESPONSE_FORMAT]) != 0)
        return -1;
    if (have_tools) {
        if (write_tools(&c, &v[GW_RQ_TOOLS], &tc) != 0)
            return -1;
        if (tc.mode) {
            gw_jw_key(&c.w, "tool_choice");
            gw_jw_cstr(&c.w, tc.mode);
        }
    }
    gw_oreq_mock(&c.w, &v[GW_RQ_MOCK]);
    if (gw_oreq_body_end(&c.w, &b, out, err) != 0 ||
        gw_oreq_key_header(x, "authorization", "Bearer ", out, err) != 0)
        return -1;
    out->path = "/v2/chat";
    return 0;
}

/* ---- response: Cohere -> OpenAI ---- */

/* Cohere's finish_reason -> OpenAI's; NULL for ERROR and TIMEOUT (no OpenAI equivalent). */
static const char *finish_reason(const struct gw_jv *fr, bool tools)
{
    if (gw_jv_streq(fr, "COMPLETE") || gw_jv_streq(fr, "STOP_SEQUENCE"))
        return "stop";
    if (gw_jv_streq(fr, "MAX_TOKENS"))
        return "length";
    if (gw_jv_streq(fr, "TOOL_CALL"))
        return "tool_calls";
    if (gw_jv_streq(fr, "ERROR") || gw_jv_streq(fr, "TIMEOUT"))
        return NULL;
    return tools ? "tool_calls" : "stop"; /* absent, or a reason added later */
}

/*
 * usage {"billed_units":{..},"tokens":{..},"cached_tokens":N} -> *u: the
 * token counts the model saw (tokens), else the billed ones; absent counters
 * are 0, and a cached count is held to the input it is part of. Cohere does
 * not report thinking tokens apart from the output, so reasoning_tokens is 0.
 */
static void read_usage(const struct gw_jv *usage, struct gw_xlate_usage *u)
{
    static const char *const uk[] = {"billed_units", "tokens", "cached_tokens"};
    static const char *const tk[] = {"input_tokens", "output_tokens"};
    struct gw_jv uv[3], bv[2], tv[2];
    uint64_t n;
    memset(u, 0, sizeof(*u));
    u->have = true;
    if (gw_jv_scan_obj(usage, uk, 3, uv) != 0)
        return;
    (void)gw_jv_scan_obj(&uv[0], tk, 2, bv);
    (void)gw_jv_scan_obj(&uv[1], tk, 2, tv);
    if (num_tokens(&tv[0], &n) || num_tokens(&bv[0], &n))
        u->prompt_tokens = n;
    if (num_tokens(&tv[1], &n) || num_tokens(&bv[1], &n))
        u->completion_tokens = n;
    if (num_tokens(&uv[2], &n))
        u->cached_tokens = GW_MIN(n, u->prompt_tokens);
}

/*
 * One Cohere logprob item {"text","token_ids","logprobs":[..]} -> one OpenAI
 * entry {"token":text,"logprob":sum,"bytes":[UTF-8 bytes],"top_logprobs":[]}:
 * Cohere scores text chunks (one or more tokens each), so a chunk is one
 * entry whose log probability is the sum of its tokens'. Needs about
 * 5 * item length of output. 0, or -1 when the item is malformed.
 */
static int write_logprob(struct gw_jw *w, struct gw_arena *a, const struct gw_jv *item)
{
    static const char *const k[] = {"text", "logprobs"};
    struct gw_jv v[2];
    if (gw_jv_scan_obj(item, k, 2, v) != 0)
        return -1;
    double sum = 0;
    if (v[1].found) {
        struct gw_jv_it it;
        struct gw_jv el;
        int r;
        if (gw_jv_arr_begin(&it, &v[1]) != 0)
            return -1;
        while ((r = gw_jv_arr_next(&it, &el)) == 1) {
            double d;
            if (!gw_jv_double(&el, &d))
                return -1;
            sum += d;
        }
        if (r != 0)
            return -1;
    }
    bool text = gw_jv_is(&v[0], GW_JT_STRING);
    size_t n = 0;
    const char *t = text ? gw_jv_unesc(a, v[0].str, &n) : "";
    if (!t)
        return -1;
    gw_jw_obj_begin(w);
    gw_jw_key(w, "token");
    if (text)
        gw_jw_raw(w, v[0].raw.ptr, v[0].raw.len);
    else
        gw_jw_cstr(w, "");
    gw_jw_key(w, "logprob");
    gw_jw_double(w, sum);
    gw_jw_key(w, "bytes");
    gw_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        gw_jw_uint(w, (unsigned char)t[i]);
    gw_jw_arr_end(w);
    gw_jw_key(w, "top_logprobs");
    gw_jw_arr_begin(w);
    gw_jw_arr_end(w);
    gw_jw_obj_end(w);
    return 0;
}

/*
 * "logprobs":{"content":[..],"refusal":null} from Cohere's logprobs: the
 * response's array of items, or a stream event's one item. 0, or -1 when an
 * item is malformed or the arena is exhausted.
 */
static int write_logprobs(struct gw_jw *w, struct gw_arena *a, const struct gw_jv *lp)
{
    gw_jw_key(w, "logprobs");
    gw_oai_logprobs_begin(w);
    if (gw_jv_is(lp, GW_JT_ARR_BEGIN)) {
        struct gw_jv_it it;
        struct gw_jv item;
        int r;
        if (gw_jv_arr_begin(&it, lp) != 0)
            return -1;
        while ((r = gw_jv_arr_next(&it, &item)) == 1)
            if (write_logprob(w, a, &item) != 0)
                return -1;
        if (r != 0)
            return -1;
    } else if (write_logprob(w, a, lp) != 0) {
        return -1;
    }
    gw_oai_logprobs_end(w);
    return 0;
}

int gw_cohere_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                 struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const rk[] = {"finish_reason", "message", "usage", "logprobs"};
    static const char *const mk[] = {"content", "tool_calls"};
    static const char *const ik[] = {"type", "text"};
    static const char *const ck[] = {"id", "function"};
    static const char *const fk[] = {"name", "arguments"};
    struct gw_jv rv[4], mv[2], item, iv[2], cv[2], fv[2];
    struct gw_jv_it it;
    int r;
    *out = GW_SPAN_NULL;
    if (gw_jv_scan(gw_span_make(body, len), rk, 4, rv) != 0 ||
        gw_jv_scan_obj(&rv[1], mk, 2, mv) != 0)
        return -1;
    bool have_tools = gw_jv_is(&mv[1], GW_JT_ARR_BEGIN) && gw_jv_arr_count(&mv[1]) > 0;
    const char *finish = finish_reason(&rv[0], have_tools);
    if (!finish)
        return -1; /* ERROR or TIMEOUT: what text there is cannot be trusted (see cohere.h) */

    /* Pass 1: the text items joined (decoded); thinking items are not the answer. */
    struct gw_oai_text text;
    if (gw_oai_text_init(&text, x->arena, len) != 0)
        return -1;
    if (gw_jv_is(&mv[0], GW_JT_STRING)) {
        if (gw_oai_text_add(&text, mv[0].str) != 0)
            return -1;
    } else if (mv[0].found) {
        if (gw_jv_arr_begin(&it, &mv[0]) != 0)
            return -1;
        while ((r = gw_jv_arr_next(&it, &item)) == 1) {
            if (gw_jv_scan_obj(&item, ik, 2, iv) != 0)
                return -1;
            if (!gw_jv_streq(&iv[0], "text"))
                continue;
            if (!gw_jv_is(&iv[1], GW_JT_STRING) || gw_oai_text_add(&text, iv[1].str) != 0)
                return -1;
        }
        if (r != 0)
            return -1;
    }

    /* Text is re-escaped (at most 6 bytes per byte for control characters, which
     * the tokenizer refuses raw, so 2); logprob entries need about 5x theirs. */
    struct gw_jw w;
    text.have |= !have_tools; /* content is "" rather than null without tool calls */
    if (gw_oai_message_open(&w, x, 2 * len + 5 * (rv[3].found ? rv[3].raw.len : 0), &text,
                            have_tools) != 0)
        return -1;
    if (have_tools) {
        (void)gw_jv_arr_begin(&it, &mv[1]); /* have_tools: an array */
        while ((r = gw_jv_arr_next(&it, &item)) == 1) {
            if (gw_jv_scan_obj(&item, ck, 2, cv) != 0 || !gw_jv_is(&cv[0], GW_JT_STRING) ||
                gw_jv_scan_obj(&cv[1], fk, 2, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
                return -1;
            struct gw_oai_call call = {.index = -1, .id = cv[0].raw, .name = fv[0].raw};
            call_args(&call, &fv[1]);
            gw_oai_tool_call(&w, &call);
        }
        if (r != 0)
            return -1;
        gw_jw_arr_end(&w);
    }
    gw_oai_message_end(&w);
    bool logprobs = gw_jv_is(&rv[3], GW_JT_ARR_BEGIN);
    if (logprobs && write_logprobs(&w, x->arena, &rv[3]) != 0)
        return -1;
    gw_oai_choice_end(&w, logprobs, finish);
    struct gw_xlate_usage usage;
    read_usage(&rv[2], &usage);
    return gw_oai_completion_close(&w, &usage, out, u);
}

/* ---- errors ---- */

struct err_map {
    int in;           /* Cohere's HTTP status */
    int status;       /* the status the client sees */
    const char *type; /* OpenAI error.type */
    const char *code; /* OpenAI error.code, or NULL */
};

/* Cohere's statuses (reference/errors and the v2 SDK's error classes). */
static const struct err_map err_maps[] = {
    {400, 400, "invalid_request_error", NULL},
    {401, 401, "invalid_request_error", "invalid_api_key"},
    {402, 402, "insufficient_quota", "insufficient_quota"},
    {403, 403, "permission_error", NULL},
    {404, 404, "invalid_request_error", "not_found"},
    /* Unprocessable entity: the request was understood and refused: the client's. */
    {422, 400, "invalid_request_error", NULL},
    {429, 429, "rate_limit_error", "rate_limit_exceeded"},
    /* Invalid token: a key Cohere does not take. */
    {498, 401, "invalid_request_error", "invalid_api_key"},
    /* Client closed request: the gateway did not cancel, so it is an upstream failure. */
    {499, 502, "server_error", "upstream_cancelled"},
    {500, 500, "server_error", NULL},
    {501, 501, "server_error", "not_implemented"},
    {503, 503, "server_error", "overloaded"},
    {504, 504, "server_error", "timeout"},
};

int gw_cohere_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                              struct gw_arena *a, struct gw_span *out, int *out_status)
{
    (void)error_type; /* one status, one error: the body says which */
    static const char *const k[] = {"message", "data"};
    struct gw_jv v[2];
    (void)gw_jv_scan(gw_span_make(body, len), k, 2, v); /* not an object: both absent */
    const struct err_map *m = NULL;
    for (size_t i = 0; i < GW_ARRAY_SIZE(err_maps) && !m; i++)
        if (err_maps[i].in == status)
            m = &err_maps[i];
    int st = gw_oai_client_status(status);
    struct gw_oai_error e = {
        .type = gw_span_cstr(st >= 500 ? "server_error" : "invalid_request_error"),
    };
    if (m) {
        st = m->status;
        e.type = gw_span_cstr(m->type);
        e.code = m->code;
    }
    /* Cohere's message, or the SDK's TooManyRequests {"data":".."}, else a generic one. */
    const struct gw_jv *msg = gw_jv_is(&v[0], GW_JT_STRING)   ? &v[0]
                              : gw_jv_is(&v[1], GW_JT_STRING) ? &v[1]
                                                              : NULL;
    char generic[64];
    if (msg) {
        e.message = msg->raw;
        e.message_json = true;
    } else {
        e.message = gw_oai_status_message(generic, sizeof(generic), status);
    }
    return gw_oai_error_body(a, &e, st, out, out_status);
}

/* ---- embeddings ---- */

static const char *const input_types[] = {"search_document", "search_query", "classification",
                                          "clustering"};

int gw_cohere_build_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    static const char *const k[] = {"mock", "input_type", "model"};
    struct gw_embed_req er;
    struct gw_jv v[3];
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (gw_embed_parse(x, body, len, &er, err) != 0)
        return -1;
    if (gw_jv_scan(gw_span_make(body, len), k, 3, v) != 0)
        return gw_xlate_fail(err, NULL, "the request body must be a JSON object");
    if (er.n > GW_COHERE_EMBED_MAX_TEXTS)
        return gw_xlate_fail(err, "input",
                             "this provider embeds at most %d inputs per request (got %zu)",
                             GW_COHERE_EMBED_MAX_TEXTS, er.n);
    const char *itype = GW_COHERE_EMBED_INPUT_TYPE;
    if (v[1].found) {
        itype = NULL;
        for (size_t i = 0; i < GW_ARRAY_SIZE(input_types) && !itype; i++)
            if (gw_jv_streq(&v[1], input_types[i]))
                itype = input_types[i];
        if (!itype)
            return gw_xlate_fail(
                err, "input_type",
                "input_type must be search_document, search_query, classification or "
                "clustering");
    }
    size_t cap = len + 256 + (v[0].found ? v[0].raw.len : 0);
    for (size_t i = 0; i < er.n; i++)
        cap += er.inputs[i].len + 1;
    struct gw_xbound b;
    struct gw_jw w;
    if (gw_oreq_body_begin(&w, &b, x, len, cap, &v[2], err) != 0)
        return -1;
    gw_jw_key(&w, "texts");
    gw_jw_arr_begin(&w);
    for (size_t i = 0; i < er.n; i++)
        gw_jw_raw(&w, er.inputs[i].ptr, er.inputs[i].len);
    gw_jw_arr_end(&w);
    gw_jw_key(&w, "input_type");
    gw_jw_cstr(&w, itype);
    gw_jw_key(&w, "embedding_types");
    gw_jw_arr_begin(&w);
    gw_jw_cstr(&w, "float");
    gw_jw_arr_end(&w);
    if (er.dimensions >= 0) {
        gw_jw_key(&w, "output_dimension");
        gw_jw_int(&w, er.dimensions);
    }
    gw_oreq_mock(&w, &v[0]);
    if (gw_oreq_body_end(&w, &b, out, err) != 0 ||
        gw_oreq_key_header(x, "authorization", "Bearer ", out, err) != 0)
        return -1;
    out->path = "/v2/embed";
    return 0;
}

int gw_cohere_translate_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                                   struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const rk[] = {"embeddings", "meta"};
    static const char *const ek[] = {"float"};
    static const char *const mk[] = {"billed_units"};
    static const char *const bk[] = {"input_tokens"};
    struct gw_jv rv[2], fv[1], mv[1], bv[1], el;
    struct gw_jv_it it;
    int r;
    *out = GW_SPAN_NULL;
    if (gw_jv_scan(gw_span_make(body, len), rk, 2, rv) != 0)
        return -1;
    /* embeddings by type ({"float":[..]}), or the older embeddings_floats array. */
    const struct gw_jv *vecs = &rv[0];
    if (gw_jv_is(&rv[0], GW_JT_OBJ_BEGIN)) {
        if (gw_jv_scan(rv[0].raw, ek, 1, fv) != 0)
            return -1;
        vecs = &fv[0];
    }
    long n = gw_jv_arr_count(vecs);
    if (n < 0)
        return -1;
    struct gw_span *spans = gw_arena_alloc(x->arena, (size_t)(n ? n : 1) * sizeof(*spans));
    if (!spans || gw_jv_arr_begin(&it, vecs) != 0)
        return -1;
    size_t k = 0;
    while ((r = gw_jv_arr_next(&it, &el)) == 1) {
        if (!gw_jv_is(&el, GW_JT_ARR_BEGIN))
            return -1;
        spans[k++] = el.raw;
    }
    if (r != 0)
        return -1;
    uint64_t tokens = 0;
    if (gw_jv_scan_obj(&rv[1], mk, 1, mv) == 0 && gw_jv_scan_obj(&mv[0], bk, 1, bv) == 0)
        (void)num_tokens(&bv[0], &tokens);
    if (gw_embed_write(x, spans, k, tokens, out) != 0) {
        *out = GW_SPAN_NULL;
        return -1;
    }
    if (u) {
        memset(u, 0, sizeof(*u));
        u->prompt_tokens = tokens;
        u->have = true;
    }
    return 0;
}

/* ---- stream ---- */

void gw_cohere_stream_init(struct gw_cohere_stream *s, const struct gw_xlate *x)
{
    memset(s, 0, sizeof(*s));
    s->_x = x;
    gw_oai_stream_init(&s->_o, x);
    gw_sse_reader_init(&s->_sse, x->arena, GW_COHERE_EVENT_MAX);
}

enum ev {
    EV_OTHER = 0,
    EV_MESSAGE_START,
    EV_CONTENT_DELTA,
    EV_TOOL_CALL_START,
    EV_TOOL_CALL_DELTA,
    EV_MESSAGE_END
};

/*
 * The event's type: the data's "type", else the SSE event name. Events that
 * translate to nothing (content-start/-end, tool-plan-delta, tool-call-end,
 * citation-start/-end, debug, and types added later) are EV_OTHER.
 */
static enum ev event_kind(const struct gw_jv *type, struct gw_span event)
{
    static const struct {
        const char *name;
        enum ev ev;
    } kinds[] = {
        {"message-start", EV_MESSAGE_START},     {"content-delta", EV_CONTENT_DELTA},
        {"tool-call-start", EV_TOOL_CALL_START}, {"tool-call-delta", EV_TOOL_CALL_DELTA},
        {"message-end", EV_MESSAGE_END},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(kinds); i++) {
        if (type->found ? gw_jv_streq(type, kinds[i].name)
                        : gw_span_eq(event, gw_span_cstr(kinds[i].name)))
            return kinds[i].ev;
    }
    return EV_OTHER;
}

/* delta.message's member `key` (one level down for content and tool_calls). */
static void delta_message(const struct gw_jv *delta, const char *key, struct gw_jv *out)
{
    struct gw_jv msg = gw_jv_member(delta, "message");
    *out = gw_jv_member(&msg, key);
}

/*
 * message-end: the finish chunk, then usage and [DONE]; for ERROR and TIMEOUT,
 * an error chunk with Cohere's message (and [DONE]) instead.
 */
static int message_end(struct gw_cohere_stream *s, const struct gw_jv *delta,
                       const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    static const char *const dk[] = {"finish_reason", "usage", "error"};
    struct gw_jv dv[3];
    struct gw_xlate_usage usage;
    (void)gw_jv_scan_obj(delta, dk, 3, dv);
    read_usage(&dv[1], &usage);
    if (u)
        *u = usage;
    const char *finish = finish_reason(&dv[0], s->_tool_count > 0);
    if (!finish) {
        bool timeout = gw_jv_streq(&dv[0], "TIMEOUT");
        struct gw_oai_error e = {
            .message = gw_span_cstr(timeout ? "the provider timed out generating the answer"
                                            : "the provider failed generating the answer"),
            .type = GW_SPAN_LIT("server_error"),
            .code = timeout ? "timeout" : NULL,
        };
        if (gw_jv_is(&dv[2], GW_JT_STRING)) {
            e.message = dv[2].raw;
            e.message_json = true;
        }
        return gw_oai_stream_error(&s->_o, sink, &e, 1);
    }
    if (gw_oai_chunk_finish(&s->_o, sink, 0, finish) != 0)
        return -1;
    return gw_oai_stream_finish(&s->_o, sink, &usage);
}

/* A tool-call-start or tool-call-delta event -> one tool_calls delta chunk. */
static int tool_call_chunk(struct gw_cohere_stream *s, const struct gw_jv *delta, bool start,
                           const struct gw_xlate_sink *sink)
{
    static const char *const ck[] = {"id", "function"};
    static const char *const fk[] = {"name", "arguments"};
    struct gw_jv call, cv[2], fv[2];
    delta_message(delta, "tool_calls", &call);
    (void)gw_jv_scan_obj(&call, ck, 2, cv);
    (void)gw_jv_scan_obj(&cv[1], fk, 2, fv);
    bool args = gw_jv_is(&fv[1], GW_JT_STRING) && fv[1].str.len > 0;
    struct gw_oai_call c = {.args = args ? fv[1].raw : GW_SPAN_NULL};
    if (start) {
        if (!gw_jv_is(&cv[0], GW_JT_STRING) || !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_oai_stream_fail(&s->_o, sink, "invalid tool-call-start upstream", -1);
        s->_tool_count++;
        c.id = cv[0].raw;
        c.name = fv[0].raw;
    } else if (!args || s->_tool_count == 0) {
        return 0; /* nothing to add, or arguments for no call */
    }
    c.index = s->_tool_count - 1;
    s->_started = true;
    return gw_oai_chunk_tool_call(&s->_o, sink, 0, &c);
}

/*
 * A content-delta: text (thinking deltas are not the answer), with its
 * logprobs if any. dlen: the event's size, which bounds what is copied.
 */
static int content_chunk(struct gw_cohere_stream *s, const struct gw_jv *delta,
                         const struct gw_jv *lp, size_t dlen, const struct gw_xlate_sink *sink)
{
    struct gw_jv content, text;
    delta_message(delta, "content", &content);
    text = gw_jv_member(&content, "text");
    if (!gw_jv_is(&text, GW_JT_STRING) || (text.str.len == 0 && !lp->found))
        return 0;
    s->_started = true;
    if (!lp->found)
        return gw_oai_chunk_content(&s->_o, sink, 0, text.raw);
    /* Logprob entries need about 5x their text (bytes as numbers). */
    struct gw_jw *w = gw_oai_chunk_begin(&s->_o, dlen + 3 * lp->raw.len);
    if (!w)
        return -1;
    gw_oai_chunk_head(&s->_o, 0);
    gw_jw_key(w, "content");
    gw_jw_raw(w, text.raw.ptr, text.raw.len);
    /* The choice's logprobs go between its delta and finish_reason, so the
     * chunk is closed here rather than by gw_oai_chunk_tail. */
    gw_jw_obj_end(w); /* delta */
    if (write_logprobs(w, s->_x->arena, lp) != 0)
        return gw_oai_stream_fail(&s->_o, sink, "invalid logprobs upstream", -1);
    gw_jw_key(w, "finish_reason");
    gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_arr_end(w);
    gw_jw_obj_end(w);
    return gw_oai_chunk_send(&s->_o, sink);
}

static const char *const ev_keys[] = {"type", "delta", "logprobs"};
enum { EK_TYPE, EK_DELTA, EK_LOGPROBS, EK_COUNT };

/* One complete event (a gw_oai_event_fn) -> chunks. 0, 1 when the stream ended, -1. */
static int on_event(void *st, struct gw_span event, struct gw_span data,
                    const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    struct gw_cohere_stream *s = st;
    struct gw_jv v[EK_COUNT];
    /* Some relays end an SSE stream OpenAI's way; Cohere's end is message-end. */
    if (gw_span_eq(data, GW_SPAN_LIT("[DONE]")))
        return 0;
    if (gw_jv_scan(data, ev_keys, EK_COUNT, v) != 0 ||
        (v[EK_TYPE].found && !gw_jv_is(&v[EK_TYPE], GW_JT_STRING)))
        return gw_oai_stream_fail(&s->_o, sink, "invalid event in the upstream stream", -1);
    switch (event_kind(&v[EK_TYPE], event)) {
    case EV_MESSAGE_START:
        if (s->_started)
            return 0;
        s->_started = true;
        return gw_oai_chunk_content(&s->_o, sink, 0, GW_SPAN_LIT("\"\""));
    case EV_CONTENT_DELTA:
        return content_chunk(s, &v[EK_DELTA], &v[EK_LOGPROBS], data.len, sink);
    case EV_TOOL_CALL_START:
        return tool_call_chunk(s, &v[EK_DELTA], true, sink);
    case EV_TOOL_CALL_DELTA:
        return tool_call_chunk(s, &v[EK_DELTA], false, sink);
    case EV_MESSAGE_END:
        return message_end(s, &v[EK_DELTA], sink, u);
    case EV_OTHER:
        break;
    }
    return 0;
}

int gw_cohere_stream_feed(struct gw_cohere_stream *s, const char *data, size_t len,
                          const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    return gw_oai_stream_feed_sse(&s->_o, &s->_sse, data, len, on_event, s, sink, u);
}

int gw_cohere_stream_end(struct gw_cohere_stream *s, const struct gw_xlate_sink *sink,
                         struct gw_xlate_usage *u)
{
    (void)u;
    return gw_oai_stream_cut(&s->_o, sink, "upstream stream ended before message-end");
}

/* ---- the dialect table (providers/dialect.h) ---- */

GW_DIALECT_STREAM_FNS(cohere)

const struct gw_dialect gw_dialect_cohere = {
    .name = "cohere",
    .build_request = gw_cohere_build_request,
    .translate_response = gw_cohere_translate_response,
    .translate_error = gw_cohere_translate_error,
    .stream_ctype = NULL, /* text/event-stream */
    .build_embeddings = gw_cohere_build_embeddings,
    .translate_embeddings = gw_cohere_translate_embeddings,
    .stream_size = sizeof(struct gw_cohere_stream),
    .stream_init = cohere_stream_init_v,
    .stream_feed = cohere_stream_feed_v,
    .stream_end = cohere_stream_end_v,
};
