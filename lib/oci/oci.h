/* oci: image references, media types, descriptors, image manifests and indexes (JSON), platforms.
 *
 * References are normalised exactly as containerd does (github.com/distribution/reference
 * ParseNormalizedNamed + TagNameOnly): "busybox" -> "docker.io/library/busybox:latest".
 * Manifests and indexes are parsed from untrusted bytes into structs this module owns (json-c is
 * private to it: nothing here exposes a json-c type), and written back deterministically, so the
 * digest of a manifest we publish is reproducible. Platform matching follows containerd 1.6's
 * platforms.Only. Nothing here does I/O except lzs_oci_platform_host (uname). */
#ifndef LZS_OCI_H
#define LZS_OCI_H

#include "base/base.h"

/* ---- media types ------------------------------------------------------------------------------
 */

#define LZS_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LZS_OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define LZS_OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define LZS_OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"
#define LZS_OCI_MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define LZS_OCI_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define LZS_OCI_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define LZS_OCI_MT_LAYER_ND "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define LZS_OCI_MT_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define LZS_OCI_MT_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define LZS_OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LZS_OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define LZS_OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define LZS_OCI_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define LZS_OCI_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define LZS_OCI_MT_DOCKER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
/* lazysnap's image index artifact (artifactType) and its per-layer index blobs (layer media
 * type; the same string as LZS_INDEX_MEDIA_TYPE in index.h). */
#define LZS_OCI_MT_LAZYSNAP_INDEX "application/vnd.lazysnap.index.v1"
#define LZS_OCI_MT_LAZYSNAP_LAYER_INDEX "application/vnd.lazysnap.layer.index.v1+zstd"

/* The OCI empty descriptor: the config of artifact manifests, content "{}". */
#define LZS_OCI_EMPTY_JSON "{}"
#define LZS_OCI_EMPTY_DIGEST \
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define LZS_OCI_EMPTY_SIZE 2

/* Annotation lazysnap puts on each layer descriptor of its index artifact. */
#define LZS_OCI_ANNOT_LAYER_DIGEST "dev.lazysnap.layer.digest"

/* Compression of a layer blob. NONE/GZIP/ZSTD have the same values as enum
 * lzs_index_compression in index/index.h (oci does not depend on index, so the numbering is
 * repeated here on purpose: a known value can be cast across). */
enum lzs_oci_compression {
    LZS_OCI_COMP_UNKNOWN = -1, /* not a layer media type we know */
    LZS_OCI_COMP_NONE = 0,
    LZS_OCI_COMP_GZIP = 1,
    LZS_OCI_COMP_ZSTD = 2,
};

/* The compression of a layer media type (OCI, OCI nondistributable, Docker, Docker foreign);
 * parameters after ';' are ignored. NULL or anything else: LZS_OCI_COMP_UNKNOWN. */
enum lzs_oci_compression lzs_oci_layer_compression(const char *media_type);

/* ---- image references ----------------------------------------------------------------------- */

#define LZS_OCI_NAME_MAX 255 /* domain "/" path, as distribution/reference limits it */
#define LZS_OCI_TAG_MAX 128
/* Enough for any formatted reference: name ":" tag "@" digest and the NUL. */
#define LZS_OCI_REF_STR_MAX (LZS_OCI_NAME_MAX + 1 + LZS_OCI_TAG_MAX + 1 + LZS_DIGEST_STR_MAX)

/* A normalised reference. A plain value: it owns no memory, copy it freely. tag is "" when the
 * reference has none (only when it has a digest: a bare name gets "latest"). When both are
 * present both are kept, and the digest is what identifies the content. */
struct lzs_oci_ref {
    char domain[LZS_OCI_NAME_MAX + 1]; /* "docker.io", "localhost:5000", "[::1]:5000" */
    char path[LZS_OCI_NAME_MAX + 1];   /* repository: "library/busybox" */
    char tag[LZS_OCI_TAG_MAX + 1];
    bool has_digest;
    struct lzs_digest digest;
};

/* Parse and normalise s as containerd does. -EINVAL with a message such as
 * "invalid reference 'Foo': repository name must be lowercase". */
