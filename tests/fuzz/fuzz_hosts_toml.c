/* Fuzz target: a hosts.toml body (containerd registry host config) and a lazysnap config body,
 * both through the tomlplusplus shim. Must never crash; every failure carries a message. */
#include "config/config.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_endpoints(const struct lzs_config_hosts *h)
{
    if (h->n == 0)
        abort(); /* there is always the server entry */
    for (size_t i = 0; i < h->n; i++) {
        const struct lzs_config_endpoint *e = &h->endpoints[i];
        if (!e->url || !e->host || !e->scheme || !e->path || !e->host[0])
            abort();
        if ((e->caps & ~(unsigned)LZS_HOST_CAP_ALL) != 0)
            abort();
        for (size_t j = 0; j < e->nca; j++)
            if (!e->ca[j] || e->ca[j][0] != '/')
                abort(); /* relative paths are resolved against the host directory */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lzs_config_hosts_opts opts = {.plain_http = size & 1, .force_plain_http = size & 2};
    struct lzs_config_hosts *h = NULL;
    lzs_error *err = NULL;
    if (lzs_config_hosts_parse(&h, "docker.io", "/etc/containerd/certs.d/docker.io", "hosts.toml",
                               data, size, &opts, &err) == 0)
        check_endpoints(h);
    else if (!err || !err->msg || strchr(err->msg, '\n'))
        abort(); /* every failure names what was wrong, on one line */
    lzs_config_hosts_free(h);
    lzs_error_free(&err);

    struct lzs_config c;
    if (lzs_config_init(&c, NULL) < 0)
        return 0;
    if (lzs_config_parse(&c, "config.toml", data, size, &err) < 0 &&
        (!err || !err->msg || strchr(err->msg, '\n')))
        abort();
    if (!c.root || !c.address)
        abort();
    lzs_error_free(&err);
    lzs_config_dispose(&c);
    return 0;
}
