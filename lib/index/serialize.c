/* index: lay out the bytes (docs/index-format.md). The fixed-size sections (checkpoints,
 * entries, children, xattrs, sparse) are written in place in out; the string table and the blob
 * are built on the side and appended after them. */
#include "index/writer_i.h"

struct ser {
    lzs_index_writer *w;
    const uint32_t *order; /* writer indices in path order */
    uint32_t n;
    uint32_t *parent, *nchild, *cfirst; /* by id */
    struct lzs_buf strings, blob;
    struct lzs_strhash strtab; /* deduplicated strings: offsets in strings */
    uint64_t off[LZS_IDX_SEC_COUNT], count[LZS_IDX_SEC_COUNT];
    uint8_t *base; /* out->data while the fixed sections are written */
    uint64_t xattrs_used, sparse_used;
};

static const char *strtab_key(const void *ctx, uint32_t value)
{
    const struct lzs_buf *strings = ctx;
    return strings->data + value;
}

static void ser_dispose(struct ser *s)
{
    free(s->parent);
    free(s->nchild);
    free(s->cfirst);
    lzs_buf_dispose(&s->strings);
    lzs_buf_dispose(&s->blob);
    lzs_strhash_dispose(&s->strtab);
}

/* ---- strings ------------------------------------------------------------------------------ */

static int intern(struct ser *s, const char *str, uint32_t *off, lzs_error **err)
{
    size_t len = str ? strlen(str) : 0;
    if (len == 0) {
        *off = 0; /* the table starts with a NUL */
        return 0;
    }
    if (lzs_strhash_get(&s->strtab, str, len, off))
        return 0;
    uint32_t o = (uint32_t)s->strings.len; /* max keeps it below 4 GiB */
    int rc = lzs_buf_append(&s->strings, str, len + 1, err);
    if (rc < 0)
        return lzs_error_wrap(err, "index: string table");
    if ((rc = lzs_strhash_reserve(&s->strtab, err)) < 0)
        return rc;
    lzs_strhash_put(&s->strtab, o);
    *off = o;
    return 0;
}

/* "\0", then every path in entry order (root "" at 0), each NUL-terminated. */
static int add_paths(struct ser *s, lzs_error **err)
{
    int rc = lzs_buf_append(&s->strings, "", 1, err);
    for (uint32_t k = 0; rc == 0 && k < s->n; k++) {
        struct lzs_idx_wentry *e = &s->w->entries[s->order[k]];
        e->id = k;
        e->path_off = 0;
        if (k == 0)
            continue; /* the root, "" */
        e->path_off = (uint32_t)s->strings.len;
        rc = lzs_buf_append(&s->strings, e->path, strlen(e->path) + 1, err);
    }
    return rc < 0 ? lzs_error_wrap(err, "index: string table") : 0;
}

/* ---- tree --------------------------------------------------------------------------------- */

static int build_tree(struct ser *s, lzs_error **err)
{
    s->parent = lzs_calloc_array(s->n, sizeof(uint32_t));
    s->nchild = lzs_calloc_array(s->n, sizeof(uint32_t));
    s->cfirst = lzs_calloc_array(s->n, sizeof(uint32_t));
    if (!s->parent || !s->nchild || !s->cfirst)
        return lzs_error_set(err, ENOMEM, "index: out of memory for %" PRIu32 " entries", s->n);
    for (uint32_t k = 1; k < s->n; k++) {
        const char *path = s->w->entries[s->order[k]].path, *slash = strrchr(path, '/');
        uint32_t p = 0;
        bool found = lzs_strhash_get(&s->w->paths, path, slash ? (size_t)(slash - path) : 0, &p);
        (void)found; /* complete_tree made sure */
        s->parent[k] = s->w->entries[p].id;
        s->nchild[s->parent[k]]++;
    }
    uint32_t first = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        s->cfirst[k] = first;
        first += s->nchild[k];
    }
    return 0;
}

/* ---- layout ------------------------------------------------------------------------------- */

