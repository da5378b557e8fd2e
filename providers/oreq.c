/*
 * providers/oreq.c — what every translator reads from an OpenAI chat request
 * (providers/oreq.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/jv.h"
#include "providers/oreq.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* ---- the request ---- */

const char *const gw_oreq_keys[GW_RQ_COUNT] = {
    [GW_RQ_MODEL] = "model",
    [GW_RQ_MESSAGES] = "messages",
    [GW_RQ_MAX_TOKENS] = "max_tokens",
    [GW_RQ_MAX_COMPLETION_TOKENS] = "max_completion_tokens",
    [GW_RQ_STOP] = "stop",
    [GW_RQ_TEMPERATURE] = "temperature",
    [GW_RQ_TOP_P] = "top_p",
    [GW_RQ_TOP_K] = "top_k",
    [GW_RQ_SEED] = "seed",
    [GW_RQ_FREQUENCY_PENALTY] = "frequency_penalty",
    [GW_RQ_PRESENCE_PENALTY] = "presence_penalty",
    [GW_RQ_STREAM] = "stream",
    [GW_RQ_N] = "n",
    [GW_RQ_USER] = "user",
    [GW_RQ_TOOLS] = "tools",
    [GW_RQ_TOOL_CHOICE] = "tool_choice",
    [GW_RQ_PARALLEL_TOOL_CALLS] = "parallel_tool_calls",
    [GW_RQ_RESPONSE_FORMAT] = "response_format",
    [GW_RQ_LOGPROBS] = "logprobs",
    [GW_RQ_TOP_LOGPROBS] = "top_logprobs",
    [GW_RQ_LOGIT_BIAS] = "logit_bias",
    [GW_RQ_AUDIO] = "audio",
    [GW_RQ_MODALITIES] = "modalities",
    [GW_RQ_FUNCTIONS] = "functions",
    [GW_RQ_FUNCTION_CALL] = "function_call",
    [GW_RQ_REASONING_EFFORT] = "reasoning_effort",
    [GW_RQ_WEB_SEARCH_OPTIONS] = "web_search_options",
    [GW_RQ_PREDICTION] = "prediction",
    [GW_RQ_VERBOSITY] = "verbosity",
    [GW_RQ_MOCK] = "mock",
};
_Static_assert(GW_RQ_COUNT <= GW_JV_SCAN_MAX, "one gw_jv_scan reads the whole table");

int gw_oreq_request(const char *body, size_t len, struct gw_jv v[GW_RQ_COUNT],
                    struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (gw_jv_scan(gw_span_make(body, len), gw_oreq_keys, GW_RQ_COUNT, v) != 0)
        return gw_xlate_fail(err, NULL, "the request body must be a JSON object");
    return 0;
}

int gw_oreq_numbers(const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n,
                    struct gw_xlate_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (v[keys[i]].found && !gw_jv_is(&v[keys[i]], GW_JT_NUMBER))
            return gw_xlate_fail(err, gw_oreq_keys[keys[i]], "must be a number");
    return 0;
}

int gw_oreq_bools(const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n,
                  struct gw_xlate_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct gw_jv *b = &v[keys[i]];
        if (b->found && !gw_jv_is(b, GW_JT_TRUE) && !gw_jv_is(b, GW_JT_FALSE))
            return gw_xlate_fail(err, gw_oreq_keys[keys[i]], "%s must be a boolean",
                                 gw_oreq_keys[keys[i]]);
    }
    return 0;
}

int gw_oreq_chat(const char *body, size_t len, struct gw_jv v[GW_RQ_COUNT],
                 struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    static const enum gw_oreq_key bools[] = {GW_RQ_STREAM};
    if (gw_oreq_request(body, len, v, out, err) != 0)
        return -1;
    if (!gw_jv_is(&v[GW_RQ_MESSAGES], GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "messages", "messages must be a non-empty array");
    return gw_oreq_bools(v, bools, GW_ARRAY_SIZE(bools), err);
}

void gw_oreq_copy(struct gw_jw *w, const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct gw_jv *m = &v[keys[i]];
        if (!m->found)
            continue;
        gw_jw_key(w, gw_oreq_keys[keys[i]]);
        gw_jw_raw(w, m->raw.ptr, m->raw.len);
    }
}

/* ---- the upstream body ---- */

