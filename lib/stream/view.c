/* The growing tree as fusefs sees it (struct lzs_fusefs_tree), and its data source: the staging
 * file, where every entry's bytes are by the time the entry has arrived. */
#include "stream_i.h"

#include <string.h>

static lzs_stream_tree *tree_of(void *data)
{
    return data;
}

static int view_state(void *data)
{
    lzs_stream_tree *t = tree_of(data);
    pthread_mutex_lock(&t->lock);
    int state = t->state;
    pthread_mutex_unlock(&t->lock);
    return state;
}

static uint32_t view_count(void *data)
{
    lzs_stream_tree *t = tree_of(data);
    pthread_mutex_lock(&t->lock);
    uint32_t n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* A copy of node id, taken under the lock (the strings and arrays it points to stay put). */
static struct stream_node node(void *data, uint32_t id)
{
    lzs_stream_tree *t = tree_of(data);
    pthread_mutex_lock(&t->lock);
    struct stream_node n = t->nodes[id];
    pthread_mutex_unlock(&t->lock);
    return n;
}

static void view_entry(void *data, uint32_t id, struct lzs_index_entry *out)
{
    *out = node(data, id).e;
    out->xattrs = NULL;
    out->sparse = NULL;
}

static const char *view_name(void *data, uint32_t id)
{
    return node(data, id).name;
}

static uint32_t view_parent(void *data, uint32_t id)
{
    return node(data, id).parent;
}

static void view_xattr(void *data, uint32_t id, uint32_t k, struct lzs_index_xattr *out)
{
    *out = node(data, id).e.xattrs[k];
}

static void view_sparse(void *data, uint32_t id, uint32_t k, struct lzs_index_sparse *out)
{
    *out = node(data, id).e.sparse[k];
}

static uint32_t view_resolve(void *data, uint32_t id)
{
    return node(data, id).target;
}

static uint32_t view_nlink(void *data, uint32_t id)
{
    uint32_t n = node(data, id).nlink;
    return n ? n : 1; /* a file only reachable through hardlinks of hidden names */
}

static uint64_t view_size(void *data)
{
    return atomic_load(&tree_of(data)->decoded);
}

/* The id of path now (lock held), marked shown. */
static bool find_locked(lzs_stream_tree *t, const char *path, uint32_t *id)
{
    if (!lzs_strhash_get(&t->paths, path, strlen(path), id))
        return false;
    t->nodes[*id].shown = true;
    return true;
}

/* Wait (lock held) until path arrives or the stream ends. */
static bool wait_for_locked(lzs_stream_tree *t, const char *path, uint32_t *id)
{
    struct stream_waiter w = {.path = path, .next = t->waiters};
    t->waiters = &w;
    bool found;
    while (!(found = find_locked(t, path, id)) && t->state == 0)
        pthread_cond_wait(&t->cond, &t->lock);
    struct stream_waiter **p = &t->waiters;
    while (*p != &w)
        p = &(*p)->next;
    *p = w.next;
    return found;
}

static int view_child(void *data, uint32_t dir, const char *name, bool now, uint32_t *id)
{
    lzs_stream_tree *t = tree_of(data);
    pthread_mutex_lock(&t->lock);
    lzs_autofree char *path = lzs_stream_join(t, dir, name);
    int rc = -ENOMEM;
    if (path && t->state >= 0) {
        bool found = now ? find_locked(t, path, id) : wait_for_locked(t, path, id);
        rc = found ? 0 : -ENOENT;
    }
    if (t->state < 0)
        rc = -EIO;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* Record (lock held) that path's absence was shown, taking *path; -EEXIST when it is there. */
static int promise_locked(lzs_stream_tree *t, char **path)
{
    uint32_t i;
    size_t len = strlen(*path);
    if (lzs_strhash_get(&t->paths, *path, len, &i))
        return -EEXIST;
    if (t->state != 0 || lzs_strhash_get(&t->promises, *path, len, &i))
        return 0;
    if (t->npromised == t->promised_cap) {
        uint32_t cap = t->promised_cap ? t->promised_cap * 2 : 64;
        char **p = lzs_realloc_array(t->promised, cap, sizeof(*p));
        if (!p)
            return -ENOMEM;
        t->promised = p;
        t->promised_cap = cap;
    }
    if (lzs_strhash_reserve(&t->promises, NULL) < 0)
        return -ENOMEM;
    t->promised[t->npromised] = lzs_steal_ptr(path);
    lzs_strhash_put(&t->promises, t->npromised++);
    return 0;
}

static int view_promise_absent(void *data, uint32_t dir, const char *name)
{
    lzs_stream_tree *t = tree_of(data);
    pthread_mutex_lock(&t->lock);
    lzs_autofree char *path = lzs_stream_join(t, dir, name);
    int rc = path ? promise_locked(t, &path) : -ENOMEM;
    if (rc == -ENOMEM) /* a promise that cannot be kept must not be made */
        lzs_stream_fail_locked(t, ENOMEM, "out of memory recording what was shown");
    pthread_mutex_unlock(&t->lock);
    return rc == -EEXIST ? rc : 0;
}

static int view_children(void *data, uint32_t dir, const uint32_t **ids, uint32_t *n)
{
    lzs_stream_tree *t = tree_of(data);
    pthread_mutex_lock(&t->lock);
    while (t->state == 0)
        pthread_cond_wait(&t->cond, &t->lock);
    int rc = t->state < 0 ? -EIO : 0;
    *ids = t->nodes[dir].children;
    *n = t->nodes[dir].nchildren;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* ---- data ----------------------------------------------------------------------------------- */

/* Where [off, off + *n) of a file (entry e, its data at e->offset in the stream) is in the staging
 * file: its offset, *n clipped to one stretch; -1 for a hole of a sparse file (zeros). */
static int64_t data_at(const struct lzs_index_entry *e, uint64_t off, size_t *n)
{
    if (e->nsparse == 0)
        return (int64_t)(e->offset + off);
    uint64_t stored = 0;
    for (uint32_t k = 0; k < e->nsparse; k++) {
        const struct lzs_index_sparse *s = &e->sparse[k];
        if (off < s->off) {
            *n = s->off - off < *n ? (size_t)(s->off - off) : *n;
            return -1;
        }
        if (off < s->off + s->len) {
            *n = s->off + s->len - off < *n ? (size_t)(s->off + s->len - off) : *n;
            return (int64_t)(e->offset + stored + off - s->off);
        }
        stored += s->len;
    }
    return -1; /* past the last segment: zeros to the end */
}

/* The entry of the regular file id resolves to, and the tree's state (< 0: failed), together. */
static int file_of(lzs_stream_tree *t, uint32_t id, struct lzs_index_entry *e)
{
    pthread_mutex_lock(&t->lock);
    *e = t->nodes[t->nodes[id].target].e;
    int state = t->state;
    pthread_mutex_unlock(&t->lock);
    return state;
}

static ssize_t source_read(void *data, void *fh, uint32_t id, uint64_t off, void *buf, size_t n,
                           lzs_error **err)
{
    (void)fh;
    lzs_stream_tree *t = tree_of(data);
    struct lzs_index_entry e;
    if (file_of(t, id, &e) < 0)
        return lzs_error_set(err, EIO, "the layer's stream failed");
    if (off >= e.size)
        return 0;
    n = e.size - off < n ? (size_t)(e.size - off) : n;
    int64_t at = data_at(&e, off, &n);
    if (at < 0) {
        memset(buf, 0, n);
        return (ssize_t)n;
    }
    int rc = lzs_pread_full(t->fd, buf, n, (uint64_t)at, err);
    return rc < 0 ? rc : (ssize_t)n;
}

static int source_locate(void *data, void *fh, uint32_t id, uint64_t off, size_t n, int *fd,
                         uint64_t *fd_off)
{
    (void)fh;
    lzs_stream_tree *t = tree_of(data);
    struct lzs_index_entry e;
    if (file_of(t, id, &e) < 0 || e.nsparse || off + n > e.size)
        return 0;
    *fd = t->fd;
    *fd_off = e.offset + off;
    return 1;
}

void lzs_stream_tree_fusefs(lzs_stream_tree *t, struct lzs_fusefs_tree *tree,
                            struct lzs_fusefs_source *src)
{
    *tree = (struct lzs_fusefs_tree){
        .state = view_state,
        .count = view_count,
        .entry = view_entry,
        .name = view_name,
        .parent = view_parent,
        .xattr = view_xattr,
        .sparse = view_sparse,
        .resolve_hardlink = view_resolve,
        .child = view_child,
        .promise_absent = view_promise_absent,
        .children = view_children,
        .nlink = view_nlink,
        .size = view_size,
        .data = t,
    };
    *src = (struct lzs_fusefs_source){.read = source_read, .locate = source_locate, .data = t};
}
