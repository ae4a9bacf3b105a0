/* fd helpers: full reads and writes, whole-file reads, atomic files. */
#include "base/base.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

int lzs_write_full(int fd, const void *p, size_t n, lzs_error **err)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return lzs_error_set_sys(err, errno, "write");
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int lzs_pwrite_full(int fd, const void *p, size_t n, uint64_t off, lzs_error **err)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return lzs_error_set_sys(err, errno, "write at offset %" PRIu64, off);
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int lzs_pread_full(int fd, void *p, size_t n, uint64_t off, lzs_error **err)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lzs_error_set_sys(err, errno, "read at offset %" PRIu64, off);
        if (r == 0)
            return lzs_error_set(err, ENODATA,
                                 "read at offset %" PRIu64 ": file ends %zu bytes early", off, n);
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

ssize_t lzs_read_upto(int fd, void *p, size_t n, lzs_error **err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lzs_error_set_sys(err, errno, "read");
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int lzs_read_all(int fd, struct lzs_buf *b, lzs_error **err)
{
    for (;;) {
        size_t left = b->max - b->len - 1; /* reserve keeps len < max */
        char probe;
        int rc = left ? lzs_buf_reserve(b, left < 65536 ? left : 65536, err) : 0;
        if (rc < 0)
            return rc;
        char *dst = left ? b->data + b->len : &probe;
        ssize_t r = read(fd, dst, left ? b->cap - b->len - 1 : 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return lzs_error_set_sys(err, errno, "read");
        if (r == 0)
            return 0;
        if (!left)
            return lzs_error_set(err, EMSGSIZE, "more than %zu bytes", b->max - 1);
        b->len += (size_t)r;
        b->data[b->len] = '\0';
    }
}

int lzs_file_read_all(const char *path, struct lzs_buf *b, lzs_error **err)
{
    lzs_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lzs_error_set_sys(err, errno, "%s", path);
    int rc = lzs_read_all(fd, b, err);
    return rc < 0 ? lzs_error_wrap(err, "%s", path) : 0;
}

int lzs_lock_try(const char *path, mode_t mode, int *fd, lzs_error **err)
{
    lzs_autoclose int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
    if (f < 0)
        return lzs_error_set_sys(err, errno, "%s", path);
    if (flock(f, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK ? -EBUSY : lzs_error_set_sys(err, errno, "lock %s", path);
    *fd = lzs_steal_fd(&f);
    return 0;
}

int lzs_mkdir_p(const char *path, mode_t mode, lzs_error **err)
{
    if (!path[0])
        return lzs_error_set(err, EINVAL, "mkdir: empty path");
    lzs_autofree char *p = strdup(path);
    if (!p)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return lzs_error_set_sys(err, errno, "mkdir %s", p);
        *s = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return lzs_error_set(err, ENOTDIR, "%s: not a directory", path);
    return 0;
}

int lzs_atomic_file_open(struct lzs_atomic_file *f, const char *path, mode_t mode, lzs_error **err)
{
    *f = (struct lzs_atomic_file){.fd = -1};
    if (asprintf(&f->tmp_path, "%s.tmp.XXXXXX", path) < 0) {
        f->tmp_path = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    f->path = strdup(path);
    if (!f->path) {
        lzs_atomic_file_dispose(f);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    f->fd = mkostemp(f->tmp_path, O_CLOEXEC);
    if (f->fd < 0) {
        int rc = lzs_error_set_sys(err, errno, "create temporary file for %s", path);
        free(f->tmp_path);
        f->tmp_path = NULL;
        lzs_atomic_file_dispose(f);
        return rc;
    }
    if (fchmod(f->fd, mode) < 0) {
        int rc = lzs_error_set_sys(err, errno, "chmod %s", f->tmp_path);
        lzs_atomic_file_dispose(f);
        return rc;
    }
    return 0;
}

static int fsync_parent_dir(const char *path, lzs_error **err)
{
    lzs_autofree char *copy = strdup(path);
    if (!copy)
        return lzs_error_set(err, ENOMEM, "out of memory");
    lzs_autoclose int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        return lzs_error_set_sys(err, errno, "sync directory of %s", path);
    return 0;
}

int lzs_atomic_file_commit(struct lzs_atomic_file *f, lzs_error **err)
{
    int rc = 0;
    if (fsync(f->fd) < 0)
        rc = lzs_error_set_sys(err, errno, "sync %s", f->tmp_path);
    if (close(lzs_steal_fd(&f->fd)) < 0 && rc == 0)
        rc = lzs_error_set_sys(err, errno, "close %s", f->tmp_path);
    if (rc == 0 && rename(f->tmp_path, f->path) < 0)
        rc = lzs_error_set_sys(err, errno, "rename %s to %s", f->tmp_path, f->path);
    if (rc == 0) {
        free(f->tmp_path);
        f->tmp_path = NULL;
        rc = fsync_parent_dir(f->path, err);
    }
    lzs_atomic_file_dispose(f);
    return rc;
}

void lzs_atomic_file_dispose(struct lzs_atomic_file *f)
{
    if (f->tmp_path) {
        if (f->fd >= 0)
            close(f->fd);
        unlink(f->tmp_path);
    }
    f->fd = -1;
    free(f->tmp_path);
    free(f->path);
    f->tmp_path = f->path = NULL;
}

int lzs_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode, lzs_error **err)
{
    struct lzs_atomic_file f;
    int rc = lzs_atomic_file_open(&f, path, mode, err);
    if (rc == 0)
        rc = lzs_write_full(f.fd, p, n, err);
    if (rc == 0)
        return lzs_atomic_file_commit(&f, err);
    lzs_atomic_file_dispose(&f);
    return lzs_error_wrap(err, "%s", path);
}
