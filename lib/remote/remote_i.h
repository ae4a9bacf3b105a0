/* remote internals: the daemon's state (remote.c) and its table of opened images (images.c). */
#ifndef LZS_REMOTE_I_H
#define LZS_REMOTE_I_H

#include "remote/remote.h"

#include "cache/cache.h"
#include "image/image.h"
#include "mount/mount.h"
#include "registry/registry.h"

#include <pthread.h>
#include <time.h>

/* Images opened lately, with their indexes found: the layers of one image are Prepared one
 * after the other, and each needs the same manifest and referrers. */
#define REMOTE_IMAGES_MAX 8
/* An image's indexes are looked for again after this long (one may have been published). */
#define REMOTE_IMAGE_TTL_S 60

struct remote_image {
    char *name; /* "REPO:TAG@MANIFEST-DIGEST" (or the reference when no digest was given) */
    lzs_image *img;
    time_t opened; /* CLOCK_MONOTONIC seconds */
    int refs;      /* the table's and each user's; under lzs_remote.lock */
    /* under lzs_remote.lock: the next layer whose index a prefetcher takes, and per layer
     * whether one is fetching it now */
    size_t next_prefetch;
    bool *fetching;
};

struct remote_mounted {
    char *dir;
    lzs_layer_mount *lm;
};

struct lzs_remote {
    char *cache_dir; /* ROOT/cache (kept indexes: lzs_cache_indexes_dir) */
    char *local_dir; /* [index] local_dir, or NULL */
    uint64_t min_layer_size;
    struct lzs_layer_opts layer;
    lzs_registry *reg;
    lzs_cache *cache;
    /* Held only for the tables below, never across registry work or a mount. */
    pthread_mutex_t lock;
    struct remote_image *images[REMOTE_IMAGES_MAX]; /* most recent first */
    struct remote_mounted *mounted;
    size_t n_mounted;
    /* threads using the registry and the cache: reapers (layers being unmounted) and index
     * prefetchers; lzs_remote_free waits for them */
    unsigned helpers;
    bool closing;        /* lzs_remote_free has begun: prefetchers stop */
    pthread_cond_t idle; /* helpers went down, or an index prefetch ended */
};

/* The image ref names (manifest: its digest, or NULL), opened and its indexes found, or from the
 * table; the caller holds a reference until remote_image_put. */
int remote_image_get(lzs_remote *r, const char *ref, const char *manifest,
                     struct remote_image **out, lzs_error **err);
void remote_image_put(lzs_remote *r, struct remote_image *e);
/* Run fn(arg) on a detached thread (reapers, prefetchers); pthread_create's result. */
int remote_thread(void *(*fn)(void *), void *arg);
/* Under r->lock, before e (a new entry) is in the table: mark the layers whose indexes will be
 * fetched ahead (those that will be mounted), so that a mount coming first waits for its index
 * instead of fetching it too; returns how many. */
size_t remote_prefetch_mark(lzs_remote *r, struct remote_image *e);
/* Then, without the lock: fetch those n indexes into the cache's kept-index dir in the
 * background. */
void remote_prefetch_start(lzs_remote *r, struct remote_image *e, size_t n);
/* Wait while a prefetcher fetches the index of layer i of e. */
void remote_prefetch_wait(lzs_remote *r, struct remote_image *e, size_t i);
/* Under no lock, at the end: drop the table. */
void remote_images_dispose(lzs_remote *r);

#endif
