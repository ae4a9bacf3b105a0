/* registry: URLs: API paths on an endpoint, containerd's ?ns= for mirrors, query parameters,
 * Location headers (relative or absolute) and the origin check that keeps the registry's
 * Authorization away from other hosts. curl's URL API does the RFC 3986 work. */
#include "registry_i.h"

#include <string.h>
#include <strings.h>

static void urlp(CURLU **u)
{
    curl_url_cleanup(*u);
}

static void curlfreep(char **s)
{
    curl_free(*s);
}

#define lzs_autourl lzs_cleanup(urlp)
#define lzs_autocurlstr lzs_cleanup(curlfreep)

/* A parsed absolute http(s) URL, or NULL. */
static CURLU *parse(const char *url)
{
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    lzs_autocurlstr char *scheme = NULL;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

/* The whole URL of u as a malloc'd string. */
static char *url_string(CURLU *u)
{
    lzs_autocurlstr char *s = NULL;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
        return NULL;
    return strdup(s);
}

char *reg_url_resolve(const char *base, const char *location)
{
    lzs_autourl CURLU *u = parse(base);
    if (!u || !location[0])
        return NULL;
    /* with a base set, curl resolves a relative reference against it (RFC 3986 5.2) */
    if (curl_url_set(u, CURLUPART_URL, location, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        return NULL;
    char *out = url_string(u);
    lzs_autourl CURLU *check = out ? parse(out) : NULL;
    if (!check) {
        free(out); /* resolved to something that is not http(s) */
        return NULL;
    }
    return out;
}

char *reg_url_add_query(const char *url, const char *name, const char *value)
{
    lzs_autourl CURLU *u = parse(url);
    struct lzs_buf q = LZS_BUF_INIT(SIZE_MAX);
    char *out = NULL;
    if (u && lzs_buf_printf(&q, NULL, "%s=%s", name, value) == 0 &&
        curl_url_set(u, CURLUPART_QUERY, lzs_buf_cstr(&q), CURLU_APPENDQUERY | CURLU_URLENCODE) ==
            CURLUE_OK)
        out = url_string(u);
    lzs_buf_dispose(&q);
    return out;
}

struct origin {
    char *scheme, *host, *port;
};

static void origin_dispose(struct origin *o)
{
    curl_free(o->scheme), curl_free(o->host), curl_free(o->port);
}

static bool origin_of(const char *url, struct origin *o)
{
    memset(o, 0, sizeof(*o));
    lzs_autourl CURLU *u = parse(url);
    return u && curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_HOST, &o->host, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT) == CURLUE_OK;
}

bool reg_url_same_origin(const char *a, const char *b)
{
    struct origin oa, ob;
    bool ok = origin_of(a, &oa) && origin_of(b, &ob) && strcasecmp(oa.scheme, ob.scheme) == 0 &&
              strcasecmp(oa.host, ob.host) == 0 && strcmp(oa.port, ob.port) == 0;
    origin_dispose(&oa);
    origin_dispose(&ob);
    return ok;
}

bool reg_is_proxy(const char *domain, const char *endpoint_host)
{
    if (strcmp(domain, endpoint_host) == 0)
        return false;
    return !(strcmp(domain, "docker.io") == 0 &&
             strcmp(endpoint_host, "registry-1.docker.io") == 0);
}

char *reg_url_api(const char *endpoint_url, const char *name, const char *suffix, const char *ns)
{
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    if (lzs_buf_printf(&b, NULL, "%s/%s%s", endpoint_url, name, suffix) < 0) {
        lzs_buf_dispose(&b);
        return NULL;
    }
    char *url = lzs_buf_steal(&b, NULL);
    if (!url || !ns)
        return url;
    char *with_ns = reg_url_add_query(url, "ns", ns);
    free(url);
    return with_ns;
}

char *reg_url_for_message(const char *url, const char *origin)
{
    if (!origin || reg_url_same_origin(url, origin))
        return strdup(url);
    return strndup(url, strcspn(url, "?#"));
}

char *reg_url_host(const char *url)
{
    lzs_autourl CURLU *u = parse(url);
    lzs_autocurlstr char *host = NULL;
    lzs_autocurlstr char *port = NULL;
    if (!u || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        return NULL;
    char *out = NULL;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        return strdup(host);
    return asprintf(&out, "%s:%s", host, port) < 0 ? NULL : out;
}
