/*
 * Tests for core/config.c: the YAML loader, its defaults, every validation
 * message, ${VAR} interpolation, base_url parsing, the model index, the
 * duration and size parsers, and the provider hooks.
 *
 * Name resolution goes through a fake resolve_host hook so no test touches
 * DNS: api.openai.com, example.test and v6.test resolve, anything else fails.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/config.h"

static int fake_resolve(const char *host, struct sockaddr_storage *addr, socklen_t *addrlen)
{
    static const struct {
        const char *host;
        int family;
        const char *ip;
    } table[] = {
        {"api.openai.com", AF_INET, "203.0.113.10"},
        {"api.mistral.ai", AF_INET, "203.0.113.11"},
        {"api.groq.com", AF_INET, "203.0.113.12"},
        {"api.deepseek.com", AF_INET, "203.0.113.13"},
        {"api.together.xyz", AF_INET, "203.0.113.14"},
        {"api.fireworks.ai", AF_INET, "203.0.113.15"},
        {"openrouter.ai", AF_INET, "203.0.113.16"},
        {"api.perplexity.ai", AF_INET, "203.0.113.17"},
        {"api.x.ai", AF_INET, "203.0.113.18"},
        {"generativelanguage.googleapis.com", AF_INET, "203.0.113.19"},
        {"api.cohere.com", AF_INET, "203.0.113.20"},
        {"bedrock-runtime.eu-west-3.amazonaws.com", AF_INET, "203.0.113.21"},
        {"example.test", AF_INET, "198.51.100.7"},
        {"v6.test", AF_INET6, "2001:db8::7"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(table); i++) {
        if (strcmp(host, table[i].host) != 0)
            continue;
        memset(addr, 0, sizeof(*addr));
        if (table[i].family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)addr;
            sin->sin_family = AF_INET;
            inet_pton(AF_INET, table[i].ip, &sin->sin_addr);
            *addrlen = sizeof(*sin);
        } else {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)addr;
            sin6->sin6_family = AF_INET6;
            inet_pton(AF_INET6, table[i].ip, &sin6->sin6_addr);
            *addrlen = sizeof(*sin6);
        }
        return 0;
    }
    return -1;
}

static void setup(void)
{
    struct gw_config_hooks h = {.resolve_host = fake_resolve};
    gw_config_set_hooks(&h);
}

TestSuite(config, .init = setup);

static struct gw_config *load_ok(const char *yaml)
{
    struct gw_config *cfg = NULL;
    struct gw_config_error err;
    int rc = gw_config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, &err);
    cr_assert_eq(rc, 0, "load failed: %s", err.message);
    cr_assert_not_null(cfg);
    return cfg;
}

/* Loads yaml expecting failure; returns the message (static buffer). */
static const char *load_err(const char *yaml)
{
    static struct gw_config_error err;
    struct gw_config *cfg = (struct gw_config *)1;
    int rc = gw_config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, &err);
    cr_assert_eq(rc, -1, "load of <<%s>> succeeded", yaml);
    cr_assert_null(cfg);
    return err.message;
}

static const char *ip_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)cap);
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)cap);
    return buf;
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Formats a YAML document into a static buffer that the next call overwrites. */
static const char *yamlf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *yamlf(const char *fmt, ...)
{
    static char yaml[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(yaml, sizeof(yaml), fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(yaml), "YAML of %d bytes does not fit", n);
    return yaml;
}

/*
 * Field-by-field comparison of a loaded struct with a wanted copy of the same
 * struct. Each row belongs to one group, the set of fields one kind of check
 * compares; a NULL string in the wanted copy is not compared, so a test names
 * just the fields it is about.
 */
enum field_group { G_SERVER, G_LIMITS, G_PROVIDER };
enum field_kind { F_STR, F_BOOL, F_U32, F_U64 };

struct field {
    enum field_group group;
    const char *name;
    size_t off;
    enum field_kind kind;
};

#define SERVER(f) G_SERVER, #f, offsetof(struct gw_server_config, f)
#define PROVIDER(f) G_PROVIDER, #f, offsetof(struct gw_provider, f)
#define LIMIT(f) G_LIMITS, #f, offsetof(struct gw_provider, f)

static const struct field fields[] = {
    /* every server setting but the resolved listen address and workers (expect_server) */
    {SERVER(listen), F_STR},
    {SERVER(drain_timeout_ms), F_U32},
    {SERVER(max_header_bytes), F_U32},
    {SERVER(max_headers), F_U32},
    {SERVER(max_body_bytes), F_U64},
    {SERVER(header_timeout_ms), F_U32},
    {SERVER(body_timeout_ms), F_U32},
    {SERVER(idle_timeout_ms), F_U32},
    {SERVER(max_sse_event_bytes), F_U32},
    {SERVER(access_log), F_BOOL},
    {SERVER(metrics_require_key), F_BOOL},
    /* a provider's timeouts and pool limits */
    {LIMIT(connect_timeout_ms), F_U32},
    {LIMIT(handshake_timeout_ms), F_U32},
    {LIMIT(send_timeout_ms), F_U32},
    {LIMIT(first_byte_timeout_ms), F_U32},
    {LIMIT(read_timeout_ms), F_U32},
    {LIMIT(pool_max_idle), F_U32},
    {LIMIT(pool_idle_timeout_ms), F_U32},
    {LIMIT(pool_max_conns), F_U32},
    {LIMIT(pool_max_requests), F_U32},
    /* a provider's strings */
    {PROVIDER(name), F_STR},
    {PROVIDER(type_name), F_STR},
    {PROVIDER(organization), F_STR},
    {PROVIDER(project), F_STR},
    {PROVIDER(api_version), F_STR},
    {PROVIDER(deployment), F_STR},
    {PROVIDER(aws_access_key_id), F_STR},
    {PROVIDER(aws_secret_access_key), F_STR},
    {PROVIDER(aws_session_token), F_STR},
    {PROVIDER(region), F_STR},
    {PROVIDER(base_url), F_STR},
    {PROVIDER(host), F_STR},
    {PROVIDER(host_header), F_STR},
    {PROVIDER(base_path), F_STR},
    {PROVIDER(api_key), F_STR},
    {PROVIDER(tls_ca_file), F_STR},
    {PROVIDER(origin_key), F_STR},
};

static void expect_fields(const void *got, const void *want, enum field_group group,
                          const char *label)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(fields); i++) {
        const struct field *f = &fields[i];
        const char *g = (const char *)got + f->off;
        const char *w = (const char *)want + f->off;
        if (f->group != group)
            continue;
        switch (f->kind) {
        case F_STR:
            if (*(const char *const *)w)
                cr_expect_str_eq(*(const char *const *)g, *(const char *const *)w, "<<%s>>: %s",
                                 label, f->name);
            break;
        case F_BOOL:
            cr_expect_eq(*(const bool *)g, *(const bool *)w, "<<%s>>: %s", label, f->name);
            break;
        case F_U32:
            cr_expect_eq(*(const uint32_t *)g, *(const uint32_t *)w, "<<%s>>: %s", label, f->name);
            break;
        case F_U64:
            cr_expect_eq(*(const uint64_t *)g, *(const uint64_t *)w, "<<%s>>: %s", label, f->name);
            break;
        }
    }
}

/* The server section a test expects. */
struct server_want {
    struct gw_server_config s; /* G_SERVER fields, and workers: 0 = any count of at least one */
    const char *ip;            /* listen_addr, as text */
    int family;
    unsigned port;
};

static const struct server_want server_defaults = {
    .s =
        {
            .listen = "127.0.0.1:8000",
            .workers = 0, /* one per online CPU */
            .drain_timeout_ms = 30000,
            .max_header_bytes = 65536,
            .max_headers = 100,
            .max_body_bytes = 32ull << 20,
            .header_timeout_ms = 10000,
            .body_timeout_ms = 60000,
            .idle_timeout_ms = 75000,
            .max_sse_event_bytes = 1u << 20,
            .access_log = true,
            .metrics_require_key = false, /* /metrics needs no key by default */
        },
    .ip = "127.0.0.1",
    .family = AF_INET,
    .port = 8000,
};

static void expect_server(const struct gw_server_config *s, const struct server_want *w,
                          const char *label)
{
    char ip[INET6_ADDRSTRLEN];
    socklen_t addrlen =
        w->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    expect_fields(s, &w->s, G_SERVER, label);
    cr_expect_eq(s->listen_addr.ss_family, w->family, "<<%s>>: listen family", label);
    cr_expect_eq(s->listen_addrlen, addrlen, "<<%s>>: listen addrlen", label);
    cr_expect_str_eq(ip_str(&s->listen_addr, ip, sizeof(ip)), w->ip, "<<%s>>: listen ip", label);
    cr_expect_eq(port_of(&s->listen_addr), w->port, "<<%s>>: listen port", label);
    if (w->s.workers)
        cr_expect_eq(s->workers, w->s.workers, "<<%s>>: workers", label);
    else
        cr_expect_geq(s->workers, 1, "<<%s>>: workers", label);
}

/* An https provider that sets nothing but its base_url: G_LIMITS and its key and CA file. */
static const struct gw_provider provider_defaults = {
    .api_key = "",
    .tls_ca_file = "/etc/ssl/certs/ca-certificates.crt",
    .connect_timeout_ms = 5000,
    .handshake_timeout_ms = 10000,
    .send_timeout_ms = 30000,
    .first_byte_timeout_ms = 120000,
    .read_timeout_ms = 120000,
    .pool_max_idle = 64,
    .pool_idle_timeout_ms = 60000,
    .pool_max_conns = 65536,
    .pool_max_requests = 1000,
};

/* The config's providers, in order, against the strings each wanted copy sets. */
static void expect_providers(const struct gw_config *cfg, const struct gw_provider *want, size_t n)
{
    cr_assert_eq(cfg->nproviders, n);
    for (size_t i = 0; i < n; i++)
        expect_fields(&cfg->providers[i], &want[i], G_PROVIDER, want[i].name);
}

/* Where a provider's base_url leads: the origin, the path and the resolved address. */
struct url_case {
    const char *url;
    bool tls;
    const char *host;
    unsigned port;
    const char *host_header;
    const char *base_path;
    int family;
    const char *ip;
    const char *origin_key;
};

static void expect_origin(const struct gw_provider *p, const struct url_case *c, const char *label)
{
    char ip[INET6_ADDRSTRLEN];
    cr_expect_str_eq(p->base_url, c->url, "%s: base_url", label);
    cr_expect_eq(p->tls, c->tls, "%s: tls", label);
    cr_expect_str_eq(p->host, c->host, "%s: host", label);
    cr_expect_eq(p->port, c->port, "%s: port", label);
    cr_expect_str_eq(p->host_header, c->host_header, "%s: host_header", label);
    cr_expect_str_eq(p->base_path, c->base_path, "%s: base_path", label);
    cr_expect_eq(p->addr.ss_family, c->family, "%s: address family", label);
    cr_expect_str_eq(ip_str(&p->addr, ip, sizeof(ip)), c->ip, "%s: address", label);
    cr_expect_eq(port_of(&p->addr), c->port, "%s: address port", label);
    cr_expect_str_eq(p->origin_key, c->origin_key, "%s: origin_key", label);
}

