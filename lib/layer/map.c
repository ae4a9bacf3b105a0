/* Offset maps: file offsets to tar stream offsets (sparse files: GNU/PAX, the stored segments
 * one after another in the tar stream, holes read as zeros), stream offsets to compressed ones. */
#include "layer_i.h"

uint64_t layer_sparse_map(const lzs_index *idx, uint32_t id, const struct lzs_index_entry *e,
                          struct layer_sparse_pos *pos, uint64_t off, uint64_t n, uint64_t *soff,
                          uint64_t *len)
{
    struct lzs_index_sparse s;
    if (pos->seg < e->nsparse) {
        lzs_index_sparse_get(idx, id, pos->seg, &s);
        if (off < s.off) /* backwards: rescan from the start */
            *pos = (struct layer_sparse_pos){0};
    }
    for (; pos->seg < e->nsparse; pos->seg++) {
        lzs_index_sparse_get(idx, id, pos->seg, &s);
        if (off < s.off)
            return s.off - off < n ? s.off - off : n;
        if (off < s.off + s.len) {
            *soff = e->offset + pos->stored + (off - s.off);
            *len = s.off + s.len - off < n ? s.off + s.len - off : n;
            return 0;
        }
        pos->stored += s.len;
    }
    *pos = (struct layer_sparse_pos){0}; /* past the last segment: a trailing hole */
    return n;
}

uint64_t layer_stored_size(const lzs_index *idx, uint32_t id, const struct lzs_index_entry *e)
{
    if (!e->nsparse)
        return e->size;
    uint64_t sum = 0;
    for (uint32_t k = 0; k < e->nsparse; k++) {
        struct lzs_index_sparse s;
        lzs_index_sparse_get(idx, id, k, &s);
        sum += s.len; /* the index validated that the segments fit the file */
    }
    return sum;
}

uint64_t layer_in_end(const lzs_index *idx, uint64_t blob_size, uint64_t end)
{
    if (lzs_index_info(idx)->compression == LZS_INDEX_COMP_NONE)
        return end;
    uint32_t k = lzs_index_checkpoint_find(idx, end - 1) + 1;
    if (k >= lzs_index_checkpoint_count(idx))
        return blob_size;
    struct lzs_index_checkpoint c;
    lzs_index_checkpoint_get(idx, k, &c);
    return c.in_off;
}
