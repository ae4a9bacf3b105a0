/* oci: deterministic JSON for manifests and indexes: compact, keys in the image-spec Go structs'
 * order, annotations sorted by key, so the same struct always hashes to the same digest. */
#include "oci_i.h"

#include <stdio.h>
#include <string.h>

/* A writer with a sticky error: after the first failure every call is a no-op. */
struct jw {
    struct lzs_buf *b;
    lzs_error **err;
    int rc;
    bool comma; /* the current object or array already has a member */
};

static void raw(struct jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = lzs_buf_append_str(w->b, s, w->err);
}

static void str(struct jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = lzs_buf_append_json_str(w->b, s, strlen(s), w->err);
}

static void open_c(struct jw *w, const char *c)
{
    raw(w, c);
    w->comma = false;
}

static void close_c(struct jw *w, const char *c)
{
    raw(w, c);
    w->comma = true;
}

static void key(struct jw *w, const char *k)
{
    raw(w, w->comma ? "," : "");
    str(w, k);
    raw(w, ":");
    w->comma = false;
}

static void item(struct jw *w)
{
    raw(w, w->comma ? "," : "");
}

static void kv_str(struct jw *w, const char *k, const char *v)
{
    if (!v)
        return;
    key(w, k);
    str(w, v);
    w->comma = true;
}

static void kv_u64(struct jw *w, const char *k, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    key(w, k);
    raw(w, num);
    w->comma = true;
}

static int fail(struct jw *w, const char *fmt, const char *what)
{
    if (w->rc == 0)
        w->rc = lzs_error_set(w->err, EINVAL, "cannot write %s: %s", what, fmt);
    return w->rc;
}

static int by_key(const void *a, const void *b)
{
    const struct lzs_oci_annotation *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

static void annotations(struct jw *w, const struct lzs_oci_annotation *a, size_t n)
{
    if (n == 0 || w->rc)
        return;
    if (n > LZS_OCI_ENTRIES_MAX) {
        fail(w, "more than 10000 annotations", "annotations");
        return;
    }
    const struct lzs_oci_annotation **s = lzs_calloc_array(n, sizeof(*s));
    if (!s) {
        w->rc = lzs_error_set(w->err, ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = &a[i];
    qsort(s, n, sizeof(*s), by_key);
    key(w, "annotations");
    open_c(w, "{");
    for (size_t i = 0; i < n; i++) {
        if (!s[i]->key || !s[i]->value || (i > 0 && strcmp(s[i - 1]->key, s[i]->key) == 0))
            fail(w, "a missing or duplicate key", "annotations");
        else
            kv_str(w, s[i]->key, s[i]->value);
    }
    close_c(w, "}");
    free(s);
}

static void strings(struct jw *w, const char *k, char *const *v, size_t n)
{
    if (n == 0)
        return;
    if (n > LZS_OCI_ENTRIES_MAX)
        fail(w, "too many entries", k);
    key(w, k);
    open_c(w, "[");
    for (size_t i = 0; i < n; i++) {
        item(w);
        str(w, v[i] ? v[i] : "");
        w->comma = true;
    }
    close_c(w, "]");
}

static void platform(struct jw *w, const struct lzs_oci_platform *p)
{
    key(w, "platform");
    open_c(w, "{");
    kv_str(w, "architecture", p->architecture);
    kv_str(w, "os", p->os);
    if (p->os_version[0])
        kv_str(w, "os.version", p->os_version);
    strings(w, "os.features", p->os_features, p->n_os_features);
    if (p->variant[0])
        kv_str(w, "variant", p->variant);
    close_c(w, "}");
}

static void descriptor(struct jw *w, const char *k, const struct lzs_oci_descriptor *d)
{
    char dg[LZS_DIGEST_STR_MAX];
    if (!d->media_type)
        fail(w, "no media type", "descriptor");
    if (d->size > LZS_OCI_SIZE_MAX)
        fail(w, "size larger than 2^53", "descriptor");
    if (d->digest.algo != LZS_DIGEST_SHA256 && d->digest.algo != LZS_DIGEST_SHA512)
        fail(w, "no digest", "descriptor");
    if (w->rc)
        return;
    if (k)
        key(w, k);
    open_c(w, "{");
    kv_str(w, "mediaType", d->media_type);
    kv_str(w, "digest", lzs_digest_format(&d->digest, dg));
    kv_u64(w, "size", d->size);
    strings(w, "urls", d->urls, d->n_urls);
    annotations(w, d->annotations, d->n_annotations);
    if (d->has_platform)
        platform(w, &d->platform);
    kv_str(w, "artifactType", d->artifact_type);
    close_c(w, "}");
}

static void descriptors(struct jw *w, const char *k, const struct lzs_oci_descriptor *d, size_t n)
{
    if (n > LZS_OCI_ENTRIES_MAX)
        fail(w, "more than 10000 entries", k);
    key(w, k);
    open_c(w, "[");
    for (size_t i = 0; i < n && w->rc == 0; i++) {
        item(w);
        descriptor(w, NULL, &d[i]);
    }
    close_c(w, "]");
}

int lzs_oci_manifest_write(const struct lzs_oci_manifest *m, struct lzs_buf *out, lzs_error **err)
{
    struct jw w = {.b = out, .err = err};
    open_c(&w, "{");
    kv_u64(&w, "schemaVersion", 2);
    kv_str(&w, "mediaType", m->media_type ? m->media_type : LZS_OCI_MT_MANIFEST);
    kv_str(&w, "artifactType", m->artifact_type);
    descriptor(&w, "config", &m->config);
    descriptors(&w, "layers", m->layers, m->n_layers);
    if (m->has_subject)
        descriptor(&w, "subject", &m->subject);
    annotations(&w, m->annotations, m->n_annotations);
    close_c(&w, "}");
    return w.rc;
}

int lzs_oci_index_write(const struct lzs_oci_index *idx, struct lzs_buf *out, lzs_error **err)
{
    struct jw w = {.b = out, .err = err};
    open_c(&w, "{");
    kv_u64(&w, "schemaVersion", 2);
    kv_str(&w, "mediaType", idx->media_type ? idx->media_type : LZS_OCI_MT_INDEX);
    kv_str(&w, "artifactType", idx->artifact_type);
    descriptors(&w, "manifests", idx->manifests, idx->n_manifests);
    if (idx->has_subject)
        descriptor(&w, "subject", &idx->subject);
    annotations(&w, idx->annotations, idx->n_annotations);
    close_c(&w, "}");
    return w.rc;
}
