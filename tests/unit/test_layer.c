/* Unit tests for lib/layer: build an index from a real gzip layer (made with tar and gzip), then
 * read its files by random access, sparse files and failing blobs included. */
#include "layer/layer.h"
#include "test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        FAIL("command failed: %s", cmd);
}

static ssize_t fd_read(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_read_upto(*(int *)data, buf, n, err);
}

/* A gzip layer with a 3 MiB file and a sparse file (data at 1 MiB and 5 MiB, 8 MiB long). */
static void make_layer(lzs_index **idx, lzs_blob **blob)
{
    char cmd[8192];
    const char *d = lzs_test_tmpdir();
    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir src && seq 1 400000 > src/seq.txt && "
             "printf AAAA | dd of=src/sparse bs=1 seek=1048576 status=none && "
             "printf BBBB | dd of=src/sparse bs=1 seek=5242880 status=none && "
             "truncate -s 8M src/sparse && "
             "tar --sparse --format=pax -C src -cf - . | gzip -6 > layer.tgz",
             d);
    sh(cmd);
    lzs_autoerr lzs_error *err = NULL;
    lzs_autoclose int fd = open(lzs_test_path("layer.tgz"), O_RDONLY);
    struct lzs_layer_build_opts o = {.span = 256 << 10};
    struct lzs_layer_build_result res;
    struct lzs_buf b = LZS_BUF_INIT(1 << 26);
    ASSERT_OK(lzs_layer_build_index(fd_read, &fd, &o, &b, &res, &err), err);
    ASSERT(res.checkpoints > 4); /* 2.6 MB of text at a 256 KiB span */
    ASSERT_EQ(res.info.compression, LZS_INDEX_COMP_GZIP);
    ASSERT_OK(lzs_index_load(idx, b.data, b.len, &err), err);
    lzs_buf_dispose(&b);
    ASSERT_OK(lzs_blob_open_file(blob, lzs_test_path("layer.tgz"), &err), err);
}

static lzs_file_reader *reader_for(lzs_index *idx, lzs_blob *blob, const char *path)
{
    uint32_t id;
    lzs_file_reader *r = NULL;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_index_lookup(idx, path, &id), err);
    ASSERT_OK(lzs_file_reader_new(&r, idx, blob, id, &err), err);
    return r;
}

LZS_TEST(test_layer__reads_forward_backward_and_across_checkpoints)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *r = reader_for(idx, blob, "seq.txt");
    struct lzs_buf want = LZS_BUF_INIT(1 << 23);
    ASSERT_OK(lzs_file_read_all(lzs_test_path("src/seq.txt"), &want, NULL), (lzs_error *)NULL);
    ASSERT_EQ(lzs_file_reader_size(r), want.len);
    static char buf[300000];
    const uint64_t offs[] = {0, 2000000, 100, 1048576, 2500000, want.len - 10, 7};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(offs); i++) {
        ssize_t n = lzs_file_reader_read(r, offs[i], buf, sizeof(buf), NULL);
        size_t expect = want.len - offs[i] < sizeof(buf) ? want.len - offs[i] : sizeof(buf);
        ASSERT_EQ(n, expect);
        ASSERT_MEM_EQ(buf, want.data + offs[i], expect);
    }
    ASSERT_EQ(lzs_file_reader_read(r, want.len, buf, 10, NULL), 0); /* at the end */
    lzs_buf_dispose(&want);
}

LZS_TEST(test_layer__sparse_file_reads_holes_as_zeros)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *r = reader_for(idx, blob, "sparse");
    ASSERT_EQ(lzs_file_reader_size(r), 8 << 20);
    static char buf[1 << 20];
    /* sequentially in odd-sized pieces, then backwards: same bytes either way */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t off = 0; off < (8u << 20); off += 777777) {
            uint64_t o = pass ? (8u << 20) - 777777 - off % (8u << 20) : off;
            if (o >= (8u << 20))
                continue;
            ssize_t n = lzs_file_reader_read(r, o, buf, 777777, NULL);
            ASSERT(n > 0);
            for (ssize_t i = 0; i < n; i++) {
                uint64_t at = o + (uint64_t)i;
                char c = at >= 1048576 && at < 1048580   ? 'A'
                         : at >= 5242880 && at < 5242884 ? 'B'
                                                         : 0;
                if (buf[i] != c)
                    FAIL("byte %" PRIu64 " is %d, expected %d (pass %d)", at, buf[i], c, pass);
            }
        }
    }
}

/* A blob over a file that fails one read, as a registry might. */
struct flaky {
    lzs_blob *inner;
    int fail_next;
};

static int flaky_readat(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    struct flaky *f = impl;
    if (f->fail_next-- > 0)
        return lzs_error_set(err, ETIMEDOUT, "registry timed out");
    return lzs_blob_readat(f->inner, buf, n, off, err);
}

static const struct lzs_blob_ops flaky_ops = {.readat = flaky_readat, .close = NULL};

LZS_TEST(test_layer__a_failed_read_does_not_poison_the_next)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *file = NULL;
    make_layer(&idx, &file);
    struct flaky f = {file, 0};
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    ASSERT_OK(lzs_blob_new(&blob, &flaky_ops, &f, lzs_blob_size(file), "flaky", NULL),
              (lzs_error *)NULL);
    lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *r = reader_for(idx, blob, "seq.txt");
    char a[64], b[64];
    f.fail_next = 1; /* the first fetch times out */
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_ERR(lzs_file_reader_read(r, 1000, a, sizeof(a), &err), err, ETIMEDOUT, "timed out");
    /* the registry is back: a forward read in the same span must not reuse the failed decoder */
    ASSERT_EQ(lzs_file_reader_read(r, 1064, b, sizeof(b), NULL), sizeof(b));
    ASSERT_EQ(lzs_file_reader_read(r, 1000, a, sizeof(a), NULL), sizeof(a));
    char seq[200];
    snprintf(seq, sizeof(seq), "%.*s", 64, a);
    ASSERT(strchr(seq, '\n') != NULL); /* seq.txt content: numbers and newlines */
}

LZS_TEST(test_layer__digest_mismatch_and_garbage_fail_cleanly)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_digest wrong = {.algo = LZS_DIGEST_SHA256};
    lzs_autoclose int fd = open(lzs_test_path("layer.tgz"), O_RDONLY);
    struct lzs_layer_build_opts o = {.expected = &wrong};
    struct lzs_layer_build_result res;
    struct lzs_buf b = LZS_BUF_INIT(1 << 26);
    ASSERT_ERR(lzs_layer_build_index(fd_read, &fd, &o, &b, &res, &err), err, EBADMSG,
               "layer digest mismatch: expected sha256:0000");
    lzs_error_free(&err);
    lzs_test_write_file(lzs_test_path("garbage"), "\x1f\x8b\x08\x00garbage-not-deflate", 24);
    lzs_autoclose int g = open(lzs_test_path("garbage"), O_RDONLY);
    struct lzs_layer_build_opts plain = {0};
    ASSERT_ERR(lzs_layer_build_index(fd_read, &g, &plain, &b, &res, &err), err, EBADMSG, "gzip");
    lzs_buf_dispose(&b);
}
