/* Unit tests for proto/: what protobuf-c encodes from our .proto files is byte for byte what
 * Google's own encoder (libprotoc, run as `protoc-c --encode`) makes of the same message, and
 * what that encoder writes decodes back, so the wire is containerd's. */
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SNAP "containerd.services.snapshots.v1."
/* protobuf-c's structs take char *: string literals, which are never written through them */
#define S(lit) ((char *)(uintptr_t)(lit))

/* Google's encoding of the text-format message text of type SNAP+type, into *len bytes. */
static uint8_t *reference(const char *type, const char *text, size_t *len)
{
    char in[4096], out[4096], cmd[16384];
    snprintf(in, sizeof(in), "%s", lzs_test_path("msg.txt"));
    snprintf(out, sizeof(out), "%s", lzs_test_path("msg.bin"));
    lzs_test_write_file(in, text, strlen(text));
    snprintf(cmd, sizeof(cmd),
             "%s --encode=" SNAP "%s -I%s -I%s containerd/services/snapshots/v1/snapshots.proto "
             "<%s >%s",
             LZS_PROTOC_C, type, LZS_PROTO_DIR, LZS_WKT_DIR, in, out);
    if (system(cmd) != 0)
        FAIL("command failed: %s", cmd);
    FILE *f = fopen(out, "rb");
    ASSERT(f);
    uint8_t *buf = malloc(1 << 16);
    ASSERT(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* m packed by protobuf-c equals Google's encoding of text. */
static void same_bytes(const ProtobufCMessage *m, const char *type, const char *text)
{
    size_t want_len, n = protobuf_c_message_get_packed_size(m);
    uint8_t *want = reference(type, text, &want_len);
    uint8_t *got = malloc(n ? n : 1);
    ASSERT(got);
    ASSERT_EQ(protobuf_c_message_pack(m, got), n);
    ASSERT_EQ(n, want_len);
    ASSERT_MEM_EQ(got, want, n);
    free(got);
    free(want);
}

static Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry label(char *k,
                                                                                      char *v)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry e =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__LABELS_ENTRY__INIT;
    e.key = k;
    e.value = v;
    return e;
}

LZS_TEST(test_proto__prepare_request_encodes_as_googles)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest r =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry e =
        label(S("containerd.io/snapshot.ref"), S("sha256:0123abcd"));
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry *labels[] = {&e};
    r.snapshotter = S("lazysnap");
    r.key = S("default/12/extract-123 sha256:0123abcd");
    r.parent = S("sha256:fedc");
    r.n_labels = 1;
    r.labels = labels;
    same_bytes(&r.base, "PrepareSnapshotRequest",
               "snapshotter: \"lazysnap\" key: \"default/12/extract-123 sha256:0123abcd\" "
               "parent: \"sha256:fedc\" "
               "labels { key: \"containerd.io/snapshot.ref\" value: \"sha256:0123abcd\" }");
}

LZS_TEST(test_proto__stat_response_with_timestamps_and_kind)
{
    Google__Protobuf__Timestamp created = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Timestamp updated = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    created.seconds = 1764633600;
    created.nanos = 123456789;
    updated.seconds = 1764633601;
    Containerd__Services__Snapshots__V1__Info__LabelsEntry e =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__LABELS_ENTRY__INIT;
    e.key = S("containerd.io/snapshot/remote");
    e.value = S("lazysnap");
    Containerd__Services__Snapshots__V1__Info__LabelsEntry *labels[] = {&e};
    Containerd__Services__Snapshots__V1__Info info =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    info.name = S("sha256:chain");
    info.parent = S("sha256:parent");
    info.kind = CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED;
    info.created_at = &created;
    info.updated_at = &updated;
    info.n_labels = 1;
    info.labels = labels;
    Containerd__Services__Snapshots__V1__StatSnapshotResponse r =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
    r.info = &info;
    same_bytes(&r.base, "StatSnapshotResponse",
               "info { name: \"sha256:chain\" parent: \"sha256:parent\" kind: COMMITTED "
               "created_at { seconds: 1764633600 nanos: 123456789 } "
               "updated_at { seconds: 1764633601 } "
               "labels { key: \"containerd.io/snapshot/remote\" value: \"lazysnap\" } }");
    /* containerd always writes info and both timestamps, empty ones included */
    created = (Google__Protobuf__Timestamp)GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    updated = created;
    info =
        (Containerd__Services__Snapshots__V1__Info)CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    info.created_at = &created;
    info.updated_at = &updated;
    same_bytes(&r.base, "StatSnapshotResponse", "info { created_at { } updated_at { } }");
}

LZS_TEST(test_proto__mounts_and_usage_responses)
{
    char *opts0[] = {S("ro"), S("lowerdir=/l/2:/l/1")};
    Containerd__Types__Mount m0 = CONTAINERD__TYPES__MOUNT__INIT,
                             m1 = CONTAINERD__TYPES__MOUNT__INIT;
    m0.type = S("overlay");
    m0.source = S("overlay");
    m0.n_options = 2;
    m0.options = opts0;
    m1.type = S("bind");
    m1.source = S("/var/lib/lazysnap/snapshots/7/fs");
    m1.target = S("sub");
    Containerd__Types__Mount *mounts[] = {&m0, &m1};
    Containerd__Services__Snapshots__V1__MountsResponse r =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_RESPONSE__INIT;
    r.n_mounts = 2;
    r.mounts = mounts;
    same_bytes(&r.base, "MountsResponse",
               "mounts { type: \"overlay\" source: \"overlay\" options: \"ro\" "
               "options: \"lowerdir=/l/2:/l/1\" } "
               "mounts { type: \"bind\" source: \"/var/lib/lazysnap/snapshots/7/fs\" "
               "target: \"sub\" }");
    Containerd__Services__Snapshots__V1__UsageResponse u =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_RESPONSE__INIT;
    u.size = (int64_t)5 << 40;
    u.inodes = 20001;
    same_bytes(&u.base, "UsageResponse", "size: 5497558138880 inodes: 20001");
}

LZS_TEST(test_proto__googles_update_request_decodes)
{
    size_t n;
    uint8_t *bin = reference("UpdateSnapshotRequest",
                             "snapshotter: \"lazysnap\" info { name: \"k\" labels { key: \"a\" "
                             "value: \"1\" } labels { key: \"b\" value: \"\" } } "
                             "update_mask { paths: \"labels.a\" paths: \"labels.b\" }",
                             &n);
    /* a field this side does not know (15, varint) is skipped */
    bin[n++] = 15 << 3;
    bin[n++] = 1;
    Containerd__Services__Snapshots__V1__UpdateSnapshotRequest *r =
        containerd__services__snapshots__v1__update_snapshot_request__unpack(NULL, n, bin);
    ASSERT(r);
    ASSERT_STR_EQ(r->snapshotter, "lazysnap");
    ASSERT(r->info);
    ASSERT_STR_EQ(r->info->name, "k");
    ASSERT_EQ(r->info->n_labels, 2);
    ASSERT_STR_EQ(r->info->labels[0]->key, "a");
    ASSERT_STR_EQ(r->info->labels[1]->value, "");
    ASSERT(r->update_mask);
    ASSERT_EQ(r->update_mask->n_paths, 2);
    ASSERT_STR_EQ(r->update_mask->paths[1], "labels.b");
    containerd__services__snapshots__v1__update_snapshot_request__free_unpacked(r, NULL);
    /* a truncated message is refused, not half-read */
    ASSERT(!containerd__services__snapshots__v1__update_snapshot_request__unpack(NULL, n - 4, bin));
    free(bin);
}
