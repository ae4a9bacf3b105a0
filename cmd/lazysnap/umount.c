/* lazysnap umount DIR: unmount what `lazysnap mount` mounted at DIR and end its server;
 * lazysnap stat DIR: per layer, bytes fetched / compressed size and the share that is local. */
#include "mountstate.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <time.h>

#define SERVER_EXIT_TIMEOUT_S 60
#define LAZY_WAIT_S 2

static int parse_dir_verb(const char *verb, int argc, char **argv, const char **run_dir, bool *flag,
                          const char *flag_name, const char *usage)
{
    const struct option opts[] = {{"run-dir", required_argument, NULL, 'R'},
                                  {flag_name, no_argument, NULL, 'F'},
                                  {"help", no_argument, NULL, 'h'},
                                  {NULL, 0, NULL, 0}};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (c == 'R') {
            *run_dir = optarg;
        } else if (c == 'F') {
            *flag = true;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        } else {
            return lzs_cli_usage_error("%s: bad option '%s'", verb, argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return lzs_cli_usage_error("%s: expected DIR", verb);
    return 0;
}

static bool wait_gone_for(pid_t pid, int seconds)
{
    for (int i = 0; i < seconds * 20; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return false;
}

static bool wait_gone(pid_t pid)
{
    return wait_gone_for(pid, SERVER_EXIT_TIMEOUT_S);
}

static int do_umount(const struct lzs_cli_mountstate *st, bool lazy, lzs_error **err)
{
    pid_t pid = lzs_cli_mountstate_server(st);
    char path[4200];
    if (!pid && access(lzs_cli_mountstate_path(st, "target", path, sizeof(path)), F_OK) < 0)
        return lzs_error_set(err, EINVAL, "%s is not mounted by lazysnap", st->target);
    if (!pid && lzs_cli_mountstate_locked(st)) /* its pid is written once the mount is up */
        return lzs_error_set(err, EBUSY, "%s is being mounted; try again once it is up",
                             st->target);
    if (umount2(st->target, lazy ? MNT_DETACH : 0) < 0 && errno != EINVAL) {
        if (errno == EBUSY)
            return lzs_error_set(err, EBUSY,
                                 "%s is busy (files open or a process inside); close them or "
                                 "use --lazy",
                                 st->target);
        return lzs_error_set_sys(err, errno, "unmount %s", st->target);
    }
    if (!pid) { /* the server died: clear what it left */
        lzs_cli_mountstate_remove(st);
        return 0;
    }
    if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
        return lzs_error_set_sys(err, errno, "stop the server (pid %d)", (int)pid);
    if (lazy && !wait_gone_for(pid, LAZY_WAIT_S)) {
        /* files still open in the detached tree keep being served; the server ends and clears
         * its state when the last one is closed */
        printf("%s detached; its server (pid %d) ends when the last open file is closed\n",
               st->target, (int)pid);
        return 0;
    }
    if (!wait_gone(pid))
        return lzs_error_set(err, ETIMEDOUT, "the server (pid %d) did not end within %d s",
                             (int)pid, SERVER_EXIT_TIMEOUT_S);
    lzs_cli_mountstate_remove(st); /* normally gone already */
    return 0;
}

int lzs_cli_umount(int argc, char **argv)
{
    const char *run_dir = NULL;
    bool lazy = false;
    int rc = parse_dir_verb(
        "umount", argc, argv, &run_dir, &lazy, "lazy",
        "usage: lazysnap umount DIR [--lazy] [--run-dir DIR]\n"
        "  --lazy   detach DIR even while files in it are open (they keep working; the\n"
        "           server ends when the last one is closed)\n");
    if (rc != 0)
        return rc < 0 ? LZS_EXIT_OK : rc;
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_cli_mountstate st;
    if (lzs_cli_mountstate_init(&st, run_dir, argv[optind], &err) < 0 ||
        do_umount(&st, lazy, &err) < 0)
        return lzs_cli_fail(&err);
    return LZS_EXIT_OK;
}

int lzs_cli_stat(int argc, char **argv)
{
    const char *run_dir = NULL;
    bool json = false;
    int rc = parse_dir_verb("stat", argc, argv, &run_dir, &json, "json",
                            "usage: lazysnap stat DIR [--json] [--run-dir DIR]\n");
    if (rc != 0)
        return rc < 0 ? LZS_EXIT_OK : rc;
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_cli_mountstate st;
    if (lzs_cli_mountstate_init(&st, run_dir, argv[optind], &err) < 0)
        return lzs_cli_fail(&err);
    if (!lzs_cli_mountstate_server(&st)) {
        lzs_error_set(&err, EINVAL, "%s is not mounted by lazysnap", st.target);
        return lzs_cli_fail(&err);
    }
    char path[4200];
    struct lzs_buf b = LZS_BUF_INIT(16 << 20);
    rc = lzs_file_read_all(
        lzs_cli_mountstate_path(&st, json ? "stats.json" : "stats.txt", path, sizeof(path)), &b,
        &err);
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    lzs_buf_dispose(&b);
    return rc < 0 ? lzs_cli_fail(&err) : lzs_cli_finish_stdout();
}
