/* mount: an image mounted read-only at a directory: one FUSE filesystem per layer (each a lazy
 * layer served from the node cache; for a layer without an index, its blob fetched whole, and
 * served while it streams in the first time: lib/stream), merged by kernel overlayfs (a bind
 * mount when there is one layer). Used by `lazysnap mount` and, for single layers, by
 * lazysnapd. */
#ifndef LZS_MOUNT_H
#define LZS_MOUNT_H

#include "base/base.h"
#include "cache/cache.h"
#include "image/image.h"
#include "layer/layer.h"

struct lzs_mount_opts {
    const char *work_dir;        /* layer mountpoints WORK/0, WORK/1, ... are created here */
    const char *whole_dir;       /* layers without an index are fetched whole into this directory */
    const char *index_dir;       /* indexes from the registry are kept here (NULL: not kept) */
    struct lzs_layer_opts layer; /* prefetch and background fetch, for every indexed layer */
    bool allow_other;            /* let other users (containers) use the layer mounts */
    /* A layer without an index that is not in whole_dir yet is served while its blob streams in
     * (lib/stream: its files as soon as they have arrived; bytes checked against the layer's
     * digest only at the end, a mismatch then failing the layer's mount). false: the mount waits
     * for the whole blob, verified. */
    bool stream_whole;
};

typedef struct lzs_mount lzs_mount;

/* Mount img (its indexes found: lzs_image_find_indexes) at target, an existing directory.
 * Layers are served through cache c, which must outlive the mount. */
int lzs_mount_new(lzs_mount **out, lzs_image *img, lzs_cache *c, const char *target,
                  const struct lzs_mount_opts *opts, lzs_error **err);
/* Unmount the merged directory (detached when busy; left alone when what is mounted there now is
 * not this mount's), then every layer, and free. NULL-safe. */
void lzs_mount_free(lzs_mount *m);
LZS_DEFINE_CLEANUP(lzs_mount, lzs_mount_free)

enum lzs_mount_stream {
    LZS_MOUNT_NOT_STREAMED = 0, /* served from an index: published, or built from a local blob */
    LZS_MOUNT_STREAMING,        /* served as it streams in */
    LZS_MOUNT_STREAMED,         /* streamed in complete and verified */
    LZS_MOUNT_STREAM_FAILED,    /* the stream failed: the layer's mount answers EIO */
};
/* "none", "streaming", "complete", "failed". */
const char *lzs_mount_stream_name(enum lzs_mount_stream s);

struct lzs_mount_layer_info {
    struct lzs_digest digest;
    bool indexed; /* false: fetched whole */
    enum lzs_mount_stream stream;
    struct lzs_layer_stats stats; /* streamed: size and present are the bytes arrived so far */
    uint64_t read_errors;         /* FUSE opens and reads answered EIO */
};

size_t lzs_mount_layer_count(const lzs_mount *m);
void lzs_mount_layer_info(lzs_mount *m, size_t i, struct lzs_mount_layer_info *out);
/* {"target":..., "image":..., "layers":[{"digest","indexed","size","compressed_size","present",
 * "fetched","requests","verify_failures","read_errors","complete","stream"}...]} */
int lzs_mount_stats_json(lzs_mount *m, struct lzs_buf *out, lzs_error **err);
/* Persist the cache maps of every layer. */
int lzs_mount_sync(lzs_mount *m, lzs_error **err);

/* ---- one layer, at a directory of the caller's (lazysnapd's remote snapshots) -------------- */

typedef struct lzs_layer_mount lzs_layer_mount;

/* Serve layer i of img (its indexes found) at dir, an existing directory, through cache c, with
 * opts' layer, whole_dir, index_dir and allow_other (work_dir and stream_whole are not used). */
int lzs_layer_mount_new(lzs_layer_mount **out, lzs_image *img, size_t i, lzs_cache *c,
                        const char *dir, const struct lzs_mount_opts *opts, lzs_error **err);
/* Unmount (lazily while files are open: see lzs_fusefs_unmount) and free. NULL-safe. */
void lzs_layer_mount_free(lzs_layer_mount *lm);
lzs_index *lzs_layer_mount_index(lzs_layer_mount *lm); /* borrowed */

#endif
