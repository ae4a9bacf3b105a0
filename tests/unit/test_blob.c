/* Unit tests for lib/blob. */
#include "blob/blob.h"
#include "test.h"

LZS_TEST(test_blob__file_reads_and_counts)
{
    lzs_autoerr lzs_error *err = NULL;
    const char *path = lzs_test_path("layer.bin");
    lzs_test_write_file(path, "0123456789abcdef", 16);
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *b = NULL;
    ASSERT_OK(lzs_blob_open_file(&b, path, &err), err);
    ASSERT_EQ(lzs_blob_size(b), 16);
    ASSERT_STR_EQ(lzs_blob_name(b), path);
    char buf[8];
    ASSERT_OK(lzs_blob_readat(b, buf, 4, 10, &err), err);
    ASSERT_MEM_EQ(buf, "abcd", 4);
    ASSERT_OK(lzs_blob_readat(b, buf, 6, 10, &err), err); /* up to the last byte */
    struct lzs_blob_stats st;
    lzs_blob_stats(b, &st);
    ASSERT_EQ(st.bytes_read, 10);
    ASSERT_EQ(st.reads, 2);
}

LZS_TEST(test_blob__range_past_end_is_refused)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *b = NULL;
    ASSERT_OK(lzs_blob_new_mem(&b, "abc", 3, &err), err);
    char buf[4];
    ASSERT_ERR(lzs_blob_readat(b, buf, 2, 2, &err), err, ERANGE, "past the end (3 bytes)");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_blob_readat(b, buf, 1, UINT64_MAX, &err), err, ERANGE, "past the end");
    struct lzs_blob_stats st;
    lzs_blob_stats(b, &st);
    ASSERT_EQ(st.reads, 0);
}

LZS_TEST(test_blob__refcount_keeps_blob_alive)
{
    lzs_blob *b = NULL;
    ASSERT_OK(lzs_blob_new_mem(&b, "xyz", 3, NULL), (lzs_error *)NULL);
    lzs_blob *b2 = lzs_blob_ref(b);
    ASSERT(lzs_blob_unref(b) == NULL);
    char c;
    ASSERT_OK(lzs_blob_readat(b2, &c, 1, 2, NULL), (lzs_error *)NULL);
    ASSERT_EQ(c, 'z');
    lzs_blob_unref(b2);
    lzs_blob_unref(NULL);
}

LZS_TEST(test_blob__open_errors_name_the_path)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_blob *b = NULL;
    ASSERT_ERR(lzs_blob_open_file(&b, lzs_test_path("missing"), &err), err, ENOENT, "missing");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_blob_open_file(&b, lzs_test_tmpdir(), &err), err, EINVAL, "not a regular");
}
