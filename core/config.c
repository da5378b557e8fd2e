/*
 * core/config.c — the YAML loader (control thread only).
 *
 * libyaml's document API gives us the whole tree with a start mark on every
 * node, which is what the error messages need ("FILE:LINE: key: ..."). The
 * tree is then walked section by section against fixed field tables: a key
 * that is not in the table is refused, so a typo never silently falls back to
 * a default. Sections are processed in a fixed order (server, providers,
 * models, keys) whatever their order in the file, because models refer to
 * providers.
 *
 * Everything the snapshot points at is copied into its arena; the libyaml
 * document is freed before the load returns. The struct gw_config itself is
 * calloc'd rather than placed in its own arena: gw_arena_destroy walks chunk
 * headers after freeing earlier chunks, so the arena must not live inside
 * memory it frees.
 *
 * A YAML null (an empty value, `~` or `null`, unquoted) counts as "not set":
 * the default applies, and a required field is reported missing. For the
 * sections it means an empty section.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/config.h"

#define CFG_ARENA_CHUNK 16384
#define CFG_MAX_FILE_BYTES (16u << 20) /* a config file larger than this is a mistake */
#define CFG_MAX_FIELDS 32              /* fields in one table; checked by GW_BUG_ON */
#define CFG_MAX_VAR_NAME 128
#define CFG_PATH_MAX 160      /* "providers[12].pool.idle_timeout", unknown keys cut to 64 */
#define CFG_INDEX_PATH_MAX 40 /* "providers[<20 digits>]" */
#define CFG_DEFAULT_LISTEN "127.0.0.1:8000"
#define CFG_DEFAULT_ADMIN_LISTEN "127.0.0.1:8001"
#define CFG_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define CFG_MAX_WORKERS 1024

/* Set once at boot (gw_config_set_hooks) and read by every load on the control thread. */
static struct gw_config_hooks config_hooks;

void gw_config_set_hooks(const struct gw_config_hooks *hooks)
{
    if (hooks)
        config_hooks = *hooks;
    else
        memset(&config_hooks, 0, sizeof(config_hooks));
}

const char *gw_provider_type_str(enum gw_provider_type t)
{
    static const char *const names[GW_PT_COUNT] = {"openai", "azure", "anthropic",
                                                       "gemini", "bedrock", "cohere"};
    return (unsigned)t < GW_PT_COUNT ? names[t] : "unknown";
}

/*
 * Every name `type:` accepts: a dialect, or a preset of the openai dialect
 * with the provider's documented base URL (what its official SDK or docs use
 * with an OpenAI client). base_url NULL: the file must give one (Azure's is
 * per resource). stream_usage: whether the API takes stream_options.
 */
static const struct ptype {
    const char *name;
    enum gw_provider_type type;
    const char *base_url;
    bool stream_usage;
} ptypes[] = {
    {"openai", GW_PT_OPENAI, "https://api.openai.com/v1", true},
    {"azure", GW_PT_AZURE, NULL, true},
    {"anthropic", GW_PT_ANTHROPIC, "https://api.anthropic.com", false},
    {"gemini", GW_PT_GEMINI, "https://generativelanguage.googleapis.com", false},
    /* Bedrock's endpoint is per region: https://bedrock-runtime.{region}.amazonaws.com */
    {"bedrock", GW_PT_BEDROCK, NULL, false},
    {"cohere", GW_PT_COHERE, "https://api.cohere.com", false},
    /* Mistral rejects unknown fields (422) and puts usage in its last chunk anyway. */
    {"mistral", GW_PT_OPENAI, "https://api.mistral.ai/v1", false},
    {"groq", GW_PT_OPENAI, "https://api.groq.com/openai/v1", true},
    {"deepseek", GW_PT_OPENAI, "https://api.deepseek.com/v1", true},
    {"together", GW_PT_OPENAI, "https://api.together.xyz/v1", true},
    {"fireworks", GW_PT_OPENAI, "https://api.fireworks.ai/inference/v1", true},
    {"openrouter", GW_PT_OPENAI, "https://openrouter.ai/api/v1", true},
    /* Perplexity documents no stream_options; its last chunk carries usage. */
    {"perplexity", GW_PT_OPENAI, "https://api.perplexity.ai", false},
    {"xai", GW_PT_OPENAI, "https://api.x.ai/v1", true},
    {"ollama", GW_PT_OPENAI, "http://localhost:11434/v1", true},
    {"vllm", GW_PT_OPENAI, "http://localhost:8000/v1", true},
};

/* ---- durations and sizes ---- */

/* Leading decimal digits of *s into *v; advances *s. -1 when none or on overflow. */
static int parse_digits(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t acc = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return -1;
        acc = acc * 10 + d;
    }
    *s = p;
    *v = acc;
    return 0;
}

int gw_parse_duration_ms(const char *s, uint32_t *out_ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    uint64_t v;
    if (!s || parse_digits(&s, &v) < 0)
        return -1;
    for (size_t i = 0; i < GW_ARRAY_SIZE(units); i++) {
        if (strcmp(s, units[i].unit) != 0)
            continue;
        if (v > UINT32_MAX / units[i].ms)
            return -1;
        *out_ms = (uint32_t)(v * units[i].ms);
        return 0;
    }
    return -1;
}

int gw_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1ull << 10},
        {"MiB", 1ull << 20},
        {"GiB", 1ull << 30},
        {"TiB", 1ull << 40},
        {"KB", 1000ull},
        {"MB", 1000ull * 1000},
        {"GB", 1000ull * 1000 * 1000},
        {"TB", 1000ull * 1000 * 1000 * 1000},
    };
    uint64_t v;
    if (!s || parse_digits(&s, &v) < 0)
        return -1;
    for (size_t i = 0; i < GW_ARRAY_SIZE(units); i++) {
        if (strcmp(s, units[i].unit) != 0)
            continue;
        if (v > UINT64_MAX / units[i].mult)
            return -1;
        *out = v * units[i].mult;
        return 0;
    }
    return -1;
}

/* ---- the loader's state and error reporting ---- */

struct loader {
    const char *name;             /* borrows: the file name for messages */
    yaml_document_t *doc;         /* borrows: the parsed tree */
    struct gw_config *cfg;        /* the snapshot being built */
    struct gw_config_error *err;  /* where the first error goes */
    const yaml_node_t *providers; /* the providers list, for hook errors; NULL if none */
};

static unsigned long node_line(const yaml_node_t *n)
{
    return n ? (unsigned long)n->start_mark.line + 1 : 0;
}

