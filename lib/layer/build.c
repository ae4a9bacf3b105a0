/* Build a layer index in one pass: a decoding thread (read, digest, decompress, record points)
 * feeds a tar-walking thread (libarchive, sha256 of contents) through a small queue of chunks. */
#include "layer/layer.h"

#include <pthread.h>
#include <string.h>

_Static_assert((int)LZS_COMPRESSION_NONE == (int)LZS_INDEX_COMP_NONE &&
                   (int)LZS_COMPRESSION_GZIP == (int)LZS_INDEX_COMP_GZIP &&
                   (int)LZS_COMPRESSION_ZSTD == (int)LZS_INDEX_COMP_ZSTD,
               "zseek and index number compressions alike");

#define CHUNK_SIZE (1u << 20)
#define QUEUE_LEN 8

struct chunk {
    uint8_t *data;
    size_t len; /* 0: end of stream */
};

struct pipe {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct chunk slots[QUEUE_LEN]; /* protected by lock */
    size_t head, count;            /* protected by lock */
    bool producer_failed;          /* protected by lock */
    bool consumer_gone;            /* protected by lock */
    /* consumer side only */
    struct chunk cur;
    size_t cur_pos;
    bool eof;
};

struct producer {
    struct pipe *pipe;
    lzs_zseek_read_fn read;
    void *data;
    const struct lzs_layer_build_opts *opts;
    lzs_hasher *blob_hasher;
    lzs_zseek_stream *stream;
    lzs_error *err;
    int rc;
};

/* ---- the queue ------------------------------------------------------------------------------ */

