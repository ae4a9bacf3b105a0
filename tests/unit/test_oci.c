/* Unit tests for lib/oci: references, media types, manifests and indexes, writing, platforms. */
#include "oci/oci.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEX_D "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DG_A "sha256:" HEX_A
#define DG_B "sha256:" HEX_B
#define DG_C "sha256:" HEX_C
#define DG_D "sha256:" HEX_D
#define X32 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define TAG128 X32 X32 X32 X32
#define B64 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- references ------------------------------------------------------------------------------ */

struct ref_case {
    const char *in;
    const char *full;     /* NULL: must fail */
    const char *familiar; /* or, for failures, a piece of the error message */
};

static const struct ref_case ref_cases[] = {
    {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"user/img", "docker.io/user/img:latest", "user/img:latest"},
    {"localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"},
    {"127.0.0.1:5000/repo@" DG_D, "127.0.0.1:5000/repo@" DG_D, "127.0.0.1:5000/repo@" DG_D},
    {"host.example.com/repo:tag@" DG_A, "host.example.com/repo:tag@" DG_A,
     "host.example.com/repo:tag@" DG_A},
    {"index.docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04"},
    {"index.docker.io/foo", "docker.io/library/foo:latest", "foo:latest"},
    {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
    {"docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
    {"localhost/foo", "localhost/foo:latest", "localhost/foo:latest"},
    {"localhost", "docker.io/library/localhost:latest", "localhost:latest"},
    {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"},
    {"ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3"},
    {"[::1]:5000/repo:tag", "[::1]:5000/repo:tag", "[::1]:5000/repo:tag"},
    {"Foo/bar", "Foo/bar:latest", "Foo/bar:latest"},
    {"UPPER/lower", "UPPER/lower:latest", "UPPER/lower:latest"},
    {"foo_bar/baz-qux.x", "docker.io/foo_bar/baz-qux.x:latest", "foo_bar/baz-qux.x:latest"},
    {"registry:5000/x", "registry:5000/x:latest", "registry:5000/x:latest"},
    {"busybox@" DG_A, "docker.io/library/busybox@" DG_A, "busybox@" DG_A},
    {"my-registry.local/a--b/c__d:_tag", "my-registry.local/a--b/c__d:_tag",
     "my-registry.local/a--b/c__d:_tag"},
    {"busybox:Latest_1.0-rc", "docker.io/library/busybox:Latest_1.0-rc", "busybox:Latest_1.0-rc"},
    {"busybox:" TAG128, "docker.io/library/busybox:" TAG128, "busybox:" TAG128},
    {"docker.io/foo.com/bar", "docker.io/foo.com/bar:latest", "docker.io/foo.com/bar:latest"},
    {"docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"},
    {"example.com:443/a/b/c/d/e:latest", "example.com:443/a/b/c/d/e:latest",
     "example.com:443/a/b/c/d/e:latest"},
    {"1.2.3.4/x", "1.2.3.4/x:latest", "1.2.3.4/x:latest"},
    {"repo@sha512:" HEX_A HEX_B, "docker.io/library/repo@sha512:" HEX_A HEX_B,
     "repo@sha512:" HEX_A HEX_B},
    /* invalid */
    {"", NULL, "invalid reference '': reference is empty"},
    {"Foo", NULL, "invalid reference 'Foo': repository name must be lowercase"},
    {"localhost:5000/Foo", NULL, "repository name must be lowercase"},
    {"busybox:", NULL, "invalid tag ''"},
    {":tag", NULL, "invalid path component ''"},
    {"busybox:-tag", NULL, "invalid tag '-tag'"},
    {"busybox:" TAG128 "x", NULL, "invalid tag"},
    {"foo:bar:baz", NULL, "invalid tag 'bar:baz'"},
    {"foo//bar", NULL, "invalid path component ''"},
    {"foo/bar/", NULL, "invalid path component ''"},
    {"-foo", NULL, "invalid path component '-foo'"},
    {"foo-/bar", NULL, "invalid path component 'foo-'"},
    {"foo/__bar", NULL, "invalid path component '__bar'"},
    {"foo/a._b", NULL, "invalid path component 'a._b'"},
    {"foo bar", NULL, "invalid path component 'foo bar'"},
    {"a.b-c_d__e/x", NULL, "invalid domain 'a.b-c_d__e'"},
    {"localhost:port/x", NULL, "invalid domain 'localhost:port'"},
    {"-host.com/x", NULL, "invalid domain '-host.com'"},
    {"[::1/foo", NULL, "invalid domain '[::1'"},
    {"host.com:/x", NULL, "invalid domain 'host.com:'"},
    {"busybox@sha256:abc", NULL, "invalid digest"},
    {"busybox@sha256:" HEX_A "A", NULL, "invalid digest"},
    {"busybox@md5:" X32, NULL, "unsupported algorithm"},
    {"foo@bar@baz", NULL, "invalid digest"},
    {HEX_D, NULL, "a 64-character hex string cannot be a repository name"},
    {"a/" B64 B64 B64 B64, NULL, "repository name longer than 255 characters"},
};

LZS_TEST(test_oci__ref_table)
{
    ASSERT(LZS_ARRAY_SIZE(ref_cases) >= 40);
    for (size_t i = 0; i < LZS_ARRAY_SIZE(ref_cases); i++) {
        const struct ref_case *c = &ref_cases[i];
        struct lzs_oci_ref r;
        lzs_autoerr lzs_error *err = NULL;
        char buf[LZS_OCI_REF_STR_MAX];
        int rc = lzs_oci_ref_parse(&r, c->in, &err);
        if (!c->full) {
            if (rc != -EINVAL || !err || !strstr(err->msg, c->familiar))
                FAIL("'%s': expected error with \"%s\", got %d \"%s\"", c->in, c->familiar, rc,
                     err ? err->msg : "(none)");
            continue;
        }
        if (rc < 0)
            FAIL("'%s': %s", c->in, err->msg);
        if (strcmp(lzs_oci_ref_string(&r, buf), c->full) != 0)
            FAIL("'%s': full \"%s\" != \"%s\"", c->in, buf, c->full);
        if (strcmp(lzs_oci_ref_familiar(&r, buf), c->familiar) != 0)
            FAIL("'%s': familiar \"%s\" != \"%s\"", c->in, buf, c->familiar);
    }
}

LZS_TEST(test_oci__ref_fields_and_host)
{
    struct lzs_oci_ref r;
    lzs_autoerr lzs_error *err = NULL;
    char buf[LZS_OCI_REF_STR_MAX];
    ASSERT_OK(lzs_oci_ref_parse(&r, "host:5000/repo/x:tag@" DG_A, &err), err);
    ASSERT_STR_EQ(r.domain, "host:5000");
    ASSERT_STR_EQ(r.path, "repo/x");
    ASSERT_STR_EQ(r.tag, "tag");
    ASSERT(r.has_digest);
    struct lzs_digest d;
    ASSERT_OK(lzs_digest_parse(&d, DG_A, &err), err);
    ASSERT(lzs_digest_is_equal(&d, &r.digest));
    ASSERT_STR_EQ(lzs_oci_ref_name(&r, buf), "host:5000/repo/x");
    ASSERT_STR_EQ(lzs_oci_registry_host(r.domain), "host:5000");
    ASSERT_OK(lzs_oci_ref_parse(&r, "busybox", &err), err);
    ASSERT(!r.has_digest);
    ASSERT_STR_EQ(lzs_oci_registry_host(r.domain), "registry-1.docker.io");
    ASSERT_STR_EQ(lzs_oci_ref_name(&r, buf), "docker.io/library/busybox");
}

LZS_TEST(test_oci__ref_reparse_is_stable)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(ref_cases); i++) {
        if (!ref_cases[i].full)
            continue;
        struct lzs_oci_ref a, b;
        char s1[LZS_OCI_REF_STR_MAX], s2[LZS_OCI_REF_STR_MAX];
        ASSERT_EQ(lzs_oci_ref_parse(&a, ref_cases[i].in, NULL), 0);
        ASSERT_EQ(lzs_oci_ref_parse(&b, lzs_oci_ref_familiar(&a, s1), NULL), 0);
        ASSERT_STR_EQ(lzs_oci_ref_string(&b, s2), lzs_oci_ref_string(&a, s1));
    }
}

LZS_TEST(test_oci__ref_error_is_one_line)
{
    struct lzs_oci_ref r;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_EQ(lzs_oci_ref_parse(&r, "foo\nbar", &err), -EINVAL);
    ASSERT(!strchr(err->msg, '\n'));
    ASSERT_STR_EQ(err->msg, "invalid reference 'foo?bar': invalid path component 'foo?bar'");
}

/* ---- media types ----------------------------------------------------------------------------- */

LZS_TEST(test_oci__layer_compression)
{
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER), LZS_OCI_COMP_NONE);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER_GZIP), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER_ZSTD), LZS_OCI_COMP_ZSTD);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER_ND_GZIP), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER_ND_ZSTD), LZS_OCI_COMP_ZSTD);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER_ND), LZS_OCI_COMP_NONE);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_DOCKER_LAYER_GZIP), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_DOCKER_FOREIGN), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_DOCKER_LAYER), LZS_OCI_COMP_NONE);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAYER_GZIP "; x=y"), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_LAZYSNAP_LAYER_INDEX), LZS_OCI_COMP_UNKNOWN);
    ASSERT_EQ(lzs_oci_layer_compression(LZS_OCI_MT_CONFIG), LZS_OCI_COMP_UNKNOWN);
    ASSERT_EQ(lzs_oci_layer_compression(NULL), LZS_OCI_COMP_UNKNOWN);
    ASSERT_EQ(LZS_OCI_COMP_NONE, 0);
    ASSERT_EQ(LZS_OCI_COMP_GZIP, 1);
    ASSERT_EQ(LZS_OCI_COMP_ZSTD, 2);
}

