/* snapshot: the snapshotter's records, in SQLite (WAL, one transaction per operation), with the
 * semantics of containerd's snapshot metadata store: active and view snapshots are created on a
 * committed parent (or none), an active one is committed under a new name keeping its id,
 * snapshots with children cannot be removed, labels are updated by field path.
 *
 * Errors name what was wrong and carry the errno that lib/rpc maps to containerd's codes:
 * ENOENT NotFound, EEXIST AlreadyExists, EINVAL InvalidArgument, EBUSY FailedPrecondition. */
#ifndef LZS_SNAPSHOT_H
#define LZS_SNAPSHOT_H

#include "base/base.h"

/* The values of containerd.services.snapshots.v1.Kind. */
enum lzs_snap_kind {
    LZS_SNAP_UNKNOWN = 0,
    LZS_SNAP_VIEW = 1,
    LZS_SNAP_ACTIVE = 2,
    LZS_SNAP_COMMITTED = 3,
};
/* "view", "active", "committed", "unknown". */
const char *lzs_snap_kind_name(enum lzs_snap_kind k);

struct lzs_snap_label {
    char *name, *value;
};

struct lzs_snap_info {
    int64_t id; /* stable for the snapshot's life, commit included: names its directories */
    char *key;  /* the name, once committed */
    char *parent;
    enum lzs_snap_kind kind;
    int64_t created_ns, updated_ns; /* unix time */
    struct lzs_snap_label *labels;  /* sorted by name */
    size_t n_labels;
    int64_t size, inodes; /* usage recorded at commit */
};
void lzs_snap_info_dispose(struct lzs_snap_info *i);

typedef struct lzs_snapstore lzs_snapstore;

/* Open (creating) the database at path. */
int lzs_snapstore_open(lzs_snapstore **out, const char *path, lzs_error **err);
void lzs_snapstore_close(lzs_snapstore *s);
LZS_DEFINE_CLEANUP(lzs_snapstore, lzs_snapstore_close)

/* Work that must succeed for a new record to be kept: fn runs inside the creating transaction
 * (it must not call the store), a failure rolls the record back; undo (may be NULL) reverts fn
 * when the transaction fails after it. */
struct lzs_snap_hook {
    int (*fn)(int64_t id, int64_t parent_id, void *data, lzs_error **err);
    void (*undo)(void *data);
    void *data;
};

/* A new active or view snapshot key on parent (NULL or "": none), which must be committed;
 * hook may be NULL. out (may be NULL) receives its record. */
int lzs_snapstore_create(lzs_snapstore *s, enum lzs_snap_kind kind, const char *key,
                         const char *parent, const struct lzs_snap_label *labels, size_t n_labels,
                         const struct lzs_snap_hook *hook, struct lzs_snap_info *out,
                         lzs_error **err);
/* The record of key. */
int lzs_snapstore_stat(lzs_snapstore *s, const char *key, struct lzs_snap_info *out,
                       lzs_error **err);
/* The ids of key's parents, nearest first (*ids malloc'd; *n may be 0). */
int lzs_snapstore_parent_ids(lzs_snapstore *s, const char *key, int64_t **ids, size_t *n,
                             lzs_error **err);
/* Commit active snapshot key as name (which must be new), with labels (replacing its own) and
 * its usage. */
int lzs_snapstore_commit(lzs_snapstore *s, const char *key, const char *name,
                         const struct lzs_snap_label *labels, size_t n_labels, int64_t size,
                         int64_t inodes, lzs_error **err);
/* Remove key (it must have no children); *removed (may be NULL) receives its record. */
int lzs_snapstore_remove(lzs_snapstore *s, const char *key, struct lzs_snap_info *removed,
                         lzs_error **err);
/* Update in->key's labels from in: paths "labels" (all of them) or "labels.NAME" (one; absent
 * from in: removed); no paths: all labels. Any other path is EINVAL. LZS_SNAP_LABEL_REMOTE stays
 * as it was (the snapshotter's own). out (may be NULL) receives the updated record. */
int lzs_snapstore_update(lzs_snapstore *s, const struct lzs_snap_info *in, const char *const *paths,
                         size_t n_paths, struct lzs_snap_info *out, lzs_error **err);
/* Call fn for every snapshot, by id, in one transaction (fn must not call the store); a negative
 * return from fn stops the walk and is returned. */
int lzs_snapstore_walk(lzs_snapstore *s, int (*fn)(const struct lzs_snap_info *i, void *data),
                       void *data, lzs_error **err);

/* ---- the overlay snapshotter ---------------------------------------------------------------- */

/* A mount for containerd to perform (containerd.types.Mount). */
struct lzs_snap_mount {
    char *type, *source;
    char **options;
    size_t n_options;
};
struct lzs_snap_mounts {
    struct lzs_snap_mount *v;
    size_t n;
};
void lzs_snap_mounts_dispose(struct lzs_snap_mounts *m);

