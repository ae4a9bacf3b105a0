/* Snapshot directories on disk: ROOT/snapshots/ID/{fs,work}, their usage, their removal. */
#include "snapshot_i.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define NFTW_FDS 32

/* What a walk of nftw adds up; nftw takes no user data, and each thread walks on its own. */
struct linked {
    dev_t dev;
    ino_t ino;
    int64_t bytes;
};

static _Thread_local struct {
    int64_t size, inodes;
    struct linked *v; /* inodes with more than one link: counted once, after the walk */
    size_t n, cap;
    bool failed;
} du;

static int du_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)path;
    (void)f;
    if (type == FTW_NS || type == FTW_DNR) {
        du.failed = true;
        return 0;
    }
    if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) {
        if (du.n == du.cap) {
            size_t cap = du.cap ? 2 * du.cap : 256;
            struct linked *v = lzs_realloc_array(du.v, cap, sizeof(*v));
            if (!v) {
                du.failed = true;
                return 0;
            }
            du.v = v;
            du.cap = cap;
        }
        du.v[du.n++] = (struct linked){st->st_dev, st->st_ino, (int64_t)st->st_blocks * 512};
        return 0;
    }
    du.size += (int64_t)st->st_blocks * 512;
    du.inodes++;
    return 0;
}

static int by_inode(const void *a, const void *b)
{
    const struct linked *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Each hard-linked inode once. */
static void add_linked(void)
{
    if (du.n)
        qsort(du.v, du.n, sizeof(*du.v), by_inode);
    for (size_t i = 0; i < du.n; i++) {
        if (i && by_inode(&du.v[i - 1], &du.v[i]) == 0)
            continue;
        du.size += du.v[i].bytes;
        du.inodes++;
    }
}

int snap_dir_usage(const char *dir, int64_t *size, int64_t *inodes, lzs_error **err)
{
    du.size = du.inodes = 0;
    du.n = du.cap = 0;
    du.v = NULL;
    du.failed = false;
    int rc = nftw(dir, du_one, NFTW_FDS, FTW_PHYS | FTW_MOUNT);
    add_linked();
    free(du.v);
    du.v = NULL;
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
