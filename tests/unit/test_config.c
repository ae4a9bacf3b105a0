/* Unit tests for lib/config: containerd hosts.toml directories and lazysnap's config file. */
#include "base/base.h"
#include "config/config.h"
#include "test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------------------------- */

/* Write text to tmpdir/certs/<sub>/<name>; returns the directory tmpdir/certs. */
static const char *put(const char *sub, const char *name, const char *text)
{
    static char root[4096];
    char dir[4400], file[4600];
    snprintf(root, sizeof(root), "%s/certs", lzs_test_tmpdir());
    snprintf(dir, sizeof(dir), "%s/%s", root, sub);
    lzs_error *err = NULL;
    int rc = lzs_mkdir_p(dir, 0755, &err);
    ASSERT_OK(rc, err);
    snprintf(file, sizeof(file), "%s/%s", dir, name);
    lzs_test_write_file(file, text, strlen(text));
    return root;
}

static struct lzs_config_hosts *load(const char *root, const char *host,
                                     const struct lzs_config_hosts_opts *opts)
{
    struct lzs_config_hosts *h = NULL;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_hosts_load(&h, root, host, opts, &err);
    ASSERT_OK(rc, err);
    ASSERT(h && h->n > 0);
    return h;
}

/* Expect h->endpoints[i] to have this url and capability set. */
#define ASSERT_EP(h, i, url_, caps_)                  \
    do {                                              \
        ASSERT((i) < (h)->n);                         \
        ASSERT_STR_EQ((h)->endpoints[i].url, (url_)); \
        ASSERT_EQ((h)->endpoints[i].caps, (caps_));   \
    } while (0)

#define PR (LZS_HOST_CAP_PULL | LZS_HOST_CAP_RESOLVE)

/* ---- hosts directories --------------------------------------------------------------------- */

LZS_TEST(test_config__docker_io_defaults)
{
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = load(NULL, "docker.io", NULL);
    ASSERT_EQ(h->n, 1);
    ASSERT_EP(h, 0, "https://registry-1.docker.io/v2", LZS_HOST_CAP_ALL);
    ASSERT_STR_EQ(h->endpoints[0].host, "registry-1.docker.io");
    ASSERT_STR_EQ(h->endpoints[0].path, "/v2");
    ASSERT(!h->endpoints[0].plain_http && !h->endpoints[0].skip_verify_set);
    ASSERT(h->dir == NULL);
    lzs_config_hosts_free(h);
    /* a hosts directory without an entry for the host: the same defaults */
    const char *root = put("quay.io", "hosts.toml", "server = \"https://quay.io\"\n");
    h = load(root, "docker.io", NULL);
    ASSERT_EQ(h->n, 1);
    ASSERT_EP(h, 0, "https://registry-1.docker.io/v2", LZS_HOST_CAP_ALL);
    ASSERT(h->dir == NULL);
    lzs_config_hosts_free(h);
    h = load(root, "ghcr.io", NULL);
    ASSERT_EP(h, 0, "https://ghcr.io/v2", LZS_HOST_CAP_ALL);
}

LZS_TEST(test_config__mirror_and_server_capabilities)
{
    const char *root = put("docker.io", "hosts.toml",
                           "server = \"https://registry-1.docker.io\"\n"
                           "\n"
                           "[host.\"https://mirror.example.com\"]\n"
                           "  capabilities = [\"pull\", \"resolve\"]\n");
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = load(root, "docker.io", NULL);
    ASSERT_EQ(h->n, 2);
    ASSERT_EP(h, 0, "https://mirror.example.com/v2", PR);
    ASSERT_EP(h, 1, "https://registry-1.docker.io/v2", LZS_HOST_CAP_ALL);
    ASSERT(strstr(h->dir, "/certs/docker.io") != NULL);
    lzs_config_hosts_free(h);
    /* capabilities on the server, and a mirror without them: containerd's default is all */
    root = put("example.org", "hosts.toml",
               "server = \"registry.example.org\"\ncapabilities = [\"PULL\", \"resolve\"]\n"
               "[host.\"https://m1.example.org\"]\n");
    h = load(root, "example.org", NULL);
    ASSERT_EQ(h->n, 2);
    ASSERT_EP(h, 0, "https://m1.example.org/v2", LZS_HOST_CAP_ALL);
    ASSERT_EP(h, 1, "https://registry.example.org/v2", PR);
}

