/* Mounting and unmounting one layer: a libfuse session served by fuse_session_loop_mt on a
 * thread of its own, which the unmount joins. */
#include "fusefs_i.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#define DEFAULT_THREADS 16
#define INIT_TIMEOUT_SEC 30
#define READAHEAD_REQUESTS 4
#define READ_REQUEST_MAX (1ul << 20) /* the kernel's limit (256 pages) */
#define READ_REQUEST_MIN (128ul << 10)
#define SPLICE_HEADROOM (16ul << 10)

static void *loop_main(void *data)
{
    lzs_fusefs *fs = data;
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    int rc = -ENOMEM;
    if (cfg) {
        fuse_loop_cfg_set_max_threads(cfg, fs->threads);
        /* idle workers stay: no thread is created and destroyed per request */
        fuse_loop_cfg_set_idle_threads(cfg, fs->threads);
        fuse_loop_cfg_set_clone_fd(cfg, 0);
        rc = fuse_session_loop_mt(fs->se, cfg);
        fuse_loop_cfg_destroy(cfg);
    }
    pthread_mutex_lock(&fs->lock);
    fs->stopped = true;
    fs->loop_rc = rc;
    pthread_cond_broadcast(&fs->cond);
    pthread_mutex_unlock(&fs->lock);
    return NULL;
}

/* The largest read request: libfuse splices a reply only when it fits its pipe (the data, plus a
 * page each for the header and the bookkeeping, rounded up to a power of two pages), and growing
 * a pipe beyond /proc/sys/fs/pipe-max-size (1 MiB by default) takes CAP_SYS_RESOURCE. Requests of
 * 1 MiB thus never splice and go through a fresh buffer; 1 MiB - 16 KiB ones do. */
static unsigned splice_max_read(void)
{
    unsigned long pipe_max = READ_REQUEST_MAX;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
    if (f) {
        if (fscanf(f, "%lu", &pipe_max) != 1)
            pipe_max = READ_REQUEST_MAX;
        fclose(f);
    }
    if (pipe_max > READ_REQUEST_MAX)
        pipe_max = READ_REQUEST_MAX;
    if (pipe_max < READ_REQUEST_MIN + SPLICE_HEADROOM)
        return READ_REQUEST_MIN; /* too small a pipe to splice much: libfuse copies */
    return (unsigned)(pipe_max - SPLICE_HEADROOM);
}

/* "ro,default_permissions,fsname=X,subtype=lazysnap,max_read=N[,allow_other]" */
static int mount_options(const lzs_fusefs *fs, const struct lzs_fusefs_opts *o, struct lzs_buf *b,
                         lzs_error **err)
{
    const char *fsname = o->fsname ? o->fsname : "lazysnap";
    if (!fsname[0] || strpbrk(fsname, ",\\ \t\n"))
        return lzs_error_set(err, EINVAL, "fsname '%s': empty, or a comma, space or backslash",
                             fsname);
    return lzs_buf_printf(b, err, "ro,default_permissions,fsname=%s,subtype=lazysnap,max_read=%u%s",
                          fsname, fs->max_read, o->allow_other ? ",allow_other" : "");
}

static int session_new(lzs_fusefs *fs, const struct lzs_fusefs_opts *o, lzs_error **err)
{
    struct lzs_buf optbuf = LZS_BUF_INIT(4096);
    int rc = mount_options(fs, o, &optbuf, err);
    if (rc < 0)
        return rc;
    char *argv[] = {(char *)"lazysnap", (char *)"-o", optbuf.data, (char *)"-d", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
    fs->se = fuse_session_new(&args, &lzs_fusefs_ops, sizeof(lzs_fusefs_ops), fs);
    fuse_opt_free_args(&args);
    lzs_buf_dispose(&optbuf);
    if (!fs->se)
        return lzs_error_set(err, EINVAL, "fuse session: libfuse refused the options");
    if (fuse_session_mount(fs->se, fs->mountpoint) != 0)
        return lzs_error_set(err, EIO, "fuse mount failed (libfuse printed why)");
    return 0;
}

/* Start the loop with every signal blocked (signals belong to the program), then wait for INIT. */
static int start_loop(lzs_fusefs *fs, lzs_error **err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&fs->thread, NULL, loop_main, fs);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return lzs_error_set_sys(err, rc, "fuse loop thread");
    fs->thread_started = true;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += INIT_TIMEOUT_SEC;
    pthread_mutex_lock(&fs->lock);
    rc = 0;
    while (!fs->ready && !fs->stopped && rc == 0)
        rc = pthread_cond_timedwait(&fs->cond, &fs->lock, &deadline);
    bool ready = fs->ready && !fs->stopped;
    int loop_rc = fs->loop_rc;
    pthread_mutex_unlock(&fs->lock);
    if (ready)
        return 0;
    if (rc == ETIMEDOUT)
        return lzs_error_set(err, ETIMEDOUT, "kernel did not initialise the fuse connection");
    return lzs_error_set(err, EIO, "fuse loop stopped before init (%d)", loop_rc);
}

/* The kernel sizes a FUSE mount's readahead (and so its read requests) from the VM default,
 * 128 KiB; data here is immutable and local once fetched, so sequential reads go faster with
 * more requests in flight: READAHEAD_REQUESTS of fs->max_read (measured on the mount bench:
 * 3.8-3.9 GB/s against 3.6-4.0 with 1 MiB). Best effort: needs root and sysfs. */
static void raise_readahead(const lzs_fusefs *fs)
{
    struct stat st;
    if (stat(fs->mountpoint, &st) < 0)
        return;
    char path[128], kb[32];
    snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev),
             minor(st.st_dev));
    int len = snprintf(kb, sizeof(kb), "%u", READAHEAD_REQUESTS * (fs->max_read >> 10));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, kb, (size_t)len) < 0)
        LZS_DEBUG("%s: readahead left as it is", path);
    if (fd >= 0)
        close(fd);
}

