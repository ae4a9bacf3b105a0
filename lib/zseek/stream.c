/* The build side: detect the compression, decode sequentially, record points. */
#include "zseek_i.h"

#include <string.h>

int lzs_zseek_stream_add_point(lzs_zseek_stream *s, uint8_t kind, uint64_t in_off, uint8_t bits,
                               lzs_error **err)
{
    if (s->npoints == s->cap_points) {
        if (s->npoints >= LZS_ZSEEK_MAX_POINTS)
            return lzs_error_set(err, E2BIG,
                                 "%s: more than %u points at compressed offset %" PRIu64,
                                 lzs_compression_name(s->comp), LZS_ZSEEK_MAX_POINTS, in_off);
        size_t cap = s->cap_points ? s->cap_points * 2 : 64;
        struct lzs_zseek_point *p = lzs_realloc_array(s->points, cap, sizeof(*p));
        if (!p)
            return lzs_error_set(err, ENOMEM, "zseek: %zu points", cap);
        s->points = p;
        s->cap_points = cap;
    }
    s->points[s->npoints++] = (struct lzs_zseek_point){
        .in_off = in_off,
        .out_off = s->out,
        .bits = bits,
        .kind = kind,
    };
    return 0;
}

static int stream_detect(lzs_zseek_stream *s, lzs_error **err)
{
    ssize_t r = lzs_zseek_in_fill(&s->in, 4, err);
    if (r < 0)
        return (int)r;
    s->comp = lzs_zseek_detect(lzs_zseek_in_next(&s->in), (size_t)r);
    if (s->comp == LZS_COMPRESSION_ZSTD) {
        s->dctx = ZSTD_createDCtx();
        if (!s->dctx)
            return lzs_error_set(err, ENOMEM, "zstd: cannot create a decompression context");
        s->frame_start = true;
    }
    if (s->comp == LZS_COMPRESSION_GZIP) {
        s->win = malloc(LZS_ZSEEK_WINDOW + LZS_ZSEEK_TRIM_SCRATCH); /* window, trim scratch */
        if (!s->win)
            return lzs_error_set(err, ENOMEM, "gzip: window buffer");
    }
    return lzs_zseek_stream_add_point(s, LZS_ZSEEK_POINT_START, 0, 0, err);
}

int lzs_zseek_stream_new(lzs_zseek_stream **out, lzs_zseek_read_fn read, void *data, uint64_t span,
                         lzs_error **err)
{
    if (span == 0 || !read)
        return lzs_error_set(err, EINVAL, "zseek: stream needs a read function and a span > 0");
    lzs_cleanup(lzs_zseek_stream_freep) lzs_zseek_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return lzs_error_set(err, ENOMEM, "zseek: stream");
    s->span = span;
    s->in.read = read;
    s->in.data = data;
    int rc = lzs_zseek_in_init(&s->in, LZS_ZSEEK_STREAM_IN, err);
    if (rc < 0)
        return rc;
    rc = stream_detect(s, err);
    if (rc < 0)
        return rc;
    *out = lzs_steal_ptr(&s);
    return 0;
}

/* Plain tar: hand out what detection buffered, then read straight into the caller's buffer. */
static ssize_t none_read(lzs_zseek_stream *s, uint8_t *buf, size_t n, lzs_error **err)
{
    size_t avail = lzs_zseek_in_avail(&s->in);
    if (avail > 0) {
        size_t k = avail < n ? avail : n;
        memcpy(buf, lzs_zseek_in_next(&s->in), k);
        s->in.pos += k;
        s->out += k;
        return (ssize_t)k;
    }
    if (s->in.eof)
        return 0;
    ssize_t r = s->in.read(s->in.data, buf, n, err);
    if (r < 0)
        return r;
    if ((size_t)r > n)
        return lzs_error_set(err, EIO, "zseek: read callback returned %zd > %zu bytes", r, n);
    if (r == 0)
        s->in.eof = s->done = true;
    s->in.base += (size_t)r; /* the buffer stays empty: base tracks the consumed bytes */
    s->out += (uint64_t)r;
    return r;
}

ssize_t lzs_zseek_stream_read(lzs_zseek_stream *s, void *buf, size_t n, lzs_error **err)
{
    if (s->failed < 0)
        return lzs_error_set(err, -s->failed, "%s: stream failed earlier",
                             lzs_compression_name(s->comp));
    if (n == 0 || s->done)
        return 0;
    ssize_t r;
    switch (s->comp) {
    case LZS_COMPRESSION_GZIP:
        r = lzs_zseek_gzip_stream_read(s, buf, n, err);
        break;
    case LZS_COMPRESSION_ZSTD:
        r = lzs_zseek_zstd_stream_read(s, buf, n, err);
        break;
    default:
        r = none_read(s, buf, n, err);
        break;
    }
    if (r < 0)
        s->failed = (int)r;
    return r;
}

enum lzs_compression lzs_zseek_stream_compression(const lzs_zseek_stream *s)
{
    return s->comp;
}

/* One point decodes anything: the start (skippable frames after the data add points at the
 * end of the output, which decode nothing). */
bool lzs_zseek_stream_is_sequential(const lzs_zseek_stream *s)
{
    if (s->comp != LZS_COMPRESSION_ZSTD)
        return false;
    size_t useful = 0;
    for (size_t i = 0; i < s->npoints; i++)
        useful += s->points[i].out_off < s->out;
    return useful <= 1;
}

size_t lzs_zseek_stream_points(const lzs_zseek_stream *s, const struct lzs_zseek_point **points)
{
    *points = s->points;
    return s->npoints;
}

uint64_t lzs_zseek_stream_in_bytes(const lzs_zseek_stream *s)
{
    return lzs_zseek_in_off(&s->in);
}

uint64_t lzs_zseek_stream_out_bytes(const lzs_zseek_stream *s)
{
    return s->out;
}

void lzs_zseek_stream_free(lzs_zseek_stream *s)
{
    if (!s)
        return;
    lzs_zseek_gzip_stream_dispose(s);
    ZSTD_freeDCtx(s->dctx);
    ZSTD_freeCCtx(s->cctx);
    lzs_zseek_arena_dispose(&s->arena);
    lzs_zseek_in_dispose(&s->in);
    free(s->points);
    free(s);
}
