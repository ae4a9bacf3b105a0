/* registry: manifests and indexes: GET by tag or digest (checked against the digest and the
 * registry's Docker-Content-Digest), and PUT. */
#include "registry_i.h"

#include <ctype.h>
#include <string.h>

#define MANIFEST_ACCEPT                                                       \
    LZS_OCI_MT_MANIFEST ", " LZS_OCI_MT_INDEX ", " LZS_OCI_MT_DOCKER_MANIFEST \
                        ", " LZS_OCI_MT_DOCKER_LIST

/* ---- a manifest read into memory, with the headers that describe it -------------------------- */

void reg_doc_init(struct reg_doc *d)
{
    memset(d, 0, sizeof(*d));
    lzs_buf_init(&d->body, LZS_REGISTRY_MANIFEST_MAX + 1);
}

void reg_doc_dispose(struct reg_doc *d)
{
    lzs_buf_dispose(&d->body);
    free(d->content_type), free(d->docker_digest);
    memset(d, 0, sizeof(*d));
}

static void doc_begin(void *ctx, char *range, size_t len)
{
    reg_buf_sink.begin(&((struct reg_doc *)ctx)->body, range, len);
}

static int doc_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    struct reg_doc *d = ctx;
    if (r->content_length > (int64_t)LZS_REGISTRY_MANIFEST_MAX)
        return lzs_error_set(err, EMSGSIZE, "manifest of %" PRId64 " bytes, more than %u",
                             r->content_length, (unsigned)LZS_REGISTRY_MANIFEST_MAX);
    free(d->content_type), free(d->docker_digest);
    d->content_type = r->content_type ? reg_media_type(r->content_type) : NULL;
    d->docker_digest = lzs_strdup0(r->docker_digest);
    if ((r->content_type && !d->content_type) || (r->docker_digest && !d->docker_digest))
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static int doc_data(void *ctx, const char *p, size_t n, lzs_error **err)
{
    return reg_buf_sink.data(&((struct reg_doc *)ctx)->body, p, n, err);
}

const struct reg_sink reg_doc_sink = {.begin = doc_begin, .headers = doc_headers, .data = doc_data};

/* The Docker-Content-Digest the registry sent must be the digest of body. */
int reg_doc_check_digest(const char *header, const void *body, size_t n, const char *what,
                         lzs_error **err)
{
    struct lzs_digest sent;
    if (!header || lzs_digest_parse(&sent, header, NULL) < 0)
        return 0; /* absent, or an algorithm we do not know: nothing to check */
    int rc = lzs_digest_verify(&sent, body, n, err);
    return rc < 0 ? lzs_error_wrap(err, "%s: Docker-Content-Digest %s", what, header) : 0;
}

/* ---- GET ------------------------------------------------------------------------------------- */

/* A tag (distribution's [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or a digest (*d set). */
static int check_reference(const char *ref, struct lzs_digest *d, bool *is_digest, lzs_error **err)
{
    *is_digest = strchr(ref, ':') != NULL;
    if (*is_digest)
        return lzs_digest_parse(d, ref, err);
    size_t n = strlen(ref);
    bool ok = n > 0 && n <= LZS_OCI_TAG_MAX && ref[0] != '.' && ref[0] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)ref[i]) || ref[i] == '_' || ref[i] == '.' || ref[i] == '-';
    return ok ? 0 : lzs_error_set(err, EINVAL, "invalid tag or digest \"%.150s\"", ref);
}

