/*
 * providers/gemini.c — OpenAI chat completions and embeddings <-> Google's
 * Gemini API (v1beta), see providers/gemini.h for the references.
 *
 * Request (GenerateContentRequest):
 *   messages        -> contents[] {role user|model, parts[]}; system and
 *                      developer messages -> systemInstruction.parts[], one text
 *                      part each, in order; assistant -> role "model";
 *                      text -> {text}; image_url data: URL -> inlineData
 *                      {mimeType,data}; http(s) URL -> fileData {mimeType when
 *                      the extension says it, fileUri}; input_audio (wav, mp3)
 *                      and file (file_data data: URL) -> inlineData; refusal
 *                      parts are dropped; tool_calls -> functionCall {name,args}
 *                      (arguments must be a JSON object); tool messages ->
 *                      functionResponse {name (from the assistant tool call
 *                      with that id), response (the content when it is a JSON
 *                      object, else {"result": content})} in a user content,
 *                      consecutive tool messages in one content.
 *   generationConfig: temperature, top_p -> topP, top_k -> topK (an extension
 *                      Gemini takes), max_completion_tokens | max_tokens ->
 *                      maxOutputTokens, stop -> stopSequences (<= 5), n ->
 *                      candidateCount (<= 8), seed, presence_penalty,
 *                      frequency_penalty, logprobs -> responseLogprobs,
 *                      top_logprobs -> logprobs, response_format json_object ->
 *                      responseMimeType "application/json", json_schema ->
 *                      that plus responseJsonSchema (JSON Schema as sent),
 *                      reasoning_effort -> thinkingConfig.thinkingBudget (none 0,
 *                      minimal/low 1024, medium 8192, high 24576, the table of
 *                      Gemini's own OpenAI compatibility layer).
 *   tools (function) -> tools[{functionDeclarations[{name,description,
 *                      parametersJsonSchema}]}] (JSON Schema as sent);
 *   tool_choice      -> toolConfig.functionCallingConfig {mode NONE|AUTO|ANY,
 *                      allowedFunctionNames for a named function}.
 *   Refused with 400 (param named): logit_bias (non-empty), audio, modalities
 *   other than ["text"], prediction, web_search_options, functions and
 *   function_call (deprecated), verbosity, reasoning_effort other than the
 *   above, tool_choice allowed_tools, non-function tools, n > 8.
 *   Dropped as harmless: user, store, metadata, service_tier,
 *   prompt_cache_key, safety_identifier, stream_options (the gateway reads
 *   it), message "name" fields, tools' "strict", json_schema's name and strict,
 *   image "detail". parallel_tool_calls false has no Gemini switch: the
 *   request goes out with a warning for the client (x-conduit-warning).
 *   The bundled mock's "mock" object is forwarded as it is.
 *
 * Response (GenerateContentResponse): candidates[] -> choices[] (index per
 * candidate); non-thought text parts joined -> message.content (thought parts
 * are dropped: OpenAI's message has no place for them); functionCall parts ->
 * tool_calls (id: the part's id, else "call_<request_id>_<n>", n counting
 * from 0 across the response or stream); logprobsResult -> logprobs;
 * finishReason STOP -> stop (tool_calls when the candidate called a
 * function), MAX_TOKENS -> length, SAFETY, RECITATION, BLOCKLIST,
 * PROHIBITED_CONTENT, SPII, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT,
 * IMAGE_RECITATION -> content_filter; everything else (OTHER, LANGUAGE,
 * MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, NO_IMAGE,
 * IMAGE_OTHER, values added later) -> stop (tool_calls after a call): OpenAI
 * has no "error" finish reason and the content says what there is.
 * promptFeedback.blockReason with no candidates -> one choice, content null,
 * finish_reason content_filter. usageMetadata: prompt_tokens = promptTokenCount
 * + toolUsePromptTokenCount, completion_tokens = candidatesTokenCount +
 * thoughtsTokenCount (the latter also as completion_tokens_details.
 * reasoning_tokens), cached_tokens = cachedContentTokenCount; total their sum
 * (Gemini's totalTokenCount). Proto3 JSON leaves out zero values, so every
 * absent counter or index reads as 0.
 *
 * Stream (streamGenerateContent?alt=sse): every event's data is a partial
 * GenerateContentResponse, read as above, candidate by candidate: text parts
 * -> content deltas, a functionCall -> one complete tool_call delta, a
 * finishReason -> the choice's finish chunk. Gemini has no end event: the
 * stream is complete when it ends (EOF) after every candidate that appeared
 * has finished. An error object in the stream -> the error chunk, as a
 * non-2xx body would be mapped.
 *
 * JSON is read through providers/jv.h (strings are copied as their raw,
 * already escaped text whenever they pass through unchanged), the OpenAI
 * request through providers/oreq.h (its walk hands this file the
 * conversation piece by piece); the OpenAI side is written by
 * providers/oai.h, events are framed by core/sse.h's reader.
 * Outputs whose size cannot be bounded up front (a tool name
 * repeated by every tool result, generated ids) are rendered again into a
 * buffer twice as large when the writer overflows, up to the limit of
 * providers/xbound.h: a request whose translation would pass it is refused
 * with 400, so the arena holds at most about twice the limit. Function names
 * are held to xbound's rule, with '.' and ':' also allowed (Gemini's
 * FunctionDeclaration.name takes them).
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
#include "core/sse.h"
#include "providers/dialect.h"
#include "providers/embed.h"
#include "providers/gemini.h"
#include "providers/jv.h"
#include "providers/oai.h"
#include "providers/oreq.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* The characters Gemini's function names take beyond OpenAI's [a-zA-Z0-9_-]. */
#define NAME_EXTRA ".:"

/* ---- request: OpenAI -> Gemini ---- */

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    /* The content whose parts array is open: a message's turn by its role
     * (enum gw_oreq_role), tool results merged into one; 0: none. */
    int open;
    bool any;                     /* a content has been written */
    struct gw_oreq_history calls; /* what a later tool message's tool_call_id resolves to */
    size_t nresults;              /* tool results written (GW_XBOUND_TOOL_CALLS_MAX) */
};

/*
 * Opens a content for the next part of a message of `role` unless one is
 * open: a content is written only once it has a part (Gemini refuses empty
 * parts arrays), and tool results after each other share one user content
 * (parallel results).
 */
static void begin_part(struct bctx *c, enum gw_oreq_role role)
{
    const char *name = role == GW_OREQ_ROLE_ASSISTANT ? "model" : "user";
    if (gw_oreq_turn(&c->w, &c->open, (int)role, name, "parts"))
        c->any = true;
}

static void text_part(struct bctx *c, const struct gw_jv *s)
{
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "text");
    gw_jw_raw(&c->w, s->raw.ptr, s->raw.len);
    gw_jw_obj_end(&c->w);
}

/*
 * An inlineData part {mimeType, data}: mime is text; data is base64 text, or
 * with data_json its JSON string token as the client sent it.
 */
static void inline_part(struct bctx *c, struct gw_span mime, struct gw_span data, bool data_json)
{
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "inlineData");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "mimeType");
    gw_jw_str(&c->w, mime.ptr, mime.len);
    gw_jw_key(&c->w, "data");
    if (data_json)
        gw_jw_raw(&c->w, data.ptr, data.len);
    else
        gw_jw_str(&c->w, data.ptr, data.len);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
}

/* The image type an http(s) URL's path names by its extension, or NULL. */
static const char *url_image_type(const char *u, size_t n)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {{".png", "image/png"},   {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
                 {".webp", "image/webp"}, {".gif", "image/gif"},  {".heic", "image/heic"},
                 {".heif", "image/heif"}};
    size_t end = 0;
    while (end < n && u[end] != '?' && u[end] != '#')
        end++;
    for (size_t i = 0; i < GW_ARRAY_SIZE(types); i++) {
        size_t k = strlen(types[i].ext);
        if (end >= k && strncasecmp(u + end - k, types[i].ext, k) == 0)
            return types[i].type;
    }
    return NULL;
}

