/* index: validation of a serialised index, done completely and once, before any accessor runs.
 *
 * Every check is linear in the size of the index: paths are stored in entry order without
 * overlap, and the xattr, sparse and children tables are tiled by the entries in order, so each
 * byte and record is looked at a bounded number of times however hostile the input. */
#include "index/format_i.h"

#define BAD(err, ...) lzs_error_set((err), EINVAL, "index: " __VA_ARGS__)

/* ---- header and sections ------------------------------------------------------------------ */

static int check_header_fields(const uint8_t *h, size_t size, lzs_error **err)
{
    uint32_t version = lzs_idx_u32(h + LZS_IDX_H_VERSION);
    if (version != LZS_IDX_VERSION)
        return lzs_error_set(err, ENOTSUP,
                             "index: format version %" PRIu32 " is not supported (this reader "
                             "knows version %u)",
                             version, LZS_IDX_VERSION);
    uint32_t hsize = lzs_idx_u32(h + LZS_IDX_H_HEADER_SIZE);
    if (hsize != LZS_IDX_HEADER_SIZE)
        return BAD(err, "header: size %" PRIu32 ", expected %u", hsize, LZS_IDX_HEADER_SIZE);
    uint64_t fsize = lzs_idx_u64(h + LZS_IDX_H_FILE_SIZE);
    if (fsize != size)
        return BAD(err, "header: file size %" PRIu64 ", but the index is %zu bytes", fsize, size);
    uint32_t comp = lzs_idx_u32(h + LZS_IDX_H_COMPRESSION);
    if (comp > LZS_INDEX_COMP_ZSTD)
        return BAD(err, "header: unknown compression %" PRIu32, comp);
    uint32_t flags = lzs_idx_u32(h + LZS_IDX_H_FLAGS);
    if (flags & ~(uint32_t)LZS_INDEX_SEQUENTIAL)
        return BAD(err, "header: unknown flags 0x%" PRIx32, flags);
    uint32_t algo = lzs_idx_u32(h + LZS_IDX_H_DIGEST_ALGO);
    if (algo != LZS_DIGEST_SHA256 && algo != LZS_DIGEST_SHA512)
        return BAD(err, "header: unknown digest algorithm %" PRIu32, algo);
    size_t dlen = lzs_digest_len((enum lzs_digest_algo)algo);
    if (!lzs_idx_all_zero(h + LZS_IDX_H_DIGEST + dlen, LZS_DIGEST_MAX_LEN - dlen) ||
        lzs_idx_u32(h + LZS_IDX_H_RESERVED0) != 0 || !lzs_idx_all_zero(h + LZS_IDX_H_RESERVED1, 16))
        return BAD(err, "header: reserved bytes are not zero");
    return 0;
}

static int parse_header(struct lzs_index *idx, lzs_error **err)
{
    const uint8_t *h = idx->base;
    if (idx->size < LZS_IDX_HEADER_SIZE)
        return BAD(err, "truncated: %zu bytes, the header alone is %u", idx->size,
                   LZS_IDX_HEADER_SIZE);
    if (memcmp(h, LZS_IDX_MAGIC, LZS_IDX_MAGIC_LEN) != 0)
        return BAD(err, "bad magic: not a lazysnap layer index");
    int rc = check_header_fields(h, idx->size, err);
    if (rc < 0)
        return rc;
    struct lzs_index_info *info = &idx->info;
    info->compression = (enum lzs_index_compression)lzs_idx_u32(h + LZS_IDX_H_COMPRESSION);
    info->flags = lzs_idx_u32(h + LZS_IDX_H_FLAGS);
    info->blob_digest.algo = (enum lzs_digest_algo)lzs_idx_u32(h + LZS_IDX_H_DIGEST_ALGO);
    memcpy(info->blob_digest.bytes, h + LZS_IDX_H_DIGEST, LZS_DIGEST_MAX_LEN);
    info->compressed_size = lzs_idx_u64(h + LZS_IDX_H_COMPRESSED_SIZE);
    info->uncompressed_size = lzs_idx_u64(h + LZS_IDX_H_UNCOMPRESSED_SIZE);
    info->span = lzs_idx_u64(h + LZS_IDX_H_SPAN);
    return 0;
}

