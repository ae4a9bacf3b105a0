/* zseek internals shared by the stream (build) side and the cursor (read) side. */
#ifndef LZS_ZSEEK_I_H
#define LZS_ZSEEK_I_H

#include "zseek/zseek.h"

#include <zlib.h>
#include <zstd.h>

#define LZS_ZSEEK_WINDOW 32768u /* deflate window */
/* zstd level of stored windows: see window.c for the measurements behind it. */
#define LZS_ZSEEK_WINDOW_LEVEL 3
#define LZS_ZSEEK_STREAM_IN (1u << 20) /* stream input buffer */
#define LZS_ZSEEK_CURSOR_IN (1u << 20) /* cursor input buffer: the largest single fetch */
#define LZS_ZSEEK_EXTEND (256u << 10)  /* fetch size past the in_end hint */
#define LZS_ZSEEK_SCRATCH (128u << 10) /* decode buffer for bytes a cursor skips */
#define LZS_ZSEEK_MAX_POINTS (1u << 24)
#define LZS_ZSEEK_ARENA_BLOCK (1u << 20)

/* ---- compressed input: a buffer over a read callback or a blob ------------------------------ */

struct lzs_zseek_in {
    uint8_t *buf;
    size_t cap;
    size_t len;    /* valid bytes in buf */
    size_t pos;    /* consumed bytes in buf */
    uint64_t base; /* offset of buf[0] in the compressed blob */
    bool eof;
    /* source: read callback (stream) ... */
    lzs_zseek_read_fn read;
    void *data;
    /* ... or blob (cursor) */
    lzs_blob *blob;
    uint64_t end_hint;
    uint64_t blob_size;
};

int lzs_zseek_in_init(struct lzs_zseek_in *in, size_t cap, lzs_error **err);
void lzs_zseek_in_dispose(struct lzs_zseek_in *in);
/* Make at least want bytes available (fewer only at end of input); returns the available count. */
ssize_t lzs_zseek_in_fill(struct lzs_zseek_in *in, size_t want, lzs_error **err);

static inline size_t lzs_zseek_in_avail(const struct lzs_zseek_in *in)
{
    return in->len - in->pos;
}

static inline uint64_t lzs_zseek_in_off(const struct lzs_zseek_in *in)
{
    return in->base + in->pos;
}

static inline const uint8_t *lzs_zseek_in_next(const struct lzs_zseek_in *in)
{
    return in->buf + in->pos;
}

/* ---- windows: zstd-compressed, in an arena whose blocks never move ------------------------ */

struct lzs_zseek_arena_block;

struct lzs_zseek_arena {
    struct lzs_zseek_arena_block *head;
    size_t total; /* compressed window bytes */
};

/* Compress win into the arena; *out points into it until the arena is disposed. */
int lzs_zseek_window_store(struct lzs_zseek_arena *a, ZSTD_CCtx **cctx, const uint8_t *win,
                           size_t n, const uint8_t **out, uint32_t *out_len, lzs_error **err);
/* Decode a stored window into out (LZS_ZSEEK_WINDOW bytes); returns its length. */
ssize_t lzs_zseek_window_load(const uint8_t *p, size_t n, uint8_t *out, lzs_error **err);
void lzs_zseek_arena_dispose(struct lzs_zseek_arena *a);
/* Compressed input kept ahead of a point to trim its window (enough for 32 KiB of output in all
 * but contrived streams; when it is not, the window stays whole). */
#define LZS_ZSEEK_TRIM_IN (128u << 10)
/* Scratch space window trimming needs: four probe dictionaries and outputs, and a use map. */
#define LZS_ZSEEK_TRIM_SCRATCH (9u * LZS_ZSEEK_WINDOW)
/* Zero the bytes of win (len bytes) that the deflate data at in (bit position: bits of prev_byte
 * still unused) never references; leaves win whole when that cannot be determined. scratch:
 * LZS_ZSEEK_TRIM_SCRATCH bytes, owned by the caller (the stream allocates it once). */
void lzs_zseek_window_trim(uint8_t *win, size_t len, const uint8_t *in, size_t in_len, uint8_t bits,
                           uint8_t prev_byte, uint8_t *scratch);

/* ---- gzip member boundaries (both sides) -------------------------------------------------- */

enum lzs_zseek_next {
    LZS_ZSEEK_NEXT_MEMBER, /* a gzip member header starts at the input position */
    LZS_ZSEEK_NEXT_END,    /* end of input, or zero padding up to it (consumed) */
};

/* After a member: find what follows (another member, end, or trailing garbage: -EBADMSG). */
int lzs_zseek_gzip_next(struct lzs_zseek_in *in, enum lzs_zseek_next *out, lzs_error **err);
/* "gzip: <msg> at compressed offset N" with -EBADMSG, or -ENODATA for a truncated stream. */
int lzs_zseek_gzip_error(lzs_error **err, int zr, const z_stream *z, uint64_t off);

/* ---- stream ---------------------------------------------------------------------------------- */

struct lzs_zseek_stream {
    enum lzs_compression comp;
    uint64_t span;
    struct lzs_zseek_in in;
    uint64_t out;
    int failed; /* < 0 once a read failed */
    bool done;
    /* points */
    struct lzs_zseek_point *points;
    size_t npoints, cap_points;
    struct lzs_zseek_arena arena;
    ZSTD_CCtx *cctx;
    /* gzip */
    z_stream z;
    bool z_init;
    bool in_member;
    bool hdr_pending; /* the next block boundary inflate reports is the end of the header */
    uint8_t *win;
    /* zstd */
    ZSTD_DCtx *dctx;
    bool frame_start;
};

int lzs_zseek_stream_add_point(lzs_zseek_stream *s, uint8_t kind, uint64_t in_off, uint8_t bits,
                               lzs_error **err);
ssize_t lzs_zseek_gzip_stream_read(lzs_zseek_stream *s, uint8_t *buf, size_t n, lzs_error **err);
ssize_t lzs_zseek_zstd_stream_read(lzs_zseek_stream *s, uint8_t *buf, size_t n, lzs_error **err);
void lzs_zseek_gzip_stream_dispose(lzs_zseek_stream *s);

/* ---- cursor ---------------------------------------------------------------------------------- */

struct lzs_zseek_cursor {
    enum lzs_compression comp;
    struct lzs_zseek_in in;
    uint64_t pos;     /* next out_off */
    uint64_t decoded; /* bytes decoded (including dropped ones) */
    uint8_t *scratch;
    int failed;
    /* gzip */
    z_stream z;
    bool z_init;
    bool raw;       /* inside a member entered at a DEFLATE point: its trailer is skipped */
    bool in_member; /* false between members */
    /* zstd */
    ZSTD_DCtx *dctx;
    bool frame_start;
};

int lzs_zseek_gzip_cursor_init(lzs_zseek_cursor *c, const struct lzs_zseek_point *p,
                               lzs_error **err);
/* Decode up to n bytes into buf; returns the count, 0 only at the end of the stream. */
ssize_t lzs_zseek_gzip_cursor_decode(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err);
void lzs_zseek_gzip_cursor_dispose(lzs_zseek_cursor *c);
int lzs_zseek_zstd_cursor_init(lzs_zseek_cursor *c, lzs_error **err);
ssize_t lzs_zseek_zstd_cursor_decode(lzs_zseek_cursor *c, uint8_t *buf, size_t n, lzs_error **err);

#endif
