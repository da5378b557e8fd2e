/*
 * providers/oai.c — the OpenAI writer every translating dialect answers with
 * (providers/oai.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "providers/oai.h"

static size_t strlen0(const char *s)
{
    return s ? strlen(s) : 0;
}

size_t gw_oai_head_room(const struct gw_xlate *x)
{
    /* the model and request id may be escaped: twice their length */
    return 2 * (strlen0(x->client_model) + strlen0(x->request_id)) + 1024;
}

void gw_oai_head(struct gw_jw *w, const struct gw_xlate *x, const char *object)
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
    gw_jw_key(w, "object");
    gw_jw_cstr(w, object);
    gw_jw_key(w, "created");
    gw_jw_uint(w, x->created);
    gw_jw_key(w, "model");
    gw_jw_cstr(w, x->client_model ? x->client_model : "");
}

void gw_oai_usage(struct gw_jw *w, const struct gw_xlate_usage *u)
{
    gw_jw_key(w, "usage");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "prompt_tokens");
    gw_jw_uint(w, u->prompt_tokens);
    gw_jw_key(w, "completion_tokens");
    gw_jw_uint(w, u->completion_tokens);
    gw_jw_key(w, "total_tokens");
    gw_jw_uint(w, gw_xlate_tokens_add(u->prompt_tokens, u->completion_tokens));
    gw_jw_key(w, "prompt_tokens_details");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "cached_tokens");
    gw_jw_uint(w, u->cached_tokens);
    gw_jw_obj_end(w);
    gw_jw_key(w, "completion_tokens_details");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "reasoning_tokens");
    gw_jw_uint(w, u->reasoning_tokens);
    gw_jw_obj_end(w);
    gw_jw_obj_end(w);
}

void gw_oai_completion_begin(struct gw_jw *w, const struct gw_xlate *x)
{
    gw_jw_obj_begin(w);
    gw_oai_head(w, x, "chat.completion");
    gw_jw_key(w, "choices");
    gw_jw_arr_begin(w);
}

void gw_oai_completion_end(struct gw_jw *w, const struct gw_xlate_usage *u)
{
    gw_jw_arr_end(w);
    gw_oai_usage(w, u);
    gw_jw_obj_end(w);
}

int gw_oai_completion_open(struct gw_jw *w, const struct gw_xlate *x, size_t extra)
{
    size_t cap = extra + gw_oai_head_room(x);
    char *buf = gw_arena_alloc(x->arena, cap);
    if (!buf)
        return -1;
    gw_jw_init(w, buf, cap);
    gw_oai_completion_begin(w, x);
    return 0;
}

int gw_oai_completion_close(struct gw_jw *w, const struct gw_xlate_usage *usage,
                            struct gw_span *out, struct gw_xlate_usage *u)
{
    gw_oai_completion_end(w, usage);
    if (w->overflow)
        return -1;
    if (u)
        *u = *usage;
    *out = gw_span_make(w->buf, w->len);
    return 0;
}

void gw_oai_choice_begin(struct gw_jw *w, uint64_t index)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "index");
    gw_jw_uint(w, index);
    gw_jw_key(w, "message");
    gw_jw_obj_begin(w);
    gw_jw_key(w, "role");
    gw_jw_cstr(w, "assistant");
}

int gw_oai_text_init(struct gw_oai_text *t, struct gw_arena *a, size_t len)
{
    *t = (struct gw_oai_text){.buf = gw_arena_alloc(a, len + 1), .cap = len};
    return t->buf ? 0 : -1;
}

int gw_oai_text_add(struct gw_oai_text *t, struct gw_span raw)
{
    long k = gw_json_unescape(raw, t->buf + t->len, t->cap - t->len);
    if (k < 0)
        return -1;
    t->len += (size_t)k;
    t->have = true;
    return 0;
}

void gw_oai_message_content(struct gw_jw *w, const struct gw_oai_text *t, bool tool_calls)
{
    gw_jw_key(w, "content");
    if (t && t->have)
        gw_jw_str(w, t->buf, t->len);
    else
        gw_jw_null(w);
    if (tool_calls) {
        gw_jw_key(w, "tool_calls");
        gw_jw_arr_begin(w);
    }
}

int gw_oai_message_open(struct gw_jw *w, const struct gw_xlate *x, size_t extra,
                        const struct gw_oai_text *text, bool tool_calls)
{
    if (gw_oai_completion_open(w, x, extra) != 0)
        return -1;
    gw_oai_choice_begin(w, 0);
    gw_oai_message_content(w, text, tool_calls);
    return 0;
}

