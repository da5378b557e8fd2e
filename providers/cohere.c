/* providers/cohere.c — placeholder until the cohere dialect lands: requests are refused. */
#include <stdio.h>

#include "providers/dialect.h"

static int build(const struct gw_xlate *x, const char *body, size_t len, struct gw_xlate_req *out,
                 struct gw_xlate_err *err)
{
    (void)x;
    (void)body;
    (void)len;
    (void)out;
    err->status = 400;
    snprintf(err->message, sizeof(err->message), "The cohere dialect is not translated yet.");
    return -1;
}

static int response(const struct gw_xlate *x, const char *body, size_t len, struct gw_span *out,
                    struct gw_xlate_usage *u)
{
    (void)x;
    (void)body;
    (void)len;
    (void)out;
    (void)u;
    return -1;
}

static int error(int status, const char *body, size_t len, struct gw_arena *a, struct gw_span *out,
                 int *out_status)
{
    (void)status;
    (void)body;
    (void)len;
    (void)a;
    (void)out;
    (void)out_status;
    return -1;
}

static void init(void *st, const struct gw_xlate *x)
{
    (void)st;
    (void)x;
}

static int feed(void *st, const char *data, size_t len, const struct gw_xlate_sink *sink,
                struct gw_xlate_usage *u)
{
    (void)st;
    (void)data;
    (void)len;
    (void)sink;
    (void)u;
    return -1;
}

static int end(void *st, const struct gw_xlate_sink *sink, struct gw_xlate_usage *u)
{
    (void)st;
    (void)sink;
    (void)u;
    return -1;
}

const struct gw_dialect gw_dialect_cohere = {
    .name = "cohere",
    .build_request = build,
    .translate_response = response,
    .translate_error = error,
    .stream_size = 1,
    .stream_init = init,
    .stream_feed = feed,
    .stream_end = end,
};
