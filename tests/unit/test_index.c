/* Unit tests for lib/index: writer, reader, validation of hostile input. */
#include "base/base.h"
#include "index/format_i.h"
#include "index/index.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static struct lzs_index_info test_info(void)
{
    struct lzs_index_info info = {
        .compression = LZS_INDEX_COMP_GZIP,
        .flags = 0,
        .blob_digest = {.algo = LZS_DIGEST_SHA256},
        .compressed_size = 10000,
        .uncompressed_size = 1 << 20,
        .span = 1024,
    };
    for (int i = 0; i < LZS_SHA256_LEN; i++)
        info.blob_digest.bytes[i] = (uint8_t)(0xa0 + i);
    return info;
}

static struct lzs_index_entry ent(enum lzs_entry_type type, const char *path)
{
    return (struct lzs_index_entry){
        .path = path,
        .type = type,
        .mode = type == LZS_ENTRY_DIR ? 0755 : 0644,
        .uid = 1000,
        .gid = 100,
        .mtime_sec = 1700000000,
        .mtime_nsec = 123456789,
        .uname = "user",
        .gname = "users",
    };
}

static struct lzs_index_entry reg(const char *path, uint64_t size, uint64_t offset)
{
    struct lzs_index_entry e = ent(LZS_ENTRY_REG, path);
    e.size = size;
    e.offset = offset;
    for (int i = 0; i < 32; i++)
        e.sha256[i] = (uint8_t)(size + (uint64_t)i);
    return e;
}

static struct lzs_index_entry lnk(enum lzs_entry_type type, const char *path, const char *to)
{
    struct lzs_index_entry e = ent(type, path);
    e.link = to;
    return e;
}

static void add(lzs_index_writer *w, struct lzs_index_entry e)
{
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_index_writer_add_entry(w, &e, &err), err);
}

static void finish(lzs_index_writer *w, struct lzs_buf *out)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_index_info info = test_info();
    lzs_buf_init(out, 0);
    ASSERT_OK(lzs_index_writer_finish(w, &info, out, &err), err);
}

static lzs_index *load(const struct lzs_buf *b)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    ASSERT_OK(lzs_index_load(&idx, b->data, b->len, &err), err);
    return idx;
}

/* Finish w and load the result. */
static lzs_index *build(lzs_index_writer *w)
{
    struct lzs_buf b;
    finish(w, &b);
    lzs_index *idx = load(&b);
    lzs_buf_dispose(&b);
    return idx;
}

static uint32_t id_of(const lzs_index *idx, const char *path)
{
    uint32_t id = UINT32_MAX;
    if (lzs_index_lookup(idx, path, &id) != 0)
        FAIL("lookup '%s' failed", path);
    return id;
}

static struct lzs_index_entry get(const lzs_index *idx, const char *path)
{
    struct lzs_index_entry e;
    lzs_index_entry_get(idx, id_of(idx, path), &e);
    return e;
}

/* ---- the rich fixture: every kind of entry --------------------------------------------------- */

static const uint8_t bin_value[] = {0x00, 0x01, 0xff, 0x00, 0x7f};
static const struct lzs_index_sparse sparse_map[] = {{0, 10}, {4096, 100}, {8192, 0}};
static const uint8_t window[] = "a deflate window, compressed by zseek";

static void add_checkpoints(lzs_index_writer *w)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_index_checkpoint c[] = {
        {.in_off = 0, .out_off = 0, .kind = 0},
        {.in_off = 100,
         .out_off = 1000,
         .bits = 3,
         .kind = 1,
         .window = window,
         .window_len = sizeof(window)},
        {.in_off = 200, .out_off = 2000, .kind = 2},
        {.in_off = 300, .out_off = 2000, .kind = 3}, /* an empty member: same out_off */
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(c); i++)
        ASSERT_OK(lzs_index_writer_add_checkpoint(w, &c[i], &err), err);
}

static void add_rich(lzs_index_writer *w, const char *long_path)
{
    add_checkpoints(w);
    add(w, ent(LZS_ENTRY_DIR, "./"));
    add(w, ent(LZS_ENTRY_DIR, "a/"));
    struct lzs_index_xattr xs[] = {
        {"user.z", (const uint8_t *)"last", 4},
        {"security.capability", bin_value, sizeof(bin_value)},
        {"user.empty", NULL, 0},
    };
    struct lzs_index_entry f = reg("a/f", 10, 512);
    f.xattrs = xs;
    f.nxattrs = LZS_ARRAY_SIZE(xs);
    add(w, f);
    struct lzs_index_entry s = reg("a/s", 10000, 1024);
    s.sparse = sparse_map;
    s.nsparse = LZS_ARRAY_SIZE(sparse_map);
    add(w, s);
    add(w, lnk(LZS_ENTRY_HARDLINK, "a/h", "./a/f"));
    add(w, lnk(LZS_ENTRY_HARDLINK, "a/h2", "a/h")); /* a chain */
    add(w, lnk(LZS_ENTRY_SYMLINK, "b", "../not/normalised//"));
    struct lzs_index_entry c = ent(LZS_ENTRY_CHAR, "dev/null");
    c.devmajor = 1;
    c.devminor = 3;
    add(w, c);
    struct lzs_index_entry blk = ent(LZS_ENTRY_BLOCK, "dev/sda");
    blk.devmajor = 8;
    add(w, blk);
    add(w, ent(LZS_ENTRY_FIFO, "dev/fifo"));
    add(w, reg("unicode/h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83", 3, 4096));
    add(w, reg("a-b", 1, 8192)); /* sorts between "a" and "a/f" */
    add(w, reg(long_path, 0, 0));
    add(w, ent(LZS_ENTRY_DIR, "zz"));
    add(w, reg("zz/yy", 5, 9000));
}

static char *long_path(void)
{
    /* 40 components of 100 bytes: a 4039-byte path */
    char *p = calloc(1, 4100);
    size_t o = 0;
    for (int i = 0; i < 40; i++) {
        if (i)
            p[o++] = '/';
        memset(p + o, 'a' + i % 26, 100);
        o += 100;
    }
    return p;
}

