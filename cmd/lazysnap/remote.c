/* Registry and image setup shared by the remote verbs. */
#include "remote.h"

#include <stdio.h>
#include <string.h>

void lzs_cli_remote_init(struct lzs_cli_remote *r)
{
    *r = (struct lzs_cli_remote){.retries = -1};
}

void lzs_cli_remote_dispose(struct lzs_cli_remote *r)
{
    lzs_image_free(r->img);
    lzs_repo_unref(r->repo);
    lzs_registry_free(r->reg);
    lzs_config_dispose(&r->cfg);
}

int lzs_cli_remote_option(struct lzs_cli_remote *r, int c, const char *arg)
{
    lzs_autoerr lzs_error *err = NULL;
    uint64_t v;
    switch (c) {
    case LZS_OPT_CONFIG:
        r->config_path = arg;
        return 0;
    case LZS_OPT_HOSTS_DIR:
        r->hosts_dir = arg;
        return 0;
    case LZS_OPT_PLAIN_HTTP:
        r->plain_http = true;
        return 0;
    case LZS_OPT_PLATFORM: {
        struct lzs_oci_platform p;
        if (lzs_oci_platform_parse(&p, arg, &err) < 0)
            return lzs_cli_usage_error("--platform: %s", err->msg);
        r->platform = arg;
        return 0;
    }
    case LZS_OPT_INDEX_DIR:
        r->index_dir = arg;
        return 0;
    case LZS_OPT_TIMEOUT:
        if (lzs_config_parse_duration(arg, &v, &err) < 0)
            return lzs_cli_usage_error("--timeout: %s", err->msg);
        r->timeout = arg;
        return 0;
    case LZS_OPT_RETRIES:
        if (lzs_parse_u64(arg, &v, &err) < 0 || v > LZS_CONFIG_MAX_RETRIES)
            return lzs_cli_usage_error("--retries: %s", err ? err->msg : "at most 100 retries");
        r->retries = (long)v;
        return 0;
    default:
        return -1;
    }
}

/* The config file, then the command line over it. */
static int load_config(struct lzs_cli_remote *r, lzs_error **err)
{
    int rc = lzs_config_init(&r->cfg, err);
    if (rc == 0)
        rc = lzs_config_load(&r->cfg, r->config_path ? r->config_path : LZS_CONFIG_DEFAULT_PATH,
                             r->config_path ? 0 : LZS_CONFIG_OPTIONAL, err);
    if (rc == 0 && r->timeout)
        rc = lzs_config_parse_duration(r->timeout, &r->cfg.fetch.timeout_ms, err);
    if (r->retries >= 0)
        r->cfg.fetch.retries = (unsigned)r->retries;
    return rc;
}

static int open_registry(struct lzs_cli_remote *r, lzs_error **err)
{
    struct lzs_registry_opts o;
    lzs_registry_opts_from_config(&o, &r->cfg);
    if (r->hosts_dir) /* --hosts-dir over the config's */
        o.hosts_dir = *r->hosts_dir ? r->hosts_dir : NULL;
    o.plain_http = r->plain_http;
    return lzs_registry_new(&r->reg, &o, err);
}

int lzs_cli_remote_open(struct lzs_cli_remote *r, const char *target, bool layout, lzs_error **err)
{
    struct lzs_oci_platform p;
    struct lzs_image_open_opts o = {.platform = r->platform ? &p : NULL};
    int rc = load_config(r, err);
    if (rc == 0 && r->platform)
        rc = lzs_oci_platform_parse(&p, r->platform, err);
    if (rc == 0 && layout)
        return lzs_image_open_layout(&r->img, target, &o, err);
    struct lzs_oci_ref ref;
    if (rc == 0)
        rc = lzs_oci_ref_parse(&ref, target, err);
    if (rc == 0)
        rc = open_registry(r, err);
    if (rc == 0)
        rc = lzs_repo_open(&r->repo, r->reg, &ref, err);
    if (rc == 0)
        rc = lzs_image_open(&r->img, r->repo, &ref, &o, err);
    return rc;
}

int lzs_cli_remote_view(struct lzs_cli_remote *r, const char *ref, lzs_image_view **out,
                        lzs_error **err)
{
    int rc = lzs_cli_remote_open(r, ref, false, err);
    if (rc == 0)
        rc = lzs_image_find_indexes(r->img, lzs_cli_remote_index_dir(r), err);
    if (rc == 0)
        rc = lzs_image_view_new(out, r->img, err);
    return rc;
}

const char *lzs_cli_remote_index_dir(const struct lzs_cli_remote *r)
{
    if (r->index_dir)
        return r->index_dir;
    return r->cfg.index.local_dir;
}

void lzs_cli_remote_print_stats(const struct lzs_cli_remote *r)
{
    struct lzs_registry_stats s = {0};
    if (r->reg)
        lzs_registry_stats(r->reg, &s);
    fprintf(stderr, "{\"bytes_fetched\":%" PRIu64 ",\"requests\":%" PRIu64 "}\n", s.bytes_fetched,
            s.requests);
}
