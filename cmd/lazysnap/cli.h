/* Shared by the CLI's verb files: the verb table and usage-error helpers. */
#ifndef LZS_CLI_H
#define LZS_CLI_H

#include "base/base.h"

#include <stdio.h>
#include <string.h>

/* Exit codes: 0 ok, 1 failure, 2 usage. */
enum { LZS_EXIT_OK = 0, LZS_EXIT_FAIL = 1, LZS_EXIT_USAGE = 2 };

struct lzs_cli_verb {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the verb */
};

/* Print "lazysnap: <msg> (see 'lazysnap --help')" and return LZS_EXIT_USAGE. */
int lzs_cli_usage_error(const char *fmt, ...) LZS_PRINTF(1, 2);
/* Print "lazysnap: <err's message>", free it, return LZS_EXIT_FAIL. */
int lzs_cli_fail(lzs_error **err);

/* A monotonic clock in seconds, for the durations verbs print. */
double lzs_cli_now_seconds(void);

/* Flush stdout; on a write error print "lazysnap: stdout: <reason>" and return LZS_EXIT_FAIL. */
int lzs_cli_finish_stdout(void);

/* One entry like tar -tv ("drwxr-xr-x root/root 0 2024-01-02 03:04 name/ [-> target]"). */
struct lzs_index_entry;
void lzs_cli_print_long(const struct lzs_index_entry *e, const char *name);

/* Copy [offset, offset+length) of a layer file to stdout (length UINT64_MAX: to the end); with
 * want, check the sha256 of what was copied (the whole file) against it: -EBADMSG, after the
 * bytes were written, so the exit status is what tells. */
typedef struct lzs_file_reader lzs_file_reader;
int lzs_cli_copy_file(lzs_file_reader *r, uint64_t offset, uint64_t length, const uint8_t *want,
                      lzs_error **err);

int lzs_cli_version(int argc, char **argv);
int lzs_cli_index(int argc, char **argv);
int lzs_cli_index_build(int argc, char **argv);
int lzs_cli_index_inspect(int argc, char **argv);
int lzs_cli_index_ls(int argc, char **argv);
int lzs_cli_index_cat(int argc, char **argv);
int lzs_cli_index_create(int argc, char **argv);
int lzs_cli_index_list(int argc, char **argv);
int lzs_cli_cat(int argc, char **argv);
int lzs_cli_ls(int argc, char **argv);
int lzs_cli_mount(int argc, char **argv);
int lzs_cli_umount(int argc, char **argv);
int lzs_cli_stat(int argc, char **argv);
int lzs_cli_pull(int argc, char **argv);

/* Run the verb named by argv[0] from verbs[]; usage error naming `group` otherwise. */
int lzs_cli_dispatch(const char *group, const struct lzs_cli_verb *verbs, size_t n, int argc,
                     char **argv);
/* Print a verb table. */
void lzs_cli_print_verbs(FILE *out, const struct lzs_cli_verb *verbs, size_t n);

#endif
