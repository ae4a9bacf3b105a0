/* lazysnap mount REF DIR: the whole image read-only at DIR, files fetched on first read (one
 * FUSE filesystem per layer, merged by overlayfs). Without --foreground the verb returns once DIR
 * is usable and a server process (this one, forked before any thread or connection exists) goes
 * on serving until `lazysnap umount DIR` or SIGTERM. */
#include "mount/mount.h"
#include "mountstate.h"
#include "remote.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#define LZS_CLI_CACHE_DEFAULT "/var/cache/lazysnap"
#define SYNC_EVERY_S 10

struct mount_args {
    struct lzs_cli_remote r;
    const char *ref, *dir, *cache, *run_dir, *prefetch_file, *cache_size, *bg_rate;
    bool layout, foreground, background, stream;
    char **prefetch; /* lines of prefetch_file */
    size_t n_prefetch;
    char *cache_abs, *run_dir_abs; /* the server leaves the working directory */
    char *remote_abs[3];           /* ... so r's path options are made absolute too */
    int lock_fd;                   /* the state's lock, held by the server */
};

static int read_prefetch(struct mount_args *a, lzs_error **err)
{
    if (!a->prefetch_file)
        return 0;
    struct lzs_buf b = LZS_BUF_INIT(64 << 20);
    int rc = lzs_file_read_all(a->prefetch_file, &b, err);
    for (char *line = b.data, *next; rc == 0 && line && line < b.data + b.len; line = next) {
        next = memchr(line, '\n', b.data + b.len - line);
        size_t n = next ? (size_t)(next - line) : (size_t)(b.data + b.len - line);
        next = next ? next + 1 : NULL;
        if (n == 0 || line[0] == '#')
            continue;
        char **p = lzs_realloc_array(a->prefetch, a->n_prefetch + 1, sizeof(*p));
        if (!p || !(p[a->n_prefetch] = strndup(line, n)))
            rc = lzs_error_set(err, ENOMEM, "out of memory");
        if (p)
            a->prefetch = p;
        if (rc == 0)
            a->n_prefetch++;
    }
    lzs_buf_dispose(&b);
    return rc < 0 ? lzs_error_wrap(err, "prefetch list") : 0;
}

/* "mounted REF at DIR in 0.123 s (3 layers: 2 indexed, 1 fetched whole[, 1 streaming])" */
static void describe(lzs_mount *m, const struct mount_args *a, const char *target, double secs,
                     char *buf, size_t len)
{
    size_t n = lzs_mount_layer_count(m), indexed = 0, streamed = 0;
    for (size_t i = 0; i < n; i++) {
        struct lzs_mount_layer_info li;
        lzs_mount_layer_info(m, i, &li);
        indexed += li.indexed;
        streamed += li.stream != LZS_MOUNT_NOT_STREAMED;
    }
    char more[64] = "";
    if (streamed)
        snprintf(more, sizeof(more), ", %zu streaming", streamed);
    snprintf(buf, len, "mounted %s at %s in %.3f s (%zu layer%s: %zu indexed, %zu fetched whole%s)",
             a->ref, target, secs, n, n == 1 ? "" : "s", indexed, n - indexed - streamed, more);
}

/* stats.txt: the table `lazysnap stat` prints. */
static void stats_table(lzs_mount *m, struct lzs_buf *out)
{
    lzs_buf_printf(out, NULL, "%-4s %-19s %-7s %12s %12s %7s %s\n", "#", "LAYER", "SOURCE",
                   "FETCHED", "COMPRESSED", "LOCAL", "STATE");
    for (size_t i = 0; i < lzs_mount_layer_count(m); i++) {
        struct lzs_mount_layer_info li;
        lzs_mount_layer_info(m, i, &li);
        char ds[LZS_DIGEST_STR_MAX], f[32], c[32];
        const struct lzs_layer_stats *s = &li.stats;
        double local = s->size ? 100.0 * (double)s->present / (double)s->size : 100.0;
        if (li.stream) /* its size is known at the end: what has arrived of the blob */
            local = s->compressed_size ? 100.0 * (double)s->fetched / (double)s->compressed_size
                                       : 100.0;
        const char *state =
            s->complete ? "complete"
            : li.read_errors || s->verify_failures || li.stream == LZS_MOUNT_STREAM_FAILED
                ? "errors"
            : li.stream ? "streaming"
                        : "lazy";
        lzs_buf_printf(out, NULL, "%-4zu %-19.19s %-7s %12s %12s %6.1f%% %s\n", i,
                       lzs_digest_format(&li.digest, ds),
                       li.indexed  ? "index"
                       : li.stream ? "stream"
                                   : "whole",
                       lzs_format_size(s->fetched, f, sizeof(f)),
                       lzs_format_size(s->compressed_size, c, sizeof(c)), local, state);
    }
}