/* Records in ROOT/metadata.db, snapshot directories ROOT/snapshots/ID/{fs,work}. Mounts, as
 * containerd's overlay snapshotter gives them: no parent: a bind of its fs (rw when active);
 * a view on one parent: a read-only bind of the parent's fs; else overlay with upperdir and
 * workdir (active) over lowerdir = the parents' fs, nearest first, and index=off when the kernel
 * knows that option. */
typedef struct lzs_snapshotter lzs_snapshotter;

int lzs_snapshotter_open(lzs_snapshotter **out, const char *root, lzs_error **err);
void lzs_snapshotter_close(lzs_snapshotter *sn);
LZS_DEFINE_CLEANUP(lzs_snapshotter, lzs_snapshotter_close)
/* Its records (stat, update, walk). Borrowed. */
lzs_snapstore *lzs_snapshotter_store(lzs_snapshotter *sn);

/* A new active snapshot (prepare) or view; mounts (may be NULL) receives its mounts. */
int lzs_snapshotter_prepare(lzs_snapshotter *sn, const char *key, const char *parent,
                            const struct lzs_snap_label *labels, size_t n_labels,
                            struct lzs_snap_mounts *mounts, lzs_error **err);
int lzs_snapshotter_view(lzs_snapshotter *sn, const char *key, const char *parent,
                         const struct lzs_snap_label *labels, size_t n_labels,
                         struct lzs_snap_mounts *mounts, lzs_error **err);
/* The mounts of an active snapshot or view (EBUSY for a committed one). */
int lzs_snapshotter_mounts(lzs_snapshotter *sn, const char *key, struct lzs_snap_mounts *out,
                           lzs_error **err);
/* Commit active snapshot key as name, recording the usage of its fs. */
int lzs_snapshotter_commit(lzs_snapshotter *sn, const char *name, const char *key,
                           const struct lzs_snap_label *labels, size_t n_labels, lzs_error **err);
/* Remove key's record, then its directory (left to cleanup when that fails). */
int lzs_snapshotter_remove(lzs_snapshotter *sn, const char *key, lzs_error **err);
/* Bytes and inodes: measured for an active snapshot, recorded at commit otherwise. */
int lzs_snapshotter_usage(lzs_snapshotter *sn, const char *key, int64_t *size, int64_t *inodes,
                          lzs_error **err);
/* Remove the directories under ROOT/snapshots that no record names (left by a crash or a failed
 * removal); *removed counts them. */
int lzs_snapshotter_cleanup(lzs_snapshotter *sn, size_t *removed, lzs_error **err);

/* ---- remote snapshots ------------------------------------------------------------------------
 *
 * A Prepare whose labels carry LZS_SNAP_LABEL_REF (containerd unpacking a layer: the value is
 * the layer's chain id) is offered to the remote first. When the remote can serve the layer, it
 * is mounted read-only at the new snapshot's fs, which is committed at once under the ref's name
 * with the Prepare's labels plus LZS_SNAP_LABEL_REMOTE, and Prepare answers EEXIST: containerd
 * then skips the download. When it cannot (-ENOENT: no index, or no CRI labels), or fails, the
 * Prepare is answered as usual and containerd pulls and unpacks the layer. */

#define LZS_SNAP_LABEL_REF "containerd.io/snapshot.ref"
#define LZS_SNAP_LABEL_REMOTE "containerd.io/snapshot/remote"

struct lzs_snap_remote {
    /* Mount the layer labels describe at dir (an empty directory); 0 with *size and *inodes its
     * usage, -ENOENT when it is not one the remote serves, another error when it failed. */
    int (*mount)(void *data, const struct lzs_snap_label *labels, size_t n, const char *dir,
                 int64_t *size, int64_t *inodes, lzs_error **err);
    /* Unmount what mount put at dir (nothing when nothing is there). */
    void (*unmount)(void *data, const char *dir);
    void *data;
};

/* Offer Prepares with LZS_SNAP_LABEL_REF to r (copied; r->data must outlive sn). Call before
 * serving. */
void lzs_snapshotter_set_remote(lzs_snapshotter *sn, const struct lzs_snap_remote *r);
/* Mount every committed remote snapshot again from its labels (after a restart; anything left
 * mounted at its fs by a previous daemon is detached first). A snapshot whose mount fails is
 * logged and tried again whenever a mount of a snapshot above it is asked for (which fails,
 * EAGAIN, while it cannot be mounted: an empty layer is never shown). */
int lzs_snapshotter_restore(lzs_snapshotter *sn, size_t *mounted, size_t *failed, lzs_error **err);

#endif
