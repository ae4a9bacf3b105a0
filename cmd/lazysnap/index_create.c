/* lazysnap index create REF | --oci-layout DIR[:TAG]: index every layer of an image, streaming
 * each blob once, and publish the indexes as one artifact (registry, layout) and/or into a
 * local index directory. */
#include "remote.h"

#include <stdio.h>
#include <string.h>

struct create_args {
    struct lzs_cli_remote remote;
    const char *target;
    const char *out; /* local index directory to write */
    bool layout, push, no_push;
    uint64_t min_size, span;
    bool min_size_set;
};

/* What happened to one layer. */
struct layer_result {
    struct lzs_buf stored;
    const char *skipped; /* reason, or NULL when built */
    double seconds;
    struct lzs_layer_build_result res;
};

struct progress {
    size_t i, n;
    uint64_t total;
    bool tty;
};

static void show_progress(void *data, uint64_t in, uint64_t out)
{
    const struct progress *p = data;
    char a[32], b[32];
    if (p->tty && p->total)
        fprintf(stderr, "\r\033[K  layer %zu/%zu: %s of %s (%u%%)", p->i + 1, p->n,
                lzs_format_size(in, a, 32), lzs_format_size(p->total, b, 32),
                (unsigned)(in * 100 / p->total));
}

static int build_layer(struct create_args *a, size_t i, struct layer_result *lr, lzs_error **err)
{
    lzs_image *img = a->remote.img;
    const struct lzs_image_layer *l = lzs_image_layer(img, i);
    if (l->compression == LZS_OCI_COMP_UNKNOWN) {
        lr->skipped = "media type not supported";
        return 0;
    }
    if (l->desc.size < a->min_size) {
        lr->skipped = "below --min-layer-size";
        return 0;
    }
    struct progress p = {i, lzs_image_layer_count(img), l->desc.size, isatty(2) == 1};
    struct lzs_layer_build_opts o = {
        .span = a->span, .progress = show_progress, .progress_data = &p};
    double t0 = lzs_cli_now_seconds();
    int rc = lzs_image_build_index(img, i, &o, &lr->stored, &lr->res, err);
    if (p.tty)
        fputs("\r\033[K", stderr);
    lr->seconds = lzs_cli_now_seconds() - t0;
    return rc;
}

static void print_table(struct create_args *a, const struct layer_result *lr)
{
    lzs_image *img = a->remote.img;
    printf("%-4s %-20s %-5s %10s %10s %8s  %s\n", "#", "LAYER", "COMP", "SIZE", "INDEX", "TIME",
           "STATUS");
    for (size_t i = 0; i < lzs_image_layer_count(img); i++) {
        const struct lzs_image_layer *l = lzs_image_layer(img, i);
        char ds[LZS_DIGEST_STR_MAX], s1[32], s2[32];
        static const char *const comps[] = {"tar", "gzip", "zstd"};
        const char *comp = l->compression >= 0 ? comps[l->compression] : "?";
        lzs_digest_format(&l->desc.digest, ds);
        if (lr[i].skipped)
            printf("%-4zu %-20.19s %-5s %10s %10s %8s  skipped: %s\n", i, ds, comp,
                   lzs_format_size(l->desc.size, s1, 32), "-", "-", lr[i].skipped);
        else
            printf("%-4zu %-20.19s %-5s %10s %10s %7.2fs  indexed: %" PRIu64 " entries, %u "
                   "checkpoints\n",
                   i, ds, comp, lzs_format_size(l->desc.size, s1, 32),
                   lzs_format_size(lr[i].stored.len, s2, 32), lr[i].seconds, lr[i].res.entries,
                   lr[i].res.checkpoints);
    }
}

static int write_local(struct create_args *a, const struct layer_result *lr, lzs_error **err)
{
    lzs_image *img = a->remote.img;
    for (size_t i = 0; i < lzs_image_layer_count(img); i++) {
        if (lr[i].skipped)
            continue;
        int rc = lzs_image_write_local(a->out, &lzs_image_layer(img, i)->desc.digest,
                                       lr[i].stored.data, lr[i].stored.len, err);
        if (rc < 0)
            return rc;
    }
    printf("indexes written to %s\n", a->out);
    return 0;
}

