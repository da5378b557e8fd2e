/*
 * tools/mock/reply.h — what the mock's dialects answer alike, written once:
 * the "mock" control object, the response head and its HTTP framing (chunks
 * and SSE events), the non-streamed answer with its faults, the stream loop
 * (pacing, faults, an in-band error), the forced-status error, and the small
 * pieces every dialect renders the same way (the content words, the tool
 * call's input, the deterministic embedding vectors, bearer keys).
 *
 * A dialect file (api.c: OpenAI, anthropic.c, gemini.c, cohere.c,
 * bedrock.c) checks its request its own way, then hands the answer to
 * gw_mock_answer or gw_mock_answer_json. What differs on the wire (body
 * shapes, error shapes, stream events) it says in its struct gw_mock_wire;
 * reply.c picks the wire of c->plan.dialect. See tools/mock/README.md for
 * what the controls do.
 */
#ifndef GW_TOOLS_MOCK_REPLY_H
#define GW_TOOLS_MOCK_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/span.h"
#include "net/http1.h"
#include "tools/mock/mock.h"

struct gw_jw;
struct gw_json_member;

/* The tool call every dialect answers mock.tool with. */
#define GW_MOCK_TOOL_NAME "\"get_weather\"" /* the default name, as a JSON token */
#define GW_MOCK_TOOL_INPUT "{\"city\":\"Paris\",\"unit\":\"c\"}"
#define GW_MOCK_TOOL_PIECES 3                /* GW_MOCK_TOOL_INPUT streamed in this many pieces */
#define GW_MOCK_TOKEN_CAP 24                 /* room for one content word, "tok4294967295 " */
#define GW_MOCK_FNV_SEED 0xcbf29ce484222325u /* FNV-1a offset basis */

/*
 * Renders a JSON body. It must be repeatable: gw_mock_render calls it again
 * with a larger buffer when the first one overflowed.
 */
typedef void gw_mock_render_fn(struct gw_jw *jw, const void *arg);

/* The argument of a wire's render: the plan, and the content words unless plan.tool. */
struct gw_mock_body {
    const struct gw_mock_plan *p;
    struct gw_span text; /* "tok0 tok1 ... tok<N-1>" (scratch2); empty in tool mode */
};

/*
 * A dialect's wire format: what gw_mock_answer and the stream loop call to
 * write its answers. The stream hooks append to c's output; `bad` asks for
 * the malformed_chunk fault's broken event (a chunk size line of "zz" for
 * SSE, a wrong CRC for Bedrock's event stream).
 */
struct gw_mock_wire {
    const char *json_ctype;   /* Content-Type of gw_mock_reply's; NULL: application/json */
    const char *stream_ctype; /* Content-Type of a stream; NULL: text/event-stream */
    bool sse_crlf;            /* SSE events end "\r\n\r\n" (Google's), not "\n\n" */
    uint32_t tool_events;     /* paced events of a tool-call stream; 0: mock.tool is ignored */
    /* The 400 for a malformed "mock" object, message as given. */
    void (*bad_ctl)(struct gw_mock_conn *c, const char *message);
    /* A forced mock.status (ctl->status, ctl->retry_after) in the dialect's error shape. */
    void (*reply_status)(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl);
    /* The non-streamed chat answer; arg is a struct gw_mock_body. */
    gw_mock_render_fn *render;
    /* SSE dialects: a stream event's JSON (arg: a struct gw_mock_event), and the events'
     * names by kind (NULL: events have no "event:" line). See gw_mock_put_event. */
    gw_mock_render_fn *event_render;
    const char *const *event_names;
    /* The events that go out with the stream's head (NULL: none). */
    void (*stream_head)(struct gw_mock_conn *c);
    /* Paced event i < plan.chunks, or, for i == plan.chunks, the first closing event. */
    void (*stream_event)(struct gw_mock_conn *c, uint32_t i, bool bad);
    /* The closing events after the first, [DONE] and such (NULL: none). */
    void (*stream_tail)(struct gw_mock_conn *c);
    /*
     * An in-band error in place of the paced event now due (NULL: never):
     * true when it wrote one; the stream then ends properly at once.
     */
    bool (*stream_cut)(struct gw_mock_conn *c);
};

extern const struct gw_mock_wire gw_mock_wire_openai;    /* api.c */
extern const struct gw_mock_wire gw_mock_wire_anthropic; /* anthropic.c */
extern const struct gw_mock_wire gw_mock_wire_gemini;    /* gemini.c */
extern const struct gw_mock_wire gw_mock_wire_cohere;    /* cohere.c */
extern const struct gw_mock_wire gw_mock_wire_bedrock;   /* bedrock.c */

/* ---- answers ---- */

/*
 * Answers a chat request whose dialect checks passed, per its "mock" member
 * (mock; NULL: found in body's top-level object): a 400 by the wire's
 * bad_ctl when the object is malformed; else plan filled from the controls,
 * then close_before_response, a forced status (the wire's reply_status),
 * the wire's rendered body (or a fault's share of it), or a stream (head,
 * the wire's head events, mode STREAM or STALL). body is the request body
 * (P = body.len / 4 prompt tokens).
 */
void gw_mock_answer(struct gw_mock_conn *c, struct gw_span body, const struct gw_json_member *mock,
                    bool stream);
