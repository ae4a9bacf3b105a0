/* registry: authentication. What each registry host asked for (from its 401 challenges), its
 * credentials (docker's config.json, read once per host), and bearer tokens cached per host and
 * scope until they expire. Token requests follow the docker token spec: GET realm?service=S&
 * scope=X (Basic credentials when we have them), or the OAuth2 POST for identity tokens. */
#include "registry_i.h"

#include <string.h>

#define TOKENS_MAX 256
#define TOKEN_BODY_MAX (1u << 20)
#define TOKEN_DEFAULT_TTL_S 60u

void reg_host_dispose(struct reg_host *h)
{
    free(h->host), free(h->realm), free(h->service), free(h->creds_source);
    reg_creds_dispose(&h->creds);
    memset(h, 0, sizeof(*h));
}

/* The state of host, added when missing (NULL on ENOMEM). Under auth_lock. */
static struct reg_host *host_get(lzs_registry *r, const char *host)
{
    for (size_t i = 0; i < r->nhosts; i++)
        if (strcmp(r->hosts[i].host, host) == 0)
            return &r->hosts[i];
    char *name = strdup(host);
    struct reg_host *v = name ? lzs_realloc_array(r->hosts, r->nhosts + 1, sizeof(*v)) : NULL;
    if (!v) {
        free(name);
        return NULL;
    }
    r->hosts = v;
    struct reg_host *h = &r->hosts[r->nhosts++];
    memset(h, 0, sizeof(*h));
    h->host = name;
    return h;
}

bool reg_warn_range_once(lzs_registry *r, const char *host)
{
    pthread_mutex_lock(&r->auth_lock);
    struct reg_host *h = host_get(r, host);
    bool first = h && !h->warned_range;
    if (h)
        h->warned_range = true;
    pthread_mutex_unlock(&r->auth_lock);
    return first;
}

/* ---- tokens ---------------------------------------------------------------------------------- */

static struct reg_token *token_find(lzs_registry *r, const char *host, const char *scope)
{
    for (size_t i = 0; i < r->ntokens; i++)
        if (strcmp(r->tokens[i].host, host) == 0 && strcmp(r->tokens[i].scope, scope) == 0)
            return &r->tokens[i];
    return NULL;
}

static void token_remove(lzs_registry *r, struct reg_token *t)
{
    free(t->host), free(t->scope), free(t->token);
    *t = r->tokens[--r->ntokens];
}

/* Keep token for host and scope (replacing an older one); a cache: failures are ignored. */
static void token_store(lzs_registry *r, const char *host, const char *scope, const char *token,
                        uint64_t ttl_ms)
{
    struct reg_token t = {.host = strdup(host),
                          .scope = strdup(scope),
                          .token = strdup(token),
                          .expires_ms = reg_now_ms() + ttl_ms};
    pthread_mutex_lock(&r->auth_lock);
    struct reg_token *old = token_find(r, host, scope);
    if (old)
        token_remove(r, old);
    if (r->ntokens == TOKENS_MAX)
        token_remove(r, &r->tokens[0]);
    struct reg_token *v = lzs_realloc_array(r->tokens, r->ntokens + 1, sizeof(*v));
    if (v && t.host && t.scope && t.token) {
        r->tokens = v;
        r->tokens[r->ntokens++] = t;
        t = (struct reg_token){0};
    } else if (v) {
        r->tokens = v;
    }
    pthread_mutex_unlock(&r->auth_lock);
    free(t.host), free(t.scope), free(t.token);
}

/* ms a token of expires_in seconds is used: a little less, so that it is not sent expired. */
static uint64_t token_ttl_ms(uint64_t expires_in)
{
    if (expires_in == 0)
        expires_in = TOKEN_DEFAULT_TTL_S;
    if (expires_in > 24u * 3600u)
        expires_in = 24u * 3600u;
    uint64_t ms = expires_in * 1000;
    return expires_in >= 20 ? ms - 5000 : ms * 3 / 4;
}

