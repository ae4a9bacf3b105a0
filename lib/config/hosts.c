/* config: one hosts.toml body -> endpoints, as containerd's remotes/docker/config parseHostsFile
 * and parseHostConfig read it. Keys containerd does not know are ignored as containerd ignores
 * them (files written for newer containerd keep working); known keys are type-checked. */
#include "config/config.h"
#include "config_i.h"
#include "hosts_i.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int parse_caps(struct lzs_config_endpoint *ep, const struct lzs_cfg_where *w,
                      const struct lzs_toml *v, lzs_error **err)
{
    if (v->type != LZS_TOML_ARRAY)
        return lzs_cfg_type_error(err, w, v, "an array of strings");
    ep->caps = v->n == 0 ? LZS_HOST_CAP_ALL : 0; /* an empty list means all, as containerd */
    for (size_t i = 0; i < v->n; i++) {
        const struct lzs_toml *e = &v->items[i];
        if (e->type != LZS_TOML_STRING)
            return lzs_cfg_error(err, EINVAL, w, v,
                                 "expected an array of strings, element %zu is %s", i,
                                 lzs_cfg_type_name(e->type));
        if (strcasecmp(e->str, "pull") == 0)
            ep->caps |= LZS_HOST_CAP_PULL;
        else if (strcasecmp(e->str, "resolve") == 0)
            ep->caps |= LZS_HOST_CAP_RESOLVE;
        else if (strcasecmp(e->str, "push") == 0)
            ep->caps |= LZS_HOST_CAP_PUSH;
        else
            return lzs_cfg_error(err, EINVAL, w, v,
                                 "unknown capability \"%.64s\" (pull, resolve, push)", e->str);
    }
    return 0;
}

/* Relative paths are relative to the host directory (containerd's makeAbsPath). */
static int abs_path(char **out, const char *dir, const char *p, lzs_error **err)
{
    char *r = lzs_cfg_path_join(dir, p);
    if (!r)
        return lzs_error_set(err, ENOMEM, "out of memory");
    free(*out);
    *out = r;
    return 0;
}

static int parse_ca(struct lzs_config_endpoint *ep, const struct lzs_cfg_where *w,
                    const struct lzs_toml *v, const char *dir, lzs_error **err)
{
    lzs_cfg_strv_free(ep->ca);
    ep->ca = NULL;
    int rc = lzs_cfg_get_strings(w, v, &ep->ca, &ep->nca, err);
    for (size_t i = 0; rc == 0 && i < ep->nca; i++)
        rc = abs_path(&ep->ca[i], dir, ep->ca[i], err);
    return rc;
}

/* One client element: "file.pem" (cert and key in one file) or ["cert", "key"]. */
static int parse_client_one(struct lzs_config_host_client *c, const struct lzs_cfg_where *w,
                            const struct lzs_toml *v, const struct lzs_toml *e, const char *dir,
                            lzs_error **err)
{
    if (e->type == LZS_TOML_STRING) {
        if (strlen(e->str) != e->len)
            return lzs_cfg_error(err, EINVAL, w, v, "string contains a nul character");
        return abs_path(&c->cert, dir, e->str, err);
    }
    if (e->type != LZS_TOML_ARRAY || e->n != 2 || e->items[0].type != LZS_TOML_STRING ||
        e->items[1].type != LZS_TOML_STRING)
        return lzs_cfg_error(
            err, EINVAL, w, v, "expected a file, [cert, key] or a list of them, got %s",
            e->type == LZS_TOML_ARRAY ? "a wrong pair" : lzs_cfg_type_name(e->type));
    const struct lzs_toml *cert = &e->items[0], *key = &e->items[1];
    if (strlen(cert->str) != cert->len || strlen(key->str) != key->len)
        return lzs_cfg_error(err, EINVAL, w, v, "string contains a nul character");
    int rc = abs_path(&c->cert, dir, cert->str, err);
    /* "" means the key is in the certificate file (containerd's docs write ["x.pem", ""]) */
    if (rc == 0 && key->len > 0)
        rc = abs_path(&c->key, dir, key->str, err);
    return rc;
}

static int parse_client(struct lzs_config_endpoint *ep, const struct lzs_cfg_where *w,
                        const struct lzs_toml *v, const char *dir, lzs_error **err)
{
    bool list = v->type == LZS_TOML_ARRAY;
    if (!list && v->type != LZS_TOML_STRING)
        return lzs_cfg_type_error(err, w, v, "a file, [cert, key] or a list of them");
    size_t n = list ? v->n : 1;
    lzs_cfg_endpoint_clients_free(ep);
    ep->clients = lzs_calloc_array(n ? n : 1, sizeof(*ep->clients));
    if (!ep->clients)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = parse_client_one(&ep->clients[i], w, v, list ? &v->items[i] : v, dir, err);
        ep->nclients = i + 1;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool header_text_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return false;
    return true;
}

