/* image: a layer's blob (registry or layout), its index (download, verify, decompress,
 * validate), and building an index by streaming the blob once. */
#include "image_i.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lzs_image_open_layer_blob(lzs_image *img, size_t i, lzs_blob **out, lzs_error **err)
{
    const struct lzs_oci_descriptor *d = &img->layers[i].desc;
    if (img->repo)
        return lzs_blob_open_registry(out, img->repo, &d->digest, d->size, err);
    lzs_autofree char *path = lzs_image_layout_blob_path(img->layout_dir, &d->digest);
    if (!path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = lzs_blob_open_file(out, path, err);
    if (rc == 0 && lzs_blob_size(*out) != d->size) {
        *out = lzs_blob_unref(*out);
        rc = lzs_error_set(err, EBADMSG, "%s: size differs from the manifest's", path);
    }
    return rc;
}

/* The published (compressed) index blob of layer l into b, verified against its digest. */
static int fetch_index_blob(lzs_image *img, const struct lzs_image_layer *l, struct lzs_buf *b,
                            lzs_error **err)
{
    char ds[LZS_DIGEST_STR_MAX];
    if (l->index_size == 0 || l->index_size > LZS_IMAGE_INDEX_BLOB_MAX)
        return lzs_error_set(err, EMSGSIZE, "index blob %s: a size of %" PRIu64 " bytes",
                             lzs_digest_format(&l->index_digest, ds), l->index_size);
    if (!img->repo)
        return lzs_image_layout_read_blob(img->layout_dir, &l->index_digest, b, err);
    int rc = lzs_buf_reserve(b, (size_t)l->index_size, err);
    if (rc == 0)
        rc =
            lzs_repo_blob_read(img->repo, &l->index_digest, b->data, (size_t)l->index_size, 0, err);
    if (rc < 0)
        return rc;
    b->len = (size_t)l->index_size;
    b->data[b->len] = '\0';
    return lzs_digest_verify(&l->index_digest, b->data, b->len, err);
}

/* The index must describe exactly this layer. */
static int check_describes(const lzs_index *idx, const struct lzs_oci_descriptor *d,
                           lzs_error **err)
{
    const struct lzs_index_info *info = lzs_index_info(idx);
    char want[LZS_DIGEST_STR_MAX], got[LZS_DIGEST_STR_MAX];
    enum lzs_oci_compression c = lzs_oci_layer_compression(d->media_type);
    if (c != LZS_OCI_COMP_UNKNOWN && (int)info->compression != (int)c)
        return lzs_error_set(err, EBADMSG, "index is for a %s layer, the layer is %s",
                             lzs_compression_name((enum lzs_compression)info->compression),
                             d->media_type);
    if (!lzs_digest_is_equal(&info->blob_digest, &d->digest) || info->compressed_size != d->size)
        return lzs_error_set(err, EBADMSG,
                             "index describes layer %s (%" PRIu64 " bytes), not %s (%" PRIu64
                             " bytes)",
                             lzs_digest_format(&info->blob_digest, got), info->compressed_size,
                             lzs_digest_format(&d->digest, want), d->size);
    return 0;
}

/* The published index of layer l, stored form (uncompressed) into raw. */
static int fetch_index(lzs_image *img, const struct lzs_image_layer *l, struct lzs_buf *raw,
                       lzs_error **err)
{
    struct lzs_buf z = LZS_BUF_INIT(LZS_IMAGE_INDEX_BLOB_MAX);
    int rc = fetch_index_blob(img, l, &z, err);
    if (rc == 0)
        rc = lzs_zseek_zstd_decompress(z.data, z.len, raw, err);
    lzs_buf_dispose(&z);
    return rc;
}

/* sha256 of the file at path, streamed. */
static int hash_file(const char *path, struct lzs_digest *out, lzs_error **err)
{
    lzs_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lzs_error_set_sys(err, errno, "%s", path);
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    int rc = lzs_hasher_new(&h, LZS_DIGEST_SHA256, err);
    lzs_autofree uint8_t *buf = rc == 0 ? malloc(1 << 20) : NULL;
    if (rc == 0 && !buf)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    for (ssize_t n = 1; rc == 0 && n > 0;) {
        n = lzs_read_upto(fd, buf, 1 << 20, err);
        if (n < 0)
            rc = (int)n;
        else
            lzs_hasher_update(h, buf, (size_t)n);
    }
    if (rc == 0)
        lzs_hasher_final(h, out);
    return rc;
}

/* The stored index at path, checked to describe layer l. */
static int open_checked(const char *path, const struct lzs_image_layer *l, lzs_index **out,
                        lzs_error **err)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    int rc = lzs_index_open(&idx, path, err);
    if (rc == 0)
        rc = check_describes(idx, &l->desc, err);
    if (rc == 0)
        *out = lzs_steal_ptr(&idx);
    return rc;
}

