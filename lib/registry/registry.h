/* registry: an OCI distribution client on libcurl.
 *
 * lzs_registry is the shared client of a process: a pool of curl handles sharing connections,
 * DNS and TLS sessions (one curl share), the bearer tokens obtained so far (per host and scope),
 * the credentials read from docker's config.json, and counters. lzs_repo is one repository of
 * one registry host, with the endpoints to try for it (mirrors, then the server, from a
 * containerd hosts directory). Both are thread-safe: many threads may read ranges of blobs of
 * one repo at once (the FUSE read path does).
 *
 * Every request:
 * - is tried on each endpoint with the needed capability in order (pull/resolve/push), moving on
 *   when an endpoint cannot be reached, answers 5xx after its retries, or (for a mirror) 404;
 * - authenticates as the registry asks: anonymous first, then on 401 the challenge of
 *   WWW-Authenticate is answered: Bearer (token from the realm, per scope, cached until it
 *   expires, fetched again on a 401), or Basic; credentials come from docker's config.json
 *   (auths, credsStore, credHelpers through docker-credential-HELPER);
 * - is retried on connection resets, timeouts, truncated bodies, 5xx and 429 (Retry-After
 *   honoured) with exponential backoff, within the operation's deadline (opts.timeout_ms);
 * - follows redirects (blob storage) itself, without sending the registry's Authorization to
 *   another host; the final URL of a blob is cached and resolved again when it fails or expires.
 * HTTP and HTTPS proxies come from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as curl
 * reads them. HTTP/2 is used where the server offers it over TLS. curl runs with CURLOPT_NOSIGNAL
 * (threads): a program should ignore SIGPIPE, as curl advises for multi-threaded use.
 *
 * Errors: one line naming the operation, the URL and what failed, e.g.
 * "GET http://127.0.0.1:5000/v2/app/blobs/sha256:ab..: 404 blob unknown". err->http carries the
 * final HTTP status. Codes: ENOENT (404: no such manifest/blob/tag), EACCES (401/403 after auth),
 * ETIMEDOUT (deadline passed), ECONNREFUSED/EHOSTUNREACH/ECONNRESET (transport), EPROTO (the
 * server broke the protocol: bad Content-Range, short body...), EBADMSG (content digest
 * mismatch), EMSGSIZE (body over the caller's limit), ENOTSUP (API not offered). */
#ifndef LZS_REGISTRY_H
#define LZS_REGISTRY_H

#include "base/base.h"
#include "config/config.h"
#include "oci/oci.h"

typedef struct lzs_registry lzs_registry;
typedef struct lzs_repo lzs_repo;

#define LZS_REGISTRY_DEFAULT_TIMEOUT_MS 30000u
#define LZS_REGISTRY_DEFAULT_RETRIES 3u
/* Manifests, indexes and tag lists are read into memory up to this size. */
#define LZS_REGISTRY_MANIFEST_MAX LZS_OCI_BODY_MAX

struct lzs_registry_opts {
    const char *hosts_dir;     /* containerd hosts directory (ctr --hosts-dir); NULL: none */
    bool plain_http;           /* every host's default endpoint is http (ctr --plain-http) */
    const char *docker_config; /* directory of config.json; NULL: $DOCKER_CONFIG, else ~/.docker */
    uint64_t timeout_ms;       /* deadline of one operation, retries included; 0: default */
    /* Streams (lzs_repo_stream) have no overall deadline; a stream stalled (no byte received)
     * for this long is retried or fails. 0: timeout_ms. */
    uint64_t stall_ms;
    unsigned retries;       /* attempts after the first on a retryable failure; 0: default */
    bool no_retries;        /* make retries really 0 (tests) */
    const char *user_agent; /* NULL: "lazysnap/VERSION" */
};

/* Options from lazysnap's config: hosts_dir ("" = none), [fetch] timeout and retries (0 = really
 * none). The rest is zero; c must outlive out. */
void lzs_registry_opts_from_config(struct lzs_registry_opts *out, const struct lzs_config *c);

/* opts may be NULL (defaults). Reads nothing from disk until a repo is opened. */
int lzs_registry_new(lzs_registry **out, const struct lzs_registry_opts *opts, lzs_error **err);
void lzs_registry_free(lzs_registry *r);
LZS_DEFINE_CLEANUP(lzs_registry, lzs_registry_free)

/* Counters since lzs_registry_new, over every repo of the client. */
struct lzs_registry_stats {
    uint64_t requests;      /* HTTP requests sent (token requests and redirects included) */
    uint64_t bytes_fetched; /* body bytes received (all requests) */
    uint64_t retries;       /* requests sent again after a retryable failure */
};
void lzs_registry_stats(const lzs_registry *r, struct lzs_registry_stats *out);

/* The repository of ref (its domain and path; tag and digest are ignored) with its endpoints
 * (lzs_config_hosts_load on opts.hosts_dir). The repo holds a reference to r: free r last. */
