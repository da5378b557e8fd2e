/*
 * tests/unit/providers/test_oai.c — the OpenAI writer every translating
 * dialect answers with (providers/oai.h), byte for byte: the object head,
 * usage, a chat.completion with its choices, tool calls in each form, the
 * error object, the status helpers, and the stream side (chunks, the role on
 * each choice's first delta, the clean end with and without usage, the error
 * end, a refusing sink, chunk growth and an exhausted arena).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/oai.h"
#include "providers/xlate.h"
#include "xtest.h"

static void setup(void)
{
    xt_setup("p", "k", "upstream-model", "gpt-x");
}

static void teardown(void)
{
    xt_teardown();
}

TestSuite(oai, .init = setup, .fini = teardown);

/* What every object and chunk starts with for X (request id "req1", created 1700000000). */
#define HEAD(object)                                                                               \
    "\"id\":\"chatcmpl-req1\",\"object\":\"" object "\","                                          \
    "\"created\":1700000000,\"model\":\"gpt-x\""
#define COMPLETION_HEAD "{" HEAD("chat.completion")
#define CHUNK_HEAD "data: {" HEAD("chat.completion.chunk")
#define DONE "data: [DONE]\n\n"

static char wbuf[1 << 16];

static struct gw_jw *writer(void)
{
    static struct gw_jw w;
    gw_jw_init(&w, wbuf, sizeof(wbuf));
    return &w;
}

static void assert_written(const struct gw_jw *w, const char *want)
{
    cr_assert_not(w->overflow);
    cr_assert(w->len == strlen(want) && memcmp(w->buf, want, w->len) == 0, "got:\n%.*s\nwant:\n%s",
              (int)w->len, w->buf, want);
}

/* ---- objects ---- */

Test(oai, head_names_the_request_object_time_and_client_model)
{
    struct gw_jw *w = writer();
    gw_jw_obj_begin(w);
    gw_oai_head(w, &X, "chat.completion");
    gw_jw_obj_end(w);
    assert_written(w, "{" HEAD("chat.completion") "}");

    struct gw_xlate x = X;
    x.request_id = "a\"b";
    x.client_model = NULL;
    x.created = 0;
    w = writer();
    gw_jw_obj_begin(w);
    gw_oai_head(w, &x, "o");
    gw_jw_obj_end(w);
    assert_written(w, "{\"id\":\"chatcmpl-a\\\"b\",\"object\":\"o\",\"created\":0,\"model\":\"\"}");

    x.request_id = NULL;
    w = writer();
    gw_jw_obj_begin(w);
    gw_oai_head(w, &x, "o");
    gw_jw_obj_end(w);
    assert_written(w, "{\"id\":\"chatcmpl-\",\"object\":\"o\",\"created\":0,\"model\":\"\"}");
}

Test(oai, head_with_a_request_id_too_long_for_its_buffer_writes_the_bare_prefix)
{
    /* 118 bytes still fit "chatcmpl-" + id in the 128-byte buffer; 119 do not. */
    char rid[200];
    memset(rid, 'r', sizeof(rid));
    struct gw_xlate x = X;
    x.request_id = rid;

    rid[118] = '\0';
    struct gw_jw *w = writer();
    gw_jw_obj_begin(w);
    gw_oai_head(w, &x, "o");
    gw_jw_obj_end(w);
    char want[400];
    snprintf(want, sizeof(want),
             "{\"id\":\"chatcmpl-%s\",\"object\":\"o\",\"created\":1700000000,\"model\":\"gpt-x\"}",
             rid);
    assert_written(w, want);

    memset(rid, 'r', sizeof(rid));
    rid[119] = '\0';
    w = writer();
    gw_jw_obj_begin(w);
    gw_oai_head(w, &x, "o");
    gw_jw_obj_end(w);
    assert_written(
        w, "{\"id\":\"chatcmpl-\",\"object\":\"o\",\"created\":1700000000,\"model\":\"gpt-x\"}");
}

#define USAGE_10_5_3_2                                                                             \
    "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,"                 \
    "\"prompt_tokens_details\":{\"cached_tokens\":3},"                                             \
    "\"completion_tokens_details\":{\"reasoning_tokens\":2}}"

