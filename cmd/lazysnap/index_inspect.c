/* lazysnap index inspect INDEX [--json]: what an index holds. */
#include "cli.h"
#include "index/index.h"
#include "zseek/zseek.h"

#include <getopt.h>

struct summary {
    uint64_t by_type[LZS_ENTRY_FIFO + 1];
    uint64_t file_bytes;
    uint64_t window_bytes;
    uint64_t xattrs;
};

static void summarise(const lzs_index *idx, struct summary *s)
{
    *s = (struct summary){0};
    for (uint32_t i = 0; i < lzs_index_entry_count(idx); i++) {
        struct lzs_index_entry e;
        lzs_index_entry_get(idx, i, &e);
        s->by_type[e.type]++;
        s->file_bytes += e.type == LZS_ENTRY_REG ? e.size : 0;
        s->xattrs += e.nxattrs;
    }
    for (uint32_t i = 0; i < lzs_index_checkpoint_count(idx); i++) {
        struct lzs_index_checkpoint c;
        lzs_index_checkpoint_get(idx, i, &c);
        s->window_bytes += c.window_len;
    }
}

static const char *comp_name(enum lzs_index_compression c)
{
    return lzs_compression_name((enum lzs_compression)c);
}

static void print_text(const lzs_index *idx, const struct summary *s)
{
    const struct lzs_index_info *i = lzs_index_info(idx);
    char d[LZS_DIGEST_STR_MAX], a[32];
    printf("format:            lazysnap layer index v1\n");
    printf("layer digest:      %s\n", lzs_digest_format(&i->blob_digest, d));
    printf("compression:       %s%s\n", comp_name(i->compression),
           i->flags & LZS_INDEX_SEQUENTIAL ? " (single frame: sequential only)" : "");
    printf("compressed size:   %" PRIu64 " (%s)\n", i->compressed_size,
           lzs_format_size(i->compressed_size, a, 32));
    printf("uncompressed size: %" PRIu64 " (%s)\n", i->uncompressed_size,
           lzs_format_size(i->uncompressed_size, a, 32));
    printf("span:              %" PRIu64 "\n", i->span);
    printf("checkpoints:       %u (windows %" PRIu64 " bytes)\n", lzs_index_checkpoint_count(idx),
           s->window_bytes);
    printf("entries:           %u\n", lzs_index_entry_count(idx));
    for (size_t t = 0; t < LZS_ARRAY_SIZE(s->by_type); t++)
        if (s->by_type[t])
            printf("  %-16s %" PRIu64 "\n", lzs_index_entry_type_name(t), s->by_type[t]);
    printf("file bytes:        %" PRIu64 "\n", s->file_bytes);
    printf("index bytes:       %zu\n", lzs_index_size(idx));
}

static int print_json(const lzs_index *idx, const struct summary *s)
{
    const struct lzs_index_info *i = lzs_index_info(idx);
    char d[LZS_DIGEST_STR_MAX];
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    lzs_buf_printf(&b, NULL,
                   "{\"format\":1,\"layer_digest\":\"%s\",\"compression\":\"%s\","
                   "\"sequential\":%s,\"compressed_size\":%" PRIu64
                   ",\"uncompressed_size\":%" PRIu64 ",\"span\":%" PRIu64
                   ",\"checkpoints\":%u,\"window_bytes\":%" PRIu64 ",\"entries\":%u,\"types\":{",
                   lzs_digest_format(&i->blob_digest, d), comp_name(i->compression),
                   i->flags & LZS_INDEX_SEQUENTIAL ? "true" : "false", i->compressed_size,
                   i->uncompressed_size, i->span, lzs_index_checkpoint_count(idx), s->window_bytes,
                   lzs_index_entry_count(idx));
    for (size_t t = 0; t < LZS_ARRAY_SIZE(s->by_type); t++)
        lzs_buf_printf(&b, NULL, "%s\"%s\":%" PRIu64, t ? "," : "", lzs_index_entry_type_name(t),
                       s->by_type[t]);
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_buf_printf(&b, &err, "},\"file_bytes\":%" PRIu64 ",\"index_bytes\":%zu}\n",
                            s->file_bytes, lzs_index_size(idx));
    if (rc < 0)
        fprintf(stderr, "lazysnap: %s\n", err->msg);
    fputs(lzs_buf_cstr(&b), stdout);
    lzs_buf_dispose(&b);
    return rc;
}

int lzs_cli_index_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (c == 'j')
            json = true;
        else if (c == 'h')
            return printf("usage: lazysnap index inspect INDEX [--json]\n"), LZS_EXIT_OK;
        else
            return lzs_cli_usage_error("index inspect: bad option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return lzs_cli_usage_error("index inspect: expected one INDEX file");
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    if (lzs_index_open(&idx, argv[optind], &err) < 0)
        return lzs_cli_fail(&err);
    struct summary s;
    summarise(idx, &s);
    if (!json)
        print_text(idx, &s);
    else if (print_json(idx, &s) < 0)
        return LZS_EXIT_FAIL;
    return lzs_cli_finish_stdout();
}
