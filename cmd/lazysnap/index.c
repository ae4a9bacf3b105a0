/* lazysnap index VERB: build, inspect, list and read layer indexes. */
#include "cli.h"

static const struct lzs_cli_verb index_verbs[] = {
    {"create", "index an image's layers and publish: index create REF | --oci-layout DIR[:TAG]",
     lzs_cli_index_create},
    {"list", "the indexes of an image and where they are: index list REF", lzs_cli_index_list},
    {"build", "build the index of a layer blob: index build LAYER [-o INDEX] [--span BYTES]",
     lzs_cli_index_build},
    {"inspect", "describe an index: index inspect INDEX [--json]", lzs_cli_index_inspect},
    {"ls", "list an index's files like tar -tv: index ls INDEX [-l]", lzs_cli_index_ls},
    {"cat", "read one file by random access: index cat LAYER INDEX PATH [--stats]",
     lzs_cli_index_cat},
};

int lzs_cli_index(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: lazysnap index VERB [ARGS...]\n\nverbs:\n");
        lzs_cli_print_verbs(stdout, index_verbs, LZS_ARRAY_SIZE(index_verbs));
        return LZS_EXIT_OK;
    }
    return lzs_cli_dispatch("index", index_verbs, LZS_ARRAY_SIZE(index_verbs), argc - 1, argv + 1);
}
