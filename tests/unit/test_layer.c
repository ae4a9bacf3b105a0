/* Unit tests for lib/layer: build an index from a real gzip layer (made with tar and gzip), then
 * read its files by random access, sparse files and failing blobs included. */
#include "layer/layer.h"
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        FAIL("command failed: %s", cmd);
}

static ssize_t fd_read(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_read_upto(*(int *)data, buf, n, err);
}

/* A layer (tar piped through compressor into file name) with a 3 MiB file, a sparse file (data at
 * 1 MiB and 5 MiB, 8 MiB long) and 40 small files f0..f39. */
static void make_layer_with(lzs_index **idx, lzs_blob **blob, const char *compressor,
                            const char *name)
{
    char cmd[8192];
    const char *d = lzs_test_tmpdir();
    snprintf(cmd, sizeof(cmd),
             "cd %s && rm -rf src && mkdir src && seq 1 400000 > src/seq.txt && "
             "printf AAAA | dd of=src/sparse bs=1 seek=1048576 status=none && "
             "printf BBBB | dd of=src/sparse bs=1 seek=5242880 status=none && "
             "truncate -s 8M src/sparse && "
             "for i in $(seq 0 39); do seq $i 3 $((i * 3000)) > src/f$i; done && "
             "tar --sparse --format=pax -C src -cf - . | %s > %s",
             d, compressor, name);
    sh(cmd);
    lzs_autoerr lzs_error *err = NULL;
    lzs_autoclose int fd = open(lzs_test_path(name), O_RDONLY);
    struct lzs_layer_build_opts o = {.span = 256 << 10};
    struct lzs_layer_build_result res;
    struct lzs_buf b = LZS_BUF_INIT(1 << 26);
    ASSERT_OK(lzs_layer_build_index(fd_read, &fd, &o, &b, &res, &err), err);
    ASSERT_OK(lzs_index_load(idx, b.data, b.len, &err), err);
    lzs_buf_dispose(&b);
    ASSERT_OK(lzs_blob_open_file(blob, lzs_test_path(name), &err), err);
}

static void make_layer(lzs_index **idx, lzs_blob **blob)
{
    make_layer_with(idx, blob, "gzip -6", "layer.tgz");
    const struct lzs_index_info *info = lzs_index_info(*idx);
    ASSERT(lzs_index_checkpoint_count(*idx) > 4); /* 2.6 MB of text at a 256 KiB span */
    ASSERT_EQ(info->compression, LZS_INDEX_COMP_GZIP);
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

/* ---- lzs_layer: reads through the cache ---------------------------------------------------- */

/* Read all of path through l and compare with the source file. */
static void check_lazy_file(lzs_layer *l, const char *path)
{
    uint32_t id;
    ASSERT_OK(lzs_index_lookup(lzs_layer_index(l), path, &id), (lzs_error *)NULL);
    char src[256];
    snprintf(src, sizeof(src), "src/%s", path);
    struct lzs_buf want = LZS_BUF_INIT(1 << 24);
    ASSERT_OK(lzs_file_read_all(lzs_test_path(src), &want, NULL), (lzs_error *)NULL);
    uint8_t *got = malloc(want.len + 1);
    ASSERT(got);
    lzs_autoerr lzs_error *err = NULL;
    size_t done = 0;
    for (ssize_t n; (n = lzs_layer_read(l, id, done, got + done, 100000, &err)) > 0;)
        done += (size_t)n;
    ASSERT(err == NULL);
    ASSERT_EQ(done, want.len);
    ASSERT_MEM_EQ(got, want.data, want.len);
    free(got);
    lzs_buf_dispose(&want);
}

LZS_TEST(test_layer__lazy_reads_come_from_the_cache_once_fetched)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_layer_stats st;
    {
        lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
        ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
        lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
        ASSERT_OK(lzs_layer_open(&l, idx, blob, c, NULL, &err), err);
        check_lazy_file(l, "f7");
        lzs_layer_stats(l, &st);
        ASSERT(st.fetched > 0 && st.fetched < lzs_blob_size(blob)); /* one span, not the blob */
        uint64_t fetched = st.fetched;
        check_lazy_file(l, "f7");
        check_lazy_file(l, "sparse");
        check_lazy_file(l, "seq.txt");
        lzs_layer_stats(l, &st);
        ASSERT(st.fetched > fetched);
        ASSERT_EQ(st.verify_failures, 0);
        ASSERT(!st.complete);
    }
    /* a restart: the cache answers, the blob is not read */
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *again = NULL;
    ASSERT_OK(lzs_blob_open_file(&again, lzs_test_path("layer.tgz"), &err), err);
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, again, c, NULL, &err), err);
    check_lazy_file(l, "seq.txt");
    check_lazy_file(l, "sparse");
    lzs_layer_stats(l, &st);
    ASSERT_EQ(st.fetched, 0);
}

