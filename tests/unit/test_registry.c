/* Unit tests for lib/registry: the pure parts behind the client (WWW-Authenticate, Content-Range,
 * Retry-After, JSON, base64, URLs, docker credentials, outcome classification), and the client
 * against closed ports. The HTTP behaviour is tested for real by
 * tests/integration/registry_client.sh. */
#include "base/base.h"
#include "registry/registry.h"
#include "registry/registry_i.h"
#include "test.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* ---- WWW-Authenticate ------------------------------------------------------------------------ */

static void parse_ok(struct reg_challenges *cs, const char *s)
{
    lzs_autoerr lzs_error *err = NULL;
    int rc = reg_challenges_parse(cs, s, &err);
    ASSERT_OK(rc, err);
}

LZS_TEST(test_registry__challenge_bearer)
{
    struct reg_challenges cs;
    parse_ok(&cs, "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                  "scope=\"repository:library/busybox:pull\"");
    ASSERT_EQ(cs.n, 1);
    ASSERT_EQ(cs.v[0].scheme, REG_AUTH_BEARER);
    ASSERT_STR_EQ(cs.v[0].realm, "https://auth.docker.io/token");
    ASSERT_STR_EQ(cs.v[0].service, "registry.docker.io");
    ASSERT_STR_EQ(cs.v[0].scope, "repository:library/busybox:pull");
    ASSERT(cs.v[0].error == NULL);
    reg_challenges_dispose(&cs);
    /* case-insensitive scheme and names, spaces around '=', tokens as values */
    parse_ok(&cs,
             "bEaReR  Realm = \"http://127.0.0.1:5001/token\" , SERVICE=rig ,error=invalid_token");
    ASSERT_EQ(cs.v[0].scheme, REG_AUTH_BEARER);
    ASSERT_STR_EQ(cs.v[0].realm, "http://127.0.0.1:5001/token");
    ASSERT_STR_EQ(cs.v[0].service, "rig");
    ASSERT_STR_EQ(cs.v[0].error, "invalid_token");
    reg_challenges_dispose(&cs);
}

LZS_TEST(test_registry__challenge_quoted_escapes)
{
    struct reg_challenges cs;
    parse_ok(&cs, "Bearer realm=\"a\\\"b\\\\c, d=e\",service=\"x\"");
    ASSERT_EQ(cs.n, 1);
    ASSERT_STR_EQ(cs.v[0].realm, "a\"b\\c, d=e");
    ASSERT_STR_EQ(cs.v[0].service, "x");
    reg_challenges_dispose(&cs);
}

LZS_TEST(test_registry__challenge_several)
{
    struct reg_challenges cs;
    parse_ok(&cs, "Basic realm=\"registry\", Bearer realm=\"https://t/token\",service=\"s\", "
                  "Negotiate, Foo abc==");
    ASSERT_EQ(cs.n, 4);
    ASSERT_EQ(cs.v[0].scheme, REG_AUTH_BASIC);
    ASSERT_STR_EQ(cs.v[0].realm, "registry");
    ASSERT_EQ(cs.v[1].scheme, REG_AUTH_BEARER);
    ASSERT_EQ(cs.v[2].scheme, REG_AUTH_OTHER);
    ASSERT_EQ(cs.v[3].scheme, REG_AUTH_OTHER);
    const struct reg_challenge *pick = reg_challenges_pick(&cs);
    ASSERT(pick == &cs.v[1]); /* Bearer before Basic */
    reg_challenges_dispose(&cs);
    parse_ok(&cs, "Basic realm=\"r\"");
    ASSERT(reg_challenges_pick(&cs) == &cs.v[0]);
    reg_challenges_dispose(&cs);
    parse_ok(&cs, "Bearer service=\"no-realm\", Negotiate");
    ASSERT(reg_challenges_pick(&cs) == NULL); /* a Bearer without realm cannot be answered */
    reg_challenges_dispose(&cs);
    /* a token68 right after the scheme ("realm=" alone is one too, RFC 7235) */
    parse_ok(&cs, "Basic dXNlcjpwYXNz==, Bearer realm=r");
    ASSERT_EQ(cs.n, 2);
    ASSERT_STR_EQ(cs.v[1].realm, "r");
    reg_challenges_dispose(&cs);
}