int gw_oai_message_blocks(struct gw_jw *w, const struct gw_xlate *x, size_t len,
                          const struct gw_jv *blocks, gw_oai_block_fn read)
{
    struct gw_oai_text text;
    struct gw_jv_it it;
    struct gw_jv b, t;
    struct gw_oai_call call;
    bool calls = false;
    int r, k;
    /* Pass 1: the text joined, and whether there are calls. */
    if (gw_oai_text_init(&text, x->arena, len) != 0 || gw_jv_arr_begin(&it, blocks) != 0)
        return -1;
    while ((r = gw_jv_arr_next(&it, &b)) == 1) {
        if ((k = read(&b, &t, &call)) < 0)
            return -1;
        if (k == GW_OAI_BLOCK_TEXT && gw_oai_text_add(&text, t.str) != 0)
            return -1;
        calls |= k == GW_OAI_BLOCK_CALL;
    }
    /* Call arguments are escaped into strings: at most 6 bytes per byte
     * (control characters as \u00XX; the tokenizer refuses raw ones, so 2). */
    if (r != 0 || gw_oai_message_open(w, x, 2 * len, &text, calls) != 0)
        return -1;
    if (calls) {
        (void)gw_jv_arr_begin(&it, blocks); /* pass 1 read every block */
        while (gw_jv_arr_next(&it, &b) == 1)
            if (read(&b, &t, &call) == GW_OAI_BLOCK_CALL)
                gw_oai_tool_call(w, &call);
        gw_jw_arr_end(w);
    }
    gw_oai_message_end(w);
    return 0;
}

void gw_oai_message_end(struct gw_jw *w)
{
    gw_jw_key(w, "refusal");
    gw_jw_null(w);
    gw_jw_obj_end(w);
}

/* A choice's "finish_reason" (NULL: null), and the choice closed. */
static void finish_end(struct gw_jw *w, const char *finish)
{
    gw_jw_key(w, "finish_reason");
    if (finish)
        gw_jw_cstr(w, finish);
    else
        gw_jw_null(w);
    gw_jw_obj_end(w);
}

void gw_oai_choice_end(struct gw_jw *w, bool logprobs_written, const char *finish)
{
    if (!logprobs_written) {
        gw_jw_key(w, "logprobs");
        gw_jw_null(w);
    }
    finish_end(w, finish);
}

void gw_oai_logprobs_begin(struct gw_jw *w)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "content");
    gw_jw_arr_begin(w);
}

void gw_oai_logprobs_end(struct gw_jw *w)
{
    gw_jw_arr_end(w);
    gw_jw_key(w, "refusal");
    gw_jw_null(w);
    gw_jw_obj_end(w);
}

/* A string member: a token as is, or text escaped. */
static void str_member(struct gw_jw *w, const char *key, struct gw_span s, bool text)
{
    gw_jw_key(w, key);
    if (text)
        gw_jw_str(w, s.ptr, s.len);
    else
        gw_jw_raw(w, s.ptr, s.len);
}

void gw_oai_tool_call(struct gw_jw *w, const struct gw_oai_call *c)
{
    gw_jw_obj_begin(w);
    if (c->index >= 0) {
        gw_jw_key(w, "index");
        gw_jw_uint(w, (uint64_t)c->index);
    }
    if (c->id.ptr) {
        str_member(w, "id", c->id, c->id_text);
        gw_jw_key(w, "type");
        gw_jw_cstr(w, "function");
    }
    gw_jw_key(w, "function");
    gw_jw_obj_begin(w);
    if (c->name.ptr)
        str_member(w, "name", c->name, c->name_text);
    if (c->args.ptr)
        str_member(w, "arguments", c->args, c->args_text);
    else
        str_member(w, "arguments", c->args_text ? gw_span_make("{}", 2) : gw_span_make("\"\"", 2),
                   c->args_text);
    gw_jw_obj_end(w);
    gw_jw_obj_end(w);
}

void gw_oai_error_write(struct gw_jw *w, const struct gw_oai_error *e)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "error");
    gw_jw_obj_begin(w);
    str_member(w, "message", e->message, !e->message_json);
    str_member(w, "type", e->type, !e->type_json);
    gw_jw_key(w, "param");
    if (e->param)
        gw_jw_cstr(w, e->param);
    else
        gw_jw_null(w);
    gw_jw_key(w, "code");
    if (e->code)
        gw_jw_cstr(w, e->code);
    else
        gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_obj_end(w);
}

/* The most bytes text escapes to (\u00XX for a control character). */
static size_t escaped_max(struct gw_span s, bool json)
{
    return json ? s.len : 6 * s.len;
}