static int plan(struct ser *s, lzs_error **err)
{
    s->count[LZS_IDX_SEC_CHECKPOINTS] = s->w->nckpts;
    s->count[LZS_IDX_SEC_ENTRIES] = s->n;
    s->count[LZS_IDX_SEC_CHILDREN] = s->n - 1;
    s->count[LZS_IDX_SEC_XATTRS] = s->count[LZS_IDX_SEC_SPARSE] = 0;
    for (uint32_t k = 0; k < s->n; k++) {
        const struct lzs_idx_wentry *e = &s->w->entries[s->order[k]];
        s->count[LZS_IDX_SEC_XATTRS] += e->e.nxattrs;
        s->count[LZS_IDX_SEC_SPARSE] += e->e.nsparse;
    }
    if (s->count[LZS_IDX_SEC_XATTRS] > UINT32_MAX || s->count[LZS_IDX_SEC_SPARSE] > UINT32_MAX)
        return lzs_error_set(err, EMSGSIZE, "index: more than 2^32 xattrs or sparse segments");
    static const uint32_t record[] = {LZS_IDX_CKPT_SIZE, LZS_IDX_ENTRY_SIZE, LZS_IDX_CHILD_SIZE,
                                      LZS_IDX_XATTR_SIZE, LZS_IDX_SPARSE_SIZE};
    uint64_t pos = LZS_IDX_HEADER_SIZE;
    for (int sec = 0; sec < LZS_IDX_SEC_STRINGS; sec++) {
        s->off[sec] = pos;
        pos += (s->count[sec] * record[sec] + 7) & ~(uint64_t)7; /* counts < 2^32: no overflow */
    }
    s->off[LZS_IDX_SEC_STRINGS] = pos;
    return 0;
}

/* ---- records ------------------------------------------------------------------------------ */

static void write_checkpoints(struct ser *s)
{
    for (size_t i = 0; i < s->w->nckpts; i++) {
        const struct lzs_idx_wckpt *c = &s->w->ckpts[i];
        uint8_t *r = s->base + s->off[LZS_IDX_SEC_CHECKPOINTS] + i * LZS_IDX_CKPT_SIZE;
        lzs_idx_put64(r + LZS_IDX_C_IN_OFF, c->in_off);
        lzs_idx_put64(r + LZS_IDX_C_OUT_OFF, c->out_off);
        lzs_idx_put64(r + LZS_IDX_C_WINDOW_OFF, c->window_off); /* windows start the blob */
        lzs_idx_put32(r + LZS_IDX_C_WINDOW_LEN, c->window_len);
        r[LZS_IDX_C_BITS] = c->bits;
        r[LZS_IDX_C_KIND] = c->kind;
    }
}

static int write_xattrs(struct ser *s, const struct lzs_idx_wentry *e, lzs_error **err)
{
    for (uint32_t k = 0; k < e->e.nxattrs; k++) {
        const struct lzs_idx_wxattr *x = &e->xattrs[k];
        uint8_t *r = s->base + s->off[LZS_IDX_SEC_XATTRS] + s->xattrs_used++ * LZS_IDX_XATTR_SIZE;
        uint32_t name;
        int rc = intern(s, x->name, &name, err);
        if (rc < 0)
            return rc;
        lzs_idx_put32(r + LZS_IDX_X_NAME, name);
        lzs_idx_put32(r + LZS_IDX_X_VALUE_LEN, x->value_len);
        lzs_idx_put64(r + LZS_IDX_X_VALUE_OFF, s->blob.len);
        if ((rc = lzs_buf_append(&s->blob, x->value, x->value_len, err)) < 0)
            return lzs_error_wrap(err, "index: blob section");
    }
    return 0;
}