LZS_TEST(test_registry__challenge_invalid)
{
    static const char *const bad[] = {
        "",
        "   ,  ",
        "Bearer realm=\"unterminated",
        "Bearer realm=\"ctl\x01\"",
        "Bearer realm=\"a\" junk",
        "\"quoted-scheme\"",
        "Bearer realm=\"a\",,=x",
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++) {
        struct reg_challenges cs;
        lzs_autoerr lzs_error *err = NULL;
        int rc = reg_challenges_parse(&cs, bad[i], &err);
        if (rc != -EINVAL || !err || !strstr(err->msg, "WWW-Authenticate"))
            FAIL("\"%s\": rc %d, %s", bad[i], rc, lzs_error_msg(err));
        ASSERT_EQ(cs.n, 0);
    }
    /* too many challenges and parameters are refused, not truncated */
    struct lzs_buf b = LZS_BUF_INIT(1 << 16);
    for (int i = 0; i < REG_CHALLENGES_MAX + 1; i++)
        lzs_buf_printf(&b, NULL, "%sX%d", i ? ", " : "", i);
    struct reg_challenges cs;
    ASSERT_EQ(reg_challenges_parse(&cs, lzs_buf_cstr(&b), NULL), -EINVAL);
    lzs_buf_reset(&b);
    lzs_buf_append_str(&b, "Bearer ", NULL);
    for (int i = 0; i < REG_CHALLENGE_PARAMS_MAX + 1; i++)
        lzs_buf_printf(&b, NULL, "%sp%d=v", i ? "," : "", i);
    ASSERT_EQ(reg_challenges_parse(&cs, lzs_buf_cstr(&b), NULL), -EINVAL);
    lzs_buf_dispose(&b);
}

/* ---- Content-Range, Retry-After, Content-Type, error bodies ---------------------------------- */

LZS_TEST(test_registry__content_range)
{
    struct reg_content_range cr;
    ASSERT_EQ(reg_content_range_parse(&cr, "bytes 0-99/1000"), 0);
    ASSERT(cr.start == 0 && cr.end == 99 && cr.total == 1000);
    ASSERT_EQ(reg_content_range_parse(&cr, "Bytes 5-5/*"), 0);
    ASSERT(cr.start == 5 && cr.end == 5 && cr.total == UINT64_MAX);
    ASSERT_EQ(reg_content_range_parse(&cr, "bytes 18446744073709551613-18446744073709551613/"
                                           "18446744073709551614"),
              0);
    static const char *const bad[] = {
        "0-99/1000",
        "bytes 0-99",
        "bytes 0-99/",
        "bytes 10-9/100",
        "bytes 0-100/100",
        "bytes */100",
        "bytes -1-5/10",
        "bytes 0-5/10 ",
        "bytes 0-5/10x",
        "items 0-5/10",
        "bytes 0--5/10",
        "bytes 0-5/*x",
        "bytes 0-99999999999999999999/*",
        "",
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++)
        if (reg_content_range_parse(&cr, bad[i]) != -EINVAL)
            FAIL("\"%s\" accepted", bad[i]);
}

LZS_TEST(test_registry__retry_after)
{
    uint64_t ms = 0;
    ASSERT_EQ(reg_retry_after_parse("3", 0, &ms), 0);
    ASSERT_EQ(ms, 3000);
    ASSERT_EQ(reg_retry_after_parse("0", 0, &ms), 0);
    ASSERT_EQ(ms, 0);
    /* 1994-11-06 08:49:37 UTC is 784111777 */
    ASSERT_EQ(reg_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111770, &ms), 0);
    ASSERT_EQ(ms, 7000);
    ASSERT_EQ(reg_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111800, &ms), 0);
    ASSERT_EQ(ms, 0); /* in the past */
    ASSERT_EQ(reg_retry_after_parse("soon", 0, &ms), -EINVAL);
    ASSERT_EQ(reg_retry_after_parse("-1", 0, &ms), -EINVAL);
    ASSERT_EQ(reg_retry_after_parse("1.5", 0, &ms), -EINVAL);
    ASSERT_EQ(reg_retry_after_parse("", 0, &ms), -EINVAL);
}

LZS_TEST(test_registry__media_type_and_error_body)
{
    lzs_autofree char *mt =
        reg_media_type(" Application/VND.oci.image.index.v1+json ; charset=utf-8");
    ASSERT_STR_EQ(mt, "application/vnd.oci.image.index.v1+json");
    char msg[64];
    const char *body = "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown to "
                       "registry\",\"detail\":\"sha256:ab\"}]}";
    ASSERT(reg_error_body_message(body, strlen(body), msg, sizeof(msg)));
    ASSERT_STR_EQ(msg, "blob unknown to registry");
    body = "{\"errors\":[{\"code\":\"DENIED\"}]}";
    ASSERT(reg_error_body_message(body, strlen(body), msg, sizeof(msg)));
    ASSERT_STR_EQ(msg, "DENIED");
    body = "{\"errors\":[{\"message\":\"line\\nbreak\"}]}";
    ASSERT(reg_error_body_message(body, strlen(body), msg, sizeof(msg)));
    ASSERT_STR_EQ(msg, "line break"); /* messages stay on one line */
    body = "404 page not found\n";
    ASSERT(!reg_error_body_message(body, strlen(body), msg, sizeof(msg)));
    body = "{\"errors\":[]}";
    ASSERT(!reg_error_body_message(body, strlen(body), msg, sizeof(msg)));
    ASSERT(!reg_error_body_message(NULL, 0, msg, sizeof(msg)));
    char tiny[5];
    body = "{\"errors\":[{\"message\":\"truncated message\"}]}";
    ASSERT(reg_error_body_message(body, strlen(body), tiny, sizeof(tiny)));
    ASSERT_STR_EQ(tiny, "trun");
}

