/* base: errors, logging, bounded buffers, digests, fd helpers, checked arithmetic, cleanup.
 *
 * The only module every other module uses. It owns libcrypto (sha256/sha512 for OCI digests).
 * Nothing here prints or exits except the default log sink, which writes to stderr. */
#ifndef LZS_BASE_H
#define LZS_BASE_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define LZS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define LZS_NODISCARD __attribute__((warn_unused_result))
#define LZS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- version ------------------------------------------------------------------------------- */

/* "0.1.0 (git abc1234)"; static storage. */
const char *lzs_version(void);

/* ---- errors (STYLE.md "Errors") ------------------------------------------------------------ */

/* code: positive errno. http: HTTP status that caused it, or 0. msg: one line, lower case. */
typedef struct lzs_error {
    int code;
    int http;
    char *msg;
} lzs_error;

/* Set *err (which must be NULL) to a new error; returns -code. err may be NULL: then only the
 * return value carries the failure. */
int lzs_error_set(lzs_error **err, int code, const char *fmt, ...) LZS_PRINTF(3, 4);
/* Same, recording the HTTP status too. */
int lzs_error_set_http(lzs_error **err, int code, int http, const char *fmt, ...) LZS_PRINTF(4, 5);
/* Same as lzs_error_set, appending ": <strerror(code)>". */
int lzs_error_set_sys(lzs_error **err, int code, const char *fmt, ...) LZS_PRINTF(3, 4);
/* Prefix context to an error already set: "context: old message"; returns -code.
 * With err NULL (or *err NULL) nothing is known about the failure: returns -EIO. Hot paths that
 * run with err NULL return their own rc instead of wrapping. */
int lzs_error_wrap(lzs_error **err, const char *fmt, ...) LZS_PRINTF(2, 3);
/* Free *err and set it to NULL; NULL-safe at both levels. */
void lzs_error_free(lzs_error **err);
/* The message, or "unknown error" for NULL. Borrowed from e. */
const char *lzs_error_msg(const lzs_error *e);
/* strerror_r into buf, always NUL-terminated; returns buf. */
const char *lzs_strerror(int code, char *buf, size_t len);

/* ---- logging -------------------------------------------------------------------------------- */

enum lzs_log_level { LZS_LOG_ERROR, LZS_LOG_WARN, LZS_LOG_INFO, LZS_LOG_DEBUG, LZS_LOG_TRACE };
enum lzs_log_format { LZS_LOG_TEXT, LZS_LOG_JSON };

/* A sink receives one fully formatted message (no newline). It may be called from any thread,
 * one call at a time (the logger serialises). */
typedef void (*lzs_log_sink)(enum lzs_log_level level, const char *msg, void *data);

void lzs_log_set_level(enum lzs_log_level level);
bool lzs_log_is_enabled(enum lzs_log_level level);
/* The built-in stderr sink: text "2026-01-02T03:04:05.678Z info msg" or one JSON object a line. */
void lzs_log_set_format(enum lzs_log_format format);
/* Replace the sink (NULL restores stderr). */
void lzs_log_set_sink(lzs_log_sink sink, void *data);
/* "error", "warn", "info", "debug", "trace" -> level; -EINVAL otherwise. */
int lzs_log_level_parse(const char *s, enum lzs_log_level *out);
const char *lzs_log_level_name(enum lzs_log_level level);
/* Apply a command-line style option: name "level" (error|warn|info|debug|trace) or "format"
 * (text|json). -EINVAL for an unknown name or value; nothing changes then. */
int lzs_log_set_option(const char *name, const char *value);
void lzs_log(enum lzs_log_level level, const char *fmt, ...) LZS_PRINTF(2, 3);

#define LZS_LOG(lvl, ...)              \
    do {                               \
        if (lzs_log_is_enabled(lvl))   \
            lzs_log(lvl, __VA_ARGS__); \
    } while (0)
#define LZS_ERROR(...) LZS_LOG(LZS_LOG_ERROR, __VA_ARGS__)
#define LZS_WARN(...) LZS_LOG(LZS_LOG_WARN, __VA_ARGS__)
#define LZS_INFO(...) LZS_LOG(LZS_LOG_INFO, __VA_ARGS__)
#define LZS_DEBUG(...) LZS_LOG(LZS_LOG_DEBUG, __VA_ARGS__)
#define LZS_TRACE(...) LZS_LOG(LZS_LOG_TRACE, __VA_ARGS__)

/* ---- checked arithmetic (STYLE.md rule 5) ------------------------------------------------- */

/* true on overflow; *out is then unspecified. Work for any integer types. */
#define lzs_add_overflow(a, b, out) __builtin_add_overflow((a), (b), (out))
#define lzs_mul_overflow(a, b, out) __builtin_mul_overflow((a), (b), (out))
#define lzs_sub_overflow(a, b, out) __builtin_sub_overflow((a), (b), (out))

