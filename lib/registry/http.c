/* registry: one HTTP exchange on a pooled curl handle: options (TLS of the endpoint, timeouts,
 * stall detection, HTTP/2), response headers, the body handed to the operation's sink (2xx) or
 * kept for the error message. No policy here: redirects, auth and retries are transport.c's. */
#include "registry_i.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void reg_resp_reset(struct reg_resp *r)
{
    free(r->content_type), free(r->content_range), free(r->location);
    free(r->www_auth), free(r->retry_after), free(r->docker_digest);
    lzs_buf_dispose(&r->errbody);
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    lzs_buf_init(&r->errbody, REG_ERRBODY_MAX + 1);
}

void reg_resp_dispose(struct reg_resp *r)
{
    reg_resp_reset(r);
}

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* "HTTP/1.1 206 Partial Content": a new response (after a 100 Continue, say) starts. */
static void status_line(struct reg_resp *r, const char *p, size_t n)
{
    uint64_t bytes = r->body_bytes;
    const char *url = r->url;
    reg_resp_reset(r);
    r->body_bytes = bytes;
    r->url = url;
    const char *sp = memchr(p, ' ', n);
    if (!sp)
        return;
    size_t i = (size_t)(sp - p) + 1;
    long status = 0;
    for (; i < n && isdigit((unsigned char)p[i]) && status < 1000; i++)
        status = status * 10 + (p[i] - '0');
    r->status = status;
    while (i < n && p[i] == ' ')
        i++;
    size_t k = 0;
    for (; i < n && p[i] != '\r' && p[i] != '\n' && k + 1 < sizeof(r->reason); i++)
        r->reason[k++] = (char)tolower((unsigned char)p[i]);
    r->reason[k] = '\0';
}

/* Keep value in *slot; WWW-Authenticate values are joined (one challenge list). */
static void keep(char **slot, const char *v, size_t n, bool join)
{
    char *s = NULL;
    if (join && *slot) {
        size_t old = strlen(*slot);
        if (old + 2 + n > REG_HEADER_VALUE_MAX || asprintf(&s, "%s, %.*s", *slot, (int)n, v) < 0)
            return;
    } else {
        s = strndup(v, n);
    }
    if (s) {
        free(*slot);
        *slot = s;
    }
}

static void header_line(struct reg_resp *r, const char *p, size_t n)
{
    static const struct {
        const char *name;
        size_t off;
        bool join;
    } known[] = {
        {"content-type", offsetof(struct reg_resp, content_type), false},
        {"content-range", offsetof(struct reg_resp, content_range), false},
        {"location", offsetof(struct reg_resp, location), false},
        {"www-authenticate", offsetof(struct reg_resp, www_auth), true},
        {"retry-after", offsetof(struct reg_resp, retry_after), false},
        {"docker-content-digest", offsetof(struct reg_resp, docker_digest), false},
    };
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return;
    size_t nlen = (size_t)(colon - p), vlen = n - nlen - 1;
    const char *v = colon + 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if (vlen > REG_HEADER_VALUE_MAX || memchr(v, '\0', vlen))
        return;
    if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
        char num[24];
        uint64_t len;
        snprintf(num, sizeof(num), "%.*s", (int)(vlen < 23 ? vlen : 23), v);
        r->content_length =
            lzs_parse_u64(num, &len, NULL) == 0 && len <= INT64_MAX ? (int64_t)len : -1;
        return;
    }
    for (size_t i = 0; i < LZS_ARRAY_SIZE(known); i++)
        if (strlen(known[i].name) == nlen && strncasecmp(p, known[i].name, nlen) == 0)
            keep((char **)((char *)r + known[i].off), v, vlen, known[i].join);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct reg_http *h = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        status_line(&h->resp, p, n);
    } else if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        if (h->resp.status < 200)
            return n; /* 1xx: the real response follows */
        h->resp.headers_done = true;
        if (is_2xx(h->resp.status) && h->sink && h->sink->headers &&
            h->sink->headers(h->ctx, &h->resp, &h->sink_err) < 0)
            return 0; /* refused: abort the transfer */
    } else {
        header_line(&h->resp, p, n);
    }
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct reg_http *h = ud;
    size_t n = size * nmemb;
    h->resp.body_bytes += n;
    atomic_fetch_add_explicit(&h->r->bytes_fetched, n, memory_order_relaxed);
    if (!is_2xx(h->resp.status)) {
        size_t room = REG_ERRBODY_MAX - h->resp.errbody.len;
        lzs_buf_append(&h->resp.errbody, p, n < room ? n : room, NULL);
        return n;
    }
    if (!h->sink || !h->sink->data)
        return n;
    int rc = h->sink->data(h->ctx, p, n, &h->sink_err);
    if (rc == 1)
        h->sink_stopped = true;
    return rc == 0 ? n : 0;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const struct reg_http *h = ud;
    return h->cancel && atomic_load(h->cancel) ? 1 : 0;
}

