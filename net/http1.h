/*
 * net/http1.h — strict HTTP/1.1 message parsing (RFC 9112) for the downstream
 * server and the upstream client, and the chunked transfer-coding decoder.
 *
 * Parsers work on a buffer that holds the head so far and return spans into it
 * [h2o picohttpparser]: >0 bytes consumed by the head (through the blank line),
 * -2 incomplete, -1 invalid with a reason. They never allocate. The caller
 * enforces the header-bytes cap by refusing to wait past it.
 *
 * Strictness (request smuggling defence, RFC 9112 §6.3 and §11.2):
 *  - lines end in CRLF; a bare LF or bare CR anywhere in the head is invalid;
 *  - header names are tokens, no whitespace before the colon, no obs-fold;
 *  - Content-Length must be all digits, at most one distinct value (a repeated
 *    identical value, or a list of identical values, is also refused);
 *  - Transfer-Encoding with Content-Length is invalid; Transfer-Encoding other
 *    than exactly "chunked" (case-insensitive) is invalid, and so is any
 *    Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1);
 *  - requests: exactly one Host field in HTTP/1.1, at most one in HTTP/1.0
 *    (RFC 9112 §3.2: a server answers 400 to a missing or repeated Host);
 *  - HTTP/1.1 and HTTP/1.0 only.
 *
 * Verdicts are taken at the first byte that decides them, so a prefix of a
 * valid head is always -2, and a prefix of an invalid head is -2 or the same
 * error. Calling again from the start with more bytes is linear per call.
 */
#ifndef GW_NET_HTTP1_H
#define GW_NET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/span.h"

enum gw_http1_err {
    GW_H1E_NONE = 0,
    GW_H1E_BAD_REQUEST_LINE,
    GW_H1E_BAD_STATUS_LINE,
    GW_H1E_BAD_VERSION,
    GW_H1E_BAD_HEADER, /* malformed name or value, obs-fold, whitespace before colon */
    GW_H1E_BARE_LF,    /* LF without CR, or CR without LF */
    GW_H1E_TOO_MANY_HEADERS,
    GW_H1E_BAD_CONTENT_LENGTH,
    GW_H1E_DUP_CONTENT_LENGTH,
    GW_H1E_CL_AND_TE,
    GW_H1E_BAD_TRANSFER_ENCODING,
    GW_H1E_MISSING_HOST, /* HTTP/1.1 request without a Host field */
    GW_H1E_DUP_HOST,     /* request with more than one Host field */
    GW_H1E_COUNT
};

/* Human-readable reason for an error, for logs and the 400 message. */
const char *gw_http1_err_str(enum gw_http1_err e);

/*
 * The reason phrase for a status code of a response we write (RFC 9110 §15
 * names), as a static string. A code it does not know gets a phrase for its
 * class ("OK" below 300, "Client Error" below 500, else "Server Error"):
 * clients ignore the phrase (RFC 9112 §4), so it only has to be a valid one.
 */
const char *gw_http_reason(int status);

struct gw_http1_header {
    struct gw_span name;  /* as sent; compare case-insensitively */
    struct gw_span value; /* leading and trailing whitespace removed */
};

#define GW_H1_F_CHUNKED (1u << 0)    /* Transfer-Encoding: chunked */
#define GW_H1_F_KEEPALIVE (1u << 1)  /* persistent after this message (version + Connection) */
#define GW_H1_F_EXPECT_100 (1u << 2) /* request carried Expect: 100-continue */
#define GW_H1_F_HAS_CL (1u << 3)     /* a valid Content-Length was present */

/* Room for every flag name: "chunked|keepalive|expect-100|has-cl" and its NUL. */
#define GW_H1_FLAGS_STR_SIZE 40

/*
 * Writes the names of the set GW_H1_F_* bits, '|'-separated ("" when none),
 * into buf[0..size) for logs, and returns buf. Names that do not fit whole are
 * left out; it never fails.
 */
const char *gw_http1_flags_str(unsigned flags, char *buf, size_t size);