/* *out = a + b, or -EOVERFLOW with an error naming what. */
int lzs_size_add(size_t *out, size_t a, size_t b, const char *what, lzs_error **err);
int lzs_size_mul(size_t *out, size_t a, size_t b, const char *what, lzs_error **err);

/* Decimal unsigned integer, whole string, no sign, no overflow. */
int lzs_parse_u64(const char *s, uint64_t *out, lzs_error **err);
/* A size: "4096", "64K", "4M", "1G", "1GiB", "512KiB", "2MB" (powers of 1024). */
int lzs_parse_size(const char *s, uint64_t *out, lzs_error **err);
/* "1.5 MiB"-style rendering into buf; returns buf. */
const char *lzs_format_size(uint64_t n, char *buf, size_t len);

/* ---- cleanup and ownership (STYLE.md rule 7) ---------------------------------------------- */

#define lzs_cleanup(f) __attribute__((cleanup(f)))

static inline void lzs_freep(void *p)
{
    free(*(void **)p);
}

static inline void lzs_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void lzs_error_freep(lzs_error **e)
{
    lzs_error_free(e);
}

#define lzs_autofree lzs_cleanup(lzs_freep)
#define lzs_autoclose lzs_cleanup(lzs_closep)
#define lzs_autoerr lzs_cleanup(lzs_error_freep)

/* Define `static inline void NAMEp(TYPE **p)` calling FREE(*p) for use with lzs_cleanup. */
#define LZS_DEFINE_CLEANUP(type, free_fn)   \
    static inline void free_fn##p(type **p) \
    {                                       \
        free_fn(*p);                        \
    }

/* Take ownership: return *pp and set it to NULL. */
static inline void *lzs_steal_ptr(void *pp)
{
    void **p = pp;
    void *v = *p;
    *p = NULL;
    return v;
}

static inline int lzs_steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

/* malloc/calloc/realloc that abort on failure are deliberately absent: allocation failures are
 * errors like any other. These only check the multiplication. */
void *lzs_calloc_array(size_t n, size_t size);
void *lzs_realloc_array(void *p, size_t n, size_t size);
/* strdup that returns NULL for NULL. */
char *lzs_strdup0(const char *s);

/* ---- reference counts for objects that cross threads ------------------------------------ */

struct lzs_refcount {
    atomic_uint n;
};

static inline void lzs_refcount_init(struct lzs_refcount *r)
{
    atomic_init(&r->n, 1);
}

static inline void lzs_refcount_inc(struct lzs_refcount *r)
{
    atomic_fetch_add_explicit(&r->n, 1, memory_order_relaxed);
}

/* true when this was the last reference. */
static inline bool lzs_refcount_dec(struct lzs_refcount *r)
{
    return atomic_fetch_sub_explicit(&r->n, 1, memory_order_acq_rel) == 1;
}

/* ---- bounded buffers (curl's dynbuf) ------------------------------------------------------ */

/* A growable byte buffer that refuses to grow past max. data is always NUL-terminated (the NUL
 * is not counted in len), so text can be used as a C string. */
struct lzs_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

#define LZS_BUF_INIT(max_)                              \
    {                                                   \
        .data = NULL, .len = 0, .cap = 0, .max = (max_) \
    }

void lzs_buf_init(struct lzs_buf *b, size_t max);
void lzs_buf_dispose(struct lzs_buf *b);
void lzs_buf_reset(struct lzs_buf *b);
/* Make room for extra more bytes; -EMSGSIZE past max, -ENOMEM. */
int lzs_buf_reserve(struct lzs_buf *b, size_t extra, lzs_error **err);
int lzs_buf_append(struct lzs_buf *b, const void *p, size_t n, lzs_error **err);
int lzs_buf_append_str(struct lzs_buf *b, const char *s, lzs_error **err);
int lzs_buf_printf(struct lzs_buf *b, lzs_error **err, const char *fmt, ...) LZS_PRINTF(3, 4);
int lzs_buf_vprintf(struct lzs_buf *b, lzs_error **err, const char *fmt, va_list ap)
    LZS_PRINTF(3, 0);
/* Append s as a JSON string literal, quotes included, escaping as RFC 8259 requires; bytes that
 * are not valid UTF-8 are written as \u00XX of the byte. */
int lzs_buf_append_json_str(struct lzs_buf *b, const char *s, size_t n, lzs_error **err);
/* Text of the buffer ("" when empty); borrowed until the next change. */
const char *lzs_buf_cstr(const struct lzs_buf *b);
/* Hand the data to the caller (never NULL: "" when empty, or NULL only on ENOMEM) and reset. */
char *lzs_buf_steal(struct lzs_buf *b, size_t *len);

/* ---- digests ------------------------------------------------------------------------------- */

enum lzs_digest_algo { LZS_DIGEST_SHA256 = 1, LZS_DIGEST_SHA512 = 2 };

#define LZS_SHA256_LEN 32
#define LZS_DIGEST_MAX_LEN 64
/* "sha512:" + 128 hex + NUL */
#define LZS_DIGEST_STR_MAX 136

