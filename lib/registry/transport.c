/* registry: the request engine. One operation is tried on each endpoint with the capability it
 * needs; on one endpoint its requests follow redirects (at most REG_MAX_REDIRECTS, Authorization
 * and the endpoint's headers only for the endpoint's origin), answer 401 challenges, and are
 * retried with backoff on retryable failures, within the operation's deadline. */
#include "registry_i.h"

#include <string.h>
#include <time.h>

/* ---- classifying an attempt (pure) ----------------------------------------------------------- */

static enum reg_action classify_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return REG_NEXT; /* retried when it is the only endpoint */
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return REG_RETRY;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
        return REG_FAIL;
    default:
        return REG_NEXT; /* TLS verification, proxy failures...: this endpoint is unusable */
    }
}

enum reg_action reg_classify(long status, CURLcode cc, int sink_code, bool has_location)
{
    if (sink_code)
        return sink_code == REG_SINK_RETRYABLE ? REG_RETRY : REG_FAIL;
    if (cc != CURLE_OK)
        return classify_curl(cc);
    if (status >= 200 && status < 300)
        return REG_DONE;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308)
        return has_location ? REG_REDIRECT : REG_FAIL;
    if (status == 401)
        return REG_AUTH;
    if (status == 404)
        return REG_NEXT;
    if (status == 408 || status == 429 ||
        (status >= 500 && status < 600 && status != 501 && status != 505))
        return REG_RETRY;
    return REG_FAIL;
}

int reg_status_errno(long status)
{
    switch (status) {
    case 400:
        return EINVAL;
    case 401:
    case 403:
        return EACCES;
    case 404:
    case 410:
        return ENOENT;
    case 405:
    case 501:
        return ENOTSUP;
    case 408:
        return ETIMEDOUT;
    case 413:
        return EMSGSIZE;
    case 416:
        return ERANGE;
    case 429:
    case 502:
    case 503:
    case 504:
        return EAGAIN;
    default:
        return status >= 300 && status < 400 ? EPROTO : EIO;
    }
}

int reg_curl_errno(CURLcode cc, long os_errno)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        return os_errno == EHOSTUNREACH || os_errno == ENETUNREACH ? (int)os_errno : ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return ETIMEDOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        return ECONNRESET;
    case CURLE_ABORTED_BY_CALLBACK:
        return ECANCELED;
    case CURLE_OUT_OF_MEMORY:
        return ENOMEM;
    default:
        return EPROTO; /* short bodies, TLS, HTTP/2 framing... */
    }
}

/* ---- one operation on one endpoint ----------------------------------------------------------- */

struct call {
    lzs_registry *r;
    lzs_repo *repo; /* NULL: a plain request (token realm) */
    struct reg_op *op;
    const struct reg_endpoint *ep;
    const char *origin; /* Authorization and endpoint headers go to this origin only */
    const char *host;   /* the endpoint's host: auth state and credentials */
    const char *method;
    char *first_url;   /* where the operation starts */
    char *url;         /* this attempt */
    char *auth;        /* Authorization value, or NULL */
    bool auth_fresh;   /* obtained during this call: a 401 to it is final */
    bool from_cache;   /* url is a cached final URL of the blob */
    bool cache_failed; /* a cached URL failed: this call goes through the registry */
    bool only;         /* the only endpoint: connection failures are retried */
    unsigned attempts, redirects, auth_rounds;
    uint64_t deadline; /* 0: none (streams) */
    uint64_t progress_mark;
    struct reg_http h;
};

static void call_dispose(struct call *c)
{
    free(c->first_url), free(c->url), free(c->auth);
    reg_resp_dispose(&c->h.resp);
    lzs_error_free(&c->h.sink_err);
}

static bool is_same_origin(const struct call *c)
{
    return reg_url_same_origin(c->url, c->origin);
}

/* "GET http://host/v2/...": the start of every message of this call. */
static void describe(const struct call *c, struct lzs_buf *b)
{
    lzs_autofree char *url = reg_url_for_message(c->url, c->origin);
    lzs_buf_printf(b, NULL, "%s %s", c->method, url ? url : "?");
}

/* An error of this call: "GET URL: " and the message, with the last HTTP status. */
static int call_error(const struct call *c, lzs_error **err, int code, const char *fmt, ...)
    LZS_PRINTF(4, 5);

