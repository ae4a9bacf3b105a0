/* registry: a repository of one registry host and the endpoints to try for it (containerd's
 * hosts directory: mirrors first, then the server). */
#include "registry_i.h"

#include <string.h>

#define CA_FILE_MAX (4u << 20)

/* The system CA bundle curl was built with, when there is one. */
static const char *system_ca_file(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return v && v->cainfo && access(v->cainfo, R_OK) == 0 ? v->cainfo : NULL;
}

/* The endpoint's CA files then the system bundle (containerd adds them to the system pool),
 * as one PEM blob for CURLOPT_CAINFO_BLOB. */
static int load_cas(struct reg_endpoint *ep, lzs_error **err)
{
    const struct lzs_config_endpoint *cfg = ep->cfg;
    struct lzs_buf b = LZS_BUF_INIT((size_t)CA_FILE_MAX * (cfg->nca + 1) + 1);
    int rc = 0;
    const char *sys = system_ca_file();
    for (size_t i = 0; i <= cfg->nca && rc == 0; i++) {
        const char *path = i < cfg->nca ? cfg->ca[i] : sys;
        if (path && (rc = lzs_file_read_all(path, &b, err)) == 0)
            rc = lzs_buf_append_str(&b, "\n", err);
    }
    if (rc < 0) {
        lzs_buf_dispose(&b);
        return lzs_error_wrap(err, "CA certificates of %s", cfg->url);
    }
    ep->cablob.len = b.len;
    ep->cablob.data = lzs_buf_steal(&b, NULL);
    ep->cablob.flags = CURL_BLOB_NOCOPY;
    return ep->cablob.data ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

static int endpoints_init(lzs_repo *repo, lzs_error **err)
{
    repo->neps = repo->hosts->n;
    repo->eps = lzs_calloc_array(repo->neps, sizeof(*repo->eps));
    if (!repo->eps)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < repo->neps; i++) {
        struct reg_endpoint *ep = &repo->eps[i];
        ep->cfg = &repo->hosts->endpoints[i];
        ep->is_proxy = reg_is_proxy(repo->domain, ep->cfg->host);
        if (ep->cfg->nca > 0) {
            int rc = load_cas(ep, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int names_init(lzs_repo *repo, const struct lzs_oci_ref *ref, lzs_error **err)
{
    repo->domain = strdup(ref->domain);
    repo->path = strdup(ref->path);
    if (!repo->domain || !repo->path ||
        asprintf(&repo->name, "%s/%s", ref->domain, ref->path) < 0 ||
        asprintf(&repo->scope_pull, "repository:%s:pull", ref->path) < 0 ||
        asprintf(&repo->scope_push, "repository:%s:pull,push", ref->path) < 0)
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

int lzs_repo_open(lzs_repo **out, lzs_registry *r, const struct lzs_oci_ref *ref, lzs_error **err)
{
    if (!ref->domain[0] || !ref->path[0])
        return lzs_error_set(err, EINVAL, "repository: empty domain or path");
    lzs_repo *repo = calloc(1, sizeof(*repo));
    if (!repo)
        return lzs_error_set(err, ENOMEM, "out of memory");
    lzs_refcount_init(&repo->ref);
    repo->r = r;
    /* containerd's ctr: the default endpoint of localhost is http when --plain-http is not
     * given too (docker.ConfigureDefaultRegistries treats localhost as insecure) */
    struct lzs_config_hosts_opts hopts = {.plain_http = true, .force_plain_http = r->plain_http};
    int rc = names_init(repo, ref, err);
    if (rc == 0)
        rc = lzs_config_hosts_load(&repo->hosts, r->hosts_dir, ref->domain, &hopts, err);
    if (rc == 0)
        rc = endpoints_init(repo, err);
    if (rc < 0) {
        lzs_repo_unref(repo);
        return rc;
    }
    *out = repo;
    return 0;
}

lzs_repo *lzs_repo_ref(lzs_repo *repo)
{
    lzs_refcount_inc(&repo->ref);
    return repo;
}

lzs_repo *lzs_repo_unref(lzs_repo *repo)
{
    if (!repo || !lzs_refcount_dec(&repo->ref))
        return NULL;
    for (size_t i = 0; i < repo->neps; i++)
        free((void *)repo->eps[i].cablob.data);
    free(repo->eps);
    lzs_config_hosts_free(repo->hosts);
    free(repo->domain), free(repo->path), free(repo->name);
    free(repo->scope_pull), free(repo->scope_push);
    free(repo);
    return NULL;
}

const char *lzs_repo_name(const lzs_repo *repo)
{
    return repo->name;
}
