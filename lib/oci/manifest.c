/* oci: telling manifests from indexes, and parsing both from untrusted bytes. */
#include "oci_i.h"

#include <string.h>

static int kind_by_structure(json_object *root, enum lzs_oci_kind *out, lzs_error **err)
{
    if (oci_json_get(root, "manifests")) {
        *out = LZS_OCI_KIND_INDEX;
        return 0;
    }
    if (oci_json_get(root, "config") || oci_json_get(root, "layers")) {
        *out = LZS_OCI_KIND_MANIFEST;
        return 0;
    }
    return lzs_error_set(err, EINVAL, "neither an image manifest nor an image index");
}

/* A body that declares one kind but carries the other's fields is refused, so that the same bytes
 * cannot be read as a manifest by one client and as an index by another. */
static int check_fields(json_object *root, enum lzs_oci_kind kind, lzs_error **err)
{
    if (kind == LZS_OCI_KIND_MANIFEST && oci_json_get(root, "manifests"))
        return lzs_error_set(err, EINVAL, "an image manifest must not have 'manifests'");
    if (kind == LZS_OCI_KIND_INDEX &&
        (oci_json_get(root, "config") || oci_json_get(root, "layers")))
        return lzs_error_set(err, EINVAL, "an image index must not have 'config' or 'layers'");
    return 0;
}

static int detect_json(json_object *root, const char *content_type, enum lzs_oci_kind *out,
                       lzs_error **err)
{
    lzs_autofree char *mt = NULL;
    int rc = oci_json_string(root, "mediaType", false, &mt, err);
    if (rc < 0)
        return rc;
    if (mt) {
        *out = oci_media_kind(mt);
        if (*out == 0)
            return lzs_error_set(err, EINVAL, "unsupported media type '%.200s'", mt);
    } else if (oci_media_kind(content_type)) {
        *out = oci_media_kind(content_type);
    } else {
        rc = kind_by_structure(root, out, err);
        if (rc < 0)
            return rc;
    }
    return check_fields(root, *out, err);
}

int lzs_oci_detect(const void *p, size_t n, const char *content_type, enum lzs_oci_kind *out,
                   lzs_error **err)
{
    lzs_cleanup(json_object_putp) json_object *root = NULL;
    int rc = oci_json_parse(&root, p, n, err);
    if (rc == 0)
        rc = detect_json(root, content_type, out, err);
    return rc;
}

static int schema_version(json_object *root, lzs_error **err)
{
    uint64_t v;
    int rc = oci_json_uint(root, "schemaVersion", UINT32_MAX, &v, err);
    if (rc < 0)
        return rc;
    if (v != 2)
        return lzs_error_set(err, EINVAL, "schemaVersion %" PRIu64 " is not supported (want 2)", v);
    return 0;
}

/* Fields both kinds share: mediaType, artifactType, subject, annotations. */
static int common_from_json(json_object *root, char **media_type, char **artifact_type,
                            bool *has_subject, struct lzs_oci_descriptor *subject, lzs_error **err)
{
    json_object *subj;
    int rc = oci_json_string(root, "mediaType", false, media_type, err);
    if (rc == 0)
        rc = oci_json_string(root, "artifactType", false, artifact_type, err);
    if (rc == 0)
        rc = oci_json_object(root, "subject", false, &subj, err);
    if (rc == 0 && subj) {
        rc = oci_descriptor_from_json(subject, subj, err);
        if (rc < 0)
            return lzs_error_wrap(err, "subject");
        *has_subject = true;
    }
    return rc;
}

