/* Unit tests for lib/cache. */
#include "cache/cache.h"
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CH LZS_CACHE_CHUNK

/* The layer's content: a byte that depends on its offset. */
static uint8_t pat(uint64_t off)
{
    return (uint8_t)((off * 2654435761u) >> 13 ^ off >> 16);
}

static uint8_t *pattern(uint64_t off, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ASSERT(p);
    for (size_t i = 0; i < n; i++)
        p[i] = pat(off + i);
    return p;
}

static void digest_of(const char *s, struct lzs_digest *d)
{
    ASSERT_OK(lzs_digest_buf(LZS_DIGEST_SHA256, s, strlen(s), d, NULL), (lzs_error *)NULL);
}

static const char *root(void)
{
    return lzs_test_path("cache");
}

/* Write pattern bytes [off, off+n) to l. */
static void put(lzs_cache_layer *l, uint64_t off, size_t n)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_autofree uint8_t *p = pattern(off, n);
    ASSERT_OK(lzs_cache_write(l, off, p, n, &err), err);
}

/* [off, off+n) reads back as the pattern. */
static void check(lzs_cache_layer *l, uint64_t off, size_t n)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_autofree uint8_t *want = pattern(off, n);
    lzs_autofree uint8_t *got = malloc(n ? n : 1);
    ASSERT(got);
    ASSERT_OK(lzs_cache_read(l, off, got, n, &err), err);
    ASSERT_MEM_EQ(got, want, n);
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *layer_path(const struct lzs_digest *d, const char *file)
{
    static char buf[4096];
    char s[LZS_DIGEST_STR_MAX];
    lzs_digest_format(d, s);
    snprintf(buf, sizeof(buf), "%s/layers/sha256/%s%s%s", root(), s + 7, file ? "/" : "",
             file ? file : "");
    return buf;
}

LZS_TEST(test_cache__write_read_round_trip)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct stat st;
    ASSERT_EQ(stat(root(), &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0700);
    struct lzs_digest d;
    digest_of("round trip", &d);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 3 * CH + 100, 4, &l, &err), err);
    uint8_t buf[16];
    ASSERT_EQ(lzs_cache_read(l, 0, buf, sizeof(buf), &err), -ENODATA);
    ASSERT(err == NULL); /* a miss is not an error */
    put(l, CH, CH);
    check(l, CH, CH);
    check(l, CH + 10, 100);
    ASSERT(lzs_cache_is_present(l, CH, CH));
    ASSERT(!lzs_cache_is_present(l, CH, CH + 1));
    ASSERT(!lzs_cache_is_present(l, CH - 1, 2));
    ASSERT(lzs_cache_is_present(l, 0, 0));
    ASSERT_EQ(lzs_cache_read(l, CH - 1, buf, 2, &err), -ENODATA);
    uint64_t present, size;
    lzs_cache_layer_stats(l, &present, &size);
    ASSERT_EQ(present, CH);
    ASSERT_EQ(size, 3 * CH + 100);
    ASSERT(lzs_cache_layer_fd(l) >= 0);
}

LZS_TEST(test_cache__ranges_past_the_end_are_refused)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("range", &d);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 1000, 0, &l, &err), err);
    uint8_t buf[16] = {0};
    ASSERT_ERR(lzs_cache_write(l, 990, buf, 11, &err), err, ERANGE, "past the end (1000 bytes)");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_cache_read(l, UINT64_MAX, buf, 2, &err), err, ERANGE, "past the end");
    ASSERT(!lzs_cache_is_present(l, 999, 2));
}

LZS_TEST(test_cache__partial_chunks_are_not_marked)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("partial", &d);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 4 * CH, 0, &l, &err), err);
    put(l, 100, CH); /* covers no chunk fully */
    ASSERT(!lzs_cache_is_present(l, 0, 1));
    ASSERT(!lzs_cache_is_present(l, CH, 1));
    put(l, 0, 100); /* pieces of a chunk are not merged */
    ASSERT(!lzs_cache_is_present(l, 0, 1));
    put(l, CH / 2, 2 * CH); /* covers chunk 1 only */
    ASSERT(!lzs_cache_is_present(l, 0, 1));
    ASSERT(lzs_cache_is_present(l, CH, CH));
    ASSERT(!lzs_cache_is_present(l, 2 * CH, 1));
    put(l, 0, CH);
    check(l, 0, 2 * CH);
    uint64_t present, size;
    lzs_cache_layer_stats(l, &present, &size);
    ASSERT_EQ(present, 2 * CH);
}

