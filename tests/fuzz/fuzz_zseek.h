/* Shared body of the zseek fuzz targets (fuzz_gzip.c, fuzz_zstd.c): decode the input as a blob
 * (bounded output), then check cursors at every recorded point against the decoded bytes, and
 * feed a cursor a point made of input bytes (indexes are untrusted too). */
#ifndef LZS_FUZZ_ZSEEK_H
#define LZS_FUZZ_ZSEEK_H

#include "zseek/zseek.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_OUT (16u << 20)
#define FUZZ_SPAN 4096

struct fuzz_src {
    const uint8_t *p;
    size_t n, off;
};

static ssize_t fuzz_read(void *data, void *buf, size_t n, lzs_error **err)
{
    (void)err;
    struct fuzz_src *s = data;
    size_t k = s->n - s->off < n ? s->n - s->off : n;
    if (k > 4099)
        k = 4099; /* short reads exercise the refills */
    memcpy(buf, s->p + s->off, k);
    s->off += k;
    return (ssize_t)k;
}

/* Decode into *out (grown up to FUZZ_MAX_OUT bytes); returns the stream or NULL on an error. */
static lzs_zseek_stream *fuzz_decode(struct fuzz_src *src, uint8_t **out, size_t *n)
{
    lzs_zseek_stream *s = NULL;
    lzs_error *err = NULL;
    size_t cap = 0;
    *n = 0;
    if (lzs_zseek_stream_new(&s, fuzz_read, src, FUZZ_SPAN, &err) < 0) {
        lzs_error_free(&err);
        return NULL;
    }
    for (;;) {
        if (cap - *n < 70000 && cap < FUZZ_MAX_OUT) {
            cap = cap ? cap * 2 : 1u << 18;
            uint8_t *p = realloc(*out, cap);
            if (!p)
                abort();
            *out = p;
        }
        size_t want = cap - *n < 70000 ? cap - *n : 70000;
        ssize_t r = want ? lzs_zseek_stream_read(s, *out + *n, want, &err) : 0;
        if (r < 0) {
            if (!err || !err->msg)
                abort(); /* every failure says what */
            lzs_error_free(&err);
            lzs_zseek_stream_free(s);
            return NULL;
        }
        if (r == 0)
            return s;
        *n += (size_t)r;
    }
}

static void fuzz_cursors(lzs_blob *b, lzs_zseek_stream *s, const uint8_t *out, size_t n)
{
    const struct lzs_zseek_point *pts;
    size_t np = lzs_zseek_stream_points(s, &pts);
    uint8_t buf[512];
    for (size_t i = 0; i < np && i < 64; i++) {
        if (pts[i].out_off >= n)
            continue;
        lzs_zseek_cursor *c = NULL;
        lzs_error *err = NULL;
        uint64_t in_end = i + 1 < np ? pts[i + 1].in_off : lzs_blob_size(b);
        if (lzs_zseek_cursor_new(&c, b, lzs_zseek_stream_compression(s), &pts[i], in_end, &err) < 0)
            abort(); /* a point the stream recorded must be usable */
        uint64_t off = pts[i].out_off + (n - pts[i].out_off) / 3;
        size_t len = n - off < sizeof(buf) ? n - off : sizeof(buf);
        if (lzs_zseek_cursor_read(c, off, buf, len, &err) < 0 || memcmp(buf, out + off, len) != 0)
            abort(); /* the bytes were decoded by the stream: the cursor must agree */
        lzs_zseek_cursor_free(c);
    }
}

/* A point made of input bytes: errors are fine, crashes and hangs are not. */
static void fuzz_bad_point(lzs_blob *b, enum lzs_compression comp, const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    struct lzs_zseek_point p = {
        .in_off = data[1] % size,
        .out_off = data[2],
        .bits = data[0] & 7,
        .kind = (data[0] >> 3) & 3,
        .window = data + 4,
        .window_len = (uint32_t)(size - 4 < 300 ? size - 4 : 300),
    };
    lzs_zseek_cursor *c = NULL;
    lzs_error *err = NULL;
    uint8_t buf[4096];
    if (lzs_zseek_cursor_new(&c, b, comp, &p, data[3] % size, &err) == 0) {
        (void)lzs_zseek_cursor_read(c, p.out_off + data[3], buf, sizeof(buf), &err);
        lzs_zseek_cursor_free(c);
    }
    lzs_error_free(&err);
}

static int fuzz_zseek_one(const uint8_t *data, size_t size, enum lzs_compression want)
{
    if (lzs_zseek_detect(data, size) != want)
        return 0;
    uint8_t *out = NULL;
    lzs_blob *b = NULL;
    if (lzs_blob_new_mem(&b, data, size, NULL) < 0)
        return 0;
    struct fuzz_src src = {.p = data, .n = size};
    size_t n;
    lzs_zseek_stream *s = fuzz_decode(&src, &out, &n);
    if (s)
        fuzz_cursors(b, s, out, n);
    fuzz_bad_point(b, want, data, size);
    lzs_zseek_stream_free(s);
    lzs_blob_unref(b);
    free(out);
    return 0;
}

#endif
