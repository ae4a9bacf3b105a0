/* lazysnap index ls INDEX [-l]: the files of an index, like tar -t / tar -tv. */
#include "cli.h"
#include "index/index.h"

#include <getopt.h>
#include <time.h>

static void mode_string(const struct lzs_index_entry *e, char out[11])
{
    static const char types[] = "-dlhcbp";
    static const char rwx[] = "rwxrwxrwx";
    out[0] = types[e->type];
    for (int i = 0; i < 9; i++)
        out[1 + i] = (e->mode >> (8 - i)) & 1 ? rwx[i] : '-';
    if (e->mode & 04000)
        out[3] = out[3] == 'x' ? 's' : 'S';
    if (e->mode & 02000)
        out[6] = out[6] == 'x' ? 's' : 'S';
    if (e->mode & 01000)
        out[9] = out[9] == 'x' ? 't' : 'T';
    out[10] = '\0';
}

void lzs_cli_print_long(const struct lzs_index_entry *e, const char *name)
{
    char mode[11], owner[80], size[32], when[32];
    mode_string(e, mode);
    if (*e->uname || *e->gname)
        snprintf(owner, sizeof(owner), "%s/%s", *e->uname ? e->uname : "?",
                 *e->gname ? e->gname : "?");
    else
        snprintf(owner, sizeof(owner), "%u/%u", e->uid, e->gid);
    if (e->type == LZS_ENTRY_CHAR || e->type == LZS_ENTRY_BLOCK)
        snprintf(size, sizeof(size), "%u,%u", e->devmajor, e->devminor);
    else
        snprintf(size, sizeof(size), "%" PRIu64, e->size);
    struct tm tm;
    time_t t = (time_t)e->mtime_sec;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    else
        snprintf(when, sizeof(when), "%" PRId64, e->mtime_sec);
    printf("%s %s %8s %s %s%s", mode, owner, size, when, name, e->type == LZS_ENTRY_DIR ? "/" : "");
    if (e->type == LZS_ENTRY_SYMLINK)
        printf(" -> %s", e->link);
    else if (e->type == LZS_ENTRY_HARDLINK)
        printf(" link to %s", e->link);
    putchar('\n');
}

static void json_hex(struct lzs_buf *b, const uint8_t *p, size_t n)
{
    char hex[2 * 256 + 1];
    lzs_buf_append_str(b, "\"", NULL);
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        lzs_hex_encode(p + i, k, hex);
        lzs_buf_append(b, hex, 2 * k, NULL);
    }
    lzs_buf_append_str(b, "\"", NULL);
}

static void json_str(struct lzs_buf *b, const char *key, const char *v)
{
    lzs_buf_printf(b, NULL, ",\"%s\":", key);
    lzs_buf_append_json_str(b, v, strlen(v), NULL);
}

static void json_extras(struct lzs_buf *b, const lzs_index *idx, uint32_t id,
                        const struct lzs_index_entry *e)
{
    lzs_buf_append_str(b, ",\"xattrs\":{", NULL);
    for (uint32_t k = 0; k < e->nxattrs; k++) {
        struct lzs_index_xattr x;
        lzs_index_xattr_get(idx, id, k, &x);
        if (k)
            lzs_buf_append_str(b, ",", NULL);
        lzs_buf_append_json_str(b, x.name, strlen(x.name), NULL);
        lzs_buf_append_str(b, ":", NULL);
        json_hex(b, x.value, x.value_len);
    }
    lzs_buf_append_str(b, "},\"sparse\":[", NULL);
    for (uint32_t k = 0; k < e->nsparse; k++) {
        struct lzs_index_sparse sp;
        lzs_index_sparse_get(idx, id, k, &sp);
        lzs_buf_printf(b, NULL, "%s[%" PRIu64 ",%" PRIu64 "]", k ? "," : "", sp.off, sp.len);
    }
    lzs_buf_append_str(b, "]", NULL);
}

/* One JSON object a line with every field of the entry (xattr values and sha256 in hex). */
static void print_json(const lzs_index *idx, uint32_t id, const struct lzs_index_entry *e)
{
    struct lzs_buf b = LZS_BUF_INIT((size_t)64 << 20);
    lzs_buf_append_str(&b, "{\"path\":", NULL);
    lzs_buf_append_json_str(&b, e->path, strlen(e->path), NULL);
    lzs_buf_printf(&b, NULL,
                   ",\"type\":\"%s\",\"mode\":%u,\"uid\":%u,\"gid\":%u,\"size\":%" PRIu64
                   ",\"offset\":%" PRIu64 ",\"mtime\":%" PRId64
                   ",\"mtime_nsec\":%u,\"devmajor\":%u,\"devminor\":%u",
                   lzs_index_entry_type_name(e->type), e->mode, e->uid, e->gid, e->size, e->offset,
                   e->mtime_sec, e->mtime_nsec, e->devmajor, e->devminor);
    json_str(&b, "link", e->link);
    json_str(&b, "uname", e->uname);
    json_str(&b, "gname", e->gname);
    lzs_buf_append_str(&b, ",\"sha256\":", NULL);
    json_hex(&b, e->sha256, e->type == LZS_ENTRY_REG ? 32 : 0);
    json_extras(&b, idx, id, e);
    lzs_buf_append_str(&b, "}\n", NULL);
    fputs(lzs_buf_cstr(&b), stdout);
    lzs_buf_dispose(&b);
}

int lzs_cli_index_ls(int argc, char **argv)
{
    static const struct option opts[] = {{"long", no_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool lng = false, json = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "lh", opts, NULL)) != -1;) {
        if (c == 'l')
            lng = true;
        else if (c == 'j')
            json = true;
        else if (c == 'h')
            return printf("usage: lazysnap index ls INDEX [-l | --json]\n"), LZS_EXIT_OK;
        else
            return lzs_cli_usage_error("index ls: bad option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return lzs_cli_usage_error("index ls: expected one INDEX file");
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    if (lzs_index_open(&idx, argv[optind], &err) < 0)
        return lzs_cli_fail(&err);
    for (uint32_t i = 1; i < lzs_index_entry_count(idx); i++) { /* 0 is the root */
        struct lzs_index_entry e;
        lzs_index_entry_get(idx, i, &e);
        if (json)
            print_json(idx, i, &e);
        else if (lng)
            lzs_cli_print_long(&e, e.path);
        else
            printf("%s%s\n", e.path, e.type == LZS_ENTRY_DIR ? "/" : "");
    }
    return lzs_cli_finish_stdout();
}
