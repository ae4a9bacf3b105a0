/* Remote snapshots: layers mounted by a remote (lib/remote) instead of unpacked, committed under
 * their chain id at Prepare; mounted again after a restart; unmounted before removal. */
#include "snapshot_i.h"

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define REMOTE_LABEL_VALUE "remote snapshot"

/* A restored remote snapshot whose mount failed: its labels, to try again. */
struct snap_pending {
    int64_t id;
    struct lzs_snap_label *labels;
    size_t n;
    bool mounting; /* a call is mounting it now (others answer EAGAIN) */
};

void lzs_snapshotter_set_remote(lzs_snapshotter *sn, const struct lzs_snap_remote *r)
{
    sn->remote = *r;
}

static void labels_free(struct lzs_snap_label *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

/* dst = a copy of (name, value); false when out of memory (dst then holds what was copied). */
static bool label_dup(struct lzs_snap_label *dst, const char *name, const char *value)
{
    *dst = (struct lzs_snap_label){strdup(name), strdup(value)};
    return dst->name && dst->value;
}

/* labels plus LZS_SNAP_LABEL_REMOTE, copied. */
static struct lzs_snap_label *labels_with_remote(const struct lzs_snap_label *labels, size_t n,
                                                 size_t *out_n)
{
    struct lzs_snap_label *v = lzs_calloc_array(n + 1, sizeof(*v));
    if (!v)
        return NULL;
    size_t k = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++)
        if (strcmp(labels[i].name, LZS_SNAP_LABEL_REMOTE) != 0)
            ok = label_dup(&v[k++], labels[i].name, labels[i].value);
    if (ok)
        ok = label_dup(&v[k++], LZS_SNAP_LABEL_REMOTE, REMOTE_LABEL_VALUE);
    if (!ok) {
        labels_free(v, k);
        return NULL;
    }
    *out_n = k;
    return v;
}

/* Detach whatever is mounted at path (a layer left by a daemon that died). */
static void detach_stale(const char *path)
{
    if (umount2(path, MNT_DETACH) == 0)
        LZS_INFO("detached a stale mount at %s", path);
}

void snap_detach_fs(const char *dir)
{
    char fs[4300];
    snprintf(fs, sizeof(fs), "%s/fs", dir);
    detach_stale(fs);
}

void snap_remote_release(lzs_snapshotter *sn, const struct lzs_snap_info *i)
{
    char fs[4200];
    snap_path(sn, i->id, "fs", fs, sizeof(fs));
    if (sn->remote.unmount && snap_label_find(i->labels, i->n_labels, LZS_SNAP_LABEL_REMOTE))
        sn->remote.unmount(sn->remote.data, fs);
    detach_stale(fs);
    /* a pending snapshot is being mounted only as the parent of another, and a snapshot with
     * children is never removed: its labels are not in use here */
    pthread_mutex_lock(&sn->remote_lock);
    for (size_t k = 0; k < sn->n_pending; k++) {
        if (sn->pending[k].id != i->id)
            continue;
        labels_free(sn->pending[k].labels, sn->pending[k].n);
        sn->pending[k] = sn->pending[--sn->n_pending];
        break;
    }
    pthread_mutex_unlock(&sn->remote_lock);
}

void snap_remote_dispose(lzs_snapshotter *sn)
{
    for (size_t k = 0; k < sn->n_pending; k++)
        labels_free(sn->pending[k].labels, sn->pending[k].n);
    free(sn->pending);
    sn->pending = NULL;
    sn->n_pending = 0;
}

static int remote_mount(lzs_snapshotter *sn, int64_t id, const struct lzs_snap_label *labels,
                        size_t n, int64_t *size, int64_t *inodes, lzs_error **err)
{
    char fs[4200];
    return sn->remote.mount(sn->remote.data, labels, n, snap_path(sn, id, "fs", fs, sizeof(fs)),
                            size, inodes, err);
}

/* ---- Prepare -------------------------------------------------------------------------------- */

