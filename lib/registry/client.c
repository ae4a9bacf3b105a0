/* registry: the client: curl's global state, the shared DNS/TLS-session cache, the pool of easy
 * handles (each keeps its own connections), the cache of blobs' final URLs, counters, and time
 * helpers. */
#include "registry_i.h"

#include <string.h>
#include <time.h>

/* ---- curl's global state: initialised by the first client, released by the last -------------- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned global_users; /* protected by global_lock */

static int global_ref(lzs_error **err)
{
    pthread_mutex_lock(&global_lock);
    CURLcode cc = global_users == 0 ? curl_global_init(CURL_GLOBAL_DEFAULT) : CURLE_OK;
    if (cc == CURLE_OK)
        global_users++;
    pthread_mutex_unlock(&global_lock);
    if (cc != CURLE_OK)
        return lzs_error_set(err, EIO, "curl_global_init: %s", curl_easy_strerror(cc));
    return 0;
}

static void global_unref(void)
{
    pthread_mutex_lock(&global_lock);
    if (--global_users == 0)
        curl_global_cleanup();
    pthread_mutex_unlock(&global_lock);
}

/* ---- time ------------------------------------------------------------------------------------ */

uint64_t reg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool reg_sleep_ms(uint64_t ms, const atomic_bool *cancel)
{
    uint64_t end = reg_now_ms() + ms;
    for (;;) {
        if (cancel && atomic_load(cancel))
            return false;
        uint64_t now = reg_now_ms();
        if (now >= end)
            return true;
        uint64_t slice = end - now < 50 ? end - now : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(slice * 1000000u)};
        nanosleep(&ts, NULL);
    }
}

static uint64_t jitter_next(void)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uintptr_t)&state;
        state |= 1;
    }
    state ^= state << 13; /* xorshift64 */
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

uint64_t reg_backoff_ms(unsigned attempt)
{
    uint64_t d = REG_BACKOFF_START_MS;
    for (unsigned i = 1; i < attempt && d < REG_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > REG_BACKOFF_MAX_MS)
        d = REG_BACKOFF_MAX_MS;
    return d / 2 + jitter_next() % (d / 2 + 1);
}

/* ---- the shared cache ------------------------------------------------------------------------ *
 * DNS answers and TLS sessions only: curl's shared connection cache is not thread-safe (its known
 * bug 11.11: two handles in two threads can take the same connection). Connections stay with the
 * pooled handle that opened them instead. */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *p)
{
    (void)h, (void)access;
    lzs_registry *r = p;
    pthread_mutex_lock(&r->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *p)
{
    (void)h;
    lzs_registry *r = p;
    pthread_mutex_unlock(&r->share_locks[data]);
}

static int share_new(lzs_registry *r, lzs_error **err)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(r->share_locks); i++)
        pthread_mutex_init(&r->share_locks[i], NULL);
    r->share = curl_share_init();
    if (!r->share)
        return lzs_error_set(err, ENOMEM, "curl_share_init: out of memory");
    CURLSHcode sc = curl_share_setopt(r->share, CURLSHOPT_LOCKFUNC, share_lock);
    if (sc == CURLSHE_OK)
        sc = curl_share_setopt(r->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    if (sc == CURLSHE_OK)
        sc = curl_share_setopt(r->share, CURLSHOPT_USERDATA, r);
    if (sc == CURLSHE_OK)
        sc = curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (sc == CURLSHE_OK)
        sc = curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (sc != CURLSHE_OK)
        return lzs_error_set(err, EIO, "curl share: %s", curl_share_strerror(sc));
    return 0;
}

/* ---- handles --------------------------------------------------------------------------------- */

CURL *reg_handle_get(lzs_registry *r)
{
    CURL *h = NULL;
    pthread_mutex_lock(&r->pool_lock);
    if (r->npool > 0)
        h = r->pool[--r->npool];
    pthread_mutex_unlock(&r->pool_lock);
    return h ? h : curl_easy_init();
}