int reg_doc_take(struct reg_doc *d, const struct lzs_digest *want, const char *what,
                 struct lzs_repo_manifest *m, lzs_error **err)
{
    struct lzs_digest got;
    int rc = lzs_digest_buf(want ? want->algo : LZS_DIGEST_SHA256, lzs_buf_cstr(&d->body),
                            d->body.len, &got, err);
    if (rc == 0 && want && !lzs_digest_is_equal(want, &got))
        rc = lzs_digest_verify(want, lzs_buf_cstr(&d->body), d->body.len, err);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", what);
    rc = reg_doc_check_digest(d->docker_digest, lzs_buf_cstr(&d->body), d->body.len, what, err);
    if (rc < 0)
        return rc;
    char *ct =
        d->content_type ? lzs_steal_ptr(&d->content_type) : strdup("application/octet-stream");
    if (!ct)
        return lzs_error_set(err, ENOMEM, "out of memory");
    m->content_type = ct;
    m->digest = got;
    m->body = d->body;
    lzs_buf_init(&d->body, LZS_REGISTRY_MANIFEST_MAX + 1);
    return 0;
}

static int fill_manifest(const lzs_repo *repo, const char *reference, struct reg_doc *d,
                         const struct lzs_digest *want, struct lzs_repo_manifest *m,
                         lzs_error **err)
{
    char what[LZS_OCI_REF_STR_MAX + 64];
    snprintf(what, sizeof(what), "manifest %s%s%s", repo->name, want ? "@" : ":", reference);
    return reg_doc_take(d, want, what, m, err);
}

int lzs_repo_get_manifest(lzs_repo *repo, const char *reference, const char *extra_accept,
                          struct lzs_repo_manifest *m, lzs_error **err)
{
    struct lzs_digest want;
    bool is_digest;
    int rc = check_reference(reference, &want, &is_digest, err);
    if (rc < 0)
        return lzs_error_wrap(err, "%s", repo->name);
    lzs_autofree char *suffix = NULL, *accept = NULL;
    if (asprintf(&suffix, "/manifests/%s", reference) < 0 ||
        asprintf(&accept, "%s%s%s", MANIFEST_ACCEPT, extra_accept ? ", " : "",
                 extra_accept ? extra_accept : "") < 0)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct reg_doc d;
    reg_doc_init(&d);
    struct reg_op op = {.method = "GET",
                        .suffix = suffix,
                        .ns = true,
                        .accept = accept,
                        .caps = is_digest ? LZS_HOST_CAP_PULL : LZS_HOST_CAP_RESOLVE,
                        .sink = &reg_doc_sink,
                        .ctx = &d};
    rc = reg_repo_do(repo, &op, err);
    if (rc == 0)
        rc = fill_manifest(repo, reference, &d, is_digest ? &want : NULL, m, err);
    reg_doc_dispose(&d);
    return rc;
}

void lzs_repo_manifest_dispose(struct lzs_repo_manifest *m)
{
    lzs_buf_dispose(&m->body);
    free(m->content_type);
    memset(m, 0, sizeof(*m));
}

/* ---- PUT ------------------------------------------------------------------------------------- */

static int put_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    char **digest = ctx;
    free(*digest);
    *digest = lzs_strdup0(r->docker_digest);
    return r->docker_digest && !*digest ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
}

static const struct reg_sink put_sink = {.headers = put_headers};

int lzs_repo_put_manifest(lzs_repo *repo, const char *reference, const char *media_type,
                          const void *body, size_t n, lzs_error **err)
{
    struct lzs_digest d;
    bool is_digest;
    int rc = check_reference(reference, &d, &is_digest, err);
    if (rc == 0 && is_digest)
        rc = lzs_digest_verify(&d, body, n, err);
    if (rc < 0)
        return lzs_error_wrap(err, "manifest %s@%s", repo->name, reference);
    lzs_autofree char *suffix = NULL;
    lzs_autofree char *sent = NULL;
    if (asprintf(&suffix, "/manifests/%s", reference) < 0)
        return lzs_error_set(err, ENOMEM, "out of memory");
    struct reg_op op = {.method = "PUT",
                        .suffix = suffix,
                        .caps = LZS_HOST_CAP_PUSH,
                        .push = true,
                        .content_type = media_type,
                        .body = body,
                        .body_len = n,
                        .sink = &put_sink,
                        .ctx = &sent};
    rc = reg_repo_do(repo, &op, err);
    if (rc == 0)
        rc = reg_doc_check_digest(sent, body, n, "manifest put", err);
    return rc;
}
