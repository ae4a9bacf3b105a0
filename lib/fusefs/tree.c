/* The index as a fusefs tree: final from the start, lookups in place (no locks). */
#include "fusefs_i.h"

#include <string.h>

static int index_state(void *data)
{
    (void)data;
    return 1;
}

static uint32_t index_count(void *data)
{
    return lzs_index_entry_count(data);
}

static void index_entry(void *data, uint32_t id, struct lzs_index_entry *out)
{
    lzs_index_entry_get(data, id, out);
}

static const char *index_name(void *data, uint32_t id)
{
    return lzs_index_name(data, id);
}

static uint32_t index_parent(void *data, uint32_t id)
{
    return lzs_index_parent(data, id);
}

static void index_xattr(void *data, uint32_t id, uint32_t k, struct lzs_index_xattr *out)
{
    lzs_index_xattr_get(data, id, k, out);
}

static void index_sparse(void *data, uint32_t id, uint32_t k, struct lzs_index_sparse *out)
{
    lzs_index_sparse_get(data, id, k, out);
}

static uint32_t index_resolve(void *data, uint32_t id)
{
    return lzs_index_resolve_hardlink(data, id);
}

/* Children are in strcmp order of their names (the index validates it): a binary search. */
static int index_child(void *data, uint32_t dir, const char *name, bool now, uint32_t *id)
{
    (void)now;
    const uint32_t *ids;
    uint32_t n;
    lzs_index_children(data, dir, &ids, &n);
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(lzs_index_name(data, ids[mid]), name);
        if (c == 0) {
            *id = ids[mid];
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -ENOENT;
}

static int index_children(void *data, uint32_t dir, const uint32_t **ids, uint32_t *n)
{
    lzs_index_children(data, dir, ids, n);
    return 0;
}

static uint64_t index_size(void *data)
{
    return lzs_index_info(data)->uncompressed_size;
}

void lzs_fusefs_tree_index(lzs_index *idx, struct lzs_fusefs_tree *out)
{
    *out = (struct lzs_fusefs_tree){
        .state = index_state,
        .count = index_count,
        .entry = index_entry,
        .name = index_name,
        .parent = index_parent,
        .xattr = index_xattr,
        .sparse = index_sparse,
        .resolve_hardlink = index_resolve,
        .child = index_child,
        .children = index_children,
        .size = index_size,
        .data = idx,
    };
}
