/* index: the per-layer seekable index (format: docs/index-format.md).
 *
 * Writer: collects checkpoints and tar entries as a layer is decoded, normalises and checks paths,
 * drops entries a later one replaces, synthesises missing parent directories, and serialises.
 * Reader: validates everything once on load, then serves lookups in place from the mapped bytes
 * (mmap of the stored file), so thousands of mounted layers cost page cache, not heap.
 * A bad index is an error naming what is wrong, never a crash or an out-of-bounds read.
 *
 * The index does not interpret checkpoint windows (zseek's encoding) nor file contents. */
#ifndef LZS_INDEX_H
#define LZS_INDEX_H

#include "base/base.h"

#define LZS_INDEX_MEDIA_TYPE "application/vnd.lazysnap.layer.index.v1+zstd"

/* Same values as enum lzs_compression in zseek.h (the index does not depend on zseek). */
enum lzs_index_compression {
    LZS_INDEX_COMP_NONE = 0,
    LZS_INDEX_COMP_GZIP = 1,
    LZS_INDEX_COMP_ZSTD = 2,
};

enum lzs_index_flags {
    LZS_INDEX_SEQUENTIAL = 1u << 0, /* single-frame zstd: a read decodes from the start */
};

struct lzs_index_info {
    enum lzs_index_compression compression;
    uint32_t flags;
    struct lzs_digest blob_digest; /* digest of the compressed layer blob (the layer digest) */
    uint64_t compressed_size;      /* blob size */
    uint64_t uncompressed_size;    /* tar stream size */
    uint64_t span;                 /* checkpoint spacing the index was built with */
};

/* Same fields and kinds as struct lzs_zseek_point. window points into the index (reader) or is
 * copied by the writer. */
struct lzs_index_checkpoint {
    uint64_t in_off;
    uint64_t out_off;
    uint8_t bits;
    uint8_t kind;
    const uint8_t *window;
    uint32_t window_len;
};

enum lzs_entry_type {
    LZS_ENTRY_REG = 0,
    LZS_ENTRY_DIR = 1,
    LZS_ENTRY_SYMLINK = 2,
    LZS_ENTRY_HARDLINK = 3, /* link = the path of the entry it links to */
    LZS_ENTRY_CHAR = 4,
    LZS_ENTRY_BLOCK = 5,
    LZS_ENTRY_FIFO = 6,
};

/* "regular", "directory", "symlink", "hardlink", "char", "block", "fifo" ("unknown" otherwise). */
const char *lzs_index_entry_type_name(enum lzs_entry_type type);

struct lzs_index_xattr {
    const char *name; /* NUL-terminated */
    const uint8_t *value;
    uint32_t value_len;
};

/* A GNU/PAX sparse file: its data is the segments' bytes stored one after another from offset;
 * everything else reads as zeros. */
struct lzs_index_sparse {
    uint64_t off; /* offset in the file */
    uint64_t len;
};

/* One tar entry. Paths are relative, normalised ("usr/bin/env": no leading "/" or "./", no "."
 * or ".." components, no empty components, no trailing "/"); the root directory is "". OCI
 * whiteouts (".wh.NAME", ".wh..wh..opq") are ordinary entries here; fusefs interprets them. */
struct lzs_index_entry {
    const char *path;
    const char *link; /* symlink target (verbatim) or hardlink target path; "" otherwise */
    const char *uname;
    const char *gname;
    enum lzs_entry_type type;
    uint32_t mode; /* permission bits with setuid/setgid/sticky (07777) */
    uint32_t uid;
    uint32_t gid;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    uint32_t devmajor;
    uint32_t devminor;
    uint64_t size;      /* REG: apparent file size; 0 otherwise */
    uint64_t offset;    /* REG: offset of the data in the uncompressed tar stream */
    uint8_t sha256[32]; /* REG: digest of the content (sparse: of the expanded file) */
    uint32_t nxattrs;
    const struct lzs_index_xattr *xattrs; /* writer input; the reader uses lzs_index_xattr_get */
    uint32_t nsparse;                     /* 0: not sparse */
    const struct lzs_index_sparse *sparse;
};

/* ---- writer --------------------------------------------------------------------------------- */

typedef struct lzs_index_writer lzs_index_writer;

