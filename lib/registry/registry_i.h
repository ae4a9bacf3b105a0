/* registry (private): the client's shared state, the request engine and the pure helpers behind
 * it (header and URL parsing, a small JSON reader, docker credentials), exposed here so that
 * unit tests and fuzz targets can reach them. */
#ifndef LZS_REGISTRY_I_H
#define LZS_REGISTRY_I_H

#include "config/config.h"
#include "registry/registry.h"

#include <curl/curl.h>
#include <pthread.h>

#define REG_MAX_REDIRECTS 5
#define REG_BLOB_URL_TTL_MS (5u * 60u * 1000u) /* a cached final URL of a blob (signed URLs) */
#define REG_BLOB_URL_MAX 256                   /* cached final URLs kept at most */
#define REG_BACKOFF_START_MS 100u
#define REG_BACKOFF_MAX_MS 10000u
#define REG_RETRY_AFTER_MAX_MS 60000u /* a stream waits at most this long for Retry-After */
#define REG_CONNECT_TIMEOUT_MS                                                                  \
    10000u                           /* per connection, so a dead mirror leaves time for others \
                                      */
#define REG_ERRBODY_MAX 4096         /* bytes kept of an error body */
#define REG_HEADER_VALUE_MAX 8192    /* longer header values are refused */
#define REG_POOL_MAX 32              /* idle curl handles kept */
#define REG_HELPER_TIMEOUT_MS 10000u /* docker-credential-NAME get */
#define REG_HELPER_OUTPUT_MAX (64u * 1024u)
#define REG_DOCKER_CONFIG_MAX (4u << 20)
#define REG_JSON_DEPTH_MAX 64
#define REG_STREAM_RING (1u << 20) /* bytes a stream buffers ahead of its reader */

/* ---- time ------------------------------------------------------------------------------------ */

/* Monotonic milliseconds. */
uint64_t reg_now_ms(void);
/* Sleep ms, waking early (false) when *cancel becomes true; cancel may be NULL. */
bool reg_sleep_ms(uint64_t ms, const atomic_bool *cancel);
/* The pause before retry number attempt (1, 2, ...): 100 ms doubling, capped, with jitter (half
 * of it random). */
uint64_t reg_backoff_ms(unsigned attempt);

/* ---- small JSON reader (json.c): json-c belongs to lib/oci ----------------------------------- */

enum reg_json_type {
    REG_JSON_NULL,
    REG_JSON_BOOL,
    REG_JSON_NUM,
    REG_JSON_STR,
    REG_JSON_ARR,
    REG_JSON_OBJ
};

struct reg_json {
    enum reg_json_type type;
    bool b;
    char *s;                /* STR: the text, unescaped (no NUL inside); NUM: as written */
    struct reg_json *items; /* ARR and OBJ: n of them */
    char **keys;            /* OBJ: the key of each item */
    size_t n, cap;
};

/* Parse one JSON text (RFC 8259, nesting at most REG_JSON_DEPTH_MAX; strings with \u0000 are
 * refused). -EINVAL "invalid json at byte N: what". */
int reg_json_parse(struct reg_json **out, const char *p, size_t n, lzs_error **err);
void reg_json_free(struct reg_json *v);
/* Member key of an object (the last one when repeated), or NULL. NULL-safe. */
const struct reg_json *reg_json_get(const struct reg_json *obj, const char *key);
/* The string of v, or NULL when v is not a string. NULL-safe. */
const char *reg_json_str(const struct reg_json *v);
/* A non-negative integer number (no fraction or exponent); false otherwise. */
bool reg_json_u64(const struct reg_json *v, uint64_t *out);

/* ---- encodings (encode.c) -------------------------------------------------------------------- */

/* Standard base64 with padding; NULL on ENOMEM. */
char *reg_base64_encode(const void *p, size_t n);
/* Decode standard base64 (padding optional, no whitespace); -EINVAL. *out NUL-terminated. */
int reg_base64_decode(const char *s, char **out, size_t *n);

