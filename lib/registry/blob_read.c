/* registry: blobs by range (one single-range GET, resumed when the body is short) and HEAD. A
 * 206 must answer exactly the range asked for; a 200 (the server ignored Range) is read from the
 * start, skipping what comes before the range and cutting the transfer after it. */
#include "registry_i.h"

#include <string.h>

struct range {
    lzs_registry *r;
    struct reg_op *op;
    char *buf;
    size_t n;
    uint64_t off;
    size_t got;    /* bytes of buf filled so far (kept across attempts) */
    uint64_t skip; /* bytes of this response's body to drop first (a 200) */
    uint64_t want; /* bytes this response must still give */
    bool whole;    /* this response is a 200 with the whole blob */
};

static void range_begin(void *ctx, char *range, size_t len)
{
    struct range *s = ctx;
    snprintf(range, len, "bytes=%" PRIu64 "-%" PRIu64, s->off + s->got, s->off + s->n - 1);
}

static int check_206(struct range *s, const struct reg_resp *r, lzs_error **err)
{
    struct reg_content_range cr;
    uint64_t start = s->off + s->got, end = s->off + s->n - 1;
    if (!r->content_range || reg_content_range_parse(&cr, r->content_range) < 0 ||
        cr.start != start || cr.end != end)
        return lzs_error_set_http(err, REG_SINK_RETRYABLE, 206,
                                  "Content-Range \"%.100s\" does not answer bytes=%" PRIu64
                                  "-%" PRIu64,
                                  r->content_range ? r->content_range : "(none)", start, end);
    if (r->content_length >= 0 && (uint64_t)r->content_length != end - start + 1)
        return lzs_error_set_http(err, REG_SINK_RETRYABLE, 206,
                                  "Content-Length %" PRId64 " for a range of %" PRIu64 " bytes",
                                  r->content_length, end - start + 1);
    s->whole = false;
    s->skip = 0;
    s->want = end - start + 1;
    return 0;
}

static int check_200(struct range *s, const struct reg_resp *r, lzs_error **err)
{
    if (r->content_length >= 0 && (uint64_t)r->content_length < s->off + s->n)
        return lzs_error_set_http(err, ERANGE, 200,
                                  "blob of %" PRId64 " bytes has no range %" PRIu64 "+%zu",
                                  r->content_length, s->off, s->n);
    lzs_autofree char *host = reg_url_host(r->url);
    if (host && reg_warn_range_once(s->r, host))
        LZS_WARN("%s answers Range requests with whole blobs (200): reading from the start", host);
    s->whole = true;
    s->skip = s->off + s->got;
    s->want = s->n - s->got;
    return 0;
}

static int range_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    struct range *s = ctx;
    if (r->status == 206)
        return check_206(s, r, err);
    if (r->status == 200)
        return check_200(s, r, err);
    return lzs_error_set_http(err, EPROTO, (int)r->status, "status %ld to a range request",
                              r->status);
}

static int range_data(void *ctx, const char *p, size_t n, lzs_error **err)
{
    struct range *s = ctx;
    if (s->skip) {
        size_t drop = s->skip < n ? (size_t)s->skip : n;
        s->skip -= drop, p += drop, n -= drop;
    }
    if (n > s->want && !s->whole)
        return lzs_error_set_http(err, REG_SINK_RETRYABLE, 206,
                                  "more body bytes than the %zu bytes of the range", s->n);
    size_t take = n < s->want ? n : (size_t)s->want;
    memcpy(s->buf + s->got, p, take);
    s->got += take, s->want -= take;
    s->op->progress += take;
    return s->want == 0 && s->whole ? 1 : 0; /* a 200 is cut once the range is in */
}

static int range_end(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    struct range *s = ctx;
    if (s->want == 0)
        return 0;
    return lzs_error_set_http(err, REG_SINK_RETRYABLE, (int)r->status,
                              "body ended %" PRIu64 " bytes short of the range", s->want);
}

static const struct reg_sink range_sink = {
    .begin = range_begin, .headers = range_headers, .data = range_data, .end = range_end};

int lzs_repo_blob_read(lzs_repo *repo, const struct lzs_digest *d, void *buf, size_t n,
                       uint64_t off, lzs_error **err)
{
    uint64_t last;
    if (n == 0)
        return 0;
    if (lzs_add_overflow(off, (uint64_t)n - 1, &last))
        return lzs_error_set(err, ERANGE, "range %" PRIu64 "+%zu overflows", off, n);
    char dg[LZS_DIGEST_STR_MAX], suffix[LZS_DIGEST_STR_MAX + 16];
    lzs_digest_format(d, dg);
    snprintf(suffix, sizeof(suffix), "/blobs/%s", dg);
    struct reg_op op = {.method = "GET",
                        .suffix = suffix,
                        .ns = true,
                        .caps = LZS_HOST_CAP_PULL,
                        .blob_key = dg,
                        .sink = &range_sink};
    struct range s = {.r = repo->r, .op = &op, .buf = buf, .n = n, .off = off};
    op.ctx = &s;
    return reg_repo_do(repo, &op, err);
}

/* ---- HEAD ------------------------------------------------------------------------------------ */

static int stat_headers(void *ctx, const struct reg_resp *r, lzs_error **err)
{
    (void)err;
    int64_t *size = ctx;
    *size = r->content_length;
    return 0;
}

static const struct reg_sink stat_sink = {.headers = stat_headers};

int lzs_repo_blob_stat(lzs_repo *repo, const struct lzs_digest *d, uint64_t *size, lzs_error **err)
{
    char dg[LZS_DIGEST_STR_MAX], suffix[LZS_DIGEST_STR_MAX + 16];
    lzs_digest_format(d, dg);
    snprintf(suffix, sizeof(suffix), "/blobs/%s", dg);
    int64_t len = -1;
    /* no blob_key: storage URLs are often signed for one method (GET) */
    struct reg_op op = {.method = "HEAD",
                        .suffix = suffix,
                        .ns = true,
                        .caps = LZS_HOST_CAP_PULL,
                        .sink = &stat_sink,
                        .ctx = &len};
    int rc = reg_repo_do(repo, &op, err);
    if (rc < 0)
        return rc;
    if (size && len < 0)
        return lzs_error_set(err, EPROTO, "HEAD %s@%s: no Content-Length", repo->name, dg);
    if (size)
        *size = (uint64_t)len;
    return 0;
}
