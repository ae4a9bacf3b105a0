/* Snapshot directories on disk: ROOT/snapshots/ID/{fs,work}, their usage, their removal. */
#include "snapshot_i.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define NFTW_FDS 32

/* What a walk of nftw adds up; nftw takes no user data, and each thread walks on its own. */
static _Thread_local struct {
    int64_t size, inodes;
    struct {
        dev_t dev;
        ino_t ino;
    } * seen; /* inodes with more than one link, counted once */
    size_t n_seen;
    bool failed;
} du;

static bool seen_before(const struct stat *st)
{
    for (size_t i = 0; i < du.n_seen; i++)
        if (du.seen[i].dev == st->st_dev && du.seen[i].ino == st->st_ino)
            return true;
    void *p = realloc(du.seen, (du.n_seen + 1) * sizeof(*du.seen));
    if (!p) {
        du.failed = true;
        return true;
    }
    du.seen = p;
    du.seen[du.n_seen].dev = st->st_dev;
    du.seen[du.n_seen++].ino = st->st_ino;
    return false;
}

static int du_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)path;
    (void)f;
    if (type == FTW_NS || type == FTW_DNR) {
        du.failed = true;
        return 0;
    }
    if (st->st_nlink > 1 && !S_ISDIR(st->st_mode) && seen_before(st))
        return 0;
    du.size += (int64_t)st->st_blocks * 512;
    du.inodes++;
    return 0;
}

int snap_dir_usage(const char *dir, int64_t *size, int64_t *inodes, lzs_error **err)
{
    du.size = du.inodes = 0;
    du.n_seen = 0;
    du.failed = false;
    int rc = nftw(dir, du_one, NFTW_FDS, FTW_PHYS | FTW_MOUNT);
    free(du.seen);
    du.seen = NULL;
    if (rc != 0 || du.failed)
        return lzs_error_set(err, EIO, "usage of %s: some entries could not be read", dir);
    *size = du.size;
    *inodes = du.inodes;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    if (remove(path) < 0 && errno != ENOENT)
        du.failed = true;
    (void)type;
    return 0;
}

int snap_dir_remove(const char *dir, lzs_error **err)
{
    du.failed = false;
    if (nftw(dir, rm_one, NFTW_FDS, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 && errno != ENOENT)
        return lzs_error_set_sys(err, errno, "remove %s", dir);
    if (du.failed)
        return lzs_error_set(err, EIO, "remove %s: some entries could not be removed", dir);
    return 0;
}
