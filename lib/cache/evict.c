/* cache: usage, LRU eviction and removal. An entry is what goes together: a layer's directory
 * (ROOT/layers/ALGO/HEX) with the files of that layer fetched whole (ROOT/whole/ALGO/HEX.*), or
 * an index kept from a registry (ROOT/indexes/ALGO/HEX.*, HEX the index blob's digest). */
#include "cache/cache_i.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *const cache_algo_dirs[2] = {"sha256", "sha512"};

struct entry {
    char key[LZS_DIGEST_STR_MAX + 2]; /* "l:ALGO/HEX" (a layer) or "i:ALGO/HEX" (an index) */
    char *dir;                        /* the layer's cache directory, or NULL */
    char **files;                     /* files beside it: whole blob and index, kept index */
    size_t n_files;
    uint64_t bytes;
    uint64_t last_use; /* unix ns: the layer map's, else the newest file's modification */
    bool open;
};

struct entries {
    struct entry *v;
    size_t n;
};

static void entries_dispose(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->v[i].dir);
        for (size_t k = 0; k < es->v[i].n_files; k++)
            free(es->v[i].files[k]);
        free(es->v[i].files);
    }
    free(es->v);
}

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

static int remove_entry(const struct entry *e, lzs_error **err)
{
    int rc = e->dir ? remove_dir(e->dir, err) : 0;
    for (size_t k = 0; rc == 0 && k < e->n_files; k++)
        if (unlink(e->files[k]) < 0 && errno != ENOENT)
            rc = lzs_error_set_sys(err, errno, "cache: remove %s", e->files[k]);
    return rc;
}

/* The entry of key, added (empty) when there is none. */
static struct entry *entry_get(struct entries *es, const char *key, lzs_error **err)
{
    for (size_t i = 0; i < es->n; i++)
        if (strcmp(es->v[i].key, key) == 0)
            return &es->v[i];
    struct entry *v = lzs_realloc_array(es->v, es->n + 1, sizeof(*v));
    if (!v) {
        lzs_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    es->v = v;
    struct entry *e = &v[es->n++];
    *e = (struct entry){0};
    snprintf(e->key, sizeof(e->key), "%s", key);
    return e;
}

static uint64_t dir_bytes(const char *dir)
{
    uint64_t sum = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    while (d && (de = readdir(d)) != NULL)
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_blocks * 512;
    if (d)
        closedir(d);
    return sum;
}

static bool dir_is_open(lzs_cache *c, const char *dir)
{
    for (lzs_cache_layer *l = c->open; l; l = l->next)
        if (strcmp(l->dir, dir) == 0)
            return true;
    return false;
}

/* Calls fn(c, es, algo, name, path) for every entry of top/ALGO (no hidden names, no files
 * being written: "NAME.tmp.XXXXXX"). */
typedef int (*visit_fn)(lzs_cache *c, struct entries *es, const char *algo, const char *name,
                        char *path, lzs_error **err);

static int visit(lzs_cache *c, struct entries *es, const char *top, visit_fn fn, lzs_error **err)
{
    int rc = 0;
    for (size_t a = 0; rc == 0 && a < LZS_ARRAY_SIZE(cache_algo_dirs); a++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", top, cache_algo_dirs[a]);
        DIR *d = opendir(dir);
        if (!d && errno == ENOENT)
            continue;
        if (!d)
            return lzs_error_set_sys(err, errno, "cache: open %s", dir);
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp."))
                continue;
            char *path;
            if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
                rc = lzs_error_set(err, ENOMEM, "out of memory");
            else
                rc = fn(c, es, cache_algo_dirs[a], e->d_name, path, err);
        }
        closedir(d);
    }
    return rc;
}

static int add_layer(lzs_cache *c, struct entries *es, const char *algo, const char *name,
                     char *path, lzs_error **err)
{
    struct stat st;
    char key[LZS_DIGEST_STR_MAX + 2], map[PATH_MAX];
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(path);
        return 0;
    }
    snprintf(key, sizeof(key), "l:%s/%s", algo, name);
    struct entry *e = entry_get(es, key, err);
    if (!e) {
        free(path);
        return -ENOMEM;
    }
    e->dir = path;
    e->open = dir_is_open(c, path);
    e->bytes += dir_bytes(path);
    snprintf(map, sizeof(map), "%s/map", path);
    e->last_use = cache_map_last_use(map);
    return 0;
}