/* ---- parsing manifests and indexes ---------------------------------------------------------- */

static const char oci_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "  \"config\": {\n"
    "    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
    "    \"digest\": \"" DG_A "\",\n"
    "    \"size\": 1469\n"
    "  },\n"
    "  \"layers\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"digest\": \"" DG_B "\",\n"
    "      \"size\": 3370706,\n"
    "      \"annotations\": {\"org.opencontainers.image.title\": \"base\"}\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+zstd\",\n"
    "      \"digest\": \"" DG_C "\",\n"
    "      \"size\": 9007199254740992,\n"
    "      \"urls\": [\"https://mirror.example.com/blob\"],\n"
    "      \"annotations\": {\"io.github.containers.zstd-chunked.manifest-position\": "
    "\"1:2:3:1\"}\n"
    "    }\n"
    "  ],\n"
    "  \"annotations\": {\n"
    "    \"org.opencontainers.image.created\": \"2024-05-01T10:00:00Z\",\n"
    "    \"org.opencontainers.image.ref.name\": \"1.0\"\n"
    "  }\n"
    "}\n";

LZS_TEST(test_oci__parse_oci_manifest)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    ASSERT_OK(lzs_oci_manifest_parse(&m, oci_manifest, strlen(oci_manifest), NULL, &err), err);
    ASSERT_STR_EQ(m->media_type, LZS_OCI_MT_MANIFEST);
    ASSERT(m->artifact_type == NULL);
    ASSERT_STR_EQ(m->config.media_type, LZS_OCI_MT_CONFIG);
    ASSERT_EQ(m->config.size, 1469);
    ASSERT_EQ(m->n_layers, 2);
    ASSERT_EQ(lzs_oci_layer_compression(m->layers[0].media_type), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(lzs_oci_layer_compression(m->layers[1].media_type), LZS_OCI_COMP_ZSTD);
    ASSERT_EQ(m->layers[1].size, 9007199254740992ull);
    ASSERT_EQ(m->layers[1].n_urls, 1);
    ASSERT_STR_EQ(m->layers[1].urls[0], "https://mirror.example.com/blob");
    char dg[LZS_DIGEST_STR_MAX];
    ASSERT_STR_EQ(lzs_digest_format(&m->layers[0].digest, dg), DG_B);
    ASSERT_STR_EQ(lzs_oci_annotation_get(m->layers[0].annotations, m->layers[0].n_annotations,
                                         "org.opencontainers.image.title"),
                  "base");
    ASSERT_EQ(m->n_annotations, 2);
    ASSERT_STR_EQ(lzs_oci_annotation_get(m->annotations, m->n_annotations,
                                         "org.opencontainers.image.ref.name"),
                  "1.0");
    ASSERT(lzs_oci_annotation_get(m->annotations, m->n_annotations, "nope") == NULL);
    ASSERT(!m->has_subject);
    enum lzs_oci_kind kind = 0;
    ASSERT_OK(lzs_oci_detect(oci_manifest, strlen(oci_manifest), NULL, &kind, &err), err);
    ASSERT_EQ(kind, LZS_OCI_KIND_MANIFEST);
}

