/*
 * tools/mock/bedrock.c — the mock's Bedrock Runtime dialect: POST
 * /model/{modelId}/converse and /model/{modelId}/converse-stream in the wire
 * format of the Amazon Bedrock API Reference (Converse, ConverseStream,
 * API version 2023-09-30).
 *
 * It is as strict as the real service where a translator could go wrong:
 * with --aws-access-key-id/--aws-secret-access-key every request must carry a
 * well-formed SigV4 Authorization (service "bedrock") whose signature, recomputed over
 * the received method, path, Host, x-amz-date, x-amz-security-token and body,
 * matches (compared in constant time), with x-amz-date within 15 minutes of
 * now; failures are AWS's 403 {"message":...}. The body is checked field by
 * field (unknown keys, roles alternating from the user, known content blocks,
 * inferenceConfig and toolConfig shapes, toolConfig present when the
 * conversation holds tool blocks); failures are 400 {"message":...} as
 * ValidationException sends them. Every error names its exception in the
 * x-amzn-ErrorType header, as AWS's JSON protocols do. Answers are the
 * Converse JSON, or the ConverseStream event stream
 * (application/vnd.amazon.eventstream: one message per HTTP chunk, headers
 * :event-type, :content-type and :message-type, payloads padded with a "p"
 * member as AWS pads them), paced and broken by the "mock" controls
 * (reply.c); mock.fault malformed_chunk sends a message with a bad CRC,
 * mock.exception an exception message mid-stream, mock.error_type the
 * exception a forced mock.status names.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/json.h"
#include "net/http1.h"
#include "tools/mock/aws.h"
#include "tools/mock/mock.h"
#include "tools/mock/reply.h"

#define B_EVENT_CAP (2048 + 2 * GW_MOCK_MODEL_CAP) /* an event's JSON payload is smaller */
#define B_TOOL_ID "tooluse_mock_1"
#define B_CACHE_READ 3     /* usage.cacheReadInputTokens, fixed */
#define B_LATENCY_MS 42    /* metrics.latencyMs, fixed */
#define B_SKEW_S (15 * 60) /* SigV4: x-amz-date may be this far from now */
#define B_DATE_LEN 17      /* "YYYYMMDDTHHMMSSZ" and its NUL */
#define B_TOKEN_MAX 4096   /* x-amz-security-token bytes the mock takes */

/*
 * x-amzn-ErrorType is "<exception>:<namespace>"; Bedrock's own exceptions
 * live in the first namespace, the front door's (signature, unknown
 * operation) in the second.
 */
#define B_NS_BEDROCK "http://internal.amazon.com/coral/com.amazon.bedrock/"
#define B_NS_CORAL "http://internal.amazon.com/coral/com.amazon.coral.service/"

/* mock.exception: what the stream's exception message names (plan.phase = index + 1). */
static const char *const stream_exceptions[] = {
    "throttlingException", "validationException", "modelStreamErrorException",
    "internalServerException", "serviceUnavailableException"};

/* ---- errors ---- */

static void render_b_error(struct gw_jw *jw, const void *arg)
{
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "message");
    gw_jw_cstr(jw, arg);
    gw_jw_obj_end(jw);
}

/*
 * Appends a complete error response, {"message":"..."} as AWS's JSON
 * protocol sends it, with the exception in x-amzn-ErrorType (name in
 * namespace ns).
 */
static void b_reply_error(struct gw_mock_conn *c, int status, const char *name, const char *ns,
                          const char *message, const char *retry_after)
{
    char header[192];
    snprintf(header, sizeof(header), "x-amzn-ErrorType: %s:%s", name, ns);
    gw_mock_reply(c, status, retry_after, header, render_b_error, message);
}

static void b_bad_request(struct gw_mock_conn *c, const char *message)
{
    b_reply_error(c, 400, "ValidationException", B_NS_BEDROCK, message, NULL);
}

/* A 403 from the signature check: exception name (in the front door's namespace) and message. */
static void b_deny(struct gw_mock_conn *c, const char *name, const char *message)
{
    b_reply_error(c, 403, name, B_NS_CORAL, message, NULL);
}

static const char sig_mismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

/*
 * Bedrock Runtime's exceptions [API Reference, Converse and ConverseStream,
 * "Errors"] with the message the mock sends for each. A forced mock.status
 * names the first row with its status (the rows with status 0 only when
 * mock.error_type asks for them; a status without a row is an
 * InternalServerException from 500 up, else a ValidationException, with the
 * message "Mock error").
 */
static const struct gw_mock_status_text exceptions[] = {
    {400, "ValidationException", NULL,
     "Malformed input request, please reformat your input and try again."},
    {403, "AccessDeniedException", NULL,
     "You don't have access to the model with the specified model ID."},
    {404, "ResourceNotFoundException", NULL, "The provided model identifier is invalid."},
    {408, "ModelTimeoutException", NULL,
     "Model has timed out in processing the request. Try your request again."},
    {424, "ModelErrorException", NULL, "The model encountered an error processing the request."},
    {429, "ThrottlingException", NULL, "Too many requests, please wait before trying again."},
    {500, "InternalServerException", NULL,
     "The system encountered an unexpected error during processing. Try your request again."},
    {503, "ServiceUnavailableException", NULL, "Bedrock is unable to process your request."},
    {0, "ServiceQuotaExceededException", NULL,
     "Your request exceeds the service quota for your account. You can view your quotas at "
     "https://console.aws.amazon.com/servicequotas. You can resubmit your request later."},
    {0, "ModelNotReadyException", NULL,
     "Model is not ready for inference. Wait and try your request again."},
    {0, "ModelStreamErrorException", NULL,
     "The request failed due to an error while processing the model's response stream."},
};

