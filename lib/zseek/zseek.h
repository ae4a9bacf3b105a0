/* zseek: random access into compressed layer blobs.
 *
 * Build side: lzs_zseek_stream decodes a blob sequentially (pulling compressed bytes from a read
 * callback: a file, a pipe, an HTTP body) and records *points* where decoding can later resume:
 *   gzip  at deflate block boundaries about every `span` uncompressed bytes (zran: compressed
 * offset, bit offset, and the 32 KiB window, stored zstd-compressed), plus member starts; zstd  at
 * every frame start (free: no window); a single-frame blob has one point and is "sequential": a
 * read anywhere decodes from the start; tar   (no compression) a single point; offsets are direct.
 * Read side: lzs_zseek_cursor resumes decoding at a point, fetching compressed bytes from an
 * lzs_blob, and returns uncompressed bytes from any offset at or after the point.
 *
 * Owns zlib and libzstd. Decompression contexts belong to one stream or cursor: never shared. */
#ifndef LZS_ZSEEK_H
#define LZS_ZSEEK_H

#include "base/base.h"
#include "blob/blob.h"

enum lzs_compression {
    LZS_COMPRESSION_NONE = 0, /* plain tar */
    LZS_COMPRESSION_GZIP = 1,
    LZS_COMPRESSION_ZSTD = 2,
};

/* By magic bytes (gzip 1f 8b, zstd 28 b5 2f fd; zstd skippable frames 5? 2a 4d 18 count as zstd),
 * never by name; anything else is NONE. n may be small: fewer than 4 bytes is NONE unless it
 * starts with the gzip magic. */
enum lzs_compression lzs_zseek_detect(const void *p, size_t n);
/* "none", "gzip", "zstd". */
const char *lzs_compression_name(enum lzs_compression c);

enum lzs_zseek_point_kind {
    LZS_ZSEEK_POINT_START = 0,   /* in_off 0, out_off 0: the start of the blob */
    LZS_ZSEEK_POINT_DEFLATE = 1, /* inside a gzip member: needs bits and window */
    LZS_ZSEEK_POINT_MEMBER = 2,  /* a gzip member header starts at in_off */
    LZS_ZSEEK_POINT_FRAME = 3,   /* a zstd frame (or skippable frame) starts at in_off */
};

struct lzs_zseek_point {
    uint64_t in_off;  /* compressed offset where decoding resumes (DEFLATE: the first byte not
                         fully consumed when bits > 0 is in_off - 1) */
    uint64_t out_off; /* uncompressed offset of the first byte decoded from here */
    uint8_t bits;     /* DEFLATE: number of bits (1..7) of the byte at in_off - 1 not yet used */
    uint8_t kind;     /* enum lzs_zseek_point_kind */
    const uint8_t *window; /* DEFLATE: the compressed window (zseek's own encoding), else NULL */
    uint32_t window_len;
};

/* ---- build side ----------------------------------------------------------------------------- */

/* Pull up to n compressed bytes; 0 at end of input; < 0 on error (err set). */
typedef ssize_t (*lzs_zseek_read_fn)(void *data, void *buf, size_t n, lzs_error **err);

typedef struct lzs_zseek_stream lzs_zseek_stream;

/* span: desired uncompressed distance between gzip points (> 0). The compression is detected from
 * the first bytes read. */
int lzs_zseek_stream_new(lzs_zseek_stream **out, lzs_zseek_read_fn read, void *data, uint64_t span,
                         lzs_error **err);
/* Up to n uncompressed bytes; 0 at the end, after the whole input was checked (gzip CRC32 and
 * ISIZE of every member, zstd frame checksums when present, no trailing garbage). Errors name the
 * compressed offset: "gzip: invalid distance too far back at compressed offset 1234". */
ssize_t lzs_zseek_stream_read(lzs_zseek_stream *s, void *buf, size_t n, lzs_error **err);
enum lzs_compression lzs_zseek_stream_compression(const lzs_zseek_stream *s);
/* true for a single-frame zstd blob: random access means decoding from the start. */
bool lzs_zseek_stream_is_sequential(const lzs_zseek_stream *s);
/* The points recorded so far, in order, the first at out_off 0; borrowed until the stream is
 * freed. Points are recorded as decoding passes them, so after the last read they are complete. */
size_t lzs_zseek_stream_points(const lzs_zseek_stream *s, const struct lzs_zseek_point **points);
uint64_t lzs_zseek_stream_in_bytes(const lzs_zseek_stream *s);  /* compressed bytes consumed */
uint64_t lzs_zseek_stream_out_bytes(const lzs_zseek_stream *s); /* uncompressed bytes produced */
void lzs_zseek_stream_free(lzs_zseek_stream *s);
LZS_DEFINE_CLEANUP(lzs_zseek_stream, lzs_zseek_stream_free)

/* ---- read side ------------------------------------------------------------------------------ */

typedef struct lzs_zseek_cursor lzs_zseek_cursor;

/* Start decoding at point p of blob b (compression c). in_end is a hint for the compressed bytes
 * the cursor fetches: the in_off of the first point past the range the caller wants, or the blob
 * size. The first fetches stop at in_end (one request of at most 1 MiB covers a span); if decoding
 * needs more, the cursor goes on past it in fetches of 256 KiB, never past the end of the blob, so
 * a too small in_end costs requests, never correctness. The point's window is copied: p may go
 * away. The cursor holds a reference on b. */
int lzs_zseek_cursor_new(lzs_zseek_cursor **out, lzs_blob *b, enum lzs_compression c,
                         const struct lzs_zseek_point *p, uint64_t in_end, lzs_error **err);
/* Read exactly n uncompressed bytes at out_off, which must be >= the cursor's position (bytes in
 * between are decoded and dropped); successive reads continue where the last one ended.
 * -ENODATA when the stream ends first; -EBADMSG for corrupt data (both with a message naming
 * the compressed offset). */
int lzs_zseek_cursor_read(lzs_zseek_cursor *c, uint64_t out_off, void *buf, size_t n,
                          lzs_error **err);
/* Raise the in_end hint set at creation (to continue past the first span in large fetches). */
void lzs_zseek_cursor_set_in_end(lzs_zseek_cursor *c, uint64_t in_end);
uint64_t lzs_zseek_cursor_position(const lzs_zseek_cursor *c);     /* next out_off */
uint64_t lzs_zseek_cursor_decompressed(const lzs_zseek_cursor *c); /* bytes decoded so far */
void lzs_zseek_cursor_free(lzs_zseek_cursor *c);
LZS_DEFINE_CLEANUP(lzs_zseek_cursor, lzs_zseek_cursor_free)

/* ---- whole buffers ----------------------------------------------------------------------------
 */

/* Append the zstd compression of p (one frame, content size recorded) to out. */
int lzs_zseek_zstd_compress(const void *p, size_t n, int level, struct lzs_buf *out,
                            lzs_error **err);
/* Append the decompression of the single zstd frame p to out (bounded by out->max: -EMSGSIZE);
 * truncated input is -ENODATA, corrupt input or trailing bytes -EBADMSG. */
int lzs_zseek_zstd_decompress(const void *p, size_t n, struct lzs_buf *out, lzs_error **err);

#endif