/* The same for a request answered with one JSON body that fn renders (embeddings): no stream. */
void gw_mock_answer_json(struct gw_mock_conn *c, struct gw_span body,
                         const struct gw_json_member *mock, gw_mock_render_fn *fn, const void *arg);

/*
 * Appends a complete response whose body fn renders: Content-Length
 * framing, the wire's JSON content type, Retry-After when retry_after is
 * not NULL or "", and header (one more header line without its CRLF, or
 * NULL). Sets mode DONE; on allocation failure only CF_OOM.
 */
void gw_mock_reply(struct gw_mock_conn *c, int status, const char *retry_after, const char *header,
                   gw_mock_render_fn *fn, const void *arg);

/* How a dialect words a forced status: one row of its table. */
struct gw_mock_status_text {
    int status;
    const char *type;    /* the dialect's name for the error (NULL where it has none) */
    const char *code;    /* OpenAI's error.code (NULL: null; unused by the others) */
    const char *message; /* the message the real API sends for it */
};
/* The row for status in table[0..n), or NULL. */
const struct gw_mock_status_text *gw_mock_status_find(const struct gw_mock_status_text *table,
                                                      size_t n, int status);

/*
 * Renders a JSON body with fn into the worker's scratch; the span is valid
 * until the next render on this worker. NULL span and CF_OOM on allocation
 * failure.
 */
struct gw_span gw_mock_render(struct gw_mock_conn *c, gw_mock_render_fn *fn, const void *arg);
/* Gives back scratch memory a huge body needed, once the body is in the output. */
void gw_mock_scratch_trim(struct gw_mock_worker *w);

/* ---- the controls and the request ---- */

/* Parses the "mock" member (may be absent). NULL, or the message of the 400 it deserves. */
const char *gw_mock_parse_ctl(const char *doc, const struct gw_json_member *mock,
                              struct gw_mock_ctl *ctl);
/* Copies the "model" string token into c->plan. NULL, or the message of the 400. */
const char *gw_mock_take_model(struct gw_mock_conn *c, const char *doc,
                               const struct gw_json_member *m);
/* A request header by name (case-insensitive), or NULL. */
const struct gw_http1_header *gw_mock_header(const struct gw_http1_req *req, const char *name);
/*
 * The key of "Authorization: Bearer <key>" (the scheme case-insensitively,
 * RFC 9110 §11.1; spaces before the key skipped), or a NULL span when the
 * header is absent or of another scheme.
 */
struct gw_span gw_mock_bearer(const struct gw_http1_req *req);

/* ---- stream events ---- */

/*
 * Appends one HTTP chunk holding the pieces in order (raw bytes for an
 * HTTP/1.0 peer). With bad_size its size line is "zz" whatever the peer
 * (the malformed_chunk fault).
 */
void gw_mock_put_chunk(struct gw_mock_conn *c, const struct gw_span *piece, size_t n,
                       bool bad_size);
/*
 * Appends one SSE event as one HTTP chunk: "event: <event>\n" (when event
 * is not NULL), "data: <json>", then the wire's blank line.
 */
void gw_mock_put_sse(struct gw_mock_conn *c, const char *event, const char *json, size_t len,
                     bool bad_size);

/* What a wire's stream event renderer gets as its argument. */
struct gw_mock_event {
    const struct gw_mock_plan *p;
    int kind;       /* the dialect's own event enum */
    uint32_t index; /* the paced event's index (content chunk, tool piece) */
};
/*
 * Renders stream event (kind, index) of c's plan with the wire's
 * event_render and appends it with gw_mock_put_sse, named by the wire's
 * event_names[kind] (no event: line without names).
 */
void gw_mock_put_event(struct gw_mock_conn *c, int kind, uint32_t index, bool bad_size);

/* ---- pieces the dialects render alike ---- */

/* Content word i as streamed: "tok<i> " (trailing space) in buf (GW_MOCK_TOKEN_CAP). */
struct gw_span gw_mock_token(char *buf, uint32_t i);
/* Piece i (mod GW_MOCK_TOOL_PIECES) of GW_MOCK_TOOL_INPUT, as a stream sends it. */
const char *gw_mock_tool_piece(uint32_t i);
/* Sets plan.tool_name to GW_MOCK_TOOL_NAME (a request's own tool name replaces it later). */
void gw_mock_tool_default(struct gw_mock_plan *p);
/* FNV-1a of s[0..n) continued from h (GW_MOCK_FNV_SEED to start). */
uint64_t gw_mock_fnv1a(uint64_t h, const char *s, size_t n);
/*
 * The deterministic unit vector of dims numbers for hash h: component i is
 * gw_mock_vec_at(h, gw_mock_vec_scale(h, dims), i). gw_mock_jw_vector writes
 * all of them as a JSON array of floats.
 */
double gw_mock_vec_scale(uint64_t h, unsigned dims);
double gw_mock_vec_at(uint64_t h, double scale, unsigned i);
void gw_mock_jw_vector(struct gw_jw *jw, uint64_t h, unsigned dims);

/* ---- inline bodies ---- */

/* s equals the NUL-terminated lit, byte for byte. */
static inline bool gw_mock_span_is(struct gw_span s, const char *lit)
{
    return gw_span_eq(s, gw_span_cstr(lit));
}

#endif