static const char docker_manifest[] =
    "{\"schemaVersion\":2,"
    "\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
    "\"size\":7023,\"digest\":\"" DG_A "\"},"
    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
    "\"size\":32654,\"digest\":\"" DG_B "\"},"
    "{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\","
    "\"size\":16724,\"digest\":\"" DG_C "\","
    "\"urls\":[\"https://mcr.microsoft.com/v2/x/blobs/" DG_C "\"]}]}";

LZS_TEST(test_oci__parse_docker_manifest)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    ASSERT_OK(lzs_oci_manifest_parse(&m, docker_manifest, strlen(docker_manifest), NULL, &err),
              err);
    ASSERT_STR_EQ(m->media_type, LZS_OCI_MT_DOCKER_MANIFEST);
    ASSERT_STR_EQ(m->config.media_type, LZS_OCI_MT_DOCKER_CONFIG);
    ASSERT_EQ(m->n_layers, 2);
    ASSERT_EQ(m->layers[0].size, 32654);
    ASSERT_EQ(lzs_oci_layer_compression(m->layers[1].media_type), LZS_OCI_COMP_GZIP);
    ASSERT_EQ(m->layers[1].n_urls, 1);
    /* the same body is not an index */
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    ASSERT_ERR(lzs_oci_index_parse(&idx, docker_manifest, strlen(docker_manifest), NULL, &err), err,
               EINVAL, "invalid image index: the body is an image manifest");
}

static const char manifest_list[] =
    "{\"schemaVersion\":2,"
    "\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
    "\"digest\":\"sha256:" HEX_A "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
    "\"digest\":\"sha256:" HEX_B "\","
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
    "\"digest\":\"sha256:" HEX_C "\","
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
    "\"digest\":\"sha256:" HEX_D "\","
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
    "\"digest\":\"sha256:" HEX_A "\",\"platform\":{\"architecture\":\"386\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":1125,"
    "\"digest\":\"sha256:" HEX_B "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\","
    "\"os.version\":\"10.0.17763.5122\",\"os.features\":[\"win32k\"]}}"
    "]}";

LZS_TEST(test_oci__parse_manifest_list)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    ASSERT_OK(lzs_oci_index_parse(&idx, manifest_list, strlen(manifest_list), NULL, &err), err);
    ASSERT_STR_EQ(idx->media_type, LZS_OCI_MT_DOCKER_LIST);
    ASSERT_EQ(idx->n_manifests, 6);
    ASSERT(idx->manifests[1].has_platform);
    ASSERT_STR_EQ(idx->manifests[1].platform.architecture, "arm");
    ASSERT_STR_EQ(idx->manifests[1].platform.variant, "v6");
    ASSERT_STR_EQ(idx->manifests[5].platform.os, "windows");
    ASSERT_STR_EQ(idx->manifests[5].platform.os_version, "10.0.17763.5122");
    ASSERT_EQ(idx->manifests[5].platform.n_os_features, 1);
    ASSERT_STR_EQ(idx->manifests[5].platform.os_features[0], "win32k");
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    ASSERT_ERR(lzs_oci_manifest_parse(&m, manifest_list, strlen(manifest_list), NULL, &err), err,
               EINVAL, "the body is an image index");
}