/* a and b: see format_i.h. */
static void write_typed(struct ser *s, const struct lzs_idx_wentry *e, uint32_t k, uint8_t *r)
{
    uint32_t a = 0, b = 0;
    switch (e->e.type) {
    case LZS_ENTRY_DIR:
        a = s->cfirst[k], b = s->nchild[k];
        break;
    case LZS_ENTRY_REG:
        a = (uint32_t)s->sparse_used, b = e->e.nsparse;
        for (uint32_t j = 0; j < b; j++) {
            uint8_t *sp = s->base + s->off[LZS_IDX_SEC_SPARSE] + s->sparse_used++ * 16;
            lzs_idx_put64(sp + LZS_IDX_S_OFF, e->sparse[j].off);
            lzs_idx_put64(sp + LZS_IDX_S_LEN, e->sparse[j].len);
        }
        lzs_idx_put64(r + LZS_IDX_E_SIZE, e->e.size);
        lzs_idx_put64(r + LZS_IDX_E_OFFSET, e->e.offset);
        memcpy(r + LZS_IDX_E_SHA256, e->e.sha256, 32);
        break;
    case LZS_ENTRY_HARDLINK:
        a = s->w->entries[e->target].id;
        break;
    case LZS_ENTRY_CHAR:
    case LZS_ENTRY_BLOCK:
        a = e->e.devmajor, b = e->e.devminor;
        break;
    default:
        break;
    }
    lzs_idx_put32(r + LZS_IDX_E_A, a);
    lzs_idx_put32(r + LZS_IDX_E_B, b);
}

static int write_strings(struct ser *s, const struct lzs_idx_wentry *e, uint8_t *r, lzs_error **err)
{
    uint32_t link = 0, uname, gname;
    int rc;
    if (e->e.type == LZS_ENTRY_HARDLINK)
        link = s->w->entries[e->target].path_off;
    else if ((rc = intern(s, e->link, &link, err)) < 0)
        return rc;
    if ((rc = intern(s, e->uname, &uname, err)) < 0 || (rc = intern(s, e->gname, &gname, err)) < 0)
        return rc;
    const char *slash = strrchr(e->path, '/');
    lzs_idx_put32(r + LZS_IDX_E_PATH, e->path_off);
    lzs_idx_put32(r + LZS_IDX_E_NAME_POS, slash ? (uint32_t)(slash - e->path + 1) : 0);
    lzs_idx_put32(r + LZS_IDX_E_LINK, link);
    lzs_idx_put32(r + LZS_IDX_E_UNAME, uname);
    lzs_idx_put32(r + LZS_IDX_E_GNAME, gname);
    return 0;
}

static int write_entry(struct ser *s, uint32_t k, lzs_error **err)
{
    const struct lzs_idx_wentry *e = &s->w->entries[s->order[k]];
    uint8_t *r = s->base + s->off[LZS_IDX_SEC_ENTRIES] + (size_t)k * LZS_IDX_ENTRY_SIZE;
    int rc = write_strings(s, e, r, err);
    if (rc < 0)
        return rc;
    lzs_idx_put32(r + LZS_IDX_E_PARENT, s->parent[k]);
    lzs_idx_put32(r + LZS_IDX_E_UID, e->e.uid);
    lzs_idx_put32(r + LZS_IDX_E_GID, e->e.gid);
    lzs_idx_put64(r + LZS_IDX_E_MTIME_SEC, (uint64_t)e->e.mtime_sec);
    lzs_idx_put32(r + LZS_IDX_E_MTIME_NSEC, e->e.mtime_nsec);
    lzs_idx_put16(r + LZS_IDX_E_MODE, (uint16_t)e->e.mode);
    r[LZS_IDX_E_TYPE] = (uint8_t)e->e.type;
    lzs_idx_put32(r + LZS_IDX_E_XATTR_FIRST, (uint32_t)s->xattrs_used);
    lzs_idx_put32(r + LZS_IDX_E_NXATTRS, e->e.nxattrs);
    write_typed(s, e, k, r);
    return write_xattrs(s, e, err);
}

/* After the entries (this consumes cfirst): ids in increasing order, so in name order. */
static void write_children(struct ser *s)
{
    uint8_t *c = s->base + s->off[LZS_IDX_SEC_CHILDREN];
    for (uint32_t k = 1; k < s->n; k++)
        lzs_idx_put32(c + (size_t)s->cfirst[s->parent[k]]++ * LZS_IDX_CHILD_SIZE, k);
}

