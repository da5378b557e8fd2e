/*
 * net/tls.c — BearSSL glue: PEM loading of trust anchors and server
 * credentials, engine set-up for client and server connections, error texts,
 * and blocking engine drivers for tools and tests.
 *
 * Loading runs on the control thread (or a tool's start-up) and may malloc;
 * everything it returns is immutable afterwards, so workers share it
 * read-only. The *_start functions allocate nothing: they only initialise
 * contexts that live in the caller's connection object.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "core/common.h"
#include "net/tls.h"

/* A DER object larger than this is refused (certificates are a few KB; the
 * largest RSA-4096 private key is about 2.4 KB). */
#define PEM_OBJECT_MAX (1u << 20)
/* PEM object names BearSSL reports are at most 127 characters. */
#define PEM_NAME_MAX 128

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------------
 * Growable byte buffer, the destination of BearSSL's streaming decoders. Their
 * callbacks cannot fail, so an overflow or allocation failure is latched in
 * `bad` and checked once the object is complete.
 */
struct growbuf {
    unsigned char *p; /* owns */
    size_t len;
    size_t cap;
    bool bad;
};

static void growbuf_append(void *ctx, const void *src, size_t len)
{
    struct growbuf *b = ctx;
    if (b->bad)
        return;
    if (len > PEM_OBJECT_MAX - b->len) {
        b->bad = true;
        return;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 2048;
        while (cap < b->len + len)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->bad = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, len);
    b->len += len;
}

/* Clears the contents, optionally wiping them first (key material). */
static void growbuf_reset(struct growbuf *b, bool wipe)
{
    if (wipe && b->p != NULL)
        explicit_bzero(b->p, b->cap);
    b->len = 0;
    b->bad = false;
}

static void growbuf_free(struct growbuf *b, bool wipe)
{
    growbuf_reset(b, wipe);
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

/* ---------------------------------------------------------------------------------------------
 * PEM reader. The file is streamed through br_pem_decoder in chunks; each
 * complete object is handed, with its upper-cased name and DER bytes, to a
 * callback that returns 0 to go on or -1 to stop, having set err to a
 * complete message (naming the file) itself.
 *
 * BearSSL recognises an END banner only once its line is complete, so a file
 * whose last line lacks a newline would leave the last object open: one
 * newline is pushed after the data to close it.
 */
typedef int (*pem_object_fn)(void *arg, const char *name, const unsigned char *der, size_t len,
                             char *err, size_t errlen);

struct pem_reader {
    br_pem_decoder_context pc;
    const char *path;
    pem_object_fn object_fn;
    void *arg;
    struct growbuf der;
    char name[PEM_NAME_MAX];
    bool in_object;
    bool wipe; /* objects hold key material */
    size_t objects;
};

/* Pushes bytes through the decoder, dispatching its events. 0, or -1 with err set. */
static int pem_feed(struct pem_reader *r, const unsigned char *data, size_t len, char *err,
                    size_t errlen)
{
    while (len > 0) {
        size_t used = br_pem_decoder_push(&r->pc, data, len);
        data += used;
        len -= used;
        switch (br_pem_decoder_event(&r->pc)) {
        case BR_PEM_BEGIN_OBJ:
            snprintf(r->name, sizeof r->name, "%s", br_pem_decoder_name(&r->pc));
            growbuf_reset(&r->der, r->wipe);
            br_pem_decoder_setdest(&r->pc, growbuf_append, &r->der);
            r->in_object = true;
            break;
        case BR_PEM_END_OBJ:
            r->in_object = false;
            if (r->der.bad) {
                set_err(err, errlen, "%s: PEM object %s too large or out of memory", r->path,
                        r->name);
                return -1;
            }
            r->objects++;
            if (r->object_fn(r->arg, r->name, r->der.p, r->der.len, err, errlen) < 0)
                return -1;
            break;
        case BR_PEM_ERROR:
            set_err(err, errlen, "%s: malformed PEM (bad base64 in %s)", r->path,
                    r->in_object ? r->name : "an object");
            return -1;
        default:
            if (used == 0) {
                /* No progress and no event: cannot happen per the API; refuse to spin. */
                set_err(err, errlen, "%s: PEM decoder stalled", r->path);
                return -1;
            }
            break;
        }
    }
    return 0;
}

/*
 * Streams the PEM file at `path`, calling object_fn for every object. Returns
 * the number of objects seen (0 for a file with no PEM object at all), or -1
 * with err set when the file cannot be read, is malformed, or the callback
 * stopped. `wipe` clears the DER scratch buffer after use (private keys).
 */
static long pem_read_file(const char *path, bool wipe, pem_object_fn object_fn, void *arg,
                          char *err, size_t errlen)
{
    long ret = -1;
    struct pem_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    r->path = path;
    r->object_fn = object_fn;
    r->arg = arg;
    r->wipe = wipe;
    br_pem_decoder_init(&r->pc);

    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    unsigned char chunk[4096];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n > 0 && pem_feed(r, chunk, n, err, errlen) < 0)
            goto out_close;
        if (n < sizeof chunk) {
            if (ferror(f)) {
                set_err(err, errlen, "%s: %s", path, strerror(errno));
                goto out_close;
            }
            break;
        }
    }
    if (pem_feed(r, (const unsigned char *)"\n", 1, err, errlen) < 0)
        goto out_close;
    if (r->in_object) {
        set_err(err, errlen, "%s: truncated PEM object %s (no END line)", path, r->name);
        goto out_close;
    }
    ret = (long)r->objects;