LZS_TEST(test_cache__present_chunks_are_never_overwritten)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("keep", &d);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 4 * CH, 0, &l, &err), err);
    put(l, CH, CH);
    put(l, 3 * CH, CH);
    /* other bytes over all of it: only the absent chunks 0 and 2 take them */
    lzs_autofree uint8_t *zeros = calloc(1, 4 * CH);
    ASSERT(zeros);
    ASSERT_OK(lzs_cache_write(l, 0, zeros, 4 * CH, &err), err);
    check(l, CH, CH);
    check(l, 3 * CH, CH);
    uint8_t got[CH];
    ASSERT_OK(lzs_cache_read(l, 2 * CH, got, CH, &err), err);
    ASSERT_MEM_EQ(got, zeros, CH);
    ASSERT(lzs_cache_is_present(l, 0, 4 * CH));
    /* once invalidated, a chunk takes new bytes again */
    lzs_cache_invalidate(l, CH, 1);
    ASSERT_OK(lzs_cache_write(l, CH, zeros, CH, &err), err);
    ASSERT_OK(lzs_cache_read(l, CH, got, CH, &err), err);
    ASSERT_MEM_EQ(got, zeros, CH);
}

LZS_TEST(test_cache__invalidate_clears_every_touched_chunk)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("invalidate", &d);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 4 * CH + 7, 0, &l, &err), err);
    put(l, 0, 4 * CH + 7);
    lzs_cache_invalidate(l, CH + 5, CH); /* touches chunks 1 and 2 */
    ASSERT(lzs_cache_is_present(l, 0, CH));
    ASSERT(!lzs_cache_is_present(l, CH, 1));
    ASSERT(!lzs_cache_is_present(l, 3 * CH - 1, 1));
    ASSERT(lzs_cache_is_present(l, 3 * CH, CH + 7));
    lzs_cache_invalidate(l, 4 * CH, UINT64_MAX); /* clipped at the end, no overflow */
    ASSERT(!lzs_cache_is_present(l, 4 * CH, 1));
    lzs_cache_invalidate(l, 5 * CH, 10); /* past the end: nothing */
    uint64_t present, size;
    lzs_cache_layer_stats(l, &present, &size);
    ASSERT_EQ(present, 2 * CH);
}

LZS_TEST(test_cache__write_at_the_end_completes_the_last_chunk)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("last chunk", &d);
    uint64_t size = 2 * CH + 100;
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, size, 0, &l, &err), err);
    put(l, 2 * CH + 50, 50); /* ends at the size, but starts mid-chunk */
    ASSERT(!lzs_cache_is_present(l, size - 1, 1));
    put(l, 2 * CH, 100);
    check(l, 2 * CH, 100);
    put(l, CH + 1, CH - 1 + 100); /* chunk 1 is not covered, chunk 2 already was */
    ASSERT(!lzs_cache_is_present(l, CH, 1));
    uint64_t present, sz;
    lzs_cache_layer_stats(l, &present, &sz);
    ASSERT_EQ(present, 100);
    put(l, 0, size);
    check(l, 0, size);
    lzs_cache_layer_stats(l, &present, &sz);
    ASSERT_EQ(present, size);
}

LZS_TEST(test_cache__same_digest_same_layer)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("shared", &d);
    lzs_cache_layer *a = NULL, *b = NULL, *x = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, CH, 1, &a, &err), err);
    ASSERT_OK(lzs_cache_layer_open(c, &d, CH, 1, &b, &err), err);
    ASSERT(a == b);
    ASSERT_ERR(lzs_cache_layer_open(c, &d, CH + 1, 1, &x, &err), err, EINVAL, "asked for");
    put(a, 0, CH);
    ASSERT(lzs_cache_layer_unref(a) == NULL);
    check(b, 0, CH);                    /* still open through b */
    lzs_cache_close(lzs_steal_ptr(&c)); /* the layer keeps the cache alive */
    ASSERT(lzs_cache_layer_ref(b) == b);
    lzs_cache_layer_unref(b);
    lzs_cache_layer_unref(b);
    lzs_cache_layer_unref(NULL);
    lzs_cache_close(NULL);
}

