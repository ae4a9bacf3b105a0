/* index: the writer's collecting side: checkpoints and tar entries, normalised, checked and
 * deduplicated by path (a later entry replaces an earlier one, as extraction does). */
#include "index/writer_i.h"

#define BAD(err, ...) lzs_error_set((err), EINVAL, "index: " __VA_ARGS__)

static const char *path_key(const void *ctx, uint32_t value)
{
    const lzs_index_writer *w = ctx;
    return w->entries[value].path;
}

int lzs_index_writer_new(lzs_index_writer **out, lzs_error **err)
{
    lzs_index_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return lzs_error_set(err, ENOMEM, "index: out of memory");
    lzs_strhash_init(&w->paths, path_key, w);
    lzs_buf_init(&w->windows, LZS_IDX_MAX_SIZE);
    *out = w;
    return 0;
}

void lzs_idx_wentry_clear(struct lzs_idx_wentry *e)
{
    free(e->link);
    free(e->uname);
    free(e->gname);
    for (uint32_t k = 0; e->xattrs && k < e->e.nxattrs; k++) {
        free(e->xattrs[k].name);
        free(e->xattrs[k].value);
    }
    free(e->xattrs);
    free(e->sparse);
    char *path = e->path;
    *e = (struct lzs_idx_wentry){.path = path};
}

void lzs_idx_wentry_synthesise_dir(struct lzs_idx_wentry *e)
{
    lzs_idx_wentry_clear(e);
    e->e.type = LZS_ENTRY_DIR;
    e->e.mode = 0755;
}

void lzs_index_writer_free(lzs_index_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        lzs_idx_wentry_clear(&w->entries[i]);
        free(w->entries[i].path);
    }
    free(w->entries);
    lzs_strhash_dispose(&w->paths);
    free(w->ckpts);
    lzs_buf_dispose(&w->windows);
    free(w);
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static int check_checkpoint(const lzs_index_writer *w, const struct lzs_index_checkpoint *c,
                            lzs_error **err)
{
    if (c->kind > LZS_IDX_KIND_MAX || c->bits > 7)
        return BAD(err, "checkpoint %zu: kind %u or bit offset %u out of range", w->nckpts, c->kind,
                   c->bits);
    if (c->kind != LZS_IDX_KIND_DEFLATE && (c->bits || c->window_len))
        return BAD(err, "checkpoint %zu: only deflate checkpoints have bits or a window",
                   w->nckpts);
    if (c->window_len && !c->window)
        return BAD(err, "checkpoint %zu: window of %" PRIu32 " bytes is NULL", w->nckpts,
                   c->window_len);
    if (w->nckpts == 0 && (c->in_off != 0 || c->out_off != 0))
        return BAD(err, "checkpoint 0: at %" PRIu64 "/%" PRIu64 ", must be at 0/0", c->in_off,
                   c->out_off);
    const struct lzs_idx_wckpt *p = w->nckpts ? &w->ckpts[w->nckpts - 1] : NULL;
    if (p && (c->in_off <= p->in_off || c->out_off < p->out_off))
        return BAD(err,
                   "checkpoint %zu: offsets %" PRIu64 "/%" PRIu64 " do not follow %" PRIu64
                   "/%" PRIu64,
                   w->nckpts, c->in_off, c->out_off, p->in_off, p->out_off);
    if (w->nckpts >= UINT32_MAX)
        return BAD(err, "too many checkpoints");
    return 0;
}

int lzs_index_writer_add_checkpoint(lzs_index_writer *w, const struct lzs_index_checkpoint *c,
                                    lzs_error **err)
{
    int rc = w->finished ? BAD(err, "writer already finished") : check_checkpoint(w, c, err);
    if (rc < 0)
        return rc;
    if (w->nckpts == w->ckpts_cap) {
        size_t cap = w->ckpts_cap ? w->ckpts_cap * 2 : 64;
        struct lzs_idx_wckpt *p = lzs_realloc_array(w->ckpts, cap, sizeof(*p));
        if (!p)
            return lzs_error_set(err, ENOMEM, "index: out of memory adding a checkpoint");
        w->ckpts = p;
        w->ckpts_cap = cap;
    }
    uint64_t window_off = w->windows.len;
    if ((rc = lzs_buf_append(&w->windows, c->window, c->window_len, err)) < 0)
        return lzs_error_wrap(err, "index: checkpoint windows");
    w->ckpts[w->nckpts++] = (struct lzs_idx_wckpt){
        .in_off = c->in_off,
        .out_off = c->out_off,
        .window_off = window_off,
        .window_len = c->window_len,
        .bits = c->bits,
        .kind = c->kind,
    };
    return 0;
}

/* ---- entries ------------------------------------------------------------------------------ */

int lzs_idx_normalise_path(const char *in, char **out, lzs_error **err)
{
    char q[LZS_IDX_QUOTE_MAX];
    if (!in || !*in)
        return BAD(err, "empty path");
    char *p = malloc(strlen(in) + 1);
    if (!p)
        return lzs_error_set(err, ENOMEM, "index: out of memory");
    size_t o = 0;
    for (const char *s = in; *s;) {
        while (*s == '/')
            s++;
        const char *c = s;
        while (*s && *s != '/')
            s++;
        size_t len = (size_t)(s - c);
        if (len == 0 || (len == 1 && c[0] == '.'))
            continue;
        if (len == 2 && c[0] == '.' && c[1] == '.') {
            free(p);
            return BAD(err, "path %s: has a '..' component", lzs_idx_quote(q, in));
        }
        if (o)
            p[o++] = '/';
        memcpy(p + o, c, len);
        o += len;
    }
    p[o] = '\0';
    *out = p;
    return 0;
}

int lzs_idx_writer_append(lzs_index_writer *w, char *path, uint32_t *index, lzs_error **err)
{
    int rc = lzs_strhash_reserve(&w->paths, err);
    if (rc == 0 && w->n >= UINT32_MAX - 1)
        rc = BAD(err, "too many entries");
    if (rc == 0 && w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        struct lzs_idx_wentry *p = lzs_realloc_array(w->entries, cap, sizeof(*p));
        if (!p)
            rc = lzs_error_set(err, ENOMEM, "index: out of memory adding an entry");
        else
            w->entries = p, w->cap = cap;
    }
    if (rc < 0) {
        free(path);
        return rc;
    }
    w->entries[w->n] = (struct lzs_idx_wentry){.path = path};
    *index = (uint32_t)w->n++;
    lzs_strhash_put(&w->paths, *index);
    return 0;
}