/* ---- headers (header.c) ---------------------------------------------------------------------- */

enum reg_auth_scheme { REG_AUTH_NONE = 0, REG_AUTH_BASIC, REG_AUTH_BEARER, REG_AUTH_OTHER };

#define REG_CHALLENGES_MAX 16
#define REG_CHALLENGE_PARAMS_MAX 32

/* One challenge of WWW-Authenticate. Parameters we use; others are skipped. */
struct reg_challenge {
    enum reg_auth_scheme scheme;
    char *realm, *service, *scope, *error; /* NULL when absent */
};

struct reg_challenges {
    struct reg_challenge v[REG_CHALLENGES_MAX];
    size_t n;
};

/* Parse a WWW-Authenticate value (RFC 7235: one or more challenges, comma separated, parameters
 * as tokens or quoted strings with backslash escapes, or a token68). -EINVAL on a syntax error. */
int reg_challenges_parse(struct reg_challenges *out, const char *s, lzs_error **err);
void reg_challenges_dispose(struct reg_challenges *c);
/* The challenge to answer: Bearer first, then Basic; NULL when neither is offered. */
const struct reg_challenge *reg_challenges_pick(const struct reg_challenges *c);

/* "bytes START-END/TOTAL", or with "*" for an unknown total (UINT64_MAX); START <= END < TOTAL. */
struct reg_content_range {
    uint64_t start, end, total;
};
int reg_content_range_parse(struct reg_content_range *out, const char *s);

/* Retry-After: delay-seconds, or an HTTP-date (relative to now_s, seconds since the epoch; a
 * date in the past is 0). -EINVAL otherwise. */
int reg_retry_after_parse(const char *s, int64_t now_s, uint64_t *ms);

/* The media type of a Content-Type value: parameters dropped, trimmed, lower case; NULL on
 * ENOMEM. */
char *reg_media_type(const char *content_type);

/* The message of a registry error body {"errors":[{"code":..,"message":..}]}, at most len - 1
 * characters, control characters replaced; false when the body is not one. */
bool reg_error_body_message(const char *body, size_t n, char *out, size_t len);

/* ---- URLs (url.c) ---------------------------------------------------------------------------- */

/* location resolved against base (absolute, "//host/p", "/p", "p", "?q"); NULL when invalid. */
char *reg_url_resolve(const char *base, const char *location);
/* url with name=value appended to its query ('?' or '&'), the value percent-encoded; NULL when
 * url is invalid. */
char *reg_url_add_query(const char *url, const char *name, const char *value);
/* Same scheme, host and port (default ports made explicit): where the registry's Authorization
 * may be sent. false when either is not a valid http(s) URL. */
bool reg_url_same_origin(const char *a, const char *b);
/* containerd's RegistryHost.isProxy: an endpoint host other than the reference's domain (with
 * docker.io served by registry-1.docker.io) is a mirror, told the namespace with ?ns=DOMAIN. */
bool reg_is_proxy(const char *domain, const char *endpoint_host);
/* Endpoint url + "/" + name + suffix ("/blobs/sha256:..."), then ?ns=domain when ns is not
 * NULL; NULL on ENOMEM. */
char *reg_url_api(const char *endpoint_url, const char *name, const char *suffix, const char *ns);
/* "host[:port]" of an absolute URL (to free), or NULL. */
char *reg_url_host(const char *url);
/* The URL for messages: the query string of a URL outside origin is cut (signed storage URLs).
 * Returns a new string or NULL. */
char *reg_url_for_message(const char *url, const char *origin);

/* ---- docker credentials (creds.c) ------------------------------------------------------------ */

struct reg_creds {
    char *username, *password; /* Basic, and for the token realm */
    char *identity_token;      /* OAuth2 refresh token (docker login with an identity token) */
};
void reg_creds_dispose(struct reg_creds *c);
bool reg_creds_is_empty(const struct reg_creds *c);