static void verr(struct gw_config_error *err, const char *file, unsigned long line, const char *key,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void verr(struct gw_config_error *err, const char *file, unsigned long line, const char *key,
                 const char *fmt, va_list ap)
{
    size_t cap = sizeof(err->message);
    int n;
    if (line && key)
        n = snprintf(err->message, cap, "%s:%lu: %s: ", file, line, key);
    else if (line)
        n = snprintf(err->message, cap, "%s:%lu: ", file, line);
    else if (key)
        n = snprintf(err->message, cap, "%s: %s: ", file, key);
    else
        n = snprintf(err->message, cap, "%s: ", file);
    if (n < 0 || (size_t)n >= cap)
        return;
    vsnprintf(err->message + n, cap - (size_t)n, fmt, ap);
}

static int fail(struct loader *ld, unsigned long line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the load's error and returns -1; every caller then unwinds without another. */
static int fail(struct loader *ld, unsigned long line, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(ld->err, ld->name, line, key, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_oom(struct loader *ld)
{
    return fail(ld, 0, NULL, "out of memory");
}

/*
 * Copies at most 64 bytes of s into dst for a message, with anything that is
 * not printable ASCII shown as '?': keys and values come from the file or the
 * environment and must not put control bytes into a log line.
 */
static const char *shown(char *dst, size_t cap, const char *s, size_t n)
{
    size_t max = GW_MIN(n, GW_MIN(cap - 1, (size_t)64));
    for (size_t i = 0; i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[max] = '\0';
    return dst;
}

static void key_path(char *dst, size_t cap, const char *path, const char *key, size_t klen)
{
    char clean[72];
    shown(clean, sizeof(clean), key, klen);
    if (path[0])
        snprintf(dst, cap, "%s.%s", path, clean);
    else
        snprintf(dst, cap, "%s", clean);
}

static yaml_node_t *doc_node(struct loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

/* An unquoted empty value, `~` or `null`: YAML's null, which means "not set" here. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || (len == 1 && v[0] == '~') ||
           (len == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a single value";
    }
}

/* ---- ${VAR} interpolation ---- */

static bool is_var_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

/*
 * Expands a scalar's text: "${NAME}" is the environment variable NAME, an error
 * when it is unset; "${NAME:-text}" is NAME when set and not empty, else text
 * taken literally up to the first '}' (shell semantics); "$$" is one '$'; a
 * '$' followed by anything else stays as it is. Writes into dst when it is
 * non-NULL (then it must hold *outlen bytes from an earlier sizing call) and
 * stores the expanded length in *outlen. Returns 0, or -1 with the error.
 */
static int expand(struct loader *ld, const char *s, size_t n, unsigned long line, const char *key,
                  char *dst, size_t *outlen)
{
    size_t o = 0;
    size_t i = 0;
    while (i < n) {
        if (s[i] != '$' || i + 1 == n || (s[i + 1] != '$' && s[i + 1] != '{')) {
            if (dst)
                dst[o] = s[i];
            o++;
            i++;
            continue;
        }
        if (s[i + 1] == '$') {
            if (dst)
                dst[o] = '$';
            o++;
            i += 2;
            continue;
        }
        size_t name_start = i + 2;
        size_t j = name_start;
        while (j < n && is_var_char(s[j], j == name_start))
            j++;
        size_t name_len = j - name_start;
        const char *def = NULL;
        size_t def_len = 0;
        size_t end;
        if (name_len > 0 && j < n && s[j] == '}') {
            end = j + 1;
        } else if (name_len > 0 && j + 1 < n && s[j] == ':' && s[j + 1] == '-') {
            const char *close = memchr(s + j + 2, '}', n - (j + 2));
            if (!close)
                return fail(ld, line, key, "unterminated ${ in value");
            def = s + j + 2;
            def_len = (size_t)(close - def);
            end = (size_t)(close - s) + 1;
        } else {
            char bad[72];
            return fail(ld, line, key,
                        "bad variable reference \"%s\" (use ${NAME} or ${NAME:-default})",
                        shown(bad, sizeof(bad), s + i, n - i));
        }
        if (name_len >= CFG_MAX_VAR_NAME)
            return fail(ld, line, key, "environment variable name too long");
        char name[CFG_MAX_VAR_NAME];
        memcpy(name, s + name_start, name_len);
        name[name_len] = '\0';
        const char *val = getenv(name);
        size_t val_len;
        if (def && (!val || !*val)) {
            val = def;
            val_len = def_len;
        } else if (!val) {
            return fail(ld, line, key, "environment variable %s is not set", name);
        } else {
            val_len = strlen(val);
        }
        if (dst && val_len)
            memcpy(dst + o, val, val_len);
        o += val_len;
        i = end;
    }
    *outlen = o;
    return 0;
}

/* The interpolated text of a scalar node, in the arena. */
static int scalar_str(struct loader *ld, const yaml_node_t *v, const char *key, const char **out)
{
    unsigned long line = node_line(v);
    if (v->type != YAML_SCALAR_NODE)
        return fail(ld, line, key, "must be a single value, not %s", node_kind(v));
    const char *s = (const char *)v->data.scalar.value;
    size_t n = v->data.scalar.length;
    if (memchr(s, '\0', n))
        return fail(ld, line, key, "must not contain a NUL byte");
    size_t len;
    if (expand(ld, s, n, line, key, NULL, &len) < 0)
        return -1;
    char *dst = gw_arena_alloc(&ld->cfg->arena, len + 1);
    if (!dst)
        return fail_oom(ld);
    if (expand(ld, s, n, line, key, dst, &len) < 0)
        return -1;
    dst[len] = '\0';
    *out = dst;
    return 0;
}

/* ---- field tables ---- */

enum field_kind {
    FK_STR = 0, /* const char *, interpolated */
    FK_BOOL,    /* bool */
    FK_U32,     /* uint32_t, a decimal integer in [min, max] */
    FK_MS,      /* uint32_t milliseconds from a duration, in [min, max] */
    FK_SIZE32,  /* uint32_t bytes from a size, in [min, max] */
    FK_SIZE64,  /* uint64_t bytes from a size, in [min, max] */
    FK_PTYPE,   /* enum gw_provider_type from its name */
    FK_PRICE,   /* double, USD per 1M tokens: a finite number from 0 to 1e6 */
    FK_NODE,    /* const yaml_node_t *, kept for the caller to walk */
    FK_MAP,     /* a nested mapping whose fields (sub) write into the same struct */
    FK_COUNT
};

struct field {
    const char *key;
    enum field_kind kind;
    size_t off; /* into the struct the table fills */
    uint64_t min, max;
    const struct field *sub; /* FK_MAP */
    size_t nsub;
};

#define FIELD(k, kind, type, member, lo, hi)                                                       \
    {                                                                                              \
        (k), (kind), offsetof(type, member), (lo), (hi), NULL, 0                                   \
    }

enum { SF_LISTEN = 0 };
static const struct field server_fields[] = {
    [SF_LISTEN] = FIELD("listen", FK_STR, struct gw_server_config, listen, 0, 0),
    FIELD("workers", FK_U32, struct gw_server_config, workers, 0, CFG_MAX_WORKERS),
    FIELD("drain_timeout", FK_MS, struct gw_server_config, drain_timeout_ms, 0, UINT32_MAX),
    FIELD("max_header_bytes", FK_SIZE32, struct gw_server_config, max_header_bytes, 1024,
          16u << 20),
    FIELD("max_headers", FK_U32, struct gw_server_config, max_headers, 1, 10000),
    FIELD("max_body_bytes", FK_SIZE64, struct gw_server_config, max_body_bytes, 1, UINT64_MAX),
    FIELD("header_timeout", FK_MS, struct gw_server_config, header_timeout_ms, 1, UINT32_MAX),
    FIELD("body_timeout", FK_MS, struct gw_server_config, body_timeout_ms, 1, UINT32_MAX),
    FIELD("idle_timeout", FK_MS, struct gw_server_config, idle_timeout_ms, 1, UINT32_MAX),
    FIELD("max_sse_event_bytes", FK_SIZE32, struct gw_server_config, max_sse_event_bytes, 1024,
          1u << 30),
    FIELD("access_log", FK_BOOL, struct gw_server_config, access_log, 0, 0),
    FIELD("metrics_require_key", FK_BOOL, struct gw_server_config, metrics_require_key, 0, 0),
};

static const struct field pool_fields[] = {
    FIELD("max_idle", FK_U32, struct gw_provider, pool_max_idle, 0, 1000000),
    FIELD("idle_timeout", FK_MS, struct gw_provider, pool_idle_timeout_ms, 1, UINT32_MAX),
    FIELD("max_conns", FK_U32, struct gw_provider, pool_max_conns, 1, 1000000),
    FIELD("max_requests", FK_U32, struct gw_provider, pool_max_requests, 1, UINT32_MAX),
};

enum {
    PF_NAME = 0,
    PF_TYPE,
    PF_BASE_URL,
    PF_API_KEY,
    PF_CA_FILE,
    PF_ORG,
    PF_PROJECT,
    PF_API_VERSION,
    PF_DEPLOYMENT,
    PF_ANTHROPIC_VERSION,
    PF_AWS_KEY_ID,
    PF_AWS_SECRET,
    PF_AWS_TOKEN,
    PF_REGION
};
static const struct field provider_fields[] = {
    [PF_NAME] = FIELD("name", FK_STR, struct gw_provider, name, 0, 0),
    [PF_TYPE] = FIELD("type", FK_PTYPE, struct gw_provider, type_name, 0, 0),
    [PF_BASE_URL] = FIELD("base_url", FK_STR, struct gw_provider, base_url, 0, 0),
    [PF_API_KEY] = FIELD("api_key", FK_STR, struct gw_provider, api_key, 0, 0),
    [PF_CA_FILE] = FIELD("tls_ca_file", FK_STR, struct gw_provider, tls_ca_file, 0, 0),
    [PF_ORG] = FIELD("organization", FK_STR, struct gw_provider, organization, 0, 0),
    [PF_PROJECT] = FIELD("project", FK_STR, struct gw_provider, project, 0, 0),
    [PF_API_VERSION] = FIELD("api_version", FK_STR, struct gw_provider, api_version, 0, 0),
    [PF_DEPLOYMENT] = FIELD("deployment", FK_STR, struct gw_provider, deployment, 0, 0),
    [PF_ANTHROPIC_VERSION] = FIELD("anthropic_version", FK_STR, struct gw_provider,
                                   anthropic_version, 0, 0),
    [PF_AWS_KEY_ID] = FIELD("aws_access_key_id", FK_STR, struct gw_provider, aws_access_key_id,
                            0, 0),
    [PF_AWS_SECRET] = FIELD("aws_secret_access_key", FK_STR, struct gw_provider,
                            aws_secret_access_key, 0, 0),
    [PF_AWS_TOKEN] = FIELD("aws_session_token", FK_STR, struct gw_provider, aws_session_token,
                           0, 0),
    [PF_REGION] = FIELD("region", FK_STR, struct gw_provider, region, 0, 0),
    FIELD("connect_timeout", FK_MS, struct gw_provider, connect_timeout_ms, 1, UINT32_MAX),
    FIELD("tls_handshake_timeout", FK_MS, struct gw_provider, handshake_timeout_ms, 1, UINT32_MAX),
    FIELD("send_timeout", FK_MS, struct gw_provider, send_timeout_ms, 1, UINT32_MAX),
    FIELD("first_byte_timeout", FK_MS, struct gw_provider, first_byte_timeout_ms, 1, UINT32_MAX),
    FIELD("read_timeout", FK_MS, struct gw_provider, read_timeout_ms, 1, UINT32_MAX),
    {"pool", FK_MAP, 0, 0, 0, pool_fields, GW_ARRAY_SIZE(pool_fields)},
};

/* A model entry as written; the provider name is resolved to a pointer afterwards. */
struct model_raw {
    const char *name;
    const char *provider;
    const char *model;
};

enum { MF_NAME = 0, MF_PROVIDER, MF_MODEL };
static const struct field model_fields[] = {
    [MF_NAME] = FIELD("name", FK_STR, struct model_raw, name, 0, 0),
    [MF_PROVIDER] = FIELD("provider", FK_STR, struct model_raw, provider, 0, 0),
    [MF_MODEL] = FIELD("model", FK_STR, struct model_raw, model, 0, 0),
};

enum { STF_URL = 0 };
static const struct field store_fields[] = {
    [STF_URL] = FIELD("url", FK_STR, struct gw_store_config, url, 0, 0),
    FIELD("flush_interval", FK_MS, struct gw_store_config, flush_interval_ms, 1, 60000),
    FIELD("resync_interval", FK_MS, struct gw_store_config, resync_interval_ms, 100, UINT32_MAX),
    FIELD("timeout", FK_MS, struct gw_store_config, timeout_ms, 10, 600000),
    FIELD("log_dir", FK_STR, struct gw_store_config, log_dir, 0, 0),
    FIELD("log_file_bytes", FK_SIZE64, struct gw_store_config, log_file_bytes, 65536,
          1ull << 40),
    FIELD("max_budgets", FK_U32, struct gw_store_config, max_budgets, 1, 1u << 24),
    FIELD("default_max_tokens", FK_U32, struct gw_store_config, default_max_tokens, 0,
          10000000),
};

enum { AF_LISTEN = 0, AF_MASTER_KEY };
static const struct field admin_fields[] = {
    [AF_LISTEN] = FIELD("listen", FK_STR, struct gw_admin_config, listen, 0, 0),
    [AF_MASTER_KEY] = FIELD("master_key", FK_STR, struct gw_admin_config, master_key, 0, 0),
};

enum { PRF_MODEL = 0, PRF_INPUT, PRF_OUTPUT };
static const struct field price_fields[] = {
    [PRF_MODEL] = FIELD("model", FK_STR, struct gw_price_override, model, 0, 0),
    [PRF_INPUT] = FIELD("input", FK_PRICE, struct gw_price_override, input, 0, 0),
    [PRF_OUTPUT] = FIELD("output", FK_PRICE, struct gw_price_override, output, 0, 0),
    FIELD("cached_input", FK_PRICE, struct gw_price_override, cached_input, 0, 0),
    FIELD("cache_write", FK_PRICE, struct gw_price_override, cache_write, 0, 0),
    FIELD("embedding", FK_PRICE, struct gw_price_override, embedding, 0, 0),
};

enum { KF_NAME = 0, KF_KEY };
static const struct field key_fields[] = {
    [KF_NAME] = FIELD("name", FK_STR, struct gw_key, name, 0, 0),
    [KF_KEY] = FIELD("key", FK_STR, struct gw_key, secret, 0, 0),
};

/* The top level: each section's node, walked afterwards in a fixed order. */
struct top_nodes {
    const yaml_node_t *server;
    const yaml_node_t *providers;
    const yaml_node_t *models;
    const yaml_node_t *keys;
    const yaml_node_t *store;
    const yaml_node_t *admin;
    const yaml_node_t *prices;
};

static const struct field top_fields[] = {
    FIELD("server", FK_NODE, struct top_nodes, server, 0, 0),
    FIELD("providers", FK_NODE, struct top_nodes, providers, 0, 0),
    FIELD("models", FK_NODE, struct top_nodes, models, 0, 0),
    FIELD("keys", FK_NODE, struct top_nodes, keys, 0, 0),
    FIELD("store", FK_NODE, struct top_nodes, store, 0, 0),
    FIELD("admin", FK_NODE, struct top_nodes, admin, 0, 0),
    FIELD("prices", FK_NODE, struct top_nodes, prices, 0, 0),
};

static int parse_uint(const char *s, uint64_t *v)
{
    return parse_digits(&s, v) < 0 || *s ? -1 : 0;
}

static int parse_bool(const char *s, bool *v)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(yes); i++) {
        if (!strcasecmp(s, yes[i])) {
            *v = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *v = false;
            return 0;
        }
    }
    return -1;
}

static int walk_mapping(struct loader *ld, const yaml_node_t *map, const char *path,
                        const struct field *fields, size_t nfields, void *base,
                        const yaml_node_t **seen);

/* Stores one non-null value into base according to its field. */
static int set_field(struct loader *ld, const struct field *f, const yaml_node_t *v,
                     const char *key, void *base)
{
    unsigned long line = node_line(v);
    void *dst = (char *)base + f->off;
    char shown_buf[72];

    if (f->kind == FK_NODE) {
        *(const yaml_node_t **)dst = v;
        return 0;
    }
    if (f->kind == FK_MAP) {
        const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
        if (v->type != YAML_MAPPING_NODE)
            return fail(ld, line, key, "must be a mapping, not %s", node_kind(v));
        return walk_mapping(ld, v, key, f->sub, f->nsub, base, seen);
    }

    const char *s = NULL;
    if (scalar_str(ld, v, key, &s) < 0)
        return -1;
    const char *what = shown(shown_buf, sizeof(shown_buf), s, strlen(s));
    uint64_t u = 0;
    uint32_t ms = 0;
    switch (f->kind) {
    case FK_STR:
        *(const char **)dst = s;
        return 0;
    case FK_BOOL:
        if (parse_bool(s, (bool *)dst) < 0)
            return fail(ld, line, key, "must be true or false, not \"%s\"", what);
        return 0;
    case FK_U32:
        if (parse_uint(s, &u) < 0 || u < f->min || u > f->max)
            return fail(ld, line, key,
                        "must be an integer from %" PRIu64 " to %" PRIu64 ", not \"%s\"", f->min,
                        f->max, what);
        *(uint32_t *)dst = (uint32_t)u;
        return 0;
    case FK_MS:
        if (gw_parse_duration_ms(s, &ms) < 0)
            return fail(ld, line, key, "bad duration \"%s\" (use e.g. 500ms, 30s, 2m, 1h)", what);
        if (ms < f->min || ms > f->max)
            return fail(ld, line, key, "must be at least %" PRIu64 "ms", f->min);
        *(uint32_t *)dst = ms;
        return 0;
    case FK_SIZE32:
    case FK_SIZE64:
        if (gw_parse_size(s, &u) < 0)
            return fail(ld, line, key, "bad size \"%s\" (use e.g. 1000, 64KiB, 32MiB)", what);
        if (u < f->min || u > f->max)
            return fail(ld, line, key, "must be from %" PRIu64 " to %" PRIu64 " bytes", f->min,
                        f->max);
        if (f->kind == FK_SIZE32)
            *(uint32_t *)dst = (uint32_t)u;
        else
            *(uint64_t *)dst = u;
        return 0;
    case FK_PRICE: {
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (!*s || *end || errno || !(d >= 0.0 && d <= 1e6))
            return fail(ld, line, key,
                        "must be a price in USD per 1M tokens, from 0 to 1000000, not \"%s\"",
                        what);
        *(double *)dst = d;
        return 0;
    }
    case FK_PTYPE:
        for (size_t t = 0; t < GW_ARRAY_SIZE(ptypes); t++) {
            if (!strcmp(s, ptypes[t].name)) {
                *(const char **)dst = ptypes[t].name;
                return 0;
            }
        }
        return fail(ld, line, key,
                    "unknown provider type \"%s\" (known: openai, azure, anthropic, gemini, "
                    "bedrock, cohere, mistral, groq, "
                    "deepseek, together, fireworks, openrouter, perplexity, xai, ollama, vllm)",
                    what);
    default:
        GW_BUG_ON(1);
        return -1;
    }
}

/*
 * Walks one mapping against a field table: every key must be in the table and
 * appear once. seen[i] receives field i's value node (nfields entries, zeroed
 * by the caller), also when the value is null, which leaves the default.
 */
static int walk_mapping(struct loader *ld, const yaml_node_t *map, const char *path,
                        const struct field *fields, size_t nfields, void *base,
                        const yaml_node_t **seen)
{
    GW_BUG_ON(nfields > CFG_MAX_FIELDS);
    for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = doc_node(ld, p->key);
        const yaml_node_t *v = doc_node(ld, p->value);
        if (!k || !v)
            return fail(ld, node_line(map), path[0] ? path : NULL, "malformed mapping");
        if (k->type != YAML_SCALAR_NODE)
            return fail(ld, node_line(k), path[0] ? path : NULL, "keys must be plain names, not %s",
                        node_kind(k));
        const char *kname = (const char *)k->data.scalar.value;
        size_t klen = k->data.scalar.length;
        char key[CFG_PATH_MAX];
        key_path(key, sizeof(key), path, kname, klen);

        size_t i = 0;
        while (i < nfields &&
               !(strlen(fields[i].key) == klen && !memcmp(fields[i].key, kname, klen)))
            i++;
        if (i == nfields)
            return fail(ld, node_line(k), key, "unknown key");
        if (seen[i])
            return fail(ld, node_line(k), key, "duplicate key (first at line %lu)",
                        node_line(seen[i]));
        seen[i] = v;
        if (is_null(v))
            continue;
        if (set_field(ld, &fields[i], v, key, base) < 0)
            return -1;
    }
    return 0;
}

static bool present(const yaml_node_t *v)
{
    return v && !is_null(v);
}

/* A section that holds a list: null is an empty one. Returns the count, or -1. */
static int section_list(struct loader *ld, const yaml_node_t *node, const char *key, size_t *n)
{
    *n = 0;
    if (!node || is_null(node))
        return 0;
    if (node->type != YAML_SEQUENCE_NODE)
        return fail(ld, node_line(node), key, "must be a list, not %s", node_kind(node));
    *n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    return 0;
}

/* Item i of a list checked by section_list, which must be a mapping. */
static const yaml_node_t *list_item(struct loader *ld, const yaml_node_t *list, size_t i,
                                    const char *path)
{
    const yaml_node_t *item = doc_node(ld, list->data.sequence.items.start[i]);
    if (!item) {
        fail(ld, node_line(list), path, "malformed list");
        return NULL;
    }
    if (item->type != YAML_MAPPING_NODE) {
        fail(ld, node_line(item), path, "must be a mapping, not %s", node_kind(item));
        return NULL;
    }
    return item;
}

/* ---- addresses ---- */

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int copy_addrinfo(const struct addrinfo *ai, struct sockaddr_storage *ss, socklen_t *len)
{
    for (; ai; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(*ss))
            continue;
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        *len = ai->ai_addrlen;
        return 0;
    }
    return -1;
}

static int lookup(const char *host, int family, int flags, struct sockaddr_storage *ss,
                  socklen_t *len)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return rc;
    rc = copy_addrinfo(res, ss, len) < 0 ? EAI_FAMILY : 0;
    freeaddrinfo(res);
    return rc;
}

/*
 * Resolves host to one address with the given port. A numeric address never
 * leaves the process (AI_NUMERICHOST); "localhost" is looked up for IPv4 first
 * so the usual "localhost:8000" means 127.0.0.1 whatever the order in
 * /etc/hosts; any other name goes to the resolve_host hook or getaddrinfo,
 * whose first answer (RFC 6724 order) wins. bracketed: the host was written
 * as [v6] and must be a numeric IPv6 address.
 */
static int resolve(struct loader *ld, unsigned long line, const char *key, const char *host,
                   bool bracketed, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    int rc = lookup(host, bracketed ? AF_INET6 : AF_UNSPEC, AI_NUMERICHOST, ss, len);
    if (rc != 0 && bracketed)
        return fail(ld, line, key, "bad IPv6 address \"%s\"", host);
    if (rc == 0)
        goto out;
    if (!strcasecmp(host, "localhost")) {
        rc = lookup(host, AF_INET, 0, ss, len);
        if (rc != 0)
            rc = lookup(host, AF_UNSPEC, 0, ss, len);
    } else if (config_hooks.resolve_host) {
        memset(ss, 0, sizeof(*ss));
        *len = 0;
        if (config_hooks.resolve_host(host, ss, len) < 0 ||
            (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) || *len == 0 ||
            *len > sizeof(*ss))
            return fail(ld, line, key, "cannot resolve host \"%s\"", host);
        rc = 0;
    } else {
        rc = lookup(host, AF_UNSPEC, AI_ADDRCONFIG, ss, len);
    }
    if (rc != 0)
        return fail(ld, line, key, "cannot resolve host \"%s\": %s", host,
                    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
out:
    set_port(ss, port);
    return 0;
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* "host", "host:port", "[v6]" or "[v6]:port" as host, port and whether it was bracketed. */
struct hostport {
    const char *host; /* start in the input */
    size_t host_len;
    bool bracketed;
    bool has_port;
    uint32_t port;
};

/* Splits an authority. Returns NULL, or a reason for the message. */
static const char *split_hostport(const char *s, size_t n, struct hostport *hp)
{
    memset(hp, 0, sizeof(*hp));
    const char *rest;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return "missing ']' after an IPv6 address";
        hp->host = s + 1;
        hp->host_len = (size_t)(close - s) - 1;
        hp->bracketed = true;
        /* The resolver refuses most junk, but a zone ID ("%eth0") is free text. */
        for (size_t i = 0; i < hp->host_len; i++)
            if ((unsigned char)hp->host[i] <= 0x20 || (unsigned char)hp->host[i] >= 0x7f)
                return "bad character in host";
        rest = close + 1;
        if (rest < s + n && *rest != ':')
            return "unexpected text after ']'";
    } else {
        const char *colon = memchr(s, ':', n);
        hp->host = s;
        hp->host_len = colon ? (size_t)(colon - s) : n;
        rest = s + hp->host_len;
        if (colon && memchr(colon + 1, ':', n - hp->host_len - 1))
            return "IPv6 addresses need brackets, e.g. [::1]:8000";
        for (size_t i = 0; i < hp->host_len; i++)
            if (!is_host_char(s[i]))
                return "bad character in host";
    }
    if (hp->host_len == 0)
        return "missing host";
    if (rest < s + n) { /* *rest == ':' */
        const char *p = rest + 1;
        size_t plen = (size_t)(s + n - p);
        uint32_t port = 0;
        if (plen == 0 || plen > 5)
            return "bad port";
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9')
                return "bad port";
            port = port * 10 + (uint32_t)(p[i] - '0');
        }
        if (port > 65535)
            return "bad port";
        hp->has_port = true;
        hp->port = port;
    }
    return NULL;
}

/* The host as an arena string, lowercased (RFC 3986 §3.2.2: hosts are case-insensitive). */
static char *host_dup(struct loader *ld, const struct hostport *hp)
{
    char *h = gw_arena_strndup(&ld->cfg->arena, hp->host, hp->host_len);
    if (!h)
        return NULL;
    for (char *c = h; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return h;
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    const void *a = ss->ss_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)cap))
        snprintf(buf, cap, "?");
    return buf;
}

