/* Walk an uncompressed tar stream with libarchive into index entries: exact data offsets, metadata,
 * xattrs, sparse maps, and the sha256 of each regular file's content. */
#include "archive/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#define READ_CHUNK (1u << 20)
#define MAX_XATTRS 4096
#define MAX_SPARSE (1u << 20)
/* Holes of sparse files are hashed as zeros (the index records the expanded file's sha256). A
 * hostile header can claim any size for almost no bytes, so a layer gets this much at most. */
#define MAX_HOLE_BYTES (64ull << 30)

struct walk {
    struct archive *a;
    lzs_archive_read_fn read;
    void *data;
    uint8_t *chunk;
    lzs_error *read_err; /* the caller's failure, preferred over libarchive's message */
    lzs_hasher *hasher;
    struct lzs_index_xattr *xattrs;
    struct lzs_index_sparse *sparse;
    size_t sparse_cap;
    uint64_t hole_bytes; /* hashed as zeros so far, bounded by MAX_HOLE_BYTES */
};

static la_ssize_t walk_read(struct archive *a, void *data, const void **buf)
{
    struct walk *w = data;
    ssize_t n = w->read(w->data, w->chunk, READ_CHUNK, &w->read_err);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", lzs_error_msg(w->read_err));
        return -1;
    }
    *buf = w->chunk;
    return n;
}

/* The message for a libarchive failure: the stream's own error if it caused it. */
static int walk_fail(struct walk *w, const char *where, lzs_error **err)
{
    if (w->read_err) {
        *err = lzs_steal_ptr(&w->read_err);
        return lzs_error_wrap(err, "%s", where);
    }
    const char *msg = archive_error_string(w->a);
    return lzs_error_set(err, EBADMSG, "%s: %s", where, msg ? msg : "invalid tar data");
}

static int entry_type(struct archive_entry *ae, enum lzs_entry_type *out)
{
    if (archive_entry_hardlink(ae)) {
        *out = LZS_ENTRY_HARDLINK;
        return 0;
    }
    switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
        *out = LZS_ENTRY_REG;
        return 0;
    case AE_IFDIR:
        *out = LZS_ENTRY_DIR;
        return 0;
    case AE_IFLNK:
        *out = LZS_ENTRY_SYMLINK;
        return 0;
    case AE_IFCHR:
        *out = LZS_ENTRY_CHAR;
        return 0;
    case AE_IFBLK:
        *out = LZS_ENTRY_BLOCK;
        return 0;
    case AE_IFIFO:
        *out = LZS_ENTRY_FIFO;
        return 0;
    default:
        return -EINVAL;
    }
}

static int collect_xattrs(struct walk *w, struct archive_entry *ae, struct lzs_index_entry *e,
                          lzs_error **err)
{
    int n = archive_entry_xattr_reset(ae);
    if (n > MAX_XATTRS)
        return lzs_error_set(err, E2BIG, "%d xattrs (at most %d)", n, MAX_XATTRS);
    const char *name;
    const void *value;
    size_t size;
    uint32_t i = 0;
    while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK && (int)i < n) {
        if (size > UINT32_MAX)
            return lzs_error_set(err, E2BIG, "xattr %s is too large", name);
        w->xattrs[i++] = (struct lzs_index_xattr){name, value, (uint32_t)size};
    }
    e->nxattrs = i;
    e->xattrs = w->xattrs;
    return 0;
}

static int collect_sparse(struct walk *w, struct archive_entry *ae, struct lzs_index_entry *e,
                          lzs_error **err)
{
    int n = archive_entry_sparse_reset(ae);
    e->nsparse = 0;
    if (n <= 0)
        return 0;
    if ((unsigned)n > MAX_SPARSE)
        return lzs_error_set(err, E2BIG, "sparse map of %d segments (at most %u)", n, MAX_SPARSE);
    if ((size_t)n > w->sparse_cap) {
        void *p = lzs_realloc_array(w->sparse, (size_t)n, sizeof(*w->sparse));
        if (!p)
            return lzs_error_set(err, ENOMEM, "out of memory");
        w->sparse = p;
        w->sparse_cap = (size_t)n;
    }
    la_int64_t off, len;
    while (e->nsparse < (uint32_t)n && archive_entry_sparse_next(ae, &off, &len) == ARCHIVE_OK) {
        if (off < 0 || len < 0)
            return lzs_error_set(err, EINVAL, "negative sparse segment");
        w->sparse[e->nsparse++] = (struct lzs_index_sparse){(uint64_t)off, (uint64_t)len};
    }
    e->sparse = w->sparse;
    return 0;
}

static int hash_zeros(struct walk *w, uint64_t n, lzs_error **err)
{
    static const uint8_t zeros[65536];
    if (n > MAX_HOLE_BYTES - w->hole_bytes)
        return lzs_error_set(err, E2BIG, "sparse holes of more than %llu GiB in the layer",
                             MAX_HOLE_BYTES >> 30);
    w->hole_bytes += n;
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        lzs_hasher_update(w->hasher, zeros, k);
        n -= k;
    }
    return 0;
}

