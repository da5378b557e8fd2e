/*
 * tools/mock/gemini.c — the mock's Gemini dialect: POST
 * /v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse and
 * :batchEmbedContents in the Gemini API's wire format
 * (https://ai.google.dev/api/generate-content, https://ai.google.dev/api/embeddings).
 *
 * It is as strict as the real API where a translation bug would show: the
 * x-goog-api-key header (a missing key is 403 PERMISSION_DENIED, a wrong one
 * 400 INVALID_ARGUMENT with reason API_KEY_INVALID, as Google answers), the
 * method, alt=sse on the stream method, and the body: unknown fields are
 * refused at every level the translator writes (Google's "Unknown name"
 * 400), contents must be non-empty with roles user/model and well-formed
 * parts, functionCall only in model turns and functionResponse only in user
 * turns. Errors come in the google.rpc.Status shape
 * {"error":{"code","message","status"}}. The answer is a
 * GenerateContentResponse, or its SSE stream (one event per content chunk,
 * the last with finishReason and usageMetadata, events separated by CRLF CRLF
 * as Google's are), paced and broken by the same "mock" controls as chat
 * completions (reply.c). mock.tool answers with a functionCall part.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/mock.h"
#include "tools/mock/reply.h"

#define G_CACHED 3            /* usageMetadata.cachedContentTokenCount, fixed */
#define G_EMBED_DIMS 8        /* vector length without outputDimensionality */
#define G_EMBED_MAX_DIMS 3072 /* outputDimensionality's ceiling */
#define G_MAX_CANDIDATES 8

/* ---- errors ---- */

struct g_error_args {
    int code;
    const char *status;
    const char *message;
    bool key_invalid; /* add the ErrorInfo with reason API_KEY_INVALID */
};

static void render_g_error(struct gw_jw *jw, const void *arg)
{
    const struct g_error_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "error");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "code");
    gw_jw_int(jw, a->code);
    gw_jw_key(jw, "message");
    gw_jw_cstr(jw, a->message);
    gw_jw_key(jw, "status");
    gw_jw_cstr(jw, a->status);
    if (a->key_invalid) {
        gw_jw_key(jw, "details");
        gw_jw_arr_begin(jw);
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "@type");
        gw_jw_cstr(jw, "type.googleapis.com/google.rpc.ErrorInfo");
        gw_jw_key(jw, "reason");
        gw_jw_cstr(jw, "API_KEY_INVALID");
        gw_jw_key(jw, "domain");
        gw_jw_cstr(jw, "googleapis.com");
        gw_jw_key(jw, "metadata");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "service");
        gw_jw_cstr(jw, "generativelanguage.googleapis.com");
        gw_jw_obj_end(jw);
        gw_jw_obj_end(jw);
        gw_jw_arr_end(jw);
    }
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

/* Appends a complete error response in Google's shape. */
static void g_reply_error(struct gw_mock_conn *c, int code, const char *status, const char *message,
                          bool key_invalid, const char *retry_after)
{
    struct g_error_args a = {code, status, message, key_invalid};
    gw_mock_reply(c, code, retry_after, NULL, render_g_error, &a);
}

static void g_bad_request(struct gw_mock_conn *c, const char *message)
{
    g_reply_error(c, 400, "INVALID_ARGUMENT", message, false, NULL);
}

/* A forced mock.status, with the google.rpc.Code and message Gemini gives it. */
static const struct gw_mock_status_text status_texts[] = {
    {400, "INVALID_ARGUMENT", NULL, "Request contains an invalid argument."},
    {401, "UNAUTHENTICATED", NULL, "Request had invalid authentication credentials."},
    {403, "PERMISSION_DENIED", NULL, "The caller does not have permission"},
    {404, "NOT_FOUND", NULL, "models/mock is not found for API version v1beta."},
    {429, "RESOURCE_EXHAUSTED", NULL, "Resource has been exhausted (e.g. check quota)."},
    {500, "INTERNAL", NULL,
     "An internal error has occurred. Please retry or report in "
     "https://developers.generativeai.google/guide/troubleshooting"},
    {503, "UNAVAILABLE", NULL, "The model is overloaded. Please try again later."},
    {504, "DEADLINE_EXCEEDED", NULL, "Deadline expired before operation could complete."},
};

static void g_reply_status(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl)
{
    const struct gw_mock_status_text *t =
        gw_mock_status_find(status_texts, GW_ARRAY_SIZE(status_texts), ctl->status);
    const char *st = ctl->status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
    g_reply_error(c, ctl->status, t ? t->type : st, t ? t->message : "Mock error", false,
                  ctl->retry_after);
}

/*
 * With --api-key: the key in x-goog-api-key. Missing: 403 PERMISSION_DENIED
 * (Google's "unregistered callers"); wrong: 400 INVALID_ARGUMENT with reason
 * API_KEY_INVALID. Returns 0, or -1 after answering.
 */
static int check_auth(struct gw_mock_conn *c, const struct gw_http1_req *req)
{
    if (!gw_mock.api_key)
        return 0;
    const struct gw_http1_header *h = gw_mock_header(req, "x-goog-api-key");
    if (!h) {
        g_reply_error(c, 403, "PERMISSION_DENIED",
                      "Method doesn't allow unregistered callers (callers without established "
                      "identity). Please use API Key or other form of API consumer identity to "
                      "call this API.",
                      false, NULL);
        return -1;
    }
    if (!gw_mock_span_is(h->value, gw_mock.api_key)) {
        g_reply_error(c, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                      true, NULL);
        return -1;
    }
    return 0;
}

