/* index: the writer's lzs_index_writer_add_entry: check a tar entry, copy it, and keep it under
 * its normalised path, replacing what an earlier entry left there. */
#include "index/writer_i.h"

#define BAD(err, ...) lzs_error_set((err), EINVAL, "index: " __VA_ARGS__)

static int check_sparse(const struct lzs_index_entry *e, const char *q, lzs_error **err)
{
    if (e->nsparse && !e->sparse)
        return BAD(err, "entry %s: sparse map is NULL", q);
    uint64_t end = 0;
    for (uint32_t k = 0; k < e->nsparse; k++) {
        const struct lzs_index_sparse *s = &e->sparse[k];
        if (s->off < end)
            return BAD(err,
                       "entry %s: sparse segment %" PRIu32 " overlaps or precedes the "
                       "previous one",
                       q, k);
        if (!lzs_idx_range_ok(s->off, s->len, e->size))
            return BAD(err,
                       "entry %s: sparse segment %" PRIu32 " (%" PRIu64 "+%" PRIu64
                       ") past the file size %" PRIu64,
                       q, k, s->off, s->len, e->size);
        end = s->off + s->len;
    }
    return 0;
}

static int check_xattrs(const struct lzs_index_entry *e, const char *q, lzs_error **err)
{
    if (e->nxattrs && !e->xattrs)
        return BAD(err, "entry %s: xattrs are NULL", q);
    for (uint32_t k = 0; k < e->nxattrs; k++) {
        const struct lzs_index_xattr *x = &e->xattrs[k];
        size_t len = x->name ? strlen(x->name) : 0;
        if (len == 0 || len > LZS_IDX_XATTR_NAME_MAX)
            return BAD(err, "entry %s: xattr %" PRIu32 ": name empty or longer than %u bytes", q, k,
                       LZS_IDX_XATTR_NAME_MAX);
        if (x->value_len && !x->value)
            return BAD(err, "entry %s: xattr %" PRIu32 ": value is NULL", q, k);
    }
    return 0;
}

static int check_input(const struct lzs_index_entry *e, const char *path, lzs_error **err)
{
    char q[LZS_IDX_QUOTE_MAX];
    lzs_idx_quote(q, e->path);
    if ((unsigned)e->type > LZS_ENTRY_FIFO)
        return BAD(err, "entry %s: unknown type %d", q, (int)e->type);
    if (path[0] == '\0' && e->type != LZS_ENTRY_DIR)
        return BAD(err, "entry %s: the root must be a directory", q);
    if (e->mtime_nsec > LZS_IDX_NSEC_MAX)
        return BAD(err, "entry %s: mtime nanoseconds %" PRIu32 " out of range", q, e->mtime_nsec);
    bool is_link = e->type == LZS_ENTRY_SYMLINK || e->type == LZS_ENTRY_HARDLINK;
    if (is_link && (!e->link || !e->link[0]))
        return BAD(err, "entry %s: link without a target", q);
    int rc = e->type == LZS_ENTRY_REG ? check_sparse(e, q, err) : 0;
    return rc < 0 ? rc : check_xattrs(e, q, err);
}

/* ---- copying ------------------------------------------------------------------------------ */

struct xattr_ref {
    const struct lzs_index_xattr *x;
    uint32_t k; /* input position: the last of equal names wins */
};

static int by_name_then_position(const void *a, const void *b)
{
    const struct xattr_ref *x = a, *y = b;
    int c = strcmp(x->x->name, y->x->name);
    return c ? c : (x->k > y->k) - (x->k < y->k);
}

static int copy_xattr(struct lzs_idx_wxattr *d, const struct lzs_index_xattr *x)
{
    d->name = strdup(x->name);
    d->value = malloc(x->value_len ? x->value_len : 1);
    if (!d->name || !d->value)
        return -ENOMEM;
    if (x->value_len)
        memcpy(d->value, x->value, x->value_len);
    d->value_len = x->value_len;
    return 0;
}

/* Sorted by name, unique (the last one given wins). */
static int copy_xattrs(struct lzs_idx_wentry *d, const struct lzs_index_entry *e)
{
    uint32_t n = e->nxattrs, kept = 0;
    lzs_autofree struct xattr_ref *refs = lzs_calloc_array(n, sizeof(*refs));
    d->xattrs = lzs_calloc_array(n, sizeof(*d->xattrs));
    if (!refs || !d->xattrs)
        return -ENOMEM;
    for (uint32_t k = 0; k < n; k++)
        refs[k] = (struct xattr_ref){.x = &e->xattrs[k], .k = k};
    qsort(refs, n, sizeof(*refs), by_name_then_position);
    for (uint32_t k = 0; k < n; k++) {
        if (k + 1 < n && strcmp(refs[k].x->name, refs[k + 1].x->name) == 0)
            continue;
        d->e.nxattrs = kept + 1; /* so that clearing frees a partial copy */
        if (copy_xattr(&d->xattrs[kept++], refs[k].x) < 0)
            return -ENOMEM;
    }
    return 0;
}