static void check_rich_entries(const lzs_index *idx, const char *lp)
{
    struct lzs_index_entry e = get(idx, "a/f");
    ASSERT_EQ(e.type, LZS_ENTRY_REG);
    ASSERT_STR_EQ(e.path, "a/f");
    ASSERT_STR_EQ(e.link, "");
    ASSERT_STR_EQ(e.uname, "user");
    ASSERT_STR_EQ(e.gname, "users");
    ASSERT_EQ(e.mode, 0644);
    ASSERT_EQ(e.uid, 1000);
    ASSERT_EQ(e.gid, 100);
    ASSERT_EQ(e.mtime_sec, 1700000000);
    ASSERT_EQ(e.mtime_nsec, 123456789);
    ASSERT_EQ(e.size, 10);
    ASSERT_EQ(e.offset, 512);
    ASSERT_EQ(e.sha256[31], 10 + 31);
    ASSERT_EQ(e.nxattrs, 3);
    ASSERT_EQ(e.nsparse, 0);
    ASSERT(e.xattrs == NULL && e.sparse == NULL);

    e = get(idx, "a/s");
    ASSERT_EQ(e.size, 10000);
    ASSERT_EQ(e.nsparse, 3);
    e = get(idx, "b");
    ASSERT_EQ(e.type, LZS_ENTRY_SYMLINK);
    ASSERT_STR_EQ(e.link, "../not/normalised//"); /* verbatim */
    e = get(idx, "dev/null");
    ASSERT_EQ(e.type, LZS_ENTRY_CHAR);
    ASSERT(e.devmajor == 1 && e.devminor == 3 && e.size == 0);
    e = get(idx, "dev/sda");
    ASSERT(e.type == LZS_ENTRY_BLOCK && e.devmajor == 8 && e.devminor == 0);
    ASSERT_EQ(get(idx, "dev/fifo").type, LZS_ENTRY_FIFO);
    e = get(idx, "dev"); /* synthesised */
    ASSERT(e.type == LZS_ENTRY_DIR && e.mode == 0755 && e.uid == 0 && e.mtime_sec == 0);
    ASSERT_STR_EQ(e.uname, "");
    e = get(idx, "unicode/h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83");
    ASSERT_EQ(e.offset, 4096);
    e = get(idx, lp);
    ASSERT_STR_EQ(e.path, lp);
    ASSERT_EQ(strlen(lzs_index_name(idx, id_of(idx, lp))), 100);
}

static void check_rich_links_xattrs_sparse(const lzs_index *idx)
{
    struct lzs_index_entry e = get(idx, "a/h");
    ASSERT_EQ(e.type, LZS_ENTRY_HARDLINK);
    ASSERT_STR_EQ(e.link, "a/f"); /* normalised */
    ASSERT_EQ(lzs_index_resolve_hardlink(idx, id_of(idx, "a/h")), id_of(idx, "a/f"));
    ASSERT_STR_EQ(get(idx, "a/h2").link, "a/h");
    ASSERT_EQ(lzs_index_resolve_hardlink(idx, id_of(idx, "a/h2")), id_of(idx, "a/f"));
    ASSERT_EQ(lzs_index_resolve_hardlink(idx, id_of(idx, "b")), id_of(idx, "b"));

    struct lzs_index_xattr x;
    uint32_t f = id_of(idx, "a/f");
    lzs_index_xattr_get(idx, f, 0, &x); /* sorted by name */
    ASSERT_STR_EQ(x.name, "security.capability");
    ASSERT_EQ(x.value_len, sizeof(bin_value));
    ASSERT_MEM_EQ(x.value, bin_value, sizeof(bin_value));
    lzs_index_xattr_get(idx, f, 1, &x);
    ASSERT_STR_EQ(x.name, "user.empty");
    ASSERT_EQ(x.value_len, 0);
    lzs_index_xattr_get(idx, f, 2, &x);
    ASSERT_STR_EQ(x.name, "user.z");
    ASSERT(x.value_len == 4 && memcmp(x.value, "last", 4) == 0);

    uint32_t s = id_of(idx, "a/s");
    for (uint32_t k = 0; k < 3; k++) {
        struct lzs_index_sparse sp;
        lzs_index_sparse_get(idx, s, k, &sp);
        ASSERT(sp.off == sparse_map[k].off && sp.len == sparse_map[k].len);
    }
}

static void check_rich_checkpoints(const lzs_index *idx)
{
    const struct lzs_index_info *info = lzs_index_info(idx);
    struct lzs_index_info want = test_info();
    ASSERT_EQ(info->compression, LZS_INDEX_COMP_GZIP);
    ASSERT(lzs_digest_is_equal(&info->blob_digest, &want.blob_digest));
    ASSERT(info->compressed_size == 10000 && info->uncompressed_size == 1 << 20);
    ASSERT_EQ(info->span, 1024);
    ASSERT_EQ(lzs_index_checkpoint_count(idx), 4);
    struct lzs_index_checkpoint c;
    lzs_index_checkpoint_get(idx, 0, &c);
    ASSERT(c.in_off == 0 && c.out_off == 0 && c.kind == 0 && c.window == NULL);
    lzs_index_checkpoint_get(idx, 1, &c);
    ASSERT(c.in_off == 100 && c.out_off == 1000 && c.bits == 3 && c.kind == 1);
    ASSERT_EQ(c.window_len, sizeof(window));
    ASSERT_MEM_EQ(c.window, window, sizeof(window));
    lzs_index_checkpoint_get(idx, 3, &c);
    ASSERT(c.in_off == 300 && c.out_off == 2000 && c.kind == 3);
}

LZS_TEST(test_index__roundtrip_rich)
{
    lzs_autofree char *lp = long_path();
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add_rich(w, lp);
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    check_rich_entries(idx, lp);
    check_rich_links_xattrs_sparse(idx);
    check_rich_checkpoints(idx);
    ASSERT_STR_EQ(lzs_index_name(idx, 0), "");
    ASSERT_EQ(lzs_index_parent(idx, 0), 0);
}

/* Every directory's children are exactly the entries naming it as parent, in name order. */
static void check_tree(const lzs_index *idx)
{
    uint32_t n = lzs_index_entry_count(idx), listed = 0;
    for (uint32_t d = 0; d < n; d++) {
        const uint32_t *ids;
        uint32_t nc;
        lzs_index_children(idx, d, &ids, &nc);
        for (uint32_t k = 0; k < nc; k++) {
            ASSERT_EQ(lzs_index_parent(idx, ids[k]), d);
            if (k)
                ASSERT(strcmp(lzs_index_name(idx, ids[k - 1]), lzs_index_name(idx, ids[k])) < 0);
        }
        listed += nc;
        struct lzs_index_entry e;
        lzs_index_entry_get(idx, d, &e);
        uint32_t got;
        ASSERT_EQ(lzs_index_lookup(idx, e.path, &got), 0);
        ASSERT_EQ(got, d);
        if (d) { /* path = parent's path + "/" + name */
            struct lzs_index_entry p;
            lzs_index_entry_get(idx, lzs_index_parent(idx, d), &p);
            size_t pl = strlen(p.path);
            ASSERT(strncmp(e.path, p.path, pl) == 0);
            ASSERT_STR_EQ(e.path + pl + (pl ? 1 : 0), lzs_index_name(idx, d));
        }
    }
    ASSERT_EQ(listed, n - 1);
}

