/*
 * providers/bedrock.h — the AWS Bedrock Runtime dialect: the Converse and
 * ConverseStream APIs (POST /model/{modelId}/converse and
 * /model/{modelId}/converse-stream on https://bedrock-runtime.{region}.amazonaws.com),
 * API version 2023-09-30, signed with SigV4 (providers/sigv4.h), streamed as
 * AWS event stream messages (providers/eventstream.h).
 *
 * Pure translation between OpenAI's chat completions API and Converse, as
 * described in providers/xlate.h: every output lives in the caller's arena
 * (x->arena) or goes through the sink; no I/O and no clock (the signature's
 * time is x->created).
 *
 * Choices where the two APIs do not meet (each is tested):
 *  - Converse requires the conversation to start with a user message. A
 *    request whose first non-system message (with content) is an assistant
 *    message is refused with 400 (param "messages"): inventing a user turn
 *    would change the prompt behind the client's back.
 *  - tool_choice "none" has no Converse form: the tools are left out, so the
 *    model cannot call one. When the history holds tool calls or results,
 *    Converse requires toolConfig; the tools are then sent without a
 *    toolChoice (the model's default, auto).
 *  - A history with tool calls or results but no "tools" gets a toolConfig
 *    naming each tool the history used, with the permissive schema
 *    {"type":"object"}, because Converse refuses such a history otherwise.
 *  - Images travel as bytes only: data: URLs (png, jpeg, gif, webp) become
 *    image blocks; http(s) URLs are refused with 400.
 *  - Refused with 400 (param named): n other than 1, response_format other
 *    than {"type":"text"}, logprobs true, top_logprobs, a non-empty
 *    logit_bias, audio output (modalities with "audio", or "audio"),
 *    non-function tools, content parts other than text, image_url and
 *    refusal. Dropped (harmless to the answer's shape): frequency_penalty,
 *    presence_penalty, seed, user, metadata, store, service_tier,
 *    parallel_tool_calls, prediction, reasoning_effort, top_k,
 *    function.strict, image detail, and any other field Converse lacks.
 *  - Answers: reasoningContent blocks and deltas are dropped (as
 *    anthropic.c drops thinking); stop reasons malformed_model_output and
 *    malformed_tool_use finish as "stop", model_context_window_exceeded as
 *    "length" (see finish_reason in bedrock.c).
 */
#ifndef GW_PROVIDERS_BEDROCK_H
#define GW_PROVIDERS_BEDROCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/span.h"
#include "providers/eventstream.h"
#include "providers/oai.h"
#include "providers/xlate.h"

/* The content type of a ConverseStream answer. */
#define GW_BEDROCK_STREAM_CTYPE "application/vnd.amazon.eventstream"
/* The largest event stream message the translator holds (the decoder's bound). */
#define GW_BEDROCK_MESSAGE_MAX GW_ES_MESSAGE_MAX
/* The SigV4 service name Bedrock Runtime signs with. */
#define GW_BEDROCK_SIGV4_SERVICE "bedrock"

/*
 * OpenAI chat completion request JSON body[0..len) -> the Converse request:
 * out->path "/model/{modelId}/converse" (or "/converse-stream" when
 * x->stream), the model id URI-encoded once; out->headers x-amz-date,
 * x-amz-security-token (when the provider has a session token) and
 * authorization (SigV4 over prov->host_header, prov->base_path + path and
 * the body, at x->created; left out when the provider has no access key);
 * out->body. Returns 0, or -1 with *err filled (status 400, message, param)
 * for a request Converse cannot take (a function name outside
 * providers/xbound.h's rule, a body that would pass its size limit included),
 * or status 500 when the arena is exhausted or the signature cannot be made.
 */
