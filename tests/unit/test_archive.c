/* Unit tests for lib/archive: tar streams written by hand (ustar and pax headers), so hostile
 * inputs can be made exactly. */
#include "archive/archive.h"
#include "test.h"

#include <stdio.h>

/* ---- a tiny tar writer ------------------------------------------------------------------------
 */

struct tarbuf {
    uint8_t data[1 << 16];
    size_t len;
};

/* An octal field, or GNU base-256 when the value does not fit (tar's "huge sizes"). */
static void octal(char *field, size_t width, uint64_t v)
{
    char tmp[32];
    if (v < (1ull << (3 * (width - 1)))) {
        snprintf(tmp, sizeof(tmp), "%0*llo", (int)width - 1, (unsigned long long)v);
        memcpy(field, tmp, width);
        return;
    }
    memset(field, 0, width);
    field[0] = (char)0x80;
    for (size_t i = width - 1; i > 0 && v; i--, v >>= 8)
        field[i] = (char)(v & 0xff);
}

/* A ustar header (512 bytes) followed by the data, padded to 512. */
static void tar_add(struct tarbuf *t, const char *name, char type, const char *data,
                    uint64_t claimed_size)
{
    uint8_t *h = t->data + t->len;
    ASSERT(t->len + 512 <= sizeof(t->data));
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    octal((char *)h + 100, 8, 0644);
    octal((char *)h + 108, 8, 1000);
    octal((char *)h + 116, 8, 1000);
    octal((char *)h + 124, 12, claimed_size);
    octal((char *)h + 136, 12, 1700000000);
    memset(h + 148, ' ', 8);
    h[156] = (uint8_t)type;
    memcpy(h + 257,
           "ustar\0"
           "00",
           8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    t->len += 512;
    size_t n = data ? strlen(data) : 0;
    ASSERT(t->len + n + 512 <= sizeof(t->data));
    if (n)
        memcpy(t->data + t->len, data, n);
    t->len += (n + 511) / 512 * 512;
}

/* A pax extended header holding "key=value" records (each "LEN key=value\n"). */
static void tar_add_pax(struct tarbuf *t, const char *const *records, size_t n)
{
    char body[2048];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t rec = strlen(records[i]) + 2; /* " " and "\n" */
        size_t digits = rec + 1 < 10 ? 1 : rec + 2 < 100 ? 2 : rec + 3 < 1000 ? 3 : 4;
        len +=
            (size_t)snprintf(body + len, sizeof(body) - len, "%zu %s\n", rec + digits, records[i]);
    }
    ASSERT(len < sizeof(body));
    tar_add(t, "PaxHeaders/x", 'x', body, len);
}

static void tar_add_pax_path(struct tarbuf *t, const char *path)
{
    char rec[600];
    snprintf(rec, sizeof(rec), "path=%s", path);
    const char *records[] = {rec};
    tar_add_pax(t, records, 1);
}

static void tar_end(struct tarbuf *t)
{
    memset(t->data + t->len, 0, 1024);
    t->len += 1024;
}

struct src {
    const struct tarbuf *t;
    size_t pos;
    size_t chunk; /* feed in small pieces to cross buffer boundaries */
};

