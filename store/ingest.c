/*
 * store/ingest.c — tails the workers' usage logs into the database.
 *
 * Exactly once. A file's progress (ingest_progress, by file name) moves in
 * the same transaction as the records it covers (gw_store_insert_usage), so
 * whatever happens between passes — a failed insert, a crash, a restart that
 * replays the files of the previous boot — a line is inserted once: the next
 * reader starts where the last commit left off.
 *
 * Deleting. A file is removed only once everything in it is inserted and
 * nobody will append to it: its boot is not ours (that process is gone), or
 * its worker has moved to a later file. current_file() is read before the
 * file is, so a line the worker appends after we looked cannot be in a file
 * we then delete. The file goes first and its progress row second: a crash in
 * between leaves a row for a name that never comes back (boot ids are
 * random), never a file whose progress is forgotten and that would be
 * replayed from its start.
 *
 * Memory is bounded whatever the files hold: one read buffer of CHUNK bytes
 * (a line is at most GW_USAGE_LINE_MAX; anything longer is a bad line and is
 * skipped up to its '\n' without being held) and one batch of records. A
 * partial line at the end of a read is read again from its start next time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/json.h"
#include "core/usage.h"
#include "store/db.h"
#include "store/ingest.h"
#include "store/store.h"

#define CHUNK (1u << 20)
#define BATCH_DEFAULT 2000
#define NAME_MAX_LEN 128

_Static_assert(CHUNK >= GW_USAGE_LINE_MAX, "a whole line fits one read");

struct gw_ingest {
    char *dir;  /* owns */
    char *boot; /* owns */
    unsigned nworkers;
    size_t batch_max;
    uint64_t (*current_file)(void *arg, unsigned w);
    void (*applied)(void *arg, const struct gw_usage_rec *r, bool this_boot);
    void *arg;
    struct gw_ingest_stats st;
    struct gw_usage_rec *recs; /* owns: batch_max */
    char *buf;                 /* owns: CHUNK bytes */
};

struct logfile {
    char name[NAME_MAX_LEN];
    char boot[sizeof(((struct gw_usage_rec *)0)->boot)];
    unsigned worker;
    uint64_t seq;
};

/* One file being read in a pass. */
struct reader {
    const struct logfile *f;
    bool this_boot;
    bool live; /* its worker may still append: read complete lines only, keep it */
    int fd;
    int64_t done;      /* offset after the last line consumed (inserted or skipped) */
    int64_t committed; /* progress as the database has it */
    size_t nrecs;      /* records in the batch, all before `done` */
    uint64_t bad;      /* bad lines met in this pass */
    int64_t eof;       /* where the last read found the end of the file */
};

__attribute__((format(printf, 2, 3))) static void logline(const char *level, const char *fmt, ...)
{
    char msg[1024], esc[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = gw_json_escape(esc, sizeof(esc) - 1, msg, strlen(msg));
    esc[GW_MIN(n, sizeof(esc) - 1)] = '\0';
    fprintf(stderr, "{\"level\":\"%s\",\"thread\":\"store\",\"msg\":\"ingest: %s\"}\n", level, esc);
}

struct gw_ingest *gw_ingest_new(const struct gw_ingest_cfg *cfg)
{
    struct gw_ingest *ing = calloc(1, sizeof(*ing));
    if (!ing || !cfg->dir || !cfg->boot || !cfg->current_file)
        goto fail;
    ing->dir = strdup(cfg->dir);
    ing->boot = strdup(cfg->boot);
    ing->nworkers = cfg->nworkers;
    ing->batch_max = cfg->batch_max ? cfg->batch_max : BATCH_DEFAULT;
    ing->current_file = cfg->current_file;
    ing->applied = cfg->applied;
    ing->arg = cfg->arg;
    ing->recs = calloc(ing->batch_max, sizeof(*ing->recs));
    ing->buf = malloc(CHUNK);
    if (!ing->dir || !ing->boot || !ing->recs || !ing->buf)
        goto fail;
    return ing;
fail:
    gw_ingest_free(ing);
    return NULL;
}

void gw_ingest_free(struct gw_ingest *ing)
{
    if (!ing)
        return;
    free(ing->buf);
    free(ing->recs);
    free(ing->boot);
    free(ing->dir);
    free(ing);
}

const struct gw_ingest_stats *gw_ingest_stats(const struct gw_ingest *ing)
{
    return &ing->st;
}

static int logfile_cmp(const void *a, const void *b)
{
    const struct logfile *x = a, *y = b;
    int c = strcmp(x->boot, y->boot);
    if (c)
        return c;
    if (x->worker != y->worker)
        return x->worker < y->worker ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

/* The usage logs in dir, sorted by (boot, worker, fileseq), into *out (owned by the caller). */
static ssize_t list_files(const char *dir, struct logfile **out)
{
    struct logfile *v = NULL;
    size_t n = 0, cap = 0;
    ssize_t rc;

    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) {
                rc = -errno;
                goto fail;
            }
            break;
        }
        struct logfile lf;
        if (strlen(e->d_name) >= sizeof(lf.name) ||
            !gw_usage_log_name_parse(e->d_name, lf.boot, sizeof(lf.boot), &lf.worker, &lf.seq))
            continue;
        memcpy(lf.name, e->d_name, strlen(e->d_name) + 1);
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct logfile *nv = realloc(v, ncap * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        v[n++] = lf;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), logfile_cmp);
    *out = v;
    return (ssize_t)n;