/* The new active snapshot key is mounted: commit it as target. */
static int commit_remote(lzs_snapshotter *sn, const char *key, const char *target,
                         const struct lzs_snap_label *labels, size_t n, int64_t size,
                         int64_t inodes, lzs_error **err)
{
    size_t nl = 0;
    struct lzs_snap_label *l = labels_with_remote(labels, n, &nl);
    if (!l)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = lzs_snapstore_commit(sn->store, key, target, l, nl, size, inodes, err);
    labels_free(l, nl);
    return rc;
}

/* The remote mount of active snapshot i (key) did not become a snapshot: unmount it; when the
 * target appeared meanwhile (a concurrent pull of the same layer), drop key too: 1 or -EEXIST. */
static int undo_remote(lzs_snapshotter *sn, const struct lzs_snap_info *i, const char *target,
                       int commit_rc, lzs_error *e, lzs_error **err)
{
    char fs[4200];
    sn->remote.unmount(sn->remote.data, snap_path(sn, i->id, "fs", fs, sizeof(fs)));
    if (commit_rc == -EEXIST && lzs_snapshotter_remove(sn, i->key, NULL) == 0)
        return lzs_error_set(err, EEXIST, "target snapshot %s: already exists", target);
    LZS_WARN("snapshot %s: commit after the remote mount: %s", target, lzs_error_msg(e));
    return 1;
}

int snap_remote_prepare(lzs_snapshotter *sn, const char *key, const struct lzs_snap_label *labels,
                        size_t n_labels, lzs_error **err)
{
    const char *target = snap_label_find(labels, n_labels, LZS_SNAP_LABEL_REF);
    struct lzs_snap_info i = {0};
    int rc = lzs_snapstore_stat(sn->store, key, &i, err);
    if (rc < 0)
        return rc;
    int64_t size = 0, inodes = 0, t0 = snap_now();
    lzs_autoerr lzs_error *e = NULL;
    rc = remote_mount(sn, i.id, labels, n_labels, &size, &inodes, &e);
    if (rc == -ENOENT) {
        LZS_DEBUG("snapshot %s: not remote (%s): it is unpacked", target, lzs_error_msg(e));
        rc = 1;
    } else if (rc < 0) {
        LZS_WARN("snapshot %s: remote mount failed, containerd pulls it: %s", target,
                 lzs_error_msg(e));
        rc = 1;
    } else if ((rc = commit_remote(sn, key, target, labels, n_labels, size, inodes, &e)) < 0) {
        rc = undo_remote(sn, &i, target, rc, e, err);
    } else {
        LZS_INFO("snapshot %s: layer mounted remotely in %.3f s", target,
                 (double)(snap_now() - t0) / 1e9);
        rc = lzs_error_set(err, EEXIST, "target snapshot %s: already exists", target);
    }
    lzs_snap_info_dispose(&i);
    return rc;
}

/* ---- restart -------------------------------------------------------------------------------- */

struct remote_list {
    struct snap_pending *v;
    size_t n;
};

static int collect_remote(const struct lzs_snap_info *i, void *data)
{
    struct remote_list *l = data;
    if (i->kind != LZS_SNAP_COMMITTED ||
        !snap_label_find(i->labels, i->n_labels, LZS_SNAP_LABEL_REMOTE))
        return 0;
    struct snap_pending *v = lzs_realloc_array(l->v, l->n + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    l->v = v;
    size_t n = 0;
    struct lzs_snap_label *labels = labels_with_remote(i->labels, i->n_labels, &n);
    if (!labels)
        return -ENOMEM;
    v[l->n++] = (struct snap_pending){i->id, labels, n, false};
    return 0;
}

/* Mount restored snapshot p (what a daemon that died left there is detached first). */
static bool remount(lzs_snapshotter *sn, const struct snap_pending *p)
{
    char fs[4200];
    detach_stale(snap_path(sn, p->id, "fs", fs, sizeof(fs)));
    int64_t size, inodes;
    lzs_autoerr lzs_error *e = NULL;
    if (remote_mount(sn, p->id, p->labels, p->n, &size, &inodes, &e) == 0)
        return true;
    LZS_WARN("remote snapshot %" PRId64 " could not be mounted again (tried again when used): %s",
             p->id, lzs_error_msg(e));
    return false;
}

/* Keep p in sn->pending (it owns p's labels from now on). */
static void pending_add(lzs_snapshotter *sn, struct snap_pending *p)
{
    pthread_mutex_lock(&sn->remote_lock);
    struct snap_pending *v = lzs_realloc_array(sn->pending, sn->n_pending + 1, sizeof(*v));
    if (v) {
        sn->pending = v;
        v[sn->n_pending++] = *p;
    } else {
        LZS_ERROR("out of memory: remote snapshot %" PRId64 " will not be mounted", p->id);
        labels_free(p->labels, p->n);
    }
    pthread_mutex_unlock(&sn->remote_lock);
}

int lzs_snapshotter_restore(lzs_snapshotter *sn, size_t *mounted, size_t *failed, lzs_error **err)
{
    *mounted = *failed = 0;
    if (!sn->remote.mount)
        return 0;
    struct remote_list l = {0};
    int rc = lzs_snapstore_walk(sn->store, collect_remote, &l, err);
    if (rc == -ENOMEM)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t k = 0; k < l.n; k++) {
        if (rc == 0 && !remount(sn, &l.v[k])) {
            pending_add(sn, &l.v[k]);
            ++*failed;
            continue;
        }
        *mounted += rc == 0;
        labels_free(l.v[k].labels, l.v[k].n);
    }
    free(l.v);
    return rc;
}

