/* stream: a layer served while its blob is still arriving (layers without an index, mounted
 * with `lazysnap mount`).
 *
 * The one pass that fetches and indexes such a layer (lzs_layer_build_index) feeds a growing tree
 * through its hooks: every decoded byte goes to a staging file (unnamed, in a directory of the
 * caller's: gone with the process unless a cache adopts it), every tar entry to the tree once its
 * data has passed. The
 * tree is a fusefs tree (struct lzs_fusefs_tree) with ids in arrival order, stable for the
 * mount's life, and the staging file its data source:
 *   - a name that has arrived is served at once, its data too (it is in the staging file);
 *   - what can still change waits for the end of the stream: a lookup of a name not there yet,
 *     a directory listing;
 *   - an absence that was shown (an opaque marker, a whiteout's real name) is promised, and the
 *     tree fails if the name comes after all; so does the replacement of an entry already shown
 *     (a later tar entry of the same path) other than a directory's attributes;
 *   - the layer's digest is known only at the end: a mismatch, or any failure of the stream,
 *     fails the tree, and every request is answered EIO from then on.
 * Waiters are woken by the entry they wait for or by the end; a stalled registry ends the
 * stream with an error after its stall timeout, so nothing waits forever. */
#ifndef LZS_STREAM_H
#define LZS_STREAM_H

#include "base/base.h"
#include "fusefs/fusefs.h"
#include "index/index.h"

typedef struct lzs_stream_tree lzs_stream_tree;

/* A tree holding only its root, its staging file created in staging_dir (O_TMPFILE). */
int lzs_stream_tree_new(lzs_stream_tree **out, const char *staging_dir, lzs_error **err);
/* Free; the tree must no longer be mounted nor fed. NULL-safe. */
void lzs_stream_tree_free(lzs_stream_tree *t);
LZS_DEFINE_CLEANUP(lzs_stream_tree, lzs_stream_tree_free)

/* The hooks of struct lzs_layer_build_opts (decoded, entry; hook_data = the tree). A failure
 * here is the build's (the staging file cannot be written); a tar the tree cannot serve fails
 * the tree only, and the build goes on. */
int lzs_stream_tree_decoded(void *tree, const void *buf, size_t n, lzs_error **err);
int lzs_stream_tree_entry(void *tree, const struct lzs_index_entry *e, lzs_error **err);
/* The stream ended: err NULL when the layer was complete and its digest right (the tree is then
 * final), else why it failed (copied). Wakes every waiter. Only the first end counts: a tree
 * that is final stays so (an unmount's cancel after the end changes nothing). */
void lzs_stream_tree_end(lzs_stream_tree *t, const lzs_error *err);

/* Wait until the first entry has arrived or the stream has ended (a mount shows the root's own
 * attributes from the start), at most timeout_s seconds. */
void lzs_stream_tree_wait_started(lzs_stream_tree *t, unsigned timeout_s);

struct lzs_stream_stats {
    int state;           /* 1 final, 0 streaming, < 0 failed */
    uint64_t entries;    /* arrived so far */
    uint64_t decoded;    /* uncompressed bytes so far */
    const char *failure; /* why it failed (borrowed), or NULL */
};
void lzs_stream_tree_stats(lzs_stream_tree *t, struct lzs_stream_stats *out);

/* The staging file (borrowed): once the tree is final, the whole decoded layer, which a cache
 * may adopt (lzs_cache_layer_adopt). */
int lzs_stream_tree_fd(const lzs_stream_tree *t);

/* The tree and its data source for lzs_fusefs_mount_tree; t must outlive the mount. */
void lzs_stream_tree_fusefs(lzs_stream_tree *t, struct lzs_fusefs_tree *tree,
                            struct lzs_fusefs_source *src);

#endif
