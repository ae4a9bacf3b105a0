/* snapshot internals shared by store.c (open, transactions, create/commit/remove) and info.c
 * (records and labels). */
#ifndef LZS_SNAPSHOT_I_H
#define LZS_SNAPSHOT_I_H

#include "snapshot/snapshot.h"

#include <pthread.h>
#include <sqlite3.h>

struct lzs_snapstore {
    sqlite3 *db;
    char *path;
    pthread_mutex_t lock; /* one operation (transaction) at a time on the connection */
};

struct snap_pending; /* remote.c: remote snapshots not mounted yet */

struct lzs_snapshotter {
    char *root, *snaps; /* ROOT, ROOT/snapshots */
    lzs_snapstore *store;
    bool index_off;        /* the kernel's overlay knows index=: containerd passes index=off */
    int lock_fd;           /* ROOT/lock, flock'd: one snapshotter per root */
    pthread_rwlock_t dirs; /* creations (shared) against cleanup (exclusive) */
    struct lzs_snap_remote remote; /* mount NULL: none */
    pthread_mutex_t remote_lock;   /* pending */
    struct snap_pending *pending;  /* restored remote snapshots whose mount failed */
    size_t n_pending;
};

/* "ROOT/snapshots/ID/sub" (sub NULL: the snapshot's directory) into buf. */
const char *snap_path(const lzs_snapshotter *sn, int64_t id, const char *sub, char *buf,
                      size_t len);
/* remote.c: free the pending list. */
void snap_remote_dispose(lzs_snapshotter *sn);
/* remote.c: before key's directory goes: unmount a remote layer (or anything) at its fs. */
void snap_remote_release(lzs_snapshotter *sn, const struct lzs_snap_info *i);
/* remote.c: detach anything mounted at DIR/fs (an orphan's, before it is removed). */
void snap_detach_fs(const char *dir);
/* remote.c: make sure the remote parents among ids are mounted (-EAGAIN when one cannot be). */
int snap_remote_ensure(lzs_snapshotter *sn, const int64_t *ids, size_t n, lzs_error **err);
/* remote.c: the same for parent (a key, NULL or "": none) and its own parents; a parent that does
 * not exist is left to the store to report. */
int snap_remote_ensure_chain(lzs_snapshotter *sn, const char *parent, lzs_error **err);
/* remote.c: Prepare of key with a snapshot.ref label through the remote: 1 when it was not
 * handled (go the normal way), else 0 or an error (EEXIST: the target now exists). */
int snap_remote_prepare(lzs_snapshotter *sn, const char *key, const struct lzs_snap_label *labels,
                        size_t n_labels, lzs_error **err);
/* info.c: the value of label name, or NULL. */
const char *snap_label_find(const struct lzs_snap_label *labels, size_t n, const char *name);

/* An error from the last SQLite call on s: "snapshot db PATH: what: message". */
int snap_db_error(lzs_snapstore *s, const char *what, lzs_error **err);
/* Prepare sql; NULL after setting *err. */
sqlite3_stmt *snap_prepare(lzs_snapstore *s, const char *sql, lzs_error **err);
static inline void snap_finalizep(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
}

/* Run st (bound) to completion: 0, or the database's error about what. */
int snap_step_done(lzs_snapstore *s, sqlite3_stmt *st, const char *what, lzs_error **err);
/* EINVAL "WHAT: an empty key" unless key is a non-empty string. */
int snap_check_key(const char *what, const char *key, lzs_error **err);

/* The record with column values of row st (id, key, parent key, kind, created, updated, size,
 * inodes), labels loaded. */
int snap_info_from_row(lzs_snapstore *s, sqlite3_stmt *st, struct lzs_snap_info *out,
                       lzs_error **err);
/* SELECT ... WHERE key = ? into out: 0, or -ENOENT with "snapshot KEY does not exist". */
int snap_info_get(lzs_snapstore *s, const char *key, struct lzs_snap_info *out, lzs_error **err);
/* Replace the labels of snapshot id. */
int snap_labels_set(lzs_snapstore *s, int64_t id, const struct lzs_snap_label *labels, size_t n,
                    lzs_error **err);
/* BEGIN IMMEDIATE, holding s->lock until snap_end, which commits (rc == 0) or rolls back and
 * returns the outcome. */
int snap_begin(lzs_snapstore *s, lzs_error **err);
int snap_end(lzs_snapstore *s, int rc, lzs_error **err);
/* Disk usage of the tree at dir (st_blocks * 512, each inode once) without crossing mounts. */
int snap_dir_usage(const char *dir, int64_t *size, int64_t *inodes, lzs_error **err);
/* rm -rf dir, not crossing mounts; a missing dir is fine. */
int snap_dir_remove(const char *dir, lzs_error **err);
/* Unix time in ns. */
int64_t snap_now(void);

#endif