int lzs_repo_open(lzs_repo **out, lzs_registry *r, const struct lzs_oci_ref *ref, lzs_error **err);
lzs_repo *lzs_repo_ref(lzs_repo *repo);
lzs_repo *lzs_repo_unref(lzs_repo *repo); /* returns NULL; NULL-safe */
static inline void lzs_repo_unrefp(lzs_repo **repo)
{
    lzs_repo_unref(*repo);
}
/* "127.0.0.1:5000/app" for messages; borrowed. */
const char *lzs_repo_name(const lzs_repo *repo);

/* ---- manifests ------------------------------------------------------------------------------- */

struct lzs_repo_manifest {
    struct lzs_buf body;      /* the bytes as served (max LZS_REGISTRY_MANIFEST_MAX) */
    char *content_type;       /* Content-Type without parameters; never NULL after success */
    struct lzs_digest digest; /* sha256 of body (the reference's algorithm when it is a digest;
                                 checked against it, and against Docker-Content-Digest when sent) */
};
void lzs_repo_manifest_dispose(struct lzs_repo_manifest *m);

/* GET /v2/NAME/manifests/REFERENCE (a tag or "sha256:..."), accepting OCI and Docker manifests
 * and indexes (and any other media type in extra_accept, comma-separated, or NULL). *m must be
 * zeroed by the caller; it is filled on success only. -ENOENT when the registry has no such tag
 * or manifest. -EBADMSG when the body does not match a digest reference. */
int lzs_repo_get_manifest(lzs_repo *repo, const char *reference, const char *extra_accept,
                          struct lzs_repo_manifest *m, lzs_error **err);

/* PUT /v2/NAME/manifests/REFERENCE (tag or digest) with Content-Type media_type. The registry's
 * Docker-Content-Digest, when sent, must equal the sha256 of body (-EBADMSG). Uses endpoints with
 * the push capability only. */
int lzs_repo_put_manifest(lzs_repo *repo, const char *reference, const char *media_type,
                          const void *body, size_t n, lzs_error **err);

/* GET /v2/NAME/referrers/DIGEST[?artifactType=T] (T may be NULL) into m (an image index).
 * -ENOTSUP when the registry has no Referrers API (404 or 405 on that route; distribution 2.8),
 * so that the caller falls back to the "sha256-HEX" tag schema. */
int lzs_repo_get_referrers(lzs_repo *repo, const struct lzs_digest *subject,
                           const char *artifact_type, struct lzs_repo_manifest *m, lzs_error **err);

/* ---- blobs ----------------------------------------------------------------------------------- */

/* HEAD the blob: 0 and *size (may be NULL) when present, -ENOENT when not. */
int lzs_repo_blob_stat(lzs_repo *repo, const struct lzs_digest *d, uint64_t *size, lzs_error **err);

/* Exactly n bytes of blob d at off, with one single-range GET ("Range: bytes=off-(off+n-1)").
 * A 206 must carry a Content-Range for exactly that range and exactly n body bytes (else
 * -EPROTO after retries); a 200 (server ignoring Range) is read from the start, the first off
 * bytes dropped and the transfer cut after off+n, with a warning once per host. A short body
 * is resumed from where it stopped. n == 0 does nothing. Thread-safe. Caller checks that
 * off + n is within the blob. */
int lzs_repo_blob_read(lzs_repo *repo, const struct lzs_digest *d, void *buf, size_t n,
                       uint64_t off, lzs_error **err);

/* A whole blob read sequentially, pulled by the caller (for lzs_layer_build_index: no temporary
 * copy, bounded memory). A dropped connection is resumed with a Range request from the offset
 * reached (a 200 then is skipped forward). The caller verifies the digest of what it read. */
typedef struct lzs_repo_stream lzs_repo_stream;
/* Starts the transfer (a fetch thread fills a 1 MiB buffer ahead of the reader) and waits for
 * the registry's first answer: -ENOENT and the like are returned here, not by the first read.
 * Streams have no overall deadline: opts.stall_ms bounds each wait for bytes. */
int lzs_repo_stream_open(lzs_repo_stream **out, lzs_repo *repo, const struct lzs_digest *d,
                         lzs_error **err);
/* Up to n bytes; 0 at the end of the blob. The blob's size (Content-Length / Content-Range total)
 * is known after the first read; a body longer or shorter than that is -EPROTO. */
ssize_t lzs_repo_stream_read(lzs_repo_stream *s, void *buf, size_t n, lzs_error **err);
/* Total size once known (after the first read), else UINT64_MAX. */
uint64_t lzs_repo_stream_size(const lzs_repo_stream *s);
void lzs_repo_stream_close(lzs_repo_stream *s);
LZS_DEFINE_CLEANUP(lzs_repo_stream, lzs_repo_stream_close)

/* Upload p[0..n) as blob d unless the registry has it already (HEAD first): POST
 * /v2/NAME/blobs/uploads/, then PUT Location?digest=D with the whole body (monolithic). The
 * body's sha256 is checked against d first (-EBADMSG). Push-capable endpoints only. */
int lzs_repo_blob_push(lzs_repo *repo, const struct lzs_digest *d, const void *p, size_t n,
                       lzs_error **err);

#endif
