/* The snapshot records: reading them (with their labels), label updates by field path, walks. */
#include "snapshot_i.h"

#include <string.h>

#define INFO_COLUMNS                                                                             \
    "s.id, s.key, p.key, s.kind, s.created_ns, s.updated_ns, s.size, s.inodes FROM snapshots s " \
    "LEFT JOIN snapshots p ON p.id = s.parent_id"

const char *lzs_snap_kind_name(enum lzs_snap_kind k)
{
    switch (k) {
    case LZS_SNAP_VIEW:
        return "view";
    case LZS_SNAP_ACTIVE:
        return "active";
    case LZS_SNAP_COMMITTED:
        return "committed";
    default:
        return "unknown";
    }
}

void lzs_snap_info_dispose(struct lzs_snap_info *i)
{
    for (size_t k = 0; k < i->n_labels; k++) {
        free(i->labels[k].name);
        free(i->labels[k].value);
    }
    free(i->labels);
    free(i->key);
    free(i->parent);
    memset(i, 0, sizeof(*i));
}

static char *column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

static int load_labels(lzs_snapstore *s, struct lzs_snap_info *i, lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s, "SELECT name, value FROM labels WHERE id = ? ORDER BY name", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, i->id);
    for (int r; (r = sqlite3_step(st)) != SQLITE_DONE;) {
        if (r != SQLITE_ROW)
            return snap_db_error(s, "labels", err);
        struct lzs_snap_label *p = lzs_realloc_array(i->labels, i->n_labels + 1, sizeof(*p));
        if (!p)
            return lzs_error_set(err, ENOMEM, "out of memory");
        i->labels = p;
        p[i->n_labels] = (struct lzs_snap_label){column_dup(st, 0), column_dup(st, 1)};
        if (!p[i->n_labels].name || !p[i->n_labels].value) {
            free(p[i->n_labels].name);
            free(p[i->n_labels].value);
            return lzs_error_set(err, ENOMEM, "out of memory");
        }
        i->n_labels++;
    }
    return 0;
}

int snap_info_from_row(lzs_snapstore *s, sqlite3_stmt *st, struct lzs_snap_info *out,
                       lzs_error **err)
{
    *out = (struct lzs_snap_info){
        .id = sqlite3_column_int64(st, 0),
        .key = column_dup(st, 1),
        .parent = column_dup(st, 2),
        .kind = (enum lzs_snap_kind)sqlite3_column_int(st, 3),
        .created_ns = sqlite3_column_int64(st, 4),
        .updated_ns = sqlite3_column_int64(st, 5),
        .size = sqlite3_column_int64(st, 6),
        .inodes = sqlite3_column_int64(st, 7),
    };
    int rc = out->key && out->parent ? load_labels(s, out, err)
                                     : lzs_error_set(err, ENOMEM, "out of memory");
    if (rc < 0)
        lzs_snap_info_dispose(out);
    return rc;
}

int snap_info_get(lzs_snapstore *s, const char *key, struct lzs_snap_info *out, lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s, "SELECT " INFO_COLUMNS " WHERE s.key = ?", err);
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        return lzs_error_set(err, ENOENT, "snapshot %s does not exist", key);
    if (r != SQLITE_ROW)
        return snap_db_error(s, "stat", err);
    return snap_info_from_row(s, st, out, err);
}

static int exec_id(lzs_snapstore *s, const char *sql, int64_t id, lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st = snap_prepare(s, sql, err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    return snap_step_done(s, st, "labels", err);
}

static int label_put(lzs_snapstore *s, int64_t id, const char *name, const char *value,
                     lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s, "INSERT OR REPLACE INTO labels(id, name, value) VALUES(?, ?, ?)", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value ? value : "", -1, SQLITE_STATIC);
    return snap_step_done(s, st, "labels", err);
}

static int label_delete(lzs_snapstore *s, int64_t id, const char *name, lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s, "DELETE FROM labels WHERE id = ? AND name = ?", err);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return snap_step_done(s, st, "labels", err);
}

/* containerd's limit on a label (name and value together). */
#define LABEL_MAX 4096

static int check_label(const char *name, const char *value, lzs_error **err)
{
    if (!name || !*name)
        return lzs_error_set(err, EINVAL, "a label with an empty name");
    if (strlen(name) + (value ? strlen(value) : 0) > LABEL_MAX)
        return lzs_error_set(err, EINVAL, "label %.64s...: longer than %d bytes", name, LABEL_MAX);
    return 0;
}

