/* Unit tests for lib/zseek: stream decoding, points, cursors, and every kind of broken input. */
#include "test.h"
#include "zseek/zseek.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>
#include <zstd.h>

#define SPAN (256u << 10)

/* ---- data and compressors ------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Text-like runs, random runs and zero runs: compressible but with incompressible parts. */
static uint8_t *gen_data(size_t n, uint64_t seed)
{
    static const char *words[] = {"layer ", "snapshot ",   "containerd ", "gzip ", "window ",
                                  "zstd\n", "checkpoint ", "tar ",        "fuse ", "registry\n"};
    uint8_t *p = malloc(n);
    ASSERT(p);
    uint64_t s = seed | 1;
    size_t i = 0;
    while (i < n) {
        uint64_t r = rng_next(&s);
        size_t run = 1000 + r % 60000;
        for (size_t k = 0; k < run && i < n; k++) {
            if (r % 5 == 0)
                p[i++] = (uint8_t)rng_next(&s);
            else if (r % 5 == 1)
                p[i++] = 0;
            else {
                const char *w = words[rng_next(&s) % LZS_ARRAY_SIZE(words)];
                for (; *w && i < n; w++, k++)
                    p[i++] = (uint8_t)*w;
            }
        }
    }
    return p;
}

struct bytes {
    uint8_t *p;
    size_t n;
};

