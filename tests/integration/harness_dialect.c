/*
 * tests/integration/harness_dialect.c — see harness_dialect.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness_dialect.h"

void hd_setup(const struct h_mock_opts *mo, const char *providers, const char *models)
{
    h_setup();
    h_mock_start(mo);
    char port[16];
    int pl = snprintf(port, sizeof(port), "%d", H.mock_port);
    size_t cap = strlen(providers) * 2 + 64, k = 0;
    char *items = malloc(cap);
    cr_assert(items);
    for (const char *p = providers; *p;) {
        if (strncmp(p, "{port}", 6) == 0) {
            memcpy(items + k, port, (size_t)pl);
            k += (size_t)pl;
            p += 6;
        } else {
            items[k++] = *p++;
        }
        cr_assert(k + 16 < cap);
    }
    items[k] = '\0';
    struct h_gw_opts o = {.provider_items = items, .extra_model_items = models};
    h_gw_start_with(&o);
    free(items);
}

void hd_post(const char *body, struct h_resp *r)
{
    cr_assert_eq(h_chat(body, NULL, r), 0, "no answer to %s", body);
}

void hd_post_ok(const char *body)
{
    struct h_resp r;
    hd_post(body, &r);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_resp_free(&r);
}

char *hd_last_body(void)
{
    return h_mock_last_body();
}

void hd_expect_completion(const struct h_resp *r, const char *model, const char *content,
                          const char *finish, long long completion_tokens, long long cached)
{
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
    char v[1024];
    cr_assert(h_json_get(r->body, r->body_len, "object", v, sizeof(v)) > 0, "%s", r->body);
    cr_assert_str_eq(v, "chat.completion");
    h_json_get(r->body, r->body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, model);
    h_json_get(r->body, r->body_len, "id", v, sizeof(v));
    cr_assert(strncmp(v, "chatcmpl-", 9) == 0, "id %s", v);
    h_json_get(r->body, r->body_len, "choices.0.message.role", v, sizeof(v));
    cr_assert_str_eq(v, "assistant");
    h_json_get(r->body, r->body_len, "choices.0.message.content", v, sizeof(v));
    cr_assert_str_eq(v, content, "%s", r->body);
    h_json_get(r->body, r->body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, finish, "%s", r->body);
    long long ct, ca, pt, tt, rt;
    cr_assert(h_json_int(r->body, r->body_len, "usage.completion_tokens", &ct), "%s", r->body);
    cr_assert_eq(ct, completion_tokens);
    cr_assert(h_json_int(r->body, r->body_len, "usage.prompt_tokens_details.cached_tokens", &ca));
    cr_assert(
        h_json_int(r->body, r->body_len, "usage.completion_tokens_details.reasoning_tokens", &rt),
        "%s", r->body);
    cr_assert_leq(rt, ct);
    if (cached >= 0)
        cr_assert_eq(ca, cached);
    cr_assert(h_json_int(r->body, r->body_len, "usage.prompt_tokens", &pt));
    cr_assert_gt(pt, ca, "prompt_tokens counts cached input too: %s", r->body);
    cr_assert(h_json_int(r->body, r->body_len, "usage.total_tokens", &tt));
    cr_assert_eq(tt, pt + ct);
}

void hd_stream(const char *body, struct hd_stream *out)
{
    struct h_conn c;
    struct h_stream s;
    memset(out, 0, sizeof(*out));
    out->usage_completion = -1;
    cr_assert_eq(h_stream_start(&c, &s, H.gw_port, "/v1/chat/completions", H_AUTH, body), 0);
    out->status = s.head.status;
    if (s.head.status == 200)
        cr_assert_eq(h_stream_read_all(&c, &s, 10000), 0);
    out->text = h_stream_text(&s, &out->chunks);
    for (size_t i = 0; i < s.nevs; i++) {
        const char *d = s.evs[i].data;
        size_t dl = strlen(d);
        char v[32];
        if (h_event_is_usage(d)) {
            cr_assert(h_json_int(d, dl, "usage.completion_tokens", &out->usage_completion), "%s",
                      d);
        }
        char *err = h_json_dup(d, dl, "error");
        if (err) {
            cr_assert_null(out->error, "a second error chunk: %s", d);
            out->error = strdup(d);
            free(err);
        }
        char piece[512];
        if (h_json_get(d, dl, "choices.0.delta.tool_calls.0.function.name", out->tool_name,
                       sizeof(out->tool_name)) > 0)
            out->tool_named++;
        if (h_json_get(d, dl, "choices.0.delta.tool_calls.0.function.arguments", piece,
                       sizeof(piece)) > 0)
            strncat(out->tool_args, piece, sizeof(out->tool_args) - strlen(out->tool_args) - 1);
        if (h_json_get(d, dl, "choices.0.finish_reason", v, sizeof(v)) > 0 &&
            strcmp(v, "null") != 0)
            snprintf(out->finish, sizeof(out->finish), "%s", v);
    }
    out->saw_done = s.saw_done;
    out->complete = s.complete;
    h_conn_close(&c);
    h_stream_free(&s);
}

void hd_stream_free(struct hd_stream *s)
{
    free(s->text);
    free(s->error);
}

void hd_expect_plain_stream(const char *model, unsigned chunks, bool include_usage)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"stream\":true,%s\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hi\"}],\"mock\":{\"chunks\":%u}}",
             model, include_usage ? "\"stream_options\":{\"include_usage\":true}," : "", chunks);
    struct hd_stream s;
    hd_stream(body, &s);
    cr_assert_eq(s.status, 200);
    char want[512] = "";
    for (unsigned i = 0; i < chunks; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "tok%u ", i);
    cr_assert_str_eq(s.text, want);
    cr_assert_eq(s.chunks, chunks);
    cr_assert_str_eq(s.finish, "stop");
    cr_assert_null(s.error, "%s", s.error);
    cr_assert(s.saw_done && s.complete, "no [DONE] or a cut stream");
    if (include_usage)
        cr_assert_eq(s.usage_completion, (long long)chunks, "usage chunk");
    else
        cr_assert_eq(s.usage_completion, -1, "usage chunk for a client that did not ask");
    hd_stream_free(&s);
}

void hd_expect_cut_stream_ends_with_error(const char *model)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"stream\":true,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hi\"}],\"mock\":{\"chunks\":6,\"fault\":\"close_mid_stream\"}}",
             model);
    struct hd_stream s;
    hd_stream(body, &s);
    cr_assert_eq(s.status, 200);
    cr_assert_lt(s.chunks, 6, "all deltas arrived although the upstream cut the stream");
    cr_assert(s.error, "no error chunk at the end of a cut stream");
    char v[64];
    h_json_get(s.error, strlen(s.error), "error.type", v, sizeof(v));
    cr_assert_str_eq(v, "server_error", "%s", s.error);
    cr_assert(s.saw_done, "a cut stream did not end with [DONE]");
    cr_assert(s.complete, "the response was cut instead of ended");
    hd_stream_free(&s);
}

void hd_expect_embeddings(const char *model, int dims, bool counts_tokens)
{
    struct h_resp r;
    char body[256], v[4096];
    snprintf(body, sizeof(body), "{\"model\":\"%s\",\"input\":[\"a\",\"b\"]}", model);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH, body, &r), 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_json_get(r.body, r.body_len, "object", v, sizeof(v));
    cr_assert_str_eq(v, "list");
    h_json_get(r.body, r.body_len, "model", v, sizeof(v));
    cr_assert_str_eq(v, model);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data"), 2);
    h_json_get(r.body, r.body_len, "data.1.object", v, sizeof(v));
    cr_assert_str_eq(v, "embedding");
    long long idx, pt;
    cr_assert(h_json_int(r.body, r.body_len, "data.1.index", &idx));
    cr_assert_eq(idx, 1);
    cr_assert_eq(h_json_array_len(r.body, r.body_len, "data.0.embedding"), dims);
    cr_assert(h_json_int(r.body, r.body_len, "usage.prompt_tokens", &pt));
    if (counts_tokens)
        cr_assert_gt(pt, 0);
    else
        cr_assert_eq(pt, 0);
    h_resp_free(&r);
    /* base64 (the openai SDKs' default): dims little-endian float32s. */
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\"}", model);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH, body, &r), 0);
    cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
    h_json_get(r.body, r.body_len, "data.0.embedding", v, sizeof(v));
    cr_assert_eq(strlen(v), (size_t)(dims * 4 + 2) / 3 * 4, "%d float32 in base64: %s", dims, v);
    h_resp_free(&r);
}

