/*
 * tests/integration/harness_dialect.h — what the native-dialect suites
 * (test_anthropic, test_gemini, test_cohere, test_bedrock) share: starting the
 * mock and a gateway whose providers speak the dialect, posting, reading what
 * went upstream, and the OpenAI side of an answer, which is the same shape
 * whichever dialect answered (providers/oai.c writes it), so it is checked in
 * one place.
 */
#ifndef GW_TESTS_INTEGRATION_HARNESS_DIALECT_H
#define GW_TESTS_INTEGRATION_HARNESS_DIALECT_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

/* One function tool, get_weather(city), as the member "tools":[...] of a request. */
#define HD_TOOLS                                                                                   \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","                    \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]"

/*
 * Starts the mock with *mo, then the gateway with the provider items
 * `providers` (YAML list items under providers:, every "{port}" replaced by
 * the mock's port) and the model items `models`.
 */
void hd_setup(const struct h_mock_opts *mo, const char *providers, const char *models);

/* POSTs body to /v1/chat/completions with the test key; the request must get an answer. */
void hd_post(const char *body, struct h_resp *r);

/* hd_post that must answer 200. */
void hd_post_ok(const char *body);

/* The body the mock received last, unescaped (malloc'd). */
char *hd_last_body(void);

/*
 * A 200 chat.completion for `model` whose first choice says `content` and
 * ends with `finish`, with an id "chatcmpl-…", completion_tokens as given,
 * cached_tokens as given (-1: not checked), prompt_tokens above the cached
 * ones and total = prompt + completion, and the usage details present.
 */
void hd_expect_completion(const struct h_resp *r, const char *model, const char *content,
                          const char *finish, long long completion_tokens, long long cached);

/* What one streamed answer came to. */
struct hd_stream {
    char *text;                 /* the content deltas joined (malloc'd) */
    size_t chunks;              /* content deltas */
    char finish[32];            /* the last finish_reason seen */
    long long usage_completion; /* the usage chunk's completion_tokens; -1 without one */
    char *error;                /* the data of an error chunk (malloc'd), or NULL */
    char tool_name[64];         /* the name of the first streamed tool call */
    size_t tool_named;          /* deltas that carried a tool call's name */
    char tool_args[1024];       /* tool call 0's argument pieces joined */
    bool saw_done;              /* data: [DONE] came */
    bool complete;              /* the response ended properly (last chunk) */
    int status;
};

/* Streams body (which must ask for stream:true) and gathers what came. */
void hd_stream(const char *body, struct hd_stream *out);
void hd_stream_free(struct hd_stream *s);

/*
 * The stream a plain request gives: `chunks` deltas of text "tok0 tok1 … ",
 * ended with [DONE] on a complete response; a usage chunk only when
 * include_usage is true (and then its completion_tokens is `chunks`).
 */
void hd_expect_plain_stream(const char *model, unsigned chunks, bool include_usage);

/*
 * A stream of `model` that the upstream cuts after some deltas (the mock's
 * close_mid_stream fault): the client still gets a complete response that
 * ends with one OpenAI error chunk and [DONE], after fewer than all deltas.
 */
void hd_expect_cut_stream_ends_with_error(const char *model);

/*
 * POST /v1/embeddings for `model` with input ["a","b"]: a list of two
 * embeddings of `dims` numbers for `model`, with prompt_tokens above 0 when
 * the provider counts them (else 0); then the same in base64 (dims
 * little-endian float32s).
 */
void hd_expect_embeddings(const char *model, int dims, bool counts_tokens);

/*
 * A request for model that the provider answers 429 with retry-after 3: the
 * client gets 429 rate_limit_exceeded of type rate_limit_error, with the
 * retry-after header passed on. *r keeps the answer (the caller frees it).
 */
void hd_expect_rate_limited(const char *model, struct h_resp *r);

/*
 * hd_expect_plain_stream without usage then with it, and between them the
 * upstream path the stream went to must be `path`.
 */
void hd_expect_streams_via(const char *model, const char *path);

/* POST /v1/embeddings for a dialect that serves none: a clear 400 unsupported_endpoint. */
void hd_expect_no_embeddings(const char *model);

/*
 * A 200 answer that ends in tool_calls, whose tool call at index i of the
 * first choice is `name` with an object argument holding key=value.
 */
void hd_expect_tool_call(const struct h_resp *r, int i, const char *name, const char *key,
                         const char *value);

/*
 * Streams body (a request whose answer is one tool call): exactly one delta
 * names the call `name`, the argument pieces join into an object holding
 * key=value, the finish reason is tool_calls and [DONE] ends it. *out, when
 * not NULL, gets the stream for more checks (the caller frees it).
 */
void hd_expect_tool_stream(const char *body, const char *name, const char *key, const char *value,
                           struct hd_stream *out);

#endif