int gw_oreq_body_begin(struct gw_jw *w, struct gw_xbound *b, const struct gw_xlate *x, size_t len,
                       size_t want, const struct gw_jv *model, struct gw_xlate_err *err)
{
    const char *m = x->upstream_model;
    size_t mlen = m ? strlen(m) : 0;
    /* Strings are copied raw or get shorter when decoded; what a dialect adds
     * per item fits in the doubled length, keys and headers in the rest. */
    gw_xbound_init(b, x, len, 2 * mlen);
    char *buf = gw_xbound_buf(b, x->arena, (want ? want : 2 * len + 1024) + 2 * mlen, err);
    if (!buf)
        return -1;
    gw_jw_init(w, buf, b->cap);
    gw_jw_obj_begin(w);
    gw_jw_key(w, "model");
    if (m)
        gw_jw_str(w, m, mlen);
    else if (gw_jv_is(model, GW_JT_STRING))
        gw_jw_raw(w, model->raw.ptr, model->raw.len);
    else
        return gw_xlate_fail(err, "model", "model is required");
    return 0;
}

int gw_oreq_body_end(struct gw_jw *w, const struct gw_xbound *b, struct gw_xlate_req *out,
                     struct gw_xlate_err *err)
{
    gw_jw_obj_end(w);
    if (w->overflow)
        return gw_xbound_overflow(b, err);
    out->body = gw_span_make(w->buf, w->len);
    return 0;
}

int gw_oreq_model_name(const struct gw_xlate *x, const struct gw_jv *model, const char **name,
                       size_t *len, struct gw_xlate_err *err)
{
    const char *m = x->upstream_model;
    if (m && m[0]) {
        *name = m;
        *len = strlen(m);
        return 0;
    }
    if (!gw_jv_is(model, GW_JT_STRING) || model->str.len == 0)
        return gw_xlate_fail(err, "model", "model is required");
    *name = gw_jv_unesc(x->arena, model->str, len);
    return *name ? 0 : gw_xlate_fail_mem(err);
}

int gw_oreq_key_header(const struct gw_xlate *x, const char *name, const char *scheme,
                       struct gw_xlate_req *out, struct gw_xlate_err *err)
{
    const char *key = x->prov && x->prov->api_key ? x->prov->api_key : "";
    out->headers = gw_span_make("", 0);
    if (!key[0])
        return 0;
    size_t cap = strlen(name) + strlen(scheme) + strlen(key) + 8;
    char *h = gw_arena_alloc(x->arena, cap);
    if (!h)
        return gw_xlate_fail_mem(err);
    int n = snprintf(h, cap, "%s: %s%s\r\n", name, scheme, key);
    GW_BUG_ON(n < 0 || (size_t)n >= cap);
    out->headers = gw_span_make(h, (size_t)n);
    return 0;
}

void gw_oreq_mock(struct gw_jw *w, const struct gw_jv *mock)
{
    if (!gw_jv_is(mock, GW_JT_OBJ_BEGIN))
        return;
    gw_jw_key(w, "mock");
    gw_jw_raw(w, mock->raw.ptr, mock->raw.len);
}

/* ---- scalar fields ---- */

int gw_oreq_max_tokens(const struct gw_jv *max_tokens, const struct gw_jv *max_completion_tokens,
                       const struct gw_jv **out, struct gw_xlate_err *err)
{
    const struct gw_jv *max = max_completion_tokens->found ? max_completion_tokens : max_tokens;
    uint64_t n;
    *out = max;
    if (max->found && (!gw_jv_u64(max, &n) || n == 0))
        return gw_xlate_fail(err, max == max_tokens ? "max_tokens" : "max_completion_tokens",
                             "must be a positive integer");
    return 0;
}

int gw_oreq_refuse(const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n,
                   struct gw_xlate_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (v[keys[i]].found)
            return gw_xlate_fail(err, gw_oreq_keys[keys[i]], "%s is not supported by this provider",
                                 gw_oreq_keys[keys[i]]);
    return 0;
}

int gw_oreq_one_choice(const struct gw_jv *n, struct gw_xlate_err *err)
{
    uint64_t k;
    if (n->found && (!gw_jv_u64(n, &k) || k != 1))
        return gw_xlate_fail(err, "n", "this provider returns one choice: n must be 1");
    return 0;
}

