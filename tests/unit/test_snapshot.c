/* Unit tests for lib/snapshot: the records behave as containerd's metadata store (kinds, parents,
 * commit, remove, labels by field path), persist, and stay consistent under concurrent use. */
#include "snapshot/snapshot.h"
#include "test.h"

#include <pthread.h>
#include <stdio.h>

/* The call fails with -code and a message holding needle; err is cleared for the next one. */
#define REFUSED(rc, err, code, needle)     \
    do {                                   \
        ASSERT_ERR(rc, err, code, needle); \
        lzs_error_free(&(err));            \
    } while (0)

static lzs_snapstore *open_store(void)
{
    lzs_snapstore *s = NULL;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_snapstore_open(&s, lzs_test_path("snap.db"), &err), err);
    return s;
}

static void create(lzs_snapstore *s, enum lzs_snap_kind kind, const char *key, const char *parent)
{
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_snapstore_create(s, kind, key, parent, NULL, 0, NULL, &err), err);
}

LZS_TEST(test_snapshot__kinds_parents_and_commit)
{
    lzs_cleanup(lzs_snapstore_closep) lzs_snapstore *s = open_store();
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_info i = {0};
    ASSERT_OK(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "ns/1/extract-a", "", NULL, 0, &i, &err),
              err);
    ASSERT_EQ(i.kind, LZS_SNAP_ACTIVE);
    ASSERT_STR_EQ(i.parent, "");
    int64_t id = i.id;
    ASSERT(i.created_ns > 0 && i.created_ns == i.updated_ns);
    lzs_snap_info_dispose(&i);
    ASSERT_OK(lzs_snapstore_commit(s, "ns/1/extract-a", "sha256:a", NULL, 0, 4096, 3, &err), err);
    ASSERT_OK(lzs_snapstore_stat(s, "sha256:a", &i, &err), err);
    ASSERT_EQ(i.id, id); /* the id, which names its directories, survives the commit */
    ASSERT_EQ(i.kind, LZS_SNAP_COMMITTED);
    ASSERT_EQ(i.size, 4096);
    ASSERT_EQ(i.inodes, 3);
    lzs_snap_info_dispose(&i);
    REFUSED(lzs_snapstore_stat(s, "ns/1/extract-a", &i, &err), err, ENOENT,
            "snapshot ns/1/extract-a does not exist");
    create(s, LZS_SNAP_ACTIVE, "ns/2/extract-b", "sha256:a");
    ASSERT_OK(lzs_snapstore_commit(s, "ns/2/extract-b", "sha256:b", NULL, 0, 0, 0, &err), err);
    create(s, LZS_SNAP_VIEW, "view", "sha256:b");
    create(s, LZS_SNAP_ACTIVE, "rootfs", "sha256:b");
    int64_t *ids;
    size_t n;
    ASSERT_OK(lzs_snapstore_parent_ids(s, "rootfs", &ids, &n, &err), err);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(ids[1], id); /* nearest first */
    free(ids);
    ASSERT_OK(lzs_snapstore_parent_ids(s, "sha256:a", &ids, &n, &err), err);
    ASSERT_EQ(n, 0);
    free(ids);
    /* what containerd's store refuses */
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "x", "rootfs", NULL, 0, NULL, &err), err,
            EINVAL, "parent rootfs is not a committed snapshot");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "x", "nope", NULL, 0, NULL, &err), err, ENOENT,
            "snapshot nope does not exist");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_VIEW, "rootfs", "", NULL, 0, NULL, &err), err, EEXIST,
            "snapshot rootfs already exists");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_COMMITTED, "c", "", NULL, 0, NULL, &err), err, EINVAL,
            "a new snapshot is active or a view");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "", "", NULL, 0, NULL, &err), err, EINVAL,
            "an empty key");
    REFUSED(lzs_snapstore_commit(s, "view", "v2", NULL, 0, 0, 0, &err), err, EBUSY,
            "snapshot view is view, not active");
    REFUSED(lzs_snapstore_commit(s, "rootfs", "sha256:a", NULL, 0, 0, 0, &err), err, EEXIST,
            "snapshot sha256:a already exists");
    REFUSED(lzs_snapstore_remove(s, "sha256:b", NULL, &err), err, EBUSY,
            "cannot remove snapshot sha256:b: it has children");
    ASSERT_OK(lzs_snapstore_stat(s, "rootfs", &i, &err), err); /* nothing half-done */
    ASSERT_EQ(i.kind, LZS_SNAP_ACTIVE);
    lzs_snap_info_dispose(&i);
    ASSERT_OK(lzs_snapstore_remove(s, "view", &i, &err), err);
    ASSERT_EQ(i.kind, LZS_SNAP_VIEW);
    lzs_snap_info_dispose(&i);
    ASSERT_OK(lzs_snapstore_remove(s, "rootfs", NULL, &err), err);
    ASSERT_OK(lzs_snapstore_remove(s, "sha256:b", NULL, &err), err);
    REFUSED(lzs_snapstore_remove(s, "sha256:b", NULL, &err), err, ENOENT, "does not exist");
}

