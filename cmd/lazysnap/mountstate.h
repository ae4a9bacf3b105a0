/* Where a `lazysnap mount` keeps its state, shared by the mount, umount and stat verbs:
 * RUN/m-<16 hex of sha256(target)>/ holds pid ("PID STARTTIME"), target, stats.json, stats.txt,
 * log, and l/0, l/1, ... (the layer mountpoints). RUN defaults to /run/lazysnap. */
#ifndef LZS_CLI_MOUNTSTATE_H
#define LZS_CLI_MOUNTSTATE_H

#include "cli.h"

#define LZS_CLI_RUN_DIR_DEFAULT "/run/lazysnap"

struct lzs_cli_mountstate {
    char target[4096]; /* canonical */
    char dir[4096];    /* RUN/m-HASH */
};

/* Resolve target (which must exist) and name its state directory under run_dir (NULL: the
 * default). */
int lzs_cli_mountstate_init(struct lzs_cli_mountstate *s, const char *run_dir, const char *target,
                            lzs_error **err);
/* "DIR/name" into buf. */
const char *lzs_cli_mountstate_path(const struct lzs_cli_mountstate *s, const char *name, char *buf,
                                    size_t len);
/* Take RUN/m-HASH.lock (creating RUN), held by the mount's server for its whole life through
 * *fd (kept across fork): -EBUSY while another process mounts or serves target. */
int lzs_cli_mountstate_lock(const struct lzs_cli_mountstate *s, int *fd, lzs_error **err);
/* true while a mount or server of target holds the lock. */
bool lzs_cli_mountstate_locked(const struct lzs_cli_mountstate *s);
/* Remove the lock file and close fd; the server's very last step. */
void lzs_cli_mountstate_unlock(const struct lzs_cli_mountstate *s, int fd);
/* Record this process as the mount's server. */
int lzs_cli_mountstate_write_pid(const struct lzs_cli_mountstate *s, lzs_error **err);
/* The server's pid when it is still the process that wrote the pid file (same start time), else
 * 0. */
pid_t lzs_cli_mountstate_server(const struct lzs_cli_mountstate *s);
/* Remove the state directory (after its mounts are gone). */
void lzs_cli_mountstate_remove(const struct lzs_cli_mountstate *s);

#endif
