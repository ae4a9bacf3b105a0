/* image: the merged view of an image's layers, read through their indexes (OCI layer
 * semantics: uppermost wins, ".wh.NAME" whiteouts, ".wh..wh..opq" opaque directories). */
#include "image_i.h"

#include <stdio.h>
#include <string.h>

#define VIEW_PATH_MAX 4096
#define VIEW_MAX_SYMLINKS 40

struct lzs_image_view {
    lzs_image *img;
    size_t n;
    lzs_index **idx;
    lzs_blob **blob;
    char path[VIEW_PATH_MAX]; /* node.path of the last lookup */
};

void lzs_image_view_free(lzs_image_view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        lzs_index_unref(v->idx[i]);
        lzs_blob_unref(v->blob[i]);
    }
    free(v->idx);
    free(v->blob);
    free(v);
}

int lzs_image_view_new(lzs_image_view **out, lzs_image *img, lzs_error **err)
{
    lzs_cleanup(lzs_image_view_freep) lzs_image_view *v = calloc(1, sizeof(*v));
    size_t n = lzs_image_layer_count(img);
    if (!v || !(v->idx = lzs_calloc_array(n + 1, sizeof(*v->idx))) ||
        !(v->blob = lzs_calloc_array(n + 1, sizeof(*v->blob))))
        return lzs_error_set(err, ENOMEM, "out of memory");
    v->img = img;
    v->n = n;
    if (n == 0)
        return lzs_error_set(err, ENOENT, "%s: image has no layers", lzs_image_name(img));
    for (size_t i = 0; i < n; i++) {
        int rc = lzs_image_load_index(img, i, &v->idx[i], err);
        if (rc == 0)
            rc = lzs_image_open_layer_blob(img, i, &v->blob[i], err);
        if (rc < 0)
            return lzs_error_wrap(err, "%s", lzs_image_name(img));
    }
    *out = lzs_steal_ptr(&v);
    return 0;
}

/* ---- one path, no symlinks ------------------------------------------------------------------ */

static bool lookup_type(const lzs_index *idx, const char *p, uint32_t *id, enum lzs_entry_type *t)
{
    if (lzs_index_lookup(idx, p, id) < 0)
        return false;
    struct lzs_index_entry e;
    lzs_index_entry_get(idx, *id, &e);
    *t = e.type;
    return true;
}

/* Does idx have "DIR/NAME" where DIR is p[0..dirlen) ("" for the root)? A name too long to
 * build counts as present: hiding fails closed, never showing what a layer deleted. */
static bool has_child(const lzs_index *idx, const char *p, size_t dirlen, const char *name)
{
    char q[VIEW_PATH_MAX];
    int k = dirlen ? snprintf(q, sizeof(q), "%.*s/%s", (int)dirlen, p, name)
                   : snprintf(q, sizeof(q), "%s", name);
    uint32_t id;
    return k < 0 || (size_t)k >= sizeof(q) || lzs_index_lookup(idx, q, &id) == 0;
}

/* Is p[0..end) (a path prefix ending at a component) whited out by idx? */
static bool whited_out(const lzs_index *idx, const char *p, size_t end)
{
    const char *slash = memrchr(p, '/', end);
    size_t dirlen = slash ? (size_t)(slash - p) : 0;
    const char *base = slash ? slash + 1 : p;
    char wh[VIEW_PATH_MAX];
    int k = snprintf(wh, sizeof(wh), LZS_IMAGE_WH_PREFIX "%.*s", (int)(p + end - base), base);
    return k < 0 || (size_t)k >= sizeof(wh) || has_child(idx, p, dirlen, wh);
}

/* Is directory p[0..end) of idx opaque, or not a directory at all? */
static bool hides_below(const lzs_index *idx, const char *p, size_t end)
{
    if (has_child(idx, p, end, LZS_IMAGE_WH_OPAQUE))
        return true;
    char anc[VIEW_PATH_MAX];
    uint32_t id;
    enum lzs_entry_type t;
    snprintf(anc, sizeof(anc), "%.*s", (int)end, p);
    return end > 0 && lookup_type(idx, anc, &id, &t) && t != LZS_ENTRY_DIR;
}

/* Does this layer hide path p ("" = root) of the layers below it: a whiteout of p or of an
 * ancestor, an opaque ancestor (the root included), or an ancestor that is not a directory? */
static bool layer_hides(const lzs_index *idx, const char *p)
{
    size_t len = strlen(p);
    if (len > 0 && hides_below(idx, p, 0))
        return true;
    for (size_t end = 1; end <= len; end++) {
        if (end < len && p[end] != '/')
            continue;
        if (whited_out(idx, p, end))
            return true;
        if (end < len && hides_below(idx, p, end))
            return true;
    }
    return false;
}

static bool is_whiteout_name(const char *p)
{
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    return strncmp(base, LZS_IMAGE_WH_PREFIX, strlen(LZS_IMAGE_WH_PREFIX)) == 0;
}

/* The uppermost layer serving normalised path p. */
static int merged_lookup(lzs_image_view *v, const char *p, size_t *layer, uint32_t *id)
{
    if (is_whiteout_name(p))
        return -ENOENT;
    for (size_t i = v->n; i-- > 0;) {
        if (lzs_index_lookup(v->idx[i], p, id) == 0) {
            *layer = i;
            return 0;
        }
        if (layer_hides(v->idx[i], p))
            return -ENOENT;
    }
    return -ENOENT;
}

static void fill_node(lzs_image_view *v, size_t layer, uint32_t id, struct lzs_image_node *out)
{
    out->layer = layer;
    out->id = lzs_index_resolve_hardlink(v->idx[layer], id);
    lzs_index_entry_get(v->idx[layer], out->id, &out->entry);
}

