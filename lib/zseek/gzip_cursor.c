/* gzip, read side: resume inflating at a point (raw deflate primed with the point's bits and
 * window, or a member header), and continue into the following members. */
#include "zseek_i.h"

#include <limits.h>

static int resume_deflate(lzs_zseek_cursor *c, const struct lzs_zseek_point *p, lzs_error **err)
{
    uint8_t win[LZS_ZSEEK_WINDOW];
    ssize_t wlen = lzs_zseek_window_load(p->window, p->window_len, win, err);
    if (wlen < 0)
        return lzs_error_wrap(err, "gzip: point at compressed offset %" PRIu64, p->in_off);
    int zr = inflateInit2(&c->z, -15);
    if (zr != Z_OK)
        return lzs_zseek_gzip_error(err, zr, &c->z, p->in_off);
    c->z_init = true;
    if (p->bits > 0) {
        ssize_t r = lzs_zseek_in_fill(&c->in, 1, err);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return lzs_error_set(err, ENODATA,
                                 "gzip: point at compressed offset %" PRIu64
                                 " is past the end of the blob",
                                 p->in_off);
        int byte = *lzs_zseek_in_next(&c->in);
        c->in.pos++;
        zr = inflatePrime(&c->z, p->bits, byte >> (8 - p->bits));
    }
    if (zr == Z_OK && wlen > 0)
        zr = inflateSetDictionary(&c->z, win, (uInt)wlen);
    if (zr != Z_OK)
        return lzs_zseek_gzip_error(err, zr, &c->z, p->in_off);
    c->raw = true;
    c->in_member = true;
    return 0;
}

int lzs_zseek_gzip_cursor_init(lzs_zseek_cursor *c, const struct lzs_zseek_point *p,
                               lzs_error **err)
{
    switch (p->kind) {
    case LZS_ZSEEK_POINT_START:
    case LZS_ZSEEK_POINT_MEMBER:
        if (p->bits != 0 || p->window_len != 0)
            break;
        c->in_member = false;
        return 0;
    case LZS_ZSEEK_POINT_DEFLATE:
        if (p->bits > 7 || (p->bits > 0 && p->in_off == 0))
            break;
        return resume_deflate(c, p, err);
    }
    return lzs_error_set(err, EINVAL,
                         "gzip: invalid point (kind %u, bits %u) at compressed offset %" PRIu64,
                         p->kind, p->bits, p->in_off);
}

/* Between members: the next header, or the end. Returns 1 in a member, 0 at the end. */
static int next_member(lzs_zseek_cursor *c, lzs_error **err)
{
    enum lzs_zseek_next next;
    int rc = lzs_zseek_gzip_next(&c->in, &next, err);
    if (rc < 0)
        return rc;
    if (next == LZS_ZSEEK_NEXT_END)
        return 0;
    int zr = c->z_init ? inflateReset2(&c->z, 15 + 16) : inflateInit2(&c->z, 15 + 16);
    if (zr != Z_OK)
        return lzs_zseek_gzip_error(err, zr, &c->z, lzs_zseek_in_off(&c->in));
    c->z_init = true;
    c->raw = false;
    c->in_member = true;
    return 1;
}

/* The end of a member entered mid-way: its CRC cannot be checked; skip the trailer. */
static int member_end(lzs_zseek_cursor *c, lzs_error **err)
{
    c->in_member = false;
    if (!c->raw)
        return 0;
    ssize_t r = lzs_zseek_in_fill(&c->in, 8, err);
    if (r < 0)
        return (int)r;
    if (r < 8)
        return lzs_error_set(err, ENODATA, "gzip: truncated trailer at compressed offset %" PRIu64,
                             lzs_zseek_in_off(&c->in));
    c->in.pos += 8;
    return 0;
}

static int inflate_step(lzs_zseek_cursor *c, uint8_t *out, size_t n, size_t *produced)
{
    size_t avail = lzs_zseek_in_avail(&c->in);
    c->z.next_in = (Bytef *)lzs_zseek_in_next(&c->in);
    c->z.avail_in = avail < UINT_MAX ? (uInt)avail : UINT_MAX;
    c->z.next_out = out;
    c->z.avail_out = n < (1u << 30) ? (uInt)n : (1u << 30);
    uInt in0 = c->z.avail_in, out0 = c->z.avail_out;
    int zr = inflate(&c->z, Z_NO_FLUSH);
    c->in.pos += in0 - c->z.avail_in;
    *produced = out0 - c->z.avail_out;
    if (zr == Z_OK && *produced == 0 && in0 == c->z.avail_in)
        return Z_BUF_ERROR;
    return zr;
}

ssize_t lzs_zseek_gzip_cursor_decode(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err)
{
    size_t done = 0;
    while (done < n) {
        if (!c->in_member) {
            int rc = next_member(c, err);
            if (rc <= 0)
                return rc < 0 ? rc : (ssize_t)done;
            continue;
        }
        ssize_t r = lzs_zseek_in_fill(&c->in, 1, err);
        if (r < 0)
            return r;
        if (r == 0)
            return lzs_error_set(err, ENODATA,
                                 "gzip: unexpected end of input at compressed offset %" PRIu64,
                                 lzs_zseek_in_off(&c->in));
        size_t produced;
        int zr = inflate_step(c, buf + done, n - done, &produced);
        done += produced;
        if (zr == Z_STREAM_END) {
            int rc = member_end(c, err);
            if (rc < 0)
                return rc;
        } else if (zr != Z_OK) {
            return lzs_zseek_gzip_error(err, zr, &c->z, lzs_zseek_in_off(&c->in));
        }
    }
    return (ssize_t)done;
}

void lzs_zseek_gzip_cursor_dispose(lzs_zseek_cursor *c)
{
    if (c->z_init)
        inflateEnd(&c->z);
    c->z_init = false;
}
