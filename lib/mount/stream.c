/* A layer without an index, served while its blob streams in: lzs_image_fetch_whole_hooked runs
 * on a thread of its own and feeds a growing tree (lib/stream), which the layer's FUSE mount
 * shows meanwhile. The blob and its index land in the whole-layer directory as with a plain
 * fetch, and the decoded layer, complete and verified, becomes the cache's data of the layer, so
 * later mounts find everything local. */
#include "mount_i.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#define START_TIMEOUT_S 30

struct mount_stream {
    lzs_stream_tree *tree;
    lzs_image *img;
    size_t i;
    lzs_cache *cache;
    lzs_cache_layer *cached; /* the adopted staging file, held while the stream lives */
    char *dir;
    pthread_t thread;
    bool started;
    atomic_bool cancel;
    _Atomic uint64_t received;
    uint64_t size;
};

static int decoded_hook(void *data, const void *buf, size_t n, lzs_error **err)
{
    struct mount_stream *s = data;
    if (atomic_load(&s->cancel))
        return lzs_error_set(err, ECANCELED, "unmounted while streaming");
    return lzs_stream_tree_decoded(s->tree, buf, n, err);
}

static int entry_hook(void *data, const struct lzs_index_entry *e, lzs_error **err)
{
    struct mount_stream *s = data;
    return lzs_stream_tree_entry(s->tree, e, err);
}

/* The decoded layer (the staging file) as the cache's data of the layer: linked, not copied. */
static void adopt(struct mount_stream *s, lzs_index *idx)
{
    const struct lzs_index_info *info = lzs_index_info(idx);
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_cache_layer_open(s->cache, &info->blob_digest, info->uncompressed_size,
                                  lzs_index_entry_count(idx), &s->cached, &err);
    if (rc == 0)
        rc = lzs_cache_layer_adopt(s->cached, lzs_stream_tree_fd(s->tree), &err);
    if (rc < 0) {
        LZS_WARN("layer %zu: streamed in, but not kept in the cache (a remount decodes it "
                 "again): %s",
                 s->i, lzs_error_msg(err));
        s->cached = lzs_cache_layer_unref(s->cached);
    }
}

static void *stream_main(void *arg)
{
    struct mount_stream *s = arg;
    struct lzs_layer_build_opts hooks = {
        .decoded = decoded_hook, .entry = entry_hook, .hook_data = s};
    lzs_index *idx = NULL;
    lzs_blob *blob = NULL;
    lzs_error *err = NULL;
    int rc =
        lzs_image_fetch_whole_hooked(s->img, s->i, s->dir, &hooks, &s->received, &idx, &blob, &err);
    lzs_stream_tree_end(s->tree, rc < 0 ? err : NULL);
    if (rc == 0 && s->cache && !atomic_load(&s->cancel))
        adopt(s, idx);
    if (rc == 0) {
        struct lzs_stream_stats st;
        lzs_stream_tree_stats(s->tree, &st);
        LZS_INFO("layer %zu streamed in whole: %" PRIu64 " entries, %" PRIu64 " bytes", s->i,
                 st.entries, st.decoded);
    }
    lzs_index_unref(idx);
    lzs_blob_unref(blob);
    lzs_error_free(&err);
    return NULL;
}

int lzs_mount_stream_start(struct mount_stream **out, lzs_image *img, size_t i, lzs_cache *c,
                           const char *whole_dir, lzs_error **err)
{
    struct mount_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return lzs_error_set(err, ENOMEM, "out of memory");
    s->img = img;
    s->i = i;
    s->cache = c;
    s->size = lzs_image_layer(img, i)->desc.size;
    s->dir = strdup(whole_dir);
    int rc =
        s->dir ? lzs_mkdir_p(whole_dir, 0700, err) : lzs_error_set(err, ENOMEM, "out of memory");
    if (rc == 0)
        rc = lzs_stream_tree_new(&s->tree, whole_dir, err);
    if (rc == 0) { /* signals belong to the program */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int prc = pthread_create(&s->thread, NULL, stream_main, s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        s->started = prc == 0;
        if (prc != 0)
            rc = lzs_error_set_sys(err, prc, "cannot start the streaming thread");
    }
    if (rc < 0) {
        lzs_mount_stream_free(s);
        return rc;
    }
    lzs_stream_tree_wait_started(s->tree, START_TIMEOUT_S);
    struct lzs_stream_stats st;
    lzs_stream_tree_stats(s->tree, &st);
    if (st.state < 0 && st.entries == 1) { /* failed before anything arrived: as a fetch would */
        rc = lzs_error_set(err, -st.state, "%s", st.failure);
        lzs_mount_stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

lzs_stream_tree *lzs_mount_stream_tree(struct mount_stream *s)
{
    return s->tree;
}

void lzs_mount_stream_bytes(struct mount_stream *s, uint64_t *received, uint64_t *size)
{
    *received = atomic_load(&s->received);
    *size = s->size;
}

void lzs_mount_stream_cancel(struct mount_stream *s)
{
    if (!s)
        return;
    atomic_store(&s->cancel, true);
    if (s->tree) { /* wake the waiters now, not after the registry's next bytes */
        lzs_autoerr lzs_error *err = NULL;
        lzs_error_set(&err, ECANCELED, "unmounted while streaming");
        lzs_stream_tree_end(s->tree, err);
    }
}

void lzs_mount_stream_free(struct mount_stream *s)
{
    if (!s)
        return;
    lzs_mount_stream_cancel(s);
    if (s->started)
        pthread_join(s->thread, NULL);
    lzs_cache_layer_unref(s->cached);
    lzs_stream_tree_free(s->tree);
    free(s->dir);
    free(s);
}

const char *lzs_mount_stream_name(enum lzs_mount_stream s)
{
    switch (s) {
    case LZS_MOUNT_STREAMING:
        return "streaming";
    case LZS_MOUNT_STREAMED:
        return "complete";
    case LZS_MOUNT_STREAM_FAILED:
        return "failed";
    default:
        return "none";
    }
}