/* "PATH.sha256", where the sha256 of a kept copy is recorded. */
static const char *sum_path(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s.sha256", path);
    return buf;
}

/* The copy in dir, when it is there, still has the sha256 recorded beside it (PATH.sha256) and
 * describes the layer. */
static bool open_kept(const char *path, const struct lzs_image_layer *l, lzs_index **out)
{
    char sp[4200], hex[2 * LZS_SHA256_LEN + 1];
    struct lzs_buf sum = LZS_BUF_INIT(256);
    struct lzs_digest d;
    bool ok = lzs_file_read_all(sum_path(path, sp, sizeof(sp)), &sum, NULL) == 0 &&
              hash_file(path, &d, NULL) == 0;
    if (ok) {
        lzs_hex_encode(d.bytes, LZS_SHA256_LEN, hex);
        ok = sum.len >= sizeof(hex) - 1 && memcmp(sum.data, hex, sizeof(hex) - 1) == 0;
    }
    lzs_buf_dispose(&sum);
    if (!ok || open_checked(path, l, out, NULL) < 0)
        return false;
    (void)utimensat(AT_FDCWD, path, NULL, 0); /* its last use, for the cache's eviction */
    return true;
}

/* Keep raw at path, then its sha256 beside it (which makes the copy usable). */
static int keep(const char *dir, const struct lzs_image_layer *l, const char *path,
                const struct lzs_buf *raw, lzs_error **err)
{
    struct lzs_digest d;
    char sp[4200], hex[2 * LZS_SHA256_LEN + 2];
    int rc = lzs_image_write_local(dir, &l->index_digest, raw->data, raw->len, err);
    if (rc == 0)
        rc = lzs_digest_buf(LZS_DIGEST_SHA256, raw->data, raw->len, &d, err);
    if (rc < 0)
        return rc;
    lzs_hex_encode(d.bytes, LZS_SHA256_LEN, hex);
    hex[2 * LZS_SHA256_LEN] = '\n';
    return lzs_file_write_atomic(sum_path(path, sp, sizeof(sp)), hex, sizeof(hex) - 1, 0644, err);
}

/* The published index of layer l, checked to describe it; kept at keep_path in keep_dir when
 * those are given (a copy that cannot be kept is only a lost shortcut). */
static int load_remote(lzs_image *img, const struct lzs_image_layer *l, const char *keep_dir,
                       const char *keep_path, lzs_index **out, lzs_error **err)
{
    struct lzs_buf raw = LZS_BUF_INIT(LZS_IMAGE_INDEX_MAX);
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    int rc = fetch_index(img, l, &raw, err);
    if (rc == 0)
        rc = lzs_index_load(&idx, raw.data, raw.len, err);
    if (rc == 0)
        rc = check_describes(idx, &l->desc, err);
    if (rc == 0 && keep_dir) {
        lzs_autoerr lzs_error *e = NULL;
        if (keep(keep_dir, l, keep_path, &raw, &e) < 0)
            LZS_WARN("keep the index of a layer: %s", lzs_error_msg(e));
    }
    if (rc == 0)
        *out = lzs_steal_ptr(&idx);
    lzs_buf_dispose(&raw);
    return rc;
}

