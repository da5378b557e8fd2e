/*
 * providers/gemini.h — Google's Gemini API dialect (generativelanguage.googleapis.com,
 * API version v1beta): POST /v1beta/models/{model}:generateContent,
 * :streamGenerateContent?alt=sse and :batchEmbedContents.
 *
 * Pure translation between OpenAI's chat completions and embeddings APIs and
 * Gemini's, as described in providers/xlate.h: every output lives in the
 * caller's arena (x->arena) or goes through the sink; no I/O. Reference:
 * https://ai.google.dev/api/generate-content (GenerateContentRequest,
 * GenerationConfig, GenerateContentResponse, Candidate, FinishReason,
 * UsageMetadata, streamGenerateContent), https://ai.google.dev/api/caching
 * (Content, Part, FunctionCall, FunctionResponse, FunctionDeclaration,
 * ToolConfig), https://ai.google.dev/api/embeddings (batchEmbedContents)
 * and the google.rpc.Status error shape.
 *
 * What is translated, dropped or refused is listed in gemini.c's header.
 */
#ifndef GW_PROVIDERS_GEMINI_H
#define GW_PROVIDERS_GEMINI_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/span.h"
#include "core/sse.h"
#include "providers/oai.h"
#include "providers/xlate.h"

#define GW_GEMINI_API_VERSION "v1beta"
/* The largest stream event (all its data lines together) the translator holds. */
#define GW_GEMINI_EVENT_MAX GW_OAI_EVENT_MAX
/* GenerationConfig.candidateCount's ceiling: OpenAI's n above it is refused. */
#define GW_GEMINI_MAX_CANDIDATES 8

/*
 * OpenAI chat completion request JSON body[0..len) -> the Gemini request:
 * out->path "/v1beta/models/{model}:generateContent" (or
 * ":streamGenerateContent?alt=sse" when x->stream; the model name
 * percent-encoded), out->headers ("x-goog-api-key: <key>\r\n" when the
 * provider has a key), out->body (GenerateContentRequest), out->warning (NULL,
 * or a note for a request field Gemini cannot enforce). Returns 0, or -1 with
 * *err filled: status 400 with message and param for a request Gemini cannot
 * take or that is invalid (a function name outside providers/xbound.h's rule,
 * '.' and ':' allowed; a body that would pass its size limit, which the tool
 * name each tool result repeats counts against), status 500 when the arena is
 * exhausted.
 */
int gw_gemini_build_request(const struct gw_xlate *x, const char *body, size_t len,
                            struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * A complete 2xx GenerateContentResponse body[0..len) -> OpenAI's
 * chat.completion JSON in *out (arena memory), and the usage in *u (u may be
 * NULL). Returns 0, or -1 when the body is not a GenerateContentResponse (or
 * the arena is exhausted, or it would pass providers/xbound.h's ceiling).
 */
int gw_gemini_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                 struct gw_span *out, struct gw_xlate_usage *u);

/*
 * A non-2xx Gemini body {"error":{"code","message","status","details"}} with
 * HTTP `status` -> OpenAI's {"error":{"message","type","param","code"}} in
 * *out (memory from a) and the status the client should see in *out_status
 * (an invalid API key, which Gemini answers with 400 INVALID_ARGUMENT and
 * reason API_KEY_INVALID, becomes 401). A body that is not that shape gives
 * a generic message naming the status. Returns 0, or -1 when the arena is
 * exhausted.
 */
int gw_gemini_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                              struct gw_arena *a, struct gw_span *out, int *out_status);

/*
 * OpenAI embeddings request body[0..len) (read by gw_embed_parse) -> POST
 * /v1beta/models/{model}:batchEmbedContents with one EmbedContentRequest per
 * input, outputDimensionality from "dimensions". Returns as
 * gw_gemini_build_request.
 */
