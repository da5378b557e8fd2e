/*
 * tools/mock/api.c — the mock's endpoints, in OpenAI's wire format
 * (https://platform.openai.com/docs/api-reference): chat completions
 * (plain and SSE-streamed), embeddings, models, and the /mock/stats and
 * /mock/last introspection endpoints, plus every error object; and the
 * dispatch that sends the other dialects' paths to their files
 * (anthropic.c, gemini.c, cohere.c, bedrock.c).
 *
 * A chat request's top-level "mock" object steers the answer (see
 * tools/mock/README.md); reply.c applies it, the same for every dialect,
 * and calls back into gw_mock_wire_openai for what OpenAI's bodies and
 * stream events look like.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/mock.h"
#include "tools/mock/reply.h"

#define MODELS_CREATED 1700000000
#define EMBED_DIMS 8
#define SCRATCH_KEEP (4u * 1024 * 1024) /* a /mock/last record above this is shrunk */

/* ---- small helpers ---- */

static bool span_has_prefix(struct gw_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.ptr, lit, n) == 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- errors ---- */

struct error_args {
    const char *message;
    const char *type;
    const char *param; /* NULL: JSON null */
    const char *code;  /* NULL: JSON null */
};

static void render_error(struct gw_jw *jw, const void *arg)
{
    const struct error_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "error");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "message");
    gw_jw_cstr(jw, a->message);
    gw_jw_key(jw, "type");
    gw_jw_cstr(jw, a->type);
    gw_jw_key(jw, "param");
    if (a->param)
        gw_jw_cstr(jw, a->param);
    else
        gw_jw_null(jw);
    gw_jw_key(jw, "code");
    if (a->code)
        gw_jw_cstr(jw, a->code);
    else
        gw_jw_null(jw);
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

/* Appends a complete OpenAI error response. */
static void reply_error(struct gw_mock_conn *c, int status, const char *type, const char *message,
                        const char *param, const char *code, const char *retry_after)
{
    struct error_args a = {message, type, param, code};
    gw_mock_reply(c, status, retry_after, NULL, render_error, &a);
}

static void reply_bad_request(struct gw_mock_conn *c, const char *message, const char *param,
                              const char *code)
{
    reply_error(c, 400, "invalid_request_error", message, param, code, NULL);
}

static void bad_ctl(struct gw_mock_conn *c, const char *message)
{
    reply_bad_request(c, message, "mock", NULL);
}

static void reply_bad_json(struct gw_mock_conn *c)
{
    reply_bad_request(c,
                      "We could not parse the JSON body of your request. (HINT: This likely "
                      "means you aren't using your HTTP library correctly. The OpenAI API "
                      "expects a JSON payload, but what was sent was not valid JSON.)",
                      NULL, NULL);
}

void gw_mock_reply_proto_error(struct gw_mock_conn *c, int status, const char *message)
{
    struct gw_mock_plan *p = &c->plan;
    memset(p, 0, sizeof(*p));
    p->id = c->w->req_seq++ * gw_mock.nworkers + c->w->id + 1;
    p->keepalive = false;
    reply_error(c, status, "invalid_request_error", message, NULL, NULL, NULL);
}