static void bytes_append(struct bytes *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    ASSERT(b->p);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* One gzip member made by zlib; hdr adds a header with FEXTRA, FNAME, FCOMMENT, FHCRC. */
static void gz_member(struct bytes *out, const uint8_t *p, size_t n, int level, bool hdr)
{
    z_stream z = {0};
    ASSERT_EQ(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    gz_header h = {0};
    if (hdr) {
        h.extra = (Bytef *)"\x41\x42\x04\x00xyzw";
        h.extra_len = 8;
        h.name = (Bytef *)"file.tar";
        h.comment = (Bytef *)"a comment";
        h.hcrc = 1;
        ASSERT_EQ(deflateSetHeader(&z, &h), Z_OK);
    }
    size_t cap = deflateBound(&z, n);
    uint8_t *dst = malloc(cap);
    ASSERT(dst);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    bytes_append(out, dst, z.total_out);
    deflateEnd(&z);
    free(dst);
}

/* One zstd frame per piece of size `piece` (0: one frame), with checksums. */
static void zstd_frames(struct bytes *out, const uint8_t *p, size_t n, size_t piece)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ASSERT(cc);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    size_t step = piece ? piece : n;
    for (size_t off = 0; off < n || off == 0; off += step) {
        size_t k = n - off < step ? n - off : step;
        size_t cap = ZSTD_compressBound(k);
        uint8_t *dst = malloc(cap);
        size_t r = ZSTD_compress2(cc, dst, cap, p + off, k);
        ASSERT(!ZSTD_isError(r));
        bytes_append(out, dst, r);
        free(dst);
        if (n == 0)
            break;
    }
    ZSTD_freeCCtx(cc);
}

static void zstd_skippable(struct bytes *out, size_t len)
{
    uint8_t hdr[8] = {0x53, 0x2a, 0x4d, 0x18, (uint8_t)len, (uint8_t)(len >> 8), 0, 0};
    bytes_append(out, hdr, 8);
    for (size_t i = 0; i < len; i++)
        bytes_append(out, "s", 1);
}

static bool have_tool(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* Run `tool` over data (stdin to stdout) through temporary files. */
static struct bytes run_tool(const char *tool, const uint8_t *p, size_t n)
{
    const char *in = lzs_test_path("tool.in");
    lzs_test_write_file(in, p, n);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s < %s > %s", tool, in, lzs_test_path("tool.out"));
    int rc = system(cmd);
    if (rc != 0)
        FAIL("%s exited %d", cmd, rc);
    struct lzs_buf b = LZS_BUF_INIT(1u << 30);
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_file_read_all(lzs_test_path("tool.out"), &b, &err), err);
    struct bytes out = {0};
    bytes_append(&out, b.data, b.len);
    lzs_buf_dispose(&b);
    return out;
}

/* ---- stream helpers -------------------------------------------------------------------------- */

struct src {
    const uint8_t *p;
    size_t n, off;
    size_t chunk; /* the largest read answered: exercises short reads */
};

static ssize_t src_read(void *data, void *buf, size_t n, lzs_error **err)
{
    (void)err;
    struct src *s = data;
    size_t k = s->n - s->off;
    if (k > n)
        k = n;
    if (k > s->chunk)
        k = s->chunk;
    memcpy(buf, s->p + s->off, k);
    s->off += k;
    return (ssize_t)k;
}

struct decoded {
    uint8_t *p;
    size_t n;
    lzs_zseek_stream *s;
    struct src src;
};

/* Decode everything; returns the first error (< 0) or 0. */
static int decode_all(struct decoded *d, const struct bytes *in, uint64_t span, lzs_error **err)
{
    d->src = (struct src){.p = in->p, .n = in->n, .chunk = 100000 + in->n % 7919};
    d->n = 0;
    d->p = NULL;
    int rc = lzs_zseek_stream_new(&d->s, src_read, &d->src, span, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    for (size_t i = 0;; i++) {
        size_t want = i % 3 == 0 ? 1000 : (i % 3 == 1 ? 65536 : 1u << 20);
        if (d->n + want > cap) {
            cap = (d->n + want) * 2;
            d->p = realloc(d->p, cap);
            ASSERT(d->p);
        }
        ssize_t r = lzs_zseek_stream_read(d->s, d->p + d->n, want, err);
        if (r <= 0)
            return (int)r;
        d->n += (size_t)r;
    }
}

static void decoded_free(struct decoded *d)
{
    lzs_zseek_stream_free(d->s);
    free(d->p);
    *d = (struct decoded){0};
}

static void check_points_order(const struct lzs_zseek_point *pts, size_t n, uint64_t out_total)
{
    ASSERT(n >= 1);
    ASSERT_EQ(pts[0].kind, LZS_ZSEEK_POINT_START);
    ASSERT_EQ(pts[0].in_off, 0);
    ASSERT_EQ(pts[0].out_off, 0);
    for (size_t i = 1; i < n; i++) {
        ASSERT(pts[i].in_off > pts[i - 1].in_off);
        ASSERT(pts[i].out_off > pts[i - 1].out_off);
        ASSERT(pts[i].out_off <= out_total);
        if (pts[i].kind == LZS_ZSEEK_POINT_DEFLATE)
            ASSERT(pts[i].window && pts[i].window_len > 0 && pts[i].bits < 8);
    }
}

/* Reads at a spread of offsets and lengths from every point, each with a fresh cursor. */
static void check_cursors(const struct bytes *blob, enum lzs_compression c,
                          const struct lzs_zseek_point *pts, size_t np, const uint8_t *orig,
                          size_t n)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *b = NULL;
    ASSERT_OK(lzs_blob_new_mem(&b, blob->p, blob->n, &err), err);
    static const size_t lens[] = {1, 100, 4096, 70000, 300000};
    uint8_t *buf = malloc(300000);
    for (size_t i = 0; i < np; i++) {
        uint64_t next_out = i + 1 < np ? pts[i + 1].out_off : n;
        uint64_t in_end = i + 1 < np ? pts[i + 1].in_off : blob->n;
        for (size_t k = 0; k < LZS_ARRAY_SIZE(lens); k++) {
            uint64_t off = pts[i].out_off + (next_out - pts[i].out_off) * k / 4;
            size_t len = lens[k];
            if (off + len > n)
                continue;
            lzs_zseek_cursor *cur = NULL;
            ASSERT_OK(lzs_zseek_cursor_new(&cur, b, c, &pts[i], in_end, &err), err);
            int rc = lzs_zseek_cursor_read(cur, off, buf, len, &err);
            if (rc < 0)
                FAIL("point %zu (in %" PRIu64 " out %" PRIu64 ") read %" PRIu64 "+%zu: %s", i,
                     pts[i].in_off, pts[i].out_off, off, len, lzs_error_msg(err));
            ASSERT_MEM_EQ(buf, orig + off, len);
            ASSERT_EQ(lzs_zseek_cursor_position(cur), off + len);
            lzs_zseek_cursor_free(cur);
        }
    }
    free(buf);
}

/* Sequential reads from point i to the end, in odd-sized steps, raising in_end as a reader would.
 */
static void check_sequential(const struct bytes *blob, enum lzs_compression c,
                             const struct lzs_zseek_point *pts, size_t np, size_t i,
                             const uint8_t *orig, size_t n)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *b = NULL;
    ASSERT_OK(lzs_blob_new_mem(&b, blob->p, blob->n, &err), err);
    lzs_cleanup(lzs_zseek_cursor_freep) lzs_zseek_cursor *cur = NULL;
    uint64_t in_end = i + 1 < np ? pts[i + 1].in_off : blob->n;
    ASSERT_OK(lzs_zseek_cursor_new(&cur, b, c, &pts[i], in_end, &err), err);
    uint8_t *buf = malloc(200000);
    uint64_t off = pts[i].out_off;
    for (size_t step = 0; off < n; step++) {
        size_t len = step % 2 ? 131071 : 4097;
        if (len > n - off)
            len = n - off;
        ASSERT_OK(lzs_zseek_cursor_read(cur, off, buf, len, &err), err);
        ASSERT_MEM_EQ(buf, orig + off, len);
        off += len;
        if (step % 4 == 3)
            lzs_zseek_cursor_set_in_end(cur, blob->n);
    }
    ASSERT_EQ(lzs_zseek_cursor_read(cur, off, buf, 1, &err), -ENODATA);
    lzs_error_free(&err);
    free(buf);
}