/* An image_url part -> inlineData (data: URL) or fileData (http(s) URL). */
static int image_part(struct bctx *c, const struct gw_jv *part)
{
    struct gw_oreq_url u;
    if (gw_oreq_image_url(part, c->a, c->err, &u) != 0)
        return -1;
    if (u.kind == GW_OREQ_URL_DATA) {
        inline_part(c, u.media, u.data, false);
        return 0;
    }
    if (u.kind != GW_OREQ_URL_HTTP)
        return gw_xlate_fail(c->err, "messages", "image URLs must be http(s) or data: URLs");
    const char *type = url_image_type(u.url.ptr, u.url.len);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "fileData");
    gw_jw_obj_begin(&c->w);
    if (type) {
        gw_jw_key(&c->w, "mimeType");
        gw_jw_cstr(&c->w, type);
    }
    gw_jw_key(&c->w, "fileUri");
    gw_jw_str(&c->w, u.url.ptr, u.url.len);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/* An input_audio part {data, format wav|mp3} -> inlineData audio/<format>. */
static int audio_part(struct bctx *c, const struct gw_jv *part)
{
    static const char *const pk[] = {"input_audio"};
    static const char *const ak[] = {"data", "format"};
    struct gw_jv ia, av[2];
    if (gw_jv_scan(part->raw, pk, 1, &ia) != 0 || gw_jv_scan_obj(&ia, ak, 2, av) != 0 ||
        !gw_jv_is(&av[0], GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages",
                             "input_audio part needs input_audio.data and format");
    const char *mime;
    if (gw_jv_streq(&av[1], "wav"))
        mime = "audio/wav";
    else if (gw_jv_streq(&av[1], "mp3"))
        mime = "audio/mp3";
    else
        return gw_xlate_fail(c->err, "messages", "input_audio format must be wav or mp3");
    inline_part(c, gw_span_cstr(mime), av[0].raw, true);
    return 0;
}

/* A file part {file:{file_data: data: URL}} -> inlineData; file_id needs a file store. */
static int file_part(struct bctx *c, const struct gw_jv *part)
{
    static const char *const pk[] = {"file"};
    static const char *const fk[] = {"file_data", "file_id"};
    struct gw_jv f, fv[2];
    if (gw_jv_scan(part->raw, pk, 1, &f) != 0 || gw_jv_scan_obj(&f, fk, 2, fv) != 0)
        return gw_xlate_fail(c->err, "messages", "file part needs file.file_data");
    if (fv[1].found && !fv[0].found)
        return gw_xlate_fail(c->err, "messages",
                             "file parts by file_id are not supported by this provider");
    if (!gw_jv_is(&fv[0], GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages", "file part needs file.file_data");
    size_t n;
    const char *u = gw_jv_unesc(c->a, fv[0].str, &n);
    struct gw_oreq_url url;
    if (!u)
        return gw_xlate_fail_mem(c->err);
    gw_oreq_url_parse(gw_span_make(u, n), &url);
    if (url.kind == GW_OREQ_URL_DATA_BAD)
        return gw_xlate_fail(c->err, "messages",
                             "data URLs must be data:<media type>;base64,<data>");
    if (url.kind != GW_OREQ_URL_DATA)
        return gw_xlate_fail(c->err, "messages", "file.file_data must be a data: URL");
    inline_part(c, url.media, url.data, false);
    return 0;
}

/* A part of a user or assistant message (gw_oreq_walk) -> a part of its content. */
static int on_part(void *arg, enum gw_oreq_role role, const struct gw_oreq_part *p)
{
    struct bctx *c = arg;
    begin_part(c, role);
    switch (p->kind) {
    case GW_OREQ_PART_TEXT:
        text_part(c, &p->text);
        return 0;
    case GW_OREQ_PART_IMAGE_URL:
        return image_part(c, &p->part);
    case GW_OREQ_PART_INPUT_AUDIO:
        return audio_part(c, &p->part);
    default: /* GW_OREQ_PART_FILE: the walk hands over no other kind */
        return file_part(c, &p->part);
    }
}

/* An assistant tool call (gw_oreq_walk) -> a functionCall part. */
static int on_call(void *arg, const struct gw_oreq_call *call)
{
    struct bctx *c = arg;
    if (gw_oreq_history_add(&c->calls, c->a, call, c->err) != 0)
        return -1;
    begin_part(c, GW_OREQ_ROLE_ASSISTANT);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "functionCall");
    gw_jw_obj_begin(&c->w);
    gw_oreq_call_members(&c->w, call, NULL, "args");
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/*
 * Writes a tool result's FunctionResponse.response: the text itself when it
 * is a JSON object, else {"result": text}. text[0..n) is the decoded content;
 * raw, when not NULL, is its JSON string token (copied as it is).
 */
static void write_response_obj(struct bctx *c, const char *text, size_t n, const struct gw_jv *raw)
{
    size_t i;
    if (gw_oreq_object_text(text, n, &i)) {
        gw_jw_raw(&c->w, text + i, n - i);
        return;
    }
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "result");
    if (raw)
        gw_jw_raw(&c->w, raw->raw.ptr, raw->raw.len);
    else
        gw_jw_str(&c->w, text, n);
    gw_jw_obj_end(&c->w);
}

/* A tool message (gw_oreq_walk) -> a functionResponse part in the (shared) tool results content. */
static int on_result(void *arg, const struct gw_oreq_msg *m, const struct gw_oreq_walk *w)
{
    struct bctx *c = arg;
    (void)w; /* a tool result's parts are text only: read here */
    const struct gw_jv *id = &m->tool_call_id, *content = &m->content;
    if (++c->nresults > GW_XBOUND_TOOL_CALLS_MAX)
        return gw_xlate_fail(c->err, "messages", "A request may carry at most %u tool results.",
                             (unsigned)GW_XBOUND_TOOL_CALLS_MAX);
    const struct gw_oreq_ref *ref = gw_oreq_history_find(&c->calls, id->str);
    if (!ref)
        return gw_xlate_fail(
            c->err, "messages",
            "tool message tool_call_id \"%.*s\" matches no earlier assistant tool call",
            (int)GW_MIN(id->str.len, 64), id->str.ptr);
    char *text;
    size_t n = 0;
    bool whole = false;
    if (gw_jv_is(content, GW_JT_STRING)) {
        text = gw_jv_unesc(c->a, content->str, &n);
        if (!text)
            return gw_xlate_fail_mem(c->err);
        whole = true;
    } else if (gw_jv_is(content, GW_JT_ARR_BEGIN)) {
        static const char *const pk[] = {"type", "text"};
        struct gw_jv_it it;
        struct gw_jv part, pv[2];
        int r;
        text = gw_arena_alloc(c->a, content->raw.len + 1);
        if (!text)
            return gw_xlate_fail_mem(c->err);
        if (gw_jv_arr_begin(&it, content) != 0)
            return gw_xlate_fail(c->err, "messages", "invalid tool message content");
        while ((r = gw_jv_arr_next(&it, &part)) == 1) {
            if (!gw_jv_is(&part, GW_JT_OBJ_BEGIN) || gw_jv_scan(part.raw, pk, 2, pv) != 0 ||
                !gw_jv_streq(&pv[0], "text") || !gw_jv_is(&pv[1], GW_JT_STRING))
                return gw_xlate_fail(c->err, "messages", "tool message content parts must be text");
            long k = gw_json_unescape(pv[1].str, text + n, content->raw.len - n);
            if (k < 0)
                return gw_xlate_fail(c->err, "messages", "invalid tool message content");
            n += (size_t)k;
        }
        if (r != 0)
            return gw_xlate_fail(c->err, "messages", "invalid tool message content");
    } else {
        return gw_xlate_fail(c->err, "messages",
                             "tool message content must be a string or text parts");
    }
    begin_part(c, GW_OREQ_ROLE_TOOL);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "functionResponse");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "name");
    gw_jw_raw(&c->w, ref->name.ptr, ref->name.len);
    gw_jw_key(&c->w, "response");
    write_response_obj(c, text, n, whole ? content : NULL);
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/* A new message ends the open content, but for tool results after each other. */
static int on_message(void *arg, const struct gw_oreq_msg *m)
{
    struct bctx *c = arg;
    if (!(m->role == GW_OREQ_ROLE_TOOL && c->open == GW_OREQ_ROLE_TOOL))
        gw_oreq_turn_close(&c->w, &c->open);
    return 0;
}

/*
 * The conversation: text in every message, images, audio and files in user
 * messages; tool call arguments must be a JSON object (functionCall.args);
 * function names may hold NAME_EXTRA. Empty text is dropped: Gemini refuses
 * it.
 */
static const struct gw_oreq_walk walk = {
    .message = on_message,
    .part = on_part,
    .call = on_call,
    .result = on_result,
    .take = {[GW_OREQ_ROLE_USER] = GW_OREQ_PART_BIT(GW_OREQ_PART_IMAGE_URL) |
                                   GW_OREQ_PART_BIT(GW_OREQ_PART_INPUT_AUDIO) |
                                   GW_OREQ_PART_BIT(GW_OREQ_PART_FILE)},
    .elsewhere = "image, audio and file parts are only accepted in user messages",
    .name_extra = NAME_EXTRA,
    .object_args = true,
};

static int write_contents(struct bctx *c, const struct gw_jv *msgs)
{
    gw_jw_key(&c->w, "contents");
    gw_jw_arr_begin(&c->w);
    if (gw_oreq_walk(msgs, &walk, c, c->a, c->err) != 0)
        return -1;
    gw_oreq_turn_close(&c->w, &c->open);
    gw_jw_arr_end(&c->w);
    if (!c->any)
        return gw_xlate_fail(c->err, "messages",
                             "messages must hold a user, assistant or tool message with content");
    return 0;
}

/* System and developer messages -> systemInstruction, one text part each, in order. */
static int write_system(struct bctx *c, const struct gw_jv *msgs)
{
    struct gw_oreq_system it;
    struct gw_jv text;
    bool open = false;
    int r;
    if (gw_oreq_system_begin(&it, msgs, c->err) != 0)
        return -1;
    while ((r = gw_oreq_system_next(&it, &text)) == 1) {
        if (!open) {
            gw_jw_key(&c->w, "systemInstruction");
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "parts");
            gw_jw_arr_begin(&c->w);
            open = true;
        }
        text_part(c, &text);
    }
    if (r != 0)
        return -1;
    if (open) {
        gw_jw_arr_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    return 0;
}

/* tools -> one Tool with every functionDeclaration; returns how many via *count. */
static int write_tools(struct bctx *c, const struct gw_jv *tools, size_t *count)
{
    struct gw_oreq_tools it;
    struct gw_oreq_tool t;
    int r;
    *count = 0;
    if (gw_oreq_tools_begin(&it, tools, NAME_EXTRA, c->a, c->err) != 0)
        return -1;
    while ((r = gw_oreq_tools_next(&it, &t)) == 1) {
        if (*count == 0) {
            gw_jw_key(&c->w, "tools");
            gw_jw_arr_begin(&c->w);
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "functionDeclarations");
            gw_jw_arr_begin(&c->w);
        }
        (*count)++;
        gw_jw_obj_begin(&c->w);
        gw_oreq_tool_head(&c->w, &t);
        if (t.parameters.found) {
            gw_jw_key(&c->w, "parametersJsonSchema");
            gw_jw_raw(&c->w, t.parameters.raw.ptr, t.parameters.raw.len);
        }
        gw_jw_obj_end(&c->w);
    }
    if (r != 0)
        return -1;
    if (*count) {
        gw_jw_arr_end(&c->w);
        gw_jw_obj_end(&c->w);
        gw_jw_arr_end(&c->w);
    }
    return 0;
}

