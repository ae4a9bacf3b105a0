/* lazysnap index list REF: the index of each layer of an image, and where it was found
 * (Referrers API, sha256-HEX tag, local index directory). */
#include "remote.h"

#include <stdio.h>
#include <string.h>

static void print_text(lzs_image *img)
{
    char tag[LZS_IMAGE_TAG_MAX], ds[LZS_DIGEST_STR_MAX];
    lzs_digest_format(lzs_image_digest(img), ds);
    lzs_image_referrers_tag(lzs_image_digest(img), tag);
    printf("image %s\nmanifest %s\n", lzs_image_name(img), ds);
    printf("%-4s %-20s %10s  %-9s %s\n", "#", "LAYER", "SIZE", "SOURCE", "INDEX");
    for (size_t i = 0; i < lzs_image_layer_count(img); i++) {
        const struct lzs_image_layer *l = lzs_image_layer(img, i);
        char s1[32], is[LZS_DIGEST_STR_MAX], where[512];
        lzs_digest_format(&l->desc.digest, ds);
        if (l->source == LZS_IMAGE_SRC_NONE)
            snprintf(where, sizeof(where), "none (pulled whole)");
        else if (l->source == LZS_IMAGE_SRC_LOCAL)
            snprintf(where, sizeof(where), "%s", l->local_path);
        else
            snprintf(where, sizeof(where), "%s (%" PRIu64 " bytes)%s%s",
                     lzs_digest_format(&l->index_digest, is), l->index_size,
                     l->source == LZS_IMAGE_SRC_TAG ? " via tag " : "",
                     l->source == LZS_IMAGE_SRC_TAG ? tag : "");
        printf("%-4zu %-20.19s %10s  %-9s %s\n", i, ds, lzs_format_size(l->desc.size, s1, 32),
               lzs_image_source_name(l->source), where);
    }
}

static void print_json(lzs_image *img)
{
    struct lzs_buf b = LZS_BUF_INIT(64u << 20);
    char ds[LZS_DIGEST_STR_MAX];
    lzs_buf_printf(&b, NULL, "{\"image\":");
    lzs_buf_append_json_str(&b, lzs_image_name(img), strlen(lzs_image_name(img)), NULL);
    lzs_buf_printf(&b, NULL, ",\"manifest\":\"%s\",\"layers\":[",
                   lzs_digest_format(lzs_image_digest(img), ds));
    for (size_t i = 0; i < lzs_image_layer_count(img); i++) {
        const struct lzs_image_layer *l = lzs_image_layer(img, i);
        lzs_buf_printf(&b, NULL, "%s{\"digest\":\"%s\",\"size\":%" PRIu64 ",\"source\":\"%s\"",
                       i ? "," : "", lzs_digest_format(&l->desc.digest, ds), l->desc.size,
                       lzs_image_source_name(l->source));
        if (l->source == LZS_IMAGE_SRC_LOCAL) {
            lzs_buf_printf(&b, NULL, ",\"path\":");
            lzs_buf_append_json_str(&b, l->local_path, strlen(l->local_path), NULL);
        } else if (l->source != LZS_IMAGE_SRC_NONE) {
            lzs_buf_printf(&b, NULL, ",\"index\":\"%s\",\"index_size\":%" PRIu64,
                           lzs_digest_format(&l->index_digest, ds), l->index_size);
            lzs_buf_printf(&b, NULL, ",\"artifact\":\"%s\"", lzs_digest_format(&l->artifact, ds));
        }
        lzs_buf_printf(&b, NULL, "}");
    }
    lzs_buf_printf(&b, NULL, "]}\n");
    fputs(lzs_buf_cstr(&b), stdout);
    lzs_buf_dispose(&b);
}

int lzs_cli_index_list(int argc, char **argv)
{
    static const struct option opts[] = {LZS_CLI_REMOTE_LONGOPTS,
                                         {"json", no_argument, NULL, 'j'},
                                         {"oci-layout", no_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lzs_cleanup(lzs_cli_remote_dispose) struct lzs_cli_remote r;
    lzs_cli_remote_init(&r);
    bool json = false, layout = false;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        int rc = lzs_cli_remote_option(&r, c, optarg);
        if (rc > 0)
            return rc;
        if (rc == 0)
            continue;
        if (c == 'j')
            json = true;
        else if (c == 'L')
            layout = true;
        else if (c == 'h')
            return printf("usage: lazysnap index list REF [--json] [options]\n"
                          "       lazysnap index list --oci-layout DIR[:TAG] "
                          "[--json]\n" LZS_CLI_REMOTE_USAGE),
                   LZS_EXIT_OK;
        else
            return lzs_cli_usage_error("index list: bad option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return lzs_cli_usage_error("index list: expected one REF");
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_cli_remote_open(&r, argv[optind], layout, &err);
    if (rc == 0)
        rc = lzs_image_find_indexes(r.img, lzs_cli_remote_index_dir(&r), &err);
    if (rc < 0)
        return lzs_cli_fail(&err);
    if (json)
        print_json(r.img);
    else
        print_text(r.img);
    return lzs_cli_finish_stdout();
}
