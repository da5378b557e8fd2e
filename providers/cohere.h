/*
 * providers/cohere.h — Cohere's v2 API dialect (POST /v2/chat, POST /v2/embed).
 *
 * Pure translation between OpenAI's chat completions and embeddings APIs and
 * Cohere's v2 Chat and Embed APIs, as described in providers/xlate.h: every
 * output lives in the caller's arena (x->arena) or goes through the sink; no
 * I/O. Reference: https://docs.cohere.com/reference/chat,
 * https://docs.cohere.com/reference/chat-stream,
 * https://docs.cohere.com/reference/embed, https://docs.cohere.com/reference/errors
 * (v2, the API's default version; the field set matches the v2 client of the
 * official cohere SDKs).
 *
 * What does not translate (each refused with a 400 naming the field, unless
 * listed as dropped):
 *   - refused: n > 1, logit_bias (non-empty), top_logprobs > 0 (Cohere reports
 *     only the chosen token's log probability), parallel_tool_calls false with
 *     tools, audio, modalities other than text, functions/function_call (use
 *     tools), reasoning_effort, web_search_options, frequency_penalty or
 *     presence_penalty outside Cohere's 0..1, tools mixing strict and
 *     non-strict functions, non-function tools, content parts other than
 *     text and image_url, images outside user messages;
 *   - dropped (harmless): user, store, metadata, service_tier, prediction,
 *     stream_options (the gateway reads include_usage), prompt_cache_key,
 *     safety_identifier, a message's name, tool_choice "auto",
 *     response_format "text", refusal parts of earlier assistant turns, and
 *     any other field this file does not know;
 *   - adjusted: top_p is Cohere's p, which takes 0.01..0.99: a value outside
 *     is clamped and the client is told (x-conduit-warning); a named
 *     tool_choice becomes tool_choice "REQUIRED" with only that function in
 *     tools (Cohere cannot name one); response_format json_schema becomes
 *     {"type":"json_object","json_schema":<schema>} (name and strict are lost).
 * Response features lost: tool_plan (Cohere's reasoning before tool calls) and
 * thinking content are dropped; citations are dropped; logprobs come per text
 * chunk (one entry per chunk, its tokens' log probabilities summed, no
 * top_logprobs). finish_reason ERROR or TIMEOUT: a non-streamed answer is
 * refused (the client gets 502, its text being unreliable); a stream ends with
 * an error chunk carrying Cohere's message, then "data: [DONE]".
 */
#ifndef GW_PROVIDERS_COHERE_H
#define GW_PROVIDERS_COHERE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/span.h"
#include "core/sse.h"
#include "providers/oai.h"
#include "providers/xlate.h"

/* The largest stream event (all its data lines together) the translator holds. */
#define GW_COHERE_EVENT_MAX GW_OAI_EVENT_MAX
/* Cohere's Embed API takes at most this many texts per call. */
#define GW_COHERE_EMBED_MAX_TEXTS 96
/* input_type sent with every embed request unless the client names one: OpenAI
 * has no such field, and Cohere's v3+ embed models require it. */
#define GW_COHERE_EMBED_INPUT_TYPE "search_document"

/*
 * OpenAI chat completion request JSON body[0..len) -> the Cohere v2 chat
 * request: out->path "/v2/chat", out->headers (authorization: Bearer when the
 * provider has a key), out->body, out->warning (NULL, or a note when top_p
 * was clamped). Returns 0, or -1 with *err filled (status 400, message,
 * param) for a request Cohere cannot take or that is invalid (a function name
 * outside providers/xbound.h's rule, a body that would pass its size limit
 * included), or status 500 when the arena is exhausted.
 */
int gw_cohere_build_request(const struct gw_xlate *x, const char *body, size_t len,
                            struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * A complete 2xx Cohere chat response body[0..len) -> OpenAI's
 * chat.completion JSON in *out (arena memory), and the usage in *u (u may be
 * NULL). Returns 0, or -1 when the body is not a Cohere chat response, when
 * its finish_reason is ERROR or TIMEOUT, or when the arena is exhausted.
 */
int gw_cohere_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                 struct gw_span *out, struct gw_xlate_usage *u);

