/* The remote: set-up from the config, and the snapshotter's mount/unmount hooks. */
#include "remote_i.h"

#include <stdio.h>
#include <string.h>

static int open_registry(lzs_remote *r, const struct lzs_config *cfg, lzs_error **err)
{
    struct lzs_registry_opts o = {
        .hosts_dir = cfg->hosts_dir && *cfg->hosts_dir ? cfg->hosts_dir : NULL,
        .timeout_ms = cfg->fetch.timeout_ms,
        .retries = cfg->fetch.retries,
        .no_retries = cfg->fetch.retries == 0,
    };
    return lzs_registry_new(&r->reg, &o, err);
}

static int open_cache(lzs_remote *r, const struct lzs_config *cfg, lzs_error **err)
{
    int rc = lzs_cache_open(&r->cache, r->cache_dir, cfg->cache.max_size, err);
    if (rc == -EBUSY)
        return lzs_error_wrap(err, "cache %s", r->cache_dir);
    if (rc == 0 && lzs_cache_evict(r->cache, err) < 0)
        rc = lzs_error_wrap(err, "cache eviction");
    return rc;
}

static int set_paths(lzs_remote *r, const char *root, const struct lzs_config *cfg, lzs_error **err)
{
    if (asprintf(&r->cache_dir, "%s/cache", root) < 0)
        r->cache_dir = NULL;
    if (r->cache_dir && asprintf(&r->index_dir, "%s/indexes", r->cache_dir) < 0)
        r->index_dir = NULL;
    if (r->cache_dir && asprintf(&r->whole_dir, "%s/whole", r->cache_dir) < 0)
        r->whole_dir = NULL;
    const char *local = cfg->index.local_dir;
    if (local && *local && !(r->local_dir = strdup(local)))
        return lzs_error_set(err, ENOMEM, "out of memory");
    if (!r->cache_dir || !r->index_dir || !r->whole_dir)
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

int lzs_remote_new(lzs_remote **out, const char *root, const struct lzs_config *cfg,
                   lzs_error **err)
{
    lzs_remote *r = calloc(1, sizeof(*r));
    if (!r)
        return lzs_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    r->min_layer_size = cfg->index.min_layer_size;
    r->layer = (struct lzs_layer_opts){.background = cfg->fetch.background,
                                       .background_rate = cfg->fetch.background_rate};
    int rc = set_paths(r, root, cfg, err);
    if (rc == 0)
        rc = open_registry(r, cfg, err);
    if (rc == 0)
        rc = open_cache(r, cfg, err);
    if (rc < 0) {
        lzs_remote_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void lzs_remote_free(lzs_remote *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_mounted; i++) {
        lzs_layer_mount_free(r->mounted[i].lm);
        free(r->mounted[i].dir);
    }
    free(r->mounted);
    remote_images_dispose(r);
    lzs_cache_close(r->cache);
    lzs_registry_free(r->reg);
    pthread_mutex_destroy(&r->lock);
    free(r->local_dir);
    free(r->whole_dir);
    free(r->index_dir);
    free(r->cache_dir);
    free(r);
}

/* ---- hooks ---------------------------------------------------------------------------------- */

/* The position of the layer with digest ds in img, after the checks that make it ours. */
static int pick_layer(lzs_remote *r, lzs_image *img, const char *ds, size_t *out, lzs_error **err)
{
    struct lzs_digest d;
    int rc = lzs_digest_parse(&d, ds, err);
    if (rc < 0)
        return lzs_error_wrap(err, "layer digest");
    for (size_t i = 0; i < lzs_image_layer_count(img); i++) {
        struct lzs_image_layer *l = lzs_image_layer(img, i);
        if (!lzs_digest_is_equal(&l->desc.digest, &d))
            continue;
        if (l->source == LZS_IMAGE_SRC_NONE)
            return lzs_error_set(err, ENOENT, "layer %s of %s has no index", ds,
                                 lzs_image_name(img));
        if (l->desc.size < r->min_layer_size)
            return lzs_error_set(err, ENOENT, "layer %s is smaller than min_layer_size", ds);
        *out = i;
        return 0;
    }
    return lzs_error_set(err, ENOENT, "layer %s is not in %s", ds, lzs_image_name(img));
}

static int add_mounted(lzs_remote *r, const char *dir, lzs_layer_mount *lm, lzs_error **err)
{
    struct remote_mounted *v = lzs_realloc_array(r->mounted, r->n_mounted + 1, sizeof(*v));
    if (!v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    r->mounted = v;
    if (!(v[r->n_mounted].dir = strdup(dir)))
        return lzs_error_set(err, ENOMEM, "out of memory");
    v[r->n_mounted++].lm = lm;
    return 0;
}

/* Under r->lock. */
static int mount_layer(lzs_remote *r, const char *ref, const char *manifest, const char *layer,
                       const char *dir, int64_t *size, int64_t *inodes, lzs_error **err)
{
    lzs_image *img = NULL;
    size_t i = 0;
    int rc = remote_image_get(r, ref, manifest, &img, err);
    if (rc == 0)
        rc = pick_layer(r, img, layer, &i, err);
    struct lzs_mount_opts o = {.whole_dir = r->whole_dir,
                               .index_dir = r->index_dir,
                               .layer = r->layer,
                               .allow_other = true};
    lzs_layer_mount *lm = NULL;
    if (rc == 0)
        rc = lzs_layer_mount_new(&lm, img, i, r->cache, dir, &o, err);
    if (rc == 0 && (rc = add_mounted(r, dir, lm, err)) < 0)
        lzs_layer_mount_free(lm);
    if (rc < 0)
        return rc;
    lzs_index *idx = lzs_layer_mount_index(lm);
    *size = (int64_t)lzs_index_info(idx)->uncompressed_size;
    *inodes = lzs_index_entry_count(idx);
    return 0;
}

static int hook_mount(void *data, const struct lzs_snap_label *labels, size_t n, const char *dir,
                      int64_t *size, int64_t *inodes, lzs_error **err)
{
    lzs_remote *r = data;
    const char *ref = NULL, *manifest = NULL, *layer = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(labels[i].name, LZS_REMOTE_LABEL_IMAGE_REF) == 0)
            ref = labels[i].value;
        else if (strcmp(labels[i].name, LZS_REMOTE_LABEL_MANIFEST) == 0)
            manifest = labels[i].value;
        else if (strcmp(labels[i].name, LZS_REMOTE_LABEL_LAYER) == 0)
            layer = labels[i].value;
    }
    if (!ref || !layer)
        return lzs_error_set(err, ENOENT, "no CRI image labels (pulled without the CRI plugin)");
    pthread_mutex_lock(&r->lock);
    int rc = mount_layer(r, ref, manifest, layer, dir, size, inodes, err);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static void hook_unmount(void *data, const char *dir)
{
    lzs_remote *r = data;
    lzs_layer_mount *lm = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_mounted; i++) {
        if (strcmp(r->mounted[i].dir, dir) != 0)
            continue;
        lm = r->mounted[i].lm;
        free(r->mounted[i].dir);
        r->mounted[i] = r->mounted[--r->n_mounted];
        break;
    }
    pthread_mutex_unlock(&r->lock);
    if (!lm)
        return;
    lzs_layer_mount_free(lm); /* may wait for open files: not under the lock */
    lzs_autoerr lzs_error *e = NULL;
    int n = lzs_cache_evict(r->cache, &e); /* its cache may go now, least recently used first */
    if (n < 0)
        LZS_WARN("cache eviction after unmounting %s: %s", dir, lzs_error_msg(e));
    else if (n > 0)
        LZS_INFO("cache: %d layers evicted", n);
}

void lzs_remote_hooks(lzs_remote *r, struct lzs_snap_remote *out)
{
    *out = (struct lzs_snap_remote){.mount = hook_mount, .unmount = hook_unmount, .data = r};
}

void lzs_remote_stats(lzs_remote *r, struct lzs_remote_stats *out)
{
    struct lzs_registry_stats s;
    lzs_registry_stats(r->reg, &s);
    pthread_mutex_lock(&r->lock);
    *out = (struct lzs_remote_stats){r->n_mounted, s.bytes_fetched, s.requests};
    pthread_mutex_unlock(&r->lock);
}