static const char referrer[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/vnd.lazysnap.index.v1\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
    "\"digest\":\"" LZS_OCI_EMPTY_DIGEST "\",\"size\":2,\"data\":\"e30=\"},"
    "\"layers\":[{\"mediaType\":\"application/vnd.lazysnap.layer.index.v1+zstd\","
    "\"digest\":\"" DG_A "\",\"size\":4242,"
    "\"annotations\":{\"dev.lazysnap.layer.digest\":\"" DG_B "\"}}],"
    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"" DG_C "\",\"size\":1234}}";

LZS_TEST(test_oci__parse_referrer_artifact)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    ASSERT_OK(lzs_oci_manifest_parse(&m, referrer, strlen(referrer), NULL, &err), err);
    ASSERT_STR_EQ(m->artifact_type, LZS_OCI_MT_LAZYSNAP_INDEX);
    ASSERT(m->has_subject);
    ASSERT_EQ(m->subject.size, 1234);
    ASSERT_STR_EQ(m->config.media_type, LZS_OCI_MT_EMPTY);
    ASSERT_STR_EQ(lzs_oci_annotation_get(m->layers[0].annotations, m->layers[0].n_annotations,
                                         LZS_OCI_ANNOT_LAYER_DIGEST),
                  DG_B);
}

LZS_TEST(test_oci__detect_by_content_type_and_structure)
{
    lzs_autoerr lzs_error *err = NULL;
    enum lzs_oci_kind k = 0;
    const char *bare_manifest = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
    const char *bare_index = "{\"schemaVersion\":2,\"manifests\":[]}";
    ASSERT_OK(lzs_oci_detect(bare_index, strlen(bare_index), LZS_OCI_MT_INDEX, &k, &err), err);
    ASSERT_EQ(k, LZS_OCI_KIND_INDEX);
    ASSERT_OK(lzs_oci_detect(bare_index, strlen(bare_index), "application/json", &k, &err), err);
    ASSERT_EQ(k, LZS_OCI_KIND_INDEX);
    ASSERT_OK(lzs_oci_detect(bare_manifest, strlen(bare_manifest),
                             LZS_OCI_MT_DOCKER_MANIFEST "; charset=utf-8", &k, &err),
              err);
    ASSERT_EQ(k, LZS_OCI_KIND_MANIFEST);
    ASSERT_OK(lzs_oci_detect(bare_manifest, strlen(bare_manifest), NULL, &k, &err), err);
    ASSERT_EQ(k, LZS_OCI_KIND_MANIFEST);
    /* the content type disagrees with the structure: refused, not guessed */
    ASSERT_ERR(lzs_oci_detect(bare_manifest, strlen(bare_manifest), LZS_OCI_MT_INDEX, &k, &err),
               err, EINVAL, "an image index must not have 'config' or 'layers'");
    lzs_error_free(&err);
    ASSERT_ERR(lzs_oci_detect("{\"schemaVersion\":2}", 19, NULL, &k, &err), err, EINVAL,
               "neither an image manifest nor an image index");
    lzs_error_free(&err);
    const char *v1 = "{\"schemaVersion\":1,"
                     "\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}";
    ASSERT_ERR(lzs_oci_detect(v1, strlen(v1), NULL, &k, &err), err, EINVAL,
               "unsupported media type 'application/vnd.docker.distribution.manifest.v1+json'");
}

/* ---- hostile input --------------------------------------------------------------------------- */

#define CFG "\"config\":{\"mediaType\":\"m\",\"digest\":\"" DG_A "\",\"size\":1}"
#define LAYER(extra) "{\"mediaType\":\"m\",\"digest\":\"" DG_B "\"" extra "}"

#define OPEN10 "[[[[[[[[[["
#define CLOSE10 "]]]]]]]]]]"

struct bad_case {
    const char *json;
    int code;
    const char *needle;
};