LZS_TEST(test_index__lookup_children_parent)
{
    lzs_autofree char *lp = long_path();
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add_rich(w, lp);
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    check_tree(idx);
    uint32_t id;
    ASSERT_EQ(lzs_index_lookup(idx, "a/nope", &id), -ENOENT);
    ASSERT_EQ(lzs_index_lookup(idx, "/a", &id), -ENOENT); /* lookups take normalised paths */
    ASSERT_EQ(lzs_index_lookup(idx, "zzz", &id), -ENOENT);
    ASSERT_EQ(id_of(idx, ""), 0);
    /* path order is bytewise: "a" < "a-b" < "a/f" ('-' sorts before '/') */
    ASSERT(id_of(idx, "a") < id_of(idx, "a-b") && id_of(idx, "a-b") < id_of(idx, "a/f"));
    const uint32_t *ids;
    uint32_t n;
    lzs_index_children(idx, 0, &ids, &n);
    const char *top[] = {"a", "a-b", "aaaa", "b", "dev", "unicode", "zz"};
    ASSERT_EQ(n, LZS_ARRAY_SIZE(top));
    for (uint32_t k = 0; k < n; k++)
        ASSERT(strncmp(lzs_index_name(idx, ids[k]), top[k], strlen(top[k])) == 0);
    lzs_index_children(idx, id_of(idx, "a/f"), &ids, &n);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(lzs_index_parent(idx, id_of(idx, "a/f")), id_of(idx, "a"));
    ASSERT_STR_EQ(lzs_index_name(idx, id_of(idx, "a/f")), "f");
    ASSERT_STR_EQ(lzs_index_name(idx, id_of(idx, "b")), "b");
}

/* ---- scale --------------------------------------------------------------------------------- */

/* n files in 100 directories, added in a scrambled order, plus a second copy of each that
 * replaces the first. */
static void add_many(lzs_index_writer *w, uint32_t n)
{
    char path[64];
    for (uint32_t pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = (uint32_t)(((uint64_t)i * 7919) % n); /* 7919 is prime: a permutation */
            snprintf(path, sizeof(path), "d%02u/sub/file-%07u", k % 100, k);
            add(w, reg(path, pass, (uint64_t)k * 8));
        }
    }
}

static void many(uint32_t n)
{
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add_many(w, n);
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    ASSERT_EQ(lzs_index_entry_count(idx), 1 + 100 + 100 + n);
    char path[64];
    for (uint32_t k = 0; k < n; k += 1 + k / 50) {
        snprintf(path, sizeof(path), "d%02u/sub/file-%07u", k % 100, k);
        struct lzs_index_entry e = get(idx, path);
        ASSERT(e.size == 1 && e.offset == (uint64_t)k * 8); /* the second pass won */
    }
    check_tree(idx);
}

LZS_TEST(test_index__10k_entries)
{
    many(10000);
}

LZS_TEST(test_index__100k_entries_fast)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    many(100000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (s > 30) /* generous for sanitizers; quadratic behaviour takes hours */
        FAIL("100k entries took %.1f s", s);
}

/* ---- replacement, synthesis, normalisation ------------------------------------------------ */

LZS_TEST(test_index__later_entry_replaces)
{
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add(w, reg("f", 1, 0));
    add(w, reg("./f", 2, 512));
    add(w, ent(LZS_ENTRY_DIR, "keep"));
    add(w, reg("keep/x", 1, 0));
    struct lzs_index_entry d = ent(LZS_ENTRY_DIR, "keep/");
    d.mode = 0700;
    add(w, d); /* directory over directory: children stay */
    add(w, ent(LZS_ENTRY_DIR, "gone"));
    add(w, reg("gone/x", 1, 0));
    add(w, ent(LZS_ENTRY_DIR, "gone/sub"));
    add(w, reg("gone/sub/y", 1, 0));
    add(w, lnk(LZS_ENTRY_SYMLINK, "gone", "elsewhere")); /* non-directory: the subtree goes */
    add(w, ent(LZS_ENTRY_DIR, "back"));
    add(w, reg("back/old", 1, 0));
    add(w, reg("back", 1, 0));
    add(w, reg("back/sub/new", 1, 0)); /* recreated below: "back" becomes a directory again */
    add(w, ent(LZS_ENTRY_DIR, "back"));
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    uint32_t id;
    ASSERT_EQ(get(idx, "f").size, 2);
    ASSERT_EQ(get(idx, "keep").mode, 0700);
    ASSERT_OK(lzs_index_lookup(idx, "keep/x", &id), (lzs_error *)NULL);
    ASSERT_EQ(get(idx, "gone").type, LZS_ENTRY_SYMLINK);
    ASSERT_EQ(lzs_index_lookup(idx, "gone/x", &id), -ENOENT);
    ASSERT_EQ(lzs_index_lookup(idx, "gone/sub", &id), -ENOENT);
    ASSERT_EQ(lzs_index_lookup(idx, "gone/sub/y", &id), -ENOENT);
    ASSERT_EQ(lzs_index_lookup(idx, "back/old", &id), -ENOENT);
    ASSERT_EQ(get(idx, "back").type, LZS_ENTRY_DIR);
    ASSERT_EQ(get(idx, "back/sub").mode, 0755); /* synthesised */
    ASSERT_EQ(lzs_index_entry_count(idx), 8);   /* "" f keep keep/x gone back back/sub .../new */
    check_tree(idx);
}

LZS_TEST(test_index__synthesised_parents)
{
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add(w, reg("a/b/c", 1, 0));
    add(w, ent(LZS_ENTRY_DIR, "x/y"));
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    ASSERT_EQ(lzs_index_entry_count(idx), 6);
    const char *synth[] = {"", "a", "a/b", "x"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(synth); i++) {
        struct lzs_index_entry e = get(idx, synth[i]);
        ASSERT(e.type == LZS_ENTRY_DIR && e.mode == 0755);
        ASSERT(e.uid == 0 && e.gid == 0 && e.mtime_sec == 0 && e.mtime_nsec == 0);
    }
    ASSERT_EQ(get(idx, "x/y").uid, 1000);          /* given, not synthesised */
    ASSERT_EQ(lzs_index_checkpoint_count(idx), 1); /* none given: one at 0/0 */
    check_tree(idx);
}

LZS_TEST(test_index__normalisation)
{
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add(w, ent(LZS_ENTRY_DIR, "."));
    add(w, ent(LZS_ENTRY_DIR, "/"));
    struct lzs_index_entry root = ent(LZS_ENTRY_DIR, "./");
    root.mode = 0711;
    add(w, root);
    add(w, reg("./a//b/", 1, 0));
    add(w, reg("/etc/./passwd", 2, 0));
    add(w, reg("..x/...", 3, 0)); /* names that merely start with dots */
    add(w, lnk(LZS_ENTRY_HARDLINK, "h", "//etc/passwd/."));
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    ASSERT_EQ(get(idx, "").mode, 0711);
    ASSERT_EQ(get(idx, "a/b").size, 1);
    ASSERT_EQ(get(idx, "etc/passwd").size, 2);
    ASSERT_EQ(get(idx, "..x/...").size, 3);
    ASSERT_STR_EQ(get(idx, "h").link, "etc/passwd");
}