/* A forced mock.status: the exception mock.error_type named (plan.error_type), else its own. */
static void b_reply_status(struct gw_mock_conn *c, const struct gw_mock_ctl *ctl)
{
    uint32_t et = c->plan.error_type;
    const struct gw_mock_status_text *t =
        et ? &exceptions[et - 1]
           : gw_mock_status_find(exceptions, GW_ARRAY_SIZE(exceptions), ctl->status);
    const char *name = ctl->status >= 500 ? "InternalServerException" : "ValidationException";
    b_reply_error(c, ctl->status, t ? t->type : name, B_NS_BEDROCK, t ? t->message : "Mock error",
                  ctl->retry_after);
}

/* ---- SigV4 ---- */

/* Copies s into buf (cap bytes, NUL-terminated); false when it does not fit. */
static bool copy_z(char *buf, size_t cap, struct gw_span s)
{
    if (s.len >= cap)
        return false;
    if (s.len)
        memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return true;
}

/* "YYYYMMDDTHHMMSSZ" -> unix time; false when malformed. */
static bool amz_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return false;
#define DIG(i, n) ((s[i] - '0') * (n))
    tm.tm_year = DIG(0, 1000) + DIG(1, 100) + DIG(2, 10) + DIG(3, 1) - 1900;
    tm.tm_mon = DIG(4, 10) + DIG(5, 1) - 1;
    tm.tm_mday = DIG(6, 10) + DIG(7, 1);
    tm.tm_hour = DIG(9, 10) + DIG(10, 1);
    tm.tm_min = DIG(11, 10) + DIG(12, 1);
    tm.tm_sec = DIG(13, 10) + DIG(14, 1);
#undef DIG
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return false;
    *out = (int64_t)timegm(&tm);
    return true;
}

/* Equal bytes, in time that does not depend on where they differ. */
static bool ct_equal(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* The value of "<name>=" in an Authorization parameter list, up to ',' (trimmed). */
static struct gw_span auth_param(struct gw_span params, const char *name)
{
    size_t nl = strlen(name);
    const char *p = params.ptr, *end = params.ptr + params.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1, *ve = stop;
            while (ve > v && ve[-1] == ' ')
                ve--;
            return gw_span_make(v, (size_t)(ve - v));
        }
        p = stop;
    }
    return GW_SPAN_NULL;
}

/* The region a bedrock-runtime.{region}.amazonaws.com host names, or an empty span. */
static struct gw_span host_region(struct gw_span host)
{
    static const char pre[] = "bedrock-runtime.";
    if (host.len <= sizeof(pre) - 1 || memcmp(host.ptr, pre, sizeof(pre) - 1) != 0)
        return GW_SPAN_NULL;
    const char *r = host.ptr + sizeof(pre) - 1;
    const char *dot = memchr(r, '.', host.len - (sizeof(pre) - 1));
    return dot ? gw_span_make(r, (size_t)(dot - r)) : GW_SPAN_NULL;
}

/*
 * Verifies the request's SigV4 signature when the mock has credentials
 * [AWS General Reference, "Signature Version 4 signing process"; the checks
 * and 403 messages follow what AWS answers]. Returns 0, or -1 after
 * answering the 403.
 */
static int check_sigv4(struct gw_mock_conn *c, const struct gw_http1_req *req,
                       struct gw_span target, struct gw_span body)
{
    if (!gw_mock.aws_key_id || !gw_mock.aws_secret)
        return 0;
    const struct gw_http1_header *ah = gw_mock_header(req, "authorization");
    const struct gw_http1_header *dh = gw_mock_header(req, "x-amz-date");
    const struct gw_http1_header *hh = gw_mock_header(req, "host");
    const struct gw_http1_header *th = gw_mock_header(req, "x-amz-security-token");
    if (!ah) {
        b_deny(c, "MissingAuthenticationTokenException", "Missing Authentication Token");
        return -1;
    }
    static const char algo[] = "AWS4-HMAC-SHA256 ";
    if (ah->value.len <= sizeof(algo) - 1 || memcmp(ah->value.ptr, algo, sizeof(algo) - 1) != 0) {
        b_deny(c, "IncompleteSignatureException",
               "Authorization header requires the AWS4-HMAC-SHA256 algorithm.");
        return -1;
    }
    struct gw_span params =
        gw_span_make(ah->value.ptr + sizeof(algo) - 1, ah->value.len - (sizeof(algo) - 1));
    struct gw_span cred = auth_param(params, "Credential");
    struct gw_span signed_headers = auth_param(params, "SignedHeaders");
    struct gw_span sig = auth_param(params, "Signature");
    if (!cred.len || !signed_headers.len || !sig.len) {
        b_deny(c, "IncompleteSignatureException",
               "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
               "parameters.");
        return -1;
    }
    if (!dh) {
        b_deny(c, "IncompleteSignatureException",
               "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
               "header.");
        return -1;
    }
    char date[B_DATE_LEN];
    int64_t t;
    if (!copy_z(date, sizeof(date), dh->value) || !amz_time(date, &t)) {
        b_deny(c, "IncompleteSignatureException",
               "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z'.");
        return -1;
    }
    int64_t now = (int64_t)time(NULL);
    if (t < now - B_SKEW_S || t > now + B_SKEW_S) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Signature expired: %s is now earlier or later than 15 minutes from the "
                 "current time.",
                 date);
        b_deny(c, "InvalidSignatureException", msg);
        return -1;
    }
    /* Credential = <key id>/<yyyymmdd>/<region>/<service>/aws4_request */
    struct gw_span part[5];
    size_t np = 0;
    for (const char *p = cred.ptr, *end = cred.ptr + cred.len;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (np < 5)
            part[np] = gw_span_make(p, (size_t)((slash ? slash : end) - p));
        np++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (np != 5 || !part[2].len) {
        b_deny(c, "IncompleteSignatureException",
               "Credential should be of the form <key>/<date>/<region>/<service>/aws4_request.");
        return -1;
    }
    if (!gw_span_eq(part[0], gw_span_cstr(gw_mock.aws_key_id))) {
        b_deny(c, "UnrecognizedClientException",
               "The security token included in the request is invalid.");
        return -1;
    }
    if (part[1].len != 8 || memcmp(part[1].ptr, date, 8) != 0) {
        b_deny(c, "InvalidSignatureException",
               "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
               "from HTTP.");
        return -1;
    }
    struct gw_span want_region = hh ? host_region(hh->value) : GW_SPAN_NULL;
    if (want_region.len && !gw_span_eq(part[2], want_region)) {
        b_deny(c, "InvalidSignatureException", "Credential should be scoped to a valid region.");
        return -1;
    }
    if (!gw_span_eq(part[3], GW_SPAN_LIT("bedrock"))) {
        b_deny(c, "InvalidSignatureException",
               "Credential should be scoped to correct service: 'bedrock'.");
        return -1;
    }
    if (!gw_span_eq(part[4], GW_SPAN_LIT("aws4_request"))) {
        b_deny(c, "InvalidSignatureException",
               "Credential should be scoped with a valid terminator: 'aws4_request'.");
        return -1;
    }
    const char *want_signed = th ? "host;x-amz-date;x-amz-security-token" : "host;x-amz-date";
    if (!gw_span_eq(signed_headers, gw_span_cstr(want_signed))) {
        char msg[160];
        snprintf(msg, sizeof(msg), "SignedHeaders must be %s for this request.", want_signed);
        b_deny(c, "InvalidSignatureException", msg);
        return -1;
    }

    /* Recompute over what was received. */
    const char *q = memchr(target.ptr, '?', target.len);
    struct gw_mock_sigv4 rq = {
        .method = req->method,
        .path = q ? gw_span_make(target.ptr, (size_t)(q - target.ptr)) : target,
        .query = q ? gw_span_make(q + 1, target.len - (size_t)(q + 1 - target.ptr)) : GW_SPAN_NULL,
        .host = hh ? hh->value : GW_SPAN_NULL,
        .date = dh->value,
        .token = th ? th->value : GW_SPAN_NULL,
        .body = body,
        .region = part[2],
        .service = "bedrock",
        .secret = gw_mock.aws_secret,
    };
    /* The mock signs no longer fields than these (neither does the gateway). */
    bool fits = rq.method.len < 16 && rq.path.len < 2048 && rq.query.len < 1024 &&
                rq.host.len < 256 && rq.token.len < B_TOKEN_MAX && rq.region.len < 64;
    char computed[65];
    gw_mock_sigv4_signature(&rq, computed);
    if (!hh || !fits || sig.len != 64 || !ct_equal(computed, sig.ptr, 64)) {
        b_deny(c, "InvalidSignatureException", sig_mismatch);
        return -1;
    }
    return 0;
}

