/* image: OCI image layout directories (image-spec image-layout.md): reading an image and writing
 * blobs and index.json entries. */
#include "image_i.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

char *lzs_image_digest_path(const char *dir, const char *sub, const struct lzs_digest *d,
                            const char *suffix)
{
    char ds[LZS_DIGEST_STR_MAX];
    lzs_digest_format(d, ds);
    char *colon = strchr(ds, ':');
    *colon = '/';
    char *p = NULL;
    return asprintf(&p, "%s%s/%s%s", dir, sub, ds, suffix) < 0 ? NULL : p;
}

char *lzs_image_layout_blob_path(const char *dir, const struct lzs_digest *d)
{
    return lzs_image_digest_path(dir, "/blobs", d, "");
}

int lzs_image_layout_read_blob(const char *dir, const struct lzs_digest *d, struct lzs_buf *b,
                               lzs_error **err)
{
    lzs_autofree char *path = lzs_image_layout_blob_path(dir, d);
    if (!path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = lzs_file_read_all(path, b, err);
    if (rc == 0)
        rc = lzs_digest_verify(d, b->data, b->len, err);
    return rc < 0 ? lzs_error_wrap(err, "%s", path) : 0;
}

int lzs_image_layout_write_blob(const char *dir, const void *p, size_t n, struct lzs_digest *out,
                                lzs_error **err)
{
    int rc = lzs_digest_buf(LZS_DIGEST_SHA256, p, n, out, err);
    if (rc < 0)
        return rc;
    lzs_autofree char *path = lzs_image_layout_blob_path(dir, out);
    if (!path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == n)
        return 0; /* content-addressed: same name, same bytes */
    return lzs_file_write_atomic(path, p, n, 0644, err);
}

int lzs_image_layout_index(const char *dir, struct lzs_oci_index **out, lzs_error **err)
{
    lzs_autofree char *path = NULL;
    if (asprintf(&path, "%s/index.json", dir) < 0)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct lzs_buf b = LZS_BUF_INIT(LZS_OCI_BODY_MAX);
    int rc = lzs_file_read_all(path, &b, err);
    if (rc == 0)
        rc = lzs_oci_index_parse(out, b.data, b.len, LZS_OCI_MT_INDEX, err);
    lzs_buf_dispose(&b);
    return rc < 0 ? lzs_error_wrap(err, "%s", path) : 0;
}

/* The entry of idx named tag, or with tag NULL the only image entry (artifacts ignored). */
static int pick_entry(const struct lzs_oci_index *idx, const char *dir, const char *tag,
                      size_t *out, lzs_error **err)
{
    size_t found = SIZE_MAX, count = 0;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct lzs_oci_descriptor *d = &idx->manifests[i];
        const char *name =
            lzs_oci_annotation_get(d->annotations, d->n_annotations, LZS_IMAGE_ANNOT_REF_NAME);
        if (tag ? (name && strcmp(name, tag) == 0)
                : !lzs_image_is_index_artifact(d->artifact_type)) {
            found = i;
            count++;
        }
    }
    if (count == 1 || (tag && count > 0)) {
        *out = found;
        return 0;
    }
    if (tag)
        return lzs_error_set(err, ENOENT, "%s: no image tagged '%s'", dir, tag);
    return lzs_error_set(err, EINVAL, "%s: %zu images in index.json: name one as DIR:TAG", dir,
                         count);
}

static int layout_get(void *data, const struct lzs_digest *d, struct lzs_buf *body,
                      char **content_type, lzs_error **err)
{
    *content_type = NULL;
    return lzs_image_layout_read_blob(data, d, body, err);
}

/* "DIR:TAG" -> dir and tag (NULL when none). A colon inside the directory name is kept when
 * what follows it contains a slash. */
static int split_layout(const char *layout, char **dir, char **tag, lzs_error **err)
{
    const char *colon = strrchr(layout, ':');
    if (colon && strchr(colon, '/'))
        colon = NULL;
    *dir = colon ? strndup(layout, (size_t)(colon - layout)) : strdup(layout);
    *tag = colon ? strdup(colon + 1) : NULL;
    if (!*dir || (colon && !*tag))
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

int lzs_image_open_layout(lzs_image **out, const char *layout,
                          const struct lzs_image_open_opts *opts, lzs_error **err)
{
    lzs_cleanup(lzs_image_freep) lzs_image *img = calloc(1, sizeof(*img));
    lzs_autofree char *tag = NULL;
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    if (!img)
        return lzs_error_set(err, ENOMEM, "out of memory");
    lzs_buf_init(&img->body, LZS_OCI_BODY_MAX);
    snprintf(img->name, sizeof(img->name), "layout %s", layout);
    size_t i = 0;
    int rc = split_layout(layout, &img->layout_dir, &tag, err);
    if (rc == 0)
        rc = lzs_image_layout_index(img->layout_dir, &idx, err);
    if (rc == 0)
        rc = pick_entry(idx, img->layout_dir, tag, &i, err);
    if (rc < 0)
        return rc;
    struct lzs_buf body = LZS_BUF_INIT(LZS_OCI_BODY_MAX);
    struct lzs_digest d = idx->manifests[i].digest;
    char *ct = strdup(idx->manifests[i].media_type);
    if (!ct)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    if (rc == 0)
        rc = lzs_image_layout_read_blob(img->layout_dir, &d, &body, err);
    if (rc == 0)
        rc = lzs_image_select(img, &body, lzs_steal_ptr(&ct), &d, opts, layout_get, img->layout_dir,
                              err);
    free(ct);
    lzs_buf_dispose(&body);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", img->name);
    *out = lzs_steal_ptr(&img);
    return 0;
}
