/* Options and setup shared by the verbs that talk to a registry (or read an OCI layout):
 * --config, --hosts-dir, --plain-http, --platform, --index-dir, --timeout, --retries. */
#ifndef LZS_CLI_REMOTE_H
#define LZS_CLI_REMOTE_H

#include "cli.h"
#include "config/config.h"
#include "image/image.h"

#include <getopt.h>

enum {
    LZS_OPT_CONFIG = 0x200,
    LZS_OPT_HOSTS_DIR,
    LZS_OPT_PLAIN_HTTP,
    LZS_OPT_PLATFORM,
    LZS_OPT_INDEX_DIR,
    LZS_OPT_TIMEOUT,
    LZS_OPT_RETRIES,
};

#define LZS_CLI_REMOTE_LONGOPTS                                    \
    {"config", required_argument, NULL, LZS_OPT_CONFIG},           \
        {"hosts-dir", required_argument, NULL, LZS_OPT_HOSTS_DIR}, \
        {"plain-http", no_argument, NULL, LZS_OPT_PLAIN_HTTP},     \
        {"platform", required_argument, NULL, LZS_OPT_PLATFORM},   \
        {"index-dir", required_argument, NULL, LZS_OPT_INDEX_DIR}, \
        {"timeout", required_argument, NULL, LZS_OPT_TIMEOUT},     \
    {                                                              \
        "retries", required_argument, NULL, LZS_OPT_RETRIES        \
    }

#define LZS_CLI_REMOTE_USAGE                                                                   \
    "  --config FILE      lazysnap config (default " LZS_CONFIG_DEFAULT_PATH ", if present)\n" \
    "  --hosts-dir DIR    containerd registry hosts directory (hosts.toml)\n"                  \
    "  --plain-http       talk http to registries without a hosts.toml\n"                      \
    "  --platform P       os/arch[/variant] of the image to use (default: this host's)\n"      \
    "  --index-dir DIR    local index directory (DIR/sha256/HEX.index)\n"                      \
    "  --timeout DUR      deadline of one registry request, retries included (e.g. 30s)\n"     \
    "  --retries N        retries of a failed registry request\n"

struct lzs_cli_remote {
    const char *config_path, *hosts_dir, *platform, *index_dir, *timeout;
    bool plain_http;
    long retries; /* -1: from the config */
    struct lzs_config cfg;
    lzs_registry *reg;
    lzs_repo *repo;
    lzs_image *img;
};

void lzs_cli_remote_init(struct lzs_cli_remote *r);
void lzs_cli_remote_dispose(struct lzs_cli_remote *r);
/* Take option c (a LZS_OPT_* value) with its argument: 0, LZS_EXIT_USAGE (message printed), or
 * -1 when c is not one of ours. */
int lzs_cli_remote_option(struct lzs_cli_remote *r, int c, const char *arg);
/* Load the config, then open the image: a registry reference, or with layout an OCI layout
 * "DIR[:TAG]". */
int lzs_cli_remote_open(struct lzs_cli_remote *r, const char *target, bool layout, lzs_error **err);
/* Open the image of ref, find its indexes and make the merged view of its layers. */
int lzs_cli_remote_view(struct lzs_cli_remote *r, const char *ref, lzs_image_view **out,
                        lzs_error **err);
/* The local index directory: --index-dir, else the config's [index] local_dir, else NULL. */
const char *lzs_cli_remote_index_dir(const struct lzs_cli_remote *r);
/* {"bytes_fetched":N,"requests":M} on stderr. */
void lzs_cli_remote_print_stats(const struct lzs_cli_remote *r);

#endif