LZS_TEST(test_index__rejects_bad_entries)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    static const struct lzs_index_sparse overlap[] = {{0, 10}, {5, 10}}, past[] = {{0, 11}};
    static const struct lzs_index_xattr noname[] = {{"", NULL, 0}};
    struct {
        struct lzs_index_entry e;
        const char *msg;
    } cases[] = {
        {reg("a/../b", 1, 0), "path 'a/../b': has a '..' component"},
        {reg("..", 1, 0), "has a '..' component"},
        {reg("", 1, 0), "empty path"},
        {reg("./", 1, 0), "the root must be a directory"},
        {lnk(LZS_ENTRY_HARDLINK, "h", "x/../../etc/shadow"), "has a '..' component"},
        {lnk(LZS_ENTRY_HARDLINK, "h", ""), "link without a target"},
        {lnk(LZS_ENTRY_SYMLINK, "s", NULL), "link without a target"},
        {ent((enum lzs_entry_type)7, "t"), "unknown type 7"},
        {reg("s", 10, 0), "sparse segment 1"},
        {reg("p", 10, 0), "past the file size"},
        {reg("x", 1, 0), "name empty"},
        {reg("n", 1, 0), "nanoseconds"},
    };
    cases[8].e.sparse = overlap, cases[8].e.nsparse = 2;
    cases[9].e.sparse = past, cases[9].e.nsparse = 1;
    cases[10].e.xattrs = noname, cases[10].e.nxattrs = 1;
    cases[11].e.mtime_nsec = 1000000000;
    for (size_t i = 0; i < LZS_ARRAY_SIZE(cases); i++) {
        ASSERT_ERR(lzs_index_writer_add_entry(w, &cases[i].e, &err), err, EINVAL, cases[i].msg);
        lzs_error_free(&err);
    }
}

/* finish fails with msg for the entries given. */
static void finish_fails(const struct lzs_index_entry *es, size_t n, const char *msg)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    for (size_t i = 0; i < n; i++)
        add(w, es[i]);
    struct lzs_index_info info = test_info();
    struct lzs_buf out = LZS_BUF_INIT(0);
    ASSERT_ERR(lzs_index_writer_finish(w, &info, &out, &err), err, EINVAL, msg);
    ASSERT_EQ(out.len, 0);
    lzs_buf_dispose(&out);
}

LZS_TEST(test_index__finish_checks_the_tree)
{
    struct lzs_index_entry missing[] = {lnk(LZS_ENTRY_HARDLINK, "h", "nope")};
    finish_fails(missing, 1, "entry 'h': hardlink target 'nope' is not in the layer");
    struct lzs_index_entry to_dir[] = {ent(LZS_ENTRY_DIR, "d"), lnk(LZS_ENTRY_HARDLINK, "h", "d")};
    finish_fails(to_dir, 2, "entry 'h': hardlink target 'd' is not a regular file");
    struct lzs_index_entry to_root[] = {lnk(LZS_ENTRY_HARDLINK, "h", ".")};
    finish_fails(to_root, 1, "is not a regular file");
    struct lzs_index_entry cycle[] = {lnk(LZS_ENTRY_HARDLINK, "a", "b"),
                                      lnk(LZS_ENTRY_HARDLINK, "b", "a")};
    finish_fails(cycle, 2, "hardlinks form a cycle");
    struct lzs_index_entry self[] = {lnk(LZS_ENTRY_HARDLINK, "a", "a")};
    finish_fails(self, 1, "hardlinks form a cycle");
    struct lzs_index_entry to_gone[] = {ent(LZS_ENTRY_DIR, "d"), reg("d/f", 1, 0),
                                        lnk(LZS_ENTRY_HARDLINK, "h", "d/f"), reg("d", 1, 0)};
    finish_fails(to_gone, 4, "entry 'h': hardlink target 'd/f' is not in the layer");
    struct lzs_index_entry under_file[] = {reg("f", 1, 0), reg("f/x", 1, 0)};
    finish_fails(under_file, 2, "entry 'f/x': parent 'f' is not a directory");
    struct lzs_index_entry past_end[] = {reg("big", 10, (1 << 20) - 5)};
    finish_fails(past_end, 1, "'big': data at 1048571+10 past the end of the tar stream");
}

LZS_TEST(test_index__rejects_bad_checkpoints_and_info)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    struct lzs_index_checkpoint c = {.in_off = 5, .out_off = 0};
    ASSERT_ERR(lzs_index_writer_add_checkpoint(w, &c, &err), err, EINVAL, "must be at 0/0");
    lzs_error_free(&err);
    c = (struct lzs_index_checkpoint){.kind = 1, .bits = 9};
    ASSERT_ERR(lzs_index_writer_add_checkpoint(w, &c, &err), err, EINVAL, "bit offset 9");
    lzs_error_free(&err);
    c = (struct lzs_index_checkpoint){.kind = 0, .window_len = 3, .window = window};
    ASSERT_ERR(lzs_index_writer_add_checkpoint(w, &c, &err), err, EINVAL, "only deflate");
    lzs_error_free(&err);
    c = (struct lzs_index_checkpoint){.kind = 0};
    ASSERT_OK(lzs_index_writer_add_checkpoint(w, &c, &err), err);
    c = (struct lzs_index_checkpoint){.kind = 3, .in_off = 10, .out_off = 10};
    ASSERT_OK(lzs_index_writer_add_checkpoint(w, &c, &err), err);
    c.in_off = 10, c.out_off = 20;
    ASSERT_ERR(lzs_index_writer_add_checkpoint(w, &c, &err), err, EINVAL, "do not follow");
    lzs_error_free(&err);
    c.in_off = 20, c.out_off = 5;
    ASSERT_ERR(lzs_index_writer_add_checkpoint(w, &c, &err), err, EINVAL, "do not follow");
    lzs_error_free(&err);

    struct lzs_index_info info = test_info();
    struct lzs_buf out = LZS_BUF_INIT(0);
    info.compression = (enum lzs_index_compression)3;
    ASSERT_ERR(lzs_index_writer_finish(w, &info, &out, &err), err, EINVAL, "compression 3");
    lzs_error_free(&err);
    info = test_info();
    info.compressed_size = 5; /* the checkpoint at 10 is past it */
    ASSERT_ERR(lzs_index_writer_finish(w, &info, &out, &err), err, EINVAL,
               "checkpoint 1: offsets 10/10 past the end");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_index_writer_finish(w, &info, &out, &err), err, EINVAL, "already finished");
    lzs_buf_dispose(&out);
}

