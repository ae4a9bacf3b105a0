/* Unit tests for lib/snapshot: the records behave as containerd's metadata store (kinds, parents,
 * commit, remove, labels by field path), persist, and stay consistent under concurrent use. */
#include "snapshot/snapshot.h"
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

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
    ASSERT_OK(lzs_snapstore_create(s, kind, key, parent, NULL, 0, NULL, NULL, &err), err);
}

LZS_TEST(test_snapshot__kinds_parents_and_commit)
{
    lzs_cleanup(lzs_snapstore_closep) lzs_snapstore *s = open_store();
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_info i = {0};
    ASSERT_OK(
        lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "ns/1/extract-a", "", NULL, 0, NULL, &i, &err),
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
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "x", "rootfs", NULL, 0, NULL, NULL, &err), err,
            EINVAL, "parent rootfs is not a committed snapshot");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "x", "nope", NULL, 0, NULL, NULL, &err), err,
            ENOENT, "snapshot nope does not exist");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_VIEW, "rootfs", "", NULL, 0, NULL, NULL, &err), err,
            EEXIST, "snapshot rootfs already exists");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_COMMITTED, "c", "", NULL, 0, NULL, NULL, &err), err,
            EINVAL, "a new snapshot is active or a view");
    REFUSED(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "", "", NULL, 0, NULL, NULL, &err), err,
            EINVAL, "an empty key");
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
    ASSERT_OK(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "k", NULL, l, 3, NULL, &i, &err), err);
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
    ASSERT_OK(lzs_snapstore_create(s, LZS_SNAP_ACTIVE, "d", NULL, NULL, 0, NULL, &i, &err), err);
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

/* ---- the overlay snapshotter ---------------------------------------------------------------- */

static lzs_snapshotter *open_snapshotter(void)
{
    lzs_snapshotter *sn = NULL;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_snapshotter_open(&sn, lzs_test_path("root"), &err), err);
    return sn;
}

/* "o1,o2,..." of mount m. */
static const char *joined(const struct lzs_snap_mount *m)
{
    static char buf[8192];
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_options; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "," : "", m->options[i]);
    return buf;
}

static const char *fs_of(int64_t id)
{
    static char buf[4][4200]; /* a few at once in one call */
    static unsigned next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof(buf[0]), "%s/snapshots/%lld/fs", lzs_test_path("root"), (long long)id);
    return b;
}

static int64_t id_of(lzs_snapshotter *sn, const char *key)
{
    struct lzs_snap_info i;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_snapstore_stat(lzs_snapshotter_store(sn), key, &i, &err), err);
    int64_t id = i.id;
    lzs_snap_info_dispose(&i);
    return id;
}

/* Mount m at dir the way containerd would (root only); false when this machine cannot. */
static bool mount_it(const struct lzs_snap_mount *m, const char *dir)
{
    if (geteuid() != 0)
        return false;
    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && mount -t %s -o %s %s %s", dir, m->type, joined(m),
             m->source, dir);
    return system(cmd) == 0;
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    lzs_test_write_file(path, text, strlen(text));
}

static bool has_file(const char *dir, const char *name)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