static const struct bad_case bad_manifests[] = {
    {"", EINVAL, "invalid json: truncated"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[", EINVAL, "invalid json: truncated"},
    {"[]", EINVAL, "not an object"},
    {"{} x", EINVAL, "invalid json"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[]}{}", EINVAL, "invalid json at byte 150"},
    {"{\"schemaVersion\":1," CFG ",\"layers\":[]}", EINVAL, "schemaVersion 1 is not supported"},
    {"{\"schemaVersion\":\"2\"," CFG ",\"layers\":[]}", EINVAL, "'schemaVersion' must be an int"},
    {"{" CFG ",\"layers\":[]}", EINVAL, "missing 'schemaVersion'"},
    {"{\"schemaVersion\":2,\"layers\":[]}", EINVAL, "missing 'config'"},
    {"{\"schemaVersion\":2," CFG "}", EINVAL, "missing 'layers'"},
    {"{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", EINVAL, "'config' must be an object"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":{}}", EINVAL, "'layers' must be an array"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[1]}", EINVAL, "layers[0]: descriptor must be"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER("") "]}", EINVAL,
     "layers[0]: missing 'size'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(",\"size\":-1") "]}", EINVAL,
     "layers[0]: 'size' is negative (-1)"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(",\"size\":9007199254740993") "]}", EINVAL,
     "'size' is larger than 9007199254740992"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(",\"size\":99999999999999999999999") "]}",
     EINVAL, "'size'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(",\"size\":1.5") "]}", EINVAL,
     "'size' must be an integer"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(",\"size\":\"12\"") "]}", EINVAL,
     "'size' must be an integer"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"m\",\"size\":1}]}", EINVAL,
     "missing 'digest'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"m\",\"size\":1,"
     "\"digest\":\"sha256:xyz\"}]}",
     EINVAL, "layers[0]: invalid digest 'sha256:xyz'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":7,\"size\":1,"
     "\"digest\":\"" DG_A "\"}]}",
     EINVAL, "'mediaType' must be a string"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[{\"size\":1,\"digest\":\"" DG_A "\"}]}", EINVAL,
     "missing 'mediaType'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(",\"size\":1,\"urls\":[1]") "]}", EINVAL,
     "'urls' must be a string"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"annotations\":{\"a\":1}}", EINVAL,
     "annotations"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"annotations\":[]}", EINVAL,
     "'annotations' must be an object"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"subject\":{\"mediaType\":\"m\"}}", EINVAL,
     "subject: missing 'digest'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"artifactType\":\"a\\u0000b\"}", EINVAL,
     "'artifactType' contains a NUL character"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"artifactType\":\"\xff\"}", EINVAL,
     "invalid json"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"artifactType\":\"\xc1\x9a\"}", EINVAL,
     "'artifactType' is not valid UTF-8"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"manifests\":[]}", EINVAL,
     "an image index must not have 'config' or 'layers'"},
    {"{\"schemaVersion\":2,\"mediaType\":\"" LZS_OCI_MT_MANIFEST "\"," CFG
     ",\"layers\":[],\"manifests\":[]}",
     EINVAL, "an image manifest must not have 'manifests'"},
    {"{\"schemaVersion\":2," CFG ",\"layers\":[],\"x\":" OPEN10 OPEN10 CLOSE10 CLOSE10 "}", EINVAL,
     "invalid json at byte"},
};

LZS_TEST(test_oci__hostile_manifests)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad_manifests); i++) {
        const struct bad_case *c = &bad_manifests[i];
        lzs_autoerr lzs_error *err = NULL;
        struct lzs_oci_manifest *m = NULL;
        int rc = lzs_oci_manifest_parse(&m, c->json, strlen(c->json), NULL, &err);
        if (rc != -c->code || m || !err || !strstr(err->msg, c->needle))
            FAIL("case %zu: expected \"%s\", got %d \"%s\"", i, c->needle, rc,
                 err ? err->msg : "(none)");
        if (strncmp(err->msg, "invalid image manifest: ", 24) != 0 || strchr(err->msg, '\n'))
            FAIL("case %zu: message \"%s\"", i, err->msg);
    }
}

static char *many_layers(size_t n)
{
    struct lzs_buf b = LZS_BUF_INIT(8u << 20);
    lzs_buf_append_str(&b, "{\"schemaVersion\":2," CFG ",\"layers\":[", NULL);
    for (size_t i = 0; i < n; i++)
        lzs_buf_printf(&b, NULL, "%s" LAYER(",\"size\":%zu"), i ? "," : "", i);
    lzs_buf_append_str(&b, "]}", NULL);
    return lzs_buf_steal(&b, NULL);
}

LZS_TEST(test_oci__bounded_counts_and_size)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_autofree char *ok = many_layers(10000);
    lzs_autofree char *bad = many_layers(10001);
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    ASSERT_OK(lzs_oci_manifest_parse(&m, ok, strlen(ok), NULL, &err), err);
    ASSERT_EQ(m->n_layers, 10000);
    ASSERT_EQ(m->layers[9999].size, 9999);
    lzs_oci_manifest_free(lzs_steal_ptr(&m));
    ASSERT_ERR(lzs_oci_manifest_parse(&m, bad, strlen(bad), NULL, &err), err, EINVAL,
               "'layers' has more than 10000 entries");
    lzs_error_free(&err);
    size_t big = LZS_OCI_BODY_MAX + 1;
    lzs_autofree char *huge = malloc(big);
    ASSERT(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    ASSERT_ERR(lzs_oci_manifest_parse(&m, huge, big, NULL, &err), err, EMSGSIZE,
               "larger than 4194304 bytes");
    ASSERT(m == NULL);
}

LZS_TEST(test_oci__hostile_indexes)
{
    static const struct bad_case cases[] = {
        {"{\"schemaVersion\":2}", EINVAL, "neither"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" LZS_OCI_MT_INDEX "\"}", EINVAL,
         "missing 'manifests'"},
        {"{\"schemaVersion\":2,\"manifests\":[" LAYER(
             ",\"size\":1,\"platform\":{\"os\":\"linux\"}") "]}",
         EINVAL, "manifests[0]: platform: missing 'architecture'"},
        {"{\"schemaVersion\":2,\"manifests\":[" LAYER(",\"size\":1,\"platform\":{\"os\":\"linux\","
                                                      "\"architecture\":\"" B64 "\"}") "]}",
         EINVAL, "'architecture' is longer than 63 characters"},
        {"{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", EINVAL, "must not have"},
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(cases); i++) {
        lzs_autoerr lzs_error *err = NULL;
        struct lzs_oci_index *idx = NULL;
        int rc = lzs_oci_index_parse(&idx, cases[i].json, strlen(cases[i].json), NULL, &err);
        if (rc != -cases[i].code || idx || !err || !strstr(err->msg, cases[i].needle))
            FAIL("case %zu: expected \"%s\", got %d \"%s\"", i, cases[i].needle, rc,
                 err ? err->msg : "(none)");
    }
}

