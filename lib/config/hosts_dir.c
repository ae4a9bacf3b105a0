/* config: containerd host directories: which directory serves a registry host, its hosts.toml
 * or Docker-style certificate files, and the default upstream (containerd's ConfigureHosts,
 * HostDirFromRoot, loadHostDir, loadCertFiles). */
#include "hosts_i.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void lzs_config_hosts_free(struct lzs_config_hosts *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        lzs_cfg_endpoint_dispose(&h->endpoints[i]);
    free(h->endpoints);
    free(h->dir);
    free(h);
}

/* A host name becomes a directory name: no separators, no dot names, no control characters. */
static int check_host(const char *host, lzs_error **err)
{
    bool ok = host && *host && strcmp(host, ".") != 0 && strcmp(host, "..") != 0 &&
              strlen(host) <= 255 && host[0] != '_';
    for (const char *c = host; ok && *c; c++)
        ok = *c != '/' && (unsigned char)*c > 0x20 && *c != 0x7f;
    return ok ? 0 : lzs_error_set(err, EINVAL, "invalid registry host \"%.64s\"", host ? host : "");
}

/* The last endpoint without a server gets the default upstream, as in containerd. */
static int finish(struct lzs_config_hosts *h, const char *host,
                  const struct lzs_config_hosts_opts *opts, lzs_error **err)
{
    if (h->n > 0 && !h->endpoints[h->n - 1].host)
        return lzs_cfg_endpoint_set_default(&h->endpoints[h->n - 1], host, opts, err);
    return 0;
}

static int hosts_new(struct lzs_config_hosts **out, lzs_error **err)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