out_close:
    if (wipe)
        explicit_bzero(chunk, sizeof chunk);
    fclose(f);
out:
    growbuf_free(&r->der, wipe);
    explicit_bzero(&r->pc, sizeof r->pc);
    free(r);
    return ret;
}

static bool pem_is_certificate(const char *name)
{
    return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Trust anchors.
 *
 * Each anchor's DN and public key live in one malloc block that starts with
 * the DN, so ta[i].dn.data is the pointer to free.
 */
struct anchors_load {
    const char *path;
    struct gw_tls_anchors *a;
    size_t cap;
    size_t skipped;
    int last_skip_err; /* BR_ERR_X509_* of the last certificate skipped */
    struct growbuf dn;
};

static int anchors_add_cert(void *arg, const char *name, const unsigned char *der, size_t len,
                            char *err, size_t errlen)
{
    struct anchors_load *l = arg;
    if (!pem_is_certificate(name))
        return 0;

    br_x509_decoder_context *dc = malloc(sizeof *dc);
    if (dc == NULL)
        goto oom;
    growbuf_reset(&l->dn, false);
    br_x509_decoder_init(dc, growbuf_append, &l->dn);
    br_x509_decoder_push(dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(dc);
    if (pk == NULL || l->dn.bad || l->dn.len == 0) {
        /* Not a certificate BearSSL can use (e.g. an Ed25519 key): skip it. */
        l->skipped++;
        l->last_skip_err = br_x509_decoder_last_error(dc);
        free(dc);
        return 0;
    }

    size_t k1 = 0, k2 = 0;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        k1 = pk->key.rsa.nlen;
        k2 = pk->key.rsa.elen;
    } else {
        k1 = pk->key.ec.qlen;
    }
    unsigned char *block = malloc(l->dn.len + k1 + k2);
    if (block == NULL) {
        free(dc);
        goto oom;
    }
    if (l->a->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        br_x509_trust_anchor *ta = realloc(l->a->ta, cap * sizeof *ta);
        if (ta == NULL) {
            free(block);
            free(dc);
            goto oom;
        }
        l->a->ta = ta;
        l->cap = cap;
    }

    br_x509_trust_anchor *t = &l->a->ta[l->a->n];
    memset(t, 0, sizeof *t);
    memcpy(block, l->dn.p, l->dn.len);
    t->dn.data = block;
    t->dn.len = l->dn.len;
    t->flags = br_x509_decoder_isCA(dc) ? BR_X509_TA_CA : 0;
    t->pkey.key_type = pk->key_type;
    unsigned char *kp = block + l->dn.len;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        memcpy(kp, pk->key.rsa.n, k1);
        memcpy(kp + k1, pk->key.rsa.e, k2);
        t->pkey.key.rsa.n = kp;
        t->pkey.key.rsa.nlen = k1;
        t->pkey.key.rsa.e = kp + k1;
        t->pkey.key.rsa.elen = k2;
    } else {
        memcpy(kp, pk->key.ec.q, k1);
        t->pkey.key.ec.curve = pk->key.ec.curve;
        t->pkey.key.ec.q = kp;
        t->pkey.key.ec.qlen = k1;
    }
    l->a->n++;
    free(dc);
    return 0;
oom:
    set_err(err, errlen, "%s: out of memory", l->path);
    return -1;
}

struct gw_tls_anchors *gw_tls_anchors_load(const char *path, char *err, size_t errlen)
{
    struct anchors_load l = {.path = path};
    l.a = calloc(1, sizeof *l.a);
    if (l.a == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    long objects = pem_read_file(path, false, anchors_add_cert, &l, err, errlen);
    growbuf_free(&l.dn, false);
    if (objects < 0)
        goto fail;
    if (l.a->n == 0) {
        if (l.skipped > 0)
            set_err(err, errlen, "%s: none of its %zu certificates is usable (last: %s)", path,
                    l.skipped, gw_tls_strerror(l.last_skip_err));
        else
            set_err(err, errlen, "%s: no PEM CERTIFICATE found", path);
        goto fail;
    }
    return l.a;
fail:
    gw_tls_anchors_free(l.a);
    return NULL;
}

void gw_tls_anchors_free(struct gw_tls_anchors *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->ta[i].dn.data);
    free(a->ta);
    free(a);
}

/* ---------------------------------------------------------------------------------------------
 * Server credentials.
 */
struct chain_load {
    const char *path;
    br_x509_certificate *chain;
    size_t len;
    size_t cap;
};

static int chain_add_cert(void *arg, const char *name, const unsigned char *der, size_t len,
                          char *err, size_t errlen)
{
    struct chain_load *l = arg;
    if (!pem_is_certificate(name))
        return 0;
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        br_x509_certificate *c = realloc(l->chain, cap * sizeof *c);
        if (c == NULL)
            goto oom;
        l->chain = c;
        l->cap = cap;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        goto oom;
    memcpy(copy, der, len);
    l->chain[l->len].data = copy;
    l->chain[l->len].data_len = len;
    l->len++;
    return 0;
oom:
    set_err(err, errlen, "%s: out of memory", l->path);
    return -1;
}

/* The first private key of a PEM file, deep-copied into `creds`. */
struct key_load {
    const char *path;
    struct gw_tls_creds *creds;
    bool found;
    bool encrypted; /* an ENCRYPTED PRIVATE KEY block was seen */
};

