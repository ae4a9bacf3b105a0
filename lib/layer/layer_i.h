/* layer internals shared by read.c (random access through the blob), lazy.c (reads through the
 * cache), fetch.c (filling the cache) and background.c (prefetch and background fetch). */
#ifndef LZS_LAYER_I_H
#define LZS_LAYER_I_H

#include "cache/cache.h"
#include "layer/layer.h"

#include <pthread.h>

/* Where the last lookup in a sparse file's segment list ended: the segment, and the stored bytes
 * of the segments before it. Zero-initialised means "from the start". */
struct layer_sparse_pos {
    uint32_t seg;
    uint64_t stored;
};

/* Map [off, off+n) of sparse file id (entry e): returns how many bytes from off are a hole
 * (zeros), or 0 and sets *soff / *len to the stored bytes starting at off (tar stream offset and
 * length). Scans from pos, so sequential lookups cost O(1) each. */
uint64_t layer_sparse_map(const lzs_index *idx, uint32_t id, const struct lzs_index_entry *e,
                          struct layer_sparse_pos *pos, uint64_t off, uint64_t n, uint64_t *soff,
                          uint64_t *len);
/* Bytes of file e stored in the tar stream (the sum of its segments when sparse). */
uint64_t layer_stored_size(const lzs_index *idx, uint32_t id, const struct lzs_index_entry *e);

/* The compressed offset by which stream bytes before end are surely decoded: the in_off of the
 * checkpoint after the one covering end - 1, or the blob's end (end itself when uncompressed). */
uint64_t layer_in_end(const lzs_index *idx, uint64_t blob_size, uint64_t end);

/* A fetch in flight: the cache range [start, end) is being decoded; pos is how far it got.
 * Readers of a range it covers wait for it instead of fetching the same span again. */
struct layer_fetch {
    uint64_t start, end, pos;
    uint64_t need_end; /* what the caller needs ends here (end is rounded up to whole chunks) */
    unsigned waiters;  /* readers waiting for it: it is not paced, and outlives their wait */
    bool done;         /* off l->fetches (finished or failed): its waiters leave */
    struct layer_fetch *next;
};

/* A file being fetched and verified for a reader: other readers of it wait for the outcome
 * instead of hashing it again (layer_ensure). Lives on its owner's stack, like layer_fetch. */
struct layer_check {
    uint32_t id;
    int rc;           /* the outcome, once done */
    char msg[256];    /* its message when rc < 0 */
    unsigned waiters; /* readers waiting for it: it outlives their wait */
    bool done;
    struct layer_check *next;
};

struct lzs_layer {
    lzs_index *idx;
    lzs_blob *blob;
    lzs_cache_layer *cache;
    enum lzs_compression comp;
    uint64_t size; /* uncompressed */
    struct lzs_layer_opts opts;
    char **prefetch; /* copies of opts.prefetch */

    pthread_mutex_t lock;
    pthread_cond_t cond;         /* fetch progress, checks done, background stop */
    struct layer_fetch *fetches; /* protected by lock */
    struct layer_check *checks;  /* protected by lock */
    /* protected by lock: the cursor of the last fetch, left where it ended (parked_pos), for a
     * fetch starting after it: a layer read front to back, or a zstd layer of one frame (one
     * checkpoint, at its start), then goes on instead of decoding again from the checkpoint */
    lzs_zseek_cursor *parked;
    uint64_t parked_pos;
    /* protected by lock: the rest of the span the parked cursor stands in, up to tail_end, for
     * lzs_layer_read_ahead (tail_end <= parked_pos: none) */
    uint64_t tail_end;
    bool stop; /* protected by lock: close asked the background thread to end */
    pthread_t bg;
    bool bg_running;
    uint64_t bg_t0_ns, bg_bytes0; /* when the background fetch began, blob bytes read by then */

    atomic_uint_fast64_t verify_failures;
    atomic_uint_fast64_t verified_bytes;
    atomic_bool complete; /* every chunk is present */
    atomic_bool bg_done;  /* the background thread finished (complete or failed) */
};

/* How a fill runs: LAYER_CANCEL ends it with -ECANCELED when the layer is closing (the
 * background thread's fills); LAYER_THROTTLE also keeps it to opts.background_rate. */
enum { LAYER_CANCEL = 1, LAYER_THROTTLE = 2 };

/* Make the cache hold [start, end) of the layer's tar stream, decoding from the nearest
 * checkpoint; shares fetches in flight. */
int layer_fill(lzs_layer *l, uint64_t start, uint64_t end, unsigned flags, lzs_error **err);

/* Between the pieces of fetch f (NULL: between fills): wait as long as opts.background_rate
 * asks (LAYER_THROTTLE; not while readers wait for f); -ECANCELED when the layer is closing
 * (LAYER_CANCEL). */
int layer_pace(lzs_layer *l, unsigned flags, const struct layer_fetch *f);

/* lzs_layer_ensure for the background thread: flags as for layer_fill. */
int layer_ensure(lzs_layer *l, uint32_t id, unsigned flags, lzs_error **err);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t layer_now_ns(void);

/* The prefetch list, then (opts.background) the whole layer; runs on l->bg. */
void *layer_background_main(void *arg);

#endif
