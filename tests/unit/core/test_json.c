/*
 * tests/unit/core/test_json.c — the JSON tokenizer, scanner and writer.
 *
 * Documents are real OpenAI wire formats where the shape matters; invalid
 * input is a table in which every entry must be refused, and every proper
 * prefix of the valid documents must be refused too.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/common.h"
#include "core/json.h"

/* A document given with its length, so entries may hold NUL bytes. */
struct doc {
    const char *s;
    size_t n;
};
/* clang-format off */
#define D(lit) {(lit), sizeof(lit) - 1}
/* clang-format on */

struct exp_tok {
    enum gw_json_tok_type type;
    size_t start, end;
    unsigned depth;
    const char *span;
};

/* Checks that doc (case name) yields exactly the n tokens exp, then the end. */
static void expect_tokens(const char *name, const char *doc, const struct exp_tok *exp, size_t n)
{
    struct gw_json j;
    struct gw_json_tok t;

    gw_json_init(&j, doc, strlen(doc));
    for (size_t i = 0; i < n; i++) {
        const struct exp_tok *x = &exp[i];
        int r = gw_json_next(&j, &t);
        cr_assert_eq(r, 1, "%s: token %zu: next returned %d", name, i, r);
        cr_assert_eq(t.type, x->type, "%s: token %zu: type %s, want %s", name, i,
                     gw_json_tok_type_str(t.type), gw_json_tok_type_str(x->type));
        cr_assert_eq(t.start, x->start, "%s: token %zu: start %zu, want %zu", name, i, t.start,
                     x->start);
        cr_assert_eq(t.end, x->end, "%s: token %zu: end %zu, want %zu", name, i, t.end, x->end);
        cr_assert_eq(t.depth, x->depth, "%s: token %zu: depth %u, want %u", name, i, t.depth,
                     x->depth);
        cr_assert_eq(t.span.len, strlen(x->span), "%s: token %zu: span len %zu", name, i,
                     t.span.len);
        cr_assert(memcmp(t.span.ptr, x->span, t.span.len) == 0, "%s: token %zu: span '%.*s'", name,
                  i, (int)t.span.len, t.span.ptr);
        cr_assert_eq(j.pos, t.end, "%s: token %zu: pos %zu", name, i, j.pos);
    }
    cr_assert_eq(gw_json_next(&j, &t), 0, "%s: end after %zu tokens", name, n);
    cr_assert_eq(gw_json_next(&j, &t), 0, "%s: 0 is sticky", name);
}

/* Starts j on doc and reads its first n tokens, each of which must be one. */
static void start_after(struct gw_json *j, struct gw_json_tok *t, const char *doc, unsigned n)
{
    gw_json_init(j, doc, strlen(doc));
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(gw_json_next(j, t), 1, "token %u of %s", i, doc);
}

/*
 * Unescapes the string value span into out and checks it is escaped and
 * decodes to want[0, wn); gw_json_str_eq must agree. Returns the length.
 */
static size_t expect_unescaped(struct gw_json_tok v, const char *want, size_t wn, char *out,
                               size_t cap)
{
    cr_assert(v.escaped, "'%.*s' has an escape", (int)v.span.len, v.span.ptr);
    long n = gw_json_unescape(v.span, out, cap);
    cr_assert_eq(n, (long)wn, "unescaped length %ld, want %zu", n, wn);
    cr_assert(memcmp(out, want, wn) == 0, "%.*s", (int)n, out);
    cr_assert(gw_json_str_eq(v.span, want));
    return (size_t)n;
}

static size_t off(const char *doc, const char *needle)
{
    const char *p = strstr(doc, needle);
    cr_assert_not_null(p, "'%s' not in document", needle);
    return (size_t)(p - doc);
}

/* Copies buf with [a, b) replaced by rep into out (NUL-terminated). */
static void splice(const char *buf, size_t len, size_t a, size_t b, const char *rep, char *out,
                   size_t cap)
{
    size_t rl = strlen(rep);
    cr_assert(a <= b && b <= len && a + rl + (len - b) < cap);
    memcpy(out, buf, a);
    memcpy(out + a, rep, rl);
    memcpy(out + a + rl, buf + b, len - b);
    out[a + rl + len - b] = '\0';
}

static void expect_member(const struct gw_json_member *m, const char *doc, const char *member,
                          enum gw_json_tok_type vtype)
{
    size_t start = off(doc, member);
    const char *colon = strchr(member, ':');
    cr_assert_not_null(colon);
    size_t vstart = start + (size_t)(colon - member) + 1;
    while (doc[vstart] == ' ')
        vstart++;
    cr_assert(m->found, "member %s not found", member);
    cr_assert_eq(m->member_start, start, "member_start %zu, want %zu", m->member_start, start);
    cr_assert_eq(m->member_end, start + strlen(member), "member_end %zu", m->member_end);
    cr_assert_eq(m->value_end, m->member_end);
    cr_assert_eq(m->value.start, vstart, "value.start %zu, want %zu", m->value.start, vstart);
    cr_assert_eq(m->value.type, vtype, "value type %s", gw_json_tok_type_str(m->value.type));
    cr_assert_eq(m->value.depth, 1);
}

/* ---- real wire formats ---- */

