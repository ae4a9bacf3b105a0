/* randread: read latency and throughput of a file tree, the same way on any file system (a
 * lazysnap mount, a native overlayfs), for bench/mount/run.sh. Plain C11 + POSIX.
 *
 *   randread [--seed N] [--count N] [--size BYTES] [--csv FILE] FILELIST
 *       COUNT reads (default 500). Each picks a random path of FILELIST (regular files, one per
 *       line) and, timed with CLOCK_MONOTONIC, does open + fstat + pread of SIZE bytes (default
 *       4096) at a random offset aligned to SIZE inside the file (offset 0 when the file is not
 *       larger than SIZE) + close. Prints one line:
 *         n=... p50_ms=... p99_ms=... max_ms=... mean_ms=... bytes=...
 *       --csv FILE writes one row per read: i,ms,bytes,offset,path.
 *   randread --seq FILE [--bs BYTES] [--misalign BYTES]
 *       Reads FILE from start to end with read() of BS bytes (default 1M), timed from open to
 *       close, into a page-aligned buffer, as cat, cp and dd allocate theirs; --misalign starts
 *       it BYTES past a page boundary instead (a large malloc gives 16). Prints:
 *         bytes=... seconds=... MBps=...   (MB = 10^6 bytes)
 *       The buffer matters: on the bench VM's EPYC the kernel copied the page cache into a
 *       buffer that was not 64-byte aligned at 1.5-2 GB/s, into an aligned one at 6-9 GB/s (from
 *       ext4 and FUSE alike), so the reader's copy, not the file system, can set the pace.
 *
 * Sizes take a K, M or G suffix (powers of 1024). Any failed open or read is an error (exit 1):
 * a benchmark of a broken mount must not look fast. Exit 2 on usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* strerror without its shared buffer (GNU strerror_r: _GNU_SOURCE comes from CMake). */
static const char *errmsg(int e)
{
    static _Thread_local char buf[128];
    return strerror_r(e, buf, sizeof(buf));
}

#define MAX_READS 10000000UL

static _Noreturn void usage_exit(const char *msg)
{
    if (msg)
        fprintf(stderr, "randread: %s\n", msg);
    fprintf(stderr, "usage: randread [--seed N] [--count N] [--size BYTES] [--csv FILE] FILELIST\n"
                    "       randread --seq FILE [--bs BYTES] [--misalign BYTES]\n");
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "4096", "4K", "1M", "2G" -> bytes; 0 on a bad value */
static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return 0;
    static const char units[] = "KMG";
    uint64_t mul = 1;
    const char *u = *end ? strchr(units, *end & ~0x20) : NULL;
    if (u && *u) {
        mul = 1ULL << (10 * (u - units + 1));
        end++;
    }
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    if (*end || v > UINT64_MAX / mul)
        return 0;
    return (uint64_t)v * mul;
}

static uint64_t parse_count(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "randread: %s: bad number '%s'\n", opt, s);
        exit(2);
    }
    return (uint64_t)v;
}

/* splitmix64: small, seedable, good enough to pick files and offsets */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* uniform in [0, n), n > 0 */
static uint64_t rng_below(uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do
        x = rng_next();
    while (x >= limit);
    return x % n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "randread: out of memory\n");
        exit(1);
    }
    return p;
}

/* The paths of FILELIST, one per line (empty lines skipped). */
static char **read_list(const char *file, size_t *n_out)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "randread: %s: %s\n", file, errmsg(errno));
        exit(1);
    }
    size_t n = 0, cap = 1024;
    char **paths = xmalloc(cap * sizeof(*paths));
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap) {
            cap *= 2;
            char **p = realloc(paths, cap * sizeof(*paths));
            if (!p) {
                fprintf(stderr, "randread: out of memory\n");
                exit(1);
            }
            paths = p;
        }
        paths[n] = xmalloc((size_t)len + 1);
        memcpy(paths[n++], line, (size_t)len + 1);
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    if (bad) {
        fprintf(stderr, "randread: %s: read error\n", file);
        exit(1);
    }
    if (n == 0) {
        fprintf(stderr, "randread: %s: no paths\n", file);
        exit(1);
    }
    *n_out = n;
    return paths;
}

/* One timed read: open, fstat (the file's size picks the offset), pread SIZE, close. */
static double one_read(const char *path, uint64_t size, char *buf, uint64_t *off_out,
                       uint64_t *got_out)
{
    double t0 = now_s();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "randread: open %s: %s\n", path, errmsg(errno));
        exit(1);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fprintf(stderr, "randread: fstat %s: %s\n", path, errmsg(errno));
        exit(1);
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "randread: %s: not a regular file\n", path);
        exit(1);
    }
    uint64_t fsize = (uint64_t)st.st_size, off = 0;
    if (fsize > size)
        off = rng_below(fsize / size) * size; /* aligned, and (fsize / size) * size <= fsize */
    uint64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf + got, (size_t)(size - got), (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "randread: read %s at %llu: %s\n", path,
                    (unsigned long long)(off + got), errmsg(errno));
            exit(1);
        }
        if (r == 0)
            break;
        got += (uint64_t)r;
    }
    if (close(fd) < 0) {
        fprintf(stderr, "randread: close %s: %s\n", path, errmsg(errno));
        exit(1);
    }
    double dt = now_s() - t0;
    *off_out = off;
    *got_out = got;
    return dt;
}

