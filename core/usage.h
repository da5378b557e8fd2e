/*
 * core/usage.h — one usage record per finished API request, and its line
 * format in the per-worker usage logs.
 *
 * A worker appends each record, as one line of JSON ending in '\n', to a log
 * file of its own through its ring; the store thread reads the files back
 * (store/ingest.c) and inserts the records in batches. A line is a record
 * only when it is complete: a torn last line (a process killed mid-write) is
 * not one, and the reader waits for its end or, in a dead process's file,
 * skips it. The record's response was held until its line was written
 * (net/relay.c), so a torn line never belongs to a response a client got.
 *
 * The record has fixed-size fields so that reading one allocates nothing.
 * Strings longer than their field are cut at a UTF-8 boundary when written.
 */
#ifndef GW_CORE_USAGE_H
#define GW_CORE_USAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_USAGE_LINE_MAX 4096 /* a formatted record never exceeds this, '\n' included */

struct gw_usage_rec {
    int64_t time_ms; /* when the request ended, Unix ms */
    char boot[24];   /* the writing process's boot id (random per start) */
    uint32_t worker; /* which worker wrote it */
    uint64_t seq;    /* per worker and boot, from 1, no gaps */
    char request_id[64];
    char key_id[48]; /* "" when no key was accepted */
    char key_name[128];
    char team_id[48];  /* "" when none */
    uint32_t key_slot; /* core/spend.h slots in the writing process; GW_SLOT_NONE = none */
    uint32_t team_slot;
    char model[256];      /* as asked for */
    char provider[128];   /* "" when none was chosen */
    char deployment[256]; /* the upstream model name it went to ("" when none) */
    char endpoint[24];    /* "chat", "embeddings" */
    bool stream;
    int status;     /* HTTP status the client got (499: client went away) */
    char error[48]; /* failure kind ("" when none): gw_fail_str, or an error code */
    uint64_t prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens;
    bool have_cost; /* false: the model's price is unknown (cost_usd null) */
    int64_t cost_pusd;
    int64_t est_pusd; /* what admission reserved */
    char price_version[64];
    int64_t ttfb_us; /* -1 when no first byte */
    int64_t duration_us;
    uint64_t bytes_in, bytes_out;
};

/*
 * Writes r as one line (JSON object + '\n') into out. Returns the length, or
 * -1 if cap is too small (GW_USAGE_LINE_MAX always suffices).
 */
int gw_usage_format(const struct gw_usage_rec *r, char *out, size_t cap);
/*
 * Reads one line (without its '\n') into r. Unknown members are ignored
 * (records from a newer version); missing ones keep their zero/empty
 * defaults, except `time_ms`, `boot`, `worker` and `seq`, which are required.
 * Returns 0, or -1 on anything that is not such a JSON object.
 */
int gw_usage_parse(const char *line, size_t len, struct gw_usage_rec *r);

/*
 * Usage log files: DIR/usage-BOOT-WW-SSSSSS.log (worker WW, file SSSSSS of that
 * worker in that boot, from 1). A worker writes one file at a time and moves
 * to the next when it passes its size limit; the store thread reads them in
 * order and deletes each once it is inserted and the worker has moved on.
 */
/* The file name (without DIR) into out. Returns its length or -1 when cap is too small. */
int gw_usage_log_name(const char *boot, unsigned worker, uint64_t fileseq, char *out, size_t cap);
/* Parses a name made by gw_usage_log_name. false for any other file. */
bool gw_usage_log_name_parse(const char *name, char *boot, size_t bootcap, unsigned *worker,
                             uint64_t *fileseq);
/*
 * One per worker, between the worker (writer) and the store thread: which
 * file the worker appends to, and the next one, opened ahead by the store
 * thread so that rotating never opens a file on a worker.
 *   cur_file   written by the worker (release) when it moves to a file; the
 *              store thread (acquire) treats files before it as complete.
 *   next_fd    -1, or an open descriptor for file next_file: the store thread
 *              stores next_file, then next_fd (release) while next_fd is -1;
 *              the worker takes it with an exchange to -1 (acquire).
 */
struct gw_usage_handoff {
    _Atomic uint64_t cur_file;
    _Atomic uint64_t next_file;
    _Atomic int next_fd;
};

/*
 * What the store thread reports about the usage log, for /metrics: written
 * by the store thread after each pass (relaxed: independent counters), read
 * by whichever worker renders a scrape.
 */
struct gw_store_stats {
    _Atomic uint64_t records;       /* usage records inserted */
    _Atomic uint64_t batches;       /* transactions committed */
    _Atomic uint64_t failures;      /* passes that failed (database down or locked) */
    _Atomic uint64_t bad_lines;     /* complete lines that were not records */
    _Atomic uint64_t backlog_bytes; /* usage log bytes not yet inserted */
    _Atomic int64_t last_insert;    /* Unix seconds of the last pass that got through; 0 never */
};

/* Opens (creating, mode 0600, O_APPEND) DIR/name for the writer. fd or -errno. Not on a worker. */
int gw_usage_log_open(const char *dir, const char *boot, unsigned worker, uint64_t fileseq);
/* A fresh boot id: 16 base62 characters from getrandom, NUL-terminated (17 bytes). 0 or -errno. */
int gw_usage_boot_id(char out[17]);

#endif