LZS_TEST(test_cache__root_is_locked_by_one_owner)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    lzs_cache *c2 = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    ASSERT_ERR(lzs_cache_open(&c2, root(), 0, &err), err, EBUSY, "in use");
}

struct captured {
    pthread_mutex_t lock;
    int warnings;
    char msg[512];
};

static void capture_sink(enum lzs_log_level level, const char *msg, void *data)
{
    struct captured *c = data;
    pthread_mutex_lock(&c->lock);
    if (level == LZS_LOG_WARN) {
        c->warnings++;
        snprintf(c->msg, sizeof(c->msg), "%s", msg);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Open, write the first two chunks and mark item 3, then close everything. */
static void fill_and_close(const struct lzs_digest *d, uint64_t size)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, d, size, 10, &l, &err), err);
    put(l, 0, 2 * CH);
    ASSERT(!lzs_cache_item_is_verified(l, 3));
    lzs_cache_item_set_verified(l, 3);
    lzs_cache_item_set_verified(l, 10); /* out of range: ignored */
    ASSERT(lzs_cache_item_is_verified(l, 3));
    ASSERT(!lzs_cache_item_is_verified(l, 10));
}

LZS_TEST(test_cache__persists_across_reopen)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_digest d;
    digest_of("persist", &d);
    fill_and_close(&d, 5 * CH + 7);
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 5 * CH + 7, 10, &l, &err), err);
    check(l, 0, 2 * CH);
    ASSERT(!lzs_cache_is_present(l, 2 * CH, 1));
    ASSERT(lzs_cache_item_is_verified(l, 3));
    ASSERT(!lzs_cache_item_is_verified(l, 2));
    uint64_t present, size;
    lzs_cache_layer_stats(l, &present, &size);
    ASSERT_EQ(present, 2 * CH);
    put(l, 5 * CH, 7);
    ASSERT_OK(lzs_cache_layer_sync(l, &err), err);
    ASSERT_OK(lzs_cache_layer_sync(l, &err), err); /* clean: nothing to do */
    lzs_cache_layer_unref(l);

    /* Another size: the old map describes another layer, start empty. */
    struct captured cap = {.lock = PTHREAD_MUTEX_INITIALIZER};
    lzs_log_set_sink(capture_sink, &cap);
    int rc = lzs_cache_layer_open(c, &d, 6 * CH, 10, &l, &err);
    lzs_log_set_sink(NULL, NULL);
    ASSERT_OK(rc, err);
    ASSERT_EQ(cap.warnings, 1);
    ASSERT(strstr(cap.msg, "layer size or item count differs"));
    ASSERT(!lzs_cache_is_present(l, 0, 1));
    ASSERT(!lzs_cache_item_is_verified(l, 3));
    lzs_cache_layer_unref(l);
}

/* Reopen d after damaging its map with damage(); nothing may be present afterwards. */
static void reopen_damaged(const struct lzs_digest *d, void (*damage)(const char *map),
                           const char *why)
{
    lzs_autoerr lzs_error *err = NULL;
    fill_and_close(d, 3 * CH);
    damage(layer_path(d, "map"));
    struct captured cap = {.lock = PTHREAD_MUTEX_INITIALIZER};
    lzs_log_set_sink(capture_sink, &cap);
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    lzs_cache_layer *l = NULL;
    int rc = lzs_cache_layer_open(c, d, 3 * CH, 10, &l, &err);
    lzs_log_set_sink(NULL, NULL);
    ASSERT_OK(rc, err);
    ASSERT_EQ(cap.warnings, 1);
    if (!strstr(cap.msg, "discarding cached data") || !strstr(cap.msg, why))
        FAIL("warning \"%s\" lacks \"%s\"", cap.msg, why);
    uint8_t b;
    ASSERT_EQ(lzs_cache_read(l, 0, &b, 1, &err), -ENODATA);
    ASSERT(!lzs_cache_item_is_verified(l, 3));
    uint64_t present, size;
    lzs_cache_layer_stats(l, &present, &size);
    ASSERT_EQ(present, 0);
    struct stat st;
    ASSERT_EQ(stat(layer_path(d, "data"), &st), 0);
    ASSERT_EQ(st.st_size, 3 * CH);
    ASSERT_EQ(st.st_blocks, 0); /* the old data is dropped */
    lzs_cache_layer_unref(l);
}

