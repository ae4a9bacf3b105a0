/* A lazily fetched layer: files served from the cache once present and verified. */
#include "layer_i.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define HASH_PIECE ((size_t)256 * 1024)
#define CH LZS_CACHE_CHUNK

static int copy_prefetch(lzs_layer *l, const struct lzs_layer_opts *opts, lzs_error **err)
{
    if (!opts->n_prefetch)
        return 0;
    l->prefetch = lzs_calloc_array(opts->n_prefetch, sizeof(*l->prefetch));
    if (!l->prefetch)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < opts->n_prefetch; i++) {
        l->prefetch[i] = strdup(opts->prefetch[i]);
        if (!l->prefetch[i])
            return lzs_error_set(err, ENOMEM, "out of memory");
    }
    l->opts.prefetch = (const char *const *)l->prefetch;
    return 0;
}

static int start_background(lzs_layer *l, lzs_error **err)
{
    if (!l->opts.background && !l->opts.n_prefetch) {
        atomic_store(&l->bg_done, true);
        return 0;
    }
    int rc = pthread_create(&l->bg, NULL, layer_background_main, l);
    if (rc != 0)
        return lzs_error_set_sys(err, rc, "start the background fetch");
    l->bg_running = true;
    return 0;
}

int lzs_layer_open(lzs_layer **out, lzs_index *idx, lzs_blob *b, lzs_cache *c,
                   const struct lzs_layer_opts *opts, lzs_error **err)
{
    const struct lzs_index_info *info = lzs_index_info(idx);
    if (info->compressed_size != lzs_blob_size(b))
        return lzs_error_set(err, EINVAL,
                             "blob %s has %" PRIu64 " bytes, its index expects %" PRIu64,
                             lzs_blob_name(b), lzs_blob_size(b), info->compressed_size);
    lzs_layer *l = calloc(1, sizeof(*l));
    if (!l)
        return lzs_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* layer_pace's deadlines */
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    l->idx = lzs_index_ref(idx);
    l->blob = lzs_blob_ref(b);
    l->comp = (enum lzs_compression)info->compression;
    l->size = info->uncompressed_size;
    if (opts)
        l->opts = *opts;
    l->opts.prefetch = NULL;
    int rc = copy_prefetch(l, opts ? opts : &l->opts, err);
    if (rc == 0)
        rc = lzs_cache_layer_open(c, &info->blob_digest, l->size, lzs_index_entry_count(idx),
                                  &l->cache, err);
    if (rc == 0) {
        uint64_t present, size;
        lzs_cache_layer_stats(l->cache, &present, &size);
        atomic_store(&l->complete, present == size);
        rc = start_background(l, err);
    }
    if (rc < 0) {
        lzs_layer_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void lzs_layer_close(lzs_layer *l)
{
    if (!l)
        return;
    if (l->bg_running) {
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->bg, NULL);
    }
    lzs_cache_layer_unref(l->cache); /* the last reference syncs the map */
    for (size_t i = 0; l->prefetch && i < l->opts.n_prefetch; i++)
        free(l->prefetch[i]);
    free(l->prefetch);
    lzs_blob_unref(l->blob);
    lzs_index_unref(l->idx);
    pthread_cond_destroy(&l->cond);
    lzs_zseek_cursor_free(l->parked);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

lzs_index *lzs_layer_index(const lzs_layer *l)
{
    return l->idx;
}

/* Copy [off, off+n) of file id from the cache, holes as zeros; every stored byte must be present
 * (-ENODATA otherwise, err untouched). */
static int copy_out(lzs_layer *l, uint32_t id, const struct lzs_index_entry *e, uint64_t off,
                    void *buf, size_t n, lzs_error **err)
{
    struct layer_sparse_pos pos = {0};
    for (size_t done = 0; done < n;) {
        uint64_t soff = e->offset + off + done, len = n - done, hole = 0;
        if (e->nsparse)
            hole = layer_sparse_map(l->idx, id, e, &pos, off + done, n - done, &soff, &len);
        if (hole) {
            memset((char *)buf + done, 0, (size_t)hole);
            done += (size_t)hole;
            continue;
        }
        int rc = lzs_cache_read(l->cache, soff, (char *)buf + done, (size_t)len, err);
        if (rc < 0)
            return rc;
        done += (size_t)len;
    }
    return 0;
}

/* Hash file id from the cache and compare with the index: 0, -EBADMSG (no message), -ENODATA
 * (some bytes were dropped meanwhile: fill again), or a failure to read the cache. */
static int verify(lzs_layer *l, uint32_t id, const struct lzs_index_entry *e, lzs_error **err)
{
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    int rc = lzs_hasher_new(&h, LZS_DIGEST_SHA256, err);
    if (rc < 0)
        return rc;
    lzs_autofree uint8_t *buf = malloc(HASH_PIECE);
    if (!buf)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (uint64_t off = 0; off < e->size;) {
        size_t n = e->size - off < HASH_PIECE ? (size_t)(e->size - off) : HASH_PIECE;
        rc = copy_out(l, id, e, off, buf, n, err);
        if (rc < 0)
            return rc;
        lzs_hasher_update(h, buf, n);
        off += n;
    }
    struct lzs_digest d;
    lzs_hasher_final(h, &d);
    return memcmp(d.bytes, e->sha256, LZS_SHA256_LEN) == 0 ? 0 : -EBADMSG;
}

/* Drop the cached chunks of [off, off+n) (bytes found bad), and the verified marks of the files
 * that share them: their bytes there will be decoded again, so they are checked again. */
static void drop_range(lzs_layer *l, uint64_t off, uint64_t n)
{
    uint64_t lo = off / CH * CH, hi = (off + n + CH - 1) / CH * CH;
    uint32_t count = lzs_index_entry_count(l->idx);
    for (uint32_t id = 0; id < count; id++) {
        struct lzs_index_entry e;
        lzs_index_entry_get(l->idx, id, &e);
        if (e.type == LZS_ENTRY_REG && e.offset < hi &&
            e.offset + layer_stored_size(l->idx, id, &e) > lo)
            lzs_cache_item_clear_verified(l->cache, id);
    }
    lzs_cache_invalidate(l->cache, off, n); /* after the marks: a reader then checks again */
}

/* Fill the cache with file id and check it; bytes that do not match are fetched once more.
 * Bytes dropped by a concurrent failed check are filled again without counting an attempt. */
static int fetch_and_verify(lzs_layer *l, uint32_t id, const struct lzs_index_entry *e,
                            unsigned flags, lzs_error **err)
{
    uint64_t stored = layer_stored_size(l->idx, id, e);
    LZS_DEBUG("%s: fetching '%s' (tar bytes %" PRIu64 "-%" PRIu64 ")", lzs_blob_name(l->blob),
              e->path, e->offset, e->offset + stored);
    int attempt = 0;
    for (int refills = 0; attempt < 2 && refills < 8;) {
        int rc = layer_fill(l, e->offset, e->offset + stored, flags, err);
        if (rc == 0)
            rc = verify(l, id, e, err);
        if (rc == 0) {
            lzs_cache_item_set_verified(l->cache, id);
            atomic_fetch_add(&l->verified_bytes, e->size);
            return 0;
        }
        if (rc == -ENODATA) {
            refills++;
            continue;
        }
        if (rc != -EBADMSG)
            return rc;
        attempt++;
        atomic_fetch_add(&l->verify_failures, 1);
        LZS_WARN("layer %s: '%s' does not match its sha256 in the index; fetching it again",
                 lzs_blob_name(l->blob), e->path);
        drop_range(l, e->offset, stored);
    }
    if (attempt < 2)
        return lzs_error_set(err, EIO, "'%s' in %s: its bytes keep being dropped from the cache",
                             e->path, lzs_blob_name(l->blob));
    return lzs_error_set(err, EIO, "'%s' in %s does not match its sha256 in the index", e->path,
                         lzs_blob_name(l->blob));
}

/* Under l->lock: the check in flight of file id, if any. */
static struct layer_check *check_of(lzs_layer *l, uint32_t id)
{
    for (struct layer_check *c = l->checks; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* Under l->lock (released while waiting): the outcome of c, another reader's check. */
static int wait_for_check(lzs_layer *l, struct layer_check *c, lzs_error **err)
{
    c->waiters++;
    while (!c->done)
        pthread_cond_wait(&l->cond, &l->lock);
    int rc = c->rc;
    if (rc < 0)
        lzs_error_set(err, -rc, "%s", c->msg);
    if (--c->waiters == 0)
        pthread_cond_broadcast(&l->cond); /* its owner may return */
    return rc;
}

/* fetch_and_verify for a reader, whose concurrent readers of the same file wait for it: 64
 * processes opening one cold library hash it once, not 64 times. */
static int check_shared(lzs_layer *l, uint32_t id, const struct lzs_index_entry *e, lzs_error **err)
{
    pthread_mutex_lock(&l->lock);
    struct layer_check *c = check_of(l, id);
    if (c || lzs_cache_item_is_verified(l->cache, id)) { /* checked since layer_ensure looked */
        int rc = c ? wait_for_check(l, c, err) : 0;
        pthread_mutex_unlock(&l->lock);
        return rc;
    }
    struct layer_check mine = {.id = id, .next = l->checks};
    l->checks = &mine;
    pthread_mutex_unlock(&l->lock);

    lzs_error *e_own = NULL; /* kept for the waiters' message */
    int rc = fetch_and_verify(l, id, e, 0, &e_own);

    pthread_mutex_lock(&l->lock);
    for (struct layer_check **pp = &l->checks; *pp; pp = &(*pp)->next) {
        if (*pp == &mine) {
            *pp = mine.next;
            break;
        }
    }
    mine.rc = rc;
    if (rc < 0)
        snprintf(mine.msg, sizeof(mine.msg), "%s", lzs_error_msg(e_own));
    mine.done = true;
    pthread_cond_broadcast(&l->cond);
    while (mine.waiters) /* mine lives on this stack */
        pthread_cond_wait(&l->cond, &l->lock);
    pthread_mutex_unlock(&l->lock);
    if (err)
        *err = e_own; /* *err was NULL, as for any setter */
    else
        lzs_error_free(&e_own);
    return rc;
}

int layer_ensure(lzs_layer *l, uint32_t id, unsigned flags, lzs_error **err)
{
    if (id >= lzs_index_entry_count(l->idx))
        return lzs_error_set(err, EINVAL, "no entry %" PRIu32 " in the index", id);
    id = lzs_index_resolve_hardlink(l->idx, id);
    if (lzs_cache_item_is_verified(l->cache, id))
        return 0;
    struct lzs_index_entry e;
    lzs_index_entry_get(l->idx, id, &e);
    if (e.type != LZS_ENTRY_REG)
        return lzs_error_set(err, EISDIR, "'%s' is not a regular file", e.path);
    /* readers share a check; the background's paced, cancellable ones go alone (a reader must
     * not wait at their pace) */
    return flags ? fetch_and_verify(l, id, &e, flags, err) : check_shared(l, id, &e, err);
}

int lzs_layer_ensure(lzs_layer *l, uint32_t id, lzs_error **err)
{
    return layer_ensure(l, id, 0, err);
}

ssize_t lzs_layer_read(lzs_layer *l, uint32_t id, uint64_t off, void *buf, size_t n,
                       lzs_error **err)
{
    int rc = lzs_layer_ensure(l, id, err);
    if (rc < 0)
        return rc;
    id = lzs_index_resolve_hardlink(l->idx, id);
    struct lzs_index_entry e;
    lzs_index_entry_get(l->idx, id, &e);
    if (off >= e.size)
        return 0;
    if (n > e.size - off)
        n = (size_t)(e.size - off);
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    rc = copy_out(l, id, &e, off, buf, n, err);
    for (int tries = 0; rc == -ENODATA && tries < 2; tries++) {
        /* dropped since it was verified (a file sharing a chunk with it failed its check): fetch
         * and check it again, whatever its mark says by now */
        lzs_cache_item_clear_verified(l->cache, id);
        rc = fetch_and_verify(l, id, &e, 0, err);
        if (rc == 0)
            rc = copy_out(l, id, &e, off, buf, n, err);
    }
    if (rc == -ENODATA)
        return lzs_error_set(err, EIO, "'%s': its cached bytes keep being dropped", e.path);
    return rc < 0 ? rc : (ssize_t)n;
}

int lzs_layer_locate(lzs_layer *l, uint32_t id, uint64_t off, size_t n, int *fd, uint64_t *fd_off)
{
    if (id >= lzs_index_entry_count(l->idx))
        return 0;
    id = lzs_index_resolve_hardlink(l->idx, id);
    if (!lzs_cache_item_is_verified(l->cache, id))
        return 0;
    struct lzs_index_entry e;
    lzs_index_entry_get(l->idx, id, &e);
    if (e.type != LZS_ENTRY_REG || e.nsparse || off > e.size || n > e.size - off)
        return 0;
    *fd = lzs_cache_layer_fd(l->cache);
    *fd_off = e.offset + off;
    return 1;
}

void lzs_layer_stats(lzs_layer *l, struct lzs_layer_stats *out)
{
    struct lzs_blob_stats bs;
    lzs_blob_stats(l->blob, &bs);
    *out = (struct lzs_layer_stats){
        .compressed_size = lzs_blob_size(l->blob),
        .fetched = bs.bytes_read,
        .requests = bs.reads,
        .verified_bytes = atomic_load(&l->verified_bytes),
        .verify_failures = atomic_load(&l->verify_failures),
        .background_done = atomic_load(&l->bg_done),
    };
    lzs_cache_layer_stats(l->cache, &out->present, &out->size);
    out->complete = out->present == out->size;
}

int lzs_layer_sync(lzs_layer *l, lzs_error **err)
{
    return lzs_cache_layer_sync(l->cache, err);
}
