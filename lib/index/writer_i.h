/* index: the writer's state, shared by writer.c (collecting), finish.c (completing the tree) and
 * serialize.c (laying out the bytes), and the small string hash table they use. */
#ifndef LZS_INDEX_WRITER_I_H
#define LZS_INDEX_WRITER_I_H

#include "index/format_i.h"

/* ---- the writer --------------------------------------------------------------------------- */

struct lzs_idx_wxattr {
    char *name;
    uint8_t *value;
    uint32_t value_len;
};

struct lzs_idx_wentry {
    char *path;  /* normalised */
    char *link;  /* symlink target verbatim, hardlink target normalised, else NULL */
    char *uname; /* NULL for "" */
    char *gname;
    struct lzs_index_entry e; /* the scalars; its pointers are not used */
    struct lzs_idx_wxattr *xattrs;
    struct lzs_index_sparse *sparse;
    uint64_t seq;      /* tar position of the entry kept under this path */
    uint64_t kill_seq; /* tar position where this path last turned from a directory into a
                          non-directory: what was under it before is gone */
    bool dead;         /* removed by such a replacement of an ancestor (finish) */
    uint32_t target;   /* hardlink: writer index of the target (finish) */
    uint32_t id;       /* position in path order (serialize) */
    uint32_t path_off; /* in the string table (serialize) */
};

struct lzs_idx_wckpt {
    uint64_t in_off;
    uint64_t out_off;
    uint64_t window_off; /* in windows */
    uint32_t window_len;
    uint8_t bits;
    uint8_t kind;
};

struct lzs_index_writer {
    struct lzs_idx_wentry *entries;
    size_t n, cap;
    struct lzs_strhash paths; /* path -> index in entries */
    struct lzs_idx_wckpt *ckpts;
    size_t nckpts, ckpts_cap;
    struct lzs_buf windows;
    uint64_t seq;
    bool any_kill;
    bool finished;
    lzs_index_observer_fn observer; /* lzs_index_writer_observe */
    void *observer_data;
};

/* Append a zeroed entry owning path; returns its index. -ENOMEM (path is freed then). */
int lzs_idx_writer_append(lzs_index_writer *w, char *path, uint32_t *index, lzs_error **err);
/* Free what e owns, except its path. */
void lzs_idx_wentry_clear(struct lzs_idx_wentry *e);
/* Make e a synthesised directory (0755, root-owned, mtime 0), keeping its path. */
void lzs_idx_wentry_synthesise_dir(struct lzs_idx_wentry *e);
/* "./a//b/" -> "a/b" into a new string; -EINVAL for "" or a ".." component. */
int lzs_idx_normalise_path(const char *in, char **out, lzs_error **err);

/* Lay out the index (order: writer indices of the live entries in path order; parent: the
 * writer index of each one's directory) into out. */
int lzs_idx_serialize(lzs_index_writer *w, const uint32_t *order, uint32_t n,
                      const struct lzs_index_info *info, struct lzs_buf *out, lzs_error **err);

#endif