/* The full check of one blob of original data orig[0..n). */
static void check_blob(const struct bytes *blob, enum lzs_compression c, const uint8_t *orig,
                       size_t n, uint64_t span)
{
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_EQ(lzs_zseek_detect(blob->p, blob->n), c);
    struct decoded d;
    ASSERT_OK(decode_all(&d, blob, span, &err), err);
    ASSERT_EQ(d.n, n);
    ASSERT_MEM_EQ(d.p, orig, n);
    ASSERT_EQ(lzs_zseek_stream_compression(d.s), c);
    ASSERT_EQ(lzs_zseek_stream_in_bytes(d.s), blob->n);
    ASSERT_EQ(lzs_zseek_stream_out_bytes(d.s), n);
    const struct lzs_zseek_point *pts;
    size_t np = lzs_zseek_stream_points(d.s, &pts);
    check_points_order(pts, np, n);
    if (c == LZS_COMPRESSION_GZIP && n >= 2 * span && span >= (64u << 10))
        ASSERT(np >= n / span / 2); /* points about every span */
    check_cursors(blob, c, pts, np, orig, n);
    check_sequential(blob, c, pts, np, 0, orig, n);
    if (np > 2)
        check_sequential(blob, c, pts, np, np / 2, orig, n);
    decoded_free(&d);
}

/* The stream must fail with code and a message containing needle. */
static void check_stream_fails(const struct bytes *blob, int code, const char *needle)
{
    lzs_autoerr lzs_error *err = NULL;
    struct decoded d;
    int rc = decode_all(&d, blob, SPAN, &err);
    ASSERT_ERR(rc, err, code, needle);
    decoded_free(&d);
}

/* ---- tests ----------------------------------------------------------------------------------- */