static const char chat_request[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a "
    "helpful assistant.\"},{\"role\":\"user\",\"content\":\"What's the weather in Paris?\\n"
    "Answer in \\\"one\\\" line.\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"description\":\"Get the current weather\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"location\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\","
    "\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"location\"]}}}],\"tool_choice\":"
    "\"auto\",\"temperature\":0.7,\"max_tokens\":256,\"stream\":true,\"stream_options\":{"
    "\"include_usage\":true},\"user\":\"u-42\"}";

static const char chat_request_pretty[] = "{\n"
                                          "  \"model\": \"gpt-4o\",\n"
                                          "  \"messages\": [\n"
                                          "    {\"role\": \"user\", \"content\": \"Hi\"}\n"
                                          "  ],\n"
                                          "  \"stream\": false,\n"
                                          "  \"stream_options\": {\"include_usage\": true}\n"
                                          "}\n";

static const char chat_response[] =
    "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion\","
    "\"created\":1741569952,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I assist you today?\","
    "\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
    "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fc9f1d7035\"}";

static const char tool_call_response[] =
    "{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion\",\"created\":1699896916,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"call_abc123\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\n\\\"location\\\": "
    "\\\"Paris, France\\\"\\n}\"}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":17,\"total_tokens\":99}}";

static const char chat_chunk[] =
    "{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1717000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Bonjour \\u00e0 vous \\ud83d\\ude00 "
    "\xe2\x82\xac\\n\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}";

static const char embeddings_response[] =
    "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":["
    "0.0023064255,-0.009327292,-0.0028842222,1.5e-05,-3.2E-4,0]}],\"model\":"
    "\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";

static const char error_response[] =
    "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc***. You can find your API "
    "key at https://platform.openai.com/account/api-keys.\",\"type\":\"invalid_request_error\","
    "\"param\":null,\"code\":\"invalid_api_key\"}}";

/* Finds member `key` in the object doc[start..end) and returns it (asserting it exists). */
static struct gw_json_member member_of(const char *doc, size_t start, size_t end, const char *key)
{
    const char *keys[] = {key};
    struct gw_json_member m;
    cr_assert_eq(gw_json_scan_object(doc + start, end - start, keys, 1, &m), 0, "scan %s", key);
    cr_assert(m.found, "%s not found", key);
    m.member_start += start;
    m.member_end += start;
    m.value_end += start;
    m.value.start += start;
    m.value.end += start;
    return m;
}

/* The first element of the array value v: [*start, *end) of the element. */
static void first_element(const char *doc, const struct gw_json_member *v, size_t *start,
                          size_t *end)
{
    struct gw_json j;
    struct gw_json_tok t;
    cr_assert_eq(v->value.type, GW_JT_ARR_BEGIN);
    gw_json_init(&j, doc + v->value.start, v->value_end - v->value.start);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    size_t e;
    cr_assert_eq(gw_json_skip(&j, &t, &e), 0);
    *start = v->value.start + t.start;
    *end = v->value.start + e;
}

Test(json, chat_request_scan_finds_model_stream_and_options)
{
    const char *keys[] = {"model", "stream", "stream_options", "n", "messages"};
    struct gw_json_member m[5];
    size_t len = strlen(chat_request);

    cr_assert_eq(gw_json_scan_object(chat_request, len, keys, 5, m), 0);
    expect_member(&m[0], chat_request, "\"model\":\"gpt-4o-mini\"", GW_JT_STRING);
    expect_member(&m[1], chat_request, "\"stream\":true", GW_JT_TRUE);
    expect_member(&m[2], chat_request, "\"stream_options\":{\"include_usage\":true}",
                  GW_JT_OBJ_BEGIN);
    cr_assert_not(m[3].found);
    cr_assert(m[4].found);
    cr_assert_eq(m[4].value.type, GW_JT_ARR_BEGIN);
    cr_assert_eq(m[4].value_end, off(chat_request, ",\"tools\""));
    cr_assert(gw_json_str_eq(m[0].value.span, "gpt-4o-mini"));
    cr_assert_eq(m[0].value.end, m[0].value_end);
    cr_assert_eq(m[2].value.end, m[2].value.start + 1, "a bracket token is one byte");
}

Test(json, chat_request_splice_replaces_model_and_removes_options)
{
    const char *keys[] = {"model", "stream_options"};
    struct gw_json_member m[2];
    size_t len = strlen(chat_request);
    char out[2048], out2[2048];

    cr_assert_eq(gw_json_scan_object(chat_request, len, keys, 2, m), 0);
    splice(chat_request, len, m[0].value.start, m[0].value_end, "\"gpt-4.1\"", out, sizeof(out));
    cr_assert(strncmp(out, "{\"model\":\"gpt-4.1\",\"messages\":[", 31) == 0, "%.40s", out);
    cr_assert_eq(strlen(out), len - 4);
    cr_assert(gw_json_validate(out, strlen(out)));

    /* stream_options is followed by ",\"user\"": the cut takes the comma after it. */
    size_t a, b;
    cr_assert(gw_json_member_cut(chat_request, len, &m[1], &a, &b));
    cr_assert_eq(a, off(chat_request, "\"stream_options\""));
    cr_assert_eq(b, off(chat_request, ",\"user\":\"u-42\"") + 1);
    splice(chat_request, len, a, b, "", out2, sizeof(out2));
    cr_assert(gw_json_validate(out2, strlen(out2)));
    cr_assert_null(strstr(out2, "stream_options"));
    cr_assert_not_null(strstr(out2, "\"stream\":true,\"user\":\"u-42\"}"));
    cr_assert_eq(strlen(out2), len - strlen("\"stream_options\":{\"include_usage\":true},"));
}

Test(json, pretty_request_splice_last_member_takes_preceding_comma)
{
    const char *keys[] = {"model", "stream", "stream_options"};
    struct gw_json_member m[3];
    size_t len = strlen(chat_request_pretty);
    char out[1024];

    cr_assert_eq(gw_json_scan_object(chat_request_pretty, len, keys, 3, m), 0);
    expect_member(&m[0], chat_request_pretty, "\"model\": \"gpt-4o\"", GW_JT_STRING);
    expect_member(&m[1], chat_request_pretty, "\"stream\": false", GW_JT_FALSE);
    expect_member(&m[2], chat_request_pretty, "\"stream_options\": {\"include_usage\": true}",
                  GW_JT_OBJ_BEGIN);

    size_t a, b;
    cr_assert(gw_json_member_cut(chat_request_pretty, len, &m[2], &a, &b));
    cr_assert_eq(a, off(chat_request_pretty, ",\n  \"stream_options\""));
    cr_assert_eq(b, m[2].member_end);
    splice(chat_request_pretty, len, a, b, "", out, sizeof(out));
    cr_assert_str_eq(out, "{\n"
                          "  \"model\": \"gpt-4o\",\n"
                          "  \"messages\": [\n"
                          "    {\"role\": \"user\", \"content\": \"Hi\"}\n"
                          "  ],\n"
                          "  \"stream\": false\n"
                          "}\n");
    cr_assert(gw_json_validate(out, strlen(out)));

    /* Replacing a value: stream false -> true. */
    splice(chat_request_pretty, len, m[1].value.start, m[1].value_end, "true", out, sizeof(out));
    cr_assert_not_null(strstr(out, "\"stream\": true,\n"));
    cr_assert(gw_json_validate(out, strlen(out)));
}

Test(json, member_cut_first_middle_and_only_member)
{
    const char *doc = "{ \"a\" : 1 , \"b\":[2] ,\"c\":{} }";
    const char *keys[] = {"a", "b", "c"};
    struct gw_json_member m[3];
    size_t len = strlen(doc), a, b;
    char out[128];

    cr_assert_eq(gw_json_scan_object(doc, len, keys, 3, m), 0);
    cr_assert(gw_json_member_cut(doc, len, &m[0], &a, &b));
    splice(doc, len, a, b, "", out, sizeof(out));
    cr_assert_str_eq(out, "{  \"b\":[2] ,\"c\":{} }");
    cr_assert(gw_json_member_cut(doc, len, &m[1], &a, &b));
    splice(doc, len, a, b, "", out, sizeof(out));
    cr_assert_str_eq(out, "{ \"a\" : 1 , \"c\":{} }");
    cr_assert(gw_json_member_cut(doc, len, &m[2], &a, &b));
    splice(doc, len, a, b, "", out, sizeof(out));
    cr_assert_str_eq(out, "{ \"a\" : 1 , \"b\":[2]  }");

    const char *only = "{\"model\":\"x\"}";
    const char *k1[] = {"model"};
    cr_assert_eq(gw_json_scan_object(only, strlen(only), k1, 1, m), 0);
    cr_assert(gw_json_member_cut(only, strlen(only), &m[0], &a, &b));
    cr_assert_eq(a, 1);
    cr_assert_eq(b, 12);
    m[0].found = false;
    cr_assert_not(gw_json_member_cut(only, strlen(only), &m[0], &a, &b));
}

Test(json, chat_response_content_and_usage)
{
    const char *doc = chat_response;
    size_t len = strlen(doc), s, e;

    struct gw_json_member choices = member_of(doc, 0, len, "choices");
    first_element(doc, &choices, &s, &e);
    cr_assert_eq(s, off(doc, "{\"index\":0"));
    struct gw_json_member msg = member_of(doc, s, e, "message");
    struct gw_json_member content = member_of(doc, msg.value.start, msg.value_end, "content");
    cr_assert_eq(content.value.type, GW_JT_STRING);
    cr_assert_not(content.value.escaped);
    cr_assert_eq(content.value.span.ptr, doc + off(doc, "Hello!"));
    cr_assert(gw_json_str_eq(content.value.span, "Hello! How can I assist you today?"));
    struct gw_json_member fin = member_of(doc, s, e, "finish_reason");
    cr_assert(gw_json_str_eq(fin.value.span, "stop"));

    struct gw_json_member usage = member_of(doc, 0, len, "usage");
    const char *uk[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
    struct gw_json_member u[3];
    cr_assert_eq(
        gw_json_scan_object(doc + usage.value.start, usage.value_end - usage.value.start, uk, 3, u),
        0);
    uint64_t want[3] = {19, 10, 29};
    for (int i = 0; i < 3; i++) {
        uint64_t v = 0;
        cr_assert(u[i].found);
        cr_assert_eq(u[i].value.type, GW_JT_NUMBER);
        cr_assert(gw_json_to_u64(u[i].value.span, &v));
        cr_assert_eq(v, want[i], "%s = %lu", uk[i], (unsigned long)v);
    }
    /* Nested "model"-like keys must not leak into a top-level scan. */
    const char *k[] = {"content", "audio_tokens"};
    struct gw_json_member top[2];
    cr_assert_eq(gw_json_scan_object(doc, len, k, 2, top), 0);
    cr_assert_not(top[0].found);
    cr_assert_not(top[1].found);
}

Test(json, tool_call_arguments_unescape_to_valid_json)
{
    const char *doc = tool_call_response;
    size_t len = strlen(doc), s, e, s2, e2;

    struct gw_json_member choices = member_of(doc, 0, len, "choices");
    first_element(doc, &choices, &s, &e);
    struct gw_json_member msg = member_of(doc, s, e, "message");
    struct gw_json_member content = member_of(doc, msg.value.start, msg.value_end, "content");
    cr_assert_eq(content.value.type, GW_JT_NULL);
    struct gw_json_member calls = member_of(doc, msg.value.start, msg.value_end, "tool_calls");
    first_element(doc, &calls, &s2, &e2);
    struct gw_json_member fn = member_of(doc, s2, e2, "function");
    struct gw_json_member args = member_of(doc, fn.value.start, fn.value_end, "arguments");

    char out[128];
    const char want[] = "{\n\"location\": \"Paris, France\"\n}";
    size_t n = expect_unescaped(args.value, want, sizeof(want) - 1, out, sizeof(out));
    cr_assert(gw_json_validate(out, n));
}

Test(json, chunk_delta_unicode_escapes_decode)
{
    const char *doc = chat_chunk;
    size_t len = strlen(doc), s, e;

    const char *keys[] = {"object", "usage", "choices"};
    struct gw_json_member m[3];
    cr_assert_eq(gw_json_scan_object(doc, len, keys, 3, m), 0);
    cr_assert(gw_json_str_eq(m[0].value.span, "chat.completion.chunk"));
    cr_assert_eq(m[1].value.type, GW_JT_NULL);
    cr_assert_eq(m[1].value_end, len - 1);

    first_element(doc, &m[2], &s, &e);
    struct gw_json_member delta = member_of(doc, s, e, "delta");
    struct gw_json_member content = member_of(doc, delta.value.start, delta.value_end, "content");
    char out[64];
    const char want[] = "Bonjour \xc3\xa0 vous \xf0\x9f\x98\x80 \xe2\x82\xac\n";
    expect_unescaped(content.value, want, sizeof(want) - 1, out, sizeof(out));
    cr_assert_not(gw_json_str_eq(content.value.span, "Bonjour"));
}

Test(json, embeddings_numbers_are_exact_spans)
{
    const char *doc = embeddings_response;
    struct gw_json j;
    struct gw_json_tok t;
    const char *want[] = {
        "0", "0.0023064255", "-0.009327292", "-0.0028842222", "1.5e-05", "-3.2E-4", "0", "8", "8"};
    size_t k = 0;
    int r;

    gw_json_init(&j, doc, strlen(doc));
    while ((r = gw_json_next(&j, &t)) == 1) {
        if (t.type != GW_JT_NUMBER)
            continue;
        cr_assert_lt(k, GW_ARRAY_SIZE(want));
        cr_assert_eq(t.span.len, strlen(want[k]), "number %zu: '%.*s'", k, (int)t.span.len,
                     t.span.ptr);
        cr_assert(memcmp(t.span.ptr, want[k], t.span.len) == 0);
        cr_assert_eq(t.span.ptr, doc + t.start);
        cr_assert_eq(t.end, t.start + t.span.len);
        k++;
    }
    cr_assert_eq(r, 0);
    cr_assert_eq(k, GW_ARRAY_SIZE(want));
}

Test(json, error_object_fields)
{
    const char *doc = error_response;
    size_t len = strlen(doc);
    struct gw_json_member err = member_of(doc, 0, len, "error");
    cr_assert_eq(err.member_start, 1);
    cr_assert_eq(err.value_end, len - 1);

    const char *keys[] = {"message", "type", "param", "code"};
    struct gw_json_member m[4];
    cr_assert_eq(
        gw_json_scan_object(doc + err.value.start, err.value_end - err.value.start, keys, 4, m), 0);
    cr_assert(gw_json_str_eq(m[1].value.span, "invalid_request_error"));
    cr_assert_eq(m[2].value.type, GW_JT_NULL);
    cr_assert(gw_json_str_eq(m[3].value.span, "invalid_api_key"));
    cr_assert_eq(m[0].value.span.len, strlen("Incorrect API key provided: sk-abc***. You can find "
                                             "your API key at https://platform.openai.com/"
                                             "account/api-keys."));
}

/* ---- tokens and offsets ---- */

Test(json, every_token_type_with_offsets_and_depths)
{
    /* Offsets in "every token type":
     * 0         1         2         3         4         5
     * 0123456789012345678901234567890123456789012345678901234567
     * {"a":[1,-2.5e3,true,false,null],"b":{"c":"x\ny"},"d":[]} */
    static const struct exp_tok all_toks[] = {
        {GW_JT_OBJ_BEGIN, 0, 1, 0, "{"},    {GW_JT_KEY, 1, 4, 1, "a"},
        {GW_JT_ARR_BEGIN, 5, 6, 1, "["},    {GW_JT_NUMBER, 6, 7, 2, "1"},
        {GW_JT_NUMBER, 8, 14, 2, "-2.5e3"}, {GW_JT_TRUE, 15, 19, 2, "true"},
        {GW_JT_FALSE, 20, 25, 2, "false"},  {GW_JT_NULL, 26, 30, 2, "null"},
        {GW_JT_ARR_END, 30, 31, 1, "]"},    {GW_JT_KEY, 32, 35, 1, "b"},
        {GW_JT_OBJ_BEGIN, 36, 37, 1, "{"},  {GW_JT_KEY, 37, 40, 2, "c"},
        {GW_JT_STRING, 41, 47, 2, "x\\ny"}, {GW_JT_OBJ_END, 47, 48, 1, "}"},
        {GW_JT_KEY, 49, 52, 1, "d"},        {GW_JT_ARR_BEGIN, 53, 54, 1, "["},
        {GW_JT_ARR_END, 54, 55, 1, "]"},    {GW_JT_OBJ_END, 55, 56, 0, "}"},
    };
    /* Whitespace around every token moves the offsets, never the spans. */
    static const struct exp_tok spaced_toks[] = {
        {GW_JT_OBJ_BEGIN, 3, 4, 0, "{"},   {GW_JT_KEY, 5, 8, 1, "k"},
        {GW_JT_STRING, 12, 15, 1, "v"},    {GW_JT_KEY, 18, 21, 1, "n"},
        {GW_JT_ARR_BEGIN, 24, 25, 1, "["}, {GW_JT_NUMBER, 26, 27, 2, "0"},
        {GW_JT_ARR_END, 28, 29, 1, "]"},   {GW_JT_OBJ_END, 30, 31, 0, "}"},
    };
    static const struct {
        const char *name, *doc;
        const struct exp_tok *exp;
        size_t n;
    } cases[] = {
        {"every token type", "{\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"x\\ny\"},\"d\":[]}",
         all_toks, GW_ARRAY_SIZE(all_toks)},
        {"whitespace everywhere", " \t\n{ \"k\" :\r\n\"v\" , \"n\" : [ 0 ] }\r\n ", spaced_toks,
         GW_ARRAY_SIZE(spaced_toks)},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++)
        expect_tokens(cases[i].name, cases[i].doc, cases[i].exp, cases[i].n);
}

Test(json, top_level_scalars)
{
    static const struct {
        const char *doc;
        struct exp_tok tok;
    } cases[] = {
        {"\"str\"", {GW_JT_STRING, 0, 5, 0, "str"}}, {" 123\n", {GW_JT_NUMBER, 1, 4, 0, "123"}},
        {"true", {GW_JT_TRUE, 0, 4, 0, "true"}},     {"\t\tnull ", {GW_JT_NULL, 2, 6, 0, "null"}},
        {"-0", {GW_JT_NUMBER, 0, 2, 0, "-0"}},       {"\"\"", {GW_JT_STRING, 0, 2, 0, ""}},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++)
        expect_tokens(cases[i].doc, cases[i].doc, &cases[i].tok, 1);
}

Test(json, escaped_flag_and_raw_span)
{
    struct gw_json j;
    struct gw_json_tok t;
    const char *doc = "[\"plain text that is longer than eight\",\"tab\\there\",\"\\u00e9\"]";

    start_after(&j, &t, doc, 2);
    cr_assert_not(t.escaped);
    cr_assert_eq(t.span.len, 36);
    cr_assert_eq(t.span.ptr, doc + 2);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert(t.escaped);
    cr_assert_eq(t.span.len, 9);
    cr_assert(memcmp(t.span.ptr, "tab\\there", 9) == 0);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert(t.escaped);
    cr_assert(gw_json_str_eq(t.span, "\xc3\xa9"));
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(t.type, GW_JT_ARR_END);
    cr_assert_eq(gw_json_next(&j, &t), 0);
}

Test(json, error_is_sticky_and_pos_points_at_it)
{
    struct gw_json j;
    struct gw_json_tok t;
    const char *doc = "[1, 2,, 3]";

    start_after(&j, &t, doc, 3);
    cr_assert_eq(gw_json_next(&j, &t), -1);
    cr_assert_eq(j.pos, 6);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(gw_json_next(&j, &t), -1, "call %d after the error", i + 1);
}

Test(json, skip_containers_and_scalars)
{
    struct gw_json j;
    struct gw_json_tok t;
    const char *doc = "{\"a\":{\"x\":[1,{\"y\":[]}],\"z\":\"]}\"},\"b\":7,\"c\":[[],[{}]]}";
    size_t end;

    start_after(&j, &t, doc, 2); /* at the key "a" */
    cr_assert_eq(gw_json_skip(&j, &t, &end), -1, "a key is not a value");
    start_after(&j, &t, doc, 3);
    cr_assert_eq(t.type, GW_JT_OBJ_BEGIN);
    cr_assert_eq(gw_json_skip(&j, &t, &end), 0);
    cr_assert_eq(end, off(doc, ",\"b\""));
    cr_assert_eq(j.pos, end);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert(gw_json_str_eq(t.span, "b"));
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(gw_json_skip(&j, &t, &end), 0);
    cr_assert_eq(end, t.end);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(t.type, GW_JT_ARR_BEGIN);
    cr_assert_eq(gw_json_skip(&j, &t, &end), 0);
    cr_assert_eq(end, strlen(doc) - 1);
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(t.type, GW_JT_OBJ_END);
    cr_assert_eq(gw_json_next(&j, &t), 0);

    /* An invalid byte inside the skipped value fails the skip. */
    const char *bad = "[[1,2,]]";
    gw_json_init(&j, bad, strlen(bad));
    cr_assert_eq(gw_json_next(&j, &t), 1);
    cr_assert_eq(gw_json_skip(&j, &t, &end), -1);
}

/* ---- scan_object ---- */

Test(json, scan_duplicate_keys_last_wins)
{
    const char *doc = "{\"model\":\"a\",\"x\":{\"model\":\"nested\"},\"model\":\"b\",\"stream\":1}";
    const char *keys[] = {"model"};
    struct gw_json_member m;

    cr_assert_eq(gw_json_scan_object(doc, strlen(doc), keys, 1, &m), 0);
    cr_assert(m.found);
    cr_assert_eq(m.member_start, off(doc, "\"model\":\"b\""));
    cr_assert(gw_json_str_eq(m.value.span, "b"));
    cr_assert(m.dup);
}

Test(json, scan_flags_a_key_that_appears_more_than_once)
{
    /* The gateway rewrites one "model" and forwards the body: the upstream may read the other. */
    const char *doc = "{\"model\":\"a\",\"stream\":false,\"x\":{\"model\":\"nested\",\"stream\":1},"
                      "\"mod\\u0065l\":\"b\",\"n\":1,\"n\":2}";
    const char *keys[] = {"model", "stream", "messages"};
    struct gw_json_member m[3];

    cr_assert_eq(gw_json_scan_object(doc, strlen(doc), keys, 3, m), 0);
    cr_assert(m[0].found);
    cr_assert(m[0].dup, "an escaped spelling of the same name is the same key");
    cr_assert_eq(m[0].member_start, off(doc, "\"mod\\u0065l\""), "the last one is described");
    cr_assert(m[1].found);
    cr_assert_not(m[1].dup, "a nested member of the same name is no duplicate");
    cr_assert_not(m[2].found);
    cr_assert_not(m[2].dup);

    /* Three times is still dup; "n" repeats but nobody asked for it. */
    const char *thrice = "{\"stream\":true,\"stream\":false,\"stream\":null,\"model\":\"m\"}";
    cr_assert_eq(gw_json_scan_object(thrice, strlen(thrice), keys, 3, m), 0);
    cr_assert(m[1].dup);
    cr_assert_eq(m[1].value.type, GW_JT_NULL);
    cr_assert_not(m[0].dup);

    /* Stale flags from an earlier scan into the same array are cleared. */
    const char *once = "{\"model\":\"m\",\"stream\":true}";
    cr_assert_eq(gw_json_scan_object(once, strlen(once), keys, 3, m), 0);
    cr_assert_not(m[0].dup);
    cr_assert_not(m[1].dup);
    m[0].dup = true;
    const char *bad = "{\"model\":\"a\",\"model\":\"b\",}";
    cr_assert_eq(gw_json_scan_object(bad, strlen(bad), keys, 1, m), -1);
    cr_assert_not(m[0].found);
    cr_assert_not(m[0].dup, "an invalid document reports nothing");
}

Test(json, scan_compares_keys_after_unescaping)
{
    const char *doc = "{\"mod\\u0065l\":\"x\",\"stre\\u0061m\":true,\"model\\u0000\":1}";
    const char *keys[] = {"model", "stream"};
    struct gw_json_member m[2];

    cr_assert_eq(gw_json_scan_object(doc, strlen(doc), keys, 2, m), 0);
    cr_assert(m[0].found);
    cr_assert_eq(m[0].member_start, 1, "\"model\\u0000\" must not match \"model\"");
    cr_assert(m[1].found);
    cr_assert_eq(m[1].value.type, GW_JT_TRUE);
}

Test(json, scan_refuses_invalid_and_non_objects)
{
    const char *keys[] = {"model"};
    struct gw_json_member m;
    static const struct doc bad[] = {
        D("[{\"model\":1}]"),
        D("\"model\""),
        D("{\"model\":1} x"),
        D("{\"model\":1,}"),
        D("{\"model\":[1,]}"),
        D("{\"model\":\"a\",\"b\":01}"),
        D(""),
        D("null"),
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        m.found = true;
        cr_assert_eq(gw_json_scan_object(bad[i].s, bad[i].n, keys, 1, &m), -1, "doc %zu", i);
        cr_assert_not(m.found, "doc %zu", i);
    }
    cr_assert_eq(gw_json_scan_object("{}", 2, keys, 1, &m), 0);
    cr_assert_not(m.found);
    cr_assert_eq(gw_json_scan_object(" {\"a\":1} ", 9, NULL, 0, NULL), 0);
}

/* ---- validity tables ---- */

static const struct doc valid_docs[] = {
    D("0"),
    D("-0"),
    D("-0.0e-0"),
    D("1E+2"),
    D("1e05"),
    D("123456789012345678901234567890"),
    D("1.7976931348623157e309"),
    D("[]"),
    D("{}"),
    D(" [ ] "),
    D("\"\""),
    D("\"\\u0000\""),
    D("\"\\uD83D\\uDE00\""),
    D("\"\\ud83d\\ude00\""),
    D("\"\\uDBFF\\uDFFF\""),
    D("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    D("\"\x7f\""),
    D("\"\xc2\x80\""),
    D("\"\xdf\xbf\""),
    D("\"\xe0\xa0\x80\""),
    D("\"\xed\x9f\xbf\""),
    D("\"\xee\x80\x80\""),
    D("\"\xef\xbf\xbf\""),
    D("\"\xf0\x90\x80\x80\""),
    D("\"\xf4\x8f\xbf\xbf\""),
    D("{\"a\":{\"a\":{}}}"),
    D("[[],[[]],{}]"),
    D("{\"\":\"\"}"),
    D("[-1.5e-10,0.0,1e+0,-0E0]"),
    D("[true,false,null]"),
};

static const struct doc invalid_docs[] = {
    /* empty and whitespace */
    D(""),
    D(" "),
    D("\n\t\r"),
    /* structure */
    D("{"),
    D("}"),
    D("["),
    D("]"),
    D("{]"),
    D("[}"),
    D("[1}"),
    D("{\"a\":1]"),
    D("[[]"),
    D("{\"a\":{}"),
    D("{\"a\"}"),
    D("{\"a\":}"),
    D("{\"a\" 1}"),
    D("{\"a\":1 \"b\":2}"),
    D("{1:2}"),
    D("{a:1}"),
    D("{'a':1}"),
    D("['a']"),
    D("{\"a\"::1}"),
    D("{:1}"),
    D("[1 2]"),
    D("{\"a\":1:2}"),
    D("[:]"),
    D("{\"a\",1}"),
    /* trailing and stray commas */
    D("[1,]"),
    D("{\"a\":1,}"),
    D("[,1]"),
    D("[1,,2]"),
    D("{,}"),
    D("[,]"),
    D(","),
    D("1,"),
    D("{\"a\":[1,],\"b\":2}"),
    /* numbers */
    D("01"),
    D("-01"),
    D("00"),
    D("[01]"),
    D("[-00.5]"),
    D("+1"),
    D("-"),
    D("1."),
    D(".5"),
    D("1.e3"),
    D("1e"),
    D("1e+"),
    D("1E-"),
    D("--1"),
    D("-a"),
    D("0x10"),
    D("1.5.2"),
    D("Infinity"),
    D("NaN"),
    D("-Infinity"),
    D("1e5e5"),
    D("[1.]"),
    D("[-]"),
    D("- 1"),
    D("1 .5"),
    D("[1e]"),
    D("0e"),
    D("-.1"),
    /* literals */
    D("tru"),
    D("True"),
    D("nul"),
    D("fals"),
    D("nulll"),
    D("truefalse"),
    D("[t]"),
    D("[nul]"),
    D("NULL"),
    /* strings and escapes */
    D("\"abc"),
    D("\"abc\\\""),
    D("\"\\x41\""),
    D("\"\\u12\""),
    D("\"\\u12G4\""),
    D("\"\\U0041\""),
    D("\"\\'\""),
    D("\"\\a\""),
    D("\"\\0\""),
    D("\"\\"),
    D("\"\\u"),
    D("\"\\u004\""),
    D("[\"a\" \"b\"]"),
    D("{\"a\\\":1}"),
    D("\""),
    /* lone and broken surrogates */
    D("\"\\uD800\""),
    D("\"\\uDBFF\""),
    D("\"\\uDC00\""),
    D("\"\\uDFFF\""),
    D("\"\\uD800\\u0041\""),
    D("\"\\uD800\\uD800\""),
    D("\"\\uD800x\""),
    D("\"\\uD800\\n\""),
    D("\"\\uDC00\\uD800\""),
    D("\"\\uDC00\\uDC00\""),
    D("\"\\uDFFF\\uDFFF\""),
    D("\"\\uD83D\""),
    D("\"\\uD83D\\uDE0\""),
    D("\"\\uD83D\\"),
    D("\"\\uD83D\\u\""),
    D("{\"\\uDE00\":1}"),
    /* invalid UTF-8 */
    D("\"\x80\""),
    D("\"\xbf\""),
    D("\"\xc0\x80\""),
    D("\"\xc1\xbf\""),
    D("\"\xc2\""),
    D("\"\xc2\x41\""),
    D("\"\xe0\x80\x80\""),
    D("\"\xe0\x9f\xbf\""),
    D("\"\xed\xa0\x80\""),
    D("\"\xed\xbf\xbf\""),
    D("\"\xe2\x82\""),
    D("\"\xe2\x28\xa1\""),
    D("\"\xf0\x80\x80\x80\""),
    D("\"\xf0\x8f\xbf\xbf\""),
    D("\"\xf4\x90\x80\x80\""),
    D("\"\xf5\x80\x80\x80\""),
    D("\"\xf8\x88\x80\x80\x80\""),
    D("\"\xfe\""),
    D("\"\xff\""),
    D("\"\xf0\x9f\x98\""),
    D("\"\xf0\x9f\x98\x41\""),
    D("\"\xc3"),
    D("[\xc3\xa9]"),
    D("\xef\xbb\xbf{}"),
    D("{\"k\xff\":1}"),
    /* raw control characters in strings */
    D("\"a\tb\""),
    D("\"a\nb\""),
    D("\"\x1f\""),
    D("\"\x00\""),
    D("{\"a\x01\":1}"),
    /* trailing garbage */
    D("{} x"),
    D("{}{}"),
    D("[] ]"),
    D("1 2"),
    D("\"a\" \"b\""),
    D("{}\x00"),
    D("null,"),
    D("true x"),
    D("{}}"),
    D("[]]"),
    D("0 0"),
    D("\"a\"\""),
    /* not whitespace in JSON */
    D("[1,\f2]"),
    D("[\v]"),
    D("\f{}"),
    D("{}\xa0"),
    D("[\xc2\xa0]"),
    /* comments */
    D("// x\n{}"),
    D("{/*c*/}"),
    D("[1]#"),
};

Test(json, valid_table)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(valid_docs); i++)
        cr_assert(gw_json_validate(valid_docs[i].s, valid_docs[i].n), "valid doc %zu: %s", i,
                  valid_docs[i].s);
}

Test(json, invalid_table_every_entry_refused)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(invalid_docs); i++) {
        const struct doc *d = &invalid_docs[i];
        cr_assert_not(gw_json_validate(d->s, d->n), "invalid doc %zu accepted: %s", i, d->s);
        struct gw_json j;
        struct gw_json_tok t;
        int r;
        gw_json_init(&j, d->s, d->n);
        while ((r = gw_json_next(&j, &t)) == 1)
            ;
        cr_assert_eq(r, -1, "doc %zu: %s", i, d->s);
        cr_assert_leq(j.pos, d->n);
    }
}