fail:
    closedir(d);
    free(v);
    return rc;
}

/*
 * Commits the batch and the progress up to r->done. Skipped when there is
 * nothing to record, and for a file about to be deleted when only bad lines
 * moved the offset. 0 or -1 (err filled, nothing committed).
 */
static int flush(struct gw_ingest *ing, struct gw_db *db, struct reader *r, struct gw_db_err *err)
{
    if (r->nrecs == 0 && (r->done == r->committed || !r->live))
        return 0;
    if (gw_store_insert_usage(db, ing->recs, r->nrecs, r->f->name, r->done, err) != 0)
        return -1;
    r->committed = r->done;
    ing->st.records += r->nrecs;
    if (r->nrecs)
        ing->st.batches++;
    if (ing->applied) {
        for (size_t i = 0; i < r->nrecs; i++)
            ing->applied(ing->arg, &ing->recs[i], r->this_boot);
    }
    r->nrecs = 0;
    return 0;
}

/* One complete line (without its '\n'), ending at file offset `next`. 0 or -1 (flush failed). */
static int take_line(struct gw_ingest *ing, struct gw_db *db, struct reader *r, const char *p,
                     size_t len, int64_t next, struct gw_db_err *err)
{
    if (len + 1 > GW_USAGE_LINE_MAX || gw_usage_parse(p, len, &ing->recs[r->nrecs]) != 0)
        r->bad++;
    else
        r->nrecs++;
    r->done = next;
    if (r->nrecs == ing->batch_max)
        return flush(ing, db, r, err);
    return 0;
}

/* pread that retries EINTR. Bytes read (0 at the end) or -errno. */
static ssize_t read_at(int fd, char *buf, size_t n, int64_t off)
{
    for (;;) {
        ssize_t got = pread(fd, buf, n, (off_t)off);
        if (got >= 0)
            return got;
        if (errno != EINTR)
            return -errno;
    }
}

/*
 * Reads r->fd from r->done to its end, inserting batch by batch. Leaves
 * r->done after the last complete line and r->eof at the end seen.
 * Returns 0, 1 when the file could not be read to its end (an I/O error:
 * logged, the file is kept), or -1 when an insert failed.
 */
static int read_file(struct gw_ingest *ing, struct gw_db *db, struct reader *r,
                     struct gw_db_err *err)
{
    int64_t rd = r->done;  /* where the next read starts */
    bool skipping = false; /* inside a line longer than a chunk */

    for (;;) {
        ssize_t n = read_at(r->fd, ing->buf, CHUNK, rd);
        if (n < 0) {
            logline("error", "reading %s/%s: %s", ing->dir, r->f->name, strerror((int)-n));
            return flush(ing, db, r, err) < 0 ? -1 : 1;
        }
        r->eof = rd + n;
        if (n == 0)
            return 0;
        const char *b = ing->buf;
        size_t s = 0;
        const char *nl;
        while ((nl = memchr(b + s, '\n', (size_t)n - s)) != NULL) {
            size_t e = (size_t)(nl - b);
            int64_t next = rd + (int64_t)e + 1;
            if (skipping) {
                skipping = false;
                r->bad++;
                r->done = next;
            } else if (take_line(ing, db, r, b + s, e - s, next, err) != 0) {
                return -1;
            }
            s = e + 1;
        }
        if ((size_t)n < CHUNK)
            return 0; /* the end of the file, maybe after a partial line */
        if (s == 0) {
            /* A whole chunk without '\n': an overlong line, skipped without holding it. */
            skipping = true;
            rd += n;
        } else if (!skipping) {
            rd = r->done;
        }
    }
}