static const char full_example[] =
    "server:\n"
    "  listen: \"127.0.0.1:8000\"   # host:port\n"
    "  workers: 0                 # one per online CPU\n"
    "  drain_timeout: 30s\n"
    "  max_header_bytes: 64KiB\n"
    "  max_headers: 100\n"
    "  max_body_bytes: 32MiB\n"
    "  header_timeout: 10s\n"
    "  body_timeout: 60s\n"
    "  idle_timeout: 75s\n"
    "  max_sse_event_bytes: 1MiB\n"
    "  access_log: true\n"
    "  metrics_require_key: true\n"
    "keys:\n"
    "  - name: demo\n"
    "    key: \"${CONDUIT_DEMO_KEY}\"\n"
    "providers:\n"
    "  - name: openai\n"
    "    type: openai\n"
    "    base_url: \"https://api.openai.com/v1\"\n"
    "    api_key: \"${OPENAI_API_KEY}\"\n"
    "    tls_ca_file: /path/ca.pem        # optional\n"
    "    connect_timeout: 5s              # optional\n"
    "    pool: {max_idle: 64, idle_timeout: 60s, max_conns: 4096, max_requests: 1000}\n"
    "models:\n"
    "  - name: gpt-4o-mini\n"
    "    provider: openai\n"
    "    model: gpt-4o-mini      # optional, defaults to name\n";

Test(config, full_example_loads_with_every_value)
{
    setenv("CONDUIT_DEMO_KEY", "sk-demo-123", 1);
    setenv("OPENAI_API_KEY", "sk-openai-456", 1);
    struct gw_config *cfg = load_ok(full_example);

    cr_assert_str_eq(cfg->path, "t.yaml");
    /* The example spells out every default, workers: 0 resolved, and turns the /metrics key on. */
    struct server_want server = server_defaults;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    server.s.workers = (uint32_t)(ncpu < 1 ? 1 : ncpu);
    server.s.metrics_require_key = true;
    expect_server(&cfg->server, &server, "full example");

    cr_assert_eq(cfg->nkeys, 1);
    cr_assert_str_eq(cfg->keys[0].name, "demo");
    cr_assert_str_eq(cfg->keys[0].secret, "sk-demo-123");
    cr_assert_eq(cfg->keys[0].secret_len, 11);

    cr_assert_eq(cfg->nproviders, 1);
    const struct gw_provider *p = &cfg->providers[0];
    cr_assert_str_eq(p->name, "openai");
    cr_assert_eq(p->type, GW_PT_OPENAI);
    expect_origin(p,
                  &(const struct url_case){"https://api.openai.com/v1", true, "api.openai.com", 443,
                                           "api.openai.com", "/v1", AF_INET, "203.0.113.10",
                                           "https://api.openai.com:443|/path/ca.pem|203.0.113.10"},
                  "full example");
    struct gw_provider want = provider_defaults;
    want.api_key = "sk-openai-456";
    want.tls_ca_file = "/path/ca.pem";
    want.pool_max_conns = 4096;
    expect_fields(p, &want, G_PROVIDER, "full example");
    expect_fields(p, &want, G_LIMITS, "full example");
    cr_assert_null(p->tls_anchors);
    cr_assert_eq(p->index, 0);

    cr_assert_eq(cfg->nmodels, 1);
    cr_assert_str_eq(cfg->models[0].name, "gpt-4o-mini");
    cr_assert_eq(cfg->models[0].provider, p);
    cr_assert_str_eq(cfg->models[0].upstream_model, "gpt-4o-mini");
    cr_assert_eq(gw_config_find_model(cfg, GW_SPAN_LIT("gpt-4o-mini")), &cfg->models[0]);
    cr_assert_eq(cfg->generation, 0);
    gw_config_free(cfg);
}

Test(config, empty_file_gives_every_default)
{
    static const char *const empties[] = {"", "# only a comment\n", "---\n", "~\n",
                                          "server:\nproviders:\nmodels:\nkeys:\n"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(empties); i++) {
        struct gw_config *cfg = load_ok(empties[i]);
        expect_server(&cfg->server, &server_defaults, empties[i]);
        cr_assert_eq(cfg->nproviders, 0, "<<%s>>", empties[i]);
        cr_assert_eq(cfg->nmodels, 0, "<<%s>>", empties[i]);
        cr_assert_eq(cfg->nkeys, 0, "<<%s>>", empties[i]);
        cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("x")), "<<%s>>", empties[i]);
        gw_config_free(cfg);
    }
}

Test(config, provider_defaults_and_model_name_as_upstream)
{
    struct gw_config *cfg = load_ok("providers:\n"
                                    "  - name: p\n"
                                    "    type: openai\n"
                                    "    base_url: https://example.test\n"
                                    "models:\n"
                                    "  - name: m\n"
                                    "    provider: p\n");
    expect_fields(&cfg->providers[0], &provider_defaults, G_PROVIDER, "defaults");
    expect_fields(&cfg->providers[0], &provider_defaults, G_LIMITS, "defaults");
    cr_assert_str_eq(cfg->providers[0].base_path, "");
    cr_assert_str_eq(cfg->models[0].upstream_model, "m");
    gw_config_free(cfg);
}

Test(config, non_default_values_are_read)
{
    struct gw_config *cfg = load_ok("server:\n"
                                    "  listen: \"[::1]:9001\"\n"
                                    "  workers: 3\n"
                                    "  drain_timeout: 0\n"
                                    "  max_header_bytes: 8KiB\n"
                                    "  max_headers: 50\n"
                                    "  max_body_bytes: 1GB\n"
                                    "  header_timeout: 500ms\n"
                                    "  body_timeout: 2m\n"
                                    "  idle_timeout: 1h\n"
                                    "  max_sse_event_bytes: 4096\n"
                                    "  access_log: off\n"
                                    "providers:\n"
                                    "  - name: p\n"
                                    "    type: openai\n"
                                    "    base_url: http://127.0.0.1:8080/\n"
                                    "    api_key: sk\n"
                                    "    connect_timeout: 250ms\n"
                                    "    first_byte_timeout: 7s\n"
                                    "    read_timeout: 9s\n"
                                    "    pool:\n"
                                    "      max_idle: 0\n"
                                    "      idle_timeout: 5s\n"
                                    "      max_conns: 10\n"
                                    "      max_requests: 1\n");
    expect_server(&cfg->server,
                  &(const struct server_want){.s = {.listen = "[::1]:9001",
                                                    .workers = 3,
                                                    .drain_timeout_ms = 0,
                                                    .max_header_bytes = 8192,
                                                    .max_headers = 50,
                                                    .max_body_bytes = 1000000000ull,
                                                    .header_timeout_ms = 500,
                                                    .body_timeout_ms = 120000,
                                                    .idle_timeout_ms = 3600000,
                                                    .max_sse_event_bytes = 4096,
                                                    .access_log = false,
                                                    .metrics_require_key = false},
                                              .ip = "::1",
                                              .family = AF_INET6,
                                              .port = 9001},
                  "non-default");
    struct gw_provider want = provider_defaults;
    want.api_key = "sk";
    want.tls_ca_file = ""; /* http */
    want.connect_timeout_ms = 250;
    want.first_byte_timeout_ms = 7000;
    want.read_timeout_ms = 9000;
    want.pool_max_idle = 0;
    want.pool_idle_timeout_ms = 5000;
    want.pool_max_conns = 10;
    want.pool_max_requests = 1;
    expect_fields(&cfg->providers[0], &want, G_PROVIDER, "non-default");
    expect_fields(&cfg->providers[0], &want, G_LIMITS, "non-default");
    gw_config_free(cfg);
}

Test(config, null_values_keep_defaults)
{
    struct gw_config *cfg =
        load_ok("server:\n  workers:\n  drain_timeout: ~\n  access_log: null\n");
    cr_assert_geq(cfg->server.workers, 1);
    cr_assert_eq(cfg->server.drain_timeout_ms, 30000);
    cr_assert(cfg->server.access_log);
    gw_config_free(cfg);
}

Test(config, listen_resolves_localhost_to_ipv4_and_accepts_port_zero)
{
    struct gw_config *cfg = load_ok("server:\n  listen: localhost:8001\n");
    char ip[INET6_ADDRSTRLEN];
    cr_assert_eq(cfg->server.listen_addr.ss_family, AF_INET);
    cr_assert_str_eq(ip_str(&cfg->server.listen_addr, ip, sizeof(ip)), "127.0.0.1");
    cr_assert_eq(port_of(&cfg->server.listen_addr), 8001);
    gw_config_free(cfg);

    cfg = load_ok("server:\n  listen: 0.0.0.0:0\n");
    cr_assert_str_eq(ip_str(&cfg->server.listen_addr, ip, sizeof(ip)), "0.0.0.0");
    cr_assert_eq(port_of(&cfg->server.listen_addr), 0);
    gw_config_free(cfg);
}

/* ---- every validation error, with its exact message ---- */

#define P0                                                                                         \
    "providers:\n"                                                                                 \
    "  - name: a\n"                                                                                \
    "    type: openai\n"                                                                           \
    "    base_url: http://127.0.0.1\n"

#define PURL(url)                                                                                  \
    "providers:\n"                                                                                 \
    "  - name: a\n"                                                                                \
    "    type: openai\n"                                                                           \
    "    base_url: " url "\n"

#define LISTEN_HINT " (expected host:port, e.g. 127.0.0.1:8000)"
/* A value refused in server.listen or in a provider's base_url, and why: the rest of the line. */
#define BAD_LISTEN(value, what) "server:\n  listen: " value "\n", "t.yaml:2: server.listen: " what
#define BAD_URL(url, what) PURL(url), "t.yaml:4: providers[0].base_url: " what

Test(config, sections_may_come_in_any_order)
{
    struct gw_config *cfg = load_ok("models:\n  - name: m\n    provider: a\n" P0);
    cr_assert_eq(cfg->models[0].provider, &cfg->providers[0]);
    gw_config_free(cfg);
}

/* A document the loader refuses, and the one line that must say why. */
struct error_case {
    const char *yaml, *message;
};

static void expect_errors(const struct error_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *msg = load_err(cases[i].yaml);
        cr_expect_str_eq(msg, cases[i].message, "case %zu: <<%s>>\n got: %s\nwant: %s", i,
                         cases[i].yaml, msg, cases[i].message);
    }
}