LZS_TEST(test_snapshot__labels_by_field_path)
{
    lzs_cleanup(lzs_snapstore_closep) lzs_snapstore *s = open_store();
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_label l[] = {{(char *)"containerd.io/snapshot.ref", (char *)"sha256:c"},
                                 {(char *)"a", (char *)"1"},
                                 {(char *)"b", (char *)"2"}};
    struct lzs_snap_info i = {0}, in = {.key = (char *)"k"};
    ASSERT_OK(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "k", NULL, l, 3, &i, &err), err);
    ASSERT_EQ(i.n_labels, 3);
    ASSERT_STR_EQ(i.labels[0].name, "a"); /* sorted by name */
    int64_t updated = i.updated_ns;
    lzs_snap_info_dispose(&i);
    /* labels.a set anew, labels.b absent from in: removed, the rest untouched */
    struct lzs_snap_label a2 = {(char *)"a", (char *)"one"};
    in.labels = &a2;
    in.n_labels = 1;
    const char *paths[] = {"labels.a", "labels.b"};
    ASSERT_OK(lzs_snapstore_update(s, &in, paths, 2, &i, &err), err);
    ASSERT_EQ(i.n_labels, 2);
    ASSERT_STR_EQ(i.labels[0].value, "one");
    ASSERT_STR_EQ(i.labels[1].name, "containerd.io/snapshot.ref");
    ASSERT(i.updated_ns >= updated);
    lzs_snap_info_dispose(&i);
    const char *bad[] = {"labels.a", "parent"};
    REFUSED(lzs_snapstore_update(s, &in, bad, 2, NULL, &err), err, EINVAL,
            "cannot update field 'parent' of snapshot k");
    ASSERT_OK(lzs_snapstore_stat(s, "k", &i, &err), err); /* the failed update changed nothing */
    ASSERT_EQ(i.n_labels, 2);
    lzs_snap_info_dispose(&i);
    /* no paths: every label replaced */
    ASSERT_OK(lzs_snapstore_update(s, &in, NULL, 0, &i, &err), err);
    ASSERT_EQ(i.n_labels, 1);
    lzs_snap_info_dispose(&i);
    in.key = (char *)"missing";
    REFUSED(lzs_snapstore_update(s, &in, NULL, 0, NULL, &err), err, ENOENT, "does not exist");
}

static int count(const struct lzs_snap_info *i, void *data)
{
    (void)i;
    return ++*(int *)data == 3 ? -ECANCELED : 0;
}

LZS_TEST(test_snapshot__persists_and_never_reuses_ids)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_info i = {0};
    int64_t gone;
    {
        lzs_cleanup(lzs_snapstore_closep) lzs_snapstore *s = open_store();
        create(s, LZS_SNAP_ACTIVE, "a", NULL);
        ASSERT_OK(lzs_snapstore_commit(s, "a", "A", NULL, 0, 1, 1, &err), err);
        create(s, LZS_SNAP_ACTIVE, "b", "A");
        create(s, LZS_SNAP_ACTIVE, "c", NULL);
        ASSERT_OK(lzs_snapstore_remove(s, "c", &i, &err), err);
        gone = i.id;
        lzs_snap_info_dispose(&i);
    }
    lzs_cleanup(lzs_snapstore_closep) lzs_snapstore *s = open_store();
    ASSERT_OK(lzs_snapstore_stat(s, "b", &i, &err), err);
    ASSERT_STR_EQ(i.parent, "A");
    lzs_snap_info_dispose(&i);
    ASSERT_OK(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "d", NULL, NULL, 0, &i, &err), err);
    ASSERT(i.id > gone); /* a removed snapshot's directories are never someone else's */
    lzs_snap_info_dispose(&i);
    create(s, LZS_SNAP_ACTIVE, "e", NULL);
    int n = 0;
    ASSERT_EQ(lzs_snapstore_walk(s, count, &n, &err), -ECANCELED);
    ASSERT_EQ(n, 3); /* stopped by its callback */
}

LZS_TEST(test_snapshot__a_damaged_database_is_a_clear_error)
{
    lzs_test_write_file(lzs_test_path("snap.db"), "this is no database, not at all......", 38);
    lzs_snapstore *s = NULL;
    lzs_autoerr lzs_error *err = NULL;
    REFUSED(lzs_snapstore_open(&s, lzs_test_path("snap.db"), &err), err, EIO,
            "file is not a database");
    ASSERT(s == NULL);
}

struct worker {
    lzs_snapstore *s;
    int k;
};

static void *work(void *p)
{
    struct worker *w = p;
    for (int i = 0; i < 50; i++) {
        char key[64], name[64];
        snprintf(key, sizeof(key), "w%d/%d", w->k, i);
        snprintf(name, sizeof(name), "c%d/%d", w->k, i);
        create(w->s, LZS_SNAP_ACTIVE, key, i ? "base" : NULL);
        lzs_autoerr lzs_error *err = NULL;
        ASSERT_OK(lzs_snapstore_commit(w->s, key, name, NULL, 0, i, i, &err), err);
    }
    return NULL;
}

static int collect(const struct lzs_snap_info *i, void *data)
{
    int64_t *prev = data;
    if (i->id <= *prev)
        return -EINVAL;
    *prev = i->id;
    return 0;
}

LZS_TEST(test_snapshot__concurrent_operations)
{
    lzs_cleanup(lzs_snapstore_closep) lzs_snapstore *s = open_store();
    lzs_autoerr lzs_error *err = NULL;
    create(s, LZS_SNAP_ACTIVE, "b0", NULL);
    ASSERT_OK(lzs_snapstore_commit(s, "b0", "base", NULL, 0, 0, 0, &err), err);
    pthread_t t[8];
    struct worker w[8];
    for (int k = 0; k < 8; k++) {
        w[k] = (struct worker){s, k};
        ASSERT_EQ(pthread_create(&t[k], NULL, work, &w[k]), 0);
    }
    for (int k = 0; k < 8; k++)
        pthread_join(t[k], NULL);
    int64_t prev = 0;
    ASSERT_OK(lzs_snapstore_walk(s, collect, &prev, &err), err); /* ids unique, increasing */
    struct lzs_snap_info i;
    ASSERT_OK(lzs_snapstore_stat(s, "c7/49", &i, &err), err);
    ASSERT_STR_EQ(i.parent, "base");
    lzs_snap_info_dispose(&i);
}
