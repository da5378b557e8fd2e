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
    gw_jw_uint(w, u->prompt_tokens + u->completion_tokens);
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

void gw_oai_message_end(struct gw_jw *w)
{
    gw_jw_key(w, "refusal");
    gw_jw_null(w);
    gw_jw_obj_end(w);
}

void gw_oai_choice_end(struct gw_jw *w, bool logprobs_written, const char *finish)
{
    if (!logprobs_written) {
        gw_jw_key(w, "logprobs");
        gw_jw_null(w);
    }
    gw_jw_key(w, "finish_reason");
    if (finish)
        gw_jw_cstr(w, finish);
    else
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
    size_t need = 2 * extra + 2 * (strlen0(x->client_model) + strlen0(x->request_id)) + 1024;
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

void gw_oai_chunk_tail(struct gw_oai_stream *o, const char *finish)
{
    struct gw_jw *w = &o->_w;
    gw_jw_obj_end(w); /* delta */
    gw_jw_key(w, "finish_reason");
    if (finish)
        gw_jw_cstr(w, finish);
    else
        gw_jw_null(w);
    gw_jw_obj_end(w);
    gw_jw_arr_end(w);
    gw_jw_obj_end(w);
}

int gw_oai_chunk_content(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index,
                         struct gw_span content_json)
{
    struct gw_jw *w = gw_oai_chunk_begin(o, content_json.len);
    if (!w)
        return -1;
    gw_oai_chunk_head(o, index);
    gw_jw_key(w, "content");
    gw_jw_raw(w, content_json.ptr, content_json.len);
    gw_oai_chunk_tail(o, NULL);
    return gw_oai_chunk_send(o, sink);
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
    struct gw_jw *w = gw_oai_chunk_begin(o, c->id.len + c->name.len + c->args.len);
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
    if (o->_x->want_usage) {
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
