/* oci: private helpers shared by the module's files. The only header that includes json-c. */
#ifndef LZS_OCI_I_H
#define LZS_OCI_I_H

#include "oci/oci.h"

#include <json-c/json.h>

LZS_DEFINE_CLEANUP(json_object, json_object_put)

/* json.c: parse a body (bounded, strict, UTF-8 checked, depth-limited) into a JSON object. */
int oci_json_parse(json_object **out, const void *p, size_t n, lzs_error **err);
/* The member key, or NULL when absent or JSON null. */
json_object *oci_json_get(json_object *o, const char *key);
/* A string member copied into *out (NULL when absent and not required). */
int oci_json_string(json_object *o, const char *key, bool required, char **out, lzs_error **err);
/* A string member into a fixed buffer ("" when absent and not required). */
int oci_json_string_buf(json_object *o, const char *key, bool required, char *out, size_t len,
                        lzs_error **err);
/* A required non-negative integer member <= max. */
int oci_json_uint(json_object *o, const char *key, uint64_t max, uint64_t *out, lzs_error **err);
/* An array member with at most LZS_OCI_ENTRIES_MAX elements; *out NULL when absent. */
int oci_json_array(json_object *o, const char *key, bool required, json_object **out,
                   lzs_error **err);
/* An optional object member; *out NULL when absent. */
int oci_json_object(json_object *o, const char *key, bool required, json_object **out,
                    lzs_error **err);
int oci_json_strings(json_object *o, const char *key, char ***out, size_t *n, lzs_error **err);
int oci_json_annotations(json_object *o, struct lzs_oci_annotation **out, size_t *n,
                         lzs_error **err);
void oci_strings_free(char **v, size_t n);
void oci_annotations_free(struct lzs_oci_annotation *a, size_t n);

/* descriptor.c */
int oci_descriptor_from_json(struct lzs_oci_descriptor *d, json_object *o, lzs_error **err);
/* An array of descriptors (member key, required); *out NULL and *n 0 for an empty array. */
int oci_descriptors_from_json(json_object *o, const char *key, struct lzs_oci_descriptor **out,
                              size_t *n, lzs_error **err);
void oci_descriptor_dispose(struct lzs_oci_descriptor *d);
void oci_descriptors_free(struct lzs_oci_descriptor *d, size_t n);

/* mediatype.c: LZS_OCI_KIND_* of a manifest/index media type (parameters ignored), or 0. */
int oci_media_kind(const char *media_type);

/* platform.c: containerd's Normalize, in place. */
void oci_platform_normalize(struct lzs_oci_platform *p);

#endif
