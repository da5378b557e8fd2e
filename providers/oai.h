/*
 * providers/oai.h — the OpenAI side of every translation: what a translating
 * dialect writes back to the client.
 *
 * One writer for the chat.completion object, chat.completion.chunk events,
 * usage (cached and reasoning tokens), tool calls, the error object, error
 * chunks and "data: [DONE]", so the translators hold only the mapping from
 * their dialect and the output is the same shape whichever provider answered;
 * with it what every translator does the same way around it: joining an
 * answer's text, turning a list of content blocks into the message, the
 * error body a translate_error hands back, and the glue from core/sse.h's
 * reader to a stream (its end, cut and failure rules).
 * providers/oreq.h is the request side.
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

#include "core/arena.h"
#include "core/json.h"
#include "core/span.h"
#include "core/sse.h"
#include "providers/jv.h"
#include "providers/xlate.h"

/* ---- objects ---- */

/* "id":"chatcmpl-<request id>","object":object,"created":..,"model":<client's model>. */
void gw_oai_head(struct gw_jw *w, const struct gw_xlate *x, const char *object);
/* The most bytes gw_oai_head and an object's fixed keys take, for sizing a buffer. */
size_t gw_oai_head_room(const struct gw_xlate *x);

/* "usage":{...} for u (total = prompt + completion; details always present). */
void gw_oai_usage(struct gw_jw *w, const struct gw_xlate_usage *u);

/* Opens a chat.completion object up to its "choices" array (left open). */
void gw_oai_completion_begin(struct gw_jw *w, const struct gw_xlate *x);
/* Closes the choices array, writes usage and closes the object. */
void gw_oai_completion_end(struct gw_jw *w, const struct gw_xlate_usage *u);

/*
 * gw_oai_completion_begin into a new buffer from x's arena, sized for `extra`
 * bytes of what the translator copies (escaping may double upstream text:
 * callers pass about twice the upstream body) plus the head. 0, or -1 when
 * the arena is exhausted.
 */
int gw_oai_completion_open(struct gw_jw *w, const struct gw_xlate *x, size_t extra);
/*
 * gw_oai_completion_end with usage, then hands the object back: *out over
 * w's text and, when u is not NULL, *u = *usage. 0, or -1 (nothing handed
 * back) when the object did not fit.
 */
int gw_oai_completion_close(struct gw_jw *w, const struct gw_xlate_usage *usage,
                            struct gw_span *out, struct gw_xlate_usage *u);

/* Opens choice `index` up to its message, after "role":"assistant" (left open). */
void gw_oai_choice_begin(struct gw_jw *w, uint64_t index);
/*
 * An answer's text: the decoded text of its text parts, joined, in an arena
 * buffer as long as the upstream body (decoding never lengthens text).
 * `have` says a text part came: content "" rather than null. Fields are
 * read-only but for `have` and a reset (len = 0, have = false).
 */
struct gw_oai_text {
    char *buf; /* arena */
    size_t len, cap;
    bool have;
};
/* Room for the text of a len-byte upstream body. 0, or -1 when the arena is exhausted. */
int gw_oai_text_init(struct gw_oai_text *t, struct gw_arena *a, size_t len);
/* Appends the string token text raw (inside the quotes) decoded. 0, or -1 when it is invalid. */
int gw_oai_text_add(struct gw_oai_text *t, struct gw_span raw);

/*
 * The message's "content": t's text escaped, or null when t is NULL or has
 * none; with tool_calls, "tool_calls":[ follows, left open for
 * gw_oai_tool_call (the caller closes it).
 */
void gw_oai_message_content(struct gw_jw *w, const struct gw_oai_text *t, bool tool_calls);
/*
 * A chat.completion with one choice (index 0), opened up to its message's
 * tool calls: gw_oai_completion_open, gw_oai_choice_begin and
 * gw_oai_message_content. 0, or -1 when the arena is exhausted.
 */
int gw_oai_message_open(struct gw_jw *w, const struct gw_xlate *x, size_t extra,
                        const struct gw_oai_text *text, bool tool_calls);
/* Closes the message ("refusal":null). */
void gw_oai_message_end(struct gw_jw *w);
/*
 * Closes the choice: "logprobs":null unless the caller wrote its own
 * "logprobs" after gw_oai_message_end, then "finish_reason" (NULL: null).
 */
void gw_oai_choice_end(struct gw_jw *w, bool logprobs_written, const char *finish);

/*
 * A choice's logprobs object {"content":[...],"refusal":null}: begin writes
 * up to the open content array, for the caller's token entries; end closes
 * it. The caller writes the "logprobs" key.
 */