/* ---- values that go into the upstream request head ---- */

/*
 * Where a configured value lands in the upstream request head. It is copied
 * there as it is, so a CR or LF in it (a trailing newline from ${VAR} is the
 * usual way one gets in) would end the line and start a header, or a whole
 * request, of the file's or the environment's choosing; the load refuses it.
 */
enum head_part {
    HP_FIELD = 0, /* a header value: RFC 9110 §5.5, no control characters (HTAB refused too) */
    HP_TARGET,    /* a piece of the request-target: visible ASCII only (RFC 9112 §3.2) */
    HP_COUNT
};

/*
 * Checks s for `part`; node gives the line (NULL: the line of `parent`, for
 * a value from the environment or a default). 0, or -1 with the error. The
 * message shows where the bad byte is, never the value: it may be a secret.
 */
static int check_head_value(struct loader *ld, const yaml_node_t *node, const yaml_node_t *parent,
                            const char *key, const char *s, enum head_part part)
{
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ctl = c < 0x20 || c == 0x7f;
        if (!ctl && (part == HP_FIELD || (c > 0x20 && c < 0x7f)))
            continue;
        unsigned long line = node_line(node ? node : parent);
        if (!ctl)
            return fail(ld, line, key,
                        "must be visible ASCII without spaces: it goes into the request line "
                        "(byte %zu is 0x%02x)",
                        i + 1, c);
        bool trailing_nl = (c == '\n' || c == '\r') && strspn(s + i, "\r\n") == strlen(s + i);
        return fail(ld, line, key, "must not contain control characters (byte %zu is 0x%02x%s)",
                    i + 1, c, trailing_nl ? ", a trailing newline" : "");
    }
    return 0;
}

