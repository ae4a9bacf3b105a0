/* registry: base64 for Basic credentials and docker's config.json "auth" fields. */
#include "registry_i.h"

#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *reg_base64_encode(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t len;
    if (lzs_mul_overflow((n + 2) / 3, (size_t)4, &len) || len == SIZE_MAX)
        return NULL;
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *at = c ? strchr(b64, c) : NULL;
    return at ? (int)(at - b64) : -1;
}

int reg_base64_decode(const char *s, char **out, size_t *n)
{
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == '=' && strlen(s) - len < 2)
        len--;
    if (len % 4 == 1)
        return -EINVAL;
    unsigned char *o = malloc(len / 4 * 3 + 3);
    if (!o)
        return -ENOMEM;
    size_t k = 0;
    unsigned acc = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(o);
            return -EINVAL;
        }
        acc = acc << 6 | (unsigned)v;
        if (i % 4 == 3) {
            o[k++] = (unsigned char)(acc >> 16), o[k++] = (unsigned char)(acc >> 8);
            o[k++] = (unsigned char)acc, acc = 0;
        }
    }
    if (len % 4 == 2)
        o[k++] = (unsigned char)(acc >> 4);
    else if (len % 4 == 3)
        o[k++] = (unsigned char)(acc >> 10), o[k++] = (unsigned char)(acc >> 2);
    o[k] = '\0';
    *out = (char *)o;
    *n = k;
    return 0;
}