/* A forced mock.status, shaped as OpenAI shapes that status (404 names the model). */
static const struct gw_mock_status_text status_texts[] = {
    {401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided"},
    {403, "invalid_request_error", "permission_denied",
     "You are not allowed to access this resource"},
    {404, "invalid_request_error", "model_not_found", NULL},
    {429, "rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached for requests"},
    {500, "server_error", NULL,
     "The server had an error while processing your request. Sorry about that!"},
    {503, "server_error", NULL, "The engine is currently overloaded, please try again later"},
};

static void reply_status(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl)
{
    const struct gw_mock_plan *p = &c->plan;
    const struct gw_mock_status_text *t =
        gw_mock_status_find(status_texts, GW_ARRAY_SIZE(status_texts), ctl->status);
    char msg[GW_MOCK_MODEL_CAP + 128];
    if (ctl->status == 404) /* plan.model holds the quoted token; show what is inside the quotes. */
        snprintf(msg, sizeof(msg),
                 "The model `%.*s` does not exist or you do not have access to it.",
                 (int)(p->model_len ? p->model_len - 2 : 0), p->model + 1);
    else if (t)
        snprintf(msg, sizeof(msg), "%s", t->message);
    else
        snprintf(msg, sizeof(msg), "Mock error: status %d was requested", ctl->status);
    const char *type = ctl->status >= 500 ? "server_error" : "invalid_request_error";
    reply_error(c, ctl->status, t ? t->type : type, msg, NULL, t ? t->code : NULL,
                ctl->retry_after);
}

/* ---- chat completions ---- */

/* The members a chat.completion and a chat.completion.chunk start with, up to "choices". */
static void jw_chat_head(struct gw_jw *jw, const struct gw_mock_plan *p, const char *object)
{
    char id[48];
    int n = snprintf(id, sizeof(id), "chatcmpl-mock-%" PRIu64, p->id);
    gw_jw_key(jw, "id");
    gw_jw_str(jw, id, (size_t)n);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, object);
    gw_jw_key(jw, "created");
    gw_jw_int(jw, p->created);
    gw_jw_key(jw, "model");
    gw_jw_raw(jw, p->model, p->model_len);
    gw_jw_key(jw, "choices");
}

static void jw_usage(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "prompt_tokens");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_key(jw, "completion_tokens");
    gw_jw_uint(jw, p->chunks);
    gw_jw_key(jw, "total_tokens");
    gw_jw_uint(jw, p->prompt_tokens + p->chunks);
    gw_jw_obj_end(jw);
}

static void render_chat(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_body *a = arg;
    const struct gw_mock_plan *p = a->p;
    gw_jw_obj_begin(jw);
    jw_chat_head(jw, p, "chat.completion");
    gw_jw_arr_begin(jw);
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "index");
    gw_jw_int(jw, 0);
    gw_jw_key(jw, "message");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "role");
    gw_jw_cstr(jw, "assistant");
    gw_jw_key(jw, "content");
    gw_jw_str(jw, a->text.ptr, a->text.len);
    gw_jw_key(jw, "refusal");
    gw_jw_null(jw);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "logprobs");
    gw_jw_null(jw);
    gw_jw_key(jw, "finish_reason");
    gw_jw_cstr(jw, "stop");
    gw_jw_obj_end(jw);
    gw_jw_arr_end(jw);
    jw_usage(jw, p);
    gw_jw_obj_end(jw);
}

/* The kinds of stream event, in the order they are sent. */
enum ev_kind { EV_ROLE = 0, EV_CONTENT, EV_FINISH, EV_USAGE };

/* Renders one event's JSON (arg: a struct gw_mock_event of kind enum ev_kind). */
static void render_event(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_event *ev = arg;
    const struct gw_mock_plan *p = ev->p;
    enum ev_kind kind = (enum ev_kind)ev->kind;
    uint32_t index = ev->index;
    gw_jw_obj_begin(jw);
    jw_chat_head(jw, p, "chat.completion.chunk");
    gw_jw_arr_begin(jw);
    if (kind != EV_USAGE) {
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "index");
        gw_jw_int(jw, 0);
        gw_jw_key(jw, "delta");
        gw_jw_obj_begin(jw);
        if (kind == EV_ROLE) {
            gw_jw_key(jw, "role");
            gw_jw_cstr(jw, "assistant");
            gw_jw_key(jw, "content");
            gw_jw_cstr(jw, "");
        } else if (kind == EV_CONTENT) {
            char tok[GW_MOCK_TOKEN_CAP];
            struct gw_span t = gw_mock_token(tok, index);
            gw_jw_key(jw, "content");
            gw_jw_str(jw, t.ptr, t.len);
        }
        gw_jw_obj_end(jw);
        gw_jw_key(jw, "logprobs");
        gw_jw_null(jw);
        gw_jw_key(jw, "finish_reason");
        if (kind == EV_FINISH)
            gw_jw_cstr(jw, "stop");
        else
            gw_jw_null(jw);
        gw_jw_obj_end(jw);
    }
    gw_jw_arr_end(jw);
    if (kind == EV_USAGE) {
        jw_usage(jw, p);
    } else if (p->include_usage) {
        gw_jw_key(jw, "usage");
        gw_jw_null(jw);
    }
    gw_jw_obj_end(jw);
}

