/* The background thread of a layer: the prefetch list first, then (when asked) the rest of the
 * layer, piece by piece at a bounded rate, until every byte is local. */
#include "layer_i.h"

#include <string.h>
#include <time.h>

/* Background fetches go in pieces so foreground readers never wait long behind one. */
#define BG_PIECE ((uint64_t)8 * 1024 * 1024)

uint64_t layer_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool stopping(lzs_layer *l)
{
    pthread_mutex_lock(&l->lock);
    bool stop = l->stop;
    pthread_mutex_unlock(&l->lock);
    return stop;
}

int layer_pace(lzs_layer *l, unsigned flags, const struct layer_fetch *f)
{
    uint64_t rate = flags & LAYER_THROTTLE ? l->opts.background_rate : 0;
    uint64_t due = 0;
    if (rate) {
        struct lzs_blob_stats bs;
        lzs_blob_stats(l->blob, &bs);
        double secs = (double)(bs.bytes_read - l->bg_bytes0) / (double)rate;
        due = l->bg_t0_ns + (uint64_t)(secs * 1e9);
    }
    struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
    pthread_mutex_lock(&l->lock);
    while (!l->stop && !(f && f->waiters) && layer_now_ns() < due)
        pthread_cond_timedwait(&l->cond, &l->lock, &ts); /* the cond runs on CLOCK_MONOTONIC */
    bool stop = l->stop && (flags & LAYER_CANCEL);
    pthread_mutex_unlock(&l->lock);
    return stop ? -ECANCELED : 0;
}

static void prefetch(lzs_layer *l)
{
    for (size_t i = 0; i < l->opts.n_prefetch && !stopping(l); i++) {
        const char *path = l->opts.prefetch[i];
        while (*path == '/')
            path++;
        uint32_t id;
        lzs_autoerr lzs_error *err = NULL;
        if (lzs_index_lookup(l->idx, path, &id) < 0) {
            LZS_DEBUG("prefetch: no '%s' in %s", path, lzs_blob_name(l->blob));
            continue;
        }
        struct lzs_index_entry e;
        lzs_index_entry_get(l->idx, lzs_index_resolve_hardlink(l->idx, id), &e);
        int rc = e.type == LZS_ENTRY_REG ? layer_ensure(l, id, LAYER_CANCEL, &err) : 0;
        if (rc < 0 && rc != -ECANCELED)
            LZS_WARN("prefetch of '%s': %s", path, lzs_error_msg(err));
    }
}

/* The end of the background piece starting at off: the first checkpoint at least BG_PIECE
 * further, so that consecutive pieces fetch adjoining compressed ranges (a piece decodes from
 * the checkpoint at or before its start); the layer's end when there is none. */
static uint64_t piece_end(const lzs_layer *l, uint64_t off)
{
    if (lzs_index_info(l->idx)->flags & LZS_INDEX_SEQUENTIAL)
        return l->size; /* a single-frame zstd layer decodes from its start: one pass */
    uint64_t want = l->size - off < BG_PIECE ? l->size : off + BG_PIECE;
    if (want == l->size || l->comp == LZS_COMPRESSION_NONE)
        return want;
    uint32_t k = lzs_index_checkpoint_find(l->idx, want);
    struct lzs_index_checkpoint c;
    lzs_index_checkpoint_get(l->idx, k, &c);
    if (c.out_off == want)
        return want;
    if (k + 1 >= lzs_index_checkpoint_count(l->idx))
        return l->size;
    lzs_index_checkpoint_get(l->idx, k + 1, &c);
    return c.out_off;
}

static void fetch_all(lzs_layer *l)
{
    for (uint64_t off = 0, end; off < l->size; off = end) {
        end = piece_end(l, off);
        lzs_autoerr lzs_error *err = NULL;
        int rc = layer_fill(l, off, end, LAYER_CANCEL | LAYER_THROTTLE, &err);
        if (rc == 0)
            rc = layer_pace(l, LAYER_CANCEL | LAYER_THROTTLE, NULL);
        if (rc == -ECANCELED)
            return;
        if (rc < 0) {
            LZS_WARN("background fetch of %s stopped: %s", lzs_blob_name(l->blob),
                     lzs_error_msg(err));
            return;
        }
    }
    lzs_autoerr lzs_error *err = NULL;
    if (lzs_cache_layer_sync(l->cache, &err) < 0)
        LZS_WARN("%s", lzs_error_msg(err));
    atomic_store(&l->complete, true);
    LZS_INFO("layer %s is fully local", lzs_blob_name(l->blob));
}

void *layer_background_main(void *arg)
{
    lzs_layer *l = arg;
    struct lzs_blob_stats bs;
    lzs_blob_stats(l->blob, &bs);
    l->bg_t0_ns = layer_now_ns();
    l->bg_bytes0 = bs.bytes_read;
    prefetch(l);
    if (l->opts.background && !atomic_load(&l->complete) && !stopping(l))
        fetch_all(l);
    atomic_store(&l->bg_done, true);
    return NULL;
}