/* ---- JSON and base64 ------------------------------------------------------------------------- */

static struct reg_json *json(const char *s)
{
    struct reg_json *v = NULL;
    lzs_autoerr lzs_error *err = NULL;
    int rc = reg_json_parse(&v, s, strlen(s), &err);
    ASSERT_OK(rc, err);
    return v;
}

LZS_TEST(test_registry__json)
{
    struct reg_json *v =
        json(" {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\"],"
             " \"token\": \"t\\/\\\"\", \"expires_in\": 300, \"a\": {\"b\": {}}} ");
    ASSERT_EQ(v->type, REG_JSON_OBJ);
    const struct reg_json *a = reg_json_get(v, "a");
    ASSERT(a && a->type == REG_JSON_OBJ); /* the last of repeated keys */
    ASSERT(reg_json_get(a, "b") && reg_json_get(a, "b")->n == 0);
    ASSERT_STR_EQ(reg_json_str(reg_json_get(v, "token")), "t/\"");
    uint64_t n = 0;
    ASSERT(reg_json_u64(reg_json_get(v, "expires_in"), &n) && n == 300);
    ASSERT(!reg_json_u64(reg_json_get(v, "token"), &n));
    ASSERT(reg_json_get(v, "missing") == NULL && reg_json_get(NULL, "x") == NULL);
    reg_json_free(v);
    v = json("[1, -2.5e3, true, \"x\\u00e9\\ud83d\\ude00\"]");
    ASSERT_EQ(v->n, 4);
    ASSERT(!reg_json_u64(&v->items[1], &n));
    ASSERT(v->items[2].type == REG_JSON_BOOL && v->items[2].b);
    ASSERT_STR_EQ(reg_json_str(&v->items[3]), "x\xc3\xa9\xf0\x9f\x98\x80");
    reg_json_free(v);
}

LZS_TEST(test_registry__json_invalid)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"a\"}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "01",
        "1.",
        "1e",
        "-",
        "tru",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\x\"",
        "\"a\nb\"",
        "{} x",
        "{1:2}",
        "\"unterminated",
    };
    for (size_t i = 0; i < LZS_ARRAY_SIZE(bad); i++) {
        struct reg_json *v = NULL;
        lzs_autoerr lzs_error *err = NULL;
        int rc = reg_json_parse(&v, bad[i], strlen(bad[i]), &err);
        if (rc != -EINVAL || v || !err || !strstr(err->msg, "invalid json at byte"))
            FAIL("'%s' accepted (%d)", bad[i], rc);
    }
    char deep[2 * REG_JSON_DEPTH_MAX + 10];
    memset(deep, '[', REG_JSON_DEPTH_MAX + 1);
    memset(deep + REG_JSON_DEPTH_MAX + 1, ']', REG_JSON_DEPTH_MAX + 1);
    struct reg_json *v = NULL;
    ASSERT_EQ(reg_json_parse(&v, deep, 2 * (REG_JSON_DEPTH_MAX + 1), NULL), -EINVAL);
    ASSERT_EQ(reg_json_parse(&v, deep + 1, 2 * REG_JSON_DEPTH_MAX, NULL), 0);
    reg_json_free(v);
}

LZS_TEST(test_registry__base64)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(plain); i++) {
        lzs_autofree char *e = reg_base64_encode(plain[i], strlen(plain[i]));
        ASSERT_STR_EQ(e, enc[i]);
        char *d = NULL;
        size_t n = 0;
        ASSERT_EQ(reg_base64_decode(enc[i], &d, &n), 0);
        ASSERT_EQ(n, strlen(plain[i]));
        ASSERT_STR_EQ(d, plain[i]);
        free(d);
    }
    char *d = NULL;
    size_t n;
    ASSERT_EQ(reg_base64_decode("Zm9vYg", &d, &n), 0); /* padding is optional */
    ASSERT_STR_EQ(d, "foob");
    free(d);
    ASSERT_EQ(reg_base64_decode("Zm9v!", &d, &n), -EINVAL);
    ASSERT_EQ(reg_base64_decode("Z", &d, &n), -EINVAL);
    ASSERT_EQ(reg_base64_decode("Zm 9v", &d, &n), -EINVAL);
}

/* ---- URLs ------------------------------------------------------------------------------------ */