/* ---- checkpoint_find ------------------------------------------------------------------------ */

LZS_TEST(test_index__checkpoint_find)
{
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add_checkpoints(w); /* out_offs 0, 1000, 2000, 2000 */
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = build(w);
    ASSERT_EQ(lzs_index_checkpoint_find(idx, 0), 0);
    ASSERT_EQ(lzs_index_checkpoint_find(idx, 999), 0);
    ASSERT_EQ(lzs_index_checkpoint_find(idx, 1000), 1);
    ASSERT_EQ(lzs_index_checkpoint_find(idx, 1999), 1);
    ASSERT_EQ(lzs_index_checkpoint_find(idx, 2000), 3); /* the last of equal out_offs */
    ASSERT_EQ(lzs_index_checkpoint_find(idx, UINT64_MAX), 3);

    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w1 = NULL;
    ASSERT_OK(lzs_index_writer_new(&w1, NULL), (lzs_error *)NULL);
    lzs_cleanup(lzs_index_unrefp) lzs_index *one = build(w1);
    ASSERT_EQ(lzs_index_checkpoint_find(one, 0), 0);
    ASSERT_EQ(lzs_index_checkpoint_find(one, UINT64_MAX), 0);

    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *wm = NULL;
    ASSERT_OK(lzs_index_writer_new(&wm, NULL), (lzs_error *)NULL);
    for (uint64_t i = 0; i < 1000; i++) {
        struct lzs_index_checkpoint c = {.in_off = i * 10, .out_off = i * 100, .kind = i ? 3 : 0};
        ASSERT_OK(lzs_index_writer_add_checkpoint(wm, &c, &err), err);
    }
    lzs_cleanup(lzs_index_unrefp) lzs_index *m = build(wm);
    for (uint64_t off = 0; off < 100500; off += 37)
        ASSERT_EQ(lzs_index_checkpoint_find(m, off), off / 100 < 999 ? off / 100 : 999);
}

/* ---- hostile input -------------------------------------------------------------------------- */

/* The rich fixture, serialised, with a shorter long path (two 100-byte components) to keep it
 * small: the hostile tests load it thousands of times, the fuzzer mutates it. */
static void rich_bytes(struct lzs_buf *out)
{
    lzs_autofree char *lp = long_path();
    lp[201] = '\0';
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add_rich(w, lp);
    finish(w, out);
}

static uint64_t sec_off(const uint8_t *p, int sec)
{
    return lzs_idx_u64(p + LZS_IDX_H_SECTIONS + sec * 16);
}

static uint64_t sec_count(const uint8_t *p, int sec)
{
    return lzs_idx_u64(p + LZS_IDX_H_SECTIONS + sec * 16 + 8);
}

static void put(uint8_t *at, int width, uint64_t v)
{
    if (width == 1)
        *at = (uint8_t)v;
    else if (width == 2)
        lzs_idx_put16(at, (uint16_t)v);
    else if (width == 4)
        lzs_idx_put32(at, (uint32_t)v);
    else
        lzs_idx_put64(at, v);
}

static uint64_t peek(const uint8_t *at, int width)
{
    return width == 1   ? *at
           : width == 2 ? lzs_idx_u16(at)
           : width == 4 ? lzs_idx_u32(at)
                        : lzs_idx_u64(at);
}

enum mut_kind { M_HDR, M_SEC, M_REC, M_ENT, M_TXT };
enum mut_op { SET, ADD, ID_OF, PATH_OF, COPY };

struct mut {
    enum mut_kind kind;
    int sec;          /* M_SEC, M_REC */
    uint32_t rec;     /* M_REC: record index; M_SEC: 0 offset, 8 count */
    const char *path; /* M_ENT, M_TXT: the entry */
    uint32_t field;
    int width;
    enum mut_op op;
    uint64_t value;  /* SET, ADD; COPY: the record to copy the field from */
    const char *ref; /* ID_OF, PATH_OF: that entry's id or path offset; M_TXT: the new text */
    int code;
    const char *msg;
};

static const uint32_t rec_size[] = {LZS_IDX_CKPT_SIZE, LZS_IDX_ENTRY_SIZE, LZS_IDX_CHILD_SIZE,
                                    LZS_IDX_XATTR_SIZE, LZS_IDX_SPARSE_SIZE};

static uint8_t *mut_target(uint8_t *p, const lzs_index *idx, const struct mut *m, int sec,
                           uint32_t rec)
{
    if (m->kind == M_HDR)
        return p + m->field;
    if (m->kind == M_SEC)
        return p + LZS_IDX_H_SECTIONS + m->sec * 16 + m->rec;
    if (m->kind == M_ENT)
        rec = id_of(idx, m->path), sec = LZS_IDX_SEC_ENTRIES;
    return p + sec_off(p, sec) + (size_t)rec * rec_size[sec] + m->field;
}

static void mutate(uint8_t *p, const lzs_index *idx, const struct mut *m)
{
    if (m->kind == M_TXT) {
        struct lzs_index_entry e = get(idx, m->path);
        ASSERT(strlen(m->ref) <= strlen(e.path));               /* with its NUL */
        size_t off = (size_t)(e.path - lzs_index_name(idx, 0)); /* the root's "" is at 0 */
        memcpy(p + sec_off(p, LZS_IDX_SEC_STRINGS) + off, m->ref, strlen(m->ref) + 1);
        return;
    }
    uint8_t *at = mut_target(p, idx, m, m->sec, m->rec);
    uint64_t v = m->value;
    if (m->op == ADD)
        v += peek(at, m->width);
    else if (m->op == ID_OF)
        v = id_of(idx, m->ref);
    else if (m->op == PATH_OF)
        v = (uint64_t)(get(idx, m->ref).path - lzs_index_name(idx, 0));
    else if (m->op == COPY)
        v = peek(mut_target(p, idx, m, m->sec, (uint32_t)m->value), m->width);
    put(at, m->width, v);
}

#define HDR(f, w, v, c, m)                                                               \
    {                                                                                    \
        .kind = M_HDR, .field = (f), .width = (w), .value = (v), .code = (c), .msg = (m) \
    }
#define SECF(s, which, op_, v, m)                                                         \
    {                                                                                     \
        .kind = M_SEC, .sec = (s), .rec = (which), .width = 8, .op = (op_), .value = (v), \
        .code = EINVAL, .msg = (m)                                                        \
    }
#define REC(s, r, f, w, op_, v, m)                                                      \
    {                                                                                   \
        .kind = M_REC, .sec = (s), .rec = (r), .field = (f), .width = (w), .op = (op_), \
        .value = (v), .code = EINVAL, .msg = (m)                                        \
    }
