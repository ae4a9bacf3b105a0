/* oci: json-c behind small typed accessors. Every value from the wire is checked for its type
 * and bounds here; strings are copied out so json-c objects never leave the module. */
#include "oci_i.h"

#include <string.h>

#define JSON_DEPTH 16 /* manifests nest 6 deep at most; json-c recurses on free */

static bool only_blanks(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    return true;
}

int oci_json_parse(json_object **out, const void *p, size_t n, lzs_error **err)
{
    *out = NULL;
    if (n > LZS_OCI_BODY_MAX)
        return lzs_error_set(err, EMSGSIZE, "body of %zu bytes is larger than %u bytes", n,
                             LZS_OCI_BODY_MAX);
    json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return lzs_error_set(err, ENOMEM, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    lzs_cleanup(json_object_putp) json_object *root = json_tokener_parse_ex(tok, p, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr == json_tokener_continue)
        return lzs_error_set(err, EINVAL, "invalid json: truncated");
    if (jerr != json_tokener_success)
        return lzs_error_set(err, EINVAL, "invalid json at byte %zu: %s", end,
                             json_tokener_error_desc(jerr));
    if (end > n || !only_blanks((const char *)p + end, n - end))
        return lzs_error_set(err, EINVAL, "invalid json: data after the end at byte %zu", end);
    if (!json_object_is_type(root, json_type_object))
        return lzs_error_set(err, EINVAL, "invalid json: not an object");
    *out = lzs_steal_ptr(&root);
    return 0;
}

json_object *oci_json_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v; /* NULL for JSON null */
}

static int missing(const char *key, lzs_error **err)
{
    return lzs_error_set(err, EINVAL, "missing '%s'", key);
}

