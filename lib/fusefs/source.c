/* The default data source: random access to the layer blob through lzs_file_reader, one reader
 * per open file handle (a reader keeps its decoder between forward reads, and is not
 * thread-safe: the kernel may send reads of one handle from several threads at once). */
#include "fusefs_i.h"

struct layer_source {
    lzs_index *idx;
    lzs_blob *blob;
};

struct layer_handle {
    pthread_mutex_t lock;
    lzs_file_reader *r; /* protected by lock */
};

static int layer_open(void *data, uint32_t id, void **fh, lzs_error **err)
{
    struct layer_source *s = data;
    struct layer_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = lzs_file_reader_new(&h->r, s->idx, s->blob, id, err);
    if (rc < 0) {
        free(h);
        return rc;
    }
    pthread_mutex_init(&h->lock, NULL);
    *fh = h;
    return 0;
}

static ssize_t layer_read(void *data, void *fh, uint32_t id, uint64_t off, void *buf, size_t n,
                          lzs_error **err)
{
    struct layer_source *s = data;
    struct layer_handle *h = fh;
    if (!h) {
        /* no handle (a source used without open): a reader for this read only */
        lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *r = NULL;
        int rc = lzs_file_reader_new(&r, s->idx, s->blob, id, err);
        return rc < 0 ? rc : lzs_file_reader_read(r, off, buf, n, err);
    }
    pthread_mutex_lock(&h->lock);
    ssize_t got = lzs_file_reader_read(h->r, off, buf, n, err);
    pthread_mutex_unlock(&h->lock);
    return got;
}

static void layer_release(void *data, void *fh)
{
    struct layer_handle *h = fh;
    if (!h)
        return;
    lzs_file_reader_free(h->r);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static void layer_free(void *data)
{
    struct layer_source *s = data;
    lzs_index_unref(s->idx);
    lzs_blob_unref(s->blob);
    free(s);
}

int lzs_fusefs_source_layer(lzs_index *idx, lzs_blob *b, struct lzs_fusefs_source *out,
                            lzs_error **err)
{
    struct layer_source *s = calloc(1, sizeof(*s));
    if (!s)
        return lzs_error_set(err, ENOMEM, "out of memory");
    s->idx = lzs_index_ref(idx);
    s->blob = lzs_blob_ref(b);
    *out = (struct lzs_fusefs_source){
        .open = layer_open,
        .read = layer_read,
        .release = layer_release,
        .free = layer_free,
        .data = s,
    };
    return 0;
}

void lzs_fusefs_source_dispose(struct lzs_fusefs_source *src)
{
    if (!src)
        return;
    if (src->free)
        src->free(src->data);
    *src = (struct lzs_fusefs_source){0};
}

/* The cached source: lzs_layer does the locking, fetching and verifying. Opening a file makes it
 * local and verified, so a failure shows at open, and reads are served from the cache. */
static int lazy_open(void *data, uint32_t id, void **fh, lzs_error **err)
{
    *fh = NULL;
    return lzs_layer_ensure(data, id, err);
}

static ssize_t lazy_read(void *data, void *fh, uint32_t id, uint64_t off, void *buf, size_t n,
                         lzs_error **err)
{
    (void)fh;
    return lzs_layer_read(data, id, off, buf, n, err);
}

static int lazy_locate(void *data, void *fh, uint32_t id, uint64_t off, size_t n, int *fd,
                       uint64_t *fd_off)
{
    (void)fh;
    return lzs_layer_locate(data, id, off, n, fd, fd_off);
}

static void lazy_after_open(void *data)
{
    lzs_layer_read_ahead(data);
}

void lzs_fusefs_source_lazy(lzs_layer *l, struct lzs_fusefs_source *out)
{
    *out = (struct lzs_fusefs_source){.open = lazy_open,
                                      .read = lazy_read,
                                      .locate = lazy_locate,
                                      .after_open = lazy_after_open,
                                      .data = l};
}
