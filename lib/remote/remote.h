/* remote: the layers lazysnapd serves lazily. Given the labels containerd's CRI plugin puts on
 * the Prepare of a layer (containerd.io/snapshot/cri.image-ref, cri.manifest-digest,
 * cri.layer-digest), open the image on its registry (hosts from a containerd hosts directory),
 * find the layer's index (Referrers API, tag fallback, local index directory) and mount the
 * layer read-only over FUSE at the snapshot's directory, served through the node cache
 * (ROOT/cache). Plugs into the snapshotter as its struct lzs_snap_remote. */
#ifndef LZS_REMOTE_H
#define LZS_REMOTE_H

#include "base/base.h"
#include "config/config.h"
#include "snapshot/snapshot.h"

#define LZS_REMOTE_LABEL_IMAGE_REF "containerd.io/snapshot/cri.image-ref"
#define LZS_REMOTE_LABEL_MANIFEST "containerd.io/snapshot/cri.manifest-digest"
#define LZS_REMOTE_LABEL_LAYER "containerd.io/snapshot/cri.layer-digest"

typedef struct lzs_remote lzs_remote;

/* Open the cache at ROOT/cache (capped at cfg's [cache] max_size; least recently used layers
 * are evicted now) and a registry client from cfg (hosts_dir, [fetch] timeout and retries).
 * cfg's [fetch] background settings apply to every layer; layers smaller than [index]
 * min_layer_size are left to containerd. cfg is copied from. */
int lzs_remote_new(lzs_remote **out, const char *root, const struct lzs_config *cfg,
                   lzs_error **err);
/* Unmount every layer (see lzs_layer_mount_free: waits for files still open, as it waits for the
 * layers Remove detached to be closed), free. NULL-safe. A layer unmounted by the snapshotter's
 * Remove is detached at once, closed by a thread of its own when its last file is, and the cache
 * then evicted down to its cap. */
void lzs_remote_free(lzs_remote *r);
LZS_DEFINE_CLEANUP(lzs_remote, lzs_remote_free)

/* The snapshotter's hooks, served by r (which must outlive the snapshotter's use of them). */
void lzs_remote_hooks(lzs_remote *r, struct lzs_snap_remote *out);

/* Layers mounted now, and compressed bytes fetched from registries (indexes included). */
struct lzs_remote_stats {
    size_t mounted;
    uint64_t bytes_fetched, requests;
};
void lzs_remote_stats(lzs_remote *r, struct lzs_remote_stats *out);

#endif
