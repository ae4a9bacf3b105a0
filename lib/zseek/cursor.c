/* The read side: a cursor decodes forward from one point, fetching compressed bytes from a blob.
 * in_end is a hint (see zseek.h): fetches stop there first, and go on past it only when the
 * decoder needs more. */
#include "zseek_i.h"

#include <string.h>

static int cursor_check(const lzs_blob *b, enum lzs_compression comp,
                        const struct lzs_zseek_point *p, lzs_error **err)
{
    bool ok;
    switch (comp) {
    case LZS_COMPRESSION_GZIP:
        ok = p->kind <= LZS_ZSEEK_POINT_MEMBER;
        break;
    case LZS_COMPRESSION_ZSTD:
        ok = (p->kind == LZS_ZSEEK_POINT_START || p->kind == LZS_ZSEEK_POINT_FRAME) && p->bits == 0;
        break;
    case LZS_COMPRESSION_NONE:
        ok = p->in_off == p->out_off;
        break;
    default:
        return lzs_error_set(err, EINVAL, "zseek: unknown compression %d", (int)comp);
    }
    if (!ok)
        return lzs_error_set(err, EINVAL, "%s: invalid point kind %u at compressed offset %" PRIu64,
                             lzs_compression_name(comp), p->kind, p->in_off);
    if (p->in_off > lzs_blob_size(b))
        return lzs_error_set(
            err, EINVAL, "%s: point at compressed offset %" PRIu64 " past the blob end %" PRIu64,
            lzs_compression_name(comp), p->in_off, lzs_blob_size(b));
    return 0;
}

/* The input buffer holds the first fetch (up to in_end) if it is not too large. */
static size_t input_cap(uint64_t start, uint64_t in_end)
{
    uint64_t want = in_end > start ? in_end - start : 0;
    if (want < LZS_ZSEEK_EXTEND)
        return LZS_ZSEEK_EXTEND;
    return want < LZS_ZSEEK_CURSOR_IN ? (size_t)want : LZS_ZSEEK_CURSOR_IN;
}

static int cursor_init(lzs_zseek_cursor *c, lzs_blob *b, const struct lzs_zseek_point *p,
                       uint64_t in_end, lzs_error **err)
{
    uint64_t start = p->in_off;
    if (c->comp == LZS_COMPRESSION_GZIP && p->kind == LZS_ZSEEK_POINT_DEFLATE && p->bits > 0)
        start--; /* the partly used byte */
    c->in.blob = lzs_blob_ref(b);
    c->in.base = start;
    c->in.end_hint = in_end;
    c->in.blob_size = lzs_blob_size(b);
    c->pos = p->out_off;
    if (c->comp == LZS_COMPRESSION_NONE)
        return 0; /* plain tar reads the blob directly: no input buffer */
    int rc = lzs_zseek_in_init(&c->in, input_cap(start, in_end), err);
    if (rc < 0)
        return rc;
    if (c->comp == LZS_COMPRESSION_GZIP)
        return lzs_zseek_gzip_cursor_init(c, p, err);
    if (c->comp == LZS_COMPRESSION_ZSTD)
        return lzs_zseek_zstd_cursor_init(c, err);
    return 0;
}

int lzs_zseek_cursor_new(lzs_zseek_cursor **out, lzs_blob *b, enum lzs_compression comp,
                         const struct lzs_zseek_point *p, uint64_t in_end, lzs_error **err)
{
    int rc = cursor_check(b, comp, p, err);
    if (rc < 0)
        return rc;
    lzs_cleanup(lzs_zseek_cursor_freep) lzs_zseek_cursor *c = calloc(1, sizeof(*c));
    if (!c)
        return lzs_error_set(err, ENOMEM, "zseek: cursor");
    c->comp = comp;
    rc = cursor_init(c, b, p, in_end, err);
    if (rc < 0)
        return rc;
    *out = lzs_steal_ptr(&c);
    return 0;
}

/* Plain tar: offsets are direct. */
static ssize_t none_decode(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err)
{
    uint64_t size = c->in.blob_size;
    if (c->pos >= size)
        return 0;
    if (n > size - c->pos)
        n = (size_t)(size - c->pos);
    int rc = lzs_blob_readat(c->in.blob, buf, n, c->pos, err);
    return rc < 0 ? rc : (ssize_t)n;
}

/* Up to n bytes at the cursor position; 0 at the end of the stream. */
static ssize_t decode(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err)
{
    ssize_t r;
    if (c->comp == LZS_COMPRESSION_GZIP)
        r = lzs_zseek_gzip_cursor_decode(c, buf, n, err);
    else if (c->comp == LZS_COMPRESSION_ZSTD)
        r = lzs_zseek_zstd_cursor_decode(c, buf, n, err);
    else
        r = none_decode(c, buf, n, err);
    if (r > 0) {
        c->pos += (uint64_t)r;
        c->decoded += (uint64_t)r;
    }
    return r;
}

/* Decode exactly n bytes into buf (NULL: drop them). */
static int decode_full(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err)
{
    while (n > 0) {
        uint8_t *dst = buf ? buf : c->scratch;
        size_t k = buf || n < LZS_ZSEEK_SCRATCH ? n : LZS_ZSEEK_SCRATCH;
        ssize_t r = decode(c, dst, k, err);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return lzs_error_set(err, ENODATA,
                                 "%s: stream ends at uncompressed offset %" PRIu64
                                 " (compressed offset %" PRIu64 ")",
                                 lzs_compression_name(c->comp), c->pos, lzs_zseek_in_off(&c->in));
        if (buf)
            buf += r;
        n -= (size_t)r;
    }
    return 0;
}

int lzs_zseek_cursor_read(lzs_zseek_cursor *c, uint64_t out_off, void *buf, size_t n,
                          lzs_error **err)
{
    if (c->failed < 0)
        return lzs_error_set(err, -c->failed, "%s: cursor failed earlier",
                             lzs_compression_name(c->comp));
    if (out_off < c->pos)
        return lzs_error_set(err, EINVAL,
                             "zseek: read at %" PRIu64 " behind the cursor position %" PRIu64,
                             out_off, c->pos);
    if (out_off > c->pos && c->comp == LZS_COMPRESSION_NONE) {
        c->pos = out_off;
    } else if (out_off > c->pos && !c->scratch) {
        c->scratch = malloc(LZS_ZSEEK_SCRATCH);
        if (!c->scratch)
            return lzs_error_set(err, ENOMEM, "zseek: cursor scratch buffer");
    }
    int rc = 0;
    if (out_off > c->pos)
        rc = decode_full(c, NULL, out_off - c->pos, err);
    if (rc == 0)
        rc = decode_full(c, buf, n, err);
    if (rc < 0)
        c->failed = rc;
    return rc;
}

void lzs_zseek_cursor_set_in_end(lzs_zseek_cursor *c, uint64_t in_end)
{
    if (in_end > c->in.end_hint)
        c->in.end_hint = in_end;
}

uint64_t lzs_zseek_cursor_position(const lzs_zseek_cursor *c)
{
    return c->pos;
}

uint64_t lzs_zseek_cursor_decompressed(const lzs_zseek_cursor *c)
{
    return c->decoded;
}

void lzs_zseek_cursor_free(lzs_zseek_cursor *c)
{
    if (!c)
        return;
    lzs_zseek_gzip_cursor_dispose(c);
    ZSTD_freeDCtx(c->dctx);
    free(c->scratch);
    lzs_zseek_in_dispose(&c->in);
    lzs_blob_unref(c->in.blob);
    free(c);
}
