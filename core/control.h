/*
 * core/control.h — the control thread's loop: reload the config on SIGHUP or
 * when the file changes, publish snapshots, reclaim old ones, and run the
 * drain on SIGTERM/SIGINT. It owns every blocking step (file reads, DNS,
 * certificate loading) so that workers never block (core/ARCHITECTURE.md).
 *
 * It knows the workers only through callbacks, so core/ stays free of net/.
 */
#ifndef GW_CORE_CONTROL_H
#define GW_CORE_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/rcu.h"

struct gw_control {
    const char *path;            /* config file */
    struct gw_rcu *rcu;          /* snapshots; the first one is already published */
    _Atomic bool *draining;      /* set (release) when a drain starts */
    void *arg;                   /* for the callbacks */
    void (*wake_workers)(void *arg);  /* after publish and when draining starts */
    bool (*workers_done)(void *arg);  /* every worker has exited its loop */
    /*
     * Keys, teams and prices (core/accounts.h) for a snapshot: a new object
     * with one reference, or NULL when they cannot be built now (the store is
     * down): the accounts in force are kept. NULL callback: none are attached.
     */
    struct gw_accounts *(*accounts_build)(void *arg, const struct gw_config *cfg);
    /* True (once) when the accounts should be rebuilt; may be NULL. */
    bool (*accounts_dirty)(void *arg);
    /* An eventfd written when the accounts become dirty, so the loop wakes at
     * once rather than at its next 50 ms poll; 0 or negative: none. */
    int accounts_wake_fd;
    /* After each publish, with the accounts now in force; may be NULL. */
    void (*published)(void *arg, struct gw_config *cfg);
    /* The config file's identity when the first snapshot was read (st_ino,
     * st_mtim, st_size from stat; all 0 if unknown): a file replaced before
     * the watch was set up is reloaded at once, not missed. */
    unsigned long long loaded_ino, loaded_size;
    long long loaded_mtime_ns;
};

/*
 * Runs until the workers have drained after SIGTERM/SIGINT (the calling thread
 * must have those signals and SIGHUP blocked, as must every other thread).
 * Returns the process exit code: 0 after a clean drain, 1 when a second
 * signal or the drain deadline cut it short.
 */
int gw_control_run(struct gw_control *ctl);

/* Loads `path` and publishes it; logs and keeps the old snapshot on error. 0 or -1. */
int gw_control_reload(struct gw_control *ctl);
/* Rebuilds the accounts and publishes them with the current config. 0 or -1 (old kept). */
int gw_control_refresh_accounts(struct gw_control *ctl);

#endif
