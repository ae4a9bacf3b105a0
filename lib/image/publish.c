/* image: publishing index artifacts to the registry (with the referrers tag schema) or into an
 * OCI layout. */
#include "image_i.h"

#include <stdio.h>
#include <string.h>

/* What one publication puts where: blobs first, manifests after. */
struct sink {
    lzs_image *img;
    uint64_t pushed;
};

static int put_blob(struct sink *s, const void *p, size_t n, struct lzs_digest *d, lzs_error **err)
{
    s->pushed += n;
    if (!s->img->repo)
        return lzs_image_layout_write_blob(s->img->layout_dir, p, n, d, err);
    int rc = lzs_digest_buf(LZS_DIGEST_SHA256, p, n, d, err);
    return rc < 0 ? rc : lzs_repo_blob_push(s->img->repo, d, p, n, err);
}

/* One layer descriptor of the artifact; strings point into storage owned by the caller. */
struct layer_slot {
    struct lzs_oci_annotation annot;
    char layer_digest[LZS_DIGEST_STR_MAX];
};

static int push_layer_index(struct sink *s, const struct lzs_image_built *b,
                            struct lzs_oci_descriptor *d, struct layer_slot *slot, lzs_error **err)
{
    struct lzs_buf z = LZS_BUF_INIT(LZS_IMAGE_INDEX_BLOB_MAX);
    int rc =
        lzs_zseek_zstd_compress(b->stored, b->stored_size, LZS_LAYER_INDEX_ZSTD_LEVEL, &z, err);
    if (rc == 0)
        rc = put_blob(s, z.data, z.len, &d->digest, err);
    d->size = z.len;
    lzs_buf_dispose(&z);
    if (rc < 0)
        return rc;
    d->media_type = (char *)LZS_OCI_MT_LAZYSNAP_LAYER_INDEX;
    lzs_digest_format(&s->img->layers[b->layer].desc.digest, slot->layer_digest);
    slot->annot.key = (char *)LZS_OCI_ANNOT_LAYER_DIGEST;
    slot->annot.value = slot->layer_digest;
    d->annotations = &slot->annot;
    d->n_annotations = 1;
    return 0;
}

/* The artifact manifest's bytes, its layers pushed already. */
static int artifact_body(lzs_image *img, struct lzs_oci_descriptor *layers, size_t n,
                         struct lzs_buf *out, lzs_error **err)
{
    struct lzs_oci_manifest m = {
        .media_type = (char *)LZS_OCI_MT_MANIFEST,
        .artifact_type = (char *)LZS_OCI_MT_LAZYSNAP_INDEX,
        .layers = layers,
        .n_layers = n,
        .has_subject = true,
        .subject = {.media_type = img->media_type ? img->media_type : (char *)LZS_OCI_MT_MANIFEST,
                    .digest = img->digest,
                    .size = img->body.len},
    };
    lzs_oci_descriptor_empty(&m.config);
    return lzs_oci_manifest_write(&m, out, err);
}

/* idx->manifests without our earlier artifacts (and without entries tagged tag, when given),
 * then the new artifact; written into out. */
static int merged_list(const struct lzs_oci_index *old, const struct lzs_oci_descriptor *mine,
                       const char *tag, struct lzs_buf *out, lzs_error **err)
{
    size_t n_old = old ? old->n_manifests : 0;
    lzs_autofree struct lzs_oci_descriptor *v = lzs_calloc_array(n_old + 1, sizeof(*v));
    if (!v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < n_old; i++) {
        const struct lzs_oci_descriptor *d = &old->manifests[i];
        const char *name =
            lzs_oci_annotation_get(d->annotations, d->n_annotations, LZS_IMAGE_ANNOT_REF_NAME);
        bool same_tag = tag && name && strcmp(name, tag) == 0;
        if (!same_tag && !(tag == NULL && lzs_image_is_index_artifact(d->artifact_type)))
            v[n++] = *d;
    }
    v[n++] = *mine;
    struct lzs_oci_index idx = {
        .media_type = (char *)LZS_OCI_MT_INDEX, .manifests = v, .n_manifests = n};
    if (old && old->annotations) {
        idx.annotations = old->annotations;
        idx.n_annotations = old->n_annotations;
    }
    return lzs_oci_index_write(&idx, out, err);
}

