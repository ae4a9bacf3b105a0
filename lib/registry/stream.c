/* registry: a whole blob read sequentially. A fetch thread runs the GET (with the engine's
 * redirects, auth and retries, a stall limit instead of a deadline) into a bounded ring that the
 * reader drains; a broken transfer is resumed with "Range: bytes=N-" from the offset reached
 * (a 200 then is skipped forward to it). */
#include "registry_i.h"

#include <string.h>

struct lzs_repo_stream {
    lzs_repo *repo;
    char dg[LZS_DIGEST_STR_MAX];
    char suffix[LZS_DIGEST_STR_MAX + 16];
    struct reg_op op;
    pthread_t thread;
    atomic_bool cancel;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *ring;       /* REG_STREAM_RING bytes; protected by lock */
    size_t head, len; /* protected by lock */
    bool started;     /* a response was accepted; protected by lock */
    bool done;        /* the fetch thread finished; protected by lock */
    int rc;           /* its result; protected by lock */
    lzs_error *err;   /* its error, until handed to the reader; protected by lock */
    uint64_t size;    /* UINT64_MAX until known; protected by lock */

    uint64_t received; /* blob bytes put in the ring (fetch thread only) */
    uint64_t skip;     /* bytes of this response to drop (fetch thread only) */
};

static void set_size(lzs_repo_stream *s, uint64_t size)
{
    pthread_mutex_lock(&s->lock);
    s->size = size;
    s->started = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static uint64_t get_size(lzs_repo_stream *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t size = s->size;
    pthread_mutex_unlock(&s->lock);
    return size;
}

/* ---- the fetch thread's sink ----------------------------------------------------------------- */

static void stream_begin(void *ctx, char *range, size_t len)
{
    lzs_repo_stream *s = ctx;
    if (s->received > 0)
        snprintf(range, len, "bytes=%" PRIu64 "-", s->received);
}

static int check_206(lzs_repo_stream *s, const struct reg_resp *r, uint64_t known, lzs_error **err)
{
    struct reg_content_range cr;
    if (!r->content_range || reg_content_range_parse(&cr, r->content_range) < 0 ||
        cr.start != s->received || (known != UINT64_MAX && cr.total != known))
        return lzs_error_set_http(err, REG_SINK_RETRYABLE, 206,
                                  "Content-Range \"%.100s\" does not answer bytes=%" PRIu64 "-",
                                  r->content_range ? r->content_range : "(none)", s->received);
    s->skip = 0;
    if (cr.total != UINT64_MAX)
        set_size(s, cr.total);
    else
        set_size(s, known);
    return 0;
}

static int stream_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    lzs_repo_stream *s = ctx;
    uint64_t known = get_size(s);
    if (r->status == 206 && s->received > 0)
        return check_206(s, r, known, err);
    if (r->status != 200)
        return lzs_error_set_http(err, EPROTO, (int)r->status, "status %ld to a blob GET",
                                  r->status);
    uint64_t len = r->content_length >= 0 ? (uint64_t)r->content_length : UINT64_MAX;
    if (known != UINT64_MAX && len != UINT64_MAX && len != known)
        return lzs_error_set_http(err, REG_SINK_RETRYABLE, 200,
                                  "blob of %" PRIu64 " bytes now has %" PRIu64, known, len);
    s->skip = s->received; /* a 200 to a resume: the body starts over */
    set_size(s, known != UINT64_MAX ? known : len);
    return 0;
}

