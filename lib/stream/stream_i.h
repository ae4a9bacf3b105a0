/* stream internals: the growing tree (tree.c: arrival, end) and its fusefs view (view.c). */
#ifndef LZS_STREAM_I_H
#define LZS_STREAM_I_H

#include "stream/stream.h"

#include <pthread.h>

/* One entry, in arrival order (its id). Strings and arrays are never freed nor moved before the
 * tree is: views of them stay valid for a mount's life. */
struct stream_node {
    char *path;       /* normalised */
    const char *name; /* last component, in path */
    uint32_t parent;
    uint32_t target;          /* a hardlink: the regular file it resolves to; else its own id */
    uint32_t nlink;           /* names of this inode, or 2 + subdirectories */
    struct lzs_index_entry e; /* link, uname, gname, xattrs and sparse owned (see above) */
    uint32_t *children;       /* at the end: ids in name order */
    uint32_t nchildren;
    bool shown; /* handed to the kernel: replacing it now fails the tree */
};

/* A lookup waiting for a path (on the tree's list while it waits). */
struct stream_waiter {
    const char *path;
    struct stream_waiter *next;
};

struct lzs_stream_tree {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct stream_node *nodes; /* protected by lock (grows: copy out under the lock) */
    uint32_t count, cap;       /* protected by lock */
    struct lzs_strhash paths;  /* protected by lock: path -> id */
    char **promised;           /* protected by lock: paths whose absence was shown */
    uint32_t npromised, promised_cap;
    struct lzs_strhash promises; /* protected by lock: path -> index in promised */
    void **owned; /* protected by lock: the entries' strings and arrays, freed last */
    size_t nowned, owned_cap;
    struct stream_waiter *waiters; /* protected by lock */
    int state;                     /* protected by lock: 1 final, 0 streaming, < 0 failed */
    lzs_error *failure;            /* protected by lock; set once */
    int fd;                        /* the staging file: the decoded tar stream */
    _Atomic uint64_t decoded;      /* bytes in it */
};

/* Fail the tree (lock held): every request is answered EIO, waiters wake. */
void lzs_stream_fail_locked(lzs_stream_tree *t, int code, const char *fmt, ...) LZS_PRINTF(3, 4);
/* "DIR/NAME" (or "NAME" under the root) of dir's path; NULL when out of memory. */
char *lzs_stream_join(const lzs_stream_tree *t, uint32_t dir, const char *name);

#endif