int lzs_oci_ref_parse(struct lzs_oci_ref *out, const char *s, lzs_error **err);
/* The full normalised form: "docker.io/library/busybox:latest", "host/repo:tag@sha256:...". */
const char *lzs_oci_ref_string(const struct lzs_oci_ref *r, char buf[LZS_OCI_REF_STR_MAX]);
/* domain "/" path: "docker.io/library/busybox". */
const char *lzs_oci_ref_name(const struct lzs_oci_ref *r, char buf[LZS_OCI_REF_STR_MAX]);
/* The form docker prints: "busybox:latest", "user/img:1", "localhost:5000/a/b@sha256:...". */
const char *lzs_oci_ref_familiar(const struct lzs_oci_ref *r, char buf[LZS_OCI_REF_STR_MAX]);
/* The host serving the registry API for a reference domain: "registry-1.docker.io" for
 * "docker.io", domain itself otherwise (borrowed: a static string or domain). */
const char *lzs_oci_registry_host(const char *domain);

/* ---- platforms ------------------------------------------------------------------------------- */

#define LZS_OCI_PLATFORM_FIELD_MAX 64
#define LZS_OCI_PLATFORM_STR_MAX (3 * LZS_OCI_PLATFORM_FIELD_MAX)

/* os/architecture/variant use Go's names (linux, amd64, arm64, arm, v7...). A platform parsed
 * from a string or the host owns nothing (os_features NULL); inside a parsed descriptor,
 * os_features belongs to the manifest or index that holds it. */
struct lzs_oci_platform {
    char os[LZS_OCI_PLATFORM_FIELD_MAX];
    char architecture[LZS_OCI_PLATFORM_FIELD_MAX];
    char variant[LZS_OCI_PLATFORM_FIELD_MAX];    /* "" when none */
    char os_version[LZS_OCI_PLATFORM_FIELD_MAX]; /* "" when none */
    char **os_features;
    size_t n_os_features;
};

/* "os/arch[/variant]" ("linux/amd64", "linux/arm64/v8", "linux/arm/v7"), case-insensitive, with
 * containerd's spellings accepted (x86_64, aarch64, armhf...) and normalised. -EINVAL. */
int lzs_oci_platform_parse(struct lzs_oci_platform *out, const char *s, lzs_error **err);
/* The platform for a uname machine name: x86_64 -> linux/amd64, aarch64 -> linux/arm64/v8,
 * armv7l -> linux/arm/v7, i686 -> linux/386, ppc64le, s390x, riscv64... -ENOTSUP otherwise. */
int lzs_oci_platform_from_machine(struct lzs_oci_platform *out, const char *machine,
                                  lzs_error **err);
/* This host's platform (uname). */
int lzs_oci_platform_host(struct lzs_oci_platform *out, lzs_error **err);
/* "os/arch" or "os/arch/variant" into buf; returns buf. */
const char *lzs_oci_platform_format(const struct lzs_oci_platform *p,
                                    char buf[LZS_OCI_PLATFORM_STR_MAX]);
/* How well have serves want, as containerd's platforms.Only(want) orders candidates: 0 is an
 * exact match (after normalising both: arm64 "v8" == ""), higher is a worse fallback (arm64 ->
 * arm/v8..v5; arm/v7 -> v6 -> v5), -1 no match. amd64 never matches 386. */
int lzs_oci_platform_rank(const struct lzs_oci_platform *want, const struct lzs_oci_platform *have);
bool lzs_oci_platform_is_match(const struct lzs_oci_platform *want,
                               const struct lzs_oci_platform *have);

/* ---- descriptors, manifests, indexes ------------------------------------------------------- */

#define LZS_OCI_BODY_MAX (4u << 20)   /* manifests and indexes larger than this are refused */
#define LZS_OCI_ENTRIES_MAX 10000     /* layers, manifests, annotations, urls each */
#define LZS_OCI_SIZE_MAX (1ull << 53) /* largest descriptor size (exact in a JSON double) */

struct lzs_oci_annotation {
    char *key;
    char *value;
};

/* Strings are NUL-terminated UTF-8; optional ones are NULL when absent. */
struct lzs_oci_descriptor {
    char *media_type; /* required */
    struct lzs_digest digest;
    uint64_t size;
    char *artifact_type;
    char **urls;
    size_t n_urls;
    struct lzs_oci_annotation *annotations;
    size_t n_annotations;
    bool has_platform;
    struct lzs_oci_platform platform;
};