/* tool_choice -> toolConfig.functionCallingConfig (only with tools; else checked only). */
static int write_tool_choice(struct bctx *c, const struct gw_jv *tc, bool have_tools)
{
    static const char *const modes[GW_OREQ_TC_COUNT] = {[GW_OREQ_TC_AUTO] = "AUTO",
                                                        [GW_OREQ_TC_REQUIRED] = "ANY",
                                                        [GW_OREQ_TC_NONE] = "NONE",
                                                        [GW_OREQ_TC_FUNCTION] = "ANY"};
    struct gw_oreq_choice ch;
    if (gw_oreq_tool_choice(tc, NAME_EXTRA, c->a, c->err, &ch) != 0)
        return -1;
    if (ch.mode == GW_OREQ_TC_ABSENT)
        return 0;
    bool any = ch.mode == GW_OREQ_TC_REQUIRED || ch.mode == GW_OREQ_TC_FUNCTION;
    if (!have_tools)
        return any ? gw_xlate_fail(c->err, "tool_choice", "tool_choice needs tools")
                   : 0; /* auto or none without tools: nothing to configure */
    gw_jw_key(&c->w, "toolConfig");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "functionCallingConfig");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "mode");
    gw_jw_cstr(&c->w, modes[ch.mode]);
    if (ch.mode == GW_OREQ_TC_FUNCTION) {
        gw_jw_key(&c->w, "allowedFunctionNames");
        gw_jw_arr_begin(&c->w);
        gw_jw_raw(&c->w, ch.name.raw.ptr, ch.name.raw.len);
        gw_jw_arr_end(&c->w);
    }
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

/* Fields Gemini has no way to honour: refused when present (and not null). */
static const enum gw_oreq_key refused[] = {GW_RQ_PREDICTION, GW_RQ_WEB_SEARCH_OPTIONS,
                                           GW_RQ_FUNCTIONS, GW_RQ_FUNCTION_CALL, GW_RQ_VERBOSITY};

/* What build_request checked before rendering, so a render attempt can be repeated. */
struct req_plan {
    const struct gw_jv *v;   /* gw_oreq_request's table */
    const struct gw_jv *max; /* max_completion_tokens, else max_tokens */
    long nstop;              /* stop sequences */
    uint64_t top_logprobs;
    long thinking_budget; /* -1: none */
    const char *mime;     /* responseMimeType, or NULL */
    struct gw_jv schema;  /* response_format.json_schema.schema */
};

/* generationConfig's members, the object opened at the first. */
static void gc_key(struct bctx *c, bool *open, const char *key)
{
    if (!*open) {
        gw_jw_key(&c->w, "generationConfig");
        gw_jw_obj_begin(&c->w);
        *open = true;
    }
    gw_jw_key(&c->w, key);
}

static int write_generation_config(struct bctx *c, const struct req_plan *p)
{
    const struct gw_jv *v = p->v;
    bool open = false;
    if (p->nstop > 0) {
        gc_key(c, &open, "stopSequences");
        gw_oreq_stop_write(&c->w, &v[GW_RQ_STOP]);
    }
    static const struct {
        enum gw_oreq_key rk;
        const char *key;
    } copy[] = {{GW_RQ_TEMPERATURE, "temperature"},
                {GW_RQ_TOP_P, "topP"},
                {GW_RQ_TOP_K, "topK"},
                {GW_RQ_N, "candidateCount"},
                {GW_RQ_SEED, "seed"},
                {GW_RQ_PRESENCE_PENALTY, "presencePenalty"},
                {GW_RQ_FREQUENCY_PENALTY, "frequencyPenalty"}};
    if (p->max->found) {
        gc_key(c, &open, "maxOutputTokens");
        gw_jw_raw(&c->w, p->max->raw.ptr, p->max->raw.len);
    }
    for (size_t i = 0; i < GW_ARRAY_SIZE(copy); i++) {
        const struct gw_jv *x = &v[copy[i].rk];
        if (!x->found)
            continue;
        gc_key(c, &open, copy[i].key);
        gw_jw_raw(&c->w, x->raw.ptr, x->raw.len);
    }
    if (gw_jv_is(&v[GW_RQ_LOGPROBS], GW_JT_TRUE)) {
        gc_key(c, &open, "responseLogprobs");
        gw_jw_bool(&c->w, true);
        if (p->top_logprobs) {
            gc_key(c, &open, "logprobs");
            gw_jw_uint(&c->w, p->top_logprobs);
        }
    }
    if (p->mime) {
        gc_key(c, &open, "responseMimeType");
        gw_jw_cstr(&c->w, p->mime);
    }
    if (p->schema.found) {
        gc_key(c, &open, "responseJsonSchema");
        gw_jw_raw(&c->w, p->schema.raw.ptr, p->schema.raw.len);
    }
    if (p->thinking_budget >= 0) {
        gc_key(c, &open, "thinkingConfig");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "thinkingBudget");
        gw_jw_int(&c->w, p->thinking_budget);
        gw_jw_obj_end(&c->w);
    }
    if (open)
        gw_jw_obj_end(&c->w);
    return 0;
}