int gw_oreq_text_only(const struct gw_jv *v, struct gw_xlate_err *err)
{
    if (v[GW_RQ_LOGIT_BIAS].found && !gw_jv_obj_empty(&v[GW_RQ_LOGIT_BIAS]))
        return gw_xlate_fail(err, "logit_bias", "logit_bias is not supported by this provider");
    if (v[GW_RQ_AUDIO].found)
        return gw_xlate_fail(err, "audio", "audio output is not supported by this provider");
    if (!v[GW_RQ_MODALITIES].found)
        return 0;
    struct gw_jv_it it;
    struct gw_jv el;
    int r;
    if (gw_jv_arr_begin(&it, &v[GW_RQ_MODALITIES]) != 0)
        return gw_xlate_fail(err, "modalities", "modalities must be an array");
    while ((r = gw_jv_arr_next(&it, &el)) == 1)
        if (!gw_jv_streq(&el, "text"))
            return gw_xlate_fail(
                err, "modalities",
                "this provider only outputs text, so modalities may name text only");
    return r == 0 ? 0 : gw_xlate_fail(err, "modalities", "invalid modalities");
}

long gw_oreq_stop(const struct gw_jv *stop, size_t max, struct gw_xlate_err *err)
{
    static const char shape[] = "stop must be a string or an array of strings";
    if (gw_jv_is(stop, GW_JT_STRING))
        return 1;
    struct gw_jv_it it;
    struct gw_jv s;
    size_t n = 0;
    int r;
    if (gw_jv_arr_begin(&it, stop) != 0)
        return gw_xlate_fail(err, "stop", shape);
    while ((r = gw_jv_arr_next(&it, &s)) == 1) {
        if (!gw_jv_is(&s, GW_JT_STRING))
            return gw_xlate_fail(err, "stop", shape);
        if (++n > max && max)
            return gw_xlate_fail(err, "stop", "this provider takes at most %zu stop sequences",
                                 max);
    }
    if (r != 0)
        return gw_xlate_fail(err, "stop", "invalid stop");
    return (long)n;
}

void gw_oreq_stop_write(struct gw_jw *w, const struct gw_jv *stop)
{
    gw_jw_arr_begin(w);
    if (gw_jv_is(stop, GW_JT_STRING)) {
        gw_jw_raw(w, stop->raw.ptr, stop->raw.len);
    } else {
        struct gw_jv_it it;
        struct gw_jv s;
        if (gw_jv_arr_begin(&it, stop) == 0)
            while (gw_jv_arr_next(&it, &s) == 1)
                gw_jw_raw(w, s.raw.ptr, s.raw.len);
    }
    gw_jw_arr_end(w);
}

/* ---- messages ---- */

int gw_oreq_msgs_begin(struct gw_oreq_msgs *it, const struct gw_jv *msgs, struct gw_xlate_err *err)
{
    *it = (struct gw_oreq_msgs){._err = err};
    if (gw_jv_arr_begin(&it->_it, msgs) != 0)
        return gw_xlate_fail(err, "messages", "messages must be an array");
    return 0;
}

int gw_oreq_msgs_next(struct gw_oreq_msgs *it, struct gw_oreq_msg *m)
{
    static const char *const mk[] = {"role", "content", "tool_calls", "tool_call_id"};
    static const struct {
        const char *name;
        enum gw_oreq_role role;
    } roles[] = {
        {"system", GW_OREQ_ROLE_SYSTEM}, {"developer", GW_OREQ_ROLE_SYSTEM},
        {"user", GW_OREQ_ROLE_USER},     {"assistant", GW_OREQ_ROLE_ASSISTANT},
        {"tool", GW_OREQ_ROLE_TOOL},
    };
    struct gw_jv msg, mv[4];
    int r = gw_jv_arr_next(&it->_it, &msg);
    if (r <= 0)
        return r == 0 ? 0 : gw_xlate_fail(it->_err, "messages", "invalid messages");
    memset(m, 0, sizeof(*m));
    m->index = it->_next++;
    if (gw_jv_scan_obj(&msg, mk, 4, mv) != 0)
        return gw_xlate_fail(it->_err, "messages", "messages must be objects");
    size_t i = 0;
    while (i < GW_ARRAY_SIZE(roles) && !gw_jv_streq(&mv[0], roles[i].name))
        i++;
    if (i == GW_ARRAY_SIZE(roles))
        return gw_xlate_fail(it->_err, "messages",
                             "message role must be system, developer, user, assistant or tool");
    if (roles[i].role == GW_OREQ_ROLE_TOOL && !gw_jv_is(&mv[3], GW_JT_STRING))
        return gw_xlate_fail(it->_err, "messages", "tool messages need tool_call_id");
    m->role = roles[i].role;
    m->content = mv[1];
    m->tool_calls = mv[2];
    m->tool_call_id = mv[3];
    return 1;
}

