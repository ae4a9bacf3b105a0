/* Fuzz target: manifest and index bodies (untrusted registry responses). Whatever parses must
 * serialise, parse again, and serialise to the same bytes. */
#include "oci/oci.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_manifest(const uint8_t *data, size_t size)
{
    struct lzs_oci_manifest *m = NULL, *m2 = NULL;
    lzs_error *err = NULL;
    struct lzs_buf w1 = LZS_BUF_INIT(64u << 20), w2 = LZS_BUF_INIT(64u << 20);
    if (lzs_oci_manifest_parse(&m, data, size, NULL, &err) < 0) {
        if (!err || !err->msg || m)
            abort(); /* every failure names what was wrong, and leaves nothing behind */
        lzs_error_free(&err);
        return;
    }
    if (lzs_oci_manifest_write(m, &w1, NULL) < 0 ||
        lzs_oci_manifest_parse(&m2, w1.data, w1.len, NULL, NULL) < 0 ||
        lzs_oci_manifest_write(m2, &w2, NULL) < 0 || w1.len != w2.len ||
        memcmp(w1.data, w2.data, w1.len) != 0 || m->n_layers != m2->n_layers)
        abort();
    lzs_buf_dispose(&w1);
    lzs_buf_dispose(&w2);
    lzs_oci_manifest_free(m);
    lzs_oci_manifest_free(m2);
}

static void check_index(const uint8_t *data, size_t size)
{
    struct lzs_oci_index *idx = NULL, *idx2 = NULL;
    struct lzs_buf w1 = LZS_BUF_INIT(64u << 20), w2 = LZS_BUF_INIT(64u << 20);
    if (lzs_oci_index_parse(&idx, data, size, "application/json", NULL) < 0)
        return;
    if (lzs_oci_index_write(idx, &w1, NULL) < 0 ||
        lzs_oci_index_parse(&idx2, w1.data, w1.len, NULL, NULL) < 0 ||
        lzs_oci_index_write(idx2, &w2, NULL) < 0 || w1.len != w2.len ||
        memcmp(w1.data, w2.data, w1.len) != 0 || idx->n_manifests != idx2->n_manifests)
        abort();
    struct lzs_oci_platform want;
    size_t i;
    if (lzs_oci_platform_parse(&want, "linux/arm64/v8", NULL) == 0 &&
        lzs_oci_index_select(idx, &want, &i, NULL) == 0 && i >= idx->n_manifests)
        abort();
    lzs_buf_dispose(&w1);
    lzs_buf_dispose(&w2);
    lzs_oci_index_free(idx);
    lzs_oci_index_free(idx2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum lzs_oci_kind kind;
    (void)lzs_oci_detect(data, size, NULL, &kind, NULL);
    check_manifest(data, size);
    check_index(data, size);
    return 0;
}