/* A zstd layer of one frame has one checkpoint, its start: reading its files front to back
 * goes on with the cursor the previous fetch left, so the blob is read about once, not once per
 * file from the start. */
LZS_TEST(test_layer__one_frame_zstd_is_read_once_front_to_back)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer_with(&idx, &blob, "zstd -q -c", "layer.tzst");
    ASSERT_EQ(lzs_index_checkpoint_count(idx), 1);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, c, NULL, &err), err);
    unsigned files = 0;
    for (uint32_t id = 0; id < lzs_index_entry_count(idx); id++) {
        struct lzs_index_entry e;
        lzs_index_entry_get(idx, id, &e);
        if (e.type != LZS_ENTRY_REG || e.size == 0)
            continue;
        ASSERT_OK(lzs_layer_ensure(l, id, &err), err);
        files++;
    }
    struct lzs_layer_stats st;
    lzs_layer_stats(l, &st);
    ASSERT(files >= 40);
    ASSERT(st.fetched <= lzs_blob_size(blob) + lzs_blob_size(blob) / 4);
    ASSERT_EQ(st.verify_failures, 0);
    check_lazy_file(l, "f39");
    check_lazy_file(l, "seq.txt");
}

/* Small files a, b in one span that is not the last, b starting in a later chunk than a ends in
 * and ending before the span's last chunk boundary, and c in an earlier span; false if none. */
static bool pick_neighbours(lzs_index *idx, uint32_t *a, uint32_t *b, uint32_t *c)
{
    const uint64_t ch = LZS_CACHE_CHUNK;
    uint32_t n = lzs_index_entry_count(idx), spans = lzs_index_checkpoint_count(idx);
    for (uint32_t i = 0; i < n; i++) {
        struct lzs_index_entry ea, eb, ec;
        lzs_index_entry_get(idx, i, &ea);
        uint32_t k = lzs_index_checkpoint_find(idx, ea.offset);
        if (ea.type != LZS_ENTRY_REG || ea.size == 0 || ea.nsparse || k == 0 || k + 1 >= spans)
            continue;
        struct lzs_index_checkpoint next;
        lzs_index_checkpoint_get(idx, k + 1, &next);
        uint64_t a_end = (ea.offset + ea.size + ch - 1) / ch * ch, tail = next.out_off / ch * ch;
        for (uint32_t j = 0; j < n; j++) {
            lzs_index_entry_get(idx, j, &eb);
            if (eb.type != LZS_ENTRY_REG || eb.size == 0 || eb.nsparse || eb.offset < a_end ||
                eb.offset + eb.size > tail)
                continue;
            for (uint32_t m = 0; m < n; m++) {
                lzs_index_entry_get(idx, m, &ec);
                if (ec.type == LZS_ENTRY_REG && ec.size > 0 && !ec.nsparse &&
                    lzs_index_checkpoint_find(idx, ec.offset + ec.size - 1) < k) {
                    *a = i, *b = j, *c = m;
                    return true;
                }
            }
        }
    }
    return false;
}

/* After a fetch, the rest of its span is decoded from the cursor it left, without reading the
 * blob: a neighbour read later, after a fetch elsewhere took the cursor, is already local. */
LZS_TEST(test_layer__read_ahead_decodes_the_rest_of_the_span)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    uint32_t a, b, c;
    ASSERT(pick_neighbours(idx, &a, &b, &c));
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *cache = NULL;
    ASSERT_OK(lzs_cache_open(&cache, lzs_test_path("cache"), 0, &err), err);
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, cache, NULL, &err), err);
    struct lzs_blob_stats s0, s1, s2;
    ASSERT_OK(lzs_layer_ensure(l, a, &err), err);
    lzs_blob_stats(blob, &s0);
    lzs_layer_read_ahead(l);
    lzs_blob_stats(blob, &s1);
    ASSERT_EQ(s1.reads, s0.reads); /* the span's compressed bytes came with a's fetch */
    lzs_layer_read_ahead(l);       /* nothing left: a no-op */
    ASSERT_OK(lzs_layer_ensure(l, c, &err), err);
    lzs_blob_stats(blob, &s1);
    ASSERT(s1.reads > s0.reads);
    ASSERT_OK(lzs_layer_ensure(l, b, &err), err);
    lzs_blob_stats(blob, &s2);
    ASSERT_EQ(s2.reads, s1.reads);
    check_lazy_file(l, lzs_index_name(idx, b));
    check_lazy_file(l, lzs_index_name(idx, a));
}

/* An uncompressed layer's blob that corrupts file bytes on its first `bad` reads. */
struct liar {
    lzs_blob *inner;
    atomic_int bad;
};