int gw_oreq_system_begin(struct gw_oreq_system *it, const struct gw_jv *msgs,
                         struct gw_xlate_err *err)
{
    it->_in_parts = false;
    return gw_oreq_msgs_begin(&it->_msgs, msgs, err);
}

int gw_oreq_system_next(struct gw_oreq_system *it, struct gw_jv *text)
{
    static const char *const pk[] = {"type", "text"};
    struct gw_xlate_err *err = it->_msgs._err;
    for (;;) {
        if (it->_in_parts) {
            struct gw_jv part, pv[2];
            int pr = gw_jv_arr_next(&it->_parts, &part);
            if (pr == 0) {
                it->_in_parts = false;
                continue;
            }
            if (pr < 0 || gw_jv_scan_obj(&part, pk, 2, pv) != 0 || !gw_jv_streq(&pv[0], "text") ||
                !gw_jv_is(&pv[1], GW_JT_STRING))
                return gw_xlate_fail(err, "messages", "system message parts must be text");
            if (pv[1].str.len == 0)
                continue;
            *text = pv[1];
            return 1;
        }
        struct gw_oreq_msg m;
        int r = gw_oreq_msgs_next(&it->_msgs, &m);
        if (r <= 0)
            return r;
        if (m.role != GW_OREQ_ROLE_SYSTEM)
            continue;
        if (gw_jv_is(&m.content, GW_JT_STRING)) {
            if (m.content.str.len == 0)
                continue;
            *text = m.content;
            return 1;
        }
        if (!gw_jv_is(&m.content, GW_JT_ARR_BEGIN))
            return gw_xlate_fail(err, "messages", "system message content must be text");
        if (gw_jv_arr_begin(&it->_parts, &m.content) != 0)
            return gw_xlate_fail(err, "messages", "invalid system content");
        it->_in_parts = true;
    }
}

int gw_oreq_parts_begin(struct gw_oreq_parts *it, const struct gw_jv *content,
                        struct gw_xlate_err *err)
{
    *it = (struct gw_oreq_parts){._err = err};
    if (gw_jv_is(content, GW_JT_STRING)) {
        it->_one = *content;
        return 0;
    }
    if (!gw_jv_is(content, GW_JT_ARR_BEGIN))
        return gw_xlate_fail(err, "messages",
                             "message content must be a string or an array of parts");
    it->_arr = true;
    if (gw_jv_arr_begin(&it->_it, content) != 0)
        return gw_xlate_fail(err, "messages", "invalid content");
    return 0;
}

int gw_oreq_parts_next(struct gw_oreq_parts *it, struct gw_oreq_part *p)
{
    static const char *const pk[] = {"type", "text"};
    static const char *const kinds[GW_OREQ_PART_OTHER] = {[GW_OREQ_PART_TEXT] = "text",
                                                          [GW_OREQ_PART_IMAGE_URL] = "image_url",
                                                          [GW_OREQ_PART_INPUT_AUDIO] =
                                                              "input_audio",
                                                          [GW_OREQ_PART_FILE] = "file",
                                                          [GW_OREQ_PART_REFUSAL] = "refusal"};
    struct gw_jv pv[2];
    memset(p, 0, sizeof(*p));
    if (!it->_arr) {
        if (!it->_one.found)
            return 0;
        p->kind = GW_OREQ_PART_TEXT;
        p->text = it->_one;
        it->_one.found = false;
        return 1;
    }
    int r = gw_jv_arr_next(&it->_it, &p->part);
    if (r <= 0)
        return r == 0 ? 0 : gw_xlate_fail(it->_err, "messages", "invalid content");
    if (gw_jv_scan_obj(&p->part, pk, 2, pv) != 0)
        return gw_xlate_fail(it->_err, "messages", "content parts must be objects");
    size_t k = 0;
    while (k < GW_OREQ_PART_OTHER && !gw_jv_streq(&pv[0], kinds[k]))
        k++;
    p->kind = (enum gw_oreq_part_kind)k;
    if (p->kind == GW_OREQ_PART_TEXT) {
        if (!gw_jv_is(&pv[1], GW_JT_STRING))
            return gw_xlate_fail(it->_err, "messages", "text part needs a string text");
        p->text = pv[1];
    }
    return 1;
}