/* Copy p into the ring, waiting for room; -ECANCELED when the reader closes the stream. */
static int ring_put(lzs_repo_stream *s, const char *p, size_t n, lzs_error **err)
{
    pthread_mutex_lock(&s->lock);
    while (n > 0) {
        while (s->len == REG_STREAM_RING && !atomic_load(&s->cancel))
            pthread_cond_wait(&s->cond, &s->lock);
        if (atomic_load(&s->cancel))
            break;
        size_t tail = (s->head + s->len) % REG_STREAM_RING;
        size_t room = REG_STREAM_RING - s->len, run = REG_STREAM_RING - tail;
        size_t k = n < room ? n : room;
        k = k < run ? k : run;
        memcpy(s->ring + tail, p, k);
        s->len += k, p += k, n -= k;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return n > 0 ? lzs_error_set(err, ECANCELED, "stream closed") : 0;
}

static int stream_data(void *ctx, const char *p, size_t n, lzs_error **err)
{
    lzs_repo_stream *s = ctx;
    if (s->skip) {
        size_t drop = s->skip < n ? (size_t)s->skip : n;
        s->skip -= drop, p += drop, n -= drop;
    }
    uint64_t size = get_size(s);
    if (size != UINT64_MAX && n > size - s->received)
        return lzs_error_set(err, EPROTO, "body longer than the blob's %" PRIu64 " bytes", size);
    int rc = n ? ring_put(s, p, n, err) : 0;
    if (rc == 0)
        s->received += n, s->op.progress += n;
    return rc;
}

static int stream_end(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    lzs_repo_stream *s = ctx;
    uint64_t size = get_size(s);
    if (size == UINT64_MAX) {
        set_size(s, s->received); /* no length given: the end of the body is the end */
        return 0;
    }
    if (s->received == size)
        return 0;
    return lzs_error_set_http(err, REG_SINK_RETRYABLE, (int)r->status,
                              "body ended at %" PRIu64 " of %" PRIu64 " bytes", s->received, size);
}

static const struct reg_sink stream_sink = {
    .begin = stream_begin, .headers = stream_headers, .data = stream_data, .end = stream_end};

static void *fetch_main(void *arg)
{
    lzs_repo_stream *s = arg;
    lzs_error *err = NULL;
    int rc = reg_repo_do(s->repo, &s->op, &err);
    pthread_mutex_lock(&s->lock);
    s->done = true;
    s->rc = rc;
    s->err = err;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the reader's side ----------------------------------------------------------------------- */

static void stream_free(lzs_repo_stream *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    lzs_error_free(&s->err);
    free(s->ring);
    lzs_repo_unref(s->repo);
    free(s);
}

/* The fetch thread's error, handed to the caller once. */
static int take_error(lzs_repo_stream *s, lzs_error **err)
{
    int rc = s->rc;
    if (s->err && err)
        *err = lzs_steal_ptr(&s->err);
    else if (!s->err)
        rc = lzs_error_set(err, -rc, "blob %s: the stream failed earlier", s->dg);
    return rc;
}

static int stream_start(lzs_repo_stream *s, lzs_error **err)
{
    struct reg_op *op = &s->op;
    op->method = "GET", op->suffix = s->suffix, op->ns = true, op->caps = LZS_HOST_CAP_PULL;
    op->blob_key = s->dg, op->stream = true, op->cancel = &s->cancel;
    op->sink = &stream_sink, op->ctx = s;
    int rc = pthread_create(&s->thread, NULL, fetch_main, s);
    if (rc != 0)
        return lzs_error_set_sys(err, rc, "blob %s: starting its fetch thread", s->dg);
    pthread_mutex_lock(&s->lock);
    while (!s->started && !s->done)
        pthread_cond_wait(&s->cond, &s->lock);
    rc = s->done && s->rc < 0 ? take_error(s, err) : 0;
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        pthread_join(s->thread, NULL);
    return rc;
}

int lzs_repo_stream_open(lzs_repo_stream **out, lzs_repo *repo, const struct lzs_digest *d,
                         lzs_error **err)
{
    lzs_repo_stream *s = calloc(1, sizeof(*s));
    char *ring = malloc(REG_STREAM_RING);
    if (!s || !ring) {
        free(s);
        free(ring);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    s->repo = lzs_repo_ref(repo);
    s->ring = ring;
    s->size = UINT64_MAX;
    atomic_init(&s->cancel, false);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    lzs_digest_format(d, s->dg);
    snprintf(s->suffix, sizeof(s->suffix), "/blobs/%s", s->dg);
    int rc = stream_start(s, err);
    if (rc < 0) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

ssize_t lzs_repo_stream_read(lzs_repo_stream *s, void *buf, size_t n, lzs_error **err)
{
    if (n == 0)
        return 0;
    pthread_mutex_lock(&s->lock);
    while (s->len == 0 && !s->done)
        pthread_cond_wait(&s->cond, &s->lock);
    ssize_t got = 0;
    while ((size_t)got < n && s->len > 0) {
        size_t run = REG_STREAM_RING - s->head;
        size_t k = n - (size_t)got;
        k = k < s->len ? k : s->len;
        k = k < run ? k : run;
        memcpy((char *)buf + got, s->ring + s->head, k);
        s->head = (s->head + k) % REG_STREAM_RING, s->len -= k, got += (ssize_t)k;
    }
    if (got > 0)
        pthread_cond_broadcast(&s->cond);
    else if (s->rc < 0)
        got = take_error(s, err);
    pthread_mutex_unlock(&s->lock);
    return got;
}

uint64_t lzs_repo_stream_size(const lzs_repo_stream *s)
{
    return get_size((lzs_repo_stream *)s);
}

void lzs_repo_stream_close(lzs_repo_stream *s)
{
    if (!s)
        return;
    atomic_store(&s->cancel, true); /* the fetch thread stops at its next callback or pause */
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    stream_free(s);
}