static int run_random(const char *list, uint64_t seed, uint64_t count, uint64_t size,
                      const char *csv)
{
    size_t n_paths;
    char **paths = read_list(list, &n_paths);
    char *buf = xmalloc((size_t)size);
    double *ms = xmalloc((size_t)count * sizeof(*ms));
    FILE *out = NULL;
    if (csv) {
        out = fopen(csv, "w");
        if (!out) {
            fprintf(stderr, "randread: %s: %s\n", csv, errmsg(errno));
            return 1;
        }
        fprintf(out, "i,ms,bytes,offset,path\n");
    }
    rng_state = seed;
    uint64_t total = 0;
    double sum = 0;
    for (uint64_t i = 0; i < count; i++) {
        const char *p = paths[rng_below(n_paths)];
        uint64_t off, got;
        ms[i] = one_read(p, size, buf, &off, &got) * 1e3;
        sum += ms[i];
        total += got;
        if (out)
            fprintf(out, "%llu,%.4f,%llu,%llu,%s\n", (unsigned long long)i, ms[i],
                    (unsigned long long)got, (unsigned long long)off, p);
    }
    if (out && fclose(out) != 0) {
        fprintf(stderr, "randread: %s: write error\n", csv);
        return 1;
    }
    qsort(ms, (size_t)count, sizeof(*ms), cmp_double);
    printf("n=%llu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f bytes=%llu\n",
           (unsigned long long)count, ms[count / 2], ms[(size_t)((double)(count - 1) * 0.99)],
           ms[count - 1], sum / (double)count, (unsigned long long)total);
    for (size_t i = 0; i < n_paths; i++)
        free(paths[i]);
    free(paths);
    free(buf);
    free(ms);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int run_seq(const char *file, uint64_t bs, uint64_t misalign)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t align = page > 0 ? (size_t)page : 4096;
    char *base = aligned_alloc(align, ((size_t)(bs + misalign) + align - 1) / align * align);
    if (!base) {
        fprintf(stderr, "randread: out of memory\n");
        exit(1);
    }
    char *buf = base + misalign;
    double t0 = now_s();
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "randread: open %s: %s\n", file, errmsg(errno));
        return 1;
    }
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, (size_t)bs);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "randread: read %s at %llu: %s\n", file, (unsigned long long)total,
                    errmsg(errno));
            return 1;
        }
        if (r == 0)
            break;
        total += (uint64_t)r;
    }
    if (close(fd) < 0) {
        fprintf(stderr, "randread: close %s: %s\n", file, errmsg(errno));
        return 1;
    }
    double dt = now_s() - t0;
    printf("bytes=%llu seconds=%.3f MBps=%.1f\n", (unsigned long long)total, dt,
           dt > 0 ? (double)total / 1e6 / dt : 0.0);
    free(base);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 42, count = 500, size = 4096, bs = 1 << 20, misalign = 0;
    const char *csv = NULL, *seq = NULL, *list = NULL;
    int seq_opts = 0, random_opts = 0;
    static const char *const valued[] = {"--seed", "--count", "--size",    "--csv",
                                         "--seq",  "--bs",    "--misalign"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
            if (strcmp(a, valued[k]) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "randread: %s needs a value\n", a);
                    exit(2);
                }
                v = argv[++i];
            }
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage_exit(NULL);
        } else if (strcmp(a, "--seed") == 0) {
            seed = parse_count(a, v);
            random_opts = 1;
        } else if (strcmp(a, "--count") == 0) {
            count = parse_count(a, v);
            random_opts = 1;
        } else if (strcmp(a, "--size") == 0) {
            size = parse_size(v);
            random_opts = 1;
            if (!size)
                usage_exit("--size: want a positive size such as 4096, 64K, 1M");
        } else if (strcmp(a, "--csv") == 0) {
            csv = v;
            random_opts = 1;
        } else if (strcmp(a, "--seq") == 0) {
            seq = v;
        } else if (strcmp(a, "--bs") == 0) {
            bs = parse_size(v);
            seq_opts = 1;
            if (!bs || bs > (1ULL << 30))
                usage_exit("--bs: want a size from 1 to 1G");
        } else if (strcmp(a, "--misalign") == 0) {
            misalign = parse_count(a, v);
            seq_opts = 1;
            if (misalign >= 4096)
                usage_exit("--misalign: want 0 to 4095 bytes");
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "randread: bad option '%s'\n", a);
            usage_exit(NULL);
        } else if (!list) {
            list = a;
        } else {
            usage_exit("expected one FILELIST");
        }
    }
    if (seq) {
        if (list || random_opts)
            usage_exit("--seq FILE takes only --bs and --misalign");
        return run_seq(seq, bs, misalign);
    }
    if (seq_opts)
        usage_exit("--bs and --misalign go with --seq");
    if (!list)
        usage_exit("expected a FILELIST");
    if (count == 0 || count > MAX_READS)
        usage_exit("--count: want 1 to 10000000");
    if (size > (1ULL << 30))
        usage_exit("--size: at most 1G");
    return run_random(list, seed, count, size, csv);
}
