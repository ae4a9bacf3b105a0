/* Unit tests for lib/stream: the growing tree of a layer served while it streams in, through the
 * fusefs tree and source it gives (what the FUSE handlers call). */
#include "base/base.h"
#include "stream/stream.h"
#include "test.h"

#include <pthread.h>
#include <string.h>

struct fixture {
    lzs_stream_tree *t;
    struct lzs_fusefs_tree tree;
    struct lzs_fusefs_source src;
};

static void setup(struct fixture *f)
{
    ASSERT_EQ(lzs_stream_tree_new(&f->t, lzs_test_tmpdir(), NULL), 0);
    lzs_stream_tree_fusefs(f->t, &f->tree, &f->src);
}

static struct lzs_index_entry reg(const char *path, uint64_t offset, uint64_t size)
{
    return (struct lzs_index_entry){.path = path,
                                    .type = LZS_ENTRY_REG,
                                    .mode = 0644,
                                    .offset = offset,
                                    .size = size,
                                    .link = "",
                                    .uname = "",
                                    .gname = ""};
}

static struct lzs_index_entry dir(const char *path)
{
    return (struct lzs_index_entry){.path = path,
                                    .type = LZS_ENTRY_DIR,
                                    .mode = 0700,
                                    .uid = 7,
                                    .link = "",
                                    .uname = "",
                                    .gname = ""};
}

static void add(struct fixture *f, struct lzs_index_entry e)
{
    ASSERT_EQ(lzs_stream_tree_entry(f->t, &e, NULL), 0);
}

static int child(struct fixture *f, uint32_t d, const char *name, bool now, uint32_t *id)
{
    return f->tree.child(f->tree.data, d, name, now, id);
}

LZS_TEST(stream_entries_are_served_as_they_arrive)
{
    struct fixture f;
    setup(&f);
    ASSERT_EQ(f.tree.state(f.tree.data), 0);
    ASSERT_EQ(lzs_stream_tree_decoded(f.t, "....hello", 9, NULL), 0);
    add(&f, reg("a/b.txt", 4, 5));
    uint32_t a, b;
    ASSERT_EQ(child(&f, 0, "a", true, &a), 0); /* made for its child, as extraction does */
    ASSERT_EQ(child(&f, a, "b.txt", true, &b), 0);
    char buf[16] = {0};
    ASSERT_EQ(f.src.read(f.src.data, NULL, b, 0, buf, sizeof(buf), NULL), 5);
    ASSERT_STR_EQ(buf, "hello");
    int fd;
    uint64_t at;
    ASSERT_EQ(f.src.locate(f.src.data, NULL, b, 1, 4, &fd, &at), 1);
    ASSERT_EQ(at, 5);
    ASSERT_EQ(f.tree.nlink(f.tree.data, 0), 3);
    ASSERT_EQ(f.tree.nlink(f.tree.data, b), 1);
    add(&f, dir("a")); /* the directory's own entry after its child: new attributes */
    struct lzs_index_entry e;
    f.tree.entry(f.tree.data, a, &e);
    ASSERT_EQ(e.mode, 0700);
    ASSERT_EQ(e.uid, 7);
    ASSERT_EQ(f.tree.state(f.tree.data), 0);
    add(&f, reg("b.txt", 4, 5));
    add(&f, (struct lzs_index_entry){.path = "a/c",
                                     .type = LZS_ENTRY_HARDLINK,
                                     .link = "a/b.txt",
                                     .uname = "",
                                     .gname = ""});
    uint32_t c;
    ASSERT_EQ(child(&f, a, "c", true, &c), 0);
    ASSERT_EQ(f.tree.resolve_hardlink(f.tree.data, c), b);
    ASSERT_EQ(f.tree.nlink(f.tree.data, b), 2);
    lzs_stream_tree_end(f.t, NULL);
    ASSERT_EQ(f.tree.state(f.tree.data), 1);
    const uint32_t *ids;
    uint32_t n;
    ASSERT_EQ(f.tree.children(f.tree.data, a, &ids, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(f.tree.name(f.tree.data, ids[0]), "b.txt");
    ASSERT_STR_EQ(f.tree.name(f.tree.data, ids[1]), "c");
    ASSERT_EQ(child(&f, 0, "missing", false, &c), -ENOENT);
    lzs_stream_tree_free(f.t);
}

struct waiter {
    struct fixture *f;
    const char *name;
    uint32_t id;
    int rc;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = child(w->f, 0, w->name, false, &w->id);
    return NULL;
}

LZS_TEST(stream_lookups_wait_for_their_name_or_the_end)
{
    struct fixture f;
    setup(&f);
    struct waiter late = {.f = &f, .name = "late", .rc = 1},
                  never = {.f = &f, .name = "never", .rc = 1};
    pthread_t t1, t2;
    ASSERT_EQ(pthread_create(&t1, NULL, wait_main, &late), 0);
    ASSERT_EQ(pthread_create(&t2, NULL, wait_main, &never), 0);
    usleep(50000);
    ASSERT_EQ(late.rc, 1); /* still waiting */
    add(&f, reg("other", 0, 0));
    add(&f, reg("late", 0, 0));
    pthread_join(t1, NULL);
    ASSERT_EQ(late.rc, 0);
    ASSERT_STR_EQ(f.tree.name(f.tree.data, late.id), "late");
    usleep(50000);
    ASSERT_EQ(never.rc, 1);
    lzs_stream_tree_end(f.t, NULL);
    pthread_join(t2, NULL);
    ASSERT_EQ(never.rc, -ENOENT);
    lzs_stream_tree_free(f.t);
}

LZS_TEST(stream_a_failed_stream_wakes_waiters_with_eio)
{
    struct fixture f;
    setup(&f);
    struct waiter w = {.f = &f, .name = "x", .rc = 1};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, wait_main, &w), 0);
    add(&f, reg("f", 0, 0));
    lzs_autoerr lzs_error *err = NULL;
    lzs_error_set(&err, EBADMSG, "layer digest mismatch");
    lzs_stream_tree_end(f.t, err);
    pthread_join(t, NULL);
    ASSERT_EQ(w.rc, -EIO);
    ASSERT(f.tree.state(f.tree.data) < 0);
    char buf[4];
    uint32_t id = 1;
    lzs_autoerr lzs_error *rerr = NULL;
    ASSERT(f.src.read(f.src.data, NULL, id, 0, buf, sizeof(buf), &rerr) < 0);
    struct lzs_stream_stats st;
    lzs_stream_tree_stats(f.t, &st);
    ASSERT(st.failure && strstr(st.failure, "digest mismatch"));
    lzs_stream_tree_free(f.t);
}