/* ---- reading JSON: members and elements of one container ---- */

struct it {
    struct gw_json j;
};

/* Starts iterating the container value (tok, raw) of the given type; false if it is not one. */
static bool it_begin(struct it *it, struct gw_span raw, enum gw_json_tok_type type)
{
    struct gw_json_tok t;
    gw_json_init(&it->j, raw.ptr, raw.len);
    return raw.ptr && gw_json_next(&it->j, &t) == 1 && t.type == type;
}

/*
 * The next member (key set) or element (key NULL) of the container: 1 with
 * *val (its first token) and *raw (its whole text), 0 at the end, -1 when
 * invalid.
 */
static int it_next(struct it *it, struct gw_span *key, struct gw_json_tok *val, struct gw_span *raw)
{
    struct gw_json_tok t;
    size_t end;
    if (gw_json_next(&it->j, &t) != 1)
        return -1;
    if (t.type == GW_JT_OBJ_END || t.type == GW_JT_ARR_END)
        return 0;
    if (t.type == GW_JT_KEY) {
        if (!key)
            return -1;
        *key = t.span;
        if (gw_json_next(&it->j, &t) != 1)
            return -1;
    }
    if (gw_json_skip(&it->j, &t, &end) != 0)
        return -1;
    *val = t;
    *raw = gw_span_make(it->j.buf + t.start, end - t.start);
    return 1;
}

/* Google's answer to a field it does not know. */
static const char *unknown(char *msg, size_t cap, struct gw_span key, const char *where)
{
    snprintf(msg, cap,
             "Invalid JSON payload received. Unknown name \"%.*s\"%s%s: Cannot find "
             "field.",
             (int)GW_MIN(key.len, 64), key.ptr, where[0] ? " at " : "", where);
    return msg;
}

/*
 * The members of the object raw, each checked to be one of names[0..n);
 * found[i] (when found is not NULL) gets the member named names[i] (type
 * GW_JT_NONE when absent). NULL, or the 400 message (in msg).
 */
static const char *members(struct gw_span raw, const char *const *names, size_t n,
                           struct gw_json_tok *found, struct gw_span *found_raw, const char *where,
                           char *msg, size_t cap)
{
    struct it it;
    struct gw_span key, vraw;
    struct gw_json_tok val;
    int r;
    if (found)
        for (size_t i = 0; i < n; i++) {
            found[i].type = GW_JT_NONE;
            found_raw[i] = GW_SPAN_NULL;
        }
    if (!it_begin(&it, raw, GW_JT_OBJ_BEGIN)) {
        snprintf(msg, cap, "Invalid value at '%s': expected an object", where);
        return msg;
    }
    while ((r = it_next(&it, &key, &val, &vraw)) == 1) {
        size_t i = 0;
        while (i < n && !gw_json_str_eq(key, names[i]))
            i++;
        if (i == n)
            return unknown(msg, cap, key, where);
        if (found && val.type != GW_JT_NULL) {
            found[i] = val;
            found_raw[i] = vraw;
        }
    }
    if (r < 0) {
        snprintf(msg, cap, "Invalid JSON payload received at '%s'.", where);
        return msg;
    }
    return NULL;
}

/* ---- the request body ---- */

/*
 * One Part of a content whose role is model (or user). Exactly one data
 * field; functionCall only from the model, functionResponse only from the
 * user. NULL, or the 400 message.
 */