/*
 * The stream (paced by reply.c): the role delta with the head, a content
 * delta per chunk, then the finish delta, the usage chunk when
 * stream_options.include_usage asked for it, and [DONE].
 */
static void stream_head(struct gw_mock_conn *c)
{
    gw_mock_put_event(c, EV_ROLE, 0, false);
}

static void stream_event(struct gw_mock_conn *c, uint32_t i, bool bad)
{
    gw_mock_put_event(c, i < c->plan.chunks ? EV_CONTENT : EV_FINISH, i, bad);
}

static void stream_tail(struct gw_mock_conn *c)
{
    if (c->plan.include_usage)
        gw_mock_put_event(c, EV_USAGE, 0, false);
    gw_mock_put_sse(c, NULL, "[DONE]", 6, false);
}

const struct gw_mock_wire gw_mock_wire_openai = {
    .bad_ctl = bad_ctl,
    .reply_status = reply_status,
    .render = render_chat,
    .event_render = render_event,
    .stream_head = stream_head,
    .stream_event = stream_event,
    .stream_tail = stream_tail,
};

/*
 * Scans a JSON body for keys[0..n), of which keys[0] is "model" (taken into
 * the plan) and keys[1] the other required member. False after answering
 * the 400.
 */
static bool take_body(struct gw_mock_conn *c, struct gw_span body, const char *const *keys,
                      size_t n, struct gw_json_member *m)
{
    if (gw_json_scan_object(body.ptr, body.len, keys, n, m) < 0) {
        reply_bad_json(c);
        return false;
    }
    const char *why = gw_mock_take_model(c, body.ptr, &m[0]);
    if (why) {
        reply_bad_request(c, why, "model", NULL);
        return false;
    }
    if (!m[1].found) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Missing required parameter: '%s'.", keys[1]);
        reply_bad_request(c, msg, keys[1], "missing_required_parameter");
        return false;
    }
    return true;
}

static void chat_completions(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const keys[] = {"model", "messages", "stream", "stream_options", "mock"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    if (!take_body(c, body, keys, GW_ARRAY_SIZE(keys), m))
        return;
    if (m[1].value.type != GW_JT_ARR_BEGIN) {
        reply_bad_request(c, "Invalid type for 'messages': expected an array.", "messages",
                          "invalid_type");
        return;
    }
    bool stream = m[2].found && m[2].value.type == GW_JT_TRUE;
    if (m[3].found && m[3].value.type == GW_JT_OBJ_BEGIN) {
        static const char *const okeys[] = {"include_usage"};
        struct gw_json_member u;
        const char *sub = body.ptr + m[3].value.start;
        if (gw_json_scan_object(sub, m[3].value_end - m[3].value.start, okeys, 1, &u) == 0)
            p->include_usage = u.found && u.value.type == GW_JT_TRUE;
    }
    gw_mock_answer(c, body, &m[4], stream);
}

/* ---- embeddings ---- */

/* A deterministic unit vector for one input's raw JSON text. */
static void jw_embedding(struct gw_jw *jw, const char *raw, size_t len)
{
    gw_mock_jw_vector(jw, gw_mock_fnv1a(GW_MOCK_FNV_SEED, raw, len), EMBED_DIMS);
}

struct embed_args {
    const struct gw_mock_plan *p;
    const char *doc; /* the request body */
    const struct gw_json_member *input;
};

static void jw_embedding_item(struct gw_jw *jw, unsigned index, const char *raw, size_t len)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "embedding");
    gw_jw_key(jw, "index");
    gw_jw_uint(jw, index);
    gw_jw_key(jw, "embedding");
    jw_embedding(jw, raw, len);
    gw_jw_obj_end(jw);
}

/*
 * The inputs of an "input" value, one callback per item: a string is one
 * input, an array of strings (or of token arrays) one per element, an array
 * of numbers (one token list) one input. Returns the count, -1 if invalid.
 */
