/* image: an image as lazysnap sees it, and the indexes of its layers.
 *
 * - Open: a reference resolved on a registry (or an image in an OCI image layout directory) to
 *   the manifest for a platform, its layers and their compressions.
 * - Find: the lazysnap index of each layer, looked for in order in the Referrers API, the
 *   referrers tag schema ("sha256-HEX" tag: an image index listing the referrers; distribution
 *   2.8 has no Referrers API), and a local index directory.
 * - Publish: an index artifact (OCI manifest, artifactType LZS_OCI_MT_LAZYSNAP_INDEX, subject =
 *   the image manifest, config = the empty descriptor, one layer per layer index annotated with
 *   LZS_OCI_ANNOT_LAYER_DIGEST) pushed to the image's repository with the tag schema updated, or
 *   written into an OCI layout, or index files written to a local index directory.
 * - Read: a file or a directory of the image through its layer indexes only: the uppermost layer
 *   wins, OCI whiteouts (".wh.NAME") and opaque directories (".wh..wh..opq") honoured, symlinks
 *   resolved inside the image.
 *
 * Local index directory layout: DIR/sha256/HEX.index, HEX the hex of the *layer* digest, the
 * index stored uncompressed (the form lzs_index_open maps in place), so that nodes sharing DIR
 * read it without copying. */
#ifndef LZS_IMAGE_H
#define LZS_IMAGE_H

#include "base/base.h"
#include "blob/blob.h"
#include "index/index.h"
#include "layer/layer.h"
#include "oci/oci.h"
#include "registry/registry.h"

typedef struct lzs_image lzs_image;

/* Where a layer's index was found. */
enum lzs_image_source {
    LZS_IMAGE_SRC_NONE = 0,
    LZS_IMAGE_SRC_REFERRERS, /* the Referrers API */
    LZS_IMAGE_SRC_TAG,       /* the sha256-HEX tag */
    LZS_IMAGE_SRC_LOCAL,     /* a local index directory */
    LZS_IMAGE_SRC_LAYOUT,    /* an OCI layout's referrers */
};
/* "-", "referrers", "tag", "local", "layout". */
const char *lzs_image_source_name(enum lzs_image_source s);

struct lzs_image_layer {
    struct lzs_oci_descriptor desc; /* the manifest's layer descriptor (owned by the image) */
    enum lzs_oci_compression compression;
    /* Filled by lzs_image_find_indexes: */
    enum lzs_image_source source;
    struct lzs_digest index_digest; /* the published (zstd) index blob; registry/layout sources */
    uint64_t index_size;
    struct lzs_digest artifact; /* the artifact manifest naming it; registry/layout sources */
    char *local_path;           /* LZS_IMAGE_SRC_LOCAL: the index file */
};

struct lzs_image_open_opts {
    const struct lzs_oci_platform *platform; /* NULL: the host's */
};

/* Resolve ref on repo's registry: fetch the manifest (by digest when ref has one, else by tag),
 * select the platform's manifest from an image index. The image holds a reference to repo. */
int lzs_image_open(lzs_image **out, lzs_repo *repo, const struct lzs_oci_ref *ref,
                   const struct lzs_image_open_opts *opts, lzs_error **err);
/* An image of an OCI image layout: "DIR" (the only image of DIR/index.json) or "DIR:TAG" (its
 * org.opencontainers.image.ref.name). Layers are read from DIR/blobs. */
int lzs_image_open_layout(lzs_image **out, const char *layout,
                          const struct lzs_image_open_opts *opts, lzs_error **err);
void lzs_image_free(lzs_image *img);
LZS_DEFINE_CLEANUP(lzs_image, lzs_image_free)

/* The platform manifest's digest (the subject of index artifacts). */
const struct lzs_digest *lzs_image_digest(const lzs_image *img);
const struct lzs_oci_manifest *lzs_image_manifest(const lzs_image *img);
size_t lzs_image_layer_count(const lzs_image *img);
/* Layer i, 0 = the bottom layer. Borrowed. */
struct lzs_image_layer *lzs_image_layer(lzs_image *img, size_t i);
/* "127.0.0.1:5000/app@sha256:..." or "layout DIR" for messages. */
const char *lzs_image_name(const lzs_image *img);

/* ---- finding and loading layer indexes ------------------------------------------------------ */

/* The referrers tag schema (distribution-spec 1.1): "ALG-HEX" for subject d, HEX truncated to
 * 64 characters ("sha256-<64 hex>"). */
#define LZS_IMAGE_TAG_MAX 80
void lzs_image_referrers_tag(const struct lzs_digest *d, char tag[LZS_IMAGE_TAG_MAX]);

/* Fill source/index_digest/... of every layer: Referrers API, else the tag schema; layers still
 * without an index are looked for in local_dir (NULL: none). Registry errors other than "not
 * found" are errors (a registry that is down is not "no index"). */
int lzs_image_find_indexes(lzs_image *img, const char *local_dir, lzs_error **err);

/* The index of layer i (found before): downloaded and verified against its digest, decompressed
 * (at most LZS_IMAGE_INDEX_MAX bytes), validated, and checked to describe exactly that layer (its
 * blob digest and size) — an index for another layer is -EBADMSG. -ENOENT when the layer has no
 * index. */
#define LZS_IMAGE_INDEX_MAX (1ull << 30)
int lzs_image_load_index(lzs_image *img, size_t i, lzs_index **out, lzs_error **err);
/* The same, keeping a registry's index in dir once downloaded (DIR/ALGO/HEX.index, HEX the
 * index blob's digest, stored uncompressed, and the sha256 of that copy in HEX.index.sha256), so
 * that later calls map it from there; a copy whose sha256 differs, that does not validate or that
 * describes another layer is fetched anew; a copy used has its modification time set to now (its
 * last use: the cache's eviction goes by it when dir is lzs_cache_indexes_dir). dir NULL: nothing
 * kept. */
