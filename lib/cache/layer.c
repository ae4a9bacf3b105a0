/* cache: one layer's sparse data file and its persistent map (present chunks, verified items). */
#include "cache/cache_i.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Map file: header, present bitmap, verified bitmap, sha256 of everything before it.
 * Integers are little-endian. */
#define MAP_MAGIC "LZSCMAP\0"
#define MAP_VERSION 1u
#define MAP_HEADER 64u
#define MAP_OFF_VERSION 8
#define MAP_OFF_CHUNK 12
#define MAP_OFF_SIZE 16
#define MAP_OFF_ITEMS 24
#define MAP_OFF_LAST_USE 32

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t cache_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool bit_get(const uint8_t *map, uint64_t i)
{
    return map[i / 8] & (1u << (i % 8));
}

static void bit_set(uint8_t *map, uint64_t i)
{
    map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void bit_clear(uint8_t *map, uint64_t i)
{
    map[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

static uint64_t chunk_len(const lzs_cache_layer *l, uint64_t i)
{
    uint64_t start = i * LZS_CACHE_CHUNK;
    return l->size - start < LZS_CACHE_CHUNK ? l->size - start : LZS_CACHE_CHUNK;
}

static size_t map_len(const lzs_cache_layer *l)
{
    return MAP_HEADER + l->present_len + l->verified_len + LZS_SHA256_LEN;
}

uint64_t cache_map_last_use(const char *map_path)
{
    lzs_autoclose int fd = open(map_path, O_RDONLY | O_CLOEXEC);
    uint8_t h[MAP_HEADER];
    if (fd < 0 || lzs_pread_full(fd, h, sizeof(h), 0, NULL) < 0 || memcmp(h, MAP_MAGIC, 8) != 0)
        return 0;
    return get_le(h + MAP_OFF_LAST_USE, 8);
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Why the map at l->map_path cannot be used (a static string), or NULL when it was loaded. */
static const char *map_parse(lzs_cache_layer *l, const struct lzs_buf *b)
{
    const uint8_t *p = (const uint8_t *)b->data;
    if (b->len != map_len(l) || memcmp(p, MAP_MAGIC, 8) != 0)
        return "bad length or magic";
    if (get_le(p + MAP_OFF_VERSION, 4) != MAP_VERSION ||
        get_le(p + MAP_OFF_CHUNK, 4) != LZS_CACHE_CHUNK)
        return "unknown version or chunk size";
    if (get_le(p + MAP_OFF_SIZE, 8) != l->size || get_le(p + MAP_OFF_ITEMS, 4) != l->n_items)
        return "layer size or item count differs";
    struct lzs_digest sum;
    size_t body = b->len - LZS_SHA256_LEN;
    if (lzs_digest_buf(LZS_DIGEST_SHA256, p, body, &sum, NULL) < 0 ||
        memcmp(sum.bytes, p + body, LZS_SHA256_LEN) != 0)
        return "checksum mismatch";
    const uint8_t *present = p + MAP_HEADER, *verified = present + l->present_len;
    if (l->n_chunks % 8 && present[l->present_len - 1] >> (l->n_chunks % 8))
        return "bits set past the last chunk";
    if (l->n_items % 8 && verified[l->verified_len - 1] >> (l->n_items % 8))
        return "bits set past the last item";
    memcpy(l->present, present, l->present_len);
    memcpy(l->verified, verified, l->verified_len);
    for (uint64_t i = 0; i < l->n_chunks; i++)
        if (bit_get(l->present, i))
            l->present_bytes += chunk_len(l, i);
    return NULL;
}

/* Load the map, or leave the bitmaps empty; false when the data file must be emptied. */
static bool map_load(lzs_cache_layer *l, const struct stat *data_st)
{
    struct lzs_buf b = LZS_BUF_INIT(map_len(l) + 1); /* one more: a longer file is refused */
    lzs_autoerr lzs_error *e = NULL;
    int rc = lzs_file_read_all(l->map_path, &b, &e);
    const char *why = NULL;
    if (rc == -ENOENT) {
        LZS_DEBUG("cache %s: no map, starting empty", l->name);
    } else if (rc < 0) {
        LZS_WARN("cache %s: discarding cached data: %s", l->name, lzs_error_msg(e));
    } else if ((why = map_parse(l, &b)) != NULL) {
        LZS_WARN("cache %s: discarding cached data: map %s: %s", l->name, l->map_path, why);
        rc = -EBADMSG;
    } else if ((uint64_t)data_st->st_size != l->size) {
        LZS_WARN("cache %s: discarding cached data: %s has %jd bytes, expected %" PRIu64, l->name,
                 l->data_path, (intmax_t)data_st->st_size, l->size);
        memset(l->present, 0, l->present_len);
        memset(l->verified, 0, l->verified_len);
        l->present_bytes = 0;
        rc = -EBADMSG;
    }
    lzs_buf_dispose(&b);
    return rc >= 0;
}

static int layer_files_open(lzs_cache_layer *l, lzs_error **err)
{
    int rc = lzs_mkdir_p(l->dir, 0700, err);
    if (rc < 0)
        return rc;
    l->fd = open(l->data_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (l->fd < 0 || fstat(l->fd, &st) < 0)
        return lzs_error_set_sys(err, errno, "cache %s: %s", l->name, l->data_path);
    if (map_load(l, &st))
        return 0;
    /* Nothing is known to be present: drop whatever the file held, then size it (sparse). */
    if (ftruncate(l->fd, 0) < 0 || ftruncate(l->fd, (off_t)l->size) < 0)
        return lzs_error_set_sys(err, errno, "cache %s: truncate %s", l->name, l->data_path);
    /* The discarded map must not come back with data written from now on. */
    if (unlink(l->map_path) < 0 && errno != ENOENT)
        return lzs_error_set_sys(err, errno, "cache %s: remove %s", l->name, l->map_path);
    return 0;
}

static void layer_free(lzs_cache_layer *l)
{
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->sync_lock);
    pthread_mutex_destroy(&l->write_lock);
    free(l->present);
    free(l->verified);
    free(l->dir);
    free(l->data_path);
    free(l->map_path);
    free(l);
}

int cache_layer_load(lzs_cache *c, const struct lzs_digest *d, uint64_t size, uint32_t n_items,
                     lzs_cache_layer **out, lzs_error **err)
{
    lzs_cache_layer *l = calloc(1, sizeof(*l));
    if (!l)
        return lzs_error_set(err, ENOMEM, "out of memory");
    l->fd = -1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->sync_lock, NULL);
    pthread_mutex_init(&l->write_lock, NULL);
    l->digest = *d;
    lzs_digest_format(d, l->name);
    l->size = size;
    l->n_items = n_items;
    l->n_chunks = size / LZS_CACHE_CHUNK + (size % LZS_CACHE_CHUNK != 0);
    l->present_len = (size_t)((l->n_chunks + 7) / 8);
    l->verified_len = ((size_t)n_items + 7) / 8;
    int rc = cache_layer_dir(c, d, &l->dir, err);
    if (rc < 0) {
        layer_free(l);
        return rc;
    }
    l->present = calloc(1, l->present_len + 1);
    l->verified = calloc(1, l->verified_len + 1);
    if (asprintf(&l->data_path, "%s/data", l->dir) < 0)
        l->data_path = NULL;
    if (asprintf(&l->map_path, "%s/map", l->dir) < 0)
        l->map_path = NULL;
    if (!l->present || !l->verified || !l->data_path || !l->map_path) {
        layer_free(l);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    rc = layer_files_open(l, err);
    if (rc < 0) {
        layer_free(l);
        return rc;
    }
    l->cache = c;
    l->refs = 1;
    l->last_use = cache_now();
    l->dirty = true; /* the first sync records the new last-use time */
    *out = l;
    return 0;
}

void cache_layer_destroy(lzs_cache_layer *l)
{
    pthread_mutex_lock(&l->lock);
    l->last_use = cache_now();
    l->dirty = true;
    pthread_mutex_unlock(&l->lock);
    lzs_autoerr lzs_error *e = NULL;
    if (lzs_cache_layer_sync(l, &e) < 0)
        LZS_WARN("cache %s: chunks cached since the last sync are lost: %s", l->name,
                 lzs_error_msg(e));
    layer_free(l);
}

/* ---- sync ----------------------------------------------------------------------------------- */

/* A snapshot of the map under l->lock, checksum space included; NULL when clean. */
static uint8_t *map_snapshot(lzs_cache_layer *l, int *rc, lzs_error **err)
{
    *rc = 0;
    uint8_t *p = NULL;
    pthread_mutex_lock(&l->lock);
    if (!l->dirty)
        goto out;
    p = calloc(1, map_len(l));
    if (!p) {
        *rc = lzs_error_set(err, ENOMEM, "out of memory");
        goto out;
    }
    memcpy(p, MAP_MAGIC, 8);
    put_le(p + MAP_OFF_VERSION, MAP_VERSION, 4);
    put_le(p + MAP_OFF_CHUNK, LZS_CACHE_CHUNK, 4);
    put_le(p + MAP_OFF_SIZE, l->size, 8);
    put_le(p + MAP_OFF_ITEMS, l->n_items, 4);
    put_le(p + MAP_OFF_LAST_USE, l->last_use, 8);
    memcpy(p + MAP_HEADER, l->present, l->present_len);
    memcpy(p + MAP_HEADER + l->present_len, l->verified, l->verified_len);
    l->dirty = false;
out:
    pthread_mutex_unlock(&l->lock);
    return p;
}

int lzs_cache_layer_sync(lzs_cache_layer *l, lzs_error **err)
{
    pthread_mutex_lock(&l->sync_lock);
    int rc;
    lzs_autofree uint8_t *p = map_snapshot(l, &rc, err);
    if (!p)
        goto out;
    /* Every bit in the snapshot was set after its data was written: make that data durable
     * before the map that claims it. */
    size_t body = map_len(l) - LZS_SHA256_LEN;
    struct lzs_digest sum;
    if (fdatasync(l->fd) < 0)
        rc = lzs_error_set_sys(err, errno, "cache %s: sync %s", l->name, l->data_path);
    else
        rc = lzs_digest_buf(LZS_DIGEST_SHA256, p, body, &sum, err);
    if (rc == 0) {
        memcpy(p + body, sum.bytes, LZS_SHA256_LEN);
        rc = lzs_file_write_atomic(l->map_path, p, map_len(l), 0600, err);
    }
    if (rc < 0) {
        pthread_mutex_lock(&l->lock);
        l->dirty = true;
        pthread_mutex_unlock(&l->lock);
    }
out:
    pthread_mutex_unlock(&l->sync_lock);
    return rc;
}

/* ---- data ----------------------------------------------------------------------------------- */

static int check_range(const lzs_cache_layer *l, uint64_t off, size_t n, lzs_error **err)
{
    uint64_t end;
    if (lzs_add_overflow(off, (uint64_t)n, &end) || end > l->size)
        return lzs_error_set(err, ERANGE,
                             "cache %s: range %" PRIu64 "+%zu is past the end (%" PRIu64 " bytes)",
                             l->name, off, n, l->size);
    return 0;
}

/* Called with l->lock held; [off, off+n) within the layer, n > 0. */
static bool all_present(const lzs_cache_layer *l, uint64_t off, uint64_t n)
{
    uint64_t last = (off + n - 1) / LZS_CACHE_CHUNK;
    for (uint64_t i = off / LZS_CACHE_CHUNK; i <= last; i++)
        if (!bit_get(l->present, i))
            return false;
    return true;
}

int lzs_cache_read(lzs_cache_layer *l, uint64_t off, void *buf, size_t n, lzs_error **err)
{
    int rc = check_range(l, off, n, err);
    if (rc < 0 || n == 0)
        return rc;
    pthread_mutex_lock(&l->lock);
    bool hit = all_present(l, off, n);
    pthread_mutex_unlock(&l->lock);
    if (!hit)
        return -ENODATA;
    rc = lzs_pread_full(l->fd, buf, n, off, err);
    if (rc < 0)
        return lzs_error_wrap(err, "cache %s", l->name);
    return 0;
}

/* The end of the run of chunks, from the one holding a, that are all present or all absent
 * (*present says which), clipped to end. */
static uint64_t same_run_end(lzs_cache_layer *l, uint64_t a, uint64_t end, bool *present)
{
    pthread_mutex_lock(&l->lock);
    uint64_t i = a / LZS_CACHE_CHUNK;
    *present = bit_get(l->present, i);
    while ((i + 1) * LZS_CACHE_CHUNK < end && bit_get(l->present, i + 1) == *present)
        i++;
    pthread_mutex_unlock(&l->lock);
    uint64_t b = (i + 1) * LZS_CACHE_CHUNK;
    return b < end ? b : end;
}

int lzs_cache_write(lzs_cache_layer *l, uint64_t off, const void *buf, size_t n, lzs_error **err)
{
    int rc = check_range(l, off, n, err);
    if (rc < 0 || n == 0)
        return rc;
    uint64_t end = off + n;
    /* writers take turns, so no chunk becomes present between the check and the write */
    pthread_mutex_lock(&l->write_lock);
    for (uint64_t a = off, b; rc == 0 && a < end; a = b) {
        bool present;
        b = same_run_end(l, a, end, &present);
        if (!present)
            rc = lzs_pwrite_full(l->fd, (const char *)buf + (a - off), (size_t)(b - a), a, err);
    }
    if (rc < 0) {
        pthread_mutex_unlock(&l->write_lock);
        return lzs_error_wrap(err, "cache %s", l->name);
    }
    uint64_t first = off / LZS_CACHE_CHUNK + (off % LZS_CACHE_CHUNK != 0);
    uint64_t stop = end == l->size ? l->n_chunks : end / LZS_CACHE_CHUNK;
    pthread_mutex_lock(&l->lock);
    for (uint64_t i = first; i < stop; i++) {
        if (bit_get(l->present, i))
            continue;
        bit_set(l->present, i);
        l->present_bytes += chunk_len(l, i);
        l->dirty = true;
    }
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_unlock(&l->write_lock);
    return 0;
}

void lzs_cache_invalidate(lzs_cache_layer *l, uint64_t off, uint64_t n)
{
    if (n == 0 || off >= l->size)
        return;
    uint64_t end = n > l->size - off ? l->size : off + n;
    /* not while a write is between its presence check and its marking */
    pthread_mutex_lock(&l->write_lock);
    pthread_mutex_lock(&l->lock);
    for (uint64_t i = off / LZS_CACHE_CHUNK; i < (end - 1) / LZS_CACHE_CHUNK + 1; i++) {
        if (!bit_get(l->present, i))
            continue;
        bit_clear(l->present, i);
        l->present_bytes -= chunk_len(l, i);
        l->dirty = true;
    }
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_unlock(&l->write_lock);
}

bool lzs_cache_is_present(lzs_cache_layer *l, uint64_t off, uint64_t n)
{
    uint64_t end;
    if (lzs_add_overflow(off, n, &end) || end > l->size)
        return false;
    if (n == 0)
        return true;
    pthread_mutex_lock(&l->lock);
    bool hit = all_present(l, off, n);
    pthread_mutex_unlock(&l->lock);
    return hit;
}

void lzs_cache_layer_stats(lzs_cache_layer *l, uint64_t *present_bytes, uint64_t *size)
{
    pthread_mutex_lock(&l->lock);
    *present_bytes = l->present_bytes;
    pthread_mutex_unlock(&l->lock);
    *size = l->size;
}

int lzs_cache_layer_fd(const lzs_cache_layer *l)
{
    return l->fd;
}

bool lzs_cache_item_is_verified(lzs_cache_layer *l, uint32_t id)
{
    if (id >= l->n_items)
        return false;
    pthread_mutex_lock(&l->lock);
    bool v = bit_get(l->verified, id);
    pthread_mutex_unlock(&l->lock);
    return v;
}

void lzs_cache_item_clear_verified(lzs_cache_layer *l, uint32_t id)
{
    if (id >= l->n_items)
        return;
    pthread_mutex_lock(&l->lock);
    if (bit_get(l->verified, id)) {
        bit_clear(l->verified, id);
        l->dirty = true;
    }
    pthread_mutex_unlock(&l->lock);
}

void lzs_cache_item_set_verified(lzs_cache_layer *l, uint32_t id)
{
    if (id >= l->n_items)
        return;
    pthread_mutex_lock(&l->lock);
    if (!bit_get(l->verified, id)) {
        bit_set(l->verified, id);
        l->dirty = true;
    }
    pthread_mutex_unlock(&l->lock);
}

/* ---- adopting a complete data file ---------------------------------------------------------- */

/* Link the file at fd in place of l's data file (called with l->cache->lock held). */
static int link_data(lzs_cache_layer *l, int fd, lzs_error **err)
{
    char proc[64];
    lzs_autofree char *tmp = NULL;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (asprintf(&tmp, "%s.adopt", l->data_path) < 0) {
        tmp = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    unlink(tmp); /* left by a crash */
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
        return lzs_error_set_sys(err, errno, "cache %s: link the data in as %s", l->name, tmp);
    if (rename(tmp, l->data_path) < 0) {
        int e = errno;
        unlink(tmp);
        return lzs_error_set_sys(err, e, "cache %s: rename %s", l->name, tmp);
    }
    int nfd = open(l->data_path, O_RDWR | O_CLOEXEC);
    if (nfd < 0)
        return lzs_error_set_sys(err, errno, "cache %s: %s", l->name, l->data_path);
    close(l->fd);
    l->fd = nfd;
    return 0;
}

int lzs_cache_layer_adopt(lzs_cache_layer *l, int fd, lzs_error **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lzs_error_set_sys(err, errno, "cache %s: the data to adopt", l->name);
    if ((uint64_t)st.st_size != l->size)
        return lzs_error_set(err, EINVAL, "cache %s: the data to adopt has %jd bytes, not %" PRIu64,
                             l->name, (intmax_t)st.st_size, l->size);
    pthread_mutex_lock(&l->cache->lock);
    int rc = l->refs == 1 ? 0 : lzs_error_set(err, EBUSY, "cache %s: open elsewhere", l->name);
    if (rc == 0)
        rc = link_data(l, fd, err);
    if (rc == 0) {
        pthread_mutex_lock(&l->lock);
        for (uint64_t i = 0; i < l->n_chunks; i++)
            bit_set(l->present, i);
        for (uint32_t i = 0; i < l->n_items; i++)
            bit_set(l->verified, i);
        l->present_bytes = l->size;
        l->dirty = true;
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_unlock(&l->cache->lock);
    return rc < 0 ? rc : lzs_cache_layer_sync(l, err);
}