static bool pipe_push(struct pipe *p, struct chunk c)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == QUEUE_LEN && !p->consumer_gone)
        pthread_cond_wait(&p->cond, &p->lock);
    bool ok = !p->consumer_gone;
    if (ok) {
        p->slots[(p->head + p->count) % QUEUE_LEN] = c;
        p->count++;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

/* Next chunk; false when the producer failed. */
static bool pipe_pop(struct pipe *p, struct chunk *c)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == 0 && !p->producer_failed)
        pthread_cond_wait(&p->cond, &p->lock);
    bool ok = p->count > 0;
    if (ok) {
        *c = p->slots[p->head];
        p->head = (p->head + 1) % QUEUE_LEN;
        p->count--;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

static void pipe_set_flag(struct pipe *p, bool *flag)
{
    pthread_mutex_lock(&p->lock);
    *flag = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* The tar walker's read function: bytes from the queue. */
static ssize_t pipe_read(void *data, void *buf, size_t n, lzs_error **err)
{
    struct pipe *p = data;
    while (!p->eof && p->cur_pos == p->cur.len) {
        free(p->cur.data);
        p->cur = (struct chunk){0};
        p->cur_pos = 0;
        if (!pipe_pop(p, &p->cur))
            return lzs_error_set(err, ECANCELED, "layer decoding failed");
        p->eof = p->cur.len == 0;
    }
    if (p->eof)
        return 0;
    size_t k = p->cur.len - p->cur_pos < n ? p->cur.len - p->cur_pos : n;
    memcpy(buf, p->cur.data + p->cur_pos, k);
    p->cur_pos += k;
    return (ssize_t)k;
}

/* ---- the decoding thread -------------------------------------------------------------------- */

/* zseek's read function: the blob's bytes, digested on the way. */
static ssize_t hashing_read(void *data, void *buf, size_t n, lzs_error **err)
{
    struct producer *pr = data;
    ssize_t r = pr->read(pr->data, buf, n, err);
    if (r > 0)
        lzs_hasher_update(pr->blob_hasher, buf, (size_t)r);
    return r;
}

static int produce(struct producer *pr)
{
    int rc = lzs_zseek_stream_new(&pr->stream, hashing_read, pr, pr->opts->span, &pr->err);
    for (uint64_t next_report = 0; rc == 0;) {
        struct chunk c = {.data = malloc(CHUNK_SIZE)};
        if (!c.data)
            return lzs_error_set(&pr->err, ENOMEM, "out of memory");
        ssize_t n = lzs_zseek_stream_read(pr->stream, c.data, CHUNK_SIZE, &pr->err);
        c.len = n > 0 ? (size_t)n : 0;
        if (n > 0 && pr->opts->decoded) {
            int hrc = pr->opts->decoded(pr->opts->hook_data, c.data, c.len, &pr->err);
            n = hrc < 0 ? hrc : n;
        }
        if (n < 0 || !pipe_push(pr->pipe, c)) {
            free(c.data);
            return n < 0 ? (int)n : 0; /* consumer gone: it has its own error */
        }
        uint64_t out = lzs_zseek_stream_out_bytes(pr->stream);
        if (pr->opts->progress && (n == 0 || out >= next_report)) {
            pr->opts->progress(pr->opts->progress_data, lzs_zseek_stream_in_bytes(pr->stream), out);
            next_report = out + (64u << 20);
        }
        if (n == 0)
            return 0;
    }
    return rc;
}

static void *producer_main(void *arg)
{
    struct producer *pr = arg;
    pr->rc = produce(pr);
    if (pr->rc < 0)
        pipe_set_flag(pr->pipe, &pr->pipe->producer_failed);
    return NULL;
}

/* ---- assembling the index ------------------------------------------------------------------- */

static int add_points(lzs_index_writer *w, const lzs_zseek_stream *s,
                      struct lzs_layer_build_result *res, lzs_error **err)
{
    const struct lzs_zseek_point *pts;
    size_t n = lzs_zseek_stream_points(s, &pts);
    if (n > UINT32_MAX)
        return lzs_error_set(err, E2BIG, "too many checkpoints");
    for (size_t i = 0; i < n; i++) {
        struct lzs_index_checkpoint c = {pts[i].in_off, pts[i].out_off, pts[i].bits,
                                         pts[i].kind,   pts[i].window,  pts[i].window_len};
        int rc = lzs_index_writer_add_checkpoint(w, &c, err);
        if (rc < 0)
            return rc;
        res->window_bytes += pts[i].window_len;
    }
    res->checkpoints = (uint32_t)n;
    return 0;
}

static int finish_index(struct producer *pr, lzs_index_writer *w, struct lzs_buf *out,
                        struct lzs_layer_build_result *res, lzs_error **err)
{
    struct lzs_index_info *info = &res->info;
    lzs_hasher_final(pr->blob_hasher, &info->blob_digest);
    if (pr->opts->expected && !lzs_digest_is_equal(pr->opts->expected, &info->blob_digest)) {
        char a[LZS_DIGEST_STR_MAX], b[LZS_DIGEST_STR_MAX];
        return lzs_error_set(err, EBADMSG, "layer digest mismatch: expected %s, got %s",
                             lzs_digest_format(pr->opts->expected, a),
                             lzs_digest_format(&info->blob_digest, b));
    }
    info->compression = (enum lzs_index_compression)lzs_zseek_stream_compression(pr->stream);
    info->flags = lzs_zseek_stream_is_sequential(pr->stream) ? LZS_INDEX_SEQUENTIAL : 0;
    info->compressed_size = lzs_zseek_stream_in_bytes(pr->stream);
    info->uncompressed_size = lzs_zseek_stream_out_bytes(pr->stream);
    info->span = pr->opts->span;
    int rc = add_points(w, pr->stream, res, err);
    return rc < 0 ? rc : lzs_index_writer_finish(w, info, out, err);
}

static void pipe_drain(struct pipe *p)
{
    free(p->cur.data);
    for (size_t i = 0; i < p->count; i++)
        free(p->slots[(p->head + i) % QUEUE_LEN].data);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

static int run_pipeline(struct producer *pr, lzs_index_writer *w,
                        struct lzs_layer_build_result *res, lzs_error **err)
{
    pthread_t tid;
    int prc = pthread_create(&tid, NULL, producer_main, pr);
    if (prc != 0)
        return lzs_error_set_sys(err, prc, "cannot start the decoding thread");
    struct lzs_archive_stats st = {0};
    lzs_error *walk_err = NULL;
    int rc = lzs_archive_walk(pipe_read, pr->pipe, w, &st, &walk_err);
    if (rc < 0)
        pipe_set_flag(pr->pipe, &pr->pipe->consumer_gone);
    pthread_join(tid, NULL);
    res->entries = st.entries;
    res->file_bytes = st.file_bytes;
    lzs_error **cause = pr->rc < 0 ? &pr->err : &walk_err; /* the decoder's failure first */
    if (pr->rc < 0)
        rc = pr->rc;
    if (rc < 0 && err)
        *err = lzs_steal_ptr(cause);
    lzs_error_free(&walk_err);
    return rc;
}

int lzs_layer_build_index(lzs_zseek_read_fn read, void *data,
                          const struct lzs_layer_build_opts *opts, struct lzs_buf *out,
                          struct lzs_layer_build_result *res, lzs_error **err)
{
    struct lzs_layer_build_opts o = *opts;
    if (o.span == 0)
        o.span = LZS_LAYER_DEFAULT_SPAN;
    struct pipe p = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct producer pr = {.pipe = &p, .read = read, .data = data, .opts = &o};
    *res = (struct lzs_layer_build_result){0};
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    int rc = lzs_hasher_new(&pr.blob_hasher, LZS_DIGEST_SHA256, err);
    if (rc == 0)
        rc = lzs_index_writer_new(&w, err);
    if (rc == 0 && o.entry)
        lzs_index_writer_observe(w, o.entry, o.hook_data);
    if (rc == 0)
        rc = run_pipeline(&pr, w, res, err);
    if (rc == 0)
        rc = finish_index(&pr, w, out, res, err);
    pipe_drain(&p);
    lzs_zseek_stream_free(pr.stream);
    lzs_hasher_free(pr.blob_hasher);
    lzs_error_free(&pr.err);
    return rc;
}