static int call_error(const struct call *c, lzs_error **err, int code, const char *fmt, ...)
{
    struct lzs_buf b = LZS_BUF_INIT(16384);
    describe(c, &b);
    lzs_buf_append_str(&b, ": ", NULL);
    va_list ap;
    va_start(ap, fmt);
    lzs_buf_vprintf(&b, NULL, fmt, ap);
    va_end(ap);
    int rc = lzs_error_set_http(err, code, (int)c->h.resp.status, "%s", lzs_buf_cstr(&b));
    lzs_buf_dispose(&b);
    return rc;
}

static bool add_header(struct curl_slist **list, const char *fmt, ...) LZS_PRINTF(2, 3);

static bool add_header(struct curl_slist **list, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (l)
        *list = l;
    return l != NULL;
}

static bool endpoint_headers(const struct call *c, struct curl_slist **list)
{
    const struct lzs_config_endpoint *cfg = c->ep ? c->ep->cfg : NULL;
    for (size_t i = 0; cfg && i < cfg->nheaders; i++)
        for (size_t j = 0; j < cfg->headers[i].nvalues; j++)
            if (!add_header(list, "%s: %s", cfg->headers[i].name, cfg->headers[i].values[j]))
                return false;
    return true;
}

static struct curl_slist *build_headers(const struct call *c)
{
    struct curl_slist *l = NULL;
    const struct reg_op *op = c->op;
    char range[96] = "";
    if (op->sink && op->sink->begin)
        op->sink->begin(op->ctx, range, sizeof(range));
    bool origin = is_same_origin(c);
    bool body = strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0;
    bool ok =
        (!op->accept || add_header(&l, "Accept: %s", op->accept)) &&
        (!range[0] || add_header(&l, "Range: %s", range)) &&
        (!body || !op->content_type || add_header(&l, "Content-Type: %s", op->content_type)) &&
        (!body || add_header(&l, "Expect:")) &&
        (!origin || !c->auth || add_header(&l, "Authorization: %s", c->auth)) &&
        (!origin || endpoint_headers(c, &l));
    if (!ok) {
        curl_slist_free_all(l);
        return NULL;
    }
    return l ? l : curl_slist_append(NULL, "Accept: */*");
}

static uint64_t time_left(const struct call *c)
{
    uint64_t now = reg_now_ms();
    return !c->deadline ? 0 : c->deadline > now ? c->deadline - now : 1;
}

static int perform(struct call *c, lzs_error **err)
{
    struct reg_http *h = &c->h;
    h->headers = build_headers(c);
    if (!h->headers)
        return lzs_error_set(err, ENOMEM, "out of memory");
    h->method = c->method;
    h->url = c->url;
    h->has_body = strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0;
    h->body = h->has_body ? c->op->body : NULL;
    h->body_len = h->has_body ? c->op->body_len : 0;
    h->ep = c->ep;
    h->timeout_ms = time_left(c);
    h->stall_ms = !h->timeout_ms || c->r->stall_ms < h->timeout_ms ? c->r->stall_ms : 0;
    h->cancel = c->op->cancel;
    h->sink = c->op->sink;
    h->ctx = c->op->ctx;
    int rc = reg_http_perform(c->r, h, err);
    curl_slist_free_all(h->headers);
    h->headers = NULL;
    const struct reg_resp *resp = &h->resp;
    if (rc == 0 && resp->cc == CURLE_OK && resp->status >= 200 && resp->status < 300 &&
        !h->sink_err && !h->sink_stopped && h->sink && h->sink->end)
        h->sink->end(h->ctx, resp, &h->sink_err);
    return rc;
}

/* The transfer's curl code, except for an error response whose body broke off: only the status
 * counts then (distribution answers a 416 with the blob's Content-Length and a short text). */
static CURLcode effective_cc(const struct reg_resp *resp)
{
    bool error_status = resp->status >= 300 || resp->status < 200;
    return resp->headers_done && error_status && resp->cc != CURLE_ABORTED_BY_CALLBACK ? CURLE_OK
                                                                                       : resp->cc;
}