Test(json, every_raw_control_byte_refused_in_string)
{
    char doc[8];
    for (int c = 0; c < 0x20; c++) {
        memcpy(doc, "[\"a?b\"]", 7);
        doc[3] = (char)c;
        cr_assert_not(gw_json_validate(doc, 7), "byte 0x%02x accepted", c);
    }
    doc[3] = 0x7f;
    cr_assert(gw_json_validate(doc, 7), "DEL is allowed by RFC 8259");
}

/*
 * The string scanner reads eight bytes at a time; put a special byte at every
 * position of strings of every length up to 40 so each lane and the byte tail
 * see quotes, escapes, controls and multi-byte sequences.
 */
Test(json, string_fast_path_every_position)
{
    char doc[64];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len; at++) {
            doc[0] = '"';
            memset(doc + 1, 'x', len);
            doc[len + 1] = '"';
            size_t n = len + 2;

            doc[1 + at] = '\x01';
            cr_assert_not(gw_json_validate(doc, n), "control at %zu/%zu", at, len);
            doc[1 + at] = '"';
            cr_assert_not(gw_json_validate(doc, n), "quote at %zu/%zu", at, len);
            doc[1 + at] = '\xff';
            cr_assert_not(gw_json_validate(doc, n), "0xff at %zu/%zu", at, len);
            doc[1 + at] = '\\';
            cr_assert_not(gw_json_validate(doc, n), "lone backslash at %zu/%zu", at, len);
            if (at + 1 < len) {
                doc[2 + at] = 'n';
                cr_assert(gw_json_validate(doc, n), "\\n at %zu/%zu", at, len);
                doc[1 + at] = '\xc3';
                doc[2 + at] = '\xa9';
                cr_assert(gw_json_validate(doc, n), "U+00E9 at %zu/%zu", at, len);
                struct gw_json j;
                struct gw_json_tok t;
                gw_json_init(&j, doc, n);
                cr_assert_eq(gw_json_next(&j, &t), 1);
                cr_assert_eq(t.end, n);
                cr_assert_eq(t.span.len, len);
            }
        }
    }
}