static void flip_a_bit(const char *map)
{
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_file_read_all(map, &b, NULL), (lzs_error *)NULL);
    ASSERT(b.len > 64);
    b.data[64] ^= 0x04; /* the present bitmap: claim chunk 2 */
    ASSERT_OK(lzs_file_write_atomic(map, b.data, b.len, 0600, NULL), (lzs_error *)NULL);
    lzs_buf_dispose(&b);
}

static void cut_short(const char *map)
{
    ASSERT_EQ(truncate(map, 70), 0);
}

static void remove_data(const char *map)
{
    char data[4096];
    snprintf(data, sizeof(data), "%.*sdata", (int)(strlen(map) - 3), map);
    ASSERT_EQ(unlink(data), 0);
}

LZS_TEST(test_cache__corrupt_map_starts_empty)
{
    struct lzs_digest d;
    digest_of("corrupt", &d);
    reopen_damaged(&d, flip_a_bit, "checksum mismatch");
}

LZS_TEST(test_cache__truncated_map_starts_empty)
{
    struct lzs_digest d;
    digest_of("truncated", &d);
    reopen_damaged(&d, cut_short, "bad length");
}

LZS_TEST(test_cache__missing_data_starts_empty)
{
    struct lzs_digest d;
    digest_of("missing data", &d);
    reopen_damaged(&d, remove_data, "expected 196608");
}

/* ---- threads -------------------------------------------------------------------------------- */

#define THREADS 8
#define CONC_SIZE (64 * CH + 12345)

struct worker {
    pthread_t tid;
    lzs_cache_layer *l;
    unsigned seed;
    int failures;
    int hits;
    char msg[256];
};

static uint64_t next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

/* Random overlapping ranges: a hit must read the pattern; a miss writes it. */
static void *worker_run(void *arg)
{
    struct worker *w = arg;
    uint8_t *buf = malloc(4 * CH);
    for (int i = 0; i < 400 && buf && w->failures == 0; i++) {
        uint64_t off = next_rand(&w->seed) % CONC_SIZE;
        size_t n = (size_t)(next_rand(&w->seed) % (4 * CH));
        if (off + n > CONC_SIZE)
            n = (size_t)(CONC_SIZE - off);
        lzs_error *err = NULL;
        int rc = lzs_cache_read(w->l, off, buf, n, &err);
        if (rc == 0) {
            w->hits++;
            for (size_t k = 0; k < n; k++)
                if (buf[k] != pat(off + k)) {
                    snprintf(w->msg, sizeof(w->msg), "byte %" PRIu64 " differs", off + k);
                    w->failures++;
                    break;
                }
        } else if (rc == -ENODATA) {
            for (size_t k = 0; k < n; k++)
                buf[k] = pat(off + k);
            rc = lzs_cache_write(w->l, off, buf, n, &err);
        }
        if (rc < 0 && rc != -ENODATA) {
            snprintf(w->msg, sizeof(w->msg), "rc %d: %s", rc, lzs_error_msg(err));
            w->failures++;
        }
        lzs_error_free(&err);
    }
    free(buf);
    return NULL;
}

