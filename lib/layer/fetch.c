/* Filling the cache: decode absent stretches of the tar stream from their nearest checkpoint,
 * one fetch per stretch, shared with concurrent readers of the same bytes. */
#include "layer_i.h"

#define PIECE ((size_t)256 * 1024)
#define CH LZS_CACHE_CHUNK
/* The rest of a span is read ahead when the span's compressed bytes fit in one request of the
 * cursor (so they came with the fetch, as a rule) and the rest holds at most TAIL_MAX bytes. */
#define TAIL_IN_MAX ((uint64_t)1024 * 1024)
#define TAIL_MAX ((uint64_t)4 * 1024 * 1024)

static uint64_t chunk_end(const lzs_layer *l, uint64_t i)
{
    return (i + 1) * CH < l->size ? (i + 1) * CH : l->size;
}

static bool chunk_present(lzs_layer *l, uint64_t i)
{
    return lzs_cache_is_present(l->cache, i * CH, chunk_end(l, i) - i * CH);
}

/* The first absent run of chunks in [first, last]: false when all are present. */
static bool absent_run(lzs_layer *l, uint64_t first, uint64_t last, uint64_t *a, uint64_t *b)
{
    uint64_t i = first;
    while (i <= last && chunk_present(l, i))
        i++;
    if (i > last)
        return false;
    uint64_t j = i;
    while (j + 1 <= last && !chunk_present(l, j + 1))
        j++;
    *a = i * CH;
    *b = chunk_end(l, j);
    return true;
}

/* The fetch in flight that has yet to write off, if any; called with l->lock held. */
static struct layer_fetch *covering(lzs_layer *l, uint64_t off)
{
    for (struct layer_fetch *f = l->fetches; f; f = f->next)
        if (f->start <= off && f->pos <= off && off < f->end)
            return f;
    return NULL;
}

/* Under l->lock: f (in flight, or just finished) still has to write what the chunk at a needs. */
static bool still_writing(const lzs_layer *l, const struct layer_fetch *f, uint64_t a)
{
    uint64_t need = chunk_end(l, a / CH);
    return !f->done && f->pos < (need < f->end ? need : f->end);
}

/* Wait until no fetch in flight still has to write the chunk at a; called with l->lock held.
 * Fetches live on their owners' stacks: a waiter counted in f->waiters keeps f there (its owner
 * waits for them to leave), and f is looked up again after. Only the first waiter to come and
 * the last to leave signal (a paced owner goes on at once; a finished one may return): waiters
 * that signalled on every wake-up woke each other in a loop, and 64 readers of one layer kept
 * both cores of the CI VM busy in futex calls. */
static void wait_for_chunk(lzs_layer *l, uint64_t a)
{
    struct layer_fetch *f;
    while ((f = covering(l, a)) && still_writing(l, f, a)) {
        if (f->waiters++ == 0)
            pthread_cond_broadcast(&l->cond);
        while (still_writing(l, f, a))
            pthread_cond_wait(&l->cond, &l->lock);
        if (--f->waiters == 0)
            pthread_cond_broadcast(&l->cond);
    }
}

