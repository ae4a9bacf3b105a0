/* index: validation of the entry table, its strings, xattrs, sparse maps and hardlinks. */
#include "index/format_i.h"

#define BAD(err, ...) lzs_error_set((err), EINVAL, "index: " __VA_ARGS__)

/* Running state of the entry pass. */
struct vctx {
    const struct lzs_index *idx;
    const char *prev;  /* the previous entry's path */
    const char *path;  /* the current entry's */
    uint64_t path_end; /* first string offset after the previous entry's path */
    uint64_t children_used, xattrs_used, sparse_used;
    uint32_t nhardlinks;
    char q[LZS_IDX_QUOTE_MAX];
};

/* The current entry's path, quoted for a message (only when there is one to write). */
#define Q(v) lzs_idx_quote((v)->q, (v)->path)

const char *lzs_idx_quote(char out[LZS_IDX_QUOTE_MAX], const char *s)
{
    size_t o = 0;
    out[o++] = '\'';
    for (; *s && o < LZS_IDX_QUOTE_MAX - 5; s++)
        out[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    if (*s) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

/* NULL if the non-empty path p is normalised, else what is wrong; *name_pos: start of the last
 * component. */
static const char *path_problem(const char *p, size_t len, size_t *name_pos)
{
    if (p[0] == '/')
        return "starts with '/'";
    if (p[len - 1] == '/')
        return "ends with '/'";
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        size_t n = i - start;
        if (n == 0)
            return "has an empty component";
        if (p[start] == '.' && (n == 1 || (n == 2 && p[start + 1] == '.')))
            return n == 1 ? "has a '.' component" : "has a '..' component";
        *name_pos = start;
        start = i + 1;
    }
    return NULL;
}

static int check_path(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    uint32_t off = lzs_idx_u32(e + LZS_IDX_E_PATH);
    if (off >= v->idx->strings_len)
        return BAD(err, "entry %" PRIu32 ": path offset %" PRIu32 " outside the string table", i,
                   off);
    if (i > 0 && off < v->path_end)
        return BAD(err, "entry %" PRIu32 ": path string overlaps the previous entry's", i);
    const char *p = v->idx->strings + off;
    size_t len = strlen(p), name_pos = 0; /* the table ends with a NUL */
    v->path_end = (uint64_t)off + len + 1;
    v->prev = v->path;
    v->path = p;
    if (i == 0 && len != 0)
        return BAD(err, "entry 0 %s: the first entry must be the root \"\"", Q(v));
    if (i > 0 && len == 0)
        return BAD(err, "entry %" PRIu32 ": empty path (only entry 0 is the root)", i);
    const char *why = len ? path_problem(p, len, &name_pos) : NULL;
    if (why)
        return BAD(err, "entry %" PRIu32 " %s: path %s", i, Q(v), why);
    if (i > 0 && strcmp(v->prev, p) >= 0)
        return BAD(err, "entry %" PRIu32 " %s: not after the previous path (duplicate or unsorted)",
                   i, Q(v));
    if (lzs_idx_u32(e + LZS_IDX_E_NAME_POS) != name_pos)
        return BAD(err, "entry %" PRIu32 " %s: name position %" PRIu32 ", expected %zu", i, Q(v),
                   lzs_idx_u32(e + LZS_IDX_E_NAME_POS), name_pos);
    return 0;
}

static int check_fields(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    uint8_t type = e[LZS_IDX_E_TYPE];
    if (type > LZS_ENTRY_FIFO)
        return BAD(err, "entry %" PRIu32 " %s: unknown type %u", i, Q(v), type);
    if (e[LZS_IDX_E_RESERVED] != 0)
        return BAD(err, "entry %" PRIu32 " %s: reserved byte is not zero", i, Q(v));
    if (lzs_idx_u16(e + LZS_IDX_E_MODE) > 07777)
        return BAD(err, "entry %" PRIu32 " %s: mode 0%o has bits beyond 07777", i, Q(v),
                   lzs_idx_u16(e + LZS_IDX_E_MODE));
    if (lzs_idx_u32(e + LZS_IDX_E_MTIME_NSEC) > LZS_IDX_NSEC_MAX)
        return BAD(err, "entry %" PRIu32 " %s: mtime nanoseconds %" PRIu32 " out of range", i, Q(v),
                   lzs_idx_u32(e + LZS_IDX_E_MTIME_NSEC));
    if (i == 0 && type != LZS_ENTRY_DIR)
        return BAD(err, "entry 0: the root is not a directory");
    return 0;
}

static int check_parent(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    uint32_t par = lzs_idx_u32(e + LZS_IDX_E_PARENT);
    if (i == 0)
        return par == 0 ? 0 : BAD(err, "entry 0: the root's parent must be itself");
    if (par >= i)
        return BAD(err, "entry %" PRIu32 " %s: parent %" PRIu32 " does not come before it", i, Q(v),
                   par);
    const uint8_t *pe = lzs_idx_entry(v->idx, par);
    if (pe[LZS_IDX_E_TYPE] != LZS_ENTRY_DIR)
        return BAD(err, "entry %" PRIu32 " %s: parent is not a directory", i, Q(v));
    const char *pp = v->idx->strings + lzs_idx_u32(pe + LZS_IDX_E_PATH);
    size_t n = lzs_idx_u32(e + LZS_IDX_E_NAME_POS); /* the parent's path is p[0, n - 1) */
    size_t plen = n ? n - 1 : 0;
    if (strncmp(pp, v->path, plen) != 0 || pp[plen] != '\0')
        return BAD(err, "entry %" PRIu32 " %s: parent %" PRIu32 " is not its directory", i, Q(v),
                   par);
    return 0;
}

/* A string offset: inside the table (which ends with a NUL, so the string is terminated). */
static int check_string(struct vctx *v, uint32_t i, const uint8_t *e, int field, const char *what,
                        lzs_error **err)
{
    uint32_t off = lzs_idx_u32(e + field);
    if (off >= v->idx->strings_len)
        return BAD(err, "entry %" PRIu32 " %s: %s offset %" PRIu32 " outside the string table", i,
                   Q(v), what, off);
    return 0;
}

static int check_strings(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    int rc;
    if ((rc = check_string(v, i, e, LZS_IDX_E_LINK, "link", err)) < 0 ||
        (rc = check_string(v, i, e, LZS_IDX_E_UNAME, "uname", err)) < 0 ||
        (rc = check_string(v, i, e, LZS_IDX_E_GNAME, "gname", err)) < 0)
        return rc;
    uint8_t type = e[LZS_IDX_E_TYPE];
    const char *link = v->idx->strings + lzs_idx_u32(e + LZS_IDX_E_LINK);
    if (type == LZS_ENTRY_SYMLINK && link[0] == '\0')
        return BAD(err, "entry %" PRIu32 " %s: symlink with an empty target", i, Q(v));
    if (type != LZS_ENTRY_SYMLINK && type != LZS_ENTRY_HARDLINK && link[0] != '\0')
        return BAD(err, "entry %" PRIu32 " %s: link target on a non-link", i, Q(v));
    return 0;
}

static int check_xattr(struct vctx *v, uint32_t i, uint32_t k, const char **prev, lzs_error **err)
{
    const uint8_t *x = v->idx->xattrs + (size_t)k * LZS_IDX_XATTR_SIZE;
    uint32_t off = lzs_idx_u32(x + LZS_IDX_X_NAME);
    if (off >= v->idx->strings_len)
        return BAD(err, "entry %" PRIu32 " %s: xattr name outside the string table", i, Q(v));
    const char *name = v->idx->strings + off;
    size_t max = v->idx->strings_len - off;
    size_t len = strnlen(name, max < 256 ? max : 256);
    if (len == 0 || len > LZS_IDX_XATTR_NAME_MAX)
        return BAD(err, "entry %" PRIu32 " %s: xattr name empty or longer than %u bytes", i, Q(v),
                   LZS_IDX_XATTR_NAME_MAX);
    if (*prev && strcmp(*prev, name) >= 0)
        return BAD(err, "entry %" PRIu32 " %s: xattr names not sorted and unique", i, Q(v));
    if (!lzs_idx_range_ok(lzs_idx_u64(x + LZS_IDX_X_VALUE_OFF),
                          lzs_idx_u32(x + LZS_IDX_X_VALUE_LEN), v->idx->blob_len))
        return BAD(err, "entry %" PRIu32 " %s: xattr value outside the blob section", i, Q(v));
    *prev = name;
    return 0;
}

/* A range of records [first, first + n) of a table with total records, tiled in entry order. */
static int check_tiled(struct vctx *v, uint32_t i, uint32_t first, uint32_t n, uint64_t *used,
                       uint32_t total, const char *what, lzs_error **err)
{
    if (first != *used || n > total - *used)
        return BAD(err,
                   "entry %" PRIu32 " %s: %s %" PRIu32 "+%" PRIu32
                   " do not follow the previous entry's (%" PRIu64 " of %" PRIu32 ")",
                   i, Q(v), what, first, n, *used, total);
    *used += n;
    return 0;
}

static int check_xattrs(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    uint32_t first = lzs_idx_u32(e + LZS_IDX_E_XATTR_FIRST), n = lzs_idx_u32(e + LZS_IDX_E_NXATTRS);
    int rc = check_tiled(v, i, first, n, &v->xattrs_used, v->idx->nxattrs, "xattrs", err);
    const char *prev = NULL;
    for (uint32_t k = 0; rc == 0 && k < n; k++)
        rc = check_xattr(v, i, first + k, &prev, err);
    return rc;
}

static int check_sparse(struct vctx *v, uint32_t i, const uint8_t *e, uint64_t *stored,
                        lzs_error **err)
{
    uint32_t first = lzs_idx_u32(e + LZS_IDX_E_A), n = lzs_idx_u32(e + LZS_IDX_E_B);
    uint64_t size = lzs_idx_u64(e + LZS_IDX_E_SIZE), end = 0;
    int rc = check_tiled(v, i, first, n, &v->sparse_used, v->idx->nsparse, "sparse segments", err);
    *stored = n ? 0 : size;
    for (uint32_t k = 0; rc == 0 && k < n; k++) {
        const uint8_t *s = v->idx->sparse + (size_t)(first + k) * LZS_IDX_SPARSE_SIZE;
        uint64_t off = lzs_idx_u64(s + LZS_IDX_S_OFF), len = lzs_idx_u64(s + LZS_IDX_S_LEN);
        if (off < end)
            return BAD(err,
                       "entry %" PRIu32 " %s: sparse segment %" PRIu32 " overlaps or "
                       "precedes the previous one",
                       i, Q(v), k);
        if (!lzs_idx_range_ok(off, len, size))
            return BAD(err,
                       "entry %" PRIu32 " %s: sparse segment %" PRIu32 " (%" PRIu64 "+%" PRIu64
                       ") past the file size %" PRIu64,
                       i, Q(v), k, off, len, size);
        end = off + len;
        *stored += len; /* segments do not overlap and fit in size: no overflow */
    }
    return rc;
}

static int check_regular(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    uint64_t stored;
    int rc = check_sparse(v, i, e, &stored, err);
    if (rc < 0)
        return rc;
    uint64_t off = lzs_idx_u64(e + LZS_IDX_E_OFFSET), total = v->idx->info.uncompressed_size;
    if (!lzs_idx_range_ok(off, stored, total))
        return BAD(err,
                   "entry %" PRIu32 " %s: data at %" PRIu64 "+%" PRIu64
                   " past the end of the tar stream (%" PRIu64 " bytes)",
                   i, Q(v), off, stored, total);
    return 0;
}

static int check_typed(struct vctx *v, uint32_t i, const uint8_t *e, lzs_error **err)
{
    uint8_t type = e[LZS_IDX_E_TYPE];
    uint32_t a = lzs_idx_u32(e + LZS_IDX_E_A), b = lzs_idx_u32(e + LZS_IDX_E_B);
    if (type == LZS_ENTRY_REG)
        return check_regular(v, i, e, err);
    if (!lzs_idx_all_zero(e + LZS_IDX_E_SIZE, LZS_IDX_ENTRY_SIZE - LZS_IDX_E_SIZE))
        return BAD(err, "entry %" PRIu32 " %s: size, offset or digest on a non-regular file", i,
                   Q(v));
    if (type == LZS_ENTRY_DIR)
        return check_tiled(v, i, a, b, &v->children_used, v->idx->nchildren, "children", err);
    if (type == LZS_ENTRY_HARDLINK) {
        if (a >= v->idx->nentries || b != 0 ||
            lzs_idx_u32(e + LZS_IDX_E_LINK) != lzs_idx_u32(lzs_idx_entry(v->idx, a)))
            return BAD(err, "entry %" PRIu32 " %s: bad hardlink target", i, Q(v));
        v->nhardlinks++;
        return 0;
    }
    if (type != LZS_ENTRY_CHAR && type != LZS_ENTRY_BLOCK && (a != 0 || b != 0))
        return BAD(err, "entry %" PRIu32 " %s: unused fields are not zero", i, Q(v));
    return 0;
}

static int check_totals(const struct vctx *v, lzs_error **err)
{
    const struct lzs_index *idx = v->idx;
    if (v->children_used != idx->nchildren || idx->nchildren != idx->nentries - 1)
        return BAD(err,
                   "children table has %" PRIu32 " ids, directories use %" PRIu64
                   " and there are %" PRIu32 " entries besides the root",
                   idx->nchildren, v->children_used, idx->nentries - 1);
    if (v->xattrs_used != idx->nxattrs)
        return BAD(err, "xattr table has %" PRIu32 " records, entries use %" PRIu64, idx->nxattrs,
                   v->xattrs_used);
    if (v->sparse_used != idx->nsparse)
        return BAD(err, "sparse table has %" PRIu32 " records, entries use %" PRIu64, idx->nsparse,
                   v->sparse_used);
    return 0;
}

int lzs_idx_check_entries(const struct lzs_index *idx, uint32_t *nhardlinks, lzs_error **err)
{
    struct vctx v = {.idx = idx};
    if (idx->nentries == 0)
        return BAD(err, "no entries: the root directory is missing");
    for (uint32_t i = 0; i < idx->nentries; i++) {
        const uint8_t *e = lzs_idx_entry(idx, i);
        int rc;
        if ((rc = check_path(&v, i, e, err)) < 0 || (rc = check_fields(&v, i, e, err)) < 0 ||
            (rc = check_parent(&v, i, e, err)) < 0 || (rc = check_strings(&v, i, e, err)) < 0 ||
            (rc = check_xattrs(&v, i, e, err)) < 0 || (rc = check_typed(&v, i, e, err)) < 0)
            return rc;
    }
    *nhardlinks = v.nhardlinks;
    return check_totals(&v, err);
}

/* ---- hardlinks ---------------------------------------------------------------------------- */

static uint8_t entry_type(const struct lzs_index *idx, uint32_t id)
{
    return lzs_idx_entry(idx, id)[LZS_IDX_E_TYPE];
}

static uint32_t link_target(const struct lzs_index *idx, uint32_t id)
{
    return lzs_idx_u32(lzs_idx_entry(idx, id) + LZS_IDX_E_A);
}

/* Follow the chain from hardlink i; state: 0 unseen, 1 on this chain, 2 resolves fine. */
static int resolve_chain(const struct lzs_index *idx, uint32_t i, uint8_t *state, lzs_error **err)
{
    uint32_t j = i;
    char q[LZS_IDX_QUOTE_MAX];
    while (entry_type(idx, j) == LZS_ENTRY_HARDLINK && state[j] == 0) {
        state[j] = 1;
        j = link_target(idx, j);
    }
    const char *path = idx->strings + lzs_idx_u32(lzs_idx_entry(idx, i));
    if (entry_type(idx, j) == LZS_ENTRY_HARDLINK && state[j] == 1)
        return BAD(err, "entry %" PRIu32 " %s: hardlinks form a cycle", i, lzs_idx_quote(q, path));
    if (entry_type(idx, j) != LZS_ENTRY_HARDLINK && entry_type(idx, j) != LZS_ENTRY_REG)
        return BAD(
            err, "entry %" PRIu32 " %s: hardlink to entry %" PRIu32 ", which is not a regular file",
            i, lzs_idx_quote(q, path), j);
    for (j = i; state[j] == 1; j = link_target(idx, j))
        state[j] = 2;
    return 0;
}

int lzs_idx_check_hardlinks(const struct lzs_index *idx, lzs_error **err)
{
    lzs_autofree uint8_t *state = calloc(idx->nentries, 1);
    if (!state)
        return lzs_error_set(err, ENOMEM, "index: out of memory checking hardlinks");
    for (uint32_t i = 0; i < idx->nentries; i++) {
        if (entry_type(idx, i) != LZS_ENTRY_HARDLINK || state[i] != 0)
            continue;
        int rc = resolve_chain(idx, i, state, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