/* The token answer: {"token": T} or {"access_token": T}, "expires_in" seconds. */
static int token_parse(const struct lzs_buf *body, char **token, uint64_t *ttl_ms, lzs_error **err)
{
    struct reg_json *doc = NULL;
    int rc = reg_json_parse(&doc, lzs_buf_cstr(body), body->len, err);
    if (rc < 0)
        return rc;
    const char *t = reg_json_str(reg_json_get(doc, "token"));
    if (!t || !t[0])
        t = reg_json_str(reg_json_get(doc, "access_token"));
    uint64_t expires_in = 0;
    reg_json_u64(reg_json_get(doc, "expires_in"), &expires_in);
    *ttl_ms = token_ttl_ms(expires_in);
    *token = t && t[0] ? strdup(t) : NULL;
    if (!*token)
        rc = t && t[0] ? lzs_error_set(err, ENOMEM, "out of memory")
                       : lzs_error_set(err, EPROTO, "no token in the answer");
    reg_json_free(doc);
    return rc;
}

struct token_req {
    const char *realm, *service, *scope;
    const struct reg_creds *creds;
    uint64_t deadline;
    const atomic_bool *cancel;
};

static int append_param(struct lzs_buf *b, const char *name, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    int rc = esc ? lzs_buf_printf(b, NULL, "%s%s=%s", b->len ? "&" : "", name, esc) : -ENOMEM;
    curl_free(esc);
    return rc;
}

/* OAuth2 refresh-token grant (docker login with an identity token): a form POST. */
static int token_form(const struct token_req *q, struct lzs_buf *form)
{
    int rc = append_param(form, "grant_type", "refresh_token");
    if (rc == 0 && q->service)
        rc = append_param(form, "service", q->service);
    if (rc == 0)
        rc = append_param(form, "scope", q->scope);
    if (rc == 0)
        rc = append_param(form, "client_id", "lazysnap");
    if (rc == 0)
        rc = append_param(form, "refresh_token", q->creds->identity_token);
    return rc;
}

static char *basic_value(const struct reg_creds *c)
{
    char *plain = NULL, *value = NULL;
    if (!c->username || asprintf(&plain, "%s:%s", c->username, c->password ? c->password : "") < 0)
        return NULL;
    char *b64 = reg_base64_encode(plain, strlen(plain));
    if (!b64 || asprintf(&value, "Basic %s", b64) < 0)
        value = NULL;
    free(b64);
    free(plain);
    return value;
}

static char *token_url(const struct token_req *q)
{
    char *with_service =
        q->service ? reg_url_add_query(q->realm, "service", q->service) : strdup(q->realm);
    char *url = with_service ? reg_url_add_query(with_service, "scope", q->scope) : NULL;
    free(with_service);
    return url;
}

static int token_fetch(lzs_registry *r, const struct token_req *q, char **token, uint64_t *ttl_ms,
                       lzs_error **err)
{
    bool oauth = q->creds->identity_token != NULL;
    struct lzs_buf form = LZS_BUF_INIT(SIZE_MAX), body = LZS_BUF_INIT(TOKEN_BODY_MAX + 1);
    lzs_autofree char *auth = oauth ? NULL : basic_value(q->creds);
    lzs_autofree char *url = oauth ? strdup(q->realm) : token_url(q);
    int rc = !url || (oauth && token_form(q, &form) < 0) ? -ENOMEM : 0;
    struct reg_op op = {.method = oauth ? "POST" : "GET",
                        .url = url,
                        .auth = auth,
                        .accept = "application/json",
                        .cancel = q->cancel,
                        .content_type = "application/x-www-form-urlencoded",
                        .body = form.data,
                        .body_len = form.len};
    if (rc < 0)
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    else
        rc = reg_fetch_body(r, &op, q->deadline, &body, err);
    if (rc == 0)
        rc = token_parse(&body, token, ttl_ms, err);
    if (rc < 0)
        rc = lzs_error_wrap(err, "token for %s from %s", q->scope, q->realm);
    lzs_buf_dispose(&form);
    lzs_buf_dispose(&body);
    return rc;
}

