/* lazysnap pull REF: have containerd pull an image through its CRI image service, the pull that
 * passes the CRI labels to the snapshotter (`ctr image pull` passes none), and print the image id
 * containerd answers. */
#include "cli.h"
#include "cri/cri.h"

#include <getopt.h>
#include <stdio.h>

#define DEFAULT_ADDRESS "/run/containerd/containerd.sock"
#define DEFAULT_NAMESPACE "k8s.io"

static const char usage[] =
    "usage: lazysnap pull REF [--address SOCK] [--namespace NS] [--timeout SECONDS]\n"
    "  pull REF through containerd's CRI plugin (runtime.v1 ImageService/PullImage) and print\n"
    "  the image id it answers\n"
    "  --address SOCK     containerd's socket (default " DEFAULT_ADDRESS ")\n"
    "  --namespace NS     containerd namespace sent with the call (default " DEFAULT_NAMESPACE ";\n"
    "                     containerd 1.6's CRI plugin works in k8s.io whatever it is sent)\n"
    "  --timeout SECONDS  give up after this long (default 1800)\n";

struct pull_args {
    const char *address, *ns, *ref;
    unsigned timeout_s;
};

static int parse_timeout(const char *s, unsigned *out)
{
    uint64_t v = 0;
    if (lzs_parse_u64(s, &v, NULL) < 0 || v == 0 || v > 86400)
        return lzs_cli_usage_error("pull: bad --timeout '%s' (1..86400 seconds)", s);
    *out = (unsigned)v;
    return 0;
}

/* 0, -1 for --help, or a usage exit code. */
static int parse_pull(int argc, char **argv, struct pull_args *a)
{
    static const struct option opts[] = {{"address", required_argument, NULL, 'a'},
                                         {"namespace", required_argument, NULL, 'n'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    for (int c, rc; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (c == 'a') {
            a->address = optarg;
        } else if (c == 'n') {
            a->ns = optarg;
        } else if (c == 't') {
            if ((rc = parse_timeout(optarg, &a->timeout_s)) != 0)
                return rc;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else {
            return lzs_cli_usage_error("pull: bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return lzs_cli_usage_error("pull: expected REF");
    a->ref = argv[optind];
    return 0;
}

int lzs_cli_pull(int argc, char **argv)
{
    struct pull_args a = {.address = DEFAULT_ADDRESS, .ns = DEFAULT_NAMESPACE};
    int rc = parse_pull(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? LZS_EXIT_OK : rc;
    lzs_autoerr lzs_error *err = NULL;
    lzs_cri *c = NULL;
    lzs_autofree char *image_id = NULL;
    rc = lzs_cri_connect(&c, a.address, a.ns, &err);
    if (rc == 0)
        rc = lzs_cri_pull_image(c, a.ref, a.timeout_s, &image_id, &err);
    lzs_cri_close(c);
    if (rc < 0)
        return lzs_cli_fail(&err);
    printf("%s\n", image_id);
    return lzs_cli_finish_stdout();
}