struct gw_http1_req {
    struct gw_span method;
    struct gw_span target;   /* request-target as sent (origin-form expected) */
    int minor_version;       /* 0 or 1 */
    unsigned flags;          /* GW_H1_F_* */
    uint64_t content_length; /* valid when GW_H1_F_HAS_CL */
    size_t num_headers;
    struct gw_http1_header *headers; /* borrowed: caller's array, filled up to num_headers */
    enum gw_http1_err err;           /* set when the parser returns -1 */
};

struct gw_http1_resp {
    int status;
    struct gw_span reason;
    int minor_version;
    unsigned flags; /* GW_H1_F_* (EXPECT_100 unused) */
    uint64_t content_length;
    size_t num_headers;
    struct gw_http1_header *headers;
    enum gw_http1_err err;
};

/*
 * Parses a request head from buf[0..len). headers[0..max_headers) is the
 * caller's storage. Returns >0 head length, -2 incomplete, -1 invalid (req->err).
 * GW_H1E_TOO_MANY_HEADERS when more than max_headers header lines arrive.
 * Empty lines (CRLF) before the request-line are skipped and counted in the
 * head length (RFC 9112 §2.2). KEEPALIVE: HTTP/1.1 unless "Connection: close",
 * HTTP/1.0 only with "Connection: keep-alive". EXPECT_100 only for HTTP/1.1.
 * A second Host field is GW_H1E_DUP_HOST as soon as its line ends; an
 * HTTP/1.1 head without Host is GW_H1E_MISSING_HOST at its final CRLF (an
 * empty Host value is allowed: RFC 9112 §3.2 has clients send one when the
 * target has no authority). HTTP/1.0 may omit Host.
 * req is fully set on >0 and -1; on -2 its fields are unspecified.
 */
int gw_http1_parse_request(const char *buf, size_t len, struct gw_http1_req *req,
                           struct gw_http1_header *headers, size_t max_headers);
/*
 * Parses a response head. Transfer-Encoding other than chunked yields
 * GW_H1E_BAD_TRANSFER_ENCODING (we never ask for other codings). A response
 * with neither length nor chunked is read to EOF: flags lack HAS_CL and CHUNKED,
 * and KEEPALIVE is cleared unless the status is 1xx, 204 or 304 (no body). The
 * caller handles responses to HEAD. "HTTP/1.1 200\r\n" (no SP before an empty
 * reason) is accepted. 1xx responses are returned like any other; the caller
 * skips them.
 */
int gw_http1_parse_response(const char *buf, size_t len, struct gw_http1_resp *resp,
                            struct gw_http1_header *headers, size_t max_headers);

/* Returns the first header named `name` (ASCII case-insensitive), or NULL. */
const struct gw_http1_header *gw_http1_find(const struct gw_http1_header *h, size_t n,
                                            const char *name);

/*
 * Incremental chunked decoder (RFC 9112 §7.1). It decodes in place: the data
 * bytes of buf[0..*len) are moved to the front and *len becomes their count.
 * Returns -2 when more input is needed (all input consumed), -1 on a framing
 * error (bad hex, more than 15 hex digits i.e. a size of 2^60 or more, missing
 * CRLF after data, bare LF or CR, a chunk extension over 4 KiB, a trailer
 * section over 8 KiB), or >=0 when the terminating chunk and trailers have been
 * consumed: the number of bytes left over after the message, which the
 * decoder has moved to buf[*len .. *len + ret). Chunk extensions and trailer
 * fields are skipped. The state survives any split of the input, down to one
 * byte at a time. On -1, *len is the data decoded before the error and every
 * later call returns -1; after completion every later call returns all of its
 * input as left over (*len = 0).
 */
struct gw_chunked {
    unsigned _state;
    uint64_t _remaining; /* bytes left in the current chunk */
    unsigned _hexdigits;
    size_t _linelen; /* bytes of chunk-ext (with BWS) on the current size line */
    size_t _trailer_bytes;
};

void gw_chunked_init(struct gw_chunked *d);
ssize_t gw_chunked_decode(struct gw_chunked *d, char *buf, size_t *len);
/* Where the decoder stands ("data", "trailer", "done", "error", ...), for logs. */
const char *gw_chunked_state_str(const struct gw_chunked *d);

#endif