/* ---- writing --------------------------------------------------------------------------------- */

static const char golden[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/vnd.lazysnap.index.v1\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
    "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
    "\"size\":2},"
    "\"layers\":[{\"mediaType\":\"application/vnd.lazysnap.layer.index.v1+zstd\","
    "\"digest\":\"" DG_A "\",\"size\":1234,"
    "\"annotations\":{\"dev.lazysnap.layer.digest\":\"" DG_B "\"}}],"
    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"" DG_C "\",\"size\":5678},"
    "\"annotations\":{\"a.first\":\"1\","
    "\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\"}}";
#define GOLDEN_DIGEST "sha256:753f13d0b5c8456b66c34dd5c1bfcc09184561bafa5b6a6a9aa92d0c32a6e0b2"

static void build_artifact(struct lzs_oci_manifest *m, struct lzs_oci_descriptor *layer,
                           struct lzs_oci_annotation *la, struct lzs_oci_annotation *ma)
{
    memset(m, 0, sizeof(*m));
    memset(layer, 0, sizeof(*layer));
    m->artifact_type = (char *)LZS_OCI_MT_LAZYSNAP_INDEX;
    lzs_oci_descriptor_empty(&m->config);
    layer->media_type = (char *)LZS_OCI_MT_LAZYSNAP_LAYER_INDEX;
    ASSERT_EQ(lzs_digest_parse(&layer->digest, DG_A, NULL), 0);
    layer->size = 1234;
    la[0] = (struct lzs_oci_annotation){(char *)LZS_OCI_ANNOT_LAYER_DIGEST, (char *)DG_B};
    layer->annotations = la;
    layer->n_annotations = 1;
    m->layers = layer;
    m->n_layers = 1;
    m->has_subject = true;
    m->subject.media_type = (char *)LZS_OCI_MT_MANIFEST;
    ASSERT_EQ(lzs_digest_parse(&m->subject.digest, DG_C, NULL), 0);
    m->subject.size = 5678;
    /* out of order on purpose: written sorted */
    ma[0] = (struct lzs_oci_annotation){(char *)"org.opencontainers.image.created",
                                        (char *)"2024-01-01T00:00:00Z"};
    ma[1] = (struct lzs_oci_annotation){(char *)"a.first", (char *)"1"};
    m->annotations = ma;
    m->n_annotations = 2;
}

LZS_TEST(test_oci__write_artifact_golden)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_oci_manifest m;
    struct lzs_oci_descriptor layer;
    struct lzs_oci_annotation la[1], ma[2];
    build_artifact(&m, &layer, la, ma);
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_oci_manifest_write(&m, &b, &err), err);
    ASSERT_STR_EQ(lzs_buf_cstr(&b), golden);
    struct lzs_digest want, got;
    ASSERT_OK(lzs_digest_parse(&want, GOLDEN_DIGEST, &err), err);
    ASSERT_OK(lzs_digest_buf(LZS_DIGEST_SHA256, b.data, b.len, &got, &err), err);
    ASSERT(lzs_digest_is_equal(&want, &got));
    /* bounded output */
    struct lzs_buf small = LZS_BUF_INIT(64);
    ASSERT_ERR(lzs_oci_manifest_write(&m, &small, &err), err, EMSGSIZE, "");
    lzs_buf_dispose(&small);
    lzs_buf_dispose(&b);
}

LZS_TEST(test_oci__write_refuses_bad_structs)
{
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_oci_manifest m;
    struct lzs_oci_descriptor layer;
    struct lzs_oci_annotation la[1], ma[2];
    build_artifact(&m, &layer, la, ma);
    struct lzs_buf b = LZS_BUF_INIT(1 << 20);
    ma[1].key = ma[0].key;
    ASSERT_ERR(lzs_oci_manifest_write(&m, &b, &err), err, EINVAL, "duplicate key");
    lzs_error_free(&err);
    build_artifact(&m, &layer, la, ma);
    layer.size = LZS_OCI_SIZE_MAX + 1;
    ASSERT_ERR(lzs_oci_manifest_write(&m, &b, &err), err, EINVAL, "size larger than 2^53");
    lzs_error_free(&err);
    build_artifact(&m, &layer, la, ma);
    layer.media_type = NULL;
    ASSERT_ERR(lzs_oci_manifest_write(&m, &b, &err), err, EINVAL, "no media type");
    lzs_buf_dispose(&b);
}

static void roundtrip_manifest(const char *json)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *a = NULL;
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *b = NULL;
    struct lzs_buf w1 = LZS_BUF_INIT(1 << 20), w2 = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_oci_manifest_parse(&a, json, strlen(json), NULL, &err), err);
    ASSERT_OK(lzs_oci_manifest_write(a, &w1, &err), err);
    ASSERT_OK(lzs_oci_manifest_parse(&b, w1.data, w1.len, NULL, &err), err);
    ASSERT_OK(lzs_oci_manifest_write(b, &w2, &err), err);
    ASSERT_STR_EQ(w1.data, w2.data);
    ASSERT_EQ(a->n_layers, b->n_layers);
    ASSERT_EQ(a->n_annotations, b->n_annotations);
    for (size_t i = 0; i < a->n_layers; i++) {
        ASSERT_STR_EQ(a->layers[i].media_type, b->layers[i].media_type);
        ASSERT_EQ(a->layers[i].size, b->layers[i].size);
        ASSERT(lzs_digest_is_equal(&a->layers[i].digest, &b->layers[i].digest));
    }
    lzs_buf_dispose(&w1);
    lzs_buf_dispose(&w2);
}