Test(json, depth_64_valid_65_invalid)
{
    char doc[400];
    for (int kind = 0; kind < 2; kind++) {
        for (int depth = 63; depth <= 66; depth++) {
            size_t n = 0;
            for (int i = 0; i < depth; i++) {
                if (kind == 0) {
                    doc[n++] = '[';
                } else {
                    memcpy(doc + n, "{\"a\":", 5);
                    n += 5;
                }
            }
            doc[n++] = '1';
            for (int i = 0; i < depth; i++)
                doc[n++] = kind == 0 ? ']' : '}';
            bool ok = gw_json_validate(doc, n);
            cr_assert_eq(ok, depth <= GW_JSON_MAX_DEPTH, "%s depth %d: %d",
                         kind ? "object" : "array", depth, ok);
        }
    }
    /* The deepest token reports depth 63 for its bracket and 64 inside it. */
    struct gw_json j;
    struct gw_json_tok t;
    memset(doc, '[', 64);
    memset(doc + 64, ']', 64);
    gw_json_init(&j, doc, 128);
    unsigned maxd = 0;
    int r;
    while ((r = gw_json_next(&j, &t)) == 1)
        if (t.depth > maxd)
            maxd = t.depth;
    cr_assert_eq(r, 0);
    cr_assert_eq(maxd, 63);
}