/* ---- body ---- */

/* One JSON value: its first token's type, its whole text, and a string's raw inside. */
struct bv {
    enum gw_json_tok_type type;
    struct gw_span text;
    struct gw_span str;
};

struct obj_it {
    struct gw_json j;
};

/* Starts iterating the members of the object text v; false if v is not an object. */
static bool obj_begin(struct obj_it *it, const struct bv *v)
{
    struct gw_json_tok t;
    if (v->type != GW_JT_OBJ_BEGIN)
        return false;
    gw_json_init(&it->j, v->text.ptr, v->text.len);
    return gw_json_next(&it->j, &t) == 1;
}

/* The next member: 1 (key raw span, value), 0 at the end, -1 on invalid JSON. */
static int obj_next(struct obj_it *it, struct gw_span *key, struct bv *val)
{
    struct gw_json_tok t;
    size_t end;
    if (gw_json_next(&it->j, &t) != 1)
        return -1;
    if (t.type == GW_JT_OBJ_END)
        return 0;
    if (t.type != GW_JT_KEY)
        return -1;
    *key = t.span;
    if (gw_json_next(&it->j, &t) != 1 || gw_json_skip(&it->j, &t, &end) != 0)
        return -1;
    val->type = t.type;
    val->text = gw_span_make(it->j.buf + t.start, end - t.start);
    val->str = t.span;
    return 1;
}

/* Iterates the elements of the array text v (same contract, no key). */
static bool arr_begin(struct obj_it *it, const struct bv *v)
{
    struct gw_json_tok t;
    if (v->type != GW_JT_ARR_BEGIN)
        return false;
    gw_json_init(&it->j, v->text.ptr, v->text.len);
    return gw_json_next(&it->j, &t) == 1;
}

static int arr_next(struct obj_it *it, struct bv *val)
{
    struct gw_json_tok t;
    size_t end;
    if (gw_json_next(&it->j, &t) != 1)
        return -1;
    if (t.type == GW_JT_ARR_END)
        return 0;
    if (gw_json_skip(&it->j, &t, &end) != 0)
        return -1;
    val->type = t.type;
    val->text = gw_span_make(it->j.buf + t.start, end - t.start);
    val->str = t.span;
    return 1;
}

static bool key_is(struct gw_span key, const char *s)
{
    return gw_json_str_eq(key, s);
}

static bool key_in(struct gw_span key, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (key_is(key, set[i]))
            return true;
    return false;
}

/* The member `name` of object v (type GW_JT_NONE when absent). */
static struct bv get(const struct bv *v, const char *name)
{
    struct bv out = {0};
    struct obj_it it;
    struct gw_span k;
    struct bv m;
    if (!obj_begin(&it, v))
        return out;
    while (obj_next(&it, &k, &m) == 1)
        if (key_is(k, name))
            out = m;
    return out;
}

/* What body checking reports: NULL, or the 400's message (in msg). */
struct check {
    char msg[320];
    bool tool_blocks; /* a toolUse or toolResult block was seen */
};

__attribute__((format(printf, 2, 3))) static const char *bad(struct check *ck, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ck->msg, sizeof(ck->msg), fmt, ap);
    va_end(ap);
    return ck->msg;
}