LZS_TEST(test_cache__concurrent_writers_and_readers)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("threads", &d);
    struct worker w[THREADS] = {0};
    for (int i = 0; i < THREADS; i++) {
        /* Each thread opens the layer itself: all get the same object. */
        ASSERT_OK(lzs_cache_layer_open(c, &d, CONC_SIZE, 0, &w[i].l, &err), err);
        w[i].seed = 7919u * (unsigned)(i + 1);
        ASSERT_EQ(pthread_create(&w[i].tid, NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_join(w[i].tid, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures)
            FAIL("thread %d: %s", i, w[i].msg);
    int hits = 0;
    for (int i = 0; i < THREADS; i++)
        hits += w[i].hits;
    ASSERT(hits > 0);
    lzs_cache_layer *l = w[0].l;
    for (int i = 1; i < THREADS; i++) {
        ASSERT(w[i].l == l);
        lzs_cache_layer_unref(w[i].l);
    }
    uint64_t present, size;
    lzs_cache_layer_stats(l, &present, &size);
    ASSERT(present > 0);
    for (uint64_t off = 0; off < CONC_SIZE; off += CH) /* every present chunk is right */
        if (lzs_cache_is_present(l, off, 1))
            check(l, off, (size_t)(CONC_SIZE - off < CH ? CONC_SIZE - off : CH));
    put(l, 0, CONC_SIZE);
    check(l, 0, CONC_SIZE);
    lzs_cache_layer_unref(l);
}

/* ---- eviction and removal ------------------------------------------------------------------- */

/* Open d, write size bytes of it, close. */
static void use_layer(lzs_cache *c, const struct lzs_digest *d, uint64_t size)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, d, size, 0, &l, &err), err);
    put(l, 0, size);
}

LZS_TEST(test_cache__evicts_least_recently_used_closed_layers)
{
    lzs_autoerr lzs_error *err = NULL;
    const uint64_t mib = 1 << 20;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 2 * mib + mib / 2, &err), err);
    struct lzs_digest a, b, cc, d;
    digest_of("a", &a);
    digest_of("b", &b);
    digest_of("c", &cc);
    digest_of("d", &d);
    use_layer(c, &a, mib);
    use_layer(c, &b, mib);
    use_layer(c, &cc, mib);
    use_layer(c, &a, mib); /* a is now the most recent of the closed ones */
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *open_d = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, mib, 0, &open_d, &err), err);
    put(open_d, 0, mib);
    uint64_t usage = lzs_cache_usage(c);
    if (usage < 4 * mib || usage > 4 * mib + 64 * 1024)
        FAIL("usage %" PRIu64 ", expected about 4 MiB", usage);
    ASSERT_EQ(lzs_cache_evict(c, &err), 2); /* b then c */
    ASSERT(dir_exists(layer_path(&a, NULL)));
    ASSERT(!dir_exists(layer_path(&b, NULL)));
    ASSERT(!dir_exists(layer_path(&cc, NULL)));
    ASSERT(dir_exists(layer_path(&d, NULL)));
    ASSERT(lzs_cache_usage(c) <= 2 * mib + mib / 2);
    ASSERT_EQ(lzs_cache_evict(c, &err), 0); /* under the cap */
}

LZS_TEST(test_cache__open_layers_are_never_evicted)
{
    lzs_autoerr lzs_error *err = NULL;
    const uint64_t mib = 1 << 20;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 1, &err), err);
    struct lzs_digest a, d;
    digest_of("a", &a);
    digest_of("d", &d);
    use_layer(c, &a, mib);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, mib, 0, &l, &err), err);
    put(l, 0, mib);
    ASSERT_EQ(lzs_cache_evict(c, &err), 1);
    ASSERT(!dir_exists(layer_path(&a, NULL)));
    ASSERT(dir_exists(layer_path(&d, NULL)));
    ASSERT(lzs_cache_usage(c) >= mib);
    check(l, 0, mib);
    lzs_cache_layer_unref(lzs_steal_ptr(&l));
    ASSERT_EQ(lzs_cache_evict(c, &err), 1);
    ASSERT_EQ(lzs_cache_usage(c), 0);
}