static void write_stats(lzs_mount *m, const struct lzs_cli_mountstate *st)
{
    char path[4200];
    struct lzs_buf b = LZS_BUF_INIT(16 << 20);
    lzs_autoerr lzs_error *err = NULL;
    if (lzs_mount_stats_json(m, &b, &err) == 0)
        lzs_file_write_atomic(lzs_cli_mountstate_path(st, "stats.json", path, sizeof(path)), b.data,
                              b.len, 0644, &err);
    lzs_buf_reset(&b);
    stats_table(m, &b);
    if (!err)
        lzs_file_write_atomic(lzs_cli_mountstate_path(st, "stats.txt", path, sizeof(path)), b.data,
                              b.len, 0644, &err);
    if (err)
        LZS_WARN("stats: %s", lzs_error_msg(err));
    lzs_buf_dispose(&b);
}

/* Serve until SIGTERM/SIGINT/SIGHUP (blocked in every thread since the start). */
static void serve(lzs_mount *m, const struct lzs_cli_mountstate *st, const sigset_t *sigs)
{
    struct timespec tick = {1, 0};
    for (unsigned n = 1;; n++) {
        write_stats(m, st);
        if (n % SYNC_EVERY_S == 0) {
            lzs_autoerr lzs_error *err = NULL;
            if (lzs_mount_sync(m, &err) < 0)
                LZS_WARN("%s", lzs_error_msg(err));
        }
        int sig = sigtimedwait(sigs, NULL, &tick);
        if (sig > 0) {
            LZS_INFO("signal %d: unmounting %s", sig, st->target);
            return;
        }
    }
}

static int open_cache(const struct mount_args *a, lzs_cache **out, lzs_error **err)
{
    uint64_t cap = 0;
    int rc = a->cache_size ? lzs_parse_size(a->cache_size, &cap, err) : 0;
    if (rc == 0)
        rc = lzs_cache_open(out, a->cache, cap, err);
    if (rc == -EBUSY)
        return lzs_error_wrap(err, "give this mount a cache of its own with --cache");
    if (rc == 0 && lzs_cache_evict(*out, err) < 0)
        rc = lzs_error_wrap(err, "cache eviction");
    return rc;
}

static int make_dirs(const struct lzs_cli_mountstate *st, lzs_error **err)
{
    char path[4200];
    int rc = lzs_mkdir_p(lzs_cli_mountstate_path(st, "l", path, sizeof(path)), 0700, err);
    if (rc == 0)
        rc = lzs_file_write_atomic(lzs_cli_mountstate_path(st, "target", path, sizeof(path)),
                                   st->target, strlen(st->target), 0644, err);
    return rc;
}

