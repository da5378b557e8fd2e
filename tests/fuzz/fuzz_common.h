/*
 * tests/fuzz/fuzz_common.h — what the translator harnesses share: the
 * provider fixture (every field a translator or the relay reads, set to
 * something harmless), the request being translated, the sink that checks
 * OpenAI's stream framing chunk by chunk, and the hash that picks split
 * points from the input.
 *
 * Header-only (static functions) because each harness is its own executable.
 */
#ifndef GW_TESTS_FUZZ_COMMON_H
#define GW_TESTS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/config.h"
#include "core/json.h"
#include "providers/dialect.h"
#include "providers/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A provider of type t as a loaded snapshot would hold it (credentials made up). */
static inline void fz_provider(struct gw_provider *p, enum gw_provider_type t)
{
    memset(p, 0, sizeof(*p));
    p->name = "fuzz";
    p->type = t;
    p->type_name = gw_provider_type_str(t);
    p->stream_usage_option = t == GW_PT_OPENAI;
    p->organization = p->project = p->deployment = p->aws_session_token = "";
    p->api_version = "v1";
    p->anthropic_version = "2023-06-01";
    p->aws_access_key_id = "AKIDEXAMPLE";
    p->aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    p->region = "us-east-1";
    p->base_url = "http://upstream.test/v1";
    p->host = "upstream.test";
    p->port = 80;
    p->host_header = "upstream.test";
    p->base_path = "/v1";
    p->api_key = "upstream-key";
    p->tls_ca_file = "";
    p->origin_key = "http://upstream.test:80";
}

/* The provider type that translates through dialect d. */
static inline enum gw_provider_type fz_dialect_type(const struct gw_dialect *d)
{
    int t = 0;
    while (t < GW_PT_COUNT && gw_dialect_for((enum gw_provider_type)t) != d)
        t++;
    GW_BUG_ON(t == GW_PT_COUNT);
    return (enum gw_provider_type)t;
}

#define FZ_UPSTREAM_MODEL "fuzz-model"

/* The request a translator works for: endpoint ep, output in arena a. */
static inline struct gw_xlate fz_xlate(const struct gw_provider *p, struct gw_arena *a,
                                       enum gw_endpoint ep)
{
    return (struct gw_xlate){
        .prov = p,
        .upstream_model = FZ_UPSTREAM_MODEL,
        .client_model = "fuzz",
        .ep = ep,
        .request_id = "fuzz",
        .created = 1,
        .arena = a,
    };
}

/* FNV-1a over data[0..n): picks split points and flags from the input. */
static inline uint64_t fz_hash(const uint8_t *data, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

/*
 * A stream's output. The sink checks each write as it comes: one whole SSE
 * event "data: " + valid JSON + "\n\n", or "data: [DONE]\n\n"; nothing once
 * closed (the translator said the stream ended); and, after [DONE], nothing
 * at all.
 */
struct fz_out {
    char *p; /* owns */
    size_t n, cap;
    bool closed; /* set by the harness: no more writes */
    bool done;   /* [DONE] was written */
};

static inline int fz_sink_write(void *arg, const char *p, size_t n)
{
    struct fz_out *o = arg;
    GW_BUG_ON(o->closed || o->done);
    GW_BUG_ON(n < 8 || memcmp(p, "data: ", 6) != 0 || memcmp(p + n - 2, "\n\n", 2) != 0);
    o->done = n == 14 && memcmp(p, "data: [DONE]\n\n", 14) == 0;
    GW_BUG_ON(!o->done && !gw_json_validate(p + 6, n - 8));
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        GW_BUG_ON(!o->p);
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
    return 0;
}

static inline void fz_out_free(struct fz_out *o)
{
    free(o->p);
    memset(o, 0, sizeof(*o));
}

/* Two outputs are the same bytes. */
static inline bool fz_out_eq(const struct fz_out *a, const struct fz_out *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

#endif