static int liar_readat(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    struct liar *f = impl;
    int rc = lzs_blob_readat(f->inner, buf, n, off, err);
    if (rc == 0 && n > 2000 && atomic_fetch_sub(&f->bad, 1) > 0)
        ((uint8_t *)buf)[n / 2] ^= 0x20;
    return rc;
}

static const struct lzs_blob_ops liar_ops = {.readat = liar_readat, .close = NULL};

LZS_TEST(test_layer__lazy_bytes_are_verified_before_use)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *file = NULL;
    make_layer_with(&idx, &file, "cat", "layer.tar");
    ASSERT_EQ(lzs_index_info(idx)->compression, LZS_INDEX_COMP_NONE);
    struct liar f = {file, 1};
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    ASSERT_OK(lzs_blob_new(&blob, &liar_ops, &f, lzs_blob_size(file), "liar", NULL),
              (lzs_error *)NULL);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, c, NULL, &err), err);
    check_lazy_file(l, "seq.txt"); /* one bad fetch, caught, fetched again */
    struct lzs_layer_stats st;
    lzs_layer_stats(l, &st);
    ASSERT_EQ(st.verify_failures, 1);
    atomic_store(&f.bad, 1000); /* now it always lies */
    uint32_t id;
    ASSERT_OK(lzs_index_lookup(idx, "f39", &id), err);
    char buf[16];
    ASSERT_ERR(lzs_layer_read(l, id, 0, buf, sizeof(buf), &err), err, EIO,
               "'f39' in liar does not match its sha256 in the index");
}

static uint32_t id_of(lzs_index *idx, const char *path, struct lzs_index_entry *e)
{
    uint32_t id;
    ASSERT_OK(lzs_index_lookup(idx, path, &id), (lzs_error *)NULL);
    lzs_index_entry_get(idx, id, e);
    return id;
}

static bool is_verified(lzs_layer *l, uint32_t id)
{
    int fd;
    uint64_t off;
    return lzs_layer_locate(l, id, 0, 0, &fd, &off) == 1;
}

LZS_TEST(test_layer__a_failed_check_rechecks_the_files_sharing_its_chunks)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    /* two small files whose bytes share a cache chunk */
    char a[16] = "", b[16] = "";
    struct lzs_index_entry ea, eb;
    for (int i = 1; i < 40 && !b[0]; i++) {
        for (int j = 1; j < 40 && !b[0]; j++) {
            snprintf(a, sizeof(a), "f%d", i);
            snprintf(b, sizeof(b), "f%d", j);
            id_of(idx, a, &ea);
            id_of(idx, b, &eb);
            if (i == j ||
                (ea.offset + ea.size - 1) / LZS_CACHE_CHUNK != eb.offset / LZS_CACHE_CHUNK)
                b[0] = '\0';
        }
    }
    ASSERT(b[0]);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, c, NULL, &err), err);
    check_lazy_file(l, a);
    uint32_t ida = id_of(idx, a, &ea), idb = id_of(idx, b, &eb);
    ASSERT(is_verified(l, ida));
    /* b's cached bytes go bad before b was ever checked */
    char data[4096], hex[2 * LZS_SHA256_LEN + 1];
    lzs_hex_encode(lzs_index_info(idx)->blob_digest.bytes, LZS_SHA256_LEN, hex);
    snprintf(data, sizeof(data), "%s/layers/sha256/%s/data", lzs_test_path("cache"), hex);
    lzs_autoclose int fd = open(data, O_WRONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ(pwrite(fd, "garbage", 7, (off_t)eb.offset), 7);
    check_lazy_file(l, b); /* caught and fetched again */
    struct lzs_layer_stats st;
    lzs_layer_stats(l, &st);
    ASSERT_EQ(st.verify_failures, 1);
    ASSERT(is_verified(l, idb));
    ASSERT(!is_verified(l, ida)); /* its shared chunk was decoded again: checked again */
    check_lazy_file(l, a);
    ASSERT(is_verified(l, ida));
}

LZS_TEST(test_layer__a_paced_background_fetch_yields_to_readers)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    /* the file nearest the middle of the layer: inside the background's first piece */
    uint64_t size = lzs_index_info(idx)->uncompressed_size, best = UINT64_MAX;
    char name[16], pick[16] = "";
    for (int i = 1; i < 40; i++) {
        struct lzs_index_entry e;
        snprintf(name, sizeof(name), "f%d", i);
        id_of(idx, name, &e);
        uint64_t dist = e.offset > size / 2 ? e.offset - size / 2 : size / 2 - e.offset;
        if (dist < best) {
            best = dist;
            memcpy(pick, name, sizeof(name));
        }
    }
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    /* 1 byte/s: after its first piece the background fetch sleeps for days */
    struct lzs_layer_opts o = {.background = true, .background_rate = 1};
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, c, &o, &err), err);
    struct lzs_layer_stats st;
    for (int i = 0; i < 3000; i++) {
        lzs_layer_stats(l, &st);
        if (st.present > 0)
            break;
        usleep(10000);
    }
    ASSERT(st.present > 0 && st.present < size / 2);
    check_lazy_file(l, pick); /* waits for the paced fetch, which goes on for it */
    lzs_layer_stats(l, &st);
    ASSERT(!st.complete);
    ASSERT(!st.background_done);
    /* closing ends the sleeping fetch */
}