void reg_handle_put(lzs_registry *r, CURL *h)
{
    if (!h)
        return;
    curl_easy_reset(h); /* keeps its live connections */
    pthread_mutex_lock(&r->pool_lock);
    if (r->npool < REG_POOL_MAX) {
        r->pool[r->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&r->pool_lock);
    curl_easy_cleanup(h);
}

/* ---- the client ------------------------------------------------------------------------------ */

static int copy_opts(lzs_registry *r, const struct lzs_registry_opts *o, lzs_error **err)
{
    r->plain_http = o && o->plain_http;
    r->timeout_ms = o && o->timeout_ms ? o->timeout_ms : LZS_REGISTRY_DEFAULT_TIMEOUT_MS;
    r->stall_ms = o && o->stall_ms ? o->stall_ms : r->timeout_ms;
    r->retries = o && o->no_retries ? 0
                 : o && o->retries  ? o->retries
                                    : LZS_REGISTRY_DEFAULT_RETRIES;
    r->hosts_dir = lzs_strdup0(o && o->hosts_dir && o->hosts_dir[0] ? o->hosts_dir : NULL);
    r->docker_config = lzs_strdup0(o ? o->docker_config : NULL);
    if (o && o->user_agent)
        r->user_agent = strdup(o->user_agent);
    else if (asprintf(&r->user_agent, "lazysnap/%s", lzs_version()) < 0)
        r->user_agent = NULL;
    if (!r->user_agent || (o && o->hosts_dir && o->hosts_dir[0] && !r->hosts_dir) ||
        (o && o->docker_config && !r->docker_config))
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

void lzs_registry_opts_from_config(struct lzs_registry_opts *out, const struct lzs_config *c)
{
    *out = (struct lzs_registry_opts){
        .hosts_dir = c->hosts_dir && *c->hosts_dir ? c->hosts_dir : NULL,
        .timeout_ms = c->fetch.timeout_ms,
        .retries = c->fetch.retries,
        .no_retries = c->fetch.retries == 0,
    };
}

int lzs_registry_new(lzs_registry **out, const struct lzs_registry_opts *opts, lzs_error **err)
{
    int rc = global_ref(err);
    if (rc < 0)
        return rc;
    lzs_registry *r = calloc(1, sizeof(*r));
    if (!r) {
        global_unref();
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    pthread_mutex_init(&r->pool_lock, NULL);
    pthread_mutex_init(&r->auth_lock, NULL);
    pthread_mutex_init(&r->token_fetch_lock, NULL);
    pthread_mutex_init(&r->url_lock, NULL);
    if ((rc = copy_opts(r, opts, err)) < 0 || (rc = share_new(r, err)) < 0) {
        lzs_registry_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void lzs_registry_free(lzs_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->npool; i++)
        curl_easy_cleanup(r->pool[i]);
    if (r->share)
        curl_share_cleanup(r->share);
    for (size_t i = 0; i < LZS_ARRAY_SIZE(r->share_locks); i++)
        pthread_mutex_destroy(&r->share_locks[i]);
    for (size_t i = 0; i < r->nhosts; i++)
        reg_host_dispose(&r->hosts[i]);
    for (size_t i = 0; i < r->ntokens; i++)
        free(r->tokens[i].host), free(r->tokens[i].scope), free(r->tokens[i].token);
    for (size_t i = 0; i < REG_BLOB_URL_MAX; i++)
        free(r->urls[i].url);
    free(r->hosts), free(r->tokens);
    free(r->hosts_dir), free(r->docker_config), free(r->user_agent);
    pthread_mutex_destroy(&r->pool_lock);
    pthread_mutex_destroy(&r->auth_lock);
    pthread_mutex_destroy(&r->token_fetch_lock);
    pthread_mutex_destroy(&r->url_lock);
    free(r);
    global_unref();
}

void lzs_registry_stats(const lzs_registry *r, struct lzs_registry_stats *out)
{
    out->requests = atomic_load_explicit(&r->requests, memory_order_relaxed);
    out->bytes_fetched = atomic_load_explicit(&r->bytes_fetched, memory_order_relaxed);
    out->retries = atomic_load_explicit(&r->retries_done, memory_order_relaxed);
}

/* ---- final URLs of blobs --------------------------------------------------------------------- */

char *reg_blob_url_get(lzs_registry *r, const char *key)
{
    char *url = NULL;
    uint64_t now = reg_now_ms();
    pthread_mutex_lock(&r->url_lock);
    for (size_t i = 0; i < REG_BLOB_URL_MAX && !url; i++) {
        struct reg_blob_url *e = &r->urls[i];
        if (e->url && strcmp(e->key, key) == 0 && e->expires_ms > now)
            url = strdup(e->url);
    }
    pthread_mutex_unlock(&r->url_lock);
    return url;
}

/* The slot for key: its own, else a free or expired one, else the one expiring first. */
static struct reg_blob_url *url_slot(lzs_registry *r, const char *key, uint64_t now)
{
    struct reg_blob_url *free_slot = NULL, *oldest = &r->urls[0];
    for (size_t i = 0; i < REG_BLOB_URL_MAX; i++) {
        struct reg_blob_url *e = &r->urls[i];
        if (e->url && strcmp(e->key, key) == 0)
            return e;
        if (!free_slot && (!e->url || e->expires_ms <= now))
            free_slot = e;
        if (e->url && oldest->url && e->expires_ms < oldest->expires_ms)
            oldest = e;
    }
    return free_slot ? free_slot : oldest;
}

void reg_blob_url_set(lzs_registry *r, const char *key, const char *url)
{
    char *copy = strdup(url);
    if (!copy || strlen(key) >= LZS_DIGEST_STR_MAX) {
        free(copy);
        return; /* only a cache */
    }
    pthread_mutex_lock(&r->url_lock);
    struct reg_blob_url *e = url_slot(r, key, reg_now_ms());
    free(e->url);
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->url = copy;
    e->expires_ms = reg_now_ms() + REG_BLOB_URL_TTL_MS;
    pthread_mutex_unlock(&r->url_lock);
}

void reg_blob_url_drop(lzs_registry *r, const char *key)
{
    pthread_mutex_lock(&r->url_lock);
    for (size_t i = 0; i < REG_BLOB_URL_MAX; i++) {
        struct reg_blob_url *e = &r->urls[i];
        if (e->url && strcmp(e->key, key) == 0) {
            free(e->url);
            e->url = NULL;
        }
    }
    pthread_mutex_unlock(&r->url_lock);
}
