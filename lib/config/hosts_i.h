/* config (private): building registry host endpoints. */
#ifndef LZS_CONFIG_HOSTS_I_H
#define LZS_CONFIG_HOSTS_I_H

#include "config/config.h"
#include "config_i.h"

/* Parse a hosts.toml tree into h (whose endpoints must be unset): mirrors, then the server entry,
 * whose host stays NULL when the file names no server. */
int lzs_cfg_hosts_from_tree(struct lzs_config_hosts *h, const struct lzs_toml *root,
                            const char *name, const char *dir, lzs_error **err);
/* Set scheme/host/path/url from a server URL as containerd's parseHostConfig does: "https://"
 * is prepended when the text does not start with "http"; the path is cleaned and "/v2" appended
 * unless it ends so or ep->override_path. v (a member of w->table) locates errors. */
int lzs_cfg_endpoint_set_url(struct lzs_config_endpoint *ep, const char *url,
                             const struct lzs_cfg_where *w, const struct lzs_toml *v,
                             lzs_error **err);
/* The default upstream of registry host into ep (containerd's ConfigureHosts). */
int lzs_cfg_endpoint_set_default(struct lzs_config_endpoint *ep, const char *host,
                                 const struct lzs_config_hosts_opts *opts, lzs_error **err);
void lzs_cfg_endpoint_clients_free(struct lzs_config_endpoint *ep);
void lzs_cfg_endpoint_headers_free(struct lzs_config_endpoint *ep);
void lzs_cfg_endpoint_dispose(struct lzs_config_endpoint *ep);

#endif