static const struct error_case error_cases[] = {
    /* unknown and duplicate keys */
    {"foo: 1\n", "t.yaml:1: foo: unknown key"},
    {"server:\n  listen: \"127.0.0.1:1\"\n  lisen: x\n", "t.yaml:3: server.lisen: unknown key"},
    {P0 "    colour: red\n", "t.yaml:5: providers[0].colour: unknown key"},
    {P0 "    pool: {max_idel: 3}\n", "t.yaml:5: providers[0].pool.max_idel: unknown key"},
    {P0 "models:\n  - name: m\n    provider: a\n    modle: x\n",
     "t.yaml:8: models[0].modle: unknown key"},
    {"keys:\n  - name: n\n    secret: k\n", "t.yaml:3: keys[0].secret: unknown key"},
    {"server:\n  workers: 1\n  workers: 2\n",
     "t.yaml:3: server.workers: duplicate key (first at line 2)"},
    {"server: {}\nserver: {}\n", "t.yaml:2: server: duplicate key (first at line 1)"},
    {"? [a]\n: 1\n", "t.yaml:1: keys must be plain names, not a list"},
    /* required fields */
    {"providers:\n  - type: openai\n    base_url: http://127.0.0.1\n",
     "t.yaml:2: providers[0].name: is required"},
    {"providers:\n  - name: a\n    base_url: http://127.0.0.1\n",
     "t.yaml:2: providers[0].type: is required"},
    {"providers:\n  - name: a\n    type:\n    base_url: http://127.0.0.1\n",
     "t.yaml:2: providers[0].type: is required"},
    {"providers:\n  - name: a\n    type: azure\n",
     "t.yaml:2: providers[0].base_url: is required for type azure"},
    {P0 "    api_version: \"2024-10-21\"\n",
     "t.yaml:5: providers[0].api_version: only applies to type azure"},
    {"providers:\n  - name: a\n    type: azure\n    base_url: http://127.0.0.1\n"
     "    organization: org-1\n",
     "t.yaml:5: providers[0].organization: only applies to type openai"},
    {P0 "models:\n  - provider: a\n", "t.yaml:6: models[0].name: is required"},
    {P0 "models:\n  - name: m\n", "t.yaml:6: models[0].provider: is required"},
    {"keys:\n  - key: k\n", "t.yaml:2: keys[0].name: is required"},
    {"keys:\n  - name: n\n", "t.yaml:2: keys[0].key: is required"},
    /* empty values */
    {"providers:\n  - name: \"\"\n    type: openai\n    base_url: http://127.0.0.1\n",
     "t.yaml:2: providers[0].name: must not be empty"},
    {P0 "models:\n  - name: \"\"\n    provider: a\n",
     "t.yaml:6: models[0].name: must not be empty"},
    {P0 "models:\n  - name: m\n    provider: a\n    model: \"\"\n",
     "t.yaml:8: models[0].model: must not be empty"},
    {"keys:\n  - name: \"\"\n    key: k\n", "t.yaml:2: keys[0].name: must not be empty"},
    {"keys:\n  - name: n\n    key: \"\"\n", "t.yaml:3: keys[0].key: must not be empty"},
    {"keys:\n  - name: n\n    key: \"a\\0b\"\n",
     "t.yaml:3: keys[0].key: must not contain a NUL byte"},
    /* duplicates and references */
    {P0 "  - name: a\n    type: openai\n    base_url: http://127.0.0.1\n",
     "t.yaml:5: providers[1].name: duplicate provider name \"a\" (also providers[0])"},
    {P0 "models:\n  - name: m\n    provider: a\n  - name: m\n    provider: a\n",
     "t.yaml:8: models[1].name: duplicate model name \"m\" (also models[0])"},
    {"keys:\n  - name: n\n    key: k1\n  - name: n\n    key: k2\n",
     "t.yaml:4: keys[1].name: duplicate key name \"n\" (also keys[0])"},
    {"keys:\n  - name: n1\n    key: k\n  - name: n2\n    key: k\n",
     "t.yaml:5: keys[1].key: same secret as keys[0]"},
    {P0 "models:\n  - name: m\n    provider: nope\n",
     "t.yaml:7: models[0].provider: unknown provider \"nope\""},
    {"providers:\n  - name: a\n    type: vertex\n    base_url: http://127.0.0.1\n",
     "t.yaml:3: providers[0].type: unknown provider type \"vertex\" (known: openai, azure, "
     "anthropic, gemini, bedrock, cohere, mistral, groq, deepseek, together, fireworks, "
     "openrouter, perplexity, xai, ollama, vllm)"},
    {"providers:\n  - name: a\n    type: openai\n    region: us-east-1\n",
     "t.yaml:4: providers[0].region: only applies to type bedrock"},
    {"providers:\n  - name: a\n    type: gemini\n    aws_access_key_id: AKID\n",
     "t.yaml:4: providers[0].aws_access_key_id: only applies to type bedrock"},
    {"providers:\n  - name: a\n    type: bedrock\n    region: us-east-1\n"
     "    aws_secret_access_key: s\n",
     "t.yaml:2: providers[0].aws_access_key_id: is required for type bedrock (or set "
     "AWS_ACCESS_KEY_ID)"},
    {"providers:\n  - name: a\n    type: bedrock\n    region: us-east-1\n"
     "    aws_access_key_id: AKID\n",
     "t.yaml:2: providers[0].aws_secret_access_key: is required for type bedrock (or set "
     "AWS_SECRET_ACCESS_KEY)"},
    {"providers:\n  - name: a\n    type: bedrock\n    aws_access_key_id: AKID\n"
     "    aws_secret_access_key: s\n",
     "t.yaml:2: providers[0].region: is required for type bedrock (or set AWS_REGION or "
     "AWS_DEFAULT_REGION)"},
    {"providers:\n  - name: a\n    type: bedrock\n    region: \"us-east-1.evil.test/x\"\n"
     "    aws_access_key_id: AKID\n    aws_secret_access_key: s\n",
     "t.yaml:4: providers[0].region: \"us-east-1.evil.test/x\" is not a region name such as "
     "us-east-1"},
    {"providers:\n  - name: a\n    type: bedrock\n    region: us-east-1\n"
     "    aws_access_key_id: \"AK ID\"\n    aws_secret_access_key: s\n",
     "t.yaml:5: providers[0].aws_access_key_id: must be printable ASCII without spaces"},
    {"providers:\n  - name: a\n    type: anthropic\n    base_url: http://127.0.0.1\n"
     "    anthropic_version: \"2024-01-01\"\n",
     "t.yaml:5: providers[0].anthropic_version: must be \"2026-10-21\" or \"2023-06-01\""},
    /* durations, sizes, integers, booleans */
    {"server:\n  drain_timeout: 5x\n",
     "t.yaml:2: server.drain_timeout: bad duration \"5x\" (use e.g. 500ms, 30s, 2m, 1h)"},
    {"server:\n  header_timeout: 5000000h\n",
     "t.yaml:2: server.header_timeout: bad duration \"5000000h\" (use e.g. 500ms, 30s, 2m, 1h)"},
    {"server:\n  header_timeout: 0s\n", "t.yaml:2: server.header_timeout: must be at least 1ms"},
    {P0 "    connect_timeout: 1.5s\n",
     "t.yaml:5: providers[0].connect_timeout: bad duration \"1.5s\" (use e.g. 500ms, 30s, 2m, "
     "1h)"},
    {P0 "    pool: {idle_timeout: 0}\n",
     "t.yaml:5: providers[0].pool.idle_timeout: must be at least 1ms"},
    {"server:\n  max_body_bytes: 10XB\n",
     "t.yaml:2: server.max_body_bytes: bad size \"10XB\" (use e.g. 1000, 64KiB, 32MiB)"},
    {"server:\n  max_body_bytes: 99999999999999999999\n",
     "t.yaml:2: server.max_body_bytes: bad size \"99999999999999999999\" (use e.g. 1000, 64KiB, "
     "32MiB)"},
    {"server:\n  max_header_bytes: 100\n",
     "t.yaml:2: server.max_header_bytes: must be from 1024 to 16777216 bytes"},
    {"server:\n  max_header_bytes: 5GiB\n",
     "t.yaml:2: server.max_header_bytes: must be from 1024 to 16777216 bytes"},
    {"server:\n  max_body_bytes: 0\n",
     "t.yaml:2: server.max_body_bytes: must be from 1 to 18446744073709551615 bytes"},
    {"server:\n  max_sse_event_bytes: 2GiB\n",
     "t.yaml:2: server.max_sse_event_bytes: must be from 1024 to 1073741824 bytes"},
    {"server:\n  workers: 1025\n",
     "t.yaml:2: server.workers: must be an integer from 0 to 1024, not \"1025\""},
    {"server:\n  workers: -1\n",
     "t.yaml:2: server.workers: must be an integer from 0 to 1024, not \"-1\""},
    {"server:\n  workers: 2x\n",
     "t.yaml:2: server.workers: must be an integer from 0 to 1024, not \"2x\""},
    {"server:\n  max_headers: 0\n",
     "t.yaml:2: server.max_headers: must be an integer from 1 to 10000, not \"0\""},
    {P0 "    pool: {max_conns: 0}\n",
     "t.yaml:5: providers[0].pool.max_conns: must be an integer from 1 to 1000000, not \"0\""},
    {"server:\n  access_log: maybe\n",
     "t.yaml:2: server.access_log: must be true or false, not \"maybe\""},
    /* listen */
    {BAD_LISTEN("localhost", "missing port" LISTEN_HINT)},
    {BAD_LISTEN("\"::1:8000\"", "IPv6 addresses need brackets, e.g. [::1]:8000" LISTEN_HINT)},
    {BAD_LISTEN("\"127.0.0.1:99999\"", "bad port" LISTEN_HINT)},
    {BAD_LISTEN("\"127.0.0.1:\"", "bad port" LISTEN_HINT)},
    {BAD_LISTEN("\":80\"", "missing host" LISTEN_HINT)},
    {BAD_LISTEN("\"[::1\"", "missing ']' after an IPv6 address" LISTEN_HINT)},
    {BAD_LISTEN("\"[zz]:80\"", "bad IPv6 address \"zz\"")},
    {BAD_LISTEN("\"nope.test:80\"", "cannot resolve host \"nope.test\"")},
    /* base_url */
    {BAD_URL("ftp://x", "must start with http:// or https://")},
    {BAD_URL("api.openai.com/v1", "must start with http:// or https://")},
    {BAD_URL("\"http://127.0.0.1/v1?x=1\"", "must not have a query or fragment")},
    {BAD_URL("\"http://127.0.0.1/v1#top\"", "must not have a query or fragment")},
    {BAD_URL("http://u:p@127.0.0.1/", "must not contain user info")},
    {BAD_URL("http://", "missing host")},
    {BAD_URL("http:///v1", "missing host")},
    {BAD_URL("http://127.0.0.1:0", "bad port")},
    {BAD_URL("http://127.0.0.1:65536", "bad port")},
    {BAD_URL("http://127.0.0.1:abc/", "bad port")},
    {BAD_URL("\"http://bad host/\"", "bad character in host")},
    {BAD_URL("\"http://127.0.0.1/a b\"", "path must not contain spaces or control characters")},
    {BAD_URL("\"http://[::1/\"", "missing ']' after an IPv6 address")},
    {BAD_URL("\"http://[::1]x/\"", "unexpected text after ']'")},
    {BAD_URL("\"http://[nothex]/\"", "bad IPv6 address \"nothex\"")},
    {BAD_URL("http://nope.test/v1", "cannot resolve host \"nope.test\"")},
    {P0 "    tls_ca_file: /x.pem\n",
     "t.yaml:5: providers[0].tls_ca_file: only applies to an https base_url"},
    {PURL("https://example.test") "    tls_ca_file: \"\"\n",
     "t.yaml:5: providers[0].tls_ca_file: must not be empty"},
    /* shapes */
    {"server: 5\n", "t.yaml:1: server: must be a mapping, not a single value"},
    {"server: [1]\n", "t.yaml:1: server: must be a mapping, not a list"},
    {"providers: {a: 1}\n", "t.yaml:1: providers: must be a list, not a mapping"},
    {"keys: x\n", "t.yaml:1: keys: must be a list, not a single value"},
    {"providers:\n  - x\n", "t.yaml:2: providers[0]: must be a mapping, not a single value"},
    {"models:\n  - [a]\n", "t.yaml:2: models[0]: must be a mapping, not a list"},
    {"server:\n  listen: [a]\n", "t.yaml:2: server.listen: must be a single value, not a list"},
    {P0 "    pool: 3\n", "t.yaml:5: providers[0].pool: must be a mapping, not a single value"},
    {"- a\n", "t.yaml:1: the top level must be a mapping, not a list"},
    {"hello\n", "t.yaml:1: the top level must be a mapping, not a single value"},
    {"server: {}\n---\nserver: {}\n", "t.yaml:2: only one YAML document is allowed"},
    /* YAML syntax */
    {"server:\n  listen: \"x\n",
     "t.yaml:3: bad YAML: found unexpected end of stream (while scanning a quoted scalar at line "
     "2)"},
    {"a: b: c\n", "t.yaml:1: bad YAML: mapping values are not allowed in this context"},
    {"server:\n\tworkers: 1\n",
     "t.yaml:2: bad YAML: found character that cannot start any token (while scanning for the "
     "next token at line 2)"},
    {"x: *nope\n", "t.yaml:1: bad YAML: found undefined alias"},
};

