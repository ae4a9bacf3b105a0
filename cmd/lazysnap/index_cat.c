/* lazysnap index cat LAYER INDEX PATH [--offset N] [--length N] [--stats]: one file (or a byte
 * range of it) to stdout by random access only; a whole file is checked against its sha256 in the
 * index. */
#include "cli.h"
#include "layer/layer.h"

#include <getopt.h>

#define CAT_CHUNK (1u << 20)

struct cat_args {
    const char *layer, *index, *path;
    uint64_t offset;
    uint64_t length; /* UINT64_MAX: to the end */
    bool stats;
};

int lzs_cli_copy_file(lzs_file_reader *r, uint64_t offset, uint64_t length, const uint8_t *want,
                      lzs_error **err)
{
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    lzs_autofree uint8_t *buf = malloc(CAT_CHUNK);
    int rc = lzs_hasher_new(&h, LZS_DIGEST_SHA256, err);
    if (rc < 0)
        return rc;
    if (!buf)
        return lzs_error_set(err, ENOMEM, "out of memory");
    uint64_t off = offset, left = length;
    while (left > 0) {
        ssize_t n =
            lzs_file_reader_read(r, off, buf, left < CAT_CHUNK ? (size_t)left : CAT_CHUNK, err);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        lzs_hasher_update(h, buf, (size_t)n);
        if ((rc = lzs_write_full(1, buf, (size_t)n, err)) < 0)
            return lzs_error_wrap(err, "stdout");
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    if (!want)
        return 0;
    struct lzs_digest got;
    lzs_hasher_final(h, &got);
    if (memcmp(got.bytes, want, 32) != 0)
        return lzs_error_set(err, EBADMSG, "content does not match the sha256 in the index");
    return 0;
}

static int cat_path(const struct cat_args *a, lzs_error **err)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    lzs_cleanup(lzs_file_reader_freep) lzs_file_reader *r = NULL;
    const char *path = a->path;
    while (path[0] == '/' || (path[0] == '.' && path[1] == '/'))
        path += path[0] == '/' ? 1 : 2;
    uint32_t id;
    int rc = lzs_index_open(&idx, a->index, err);
    if (rc == 0)
        rc = lzs_blob_open_file(&blob, a->layer, err);
    if (rc == 0 && lzs_index_lookup(idx, path, &id) < 0)
        rc = lzs_error_set(err, ENOENT, "no such file in the layer");
    if (rc == 0)
        rc = lzs_file_reader_new(&r, idx, blob, id, err);
    if (rc == 0) {
        struct lzs_index_entry e;
        lzs_index_entry_get(idx, lzs_index_resolve_hardlink(idx, id), &e);
        bool whole = a->offset == 0 && a->length >= e.size;
        rc = lzs_cli_copy_file(r, a->offset, a->length, whole ? e.sha256 : NULL, err);
    }
    if (rc < 0)
        return lzs_error_wrap(err, "%s", a->path);
    if (a->stats) {
        struct lzs_blob_stats bs;
        lzs_blob_stats(blob, &bs);
        fprintf(stderr,
                "{\"bytes_read\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"decompressed\":%" PRIu64 "}\n",
                bs.bytes_read, bs.reads, lzs_file_reader_decompressed(r));
    }
    return 0;
}

static int parse_cat_args(int argc, char **argv, struct cat_args *a)
{
    static const struct option opts[] = {{"stats", no_argument, NULL, 's'},
                                         {"offset", required_argument, NULL, 'o'},
                                         {"length", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lzs_autoerr lzs_error *err = NULL;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (c == 's')
            a->stats = true;
        else if (c == 'o' && lzs_parse_size(optarg, &a->offset, &err) < 0)
            return lzs_cli_usage_error("--offset: %s", err->msg);
        else if (c == 'n' && lzs_parse_size(optarg, &a->length, &err) < 0)
            return lzs_cli_usage_error("--length: %s", err->msg);
        else if (c == 'h')
            return printf("usage: lazysnap index cat LAYER INDEX PATH [--offset N] [--length N] "
                          "[--stats]\n"),
                   LZS_EXIT_OK;
        else if (c == '?')
            return lzs_cli_usage_error("index cat: bad option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 3)
        return lzs_cli_usage_error("index cat: expected LAYER INDEX PATH");
    a->layer = argv[optind];
    a->index = argv[optind + 1];
    a->path = argv[optind + 2];
    return -1;
}

int lzs_cli_index_cat(int argc, char **argv)
{
    struct cat_args a = {.length = UINT64_MAX};
    int rc = parse_cat_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    lzs_autoerr lzs_error *err = NULL;
    if (cat_path(&a, &err) < 0)
        return lzs_cli_fail(&err);
    return LZS_EXIT_OK;
}