static const char *const truncation_docs[] = {
    chat_request,
    chat_request_pretty,
    chat_response,
    tool_call_response,
    chat_chunk,
    embeddings_response,
    error_response,
    "[1,-2.5e-3,\"\\ud83d\\ude00\",true,false,null]",
    "{\"a\":\"\\u00e9\xc3\xa9\"}",
};

Test(json, truncation_at_every_offset_is_never_valid)
{
    for (size_t d = 0; d < GW_ARRAY_SIZE(truncation_docs); d++) {
        const char *doc = truncation_docs[d];
        size_t len = strlen(doc);
        /* The pretty document ends in "\n"; trimming whitespace off the end leaves it valid. */
        size_t full = len;
        while (full > 0 && (doc[full - 1] == '\n' || doc[full - 1] == ' '))
            full--;
        cr_assert(gw_json_validate(doc, len), "doc %zu", d);
        for (size_t k = 0; k < full; k++) {
            cr_assert_not(gw_json_validate(doc, k), "doc %zu valid when cut at %zu", d, k);
            const char *keys[] = {"model"};
            struct gw_json_member m;
            cr_assert_eq(gw_json_scan_object(doc, k, keys, 1, &m), -1, "doc %zu cut %zu", d, k);
        }
    }
}

/* ---- string helpers ---- */