static void fetch_progress(lzs_layer *l, struct layer_fetch *f, uint64_t pos)
{
    pthread_mutex_lock(&l->lock);
    f->pos = pos;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* The pieces of [f->start, f->end) from cur into the cache. */
static int decode_pieces(lzs_layer *l, struct layer_fetch *f, lzs_zseek_cursor *cur, unsigned flags,
                         lzs_error **err)
{
    lzs_autofree uint8_t *buf = malloc(PIECE);
    if (!buf)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (uint64_t pos = f->start; pos < f->end;) {
        /* pieces end on chunk boundaries: the cache marks only chunks one write covers */
        uint64_t stop = pos / CH * CH + PIECE;
        size_t n = (size_t)((f->end < stop ? f->end : stop) - pos);
        int rc = lzs_zseek_cursor_read(cur, pos, buf, n, err);
        if (rc == 0)
            rc = lzs_cache_write(l->cache, pos, buf, n, err);
        if (rc < 0)
            return rc;
        pos += n;
        fetch_progress(l, f, pos);
        if (flags && pos < f->end && (rc = layer_pace(l, flags, f)) < 0)
            return rc;
    }
    return 0;
}

/* Under l->lock: the parked cursor when it stands in [from, upto] (no farther back than the
 * checkpoint at from), taken; else NULL. */
static lzs_zseek_cursor *take_parked(lzs_layer *l, uint64_t from, uint64_t upto)
{
    lzs_zseek_cursor *cur = l->parked;
    if (!cur || l->parked_pos < from || l->parked_pos > upto)
        return NULL;
    l->parked = NULL;
    return cur;
}

/* The end of the rest of the span that pos (a chunk boundary) is in, for lzs_layer_read_ahead:
 * the last chunk boundary before the next checkpoint, when the span's compressed bytes fit in
 * one request and the rest is at most TAIL_MAX; else pos (nothing to read ahead: the last span,
 * whose compressed end is the blob's, as in one-frame zstd). */
static uint64_t tail_end(const lzs_layer *l, uint64_t pos)
{
    if (l->comp == LZS_COMPRESSION_NONE || pos == 0 || pos >= l->size)
        return pos;
    uint32_t i = lzs_index_checkpoint_find(l->idx, pos - 1);
    if (i + 1 >= lzs_index_checkpoint_count(l->idx))
        return pos;
    struct lzs_index_checkpoint c, next;
    lzs_index_checkpoint_get(l->idx, i, &c);
    lzs_index_checkpoint_get(l->idx, i + 1, &next);
    uint64_t end = next.out_off / CH * CH;
    if (next.in_off - c.in_off > TAIL_IN_MAX || end <= pos || end - pos > TAIL_MAX)
        return pos;
    return end;
}

/* Leave cur (at the end of a fetch that went well) for the next fetch. */
static void park(lzs_layer *l, lzs_zseek_cursor *cur)
{
    uint64_t pos = lzs_zseek_cursor_position(cur), end = tail_end(l, pos);
    pthread_mutex_lock(&l->lock);
    lzs_zseek_cursor *old = l->parked;
    l->parked = cur;
    l->parked_pos = pos;
    l->tail_end = end;
    pthread_mutex_unlock(&l->lock);
    lzs_zseek_cursor_free(old);
}

/* A cursor at checkpoint f->start (or any offset when uncompressed). */
static int new_cursor(lzs_layer *l, const struct layer_fetch *f, uint64_t in_end,
                      lzs_zseek_cursor **out, lzs_error **err)
{
    struct lzs_index_checkpoint c;
    lzs_index_checkpoint_get(l->idx, lzs_index_checkpoint_find(l->idx, f->start), &c);
    struct lzs_zseek_point p = {c.in_off, c.out_off, c.bits, c.kind, c.window, c.window_len};
    return lzs_zseek_cursor_new(out, l->blob, l->comp, &p, in_end, err);
}

/* Decode [f->start, f->end) into the cache with cur (standing at f->start; NULL: a new one at
 * the checkpoint f->start), which is parked for the next fetch when all went well. */
static int decode(lzs_layer *l, struct layer_fetch *f, lzs_zseek_cursor *cur, unsigned flags,
                  lzs_error **err)
{
    /* compressed bytes up to what the caller needs; rounding up to whole chunks may take a
     * little more, which the cursor then fetches in small steps */
    uint64_t in_end = layer_in_end(l->idx, lzs_blob_size(l->blob), f->need_end);
    int rc = cur ? 0 : new_cursor(l, f, in_end, &cur, err);
    if (rc < 0)
        return rc;
    lzs_zseek_cursor_set_in_end(cur, in_end);
    rc = decode_pieces(l, f, cur, flags, err);
    if (rc == 0)
        park(l, cur);
    else
        lzs_zseek_cursor_free(cur);
    return rc;
}

/* Fetch [a, b) (whole chunks) unless someone else is already at it; the caller needs the bytes
 * before need_end. */
static int fetch_run(lzs_layer *l, uint64_t a, uint64_t b, uint64_t need_end, unsigned flags,
                     lzs_error **err)
{
    struct layer_fetch f = {.start = a, .end = b, .need_end = need_end < b ? need_end : b};
    if (l->comp != LZS_COMPRESSION_NONE) {
        struct lzs_index_checkpoint c;
        lzs_index_checkpoint_get(l->idx, lzs_index_checkpoint_find(l->idx, a), &c);
        f.start = c.out_off; /* neighbours decoded on the way are kept too */
    }
    pthread_mutex_lock(&l->lock);
    if (covering(l, a)) {
        wait_for_chunk(l, a);
        pthread_mutex_unlock(&l->lock);
        return 1; /* look again */
    }
    lzs_zseek_cursor *cur = take_parked(l, f.start, a);
    if (cur)
        f.start = l->parked_pos;
    f.pos = f.start;
    f.next = l->fetches;
    l->fetches = &f;
    pthread_mutex_unlock(&l->lock);

    uint64_t t0 = layer_now_ns();
    bool went_on = cur != NULL;
    int rc = decode(l, &f, cur, flags, err);
    if (rc == 0)
        LZS_DEBUG("%s: tar bytes %" PRIu64 "-%" PRIu64 " (needed from %" PRIu64
                  ") decoded from %s: %" PRIu64 " ms",
                  lzs_blob_name(l->blob), f.start, f.end, a,
                  went_on ? "the last fetch's cursor" : "a checkpoint",
                  (layer_now_ns() - t0) / 1000000u);

    pthread_mutex_lock(&l->lock);
    for (struct layer_fetch **pp = &l->fetches; *pp; pp = &(*pp)->next) {
        if (*pp == &f) {
            *pp = f.next;
            break;
        }
    }
    f.done = true;
    pthread_cond_broadcast(&l->cond);
    while (f.waiters) /* f lives on this stack */
        pthread_cond_wait(&l->cond, &l->lock);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void lzs_layer_read_ahead(lzs_layer *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t a = l->parked_pos, b = l->tail_end;
    bool go = l->parked && b > a;
    l->tail_end = 0;
    pthread_mutex_unlock(&l->lock);
    if (!go)
        return;
    lzs_autoerr lzs_error *err = NULL;
    if (layer_fill(l, a, b, 0, &err) < 0)
        LZS_DEBUG("%s: read ahead: %s", lzs_blob_name(l->blob), lzs_error_msg(err));
}

int layer_fill(lzs_layer *l, uint64_t start, uint64_t end, unsigned flags, lzs_error **err)
{
    if (start >= end)
        return 0;
    uint64_t first = start / CH, last = (end - 1) / CH, a, b;
    unsigned stuck = 0;
    while (absent_run(l, first, last, &a, &b)) {
        int rc = fetch_run(l, a, b, end, flags, err);
        if (rc < 0)
            return rc;
        if (rc > 0 || chunk_present(l, a / CH))
            stuck = 0;
        else if (++stuck > 2) /* what we fetch keeps being dropped (failed verifications) */
            return lzs_error_set(err, EIO,
                                 "%s: bytes %" PRIu64 "-%" PRIu64 " do not stay in the cache",
                                 lzs_blob_name(l->blob), a, b - 1);
        first = a / CH;
    }
    return 0;
}
