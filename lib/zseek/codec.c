/* Whole-buffer zstd, for artifacts that travel compressed (the layer index). */
#include "zseek_i.h"

int lzs_zseek_zstd_compress(const void *p, size_t n, int level, struct lzs_buf *out,
                            lzs_error **err)
{
    size_t bound = ZSTD_compressBound(n);
    int rc = lzs_buf_reserve(out, bound, err);
    if (rc < 0)
        return lzs_error_wrap(err, "zstd: compress %zu bytes", n);
    size_t r = ZSTD_compress(out->data + out->len, bound, p, n, level);
    if (ZSTD_isError(r))
        return lzs_error_set(err, EIO, "zstd: compress: %s", ZSTD_getErrorName(r));
    out->len += r;
    out->data[out->len] = '\0';
    return 0;
}

int lzs_zseek_zstd_decompress(const void *p, size_t n, struct lzs_buf *out, lzs_error **err)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return lzs_error_set(err, ENOMEM, "zstd: cannot create a context");
    ZSTD_inBuffer in = {p, n, 0};
    size_t r = 1;
    int rc = 0;
    while (rc == 0 && r != 0) {
        size_t room = out->max - out->len - 1; /* lzs_buf keeps len < max */
        if ((rc = lzs_buf_reserve(out, room < (1 << 16) ? (room ? room : 1) : 1 << 16, err)) < 0)
            break;
        ZSTD_outBuffer o = {out->data + out->len, out->cap - out->len - 1, 0};
        r = ZSTD_decompressStream(d, &o, &in);
        out->len += o.pos;
        out->data[out->len] = '\0';
        if (ZSTD_isError(r))
            rc = lzs_error_set(err, EBADMSG, "zstd: %s at input offset %zu", ZSTD_getErrorName(r),
                               in.pos);
        else if (r != 0 && in.pos == in.size && o.pos < o.size)
            rc = lzs_error_set(err, ENODATA, "zstd: input ends inside a frame");
    }
    ZSTD_freeDCtx(d);
    if (rc == 0 && in.pos != in.size)
        rc = lzs_error_set(err, EBADMSG, "zstd: %zu bytes after the frame", in.size - in.pos);
    return rc;
}