static int publish(struct create_args *a, const struct layer_result *lr, lzs_error **err)
{
    lzs_image *img = a->remote.img;
    size_t n = 0, count = lzs_image_layer_count(img);
    lzs_autofree struct lzs_image_built *b = lzs_calloc_array(count ? count : 1, sizeof(*b));
    if (!b)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++)
        if (!lr[i].skipped)
            b[n++] = (struct lzs_image_built){i, lr[i].stored.data, lr[i].stored.len};
    if (n == 0) {
        printf("no layer indexed: nothing to publish\n");
        return 0;
    }
    struct lzs_image_publish_result res;
    int rc = lzs_image_publish(img, b, n, &res, err);
    if (rc < 0)
        return rc;
    char ds[LZS_DIGEST_STR_MAX], sz[32];
    printf("index artifact %s (%zu layer indexes, %s) %s %s%s\n",
           lzs_digest_format(&res.artifact, ds), n, lzs_format_size(res.pushed_bytes, sz, 32),
           a->layout ? "written into" : "pushed to", lzs_image_name(img),
           res.tag_updated ? " (referrers tag updated)" : "");
    return 0;
}

static int create(struct create_args *a, lzs_error **err)
{
    int rc = lzs_cli_remote_open(&a->remote, a->target, a->layout, err);
    if (rc < 0)
        return rc;
    if (!a->min_size_set)
        a->min_size = a->remote.cfg.index.min_layer_size;
    size_t n = lzs_image_layer_count(a->remote.img);
    lzs_autofree struct layer_result *lr = lzs_calloc_array(n ? n : 1, sizeof(*lr));
    if (!lr)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        lzs_buf_init(&lr[i].stored, LZS_IMAGE_INDEX_MAX);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = build_layer(a, i, &lr[i], err);
    if (rc == 0)
        print_table(a, lr);
    if (rc == 0 && a->out)
        rc = write_local(a, lr, err);
    if (rc == 0 && (a->push || (!a->out && !a->no_push)))
        rc = publish(a, lr, err);
    for (size_t i = 0; i < n; i++)
        lzs_buf_dispose(&lr[i].stored);
    return rc;
}

static int usage(void)
{
    printf("usage: lazysnap index create REF [--push] [--out DIR] [--min-layer-size BYTES]\n"
           "       lazysnap index create --oci-layout DIR[:TAG] [--out DIR]\n\n"
           "  --push                publish to the registry (the default without --out)\n"
           "  --no-push             do not publish (with --out: only the local directory)\n"
           "  --out DIR             also write the indexes to local index directory DIR\n"
           "  --min-layer-size N    leave smaller layers unindexed (default 10M)\n"
           "  --span BYTES          distance between gzip checkpoints (default 1M)\n"
           "  --oci-layout DIR[:T]  index an image of an OCI layout; the artifact is written\n"
           "                        into the layout, tagged sha256-HEX of the image "
           "manifest\n" LZS_CLI_REMOTE_USAGE);
    return LZS_EXIT_OK;
}

static int parse_create_args(int argc, char **argv, struct create_args *a)
{
    static const struct option opts[] = {LZS_CLI_REMOTE_LONGOPTS,
                                         {"push", no_argument, NULL, 'p'},
                                         {"no-push", no_argument, NULL, 'P'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"min-layer-size", required_argument, NULL, 'm'},
                                         {"span", required_argument, NULL, 's'},
                                         {"oci-layout", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lzs_autoerr lzs_error *err = NULL;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        int rc = lzs_cli_remote_option(&a->remote, c, optarg);
        if (rc >= 0) {
            if (rc)
                return rc;
            continue;
        }
        switch (c) {
        case 'p':
            a->push = true;
            break;
        case 'P':
            a->no_push = true;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'm':
            if (lzs_parse_size(optarg, &a->min_size, &err) < 0)
                return lzs_cli_usage_error("--min-layer-size: %s", err->msg);
            a->min_size_set = true;
            break;
        case 's':
            if (lzs_parse_size(optarg, &a->span, &err) < 0 || a->span < 65536)
                return lzs_cli_usage_error("--span: %s", err ? err->msg : "at least 64K is needed");
            break;
        case 'L':
            a->layout = true;
            a->target = optarg;
            break;
        case 'h':
            return usage();
        default:
            return lzs_cli_usage_error("index create: bad option '%s'", argv[optind - 1]);
        }
    }
    if (a->push && a->no_push)
        return lzs_cli_usage_error("index create: --push and --no-push contradict");
    if (a->layout ? optind != argc : optind != argc - 1)
        return lzs_cli_usage_error("index create: expected one REF, or --oci-layout DIR[:TAG]");
    if (!a->layout)
        a->target = argv[optind];
    return -1;
}

int lzs_cli_index_create(int argc, char **argv)
{
    struct create_args a = {0};
    lzs_cli_remote_init(&a.remote);
    int rc = parse_create_args(argc, argv, &a);
    if (rc < 0) {
        lzs_autoerr lzs_error *err = NULL;
        rc = create(&a, &err) < 0 ? lzs_cli_fail(&err) : lzs_cli_finish_stdout();
    }
    lzs_cli_remote_dispose(&a.remote);
    return rc;
}
