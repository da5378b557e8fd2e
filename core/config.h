/*
 * core/config.h — the configuration model and the YAML loader.
 *
 * A struct gw_config is one immutable snapshot: everything it points at lives
 * in its own arena and is freed whole by gw_config_free ([ngx cycle]).
 * It is built on the control thread only: loading reads the file, interpolates
 * ${VAR} from the environment, validates, resolves host names (blocking
 * getaddrinfo: never on a worker), and runs the provider hook (TLS trust
 * anchors) before the snapshot is published.
 *
 * Errors name the file, line and key: "conduit.yaml:12: providers[0].base_url:
 * must start with http:// or https://".
 *
 * Later issues add sections and fields. Unknown keys anywhere are refused
 * with their line, so a typo never silently falls back to a default.
 */
#ifndef GW_CORE_CONFIG_H
#define GW_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/arena.h"
#include "core/span.h"

/*
 * The wire dialect a provider speaks. The config's `type:` names either a
 * dialect or a preset of one: mistral, groq, deepseek, together, fireworks,
 * openrouter, perplexity, xai, ollama and vllm are the openai dialect with
 * their own default base_url and quirks (gw_provider.type_name keeps the name).
 */
enum gw_provider_type {
    GW_PT_OPENAI = 0, /* OpenAI's API: Authorization: Bearer, base_url + /chat/completions */
    GW_PT_AZURE,      /* Azure OpenAI: api-key header; v1 or dated deployment paths */
    GW_PT_ANTHROPIC,  /* Anthropic's Messages API, translated (providers/anthropic.c) */
    GW_PT_GEMINI,     /* Google's Gemini API (generateContent), translated (providers/gemini.c) */
    GW_PT_BEDROCK,    /* AWS Bedrock Converse, SigV4-signed, translated (providers/bedrock.c) */
    GW_PT_COHERE,     /* Cohere's v2 chat and embed, translated (providers/cohere.c) */
    GW_PT_COUNT
};

const char *gw_provider_type_str(enum gw_provider_type t);

struct gw_provider {
    const char *name;
    enum gw_provider_type type;
    const char *type_name;   /* as configured: "openai", "azure", "groq", ... */
    bool stream_usage_option; /* the API takes stream_options.include_usage (the relay asks
                               * for usage with it); false where the preset's API refuses it */
    const char *organization; /* openai family: OpenAI-Organization header; "" = none */
    const char *project;      /* openai family: OpenAI-Project header; "" = none */
    const char *api_version;  /* azure: "v1" (default: /openai/v1/...) or a dated version
                               * such as "2024-10-21" (/openai/deployments/{d}/...?api-version=) */
    const char *deployment;   /* azure, dated versions: deployment; "" = the model's upstream name */
    const char *anthropic_version; /* anthropic: the anthropic-version header; default
                                    * "2026-10-21" (current), or "2023-06-01" */
    /* bedrock: SigV4 credentials and region; from the file, else the standard AWS
     * environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
     * AWS_SESSION_TOKEN, AWS_REGION or AWS_DEFAULT_REGION) at load time. "" = none
     * (the session token is optional; the others are required for bedrock). */
    const char *aws_access_key_id;
    const char *aws_secret_access_key;
    const char *aws_session_token;
    const char *region;
    const char *base_url;    /* as configured, e.g. "https://api.openai.com/v1" */
    bool tls;                /* https */
    const char *host;        /* host part of base_url: SNI, certificate name check */
    uint16_t port;           /* explicit, or 80/443 */
    const char *host_header; /* value for Host: "host" or "host:port" when not default */
    const char *base_path;   /* path part without trailing '/', may be "" ("/v1") */
    const char *api_key;     /* sent as Authorization: Bearer; "" = none */
    /* PEM bundle (https); default /etc/ssl/certs/ca-certificates.crt; "" for http */
    const char *tls_ca_file;
    uint32_t connect_timeout_ms;    /* TCP connect alone; default 5000 */
    uint32_t handshake_timeout_ms;  /* TLS handshake, after connect; default 10000 */
    uint32_t send_timeout_ms;       /* longest wait for any progress sending the request; 30000 */
    uint32_t first_byte_timeout_ms; /* request sent -> first response byte; default 120000 */
    uint32_t read_timeout_ms;       /* gap between response bytes; default 120000 */
    uint32_t pool_max_idle;         /* idle keep-alive connections kept per worker; default 64 */
    uint32_t pool_idle_timeout_ms;  /* default 60000 */
    uint32_t pool_max_conns;        /* connections per worker to this origin; default 65536 */
    uint32_t pool_max_requests;     /* requests per connection before it is retired; default 1000 */
    struct sockaddr_storage addr;   /* resolved on the control thread */
    socklen_t addrlen;
    const void *tls_anchors; /* built by the provider hook (net/tls), freed by its release */
    const char *origin_key;  /* "scheme://host:port|ca_file|addr": pools are keyed by it */
    uint32_t index;          /* position in gw_config.providers */
};