static void resolves(const char *base, const char *loc, const char *want)
{
    lzs_autofree char *got = reg_url_resolve(base, loc);
    if (!got || strcmp(got, want) != 0)
        FAIL("resolve(%s, %s) = %s, want %s", base, loc, got ? got : "NULL", want);
}

LZS_TEST(test_registry__url_resolve_location)
{
    const char *post = "http://127.0.0.1:5000/v2/app/blobs/uploads/";
    resolves(post, "/v2/app/blobs/uploads/u1?_state=abc",
             "http://127.0.0.1:5000/v2/app/blobs/uploads/u1?_state=abc");
    resolves(post, "u2", "http://127.0.0.1:5000/v2/app/blobs/uploads/u2");
    resolves(post, "../x", "http://127.0.0.1:5000/v2/app/blobs/x");
    resolves(post, "https://storage.example.com/b?sig=1", "https://storage.example.com/b?sig=1");
    resolves(post, "//cdn.example.com:8443/p", "http://cdn.example.com:8443/p");
    resolves("http://h/v2/a/blobs/sha256:1", "?x=1", "http://h/v2/a/blobs/sha256:1?x=1");
    ASSERT(reg_url_resolve(post, "") == NULL);
    ASSERT(reg_url_resolve(post, "ftp://h/x") == NULL); /* only http(s) */
    ASSERT(reg_url_resolve("not a url", "/x") == NULL);
}

LZS_TEST(test_registry__url_add_query)
{
    const char *dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    lzs_autofree char *a = reg_url_add_query("http://h:5000/v2/app/blobs/uploads/u1", "digest", dg);
    ASSERT_STR_EQ(a, "http://h:5000/v2/app/blobs/uploads/u1?digest=sha256%3a0123456789abcdef"
                     "0123456789abcdef0123456789abcdef0123456789abcdef");
    lzs_autofree char *b = reg_url_add_query("http://h/v2/u1?_state=x%3D%3D&a=1", "digest", dg);
    const char *want = "http://h/v2/u1?_state=x%3D%3D&a=1&digest=sha256%3a";
    if (!b || strncmp(b, want, strlen(want)) != 0)
        FAIL("%s", b ? b : "NULL");
    lzs_autofree char *c = reg_url_add_query("http://h/v2/x?", "ns", "docker.io");
    ASSERT(c && strstr(c, "ns=docker.io") && !strstr(c, "?&&"));
    lzs_autofree char *d = reg_url_add_query("http://h/p", "artifactType", "a b&c");
    ASSERT_STR_EQ(d, "http://h/p?artifactType=a+b%26c");
    ASSERT(reg_url_add_query("nope", "a", "b") == NULL);
}

LZS_TEST(test_registry__url_same_origin)
{
    ASSERT(reg_url_same_origin("http://127.0.0.1:5000/v2", "http://127.0.0.1:5000/v2/a/blobs/x"));
    ASSERT(reg_url_same_origin("https://r.io/v2", "https://R.IO:443/other"));
    ASSERT(reg_url_same_origin("http://r.io/v2", "http://r.io:80/x"));
    ASSERT(!reg_url_same_origin("http://127.0.0.1:5000/v2", "http://127.0.0.1:5001/storage"));
    ASSERT(!reg_url_same_origin("https://r.io/v2", "http://r.io/v2")); /* no downgrade */
    ASSERT(!reg_url_same_origin("https://r.io/v2", "https://r.io.evil.com/v2"));
    ASSERT(!reg_url_same_origin("https://r.io/v2", "https://cdn.r.io/v2"));
    ASSERT(!reg_url_same_origin("https://r.io/v2", "garbage"));
}