void gw_oai_logprobs_begin(struct gw_jw *w);
void gw_oai_logprobs_end(struct gw_jw *w);

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
 * An answer given as an array of content blocks (Anthropic's message
 * content, Converse's output message): what one block is. A gw_oai_block_fn
 * fills *text (a string) and returns GW_OAI_BLOCK_TEXT, or fills *call
 * (index -1) and returns GW_OAI_BLOCK_CALL, or returns GW_OAI_BLOCK_OTHER
 * for a block that is not translated; -1 when the block is malformed.
 */
enum gw_oai_block { GW_OAI_BLOCK_OTHER = 0, GW_OAI_BLOCK_TEXT, GW_OAI_BLOCK_CALL };
typedef int (*gw_oai_block_fn)(const struct gw_jv *block, struct gw_jv *text,
                               struct gw_oai_call *call);

/*
 * gw_oai_message_open for the answer blocks (an array value, from a len-byte
 * body) and the message of choice 0 written: "content" the text blocks
 * decoded and joined (null without any), "tool_calls" the call blocks in
 * order. The choice is left open for gw_oai_choice_end. 0, or -1 when a
 * block is malformed or the arena is exhausted.
 */
int gw_oai_message_blocks(struct gw_jw *w, const struct gw_xlate *x, size_t len,
                          const struct gw_jv *blocks, gw_oai_block_fn read);

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

/*
 * A translate_error's answer: e as a whole error object in a new buffer from
 * arena a, *out over it, and status (the client's) in *out_status (may be
 * NULL). 0, or -1 (*out null) when the arena is exhausted.
 */
int gw_oai_error_body(struct gw_arena *a, const struct gw_oai_error *e, int status,
                      struct gw_span *out, int *out_status);

/* "upstream provider error (HTTP <status>)" into buf; the span over it. */
struct gw_span gw_oai_status_message(char *buf, size_t cap, int status);

/* A non-2xx upstream status the client may see as is (4xx, 5xx), else 502. */
int gw_oai_client_status(int status);

/* ---- streams ---- */

/* The largest upstream SSE event a translator takes (its joined data and a line). */
#define GW_OAI_EVENT_MAX ((size_t)1 << 20)

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
/* The chunk that opens choice `index`: its first delta, "content":"" (and the role). */
int gw_oai_chunk_role(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index);
/*
 * A content chunk with members of the choice after its delta (OpenAI puts a
 * chunk's "logprobs" there): gw_oai_chunk_content_begin writes the chunk up
 * to the closed delta, with room for `extra` bytes more, and returns the
 * writer (NULL when the arena is exhausted) for the caller's members;
 * gw_oai_chunk_content_send closes the choice ("finish_reason":null) and
 * sends the chunk, as gw_oai_chunk_send.
 */
struct gw_jw *gw_oai_chunk_content_begin(struct gw_oai_stream *o, uint64_t index,
                                         struct gw_span content_json, size_t extra);
int gw_oai_chunk_content_send(struct gw_oai_stream *o, const struct gw_xlate_sink *sink);
/* A whole chunk for choice `index` with an empty delta (but a first "role") and `finish`. */
int gw_oai_chunk_finish(struct gw_oai_stream *o, const struct gw_xlate_sink *sink, uint64_t index,
                        const char *finish);
/* A whole chunk for choice `index` with one tool call in its delta. */
int gw_oai_chunk_tool_call(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                           uint64_t index, const struct gw_oai_call *c);

/*
 * The stream's clean end: the usage chunk ("choices":[]) when the client
 * asked for include_usage and the upstream told the usage (u not NULL), then
 * "data: [DONE]". Sets done. 1, or -1.
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

/* How the stream stands: 0 going on, 1 ended cleanly, -1 stopped on an error. */
int gw_oai_stream_state(const struct gw_oai_stream *o);

/*
 * An event handler's non-zero result r ended the stream: finished, an error
 * chunk written, or (r < 0) a chunk the sink refused or that did not fit, an
 * exhausted arena. Marks it done (failed when r < 0); returns 1 or -1.
 */
int gw_oai_stream_ended(struct gw_oai_stream *o, int r);

/*
 * The upstream stream ended (a translator's stream_end) with nothing more to
 * write: the stream's state when it was over, else it was cut before its
 * end: an error chunk with `message` and [DONE], and -1.
 */
int gw_oai_stream_cut(struct gw_oai_stream *o, const struct gw_xlate_sink *sink,
                      const char *message);

/*
 * One complete upstream SSE event for a translator (the callback of
 * gw_oai_stream_feed_sse): st is the translator's state; sink and u are the
 * feed's. 0 to go on, 1 when the stream ended (finished, or an error chunk
 * the upstream meant written), -1 when it stopped.
 */
typedef int (*gw_oai_event_fn)(void *st, struct gw_span event, struct gw_span data,
                               const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);

/*
 * A translator's stream_feed over an SSE upstream: feeds data[0..len) to the
 * reader r (set up with gw_sse_reader_init, GW_OAI_EVENT_MAX bytes at most)
 * and each event it completes to fn. Once the stream is over, input is
 * ignored and its state returned. An event over the reader's cap ends the
 * stream with an error chunk ("upstream stream event over 1 MiB", the cap
 * being GW_OAI_EVENT_MAX); an exhausted arena or a callback's non-zero
 * result ends it too (failed when negative). 0: all of it taken; 1: the
 * stream ended; -1: it stopped on an error.
 */
int gw_oai_stream_feed_sse(struct gw_oai_stream *o, struct gw_sse_reader *r, const char *data,
                           size_t len, gw_oai_event_fn fn, void *st,
                           const struct gw_xlate_sink *sink, struct gw_xlate_usage *u);

#endif
