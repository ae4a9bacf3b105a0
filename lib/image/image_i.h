/* image: private state shared by the module's files. */
#ifndef LZS_IMAGE_I_H
#define LZS_IMAGE_I_H

#include "image/image.h"

#define LZS_IMAGE_NAME_MAX (LZS_OCI_REF_STR_MAX + 16)
/* OCI layout annotation naming a manifest ("tag"). */
#define LZS_IMAGE_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
/* OCI layer whiteouts: ".wh.NAME" deletes NAME of the layers below, ".wh..wh..opq" hides
 * everything the layers below have in its directory. */
#define LZS_IMAGE_WH_PREFIX ".wh."
#define LZS_IMAGE_WH_OPAQUE ".wh..wh..opq"
/* A compressed index larger than this is not fetched. */
#define LZS_IMAGE_INDEX_BLOB_MAX (256u << 20)

struct lzs_image {
    lzs_repo *repo;   /* registry images */
    char *layout_dir; /* layout images */
    struct lzs_oci_ref ref;
    struct lzs_digest digest; /* the platform manifest */
    char *media_type;         /* its media type */
    struct lzs_buf body;      /* its bytes */
    struct lzs_oci_manifest *manifest;
    struct lzs_image_layer *layers;
    size_t n_layers;
    char name[LZS_IMAGE_NAME_MAX];
};

/* DIR SUB "/" ALGO "/" HEX SUFFIX into a new string; NULL on ENOMEM. */
char *lzs_image_digest_path(const char *dir, const char *sub, const struct lzs_digest *d,
                            const char *suffix);
/* DIR/blobs/ALGO/HEX into a new string; NULL on ENOMEM. */
char *lzs_image_layout_blob_path(const char *dir, const struct lzs_digest *d);
/* Read blob d of a layout into b (bounded by b->max) and verify it. */
int lzs_image_layout_read_blob(const char *dir, const struct lzs_digest *d, struct lzs_buf *b,
                               lzs_error **err);
/* Write blob p[0..n) into the layout under its digest (atomically; kept when present). */
int lzs_image_layout_write_blob(const char *dir, const void *p, size_t n, struct lzs_digest *out,
                                lzs_error **err);
/* DIR/ALGO/HEX.index for a layer digest; NULL on ENOMEM. */
char *lzs_image_local_path(const char *dir, const struct lzs_digest *layer);
/* Parse DIR/index.json. */
int lzs_image_layout_index(const char *dir, struct lzs_oci_index **out, lzs_error **err);

/* Is this artifactType lazysnap's index artifact? (NULL: no) */
bool lzs_image_is_index_artifact(const char *artifact_type);
/* Fill img->layers from img->manifest. */
int lzs_image_init_layers(lzs_image *img, lzs_error **err);
/* Parse body as a manifest or an index; for an index pick the platform's manifest and fetch it
 * with get(), then parse it. On success img->manifest/body/digest/media_type are set. */
typedef int (*lzs_image_get_fn)(void *data, const struct lzs_digest *d, struct lzs_buf *body,
                                char **content_type, lzs_error **err);
int lzs_image_select(lzs_image *img, struct lzs_buf *body, char *content_type,
                     const struct lzs_digest *digest, const struct lzs_image_open_opts *opts,
                     lzs_image_get_fn get, void *data, lzs_error **err);

/* view.c for readdir.c: does layer hide path p of the layers below it; the number of layers. */
bool lzs_image_view_layer_hides(lzs_image_view *v, size_t layer, const char *p);
size_t lzs_image_view_layers(const lzs_image_view *v);

#endif