LZS_TEST(test_config__mirrors_keep_file_order)
{
    /* key order (alpha, mid, zeta) differs from file order; a sub-table of alpha comes later */
    const char *root = put("docker.io", "hosts.toml",
                           "[host.\"https://zeta.example\"]\n"
                           "capabilities = [\"pull\"]\n"
                           "[host.\"https://alpha.example\"]\n"
                           "capabilities = [\"resolve\"]\n"
                           "[host.\"https://mid.example\"]\n"
                           "capabilities = [\"push\"]\n"
                           "[host.\"https://alpha.example\".header]\n"
                           "x-a = \"1\"\n"
                           "[host.\"http://b.example:8080\"]\n");
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = load(root, "docker.io", NULL);
    ASSERT_EQ(h->n, 5);
    ASSERT_EP(h, 0, "https://zeta.example/v2", LZS_HOST_CAP_PULL);
    ASSERT_EP(h, 1, "https://alpha.example/v2", LZS_HOST_CAP_RESOLVE);
    ASSERT_EQ(h->endpoints[1].nheaders, 1);
    ASSERT_EP(h, 2, "https://mid.example/v2", LZS_HOST_CAP_PUSH);
    ASSERT_EP(h, 3, "http://b.example:8080/v2", LZS_HOST_CAP_ALL);
    /* no server key: the default upstream, with every capability */
    ASSERT_EP(h, 4, "https://registry-1.docker.io/v2", LZS_HOST_CAP_ALL);
}

LZS_TEST(test_config__default_directory_fallback)
{
    const char *root =
        put("_default", "hosts.toml",
            "[host.\"http://cache.local:5000\"]\ncapabilities = [\"pull\", \"resolve\"]\n");
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = load(root, "quay.io", NULL);
    ASSERT_EQ(h->n, 2);
    ASSERT_EP(h, 0, "http://cache.local:5000/v2", PR);
    ASSERT(h->endpoints[0].plain_http);
    ASSERT_EP(h, 1, "https://quay.io/v2", LZS_HOST_CAP_ALL);
    ASSERT(strstr(h->dir, "/_default") != NULL);
    lzs_config_hosts_free(h);
    /* a host's own directory wins over _default */
    put("quay.io", "hosts.toml", "server = \"https://quay-mirror.local\"\n");
    h = load(root, "quay.io", NULL);
    ASSERT_EQ(h->n, 1);
    ASSERT_EP(h, 0, "https://quay-mirror.local/v2", LZS_HOST_CAP_ALL);
}

LZS_TEST(test_config__host_port_directory)
{
    const char *root = put("127.0.0.1:5000", "hosts.toml", "server = \"http://127.0.0.1:5000\"\n");
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h =
        load(root, "127.0.0.1:5000", NULL);
    ASSERT_EQ(h->n, 1);
    ASSERT_EP(h, 0, "http://127.0.0.1:5000/v2", LZS_HOST_CAP_ALL);
    ASSERT_STR_EQ(h->endpoints[0].host, "127.0.0.1:5000");
    ASSERT(h->endpoints[0].plain_http);
    lzs_config_hosts_free(h);
    /* containerd looks for host_port_ before host:port */
    put("reg.local:5000", "hosts.toml", "server = \"https://colon.local\"\n");
    put("reg.local_5000_", "hosts.toml", "server = \"https://underscore.local\"\n");
    h = load(root, "reg.local:5000", NULL);
    ASSERT_EP(h, 0, "https://underscore.local/v2", LZS_HOST_CAP_ALL);
}

