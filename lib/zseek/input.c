/* Compressed input for streams and cursors: one buffer, refilled from a read callback or from
 * a blob in bounded fetches. */
#include "zseek_i.h"

#include <string.h>

int lzs_zseek_in_init(struct lzs_zseek_in *in, size_t cap, lzs_error **err)
{
    in->buf = malloc(cap);
    if (!in->buf)
        return lzs_error_set(err, ENOMEM, "zseek: input buffer of %zu bytes", cap);
    in->cap = cap;
    in->len = in->pos = 0;
    in->eof = false;
    return 0;
}

void lzs_zseek_in_dispose(struct lzs_zseek_in *in)
{
    free(in->buf);
    in->buf = NULL;
}

/* The next fetch from a blob: up to the in_end hint, then LZS_ZSEEK_EXTEND at a time past it,
 * never past the end of the blob. */
static ssize_t read_blob(struct lzs_zseek_in *in, uint8_t *dst, size_t room, lzs_error **err)
{
    uint64_t off = in->base + in->len;
    if (off >= in->blob_size)
        return 0;
    uint64_t end = off < in->end_hint ? in->end_hint : off + LZS_ZSEEK_EXTEND;
    if (end > in->blob_size)
        end = in->blob_size;
    size_t n = end - off < room ? (size_t)(end - off) : room;
    int rc = lzs_blob_readat(in->blob, dst, n, off, err);
    if (rc < 0)
        return lzs_error_wrap(err, "read compressed bytes %" PRIu64 "-%" PRIu64, off, off + n - 1);
    return (ssize_t)n;
}

ssize_t lzs_zseek_in_fill(struct lzs_zseek_in *in, size_t want, lzs_error **err)
{
    if (want > in->cap)
        want = in->cap;
    while (lzs_zseek_in_avail(in) < want && !in->eof) {
        if (in->pos > 0) {
            size_t avail = lzs_zseek_in_avail(in);
            memmove(in->buf, in->buf + in->pos, avail);
            in->base += in->pos;
            in->len = avail;
            in->pos = 0;
        }
        uint8_t *dst = in->buf + in->len;
        size_t room = in->cap - in->len;
        ssize_t r = in->blob ? read_blob(in, dst, room, err) : in->read(in->data, dst, room, err);
        if (r < 0)
            return r;
        if ((size_t)r > room)
            return lzs_error_set(err, EIO, "zseek: read callback returned %zd > %zu bytes", r,
                                 room);
        if (r == 0)
            in->eof = true;
        in->len += (size_t)r;
    }
    return (ssize_t)lzs_zseek_in_avail(in);
}