Test(oai, usage_always_carries_both_details_objects)
{
    struct gw_xlate_usage u = {.prompt_tokens = 10,
                               .completion_tokens = 5,
                               .cached_tokens = 3,
                               .reasoning_tokens = 2,
                               .cache_creation_tokens = 99};
    struct gw_jw *w = writer();
    gw_jw_obj_begin(w);
    gw_oai_usage(w, &u);
    gw_jw_obj_end(w);
    assert_written(w, "{" USAGE_10_5_3_2 "}");

    struct gw_xlate_usage zero = {0};
    w = writer();
    gw_jw_obj_begin(w);
    gw_oai_usage(w, &zero);
    gw_jw_obj_end(w);
    assert_written(w, "{\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0,"
                      "\"prompt_tokens_details\":{\"cached_tokens\":0},"
                      "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");

    struct gw_xlate_usage big = {.prompt_tokens = 4000000000u, .completion_tokens = 4000000000u};
    w = writer();
    gw_jw_obj_begin(w);
    gw_oai_usage(w, &big);
    gw_jw_obj_end(w);
    cr_assert_not_null(memmem(w->buf, w->len, "\"total_tokens\":8000000000", 25),
                       "the total does not wrap at 32 bits");
}

Test(oai, completion_with_two_choices_with_and_without_logprobs)
{
    struct gw_xlate_usage u = {
        .prompt_tokens = 10, .completion_tokens = 5, .cached_tokens = 3, .reasoning_tokens = 2};
    struct gw_jw *w = writer();
    gw_oai_completion_begin(w, &X);

    gw_oai_choice_begin(w, 0);
    gw_jw_key(w, "content");
    gw_jw_cstr(w, "Hi");
    gw_oai_message_end(w);
    gw_oai_choice_end(w, false, "stop");

    gw_oai_choice_begin(w, 1);
    gw_jw_key(w, "content");
    gw_jw_null(w);
    gw_oai_message_end(w);
    gw_jw_key(w, "logprobs");
    gw_jw_raw(w, "{\"content\":[]}", 14);
    gw_oai_choice_end(w, true, NULL);

    gw_oai_completion_end(w, &u);
    static const char want[] = COMPLETION_HEAD
        ",\"choices\":["
        "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"},"
        "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null},"
        "\"logprobs\":{\"content\":[]},\"finish_reason\":null}]," USAGE_10_5_3_2 "}";
    assert_written(w, want);
    cr_assert(gw_json_validate(w->buf, w->len));
    cr_assert_eq(w->depth, 0);
}

Test(oai, completion_without_choices_is_still_an_object)
{
    struct gw_xlate_usage u = {0};
    struct gw_jw *w = writer();
    gw_oai_completion_begin(w, &X);
    gw_oai_completion_end(w, &u);
    cr_assert(gw_json_validate(w->buf, w->len));
    cr_assert_not_null(memmem(w->buf, w->len, "\"choices\":[],\"usage\":{", 22));
}

/* One tool call written alone. */
static void assert_call(const struct gw_oai_call *c, const char *want)
{
    struct gw_jw *w = writer();
    gw_oai_tool_call(w, c);
    assert_written(w, want);
    cr_assert(gw_json_validate(w->buf, w->len));
}

Test(oai, tool_call_with_token_id_and_text_name_and_arguments)
{
    struct gw_oai_call c = {
        .index = -1,
        .id = GW_SPAN_LIT("\"call_1\""),
        .name = GW_SPAN_LIT("get_weather"),
        .name_text = true,
        .args = GW_SPAN_LIT("{\"city\":\"Paris\"}"),
        .args_text = true,
    };
    assert_call(&c,
                "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}");
}

Test(oai, tool_call_with_text_id_token_name_and_token_arguments_and_an_index)
{
    struct gw_oai_call c = {
        .index = 2,
        .id = GW_SPAN_LIT("toolu_\"x"),
        .id_text = true,
        .name = GW_SPAN_LIT("\"f\\u006e\""),
        .args = GW_SPAN_LIT("\"{\\\"a\\\"\""),
    };
    /* Tokens go out as they came, escapes included; text is escaped. */
    assert_call(&c, "{\"index\":2,\"id\":\"toolu_\\\"x\",\"type\":\"function\",\"function\":"
                    "{\"name\":\"f\\u006e\",\"arguments\":\"{\\\"a\\\"\"}}");
}