static int one_endpoint(struct lzs_config_hosts *h, lzs_error **err)
{
    h->endpoints = calloc(1, sizeof(*h->endpoints));
    h->n = h->endpoints ? 1 : 0;
    return h->endpoints ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

int lzs_config_hosts_parse(struct lzs_config_hosts **out, const char *host, const char *dir,
                           const char *name, const void *data, size_t len,
                           const struct lzs_config_hosts_opts *opts, lzs_error **err)
{
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = NULL;
    int rc = check_host(host, err);
    if (rc == 0)
        rc = hosts_new(&h, err);
    if (rc == 0 && len == 0) {
        rc = one_endpoint(h, err);
    } else if (rc == 0) {
        lzs_cleanup(lzs_toml_freep) struct lzs_toml *root = NULL;
        rc = lzs_cfg_parse(&root, name, data, len, err);
        if (rc == 0)
            rc = lzs_cfg_hosts_from_tree(h, root, name, dir, err);
    }
    if (rc == 0)
        rc = finish(h, host, opts, err);
    if (rc == 0)
        *out = lzs_steal_ptr(&h);
    return rc;
}

static char *join2(const char *a, const char *b)
{
    struct lzs_buf buf = LZS_BUF_INIT(SIZE_MAX);
    if (lzs_buf_printf(&buf, NULL, "%s/%s", a, b) < 0) {
        lzs_buf_dispose(&buf);
        return NULL;
    }
    return lzs_buf_steal(&buf, NULL);
}

/* DIR/host_port_ (for host:port), DIR/host, DIR/_default: the first that exists, or NULL. */
static int find_host_dir(char **out, const char *root, const char *host, lzs_error **err)
{
    char alt[300] = "";
    const char *colon = strrchr(host, ':');
    if (colon && colon > host)
        snprintf(alt, sizeof(alt), "%.*s_%s_", (int)(colon - host), host, colon + 1);
    const char *names[] = {alt, host, "_default"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(names); i++) {
        if (!names[i][0])
            continue;
        lzs_autofree char *p = join2(root, names[i]);
        if (!p)
            return lzs_error_set(err, ENOMEM, "out of memory");
        struct stat st;
        if (stat(p, &st) == 0) {
            *out = lzs_steal_ptr(&p);
            return 0;
        }
        if (errno != ENOENT)
            return lzs_error_set_sys(err, errno, "hosts directory %s", p);
    }
    *out = NULL;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static bool is_dir_entry(const char *dir, const struct dirent *d)
{
    if (d->d_type != DT_UNKNOWN)
        return d->d_type == DT_DIR;
    lzs_autofree char *p = join2(dir, d->d_name);
    struct stat st;
    return p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* NAME.cert with NAME.key when that exists (else the key is in the .cert file). */
static int add_cert(struct lzs_config_endpoint *ep, const char *dir, const char *name,
                    lzs_error **err)
{
    struct lzs_config_host_client *c = &ep->clients[ep->nclients++];
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    int rc = lzs_buf_printf(&b, err, "%s/%.*s.key", dir, (int)(strlen(name) - 5), name);
    lzs_autofree char *key_file = rc == 0 ? lzs_buf_steal(&b, NULL) : NULL;
    lzs_buf_dispose(&b);
    if (rc < 0)
        return rc;
    if (!(c->cert = join2(dir, name)) || !key_file)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct stat st;
    if (stat(key_file, &st) == 0)
        c->key = lzs_steal_ptr(&key_file);
    else if (errno != ENOENT)
        return lzs_error_set_sys(err, errno, "%s", key_file);
    return 0;
}

static int scan_certs(struct lzs_config_endpoint *ep, const char *dir, struct dirent **list, int n,
                      lzs_error **err)
{
    ep->ca = lzs_calloc_array((size_t)n + 1, sizeof(char *));
    ep->clients = lzs_calloc_array((size_t)n + 1, sizeof(*ep->clients));
    if (!ep->ca || !ep->clients)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (is_dir_entry(dir, list[i]))
            continue;
        if (has_suffix(name, ".crt") && !(ep->ca[ep->nca++] = join2(dir, name)))
            return lzs_error_set(err, ENOMEM, "out of memory");
        int rc = has_suffix(name, ".cert") ? add_cert(ep, dir, name, err) : 0;
        if (rc < 0)
            return rc;
    }
    if (ep->nca == 0) {
        free(ep->ca);
        ep->ca = NULL;
    }
    return 0;
}

/* No hosts.toml: Docker's certs.d layout, one endpoint for the default upstream. */
static int load_cert_files(struct lzs_config_hosts *h, const char *dir, lzs_error **err)
{
    int rc = one_endpoint(h, err);
    if (rc < 0)
        return rc;
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : lzs_error_set_sys(err, errno, "hosts directory %s", dir);
    rc = scan_certs(&h->endpoints[0], dir, list, n, err);
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

static int read_hosts_file(struct lzs_buf *b, const char *path, lzs_error **err)
{
    lzs_autoerr lzs_error *e = NULL;
    int rc = lzs_file_read_all(path, b, &e);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0 && err)
        *err = lzs_steal_ptr(&e);
    return rc;
}

static int load_dir(struct lzs_config_hosts **out, const char *dir, const char *host,
                    const struct lzs_config_hosts_opts *opts, lzs_error **err)
{
    lzs_autofree char *file = join2(dir, "hosts.toml");
    struct lzs_buf b = LZS_BUF_INIT(LZS_CFG_MAX_FILE);
    int rc = file ? read_hosts_file(&b, file, err) : lzs_error_set(err, ENOMEM, "out of memory");
    if (rc == 0 && b.len > 0) {
        rc = lzs_config_hosts_parse(out, host, dir, file, b.data, b.len, opts, err);
    } else if (rc == 0) {
        lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = NULL;
        rc = hosts_new(&h, err);
        if (rc == 0)
            rc = load_cert_files(h, dir, err);
        if (rc == 0)
            rc = finish(h, host, opts, err);
        if (rc == 0)
            *out = lzs_steal_ptr(&h);
    }
    lzs_buf_dispose(&b);
    if (rc == 0 && !((*out)->dir = strdup(dir))) {
        lzs_config_hosts_free(lzs_steal_ptr(out));
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    return rc;
}

int lzs_config_hosts_load(struct lzs_config_hosts **out, const char *hosts_dir, const char *host,
                          const struct lzs_config_hosts_opts *opts, lzs_error **err)
{
    *out = NULL;
    int rc = check_host(host, err);
    if (rc < 0)
        return rc;
    lzs_autofree char *dir = NULL;
    if (hosts_dir && *hosts_dir && (rc = find_host_dir(&dir, hosts_dir, host, err)) < 0)
        return rc;
    if (dir)
        return load_dir(out, dir, host, opts, err);
    return lzs_config_hosts_parse(out, host, NULL, "", "", 0, opts, err);
}
