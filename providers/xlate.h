/*
 * providers/xlate.h — translation between OpenAI's chat completions API (what
 * clients speak) and a provider's own dialect (what the upstream speaks).
 *
 * Every function here is pure: it reads spans and writes into the request's
 * arena or through an output callback, and never does I/O (core/ARCHITECTURE.md). The
 * OpenAI-compatible family needs none of it (the body is forwarded with
 * "model" rewritten); native dialects (Anthropic first) implement:
 *   - build_request: OpenAI request JSON -> upstream path, headers, body;
 *   - translate_response: a complete 2xx upstream body -> OpenAI's
 *     chat.completion JSON, plus usage;
 *   - translate_error: a non-2xx upstream body -> OpenAI's error object and
 *     the status the client should see;
 *   - a stream translator: upstream stream bytes (after HTTP de-chunking, in
 *     any split) -> OpenAI chat.completion.chunk events "data: {...}\n\n",
 *     ending with "data: [DONE]\n\n", with bounded state and no allocation
 *     per event beyond the arena.
 */
#ifndef GW_PROVIDERS_XLATE_H
#define GW_PROVIDERS_XLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/span.h"
#include "providers/provider.h"

/* What a translator knows about the request it translates. */
struct gw_xlate {
    const struct gw_provider *prov; /* the provider (version settings, keys) */
    const char *upstream_model;     /* the provider's model name */
    const char *client_model;       /* the name the client asked for (echoed as "model") */
    enum gw_endpoint ep;            /* chat completions or embeddings */
    bool stream;                    /* the client asked for a stream */
    bool want_usage;                /* the client asked for stream_options.include_usage */
    bool embed_base64;              /* embeddings: the client asked for encoding_format "base64" */
    const char *request_id;         /* for ids: "chatcmpl-<request_id>" */
    uint64_t created;               /* unix seconds, for "created" (and request signing) */
    struct gw_arena *arena;         /* every output lives here, freed with the request */
    size_t out_max;                 /* most bytes a translation may take; 0: GW_XBOUND_MAX */
};

/* A request the translator refuses: the client gets `status` (400) with this message. */
struct gw_xlate_err {
    int status;
    const char *param; /* the offending request field, or NULL */
    char message[256];
};

/* The upstream request a translator builds. */
struct gw_xlate_req {
    const char *path;       /* appended to the provider's base_path, e.g. "/v1/messages" */
    struct gw_span headers; /* extra header lines, each "name: value\r\n" (auth, versions) */
    struct gw_span body;    /* JSON */
    const char *warning;    /* non-NULL: a note for the client's x-conduit-warning header */
};

struct gw_xlate_usage {
    uint64_t prompt_tokens;     /* OpenAI's meaning: all input tokens, cached ones included */
    uint64_t completion_tokens; /* reasoning tokens included */
    uint64_t cached_tokens;     /* input tokens read from a cache */
    uint64_t reasoning_tokens;  /* output tokens the model spent thinking */
    uint64_t cache_creation_tokens;
    bool have;
};

/*
 * Token counts added without wrapping: an upstream may send any number, and a
 * sum that wrapped would bill a huge answer as a small one.
 */
static inline uint64_t gw_xlate_tokens_add(uint64_t a, uint64_t b)
{
    uint64_t s;
    return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

/* Where translated stream events go (the relay's client queue). 0, or <0 to stop. */
struct gw_xlate_sink {
    int (*write)(void *arg, const char *p, size_t n);
    void *arg;
};

#endif