/* An OCI image manifest or a Docker v2 schema2 manifest. */
struct lzs_oci_manifest {
    char *media_type; /* as in the body; NULL when absent (write: LZS_OCI_MT_MANIFEST) */
    char *artifact_type;
    struct lzs_oci_descriptor config;
    struct lzs_oci_descriptor *layers;
    size_t n_layers;
    bool has_subject;
    struct lzs_oci_descriptor subject;
    struct lzs_oci_annotation *annotations;
    size_t n_annotations;
};

/* An OCI image index or a Docker manifest list. */
struct lzs_oci_index {
    char *media_type; /* as in the body; NULL when absent (write: LZS_OCI_MT_INDEX) */
    char *artifact_type;
    struct lzs_oci_descriptor *manifests;
    size_t n_manifests;
    bool has_subject;
    struct lzs_oci_descriptor subject;
    struct lzs_oci_annotation *annotations;
    size_t n_annotations;
};

enum lzs_oci_kind { LZS_OCI_KIND_MANIFEST = 1, LZS_OCI_KIND_INDEX = 2 };

/* Which kind a body is: by its "mediaType" field, else by content_type (the HTTP Content-Type,
 * may be NULL; parameters ignored), else by its structure ("manifests" vs "config"/"layers").
 * -EINVAL for bad JSON, an unsupported media type, or a body that is neither. */
int lzs_oci_detect(const void *p, size_t n, const char *content_type, enum lzs_oci_kind *out,
                   lzs_error **err);

/* Parse and validate a manifest (n <= LZS_OCI_BODY_MAX, else -EMSGSIZE; -EINVAL naming the first
 * problem: bad JSON, schemaVersion not 2, a missing or mistyped field, a bad digest, a size < 0 or
 * > 2^53, more than LZS_OCI_ENTRIES_MAX entries, or a body that is an index). content_type as for
 * lzs_oci_detect. *out is the caller's, released with lzs_oci_manifest_free. */
int lzs_oci_manifest_parse(struct lzs_oci_manifest **out, const void *p, size_t n,
                           const char *content_type, lzs_error **err);
/* Same for an image index / manifest list. */
int lzs_oci_index_parse(struct lzs_oci_index **out, const void *p, size_t n,
                        const char *content_type, lzs_error **err);
/* Free a parsed manifest/index and every string in it; NULL-safe. Only for parse results: a
 * struct the caller builds for writing is the caller's to manage. */
void lzs_oci_manifest_free(struct lzs_oci_manifest *m);
void lzs_oci_index_free(struct lzs_oci_index *idx);
LZS_DEFINE_CLEANUP(struct lzs_oci_manifest, lzs_oci_manifest_free)
LZS_DEFINE_CLEANUP(struct lzs_oci_index, lzs_oci_index_free)

/* Fill d with the OCI empty descriptor (media type points at a static string: do not free). */
void lzs_oci_descriptor_empty(struct lzs_oci_descriptor *d);
/* The value of annotation key, or NULL; borrowed from the array. */
const char *lzs_oci_annotation_get(const struct lzs_oci_annotation *a, size_t n, const char *key);

/* Serialise deterministically, appending to out (bounded by out->max): compact JSON, no
 * whitespace, keys in the order of the image-spec Go structs (schemaVersion, mediaType,
 * artifactType, config, layers|manifests, subject, annotations; descriptors: mediaType, digest,
 * size, urls, annotations, platform, artifactType), annotation keys sorted bytewise. The same
 * struct always gives the same bytes. The struct is only read: it may point at static strings.
 * -EINVAL for a descriptor without media type, a size > 2^53, duplicate annotation keys or too
 * many entries. */
int lzs_oci_manifest_write(const struct lzs_oci_manifest *m, struct lzs_buf *out, lzs_error **err);
int lzs_oci_index_write(const struct lzs_oci_index *idx, struct lzs_buf *out, lzs_error **err);

/* The best manifest of idx for want, as containerd picks it: the lowest lzs_oci_platform_rank,
 * ties going to the earliest; entries without a platform only if nothing matches. *out_i is its
 * position in idx->manifests. -ENOENT "no manifest for linux/s390x (available: linux/amd64,
 * linux/arm64/v8)". */
int lzs_oci_index_select(const struct lzs_oci_index *idx, const struct lzs_oci_platform *want,
                         size_t *out_i, lzs_error **err);

#endif