LZS_TEST(stream_what_was_shown_cannot_change)
{
    /* a name whose absence was shown (an opaque marker) arrives: the tree fails */
    struct fixture f;
    setup(&f);
    add(&f, dir("d"));
    uint32_t d, id;
    ASSERT_EQ(child(&f, 0, "d", true, &d), 0);
    ASSERT_EQ(child(&f, d, ".wh..wh..opq", true, &id), -ENOENT);
    ASSERT_EQ(f.tree.promise_absent(f.tree.data, d, ".wh..wh..opq"), 0);
    add(&f, reg("d/.wh..wh..opq", 0, 0));
    ASSERT(f.tree.state(f.tree.data) < 0);
    ASSERT_EQ(child(&f, 0, "d", true, &id), -EIO);
    lzs_stream_tree_free(f.t);

    /* an entry shown is replaced: fails; one never shown is replaced in place */
    setup(&f);
    ASSERT_EQ(lzs_stream_tree_decoded(f.t, "oldnew", 6, NULL), 0);
    add(&f, reg("quiet", 0, 3));
    add(&f, reg("quiet", 3, 3));
    ASSERT_EQ(child(&f, 0, "quiet", true, &id), 0);
    char buf[4] = {0};
    ASSERT_EQ(f.src.read(f.src.data, NULL, id, 0, buf, 3, NULL), 3);
    ASSERT_STR_EQ(buf, "new");
    ASSERT_EQ(f.tree.state(f.tree.data), 0);
    add(&f, reg("quiet", 0, 3));
    ASSERT(f.tree.state(f.tree.data) < 0);
    lzs_stream_tree_free(f.t);

    /* a promise about a name already there says so */
    setup(&f);
    add(&f, reg("here", 0, 0));
    ASSERT_EQ(f.tree.promise_absent(f.tree.data, 0, "here"), -EEXIST);
    ASSERT_EQ(f.tree.state(f.tree.data), 0);
    lzs_stream_tree_free(f.t);
}

LZS_TEST(stream_sparse_files_read_their_holes_as_zeros)
{
    struct fixture f;
    setup(&f);
    ASSERT_EQ(lzs_stream_tree_decoded(f.t, "ABCD", 4, NULL), 0);
    struct lzs_index_sparse segs[] = {{.off = 2, .len = 2}, {.off = 6, .len = 2}};
    struct lzs_index_entry e = reg("s", 0, 10);
    e.nsparse = 2;
    e.sparse = segs;
    add(&f, e);
    uint32_t id;
    ASSERT_EQ(child(&f, 0, "s", true, &id), 0);
    char buf[10];
    size_t got = 0;
    while (got < sizeof(buf)) {
        ssize_t r = f.src.read(f.src.data, NULL, id, got, buf + got, sizeof(buf) - got, NULL);
        ASSERT(r > 0);
        got += (size_t)r;
    }
    ASSERT_MEM_EQ(buf, "\0\0AB\0\0CD\0\0", 10);
    int fd;
    uint64_t at;
    ASSERT_EQ(f.src.locate(f.src.data, NULL, id, 0, 4, &fd, &at), 0); /* not one stretch */
    lzs_stream_tree_free(f.t);
}
