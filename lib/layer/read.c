/* Read a layer's files by random access: file offset -> tar stream offset (sparse maps), nearest
 * checkpoint, one bounded range of the compressed blob, decode. */
#include "layer_i.h"

#include <limits.h>
#include <string.h>

struct lzs_file_reader {
    lzs_index *idx;
    lzs_blob *blob;
    enum lzs_compression comp;
    uint32_t id;
    struct lzs_index_entry e;
    lzs_zseek_cursor *cur;
    uint64_t decompressed;          /* by cursors already freed */
    struct layer_sparse_pos sparse; /* where the last read was in a sparse file */
};

int lzs_file_reader_new(lzs_file_reader **out, lzs_index *idx, lzs_blob *b, uint32_t id,
                        lzs_error **err)
{
    if (id >= lzs_index_entry_count(idx))
        return lzs_error_set(err, EINVAL, "no entry %u in the index", id);
    uint32_t target = lzs_index_resolve_hardlink(idx, id);
    lzs_file_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return lzs_error_set(err, ENOMEM, "out of memory");
    lzs_index_entry_get(idx, target, &r->e);
    if (r->e.type != LZS_ENTRY_REG) {
        free(r);
        return lzs_error_set(err, EISDIR, "'%s' is not a regular file", lzs_index_name(idx, id));
    }
    if (lzs_index_info(idx)->compressed_size != lzs_blob_size(b)) {
        free(r);
        return lzs_error_set(
            err, EINVAL, "blob %s has %" PRIu64 " bytes, the index expects %" PRIu64,
            lzs_blob_name(b), lzs_blob_size(b), lzs_index_info(idx)->compressed_size);
    }
    r->idx = lzs_index_ref(idx);
    r->blob = lzs_blob_ref(b);
    r->comp = (enum lzs_compression)lzs_index_info(idx)->compression;
    r->id = target;
    *out = r;
    return 0;
}

void lzs_file_reader_free(lzs_file_reader *r)
{
    if (!r)
        return;
    lzs_zseek_cursor_free(r->cur);
    lzs_blob_unref(r->blob);
    lzs_index_unref(r->idx);
    free(r);
}

uint64_t lzs_file_reader_size(const lzs_file_reader *r)
{
    return r->e.size;
}

uint64_t lzs_file_reader_decompressed(const lzs_file_reader *r)
{
    return r->decompressed + (r->cur ? lzs_zseek_cursor_decompressed(r->cur) : 0);
}

/* Can the current cursor reach off without passing a checkpoint we could start from instead? */
static bool cursor_fits(const lzs_file_reader *r, uint64_t off)
{
    if (!r->cur || lzs_zseek_cursor_position(r->cur) > off)
        return false;
    uint64_t pos = lzs_zseek_cursor_position(r->cur);
    return lzs_index_checkpoint_find(r->idx, off) == lzs_index_checkpoint_find(r->idx, pos);
}

static void drop_cursor(lzs_file_reader *r)
{
    if (r->cur)
        r->decompressed += lzs_zseek_cursor_decompressed(r->cur);
    lzs_zseek_cursor_free(lzs_steal_ptr(&r->cur));
}

static int stream_read(lzs_file_reader *r, uint64_t off, void *buf, size_t n, lzs_error **err)
{
    uint64_t in_end = layer_in_end(r->idx, lzs_blob_size(r->blob), off + n);
    if (cursor_fits(r, off)) {
        lzs_zseek_cursor_set_in_end(r->cur, in_end);
    } else {
        drop_cursor(r);
        struct lzs_index_checkpoint c;
        lzs_index_checkpoint_get(r->idx, lzs_index_checkpoint_find(r->idx, off), &c);
        struct lzs_zseek_point p = {c.in_off, c.out_off, c.bits, c.kind, c.window, c.window_len};
        int rc = lzs_zseek_cursor_new(&r->cur, r->blob, r->comp, &p, in_end, err);
        if (rc < 0)
            return rc;
    }
    int rc = lzs_zseek_cursor_read(r->cur, off, buf, n, err);
    if (rc < 0)
        drop_cursor(r); /* a failed cursor stays failed: the next read starts afresh */
    return rc;
}

ssize_t lzs_file_reader_read(lzs_file_reader *r, uint64_t off, void *buf, size_t n, lzs_error **err)
{
    if (off >= r->e.size)
        return 0;
    if (n > r->e.size - off)
        n = (size_t)(r->e.size - off);
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    for (size_t done = 0; done < n;) {
        uint64_t soff = r->e.offset + off + done, len = n - done, hole = 0;
        if (r->e.nsparse)
            hole = layer_sparse_map(r->idx, r->id, &r->e, &r->sparse, off + done, n - done, &soff,
                                    &len);
        if (hole) {
            memset((char *)buf + done, 0, (size_t)hole);
            done += (size_t)hole;
            continue;
        }
        int rc = stream_read(r, soff, (char *)buf + done, (size_t)len, err);
        if (rc < 0)
            return rc;
        done += (size_t)len;
    }
    return (ssize_t)n;
}
