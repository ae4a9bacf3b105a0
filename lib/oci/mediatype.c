/* oci: media types: which are manifests or indexes, and the compression of layer types. */
#include "oci_i.h"

#include <string.h>
#include <strings.h>

/* Length of the media type without parameters and trailing blanks ("a/b; x=y" -> 3). */
static size_t bare_len(const char *mt)
{
    size_t n = strcspn(mt, ";");
    while (n > 0 && (mt[n - 1] == ' ' || mt[n - 1] == '\t'))
        n--;
    return n;
}

static bool is(const char *mt, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(mt, want, n) == 0;
}

int oci_media_kind(const char *mt)
{
    if (!mt)
        return 0;
    size_t n = bare_len(mt);
    if (is(mt, n, LZS_OCI_MT_MANIFEST) || is(mt, n, LZS_OCI_MT_DOCKER_MANIFEST))
        return LZS_OCI_KIND_MANIFEST;
    if (is(mt, n, LZS_OCI_MT_INDEX) || is(mt, n, LZS_OCI_MT_DOCKER_LIST))
        return LZS_OCI_KIND_INDEX;
    return 0;
}

enum lzs_oci_compression lzs_oci_layer_compression(const char *mt)
{
    static const struct {
        const char *mt;
        enum lzs_oci_compression comp;
    } types[] = {
        {LZS_OCI_MT_LAYER, LZS_OCI_COMP_NONE},
        {LZS_OCI_MT_LAYER_GZIP, LZS_OCI_COMP_GZIP},
        {LZS_OCI_MT_LAYER_ZSTD, LZS_OCI_COMP_ZSTD},
        {LZS_OCI_MT_LAYER_ND, LZS_OCI_COMP_NONE},
        {LZS_OCI_MT_LAYER_ND_GZIP, LZS_OCI_COMP_GZIP},
        {LZS_OCI_MT_LAYER_ND_ZSTD, LZS_OCI_COMP_ZSTD},
        {LZS_OCI_MT_DOCKER_LAYER, LZS_OCI_COMP_NONE},
        {LZS_OCI_MT_DOCKER_LAYER_GZIP, LZS_OCI_COMP_GZIP},
        {LZS_OCI_MT_DOCKER_FOREIGN, LZS_OCI_COMP_GZIP},
    };
    if (!mt)
        return LZS_OCI_COMP_UNKNOWN;
    size_t n = bare_len(mt);
    for (size_t i = 0; i < LZS_ARRAY_SIZE(types); i++)
        if (is(mt, n, types[i].mt))
            return types[i].comp;
    return LZS_OCI_COMP_UNKNOWN;
}