/* Checks the request's scalars (gw_oreq_chat read them) and fills *p; 0 or -1 with *err (400). */
static int plan_request(const struct gw_jv *v, struct req_plan *p, struct gw_xlate_err *err)
{
    uint64_t n;
    memset(p, 0, sizeof(*p));
    p->v = v;
    p->thinking_budget = -1;
    static const enum gw_oreq_key numbers[] = {GW_RQ_TEMPERATURE, GW_RQ_TOP_P,
                                               GW_RQ_PRESENCE_PENALTY, GW_RQ_FREQUENCY_PENALTY};
    static const enum gw_oreq_key bools[] = {GW_RQ_PARALLEL_TOOL_CALLS, GW_RQ_LOGPROBS};
    if (gw_oreq_refuse(v, refused, GW_ARRAY_SIZE(refused), err) != 0 ||
        gw_oreq_text_only(v, err) != 0)
        return -1;
    if (v[GW_RQ_N].found && (!gw_jv_u64(&v[GW_RQ_N], &n) || n < 1 || n > GW_GEMINI_MAX_CANDIDATES))
        return gw_xlate_fail(err, "n", "n must be an integer from 1 to %d",
                             GW_GEMINI_MAX_CANDIDATES);
    if (gw_oreq_max_tokens(&v[GW_RQ_MAX_TOKENS], &v[GW_RQ_MAX_COMPLETION_TOKENS], &p->max, err) !=
            0 ||
        gw_oreq_numbers(v, numbers, GW_ARRAY_SIZE(numbers), err) != 0)
        return -1;
    if (v[GW_RQ_TOP_K].found && !gw_jv_u64(&v[GW_RQ_TOP_K], &n))
        return gw_xlate_fail(err, "top_k", "must be a non-negative integer");
    if (v[GW_RQ_SEED].found && !gw_jv_is_int(&v[GW_RQ_SEED]))
        return gw_xlate_fail(err, "seed", "must be an integer");
    if (gw_oreq_bools(v, bools, GW_ARRAY_SIZE(bools), err) != 0)
        return -1;
    if (v[GW_RQ_STOP].found && (p->nstop = gw_oreq_stop(&v[GW_RQ_STOP], 5, err)) < 0)
        return -1;
    if (v[GW_RQ_TOP_LOGPROBS].found) {
        if (!gw_jv_u64(&v[GW_RQ_TOP_LOGPROBS], &p->top_logprobs) || p->top_logprobs > 20)
            return gw_xlate_fail(err, "top_logprobs",
                                 "top_logprobs must be an integer from 0 to 20");
        if (!gw_jv_is(&v[GW_RQ_LOGPROBS], GW_JT_TRUE))
            return gw_xlate_fail(err, "top_logprobs", "top_logprobs needs logprobs set to true");
    }
    if (v[GW_RQ_REASONING_EFFORT].found) {
        static const struct {
            const char *effort;
            long budget;
        } efforts[] = {
            {"none", 0}, {"minimal", 1024}, {"low", 1024}, {"medium", 8192}, {"high", 24576}};
        for (size_t i = 0; i < GW_ARRAY_SIZE(efforts) && p->thinking_budget < 0; i++)
            if (gw_jv_streq(&v[GW_RQ_REASONING_EFFORT], efforts[i].effort))
                p->thinking_budget = efforts[i].budget;
        if (p->thinking_budget < 0)
            return gw_xlate_fail(err, "reasoning_effort",
                                 "reasoning_effort must be none, minimal, low, medium or high");
    }
    if (v[GW_RQ_RESPONSE_FORMAT].found) {
        static const char *const fk[] = {"type", "json_schema"};
        static const char *const sk[] = {"schema"};
        struct gw_jv fv[2], sv[1];
        if (gw_jv_scan_obj(&v[GW_RQ_RESPONSE_FORMAT], fk, 2, fv) != 0)
            return gw_xlate_fail(err, "response_format", "response_format must be an object");
        if (gw_jv_streq(&fv[0], "json_object")) {
            p->mime = "application/json";
        } else if (gw_jv_streq(&fv[0], "json_schema")) {
            if (gw_jv_scan_obj(&fv[1], sk, 1, sv) != 0)
                return gw_xlate_fail(err, "response_format",
                                     "response_format json_schema needs a json_schema object");
            if (sv[0].found && !gw_jv_is(&sv[0], GW_JT_OBJ_BEGIN))
                return gw_xlate_fail(err, "response_format",
                                     "json_schema.schema must be a JSON Schema");
            p->mime = "application/json";
            p->schema = sv[0];
        } else if (!gw_jv_streq(&fv[0], "text")) {
            return gw_xlate_fail(err, "response_format",
                                 "response_format type must be text, json_object or json_schema");
        }
    }
    return 0;
}

/* One render of the request body into c->w; 0, or -1 with the error set (400/500). */
static int render_request(struct bctx *c, const struct req_plan *p, bool *tools_out)
{
    const struct gw_jv *v = p->v;
    c->open = 0;
    c->any = false;
    c->calls.n = 0;
    c->nresults = 0;
    gw_jw_obj_begin(&c->w);
    if (write_contents(c, &v[GW_RQ_MESSAGES]) != 0 || write_system(c, &v[GW_RQ_MESSAGES]) != 0)
        return -1;
    size_t ntools = 0;
    if (v[GW_RQ_TOOLS].found && write_tools(c, &v[GW_RQ_TOOLS], &ntools) != 0)
        return -1;
    *tools_out = ntools > 0;
    if (write_tool_choice(c, &v[GW_RQ_TOOL_CHOICE], ntools > 0) != 0)
        return -1;
    if (write_generation_config(c, p) != 0)
        return -1;
    gw_oreq_mock(&c->w, &v[GW_RQ_MOCK]);
    gw_jw_obj_end(&c->w);
    return 0;
}

/* Percent-encodes s outside RFC 3986's unreserved characters into out (3 * len + 1). */
static size_t pct_encode(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[k++] = (char)ch;
        } else {
            out[k++] = '%';
            out[k++] = hex[ch >> 4];
            out[k++] = hex[ch & 15];
        }
    }
    out[k] = '\0';
    return k;
}

/*
 * The upstream model (gw_oreq_model_name), a leading "models/" resource
 * prefix dropped: the path adds its own. 0, or -1 with *err.
 */
static int model_name(const struct gw_xlate *x, const struct gw_jv *body_model, const char **m,
                      size_t *n, struct gw_xlate_err *err)
{
    if (gw_oreq_model_name(x, body_model, m, n, err) != 0)
        return -1;
    if (*n > 7 && memcmp(*m, "models/", 7) == 0) {
        *m += 7;
        *n -= 7;
    }
    return 0;
}

/* out->path and out->headers for model m[0..n) and the method suffix (":generateContent"). */
static int path_and_headers(const struct gw_xlate *x, const char *m, size_t n, const char *method,
                            struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    static const char prefix[] = "/" GW_GEMINI_API_VERSION "/models/";
    size_t cap = sizeof(prefix) + 3 * n + strlen(method) + 1;
    char *path = gw_arena_alloc(x->arena, cap);
    if (!path)
        return gw_xlate_fail_mem(err);
    memcpy(path, prefix, sizeof(prefix) - 1);
    size_t k = sizeof(prefix) - 1;
    k += pct_encode(m, n, path + k);
    memcpy(path + k, method, strlen(method) + 1);
    out->path = path;
    return gw_oreq_key_header(x, "x-goog-api-key", "", out, err);
}

static const char warn_parallel[] =
    "parallel_tool_calls=false is not enforced: Gemini has no switch for it";