Test(config, every_validation_error_names_file_line_and_key)
{
    expect_errors(error_cases, GW_ARRAY_SIZE(error_cases));
}

Test(config, reader_error_reports_a_line)
{
    static const char bad[] = "server:\n  listen: \"\xff\"\n";
    const char *msg = load_err(bad);
    cr_assert_str_eq(msg, "t.yaml:2: bad YAML: invalid leading UTF-8 octet");
}

Test(config, error_with_null_err_pointer_is_still_refused)
{
    struct gw_config *cfg = NULL;
    cr_assert_eq(gw_config_load_buffer("t.yaml", "foo: 1\n", 7, &cfg, NULL), -1);
    cr_assert_null(cfg);
}

/* ---- ${VAR} interpolation ---- */

static const char *key_of(const char *value)
{
    static char yaml[512];
    static char secret[256];
    snprintf(yaml, sizeof(yaml), "keys:\n  - name: k\n    key: \"%s\"\n", value);
    struct gw_config *cfg = load_ok(yaml);
    snprintf(secret, sizeof(secret), "%s", cfg->keys[0].secret);
    cr_assert_eq(cfg->keys[0].secret_len, strlen(secret));
    gw_config_free(cfg);
    return secret;
}

Test(config, interpolates_variables_defaults_and_dollar_escapes)
{
    setenv("GW_T_KEY", "sk-1", 1);
    setenv("GW_T_EMPTY", "", 1);
    unsetenv("GW_T_UNSET");
    cr_assert_str_eq(key_of("${GW_T_KEY}"), "sk-1");
    cr_assert_str_eq(key_of("pre-${GW_T_KEY}-${GW_T_KEY}-post"), "pre-sk-1-sk-1-post");
    cr_assert_str_eq(key_of("${GW_T_UNSET:-fallback}"), "fallback");
    cr_assert_str_eq(key_of("${GW_T_EMPTY:-fb}"), "fb");
    cr_assert_str_eq(key_of("${GW_T_KEY:-fb}"), "sk-1");
    cr_assert_str_eq(key_of("${GW_T_UNSET:-a$$b}"), "a$$b"); /* defaults are literal */
    cr_assert_str_eq(key_of("x${GW_T_EMPTY}y"), "xy");
    cr_assert_str_eq(key_of("a$$b"), "a$b");
    cr_assert_str_eq(key_of("$$${GW_T_KEY}"), "$sk-1");
    cr_assert_str_eq(key_of("$${GW_T_KEY}"), "${GW_T_KEY}");
    cr_assert_str_eq(key_of("cost$5"), "cost$5");
    cr_assert_str_eq(key_of("end$"), "end$");
}

Test(config, interpolation_applies_to_every_scalar_kind)
{
    setenv("GW_T_WORKERS", "3", 1);
    setenv("GW_T_URL", "https://example.test/v2/", 1);
    unsetenv("GW_T_PORT");
    struct gw_config *cfg = load_ok("server:\n"
                                    "  workers: ${GW_T_WORKERS}\n"
                                    "  listen: \"127.0.0.1:${GW_T_PORT:-9100}\"\n"
                                    "  access_log: ${GW_T_LOG:-false}\n"
                                    "providers:\n"
                                    "  - name: p\n"
                                    "    type: \"${GW_T_TYPE:-openai}\"\n"
                                    "    base_url: ${GW_T_URL}\n"
                                    "    read_timeout: ${GW_T_RT:-3s}\n");
    cr_assert_eq(cfg->server.workers, 3);
    cr_assert_eq(port_of(&cfg->server.listen_addr), 9100);
    cr_assert_not(cfg->server.access_log);
    cr_assert_str_eq(cfg->providers[0].host, "example.test");
    cr_assert_str_eq(cfg->providers[0].base_path, "/v2");
    cr_assert_eq(cfg->providers[0].read_timeout_ms, 3000);
    gw_config_free(cfg);
}

Test(config, unset_variable_names_variable_file_line_and_key)
{
    static const struct error_case cases[] = {
        {"keys:\n  - name: k\n    key: \"${GW_T_UNSET}\"\n",
         "t.yaml:3: keys[0].key: environment variable GW_T_UNSET is not set"},
        {P0 "    api_key: \"Bearer-${GW_T_UNSET}\"\n",
         "t.yaml:5: providers[0].api_key: environment variable GW_T_UNSET is not set"},
        {"server:\n  workers: ${GW_T_UNSET}\n",
         "t.yaml:2: server.workers: environment variable GW_T_UNSET is not set"},
    };
    unsetenv("GW_T_UNSET");
    expect_errors(cases, GW_ARRAY_SIZE(cases));
}

Test(config, malformed_references_are_refused)
{
#define KEY_REF(ref) "keys:\n  - name: k\n    key: \"" ref "\"\n"
#define BAD_REF(ref)                                                                               \
    "t.yaml:3: keys[0].key: bad variable reference \"" ref "\" (use ${NAME} or ${NAME:-default})"
    static const struct error_case cases[] = {
        {KEY_REF("${}"), BAD_REF("${}")},
        {KEY_REF("${1X}"), BAD_REF("${1X}")},
        {KEY_REF("${A"), BAD_REF("${A")},
        {KEY_REF("${A:-x"), "t.yaml:3: keys[0].key: unterminated ${ in value"},
    };
#undef KEY_REF
#undef BAD_REF
    expect_errors(cases, GW_ARRAY_SIZE(cases));
}

/* ---- base_url ---- */

static const struct url_case url_cases[] = {
    {"https://api.openai.com/v1", true, "api.openai.com", 443, "api.openai.com", "/v1", AF_INET,
     "203.0.113.10", "https://api.openai.com:443|/etc/ssl/certs/ca-certificates.crt|203.0.113.10"},
    {"http://127.0.0.1", false, "127.0.0.1", 80, "127.0.0.1", "", AF_INET, "127.0.0.1",
     "http://127.0.0.1:80||127.0.0.1"},
    {"http://127.0.0.1:8080/", false, "127.0.0.1", 8080, "127.0.0.1:8080", "", AF_INET, "127.0.0.1",
     "http://127.0.0.1:8080||127.0.0.1"},
    {"http://127.0.0.1:80/v1/", false, "127.0.0.1", 80, "127.0.0.1", "/v1", AF_INET, "127.0.0.1",
     "http://127.0.0.1:80||127.0.0.1"},
    {"https://[::1]:8443/api/v2//", true, "::1", 8443, "[::1]:8443", "/api/v2", AF_INET6, "::1",
     "https://[::1]:8443|/etc/ssl/certs/ca-certificates.crt|::1"},
    {"http://[2001:DB8::1]", false, "2001:db8::1", 80, "[2001:db8::1]", "", AF_INET6, "2001:db8::1",
     "http://[2001:db8::1]:80||2001:db8::1"},
    {"HTTPS://Example.TEST:443/V1", true, "example.test", 443, "example.test", "/V1", AF_INET,
     "198.51.100.7", "https://example.test:443|/etc/ssl/certs/ca-certificates.crt|198.51.100.7"},
    {"https://v6.test:444", true, "v6.test", 444, "v6.test:444", "", AF_INET6, "2001:db8::7",
     "https://v6.test:444|/etc/ssl/certs/ca-certificates.crt|2001:db8::7"},
    {"http://localhost:9000/openai/v1", false, "localhost", 9000, "localhost:9000", "/openai/v1",
     AF_INET, "127.0.0.1", "http://localhost:9000||127.0.0.1"},
};

Test(config, base_url_is_split_into_origin_and_path)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(url_cases); i++) {
        const struct url_case *c = &url_cases[i];
        struct gw_config *cfg = load_ok(
            yamlf("providers:\n  - name: p\n    type: openai\n    base_url: \"%s\"\n", c->url));
        expect_origin(&cfg->providers[0], c, c->url);
        cr_expect_str_eq(cfg->providers[0].tls_ca_file,
                         c->tls ? "/etc/ssl/certs/ca-certificates.crt" : "", "%s: tls_ca_file",
                         c->url);
        gw_config_free(cfg);
    }
}

/* ---- model lookup ---- */