LZS_TEST(test_registry__url_api_and_ns)
{
    ASSERT(!reg_is_proxy("docker.io", "registry-1.docker.io"));
    ASSERT(!reg_is_proxy("127.0.0.1:5000", "127.0.0.1:5000"));
    ASSERT(reg_is_proxy("docker.io", "mirror.example.com"));
    ASSERT(reg_is_proxy("127.0.0.1:5000", "127.0.0.1:5001"));
    lzs_autofree char *a = reg_url_api("https://registry-1.docker.io/v2", "library/busybox",
                                       "/manifests/latest", NULL);
    ASSERT_STR_EQ(a, "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
    lzs_autofree char *b =
        reg_url_api("http://mirror:5000/v2", "library/busybox", "/blobs/sha256:ab", "docker.io");
    ASSERT_STR_EQ(b, "http://mirror:5000/v2/library/busybox/blobs/sha256:ab?ns=docker.io");
    lzs_autofree char *c = reg_url_api("http://mirror/prefix/v2", "a",
                                       "/referrers/sha256:ab?artifactType=x", "127.0.0.1:5000");
    ASSERT_STR_EQ(
        c, "http://mirror/prefix/v2/a/referrers/sha256:ab?artifactType=x&ns=127.0.0.1%3a5000");
    lzs_autofree char *m1 =
        reg_url_for_message("http://s:9/b?X-Signature=secret", "http://r:5000/v2");
    ASSERT_STR_EQ(m1, "http://s:9/b");
    lzs_autofree char *m2 = reg_url_for_message("http://r:5000/v2/a?digest=x", "http://r:5000/v2");
    ASSERT_STR_EQ(m2, "http://r:5000/v2/a?digest=x");
    lzs_autofree char *h = reg_url_host("http://[::1]:5000/v2/");
    ASSERT_STR_EQ(h, "[::1]:5000");
    lzs_autofree char *h2 = reg_url_host("https://r.io/v2/");
    ASSERT_STR_EQ(h2, "r.io");
}

/* ---- docker credentials ---------------------------------------------------------------------- */

static void config_creds(const char *json_text, const char *host, struct reg_creds *c,
                         char **helper, char **server)
{
    lzs_autoerr lzs_error *err = NULL;
    int rc = reg_creds_from_config(json_text, strlen(json_text), host, c, helper, server, &err);
    ASSERT_OK(rc, err);
}

LZS_TEST(test_registry__creds_auths)
{
    const char *cfg = "{\"auths\": {"
                      "\"127.0.0.1:5000\": {\"auth\": \"Ym9iOnB3OmQ=\"},"
                      "\"https://quay.io\": {\"username\": \"u\", \"password\": \"p\"},"
                      "\"https://index.docker.io/v1/\": {\"auth\": \"aHViOnNlY3JldA==\"},"
                      "\"http://ghcr.io/v2/\": {\"identitytoken\": \"refresh\"}}}";
    struct reg_creds c;
    char *helper, *server;
    config_creds(cfg, "127.0.0.1:5000", &c, &helper, &server);
    ASSERT(!helper && !server);
    ASSERT_STR_EQ(c.username, "bob");
    ASSERT_STR_EQ(c.password, "pw:d"); /* split at the first ':' */
    reg_creds_dispose(&c);
    config_creds(cfg, "quay.io", &c, &helper, &server);
    ASSERT_STR_EQ(c.username, "u");
    ASSERT_STR_EQ(c.password, "p");
    reg_creds_dispose(&c);
    config_creds(cfg, "registry-1.docker.io", &c, &helper, &server);
    ASSERT_STR_EQ(c.username, "hub");
    ASSERT_STR_EQ(c.password, "secret");
    reg_creds_dispose(&c);
    config_creds(cfg, "ghcr.io", &c, &helper, &server);
    ASSERT_STR_EQ(c.identity_token, "refresh");
    ASSERT(!c.username);
    reg_creds_dispose(&c);
    config_creds(cfg, "127.0.0.1:5001", &c, &helper, &server);
    ASSERT(reg_creds_is_empty(&c));
    config_creds("{}", "127.0.0.1:5000", &c, &helper, &server);
    ASSERT(reg_creds_is_empty(&c));
}

LZS_TEST(test_registry__creds_helpers)
{
    const char *cfg = "{\"auths\": {\"a.io\": {\"auth\": \"eDp5\"}},"
                      " \"credHelpers\": {\"gcr.io\": \"gcloud\", \"docker.io\": \"hub\"},"
                      " \"credsStore\": \"desktop\"}";
    struct reg_creds c;
    char *helper, *server;
    config_creds(cfg, "gcr.io", &c, &helper, &server);
    ASSERT_STR_EQ(helper, "gcloud");
    ASSERT_STR_EQ(server, "gcr.io");
    free(helper), free(server);
    config_creds(cfg, "registry-1.docker.io", &c, &helper, &server);
    ASSERT_STR_EQ(helper, "hub");
    free(helper), free(server);
    config_creds(cfg, "a.io", &c, &helper, &server); /* credsStore wins over auths */
    ASSERT_STR_EQ(helper, "desktop");
    ASSERT_STR_EQ(server, "a.io");
    free(helper), free(server);
    config_creds("{\"credsStore\": \"desktop\"}", "registry-1.docker.io", &c, &helper, &server);
    ASSERT_STR_EQ(server, "https://index.docker.io/v1/");
    free(helper), free(server);
    /* helper answers */
    const char *ans = "{\"ServerURL\":\"x\",\"Username\":\"me\",\"Secret\":\"s3\"}";
    ASSERT_EQ(reg_creds_from_helper(ans, strlen(ans), &c, NULL), 0);
    ASSERT_STR_EQ(c.username, "me");
    ASSERT_STR_EQ(c.password, "s3");
    reg_creds_dispose(&c);
    ans = "{\"Username\":\"<token>\",\"Secret\":\"idt\"}";
    ASSERT_EQ(reg_creds_from_helper(ans, strlen(ans), &c, NULL), 0);
    ASSERT_STR_EQ(c.identity_token, "idt");
    reg_creds_dispose(&c);
}

LZS_TEST(test_registry__creds_config_errors)
{
    struct reg_creds c;
    char *helper, *server;
    lzs_autoerr lzs_error *err = NULL;
    const char *cfg = "{\"auths\": {\"a.io\": {\"auth\": \"bm9jb2xvbg==\"}}}";
    ASSERT_ERR(reg_creds_from_config(cfg, strlen(cfg), "a.io", &c, &helper, &server, &err), err,
               EINVAL, "auths[\"a.io\"].auth is not base64 of user:password");
    lzs_error_free(&err);
    cfg = "{\"auths\": ";
    ASSERT_ERR(reg_creds_from_config(cfg, strlen(cfg), "a.io", &c, &helper, &server, &err), err,
               EINVAL, "invalid json");
}

static void write_helper(const char *dir, const char *name, const char *body)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/docker-credential-%s", dir, name);
    lzs_test_write_file(path, body, strlen(body));
    ASSERT_EQ(chmod(path, 0755), 0);
}