static int parse_header_one(struct lzs_config_host_header *h, const struct lzs_cfg_where *w,
                            const struct lzs_toml *v, lzs_error **err)
{
    if (!*v->key || !header_text_ok(v->key))
        return lzs_cfg_error(err, EINVAL, w, v, "invalid header name");
    if (!(h->name = strdup(v->key)))
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = lzs_cfg_get_strings(w, v, &h->values, &h->nvalues, err);
    for (size_t i = 0; rc == 0 && i < h->nvalues; i++)
        if (!header_text_ok(h->values[i]))
            return lzs_cfg_error(err, EINVAL, w, v, "header value contains a control character");
    return rc;
}

static int parse_headers(struct lzs_config_endpoint *ep, const struct lzs_cfg_where *w,
                         const struct lzs_toml *v, lzs_error **err)
{
    if (v->type != LZS_TOML_TABLE)
        return lzs_cfg_type_error(err, w, v, "a table");
    char table[512];
    struct lzs_cfg_where hw = {w->file, lzs_cfg_key_path(table, sizeof(table), w->table, v->key)};
    lzs_cfg_endpoint_headers_free(ep);
    ep->headers = lzs_calloc_array(v->n ? v->n : 1, sizeof(*ep->headers));
    if (!ep->headers)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        int rc = parse_header_one(&ep->headers[i], &hw, &v->items[i], err);
        ep->nheaders = i + 1;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The keys of containerd's hostFileConfig, read from table t into ep. */
static int parse_host_keys(struct lzs_config_endpoint *ep, const struct lzs_cfg_where *w,
                           const struct lzs_toml *t, const char *dir, lzs_error **err)
{
    int rc = 0;
    ep->caps = LZS_HOST_CAP_ALL;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        const struct lzs_toml *v = &t->items[i];
        if (strcmp(v->key, "capabilities") == 0)
            rc = parse_caps(ep, w, v, err);
        else if (strcmp(v->key, "ca") == 0)
            rc = parse_ca(ep, w, v, dir, err);
        else if (strcmp(v->key, "client") == 0)
            rc = parse_client(ep, w, v, dir, err);
        else if (strcmp(v->key, "skip_verify") == 0) {
            rc = lzs_cfg_get_bool(w, v, &ep->skip_verify, err);
            ep->skip_verify_set = rc == 0;
        } else if (strcmp(v->key, "header") == 0)
            rc = parse_headers(ep, w, v, err);
        else if (strcmp(v->key, "override_path") == 0)
            rc = lzs_cfg_get_bool(w, v, &ep->override_path, err);
    }
    return rc;
}

/* [host."URL"] tables, in file order (the tree keeps source order, as containerd's
 * getSortedHosts recovers it from line numbers). */
static int parse_mirrors(struct lzs_config_hosts *h, const struct lzs_cfg_where *w,
                         const struct lzs_toml *hosts, const char *dir, lzs_error **err)
{
    if (hosts->type != LZS_TOML_TABLE)
        return lzs_cfg_type_error(err, w, hosts, "a table of [host.\"URL\"] tables");
    struct lzs_cfg_where hw = {w->file, "host"};
    for (size_t i = 0; i < hosts->n; i++) {
        const struct lzs_toml *t = &hosts->items[i];
        if (t->type != LZS_TOML_TABLE)
            return lzs_cfg_type_error(err, &hw, t, "a table");
        char table[512];
        struct lzs_cfg_where tw = {w->file, lzs_cfg_key_path(table, sizeof(table), "host", t->key)};
        struct lzs_config_endpoint *ep = &h->endpoints[h->n++];
        int rc = parse_host_keys(ep, &tw, t, dir, err);
        if (rc == 0)
            rc = lzs_cfg_endpoint_set_url(ep, t->key, &hw, t, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lzs_cfg_hosts_from_tree(struct lzs_config_hosts *h, const struct lzs_toml *root,
                            const char *name, const char *dir, lzs_error **err)
{
    struct lzs_cfg_where w = {name, ""};
    const struct lzs_toml *hosts = lzs_cfg_find(root, "host");
    const struct lzs_toml *server = lzs_cfg_find(root, "server");
    size_t n = 1 + (hosts && hosts->type == LZS_TOML_TABLE ? hosts->n : 0);
    h->endpoints = lzs_calloc_array(n, sizeof(*h->endpoints));
    if (!h->endpoints)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = hosts ? parse_mirrors(h, &w, hosts, dir, err) : 0;
    if (rc < 0)
        return rc;
    struct lzs_config_endpoint *ep = &h->endpoints[h->n++];
    lzs_autofree char *url = NULL;
    if (server && (rc = lzs_cfg_get_string(&w, server, &url, err)) < 0)
        return rc;
    if ((rc = parse_host_keys(ep, &w, root, dir, err)) < 0)
        return rc;
    /* no server (or ""): the default upstream is filled in by the caller, as containerd does */
    return url && *url ? lzs_cfg_endpoint_set_url(ep, url, &w, server, err) : 0;
}