static CURLcode set_method(CURL *c, const struct reg_http *h)
{
    CURLcode cc = CURLE_OK;
    if (strcmp(h->method, "HEAD") == 0)
        return curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (strcmp(h->method, "GET") == 0 && !h->has_body)
        return curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (strcmp(h->method, "POST") != 0)
        cc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body_len);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body_len ? h->body : "");
    return cc;
}

static CURLcode set_tls(CURL *c, const struct reg_endpoint *ep)
{
    CURLcode cc = CURLE_OK;
    if (!ep)
        return CURLE_OK;
    if (ep->cfg->skip_verify) {
        cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cc == CURLE_OK && ep->cablob.data)
        cc = curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ep->cablob);
    if (cc == CURLE_OK && ep->cfg->nclients > 0) {
        cc = curl_easy_setopt(c, CURLOPT_SSLCERT, ep->cfg->clients[0].cert);
        if (cc == CURLE_OK && ep->cfg->clients[0].key)
            cc = curl_easy_setopt(c, CURLOPT_SSLKEY, ep->cfg->clients[0].key);
    }
    return cc;
}

static CURLcode set_timeouts(CURL *c, const struct reg_http *h)
{
    uint64_t connect = REG_CONNECT_TIMEOUT_MS;
    if (h->timeout_ms && h->timeout_ms < connect)
        connect = h->timeout_ms;
    if (h->stall_ms && h->stall_ms < connect)
        connect = h->stall_ms;
    CURLcode cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
    if (cc == CURLE_OK && h->timeout_ms)
        cc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    if (cc == CURLE_OK && h->stall_ms) { /* no byte for stall_ms: the transfer has stalled */
        long secs = (long)((h->stall_ms + 999) / 1000);
        cc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, secs);
    }
    return cc;
}

static CURLcode set_callbacks(CURL *c, struct reg_http *h)
{
    CURLcode cc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    if (cc == CURLE_OK && h->cancel) {
        cc = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    return cc;
}

static CURLcode configure(CURL *c, lzs_registry *r, struct reg_http *h)
{
    CURLcode cc = curl_easy_setopt(c, CURLOPT_URL, h->url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_SHARE, r->share);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_USERAGENT, r->user_agent);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->resp.curl_err);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (cc == CURLE_OK) /* an HTTPS proxy's "200 Connection established" is not the answer */
        cc = curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    if (cc == CURLE_OK)
        cc = set_method(c, h);
    if (cc == CURLE_OK)
        cc = set_timeouts(c, h);
    if (cc == CURLE_OK)
        cc = set_tls(c, h->ep);
    if (cc == CURLE_OK)
        cc = set_callbacks(c, h);
    return cc;
}

static void log_exchange(const struct reg_http *h)
{
    if (!lzs_log_is_enabled(LZS_LOG_DEBUG))
        return;
    lzs_autofree char *url = reg_url_for_message(h->url, h->ep ? h->ep->cfg->url : NULL);
    if (h->resp.cc != CURLE_OK && !h->sink_stopped)
        LZS_DEBUG("%s %s: %s, %" PRIu64 " bytes, %" PRIu64 " ms", h->method, url ? url : h->url,
                  h->resp.curl_err[0] ? h->resp.curl_err : curl_easy_strerror(h->resp.cc),
                  h->resp.body_bytes, h->ms);
    else
        LZS_DEBUG("%s %s: %ld, %" PRIu64 " bytes, %" PRIu64 " ms", h->method, url ? url : h->url,
                  h->resp.status, h->resp.body_bytes, h->ms);
}

int reg_http_perform(lzs_registry *r, struct reg_http *h, lzs_error **err)
{
    reg_resp_reset(&h->resp);
    h->resp.url = h->url;
    lzs_error_free(&h->sink_err);
    h->sink_stopped = false;
    h->r = r;
    CURL *c = reg_handle_get(r);
    if (!c)
        return lzs_error_set(err, ENOMEM, "curl_easy_init: out of memory");
    uint64_t start = reg_now_ms();
    CURLcode cc = configure(c, r, h);
    if (cc != CURLE_OK) {
        reg_handle_put(r, c);
        return lzs_error_set(err, cc == CURLE_OUT_OF_MEMORY ? ENOMEM : EINVAL, "%s %s: %s",
                             h->method, h->url, curl_easy_strerror(cc));
    }
    atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
    h->resp.cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &h->resp.os_errno);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    reg_handle_put(r, c);
    h->ms = reg_now_ms() - start;
    log_exchange(h);
    return 0;
}