/* ---- sections ---- */

/* A listen address "host:port", resolved into ss/len. */
static int parse_listen(struct loader *ld, const char *listen, unsigned long line, const char *key,
                        struct sockaddr_storage *ss, socklen_t *len)
{
    struct hostport hp;
    const char *why = split_hostport(listen, strlen(listen), &hp);
    if (!why && !hp.has_port)
        why = "missing port";
    if (why)
        return fail(ld, line, key, "%s (expected host:port, e.g. 127.0.0.1:8000)", why);
    char *host = host_dup(ld, &hp);
    if (!host)
        return fail_oom(ld);
    return resolve(ld, line, key, host, hp.bracketed, (uint16_t)hp.port, ss, len);
}

static int load_server(struct loader *ld, const yaml_node_t *node)
{
    struct gw_server_config *s = &ld->cfg->server;
    const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
    if (node && !is_null(node)) {
        if (node->type != YAML_MAPPING_NODE)
            return fail(ld, node_line(node), "server", "must be a mapping, not %s",
                        node_kind(node));
        if (walk_mapping(ld, node, "server", server_fields, GW_ARRAY_SIZE(server_fields), s, seen) <
            0)
            return -1;
    }

    if (!s->listen)
        s->listen = CFG_DEFAULT_LISTEN;
    if (parse_listen(ld, s->listen, node_line(seen[SF_LISTEN]), "server.listen", &s->listen_addr,
                     &s->listen_addrlen) < 0)
        return -1;

    if (s->workers == 0) {
        /* One per CPU this process may run on (taskset, cpusets), else per online CPU. */
        cpu_set_t set;
        long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
        s->workers = n < 1 ? 1 : (uint32_t)GW_MIN(n, (long)CFG_MAX_WORKERS);
    }
    return 0;
}

/*
 * base_url: "http[s]://host[:port][/path]", host a name, IPv4 or [IPv6]. No
 * user info, query or fragment: the path is a prefix we append endpoint paths
 * to, so a '?' or '#' would land in the middle of the request target.
 */