static const struct {
    const char *name;
    uint32_t record;
    uint64_t max; /* records */
} sections[LZS_IDX_SEC_COUNT] = {
    [LZS_IDX_SEC_CHECKPOINTS] = {"checkpoints", LZS_IDX_CKPT_SIZE, UINT32_MAX},
    [LZS_IDX_SEC_ENTRIES] = {"entries", LZS_IDX_ENTRY_SIZE, UINT32_MAX},
    [LZS_IDX_SEC_CHILDREN] = {"children", LZS_IDX_CHILD_SIZE, UINT32_MAX},
    [LZS_IDX_SEC_XATTRS] = {"xattrs", LZS_IDX_XATTR_SIZE, UINT32_MAX},
    [LZS_IDX_SEC_SPARSE] = {"sparse", LZS_IDX_SPARSE_SIZE, UINT32_MAX},
    [LZS_IDX_SEC_STRINGS] = {"strings", 1, UINT32_MAX},
    [LZS_IDX_SEC_BLOB] = {"blob", 1, UINT64_MAX},
};

/* Section s at [*off, *off + *count * record), after prev_end; updates prev_end. */
static int parse_section(const struct lzs_index *idx, int s, uint64_t *prev_end, uint64_t *off,
                         uint64_t *count, lzs_error **err)
{
    const uint8_t *d = idx->base + LZS_IDX_H_SECTIONS + (size_t)s * 16;
    *off = lzs_idx_u64(d);
    *count = lzs_idx_u64(d + 8);
    const char *name = sections[s].name;
    if (*count > sections[s].max)
        return BAD(err, "section %s: %" PRIu64 " records, at most %" PRIu64, name, *count,
                   sections[s].max);
    uint64_t bytes = *count * sections[s].record; /* cannot overflow: see the maxima */
    if (*off % LZS_IDX_ALIGN != 0)
        return BAD(err, "section %s: offset %" PRIu64 " is not a multiple of %u", name, *off,
                   LZS_IDX_ALIGN);
    if (*off < *prev_end)
        return BAD(err,
                   "section %s: offset %" PRIu64 " overlaps what precedes it (up to %" PRIu64 ")",
                   name, *off, *prev_end);
    if (!lzs_idx_range_ok(*off, bytes, idx->size))
        return BAD(err,
                   "section %s: %" PRIu64 " bytes at offset %" PRIu64
                   " extend past the end of the index (%zu bytes)",
                   name, bytes, *off, idx->size);
    *prev_end = *off + bytes;
    return 0;
}

