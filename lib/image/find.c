/* image: finding the index of each layer (Referrers API, tag schema, OCI layout, local dir). */
#include "image_i.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Record the layer indexes listed by artifact manifest m for layers not yet served. */
static void take_artifact(lzs_image *img, const struct lzs_oci_manifest *m,
                          const struct lzs_digest *artifact, enum lzs_image_source src)
{
    if (!lzs_image_is_index_artifact(m->artifact_type) || !m->has_subject ||
        !lzs_digest_is_equal(&m->subject.digest, &img->digest))
        return;
    for (size_t k = 0; k < m->n_layers; k++) {
        const struct lzs_oci_descriptor *d = &m->layers[k];
        const char *ls =
            lzs_oci_annotation_get(d->annotations, d->n_annotations, LZS_OCI_ANNOT_LAYER_DIGEST);
        struct lzs_digest layer;
        if (!ls || strcmp(d->media_type, LZS_OCI_MT_LAZYSNAP_LAYER_INDEX) != 0 ||
            lzs_digest_parse(&layer, ls, NULL) < 0)
            continue;
        for (size_t i = 0; i < img->n_layers; i++) {
            struct lzs_image_layer *l = &img->layers[i];
            if (l->source != LZS_IMAGE_SRC_NONE || !lzs_digest_is_equal(&l->desc.digest, &layer))
                continue;
            l->source = src;
            l->index_digest = d->digest;
            l->index_size = d->size;
            l->artifact = *artifact;
        }
    }
}

/* Fetch manifest d (an artifact) from the registry or the layout and take it. */
static int fetch_artifact(lzs_image *img, const struct lzs_digest *d, enum lzs_image_source src,
                          lzs_error **err)
{
    struct lzs_buf body = LZS_BUF_INIT(LZS_OCI_BODY_MAX);
    char *ct = NULL, ds[LZS_DIGEST_STR_MAX];
    int rc;
    if (img->repo) {
        struct lzs_repo_manifest m = {0};
        rc = lzs_repo_get_manifest(img->repo, lzs_digest_format(d, ds), NULL, &m, err);
        body = m.body;
        ct = m.content_type;
    } else {
        rc = lzs_image_layout_read_blob(img->layout_dir, d, &body, err);
    }
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    if (rc == 0 && (rc = lzs_oci_manifest_parse(&m, body.data, body.len, ct, err)) == 0)
        take_artifact(img, m, d, src);
    lzs_buf_dispose(&body);
    free(ct);
    return rc < 0 ? lzs_error_wrap(err, "index artifact %s", lzs_digest_format(d, ds)) : 0;
}

/* At most this many artifacts are fetched for one image (a referrers list is untrusted). */
#define FIND_MAX_ARTIFACTS 32

/* Hand error *e to the caller's err (which may be NULL); returns rc. */
static int pass_error(lzs_error **err, lzs_error **e, int rc)
{
    if (err && !*err)
        *err = lzs_steal_ptr(e);
    lzs_error_free(e);
    return rc;
}

static bool all_found(const lzs_image *img)
{
    for (size_t i = 0; i < img->n_layers; i++)
        if (img->layers[i].source == LZS_IMAGE_SRC_NONE)
            return false;
    return true;
}

/* An artifact that cannot be used (deleted since listed, malformed, too large, lying about its
 * digest) is skipped, so that one bad referrer cannot hide the good ones; the registry being
 * unreachable or refusing access is an error. */
static bool is_skippable(int rc)
{
    return rc == -ENOENT || rc == -EINVAL || rc == -EMSGSIZE || rc == -EBADMSG || rc == -ENOTSUP;
}

/* Does descriptor d name one of our artifacts: by artifactType, or (layouts whose entry lost
 * it in a copy) by the referrers tag of the image? */
static bool is_candidate(const lzs_image *img, const struct lzs_oci_descriptor *d)
{
    if (lzs_image_is_index_artifact(d->artifact_type))
        return true;
    if (!img->layout_dir)
        return false;
    char tag[LZS_IMAGE_TAG_MAX];
    lzs_image_referrers_tag(&img->digest, tag);
    const char *name =
        lzs_oci_annotation_get(d->annotations, d->n_annotations, LZS_IMAGE_ANNOT_REF_NAME);
    return name && strcmp(name, tag) == 0;
}

/* Take the lazysnap artifacts listed by a referrers index, the last listed (the newest with the
 * tag schema, which appends) first, until every layer has an index. */