static int mount_tree(lzs_fusefs **out, const char *mountpoint, lzs_index *idx,
                      const struct lzs_fusefs_tree *tree, const struct lzs_fusefs_source *src,
                      const struct lzs_fusefs_opts *opts, lzs_error **err)
{
    static const struct lzs_fusefs_opts defaults = {0};
    const struct lzs_fusefs_opts *o = opts ? opts : &defaults;
    if (!src || !src->read)
        return lzs_error_set(err, EINVAL, "fuse mount %s: no data source", mountpoint);
    lzs_fusefs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return lzs_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&fs->lock, NULL);
    pthread_cond_init(&fs->cond, NULL);
    fs->idx = idx ? lzs_index_ref(idx) : NULL;
    fs->tree = *tree;
    fs->src = *src;
    fs->threads = o->threads ? o->threads : DEFAULT_THREADS;
    fs->max_read = splice_max_read();
    struct stat st;
    fs->mountpoint = realpath(mountpoint, NULL);
    int rc = fs->mountpoint ? 0 : lzs_error_set_sys(err, errno, "mountpoint");
    if (rc == 0 && (stat(fs->mountpoint, &st) < 0 || !S_ISDIR(st.st_mode)))
        rc = lzs_error_set(err, ENOTDIR, "mountpoint: not a directory");
    if (rc == 0 && !fs->tree.nlink)
        rc = lzs_fusefs_count_links(fs, err);
    if (rc == 0)
        rc = session_new(fs, o, err);
    if (rc == 0)
        rc = start_loop(fs, err);
    if (rc == 0)
        raise_readahead(fs);
    if (rc < 0) {
        lzs_fusefs_unmount(fs);
        return lzs_error_wrap(err, "fuse mount %s", mountpoint);
    }
    *out = fs;
    return 0;
}

int lzs_fusefs_mount(lzs_fusefs **out, const char *mountpoint, lzs_index *idx,
                     const struct lzs_fusefs_source *src, const struct lzs_fusefs_opts *opts,
                     lzs_error **err)
{
    struct lzs_fusefs_tree tree;
    lzs_fusefs_tree_index(idx, &tree);
    return mount_tree(out, mountpoint, idx, &tree, src, opts, err);
}

int lzs_fusefs_mount_tree(lzs_fusefs **out, const char *mountpoint,
                          const struct lzs_fusefs_tree *tree, const struct lzs_fusefs_source *src,
                          const struct lzs_fusefs_opts *opts, lzs_error **err)
{
    if (!tree->nlink && tree->state(tree->data) != 1)
        return lzs_error_set(err, EINVAL, "fuse mount %s: a growing tree must count links",
                             mountpoint);
    return mount_tree(out, mountpoint, NULL, tree, src, opts, err);
}

/* Unmount: the kernel then aborts the connection and the loop's reads fail with ENODEV. */
/* Unmount; the loop then ends by itself when the kernel ends the connection (its reads of the
 * device fail with ENODEV). A busy mount is detached: files still open keep being served, and
 * the connection ends when the last one is closed. */
static void kernel_unmount(lzs_fusefs *fs)
{
    if (umount2(fs->mountpoint, UMOUNT_NOFOLLOW) == 0)
        return;
    if (errno == EBUSY && umount2(fs->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        return;
    if (errno == EINVAL) /* unmounted by someone else already */
        return;
    /* not privileged: fusermount3 -u -z (libfuse closes the session fd first) */
    fuse_session_exit(fs->se);
    fuse_session_unmount(fs->se);
}

void lzs_fusefs_unmount(lzs_fusefs *fs)
{
    if (!fs)
        return;
    if (fs->se && fs->thread_started)
        kernel_unmount(fs);
    else if (fs->se)
        fuse_session_exit(fs->se);
    if (fs->thread_started)
        pthread_join(fs->thread, NULL);
    if (fs->se) {
        fuse_session_unmount(fs->se); /* closes the fd; a no-op unmount when already gone */
        fuse_session_destroy(fs->se);
    }
    while (fs->handles) /* files closed but not yet released when the connection ended */
        lzs_fusefs_handle_free(fs, fs->handles);
    lzs_index_unref(fs->idx);
    pthread_cond_destroy(&fs->cond);
    pthread_mutex_destroy(&fs->lock);
    free(fs->nlink);
    free(fs->mountpoint);
    free(fs);
}

int lzs_fusefs_handle_new(lzs_fusefs *fs, uint32_t id, struct lzs_fusefs_handle **out,
                          lzs_error **err)
{
    struct lzs_fusefs_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return lzs_error_set(err, ENOMEM, "out of memory");
    if (fs->src.open) {
        int rc = fs->src.open(fs->src.data, id, &h->fh, err);
        if (rc < 0) {
            free(h);
            return rc;
        }
    }
    pthread_mutex_lock(&fs->lock);
    h->next = fs->handles;
    if (h->next)
        h->next->prev = h;
    fs->handles = h;
    pthread_mutex_unlock(&fs->lock);
    *out = h;
    return 0;
}

void lzs_fusefs_handle_free(lzs_fusefs *fs, struct lzs_fusefs_handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&fs->lock);
    if (h->prev)
        h->prev->next = h->next;
    else
        fs->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&fs->lock);
    if (fs->src.release)
        fs->src.release(fs->src.data, h->fh);
    free(h);
}

const char *lzs_fusefs_mountpoint(const lzs_fusefs *fs)
{
    return fs->mountpoint;
}

uint64_t lzs_fusefs_read_errors(const lzs_fusefs *fs)
{
    return atomic_load(&fs->read_errors);
}