Test(json, unescape_all_escapes_and_pairs)
{
    char out[64];
    const char raw[] = "q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\\u0000z";
    const char want[] = "q\"b\\s/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z";
    long n = gw_json_unescape(GW_SPAN_LIT(raw), out, sizeof(out));
    cr_assert_eq(n, (long)sizeof(want) - 1, "n = %ld", n);
    cr_assert(memcmp(out, want, sizeof(want) - 1) == 0);

    /* Exact fit works, one byte short fails, and nothing past cap is touched. */
    memset(out, 0x5a, sizeof(out));
    cr_assert_eq(gw_json_unescape(GW_SPAN_LIT(raw), out, (size_t)n), n);
    cr_assert_eq(out[n], 0x5a);
    memset(out, 0x5a, sizeof(out));
    cr_assert_eq(gw_json_unescape(GW_SPAN_LIT(raw), out, (size_t)n - 1), -1);
    cr_assert_eq(out[n - 1], 0x5a);
    cr_assert_eq(gw_json_unescape(GW_SPAN_LIT("abc"), out, 2), -1);
    cr_assert_eq(gw_json_unescape(GW_SPAN_LIT("\\u00e9"), out, 1), -1);
    cr_assert_eq(gw_json_unescape(GW_SPAN_LIT(""), out, 0), 0);
    cr_assert_eq(gw_json_unescape(GW_SPAN_LIT("plain"), out, 5), 5);
}