void gw_oreq_text_part(struct gw_jw *w, const struct gw_jv *text)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "type");
    gw_jw_cstr(w, "text");
    gw_jw_key(w, "text");
    gw_jw_raw(w, text->raw.ptr, text->raw.len);
    gw_jw_obj_end(w);
}

bool gw_oreq_turn(struct gw_jw *w, int *open, int kind, const char *role, const char *key)
{
    if (*open == kind)
        return false;
    gw_oreq_turn_close(w, open);
    gw_jw_obj_begin(w);
    gw_jw_key(w, "role");
    gw_jw_cstr(w, role);
    gw_jw_key(w, key);
    gw_jw_arr_begin(w);
    *open = kind;
    return true;
}

void gw_oreq_turn_close(struct gw_jw *w, int *open)
{
    if (!*open)
        return;
    gw_jw_arr_end(w);
    gw_jw_obj_end(w);
    *open = 0;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

bool gw_oreq_object_text(const char *s, size_t n, size_t *at)
{
    size_t i = 0;
    while (i < n && is_space(s[i]))
        i++;
    if (at)
        *at = i;
    return i < n && s[i] == '{' && gw_json_validate(s, n);
}

/* ---- an assistant message's tool_calls ---- */

int gw_oreq_calls_begin(struct gw_oreq_calls *it, const struct gw_jv *calls, size_t msg,
                        const char *name_extra, bool object_args, struct gw_arena *a,
                        struct gw_xlate_err *err)
{
    *it = (struct gw_oreq_calls){
        ._a = a, ._err = err, ._extra = name_extra, ._msg = msg, ._object_args = object_args};
    if (gw_jv_arr_begin(&it->_it, calls) != 0)
        return gw_xlate_fail(err, "messages", "tool_calls must be an array");
    return 0;
}

/*
 * The arguments of a dialect that sends them as an object: the string
 * decoded must be a JSON object's text; absent or blank is "{}". OpenAI
 * models write arguments that way, and a client that edits its history
 * could send anything, which the upstream would refuse less clearly.
 */
static int object_args(struct gw_oreq_calls *it, struct gw_oreq_call *c)
{
    c->args = GW_SPAN_LIT("{}");
    if (!c->arguments.found)
        return 0;
    size_t n;
    char *s = gw_jv_unesc(it->_a, c->arguments.str, &n);
    if (!s)
        return gw_xlate_fail_mem(it->_err);
    size_t at;
    bool object = gw_oreq_object_text(s, n, &at);
    if (at == n)
        return 0; /* blank */
    if (!object)
        return gw_xlate_fail(it->_err, "messages",
                             "tool call arguments must be a JSON object (function %.*s)",
                             (int)GW_MIN(c->name.str.len, 64), c->name.str.ptr);
    c->args = gw_span_make(s, n);
    return 0;
}

int gw_oreq_calls_next(struct gw_oreq_calls *it, struct gw_oreq_call *c)
{
    static const char *const ck[] = {"id", "type", "function"};
    static const char *const fk[] = {"name", "arguments"};
    struct gw_jv call, cv[3], fv[2];
    struct gw_xlate_err *err = it->_err;
    int r = gw_jv_arr_next(&it->_it, &call);
    if (r <= 0)
        return r == 0 ? 0 : gw_xlate_fail(err, "messages", "invalid tool_calls");
    memset(c, 0, sizeof(*c));
    c->index = it->_next++;
    if (gw_jv_scan_obj(&call, ck, 3, cv) != 0)
        return gw_xlate_fail(err, "messages", "tool_calls entries must be objects");
    if (cv[1].found && !gw_jv_streq(&cv[1], "function"))
        return gw_xlate_fail(err, "messages", "only function tool calls are supported");
    if (!gw_jv_is(&cv[0], GW_JT_STRING) || gw_jv_scan_obj(&cv[2], fk, 2, fv) != 0 ||
        !gw_jv_is(&fv[0], GW_JT_STRING))
        return gw_xlate_fail(err, "messages", "tool_calls entries need id and function.name");
    if (gw_xbound_name(fv[0].str, it->_extra, it->_a, err,
                       "messages[%zu].tool_calls[%zu].function.name", it->_msg, c->index) != 0)
        return -1;
    if (fv[1].found && !gw_jv_is(&fv[1], GW_JT_STRING))
        return gw_xlate_fail(err, "messages", "tool call arguments must be a JSON string");
    c->id = cv[0];
    c->name = fv[0];
    c->arguments = fv[1];
    if (it->_object_args && object_args(it, c) != 0)
        return -1;
    return 1;
}

int gw_oreq_history_add(struct gw_oreq_history *h, struct gw_arena *a, const struct gw_oreq_call *c,
                        struct gw_xlate_err *err)
{
    if (h->n >= GW_XBOUND_TOOL_CALLS_MAX)
        return gw_xlate_fail(err, "messages", "A request may carry at most %u tool calls.",
                             (unsigned)GW_XBOUND_TOOL_CALLS_MAX);
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct gw_oreq_ref *p = gw_arena_alloc(a, cap * sizeof(*p));
        if (!p)
            return gw_xlate_fail_mem(err);
        if (h->n)
            memcpy(p, h->calls, h->n * sizeof(*p));
        h->calls = p;
        h->cap = cap;
    }
    h->calls[h->n++] = (struct gw_oreq_ref){c->id.str, c->name.raw};
    return 0;
}