#define ENT(p, f, w, op_, v, r, m)                                                         \
    {                                                                                      \
        .kind = M_ENT, .path = (p), .field = (f), .width = (w), .op = (op_), .value = (v), \
        .ref = (r), .code = EINVAL, .msg = (m)                                             \
    }
#define TXT(p, t, m)                                                       \
    {                                                                      \
        .kind = M_TXT, .path = (p), .ref = (t), .code = EINVAL, .msg = (m) \
    }

enum { CK = LZS_IDX_SEC_CHECKPOINTS, EN = LZS_IDX_SEC_ENTRIES, CH = LZS_IDX_SEC_CHILDREN };
enum { XA = LZS_IDX_SEC_XATTRS, SP = LZS_IDX_SEC_SPARSE, ST = LZS_IDX_SEC_STRINGS };
enum { BL = LZS_IDX_SEC_BLOB };

static const struct mut header_muts[] = {
    HDR(0, 1, 'X', EINVAL, "index: bad magic"),
    HDR(LZS_IDX_H_VERSION, 4, 2, ENOTSUP, "format version 2 is not supported"),
    HDR(LZS_IDX_H_HEADER_SIZE, 4, 255, EINVAL, "header: size 255, expected 256"),
    HDR(LZS_IDX_H_COMPRESSION, 4, 3, EINVAL, "header: unknown compression 3"),
    HDR(LZS_IDX_H_FLAGS, 4, 2, EINVAL, "header: unknown flags 0x2"),
    HDR(LZS_IDX_H_DIGEST_ALGO, 4, 0, EINVAL, "header: unknown digest algorithm 0"),
    HDR(LZS_IDX_H_DIGEST + 32, 1, 1, EINVAL, "header: reserved bytes are not zero"),
    HDR(LZS_IDX_H_RESERVED0, 4, 1, EINVAL, "header: reserved bytes are not zero"),
    HDR(LZS_IDX_H_RESERVED1 + 15, 1, 1, EINVAL, "header: reserved bytes are not zero"),
    HDR(LZS_IDX_H_UNCOMPRESSED_SIZE, 8, 1000, EINVAL, "checkpoint 2: offsets 200/2000 past"),
    SECF(EN, 0, SET, (uint64_t)1 << 63, "bytes at offset 9223372036854775808 extend past the end"),
    SECF(EN, 8, SET, (uint64_t)1 << 40, "section entries: 1099511627776 records, at most"),
    SECF(EN, 8, SET, UINT32_MAX, "section entries: 481036337040 bytes at offset"),
    SECF(ST, 0, ADD, 4, "is not a multiple of 8"),
    SECF(CH, 0, ADD, (uint64_t)-8, "section children: offset"),
    SECF(BL, 8, SET, UINT64_MAX, "section blob: 18446744073709551615 bytes"),
    SECF(BL, 0, SET, UINT64_MAX - 7, "extend past the end of the index"),
    SECF(XA, 8, ADD, 1, "section sparse: offset"),
    SECF(ST, 8, SET, 0, "section strings: must start and end with a NUL byte"),
    SECF(ST, 8, ADD, (uint64_t)-1, "section strings: must start and end with a NUL byte"),
    SECF(CK, 8, SET, 0, "no checkpoints"),
    SECF(EN, 8, SET, 0, "no entries"),
};

