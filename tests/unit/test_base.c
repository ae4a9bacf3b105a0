/* Unit tests for lib/base. */
#include "base/base.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

/* ---- errors -------------------------------------------------------------------------------- */

LZS_TEST(test_base__error_set_and_wrap)
{
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_error_set(&err, ENOENT, "file %s", "x.tar");
    ASSERT_EQ(rc, -ENOENT);
    ASSERT_EQ(err->code, ENOENT);
    ASSERT_STR_EQ(err->msg, "file x.tar");
    rc = lzs_error_wrap(&err, "layer %d", 3);
    ASSERT_EQ(rc, -ENOENT);
    ASSERT_STR_EQ(err->msg, "layer 3: file x.tar");
    lzs_error_free(&err);
    ASSERT(err == NULL);
    lzs_error_free(&err); /* NULL-safe */
    lzs_error_free(NULL);
}

LZS_TEST(test_base__error_null_err_keeps_code)
{
    ASSERT_EQ(lzs_error_set(NULL, EACCES, "denied"), -EACCES);
    ASSERT_EQ(lzs_error_wrap(NULL, "ctx"), -EIO);
    lzs_error *none = NULL;
    ASSERT_EQ(lzs_error_wrap(&none, "ctx"), -EIO);
    ASSERT(none == NULL);
    ASSERT_STR_EQ(lzs_error_msg(NULL), "unknown error");
}

LZS_TEST(test_base__error_set_once_keeps_first)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_error_set(&err, EINVAL, "first");
    ASSERT_EQ(lzs_error_set(&err, EIO, "second"), -EIO);
    ASSERT_STR_EQ(err->msg, "first");
    ASSERT_EQ(err->code, EINVAL);
}

LZS_TEST(test_base__error_sys_and_http)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_error_set_sys(&err, ENOENT, "open %s", "/nope");
    ASSERT_STR_EQ(err->msg, "open /nope: No such file or directory");
    lzs_error_free(&err);
    ASSERT_EQ(lzs_error_set_http(&err, EACCES, 403, "HTTP 403 from registry"), -EACCES);
    ASSERT_EQ(err->http, 403);
    lzs_error_free(&err);
    ASSERT_EQ(lzs_error_set(&err, 0, "zero code"), -EIO); /* a zero code is a bug; still fails */
}

/* ---- logging ------------------------------------------------------------------------------- */

struct captured {
    int calls;
    enum lzs_log_level level;
    char msg[256];
};

static void capture_sink(enum lzs_log_level level, const char *msg, void *data)
{
    struct captured *c = data;
    c->calls++;
    c->level = level;
    snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

LZS_TEST(test_base__log_levels_and_sink)
{
    struct captured c = {0};
    lzs_log_set_sink(capture_sink, &c);
    lzs_log_set_level(LZS_LOG_WARN);
    LZS_INFO("hidden %d", 1);
    ASSERT_EQ(c.calls, 0);
    LZS_WARN("shown %d", 2);
    ASSERT_EQ(c.calls, 1);
    ASSERT_EQ(c.level, LZS_LOG_WARN);
    ASSERT_STR_EQ(c.msg, "shown 2");
    lzs_log_set_sink(NULL, NULL);
    lzs_log_set_level(LZS_LOG_INFO);

    enum lzs_log_level l;
    ASSERT_EQ(lzs_log_level_parse("debug", &l), 0);
    ASSERT_EQ(l, LZS_LOG_DEBUG);
    ASSERT_EQ(lzs_log_level_parse("loud", &l), -EINVAL);
}

LZS_TEST(test_base__log_json_lines_on_stderr)
{
    const char *path = lzs_test_path("log.json");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    lzs_log_set_format(LZS_LOG_JSON);
    LZS_ERROR("quote \" and newline\n and byte \x01");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    lzs_log_set_format(LZS_LOG_TEXT);

    struct lzs_buf b = LZS_BUF_INIT(4096);
    ASSERT_OK(lzs_file_read_all(path, &b, NULL), (lzs_error *)NULL);
    const char *line = lzs_buf_cstr(&b);
    ASSERT(strncmp(line, "{\"time\":\"", 9) == 0);
    ASSERT(strstr(line, "\"level\":\"error\""));
    ASSERT(strstr(line, "\"msg\":\"quote \\\" and newline\\n and byte \\u0001\"}\n"));
    lzs_buf_dispose(&b);
}

/* ---- buffers ------------------------------------------------------------------------------- */

LZS_TEST(test_base__buf_grows_until_max)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_buf b = LZS_BUF_INIT(16);
    ASSERT_STR_EQ(lzs_buf_cstr(&b), "");
    ASSERT_OK(lzs_buf_append_str(&b, "0123456789", &err), err);
    ASSERT_OK(lzs_buf_printf(&b, &err, "%d", 12345), err); /* 15 bytes + NUL = max */
    ASSERT_STR_EQ(lzs_buf_cstr(&b), "012345678912345");
    ASSERT_ERR(lzs_buf_append(&b, "x", 1, &err), err, EMSGSIZE, "limit of 16 bytes");
    ASSERT_EQ(b.len, 15); /* unchanged by the failed append */
    size_t len;
    char *s = lzs_buf_steal(&b, &len);
    ASSERT_EQ(len, 15);
    ASSERT(b.data == NULL && b.len == 0);
    free(s);
    lzs_buf_dispose(&b);
}