static int manifest_from_json(struct lzs_oci_manifest *m, json_object *root, lzs_error **err)
{
    json_object *cfg;
    int rc = schema_version(root, err);
    if (rc == 0)
        rc = common_from_json(root, &m->media_type, &m->artifact_type, &m->has_subject, &m->subject,
                              err);
    if (rc == 0)
        rc = oci_json_object(root, "config", true, &cfg, err);
    if (rc == 0 && (rc = oci_descriptor_from_json(&m->config, cfg, err)) < 0)
        return lzs_error_wrap(err, "config");
    if (rc == 0)
        rc = oci_descriptors_from_json(root, "layers", &m->layers, &m->n_layers, err);
    if (rc == 0)
        rc = oci_json_annotations(root, &m->annotations, &m->n_annotations, err);
    return rc;
}

static int index_from_json(struct lzs_oci_index *idx, json_object *root, lzs_error **err)
{
    int rc = schema_version(root, err);
    if (rc == 0)
        rc = common_from_json(root, &idx->media_type, &idx->artifact_type, &idx->has_subject,
                              &idx->subject, err);
    if (rc == 0)
        rc = oci_descriptors_from_json(root, "manifests", &idx->manifests, &idx->n_manifests, err);
    if (rc == 0)
        rc = oci_json_annotations(root, &idx->annotations, &idx->n_annotations, err);
    return rc;
}

/* Parse p and check it is of kind want; *root is the caller's. */
static int parse_kind(json_object **root, const void *p, size_t n, const char *content_type,
                      enum lzs_oci_kind want, lzs_error **err)
{
    enum lzs_oci_kind kind;
    int rc = oci_json_parse(root, p, n, err);
    if (rc == 0)
        rc = detect_json(*root, content_type, &kind, err);
    if (rc == 0 && kind != want)
        rc = lzs_error_set(err, EINVAL, "the body is an image %s",
                           kind == LZS_OCI_KIND_INDEX ? "index" : "manifest");
    return rc;
}

int lzs_oci_manifest_parse(struct lzs_oci_manifest **out, const void *p, size_t n,
                           const char *content_type, lzs_error **err)
{
    *out = NULL;
    lzs_cleanup(json_object_putp) json_object *root = NULL;
    int rc = parse_kind(&root, p, n, content_type, LZS_OCI_KIND_MANIFEST, err);
    if (rc < 0)
        return lzs_error_wrap(err, "invalid image manifest");
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = calloc(1, sizeof(*m));
    if (!m)
        return lzs_error_set(err, ENOMEM, "out of memory");
    rc = manifest_from_json(m, root, err);
    if (rc < 0)
        return lzs_error_wrap(err, "invalid image manifest");
    *out = lzs_steal_ptr(&m);
    return 0;
}

int lzs_oci_index_parse(struct lzs_oci_index **out, const void *p, size_t n,
                        const char *content_type, lzs_error **err)
{
    *out = NULL;
    lzs_cleanup(json_object_putp) json_object *root = NULL;
    int rc = parse_kind(&root, p, n, content_type, LZS_OCI_KIND_INDEX, err);
    if (rc < 0)
        return lzs_error_wrap(err, "invalid image index");
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = calloc(1, sizeof(*idx));
    if (!idx)
        return lzs_error_set(err, ENOMEM, "out of memory");
    rc = index_from_json(idx, root, err);
    if (rc < 0)
        return lzs_error_wrap(err, "invalid image index");
    *out = lzs_steal_ptr(&idx);
    return 0;
}

void lzs_oci_manifest_free(struct lzs_oci_manifest *m)
{
    if (!m)
        return;
    free(m->media_type);
    free(m->artifact_type);
    oci_descriptor_dispose(&m->config);
    oci_descriptors_free(m->layers, m->n_layers);
    oci_descriptor_dispose(&m->subject);
    oci_annotations_free(m->annotations, m->n_annotations);
    free(m);
}

void lzs_oci_index_free(struct lzs_oci_index *idx)
{
    if (!idx)
        return;
    free(idx->media_type);
    free(idx->artifact_type);
    oci_descriptors_free(idx->manifests, idx->n_manifests);
    oci_descriptor_dispose(&idx->subject);
    oci_annotations_free(idx->annotations, idx->n_annotations);
    free(idx);
}