LZS_TEST(test_zseek__detect)
{
    ASSERT_EQ(lzs_zseek_detect("\x1f\x8b", 2), LZS_COMPRESSION_GZIP);
    ASSERT_EQ(lzs_zseek_detect("\x1f", 1), LZS_COMPRESSION_NONE);
    ASSERT_EQ(lzs_zseek_detect("\x28\xb5\x2f\xfd", 4), LZS_COMPRESSION_ZSTD);
    ASSERT_EQ(lzs_zseek_detect("\x28\xb5\x2f", 3), LZS_COMPRESSION_NONE);
    ASSERT_EQ(lzs_zseek_detect("\x5e\x2a\x4d\x18", 4), LZS_COMPRESSION_ZSTD);
    ASSERT_EQ(lzs_zseek_detect("\x6e\x2a\x4d\x18", 4), LZS_COMPRESSION_NONE);
    ASSERT_EQ(lzs_zseek_detect("ustar", 5), LZS_COMPRESSION_NONE);
    ASSERT_EQ(lzs_zseek_detect(NULL, 0), LZS_COMPRESSION_NONE);
    ASSERT_STR_EQ(lzs_compression_name(LZS_COMPRESSION_GZIP), "gzip");
    ASSERT_STR_EQ(lzs_compression_name(LZS_COMPRESSION_ZSTD), "zstd");
    ASSERT_STR_EQ(lzs_compression_name(LZS_COMPRESSION_NONE), "none");
}

LZS_TEST(test_zseek__gzip_zlib_levels)
{
    size_t n = 3u << 20;
    uint8_t *orig = gen_data(n, 1);
    static const int levels[] = {1, 6, 9};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(levels); i++) {
        struct bytes gz = {0};
        gz_member(&gz, orig, n, levels[i], false);
        check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
        free(gz.p);
    }
    free(orig);
}

LZS_TEST(test_zseek__gzip_small_span_and_level0)
{
    size_t n = 1u << 20;
    uint8_t *orig = gen_data(n, 2);
    struct bytes gz = {0};
    gz_member(&gz, orig, n, 0, false); /* stored blocks */
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, 64 << 10);
    free(gz.p);
    gz = (struct bytes){0};
    gz_member(&gz, orig, n, 6, false);
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, 1); /* a point at every block */
    free(gz.p);
    free(orig);
}

LZS_TEST(test_zseek__gzip_cli)
{
    if (!have_tool("gzip"))
        SKIP("gzip not installed");
    size_t n = 2u << 20;
    uint8_t *orig = gen_data(n, 3);
    struct bytes gz = run_tool("gzip -1 -n", orig, n);
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
    free(gz.p);
    gz = run_tool("gzip -9", orig, n);
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
    free(gz.p);
    free(orig);
}

LZS_TEST(test_zseek__gzip_pigz)
{
    if (!have_tool("pigz"))
        SKIP("pigz not installed");
    size_t n = 3u << 20;
    uint8_t *orig = gen_data(n, 4);
    struct bytes gz = run_tool("pigz -p 2 -b 128", orig, n);
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
    free(gz.p);
    gz = run_tool("pigz -p 2 -i -b 128", orig, n); /* independent blocks */
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
    free(gz.p);
    free(orig);
}

/* cat a.gz empty.gz b.gz c.gz (with a full header), then zero padding. */
LZS_TEST(test_zseek__gzip_multi_member)
{
    size_t n = 3u << 20, a = 500000, b = 1900000;
    uint8_t *orig = gen_data(n, 5);
    struct bytes gz = {0};
    gz_member(&gz, orig, a, 6, false);
    gz_member(&gz, orig, 0, 6, false);
    gz_member(&gz, orig + a, b - a, 1, false);
    gz_member(&gz, orig + b, n - b, 9, true);
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
    /* span == the first member: its last block is no point, the next member start is */
    lzs_autoerr lzs_error *err = NULL;
    struct decoded d;
    ASSERT_OK(decode_all(&d, &gz, a, &err), err);
    const struct lzs_zseek_point *pts;
    size_t np = lzs_zseek_stream_points(d.s, &pts);
    ASSERT(np >= 4);
    ASSERT_EQ(pts[1].kind, LZS_ZSEEK_POINT_MEMBER);
    ASSERT_EQ(pts[1].out_off, a);
    ASSERT(pts[1].window == NULL && pts[1].bits == 0);
    ASSERT_EQ(gz.p[pts[1].in_off], 0x1f);
    check_cursors(&gz, LZS_COMPRESSION_GZIP, pts, np, orig, n);
    check_sequential(&gz, LZS_COMPRESSION_GZIP, pts, np, 1, orig, n);
    decoded_free(&d);
    bytes_append(&gz, "\0\0\0\0\0\0\0\0\0\0", 10); /* GNU gzip accepts zero padding */
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, SPAN);
    free(gz.p);
    free(orig);
}

