/* layer: a lazily available layer = index + zseek + blob (+ cache, later).
 * For now: build a layer's index from its blob in one streaming pass, and read files of a layer
 * by random access through its index. */
#ifndef LZS_LAYER_H
#define LZS_LAYER_H

#include "archive/archive.h"
#include "base/base.h"
#include "blob/blob.h"
#include "index/index.h"
#include "zseek/zseek.h"

/* Default distance between gzip checkpoints (docs/index-format.md explains the choice). */
#define LZS_LAYER_DEFAULT_SPAN (1u << 20)

/* zstd level of the index as it travels (measured: level 9 is within 1.5% of level 19's size at
 * an eighth of the time on a 3.4 MiB index). */
#define LZS_LAYER_INDEX_ZSTD_LEVEL 9

/* ---- building an index ---------------------------------------------------------------------- */

struct lzs_layer_build_opts {
    uint64_t span;                     /* 0: LZS_LAYER_DEFAULT_SPAN */
    const struct lzs_digest *expected; /* the layer digest to verify, or NULL */
    /* Called from the decoding thread now and then (and once at the end); may be NULL. */
    void (*progress)(void *data, uint64_t in_bytes, uint64_t out_bytes);
    void *progress_data;
};

struct lzs_layer_build_result {
    struct lzs_index_info info;
    uint64_t entries;     /* tar entries walked */
    uint64_t file_bytes;  /* regular-file content hashed */
    uint32_t checkpoints; /* points recorded */
    uint64_t window_bytes;
};

/* Decode the blob read from `read` (sequentially, once, no temporary copy) while walking its tar;
 * serialise the index into out. Decoding and the tar walk run on two threads. The blob digest is
 * computed on the way and compared with opts->expected when given (-EBADMSG on mismatch). */
int lzs_layer_build_index(lzs_zseek_read_fn read, void *data,
                          const struct lzs_layer_build_opts *opts, struct lzs_buf *out,
                          struct lzs_layer_build_result *res, lzs_error **err);

/* ---- reading files by random access --------------------------------------------------------- */

typedef struct lzs_file_reader lzs_file_reader;

/* A reader of one regular file (hardlinks resolved) of a layer; holds references to idx and b. */
int lzs_file_reader_new(lzs_file_reader **out, lzs_index *idx, lzs_blob *b, uint32_t id,
                        lzs_error **err);
/* Up to n bytes at file offset off; short only at the end of the file. Holes of sparse files
 * read as zeros. Forward reads continue the same decoder; others restart from the nearest
 * checkpoint. */
ssize_t lzs_file_reader_read(lzs_file_reader *r, uint64_t off, void *buf, size_t n,
                             lzs_error **err);
uint64_t lzs_file_reader_size(const lzs_file_reader *r);
uint64_t lzs_file_reader_decompressed(const lzs_file_reader *r); /* bytes decoded so far */
void lzs_file_reader_free(lzs_file_reader *r);
LZS_DEFINE_CLEANUP(lzs_file_reader, lzs_file_reader_free)

#endif