/* An object with exactly one member, whose name is returned in *key. NULL or the message. */
static const char *one_member(struct check *ck, const struct bv *v, const char *where,
                              struct gw_span *key, struct bv *val)
{
    struct obj_it it;
    int r, n = 0;
    if (!obj_begin(&it, v))
        return bad(ck, "%s must be an object.", where);
    struct gw_span k;
    struct bv m;
    while ((r = obj_next(&it, &k, &m)) == 1) {
        if (n++ == 0) {
            *key = k;
            *val = m;
        }
    }
    if (r != 0 || n != 1)
        return bad(ck, "%s must set exactly one member.", where);
    return NULL;
}

static const char *check_image(struct check *ck, const struct bv *img, const char *where)
{
    static const char *const formats[] = {"png", "jpeg", "gif", "webp"};
    struct bv fmt = get(img, "format"), src = get(img, "source");
    if (img->type != GW_JT_OBJ_BEGIN || fmt.type != GW_JT_STRING)
        return bad(ck, "%s.image.format is required.", where);
    bool ok = false;
    for (size_t i = 0; i < GW_ARRAY_SIZE(formats); i++)
        ok |= gw_json_str_eq(fmt.str, formats[i]);
    if (!ok)
        return bad(ck, "%s.image.format must be one of png, jpeg, gif, webp.", where);
    struct bv bytes = get(&src, "bytes");
    if (bytes.type != GW_JT_STRING || !bytes.str.len)
        return bad(ck, "%s.image.source.bytes is required.", where);
    return NULL;
}

/* One ContentBlock of messages[i].content. */
static const char *check_block(struct check *ck, const struct bv *b, const char *where)
{
    static const char *const known[] = {"text",
                                        "image",
                                        "document",
                                        "video",
                                        "toolUse",
                                        "toolResult",
                                        "guardContent",
                                        "cachePoint",
                                        "reasoningContent",
                                        "citationsContent"};
    struct gw_span k;
    struct bv v;
    const char *why = one_member(ck, b, where, &k, &v);
    if (why)
        return why;
    if (!key_in(k, known, GW_ARRAY_SIZE(known)))
        return bad(ck, "%s: unknown content block type \"%.*s\".", where, (int)GW_MIN(k.len, 64),
                   k.ptr);
    if (key_is(k, "text")) {
        if (v.type != GW_JT_STRING)
            return bad(ck, "%s.text must be a string.", where);
        if (!v.str.len)
            return bad(ck,
                       "The text field in the ContentBlock object at %s is blank. Add text to "
                       "the text field, and try again.",
                       where);
        return NULL;
    }
    if (key_is(k, "image"))
        return check_image(ck, &v, where);
    if (key_is(k, "toolUse")) {
        struct bv id = get(&v, "toolUseId"), name = get(&v, "name"), in = get(&v, "input");
        ck->tool_blocks = true;
        if (id.type != GW_JT_STRING || name.type != GW_JT_STRING || in.type == GW_JT_NONE)
            return bad(ck, "%s.toolUse needs toolUseId, name and input.", where);
        if (in.type != GW_JT_OBJ_BEGIN)
            return bad(ck, "%s.toolUse.input must be an object.", where);
        return NULL;
    }
    if (key_is(k, "toolResult")) {
        static const char *const rknown[] = {"json", "text", "image", "document", "video"};
        struct bv id = get(&v, "toolUseId"), content = get(&v, "content");
        struct obj_it it;
        struct bv el;
        int r;
        unsigned i = 0;
        ck->tool_blocks = true;
        if (id.type != GW_JT_STRING || !arr_begin(&it, &content))
            return bad(ck, "%s.toolResult needs toolUseId and a content list.", where);
        while ((r = arr_next(&it, &el)) == 1) {
            char w[96];
            struct gw_span ek;
            struct bv ev;
            snprintf(w, sizeof(w), "%s.toolResult.content.%u", where, i++);
            const char *why2 = one_member(ck, &el, w, &ek, &ev);
            if (why2)
                return why2;
            if (!key_in(ek, rknown, GW_ARRAY_SIZE(rknown)))
                return bad(ck, "%s: unknown tool result block.", w);
            if (key_is(ek, "json") && ev.type != GW_JT_OBJ_BEGIN)
                return bad(ck, "%s.json must be an object.", w);
            if (key_is(ek, "text") && ev.type != GW_JT_STRING)
                return bad(ck, "%s.text must be a string.", w);
            if (key_is(ek, "image") && (why2 = check_image(ck, &ev, w)))
                return why2;
        }
        return r == 0 ? NULL : bad(ck, "%s.toolResult.content is invalid.", where);
    }
    return NULL; /* other block kinds: accepted as they are */
}