static int want_type(json_object *v, json_type t, const char *key, const char *what,
                     lzs_error **err)
{
    if (json_object_is_type(v, t))
        return 0;
    return lzs_error_set(err, EINVAL, "'%s' must be %s", key, what);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or 0. json-c's own check lets some of these through. */
static size_t utf8_seq(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || p[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

static bool is_utf8(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* The string value of v (type checked), rejecting embedded NULs and malformed UTF-8. */
static int string_of(json_object *v, const char *key, const char **out, lzs_error **err)
{
    int rc = want_type(v, json_type_string, key, "a string", err);
    if (rc < 0)
        return rc;
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return lzs_error_set(err, EINVAL, "'%s' contains a NUL character", key);
    if (!is_utf8(s))
        return lzs_error_set(err, EINVAL, "'%s' is not valid UTF-8", key);
    *out = s;
    return 0;
}

/* The string at key into *s (borrowed from o): 1 found, 0 absent and optional, < 0 error. */
static int lookup_string(json_object *o, const char *key, bool required, const char **s,
                         lzs_error **err)
{
    json_object *v = oci_json_get(o, key);
    if (!v)
        return required ? missing(key, err) : 0;
    int rc = string_of(v, key, s, err);
    return rc < 0 ? rc : 1;
}

int oci_json_string(json_object *o, const char *key, bool required, char **out, lzs_error **err)
{
    *out = NULL;
    const char *s;
    int rc = lookup_string(o, key, required, &s, err);
    if (rc <= 0)
        return rc;
    *out = strdup(s);
    return *out ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

int oci_json_string_buf(json_object *o, const char *key, bool required, char *out, size_t len,
                        lzs_error **err)
{
    out[0] = '\0';
    const char *s;
    int rc = lookup_string(o, key, required, &s, err);
    if (rc <= 0)
        return rc;
    if (strlen(s) >= len)
        return lzs_error_set(err, EINVAL, "'%s' is longer than %zu characters", key, len - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int oci_json_uint(json_object *o, const char *key, uint64_t max, uint64_t *out, lzs_error **err)
{
    json_object *v = oci_json_get(o, key);
    if (!v)
        return missing(key, err);
    int rc = want_type(v, json_type_int, key, "an integer", err);
    if (rc < 0)
        return rc;
    int64_t i = json_object_get_int64(v);
    if (i < 0)
        return lzs_error_set(err, EINVAL, "'%s' is negative (%" PRId64 ")", key, i);
    if ((uint64_t)i > max)
        return lzs_error_set(err, EINVAL, "'%s' is larger than %" PRIu64, key, max);
    *out = (uint64_t)i;
    return 0;
}

int oci_json_array(json_object *o, const char *key, bool required, json_object **out,
                   lzs_error **err)
{
    *out = oci_json_get(o, key);
    if (!*out)
        return required ? missing(key, err) : 0;
    int rc = want_type(*out, json_type_array, key, "an array", err);
    if (rc < 0)
        return rc;
    if (json_object_array_length(*out) > LZS_OCI_ENTRIES_MAX)
        return lzs_error_set(err, EINVAL, "'%s' has more than %d entries", key,
                             LZS_OCI_ENTRIES_MAX);
    return 0;
}

int oci_json_object(json_object *o, const char *key, bool required, json_object **out,
                    lzs_error **err)
{
    *out = oci_json_get(o, key);
    if (!*out)
        return required ? missing(key, err) : 0;
    return want_type(*out, json_type_object, key, "an object", err);
}

void oci_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void oci_annotations_free(struct lzs_oci_annotation *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].key);
        free(a[i].value);
    }
    free(a);
}

int oci_json_strings(json_object *o, const char *key, char ***out, size_t *n, lzs_error **err)
{
    json_object *arr;
    *out = NULL;
    *n = 0;
    int rc = oci_json_array(o, key, false, &arr, err);
    if (rc < 0 || !arr || json_object_array_length(arr) == 0)
        return rc;
    size_t len = json_object_array_length(arr);
    char **v = lzs_calloc_array(len, sizeof(*v));
    if (!v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        const char *s;
        rc = string_of(json_object_array_get_idx(arr, i), key, &s, err);
        if (rc == 0 && !(v[i] = strdup(s)))
            rc = lzs_error_set(err, ENOMEM, "out of memory");
        if (rc < 0) {
            oci_strings_free(v, len);
            return rc;
        }
    }
    *out = v;
    *n = len;
    return 0;
}

static int annotation_set(struct lzs_oci_annotation *a, const char *key, json_object *val,
                          lzs_error **err)
{
    const char *s;
    if (!is_utf8(key))
        return lzs_error_set(err, EINVAL, "an annotation key is not valid UTF-8");
    if (!val)
        return lzs_error_set(err, EINVAL, "annotation '%.100s' must be a string", key);
    int rc = string_of(val, "annotations", &s, err);
    if (rc < 0)
        return rc;
    a->key = strdup(key);
    a->value = strdup(s);
    if (!a->key || !a->value)
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct lzs_oci_annotation *)a)->key,
                  ((const struct lzs_oci_annotation *)b)->key);
}

/* Sorted by key (the order they are written in); keys that collide once json-c has cut them at a
 * NUL character are refused. */
static int annotations_sort(struct lzs_oci_annotation *a, size_t n, lzs_error **err)
{
    qsort(a, n, sizeof(*a), by_key);
    for (size_t i = 1; i < n; i++)
        if (strcmp(a[i - 1].key, a[i].key) == 0)
            return lzs_error_set(err, EINVAL, "duplicate annotation '%.100s'", a[i].key);
    return 0;
}

int oci_json_annotations(json_object *o, struct lzs_oci_annotation **out, size_t *n,
                         lzs_error **err)
{
    json_object *obj;
    *out = NULL;
    *n = 0;
    int rc = oci_json_object(o, "annotations", false, &obj, err);
    if (rc < 0 || !obj || json_object_object_length(obj) == 0)
        return rc;
    size_t len = (size_t)json_object_object_length(obj);
    if (len > LZS_OCI_ENTRIES_MAX)
        return lzs_error_set(err, EINVAL, "'annotations' has more than %d entries",
                             LZS_OCI_ENTRIES_MAX);
    struct lzs_oci_annotation *a = lzs_calloc_array(len, sizeof(*a));
    if (!a)
        return lzs_error_set(err, ENOMEM, "out of memory");
    size_t i = 0;
    json_object_object_foreach(obj, key, val)
    {
        if (rc == 0)
            rc = annotation_set(&a[i++], key, val, err);
    }
    if (rc == 0)
        rc = annotations_sort(a, len, err);
    if (rc < 0) {
        oci_annotations_free(a, len);
        return rc;
    }
    *out = a;
    *n = len;
    return 0;
}
