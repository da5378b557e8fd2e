/*
 * providers/eventstream.c — the AWS event stream framing
 * (application/vnd.amazon.eventstream): CRC-32, the incremental decoder, and
 * a string-header encoder for the mock and the tests.
 *
 * [AWS Transcribe Developer Guide, "Setting up a streaming transcription:
 * event stream encoding" and the Amazon S3 API Reference, "SelectObjectContent
 * event stream", which give the message layout (prelude, headers, payload,
 * CRCs) and the ten header value types; awslabs/aws-c-event-stream's test
 * messages are the byte-exact fixtures in tests/unit/providers/test_eventstream.c.]
 *
 * Decoder memory. A message that arrives whole inside one feed is handed out
 * in place: its spans point into the caller's data and nothing is copied.
 * Otherwise the bytes gather in _buf, taken from the arena: it starts at
 * BUF_MIN bytes and is replaced by one twice as big (or more, up to the
 * message's declared length, never past max_message) when a message needs
 * more. The arena cannot free, so the buffers left behind add up to less than
 * the last one: the decoder holds under 2 * max_message + BUF_MIN bytes of
 * its arena over a whole stream, however long.
 *
 * Lengths are checked as soon as the 12-byte prelude is in, after its CRC,
 * so a bad length is never used to size anything; the message CRC is checked
 * before any header is read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/common.h"
#include "core/span.h"
#include "providers/eventstream.h"

#define BUF_MIN 256 /* the first gather buffer: a prelude and a small event */

/* CRC-32, reflected, polynomial 0xEDB88320 (IEEE 802.3, as zlib's crc32): T[i] is i's CRC
 * after eight shifts. Computed once for this file; the test checks "123456789" ->
 * 0xCBF43926 and a bitwise CRC over random data. */
