/* layer: a lazily available layer = index + zseek + cache + blob.
 * Build a layer's index from its blob in one streaming pass; read files of a layer by random
 * access through its index (lzs_file_reader); and serve a layer from the node's cache, fetching
 * and verifying on first use what is not local yet (lzs_layer). */
#ifndef LZS_LAYER_H
#define LZS_LAYER_H

#include "archive/archive.h"
#include "base/base.h"
#include "blob/blob.h"
#include "cache/cache.h"
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
    /* Optional, for serving a layer while it streams: `decoded` gets every decoded byte, in order,
     * on the decoding thread, before the tar walk sees it; `entry` gets every entry the index
     * keeps (lzs_index_writer_observe), on the walking thread, after its data went to `decoded`.
     * A failure of either fails the build. */
    int (*decoded)(void *data, const void *buf, size_t n, lzs_error **err);
    lzs_index_observer_fn entry;
    void *hook_data;
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

/* ---- a lazily fetched layer, served from the node's cache ----------------------------------
 *
 * A read of file F: when F is verified in the cache, read it from there. Otherwise make F's bytes
 * present (for each absent stretch: the nearest checkpoint, one range of the compressed blob,
 * decode, write everything decoded into the cache, neighbours included), then hash F from the
 * cache and compare with the index's sha256; only then is F served and marked verified (the mark
 * persists with the cache). A mismatch discards F's bytes and fetches once more; a second one is
 * -EIO. Verification is per file, so the first read of a file waits for all of it.
 * Concurrent readers of a range being fetched wait for that fetch instead of repeating it. */

typedef struct lzs_layer lzs_layer;

struct lzs_layer_opts {
    /* Paths (as in the index) fetched and verified first, in order, by the background thread. */
    const char *const *prefetch;
    size_t n_prefetch;
    bool background;          /* then fetch the rest of the layer until it is fully local */
    uint64_t background_rate; /* compressed bytes per second for the background fetch; 0: no cap */
};

struct lzs_layer_stats {
    uint64_t size;            /* uncompressed */
    uint64_t compressed_size; /* the blob */
    uint64_t present;         /* uncompressed bytes local */
    uint64_t fetched;         /* compressed bytes read from the blob by this layer */
    uint64_t requests;        /* blob reads */
    uint64_t verified_bytes;  /* file bytes verified since open */
    uint64_t verify_failures; /* files whose bytes did not match their digest */
    bool complete;            /* every byte is local */
    bool background_done;     /* the prefetch/background thread ended (or never ran) */
};

/* Serve the layer described by idx from blob b (its compressed bytes) through cache c; starts
 * the background thread when opts asks for prefetch or background fetch. Holds references to
 * idx and b and a cache layer of c. opts may be NULL (no prefetch, no background). */
int lzs_layer_open(lzs_layer **out, lzs_index *idx, lzs_blob *b, lzs_cache *c,
                   const struct lzs_layer_opts *opts, lzs_error **err);
/* Stop the background thread, sync the cache, free. NULL-safe. */
void lzs_layer_close(lzs_layer *l);
LZS_DEFINE_CLEANUP(lzs_layer, lzs_layer_close)

/* Make regular file id (hardlinks resolved) local and verified. Thread-safe. */
int lzs_layer_ensure(lzs_layer *l, uint32_t id, lzs_error **err);
/* Up to n bytes of file id at off (ensure first); short only at the end. Thread-safe. */
ssize_t lzs_layer_read(lzs_layer *l, uint32_t id, uint64_t off, void *buf, size_t n,
                       lzs_error **err);
/* After a file was made local (lzs_layer_ensure) and its reader answered: decode the rest of the
 * span the last fetch stopped in, up to the next checkpoint, from the cursor it left (its
 * compressed bytes came with that fetch), so that the neighbours of a file, often read next (a
 * package's modules), cost no request. Does nothing when there is no such rest, or when another
 * fetch took the cursor meanwhile. Errors are dropped (a reader that needs those bytes fetches
 * them itself). Thread-safe. */
void lzs_layer_read_ahead(lzs_layer *l);
/* When [off, off+n) of file id is verified and stored contiguously (not sparse) in the cache's
 * data file: 1, with that file's descriptor (borrowed from l) and the offset in it. Else 0. */
int lzs_layer_locate(lzs_layer *l, uint32_t id, uint64_t off, size_t n, int *fd, uint64_t *fd_off);
void lzs_layer_stats(lzs_layer *l, struct lzs_layer_stats *out);
/* Persist what is present (the cache's map); call now and then. */
int lzs_layer_sync(lzs_layer *l, lzs_error **err);
lzs_index *lzs_layer_index(const lzs_layer *l); /* borrowed */

#endif