/* ---- resolving symlinks --------------------------------------------------------------------- */

struct walk {
    char cur[VIEW_PATH_MAX];  /* resolved so far ("" = root) */
    char rest[VIEW_PATH_MAX]; /* still to walk */
    unsigned links;
};

/* Replace the component just taken by symlink target t: rest = t "/" rest. */
static int splice_link(struct walk *w, const char *t, const char *rest, lzs_error **err)
{
    if (++w->links > VIEW_MAX_SYMLINKS)
        return lzs_error_set(err, ELOOP, "too many levels of symbolic links");
    if (t[0] == '\0')
        return lzs_error_set(err, ENOENT, "empty symbolic link");
    char tmp[VIEW_PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", t, rest) >= sizeof(tmp))
        return lzs_error_set(err, ENAMETOOLONG, "path too long");
    if (t[0] == '/')
        w->cur[0] = '\0';
    memcpy(w->rest, tmp, sizeof(tmp));
    return 0;
}

static void go_up(struct walk *w)
{
    char *slash = strrchr(w->cur, '/');
    if (slash)
        *slash = '\0';
    else
        w->cur[0] = '\0';
}

/* Walk one component c of w; *done when the walk is over with the node in out. */
static int step(lzs_image_view *v, struct walk *w, const char *c, const char *rest, bool follow,
                struct lzs_image_node *out, lzs_error **err)
{
    char cand[VIEW_PATH_MAX];
    int k = w->cur[0] ? snprintf(cand, sizeof(cand), "%s/%s", w->cur, c)
                      : snprintf(cand, sizeof(cand), "%s", c);
    if (k < 0 || (size_t)k >= sizeof(cand))
        return lzs_error_set(err, ENAMETOOLONG, "path too long");
    size_t layer;
    uint32_t id;
    if (merged_lookup(v, cand, &layer, &id) < 0)
        return lzs_error_set(err, ENOENT, "no such file or directory");
    fill_node(v, layer, id, out);
    bool last = rest[0] == '\0';
    if (out->entry.type == LZS_ENTRY_SYMLINK && (!last || follow))
        return splice_link(w, out->entry.link, rest, err);
    if (!last && out->entry.type != LZS_ENTRY_DIR)
        return lzs_error_set(err, ENOTDIR, "not a directory");
    memcpy(w->cur, cand, sizeof(cand));
    memmove(w->rest, rest, strlen(rest) + 1);
    return 0;
}

int lzs_image_view_lookup(lzs_image_view *v, const char *path, bool follow,
                          struct lzs_image_node *out, lzs_error **err)
{
    struct walk w = {.cur = ""};
    if ((size_t)snprintf(w.rest, sizeof(w.rest), "%s", path) >= sizeof(w.rest))
        return lzs_error_set(err, ENAMETOOLONG, "%s: path too long", path);
    size_t plen = strlen(path);
    bool want_dir = plen > 0 && path[plen - 1] == '/'; /* "x/": x must be a directory */
    follow = follow || want_dir;
    fill_node(v, v->n - 1, 0, out);
    while (w.rest[0]) {
        char *c = w.rest + strspn(w.rest, "/");
        size_t len = strcspn(c, "/");
        char comp[VIEW_PATH_MAX];
        memcpy(comp, c, len);
        comp[len] = '\0';
        const char *rest = c + len + strspn(c + len, "/");
        int rc = 0;
        if (len == 0 || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            if (strcmp(comp, "..") == 0)
                go_up(&w);
            memmove(w.rest, rest, strlen(rest) + 1);
        } else {
            rc = step(v, &w, comp, rest, follow, out, err);
        }
        if (rc < 0)
            return lzs_error_wrap(err, "%s", path);
    }
    size_t layer;
    uint32_t id;
    if (w.cur[0] == '\0')
        fill_node(v, v->n - 1, 0, out);
    else if (merged_lookup(v, w.cur, &layer, &id) == 0)
        fill_node(v, layer, id, out);
    if (want_dir && out->entry.type != LZS_ENTRY_DIR)
        return lzs_error_set(err, ENOTDIR, "%s: not a directory", path);
    memcpy(v->path, w.cur, sizeof(w.cur));
    out->path = v->path;
    return 0;
}

int lzs_image_view_open(lzs_image_view *v, const struct lzs_image_node *node, lzs_file_reader **out,
                        lzs_error **err)
{
    if (node->entry.type != LZS_ENTRY_REG)
        return lzs_error_set(err, EINVAL, "%s: not a regular file (%s)", node->entry.path,
                             lzs_index_entry_type_name(node->entry.type));
    return lzs_file_reader_new(out, v->idx[node->layer], v->blob[node->layer], node->id, err);
}

void lzs_image_view_stats(const lzs_image_view *v, struct lzs_blob_stats *out)
{
    *out = (struct lzs_blob_stats){0};
    for (size_t i = 0; i < v->n; i++) {
        struct lzs_blob_stats s;
        lzs_blob_stats(v->blob[i], &s);
        out->bytes_read += s.bytes_read;
        out->reads += s.reads;
    }
}

lzs_index *lzs_image_view_index(lzs_image_view *v, size_t i)
{
    return v->idx[i];
}

/* Internal to readdir.c. */
bool lzs_image_view_layer_hides(lzs_image_view *v, size_t layer, const char *p)
{
    return layer_hides(v->idx[layer], p);
}

size_t lzs_image_view_layers(const lzs_image_view *v)
{
    return v->n;
}