Test(oai, tool_call_delta_without_id_or_name)
{
    struct gw_oai_call c = {.index = 0, .args = GW_SPAN_LIT("\"1}\"")};
    assert_call(&c, "{\"index\":0,\"function\":{\"arguments\":\"1}\"}}");
    /* An empty id (present, zero length) is still written, with its type. */
    struct gw_oai_call e = {.index = -1, .id = gw_span_make("", 0), .id_text = true};
    assert_call(&e, "{\"id\":\"\",\"type\":\"function\",\"function\":{\"arguments\":\"\"}}");
}

Test(oai, tool_call_without_arguments_in_both_modes)
{
    struct gw_oai_call text = {
        .index = -1, .id = GW_SPAN_LIT("\"c\""), .name = GW_SPAN_LIT("\"f\""), .args_text = true};
    assert_call(&text, "{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                       "\"arguments\":\"{}\"}}");
    struct gw_oai_call token = {.index = 7, .name = GW_SPAN_LIT("\"f\"")};
    assert_call(&token, "{\"index\":7,\"function\":{\"name\":\"f\",\"arguments\":\"\"}}");
}

Test(oai, error_object_from_text)
{
    struct gw_oai_error e = {
        .message = GW_SPAN_LIT("bad \"thing\"\n"),
        .type = GW_SPAN_LIT("invalid_request_error"),
        .param = "model",
        .code = "model_not_found",
    };
    struct gw_jw *w = writer();
    gw_oai_error_write(w, &e);
    assert_written(w, "{\"error\":{\"message\":\"bad \\\"thing\\\"\\n\","
                      "\"type\":\"invalid_request_error\",\"param\":\"model\","
                      "\"code\":\"model_not_found\"}}");
}

Test(oai, error_object_from_upstream_tokens_with_null_param_and_code)
{
    struct gw_oai_error e = {
        .message = GW_SPAN_LIT("\"Overloaded \\u00e9\""),
        .message_json = true,
        .type = GW_SPAN_LIT("\"overloaded_error\""),
        .type_json = true,
    };
    struct gw_jw *w = writer();
    gw_oai_error_write(w, &e);
    assert_written(w,
                   "{\"error\":{\"message\":\"Overloaded \\u00e9\",\"type\":\"overloaded_error\","
                   "\"param\":null,\"code\":null}}");
    cr_assert(gw_json_validate(w->buf, w->len));

    /* Mixed: a token message with a text type. */
    e.type = GW_SPAN_LIT("api_error");
    e.type_json = false;
    e.code = "529";
    w = writer();
    gw_oai_error_write(w, &e);
    assert_written(w, "{\"error\":{\"message\":\"Overloaded \\u00e9\",\"type\":\"api_error\","
                      "\"param\":null,\"code\":\"529\"}}");
}

Test(oai, status_message_names_the_status_and_respects_cap)
{
    char buf[64];
    struct gw_span s = gw_oai_status_message(buf, sizeof(buf), 503);
    cr_assert(gw_span_eq(s, gw_span_cstr("upstream provider error (HTTP 503)")));
    cr_assert_eq(s.ptr, buf);
    s = gw_oai_status_message(buf, sizeof(buf), -1);
    cr_assert(gw_span_eq(s, gw_span_cstr("upstream provider error (HTTP -1)")));

    s = gw_oai_status_message(buf, 10, 404);
    cr_assert(gw_span_eq(s, gw_span_cstr("upstream ")), "truncated to cap - 1");
    s = gw_oai_status_message(buf, 35, 503);
    cr_assert(gw_span_eq(s, gw_span_cstr("upstream provider error (HTTP 503)")), "exact fit");
    s = gw_oai_status_message(buf, 34, 503);
    cr_assert(gw_span_eq(s, gw_span_cstr("upstream provider error (HTTP 503")));
    s = gw_oai_status_message(NULL, 0, 503);
    cr_assert_eq(s.len, 0);
}

