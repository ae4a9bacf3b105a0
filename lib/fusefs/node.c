/* The layer as the kernel sees it: inode numbers, attributes and OCI whiteouts over the tree
 * (fs->tree: the index, or a layer still streaming in). No locks here: a growing tree locks
 * itself. */
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

static int child(const lzs_fusefs *fs, uint32_t dir, const char *name, bool now, uint32_t *id)
{
    return fs->tree.child(fs->tree.data, dir, name, now, id);
}

/* The absence of name in dir, seen with child(now), is shown: 0, or -EEXIST when it arrived. */
static int promise_absent(const lzs_fusefs *fs, uint32_t dir, const char *name)
{
    return fs->tree.promise_absent ? fs->tree.promise_absent(fs->tree.data, dir, name) : 0;
}

enum lzs_fusefs_kind lzs_fusefs_classify(const lzs_fusefs *fs, uint32_t id)
{
    const char *name = lzs_fusefs_name(fs, id);
    if (id == 0 || !has_prefix(name, WH_PREFIX))
        return LZS_NODE_REAL;
    if (has_prefix(name, WH_META_PREFIX) || name[WH_PREFIX_LEN] == '\0')
        return LZS_NODE_HIDDEN;
    uint32_t real;
    if (child(fs, lzs_fusefs_parent(fs, id), name + WH_PREFIX_LEN, true, &real) == 0)
        return LZS_NODE_HIDDEN; /* the real entry of the same layer wins */
    return LZS_NODE_WHITEOUT;
}

/* ".wh." name into wh; -ENAMETOOLONG. */
static int whiteout_name(const char *name, char wh[WH_PREFIX_LEN + WH_NAME_MAX + 1])
{
    size_t len = strlen(name);
    if (len > WH_NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(wh, WH_PREFIX, WH_PREFIX_LEN);
    memcpy(wh + WH_PREFIX_LEN, name, len + 1);
    return 0;
}

/* NAME is what it has shown so far, when that is a whiteout: ".wh.NAME" is there, NAME is not
 * (a growing tree then fails if NAME comes). 1: shown as a whiteout, 0: not decided yet. */
static int whiteout_now(const lzs_fusefs *fs, uint32_t dir, const char *name, const char *wh,
                        struct lzs_fusefs_node *out)
{
    if (child(fs, dir, wh, true, &out->id) < 0)
        return 0;
    if (promise_absent(fs, dir, name) < 0)
        return 0; /* NAME arrived meanwhile */
    out->kind = LZS_NODE_WHITEOUT;
    return 1;
}

int lzs_fusefs_lookup(const lzs_fusefs *fs, uint32_t dir, const char *name,
                      struct lzs_fusefs_node *out)
{
    char wh[WH_PREFIX_LEN + WH_NAME_MAX + 1];
    if (has_prefix(name, WH_PREFIX))
        return -ENOENT;
    int rc = whiteout_name(name, wh);
    if (rc < 0)
        return rc;
    out->kind = LZS_NODE_REAL;
    if (child(fs, dir, name, true, &out->id) == 0 || whiteout_now(fs, dir, name, wh, out))
        return 0;
    rc = child(fs, dir, name, false, &out->id); /* certain: NAME came, or never will */
    if (rc != -ENOENT)
        return rc;
    if (child(fs, dir, wh, false, &out->id) < 0)
        return -ENOENT;
    out->kind = LZS_NODE_WHITEOUT;
    return 0;
}

int lzs_fusefs_node_of(const lzs_fusefs *fs, uint64_t ino, struct lzs_fusefs_node *out)
{
    if (ino == 0 || (ino - 1) / 2 >= fs->tree.count(fs->tree.data))
        return -ENOENT;
    out->kind = ino % 2 ? LZS_NODE_REAL : LZS_NODE_WHITEOUT;
    out->id = (uint32_t)((ino - 1) / 2);
    return 0;
}

uint64_t lzs_fusefs_ino(const lzs_fusefs *fs, const struct lzs_fusefs_node *n)
{
    if (n->kind == LZS_NODE_WHITEOUT)
        return 2 * (uint64_t)n->id + 2;
    return 2 * (uint64_t)lzs_fusefs_resolve(fs, n->id) + 1;
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
        fs->tree.sparse(fs->tree.data, id, k, &seg);
        if (lzs_add_overflow(sum, seg.len, &sum))
            return e->size;
    }
    return sum < e->size ? sum : e->size;
}