static const char *check_part(struct gw_span raw, bool model, bool text_only, const char *where,
                              char *msg, size_t cap)
{
    static const char *const names[] = {
        "text",           "inlineData",          "fileData", "functionCall",     "functionResponse",
        "executableCode", "codeExecutionResult", "thought",  "thoughtSignature", "videoMetadata"};
    enum { P_TEXT, P_INLINE, P_FILE, P_CALL, P_RESPONSE, P_EXEC, P_EXEC_RESULT, P_DATA_END = 7 };
    struct gw_json_tok v[GW_ARRAY_SIZE(names)];
    struct gw_span vr[GW_ARRAY_SIZE(names)];
    const char *why = members(raw, names, GW_ARRAY_SIZE(names), v, vr, where, msg, cap);
    if (why)
        return why;
    int data = 0;
    for (int i = 0; i < P_DATA_END; i++)
        data += v[i].type != GW_JT_NONE;
    if (data != 1) {
        snprintf(msg, cap,
                 "* %s: a part must hold exactly one of text, inlineData, fileData, "
                 "functionCall, functionResponse",
                 where);
        return msg;
    }
    if (text_only && v[P_TEXT].type == GW_JT_NONE) {
        snprintf(msg, cap, "* %s: only text parts are allowed here", where);
        return msg;
    }
    if (v[P_TEXT].type != GW_JT_NONE && v[P_TEXT].type != GW_JT_STRING) {
        snprintf(msg, cap, "Invalid value at '%s.text' (TYPE_STRING)", where);
        return msg;
    }
    if (v[P_INLINE].type != GW_JT_NONE) {
        static const char *const k[] = {"mimeType", "data"};
        struct gw_json_tok iv[2];
        struct gw_span ir[2];
        if ((why = members(vr[P_INLINE], k, 2, iv, ir, "inline_data", msg, cap)))
            return why;
        if (iv[0].type != GW_JT_STRING || iv[1].type != GW_JT_STRING || !iv[0].span.len) {
            snprintf(msg, cap, "* %s.inlineData: mimeType and data (base64) are required", where);
            return msg;
        }
    }
    if (v[P_FILE].type != GW_JT_NONE) {
        static const char *const k[] = {"mimeType", "fileUri"};
        struct gw_json_tok fv[2];
        struct gw_span fr[2];
        if ((why = members(vr[P_FILE], k, 2, fv, fr, "file_data", msg, cap)))
            return why;
        if (fv[1].type != GW_JT_STRING ||
            (fv[0].type != GW_JT_NONE && fv[0].type != GW_JT_STRING)) {
            snprintf(msg, cap, "* %s.fileData.fileUri: a string is required", where);
            return msg;
        }
    }
    if (v[P_CALL].type != GW_JT_NONE) {
        static const char *const k[] = {"name", "args", "id"};
        struct gw_json_tok fv[3];
        struct gw_span fr[3];
        if (!model) {
            snprintf(msg, cap, "* %s.functionCall: only the model role may call functions", where);
            return msg;
        }
        if ((why = members(vr[P_CALL], k, 3, fv, fr, "function_call", msg, cap)))
            return why;
        if (fv[0].type != GW_JT_STRING || !fv[0].span.len ||
            (fv[1].type != GW_JT_NONE && fv[1].type != GW_JT_OBJ_BEGIN)) {
            snprintf(msg, cap, "* %s.functionCall: name (a string) and args (an object)", where);
            return msg;
        }
    }
    if (v[P_RESPONSE].type != GW_JT_NONE) {
        static const char *const k[] = {"name", "response", "id"};
        struct gw_json_tok fv[3];
        struct gw_span fr[3];
        if (model) {
            snprintf(msg, cap, "* %s.functionResponse: function responses belong to the user role",
                     where);
            return msg;
        }
        if ((why = members(vr[P_RESPONSE], k, 3, fv, fr, "function_response", msg, cap)))
            return why;
        if (fv[0].type != GW_JT_STRING || !fv[0].span.len || fv[1].type != GW_JT_OBJ_BEGIN) {
            snprintf(msg, cap,
                     "* %s.functionResponse: name (a string) and response (an object) "
                     "are required",
                     where);
            return msg;
        }
    }
    return NULL;
}

/* A Content: {role, parts[]}; role required (user|model) unless system. NULL, or the 400. */
static const char *check_content(struct gw_span raw, bool system, const char *where, char *msg,
                                 size_t cap)
{
    static const char *const k[] = {"role", "parts"};
    struct gw_json_tok v[2];
    struct gw_span vr[2];
    const char *why = members(raw, k, 2, v, vr, where, msg, cap);
    if (why)
        return why;
    bool model = false;
    if (!system) {
        bool user = v[0].type == GW_JT_STRING && gw_json_str_eq(v[0].span, "user");
        model = v[0].type == GW_JT_STRING && gw_json_str_eq(v[0].span, "model");
        if (!user && !model) {
            snprintf(msg, cap, "* %s.role: Please use a valid role: user, model.", where);
            return msg;
        }
    }
    struct it it;
    struct gw_json_tok t;
    struct gw_span tr;
    int r, n = 0;
    if (v[1].type != GW_JT_ARR_BEGIN || !it_begin(&it, vr[1], GW_JT_ARR_BEGIN)) {
        snprintf(msg, cap, "* %s.parts: contents.parts must not be empty.", where);
        return msg;
    }
    while ((r = it_next(&it, NULL, &t, &tr)) == 1) {
        char pw[96];
        snprintf(pw, sizeof(pw), "%s.parts[%d]", where, n++);
        if ((why = check_part(tr, model, system, pw, msg, cap)))
            return why;
    }
    if (r < 0 || n == 0) {
        snprintf(msg, cap, "* %s.parts: contents.parts must not be empty.", where);
        return msg;
    }
    return NULL;
}

static const char *check_contents(struct gw_json_tok tok, struct gw_span raw, char *msg, size_t cap)
{
    struct it it;
    struct gw_json_tok t;
    struct gw_span tr;
    int r, n = 0;
    if (tok.type == GW_JT_NONE)
        return "* GenerateContentRequest.contents: contents is not specified";
    if (tok.type != GW_JT_ARR_BEGIN || !it_begin(&it, raw, GW_JT_ARR_BEGIN))
        return "Invalid value at 'contents': expected a list";
    while ((r = it_next(&it, NULL, &t, &tr)) == 1) {
        char where[48];
        snprintf(where, sizeof(where), "contents[%d]", n++);
        const char *why = check_content(tr, false, where, msg, cap);
        if (why)
            return why;
    }
    if (r < 0)
        return "Invalid value at 'contents'";
    return n ? NULL : "* GenerateContentRequest.contents: contents is not specified";
}