/* ROOT/SUB/sha256/HEX-of-d + suffix, written with n bytes and the given age (seconds). */
static void side_file(const char *sub, const struct lzs_digest *d, const char *suffix, size_t n,
                      int age)
{
    char path[4200], ds[LZS_DIGEST_STR_MAX], cmd[4400];
    lzs_digest_format(d, ds);
    snprintf(path, sizeof(path), "%s/%s/sha256", root(), sub);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
    ASSERT_EQ(system(cmd), 0);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s%s", strchr(ds, ':') + 1,
             suffix);
    uint8_t *buf = pattern(0, n);
    ASSERT_OK(lzs_file_write_atomic(path, buf, n, 0600, NULL), (lzs_error *)NULL);
    free(buf);
    struct timespec ts[2] = {{.tv_sec = time(NULL) - age}, {.tv_sec = time(NULL) - age}};
    ASSERT_EQ(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool side_exists(const char *sub, const struct lzs_digest *d, const char *suffix)
{
    char path[4200], ds[LZS_DIGEST_STR_MAX];
    lzs_digest_format(d, ds);
    snprintf(path, sizeof(path), "%s/%s/sha256/%s%s", root(), sub, strchr(ds, ':') + 1, suffix);
    return access(path, F_OK) == 0;
}

/* Kept indexes and whole layers count in the usage and go by their last use; a whole layer's
 * files go with its cache and stay while it is open; files being written are left alone. */
LZS_TEST(test_cache__evicts_kept_indexes_and_whole_layers)
{
    lzs_autoerr lzs_error *err = NULL;
    const uint64_t mib = 1 << 20;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 5 * mib, &err), err);
    ASSERT(strstr(lzs_cache_indexes_dir(c), "/indexes"));
    ASSERT(strstr(lzs_cache_whole_dir(c), "/whole"));
    struct lzs_digest old_idx, new_idx, w, open_w, orphan;
    digest_of("old index", &old_idx);
    digest_of("new index", &new_idx);
    digest_of("whole", &w);
    digest_of("whole, open", &open_w);
    digest_of("orphan", &orphan);
    side_file("indexes", &old_idx, ".index", (size_t)mib, 3000);
    side_file("indexes", &old_idx, ".index.sha256", 65, 3000);
    side_file("indexes", &new_idx, ".index", (size_t)mib, 10);
    side_file("whole", &orphan, ".blob", (size_t)mib, 2000);
    side_file("whole", &orphan, ".blob.tmp.abcdef", (size_t)mib, 4000);
    side_file("whole", &w, ".blob", (size_t)mib / 2, 5000);
    side_file("whole", &w, ".index", (size_t)mib / 4, 5000);
    side_file("whole", &open_w, ".blob", (size_t)mib, 6000);
    use_layer(c, &w, mib); /* used now: its blob's age does not count */
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &open_w, mib, 0, &l, &err), err);
    put(l, 0, mib);
    uint64_t usage = lzs_cache_usage(c), want = 6 * mib + mib / 2 + mib / 4;
    if (usage < want || usage > want + 64 * 1024)
        FAIL("usage %" PRIu64 ", expected about %" PRIu64, usage, want);
    ASSERT_EQ(lzs_cache_evict(c, &err), 2); /* the old index (both files), then the orphan */
    ASSERT(!side_exists("indexes", &old_idx, ".index"));
    ASSERT(!side_exists("indexes", &old_idx, ".index.sha256"));
    ASSERT(!side_exists("whole", &orphan, ".blob"));
    ASSERT(side_exists("whole", &orphan, ".blob.tmp.abcdef"));
    ASSERT(side_exists("indexes", &new_idx, ".index"));
    ASSERT(side_exists("whole", &w, ".blob") && dir_exists(layer_path(&w, NULL)));
    ASSERT(side_exists("whole", &open_w, ".blob"));
    lzs_cache_layer_unref(lzs_steal_ptr(&l));
    ASSERT_OK(lzs_cache_layer_remove(c, &w, &err), err); /* its whole files go with it */
    ASSERT(!side_exists("whole", &w, ".blob") && !side_exists("whole", &w, ".index"));
    ASSERT(!dir_exists(layer_path(&w, NULL)));
    ASSERT(side_exists("whole", &open_w, ".blob"));
}

LZS_TEST(test_cache__no_cap_evicts_nothing)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest a;
    digest_of("a", &a);
    use_layer(c, &a, CH);
    ASSERT_EQ(lzs_cache_evict(c, &err), 0);
    ASSERT(dir_exists(layer_path(&a, NULL)));
}

LZS_TEST(test_cache__remove_refuses_open_layers)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest a;
    digest_of("a", &a);
    lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &a, CH, 0, &l, &err), err);
    put(l, 0, CH);
    ASSERT_ERR(lzs_cache_layer_remove(c, &a, &err), err, EBUSY, "layer is open");
    lzs_error_free(&err);
    lzs_cache_layer_unref(l);
    ASSERT(dir_exists(layer_path(&a, NULL)));
    ASSERT_OK(lzs_cache_layer_remove(c, &a, &err), err);
    ASSERT(!dir_exists(layer_path(&a, NULL)));
    ASSERT_OK(lzs_cache_layer_remove(c, &a, &err), err); /* not cached: fine */
    ASSERT_OK(lzs_cache_layer_open(c, &a, CH, 0, &l, &err), err);
    ASSERT(!lzs_cache_is_present(l, 0, 1));
    lzs_cache_layer_unref(l);
}

