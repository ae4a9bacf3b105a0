/* Mounting an image: layers over FUSE, merged with overlayfs. */
#include "mount_i.h"

#include "fusefs/fusefs.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

struct mount_layer {
    struct lzs_digest digest;
    bool indexed;
    char *dir;                   /* WORK/i */
    lzs_layer *layer;            /* or, while this mount lasts, */
    struct mount_stream *stream; /* a layer served as it streams in */
    lzs_fusefs *fs;
};

struct lzs_mount {
    char *target;
    char *image;
    bool merged; /* the overlay (or bind) mount at target is up */
    dev_t dev;   /* its device: what is mounted at target later may be someone else's */
    size_t n;
    struct mount_layer *layers;
};

/* The index and blob of layer i: its published index and the registry, or fetched whole. */
static int layer_source(lzs_image *img, size_t i, const struct lzs_mount_opts *o,
                        struct mount_layer *ml, lzs_index **idx, lzs_blob **blob, lzs_error **err)
{
    struct lzs_image_layer *il = lzs_image_layer(img, i);
    ml->digest = il->desc.digest;
    ml->indexed = il->source != LZS_IMAGE_SRC_NONE;
    if (!ml->indexed)
        return lzs_image_fetch_whole(img, i, o->whole_dir, idx, blob, err);
    int rc = lzs_image_load_index_kept(img, i, o->index_dir, idx, err);
    if (rc == 0)
        rc = lzs_image_open_layer_blob(img, i, blob, err);
    return rc;
}

static void fusefs_opts(const struct mount_layer *ml, const struct lzs_mount_opts *o,
                        char fsname[64], struct lzs_fusefs_opts *out)
{
    char ds[LZS_DIGEST_STR_MAX];
    lzs_digest_format(&ml->digest, ds);
    snprintf(fsname, 64, "lazysnap:%.19s", ds);
    *out = (struct lzs_fusefs_opts){.allow_other = o->allow_other, .fsname = fsname};
}

/* Layer i, which has no index, at dir while its blob streams in (then kept in c). */
static int serve_streaming(lzs_image *img, size_t i, lzs_cache *c, const struct lzs_mount_opts *o,
                           const char *dir, struct mount_layer *ml, lzs_error **err)
{
    int rc = lzs_mount_stream_start(&ml->stream, img, i, c, o->whole_dir, err);
    if (rc < 0)
        return rc;
    struct lzs_fusefs_tree tree;
    struct lzs_fusefs_source src;
    struct lzs_fusefs_opts fo;
    char fsname[64];
    lzs_stream_tree_fusefs(lzs_mount_stream_tree(ml->stream), &tree, &src);
    fusefs_opts(ml, o, fsname, &fo);
    return lzs_fusefs_mount_tree(&ml->fs, dir, &tree, &src, &fo, err);
}

/* Serve layer i of img through c at dir, an existing directory. */
static int serve_layer(lzs_image *img, size_t i, lzs_cache *c, const struct lzs_mount_opts *o,
                       const char *dir, struct mount_layer *ml, lzs_error **err)
{
    lzs_cleanup(lzs_index_unrefp) lzs_index *idx = NULL;
    lzs_cleanup(lzs_blob_unrefp) lzs_blob *blob = NULL;
    bool stream = o->stream_whole && lzs_image_layer(img, i)->source == LZS_IMAGE_SRC_NONE &&
                  lzs_image_whole_needs_fetch(img, i, o->whole_dir);
    if (stream) {
        ml->digest = lzs_image_layer(img, i)->desc.digest;
        return serve_streaming(img, i, c, o, dir, ml, err);
    }
    int rc = layer_source(img, i, o, ml, &idx, &blob, err);
    if (rc < 0)
        return rc;
    /* a layer fetched whole is local already: decoding it into the cache needs no rate cap */
    struct lzs_layer_opts lo = o->layer;
    if (!ml->indexed)
        lo.background_rate = 0;
    rc = lzs_layer_open(&ml->layer, idx, blob, c, &lo, err);
    if (rc < 0)
        return rc;
    char fsname[64];
    struct lzs_fusefs_opts fo;
    fusefs_opts(ml, o, fsname, &fo);
    struct lzs_fusefs_source src;
    lzs_fusefs_source_lazy(ml->layer, &src);
    return lzs_fusefs_mount(&ml->fs, dir, idx, &src, &fo, err);
}

static void mount_layer_dispose(struct mount_layer *ml)
{
    lzs_mount_stream_cancel(ml->stream); /* lookups waiting for it end, and the unmount with them */
    lzs_fusefs_unmount(ml->fs);
    lzs_mount_stream_free(ml->stream);
    lzs_layer_close(ml->layer);
    if (ml->dir)
        rmdir(ml->dir);
    free(ml->dir);
    memset(ml, 0, sizeof(*ml));
}