static void write_header(struct ser *s, const struct lzs_index_info *info, struct lzs_buf *out)
{
    uint8_t *h = (uint8_t *)out->data;
    memcpy(h + LZS_IDX_H_MAGIC, LZS_IDX_MAGIC, LZS_IDX_MAGIC_LEN);
    lzs_idx_put32(h + LZS_IDX_H_VERSION, LZS_IDX_VERSION);
    lzs_idx_put32(h + LZS_IDX_H_HEADER_SIZE, LZS_IDX_HEADER_SIZE);
    lzs_idx_put64(h + LZS_IDX_H_FILE_SIZE, out->len);
    lzs_idx_put32(h + LZS_IDX_H_COMPRESSION, (uint32_t)info->compression);
    lzs_idx_put32(h + LZS_IDX_H_FLAGS, info->flags);
    lzs_idx_put32(h + LZS_IDX_H_DIGEST_ALGO, (uint32_t)info->blob_digest.algo);
    memcpy(h + LZS_IDX_H_DIGEST, info->blob_digest.bytes, lzs_digest_len(info->blob_digest.algo));
    lzs_idx_put64(h + LZS_IDX_H_COMPRESSED_SIZE, info->compressed_size);
    lzs_idx_put64(h + LZS_IDX_H_UNCOMPRESSED_SIZE, info->uncompressed_size);
    lzs_idx_put64(h + LZS_IDX_H_SPAN, info->span);
    for (int sec = 0; sec < LZS_IDX_SEC_COUNT; sec++) {
        lzs_idx_put64(h + LZS_IDX_H_SECTIONS + sec * 16, s->off[sec]);
        lzs_idx_put64(h + LZS_IDX_H_SECTIONS + sec * 16 + 8, s->count[sec]);
    }
}

/* Zero bytes up to the next multiple of 8, then the n bytes at p. */
static int append_aligned(struct lzs_buf *out, const void *p, size_t n, lzs_error **err)
{
    static const uint8_t zeros[LZS_IDX_ALIGN];
    int rc =
        lzs_buf_append(out, zeros, (LZS_IDX_ALIGN - out->len % LZS_IDX_ALIGN) % LZS_IDX_ALIGN, err);
    return rc < 0 ? rc : lzs_buf_append(out, p, n, err);
}

/* The fixed sections, zeroed, then filled in place. */
static int write_fixed(struct ser *s, struct lzs_buf *out, lzs_error **err)
{
    size_t fixed = (size_t)s->off[LZS_IDX_SEC_STRINGS];
    int rc = lzs_buf_reserve(out, fixed, err);
    if (rc < 0)
        return lzs_error_wrap(err, "index");
    memset(out->data, 0, fixed);
    out->len = fixed;
    s->base = (uint8_t *)out->data;
    write_checkpoints(s);
    for (uint32_t k = 0; k < s->n; k++) {
        if ((rc = write_entry(s, k, err)) < 0)
            return rc;
    }
    write_children(s);
    return 0;
}

int lzs_idx_serialize(lzs_index_writer *w, const uint32_t *order, uint32_t n,
                      const struct lzs_index_info *info, struct lzs_buf *out, lzs_error **err)
{
    lzs_cleanup(ser_dispose) struct ser s = {.w = w, .order = order, .n = n};
    lzs_buf_init(&s.strings, (size_t)UINT32_MAX);
    lzs_buf_init(&s.blob, LZS_IDX_MAX_SIZE);
    lzs_strhash_init(&s.strtab, strtab_key, &s.strings);
    int rc;
    if ((rc = add_paths(&s, err)) < 0 || (rc = build_tree(&s, err)) < 0 ||
        (rc = plan(&s, err)) < 0 ||
        (rc = lzs_buf_append(&s.blob, w->windows.data, w->windows.len, err)) < 0 ||
        (rc = write_fixed(&s, out, err)) < 0)
        return rc;
    s.off[LZS_IDX_SEC_STRINGS] = out->len; /* already aligned */
    s.count[LZS_IDX_SEC_STRINGS] = s.strings.len;
    if ((rc = append_aligned(out, s.strings.data, s.strings.len, err)) < 0)
        return lzs_error_wrap(err, "index");
    s.off[LZS_IDX_SEC_BLOB] = (out->len + LZS_IDX_ALIGN - 1) & ~(size_t)(LZS_IDX_ALIGN - 1);
    s.count[LZS_IDX_SEC_BLOB] = s.blob.len;
    if ((rc = append_aligned(out, s.blob.data, s.blob.len, err)) < 0)
        return lzs_error_wrap(err, "index");
    write_header(&s, info, out);
    return 0;
}