LZS_TEST(test_base__buf_overflowing_reserve_fails)
{
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    ASSERT_OK(lzs_buf_append(&b, "ab", 2, NULL), (lzs_error *)NULL);
    ASSERT_EQ(lzs_buf_reserve(&b, SIZE_MAX - 1, NULL), -EMSGSIZE);
    lzs_buf_dispose(&b);
}

LZS_TEST(test_base__buf_json_escapes)
{
    struct lzs_buf b = LZS_BUF_INIT(1024);
    const char in[] = "a\"b\\c\td\x7f\xc3\xa9\xff\xe2\x82";
    ASSERT_OK(lzs_buf_append_json_str(&b, in, sizeof(in) - 1, NULL), (lzs_error *)NULL);
    /* é stays UTF-8; lone 0xff and a truncated sequence become \u00XX of each byte */
    ASSERT_STR_EQ(lzs_buf_cstr(&b), "\"a\\\"b\\\\c\\td\\u007f\xc3\xa9\\u00ff\\u00e2\\u0082\"");
    lzs_buf_reset(&b);
    ASSERT_OK(lzs_buf_append_json_str(&b, "\xed\xa0\x80", 3, NULL), (lzs_error *)NULL);
    ASSERT_STR_EQ(lzs_buf_cstr(&b), "\"\\u00ed\\u00a0\\u0080\""); /* surrogates are not UTF-8 */
    lzs_buf_dispose(&b);
}

/* ---- digests ------------------------------------------------------------------------------- */

static const char abc_sha256[] =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

LZS_TEST(test_base__sha256_known_vector)
{
    struct lzs_digest d;
    char s[LZS_DIGEST_STR_MAX];
    ASSERT_OK(lzs_digest_buf(LZS_DIGEST_SHA256, "abc", 3, &d, NULL), (lzs_error *)NULL);
    ASSERT_STR_EQ(lzs_digest_format(&d, s), abc_sha256);
    ASSERT_OK(lzs_digest_buf(LZS_DIGEST_SHA512, "abc", 3, &d, NULL), (lzs_error *)NULL);
    ASSERT(strncmp(lzs_digest_format(&d, s), "sha512:ddaf35a193617aba", 23) == 0);
}

LZS_TEST(test_base__hasher_streams_and_resets)
{
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    struct lzs_digest d1, d2, want;
    ASSERT_OK(lzs_hasher_new(&h, LZS_DIGEST_SHA256, NULL), (lzs_error *)NULL);
    lzs_hasher_update(h, "a", 1);
    lzs_hasher_update(h, "bc", 2);
    lzs_hasher_final(h, &d1);
    lzs_hasher_update(h, "abc", 3);
    lzs_hasher_final(h, &d2);
    ASSERT_OK(lzs_digest_parse(&want, abc_sha256, NULL), (lzs_error *)NULL);
    ASSERT(lzs_digest_is_equal(&d1, &want));
    ASSERT(lzs_digest_is_equal(&d2, &want));
}