static int parse_base_url(struct loader *ld, struct gw_provider *p, unsigned long line,
                          const char *key)
{
    const char *u = p->base_url;
    const char *rest;
    uint16_t default_port;
    if (!strncasecmp(u, "https://", 8)) {
        p->tls = true;
        rest = u + 8;
        default_port = 443;
    } else if (!strncasecmp(u, "http://", 7)) {
        p->tls = false;
        rest = u + 7;
        default_port = 80;
    } else {
        return fail(ld, line, key, "must start with http:// or https://");
    }
    if (strpbrk(rest, "?#"))
        return fail(ld, line, key, "must not have a query or fragment");
    size_t alen = strcspn(rest, "/");
    if (memchr(rest, '@', alen))
        return fail(ld, line, key, "must not contain user info");
    const char *path = rest + alen;
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return fail(ld, line, key, "path must not contain spaces or control characters");

    struct hostport hp;
    const char *why = split_hostport(rest, alen, &hp);
    if (!why && hp.has_port && hp.port == 0)
        why = "bad port";
    if (why)
        return fail(ld, line, key, "%s", why);
    p->port = hp.has_port ? (uint16_t)hp.port : default_port;
    char *host = host_dup(ld, &hp);
    if (!host)
        return fail_oom(ld);
    p->host = host;

    /* Host: carries the brackets and only a non-default port (RFC 9110 §7.2). */
    const char *lb = hp.bracketed ? "[" : "";
    const char *rb = hp.bracketed ? "]" : "";
    char buf[512];
    if (p->port == default_port)
        snprintf(buf, sizeof(buf), "%s%s%s", lb, host, rb);
    else
        snprintf(buf, sizeof(buf), "%s%s%s:%u", lb, host, rb, (unsigned)p->port);
    p->host_header = gw_arena_strdup(&ld->cfg->arena, buf);

    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/')
        plen--;
    p->base_path = gw_arena_strndup(&ld->cfg->arena, path, plen);
    if (!p->host_header || !p->base_path)
        return fail_oom(ld);

    if (resolve(ld, line, key, host, hp.bracketed, p->port, &p->addr, &p->addrlen) < 0)
        return -1;
    return 0;
}

/* An address as (IPv6 form, port): IPv4 as its v4-mapped form, so both families compare. */
static void addr_norm(const struct sockaddr_storage *ss, struct in6_addr *a, uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        memset(a, 0, sizeof(*a));
        a->s6_addr[10] = a->s6_addr[11] = 0xff;
        memcpy(&a->s6_addr[12], &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        *a = sin6->sin6_addr;
        *port = ntohs(sin6->sin6_port);
    }
}

/* 0.0.0.0 or :: (a listener on it takes every local address; a connect to it goes to this host). */
static bool addr_is_any(const struct in6_addr *a)
{
    static const unsigned char v4any[16] = {[10] = 0xff, [11] = 0xff};
    return IN6_IS_ADDR_UNSPECIFIED(a) || !memcmp(a->s6_addr, v4any, 16);
}