/* Under remote_lock: the pending entry of id, or NULL. */
static struct snap_pending *pending_find(lzs_snapshotter *sn, int64_t id)
{
    for (size_t k = 0; k < sn->n_pending; k++)
        if (sn->pending[k].id == id)
            return &sn->pending[k];
    return NULL;
}

/* Mount pending snapshot id if it is one: 0 (mounted, or not pending), -EAGAIN (it cannot be
 * mounted, or another call is mounting it: its fs must not be used meanwhile). */
static int ensure_one(lzs_snapshotter *sn, int64_t id, lzs_error **err)
{
    pthread_mutex_lock(&sn->remote_lock);
    struct snap_pending *p = pending_find(sn, id), copy = {0};
    bool busy = p && p->mounting;
    if (p && !busy) {
        p->mounting = true;
        copy = *p; /* the labels stay the list's; only this call mounts p now */
    }
    pthread_mutex_unlock(&sn->remote_lock);
    if (!p)
        return 0;
    bool ok = !busy && remount(sn, &copy);
    pthread_mutex_lock(&sn->remote_lock);
    if (!busy && (p = pending_find(sn, id))) {
        p->mounting = false;
        if (ok) {
            labels_free(p->labels, p->n);
            *p = sn->pending[--sn->n_pending];
        }
    }
    pthread_mutex_unlock(&sn->remote_lock);
    if (ok)
        return 0;
    return lzs_error_set(err, EAGAIN, "remote layer snapshot %" PRId64 " %s", id,
                         busy ? "is being mounted" : "cannot be mounted now");
}

static bool any_pending(lzs_snapshotter *sn)
{
    pthread_mutex_lock(&sn->remote_lock);
    bool any = sn->n_pending > 0;
    pthread_mutex_unlock(&sn->remote_lock);
    return any;
}

int snap_remote_ensure(lzs_snapshotter *sn, const int64_t *ids, size_t n, lzs_error **err)
{
    if (!any_pending(sn)) /* what a restart mounted, or nothing remote: nothing to do */
        return 0;
    for (size_t k = 0; k < n; k++) {
        int rc = ensure_one(sn, ids[k], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int snap_remote_ensure_chain(lzs_snapshotter *sn, const char *parent, lzs_error **err)
{
    if (!parent || !*parent || !any_pending(sn))
        return 0;
    struct lzs_snap_info i = {0};
    int64_t *ids = NULL;
    size_t n = 0;
    if (lzs_snapstore_stat(sn->store, parent, &i, NULL) < 0 ||
        lzs_snapstore_parent_ids(sn->store, parent, &ids, &n, NULL) < 0) {
        lzs_snap_info_dispose(&i);
        return 0; /* the store's own checks report it */
    }
    int rc = snap_remote_ensure(sn, &i.id, 1, err);
    if (rc == 0)
        rc = snap_remote_ensure(sn, ids, n, err);
    free(ids);
    lzs_snap_info_dispose(&i);
    return rc;
}