int gw_gemini_build_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * A complete 2xx BatchEmbedContentsResponse {"embeddings":[{"values":[...]}]}
 * -> OpenAI's embeddings list (gw_embed_write, in x->embed_base64's
 * encoding). Gemini reports no token counts for this call: the list says
 * prompt_tokens 0 and *u (may be NULL) is left without usage (have false).
 * Returns 0, or -1 when the body is not that shape or the arena is exhausted.
 */
int gw_gemini_translate_embeddings(const struct gw_xlate *x, const char *body, size_t len,
                                   struct gw_span *out, struct gw_xlate_usage *u);

/*
 * Stream translator state: fixed size; the partial event (core/sse.h's
 * reader, up to GW_GEMINI_EVENT_MAX) and the chunk being written
 * (providers/oai.h) live in x->arena, each growing by doubling, so memory is
 * bounded whatever the stream. Candidates are tracked per index (at most
 * GW_GEMINI_MAX_CANDIDATES), one bit each. All fields are private.
 */
struct gw_gemini_stream {
    const struct gw_xlate *_x;    /* borrows: the request being translated */
    struct gw_oai_stream _oai;    /* the OpenAI side; its done and failed end the stream */
    struct gw_sse_reader _sse;    /* the upstream's alt=sse events */
    struct gw_xlate_usage _usage; /* the last usageMetadata seen (have: one was) */
    uint32_t _tool_count[GW_GEMINI_MAX_CANDIDATES]; /* per choice: next tool_calls index */
    uint32_t _ids;     /* tool call ids generated so far (call_<request_id>_<n>) */
    uint8_t _seen;     /* candidate indexes that have appeared (role chunk sent) */
    uint8_t _finished; /* candidate indexes whose finish chunk went out */
    uint8_t _called;   /* candidate indexes that made a function call */
};

/* Sets up *s for one response of the request x (x and its arena outlive s). */
void gw_gemini_stream_init(struct gw_gemini_stream *s, const struct gw_xlate *x);
/*
 * Feeds the next data[0..len) of the upstream SSE stream (alt=sse; after
 * HTTP de-chunking, split anywhere; LF, CRLF or CR line ends) and writes the
 * OpenAI chunks it completes to the sink, "data: {chat.completion.chunk}\n\n":
 * per candidate a role chunk when it first appears, content deltas, one
 * complete tool_call delta per functionCall, and a finish chunk when its
 * finishReason arrives. Usage seen so far goes to *u (may be NULL). An
 * upstream error object in the stream becomes one OpenAI-shaped error chunk,
 * data: {"error":{...}}, followed by "data: [DONE]\n\n", and ends the
 * stream. Events whose data is empty are not dispatched (WHATWG SSE).
 * Returns 0 to go on (Gemini has no end event: a finished stream ends at
 * EOF, see gw_gemini_stream_end), 1 once the stream has ended (the error
 * chunk and [DONE] written; later input is ignored), -1 when the translation
 * stopped: the upstream stream is broken (invalid event JSON, a candidate
 * index over the limit, an event over GW_GEMINI_EVENT_MAX; an error chunk
 * and [DONE] are written), the sink refused, or the arena is exhausted.
 */
int gw_gemini_stream_feed(struct gw_gemini_stream *s, const char *data, size_t len,
                          const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);
/*
 * The upstream stream ended (EOF). When every candidate that appeared has had
 * its finishReason (or the prompt was blocked), writes the usage chunk
 * (x->want_usage: "choices":[] and the last usageMetadata) and
 * "data: [DONE]\n\n" and returns 1. Returns -1 when it had failed before, or
 * else (cut short: no candidate, or one without finishReason) writes an error
 * chunk and [DONE] and returns -1. Called again, or after a feed ended the
 * stream, it returns what the stream ended with (1 or -1) without writing.
 * An unterminated last event is discarded, as the SSE rules say.
 */
int gw_gemini_stream_end(struct gw_gemini_stream *s, const struct gw_xlate_sink *sink,
                         struct gw_xlate_usage *u);

#endif
