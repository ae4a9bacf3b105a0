/* The methods of containerd.services.snapshots.v1.Snapshots: decode the request, call the
 * snapshotter, encode the reply. */
#include "rpc_i.h"

#include <containerd/services/snapshots/v1/snapshots.pb-c.h>

#include <string.h>

#define LIST_BATCH 100 /* infos per List message, as containerd's own server sends them */

typedef Containerd__Services__Snapshots__V1__Info Info;
typedef Containerd__Services__Snapshots__V1__Info__LabelsEntry InfoLabel;
typedef Containerd__Types__Mount Mount;
typedef Google__Protobuf__Timestamp Timestamp;

/* A proto map's entries as lzs_snap_labels (borrowing their strings). Every map entry type of
 * the API has the same layout (base, key, value). */
struct labels {
    struct lzs_snap_label *v;
    size_t n;
};

static int labels_from(struct labels *out, InfoLabel *const *entries, size_t n, lzs_error **err)
{
    out->n = 0;
    out->v = lzs_calloc_array(n ? n : 1, sizeof(*out->v));
    if (!out->v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        out->v[out->n++] = (struct lzs_snap_label){entries[i]->key, entries[i]->value};
    return 0;
}

#define UNPACK(type, fn, req, n, err) \
    type *r = fn(NULL, n, req);       \
    if (!r)                           \
        return lzs_error_set(err, EINVAL, "malformed " #type);

/* ---- replies -------------------------------------------------------------------------------- */

static void mounts_free(Mount **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The snapshotter's mounts as protobuf-c Mounts (borrowing strings from m). */
static Mount **mounts_to(const struct lzs_snap_mounts *m)
{
    Mount **v = lzs_calloc_array(m->n ? m->n : 1, sizeof(*v));
    for (size_t i = 0; v && i < m->n; i++) {
        if (!(v[i] = malloc(sizeof(**v)))) {
            mounts_free(v, i);
            return NULL;
        }
        *v[i] = (Mount)CONTAINERD__TYPES__MOUNT__INIT;
        v[i]->type = m->v[i].type;
        v[i]->source = m->v[i].source;
        v[i]->n_options = m->v[i].n_options;
        v[i]->options = m->v[i].options;
    }
    return v;
}

/* Reply with a message whose first field after base is mounts (Prepare, View, Mounts). */
static int reply_mounts(struct rpc_call *c, const struct lzs_snap_mounts *m, lzs_error **err)
{
    Containerd__Services__Snapshots__V1__MountsResponse r =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_RESPONSE__INIT;
    Mount **v = mounts_to(m);
    if (!v)
        return lzs_error_set(err, ENOMEM, "out of memory");
    r.n_mounts = m->n;
    r.mounts = v;
    int rc = rpc_reply(c, &r.base, err); /* same wire as Prepare/View responses: field 1 */
    mounts_free(v, m->n);
    return rc;
}

/* An Info for i, borrowing its strings; timestamps and labels in storage the caller frees with
 * info_free. */
struct info_box {
    Info info;
    Timestamp created, updated;
    InfoLabel *labels;
    InfoLabel **label_ptrs;
};

static int info_to(struct info_box *b, const struct lzs_snap_info *i, lzs_error **err)
{
    b->info = (Info)CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    b->created = (Timestamp)GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    b->updated = b->created;
    b->created.seconds = i->created_ns / 1000000000;
    b->created.nanos = (int32_t)(i->created_ns % 1000000000);
    b->updated.seconds = i->updated_ns / 1000000000;
    b->updated.nanos = (int32_t)(i->updated_ns % 1000000000);
    b->labels = lzs_calloc_array(i->n_labels ? i->n_labels : 1, sizeof(*b->labels));
    b->label_ptrs = lzs_calloc_array(i->n_labels ? i->n_labels : 1, sizeof(*b->label_ptrs));
    if (!b->labels || !b->label_ptrs)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t k = 0; k < i->n_labels; k++) {
        b->labels[k] = (InfoLabel)CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__LABELS_ENTRY__INIT;
        b->labels[k].key = i->labels[k].name;
        b->labels[k].value = i->labels[k].value;
        b->label_ptrs[k] = &b->labels[k];
    }
    b->info.name = i->key;
    b->info.parent = i->parent;
    b->info.kind = (Containerd__Services__Snapshots__V1__Kind)i->kind;
    b->info.created_at = &b->created; /* always written, as containerd does */
    b->info.updated_at = &b->updated;
    b->info.n_labels = i->n_labels;
    b->info.labels = b->label_ptrs;
    return 0;
}

static void info_free(struct info_box *b)
{
    free(b->labels);
    free(b->label_ptrs);
}

/* Reply with a message whose only field is info (Stat, Update responses). */
static int reply_info(struct rpc_call *c, const struct lzs_snap_info *i, lzs_error **err)
{
    struct info_box b = {0};
    Containerd__Services__Snapshots__V1__StatSnapshotResponse r =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
    int rc = info_to(&b, i, err);
    r.info = &b.info;
    if (rc == 0)
        rc = rpc_reply(c, &r.base, err);
    info_free(&b);
    return rc;
}

static int reply_empty(struct rpc_call *c, lzs_error **err)
{
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_reply(c, &e.base, err);
}

/* ---- methods -------------------------------------------------------------------------------- */

/* Prepare and View: the same request layout. */
static int create(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n, bool view,
                  lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__PrepareSnapshotRequest,
           containerd__services__snapshots__v1__prepare_snapshot_request__unpack, req, n, err);
    struct labels l = {0};
    struct lzs_snap_mounts m = {0};
    int rc = labels_from(&l, (InfoLabel *const *)r->labels, r->n_labels, err);
    if (rc == 0)
        rc = (view ? lzs_snapshotter_view : lzs_snapshotter_prepare)(sn, r->key, r->parent, l.v,
                                                                     l.n, &m, err);
    if (rc == 0)
        rc = reply_mounts(c, &m, err);
    lzs_snap_mounts_dispose(&m);
    free(l.v);
    containerd__services__snapshots__v1__prepare_snapshot_request__free_unpacked(r, NULL);
    return rc;
}

static int prepare(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                   lzs_error **err)
{
    return create(sn, c, req, n, false, err);
}

static int view(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                lzs_error **err)
{
    return create(sn, c, req, n, true, err);
}

static int mounts(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                  lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__MountsRequest,
           containerd__services__snapshots__v1__mounts_request__unpack, req, n, err);
    struct lzs_snap_mounts m = {0};
    int rc = lzs_snapshotter_mounts(sn, r->key, &m, err);
    if (rc == 0)
        rc = reply_mounts(c, &m, err);
    lzs_snap_mounts_dispose(&m);
    containerd__services__snapshots__v1__mounts_request__free_unpacked(r, NULL);
    return rc;
}

