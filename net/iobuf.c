#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "net/iobuf.h"

void gw_iopool_init(struct gw_iopool *p, size_t max_blocks)
{
    p->free = NULL;
    p->nfree = 0;
    p->nallocated = 0;
    p->max_blocks = max_blocks;
    p->refused = 0;
}

void gw_iopool_destroy(struct gw_iopool *p)
{
    while (p->free) {
        struct gw_ioblock *b = p->free;
        p->free = b->next;
        free(b);
    }
    p->nallocated -= p->nfree;
    p->nfree = 0;
}

struct gw_ioblock *gw_iopool_get(struct gw_iopool *p)
{
    struct gw_ioblock *b = p->free;
#ifndef GW_POOL_PASSTHROUGH
    if (b) {
        p->free = b->next;
        p->nfree--;
        goto out;
    }
#endif
    if (p->nallocated >= p->max_blocks) {
        p->refused++;
        return NULL;
    }
    /* Blocks are made on demand up to the cap and then recycled, never freed
     * while the worker runs: the pool's high-water mark is its footprint. */
    b = malloc(sizeof(*b));
    if (!b) {
        p->refused++;
        return NULL;
    }
    p->nallocated++;
#ifndef GW_POOL_PASSTHROUGH
out:
#endif
    b->next = NULL;
    b->start = b->end = 0;
    return b;
}

void gw_iopool_put(struct gw_iopool *p, struct gw_ioblock *b)
{
#ifdef GW_POOL_PASSTHROUGH
    free(b);
    p->nallocated--;
#else
    b->next = p->free;
    p->free = b;
    p->nfree++;
#endif
}

int gw_obuf_append(struct gw_obuf *o, struct gw_iopool *p, const void *data, size_t len)
{
    const char *src = data;
    /* Check capacity first so a failed append leaves the queue unchanged. */
    size_t room = o->tail ? GW_IOBLOCK_SIZE - o->tail->end : 0;
    if (len > room) {
        size_t need = (len - room + GW_IOBLOCK_SIZE - 1) / GW_IOBLOCK_SIZE;
        if (p->nfree < need && p->nallocated - p->nfree + need > p->max_blocks) {
            p->refused++;
            return -ENOBUFS;
        }
    }
    while (len) {
        if (!o->tail || o->tail->end == GW_IOBLOCK_SIZE) {
            struct gw_ioblock *b = gw_iopool_get(p);
            if (!b)
                return -ENOBUFS; /* only malloc failure can land here */
            if (o->tail)
                o->tail->next = b;
            else
                o->head = b;
            o->tail = b;
        }
        size_t n = GW_MIN(len, (size_t)(GW_IOBLOCK_SIZE - o->tail->end));
        memcpy(o->tail->data + o->tail->end, src, n);
        o->tail->end += n;
        o->len += n;
        src += n;
        len -= n;
    }
    return 0;
}

char *gw_obuf_reserve(struct gw_obuf *o, struct gw_iopool *p, size_t min, size_t *avail)
{
    GW_BUG_ON(min > GW_IOBLOCK_SIZE);
    if (!o->tail || GW_IOBLOCK_SIZE - o->tail->end < min) {
        struct gw_ioblock *b = gw_iopool_get(p);
        if (!b)
            return NULL;
        if (o->tail)
            o->tail->next = b;
        else
            o->head = b;
        o->tail = b;
    }
    *avail = GW_IOBLOCK_SIZE - o->tail->end;
    return o->tail->data + o->tail->end;
}

void gw_obuf_commit(struct gw_obuf *o, size_t n)
{
    GW_BUG_ON(!o->tail || o->tail->end + n > GW_IOBLOCK_SIZE);
    o->tail->end += n;
    o->len += n;
}

int gw_obuf_iov(const struct gw_obuf *o, struct iovec *iov, int max)
{
    int n = 0;
    for (const struct gw_ioblock *b = o->head; b && n < max; b = b->next) {
        if (b->end == b->start)
            continue;
        iov[n].iov_base = (void *)(b->data + b->start);
        iov[n].iov_len = b->end - b->start;
        n++;
    }
    return n;
}

void gw_obuf_consume(struct gw_obuf *o, struct gw_iopool *p, size_t n)
{
    GW_BUG_ON(n > o->len);
    o->len -= n;
    while (o->head) {
        struct gw_ioblock *b = o->head;
        size_t have = b->end - b->start;
        if (n < have) {
            b->start += n;
            return;
        }
        n -= have;
        /* Keep the tail block for further appends unless it is fully sent. */
        o->head = b->next;
        if (!o->head)
            o->tail = NULL;
        gw_iopool_put(p, b);
        if (!n && o->head == NULL)
            return;
    }
}

void gw_obuf_clear(struct gw_obuf *o, struct gw_iopool *p)
{
    while (o->head) {
        struct gw_ioblock *b = o->head;
        o->head = b->next;
        gw_iopool_put(p, b);
    }
    o->tail = NULL;
    o->len = 0;
}

void gw_bufpool_init(struct gw_bufpool *p, size_t size, size_t max)
{
    p->free = NULL;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
    p->nfree = p->nallocated = 0;
    p->max = max;
    p->refused = 0;
}

void gw_bufpool_destroy(struct gw_bufpool *p)
{
    while (p->free) {
        void *b = p->free;
        memcpy(&p->free, b, sizeof(void *));
        free(b);
    }
    p->nallocated -= p->nfree;
    p->nfree = 0;
}

void *gw_bufpool_get(struct gw_bufpool *p)
{
#ifndef GW_POOL_PASSTHROUGH
    if (p->free) {
        void *b = p->free;
        memcpy(&p->free, b, sizeof(void *));
        p->nfree--;
        return b;
    }
#endif
    if (p->nallocated >= p->max) {
        p->refused++;
        return NULL;
    }
    void *b = malloc(p->size);
    if (!b) {
        p->refused++;
        return NULL;
    }
    p->nallocated++;
    return b;
}

void gw_bufpool_put(struct gw_bufpool *p, void *b)
{
#ifdef GW_POOL_PASSTHROUGH
    free(b);
    p->nallocated--;
#else
    memcpy(b, &p->free, sizeof(void *));
    p->free = b;
    p->nfree++;
#endif
}
