/*
 * net/sse.h — Server-Sent Events framing (WHATWG HTML §9.2.6, "event stream
 * interpretation"), for relaying and inspecting upstream streams.
 *
 * gw_sse_next() finds one complete event in a buffer without copying: an event
 * ends at a blank line; lines end in CRLF, LF or CR. A buffer that ends in a
 * lone CR is incomplete (the LF may follow). Comment lines (":" first) and
 * unknown fields are kept in `raw` but otherwise ignored. A leading UTF-8 BOM
 * at the very start of a stream is the caller's business (gw_sse_skip_bom).
 *
 * The intended caller keeps the unconsumed tail of its buffer, appends what
 * arrives, and calls gw_sse_next until it returns -2. The result depends only
 * on the bytes, never on how they were split: an event found in a prefix of
 * a stream is the same event found in the whole stream. Each call costs time
 * linear in the event it returns (or in the buffer when it returns -2); the
 * caller caps the bytes it keeps (STYLE §10), which also bounds the rescans
 * of an event that arrives in many small pieces.
 */
#ifndef GW_NET_SSE_H
#define GW_NET_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/span.h"

/*
 * All spans point into the parsed buffer. event, id and data have a NULL ptr
 * when their field is absent and a non-NULL ptr with len 0 when it is present
 * but empty ("id:" clears the last event ID; "id" alone does too).
 */
struct gw_sse_event {
    struct gw_span raw;   /* the whole event, blank line included: forward this as is */
    struct gw_span event; /* value of the last "event:" field, or empty */
    struct gw_span id;    /* value of the last "id:" field without a NUL byte, or empty */
    struct gw_span data;  /* value of the first "data:" line (one leading space removed) */
    unsigned data_lines;  /* number of "data" lines; >1 means gw_sse_data_join is needed;
                           * 0 means a browser would not dispatch the event */
    bool has_fields;      /* false for an event made only of comments/blank (e.g. keep-alive) */
};

/*
 * Parses one event from buf[0..len). Returns >0 the bytes consumed (== raw.len),
 * or -2 when the buffer holds no complete event yet; *ev is written only on
 * success. Leading blank lines are consumed as part of the next event, so a
 * buffer of blank lines alone is incomplete. Never fails: SSE has no invalid
 * input. Only the first INT_MAX bytes are looked at.
 */
int gw_sse_next(const char *buf, size_t len, struct gw_sse_event *ev);

/*
 * As gw_sse_next, for the bytes left once the stream has ended: a trailing
 * lone CR then ends its line. An event without its closing blank line is
 * still incomplete (-2), and the spec says to discard it.
 */
int gw_sse_next_final(const char *buf, size_t len, struct gw_sse_event *ev);

/*
 * Joins all data lines of *ev (as filled by gw_sse_next, with its buffer still
 * alive) with "\n" into out, as the spec's data buffer. out is not
 * NUL-terminated. Returns the length, or -1 if it does not fit in cap.
 */
long gw_sse_data_join(const struct gw_sse_event *ev, char *out, size_t cap);

/* True when the event's data is exactly "[DONE]" (OpenAI's end marker). */
bool gw_sse_is_done(const struct gw_sse_event *ev);

/* Returns 3 when buf starts with a UTF-8 BOM, else 0. */
size_t gw_sse_skip_bom(const char *buf, size_t len);

/*
 * Writes "data: <payload>\n\n" into out. payload must not contain CR or LF
 * (serialised JSON never does; debug builds check). Returns the bytes
 * written, or 0 if it does not fit.
 */
size_t gw_sse_write_data(char *out, size_t cap, const char *payload, size_t len);

#endif
