/* fusefs internals: the mount object and the tree-to-inode view shared by the handlers. */
#ifndef LZS_FUSEFS_I_H
#define LZS_FUSEFS_I_H

/* 3.12: before it, fuse_session_loop_mt reads its config as the old public struct, while
 * fuse_loop_cfg_create makes the new one (the loop then ran with clone_fd on and no idle threads:
 * a thread created and ended per request). */
#define FUSE_USE_VERSION 312

#include "fusefs/fusefs.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <sys/stat.h>

/* Kernel cache timeouts (seconds): a final tree never changes while mounted. Attributes of a
 * growing one (link counts, a directory's own entry arriving after its children) are not cached;
 * names are, as it never changes one it has shown. */
#define LZS_FUSEFS_TIMEOUT 86400.0

struct lzs_fusefs {
    struct fuse_session *se;
    lzs_index *idx; /* the index a mount of an index holds a reference to; else NULL */
    struct lzs_fusefs_tree tree;
    struct lzs_fusefs_source src;
    uint32_t *nlink; /* without tree.nlink: per entry id, link count of its inode (at mount) */
    char *mountpoint;
    unsigned threads;
    unsigned max_read; /* largest read request: a reply must fit libfuse's splice pipe */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ready;                        /* protected by lock: the kernel sent INIT */
    bool stopped;                      /* protected by lock: the session loop returned */
    int loop_rc;                       /* protected by lock */
    struct lzs_fusefs_handle *handles; /* protected by lock: open files, released at unmount */
    atomic_uint_least64_t read_errors; /* failed opens and reads */
    atomic_bool error_logged;
};

/* One open file (fi->fh): the source's state, on fs->handles until released. The kernel sends
 * RELEASE asynchronously after close, so an unmount can come first: those are released then. */
struct lzs_fusefs_handle {
    void *fh;
    struct lzs_fusefs_handle *prev, *next; /* protected by fs->lock */
};

/* Track (open) and untrack (release) a handle; the fs side of ops.c's open and release. */
int lzs_fusefs_handle_new(lzs_fusefs *fs, uint32_t id, struct lzs_fusefs_handle **out,
                          lzs_error **err);
void lzs_fusefs_handle_free(lzs_fusefs *fs, struct lzs_fusefs_handle *h);

/* The index as a tree (tree.c); holds no reference. */
void lzs_fusefs_tree_index(lzs_index *idx, struct lzs_fusefs_tree *out);

/* Shorthands for the tree's callbacks. */
static inline int lzs_fusefs_state(const lzs_fusefs *fs)
{
    return fs->tree.state(fs->tree.data);
}
static inline void lzs_fusefs_entry(const lzs_fusefs *fs, uint32_t id, struct lzs_index_entry *e)
{
    fs->tree.entry(fs->tree.data, id, e);
}
static inline const char *lzs_fusefs_name(const lzs_fusefs *fs, uint32_t id)
{
    return fs->tree.name(fs->tree.data, id);
}
static inline uint32_t lzs_fusefs_parent(const lzs_fusefs *fs, uint32_t id)
{
    return fs->tree.parent(fs->tree.data, id);
}
static inline uint32_t lzs_fusefs_resolve(const lzs_fusefs *fs, uint32_t id)
{
    return fs->tree.resolve_hardlink(fs->tree.data, id);
}
/* Seconds the kernel may keep attributes. */
static inline double lzs_fusefs_attr_timeout(const lzs_fusefs *fs)
{
    return lzs_fusefs_state(fs) == 1 ? LZS_FUSEFS_TIMEOUT : 0.0;
}

/* What a name of the tree is once OCI whiteouts are interpreted. */
enum lzs_fusefs_kind {
    LZS_NODE_REAL,     /* shown as it is */
    LZS_NODE_WHITEOUT, /* ".wh.NAME": shown as NAME, a character device 0/0 */
    LZS_NODE_HIDDEN,   /* ".wh..wh..opq", other ".wh..wh.*", ".wh.NAME" when NAME exists */
};

/* A node the kernel knows by inode number: an entry id and how it is shown. Real entries have
 * inode id + 1 (hardlinks: of the file they resolve to); whiteouts have count + id + 1. */
struct lzs_fusefs_node {
    uint32_t id;
    enum lzs_fusefs_kind kind;
};

/* How entry id shows (final trees: in a growing one a real NAME may still come). */
enum lzs_fusefs_kind lzs_fusefs_classify(const lzs_fusefs *fs, uint32_t id);
/* The node that name in directory dir shows (whiteouts interpreted); -ENOENT, -ENAMETOOLONG,
 * -EIO (the tree failed). In a growing tree it waits until the answer is certain. */
int lzs_fusefs_lookup(const lzs_fusefs *fs, uint32_t dir, const char *name,
                      struct lzs_fusefs_node *out);
/* The node of an inode number from the kernel; -ENOENT for one never handed out. */
int lzs_fusefs_node_of(const lzs_fusefs *fs, uint64_t ino, struct lzs_fusefs_node *out);
uint64_t lzs_fusefs_ino(const lzs_fusefs *fs, const struct lzs_fusefs_node *n);
void lzs_fusefs_stat(const lzs_fusefs *fs, const struct lzs_fusefs_node *n, struct stat *st);
/* A real directory holding ".wh..wh..opq" (or whited out by its own layer). In a growing tree,
 * from what has arrived (a marker arriving later fails the tree). */
bool lzs_fusefs_is_opaque(const lzs_fusefs *fs, const struct lzs_fusefs_node *n);
/* Fill fs->nlink (final trees without tree.nlink). */
int lzs_fusefs_count_links(lzs_fusefs *fs, lzs_error **err);
uint32_t lzs_fusefs_nlink(const lzs_fusefs *fs, uint32_t id);

/* The low-level operations (ops.c). */
extern const struct fuse_lowlevel_ops lzs_fusefs_ops;

#endif