static void path_prepend(const char *dir)
{
    const char *old = getenv("PATH");
    struct lzs_buf b = LZS_BUF_INIT(1 << 16);
    lzs_buf_printf(&b, NULL, "%s:%s", dir, old ? old : "/usr/bin:/bin");
    setenv("PATH", lzs_buf_cstr(&b), 1);
    lzs_buf_dispose(&b);
}

LZS_TEST(test_registry__creds_lookup_and_helper)
{
    const char *dir = lzs_test_tmpdir();
    write_helper(dir, "unit",
                 "#!/bin/sh\nread -r host\n"
                 "if [ \"$host\" = 127.0.0.1:5000 ]; then\n"
                 "  echo '{\"Username\":\"bob\",\"Secret\":\"pw\"}'; exit 0\nfi\n"
                 "echo 'credentials not found in native keychain'; exit 1\n");
    write_helper(dir, "broken", "#!/bin/sh\necho 'helper exploded'; exit 3\n");
    write_helper(dir, "slow", "#!/bin/sh\nexec sleep 10\n");
    path_prepend(dir);
    struct reg_creds c;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(reg_creds_run_helper("unit", "127.0.0.1:5000", 5000, &c, &err), err);
    ASSERT_STR_EQ(c.username, "bob");
    ASSERT_STR_EQ(c.password, "pw");
    reg_creds_dispose(&c);
    ASSERT_OK(reg_creds_run_helper("unit", "other:1", 5000, &c, &err), err);
    ASSERT(reg_creds_is_empty(&c));
    ASSERT_ERR(reg_creds_run_helper("broken", "h", 5000, &c, &err), err, EACCES,
               "docker-credential-broken get: exit status 3: helper exploded");
    lzs_error_free(&err);
    uint64_t t0 = reg_now_ms();
    ASSERT_ERR(reg_creds_run_helper("slow", "h", 300, &c, &err), err, ETIMEDOUT,
               "docker-credential-slow get: no answer");
    ASSERT(reg_now_ms() - t0 < 3000);
    lzs_error_free(&err);
    ASSERT_ERR(reg_creds_run_helper("missing-helper", "h", 300, &c, &err), err, ENOENT,
               "docker-credential-missing-helper");
    lzs_error_free(&err);

    /* config.json in a directory given, then through DOCKER_CONFIG; a missing file: none */
    char cfgdir[4200];
    snprintf(cfgdir, sizeof(cfgdir), "%s/docker", dir);
    ASSERT_EQ(mkdir(cfgdir, 0700), 0);
    const char *cfg = "{\"credHelpers\": {\"127.0.0.1:5000\": \"unit\"},"
                      " \"auths\": {\"h:1\": {\"auth\": \"YTpi\"}}}";
    lzs_test_write_file(lzs_test_path("docker/config.json"), cfg, strlen(cfg));
    char *source = NULL;
    ASSERT_OK(reg_creds_lookup(cfgdir, "127.0.0.1:5000", &c, &source, &err), err);
    ASSERT_STR_EQ(c.username, "bob");
    ASSERT(strstr(source, "docker-credential-unit") && strstr(source, "config.json"));
    reg_creds_dispose(&c), free(source);
    setenv("DOCKER_CONFIG", cfgdir, 1);
    ASSERT_OK(reg_creds_lookup(NULL, "h:1", &c, &source, &err), err);
    ASSERT_STR_EQ(c.username, "a");
    ASSERT_STR_EQ(c.password, "b");
    reg_creds_dispose(&c), free(source);
    setenv("DOCKER_CONFIG", dir, 1); /* no config.json there */
    ASSERT_OK(reg_creds_lookup(NULL, "h:1", &c, &source, &err), err);
    ASSERT(reg_creds_is_empty(&c));
    ASSERT(strstr(source, "config.json"));
    free(source);
    unsetenv("DOCKER_CONFIG");
}