Test(json, unescape_refuses_bad_escapes)
{
    static const char *const bad[] = {
        "\\",
        "a\\",
        "\\x",
        "\\u12",
        "\\u12g4",
        "\\uD800",
        "\\uDC00",
        "\\uD800\\u0041",
        "\\uD800a",
        "\\uD800\\uD800",
        "\\U0041",
        "\\uD83D\\uDE0",
        "\\'",
        "\\uDC00\\uDC00",
        "\\uDE00\\uD83D",
    };
    char out[64];
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        cr_assert_eq(gw_json_unescape(gw_span_cstr(bad[i]), out, sizeof(out)), -1, "%s", bad[i]);
}

/* A raw JSON string body, as a token's span holds it, and a C string it is compared with. */
struct str_pair {
    const char *span, *s;
};

Test(json, str_eq_resolves_escapes_exactly)
{
    static const struct str_pair equal[] = {
        {"model", "model"},
        {"", ""},
        {"\\u006dodel", "model"},
        {"a\\nb", "a\nb"},
        {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
    };
    static const struct str_pair different[] = {
        {"model", "models"},  {"models", "model"}, {"Model", "model"}, {"model\\u0000", "model"},
        {"mode\\l", "model"}, {"", "a"},           {"a", ""},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(equal); i++)
        cr_assert(gw_json_str_eq(gw_span_cstr(equal[i].span), equal[i].s), "'%s' == '%s'",
                  equal[i].span, equal[i].s);
    for (size_t i = 0; i < GW_ARRAY_SIZE(different); i++)
        cr_assert_not(gw_json_str_eq(gw_span_cstr(different[i].span), different[i].s),
                      "'%s' != '%s'", different[i].span, different[i].s);
    /* A raw NUL in an arbitrary span must not read past the end of s. */
    cr_assert_not(gw_json_str_eq((struct gw_span){"ab\0cd", 5}, "ab"));
}

Test(json, to_u64_accepts_only_plain_integers)
{
    uint64_t v = 7;
    cr_assert(gw_json_to_u64(GW_SPAN_LIT("0"), &v));
    cr_assert_eq(v, 0);
    cr_assert(gw_json_to_u64(GW_SPAN_LIT("256"), &v));
    cr_assert_eq(v, 256);
    cr_assert(gw_json_to_u64(GW_SPAN_LIT("18446744073709551615"), &v));
    cr_assert_eq(v, UINT64_MAX);
    v = 7;
    static const char *const bad[] = {"18446744073709551616",
                                      "99999999999999999999",
                                      "-1",
                                      "1.0",
                                      "1e3",
                                      "",
                                      "01",
                                      "+1",
                                      "1 ",
                                      "0x1",
                                      "-0"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        cr_assert_not(gw_json_to_u64(gw_span_cstr(bad[i]), &v), "'%s'", bad[i]);
        cr_assert_eq(v, 7, "'%s' wrote the output", bad[i]);
    }
}

Test(json, tok_type_names)
{
    cr_assert_str_eq(gw_json_tok_type_str(GW_JT_OBJ_BEGIN), "obj_begin");
    cr_assert_str_eq(gw_json_tok_type_str(GW_JT_NULL), "null");
    cr_assert_str_eq(gw_json_tok_type_str(GW_JT_COUNT), "?");
}

/* ---- writer ---- */

static void write_sample(struct gw_jw *w)
{
    gw_jw_obj_begin(w);
    gw_jw_key(w, "model");
    gw_jw_cstr(w, "gpt-4o");
    gw_jw_key(w, "messages");
    gw_jw_arr_begin(w);
    gw_jw_obj_begin(w);
    gw_jw_key(w, "role");
    gw_jw_cstr(w, "user");
    gw_jw_key(w, "content");
    gw_jw_cstr(w, "say \"hi\"\n\tand\\bye\x01");
    gw_jw_obj_end(w);
    gw_jw_obj_begin(w);
    gw_jw_obj_end(w);
    gw_jw_arr_end(w);
    gw_jw_key(w, "n");
    gw_jw_arr_begin(w);
    gw_jw_int(w, -3);
    gw_jw_uint(w, 42);
    gw_jw_double(w, 0.25);
    gw_jw_bool(w, true);
    gw_jw_bool(w, false);
    gw_jw_null(w);
    gw_jw_raw(w, "{\"x\":[]}", 8);
    gw_jw_arr_begin(w);
    gw_jw_arr_end(w);
    gw_jw_arr_end(w);
    gw_jw_key(w, "k\"ey");
    gw_jw_str(w, "a\0b", 3);
    gw_jw_obj_end(w);
}

static const char sample_json[] =
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"say \\\"hi\\\"\\n\\tand"
    "\\\\bye\\u0001\"},{}],\"n\":[-3,42,0.25,true,false,null,{\"x\":[]},[]],"
    "\"k\\\"ey\":\"a\\u0000b\"}";

Test(json, writer_nesting_commas_and_escaping)
{
    char buf[512];
    struct gw_jw w;
    gw_jw_init(&w, buf, sizeof(buf));
    write_sample(&w);
    cr_assert_not(w.overflow);
    cr_assert_eq(w.depth, 0);
    cr_assert_eq(w.len, sizeof(sample_json) - 1, "len %zu: %.*s", w.len, (int)w.len, buf);
    cr_assert(memcmp(buf, sample_json, w.len) == 0, "%.*s", (int)w.len, buf);
    cr_assert(gw_json_validate(buf, w.len));
}

Test(json, writer_overflow_never_writes_past_cap)
{
    const size_t full = sizeof(sample_json) - 1;
    char buf[512];
    for (size_t cap = 0; cap <= full + 2; cap++) {
        struct gw_jw w;
        memset(buf, 0xa5, sizeof(buf));
        gw_jw_init(&w, buf, cap);
        write_sample(&w);
        cr_assert_eq(w.overflow, cap < full, "cap %zu", cap);
        cr_assert_leq(w.len, cap);
        for (size_t i = cap; i < sizeof(buf); i++)
            cr_assert_eq((unsigned char)buf[i], 0xa5, "cap %zu: byte %zu written", cap, i);
        if (!w.overflow)
            cr_assert(memcmp(buf, sample_json, full) == 0);
    }
}

Test(json, writer_control_chars_and_utf8)
{
    char buf[256];
    struct gw_jw w;
    char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_str(&w, all, sizeof(all));
    const char want[] = "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n"
                        "\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015"
                        "\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"";
    cr_assert_eq(w.len, sizeof(want) - 1, "%.*s", (int)w.len, buf);
    cr_assert(memcmp(buf, want, w.len) == 0, "%.*s", (int)w.len, buf);

    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_cstr(&w, "caf\xc3\xa9 \xf0\x9f\x98\x80 / \x7f");
    cr_assert_eq(w.len, 16);
    cr_assert(memcmp(buf, "\"caf\xc3\xa9 \xf0\x9f\x98\x80 / \x7f\"", 16) == 0);
    cr_assert(gw_json_validate(buf, w.len));
}

Test(json, escape_reports_needed_length_like_snprintf)
{
    char out[32];
    const char s[] = "ab\"cd\n";
    memset(out, 0x5a, sizeof(out));
    cr_assert_eq(gw_json_escape(out, sizeof(out), s, 6), 8);
    cr_assert(memcmp(out, "ab\\\"cd\\n", 8) == 0);
    cr_assert_eq(out[8], 0x5a);
    for (size_t cap = 0; cap < 8; cap++) {
        memset(out, 0x5a, sizeof(out));
        cr_assert_eq(gw_json_escape(out, cap, s, 6), 8);
        cr_assert(memcmp(out, "ab\\\"cd\\n", cap) == 0, "cap %zu", cap);
        for (size_t i = cap; i < sizeof(out); i++)
            cr_assert_eq(out[i], 0x5a, "cap %zu byte %zu", cap, i);
    }
    cr_assert_eq(gw_json_escape(NULL, 0, "\x01", 1), 6);
    /* Long runs go through the eight-byte path: a special byte at every position. */
    char in[40], big[256];
    for (size_t at = 0; at < sizeof(in); at++) {
        memset(in, 'a', sizeof(in));
        in[at] = '"';
        size_t n = gw_json_escape(big, sizeof(big), in, sizeof(in));
        cr_assert_eq(n, sizeof(in) + 1);
        cr_assert_eq(big[at], '\\');
        cr_assert_eq(big[at + 1], '"');
    }
}

Test(json, writer_double_formatting)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1.5, "1.5"},
        {-2.25, "-2.25"},
        {3.0, "3"},
        {0.000001, "0.000001"},
        {0.0000004, "0"},
        {-0.0000004, "0"},
        {0.0000006, "0.000001"},
        {0.123456, "0.123456"},
        {12.3456789, "12.345679"},
        {1234.5, "1234.5"},
        {0.000125, "0.000125"},
        {999999.9999999, "1000000"},
        {1e15, "1000000000000000"},
        {-1e15, "-1000000000000000"},
        {NAN, "null"},
        {INFINITY, "null"},
        {-INFINITY, "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char buf[64];
        struct gw_jw w;
        gw_jw_init(&w, buf, sizeof(buf));
        gw_jw_double(&w, cases[i].v);
        cr_assert_not(w.overflow);
        cr_assert_eq(w.len, strlen(cases[i].want), "case %zu: '%.*s', want '%s'", i, (int)w.len,
                     buf, cases[i].want);
        cr_assert(memcmp(buf, cases[i].want, w.len) == 0, "case %zu: '%.*s', want '%s'", i,
                  (int)w.len, buf, cases[i].want);
    }
}

