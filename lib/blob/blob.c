/* blob: the reader interface, its counters, and the file and memory implementations. */
#include "blob/blob.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

struct lzs_blob {
    struct lzs_refcount ref;
    const struct lzs_blob_ops *ops;
    void *impl;
    uint64_t size;
    char *name;
    atomic_uint_fast64_t bytes_read;
    atomic_uint_fast64_t reads;
};

int lzs_blob_new(lzs_blob **out, const struct lzs_blob_ops *ops, void *impl, uint64_t size,
                 const char *name, lzs_error **err)
{
    lzs_blob *b = calloc(1, sizeof(*b));
    char *n = strdup(name ? name : "blob");
    if (!b || !n) {
        free(b);
        free(n);
        if (ops->close)
            ops->close(impl);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    lzs_refcount_init(&b->ref);
    b->ops = ops;
    b->impl = impl;
    b->size = size;
    b->name = n;
    *out = b;
    return 0;
}

int lzs_blob_readat(lzs_blob *b, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    uint64_t end;
    if (lzs_add_overflow(off, (uint64_t)n, &end) || end > b->size)
        return lzs_error_set(err, ERANGE,
                             "%s: range %" PRIu64 "+%zu is past the end (%" PRIu64 " bytes)",
                             b->name, off, n, b->size);
    if (n == 0)
        return 0;
    int rc = b->ops->readat(b->impl, buf, n, off, err);
    if (rc < 0)
        return rc;
    atomic_fetch_add_explicit(&b->bytes_read, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->reads, 1, memory_order_relaxed);
    return 0;
}

uint64_t lzs_blob_size(const lzs_blob *b)
{
    return b->size;
}

const char *lzs_blob_name(const lzs_blob *b)
{
    return b->name;
}

void lzs_blob_stats(const lzs_blob *b, struct lzs_blob_stats *out)
{
    out->bytes_read = atomic_load_explicit(&b->bytes_read, memory_order_relaxed);
    out->reads = atomic_load_explicit(&b->reads, memory_order_relaxed);
}

lzs_blob *lzs_blob_ref(lzs_blob *b)
{
    lzs_refcount_inc(&b->ref);
    return b;
}

lzs_blob *lzs_blob_unref(lzs_blob *b)
{
    if (!b || !lzs_refcount_dec(&b->ref))
        return NULL;
    if (b->ops->close)
        b->ops->close(b->impl);
    free(b->name);
    free(b);
    return NULL;
}

/* ---- a local file --------------------------------------------------------------------------- */

struct file_impl {
    int fd;
};

static int file_readat(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    struct file_impl *f = impl;
    return lzs_pread_full(f->fd, buf, n, off, err);
}

static void file_close(void *impl)
{
    struct file_impl *f = impl;
    close(f->fd);
    free(f);
}

static const struct lzs_blob_ops file_ops = {.readat = file_readat, .close = file_close};

int lzs_blob_open_file(lzs_blob **out, const char *path, lzs_error **err)
{
    lzs_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return lzs_error_set_sys(err, errno, "%s", path);
    if (!S_ISREG(st.st_mode))
        return lzs_error_set(err, EINVAL, "%s: not a regular file", path);
    struct file_impl *f = malloc(sizeof(*f));
    if (!f)
        return lzs_error_set(err, ENOMEM, "out of memory");
    f->fd = lzs_steal_fd(&fd);
    return lzs_blob_new(out, &file_ops, f, (uint64_t)st.st_size, path, err);
}

/* ---- memory --------------------------------------------------------------------------------- */

static int mem_readat(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    memcpy(buf, (const char *)impl + off, n);
    return 0;
}

static const struct lzs_blob_ops mem_ops = {.readat = mem_readat, .close = NULL};

int lzs_blob_new_mem(lzs_blob **out, const void *p, size_t n, lzs_error **err)
{
    return lzs_blob_new(out, &mem_ops, (void *)p, n, "memory", err);
}
