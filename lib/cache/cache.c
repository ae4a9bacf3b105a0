/* cache: the root directory, the table of open layers, usage and LRU eviction. */
#include "cache/cache_i.h"

#include <assert.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const algo_dirs[] = {"sha256", "sha512"};

static int lock_root(const char *root, int *out, lzs_error **err)
{
    lzs_autofree char *path = NULL;
    if (asprintf(&path, "%s/lock", root) < 0)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = lzs_lock_try(path, 0600, out, err);
    if (rc == -EBUSY)
        return lzs_error_set(err, EBUSY, "cache %s: in use by another process", root);
    return rc < 0 ? lzs_error_wrap(err, "cache") : 0;
}

static void cache_free(lzs_cache *c)
{
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    pthread_mutex_destroy(&c->lock);
    free(c->root);
    free(c->layers_dir);
    free(c);
}

int lzs_cache_open(lzs_cache **out, const char *root, uint64_t max_size, lzs_error **err)
{
    lzs_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return lzs_error_set(err, ENOMEM, "out of memory");
    lzs_refcount_init(&c->ref);
    pthread_mutex_init(&c->lock, NULL);
    c->lock_fd = -1;
    c->max_size = max_size;
    c->root = strdup(root);
    if (!c->root || asprintf(&c->layers_dir, "%s/layers", root) < 0) {
        c->layers_dir = NULL;
        cache_free(c);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    int rc = lzs_mkdir_p(c->layers_dir, 0700, err);
    if (rc == 0 && chmod(root, 0700) < 0)
        rc = lzs_error_set_sys(err, errno, "cache %s: chmod", root);
    if (rc == 0)
        rc = lock_root(root, &c->lock_fd, err);
    if (rc < 0) {
        cache_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cache_unref(lzs_cache *c)
{
    if (!lzs_refcount_dec(&c->ref))
        return;
    assert(c->open == NULL);
    cache_free(c);
}

void lzs_cache_close(lzs_cache *c)
{
    if (c)
        cache_unref(c);
}

int cache_layer_dir(const lzs_cache *c, const struct lzs_digest *d, char **out, lzs_error **err)
{
    char s[LZS_DIGEST_STR_MAX];
    lzs_digest_format(d, s);
    char *colon = strchr(s, ':');
    if (!colon)
        return lzs_error_set(err, EINVAL, "cache: bad digest %s", s);
    *colon = '/';
    if (asprintf(out, "%s/%s", c->layers_dir, s) < 0) {
        *out = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* Called with c->lock held. */
static lzs_cache_layer *find_open(lzs_cache *c, const struct lzs_digest *d)
{
    for (lzs_cache_layer *l = c->open; l; l = l->next)
        if (lzs_digest_is_equal(&l->digest, d))
            return l;
    return NULL;
}

/* ---- layers --------------------------------------------------------------------------------- */

int lzs_cache_layer_open(lzs_cache *c, const struct lzs_digest *layer, uint64_t size,
                         uint32_t n_items, lzs_cache_layer **out, lzs_error **err)
{
    char name[LZS_DIGEST_STR_MAX];
    if (size > LZS_CACHE_MAX_LAYER_SIZE || n_items > LZS_CACHE_MAX_ITEMS)
        return lzs_error_set(err, EFBIG,
                             "cache %s: %" PRIu64 " bytes and %" PRIu32 " items exceed the limit",
                             lzs_digest_format(layer, name), size, n_items);
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    lzs_cache_layer *l = find_open(c, layer);
    if (l && (l->size != size || l->n_items != n_items)) {
        rc = lzs_error_set(err, EINVAL,
                           "cache %s: open with %" PRIu64 " bytes and %" PRIu32
                           " items, asked for %" PRIu64 " and %" PRIu32,
                           l->name, l->size, l->n_items, size, n_items);
    } else if (l) {
        l->refs++;
    } else {
        rc = cache_layer_load(c, layer, size, n_items, &l, err);
        if (rc == 0) {
            lzs_refcount_inc(&c->ref);
            l->next = c->open;
            c->open = l;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        *out = l;
    return rc;
}

lzs_cache_layer *lzs_cache_layer_ref(lzs_cache_layer *l)
{
    pthread_mutex_lock(&l->cache->lock);
    l->refs++;
    pthread_mutex_unlock(&l->cache->lock);
    return l;
}

lzs_cache_layer *lzs_cache_layer_unref(lzs_cache_layer *l)
{
    if (!l)
        return NULL;
    lzs_cache *c = l->cache;
    pthread_mutex_lock(&c->lock);
    if (--l->refs > 0) {
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    lzs_cache_layer **pp = &c->open;
    while (*pp != l)
        pp = &(*pp)->next;
    *pp = l->next;
    /* Under c->lock, so a concurrent open of the same layer reads the map written here. */
    cache_layer_destroy(l);
    pthread_mutex_unlock(&c->lock);
    cache_unref(c);
    return NULL;
}

/* ---- removal, usage, eviction --------------------------------------------------------------- */

/* rm -r of a layer directory (flat: data, map, temporary maps). 0 when it does not exist. */
static int remove_dir(const char *dir, lzs_error **err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : lzs_error_set_sys(err, errno, "cache: open %s", dir);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            rc = lzs_error_set_sys(err, errno, "cache: remove %s/%s", dir, e->d_name);
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) < 0 && errno != ENOENT)
        rc = lzs_error_set_sys(err, errno, "cache: remove %s", dir);
    return rc;
}

int lzs_cache_layer_remove(lzs_cache *c, const struct lzs_digest *layer, lzs_error **err)
{
    lzs_autofree char *dir = NULL;
    int rc = cache_layer_dir(c, layer, &dir, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->lock);
    char name[LZS_DIGEST_STR_MAX];
    if (find_open(c, layer))
        rc = lzs_error_set(err, EBUSY, "cache %s: layer is open", lzs_digest_format(layer, name));
    else
        rc = remove_dir(dir, err);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

struct entry {
    char *dir;
    uint64_t bytes;
    uint64_t last_use;
    bool open;
};

struct entries {
    struct entry *v;
    size_t n;
};

static void entries_dispose(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        free(es->v[i].dir);
    free(es->v);
}

static bool dir_is_open(lzs_cache *c, const char *dir)
{
    for (lzs_cache_layer *l = c->open; l; l = l->next)
        if (strcmp(l->dir, dir) == 0)
            return true;
    return false;
}

static int entry_add(lzs_cache *c, struct entries *es, char *dir, lzs_error **err)
{
    struct entry *v = lzs_realloc_array(es->v, es->n + 1, sizeof(*v));
    if (!v) {
        free(dir);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    es->v = v;
    struct entry *e = &v[es->n++];
    *e = (struct entry){.dir = dir, .open = dir_is_open(c, dir)};
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/data", dir);
    if (stat(path, &st) == 0)
        e->bytes = (uint64_t)st.st_blocks * 512;
    snprintf(path, sizeof(path), "%s/map", dir);
    e->last_use = cache_map_last_use(path);
    return 0;
}

/* Every layer directory with its usage and last use; called with c->lock held. */
static int scan(lzs_cache *c, struct entries *es, lzs_error **err)
{
    for (size_t a = 0; a < LZS_ARRAY_SIZE(algo_dirs); a++) {
        lzs_autofree char *top = NULL;
        if (asprintf(&top, "%s/%s", c->layers_dir, algo_dirs[a]) < 0)
            return lzs_error_set(err, ENOMEM, "out of memory");
        DIR *d = opendir(top);
        if (!d && errno == ENOENT)
            continue;
        if (!d)
            return lzs_error_set_sys(err, errno, "cache: open %s", top);
        int rc = 0;
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            char *dir;
            if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
                continue;
            if (asprintf(&dir, "%s/%s", top, e->d_name) < 0)
                rc = lzs_error_set(err, ENOMEM, "out of memory");
            else
                rc = entry_add(c, es, dir, err);
        }
        closedir(d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static uint64_t entries_usage(const struct entries *es)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < es->n; i++)
        sum += es->v[i].bytes;
    return sum;
}

uint64_t lzs_cache_usage(lzs_cache *c)
{
    struct entries es = {0};
    pthread_mutex_lock(&c->lock);
    (void)scan(c, &es, NULL);
    pthread_mutex_unlock(&c->lock);
    uint64_t sum = entries_usage(&es);
    entries_dispose(&es);
    return sum;
}

static int by_last_use(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->last_use != y->last_use)
        return x->last_use < y->last_use ? -1 : 1;
    return strcmp(x->dir, y->dir);
}

int lzs_cache_evict(lzs_cache *c, lzs_error **err)
{
    if (c->max_size == 0)
        return 0;
    struct entries es = {0};
    int removed = 0;
    pthread_mutex_lock(&c->lock);
    int rc = scan(c, &es, err);
    uint64_t usage = entries_usage(&es);
    if (rc == 0 && es.n > 1)
        qsort(es.v, es.n, sizeof(*es.v), by_last_use);
    for (size_t i = 0; rc == 0 && i < es.n && usage > c->max_size; i++) {
        if (es.v[i].open)
            continue;
        rc = remove_dir(es.v[i].dir, err);
        if (rc == 0) {
            LZS_DEBUG("cache: evicted %s (%" PRIu64 " bytes)", es.v[i].dir, es.v[i].bytes);
            usage -= es.v[i].bytes;
            removed++;
        }
    }
    pthread_mutex_unlock(&c->lock);
    entries_dispose(&es);
    return rc < 0 ? rc : removed;
}
