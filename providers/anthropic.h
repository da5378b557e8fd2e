/*
 * providers/anthropic.h — the Anthropic Messages API dialect (POST /v1/messages).
 *
 * Pure translation between OpenAI's chat completions API and Anthropic's
 * Messages API, as described in providers/xlate.h: every output lives in the
 * caller's arena (x->arena) or goes through the sink; no I/O.
 *
 * Versions: the provider's anthropic_version is "2023-06-01" (x-api-key auth)
 * or "2026-10-21" (Authorization: Bearer). 2026-10-21 answers 400 to any
 * temperature, top_p or top_k, so a request that carries one of them is sent
 * with anthropic-version 2023-06-01 and x-api-key instead, and the request gets
 * a warning for the client (x-conduit-warning). The client never sees a 400 it
 * did not cause, and never loses a sampling parameter silently.
 */
#ifndef GW_PROVIDERS_ANTHROPIC_H
#define GW_PROVIDERS_ANTHROPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/span.h"
#include "core/sse.h"
#include "providers/oai.h"
#include "providers/xlate.h"

#define GW_ANTHROPIC_VERSION_DEFAULT "2023-06-01"
#define GW_ANTHROPIC_VERSION_2026 "2026-10-21"
/* The largest stream event (all its data lines together) the translator holds. */
#define GW_ANTHROPIC_EVENT_MAX GW_OAI_EVENT_MAX

/*
 * OpenAI chat completion request JSON body[0..len) -> the Anthropic Messages
 * request: out->path "/v1/messages", out->headers (anthropic-version and the
 * key), out->body, out->warning (NULL, or a note when the version was
 * changed). Returns 0, or -1 with *err filled (status 400, message, param)
 * for a request Anthropic cannot take or that is invalid (a function name
 * outside providers/xbound.h's rule, a body that would pass its size limit
 * included), or status 500 when the arena is exhausted.
 */
int gw_anthropic_build_request(const struct gw_xlate *x, const char *body, size_t len,
                               struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * A complete 2xx Anthropic message body[0..len) -> OpenAI's chat.completion
 * JSON in *out (arena memory), and the usage in *u (u may be NULL). Returns 0,
 * or -1 when the body is not an Anthropic message (or the arena is exhausted).
 */
int gw_anthropic_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                    struct gw_span *out, struct gw_xlate_usage *u);

/*
 * A non-2xx Anthropic body {"type":"error","error":{"type":..,"message":..}}
 * with HTTP `status` -> OpenAI's {"error":{"message","type","param","code"}}
 * in *out (memory from a) and the status the client should see in
 * *out_status (529 overloaded becomes 503). A body that is not Anthropic's
 * error shape gives a generic message naming the status. Returns 0, or -1
 * when the arena is exhausted.
 */
int gw_anthropic_translate_error(int status, struct gw_span error_type, const char *body,
                                 size_t len, struct gw_arena *a, struct gw_span *out,
                                 int *out_status);

/*
 * Stream translator state: fixed size. The SSE reader's partial event and
 * the writer's chunk buffer come from x->arena, each growing by doubling (the
 * event up to GW_ANTHROPIC_EVENT_MAX, the chunk to about twice the largest
 * event), so memory is bounded whatever the stream. All fields are private.
 */
struct gw_anthropic_stream {
    struct gw_oai_stream _o;   /* the OpenAI side; its done/failed say the stream has ended */
    struct gw_sse_reader _sse; /* the upstream's events, joined data at a time */
    uint64_t _usage[4];        /* input, output, cache read, cache creation tokens so far */
    uint32_t _tool_count;      /* tool_use blocks seen: the next OpenAI tool_calls index */
    bool _started;             /* message_start's opening chunk written */
    bool _finish_sent;         /* a chunk with finish_reason written */
};

/* Sets up *s for one response of the request x (x and its arena outlive s). */
void gw_anthropic_stream_init(struct gw_anthropic_stream *s, const struct gw_xlate *x);
/*
 * Feeds the next data[0..len) of the upstream event stream (after HTTP
 * de-chunking, split anywhere) and writes the OpenAI chunks it completes to
 * the sink: "data: {chat.completion.chunk}\n\n", a usage chunk before the end
 * when x->want_usage, then "data: [DONE]\n\n". Usage seen so far goes to *u
 * (may be NULL). An event whose data is empty is skipped, as the SSE rules
 * say. An upstream error event becomes one OpenAI-shaped error chunk,
 * data: {"error":{...}}, followed by "data: [DONE]", and ends the stream.
 * Returns 0 to go on, 1 once the stream has ended ([DONE] written after the
 * last chunk or after the error chunk; later input is ignored), -1 when the
 * translation stopped: the upstream stream is broken (invalid event JSON, an
 * event over GW_ANTHROPIC_EVENT_MAX: an error chunk and [DONE] are written)
 * or the sink refused or the arena is exhausted (nothing more is written).
 */
int gw_anthropic_stream_feed(struct gw_anthropic_stream *s, const char *data, size_t len,
                             const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);
/*
 * The upstream stream ended. Returns 1 when it had ended properly (feed
 * returned 1), -1 when it had failed, or else (cut short before message_stop)
 * writes an error chunk and "data: [DONE]" and returns -1. An unterminated
 * last event is discarded, as the SSE rules say.
 */
int gw_anthropic_stream_end(struct gw_anthropic_stream *s, const struct gw_xlate_sink *sink,
                            struct gw_xlate_usage *u);

#endif
