/* lazysnap: the command line. Parses the global options and dispatches to one verb per file. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct lzs_cli_verb verbs[] = {
    {"index", "build, publish, inspect and read layer indexes", lzs_cli_index},
    {"cat", "read a file of a remote image through its indexes: cat REF PATH", lzs_cli_cat},
    {"ls", "list a directory of a remote image: ls REF [DIR] [-l]", lzs_cli_ls},
    {"mount", "mount an image read-only, fetched lazily: mount REF DIR", lzs_cli_mount},
    {"umount", "unmount what mount mounted: umount DIR", lzs_cli_umount},
    {"stat", "bytes fetched and local per layer of a mount: stat DIR", lzs_cli_stat},
    {"pull", "have containerd pull an image through CRI: pull REF [--address SOCK]", lzs_cli_pull},
    {"version", "print the version", lzs_cli_version},
};

static void print_help(FILE *out)
{
    fprintf(out, "usage: lazysnap [--log-level LEVEL] [--log-format text|json] VERB [ARGS...]\n"
                 "       lazysnap --help | --version\n\n"
                 "Lazily pulled container image layers: build and publish seekable indexes,\n"
                 "read and mount images without downloading them.\n\nverbs:\n");
    lzs_cli_print_verbs(out, verbs, LZS_ARRAY_SIZE(verbs));
}

double lzs_cli_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lzs_cli_print_verbs(FILE *out, const struct lzs_cli_verb *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-10s %s\n", v[i].name, v[i].summary);
}

int lzs_cli_dispatch(const char *group, const struct lzs_cli_verb *v, size_t n, int argc,
                     char **argv)
{
    if (argc < 1)
        return lzs_cli_usage_error("%s: missing verb", group);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], v[i].name) == 0) {
            optind = 0; /* glibc: re-initialise getopt; the verb parses from argv[0] */
            return v[i].run(argc, argv);
        }
    }
    return lzs_cli_usage_error("%s: unknown verb '%s'", group, argv[0]);
}

int lzs_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("lazysnap: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'lazysnap --help')\n", stderr);
    return LZS_EXIT_USAGE;
}

int lzs_cli_fail(lzs_error **err)
{
    fprintf(stderr, "lazysnap: %s\n", lzs_error_msg(*err));
    lzs_error_free(err);
    return LZS_EXIT_FAIL;
}

int lzs_cli_finish_stdout(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return LZS_EXIT_OK;
    char buf[128];
    fprintf(stderr, "lazysnap: stdout: %s\n", lzs_strerror(errno, buf, sizeof(buf)));
    return LZS_EXIT_FAIL;
}

int lzs_cli_version(int argc, char **argv)
{
    if (argc > 1)
        return lzs_cli_usage_error("version takes no arguments");
    printf("lazysnap %s\n", lzs_version());
    return LZS_EXIT_OK;
}

static int set_log_option(int opt, const char *value)
{
    const char *name = opt == 'l' ? "level" : "format";
    if (lzs_log_set_option(name, value) < 0)
        return lzs_cli_usage_error("invalid --log-%s '%s'", name, value);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            print_help(stdout);
            return LZS_EXIT_OK;
        case 'V':
            return lzs_cli_version(1, argv);
        case 'l':
        case 'f':
            if ((rc = set_log_option(opt, optarg)) != LZS_EXIT_OK)
                return rc;
            break;
        default:
            if (optopt && strchr("lf", optopt) == NULL)
                return lzs_cli_usage_error("unknown option '-%c'", optopt);
            return lzs_cli_usage_error("unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    return lzs_cli_dispatch("lazysnap", verbs, LZS_ARRAY_SIZE(verbs), argc - optind, argv + optind);
}