LZS_TEST(test_zseek__gzip_header_fields)
{
    size_t n = 1u << 20;
    uint8_t *orig = gen_data(n, 6);
    struct bytes gz = {0};
    gz_member(&gz, orig, n, 6, true);
    ASSERT_EQ(gz.p[3], 0x02 | 0x04 | 0x08 | 0x10); /* FHCRC FEXTRA FNAME FCOMMENT */
    check_blob(&gz, LZS_COMPRESSION_GZIP, orig, n, 128 << 10);
    gz.p[10] ^= 1; /* FEXTRA length byte changed: header CRC fails */
    check_stream_fails(&gz, EBADMSG, "compressed offset");
    free(gz.p);
    free(orig);
}

LZS_TEST(test_zseek__gzip_empty)
{
    struct bytes gz = {0};
    gz_member(&gz, (const uint8_t *)"", 0, 6, false);
    check_blob(&gz, LZS_COMPRESSION_GZIP, (const uint8_t *)"", 0, SPAN);
    free(gz.p);
}

LZS_TEST(test_zseek__gzip_corrupt)
{
    size_t n = 2u << 20;
    uint8_t *orig = gen_data(n, 7);
    struct bytes gz = {0};
    gz_member(&gz, orig, n, 6, false);
    gz.p[gz.n / 2] ^= 0x55;
    check_stream_fails(&gz, EBADMSG, "gzip: ");
    check_stream_fails(&gz, EBADMSG, "at compressed offset");
    gz.p[gz.n / 2] ^= 0x55;
    gz.p[gz.n - 6] ^= 1; /* CRC32 */
    check_stream_fails(&gz, EBADMSG, "incorrect data check at compressed offset");
    gz.p[gz.n - 6] ^= 1;
    gz.p[gz.n - 2] ^= 1; /* ISIZE */
    check_stream_fails(&gz, EBADMSG, "incorrect length check");
    gz.p[gz.n - 2] ^= 1;
    bytes_append(&gz, "\0\0garbage", 9);
    char needle[64];
    snprintf(needle, sizeof(needle), "trailing garbage at compressed offset %zu", gz.n - 7);
    check_stream_fails(&gz, EBADMSG, needle);
    gz.n -= 9;
    bytes_append(&gz, "\x1f", 1);
    check_stream_fails(&gz, EBADMSG, "trailing garbage");
    gz.n -= 1;
    for (size_t cut = 1; cut < 9; cut += 7) { /* in the trailer, and in the data */
        struct bytes t = {.p = gz.p, .n = cut == 1 ? gz.n - 1 : gz.n / 3};
        check_stream_fails(&t, ENODATA, "unexpected end of input at compressed offset");
    }
    free(gz.p);
    free(orig);
}