static long each_input(const char *doc, const struct gw_json_member *in, struct gw_jw *jw)
{
    const struct gw_json_tok *v = &in->value;
    if (v->type == GW_JT_STRING) {
        if (jw)
            jw_embedding_item(jw, 0, v->span.ptr, v->span.len);
        return 1;
    }
    if (v->type != GW_JT_ARR_BEGIN)
        return -1;
    const char *sub = doc + v->start;
    size_t sublen = in->value_end - v->start;
    struct gw_json j;
    struct gw_json_tok t;
    gw_json_init(&j, sub, sublen);
    if (gw_json_next(&j, &t) != 1)
        return -1;
    long count = 0;
    for (;;) {
        if (gw_json_next(&j, &t) != 1)
            return -1;
        if (t.type == GW_JT_ARR_END && t.depth == 0)
            return count;
        size_t end = t.end;
        if (t.type == GW_JT_NUMBER && count == 0) {
            /* A token list: the whole array is one input. */
            if (jw)
                jw_embedding_item(jw, 0, sub, sublen);
            return 1;
        }
        if (t.type == GW_JT_ARR_BEGIN) {
            if (gw_json_skip(&j, &t, &end) != 0)
                return -1;
        } else if (t.type != GW_JT_STRING) {
            return -1;
        }
        if (jw)
            jw_embedding_item(jw, (unsigned)count, sub + t.start, end - t.start);
        count++;
    }
}

static void render_embeddings(struct gw_jw *jw, const void *arg)
{
    const struct embed_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "list");
    gw_jw_key(jw, "data");
    gw_jw_arr_begin(jw);
    each_input(a->doc, a->input, jw);
    gw_jw_arr_end(jw);
    gw_jw_key(jw, "model");
    gw_jw_raw(jw, a->p->model, a->p->model_len);
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "prompt_tokens");
    gw_jw_uint(jw, a->p->prompt_tokens);
    gw_jw_key(jw, "total_tokens");
    gw_jw_uint(jw, a->p->prompt_tokens);
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
}

static void embeddings(struct gw_mock_conn *c, struct gw_span body)
{
    static const char *const keys[] = {"model", "input", "mock"};
    struct gw_json_member m[GW_ARRAY_SIZE(keys)];
    struct gw_mock_plan *p = &c->plan;
    if (!take_body(c, body, keys, GW_ARRAY_SIZE(keys), m))
        return;
    long n = each_input(body.ptr, &m[1], NULL);
    if (n <= 0) {
        reply_bad_request(c,
                          "'input' must be a non-empty string, array of strings, or array of "
                          "token arrays",
                          "input", "invalid_type");
        return;
    }
    struct embed_args a = {p, body.ptr, &m[1]};
    gw_mock_answer_json(c, body, &m[2], render_embeddings, &a);
}

/* ---- models ---- */

static void jw_model(struct gw_jw *jw, const char *id, size_t id_len)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "id");
    gw_jw_str(jw, id, id_len);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "model");
    gw_jw_key(jw, "created");
    gw_jw_int(jw, MODELS_CREATED);
    gw_jw_key(jw, "owned_by");
    gw_jw_cstr(jw, "conduit-mock");
    gw_jw_obj_end(jw);
}

static void render_models(struct gw_jw *jw, const void *arg)
{
    (void)arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "object");
    gw_jw_cstr(jw, "list");
    gw_jw_key(jw, "data");
    gw_jw_arr_begin(jw);
    jw_model(jw, "mock-model", 10);
    gw_jw_arr_end(jw);
    gw_jw_obj_end(jw);
}

static void render_one_model(struct gw_jw *jw, const void *arg)
{
    const struct gw_span *id = arg;
    jw_model(jw, id->ptr, id->len);
}

static void reply_json(struct gw_mock_conn *c, gw_mock_render_fn *fn, const void *arg)
{
    gw_mock_reply(c, 200, NULL, NULL, fn, arg);
}

static void model_one(struct gw_mock_conn *c, struct gw_span id)
{
    if (!gw_mock_span_is(id, "mock-model")) {
        char msg[320];
        snprintf(msg, sizeof(msg), "The model '%.*s' does not exist", (int)GW_MIN(id.len, 256),
                 id.ptr);
        reply_error(c, 404, "invalid_request_error", msg, "model", "model_not_found", NULL);
        return;
    }
    reply_json(c, render_one_model, &id);
}

/* ---- /mock/stats ---- */

struct stats {
    uint64_t opened, closed, requests, started, completed, aborted, faulted;
};