/* Registry without Referrers API: rewrite the sha256-HEX tag's index. */
static int update_tag(lzs_image *img, const struct lzs_oci_descriptor *mine, lzs_error **err)
{
    char tag[LZS_IMAGE_TAG_MAX];
    lzs_image_referrers_tag(&img->digest, tag);
    struct lzs_repo_manifest m = {0};
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *old = NULL;
    int rc = lzs_repo_get_manifest(img->repo, tag, NULL, &m, err);
    enum lzs_oci_kind kind;
    if (rc == -ENOENT) {
        lzs_error_free(err);
        rc = 0;
    } else if (rc == 0 &&
               lzs_oci_detect(m.body.data, m.body.len, m.content_type, &kind, NULL) == 0 &&
               kind == LZS_OCI_KIND_INDEX) {
        rc = lzs_oci_index_parse(&old, m.body.data, m.body.len, m.content_type, err);
    } else if (rc == 0) {
        LZS_LOG(LZS_LOG_WARN, "%s: tag %s is not an image index; replacing it", img->name, tag);
    }
    lzs_repo_manifest_dispose(&m);
    struct lzs_buf body = LZS_BUF_INIT(LZS_OCI_BODY_MAX);
    if (rc == 0)
        rc = merged_list(old, mine, NULL, &body, err);
    if (rc == 0)
        rc = lzs_repo_put_manifest(img->repo, tag, LZS_OCI_MT_INDEX, body.data, body.len, err);
    lzs_buf_dispose(&body);
    return rc < 0 ? lzs_error_wrap(err, "updating tag %s", tag) : 0;
}

static int publish_registry(lzs_image *img, const struct lzs_oci_descriptor *mine,
                            const struct lzs_buf *body, struct lzs_image_publish_result *res,
                            lzs_error **err)
{
    char ds[LZS_DIGEST_STR_MAX];
    int rc = lzs_repo_put_manifest(img->repo, lzs_digest_format(&mine->digest, ds),
                                   LZS_OCI_MT_MANIFEST, body->data, body->len, err);
    if (rc < 0)
        return rc;
    struct lzs_repo_manifest m = {0};
    rc = lzs_repo_get_referrers(img->repo, &img->digest, LZS_OCI_MT_LAZYSNAP_INDEX, &m, err);
    lzs_repo_manifest_dispose(&m);
    if (rc != -ENOTSUP)
        return rc; /* the registry keeps the referrers list itself */
    lzs_error_free(err);
    res->tag_updated = true;
    return update_tag(img, mine, err);
}

/* Layout: the artifact joins index.json, tagged sha256-HEX (replacing an earlier one). */
static int publish_layout(lzs_image *img, const struct lzs_oci_descriptor *mine, lzs_error **err)
{
    char tag[LZS_IMAGE_TAG_MAX];
    lzs_image_referrers_tag(&img->digest, tag);
    struct lzs_oci_annotation a = {.key = (char *)LZS_IMAGE_ANNOT_REF_NAME, .value = tag};
    struct lzs_oci_descriptor tagged = *mine;
    tagged.annotations = &a;
    tagged.n_annotations = 1;
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *old = NULL;
    struct lzs_buf body = LZS_BUF_INIT(LZS_OCI_BODY_MAX);
    lzs_autofree char *path = NULL;
    int rc = lzs_image_layout_index(img->layout_dir, &old, err);
    if (rc == 0)
        rc = merged_list(old, &tagged, tag, &body, err);
    if (rc == 0 && asprintf(&path, "%s/index.json", img->layout_dir) < 0)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    if (rc == 0)
        rc = lzs_file_write_atomic(path, body.data, body.len, 0644, err);
    lzs_buf_dispose(&body);
    return rc;
}

int lzs_image_publish(lzs_image *img, const struct lzs_image_built *built, size_t n,
                      struct lzs_image_publish_result *res, lzs_error **err)
{
    *res = (struct lzs_image_publish_result){0};
    struct sink s = {.img = img};
    lzs_autofree struct lzs_oci_descriptor *layers = lzs_calloc_array(n ? n : 1, sizeof(*layers));
    lzs_autofree struct layer_slot *slots = lzs_calloc_array(n ? n : 1, sizeof(*slots));
    struct lzs_buf body = LZS_BUF_INIT(LZS_OCI_BODY_MAX);
    struct lzs_digest empty;
    if (!layers || !slots)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = push_layer_index(&s, &built[i], &layers[i], &slots[i], err);
    if (rc == 0)
        rc = put_blob(&s, LZS_OCI_EMPTY_JSON, LZS_OCI_EMPTY_SIZE, &empty, err);
    if (rc == 0)
        rc = artifact_body(img, layers, n, &body, err);
    struct lzs_oci_descriptor mine = {.media_type = (char *)LZS_OCI_MT_MANIFEST,
                                      .artifact_type = (char *)LZS_OCI_MT_LAZYSNAP_INDEX,
                                      .size = body.len};
    if (rc == 0)
        rc = lzs_digest_buf(LZS_DIGEST_SHA256, body.data, body.len, &mine.digest, err);
    if (rc == 0 && img->repo)
        rc = publish_registry(img, &mine, &body, res, err);
    if (rc == 0 && !img->repo) {
        rc = put_blob(&s, body.data, body.len, &mine.digest, err);
        if (rc == 0)
            rc = publish_layout(img, &mine, err);
    }
    res->artifact = mine.digest;
    res->artifact_size = body.len;
    res->pushed_bytes = s.pushed + (img->repo ? body.len : 0); /* layouts count it in put_blob */
    lzs_buf_dispose(&body);
    return rc < 0 ? lzs_error_wrap(err, "%s: publishing the index", img->name) : 0;
}