const struct gw_oreq_ref *gw_oreq_history_find(const struct gw_oreq_history *h, struct gw_span id)
{
    for (size_t i = h->n; i-- > 0;)
        if (gw_span_eq(h->calls[i].id, id))
            return &h->calls[i];
    return NULL;
}

bool gw_oreq_history_first_name(const struct gw_oreq_history *h, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (gw_span_eq(h->calls[j].name, h->calls[i].name))
            return false;
    return true;
}

void gw_oreq_call_members(struct gw_jw *w, const struct gw_oreq_call *c, const char *id_key,
                          const char *args_key)
{
    if (id_key) {
        gw_jw_key(w, id_key);
        gw_jw_raw(w, c->id.raw.ptr, c->id.raw.len);
    }
    gw_jw_key(w, "name");
    gw_jw_raw(w, c->name.raw.ptr, c->name.raw.len);
    gw_jw_key(w, args_key);
    gw_jw_raw(w, c->args.ptr, c->args.len);
}

/* ---- a conversation, turn by turn ---- */

int gw_oreq_walk_parts(const struct gw_oreq_walk *w, enum gw_oreq_role role,
                       const struct gw_jv *content, void *arg, struct gw_xlate_err *err)
{
    unsigned anywhere = 0;
    for (size_t i = 0; i < GW_OREQ_ROLE_COUNT; i++)
        anywhere |= w->take[i];
    struct gw_oreq_parts it;
    struct gw_oreq_part p;
    int r;
    if (gw_oreq_parts_begin(&it, content, err) != 0)
        return -1;
    while ((r = gw_oreq_parts_next(&it, &p)) == 1) {
        unsigned bit = GW_OREQ_PART_BIT(p.kind);
        if (p.kind == GW_OREQ_PART_REFUSAL || (p.kind == GW_OREQ_PART_TEXT && !p.text.str.len))
            continue;
        if (p.kind != GW_OREQ_PART_TEXT && !(w->take[role] & bit))
            return gw_xlate_fail(err, "messages", "%s",
                                 anywhere & bit && w->elsewhere
                                     ? w->elsewhere
                                     : "content part type not supported by this provider");
        if (w->part(arg, role, &p) != 0)
            return -1;
    }
    return r;
}

/* An assistant message's tool calls -> w->call. */
static int walk_calls(const struct gw_oreq_walk *w, const struct gw_oreq_msg *m, void *arg,
                      struct gw_arena *a, struct gw_xlate_err *err)
{
    struct gw_oreq_calls it;
    struct gw_oreq_call call;
    int r;
    if (gw_oreq_calls_begin(&it, &m->tool_calls, m->index, w->name_extra, w->object_args, a, err) !=
        0)
        return -1;
    while ((r = gw_oreq_calls_next(&it, &call)) == 1)
        if (w->call(arg, &call) != 0)
            return -1;
    return r;
}

