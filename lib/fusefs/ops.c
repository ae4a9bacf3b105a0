/* The FUSE low-level handlers (passthrough_ll's lo_* shape). Metadata handlers read fs->tree
 * (an index: no locks), data goes through fs->src; a tree that failed is answered EIO. Errors
 * reply a positive errno here and only here (STYLE.md: the FUSE boundary). */
#include "fusefs_i.h"

#include <string.h>
#include <sys/statvfs.h>

#define OPAQUE_XATTR "trusted.overlay.opaque"
#define READ_MAX (16u << 20) /* far above any kernel max_read */

static lzs_fusefs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

/* The node of ino, or reply ENOENT (EIO: the tree failed) and return false. */
static bool node_or_reply(fuse_req_t req, fuse_ino_t ino, struct lzs_fusefs_node *n)
{
    lzs_fusefs *fs = fs_of(req);
    if (lzs_fusefs_state(fs) < 0) {
        fuse_reply_err(req, EIO);
        return false;
    }
    if (lzs_fusefs_node_of(fs, ino, n) == 0)
        return true;
    fuse_reply_err(req, ENOENT);
    return false;
}

static bool is_dir(const lzs_fusefs *fs, const struct lzs_fusefs_node *n)
{
    struct lzs_index_entry e;
    if (n->kind != LZS_NODE_REAL)
        return false;
    lzs_fusefs_entry(fs, n->id, &e);
    return e.type == LZS_ENTRY_DIR;
}

static void op_init(void *data, struct fuse_conn_info *conn)
{
    lzs_fusefs *fs = data;
    conn->max_read = fs->max_read; /* as in the mount options: libfuse checks they agree */
    if (conn->capable & FUSE_CAP_SPLICE_WRITE)
        conn->want |= FUSE_CAP_SPLICE_WRITE; /* replies spliced from the cache file */
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
        conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    pthread_mutex_lock(&fs->lock);
    fs->ready = true;
    pthread_cond_broadcast(&fs->cond);
    pthread_mutex_unlock(&fs->lock);
}