/* What config.json says for host: *helper is set (to free) when a credential helper is to be
 * asked (credHelpers[host], else credsStore), and *server the name to ask it about; otherwise
 * out is filled from auths (empty when there is no entry). */
int reg_creds_from_config(const char *json, size_t n, const char *host, struct reg_creds *out,
                          char **helper, char **server, lzs_error **err);
/* Parse a helper's answer {"Username":..,"Secret":..} ("<token>" makes Secret an identity
 * token). */
int reg_creds_from_helper(const char *json, size_t n, struct reg_creds *out, lzs_error **err);
/* Run docker-credential-NAME get with server on stdin; out is left empty when the helper has no
 * credentials for it. */
int reg_creds_run_helper(const char *name, const char *server, uint64_t timeout_ms,
                         struct reg_creds *out, lzs_error **err);
/* config.json of dir (NULL: $DOCKER_CONFIG, else $HOME/.docker), credentials for registry host
 * (an endpoint host: "127.0.0.1:5000", "registry-1.docker.io"). A missing file means none.
 * *source describes where they came from for messages (to free). */
int reg_creds_lookup(const char *dir, const char *host, struct reg_creds *out, char **source,
                     lzs_error **err);

/* ---- the client (client.c) ------------------------------------------------------------------- */

struct reg_token {
    char *host, *scope, *token;
    uint64_t expires_ms; /* monotonic */
};

struct reg_host { /* what we know of a registry host */
    char *host;
    enum reg_auth_scheme scheme;
    char *realm, *service;
    bool creds_loaded;
    struct reg_creds creds;
    char *creds_source;
    bool warned_range; /* a 200 answered to a Range request was reported */
};

struct reg_blob_url {
    char key[LZS_DIGEST_STR_MAX];
    char *url;
    uint64_t expires_ms;
};

struct lzs_registry {
    char *hosts_dir, *docker_config, *user_agent;
    bool plain_http;
    uint64_t timeout_ms, stall_ms;
    unsigned retries;

    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

    pthread_mutex_t pool_lock;
    CURL *pool[REG_POOL_MAX]; /* protected by pool_lock */
    size_t npool;             /* protected by pool_lock */

    pthread_mutex_t auth_lock;
    struct reg_host *hosts;           /* protected by auth_lock */
    size_t nhosts;                    /* protected by auth_lock */
    struct reg_token *tokens;         /* protected by auth_lock */
    size_t ntokens;                   /* protected by auth_lock */
    pthread_mutex_t token_fetch_lock; /* one token request at a time */

    pthread_mutex_t url_lock;
    struct reg_blob_url urls[REG_BLOB_URL_MAX]; /* protected by url_lock */

    atomic_uint_fast64_t requests, bytes_fetched, retries_done;
};

/* A curl handle from the pool, with the connections it keeps, or a new one; NULL on ENOMEM. */
CURL *reg_handle_get(lzs_registry *r);
void reg_handle_put(lzs_registry *r, CURL *h);

/* The final URL of blob key if cached and fresh (to free), else NULL. */
char *reg_blob_url_get(lzs_registry *r, const char *key);
void reg_blob_url_set(lzs_registry *r, const char *key, const char *url);
void reg_blob_url_drop(lzs_registry *r, const char *key);

/* ---- authentication (auth.c) ----------------------------------------------------------------- */

void reg_host_dispose(struct reg_host *h);
/* true the first time it is called for host (a 200 answered to a Range request). */
bool reg_warn_range_once(lzs_registry *r, const char *host);

/* The Authorization value to send to registry host for scope ("" when anonymous), fetching a
 * token when the host asked for one before. *fresh: obtained for this request (not cached). */
int reg_auth_value(lzs_registry *r, const char *host, const char *scope, uint64_t deadline,
                   const atomic_bool *cancel, char **value, bool *fresh, lzs_error **err);
/* A 401 from host with WWW-Authenticate www to a request that sent Authorization sent (or NULL):
 * remember the scheme the host asks for, and drop the token cached for scope if it is the one
 * refused. -EACCES when nothing we support is offered. */