int gw_gemini_build_request(const struct gw_xlate *x, const char *body, size_t len,
                            struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    struct gw_jv v[GW_RQ_COUNT];
    struct req_plan p;
    const char *model;
    size_t mlen;
    if (gw_oreq_chat(body, len, v, out, err) != 0 || plan_request(v, &p, err) != 0 ||
        model_name(x, &v[GW_RQ_MODEL], &model, &mlen, err) != 0)
        return -1;

    /* Strings are copied raw or get shorter when decoded; what can grow (a
     * tool's name repeated per tool result) is handled by rendering again,
     * into a buffer twice as large, until the limit: past it, 400. Each
     * attempt also takes its own scratch (decoded tool results), under the
     * request's length; there are at most 2 + log2(limit / first) attempts. */
    struct bctx c = {.a = x->arena, .err = err};
    struct gw_xbound b;
    bool tools = false;
    gw_xbound_init(&b, x, len, 0);
    for (;;) {
        char *obuf = gw_xbound_buf(&b, x->arena, 2 * len + 1024, err);
        if (!obuf)
            return -1;
        gw_jw_init(&c.w, obuf, b.cap);
        if (render_request(&c, &p, &tools) != 0)
            return -1;
        if (!c.w.overflow) {
            out->body = gw_span_make(obuf, c.w.len);
            break;
        }
    }
    if (tools && gw_jv_is(&v[GW_RQ_PARALLEL_TOOL_CALLS], GW_JT_FALSE))
        out->warning = warn_parallel;
    return path_and_headers(x, model, mlen,
                            x->stream ? ":streamGenerateContent?alt=sse" : ":generateContent", out,
                            err);
}

/* ---- response: Gemini -> OpenAI ---- */

/* finishReason values that mean the output was filtered. */
static const char *const filtered[] = {"SAFETY",
                                       "RECITATION",
                                       "BLOCKLIST",
                                       "PROHIBITED_CONTENT",
                                       "SPII",
                                       "IMAGE_SAFETY",
                                       "IMAGE_PROHIBITED_CONTENT",
                                       "IMAGE_RECITATION"};

static const char *finish_reason(const struct gw_jv *fr, bool called)
{
    if (gw_jv_streq(fr, "MAX_TOKENS"))
        return "length";
    for (size_t i = 0; i < GW_ARRAY_SIZE(filtered); i++)
        if (gw_jv_streq(fr, filtered[i]))
            return "content_filter";
    return called ? "tool_calls" : "stop"; /* STOP, absent, and the rest (see the top) */
}

/*
 * usageMetadata -> OpenAI's usage: prompt = promptTokenCount +
 * toolUsePromptTokenCount, completion = candidatesTokenCount +
 * thoughtsTokenCount (the latter also as reasoning), cached =
 * cachedContentTokenCount. Absent counters are 0 (proto3 JSON leaves zeros
 * out); *u says have even when um is absent.
 */
static void read_usage(const struct gw_jv *um, struct gw_xlate_usage *u)
{
    static const char *const k[] = {"promptTokenCount", "toolUsePromptTokenCount",
                                    "cachedContentTokenCount", "candidatesTokenCount",
                                    "thoughtsTokenCount"};
    struct gw_jv uv[5];
    uint64_t n[5] = {0};
    if (gw_jv_scan_obj(um, k, 5, uv) == 0)
        for (size_t i = 0; i < 5; i++)
            (void)gw_jv_u64(&uv[i], &n[i]);
    *u = (struct gw_xlate_usage){
        .prompt_tokens = gw_xlate_tokens_add(n[0], n[1]),
        .completion_tokens = gw_xlate_tokens_add(n[3], n[4]),
        /* Never more cached than prompt tokens: a spend calculation subtracts them. */
        .cached_tokens = GW_MIN(n[2], gw_xlate_tokens_add(n[0], n[1])),
        .reasoning_tokens = n[4],
        .have = true,
    };
}

static const char *const fc_keys[] = {"name", "args", "id"};
enum { FK_NAME, FK_ARGS, FK_ID, FK_COUNT };

/* The room tool_call's generated ids take: "call_", 120 bytes of request id, "_", a u32. */
#define CALL_ID_CAP 160

/*
 * A functionCall (fv: fc_keys, name checked by the caller) as an OpenAI tool
 * call: the part's own id, else "call_<request_id>_<n>" (n from *ids) in
 * idbuf, which must outlive the call's use; args as a JSON string ("{}"
 * when absent).
 */
static struct gw_oai_call tool_call(const struct gw_xlate *x, const struct gw_jv *fv, uint32_t *ids,
                                    char *idbuf, size_t idcap, long index)
{
    struct gw_oai_call c = {.index = index, .name = fv[FK_NAME].raw, .args_text = true};
    if (gw_jv_is(&fv[FK_ID], GW_JT_STRING) && fv[FK_ID].str.len) {
        c.id = fv[FK_ID].raw;
    } else {
        int n = snprintf(idbuf, idcap, "call_%.120s_%u", x->request_id ? x->request_id : "",
                         (unsigned)(*ids)++);
        c.id = gw_span_make(idbuf, (size_t)GW_MAX(n, 0));
        c.id_text = true;
    }
    if (gw_jv_is(&fv[FK_ARGS], GW_JT_OBJ_BEGIN))
        c.args = fv[FK_ARGS].raw;
    return c;
}

/* A token's UTF-8 bytes as OpenAI's "bytes" array; tok is the raw string text. */
static int write_token(struct gw_jw *w, struct gw_arena *a, const struct gw_jv *cand)
{
    static const char *const k[] = {"token", "logProbability"};
    struct gw_jv v[2];
    size_t n;
    if (gw_jv_scan_obj(cand, k, 2, v) != 0 || !gw_jv_is(&v[0], GW_JT_STRING))
        return -1;
    const char *tok = gw_jv_unesc(a, v[0].str, &n);
    if (!tok)
        return -1;
    gw_jw_key(w, "token");
    gw_jw_raw(w, v[0].raw.ptr, v[0].raw.len);
    gw_jw_key(w, "logprob");
    if (gw_jv_is(&v[1], GW_JT_NUMBER))
        gw_jw_raw(w, v[1].raw.ptr, v[1].raw.len);
    else
        gw_jw_uint(w, 0);
    gw_jw_key(w, "bytes");
    gw_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        gw_jw_uint(w, (unsigned char)tok[i]);
    gw_jw_arr_end(w);
    return 0;
}

/*
 * A candidate's logprobsResult {chosenCandidates[], topCandidates[]} ->
 * OpenAI's {"content":[{token,logprob,bytes,top_logprobs}],"refusal":null}.
 * -1 when it is not that shape.
 */
static int write_logprobs(struct gw_jw *w, struct gw_arena *a, const struct gw_jv *lr)
{
    static const char *const k[] = {"chosenCandidates", "topCandidates"};
    static const char *const tk[] = {"candidates"};
    struct gw_jv v[2], chosen, top, tv[1], alt;
    struct gw_jv_it ci, ti, ai;
    bool have_top;
    int r;
    if (gw_jv_scan_obj(lr, k, 2, v) != 0 || gw_jv_arr_begin(&ci, &v[0]) != 0)
        return -1;
    have_top = gw_jv_arr_begin(&ti, &v[1]) == 0;
    gw_oai_logprobs_begin(w);
    while ((r = gw_jv_arr_next(&ci, &chosen)) == 1) {
        gw_jw_obj_begin(w);
        if (write_token(w, a, &chosen) != 0)
            return -1;
        gw_jw_key(w, "top_logprobs");
        gw_jw_arr_begin(w);
        if (have_top && gw_jv_arr_next(&ti, &top) == 1 && gw_jv_scan_obj(&top, tk, 1, tv) == 0 &&
            gw_jv_arr_begin(&ai, &tv[0]) == 0) {
            while (gw_jv_arr_next(&ai, &alt) == 1) {
                gw_jw_obj_begin(w);
                if (write_token(w, a, &alt) != 0)
                    return -1;
                gw_jw_obj_end(w);
            }
        }
        gw_jw_arr_end(w);
        gw_jw_obj_end(w);
    }
    if (r != 0)
        return -1;
    gw_oai_logprobs_end(w);
    return 0;
}

