/*
 * conduit.c — the entry point: flags, signals, the first snapshot, the
 * listeners and workers, then the control loop on the main thread. The one
 * file that sees every layer (core/ARCHITECTURE.md): it wires net/tls into the config
 * loader's provider hook.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/config.h"
#include "core/control.h"
#include "core/rcu.h"
#include "core/spend.h"
#include "core/usage.h"
#include "net/admin.h"
#include "net/tls.h"
#include "net/worker.h"
#include "store/runtime.h"

static int provider_prepare(struct gw_provider *p, struct gw_config_error *err)
{
    if (!p->tls)
        return 0;
    char msg[256];
    struct gw_tls_anchors *a = gw_tls_anchors_load(p->tls_ca_file, msg, sizeof(msg));
    if (!a) {
        snprintf(err->message, sizeof(err->message), "provider %s: tls_ca_file: %s", p->name, msg);
        return -1;
    }
    p->tls_anchors = a;
    return 0;
}

static void provider_release(struct gw_provider *p)
{
    gw_tls_anchors_free((struct gw_tls_anchors *)p->tls_anchors);
    p->tls_anchors = NULL;
}

static void wake_all(void *arg)
{
    struct gw_runtime *rt = arg;
    for (unsigned i = 0; i < rt->nworkers; i++)
        gw_worker_wake_on_control(&rt->workers[i]);
}

static bool all_done(void *arg)
{
    struct gw_runtime *rt = arg;
    return atomic_load_explicit(&rt->workers_exited, memory_order_acquire) == rt->nworkers;
}

/* The process's store, when the config names one (control thread; NULL otherwise). */
static struct gw_store_rt *store_rt;

static struct gw_accounts *accounts_build(void *arg, const struct gw_config *cfg)
{
    (void)arg;
    if (store_rt)
        return gw_store_rt_build_accounts(store_rt, cfg);
    char err[256];
    struct gw_accounts *a = gw_store_accounts_from_config(cfg, err, sizeof(err));
    if (!a)
        fprintf(stderr, "conduit: keys and prices: %s\n", err);
    return a;
}

static bool accounts_dirty(void *arg)
{
    (void)arg;
    return store_rt && gw_store_rt_dirty(store_rt);
}

static void published(void *arg, struct gw_config *cfg)
{
    (void)arg;
    if (store_rt)
        gw_store_rt_set_current(store_rt, cfg->accounts);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: conduit [-c FILE] [--check-config] [--version]\n"
            "       conduit migrate [-c FILE]\n"
            "  -c, --config FILE   configuration (default $CONDUIT_CONFIG or ./conduit.yaml)\n"
            "      --check-config  load and validate the configuration, then exit\n"
            "      --version       print the version and exit\n"
            "  migrate             apply the store's schema migrations (store.url), then exit\n");
}

