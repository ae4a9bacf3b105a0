/* fusefs: the read-only FUSE filesystem of one layer (libfuse3 low-level API, multi-threaded).
 *
 * Metadata comes from a tree (struct lzs_fusefs_tree): the layer's index (immutable: no locks,
 * long kernel cache timeouts), or a layer still streaming in (lib/stream), which grows while it
 * is mounted. File data comes through a source (struct lzs_fusefs_source). OCI whiteouts are shown
 * as overlayfs expects of a lower layer: ".wh.NAME" is NAME, a character device 0/0;
 * ".wh..wh..opq" is hidden and its directory has the xattr trusted.overlay.opaque=y; other
 * ".wh.*" names are hidden, and a real NAME in the same directory wins over ".wh.NAME".
 *
 * Inode numbers are 2 * id + 1 for entries (the root, id 0, is 1) and 2 * id + 2 for whiteouts,
 * stable for the mount's life; hardlinks share the inode of the regular file they resolve to. */
#ifndef LZS_FUSEFS_H
#define LZS_FUSEFS_H

#include "base/base.h"
#include "index/index.h"
#include "layer/layer.h"

/* Where file data comes from. Callbacks run on any FUSE worker thread, and reads of one open
 * file may run concurrently: a source locks its per-handle state itself (the default source
 * does). Handles still open when the connection ends are released by lzs_fusefs_unmount. */
struct lzs_fusefs_source {
    /* Optional (NULL: *fh stays NULL): per-open state for regular file id (hardlinks resolved). */
    int (*open)(void *data, uint32_t id, void **fh, lzs_error **err);
    /* Up to n bytes of file id at off; short only at the end of the file. fh is what open made. */
    ssize_t (*read)(void *data, void *fh, uint32_t id, uint64_t off, void *buf, size_t n,
                    lzs_error **err);
    /* Optional: where [off, off+n) of file id lies, whole, in a local file: its descriptor
     * (borrowed) and offset, so the reply can be spliced from it. 1: yes, 0: read it instead. */
    int (*locate)(void *data, void *fh, uint32_t id, uint64_t off, size_t n, int *fd,
                  uint64_t *fd_off);
    /* Optional: called after an open was answered, for work that need not delay it. */
    void (*after_open)(void *data);
    /* Optional: drop what open made. */
    void (*release)(void *data, void *fh);
    /* Optional: free data (lzs_fusefs_source_dispose). */
    void (*free)(void *data);
    void *data;
};

/* The default source: random access through lzs_file_reader over (idx, b), one reader per open
 * file handle (readers are not thread-safe: each handle has its own mutex). Holds references to
 * idx and b until lzs_fusefs_source_dispose. */
int lzs_fusefs_source_layer(lzs_index *idx, lzs_blob *b, struct lzs_fusefs_source *out,
                            lzs_error **err);
/* The cached source: files fetched, verified and served through lazy layer l (which must outlive
 * the mount; the source owns nothing). */
void lzs_fusefs_source_lazy(lzs_layer *l, struct lzs_fusefs_source *out);
/* Calls src->free(src->data) and zeroes src; NULL-safe, safe on a zeroed struct. */
void lzs_fusefs_source_dispose(struct lzs_fusefs_source *src);

/* What a mount shows: the tree of one layer. Ids are stable for the mount's life, id 0 is the root
 * directory; entry, name, parent, xattr, sparse and resolve_hardlink take ids below count. A
 * growing tree may add entries while mounted (never change or remove one it has shown: it fails
 * instead), and answers only what it knows for certain: child waits for a name it does not have
 * yet, children for the whole tree. Callbacks run on any FUSE worker thread. */
struct lzs_fusefs_tree {
    /* 1: final (replies may be cached long), 0: still growing, < 0: failed (every request is
     * answered EIO from then on). */
    int (*state)(void *data);
    uint32_t (*count)(void *data);
    /* Views valid for the mount's life (xattrs and sparse NULL: use the getters). */
    void (*entry)(void *data, uint32_t id, struct lzs_index_entry *out);
    const char *(*name)(void *data, uint32_t id); /* "" for the root */
    uint32_t (*parent)(void *data, uint32_t id);  /* the root is its own parent */
    void (*xattr)(void *data, uint32_t id, uint32_t k, struct lzs_index_xattr *out);
    void (*sparse)(void *data, uint32_t id, uint32_t k, struct lzs_index_sparse *out);
    /* For a hardlink, the id of the regular file it links to; else id. */
    uint32_t (*resolve_hardlink)(void *data, uint32_t id);
    /* The child of dir called name exactly. now: from what the tree has so far; else certain (a
     * growing tree waits for name or for its end). -ENOENT, or -EIO when the tree failed. */
    int (*child)(void *data, uint32_t dir, const char *name, bool now, uint32_t *id);
    /* Optional (growing trees): an absence of name in dir, learnt with child(now), was shown; a
     * name arriving later fails the tree. -EEXIST when it has arrived already. */
    int (*promise_absent)(void *data, uint32_t dir, const char *name);
    /* A directory's children in strcmp order of their names (a growing tree waits for its end);
     * ids borrowed for the mount's life. -EIO when the tree failed. */
    int (*children)(void *data, uint32_t dir, const uint32_t **ids, uint32_t *n);
    /* Optional: the link count of inode id (a growing tree counts as it grows); NULL: counted
     * once at mount (final trees). */
    uint32_t (*nlink)(void *data, uint32_t id);
    uint64_t (*size)(void *data); /* bytes of the uncompressed layer (statfs) */
    void *data;
};

struct lzs_fusefs_opts {
    bool allow_other;   /* other users (and containers) may use the mount */
    unsigned threads;   /* maximum FUSE worker threads; 0: 16 */
    const char *fsname; /* shown in /proc/mounts; NULL: "lazysnap" */
    bool debug;         /* libfuse debug output on stderr (tests only) */
};

typedef struct lzs_fusefs lzs_fusefs;

/* Mount the layer described by idx at mountpoint (an existing directory) and serve it from its own
 * threads; returns once the kernel has initialised the connection. Holds a reference to idx; src
 * is copied (the caller keeps ownership of src->data, which must outlive the mount). opts may be
 * NULL. */
int lzs_fusefs_mount(lzs_fusefs **out, const char *mountpoint, lzs_index *idx,
                     const struct lzs_fusefs_source *src, const struct lzs_fusefs_opts *opts,
                     lzs_error **err);
/* Mount the tree at mountpoint, as lzs_fusefs_mount; tree and src are copied, and the caller
 * keeps ownership of their data, which must outlive the mount. */
int lzs_fusefs_mount_tree(lzs_fusefs **out, const char *mountpoint,
                          const struct lzs_fusefs_tree *tree, const struct lzs_fusefs_source *src,
                          const struct lzs_fusefs_opts *opts, lzs_error **err);
/* Unmount, stop and join the threads, free fs. NULL-safe. When files are still open the unmount
 * is lazy (MNT_DETACH) and this blocks, serving them, until the last one is closed. Unprivileged:
 * falls back to libfuse's fusermount3 -u -z. */
void lzs_fusefs_unmount(lzs_fusefs *fs);
/* The mountpoint; borrowed from fs. */
const char *lzs_fusefs_mountpoint(const lzs_fusefs *fs);
/* Opens and reads of file data that failed (replied EIO) since the mount. The first failure is
 * logged at error level with its message, the rest at debug level. */
uint64_t lzs_fusefs_read_errors(const lzs_fusefs *fs);

#endif