static void copy_scalars(struct lzs_idx_wentry *d, const struct lzs_index_entry *e)
{
    d->e = *e;
    d->e.path = d->e.link = d->e.uname = d->e.gname = NULL;
    d->e.xattrs = NULL;
    d->e.sparse = NULL;
    d->e.nxattrs = 0;
    d->e.mode &= 07777;
    if (e->type != LZS_ENTRY_REG) {
        d->e.size = d->e.offset = 0;
        memset(d->e.sha256, 0, sizeof(d->e.sha256));
        d->e.nsparse = 0;
    }
    if (e->type != LZS_ENTRY_CHAR && e->type != LZS_ENTRY_BLOCK)
        d->e.devmajor = d->e.devminor = 0;
}

static char *dup_nonempty(const char *s, bool *failed)
{
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    *failed |= !d;
    return d;
}

static int copy_entry(struct lzs_idx_wentry *d, const struct lzs_index_entry *e, lzs_error **err)
{
    copy_scalars(d, e);
    bool failed = false;
    if (e->type == LZS_ENTRY_HARDLINK) {
        int rc = lzs_idx_normalise_path(e->link, &d->link, err);
        if (rc < 0)
            return rc;
    } else if (e->type == LZS_ENTRY_SYMLINK) {
        d->link = dup_nonempty(e->link, &failed);
    }
    d->uname = dup_nonempty(e->uname, &failed);
    d->gname = dup_nonempty(e->gname, &failed);
    if (!failed && d->e.nsparse) {
        d->sparse = lzs_calloc_array(d->e.nsparse, sizeof(*d->sparse));
        failed = !d->sparse;
        if (d->sparse)
            memcpy(d->sparse, e->sparse, d->e.nsparse * sizeof(*d->sparse));
    }
    if (failed || (e->nxattrs && copy_xattrs(d, e) < 0))
        return lzs_error_set(err, ENOMEM, "index: out of memory copying an entry");
    return 0;
}

/* ---- adding ------------------------------------------------------------------------------- */

/* Put the copy in tmp under path (whose ownership is taken), replacing an earlier entry. */
static int keep_entry(lzs_index_writer *w, char *path, struct lzs_idx_wentry *tmp, uint32_t *kept,
                      lzs_error **err)
{
    uint32_t i;
    bool found = lzs_strhash_get(&w->paths, path, strlen(path), &i);
    if (found) {
        free(path);
    } else {
        int rc = lzs_idx_writer_append(w, path, &i, err);
        if (rc < 0)
            return rc;
    }
    struct lzs_idx_wentry *d = &w->entries[i];
    bool kill = found && d->e.type == LZS_ENTRY_DIR && tmp->e.type != LZS_ENTRY_DIR;
    uint64_t kill_seq = d->kill_seq;
    lzs_idx_wentry_clear(d);
    tmp->path = d->path;
    *d = *tmp;
    d->seq = ++w->seq;
    d->kill_seq = kill ? d->seq : kill_seq;
    w->any_kill |= kill;
    *kept = i;
    return 0;
}

/* Show the observer entry i as kept. */
static int observe(lzs_index_writer *w, uint32_t i, lzs_error **err)
{
    const struct lzs_idx_wentry *d = &w->entries[i];
    struct lzs_index_entry v = d->e;
    lzs_autofree struct lzs_index_xattr *xs = NULL;
    if (v.nxattrs) {
        xs = lzs_calloc_array(v.nxattrs, sizeof(*xs));
        if (!xs)
            return lzs_error_set(err, ENOMEM, "index: out of memory");
        for (uint32_t k = 0; k < v.nxattrs; k++)
            xs[k] = (struct lzs_index_xattr){d->xattrs[k].name, d->xattrs[k].value,
                                             d->xattrs[k].value_len};
    }
    v.path = d->path;
    v.link = d->link ? d->link : "";
    v.uname = d->uname ? d->uname : "";
    v.gname = d->gname ? d->gname : "";
    v.xattrs = xs;
    v.sparse = d->sparse;
    return w->observer(w->observer_data, &v, err);
}

void lzs_index_writer_observe(lzs_index_writer *w, lzs_index_observer_fn fn, void *data)
{
    w->observer = fn;
    w->observer_data = data;
}

int lzs_index_writer_add_entry(lzs_index_writer *w, const struct lzs_index_entry *e,
                               lzs_error **err)
{
    if (w->finished)
        return BAD(err, "writer already finished");
    char *path = NULL;
    int rc = lzs_idx_normalise_path(e->path, &path, err);
    if (rc < 0)
        return rc;
    struct lzs_idx_wentry tmp = {0};
    uint32_t i;
    if ((rc = check_input(e, path, err)) < 0 || (rc = copy_entry(&tmp, e, err)) < 0 ||
        (rc = keep_entry(w, lzs_steal_ptr(&path), &tmp, &i, err)) < 0) {
        free(path);
        lzs_idx_wentry_clear(&tmp);
        return rc;
    }
    return w->observer ? observe(w, i, err) : 0;
}