Test(config, model_lookup_matches_whole_names_only)
{
    struct gw_config *cfg = load_ok(P0 "models:\n"
                                       "  - name: gpt-4o\n"
                                       "    provider: a\n"
                                       "    model: gpt-4o-2024-08-06\n"
                                       "  - name: gpt-4o-mini\n"
                                       "    provider: a\n");
    const char extra[] = "gpt-4o-mini-extra";
    cr_assert_eq(gw_config_find_model(cfg, GW_SPAN_LIT("gpt-4o")), &cfg->models[0]);
    cr_assert_str_eq(cfg->models[0].upstream_model, "gpt-4o-2024-08-06");
    cr_assert_eq(gw_config_find_model(cfg, GW_SPAN_LIT("gpt-4o-mini")), &cfg->models[1]);
    cr_assert_eq(gw_config_find_model(cfg, gw_span_make(extra, 11)), &cfg->models[1]);
    cr_assert_eq(gw_config_find_model(cfg, gw_span_make(extra, 6)), &cfg->models[0]);
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("gpt-4o-mini-extra")));
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("gpt-4")));
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("GPT-4O")));
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("")));
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_NULL));
    cr_assert_null(gw_config_find_model(NULL, GW_SPAN_LIT("gpt-4o")));
    gw_config_free(cfg);
}

Test(config, model_lookup_finds_each_of_1000_models)
{
    size_t cap = 64 * 1024;
    char *yaml = malloc(cap);
    cr_assert_not_null(yaml);
    size_t len = (size_t)snprintf(yaml, cap, "%smodels:\n", P0);
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - {name: model-%d, provider: a, model: up-%d}\n", i, i);
    cr_assert_lt(len, cap);
    struct gw_config *cfg = load_ok(yaml);
    free(yaml);
    cr_assert_eq(cfg->nmodels, 1000);
    cr_assert_geq(cfg->_model_index_size, 2000);
    for (int i = 0; i < 1000; i++) {
        char name[32];
        char up[32];
        snprintf(name, sizeof(name), "model-%d", i);
        snprintf(up, sizeof(up), "up-%d", i);
        const struct gw_model *m = gw_config_find_model(cfg, gw_span_cstr(name));
        cr_assert_eq(m, &cfg->models[i], "model-%d", i);
        cr_assert_str_eq(m->upstream_model, up);
        cr_assert_eq(m->provider, &cfg->providers[0]);
    }
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("model-1000")));
    cr_assert_null(gw_config_find_model(cfg, GW_SPAN_LIT("model-")));
    gw_config_free(cfg);
}

/* ---- durations and sizes ---- */

static int parse_duration(const char *s, uint64_t *v)
{
    uint32_t ms = (uint32_t)*v;
    int rc = gw_parse_duration_ms(s, &ms);
    *v = ms;
    return rc;
}

/* Strings for the two unit parsers: rc 0 and the value read, or rc -1. */
static const struct {
    int (*parse)(const char *s, uint64_t *v);
    const char *s;
    int rc;
    uint64_t v;
} parse_cases[] = {
    /* durations: ms, s (the default), m, h; at most UINT32_MAX ms */
    {parse_duration, "500ms", 0, 500},
    {parse_duration, "30s", 0, 30000},
    {parse_duration, "2m", 0, 120000},
    {parse_duration, "1h", 0, 3600000},
    {parse_duration, "45", 0, 45000},
    {parse_duration, "0", 0, 0},
    {parse_duration, "0ms", 0, 0},
    {parse_duration, "007s", 0, 7000},
    {parse_duration, "4294967295ms", 0, UINT32_MAX},
    {parse_duration, "4294967s", 0, 4294967000u},
    {parse_duration, "4294967", 0, 4294967000u},
    {parse_duration, "71582m", 0, 4294920000u},
    {parse_duration, "1193h", 0, 4294800000u},
    {parse_duration, "4294967296ms", -1, 0},
    {parse_duration, "4294968s", -1, 0},
    {parse_duration, "4294968", -1, 0},
    {parse_duration, "71583m", -1, 0},
    {parse_duration, "1194h", -1, 0},
    {parse_duration, "99999999999999999999999s", -1, 0},
    {parse_duration, "", -1, 0},
    {parse_duration, "s", -1, 0},
    {parse_duration, "ms", -1, 0},
    {parse_duration, "1.5s", -1, 0},
    {parse_duration, "-1s", -1, 0},
    {parse_duration, "+1s", -1, 0},
    {parse_duration, " 1s", -1, 0},
    {parse_duration, "1s ", -1, 0},
    {parse_duration, "1 s", -1, 0},
    {parse_duration, "1d", -1, 0},
    {parse_duration, "1S", -1, 0},
    {parse_duration, "1sec", -1, 0},
    {parse_duration, "1mss", -1, 0},
    /* sizes: bytes, binary and decimal units; at most UINT64_MAX */
    {gw_parse_size, "1000", 0, 1000},
    {gw_parse_size, "0", 0, 0},
    {gw_parse_size, "5B", 0, 5},
    {gw_parse_size, "64KiB", 0, 65536},
    {gw_parse_size, "32MiB", 0, 32ull << 20},
    {gw_parse_size, "1GiB", 0, 1ull << 30},
    {gw_parse_size, "2TiB", 0, 2ull << 40},
    {gw_parse_size, "1KB", 0, 1000},
    {gw_parse_size, "10MB", 0, 10000000},
    {gw_parse_size, "2GB", 0, 2000000000},
    {gw_parse_size, "3TB", 0, 3000000000000ull},
    {gw_parse_size, "18446744073709551615", 0, UINT64_MAX},
    {gw_parse_size, "16777215TiB", 0, 16777215ull << 40},
    {gw_parse_size, "18446744073709551615B", 0, UINT64_MAX},
    {gw_parse_size, "18446744073709551616", -1, 0},
    {gw_parse_size, "16777216TiB", -1, 0},
    {gw_parse_size, "18446744073709552KB", -1, 0},
    {gw_parse_size, "", -1, 0},
    {gw_parse_size, "MiB", -1, 0},
    {gw_parse_size, "1.5MiB", -1, 0},
    {gw_parse_size, "1kib", -1, 0},
    {gw_parse_size, "1mb", -1, 0},
    {gw_parse_size, "1 MiB", -1, 0},
    {gw_parse_size, "-1", -1, 0},
    {gw_parse_size, "1K", -1, 0},
    {gw_parse_size, "1M", -1, 0},
    {gw_parse_size, "1MiBs", -1, 0},
};

/* Runs parse's cases and NULL through it; a refused string must leave the output as it was. */
static void expect_parses(int (*parse)(const char *s, uint64_t *v))
{
    size_t n = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(parse_cases); i++) {
        if (parse_cases[i].parse != parse)
            continue;
        n++;
        uint64_t v = 12345;
        int rc = parse(parse_cases[i].s, &v);
        cr_expect_eq(rc, parse_cases[i].rc, "\"%s\": rc %d", parse_cases[i].s, rc);
        cr_expect_eq(v, parse_cases[i].rc == 0 ? parse_cases[i].v : 12345u, "\"%s\": %llu",
                     parse_cases[i].s, (unsigned long long)v);
    }
    cr_assert_gt(n, 0);
    uint64_t v;
    cr_assert_eq(parse(NULL, &v), -1, "NULL is refused");
}

Test(config, durations_parse_with_units_and_overflow_checks)
{
    expect_parses(parse_duration);
}

Test(config, sizes_parse_with_binary_and_decimal_units_and_overflow_checks)
{
    expect_parses(gw_parse_size);
}

Test(config, provider_type_names)
{
    cr_assert_str_eq(gw_provider_type_str(GW_PT_OPENAI), "openai");
    cr_assert_str_eq(gw_provider_type_str(GW_PT_GEMINI), "gemini");
    cr_assert_str_eq(gw_provider_type_str(GW_PT_BEDROCK), "bedrock");
    cr_assert_str_eq(gw_provider_type_str(GW_PT_COHERE), "cohere");
    cr_assert_str_eq(gw_provider_type_str(GW_PT_COUNT), "unknown");
}

/* ---- provider hooks ---- */

static char hook_log[256];
static int anchor_marker;

static void log_event(char what, const struct gw_provider *p)
{
    size_t n = strlen(hook_log);
    snprintf(hook_log + n, sizeof(hook_log) - n, "%c:%s ", what, p->name);
}

static int prepare_ok(struct gw_provider *p, struct gw_config_error *err)
{
    (void)err;
    log_event('P', p);
    p->tls_anchors = &anchor_marker;
    return 0;
}

static int prepare_fail_on_b(struct gw_provider *p, struct gw_config_error *err)
{
    if (!strcmp(p->name, "b")) {
        log_event('F', p);
        snprintf(err->message, sizeof(err->message), "cannot load %s", p->tls_ca_file);
        return -1;
    }
    return prepare_ok(p, err);
}

static void release_log(struct gw_provider *p)
{
    cr_assert_eq(p->tls_anchors, &anchor_marker, "release of a provider never prepared");
    log_event('R', p);
}

/* Installs prepare with the logging release, names still resolved by the fake. */
static void set_logging_hooks(int (*prepare)(struct gw_provider *p, struct gw_config_error *err))
{
    struct gw_config_hooks h = {
        .provider_prepare = prepare, .provider_release = release_log, .resolve_host = fake_resolve};
    gw_config_set_hooks(&h);
}

#define THREE_PROVIDERS                                                                            \
    "providers:\n"                                                                                 \
    "  - {name: a, type: openai, base_url: \"https://127.0.0.1\"}\n"                               \
    "  - {name: b, type: openai, base_url: \"https://127.0.0.2\", tls_ca_file: /b.pem}\n"          \
    "  - {name: c, type: openai, base_url: \"http://127.0.0.3\"}\n"

Test(config, hooks_prepare_every_provider_and_free_releases_them)
{
    set_logging_hooks(prepare_ok);
    struct gw_config *cfg = load_ok(THREE_PROVIDERS);
    cr_assert_str_eq(hook_log, "P:a P:b P:c ");
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(cfg->providers[i].tls_anchors, &anchor_marker);
    gw_config_free(cfg);
    cr_assert_str_eq(hook_log, "P:a P:b P:c R:c R:b R:a ");
}

Test(config, hook_failure_names_provider_and_releases_only_the_prepared)
{
    set_logging_hooks(prepare_fail_on_b);
    cr_assert_str_eq(load_err(THREE_PROVIDERS), "t.yaml:3: providers[1]: cannot load /b.pem");
    cr_assert_str_eq(hook_log, "P:a F:b R:a ");
}

Test(config, hooks_run_only_after_the_whole_file_validates)
{
    set_logging_hooks(prepare_ok);
    cr_assert_str_eq(load_err(THREE_PROVIDERS "keys:\n  - name: k\n"),
                     "t.yaml:6: keys[0].key: is required");
    cr_assert_str_eq(hook_log, "");
}