int reg_auth_challenge(lzs_registry *r, const char *host, const char *scope, const char *www,
                       const char *sent, lzs_error **err);
/* " (no credentials for HOST in FILE)" or " (credentials for HOST from SOURCE)": a hint for a
 * 401/403 message; static storage is not used, the caller frees. NULL on ENOMEM. */
char *reg_auth_hint(lzs_registry *r, const char *host);

/* ---- one HTTP exchange (http.c) -------------------------------------------------------------- */

/* Response headers we use; strings NULL when absent. */
struct reg_resp {
    const char *url; /* the URL asked (borrowed from the request) */
    long status;
    char reason[64]; /* reason phrase, lower case */
    char *content_type, *content_range, *location, *www_auth, *retry_after, *docker_digest;
    int64_t content_length; /* -1 when absent */
    uint64_t body_bytes;    /* body bytes received */
    struct lzs_buf errbody; /* the first REG_ERRBODY_MAX bytes of a non-2xx body */
    CURLcode cc;
    char curl_err[CURL_ERROR_SIZE];
    long os_errno;
    bool headers_done;
};
void reg_resp_reset(struct reg_resp *r);
void reg_resp_dispose(struct reg_resp *r);

/* What an operation does with a 2xx response. Every hook may be NULL. */
struct reg_sink {
    /* Before each request: a Range value ("bytes=0-99") into range, or leave it empty. */
    void (*begin)(void *ctx, char *range, size_t len);
    /* The headers of a 2xx response: 0 to read its body, < 0 (err set) to fail the attempt. */
    int (*headers)(void *ctx, const struct reg_resp *r, lzs_error **err);
    /* Body bytes: 0 go on, 1 enough (the transfer is cut, successfully), < 0 fail (err set). */
    int (*data)(void *ctx, const char *p, size_t n, lzs_error **err);
    /* The body ended cleanly: 0 done, < 0 (err set) e.g. -EPROTO when it was short. */
    int (*end)(void *ctx, const struct reg_resp *r, lzs_error **err);
};
/* A sink error with this code is retried (a short body, a bad Content-Range). */
#define REG_SINK_RETRYABLE EPROTO

struct reg_http {
    lzs_registry *r; /* set by reg_http_perform */
    const char *method;
    const char *url;
    struct curl_slist *headers;
    const void *body; /* sent when has_body */
    size_t body_len;
    bool has_body;
    const struct reg_endpoint *ep; /* TLS settings; NULL for defaults */
    uint64_t timeout_ms;           /* 0: none */
    uint64_t stall_ms;             /* 0: none */
    const atomic_bool *cancel;
    const struct reg_sink *sink;
    void *ctx;
    /* out */
    struct reg_resp resp;
    lzs_error *sink_err; /* the sink's failure */
    bool sink_stopped;   /* the sink had enough */
    uint64_t ms;         /* how long it took */
};
/* Perform one request (no redirect, auth or retry): fills h->resp. Returns 0 when an HTTP
 * response was received completely (any status), or sink_stopped; < 0 on ENOMEM only: transport
 * failures are in h->resp.cc, the sink's in h->sink_err. */
int reg_http_perform(lzs_registry *r, struct reg_http *h, lzs_error **err);

/* ---- repositories and the request engine (repo.c, transport.c) ------------------------------- */

struct reg_endpoint {
    const struct lzs_config_endpoint *cfg; /* owned by the repo's hosts */
    bool is_proxy;                         /* a mirror: pulls get ?ns=DOMAIN */
    struct curl_blob cablob;               /* CA files + the system bundle, or data NULL */
};

struct lzs_repo {
    struct lzs_refcount ref;
    lzs_registry *r;
    struct lzs_config_hosts *hosts;
    struct reg_endpoint *eps; /* one per host endpoint */
    size_t neps;
    char *domain;     /* "docker.io" */
    char *path;       /* "library/busybox" */
    char *name;       /* "docker.io/library/busybox" */
    char *scope_pull; /* "repository:library/busybox:pull" */
    char *scope_push; /* "repository:library/busybox:pull,push" */
};

