/* blob: random access to a (compressed) blob through one interface: a local file, memory, or a
 * registry (single-range GETs). Readers are shared across threads: implementations must be
 * thread-safe. */
#ifndef LZS_BLOB_H
#define LZS_BLOB_H

#include "base/base.h"
#include "registry/registry.h"

typedef struct lzs_blob lzs_blob;

struct lzs_blob_ops {
    /* Read exactly n bytes at off (off + n <= size, checked by the caller); thread-safe. */
    int (*readat)(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err);
    void (*close)(void *impl);
};

/* Counters kept by every blob, for --stats and benchmarks. */
struct lzs_blob_stats {
    uint64_t bytes_read; /* bytes returned by readat */
    uint64_t reads;      /* readat calls */
};

/* A blob over an implementation; takes ownership of impl (ops->close frees it). */
int lzs_blob_new(lzs_blob **out, const struct lzs_blob_ops *ops, void *impl, uint64_t size,
                 const char *name, lzs_error **err);
/* A local file, read with pread. */
int lzs_blob_open_file(lzs_blob **out, const char *path, lzs_error **err);
/* Memory owned by the caller, which must outlive the blob. */
int lzs_blob_new_mem(lzs_blob **out, const void *p, size_t n, lzs_error **err);
/* Blob d of size bytes in repo (which the blob references); each read is one range request,
 * retried as lzs_repo_blob_read does. Named "REPO@DIGEST" in messages. */
int lzs_blob_open_registry(lzs_blob **out, lzs_repo *repo, const struct lzs_digest *d,
                           uint64_t size, lzs_error **err);

/* Read exactly n bytes at off; -ERANGE when the range goes past the end of the blob. */
int lzs_blob_readat(lzs_blob *b, void *buf, size_t n, uint64_t off, lzs_error **err);
uint64_t lzs_blob_size(const lzs_blob *b);
/* Name for messages (the path, or REPO@DIGEST); borrowed from b. */
const char *lzs_blob_name(const lzs_blob *b);
void lzs_blob_stats(const lzs_blob *b, struct lzs_blob_stats *out);

lzs_blob *lzs_blob_ref(lzs_blob *b);
/* Drop a reference; returns NULL. NULL-safe. */
lzs_blob *lzs_blob_unref(lzs_blob *b);
static inline void lzs_blob_unrefp(lzs_blob **b)
{
    lzs_blob_unref(*b);
}

#endif
