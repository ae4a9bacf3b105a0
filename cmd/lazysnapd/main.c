/* lazysnapd: the containerd remote snapshotter daemon. Arguments, configuration, wiring, signals.
 */
#include "base/base.h"
#include "rpc/rpc.h"
#include "snapshot/snapshot.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_ADDRESS "/run/lazysnap/lazysnapd.sock"
#define DEFAULT_ROOT "/var/lib/lazysnap"
#define DEFAULT_CONFIG "/etc/lazysnap/config.toml"

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: lazysnapd [OPTIONS]\n\n"
            "The lazysnap containerd remote snapshotter (proxy plugin 'lazysnap').\n\n"
            "  --address PATH      gRPC unix socket (default " DEFAULT_ADDRESS ")\n"
            "  --root DIR          state directory (default " DEFAULT_ROOT ")\n"
            "  --config FILE       configuration file (default " DEFAULT_CONFIG "; not read yet)\n"
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
    const char *address;
    const char *root;
    const char *config;
};

static int parse_log_option(int opt, const char *value)
{
    const char *name = opt == 'l' ? "level" : "format";
    if (lzs_log_set_option(name, value) < 0)
        return usage_error("invalid --log-%s '%s'", name, value);
    return 0;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"address", required_argument, NULL, 'a'},
        {"root", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1;) {
        int rc;
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
        case 'l':
        case 'f':
            if ((rc = parse_log_option(opt, optarg)) != 0)
                return rc;
            break;
        default:
            return usage_error("unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

/* Serve until SIGTERM or SIGINT (blocked before any thread starts, taken by sigwait). */
static int serve(const struct options *o, const sigset_t *sigs, lzs_error **err)
{
    char *slash = strrchr(o->address, '/');
    if (slash && slash != o->address) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - o->address), o->address);
        if (lzs_mkdir_p(dir, 0711, err) < 0)
            return -1;
    }
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = NULL;
    if (lzs_snapshotter_open(&sn, o->root, err) < 0)
        return -1;
    lzs_rpc_server *srv = NULL;
    if (lzs_rpc_server_start(&srv, o->address, sn, NULL, err) < 0)
        return -1;
    LZS_INFO("serving snapshots of %s on %s", o->root, o->address);
    int sig = 0;
    sigwait(sigs, &sig);
    LZS_INFO("signal %d: shutting down", sig);
    lzs_rpc_server_stop(srv);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {DEFAULT_ADDRESS, DEFAULT_ROOT, DEFAULT_CONFIG};
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
