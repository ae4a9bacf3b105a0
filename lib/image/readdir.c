/* image: listing a directory of the merged view. */
#include "image_i.h"

#include <stdio.h>
#include <string.h>

/* One name seen in one layer: an entry, or a whiteout of that name. */
struct item {
    const char *name;
    size_t layer;
    uint32_t id;
    bool whiteout;
};

struct items {
    struct item *v;
    size_t n, cap;
};

static int push(struct items *it, const struct item *x, lzs_error **err)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? 2 * it->cap : 64;
        struct item *v = lzs_realloc_array(it->v, cap, sizeof(*v));
        if (!v)
            return lzs_error_set(err, ENOMEM, "out of memory");
        it->v = v;
        it->cap = cap;
    }
    it->v[it->n++] = *x;
    return 0;
}

/* By name; for one name the uppermost layer first, an entry before a whiteout. */
static int cmp_item(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    if (x->layer != y->layer)
        return x->layer > y->layer ? -1 : 1;
    return (int)x->whiteout - (int)y->whiteout;
}

/* Collect the children of directory id of layer i; *opaque when it hides the lower layers. */
static int collect_layer(lzs_image_view *v, size_t i, uint32_t dir, struct items *it, bool *opaque,
                         lzs_error **err)
{
    lzs_index *idx = lzs_image_view_index(v, i);
    const uint32_t *ids;
    uint32_t n;
    lzs_index_children(idx, dir, &ids, &n);
    for (uint32_t k = 0; k < n; k++) {
        const char *name = lzs_index_name(idx, ids[k]);
        struct item x = {.name = name, .layer = i, .id = ids[k]};
        if (strcmp(name, LZS_IMAGE_WH_OPAQUE) == 0) {
            *opaque = true;
            continue;
        }
        if (strncmp(name, LZS_IMAGE_WH_PREFIX, strlen(LZS_IMAGE_WH_PREFIX)) == 0) {
            x.name = name + strlen(LZS_IMAGE_WH_PREFIX);
            x.whiteout = true;
        }
        int rc = push(it, &x, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Every layer's view of directory p (already resolved), from the one serving it down. */
static int collect(lzs_image_view *v, const struct lzs_image_node *dir, const char *p,
                   struct items *it, lzs_error **err)
{
    for (size_t i = dir->layer + 1; i-- > 0;) {
        lzs_index *idx = lzs_image_view_index(v, i);
        uint32_t id = 0;
        bool opaque = false;
        if (p[0] == '\0' || lzs_index_lookup(idx, p, &id) == 0) {
            struct lzs_index_entry e;
            lzs_index_entry_get(idx, id, &e);
            if (e.type != LZS_ENTRY_DIR)
                break;
            int rc = collect_layer(v, i, id, it, &opaque, err);
            if (rc < 0)
                return rc;
        }
        if (opaque || (p[0] && lzs_image_view_layer_hides(v, i, p)))
            break;
    }
    return 0;
}

int lzs_image_view_readdir(lzs_image_view *v, const char *path, lzs_image_readdir_fn fn, void *data,
                           lzs_error **err)
{
    struct lzs_image_node dir;
    int rc = lzs_image_view_lookup(v, path, true, &dir, err);
    if (rc < 0)
        return rc;
    if (dir.entry.type != LZS_ENTRY_DIR)
        return lzs_error_set(err, ENOTDIR, "%s: not a directory", path);
    char p[4096];
    snprintf(p, sizeof(p), "%s", dir.path);
    struct items it = {0};
    rc = collect(v, &dir, p, &it, err);
    if (rc == 0 && it.n)
        qsort(it.v, it.n, sizeof(*it.v), cmp_item);
    for (size_t k = 0; rc == 0 && k < it.n; k++) {
        const struct item *x = &it.v[k];
        bool first = k == 0 || strcmp(it.v[k - 1].name, x->name) != 0;
        if (!first || x->whiteout)
            continue;
        struct lzs_image_node node;
        node.layer = x->layer;
        node.id = lzs_index_resolve_hardlink(lzs_image_view_index(v, x->layer), x->id);
        lzs_index_entry_get(lzs_image_view_index(v, x->layer), node.id, &node.entry);
        node.path = lzs_index_name(lzs_image_view_index(v, x->layer), x->id);
        rc = fn(data, x->name, &node);
    }
    free(it.v);
    return rc;
}