LZS_TEST(test_snapshot__overlay_mounts_as_containerd_gives_them)
{
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = open_snapshotter();
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_mounts m = {0};
    ASSERT_OK(lzs_snapshotter_prepare(sn, "a", NULL, NULL, 0, &m, &err), err);
    int64_t a = id_of(sn, "a");
    ASSERT_EQ(m.n, 1);
    ASSERT_STR_EQ(m.v[0].type, "bind");
    ASSERT_STR_EQ(m.v[0].source, fs_of(a));
    ASSERT_STR_EQ(joined(&m.v[0]), "rw,rbind");
    lzs_snap_mounts_dispose(&m);
    put_file(fs_of(a), "base.txt", "from the base layer\n");
    ASSERT_OK(lzs_snapshotter_commit(sn, "A", "a", NULL, 0, &err), err);
    int64_t size, inodes;
    ASSERT_OK(lzs_snapshotter_usage(sn, "A", &size, &inodes, &err), err);
    ASSERT(size > 0 && inodes == 2); /* fs/ and base.txt */
    REFUSED(lzs_snapshotter_mounts(sn, "A", &m, &err), err, EBUSY, "snapshot A is committed");

    ASSERT_OK(lzs_snapshotter_prepare(sn, "b", "A", NULL, 0, &m, &err), err);
    int64_t b = id_of(sn, "b");
    char want[16384], work[4200];
    snprintf(work, sizeof(work), "%s/snapshots/%lld/work", lzs_test_path("root"), (long long)b);
    snprintf(want, sizeof(want), "%sworkdir=%s,upperdir=%s,lowerdir=%s",
             access("/sys/module/overlay/parameters/index", F_OK) == 0 ? "index=off," : "", work,
             fs_of(b), fs_of(a));
    ASSERT_STR_EQ(m.v[0].type, "overlay");
    ASSERT_STR_EQ(joined(&m.v[0]), want);
    char mnt[4200]; /* lzs_test_path's storage is reused */
    snprintf(mnt, sizeof(mnt), "%s", lzs_test_path("mnt"));
    bool mounted = mount_it(&m.v[0], mnt);
    if (mounted) { /* the base shows through, what is written lands in b's fs */
        bool base = has_file(mnt, "base.txt"); /* checked once unmounted: nothing stays mounted */
        put_file(mnt, "top.txt", "from the container\n");
        ASSERT_EQ(umount(mnt), 0);
        ASSERT(base);
        ASSERT(has_file(fs_of(b), "top.txt") && !has_file(fs_of(b), "base.txt"));
    } else {
        put_file(fs_of(b), "top.txt", "from the container\n");
    }
    lzs_snap_mounts_dispose(&m);
    ASSERT_OK(lzs_snapshotter_commit(sn, "B", "b", NULL, 0, &err), err);

    ASSERT_OK(lzs_snapshotter_view(sn, "v1", "A", NULL, 0, &m, &err), err);
    ASSERT_STR_EQ(m.v[0].type, "bind"); /* one parent: its fs, read-only */
    ASSERT_STR_EQ(m.v[0].source, fs_of(a));
    ASSERT_STR_EQ(joined(&m.v[0]), "ro,rbind");
    lzs_snap_mounts_dispose(&m);
    ASSERT_OK(lzs_snapshotter_view(sn, "v2", "B", NULL, 0, &m, &err), err);
    snprintf(want, sizeof(want), "%slowerdir=%s:%s",
             access("/sys/module/overlay/parameters/index", F_OK) == 0 ? "index=off," : "",
             fs_of(b), fs_of(a));
    ASSERT_STR_EQ(joined(&m.v[0]), want);
    if (mounted && mount_it(&m.v[0], mnt)) {
        bool both = has_file(mnt, "base.txt") && has_file(mnt, "top.txt");
        char path[4300];
        snprintf(path, sizeof(path), "%s/new", mnt);
        bool read_only = creat(path, 0644) < 0 && errno == EROFS;
        ASSERT_EQ(umount(mnt), 0);
        ASSERT(both && read_only);
    }
    lzs_snap_mounts_dispose(&m);

    REFUSED(lzs_snapshotter_remove(sn, "A", &err), err, EBUSY, "it has children");
    const char *order[] = {"v1", "v2", "B", "A"};
    for (size_t i = 0; i < 4; i++)
        ASSERT_OK(lzs_snapshotter_remove(sn, order[i], &err), err);
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/snapshots/%lld", lzs_test_path("root"), (long long)a);
    ASSERT(access(dir, F_OK) < 0);
}

LZS_TEST(test_snapshot__cleanup_removes_what_no_record_names)
{
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = open_snapshotter();
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_snapshotter_prepare(sn, "kept", NULL, NULL, 0, NULL, &err), err);
    char path[4200];
    const char *orphans[] = {"999", "new-abc123", "rm-7"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/snapshots/%s/fs/deep", lzs_test_path("root"), orphans[i]);
        ASSERT_OK(lzs_mkdir_p(path, 0755, &err), err);
        put_file(path, "f", "x");
    }
    size_t removed;
    ASSERT_OK(lzs_snapshotter_cleanup(sn, &removed, &err), err);
    ASSERT_EQ(removed, 3);
    ASSERT(has_file(fs_of(id_of(sn, "kept")), "."));
    ASSERT_OK(lzs_snapshotter_cleanup(sn, &removed, &err), err);
    ASSERT_EQ(removed, 0);
}

