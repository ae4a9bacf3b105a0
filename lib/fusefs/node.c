/* The layer as the kernel sees it: inode numbers, attributes and OCI whiteouts over the index.
 * Everything here reads the immutable index and fs->nlink only: no locks. */
#include "fusefs_i.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4
#define WH_META_PREFIX ".wh..wh."
#define WH_NAME_MAX 255

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int lzs_fusefs_child(const lzs_fusefs *fs, uint32_t dir, const char *name, uint32_t *id)
{
    const uint32_t *ids;
    uint32_t n;
    lzs_index_children(fs->idx, dir, &ids, &n);
    /* children are in strcmp order of their names (the index validates it) */
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(lzs_index_name(fs->idx, ids[mid]), name);
        if (c == 0) {
            *id = ids[mid];
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -ENOENT;
}

enum lzs_fusefs_kind lzs_fusefs_classify(const lzs_fusefs *fs, uint32_t id)
{
    const char *name = lzs_index_name(fs->idx, id);
    if (id == 0 || !has_prefix(name, WH_PREFIX))
        return LZS_NODE_REAL;
    if (has_prefix(name, WH_META_PREFIX) || name[WH_PREFIX_LEN] == '\0')
        return LZS_NODE_HIDDEN;
    uint32_t real;
    if (lzs_fusefs_child(fs, lzs_index_parent(fs->idx, id), name + WH_PREFIX_LEN, &real) == 0)
        return LZS_NODE_HIDDEN; /* the real entry of the same layer wins */
    return LZS_NODE_WHITEOUT;
}

int lzs_fusefs_lookup(const lzs_fusefs *fs, uint32_t dir, const char *name,
                      struct lzs_fusefs_node *out)
{
    if (has_prefix(name, WH_PREFIX))
        return -ENOENT;
    if (lzs_fusefs_child(fs, dir, name, &out->id) == 0) {
        out->kind = LZS_NODE_REAL;
        return 0;
    }
    size_t len = strlen(name);
    if (len > WH_NAME_MAX)
        return -ENAMETOOLONG;
    char wh[WH_PREFIX_LEN + WH_NAME_MAX + 1];
    memcpy(wh, WH_PREFIX, WH_PREFIX_LEN);
    memcpy(wh + WH_PREFIX_LEN, name, len + 1);
    if (lzs_fusefs_child(fs, dir, wh, &out->id) < 0)
        return -ENOENT;
    out->kind = LZS_NODE_WHITEOUT;
    return 0;
}

int lzs_fusefs_node_of(const lzs_fusefs *fs, uint64_t ino, struct lzs_fusefs_node *out)
{
    if (ino == 0 || ino > 2 * (uint64_t)fs->count)
        return -ENOENT;
    uint64_t i = ino - 1;
    out->kind = i < fs->count ? LZS_NODE_REAL : LZS_NODE_WHITEOUT;
    out->id = (uint32_t)(i < fs->count ? i : i - fs->count);
    return 0;
}

uint64_t lzs_fusefs_ino(const lzs_fusefs *fs, const struct lzs_fusefs_node *n)
{
    if (n->kind == LZS_NODE_WHITEOUT)
        return (uint64_t)fs->count + n->id + 1;
    return (uint64_t)lzs_index_resolve_hardlink(fs->idx, n->id) + 1;
}

static mode_t type_bits(enum lzs_entry_type type)
{
    switch (type) {
    case LZS_ENTRY_DIR:
        return S_IFDIR;
    case LZS_ENTRY_SYMLINK:
        return S_IFLNK;
    case LZS_ENTRY_CHAR:
        return S_IFCHR;
    case LZS_ENTRY_BLOCK:
        return S_IFBLK;
    case LZS_ENTRY_FIFO:
        return S_IFIFO;
    default:
        return S_IFREG;
    }
}

/* Bytes a file occupies: its size, or for a sparse file the sum of its data segments. */
static uint64_t stored_bytes(const lzs_fusefs *fs, uint32_t id, const struct lzs_index_entry *e)
{
    if (e->nsparse == 0)
        return e->size;
    uint64_t sum = 0;
    for (uint32_t k = 0; k < e->nsparse; k++) {
        struct lzs_index_sparse seg;
        lzs_index_sparse_get(fs->idx, id, k, &seg);
        if (lzs_add_overflow(sum, seg.len, &sum))
            return e->size;
    }
    return sum < e->size ? sum : e->size;
}

void lzs_fusefs_stat(const lzs_fusefs *fs, const struct lzs_fusefs_node *n, struct stat *st)
{
    struct lzs_index_entry e;
    uint32_t id = n->kind == LZS_NODE_WHITEOUT ? n->id : lzs_index_resolve_hardlink(fs->idx, n->id);
    lzs_index_entry_get(fs->idx, id, &e);
    memset(st, 0, sizeof(*st));
    st->st_ino = lzs_fusefs_ino(fs, n);
    st->st_uid = e.uid;
    st->st_gid = e.gid;
    st->st_mtim.tv_sec = e.mtime_sec;
    st->st_mtim.tv_nsec = e.mtime_nsec;
    st->st_atim = st->st_mtim;
    st->st_ctim = st->st_mtim;
    st->st_blksize = 4096;
    if (n->kind == LZS_NODE_WHITEOUT) {
        st->st_mode = S_IFCHR; /* 0/0, no permissions: what overlayfs and containerd use */
        st->st_nlink = 1;
        return;
    }
    st->st_mode = type_bits(e.type) | (e.mode & 07777);
    st->st_nlink = fs->nlink[id];
    if (e.type == LZS_ENTRY_REG)
        st->st_size = (off_t)e.size;
    else if (e.type == LZS_ENTRY_SYMLINK)
        st->st_size = (off_t)strlen(e.link);
    else if (e.type == LZS_ENTRY_CHAR || e.type == LZS_ENTRY_BLOCK)
        st->st_rdev = makedev(e.devmajor, e.devminor);
    st->st_blocks = (blkcnt_t)((stored_bytes(fs, id, &e) + 511) / 512);
}

/* A directory is opaque with a ".wh..wh..opq" child, and also when this layer whites out its
 * own name (".wh.NAME" next to directory NAME): the whiteout removes the lower NAME, and what
 * this layer has under NAME starts afresh (OCI whiteouts apply to lower layers only). */
bool lzs_fusefs_is_opaque(const lzs_fusefs *fs, const struct lzs_fusefs_node *n)
{
    uint32_t id;
    if (n->kind != LZS_NODE_REAL)
        return false;
    if (lzs_fusefs_child(fs, n->id, WH_META_PREFIX ".opq", &id) == 0)
        return true;
    struct lzs_index_entry e;
    lzs_index_entry_get(fs->idx, n->id, &e);
    if (n->id == 0 || e.type != LZS_ENTRY_DIR)
        return false;
    char wh[NAME_MAX + sizeof(WH_PREFIX)];
    int len = snprintf(wh, sizeof(wh), WH_PREFIX "%s", lzs_index_name(fs->idx, n->id));
    return len > 0 && (size_t)len < sizeof(wh) &&
           lzs_fusefs_child(fs, lzs_index_parent(fs->idx, n->id), wh, &id) == 0;
}

int lzs_fusefs_count_links(lzs_fusefs *fs, lzs_error **err)
{
    fs->nlink = lzs_calloc_array(fs->count ? fs->count : 1, sizeof(*fs->nlink));
    if (!fs->nlink)
        return lzs_error_set(err, ENOMEM, "out of memory for %" PRIu32 " link counts", fs->count);
    for (uint32_t id = 0; id < fs->count; id++) {
        struct lzs_index_entry e;
        lzs_index_entry_get(fs->idx, id, &e);
        bool real = id == 0 || lzs_fusefs_classify(fs, id) == LZS_NODE_REAL;
        if (e.type == LZS_ENTRY_DIR) {
            fs->nlink[id] += 2; /* "." and its name; each subdirectory's ".." adds one */
            if (real && id != 0)
                fs->nlink[lzs_index_parent(fs->idx, id)]++;
        } else if (real) {
            fs->nlink[lzs_index_resolve_hardlink(fs->idx, id)]++;
        }
    }
    for (uint32_t id = 0; id < fs->count; id++)
        if (fs->nlink[id] == 0)
            fs->nlink[id] = 1; /* a file only reachable through hardlinks of hidden names */
    return 0;
}