static bool addr_is_local(const struct in6_addr *a)
{
    return addr_is_any(a) || IN6_IS_ADDR_LOOPBACK(a) ||
           (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/*
 * Whether a connection to `to` would reach a listener on `listen`, judged
 * from the addresses alone (the same port, and the same address, or a
 * wildcard on one side and a loopback or wildcard on the other). An address
 * of another interface of this host is not recognised: that takes knowing
 * the interfaces, and the check is a guard against the usual mistake (a
 * preset's localhost default on Conduit's own port), not a proof.
 */
static bool reaches_listener(const struct sockaddr_storage *to,
                             const struct sockaddr_storage *listen)
{
    struct in6_addr a, l;
    uint16_t ap, lp;
    addr_norm(to, &a, &ap);
    addr_norm(listen, &l, &lp);
    if (ap != lp)
        return false;
    return !memcmp(&a, &l, sizeof(a)) || (addr_is_any(&l) && addr_is_local(&a)) ||
           (addr_is_any(&a) && addr_is_local(&l));
}

/*
 * Bedrock's credentials and region: each from the file, else from the
 * standard AWS environment variable, as the AWS SDKs and CLI read them. The
 * region must be a plain DNS label run ("us-east-1"): it names the endpoint
 * host and goes into every signature's scope.
 */
static int load_aws(struct loader *ld, struct gw_provider *p, const yaml_node_t *node,
                    const yaml_node_t *const *seen, const char *path)
{
    static const struct {
        int field;
        const char *env, *env2;
        bool required;
    } src[] = {{PF_AWS_KEY_ID, "AWS_ACCESS_KEY_ID", NULL, true},
               {PF_AWS_SECRET, "AWS_SECRET_ACCESS_KEY", NULL, true},
               {PF_AWS_TOKEN, "AWS_SESSION_TOKEN", NULL, false},
               {PF_REGION, "AWS_REGION", "AWS_DEFAULT_REGION", true}};
    char key[CFG_PATH_MAX];
    for (size_t k = 0; k < GW_ARRAY_SIZE(src); k++) {
        const char **dst = (const char **)((char *)p + provider_fields[src[k].field].off);
        snprintf(key, sizeof(key), "%s.%s", path, provider_fields[src[k].field].key);
        if (!present(seen[src[k].field])) {
            const char *v = getenv(src[k].env);
            if ((!v || !v[0]) && src[k].env2)
                v = getenv(src[k].env2);
            if (v && v[0]) {
                *dst = gw_arena_strdup(&ld->cfg->arena, v);
                if (!*dst)
                    return fail_oom(ld);
            }
        }
        if (src[k].required && !(*dst)[0])
            return fail(ld, node_line(seen[src[k].field] ? seen[src[k].field] : node), key,
                        "is required for type bedrock (or set %s%s%s)", src[k].env,
                        src[k].env2 ? " or " : "", src[k].env2 ? src[k].env2 : "");
        for (const char *c = *dst; *c; c++)
            if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
                return fail(ld, node_line(seen[src[k].field] ? seen[src[k].field] : node), key,
                            "must be printable ASCII without spaces");
    }
    snprintf(key, sizeof(key), "%s.region", path);
    for (const char *c = p->region; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return fail(ld, node_line(seen[PF_REGION] ? seen[PF_REGION] : node), key,
                        "\"%s\" is not a region name such as us-east-1", p->region);
    return 0;
}

static int load_provider(struct loader *ld, const yaml_node_t *list, size_t i)
{
    struct gw_config *cfg = ld->cfg;
    struct gw_provider *p = &cfg->providers[i];
    char path[CFG_INDEX_PATH_MAX];
    char key[CFG_PATH_MAX];
    snprintf(path, sizeof(path), "providers[%zu]", i);

    p->type = GW_PT_COUNT; /* "not set" until the walk finds it */
    p->api_key = "";
    p->organization = "";
    p->project = "";
    p->api_version = "";
    p->deployment = "";
    p->anthropic_version = "";
    p->aws_access_key_id = "";
    p->aws_secret_access_key = "";
    p->aws_session_token = "";
    p->region = "";
    p->connect_timeout_ms = 5000;
    p->handshake_timeout_ms = 10000;
    p->send_timeout_ms = 30000;
    p->first_byte_timeout_ms = 120000;
    p->read_timeout_ms = 120000;
    p->pool_max_idle = 64;
    p->pool_idle_timeout_ms = 60000;
    p->pool_max_conns = 65536;
    p->pool_max_requests = 1000;
    p->index = (uint32_t)i;

    const yaml_node_t *node = list_item(ld, list, i, path);
    if (!node)
        return -1;
    const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
    if (walk_mapping(ld, node, path, provider_fields, GW_ARRAY_SIZE(provider_fields), p, seen) < 0)
        return -1;

    static const int required[] = {PF_NAME, PF_TYPE};
    for (size_t r = 0; r < GW_ARRAY_SIZE(required); r++) {
        if (!present(seen[required[r]])) {
            snprintf(key, sizeof(key), "%s.%s", path, provider_fields[required[r]].key);
            return fail(ld, node_line(node), key, "is required");
        }
    }
    snprintf(key, sizeof(key), "%s.name", path);
    if (!p->name[0])
        return fail(ld, node_line(seen[PF_NAME]), key, "must not be empty");
    for (size_t j = 0; j < i; j++)
        if (!strcmp(cfg->providers[j].name, p->name))
            return fail(ld, node_line(seen[PF_NAME]), key,
                        "duplicate provider name \"%s\" (also providers[%zu])", p->name, j);

    const struct ptype *pt = NULL;
    for (size_t t = 0; t < GW_ARRAY_SIZE(ptypes) && !pt; t++)
        if (!strcmp(p->type_name, ptypes[t].name))
            pt = &ptypes[t];
    GW_BUG_ON(!pt); /* FK_PTYPE accepted only names of the table */
    p->type = pt->type;
    p->stream_usage_option = pt->stream_usage;
    if (p->type == GW_PT_BEDROCK && load_aws(ld, p, node, seen, path) < 0)
        return -1;
    snprintf(key, sizeof(key), "%s.base_url", path);
    if (!present(seen[PF_BASE_URL]) && p->type == GW_PT_BEDROCK) {
        char url[300];
        snprintf(url, sizeof(url), "https://bedrock-runtime.%s.amazonaws.com", p->region);
        p->base_url = gw_arena_strdup(&ld->cfg->arena, url);
        if (!p->base_url)
            return fail_oom(ld);
    } else if (!present(seen[PF_BASE_URL])) {
        if (!pt->base_url)
            return fail(ld, node_line(node), key, "is required for type %s", pt->name);
        p->base_url = pt->base_url;
    }
    unsigned long url_line = node_line(seen[PF_BASE_URL] ? seen[PF_BASE_URL] : node);
    if (parse_base_url(ld, p, url_line, key) < 0)
        return -1;
    /* A provider at Conduit's own address sends every request back into the
     * gateway, which sends it on again: a loop, not a provider. vllm's
     * default (vLLM's own, localhost:8000) is Conduit's default listen address. */
    if (reaches_listener(&p->addr, &cfg->server.listen_addr))
        return fail(ld, url_line, key,
                    "%s%s%s%s is Conduit's own listen address (server.listen %s): provider "
                    "\"%s\" would send every request back to this gateway, a loop; set base_url "
                    "to where that provider listens",
                    p->base_url, present(seen[PF_BASE_URL]) ? "" : " (type ",
                    present(seen[PF_BASE_URL]) ? "" : pt->name,
                    present(seen[PF_BASE_URL]) ? "" : "'s default)", cfg->server.listen, p->name);
    /* Fields of one dialect are refused on another, so a typo'd type is not silent. */
    static const struct {
        int field;
        enum gw_provider_type only;
    } scoped[] = {{PF_ORG, GW_PT_OPENAI},
                  {PF_PROJECT, GW_PT_OPENAI},
                  {PF_API_VERSION, GW_PT_AZURE},
                  {PF_DEPLOYMENT, GW_PT_AZURE},
                  {PF_ANTHROPIC_VERSION, GW_PT_ANTHROPIC},
                  {PF_AWS_KEY_ID, GW_PT_BEDROCK},
                  {PF_AWS_SECRET, GW_PT_BEDROCK},
                  {PF_AWS_TOKEN, GW_PT_BEDROCK},
                  {PF_REGION, GW_PT_BEDROCK}};
    for (size_t k = 0; k < GW_ARRAY_SIZE(scoped); k++) {
        if (present(seen[scoped[k].field]) && p->type != scoped[k].only) {
            snprintf(key, sizeof(key), "%s.%s", path, provider_fields[scoped[k].field].key);
            return fail(ld, node_line(seen[scoped[k].field]), key, "only applies to type %s",
                        gw_provider_type_str(scoped[k].only));
        }
    }
    /* Every value the request head carries as it is (base_url's parts are checked above). */
    static const struct {
        int field;
        enum head_part part;
    } head_values[] = {{PF_API_KEY, HP_FIELD},     {PF_ORG, HP_FIELD},
                       {PF_PROJECT, HP_FIELD},     {PF_API_VERSION, HP_TARGET},
                       {PF_DEPLOYMENT, HP_TARGET}, {PF_ANTHROPIC_VERSION, HP_FIELD},
                       {PF_AWS_KEY_ID, HP_FIELD},  {PF_AWS_SECRET, HP_FIELD},
                       {PF_AWS_TOKEN, HP_FIELD},   {PF_REGION, HP_TARGET}};
    for (size_t k = 0; k < GW_ARRAY_SIZE(head_values); k++) {
        const struct field *f = &provider_fields[head_values[k].field];
        snprintf(key, sizeof(key), "%s.%s", path, f->key);
        if (check_head_value(ld, seen[head_values[k].field], node, key,
                             *(const char **)((char *)p + f->off), head_values[k].part) < 0)
            return -1;
    }
    if (p->type == GW_PT_AZURE && !p->api_version[0])
        p->api_version = "v1";
    if (p->type == GW_PT_ANTHROPIC) {
        /* The versions whose request rules the translator knows. */
        if (!p->anthropic_version[0])
            p->anthropic_version = "2026-10-21";
        if (strcmp(p->anthropic_version, "2026-10-21") != 0 &&
            strcmp(p->anthropic_version, "2023-06-01") != 0) {
            snprintf(key, sizeof(key), "%s.anthropic_version", path);
            return fail(ld, node_line(seen[PF_ANTHROPIC_VERSION]), key,
                        "must be \"2026-10-21\" or \"2023-06-01\"");
        }
    }

    snprintf(key, sizeof(key), "%s.tls_ca_file", path);
    if (p->tls_ca_file && !p->tls)
        return fail(ld, node_line(seen[PF_CA_FILE]), key, "only applies to an https base_url");
    if (p->tls_ca_file && !p->tls_ca_file[0])
        return fail(ld, node_line(seen[PF_CA_FILE]), key, "must not be empty");
    if (!p->tls_ca_file)
        p->tls_ca_file = p->tls ? CFG_DEFAULT_CA_FILE : "";

    char addr[INET6_ADDRSTRLEN];
    char origin[1024];
    bool v6 = strchr(p->host, ':') != NULL;
    snprintf(origin, sizeof(origin), "%s://%s%s%s:%u|%s|%s", p->tls ? "https" : "http",
             v6 ? "[" : "", p->host, v6 ? "]" : "", (unsigned)p->port, p->tls_ca_file,
             addr_str(&p->addr, addr, sizeof(addr)));
    p->origin_key = gw_arena_strdup(&cfg->arena, origin);
    if (!p->origin_key)
        return fail_oom(ld);
    return 0;
}

static int load_providers(struct loader *ld, const yaml_node_t *list)
{
    struct gw_config *cfg = ld->cfg;
    size_t n;
    if (section_list(ld, list, "providers", &n) < 0)
        return -1;
    if (n == 0)
        return 0;
    ld->providers = list;
    cfg->providers = gw_arena_zalloc(&cfg->arena, n * sizeof(*cfg->providers));
    if (!cfg->providers)
        return fail_oom(ld);
    for (size_t i = 0; i < n; i++) {
        if (load_provider(ld, list, i) < 0)
            return -1;
        cfg->nproviders = i + 1;
    }
    return 0;
}

/* FNV-1a: model names are short and chosen by the operator, not by clients. */
static uint64_t hash_name(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int load_models(struct loader *ld, const yaml_node_t *list)
{
    struct gw_config *cfg = ld->cfg;
    size_t n;
    if (section_list(ld, list, "models", &n) < 0)
        return -1;
    if (n == 0)
        return 0;
    if (n > (1u << 28))
        return fail(ld, node_line(list), "models", "too many models");
    /* A power of two at least twice the count: probes stay short at load factor <= 1/2. */
    size_t size = 8;
    while (size < 2 * n)
        size *= 2;
    cfg->models = gw_arena_zalloc(&cfg->arena, n * sizeof(*cfg->models));
    cfg->_model_index = gw_arena_zalloc(&cfg->arena, size * sizeof(*cfg->_model_index));
    if (!cfg->models || !cfg->_model_index)
        return fail_oom(ld);
    cfg->_model_index_size = size;

    for (size_t i = 0; i < n; i++) {
        char path[CFG_INDEX_PATH_MAX];
        char key[CFG_PATH_MAX];
        snprintf(path, sizeof(path), "models[%zu]", i);
        const yaml_node_t *node = list_item(ld, list, i, path);
        if (!node)
            return -1;
        struct model_raw raw = {0};
        const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
        if (walk_mapping(ld, node, path, model_fields, GW_ARRAY_SIZE(model_fields), &raw, seen) < 0)
            return -1;
        static const int required[] = {MF_NAME, MF_PROVIDER};
        for (size_t r = 0; r < GW_ARRAY_SIZE(required); r++) {
            if (!present(seen[required[r]])) {
                snprintf(key, sizeof(key), "%s.%s", path, model_fields[required[r]].key);
                return fail(ld, node_line(node), key, "is required");
            }
        }
        snprintf(key, sizeof(key), "%s.name", path);
        if (!raw.name[0])
            return fail(ld, node_line(seen[MF_NAME]), key, "must not be empty");

        const struct gw_provider *prov = NULL;
        for (size_t j = 0; j < cfg->nproviders && !prov; j++)
            if (!strcmp(cfg->providers[j].name, raw.provider))
                prov = &cfg->providers[j];
        if (!prov) {
            char shown_buf[72];
            snprintf(key, sizeof(key), "%s.provider", path);
            return fail(ld, node_line(seen[MF_PROVIDER]), key, "unknown provider \"%s\"",
                        shown(shown_buf, sizeof(shown_buf), raw.provider, strlen(raw.provider)));
        }
        if (raw.model && !raw.model[0]) {
            snprintf(key, sizeof(key), "%s.model", path);
            return fail(ld, node_line(seen[MF_MODEL]), key, "must not be empty");
        }
        /*
         * The upstream name goes into bodies (JSON-escaped) and paths
         * (percent-encoded), except Azure's dated API, which puts it in the
         * path as the deployment when none is configured. No control
         * characters anywhere, and visible ASCII where it is the deployment.
         */
        snprintf(key, sizeof(key), "%s.%s", path, raw.model ? "model" : "name");
        bool in_path = prov->type == GW_PT_AZURE && strcmp(prov->api_version, "v1") != 0 &&
                       !prov->deployment[0];
        if (check_head_value(ld, seen[raw.model ? MF_MODEL : MF_NAME], node, key,
                             raw.model ? raw.model : raw.name, in_path ? HP_TARGET : HP_FIELD) < 0)
            return -1;

        size_t len = strlen(raw.name);
        size_t slot = (size_t)hash_name(raw.name, len) & (size - 1);
        while (cfg->_model_index[slot]) {
            size_t other = cfg->_model_index[slot] - 1;
            if (!strcmp(cfg->models[other].name, raw.name))
                return fail(ld, node_line(seen[MF_NAME]), key,
                            "duplicate model name \"%s\" (also models[%zu])", raw.name, other);
            slot = (slot + 1) & (size - 1);
        }
        cfg->_model_index[slot] = (uint32_t)i + 1;
        cfg->models[i].name = raw.name;
        cfg->models[i].provider = prov;
        cfg->models[i].upstream_model = raw.model ? raw.model : raw.name;
        cfg->nmodels = i + 1;
    }
    return 0;
}

static int load_keys(struct loader *ld, const yaml_node_t *list)
{
    struct gw_config *cfg = ld->cfg;
    size_t n;
    if (section_list(ld, list, "keys", &n) < 0)
        return -1;
    if (n == 0)
        return 0;
    cfg->keys = gw_arena_zalloc(&cfg->arena, n * sizeof(*cfg->keys));
    if (!cfg->keys)
        return fail_oom(ld);
    for (size_t i = 0; i < n; i++) {
        char path[CFG_INDEX_PATH_MAX];
        char key[CFG_PATH_MAX];
        snprintf(path, sizeof(path), "keys[%zu]", i);
        const yaml_node_t *node = list_item(ld, list, i, path);
        if (!node)
            return -1;
        struct gw_key *k = &cfg->keys[i];
        const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
        if (walk_mapping(ld, node, path, key_fields, GW_ARRAY_SIZE(key_fields), k, seen) < 0)
            return -1;
        for (size_t f = 0; f < GW_ARRAY_SIZE(key_fields); f++) {
            snprintf(key, sizeof(key), "%s.%s", path, key_fields[f].key);
            if (!present(seen[f]))
                return fail(ld, node_line(node), key, "is required");
            if (!(*(const char **)((char *)k + key_fields[f].off))[0])
                return fail(ld, node_line(seen[f]), key, "must not be empty");
        }
        k->secret_len = strlen(k->secret);
        /* Two entries with one secret would make the match (and what it is billed to) ambiguous. */
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->keys[j].name, k->name)) {
                snprintf(key, sizeof(key), "%s.name", path);
                return fail(ld, node_line(seen[KF_NAME]), key,
                            "duplicate key name \"%s\" (also keys[%zu])", k->name, j);
            }
            if (!strcmp(cfg->keys[j].secret, k->secret)) {
                snprintf(key, sizeof(key), "%s.key", path);
                return fail(ld, node_line(seen[KF_KEY]), key, "same secret as keys[%zu]", j);
            }
        }
        cfg->nkeys = i + 1;
    }
    return 0;
}

/* A mapping section (store:, admin:) walked into `base`; null or absent = defaults. */
static int load_mapping_section(struct loader *ld, const yaml_node_t *node, const char *name,
                                const struct field *fields, size_t nfields, void *base,
                                const yaml_node_t **seen)
{
    if (!node || is_null(node))
        return 0;
    if (node->type != YAML_MAPPING_NODE)
        return fail(ld, node_line(node), name, "must be a mapping, not %s", node_kind(node));
    return walk_mapping(ld, node, name, fields, nfields, base, seen);
}

static bool has_scheme(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    return !strncmp(url, scheme, n);
}

/* The config file's folder, with a trailing '/', or "" when it has none. */
static const char *config_dir(struct loader *ld)
{
    const char *slash = strrchr(ld->name, '/');
    if (!slash)
        return "";
    return gw_arena_strndup(&ld->cfg->arena, ld->name, (size_t)(slash - ld->name) + 1);
}

static int load_store(struct loader *ld, const yaml_node_t *node)
{
    struct gw_store_config *st = &ld->cfg->store;
    const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
    if (load_mapping_section(ld, node, "store", store_fields, GW_ARRAY_SIZE(store_fields), st,
                             seen) < 0)
        return -1;
    if (!st->url[0])
        return 0;
    const char *dir = config_dir(ld);
    if (!dir)
        return fail_oom(ld);
    if (has_scheme(st->url, "sqlite:")) {
        const char *path = st->url + 7;
        if (!strncmp(path, "//", 2))
            path += 2;
        if (!*path)
            return fail(ld, node_line(seen[STF_URL]), "store.url",
                        "names no database file (use sqlite:conduit.db)");
        /* A relative file is next to the config file, wherever conduit was started. */
        if (strcmp(path, ":memory:") != 0 && path[0] != '/') {
            size_t n = strlen(dir) + strlen(path) + 8;
            char *u = gw_arena_alloc(&ld->cfg->arena, n);
            if (!u)
                return fail_oom(ld);
            snprintf(u, n, "sqlite:%s%s", dir, path);
            st->url = u;
            path = u + 7;
        }
        if (!st->log_dir[0]) {
            size_t n = strlen(path) + 8;
            char *d = gw_arena_alloc(&ld->cfg->arena, n);
            if (!d)
                return fail_oom(ld);
            snprintf(d, n, "%s.usage", strcmp(path, ":memory:") ? path : "conduit-memory");
            st->log_dir = d;
        }
    } else if (has_scheme(st->url, "postgres://") || has_scheme(st->url, "postgresql://")) {
        if (!st->log_dir[0]) {
            size_t n = strlen(dir) + 16;
            char *d = gw_arena_alloc(&ld->cfg->arena, n);
            if (!d)
                return fail_oom(ld);
            snprintf(d, n, "%sconduit-usage", dir);
            st->log_dir = d;
        }
    } else {
        return fail(ld, node_line(seen[STF_URL]), "store.url",
                    "must start with sqlite: or postgres:// (or postgresql://)");
    }
    if (st->log_dir[0] != '/' && strncmp(st->log_dir, dir, strlen(dir)) != 0) {
        size_t n = strlen(dir) + strlen(st->log_dir) + 1;
        char *d = gw_arena_alloc(&ld->cfg->arena, n);
        if (!d)
            return fail_oom(ld);
        snprintf(d, n, "%s%s", dir, st->log_dir);
        st->log_dir = d;
    }
    return 0;
}

static int load_admin(struct loader *ld, const yaml_node_t *node)
{
    struct gw_admin_config *ad = &ld->cfg->admin;
    const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
    if (load_mapping_section(ld, node, "admin", admin_fields, GW_ARRAY_SIZE(admin_fields), ad,
                             seen) < 0)
        return -1;
    if (ad->master_key[0] && strlen(ad->master_key) < 16)
        return fail(ld, node_line(seen[AF_MASTER_KEY]), "admin.master_key",
                    "is shorter than 16 characters: use a long random secret");
    return parse_listen(ld, ad->listen, seen[AF_LISTEN] ? node_line(seen[AF_LISTEN]) : 0,
                        "admin.listen", &ad->listen_addr, &ad->listen_addrlen);
}

static int load_prices(struct loader *ld, const yaml_node_t *list)
{
    struct gw_config *cfg = ld->cfg;
    size_t n;
    if (section_list(ld, list, "prices", &n) < 0)
        return -1;
    if (n == 0)
        return 0;
    cfg->prices = gw_arena_zalloc(&cfg->arena, n * sizeof(*cfg->prices));
    if (!cfg->prices)
        return fail_oom(ld);
    for (size_t i = 0; i < n; i++) {
        char path[CFG_INDEX_PATH_MAX];
        char key[CFG_PATH_MAX];
        snprintf(path, sizeof(path), "prices[%zu]", i);
        const yaml_node_t *node = list_item(ld, list, i, path);
        if (!node)
            return -1;
        struct gw_price_override *p = &cfg->prices[i];
        p->cached_input = p->cache_write = p->embedding = -1.0;
        const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
        if (walk_mapping(ld, node, path, price_fields, GW_ARRAY_SIZE(price_fields), p, seen) < 0)
            return -1;
        static const int required[] = {PRF_MODEL, PRF_INPUT, PRF_OUTPUT};
        for (size_t r = 0; r < GW_ARRAY_SIZE(required); r++) {
            if (!present(seen[required[r]])) {
                snprintf(key, sizeof(key), "%s.%s", path, price_fields[required[r]].key);
                return fail(ld, node_line(node), key, "is required");
            }
        }
        if (!p->model[0]) {
            snprintf(key, sizeof(key), "%s.model", path);
            return fail(ld, node_line(seen[PRF_MODEL]), key, "must not be empty");
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->prices[j].model, p->model)) {
                snprintf(key, sizeof(key), "%s.model", path);
                return fail(ld, node_line(seen[PRF_MODEL]), key,
                            "duplicate price for \"%s\" (also prices[%zu])", p->model, j);
            }
        }
        cfg->nprices = i + 1;
    }
    return 0;
}