LZS_TEST(test_snapshot__containerd_details)
{
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = open_snapshotter();
    lzs_snapstore *s = lzs_snapshotter_store(sn);
    lzs_autoerr lzs_error *err = NULL;
    /* one snapshotter per root */
    lzs_snapshotter *other = NULL;
    REFUSED(lzs_snapshotter_open(&other, lzs_test_path("root"), &err), err, EBUSY,
            "in use by another lazysnapd");
    /* "" is no label; a label is at most 4096 bytes */
    char big[5000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct lzs_snap_label l[] = {{(char *)"empty", (char *)""}, {(char *)"big", big}};
    REFUSED(lzs_snapshotter_prepare(sn, "k", NULL, l, 2, NULL, &err), err, EINVAL,
            "longer than 4096 bytes");
    ASSERT_OK(lzs_snapshotter_prepare(sn, "k", NULL, l, 1, NULL, &err), err);
    struct lzs_snap_info i;
    ASSERT_OK(lzs_snapstore_stat(s, "k", &i, &err), err);
    ASSERT_EQ(i.n_labels, 0);
    lzs_snap_info_dispose(&i);
    /* which error wins, as in containerd: the key's existence first */
    REFUSED(lzs_snapshotter_prepare(sn, "k", "missing", NULL, 0, NULL, &err), err, EEXIST,
            "already exists");
    /* the upper fs takes its parent's owner; hard links count once */
    char f[4300], g[4300];
    snprintf(f, sizeof(f), "%s/f", fs_of(id_of(sn, "k")));
    snprintf(g, sizeof(g), "%s/g", fs_of(id_of(sn, "k")));
    lzs_test_write_file(f, "linked twice", 12);
    ASSERT_EQ(link(f, g), 0);
    int64_t size, inodes;
    ASSERT_OK(lzs_snapshotter_usage(sn, "k", &size, &inodes, &err), err);
    ASSERT_EQ(inodes, 2); /* fs/ and the one file */
    if (geteuid() == 0)
        ASSERT_EQ(chown(fs_of(id_of(sn, "k")), 1234, 5678), 0);
    ASSERT_OK(lzs_snapshotter_commit(sn, "K", "k", NULL, 0, &err), err);
    REFUSED(lzs_snapshotter_commit(sn, "K", "nope", NULL, 0, &err), err, EEXIST, "already exists");
    ASSERT_OK(lzs_snapshotter_prepare(sn, "c", "K", NULL, 0, NULL, &err), err);
    struct stat st;
    ASSERT_EQ(stat(fs_of(id_of(sn, "c")), &st), 0);
    if (geteuid() == 0)
        ASSERT(st.st_uid == 1234 && st.st_gid == 5678);
}

struct racer {
    lzs_snapshotter *sn;
    int k;
};

static void *prepare_some(void *p)
{
    struct racer *r = p;
    for (int i = 0; i < 40; i++) {
        char key[64];
        snprintf(key, sizeof(key), "r%d/%d", r->k, i);
        lzs_autoerr lzs_error *err = NULL;
        ASSERT_OK(lzs_snapshotter_prepare(r->sn, key, NULL, NULL, 0, NULL, &err), err);
    }
    return NULL;
}

LZS_TEST(test_snapshot__cleanup_never_takes_a_snapshot_being_made)
{
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = open_snapshotter();
    pthread_t t[4];
    struct racer r[4];
    for (int k = 0; k < 4; k++) {
        r[k] = (struct racer){sn, k};
        ASSERT_EQ(pthread_create(&t[k], NULL, prepare_some, &r[k]), 0);
    }
    lzs_autoerr lzs_error *err = NULL;
    size_t removed, total = 0;
    for (int i = 0; i < 50; i++) {
        ASSERT_OK(lzs_snapshotter_cleanup(sn, &removed, &err), err);
        total += removed;
    }
    for (int k = 0; k < 4; k++)
        pthread_join(t[k], NULL);
    ASSERT_EQ(total, 0);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 40; i++) {
            char key[64];
            snprintf(key, sizeof(key), "r%d/%d", k, i);
            ASSERT(has_file(fs_of(id_of(sn, key)), "."));
        }
    }
}

/* ---- remote snapshots ----------------------------------------------------------------------- */

/* A remote serving one layer, "sha256:<64 a>", by a read-only bind mount of a directory of files:
 * the snapshotter's side of the contract, with real mounts (lib/remote is tested end to end). */
struct bind_remote {
    char src[4200];
    int mounts, unmounts;
    bool failing;
};

