/*
 * store/runtime.h — the store's place in the running process: the accounts
 * the control thread publishes, the store thread that inserts usage and
 * keeps live spend in step with the database, and the admin API's
 * connection (core/ARCHITECTURE.md, "Keys, spend and the store").
 *
 * Threads:
 *   control  gw_store_rt_build_accounts (its own connection: keys, teams,
 *            prices), gw_store_rt_dirty (should it rebuild?);
 *   store    its own thread: every flush interval it opens the workers' next
 *            log files ahead, runs an ingest pass (store/ingest.h), applies
 *            what it inserted to the spend board, and every resync interval
 *            (or after a change) resets the board's settled spend from the
 *            database; on PostgreSQL it LISTENs for other instances' changes;
 *   admin    gw_store_rt_admin_handle, with its own connection.
 * Workers never call any of this.
 */
#ifndef GW_STORE_RUNTIME_H
#define GW_STORE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/accounts.h"
#include "core/config.h"
#include "core/rcu.h"
#include "core/span.h"
#include "core/spend.h"
#include "core/usage.h"

struct gw_store_rt;

/*
 * Builds the accounts of a snapshot without a store: the shipped prices,
 * the config's prices: and its static keys: (control thread). NULL with a
 * message in err on failure.
 */
struct gw_accounts *gw_store_accounts_from_config(const struct gw_config *cfg, char *err,
                                                  size_t errcap);

/*
 * Opens the store named by cfg->store.url (which must be set): connects,
 * migrates, creates the usage log folder, opens every worker's first log
 * file into handoffs[w], and starts the store thread, which reads snapshots
 * as RCU reader `rcu_reader`. Returns NULL with err filled on failure.
 */
struct gw_store_rt *gw_store_rt_start(const struct gw_config *cfg, struct gw_rcu *rcu,
                                      size_t rcu_reader, struct gw_spend_board *board,
                                      struct gw_usage_handoff *const *handoffs, unsigned nworkers,
                                      const char *boot, char *err, size_t errcap);
/* The counters the store thread keeps for /metrics (valid until gw_store_rt_stop). */
struct gw_store_stats *gw_store_rt_stats(struct gw_store_rt *rt);
/* Starts the store thread, once the workers have taken their first log files. 0 or -errno. */
int gw_store_rt_run(struct gw_store_rt *rt);
/*
 * Control thread: the accounts for cfg: config, shipped prices and the
 * database's keys, teams and prices. Keys and teams keep their spend slots
 * across rebuilds. NULL (logged) when the database cannot be read: keep the
 * accounts in force.
 */
struct gw_accounts *gw_store_rt_build_accounts(struct gw_store_rt *rt, const struct gw_config *cfg);
/* Control thread: true (once) when keys, teams or prices changed, or a resync is due. */
bool gw_store_rt_dirty(struct gw_store_rt *rt);
/* Any thread: something changed; rebuild soon (and resync spend). Wakes the control thread. */
void gw_store_rt_mark_dirty(struct gw_store_rt *rt);
/* The eventfd gw_store_rt_mark_dirty writes, for the control loop's poll. */
int gw_store_rt_wake_fd(const struct gw_store_rt *rt);
/* Control thread, after each publish: the accounts the admin API lists prices from. */
void gw_store_rt_set_current(struct gw_store_rt *rt, struct gw_accounts *acc);
/*
 * Admin thread: serves one admin API request (store/admin.h) with the admin
 * connection. *body is malloc'd.
 */
void gw_store_rt_admin_handle(void *rt, struct gw_span method, struct gw_span target,
                              struct gw_span authorization, struct gw_span body, int *status,
                              char **body_out, size_t *len_out);
/*
 * After the workers have stopped: one last ingest pass (whatever is
 * inserted now is not replayed at the next start), then the thread ends and
 * everything is closed. NULL is ignored.
 */
void gw_store_rt_stop(struct gw_store_rt *rt);

/* For `conduit migrate`: connects to url and migrates. 0, or -1 with err. */
int gw_store_migrate_url(const char *url, char *err, size_t errcap);

#endif