Test(oai, client_status_passes_4xx_and_5xx_and_maps_the_rest_to_502)
{
    static const int as_is[] = {400, 401, 404, 429, 499, 500, 503, 529, 599};
    for (size_t i = 0; i < GW_ARRAY_SIZE(as_is); i++)
        cr_assert_eq(gw_oai_client_status(as_is[i]), as_is[i]);
    static const int other[] = {-1, 0, 100, 200, 204, 302, 399, 600, 999};
    for (size_t i = 0; i < GW_ARRAY_SIZE(other); i++)
        cr_assert_eq(gw_oai_client_status(other[i]), 502, "%d", other[i]);
}

/* ---- streams ---- */

static struct gw_oai_stream o;
static struct xt_out out;
static struct gw_xlate_sink sink = {xt_out_write, &out};

static void stream_setup(void)
{
    setup();
    memset(&out, 0, sizeof(out));
    gw_oai_stream_init(&o, &X);
}

static void stream_teardown(void)
{
    free(out.p);
    teardown();
}

TestSuite(oai_stream, .init = stream_setup, .fini = stream_teardown);

static void reset_out(void)
{
    free(out.p);
    memset(&out, 0, sizeof(out));
}

/* One chunk for choice `index` with delta {<delta>} and finish_reason <finish> (JSON). */
#define CHUNK(index, delta, finish)                                                                \
    CHUNK_HEAD ",\"choices\":[{\"index\":" index ",\"delta\":{" delta                              \
               "},\"finish_reason\":" finish "}]}\n\n"
#define ROLE "\"role\":\"assistant\","
#define CONTENT_CHUNK(index, role, content) CHUNK(index, role "\"content\":" content, "null")

Test(oai_stream, role_is_on_the_first_chunk_of_each_choice_only)
{
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"Hel\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"lo\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 1, GW_SPAN_LIT("\"B\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 1, GW_SPAN_LIT("\"b\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"!\"")), 0);
    xt_assert_out(&out, CONTENT_CHUNK("0", ROLE, "\"Hel\"") CONTENT_CHUNK("0", "", "\"lo\"")
                            CONTENT_CHUNK("1", ROLE, "\"B\"") CONTENT_CHUNK("1", "", "\"b\"")
                                CONTENT_CHUNK("0", "", "\"!\""));
    cr_assert_eq(out.writes, 5, "one write a chunk");
    cr_assert_not(o.done);
    cr_assert_not(o.failed);
}

Test(oai_stream, choice_63_gets_a_role_once_and_64_and_up_never)
{
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 63, GW_SPAN_LIT("\"a\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 63, GW_SPAN_LIT("\"b\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 64, GW_SPAN_LIT("\"c\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 1000, GW_SPAN_LIT("\"d\"")), 0);
    xt_assert_out(&out, CONTENT_CHUNK("63", ROLE, "\"a\"") CONTENT_CHUNK("63", "", "\"b\"")
                            CONTENT_CHUNK("64", "", "\"c\"") CONTENT_CHUNK("1000", "", "\"d\""));
}

Test(oai_stream, finish_chunk_has_an_empty_delta_unless_it_is_the_first)
{
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"x\"")), 0);
    reset_out();
    cr_assert_eq(gw_oai_chunk_finish(&o, &sink, 0, "stop"), 0);
    cr_assert_eq(gw_oai_chunk_finish(&o, &sink, 2, "length"), 0);
    cr_assert_eq(gw_oai_chunk_finish(&o, &sink, 3, NULL), 0);
    xt_assert_out(&out,
                  CHUNK("0", "", "\"stop\"") CHUNK("2", "\"role\":\"assistant\"", "\"length\"")
                      CHUNK("3", "\"role\":\"assistant\"", "null"));
}