/*
 * generationConfig: only the fields GenerationConfig has (an unknown one is
 * how a translation bug would show), each of its type. *candidates gets
 * candidateCount (default 1). NULL, or the 400 message.
 */
static const char *check_generation_config(struct gw_span raw, uint32_t *candidates, char *msg,
                                           size_t cap)
{
    static const char *const k[] = {"stopSequences",
                                    "responseMimeType",
                                    "responseSchema",
                                    "responseJsonSchema",
                                    "responseModalities",
                                    "candidateCount",
                                    "maxOutputTokens",
                                    "temperature",
                                    "topP",
                                    "topK",
                                    "seed",
                                    "presencePenalty",
                                    "frequencyPenalty",
                                    "responseLogprobs",
                                    "logprobs",
                                    "enableEnhancedCivicAnswers",
                                    "speechConfig",
                                    "thinkingConfig",
                                    "mediaResolution"};
    enum {
        C_STOP,
        C_MIME,
        C_SCHEMA,
        C_JSON_SCHEMA,
        C_MODALITIES,
        C_CANDIDATES,
        C_MAX,
        C_TEMPERATURE,
        C_TOP_P,
        C_TOP_K,
        C_SEED,
        C_PRESENCE,
        C_FREQUENCY,
        C_LOGPROBS_ON,
        C_LOGPROBS,
        C_CIVIC,
        C_SPEECH,
        C_THINKING,
        C_MEDIA
    };
    struct gw_json_tok v[GW_ARRAY_SIZE(k)];
    struct gw_span vr[GW_ARRAY_SIZE(k)];
    const char *why = members(raw, k, GW_ARRAY_SIZE(k), v, vr, "'generation_config'", msg, cap);
    if (why)
        return why;
    for (int i = C_CANDIDATES; i <= C_FREQUENCY; i++) {
        if (v[i].type != GW_JT_NONE && v[i].type != GW_JT_NUMBER) {
            snprintf(msg, cap, "Invalid value at 'generation_config.%s' (TYPE_NUMBER)", k[i]);
            return msg;
        }
    }
    uint64_t n = 1;
    if (v[C_CANDIDATES].type != GW_JT_NONE &&
        (!gw_json_to_u64(v[C_CANDIDATES].span, &n) || n < 1 || n > G_MAX_CANDIDATES))
        return "* GenerateContentRequest.generation_config.candidate_count: must be from 1 to 8";
    *candidates = (uint32_t)n;
    if (v[C_MAX].type != GW_JT_NONE && (!gw_json_to_u64(v[C_MAX].span, &n) || n < 1))
        return "* GenerateContentRequest.generation_config.max_output_tokens: must be positive";
    if (v[C_STOP].type != GW_JT_NONE) {
        struct it it;
        struct gw_json_tok t;
        struct gw_span tr;
        int r, count = 0;
        if (!it_begin(&it, vr[C_STOP], GW_JT_ARR_BEGIN))
            return "Invalid value at 'generation_config.stop_sequences': expected a list";
        while ((r = it_next(&it, NULL, &t, &tr)) == 1) {
            if (t.type != GW_JT_STRING)
                return "Invalid value at 'generation_config.stop_sequences' (TYPE_STRING)";
            count++;
        }
        if (r < 0 || count > 5)
            return "* GenerateContentRequest.generation_config.stop_sequences: at most 5";
    }
    if (v[C_LOGPROBS_ON].type != GW_JT_NONE && v[C_LOGPROBS_ON].type != GW_JT_TRUE &&
        v[C_LOGPROBS_ON].type != GW_JT_FALSE)
        return "Invalid value at 'generation_config.response_logprobs' (TYPE_BOOL)";
    if (v[C_LOGPROBS].type != GW_JT_NONE && v[C_LOGPROBS_ON].type != GW_JT_TRUE)
        return "* GenerateContentRequest.generation_config.logprobs: only valid with "
               "response_logprobs";
    bool json = false;
    if (v[C_MIME].type != GW_JT_NONE) {
        json = v[C_MIME].type == GW_JT_STRING && gw_json_str_eq(v[C_MIME].span, "application/json");
        if (!json &&
            !(v[C_MIME].type == GW_JT_STRING && (gw_json_str_eq(v[C_MIME].span, "text/plain") ||
                                                 gw_json_str_eq(v[C_MIME].span, "text/x.enum"))))
            return "* GenerateContentRequest.generation_config.response_mime_type: allowed "
                   "mimetypes are `text/plain`, `application/json`, `text/x.enum`";
    }
    if (v[C_SCHEMA].type != GW_JT_NONE && v[C_JSON_SCHEMA].type != GW_JT_NONE)
        return "* GenerateContentRequest.generation_config: response_schema and "
               "response_json_schema are mutually exclusive";
    if ((v[C_SCHEMA].type != GW_JT_NONE || v[C_JSON_SCHEMA].type != GW_JT_NONE) && !json)
        return "* GenerateContentRequest.generation_config.response_mime_type: a response schema "
               "needs application/json";
    if (v[C_JSON_SCHEMA].type != GW_JT_NONE && v[C_JSON_SCHEMA].type != GW_JT_OBJ_BEGIN)
        return "Invalid value at 'generation_config.response_json_schema': expected an object";
    if (v[C_THINKING].type != GW_JT_NONE) {
        static const char *const tk[] = {"thinkingBudget", "includeThoughts", "thinkingLevel"};
        struct gw_json_tok tv[3];
        struct gw_span tr[3];
        if ((why = members(vr[C_THINKING], tk, 3, tv, tr, "'generation_config.thinking_config'",
                           msg, cap)))
            return why;
        if (tv[0].type != GW_JT_NONE && tv[0].type != GW_JT_NUMBER)
            return "Invalid value at 'generation_config.thinking_config.thinking_budget' "
                   "(TYPE_INT32)";
    }
    return NULL;
}

