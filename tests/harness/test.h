/* A small unit-test harness: cases register themselves, run in order or by name.
 * A case that fails stops at its first failed assertion; the others still run.
 * Exit: 0 all passed, 1 any failed, 77 every case skipped (ctest SKIP_RETURN_CODE). */
#ifndef LZS_TEST_H
#define LZS_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef void (*lzs_test_fn)(void);

void lzs_test_register(const char *name, lzs_test_fn fn);
_Noreturn void lzs_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void lzs_test_skip(const char *reason);
/* A fresh directory for this case, removed with its contents after the case. */
const char *lzs_test_tmpdir(void);
/* Path of "name" inside lzs_test_tmpdir(); storage reused per call (4 slots per thread). */
const char *lzs_test_path(const char *name);
/* Write n bytes to a new file; fails the case on error. */
void lzs_test_write_file(const char *path, const void *p, size_t n);

#define LZS_TEST(name)                                              \
    static void name(void);                                         \
    __attribute__((constructor)) static void name##__register(void) \
    {                                                               \
        lzs_test_register(#name, name);                             \
    }                                                               \
    static void name(void)

#define FAIL(...) lzs_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(reason) lzs_test_skip(reason)

#define ASSERT(c)                             \
    do {                                      \
        if (!(c))                             \
            FAIL("assertion failed: %s", #c); \
    } while (0)

#define ASSERT_EQ(a, b)                                     \
    do {                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_)                                       \
            FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                     \
    do {                                                                                        \
        const char *a_ = (a), *b_ = (b);                                                        \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                  \
            FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                      \
    do {                                                                            \
        if (memcmp((a), (b), (n)) != 0)                                             \
            FAIL("%s and %s differ in their first %zu bytes", #a, #b, (size_t)(n)); \
    } while (0)

/* rc must be >= 0; otherwise report the lzs_error's message. */
#define ASSERT_OK(rc, err)                                                               \
    do {                                                                                 \
        long long rc_ = (long long)(rc);                                                 \
        if (rc_ < 0)                                                                     \
            FAIL("%s failed (%lld): %s", #rc, rc_, (err) ? (err)->msg : "no error set"); \
    } while (0)

/* rc must be -code and err must be set, its message containing needle. */
#define ASSERT_ERR(rc, err, code, needle)                                                     \
    do {                                                                                      \
        long long rc_ = (long long)(rc);                                                      \
        if (rc_ != -(long long)(code))                                                        \
            FAIL("%s: expected -%s, got %lld", #rc, #code, rc_);                              \
        if (!(err) || !(err)->msg || !strstr((err)->msg, (needle)))                           \
            FAIL("%s: error message \"%s\" lacks \"%s\"", #rc, (err) ? (err)->msg : "(none)", \
                 (needle));                                                                   \
    } while (0)

#endif