static enum reg_action action_of(const struct call *c)
{
    const struct reg_resp *resp = &c->h.resp;
    if (c->h.sink_stopped)
        return REG_DONE;
    enum reg_action a =
        reg_classify(resp->status, effective_cc(resp), c->h.sink_err ? c->h.sink_err->code : 0,
                     resp->location != NULL);
    if (a == REG_AUTH && (!c->repo || !is_same_origin(c)))
        a = REG_FAIL; /* a 401 from storage, or from a token realm */
    CURLcode cc = effective_cc(resp);
    bool unreachable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                       cc == CURLE_COULDNT_RESOLVE_PROXY;
    if (a == REG_NEXT && unreachable && c->only)
        a = REG_RETRY; /* nowhere else to go: the registry may be restarting */
    return a;
}

/* The status part of a message: "404 blob unknown to registry". */
static void describe_status(const struct call *c, struct lzs_buf *b)
{
    const struct reg_resp *resp = &c->h.resp;
    char msg[256];
    if (!reg_error_body_message(resp->errbody.data, resp->errbody.len, msg, sizeof(msg)))
        snprintf(msg, sizeof(msg), "%s", resp->reason[0] ? resp->reason : "unexpected status");
    lzs_buf_printf(b, NULL, ": %ld %s", resp->status, msg);
    if ((resp->status == 401 || resp->status == 403) && c->repo && is_same_origin(c)) {
        lzs_autofree char *hint = reg_auth_hint(c->r, c->host);
        lzs_buf_append_str(b, hint ? hint : "", NULL);
    }
}

/* The error of the call's last attempt; with the number of attempts when it is final. */
static int attempt_error(struct call *c, bool final, lzs_error **err)
{
    const struct reg_resp *resp = &c->h.resp;
    struct lzs_buf b = LZS_BUF_INIT(16384);
    int code;
    describe(c, &b);
    if (c->h.sink_err) {
        code = c->h.sink_err->code;
        lzs_buf_printf(&b, NULL, ": %s", c->h.sink_err->msg);
    } else if (effective_cc(resp) != CURLE_OK) {
        code = reg_curl_errno(resp->cc, resp->os_errno);
        lzs_buf_printf(&b, NULL, ": %s",
                       resp->curl_err[0] ? resp->curl_err : curl_easy_strerror(resp->cc));
    } else {
        code = reg_status_errno(resp->status);
        describe_status(c, &b);
    }
    if (final && c->attempts > 0)
        lzs_buf_printf(&b, NULL, " (%u attempts)", c->attempts + 1);
    int rc = lzs_error_set_http(err, code, (int)resp->status, "%s", lzs_buf_cstr(&b));
    lzs_buf_dispose(&b);
    return rc;
}

static int fail(struct call *c, lzs_error **err)
{
    return attempt_error(c, true, err);
}

static int follow(struct call *c, lzs_error **err)
{
    if (++c->redirects > REG_MAX_REDIRECTS)
        return call_error(c, err, EPROTO, "more than %d redirects", REG_MAX_REDIRECTS);
    char *next = reg_url_resolve(c->url, c->h.resp.location);
    if (!next)
        return call_error(c, err, EPROTO, "bad redirect Location \"%.200s\"", c->h.resp.location);
    if (c->h.resp.status == 303 && strcmp(c->method, "HEAD") != 0)
        c->method = "GET";
    free(c->url);
    c->url = next;
    return 0;
}

static int reauth(struct call *c, lzs_error **err)
{
    if (c->auth_fresh || ++c->auth_rounds > 2)
        return fail(c, err);
    const char *scope = c->op->push ? c->repo->scope_push : c->repo->scope_pull;
    const char *www = c->h.resp.www_auth ? c->h.resp.www_auth : "";
    lzs_error *e = NULL;
    int rc = reg_auth_challenge(c->r, c->host, scope, www, c->auth, &e);
    free(c->auth);
    c->auth = NULL;
    if (rc == 0)
        rc = reg_auth_value(c->r, c->host, scope, c->deadline, c->op->cancel, &c->auth,
                            &c->auth_fresh, &e);
    if (rc < 0)
        rc = call_error(c, err, -rc, "401: %s", lzs_error_msg(e));
    lzs_error_free(&e);
    c->auth_fresh = true;
    if (rc == 0 && !c->auth)
        return fail(c, err); /* Basic asked for, and we have no credentials */
    return rc;
}