int lzs_image_load_index_kept(lzs_image *img, size_t i, const char *dir, lzs_index **out,
                              lzs_error **err);

/* Layer i without an index: its whole blob downloaded once into DIR/ALGO/HEX.blob (checked
 * against its digest and size; a layout's blob is used where it is) and indexed on the way, in
 * the same pass, into DIR/ALGO/HEX.index; both are reused by later calls. idx and blob are ready to
 * serve the layer from the local file. */
int lzs_image_fetch_whole(lzs_image *img, size_t i, const char *dir, lzs_index **idx,
                          lzs_blob **blob, lzs_error **err);
/* Whether lzs_image_fetch_whole of layer i would download its blob (from a registry, and not in
 * dir yet). */
bool lzs_image_whole_needs_fetch(lzs_image *img, size_t i, const char *dir);
/* lzs_image_fetch_whole, feeding the index build's hooks (decoded, entry, hook_data of hooks) as
 * the blob streams in, to serve the layer meanwhile (lib/stream), and counting the blob's bytes
 * received into *received. hooks and received may be NULL. */
int lzs_image_fetch_whole_hooked(lzs_image *img, size_t i, const char *dir,
                                 const struct lzs_layer_build_opts *hooks,
                                 _Atomic uint64_t *received, lzs_index **idx, lzs_blob **blob,
                                 lzs_error **err);

/* A blob reader of layer i: range requests on the registry, or the layout's file. */
int lzs_image_open_layer_blob(lzs_image *img, size_t i, lzs_blob **out, lzs_error **err);

/* ---- building and publishing ---------------------------------------------------------------- */

/* Build the index of layer i, streaming its blob once (registry stream or layout file) and
 * verifying its digest and size. out receives the stored (uncompressed) index. */
int lzs_image_build_index(lzs_image *img, size_t i, const struct lzs_layer_build_opts *opts,
                          struct lzs_buf *out, struct lzs_layer_build_result *res, lzs_error **err);

/* One built layer index to publish. */
struct lzs_image_built {
    size_t layer;       /* position in the image */
    const void *stored; /* the index as built (uncompressed) */
    size_t stored_size;
};

struct lzs_image_publish_result {
    struct lzs_digest artifact; /* the artifact manifest */
    uint64_t artifact_size;
    uint64_t pushed_bytes; /* index blobs (compressed) + manifests */
    bool tag_updated;      /* the sha256-HEX tag was (re)written */
};

/* Publish indexes for the image (n of them) as one artifact: to the image's registry (pushing
 * the zstd-compressed index blobs, the empty config, the artifact manifest by digest, then the
 * tag schema index when the registry has no Referrers API: earlier lazysnap artifacts are
 * replaced in it, other referrers kept), or into the image's OCI layout (blobs plus an
 * index.json entry tagged sha256-HEX). */
int lzs_image_publish(lzs_image *img, const struct lzs_image_built *built, size_t n,
                      struct lzs_image_publish_result *res, lzs_error **err);

/* Write index files of the image to local index directory dir (atomically, mode 0644). */
int lzs_image_write_local(const char *dir, const struct lzs_digest *layer, const void *stored,
                          size_t n, lzs_error **err);

/* ---- reading through the layers ------------------------------------------------------------- */

typedef struct lzs_image_view lzs_image_view;

/* A merged view of all layers of img: every layer must have an index (-ENOENT naming the first
 * layer without one). Loads the indexes and opens the blobs (no data is fetched yet). The view
 * borrows img, which must outlive it. One thread at a time (lookup results share a buffer). */
int lzs_image_view_new(lzs_image_view **out, lzs_image *img, lzs_error **err);
void lzs_image_view_free(lzs_image_view *v);
LZS_DEFINE_CLEANUP(lzs_image_view, lzs_image_view_free)

/* What a path is in the merged view: the layer serving it and its entry there. */
struct lzs_image_node {
    size_t layer;
    uint32_t id;
    struct lzs_index_entry entry; /* hardlinks resolved to their target's data */
    /* lookup: the resolved path inside the image (valid until the next lookup); readdir: the
     * entry's name in its own layer */
    const char *path;
};

/* Look path up ("/usr/bin/x", "usr/bin/x"); with follow, symlinks are resolved (also the last
 * component), at most 40 of them, never leaving the image root. -ENOENT, -ENOTDIR, -ELOOP. */
int lzs_image_view_lookup(lzs_image_view *v, const char *path, bool follow,
                          struct lzs_image_node *out, lzs_error **err);

/* The merged children of directory path (symlinks followed), sorted by name: whiteouts removed,
 * lower layers hidden below opaque directories and by non-directories above. The callback
 * gets each name and node; stop early by returning non-zero (returned as is). */
typedef int (*lzs_image_readdir_fn)(void *data, const char *name, const struct lzs_image_node *n);
int lzs_image_view_readdir(lzs_image_view *v, const char *path, lzs_image_readdir_fn fn, void *data,
                           lzs_error **err);

/* A reader of regular file node (from lookup). */
int lzs_image_view_open(lzs_image_view *v, const struct lzs_image_node *node, lzs_file_reader **out,
                        lzs_error **err);

/* Bytes read from the layers' blobs so far, and the index of layer i (borrowed). */
void lzs_image_view_stats(const lzs_image_view *v, struct lzs_blob_stats *out);
lzs_index *lzs_image_view_index(lzs_image_view *v, size_t i);

#endif
