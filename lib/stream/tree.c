/* The growing tree: entries as they arrive from the tar walk (lzs_stream_tree_entry), decoded
 * bytes into the staging file (lzs_stream_tree_decoded), and the end of the stream. */
#include "stream_i.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WH_PREFIX ".wh."
#define MAX_ENTRIES (UINT32_MAX / 2 - 1) /* inode numbers are 2 * id + 2 at most */

static const char *node_path(const void *ctx, uint32_t id)
{
    return ((const lzs_stream_tree *)ctx)->nodes[id].path;
}

static const char *promised_path(const void *ctx, uint32_t i)
{
    return ((const lzs_stream_tree *)ctx)->promised[i];
}

static bool is_wh(const char *name)
{
    return strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0;
}

void lzs_stream_fail_locked(lzs_stream_tree *t, int code, const char *fmt, ...)
{
    if (t->state < 0)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lzs_error_set(&t->failure, code, "%s", msg);
    t->state = -code;
    if (code == ECANCELED)
        LZS_INFO("layer being streamed: %s", msg);
    else
        LZS_ERROR("layer being streamed: %s; its mount answers EIO from now on", msg);
    pthread_cond_broadcast(&t->cond);
}

char *lzs_stream_join(const lzs_stream_tree *t, uint32_t dir, const char *name)
{
    const char *d = t->nodes[dir].path;
    char *p = NULL;
    if (asprintf(&p, "%s%s%s", d, d[0] ? "/" : "", name) < 0)
        return NULL;
    return p;
}

/* ---- nodes ---------------------------------------------------------------------------------- */

/* Append a node owning path (freed on failure); its id in *id. */
static int append(lzs_stream_tree *t, char *path, uint32_t parent, uint32_t *id, lzs_error **err)
{
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        struct stream_node *n =
            t->count < MAX_ENTRIES ? lzs_realloc_array(t->nodes, cap, sizeof(*n)) : NULL;
        if (!n) {
            free(path);
            return lzs_error_set(err, ENOMEM, "out of memory for %" PRIu32 " entries", t->count);
        }
        t->nodes = n;
        t->cap = cap;
    }
    int rc = lzs_strhash_reserve(&t->paths, err);
    if (rc < 0) {
        free(path);
        return rc;
    }
    *id = t->count++;
    const char *slash = strrchr(path, '/');
    t->nodes[*id] = (struct stream_node){
        .path = path,
        .name = slash ? slash + 1 : path,
        .parent = parent,
        .target = *id,
        .e = {.type = LZS_ENTRY_DIR,
              .mode = 0755,
              .path = path,
              .link = "",
              .uname = "",
              .gname = ""},
    };
    lzs_strhash_put(&t->paths, *id);
    return 0;
}

/* What node id adds to link counts: its directory's, or its inode's (.wh.* names are none). */
static void count_links(lzs_stream_tree *t, uint32_t id, int delta)
{
    struct stream_node *n = &t->nodes[id];
    if (id == 0 || is_wh(n->name))
        return;
    if (n->e.type == LZS_ENTRY_DIR)
        t->nodes[n->parent].nlink += (uint32_t)delta;
    else
        t->nodes[n->target].nlink += (uint32_t)delta;
}

/* The directory at path[0..len) exists (made as extraction makes a missing one: 0755, root's,
 * mtime 0); 1 when it is no directory. */
static int ensure_dir(lzs_stream_tree *t, const char *path, size_t len, uint32_t *id,
                      lzs_error **err)
{
    if (lzs_strhash_get(&t->paths, path, len, id))
        return t->nodes[*id].e.type == LZS_ENTRY_DIR ? 0 : 1;
    const char *slash = memrchr(path, '/', len);
    uint32_t parent;
    int rc = ensure_dir(t, path, slash ? (size_t)(slash - path) : 0, &parent, err);
    if (rc != 0)
        return rc;
    char *copy = strndup(path, len);
    if (!copy)
        return lzs_error_set(err, ENOMEM, "out of memory");
    rc = append(t, copy, parent, id, err);
    if (rc == 0) {
        t->nodes[*id].nlink = 2;
        count_links(t, *id, +1);
    }
    return rc;
}

