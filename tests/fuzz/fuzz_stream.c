/* Fuzz target: the growing tree of a layer served while it streams in (lib/stream), fed by the tar
 * walker as a streamed layer is, on untrusted layer bytes. Oracle: when the tree ends final and
 * the index writer accepts the same entries, both describe the same tree: the same number of
 * entries, and each path of the index found in the tree, through its directories, with the same
 * type, mode and size; every directory's children in name order, each naming it as parent. */
#include "archive/archive.h"
#include "stream/stream.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t left;
    lzs_stream_tree *t;
};

static ssize_t src_read(void *d, void *buf, size_t n, lzs_error **err)
{
    struct src *s = d;
    size_t k = s->left < n ? s->left : n;
    k = k > 1000 ? 1000 : k; /* small pieces: entries arrive as they would from a stream */
    memcpy(buf, s->p, k);
    s->p += k;
    s->left -= k;
    return lzs_stream_tree_decoded(s->t, buf, k, err) < 0 ? -EIO : (ssize_t)k;
}

/* The id of path in the tree, walking from the root as lookups do; -1 when absent. */
static int64_t walk(const struct lzs_fusefs_tree *tr, const char *path)
{
    uint32_t id = 0;
    char part[4096];
    for (const char *p = path; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof(part))
            return -1;
        memcpy(part, p, len);
        part[len] = '\0';
        if (tr->child(tr->data, id, part, false, &id) < 0)
            return -1;
        p += len + (slash ? 1 : 0);
    }
    return id;
}

static void check_children(const struct lzs_fusefs_tree *tr, uint32_t count)
{
    for (uint32_t dir = 0; dir < count; dir++) {
        const uint32_t *ids;
        uint32_t n;
        if (tr->children(tr->data, dir, &ids, &n) < 0)
            abort();
        for (uint32_t k = 0; k < n; k++) {
            if (tr->parent(tr->data, ids[k]) != dir)
                abort();
            if (k && strcmp(tr->name(tr->data, ids[k - 1]), tr->name(tr->data, ids[k])) >= 0)
                abort();
        }
    }
}

/* The tree (final) against the index the writer made of the same entries. */
static void compare(lzs_stream_tree *t, const lzs_index *idx)
{
    struct lzs_fusefs_tree tr;
    struct lzs_fusefs_source src;
    lzs_stream_tree_fusefs(t, &tr, &src);
    uint32_t count = tr.count(tr.data);
    if (count != lzs_index_entry_count(idx))
        abort();
    for (uint32_t i = 0; i < count; i++) {
        struct lzs_index_entry a, b;
        lzs_index_entry_get(idx, i, &a);
        int64_t id = walk(&tr, a.path);
        if (id < 0)
            abort();
        tr.entry(tr.data, (uint32_t)id, &b);
        if (a.type != b.type || a.mode != b.mode || a.size != b.size || a.offset != b.offset)
            abort();
    }
    check_children(&tr, count);
}

static int observe(void *data, const struct lzs_index_entry *e, lzs_error **err)
{
    return lzs_stream_tree_entry(data, e, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lzs_index_writer *w = NULL;
    lzs_stream_tree *t = NULL;
    lzs_error *err = NULL;
    if (lzs_index_writer_new(&w, NULL) < 0 || lzs_stream_tree_new(&t, "/tmp", NULL) < 0) {
        lzs_index_writer_free(w);
        return 0;
    }
    struct src s = {data, size, t};
    lzs_index_writer_observe(w, observe, t);
    int rc = lzs_archive_walk(src_read, &s, w, NULL, &err);
    lzs_stream_tree_end(t, rc < 0 ? err : NULL);
    struct lzs_stream_stats st;
    lzs_stream_tree_stats(t, &st);
    if (rc == 0 && st.state == 1) {
        struct lzs_index_checkpoint c0 = {0};
        struct lzs_index_info info = {.uncompressed_size = size, .compressed_size = size};
        info.blob_digest.algo = LZS_DIGEST_SHA256;
        struct lzs_buf b = LZS_BUF_INIT(1 << 28);
        lzs_index *idx = NULL;
        if (lzs_index_writer_add_checkpoint(w, &c0, NULL) == 0 &&
            lzs_index_writer_finish(w, &info, &b, NULL) == 0 &&
            lzs_index_load(&idx, b.data, b.len, NULL) == 0)
            compare(t, idx);
        lzs_index_unref(idx);
        lzs_buf_dispose(&b);
    }
    lzs_error_free(&err);
    lzs_stream_tree_free(t);
    lzs_index_writer_free(w);
    return 0;
}