/* Copies the decoded key's buffers into one owned, wipe-on-free block. 0, or -1 (no memory). */
static int copy_private_key(struct gw_tls_creds *c, const br_skey_decoder_context *kd)
{
    if (br_skey_decoder_key_type(kd) == BR_KEYTYPE_RSA) {
        const br_rsa_private_key *k = br_skey_decoder_get_rsa(kd);
        size_t total = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
        unsigned char *p = malloc(total);
        if (p == NULL)
            return -1;
        c->key_type = BR_KEYTYPE_RSA;
        c->rsa.n_bitlen = k->n_bitlen;
        c->rsa.p = p;
        memcpy(p, k->p, k->plen);
        c->rsa.plen = k->plen;
        p += k->plen;
        c->rsa.q = p;
        memcpy(p, k->q, k->qlen);
        c->rsa.qlen = k->qlen;
        p += k->qlen;
        c->rsa.dp = p;
        memcpy(p, k->dp, k->dplen);
        c->rsa.dplen = k->dplen;
        p += k->dplen;
        c->rsa.dq = p;
        memcpy(p, k->dq, k->dqlen);
        c->rsa.dqlen = k->dqlen;
        p += k->dqlen;
        c->rsa.iq = p;
        memcpy(p, k->iq, k->iqlen);
        c->rsa.iqlen = k->iqlen;
        return 0;
    }
    const br_ec_private_key *k = br_skey_decoder_get_ec(kd);
    unsigned char *x = malloc(k->xlen);
    if (x == NULL)
        return -1;
    memcpy(x, k->x, k->xlen);
    c->key_type = BR_KEYTYPE_EC;
    c->ec.curve = k->curve;
    c->ec.x = x;
    c->ec.xlen = k->xlen;
    return 0;
}

static int key_take(void *arg, const char *name, const unsigned char *der, size_t len, char *err,
                    size_t errlen)
{
    struct key_load *l = arg;
    if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
        l->encrypted = true;
        return 0;
    }
    if (l->found || (strcmp(name, "RSA PRIVATE KEY") != 0 && strcmp(name, "EC PRIVATE KEY") != 0 &&
                     strcmp(name, "PRIVATE KEY") != 0))
        return 0;

    int ret = -1;
    br_skey_decoder_context *kd = malloc(sizeof *kd);
    if (kd == NULL) {
        set_err(err, errlen, "%s: out of memory", l->path);
        return -1;
    }
    br_skey_decoder_init(kd);
    br_skey_decoder_push(kd, der, len);
    int e = br_skey_decoder_last_error(kd);
    if (e != 0) {
        set_err(err, errlen, "%s: cannot decode %s (%s)", l->path, name, gw_tls_strerror(e));
        goto out;
    }
    if (copy_private_key(l->creds, kd) < 0) {
        set_err(err, errlen, "%s: out of memory", l->path);
        goto out;
    }
    l->found = true;
    ret = 0;
out:
    explicit_bzero(kd, sizeof *kd);
    free(kd);
    return ret;
}

/* Strips leading zero bytes of a big-endian integer. */
static const unsigned char *be_trim(const unsigned char *p, size_t *len)
{
    while (*len > 0 && *p == 0) {
        p++;
        (*len)--;
    }
    return p;
}

/*
 * Decodes the leaf, records its issuer's key type, and checks that the leaf's
 * public key is the one of the loaded private key. 0, or -1 with err set.
 */