int snap_labels_set(lzs_snapstore *s, int64_t id, const struct lzs_snap_label *labels, size_t n,
                    lzs_error **err)
{
    int rc = exec_id(s, "DELETE FROM labels WHERE id = ?", id, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = check_label(labels[i].name, labels[i].value, err);
        if (rc == 0 && labels[i].value && *labels[i].value) /* "" means none, as in containerd */
            rc = label_put(s, id, labels[i].name, labels[i].value, err);
    }
    return rc;
}

int lzs_snapstore_stat(lzs_snapstore *s, const char *key, struct lzs_snap_info *out,
                       lzs_error **err)
{
    int rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    return snap_end(s, snap_info_get(s, key, out, err), err);
}

const char *snap_label_find(const struct lzs_snap_label *labels, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(labels[k].name, name) == 0)
            return labels[k].value;
    return NULL;
}

/* One field path of an update: "labels" or "labels.NAME". */
static int update_path(lzs_snapstore *s, int64_t id, const struct lzs_snap_info *in,
                       const char *path, lzs_error **err)
{
    if (strcmp(path, "labels") == 0)
        return snap_labels_set(s, id, in->labels, in->n_labels, err);
    if (strncmp(path, "labels.", 7) != 0 || !path[7])
        return lzs_error_set(err, EINVAL, "cannot update field '%s' of snapshot %s", path, in->key);
    const char *name = path + 7, *value = snap_label_find(in->labels, in->n_labels, name);
    if (!value || !*value) /* absent or "": removed */
        return label_delete(s, id, name, err);
    int rc = check_label(name, value, err);
    return rc < 0 ? rc : label_put(s, id, name, value, err);
}

/* LZS_SNAP_LABEL_REMOTE says the snapshot is a mounted layer (what restarts mount again and
 * Remove unmounts): the snapshotter's to set, so an update leaves it as it was. */
static int keep_remote_label(lzs_snapstore *s, const struct lzs_snap_info *cur, lzs_error **err)
{
    const char *value = snap_label_find(cur->labels, cur->n_labels, LZS_SNAP_LABEL_REMOTE);
    if (value)
        return label_put(s, cur->id, LZS_SNAP_LABEL_REMOTE, value, err);
    return label_delete(s, cur->id, LZS_SNAP_LABEL_REMOTE, err);
}

static int update_locked(lzs_snapstore *s, const struct lzs_snap_info *in, const char *const *paths,
                         size_t n_paths, lzs_error **err)
{
    struct lzs_snap_info cur = {0};
    int rc = snap_info_get(s, in->key, &cur, err);
    int64_t id = cur.id;
    if (rc < 0)
        return rc;
    if (n_paths == 0)
        rc = snap_labels_set(s, id, in->labels, in->n_labels, err);
    for (size_t i = 0; rc == 0 && i < n_paths; i++)
        rc = update_path(s, id, in, paths[i], err);
    if (rc == 0)
        rc = keep_remote_label(s, &cur, err);
    lzs_snap_info_dispose(&cur);
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        rc == 0 ? snap_prepare(s, "UPDATE snapshots SET updated_ns = ? WHERE id = ?", err) : NULL;
    if (rc == 0 && !st)
        rc = -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, snap_now());
        sqlite3_bind_int64(st, 2, id);
        rc = snap_step_done(s, st, "update", err);
    }
    return rc;
}

int lzs_snapstore_update(lzs_snapstore *s, const struct lzs_snap_info *in, const char *const *paths,
                         size_t n_paths, struct lzs_snap_info *out, lzs_error **err)
{
    int rc = snap_check_key("update", in->key, err);
    if (rc == 0)
        rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    rc = update_locked(s, in, paths, n_paths, err);
    if (rc == 0 && out)
        rc = snap_info_get(s, in->key, out, err);
    return snap_end(s, rc, err);
}

static int walk_locked(lzs_snapstore *s, int (*fn)(const struct lzs_snap_info *, void *),
                       void *data, lzs_error **err)
{
    lzs_cleanup(snap_finalizep) sqlite3_stmt *st =
        snap_prepare(s, "SELECT " INFO_COLUMNS " ORDER BY s.id", err);
    if (!st)
        return -EIO;
    for (int r; (r = sqlite3_step(st)) != SQLITE_DONE;) {
        if (r != SQLITE_ROW)
            return snap_db_error(s, "walk", err);
        struct lzs_snap_info i;
        int rc = snap_info_from_row(s, st, &i, err);
        if (rc == 0)
            rc = fn(&i, data);
        lzs_snap_info_dispose(&i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lzs_snapstore_walk(lzs_snapstore *s, int (*fn)(const struct lzs_snap_info *i, void *data),
                       void *data, lzs_error **err)
{
    int rc = snap_begin(s, err);
    if (rc < 0)
        return rc;
    return snap_end(s, walk_locked(s, fn, data, err), err);
}