/*
 * tools: Tool objects; functionDeclarations entries need a name, and take
 * parameters or parametersJsonSchema, not both. The first declaration's name
 * goes to plan.tool_name (else "get_weather"). NULL, or the 400 message.
 */
static const char *check_tools(struct gw_mock_conn *c, struct gw_span raw, char *msg, size_t cap)
{
    static const char *const tk[] = {"functionDeclarations", "googleSearch", "codeExecution",
                                     "urlContext", "googleSearchRetrieval"};
    static const char *const fk[] = {
        "name",     "description",        "parameters", "parametersJsonSchema",
        "response", "responseJsonSchema", "behavior"};
    struct gw_mock_plan *p = &c->plan;
    struct it it, fit;
    struct gw_json_tok t, f;
    struct gw_span tr, fr;
    int r, fr_r;
    if (!it_begin(&it, raw, GW_JT_ARR_BEGIN))
        return "Invalid value at 'tools': expected a list";
    while ((r = it_next(&it, NULL, &t, &tr)) == 1) {
        struct gw_json_tok tv[GW_ARRAY_SIZE(tk)];
        struct gw_span tvr[GW_ARRAY_SIZE(tk)];
        const char *why = members(tr, tk, GW_ARRAY_SIZE(tk), tv, tvr, "'tools[0]'", msg, cap);
        if (why)
            return why;
        if (tv[0].type == GW_JT_NONE)
            continue;
        if (!it_begin(&fit, tvr[0], GW_JT_ARR_BEGIN))
            return "Invalid value at 'tools[0].function_declarations': expected a list";
        while ((fr_r = it_next(&fit, NULL, &f, &fr)) == 1) {
            struct gw_json_tok fv[GW_ARRAY_SIZE(fk)];
            struct gw_span fvr[GW_ARRAY_SIZE(fk)];
            if ((why = members(fr, fk, GW_ARRAY_SIZE(fk), fv, fvr,
                               "'tools[0].function_declarations[0]'", msg, cap)))
                return why;
            if (fv[0].type != GW_JT_STRING || !fv[0].span.len)
                return "* GenerateContentRequest.tools[0].function_declarations[0].name: "
                       "Name cannot be empty.";
            if (fv[2].type != GW_JT_NONE && fv[3].type != GW_JT_NONE)
                return "* GenerateContentRequest.tools[0].function_declarations[0]: parameters "
                       "and parameters_json_schema are mutually exclusive";
            if (fv[3].type != GW_JT_NONE && fv[3].type != GW_JT_OBJ_BEGIN)
                return "Invalid value at "
                       "'tools[0].function_declarations[0].parameters_json_schema'";
            /* fv[0]'s offsets are relative to fr: the name token, quotes included. */
            size_t n = fv[0].end - fv[0].start;
            if (p->tool_name_len == 0 && n <= sizeof(p->tool_name)) {
                memcpy(p->tool_name, fr.ptr + fv[0].start, n);
                p->tool_name_len = n;
            }
        }
        if (fr_r < 0)
            return "Invalid value at 'tools[0].function_declarations'";
    }
    return r < 0 ? "Invalid value at 'tools'" : NULL;
}

static const char *check_tool_config(struct gw_span raw, char *msg, size_t cap)
{
    static const char *const k[] = {"functionCallingConfig", "retrievalConfig"};
    static const char *const fk[] = {"mode", "allowedFunctionNames"};
    struct gw_json_tok v[2], fv[2];
    struct gw_span vr[2], fvr[2];
    const char *why = members(raw, k, 2, v, vr, "'tool_config'", msg, cap);
    if (why || v[0].type == GW_JT_NONE)
        return why;
    if ((why = members(vr[0], fk, 2, fv, fvr, "'tool_config.function_calling_config'", msg, cap)))
        return why;
    bool any = false;
    if (fv[0].type != GW_JT_NONE) {
        static const char *const modes[] = {"AUTO", "ANY", "NONE", "VALIDATED"};
        size_t i = 0;
        while (i < 4 && !(fv[0].type == GW_JT_STRING && gw_json_str_eq(fv[0].span, modes[i])))
            i++;
        if (i == 4)
            return "Invalid value at 'tool_config.function_calling_config.mode'";
        any = i == 1 || i == 3;
    }
    if (fv[1].type != GW_JT_NONE && !any)
        return "* GenerateContentRequest.tool_config.function_calling_config."
               "allowed_function_names: only allowed when mode is ANY or VALIDATED";
    return NULL;
}

/* ---- rendering ---- */