/* Layer i at WORK/i. */
static int mount_layer(lzs_image *img, size_t i, lzs_cache *c, const struct lzs_mount_opts *o,
                       struct mount_layer *ml, lzs_error **err)
{
    if (asprintf(&ml->dir, "%s/%zu", o->work_dir, i) < 0) {
        ml->dir = NULL;
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    if (mkdir(ml->dir, 0700) < 0 && errno != EEXIST)
        return lzs_error_set_sys(err, errno, "mkdir %s", ml->dir);
    return serve_layer(img, i, c, o, ml->dir, ml, err);
}

/* The kernel takes one page of mount options. */
#define OVERLAY_OPTIONS_MAX 4095

/* "lowerdir=N-1:...:1:0": the layer directories by their names in the work directory, which
 * keeps the options short (and free of the characters overlayfs treats specially). */
static int lower_option(const lzs_mount *m, struct lzs_buf *opt, lzs_error **err)
{
    int rc = lzs_buf_append_str(opt, "lowerdir=", err);
    for (size_t k = 0; rc == 0 && k < m->n; k++) /* overlayfs wants the uppermost first */
        rc = lzs_buf_printf(opt, err, "%s%zu", k ? ":" : "", m->n - 1 - k);
    if (rc == 0 && opt->len > OVERLAY_OPTIONS_MAX)
        rc =
            lzs_error_set(err, E2BIG, "%zu layers are more than one overlay mount can stack", m->n);
    return rc;
}

/* Mount the overlay from within the work directory, where the layer names resolve. */
static int mount_overlay(lzs_mount *m, const char *work_dir, const char *opt, lzs_error **err)
{
    lzs_autoclose int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        return lzs_error_set_sys(err, errno, "open the working directory");
    if (chdir(work_dir) < 0)
        return lzs_error_set_sys(err, errno, "chdir %s", work_dir);
    int rc = 0;
    if (mount("overlay", m->target, "overlay", MS_RDONLY, opt) < 0)
        rc = lzs_error_set_sys(err, errno, "mount overlay of %zu layers on %s", m->n, m->target);
    if (fchdir(cwd) < 0) {
        char buf[128];
        LZS_WARN("return to the working directory: %s", lzs_strerror(errno, buf, sizeof(buf)));
    }
    return rc;
}

static int merge(lzs_mount *m, const char *work_dir, lzs_error **err)
{
    if (m->n == 1) {
        if (mount(m->layers[0].dir, m->target, NULL, MS_BIND, NULL) < 0)
            return lzs_error_set_sys(err, errno, "bind %s on %s", m->layers[0].dir, m->target);
        m->merged = true;
        if (mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
            return lzs_error_set_sys(err, errno, "make %s read-only", m->target);
        return 0;
    }
    struct lzs_buf opt = LZS_BUF_INIT(OVERLAY_OPTIONS_MAX + 64);
    int rc = lower_option(m, &opt, err);
    if (rc == 0)
        rc = mount_overlay(m, work_dir, lzs_buf_cstr(&opt), err);
    m->merged = rc == 0;
    lzs_buf_dispose(&opt);
    return rc;
}

/* Remember the device of the merged mount, by which lzs_mount_free knows it. */
static int note_device(lzs_mount *m, lzs_error **err)
{
    struct stat st;
    if (stat(m->target, &st) < 0)
        return lzs_error_set_sys(err, errno, "stat %s", m->target);
    m->dev = st.st_dev;
    return 0;
}

int lzs_mount_new(lzs_mount **out, lzs_image *img, lzs_cache *c, const char *target,
                  const struct lzs_mount_opts *opts, lzs_error **err)
{
    lzs_cleanup(lzs_mount_freep) lzs_mount *m = calloc(1, sizeof(*m));
    if (!m)
        return lzs_error_set(err, ENOMEM, "out of memory");
    m->n = lzs_image_layer_count(img);
    m->target = strdup(target);
    m->image = strdup(lzs_image_name(img));
    m->layers = lzs_calloc_array(m->n ? m->n : 1, sizeof(*m->layers));
    if (!m->target || !m->image || !m->layers)
        return lzs_error_set(err, ENOMEM, "out of memory");
    if (m->n == 0)
        return lzs_error_set(err, EINVAL, "%s has no layers", m->image);
    for (size_t i = 0; i < m->n; i++) {
        int rc = mount_layer(img, i, c, opts, &m->layers[i], err);
        if (rc < 0)
            return lzs_error_wrap(err, "layer %zu", i);
    }
    int rc = merge(m, opts->work_dir, err);
    if (rc == 0)
        rc = note_device(m, err);
    if (rc < 0)
        return rc;
    *out = lzs_steal_ptr(&m);
    return 0;
}

void lzs_mount_free(lzs_mount *m)
{
    if (!m)
        return;
    /* unmount target only while it is still ours (`lazysnap umount` may have done it); dev 0:
     * set up only partly, certainly ours */
    struct stat st;
    if (m->merged && (m->dev == 0 || (stat(m->target, &st) == 0 && st.st_dev == m->dev)) &&
        umount2(m->target, 0) < 0 && errno != EINVAL) { /* EINVAL: detached */
        char buf[128];
        LZS_WARN("unmount %s: %s; detaching it", m->target, lzs_strerror(errno, buf, sizeof(buf)));
        umount2(m->target, MNT_DETACH);
    }
    for (size_t i = m->n; m->layers && i-- > 0;)
        mount_layer_dispose(&m->layers[i]);
    free(m->layers);
    free(m->image);
    free(m->target);
    free(m);
}

size_t lzs_mount_layer_count(const lzs_mount *m)
{
    return m->n;
}

/* A streamed layer's stats: what has arrived is local (its size is known at the end). */
static void stream_info(struct mount_stream *s, struct lzs_mount_layer_info *out)
{
    struct lzs_stream_stats st;
    lzs_stream_tree_stats(lzs_mount_stream_tree(s), &st);
    lzs_mount_stream_bytes(s, &out->stats.fetched, &out->stats.compressed_size);
    out->stats.size = out->stats.present = st.decoded;
    out->stats.requests = 1;
    out->stats.complete = st.state == 1;
    out->stream = st.state == 1   ? LZS_MOUNT_STREAMED
                  : st.state == 0 ? LZS_MOUNT_STREAMING
                                  : LZS_MOUNT_STREAM_FAILED;
}

static void layer_info(struct mount_layer *ml, struct lzs_mount_layer_info *out)
{
    *out = (struct lzs_mount_layer_info){.digest = ml->digest, .indexed = ml->indexed};
    if (ml->stream)
        stream_info(ml->stream, out);
    else
        lzs_layer_stats(ml->layer, &out->stats);
    out->read_errors = lzs_fusefs_read_errors(ml->fs);
}

void lzs_mount_layer_info(lzs_mount *m, size_t i, struct lzs_mount_layer_info *out)
{
    layer_info(&m->layers[i], out);
}

int lzs_mount_sync(lzs_mount *m, lzs_error **err)
{
    for (size_t i = 0; i < m->n; i++) {
        int rc = m->layers[i].layer ? lzs_layer_sync(m->layers[i].layer, err) : 0;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lzs_mount_stats_json(lzs_mount *m, struct lzs_buf *out, lzs_error **err)
{
    int rc = lzs_buf_append_str(out, "{\"target\":", err);
    if (rc == 0)
        rc = lzs_buf_append_json_str(out, m->target, strlen(m->target), err);
    if (rc == 0)
        rc = lzs_buf_append_str(out, ",\"image\":", err);
    if (rc == 0)
        rc = lzs_buf_append_json_str(out, m->image, strlen(m->image), err);
    if (rc == 0)
        rc = lzs_buf_append_str(out, ",\"layers\":[", err);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        struct lzs_mount_layer_info li;
        lzs_mount_layer_info(m, i, &li);
        char ds[LZS_DIGEST_STR_MAX];
        const struct lzs_layer_stats *s = &li.stats;
        rc = lzs_buf_printf(
            out, err,
            "%s{\"digest\":\"%s\",\"indexed\":%s,\"size\":%" PRIu64 ",\"compressed_size\":%" PRIu64
            ",\"present\":%" PRIu64 ",\"fetched\":%" PRIu64 ",\"requests\":%" PRIu64
            ",\"verify_failures\":%" PRIu64 ",\"read_errors\":%" PRIu64
            ",\"complete\":%s,\"stream\":\"%s\"}",
            i ? "," : "", lzs_digest_format(&li.digest, ds), li.indexed ? "true" : "false", s->size,
            s->compressed_size, s->present, s->fetched, s->requests, s->verify_failures,
            li.read_errors, s->complete ? "true" : "false", lzs_mount_stream_name(li.stream));
    }
    if (rc == 0)
        rc = lzs_buf_append_str(out, "]}\n", err);
    return rc;
}

/* ---- one layer (lazysnapd) ------------------------------------------------------------------ */

struct lzs_layer_mount {
    struct mount_layer ml;
};

int lzs_layer_mount_new(lzs_layer_mount **out, lzs_image *img, size_t i, lzs_cache *c,
                        const char *dir, const struct lzs_mount_opts *opts, lzs_error **err)
{
    lzs_layer_mount *lm = calloc(1, sizeof(*lm));
    if (!lm)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct lzs_mount_opts o = *opts;
    o.stream_whole = false; /* lzs_layer_mount_index needs the index from the start */
    int rc = serve_layer(img, i, c, &o, dir, &lm->ml, err);
    if (rc < 0) {
        lzs_layer_mount_free(lm);
        return rc;
    }
    *out = lm;
    return 0;
}

void lzs_layer_mount_free(lzs_layer_mount *lm)
{
    if (!lm)
        return;
    mount_layer_dispose(&lm->ml); /* ml.dir is NULL: the directory is the caller's */
    free(lm);
}

lzs_index *lzs_layer_mount_index(lzs_layer_mount *lm)
{
    return lzs_layer_index(lm->ml.layer);
}