LZS_TEST(test_oci__write_parse_roundtrip)
{
    roundtrip_manifest(oci_manifest);
    roundtrip_manifest(docker_manifest);
    roundtrip_manifest(referrer);
    roundtrip_manifest(golden);
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_manifest_freep) struct lzs_oci_manifest *m = NULL;
    struct lzs_buf w = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_oci_manifest_parse(&m, golden, strlen(golden), NULL, &err), err);
    ASSERT_OK(lzs_oci_manifest_write(m, &w, &err), err);
    ASSERT_STR_EQ(w.data, golden); /* our own output parses and writes back byte for byte */
    lzs_buf_dispose(&w);
}

LZS_TEST(test_oci__index_write_roundtrip)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *a = NULL;
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *b = NULL;
    struct lzs_buf w1 = LZS_BUF_INIT(1 << 20), w2 = LZS_BUF_INIT(1 << 20);
    ASSERT_OK(lzs_oci_index_parse(&a, manifest_list, strlen(manifest_list), NULL, &err), err);
    ASSERT_OK(lzs_oci_index_write(a, &w1, &err), err);
    ASSERT_OK(lzs_oci_index_parse(&b, w1.data, w1.len, NULL, &err), err);
    ASSERT_OK(lzs_oci_index_write(b, &w2, &err), err);
    ASSERT_STR_EQ(w1.data, w2.data);
    ASSERT_EQ(b->n_manifests, 6);
    ASSERT_STR_EQ(b->manifests[5].platform.os_version, "10.0.17763.5122");
    ASSERT(strstr(w1.data, "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\","
                           "\"variant\":\"v6\"}"));
    /* an OCI layout index.json */
    struct lzs_oci_descriptor d = {0};
    d.media_type = (char *)LZS_OCI_MT_MANIFEST;
    ASSERT_OK(lzs_digest_parse(&d.digest, DG_A, &err), err);
    d.size = 7;
    struct lzs_oci_annotation an = {(char *)"org.opencontainers.image.ref.name", (char *)"v1"};
    d.annotations = &an;
    d.n_annotations = 1;
    struct lzs_oci_index idx = {.manifests = &d, .n_manifests = 1};
    lzs_buf_reset(&w1);
    ASSERT_OK(lzs_oci_index_write(&idx, &w1, &err), err);
    ASSERT_STR_EQ(w1.data, "{\"schemaVersion\":2,\"mediaType\":\"" LZS_OCI_MT_INDEX "\","
                           "\"manifests\":[{\"mediaType\":\"" LZS_OCI_MT_MANIFEST "\","
                           "\"digest\":\"" DG_A "\",\"size\":7,\"annotations\":"
                           "{\"org.opencontainers.image.ref.name\":\"v1\"}}]}");
    lzs_buf_dispose(&w1);
    lzs_buf_dispose(&w2);
}

/* ---- platforms ------------------------------------------------------------------------------- */

static void expect_platform(const char *in, const char *want)
{
    struct lzs_oci_platform p;
    lzs_autoerr lzs_error *err = NULL;
    char buf[LZS_OCI_PLATFORM_STR_MAX];
    if (lzs_oci_platform_parse(&p, in, &err) < 0)
        FAIL("'%s': %s", in, err->msg);
    if (strcmp(lzs_oci_platform_format(&p, buf), want) != 0)
        FAIL("'%s': got %s, want %s", in, buf, want);
}

LZS_TEST(test_oci__platform_parse)
{
    expect_platform("linux/amd64", "linux/amd64");
    expect_platform("linux/arm64/v8", "linux/arm64"); /* containerd normalises v8 away */
    expect_platform("linux/arm64", "linux/arm64");
    expect_platform("linux/arm/v7", "linux/arm/v7");
    expect_platform("linux/arm", "linux/arm/v7");
    expect_platform("linux/arm/6", "linux/arm/v6");
    expect_platform("Linux/X86_64", "linux/amd64");
    expect_platform("linux/aarch64", "linux/arm64");
    expect_platform("linux/armhf", "linux/arm/v7");
    expect_platform("linux/armel", "linux/arm/v6");
    expect_platform("linux/i386", "linux/386");
    expect_platform("linux/amd64/v1", "linux/amd64");
    expect_platform("linux/amd64/v3", "linux/amd64/v3");
    expect_platform("s390x", "linux/s390x");
    expect_platform("macos/arm64", "darwin/arm64");
    static const char *const bad[] = {"",        "linux/",    "/amd64",      "linux//v7",
                                      "a/b/c/d", "linux/a b", "linux/amd64/"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++) {
        struct lzs_oci_platform p;
        lzs_autoerr lzs_error *err = NULL;
        ASSERT_ERR(lzs_oci_platform_parse(&p, bad[i], &err), err, EINVAL, "invalid platform");
    }
}