static int creds_check_leaf(struct gw_tls_creds *c, const char *cert_path, const char *key_path,
                            char *err, size_t errlen)
{
    int ret = -1;
    br_x509_decoder_context *dc = malloc(sizeof *dc);
    if (dc == NULL) {
        set_err(err, errlen, "%s: out of memory", cert_path);
        return -1;
    }
    br_x509_decoder_init(dc, NULL, NULL);
    br_x509_decoder_push(dc, c->chain[0].data, c->chain[0].data_len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(dc);
    if (pk == NULL) {
        set_err(err, errlen, "%s: cannot decode the first certificate (%s)", cert_path,
                gw_tls_strerror(br_x509_decoder_last_error(dc)));
        goto out;
    }
    c->issuer_key_type = br_x509_decoder_get_signer_key_type(dc);

    bool match = false;
    unsigned char pub[BR_X509_BUFSIZE_KEY];
    if (pk->key_type != c->key_type) {
        match = false;
    } else if (c->key_type == BR_KEYTYPE_EC) {
        size_t qlen = br_ec_compute_pub(br_ec_get_default(), NULL, NULL, &c->ec);
        if (qlen > 0 && qlen <= sizeof pub && pk->key.ec.curve == c->ec.curve) {
            br_ec_compute_pub(br_ec_get_default(), NULL, pub, &c->ec);
            match = qlen == pk->key.ec.qlen && memcmp(pub, pk->key.ec.q, qlen) == 0;
        }
    } else {
        br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
        size_t nlen = modulus(NULL, &c->rsa);
        if (nlen > 0 && nlen <= sizeof pub) {
            modulus(pub, &c->rsa);
            size_t alen = nlen, blen = pk->key.rsa.nlen;
            const unsigned char *a = be_trim(pub, &alen);
            const unsigned char *b = be_trim(pk->key.rsa.n, &blen);
            match = alen == blen && memcmp(a, b, alen) == 0;
        }
    }
    if (!match) {
        set_err(err, errlen, "%s: the first certificate does not match the private key in %s",
                cert_path, key_path);
        goto out;
    }
    ret = 0;
out:
    free(dc);
    return ret;
}

struct gw_tls_creds *gw_tls_creds_load(const char *cert_path, const char *key_path, char *err,
                                       size_t errlen)
{
    struct gw_tls_creds *c = calloc(1, sizeof *c);
    if (c == NULL) {
        set_err(err, errlen, "%s: out of memory", cert_path);
        return NULL;
    }

    struct chain_load cl = {.path = cert_path};
    long objects = pem_read_file(cert_path, false, chain_add_cert, &cl, err, errlen);
    c->chain = cl.chain;
    c->chain_len = cl.len;
    if (objects < 0)
        goto fail;
    if (c->chain_len == 0) {
        set_err(err, errlen, "%s: no PEM CERTIFICATE found", cert_path);
        goto fail;
    }

    struct key_load kl = {.path = key_path, .creds = c};
    if (pem_read_file(key_path, true, key_take, &kl, err, errlen) < 0)
        goto fail;
    if (!kl.found) {
        set_err(err, errlen, "%s: %s", key_path,
                kl.encrypted ? "encrypted private keys are not supported"
                             : "no PEM RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY found");
        goto fail;
    }
    if (creds_check_leaf(c, cert_path, key_path, err, errlen) < 0)
        goto fail;
    return c;
fail:
    gw_tls_creds_free(c);
    return NULL;
}

void gw_tls_creds_free(struct gw_tls_creds *c)
{
    if (c == NULL)
        return;
    if (c->key_type == BR_KEYTYPE_RSA && c->rsa.p != NULL) {
        explicit_bzero(c->rsa.p,
                       c->rsa.plen + c->rsa.qlen + c->rsa.dplen + c->rsa.dqlen + c->rsa.iqlen);
        free(c->rsa.p);
    } else if (c->key_type == BR_KEYTYPE_EC && c->ec.x != NULL) {
        explicit_bzero(c->ec.x, c->ec.xlen);
        free(c->ec.x);
    }
    for (size_t i = 0; i < c->chain_len; i++)
        free(c->chain[i].data);
    free(c->chain);
    explicit_bzero(c, sizeof *c);
    free(c);
}

/* ---------------------------------------------------------------------------------------------
 * IP-literal server names.
 *
 * BearSSL's minimal X.509 engine matches a server name against dNSName
 * subjectAltNames (and the CN) only, so "10.0.0.5" fails against a leaf
 * that lists IP:10.0.0.5, and its name elements cannot extract an iPAddress
 * (an OCTET STRING, not a string type). So for an IP literal the client gets
 * a wrapping engine (struct gw__tls_ipcheck): the minimal engine still does
 * all of the path validation, started without a name, and the wrapper reads
 * the leaf's subjectAltName itself. It walks the DER as append() hands it
 * over, one TLV header at a time, entering only the elements on the path
 *
 *   Certificate > tbsCertificate > [3] > Extensions > Extension
 *     > extnValue (when extnID is subjectAltName, 2.5.29.17) > GeneralNames
 *     > [7] iPAddress
 *
 * and skipping everything else by its length, so its state is a few offsets
 * whatever the certificate's size. The walk is a check on top of BearSSL's
 * own parse, not a replacement: a leaf the minimal engine refuses fails
 * anyway, and any DER the walker does not understand (indefinite or
 * oversized lengths, high tag numbers where it looks, an element running
 * past its parent) just ends the walk without a match.
 */
enum {
    IPW_TAG = 0,  /* the next byte is a tag */
    IPW_LEN,      /* the first length byte */
    IPW_LEN_LONG, /* long-form length bytes (len_bytes more) */
    IPW_SKIP,     /* content skipped up to elem_end */
    IPW_CAPTURE,  /* content kept in cap up to elem_end */
    IPW_DONE,     /* past the tbsCertificate, or the DER was not understood */
    IPW_COUNT
};

/* Depths (elements entered) at which the path's elements sit. */
enum {
    IPD_CERT = 0,
    IPD_TBS,
    IPD_TBS_FIELD,
    IPD_EXTS,
    IPD_EXT,
    IPD_EXT_FIELD,
    IPD_SAN,
    IPD_GENERAL_NAME
};

#define DER_SEQUENCE 0x30
#define DER_OID 0x06
#define DER_OCTET_STRING 0x04
#define DER_EXTENSIONS 0xa3 /* [3] EXPLICIT, constructed: tbsCertificate's extensions */
#define DER_SAN_IP 0x87     /* [7] IMPLICIT OCTET STRING: GeneralName iPAddress */

static const unsigned char oid_san[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */

static struct gw__tls_ipcheck *ipcheck_of(const br_x509_class *const *ctx)
{
    return (struct gw__tls_ipcheck *)(void *)(uintptr_t)ctx;
}

/* Leaves entered elements that end here (several may end on one byte). */
static void ipw_close(struct gw__tls_ipcheck *w)
{
    while (w->depth > 0 && w->end[w->depth - 1] == w->pos)
        w->depth--;
    w->state = w->depth > 0 ? IPW_TAG : IPW_DONE;
}

/* The captured content of a whole element at the current depth. */
static void ipw_captured(struct gw__tls_ipcheck *w)
{
    bool whole = w->cap_len <= sizeof w->cap;
    if (w->depth == IPD_EXT_FIELD)
        w->in_san =
            whole && w->cap_len == sizeof oid_san && memcmp(w->cap, oid_san, sizeof oid_san) == 0;
    else if (whole && w->cap_len == w->want_len && memcmp(w->cap, w->want, w->want_len) == 0)
        w->matched = true;
}

/* A header is complete: decides, by depth and tag, whether to enter, skip or keep the element. */
static void ipw_header(struct gw__tls_ipcheck *w)
{
    uint32_t room = w->depth > 0 ? w->end[w->depth - 1] - w->pos : UINT32_MAX - w->pos;
    if (w->len > room) {
        w->state = IPW_DONE; /* runs past its parent */
        return;
    }
    w->elem_end = w->pos + w->len;
    enum { SKIP = 0, ENTER, CAPTURE, STOP } act = SKIP;
    switch (w->depth) {
    case IPD_CERT:
    case IPD_EXTS:
    case IPD_EXT:
    case IPD_SAN:
        act = w->tag == DER_SEQUENCE ? ENTER : STOP;
        if (act == ENTER && w->depth == IPD_EXT)
            w->in_san = false;
        break;
    case IPD_TBS:
        /* The first child is tbsCertificate; once out of it there is nothing left to read. */
        act = !w->tbs_seen && w->tag == DER_SEQUENCE ? ENTER : STOP;
        w->tbs_seen = true;
        break;
    case IPD_TBS_FIELD:
        act = w->tag == DER_EXTENSIONS ? ENTER : SKIP;
        break;
    case IPD_EXT_FIELD:
        if (w->tag == DER_OID)
            act = CAPTURE;
        else if (w->tag == DER_OCTET_STRING && w->in_san)
            act = ENTER; /* extnValue holds the GeneralNames' DER */
        break;
    case IPD_GENERAL_NAME:
        act = w->tag == DER_SAN_IP ? CAPTURE : SKIP;
        break;
    default:
        break;
    }
    switch (act) {
    case STOP:
        w->state = IPW_DONE;
        return;
    case ENTER:
        if (w->depth == GW__TLS_DER_DEPTH) {
            w->state = IPW_DONE;
            return;
        }
        w->end[w->depth++] = w->elem_end;
        break;
    case CAPTURE:
        w->cap_len = 0;
        w->state = IPW_CAPTURE;
        if (w->len == 0)
            ipw_captured(w);
        break;
    case SKIP:
        w->state = IPW_SKIP;
        break;
    }
    if (w->len == 0 || act == ENTER)
        w->state = IPW_TAG;
    if (w->len == 0)
        ipw_close(w);
}

/* Walks len more bytes of the leaf. */
static void ipw_feed(struct gw__tls_ipcheck *w, const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len && w->state != IPW_DONE) {
        if (w->pos == UINT32_MAX) {
            w->state = IPW_DONE;
            return;
        }
        if (w->state == IPW_SKIP) {
            /* Bulk: most of a certificate is skipped. */
            size_t n = GW_MIN(len - i, (size_t)(w->elem_end - w->pos));
            i += n;
            w->pos += (uint32_t)n;
            if (w->pos == w->elem_end)
                ipw_close(w);
            continue;
        }
        unsigned char b = p[i++];
        w->pos++;
        switch (w->state) {
        case IPW_TAG:
            w->tag = b;
            w->state = (b & 0x1f) == 0x1f ? IPW_DONE : IPW_LEN; /* no high tag numbers */
            break;
        case IPW_LEN:
            if (b < 0x80) {
                w->len = b;
                ipw_header(w);
            } else if (b == 0x80 || b > 0x84) {
                w->state = IPW_DONE; /* indefinite (not DER) or beyond 32 bits */
            } else {
                w->len = 0;
                w->len_bytes = b & 0x7fu;
                w->state = IPW_LEN_LONG;
            }
            break;
        case IPW_LEN_LONG:
            w->len = (w->len << 8) | b;
            if (--w->len_bytes == 0)
                ipw_header(w);
            break;
        case IPW_CAPTURE:
            if (w->cap_len < sizeof w->cap)
                w->cap[w->cap_len] = b;
            w->cap_len++;
            if (w->pos == w->elem_end) {
                ipw_captured(w);
                ipw_close(w);
            }
            break;
        default:
            w->state = IPW_DONE;
            break;
        }
    }
}

static void ipc_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct gw__tls_ipcheck *w = ipcheck_of(ctx);
    (void)server_name; /* "": the engine was reset without a name, so no SNI went out */
    w->matched = false;
    w->certs = 0;
    w->state = IPW_TAG;
    w->pos = 0;
    w->depth = 0;
    w->tbs_seen = false;
    w->in_san = false;
    w->inner->vtable->start_chain(&w->inner->vtable, NULL);
}