void hd_expect_rate_limited(const char *model, struct h_resp *r)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
             "\"mock\":{\"status\":429,\"retry_after\":\"3\"}}",
             model);
    hd_post(body, r);
    h_assert_error(r, 429, "rate_limit_exceeded");
    h_json_expect(r->body, "error.type", "rate_limit_error");
    const char *ra = h_resp_header(r, "retry-after");
    cr_assert(ra && strcmp(ra, "3") == 0, "retry-after %s", ra ? ra : "(none)");
}

void hd_expect_streams_via(const char *model, const char *path)
{
    hd_expect_plain_stream(model, 4, false);
    char v[512];
    h_mock_last_get("path", v, sizeof(v));
    cr_assert_str_eq(v, path);
    hd_expect_plain_stream(model, 2, true);
}

void hd_expect_no_embeddings(const char *model)
{
    struct h_resp r;
    char body[256];
    snprintf(body, sizeof(body), "{\"model\":\"%s\",\"input\":\"x\"}", model);
    cr_assert_eq(h_do(H.gw_port, "POST", "/v1/embeddings", H_AUTH, body, &r), 0);
    h_assert_error(&r, 400, "unsupported_endpoint");
    h_resp_free(&r);
}

void hd_expect_tool_call(const struct h_resp *r, int i, const char *name, const char *key,
                         const char *value)
{
    char path[96], v[1024], got[256];
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
    h_json_get(r->body, r->body_len, "choices.0.finish_reason", v, sizeof(v));
    cr_assert_str_eq(v, "tool_calls", "%s", r->body);
    snprintf(path, sizeof(path), "choices.0.message.tool_calls.%d.type", i);
    h_json_get(r->body, r->body_len, path, v, sizeof(v));
    cr_assert_str_eq(v, "function", "%s", r->body);
    snprintf(path, sizeof(path), "choices.0.message.tool_calls.%d.function.name", i);
    h_json_get(r->body, r->body_len, path, v, sizeof(v));
    cr_assert_str_eq(v, name, "%s", r->body);
    snprintf(path, sizeof(path), "choices.0.message.tool_calls.%d.id", i);
    cr_assert(h_json_get(r->body, r->body_len, path, v, sizeof(v)) > 0, "no id: %s", r->body);
    snprintf(path, sizeof(path), "choices.0.message.tool_calls.%d.function.arguments", i);
    h_json_get(r->body, r->body_len, path, v, sizeof(v));
    cr_assert(h_json_get(v, strlen(v), key, got, sizeof(got)) > 0, "arguments: %s", v);
    cr_assert_str_eq(got, value);
}

void hd_expect_tool_stream(const char *body, const char *name, const char *key, const char *value,
                           struct hd_stream *out)
{
    struct hd_stream s;
    hd_stream(body, &s);
    cr_assert_eq(s.status, 200);
    cr_assert_eq(s.tool_named, 1, "deltas naming the call: %zu", s.tool_named);
    cr_assert_str_eq(s.tool_name, name);
    char got[256];
    cr_assert(h_json_get(s.tool_args, strlen(s.tool_args), key, got, sizeof(got)) > 0, "args: %s",
              s.tool_args);
    cr_assert_str_eq(got, value);
    cr_assert_str_eq(s.finish, "tool_calls");
    cr_assert(s.saw_done && s.complete);
    if (out)
        *out = s;
    else
        hd_stream_free(&s);
}
