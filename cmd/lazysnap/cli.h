/* Shared by the CLI's verb files: the verb table and usage-error helpers. */
#ifndef LZS_CLI_H
#define LZS_CLI_H

#include "base/base.h"

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

int lzs_cli_version(int argc, char **argv);

#endif