LZS_TEST(test_zseek__gzip_cursor_errors)
{
    size_t n = 2u << 20;
    uint8_t *orig = gen_data(n, 8);
    struct bytes gz = {0};
    gz_member(&gz, orig, n, 6, false);
    lzs_autoerr lzs_error *err = NULL;
    struct decoded d;
    ASSERT_OK(decode_all(&d, &gz, SPAN, &err), err);
    const struct lzs_zseek_point *pts;
    size_t np = lzs_zseek_stream_points(d.s, &pts);
    ASSERT(np >= 4);
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *b = NULL;
    ASSERT_OK(lzs_blob_new_mem(&b, gz.p, gz.n, &err), err);
    uint8_t buf[4096];
    /* in_end far too small: the cursor fetches past it */
    lzs_zseek_cursor *c = NULL;
    ASSERT_OK(lzs_zseek_cursor_new(&c, b, LZS_COMPRESSION_GZIP, &pts[1], pts[1].in_off + 1, &err),
              err);
    ASSERT_OK(lzs_zseek_cursor_read(c, pts[2].out_off + 10, buf, sizeof(buf), &err), err);
    ASSERT_MEM_EQ(buf, orig + pts[2].out_off + 10, sizeof(buf));
    ASSERT(lzs_zseek_cursor_decompressed(c) >= pts[2].out_off - pts[1].out_off);
    ASSERT_ERR(lzs_zseek_cursor_read(c, 0, buf, 1, &err), err, EINVAL, "behind");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_zseek_cursor_read(c, n - 10, buf, 11, &err), err, ENODATA, "stream ends");
    lzs_error_free(&err);
    lzs_zseek_cursor_free(c);
    /* a damaged window */
    struct lzs_zseek_point p = pts[1];
    uint8_t bad[64] = {0};
    p.window = bad;
    p.window_len = sizeof(bad);
    ASSERT_ERR(lzs_zseek_cursor_new(&c, b, LZS_COMPRESSION_GZIP, &p, gz.n, &err), err, EBADMSG,
               "invalid window");
    lzs_error_free(&err);
    /* a point kind that does not belong to gzip */
    p = pts[0];
    p.kind = LZS_ZSEEK_POINT_FRAME;
    ASSERT_ERR(lzs_zseek_cursor_new(&c, b, LZS_COMPRESSION_GZIP, &p, gz.n, &err), err, EINVAL,
               "invalid point");
    lzs_error_free(&err);
    /* corrupt data after the point: a cursor from a member start reports it, at the latest
     * through the CRC or ISIZE when it reads past the end of the member */
    gz.p[pts[1].in_off + 1000] ^= 0xff;
    gz.p[pts[1].in_off + 1001] ^= 0xff;
    ASSERT_OK(lzs_zseek_cursor_new(&c, b, LZS_COMPRESSION_GZIP, &pts[0], gz.n, &err), err);
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < 4 * n; off += sizeof(buf))
        rc = lzs_zseek_cursor_read(c, off, buf, sizeof(buf), &err); /* the length changed too */
    ASSERT_ERR(rc, err, EBADMSG, "at compressed offset");
    lzs_zseek_cursor_free(c);
    decoded_free(&d);
    free(gz.p);
    free(orig);
}

LZS_TEST(test_zseek__zstd_single_frame)
{
    size_t n = 3u << 20;
    uint8_t *orig = gen_data(n, 9);
    struct bytes zs = {0};
    zstd_frames(&zs, orig, n, 0);
    check_blob(&zs, LZS_COMPRESSION_ZSTD, orig, n, SPAN);
    lzs_autoerr lzs_error *err = NULL;
    struct decoded d;
    ASSERT_OK(decode_all(&d, &zs, SPAN, &err), err);
    ASSERT(lzs_zseek_stream_is_sequential(d.s));
    decoded_free(&d);
    free(zs.p);
    free(orig);
}

/* zstd:chunked-like: many frames, an empty frame, skippable frames inside and at the end. */
LZS_TEST(test_zseek__zstd_multi_frame)
{
    size_t n = 3u << 20, a = 1000000;
    uint8_t *orig = gen_data(n, 10);
    struct bytes zs = {0};
    zstd_skippable(&zs, 5);
    zstd_frames(&zs, orig, a, 150000);
    zstd_frames(&zs, orig, 0, 0);
    zstd_skippable(&zs, 300);
    zstd_frames(&zs, orig + a, n - a, 333333);
    zstd_skippable(&zs, 40);
    zstd_skippable(&zs, 0);
    check_blob(&zs, LZS_COMPRESSION_ZSTD, orig, n, SPAN);
    lzs_autoerr lzs_error *err = NULL;
    struct decoded d;
    ASSERT_OK(decode_all(&d, &zs, SPAN, &err), err);
    ASSERT(!lzs_zseek_stream_is_sequential(d.s));
    const struct lzs_zseek_point *pts;
    size_t np = lzs_zseek_stream_points(d.s, &pts);
    ASSERT_EQ(np, 1 + 7 + 7); /* START (covers the first frame) + frame starts with output */
    for (size_t i = 1; i < np; i++)
        ASSERT_EQ(pts[i].kind, LZS_ZSEEK_POINT_FRAME);
    decoded_free(&d);
    free(zs.p);
    free(orig);
}