Test(oai_stream, tool_call_chunk_carries_one_call_in_its_delta)
{
    struct gw_oai_call c = {
        .index = 0, .id = GW_SPAN_LIT("\"call_9\""), .name = GW_SPAN_LIT("\"lookup\"")};
    cr_assert_eq(gw_oai_chunk_tool_call(&o, &sink, 0, &c), 0);
    xt_assert_out(&out,
                  CHUNK("0",
                        ROLE "\"tool_calls\":[{\"index\":0,\"id\":\"call_9\",\"type\":"
                             "\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"\"}}]",
                        "null"));
    reset_out();
    struct gw_oai_call d = {.index = 0, .args = GW_SPAN_LIT("\"{\\\"q\\\":1}\"")};
    cr_assert_eq(gw_oai_chunk_tool_call(&o, &sink, 0, &d), 0);
    xt_assert_out(&out, CHUNK("0",
                              "\"tool_calls\":[{\"index\":0,"
                              "\"function\":{\"arguments\":\"{\\\"q\\\":1}\"}}]",
                              "null"));
}

Test(oai_stream, a_chunk_built_by_hand_from_head_and_tail)
{
    struct gw_jw *w = gw_oai_chunk_begin(&o, 0);
    cr_assert_not_null(w);
    gw_oai_chunk_head(&o, 5);
    gw_jw_key(w, "refusal");
    gw_jw_cstr(w, "no");
    gw_oai_chunk_tail(&o, "content_filter");
    cr_assert_eq(gw_oai_chunk_send(&o, &sink), 0);
    xt_assert_out(&out, CHUNK("5", ROLE "\"refusal\":\"no\"", "\"content_filter\""));
}

Test(oai_stream, finish_without_usage_writes_done_only)
{
    struct gw_xlate_usage u = {.prompt_tokens = 1, .completion_tokens = 2};
    cr_assert_eq(gw_oai_stream_finish(&o, &sink, &u), 1);
    xt_assert_out(&out, DONE);
    cr_assert(o.done);
    cr_assert_not(o.failed);
}

Test(oai_stream, finish_with_usage_writes_the_usage_chunk_then_done)
{
    struct gw_xlate x = X;
    x.want_usage = true;
    gw_oai_stream_init(&o, &x);
    struct gw_xlate_usage u = {
        .prompt_tokens = 10, .completion_tokens = 5, .cached_tokens = 3, .reasoning_tokens = 2};
    cr_assert_eq(gw_oai_stream_finish(&o, &sink, &u), 1);
    xt_assert_out(&out, CHUNK_HEAD ",\"choices\":[]," USAGE_10_5_3_2 "}\n\n" DONE);
    cr_assert_eq(out.writes, 2);
    cr_assert(o.done);
    cr_assert_not(o.failed);
}

#define ERROR_CHUNK(msg)                                                                           \
    "data: {\"error\":{\"message\":\"" msg "\",\"type\":\"server_error\",\"param\":null,"          \
    "\"code\":null}}\n\n" DONE

Test(oai_stream, stream_error_writes_the_error_chunk_then_done_and_returns_ret)
{
    struct gw_oai_error e = {
        .message = GW_SPAN_LIT("\"Overloaded\""),
        .message_json = true,
        .type = GW_SPAN_LIT("overloaded_error"),
        .code = "overloaded",
    };
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"partial\"")), 0);
    reset_out();
    cr_assert_eq(gw_oai_stream_error(&o, &sink, &e, -1), -1);
    xt_assert_out(&out,
                  "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\","
                  "\"param\":null,\"code\":\"overloaded\"}}\n\n" DONE);
    cr_assert(o.done);
    cr_assert(o.failed);

    /* A clean ret: the error is the stream's answer, not a failure of ours. */
    gw_oai_stream_init(&o, &X);
    reset_out();
    cr_assert_eq(gw_oai_stream_error(&o, &sink, &e, 1), 1);
    cr_assert(o.done);
    cr_assert_not(o.failed);
    cr_assert_eq(out.writes, 2);
}