static void ipc_start_cert(const br_x509_class **ctx, uint32_t length)
{
    struct gw__tls_ipcheck *w = ipcheck_of(ctx);
    w->inner->vtable->start_cert(&w->inner->vtable, length);
}

static void ipc_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct gw__tls_ipcheck *w = ipcheck_of(ctx);
    if (w->certs == 0)
        ipw_feed(w, buf, len);
    w->inner->vtable->append(&w->inner->vtable, buf, len);
}

static void ipc_end_cert(const br_x509_class **ctx)
{
    struct gw__tls_ipcheck *w = ipcheck_of(ctx);
    w->certs++;
    w->inner->vtable->end_cert(&w->inner->vtable);
}

/* The chain's verdict: the minimal engine's error first, then the address. */
static unsigned ipc_end_chain(const br_x509_class **ctx)
{
    struct gw__tls_ipcheck *w = ipcheck_of(ctx);
    unsigned err = w->inner->vtable->end_chain(&w->inner->vtable);
    if (err != 0)
        return err;
    return w->matched ? 0 : BR_ERR_X509_BAD_SERVER_NAME;
}

static const br_x509_pkey *ipc_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    const struct gw__tls_ipcheck *w = ipcheck_of(ctx);
    return w->inner->vtable->get_pkey(&w->inner->vtable, usages);
}