static const char *const cand_keys[] = {"content", "finishReason", "index", "logprobsResult"};
enum { CK_CONTENT, CK_FINISH, CK_INDEX, CK_LOGPROBS, CK_COUNT };
static const char *const part_keys[] = {"text", "thought", "functionCall"};
enum { PK_TEXT, PK_THOUGHT, PK_CALL, PK_COUNT };

/* The parts array of a candidate's content (found false when there is none). */
static int cand_parts(const struct gw_jv *cv, struct gw_jv *parts)
{
    static const char *const k[] = {"parts"};
    memset(parts, 0, sizeof(*parts));
    if (!cv[CK_CONTENT].found)
        return 0;
    if (gw_jv_scan_obj(&cv[CK_CONTENT], k, 1, parts) != 0)
        return -1;
    return !parts->found || gw_jv_is(parts, GW_JT_ARR_BEGIN) ? 0 : -1;
}

/* A functionCall part's fields into fv (fc_keys); -1 when it is not an object with a name. */
static int read_call(const struct gw_jv *call, struct gw_jv *fv)
{
    return gw_jv_scan_obj(call, fc_keys, FK_COUNT, fv) == 0 && gw_jv_is(&fv[FK_NAME], GW_JT_STRING)
               ? 0
               : -1;
}

/*
 * One candidate -> one OpenAI choice. text is scratch for the decoded text
 * (as long as the whole body). -1 when the candidate is malformed.
 */
static int write_choice(struct gw_jw *w, const struct gw_xlate *x, const struct gw_jv *cand,
                        uint64_t pos, struct gw_oai_text *text, uint32_t *ids)
{
    struct gw_jv cv[CK_COUNT], parts, part, pv[PK_COUNT], fv[FK_COUNT];
    struct gw_jv_it it;
    bool called = false;
    int r;
    text->len = 0;
    text->have = false;
    if (gw_jv_scan_obj(cand, cand_keys, CK_COUNT, cv) != 0 || cand_parts(cv, &parts) != 0)
        return -1;
    if (parts.found) {
        if (gw_jv_arr_begin(&it, &parts) != 0)
            return -1;
        while ((r = gw_jv_arr_next(&it, &part)) == 1) {
            if (gw_jv_scan_obj(&part, part_keys, PK_COUNT, pv) != 0)
                return -1;
            if (gw_jv_is(&pv[PK_THOUGHT], GW_JT_TRUE))
                continue;
            if (gw_jv_is(&pv[PK_TEXT], GW_JT_STRING)) {
                if (gw_oai_text_add(text, pv[PK_TEXT].str) != 0)
                    return -1;
            } else if (pv[PK_CALL].found) {
                if (read_call(&pv[PK_CALL], fv) != 0)
                    return -1;
                called = true;
            }
        }
        if (r != 0)
            return -1;
    }
    uint64_t index = pos;
    if (cv[CK_INDEX].found && !gw_jv_u64(&cv[CK_INDEX], &index))
        return -1;
    gw_oai_choice_begin(w, index);
    gw_oai_message_content(w, text, called);
    if (called) {
        (void)gw_jv_arr_begin(&it, &parts); /* read once above */
        while (gw_jv_arr_next(&it, &part) == 1) {
            if (gw_jv_scan_obj(&part, part_keys, PK_COUNT, pv) != 0 || !pv[PK_CALL].found ||
                gw_jv_is(&pv[PK_THOUGHT], GW_JT_TRUE) || read_call(&pv[PK_CALL], fv) != 0)
                continue;
            char id[CALL_ID_CAP];
            struct gw_oai_call c = tool_call(x, fv, ids, id, sizeof(id), -1);
            gw_oai_tool_call(w, &c);
        }
        gw_jw_arr_end(w);
    }
    gw_oai_message_end(w);
    bool logprobs = cv[CK_LOGPROBS].found;
    if (logprobs) {
        gw_jw_key(w, "logprobs");
        if (write_logprobs(w, x->arena, &cv[CK_LOGPROBS]) != 0)
            return -1;
    }
    gw_oai_choice_end(w, logprobs, finish_reason(&cv[CK_FINISH], called));
    return 0;
}

/* A choice for a prompt Gemini blocked: no content, finish_reason content_filter. */
static void write_blocked_choice(struct gw_jw *w)
{
    gw_oai_choice_begin(w, 0);
    gw_jw_key(w, "content");
    gw_jw_null(w);
    gw_oai_message_end(w);
    gw_oai_choice_end(w, false, "content_filter");
}

static const char *const resp_keys[] = {"candidates", "promptFeedback", "usageMetadata"};
enum { RSK_CANDIDATES, RSK_FEEDBACK, RSK_USAGE, RSK_COUNT };

/*
 * One render of the chat.completion, handed back in *out and *u_out: 0, 1
 * when the writer overflowed, -1 when malformed.
 */
static int render_response(struct gw_jw *w, const struct gw_xlate *x, const struct gw_jv *v,
                           struct gw_oai_text *text, const struct gw_xlate_usage *u,
                           struct gw_span *out, struct gw_xlate_usage *u_out)
{
    struct gw_jv_it it;
    struct gw_jv cand;
    uint32_t ids = 0;
    uint64_t pos = 0;
    int r;
    gw_oai_completion_begin(w, x);
    if (v[RSK_CANDIDATES].found) {
        if (gw_jv_arr_begin(&it, &v[RSK_CANDIDATES]) != 0)
            return -1;
        while ((r = gw_jv_arr_next(&it, &cand)) == 1)
            if (write_choice(w, x, &cand, pos++, text, &ids) != 0)
                return -1;
        if (r != 0)
            return -1;
    }
    if (pos == 0)
        write_blocked_choice(w); /* promptFeedback.blockReason, or nothing came back */
    return gw_oai_completion_close(w, u, out, u_out) != 0 ? 1 : 0;
}

int gw_gemini_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                 struct gw_span *out, struct gw_xlate_usage *u)
{
    struct gw_jv v[RSK_COUNT];
    *out = GW_SPAN_NULL;
    if (!body || gw_jv_scan(gw_span_make(body, len), resp_keys, RSK_COUNT, v) != 0)
        return -1;
    if (v[RSK_CANDIDATES].found && !gw_jv_is(&v[RSK_CANDIDATES], GW_JT_ARR_BEGIN))
        return -1;
    /* Neither candidates nor promptFeedback: not a GenerateContentResponse. */
    if (!v[RSK_CANDIDATES].found && !gw_jv_is(&v[RSK_FEEDBACK], GW_JT_OBJ_BEGIN))
        return -1;
    struct gw_oai_text text;
    if (gw_oai_text_init(&text, x->arena, len) != 0)
        return -1;
    /* The upstream's answer, not the client's request: only the absolute
     * limit applies (what grows, a generated id per function call, is at
     * most a few times the part it comes from). Doubling up to it keeps the
     * arena under twice the last buffer. */
    size_t fixed = gw_oai_head_room(x);
    struct gw_xbound b;
    struct gw_xlate_err unused;
    struct gw_xlate_usage g;
    read_usage(&v[RSK_USAGE], &g);
    gw_xbound_init(&b, x, len, SIZE_MAX);
    for (;;) {
        char *obuf = gw_xbound_buf(&b, x->arena, 2 * len + fixed, &unused);
        if (!obuf)
            return -1;
        struct gw_jw w;
        gw_jw_init(&w, obuf, b.cap);
        int r = render_response(&w, x, v, &text, &g, out, u);
        if (r <= 0)
            return r;
    }
}

/* ---- errors ---- */

struct err_map {
    const char *gstatus; /* google.rpc.Code name, Gemini's error.status */
    int status;          /* the status the client sees */
    const char *type;    /* OpenAI error.type */
    const char *code;    /* OpenAI error.code, or NULL */
};