int gw_oai_error_body(struct gw_arena *a, const struct gw_oai_error *e, int status,
                      struct gw_span *out, int *out_status)
{
    size_t cap = escaped_max(e->message, e->message_json) + escaped_max(e->type, e->type_json) +
                 6 * (strlen0(e->param) + strlen0(e->code)) + 128;
    char *buf = gw_arena_alloc(a, cap);
    *out = GW_SPAN_NULL;
    if (!buf)
        return -1;
    struct gw_jw w;
    gw_jw_init(&w, buf, cap);
    gw_oai_error_write(&w, e);
    if (w.overflow) /* cannot happen: cap is what the escaped members can take */
        return -1;
    *out = gw_span_make(buf, w.len);
    if (out_status)
        *out_status = status;
    return 0;
}

struct gw_span gw_oai_status_message(char *buf, size_t cap, int status)
{
    int n = snprintf(buf, cap, "upstream provider error (HTTP %d)", status);
    return gw_span_make(buf, n < 0 ? 0 : GW_MIN((size_t)n, cap ? cap - 1 : 0));
}

int gw_oai_client_status(int status)
{
    return status >= 400 && status <= 599 ? status : 502;
}

/* ---- streams ---- */

void gw_oai_stream_init(struct gw_oai_stream *o, const struct gw_xlate *x)
{
    memset(o, 0, sizeof(*o));
    o->_x = x;
}

struct gw_jw *gw_oai_chunk_begin(struct gw_oai_stream *o, size_t extra)
{
    const struct gw_xlate *x = o->_x;
    size_t need = 2 * extra + gw_oai_head_room(x);
    if (need > o->_out_cap) {
        size_t cap = o->_out_cap ? o->_out_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *p = gw_arena_alloc(x->arena, cap);
        if (!p)
            return NULL;
        o->_out = p;
        o->_out_cap = cap;
    }
    memcpy(o->_out, "data: ", 6);
    gw_jw_init(&o->_w, o->_out + 6, o->_out_cap - 8);
    return &o->_w;
}

static int sink_write(const struct gw_xlate_sink *sink, const char *p, size_t n)
{
    return sink->write(sink->arg, p, n) < 0 ? -1 : 0;
}

int gw_oai_chunk_send(struct gw_oai_stream *o, const struct gw_xlate_sink *sink)
{
    struct gw_jw *w = &o->_w;
    if (w->overflow)
        return -1;
    memcpy(o->_out + 6 + w->len, "\n\n", 2);
    return sink_write(sink, o->_out, w->len + 8);
}

void gw_oai_chunk_head(struct gw_oai_stream *o, uint64_t index)
{
    struct gw_jw *w = &o->_w;
    gw_jw_obj_begin(w);
    gw_oai_head(w, o->_x, "chat.completion.chunk");
    gw_jw_key(w, "choices");
    gw_jw_arr_begin(w);
    gw_jw_obj_begin(w);
    gw_jw_key(w, "index");
    gw_jw_uint(w, index);
    gw_jw_key(w, "delta");
    gw_jw_obj_begin(w);
    uint64_t bit = index < 64 ? (uint64_t)1 << index : 0;
    if (bit && !(o->_roles & bit)) {
        gw_jw_key(w, "role");
        gw_jw_cstr(w, "assistant");
        o->_roles |= bit;
    }
}

/* Closes a chunk's choice (after its delta) with the finish reason, and the chunk. */
static void chunk_choice_end(struct gw_oai_stream *o, const char *finish)
{
    finish_end(&o->_w, finish);
    gw_jw_arr_end(&o->_w);
    gw_jw_obj_end(&o->_w);
}

void gw_oai_chunk_tail(struct gw_oai_stream *o, const char *finish)
{
    gw_jw_obj_end(&o->_w); /* delta */
    chunk_choice_end(o, finish);
}

struct gw_jw *gw_oai_chunk_content_begin(struct gw_oai_stream *o, uint64_t index,
                                         struct gw_span content_json, size_t extra)
{
    struct gw_jw *w = gw_oai_chunk_begin(o, content_json.len + extra);
    if (!w)
        return NULL;
    gw_oai_chunk_head(o, index);
    gw_jw_key(w, "content");
    gw_jw_raw(w, content_json.ptr, content_json.len);
    gw_jw_obj_end(w); /* delta */
    return w;
}

int gw_oai_chunk_content_send(struct gw_oai_stream *o, const struct gw_xlate_sink *sink)
{
    chunk_choice_end(o, NULL);
    return gw_oai_chunk_send(o, sink);
}

int gw_oai_chunk_content(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index,
                         struct gw_span content_json)
{
    if (!gw_oai_chunk_content_begin(o, index, content_json, 0))
        return -1;
    return gw_oai_chunk_content_send(o, sink);
}

