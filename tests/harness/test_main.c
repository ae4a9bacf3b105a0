/* The runner behind tests/harness/test.h. */
#include "test.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum outcome { PASSED, FAILED, SKIPPED };

static struct {
    const char *name;
    lzs_test_fn fn;
} cases[512];
static size_t ncases;
static jmp_buf case_jmp;
static pthread_t case_thread; /* the one that may jump to case_jmp */
static char tmpdir[4096];

void lzs_test_register(const char *name, lzs_test_fn fn)
{
    if (ncases == sizeof(cases) / sizeof(cases[0])) {
        fprintf(stderr, "too many test cases\n");
        abort();
    }
    cases[ncases].name = name;
    cases[ncases++].fn = fn;
}

void lzs_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (!pthread_equal(pthread_self(), case_thread)) {
        /* a helper thread of the case cannot unwind it: the run stops here */
        fprintf(stderr, "FAIL (in a helper thread of the case)\n");
        _exit(1);
    }
    longjmp(case_jmp, 1 + FAILED);
}

void lzs_test_skip(const char *reason)
{
    fprintf(stderr, "  skipped: %s\n", reason);
    longjmp(case_jmp, 1 + SKIPPED);
}

const char *lzs_test_tmpdir(void)
{
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/lzs-unit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        FAIL("mkdtemp %s: %m", tmpdir);
    return tmpdir;
}

const char *lzs_test_path(const char *name)
{
    /* per thread: the readers of a concurrency test each build paths */
    static _Thread_local char slots[4][8192];
    static _Thread_local unsigned next;
    char *p = slots[next++ % 4];
    snprintf(p, sizeof(slots[0]), "%s/%s", lzs_test_tmpdir(), name);
    return p;
}

void lzs_test_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        FAIL("cannot write %s: %m", path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_tmpdir(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

static enum outcome run_case(size_t i)
{
    case_thread = pthread_self();
    int r = setjmp(case_jmp);
    if (r == 0) {
        cases[i].fn();
        r = 1 + PASSED;
    }
    remove_tmpdir();
    return (enum outcome)(r - 1);
}

static bool selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    size_t counts[3] = {0};
    static const char *const words[] = {"ok  ", "FAIL", "skip"};
    for (size_t i = 0; i < ncases; i++) {
        if (!selected(cases[i].name, argc, argv))
            continue;
        enum outcome o = run_case(i);
        counts[o]++;
        printf("%s %s\n", words[o], cases[i].name);
        fflush(stdout);
    }
    printf("%zu passed, %zu failed, %zu skipped\n", counts[PASSED], counts[FAILED],
           counts[SKIPPED]);
    if (counts[FAILED])
        return 1;
    return counts[PASSED] == 0 && counts[SKIPPED] > 0 ? 77 : 0;
}