int main(int argc, char **argv)
{
    /*
     * A fixed mmap threshold: a request body or translation larger than this
     * gets its own mapping, which free() returns to the kernel at once. With
     * glibc's default the threshold climbs after the first large free (up to
     * 32 MiB), and later large requests come from the heap, whose freed
     * memory an idle process keeps: a few 8 MB requests would then pin tens
     * of MB for as long as the process lives.
     */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    const char *path = getenv("CONDUIT_CONFIG");
    if (!path || !*path)
        path = "conduit.yaml";
    bool check = false;
    bool migrate = false;
    if (argc > 1 && !strcmp(argv[1], "migrate")) {
        migrate = true;
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"version", no_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hv", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'v':
            printf("conduit %s\n", GW_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    /* Every thread inherits this mask; only the control loop's signalfd sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static const struct gw_config_hooks hooks = {.provider_prepare = provider_prepare,
                                                 .provider_release = provider_release};
    gw_config_set_hooks(&hooks);
    struct gw_config *cfg;
    struct gw_config_error err;
    /* What the file was when read: the control loop reloads it if it changed
     * before its watch was set up. */
    struct stat cst;
    memset(&cst, 0, sizeof(cst));
    stat(path, &cst);
    if (gw_config_load_file(path, &cfg, &err) < 0) {
        fprintf(stderr, "conduit: %s\n", err.message);
        return 1;
    }
    /* A config that loads can still refuse every request: say so, here and
     * from --check-config (the control thread says it again at each reload). */
    const char *warn[4];
    size_t nw = gw_config_warnings(cfg, warn, GW_ARRAY_SIZE(warn));
    for (size_t i = 0; i < nw && i < GW_ARRAY_SIZE(warn); i++)
        fprintf(stderr, "conduit: warning: %s\n", warn[i]);
    if (check) {
        printf("%s: OK (%zu providers, %zu models, %zu keys)\n", path, cfg->nproviders,
               cfg->nmodels, cfg->nkeys);
        gw_config_free(cfg);
        return 0;
    }
    if (migrate) {
        char msg[600];
        if (!cfg->store.url[0]) {
            fprintf(stderr, "conduit: %s names no store (store.url)\n", path);
            return 1;
        }
        int mr = gw_store_migrate_url(cfg->store.url, msg, sizeof(msg));
        fprintf(mr < 0 ? stderr : stdout, "conduit: %s\n", msg);
        gw_config_free(cfg);
        return mr < 0 ? 1 : 0;
    }
    if (cfg->admin.master_key[0] && !cfg->store.url[0]) {
        fprintf(stderr,
                "conduit: %s: admin.master_key is set but store.url is not: the admin API "
                "keeps keys in the store (add store: {url: \"sqlite:conduit.db\"})\n",
                path);
        return 1;
    }

    /* Direct descriptors are bounded by RLIMIT_NOFILE per ring: take the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    static struct gw_runtime rt;
    rt.start_time = (uint64_t)time(NULL);
    unsigned n = cfg->server.workers;
    bool with_store = cfg->store.url[0] != '\0';
    /* The store thread reads snapshots too: RCU reader n. */
    if (gw_rcu_init(&rt.rcu, n + (with_store ? 1 : 0)) < 0) {
        fprintf(stderr, "conduit: out of memory\n");
        return 1;
    }
    rt.workers = aligned_alloc(GW_CACHELINE,
                               ((sizeof(struct gw_worker) * n + GW_CACHELINE - 1) / GW_CACHELINE) *
                                   GW_CACHELINE);
    if (!rt.workers) {
        fprintf(stderr, "conduit: out of memory\n");
        return 1;
    }
    memset(rt.workers, 0, sizeof(struct gw_worker) * n);
    static struct gw_spend_board board;
    static char boot[17];
    struct gw_usage_handoff **handoffs = NULL; /* lent to the store runtime until it stops */
    if (with_store) {
        handoffs = calloc(n, sizeof(*handoffs));
        if (!handoffs || gw_spend_board_init(&board, cfg->store.max_budgets, n) < 0 ||
            gw_usage_boot_id(boot) < 0) {
            fprintf(stderr, "conduit: out of memory\n");
            return 1;
        }
        for (unsigned i = 0; i < n; i++)
            handoffs[i] = &rt.workers[i].shared.usage;
        char serr[1200];
        store_rt =
            gw_store_rt_start(cfg, &rt.rcu, n, &board, handoffs, n, boot, serr, sizeof(serr));
        if (!store_rt) {
            fprintf(stderr, "conduit: %s\n", serr);
            return 1;
        }
        rt.board = &board;
        rt.boot = boot;
        rt.store_stats = gw_store_rt_stats(store_rt);
    }
    /* The first snapshot carries its keys, teams and prices like every later one. */
    struct gw_accounts *acc = accounts_build(NULL, cfg);
    if (!acc) {
        fprintf(stderr, "conduit: cannot build the key table\n");
        return 1;
    }
    gw_config_set_accounts(cfg, acc);
    gw_accounts_unref(acc);
    gw_rcu_publish_on_control(&rt.rcu, cfg);
    published(NULL, cfg);
    /* Pin within the CPUs this process may use (taskset, a cgroup cpuset, a
     * Kubernetes CPU manager): worker i goes to the i-th allowed CPU. */
    int cpus[CPU_SETSIZE];
    int ncpus = 0;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[ncpus++] = c;
    /* Refuse an address another process listens on (gw_listener_probe), and
     * give every worker the same port when the file says port 0. */
    struct sockaddr_storage listen_addr = cfg->server.listen_addr;
    uint16_t port = 0;
    int pr = gw_listener_probe((struct sockaddr *)&listen_addr, cfg->server.listen_addrlen, &port);
    if (pr == -EADDRINUSE) {
        fprintf(stderr, "conduit: %s is already in use by another process; refusing to start\n",
                cfg->server.listen);
        return 1;
    }
    if (pr < 0) {
        fprintf(stderr, "conduit: listen on %s: %s\n", cfg->server.listen, strerror(-pr));
        return 1;
    }
    if (listen_addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&listen_addr)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)&listen_addr)->sin_port = htons(port);
    for (unsigned i = 0; i < n; i++) {
        int fd = gw_listener_open((struct sockaddr *)&listen_addr, cfg->server.listen_addrlen);
        if (fd < 0) {
            fprintf(stderr, "conduit: listen on %s: %s\n", cfg->server.listen, strerror(-fd));
            return 1;
        }
        int r = gw_worker_start(&rt.workers[i], &rt, i, ncpus ? cpus[i % (unsigned)ncpus] : -1, fd);
        if (r < 0) {
            fprintf(stderr, "conduit: worker %u failed to start: %s\n", i, strerror(-r));
            return 1;
        }
        rt.nworkers = i + 1;
    }
    if (store_rt && gw_store_rt_run(store_rt) < 0) {
        fprintf(stderr, "conduit: cannot start the store thread\n");
        return 1;
    }
    struct gw_admin_server *admin = NULL;
    if (cfg->admin.master_key[0]) {
        int ar = gw_admin_server_start((struct sockaddr *)&cfg->admin.listen_addr,
                                       cfg->admin.listen_addrlen, gw_store_rt_admin_handle,
                                       store_rt, &admin);
        if (ar < 0) {
            fprintf(stderr, "conduit: admin.listen %s: %s\n", cfg->admin.listen, strerror(-ar));
            return 1;
        }
        fprintf(stderr,
                "{\"level\":\"info\",\"thread\":\"control\",\"msg\":\"admin API listening on "
                "%s (port %u)\"}\n",
                cfg->admin.listen, (unsigned)gw_admin_server_port(admin));
    }
    fprintf(stderr,
            "{\"level\":\"info\",\"thread\":\"control\",\"msg\":\"conduit %s listening on %s "
            "(port %u) with %u workers (config %s, generation %llu)\"}\n",
            GW_VERSION, cfg->server.listen, (unsigned)port, n, path,
            (unsigned long long)cfg->generation);

    struct gw_control ctl = {.path = path,
                             .rcu = &rt.rcu,
                             .draining = &rt.draining,
                             .arg = &rt,
                             .wake_workers = wake_all,
                             .workers_done = all_done,
                             .accounts_build = accounts_build,
                             .accounts_dirty = accounts_dirty,
                             .published = published,
                             .accounts_wake_fd = store_rt ? gw_store_rt_wake_fd(store_rt) : -1,
                             .loaded_ino = (unsigned long long)cst.st_ino,
                             .loaded_size = (unsigned long long)cst.st_size,
                             .loaded_mtime_ns = (long long)cst.st_mtim.tv_sec * 1000000000LL +
                                                cst.st_mtim.tv_nsec};
    int rc = gw_control_run(&ctl);
    if (rc != 0) {
        fflush(stdout);
        _exit(rc);
    }
    for (unsigned i = 0; i < rt.nworkers; i++)
        gw_worker_join(&rt.workers[i]);
    gw_admin_server_stop(admin);
    /* After the workers: their last records are inserted now. */
    gw_store_rt_stop(store_rt);
    store_rt = NULL;
    free(handoffs);
    if (with_store)
        gw_spend_board_destroy(&board);
    free(rt.workers);
    gw_rcu_destroy(&rt.rcu);
    return 0;
}