int lzs_index_writer_new(lzs_index_writer **out, lzs_error **err);
/* Checkpoints must come in increasing in_off/out_off order, the first at 0/0. */
int lzs_index_writer_add_checkpoint(lzs_index_writer *w, const struct lzs_index_checkpoint *c,
                                    lzs_error **err);
/* Entries in tar order; the entry is copied. The path is normalised here ("./a//b/" -> "a/b",
 * "/etc" -> "etc"); a path with a ".." component, or an empty/"." name other than the root, is
 * -EINVAL naming it. A later entry with the same path replaces the earlier one (as extraction
 * does). Hardlink targets are normalised the same way. */
int lzs_index_writer_add_entry(lzs_index_writer *w, const struct lzs_index_entry *e,
                               lzs_error **err);
/* Serialise (uncompressed) into out. Adds directories that entries need but the tar lacks
 * (mode 0755, uid/gid 0, mtime 0), and the root "" if absent. A hardlink whose target is not a
 * regular file or other entry in the layer is -EINVAL. */
/* Called by lzs_index_writer_add_entry after each entry it kept, with the entry as kept (path and
 * hardlink target normalised, scalars cleared where the type has none, xattrs sorted by name and
 * unique; everything borrowed for the call). A failure fails that add. */
typedef int (*lzs_index_observer_fn)(void *data, const struct lzs_index_entry *e, lzs_error **err);
void lzs_index_writer_observe(lzs_index_writer *w, lzs_index_observer_fn fn, void *data);
int lzs_index_writer_finish(lzs_index_writer *w, const struct lzs_index_info *info,
                            struct lzs_buf *out, lzs_error **err);
void lzs_index_writer_free(lzs_index_writer *w);
LZS_DEFINE_CLEANUP(lzs_index_writer, lzs_index_writer_free)

/* ---- reader --------------------------------------------------------------------------------- */

typedef struct lzs_index lzs_index;

/* Map and validate a stored (uncompressed) index file. */
int lzs_index_open(lzs_index **out, const char *path, lzs_error **err);
/* Validate an index in memory; the bytes are copied. */
int lzs_index_load(lzs_index **out, const void *p, size_t n, lzs_error **err);
lzs_index *lzs_index_ref(lzs_index *idx);
lzs_index *lzs_index_unref(lzs_index *idx); /* returns NULL; NULL-safe */
static inline void lzs_index_unrefp(lzs_index **idx)
{
    lzs_index_unref(*idx);
}

/* Everything below is borrowed from idx and valid while a reference is held. */
const struct lzs_index_info *lzs_index_info(const lzs_index *idx);
size_t lzs_index_size(const lzs_index *idx); /* bytes of the serialised index */

uint32_t lzs_index_checkpoint_count(const lzs_index *idx);
void lzs_index_checkpoint_get(const lzs_index *idx, uint32_t i, struct lzs_index_checkpoint *out);
/* The last checkpoint with out_off <= off (there always is one: the first is at 0). */
uint32_t lzs_index_checkpoint_find(const lzs_index *idx, uint64_t off);

/* Entries are numbered 0..count-1 in path order; 0 is the root directory "". */
uint32_t lzs_index_entry_count(const lzs_index *idx);
/* Fill out with views into the index (xattrs and sparse NULL: use the getters). */
void lzs_index_entry_get(const lzs_index *idx, uint32_t id, struct lzs_index_entry *out);
/* By normalised path; -ENOENT. */
int lzs_index_lookup(const lzs_index *idx, const char *path, uint32_t *id);
/* The parent directory of id (the root is its own parent). */
uint32_t lzs_index_parent(const lzs_index *idx, uint32_t id);
/* A directory's children, in name order: ids[0..*n-1] (borrowed). */
void lzs_index_children(const lzs_index *idx, uint32_t dir, const uint32_t **ids, uint32_t *n);
/* The last path component of id ("" for the root). */
const char *lzs_index_name(const lzs_index *idx, uint32_t id);
void lzs_index_xattr_get(const lzs_index *idx, uint32_t id, uint32_t k,
                         struct lzs_index_xattr *out);
void lzs_index_sparse_get(const lzs_index *idx, uint32_t id, uint32_t k,
                          struct lzs_index_sparse *out);
/* For a hardlink, the id of the regular file it links to (following links); else id. */
uint32_t lzs_index_resolve_hardlink(const lzs_index *idx, uint32_t id);

#endif