/* https://ai.google.dev/gemini-api/docs/troubleshooting (error codes). */
static const struct err_map err_maps[] = {
    {"INVALID_ARGUMENT", 400, "invalid_request_error", NULL},
    {"FAILED_PRECONDITION", 400, "invalid_request_error", NULL},
    {"OUT_OF_RANGE", 400, "invalid_request_error", NULL},
    {"UNAUTHENTICATED", 401, "invalid_request_error", "invalid_api_key"},
    {"PERMISSION_DENIED", 403, "permission_error", NULL},
    {"NOT_FOUND", 404, "invalid_request_error", "not_found"},
    {"RESOURCE_EXHAUSTED", 429, "rate_limit_error", "rate_limit_exceeded"},
    {"INTERNAL", 500, "server_error", NULL},
    {"UNAVAILABLE", 503, "server_error", "service_unavailable"},
    {"DEADLINE_EXCEEDED", 504, "server_error", "timeout"},
};

/* An invalid key: 400 INVALID_ARGUMENT with an ErrorInfo whose reason is API_KEY_INVALID. */
static const struct err_map key_invalid = {"API_KEY_INVALID", 401, "invalid_request_error",
                                           "invalid_api_key"};

static bool key_is_invalid(const struct gw_jv *details)
{
    static const char *const k[] = {"reason"};
    struct gw_jv_it it;
    struct gw_jv d, reason;
    if (gw_jv_arr_begin(&it, details) != 0)
        return false;
    while (gw_jv_arr_next(&it, &d) == 1)
        if (gw_jv_scan_obj(&d, k, 1, &reason) == 0 && gw_jv_streq(&reason, "API_KEY_INVALID"))
            return true;
    return false;
}

/*
 * The Gemini error object err_obj {"code","message","status","details"} (may
 * be absent) as OpenAI's error, falling back to the HTTP `status` (the
 * message naming it goes in buf); *out_status (may be NULL): the status the
 * client sees.
 */
static struct gw_oai_error map_error(const struct gw_jv *err_obj, int status, int *out_status,
                                     char *buf, size_t cap)
{
    static const char *const ek[] = {"message", "status", "details"};
    struct gw_jv ev[3] = {{0}, {0}, {0}};
    const struct err_map *m = NULL;
    if (err_obj)
        (void)gw_jv_scan_obj(err_obj, ek, 3, ev);
    if (key_is_invalid(&ev[2])) {
        m = &key_invalid;
    } else {
        for (size_t i = 0; i < GW_ARRAY_SIZE(err_maps) && !m; i++)
            if (gw_jv_streq(&ev[1], err_maps[i].gstatus))
                m = &err_maps[i];
    }
    int st = m ? m->status : gw_oai_client_status(status);
    if (out_status)
        *out_status = st;
    struct gw_oai_error e = {
        .type = gw_span_cstr(m           ? m->type
                             : st >= 500 ? "server_error"
                                         : "invalid_request_error"),
        .code = m ? m->code : NULL,
    };
    if (gw_jv_is(&ev[0], GW_JT_STRING)) {
        e.message = ev[0].raw;
        e.message_json = true;
    } else {
        e.message = gw_oai_status_message(buf, cap, status);
    }
    return e;
}

int gw_gemini_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                              struct gw_arena *a, struct gw_span *out, int *out_status)
{
    (void)error_type; /* one status, one error: the body says which */
    static const char *const k[] = {"error"};
    struct gw_jv v; /* absent when the body is not Gemini's error shape */
    (void)gw_jv_scan(gw_span_make(body, len), k, 1, &v);
    char msg[64];
    int st;
    struct gw_oai_error e = map_error(&v, status, &st, msg, sizeof(msg));
    return gw_oai_error_body(a, &e, st, out, out_status);
}

/* ---- embeddings ---- */

int gw_gemini_build_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    struct gw_jv v[GW_RQ_COUNT];
    struct gw_embed_req er;
    const char *model;
    size_t mlen;
    if (gw_oreq_request(body, len, v, out, err) != 0 ||
        gw_embed_parse(x, body, len, &er, err) != 0 ||
        model_name(x, &v[GW_RQ_MODEL], &model, &mlen, err) != 0)
        return -1;

    /* Each request repeats the model ("models/{m}", escaped: at most 6x) in a
     * wrapper of its own: the configured name and the wrappers (at most
     * GW_EMBED_MAX_INPUTS) are the dialect's, not the client's, bytes. A name
     * from the body is the client's: its repetitions count against the limit. */
    size_t per = 6 * mlen + 128;
    struct gw_xbound b;
    gw_xbound_init(&b, x, len, er.n * (x->upstream_model && x->upstream_model[0] ? per : 128));
    size_t cap = len + er.n * per + (v[GW_RQ_MOCK].found ? v[GW_RQ_MOCK].raw.len : 0) + 1024;
    char *obuf = gw_xbound_buf(&b, x->arena, cap, err);
    if (!obuf)
        return -1;
    cap = b.cap;
    char *res = gw_arena_alloc(x->arena, mlen + 8);
    if (!res)
        return gw_xlate_fail_mem(err);
    memcpy(res, "models/", 7);
    memcpy(res + 7, model, mlen);
    struct gw_jw w;
    gw_jw_init(&w, obuf, cap);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "requests");
    gw_jw_arr_begin(&w);
    for (size_t i = 0; i < er.n; i++) {
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "model");
        gw_jw_str(&w, res, mlen + 7);
        gw_jw_key(&w, "content");
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "parts");
        gw_jw_arr_begin(&w);
        gw_jw_obj_begin(&w);
        gw_jw_key(&w, "text");
        gw_jw_raw(&w, er.inputs[i].ptr, er.inputs[i].len);
        gw_jw_obj_end(&w);
        gw_jw_arr_end(&w);
        gw_jw_obj_end(&w);
        if (er.dimensions > 0) {
            gw_jw_key(&w, "outputDimensionality");
            gw_jw_int(&w, er.dimensions);
        }
        gw_jw_obj_end(&w);
    }
    gw_jw_arr_end(&w);
    gw_oreq_mock(&w, &v[GW_RQ_MOCK]);
    if (gw_oreq_body_end(&w, &b, out, err) != 0)
        return -1;
    return path_and_headers(x, model, mlen, ":batchEmbedContents", out, err);
}

int gw_gemini_translate_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                                   struct gw_span *out, struct gw_xlate_usage *u)
{
    static const char *const k[] = {"embeddings"};
    static const char *const ek[] = {"values"};
    struct gw_jv v, e, ev;
    struct gw_jv_it it;
    size_t n = 0, cap = 0;
    struct gw_span *vectors = NULL;
    int r;
    *out = GW_SPAN_NULL;
    if (u)
        memset(u, 0, sizeof(*u)); /* Gemini counts no tokens for embeddings */
    if (!body || gw_jv_scan(gw_span_make(body, len), k, 1, &v) != 0 ||
        gw_jv_arr_begin(&it, &v) != 0)
        return -1;
    while ((r = gw_jv_arr_next(&it, &e)) == 1) {
        if (gw_jv_scan_obj(&e, ek, 1, &ev) != 0 || !gw_jv_is(&ev, GW_JT_ARR_BEGIN))
            return -1;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct gw_span *p = gw_arena_alloc(x->arena, ncap * sizeof(*p));
            if (!p)
                return -1;
            if (n)
                memcpy(p, vectors, n * sizeof(*p));
            vectors = p;
            cap = ncap;
        }
        vectors[n++] = ev.raw;
    }
    if (r != 0)
        return -1;
    return gw_embed_write(x, vectors, n, 0, out);
}

/* ---- stream ---- */

void gw_gemini_stream_init(struct gw_gemini_stream *s, const struct gw_xlate *x)
{
    memset(s, 0, sizeof(*s));
    s->_x = x;
    gw_oai_stream_init(&s->_oai, x);
    gw_sse_reader_init(&s->_sse, x->arena, GW_GEMINI_EVENT_MAX);
}

/* The chunk that opens choice idx: {"role":"assistant","content":""}. */
static int role_chunk(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink, unsigned idx)
{
    s->_seen |= (uint8_t)(1u << idx);
    return gw_oai_chunk_role(&s->_oai, sink, idx);
}

static int finish_chunk(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink, unsigned idx,
                        const char *finish)
{
    s->_finished |= (uint8_t)(1u << idx);
    return gw_oai_chunk_finish(&s->_oai, sink, idx, finish);
}

