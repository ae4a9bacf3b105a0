/* index: the byte layout of a serialised index (docs/index-format.md) and the reader's object.
 *
 * Everything is little-endian. Records are read with memcpy-based loads, so only the children
 * table (handed out in place as uint32_t ids) relies on alignment: every section starts at a
 * multiple of 8 inside a buffer that is page- (mmap) or malloc-aligned. */
#ifndef LZS_INDEX_FORMAT_I_H
#define LZS_INDEX_FORMAT_I_H

#include "index/index.h"

#include <endian.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the index is used in place: the reader needs a little-endian host");

#define LZS_IDX_MAGIC "LZSINDEX"
#define LZS_IDX_MAGIC_LEN 8
#define LZS_IDX_VERSION 1u
#define LZS_IDX_HEADER_SIZE 256u
#define LZS_IDX_ALIGN 8u
#define LZS_IDX_MAX_SIZE ((size_t)4 << 30) /* what the writer produces at most */
#define LZS_IDX_XATTR_NAME_MAX 255u        /* XATTR_NAME_MAX */
#define LZS_IDX_NSEC_MAX 999999999u

/* Header field offsets. */
enum {
    LZS_IDX_H_MAGIC = 0,
    LZS_IDX_H_VERSION = 8,
    LZS_IDX_H_HEADER_SIZE = 12,
    LZS_IDX_H_FILE_SIZE = 16,
    LZS_IDX_H_COMPRESSION = 24,
    LZS_IDX_H_FLAGS = 28,
    LZS_IDX_H_DIGEST_ALGO = 32,
    LZS_IDX_H_RESERVED0 = 36, /* u32, zero */
    LZS_IDX_H_DIGEST = 40,    /* 64 bytes, unused tail zero */
    LZS_IDX_H_COMPRESSED_SIZE = 104,
    LZS_IDX_H_UNCOMPRESSED_SIZE = 112,
    LZS_IDX_H_SPAN = 120,
    LZS_IDX_H_SECTIONS = 128,  /* LZS_IDX_SEC_COUNT x {u64 offset, u64 count} */
    LZS_IDX_H_RESERVED1 = 240, /* 16 bytes, zero */
};

/* Sections, in the order they must appear in the file. */
enum lzs_idx_section {
    LZS_IDX_SEC_CHECKPOINTS,
    LZS_IDX_SEC_ENTRIES,
    LZS_IDX_SEC_CHILDREN,
    LZS_IDX_SEC_XATTRS,
    LZS_IDX_SEC_SPARSE,
    LZS_IDX_SEC_STRINGS,
    LZS_IDX_SEC_BLOB,
    LZS_IDX_SEC_COUNT,
};

/* Record sizes per section (strings and blob count bytes). */
#define LZS_IDX_CKPT_SIZE 32u
#define LZS_IDX_ENTRY_SIZE 112u
#define LZS_IDX_CHILD_SIZE 4u
#define LZS_IDX_XATTR_SIZE 16u
#define LZS_IDX_SPARSE_SIZE 16u

/* Checkpoint record. */
enum {
    LZS_IDX_C_IN_OFF = 0,
    LZS_IDX_C_OUT_OFF = 8,
    LZS_IDX_C_WINDOW_OFF = 16,
    LZS_IDX_C_WINDOW_LEN = 24,
    LZS_IDX_C_BITS = 28,
    LZS_IDX_C_KIND = 29,
    LZS_IDX_C_RESERVED = 30, /* u16, zero */
};

/* Checkpoint kinds (the values of enum lzs_zseek_point_kind). */
enum { LZS_IDX_KIND_START, LZS_IDX_KIND_DEFLATE, LZS_IDX_KIND_MEMBER, LZS_IDX_KIND_FRAME };
#define LZS_IDX_KIND_MAX LZS_IDX_KIND_FRAME

/* Entry record. a/b depend on the type: DIR children first/count, REG sparse first/count,
 * HARDLINK target id/0, CHAR and BLOCK devmajor/devminor, others 0/0. */