struct gw_model {
    const char *name;                   /* what clients ask for */
    const struct gw_provider *provider; /* points into the same snapshot */
    const char *upstream_model;         /* what the provider is asked for */
};

struct gw_key {
    const char *name;   /* shown in logs and metrics, never the secret */
    const char *secret; /* the bearer token */
    size_t secret_len;
};

struct gw_server_config {
    const char *listen;                  /* as configured, "127.0.0.1:8000" */
    struct sockaddr_storage listen_addr; /* resolved */
    socklen_t listen_addrlen;
    uint32_t workers;             /* 0 in the file = one per online CPU, resolved at load */
    uint32_t drain_timeout_ms;    /* default 30000 */
    uint32_t max_header_bytes;    /* request head; default 65536 */
    uint32_t max_headers;         /* default 100 */
    uint64_t max_body_bytes;      /* default 32 MiB */
    uint32_t header_timeout_ms;   /* first byte of a request to end of its head; default 10000 */
    uint32_t body_timeout_ms;     /* whole body; default 60000 */
    uint32_t idle_timeout_ms;     /* keep-alive wait for the next request; default 75000 */
    uint32_t max_sse_event_bytes; /* one upstream SSE event; default 1 MiB */
    bool access_log;              /* default true */
    bool metrics_require_key;     /* /metrics answers only a valid virtual key (401 otherwise,
                                   * as the API routes); default false. /healthz and /readyz
                                   * never need one (probes carry no key) */
};

/* store: — the key store and the usage log (README "Keys, teams and budgets"). */
struct gw_store_config {
    const char *url;             /* "sqlite:PATH" (relative to the config file's folder) or
                                  * "postgres://…"; "" = no store (the keys: section only) */
    uint32_t flush_interval_ms;  /* how often workers' usage records are inserted; 200 */
    uint32_t resync_interval_ms; /* full reload of keys and spend from the database (the
                                  * safety net under NOTIFY); default 30000 */
    uint32_t timeout_ms;         /* one database call, at most; default 5000 */
    const char *log_dir;         /* usage logs; "" = "<db file>.usage" (SQLite) or
                                  * "conduit-usage" beside the config (PostgreSQL) */
    uint64_t log_file_bytes;     /* a worker moves to a new log file past this; 64 MiB */
    uint32_t max_budgets;        /* keys and teams with a budget (spend slots), restart
                                  * only; default 65536 */
    uint32_t default_max_tokens; /* output tokens reserved at admission for a request
                                  * without max_tokens; default 4096 */
};

/* admin: — the admin API's own listener (README "Admin API"). */
struct gw_admin_config {
    const char *listen;                  /* default "127.0.0.1:8001" */
    struct sockaddr_storage listen_addr; /* resolved */
    socklen_t listen_addrlen;
    const char *master_key;              /* "" = admin API off */
};

/* prices: — overrides of the shipped price table, USD per 1M tokens; < 0 = not set. */
struct gw_price_override {
    const char *model;
    double input, output, cached_input, cache_write, embedding;
};

struct gw_accounts;

struct gw_config {
    uint64_t generation; /* set by gw_rcu_publish_on_control */
    const char *path;    /* file it came from */
    struct gw_server_config server;
    struct gw_store_config store;
    struct gw_admin_config admin;
    struct gw_price_override *prices;
    size_t nprices;
    /* keys, teams and prices (core/accounts.h): attached by the control thread
     * before the snapshot is published (a reference it owns); NULL in a
     * snapshot fresh from the loader */
    struct gw_accounts *accounts;
    struct gw_provider *providers;
    size_t nproviders;
    struct gw_model *models;
    size_t nmodels;
    struct gw_key *keys;
    size_t nkeys;
    /* private, in the arena: open addressing over models by name (FNV-1a, linear probing);
     * entry = model index + 1, 0 = empty; size a power of two, at least twice nmodels */
    uint32_t *_model_index;
    size_t _model_index_size;
    /* private: providers [0, _nprepared) went through provider_prepare: release them */
    size_t _nprepared;
    /* private: the release hook in force at load time */
    void (*_provider_release)(struct gw_provider *p);
    /* private: a derived snapshot (gw_config_derive) borrows everything but its
     * accounts from _base; a base counts its own reference and its derived ones
     * in _refs (control thread only) */
    struct gw_config *_base;
    unsigned _refs;
    struct gw_arena arena; /* owns everything above */
};