static int commit(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                  lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__CommitSnapshotRequest,
           containerd__services__snapshots__v1__commit_snapshot_request__unpack, req, n, err);
    struct labels l = {0};
    int rc = labels_from(&l, (InfoLabel *const *)r->labels, r->n_labels, err);
    if (rc == 0)
        rc = lzs_snapshotter_commit(sn, r->name, r->key, l.v, l.n, err);
    if (rc == 0)
        rc = reply_empty(c, err);
    free(l.v);
    containerd__services__snapshots__v1__commit_snapshot_request__free_unpacked(r, NULL);
    return rc;
}

static int remove_(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                   lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__RemoveSnapshotRequest,
           containerd__services__snapshots__v1__remove_snapshot_request__unpack, req, n, err);
    int rc = lzs_snapshotter_remove(sn, r->key, err);
    if (rc == 0)
        rc = reply_empty(c, err);
    containerd__services__snapshots__v1__remove_snapshot_request__free_unpacked(r, NULL);
    return rc;
}

static int stat_(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                 lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__StatSnapshotRequest,
           containerd__services__snapshots__v1__stat_snapshot_request__unpack, req, n, err);
    struct lzs_snap_info i = {0};
    int rc = lzs_snapstore_stat(lzs_snapshotter_store(sn), r->key, &i, err);
    if (rc == 0)
        rc = reply_info(c, &i, err);
    lzs_snap_info_dispose(&i);
    containerd__services__snapshots__v1__stat_snapshot_request__free_unpacked(r, NULL);
    return rc;
}

static int update(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                  lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__UpdateSnapshotRequest,
           containerd__services__snapshots__v1__update_snapshot_request__unpack, req, n, err);
    struct labels l = {0};
    struct lzs_snap_info in = {0}, out = {0};
    int rc = r->info ? 0 : lzs_error_set(err, EINVAL, "update: no info");
    if (rc == 0)
        rc = labels_from(&l, r->info->labels, r->info->n_labels, err);
    if (rc == 0) {
        in.key = r->info->name;
        in.labels = l.v;
        in.n_labels = l.n;
        rc =
            lzs_snapstore_update(lzs_snapshotter_store(sn), &in,
                                 r->update_mask ? (const char *const *)r->update_mask->paths : NULL,
                                 r->update_mask ? r->update_mask->n_paths : 0, &out, err);
    }
    if (rc == 0)
        rc = reply_info(c, &out, err);
    lzs_snap_info_dispose(&out);
    free(l.v);
    containerd__services__snapshots__v1__update_snapshot_request__free_unpacked(r, NULL);
    return rc;
}

