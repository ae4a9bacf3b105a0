/* gzip, build side: inflate with Z_BLOCK over every member (zlib parses the headers, FEXTRA,
 * FNAME, FCOMMENT and FHCRC included, and checks CRC32 and ISIZE), and record a point at a
 * deflate block boundary or member start once `span` bytes were produced since the last one. */
#include "zseek_i.h"

#include <limits.h>

int lzs_zseek_gzip_error(lzs_error **err, int zr, const z_stream *z, uint64_t off)
{
    switch (zr) {
    case Z_MEM_ERROR:
        return lzs_error_set(err, ENOMEM, "gzip: out of memory at compressed offset %" PRIu64, off);
    case Z_NEED_DICT:
        return lzs_error_set(err, EBADMSG,
                             "gzip: stream needs a preset dictionary at compressed offset %" PRIu64,
                             off);
    case Z_DATA_ERROR:
        return lzs_error_set(err, EBADMSG, "gzip: %s at compressed offset %" PRIu64,
                             z->msg ? z->msg : "invalid data", off);
    default:
        return lzs_error_set(err, EBADMSG,
                             "gzip: inflate failed (%d) at compressed offset %" PRIu64, zr, off);
    }
}

/* Zero padding up to the end of the input is accepted, as GNU gzip does. */
static int skip_zeros(struct lzs_zseek_in *in, lzs_error **err)
{
    for (;;) {
        ssize_t r = lzs_zseek_in_fill(in, 1, err);
        if (r <= 0)
            return (int)r;
        const uint8_t *p = lzs_zseek_in_next(in);
        for (ssize_t i = 0; i < r; i++) {
            if (p[i] != 0)
                return lzs_error_set(err, EBADMSG,
                                     "gzip: trailing garbage at compressed offset %" PRIu64,
                                     lzs_zseek_in_off(in) + (uint64_t)i);
        }
        in->pos += (size_t)r;
    }
}

int lzs_zseek_gzip_next(struct lzs_zseek_in *in, enum lzs_zseek_next *out, lzs_error **err)
{
    ssize_t r = lzs_zseek_in_fill(in, 2, err);
    if (r < 0)
        return (int)r;
    const uint8_t *p = lzs_zseek_in_next(in);
    *out = LZS_ZSEEK_NEXT_END;
    if (r == 0)
        return 0;
    if (r >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        *out = LZS_ZSEEK_NEXT_MEMBER;
        return 0;
    }
    if (p[0] == 0)
        return skip_zeros(in, err);
    return lzs_error_set(err, EBADMSG, "gzip: trailing garbage at compressed offset %" PRIu64,
                         lzs_zseek_in_off(in));
}

static uint64_t last_out(const lzs_zseek_stream *s)
{
    return s->points[s->npoints - 1].out_off;
}

static int member_start(lzs_zseek_stream *s, lzs_error **err)
{
    enum lzs_zseek_next next;
    int rc = lzs_zseek_gzip_next(&s->in, &next, err);
    if (rc < 0)
        return rc;
    if (next == LZS_ZSEEK_NEXT_END) {
        s->done = true;
        return 0;
    }
    uint64_t off = lzs_zseek_in_off(&s->in);
    if (off > 0 && s->out - last_out(s) >= s->span) {
        rc = lzs_zseek_stream_add_point(s, LZS_ZSEEK_POINT_MEMBER, off, 0, err);
        if (rc < 0)
            return rc;
    }
    int zr = s->z_init ? inflateReset(&s->z) : inflateInit2(&s->z, 15 + 16);
    if (zr != Z_OK)
        return lzs_zseek_gzip_error(err, zr, &s->z, off);
    s->z_init = true;
    s->in_member = true;
    s->hdr_pending = true;
    return 0;
}

/* Zero the window bytes the data after the point never references (window_trim.c). Needs the
 * compressed bytes that follow in the input buffer: fills it up to LZS_ZSEEK_TRIM_IN. */
static int trim_window(lzs_zseek_stream *s, size_t len, lzs_error **err)
{
    int bits = s->z.data_type & 7;
    if (bits && s->in.pos == 0)
        return 0; /* the partial byte is gone: keep the whole window */
    uint8_t prev = bits ? s->in.buf[s->in.pos - 1] : 0;
    ssize_t r = lzs_zseek_in_fill(&s->in, LZS_ZSEEK_TRIM_IN, err);
    if (r < 0)
        return (int)r;
    lzs_zseek_window_trim(s->win, len, lzs_zseek_in_next(&s->in), (size_t)r, (uint8_t)bits, prev,
                          s->win + LZS_ZSEEK_WINDOW);
    return 0;
}