static void render_stats(struct gw_jw *jw, const void *arg)
{
    const struct stats *s = arg;
    uint64_t ended = s->completed + s->aborted + s->faulted;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "connections_open");
    gw_jw_uint(jw, s->opened >= s->closed ? s->opened - s->closed : 0);
    gw_jw_key(jw, "connections_total");
    gw_jw_uint(jw, s->opened);
    gw_jw_key(jw, "requests");
    gw_jw_uint(jw, s->requests);
    gw_jw_key(jw, "streams_active");
    gw_jw_uint(jw, s->started >= ended ? s->started - ended : 0);
    gw_jw_key(jw, "streams_completed");
    gw_jw_uint(jw, s->completed);
    gw_jw_key(jw, "streams_aborted");
    gw_jw_uint(jw, s->aborted);
    gw_jw_obj_end(jw);
}

static uint64_t ld(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_acquire);
}

/*
 * Sums every worker's counters. The "ended" counters are loaded before the
 * "started" ones: each acquire pairs with the owner's release store, so every
 * end counted here has its start counted too and the gauges stay >= 0.
 */
static void mock_stats(struct gw_mock_conn *c)
{
    struct stats s = {0};
    for (unsigned i = 0; i < gw_mock.nworkers; i++) {
        struct gw_mock_counters *k = &gw_mock.workers[i].ctr;
        s.closed += ld(&k->conns_closed);
        s.completed += ld(&k->streams_completed);
        s.aborted += ld(&k->streams_aborted);
        s.faulted += ld(&k->streams_faulted);
        s.requests += ld(&k->requests);
        s.opened += ld(&k->conns_opened);
        s.started += ld(&k->streams_started);
    }
    reply_json(c, render_stats, &s);
}

/* ---- /mock/last ---- */

/* Records a request for /mock/last: a copy of its head and body under the worker's lock. */
static void record_last(struct gw_mock_worker *w, struct gw_span head, struct gw_span body)
{
    struct gw_mock_last *l = &w->last;
    size_t need = head.len + body.len;
    pthread_mutex_lock(&l->mu);
    if (need > l->cap || (l->cap > SCRATCH_KEEP && need < l->cap / 8)) {
        size_t ncap = need > 4096 ? need : 4096;
        char *nb = malloc(ncap);
        if (!nb) {
            l->stamp = 0; /* better nothing than a stale record */
            goto out;
        }
        free(l->buf);
        l->buf = nb;
        l->cap = ncap;
    }
    memcpy(l->buf, head.ptr, head.len);
    if (body.len)
        memcpy(l->buf + head.len, body.ptr, body.len);
    l->head_len = head.len;
    l->body_len = body.len;
    l->stamp = mono_ns();
out:
    pthread_mutex_unlock(&l->mu);
}

struct last_args {
    const struct gw_http1_req *req;
    struct gw_span body;
    const char *names;  /* lowercased, NUL-terminated names, one per distinct header */
    const char *values; /* the values of each name joined by ", ", NUL-terminated */
    size_t n;
};

static void render_last(struct gw_jw *jw, const void *arg)
{
    const struct last_args *a = arg;
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "method");
    gw_jw_str(jw, a->req->method.ptr, a->req->method.len);
    gw_jw_key(jw, "path");
    gw_jw_str(jw, a->req->target.ptr, a->req->target.len);
    gw_jw_key(jw, "headers");
    gw_jw_obj_begin(jw);
    const char *name = a->names, *value = a->values;
    for (size_t i = 0; i < a->n; i++) {
        gw_jw_key(jw, name);
        gw_jw_cstr(jw, value);
        name += strlen(name) + 1;
        value += strlen(value) + 1;
    }
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "body");
    gw_jw_str(jw, a->body.ptr, a->body.len);
    gw_jw_obj_end(jw);
}