Test(config, hooks_release_is_the_one_in_force_at_load)
{
    set_logging_hooks(prepare_ok);
    struct gw_config *cfg = load_ok(P0);
    gw_config_set_hooks(NULL);
    gw_config_free(cfg);
    cr_assert_str_eq(hook_log, "P:a R:a ");
}

Test(config, without_resolve_hook_numeric_and_localhost_still_resolve)
{
    gw_config_set_hooks(NULL);
    struct gw_config *cfg =
        load_ok("providers:\n"
                "  - {name: a, type: openai, base_url: \"http://10.1.2.3:81\"}\n"
                "  - {name: b, type: openai, base_url: \"http://[fe80::1]\"}\n"
                "  - {name: c, type: openai, base_url: \"http://LocalHost\"}\n");
    char ip[INET6_ADDRSTRLEN];
    cr_assert_str_eq(ip_str(&cfg->providers[0].addr, ip, sizeof(ip)), "10.1.2.3");
    cr_assert_str_eq(ip_str(&cfg->providers[1].addr, ip, sizeof(ip)), "fe80::1");
    cr_assert_str_eq(ip_str(&cfg->providers[2].addr, ip, sizeof(ip)), "127.0.0.1");
    cr_assert_str_eq(cfg->providers[2].host, "localhost");
    gw_config_free(cfg);
}

/* ---- files ---- */

Test(config, load_file_reads_and_names_the_file)
{
    char path[] = "/tmp/gw_test_config_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static const char body[] = "server:\n  workers: 2\n  bogus: 1\n";
    cr_assert_eq(write(fd, body, sizeof(body) - 1), (ssize_t)(sizeof(body) - 1));
    close(fd);

    struct gw_config *cfg = (struct gw_config *)1;
    struct gw_config_error err;
    cr_assert_eq(gw_config_load_file(path, &cfg, &err), -1);
    cr_assert_null(cfg);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: server.bogus: unknown key", path);
    cr_assert_str_eq(err.message, want);

    fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, body, 21), 21);
    close(fd);
    cr_assert_eq(gw_config_load_file(path, &cfg, &err), 0, "%s", err.message);
    cr_assert_eq(cfg->server.workers, 2);
    cr_assert_str_eq(cfg->path, path);
    gw_config_free(cfg);
    unlink(path);

    cr_assert_eq(gw_config_load_file("/nonexistent/conduit.yaml", &cfg, &err), -1);
    cr_assert_null(cfg);
    cr_assert_str_eq(err.message, "/nonexistent/conduit.yaml: cannot open: No such file or "
                                  "directory");
    cr_assert_eq(gw_config_load_file("/tmp", &cfg, &err), -1);
    cr_assert_str_eq(err.message, "/tmp: not a regular file of at most 16777216 bytes");
}

Test(config, free_ignores_null)
{
    gw_config_free(NULL);
}

Test(config, presets_default_their_base_url_and_quirks)
{
    static const struct {
        const char *type, *host, *path;
        uint16_t port;
        bool tls, stream_usage;
    } want[] = {
        {"openai", "api.openai.com", "/v1", 443, true, true},
        {"mistral", "api.mistral.ai", "/v1", 443, true, false},
        {"groq", "api.groq.com", "/openai/v1", 443, true, true},
        {"deepseek", "api.deepseek.com", "/v1", 443, true, true},
        {"together", "api.together.xyz", "/v1", 443, true, true},
        {"fireworks", "api.fireworks.ai", "/inference/v1", 443, true, true},
        {"openrouter", "openrouter.ai", "/api/v1", 443, true, true},
        {"perplexity", "api.perplexity.ai", "", 443, true, false},
        {"xai", "api.x.ai", "/v1", 443, true, true},
        {"ollama", "localhost", "/v1", 11434, false, true},
        {"vllm", "localhost", "/v1", 8000, false, true},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(want); i++) {
        /* Off Conduit's default port: vllm's default (localhost:8000) is that address. */
        struct gw_config *cfg = load_ok(
            yamlf("server:\n  listen: 127.0.0.1:9000\nproviders:\n  - name: p\n    type: %s\n",
                  want[i].type));
        const struct gw_provider *p = &cfg->providers[0];
        cr_assert_eq(p->type, GW_PT_OPENAI, "%s", want[i].type);
        cr_assert_str_eq(p->type_name, want[i].type, "%s", want[i].type);
        cr_assert_str_eq(p->host, want[i].host, "%s", want[i].type);
        cr_assert_str_eq(p->base_path, want[i].path, "%s", want[i].type);
        cr_assert_eq(p->port, want[i].port, "%s", want[i].type);
        cr_assert_eq(p->tls, want[i].tls, "%s", want[i].type);
        cr_assert_eq(p->stream_usage_option, want[i].stream_usage, "%s", want[i].type);
        gw_config_free(cfg);
    }
}

Test(config, a_preset_base_url_can_be_overridden_and_openai_headers_are_kept)
{
    struct gw_config *cfg = load_ok("providers:\n  - name: p\n    type: groq\n"
                                    "    base_url: http://127.0.0.1:9001/v1\n"
                                    "  - name: o\n    type: openai\n"
                                    "    organization: org-1\n    project: proj-1\n");
    static const struct gw_provider want[] = {
        {.name = "p", .type_name = "groq", .host = "127.0.0.1", .organization = ""},
        {.name = "o", .type_name = "openai", .organization = "org-1", .project = "proj-1"},
    };
    expect_providers(cfg, want, GW_ARRAY_SIZE(want));
    cr_assert_eq(cfg->providers[0].port, 9001);
    gw_config_free(cfg);
}

Test(config, azure_defaults_to_the_v1_api_and_takes_a_dated_version_and_deployment)
{
    struct gw_config *cfg = load_ok("providers:\n"
                                    "  - name: a\n    type: azure\n"
                                    "    base_url: https://example.test\n    api_key: k\n"
                                    "  - name: b\n    type: azure\n"
                                    "    base_url: https://example.test\n"
                                    "    api_version: \"2024-10-21\"\n    deployment: dep\n");
    static const struct gw_provider want[] = {
        {.name = "a", .api_version = "v1", .deployment = ""},
        {.name = "b", .api_version = "2024-10-21", .deployment = "dep"},
    };
    expect_providers(cfg, want, GW_ARRAY_SIZE(want));
    cr_assert_eq(cfg->providers[0].type, GW_PT_AZURE);
    cr_assert_eq(cfg->providers[1].type, GW_PT_AZURE);
    gw_config_free(cfg);
}

Test(config, gemini_and_cohere_default_to_their_public_endpoints)
{
    struct gw_config *cfg = load_ok("providers:\n"
                                    "  - {name: g, type: gemini, api_key: gk}\n"
                                    "  - {name: c, type: cohere, api_key: ck}\n");
    static const struct gw_provider want[] = {
        {.name = "g",
         .base_url = "https://generativelanguage.googleapis.com",
         .host_header = "generativelanguage.googleapis.com",
         .base_path = "",
         .api_key = "gk"},
        {.name = "c", .base_url = "https://api.cohere.com", .api_key = "ck"},
    };
    expect_providers(cfg, want, GW_ARRAY_SIZE(want));
    cr_assert_eq(cfg->providers[0].type, GW_PT_GEMINI);
    cr_assert(cfg->providers[0].tls);
    cr_assert_eq(cfg->providers[1].type, GW_PT_COHERE);
    cr_assert_eq(port_of(&cfg->providers[1].addr), 443);
    gw_config_free(cfg);
}

/* A Bedrock provider's credentials and region, wherever they came from. */
static void expect_aws(const struct gw_provider *p, const char *access_key_id,
                       const char *secret_access_key, const char *session_token, const char *region)
{
    struct gw_provider want = {.aws_access_key_id = access_key_id,
                               .aws_secret_access_key = secret_access_key,
                               .aws_session_token = session_token,
                               .region = region};
    expect_fields(p, &want, G_PROVIDER, p->name);
}

Test(config, bedrock_takes_credentials_from_the_file_and_its_endpoint_from_the_region)
{
    struct gw_config *cfg = load_ok("providers:\n"
                                    "  - name: b\n    type: bedrock\n    region: eu-west-3\n"
                                    "    aws_access_key_id: AKIDEXAMPLE\n"
                                    "    aws_secret_access_key: \"wJalr/K7MDENG+bPxRfiCY\"\n"
                                    "    aws_session_token: tok\n");
    const struct gw_provider *b = &cfg->providers[0];
    cr_assert_eq(b->type, GW_PT_BEDROCK);
    expect_origin(b,
                  &(const struct url_case){"https://bedrock-runtime.eu-west-3.amazonaws.com", true,
                                           "bedrock-runtime.eu-west-3.amazonaws.com", 443,
                                           "bedrock-runtime.eu-west-3.amazonaws.com", "", AF_INET,
                                           "203.0.113.21",
                                           "https://bedrock-runtime.eu-west-3.amazonaws.com:443|"
                                           "/etc/ssl/certs/ca-certificates.crt|203.0.113.21"},
                  "bedrock");
    expect_aws(b, "AKIDEXAMPLE", "wJalr/K7MDENG+bPxRfiCY", "tok", "eu-west-3");
    gw_config_free(cfg);
}

/* Criterion runs each test in its own process: the environment does not leak. */
Test(config, bedrock_falls_back_to_the_standard_aws_environment)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
    setenv("AWS_SESSION_TOKEN", "token-env", 1);
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    struct gw_config *cfg = load_ok("providers:\n"
                                    "  - {name: b, type: bedrock}\n"
                                    "  - {name: c, type: bedrock, region: us-east-1,\n"
                                    "     aws_access_key_id: AKIDFILE,\n"
                                    "     base_url: \"http://127.0.0.1:9\"}\n");
    expect_aws(&cfg->providers[0], "AKIDENV", "secret-env", "token-env", "eu-west-3");
    /* The file wins over the environment, field by field; base_url overrides the region's. */
    expect_aws(&cfg->providers[1], "AKIDFILE", "secret-env", "token-env", "us-east-1");
    cr_assert_str_eq(cfg->providers[1].base_url, "http://127.0.0.1:9");
    gw_config_free(cfg);
    /* AWS_REGION wins over AWS_DEFAULT_REGION, as in the AWS SDKs. */
    setenv("AWS_REGION", "us-west-2", 1);
    unsetenv("AWS_SESSION_TOKEN");
    cfg = load_ok("providers:\n  - {name: b, type: bedrock, base_url: \"http://127.0.0.1:9\"}\n");
    expect_aws(&cfg->providers[0], "AKIDENV", "secret-env", "", "us-west-2");
    gw_config_free(cfg);
}

