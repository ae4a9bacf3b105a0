/* The overlay snapshotter: records in the store, directories ROOT/snapshots/ID/{fs,work}, and the
 * mounts containerd performs (containerd's overlay snapshotter's layout and mount options). */
#include "snapshot_i.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lzs_snap_mounts_dispose(struct lzs_snap_mounts *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].type);
        free(m->v[i].source);
        for (size_t k = 0; k < m->v[i].n_options; k++)
            free(m->v[i].options[k]);
        free(m->v[i].options);
    }
    free(m->v);
    memset(m, 0, sizeof(*m));
}

/* ROOT/lock, held for the snapshotter's life. */
static int lock_root(lzs_snapshotter *sn, lzs_error **err)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/lock", sn->root);
    int rc = lzs_lock_try(path, 0600, &sn->lock_fd, err);
    if (rc == -EBUSY)
        return lzs_error_set(err, EBUSY, "%s is in use by another lazysnapd", sn->root);
    return rc;
}

int lzs_snapshotter_open(lzs_snapshotter **out, const char *root, lzs_error **err)
{
    lzs_snapshotter *sn = calloc(1, sizeof(*sn));
    if (!sn)
        return lzs_error_set(err, ENOMEM, "out of memory");
    sn->lock_fd = -1;
    pthread_rwlock_init(&sn->dirs, NULL);
    pthread_mutex_init(&sn->remote_lock, NULL);
    char db[4200];
    int rc = 0;
    if (!(sn->root = strdup(root)) || asprintf(&sn->snaps, "%s/snapshots", root) < 0) {
        sn->snaps = NULL;
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = lzs_mkdir_p(sn->snaps, 0700, err);
    if (rc == 0)
        rc = lock_root(sn, err);
    snprintf(db, sizeof(db), "%s/metadata.db", root);
    if (rc == 0)
        rc = lzs_snapstore_open(&sn->store, db, err);
    sn->index_off = access("/sys/module/overlay/parameters/index", F_OK) == 0;
    if (rc < 0) {
        lzs_snapshotter_close(sn);
        return rc;
    }
    *out = sn;
    return 0;
}

void lzs_snapshotter_close(lzs_snapshotter *sn)
{
    if (!sn)
        return;
    lzs_snapstore_close(sn->store);
    if (sn->lock_fd >= 0)
        close(sn->lock_fd);
    pthread_rwlock_destroy(&sn->dirs);
    snap_remote_dispose(sn);
    pthread_mutex_destroy(&sn->remote_lock);
    free(sn->snaps);
    free(sn->root);
    free(sn);
}

lzs_snapstore *lzs_snapshotter_store(lzs_snapshotter *sn)
{
    return sn->store;
}

const char *snap_path(const lzs_snapshotter *sn, int64_t id, const char *sub, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%" PRId64 "%s%s", sn->snaps, id, sub ? "/" : "", sub ? sub : "");
    return buf;
}

/* ---- mounts --------------------------------------------------------------------------------- */

static int add_mount(struct lzs_snap_mounts *m, const char *type, const char *source,
                     lzs_error **err)
{
    struct lzs_snap_mount *v = lzs_realloc_array(m->v, m->n + 1, sizeof(*v));
    if (!v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    m->v = v;
    v[m->n] = (struct lzs_snap_mount){strdup(type), strdup(source), NULL, 0};
    m->n++;
    if (!v[m->n - 1].type || !v[m->n - 1].source)
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* Append an option (printf format) to the last mount. */
static int add_option(struct lzs_snap_mounts *m, lzs_error **err, const char *fmt, ...)
    LZS_PRINTF(3, 4);
static int add_option(struct lzs_snap_mounts *m, lzs_error **err, const char *fmt, ...)
{
    struct lzs_snap_mount *v = &m->v[m->n - 1];
    char **o = lzs_realloc_array(v->options, v->n_options + 1, sizeof(*o));
    if (!o)
        return lzs_error_set(err, ENOMEM, "out of memory");
    v->options = o;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&o[v->n_options], fmt, ap);
    va_end(ap);
    if (n < 0)
        return lzs_error_set(err, ENOMEM, "out of memory");
    v->n_options++;
    return 0;
}

/* "lowerdir=P0/fs:P1/fs:...", parents nearest first (overlayfs: uppermost first). */
static int add_lowerdir(const lzs_snapshotter *sn, struct lzs_snap_mounts *m,
                        const int64_t *parents, size_t np, lzs_error **err)
{
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    char dir[4200];
    int rc = lzs_buf_append_str(&b, "lowerdir=", err);
    for (size_t i = 0; rc == 0 && i < np; i++)
        rc = lzs_buf_printf(&b, err, "%s%s", i ? ":" : "",
                            snap_path(sn, parents[i], "fs", dir, sizeof(dir)));
    if (rc == 0)
        rc = add_option(m, err, "%s", lzs_buf_cstr(&b));
    lzs_buf_dispose(&b);
    return rc;
}

static int build_mounts(const lzs_snapshotter *sn, const struct lzs_snap_info *i,
                        const int64_t *parents, size_t np, struct lzs_snap_mounts *out,
                        lzs_error **err)
{
    char dir[4200];
    bool active = i->kind == LZS_SNAP_ACTIVE;
    int rc;
    if (np == 0 || (!active && np == 1)) { /* a bind of its own fs, or of its only parent's */
        rc = add_mount(out, "bind", snap_path(sn, np ? parents[0] : i->id, "fs", dir, sizeof(dir)),
                       err);
        if (rc == 0)
            rc = add_option(out, err, "%s", active ? "rw" : "ro");
        if (rc == 0)
            rc = add_option(out, err, "rbind");
        return rc;
    }
    rc = add_mount(out, "overlay", "overlay", err);
    if (rc == 0 && sn->index_off)
        rc = add_option(out, err, "index=off");
    if (rc == 0 && active)
        rc = add_option(out, err, "workdir=%s", snap_path(sn, i->id, "work", dir, sizeof(dir)));
    if (rc == 0 && active)
        rc = add_option(out, err, "upperdir=%s", snap_path(sn, i->id, "fs", dir, sizeof(dir)));
    if (rc == 0)
        rc = add_lowerdir(sn, out, parents, np, err);
    return rc;
}

int lzs_snapshotter_mounts(lzs_snapshotter *sn, const char *key, struct lzs_snap_mounts *out,
                           lzs_error **err)
{
    memset(out, 0, sizeof(*out));
    struct lzs_snap_info i = {0};
    int64_t *parents = NULL;
    size_t np = 0;
    int rc = lzs_snapstore_stat(sn->store, key, &i, err);
    if (rc == 0 && i.kind != LZS_SNAP_ACTIVE && i.kind != LZS_SNAP_VIEW)
        rc = lzs_error_set(err, EBUSY, "snapshot %s is %s: it has no mounts", key,
                           lzs_snap_kind_name(i.kind));
    if (rc == 0)
        rc = lzs_snapstore_parent_ids(sn->store, key, &parents, &np, err);
    if (rc == 0)
        rc = snap_remote_ensure(sn, parents, np, err);
    if (rc == 0)
        rc = build_mounts(sn, &i, parents, np, out, err);
    if (rc < 0)
        lzs_snap_mounts_dispose(out);
    free(parents);
    lzs_snap_info_dispose(&i);
    return rc;
}

/* ---- operations ----------------------------------------------------------------------------- */

/* ROOT/snapshots/new-XXXXXX with fs/ and work/, renamed to its id once the record exists. */
static int make_new_dir(const lzs_snapshotter *sn, char *tmp, size_t len, lzs_error **err)
{
    snprintf(tmp, len, "%s/new-XXXXXX", sn->snaps);
    if (!mkdtemp(tmp))
        return lzs_error_set_sys(err, errno, "mkdtemp %s", tmp);
    char sub[4300];
    snprintf(sub, sizeof(sub), "%s/fs", tmp);
    int rc = mkdir(sub, 0755) < 0 ? lzs_error_set_sys(err, errno, "mkdir %s", sub) : 0;
    snprintf(sub, sizeof(sub), "%s/work", tmp);
    if (rc == 0 && mkdir(sub, 0711) < 0)
        rc = lzs_error_set_sys(err, errno, "mkdir %s", sub);
    return rc;
}

/* Inside the creating transaction: the new directory takes its id's name; an upper fs takes
 * the owner of its parent's fs (as containerd does: the container's root keeps the image's). */
struct placing {
    const lzs_snapshotter *sn;
    const char *tmp;
    char dir[4200];
};

static int place(int64_t id, int64_t parent_id, void *data, lzs_error **err)
{
    struct placing *p = data;
    char fs[4300], parent_fs[4200];
    struct stat st;
    if (parent_id &&
        stat(snap_path(p->sn, parent_id, "fs", parent_fs, sizeof(parent_fs)), &st) == 0) {
        snprintf(fs, sizeof(fs), "%s/fs", p->tmp);
        if (lchown(fs, st.st_uid, st.st_gid) < 0)
            return lzs_error_set_sys(err, errno, "chown %s", fs);
    }
    char dir[4200], buf[128];
    if (rename(p->tmp, snap_path(p->sn, id, NULL, dir, sizeof(dir))) < 0) {
        int e = errno == EEXIST || errno == ENOTEMPTY ? EIO : errno; /* not the key's existence */
        return lzs_error_set(err, e, "rename %s to %s: %s", p->tmp, dir,
                             lzs_strerror(errno, buf, sizeof(buf)));
    }
    snprintf(p->dir, sizeof(p->dir), "%s", dir); /* placed: unplace moves it back */
    return 0;
}

static void unplace(void *data)
{
    struct placing *p = data;
    if (p->dir[0] && rename(p->dir, p->tmp) < 0) /* dir: set once placed */
        snap_dir_remove(p->dir, NULL);
}

static int create(lzs_snapshotter *sn, enum lzs_snap_kind kind, const char *key, const char *parent,
                  const struct lzs_snap_label *labels, size_t n_labels,
                  struct lzs_snap_mounts *mounts, lzs_error **err)
{
    /* the new fs takes its owner from parent's, and must never stack on an empty one */
    int rc = snap_remote_ensure_chain(sn, parent, err);
    if (rc < 0)
        return rc;
    char tmp[4200];
    struct placing p = {.sn = sn, .tmp = tmp};
    struct lzs_snap_hook hook = {place, unplace, &p};
    pthread_rwlock_rdlock(&sn->dirs); /* cleanup must not take new-* or a fresh ID for orphans */
    rc = make_new_dir(sn, tmp, sizeof(tmp), err);
    if (rc == 0)
        rc = lzs_snapstore_create(sn->store, kind, key, parent, labels, n_labels, &hook, NULL, err);
    if (rc < 0)
        snap_dir_remove(tmp, NULL);
    pthread_rwlock_unlock(&sn->dirs);
    if (rc == 0 && mounts)
        rc = lzs_snapshotter_mounts(sn, key, mounts, err);
    return rc;
}

/* Whether the Prepare of a layer (target: its chain id, LZS_SNAP_LABEL_REF) may be served by the
 * remote: 1 yes; 0 no, unpack it (a snapshot of that name with another parent: the same layer
 * in another namespace); -EEXIST with the message containerd expects when it exists already on
 * the same parent (containerd then finds it by label and parent). */
static int remote_target(lzs_snapshotter *sn, const char *target, const char *parent,
                         lzs_error **err)
{
    struct lzs_snap_info i = {0};
    if (lzs_snapstore_stat(sn->store, target, &i, NULL) < 0)
        return 1;
    bool same = strcmp(i.parent ? i.parent : "", parent ? parent : "") == 0;
    lzs_snap_info_dispose(&i);
    if (same)
        return lzs_error_set(err, EEXIST, "target snapshot %s: already exists", target);
    LZS_DEBUG("snapshot %s exists on another parent: this one is unpacked", target);
    return 0;
}

int lzs_snapshotter_prepare(lzs_snapshotter *sn, const char *key, const char *parent,
                            const struct lzs_snap_label *labels, size_t n_labels,
                            struct lzs_snap_mounts *mounts, lzs_error **err)
{
    const char *target = snap_label_find(labels, n_labels, LZS_SNAP_LABEL_REF);
    int remote = sn->remote.mount && target && *target;
    if (remote && (remote = remote_target(sn, target, parent, err)) < 0)
        return remote;
    int rc = create(sn, LZS_SNAP_ACTIVE, key, parent, labels, n_labels, NULL, err);
    if (rc == 0 && remote)
        rc = snap_remote_prepare(sn, key, labels, n_labels, err);
    if (rc < 0)
        return rc;
    return mounts ? lzs_snapshotter_mounts(sn, key, mounts, err) : 0;
}

int lzs_snapshotter_view(lzs_snapshotter *sn, const char *key, const char *parent,
                         const struct lzs_snap_label *labels, size_t n_labels,
                         struct lzs_snap_mounts *mounts, lzs_error **err)
{
    return create(sn, LZS_SNAP_VIEW, key, parent, labels, n_labels, mounts, err);
}

int lzs_snapshotter_commit(lzs_snapshotter *sn, const char *name, const char *key,
                           const struct lzs_snap_label *labels, size_t n_labels, lzs_error **err)
{
    struct lzs_snap_info i = {0};
    char fs[4200];
    int64_t size = 0, inodes = 0;
    int rc = 0;
    /* the usage of an active snapshot; what cannot be committed (a missing or inactive key, a
     * name taken) the store refuses, in containerd's order */
    if (lzs_snapstore_stat(sn->store, key, &i, NULL) == 0 && i.kind == LZS_SNAP_ACTIVE)
        rc = snap_dir_usage(snap_path(sn, i.id, "fs", fs, sizeof(fs)), &size, &inodes, err);
    lzs_snap_info_dispose(&i);
    if (rc == 0)
        rc = lzs_snapstore_commit(sn->store, key, name, labels, n_labels, size, inodes, err);
    return rc;
}

int lzs_snapshotter_remove(lzs_snapshotter *sn, const char *key, lzs_error **err)
{
    struct lzs_snap_info i = {0};
    char dir[4200], rm[4200];
    int rc = lzs_snapstore_remove(sn->store, key, &i, err);
    if (rc < 0)
        return rc;
    snap_remote_release(sn, &i);
    snap_path(sn, i.id, NULL, dir, sizeof(dir));
    snprintf(rm, sizeof(rm), "%s/rm-%" PRId64, sn->snaps, i.id);
    lzs_snap_info_dispose(&i);
    /* the record is gone: what is left on disk is Cleanup's, should this fail */
    lzs_autoerr lzs_error *e = NULL;
    if (rename(dir, rm) < 0 || snap_dir_remove(rm, &e) < 0)
        LZS_WARN("snapshot %s removed, its directory %s is left for cleanup: %s", key, dir,
                 e ? lzs_error_msg(e) : "rename failed");
    return 0;
}

int lzs_snapshotter_usage(lzs_snapshotter *sn, const char *key, int64_t *size, int64_t *inodes,
                          lzs_error **err)
{
    struct lzs_snap_info i = {0};
    char fs[4200];
    int rc = lzs_snapstore_stat(sn->store, key, &i, err);
    if (rc == 0 && i.kind == LZS_SNAP_ACTIVE) {
        rc = snap_dir_usage(snap_path(sn, i.id, "fs", fs, sizeof(fs)), size, inodes, err);
    } else if (rc == 0) {
        *size = i.size;
        *inodes = i.inodes;
    }
    lzs_snap_info_dispose(&i);
    return rc;
}

/* The ids in the store, sorted (walk order). */
struct id_list {
    int64_t *v;
    size_t n;
};

static int collect_id(const struct lzs_snap_info *i, void *data)
{
    struct id_list *l = data;
    int64_t *p = lzs_realloc_array(l->v, l->n + 1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    l->v = p;
    p[l->n++] = i->id;
    return 0;
}

static bool known(const struct id_list *l, const char *name)
{
    char *end;
    errno = 0;
    long long id = strtoll(name, &end, 10);
    if (errno || *end || end == name)
        return false;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == id)
            return true;
    return false;
}

int lzs_snapshotter_cleanup(lzs_snapshotter *sn, size_t *removed, lzs_error **err)
{
    struct id_list ids = {0};
    *removed = 0;
    pthread_rwlock_wrlock(&sn->dirs); /* no creation between the ids and the directory list */
    int rc = lzs_snapstore_walk(sn->store, collect_id, &ids, err);
    if (rc == -ENOMEM)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    DIR *d = rc == 0 ? opendir(sn->snaps) : NULL;
    if (rc == 0 && !d)
        rc = lzs_error_set_sys(err, errno, "opendir %s", sn->snaps);
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.' || known(&ids, e->d_name))
            continue;
        char path[4500];
        snprintf(path, sizeof(path), "%s/%s", sn->snaps, e->d_name);
        snap_detach_fs(path);
        rc = snap_dir_remove(path, err);
        *removed += rc == 0;
    }
    if (d)
        closedir(d);
    pthread_rwlock_unlock(&sn->dirs);
    free(ids.v);
    return rc;
}
