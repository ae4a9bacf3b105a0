/* lazysnapd: the containerd remote snapshotter daemon. Arguments, configuration, wiring, signals.
 */
#include "base/base.h"
#include "config/config.h"
#include "remote/remote.h"
#include "rpc/rpc.h"
#include "snapshot/snapshot.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_ADDRESS LZS_CONFIG_DEFAULT_ADDRESS
#define DEFAULT_ROOT LZS_CONFIG_DEFAULT_ROOT
#define DEFAULT_CONFIG LZS_CONFIG_DEFAULT_PATH

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: lazysnapd [OPTIONS]\n\n"
            "The lazysnap containerd remote snapshotter (proxy plugin 'lazysnap').\n\n"
            "  --address PATH      gRPC unix socket (default: the config's address, "
            "else " DEFAULT_ADDRESS ")\n"
            "  --root DIR          state directory (default: the config's root, else " DEFAULT_ROOT
            ")\n"
            "  --config FILE       configuration file (default " DEFAULT_CONFIG ", if present)\n"
            "  --hosts-dir DIR     containerd registry hosts directory (hosts.toml; default: the\n"
            "                      config's hosts_dir)\n"
            "  --log-level LEVEL   error, warn, info, debug or trace (default info)\n"
            "  --log-format FMT    text or json (default text)\n"
            "  -h, --help          show this help\n"
            "  -V, --version       print the version\n");
}

static int usage_error(const char *fmt, ...) LZS_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("lazysnapd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'lazysnapd --help')\n", stderr);
    return 2;
}

struct options {
    const char *address, *root, *config, *hosts_dir, *log_level, *log_format;
};

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"address", required_argument, NULL, 'a'},
        {"root", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"hosts-dir", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1;) {
        switch (opt) {
        case 'h':
            print_help(stdout);
            return 0;
        case 'V':
            printf("lazysnapd %s\n", lzs_version());
            return 0;
        case 'a':
            o->address = optarg;
            break;
        case 'r':
            o->root = optarg;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'H':
            o->hosts_dir = optarg;
            break;
        case 'l':
        case 'f':
            if (lzs_log_set_option(opt == 'l' ? "level" : "format", optarg) < 0)
                return usage_error("invalid --log-%s '%s'", opt == 'l' ? "level" : "format",
                                   optarg);
            *(opt == 'l' ? &o->log_level : &o->log_format) = optarg;
            break;
        default:
            return usage_error("unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

/* The config file (optional at the default path), the command line over it. */
static int load_config(struct options *o, struct lzs_config *cfg, lzs_error **err)
{
    bool given = o->config != NULL;
    int rc = lzs_config_init(cfg, err);
    if (rc == 0)
        rc = lzs_config_load(cfg, given ? o->config : DEFAULT_CONFIG,
                             given ? 0 : LZS_CONFIG_OPTIONAL, err);
    if (rc < 0)
        return rc;
    lzs_log_set_level(cfg->log_level);
    lzs_log_set_format(cfg->log_format);
    if (o->log_level)
        lzs_log_set_option("level", o->log_level);
    if (o->log_format)
        lzs_log_set_option("format", o->log_format);
    if (!o->address)
        o->address = cfg->address ? cfg->address : DEFAULT_ADDRESS;
    if (!o->root)
        o->root = cfg->root ? cfg->root : DEFAULT_ROOT;
    if (o->hosts_dir) {
        char *h = strdup(o->hosts_dir);
        if (!h)
            return lzs_error_set(err, ENOMEM, "out of memory");
        free(cfg->hosts_dir);
        cfg->hosts_dir = h;
    }
    return 0;
}

static int make_socket_dir(const char *address, lzs_error **err)
{
    const char *slash = strrchr(address, '/');
    if (!slash || slash == address)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - address), address);
    return lzs_mkdir_p(dir, 0711, err);
}

/* Remote snapshots left by the previous run, mounted again before containerd asks for them. */
static int restore(lzs_snapshotter *sn, lzs_error **err)
{
    size_t mounted = 0, failed = 0;
    int rc = lzs_snapshotter_restore(sn, &mounted, &failed, err);
    if (rc == 0 && mounted + failed)
        LZS_INFO("remote snapshots mounted again: %zu, failed (tried again when used): %zu",
                 mounted, failed);
    return rc;
}

static void wait_signal(const sigset_t *sigs)
{
    int sig = 0;
    sigwait(sigs, &sig);
    LZS_INFO("signal %d: shutting down", sig);
}

/* Serve with cfg (loaded; o's address and root may point into it) until SIGTERM or SIGINT. */
static int serve_with(const struct options *o, const struct lzs_config *cfg, const sigset_t *sigs,
                      lzs_error **err)
{
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = NULL;
    lzs_cleanup(lzs_remote_freep) lzs_remote *remote = NULL;
    int rc = make_socket_dir(o->address, err);
    if (rc == 0)
        rc = lzs_snapshotter_open(&sn, o->root, err);
    if (rc == 0)
        rc = lzs_remote_new(&remote, o->root, cfg, err);
    if (rc < 0)
        return rc;
    struct lzs_snap_remote hooks;
    lzs_remote_hooks(remote, &hooks);
    lzs_snapshotter_set_remote(sn, &hooks);
    lzs_rpc_server *srv = NULL;
    if ((rc = restore(sn, err)) < 0 ||
        (rc = lzs_rpc_server_start(&srv, o->address, sn, NULL, err)) < 0)
        return rc;
    LZS_INFO("serving snapshots of %s on %s", o->root, o->address);
    wait_signal(sigs);
    lzs_rpc_server_stop(srv);
    struct lzs_remote_stats st;
    lzs_remote_stats(remote, &st);
    LZS_INFO("unmounting %zu remote layers; %" PRIu64 " bytes fetched from registries in %" PRIu64
             " requests since the start",
             st.mounted, st.bytes_fetched, st.requests);
    return 0;
}

/* Serve until SIGTERM or SIGINT (blocked before any thread starts, taken by sigwait). */
static int serve(struct options *o, const sigset_t *sigs, lzs_error **err)
{
    struct lzs_config cfg = {0};
    int rc = load_config(o, &cfg, err);
    if (rc == 0)
        rc = serve_with(o, &cfg, sigs, err);
    lzs_config_dispose(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    lzs_autoerr lzs_error *err = NULL;
    if (serve(&o, &sigs, &err) < 0) {
        fprintf(stderr, "lazysnapd: %s\n", lzs_error_msg(err));
        return 1;
    }
    return 0;
}