/* lzs_image_load_index, keeping a registry's index in keep_dir unless it is NULL. */
static int load_index(lzs_image *img, size_t i, const char *keep_dir, lzs_index **out,
                      lzs_error **err)
{
    const struct lzs_image_layer *l = &img->layers[i];
    char ds[LZS_DIGEST_STR_MAX];
    lzs_digest_format(&l->desc.digest, ds);
    if (l->source == LZS_IMAGE_SRC_NONE)
        return lzs_error_set(err, ENOENT, "layer %s has no index", ds);
    bool registry = l->source == LZS_IMAGE_SRC_REFERRERS || l->source == LZS_IMAGE_SRC_TAG;
    lzs_autofree char *path = NULL;
    if (keep_dir && registry) {
        if (!(path = lzs_image_local_path(keep_dir, &l->index_digest)))
            return lzs_error_set(err, ENOMEM, "out of memory");
        if (open_kept(path, l, out))
            return 0;
    }
    int rc = l->source == LZS_IMAGE_SRC_LOCAL
                 ? open_checked(l->local_path, l, out, err)
                 : load_remote(img, l, path ? keep_dir : NULL, path, out, err);
    if (rc < 0)
        return lzs_error_wrap(err, "index of layer %s (from %s)", ds,
                              lzs_image_source_name(l->source));
    return 0;
}

int lzs_image_load_index(lzs_image *img, size_t i, lzs_index **out, lzs_error **err)
{
    return load_index(img, i, NULL, out, err);
}

int lzs_image_load_index_kept(lzs_image *img, size_t i, const char *dir, lzs_index **out,
                              lzs_error **err)
{
    return load_index(img, i, dir, out, err);
}

/* ---- building ------------------------------------------------------------------------------- */

static ssize_t read_stream(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_repo_stream_read(data, buf, n, err);
}

static ssize_t read_fd(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_read_upto(*(int *)data, buf, n, err);
}

int lzs_image_build_index(lzs_image *img, size_t i, const struct lzs_layer_build_opts *opts,
                          struct lzs_buf *out, struct lzs_layer_build_result *res, lzs_error **err)
{
    const struct lzs_oci_descriptor *d = &img->layers[i].desc;
    struct lzs_layer_build_opts o = *opts;
    o.expected = &d->digest;
    char ds[LZS_DIGEST_STR_MAX];
    int rc;
    if (img->repo) {
        lzs_cleanup(lzs_repo_stream_closep) lzs_repo_stream *s = NULL;
        rc = lzs_repo_stream_open(&s, img->repo, &d->digest, err);
        if (rc == 0)
            rc = lzs_layer_build_index(read_stream, s, &o, out, res, err);
    } else {
        lzs_autofree char *path = lzs_image_layout_blob_path(img->layout_dir, &d->digest);
        lzs_autoclose int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (fd < 0)
            rc = path ? lzs_error_set_sys(err, errno, "%s", path)
                      : lzs_error_set(err, ENOMEM, "out of memory");
        else
            rc = lzs_layer_build_index(read_fd, &fd, &o, out, res, err);
    }
    if (rc == 0 && res->info.compressed_size != d->size)
        rc = lzs_error_set(err, EBADMSG, "blob is %" PRIu64 " bytes, the manifest says %" PRIu64,
                           res->info.compressed_size, d->size);
    return rc < 0 ? lzs_error_wrap(err, "layer %s", lzs_digest_format(&d->digest, ds)) : 0;
}

int lzs_image_write_local(const char *dir, const struct lzs_digest *layer, const void *stored,
                          size_t n, lzs_error **err)
{
    lzs_autofree char *path = lzs_image_local_path(dir, layer);
    if (!path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = lzs_mkdir_p(path, 0755, err);
    *slash = '/';
    if (rc == 0)
        rc = lzs_file_write_atomic(path, stored, n, 0644, err);
    return rc;
}
