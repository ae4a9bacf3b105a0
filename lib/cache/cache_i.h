/* cache internals shared by cache.c (the root, open layers), evict.c (usage, eviction, removal)
 * and layer.c (one layer's data file and map). */
#ifndef LZS_CACHE_I_H
#define LZS_CACHE_I_H

#include "cache/cache.h"

#include <pthread.h>

struct lzs_cache {
    struct lzs_refcount ref; /* the owner's handle plus one per open layer */
    char *root;
    char *layers_dir;  /* ROOT/layers */
    char *indexes_dir; /* ROOT/indexes */
    char *whole_dir;   /* ROOT/whole */
    uint64_t max_size;
    int lock_fd;           /* ROOT/lock, flock'd for the life of the cache */
    pthread_mutex_t lock;  /* serialises layer open/close, removal and eviction */
    lzs_cache_layer *open; /* protected by lock: open layers, linked by next */
};

struct lzs_cache_layer {
    lzs_cache *cache;
    unsigned refs;         /* protected by cache->lock */
    lzs_cache_layer *next; /* protected by cache->lock */
    struct lzs_digest digest;
    char name[LZS_DIGEST_STR_MAX];
    char *dir, *data_path, *map_path;
    int fd;
    uint64_t size;
    uint64_t n_chunks;
    uint32_t n_items;
    size_t present_len, verified_len; /* bitmap bytes */
    pthread_mutex_t lock;
    uint8_t *present;           /* protected by lock */
    uint8_t *verified;          /* protected by lock */
    uint64_t present_bytes;     /* protected by lock */
    uint64_t last_use;          /* protected by lock: unix ns, persisted in the map */
    bool dirty;                 /* protected by lock: changed since the map was written */
    pthread_mutex_t sync_lock;  /* one sync at a time */
    pthread_mutex_t write_lock; /* one write or invalidation at a time */
};

/* The digest algorithms the cache keeps directories for. */
extern const char *const cache_algo_dirs[2];

/* Called with c->lock held: the open layer of digest d, or NULL. */
lzs_cache_layer *cache_find_open(lzs_cache *c, const struct lzs_digest *d);
/* "<algo>/<hex>" of d into s: where its files are below ROOT/layers and ROOT/whole. */
int cache_digest_subpath(const struct lzs_digest *d, char s[LZS_DIGEST_STR_MAX], lzs_error **err);
/* "ROOT/layers/<algo>/<hex>" into *out (malloc'd). */
int cache_layer_dir(const lzs_cache *c, const struct lzs_digest *d, char **out, lzs_error **err);
/* Open a layer's files, loading or discarding its map; called with c->lock held. */
int cache_layer_load(lzs_cache *c, const struct lzs_digest *d, uint64_t size, uint32_t n_items,
                     lzs_cache_layer **out, lzs_error **err);
/* Sync (logging a failure), close and free; called with c->lock held, l off the open list. */
void cache_layer_destroy(lzs_cache_layer *l);
/* The last-use time recorded in a map file, or 0 when it has none readable. */
uint64_t cache_map_last_use(const char *map_path);
/* Unix time in ns. */
uint64_t cache_now(void);
void cache_unref(lzs_cache *c);

#endif