LZS_TEST(test_config__plain_http)
{
    /* an http:// host is plain http; https stays https */
    lzs_autoerr lzs_error *err = NULL;
    struct lzs_config_hosts *h = NULL;
    const char *body = "server = \"http://reg.lan\"\n[host.\"https://m.lan\"]\n";
    int rc = lzs_config_hosts_parse(&h, "reg.lan", "/d", "t.toml", body, strlen(body), NULL, &err);
    ASSERT_OK(rc, err);
    ASSERT(!h->endpoints[0].plain_http && h->endpoints[1].plain_http);
    ASSERT_STR_EQ(h->endpoints[1].scheme, "http");
    lzs_config_hosts_free(h);
    /* defaults: localhost is http only when asked, other hosts only when forced */
    struct lzs_config_hosts_opts local = {.plain_http = true}, all = {.force_plain_http = true};
    h = load(NULL, "localhost:5000", NULL);
    ASSERT_EP(h, 0, "https://localhost:5000/v2", LZS_HOST_CAP_ALL);
    lzs_config_hosts_free(h);
    const char *locals[] = {"localhost:5000", "127.0.0.1", "[::1]:5000", "::1"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(locals); i++) {
        h = load(NULL, locals[i], &local);
        ASSERT(h->endpoints[0].plain_http);
        lzs_config_hosts_free(h);
    }
    h = load(NULL, "reg.example.com", &local);
    ASSERT_EP(h, 0, "https://reg.example.com/v2", LZS_HOST_CAP_ALL);
    lzs_config_hosts_free(h);
    h = load(NULL, "reg.example.com", &all);
    ASSERT_EP(h, 0, "http://reg.example.com/v2", LZS_HOST_CAP_ALL);
    lzs_config_hosts_free(h);
    ASSERT(!lzs_config_host_is_localhost("localhost.example.com"));
    ASSERT(!lzs_config_host_is_localhost("127.0.0.10:5000"));
}

LZS_TEST(test_config__relative_ca_and_client)
{
    const char *root = put("r.io", "hosts.toml",
                           "server = \"https://r.io\"\n"
                           "ca = \"ca.crt\"\n"
                           "client = [\"certs/../client.cert\", \"client.key\"]\n"
                           "[host.\"https://m.r.io\"]\n"
                           "ca = [\"/etc/ssl/m.pem\", \"./sub/m.crt\"]\n");
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = load(root, "r.io", NULL);
    char want[4200];
    struct lzs_config_endpoint *m = &h->endpoints[0], *s = &h->endpoints[1];
    ASSERT_EQ(m->nca, 2);
    ASSERT_STR_EQ(m->ca[0], "/etc/ssl/m.pem");
    snprintf(want, sizeof(want), "%s/r.io/sub/m.crt", root);
    ASSERT_STR_EQ(m->ca[1], want);
    ASSERT(m->ca[2] == NULL);
    ASSERT_EQ(s->nca, 1);
    snprintf(want, sizeof(want), "%s/r.io/ca.crt", root);
    ASSERT_STR_EQ(s->ca[0], want);
    /* a flat list is containerd's "several combined PEM files" */
    ASSERT_EQ(s->nclients, 2);
    snprintf(want, sizeof(want), "%s/r.io/client.cert", root);
    ASSERT_STR_EQ(s->clients[0].cert, want);
    ASSERT(s->clients[0].key == NULL);
    snprintf(want, sizeof(want), "%s/r.io/client.key", root);
    ASSERT_STR_EQ(s->clients[1].cert, want);
}

static struct lzs_config_hosts *parse(const char *body)
{
    struct lzs_config_hosts *h = NULL;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_hosts_parse(&h, "r.io", "/etc/containerd/certs.d/r.io", "hosts.toml", body,
                                    strlen(body), NULL, &err);
    ASSERT_OK(rc, err);
    return h;
}

