/* Small helpers: version, number parsing, checked sizes and allocations. */
#include "base/base.h"

#include "lzs_version.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *lzs_version(void)
{
    return LZS_VERSION_STRING;
}

int lzs_size_add(size_t *out, size_t a, size_t b, const char *what, lzs_error **err)
{
    if (lzs_add_overflow(a, b, out))
        return lzs_error_set(err, EOVERFLOW, "%s: size overflow (%zu + %zu)", what, a, b);
    return 0;
}

int lzs_size_mul(size_t *out, size_t a, size_t b, const char *what, lzs_error **err)
{
    if (lzs_mul_overflow(a, b, out))
        return lzs_error_set(err, EOVERFLOW, "%s: size overflow (%zu * %zu)", what, a, b);
    return 0;
}

/* Digits at s into *out; returns the count of digits, 0 if none, -1 on overflow. */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    for (; isdigit((unsigned char)s[n]); n++) {
        if (lzs_mul_overflow(v, 10, &v) || lzs_add_overflow(v, (uint64_t)(s[n] - '0'), &v))
            return -1;
    }
    *out = v;
    return n;
}

int lzs_parse_u64(const char *s, uint64_t *out, lzs_error **err)
{
    uint64_t v;
    int n = s ? parse_digits(s, &v) : 0;
    if (n < 0)
        return lzs_error_set(err, ERANGE, "number '%.40s' is too large", s);
    if (n == 0 || s[n] != '\0')
        return lzs_error_set(err, EINVAL, "'%.40s' is not a whole number", s ? s : "");
    *out = v;
    return 0;
}

int lzs_parse_size(const char *s, uint64_t *out, lzs_error **err)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},     {"b", 0},   {"k", 10},   {"kb", 10}, {"kib", 10},
                 {"m", 20},   {"mb", 20}, {"mib", 20}, {"g", 30},  {"gb", 30},
                 {"gib", 30}, {"t", 40},  {"tb", 40},  {"tib", 40}};
    uint64_t v;
    int n = s ? parse_digits(s, &v) : 0;
    if (n < 0)
        return lzs_error_set(err, ERANGE, "size '%.40s' is too large", s);
    if (n == 0)
        return lzs_error_set(err, EINVAL, "'%.40s' is not a size (like 4096, 64K, 4MiB)",
                             s ? s : "");
    for (size_t i = 0; i < LZS_ARRAY_SIZE(units); i++) {
        if (strcasecmp(s + n, units[i].suffix) != 0)
            continue;
        if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
            return lzs_error_set(err, ERANGE, "size '%.40s' is too large", s);
        *out = v << units[i].shift;
        return 0;
    }
    return lzs_error_set(err, EINVAL, "size '%.40s' has an unknown unit (use K, M, G, T)", s);
}

const char *lzs_format_size(uint64_t n, char *buf, size_t len)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < LZS_ARRAY_SIZE(names)) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else
        snprintf(buf, len, "%.1f %s", v, names[u]);
    return buf;
}

void *lzs_calloc_array(size_t n, size_t size)
{
    return calloc(n, size); /* calloc checks n * size itself */
}

void *lzs_realloc_array(void *p, size_t n, size_t size)
{
    size_t total;
    if (lzs_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total ? total : 1);
}

char *lzs_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}
