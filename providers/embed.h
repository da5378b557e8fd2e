/*
 * providers/embed.h — what the translating dialects share for POST
 * /v1/embeddings: reading OpenAI's request, and writing OpenAI's answer
 * {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
 *  "model":...,"usage":{"prompt_tokens":N,"total_tokens":N}}.
 *
 * OpenAI's encoding_format "base64" (the openai SDKs ask for it by default)
 * is each vector as little-endian float32, base64-encoded; gw_xlate's
 * embed_base64 says which the client asked for.
 */
#ifndef GW_PROVIDERS_EMBED_H
#define GW_PROVIDERS_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/span.h"
#include "providers/xlate.h"

/* The most inputs one request may carry (OpenAI's own limit is 2048). */
#define GW_EMBED_MAX_INPUTS 2048

struct gw_embed_req {
    struct gw_span *inputs; /* arena: each a JSON string token as sent, quotes included */
    size_t n;
    long dimensions; /* "dimensions", or -1 when absent */
    bool base64;     /* encoding_format "base64" */
};

/*
 * OpenAI embeddings request body[0..len) -> *out. "input" must be a string or
 * a non-empty array of strings (token arrays are refused: no dialect here
 * takes them), "dimensions" a positive integer, "encoding_format" "float" or
 * "base64". Returns 0, or -1 with *err filled (400, param).
 */
int gw_embed_parse(const struct gw_xlate *x, const char *body, size_t len, struct gw_embed_req *out,
                   struct gw_xlate_err *err);

/*
 * OpenAI's list for vectors[0..n), each the JSON text of an array of numbers
 * ("[0.1,-2e-3]"), in x->embed_base64's encoding, with "model" the client's
 * name, into *out (x->arena). Returns 0, or -1 when a vector is not an array
 * of numbers or the arena is exhausted.
 */
int gw_embed_write(const struct gw_xlate *x, const struct gw_span *vectors, size_t n,
                   uint64_t prompt_tokens, struct gw_span *out);

#endif
