/* The snapshot records: the database, its transactions, and the operations that change which
 * snapshots exist (create, commit, remove). */
#include "snapshot_i.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 10000

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS snapshots("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL UNIQUE,"
    "  parent_id INTEGER REFERENCES snapshots(id),"
    "  kind INTEGER NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  inodes INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS snapshots_by_parent ON snapshots(parent_id);"
    "CREATE TABLE IF NOT EXISTS labels("
    "  id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY(id, name));";

int snap_db_error(lzs_snapstore *s, const char *what, lzs_error **err)
{
    int code = sqlite3_errcode(s->db);
    /* busy or locked past the timeout: worth a retry (UNAVAILABLE to containerd) */
    int e = code == SQLITE_BUSY || code == SQLITE_LOCKED ? EAGAIN : EIO;
    return lzs_error_set(err, e, "snapshot db %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *snap_prepare(lzs_snapstore *s, const char *sql, lzs_error **err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snap_db_error(s, "prepare", err);
        return NULL;
    }
    return st;
}

int64_t snap_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lzs_snapstore_open(lzs_snapstore **out, const char *path, lzs_error **err)
{
    lzs_snapstore *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    int rc = 0;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK)
        rc = s->db ? snap_db_error(s, "open", err) : lzs_error_set(err, ENOMEM, "out of memory");
    if (rc == 0)
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (rc == 0 && sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        rc = snap_db_error(s, "create the schema", err);
    if (rc < 0) {
        lzs_snapstore_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void lzs_snapstore_close(lzs_snapstore *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

/* BEGIN IMMEDIATE with s->lock held; end() commits (rc == 0) or rolls back. */
int snap_begin(lzs_snapstore *s, lzs_error **err)
{
    pthread_mutex_lock(&s->lock);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    int rc = snap_db_error(s, "begin", err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int snap_end(lzs_snapstore *s, int rc, lzs_error **err)
{
    if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = snap_db_error(s, "commit", err);
    if (rc < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int snap_step_done(lzs_snapstore *s, sqlite3_stmt *st, const char *what, lzs_error **err)
{
    return sqlite3_step(st) == SQLITE_DONE ? 0 : snap_db_error(s, what, err);
}

int snap_check_key(const char *what, const char *key, lzs_error **err)
{
    if (!key || !*key)
        return lzs_error_set(err, EINVAL, "%s: an empty key", what);
    return 0;
}

static int insert(lzs_snapstore *s, enum lzs_snap_kind kind, const char *key, int64_t parent_id,
                  lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s,
                     "INSERT INTO snapshots(key, parent_id, kind, created_ns, updated_ns) "
                     "VALUES(?, ?, ?, ?, ?)",
                     err);
    if (!st)
        return -EIO;
    int64_t now = snap_now();
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (parent_id)
        sqlite3_bind_int64(st, 2, parent_id);
    sqlite3_bind_int(st, 3, kind);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now);
    return snap_step_done(s, st, "insert", err);
}

static bool exists(lzs_snapstore *s, const char *key)
{
    struct lzs_snap_info i = {0};
    bool yes = snap_info_get(s, key, &i, NULL) == 0;
    lzs_snap_info_dispose(&i);
    return yes;
}

static int create_locked(lzs_snapstore *s, enum lzs_snap_kind kind, const char *key,
                         const char *parent, const struct lzs_snap_label *labels, size_t n,
                         const struct lzs_snap_hook *hook, lzs_error **err)
{
    struct lzs_snap_info p = {0};
    int64_t parent_id = 0;
    int rc = 0;
    if (exists(s, key)) /* checked first, as containerd does */
        return lzs_error_set(err, EEXIST, "snapshot %s already exists", key);
    if (parent && *parent) {
        rc = snap_info_get(s, parent, &p, err);
        if (rc == 0 && p.kind != LZS_SNAP_COMMITTED)
            rc = lzs_error_set(err, EINVAL, "parent %s is not a committed snapshot", parent);
        parent_id = p.id;
        lzs_snap_info_dispose(&p);
        if (rc < 0)
            return rc;
    }
    rc = insert(s, kind, key, parent_id, err);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    if (rc == 0)
        rc = snap_labels_set(s, id, labels, n, err);
    if (rc == 0 && hook)
        rc = hook->fn(id, parent_id, hook->data, err);
    return rc;
}

int lzs_snapstore_create(lzs_snapstore *s, enum lzs_snap_kind kind, const char *key,
                         const char *parent, const struct lzs_snap_label *labels, size_t n_labels,
                         const struct lzs_snap_hook *hook, struct lzs_snap_info *out,
                         lzs_error **err)
{
    int rc = snap_check_key("create", key, err);
    if (rc == 0 && kind != LZS_SNAP_ACTIVE && kind != LZS_SNAP_VIEW)
        rc = lzs_error_set(err, EINVAL, "snapshot %s: a new snapshot is active or a view", key);
    if (rc == 0)
        rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    rc = create_locked(s, kind, key, parent, labels, n_labels, hook, err);
    if (rc == 0 && out)
        rc = snap_info_get(s, key, out, err);
    rc = snap_end(s, rc, err);
    if (rc < 0 && hook && hook->undo) /* rolled back: what the hook did goes too */
        hook->undo(hook->data);
    return rc;
}

static int parent_ids_locked(lzs_snapstore *s, const char *key, int64_t **ids, size_t *n,
                             lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s,
                     "WITH RECURSIVE chain(id, parent_id, depth) AS ("
                     "  SELECT id, parent_id, 0 FROM snapshots WHERE key = ?"
                     "  UNION ALL SELECT s.id, s.parent_id, c.depth + 1 FROM snapshots s"
                     "  JOIN chain c ON s.id = c.parent_id) "
                     "SELECT id FROM chain WHERE depth > 0 ORDER BY depth",
                     err);
    if (!st)
        return -EIO;
    struct lzs_snap_info self = {0};
    int rc = snap_info_get(s, key, &self, err);
    lzs_snap_info_dispose(&self);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    for (int r; (r = sqlite3_step(st)) != SQLITE_DONE;) {
        if (r != SQLITE_ROW)
            return snap_db_error(s, "parents", err);
        int64_t *p = lzs_realloc_array(*ids, *n + 1, sizeof(**ids));
        if (!p)
            return lzs_error_set(err, ENOMEM, "out of memory");
        *ids = p;
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    return 0;
}

int lzs_snapstore_parent_ids(lzs_snapstore *s, const char *key, int64_t **ids, size_t *n,
                             lzs_error **err)
{
    *ids = NULL;
    *n = 0;
    int rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    rc = snap_end(s, parent_ids_locked(s, key, ids, n, err), err);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

static int commit_locked(lzs_snapstore *s, const char *key, const char *name,
                         const struct lzs_snap_label *labels, size_t n, int64_t size,
                         int64_t inodes, lzs_error **err)
{
    struct lzs_snap_info a = {0};
    if (exists(s, name)) /* checked first, as containerd does */
        return lzs_error_set(err, EEXIST, "snapshot %s already exists", name);
    int rc = snap_info_get(s, key, &a, err);
    int64_t id = a.id;
    if (rc == 0 && a.kind != LZS_SNAP_ACTIVE)
        rc = lzs_error_set(err, EBUSY, "snapshot %s is %s, not active", key,
                           lzs_snap_kind_name(a.kind));
    lzs_snap_info_dispose(&a);
    if (rc < 0)
        return rc;
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st = snap_prepare(
        s,
        "UPDATE snapshots SET key = ?, kind = ?, updated_ns = ?, size = ?, inodes = ? WHERE id = ?",
        err);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, LZS_SNAP_COMMITTED);
    sqlite3_bind_int64(st, 3, snap_now());
    sqlite3_bind_int64(st, 4, size);
    sqlite3_bind_int64(st, 5, inodes);
    sqlite3_bind_int64(st, 6, id);
    rc = snap_step_done(s, st, "commit", err);
    if (rc == 0)
        rc = snap_labels_set(s, id, labels, n, err);
    return rc;
}

int lzs_snapstore_commit(lzs_snapstore *s, const char *key, const char *name,
                         const struct lzs_snap_label *labels, size_t n_labels, int64_t size,
                         int64_t inodes, lzs_error **err)
{
    int rc = snap_check_key("commit", key, err);
    if (rc == 0)
        rc = snap_check_key("commit", name, err);
    if (rc == 0)
        rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    rc = commit_locked(s, key, name, labels, n_labels, size, inodes, err);
    return snap_end(s, rc, err);
}

static int has_children(lzs_snapstore *s, int64_t id, bool *yes, lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s, "SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return snap_db_error(s, "children", err);
    *yes = r == SQLITE_ROW;
    return 0;
}

static int remove_locked(lzs_snapstore *s, const char *key, struct lzs_snap_info *removed,
                         lzs_error **err)
{
    int rc = snap_info_get(s, key, removed, err);
    bool children = false;
    if (rc == 0)
        rc = has_children(s, removed->id, &children, err);
    if (rc == 0 && children)
        rc = lzs_error_set(err, EBUSY, "cannot remove snapshot %s: it has children", key);
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        rc == 0 ? snap_prepare(s, "DELETE FROM snapshots WHERE id = ?", err) : NULL;
    if (rc == 0 && !st)
        rc = -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, removed->id);
        rc = snap_step_done(s, st, "remove", err);
    }
    return rc;
}

int lzs_snapstore_remove(lzs_snapstore *s, const char *key, struct lzs_snap_info *removed,
                         lzs_error **err)
{
    struct lzs_snap_info gone = {0};
    int rc = snap_check_key("remove", key, err);
    if (rc == 0)
        rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    rc = snap_end(s, remove_locked(s, key, &gone, err), err);
    if (rc == 0 && removed)
        *removed = gone;
    else
        lzs_snap_info_dispose(&gone);
    return rc;
}
