/* Layers without an index: the whole blob, downloaded once into a local file and checked against
 * its digest, then indexed locally so it can be served like any other layer. */
#include "image_i.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define COPY_PIECE ((size_t)1 << 20)

/* Stream blob d of the image's registry into f, hashing it. */
static int download(lzs_image *img, const struct lzs_oci_descriptor *d, struct lzs_atomic_file *f,
                    lzs_error **err)
{
    lzs_cleanup(lzs_repo_stream_closep) lzs_repo_stream *s = NULL;
    int rc = lzs_repo_stream_open(&s, img->repo, &d->digest, err);
    if (rc < 0)
        return rc;
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    rc = lzs_hasher_new(&h, d->digest.algo, err);
    lzs_autofree uint8_t *buf = malloc(COPY_PIECE);
    if (rc == 0 && !buf)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    uint64_t total = 0;
    while (rc == 0) {
        ssize_t n = lzs_repo_stream_read(s, buf, COPY_PIECE, err);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        total += (uint64_t)n;
        if (total > d->size)
            return lzs_error_set(err, EBADMSG,
                                 "blob is longer than the %" PRIu64 " bytes the manifest says",
                                 d->size);
        lzs_hasher_update(h, buf, (size_t)n);
        rc = lzs_write_full(f->fd, buf, (size_t)n, err);
    }
    if (rc < 0)
        return rc;
    if (total != d->size)
        return lzs_error_set(err, EBADMSG, "blob is %" PRIu64 " bytes, the manifest says %" PRIu64,
                             total, d->size);
    struct lzs_digest got;
    lzs_hasher_final(h, &got);
    if (!lzs_digest_is_equal(&got, &d->digest)) {
        char gs[LZS_DIGEST_STR_MAX];
        return lzs_error_set(err, EBADMSG, "blob digest mismatch: got %s",
                             lzs_digest_format(&got, gs));
    }
    return 0;
}

static int fetch_blob(lzs_image *img, const struct lzs_oci_descriptor *d, const char *path,
                      lzs_error **err)
{
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == d->size)
        return 0; /* fetched and verified by an earlier run (it only appears when complete) */
    struct lzs_atomic_file f = {.fd = -1};
    int rc = lzs_atomic_file_open(&f, path, 0600, err);
    if (rc == 0)
        rc = download(img, d, &f, err);
    if (rc == 0)
        rc = lzs_atomic_file_commit(&f, err);
    lzs_atomic_file_dispose(&f);
    return rc;
}

static ssize_t read_fd(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_read_upto(*(int *)data, buf, n, err);
}

/* The index of a local blob file: the one stored next to it, else built and stored. */
static int local_index(const struct lzs_oci_descriptor *d, const char *blob_path,
                       const char *index_path, lzs_index **out, lzs_error **err)
{
    if (access(index_path, F_OK) == 0 && lzs_index_open(out, index_path, NULL) == 0 &&
        lzs_digest_is_equal(&lzs_index_info(*out)->blob_digest, &d->digest))
        return 0;
    *out = lzs_index_unref(*out);
    lzs_autoclose int fd = open(blob_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lzs_error_set_sys(err, errno, "%s", blob_path);
    struct lzs_layer_build_opts o = {.expected = &d->digest};
    struct lzs_layer_build_result res;
    struct lzs_buf b = LZS_BUF_INIT(LZS_IMAGE_INDEX_MAX);
    int rc = lzs_layer_build_index(read_fd, &fd, &o, &b, &res, err);
    if (rc == 0)
        rc = lzs_file_write_atomic(index_path, b.data, b.len, 0600, err);
    if (rc == 0)
        rc = lzs_index_open(out, index_path, err);
    lzs_buf_dispose(&b);
    return rc;
}

/* DIR/ALGO/HEX.SUFFIX, its directory created. */
static int whole_path(const char *dir, const struct lzs_digest *d, const char *suffix, char **out,
                      lzs_error **err)
{
    *out = lzs_image_digest_path(dir, "", d, suffix);
    if (!*out)
        return lzs_error_set(err, ENOMEM, "out of memory");
    char *slash = strrchr(*out, '/');
    *slash = '\0';
    int rc = lzs_mkdir_p(*out, 0700, err);
    *slash = '/';
    return rc;
}

int lzs_image_fetch_whole(lzs_image *img, size_t i, const char *dir, lzs_index **idx,
                          lzs_blob **blob, lzs_error **err)
{
    const struct lzs_oci_descriptor *d = &img->layers[i].desc;
    lzs_autofree char *blob_path = NULL, *index_path = NULL;
    int rc;
    if (img->repo) {
        rc = whole_path(dir, &d->digest, ".blob", &blob_path, err);
        if (rc == 0)
            rc = fetch_blob(img, d, blob_path, err);
    } else {
        blob_path = lzs_image_layout_blob_path(img->layout_dir, &d->digest);
        rc = blob_path ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = whole_path(dir, &d->digest, ".index", &index_path, err);
    if (rc == 0)
        rc = local_index(d, blob_path, index_path, idx, err);
    if (rc == 0)
        rc = lzs_blob_open_file(blob, blob_path, err);
    if (rc < 0) {
        *idx = lzs_index_unref(*idx);
        char ds[LZS_DIGEST_STR_MAX];
        return lzs_error_wrap(err, "layer %s (no index: fetched whole)",
                              lzs_digest_format(&d->digest, ds));
    }
    return 0;
}