static ssize_t src_read(void *data, void *buf, size_t n, lzs_error **err)
{
    struct src *s = data;
    size_t k = s->t->len - s->pos;
    if (k > n)
        k = n;
    if (k > s->chunk)
        k = s->chunk;
    memcpy(buf, s->t->data + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

/* Walk t into an index; on success load it into *out. */
static int walk(const struct tarbuf *t, size_t chunk, lzs_index **out, lzs_error **err)
{
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    struct src s = {t, 0, chunk};
    struct lzs_archive_stats st;
    int rc = lzs_index_writer_new(&w, err);
    if (rc == 0)
        rc = lzs_archive_walk(src_read, &s, w, &st, err);
    if (rc < 0)
        return rc;
    ASSERT_EQ(s.pos, t->len); /* read to the end, padding included */
    struct lzs_index_checkpoint c0 = {0};
    struct lzs_index_info info = {.uncompressed_size = t->len, .compressed_size = t->len};
    info.blob_digest.algo = LZS_DIGEST_SHA256;
    struct lzs_buf b = LZS_BUF_INIT(1 << 24);
    rc = lzs_index_writer_add_checkpoint(w, &c0, err);
    if (rc == 0)
        rc = lzs_index_writer_finish(w, &info, &b, err);
    if (rc == 0)
        rc = lzs_index_load(out, b.data, b.len, err);
    lzs_buf_dispose(&b);
    return rc;
}

/* ---- cases ------------------------------------------------------------------------------------
 */

LZS_TEST(test_archive__offsets_point_at_the_data)
{
    static struct tarbuf t;
    t.len = 0;
    tar_add(&t, "dir/", '5', NULL, 0);
    tar_add(&t, "dir/a.txt", '0', "alpha", 5);
    tar_add(&t, "./dir/b.txt", '0', "bravo-bravo", 11);
    tar_add(&t, "dir/fifo", '6', NULL, 0);
    tar_end(&t);
    for (size_t chunk = 7; chunk <= 1 << 20; chunk *= 97) {
        lzs_autoerr lzs_error *err = NULL;
        lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
        ASSERT_OK(walk(&t, chunk, &idx, &err), err);
        const char *names[] = {"dir/a.txt", "dir/b.txt"}, *want[] = {"alpha", "bravo-bravo"};
        for (int i = 0; i < 2; i++) {
            uint32_t id;
            struct lzs_index_entry e;
            ASSERT_OK(lzs_index_lookup(idx, names[i], &id), (lzs_error *)NULL);
            lzs_index_entry_get(idx, id, &e);
            ASSERT_EQ(e.size, strlen(want[i]));
            ASSERT_MEM_EQ(t.data + e.offset, want[i], e.size);
            ASSERT_EQ(e.uid, 1000);
            ASSERT_EQ(e.mtime_sec, 1700000000);
            struct lzs_digest d;
            lzs_digest_buf(LZS_DIGEST_SHA256, want[i], e.size, &d, NULL);
            ASSERT_MEM_EQ(e.sha256, d.bytes, 32);
        }
    }
}

LZS_TEST(test_archive__pax_long_name)
{
    static struct tarbuf t;
    t.len = 0;
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    memcpy(longname, "deep/", 5);
    tar_add_pax_path(&t, longname);
    tar_add(&t, "ignored-short-name", '0', "payload", 7);
    tar_end(&t);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    ASSERT_OK(walk(&t, 4096, &idx, &err), err);
    uint32_t id;
    ASSERT_OK(lzs_index_lookup(idx, longname, &id), (lzs_error *)NULL);
    struct lzs_index_entry e;
    lzs_index_entry_get(idx, id, &e);
    ASSERT_MEM_EQ(t.data + e.offset, "payload", 7);
}

LZS_TEST(test_archive__dotdot_is_rejected_with_its_name)
{
    static struct tarbuf t;
    t.len = 0;
    tar_add(&t, "ok.txt", '0', "fine", 4);
    tar_add(&t, "a/../../etc/passwd", '0', "evil", 4);
    tar_end(&t);
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    ASSERT_ERR(walk(&t, 4096, &idx, &err), err, EINVAL, "a/../../etc/passwd");
    ASSERT(strstr(err->msg, "tar entry 1"));
}

LZS_TEST(test_archive__absolute_path_is_made_relative)
{
    static struct tarbuf t;
    t.len = 0;
    tar_add(&t, "/etc/hostname", '0', "box", 3);
    tar_end(&t);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    ASSERT_OK(walk(&t, 4096, &idx, &err), err);
    uint32_t id;
    ASSERT_OK(lzs_index_lookup(idx, "etc/hostname", &id), (lzs_error *)NULL);
}

LZS_TEST(test_archive__size_past_the_end_is_rejected)
{
    static struct tarbuf t;
    t.len = 0;
    tar_add(&t, "huge.bin", '0', "only a little data", 1ull << 40); /* claims 1 TiB */
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    int rc = walk(&t, 4096, &idx, &err);
    ASSERT(rc < 0);
    ASSERT(err && strstr(err->msg, "huge.bin"));
}

LZS_TEST(test_archive__corrupt_header_checksum_is_rejected)
{
    static struct tarbuf t;
    t.len = 0;
    tar_add(&t, "a.txt", '0', "alpha", 5);
    tar_add(&t, "b.txt", '0', "bravo", 5);
    tar_end(&t);
    t.data[512 * 2 + 10] ^= 0x55; /* inside b.txt's header name */
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    ASSERT_ERR(walk(&t, 4096, &idx, &err), err, EBADMSG, "tar entry 1");
}

static ssize_t failing_read(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_error_set(err, EIO, "registry went away");
}

LZS_TEST(test_archive__read_errors_are_passed_through)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, &err), err);
    ASSERT_ERR(lzs_archive_walk(failing_read, NULL, w, NULL, &err), err, EIO, "registry went away");
}

LZS_TEST(test_archive__sparse_header_claiming_a_petabyte_is_refused)
{
    /* PAX sparse 1.0: an empty map and a realsize of 2^50 bytes. Hashing its hole as zeros would
     * take days; the layer's hole budget stops it at once. */
    static struct tarbuf t;
    t.len = 0;
    const char *records[] = {"GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.name=huge.img",
                             "GNU.sparse.realsize=1125899906842624"};
    tar_add_pax(&t, records, LZS_ARRAY_SIZE(records));
    tar_add(&t, "GNUSparseFile.0/huge.img", '0', "1\n0\n0\n", 512);
    tar_end(&t);
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    ASSERT_ERR(walk(&t, 4096, &idx, &err), err, E2BIG, "sparse holes of more than 64 GiB");
    ASSERT(strstr(err->msg, "huge.img"));
}
