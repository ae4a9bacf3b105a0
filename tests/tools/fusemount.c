/* fusemount: mount one layer with lib/fusefs for the integration tests.
 *
 *   fusemount [--debug] [--threads N] LAYER_BLOB INDEX MOUNTPOINT
 *
 * Mounts (allow_other), prints "mounted" on stdout once the mount is live, waits for SIGTERM or
 * SIGINT, unmounts and exits 0. Exit 1 with "fusemount: MESSAGE" on stderr, 2 for usage. */
#include "base/base.h"
#include "fusefs/fusefs.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: fusemount [--debug] [--threads N] LAYER_BLOB INDEX MOUNTPOINT\n");
    return 2;
}

static int serve(const char *layer, const char *index, const char *mnt,
                 const struct lzs_fusefs_opts *opts, lzs_error **err)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    struct lzs_fusefs_source src = {0};
    lzs_fusefs *fs = NULL;
    sigset_t set;
    int rc = lzs_index_open(&idx, index, err);
    if (rc == 0)
        rc = lzs_blob_open_file(&blob, layer, err);
    if (rc == 0)
        rc = lzs_fusefs_source_layer(idx, blob, &src, err);
    /* block the signals before any thread starts, then wait for them here */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc == 0)
        rc = lzs_fusefs_mount(&fs, mnt, idx, &src, opts, err);
    if (rc == 0) {
        printf("mounted\n");
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
        uint64_t errors = lzs_fusefs_read_errors(fs);
        lzs_fusefs_unmount(fs);
        if (errors)
            rc = lzs_error_set(err, EIO, "%" PRIu64 " read errors", errors);
    }
    lzs_fusefs_source_dispose(&src);
    return rc;
}

int main(int argc, char **argv)
{
    struct lzs_fusefs_opts opts = {.allow_other = true, .fsname = "fusemount"};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        uint64_t n;
        if (strcmp(argv[i], "--debug") == 0)
            opts.debug = true;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc &&
                 lzs_parse_u64(argv[i + 1], &n, NULL) == 0 && n > 0 && n < 1024)
            opts.threads = (unsigned)n, i++;
        else
            return usage();
    }
    if (argc - i != 3)
        return usage();
    lzs_autoerr lzs_error *err = NULL;
    if (serve(argv[i], argv[i + 1], argv[i + 2], &opts, &err) < 0) {
        fprintf(stderr, "fusemount: %s\n", lzs_error_msg(err));
        return 1;
    }
    return 0;
}