/* Everything up to a usable mount; the message for the user goes to msg. */
static int do_mount(struct mount_args *a, const struct lzs_cli_mountstate *st, lzs_cache **cache,
                    lzs_mount **m, char *msg, size_t msg_len, lzs_error **err)
{
    double t0 = lzs_cli_now_seconds();
    uint64_t rate = 0;
    int rc = a->bg_rate ? lzs_parse_size(a->bg_rate, &rate, err) : 0;
    if (rc == 0)
        rc = read_prefetch(a, err);
    if (rc == 0)
        rc = lzs_cli_remote_open(&a->r, a->ref, a->layout, err);
    if (rc == 0)
        rc = lzs_image_find_indexes(a->r.img, lzs_cli_remote_index_dir(&a->r), err);
    if (rc == 0)
        rc = open_cache(a, cache, err);
    if (rc == 0)
        rc = make_dirs(st, err);
    if (rc < 0)
        return rc;
    char work[4200];
    struct lzs_mount_opts o = {
        .work_dir = lzs_cli_mountstate_path(st, "l", work, sizeof(work)),
        .whole_dir = lzs_cache_whole_dir(*cache),
        .index_dir = lzs_cache_indexes_dir(*cache),
        .layer = {.prefetch = (const char *const *)a->prefetch,
                  .n_prefetch = a->n_prefetch,
                  .background = a->background,
                  .background_rate = rate},
        .allow_other = getuid() == 0,
        .stream_whole = a->stream,
    };
    rc = lzs_mount_new(m, a->r.img, *cache, st->target, &o, err);
    if (rc == 0)
        rc = lzs_cli_mountstate_write_pid(st, err);
    if (rc == 0)
        describe(*m, a, st->target, lzs_cli_now_seconds() - t0, msg, msg_len);
    return rc;
}

/* After the mount: stdin and stdout to /dev/null, stderr (the log) to the state's log file, and
 * out of the working directory, which the server would otherwise keep busy. */
static void detach_stdio(const struct lzs_cli_mountstate *st)
{
    char path[4200];
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int log = open(lzs_cli_mountstate_path(st, "log", path, sizeof(path)),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
    }
    if (log >= 0)
        dup2(log, STDERR_FILENO);
    if (null > STDERR_FILENO)
        close(null);
    if (log > STDERR_FILENO)
        close(log);
    if (chdir("/") < 0)
        LZS_WARN("chdir /: %s", lzs_strerror(errno, path, sizeof(path)));
}

/* Tell the waiting command how the mount went: false when it is gone (interrupted). */
static bool report(int fd, int rc, const char *msg)
{
    bool told = dprintf(fd, "%c%s\n", rc < 0 ? 'E' : 'O', msg) > 0;
    close(fd);
    return told;
}

/* Unmount, close the cache, clear the state, and only then let another server take DIR. */
static void end_server(struct mount_args *a, const struct lzs_cli_mountstate *st, lzs_mount *m,
                       lzs_cache *cache)
{
    lzs_mount_free(m);
    lzs_cache_close(cache);
    lzs_cli_mountstate_remove(st);
    lzs_cli_mountstate_unlock(st, a->lock_fd);
}

/* The server: mount, report (to the pipe when detached), serve, unmount. */
static int run_server(struct mount_args *a, const struct lzs_cli_mountstate *st,
                      const sigset_t *sigs, int report_fd)
{
    lzs_cache *cache = NULL;
    lzs_mount *m = NULL;
    lzs_autoerr lzs_error *err = NULL;
    char msg[8192];
    int rc = do_mount(a, st, &cache, &m, msg, sizeof(msg), &err);
    if (rc == 0)
        write_stats(m, st);
    else
        snprintf(msg, sizeof(msg), "lazysnap: %s: %s", a->dir, lzs_error_msg(err));
    if (report_fd >= 0 && !report(report_fd, rc, msg) && rc == 0) {
        LZS_WARN("the mount command was interrupted: unmounting %s", st->target);
        rc = -ECANCELED;
    } else if (report_fd >= 0 && rc == 0) {
        detach_stdio(st);
    } else if (report_fd < 0) {
        fprintf(rc < 0 ? stderr : stdout, "%s\n", msg);
        fflush(stdout);
    }
    if (rc == 0)
        serve(m, st, sigs);
    end_server(a, st, m, cache);
    return rc < 0 ? LZS_EXIT_FAIL : LZS_EXIT_OK;
}

/* The server's report from fd into buf (*len bytes), or the signal of sigs (still blocked) that
 * interrupted the wait. */