static void jw_tail(struct gw_jw *jw, const struct gw_mock_plan *p, uint64_t candidates_tokens)
{
    gw_jw_key(jw, "usageMetadata");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "promptTokenCount");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_key(jw, "candidatesTokenCount");
    gw_jw_uint(jw, candidates_tokens);
    gw_jw_key(jw, "totalTokenCount");
    gw_jw_uint(jw, p->prompt_tokens + candidates_tokens);
    gw_jw_key(jw, "cachedContentTokenCount");
    gw_jw_uint(jw, G_CACHED);
    gw_jw_key(jw, "promptTokensDetails");
    gw_jw_arr_begin(jw);
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "modality");
    gw_jw_cstr(jw, "TEXT");
    gw_jw_key(jw, "tokenCount");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_obj_end(jw);
    gw_jw_arr_end(jw);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "modelVersion");
    gw_jw_raw(jw, p->model, p->model_len);
    char id[40];
    int n = snprintf(id, sizeof(id), "mock-%" PRIu64, p->id);
    gw_jw_key(jw, "responseId");
    gw_jw_str(jw, id, (size_t)n);
}

static void jw_call_part(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "functionCall");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "name");
    gw_jw_raw(jw, p->tool_name, p->tool_name_len);
    gw_jw_key(jw, "args");
    gw_jw_raw(jw, GW_MOCK_TOOL_INPUT, sizeof(GW_MOCK_TOOL_INPUT) - 1);
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

/* What one candidate says: text (may be empty), or the function call; finishReason when last. */
struct g_cand {
    struct gw_span text;
    bool call;
    bool last;
};

static void jw_candidates(struct gw_jw *jw, const struct gw_mock_plan *p, const struct g_cand *k)
{
    gw_jw_key(jw, "candidates");
    gw_jw_arr_begin(jw);
    for (uint32_t i = 0; i < GW_MAX(p->phase, 1u); i++) {
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "content");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "parts");
        gw_jw_arr_begin(jw);
        if (k->call) {
            jw_call_part(jw, p);
        } else {
            gw_jw_obj_begin(jw);
            gw_jw_key(jw, "text");
            gw_jw_str(jw, k->text.ptr, k->text.len);
            gw_jw_obj_end(jw);
        }
        gw_jw_arr_end(jw);
        gw_jw_key(jw, "role");
        gw_jw_cstr(jw, "model");
        gw_jw_obj_end(jw);
        if (k->last) {
            gw_jw_key(jw, "finishReason");
            gw_jw_cstr(jw, "STOP");
        }
        gw_jw_key(jw, "index");
        gw_jw_uint(jw, i);
        gw_jw_obj_end(jw);
    }
    gw_jw_arr_end(jw);
}

static void render_response(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_body *a = arg;
    struct g_cand k = {a->text, a->p->tool, true};
    gw_jw_obj_begin(jw);
    jw_candidates(jw, a->p, &k);
    jw_tail(jw, a->p, a->p->output_tokens);
    gw_jw_obj_end(jw);
}

/*
 * The stream (paced by reply.c; Gemini sends nothing with the head and has
 * no end event): event i < plan.chunks is content chunk i ("tokI ", or in
 * tool mode the one functionCall) with the usage so far, and event
 * plan.chunks the last (empty text, finishReason STOP, the full usage).
 * Each is "data: <json>\r\n\r\n" in its own HTTP chunk.
 */
static void render_event(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_event *ev = arg;
    const struct gw_mock_plan *p = ev->p;
    uint32_t i = ev->index;
    char tok[GW_MOCK_TOKEN_CAP];
    struct g_cand k = {gw_span_make("", 0), false, i >= p->chunks};
    if (!k.last) {
        if (p->tool)
            k.call = true;
        else
            k.text = gw_mock_token(tok, i);
    }
    gw_jw_obj_begin(jw);
    jw_candidates(jw, p, &k);
    jw_tail(jw, p, k.last ? p->output_tokens : GW_MIN(i + 1, p->output_tokens));
    gw_jw_obj_end(jw);
}

static void g_stream_event(struct gw_mock_conn *c, uint32_t i, bool bad)
{
    gw_mock_put_event(c, 0, i, bad);
}

const struct gw_mock_wire gw_mock_wire_gemini = {
    .json_ctype = "application/json; charset=UTF-8",
    .sse_crlf = true,
    .tool_events = 1,
    .bad_ctl = g_bad_request,
    .reply_status = g_reply_status,
    .render = render_response,
    .event_render = render_event,
    .stream_event = g_stream_event,
};

/* ---- embeddings ---- */

struct g_embed_args {
    const char *doc;     /* the request body */
    struct gw_span reqs; /* the requests array */
};

/* The parts' text of one EmbedContentRequest hashed, and its outputDimensionality. */
static void embed_input(struct gw_span req, uint64_t *hash, uint64_t *dims)
{
    static const char *const k[] = {"content", "outputDimensionality"};
    static const char *const ck[] = {"parts"};
    struct gw_json_member m[2], cm;
    struct it it;
    struct gw_json_tok t;
    struct gw_span tr;
    *hash = GW_MOCK_FNV_SEED;
    *dims = G_EMBED_DIMS;
    if (gw_json_scan_object(req.ptr, req.len, k, 2, m) != 0)
        return;
    if (m[1].found && m[1].value.type == GW_JT_NUMBER)
        (void)gw_json_to_u64(m[1].value.span, dims);
    struct gw_span content =
        gw_span_make(req.ptr + m[0].value.start, m[0].value_end - m[0].value.start);
    if (!m[0].found || gw_json_scan_object(content.ptr, content.len, ck, 1, &cm) != 0 || !cm.found)
        return;
    struct gw_span parts =
        gw_span_make(content.ptr + cm.value.start, cm.value_end - cm.value.start);
    if (!it_begin(&it, parts, GW_JT_ARR_BEGIN))
        return;
    while (it_next(&it, NULL, &t, &tr) == 1)
        *hash = gw_mock_fnv1a(*hash, tr.ptr, tr.len);
}