#define GOOD_LAYER "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int bind_mount(void *data, const struct lzs_snap_label *labels, size_t n, const char *dir,
                      int64_t *size, int64_t *inodes, lzs_error **err)
{
    struct bind_remote *r = data;
    const char *layer = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, "containerd.io/snapshot/cri.layer-digest") == 0)
            layer = labels[i].value;
    if (!layer || strcmp(layer, GOOD_LAYER) != 0)
        return lzs_error_set(err, ENOENT, "no index for %s", layer ? layer : "(none)");
    if (r->failing)
        return lzs_error_set(err, EIO, "registry down");
    if (mount(r->src, dir, NULL, MS_BIND, NULL) < 0 ||
        mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return lzs_error_set_sys(err, errno, "bind %s", dir);
    r->mounts++;
    *size = 4096;
    *inodes = 2;
    return 0;
}

static void bind_unmount(void *data, const char *dir)
{
    struct bind_remote *r = data;
    if (umount2(dir, MNT_DETACH) == 0)
        r->unmounts++;
}

static lzs_snapshotter *open_remote_snapshotter(struct bind_remote *r)
{
    if (geteuid() != 0)
        SKIP("remote snapshots need mounts (root)");
    snprintf(r->src, sizeof(r->src), "%s", lzs_test_path("layer"));
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_mkdir_p(r->src, 0755, &err), err);
    put_file(r->src, "from-the-layer", "lazy");
    lzs_snapshotter *sn = open_snapshotter();
    struct lzs_snap_remote hooks = {bind_mount, bind_unmount, r};
    lzs_snapshotter_set_remote(sn, &hooks);
    return sn;
}

#define LABEL(n, v)              \
    {                            \
        (char *)(n), (char *)(v) \
    }

static const struct lzs_snap_label remote_labels[] = {
    LABEL("containerd.io/snapshot.ref", "chain-1"),
    LABEL("containerd.io/snapshot/cri.image-ref", "127.0.0.1:5000/app:1"),
    LABEL("containerd.io/snapshot/cri.layer-digest", GOOD_LAYER),
};

LZS_TEST(test_snapshot__a_remote_layer_is_committed_under_its_ref)
{
    struct bind_remote r = {0};
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = open_remote_snapshotter(&r);
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_mounts m = {0};
    int rc = lzs_snapshotter_prepare(sn, "extract-1", NULL, remote_labels, 3, &m, &err);
    REFUSED(rc, err, EEXIST, "target snapshot chain-1: already exists");
    struct lzs_snap_info i = {0};
    lzs_snapstore *st = lzs_snapshotter_store(sn);
    ASSERT_OK(lzs_snapstore_stat(st, "chain-1", &i, &err), err);
    ASSERT_EQ(i.kind, LZS_SNAP_COMMITTED);
    ASSERT_EQ(i.n_labels, 4);
    ASSERT_STR_EQ(i.labels[3].name, "containerd.io/snapshot/remote");
    ASSERT_EQ(i.size, 4096);
    ASSERT(has_file(fs_of(i.id), "from-the-layer"));
    REFUSED(lzs_snapstore_stat(st, "extract-1", &i, &err), err, ENOENT, "extract-1");
    /* the remote label is the snapshotter's: an update (here: all labels, to none) keeps it */
    struct lzs_snap_info upd = {.key = (char *)"chain-1"}, after = {0};
    const char *all[] = {"labels"};
    ASSERT_OK(lzs_snapstore_update(st, &upd, all, 1, &after, &err), err);
    ASSERT_EQ(after.n_labels, 1);
    ASSERT_STR_EQ(after.labels[0].name, "containerd.io/snapshot/remote");
    lzs_snap_info_dispose(&after);
    /* the same layer again: answered from the record, no second mount */
    rc = lzs_snapshotter_prepare(sn, "extract-2", NULL, remote_labels, 3, &m, &err);
    REFUSED(rc, err, EEXIST, "already exists");
    ASSERT_EQ(r.mounts, 1);
    /* the same chain id on another parent (the layer pulled in another namespace): the name is
     * taken, so it is unpacked as usual */
    ASSERT_OK(lzs_snapshotter_prepare(sn, "base", NULL, NULL, 0, NULL, &err), err);
    ASSERT_OK(lzs_snapshotter_commit(sn, "other/base", "base", NULL, 0, &err), err);
    ASSERT_OK(lzs_snapshotter_prepare(sn, "extract-3", "other/base", remote_labels, 3, &m, &err),
              err);
    lzs_snap_mounts_dispose(&m);
    ASSERT_EQ(r.mounts, 1);
    ASSERT_OK(lzs_snapshotter_remove(sn, "extract-3", &err), err);
    /* a container on it sees the layer; removal unmounts */
    ASSERT_OK(lzs_snapshotter_prepare(sn, "ctr", "chain-1", NULL, 0, &m, &err), err);
    ASSERT_STR_EQ(m.v[0].type, "overlay");
    lzs_snap_mounts_dispose(&m);
    ASSERT_OK(lzs_snapshotter_remove(sn, "ctr", &err), err);
    int64_t id = i.id;
    lzs_snap_info_dispose(&i);
    ASSERT_OK(lzs_snapshotter_remove(sn, "chain-1", &err), err);
    ASSERT_EQ(r.unmounts, 1);
    ASSERT(!has_file(fs_of(id), "."));
    ASSERT(has_file(r.src, "from-the-layer")); /* the layer itself is untouched */
}