Test(json, writer_integers_at_limits)
{
    char buf[128];
    struct gw_jw w;
    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_arr_begin(&w);
    gw_jw_int(&w, INT64_MIN);
    gw_jw_int(&w, INT64_MAX);
    gw_jw_int(&w, 0);
    gw_jw_uint(&w, UINT64_MAX);
    gw_jw_uint(&w, 0);
    gw_jw_arr_end(&w);
    const char want[] = "[-9223372036854775808,9223372036854775807,0,18446744073709551615,0]";
    cr_assert_eq(w.len, sizeof(want) - 1, "%.*s", (int)w.len, buf);
    cr_assert(memcmp(buf, want, w.len) == 0);
}

Test(json, writer_depth_and_misuse_set_overflow)
{
    char buf[256];
    struct gw_jw w;
    gw_jw_init(&w, buf, sizeof(buf));
    for (int i = 0; i < GW_JSON_MAX_DEPTH; i++)
        gw_jw_arr_begin(&w);
    cr_assert_not(w.overflow);
    cr_assert_eq(w.depth, 64);
    for (int i = 0; i < GW_JSON_MAX_DEPTH; i++)
        gw_jw_arr_end(&w);
    cr_assert_not(w.overflow);
    cr_assert(gw_json_validate(buf, w.len));
    gw_jw_init(&w, buf, sizeof(buf));
    for (int i = 0; i <= GW_JSON_MAX_DEPTH; i++)
        gw_jw_arr_begin(&w);
    cr_assert(w.overflow);

    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_arr_end(&w);
    cr_assert(w.overflow, "close with nothing open");
    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "a");
    gw_jw_obj_end(&w);
    cr_assert(w.overflow, "close right after a key");
    size_t len = w.len;
    gw_jw_null(&w);
    cr_assert_eq(w.len, len, "writes after overflow are ignored");
}

Test(json, writer_deep_nesting_commas_per_level)
{
    char buf[256];
    struct gw_jw w;
    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_arr_begin(&w);
    gw_jw_uint(&w, 1);
    gw_jw_arr_begin(&w);
    gw_jw_uint(&w, 2);
    gw_jw_obj_begin(&w);
    gw_jw_key(&w, "a");
    gw_jw_arr_begin(&w);
    gw_jw_arr_end(&w);
    gw_jw_key(&w, "b");
    gw_jw_obj_begin(&w);
    gw_jw_obj_end(&w);
    gw_jw_obj_end(&w);
    gw_jw_uint(&w, 3);
    gw_jw_arr_end(&w);
    gw_jw_uint(&w, 4);
    gw_jw_arr_end(&w);
    const char want[] = "[1,[2,{\"a\":[],\"b\":{}},3],4]";
    cr_assert_eq(w.len, sizeof(want) - 1, "%.*s", (int)w.len, buf);
    cr_assert(memcmp(buf, want, w.len) == 0, "%.*s", (int)w.len, buf);
}

/* The writer's output for a decoded string reads back to the same bytes. */
Test(json, writer_round_trips_through_unescape)
{
    const char s[] = "line1\nline2\t\"q\" \\ \x01 \xe2\x82\xac end";
    char buf[256], dec[256];
    struct gw_jw w;
    gw_jw_init(&w, buf, sizeof(buf));
    gw_jw_str(&w, s, sizeof(s) - 1);
    cr_assert(gw_json_validate(buf, w.len));
    long n = gw_json_unescape(gw_span_make(buf + 1, w.len - 2), dec, sizeof(dec));
    cr_assert_eq(n, (long)sizeof(s) - 1);
    cr_assert(memcmp(dec, s, sizeof(s) - 1) == 0);
}
