#include <stddef.h>

#include "core/fail.h"

static const struct {
    const char *str;
    int status;
    const char *code;
} fail_table[GW_FAIL_COUNT] = {
    [GW_FAIL_NONE] = {"none", 200, NULL},
    [GW_FAIL_CONNECT] = {"upstream connect failed", 502, "upstream_connect_failed"},
    [GW_FAIL_TLS] = {"upstream TLS handshake failed", 502, "upstream_tls_failed"},
    [GW_FAIL_TIMEOUT_CONNECT] = {"upstream connect timed out", 504, "upstream_timeout"},
    [GW_FAIL_TIMEOUT_HANDSHAKE] = {"upstream TLS handshake timed out", 504, "upstream_timeout"},
    [GW_FAIL_TIMEOUT_SEND] = {"upstream stopped taking the request", 504, "upstream_timeout"},
    [GW_FAIL_TIMEOUT_FIRST_BYTE] = {"upstream did not answer in time", 504, "upstream_timeout"},
    [GW_FAIL_TIMEOUT_READ] = {"upstream went silent mid-response", 504, "upstream_timeout"},
    [GW_FAIL_PROTO] = {"upstream sent an invalid HTTP response", 502, "upstream_protocol_error"},
    [GW_FAIL_RESET] = {"upstream closed the connection early", 502, "upstream_reset"},
    [GW_FAIL_NOMEM] = {"gateway is out of buffer memory", 503, "gateway_overloaded"},
    [GW_FAIL_POOL_LIMIT] = {"upstream connection limit reached", 503, "gateway_overloaded"},
    [GW_FAIL_SOCKET] = {"could not open an upstream socket", 503, "gateway_overloaded"},
    [GW_FAIL_DRAINING] = {"gateway is shutting down", 503, "gateway_draining"},
    [GW_FAIL_CLIENT_GONE] = {"client went away", 499, NULL},
    [GW_FAIL_BUDGET] = {"budget exceeded mid-stream", 429, "budget_exceeded"},
};

const char *gw_fail_str(enum gw_fail f)
{
    return (unsigned)f < GW_FAIL_COUNT ? fail_table[f].str : "unknown";
}

int gw_fail_status(enum gw_fail f)
{
    return (unsigned)f < GW_FAIL_COUNT ? fail_table[f].status : 502;
}

const char *gw_fail_code(enum gw_fail f)
{
    return (unsigned)f < GW_FAIL_COUNT && fail_table[f].code ? fail_table[f].code : "upstream_error";
}

const char *gw_fail_name(enum gw_fail f)
{
    static const char *const names[GW_FAIL_COUNT] = {
        "none",    "connect",   "tls",    "timeout_connect", "timeout_handshake", "timeout_send",
        "timeout_first_byte",
        "timeout_read", "protocol", "reset", "no_memory", "pool_limit",
        "socket",  "draining",  "client_gone", "budget"};
    return (unsigned)f < GW_FAIL_COUNT ? names[f] : "unknown";
}

bool gw_fail_retryable(enum gw_fail f, bool reused_conn, bool request_written, bool got_bytes,
                       unsigned attempts)
{
    return reused_conn && !request_written && !got_bytes && attempts < 2 &&
           ((GW_FAIL_RETRY_MASK >> f) & 1u);
}
