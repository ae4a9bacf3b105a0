/* The remote: set-up from the config, and the snapshotter's mount/unmount hooks. */
#include "remote_i.h"

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

static int open_registry(lzs_remote *r, const struct lzs_config *cfg, lzs_error **err)
{
    struct lzs_registry_opts o;
    lzs_registry_opts_from_config(&o, cfg);
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
    const char *local = cfg->index.local_dir;
    if (local && *local && !(r->local_dir = strdup(local)))
        return lzs_error_set(err, ENOMEM, "out of memory");
    if (!r->cache_dir)
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
    pthread_cond_init(&r->idle, NULL);
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
    pthread_mutex_lock(&r->lock); /* helpers use the registry and the cache */
    r->closing = true;
    while (r->helpers)
        pthread_cond_wait(&r->idle, &r->lock);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < r->n_mounted; i++) {
        lzs_layer_mount_free(r->mounted[i].lm);
        free(r->mounted[i].dir);
    }
    free(r->mounted);
    remote_images_dispose(r);
    lzs_cache_close(r->cache);
    lzs_registry_free(r->reg);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->lock);
    free(r->local_dir);
    free(r->cache_dir);
    free(r);
}

/* ---- hooks ---------------------------------------------------------------------------------- */

/* The position of the layer with digest ds in img, after the checks that make it ours (again: a
 * layer mounted before a restart, which stays remote whatever min_layer_size says now). */
static int pick_layer(lzs_remote *r, lzs_image *img, const char *ds, bool again, size_t *out,
                      lzs_error **err)
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
        if (!again && l->desc.size < r->min_layer_size)
            return lzs_error_set(err, ENOENT, "layer %s is smaller than min_layer_size", ds);
        *out = i;
        return 0;
    }
    return lzs_error_set(err, ENOENT, "layer %s is not in %s", ds, lzs_image_name(img));
}

static int add_mounted(lzs_remote *r, const char *dir, lzs_layer_mount *lm, lzs_error **err)
{
    char *copy = strdup(dir);
    pthread_mutex_lock(&r->lock);
    struct remote_mounted *v =
        copy ? lzs_realloc_array(r->mounted, r->n_mounted + 1, sizeof(*v)) : NULL;
    if (v) {
        r->mounted = v;
        v[r->n_mounted++] = (struct remote_mounted){copy, lm};
    }
    pthread_mutex_unlock(&r->lock);
    if (v)
        return 0;
    free(copy);
    return lzs_error_set(err, ENOMEM, "out of memory");
}

struct layer_labels {
    const char *ref, *manifest, *layer;
    bool again; /* LZS_SNAP_LABEL_REMOTE: it was mounted before */
};

static int mount_layer(lzs_remote *r, const struct layer_labels *ll, const char *dir, int64_t *size,
                       int64_t *inodes, lzs_error **err)
{
    struct remote_image *e = NULL;
    size_t i = 0;
    int rc = remote_image_get(r, ll->ref, ll->manifest, &e, err);
    if (rc < 0)
        return rc;
    rc = pick_layer(r, e->img, ll->layer, ll->again, &i, err);
    if (rc == 0)
        remote_prefetch_wait(r, e, i); /* then its index is kept, or the mount says why not */
    /* no whole_dir: a layer without an index is containerd's to pull (pick_layer) */
    struct lzs_mount_opts o = {
        .index_dir = lzs_cache_indexes_dir(r->cache), .layer = r->layer, .allow_other = true};
    lzs_layer_mount *lm = NULL;
    if (rc == 0)
        rc = lzs_layer_mount_new(&lm, e->img, i, r->cache, dir, &o, err);
    remote_image_put(r, e);
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
    struct layer_labels ll = {0};
    for (size_t i = 0; i < n; i++) {
        const char *k = labels[i].name, *v = labels[i].value;
        if (strcmp(k, LZS_REMOTE_LABEL_IMAGE_REF) == 0)
            ll.ref = v;
        else if (strcmp(k, LZS_REMOTE_LABEL_MANIFEST) == 0)
            ll.manifest = v;
        else if (strcmp(k, LZS_REMOTE_LABEL_LAYER) == 0)
            ll.layer = v;
        else if (strcmp(k, LZS_SNAP_LABEL_REMOTE) == 0)
            ll.again = true;
    }
    if (!ll.ref || !ll.layer)
        return lzs_error_set(err, ENOENT, "no CRI image labels (pulled without the CRI plugin)");
    return mount_layer(data, &ll, dir, size, inodes, err);
}

/* Unmount and close a layer, then evict the cache down to its cap. A layer whose files are
 * still open (a container that outlives its image) is detached and served until the last one
 * is closed: that wait is a reaper thread's, not the caller's. */
static void finish_unmount(lzs_remote *r, lzs_layer_mount *lm)
{
    lzs_layer_mount_free(lm);
    lzs_autoerr lzs_error *e = NULL;
    int n = lzs_cache_evict(r->cache, &e);
    if (n < 0)
        LZS_WARN("cache eviction after an unmount: %s", lzs_error_msg(e));
    else if (n > 0)
        LZS_INFO("cache: %d entries evicted (layers, kept indexes)", n);
    pthread_mutex_lock(&r->lock);
    r->helpers--;
    pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->lock);
}

struct reaper {
    lzs_remote *r;
    lzs_layer_mount *lm;
};

static void *reap(void *data)
{
    struct reaper *p = data;
    finish_unmount(p->r, p->lm);
    free(p);
    return NULL;
}

int remote_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return rc;
}

/* finish_unmount on a thread of its own; 0, or -1 when none could be started. */
static int start_reaper(lzs_remote *r, lzs_layer_mount *lm)
{
    struct reaper *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = (struct reaper){r, lm};
    if (remote_thread(reap, p) == 0)
        return 0;
    free(p);
    return -1;
}

/* Under r->lock: take the layer mounted at dir out of the table (NULL: none). */
static lzs_layer_mount *take_mounted(lzs_remote *r, const char *dir)
{
    for (size_t i = 0; i < r->n_mounted; i++) {
        if (strcmp(r->mounted[i].dir, dir) != 0)
            continue;
        lzs_layer_mount *lm = r->mounted[i].lm;
        free(r->mounted[i].dir);
        r->mounted[i] = r->mounted[--r->n_mounted];
        return lm;
    }
    return NULL;
}

static void hook_unmount(void *data, const char *dir)
{
    lzs_remote *r = data;
    pthread_mutex_lock(&r->lock);
    lzs_layer_mount *lm = take_mounted(r, dir);
    r->helpers += lm != NULL;
    pthread_mutex_unlock(&r->lock);
    if (!lm)
        return;
    /* detach now, so that the snapshot's directory can go */
    if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL) {
        char buf[128];
        LZS_WARN("detach %s: %s", dir, lzs_strerror(errno, buf, sizeof(buf)));
    }
    if (start_reaper(r, lm) < 0)
        finish_unmount(r, lm);
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
