/*
 * providers/oreq.h — what every translator reads from an OpenAI chat request.
 *
 * providers/oai.h writes the OpenAI side of an answer; this is its request
 * side: the parts of a chat completions request that each dialect reads the
 * same way before it writes its own shape. Each reader validates what it
 * reads and refuses a bad request with OpenAI's 400 (gw_xlate_fail), with the
 * same message and param whichever provider the request goes to; what a
 * dialect then writes, or refuses on top, stays in the dialect.
 *
 *   - the request's members, read once into one table, type-checked, and
 *     copied as sent where a dialect takes them unchanged;
 *   - the upstream request's frame: its xbound buffer, "model" (in the body
 *     or the path), the bundled mock's controls, the closing overflow check,
 *     an API key header;
 *   - max_tokens / max_completion_tokens, n (one choice), stop (a string or
 *     an array of strings), and what a text-only answer cannot honour
 *     (audio, modalities, logit_bias);
 *   - messages and their roles, the text of system and developer messages,
 *     a message's content parts, and a walk over the conversation for the
 *     dialects that write it turn by turn;
 *   - an assistant message's tool_calls: id, type "function", function.name
 *     (gw_xbound_name) and the arguments text, and the history of calls a
 *     later tool message refers to;
 *   - tools (function tools: name, description, parameters) and tool_choice;
 *   - an image_url part's URL: a data: URL's media type and base64 payload,
 *     or an http(s) URL.
 *
 * Everything read is a view into the request body (providers/jv.h) or text
 * decoded into the caller's arena; nothing is kept between calls but the
 * iterators the caller owns. Shapes follow OpenAI's chat completions
 * reference (https://platform.openai.com/docs/api-reference/chat/create).
 */
#ifndef GW_PROVIDERS_OREQ_H
#define GW_PROVIDERS_OREQ_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/span.h"
#include "providers/jv.h"
#include "providers/xbound.h"
#include "providers/xlate.h"

/* ---- the request ---- */

/* The top-level members of a chat request that a translator reads. */
enum gw_oreq_key {
    GW_RQ_MODEL = 0,
    GW_RQ_MESSAGES,
    GW_RQ_MAX_TOKENS,
    GW_RQ_MAX_COMPLETION_TOKENS,
    GW_RQ_STOP,
    GW_RQ_TEMPERATURE,
    GW_RQ_TOP_P,
    GW_RQ_TOP_K,
    GW_RQ_SEED,
    GW_RQ_FREQUENCY_PENALTY,
    GW_RQ_PRESENCE_PENALTY,
    GW_RQ_STREAM,
    GW_RQ_N,
    GW_RQ_USER,
    GW_RQ_TOOLS,
    GW_RQ_TOOL_CHOICE,
    GW_RQ_PARALLEL_TOOL_CALLS,
    GW_RQ_RESPONSE_FORMAT,
    GW_RQ_LOGPROBS,
    GW_RQ_TOP_LOGPROBS,
    GW_RQ_LOGIT_BIAS,
    GW_RQ_AUDIO,
    GW_RQ_MODALITIES,
    GW_RQ_FUNCTIONS,
    GW_RQ_FUNCTION_CALL,
    GW_RQ_REASONING_EFFORT,
    GW_RQ_WEB_SEARCH_OPTIONS,
    GW_RQ_PREDICTION,
    GW_RQ_VERBOSITY,
    GW_RQ_MOCK, /* the bundled mock provider's controls (tools/mock) */
    GW_RQ_COUNT
};

/* Each member's name in the request ("max_tokens"), for params and copies. */
extern const char *const gw_oreq_keys[GW_RQ_COUNT];

/*
 * Starts a build_request: clears *out and *err and reads the members of the
 * request body[0..len) into v (absent and null members: found false). 0, or
 * -1 with *err (400) when the body is not a JSON object.
 */
