/*
 * store/ingest.h — the store thread's half of the usage log: read what the
 * workers appended to their log files, insert it in batches, remember how
 * far it got, delete files that are done.
 *
 * One pass (gw_ingest_run) lists the log directory, and for each file in
 * (boot, worker, fileseq) order reads complete lines from the recorded
 * progress onward, inserts them with store/store.h's gw_store_insert_usage
 * (records + spend + progress in one transaction), and then:
 *   - a file of this boot that its worker has moved past (fileseq below the
 *     worker's current one), fully inserted: deleted, progress forgotten;
 *   - a file of another boot (a process that died or stopped): its records
 *     are replayed the same way; a torn last line is skipped (its response was
 *     never released to a client, core/usage.h); then deleted.
 * When the database is unavailable the pass fails and changes nothing: the
 * records wait in the files and the next pass inserts them.
 *
 * Files of the current boot are only read, never written: the workers own them.
 */
#ifndef GW_STORE_INGEST_H
#define GW_STORE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/usage.h"
#include "store/db.h"

struct gw_ingest_cfg {
    const char *dir;  /* the usage log directory (exists) */
    const char *boot; /* this process's boot id */
    unsigned nworkers;
    size_t batch_max; /* records per transaction; 0 = 2000 */
    /* worker w's current file (the one it appends to); files before it are complete */
    uint64_t (*current_file)(void *arg, unsigned w);
    /* each record once its batch committed; this_boot says whether it came from this process */
    void (*applied)(void *arg, const struct gw_usage_rec *r, bool this_boot);
    void *arg;
};

struct gw_ingest_stats {
    uint64_t records;      /* inserted */
    uint64_t batches;      /* transactions committed */
    uint64_t failures;     /* passes that failed (database unavailable, …) */
    uint64_t bad_lines;    /* complete lines that are not records: skipped, logged */
    uint64_t torn_skipped; /* torn last lines of dead processes' files */
    uint64_t files_deleted;
    uint64_t backlog_bytes; /* bytes in the files not yet inserted, after the last pass */
};

struct gw_ingest;

struct gw_ingest *gw_ingest_new(const struct gw_ingest_cfg *cfg);
void gw_ingest_free(struct gw_ingest *ing);
/*
 * One pass. Returns the number of records inserted (>= 0), or -1 with err
 * filled (err->unavailable: the database is down or locked; try again later).
 */
int64_t gw_ingest_run(struct gw_ingest *ing, struct gw_db *db, struct gw_db_err *err);
const struct gw_ingest_stats *gw_ingest_stats(const struct gw_ingest *ing);

#endif
