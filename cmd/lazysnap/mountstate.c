/* The state directory of a `lazysnap mount` (see mountstate.h). */
#include "mountstate.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

int lzs_cli_mountstate_init(struct lzs_cli_mountstate *s, const char *run_dir, const char *target,
                            lzs_error **err)
{
    char real[PATH_MAX];
    if (!realpath(target, real))
        return lzs_error_set_sys(err, errno, "%s", target);
    if (strlen(real) >= sizeof(s->target))
        return lzs_error_set(err, ENAMETOOLONG, "%s: path too long", target);
    memcpy(s->target, real, strlen(real) + 1);
    struct lzs_digest d;
    int rc = lzs_digest_buf(LZS_DIGEST_SHA256, real, strlen(real), &d, err);
    if (rc < 0)
        return rc;
    char hex[2 * LZS_SHA256_LEN + 1];
    lzs_hex_encode(d.bytes, 8, hex);
    int n = snprintf(s->dir, sizeof(s->dir), "%s/m-%s", run_dir ? run_dir : LZS_CLI_RUN_DIR_DEFAULT,
                     hex);
    if (n < 0 || (size_t)n >= sizeof(s->dir))
        return lzs_error_set(err, ENAMETOOLONG, "run directory path too long");
    return 0;
}

const char *lzs_cli_mountstate_path(const struct lzs_cli_mountstate *s, const char *name, char *buf,
                                    size_t len)
{
    snprintf(buf, len, "%s/%s", s->dir, name);
    return buf;
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot; 0 when unreadable. */
static unsigned long long start_time(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the command name may hold spaces and parentheses */
    unsigned long long t = 0;
    if (p && sscanf(p + 2,
                    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                    "%*d %*d %llu",
                    &t) != 1)
        t = 0;
    return t;
}

static const char *lock_path(const struct lzs_cli_mountstate *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s.lock", s->dir);
    return buf;
}

int lzs_cli_mountstate_lock(const struct lzs_cli_mountstate *s, int *fd, lzs_error **err)
{
    char path[4200];
    lzs_autofree char *run = strdup(s->dir);
    if (!run)
        return lzs_error_set(err, ENOMEM, "out of memory");
    *strrchr(run, '/') = '\0';
    int rc = lzs_mkdir_p(run, 0755, err);
    if (rc < 0)
        return rc;
    lock_path(s, path, sizeof(path));
    /* the server removes the file when it ends: a lock taken on a file removed meanwhile is
     * taken again on the new one */
    for (int tries = 0; tries < 10; tries++) {
        rc = lzs_lock_try(path, 0644, fd, err);
        if (rc == -EBUSY)
            return lzs_error_set(err, EBUSY, "%s is being mounted by lazysnap", s->target);
        if (rc < 0)
            return rc;
        struct stat a, b;
        if (fstat(*fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return 0;
        close(*fd);
        *fd = -1;
    }
    *fd = -1;
    return lzs_error_set(err, EBUSY, "%s: its lock file keeps being replaced", path);
}

bool lzs_cli_mountstate_locked(const struct lzs_cli_mountstate *s)
{
    char path[4200];
    lzs_autoclose int fd = open(lock_path(s, path, sizeof(path)), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        return false;
    }
    return errno == EWOULDBLOCK;
}

void lzs_cli_mountstate_unlock(const struct lzs_cli_mountstate *s, int fd)
{
    char path[4200];
    unlink(lock_path(s, path, sizeof(path)));
    close(fd);
}

int lzs_cli_mountstate_write_pid(const struct lzs_cli_mountstate *s, lzs_error **err)
{
    char path[4200], text[64];
    int n = snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(), start_time(getpid()));
    return lzs_file_write_atomic(lzs_cli_mountstate_path(s, "pid", path, sizeof(path)), text,
                                 (size_t)n, 0644, err);
}

pid_t lzs_cli_mountstate_server(const struct lzs_cli_mountstate *s)
{
    char path[4200];
    FILE *f = fopen(lzs_cli_mountstate_path(s, "pid", path, sizeof(path)), "re");
    if (!f)
        return 0;
    int pid = 0;
    unsigned long long t = 0;
    int got = fscanf(f, "%d %llu", &pid, &t);
    fclose(f);
    if (got != 2 || pid <= 0 || t == 0 || start_time(pid) != t)
        return 0;
    return pid;
}

void lzs_cli_mountstate_remove(const struct lzs_cli_mountstate *s)
{
    static const char *files[] = {"pid", "target", "stats.json", "stats.txt", "log"};
    char path[4200];
    for (size_t i = 0; i < LZS_ARRAY_SIZE(files); i++)
        unlink(lzs_cli_mountstate_path(s, files[i], path, sizeof(path)));
    /* layer mountpoints left by a server that died: detach and remove them */
    DIR *d = opendir(lzs_cli_mountstate_path(s, "l", path, sizeof(path)));
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4500];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        umount2(sub, MNT_DETACH);
        rmdir(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
    rmdir(s->dir);
}