static const br_x509_class ipcheck_vtable = {
    .context_size = sizeof(struct gw__tls_ipcheck),
    .start_chain = ipc_start_chain,
    .start_cert = ipc_start_cert,
    .append = ipc_append,
    .end_cert = ipc_end_cert,
    .end_chain = ipc_end_chain,
    .get_pkey = ipc_get_pkey,
};

/*
 * The address in an IP-literal server name ("10.0.0.5", "::1", "[::1]"),
 * into out (16 bytes). Returns its length, 4 or 16, or 0 for a DNS name.
 */
static unsigned ip_literal(const char *name, unsigned char *out)
{
    if (name == NULL)
        return 0;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '[' && name[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, name + 1, n - 2);
        buf[n - 2] = '\0';
        name = buf;
    }
    if (inet_pton(AF_INET, name, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, name, out) == 1)
        return 16;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Engines.
 */
int gw_tls_client_start(struct gw_tls_client *c, const struct gw_tls_anchors *anchors,
                        const char *server_name, const br_ssl_session_parameters *resume)
{
    br_ssl_client_init_full(&c->cc, &c->xc, anchors->ta, anchors->n);
    br_ssl_engine_set_buffer(&c->cc.eng, c->iobuf, sizeof c->iobuf, 1);
    /* A pooled connection outlives the snapshot whose trust anchors checked
     * it, so a later handshake on it (renegotiation) must never happen. */
    br_ssl_engine_add_flags(&c->cc.eng, BR_OPT_NO_RENEGOTIATION);
    c->_ip.want_len = ip_literal(server_name, c->_ip.want);
    if (c->_ip.want_len) {
        /* No SNI, and the wrapper checks the address (see "IP-literal server names"). */
        c->_ip.vtable = &ipcheck_vtable;
        c->_ip.inner = &c->xc;
        br_ssl_engine_set_x509(&c->cc.eng, &c->_ip.vtable);
        server_name = NULL;
    }
    bool offer = resume != NULL && resume->session_id_len > 0;
    if (offer)
        br_ssl_engine_set_session_parameters(&c->cc.eng, resume);
    return br_ssl_client_reset(&c->cc, server_name, offer ? 1 : 0) ? 0 : -1;
}