int gw_bedrock_build_request(const struct gw_xlate *x, const char *body, size_t len,
                             struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * A complete 2xx Converse response body[0..len) -> OpenAI's chat.completion
 * JSON in *out (arena memory), and the usage in *u (u may be NULL). Returns
 * 0, or -1 when the body is not a Converse response (or the arena is
 * exhausted).
 */
int gw_bedrock_translate_response(const struct gw_xlate *x, const char *body, size_t len,
                                  struct gw_span *out, struct gw_xlate_usage *u);

/*
 * A non-2xx Bedrock answer -> OpenAI's {"error":{"message","type","param",
 * "code"}} in *out (memory from a) and the client's status in *out_status.
 * error_type is the x-amzn-ErrorType header's value (empty when absent),
 * "ThrottlingException:http://internal.amazon.com/coral/..." (the name is
 * what stands before the first ':'). The exception is the one the header
 * names, else the body's "__type", else the one the status is sent for (400
 * ValidationException, 403 AccessDenied, 404 ResourceNotFound, 408
 * ModelTimeout -> 504, 424 ModelError -> 502, 429 Throttling, 500
 * InternalServer, 503 ServiceUnavailable); only a name tells a spent quota
 * (ServiceQuotaExceeded, 400 or 429 -> 429 insufficient_quota) or a model
 * still loading (ModelNotReady, 429 -> 503 model_not_ready) from throttling
 * or a bad request. The message is the body's "message" (or "Message"), else
 * one naming the status. Returns 0, or -1 when the arena is exhausted.
 */
int gw_bedrock_translate_error(int status, struct gw_span error_type, const char *body, size_t len,
                               struct gw_arena *a, struct gw_span *out, int *out_status);

/*
 * Stream translator state: fixed size. The event stream decoder holds at
 * most one partial message (GW_BEDROCK_MESSAGE_MAX) and the output chunk
 * buffer (providers/oai.h) grows by doubling to about twice that, both in
 * x->arena, so memory is bounded whatever the stream. All fields are private.
 */
struct gw_bedrock_stream {
    struct gw_oai_stream _o; /* the OpenAI side; its done/failed say the stream has ended */
    struct gw_es_decoder _dec;
    const struct gw_xlate_sink *_sink; /* borrowed for the length of one feed */
    struct gw_xlate_usage *_u;         /* borrowed for the length of one feed; may be NULL */
    uint32_t _tool_count;              /* toolUse blocks seen: the next OpenAI tool_calls index */
    bool _started;                     /* messageStart came (the role chunk is written) */
    bool _finish_sent;                 /* the finish chunk is written (messageStop or metadata) */
};

/* Sets up *s for one response of the request x (x and its arena outlive s). */
void gw_bedrock_stream_init(struct gw_bedrock_stream *s, const struct gw_xlate *x);
/*
 * Feeds the next data[0..len) of the ConverseStream body (event stream
 * messages, after HTTP de-chunking, split anywhere) and writes the OpenAI
 * chunks it completes to the sink: a role chunk, content and tool_call
 * deltas, the finish chunk at messageStop, then at metadata a usage chunk
 * when x->want_usage and "data: [DONE]\n\n". Usage goes to *u (may be NULL)
 * when metadata arrives. An exception message (throttlingException, ...)
 * becomes one OpenAI-shaped error chunk, data: {"error":{...}}, followed by
 * "data: [DONE]", and ends the stream. Returns 0 to go on, 1 once the stream
 * has ended ([DONE], after the exception's error chunk or not; later input
 * is ignored), -1 when the translation stopped: a broken event stream (CRC
 * or length failure, an event whose payload is not JSON; an error chunk and
 * [DONE] are written), the sink refused, or the arena is exhausted.
 */
int gw_bedrock_stream_feed(struct gw_bedrock_stream *s, const char *data, size_t len,
                           const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);
/*
 * The upstream stream ended. Returns 1 when it had ended properly (feed
 * returned 1), or when messageStop came without the metadata event (then
 * "data: [DONE]" is written, with no usage chunk: there is no usage to
 * tell); -1 when it had failed, or else (cut short before messageStop) after
 * writing an error chunk and "data: [DONE]".
 */
int gw_bedrock_stream_end(struct gw_bedrock_stream *s, const struct gw_xlate_sink *sink,
                          struct gw_xlate_usage *u);

#endif
