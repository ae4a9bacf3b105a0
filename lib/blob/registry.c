/* blob: a blob in a registry repository, read with single-range GETs (lzs_repo_blob_read). */
#include "blob/blob.h"

#include <stdio.h>

struct registry_impl {
    lzs_repo *repo;
    struct lzs_digest digest;
};

static int registry_readat(void *impl, void *buf, size_t n, uint64_t off, lzs_error **err)
{
    struct registry_impl *r = impl;
    return lzs_repo_blob_read(r->repo, &r->digest, buf, n, off, err);
}

static void registry_close(void *impl)
{
    struct registry_impl *r = impl;
    lzs_repo_unref(r->repo);
    free(r);
}

static const struct lzs_blob_ops registry_ops = {.readat = registry_readat,
                                                 .close = registry_close};

int lzs_blob_open_registry(lzs_blob **out, lzs_repo *repo, const struct lzs_digest *d,
                           uint64_t size, lzs_error **err)
{
    struct registry_impl *r = malloc(sizeof(*r));
    if (!r)
        return lzs_error_set(err, ENOMEM, "out of memory");
    r->repo = lzs_repo_ref(repo);
    r->digest = *d;
    char name[LZS_OCI_REF_STR_MAX + LZS_DIGEST_STR_MAX + 2], ds[LZS_DIGEST_STR_MAX];
    snprintf(name, sizeof(name), "%s@%s", lzs_repo_name(repo), lzs_digest_format(d, ds));
    return lzs_blob_new(out, &registry_ops, r, size, name, err);
}