/* inflate stopped at the end of the header or of a deflate block. */
static int block_boundary(lzs_zseek_stream *s, lzs_error **err)
{
    if (s->hdr_pending) {
        s->hdr_pending = false;
        return 0;
    }
    if ((s->z.data_type & 64) || s->out - last_out(s) < s->span)
        return 0;
    uInt len = 0;
    if (inflateGetDictionary(&s->z, s->win, &len) != Z_OK)
        return lzs_error_set(err, EIO, "gzip: cannot get the window");
    uint64_t off = lzs_zseek_in_off(&s->in);
    int rc = lzs_zseek_stream_add_point(s, LZS_ZSEEK_POINT_DEFLATE, off, s->z.data_type & 7, err);
    if (rc < 0)
        return rc;
    rc = trim_window(s, len, err);
    if (rc < 0) {
        s->npoints--;
        return rc;
    }
    struct lzs_zseek_point *p = &s->points[s->npoints - 1];
    rc = lzs_zseek_window_store(&s->arena, &s->cctx, s->win, len, &p->window, &p->window_len, err);
    if (rc < 0)
        s->npoints--;
    return rc;
}

/* One inflate call; returns its zlib code. Until a point is due, inflate runs without stopping
 * at block boundaries (Z_BLOCK costs about 5%) and up to the output offset where it becomes due;
 * from there on, with Z_BLOCK to the next block boundary. The header always ends with a stop. */
static int inflate_step(lzs_zseek_stream *s, uint8_t *out, size_t n, size_t *produced)
{
    size_t avail = lzs_zseek_in_avail(&s->in);
    uint64_t since = s->out - last_out(s);
    int flush = Z_BLOCK;
    if (since < s->span && !s->hdr_pending) {
        flush = Z_NO_FLUSH;
        if (n > s->span - since)
            n = (size_t)(s->span - since);
    }
    s->z.next_in = (Bytef *)lzs_zseek_in_next(&s->in);
    s->z.avail_in = avail < UINT_MAX ? (uInt)avail : UINT_MAX;
    s->z.next_out = out;
    s->z.avail_out = n < (1u << 30) ? (uInt)n : (1u << 30);
    uInt in0 = s->z.avail_in, out0 = s->z.avail_out;
    int zr = inflate(&s->z, flush);
    s->in.pos += in0 - s->z.avail_in;
    *produced = out0 - s->z.avail_out;
    s->out += *produced;
    if (zr == Z_BUF_ERROR || (zr == Z_OK && *produced == 0 && in0 == s->z.avail_in))
        return Z_BUF_ERROR; /* no progress with input and room: cannot happen, never loop */
    return zr;
}

ssize_t lzs_zseek_gzip_stream_read(lzs_zseek_stream *s, uint8_t *buf, size_t n, lzs_error **err)
{
    size_t done = 0;
    while (done < n && !s->done) {
        int rc = 0;
        if (!s->in_member) {
            rc = member_start(s, err);
            if (rc < 0)
                return rc;
            continue;
        }
        ssize_t r = lzs_zseek_in_fill(&s->in, 1, err);
        if (r < 0)
            return r;
        if (r == 0)
            return lzs_error_set(err, ENODATA,
                                 "gzip: unexpected end of input at compressed offset %" PRIu64,
                                 lzs_zseek_in_off(&s->in));
        size_t produced;
        int zr = inflate_step(s, buf + done, n - done, &produced);
        done += produced;
        if (zr == Z_STREAM_END)
            s->in_member = false;
        else if (zr != Z_OK)
            return lzs_zseek_gzip_error(err, zr, &s->z, lzs_zseek_in_off(&s->in));
        else if ((s->z.data_type & 128) && (s->hdr_pending || s->out - last_out(s) >= s->span))
            rc = block_boundary(s, err);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)done;
}

void lzs_zseek_gzip_stream_dispose(lzs_zseek_stream *s)
{
    if (s->z_init)
        inflateEnd(&s->z);
    s->z_init = false;
    free(s->win);
    s->win = NULL;
}