static int prepare_providers(struct loader *ld)
{
    struct gw_config *cfg = ld->cfg;
    if (!config_hooks.provider_prepare)
        return 0;
    cfg->_provider_release = config_hooks.provider_release;
    for (size_t i = 0; i < cfg->nproviders; i++) {
        struct gw_config_error herr;
        herr.message[0] = '\0';
        if (config_hooks.provider_prepare(&cfg->providers[i], &herr) < 0) {
            char path[CFG_INDEX_PATH_MAX];
            snprintf(path, sizeof(path), "providers[%zu]", i);
            const yaml_node_t *item = doc_node(ld, ld->providers->data.sequence.items.start[i]);
            return fail(ld, node_line(item), path, "%s",
                        herr.message[0] ? herr.message : "provider setup failed");
        }
        cfg->_nprepared = i + 1;
    }
    return 0;
}

static void set_server_defaults(struct gw_server_config *s)
{
    s->workers = 0;
    s->drain_timeout_ms = 30000;
    s->max_header_bytes = 65536;
    s->max_headers = 100;
    s->max_body_bytes = 32ull << 20;
    s->header_timeout_ms = 10000;
    s->body_timeout_ms = 60000;
    s->idle_timeout_ms = 75000;
    s->max_sse_event_bytes = 1u << 20;
    s->access_log = true;
    s->metrics_require_key = false;
}

