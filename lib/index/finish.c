/* index: lzs_index_writer_finish: complete the tree the tar described (drop what replacements
 * removed, synthesise missing directories, resolve hardlinks), sort it, serialise it, and check
 * the result with the reader's own validation. */
#include "index/writer_i.h"

#define BAD(err, ...) lzs_error_set((err), EINVAL, "index: " __VA_ARGS__)

static int check_info(const struct lzs_index_info *info, lzs_error **err)
{
    if ((unsigned)info->compression > LZS_INDEX_COMP_ZSTD)
        return BAD(err, "unknown compression %d", (int)info->compression);
    if (info->flags & ~(uint32_t)LZS_INDEX_SEQUENTIAL)
        return BAD(err, "unknown flags 0x%" PRIx32, info->flags);
    if (info->blob_digest.algo != LZS_DIGEST_SHA256 && info->blob_digest.algo != LZS_DIGEST_SHA512)
        return BAD(err, "blob digest has no known algorithm");
    return 0;
}

/* An entry is gone when an ancestor turned from a directory into something else after it. */
static void mark_dead(lzs_index_writer *w)
{
    for (size_t i = 0; i < w->n; i++) {
        struct lzs_idx_wentry *e = &w->entries[i];
        for (const char *s = strchr(e->path, '/'); s && !e->dead; s = strchr(s + 1, '/')) {
            uint32_t a;
            size_t len = (size_t)(s - e->path);
            if (lzs_strhash_get(&w->paths, e->path, len, &a) && w->entries[a].kill_seq > e->seq)
                e->dead = true;
        }
    }
}

static int add_dir(lzs_index_writer *w, const char *path, size_t len, uint32_t *i, lzs_error **err)
{
    char *copy = strndup(path, len);
    if (!copy)
        return lzs_error_set(err, ENOMEM, "index: out of memory");
    int rc = lzs_idx_writer_append(w, copy, i, err);
    if (rc < 0)
        return rc;
    lzs_idx_wentry_synthesise_dir(&w->entries[*i]);
    return 0;
}

/* Every directory above entry i exists (synthesised if need be) and is a directory. */
static int ensure_parents(lzs_index_writer *w, uint32_t i, lzs_error **err)
{
    const char *path = w->entries[i].path; /* its own allocation: appending does not move it */
    size_t len = strlen(path);
    while (len > 0) {
        const char *slash = memrchr(path, '/', len);
        size_t plen = slash ? (size_t)(slash - path) : 0;
        uint32_t p;
        bool found = lzs_strhash_get(&w->paths, path, plen, &p);
        if (found && !w->entries[p].dead) {
            char q[LZS_IDX_QUOTE_MAX], pq[LZS_IDX_QUOTE_MAX];
            if (w->entries[p].e.type != LZS_ENTRY_DIR)
                return BAD(err, "entry %s: parent %s is not a directory", lzs_idx_quote(q, path),
                           lzs_idx_quote(pq, w->entries[p].path));
            return 0;
        }
        if (found) { /* removed by a replacement, but needed again: as extraction recreates it */
            lzs_idx_wentry_synthesise_dir(&w->entries[p]);
        } else {
            int rc = add_dir(w, path, plen, &p, err);
            if (rc < 0)
                return rc;
        }
        len = plen;
    }
    return 0;
}