/* The first byte of the present bitmap as the map on disk has it. */
static uint8_t map_first_bits(const struct lzs_digest *d)
{
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_file_read_all(layer_path(d, "map"), &b, NULL), (lzs_error *)NULL);
    ASSERT(b.len > 64);
    uint8_t v = (uint8_t)b.data[64];
    lzs_buf_dispose(&b);
    return v;
}

LZS_TEST(test_cache__map_on_disk_changes_only_at_sync)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    struct lzs_digest d;
    digest_of("sync", &d);
    lzs_cleanup(lzs_cache_layer_unrefp) lzs_cache_layer *l = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, 4 * CH, 0, &l, &err), err);
    put(l, 0, CH);
    ASSERT_OK(lzs_cache_layer_sync(l, &err), err);
    ASSERT_EQ(map_first_bits(&d), 0x01);
    put(l, CH, CH);
    ASSERT_EQ(map_first_bits(&d), 0x01); /* a crash now loses chunk 1, nothing worse */
    ASSERT_OK(lzs_cache_layer_sync(l, &err), err);
    ASSERT_EQ(map_first_bits(&d), 0x03);
}

/* A complete data file adopted: linked in (not copied), all present and verified, and so after a
 * reopen; refused while the layer is open twice, and for the wrong size. */
LZS_TEST(test_cache__adopt_a_complete_data_file)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_digest d;
    digest_of("adopt", &d);
    uint64_t size = 3 * CH + 11;
    lzs_cleanup(lzs_cache_closep) lzs_cache *c = NULL;
    ASSERT_OK(lzs_cache_open(&c, root(), 0, &err), err);
    ASSERT_OK(lzs_mkdir_p(lzs_cache_whole_dir(c), 0700, &err), err);
    int fd = open(lzs_cache_whole_dir(c), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    ASSERT(fd >= 0);
    lzs_autofree uint8_t *p = pattern(0, size);
    ASSERT_EQ(pwrite(fd, p, size, 0), (ssize_t)size);
    lzs_cache_layer *l = NULL, *l2 = NULL;
    ASSERT_OK(lzs_cache_layer_open(c, &d, size, 4, &l, &err), err);
    put(l, 0, 10); /* a partial chunk, as a layer opened before would have */
    ASSERT_OK(lzs_cache_layer_open(c, &d, size, 4, &l2, &err), err);
    ASSERT_ERR(lzs_cache_layer_adopt(l, fd, &err), err, EBUSY, "open elsewhere");
    lzs_error_free(&err);
    lzs_cache_layer_unref(l2);
    ASSERT(ftruncate(fd, (off_t)size + 1) == 0);
    ASSERT_ERR(lzs_cache_layer_adopt(l, fd, &err), err, EINVAL, "bytes, not");
    lzs_error_free(&err);
    ASSERT(ftruncate(fd, (off_t)size) == 0);
    ASSERT_OK(lzs_cache_layer_adopt(l, fd, &err), err);
    check(l, 0, size);
    ASSERT(lzs_cache_item_is_verified(l, 0) && lzs_cache_item_is_verified(l, 3));
    struct stat a, b;
    ASSERT(fstat(fd, &a) == 0 && stat(layer_path(&d, "data"), &b) == 0);
    ASSERT_EQ(a.st_ino, b.st_ino); /* the same file, not a copy */
    close(fd);
    lzs_cache_layer_unref(l);

    ASSERT_OK(lzs_cache_layer_open(c, &d, size, 4, &l, &err), err);
    uint64_t present, total;
    lzs_cache_layer_stats(l, &present, &total);
    ASSERT_EQ(present, size);
    ASSERT(lzs_cache_item_is_verified(l, 2));
    check(l, 0, size);
    lzs_cache_layer_unref(l);
}