LZS_TEST(test_config__client_forms)
{
    struct lzs_config_hosts *h = parse("client = \"/c/both.pem\"\n");
    ASSERT_EQ(h->endpoints[0].nclients, 1);
    ASSERT_STR_EQ(h->endpoints[0].clients[0].cert, "/c/both.pem");
    ASSERT(h->endpoints[0].clients[0].key == NULL);
    lzs_config_hosts_free(h);
    h = parse("client = [[\"c.cert\", \"/k/c.key\"]]\n");
    ASSERT_EQ(h->endpoints[0].nclients, 1);
    ASSERT_STR_EQ(h->endpoints[0].clients[0].cert, "/etc/containerd/certs.d/r.io/c.cert");
    ASSERT_STR_EQ(h->endpoints[0].clients[0].key, "/k/c.key");
    lzs_config_hosts_free(h);
    h = parse("client = [[\"/a.cert\", \"/a.key\"], [\"/b.pem\", \"\"], \"/c.pem\"]\n");
    struct lzs_config_endpoint *e = &h->endpoints[0];
    ASSERT_EQ(e->nclients, 3);
    ASSERT_STR_EQ(e->clients[0].cert, "/a.cert");
    ASSERT_STR_EQ(e->clients[0].key, "/a.key");
    ASSERT_STR_EQ(e->clients[1].cert, "/b.pem");
    ASSERT(e->clients[1].key == NULL);
    ASSERT_STR_EQ(e->clients[2].cert, "/c.pem");
    lzs_config_hosts_free(h);
}

LZS_TEST(test_config__headers)
{
    struct lzs_config_hosts *h = parse("[header]\n"
                                       "x-zz = \"first\"\n"
                                       "X-Multi = [\"a\", \"b\"]\n"
                                       "[host.\"https://m\".header]\n"
                                       "authorization = \"Basic eDp5\"\n");
    struct lzs_config_endpoint *m = &h->endpoints[0], *s = &h->endpoints[1];
    ASSERT_EQ(m->nheaders, 1);
    ASSERT_STR_EQ(m->headers[0].name, "authorization");
    ASSERT_STR_EQ(m->headers[0].values[0], "Basic eDp5");
    ASSERT_EQ(s->nheaders, 2);
    ASSERT_STR_EQ(s->headers[0].name, "x-zz");
    ASSERT_EQ(s->headers[0].nvalues, 1);
    ASSERT_STR_EQ(s->headers[1].name, "X-Multi");
    ASSERT_EQ(s->headers[1].nvalues, 2);
    ASSERT_STR_EQ(s->headers[1].values[1], "b");
    ASSERT(s->headers[1].values[2] == NULL);
    lzs_config_hosts_free(h);
}

LZS_TEST(test_config__skip_verify)
{
    struct lzs_config_hosts *h = parse("skip_verify = false\n"
                                       "[host.\"https://self-signed.lan\"]\nskip_verify = true\n"
                                       "[host.\"https://other.lan\"]\n");
    ASSERT(h->endpoints[0].skip_verify && h->endpoints[0].skip_verify_set);
    ASSERT(!h->endpoints[1].skip_verify && !h->endpoints[1].skip_verify_set);
    ASSERT(!h->endpoints[2].skip_verify && h->endpoints[2].skip_verify_set);
    lzs_config_hosts_free(h);
}

LZS_TEST(test_config__override_path)
{
    struct lzs_config_hosts *h = parse("server = \"https://r.io/base/v2\"\n"
                                       "[host.\"https://a.lan/custom//api/\"]\n"
                                       "override_path = true\n"
                                       "[host.\"https://b.lan/prefix\"]\n"
                                       "[host.\"https://c.lan/\"]\n");
    ASSERT_EP(h, 0, "https://a.lan/custom/api", LZS_HOST_CAP_ALL);
    ASSERT(h->endpoints[0].override_path);
    ASSERT_STR_EQ(h->endpoints[0].path, "/custom/api");
    ASSERT_EP(h, 1, "https://b.lan/prefix/v2", LZS_HOST_CAP_ALL);
    ASSERT_EP(h, 2, "https://c.lan/v2", LZS_HOST_CAP_ALL);
    ASSERT_EP(h, 3, "https://r.io/base/v2", LZS_HOST_CAP_ALL);
    ASSERT(!h->endpoints[3].override_path);
    lzs_config_hosts_free(h);
}