/* The upstream stream is broken: an error chunk naming what, and the stream ends (-1). */
static int broken(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink, const char *what)
{
    return gw_oai_stream_fail(&s->_oai, sink, what, -1);
}

/*
 * A text part's content chunk with the candidate's logprobsResult beside its
 * delta (OpenAI puts a chunk's logprobs on the choice, after the delta);
 * `extra` sizes the chunk for the event's bytes. 0, or -1.
 */
static int logprobs_chunk(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink,
                          unsigned idx, const struct gw_jv *text, const struct gw_jv *lr,
                          size_t extra)
{
    struct gw_jw *w = gw_oai_chunk_content_begin(&s->_oai, idx, text->raw, extra);
    if (!w)
        return -1;
    gw_jw_key(w, "logprobs");
    if (write_logprobs(w, s->_x->arena, lr) != 0)
        return broken(s, sink, "invalid logprobsResult in the upstream stream");
    return gw_oai_chunk_content_send(&s->_oai, sink);
}

/*
 * One candidate of an event -> chunks for choice idx: a content chunk per
 * non-empty, non-thought text part (the first carrying the event's logprobs
 * when there are any), a tool_call chunk per functionCall, a finish chunk
 * for a finishReason. Parts of a choice that has finished are ignored.
 * 0, or -1 (the error chunk written where the upstream is to blame).
 */
static int candidate(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink,
                     const struct gw_jv *cv, unsigned idx, size_t dlen)
{
    struct gw_jv parts, part, pv[PK_COUNT], fv[FK_COUNT];
    struct gw_jv_it it;
    bool logprobs = cv[CK_LOGPROBS].found;
    int r;
    uint8_t bit = (uint8_t)(1u << idx);
    if (s->_finished & bit)
        return 0;
    if (!(s->_seen & bit) && role_chunk(s, sink, idx) != 0)
        return -1;
    if (cand_parts(cv, &parts) != 0)
        return broken(s, sink, "invalid candidate content in the upstream stream");
    if (parts.found) {
        if (gw_jv_arr_begin(&it, &parts) != 0)
            return broken(s, sink, "invalid parts in the upstream stream");
        while ((r = gw_jv_arr_next(&it, &part)) == 1) {
            if (gw_jv_scan_obj(&part, part_keys, PK_COUNT, pv) != 0)
                return broken(s, sink, "invalid part in the upstream stream");
            if (gw_jv_is(&pv[PK_THOUGHT], GW_JT_TRUE))
                continue;
            bool text = gw_jv_is(&pv[PK_TEXT], GW_JT_STRING) && pv[PK_TEXT].str.len > 0;
            if (!text && !pv[PK_CALL].found)
                continue; /* empty text, and part kinds OpenAI has no delta for */
            if (pv[PK_CALL].found && read_call(&pv[PK_CALL], fv) != 0)
                return broken(s, sink, "invalid functionCall in the upstream stream");
            int sent;
            if (text && logprobs) {
                /* A token's "bytes" take up to 4 characters per byte, for chosen and top. */
                sent = logprobs_chunk(s, sink, idx, &pv[PK_TEXT], &cv[CK_LOGPROBS], 6 * dlen);
                logprobs = false;
            } else if (text) {
                sent = gw_oai_chunk_content(&s->_oai, sink, idx, pv[PK_TEXT].raw);
            } else {
                char id[CALL_ID_CAP];
                struct gw_oai_call c =
                    tool_call(s->_x, fv, &s->_ids, id, sizeof(id), (long)s->_tool_count[idx]++);
                s->_called |= bit;
                sent = gw_oai_chunk_tool_call(&s->_oai, sink, idx, &c);
            }
            if (sent != 0)
                return -1;
        }
        if (r != 0)
            return broken(s, sink, "invalid parts in the upstream stream");
    }
    if (cv[CK_FINISH].found)
        return finish_chunk(s, sink, idx, finish_reason(&cv[CK_FINISH], (s->_called & bit) != 0));
    return 0;
}

static const char *const ev_keys[] = {"candidates", "promptFeedback", "usageMetadata", "error"};
enum { EK_CANDIDATES, EK_FEEDBACK, EK_USAGE, EK_ERROR, EK_COUNT };

/*
 * One complete event (a gw_oai_event_fn): its data, a
 * GenerateContentResponse or an error object -> chunks. Gemini names no
 * event types. 0, 1 (an upstream error: its chunk written, the stream
 * ended), -1.
 */
static int on_event(void *st, struct gw_span type, struct gw_span data,
                    const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    struct gw_gemini_stream *s = st;
    struct gw_jv v[EK_COUNT], cand, cv[CK_COUNT];
    struct gw_jv_it it;
    int r;
    (void)type;
    if (gw_jv_scan(data, ev_keys, EK_COUNT, v) != 0)
        return broken(s, sink, "invalid event in the upstream stream");
    if (v[EK_ERROR].found) {
        char msg[64];
        struct gw_oai_error e = map_error(&v[EK_ERROR], 500, NULL, msg, sizeof(msg));
        return gw_oai_stream_error(&s->_oai, sink, &e, 1);
    }
    if (v[EK_USAGE].found) {
        read_usage(&v[EK_USAGE], &s->_usage);
        if (u)
            *u = s->_usage;
    }
    uint64_t pos = 0;
    if (v[EK_CANDIDATES].found) {
        if (gw_jv_arr_begin(&it, &v[EK_CANDIDATES]) != 0)
            return broken(s, sink, "invalid candidates in the upstream stream");
        while ((r = gw_jv_arr_next(&it, &cand)) == 1) {
            uint64_t idx = pos++;
            if (gw_jv_scan_obj(&cand, cand_keys, CK_COUNT, cv) != 0 ||
                (cv[CK_INDEX].found && !gw_jv_u64(&cv[CK_INDEX], &idx)))
                return broken(s, sink, "invalid candidate in the upstream stream");
            if (idx >= GW_GEMINI_MAX_CANDIDATES)
                return broken(s, sink, "candidate index over 7 in the upstream stream");
            if (candidate(s, sink, cv, (unsigned)idx, data.len) != 0)
                return -1;
        }
        if (r != 0)
            return broken(s, sink, "invalid candidates in the upstream stream");
    }
    /* A blocked prompt: no candidate, a promptFeedback.blockReason. */
    static const char *const fk[] = {"blockReason"};
    struct gw_jv block;
    if (pos == 0 && gw_jv_scan_obj(&v[EK_FEEDBACK], fk, 1, &block) == 0 && block.found &&
        !(s->_finished & 1u)) {
        if (!(s->_seen & 1u) && role_chunk(s, sink, 0) != 0)
            return -1;
        return finish_chunk(s, sink, 0, "content_filter");
    }
    return 0;
}

int gw_gemini_stream_feed(struct gw_gemini_stream *s, const char *data, size_t len,
                          const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    return gw_oai_stream_feed_sse(&s->_oai, &s->_sse, data, len, on_event, s, sink, u);
}

int gw_gemini_stream_end(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink,
                         struct gw_xlate_usage *u)
{
    struct gw_oai_stream *o = &s->_oai;
    if (o->done || !s->_seen || (s->_finished & s->_seen) != s->_seen)
        return gw_oai_stream_cut(o, sink, "upstream stream ended before a finishReason");
    if (s->_usage.have && u)
        *u = s->_usage;
    return gw_oai_stream_finish(o, sink, &s->_usage);
}

/* ---- the dialect table ---- */

GW_DIALECT_STREAM_FNS(gemini)

const struct gw_dialect gw_dialect_gemini = {
    .name = "gemini",
    .build_request = gw_gemini_build_request,
    .translate_response = gw_gemini_translate_response,
    .translate_error = gw_gemini_translate_error,
    .stream_ctype = NULL, /* text/event-stream (alt=sse) */
    .build_embeddings = gw_gemini_build_embeddings,
    .translate_embeddings = gw_gemini_translate_embeddings,
    .stream_size = sizeof(struct gw_gemini_stream),
    .stream_init = gemini_stream_init_v,
    .stream_feed = gemini_stream_feed_v,
    .stream_end = gemini_stream_end_v,
};