int gw_oreq_walk(const struct gw_jv *msgs, const struct gw_oreq_walk *w, void *arg,
                 struct gw_arena *a, struct gw_xlate_err *err)
{
    struct gw_oreq_msgs it;
    struct gw_oreq_msg m;
    int r;
    if (gw_oreq_msgs_begin(&it, msgs, err) != 0)
        return -1;
    while ((r = gw_oreq_msgs_next(&it, &m)) == 1) {
        if (m.role == GW_OREQ_ROLE_SYSTEM)
            continue;
        if (w->message && w->message(arg, &m) != 0)
            return -1;
        if (m.role == GW_OREQ_ROLE_TOOL) {
            if (w->result(arg, &m, w) != 0)
                return -1;
            continue;
        }
        /* user content is required, an assistant's may give way to tool calls */
        if ((m.role == GW_OREQ_ROLE_USER || m.content.found) &&
            gw_oreq_walk_parts(w, m.role, &m.content, arg, err) != 0)
            return -1;
        if (m.tool_calls.found && m.role == GW_OREQ_ROLE_ASSISTANT &&
            walk_calls(w, &m, arg, a, err) != 0)
            return -1;
    }
    return r;
}

/* ---- tools and tool_choice ---- */

int gw_oreq_tools_begin(struct gw_oreq_tools *it, const struct gw_jv *tools, const char *name_extra,
                        struct gw_arena *a, struct gw_xlate_err *err)
{
    *it = (struct gw_oreq_tools){._a = a, ._err = err, ._extra = name_extra};
    if (gw_jv_arr_begin(&it->_it, tools) != 0)
        return gw_xlate_fail(err, "tools", "tools must be an array");
    return 0;
}

int gw_oreq_tools_next(struct gw_oreq_tools *it, struct gw_oreq_tool *t)
{
    static const char *const tk[] = {"type", "function"};
    static const char *const fk[] = {"name", "description", "parameters", "strict"};
    struct gw_jv tool, tv[2], fv[4];
    struct gw_xlate_err *err = it->_err;
    int r = gw_jv_arr_next(&it->_it, &tool);
    if (r <= 0)
        return r == 0 ? 0 : gw_xlate_fail(err, "tools", "invalid tools");
    memset(t, 0, sizeof(*t));
    t->index = it->_next++;
    if (gw_jv_scan_obj(&tool, tk, 2, tv) != 0)
        return gw_xlate_fail(err, "tools", "tools entries must be objects");
    if (!gw_jv_streq(&tv[0], "function"))
        return gw_xlate_fail(err, "tools", "only function tools are supported by this provider");
    if (gw_jv_scan_obj(&tv[1], fk, 4, fv) != 0 || !gw_jv_is(&fv[0], GW_JT_STRING))
        return gw_xlate_fail(err, "tools", "function tools need function.name");
    if (fv[2].found && !gw_jv_is(&fv[2], GW_JT_OBJ_BEGIN))
        return gw_xlate_fail(err, "tools", "function.parameters must be a JSON Schema object");
    if (gw_xbound_name(fv[0].str, it->_extra, it->_a, err, "tools[%zu].function.name", t->index) !=
        0)
        return -1;
    t->name = fv[0];
    t->description = fv[1];
    t->parameters = fv[2];
    t->strict = fv[3];
    return 1;
}

void gw_oreq_tool_head(struct gw_jw *w, const struct gw_oreq_tool *t)
{
    gw_jw_key(w, "name");
    gw_jw_raw(w, t->name.raw.ptr, t->name.raw.len);
    if (gw_jv_is(&t->description, GW_JT_STRING)) {
        gw_jw_key(w, "description");
        gw_jw_raw(w, t->description.raw.ptr, t->description.raw.len);
    }
}

void gw_oreq_tool_params(struct gw_jw *w, const struct gw_oreq_tool *t)
{
    if (t->parameters.found)
        gw_jw_raw(w, t->parameters.raw.ptr, t->parameters.raw.len);
    else
        gw_jw_raw(w, GW_OREQ_EMPTY_SCHEMA, sizeof(GW_OREQ_EMPTY_SCHEMA) - 1);
}

