/* Fuzz target: image references (they come from users, labels and CRI annotations). A parsed
 * reference formats to a string that parses to itself, and so does its familiar form. */
#include "oci/oci.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reparse(const struct lzs_oci_ref *r, const char *text)
{
    struct lzs_oci_ref again;
    char a[LZS_OCI_REF_STR_MAX], b[LZS_OCI_REF_STR_MAX];
    if (lzs_oci_ref_parse(&again, text, NULL) < 0)
        abort();
    if (strcmp(lzs_oci_ref_string(r, a), lzs_oci_ref_string(&again, b)) != 0)
        abort();
    if (strcmp(r->domain, again.domain) || strcmp(r->path, again.path) ||
        strcmp(r->tag, again.tag) || r->has_digest != again.has_digest)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct lzs_oci_ref r;
    lzs_error *err = NULL;
    if (lzs_oci_ref_parse(&r, s, &err) == 0) {
        char buf[LZS_OCI_REF_STR_MAX];
        reparse(&r, lzs_oci_ref_string(&r, buf));
        reparse(&r, lzs_oci_ref_familiar(&r, buf));
        (void)lzs_oci_registry_host(r.domain);
    } else if (!err || !err->msg || strchr(err->msg, '\n')) {
        abort(); /* every failure names what was wrong, on one line */
    }
    lzs_error_free(&err);
    struct lzs_oci_platform p;
    if (lzs_oci_platform_parse(&p, s, NULL) == 0) {
        char pb[LZS_OCI_PLATFORM_STR_MAX];
        struct lzs_oci_platform q;
        if (lzs_oci_platform_parse(&q, lzs_oci_platform_format(&p, pb), NULL) < 0 ||
            lzs_oci_platform_rank(&p, &q) != 0)
            abort();
    }
    (void)lzs_oci_layer_compression(s);
    free(s);
    return 0;
}
