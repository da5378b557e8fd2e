/*
 * providers/dialect.h — the translating dialects behind one table, so the
 * request path asks "does this provider need translation, and how" in one
 * place. The OpenAI-compatible family (openai, azure, presets) has no entry:
 * its body passes through with "model" rewritten.
 */
#ifndef GW_PROVIDERS_DIALECT_H
#define GW_PROVIDERS_DIALECT_H

#include <stddef.h>

#include "core/config.h"
#include "providers/xlate.h"

struct gw_dialect {
    const char *name;
    /* OpenAI request -> upstream request; -1 with err filled for a 400. */
    int (*build_request)(const struct gw_xlate *x, const char *body, size_t len,
                         struct gw_xlate_req *out, struct gw_xlate_err *err);
    /* Complete 2xx body -> OpenAI chat.completion JSON; -1 when unparseable (502). */
    int (*translate_response)(const struct gw_xlate *x, const char *body, size_t len,
                              struct gw_span *out, struct gw_xlate_usage *u);
    /* Non-2xx body -> OpenAI error object and the client's status. error_type:
     * the value of the response header named by error_type_header (empty when
     * absent or the dialect names none). */
    int (*translate_error)(int status, struct gw_span error_type, const char *body, size_t len,
                           struct gw_arena *a, struct gw_span *out, int *out_status);
    /* A response header that says what kind of error a non-2xx answer is, for
     * statuses shared by several (Bedrock: "x-amzn-ErrorType"); NULL: none. */
    const char *error_type_header;
    /* The content type of a 2xx stream (its prefix, case-insensitive);
     * NULL: "text/event-stream". Bedrock: "application/vnd.amazon.eventstream". */
    const char *stream_ctype;
    /* POST /v1/embeddings; both NULL when the dialect serves none (the client gets
     * 400 unsupported_endpoint). build: OpenAI embeddings request -> upstream
     * request; translate: complete 2xx body -> OpenAI's {"object":"list",...}. */
    int (*build_embeddings)(const struct gw_xlate *x, const char *body, size_t len,
                            struct gw_xlate_req *out, struct gw_xlate_err *err);
    int (*translate_embeddings)(const struct gw_xlate *x, const char *body, size_t len,
                                struct gw_span *out, struct gw_xlate_usage *u);
    size_t stream_size; /* bytes of stream state, allocated in the request arena */
    void (*stream_init)(void *st, const struct gw_xlate *x);
    /* Upstream stream bytes -> OpenAI chunks through sink; -1 on a broken stream. */
    int (*stream_feed)(void *st, const char *data, size_t len, const struct gw_xlate_sink *sink,
                       struct gw_xlate_usage *u);
    /* The upstream stream ended: final chunks and "data: [DONE]". */
    int (*stream_end)(void *st, const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);
};

/*
 * The table's stream entries for a module whose stream functions take its own
 * state type: GW_DIALECT_STREAM_FNS(anthropic) defines anthropic_stream_init_v,
 * _feed_v and _end_v over gw_anthropic_stream_*.
 */
#define GW_DIALECT_STREAM_FNS(name)                                                                \
    static void name##_stream_init_v(void *st, const struct gw_xlate *x)                           \
    {                                                                                              \
        gw_##name##_stream_init(st, x);                                                            \
    }                                                                                              \
    static int name##_stream_feed_v(void *st, const char *data, size_t len,                        \
                                    const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)    \
    {                                                                                              \
        return gw_##name##_stream_feed(st, data, len, sink, u);                                    \
    }                                                                                              \
    static int name##_stream_end_v(void *st, const struct gw_xlate_sink *sink,                     \
                                   struct gw_xlate_usage *u)                                       \
    {                                                                                              \
        return gw_##name##_stream_end(st, sink, u);                                                \
    }

/* Each translating dialect's table, defined in its module (providers/<name>.c). */
extern const struct gw_dialect gw_dialect_anthropic;
extern const struct gw_dialect gw_dialect_gemini;
extern const struct gw_dialect gw_dialect_bedrock;
extern const struct gw_dialect gw_dialect_cohere;

/* The translating dialect for a provider type, or NULL for pass-through. */
const struct gw_dialect *gw_dialect_for(enum gw_provider_type t);

#endif
