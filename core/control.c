#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/accounts.h"
#include "core/common.h"
#include "core/config.h"
#include "core/control.h"
#include "core/log.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int gw_control_reload(struct gw_control *ctl)
{
    struct gw_config *cfg;
    struct gw_config_error err;
    if (gw_config_load_file(ctl->path, &cfg, &err) < 0) {
        struct gw_config *cur = gw_rcu_current(ctl->rcu);
        gw_log_line("control", "error", "config reload refused: %s; keeping generation %llu",
                    err.message, (unsigned long long)(cur ? cur->generation : 0));
        return -1;
    }
    struct gw_config *cur = gw_rcu_current(ctl->rcu);
    if (cur && (cur->server.workers != cfg->server.workers ||
                strcmp(cur->server.listen, cfg->server.listen) != 0))
        gw_log_line("control", "warn",
                    "server.listen and server.workers take effect on restart only");
    /* A config that loads can still refuse every request: say so (the same
     * lines as at start), and publish it all the same, as the file says. */
    const char *warn[4];
    size_t nw = gw_config_warnings(cfg, warn, GW_ARRAY_SIZE(warn));
    if (ctl->accounts_build) {
        struct gw_accounts *acc = ctl->accounts_build(ctl->arg, cfg);
        if (!acc && cur && cur->accounts) {
            gw_log_line("control", "warn",
                        "keys and prices could not be rebuilt; the ones in force stay");
            acc = cur->accounts;
            gw_accounts_ref(acc);
        }
        if (!acc) {
            gw_log_line("control", "error",
                        "config reload refused: keys and prices could not be built; keeping "
                        "generation %llu",
                        (unsigned long long)(cur ? cur->generation : 0));
            gw_config_free(cfg);
            return -1;
        }
        gw_config_set_accounts(cfg, acc);
        gw_accounts_unref(acc);
    }
    uint64_t gen = gw_rcu_publish_on_control(ctl->rcu, cfg);
    if (ctl->published)
        ctl->published(ctl->arg, cfg);
    if (ctl->wake_workers)
        ctl->wake_workers(ctl->arg);
    gw_log_line("control", "info",
                "config loaded from %s: generation %llu, %zu providers, %zu models, %zu keys",
                ctl->path, (unsigned long long)gen, cfg->nproviders, cfg->nmodels, cfg->nkeys);
    for (size_t i = 0; i < nw && i < GW_ARRAY_SIZE(warn); i++)
        gw_log_line("control", "warn", "%s: %s", ctl->path, warn[i]);
    return 0;
}

int gw_control_refresh_accounts(struct gw_control *ctl)
{
    struct gw_config *cur = gw_rcu_current(ctl->rcu);
    if (!ctl->accounts_build || !cur)
        return -1;
    struct gw_accounts *acc = ctl->accounts_build(ctl->arg, cur);
    if (!acc)
        return -1;
    struct gw_config *d = gw_config_derive(cur, acc);
    gw_accounts_unref(acc);
    if (!d) {
        gw_log_line("control", "error", "keys not published: out of memory");
        return -1;
    }
    gw_rcu_publish_on_control(ctl->rcu, d);
    if (ctl->published)
        ctl->published(ctl->arg, d);
    if (ctl->wake_workers)
        ctl->wake_workers(ctl->arg);
    return 0;
}

int gw_control_run(struct gw_control *ctl)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        gw_log_line("control", "error", "signalfd: %s", strerror(errno));
        return 1;
    }
    /* Watch the directory: editors and config managers replace the file by rename. */
    char dir[PATH_MAX];
    const char *slash = strrchr(ctl->path, '/');
    const char *base = slash ? slash + 1 : ctl->path;
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ctl->path), ctl->path);
    else
        snprintf(dir, sizeof(dir), ".");
    if (!dir[0])
        snprintf(dir, sizeof(dir), "/");
    int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd >= 0 &&
        inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
        gw_log_line("control", "warn", "cannot watch %s for changes (%s); reload with SIGHUP", dir,
                    strerror(errno));
        close(ifd);
        ifd = -1;
    }

    bool draining = false;
    uint64_t drain_deadline = 0, reload_at = 0;
    /* The file may have been replaced between the first load and the watch above. */
    struct stat st;
    if (stat(ctl->path, &st) == 0 &&
        ((unsigned long long)st.st_ino != ctl->loaded_ino ||
         (unsigned long long)st.st_size != ctl->loaded_size ||
         (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec !=
             ctl->loaded_mtime_ns))
        reload_at = mono_ms();
    int rc = 0;
    for (;;) {
        /* A negative fd is ignored by poll: the inotify watch and the accounts
         * wakeup are optional. */
        struct pollfd pf[3] = {{.fd = sfd, .events = POLLIN},
                               {.fd = ifd, .events = POLLIN},
                               {.fd = ctl->accounts_wake_fd > 0 ? ctl->accounts_wake_fd : -1,
                                .events = POLLIN}};
        int r = poll(pf, 3, 50);
        if (r > 0 && (pf[2].revents & POLLIN)) {
            uint64_t v;
            /* Drained here; accounts_dirty below says what changed. */
            while (read(pf[2].fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                ;
        }
        if (r < 0 && errno != EINTR) {
            gw_log_line("control", "error", "poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (r > 0 && (pf[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    reload_at = mono_ms();
                } else if (!draining) {
                    draining = true;
                    struct gw_config *cur = gw_rcu_current(ctl->rcu);
                    drain_deadline = mono_ms() + cur->server.drain_timeout_ms + 2000;
                    gw_log_line("control", "info", "signal %u: draining (up to %u ms)",
                                si.ssi_signo, cur->server.drain_timeout_ms);
                    /* pairs with the workers' acquire loads at the top of their loops */
                    atomic_store_explicit(ctl->draining, true, memory_order_release);
                    if (ctl->wake_workers)
                        ctl->wake_workers(ctl->arg);
                } else {
                    gw_log_line("control", "warn",
                                "second signal: exiting without waiting for the drain");
                    rc = 1;
                    goto out;
                }
            }
        }
        if (ifd >= 0 && r > 0 && (pf[1].revents & POLLIN)) {
            char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
            ssize_t n;
            while ((n = read(ifd, buf, sizeof(buf))) > 0) {
                for (char *p = buf; p < buf + n;) {
                    struct inotify_event *ev = (struct inotify_event *)p;
                    if (ev->len && strcmp(ev->name, base) == 0)
                        reload_at = mono_ms() + 100; /* let a burst of writes settle */
                    p += sizeof(*ev) + ev->len;
                }
            }
        }
        if (reload_at && mono_ms() >= reload_at && !draining) {
            reload_at = 0;
            gw_control_reload(ctl);
        } else if (!draining && ctl->accounts_dirty && ctl->accounts_dirty(ctl->arg)) {
            /* A key, team or price changed (admin API, another instance), or the
             * periodic resync is due: publish them without rereading the file. */
            gw_control_refresh_accounts(ctl);
        }
        gw_rcu_reclaim_on_control(ctl->rcu);
        if (draining) {
            if (ctl->workers_done && ctl->workers_done(ctl->arg))
                break;
            if (mono_ms() > drain_deadline) {
                gw_log_line("control", "error", "drain deadline passed with requests still open");
                rc = 1;
                break;
            }
        }
    }
out:
    if (ifd >= 0)
        close(ifd);
    close(sfd);
    if (rc == 0)
        gw_log_line("control", "info", "drained; exiting");
    return rc;
}