/* Where the next attempt starts: the blob's cached final URL, else the first URL. */
static int restart(struct call *c, lzs_error **err)
{
    bool use_cache = c->op->blob_key && c->repo && !c->cache_failed;
    char *cached = use_cache ? reg_blob_url_get(c->r, c->op->blob_key) : NULL;
    free(c->url);
    c->from_cache = cached != NULL;
    c->url = cached ? cached : strdup(c->first_url);
    c->redirects = 0;
    c->method = c->op->method;
    return c->url ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}

static uint64_t retry_delay(const struct call *c)
{
    uint64_t delay = reg_backoff_ms(c->attempts), after;
    const struct reg_resp *resp = &c->h.resp;
    if (resp->retry_after && (resp->status == 429 || resp->status == 503) &&
        reg_retry_after_parse(resp->retry_after, (int64_t)time(NULL), &after) == 0 && after > delay)
        delay = !c->deadline && after > REG_RETRY_AFTER_MAX_MS ? REG_RETRY_AFTER_MAX_MS : after;
    return delay;
}

static int backoff(struct call *c, bool *next, lzs_error **err)
{
    if (c->op->stream && c->op->progress > c->progress_mark)
        c->attempts = 0; /* a stream that moved forward starts counting again */
    c->progress_mark = c->op->progress;
    if (c->attempts >= c->r->retries) {
        *next = true;
        return fail(c, err);
    }
    c->attempts++;
    uint64_t delay = retry_delay(c);
    if (c->deadline && reg_now_ms() + delay >= c->deadline) {
        c->attempts--;
        return fail(c, err); /* no time left for another attempt */
    }
    lzs_error *why = NULL;
    attempt_error(c, false, &why);
    LZS_WARN("%s; retrying in %" PRIu64 " ms (attempt %u of %u)", lzs_error_msg(why), delay,
             c->attempts + 1, c->r->retries + 1);
    lzs_error_free(&why);
    if (!reg_sleep_ms(delay, c->op->cancel))
        return call_error(c, err, ECANCELED, "cancelled");
    atomic_fetch_add_explicit(&c->r->retries_done, 1, memory_order_relaxed);
    return restart(c, err);
}

static int check_time(const struct call *c, lzs_error **err)
{
    if (c->op->cancel && atomic_load(c->op->cancel))
        return call_error(c, err, ECANCELED, "cancelled");
    if (c->deadline && reg_now_ms() >= c->deadline)
        return call_error(c, err, ETIMEDOUT, "no answer within %" PRIu64 " ms", c->r->timeout_ms);
    return 0;
}

/* The final URL of a blob answered with content: remembered for the next reads. */
static void remember_url(struct call *c)
{
    const struct reg_resp *resp = &c->h.resp;
    if (c->op->blob_key && c->repo && !c->from_cache && resp->status >= 200 && resp->status < 300 &&
        strcmp(c->url, c->first_url) != 0)
        reg_blob_url_set(c->r, c->op->blob_key, c->url);
}

static int call_run(struct call *c, bool *next, lzs_error **err)
{
    for (;;) {
        int rc = check_time(c, err);
        if (rc == 0)
            rc = perform(c, err);
        if (rc < 0)
            return rc;
        enum reg_action a = action_of(c);
        if (a == REG_DONE || a == REG_RETRY)
            remember_url(c);
        if (a == REG_DONE)
            return 0;
        if (c->from_cache && a != REG_REDIRECT) {
            LZS_DEBUG("cached URL of %s failed: asking the registry again", c->op->blob_key);
            reg_blob_url_drop(c->r, c->op->blob_key);
            c->cache_failed = true;
            if ((rc = restart(c, err)) < 0)
                return rc;
            continue;
        }
        if (a == REG_NEXT || a == REG_FAIL) {
            *next = a == REG_NEXT;
            return fail(c, err);
        }
        rc = a == REG_REDIRECT ? follow(c, err)
             : a == REG_AUTH   ? reauth(c, err)
                               : backoff(c, next, err);
        if (rc < 0)
            return rc;
    }
}

