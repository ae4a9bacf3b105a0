/* index: the reader. Loading validates everything (validate.c); the accessors then read the
 * bytes in place and only assert their arguments. */
#include "index/format_i.h"

#include <assert.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static void index_destroy(lzs_index *idx)
{
    if (idx->mapped)
        munmap((void *)idx->base, idx->size);
    else
        free((void *)idx->base);
    free(idx);
}

/* Takes base (mapped or malloc'd) whatever happens. */
static int index_new(lzs_index **out, const uint8_t *base, size_t size, bool mapped,
                     lzs_error **err)
{
    lzs_index *idx = calloc(1, sizeof(*idx));
    if (!idx) {
        if (mapped)
            munmap((void *)base, size);
        else
            free((void *)base);
        return lzs_error_set(err, ENOMEM, "index: out of memory");
    }
    lzs_refcount_init(&idx->ref);
    idx->base = base;
    idx->size = size;
    idx->mapped = mapped;
    int rc = lzs_idx_parse(idx, err);
    if (rc < 0) {
        index_destroy(idx);
        return rc;
    }
    *out = idx;
    return 0;
}

int lzs_index_load(lzs_index **out, const void *p, size_t n, lzs_error **err)
{
    uint8_t *copy = malloc(n ? n : 1); /* malloc's alignment is enough for the children table */
    if (!copy)
        return lzs_error_set(err, ENOMEM, "index: out of memory copying %zu bytes", n);
    if (n)
        memcpy(copy, p, n);
    return index_new(out, copy, n, false, err);
}