LZS_TEST(test_base__digest_parse_rejects_bad_input)
{
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        {"", "expected algorithm:hex"},
        {"sha256", "expected algorithm:hex"},
        {"sha256:abc", "needs 64 hex digits"},
        {"md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm"},
        {"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "lowercase"},
        {"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag", "lowercase"},
        {"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", "needs 64"},
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++) {
        lzs_autoerr lzs_error *err = NULL;
        struct lzs_digest d;
        ASSERT_ERR(lzs_digest_parse(&d, bad[i].in, &err), err, EINVAL, bad[i].why);
    }
}

LZS_TEST(test_base__digest_verify_mismatch_names_both)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_digest want;
    ASSERT_OK(lzs_digest_parse(&want, abc_sha256, &err), err);
    ASSERT_OK(lzs_digest_verify(&want, "abc", 3, &err), err);
    ASSERT_ERR(lzs_digest_verify(&want, "abd", 3, &err), err, EBADMSG, "expected sha256:ba78");
    ASSERT(strstr(err->msg, "got sha256:"));
}

/* ---- numbers ------------------------------------------------------------------------------- */

LZS_TEST(test_base__parse_sizes)
{
    static const struct {
        const char *in;
        uint64_t want;
    } good[] = {{"0", 0},         {"4096", 4096},     {"64K", 65536},
                {"64kib", 65536}, {"4M", 4 << 20},    {"1GiB", 1ull << 30},
                {"2MB", 2 << 20}, {"1t", 1ull << 40}, {"18446744073709551615", UINT64_MAX}};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(good); i++) {
        uint64_t v = 1;
        ASSERT_OK(lzs_parse_size(good[i].in, &v, NULL), (lzs_error *)NULL);
        ASSERT(v == good[i].want);
    }
    lzs_autoerr lzs_error *err = NULL;
    uint64_t v;
    ASSERT_ERR(lzs_parse_size("12Q", &v, &err), err, EINVAL, "unknown unit");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_parse_size("-1", &v, &err), err, EINVAL, "not a size");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_parse_size("18446744073709551616", &v, &err), err, ERANGE, "too large");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_parse_size("17179869184G", &v, &err), err, ERANGE, "too large");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_parse_u64("12 ", &v, &err), err, EINVAL, "not a whole number");
    ASSERT_OK(lzs_parse_u64("007", &v, NULL), (lzs_error *)NULL);
    ASSERT_EQ(v, 7);
}

LZS_TEST(test_base__checked_arithmetic)
{
    size_t out;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_size_add(&out, 1, 2, "x", &err), err);
    ASSERT_EQ(out, 3);
    ASSERT_ERR(lzs_size_mul(&out, SIZE_MAX / 2, 3, "tar entry", &err), err, EOVERFLOW,
               "tar entry: size overflow");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_size_add(&out, SIZE_MAX, 1, "header", &err), err, EOVERFLOW, "header");
    ASSERT(lzs_realloc_array(NULL, SIZE_MAX / 2, 4) == NULL);
    char buf[32];
    ASSERT_STR_EQ(lzs_format_size(1536, buf, sizeof(buf)), "1.5 KiB");
    ASSERT_STR_EQ(lzs_format_size(12, buf, sizeof(buf)), "12 B");
}

/* ---- files --------------------------------------------------------------------------------- */

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