/* ---- outcomes, backoff ----------------------------------------------------------------------- */

LZS_TEST(test_registry__classify)
{
    ASSERT_EQ(reg_classify(200, CURLE_OK, 0, false), REG_DONE);
    ASSERT_EQ(reg_classify(206, CURLE_OK, 0, false), REG_DONE);
    ASSERT_EQ(reg_classify(307, CURLE_OK, 0, true), REG_REDIRECT);
    ASSERT_EQ(reg_classify(302, CURLE_OK, 0, false), REG_FAIL); /* no Location */
    ASSERT_EQ(reg_classify(401, CURLE_OK, 0, false), REG_AUTH);
    ASSERT_EQ(reg_classify(403, CURLE_OK, 0, false), REG_FAIL);
    ASSERT_EQ(reg_classify(404, CURLE_OK, 0, false), REG_NEXT);
    ASSERT_EQ(reg_classify(429, CURLE_OK, 0, false), REG_RETRY);
    ASSERT_EQ(reg_classify(500, CURLE_OK, 0, false), REG_RETRY);
    ASSERT_EQ(reg_classify(503, CURLE_OK, 0, false), REG_RETRY);
    ASSERT_EQ(reg_classify(501, CURLE_OK, 0, false), REG_FAIL);
    ASSERT_EQ(reg_classify(400, CURLE_OK, 0, false), REG_FAIL);
    ASSERT_EQ(reg_classify(0, CURLE_COULDNT_CONNECT, 0, false), REG_NEXT);
    ASSERT_EQ(reg_classify(0, CURLE_OPERATION_TIMEDOUT, 0, false), REG_RETRY);
    ASSERT_EQ(reg_classify(206, CURLE_PARTIAL_FILE, 0, false), REG_RETRY);
    ASSERT_EQ(reg_classify(200, CURLE_RECV_ERROR, 0, false), REG_RETRY);
    ASSERT_EQ(reg_classify(206, CURLE_WRITE_ERROR, EPROTO, false), REG_RETRY);
    ASSERT_EQ(reg_classify(200, CURLE_WRITE_ERROR, EMSGSIZE, false), REG_FAIL);
    ASSERT_EQ(reg_classify(0, CURLE_ABORTED_BY_CALLBACK, 0, false), REG_FAIL);
    ASSERT_EQ(reg_status_errno(404), ENOENT);
    ASSERT_EQ(reg_status_errno(401), EACCES);
    ASSERT_EQ(reg_status_errno(405), ENOTSUP);
    ASSERT_EQ(reg_status_errno(503), EAGAIN);
    ASSERT_EQ(reg_curl_errno(CURLE_COULDNT_CONNECT, 0), ECONNREFUSED);
    ASSERT_EQ(reg_curl_errno(CURLE_OPERATION_TIMEDOUT, 0), ETIMEDOUT);
    ASSERT_EQ(reg_curl_errno(CURLE_PARTIAL_FILE, 0), EPROTO);
}

LZS_TEST(test_registry__backoff)
{
    for (unsigned attempt = 1; attempt < 12; attempt++) {
        uint64_t base = REG_BACKOFF_START_MS << (attempt - 1);
        if (base > REG_BACKOFF_MAX_MS)
            base = REG_BACKOFF_MAX_MS;
        for (int i = 0; i < 50; i++) {
            uint64_t d = reg_backoff_ms(attempt);
            if (d < base / 2 || d > base)
                FAIL("attempt %u: %" PRIu64 " ms outside [%" PRIu64 ", %" PRIu64 "]", attempt, d,
                     base / 2, base);
        }
    }
}

/* ---- the client, offline --------------------------------------------------------------------- */

