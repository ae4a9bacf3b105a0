/* lazysnap cat REF PATH [--stats]: one file of a remote image, read through its layer indexes
 * with range requests only (uppermost layer wins, whiteouts honoured, symlinks followed). The
 * whole file is checked against its sha256 in the index. */
#include "remote.h"

#include <stdio.h>
#include <string.h>

static int cat_remote(struct lzs_cli_remote *r, const char *ref, const char *path, lzs_error **err)
{
    lzs_cleanup(lzs_image_view_freep) lzs_image_view *v = NULL;
    lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *fr = NULL;
    struct lzs_image_node node;
    int rc = lzs_cli_remote_view(r, ref, &v, err);
    if (rc == 0)
        rc = lzs_image_view_lookup(v, path, true, &node, err);
    if (rc < 0)
        return rc;
    rc = lzs_image_view_open(v, &node, &fr, err);
    if (rc == 0)
        rc = lzs_cli_copy_file(fr, 0, UINT64_MAX, node.entry.sha256, err);
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