LZS_TEST(test_snapshot__a_layer_the_remote_cannot_serve_is_unpacked)
{
    struct bind_remote r = {0};
    lzs_cleanup(lzs_snapshotter_closep) lzs_snapshotter *sn = open_remote_snapshotter(&r);
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_mounts m = {0};
    const struct lzs_snap_label other[] = {
        LABEL("containerd.io/snapshot.ref", "chain-2"),
        LABEL("containerd.io/snapshot/cri.image-ref", "127.0.0.1:5000/app:1"),
        LABEL("containerd.io/snapshot/cri.layer-digest", "sha256:" /* no index */),
    };
    ASSERT_OK(lzs_snapshotter_prepare(sn, "extract-2", NULL, other, 3, &m, &err), err);
    ASSERT_STR_EQ(m.v[0].type, "bind");
    lzs_snap_mounts_dispose(&m);
    /* the registry failing: the same, containerd pulls */
    r.failing = true;
    ASSERT_OK(lzs_snapshotter_prepare(sn, "extract-1", NULL, remote_labels, 3, &m, &err), err);
    lzs_snap_mounts_dispose(&m);
    struct lzs_snap_info i = {0};
    REFUSED(lzs_snapstore_stat(lzs_snapshotter_store(sn), "chain-1", &i, &err), err, ENOENT,
            "chain-1");
    ASSERT_EQ(r.mounts, 0);
}

LZS_TEST(test_snapshot__remote_layers_are_mounted_again_after_a_restart)
{
    struct bind_remote r = {0};
    lzs_snapshotter *sn = open_remote_snapshotter(&r);
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_snap_mounts m = {0};
    int rc = lzs_snapshotter_prepare(sn, "extract-1", NULL, remote_labels, 3, NULL, &err);
    REFUSED(rc, err, EEXIST, "already exists");
    int64_t id = id_of(sn, "chain-1");
    ASSERT_OK(lzs_snapshotter_prepare(sn, "early", "chain-1", NULL, 0, NULL, &err), err);
    lzs_snapshotter_close(sn); /* a daemon that died: its mount stays behind */
    ASSERT(has_file(fs_of(id), "from-the-layer"));

    r.failing = true; /* and the registry is down when it starts again */
    sn = open_snapshotter();
    struct lzs_snap_remote hooks = {bind_mount, bind_unmount, &r};
    lzs_snapshotter_set_remote(sn, &hooks);
    size_t mounted, failed;
    ASSERT_OK(lzs_snapshotter_restore(sn, &mounted, &failed, &err), err);
    ASSERT_EQ(mounted, 0);
    ASSERT_EQ(failed, 1);
    ASSERT(!has_file(fs_of(id), "from-the-layer")); /* the stale mount was detached */
    REFUSED(lzs_snapshotter_prepare(sn, "ctr", "chain-1", NULL, 0, &m, &err), err, EAGAIN,
            "cannot be mounted now");
    REFUSED(lzs_snapshotter_mounts(sn, "early", &m, &err), err, EAGAIN, "cannot be mounted now");

    r.failing = false; /* back: the next use mounts it */
    ASSERT_OK(lzs_snapshotter_mounts(sn, "early", &m, &err), err);
    lzs_snap_mounts_dispose(&m);
    ASSERT_OK(lzs_snapshotter_prepare(sn, "ctr", "chain-1", NULL, 0, &m, &err), err);
    lzs_snap_mounts_dispose(&m);
    ASSERT_OK(lzs_snapshotter_remove(sn, "early", &err), err);
    ASSERT(has_file(fs_of(id), "from-the-layer"));
    ASSERT_EQ(r.mounts, 2);
    ASSERT_OK(lzs_snapshotter_remove(sn, "ctr", &err), err);
    ASSERT_OK(lzs_snapshotter_remove(sn, "chain-1", &err), err);
    ASSERT(!has_file(fs_of(id), "."));
    lzs_snapshotter_close(sn);
}