bool gw_tls_client_session(struct gw_tls_client *c, br_ssl_session_parameters *out)
{
    /*
     * BearSSL has no "handshake done" accessor; its documented signal is that
     * the engine first accepts application data. A cleanly closed engine
     * (BR_SSL_CLOSED with no error) is accepted too, so a caller may save the
     * session after the close_notify exchange; if that close came before any
     * handshake, the parameters are at worst the ones offered for resumption,
     * or have no session ID and are refused below.
     */
    const br_ssl_engine_context *eng = &c->cc.eng;
    unsigned st = br_ssl_engine_current_state(eng);
    bool done = (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0 ||
                (st == BR_SSL_CLOSED && br_ssl_engine_last_error(eng) == BR_ERR_OK);
    if (!done)
        return false;
    br_ssl_session_parameters p;
    br_ssl_engine_get_session_parameters(eng, &p);
    if (p.session_id_len == 0) {
        explicit_bzero(&p, sizeof p);
        return false;
    }
    *out = p;
    explicit_bzero(&p, sizeof p);
    return true;
}

void gw_tls_session_cache_init(struct gw_tls_session_cache *cache)
{
    br_ssl_session_cache_lru_init(&cache->lru, cache->store, sizeof cache->store);
}

int gw_tls_server_start_cached(struct gw_tls_server *s, const struct gw_tls_creds *creds,
                               struct gw_tls_session_cache *cache)
{
    if (creds->key_type == BR_KEYTYPE_RSA)
        br_ssl_server_init_full_rsa(&s->sc, creds->chain, creds->chain_len, &creds->rsa);
    else
        br_ssl_server_init_full_ec(&s->sc, creds->chain, creds->chain_len,
                                   (unsigned)creds->issuer_key_type, &creds->ec);
    /* The init functions zero the context, so the cache goes in after them. */
    if (cache != NULL)
        br_ssl_server_set_cache(&s->sc, &cache->lru.vtable);
    br_ssl_engine_set_buffer(&s->sc.eng, s->iobuf, sizeof s->iobuf, 1);
    return br_ssl_server_reset(&s->sc) ? 0 : -1;
}

int gw_tls_server_start(struct gw_tls_server *s, const struct gw_tls_creds *creds)
{
    return gw_tls_server_start_cached(s, creds, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Error texts.
 */
static const char *const br_err_text[] = {
    [BR_ERR_OK] = "no error",
    [BR_ERR_BAD_PARAM] = "bad parameter",
    [BR_ERR_BAD_STATE] = "operation not allowed in the current state",
    [BR_ERR_UNSUPPORTED_VERSION] = "unsupported protocol version",
    [BR_ERR_BAD_VERSION] = "record version mismatch",
    [BR_ERR_BAD_LENGTH] = "invalid record length",
    [BR_ERR_TOO_LARGE] = "record too large",
    [BR_ERR_BAD_MAC] = "bad record MAC or padding",
    [BR_ERR_NO_RANDOM] = "no entropy source",
    [BR_ERR_UNKNOWN_TYPE] = "unknown record type",
    [BR_ERR_UNEXPECTED] = "unexpected message",
    [BR_ERR_BAD_CCS] = "invalid ChangeCipherSpec",
    [BR_ERR_BAD_ALERT] = "invalid alert message",
    [BR_ERR_BAD_HANDSHAKE] = "malformed handshake message",
    [BR_ERR_OVERSIZED_ID] = "oversized session ID",
    [BR_ERR_BAD_CIPHER_SUITE] = "no common or unexpected cipher suite",
    [BR_ERR_BAD_COMPRESSION] = "unexpected compression",
    [BR_ERR_BAD_FRAGLEN] = "max fragment length mismatch",
    [BR_ERR_BAD_SECRENEG] = "secure renegotiation failed",
    [BR_ERR_EXTRA_EXTENSION] = "unexpected extension",
    [BR_ERR_BAD_SNI] = "invalid SNI",
    [BR_ERR_BAD_HELLO_DONE] = "invalid ServerHelloDone",
    [BR_ERR_LIMIT_EXCEEDED] = "internal limit exceeded",
    [BR_ERR_BAD_FINISHED] = "bad Finished message",
    [BR_ERR_RESUME_MISMATCH] = "session resumption with a different version or suite",
    [BR_ERR_INVALID_ALGORITHM] = "unsupported or invalid algorithm",
    [BR_ERR_BAD_SIGNATURE] = "bad handshake signature",
    [BR_ERR_WRONG_KEY_USAGE] = "peer key not allowed for this use",
    [BR_ERR_NO_CLIENT_AUTH] = "client certificate missing or not valid",
    [BR_ERR_IO] = "I/O error",
    [BR_ERR_X509_OK] = "certificate valid",
    [BR_ERR_X509_INVALID_VALUE] = "certificate: invalid ASN.1 value",
    [BR_ERR_X509_TRUNCATED] = "certificate truncated",
    [BR_ERR_X509_EMPTY_CHAIN] = "empty certificate chain",
    [BR_ERR_X509_INNER_TRUNC] = "certificate: inner element truncated",
    [BR_ERR_X509_BAD_TAG_CLASS] = "certificate: unsupported tag class",
    [BR_ERR_X509_BAD_TAG_VALUE] = "certificate: unsupported tag",
    [BR_ERR_X509_INDEFINITE_LENGTH] = "certificate: indefinite length",
    [BR_ERR_X509_EXTRA_ELEMENT] = "certificate: extra element",
    [BR_ERR_X509_UNEXPECTED] = "certificate: unexpected element",
    [BR_ERR_X509_NOT_CONSTRUCTED] = "certificate: expected constructed element",
    [BR_ERR_X509_NOT_PRIMITIVE] = "certificate: expected primitive element",
    [BR_ERR_X509_PARTIAL_BYTE] = "certificate: partial byte in BIT STRING",
    [BR_ERR_X509_BAD_BOOLEAN] = "certificate: bad BOOLEAN",
    [BR_ERR_X509_OVERFLOW] = "certificate: value out of range",
    [BR_ERR_X509_BAD_DN] = "certificate: invalid distinguished name",
    [BR_ERR_X509_BAD_TIME] = "certificate: invalid date",
    [BR_ERR_X509_UNSUPPORTED] = "certificate uses unsupported features",
    [BR_ERR_X509_LIMIT_EXCEEDED] = "certificate key or signature too large",
    [BR_ERR_X509_WRONG_KEY_TYPE] = "certificate key type unexpected",
    [BR_ERR_X509_BAD_SIGNATURE] = "certificate signature invalid",
    [BR_ERR_X509_TIME_UNKNOWN] = "validation time unknown",
    [BR_ERR_X509_EXPIRED] = "certificate expired or not yet valid",
    [BR_ERR_X509_DN_MISMATCH] = "certificate chain issuer/subject mismatch",
    [BR_ERR_X509_BAD_SERVER_NAME] = "server name mismatch",
    [BR_ERR_X509_CRITICAL_EXTENSION] = "certificate has an unknown critical extension",
    [BR_ERR_X509_NOT_CA] = "issuer is not a CA or path length exceeded",
    [BR_ERR_X509_FORBIDDEN_KEY_USAGE] = "certificate key usage forbids this use",
    [BR_ERR_X509_WEAK_PUBLIC_KEY] = "certificate public key too weak",
    [BR_ERR_X509_NOT_TRUSTED] = "certificate not trusted",
};

/* TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2), as fatal alerts BearSSL reports. */
#define GW_TLS_ALERTS(X)                                                                           \
    X(0, "close_notify")                                                                           \
    X(10, "unexpected message")                                                                    \
    X(20, "bad record MAC")                                                                        \
    X(22, "record overflow")                                                                       \
    X(40, "handshake failure")                                                                     \
    X(42, "bad certificate")                                                                       \
    X(43, "unsupported certificate")                                                               \
    X(44, "certificate revoked")                                                                   \
    X(45, "certificate expired")                                                                   \
    X(46, "certificate unknown")                                                                   \
    X(47, "illegal parameter")                                                                     \
    X(48, "unknown CA")                                                                            \
    X(49, "access denied")                                                                         \
    X(50, "decode error")                                                                          \
    X(51, "decrypt error")                                                                         \
    X(70, "protocol version")                                                                      \
    X(71, "insufficient security")                                                                 \
    X(80, "internal error")                                                                        \
    X(86, "inappropriate fallback")                                                                \
    X(90, "user canceled")                                                                         \
    X(100, "no renegotiation")                                                                     \
    X(109, "missing extension")                                                                    \
    X(110, "unsupported extension")                                                                \
    X(112, "unrecognized name")                                                                    \
    X(116, "certificate required")                                                                 \
    X(120, "no application protocol")

#define ALERT_RECV(n, s) [n] = "peer sent fatal alert: " s,
#define ALERT_SENT(n, s) [n] = "fatal alert sent to peer: " s,
static const char *const alert_recv_text[] = {GW_TLS_ALERTS(ALERT_RECV)};
static const char *const alert_sent_text[] = {GW_TLS_ALERTS(ALERT_SENT)};
#undef ALERT_RECV
#undef ALERT_SENT

const char *gw_tls_strerror(int br_err)
{
    if (br_err >= 0 && (size_t)br_err < GW_ARRAY_SIZE(br_err_text) && br_err_text[br_err])
        return br_err_text[br_err];
    if (br_err >= BR_ERR_RECV_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT) {
        int a = br_err - BR_ERR_RECV_FATAL_ALERT;
        if ((size_t)a < GW_ARRAY_SIZE(alert_recv_text) && alert_recv_text[a])
            return alert_recv_text[a];
        return "peer sent a fatal alert";
    }
    if (br_err >= BR_ERR_SEND_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT + 256) {
        int a = br_err - BR_ERR_SEND_FATAL_ALERT;
        if ((size_t)a < GW_ARRAY_SIZE(alert_sent_text) && alert_sent_text[a])
            return alert_sent_text[a];
        return "fatal alert sent to peer";
    }
    return "unknown TLS error";
}

/* ---------------------------------------------------------------------------------------------
 * Blocking drivers.
 *
 * Each loop step looks at the engine state and does the one thing that lets
 * it progress. Pending records always go out first: the peer may be waiting
 * for them (handshake flights, our close_notify answer) before it sends
 * anything, and the engine takes no new data while its output is full.
 */

/* Sends the engine's pending records. 0, or -1 on a socket error. */
static int send_records(br_ssl_engine_context *eng, int fd)
{
    size_t len;
    unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
    ssize_t n;
    do {
        n = send(fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    br_ssl_engine_sendrec_ack(eng, (size_t)n);
    return 0;
}

/* Receives records into the engine. 1 on progress, 0 on transport EOF, -1 on a socket error. */
static int recv_records(br_ssl_engine_context *eng, int fd)
{
    size_t len;
    unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
    ssize_t n;
    do {
        n = recv(fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0)
        return 0;
    br_ssl_engine_recvrec_ack(eng, (size_t)n);
    return 1;
}

/* What a closed engine means to the caller: 0 after close_notify, -1 after an error. */
static long closed_result(const br_ssl_engine_context *eng)
{
    return br_ssl_engine_last_error(eng) == BR_ERR_OK ? 0 : -1;
}

long gw_tls_blocking_write(br_ssl_engine_context *eng, int fd, const void *buf, size_t len)
{
    const unsigned char *src = buf;
    size_t done = 0;
    bool flushed = false;
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        if (st & BR_SSL_CLOSED)
            return closed_result(eng);
        if (st & BR_SSL_SENDREC) {
            if (send_records(eng, fd) < 0)
                return -1;
            continue;
        }
        if (done == len) {
            if (flushed)
                return (long)len;
            br_ssl_engine_flush(eng, 0);
            flushed = true;
            continue;
        }
        if (st & BR_SSL_SENDAPP) {
            size_t room;
            unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &room);
            size_t n = GW_MIN(room, len - done);
            memcpy(dst, src + done, n);
            br_ssl_engine_sendapp_ack(eng, n);
            done += n;
            continue;
        }
        if (st & BR_SSL_RECVREC) {
            /* Handshake in progress: the engine needs the peer's flight first. */
            if (recv_records(eng, fd) <= 0)
                return -1;
            continue;
        }
        /* Only unread application data is left, and it blocks the handshake. */
        return -1;
    }
}

long gw_tls_blocking_read(br_ssl_engine_context *eng, int fd, void *buf, size_t cap)
{
    if (cap == 0)
        return -1;
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        if (st & BR_SSL_CLOSED)
            return closed_result(eng);
        if (st & BR_SSL_SENDREC) {
            if (send_records(eng, fd) < 0)
                return -1;
            continue;
        }
        if (st & BR_SSL_RECVAPP) {
            size_t avail;
            unsigned char *src = br_ssl_engine_recvapp_buf(eng, &avail);
            size_t n = GW_MIN(avail, cap);
            memcpy(buf, src, n);
            br_ssl_engine_recvapp_ack(eng, n);
            return (long)n;
        }
        if (st & BR_SSL_RECVREC) {
            if (recv_records(eng, fd) <= 0)
                return -1;
            continue;
        }
        return -1;
    }
}

int gw_tls_blocking_close(br_ssl_engine_context *eng, int fd)
{
    br_ssl_engine_close(eng);
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        if (st & BR_SSL_CLOSED)
            return (int)closed_result(eng);
        if (st & BR_SSL_SENDREC) {
            if (send_records(eng, fd) < 0)
                return -1;
            continue;
        }
        if (st & BR_SSL_RECVAPP) {
            size_t avail;
            br_ssl_engine_recvapp_buf(eng, &avail);
            br_ssl_engine_recvapp_ack(eng, avail);
            continue;
        }
        if (st & BR_SSL_RECVREC) {
            int r = recv_records(eng, fd);
            if (r < 0)
                return -1;
            if (r == 0)
                return 0; /* our close_notify is out; the peer just dropped the transport */
            continue;
        }
        return -1;
    }
}
