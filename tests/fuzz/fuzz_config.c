/*
 * libFuzzer harness for core/config.c: any bytes as a config file.
 *
 * Host names never reach DNS: the resolve_host hook refuses every name, so
 * only numeric addresses and "localhost" (/etc/hosts) resolve, and a run
 * stays fast and deterministic. The provider hooks allocate in prepare and
 * free in release, and prepare fails for a provider named "fail", so
 * LeakSanitizer checks that every prepared provider is released, on success
 * and on a failure after partial preparation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_names(const char *host, struct sockaddr_storage *addr, socklen_t *addrlen)
{
    (void)host;
    (void)addr;
    (void)addrlen;
    return -1;
}

static int prepare(struct gw_provider *p, struct gw_config_error *err)
{
    if (!strcmp(p->name, "fail")) {
        snprintf(err->message, sizeof(err->message), "refused by the harness");
        return -1;
    }
    p->tls_anchors = malloc(16);
    return p->tls_anchors ? 0 : -1;
}

static void release(struct gw_provider *p)
{
    free((void *)p->tls_anchors);
    p->tls_anchors = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool hooked;
    if (!hooked) {
        struct gw_config_hooks h = {
            .provider_prepare = prepare, .provider_release = release, .resolve_host = no_names};
        gw_config_set_hooks(&h);
        setenv("FUZZ_SET", "value", 1);
        hooked = true;
    }
    struct gw_config *cfg = NULL;
    struct gw_config_error err;
    if (gw_config_load_buffer("fuzz.yaml", (const char *)data, size, &cfg, &err) == 0) {
        for (size_t i = 0; i < cfg->nmodels; i++) {
            const struct gw_model *m =
                cfg->models[i].name ? gw_config_find_model(cfg, gw_span_cstr(cfg->models[i].name))
                                    : NULL;
            if (m != &cfg->models[i])
                abort();
        }
        gw_config_free(cfg);
    } else if (cfg || !err.message[0] || !memchr(err.message, '\0', sizeof(err.message))) {
        abort();
    }
    return 0;
}
