/*
 * tools/mock/aws.h — the two pieces of AWS's wire that the mock's Bedrock
 * dialect needs: the event stream message encoding and the SigV4
 * signature. They are written here from AWS's documentation, not taken from
 * providers/: a mock that frames and checks with the code it tests would
 * prove nothing. SHA-256 and HMAC come from BearSSL.
 */
#ifndef GW_TOOLS_MOCK_AWS_H
#define GW_TOOLS_MOCK_AWS_H

#include <stddef.h>

#include "core/span.h"

/* One string header (value type 7) of an event stream message. */
struct gw_mock_es_header {
    const char *name;  /* 1..255 bytes */
    const char *value; /* at most 65535 bytes */
};

/*
 * Encodes one event stream message into out[0..cap) [AWS, "Event stream
 * encoding"]: the prelude (total length, headers length, both big-endian
 * 32-bit, and their CRC-32), the headers, the payload, and the CRC-32 of
 * everything before it. Returns its length, or 0 when it does not fit or a
 * header is out of bounds.
 */
size_t gw_mock_es_encode(char *out, size_t cap, const struct gw_mock_es_header *h, size_t nh,
                         const void *payload, size_t plen);

/* What a SigV4 signature covers, as the request carried it (all borrowed). */
struct gw_mock_sigv4 {
    struct gw_span method; /* "POST" */
    struct gw_span path;   /* the path as sent (URI-encoded once), without the query */
    struct gw_span query;  /* the query as sent, taken as already canonical; may be empty */
    struct gw_span host;   /* the Host header's value */
    struct gw_span date;   /* x-amz-date, "YYYYMMDDTHHMMSSZ" */
    struct gw_span token;  /* x-amz-security-token, empty when none (then not signed) */
    struct gw_span body;
    struct gw_span region; /* from the credential scope */
    const char *service;   /* "bedrock" */
    const char *secret;    /* the secret access key */
};

/*
 * The signature [AWS General Reference, "Signature Version 4 signing
 * process"] of r, with host and x-amz-date (and x-amz-security-token when
 * r->token is not empty) as the signed headers: 64 lower-case hex digits
 * and a NUL into out. The canonical URI is the path encoded once more,
 * '/' kept, as SigV4 wants for every service but S3.
 */
void gw_mock_sigv4_signature(const struct gw_mock_sigv4 *r, char out[65]);

#endif
