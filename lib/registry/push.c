/* registry: monolithic blob upload: HEAD (already there?), POST /blobs/uploads/, then PUT
 * Location?digest=D with the whole body, on the endpoint that opened the upload. */
#include "registry_i.h"

#include <string.h>

/* The upload URL: Location of the POST's answer, resolved against the URL that was asked. */
static int location_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    char **location = ctx;
    free(*location);
    *location = NULL;
    if (!r->location)
        return lzs_error_set_http(err, EPROTO, (int)r->status, "no Location for the upload");
    *location = reg_url_resolve(r->url, r->location);
    if (!*location)
        return lzs_error_set_http(err, EPROTO, (int)r->status, "bad upload Location \"%.200s\"",
                                  r->location);
    return 0;
}

static const struct reg_sink location_sink = {.headers = location_headers};

static int digest_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    char **digest = ctx;
    free(*digest);
    *digest = lzs_strdup0(r->docker_digest);
    return r->docker_digest && !*digest ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
}

static const struct reg_sink digest_sink = {.headers = digest_headers};

/* POST then PUT: one upload session. */
static int upload(lzs_repo *repo, const char *dg, const void *p, size_t n, lzs_error **err)
{
    lzs_autofree char *location = NULL;
    lzs_autofree char *sent = NULL;
    struct reg_op post = {.method = "POST",
                          .suffix = "/blobs/uploads/",
                          .caps = LZS_HOST_CAP_PUSH,
                          .push = true,
                          .sink = &location_sink,
                          .ctx = &location};
    int rc = reg_repo_do(repo, &post, err);
    if (rc < 0)
        return rc;
    lzs_autofree char *url = reg_url_add_query(location, "digest", dg);
    if (!url)
        return lzs_error_set(err, EPROTO, "bad upload Location \"%.200s\"", location);
    struct reg_op put = {.method = "PUT",
                         .url = url,
                         .ep = post.used,
                         .caps = LZS_HOST_CAP_PUSH,
                         .push = true,
                         .content_type = "application/octet-stream",
                         .body = p,
                         .body_len = n,
                         .sink = &digest_sink,
                         .ctx = &sent};
    rc = reg_repo_do(repo, &put, err);
    if (rc == 0)
        rc = reg_doc_check_digest(sent, p, n, dg, err);
    return rc;
}

int lzs_repo_blob_push(lzs_repo *repo, const struct lzs_digest *d, const void *p, size_t n,
                       lzs_error **err)
{
    char dg[LZS_DIGEST_STR_MAX];
    lzs_digest_format(d, dg);
    int rc = lzs_digest_verify(d, p, n, err);
    if (rc < 0)
        return lzs_error_wrap(err, "blob %s", dg);
    char suffix[LZS_DIGEST_STR_MAX + 16];
    snprintf(suffix, sizeof(suffix), "/blobs/%s", dg);
    lzs_error *e = NULL;
    struct reg_op head = {
        .method = "HEAD", .suffix = suffix, .caps = LZS_HOST_CAP_PUSH, .push = true};
    rc = reg_repo_do(repo, &head, &e);
    if (rc != -ENOENT) {
        if (rc < 0 && err)
            *err = lzs_steal_ptr(&e);
        lzs_error_free(&e);
        return rc; /* there already, or the registry cannot be used */
    }
    for (int round = 0;; round++) {
        lzs_error_free(&e);
        rc = upload(repo, dg, p, n, &e);
        if (rc == 0 || round == 1 || rc == -EACCES || rc == -EBADMSG || rc == -ETIMEDOUT)
            break;
        LZS_WARN("%s; starting the upload again", lzs_error_msg(e)); /* a new session */
    }
    if (rc < 0 && err)
        *err = lzs_steal_ptr(&e);
    lzs_error_free(&e);
    return rc;
}