LZS_TEST(test_base__atomic_file_commit_and_abort)
{
    lzs_autoerr lzs_error *err = NULL;
    const char *path = lzs_test_path("index.bin");
    ASSERT_OK(lzs_file_write_atomic(path, "hello", 5, 0640, &err), err);
    struct stat st;
    ASSERT(stat(path, &st) == 0);
    ASSERT_EQ(st.st_size, 5);
    ASSERT_EQ(st.st_mode & 0777, 0640);

    struct lzs_atomic_file f;
    ASSERT_OK(lzs_atomic_file_open(&f, path, 0644, &err), err);
    ASSERT_OK(lzs_write_full(f.fd, "half-written", 12, &err), err);
    lzs_atomic_file_dispose(&f); /* abandoned: the old content stays, no temp file left */
    struct lzs_buf b = LZS_BUF_INIT(64);
    ASSERT_OK(lzs_file_read_all(path, &b, &err), err);
    ASSERT_STR_EQ(lzs_buf_cstr(&b), "hello");
    lzs_buf_dispose(&b);
    ASSERT_EQ(count_entries(lzs_test_tmpdir()), 1);
}

LZS_TEST(test_base__atomic_write_into_missing_dir_fails)
{
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_ERR(lzs_file_write_atomic(lzs_test_path("no/such/dir/f"), "x", 1, 0644, &err), err,
               ENOENT, "create temporary file for");
}

LZS_TEST(test_base__pread_full_reports_short_file)
{
    lzs_autoerr lzs_error *err = NULL;
    const char *path = lzs_test_path("short");
    lzs_test_write_file(path, "0123456789", 10);
    lzs_autoclose int fd = open(path, O_RDONLY);
    char buf[8];
    ASSERT_OK(lzs_pread_full(fd, buf, 4, 6, &err), err);
    ASSERT_MEM_EQ(buf, "6789", 4);
    ASSERT_ERR(lzs_pread_full(fd, buf, 8, 6, &err), err, ENODATA, "4 bytes early");
    ASSERT_EQ(lzs_read_upto(fd, buf, 8, NULL), 8);
}

LZS_TEST(test_base__read_all_is_bounded)
{
    lzs_autoerr lzs_error *err = NULL;
    const char *path = lzs_test_path("big");
    char data[300];
    memset(data, 'x', sizeof(data));
    lzs_test_write_file(path, data, sizeof(data));
    struct lzs_buf fits = LZS_BUF_INIT(301), small = LZS_BUF_INIT(300);
    ASSERT_OK(lzs_file_read_all(path, &fits, &err), err); /* exactly fits, with the NUL */
    ASSERT_EQ(fits.len, 300);
    ASSERT_ERR(lzs_file_read_all(path, &small, &err), err, EMSGSIZE, path);
    lzs_buf_dispose(&fits);
    lzs_buf_dispose(&small);
    lzs_error_free(&err);
    ASSERT_ERR(lzs_file_read_all(lzs_test_path("absent"), &small, &err), err, ENOENT, "absent");
}

LZS_TEST(test_base__mkdir_p)
{
    lzs_autoerr lzs_error *err = NULL;
    const char *deep = lzs_test_path("a/b/c");
    ASSERT_OK(lzs_mkdir_p(deep, 0755, &err), err);
    ASSERT_OK(lzs_mkdir_p(deep, 0755, &err), err); /* idempotent */
    struct stat st;
    ASSERT(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    const char *file = lzs_test_path("plain");
    lzs_test_write_file(file, "x", 1);
    ASSERT_ERR(lzs_mkdir_p(file, 0755, &err), err, ENOTDIR, "not a directory");
}

LZS_TEST(test_base__version_is_set)
{
    ASSERT(strncmp(lzs_version(), "0.", 2) == 0);
}

LZS_TEST(test_base__log_set_option)
{
    ASSERT_EQ(lzs_log_set_option("level", "debug"), 0);
    ASSERT(lzs_log_is_enabled(LZS_LOG_DEBUG));
    ASSERT_EQ(lzs_log_set_option("level", "loud"), -EINVAL);
    ASSERT(lzs_log_is_enabled(LZS_LOG_DEBUG)); /* unchanged */
    ASSERT_EQ(lzs_log_set_option("format", "yaml"), -EINVAL);
    ASSERT_EQ(lzs_log_set_option("colour", "red"), -EINVAL);
    ASSERT_EQ(lzs_log_set_option("level", "info"), 0);
    ASSERT(!lzs_log_is_enabled(LZS_LOG_DEBUG));
}