static const uint32_t CRC_TABLE[256] = {
    0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f, 0xe963a535, 0x9e6495a3,
    0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988, 0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91,
    0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
    0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5,
    0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172, 0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b,
    0x35b5a8fa, 0x42b2986c, 0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
    0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
    0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924, 0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d,
    0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
    0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d, 0x91646c97, 0xe6635c01,
    0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e, 0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457,
    0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
    0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb,
    0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0, 0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
    0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
    0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81, 0xb7bd5c3b, 0xc0ba6cad,
    0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a, 0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683,
    0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
    0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7,
    0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc, 0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5,
    0xd6d6a3e8, 0xa1d1937e, 0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
    0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55, 0x316e8eef, 0x4669be79,
    0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236, 0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f,
    0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
    0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713,
    0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38, 0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21,
    0x86d3d2d4, 0xf1d4e242, 0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
    0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
    0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2, 0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db,
    0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
    0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693, 0x54de5729, 0x23d967bf,
    0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94, 0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

uint32_t gw_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = CRC_TABLE[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ---- decoding ---- */

/*
 * Checks the prelude at p (12 bytes): its CRC, then total >= 16,
 * total <= max and headers_length <= total - 16. Sets *total.
 */
static enum gw_es_error check_prelude(const struct gw_es_decoder *d, const unsigned char *p,
                                      size_t *total)
{
    uint32_t t = be32(p), hl = be32(p + 4);
    if (gw_crc32(0, p, 8) != be32(p + 8))
        return GW_ES_PRELUDE_CRC;
    if (t < GW_ES_MIN_MESSAGE || t > d->_max || hl > t - GW_ES_MIN_MESSAGE)
        return GW_ES_BAD_LENGTH;
    *total = t;
    return GW_ES_OK;
}

/* The well-known string headers gw_es_message surfaces, by name. */
static struct gw_span *known_header(struct gw_es_message *m, const unsigned char *name, size_t n)
{
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        {":message-type", offsetof(struct gw_es_message, message_type)},
        {":event-type", offsetof(struct gw_es_message, event_type)},
        {":exception-type", offsetof(struct gw_es_message, exception_type)},
        {":error-code", offsetof(struct gw_es_message, error_code)},
        {":error-message", offsetof(struct gw_es_message, error_message)},
        {":content-type", offsetof(struct gw_es_message, content_type)},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(known); i++)
        if (strlen(known[i].name) == n && memcmp(known[i].name, name, n) == 0)
            return (struct gw_span *)((char *)m + known[i].off);
    return NULL;
}

/*
 * Walks the header block p[0..n), checking each header's bounds and type,
 * and fills m's well-known spans from string (type 7) headers. A header name
 * is 1..255 bytes; a well-known name that appears twice is refused, so no
 * one can read a different :message-type than the one this code saw.
 */
static enum gw_es_error parse_headers(const unsigned char *p, size_t n, struct gw_es_message *m)
{
    size_t i = 0;
    while (i < n) {
        size_t nlen = p[i++];
        if (nlen == 0 || nlen > n - i)
            return GW_ES_BAD_HEADER;
        const unsigned char *name = p + i;
        i += nlen;
        if (i == n)
            return GW_ES_BAD_HEADER; /* no type byte */
        unsigned type = p[i++];
        size_t vlen;
        switch (type) {
        case 0: /* bool true */
        case 1: /* bool false */
            vlen = 0;
            break;
        case 2: /* byte */
            vlen = 1;
            break;
        case 3: /* int16 */
            vlen = 2;
            break;
        case 4: /* int32 */
            vlen = 4;
            break;
        case 5: /* int64 */
        case 8: /* timestamp, ms since the epoch */
            vlen = 8;
            break;
        case 9: /* uuid */
            vlen = 16;
            break;
        case 6: /* bytes */
        case 7: /* string */
            if (n - i < 2)
                return GW_ES_BAD_HEADER;
            vlen = (size_t)p[i] << 8 | p[i + 1];
            i += 2;
            break;
        default:
            return GW_ES_BAD_HEADER;
        }
        if (vlen > n - i)
            return GW_ES_BAD_HEADER;
        if (type == 7) {
            struct gw_span *k = known_header(m, name, nlen);
            if (k) {
                if (k->ptr)
                    return GW_ES_BAD_HEADER;
                *k = gw_span_make((const char *)p + i, vlen);
            }
        }
        i += vlen;
    }
    return GW_ES_OK;
}

/* Checks and hands out the complete message p[0..total), whose prelude passed check_prelude. */
static enum gw_es_error deliver(const unsigned char *p, size_t total, gw_es_message_fn *fn,
                                void *arg)
{
    if (gw_crc32(0, p, total - 4) != be32(p + total - 4))
        return GW_ES_MESSAGE_CRC;
    size_t hl = be32(p + 4);
    struct gw_es_message m = {0};
    m.headers = gw_span_make((const char *)p + GW_ES_PRELUDE_LEN, hl);
    m.payload =
        gw_span_make((const char *)p + GW_ES_PRELUDE_LEN + hl, total - GW_ES_MIN_MESSAGE - hl);
    enum gw_es_error e = parse_headers(p + GW_ES_PRELUDE_LEN, hl, &m);
    if (e != GW_ES_OK)
        return e;
    return fn(arg, &m) < 0 ? GW_ES_STOPPED : GW_ES_OK;
}

/* Makes _buf hold at least need bytes, keeping its first _len; false when the arena is out. */
static bool reserve(struct gw_es_decoder *d, size_t need)
{
    if (need <= d->_cap)
        return true;
    size_t cap = d->_cap ? d->_cap : BUF_MIN;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > d->_max)
        cap = GW_MAX(d->_max, need);
    char *b = gw_arena_alloc(d->_arena, cap);
    if (!b)
        return false;
    if (d->_len)
        memcpy(b, d->_buf, d->_len);
    d->_buf = b;
    d->_cap = cap;
    return true;
}

void gw_es_init(struct gw_es_decoder *d, struct gw_arena *a, size_t max_message)
{
    memset(d, 0, sizeof(*d));
    d->_arena = a;
    d->_max = max_message ? max_message : GW_ES_MESSAGE_MAX;
    if (d->_max > UINT32_MAX)
        d->_max = UINT32_MAX; /* the wire's total_length is a u32 */
}

/*
 * Each turn of the loop either hands out a message that lies whole in the
 * fed data (nothing held, prelude and message both in reach), or moves bytes
 * into _buf: first up to the 12-byte prelude, whose check gives the length
 * to gather, then up to that length. A message completed in _buf is handed
 * out from there, and _buf is kept for the next one.
 */
