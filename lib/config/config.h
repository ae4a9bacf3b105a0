/* config: lazysnap's configuration file and containerd's registry host directories.
 *
 * Two readers, both TOML (tomlplusplus, behind the one C++ file of this module):
 *
 * - lzs_config_*: /etc/lazysnap/config.toml, the daemon's and the CLI's settings. Every key is
 *   optional; an unknown key or a value of the wrong type is an error naming the file, the
 *   line:column and the key, so a typo never passes silently. docs/configuration.md lists them.
 *
 * - lzs_config_hosts_*: a registry host's endpoints from a containerd hosts directory
 *   (`--hosts-dir`, containerd's `config_path`, usually /etc/containerd/certs.d), read as
 *   containerd 1.6+ reads them (remotes/docker/config): DIR/H/hosts.toml for registry host H,
 *   the mirrors of its `[host."URL"]` tables first, in file order, then the upstream `server`.
 *
 * Errors: one line, lower case, "FILE:LINE:COL: key KEY: what" (EINVAL), ENOENT/EACCES/... from
 * the file system, ENOMEM. */
#ifndef LZS_CONFIG_H
#define LZS_CONFIG_H

#include "base/base.h"

/* ---- lazysnap's config file ---------------------------------------------------------------- */

#define LZS_CONFIG_DEFAULT_PATH "/etc/lazysnap/config.toml"
#define LZS_CONFIG_DEFAULT_ROOT "/var/lib/lazysnap"
#define LZS_CONFIG_DEFAULT_ADDRESS "/run/lazysnap/lazysnapd.sock"
#define LZS_CONFIG_DEFAULT_HOSTS_DIR "/etc/containerd/certs.d"
#define LZS_CONFIG_DEFAULT_CACHE_MAX_SIZE (20ull << 30)  /* 20 GiB */
#define LZS_CONFIG_DEFAULT_BACKGROUND_RATE (50ull << 20) /* 50 MiB/s */
#define LZS_CONFIG_DEFAULT_TIMEOUT_MS 30000ull           /* 30 s */
#define LZS_CONFIG_DEFAULT_RETRIES 3u
#define LZS_CONFIG_DEFAULT_MIN_LAYER_SIZE (10ull << 20) /* 10 MiB */
#define LZS_CONFIG_MAX_RETRIES 100u

/* Every string is owned by the struct (NULL only where noted). Keys of the file in comments. */
struct lzs_config {
    char *root;                     /* root: state directory; LZS_CONFIG_DEFAULT_ROOT */
    char *address;                  /* address: the daemon's unix socket */
    char *hosts_dir;                /* hosts_dir: containerd hosts directory; "" = none */
    enum lzs_log_level log_level;   /* log_level: error|warn|info|debug|trace; info */
    enum lzs_log_format log_format; /* log_format: text|json; text */
    struct {
        uint64_t max_size; /* [cache] max_size: bytes, 0 = no limit; 20 GiB */
    } cache;
    struct {
        bool prefetch;            /* [fetch] prefetch: fetch listed files first; true */
        bool background;          /* background: fetch whole layers in the background; true */
        uint64_t background_rate; /* background_rate: bytes/s, 0 = unlimited; 50 MiB */
        uint64_t timeout_ms;      /* timeout: per registry request; 30 s */
        unsigned retries;         /* retries: per registry request, 0..100; 3 */
    } fetch;
    struct {
        char *local_dir;         /* [index] local_dir: index directory; NULL = none */
        uint64_t min_layer_size; /* min_layer_size: smaller layers are pulled; 10 MiB */
    } index;
};

/* Fill c with the defaults. -ENOMEM only. */
int lzs_config_init(struct lzs_config *c, lzs_error **err);
void lzs_config_dispose(struct lzs_config *c);

enum lzs_config_load_flags {
    LZS_CONFIG_OPTIONAL = 1u << 0, /* a missing file leaves c unchanged (the default path) */
};

/* Read the file at path over c (keys present replace c's values). c is left unchanged on
 * failure. Without LZS_CONFIG_OPTIONAL a missing file is -ENOENT. */