/* ---- credentials ----------------------------------------------------------------------------- */

static int creds_copy(struct reg_creds *dst, const struct reg_creds *src)
{
    dst->username = lzs_strdup0(src->username);
    dst->password = lzs_strdup0(src->password);
    dst->identity_token = lzs_strdup0(src->identity_token);
    if ((src->username && !dst->username) || (src->password && !dst->password) ||
        (src->identity_token && !dst->identity_token)) {
        reg_creds_dispose(dst);
        return -ENOMEM;
    }
    return 0;
}

/* host's credentials into out (a copy), read from docker's config the first time. */
static int creds_get(lzs_registry *r, const char *host, struct reg_creds *out, lzs_error **err)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&r->auth_lock);
    struct reg_host *h = host_get(r, host);
    int rc = !h ? -ENOMEM : h->creds_loaded ? creds_copy(out, &h->creds) : 1;
    pthread_mutex_unlock(&r->auth_lock);
    if (rc <= 0)
        return rc < 0 ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
    struct reg_creds found;
    char *source = NULL;
    rc = reg_creds_lookup(r->docker_config, host, &found, &source, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&r->auth_lock);
    h = host_get(r, host);
    if (h && !h->creds_loaded) {
        h->creds = found, h->creds_source = source, h->creds_loaded = true;
        found = (struct reg_creds){0}, source = NULL;
    }
    rc = h ? creds_copy(out, &h->creds) : -ENOMEM;
    pthread_mutex_unlock(&r->auth_lock);
    reg_creds_dispose(&found);
    free(source);
    return rc < 0 ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
}

char *reg_auth_hint(lzs_registry *r, const char *host)
{
    char *hint = NULL;
    pthread_mutex_lock(&r->auth_lock);
    struct reg_host *h = host_get(r, host);
    int n = 0;
    if (h && h->creds_loaded && reg_creds_is_empty(&h->creds))
        n = asprintf(&hint, " (no credentials for %s in %s)", host, h->creds_source);
    else if (h && h->creds_loaded)
        n = asprintf(&hint, " (credentials for %s from %s)", host, h->creds_source);
    else
        hint = strdup("");
    pthread_mutex_unlock(&r->auth_lock);
    return n < 0 ? NULL : hint;
}

/* ---- what a request sends -------------------------------------------------------------------- */

/* Is sent ("Bearer T") the value of token t? */
static bool token_was_sent(const struct reg_token *t, const char *sent)
{
    return sent && strncmp(sent, "Bearer ", 7) == 0 && strcmp(sent + 7, t->token) == 0;
}

int reg_auth_challenge(lzs_registry *r, const char *host, const char *scope, const char *www,
                       const char *sent, lzs_error **err)
{
    struct reg_challenges cs;
    int rc = reg_challenges_parse(&cs, www, err);
    if (rc < 0)
        return rc;
    const struct reg_challenge *c = reg_challenges_pick(&cs);
    if (!c) {
        reg_challenges_dispose(&cs);
        return lzs_error_set(err, EACCES,
                             "no Basic or Bearer challenge in WWW-Authenticate \"%.200s\"", www);
    }
    pthread_mutex_lock(&r->auth_lock);
    struct reg_host *h = host_get(r, host);
    if (h) {
        h->scheme = c->scheme;
        free(h->realm), free(h->service);
        h->realm = lzs_strdup0(c->realm);
        h->service = lzs_strdup0(c->service);
        struct reg_token *t = token_find(r, host, scope);
        if (t && token_was_sent(t, sent))
            token_remove(r, t); /* refused; a newer one (another thread's) is kept */
    }
    rc = !h || (c->realm && !h->realm) || (c->service && !h->service) ? -ENOMEM : 0;
    pthread_mutex_unlock(&r->auth_lock);
    reg_challenges_dispose(&cs);
    return rc < 0 ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
}