static void render_embeddings(struct gw_jw *jw, const void *arg)
{
    const struct g_embed_args *a = arg;
    struct it it;
    struct gw_json_tok t;
    struct gw_span tr;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "embeddings");
    gw_jw_arr_begin(jw);
    if (it_begin(&it, a->reqs, GW_JT_ARR_BEGIN)) {
        while (it_next(&it, NULL, &t, &tr) == 1) {
            uint64_t h, dims;
            embed_input(tr, &h, &dims);
            gw_jw_obj_begin(jw);
            gw_jw_key(jw, "values");
            gw_mock_jw_vector(jw, h, (unsigned)dims);
            gw_jw_obj_end(jw);
        }
    }
    gw_jw_arr_end(jw);
    gw_jw_obj_end(jw);
}

/*
 * requests: a non-empty list of EmbedContentRequest, each naming the path's
 * model ("models/{model}") and holding text parts. NULL, or the 400 message.
 */
static const char *check_embed_requests(struct gw_mock_conn *c, struct gw_json_tok tok,
                                        struct gw_span raw, char *msg, size_t cap)
{
    static const char *const k[] = {"model", "content", "outputDimensionality", "taskType",
                                    "title"};
    const struct gw_mock_plan *p = &c->plan;
    struct it it;
    struct gw_json_tok t;
    struct gw_span tr;
    int r, n = 0;
    if (tok.type == GW_JT_NONE)
        return "* BatchEmbedContentsRequest.requests: requests is not specified";
    if (!it_begin(&it, raw, GW_JT_ARR_BEGIN))
        return "Invalid value at 'requests': expected a list";
    while ((r = it_next(&it, NULL, &t, &tr)) == 1) {
        struct gw_json_tok v[GW_ARRAY_SIZE(k)];
        struct gw_span vr[GW_ARRAY_SIZE(k)];
        char where[48];
        snprintf(where, sizeof(where), "requests[%d]", n++);
        const char *why = members(tr, k, GW_ARRAY_SIZE(k), v, vr, where, msg, cap);
        if (why)
            return why;
        /* The model must be the path's: "models/" + the name (plan.model is its token). */
        char want[GW_MOCK_MODEL_CAP + 8];
        int wl =
            snprintf(want, sizeof(want), "\"models/%.*s", (int)(p->model_len - 1), p->model + 1);
        if (v[0].type != GW_JT_STRING || vr[0].len != (size_t)wl ||
            memcmp(vr[0].ptr, want, (size_t)wl) != 0) {
            snprintf(msg, cap,
                     "* BatchEmbedContentsRequest.%s.model: the model must be "
                     "models/%.*s, the model of the URL",
                     where, (int)(p->model_len - 2), p->model + 1);
            return msg;
        }
        if (v[1].type == GW_JT_NONE) {
            snprintf(msg, cap,
                     "* BatchEmbedContentsRequest.%s.content: content is not "
                     "specified",
                     where);
            return msg;
        }
        char cw[64];
        snprintf(cw, sizeof(cw), "%s.content", where);
        if ((why = check_content(vr[1], true, cw, msg, cap)))
            return why;
        uint64_t d;
        if (v[2].type != GW_JT_NONE &&
            (!gw_json_to_u64(v[2].span, &d) || d < 1 || d > G_EMBED_MAX_DIMS)) {
            snprintf(msg, cap,
                     "* BatchEmbedContentsRequest.%s.output_dimensionality: must be "
                     "from 1 to %d",
                     where, G_EMBED_MAX_DIMS);
            return msg;
        }
    }
    if (r < 0)
        return "Invalid value at 'requests'";
    return n ? NULL : "* BatchEmbedContentsRequest.requests: requests is not specified";
}

static void batch_embed(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const k[] = {"requests", "mock"};
    struct gw_json_tok v[2];
    struct gw_span vr[2];
    char msg[320];
    if (!gw_json_validate(body.ptr, body.len)) {
        g_bad_request(c, "Invalid JSON payload received.");
        return;
    }
    const char *why = members(body, k, 2, v, vr, "", msg, sizeof(msg));
    if (!why)
        why = check_embed_requests(c, v[0], vr[0], msg, sizeof(msg));
    if (why) {
        g_bad_request(c, why);
        return;
    }
    struct g_embed_args a = {body.ptr, vr[0]};
    gw_mock_answer_json(c, body, NULL, render_embeddings, &a);
}

