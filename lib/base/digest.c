/* OCI digests on libcrypto (the only file that includes OpenSSL). */
#include "base/base.h"

#include <openssl/evp.h>
#include <string.h>

struct lzs_hasher {
    EVP_MD_CTX *ctx;
    enum lzs_digest_algo algo;
};

static const struct {
    enum lzs_digest_algo algo;
    const char *name;
    size_t len;
} algos[] = {
    {LZS_DIGEST_SHA256, "sha256", 32},
    {LZS_DIGEST_SHA512, "sha512", 64},
};

size_t lzs_digest_len(enum lzs_digest_algo algo)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(algos); i++)
        if (algos[i].algo == algo)
            return algos[i].len;
    return 0;
}

static const char *algo_name(enum lzs_digest_algo algo)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(algos); i++)
        if (algos[i].algo == algo)
            return algos[i].name;
    return "unknown";
}

static const EVP_MD *algo_md(enum lzs_digest_algo algo)
{
    return algo == LZS_DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is not allowed for registered algorithms */
}

int lzs_digest_parse(struct lzs_digest *out, const char *s, lzs_error **err)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon)
        return lzs_error_set(err, EINVAL, "invalid digest '%.80s': expected algorithm:hex",
                             s ? s : "");
    for (size_t i = 0; i < LZS_ARRAY_SIZE(algos); i++) {
        size_t nl = strlen(algos[i].name);
        if ((size_t)(colon - s) != nl || strncmp(s, algos[i].name, nl) != 0)
            continue;
        const char *hex = colon + 1;
        if (strlen(hex) != 2 * algos[i].len)
            return lzs_error_set(err, EINVAL, "invalid digest '%.80s': %s needs %zu hex digits", s,
                                 algos[i].name, 2 * algos[i].len);
        for (size_t j = 0; j < algos[i].len; j++) {
            int hi = hexval(hex[2 * j]), lo = hexval(hex[2 * j + 1]);
            if (hi < 0 || lo < 0)
                return lzs_error_set(err, EINVAL, "invalid digest '%.80s': not lowercase hex", s);
            out->bytes[j] = (uint8_t)(hi << 4 | lo);
        }
        out->algo = algos[i].algo;
        return 0;
    }
    return lzs_error_set(err, EINVAL, "invalid digest '%.80s': unsupported algorithm", s);
}

void lzs_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

const char *lzs_digest_format(const struct lzs_digest *d, char buf[LZS_DIGEST_STR_MAX])
{
    const char *name = algo_name(d->algo);
    size_t nl = strlen(name);
    memcpy(buf, name, nl);
    buf[nl] = ':';
    lzs_hex_encode(d->bytes, lzs_digest_len(d->algo), buf + nl + 1);
    return buf;
}

bool lzs_digest_is_equal(const struct lzs_digest *a, const struct lzs_digest *b)
{
    return a->algo == b->algo && memcmp(a->bytes, b->bytes, lzs_digest_len(a->algo)) == 0;
}

int lzs_hasher_new(lzs_hasher **out, enum lzs_digest_algo algo, lzs_error **err)
{
    if (lzs_digest_len(algo) == 0)
        return lzs_error_set(err, EINVAL, "unsupported digest algorithm %d", (int)algo);
    lzs_hasher *h = calloc(1, sizeof(*h));
    if (h)
        h->ctx = EVP_MD_CTX_new();
    if (!h || !h->ctx || EVP_DigestInit_ex(h->ctx, algo_md(algo), NULL) != 1) {
        lzs_hasher_free(h);
        return lzs_error_set(err, ENOMEM, "cannot create a %s hasher", algo_name(algo));
    }
    h->algo = algo;
    *out = h;
    return 0;
}

void lzs_hasher_update(lzs_hasher *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

void lzs_hasher_final(lzs_hasher *h, struct lzs_digest *out)
{
    unsigned int len = 0;
    memset(out, 0, sizeof(*out));
    out->algo = h->algo;
    EVP_DigestFinal_ex(h->ctx, out->bytes, &len);
    EVP_DigestInit_ex(h->ctx, algo_md(h->algo), NULL);
}

void lzs_hasher_free(lzs_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int lzs_digest_buf(enum lzs_digest_algo algo, const void *p, size_t n, struct lzs_digest *out,
                   lzs_error **err)
{
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    int rc = lzs_hasher_new(&h, algo, err);
    if (rc < 0)
        return rc;
    lzs_hasher_update(h, p, n);
    lzs_hasher_final(h, out);
    return 0;
}

int lzs_digest_verify(const struct lzs_digest *expect, const void *p, size_t n, lzs_error **err)
{
    struct lzs_digest got;
    int rc = lzs_digest_buf(expect->algo, p, n, &got, err);
    if (rc < 0)
        return rc;
    if (lzs_digest_is_equal(expect, &got))
        return 0;
    char a[LZS_DIGEST_STR_MAX], b[LZS_DIGEST_STR_MAX];
    return lzs_error_set(err, EBADMSG, "digest mismatch: expected %s, got %s",
                         lzs_digest_format(expect, a), lzs_digest_format(&got, b));
}
