/* oci: image references, parsed and normalised as github.com/distribution/reference does
 * (ParseNormalizedNamed, then TagNameOnly), with a hand-written matcher for its grammar:
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path-component { "/" path-component }    (<= 255 characters)
 *   domain    := host [ ":" port ]; host := domain-name | "[" ipv6 "]"
 *   path-component := [a-z0-9]+ { ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ }
 *   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127} */
#include "oci/oci.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The input, at most 256 bytes of it, with control characters shown as '?' (one-line errors). */
static const char *quote(const char *s, char buf[260])
{
    size_t i = 0;
    for (; s[i] && i < 256; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

static int fail(lzs_error **err, const char *s, const char *fmt, ...) LZS_PRINTF(3, 4);

static int fail(lzs_error **err, const char *s, const char *fmt, ...)
{
    char q[260], what[300], qwhat[260];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return lzs_error_set(err, EINVAL, "invalid reference '%s': %s", quote(s, q),
                         quote(what, qwhat));
}

static bool valid_path_component(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0]))
        return false;
    while (i < n) {
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == n || !is_lower_alnum(s[i]))
            return false;
    }
    return true;
}

/* domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9], joined by dots. */
static bool valid_domain_name(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_alnum(s[i]) && s[i] != '-')
                return false;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

static bool valid_domain(const char *s, size_t n)
{
    size_t host = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return false;
        for (const char *p = s + 1; p < close; p++)
            if (!is_hex(*p) && *p != ':')
                return false;
        host = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon)
            host = (size_t)(colon - s);
        if (!valid_domain_name(s, host))
            return false;
    }
    if (host == n)
        return true;
    if (s[host] != ':' || host + 1 == n)
        return false;
    for (size_t i = host + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool valid_tag(const char *s, size_t n)
{
    if (n == 0 || n > LZS_OCI_TAG_MAX || !is_word(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static bool is_identifier(const char *s)
{
    size_t n = strlen(s);
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) || !is_hex(s[i]))
            return false;
    return true;
}

/* splitDockerDomain: the first component is a domain when it has '.' or ':', is "localhost", or
 * has an upper-case letter; otherwise the domain is docker.io. */
static void split_domain(const char *s, const char **dom, size_t *dom_len, const char **rest)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : 0;
    bool upper = false;
    for (size_t i = 0; i < n; i++)
        upper |= (s[i] >= 'A' && s[i] <= 'Z');
    if (!slash || (!memchr(s, '.', n) && !memchr(s, ':', n) &&
                   !(n == 9 && memcmp(s, "localhost", 9) == 0) && !upper)) {
        *dom = DEFAULT_DOMAIN;
        *dom_len = strlen(DEFAULT_DOMAIN);
        *rest = s;
        return;
    }
    *dom = s;
    *dom_len = n;
    *rest = slash + 1;
    if (n == strlen(LEGACY_DOMAIN) && memcmp(s, LEGACY_DOMAIN, n) == 0) {
        *dom = DEFAULT_DOMAIN;
        *dom_len = strlen(DEFAULT_DOMAIN);
    }
}

static int parse_path(struct lzs_oci_ref *out, const char *s, const char *p, size_t n,
                      lzs_error **err)
{
    bool official = strcmp(out->domain, DEFAULT_DOMAIN) == 0 && !memchr(p, '/', n);
    size_t total = strlen(out->domain) + 1 + (official ? strlen(OFFICIAL_PREFIX) : 0) + n;
    if (total > LZS_OCI_NAME_MAX)
        return fail(err, s, "repository name longer than %d characters", LZS_OCI_NAME_MAX);
    snprintf(out->path, sizeof(out->path), "%s%.*s", official ? OFFICIAL_PREFIX : "", (int)n, p);
    for (const char *c = out->path;;) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (!valid_path_component(c, len)) {
            char comp[LZS_OCI_NAME_MAX + 1];
            snprintf(comp, sizeof(comp), "%.*s", (int)len, c);
            return fail(err, s, "invalid path component '%s'", comp);
        }
        if (!end)
            return 0;
        c = end + 1;
    }
}

static int parse_digest(struct lzs_oci_ref *out, const char *s, const char *at, lzs_error **err)
{
    if (!at)
        return 0;
    char q[260], m[260];
    lzs_autoerr lzs_error *e = NULL;
    if (lzs_digest_parse(&out->digest, at + 1, &e) < 0)
        return lzs_error_set(err, EINVAL, "invalid reference '%s': %s", quote(s, q),
                             quote(e->msg, m));
    out->has_digest = true;
    return 0;
}

