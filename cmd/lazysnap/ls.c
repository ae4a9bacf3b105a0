/* lazysnap ls REF [DIR] [-l]: a directory of a remote image, merged across its layers through
 * their indexes (no layer data is fetched). */
#include "remote.h"

#include <stdio.h>
#include <string.h>

static int print_name(void *data, const char *name, const struct lzs_image_node *n)
{
    const bool *lng = data;
    if (*lng)
        lzs_cli_print_long(&n->entry, name);
    else
        printf("%s%s\n", name, n->entry.type == LZS_ENTRY_DIR ? "/" : "");
    return 0;
}

static int ls_remote(struct lzs_cli_remote *r, const char *ref, const char *dir, bool lng,
                     lzs_error **err)
{
    lzs_cleanup(lzs_image_view_freep) lzs_image_view *v = NULL;
    int rc = lzs_cli_remote_view(r, ref, &v, err);
    if (rc == 0)
        rc = lzs_image_view_readdir(v, dir, print_name, &lng, err);
    return rc;
}

int lzs_cli_ls(int argc, char **argv)
{
    static const struct option opts[] = {LZS_CLI_REMOTE_LONGOPTS,
                                         {"long", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lzs_cleanup(lzs_cli_remote_dispose) struct lzs_cli_remote r;
    lzs_cli_remote_init(&r);
    bool lng = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "lh", opts, NULL)) != -1;) {
        int rc = lzs_cli_remote_option(&r, c, optarg);
        if (rc >= 0) {
            if (rc)
                return rc;
        } else if (c == 'l') {
            lng = true;
        } else if (c == 'h') {
            printf("usage: lazysnap ls REF [DIR] [-l] [options]\n" LZS_CLI_REMOTE_USAGE);
            return LZS_EXIT_OK;
        } else {
            return lzs_cli_usage_error("ls: bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1 && optind != argc - 2)
        return lzs_cli_usage_error("ls: expected REF [DIR]");
    lzs_autoerr lzs_error *err = NULL;
    const char *dir = optind == argc - 2 ? argv[optind + 1] : "/";
    if (ls_remote(&r, argv[optind], dir, lng, &err) < 0)
        return lzs_cli_fail(&err);
    return lzs_cli_finish_stdout();
}