/* ---- values that go into the upstream request head ---- */

#define CTL " must not contain control characters "
#define REQUEST_LINE " must be visible ASCII without spaces: it goes into the request line "
#define AZURE "providers:\n  - name: a\n    type: azure\n    base_url: https://example.test\n"

/*
 * Values that go into the upstream request head: a header value may hold no
 * control character; a value that goes into the request line (Azure's dated
 * API) not even a space. Each case names the environment it needs: "NAME=value"
 * is set before the load. The value itself is never shown in the message.
 */
enum head_part { H_HEADER, H_REQUEST_LINE };

static const struct {
    enum head_part part;
    const char *env[3];
    const char *yaml, *message;
} head_cases[] = {
    /* The usual way in: a secret file or variable with a trailing newline. */
    {H_HEADER,
     {"GW_T_NL_KEY=sk-123\n"},
     P0 "    api_key: \"${GW_T_NL_KEY}\"\n",
     "t.yaml:5: providers[0].api_key:" CTL "(byte 7 is 0x0a, a trailing newline)"},
    {H_HEADER,
     {"GW_T_CRLF_KEY=sk-123\r\n"},
     P0 "    api_key: ${GW_T_CRLF_KEY}\n",
     "t.yaml:5: providers[0].api_key:" CTL "(byte 7 is 0x0d, a trailing newline)"},
    /* Injection proper: a header of the file's choosing. */
    {H_HEADER,
     {NULL},
     P0 "    api_key: \"sk\\r\\nX-Evil: 1\"\n",
     "t.yaml:5: providers[0].api_key:" CTL "(byte 3 is 0x0d)"},
    {H_HEADER,
     {NULL},
     P0 "    organization: \"org\\t1\"\n",
     "t.yaml:5: providers[0].organization:" CTL "(byte 4 is 0x09)"},
    {H_HEADER,
     {"GW_T_DEL=proj\x7f"},
     P0 "    project: \"${GW_T_DEL}\"\n",
     "t.yaml:5: providers[0].project:" CTL "(byte 5 is 0x7f)"},
    {H_HEADER,
     {"GW_T_NL_VER=2023-06-01\n"},
     "providers:\n  - name: a\n    type: anthropic\n    base_url: http://127.0.0.1\n"
     "    anthropic_version: ${GW_T_NL_VER}\n",
     "t.yaml:5: providers[0].anthropic_version:" CTL "(byte 11 is 0x0a, a trailing newline)"},
    /* Gemini, Cohere and Anthropic send api_key in their own headers. */
    {H_HEADER,
     {NULL},
     "providers:\n  - {name: g, type: gemini, api_key: \"k\\n\"}\n",
     "t.yaml:2: providers[0].api_key:" CTL "(byte 2 is 0x0a, a trailing newline)"},

    {H_REQUEST_LINE,
     {NULL},
     AZURE "    api_version: \"2024-10-21\"\n    deployment: \"my dep\"\n",
     "t.yaml:6: providers[0].deployment:" REQUEST_LINE "(byte 3 is 0x20)"},
    {H_REQUEST_LINE,
     {"GW_T_NL_AV=2024-10-21\n"},
     AZURE "    api_version: ${GW_T_NL_AV}\n",
     "t.yaml:5: providers[0].api_version:" CTL "(byte 11 is 0x0a, a trailing newline)"},
    {H_REQUEST_LINE,
     {NULL},
     AZURE "    api_version: \"2024-10-21 HTTP/1.0\"\n",
     "t.yaml:5: providers[0].api_version:" REQUEST_LINE "(byte 11 is 0x20)"},
    /* Azure's dated API puts the model's upstream name in the path when no deployment is set. */
    {H_REQUEST_LINE,
     {NULL},
     AZURE "    api_version: \"2024-10-21\"\nmodels:\n  - name: m\n    provider: a\n"
           "    model: \"gpt 4o\"\n",
     "t.yaml:9: models[0].model:" REQUEST_LINE "(byte 4 is 0x20)"},
    {H_REQUEST_LINE,
     {NULL},
     AZURE "    api_version: \"2024-10-21\"\nmodels:\n  - name: \"gpt\\u00e9\"\n"
           "    provider: a\n",
     "t.yaml:7: models[0].name:" REQUEST_LINE "(byte 4 is 0xc3)"},
    /* Elsewhere it is escaped or percent-encoded, but control characters stay out. */
    {H_REQUEST_LINE,
     {"GW_T_NL_MODEL=gpt-4o\n"},
     P0 "models:\n  - name: m\n    provider: a\n    model: ${GW_T_NL_MODEL}\n",
     "t.yaml:8: models[0].model:" CTL "(byte 7 is 0x0a, a trailing newline)"},
    /* Bedrock's credentials from the environment are held to the same rule. */
    {H_REQUEST_LINE,
     {"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=tok\n"},
     "providers:\n  - {name: b, type: bedrock, region: us-east-1}\n",
     "t.yaml:2: providers[0].aws_session_token: must be printable ASCII without spaces"},
    /* An IPv6 zone ID is free text: no spaces or control characters in it either. */
    {H_REQUEST_LINE,
     {NULL},
     PURL("\"http://[fe80::1%lo x]/\""),
     "t.yaml:4: providers[0].base_url: bad character in host"},
};

static void expect_head_errors(enum head_part part)
{
    size_t n = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(head_cases); i++) {
        if (head_cases[i].part != part)
            continue;
        n++;
        for (size_t j = 0; j < GW_ARRAY_SIZE(head_cases[i].env) && head_cases[i].env[j]; j++) {
            char name[64];
            const char *eq = strchr(head_cases[i].env[j], '=');
            cr_assert_not_null(eq, "%s", head_cases[i].env[j]);
            snprintf(name, sizeof(name), "%.*s", (int)(eq - head_cases[i].env[j]),
                     head_cases[i].env[j]);
            setenv(name, eq + 1, 1);
        }
        expect_errors(&(const struct error_case){head_cases[i].yaml, head_cases[i].message}, 1);
    }
    cr_assert_gt(n, 0);
}

Test(config, control_characters_in_header_values_are_refused)
{
    expect_head_errors(H_HEADER);
}

Test(config, request_line_values_must_be_visible_ascii)
{
    expect_head_errors(H_REQUEST_LINE);
}

Test(config, ordinary_header_and_path_values_still_load)
{
    setenv("GW_T_GOOD_KEY", "sk-proj-AbC_123.xyz", 1);
    struct gw_config *cfg =
        load_ok("providers:\n"
                "  - name: o\n    type: openai\n    base_url: http://127.0.0.1\n"
                "    api_key: ${GW_T_GOOD_KEY}\n    organization: \"org caf\\u00e9\"\n"
                "    project: proj_1\n"
                "  - name: z\n    type: azure\n    base_url: https://example.test\n"
                "    api_version: \"2024-10-21\"\n    api_key: \"k with spaces\"\n"
                "models:\n"
                "  - {name: \"meta-llama/Llama 3\", provider: o, model: \"meta-llama/Llama-3\"}\n"
                "  - {name: \"caf\\u00e9\", provider: o}\n"
                "  - {name: dep, provider: z, model: \"gpt-4o_2024-08-06\"}\n");
    cr_assert_str_eq(cfg->providers[0].api_key, "sk-proj-AbC_123.xyz");
    cr_assert_str_eq(cfg->providers[0].organization, "org caf\xc3\xa9");
    cr_assert_str_eq(cfg->providers[1].api_key, "k with spaces");
    cr_assert_str_eq(cfg->models[2].upstream_model, "gpt-4o_2024-08-06");
    gw_config_free(cfg);
}

Test(config, vllm_default_on_conduits_default_listen_address_is_refused)
{
    /* vLLM's default address is also Conduit's: a gateway calling itself loops. */
    cr_assert_str_eq(load_err("providers:\n  - name: local\n    type: vllm\n"),
                     "t.yaml:2: providers[0].base_url: http://localhost:8000/v1 (type vllm's "
                     "default) is Conduit's own listen address (server.listen 127.0.0.1:8000): "
                     "provider \"local\" would send every request back to this gateway, a loop; "
                     "set base_url to where that provider listens");
    /* Given in the file, the message names it without the preset note, at its line. */
    cr_assert_str_eq(load_err("server:\n  listen: 0.0.0.0:8100\n"
                              "providers:\n  - name: self\n    type: openai\n"
                              "    base_url: http://127.0.0.1:8100/v1\n"),
                     "t.yaml:6: providers[0].base_url: http://127.0.0.1:8100/v1 is Conduit's own "
                     "listen address (server.listen 0.0.0.0:8100): provider \"self\" would send "
                     "every request back to this gateway, a loop; set base_url to where that "
                     "provider listens");
    /* The preset keeps its default: elsewhere it loads. */
    struct gw_config *cfg =
        load_ok("server:\n  listen: 127.0.0.1:9000\nproviders:\n  - name: local\n    type: vllm\n");
    cr_assert_str_eq(cfg->providers[0].base_url, "http://localhost:8000/v1");
    gw_config_free(cfg);
}

Test(config, a_provider_at_conduits_own_address_is_refused_and_others_load)
{
    static const struct {
        const char *listen, *base_url;
        bool refused;
    } cases[] = {
        {"127.0.0.1:8000", "http://127.0.0.1:8000/v1", true},
        {"127.0.0.1:8000", "http://localhost:8000", true},
        {"127.0.0.1:8000", "http://0.0.0.0:8000", true}, /* a connect to 0.0.0.0 is local */
        {"0.0.0.0:8000", "http://127.0.0.1:8000", true}, /* a wildcard takes loopback */
        {"0.0.0.0:8000", "http://127.0.0.5:8000", true},
        {"[::]:8000", "http://127.0.0.1:8000", true}, /* dual-stack wildcard */
        {"[::]:8000", "http://[::1]:8000", true},
        {"[::1]:8000", "http://[::1]:8000/v1", true},
        {"[::1]:8000", "http://[::ffff:127.0.0.1]:8000", false},
        {"127.0.0.1:8000", "http://[::ffff:127.0.0.1]:8000", true}, /* v4-mapped is v4 */
        {"127.0.0.1:8000", "http://127.0.0.1:8001", false},         /* another port */
        {"127.0.0.1:8000", "http://127.0.0.2:8000", false},         /* another address */
        {"[::1]:8000", "http://127.0.0.1:8000", false},
        {"127.0.0.1:8000", "http://example.test:8000", false},
        {"0.0.0.0:8000", "https://api.openai.com/v1", false},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        const char *yaml = yamlf("server:\n  listen: \"%s\"\nproviders:\n  - name: p\n"
                                 "    type: openai\n    base_url: \"%s\"\n",
                                 cases[i].listen, cases[i].base_url);
        struct gw_config *cfg = NULL;
        struct gw_config_error err;
        int rc = gw_config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, &err);
        if (cases[i].refused) {
            cr_assert_eq(rc, -1, "%s -> %s loaded", cases[i].listen, cases[i].base_url);
            cr_assert(strstr(err.message, "is Conduit's own listen address"), "%s -> %s: %s",
                      cases[i].listen, cases[i].base_url, err.message);
            cr_assert(strstr(err.message, "provider \"p\""), "%s -> %s: %s", cases[i].listen,
                      cases[i].base_url, err.message);
        } else {
            cr_assert_eq(rc, 0, "%s -> %s: %s", cases[i].listen, cases[i].base_url, err.message);
            gw_config_free(cfg);
        }
    }
}