LZS_TEST(test_config__cert_files_without_hosts_toml)
{
    const char *root = put("certs.lan", "ca.crt", "x");
    put("certs.lan", "client.cert", "x");
    put("certs.lan", "client.key", "x");
    put("certs.lan", "alone.cert", "x");
    put("certs.lan", "notes.txt", "x");
    lzs_cleanup(lzs_config_hosts_freep) struct lzs_config_hosts *h = load(root, "certs.lan", NULL);
    ASSERT_EQ(h->n, 1);
    ASSERT_EP(h, 0, "https://certs.lan/v2", LZS_HOST_CAP_ALL);
    struct lzs_config_endpoint *e = &h->endpoints[0];
    ASSERT_EQ(e->nca, 1);
    ASSERT(strstr(e->ca[0], "/certs.lan/ca.crt") != NULL);
    ASSERT_EQ(e->nclients, 2); /* sorted by name: alone.cert, client.cert */
    ASSERT(strstr(e->clients[0].cert, "/alone.cert") && !e->clients[0].key);
    ASSERT(strstr(e->clients[1].key, "/certs.lan/client.key") != NULL);
}

LZS_TEST(test_config__malformed_toml_names_position)
{
    const char *root = put("bad.io", "hosts.toml", "server = \"https://bad.io\"\n[host.\"x\"\n");
    struct lzs_config_hosts *h = NULL;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_hosts_load(&h, root, "bad.io", NULL, &err);
    ASSERT_ERR(rc, err, EINVAL, "/bad.io/hosts.toml:2:");
    ASSERT(h == NULL);
    ASSERT(strchr(err->msg, '\n') == NULL);
    lzs_error_free(&err);
    rc = lzs_config_hosts_parse(&h, "r.io", NULL, "mem.toml", "a = 1\na = 2\n", 12, NULL, &err);
    ASSERT_ERR(rc, err, EINVAL, "mem.toml:2:");
}

static void expect_hosts_error(const char *body, const char *needle)
{
    struct lzs_config_hosts *h = NULL;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_hosts_parse(&h, "r.io", NULL, "h.toml", body, strlen(body), NULL, &err);
    ASSERT_ERR(rc, err, EINVAL, needle);
    ASSERT(h == NULL);
}

LZS_TEST(test_config__wrong_types_name_the_key)
{
    expect_hosts_error("\n[host.\"https://m\"]\nskip_verify = \"yes\"\n",
                       "h.toml:3:15: key host.\"https://m\".skip_verify: expected a boolean, got a "
                       "string");
    expect_hosts_error("capabilities = \"pull\"\n", "key capabilities: expected an array");
    expect_hosts_error("capabilities = [\"pull\", \"fetch\"]\n", "unknown capability \"fetch\"");
    expect_hosts_error("ca = 3\n", "key ca: expected a string or an array of strings");
    expect_hosts_error("ca = [\"a\", 1]\n", "key ca: expected an array of strings, element 1");
    expect_hosts_error("client = [[\"a\"]]\n", "key client: expected a file, [cert, key]");
    expect_hosts_error("server = 5\n", "key server: expected a string");
    expect_hosts_error("server = \"httpx://x\"\n", "not http or https");
    expect_hosts_error("override_path = 1\n", "key override_path: expected a boolean");
    expect_hosts_error("[header]\nx = 1\n", "key header.x: expected a string or an array");
    expect_hosts_error("header = \"x\"\n", "key header: expected a table");
    expect_hosts_error("host = 1\n", "key host: expected a table");
    expect_hosts_error("[host]\nm = 1\n", "key host.m: expected a table");
    expect_hosts_error("[host.\"https://\"]\n", "no host");
    expect_hosts_error("[header]\nx = \"a\\r\\nInjected: 1\"\n", "control character");
    /* unknown keys are ignored, as containerd does */
    lzs_config_hosts_free(parse("dial_timeout = \"5s\"\n[host.\"https://m\"]\nfoo = 1\n"));
}

LZS_TEST(test_config__invalid_registry_host)
{
    const char *bad[] = {"", "..", "a/b", "_default", "a b"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++) {
        struct lzs_config_hosts *h = NULL;
        lzs_autoerr lzs_error *err = NULL;
        int rc = lzs_config_hosts_load(&h, "/nonexistent", bad[i], NULL, &err);
        ASSERT_ERR(rc, err, EINVAL, "invalid registry host");
    }
}

/* ---- lazysnap config file ------------------------------------------------------------------ */