int lzs_oci_ref_parse(struct lzs_oci_ref *out, const char *s, lzs_error **err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return fail(err, "", "%s", "reference is empty");
    if (is_identifier(s))
        return fail(err, s, "%s", "a 64-character hex string cannot be a repository name");
    const char *dom, *rest;
    size_t dom_len;
    split_domain(s, &dom, &dom_len, &rest);
    size_t remote = strcspn(rest, ":");
    for (size_t i = 0; i < remote; i++)
        if (rest[i] >= 'A' && rest[i] <= 'Z')
            return fail(err, s, "%s", "repository name must be lowercase");
    if (dom_len > LZS_OCI_NAME_MAX || !valid_domain(dom, dom_len)) {
        char d[LZS_OCI_NAME_MAX + 1];
        snprintf(d, sizeof(d), "%.*s", (int)(dom_len > 255 ? 255 : dom_len), dom);
        return fail(err, s, "invalid domain '%s'", d);
    }
    snprintf(out->domain, sizeof(out->domain), "%.*s", (int)dom_len, dom);
    const char *at = strchr(rest, '@');
    size_t name_end = at ? (size_t)(at - rest) : strlen(rest);
    const char *colon = memchr(rest, ':', name_end);
    size_t path_len = colon ? (size_t)(colon - rest) : name_end;
    int rc = parse_path(out, s, rest, path_len, err);
    if (rc < 0)
        return rc;
    if (colon) {
        size_t tag_len = name_end - path_len - 1;
        if (!valid_tag(colon + 1, tag_len)) {
            char t[LZS_OCI_TAG_MAX + 2];
            snprintf(t, sizeof(t), "%.*s", (int)(tag_len > 129 ? 129 : tag_len), colon + 1);
            return fail(err, s, "invalid tag '%s'", t);
        }
        memcpy(out->tag, colon + 1, tag_len);
    }
    rc = parse_digest(out, s, at, err);
    if (rc < 0)
        return rc;
    if (!colon && !at)
        memcpy(out->tag, "latest", sizeof("latest"));
    return 0;
}

static void append_tag_digest(const struct lzs_oci_ref *r, char *buf, size_t off)
{
    if (r->tag[0])
        off += (size_t)snprintf(buf + off, LZS_OCI_REF_STR_MAX - off, ":%s", r->tag);
    if (r->has_digest) {
        char d[LZS_DIGEST_STR_MAX];
        snprintf(buf + off, LZS_OCI_REF_STR_MAX - off, "@%s", lzs_digest_format(&r->digest, d));
    }
}

const char *lzs_oci_ref_name(const struct lzs_oci_ref *r, char buf[LZS_OCI_REF_STR_MAX])
{
    snprintf(buf, LZS_OCI_REF_STR_MAX, "%s/%s", r->domain, r->path);
    return buf;
}

const char *lzs_oci_ref_string(const struct lzs_oci_ref *r, char buf[LZS_OCI_REF_STR_MAX])
{
    lzs_oci_ref_name(r, buf);
    append_tag_digest(r, buf, strlen(buf));
    return buf;
}

/* docker.io and library/ are dropped as docker does, except when the path's first component
 * would then read as a domain ("docker.io/foo.com/x"): the familiar form must parse back. */
const char *lzs_oci_ref_familiar(const struct lzs_oci_ref *r, char buf[LZS_OCI_REF_STR_MAX])
{
    const char *path = r->path;
    size_t first = strcspn(path, "/");
    bool domainish = memchr(path, '.', first) || memchr(path, ':', first) ||
                     (first == 9 && memcmp(path, "localhost", 9) == 0);
    if (strcmp(r->domain, DEFAULT_DOMAIN) != 0 || (domainish && path[first] == '/')) {
        lzs_oci_ref_name(r, buf);
    } else {
        size_t plen = strlen(OFFICIAL_PREFIX);
        if (strncmp(path, OFFICIAL_PREFIX, plen) == 0 && !strchr(path + plen, '/'))
            path += plen;
        snprintf(buf, LZS_OCI_REF_STR_MAX, "%s", path);
    }
    append_tag_digest(r, buf, strlen(buf));
    return buf;
}

const char *lzs_oci_registry_host(const char *domain)
{
    if (strcmp(domain, DEFAULT_DOMAIN) == 0)
        return "registry-1.docker.io";
    return domain;
}