static void *memdup(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* p, freed with the tree (NULL: out of memory, p freed). */
static void *keep(lzs_stream_tree *t, void *p)
{
    if (!p)
        return NULL;
    if (t->nowned == t->owned_cap) {
        size_t cap = t->owned_cap ? t->owned_cap * 2 : 16;
        void **g = lzs_realloc_array(t->owned, cap, sizeof(*g));
        if (!g) {
            free(p);
            return NULL;
        }
        t->owned = g;
        t->owned_cap = cap;
    }
    t->owned[t->nowned++] = p;
    return p;
}

/* A copy of e's strings and arrays, kept until the tree is freed, into d (scalars too). */
static int copy_entry(lzs_stream_tree *t, struct lzs_index_entry *d,
                      const struct lzs_index_entry *e, const char *path, lzs_error **err)
{
    *d = *e;
    d->path = path;
    d->link = keep(t, strdup(e->link));
    d->uname = keep(t, strdup(e->uname));
    d->gname = keep(t, strdup(e->gname));
    bool ok = d->link && d->uname && d->gname;
    struct lzs_index_xattr *xs =
        e->nxattrs ? keep(t, lzs_calloc_array(e->nxattrs, sizeof(*xs))) : NULL;
    ok &= !e->nxattrs || xs;
    for (uint32_t k = 0; ok && k < e->nxattrs; k++) {
        xs[k].name = keep(t, strdup(e->xattrs[k].name));
        xs[k].value = keep(t, memdup(e->xattrs[k].value, e->xattrs[k].value_len));
        xs[k].value_len = e->xattrs[k].value_len;
        ok = xs[k].name && xs[k].value;
    }
    d->xattrs = xs;
    d->sparse = e->nsparse ? keep(t, memdup(e->sparse, e->nsparse * sizeof(*e->sparse))) : NULL;
    ok &= !e->nsparse || d->sparse;
    return ok ? 0 : lzs_error_set(err, ENOMEM, "out of memory copying entry %s", path);
}

/* A hardlink's regular file; 1 when its target is missing or is no file. */
static int link_target(lzs_stream_tree *t, const struct lzs_index_entry *e, uint32_t *target)
{
    uint32_t id;
    if (!lzs_strhash_get(&t->paths, e->link, strlen(e->link), &id))
        return 1;
    id = t->nodes[id].target;
    return t->nodes[id].e.type == LZS_ENTRY_REG ? (*target = id, 0) : 1;
}

/* Put e into node id (fresh: just appended; else replacing what was there). */
static int set_node(lzs_stream_tree *t, uint32_t id, const struct lzs_index_entry *e, bool fresh,
                    lzs_error **err)
{
    struct stream_node *n = &t->nodes[id];
    uint32_t target = id;
    if (e->type == LZS_ENTRY_HARDLINK && link_target(t, e, &target) != 0) {
        lzs_stream_fail_locked(t, EINVAL, "hardlink %s: no regular file %s before it", n->path,
                               e->link);
        return 0;
    }
    struct lzs_index_entry d;
    int rc = copy_entry(t, &d, e, n->path, err);
    if (rc < 0)
        return rc;
    bool same_dir = !fresh && n->e.type == LZS_ENTRY_DIR && e->type == LZS_ENTRY_DIR;
    if (!fresh)
        count_links(t, id, -1);
    n->e = d;
    n->target = target;
    if (!same_dir)
        n->nlink = e->type == LZS_ENTRY_DIR ? 2 : 0; /* a file counts its names */
    count_links(t, id, +1);
    return 0;
}

/* Why a replacement of node id by e cannot be served, or NULL. */
static const char *replacement_problem(const lzs_stream_tree *t, uint32_t id,
                                       const struct lzs_index_entry *e)
{
    const struct stream_node *n = &t->nodes[id];
    bool dir = n->e.type == LZS_ENTRY_DIR;
    if (dir && e->type == LZS_ENTRY_DIR)
        return NULL; /* new attributes: not cached while the tree grows */
    if (n->shown)
        return "replaces an entry already shown";
    if (dir && n->nlink > 2)
        return "replaces a directory that has subdirectories";
    if (!dir && n->target == id && n->nlink > 1)
        return "replaces a file that has hardlinks";
    for (uint32_t c = id + 1; dir && c < t->count; c++)
        if (t->nodes[c].parent == id)
            return "replaces a directory that has entries";
    return NULL;
}

static void wake_waiters(lzs_stream_tree *t, const char *path)
{
    for (struct stream_waiter *w = t->waiters; w; w = w->next)
        if (strcmp(w->path, path) == 0) {
            pthread_cond_broadcast(&t->cond);
            return;
        }
}

static int add_locked(lzs_stream_tree *t, const struct lzs_index_entry *e, lzs_error **err)
{
    uint32_t id, promise;
    if (lzs_strhash_get(&t->paths, e->path, strlen(e->path), &id)) {
        const char *why = replacement_problem(t, id, e);
        if (why) {
            lzs_stream_fail_locked(t, EINVAL, "entry %s %s", e->path, why);
            return 0;
        }
        return set_node(t, id, e, false, err);
    }
    if (lzs_strhash_get(&t->promises, e->path, strlen(e->path), &promise)) {
        lzs_stream_fail_locked(t, EINVAL, "entry %s arrived after its absence was shown", e->path);
        return 0;
    }
    const char *slash = strrchr(e->path, '/');
    uint32_t parent;
    int rc = ensure_dir(t, e->path, slash ? (size_t)(slash - e->path) : 0, &parent, err);
    if (rc == 1)
        lzs_stream_fail_locked(t, EINVAL, "entry %s: its parent is no directory", e->path);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    char *path = strdup(e->path);
    if (!path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    rc = append(t, path, parent, &id, err);
    if (rc == 0)
        rc = set_node(t, id, e, true, err);
    if (rc == 0)
        wake_waiters(t, e->path);
    return rc;
}

int lzs_stream_tree_entry(void *tree, const struct lzs_index_entry *e, lzs_error **err)
{
    lzs_stream_tree *t = tree;
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    bool first = t->count == 1;
    if (t->state == 0)
        rc = add_locked(t, e, err);
    if (first)
        pthread_cond_broadcast(&t->cond); /* lzs_stream_tree_wait_started */
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int lzs_stream_tree_decoded(void *tree, const void *buf, size_t n, lzs_error **err)
{
    lzs_stream_tree *t = tree;
    uint64_t off = atomic_load(&t->decoded);
    const char *p = buf;
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(t->fd, p + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return lzs_error_set_sys(err, errno, "write the staging file of a streamed layer");
        done += (size_t)w;
    }
    atomic_store(&t->decoded, off + n);
    return 0;
}

/* ---- the end -------------------------------------------------------------------------------- */

struct named {
    const char *name;
    uint32_t id;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* Every directory's children, in name order. */
static int list_children(lzs_stream_tree *t, lzs_error **err)
{
    for (uint32_t id = 1; id < t->count; id++)
        t->nodes[t->nodes[id].parent].nchildren++;
    lzs_autofree struct named *tmp = lzs_calloc_array(t->count, sizeof(*tmp));
    if (!tmp)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (uint32_t dir = 0; dir < t->count; dir++) {
        struct stream_node *d = &t->nodes[dir];
        if (d->nchildren == 0)
            continue;
        d->children = keep(t, lzs_calloc_array(d->nchildren, sizeof(uint32_t)));
        if (!d->children)
            return lzs_error_set(err, ENOMEM, "out of memory");
        d->nchildren = 0;
    }
    for (uint32_t id = 1; id < t->count; id++) {
        struct stream_node *d = &t->nodes[t->nodes[id].parent];
        d->children[d->nchildren++] = id;
    }
    for (uint32_t dir = 0; dir < t->count; dir++) {
        struct stream_node *d = &t->nodes[dir];
        for (uint32_t k = 0; k < d->nchildren; k++)
            tmp[k] = (struct named){t->nodes[d->children[k]].name, d->children[k]};
        qsort(tmp, d->nchildren, sizeof(*tmp), by_name);
        for (uint32_t k = 0; k < d->nchildren; k++)
            d->children[k] = tmp[k].id;
    }
    return 0;
}

void lzs_stream_tree_end(lzs_stream_tree *t, const lzs_error *err)
{
    pthread_mutex_lock(&t->lock);
    lzs_autoerr lzs_error *lerr = NULL;
    bool streaming = t->state == 0; /* else ended already: final, or failed */
    if (streaming && err)
        lzs_stream_fail_locked(t, err->code ? err->code : EIO, "%s", lzs_error_msg(err));
    else if (streaming && list_children(t, &lerr) < 0)
        lzs_stream_fail_locked(t, lerr->code, "%s", lzs_error_msg(lerr));
    else if (streaming)
        t->state = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

void lzs_stream_tree_wait_started(lzs_stream_tree *t, unsigned timeout_s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    while (t->count == 1 && t->state == 0 && rc == 0)
        rc = pthread_cond_timedwait(&t->cond, &t->lock, &deadline);
    pthread_mutex_unlock(&t->lock);
}

void lzs_stream_tree_stats(lzs_stream_tree *t, struct lzs_stream_stats *out)
{
    pthread_mutex_lock(&t->lock);
    *out = (struct lzs_stream_stats){.state = t->state,
                                     .entries = t->count,
                                     .decoded = atomic_load(&t->decoded),
                                     .failure = t->failure ? lzs_error_msg(t->failure) : NULL};
    pthread_mutex_unlock(&t->lock);
}

int lzs_stream_tree_fd(const lzs_stream_tree *t)
{
    return t->fd;
}

/* ---- life ----------------------------------------------------------------------------------- */

int lzs_stream_tree_new(lzs_stream_tree **out, const char *staging_dir, lzs_error **err)
{
    lzs_stream_tree *t = calloc(1, sizeof(*t));
    if (!t)
        return lzs_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    lzs_strhash_init(&t->paths, node_path, t);
    lzs_strhash_init(&t->promises, promised_path, t);
    t->fd = open(staging_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    int rc = t->fd >= 0 ? 0 : lzs_error_set_sys(err, errno, "staging file in %s", staging_dir);
    char *root = rc == 0 ? strdup("") : NULL;
    uint32_t id;
    if (rc == 0)
        rc = root ? append(t, root, 0, &id, err) : lzs_error_set(err, ENOMEM, "out of memory");
    if (rc == 0)
        t->nodes[0].nlink = 2;
    if (rc < 0) {
        lzs_stream_tree_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void lzs_stream_tree_free(lzs_stream_tree *t)
{
    if (!t)
        return;
    for (uint32_t id = 0; id < t->count; id++)
        free(t->nodes[id].path);
    free(t->nodes);
    for (uint32_t i = 0; i < t->npromised; i++)
        free(t->promised[i]);
    free(t->promised);
    for (size_t i = 0; i < t->nowned; i++)
        free(t->owned[i]);
    free(t->owned);
    lzs_strhash_dispose(&t->paths);
    lzs_strhash_dispose(&t->promises);
    lzs_error_free(&t->failure);
    if (t->fd >= 0)
        close(t->fd);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
