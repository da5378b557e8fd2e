/*
 * core/fail.h — one identity for every way a request can fail after it was
 * accepted [ngx upstream_next]. Retry policy is a bitmask over these, decided
 * in one function (gw_fail_retryable); the status and OpenAI error a client
 * sees come from one table (gw_fail_status, gw_fail_code).
 */
#ifndef GW_CORE_FAIL_H
#define GW_CORE_FAIL_H

#include <stdbool.h>

enum gw_fail {
    GW_FAIL_NONE = 0,
    GW_FAIL_CONNECT,            /* TCP connect refused or unreachable */
    GW_FAIL_TLS,                /* handshake or certificate failure */
    GW_FAIL_TIMEOUT_CONNECT,    /* the TCP connect took too long */
    GW_FAIL_TIMEOUT_HANDSHAKE,  /* the TLS handshake took too long */
    GW_FAIL_TIMEOUT_SEND,       /* sending the request made no progress for send_timeout */
    GW_FAIL_TIMEOUT_FIRST_BYTE, /* request sent, no response head in time */
    GW_FAIL_TIMEOUT_READ,       /* response started, then went silent */
    GW_FAIL_PROTO,              /* upstream spoke broken HTTP or framing */
    GW_FAIL_RESET,              /* upstream closed or reset before the response ended */
    GW_FAIL_NOMEM,              /* a worker pool or arena cap was reached */
    GW_FAIL_POOL_LIMIT,         /* upstream connection limit per worker reached */
    GW_FAIL_SOCKET,             /* could not create an upstream socket */
    GW_FAIL_DRAINING,           /* the gateway is shutting down */
    GW_FAIL_CLIENT_GONE,        /* the client went away; nothing is sent */
    GW_FAIL_BUDGET,             /* a hard budget ran out mid-stream: the gateway ended it */
    GW_FAIL_COUNT
};

/* Retry on a fresh connection is allowed for these, under gw_fail_retryable's conditions. */
#define GW_FAIL_RETRY_MASK ((1u << GW_FAIL_RESET) | (1u << GW_FAIL_CONNECT))

const char *gw_fail_str(enum gw_fail f);
/* A short identifier for metric labels, e.g. "timeout_first_byte". */
const char *gw_fail_name(enum gw_fail f);
/* HTTP status a client gets for f (502, 503 or 504; 429 for a budget). */
int gw_fail_status(enum gw_fail f);
/* The OpenAI error `code` for f, e.g. "upstream_timeout". */
const char *gw_fail_code(enum gw_fail f);
/*
 * Whether a request that failed with f may go out again on a fresh
 * connection: only when the connection was reused from the pool (a keep-alive
 * race), the request had not been fully written to it (an upstream that
 * received all of a POST may have processed it, and billed it: RFC 9110
 * §9.2.2), no response byte arrived, and this is the first retry.
 */
bool gw_fail_retryable(enum gw_fail f, bool reused_conn, bool request_written, bool got_bytes,
                       unsigned attempts);

#endif