static int parse_sections(struct lzs_index *idx, lzs_error **err)
{
    uint64_t prev_end = LZS_IDX_HEADER_SIZE, off[LZS_IDX_SEC_COUNT], n[LZS_IDX_SEC_COUNT];
    for (int s = 0; s < LZS_IDX_SEC_COUNT; s++) {
        int rc = parse_section(idx, s, &prev_end, &off[s], &n[s], err);
        if (rc < 0)
            return rc;
    }
    idx->ckpts = idx->base + off[LZS_IDX_SEC_CHECKPOINTS];
    idx->nckpts = (uint32_t)n[LZS_IDX_SEC_CHECKPOINTS];
    idx->entries = idx->base + off[LZS_IDX_SEC_ENTRIES];
    idx->nentries = (uint32_t)n[LZS_IDX_SEC_ENTRIES];
    idx->children = (const uint32_t *)(const void *)(idx->base + off[LZS_IDX_SEC_CHILDREN]);
    idx->nchildren = (uint32_t)n[LZS_IDX_SEC_CHILDREN];
    idx->xattrs = idx->base + off[LZS_IDX_SEC_XATTRS];
    idx->nxattrs = (uint32_t)n[LZS_IDX_SEC_XATTRS];
    idx->sparse = idx->base + off[LZS_IDX_SEC_SPARSE];
    idx->nsparse = (uint32_t)n[LZS_IDX_SEC_SPARSE];
    idx->strings = (const char *)idx->base + off[LZS_IDX_SEC_STRINGS];
    idx->strings_len = (size_t)n[LZS_IDX_SEC_STRINGS];
    idx->blob = idx->base + off[LZS_IDX_SEC_BLOB];
    idx->blob_len = (size_t)n[LZS_IDX_SEC_BLOB];
    if (idx->strings_len == 0 || idx->strings[0] != '\0' ||
        idx->strings[idx->strings_len - 1] != '\0')
        return BAD(err, "section strings: must start and end with a NUL byte");
    return 0;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static int check_checkpoint_order(const struct lzs_index *idx, uint32_t i, lzs_error **err)
{
    const uint8_t *c = idx->ckpts + (size_t)i * LZS_IDX_CKPT_SIZE;
    uint64_t in = lzs_idx_u64(c + LZS_IDX_C_IN_OFF), out = lzs_idx_u64(c + LZS_IDX_C_OUT_OFF);
    if (i == 0 && (in != 0 || out != 0))
        return BAD(err, "checkpoint 0: at %" PRIu64 "/%" PRIu64 ", must be at 0/0", in, out);
    if (i > 0) {
        uint64_t pin = lzs_idx_u64(c - LZS_IDX_CKPT_SIZE + LZS_IDX_C_IN_OFF);
        uint64_t pout = lzs_idx_u64(c - LZS_IDX_CKPT_SIZE + LZS_IDX_C_OUT_OFF);
        if (in <= pin || out < pout)
            return BAD(err,
                       "checkpoint %" PRIu32 ": offsets %" PRIu64 "/%" PRIu64
                       " do not follow %" PRIu64 "/%" PRIu64,
                       i, in, out, pin, pout);
    }
    if (in > idx->info.compressed_size || out > idx->info.uncompressed_size)
        return BAD(err,
                   "checkpoint %" PRIu32 ": offsets %" PRIu64 "/%" PRIu64
                   " past the end of the blob or stream",
                   i, in, out);
    return 0;
}

static int check_checkpoint(const struct lzs_index *idx, uint32_t i, lzs_error **err)
{
    const uint8_t *c = idx->ckpts + (size_t)i * LZS_IDX_CKPT_SIZE;
    uint8_t kind = c[LZS_IDX_C_KIND], bits = c[LZS_IDX_C_BITS];
    uint64_t woff = lzs_idx_u64(c + LZS_IDX_C_WINDOW_OFF);
    uint32_t wlen = lzs_idx_u32(c + LZS_IDX_C_WINDOW_LEN);
    if (kind > LZS_IDX_KIND_MAX)
        return BAD(err, "checkpoint %" PRIu32 ": unknown kind %u", i, kind);
    if (bits > 7)
        return BAD(err, "checkpoint %" PRIu32 ": bit offset %u, at most 7", i, bits);
    if (kind != LZS_IDX_KIND_DEFLATE && (bits != 0 || wlen != 0))
        return BAD(err, "checkpoint %" PRIu32 ": only deflate checkpoints have bits or a window",
                   i);
    if (lzs_idx_u16(c + LZS_IDX_C_RESERVED) != 0)
        return BAD(err, "checkpoint %" PRIu32 ": reserved bytes are not zero", i);
    if (!lzs_idx_range_ok(woff, wlen, idx->blob_len))
        return BAD(err,
                   "checkpoint %" PRIu32 ": window %" PRIu64 "+%" PRIu32
                   " outside the blob section (%zu bytes)",
                   i, woff, wlen, idx->blob_len);
    return check_checkpoint_order(idx, i, err);
}

static int check_checkpoints(const struct lzs_index *idx, lzs_error **err)
{
    if (idx->nckpts == 0)
        return BAD(err, "no checkpoints: the first must be at offset 0");
    for (uint32_t i = 0; i < idx->nckpts; i++) {
        int rc = check_checkpoint(idx, i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- the whole index ---------------------------------------------------------------------- */

static int check_children(const struct lzs_index *idx, lzs_error **err)
{
    for (uint32_t d = 0; d < idx->nentries; d++) {
        const uint8_t *e = lzs_idx_entry(idx, d);
        if (e[LZS_IDX_E_TYPE] != LZS_ENTRY_DIR)
            continue;
        uint32_t first = lzs_idx_u32(e + LZS_IDX_E_A), n = lzs_idx_u32(e + LZS_IDX_E_B);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t c = le32toh(idx->children[first + k]);
            char q[LZS_IDX_QUOTE_MAX];
            if (c <= d || c >= idx->nentries ||
                lzs_idx_u32(lzs_idx_entry(idx, c) + LZS_IDX_E_PARENT) != d)
                return BAD(err, "directory %" PRIu32 " %s: child %" PRIu32 " is not its child", d,
                           lzs_idx_quote(q, idx->strings + lzs_idx_u32(e)), c);
            if (k > 0 && c <= le32toh(idx->children[first + k - 1]))
                return BAD(err, "directory %" PRIu32 " %s: children are not in name order", d,
                           lzs_idx_quote(q, idx->strings + lzs_idx_u32(e)));
        }
    }
    return 0;
}

int lzs_idx_parse(struct lzs_index *idx, lzs_error **err)
{
    int rc = parse_header(idx, err);
    if (rc < 0)
        return rc;
    if ((rc = parse_sections(idx, err)) < 0 || (rc = check_checkpoints(idx, err)) < 0)
        return rc;
    uint32_t nhardlinks = 0;
    if ((rc = lzs_idx_check_entries(idx, &nhardlinks, err)) < 0)
        return rc;
    if ((rc = check_children(idx, err)) < 0)
        return rc;
    return nhardlinks ? lzs_idx_check_hardlinks(idx, err) : 0;
}