int gw_oreq_request(const char *body, size_t len, struct gw_jv v[GW_RQ_COUNT],
                    struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * Type checks: each present member v[keys[i]] (i < n) must be a number
 * (gw_oreq_numbers) or a boolean (gw_oreq_bools). 0, or -1 with *err (400
 * naming the first that is not).
 */
int gw_oreq_numbers(const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n,
                    struct gw_xlate_err *err);
int gw_oreq_bools(const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n,
                  struct gw_xlate_err *err);

/*
 * gw_oreq_request for a chat completion: also messages must be an array and
 * stream, when sent, a boolean. 0, or -1 with *err (400).
 */
int gw_oreq_chat(const char *body, size_t len, struct gw_jv v[GW_RQ_COUNT],
                 struct gw_xlate_req *out, struct gw_xlate_err *err);

/* Writes each present member v[keys[i]] (i < n) under its own name, as it was sent. */
void gw_oreq_copy(struct gw_jw *w, const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n);

/* ---- the upstream body ---- */

/*
 * Starts an upstream body that names the model, for x's len-byte request:
 * sets up *b (the model name as xbound's fixed part), takes its first buffer
 * (`want` bytes, 0: twice the request and room for keys, plus room for the
 * model name), points *w at it and writes "{" and "model": x->upstream_model,
 * else the client's model string (model, as the request carries it). 0, or
 * -1 with *err: 400 "model is required", or gw_xbound_buf's refusal.
 */
int gw_oreq_body_begin(struct gw_jw *w, struct gw_xbound *b, const struct gw_xlate *x, size_t len,
                       size_t want, const struct gw_jv *model, struct gw_xlate_err *err);

/*
 * Closes the body begun in *w and hands it back in out->body. 0, or -1 with
 * *err when it did not fit (gw_xbound_overflow: 400 at the limit, else 500).
 */
int gw_oreq_body_end(struct gw_jw *w, const struct gw_xbound *b, struct gw_xlate_req *out,
                     struct gw_xlate_err *err);

/*
 * The model a dialect names in the request path: x->upstream_model when set,
 * else the client's "model" string decoded (arena), into *name and *len. 0,
 * or -1 with *err: 400 "model is required" when neither is a non-empty
 * string, 500 when the arena is exhausted.
 */
int gw_oreq_model_name(const struct gw_xlate *x, const struct gw_jv *model, const char **name,
                       size_t *len, struct gw_xlate_err *err);

/*
 * out->headers: "<name>: <scheme><key>\r\n" when the provider has an API key
 * (scheme "Bearer " or ""), else none. 0, or -1 with *err (500) when the
 * arena is exhausted.
 */
int gw_oreq_key_header(const struct gw_xlate *x, const char *name, const char *scheme,
                       struct gw_xlate_req *out, struct gw_xlate_err *err);

/*
 * The bundled mock provider's per-request controls (tools/mock): an object
 * "mock" travels as it came; every other field a dialect does not know is
 * dropped.
 */
void gw_oreq_mock(struct gw_jw *w, const struct gw_jv *mock);

/* ---- scalar fields ---- */

/*
 * The output limit: max_completion_tokens, else the older max_tokens, into
 * *out (absent when neither). 0, or -1 with *err (400 naming the field) when
 * it is not a positive integer.
 */
int gw_oreq_max_tokens(const struct gw_jv *max_tokens, const struct gw_jv *max_completion_tokens,
                       const struct gw_jv **out, struct gw_xlate_err *err);

/*
 * Members a dialect has no way to honour: a 400 naming the first of
 * v[keys[i]] (i < n) that is present, "<member> is not supported by this
 * provider"; else 0.
 */
int gw_oreq_refuse(const struct gw_jv *v, const enum gw_oreq_key *keys, size_t n,
                   struct gw_xlate_err *err);

/* n, for a dialect that returns one choice: 0 when absent or 1, else -1 with *err (400). */
int gw_oreq_one_choice(const struct gw_jv *n, struct gw_xlate_err *err);

/*
 * For a dialect that answers with text alone: logit_bias must be absent or
 * {}, audio absent, modalities absent or only "text". 0, or -1 with *err
 * (400 naming the member). v: gw_oreq_request's table.
 */
int gw_oreq_text_only(const struct gw_jv *v, struct gw_xlate_err *err);

/*
 * stop (present): a string or an array of strings, at most `max` of them (0:
 * any number). Returns how many sequences it holds (a string is one), or -1
 * with *err (400, param "stop").
 */
long gw_oreq_stop(const struct gw_jv *stop, size_t max, struct gw_xlate_err *err);

/* The stop that gw_oreq_stop accepted, as an array of strings (copied as sent). */
void gw_oreq_stop_write(struct gw_jw *w, const struct gw_jv *stop);

/* ---- messages ---- */

/* A message's role; developer is OpenAI's newer name for system. */
enum gw_oreq_role {
    GW_OREQ_ROLE_SYSTEM = 0, /* system or developer */
    GW_OREQ_ROLE_USER,
    GW_OREQ_ROLE_ASSISTANT,
    GW_OREQ_ROLE_TOOL,
    GW_OREQ_ROLE_COUNT
};

/* One message: its role and the members translators read (absent when not sent). */
struct gw_oreq_msg {
    size_t index; /* its place in messages */
    enum gw_oreq_role role;
    struct gw_jv content;
    struct gw_jv tool_calls;   /* assistant */
    struct gw_jv tool_call_id; /* tool: a string */
};

/* An iterator over messages. Fields are private. */
struct gw_oreq_msgs {
    struct gw_jv_it _it;
    struct gw_xlate_err *_err;
    size_t _next;
};

/* Starts reading messages. 0, or -1 with *err (400) when it is not an array. */
int gw_oreq_msgs_begin(struct gw_oreq_msgs *it, const struct gw_jv *msgs, struct gw_xlate_err *err);

/*
 * The next message into *m: 1, 0 at the end, or -1 with *err (400: not an
 * object, a role other than system, developer, user, assistant or tool, a
 * tool message without a string tool_call_id).
 */
int gw_oreq_msgs_next(struct gw_oreq_msgs *it, struct gw_oreq_msg *m);

/*
 * An iterator over the text of the system and developer messages, in order,
 * wherever they stand: a dialect that takes them apart from the
 * conversation. Fields are private.
 */
struct gw_oreq_system {
    struct gw_oreq_msgs _msgs;
    struct gw_jv_it _parts;
    bool _in_parts; /* _parts iterates the current message's content */
};

/* Starts reading the system text of messages. 0, or -1 (400: not an array). */
int gw_oreq_system_begin(struct gw_oreq_system *it, const struct gw_jv *msgs,
                         struct gw_xlate_err *err);

/*
 * The next non-empty text (a string content, or a text part's text) into
 * *text, a string: 1, 0 at the end, or -1 with *err (400: a message
 * gw_oreq_msgs_next refuses, system content that is not text or text parts).
 */
int gw_oreq_system_next(struct gw_oreq_system *it, struct gw_jv *text);

/* What a content part is, by its "type". */
enum gw_oreq_part_kind {
    GW_OREQ_PART_TEXT = 0,
    GW_OREQ_PART_IMAGE_URL,
    GW_OREQ_PART_INPUT_AUDIO,
    GW_OREQ_PART_FILE,
    GW_OREQ_PART_REFUSAL,
    GW_OREQ_PART_OTHER, /* a type no dialect takes */
    GW_OREQ_PART_COUNT
};

/* One content part. */
struct gw_oreq_part {
    enum gw_oreq_part_kind kind;
    struct gw_jv part; /* the part object (absent for a string content) */
    struct gw_jv text; /* GW_OREQ_PART_TEXT: the text, a string (may be empty) */
};

/* An iterator over a message's content. Fields are private. */
struct gw_oreq_parts {
    struct gw_jv_it _it;
    struct gw_jv _one; /* a string content, until it is handed out */
    bool _arr;
    struct gw_xlate_err *_err;
};

/*
 * Starts reading content: a string (one text part) or an array of parts. 0,
 * or -1 with *err (400) for anything else, absent included: a dialect that
 * lets a message go without content checks before.
 */
int gw_oreq_parts_begin(struct gw_oreq_parts *it, const struct gw_jv *content,
                        struct gw_xlate_err *err);

/*
 * The next part into *p: 1, 0 at the end, or -1 with *err (400: a part that
 * is not an object, a text part without a string text).
 */
int gw_oreq_parts_next(struct gw_oreq_parts *it, struct gw_oreq_part *p);

/*
 * A text part {"type":"text","text":<text>} with text (a string) copied as
 * sent: OpenAI's shape, which Anthropic and Cohere take too.
 */
void gw_oreq_text_part(struct gw_jw *w, const struct gw_jv *text);

/*
 * Consecutive blocks of one kind as one upstream message
 * {"role":<role>,"<key>":[...]}, the shape Anthropic and Converse
 * ("content") and Gemini ("parts") share, for APIs that want the roles to
 * alternate (parallel tool results in one message). *open is the kind whose
 * message is open, 0 for none. gw_oreq_turn opens a message for kind (> 0)
 * unless one is open (true when it opened one); gw_oreq_turn_close closes
 * the open one, if any.
 */
bool gw_oreq_turn(struct gw_jw *w, int *open, int kind, const char *role, const char *key);
void gw_oreq_turn_close(struct gw_jw *w, int *open);

/*
 * True when s[0..n) is the text of a JSON object, white space around it
 * allowed; *at (may be NULL): where the object starts.
 */
bool gw_oreq_object_text(const char *s, size_t n, size_t *at);

/* ---- an assistant message's tool_calls ---- */

/* One tool call, checked. */
struct gw_oreq_call {
    size_t index;           /* its place in tool_calls */
    struct gw_jv id;        /* a string */
    struct gw_jv name;      /* a string that passed gw_xbound_name */
    struct gw_jv arguments; /* function.arguments: a string, or absent */
    /* With object_args: the arguments decoded, the text of a JSON object (as
     * sent, white space included), or "{}" when absent or blank (arena). */
    struct gw_span args;
};

/* An iterator over tool_calls. Fields are private. */
struct gw_oreq_calls {
    struct gw_jv_it _it;
    struct gw_arena *_a;
    struct gw_xlate_err *_err;
    const char *_extra; /* name characters beyond OpenAI's (gw_xbound_name) */
    size_t _msg;        /* the message's index in messages, for the param */
    size_t _next;
    bool _object_args;
};

/*
 * Starts reading calls, the tool_calls of messages[msg]. name_extra: what
 * gw_xbound_name accepts on top (NULL: none). object_args: the arguments must
 * be a JSON object's text, decoded into the arena (a dialect that sends them
 * as an object); else they are only checked to be a string. 0, or -1 with
 * *err (400) when calls is not an array.
 */
int gw_oreq_calls_begin(struct gw_oreq_calls *it, const struct gw_jv *calls, size_t msg,
                        const char *name_extra, bool object_args, struct gw_arena *a,
                        struct gw_xlate_err *err);

/*
 * The next call into *c: 1, 0 at the end, or -1 with *err (400: an entry
 * that is not an object, a type other than "function", no id or
 * function.name, a name gw_xbound_name refuses, arguments that are not a
 * string or, with object_args, not a JSON object; 500: the arena is
 * exhausted).
 */
int gw_oreq_calls_next(struct gw_oreq_calls *it, struct gw_oreq_call *c);

/* A tool call of the history, as a later tool message refers to it. */
struct gw_oreq_ref {
    struct gw_span id;   /* the id's raw (escaped) text inside the quotes */
    struct gw_span name; /* the name's string token, quotes included */
};

/*
 * The tool calls a conversation's history made, in order, for a dialect that
 * looks back over them (a tool result's name, the tools the history uses).
 * Zero-initialise; n = 0 starts over (another render) and keeps the arena
 * array.
 */
struct gw_oreq_history {
    struct gw_oreq_ref *calls; /* arena */
    size_t n, cap;
};

/*
 * Adds call c. 0, or -1 with *err: 400 past GW_XBOUND_TOOL_CALLS_MAX calls
 * (looking back grows with calls x results), 500 when the arena is
 * exhausted.
 */
int gw_oreq_history_add(struct gw_oreq_history *h, struct gw_arena *a, const struct gw_oreq_call *c,
                        struct gw_xlate_err *err);

/* The latest call with id (the raw text of a tool_call_id string), or NULL. */
const struct gw_oreq_ref *gw_oreq_history_find(const struct gw_oreq_history *h, struct gw_span id);

/* True when no call before calls[i] has calls[i]'s name: each name once, in order. */
bool gw_oreq_history_first_name(const struct gw_oreq_history *h, size_t i);

/*
 * A tool call's members as the upstream APIs spell them: id_key (NULL: none)
 * with its id, "name", and args_key with the arguments object (the calls
 * were read with object_args).
 */
void gw_oreq_call_members(struct gw_jw *w, const struct gw_oreq_call *c, const char *id_key,
                          const char *args_key);

/* ---- a conversation, turn by turn ---- */

/*
 * What a dialect that translates the conversation turn by turn (Anthropic,
 * Converse, Gemini) writes for each piece of it. gw_oreq_walk reads the
 * messages in order, skips system and developer ones (gw_oreq_system reads
 * those) and calls, for each other message:
 *   message  (may be NULL) first;
 *   part     for each part of a user message's content, and of an assistant
 *            message's when it has content: text that is not empty, or a
 *            kind in take[role] (a bit per enum gw_oreq_part_kind); refusal
 *            parts are dropped (they carry nothing the model needs); a kind
 *            another role takes is refused with `elsewhere`, any other with
 *            "content part type not supported by this provider";
 *   call     for each tool call of an assistant message (read as
 *            gw_oreq_calls_begin reads them, with name_extra and
 *            object_args);
 *   result   for a tool message, with the walk (gw_oreq_walk_parts for the
 *            result's parts).
 * Each callback returns 0, or -1 with the error filled to stop the walk.
 */
struct gw_oreq_walk {
    int (*message)(void *arg, const struct gw_oreq_msg *m);
    int (*part)(void *arg, enum gw_oreq_role role, const struct gw_oreq_part *p);
    int (*call)(void *arg, const struct gw_oreq_call *c);
    int (*result)(void *arg, const struct gw_oreq_msg *m, const struct gw_oreq_walk *w);
    unsigned take[GW_OREQ_ROLE_COUNT];
    const char *elsewhere;
    const char *name_extra;
    bool object_args;
};

/* The part bit of kind k, for gw_oreq_walk's take. */
#define GW_OREQ_PART_BIT(k) (1u << (k))

/*
 * take and elsewhere for APIs that read images in user and tool messages
 * (a tool result may show one) and text everywhere: Anthropic, Converse.
 */
#define GW_OREQ_WALK_IMAGES_USER_TOOL                                                              \
    .take = {[GW_OREQ_ROLE_USER] = GW_OREQ_PART_BIT(GW_OREQ_PART_IMAGE_URL),                       \
             [GW_OREQ_ROLE_TOOL] = GW_OREQ_PART_BIT(GW_OREQ_PART_IMAGE_URL)},                      \
    .elsewhere = "image parts are only accepted in user and tool messages"

/* Walks messages (see struct gw_oreq_walk). 0, or -1 with *err (400, 500). */
int gw_oreq_walk(const struct gw_jv *msgs, const struct gw_oreq_walk *w, void *arg,
                 struct gw_arena *a, struct gw_xlate_err *err);

/*
 * w->part over content (a string or parts) as the content of a message of
 * `role` (take[role]): for content a dialect nests, a tool result's parts.
 * 0, or -1 with *err.
 */
int gw_oreq_walk_parts(const struct gw_oreq_walk *w, enum gw_oreq_role role,
                       const struct gw_jv *content, void *arg, struct gw_xlate_err *err);

/* ---- tools and tool_choice ---- */

/* An empty JSON Schema for a function that declares no parameters. */
#define GW_OREQ_EMPTY_SCHEMA "{\"type\":\"object\",\"properties\":{}}"

/* One function tool, checked. */
struct gw_oreq_tool {
    size_t index;             /* its place in tools */
    struct gw_jv name;        /* a string that passed gw_xbound_name */
    struct gw_jv description; /* as sent (any type: a dialect that needs a string checks) */
    struct gw_jv parameters;  /* an object, or absent */
    struct gw_jv strict;      /* as sent */
};

/* An iterator over tools. Fields are private. */
struct gw_oreq_tools {
    struct gw_jv_it _it;
    struct gw_arena *_a;
    struct gw_xlate_err *_err;
    const char *_extra;
    size_t _next;
};

/* Starts reading tools (see gw_oreq_calls_begin for name_extra). 0, or -1 (400: not an array). */
int gw_oreq_tools_begin(struct gw_oreq_tools *it, const struct gw_jv *tools, const char *name_extra,
                        struct gw_arena *a, struct gw_xlate_err *err);

/*
 * The next tool into *t: 1, 0 at the end, or -1 with *err (400, param
 * "tools" or the name's: an entry that is not an object, a type other than
 * "function", no function.name, parameters that are not an object, a name
 * gw_xbound_name refuses).
 */
int gw_oreq_tools_next(struct gw_oreq_tools *it, struct gw_oreq_tool *t);

/* The tool's "name" and, when it is a string, "description", as sent. */
void gw_oreq_tool_head(struct gw_jw *w, const struct gw_oreq_tool *t);

/* The tool's parameters, or GW_OREQ_EMPTY_SCHEMA when it declares none. */
void gw_oreq_tool_params(struct gw_jw *w, const struct gw_oreq_tool *t);

/* What tool_choice asks for. */
enum gw_oreq_tc {
    GW_OREQ_TC_ABSENT = 0, /* not sent: the dialect's default */
    GW_OREQ_TC_AUTO,
    GW_OREQ_TC_REQUIRED,
    GW_OREQ_TC_NONE,
    GW_OREQ_TC_FUNCTION, /* one named function */
    GW_OREQ_TC_COUNT
};

struct gw_oreq_choice {
    enum gw_oreq_tc mode;
    struct gw_jv name; /* GW_OREQ_TC_FUNCTION: the name, a string that passed gw_xbound_name */
};

/*
 * Reads tool_choice: "auto", "required", "none" or
 * {"type":"function","function":{"name":..}}. 0, or -1 with *err (400,
 * param "tool_choice" or the name's; "allowed_tools" is refused by name).
 */
int gw_oreq_tool_choice(const struct gw_jv *tc, const char *name_extra, struct gw_arena *a,
                        struct gw_xlate_err *err, struct gw_oreq_choice *out);

/* ---- image URLs ---- */

enum gw_oreq_url_kind {
    GW_OREQ_URL_OTHER = 0, /* neither: the dialect says what it takes */
    GW_OREQ_URL_HTTP,      /* http:// or https:// */
    GW_OREQ_URL_DATA,      /* data:<media type>;base64,<data> */
    GW_OREQ_URL_DATA_BAD,  /* a data: URL of another shape */
    GW_OREQ_URL_COUNT
};

/* A URL, classified. Spans point into the text parsed. */
struct gw_oreq_url {
    enum gw_oreq_url_kind kind;
    struct gw_span url;   /* the whole URL */
    struct gw_span media; /* GW_OREQ_URL_DATA: the media type, not empty */
    struct gw_span data;  /* GW_OREQ_URL_DATA: the base64 payload (may be empty) */
};

/*
 * Classifies the decoded URL text u (RFC 2397 data: URLs, base64 only;
 * schemes and ";base64," without regard to case).
 */
void gw_oreq_url_parse(struct gw_span u, struct gw_oreq_url *out);

/*
 * An image_url content part's image_url: a string, or an object with "url"
 * (and "detail"), into *url and *detail (absent when not sent). 0, or -1
 * with *err (400) when there is no string url.
 */
int gw_oreq_image_url_member(const struct gw_jv *part, struct gw_jv *url, struct gw_jv *detail,
                             struct gw_xlate_err *err);

/*
 * An image_url part's URL decoded into arena a and classified into *out. 0
 * (kind HTTP, DATA or OTHER), or -1 with *err: 400 for no url or a data: URL
 * that is not data:<media type>;base64,<data>, 500 when a is exhausted.
 */
int gw_oreq_image_url(const struct gw_jv *part, struct gw_arena *a, struct gw_xlate_err *err,
                      struct gw_oreq_url *out);

#endif
