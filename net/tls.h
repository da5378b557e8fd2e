/*
 * net/tls.h — BearSSL glue: trust anchors and server credentials loaded from
 * PEM files (control thread, or a tool's start-up), and the client and server
 * contexts that live inside a connection object.
 *
 * BearSSL does no I/O [bear]: the engine names the buffer to receive into and
 * the buffer to send from, and the caller moves bytes with io_uring. The
 * worker's loop drives it with br_ssl_engine_current_state(),
 * br_ssl_engine_sendrec_buf/ack, recvrec_buf/ack, sendapp_buf/ack,
 * recvapp_buf/ack and br_ssl_engine_flush directly; this module only sets the
 * contexts up. One full-duplex engine buffer is BR_SSL_BUFSIZE_BIDI (~33 KB),
 * the budget pools are sized from.
 */
#ifndef GW_NET_TLS_H
#define GW_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

/* An immutable set of trust anchors; shared read-only by every worker. */
struct gw_tls_anchors {
    br_x509_trust_anchor *ta; /* owns, with every DN and key buffer */
    size_t n;
};

/*
 * Loads every CERTIFICATE in a PEM bundle (a CA file such as
 * /etc/ssl/certs/ca-certificates.crt, or a single self-signed certificate) as
 * a trust anchor. Each anchor gets the certificate's subject DN and public key
 * in buffers the set owns; it is flagged BR_X509_TA_CA when the certificate
 * asserts CA status in basicConstraints (a non-CA anchor only vouches for
 * itself, i.e. direct trust in that exact server key). Certificates BearSSL
 * cannot decode (an unsupported key type) are skipped. Returns NULL with a
 * message naming the file in err when the file cannot be read, is not valid
 * PEM, or holds no usable certificate. Blocking file I/O: control thread or
 * start-up only. Free with gw_tls_anchors_free (NULL is accepted).
 */
struct gw_tls_anchors *gw_tls_anchors_load(const char *path, char *err, size_t errlen);
void gw_tls_anchors_free(struct gw_tls_anchors *a);

/* Nesting the iPAddress check walks into: Certificate > ... > GeneralName (7 levels). */
#define GW__TLS_DER_DEPTH 8

/*
 * Private to net/tls.c: the X.509 engine of a client whose server name is an
 * IP literal. It forwards every call to the minimal engine (chain, trust,
 * dates, key usage; started with no name, so it checks none) and walks the
 * end-entity certificate's DER as it streams past, looking for an iPAddress
 * subjectAltName equal to the address; end_chain fails with
 * BR_ERR_X509_BAD_SERVER_NAME when there is none. No allocation, no copy of
 * the certificate.
 */
struct gw__tls_ipcheck {
    const br_x509_class *vtable;    /* first: BearSSL calls through &vtable */
    br_x509_minimal_context *inner; /* borrows: the client's minimal engine */
    unsigned char want[16];         /* the address, network byte order */
    unsigned want_len;              /* 4 or 16; 0: not an IP literal, engine unused */
    bool matched;                   /* an iPAddress SAN of the leaf equals want */
    uint32_t certs;                 /* certificates ended in this chain: 0 while on the leaf */
    /* DER walk of the leaf: every offset counts bytes from the certificate's start. */
    unsigned state;                  /* where in a TLV the next byte falls */
    uint32_t pos;                    /* bytes walked */
    unsigned depth;                  /* elements entered, [0, GW__TLS_DER_DEPTH] */
    uint32_t end[GW__TLS_DER_DEPTH]; /* end offset of each entered element */
    unsigned char tag;               /* of the element whose header is being read */
    unsigned len_bytes;              /* long-form length bytes still to come */
    uint32_t len;                    /* content length of that element */
    uint32_t elem_end;               /* end offset of the element skipped or captured */
    unsigned char cap[16];           /* captured content (an OID, an address) */
    unsigned cap_len;                /* bytes of it, counted past 16 too */
    bool tbs_seen;                   /* tbsCertificate entered (the walk stops after it) */
    bool in_san;                     /* the Extension being walked is subjectAltName */
};