void lzs_fusefs_stat(const lzs_fusefs *fs, const struct lzs_fusefs_node *n, struct stat *st)
{
    struct lzs_index_entry e;
    uint32_t id = n->kind == LZS_NODE_WHITEOUT ? n->id : lzs_fusefs_resolve(fs, n->id);
    lzs_fusefs_entry(fs, id, &e);
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
    st->st_nlink = lzs_fusefs_nlink(fs, id);
    if (e.type == LZS_ENTRY_REG)
        st->st_size = (off_t)e.size;
    else if (e.type == LZS_ENTRY_SYMLINK)
        st->st_size = (off_t)strlen(e.link);
    else if (e.type == LZS_ENTRY_CHAR || e.type == LZS_ENTRY_BLOCK)
        st->st_rdev = makedev(e.devmajor, e.devminor);
    st->st_blocks = (blkcnt_t)((stored_bytes(fs, id, &e) + 511) / 512);
}

/* Whether dir has name now; when not, that absence is shown (a growing tree fails if it comes). */
static bool has_child_now(const lzs_fusefs *fs, uint32_t dir, const char *name)
{
    uint32_t id;
    if (child(fs, dir, name, true, &id) == 0)
        return true;
    return promise_absent(fs, dir, name) < 0;
}

/* A directory is opaque with a ".wh..wh..opq" child, and also when this layer whites out its
 * own name (".wh.NAME" next to directory NAME): the whiteout removes the lower NAME, and what
 * this layer has under NAME starts afresh (OCI whiteouts apply to lower layers only). A growing
 * tree answers from what has arrived, and fails should a marker come after that answer: rare, as
 * in name order ".wh." comes before any name that starts with a letter or a digit. */
bool lzs_fusefs_is_opaque(const lzs_fusefs *fs, const struct lzs_fusefs_node *n)
{
    if (n->kind != LZS_NODE_REAL)
        return false;
    struct lzs_index_entry e;
    lzs_fusefs_entry(fs, n->id, &e);
    if (e.type != LZS_ENTRY_DIR)
        return false;
    if (has_child_now(fs, n->id, WH_META_PREFIX ".opq"))
        return true;
    if (n->id == 0)
        return false;
    char wh[NAME_MAX + sizeof(WH_PREFIX)];
    int len = snprintf(wh, sizeof(wh), WH_PREFIX "%s", lzs_fusefs_name(fs, n->id));
    return len > 0 && (size_t)len < sizeof(wh) &&
           has_child_now(fs, lzs_fusefs_parent(fs, n->id), wh);
}

uint32_t lzs_fusefs_nlink(const lzs_fusefs *fs, uint32_t id)
{
    return fs->tree.nlink ? fs->tree.nlink(fs->tree.data, id) : fs->nlink[id];
}

int lzs_fusefs_count_links(lzs_fusefs *fs, lzs_error **err)
{
    uint32_t count = fs->tree.count(fs->tree.data);
    fs->nlink = lzs_calloc_array(count ? count : 1, sizeof(*fs->nlink));
    if (!fs->nlink)
        return lzs_error_set(err, ENOMEM, "out of memory for %" PRIu32 " link counts", count);
    for (uint32_t id = 0; id < count; id++) {
        struct lzs_index_entry e;
        lzs_fusefs_entry(fs, id, &e);
        bool real = id == 0 || lzs_fusefs_classify(fs, id) == LZS_NODE_REAL;
        if (e.type == LZS_ENTRY_DIR) {
            fs->nlink[id] += 2; /* "." and its name; each subdirectory's ".." adds one */
            if (real && id != 0)
                fs->nlink[lzs_fusefs_parent(fs, id)]++;
        } else if (real) {
            fs->nlink[lzs_fusefs_resolve(fs, id)]++;
        }
    }
    for (uint32_t id = 0; id < count; id++)
        if (fs->nlink[id] == 0)
            fs->nlink[id] = 1; /* a file only reachable through hardlinks of hidden names */
    return 0;
}