static int usage(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                 lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__UsageRequest,
           containerd__services__snapshots__v1__usage_request__unpack, req, n, err);
    Containerd__Services__Snapshots__V1__UsageResponse u =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_RESPONSE__INIT;
    int rc = lzs_snapshotter_usage(sn, r->key, &u.size, &u.inodes, err);
    if (rc == 0)
        rc = rpc_reply(c, &u.base, err);
    containerd__services__snapshots__v1__usage_request__free_unpacked(r, NULL);
    return rc;
}

static int cleanup(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                   lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__CleanupRequest,
           containerd__services__snapshots__v1__cleanup_request__unpack, req, n, err);
    containerd__services__snapshots__v1__cleanup_request__free_unpacked(r, NULL);
    size_t removed;
    int rc = lzs_snapshotter_cleanup(sn, &removed, err);
    if (rc == 0 && removed)
        LZS_INFO("cleanup: removed %zu directories no snapshot names", removed);
    return rc == 0 ? reply_empty(c, err) : rc;
}

/* List: the keys that match, collected in the store's walk, then their records sent
 * LIST_BATCH per message (the store is not held while the client reads). */
struct keys {
    const rpc_filter *f;
    char **v;
    size_t n;
};

static int match_key(const struct lzs_snap_info *i, void *data)
{
    struct keys *k = data;
    if (!rpc_filter_match(k->f, i))
        return 0;
    char **v = lzs_realloc_array(k->v, k->n + 1, sizeof(*v));
    if (!v || !(v[k->n] = strdup(i->key))) {
        if (v)
            k->v = v;
        return -ENOMEM;
    }
    k->v = v;
    k->n++;
    return 0;
}

static int send_batch(struct rpc_call *c, struct lzs_snap_info *infos, size_t n, lzs_error **err)
{
    struct info_box box[LIST_BATCH];
    Info *v[LIST_BATCH];
    size_t made = 0;
    int rc = 0;
    for (; rc == 0 && made < n; made++) {
        rc = info_to(&box[made], &infos[made], err);
        v[made] = &box[made].info;
    }
    Containerd__Services__Snapshots__V1__ListSnapshotsResponse r =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_RESPONSE__INIT;
    r.n_info = n;
    r.info = v;
    if (rc == 0)
        rc = rpc_reply(c, &r.base, err);
    for (size_t i = 0; i < made; i++)
        info_free(&box[i]);
    return rc;
}

static void dispose_all(struct lzs_snap_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lzs_snap_info_dispose(&v[i]);
}

static int send_keys(lzs_snapshotter *sn, struct rpc_call *c, const struct keys *k, lzs_error **err)
{
    struct lzs_snap_info batch[LIST_BATCH];
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < k->n; i++) {
        int r = lzs_snapstore_stat(lzs_snapshotter_store(sn), k->v[i], &batch[n], NULL);
        if (r == -ENOENT) /* removed meanwhile */
            continue;
        if (r < 0) {
            rc = lzs_error_set(err, EIO, "list: the record of %s cannot be read", k->v[i]);
        } else if (++n == LIST_BATCH) {
            rc = send_batch(c, batch, n, err);
            dispose_all(batch, n);
            n = 0;
        }
    }
    if (rc == 0 && n)
        rc = send_batch(c, batch, n, err);
    dispose_all(batch, n);
    return rc;
}

static int list(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                lzs_error **err)
{
    UNPACK(Containerd__Services__Snapshots__V1__ListSnapshotsRequest,
           containerd__services__snapshots__v1__list_snapshots_request__unpack, req, n, err);
    rpc_filter *f = NULL;
    struct keys k = {0};
    int rc = rpc_filter_parse(&f, r->filters, r->n_filters, err);
    if (rc == 0) {
        k.f = f;
        rc = lzs_snapstore_walk(lzs_snapshotter_store(sn), match_key, &k, err);
        if (rc == -ENOMEM)
            rc = lzs_error_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = send_keys(sn, c, &k, err);
    for (size_t i = 0; i < k.n; i++)
        free(k.v[i]);
    free(k.v);
    rpc_filter_free(f);
    containerd__services__snapshots__v1__list_snapshots_request__free_unpacked(r, NULL);
    return rc;
}

static const struct {
    const char *name;
    rpc_handler fn;
} methods[] = {
    {"Prepare", prepare}, {"View", view},       {"Mounts", mounts}, {"Commit", commit},
    {"Remove", remove_},  {"Stat", stat_},      {"Update", update}, {"List", list},
    {"Usage", usage},     {"Cleanup", cleanup},
};

rpc_handler rpc_snapshots_handler(const char *method, size_t len)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(methods); i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, method, len) == 0)
            return methods[i].fn;
    return NULL;
}