Test(oai_stream, stream_fail_is_a_server_error_with_the_gateway_message)
{
    cr_assert_eq(gw_oai_stream_fail(&o, &sink, "upstream stream \"broke\"", -1), -1);
    xt_assert_out(&out, ERROR_CHUNK("upstream stream \\\"broke\\\""));
    cr_assert(o.done);
    cr_assert(o.failed);

    gw_oai_stream_init(&o, &X);
    reset_out();
    cr_assert_eq(gw_oai_stream_fail(&o, &sink, "cut", 0), 0);
    xt_assert_out(&out, ERROR_CHUNK("cut"));
    cr_assert(o.done);
    cr_assert_not(o.failed);
}

/* A sink that takes `left` writes, then refuses every one. */
struct refuse {
    int left;
    unsigned calls;
};

static int refuse_write(void *arg, const char *p, size_t n)
{
    (void)p;
    (void)n;
    struct refuse *r = arg;
    r->calls++;
    return r->left-- > 0 ? 0 : -5;
}

Test(oai_stream, a_refusing_sink_makes_every_call_return_minus_one)
{
    struct refuse r = {.left = 0};
    struct gw_xlate_sink no = {refuse_write, &r};
    cr_assert_eq(gw_oai_chunk_content(&o, &no, 0, GW_SPAN_LIT("\"a\"")), -1);
    cr_assert_eq(gw_oai_chunk_finish(&o, &no, 0, "stop"), -1);
    struct gw_oai_call c = {.index = 0, .args = GW_SPAN_LIT("\"x\"")};
    cr_assert_eq(gw_oai_chunk_tool_call(&o, &no, 0, &c), -1);
    cr_assert_eq(r.calls, 3);
    cr_assert_not(o.done);

    struct gw_xlate_usage u = {0};
    cr_assert_eq(gw_oai_stream_finish(&o, &no, &u), -1);
    cr_assert(o.done);
    cr_assert(o.failed);

    gw_oai_stream_init(&o, &X);
    cr_assert_eq(gw_oai_stream_fail(&o, &no, "m", 1), -1, "even with a clean ret");
    cr_assert(o.done);
    cr_assert(o.failed);
}

Test(oai_stream, a_sink_that_refuses_the_done_line_fails_the_end)
{
    struct gw_xlate x = X;
    x.want_usage = true;
    struct gw_xlate_usage u = {0};
    struct refuse r = {.left = 1};
    struct gw_xlate_sink one = {refuse_write, &r};
    gw_oai_stream_init(&o, &x);
    cr_assert_eq(gw_oai_stream_finish(&o, &one, &u), -1, "usage taken, [DONE] refused");
    cr_assert_eq(r.calls, 2);
    cr_assert(o.failed);

    r = (struct refuse){.left = 1};
    gw_oai_stream_init(&o, &X);
    cr_assert_eq(gw_oai_stream_fail(&o, &one, "m", 1), -1, "error taken, [DONE] refused");
    cr_assert_eq(r.calls, 2);
    cr_assert(o.failed);
}

Test(oai_stream, a_100_kb_content_grows_the_chunk_and_comes_out_whole)
{
    size_t n = 100000;
    char *content = malloc(n + 2);
    cr_assert_not_null(content);
    content[0] = '"';
    for (size_t i = 1; i <= n; i++)
        content[i] = (char)('a' + i % 26);
    content[n + 1] = '"';
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"first\"")), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, gw_span_make(content, n + 2)), 0);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"after\"")), 0);
    cr_assert_eq(out.writes, 3);

    static const char first[] = CONTENT_CHUNK("0", ROLE, "\"first\"");
    static const char pre[] = CHUNK_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":";
    static const char post[] = "},\"finish_reason\":null}]}\n\n";
    static const char after[] = CONTENT_CHUNK("0", "", "\"after\"");
    size_t len2 = LIT_LEN(pre) + n + 2 + LIT_LEN(post);
    cr_assert_eq(out.n, LIT_LEN(first) + len2 + LIT_LEN(after));
    const char *p = out.p + LIT_LEN(first);
    cr_assert_eq(memcmp(p, pre, LIT_LEN(pre)), 0);
    cr_assert_eq(memcmp(p + LIT_LEN(pre), content, n + 2), 0);
    cr_assert_eq(memcmp(p + LIT_LEN(pre) + n + 2, post, LIT_LEN(post)), 0);
    cr_assert_eq(memcmp(p + len2, after, LIT_LEN(after)), 0);
    cr_assert(gw_json_validate(p + 6, len2 - 8));
    free(content);
}

