/* Index prefetch: when an image is opened, the indexes of its layers are fetched at once, a few
 * at a time, into ROOT/cache/indexes. containerd prepares the layers one after the other; each
 * Prepare then maps a kept index instead of waiting for its own download. */
#include "remote_i.h"

#include <string.h>

/* Threads per image fetching indexes. */
#define PREFETCHERS 4

struct prefetch_job {
    lzs_remote *r;
    struct remote_image *e;
};

/* Under r->lock: the next layer of e marked by remote_prefetch_start; -1 when none is left. */
static ssize_t next_layer(struct remote_image *e)
{
    size_t n = lzs_image_layer_count(e->img);
    while (e->next_prefetch < n) {
        size_t i = e->next_prefetch++;
        if (e->fetching[i])
            return (ssize_t)i;
    }
    return -1;
}

/* Load (and so keep) the index of layer i; a failure is the mount's to report, which tries
 * again. */
static void prefetch_one(lzs_remote *r, struct remote_image *e, size_t i)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    if (lzs_image_load_index_kept(e->img, i, lzs_cache_indexes_dir(r->cache), &idx, &err) < 0)
        LZS_DEBUG("%s: index prefetch: %s", lzs_image_name(e->img), lzs_error_msg(err));
    lzs_index_unref(idx);
}

static void *prefetch_main(void *arg)
{
    struct prefetch_job *j = arg;
    lzs_remote *r = j->r;
    struct remote_image *e = j->e;
    free(j);
    pthread_mutex_lock(&r->lock);
    for (ssize_t i; (i = next_layer(e)) >= 0;) {
        if (r->closing) {
            e->fetching[i] = false;
            continue;
        }
        pthread_mutex_unlock(&r->lock);
        prefetch_one(r, e, (size_t)i);
        pthread_mutex_lock(&r->lock);
        e->fetching[i] = false;
        pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->lock);
    remote_image_put(r, e); /* before helpers goes down: lzs_remote_free waits for that */
    pthread_mutex_lock(&r->lock);
    r->helpers--;
    pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* One prefetcher on a detached thread; false when none could be started. */
static bool start_one(lzs_remote *r, struct remote_image *e)
{
    struct prefetch_job *j = malloc(sizeof(*j));
    if (!j)
        return false;
    *j = (struct prefetch_job){r, e};
    pthread_mutex_lock(&r->lock);
    e->refs++;
    r->helpers++;
    pthread_mutex_unlock(&r->lock);
    if (remote_thread(prefetch_main, j) == 0)
        return true;
    free(j);
    pthread_mutex_lock(&r->lock);
    e->refs--; /* the caller holds one too */
    r->helpers--;
    pthread_mutex_unlock(&r->lock);
    return false;
}

size_t remote_prefetch_mark(lzs_remote *r, struct remote_image *e)
{
    size_t n = 0;
    for (size_t i = 0; i < lzs_image_layer_count(e->img); i++) {
        const struct lzs_image_layer *l = lzs_image_layer(e->img, i);
        e->fetching[i] = l->source != LZS_IMAGE_SRC_NONE && l->desc.size >= r->min_layer_size;
        n += e->fetching[i];
    }
    return n;
}

void remote_prefetch_start(lzs_remote *r, struct remote_image *e, size_t n)
{
    size_t started = 0;
    while (started < n && started < PREFETCHERS && start_one(r, e))
        started++;
    if (started > 0 || n == 0)
        return;
    pthread_mutex_lock(&r->lock); /* no thread: the mounts fetch their own */
    memset(e->fetching, 0, lzs_image_layer_count(e->img) * sizeof(*e->fetching));
    pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->lock);
}

void remote_prefetch_wait(lzs_remote *r, struct remote_image *e, size_t i)
{
    pthread_mutex_lock(&r->lock);
    while (e->fetching[i])
        pthread_cond_wait(&r->idle, &r->lock);
    pthread_mutex_unlock(&r->lock);
}
