/*
 * providers/sigv4.h — AWS Signature Version 4 for request headers, with
 * SHA-256 and HMAC-SHA-256 from BearSSL. Pure functions over strings; the
 * caller supplies the time (no I/O and no clock in providers/).
 *
 * [AWS General Reference, "Create a signed AWS API request"; the
 * aws-sig-v4-test-suite vectors are what tests/unit/providers/test_sigv4.c
 * checks against.]
 *
 * Signed headers are always host and x-amz-date, plus x-amz-security-token
 * when a session token is given; every other header is left unsigned, which
 * SigV4 allows. The canonical URI is the path as sent on the wire (already
 * URI-encoded once) encoded once more, segment by segment, as SigV4 requires
 * for every service but S3: a Bedrock model id "a.b-v1:0" is sent as
 * "/model/a.b-v1%3A0/converse" and signed as "/model/a.b-v1%253A0/converse".
 *
 * Malformed, and refused with -1: a NULL field; a method that is not 1-16
 * upper-case letters; a path not starting with '/', over 4096 bytes, holding
 * '?', '#', a space or a control byte, or an empty, "." or ".." segment (SigV4
 * would normalise those; a trailing '/' is fine); a host (1-255), query
 * (0-4096) or session token (0-8192) with a space or a control byte; an
 * amz_date not shaped "YYYYMMDDTHHMMSSZ"; a payload_hash not 64 lower-case hex
 * digits; an access key id (1-128), region or service (1-64 each) with a byte
 * outside A-Z a-z 0-9 - _ .; a secret (1-128) with a space or control byte.
 */
#ifndef GW_PROVIDERS_SIGV4_H
#define GW_PROVIDERS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for an Authorization header value with any credential this module accepts. */
#define GW_SIGV4_AUTH_MAX 512
/* "YYYYMMDDTHHMMSSZ" and its NUL. */
#define GW_SIGV4_DATE_LEN 17

struct gw_sigv4_creds {
    const char *access_key_id;     /* "AKIDEXAMPLE" */
    const char *secret_access_key; /* "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" */
    const char *region;            /* "us-east-1" */
    const char *service;           /* "bedrock" (Bedrock runtime signs as "bedrock") */
};

struct gw_sigv4_req {
    const char *method;        /* "POST" */
    const char *path;          /* as sent on the wire (encoded once): "/model/x%3A0/converse" */
    const char *query;         /* canonical query string (names sorted, encoded), or "" */
    const char *host;          /* the Host header's value, as sent */
    const char *amz_date;      /* the x-amz-date header's value, "20150830T123600Z" */
    const char *session_token; /* the x-amz-security-token header's value, or "" for none */
    const char *payload_hash;  /* lower-case hex SHA-256 of the body, 64 characters */
};

/* Lower-case hex SHA-256 of data[0..len) into out (64 characters and a NUL). */
void gw_sha256_hex(const void *data, size_t len, char out[65]);

/* The x-amz-date form of unix time t (UTC): "YYYYMMDDTHHMMSSZ"; times past
 * 9999-12-31T23:59:59Z are written as that instant. */
void gw_sigv4_amz_date(uint64_t t, char out[GW_SIGV4_DATE_LEN]);

/*
 * SigV4 URI encoding of s[0..n) into out: A-Z a-z 0-9 - _ . ~ are kept, '/'
 * is kept when keep_slash, every other byte becomes %XX (upper-case hex).
 * Returns the length written (a NUL follows), or -1 when cap is too small.
 */
long gw_sigv4_uri_encode(const char *s, size_t n, bool keep_slash, char *out, size_t cap);

/*
 * The Authorization header's value for request r signed with c:
 * "AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request,
 * SignedHeaders=host;x-amz-date[;x-amz-security-token], Signature=<hex>".
 * Returns its length (a NUL follows), or -1 when an input is malformed (see
 * the top of this file) or cap is too small. The secret and the keys derived
 * from it are wiped from the stack before it returns.
 */
long gw_sigv4_authorization(const struct gw_sigv4_creds *c, const struct gw_sigv4_req *r, char *out,
                            size_t cap);

/*
 * The steps, for tests and for the mock's diagnostics: the canonical request
 * and the string to sign, each into out (NUL-terminated). Return the length,
 * or -1 when cap is too small or an input is malformed.
 */
long gw_sigv4_canonical_request(const struct gw_sigv4_req *r, char *out, size_t cap);
long gw_sigv4_string_to_sign(const struct gw_sigv4_creds *c, const struct gw_sigv4_req *r,
                             char *out, size_t cap);

#endif