int gw_es_feed(struct gw_es_decoder *d, const char *data, size_t len, gw_es_message_fn *fn,
               void *arg)
{
    if (d->_err != GW_ES_OK)
        return -1;
    const unsigned char *p = (const unsigned char *)data;
    enum gw_es_error e = GW_ES_OK;
    while (len > 0) {
        size_t total;
        if (d->_len == 0 && len >= GW_ES_PRELUDE_LEN) {
            if ((e = check_prelude(d, p, &total)) != GW_ES_OK)
                goto fail;
            if (len >= total) {
                if ((e = deliver(p, total, fn, arg)) != GW_ES_OK)
                    goto fail;
                p += total;
                len -= total;
                continue;
            }
            d->_need = total;
        }
        if (d->_need == 0) {
            if (!reserve(d, GW_ES_PRELUDE_LEN)) {
                e = GW_ES_NOMEM;
                goto fail;
            }
            size_t k = GW_MIN(GW_ES_PRELUDE_LEN - d->_len, len);
            memcpy(d->_buf + d->_len, p, k);
            d->_len += k;
            p += k;
            len -= k;
            if (d->_len < GW_ES_PRELUDE_LEN)
                break;
            if ((e = check_prelude(d, (const unsigned char *)d->_buf, &total)) != GW_ES_OK)
                goto fail;
            d->_need = total;
        }
        if (!reserve(d, d->_need)) {
            e = GW_ES_NOMEM;
            goto fail;
        }
        size_t k = GW_MIN(d->_need - d->_len, len);
        memcpy(d->_buf + d->_len, p, k);
        d->_len += k;
        p += k;
        len -= k;
        if (d->_len == d->_need) {
            size_t n = d->_need;
            d->_len = 0;
            d->_need = 0;
            if ((e = deliver((const unsigned char *)d->_buf, n, fn, arg)) != GW_ES_OK)
                goto fail;
        }
    }
    return 0;
fail:
    d->_err = e;
    return -1;
}

bool gw_es_idle(const struct gw_es_decoder *d)
{
    return d->_len == 0 && d->_err == GW_ES_OK;
}

enum gw_es_error gw_es_error(const struct gw_es_decoder *d)
{
    return d->_err;
}

const char *gw_es_error_str(enum gw_es_error e)
{
    static const char *const names[GW_ES_ERROR_COUNT] = {
        [GW_ES_OK] = "ok",
        [GW_ES_BAD_LENGTH] = "impossible message or header length",
        [GW_ES_PRELUDE_CRC] = "prelude CRC mismatch",
        [GW_ES_MESSAGE_CRC] = "message CRC mismatch",
        [GW_ES_BAD_HEADER] = "malformed header",
        [GW_ES_NOMEM] = "out of memory for a partial message",
        [GW_ES_STOPPED] = "stopped by the message handler",
    };
    return (unsigned)e < GW_ES_ERROR_COUNT ? names[e] : "unknown";
}

/* ---- encoding ---- */

size_t gw_es_encode(char *out, size_t cap, const struct gw_es_header *h, size_t nh,
                    const void *payload, size_t plen)
{
    size_t hl = 0;
    for (size_t i = 0; i < nh; i++) {
        size_t n = strlen(h[i].name), v = strlen(h[i].value);
        if (n == 0 || n > 255 || v > 65535)
            return 0;
        hl += 1 + n + 1 + 2 + v;
    }
    if (hl > UINT32_MAX - GW_ES_MIN_MESSAGE || plen > UINT32_MAX - GW_ES_MIN_MESSAGE - hl)
        return 0;
    size_t total = GW_ES_MIN_MESSAGE + hl + plen;
    if (!out || total > cap)
        return 0;
    unsigned char *p = (unsigned char *)out;
    put_be32(p, (uint32_t)total);
    put_be32(p + 4, (uint32_t)hl);
    put_be32(p + 8, gw_crc32(0, p, 8));
    size_t i = GW_ES_PRELUDE_LEN;
    for (size_t k = 0; k < nh; k++) {
        size_t n = strlen(h[k].name), v = strlen(h[k].value);
        p[i++] = (unsigned char)n;
        memcpy(p + i, h[k].name, n);
        i += n;
        p[i++] = 7;
        p[i++] = (unsigned char)(v >> 8);
        p[i++] = (unsigned char)v;
        memcpy(p + i, h[k].value, v);
        i += v;
    }
    if (plen)
        memcpy(p + i, payload, plen);
    i += plen;
    put_be32(p + i, gw_crc32(0, p, i));
    return total;
}