/* A TCP port on 127.0.0.1 nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ASSERT(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
           getsockname(s, (struct sockaddr *)&a, &len) == 0);
    close(s);
    return ntohs(a.sin_port);
}

LZS_TEST(test_registry__repo_endpoints)
{
    const char *dir = lzs_test_tmpdir();
    char hostdir[4200];
    snprintf(hostdir, sizeof(hostdir), "%s/docker.io", dir);
    ASSERT_EQ(mkdir(hostdir, 0755), 0);
    const char *toml = "server = \"https://registry-1.docker.io\"\n"
                       "[host.\"http://127.0.0.1:5999\"]\n  capabilities = [\"pull\"]\n";
    lzs_test_write_file(lzs_test_path("docker.io/hosts.toml"), toml, strlen(toml));
    struct lzs_registry_opts opts = {.hosts_dir = dir};
    lzs_cleanup(lzs_registry_freep) lzs_registry *r = NULL;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_registry_new(&r, &opts, &err), err);
    struct lzs_oci_ref ref;
    ASSERT_OK(lzs_oci_ref_parse(&ref, "busybox", &err), err);
    lzs_cleanup(lzs_repo_unrefp) lzs_repo *repo = NULL;
    ASSERT_OK(lzs_repo_open(&repo, r, &ref, &err), err);
    ASSERT_STR_EQ(lzs_repo_name(repo), "docker.io/library/busybox");
    ASSERT_EQ(repo->neps, 2);
    ASSERT(repo->eps[0].is_proxy && !repo->eps[1].is_proxy);
    ASSERT_STR_EQ(repo->scope_pull, "repository:library/busybox:pull");
    ASSERT_STR_EQ(repo->scope_push, "repository:library/busybox:pull,push");
    /* pushing needs an endpoint with the push capability: only the server has it */
    ASSERT_EQ(repo->eps[0].cfg->caps, LZS_HOST_CAP_PULL);
    struct lzs_registry_stats st;
    lzs_registry_stats(r, &st);
    ASSERT(st.requests == 0 && st.bytes_fetched == 0 && st.retries == 0);
    ASSERT(lzs_repo_ref(repo) == repo);
    ASSERT(lzs_repo_unref(repo) == NULL);
}

LZS_TEST(test_registry__connection_refused)
{
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%d/app:v1", closed_port());
    struct lzs_registry_opts opts = {.timeout_ms = 5000, .retries = 2};
    lzs_cleanup(lzs_registry_freep) lzs_registry *r = NULL;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_registry_new(&r, &opts, &err), err);
    struct lzs_oci_ref ref;
    ASSERT_OK(lzs_oci_ref_parse(&ref, name, &err), err);
    lzs_cleanup(lzs_repo_unrefp) lzs_repo *repo = NULL;
    ASSERT_OK(lzs_repo_open(&repo, r, &ref, &err), err); /* localhost: plain http */
    struct lzs_repo_manifest m = {0};
    ASSERT_ERR(lzs_repo_get_manifest(repo, "v1", NULL, &m, &err), err, ECONNREFUSED,
               "GET http://127.0.0.1:");
    ASSERT(strstr(err->msg, "/v2/app/manifests/v1: ") && strstr(err->msg, "(3 attempts)"));
    ASSERT(!strchr(err->msg, '\n'));
    lzs_error_free(&err);
    struct lzs_registry_stats st;
    lzs_registry_stats(r, &st);
    ASSERT_EQ(st.requests, 3);
    ASSERT_EQ(st.retries, 2);
    /* bad input never reaches the network */
    ASSERT_ERR(lzs_repo_get_manifest(repo, "../x", NULL, &m, &err), err, EINVAL,
               "invalid tag or digest");
    lzs_error_free(&err);
    struct lzs_digest d = {.algo = LZS_DIGEST_SHA256};
    ASSERT_ERR(lzs_repo_blob_push(repo, &d, "x", 1, &err), err, EBADMSG, "digest mismatch");
    lzs_error_free(&err);
    char buf[4];
    ASSERT_OK(lzs_repo_blob_read(repo, &d, buf, 0, 0, &err), err); /* n == 0: nothing */
    ASSERT_ERR(lzs_repo_blob_read(repo, &d, buf, 4, UINT64_MAX - 1, &err), err, ERANGE,
               "overflows");
    lzs_registry_stats(r, &st);
    ASSERT_EQ(st.requests, 3);
}

LZS_TEST(test_registry__no_retries_and_stream_error)
{
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%d/app", closed_port());
    struct lzs_registry_opts opts = {.no_retries = true, .retries = 5};
    lzs_cleanup(lzs_registry_freep) lzs_registry *r = NULL;
    lzs_autoerr lzs_error *err = NULL;
    ASSERT_OK(lzs_registry_new(&r, &opts, &err), err);
    struct lzs_oci_ref ref;
    ASSERT_OK(lzs_oci_ref_parse(&ref, name, &err), err);
    lzs_cleanup(lzs_repo_unrefp) lzs_repo *repo = NULL;
    ASSERT_OK(lzs_repo_open(&repo, r, &ref, &err), err);
    struct lzs_digest d;
    ASSERT_OK(lzs_digest_buf(LZS_DIGEST_SHA256, "x", 1, &d, &err), err);
    lzs_repo_stream *s = NULL;
    ASSERT_ERR(lzs_repo_stream_open(&s, repo, &d, &err), err, ECONNREFUSED,
               "/v2/app/blobs/sha256:");
    ASSERT(s == NULL);
    lzs_error_free(&err);
    uint64_t size;
    ASSERT_ERR(lzs_repo_blob_stat(repo, &d, &size, &err), err, ECONNREFUSED, "HEAD http://");
    struct lzs_registry_stats st;
    lzs_registry_stats(r, &st);
    ASSERT_EQ(st.requests, 2);
    ASSERT_EQ(st.retries, 0);
}
