/* zstd, both sides: ZSTD_decompressStream returns 0 exactly at the end of a frame (skippable
 * frames included), with the input position at the next frame: every frame start is a point. */
#include "zseek_i.h"

static int zstd_error(lzs_error **err, size_t zr, uint64_t off)
{
    return lzs_error_set(err, EBADMSG, "zstd: %s at compressed offset %" PRIu64,
                         ZSTD_getErrorName(zr), off);
}

static int zstd_truncated(lzs_error **err, uint64_t off)
{
    return lzs_error_set(err, ENODATA,
                         "zstd: unexpected end of input at compressed offset %" PRIu64, off);
}

/* One decompressStream call into out[*done..n); returns its result. */
static size_t decode_step(ZSTD_DCtx *dctx, struct lzs_zseek_in *in, uint8_t *out, size_t n,
                          size_t *done)
{
    ZSTD_inBuffer ib = {.src = in->buf, .size = in->len, .pos = in->pos};
    ZSTD_outBuffer ob = {.dst = out, .size = n, .pos = *done};
    size_t zr = ZSTD_decompressStream(dctx, &ob, &ib);
    in->pos = ib.pos;
    *done = ob.pos;
    return zr;
}

/* A frame starts at the input position (or the input ended). */
static int stream_frame(lzs_zseek_stream *s, lzs_error **err)
{
    ssize_t r = lzs_zseek_in_fill(&s->in, 1, err);
    if (r < 0)
        return (int)r;
    s->frame_start = false;
    uint64_t off = lzs_zseek_in_off(&s->in);
    if (r == 0) {
        s->done = true;
        return 0;
    }
    if (off == 0)
        return 0; /* the START point */
    struct lzs_zseek_point *last = &s->points[s->npoints - 1];
    if (last->out_off == s->out) {
        /* the frames since the last point decoded nothing (skippable or empty): keep one point
         * per output offset, the later one, except that the start stays the start */
        if (last->kind == LZS_ZSEEK_POINT_FRAME)
            last->in_off = off;
        return 0;
    }
    return lzs_zseek_stream_add_point(s, LZS_ZSEEK_POINT_FRAME, off, 0, err);
}

ssize_t lzs_zseek_zstd_stream_read(lzs_zseek_stream *s, uint8_t *buf, size_t n, lzs_error **err)
{
    size_t done = 0;
    while (done < n && !s->done) {
        if (s->frame_start) {
            int rc = stream_frame(s, err);
            if (rc < 0)
                return rc;
            continue;
        }
        ssize_t r = lzs_zseek_in_fill(&s->in, 1, err);
        if (r < 0)
            return r;
        if (r == 0)
            return zstd_truncated(err, lzs_zseek_in_off(&s->in));
        size_t before = done;
        size_t zr = decode_step(s->dctx, &s->in, buf, n, &done);
        s->out += done - before;
        if (ZSTD_isError(zr))
            return zstd_error(err, zr, lzs_zseek_in_off(&s->in));
        if (zr == 0)
            s->frame_start = true;
    }
    return (ssize_t)done;
}

int lzs_zseek_zstd_cursor_init(lzs_zseek_cursor *c, lzs_error **err)
{
    c->dctx = ZSTD_createDCtx();
    if (!c->dctx)
        return lzs_error_set(err, ENOMEM, "zstd: cannot create a decompression context");
    c->frame_start = true;
    return 0;
}

ssize_t lzs_zseek_zstd_cursor_decode(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = lzs_zseek_in_fill(&c->in, 1, err);
        if (r < 0)
            return r;
        if (r == 0) {
            if (c->frame_start)
                break;
            return zstd_truncated(err, lzs_zseek_in_off(&c->in));
        }
        c->frame_start = false;
        size_t zr = decode_step(c->dctx, &c->in, buf, n, &done);
        if (ZSTD_isError(zr))
            return zstd_error(err, zr, lzs_zseek_in_off(&c->in));
        if (zr == 0)
            c->frame_start = true;
    }
    return (ssize_t)done;
}