static int complete_tree(lzs_index_writer *w, lzs_error **err)
{
    if (w->any_kill)
        mark_dead(w);
    uint32_t root;
    if (!lzs_strhash_get(&w->paths, "", 0, &root)) {
        int rc = add_dir(w, "", 0, &root, err);
        if (rc < 0)
            return rc;
    }
    size_t n = w->n; /* the directories added below have their parents already */
    for (size_t i = 0; i < n; i++) {
        if (w->entries[i].dead)
            continue;
        int rc = ensure_parents(w, (uint32_t)i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- hardlinks ---------------------------------------------------------------------------- */

static int find_targets(lzs_index_writer *w, lzs_error **err)
{
    for (size_t i = 0; i < w->n; i++) {
        struct lzs_idx_wentry *e = &w->entries[i];
        if (e->dead || e->e.type != LZS_ENTRY_HARDLINK)
            continue;
        uint32_t t;
        if (!lzs_strhash_get(&w->paths, e->link, strlen(e->link), &t) || w->entries[t].dead) {
            char q[LZS_IDX_QUOTE_MAX], tq[LZS_IDX_QUOTE_MAX];
            return BAD(err, "entry %s: hardlink target %s is not in the layer",
                       lzs_idx_quote(q, e->path), lzs_idx_quote(tq, e->link));
        }
        e->target = t;
    }
    return 0;
}

/* Follow the chain from hardlink i; state: 0 unseen, 1 on this chain, 2 resolves fine. */
static int resolve_chain(lzs_index_writer *w, uint32_t i, uint8_t *state, lzs_error **err)
{
    uint32_t j = i;
    while (w->entries[j].e.type == LZS_ENTRY_HARDLINK && state[j] == 0) {
        state[j] = 1;
        j = w->entries[j].target;
    }
    char q[LZS_IDX_QUOTE_MAX], tq[LZS_IDX_QUOTE_MAX];
    enum lzs_entry_type t = w->entries[j].e.type;
    if (t == LZS_ENTRY_HARDLINK && state[j] == 1)
        return BAD(err, "entry %s: hardlinks form a cycle", lzs_idx_quote(q, w->entries[i].path));
    if (t != LZS_ENTRY_HARDLINK && t != LZS_ENTRY_REG)
        return BAD(err, "entry %s: hardlink target %s is not a regular file",
                   lzs_idx_quote(q, w->entries[i].path), lzs_idx_quote(tq, w->entries[j].path));
    for (j = i; state[j] == 1; j = w->entries[j].target)
        state[j] = 2;
    return 0;
}

static int resolve_hardlinks(lzs_index_writer *w, lzs_error **err)
{
    int rc = find_targets(w, err);
    if (rc < 0)
        return rc;
    lzs_autofree uint8_t *state = calloc(w->n ? w->n : 1, 1);
    if (!state)
        return lzs_error_set(err, ENOMEM, "index: out of memory checking hardlinks");
    for (size_t i = 0; i < w->n; i++) {
        const struct lzs_idx_wentry *e = &w->entries[i];
        if (e->dead || e->e.type != LZS_ENTRY_HARDLINK || state[i] != 0)
            continue;
        if ((rc = resolve_chain(w, (uint32_t)i, state, err)) < 0)
            return rc;
    }
    return 0;
}

/* ---- order and output --------------------------------------------------------------------- */

struct sort_item {
    const char *path;
    uint32_t i;
};

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct sort_item *)a)->path, ((const struct sort_item *)b)->path);
}

/* The live entries' writer indices in path order. */
static int sort_entries(lzs_index_writer *w, uint32_t **order, uint32_t *n, lzs_error **err)
{
    lzs_autofree struct sort_item *items = lzs_calloc_array(w->n, sizeof(*items));
    uint32_t *o = lzs_calloc_array(w->n, sizeof(*o));
    if (!items || !o) {
        free(o);
        return lzs_error_set(err, ENOMEM, "index: out of memory sorting %zu entries", w->n);
    }
    uint32_t live = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->entries[i].dead)
            items[live++] = (struct sort_item){.path = w->entries[i].path, .i = (uint32_t)i};
    }
    qsort(items, live, sizeof(*items), by_path);
    for (uint32_t k = 0; k < live; k++)
        o[k] = items[k].i;
    *order = o;
    *n = live;
    return 0;
}

static int add_start_checkpoint(lzs_index_writer *w, lzs_error **err)
{
    struct lzs_index_checkpoint start = {.kind = LZS_IDX_KIND_START};
    return w->nckpts ? 0 : lzs_index_writer_add_checkpoint(w, &start, err);
}

int lzs_index_writer_finish(lzs_index_writer *w, const struct lzs_index_info *info,
                            struct lzs_buf *out, lzs_error **err)
{
    int rc = w->finished ? BAD(err, "writer already finished") : check_info(info, err);
    if (rc < 0 || (rc = add_start_checkpoint(w, err)) < 0)
        return rc;
    w->finished = true;
    lzs_autofree uint32_t *order = NULL;
    uint32_t n = 0;
    if ((rc = complete_tree(w, err)) < 0 || (rc = resolve_hardlinks(w, err)) < 0 ||
        (rc = sort_entries(w, &order, &n, err)) < 0)
        return rc;
    lzs_buf_reset(out);
    if (out->max == 0)
        out->max = LZS_IDX_MAX_SIZE;
    rc = lzs_idx_serialize(w, order, n, info, out, err);
    struct lzs_index check = {.base = (const uint8_t *)out->data, .size = out->len};
    if (rc < 0 || (rc = lzs_idx_parse(&check, err)) < 0)
        lzs_buf_reset(out);
    return rc;
}