LZS_TEST(test_config__config_defaults)
{
    struct lzs_config c;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_init(&c, &err);
    ASSERT_OK(rc, err);
    rc = lzs_config_parse(&c, "empty.toml", "", 0, &err);
    ASSERT_OK(rc, err);
    ASSERT_STR_EQ(c.root, "/var/lib/lazysnap");
    ASSERT_STR_EQ(c.address, "/run/lazysnap/lazysnapd.sock");
    ASSERT_STR_EQ(c.hosts_dir, "/etc/containerd/certs.d");
    ASSERT_EQ(c.log_level, LZS_LOG_INFO);
    ASSERT_EQ(c.log_format, LZS_LOG_TEXT);
    ASSERT_EQ(c.cache.max_size, 20ull << 30);
    ASSERT(c.fetch.prefetch && c.fetch.background);
    ASSERT_EQ(c.fetch.background_rate, 50ull << 20);
    ASSERT_EQ(c.fetch.timeout_ms, 30000);
    ASSERT_EQ(c.fetch.retries, 3);
    ASSERT(c.index.local_dir == NULL);
    ASSERT_EQ(c.index.min_layer_size, 10ull << 20);
    /* a missing optional file changes nothing; a required one is ENOENT */
    rc = lzs_config_load(&c, lzs_test_path("none.toml"), LZS_CONFIG_OPTIONAL, &err);
    ASSERT_OK(rc, err);
    ASSERT_STR_EQ(c.root, "/var/lib/lazysnap");
    rc = lzs_config_load(&c, lzs_test_path("none.toml"), 0, &err);
    ASSERT_ERR(rc, err, ENOENT, "none.toml");
    lzs_config_dispose(&c);
}

static const char full_example[] = "root = \"/tmp/lzs\"\n"
                                   "address = \"/tmp/lzs/sock\"\n"
                                   "hosts_dir = \"/tmp/certs.d\"\n"
                                   "log_level = \"debug\"\n"
                                   "log_format = \"json\"\n"
                                   "\n"
                                   "[cache]\n"
                                   "max_size = \"2GiB\"\n"
                                   "\n"
                                   "[fetch]\n"
                                   "prefetch = false\n"
                                   "background = false\n"
                                   "background_rate = 1048576\n"
                                   "timeout = \"1m30s\"\n"
                                   "retries = 0\n"
                                   "\n"
                                   "[index]\n"
                                   "local_dir = \"/shared/indexes\"\n"
                                   "min_layer_size = \"512KiB\"\n";

LZS_TEST(test_config__config_full_example)
{
    const char *path = lzs_test_path("config.toml");
    lzs_test_write_file(path, full_example, strlen(full_example));
    struct lzs_config c;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_init(&c, &err);
    ASSERT_OK(rc, err);
    rc = lzs_config_load(&c, path, 0, &err);
    ASSERT_OK(rc, err);
    ASSERT_STR_EQ(c.root, "/tmp/lzs");
    ASSERT_STR_EQ(c.address, "/tmp/lzs/sock");
    ASSERT_STR_EQ(c.hosts_dir, "/tmp/certs.d");
    ASSERT_EQ(c.log_level, LZS_LOG_DEBUG);
    ASSERT_EQ(c.log_format, LZS_LOG_JSON);
    ASSERT_EQ(c.cache.max_size, 2ull << 30);
    ASSERT(!c.fetch.prefetch && !c.fetch.background);
    ASSERT_EQ(c.fetch.background_rate, 1048576);
    ASSERT_EQ(c.fetch.timeout_ms, 90000);
    ASSERT_EQ(c.fetch.retries, 0);
    ASSERT_STR_EQ(c.index.local_dir, "/shared/indexes");
    ASSERT_EQ(c.index.min_layer_size, 512 << 10);
    lzs_config_dispose(&c);
}