struct reader_arg {
    lzs_layer *l;
    int k;
};

static void *read_files(void *p)
{
    struct reader_arg *a = p;
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", (i * 7 + a->k) % 40);
        check_lazy_file(a->l, name);
    }
    check_lazy_file(a->l, a->k % 2 ? "seq.txt" : "sparse");
    return NULL;
}

LZS_TEST(test_layer__lazy_concurrent_readers_and_background_fetch)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    make_layer(&idx, &blob);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    const char *pre[] = {"/f3", "no/such/file", "seq.txt"};
    struct lzs_layer_opts o = {.prefetch = pre, .n_prefetch = 3, .background = true};
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, c, &o, &err), err);
    pthread_t t[8];
    struct reader_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct reader_arg){l, i};
        ASSERT_EQ(pthread_create(&t[i], NULL, read_files, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    struct lzs_layer_stats st;
    for (int i = 0; i < 3000; i++) {
        lzs_layer_stats(l, &st);
        if (st.background_done)
            break;
        usleep(10000);
    }
    ASSERT(st.background_done);
    ASSERT(st.complete);
    ASSERT_EQ(st.present, lzs_index_info(idx)->uncompressed_size);
    /* shared fetches: the blob was read about once, not once per reader */
    ASSERT(st.fetched < 3 * lzs_blob_size(blob));
}

/* A blob whose reads wait until the gate opens: a fetch held in flight. */
struct gated {
    lzs_blob *inner;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    unsigned reads; /* protected by lock */
};

static int gated_readat(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    struct gated *g = impl;
    pthread_mutex_lock(&g->lock);
    g->reads++;
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return lzs_blob_readat(g->inner, buf, n, off, err);
}

static const struct lzs_blob_ops gated_ops = {.readat = gated_readat, .close = NULL};

static unsigned gated_reads(struct gated *g)
{
    pthread_mutex_lock(&g->lock);
    unsigned n = g->reads;
    pthread_mutex_unlock(&g->lock);
    return n;
}

static void *read_seq(void *p)
{
    check_lazy_file(p, "seq.txt");
    return NULL;
}

static long voluntary_switches(void)
{
    struct rusage ru;
    ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_nvcsw;
}

/* Readers of a file whose fetch is in flight sleep until it makes progress: they used to wake
 * one another in a loop for as long as the fetch lasted (thousands of context switches in 0.3 s;
 * 64 readers of one layer kept two cores busy). Then they take the outcome of its check: the
 * file is hashed once, not once per reader. */
LZS_TEST(test_layer__readers_waiting_for_a_fetch_sleep)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *file = NULL;
    make_layer(&idx, &file);
    struct gated g = {.inner = file};
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.cond, NULL);
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    ASSERT_OK(lzs_blob_new(&blob, &gated_ops, &g, lzs_blob_size(file), "gated", NULL),
              (lzs_error *)NULL);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, lzs_test_path("cache"), 0, &err), err);
    lzs_cleanup(lzs_layer_closep) lzs_layer *l = NULL;
    ASSERT_OK(lzs_layer_open(&l, idx, blob, c, NULL, &err), err); /* no background fetch */
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, read_seq, l), 0);
    for (int i = 0; i < 1000 && !gated_reads(&g); i++)
        usleep(10000); /* the first fetch reaches the gate */
    usleep(300000);    /* the other readers come to wait for it */
    long before = voluntary_switches();
    usleep(300000);
    long during = voluntary_switches() - before;
    pthread_mutex_lock(&g.lock);
    unsigned reads_held = g.reads;
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(reads_held, 1u); /* one fetch for the eight readers */
    if (during >= 50)          /* the sleep above, not a storm */
        FAIL("%ld context switches while 7 readers waited for 0.3 s", during);
    uint32_t id;
    struct lzs_index_entry e;
    ASSERT_OK(lzs_index_lookup(idx, "seq.txt", &id), (lzs_error *)NULL);
    lzs_index_entry_get(idx, id, &e);
    struct lzs_layer_stats st;
    lzs_layer_stats(l, &st);
    ASSERT_EQ(st.verified_bytes, e.size); /* and one check: the file was hashed once */
    pthread_cond_destroy(&g.cond);
    pthread_mutex_destroy(&g.lock);
}