/* ---- the endpoint ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The model part of the path, percent-decoded, as a JSON string token into plan.model. */
static bool take_path_model(struct gw_mock_conn *c, struct gw_span m)
{
    char dec[GW_MOCK_MODEL_CAP];
    size_t n = 0;
    for (size_t i = 0; i < m.len; i++) {
        char ch = m.ptr[i];
        if (ch == '%') {
            int hi = i + 2 < m.len ? hexval(m.ptr[i + 1]) : -1;
            int lo = i + 2 < m.len ? hexval(m.ptr[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n == sizeof(dec))
            return false;
        dec[n++] = ch;
    }
    struct gw_mock_plan *p = &c->plan;
    struct gw_jw jw;
    gw_jw_init(&jw, p->model, sizeof(p->model));
    gw_jw_str(&jw, dec, n);
    if (jw.overflow || n == 0)
        return false;
    p->model_len = jw.len;
    return true;
}

enum g_method { G_GENERATE = 0, G_STREAM, G_EMBED };

void gw_mock_gemini(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                    struct gw_span body)
{
    static const char *const keys[] = {
        "contents",         "systemInstruction", "tools",         "toolConfig",
        "generationConfig", "safetySettings",    "cachedContent", "mock"};
    enum { K_CONTENTS, K_SYSTEM, K_TOOLS, K_TOOL_CONFIG, K_CONFIG, K_SAFETY, K_CACHED, K_MOCK };
    struct gw_json_tok v[GW_ARRAY_SIZE(keys)];
    struct gw_span vr[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    char msg[320];
    p->dialect = GW_MOCK_DIALECT_GEMINI;

    if (check_auth(c, req) < 0)
        return;
    /* /v1beta/models/{model}:{method} */
    struct gw_span rest = gw_span_make(path.ptr + 15, path.len - 15);
    const char *colon = NULL;
    for (size_t i = rest.len; i-- > 0 && !colon;)
        if (rest.ptr[i] == ':')
            colon = rest.ptr + i;
    enum g_method method = G_GENERATE;
    struct gw_span name =
        colon ? gw_span_make(colon + 1, rest.len - (size_t)(colon + 1 - rest.ptr)) : GW_SPAN_NULL;
    bool known = colon && gw_mock_span_is(req->method, "POST");
    if (known && gw_mock_span_is(name, "generateContent"))
        method = G_GENERATE;
    else if (known && gw_mock_span_is(name, "streamGenerateContent"))
        method = G_STREAM;
    else if (known && gw_mock_span_is(name, "batchEmbedContents"))
        method = G_EMBED;
    else
        known = false;
    if (!known) {
        snprintf(msg, sizeof(msg), "Method not found: %.*s %.*s", (int)GW_MIN(req->method.len, 16),
                 req->method.ptr, (int)GW_MIN(path.len, 200), path.ptr);
        g_reply_error(c, 404, "NOT_FOUND", msg, false, NULL);
        return;
    }
    if (!take_path_model(c, gw_span_make(rest.ptr, (size_t)(colon - rest.ptr)))) {
        g_reply_error(c, 404, "NOT_FOUND", "models/ is not found for API version v1beta.", false,
                      NULL);
        return;
    }
    if (method == G_EMBED) {
        batch_embed(c, body);
        return;
    }
    if (method == G_STREAM) {
        const char *q = memchr(req->target.ptr, '?', req->target.len);
        struct gw_span query =
            q ? gw_span_make(q + 1, req->target.len - (size_t)(q + 1 - req->target.ptr))
              : GW_SPAN_NULL;
        bool sse = false;
        for (size_t i = 0; i + 7 <= query.len && !sse; i++)
            sse = (i == 0 || query.ptr[i - 1] == '&') && memcmp(query.ptr + i, "alt=sse", 7) == 0 &&
                  (i + 7 == query.len || query.ptr[i + 7] == '&');
        if (!sse) {
            g_bad_request(c, "the mock serves :streamGenerateContent only with alt=sse");
            return;
        }
    }
    if (!gw_json_validate(body.ptr, body.len)) {
        g_bad_request(c, "Invalid JSON payload received.");
        return;
    }
    const char *why = members(body, keys, GW_ARRAY_SIZE(keys), v, vr, "", msg, sizeof(msg));
    if (!why)
        why = check_contents(v[K_CONTENTS], vr[K_CONTENTS], msg, sizeof(msg));
    if (!why && v[K_SYSTEM].type != GW_JT_NONE)
        why = check_content(vr[K_SYSTEM], true, "system_instruction", msg, sizeof(msg));
    uint32_t candidates = 1;
    if (!why && v[K_CONFIG].type != GW_JT_NONE)
        why = check_generation_config(vr[K_CONFIG], &candidates, msg, sizeof(msg));
    p->tool_name_len = 0;
    if (!why && v[K_TOOLS].type != GW_JT_NONE)
        why = check_tools(c, vr[K_TOOLS], msg, sizeof(msg));
    if (!why && v[K_TOOL_CONFIG].type != GW_JT_NONE)
        why = check_tool_config(vr[K_TOOL_CONFIG], msg, sizeof(msg));
    if (why) {
        g_bad_request(c, why);
        return;
    }
    if (p->tool_name_len == 0)
        gw_mock_tool_default(p);
    p->phase = candidates; /* this dialect's phase: candidates per event */
    gw_mock_answer(c, body, NULL, method == G_STREAM);
}