/* One operation on a repository. */
struct reg_op {
    const char *method;
    const char *suffix; /* after /v2/NAME: "/blobs/sha256:..." */
    const char *url;    /* instead of suffix: an absolute URL on endpoint ep (upload Location) */
    const struct reg_endpoint *ep; /* only this endpoint (NULL: every endpoint with caps) */
    unsigned caps;                 /* LZS_HOST_CAP_* needed */
    bool push;                     /* scope pull,push (else pull) */
    bool ns;                       /* add ?ns= on mirrors (pulls) */
    const char *accept;
    const char *content_type;
    const char *auth; /* plain requests: the Authorization value for url's origin */
    const void *body; /* sent by methods other than GET and HEAD */
    size_t body_len;
    const char *blob_key; /* a blob digest: its final URL (after redirects) is cached */
    bool stream;          /* no deadline: stall detection, retries reset by progress */
    const atomic_bool *cancel;
    const struct reg_sink *sink;
    void *ctx;
    /* progress made (set by the sink): resets the retry count of streams */
    uint64_t progress;
    /* out: the endpoint that answered */
    const struct reg_endpoint *used;
};

/* Run op on the repo's endpoints in order: 0, or the last endpoint's error. */
int reg_repo_do(lzs_repo *repo, struct reg_op *op, lzs_error **err);

/* op outside any repository (op->url: a token realm): redirects and retries as for the registry,
 * op->auth sent to url's origin only, a 401 final. deadline is absolute (reg_now_ms). */
int reg_plain_do(lzs_registry *r, struct reg_op *op, uint64_t deadline, lzs_error **err);

/* A 2xx body into a bounded buffer (ctx: struct lzs_buf *, emptied at each attempt; -EMSGSIZE
 * past its max). */
extern const struct reg_sink reg_buf_sink;
/* reg_plain_do with the body read into body. */
int reg_fetch_body(lzs_registry *r, struct reg_op *op, uint64_t deadline, struct lzs_buf *body,
                   lzs_error **err);

/* A manifest or index read into memory (manifest.c), with the headers that describe it. */
struct reg_doc {
    struct lzs_buf body; /* at most LZS_REGISTRY_MANIFEST_MAX */
    char *content_type;  /* media type, or NULL */
    char *docker_digest; /* Docker-Content-Digest, or NULL */
};
void reg_doc_init(struct reg_doc *d);
void reg_doc_dispose(struct reg_doc *d);
extern const struct reg_sink reg_doc_sink; /* ctx: struct reg_doc * */
/* -EBADMSG when header (a Docker-Content-Digest) is not the digest of body; 0 when it is, or is
 * NULL, or names an algorithm we do not know. */
int reg_doc_check_digest(const char *header, const void *body, size_t n, const char *what,
                         lzs_error **err);
/* Move d into m: the digest of the body (algorithm of want, else sha256), checked against want
 * and the Docker-Content-Digest (-EBADMSG; what names the document in messages). */
int reg_doc_take(struct reg_doc *d, const struct lzs_digest *want, const char *what,
                 struct lzs_repo_manifest *m, lzs_error **err);

/* What to do after an attempt (pure; transport.c). */
enum reg_action {
    REG_DONE,     /* success */
    REG_REDIRECT, /* 3xx with Location */
    REG_AUTH,     /* 401 from the registry */
    REG_RETRY,    /* retryable: 408, 429, 5xx, transport failures, short bodies */
    REG_NEXT,     /* give up on this endpoint, try the next (404, connection refused) */
    REG_FAIL,     /* final */
};
enum reg_action reg_classify(long status, CURLcode cc, int sink_code, bool has_location);
/* errno for a final HTTP status / curl code. */
int reg_status_errno(long status);
int reg_curl_errno(CURLcode cc, long os_errno);

#endif