static void fill_entry(const lzs_fusefs *fs, const struct lzs_fusefs_node *n,
                       struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    lzs_fusefs_stat(fs, n, &e->attr);
    e->ino = e->attr.st_ino;
    e->attr_timeout = lzs_fusefs_attr_timeout(fs);
    e->entry_timeout = LZS_FUSEFS_TIMEOUT;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node dir, n;
    struct fuse_entry_param e;
    if (!node_or_reply(req, parent, &dir))
        return;
    if (!is_dir(fs, &dir)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    int rc = lzs_fusefs_lookup(fs, dir.id, name, &n);
    if (rc == -ENOENT) {
        memset(&e, 0, sizeof(e)); /* ino 0: a negative entry the kernel may cache */
        e.entry_timeout = LZS_FUSEFS_TIMEOUT;
        fuse_reply_entry(req, &e);
        return;
    }
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    fill_entry(fs, &n, &e);
    fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    fuse_reply_none(req); /* inodes live as long as the mount */
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct lzs_fusefs_node n;
    struct stat st;
    if (!node_or_reply(req, ino, &n))
        return;
    lzs_fusefs_stat(fs_of(req), &n, &st);
    fuse_reply_attr(req, &st, lzs_fusefs_attr_timeout(fs_of(req)));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct lzs_fusefs_node n;
    struct lzs_index_entry e;
    if (!node_or_reply(req, ino, &n))
        return;
    lzs_fusefs_entry(fs_of(req), n.id, &e);
    if (n.kind != LZS_NODE_REAL || e.type != LZS_ENTRY_SYMLINK)
        fuse_reply_err(req, EINVAL);
    else
        fuse_reply_readlink(req, e.link);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct lzs_fusefs_node n;
    if (!node_or_reply(req, ino, &n))
        return;
    if (!is_dir(fs_of(req), &n)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    fi->keep_cache = 1;
    fi->cache_readdir = 1;
    fuse_reply_open(req, fi);
}

/* Add the directory entry at position pos (0 ".", 1 "..", 2+ the children) to buf; returns the
 * bytes it takes (more than left: it did not fit), 0 for a hidden child. */
static size_t add_dirent(fuse_req_t req, const struct lzs_fusefs_node *dir, const uint32_t *ids,
                         uint32_t pos, bool plus, char *buf, size_t left)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node n = {.id = dir->id, .kind = LZS_NODE_REAL};
    const char *name = pos == 0 ? "." : "..";
    if (pos == 1)
        n.id = lzs_fusefs_parent(fs, dir->id);
    if (pos >= 2) {
        n.id = ids[pos - 2];
        name = lzs_fusefs_name(fs, n.id);
        n.kind = lzs_fusefs_classify(fs, n.id);
        if (n.kind == LZS_NODE_HIDDEN)
            return 0;
        if (n.kind == LZS_NODE_WHITEOUT)
            name += 4; /* ".wh." */
    }
    struct fuse_entry_param e;
    fill_entry(fs, &n, &e);
    if (!plus)
        return fuse_add_direntry(req, buf, left, name, &e.attr, pos + 1);
    if (pos < 2) {
        /* no lookup count for "." and "..": ino 0 keeps the kernel from caching them */
        struct stat st = {.st_ino = e.attr.st_ino, .st_mode = e.attr.st_mode};
        struct fuse_entry_param dot = {.attr = st};
        return fuse_add_direntry_plus(req, buf, left, name, &dot, pos + 1);
    }
    return fuse_add_direntry_plus(req, buf, left, name, &e, pos + 1);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node dir;
    const uint32_t *ids;
    uint32_t count;
    if (!node_or_reply(req, ino, &dir))
        return;
    if (!is_dir(fs, &dir) || off < 0) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    int rc = fs->tree.children(fs->tree.data, dir.id, &ids, &count); /* may wait: see tree */
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    lzs_autofree char *buf = malloc(size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    for (uint64_t pos = (uint64_t)off; pos < (uint64_t)count + 2; pos++) {
        size_t n = add_dirent(req, &dir, ids, (uint32_t)pos, plus, buf + used, size - used);
        if (n > size - used)
            break;
        used += n;
    }
    fuse_reply_buf(req, buf, used);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fuse_reply_err(req, 0);
}

/* Count a failed open or read of id (replied EIO); log the first at error level, the rest at
 * debug level, so a broken layer does not flood the log. */
static void io_failed(lzs_fusefs *fs, const char *what, uint32_t id, uint64_t off,
                      const lzs_error *err)
{
    struct lzs_index_entry e;
    lzs_fusefs_entry(fs, id, &e);
    atomic_fetch_add(&fs->read_errors, 1);
    if (!atomic_exchange(&fs->error_logged, true))
        LZS_ERROR("%s: %s %s at %" PRIu64 ": %s (further errors at debug level)", fs->mountpoint,
                  what, e.path, off, lzs_error_msg(err));
    else
        LZS_DEBUG("%s: %s %s at %" PRIu64 ": %s", fs->mountpoint, what, e.path, off,
                  lzs_error_msg(err));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node n;
    struct lzs_index_entry e;
    if (!node_or_reply(req, ino, &n))
        return;
    lzs_fusefs_entry(fs, n.id, &e);
    if (n.kind != LZS_NODE_REAL || e.type != LZS_ENTRY_REG) {
        fuse_reply_err(req, e.type == LZS_ENTRY_DIR ? EISDIR : EACCES);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    struct lzs_fusefs_handle *h = NULL;
    lzs_autoerr lzs_error *err = NULL;
    if (lzs_fusefs_handle_new(fs, n.id, &h, &err) < 0) {
        io_failed(fs, "open", n.id, 0, err);
        fuse_reply_err(req, EIO);
        return;
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->keep_cache = 1;
    fi->noflush = 1;
    if (fuse_reply_open(req, fi) != 0)
        lzs_fusefs_handle_free(fs, h); /* interrupted: no release will come */
    if (fs->src.after_open)
        fs->src.after_open(fs->src.data);
}

/* Fill buf[0..n) from off, stopping only at the end of the file. */
static ssize_t read_full(lzs_fusefs *fs, void *fh, uint32_t id, uint64_t off, char *buf, size_t n,
                         lzs_error **err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = fs->src.read(fs->src.data, fh, id, off + got, buf + got, n - got, err);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Data that lies whole in a local file is spliced from it: its page cache pages go to the kernel
 * with one copy, into the FUSE request, and none through our memory (libfuse replies EIO itself
 * when the file cannot be read). Requests are sized so that a reply fits libfuse's pipe
 * (fs->max_read); when splicing is not possible after all, libfuse copies through a buffer of its
 * own. true when the request was answered. */
static bool reply_from_fd(lzs_fusefs *fs, fuse_req_t req, struct lzs_fusefs_handle *h, uint32_t id,
                          uint64_t off, size_t n)
{
    int fd;
    uint64_t fd_off;
    if (!fs->src.locate ||
        fs->src.locate(fs->src.data, h ? h->fh : NULL, id, off, n, &fd, &fd_off) != 1)
        return false;
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT(n);
    bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
    bv.buf[0].fd = fd;
    bv.buf[0].pos = (off_t)fd_off;
    fuse_reply_data(req, &bv, 0); /* answers the request even when it fails */
    return true;
}

/* The buffer a worker thread reads other replies into, kept for its next requests: fresh memory
 * costs a page fault per 4 KiB (on the bench VM, 1 MiB read from the page cache took 2.7 ms into
 * fresh pages and 0.05 ms into reused ones). Freed when the thread ends. */
static pthread_key_t reply_buf_key;
static pthread_once_t reply_buf_once = PTHREAD_ONCE_INIT;
static bool reply_buf_ok;

struct reply_buf {
    size_t cap;
    char data[];
};

static void reply_buf_init(void)
{
    reply_buf_ok = pthread_key_create(&reply_buf_key, free) == 0;
}

static char *reply_buf(size_t n)
{
    pthread_once(&reply_buf_once, reply_buf_init);
    if (!reply_buf_ok)
        return NULL;
    struct reply_buf *b = pthread_getspecific(reply_buf_key);
    if (b && b->cap >= n)
        return b->data;
    free(b);
    b = malloc(sizeof(*b) + n);
    if (b)
        b->cap = n;
    pthread_setspecific(reply_buf_key, b);
    return b ? b->data : NULL;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node n;
    struct lzs_index_entry e;
    if (!node_or_reply(req, ino, &n))
        return;
    lzs_fusefs_entry(fs, n.id, &e);
    if (n.kind != LZS_NODE_REAL || off < 0 || (uint64_t)off >= e.size || size == 0) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    uint64_t left = e.size - (uint64_t)off;
    size_t want = size < READ_MAX ? size : READ_MAX;
    if (left < want)
        want = (size_t)left;
    struct lzs_fusefs_handle *h = (struct lzs_fusefs_handle *)(uintptr_t)fi->fh;
    if (reply_from_fd(fs, req, h, n.id, (uint64_t)off, want))
        return;
    char *buf = reply_buf(want);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    lzs_autoerr lzs_error *err = NULL;
    ssize_t got = read_full(fs, h ? h->fh : NULL, n.id, (uint64_t)off, buf, want, &err);
    if (got < 0) {
        io_failed(fs, "read", n.id, (uint64_t)off, err);
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_buf(req, buf, (size_t)got);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    lzs_fusefs *fs = fs_of(req);
    lzs_fusefs_handle_free(fs, (struct lzs_fusefs_handle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* Reply an xattr value or list of len bytes as getxattr/listxattr want for size. */
static void reply_xattr(fuse_req_t req, const void *p, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, p, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node n;
    struct lzs_index_entry e;
    if (!node_or_reply(req, ino, &n))
        return;
    if (strcmp(name, OPAQUE_XATTR) == 0 && lzs_fusefs_is_opaque(fs, &n)) {
        reply_xattr(req, "y", 1, size);
        return;
    }
    uint32_t id = lzs_fusefs_resolve(fs, n.id);
    lzs_fusefs_entry(fs, id, &e);
    for (uint32_t k = 0; n.kind == LZS_NODE_REAL && k < e.nxattrs; k++) {
        struct lzs_index_xattr x;
        fs->tree.xattr(fs->tree.data, id, k, &x);
        if (strcmp(x.name, name) == 0) {
            reply_xattr(req, x.value, x.value_len, size);
            return;
        }
    }
    fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    lzs_fusefs *fs = fs_of(req);
    struct lzs_fusefs_node n;
    struct lzs_index_entry e;
    struct lzs_buf list = LZS_BUF_INIT(1u << 20);
    bool opaque;
    if (!node_or_reply(req, ino, &n))
        return;
    opaque = lzs_fusefs_is_opaque(fs, &n);
    uint32_t id = lzs_fusefs_resolve(fs, n.id);
    lzs_fusefs_entry(fs, id, &e);
    int rc = opaque ? lzs_buf_append(&list, OPAQUE_XATTR, sizeof(OPAQUE_XATTR), NULL) : 0;
    for (uint32_t k = 0; rc == 0 && n.kind == LZS_NODE_REAL && k < e.nxattrs; k++) {
        struct lzs_index_xattr x;
        fs->tree.xattr(fs->tree.data, id, k, &x);
        if (!(opaque && strcmp(x.name, OPAQUE_XATTR) == 0))
            rc = lzs_buf_append(&list, x.name, strlen(x.name) + 1, NULL);
    }
    if (rc < 0)
        fuse_reply_err(req, -rc);
    else
        reply_xattr(req, list.data, list.len, size);
    lzs_buf_dispose(&list);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    lzs_fusefs *fs = fs_of(req);
    struct statvfs st = {
        .f_bsize = 4096,
        .f_frsize = 4096,
        .f_blocks = (fsblkcnt_t)((fs->tree.size(fs->tree.data) + 4095) / 4096),
        .f_files = fs->tree.count(fs->tree.data),
        .f_namemax = 255,
        .f_flag = ST_RDONLY,
    };
    fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops lzs_fusefs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .statfs = op_statfs,
};
