/*
 * net/iobuf.h — per-worker I/O memory: a pool of fixed-size blocks with a hard
 * cap [hap buffer pools], and the output queue built from them.
 *
 * A connection holds blocks only while it has bytes to keep: an idle
 * keep-alive connection holds none. The pool never grows past its cap; a
 * caller that cannot get a block fails its request (503) or closes, and the
 * pool counts the refusal. Single-threaded: one pool per worker.
 */
#ifndef GW_NET_IOBUF_H
#define GW_NET_IOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define GW_IOBLOCK_SIZE 16384

struct gw_ioblock {
    struct gw_ioblock *next; /* output queue link, or pool free list */
    uint32_t start;          /* first unsent byte */
    uint32_t end;            /* one past the last written byte */
    char data[GW_IOBLOCK_SIZE];
};

struct gw_iopool {
    struct gw_ioblock *free; /* owns: free list */
    size_t nfree;
    size_t nallocated; /* blocks in existence (free + in use) */
    size_t max_blocks; /* hard cap */
    uint64_t refused;  /* gets refused at the cap or by malloc */
};

void gw_iopool_init(struct gw_iopool *p, size_t max_blocks);
void gw_iopool_destroy(struct gw_iopool *p);
/* A block with start = end = 0, or NULL at the cap. */
struct gw_ioblock *gw_iopool_get(struct gw_iopool *p);
void gw_iopool_put(struct gw_iopool *p, struct gw_ioblock *b);
/* Blocks in use, for /metrics. */
static inline size_t gw_iopool_in_use(const struct gw_iopool *p)
{
    return p->nallocated - p->nfree;
}

/*
 * A pool of fixed-size raw buffers (any size), with a hard cap: request input
 * starts in a small one, since most requests are far smaller than a block.
 * A free buffer holds the free list's link in its first bytes.
 */
struct gw_bufpool {
    void *free;        /* owns: free list */
    size_t size;       /* bytes per buffer (>= sizeof(void *)) */
    size_t nfree;
    size_t nallocated;
    size_t max;
    uint64_t refused;
};

void gw_bufpool_init(struct gw_bufpool *p, size_t size, size_t max);
void gw_bufpool_destroy(struct gw_bufpool *p);
/* A buffer of p->size bytes, uninitialised, or NULL at the cap. */
void *gw_bufpool_get(struct gw_bufpool *p);
void gw_bufpool_put(struct gw_bufpool *p, void *b);

/* A FIFO of bytes waiting to be sent, as a list of blocks. */
struct gw_obuf {
    struct gw_ioblock *head, *tail; /* owns */
    size_t len;                     /* bytes queued, not yet acknowledged as sent */
};

static inline void gw_obuf_init(struct gw_obuf *o)
{
    o->head = o->tail = NULL;
    o->len = 0;
}
/* Appends a copy of data. Returns 0, or -ENOBUFS (nothing appended) when the pool is exhausted. */
int gw_obuf_append(struct gw_obuf *o, struct gw_iopool *p, const void *data, size_t len);
/*
 * Reserves up to `want` contiguous bytes at the tail (at least `min`), for
 * formatting in place; commit what was written with gw_obuf_commit.
 * NULL when the pool is exhausted.
 */
char *gw_obuf_reserve(struct gw_obuf *o, struct gw_iopool *p, size_t min, size_t *avail);
void gw_obuf_commit(struct gw_obuf *o, size_t n);
/* Fills iov with the queued bytes in order. Returns the count used (<= max). */
int gw_obuf_iov(const struct gw_obuf *o, struct iovec *iov, int max);
/* Drops n sent bytes from the front, returning emptied blocks to the pool. */
void gw_obuf_consume(struct gw_obuf *o, struct gw_iopool *p, size_t n);
/* Returns every block to the pool. */
void gw_obuf_clear(struct gw_obuf *o, struct gw_iopool *p);

#endif