int gw_oreq_tool_choice(const struct gw_jv *tc, const char *name_extra, struct gw_arena *a,
                        struct gw_xlate_err *err, struct gw_oreq_choice *out)
{
    static const char *const modes[] = {"auto", "required", "none"};
    static const char *const ok[] = {"type", "function"};
    static const char *const fk[] = {"name"};
    memset(out, 0, sizeof(*out));
    if (!tc->found)
        return 0;
    if (gw_jv_is(tc, GW_JT_STRING)) {
        for (size_t i = 0; i < GW_ARRAY_SIZE(modes); i++)
            if (gw_jv_streq(tc, modes[i])) {
                out->mode = (enum gw_oreq_tc)(GW_OREQ_TC_AUTO + i);
                return 0;
            }
        return gw_xlate_fail(err, "tool_choice", "tool_choice must be auto, required or none");
    }
    struct gw_jv ov[2], fv[1];
    if (gw_jv_scan_obj(tc, ok, 2, ov) != 0)
        return gw_xlate_fail(err, "tool_choice", "invalid tool_choice");
    if (gw_jv_streq(&ov[0], "allowed_tools"))
        return gw_xlate_fail(err, "tool_choice",
                             "tool_choice allowed_tools is not supported by this provider");
    if (!gw_jv_streq(&ov[0], "function") || gw_jv_scan_obj(&ov[1], fk, 1, fv) != 0 ||
        !gw_jv_is(&fv[0], GW_JT_STRING))
        return gw_xlate_fail(err, "tool_choice",
                             "tool_choice must name a function: "
                             "{\"type\":\"function\",\"function\":{\"name\":...}}");
    if (gw_xbound_name(fv[0].str, name_extra, a, err, "%s", "tool_choice.function.name") != 0)
        return -1;
    out->mode = GW_OREQ_TC_FUNCTION;
    out->name = fv[0];
    return 0;
}

/* ---- image URLs ---- */

/* True when u starts with p, without regard to ASCII case. */
static bool has_prefix(struct gw_span u, const char *p)
{
    size_t k = strlen(p);
    return u.len >= k && strncasecmp(u.ptr, p, k) == 0;
}

void gw_oreq_url_parse(struct gw_span u, struct gw_oreq_url *out)
{
    *out = (struct gw_oreq_url){.url = u};
    if (has_prefix(u, "data:")) {
        const char *semi = memchr(u.ptr, ';', u.len);
        size_t at = semi ? (size_t)(semi - u.ptr) : 0;
        out->kind = GW_OREQ_URL_DATA_BAD;
        if (at <= 5 || !has_prefix(gw_span_make(semi, u.len - at), ";base64,"))
            return;
        out->kind = GW_OREQ_URL_DATA;
        out->media = gw_span_make(u.ptr + 5, at - 5);
        out->data = gw_span_make(semi + 8, u.len - at - 8);
    } else if (has_prefix(u, "https://") || has_prefix(u, "http://")) {
        out->kind = GW_OREQ_URL_HTTP;
    }
}

int gw_oreq_image_url_member(const struct gw_jv *part, struct gw_jv *url, struct gw_jv *detail,
                             struct gw_xlate_err *err)
{
    static const char *const uk[] = {"url", "detail"};
    struct gw_jv iu = gw_jv_member(part, "image_url"), uv[2] = {{0}, {0}};
    if (gw_jv_is(&iu, GW_JT_STRING))
        uv[0] = iu;
    else
        (void)gw_jv_scan_obj(&iu, uk, 2, uv);
    *url = uv[0];
    *detail = uv[1];
    if (!gw_jv_is(url, GW_JT_STRING))
        return gw_xlate_fail(err, "messages", "image_url part needs image_url.url");
    return 0;
}

int gw_oreq_image_url(const struct gw_jv *part, struct gw_arena *a, struct gw_xlate_err *err,
                      struct gw_oreq_url *out)
{
    struct gw_jv url, detail;
    size_t n;
    if (gw_oreq_image_url_member(part, &url, &detail, err) != 0)
        return -1;
    const char *u = gw_jv_unesc(a, url.str, &n);
    if (!u)
        return gw_xlate_fail_mem(err);
    gw_oreq_url_parse(gw_span_make(u, n), out);
    if (out->kind == GW_OREQ_URL_DATA_BAD)
        return gw_xlate_fail(err, "messages",
                             "image data URLs must be data:<media type>;base64,<data>");
    return 0;
}