Test(config, no_keys_or_no_models_is_loaded_with_a_warning_for_each)
{
    const char *w[4];
    struct gw_config *cfg = load_ok("");
    cr_assert_eq(gw_config_warnings(cfg, w, GW_ARRAY_SIZE(w)), 2);
    cr_assert_str_eq(w[0], "no keys configured: every API request will be answered 401 (add one "
                           "under keys:)");
    cr_assert_str_eq(w[1], "no models configured: every chat and embeddings request will be "
                           "answered 404 model_not_found (add one under models:)");
    /* max bounds what is written, not the count. */
    w[0] = NULL;
    cr_assert_eq(gw_config_warnings(cfg, w, 0), 2);
    cr_assert_null(w[0]);
    gw_config_free(cfg);

    cfg = load_ok("keys:\n  - name: k\n    key: s\n");
    cr_assert_eq(gw_config_warnings(cfg, w, GW_ARRAY_SIZE(w)), 1);
    cr_assert(strstr(w[0], "no models configured"), "%s", w[0]);
    gw_config_free(cfg);

    cfg = load_ok("providers:\n  - name: p\n    type: openai\n"
                  "models:\n  - name: m\n    provider: p\n");
    cr_assert_eq(gw_config_warnings(cfg, w, GW_ARRAY_SIZE(w)), 1);
    cr_assert(strstr(w[0], "no keys configured"), "%s", w[0]);
    gw_config_free(cfg);

    setenv("CONDUIT_DEMO_KEY", "sk-demo-123", 1);
    setenv("OPENAI_API_KEY", "sk-openai-456", 1);
    cfg = load_ok(full_example);
    cr_assert_eq(gw_config_warnings(cfg, w, GW_ARRAY_SIZE(w)), 0);
    gw_config_free(cfg);
}

Test(config, metrics_require_key_is_a_server_boolean)
{
    struct gw_config *cfg = load_ok("server:\n  metrics_require_key: yes\n");
    cr_assert(cfg->server.metrics_require_key);
    gw_config_free(cfg);
    cfg = load_ok("server:\n  metrics_require_key: false\n");
    cr_assert_not(cfg->server.metrics_require_key);
    gw_config_free(cfg);
    cr_assert_str_eq(load_err("server:\n  metrics_require_key: sometimes\n"),
                     "t.yaml:2: server.metrics_require_key: must be true or false, not "
                     "\"sometimes\"");
}

Test(config, store_admin_and_prices_have_defaults)
{
    struct gw_config *cfg = load_ok("");
    cr_assert_str_eq(cfg->store.url, "", "no store unless the file names one");
    cr_assert_eq(cfg->store.flush_interval_ms, 200);
    cr_assert_eq(cfg->store.resync_interval_ms, 30000);
    cr_assert_eq(cfg->store.timeout_ms, 5000);
    cr_assert_eq(cfg->store.log_file_bytes, 64ull << 20);
    cr_assert_eq(cfg->store.max_budgets, 65536);
    cr_assert_eq(cfg->store.default_max_tokens, 4096);
    cr_assert_str_eq(cfg->admin.listen, "127.0.0.1:8001");
    cr_assert_eq(port_of(&cfg->admin.listen_addr), 8001);
    cr_assert_str_eq(cfg->admin.master_key, "", "admin API off without a master key");
    cr_assert_eq(cfg->nprices, 0);
    cr_assert_null(cfg->accounts, "the loader attaches no accounts: the control thread does");
    gw_config_free(cfg);
}

Test(config, sqlite_store_is_next_to_the_config_file)
{
    struct gw_config *cfg = NULL;
    struct gw_config_error err;
    static const char y[] = "store:\n  url: \"sqlite:data/c.db\"\n  flush_interval: 50ms\n"
                            "  log_file_bytes: 1MiB\n  max_budgets: 10\n";
    cr_assert_eq(gw_config_load_buffer("/etc/conduit/c.yaml", y, sizeof(y) - 1, &cfg, &err), 0,
                 "%s", err.message);
    cr_assert_str_eq(cfg->store.url, "sqlite:/etc/conduit/data/c.db");
    cr_assert_str_eq(cfg->store.log_dir, "/etc/conduit/data/c.db.usage");
    cr_assert_eq(cfg->store.flush_interval_ms, 50);
    cr_assert_eq(cfg->store.log_file_bytes, 1u << 20);
    cr_assert_eq(cfg->store.max_budgets, 10);
    gw_config_free(cfg);
    /* An absolute file stays; "sqlite://" is the same scheme; PostgreSQL logs go beside the file. */
    cfg = load_ok("store: {url: \"sqlite:///var/lib/c.db\"}\n");
    cr_assert_str_eq(cfg->store.url, "sqlite:///var/lib/c.db");
    cr_assert_str_eq(cfg->store.log_dir, "/var/lib/c.db.usage");
    gw_config_free(cfg);
    cfg = load_ok("store: {url: \"postgresql://u@127.0.0.1:5432/db\", log_dir: /srv/u}\n");
    cr_assert_str_eq(cfg->store.log_dir, "/srv/u");
    gw_config_free(cfg);
}

Test(config, prices_override_the_table)
{
    struct gw_config *cfg = load_ok("prices:\n"
                                    "  - {model: gpt-4o-mini, input: 0.15, output: 0.6, "
                                    "cached_input: 0.075}\n"
                                    "  - {model: emb, input: 0.02, output: 0, embedding: 0.02}\n");
    cr_assert_eq(cfg->nprices, 2);
    cr_assert_str_eq(cfg->prices[0].model, "gpt-4o-mini");
    cr_assert_float_eq(cfg->prices[0].input, 0.15, 1e-12);
    cr_assert_float_eq(cfg->prices[0].output, 0.6, 1e-12);
    cr_assert_float_eq(cfg->prices[0].cached_input, 0.075, 1e-12);
    cr_assert_lt(cfg->prices[0].cache_write, 0.0, "not set");
    cr_assert_lt(cfg->prices[0].embedding, 0.0, "not set");
    cr_assert_float_eq(cfg->prices[1].embedding, 0.02, 1e-12);
    gw_config_free(cfg);
}

static const struct error_case store_error_cases[] = {
    {"store:\n  url: \"mysql://x\"\n",
     "t.yaml:2: store.url: must start with sqlite: or postgres:// (or postgresql://)"},
    {"store:\n  url: \"sqlite:\"\n",
     "t.yaml:2: store.url: names no database file (use sqlite:conduit.db)"},
    {"store:\n  flush_interval: 0ms\n", "t.yaml:2: store.flush_interval: must be at least 1ms"},
    {"store:\n  log_file_bytes: 1KiB\n",
     "t.yaml:2: store.log_file_bytes: must be from 65536 to 1099511627776 bytes"},
    {"store: [1]\n", "t.yaml:1: store: must be a mapping, not a list"},
    {"store:\n  uri: x\n", "t.yaml:2: store.uri: unknown key"},
    {"admin:\n  master_key: short\n",
     "t.yaml:2: admin.master_key: is shorter than 16 characters: use a long random secret"},
    {"admin:\n  listen: nowhere\n",
     "t.yaml:2: admin.listen: missing port (expected host:port, e.g. 127.0.0.1:8000)"},
    {"prices:\n  - {model: m, input: 1}\n", "t.yaml:2: prices[0].output: is required"},
    {"prices:\n  - {model: m, input: -1, output: 1}\n",
     "t.yaml:2: prices[0].input: must be a price in USD per 1M tokens, from 0 to 1000000, not "
     "\"-1\""},
    {"prices:\n  - {model: m, input: 1e9, output: 1}\n",
     "t.yaml:2: prices[0].input: must be a price in USD per 1M tokens, from 0 to 1000000, not "
     "\"1e9\""},
    {"prices:\n  - {model: m, input: nan, output: 1}\n",
     "t.yaml:2: prices[0].input: must be a price in USD per 1M tokens, from 0 to 1000000, not "
     "\"nan\""},
    {"prices:\n  - {model: m, input: 1, output: 1}\n  - {model: m, input: 2, output: 2}\n",
     "t.yaml:3: prices[1].model: duplicate price for \"m\" (also prices[0])"},
};

Test(config, store_admin_and_price_errors_name_file_line_and_key)
{
    expect_errors(store_error_cases, GW_ARRAY_SIZE(store_error_cases));
}

Test(config, no_keys_warning_is_not_given_with_a_store)
{
    const char *w[4];
    struct gw_config *cfg = load_ok("store: {url: \"sqlite:c.db\"}\n"
                                    "providers:\n  - name: p\n    type: openai\n"
                                    "models:\n  - name: m\n    provider: p\n");
    cr_assert_eq(gw_config_warnings(cfg, w, GW_ARRAY_SIZE(w)), 0, "keys come from the store");
    gw_config_free(cfg);
}

Test(config, a_derived_snapshot_shares_its_base_until_both_are_gone)
{
    struct gw_config *base = load_ok("keys:\n  - {name: a, key: sk-a}\n"
                                     "providers:\n  - name: p\n    type: openai\n"
                                     "models:\n  - name: m\n    provider: p\n");
    struct gw_accounts_builder *b = gw_accounts_builder_new(NULL, NULL);
    struct gw_accounts *acc = gw_accounts_builder_finish(b);
    cr_assert_not_null(acc);
    struct gw_config *d = gw_config_derive(base, acc);
    cr_assert_not_null(d);
    gw_accounts_unref(acc);
    cr_assert_eq(d->accounts, acc);
    cr_assert_eq(d->models, base->models, "the derived snapshot borrows the base's models");
    cr_assert_not_null(gw_config_find_model(d, gw_span_cstr("m")));
    /* Derive again from the derived one: it still borrows the one base. */
    struct gw_config *d2 = gw_config_derive(d, acc);
    cr_assert_eq(d2->_base, base);
    /* Freed in publication order (RCU retires the oldest first); ASan catches an early free. */
    gw_config_free(base);
    cr_assert_str_eq(gw_config_find_model(d, gw_span_cstr("m"))->name, "m");
    gw_config_free(d);
    cr_assert_str_eq(d2->models[0].provider->name, "p");
    gw_config_free(d2);
}