/* Hash the content (sparse holes as zeros) into e->sha256; checks the data is all there. */
static int hash_content(struct walk *w, struct lzs_index_entry *e, uint64_t *hashed,
                        lzs_error **err)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    uint64_t pos = 0;
    int r;
    while ((r = archive_read_data_block(w->a, &buf, &len, &off)) == ARCHIVE_OK) {
        if (off < 0 || (uint64_t)off < pos)
            return lzs_error_set(err, EBADMSG, "data blocks out of order");
        if (hash_zeros(w, (uint64_t)off - pos, err) < 0)
            return -E2BIG;
        lzs_hasher_update(w->hasher, buf, len);
        pos = (uint64_t)off + len;
        *hashed += len;
    }
    if (r != ARCHIVE_EOF)
        return walk_fail(w, "content", err);
    if (pos < e->size && hash_zeros(w, e->size - pos, err) < 0)
        return -E2BIG;
    struct lzs_digest d;
    lzs_hasher_final(w->hasher, &d);
    memcpy(e->sha256, d.bytes, sizeof(e->sha256));
    return 0;
}

static const char *str0(const char *s)
{
    return s ? s : "";
}

/* Fill e from the libarchive entry (strings borrowed from ae). */
static int describe(struct walk *w, struct archive_entry *ae, struct lzs_index_entry *e,
                    lzs_error **err)
{
    *e = (struct lzs_index_entry){0};
    e->path = archive_entry_pathname(ae);
    if (!e->path)
        return lzs_error_set(err, EINVAL, "entry without a usable name");
    if (entry_type(ae, &e->type) < 0)
        return lzs_error_set(err, EINVAL, "unsupported entry type 0%o",
                             (unsigned)archive_entry_filetype(ae));
    e->link = str0(e->type == LZS_ENTRY_HARDLINK ? archive_entry_hardlink(ae)
                                                 : archive_entry_symlink(ae));
    e->uname = str0(archive_entry_uname(ae));
    e->gname = str0(archive_entry_gname(ae));
    e->mode = archive_entry_perm(ae) & 07777;
    if (archive_entry_uid(ae) < 0 || archive_entry_uid(ae) > UINT32_MAX ||
        archive_entry_gid(ae) < 0 || archive_entry_gid(ae) > UINT32_MAX)
        return lzs_error_set(err, EINVAL, "uid or gid out of range");
    e->uid = (uint32_t)archive_entry_uid(ae);
    e->gid = (uint32_t)archive_entry_gid(ae);
    e->mtime_sec = archive_entry_mtime(ae);
    e->mtime_nsec = archive_entry_mtime_is_set(ae) ? (uint32_t)archive_entry_mtime_nsec(ae) : 0;
    e->devmajor = (uint32_t)archive_entry_rdevmajor(ae);
    e->devminor = (uint32_t)archive_entry_rdevminor(ae);
    if (e->type == LZS_ENTRY_REG) {
        if (archive_entry_size(ae) < 0)
            return lzs_error_set(err, EINVAL, "negative size");
        e->size = (uint64_t)archive_entry_size(ae);
        e->offset = (uint64_t)archive_filter_bytes(w->a, 0); /* DESIGN.md: exact data offset */
    }
    int rc = collect_xattrs(w, ae, e, err);
    return rc < 0 ? rc : collect_sparse(w, ae, e, err);
}

static int walk_entries(struct walk *w, lzs_index_writer *iw, struct lzs_archive_stats *st,
                        lzs_error **err)
{
    struct archive_entry *ae;
    int r;
    while ((r = archive_read_next_header(w->a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        struct lzs_index_entry e;
        int rc = describe(w, ae, &e, err);
        if (rc == 0 && e.type == LZS_ENTRY_REG)
            rc = hash_content(w, &e, &st->file_bytes, err);
        if (rc == 0)
            rc = lzs_index_writer_add_entry(iw, &e, err);
        if (rc < 0)
            return lzs_error_wrap(err, "tar entry %" PRIu64 " '%.200s'", st->entries,
                                  str0(archive_entry_pathname(ae)));
        st->entries++;
    }
    if (r != ARCHIVE_EOF) {
        char where[64];
        snprintf(where, sizeof(where), "tar entry %" PRIu64, st->entries);
        return walk_fail(w, where, err);
    }
    return 0;
}

/* libarchive stops at the end-of-archive marker: read the rest (padding) so that the caller's
 * decoder reaches and checks its trailer. */
static int drain(struct walk *w, lzs_error **err)
{
    ssize_t n;
    while ((n = w->read(w->data, w->chunk, READ_CHUNK, err)) > 0)
        ;
    return n < 0 ? (int)n : 0;
}

static void walk_dispose(struct walk *w)
{
    if (w->a)
        archive_read_free(w->a);
    lzs_hasher_free(w->hasher);
    lzs_error_free(&w->read_err);
    free(w->chunk);
    free(w->xattrs);
    free(w->sparse);
}

int lzs_archive_walk(lzs_archive_read_fn read, void *data, lzs_index_writer *iw,
                     struct lzs_archive_stats *stats, lzs_error **err)
{
    struct walk w = {.read = read, .data = data};
    struct lzs_archive_stats st = {0};
    int rc = lzs_hasher_new(&w.hasher, LZS_DIGEST_SHA256, err);
    if (rc < 0)
        return rc;
    w.chunk = malloc(READ_CHUNK);
    w.xattrs = lzs_calloc_array(MAX_XATTRS, sizeof(*w.xattrs));
    w.a = archive_read_new();
    if (!w.chunk || !w.xattrs || !w.a) {
        walk_dispose(&w);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    archive_read_support_format_tar(w.a);
    if (archive_read_open(w.a, &w, NULL, walk_read, NULL) != ARCHIVE_OK)
        rc = walk_fail(&w, "tar", err);
    if (rc == 0)
        rc = walk_entries(&w, iw, &st, err);
    if (rc == 0)
        rc = drain(&w, err);
    if (stats)
        *stats = st;
    walk_dispose(&w);
    return rc;
}
