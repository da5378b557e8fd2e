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

#endif