LZS_TEST(test_oci__platform_from_machine)
{
    static const char *const cases[][2] = {
        {"x86_64", "linux/amd64"},  {"aarch64", "linux/arm64/v8"}, {"armv7l", "linux/arm/v7"},
        {"armv6l", "linux/arm/v6"}, {"i686", "linux/386"},         {"ppc64le", "linux/ppc64le"},
        {"s390x", "linux/s390x"},   {"riscv64", "linux/riscv64"},
    };
    char buf[LZS_OCI_PLATFORM_STR_MAX];
    for (size_t i = 0; i < LZS_ARRAY_SIZE(cases); i++) {
        struct lzs_oci_platform p;
        ASSERT_EQ(lzs_oci_platform_from_machine(&p, cases[i][0], NULL), 0);
        ASSERT_STR_EQ(lzs_oci_platform_format(&p, buf), cases[i][1]);
    }
    struct lzs_oci_platform p;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_ERR(lzs_oci_platform_from_machine(&p, "pdp11", &err), err, ENOTSUP,
               "unsupported machine 'pdp11'");
    lzs_error_free(&err);
    ASSERT_OK(lzs_oci_platform_host(&p, &err), err);
    ASSERT_STR_EQ(p.os, "linux");
}

static struct lzs_oci_platform plat(const char *s)
{
    struct lzs_oci_platform p;
    if (lzs_oci_platform_parse(&p, s, NULL) < 0)
        FAIL("bad platform %s", s);
    return p;
}

LZS_TEST(test_oci__platform_rank)
{
    struct lzs_oci_platform arm64v8, want;
    ASSERT_EQ(lzs_oci_platform_from_machine(&arm64v8, "aarch64", NULL), 0);
    struct lzs_oci_platform have = plat("linux/arm64");
    ASSERT_EQ(lzs_oci_platform_rank(&arm64v8, &have), 0); /* v8 == no variant */
    have = plat("linux/arm/v7");
    ASSERT_EQ(lzs_oci_platform_rank(&arm64v8, &have), 2); /* arm64 -> arm/v8 -> arm/v7 */
    want = plat("linux/arm/v7");
    ASSERT_EQ(lzs_oci_platform_rank(&want, &have), 0);
    have = plat("linux/arm/v5");
    ASSERT_EQ(lzs_oci_platform_rank(&want, &have), 2);
    have = plat("linux/arm64");
    ASSERT_EQ(lzs_oci_platform_rank(&want, &have), -1); /* arm cannot run arm64 */
    want = plat("linux/arm/v6");
    have = plat("linux/arm/v7");
    ASSERT(!lzs_oci_platform_is_match(&want, &have));
    want = plat("linux/amd64");
    have = plat("linux/386");
    ASSERT(!lzs_oci_platform_is_match(&want, &have)); /* amd64 does not run 386 images here */
    have = plat("windows/amd64");
    ASSERT(!lzs_oci_platform_is_match(&want, &have));
    have = plat("linux/amd64");
    ASSERT(lzs_oci_platform_is_match(&want, &have));
    want = plat("linux/amd64/v3");
    have = plat("linux/amd64/v2");
    ASSERT_EQ(lzs_oci_platform_rank(&want, &have), 1);
    have = plat("linux/amd64");
    ASSERT_EQ(lzs_oci_platform_rank(&want, &have), 2);
}

LZS_TEST(test_oci__index_select)
{
    lzs_autoerr lzs_error *err = NULL;
    lzs_cleanup(lzs_oci_index_freep) struct lzs_oci_index *idx = NULL;
    ASSERT_OK(lzs_oci_index_parse(&idx, manifest_list, strlen(manifest_list), NULL, &err), err);
    size_t i = 99;
    struct lzs_oci_platform want = plat("linux/amd64");
    ASSERT_OK(lzs_oci_index_select(idx, &want, &i, &err), err);
    ASSERT_EQ(i, 0);
    ASSERT_EQ(lzs_oci_platform_from_machine(&want, "aarch64", NULL), 0);
    ASSERT_OK(lzs_oci_index_select(idx, &want, &i, &err), err);
    ASSERT_EQ(i, 3);
    want = plat("linux/arm/v7");
    ASSERT_OK(lzs_oci_index_select(idx, &want, &i, &err), err);
    ASSERT_EQ(i, 2); /* exact v7 beats the earlier v6 */
    want = plat("linux/arm/v8");
    ASSERT_OK(lzs_oci_index_select(idx, &want, &i, &err), err);
    ASSERT_EQ(i, 2);
    want = plat("linux/386");
    ASSERT_OK(lzs_oci_index_select(idx, &want, &i, &err), err);
    ASSERT_EQ(i, 4);
    /* without arm64 entries, an arm64 host falls back to arm/v7 */
    idx->manifests[3].platform.architecture[0] = 'x';
    ASSERT_EQ(lzs_oci_platform_from_machine(&want, "aarch64", NULL), 0);
    ASSERT_OK(lzs_oci_index_select(idx, &want, &i, &err), err);
    ASSERT_EQ(i, 2);
    want = plat("linux/s390x");
    ASSERT_ERR(lzs_oci_index_select(idx, &want, &i, &err), err, ENOENT,
               "no manifest for linux/s390x (available: linux/amd64, linux/arm/v6, linux/arm/v7, "
               "linux/xrm64/v8, linux/386, windows/amd64)");
}