/*
 * Why a load failed, one line for a person: "FILE:LINE: key.path: what is wrong"
 * (LINE is 1-based; "FILE: what is wrong" when no line applies, e.g. unreadable file).
 */
struct gw_config_error {
    char message[512];
};

/*
 * The provider hook: called on the control thread for every provider after
 * validation, to build data a worker will need (TLS trust anchors). It
 * returns 0 or -1 with a message in err (the loader prefixes "FILE:LINE:
 * providers[i]: "); a failed prepare must undo its own work. release undoes a
 * successful prepare when the snapshot is freed, also when a later provider's
 * prepare fails. Both may be NULL (tests of the loader).
 *
 * resolve_host, when set, replaces getaddrinfo for host names; numeric
 * addresses and "localhost" never reach it. It fills addr/addrlen (AF_INET or
 * AF_INET6; the port is overwritten) and returns 0, or -1 when the name does
 * not resolve. Tests use it to stay off DNS, the fuzz harness to refuse names.
 */
struct gw_config_hooks {
    int (*provider_prepare)(struct gw_provider *p, struct gw_config_error *err);
    void (*provider_release)(struct gw_provider *p);
    int (*resolve_host)(const char *host, struct sockaddr_storage *addr, socklen_t *addrlen);
};

/* Installs the hooks (copied; NULL clears them). Once at boot, before any load. */
void gw_config_set_hooks(const struct gw_config_hooks *hooks);

/*
 * Loads, validates and resolves a config file (control thread: blocking file
 * I/O and name resolution). Returns 0 with *out owned by the caller, or -1
 * with err filled (when non-NULL), *out NULL and nothing left allocated.
 */
int gw_config_load_file(const char *path, struct gw_config **out, struct gw_config_error *err);
/* Same from memory; `name` stands for the file name in messages. */
int gw_config_load_buffer(const char *name, const char *buf, size_t len, struct gw_config **out,
                          struct gw_config_error *err);
/*
 * Drops a snapshot: a loaded one is freed whole (runs the release hook) once
 * no derived snapshot borrows it; a derived one releases its accounts and
 * its hold on the base. NULL is ignored.
 */
void gw_config_free(struct gw_config *cfg);
/*
 * A new snapshot equal to cfg but with `accounts` (a new reference is taken):
 * how a change of keys, teams or prices is published without reading the file,
 * resolving names or loading certificates again. Control thread. NULL on
 * allocation failure.
 */
struct gw_config *gw_config_derive(struct gw_config *cfg, struct gw_accounts *accounts);
/* Attaches accounts to a snapshot not yet published (takes a new reference). */
void gw_config_set_accounts(struct gw_config *cfg, struct gw_accounts *accounts);

/*
 * What a snapshot that loaded fine will still do wrong, one line each for a
 * person: no keys (every API request is answered 401), no models (every chat
 * and embeddings request is answered 404). Writes up to max static strings
 * into out and returns how many there are (which may exceed max). The entry
 * point prints them at start and from --check-config, the control thread
 * logs them at reload.
 */
size_t gw_config_warnings(const struct gw_config *cfg, const char **out, size_t max);

/* Model by client-facing name, or NULL. O(1) average; safe on any thread. */
const struct gw_model *gw_config_find_model(const struct gw_config *cfg, struct gw_span name);

/*
 * Parses "30s", "500ms", "2m", "1h" or a bare number of seconds: decimal digits
 * then an optional unit, nothing else. Returns 0, or -1 on bad syntax or when
 * the result does not fit in 32 bits of milliseconds.
 */
int gw_parse_duration_ms(const char *s, uint32_t *out_ms);
/*
 * Parses "32MiB", "64KiB", "1GiB", "1000" (bytes), also KB/MB/GB as powers of 10;
 * units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB. Returns 0, or -1 on bad syntax
 * or 64-bit overflow.
 */
int gw_parse_size(const char *s, uint64_t *out);

#endif