static int call_start(struct call *c, lzs_error **err)
{
    c->first_url = c->url ? strdup(c->url) : NULL;
    if (!c->first_url)
        return lzs_error_set(err, ENOMEM, "out of memory");
    int rc = restart(c, err);
    if (rc < 0 || !c->repo)
        return rc;
    const char *scope = c->op->push ? c->repo->scope_push : c->repo->scope_pull;
    lzs_error *e = NULL;
    rc = reg_auth_value(c->r, c->host, scope, c->deadline, c->op->cancel, &c->auth, &c->auth_fresh,
                        &e);
    if (rc < 0)
        rc = call_error(c, err, -rc, "%s", lzs_error_msg(e));
    lzs_error_free(&e);
    return rc;
}

static int endpoint_do(lzs_repo *repo, struct reg_op *op, const struct reg_endpoint *ep, bool only,
                       uint64_t deadline, bool *next, lzs_error **err)
{
    struct call c = {.r = repo->r,
                     .repo = repo,
                     .op = op,
                     .ep = ep,
                     .origin = ep->cfg->url,
                     .host = ep->cfg->host,
                     .only = only,
                     .deadline = deadline};
    const char *ns = op->ns && ep->is_proxy ? repo->domain : NULL;
    c.url = op->url ? strdup(op->url) : reg_url_api(ep->cfg->url, repo->path, op->suffix, ns);
    int rc = call_start(&c, err);
    if (rc == 0)
        rc = call_run(&c, next, err);
    call_dispose(&c);
    return rc;
}

static bool eligible(const struct reg_op *op, const struct reg_endpoint *ep)
{
    return op->ep ? op->ep == ep : (ep->cfg->caps & op->caps) == op->caps;
}

static const char *caps_name(unsigned caps)
{
    return caps & LZS_HOST_CAP_PUSH ? "push" : caps & LZS_HOST_CAP_RESOLVE ? "resolve" : "pull";
}

int reg_repo_do(lzs_repo *repo, struct reg_op *op, lzs_error **err)
{
    size_t n = 0, tried = 0;
    for (size_t i = 0; i < repo->neps; i++)
        n += eligible(op, &repo->eps[i]);
    if (n == 0)
        return lzs_error_set(err, ENOTSUP, "%s: no endpoint with the %s capability", repo->name,
                             caps_name(op->caps));
    uint64_t deadline = op->stream ? 0 : reg_now_ms() + repo->r->timeout_ms;
    lzs_error *last = NULL;
    int rc = 0;
    for (size_t i = 0; i < repo->neps; i++) {
        if (!eligible(op, &repo->eps[i]))
            continue;
        bool next = false;
        lzs_error_free(&last);
        rc = endpoint_do(repo, op, &repo->eps[i], n == 1, deadline, &next, &last);
        if (rc == 0) {
            op->used = &repo->eps[i];
            return 0;
        }
        if (!next || ++tried == n)
            break;
        LZS_INFO("%s; trying the next endpoint", lzs_error_msg(last));
    }
    if (err)
        *err = last;
    else
        lzs_error_free(&last);
    return rc;
}

int reg_plain_do(lzs_registry *r, struct reg_op *op, uint64_t deadline, lzs_error **err)
{
    struct call c = {.r = r, .op = op, .origin = op->url, .only = true, .deadline = deadline};
    c.url = strdup(op->url);
    c.auth = lzs_strdup0(op->auth);
    bool next = false;
    int rc = op->auth && !c.auth ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = call_start(&c, err);
    if (rc == 0)
        rc = call_run(&c, &next, err);
    call_dispose(&c);
    return rc;
}

/* ---- a body read into memory ----------------------------------------------------------------- */

static void buf_begin(void *ctx, char *range, size_t len)
{
    (void)range, (void)len;
    lzs_buf_reset(ctx); /* every attempt reads the body from its start */
}

static int buf_data(void *ctx, const char *p, size_t n, lzs_error **err)
{
    struct lzs_buf *b = ctx;
    if (n > b->max - 1 - b->len)
        return lzs_error_set(err, EMSGSIZE, "body larger than %zu bytes", b->max - 1);
    return lzs_buf_append(b, p, n, err);
}

const struct reg_sink reg_buf_sink = {.begin = buf_begin, .data = buf_data};

int reg_fetch_body(lzs_registry *r, struct reg_op *op, uint64_t deadline, struct lzs_buf *body,
                   lzs_error **err)
{
    op->sink = &reg_buf_sink;
    op->ctx = body;
    return reg_plain_do(r, op, deadline, err);
}