/* Client side: embed in the upstream connection object. */
struct gw_tls_client {
    br_ssl_client_context cc;
    br_x509_minimal_context xc;
    struct gw__tls_ipcheck _ip; /* private: the X.509 engine for IP-literal names */
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/*
 * Prepares a client engine for a new connection: full cipher suite set,
 * certificate chain validated against `anchors`, and the server's identity
 * checked against server_name, which is either
 *  - a DNS name: sent as SNI and matched against the leaf's dNSName
 *    subjectAltNames (the subject CN when it has none), by BearSSL; or
 *  - an IP literal (IPv4 dotted quad, or IPv6 with or without brackets): no
 *    SNI (RFC 6066 §3 allows only host names in it), and the leaf must list
 *    that address as an iPAddress subjectAltName (RFC 5280 §4.2.1.6; RFC 9525
 *    §6.3: an IP never matches a dNSName or the CN, whatever they spell).
 * When `resume` is non-NULL and holds a session from an
 * earlier handshake with the same origin, it is offered for resumption (the
 * server may still decline and run a full handshake). Returns 0, or -1 when
 * the engine refused to start (no OS entropy).
 * Borrows `anchors` for as long as the connection lives: the anchors set must
 * outlive it (a snapshot keeps it). server_name and resume are copied.
 * The engine then wants to send the ClientHello (BR_SSL_SENDREC).
 */
int gw_tls_client_start(struct gw_tls_client *c, const struct gw_tls_anchors *anchors,
                        const char *server_name, const br_ssl_session_parameters *resume);
/* The engine of a client, for the br_ssl_engine_* calls. */
static inline br_ssl_engine_context *gw_tls_client_engine(struct gw_tls_client *c)
{
    return &c->cc.eng;
}
/*
 * Copies the negotiated session out for later resumption. False (and *out
 * untouched) before the handshake has completed, after a failure, or when the
 * server gave no session ID (it does not resume). The parameters include the
 * master secret: keep them per worker, never log them.
 */
bool gw_tls_client_session(struct gw_tls_client *c, br_ssl_session_parameters *out);
/*
 * A short static text for an engine error (br_ssl_engine_last_error(): a
 * BR_ERR_* or BR_ERR_X509_* code, or a fatal alert received (256 + alert) or
 * sent (512 + alert)), for logs and 502 messages. Never NULL.
 */
const char *gw_tls_strerror(int br_err);

/* Server credentials: certificate chain plus its private key (RSA or EC). Immutable once loaded. */
struct gw_tls_creds {
    br_x509_certificate *chain; /* owns, with every DER buffer; chain[0] is the leaf */
    size_t chain_len;           /* >= 1 */
    int key_type;               /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    br_rsa_private_key rsa;     /* owns its buffers when key_type is RSA */
    br_ec_private_key ec;       /* owns its buffer when key_type is EC */
    int issuer_key_type;        /* BR_KEYTYPE_* of the key that signed chain[0] (ECDH suites) */
};

/*
 * Loads a PEM certificate chain (every CERTIFICATE block, leaf first) and a
 * PEM private key: "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY" (SEC1) or
 * unencrypted "PRIVATE KEY" (PKCS#8); the first key block is used. Checks
 * that the key matches the leaf's public key. Returns NULL with a message
 * naming the offending file in err on failure. Blocking file I/O: control
 * thread or start-up only. Free with gw_tls_creds_free (NULL is accepted),
 * which wipes the key material.
 */
struct gw_tls_creds *gw_tls_creds_load(const char *cert_path, const char *key_path, char *err,
                                       size_t errlen);
void gw_tls_creds_free(struct gw_tls_creds *c);

/* Server side (the mock provider and tests): embed in the connection object. */
struct gw_tls_server {
    br_ssl_server_context sc;
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/*
 * Prepares a server engine for a new connection with `creds`, all cipher
 * suites that fit the key type, no session cache (every handshake is full).
 * Borrows creds for as long as the connection lives. 0, or -1 when the engine
 * refused to start (no OS entropy). The engine then waits for the ClientHello.
 */
int gw_tls_server_start(struct gw_tls_server *s, const struct gw_tls_creds *creds);
static inline br_ssl_engine_context *gw_tls_server_engine(struct gw_tls_server *s)
{
    return &s->sc.eng;
}

/*
 * Server-side session cache, so that clients can resume (abbreviated
 * handshake, no certificate or key exchange). BearSSL's LRU cache is plain
 * memory with no locking: one cache serves the connections of ONE thread
 * only (a worker, the mock provider's thread, a test); give every thread its
 * own. Embed it where that thread's state lives; it must outlive every
 * connection started with it.
 */
#define GW_TLS_SESSION_CACHE_ENTRIES 128
struct gw_tls_session_cache {
    br_ssl_session_cache_lru lru;
    unsigned char store[GW_TLS_SESSION_CACHE_ENTRIES * 100]; /* BearSSL: 100 bytes per entry */
};

/* Prepares an empty cache. */
void gw_tls_session_cache_init(struct gw_tls_session_cache *cache);
/* gw_tls_server_start that also stores and looks sessions up in `cache` (borrowed; may be NULL). */
int gw_tls_server_start_cached(struct gw_tls_server *s, const struct gw_tls_creds *creds,
                               struct gw_tls_session_cache *cache);

/*
 * Blocking helpers for tools and tests (never a worker): run the engine
 * (handshake included) over a blocking socket fd.
 * gw_tls_blocking_write returns once all `len` bytes are written and flushed:
 * `len`; 0 when the peer closed cleanly (close_notify) first; -1 on a TLS
 * error (see br_ssl_engine_last_error), a socket error, or a transport EOF.
 * gw_tls_blocking_read returns as soon as some application bytes arrived:
 * 1..cap bytes (cap > 0); 0 on a clean close (close_notify; the engine
 * answers it); -1 on a TLS error, a socket error, or a transport EOF without
 * close_notify (a possible truncation). Sockets get MSG_NOSIGNAL, so a dead
 * peer is -1 rather than SIGPIPE.
 */
long gw_tls_blocking_write(br_ssl_engine_context *eng, int fd, const void *buf, size_t len);
long gw_tls_blocking_read(br_ssl_engine_context *eng, int fd, void *buf, size_t cap);
/*
 * Sends close_notify and waits for the peer's (application bytes that arrive
 * meanwhile are dropped). 0 when the close completed (or the peer closed the
 * transport after our close_notify left), -1 on error. Does not close fd.
 */
int gw_tls_blocking_close(br_ssl_engine_context *eng, int fd);

#endif
