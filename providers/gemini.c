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
 * already escaped text whenever they pass through unchanged); the OpenAI side
 * is written by providers/oai.h, events are framed by core/sse.h's reader.
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
#include "providers/xbound.h"
#include "providers/xlate.h"

/* The characters Gemini's function names take beyond OpenAI's [a-zA-Z0-9_-]. */
#define NAME_EXTRA ".:"

static size_t strlen0(const char *s)
{
    return s ? strlen(s) : 0;
}

/* True when s[0..n) starts with p, ignoring ASCII case (URL schemes, ";base64,"). */
static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && strncasecmp(s, p, k) == 0;
}

/* ---- request: OpenAI -> Gemini ---- */

/* What the content being written is: a message's turn, or tool results merged into one. */
enum grp { G_NONE = 0, G_USER, G_MODEL, G_TOOL };

/* An assistant tool call seen so far: what a later tool message's tool_call_id resolves to. */
struct call_ref {
    struct gw_span id;   /* raw (escaped) text of the id string, as sent */
    struct gw_span name; /* the function name's string token, quotes included */
};

struct bctx {
    struct gw_jw w;
    struct gw_arena *a;
    struct gw_xlate_err *err;
    enum grp open;          /* the content whose parts array is open */
    bool any;               /* a content has been written */
    struct call_ref *calls; /* arena; kept across render attempts */
    size_t ncalls, calls_cap;
    size_t nresults; /* tool results written (GW_XBOUND_TOOL_CALLS_MAX) */
    size_t msg;      /* index in messages of the message being written */
};

static void close_content(struct bctx *c)
{
    if (c->open == G_NONE)
        return;
    gw_jw_arr_end(&c->w);
    gw_jw_obj_end(&c->w);
    c->open = G_NONE;
}

/*
 * Opens a content of group g for the next part unless one is open: a content
 * is written only once it has a part (Gemini refuses empty parts arrays), and
 * tool results after each other share one user content (parallel results).
 */
static void begin_part(struct bctx *c, enum grp g)
{
    if (c->open == g)
        return;
    close_content(c);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "role");
    gw_jw_cstr(&c->w, g == G_MODEL ? "model" : "user");
    gw_jw_key(&c->w, "parts");
    gw_jw_arr_begin(&c->w);
    c->open = g;
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

