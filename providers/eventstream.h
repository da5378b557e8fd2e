/*
 * providers/eventstream.h — the AWS event stream framing
 * (application/vnd.amazon.eventstream), as Bedrock's ConverseStream sends it.
 *
 * One message on the wire, all integers big-endian:
 *   total_length u32 | headers_length u32 | prelude_crc u32 (CRC-32 of the 8 bytes before)
 *   headers[headers_length] | payload[total - headers_length - 16]
 *   message_crc u32 (CRC-32 of everything before it)
 * A header: name_len u8, name, value_type u8, value; the types are 0 bool
 * true, 1 bool false, 2 byte, 3 int16, 4 int32, 5 int64, 6 bytes (u16 length),
 * 7 string (u16 length), 8 timestamp (int64 ms), 9 uuid (16 bytes).
 * The CRC is CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's.
 *
 * The decoder takes the bytes in any split, checks both CRCs and every
 * length, and hands out each complete message. It holds at most one message
 * (bounded by max_message), in memory from the arena it was given, and copies
 * nothing when a message arrives whole in one feed.
 */
#ifndef GW_PROVIDERS_EVENTSTREAM_H
#define GW_PROVIDERS_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/span.h"

/* The largest message the decoder accepts by default (AWS allows 16 MiB; chat events are small). */
#define GW_ES_MESSAGE_MAX (1u << 20)
#define GW_ES_PRELUDE_LEN 12
#define GW_ES_MIN_MESSAGE 16 /* prelude and message CRC, no headers, no payload */

/* CRC-32 (zlib's) of p[0..n), continuing from crc (0 to start). */
uint32_t gw_crc32(uint32_t crc, const void *p, size_t n);

/* One decoded message: the spans point into the decoder's buffer or the fed data,
 * valid only during the callback. Absent headers are empty spans. */
struct gw_es_message {
    struct gw_span message_type;   /* ":message-type": "event", "exception" or "error" */
    struct gw_span event_type;     /* ":event-type", e.g. "contentBlockDelta" */
    struct gw_span exception_type; /* ":exception-type", e.g. "throttlingException" */
    struct gw_span error_code;     /* ":error-code" (message-type "error") */
    struct gw_span error_message;  /* ":error-message" (message-type "error") */
    struct gw_span content_type;   /* ":content-type", e.g. "application/json" */
    struct gw_span headers;        /* the raw header block, for other headers */
    struct gw_span payload;
};

/* Called for each complete message; return 0 to go on, <0 to stop the feed (it returns -1). */
typedef int gw_es_message_fn(void *arg, const struct gw_es_message *m);

enum gw_es_error {
    GW_ES_OK = 0,
    GW_ES_BAD_LENGTH,  /* total or header length impossible, or over max_message */
    GW_ES_PRELUDE_CRC, /* prelude CRC mismatch */
    GW_ES_MESSAGE_CRC, /* message CRC mismatch */
    GW_ES_BAD_HEADER,  /* a header runs past its block or has an unknown type */
    GW_ES_NOMEM,       /* the arena could not hold the partial message */
    GW_ES_STOPPED,     /* the callback returned < 0 */
    GW_ES_ERROR_COUNT
};

/* Decoder state; all fields private. */
struct gw_es_decoder {
    struct gw_arena *_arena;
    size_t _max;
    char *_buf; /* owns (arena): the partial message */
    size_t _cap, _len;
    size_t _need; /* length of the message being gathered; 0 until its prelude is in */
    enum gw_es_error _err;
};

/*
 * Sets up d; partial messages take memory from a, and a message over
 * max_message bytes (0: GW_ES_MESSAGE_MAX) breaks the stream.
 */
void gw_es_init(struct gw_es_decoder *d, struct gw_arena *a, size_t max_message);
/*
 * Feeds data[0..len); calls fn for each message it completes, in order.
 * Returns 0, or -1 once the stream is broken (see gw_es_error(d)); after -1
 * every later feed returns -1 at once.
 */
int gw_es_feed(struct gw_es_decoder *d, const char *data, size_t len, gw_es_message_fn *fn,
               void *arg);
/* True when no partial message is held (a clean place for the stream to end); false once
 * the stream is broken. */
bool gw_es_idle(const struct gw_es_decoder *d);
enum gw_es_error gw_es_error(const struct gw_es_decoder *d);
const char *gw_es_error_str(enum gw_es_error e);

/* A string header for the encoder. */
struct gw_es_header {
    const char *name;
    const char *value;
};
/*
 * Encodes one message with string headers (type 7) and the payload into
 * out[0..cap). Returns its length, or 0 when cap is too small (or a header
 * name is empty or over 255 bytes, or a value over 65535). For the mock and
 * the tests; Conduit itself only decodes.
 */
size_t gw_es_encode(char *out, size_t cap, const struct gw_es_header *h, size_t nh,
                    const void *payload, size_t plen);

#endif
