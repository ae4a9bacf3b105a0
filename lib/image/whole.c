/* Layers without an index: the whole blob, downloaded once into a local file and checked against
 * its digest, indexed locally on the way, so that it can be served like any other layer. */
#include "image_i.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/* What the index build reads when the blob comes from the registry: the stream, copied into the
 * local file on the way. The build digests and decodes the same bytes, so the blob is read once:
 * its index is ready when its last byte has arrived. */
struct tee {
    lzs_repo_stream *s;
    int fd;
    uint64_t total, size;       /* bytes so far; what the manifest says */
    _Atomic uint64_t *received; /* total, for others to see; or NULL */
};

static ssize_t tee_read(void *data, void *buf, size_t n, lzs_error **err)
{
    struct tee *t = data;
    ssize_t r = lzs_repo_stream_read(t->s, buf, n, err);
    if (r <= 0)
        return r;
    t->total += (uint64_t)r;
    if (t->received)
        atomic_store(t->received, t->total);
    if (t->total > t->size)
        return lzs_error_set(
            err, EBADMSG, "blob is longer than the %" PRIu64 " bytes the manifest says", t->size);
    int rc = lzs_write_full(t->fd, buf, (size_t)r, err);
    return rc < 0 ? rc : r;
}

static ssize_t read_fd(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_read_upto(*(int *)data, buf, n, err);
}

/* Build the index of the blob read by read (checked against d's digest) into index_path. */
static int build_index(const struct lzs_oci_descriptor *d, lzs_zseek_read_fn read, void *data,
                       const struct lzs_layer_build_opts *hooks, const char *index_path,
                       lzs_error **err)
{
    struct lzs_layer_build_opts o = {.expected = &d->digest};
    if (hooks) {
        o.decoded = hooks->decoded;
        o.entry = hooks->entry;
        o.hook_data = hooks->hook_data;
    }
    struct lzs_layer_build_result res;
    struct lzs_buf b = LZS_BUF_INIT(LZS_IMAGE_INDEX_MAX);
    int rc = lzs_layer_build_index(read, data, &o, &b, &res, err);
    if (rc == 0)
        rc = lzs_file_write_atomic(index_path, b.data, b.len, 0600, err);
    lzs_buf_dispose(&b);
    return rc;
}

/* Blob d from the registry into blob_path (it appears only complete and verified), indexed on
 * the way into index_path. */
static int fetch_and_index(lzs_image *img, const struct lzs_oci_descriptor *d,
                           const char *blob_path, const char *index_path,
                           const struct lzs_layer_build_opts *hooks, _Atomic uint64_t *received,
                           lzs_error **err)
{
    struct lzs_atomic_file f = {.fd = -1};
    lzs_cleanup(lzs_repo_stream_closep) lzs_repo_stream *s = NULL;
    int rc = lzs_atomic_file_open(&f, blob_path, 0600, err);
    if (rc == 0)
        rc = lzs_repo_stream_open(&s, img->repo, &d->digest, err);
    struct tee t = {.s = s, .fd = f.fd, .size = d->size, .received = received};
    if (rc == 0)
        rc = build_index(d, tee_read, &t, hooks, index_path, err);
    if (rc == 0 && t.total != d->size)
        rc = lzs_error_set(err, EBADMSG, "blob is %" PRIu64 " bytes, the manifest says %" PRIu64,
                           t.total, d->size);
    if (rc == 0)
        rc = lzs_atomic_file_commit(&f, err);
    lzs_atomic_file_dispose(&f);
    return rc;
}

/* The index of a local blob file: the one stored next to it (opened into *out), else built and
 * stored (*out left NULL). */
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
    return build_index(d, read_fd, &fd, NULL, index_path, err);
}

/* The blob and index files of layer d from the registry: those of an earlier run (a blob file
 * only appears complete and verified), else fetched and indexed in one pass. */
static bool blob_is_local(const struct lzs_oci_descriptor *d, const char *blob_path)
{
    struct stat st;
    return stat(blob_path, &st) == 0 && (uint64_t)st.st_size == d->size;
}

static int fetch_blob(lzs_image *img, const struct lzs_oci_descriptor *d, const char *blob_path,
                      const char *index_path, const struct lzs_layer_build_opts *hooks,
                      _Atomic uint64_t *received, lzs_index **idx, lzs_error **err)
{
    if (blob_is_local(d, blob_path))
        return local_index(d, blob_path, index_path, idx, err);
    return fetch_and_index(img, d, blob_path, index_path, hooks, received, err);
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

bool lzs_image_whole_needs_fetch(lzs_image *img, size_t i, const char *dir)
{
    const struct lzs_oci_descriptor *d = &img->layers[i].desc;
    if (!img->repo)
        return false;
    lzs_autofree char *blob_path = lzs_image_digest_path(dir, "", &d->digest, ".blob");
    return !blob_path || !blob_is_local(d, blob_path);
}

int lzs_image_fetch_whole(lzs_image *img, size_t i, const char *dir, lzs_index **idx,
                          lzs_blob **blob, lzs_error **err)
{
    return lzs_image_fetch_whole_hooked(img, i, dir, NULL, NULL, idx, blob, err);
}

int lzs_image_fetch_whole_hooked(lzs_image *img, size_t i, const char *dir,
                                 const struct lzs_layer_build_opts *hooks,
                                 _Atomic uint64_t *received, lzs_index **idx, lzs_blob **blob,
                                 lzs_error **err)
{
    const struct lzs_oci_descriptor *d = &img->layers[i].desc;
    lzs_autofree char *blob_path = NULL, *index_path = NULL;
    *idx = NULL; /* set here when a stored index is reused, else opened once built */
    int rc = whole_path(dir, &d->digest, ".index", &index_path, err);
    if (rc == 0 && img->repo) {
        rc = whole_path(dir, &d->digest, ".blob", &blob_path, err);
        if (rc == 0)
            rc = fetch_blob(img, d, blob_path, index_path, hooks, received, idx, err);
    } else if (rc == 0) {
        blob_path = lzs_image_layout_blob_path(img->layout_dir, &d->digest);
        rc = blob_path ? local_index(d, blob_path, index_path, idx, err)
                       : lzs_error_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0 && !*idx)
        rc = lzs_index_open(idx, index_path, err);
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