/* Renders a recorded request; the caller holds l->mu. */
static void reply_last_locked(struct gw_mock_conn *c, const struct gw_mock_last *l)
{
    struct gw_http1_header hdrs[GW_MOCK_MAX_HEADERS];
    struct gw_http1_req req;
    int r = gw_http1_parse_request(l->buf, l->head_len, &req, hdrs, GW_MOCK_MAX_HEADERS);
    GW_BUG_ON(r != (int)l->head_len);
    /* Names and joined values fit in twice the head (", " is no longer than ": " + CRLF). */
    char *tmp = malloc(2 * l->head_len + 2);
    if (!tmp) {
        c->flags |= GW_MOCK_CF_OOM;
        return;
    }
    char *names = tmp, *values = tmp + l->head_len + 1;
    size_t nl = 0, vl = 0, n = 0;
    for (size_t i = 0; i < req.num_headers; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = gw_span_ieq(hdrs[j].name, hdrs[i].name);
        if (seen)
            continue;
        for (size_t k = 0; k < hdrs[i].name.len; k++) {
            char ch = hdrs[i].name.ptr[k];
            names[nl++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        names[nl++] = '\0';
        bool first = true;
        for (size_t j = i; j < req.num_headers; j++) {
            if (!gw_span_ieq(hdrs[j].name, hdrs[i].name))
                continue;
            if (!first) {
                values[vl++] = ',';
                values[vl++] = ' ';
            }
            memcpy(values + vl, hdrs[j].value.ptr, hdrs[j].value.len);
            vl += hdrs[j].value.len;
            first = false;
        }
        values[vl++] = '\0';
        n++;
    }
    struct last_args a = {&req, gw_span_make(l->buf + l->head_len, l->body_len), names, values, n};
    reply_json(c, render_last, &a);
    free(tmp);
}

static void mock_last(struct gw_mock_conn *c)
{
    struct gw_mock_last *best = NULL;
    uint64_t best_stamp = 0;
    for (unsigned i = 0; i < gw_mock.nworkers; i++) {
        struct gw_mock_last *l = &gw_mock.workers[i].last;
        pthread_mutex_lock(&l->mu);
        if (l->stamp > best_stamp) {
            best_stamp = l->stamp;
            best = l;
        }
        pthread_mutex_unlock(&l->mu);
    }
    if (!best) {
        reply_error(c, 404, "invalid_request_error", "No request has been recorded yet", NULL, NULL,
                    NULL);
        return;
    }
    /* Another request may have replaced it since: that one is newer still, so fine. */
    pthread_mutex_lock(&best->mu);
    if (best->stamp)
        reply_last_locked(c, best);
    else
        reply_error(c, 404, "invalid_request_error", "No request has been recorded yet", NULL, NULL,
                    NULL);
    pthread_mutex_unlock(&best->mu);
}

/* ---- dispatch ---- */

/* Authorization: Bearer <key>, the scheme case-insensitively (RFC 9110 §11.1). */
static bool authorized(const struct gw_http1_req *req)
{
    struct gw_span key = gw_mock_bearer(req);
    return key.ptr && gw_mock_span_is(key, gw_mock.api_key);
}

/* Azure OpenAI's key header: api-key: <key>. */
static bool azure_authorized(const struct gw_http1_req *req)
{
    const struct gw_http1_header *h = gw_mock_header(req, "api-key");
    return h && gw_mock_span_is(h->value, gw_mock.api_key);
}

/*
 * Azure OpenAI's paths, mapped onto ours [Azure OpenAI REST reference]:
 * /openai/v1/{op} (the v1 API), and /openai/deployments/{d}/{op}, which needs
 * an api-version query. Returns 0 with *path set to "/v1/{op}", or -1 after
 * answering the error.
 */
static int azure_path(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span *path,
                      char *buf, size_t cap)
{
    struct gw_span op;
    if (span_has_prefix(*path, "/openai/v1/")) {
        op = gw_span_make(path->ptr + 10, path->len - 10);
    } else if (span_has_prefix(*path, "/openai/deployments/")) {
        struct gw_span rest = gw_span_make(path->ptr + 20, path->len - 20);
        const char *slash = memchr(rest.ptr, '/', rest.len);
        const char *q = memchr(req->target.ptr, '?', req->target.len);
        struct gw_span query =
            q ? gw_span_make(q + 1, req->target.len - (size_t)(q + 1 - req->target.ptr))
              : GW_SPAN_NULL;
        if (!slash || slash == rest.ptr) {
            reply_error(c, 404, "invalid_request_error", "DeploymentNotFound", NULL, NULL, NULL);
            return -1;
        }
        if (!query.len || !memmem(query.ptr, query.len, "api-version=", 12) ||
            (query.len >= 12 && memcmp(query.ptr + query.len - 12, "api-version=", 12) == 0)) {
            reply_error(c, 400, "invalid_request_error",
                        "Missing required query parameter: api-version", NULL, NULL, NULL);
            return -1;
        }
        op = gw_span_make(slash, rest.len - (size_t)(slash - rest.ptr));
    } else {
        return 0;
    }
    int n = snprintf(buf, cap, "/v1%.*s", (int)op.len, op.ptr);
    *path = gw_span_make(buf, n > 0 && (size_t)n < cap ? (size_t)n : 0);
    return 0;
}

void gw_mock_dispatch(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span head,
                      struct gw_span body)
{
    struct gw_mock_worker *w = c->w;
    struct gw_mock_plan *p = &c->plan;
    memset(p, 0, sizeof(*p));
    p->mode = GW_MOCK_MODE_DONE;
    p->keepalive = (req->flags & GW_H1_F_KEEPALIVE) != 0;
    p->http10 = req->minor_version == 0;
    p->id = w->req_seq++ * gw_mock.nworkers + w->id + 1;
    p->created = (int64_t)time(NULL);

    struct gw_span path = req->target;
    const char *q = memchr(path.ptr, '?', path.len);
    if (q)
        path.len = (size_t)(q - path.ptr);

    if (span_has_prefix(path, "/mock/")) {
        if (gw_mock_span_is(path, "/mock/stats"))
            mock_stats(c);
        else if (gw_mock_span_is(path, "/mock/last"))
            mock_last(c);
        else
            reply_error(c, 404, "invalid_request_error", "Unknown mock endpoint", NULL, NULL, NULL);
        gw_mock_scratch_trim(w);
        return;
    }

    gw_mock_ctr_inc(&w->ctr.requests);
    record_last(w, head, body);
    if (gw_mock_span_is(req->method, "POST") && gw_mock_span_is(path, "/v1/messages")) {
        gw_mock_anthropic_messages(c, req, body); /* checks its own auth headers */
        gw_mock_scratch_trim(w);
        return;
    }
    /* The other dialects check their own auth headers too. */
    if (span_has_prefix(path, "/v1beta/models/")) {
        gw_mock_gemini(c, req, path, body);
        gw_mock_scratch_trim(w);
        return;
    }
    if (span_has_prefix(path, "/v2/")) {
        gw_mock_cohere(c, req, path, body);
        gw_mock_scratch_trim(w);
        return;
    }
    if (span_has_prefix(path, "/model/")) {
        gw_mock_bedrock(c, req, path, body);
        gw_mock_scratch_trim(w);
        return;
    }
    bool azure = span_has_prefix(path, "/openai/");
    if (gw_mock.api_key && !(azure ? azure_authorized(req) : authorized(req))) {
        reply_error(c, 401, "invalid_request_error", "Incorrect API key provided", NULL,
                    "invalid_api_key", NULL);
        return;
    }
    char azbuf[256];
    if (azure && azure_path(c, req, &path, azbuf, sizeof(azbuf)) < 0) {
        gw_mock_scratch_trim(w);
        return;
    }
    bool post = gw_mock_span_is(req->method, "POST"), get = gw_mock_span_is(req->method, "GET");
    if (post && gw_mock_span_is(path, "/v1/chat/completions")) {
        chat_completions(c, body);
    } else if (post && gw_mock_span_is(path, "/v1/embeddings")) {
        embeddings(c, body);
    } else if (get && gw_mock_span_is(path, "/v1/models")) {
        reply_json(c, render_models, NULL);
    } else if (get && span_has_prefix(path, "/v1/models/")) {
        model_one(c, gw_span_make(path.ptr + 11, path.len - 11));
    } else {
        char msg[320];
        snprintf(msg, sizeof(msg), "Invalid URL (%.*s %.*s)", (int)GW_MIN(req->method.len, 16),
                 req->method.ptr, (int)GW_MIN(req->target.len, 256), req->target.ptr);
        reply_error(c, 404, "invalid_request_error", msg, NULL, NULL, NULL);
    }
    gw_mock_scratch_trim(w);
}