static int read_report(int fd, const sigset_t *sigs, char *buf, size_t size, ssize_t *len)
{
    const struct timespec now = {0, 0};
    for (;;) {
        int sig = sigtimedwait(sigs, NULL, &now);
        if (sig > 0)
            return sig;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + *len, size - 1 - (size_t)*len);
        if (n <= 0 || (*len += n) >= (ssize_t)size - 1)
            return 0;
    }
}

/* Fork the server; the parent prints its report and exits with its outcome. */
static int detach(struct mount_args *a, const struct lzs_cli_mountstate *st, const sigset_t *sigs)
{
    int p[2];
    char buf[8192];
    if (pipe2(p, O_CLOEXEC) < 0)
        return fprintf(stderr, "lazysnap: mount: pipe: %s\n",
                       lzs_strerror(errno, buf, sizeof(buf))),
               LZS_EXIT_FAIL;
    pid_t pid = fork();
    if (pid < 0)
        return fprintf(stderr, "lazysnap: mount: fork: %s\n",
                       lzs_strerror(errno, buf, sizeof(buf))),
               LZS_EXIT_FAIL;
    if (pid == 0) {
        close(p[0]);
        setsid();
        _exit(run_server(a, st, sigs, p[1]));
    }
    close(p[1]);
    ssize_t len = 0;
    int sig = read_report(p[0], sigs, buf, sizeof(buf), &len);
    close(p[0]);
    if (sig > 0) { /* Ctrl-C: the server ends too, once its mount is up */
        kill(pid, SIGTERM);
        fprintf(stderr, "lazysnap: mount %s: interrupted; the server (pid %d) unmounts it\n",
                a->dir, (int)pid);
        return 128 + sig;
    }
    buf[len] = '\0';
    if (len == 0) {
        fprintf(stderr, "lazysnap: mount %s: the server process died before mounting\n", a->dir);
        return LZS_EXIT_FAIL;
    }
    fputs(buf + 1, buf[0] == 'O' ? stdout : stderr);
    return buf[0] == 'O' ? lzs_cli_finish_stdout() : LZS_EXIT_FAIL;
}

static const char usage[] =
    "usage: lazysnap mount REF DIR [options]\n"
    "Mount image REF read-only at DIR (created if missing); files are fetched when first read.\n"
    "  --cache DIR        node cache (default " LZS_CLI_CACHE_DEFAULT ")\n"
    "  --cache-size SIZE  evict least recently used layers above SIZE (default: no cap)\n"
    "  --run-dir DIR      state of the mount (default " LZS_CLI_RUN_DIR_DEFAULT ")\n"
    "  --prefetch FILE    paths (one per line) fetched first\n"
    "  --no-background    fetch only what is read (default: the rest of the layers too)\n"
    "  --bg-rate RATE     background fetch cap in compressed bytes/s per layer, e.g. 50M\n"
    "  --no-stream        a layer without an index: mount once its whole blob is verified\n"
    "                     (default: serve its files as they arrive, verified at the end)\n"
    "  --foreground       serve from this process until SIGTERM (default: detach)\n"
    "  --oci-layout       REF is an OCI image layout DIR[:TAG]\n" LZS_CLI_REMOTE_USAGE;

