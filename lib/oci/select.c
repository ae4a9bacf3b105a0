/* oci: ranking platforms and picking a manifest from an index, as containerd 1.6 does
 * (platforms.Only: the wanted platform first, then the fallbacks it can run). */
#include "oci_i.h"

#include <stdio.h>
#include <string.h>

#define VECTOR_MAX 12

struct cand {
    const char *arch;
    char variant[LZS_OCI_PLATFORM_FIELD_MAX];
};

/* "vN" -> N, or -1. */
static int version_of(const char *variant)
{
    if (variant[0] != 'v' || variant[1] < '1' || variant[1] > '9' || variant[2])
        return -1;
    return variant[1] - '0';
}

/* Candidates after c: arm vN -> v(N-1) .. v5; amd64 vN -> v(N-1) .. v2, then no variant. */
static size_t fallbacks(const char *arch, const char *variant, struct cand *v, size_t n)
{
    int ver = version_of(variant);
    if (strcmp(arch, "arm") == 0) {
        for (int i = ver - 1; ver > 5 && i >= 5 && n < VECTOR_MAX; i--) {
            v[n].arch = "arm";
            snprintf(v[n++].variant, sizeof(v[0].variant), "v%d", i);
        }
    } else if (strcmp(arch, "amd64") == 0 && ver > 1) {
        for (int i = ver - 1; i >= 1 && n < VECTOR_MAX; i--) {
            v[n].arch = "amd64";
            if (i > 1)
                snprintf(v[n].variant, sizeof(v[0].variant), "v%d", i);
            else
                v[n].variant[0] = '\0';
            n++;
        }
    }
    return n;
}

/* containerd's platformVector for a normalised platform. */
static size_t vector(const struct lzs_oci_platform *p, struct cand *v)
{
    size_t n = 0;
    v[n].arch = p->architecture;
    snprintf(v[n++].variant, sizeof(v[0].variant), "%s", p->variant);
    if (strcmp(p->architecture, "arm64") == 0) {
        v[n].arch = "arm";
        snprintf(v[n++].variant, sizeof(v[0].variant), "%s", p->variant[0] ? p->variant : "v8");
        return fallbacks("arm", v[n - 1].variant, v, n);
    }
    return fallbacks(p->architecture, p->variant, v, n);
}

int lzs_oci_platform_rank(const struct lzs_oci_platform *want, const struct lzs_oci_platform *have)
{
    struct lzs_oci_platform w = *want, h = *have;
    oci_platform_normalize(&w);
    oci_platform_normalize(&h);
    if (strcmp(w.os, h.os) != 0)
        return -1;
    struct cand v[VECTOR_MAX];
    size_t n = vector(&w, v);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].arch, h.architecture) == 0 && strcmp(v[i].variant, h.variant) == 0)
            return (int)i;
    return -1;
}

bool lzs_oci_platform_is_match(const struct lzs_oci_platform *want,
                               const struct lzs_oci_platform *have)
{
    return lzs_oci_platform_rank(want, have) >= 0;
}

static int none_found(const struct lzs_oci_index *idx, const struct lzs_oci_platform *want,
                      lzs_error **err)
{
    char list[1024] = "", one[LZS_OCI_PLATFORM_STR_MAX], w[LZS_OCI_PLATFORM_STR_MAX];
    size_t off = 0;
    for (size_t i = 0; i < idx->n_manifests && off < sizeof(list); i++) {
        if (!idx->manifests[i].has_platform)
            continue;
        lzs_oci_platform_format(&idx->manifests[i].platform, one);
        int k = snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", one);
        off += k > 0 ? (size_t)k : 0;
    }
    return lzs_error_set(err, ENOENT, "no manifest for %s (available: %s)",
                         lzs_oci_platform_format(want, w), off ? list : "none");
}

int lzs_oci_index_select(const struct lzs_oci_index *idx, const struct lzs_oci_platform *want,
                         size_t *out_i, lzs_error **err)
{
    int best = -1;
    size_t best_i = 0, untagged = SIZE_MAX;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct lzs_oci_descriptor *d = &idx->manifests[i];
        if (!d->has_platform) {
            untagged = untagged == SIZE_MAX ? i : untagged;
            continue;
        }
        int r = lzs_oci_platform_rank(want, &d->platform);
        if (r >= 0 && (best < 0 || r < best)) {
            best = r;
            best_i = i;
        }
    }
    if (best < 0 && untagged == SIZE_MAX)
        return none_found(idx, want, err);
    *out_i = best >= 0 ? best_i : untagged;
    return 0;
}