/*
 * n bytes of `byte` as a tool call's text arguments: one chunk is written,
 * valid JSON, whose arguments are n times `esc` and then the closing quote.
 */
static void expect_args_escaped(char byte, size_t n, const char *esc)
{
    size_t el = strlen(esc);
    char *args = malloc(n);
    cr_assert_not_null(args);
    memset(args, byte, n);
    struct gw_oai_call c = {.index = 0, .args = gw_span_make(args, n), .args_text = true};
    cr_assert_eq(gw_oai_chunk_tool_call(&o, &sink, 0, &c), 0);
    cr_assert_eq(out.writes, 1);
    cr_assert(gw_json_validate(out.p + 6, out.n - 8));
    const char *a = memmem(out.p, out.n, "\"arguments\":\"", 13);
    cr_assert_not_null(a);
    a += 13;
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(a + el * i, esc, el) == 0, "%s at %zu", esc, i);
    cr_assert_eq(a[el * n], '"');
    free(args);
}

Test(oai_stream, escaping_that_doubles_copied_text_still_fits)
{
    /* Tool-call arguments as text: each '"' becomes \" (the begin's "may double"). */
    expect_args_escaped('"', 50000, "\\\"");
}

Test(oai_stream, control_bytes_in_text_fields_take_six_each_and_still_fit)
{
    /* A control byte is written \u0001: six bytes for one (fuzz_oai finding). */
    expect_args_escaped(0x01, 3000, "\\u0001");
}

Test(oai_stream, an_exhausted_arena_gives_minus_one_not_a_crash)
{
    struct gw_arena small;
    gw_arena_init(&small, 1024, 2048); /* under the first 4 KiB chunk buffer */
    struct gw_xlate x = X;
    x.arena = &small;
    x.want_usage = true;
    gw_oai_stream_init(&o, &x);
    cr_assert_null(gw_oai_chunk_begin(&o, 0));
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"a\"")), -1);
    cr_assert_eq(gw_oai_chunk_finish(&o, &sink, 0, "stop"), -1);
    struct gw_oai_call c = {.index = 0};
    cr_assert_eq(gw_oai_chunk_tool_call(&o, &sink, 0, &c), -1);
    cr_assert_eq(out.n, 0, "no partial chunk is written");
    struct gw_xlate_usage u = {0};
    cr_assert_eq(gw_oai_stream_finish(&o, &sink, &u), -1);
    cr_assert(o.done);
    cr_assert(o.failed);

    gw_oai_stream_init(&o, &x);
    reset_out();
    cr_assert_eq(gw_oai_stream_fail(&o, &sink, "m", 1), -1);
    cr_assert(o.done);
    cr_assert(o.failed);
    /* Whatever made it out is whole: at most the end marker. */
    cr_assert(out.n == 0 || (out.n == LIT_LEN(DONE) && memcmp(out.p, DONE, out.n) == 0));
    gw_arena_destroy(&small);
}

Test(oai_stream, a_chunk_past_the_arena_limit_fails_and_smaller_ones_go_on)
{
    struct gw_arena lim;
    gw_arena_init(&lim, 4096, 64 * 1024);
    struct gw_xlate x = X;
    x.arena = &lim;
    gw_oai_stream_init(&o, &x);
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"a\"")), 0);
    size_t n = 100000;
    char *content = malloc(n);
    cr_assert_not_null(content);
    memset(content, 'z', n);
    content[0] = content[n - 1] = '"';
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, gw_span_make(content, n)), -1);
    cr_assert_eq(out.writes, 1, "nothing written for the chunk that did not fit");
    cr_assert_eq(gw_oai_chunk_content(&o, &sink, 0, GW_SPAN_LIT("\"b\"")), 0);
    xt_assert_out(&out, CONTENT_CHUNK("0", ROLE, "\"a\"") CONTENT_CHUNK("0", "", "\"b\""));
    cr_assert_leq(lim.total, 64 * 1024);
    free(content);
    gw_arena_destroy(&lim);
}