static const struct mut record_muts[] = {
    REC(CK, 0, LZS_IDX_C_IN_OFF, 8, SET, 5, "checkpoint 0: at 5/0, must be at 0/0"),
    REC(CK, 1, LZS_IDX_C_BITS, 1, SET, 9, "checkpoint 1: bit offset 9, at most 7"),
    REC(CK, 1, LZS_IDX_C_KIND, 1, SET, 4, "checkpoint 1: unknown kind 4"),
    REC(CK, 1, LZS_IDX_C_WINDOW_OFF, 8, SET, UINT64_MAX, "checkpoint 1: window"),
    REC(CK, 1, LZS_IDX_C_WINDOW_LEN, 4, SET, UINT32_MAX, "checkpoint 1: window"),
    REC(CK, 2, LZS_IDX_C_BITS, 1, SET, 1, "checkpoint 2: only deflate checkpoints"),
    REC(CK, 2, LZS_IDX_C_IN_OFF, 8, SET, 100, "checkpoint 2: offsets 100/2000 do not follow"),
    REC(CK, 2, LZS_IDX_C_OUT_OFF, 8, SET, 999, "checkpoint 2: offsets 200/999 do not follow"),
    REC(CK, 3, LZS_IDX_C_OUT_OFF, 8, SET, 1ull << 40, "checkpoint 3: offsets 300/"),
    REC(CK, 3, LZS_IDX_C_RESERVED, 2, SET, 1, "checkpoint 3: reserved bytes"),
    ENT("b", LZS_IDX_E_TYPE, 1, SET, 9, NULL, "'b': unknown type 9"),
    ENT("b", LZS_IDX_E_RESERVED, 1, SET, 1, NULL, "'b': reserved byte"),
    ENT("a/f", LZS_IDX_E_MODE, 2, SET, 0xffff, NULL, "'a/f': mode 0177777 has bits beyond"),
    ENT("a/f", LZS_IDX_E_MTIME_NSEC, 4, SET, 1000000000, NULL, "'a/f': mtime nanoseconds"),
    ENT("", LZS_IDX_E_TYPE, 1, SET, LZS_ENTRY_REG, NULL, "entry 0: the root is not a directory"),
    ENT("", LZS_IDX_E_PARENT, 4, SET, 1, NULL, "entry 0: the root's parent must be itself"),
    ENT("", LZS_IDX_E_PATH, 4, PATH_OF, 0, "a", "entry 0 'a': the first entry must be the root"),
    ENT("b", LZS_IDX_E_PATH, 4, SET, UINT32_MAX, NULL, "path offset 4294967295 outside"),
    ENT("a/f", LZS_IDX_E_PATH, 4, PATH_OF, 1, "a-b", "path string overlaps the previous"),
    ENT("a/f", LZS_IDX_E_NAME_POS, 4, SET, 0, NULL, "'a/f': name position 0, expected 2"),
    ENT("dev/null", LZS_IDX_E_PARENT, 4, ID_OF, 0, "b", "'dev/null': parent is not a directory"),
    ENT("a/f", LZS_IDX_E_PARENT, 4, SET, 0, NULL, "'a/f': parent 0 is not its directory"),
    ENT("a/f", LZS_IDX_E_PARENT, 4, ID_OF, 0, "a/f", "'a/f': parent 3 does not come before it"),
    ENT("dev/fifo", LZS_IDX_E_LINK, 4, PATH_OF, 0, "a", "'dev/fifo': link target on a non-link"),
    ENT("b", LZS_IDX_E_LINK, 4, SET, 0, NULL, "'b': symlink with an empty target"),
    ENT("b", LZS_IDX_E_UNAME, 4, SET, 1u << 30, NULL, "'b': uname offset 1073741824 outside"),
    ENT("b", LZS_IDX_E_GNAME, 4, SET, UINT32_MAX, NULL, "'b': gname offset"),
    ENT("b", LZS_IDX_E_SIZE, 8, SET, 1, NULL, "'b': size, offset or digest on a non-regular"),
    ENT("b", LZS_IDX_E_SHA256 + 31, 1, SET, 1, NULL, "'b': size, offset or digest"),
    ENT("dev/fifo", LZS_IDX_E_A, 4, SET, 1, NULL, "'dev/fifo': unused fields are not zero"),
    ENT("a/f", LZS_IDX_E_OFFSET, 8, SET, (1 << 20) - 5, NULL,
        "'a/f': data at 1048571+10 past the end of the tar stream (1048576 bytes)"),
    ENT("a/f", LZS_IDX_E_OFFSET, 8, SET, UINT64_MAX, NULL, "'a/f': data at 18446744073709551615"),
    ENT("a/f", LZS_IDX_E_SIZE, 8, SET, UINT64_MAX, NULL, "'a/f': data at 512+18446744073709551615"),
    ENT("a/s", LZS_IDX_E_OFFSET, 8, SET, (1 << 20) - 100, NULL, "'a/s': data at 1048476+110 past"),
    ENT("a/s", LZS_IDX_E_SIZE, 8, SET, 4096, NULL, "'a/s': sparse segment 1 (4096+100) past"),
    ENT("a/s", LZS_IDX_E_A, 4, SET, 1, NULL, "'a/s': sparse segments 1+3 do not follow"),
    ENT("a/s", LZS_IDX_E_B, 4, SET, 4, NULL, "'a/s': sparse segments 0+4 do not follow"),
    REC(SP, 1, LZS_IDX_S_OFF, 8, SET, 5, "'a/s': sparse segment 1 overlaps or precedes"),
    REC(SP, 2, LZS_IDX_S_LEN, 8, SET, UINT64_MAX, "'a/s': sparse segment 2 (8192+184467"),
    ENT("a/f", LZS_IDX_E_XATTR_FIRST, 4, SET, 1, NULL, "'a/f': xattrs 1+3 do not follow"),
    ENT("a/f", LZS_IDX_E_NXATTRS, 4, SET, 2, NULL, "'a/h': xattrs 3+0 do not follow"),
    REC(XA, 1, LZS_IDX_X_NAME, 4, SET, UINT32_MAX, "'a/f': xattr name outside"),
    REC(XA, 1, LZS_IDX_X_NAME, 4, SET, 0, "'a/f': xattr name empty or longer than 255"),
    REC(XA, 2, LZS_IDX_X_VALUE_OFF, 8, SET, UINT64_MAX - 1, "'a/f': xattr value outside"),
    REC(XA, 2, LZS_IDX_X_VALUE_LEN, 4, SET, UINT32_MAX, "'a/f': xattr value outside"),
    REC(XA, 0, LZS_IDX_X_NAME, 4, COPY, 2, "'a/f': xattr names not sorted and unique"),
    REC(XA, 1, LZS_IDX_X_NAME, 4, COPY, 0, "'a/f': xattr names not sorted and unique"),
    ENT("a/h", LZS_IDX_E_A, 4, SET, 100000, NULL, "'a/h': bad hardlink target"),
    ENT("a/h", LZS_IDX_E_LINK, 4, PATH_OF, 0, "b", "'a/h': bad hardlink target"),
    ENT("a/h", LZS_IDX_E_B, 4, SET, 1, NULL, "'a/h': bad hardlink target"),
    REC(CH, 0, 0, 4, SET, 2, "directory 0 '': children are not in name order"),
    REC(CH, 0, 0, 4, SET, 3, "directory 0 '': child 3 is not its child"),
    REC(CH, 0, 0, 4, SET, UINT32_MAX, "directory 0 '': child 4294967295 is not its child"),
    ENT("a", LZS_IDX_E_B, 4, ADD, 1, NULL, "children"),
    ENT("a", LZS_IDX_E_B, 4, ADD, (uint32_t)-1, NULL, "children"),
    TXT("b", "a", "'a': not after the previous path (duplicate or unsorted)"),
    TXT("a/h2", "a/h", "'a/h': not after the previous path (duplicate or unsorted)"),
    TXT("zz/yy", "zz/..", "'zz/..': path has a '..' component"),
    TXT("a/f", "a/.", "'a/.': path has a '.' component"),
    TXT("b", "/", "'/': path starts with '/'"),
    TXT("zz/yy", "zz//y", "'zz//y': path has an empty component"),
    TXT("zz/yy", "zz/y/", "'zz/y/': path ends with '/'"),
    TXT("a/f", "a\n\x01",
        "'a?"
        "?': not after"), /* control bytes never reach a message */
};

/* The hardlink mutations need two fields changed together. */
static void relink(uint8_t *p, const lzs_index *idx, const char *from, const char *to)
{
    struct mut a = ENT(from, LZS_IDX_E_A, 4, ID_OF, 0, to, NULL);
    struct mut l = ENT(from, LZS_IDX_E_LINK, 4, PATH_OF, 0, to, NULL);
    mutate(p, idx, &a);
    mutate(p, idx, &l);
}

static void expect_load_error(const uint8_t *p, size_t n, int code, const char *msg,
                              const char *what)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_index *idx = NULL;
    int rc = lzs_index_load(&idx, p, n, &err);
    if (rc >= 0) {
        lzs_index_unref(idx);
        FAIL("%s: loaded, expected \"%s\"", what, msg);
    }
    if (rc != -code || !err || !strstr(err->msg, msg))
        FAIL("%s: got %d \"%s\", expected %d \"%s\"", what, rc, err ? err->msg : "(none)", -code,
             msg);
    if (strchr(err->msg, '\n'))
        FAIL("%s: multi-line message", what);
}

static void run_muts(const struct mut *muts, size_t n)
{
    struct lzs_buf b;
    rich_bytes(&b);
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = load(&b);
    lzs_autofree uint8_t *p = malloc(b.len);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, b.data, b.len);
        mutate(p, idx, &muts[i]);
        char what[32];
        snprintf(what, sizeof(what), "mutation %zu", i);
        expect_load_error(p, b.len, muts[i].code, muts[i].msg, what);
    }
    const char *links[][3] = {{"a/h", "a/h2", "'a/h': hardlinks form a cycle"},
                              {"a/h", "a/h", "'a/h': hardlinks form a cycle"},
                              {"a/h", "a", "'a/h': hardlink to entry 1, which is not a regular"},
                              {"a/h2", "dev/null", "'a/h2': hardlink to entry"}};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(links); i++) {
        memcpy(p, b.data, b.len);
        relink(p, idx, links[i][0], links[i][1]);
        expect_load_error(p, b.len, EINVAL, links[i][2], links[i][2]);
    }
    lzs_buf_dispose(&b);
}