int lzs_index_open(lzs_index **out, const char *path, lzs_error **err)
{
    lzs_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lzs_error_set_sys(err, errno, "index %s: open", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lzs_error_set_sys(err, errno, "index %s: stat", path);
    if (!S_ISREG(st.st_mode))
        return lzs_error_set(err, EINVAL, "index %s: not a regular file", path);
    if (st.st_size < (off_t)LZS_IDX_HEADER_SIZE || (uint64_t)st.st_size > SIZE_MAX)
        return lzs_error_set(err, EINVAL, "index %s: truncated: %jd bytes", path,
                             (intmax_t)st.st_size);
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return lzs_error_set_sys(err, errno, "index %s: mmap", path);
    int rc = index_new(out, p, size, true, err);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", path);
    return 0;
}

lzs_index *lzs_index_ref(lzs_index *idx)
{
    if (idx)
        lzs_refcount_inc(&idx->ref);
    return idx;
}

lzs_index *lzs_index_unref(lzs_index *idx)
{
    if (idx && lzs_refcount_dec(&idx->ref))
        index_destroy(idx);
    return NULL;
}

const struct lzs_index_info *lzs_index_info(const lzs_index *idx)
{
    return &idx->info;
}

size_t lzs_index_size(const lzs_index *idx)
{
    return idx->size;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

uint32_t lzs_index_checkpoint_count(const lzs_index *idx)
{
    return idx->nckpts;
}

static uint64_t checkpoint_out_off(const lzs_index *idx, uint32_t i)
{
    return lzs_idx_u64(idx->ckpts + (size_t)i * LZS_IDX_CKPT_SIZE + LZS_IDX_C_OUT_OFF);
}

void lzs_index_checkpoint_get(const lzs_index *idx, uint32_t i, struct lzs_index_checkpoint *out)
{
    assert(i < idx->nckpts);
    const uint8_t *c = idx->ckpts + (size_t)i * LZS_IDX_CKPT_SIZE;
    out->in_off = lzs_idx_u64(c + LZS_IDX_C_IN_OFF);
    out->out_off = lzs_idx_u64(c + LZS_IDX_C_OUT_OFF);
    out->bits = c[LZS_IDX_C_BITS];
    out->kind = c[LZS_IDX_C_KIND];
    out->window_len = lzs_idx_u32(c + LZS_IDX_C_WINDOW_LEN);
    out->window = out->window_len ? idx->blob + lzs_idx_u64(c + LZS_IDX_C_WINDOW_OFF) : NULL;
}

uint32_t lzs_index_checkpoint_find(const lzs_index *idx, uint64_t off)
{
    /* checkpoint 0 is at 0 <= off: find the last i with out_off <= off */
    uint32_t lo = 0, hi = idx->nckpts; /* invariant: out_off(lo) <= off, out_off(hi) > off */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (checkpoint_out_off(idx, mid) <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- entries ------------------------------------------------------------------------------ */

uint32_t lzs_index_entry_count(const lzs_index *idx)
{
    return idx->nentries;
}

static const char *entry_string(const lzs_index *idx, const uint8_t *e, int field)
{
    return idx->strings + lzs_idx_u32(e + field);
}

void lzs_index_entry_get(const lzs_index *idx, uint32_t id, struct lzs_index_entry *out)
{
    assert(id < idx->nentries);
    const uint8_t *e = lzs_idx_entry(idx, id);
    enum lzs_entry_type type = (enum lzs_entry_type)e[LZS_IDX_E_TYPE];
    bool dev = type == LZS_ENTRY_CHAR || type == LZS_ENTRY_BLOCK;
    *out = (struct lzs_index_entry){
        .path = entry_string(idx, e, LZS_IDX_E_PATH),
        .link = entry_string(idx, e, LZS_IDX_E_LINK),
        .uname = entry_string(idx, e, LZS_IDX_E_UNAME),
        .gname = entry_string(idx, e, LZS_IDX_E_GNAME),
        .type = type,
        .mode = lzs_idx_u16(e + LZS_IDX_E_MODE),
        .uid = lzs_idx_u32(e + LZS_IDX_E_UID),
        .gid = lzs_idx_u32(e + LZS_IDX_E_GID),
        .mtime_sec = (int64_t)lzs_idx_u64(e + LZS_IDX_E_MTIME_SEC),
        .mtime_nsec = lzs_idx_u32(e + LZS_IDX_E_MTIME_NSEC),
        .devmajor = dev ? lzs_idx_u32(e + LZS_IDX_E_A) : 0,
        .devminor = dev ? lzs_idx_u32(e + LZS_IDX_E_B) : 0,
        .size = lzs_idx_u64(e + LZS_IDX_E_SIZE),
        .offset = lzs_idx_u64(e + LZS_IDX_E_OFFSET),
        .nxattrs = lzs_idx_u32(e + LZS_IDX_E_NXATTRS),
        .nsparse = type == LZS_ENTRY_REG ? lzs_idx_u32(e + LZS_IDX_E_B) : 0,
    };
    memcpy(out->sha256, e + LZS_IDX_E_SHA256, sizeof(out->sha256));
}

int lzs_index_lookup(const lzs_index *idx, const char *path, uint32_t *id)
{
    uint32_t lo = 0, hi = idx->nentries; /* search [lo, hi) */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, entry_string(idx, lzs_idx_entry(idx, mid), LZS_IDX_E_PATH));
        if (c == 0) {
            *id = mid;
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -ENOENT;
}

uint32_t lzs_index_parent(const lzs_index *idx, uint32_t id)
{
    assert(id < idx->nentries);
    return lzs_idx_u32(lzs_idx_entry(idx, id) + LZS_IDX_E_PARENT);
}

void lzs_index_children(const lzs_index *idx, uint32_t dir, const uint32_t **ids, uint32_t *n)
{
    assert(dir < idx->nentries);
    const uint8_t *e = lzs_idx_entry(idx, dir);
    if (e[LZS_IDX_E_TYPE] != LZS_ENTRY_DIR) {
        *ids = NULL;
        *n = 0;
        return;
    }
    *ids = idx->children + lzs_idx_u32(e + LZS_IDX_E_A);
    *n = lzs_idx_u32(e + LZS_IDX_E_B);
}

const char *lzs_index_name(const lzs_index *idx, uint32_t id)
{
    assert(id < idx->nentries);
    const uint8_t *e = lzs_idx_entry(idx, id);
    return entry_string(idx, e, LZS_IDX_E_PATH) + lzs_idx_u32(e + LZS_IDX_E_NAME_POS);
}

void lzs_index_xattr_get(const lzs_index *idx, uint32_t id, uint32_t k, struct lzs_index_xattr *out)
{
    assert(id < idx->nentries);
    const uint8_t *e = lzs_idx_entry(idx, id);
    assert(k < lzs_idx_u32(e + LZS_IDX_E_NXATTRS));
    const uint8_t *x =
        idx->xattrs + ((size_t)lzs_idx_u32(e + LZS_IDX_E_XATTR_FIRST) + k) * LZS_IDX_XATTR_SIZE;
    out->name = idx->strings + lzs_idx_u32(x + LZS_IDX_X_NAME);
    out->value_len = lzs_idx_u32(x + LZS_IDX_X_VALUE_LEN);
    out->value = idx->blob + lzs_idx_u64(x + LZS_IDX_X_VALUE_OFF);
}

void lzs_index_sparse_get(const lzs_index *idx, uint32_t id, uint32_t k,
                          struct lzs_index_sparse *out)
{
    assert(id < idx->nentries);
    const uint8_t *e = lzs_idx_entry(idx, id);
    assert(e[LZS_IDX_E_TYPE] == LZS_ENTRY_REG && k < lzs_idx_u32(e + LZS_IDX_E_B));
    const uint8_t *s =
        idx->sparse + ((size_t)lzs_idx_u32(e + LZS_IDX_E_A) + k) * LZS_IDX_SPARSE_SIZE;
    out->off = lzs_idx_u64(s + LZS_IDX_S_OFF);
    out->len = lzs_idx_u64(s + LZS_IDX_S_LEN);
}

uint32_t lzs_index_resolve_hardlink(const lzs_index *idx, uint32_t id)
{
    assert(id < idx->nentries);
    /* validated: chains end at a regular file, without cycles */
    while (lzs_idx_entry(idx, id)[LZS_IDX_E_TYPE] == LZS_ENTRY_HARDLINK)
        id = lzs_idx_u32(lzs_idx_entry(idx, id) + LZS_IDX_E_A);
    return id;
}

const char *lzs_index_entry_type_name(enum lzs_entry_type type)
{
    static const char *const names[] = {"regular", "directory", "symlink", "hardlink",
                                        "char",    "block",     "fifo"};
    return (unsigned)type < LZS_ARRAY_SIZE(names) ? names[type] : "unknown";
}