struct lzs_digest {
    enum lzs_digest_algo algo;
    uint8_t bytes[LZS_DIGEST_MAX_LEN];
};

/* Number of bytes of the algorithm's digest (32 or 64). */
size_t lzs_digest_len(enum lzs_digest_algo algo);
/* Parse "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>" (OCI image-spec rules:
 * registered algorithms must use lowercase hex). -EINVAL with a message quoting the input. */
int lzs_digest_parse(struct lzs_digest *out, const char *s, lzs_error **err);
/* Write "algo:hex" into buf (LZS_DIGEST_STR_MAX bytes); returns buf. */
const char *lzs_digest_format(const struct lzs_digest *d, char buf[LZS_DIGEST_STR_MAX]);
bool lzs_digest_is_equal(const struct lzs_digest *a, const struct lzs_digest *b);
/* Hex of n bytes into out (2n+1 bytes). */
void lzs_hex_encode(const uint8_t *p, size_t n, char *out);

/* A streaming hasher. Not thread-safe; one per thread or request. */
typedef struct lzs_hasher lzs_hasher;

int lzs_hasher_new(lzs_hasher **out, enum lzs_digest_algo algo, lzs_error **err);
void lzs_hasher_update(lzs_hasher *h, const void *p, size_t n);
/* Finish into out, then reset so the hasher can be reused. */
void lzs_hasher_final(lzs_hasher *h, struct lzs_digest *out);
void lzs_hasher_free(lzs_hasher *h);
LZS_DEFINE_CLEANUP(lzs_hasher, lzs_hasher_free)

/* One-shot digest of a buffer. */
int lzs_digest_buf(enum lzs_digest_algo algo, const void *p, size_t n, struct lzs_digest *out,
                   lzs_error **err);
/* -EBADMSG "digest mismatch: expected X, got Y" unless the buffer hashes to expect. */
int lzs_digest_verify(const struct lzs_digest *expect, const void *p, size_t n, lzs_error **err);

/* ---- fd and file helpers ------------------------------------------------------------------- */

/* Retry on EINTR and short transfers. pread_full fails with -ENODATA when the file ends first. */
int lzs_write_full(int fd, const void *p, size_t n, lzs_error **err);
int lzs_pwrite_full(int fd, const void *p, size_t n, uint64_t off, lzs_error **err);
int lzs_pread_full(int fd, void *p, size_t n, uint64_t off, lzs_error **err);
/* Read up to n bytes, stopping early only at end of file; returns the count. */
ssize_t lzs_read_upto(int fd, void *p, size_t n, lzs_error **err);
/* Append everything readable from fd to b (bounded by b->max). */
int lzs_read_all(int fd, struct lzs_buf *b, lzs_error **err);
/* Whole file into b (bounded by b->max). */
int lzs_file_read_all(const char *path, struct lzs_buf *b, lzs_error **err);
/* mkdir -p; existing directories are fine. */
int lzs_mkdir_p(const char *path, mode_t mode, lzs_error **err);
/* Open (creating, with mode) the lock file at path and take an exclusive flock without waiting;
 * *fd holds it. -EBUSY while another open file description holds it: err is left untouched, the
 * caller says who is in the way. */
int lzs_lock_try(const char *path, mode_t mode, int *fd, lzs_error **err);

/* A file that becomes visible under its final name only when complete (temp + fsync + rename),
 * never half-written. */
struct lzs_atomic_file {
    int fd;         /* write here */
    char *path;     /* final name */
    char *tmp_path; /* the temporary name in the same directory */
};

int lzs_atomic_file_open(struct lzs_atomic_file *f, const char *path, mode_t mode, lzs_error **err);
/* fsync, rename over path, fsync the directory; the file is closed either way. */
int lzs_atomic_file_commit(struct lzs_atomic_file *f, lzs_error **err);
/* Remove the temporary file if not committed; safe after commit and on a zeroed struct. */
void lzs_atomic_file_dispose(struct lzs_atomic_file *f);
int lzs_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode, lzs_error **err);

/* ---- an open-addressing hash of strings whose keys live outside the table ----------------- */

/* The key of a stored value (values are uint32_t; the table stores value + 1, 0 is empty). */
typedef const char *(*lzs_strhash_key_fn)(const void *ctx, uint32_t value);

struct lzs_strhash {
    uint32_t *slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
    lzs_strhash_key_fn key;
    const void *ctx;
};

void lzs_strhash_init(struct lzs_strhash *h, lzs_strhash_key_fn key, const void *ctx);
void lzs_strhash_dispose(struct lzs_strhash *h);
/* Room for one more value; -ENOMEM. */
int lzs_strhash_reserve(struct lzs_strhash *h, lzs_error **err);
/* The value stored under the len bytes at key (which need no NUL), or false. */
bool lzs_strhash_get(const struct lzs_strhash *h, const char *key, size_t len, uint32_t *value);
/* Store value under its key, which must not be present yet; reserve first. */
void lzs_strhash_put(struct lzs_strhash *h, uint32_t value);

#endif