LZS_TEST(test_index__hostile_header_and_sections)
{
    run_muts(header_muts, LZS_ARRAY_SIZE(header_muts));
}

LZS_TEST(test_index__hostile_records)
{
    run_muts(record_muts, LZS_ARRAY_SIZE(record_muts));
}

LZS_TEST(test_index__hostile_truncation)
{
    struct lzs_buf b;
    rich_bytes(&b);
    lzs_autofree uint8_t *p = malloc(b.len);
    for (size_t n = 0; n < b.len; n++) { /* every prefix: as stored, and with a patched size */
        memcpy(p, b.data, n);
        expect_load_error(p, n, EINVAL, n < 256 ? "truncated" : "header: file size", "prefix");
        if (n >= 256) {
            lzs_idx_put64(p + LZS_IDX_H_FILE_SIZE, n);
            lzs_index *idx = NULL;
            ASSERT(lzs_index_load(&idx, p, n, NULL) < 0);
        }
    }
    for (int s = 0; s < LZS_IDX_SEC_COUNT; s++) { /* at each section's end, with a clear error */
        size_t n = (size_t)(sec_off((uint8_t *)b.data, s) +
                            sec_count((uint8_t *)b.data, s) * (s < ST ? rec_size[s] : 1));
        if (n == 0 || n > b.len)
            continue;
        memcpy(p, b.data, n - 1);
        lzs_idx_put64(p + LZS_IDX_H_FILE_SIZE, n - 1);
        expect_load_error(p, n - 1, EINVAL, "extend past the end of the index", "section end");
    }
    lzs_buf_dispose(&b);
}

/* Random byte changes: never a crash (ASan watches), always a message when refused. */
LZS_TEST(test_index__hostile_random_bytes)
{
    struct lzs_buf b;
    rich_bytes(&b);
    lzs_autofree uint8_t *p = malloc(b.len);
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 20000; round++) {
        memcpy(p, b.data, b.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[x % b.len] = (uint8_t)(x >> 32);
        }
        lzs_autoerr lzs_error *err = NULL;
        lzs_index *idx = NULL;
        if (lzs_index_load(&idx, p, b.len, &err) == 0)
            lzs_index_unref(idx);
        else
            ASSERT(err && err->msg && !strchr(err->msg, '\n'));
    }
    lzs_buf_dispose(&b);
}

/* ---- files ---------------------------------------------------------------------------------- */

LZS_TEST(test_index__open_file)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_buf b;
    rich_bytes(&b);
    const char *path = lzs_test_path("layer.index");
    lzs_test_write_file(path, b.data, b.len);
    lzs_index *idx = NULL;
    ASSERT_OK(lzs_index_open(&idx, path, &err), err);
    ASSERT_EQ(lzs_index_size(idx), b.len);
    ASSERT_EQ(lzs_index_ref(idx), idx);
    ASSERT(lzs_index_unref(idx) == NULL); /* one reference left */
    ASSERT_EQ(get(idx, "a/f").offset, 512);
    struct lzs_index_checkpoint c;
    lzs_index_checkpoint_get(idx, 1, &c);
    ASSERT_MEM_EQ(c.window, window, sizeof(window));
    ASSERT(lzs_index_unref(idx) == NULL);
    ASSERT(lzs_index_unref(NULL) == NULL);

    const char *bad = lzs_test_path("bad.index");
    lzs_test_write_file(bad, b.data, b.len - 1);
    ASSERT_ERR(lzs_index_open(&idx, bad, &err), err, EINVAL, "bad.index: index: header: file size");
    lzs_error_free(&err);
    lzs_test_write_file(bad, b.data, 10);
    ASSERT_ERR(lzs_index_open(&idx, bad, &err), err, EINVAL, "truncated");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_index_open(&idx, lzs_test_path("none"), &err), err, ENOENT, "none: open");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_index_open(&idx, lzs_test_tmpdir(), &err), err, EINVAL, "not a regular file");
    lzs_buf_dispose(&b);
}

LZS_TEST(test_index__load_copies)
{
    struct lzs_buf b;
    rich_bytes(&b);
    lzs_index *idx = load(&b);
    memset(b.data, 0, b.len);
    lzs_buf_dispose(&b);
    ASSERT_EQ(get(idx, "a/f").size, 10);
    lzs_index_unref(idx);
}

/* ---- the fuzz seed corpus -------------------------------------------------------------------- */

#define CORPUS LZS_TEST_DATA "/../fuzz/corpora/index"

static void write_seed(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", CORPUS, name);
    lzs_test_write_file(path, p, n);
}

static void write_seeds(void)
{
    struct lzs_buf b;
    rich_bytes(&b);
    write_seed("valid-rich", b.data, b.len);
    write_seed("bad-truncated", b.data, b.len / 2);
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = load(&b);
    const struct mut *picks[] = {&record_muts[1], &record_muts[20], &record_muts[52],
                                 &record_muts[56], &header_muts[12]};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(picks); i++) {
        char name[32];
        snprintf(name, sizeof(name), "bad-mutated-%zu", i);
        lzs_autofree uint8_t *p = malloc(b.len);
        memcpy(p, b.data, b.len);
        mutate(p, idx, picks[i]);
        write_seed(name, p, b.len);
    }
    lzs_buf_dispose(&b);
    lzs_cleanup(lzs_index_writer_freep) lzs_index_writer *w = NULL;
    ASSERT_OK(lzs_index_writer_new(&w, NULL), (lzs_error *)NULL);
    add(w, reg("etc/hosts", 20, 1024));
    add(w, lnk(LZS_ENTRY_HARDLINK, "etc/hosts.bak", "etc/hosts"));
    finish(w, &b);
    write_seed("valid-small", b.data, b.len);
    lzs_buf_dispose(&b);
}

/* LZS_INDEX_WRITE_SEEDS=1 regenerates the corpus; always: valid-* load, bad-* do not. */
LZS_TEST(test_index__fuzz_seeds)
{
    const char *regen = getenv("LZS_INDEX_WRITE_SEEDS");
    if (regen && *regen == '1')
        write_seeds();
    DIR *d = opendir(CORPUS);
    if (!d)
        SKIP("no seed corpus");
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(d))) {
        bool valid = strncmp(de->d_name, "valid-", 6) == 0;
        if (!valid && strncmp(de->d_name, "bad-", 4) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS, de->d_name);
        lzs_index *idx = NULL;
        int rc = lzs_index_open(&idx, path, NULL);
        lzs_index_unref(idx);
        if ((rc == 0) != valid)
            FAIL("%s: load returned %d", de->d_name, rc);
        seen++;
    }
    closedir(d);
    ASSERT(seen >= 2);
}