int gw_oai_chunk_role(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index)
{
    return gw_oai_chunk_content(o, sink, index, GW_SPAN_LIT("\"\""));
}

int gw_oai_chunk_finish(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index,
                        const char *finish)
{
    if (!gw_oai_chunk_begin(o, 0))
        return -1;
    gw_oai_chunk_head(o, index);
    gw_oai_chunk_tail(o, finish);
    return gw_oai_chunk_send(o, sink);
}

int gw_oai_chunk_tool_call(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                           uint64_t index, const struct gw_oai_call *c)
{
    /* A text field is escaped here: a control byte takes 6 ("\u0001"), and
     * chunk_begin allows 2 per byte, so count text 3 times. */
    size_t extra = (c->id_text ? 3 : 1) * c->id.len + (c->name_text ? 3 : 1) * c->name.len +
                   (c->args_text ? 3 : 1) * c->args.len;
    struct gw_jw *w = gw_oai_chunk_begin(o, extra);
    if (!w)
        return -1;
    gw_oai_chunk_head(o, index);
    gw_jw_key(w, "tool_calls");
    gw_jw_arr_begin(w);
    gw_oai_tool_call(w, c);
    gw_jw_arr_end(w);
    gw_oai_chunk_tail(o, NULL);
    return gw_oai_chunk_send(o, sink);
}

static int done_line(const struct gw_xlate_sink *sink)
{
    static const char done[] = "data: [DONE]\n\n";
    return sink_write(sink, done, sizeof(done) - 1);
}

int gw_oai_stream_finish(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                         const struct gw_xlate_usage *u)
{
    o->done = true;
    if (o->_x->want_usage && u) {
        struct gw_jw *w = gw_oai_chunk_begin(o, 0);
        if (!w)
            goto fail;
        gw_jw_obj_begin(w);
        gw_oai_head(w, o->_x, "chat.completion.chunk");
        gw_jw_key(w, "choices");
        gw_jw_arr_begin(w);
        gw_jw_arr_end(w);
        gw_oai_usage(w, u);
        gw_jw_obj_end(w);
        if (gw_oai_chunk_send(o, sink) != 0)
            goto fail;
    }
    if (done_line(sink) != 0)
        goto fail;
    return 1;
fail:
    o->failed = true;
    return -1;
}

int gw_oai_stream_error(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                        const struct gw_oai_error *e, int ret)
{
    o->done = true;
    o->failed = ret < 0;
    struct gw_jw *w = gw_oai_chunk_begin(o, e->message.len + e->type.len);
    if (!w)
        goto fail;
    gw_oai_error_write(w, e);
    if (gw_oai_chunk_send(o, sink) != 0 || done_line(sink) != 0)
        goto fail;
    return ret;
fail:
    o->failed = true;
    return -1;
}

int gw_oai_stream_fail(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                       const char *message, int ret)
{
    struct gw_oai_error e = {
        .message = gw_span_make(message, strlen(message)),
        .type = gw_span_make("server_error", 12),
    };
    return gw_oai_stream_error(o, sink, &e, ret);
}

int gw_oai_stream_state(const struct gw_oai_stream *o)
{
    if (!o->done)
        return 0;
    return o->failed ? -1 : 1;
}

int gw_oai_stream_ended(struct gw_oai_stream *o, int r)
{
    o->done = true;
    o->failed |= r < 0;
    return r < 0 ? -1 : 1;
}

int gw_oai_stream_cut(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                      const char *message)
{
    if (o->done)
        return gw_oai_stream_state(o);
    return gw_oai_stream_fail(o, sink, message, -1);
}

/* What one gw_oai_stream_feed_sse call hands each event to. */
struct sse_feed {
    gw_oai_event_fn fn;
    void *st;
    const struct gw_xlate_sink *sink;
    struct gw_xlate_usage *u;
};

static int on_sse_event(void *arg, struct gw_span event, struct gw_span data)
{
    struct sse_feed *f = arg;
    return f->fn(f->st, event, data, f->sink, f->u);
}

int gw_oai_stream_feed_sse(struct gw_oai_stream *o, struct gw_sse_reader *r, const char *data,
                           size_t len, gw_oai_event_fn fn, void *st,
                           const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    if (o->done)
        return gw_oai_stream_state(o);
    struct sse_feed f = {fn, st, sink, u};
    int ret = gw_sse_reader_feed(r, data, len, on_sse_event, &f);
    if (ret == GW_SSE_OVERSIZE)
        return gw_oai_stream_fail(o, sink, "upstream stream event over 1 MiB", -1);
    return ret == 0 ? 0 : gw_oai_stream_ended(o, ret); /* GW_SSE_NOMEM included */
}