static void set_store_defaults(struct gw_config *cfg)
{
    struct gw_store_config *st = &cfg->store;
    st->url = "";
    st->flush_interval_ms = 200;
    st->resync_interval_ms = 30000;
    st->timeout_ms = 5000;
    st->log_dir = "";
    st->log_file_bytes = 64ull << 20;
    st->max_budgets = 65536;
    st->default_max_tokens = 4096;
    cfg->admin.listen = CFG_DEFAULT_ADMIN_LISTEN;
    cfg->admin.master_key = "";
}

/* The line of a byte offset, for reader errors that carry only an offset. */
static unsigned long offset_line(const char *buf, size_t len, size_t off)
{
    unsigned long line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        line += buf[i] == '\n';
    return line;
}

static int yaml_fail(struct loader *ld, const yaml_parser_t *parser, const char *buf, size_t len)
{
    const char *problem = parser->problem ? parser->problem : "unknown error";
    switch (parser->error) {
    case YAML_MEMORY_ERROR:
        return fail_oom(ld);
    case YAML_READER_ERROR:
        return fail(ld, offset_line(buf, len, parser->problem_offset), NULL, "bad YAML: %s",
                    problem);
    default:
        if (parser->context)
            return fail(ld, (unsigned long)parser->problem_mark.line + 1, NULL,
                        "bad YAML: %s (%s at line %lu)", problem, parser->context,
                        (unsigned long)parser->context_mark.line + 1);
        return fail(ld, (unsigned long)parser->problem_mark.line + 1, NULL, "bad YAML: %s",
                    problem);
    }
}

/* Builds the snapshot from the document; on failure the caller frees what was built. */
static int build(struct loader *ld)
{
    yaml_node_t *root = yaml_document_get_root_node(ld->doc);
    struct top_nodes top = {0};
    if (root && !is_null(root)) {
        const yaml_node_t *seen[CFG_MAX_FIELDS] = {0};
        if (root->type != YAML_MAPPING_NODE)
            return fail(ld, node_line(root), NULL, "the top level must be a mapping, not %s",
                        node_kind(root));
        if (walk_mapping(ld, root, "", top_fields, GW_ARRAY_SIZE(top_fields), &top, seen) < 0)
            return -1;
    }
    if (load_server(ld, top.server) < 0 || load_providers(ld, top.providers) < 0 ||
        load_models(ld, top.models) < 0 || load_keys(ld, top.keys) < 0 ||
        load_store(ld, top.store) < 0 || load_admin(ld, top.admin) < 0 ||
        load_prices(ld, top.prices) < 0)
        return -1;
    return prepare_providers(ld);
}

int gw_config_load_buffer(const char *name, const char *buf, size_t len, struct gw_config **out,
                          struct gw_config_error *err)
{
    struct gw_config_error scratch;
    struct loader ld = {.name = name ? name : "<config>", .err = err ? err : &scratch};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_live = false;
    bool doc_live = false;
    int rc = -1;

    *out = NULL;
    ld.err->message[0] = '\0';
    struct gw_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        snprintf(ld.err->message, sizeof(ld.err->message), "%s: out of memory", ld.name);
        return -1;
    }
    gw_arena_init(&cfg->arena, CFG_ARENA_CHUNK, 0);
    ld.cfg = cfg;
    set_server_defaults(&cfg->server);
    set_store_defaults(cfg);
    cfg->_refs = 1;
    cfg->path = gw_arena_strdup(&cfg->arena, ld.name);
    if (!cfg->path) {
        fail_oom(&ld);
        goto fail;
    }

    if (!yaml_parser_initialize(&parser)) {
        fail_oom(&ld);
        goto fail;
    }
    parser_live = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), buf ? len : 0);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_fail(&ld, &parser, buf, len);
        goto fail;
    }
    doc_live = true;
    ld.doc = &doc;

    /* A second document would be silently ignored by the loader: refuse it. */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_fail(&ld, &parser, buf, len);
        goto fail;
    }
    bool has_extra = yaml_document_get_root_node(&extra) != NULL;
    unsigned long extra_line = (unsigned long)extra.start_mark.line + 1;
    yaml_document_delete(&extra);
    if (has_extra) {
        fail(&ld, extra_line, NULL, "only one YAML document is allowed");
        goto fail;
    }

    if (build(&ld) < 0)
        goto fail;
    *out = cfg;
    cfg = NULL;
    rc = 0;
fail:
    if (doc_live)
        yaml_document_delete(&doc);
    if (parser_live)
        yaml_parser_delete(&parser);
    gw_config_free(cfg);
    return rc;
}

int gw_config_load_file(const char *path, struct gw_config **out, struct gw_config_error *err)
{
    struct gw_config_error scratch;
    struct gw_config_error *e = err ? err : &scratch;
    char *buf = NULL;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    if (fd < 0) {
        snprintf(e->message, sizeof(e->message), "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(e->message, sizeof(e->message), "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > CFG_MAX_FILE_BYTES) {
        snprintf(e->message, sizeof(e->message), "%s: not a regular file of at most %u bytes", path,
                 CFG_MAX_FILE_BYTES);
        goto out;
    }
    size_t cap = (size_t)st.st_size;
    buf = malloc(cap + 1);
    if (!buf) {
        snprintf(e->message, sizeof(e->message), "%s: out of memory", path);
        goto out;
    }
    /* Read to EOF rather than trusting st_size: the file may change under us. */
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= CFG_MAX_FILE_BYTES) {
                snprintf(e->message, sizeof(e->message), "%s: larger than %u bytes", path,
                         CFG_MAX_FILE_BYTES);
                goto out;
            }
            size_t ncap = GW_MIN((size_t)CFG_MAX_FILE_BYTES, cap * 2 + 4096);
            char *nbuf = realloc(buf, ncap + 1);
            if (!nbuf) {
                snprintf(e->message, sizeof(e->message), "%s: out of memory", path);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(e->message, sizeof(e->message), "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    rc = gw_config_load_buffer(path, buf, len, out, e);
out:
    free(buf);
    close(fd);
    return rc;
}

void gw_config_set_accounts(struct gw_config *cfg, struct gw_accounts *accounts)
{
    if (accounts)
        gw_accounts_ref(accounts);
    gw_accounts_unref(cfg->accounts);
    cfg->accounts = accounts;
}

struct gw_config *gw_config_derive(struct gw_config *cfg, struct gw_accounts *accounts)
{
    struct gw_config *base = cfg->_base ? cfg->_base : cfg;
    struct gw_config *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    /* Everything but the accounts points into the base's arena, which lives
     * as long as a derived snapshot holds it (_refs). */
    *d = *base;
    d->generation = 0;
    d->_base = base;
    d->_refs = 0;
    d->accounts = NULL;
    memset(&d->arena, 0, sizeof(d->arena));
    base->_refs++;
    gw_config_set_accounts(d, accounts);
    return d;
}

void gw_config_free(struct gw_config *cfg)
{
    if (!cfg)
        return;
    gw_accounts_unref(cfg->accounts);
    cfg->accounts = NULL;
    if (cfg->_base) {
        struct gw_config *base = cfg->_base;
        free(cfg);
        gw_config_free(base);
        return;
    }
    /* A loaded snapshot goes when its own reference and every derived one are gone. */
    if (cfg->_refs > 1) {
        cfg->_refs--;
        return;
    }
    if (cfg->_provider_release)
        for (size_t i = cfg->_nprepared; i-- > 0;)
            cfg->_provider_release(&cfg->providers[i]);
    gw_arena_destroy(&cfg->arena);
    free(cfg);
}

size_t gw_config_warnings(const struct gw_config *cfg, const char **out, size_t max)
{
    size_t n = 0;
    if (cfg->nkeys == 0 && !cfg->store.url[0] && n++ < max)
        out[n - 1] = "no keys configured: every API request will be answered 401 (add one under "
                     "keys:)";
    if (cfg->nmodels == 0 && n++ < max)
        out[n - 1] = "no models configured: every chat and embeddings request will be answered "
                     "404 model_not_found (add one under models:)";
    return n;
}

const struct gw_model *gw_config_find_model(const struct gw_config *cfg, struct gw_span name)
{
    if (!cfg || !cfg->_model_index_size || !name.ptr)
        return NULL;
    size_t mask = cfg->_model_index_size - 1;
    size_t slot = (size_t)hash_name(name.ptr, name.len) & mask;
    for (;;) {
        uint32_t e = cfg->_model_index[slot];
        if (!e)
            return NULL;
        const struct gw_model *m = &cfg->models[e - 1];
        if (strlen(m->name) == name.len && !memcmp(m->name, name.ptr, name.len))
            return m;
        slot = (slot + 1) & mask;
    }
}
