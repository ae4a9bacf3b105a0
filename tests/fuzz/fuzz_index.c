/* Fuzz target: layer indexes (they arrive from registries: hostile until validated). Whatever
 * lzs_index_load accepts must be safe to walk through every accessor. */
#include "base/base.h"
#include "index/index.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_entry(const lzs_index *idx, uint32_t id)
{
    struct lzs_index_entry e;
    lzs_index_entry_get(idx, id, &e);
    uint32_t found;
    if (lzs_index_lookup(idx, e.path, &found) != 0 || found != id)
        abort(); /* every entry is found under its own path */
    size_t n = strlen(e.path) + strlen(e.link) + strlen(e.uname) + strlen(e.gname);
    uint32_t parent = lzs_index_parent(idx, id);
    if ((id == 0) != (parent == id) || parent >= lzs_index_entry_count(idx))
        abort();
    n += strlen(lzs_index_name(idx, id));
    for (uint32_t k = 0; k < e.nxattrs; k++) {
        struct lzs_index_xattr x;
        lzs_index_xattr_get(idx, id, k, &x);
        n += strlen(x.name);
        for (uint32_t j = 0; j < x.value_len; j++)
            n += x.value[j];
    }
    for (uint32_t k = 0; k < e.nsparse; k++) {
        struct lzs_index_sparse s;
        lzs_index_sparse_get(idx, id, k, &s);
        if (s.off + s.len > e.size)
            abort();
    }
    const uint32_t *ids;
    uint32_t nc;
    lzs_index_children(idx, id, &ids, &nc);
    for (uint32_t k = 0; k < nc; k++) {
        if (lzs_index_parent(idx, ids[k]) != id)
            abort();
    }
    uint32_t target = lzs_index_resolve_hardlink(idx, id);
    struct lzs_index_entry t;
    lzs_index_entry_get(idx, target, &t);
    if (e.type == LZS_ENTRY_HARDLINK && t.type != LZS_ENTRY_REG)
        abort();
    (void)n;
}

static void walk_checkpoints(const lzs_index *idx, const uint8_t *data, size_t size)
{
    uint32_t n = lzs_index_checkpoint_count(idx);
    for (uint32_t i = 0; i < n; i++) {
        struct lzs_index_checkpoint c;
        lzs_index_checkpoint_get(idx, i, &c);
        size_t sum = 0;
        for (uint32_t j = 0; j < c.window_len; j++)
            sum += c.window[j];
        (void)sum;
    }
    uint64_t off = 0; /* offsets taken from the input itself, plus the edges */
    for (size_t i = 0; i < 16; i++) {
        if (i < size / 8)
            memcpy(&off, data + i * 8, 8);
        else
            off = i & 1 ? UINT64_MAX : 0;
        uint32_t k = lzs_index_checkpoint_find(idx, off);
        struct lzs_index_checkpoint c;
        lzs_index_checkpoint_get(idx, k, &c);
        if (k >= n || c.out_off > off)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lzs_index *idx = NULL;
    lzs_error *err = NULL;
    if (lzs_index_load(&idx, data, size, &err) < 0) {
        if (!err || !err->msg || strchr(err->msg, '\n'))
            abort(); /* every failure names what was wrong, on one line */
        lzs_error_free(&err);
        return 0;
    }
    (void)lzs_index_info(idx);
    uint32_t n = lzs_index_entry_count(idx);
    for (uint32_t id = 0; id < n; id++)
        walk_entry(idx, id);
    walk_checkpoints(idx, data, size);
    uint32_t id;
    (void)lzs_index_lookup(idx, "", &id);
    (void)lzs_index_lookup(idx, "no/such/path", &id);
    lzs_index_unref(idx);
    return 0;
}