static const char *check_messages(struct check *ck, const struct bv *msgs)
{
    struct obj_it it;
    struct bv m;
    int r;
    unsigned i = 0;
    bool last_user = false;
    if (msgs->type == GW_JT_NONE)
        return bad(ck, "The messages field is required.");
    if (!arr_begin(&it, msgs))
        return bad(ck, "messages must be a list.");
    while ((r = arr_next(&it, &m)) == 1) {
        struct bv role = get(&m, "role"), content = get(&m, "content");
        struct obj_it mit;
        struct gw_span k;
        struct bv v;
        int mr;
        if (!obj_begin(&mit, &m))
            return bad(ck, "messages.%u must be an object.", i);
        while ((mr = obj_next(&mit, &k, &v)) == 1)
            if (!key_is(k, "role") && !key_is(k, "content"))
                return bad(ck,
                           "Malformed input request: extraneous key [%.*s] is not permitted "
                           "in messages.%u.",
                           (int)GW_MIN(k.len, 64), k.ptr, i);
        bool user = role.type == GW_JT_STRING && gw_json_str_eq(role.str, "user");
        bool assistant = role.type == GW_JT_STRING && gw_json_str_eq(role.str, "assistant");
        if (!user && !assistant)
            return bad(ck, "messages.%u.role must be user or assistant.", i);
        if (i == 0 && !user)
            return bad(ck, "A conversation must start with a user message. Try again with a "
                           "conversation that starts with a user message.");
        if (i > 0 && user == last_user)
            return bad(ck, "A conversation must alternate between user and assistant roles. "
                           "Make sure the conversation alternates between user and assistant "
                           "roles and try again.");
        last_user = user;
        struct obj_it cit;
        struct bv b;
        int cr;
        unsigned j = 0;
        if (!arr_begin(&cit, &content))
            return bad(ck, "messages.%u.content must be a list of content blocks.", i);
        while ((cr = arr_next(&cit, &b)) == 1) {
            char where[64];
            snprintf(where, sizeof(where), "messages.%u.content.%u", i, j++);
            const char *why = check_block(ck, &b, where);
            if (why)
                return why;
        }
        if (cr != 0 || j == 0)
            return bad(ck, "messages.%u.content must hold at least one content block.", i);
        i++;
    }
    if (r != 0)
        return bad(ck, "messages must be a list.");
    return i ? NULL : bad(ck, "messages must hold at least one message.");
}

static const char *check_system(struct check *ck, const struct bv *sys)
{
    static const char *const known[] = {"text", "guardContent", "cachePoint"};
    struct obj_it it;
    struct bv b;
    int r;
    unsigned i = 0;
    if (sys->type == GW_JT_NONE)
        return NULL;
    if (!arr_begin(&it, sys))
        return bad(ck, "system must be a list.");
    while ((r = arr_next(&it, &b)) == 1) {
        char where[32];
        struct gw_span k;
        struct bv v;
        snprintf(where, sizeof(where), "system.%u", i++);
        const char *why = one_member(ck, &b, where, &k, &v);
        if (why)
            return why;
        if (!key_in(k, known, GW_ARRAY_SIZE(known)))
            return bad(ck, "%s: unknown system content block.", where);
        if (key_is(k, "text") && (v.type != GW_JT_STRING || !v.str.len))
            return bad(ck, "%s.text must be a non-blank string.", where);
    }
    return r == 0 ? NULL : bad(ck, "system must be a list.");
}

static const char *check_inference(struct check *ck, const struct bv *ic)
{
    struct obj_it it;
    struct gw_span k;
    struct bv v;
    int r;
    if (ic->type == GW_JT_NONE)
        return NULL;
    if (!obj_begin(&it, ic))
        return bad(ck, "inferenceConfig must be an object.");
    while ((r = obj_next(&it, &k, &v)) == 1) {
        uint64_t n;
        if (key_is(k, "maxTokens")) {
            if (v.type != GW_JT_NUMBER || !gw_json_to_u64(v.str, &n) || n < 1)
                return bad(ck, "inferenceConfig.maxTokens must be an integer of at least 1.");
        } else if (key_is(k, "temperature") || key_is(k, "topP")) {
            if (v.type != GW_JT_NUMBER)
                return bad(ck, "inferenceConfig.%.*s must be a number.", (int)k.len, k.ptr);
        } else if (key_is(k, "stopSequences")) {
            struct obj_it sit;
            struct bv s;
            int sr;
            if (!arr_begin(&sit, &v))
                return bad(ck, "inferenceConfig.stopSequences must be a list of strings.");
            while ((sr = arr_next(&sit, &s)) == 1)
                if (s.type != GW_JT_STRING)
                    return bad(ck, "inferenceConfig.stopSequences must be a list of strings.");
            if (sr != 0)
                return bad(ck, "inferenceConfig.stopSequences must be a list of strings.");
        } else {
            return bad(ck,
                       "Malformed input request: extraneous key [%.*s] is not permitted in "
                       "inferenceConfig.",
                       (int)GW_MIN(k.len, 64), k.ptr);
        }
    }
    return r == 0 ? NULL : bad(ck, "inferenceConfig must be an object.");
}

/*
 * toolConfig {tools:[{toolSpec:{name,description?,inputSchema:{json:{...}}}}],
 * toolChoice?:{auto:{}}|{any:{}}|{tool:{name}}}; the first tool's name goes
 * to plan.tool_name (a JSON token).
 */