/* A fresh token for host and scope, from the realm it named; stored in the cache. */
/* "Bearer T" for a valid cached token of host and scope, else NULL. */
static char *cached_bearer(lzs_registry *r, const char *host, const char *scope)
{
    char *value = NULL;
    pthread_mutex_lock(&r->auth_lock);
    struct reg_token *t = token_find(r, host, scope);
    if (t && t->expires_ms > reg_now_ms() && asprintf(&value, "Bearer %s", t->token) < 0)
        value = NULL;
    pthread_mutex_unlock(&r->auth_lock);
    return value;
}

static int bearer_fetch(lzs_registry *r, const char *host, struct token_req *q, char **value,
                        lzs_error **err)
{
    struct reg_creds creds;
    int rc = creds_get(r, host, &creds, err);
    if (rc < 0)
        return rc;
    q->creds = &creds;
    char *token = NULL;
    uint64_t ttl = 0;
    rc = token_fetch(r, q, &token, &ttl, err);
    reg_creds_dispose(&creds);
    if (rc < 0)
        return rc;
    token_store(r, host, q->scope, token, ttl);
    rc = asprintf(value, "Bearer %s", token) < 0 ? -ENOMEM : 0;
    free(token);
    return rc < 0 ? lzs_error_set(err, ENOMEM, "out of memory") : 0;
}

/* A token for host and scope obtained now: threads that miss it together fetch it once (the
 * others take the one stored meanwhile). */
static int bearer_new(lzs_registry *r, const char *host, struct token_req *q, char **value,
                      lzs_error **err)
{
    pthread_mutex_lock(&r->token_fetch_lock);
    *value = cached_bearer(r, host, q->scope);
    int rc = *value ? 0 : bearer_fetch(r, host, q, value, err);
    pthread_mutex_unlock(&r->token_fetch_lock);
    return rc;
}

static int basic_new(lzs_registry *r, const char *host, char **value, lzs_error **err)
{
    struct reg_creds creds;
    int rc = creds_get(r, host, &creds, err);
    if (rc < 0)
        return rc;
    if (creds.username) {
        *value = basic_value(&creds);
        rc = *value ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
    }
    reg_creds_dispose(&creds);
    return rc;
}

int reg_auth_value(lzs_registry *r, const char *host, const char *scope, uint64_t deadline,
                   const atomic_bool *cancel, char **value, bool *fresh, lzs_error **err)
{
    *value = NULL;
    *fresh = false;
    struct token_req q = {.scope = scope, .deadline = deadline, .cancel = cancel};
    pthread_mutex_lock(&r->auth_lock);
    struct reg_host *h = host_get(r, host);
    enum reg_auth_scheme scheme = h ? h->scheme : REG_AUTH_NONE;
    char *realm = scheme == REG_AUTH_BEARER ? lzs_strdup0(h->realm) : NULL;
    char *service = realm ? lzs_strdup0(h->service) : NULL;
    pthread_mutex_unlock(&r->auth_lock);
    if (scheme == REG_AUTH_BEARER)
        *value = cached_bearer(r, host, scope);
    if (*value || scheme == REG_AUTH_NONE) {
        free(realm), free(service);
        return 0; /* a cached token, or anonymous until the host asks */
    }
    *fresh = true;
    int rc;
    if (scheme == REG_AUTH_BASIC) {
        rc = basic_new(r, host, value, err);
    } else if (!realm) {
        rc = lzs_error_set(err, ENOMEM, "out of memory");
    } else {
        q.realm = realm, q.service = service;
        rc = bearer_new(r, host, &q, value, err);
    }
    free(realm), free(service);
    return rc;
}