/* A data:<mime>;base64,<data> URL u[0..n) -> an inlineData part; -1 (400) when it is not one. */
static int data_url_part(struct bctx *c, const char *u, size_t n, const char *param)
{
    const char *semi = memchr(u, ';', n);
    if (!semi || semi == u + 5 || !has_prefix(semi, n - (size_t)(semi - u), ";base64,"))
        return gw_xlate_fail(c->err, param, "data URLs must be data:<media type>;base64,<data>");
    const char *data = semi + 8;
    inline_part(c, gw_span_make(u + 5, (size_t)(semi - (u + 5))),
                gw_span_make(data, n - (size_t)(data - u)), false);
    return 0;
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
    static const char *const pk[] = {"image_url"};
    static const char *const uk[] = {"url"};
    struct gw_jv iu, url;
    if (gw_jv_scan(part->raw, pk, 1, &iu) != 0)
        return gw_xlate_fail(c->err, "messages", "invalid content part");
    if (gw_jv_is(&iu, GW_JT_STRING))
        url = iu;
    else if (gw_jv_scan_obj(&iu, uk, 1, &url) != 0)
        return gw_xlate_fail(c->err, "messages", "image_url part needs image_url.url");
    if (!gw_jv_is(&url, GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages", "image_url part needs image_url.url");
    size_t n;
    const char *u = gw_jv_unesc(c->a, url.str, &n);
    if (!u)
        return gw_xlate_fail_mem(c->err);
    if (has_prefix(u, n, "data:"))
        return data_url_part(c, u, n, "messages");
    if (!has_prefix(u, n, "https://") && !has_prefix(u, n, "http://"))
        return gw_xlate_fail(c->err, "messages", "image URLs must be http(s) or data: URLs");
    const char *type = url_image_type(u, n);
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "fileData");
    gw_jw_obj_begin(&c->w);
    if (type) {
        gw_jw_key(&c->w, "mimeType");
        gw_jw_cstr(&c->w, type);
    }
    gw_jw_key(&c->w, "fileUri");
    gw_jw_str(&c->w, u, n);
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
    if (!u)
        return gw_xlate_fail_mem(c->err);
    if (!has_prefix(u, n, "data:"))
        return gw_xlate_fail(c->err, "messages", "file.file_data must be a data: URL");
    return data_url_part(c, u, n, "messages");
}

/*
 * One OpenAI content part of a user (user true) or assistant message -> a
 * part in a content of group g. Empty text parts are dropped (Gemini refuses
 * empty text), and so are refusal parts.
 */
static int write_part(struct bctx *c, enum grp g, const struct gw_jv *part, bool user)
{
    static const char *const k[] = {"type", "text"};
    struct gw_jv v[2];
    if (!gw_jv_is(part, GW_JT_OBJ_BEGIN) || gw_jv_scan(part->raw, k, 2, v) != 0)
        return gw_xlate_fail(c->err, "messages", "content parts must be objects");
    if (gw_jv_streq(&v[0], "text")) {
        if (!gw_jv_is(&v[1], GW_JT_STRING))
            return gw_xlate_fail(c->err, "messages", "text part needs a string text");
        if (v[1].str.len == 0)
            return 0;
        begin_part(c, g);
        text_part(c, &v[1]);
        return 0;
    }
    if (gw_jv_streq(&v[0], "refusal"))
        return 0; /* an earlier refusal carries nothing the model needs */
    bool image = gw_jv_streq(&v[0], "image_url"), audio = gw_jv_streq(&v[0], "input_audio"),
         file = gw_jv_streq(&v[0], "file");
    if (!image && !audio && !file)
        return gw_xlate_fail(c->err, "messages",
                             "content part type not supported by this provider");
    if (!user)
        return gw_xlate_fail(c->err, "messages",
                             "image, audio and file parts are only accepted in user messages");
    begin_part(c, g);
    return image ? image_part(c, part) : audio ? audio_part(c, part) : file_part(c, part);
}

/* Content (string or parts) of a user or assistant message. */
static int write_content(struct bctx *c, enum grp g, const struct gw_jv *content)
{
    if (gw_jv_is(content, GW_JT_STRING)) {
        if (content->str.len) {
            begin_part(c, g);
            text_part(c, content);
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
            if (write_part(c, g, &part, g == G_USER) != 0)
                return -1;
        return r == 0 ? 0 : gw_xlate_fail(c->err, "messages", "invalid content");
    }
    if (!content->found && g == G_MODEL)
        return 0;
    return gw_xlate_fail(c->err, "messages",
                         "message content must be a string or an array of parts");
}

static int remember_call(struct bctx *c, struct gw_span id, struct gw_span name)
{
    if (c->ncalls >= GW_XBOUND_TOOL_CALLS_MAX)
        return gw_xlate_fail(c->err, "messages", "A request may carry at most %u tool calls.",
                             (unsigned)GW_XBOUND_TOOL_CALLS_MAX);
    if (c->ncalls == c->calls_cap) {
        size_t cap = c->calls_cap ? c->calls_cap * 2 : 16;
        struct call_ref *p = gw_arena_alloc(c->a, cap * sizeof(*p));
        if (!p)
            return gw_xlate_fail_mem(c->err);
        if (c->ncalls)
            memcpy(p, c->calls, c->ncalls * sizeof(*p));
        c->calls = p;
        c->calls_cap = cap;
    }
    c->calls[c->ncalls++] = (struct call_ref){id, name};
    return 0;
}

/* Assistant tool_calls -> functionCall parts; arguments must be a JSON object. */
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
        if (!gw_jv_is(&call, GW_JT_OBJ_BEGIN) || gw_jv_scan(call.raw, ck, 3, cv) != 0)
            return gw_xlate_fail(c->err, "messages", "tool_calls entries must be objects");
        if (cv[1].found && !gw_jv_streq(&cv[1], "function"))
            return gw_xlate_fail(c->err, "messages", "only function tool calls are supported");
        if (!gw_jv_is(&cv[0], GW_JT_STRING) || gw_jv_scan_obj(&cv[2], fk, 2, fv) != 0 ||
            !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "messages",
                                 "tool_calls entries need id and function.name");
        /* Every tool result repeats this name: bounded here, before it is copied. */
        if (gw_xbound_name(fv[0].str, NAME_EXTRA, c->a, c->err,
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
        if (remember_call(c, cv[0].str, fv[0].raw) != 0)
            return -1;
        begin_part(c, G_MODEL);
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "functionCall");
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        gw_jw_key(&c->w, "args");
        gw_jw_raw(&c->w, args, alen);
        gw_jw_obj_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    return r == 0 ? 0 : gw_xlate_fail(c->err, "messages", "invalid tool_calls");
}

/*
 * Writes a tool result's FunctionResponse.response: the text itself when it
 * is a JSON object, else {"result": text}. text[0..n) is the decoded content;
 * raw, when not NULL, is its JSON string token (copied as it is).
 */
static void write_response_obj(struct bctx *c, const char *text, size_t n, const struct gw_jv *raw)
{
    size_t i = 0;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i < n && text[i] == '{' && gw_json_validate(text, n)) {
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

/* A tool message -> a functionResponse part in the (shared) tool results content. */
static int write_tool_result(struct bctx *c, const struct gw_jv *id, const struct gw_jv *content)
{
    if (!gw_jv_is(id, GW_JT_STRING))
        return gw_xlate_fail(c->err, "messages", "tool messages need tool_call_id");
    if (++c->nresults > GW_XBOUND_TOOL_CALLS_MAX)
        return gw_xlate_fail(c->err, "messages", "A request may carry at most %u tool results.",
                             (unsigned)GW_XBOUND_TOOL_CALLS_MAX);
    const struct call_ref *ref = NULL;
    for (size_t i = c->ncalls; i-- > 0;) {
        if (gw_span_eq(c->calls[i].id, id->str)) {
            ref = &c->calls[i];
            break;
        }
    }
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
    begin_part(c, G_TOOL);
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

static const char *const msg_keys[] = {"role", "content", "tool_calls", "tool_call_id"};
enum { MK_ROLE, MK_CONTENT, MK_TOOL_CALLS, MK_TOOL_CALL_ID, MK_COUNT };

static bool is_system(const struct gw_jv *role)
{
    return gw_jv_streq(role, "system") || gw_jv_streq(role, "developer");
}

static int write_contents(struct bctx *c, const struct gw_jv *msgs)
{
    struct gw_jv_it it;
    struct gw_jv m, mv[MK_COUNT];
    int r;
    if (gw_jv_arr_begin(&it, msgs) != 0)
        return gw_xlate_fail(c->err, "messages", "messages must be an array");
    gw_jw_key(&c->w, "contents");
    gw_jw_arr_begin(&c->w);
    for (c->msg = 0; (r = gw_jv_arr_next(&it, &m)) == 1; c->msg++) {
        if (!gw_jv_is(&m, GW_JT_OBJ_BEGIN) || gw_jv_scan(m.raw, msg_keys, MK_COUNT, mv) != 0)
            return gw_xlate_fail(c->err, "messages", "messages must be objects");
        const struct gw_jv *role = &mv[MK_ROLE];
        if (is_system(role))
            continue;
        bool tool = gw_jv_streq(role, "tool");
        if (!(tool && c->open == G_TOOL))
            close_content(c);
        if (gw_jv_streq(role, "user")) {
            if (write_content(c, G_USER, &mv[MK_CONTENT]) != 0)
                return -1;
        } else if (gw_jv_streq(role, "assistant")) {
            if (write_content(c, G_MODEL, &mv[MK_CONTENT]) != 0)
                return -1;
            if (mv[MK_TOOL_CALLS].found && write_tool_calls(c, &mv[MK_TOOL_CALLS]) != 0)
                return -1;
        } else if (tool) {
            if (write_tool_result(c, &mv[MK_TOOL_CALL_ID], &mv[MK_CONTENT]) != 0)
                return -1;
        } else {
            return gw_xlate_fail(c->err, "messages",
                                 "message role must be system, developer, user, assistant or tool");
        }
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "messages", "invalid messages");
    close_content(c);
    gw_jw_arr_end(&c->w);
    if (!c->any)
        return gw_xlate_fail(c->err, "messages",
                             "messages must hold a user, assistant or tool message with content");
    return 0;
}

/* System and developer messages -> systemInstruction, one text part each, in order. */
static int write_system(struct bctx *c, const struct gw_jv *msgs)
{
    struct gw_jv_it it;
    struct gw_jv m, mv[MK_COUNT];
    bool open = false;
    int r;
    if (gw_jv_arr_begin(&it, msgs) != 0)
        return gw_xlate_fail(c->err, "messages", "messages must be an array");
    while ((r = gw_jv_arr_next(&it, &m)) == 1) {
        if (gw_jv_scan(m.raw, msg_keys, MK_COUNT, mv) != 0)
            return gw_xlate_fail(c->err, "messages", "messages must be objects");
        if (!is_system(&mv[MK_ROLE]))
            continue;
        const struct gw_jv *content = &mv[MK_CONTENT];
        struct gw_jv_it pit;
        bool parts = gw_jv_is(content, GW_JT_ARR_BEGIN);
        if (!parts && !gw_jv_is(content, GW_JT_STRING))
            return gw_xlate_fail(c->err, "messages", "system message content must be text");
        if (parts && gw_jv_arr_begin(&pit, content) != 0)
            return gw_xlate_fail(c->err, "messages", "invalid system content");
        for (;;) {
            struct gw_jv text = *content;
            if (parts) {
                static const char *const pk[] = {"type", "text"};
                struct gw_jv part, pv[2];
                int pr = gw_jv_arr_next(&pit, &part);
                if (pr == 0)
                    break;
                if (pr < 0 || !gw_jv_is(&part, GW_JT_OBJ_BEGIN) ||
                    gw_jv_scan(part.raw, pk, 2, pv) != 0 || !gw_jv_streq(&pv[0], "text") ||
                    !gw_jv_is(&pv[1], GW_JT_STRING))
                    return gw_xlate_fail(c->err, "messages", "system message parts must be text");
                text = pv[1];
            }
            if (text.str.len) {
                if (!open) {
                    gw_jw_key(&c->w, "systemInstruction");
                    gw_jw_obj_begin(&c->w);
                    gw_jw_key(&c->w, "parts");
                    gw_jw_arr_begin(&c->w);
                    open = true;
                }
                text_part(c, &text);
            }
            if (!parts)
                break;
        }
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "messages", "invalid messages");
    if (open) {
        gw_jw_arr_end(&c->w);
        gw_jw_obj_end(&c->w);
    }
    return 0;
}

/* tools -> one Tool with every functionDeclaration; returns how many via *count. */
static int write_tools(struct bctx *c, const struct gw_jv *tools, size_t *count)
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
        if (!gw_jv_is(&t, GW_JT_OBJ_BEGIN) || gw_jv_scan(t.raw, tk, 2, tv) != 0)
            return gw_xlate_fail(c->err, "tools", "tools entries must be objects");
        if (!gw_jv_streq(&tv[0], "function"))
            return gw_xlate_fail(c->err, "tools",
                                 "only function tools are supported by this provider");
        if (gw_jv_scan_obj(&tv[1], fk, 3, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "tools", "function tools need function.name");
        if (fv[2].found && !gw_jv_is(&fv[2], GW_JT_OBJ_BEGIN))
            return gw_xlate_fail(c->err, "tools",
                                 "function.parameters must be a JSON Schema object");
        if (gw_xbound_name(fv[0].str, NAME_EXTRA, c->a, c->err, "tools[%zu].function.name", i) != 0)
            return -1;
        if (*count == 0) {
            gw_jw_key(&c->w, "tools");
            gw_jw_arr_begin(&c->w);
            gw_jw_obj_begin(&c->w);
            gw_jw_key(&c->w, "functionDeclarations");
            gw_jw_arr_begin(&c->w);
        }
        (*count)++;
        gw_jw_obj_begin(&c->w);
        gw_jw_key(&c->w, "name");
        gw_jw_raw(&c->w, fv[0].raw.ptr, fv[0].raw.len);
        if (gw_jv_is(&fv[1], GW_JT_STRING)) {
            gw_jw_key(&c->w, "description");
            gw_jw_raw(&c->w, fv[1].raw.ptr, fv[1].raw.len);
        }
        if (fv[2].found) {
            gw_jw_key(&c->w, "parametersJsonSchema");
            gw_jw_raw(&c->w, fv[2].raw.ptr, fv[2].raw.len);
        }
        gw_jw_obj_end(&c->w);
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "tools", "invalid tools");
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
    static const char *const ok[] = {"type", "function"};
    static const char *const fk[] = {"name"};
    const char *mode;
    struct gw_jv name = {0};
    if (!tc->found)
        return 0;
    if (gw_jv_is(tc, GW_JT_STRING)) {
        if (gw_jv_streq(tc, "auto"))
            mode = "AUTO";
        else if (gw_jv_streq(tc, "required"))
            mode = "ANY";
        else if (gw_jv_streq(tc, "none"))
            mode = "NONE";
        else
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice must be auto, required or none");
    } else if (gw_jv_is(tc, GW_JT_OBJ_BEGIN)) {
        struct gw_jv ov[2], fv[1];
        if (gw_jv_scan(tc->raw, ok, 2, ov) != 0)
            return gw_xlate_fail(c->err, "tool_choice", "invalid tool_choice");
        if (gw_jv_streq(&ov[0], "allowed_tools"))
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice allowed_tools is not supported by this provider");
        if (!gw_jv_streq(&ov[0], "function") || gw_jv_scan_obj(&ov[1], fk, 1, fv) != 0 ||
            !gw_jv_is(&fv[0], GW_JT_STRING))
            return gw_xlate_fail(c->err, "tool_choice",
                                 "tool_choice must name a function: "
                                 "{\"type\":\"function\",\"function\":{\"name\":...}}");
        if (gw_xbound_name(fv[0].str, NAME_EXTRA, c->a, c->err, "%s",
                           "tool_choice.function.name") != 0)
            return -1;
        mode = "ANY";
        name = fv[0];
    } else {
        return gw_xlate_fail(c->err, "tool_choice", "invalid tool_choice");
    }
    if (!have_tools) {
        if (strcmp(mode, "ANY") == 0)
            return gw_xlate_fail(c->err, "tool_choice", "tool_choice needs tools");
        return 0; /* auto or none without tools: nothing to configure */
    }
    gw_jw_key(&c->w, "toolConfig");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "functionCallingConfig");
    gw_jw_obj_begin(&c->w);
    gw_jw_key(&c->w, "mode");
    gw_jw_cstr(&c->w, mode);
    if (name.found) {
        gw_jw_key(&c->w, "allowedFunctionNames");
        gw_jw_arr_begin(&c->w);
        gw_jw_raw(&c->w, name.raw.ptr, name.raw.len);
        gw_jw_arr_end(&c->w);
    }
    gw_jw_obj_end(&c->w);
    gw_jw_obj_end(&c->w);
    return 0;
}

static const char *const req_keys[] = {
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "stream",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "mock",
    "logit_bias",
    "audio",
    "modalities",
    "prediction",
    "web_search_options",
    "functions",
    "function_call",
    "verbosity",
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
    RK_SEED,
    RK_PRESENCE,
    RK_FREQUENCY,
    RK_RESPONSE_FORMAT,
    RK_LOGPROBS,
    RK_TOP_LOGPROBS,
    RK_REASONING,
    RK_MOCK,
    RK_LOGIT_BIAS,
    RK_AUDIO,
    RK_MODALITIES,
    RK_PREDICTION,
    RK_WEB_SEARCH,
    RK_FUNCTIONS,
    RK_FUNCTION_CALL,
    RK_VERBOSITY,
    RK_COUNT
};

/* Fields Gemini has no way to honour: refused when present (and not null). */
static const int refused[] = {RK_AUDIO,     RK_PREDICTION,    RK_WEB_SEARCH,
                              RK_FUNCTIONS, RK_FUNCTION_CALL, RK_VERBOSITY};

/* What build_request checked before rendering, so a render attempt can be repeated. */
struct req_plan {
    const struct gw_jv *v;   /* RK_COUNT values */
    const struct gw_jv *max; /* max_completion_tokens, else max_tokens */
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

static int write_stop(struct bctx *c, bool *open, const struct gw_jv *stop)
{
    if (gw_jv_is(stop, GW_JT_STRING)) {
        gc_key(c, open, "stopSequences");
        gw_jw_arr_begin(&c->w);
        gw_jw_raw(&c->w, stop->raw.ptr, stop->raw.len);
        gw_jw_arr_end(&c->w);
        return 0;
    }
    struct gw_jv_it it;
    struct gw_jv s;
    int r, n = 0;
    if (gw_jv_arr_begin(&it, stop) != 0)
        return gw_xlate_fail(c->err, "stop", "stop must be a string or an array of strings");
    while ((r = gw_jv_arr_next(&it, &s)) == 1) {
        if (!gw_jv_is(&s, GW_JT_STRING))
            return gw_xlate_fail(c->err, "stop", "stop must be a string or an array of strings");
        if (++n > 5)
            return gw_xlate_fail(c->err, "stop", "this provider takes at most 5 stop sequences");
        if (n == 1) {
            gc_key(c, open, "stopSequences");
            gw_jw_arr_begin(&c->w);
        }
        gw_jw_raw(&c->w, s.raw.ptr, s.raw.len);
    }
    if (r != 0)
        return gw_xlate_fail(c->err, "stop", "invalid stop");
    if (n)
        gw_jw_arr_end(&c->w);
    return 0;
}

static int write_generation_config(struct bctx *c, const struct req_plan *p)
{
    const struct gw_jv *v = p->v;
    bool open = false;
    if (v[RK_STOP].found && write_stop(c, &open, &v[RK_STOP]) != 0)
        return -1;
    static const struct {
        int rk;
        const char *key;
    } copy[] = {
        {RK_TEMPERATURE, "temperature"},   {RK_TOP_P, "topP"}, {RK_TOP_K, "topK"},
        {RK_N, "candidateCount"},          {RK_SEED, "seed"},  {RK_PRESENCE, "presencePenalty"},
        {RK_FREQUENCY, "frequencyPenalty"}};
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
    if (gw_jv_is(&v[RK_LOGPROBS], GW_JT_TRUE)) {
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

/* Checks the request's scalars and fills *p; 0 or -1 with *err (400). */
static int plan_request(const struct gw_jv *v, struct req_plan *p, struct gw_xlate_err *err)
{
    uint64_t n;
    memset(p, 0, sizeof(*p));
    p->v = v;
    p->thinking_budget = -1;
    if (!gw_jv_is(&v[RK_MESSAGES], GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "messages", "messages must be a non-empty array");
    for (size_t i = 0; i < GW_ARRAY_SIZE(refused); i++)
        if (v[refused[i]].found)
            return gw_xlate_fail(err, req_keys[refused[i]], "%s is not supported by this provider",
                                 req_keys[refused[i]]);
    if (v[RK_LOGIT_BIAS].found &&
        !(gw_jv_is(&v[RK_LOGIT_BIAS], GW_JT_OBJ_BEGIN) && v[RK_LOGIT_BIAS].raw.len == 2))
        return gw_xlate_fail(err, "logit_bias", "logit_bias is not supported by this provider");
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
    if (v[RK_N].found && (!gw_jv_u64(&v[RK_N], &n) || n < 1 || n > GW_GEMINI_MAX_CANDIDATES))
        return gw_xlate_fail(err, "n", "n must be an integer from 1 to %d",
                             GW_GEMINI_MAX_CANDIDATES);
    p->max = v[RK_MAX_COMPLETION_TOKENS].found ? &v[RK_MAX_COMPLETION_TOKENS] : &v[RK_MAX_TOKENS];
    if (p->max->found && (!gw_jv_u64(p->max, &n) || n == 0))
        return gw_xlate_fail(err,
                             p->max == &v[RK_MAX_TOKENS] ? "max_tokens" : "max_completion_tokens",
                             "must be a positive integer");
    static const int numbers[] = {RK_TEMPERATURE, RK_TOP_P, RK_PRESENCE, RK_FREQUENCY};
    for (size_t i = 0; i < GW_ARRAY_SIZE(numbers); i++)
        if (v[numbers[i]].found && !gw_jv_is(&v[numbers[i]], GW_JT_NUMBER))
            return gw_xlate_fail(err, req_keys[numbers[i]], "must be a number");
    if (v[RK_TOP_K].found && !gw_jv_u64(&v[RK_TOP_K], &n))
        return gw_xlate_fail(err, "top_k", "must be a non-negative integer");
    if (v[RK_SEED].found && !gw_jv_is_int(&v[RK_SEED]))
        return gw_xlate_fail(err, "seed", "must be an integer");
    if (v[RK_STREAM].found && !gw_jv_is(&v[RK_STREAM], GW_JT_TRUE) &&
        !gw_jv_is(&v[RK_STREAM], GW_JT_FALSE))
        return gw_xlate_fail(err, "stream", "stream must be a boolean");
    if (v[RK_PARALLEL].found && !gw_jv_is(&v[RK_PARALLEL], GW_JT_TRUE) &&
        !gw_jv_is(&v[RK_PARALLEL], GW_JT_FALSE))
        return gw_xlate_fail(err, "parallel_tool_calls", "parallel_tool_calls must be a boolean");
    if (v[RK_LOGPROBS].found && !gw_jv_is(&v[RK_LOGPROBS], GW_JT_TRUE) &&
        !gw_jv_is(&v[RK_LOGPROBS], GW_JT_FALSE))
        return gw_xlate_fail(err, "logprobs", "logprobs must be a boolean");
    if (v[RK_TOP_LOGPROBS].found) {
        if (!gw_jv_u64(&v[RK_TOP_LOGPROBS], &p->top_logprobs) || p->top_logprobs > 20)
            return gw_xlate_fail(err, "top_logprobs",
                                 "top_logprobs must be an integer from 0 to 20");
        if (!gw_jv_is(&v[RK_LOGPROBS], GW_JT_TRUE))
            return gw_xlate_fail(err, "top_logprobs", "top_logprobs needs logprobs set to true");
    }
    if (v[RK_REASONING].found) {
        static const struct {
            const char *effort;
            long budget;
        } efforts[] = {
            {"none", 0}, {"minimal", 1024}, {"low", 1024}, {"medium", 8192}, {"high", 24576}};
        for (size_t i = 0; i < GW_ARRAY_SIZE(efforts) && p->thinking_budget < 0; i++)
            if (gw_jv_streq(&v[RK_REASONING], efforts[i].effort))
                p->thinking_budget = efforts[i].budget;
        if (p->thinking_budget < 0)
            return gw_xlate_fail(err, "reasoning_effort",
                                 "reasoning_effort must be none, minimal, low, medium or high");
    }
    if (v[RK_RESPONSE_FORMAT].found) {
        static const char *const fk[] = {"type", "json_schema"};
        static const char *const sk[] = {"schema"};
        struct gw_jv fv[2], sv[1];
        if (gw_jv_scan_obj(&v[RK_RESPONSE_FORMAT], fk, 2, fv) != 0)
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
    c->open = G_NONE;
    c->any = false;
    c->ncalls = 0;
    c->nresults = 0;
    gw_jw_obj_begin(&c->w);
    if (write_contents(c, &v[RK_MESSAGES]) != 0 || write_system(c, &v[RK_MESSAGES]) != 0)
        return -1;
    size_t ntools = 0;
    if (v[RK_TOOLS].found && write_tools(c, &v[RK_TOOLS], &ntools) != 0)
        return -1;
    *tools_out = ntools > 0;
    if (write_tool_choice(c, &v[RK_TOOL_CHOICE], ntools > 0) != 0)
        return -1;
    if (write_generation_config(c, p) != 0)
        return -1;
    /* The bundled mock provider's per-request controls (tools/mock) travel as
     * they are; every other field this file does not name is dropped. */
    if (gw_jv_is(&v[RK_MOCK], GW_JT_OBJ_BEGIN)) {
        gw_jw_key(&c->w, "mock");
        gw_jw_raw(&c->w, v[RK_MOCK].raw.ptr, v[RK_MOCK].raw.len);
    }
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
 * The upstream model (a leading "models/" resource prefix dropped: the path
 * adds its own), from x or else the body's "model". NULL when there is none
 * (or the arena is exhausted; *mem says which).
 */
static const char *model_name(const struct gw_xlate *x, const struct gw_jv *body_model, size_t *n,
                              bool *mem)
{
    const char *m = x->upstream_model;
    *mem = false;
    if (m && m[0]) {
        *n = strlen(m);
    } else if (gw_jv_is(body_model, GW_JT_STRING)) {
        m = gw_jv_unesc(x->arena, body_model->str, n);
        if (!m) {
            *mem = true;
            return NULL;
        }
    } else {
        return NULL;
    }
    if (*n > 7 && memcmp(m, "models/", 7) == 0) {
        m += 7;
        *n -= 7;
    }
    return *n ? m : NULL;
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

    const char *key = x->prov && x->prov->api_key ? x->prov->api_key : "";
    if (!key[0]) {
        out->headers = gw_span_make("", 0);
        return 0;
    }
    size_t hcap = strlen(key) + 32;
    char *h = gw_arena_alloc(x->arena, hcap);
    if (!h)
        return gw_xlate_fail_mem(err);
    int hn = snprintf(h, hcap, "x-goog-api-key: %s\r\n", key);
    GW_BUG_ON(hn < 0 || (size_t)hn >= hcap);
    out->headers = gw_span_make(h, (size_t)hn);
    return 0;
}

static const char warn_parallel[] =
    "parallel_tool_calls=false is not enforced: Gemini has no switch for it";

int gw_gemini_build_request(const struct gw_xlate *x, const char *body, size_t len,
                            struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    struct gw_jv v[RK_COUNT];
    struct req_plan p;
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (!body || gw_jv_scan(gw_span_make(body, len), req_keys, RK_COUNT, v) != 0)
        return gw_xlate_fail(err, NULL, "the request body must be a JSON object");
    if (plan_request(v, &p, err) != 0)
        return -1;
    size_t mlen;
    bool mem;
    const char *model = model_name(x, &v[RK_MODEL], &mlen, &mem);
    if (!model)
        return mem ? gw_xlate_fail_mem(err) : gw_xlate_fail(err, "model", "model is required");

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
    if (tools && gw_jv_is(&v[RK_PARALLEL], GW_JT_FALSE))
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
        .prompt_tokens = n[0] + n[1],
        .completion_tokens = n[3] + n[4],
        .cached_tokens = n[2],
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
    gw_jw_obj_begin(w);
    gw_jw_key(w, "content");
    gw_jw_arr_begin(w);
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
    gw_jw_arr_end(w);
    gw_jw_key(w, "refusal");
    gw_jw_null(w);
    gw_jw_obj_end(w);
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
 * (cap bytes, as long as the whole body). -1 when the candidate is malformed.
 */
static int write_choice(struct gw_jw *w, const struct gw_xlate *x, const struct gw_jv *cand,
                        uint64_t pos, char *text, size_t cap, uint32_t *ids)
{
    struct gw_jv cv[CK_COUNT], parts, part, pv[PK_COUNT], fv[FK_COUNT];
    struct gw_jv_it it;
    size_t text_len = 0;
    bool have_text = false, called = false;
    int r;
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
                long k = gw_json_unescape(pv[PK_TEXT].str, text + text_len, cap - text_len);
                if (k < 0)
                    return -1;
                text_len += (size_t)k;
                have_text = true;
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
    gw_jw_key(w, "content");
    if (have_text)
        gw_jw_str(w, text, text_len);
    else
        gw_jw_null(w);
    if (called) {
        gw_jw_key(w, "tool_calls");
        gw_jw_arr_begin(w);
        if (gw_jv_arr_begin(&it, &parts) != 0)
            return -1;
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

/* One render of the chat.completion; 0, 1 when the writer overflowed, -1 when malformed. */
static int render_response(struct gw_jw *w, const struct gw_xlate *x, const struct gw_jv *v,
                           char *text, size_t cap, const struct gw_xlate_usage *u)
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
            if (write_choice(w, x, &cand, pos++, text, cap, &ids) != 0)
                return -1;
        if (r != 0)
            return -1;
    }
    if (pos == 0)
        write_blocked_choice(w); /* promptFeedback.blockReason, or nothing came back */
    gw_oai_completion_end(w, u);
    return w->overflow ? 1 : 0;
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
    char *text = gw_arena_alloc(x->arena, len + 1);
    if (!text)
        return -1;
    /* The upstream's answer, not the client's request: only the absolute
     * limit applies (what grows, a generated id per function call, is at
     * most a few times the part it comes from). Doubling up to it keeps the
     * arena under twice the last buffer. */
    size_t fixed = 2 * (strlen0(x->client_model) + strlen0(x->request_id)) + 1024;
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
        int r = render_response(&w, x, v, text, len + 1, &g);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (u)
                *u = g;
            *out = gw_span_make(obuf, w.len);
            return 0;
        }
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
    struct gw_jv v = {0};
    *out = GW_SPAN_NULL;
    if (body && gw_jv_scan(gw_span_make(body, len), k, 1, &v) != 0)
        memset(&v, 0, sizeof(v));
    size_t cap = len + 512;
    char *buf = gw_arena_alloc(a, cap);
    if (!buf)
        return -1;
    char msg[64];
    struct gw_oai_error e = map_error(&v, status, out_status, msg, sizeof(msg));
    struct gw_jw w;
    gw_jw_init(&w, buf, cap);
    gw_oai_error_write(&w, &e);
    if (w.overflow)
        return -1;
    *out = gw_span_make(buf, w.len);
    return 0;
}

/* ---- embeddings ---- */

int gw_gemini_build_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    static const char *const k[] = {"model", "mock"};
    struct gw_jv v[2];
    struct gw_embed_req er;
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (!body || gw_jv_scan(gw_span_make(body, len), k, 2, v) != 0)
        return gw_xlate_fail(err, NULL, "the request body must be a JSON object");
    if (gw_embed_parse(x, body, len, &er, err) != 0)
        return -1;
    size_t mlen;
    bool mem;
    const char *model = model_name(x, &v[0], &mlen, &mem);
    if (!model)
        return mem ? gw_xlate_fail_mem(err) : gw_xlate_fail(err, "model", "model is required");

    /* Each request repeats the model ("models/{m}", escaped: at most 6x) in a
     * wrapper of its own: the configured name and the wrappers (at most
     * GW_EMBED_MAX_INPUTS) are the dialect's, not the client's, bytes. A name
     * from the body is the client's: its repetitions count against the limit. */
    size_t per = 6 * mlen + 128;
    struct gw_xbound b;
    gw_xbound_init(&b, x, len, er.n * (x->upstream_model && x->upstream_model[0] ? per : 128));
    size_t cap = len + er.n * per + (v[1].found ? v[1].raw.len : 0) + 1024;
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
    if (gw_jv_is(&v[1], GW_JT_OBJ_BEGIN)) {
        gw_jw_key(&w, "mock");
        gw_jw_raw(&w, v[1].raw.ptr, v[1].raw.len);
    }
    gw_jw_obj_end(&w);
    if (w.overflow)
        return gw_xbound_overflow(&b, err);
    out->body = gw_span_make(obuf, w.len);
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

/* What one feed hands the event callback. */
struct feed {
    struct gw_gemini_stream *s;
    const struct gw_xlate_sink *sink;
    struct gw_xlate_usage *u; /* may be NULL */
};

/* The chunk that opens choice idx: {"role":"assistant","content":""}. */
static int role_chunk(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink, unsigned idx)
{
    s->_seen |= (uint8_t)(1u << idx);
    return gw_oai_chunk_content(&s->_oai, sink, idx, gw_span_make("\"\"", 2));
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
    struct gw_jw *w = gw_oai_chunk_begin(&s->_oai, extra);
    if (!w)
        return -1;
    gw_oai_chunk_head(&s->_oai, idx);
    gw_jw_key(w, "content");
    gw_jw_raw(w, text->raw.ptr, text->raw.len);
    gw_jw_obj_end(w); /* delta: gw_oai_chunk_tail has no place for logprobs */
    gw_jw_key(w, "logprobs");
    if (write_logprobs(w, s->_x->arena, lr) != 0)
        return broken(s, sink, "invalid logprobsResult in the upstream stream");
    gw_jw_key(w, "finish_reason");
    gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_arr_end(w);
    gw_jw_obj_end(w);
    return gw_oai_chunk_send(&s->_oai, sink);
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
 * One complete event (core/sse.h's reader): its data, a
 * GenerateContentResponse or an error object -> chunks. Gemini names no
 * event types. 0, 1 (an upstream error: its chunk written, the stream
 * ended), -1.
 */
static int on_event(void *arg, struct gw_span type, struct gw_span data)
{
    const struct feed *f = arg;
    struct gw_gemini_stream *s = f->s;
    const struct gw_xlate_sink *sink = f->sink;
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
        if (f->u)
            *f->u = s->_usage;
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
    struct gw_oai_stream *o = &s->_oai;
    if (o->done)
        return o->failed ? -1 : 1;
    struct feed f = {s, sink, u};
    int r = gw_sse_reader_feed(&s->_sse, data, len, on_event, &f);
    if (r == GW_SSE_OVERSIZE)
        return gw_oai_stream_fail(o, sink, "upstream stream event over 1 MiB", -1);
    if (r == GW_SSE_NOMEM)
        r = -1;
    if (r != 0) {
        o->done = true; /* the sink refused, or the arena is exhausted */
        o->failed |= r < 0;
    }
    return r;
}

int gw_gemini_stream_end(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink,
                         struct gw_xlate_usage *u)
{
    struct gw_oai_stream *o = &s->_oai;
    if (o->done)
        return o->failed ? -1 : 1;
    if (!s->_seen || (s->_finished & s->_seen) != s->_seen)
        return gw_oai_stream_fail(o, sink, "upstream stream ended before a finishReason", -1);
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