enum {
    LZS_IDX_E_PATH = 0,
    LZS_IDX_E_NAME_POS = 4,
    LZS_IDX_E_PARENT = 8,
    LZS_IDX_E_LINK = 12,
    LZS_IDX_E_UNAME = 16,
    LZS_IDX_E_GNAME = 20,
    LZS_IDX_E_UID = 24,
    LZS_IDX_E_GID = 28,
    LZS_IDX_E_MTIME_SEC = 32,
    LZS_IDX_E_MTIME_NSEC = 40,
    LZS_IDX_E_MODE = 44,     /* u16 */
    LZS_IDX_E_TYPE = 46,     /* u8 */
    LZS_IDX_E_RESERVED = 47, /* u8, zero */
    LZS_IDX_E_XATTR_FIRST = 48,
    LZS_IDX_E_NXATTRS = 52,
    LZS_IDX_E_A = 56,
    LZS_IDX_E_B = 60,
    LZS_IDX_E_SIZE = 64,
    LZS_IDX_E_OFFSET = 72,
    LZS_IDX_E_SHA256 = 80,
};

/* Xattr record: name (string offset), value_len, value_off (blob). */
enum { LZS_IDX_X_NAME = 0, LZS_IDX_X_VALUE_LEN = 4, LZS_IDX_X_VALUE_OFF = 8 };
/* Sparse record: off, len. */
enum { LZS_IDX_S_OFF = 0, LZS_IDX_S_LEN = 8 };

/* ---- little-endian loads and stores ------------------------------------------------------- */

static inline uint16_t lzs_idx_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}

static inline uint32_t lzs_idx_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static inline uint64_t lzs_idx_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static inline void lzs_idx_put16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, sizeof(v));
}

static inline void lzs_idx_put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static inline void lzs_idx_put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

/* ---- the reader's object ------------------------------------------------------------------ */

struct lzs_index {
    struct lzs_refcount ref;
    const uint8_t *base; /* the whole serialised index */
    size_t size;
    bool mapped; /* munmap (open) rather than free (load) */
    struct lzs_index_info info;
    /* views into base, set by lzs_idx_parse */
    const uint8_t *ckpts;
    uint32_t nckpts;
    const uint8_t *entries;
    uint32_t nentries;
    const uint32_t *children;
    uint32_t nchildren;
    const uint8_t *xattrs;
    uint32_t nxattrs;
    const uint8_t *sparse;
    uint32_t nsparse;
    const char *strings;
    size_t strings_len;
    const uint8_t *blob;
    size_t blob_len;
};

static inline const uint8_t *lzs_idx_entry(const struct lzs_index *idx, uint32_t id)
{
    return idx->entries + (size_t)id * LZS_IDX_ENTRY_SIZE;
}

static inline bool lzs_idx_range_ok(uint64_t off, uint64_t len, uint64_t total)
{
    return off <= total && len <= total - off;
}

static inline bool lzs_idx_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return false;
    }
    return true;
}

/* s as a quoted one-line string for messages: control bytes become '?', long strings are cut
 * with "...". Returns out. */
#define LZS_IDX_QUOTE_MAX 200
const char *lzs_idx_quote(char out[LZS_IDX_QUOTE_MAX], const char *s);

/* Validate the n bytes at p (aligned to 8) completely and set idx's views and info; idx->base
 * and idx->size are set by the caller. -EINVAL (-ENOTSUP for an unknown format version) with a
 * message naming what is wrong. */
int lzs_idx_parse(struct lzs_index *idx, lzs_error **err);
/* Parts of lzs_idx_parse (validate_entry.c), run after the sections and checkpoints. */
int lzs_idx_check_entries(const struct lzs_index *idx, uint32_t *nhardlinks, lzs_error **err);
int lzs_idx_check_hardlinks(const struct lzs_index *idx, lzs_error **err);

#endif
