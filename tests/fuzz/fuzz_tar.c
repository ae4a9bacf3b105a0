/* Fuzz target: the tar walker (lib/archive) and the index writer behind it, on untrusted layer
 * bytes. A walk that succeeds must give an index that loads. */
#include "archive/archive.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t left;
};

static ssize_t src_read(void *d, void *buf, size_t n, lzs_error **err)
{
    struct src *s = d;
    size_t k = s->left < n ? s->left : n;
    k = k > 1000 ? 1000 : k; /* small pieces: exercise libarchive's buffer joins */
    memcpy(buf, s->p, k);
    s->p += k;
    s->left -= k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lzs_index_writer *w = NULL;
    lzs_error *err = NULL;
    struct src s = {data, size};
    if (lzs_index_writer_new(&w, NULL) < 0)
        return 0;
    int rc = lzs_archive_walk(src_read, &s, w, NULL, &err);
    if (rc < 0 && (!err || !err->msg))
        abort(); /* every failure names what was wrong */
    if (rc == 0) {
        struct lzs_index_checkpoint c0 = {0};
        struct lzs_index_info info = {.uncompressed_size = size, .compressed_size = size};
        info.blob_digest.algo = LZS_DIGEST_SHA256;
        struct lzs_buf b = LZS_BUF_INIT(1 << 28);
        lzs_index *idx = NULL;
        if (lzs_index_writer_add_checkpoint(w, &c0, NULL) == 0 &&
            lzs_index_writer_finish(w, &info, &b, NULL) == 0 &&
            lzs_index_load(&idx, b.data, b.len, &err) < 0)
            abort(); /* what the writer wrote, the reader must accept */
        lzs_index_unref(idx);
        lzs_buf_dispose(&b);
    }
    lzs_error_free(&err);
    lzs_index_writer_free(w);
    return 0;
}