static int take_listed(lzs_image *img, const struct lzs_oci_index *idx, enum lzs_image_source src,
                       lzs_error **err)
{
    unsigned fetched = 0;
    for (size_t k = idx->n_manifests; k-- > 0 && !all_found(img);) {
        const struct lzs_oci_descriptor *d = &idx->manifests[k];
        if (!is_candidate(img, d))
            continue;
        if (++fetched > FIND_MAX_ARTIFACTS)
            break;
        lzs_error *e = NULL;
        int rc = fetch_artifact(img, &d->digest, src, &e);
        if (rc < 0 && !is_skippable(rc))
            return pass_error(err, &e, rc);
        if (rc < 0)
            LZS_LOG(LZS_LOG_WARN, "%s: skipping %s", img->name, lzs_error_msg(e));
        lzs_error_free(&e);
    }
    return 0;
}

/* A referrers list body: an image index; or (tag schema written by hand or carried by a
 * layout copy) directly an artifact manifest. */
static int take_body(lzs_image *img, const struct lzs_repo_manifest *m, enum lzs_image_source src,
                     lzs_error **err)
{
    enum lzs_oci_kind kind;
    int rc = lzs_oci_detect(m->body.data, m->body.len, m->content_type, &kind, err);
    if (rc < 0)
        return rc;
    if (kind == LZS_OCI_KIND_MANIFEST) {
        lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *a = NULL;
        rc = lzs_oci_manifest_parse(&a, m->body.data, m->body.len, m->content_type, err);
        if (rc == 0)
            take_artifact(img, a, &m->digest, src);
        return rc;
    }
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    rc = lzs_oci_index_parse(&idx, m->body.data, m->body.len, m->content_type, err);
    return rc < 0 ? rc : take_listed(img, idx, src, err);
}

static int find_registry(lzs_image *img, lzs_error **err)
{
    struct lzs_repo_manifest m = {0};
    enum lzs_image_source src = LZS_IMAGE_SRC_REFERRERS;
    int rc = lzs_repo_get_referrers(img->repo, &img->digest, LZS_OCI_MT_LAZYSNAP_INDEX, &m, err);
    if (rc == -ENOTSUP) {
        lzs_error_free(err);
        char tag[LZS_IMAGE_TAG_MAX];
        lzs_image_referrers_tag(&img->digest, tag);
        src = LZS_IMAGE_SRC_TAG;
        rc = lzs_repo_get_manifest(img->repo, tag, NULL, &m, err);
    }
    if (rc == -ENOENT) {
        lzs_error_free(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    lzs_error *e = NULL;
    rc = take_body(img, &m, src, &e);
    lzs_repo_manifest_dispose(&m);
    if (rc < 0 && is_skippable(rc)) { /* a malformed list: as if there were no referrers */
        LZS_LOG(LZS_LOG_WARN, "%s: ignoring the referrers list: %s", img->name, lzs_error_msg(e));
        rc = 0;
    }
    return pass_error(err, &e, rc);
}

static int find_layout(lzs_image *img, lzs_error **err)
{
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    int rc = lzs_image_layout_index(img->layout_dir, &idx, err);
    return rc < 0 ? rc : take_listed(img, idx, LZS_IMAGE_SRC_LAYOUT, err);
}

char *lzs_image_local_path(const char *dir, const struct lzs_digest *layer)
{
    return lzs_image_digest_path(dir, "", layer, ".index");
}

static int find_local(lzs_image *img, const char *dir, lzs_error **err)
{
    for (size_t i = 0; i < img->n_layers; i++) {
        struct lzs_image_layer *l = &img->layers[i];
        if (l->source != LZS_IMAGE_SRC_NONE)
            continue;
        char *path = lzs_image_local_path(dir, &l->desc.digest);
        if (!path)
            return lzs_error_set(err, ENOMEM, "out of memory");
        if (access(path, R_OK) == 0) {
            l->source = LZS_IMAGE_SRC_LOCAL;
            l->local_path = path;
        } else {
            free(path);
        }
    }
    return 0;
}

int lzs_image_find_indexes(lzs_image *img, const char *local_dir, lzs_error **err)
{
    for (size_t i = 0; i < img->n_layers; i++) {
        free(img->layers[i].local_path);
        img->layers[i].local_path = NULL;
        img->layers[i].source = LZS_IMAGE_SRC_NONE;
    }
    int rc = img->repo ? find_registry(img, err) : find_layout(img, err);
    if (rc == 0 && local_dir && *local_dir)
        rc = find_local(img, local_dir, err);
    return rc < 0 ? lzs_error_wrap(err, "%s: finding indexes", img->name) : 0;
}
