/* image: resolve a reference to the manifest of a platform, and the image's accessors. */
#include "image_i.h"

#include <stdio.h>
#include <string.h>

static lzs_image *image_alloc(void)
{
    lzs_image *img = calloc(1, sizeof(*img));
    if (img)
        lzs_buf_init(&img->body, LZS_REGISTRY_MANIFEST_MAX);
    return img;
}

void lzs_image_free(lzs_image *img)
{
    if (!img)
        return;
    for (size_t i = 0; i < img->n_layers; i++)
        free(img->layers[i].local_path);
    free(img->layers);
    lzs_oci_manifest_free(img->manifest);
    lzs_buf_dispose(&img->body);
    free(img->media_type);
    free(img->layout_dir);
    lzs_repo_unref(img->repo);
    free(img);
}

int lzs_image_init_layers(lzs_image *img, lzs_error **err)
{
    const struct lzs_oci_manifest *m = img->manifest;
    img->layers = lzs_calloc_array(m->n_layers ? m->n_layers : 1, sizeof(*img->layers));
    if (!img->layers)
        return lzs_error_set(err, ENOMEM, "out of memory");
    img->n_layers = m->n_layers;
    for (size_t i = 0; i < m->n_layers; i++) {
        img->layers[i].desc = m->layers[i];
        img->layers[i].compression = lzs_oci_layer_compression(m->layers[i].media_type);
    }
    return 0;
}

static int parse_manifest(lzs_image *img, struct lzs_buf *body, char *content_type,
                          const struct lzs_digest *digest, lzs_error **err)
{
    int rc = lzs_oci_manifest_parse(&img->manifest, body->data, body->len, content_type, err);
    if (rc < 0) {
        free(content_type);
        return rc;
    }
    lzs_buf_dispose(&img->body);
    img->body = *body;
    lzs_buf_init(body, body->max);
    free(img->media_type);
    img->media_type = content_type;
    if (img->manifest->media_type) {
        char *mt = strdup(img->manifest->media_type);
        if (!mt)
            return lzs_error_set(err, ENOMEM, "out of memory");
        free(img->media_type);
        img->media_type = mt;
    }
    img->digest = *digest;
    return lzs_image_init_layers(img, err);
}

int lzs_image_select(lzs_image *img, struct lzs_buf *body, char *content_type,
                     const struct lzs_digest *digest, const struct lzs_image_open_opts *opts,
                     lzs_image_get_fn get, void *data, lzs_error **err)
{
    enum lzs_oci_kind kind;
    int rc = lzs_oci_detect(body->data, body->len, content_type, &kind, err);
    if (rc < 0) {
        free(content_type);
        return rc;
    }
    if (kind == LZS_OCI_KIND_MANIFEST)
        return parse_manifest(img, body, content_type, digest, err);
    free(content_type);
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    struct lzs_oci_platform host;
    const struct lzs_oci_platform *want = opts && opts->platform ? opts->platform : &host;
    if (want == &host && (rc = lzs_oci_platform_host(&host, err)) < 0)
        return rc;
    size_t i;
    if ((rc = lzs_oci_index_parse(&idx, body->data, body->len, NULL, err)) < 0 ||
        (rc = lzs_oci_index_select(idx, want, &i, err)) < 0)
        return rc;
    struct lzs_digest d = idx->manifests[i].digest;
    char *ct = NULL;
    lzs_buf_reset(body);
    if ((rc = get(data, &d, body, &ct, err)) < 0)
        return rc;
    if ((rc = lzs_oci_detect(body->data, body->len, ct, &kind, err)) < 0 ||
        kind != LZS_OCI_KIND_MANIFEST) {
        free(ct);
        return rc < 0 ? rc : lzs_error_set(err, EINVAL, "nested image index is not supported");
    }
    return parse_manifest(img, body, ct, &d, err);
}

/* ---- registry images ------------------------------------------------------------------------ */

static int registry_get(void *data, const struct lzs_digest *d, struct lzs_buf *body,
                        char **content_type, lzs_error **err)
{
    char ds[LZS_DIGEST_STR_MAX];
    struct lzs_repo_manifest m = {0};
    int rc = lzs_repo_get_manifest(data, lzs_digest_format(d, ds), NULL, &m, err);
    if (rc < 0)
        return rc;
    lzs_buf_dispose(body);
    *body = m.body;
    *content_type = m.content_type;
    return 0;
}

int lzs_image_open(lzs_image **out, lzs_repo *repo, const struct lzs_oci_ref *ref,
                   const struct lzs_image_open_opts *opts, lzs_error **err)
{
    lzs_cleanup(lzs_image_freep) lzs_image *img = image_alloc();
    if (!img)
        return lzs_error_set(err, ENOMEM, "out of memory");
    img->repo = lzs_repo_ref(repo);
    img->ref = *ref;
    char refs[LZS_OCI_REF_STR_MAX], ds[LZS_DIGEST_STR_MAX];
    snprintf(img->name, sizeof(img->name), "%s", lzs_oci_ref_string(ref, refs));
    const char *reference = ref->has_digest ? lzs_digest_format(&ref->digest, ds) : ref->tag;
    struct lzs_repo_manifest m = {0};
    int rc = lzs_repo_get_manifest(repo, reference, NULL, &m, err);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", img->name);
    rc = lzs_image_select(img, &m.body, m.content_type, &m.digest, opts, registry_get, repo, err);
    lzs_buf_dispose(&m.body);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", img->name);
    *out = lzs_steal_ptr(&img);
    return 0;
}

/* ---- accessors ------------------------------------------------------------------------------ */

const struct lzs_digest *lzs_image_digest(const lzs_image *img)
{
    return &img->digest;
}

const struct lzs_oci_manifest *lzs_image_manifest(const lzs_image *img)
{
    return img->manifest;
}

size_t lzs_image_layer_count(const lzs_image *img)
{
    return img->n_layers;
}

struct lzs_image_layer *lzs_image_layer(lzs_image *img, size_t i)
{
    return &img->layers[i];
}

const char *lzs_image_name(const lzs_image *img)
{
    return img->name;
}

bool lzs_image_is_index_artifact(const char *artifact_type)
{
    return artifact_type && strcmp(artifact_type, LZS_OCI_MT_LAZYSNAP_INDEX) == 0;
}

const char *lzs_image_source_name(enum lzs_image_source s)
{
    static const char *const names[] = {"-", "referrers", "tag", "local", "layout"};
    return (size_t)s < LZS_ARRAY_SIZE(names) ? names[s] : "?";
}

void lzs_image_referrers_tag(const struct lzs_digest *d, char tag[LZS_IMAGE_TAG_MAX])
{
    char ds[LZS_DIGEST_STR_MAX];
    lzs_digest_format(d, ds);
    char *colon = strchr(ds, ':');
    *colon = '\0';
    /* distribution-spec: "<alg>-<ref>", <ref> truncated to 64 characters */
    snprintf(tag, LZS_IMAGE_TAG_MAX, "%.8s-%.64s", ds, colon + 1);
}
