/* cache: the root directory and the table of open layers (usage and eviction: evict.c). */
#include "cache/cache_i.h"

#include <assert.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
    free(c->indexes_dir);
    free(c->whole_dir);
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
    if (!c->root || asprintf(&c->layers_dir, "%s/layers", root) < 0)
        c->layers_dir = NULL;
    if (c->root && asprintf(&c->indexes_dir, "%s/indexes", root) < 0)
        c->indexes_dir = NULL;
    if (c->root && asprintf(&c->whole_dir, "%s/whole", root) < 0)
        c->whole_dir = NULL;
    if (!c->layers_dir || !c->indexes_dir || !c->whole_dir) {
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

int cache_digest_subpath(const struct lzs_digest *d, char s[LZS_DIGEST_STR_MAX], lzs_error **err)
{
    lzs_digest_format(d, s);
    char *colon = strchr(s, ':');
    if (!colon)
        return lzs_error_set(err, EINVAL, "cache: bad digest %s", s);
    *colon = '/';
    return 0;
}

int cache_layer_dir(const lzs_cache *c, const struct lzs_digest *d, char **out, lzs_error **err)
{
    char s[LZS_DIGEST_STR_MAX];
    int rc = cache_digest_subpath(d, s, err);
    if (rc < 0)
        return rc;
    if (asprintf(out, "%s/%s", c->layers_dir, s) < 0) {
        *out = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

lzs_cache_layer *cache_find_open(lzs_cache *c, const struct lzs_digest *d)
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
    lzs_cache_layer *l = cache_find_open(c, layer);
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

const char *lzs_cache_indexes_dir(const lzs_cache *c)
{
    return c->indexes_dir;
}

const char *lzs_cache_whole_dir(const lzs_cache *c)
{
    return c->whole_dir;
}
