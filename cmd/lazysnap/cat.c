/* lazysnap cat REF PATH [--stats]: one file of a remote image, read through its layer indexes
 * with range requests only (uppermost layer wins, whiteouts honoured, symlinks followed). The
 * whole file is checked against its sha256 in the index. */
#include "remote.h"

#include <stdio.h>
#include <string.h>

#define CAT_CHUNK (1u << 20)

static int copy_out(lzs_file_reader *r, const uint8_t *want, lzs_error **err)
{
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    lzs_autofree uint8_t *buf = malloc(CAT_CHUNK);
    int rc = lzs_hasher_new(&h, LZS_DIGEST_SHA256, err);
    if (rc < 0)
        return rc;
    if (!buf)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (uint64_t off = 0;;) {
        ssize_t n = lzs_file_reader_read(r, off, buf, CAT_CHUNK, err);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        lzs_hasher_update(h, buf, (size_t)n);
        if (lzs_write_full(1, buf, (size_t)n, err) < 0)
            return lzs_error_wrap(err, "stdout");
        off += (uint64_t)n;
    }
    struct lzs_digest got;
    lzs_hasher_final(h, &got);
    if (memcmp(got.bytes, want, LZS_SHA256_LEN) != 0)
        return lzs_error_set(err, EBADMSG, "content does not match the sha256 in the index");
    return 0;
}

static int cat_remote(struct lzs_cli_remote *r, const char *ref, const char *path, lzs_error **err)
{
    lzs_cleanup(lzs_image_view_freep) lzs_image_view *v = NULL;
    lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *fr = NULL;
    struct lzs_image_node node;
    int rc = lzs_cli_remote_open(r, ref, false, err);
    if (rc == 0)
        rc = lzs_image_find_indexes(r->img, lzs_cli_remote_index_dir(r), err);
    if (rc == 0)
        rc = lzs_image_view_new(&v, r->img, err);
    if (rc == 0)
        rc = lzs_image_view_lookup(v, path, true, &node, err);
    if (rc < 0)
        return rc;
    rc = lzs_image_view_open(v, &node, &fr, err);
    if (rc == 0)
        rc = copy_out(fr, node.entry.sha256, err);
    return rc < 0 ? lzs_error_wrap(err, "%s", path) : 0;
}

int lzs_cli_cat(int argc, char **argv)
{
    static const struct option opts[] = {LZS_CLI_REMOTE_LONGOPTS,
                                         {"stats", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lzs_cleanup(lzs_cli_remote_dispose) struct lzs_cli_remote r;
    lzs_cli_remote_init(&r);
    bool stats = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        int rc = lzs_cli_remote_option(&r, c, optarg);
        if (rc >= 0) {
            if (rc)
                return rc;
        } else if (c == 's') {
            stats = true;
        } else if (c == 'h') {
            printf("usage: lazysnap cat REF PATH [--stats] [options]\n" LZS_CLI_REMOTE_USAGE);
            return LZS_EXIT_OK;
        } else {
            return lzs_cli_usage_error("cat: bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 2)
        return lzs_cli_usage_error("cat: expected REF PATH");
    lzs_autoerr lzs_error *err = NULL;
    int rc = cat_remote(&r, argv[optind], argv[optind + 1], &err);
    if (stats)
        lzs_cli_remote_print_stats(&r);
    return rc < 0 ? lzs_cli_fail(&err) : lzs_cli_finish_stdout();
}
