/*
 * core/sse.h — Server-Sent Events framing (WHATWG HTML §9.2.6, "event stream
 * interpretation"): one line and field grammar for the two jobs that read
 * upstream event streams.
 *
 *   - The relay (net/relay.c) forwards an OpenAI-compatible stream as it came
 *     and only looks inside: gw_sse_next finds one whole event in bytes the
 *     caller keeps, without copying.
 *   - A translator (providers/) needs each event's data joined and nothing
 *     else: struct gw_sse_reader takes the stream in any split, keeps one
 *     partial event (bounded) and hands each complete event's type and data
 *     to a callback, in time linear in the bytes fed.
 *
 * It lives in core/ because both net/ and providers/ read event streams, and
 * the dependency direction (core/ARCHITECTURE.md) lets both use core/ but not each other.
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
 * caller caps the bytes it keeps, which also bounds the rescans
 * of an event that arrives in many small pieces.
 */
#ifndef GW_CORE_SSE_H
#define GW_CORE_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
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

/*
 * The incremental reader: the stream's bytes in any split in, each complete
 * event's type ("event:", or empty) and joined data out. Lines end in CRLF,
 * LF or CR; comments and "id:"/"retry:" are skipped; an event whose joined
 * data is empty (no data line, or one empty one) is not dispatched, as the spec
 * says; an unterminated last event is never dispatched. The partial event
 * lives in an arena buffer that doubles up to `max` bytes. All fields are
 * private.
 */
struct gw_sse_reader {
    struct gw_arena *_arena;
    size_t _max;
    char *_buf; /* owns (arena): joined data of the event, then the partial line */
    size_t _cap;
    size_t _data_len; /* event data bytes at _buf[0..) */
    size_t _line_len; /* partial line bytes at _buf[_data_len..) */
    char _event[32];  /* the event's type */
    unsigned char _event_len; /* UCHAR_MAX: longer than _event (matches no name) */
    bool _has_data;   /* the event has a data line (maybe empty) */
    bool _cr;         /* the last byte fed was a CR: skip a following LF */
};

/* One complete event: 0 to go on; anything else stops the feed and is returned by it. */
typedef int (*gw_sse_event_fn)(void *arg, struct gw_span event, struct gw_span data);

/* gw_sse_reader_feed's own failures (an event callback must not return these). */
#define GW_SSE_OVERSIZE (-1000) /* one event's data and line passed `max` bytes */
#define GW_SSE_NOMEM (-1001)    /* the arena is exhausted */

void gw_sse_reader_init(struct gw_sse_reader *r, struct gw_arena *a, size_t max);

/*
 * Feeds data[0..len): calls fn for each event it completes. Returns 0 when
 * all of it was taken, fn's non-zero result (the rest of data is not read),
 * GW_SSE_OVERSIZE or GW_SSE_NOMEM.
 */
int gw_sse_reader_feed(struct gw_sse_reader *r, const char *data, size_t len, gw_sse_event_fn fn,
                       void *arg);

#endif
