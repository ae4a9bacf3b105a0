/* mount internals: a layer without an index served while its blob streams in (stream.c). */
#ifndef LZS_MOUNT_I_H
#define LZS_MOUNT_I_H

#include "mount/mount.h"
#include "stream/stream.h"

struct mount_stream;

/* Start fetching layer i of img whole into whole_dir on a thread of its own, feeding a growing
 * tree; returns once its first entry has arrived (or the stream ended). Once complete, the
 * decoded layer becomes c's cached data of the layer (held open, so not evicted, until freed).
 * img and c must outlive it; c may be NULL. */
int lzs_mount_stream_start(struct mount_stream **out, lzs_image *img, size_t i, lzs_cache *c,
                           const char *whole_dir, lzs_error **err);
lzs_stream_tree *lzs_mount_stream_tree(struct mount_stream *s);
/* Compressed bytes received so far, and the blob's size. */
void lzs_mount_stream_bytes(struct mount_stream *s, uint64_t *received, uint64_t *size);
/* Stop serving the stream: the tree fails (waiters wake with EIO) and the fetch stops at its next
 * chunk; for an unmount. Does not wait. */
void lzs_mount_stream_cancel(struct mount_stream *s);
/* Cancel, join the thread, free (the tree too: unmount first). NULL-safe. */
void lzs_mount_stream_free(struct mount_stream *s);

#endif