int lzs_config_load(struct lzs_config *c, const char *path, unsigned flags, lzs_error **err);
/* Same for a document in memory; name is used in messages. data need not be NUL-terminated. */
int lzs_config_parse(struct lzs_config *c, const char *name, const void *data, size_t len,
                     lzs_error **err);

/* "500ms", "30s", "5m", "1h", or a sequence of them ("1h30m") -> milliseconds. No fractions,
 * no sign, no bare numbers. */
int lzs_config_parse_duration(const char *s, uint64_t *ms, lzs_error **err);

/* ---- containerd registry hosts (hosts.toml) ------------------------------------------------ */

/* containerd's docker.HostCapabilities values. */
enum lzs_config_host_cap {
    LZS_HOST_CAP_PULL = 1u << 0,
    LZS_HOST_CAP_RESOLVE = 1u << 1,
    LZS_HOST_CAP_PUSH = 1u << 2,
    LZS_HOST_CAP_ALL = 7u,
};

struct lzs_config_host_header {
    char *name;    /* as written in the file */
    char **values; /* NULL-terminated, nvalues of them */
    size_t nvalues;
};

struct lzs_config_host_client {
    char *cert; /* absolute path of a PEM certificate */
    char *key;  /* absolute path of its key, or NULL when the key is in the cert file */
};

/* One place to talk to. url = scheme "://" host path, e.g. "https://registry-1.docker.io/v2";
 * API paths are appended to it ("/v2" is the path unless override_path). */
struct lzs_config_endpoint {
    char *url;
    char *scheme;     /* "https" or "http" */
    char *host;       /* "registry-1.docker.io", "127.0.0.1:5000", "[::1]:5000" */
    char *path;       /* "/v2", "/prefix/v2", or with override_path the path as written */
    unsigned caps;    /* enum lzs_config_host_cap bits */
    bool plain_http;  /* scheme is http */
    bool skip_verify; /* skip_verify = true: do not verify the server's certificate */
    bool skip_verify_set;
    bool override_path;
    char **ca; /* CA certificate files (absolute), NULL-terminated; NULL when none */
    size_t nca;
    struct lzs_config_host_client *clients; /* nclients of them */
    size_t nclients;
    struct lzs_config_host_header *headers; /* in file order */
    size_t nheaders;
};

/* The endpoints of one registry host, in the order to try them: mirrors, then the server. */
struct lzs_config_hosts {
    struct lzs_config_endpoint *endpoints;
    size_t n;
    char *dir; /* the host directory that was read, or NULL (defaults) */
};

struct lzs_config_hosts_opts {
    /* The default endpoint of "localhost", "127.0.0.1" and "::1" (any port) is http. */
    bool plain_http;
    /* The default endpoint of every host is http (ctr --plain-http). Endpoints written in a
     * hosts.toml keep their own scheme either way. */
    bool force_plain_http;
};

/* Endpoints of registry host (as in image references: "docker.io", "127.0.0.1:5000", "[::1]:5000")
 * from hosts_dir (NULL or "" for none): the first existing of DIR/host_port_ (for host:port),
 * DIR/host, DIR/_default; its hosts.toml, or when that is missing or empty its certificate files
 * (*.crt CAs, *.cert client certificates with *.key keys). Without a directory: one default
 * endpoint, https://H/v2 (docker.io: https://registry-1.docker.io/v2). opts may be NULL. */
int lzs_config_hosts_load(struct lzs_config_hosts **out, const char *hosts_dir, const char *host,
                          const struct lzs_config_hosts_opts *opts, lzs_error **err);
/* Same from a hosts.toml body in memory: dir resolves relative paths (NULL: left relative), name
 * is used in messages. An empty body gives the default endpoint. */
int lzs_config_hosts_parse(struct lzs_config_hosts **out, const char *host, const char *dir,
                           const char *name, const void *data, size_t len,
                           const struct lzs_config_hosts_opts *opts, lzs_error **err);
void lzs_config_hosts_free(struct lzs_config_hosts *h);
LZS_DEFINE_CLEANUP(struct lzs_config_hosts, lzs_config_hosts_free)

/* true for "localhost", "127.0.0.1", "::1", with or without a port ("[::1]:5000"). */
bool lzs_config_host_is_localhost(const char *host);

#endif