static void expect_config_error(const char *body, int code, const char *needle)
{
    struct lzs_config c;
    lzs_autoerr lzs_error *err = NULL;
    int rc = lzs_config_init(&c, &err);
    ASSERT_OK(rc, err);
    rc = lzs_config_parse(&c, "c.toml", body, strlen(body), &err);
    if (rc != -code || !err || !strstr(err->msg, needle)) {
        char got[512];
        snprintf(got, sizeof(got), "%s", err ? err->msg : "(none)");
        lzs_config_dispose(&c);
        FAIL("config \"%s\": expected error containing \"%s\", got %d \"%s\"", body, needle, rc,
             got);
    }
    /* a failed parse leaves the config as it was */
    int same = strcmp(c.root, LZS_CONFIG_DEFAULT_ROOT) == 0 && c.fetch.retries == 3;
    lzs_config_dispose(&c);
    ASSERT(same);
}

LZS_TEST(test_config__config_unknown_key)
{
    expect_config_error("root = \"/x\"\nretries = 3\n", EINVAL,
                        "c.toml:2:1: key retries: unknown key");
    expect_config_error("[fetch]\nretires = 3\n", EINVAL,
                        "c.toml:2:1: key fetch.retires: unknown key");
    expect_config_error("[cache.sub]\n", EINVAL, "key cache.sub: unknown key");
    expect_config_error("[registry]\n", EINVAL, "key registry: unknown key");
    expect_config_error("fetch = 1\n", EINVAL, "key fetch: expected a table, got an integer");
}

LZS_TEST(test_config__config_wrong_types)
{
    expect_config_error("root = \"/y\"\n[fetch]\nprefetch = \"yes\"\n", EINVAL,
                        "c.toml:3:12: key fetch.prefetch: expected a boolean, got a string");
    expect_config_error("root = 1\n", EINVAL, "key root: expected a string, got an integer");
    expect_config_error("root = \"\"\n", EINVAL, "key root: must not be empty");
    expect_config_error("[fetch]\nretries = \"3\"\n", EINVAL,
                        "key fetch.retries: expected an integer");
    expect_config_error("[fetch]\nretries = 1000\n", EINVAL,
                        "key fetch.retries: expected 0 to 100");
    expect_config_error("log_level = \"verbose\"\n", EINVAL, "key log_level: expected one of");
    expect_config_error("log_format = \"xml\"\n", EINVAL, "key log_format: expected text or json");
    expect_config_error("root = \"/a\"\nroot = \"/b\"\n", EINVAL, "c.toml:2:");
}

LZS_TEST(test_config__config_bad_size_and_duration)
{
    expect_config_error("[cache]\nmax_size = \"20 gigs\"\n", EINVAL,
                        "c.toml:2:12: key cache.max_size: invalid size");
    expect_config_error("[cache]\nmax_size = -1\n", EINVAL,
                        "key cache.max_size: a size cannot be negative");
    expect_config_error("[cache]\nmax_size = 1.5\n", EINVAL, "key cache.max_size: expected a size");
    expect_config_error("[fetch]\ntimeout = \"30\"\n", EINVAL,
                        "key fetch.timeout: invalid duration");
    expect_config_error("[fetch]\ntimeout = \"1.5s\"\n", EINVAL,
                        "key fetch.timeout: invalid duration");
    expect_config_error("[fetch]\ntimeout = 30\n", EINVAL,
                        "key fetch.timeout: expected a duration");
    expect_config_error("[fetch]\nbackground_rate = \"fast\"\n", EINVAL,
                        "key fetch.background_rate: invalid size");
}

LZS_TEST(test_config__parse_duration)
{
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {{"500ms", 500},     {"30s", 30000}, {"5m", 300000},       {"1h", 3600000},
              {"1h30m", 5400000}, {"0s", 0},      {"2m5s250ms", 125250}};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(ok); i++) {
        uint64_t ms = 1;
        lzs_autoerr lzs_error *err = NULL;
        int rc = lzs_config_parse_duration(ok[i].s, &ms, &err);
        ASSERT_OK(rc, err);
        ASSERT_EQ(ms, ok[i].ms);
    }
    const char *bad[] = {
        "", "30", "s", "-1s", "1.5s", "1d", "30 s", "99999999999999999999h", "5124095576030432h"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++) {
        uint64_t ms;
        lzs_autoerr lzs_error *err = NULL;
        ASSERT_ERR(lzs_config_parse_duration(bad[i], &ms, &err), err, EINVAL, "invalid duration");
    }
}
