/* lazysnap index build LAYER [-o INDEX] [--span BYTES]: one streaming pass over a layer blob. */
#include "cli.h"
#include "layer/layer.h"

#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>

struct build_args {
    const char *layer;
    const char *out;
    uint64_t span;
};

struct progress {
    uint64_t total; /* blob size, 0 if unknown */
    bool tty;
};

static ssize_t fd_read(void *data, void *buf, size_t n, lzs_error **err)
{
    return lzs_read_upto(*(int *)data, buf, n, err);
}

static void show_progress(void *data, uint64_t in, uint64_t out)
{
    struct progress *p = data;
    if (!p->tty)
        return;
    char a[32], b[32], c[32];
    if (p->total)
        fprintf(stderr, "\r  %s of %s read, %s decoded (%u%%) ", lzs_format_size(in, a, 32),
                lzs_format_size(p->total, b, 32), lzs_format_size(out, c, 32),
                (unsigned)(in * 100 / p->total));
    else
        fprintf(stderr, "\r  %s decoded ", lzs_format_size(out, a, 32));
}

static int parse_build_args(int argc, char **argv, struct build_args *a)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"span", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lzs_autoerr lzs_error *err = NULL;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1;) {
        if (c == 'o') {
            a->out = optarg;
        } else if (c == 's') {
            if (lzs_parse_size(optarg, &a->span, &err) < 0 || a->span < 65536)
                return lzs_cli_usage_error("--span: %s", err ? err->msg : "at least 64K is needed");
        } else if (c == 'h') {
            printf("usage: lazysnap index build LAYER [-o INDEX] [--span BYTES]\n");
            return LZS_EXIT_OK;
        } else {
            return lzs_cli_usage_error("index build: bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return lzs_cli_usage_error("index build: expected one LAYER file");
    a->layer = argv[optind];
    return -1;
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* One line: what was indexed, and the index's size stored and as it travels (zstd). */
static void print_summary(const struct build_args *a, const char *out,
                          const struct lzs_layer_build_result *r, const struct lzs_buf *idx,
                          double seconds)
{
    char d[LZS_DIGEST_STR_MAX], s1[32], s2[32], s3[32], s4[32];
    const struct lzs_index_info *i = &r->info;
    struct lzs_buf z = LZS_BUF_INIT(idx->len + (1 << 20));
    if (lzs_zseek_zstd_compress(idx->data, idx->len, LZS_LAYER_INDEX_ZSTD_LEVEL, &z, NULL) < 0)
        z.len = 0;
    printf("%s: %s layer %s, %s -> %s tar, %" PRIu64 " entries, %u checkpoints; index %s stored "
           "(%.2f%% of the layer), %s as published (%.2f%%), written to %s in %.2f s\n",
           a->layer, lzs_compression_name((enum lzs_compression)i->compression),
           lzs_digest_format(&i->blob_digest, d), lzs_format_size(i->compressed_size, s1, 32),
           lzs_format_size(i->uncompressed_size, s2, 32), r->entries, r->checkpoints,
           lzs_format_size(idx->len, s3, 32), percent(idx->len, i->compressed_size),
           lzs_format_size(z.len, s4, 32), percent(z.len, i->compressed_size), out, seconds);
    lzs_buf_dispose(&z);
}

int lzs_cli_index_build(int argc, char **argv)
{
    struct build_args a = {0};
    int rc = parse_build_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    lzs_autoerr lzs_error *err = NULL;
    lzs_autofree char *out = NULL;
    if (!a.out && asprintf(&out, "%s.lzsidx", a.layer) < 0) {
        out = NULL;
        lzs_error_set(&err, ENOMEM, "out of memory");
        return lzs_cli_fail(&err);
    }
    const char *dest = a.out ? a.out : out;
    lzs_autoclose int fd = open(a.layer, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        lzs_error_set_sys(&err, errno, "%s", a.layer);
        return lzs_cli_fail(&err);
    }
    struct progress p = {S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, isatty(2) == 1};
    struct lzs_layer_build_opts o = {
        .span = a.span, .progress = show_progress, .progress_data = &p};
    struct lzs_layer_build_result r;
    struct lzs_buf idx = LZS_BUF_INIT((size_t)4 << 30);
    double t0 = lzs_cli_now_seconds();
    rc = lzs_layer_build_index(fd_read, &fd, &o, &idx, &r, &err);
    if (p.tty)
        fputs("\r\033[K", stderr);
    if (rc == 0)
        rc = lzs_file_write_atomic(dest, idx.data, idx.len, 0644, &err);
    if (rc < 0) {
        lzs_buf_dispose(&idx);
        lzs_error_wrap(&err, "%s", a.layer);
        return lzs_cli_fail(&err);
    }
    print_summary(&a, dest, &r, &idx, lzs_cli_now_seconds() - t0);
    lzs_buf_dispose(&idx);
    return LZS_EXIT_OK;
}