/*
 * A non-2xx Cohere body {"id":..,"message":".."} with HTTP `status` ->
 * OpenAI's {"error":{"message","type","param","code"}} in *out (memory from a)
 * and the status the client should see in *out_status (422 becomes 400, 498
 * 401, 499 502). A body without a message gives a generic message naming the
 * status. Returns 0, or -1 when the arena is exhausted.
 */
int gw_cohere_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                              struct gw_arena *a, struct gw_span *out, int *out_status);

/*
 * OpenAI embeddings request body[0..len) -> POST /v2/embed with "texts",
 * "input_type" (the request's own "input_type" when it names one of Cohere's,
 * else GW_COHERE_EMBED_INPUT_TYPE), "embedding_types":["float"] and
 * "output_dimension" from "dimensions". Returns 0, or -1 with *err filled
 * (400 with param; more than GW_COHERE_EMBED_MAX_TEXTS inputs is a 400, and
 * so is a body that would pass providers/xbound.h's size limit).
 */
int gw_cohere_build_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * A complete 2xx embed response {"embeddings":{"float":[[..],..]},
 * "meta":{"billed_units":{"input_tokens":N}}} -> OpenAI's list (float or
 * base64 per x->embed_base64) with prompt_tokens N, usage in *u (may be
 * NULL). Returns 0, or -1 when the body has no float embeddings or the arena
 * is exhausted.
 */
int gw_cohere_translate_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                                   struct gw_span *out, struct gw_xlate_usage *u);

/*
 * Stream translator state: fixed size; the partial upstream event (core/sse.h's
 * reader) and the chunk being written (providers/oai.h's stream) live in
 * x->arena, the event buffer growing by doubling up to GW_COHERE_EVENT_MAX and
 * the output to a small multiple of the largest event, so memory is bounded
 * whatever the stream. All fields are private.
 */
struct gw_cohere_stream {
    const struct gw_xlate *_x;
    struct gw_oai_stream _o;   /* the OpenAI side; its done and failed are the stream's */
    struct gw_sse_reader _sse; /* the upstream event being read */
    uint32_t _tool_count;      /* tool-call-start events seen: the next OpenAI tool_calls index */
    bool _started;             /* a chunk is written: a message-start has nothing left to open */
};

/* Sets up *s for one response of the request x (x and its arena outlive s). */
void gw_cohere_stream_init(struct gw_cohere_stream *s, const struct gw_xlate *x);
/*
 * Feeds the next data[0..len) of the upstream SSE stream (after HTTP
 * de-chunking, split anywhere, LF, CRLF or CR line ends) and writes the
 * OpenAI chunks it completes to the sink: "data: {chat.completion.chunk}\n\n",
 * a usage chunk before the end when x->want_usage, then "data: [DONE]\n\n"
 * after message-end. Usage seen so far goes to *u (may be NULL). A
 * message-end whose finish_reason is ERROR or TIMEOUT becomes one
 * OpenAI-shaped error chunk, data: {"error":{...}}, followed by
 * "data: [DONE]\n\n", and ends the stream. An event whose data is empty is
 * skipped (the SSE rule), and so is a "data: [DONE]" some relays add.
 * Returns 0 to go on, 1 once the stream has ended ([DONE], or that error chunk
 * and [DONE], written; later input is ignored), -1 when the translation
 * stopped: the upstream stream is broken (invalid event JSON, an event over
 * GW_COHERE_EVENT_MAX; an error chunk and [DONE] are written) or the sink
 * refused or the arena is exhausted.
 */
int gw_cohere_stream_feed(struct gw_cohere_stream *s, const char *data, size_t len,
                          const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);
/*
 * The upstream stream ended. Returns 1 when it had ended properly (feed
 * returned 1), -1 when it had failed, or else (cut short before message-end)
 * writes an error chunk and "data: [DONE]" and returns -1. An unterminated
 * last event is discarded, as the SSE rules say.
 */
int gw_cohere_stream_end(struct gw_cohere_stream *s, const struct gw_xlate_sink *sink,
                         struct gw_xlate_usage *u);

#endif