static const char *check_tool_config(struct check *ck, const struct bv *tc, struct gw_mock_plan *p)
{
    gw_mock_tool_default(p);
    if (tc->type == GW_JT_NONE)
        return ck->tool_blocks ? bad(ck, "The toolConfig field must be defined when using "
                                         "toolUse and toolResult content blocks.")
                               : NULL;
    struct obj_it it;
    struct gw_span k;
    struct bv v, tools = {0}, choice = {0};
    int r;
    if (!obj_begin(&it, tc))
        return bad(ck, "toolConfig must be an object.");
    while ((r = obj_next(&it, &k, &v)) == 1) {
        if (key_is(k, "tools"))
            tools = v;
        else if (key_is(k, "toolChoice"))
            choice = v;
        else
            return bad(ck,
                       "Malformed input request: extraneous key [%.*s] is not permitted in "
                       "toolConfig.",
                       (int)GW_MIN(k.len, 64), k.ptr);
    }
    struct obj_it tit;
    struct bv t;
    unsigned i = 0;
    if (r != 0 || !arr_begin(&tit, &tools))
        return bad(ck, "toolConfig.tools must be a list.");
    while ((r = arr_next(&tit, &t)) == 1) {
        char where[48];
        struct gw_span tk;
        struct bv tv;
        snprintf(where, sizeof(where), "toolConfig.tools.%u", i);
        const char *why = one_member(ck, &t, where, &tk, &tv);
        if (why)
            return why;
        if (key_is(tk, "cachePoint"))
            continue;
        if (!key_is(tk, "toolSpec"))
            return bad(ck, "%s: unknown tool type.", where);
        struct bv name = get(&tv, "name"), desc = get(&tv, "description");
        struct bv schema = get(&tv, "inputSchema");
        struct bv json = get(&schema, "json");
        if (name.type != GW_JT_STRING || !name.str.len)
            return bad(ck, "%s.toolSpec.name is required.", where);
        if (desc.type != GW_JT_NONE && (desc.type != GW_JT_STRING || !desc.str.len))
            return bad(ck, "%s.toolSpec.description must be a non-empty string.", where);
        if (json.type != GW_JT_OBJ_BEGIN)
            return bad(ck, "%s.toolSpec.inputSchema.json must be a JSON Schema object.", where);
        if (i++ == 0) {
            size_t n = name.text.len;
            if (n > sizeof(p->tool_name))
                return bad(ck, "%s.toolSpec.name is too long.", where);
            memcpy(p->tool_name, name.text.ptr, n);
            p->tool_name_len = n;
        }
    }
    if (r != 0 || i == 0)
        return bad(ck, "toolConfig.tools must hold at least one tool.");
    if (choice.type != GW_JT_NONE) {
        struct gw_span ck_key;
        struct bv cv;
        const char *why = one_member(ck, &choice, "toolConfig.toolChoice", &ck_key, &cv);
        if (why)
            return why;
        if (key_is(ck_key, "auto") || key_is(ck_key, "any")) {
            if (cv.type != GW_JT_OBJ_BEGIN)
                return bad(ck, "toolConfig.toolChoice.%.*s must be an object.", (int)ck_key.len,
                           ck_key.ptr);
        } else if (key_is(ck_key, "tool")) {
            struct bv name = get(&cv, "name");
            if (name.type != GW_JT_STRING || !name.str.len)
                return bad(ck, "toolConfig.toolChoice.tool.name is required.");
        } else {
            return bad(ck, "toolConfig.toolChoice must be auto, any or tool.");
        }
    }
    return NULL;
}

/* ---- rendering ---- */

/* The padding member AWS adds to every event: a run of letters of varying length. */
static void jw_pad(struct gw_jw *jw, uint32_t salt)
{
    static const char pad[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    gw_jw_key(jw, "p");
    gw_jw_str(jw, pad, 1 + (salt * 7u + 3u) % (sizeof(pad) - 2));
}

static void jw_b_usage(struct gw_jw *jw, const struct gw_mock_plan *p)
{
    gw_jw_key(jw, "usage");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "inputTokens");
    gw_jw_uint(jw, p->prompt_tokens);
    gw_jw_key(jw, "outputTokens");
    gw_jw_uint(jw, p->output_tokens);
    gw_jw_key(jw, "totalTokens");
    gw_jw_uint(jw, p->prompt_tokens + p->output_tokens + B_CACHE_READ);
    gw_jw_key(jw, "cacheReadInputTokens");
    gw_jw_uint(jw, B_CACHE_READ);
    gw_jw_key(jw, "cacheWriteInputTokens");
    gw_jw_uint(jw, 0);
    gw_jw_obj_end(jw);
}

static void jw_metrics(struct gw_jw *jw)
{
    gw_jw_key(jw, "metrics");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "latencyMs");
    gw_jw_uint(jw, B_LATENCY_MS);
    gw_jw_obj_end(jw);
}

/* The Converse response. */
static void render_converse(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_body *a = arg;
    const struct gw_mock_plan *p = a->p;
    gw_jw_obj_begin(jw);
    jw_metrics(jw);
    gw_jw_key(jw, "output");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "message");
    gw_jw_obj_begin(jw);
    gw_jw_key(jw, "content");
    gw_jw_arr_begin(jw);
    gw_jw_obj_begin(jw);
    if (p->tool) {
        gw_jw_key(jw, "toolUse");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "input");
        gw_jw_raw(jw, GW_MOCK_TOOL_INPUT, sizeof(GW_MOCK_TOOL_INPUT) - 1);
        gw_jw_key(jw, "name");
        gw_jw_raw(jw, p->tool_name, p->tool_name_len);
        gw_jw_key(jw, "toolUseId");
        gw_jw_cstr(jw, B_TOOL_ID);
        gw_jw_obj_end(jw);
    } else {
        gw_jw_key(jw, "text");
        gw_jw_str(jw, a->text.ptr, a->text.len);
    }
    gw_jw_obj_end(jw);
    gw_jw_arr_end(jw);
    gw_jw_key(jw, "role");
    gw_jw_cstr(jw, "assistant");
    gw_jw_obj_end(jw);
    gw_jw_obj_end(jw);
    gw_jw_key(jw, "stopReason");
    gw_jw_cstr(jw, p->tool ? "tool_use" : "end_turn");
    jw_b_usage(jw, p);
    gw_jw_obj_end(jw);
}

/* The kinds of stream event, in the order they are sent. */
enum b_ev {
    B_EV_MESSAGE_START = 0,
    B_EV_BLOCK_START,
    B_EV_DELTA,
    B_EV_BLOCK_STOP,
    B_EV_MESSAGE_STOP,
    B_EV_METADATA
};

static const char *const ev_names[] = {"messageStart",     "contentBlockStart", "contentBlockDelta",
                                       "contentBlockStop", "messageStop",       "metadata"};