/* Deletes a finished file, then its progress row. *rc = -1 when the database failed. */
static void forget_file(struct gw_ingest *ing, struct gw_db *db, struct reader *r,
                        struct gw_db_err *err, int *rc)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", ing->dir, r->f->name);

    if (n < 0 || (size_t)n >= sizeof(path))
        return;
    if (unlink(path) != 0 && errno != ENOENT) {
        /* Kept with its progress at its end: the next pass finds nothing new and retries. */
        logline("error", "deleting %s: %s", path, strerror(errno));
        return;
    }
    ing->st.files_deleted++;
    if (gw_store_progress_delete(db, r->f->name, err) != 0)
        *rc = -1;
}

/*
 * One file. Returns 0, or -1 when the database failed (the pass stops: later
 * files would fail the same way, and order within a worker is kept).
 */
static int ingest_file(struct gw_ingest *ing, struct gw_db *db, const struct logfile *f,
                       struct gw_db_err *err)
{
    char path[4096];
    struct reader r = {.f = f, .fd = -1};
    int rc = 0;

    r.this_boot = strcmp(f->boot, ing->boot) == 0;
    if (r.this_boot) {
        /* Before reading: see the top of the file. A worker we do not know is never finished. */
        uint64_t cur = f->worker < ing->nworkers ? ing->current_file(ing->arg, f->worker) : 0;
        r.live = f->worker >= ing->nworkers || f->seq >= cur;
    }
    if (gw_store_progress_get(db, f->name, &r.committed, err) != 0)
        return -1;
    r.done = r.committed;
    r.eof = r.done;

    int n = snprintf(path, sizeof(path), "%s/%s", ing->dir, f->name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    r.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (r.fd < 0) {
        if (errno != ENOENT)
            logline("error", "opening %s: %s", path, strerror(errno));
        return 0;
    }

    int got = read_file(ing, db, &r, err);
    if (got < 0) {
        rc = -1;
        goto out;
    }
    if (got == 0 && flush(ing, db, &r, err) != 0) {
        rc = -1;
        goto out;
    }
    if (r.bad) {
        ing->st.bad_lines += r.bad;
        logline("warn", "%s/%s: %llu lines that are not usage records skipped", ing->dir, f->name,
                (unsigned long long)r.bad);
    }
    if (got != 0 || r.live) {
        ing->st.backlog_bytes += (uint64_t)(r.eof > r.done ? r.eof - r.done : 0);
        goto out;
    }
    if (r.eof > r.done) {
        /* Torn: that process died mid-write, and the response waited for this line. */
        ing->st.torn_skipped++;
        logline("info", "%s/%s: torn last line (%lld bytes) skipped", ing->dir, f->name,
                (long long)(r.eof - r.done));
    }
    forget_file(ing, db, &r, err, &rc);
out:
    close(r.fd);
    return rc;
}

int64_t gw_ingest_run(struct gw_ingest *ing, struct gw_db *db, struct gw_db_err *err)
{
    struct logfile *files = NULL;
    uint64_t before = ing->st.records;
    int64_t rc;

    memset(err, 0, sizeof(*err));
    ssize_t n = list_files(ing->dir, &files);
    if (n < 0) {
        snprintf(err->message, sizeof(err->message), "cannot list usage log directory %s: %s",
                 ing->dir, strerror((int)-n));
        rc = -1;
        goto out;
    }
    ing->st.backlog_bytes = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (ingest_file(ing, db, &files[i], err) != 0) {
            /* What was not reached still waits in its file: count it all as backlog. */
            for (ssize_t j = i + 1; j < n; j++) {
                char path[4096];
                struct stat stb;
                int k = snprintf(path, sizeof(path), "%s/%s", ing->dir, files[j].name);
                if (k > 0 && (size_t)k < sizeof(path) && stat(path, &stb) == 0)
                    ing->st.backlog_bytes += (uint64_t)stb.st_size;
            }
            rc = -1;
            goto out;
        }
    }
    rc = (int64_t)(ing->st.records - before);
out:
    if (rc < 0)
        ing->st.failures++;
    free(files);
    return rc;
}
