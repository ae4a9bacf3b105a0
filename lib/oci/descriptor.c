/* oci: descriptors and platforms read from JSON. */
#include "oci_i.h"

#include <assert.h>
#include <string.h>

static int platform_from_json(struct lzs_oci_platform *p, json_object *o, lzs_error **err)
{
    const size_t len = LZS_OCI_PLATFORM_FIELD_MAX;
    int rc = oci_json_string_buf(o, "architecture", true, p->architecture, len, err);
    if (rc == 0)
        rc = oci_json_string_buf(o, "os", true, p->os, len, err);
    if (rc == 0)
        rc = oci_json_string_buf(o, "variant", false, p->variant, len, err);
    if (rc == 0)
        rc = oci_json_string_buf(o, "os.version", false, p->os_version, len, err);
    if (rc == 0)
        rc = oci_json_strings(o, "os.features", &p->os_features, &p->n_os_features, err);
    if (rc < 0)
        return lzs_error_wrap(err, "platform");
    return 0;
}

static int digest_from_json(struct lzs_digest *d, json_object *o, lzs_error **err)
{
    lzs_autofree char *s = NULL;
    int rc = oci_json_string(o, "digest", true, &s, err);
    if (rc < 0)
        return rc;
    return lzs_digest_parse(d, s, err);
}

int oci_descriptor_from_json(struct lzs_oci_descriptor *d, json_object *o, lzs_error **err)
{
    memset(d, 0, sizeof(*d));
    if (!o || !json_object_is_type(o, json_type_object))
        return lzs_error_set(err, EINVAL, "descriptor must be an object");
    json_object *plat;
    int rc = oci_json_string(o, "mediaType", true, &d->media_type, err);
    if (rc == 0)
        rc = digest_from_json(&d->digest, o, err);
    if (rc == 0)
        rc = oci_json_uint(o, "size", LZS_OCI_SIZE_MAX, &d->size, err);
    if (rc == 0)
        rc = oci_json_string(o, "artifactType", false, &d->artifact_type, err);
    if (rc == 0)
        rc = oci_json_strings(o, "urls", &d->urls, &d->n_urls, err);
    if (rc == 0)
        rc = oci_json_annotations(o, &d->annotations, &d->n_annotations, err);
    if (rc == 0)
        rc = oci_json_object(o, "platform", false, &plat, err);
    if (rc == 0 && plat) {
        d->has_platform = true;
        rc = platform_from_json(&d->platform, plat, err);
    }
    if (rc < 0)
        oci_descriptor_dispose(d);
    return rc;
}

int oci_descriptors_from_json(json_object *o, const char *key, struct lzs_oci_descriptor **out,
                              size_t *n, lzs_error **err)
{
    json_object *arr;
    *out = NULL;
    *n = 0;
    int rc = oci_json_array(o, key, true, &arr, err);
    if (rc < 0 || !arr || json_object_array_length(arr) == 0)
        return rc;
    size_t len = json_object_array_length(arr);
    struct lzs_oci_descriptor *d = lzs_calloc_array(len, sizeof(*d));
    if (!d)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        rc = oci_descriptor_from_json(&d[i], json_object_array_get_idx(arr, i), err);
        if (rc < 0) {
            oci_descriptors_free(d, i);
            return lzs_error_wrap(err, "%s[%zu]", key, i);
        }
    }
    *out = d;
    *n = len;
    return 0;
}

void oci_descriptor_dispose(struct lzs_oci_descriptor *d)
{
    free(d->media_type);
    free(d->artifact_type);
    oci_strings_free(d->urls, d->n_urls);
    oci_annotations_free(d->annotations, d->n_annotations);
    oci_strings_free(d->platform.os_features, d->platform.n_os_features);
    memset(d, 0, sizeof(*d));
}

void oci_descriptors_free(struct lzs_oci_descriptor *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++)
        oci_descriptor_dispose(&d[i]);
    free(d);
}

void lzs_oci_descriptor_empty(struct lzs_oci_descriptor *d)
{
    memset(d, 0, sizeof(*d));
    d->media_type = (char *)LZS_OCI_MT_EMPTY;
    int rc = lzs_digest_parse(&d->digest, LZS_OCI_EMPTY_DIGEST, NULL);
    assert(rc == 0);
    (void)rc;
    d->size = LZS_OCI_EMPTY_SIZE;
}

const char *lzs_oci_annotation_get(const struct lzs_oci_annotation *a, size_t n, const char *key)
{
    for (size_t i = 0; a && i < n; i++)
        if (strcmp(a[i].key, key) == 0)
            return a[i].value;
    return NULL;
}