/* Renders one event's JSON (arg: a struct gw_mock_event of kind enum b_ev). */
static void render_b_event(struct gw_jw *jw, const void *arg)
{
    const struct gw_mock_event *ev = arg;
    const struct gw_mock_plan *p = ev->p;
    enum b_ev kind = (enum b_ev)ev->kind;
    uint32_t index = ev->index;
    gw_jw_obj_begin(jw);
    switch (kind) {
    case B_EV_MESSAGE_START:
        jw_pad(jw, 0);
        gw_jw_key(jw, "role");
        gw_jw_cstr(jw, "assistant");
        break;
    case B_EV_BLOCK_START:
        gw_jw_key(jw, "contentBlockIndex");
        gw_jw_uint(jw, 0);
        jw_pad(jw, 1);
        gw_jw_key(jw, "start");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "toolUse");
        gw_jw_obj_begin(jw);
        gw_jw_key(jw, "name");
        gw_jw_raw(jw, p->tool_name, p->tool_name_len);
        gw_jw_key(jw, "toolUseId");
        gw_jw_cstr(jw, B_TOOL_ID);
        gw_jw_obj_end(jw);
        gw_jw_obj_end(jw);
        break;
    case B_EV_DELTA:
        gw_jw_key(jw, "contentBlockIndex");
        gw_jw_uint(jw, 0);
        gw_jw_key(jw, "delta");
        gw_jw_obj_begin(jw);
        if (p->tool) {
            gw_jw_key(jw, "toolUse");
            gw_jw_obj_begin(jw);
            gw_jw_key(jw, "input");
            gw_jw_cstr(jw, gw_mock_tool_piece(index));
            gw_jw_obj_end(jw);
        } else {
            char tok[GW_MOCK_TOKEN_CAP];
            struct gw_span t = gw_mock_token(tok, index);
            gw_jw_key(jw, "text");
            gw_jw_str(jw, t.ptr, t.len);
        }
        gw_jw_obj_end(jw);
        jw_pad(jw, index + 2);
        break;
    case B_EV_BLOCK_STOP:
        gw_jw_key(jw, "contentBlockIndex");
        gw_jw_uint(jw, 0);
        jw_pad(jw, 3);
        break;
    case B_EV_MESSAGE_STOP:
        jw_pad(jw, 4);
        gw_jw_key(jw, "stopReason");
        gw_jw_cstr(jw, p->tool ? "tool_use" : "end_turn");
        break;
    case B_EV_METADATA:
        jw_metrics(jw);
        jw_pad(jw, 5);
        jw_b_usage(jw, p);
        break;
    }
    gw_jw_obj_end(jw);
}

/*
 * Appends one event stream message (headers hv: name, value pairs) as one
 * HTTP chunk (raw for an HTTP/1.0 peer). With bad_crc its message CRC is
 * wrong (the malformed_chunk fault): the framing is fine, the message is not.
 */
static void emit_message(struct gw_mock_conn *c, const struct gw_mock_es_header *h, size_t nh,
                         const char *payload, size_t plen, bool bad_crc)
{
    char msg[B_EVENT_CAP + 512];
    size_t n = gw_mock_es_encode(msg, sizeof(msg), h, nh, payload, plen);
    GW_BUG_ON(n == 0);
    if (bad_crc)
        msg[n - 1] ^= 0x5a;
    struct gw_span whole = gw_span_make(msg, n);
    gw_mock_put_chunk(c, &whole, 1, false);
}

static void emit_b_event(struct gw_mock_conn *c, enum b_ev kind, uint32_t index, bool bad_crc)
{
    struct gw_mock_event ev = {&c->plan, kind, index};
    struct gw_span json = gw_mock_render(c, render_b_event, &ev);
    if (!json.ptr)
        return;
    GW_BUG_ON(json.len > B_EVENT_CAP);
    const struct gw_mock_es_header h[] = {{":event-type", ev_names[kind]},
                                          {":content-type", "application/json"},
                                          {":message-type", "event"}};
    emit_message(c, h, GW_ARRAY_SIZE(h), json.ptr, json.len, bad_crc);
}

/* mock.exception: the exception message, {"message":...} as ConverseStream sends it. */
static void emit_exception(struct gw_mock_conn *c, const char *type)
{
    char json[256];
    int n = snprintf(json, sizeof(json), "{\"message\":\"Mock %s mid-stream.\"}", type);
    const struct gw_mock_es_header h[] = {{":exception-type", type},
                                          {":content-type", "application/json"},
                                          {":message-type", "exception"}};
    emit_message(c, h, GW_ARRAY_SIZE(h), json, (size_t)n, false);
}

/*
 * The stream (paced by reply.c): messageStart (and, for a tool,
 * contentBlockStart) with the head; a contentBlockDelta per chunk
 * (plan.chunks counts them); then contentBlockStop, messageStop and
 * metadata. plan.phase holds mock.exception (index + 1, 0 for none), sent in
 * place of delta chunks/2, after which the stream ends as AWS ends it.
 */
static void b_stream_head(struct gw_mock_conn *c)
{
    emit_b_event(c, B_EV_MESSAGE_START, 0, false);
    if (c->plan.tool)
        emit_b_event(c, B_EV_BLOCK_START, 0, false);
}

static void b_stream_event(struct gw_mock_conn *c, uint32_t i, bool bad)
{
    emit_b_event(c, i < c->plan.chunks ? B_EV_DELTA : B_EV_BLOCK_STOP, i, bad);
}

static void b_stream_tail(struct gw_mock_conn *c)
{
    emit_b_event(c, B_EV_MESSAGE_STOP, 0, false);
    emit_b_event(c, B_EV_METADATA, 0, false);
}

static bool b_stream_cut(struct gw_mock_conn *c)
{
    const struct gw_mock_plan *p = &c->plan;
    if (!p->phase || p->next_chunk < p->chunks / 2)
        return false;
    emit_exception(c, stream_exceptions[(p->phase - 1) % GW_ARRAY_SIZE(stream_exceptions)]);
    return true;
}

const struct gw_mock_wire gw_mock_wire_bedrock = {
    .stream_ctype = "application/vnd.amazon.eventstream",
    .tool_events = GW_MOCK_TOOL_PIECES,
    .bad_ctl = b_bad_request,
    .reply_status = b_reply_status,
    .render = render_converse,
    .stream_head = b_stream_head,
    .stream_event = b_stream_event,
    .stream_tail = b_stream_tail,
    .stream_cut = b_stream_cut,
};

