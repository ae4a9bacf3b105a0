/* config: registry endpoints: server URLs as containerd parses them, the default upstream, and
 * freeing. */
#include "hosts_i.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static char *dup_n(const char *s, size_t n)
{
    return strndup(s, n);
}

static int build_url(struct lzs_config_endpoint *ep, lzs_error **err)
{
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    int rc = lzs_buf_printf(&b, err, "%s://%s%s", ep->scheme, ep->host, ep->path);
    if (rc < 0) {
        lzs_buf_dispose(&b);
        return rc;
    }
    free(ep->url);
    ep->url = lzs_buf_steal(&b, NULL);
    ep->plain_http = strcmp(ep->scheme, "http") == 0;
    return ep->url ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

/* path as containerd: cleaned, "/v2" appended unless present or override_path. */
static char *api_path(const char *raw, size_t n, bool override_path)
{
    lzs_autofree char *p = dup_n(raw, n);
    lzs_autofree char *clean = p && *p ? lzs_cfg_path_clean(p) : strdup("");
    if (!clean)
        return NULL;
    if (strcmp(clean, "/") == 0) /* containerd would make "//v2" of it */
        clean[0] = '\0';
    size_t len = strlen(clean);
    if (override_path || (len >= 3 && strcmp(clean + len - 3, "/v2") == 0))
        return lzs_steal_ptr(&clean);
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    if (lzs_buf_printf(&b, NULL, "%s/v2", clean) < 0) {
        lzs_buf_dispose(&b);
        return NULL;
    }
    return lzs_buf_steal(&b, NULL);
}

static int url_error(lzs_error **err, const struct lzs_cfg_where *w, const struct lzs_toml *v,
                     const char *url, const char *why)
{
    return lzs_cfg_error(err, EINVAL, w, v, "invalid url \"%.200s\": %s", url, why);
}

int lzs_cfg_endpoint_set_url(struct lzs_config_endpoint *ep, const char *url,
                             const struct lzs_cfg_where *w, const struct lzs_toml *v,
                             lzs_error **err)
{
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return url_error(err, w, v, "?", "contains a space or control character");
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    int rc = lzs_buf_printf(&b, err, "%s%s", strncmp(url, "http", 4) ? "https://" : "", url);
    lzs_autofree char *full = lzs_buf_steal(&b, NULL);
    if (rc < 0 || !full)
        return rc < 0 ? rc : lzs_error_set(err, ENOMEM, "out of memory");
    const char *sep = strstr(full, "://");
    if (!sep)
        return url_error(err, w, v, url, "no scheme");
    lzs_autofree char *scheme = dup_n(full, (size_t)(sep - full));
    for (char *c = scheme; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (scheme && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return url_error(err, w, v, url, "scheme is not http or https");
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0)
        return url_error(err, w, v, url, "no host");
    if (memchr(auth, '@', alen))
        return url_error(err, w, v, url, "credentials in the url are not supported");
    const char *p = auth + alen;
    char *host = dup_n(auth, alen), *path = api_path(p, strcspn(p, "?#"), ep->override_path);
    if (!scheme || !host || !path) {
        free(host);
        free(path);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    free(ep->scheme), free(ep->host), free(ep->path);
    ep->scheme = lzs_steal_ptr(&scheme), ep->host = host, ep->path = path;
    return build_url(ep, err);
}

bool lzs_config_host_is_localhost(const char *host)
{
    size_t n = strlen(host);
    const char *colon = strchr(host, ':');
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end || (end[1] != '\0' && end[1] != ':'))
            return false;
        host++, n = (size_t)(end - host);
    } else if (colon && !strchr(colon + 1, ':')) {
        n = (size_t)(colon - host); /* host:port */
    }
    return (n == 9 && strncmp(host, "localhost", n) == 0) ||
           (n == 9 && strncmp(host, "127.0.0.1", n) == 0) ||
           (n == 3 && strncmp(host, "::1", n) == 0);
}

int lzs_cfg_endpoint_set_default(struct lzs_config_endpoint *ep, const char *host,
                                 const struct lzs_config_hosts_opts *opts, lzs_error **err)
{
    bool docker = strcmp(host, "docker.io") == 0;
    bool http =
        !docker && opts &&
        (opts->force_plain_http || (opts->plain_http && lzs_config_host_is_localhost(host)));
    free(ep->scheme), free(ep->host), free(ep->path);
    ep->scheme = strdup(http ? "http" : "https");
    ep->host = strdup(docker ? "registry-1.docker.io" : host);
    ep->path = strdup("/v2");
    ep->caps = LZS_HOST_CAP_ALL; /* containerd gives the default upstream every capability */
    if (!ep->scheme || !ep->host || !ep->path)
        return lzs_error_set(err, ENOMEM, "out of memory");
    return build_url(ep, err);
}

void lzs_cfg_endpoint_clients_free(struct lzs_config_endpoint *ep)
{
    for (size_t i = 0; i < ep->nclients; i++) {
        free(ep->clients[i].cert);
        free(ep->clients[i].key);
    }
    free(ep->clients);
    ep->clients = NULL;
    ep->nclients = 0;
}

void lzs_cfg_endpoint_headers_free(struct lzs_config_endpoint *ep)
{
    for (size_t i = 0; i < ep->nheaders; i++) {
        free(ep->headers[i].name);
        lzs_cfg_strv_free(ep->headers[i].values);
    }
    free(ep->headers);
    ep->headers = NULL;
    ep->nheaders = 0;
}

void lzs_cfg_endpoint_dispose(struct lzs_config_endpoint *ep)
{
    lzs_cfg_endpoint_clients_free(ep);
    lzs_cfg_endpoint_headers_free(ep);
    lzs_cfg_strv_free(ep->ca);
    free(ep->url), free(ep->scheme), free(ep->host), free(ep->path);
    memset(ep, 0, sizeof(*ep));
}
