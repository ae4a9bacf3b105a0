/* cache: the node-local content cache of uncompressed layer data, shared by every mount of a
 * layer and surviving restarts.
 *
 * Layout under the root (created 0700; one process per root, enforced with a lock file):
 *     ROOT/lock
 *     ROOT/layers/<algo>/<hex>/data   sparse file, the layer's uncompressed tar stream size
 *     ROOT/layers/<algo>/<hex>/map    header + present-chunk bitmap + verified-item bitmap + sha256
 *
 * A chunk (LZS_CACHE_CHUNK bytes) is present once it has been written completely. The map is
 * replaced atomically (temp + fsync + rename) after the data file was fdatasync'd, and carries a
 * checksum, so a crash or a damaged map can lose chunks but never make absent data look present.
 * A map that fails validation discards the layer's cache (with a warning) and starts empty. */
#ifndef LZS_CACHE_H
#define LZS_CACHE_H

#include "base/base.h"

#define LZS_CACHE_CHUNK ((uint64_t)64 * 1024)
/* Largest layer size and item count a map may describe (bitmaps of 32 MiB and 8 MiB). */
#define LZS_CACHE_MAX_LAYER_SIZE ((uint64_t)1 << 44)
#define LZS_CACHE_MAX_ITEMS ((uint32_t)1 << 26)

typedef struct lzs_cache lzs_cache;
typedef struct lzs_cache_layer lzs_cache_layer;

/* Open (creating) the cache at root. max_size caps lzs_cache_usage for lzs_cache_evict; 0 means
 * no cap. -EBUSY when another process holds the root. */
int lzs_cache_open(lzs_cache **out, const char *root, uint64_t max_size, lzs_error **err);
/* Drop the caller's handle; NULL-safe. Layers still open keep the cache alive until unref'd. */
void lzs_cache_close(lzs_cache *c);
static inline void lzs_cache_closep(lzs_cache **c)
{
    lzs_cache_close(*c);
}

/* Directories of the cache root for files that others write but that belong to the cache:
 * ROOT/indexes for indexes kept from a registry (ALGO/HEX.*, HEX the index blob's digest: see
 * lzs_image_load_index_kept) and ROOT/whole for layers without an index fetched whole (ALGO/HEX.*,
 * HEX the layer's digest: lzs_image_fetch_whole). Their files count in lzs_cache_usage and are
 * evicted by lzs_cache_evict: a whole layer's with that layer's cache (never while it is open),
 * a kept index by its last use (its modification time). Files named NAME.tmp.* (being written)
 * are left alone. */
const char *lzs_cache_indexes_dir(const lzs_cache *c);
const char *lzs_cache_whole_dir(const lzs_cache *c);

/* Bytes the cache's files actually occupy on disk (st_blocks * 512), open layers included. */
uint64_t lzs_cache_usage(lzs_cache *c);
/* Remove whole least-recently-used layers that are not open (with their whole-layer files) and
 * kept indexes until usage <= max_size (nothing with no cap). Returns the number of entries
 * removed. Open layers are never removed, so usage may stay above the cap. */
int lzs_cache_evict(lzs_cache *c, lzs_error **err);
/* Remove a layer's cache and its whole-layer files: -EBUSY while it is open; 0 when it was not
 * cached. */
int lzs_cache_layer_remove(lzs_cache *c, const struct lzs_digest *layer, lzs_error **err);

/* A layer's cache: size is its uncompressed size, n_items the number of "verified" bits kept
 * (e.g. file ids of the index). The same digest returns the same object while it is open
 * (its size and n_items must then match: -EINVAL). A map of another size or item count, or one
 * that is damaged, is discarded. Thread-safe. */
int lzs_cache_layer_open(lzs_cache *c, const struct lzs_digest *layer, uint64_t size,
                         uint32_t n_items, lzs_cache_layer **out, lzs_error **err);
lzs_cache_layer *lzs_cache_layer_ref(lzs_cache_layer *l);
/* Drop a reference; the last one syncs the map (failures are logged: nothing is lost but
 * cached chunks) and closes the files. Returns NULL; NULL-safe. */
lzs_cache_layer *lzs_cache_layer_unref(lzs_cache_layer *l);
static inline void lzs_cache_layer_unrefp(lzs_cache_layer **l)
{
    lzs_cache_layer_unref(*l);
}

/* All of these are thread-safe. Ranges past the layer size are -ERANGE. */

/* Read [off, off+n) when every chunk it touches is present: 0. -ENODATA when some chunk is
 * absent: nothing is read and err is left untouched (a miss is an outcome, not a failure). */
int lzs_cache_read(lzs_cache_layer *l, uint64_t off, void *buf, size_t n, lzs_error **err);
/* Write [off, off+n) of the layer's data, then mark present the chunks it covers fully (a write
 * that ends at the layer size completes the last, short chunk). Chunks already present are left
 * as they are: bytes once verified are never replaced, only invalidated. */
int lzs_cache_write(lzs_cache_layer *l, uint64_t off, const void *buf, size_t n, lzs_error **err);
/* Mark absent every chunk that [off, off+n) touches (data found bad). Ranges past the end are
 * clipped. */
void lzs_cache_invalidate(lzs_cache_layer *l, uint64_t off, uint64_t n);
/* true when every chunk of [off, off+n) is present (n == 0: true; past the end: false). */
bool lzs_cache_is_present(lzs_cache_layer *l, uint64_t off, uint64_t n);
/* Present bytes and layer size, for "% local". */
void lzs_cache_layer_stats(lzs_cache_layer *l, uint64_t *present_bytes, uint64_t *size);
/* The descriptor of the data file, for splicing hits (FUSE_BUF_IS_FD); borrowed from l. */
int lzs_cache_layer_fd(const lzs_cache_layer *l);

/* Verified items (id < n_items): persisted with the map. Out-of-range ids are never verified. */
bool lzs_cache_item_is_verified(lzs_cache_layer *l, uint32_t id);
void lzs_cache_item_set_verified(lzs_cache_layer *l, uint32_t id);
void lzs_cache_item_clear_verified(lzs_cache_layer *l, uint32_t id);

/* Make the file at fd, all l->size bytes of the layer's data and known good (a layer streamed
 * in whole and checked against its digest), l's data file: linked in (fd must be on the cache's
 * file system), every chunk present, every item verified, persisted before this returns.
 * -EBUSY when l is open elsewhere too. */
int lzs_cache_layer_adopt(lzs_cache_layer *l, int fd, lzs_error **err);

/* Persist what is present: fdatasync the data, then replace the map. A no-op when nothing
 * changed since the last sync. The owner calls it periodically; the last unref calls it too. */
int lzs_cache_layer_sync(lzs_cache_layer *l, lzs_error **err);

#endif