/* A file of ROOT/whole (kind 'l', with its layer) or ROOT/indexes (kind 'i'). */
static int add_file(struct entries *es, char kind, const char *algo, const char *name, char *path,
                    lzs_error **err)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return 0;
    }
    char key[LZS_DIGEST_STR_MAX + 2];
    snprintf(key, sizeof(key), "%c:%s/%.*s", kind, algo, (int)strcspn(name, "."), name);
    struct entry *e = entry_get(es, key, err);
    if (!e) {
        free(path);
        return -ENOMEM;
    }
    char **v = lzs_realloc_array(e->files, e->n_files + 1, sizeof(*v));
    if (!v) {
        free(path);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    e->files = v;
    v[e->n_files++] = path;
    e->bytes += (uint64_t)st.st_blocks * 512;
    uint64_t mtime = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
    if (!e->dir && mtime > e->last_use)
        e->last_use = mtime;
    return 0;
}

static int add_whole(lzs_cache *c, struct entries *es, const char *algo, const char *name,
                     char *path, lzs_error **err)
{
    (void)c;
    return add_file(es, 'l', algo, name, path, err);
}

static int add_index(lzs_cache *c, struct entries *es, const char *algo, const char *name,
                     char *path, lzs_error **err)
{
    (void)c;
    return add_file(es, 'i', algo, name, path, err);
}

/* Every entry with its usage and last use; called with c->lock held. Layers first: their whole
 * files join them. */
static int scan(lzs_cache *c, struct entries *es, lzs_error **err)
{
    int rc = visit(c, es, c->layers_dir, add_layer, err);
    if (rc == 0)
        rc = visit(c, es, c->whole_dir, add_whole, err);
    if (rc == 0)
        rc = visit(c, es, c->indexes_dir, add_index, err);
    return rc;
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
    return strcmp(x->key, y->key);
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
        rc = remove_entry(&es.v[i], err);
        if (rc == 0) {
            LZS_DEBUG("cache: evicted %s (%" PRIu64 " bytes)", es.v[i].key + 2, es.v[i].bytes);
            usage -= es.v[i].bytes;
            removed++;
        }
    }
    pthread_mutex_unlock(&c->lock);
    entries_dispose(&es);
    return rc < 0 ? rc : removed;
}

/* The files of ROOT/whole that belong to layer d. */
static int whole_files(lzs_cache *c, const struct lzs_digest *d, struct entries *es,
                       lzs_error **err)
{
    char want[LZS_DIGEST_STR_MAX + 2], sub[LZS_DIGEST_STR_MAX];
    int rc = cache_digest_subpath(d, sub, err);
    if (rc < 0)
        return rc;
    snprintf(want, sizeof(want), "l:%s", sub);
    rc = visit(c, es, c->whole_dir, add_whole, err);
    for (size_t i = 0; rc == 0 && i < es->n; i++)
        if (strcmp(es->v[i].key, want) == 0)
            return remove_entry(&es->v[i], err);
    return rc;
}

int lzs_cache_layer_remove(lzs_cache *c, const struct lzs_digest *layer, lzs_error **err)
{
    lzs_autofree char *dir = NULL;
    int rc = cache_layer_dir(c, layer, &dir, err);
    if (rc < 0)
        return rc;
    struct entries es = {0};
    pthread_mutex_lock(&c->lock);
    char name[LZS_DIGEST_STR_MAX];
    if (cache_find_open(c, layer))
        rc = lzs_error_set(err, EBUSY, "cache %s: layer is open", lzs_digest_format(layer, name));
    else if ((rc = remove_dir(dir, err)) == 0)
        rc = whole_files(c, layer, &es, err);
    pthread_mutex_unlock(&c->lock);
    entries_dispose(&es);
    return rc;
}