LZS_TEST(test_zseek__zstd_cli)
{
    if (!have_tool("zstd"))
        SKIP("zstd not installed");
    size_t n = 2u << 20;
    uint8_t *orig = gen_data(n, 11);
    struct bytes zs = run_tool("zstd -q -c -19", orig, n);
    check_blob(&zs, LZS_COMPRESSION_ZSTD, orig, n, SPAN);
    free(zs.p);
    free(orig);
}

LZS_TEST(test_zseek__zstd_corrupt)
{
    size_t n = 2u << 20;
    uint8_t *orig = gen_data(n, 12);
    struct bytes zs = {0};
    zstd_frames(&zs, orig, n, 500000);
    zs.p[zs.n / 2] ^= 0x55;
    check_stream_fails(&zs, EBADMSG, "zstd: ");
    check_stream_fails(&zs, EBADMSG, "at compressed offset");
    zs.p[zs.n / 2] ^= 0x55;
    zs.p[zs.n - 2] ^= 1; /* the checksum */
    check_stream_fails(&zs, EBADMSG, "checksum");
    zs.p[zs.n - 2] ^= 1;
    struct bytes t = {.p = zs.p, .n = zs.n - 3};
    check_stream_fails(&t, ENODATA, "unexpected end of input at compressed offset");
    bytes_append(&zs, "garbage!", 8);
    check_stream_fails(&zs, EBADMSG, "zstd: ");
    free(zs.p);
    free(orig);
}

LZS_TEST(test_zseek__none)
{
    size_t n = 1u << 20;
    uint8_t *orig = gen_data(n, 13);
    memcpy(orig, "ustar", 5);
    struct bytes raw = {0};
    bytes_append(&raw, orig, n);
    check_blob(&raw, LZS_COMPRESSION_NONE, orig, n, SPAN);
    struct bytes empty = {.p = raw.p, .n = 0};
    check_blob(&empty, LZS_COMPRESSION_NONE, orig, 0, SPAN);
    free(raw.p);
    free(orig);
}

LZS_TEST(test_zseek__stream_bad_args_and_read_errors)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_zseek_stream *s = NULL;
    struct src src = {.p = (const uint8_t *)"", .n = 0, .chunk = 1};
    ASSERT_ERR(lzs_zseek_stream_new(&s, src_read, &src, 0, &err), err, EINVAL, "span");
    lzs_zseek_stream_free(NULL);
    lzs_zseek_cursor_free(NULL);
}

/* ---- whole-buffer zstd (the index as it travels) ----------------------------------------------
 */

LZS_TEST(test_zseek__zstd_buffer_roundtrip_and_errors)
{
    lzs_autoerr lzs_error *err = NULL;
    static uint8_t data[300000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 / 13);
    struct lzs_buf z = LZS_BUF_INIT(1 << 20), back = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_zseek_zstd_compress(data, sizeof(data), 9, &z, &err), err);
    ASSERT(z.len < sizeof(data) / 10);
    ASSERT_OK(lzs_zseek_zstd_decompress(z.data, z.len, &back, &err), err);
    ASSERT_EQ(back.len, sizeof(data));
    ASSERT_MEM_EQ(back.data, data, sizeof(data));

    lzs_buf_reset(&back);
    ASSERT_ERR(lzs_zseek_zstd_decompress(z.data, z.len - 3, &back, &err), err, ENODATA,
               "input ends inside a frame");
    lzs_error_free(&err);
    lzs_buf_reset(&back);
    lzs_buf_append(&z, "junk", 4, NULL);
    ASSERT_ERR(lzs_zseek_zstd_decompress(z.data, z.len, &back, &err), err, EBADMSG,
               "after the frame");
    lzs_error_free(&err);
    struct lzs_buf small = LZS_BUF_INIT(1000); /* a bound protects against zstd bombs */
    ASSERT_ERR(lzs_zseek_zstd_decompress(z.data, z.len - 4, &small, &err), err, EMSGSIZE, "limit");
    lzs_buf_dispose(&small);
    lzs_buf_dispose(&z);
    lzs_buf_dispose(&back);
}