/* ---- the endpoint ---- */

/*
 * Bedrock's own controls: mock.exception (a string naming one of
 * `stream_exceptions`) into plan.phase, mock.error_type (one of
 * `exceptions`' names, with mock.status) into plan.error_type. NULL, or the
 * 400 message.
 */
static const char *take_controls(const struct bv *mock, struct gw_mock_plan *p)
{
    struct bv e = get(mock, "exception"), et = get(mock, "error_type");
    p->phase = 0;
    p->error_type = 0;
    if (e.type != GW_JT_NONE && e.type != GW_JT_NULL) {
        for (size_t i = 0; e.type == GW_JT_STRING && i < GW_ARRAY_SIZE(stream_exceptions); i++)
            if (gw_json_str_eq(e.str, stream_exceptions[i]))
                p->phase = (uint32_t)i + 1;
        if (!p->phase)
            return "mock.exception must be throttlingException, validationException, "
                   "modelStreamErrorException, internalServerException or "
                   "serviceUnavailableException";
    }
    if (et.type == GW_JT_NONE || et.type == GW_JT_NULL)
        return NULL;
    for (size_t i = 0; et.type == GW_JT_STRING && i < GW_ARRAY_SIZE(exceptions); i++)
        if (gw_json_str_eq(et.str, exceptions[i].type))
            p->error_type = (uint32_t)i + 1;
    if (!p->error_type)
        return "mock.error_type must name one of Bedrock's exceptions (ThrottlingException, "
               "ServiceQuotaExceededException, ValidationException, ...)";
    if (get(mock, "status").type == GW_JT_NONE)
        return "mock.error_type needs mock.status";
    return NULL;
}

/*
 * The path /model/{modelId}/{op}: *stream tells converse-stream from
 * converse. The id must be one URI-encoded segment (no raw ':' as the SDKs
 * never send one). Returns 0, or -1 after answering the 404 or 400.
 */
static int route(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                 bool *stream)
{
    static const char pre[] = "/model/";
    struct gw_span rest = gw_span_make(path.ptr + sizeof(pre) - 1, path.len - (sizeof(pre) - 1));
    const char *slash = memchr(rest.ptr, '/', rest.len);
    struct gw_span op =
        slash ? gw_span_make(slash, rest.len - (size_t)(slash - rest.ptr)) : GW_SPAN_NULL;
    bool post = gw_span_eq(req->method, GW_SPAN_LIT("POST"));
    *stream = gw_span_eq(op, GW_SPAN_LIT("/converse-stream"));
    if (!slash || slash == rest.ptr || !post ||
        !(*stream || gw_span_eq(op, GW_SPAN_LIT("/converse")))) {
        b_reply_error(c, 404, "UnknownOperationException", B_NS_CORAL,
                      "The requested operation is not recognized by the service.", NULL);
        return -1;
    }
    for (const char *q = rest.ptr; q < slash; q++) {
        unsigned char ch = (unsigned char)*q;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
                  ch == '%';
        if (!ok) {
            b_bad_request(c, "The model identifier in the path must be URI-encoded.");
            return -1;
        }
    }
    return 0;
}

void gw_mock_bedrock(struct gw_mock_conn *c, const struct gw_http1_req *req, struct gw_span path,
                     struct gw_span body)
{
    static const char *const top[] = {"messages",
                                      "system",
                                      "inferenceConfig",
                                      "toolConfig",
                                      "guardrailConfig",
                                      "additionalModelRequestFields",
                                      "additionalModelResponseFieldPaths",
                                      "promptVariables",
                                      "requestMetadata",
                                      "performanceConfig",
                                      "mock"};
    struct gw_mock_plan *p = &c->plan;
    struct check ck = {0};
    p->dialect = GW_MOCK_DIALECT_BEDROCK;

    if (check_sigv4(c, req, req->target, body) < 0)
        return;
    bool stream;
    if (route(c, req, path, &stream) < 0)
        return;
    struct gw_json j;
    struct gw_json_tok t0;
    gw_json_init(&j, body.ptr, body.len);
    if (!gw_json_validate(body.ptr, body.len) || gw_json_next(&j, &t0) != 1 ||
        t0.type != GW_JT_OBJ_BEGIN) {
        b_bad_request(c, "Malformed input request, please reformat your input and try again.");
        return;
    }
    struct bv doc = {GW_JT_OBJ_BEGIN, body, GW_SPAN_NULL};
    struct obj_it it;
    struct gw_span k;
    struct bv v, msgs = {0}, sys = {0}, ic = {0}, tc = {0}, mock = {0};
    int r;
    if (!obj_begin(&it, &doc)) {
        b_bad_request(c, "Malformed input request, please reformat your input and try again.");
        return;
    }
    while ((r = obj_next(&it, &k, &v)) == 1) {
        if (!key_in(k, top, GW_ARRAY_SIZE(top))) {
            bad(&ck,
                "Malformed input request: extraneous key [%.*s] is not permitted, please "
                "reformat your input and try again.",
                (int)GW_MIN(k.len, 64), k.ptr);
            b_bad_request(c, ck.msg);
            return;
        }
        if (key_is(k, "messages"))
            msgs = v;
        else if (key_is(k, "system"))
            sys = v;
        else if (key_is(k, "inferenceConfig"))
            ic = v;
        else if (key_is(k, "toolConfig"))
            tc = v;
        else if (key_is(k, "mock"))
            mock = v;
    }
    const char *why = NULL;
    if (!why)
        why = check_messages(&ck, &msgs);
    if (!why)
        why = check_system(&ck, &sys);
    if (!why)
        why = check_inference(&ck, &ic);
    if (!why)
        why = check_tool_config(&ck, &tc, p);
    if (!why)
        why = take_controls(&mock, p);
    if (why) {
        b_bad_request(c, why);
        return;
    }
    gw_mock_answer(c, body, NULL, stream);
}
