/*
 * providers/oai.h — the OpenAI side of every translation: what a translating
 * dialect writes back to the client.
 *
 * One writer for the chat.completion object, chat.completion.chunk events,
 * usage (cached and reasoning tokens), tool calls, the error object, error
 * chunks and "data: [DONE]", so the translators hold only the mapping from
 * their dialect and the output is the same shape whichever provider answered.
 * Everything is written with core/json's gw_jw_* into caller memory (the
 * request arena); nothing here does I/O beyond the caller's sink.
 *
 * Shapes follow OpenAI's chat completions reference:
 *   {"id":"chatcmpl-<request id>","object":..,"created":..,"model":<client's name>,
 *    "choices":[{"index":0,"message":{"role":"assistant","content":..,
 *                "tool_calls":[..],"refusal":null},"logprobs":null,"finish_reason":..}],
 *    "usage":{"prompt_tokens","completion_tokens","total_tokens",
 *             "prompt_tokens_details":{"cached_tokens"},
 *             "completion_tokens_details":{"reasoning_tokens"}}}
 */
#ifndef GW_PROVIDERS_OAI_H
#define GW_PROVIDERS_OAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/span.h"
#include "providers/xlate.h"

/* ---- objects ---- */

/* "id":"chatcmpl-<request id>","object":object,"created":..,"model":<client's model>. */
void gw_oai_head(struct gw_jw *w, const struct gw_xlate *x, const char *object);

/* "usage":{...} for u (total = prompt + completion; details always present). */
void gw_oai_usage(struct gw_jw *w, const struct gw_xlate_usage *u);

/* Opens a chat.completion object up to its "choices" array (left open). */
void gw_oai_completion_begin(struct gw_jw *w, const struct gw_xlate *x);
/* Closes the choices array, writes usage and closes the object. */
void gw_oai_completion_end(struct gw_jw *w, const struct gw_xlate_usage *u);

/* Opens choice `index` up to its message, after "role":"assistant" (left open). */
void gw_oai_choice_begin(struct gw_jw *w, uint64_t index);
/* Closes the message ("refusal":null). */
void gw_oai_message_end(struct gw_jw *w);
/*
 * Closes the choice: "logprobs":null unless the caller wrote its own
 * "logprobs" after gw_oai_message_end, then "finish_reason" (NULL: null).
 */
void gw_oai_choice_end(struct gw_jw *w, bool logprobs_written, const char *finish);

/*
 * One tool call object. id and name are JSON string tokens as they came
 * (quotes included) or, with their *_text flag, plain text to escape; a NULL
 * id.ptr leaves "id" and "type" out (a stream's argument delta), a NULL
 * name.ptr leaves "name" out. args is either a JSON string token written as
 * is (args_text false: a stream's partial arguments as the upstream sent
 * them) or JSON text to write as a string (args_text true: a complete input
 * object); a NULL args.ptr writes "{}" (args_text) or "" (a token).
 */
struct gw_oai_call {
    long index; /* >= 0: "index" first, as stream deltas carry it; -1: none */
    struct gw_span id;
    bool id_text;
    struct gw_span name;
    bool name_text;
    struct gw_span args;
    bool args_text;
};
void gw_oai_tool_call(struct gw_jw *w, const struct gw_oai_call *c);

/*
 * OpenAI's error object {"error":{"message","type","param","code"}}. message
 * and type are text to escape, or with their *_json flag JSON string tokens
 * as the upstream sent them; a NULL param or code is written as null.
 */
struct gw_oai_error {
    struct gw_span message;
    bool message_json;
    struct gw_span type;
    bool type_json;
    const char *param;
    const char *code;
};
void gw_oai_error_write(struct gw_jw *w, const struct gw_oai_error *e);

/* "upstream provider error (HTTP <status>)" into buf; the span over it. */
struct gw_span gw_oai_status_message(char *buf, size_t cap, int status);

/* A non-2xx upstream status the client may see as is (4xx, 5xx), else 502. */
int gw_oai_client_status(int status);

/* ---- streams ---- */

/*
 * The output side of a stream translator: one chunk at a time in an arena
 * buffer that grows by doubling, so memory is bounded by the largest chunk.
 * Fields are private but for `done` and `failed`, which the translator reads.
 */
struct gw_oai_stream {
    const struct gw_xlate *_x;
    char *_out; /* owns (arena): "data: " + one chunk + "\n\n" */
    size_t _out_cap;
    struct gw_jw _w;
    uint64_t _roles; /* bit i: choice i's first delta (with "role") written */
    bool done;       /* [DONE] or an error chunk written: further input is ignored */
    bool failed;     /* the stream stopped on an error */
};

void gw_oai_stream_init(struct gw_oai_stream *o, const struct gw_xlate *x);

/*
 * Starts a chunk "data: " + JSON, with room for `extra` bytes of copied
 * upstream text (escaping may double them). The writer, or NULL when the
 * arena is exhausted.
 */
struct gw_jw *gw_oai_chunk_begin(struct gw_oai_stream *o, size_t extra);
/* Ends the chunk begun and writes it to the sink: 0, or -1 (overflow, sink refused). */
int gw_oai_chunk_send(struct gw_oai_stream *o, const struct gw_xlate_sink *sink);

/*
 * Opens a chat.completion.chunk up to choice `index`'s delta object (left
 * open); the first delta of each choice (index < 64) carries
 * "role":"assistant".
 */
void gw_oai_chunk_head(struct gw_oai_stream *o, uint64_t index);
/* Closes what gw_oai_chunk_head opened, with the finish reason (NULL: null). */
void gw_oai_chunk_tail(struct gw_oai_stream *o, const char *finish);

/* A whole chunk for choice `index`: its delta's "content" as a JSON string token. */
int gw_oai_chunk_content(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index,
                         struct gw_span content_json);
/* A whole chunk for choice `index` with an empty delta (but a first "role") and `finish`. */
int gw_oai_chunk_finish(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index,
                        const char *finish);
/* A whole chunk for choice `index` with one tool call in its delta. */
int gw_oai_chunk_tool_call(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                           uint64_t index, const struct gw_oai_call *c);

/*
 * The stream's clean end: the usage chunk ("choices":[]) when the client
 * asked for include_usage, then "data: [DONE]". Sets done. 1, or -1.
 */
int gw_oai_stream_finish(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                         const struct gw_xlate_usage *u);

/*
 * An error chunk data: {"error":{...}} and "data: [DONE]", and the stream is
 * done (failed when ret < 0). Returns ret, or -1 when it could not be written.
 * A client's SDK raises the error; a reader that waits for [DONE] still ends.
 */
int gw_oai_stream_error(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                        const struct gw_oai_error *e, int ret);
/* As gw_oai_stream_error with a gateway message of type server_error. */
int gw_oai_stream_fail(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                       const char *message, int ret);

#endif
