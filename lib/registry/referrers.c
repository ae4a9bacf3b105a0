/* registry: the OCI Referrers API (distribution-spec 1.1). Registries without it (distribution
 * 2.8) answer 404 or 405: -ENOTSUP, so that the caller falls back to the "sha256-HEX" tag. */
#include "registry_i.h"

#include <string.h>

static char *referrers_suffix(const struct lzs_digest *subject, const char *artifact_type)
{
    char dg[LZS_DIGEST_STR_MAX];
    lzs_digest_format(subject, dg);
    char *suffix = NULL;
    if (!artifact_type) {
        if (asprintf(&suffix, "/referrers/%s", dg) < 0)
            return NULL;
        return suffix;
    }
    char *esc = curl_easy_escape(NULL, artifact_type, 0);
    if (!esc || asprintf(&suffix, "/referrers/%s?artifactType=%s", dg, esc) < 0)
        suffix = NULL;
    curl_free(esc);
    return suffix;
}

int lzs_repo_get_referrers(lzs_repo *repo, const struct lzs_digest *subject,
                           const char *artifact_type, struct lzs_repo_manifest *m, lzs_error **err)
{
    lzs_autofree char *suffix = referrers_suffix(subject, artifact_type);
    if (!suffix)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct reg_doc d;
    reg_doc_init(&d);
    struct reg_op op = {.method = "GET",
                        .suffix = suffix,
                        .ns = true,
                        .caps = LZS_HOST_CAP_PULL,
                        .accept = LZS_OCI_MT_INDEX,
                        .sink = &reg_doc_sink,
                        .ctx = &d};
    lzs_error *e = NULL;
    int rc = reg_repo_do(repo, &op, &e);
    if (rc == -ENOENT || rc == -ENOTSUP) {
        char dg[LZS_DIGEST_STR_MAX];
        rc = lzs_error_set_http(err, ENOTSUP, e ? e->http : 0, "%s: no referrers API for %s (%s)",
                                repo->name, lzs_digest_format(subject, dg), lzs_error_msg(e));
        lzs_error_free(&e);
    } else if (rc < 0 && err) {
        *err = e;
    } else if (rc < 0) {
        lzs_error_free(&e);
    } else {
        rc = reg_doc_take(&d, NULL, "referrers", m, err);
    }
    reg_doc_dispose(&d);
    return rc;
}