static int parse(struct mount_args *a, int argc, char **argv)
{
    static const struct option opts[] = {LZS_CLI_REMOTE_LONGOPTS,
                                         {"cache", required_argument, NULL, 'c'},
                                         {"cache-size", required_argument, NULL, 'S'},
                                         {"run-dir", required_argument, NULL, 'R'},
                                         {"prefetch", required_argument, NULL, 'p'},
                                         {"no-background", no_argument, NULL, 'B'},
                                         {"no-stream", no_argument, NULL, 'N'},
                                         {"bg-rate", required_argument, NULL, 'b'},
                                         {"foreground", no_argument, NULL, 'f'},
                                         {"oci-layout", no_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        int rc = lzs_cli_remote_option(&a->r, c, optarg);
        if (rc > 0)
            return rc;
        if (rc == 0)
            continue;
        switch (c) {
        case 'c':
            a->cache = optarg;
            break;
        case 'S':
            a->cache_size = optarg;
            break;
        case 'R':
            a->run_dir = optarg;
            break;
        case 'p':
            a->prefetch_file = optarg;
            break;
        case 'B':
            a->background = false;
            break;
        case 'N':
            a->stream = false;
            break;
        case 'b':
            a->bg_rate = optarg;
            break;
        case 'f':
            a->foreground = true;
            break;
        case 'L':
            a->layout = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            return lzs_cli_usage_error("mount: bad option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 2)
        return lzs_cli_usage_error("mount: expected REF DIR");
    a->ref = argv[optind];
    a->dir = argv[optind + 1];
    return 0;
}

/* p made absolute against the working directory, into *out (malloc'd). */
static int absolute(const char *p, char **out, lzs_error **err)
{
    char cwd[PATH_MAX];
    if (p[0] != '/' && !getcwd(cwd, sizeof(cwd)))
        return lzs_error_set_sys(err, errno, "getcwd");
    if ((p[0] == '/' ? asprintf(out, "%s", p) : asprintf(out, "%s/%s", cwd, p)) < 0) {
        *out = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* Every path option absolute: the detached server works in /. */
static int absolute_paths(struct mount_args *a, lzs_error **err)
{
    const char **remote[] = {&a->r.config_path, &a->r.hosts_dir, &a->r.index_dir};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(remote); i++) {
        if (*remote[i] && absolute(*remote[i], &a->remote_abs[i], err) < 0)
            return -1;
        if (*remote[i])
            *remote[i] = a->remote_abs[i];
    }
    if (absolute(a->cache, &a->cache_abs, err) < 0 ||
        absolute(a->run_dir ? a->run_dir : LZS_CLI_RUN_DIR_DEFAULT, &a->run_dir_abs, err) < 0)
        return -1;
    a->cache = a->cache_abs;
    return 0;
}

static void free_args(struct mount_args *a)
{
    free(a->cache_abs);
    free(a->run_dir_abs);
    for (size_t i = 0; i < LZS_ARRAY_SIZE(a->remote_abs); i++)
        free(a->remote_abs[i]);
    for (size_t i = 0; i < a->n_prefetch; i++)
        free(a->prefetch[i]);
    free(a->prefetch);
    lzs_cli_remote_dispose(&a->r);
}

int lzs_cli_mount(int argc, char **argv)
{
    lzs_cleanup(free_args) struct mount_args a = {
        .cache = LZS_CLI_CACHE_DEFAULT, .background = true, .stream = true, .lock_fd = -1};
    lzs_cli_remote_init(&a.r);
    int rc = parse(&a, argc, argv);
    if (rc != 0)
        return rc < 0 ? LZS_EXIT_OK : rc;
    lzs_autoerr lzs_error *err = NULL;
    if (mkdir(a.dir, 0755) < 0 && errno != EEXIST)
        return lzs_error_set_sys(&err, errno, "mkdir %s", a.dir), lzs_cli_fail(&err);
    if (absolute_paths(&a, &err) < 0)
        return lzs_cli_fail(&err);
    struct lzs_cli_mountstate st;
    if (lzs_cli_mountstate_init(&st, a.run_dir_abs, a.dir, &err) < 0)
        return lzs_cli_fail(&err);
    if (lzs_cli_mountstate_lock(&st, &a.lock_fd, &err) < 0) {
        pid_t other = lzs_cli_mountstate_server(&st);
        if (other) {
            lzs_error_free(&err);
            lzs_error_set(&err, EBUSY, "%s is already mounted by lazysnap (pid %d)", st.target,
                          other);
        }
        return lzs_cli_fail(&err);
    }
    lzs_cli_mountstate_remove(&st); /* leftovers of a server that died */
    /* the signals that end the server, blocked before any thread exists so only sigtimedwait
     * takes them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    return a.foreground ? run_server(&a, &st, &sigs, -1) : detach(&a, &st, &sigs);
}
