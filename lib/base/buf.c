/* Bounded growable buffers. */
#include "base/base.h"

#include <stdio.h>
#include <string.h>

void lzs_buf_init(struct lzs_buf *b, size_t max)
{
    *b = (struct lzs_buf)LZS_BUF_INIT(max);
}

void lzs_buf_dispose(struct lzs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void lzs_buf_reset(struct lzs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int lzs_buf_reserve(struct lzs_buf *b, size_t extra, lzs_error **err)
{
    size_t need;
    if (lzs_add_overflow(b->len, extra, &need) || need >= b->max)
        return lzs_error_set(err, EMSGSIZE, "buffer limit of %zu bytes exceeded", b->max);
    if (need < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return lzs_error_set(err, ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int lzs_buf_append(struct lzs_buf *b, const void *p, size_t n, lzs_error **err)
{
    int rc = lzs_buf_reserve(b, n, err);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int lzs_buf_append_str(struct lzs_buf *b, const char *s, lzs_error **err)
{
    return lzs_buf_append(b, s, strlen(s), err);
}

int lzs_buf_vprintf(struct lzs_buf *b, lzs_error **err, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return lzs_error_set(err, EINVAL, "bad format string");
    int rc = lzs_buf_reserve(b, (size_t)n, err);
    if (rc < 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int lzs_buf_printf(struct lzs_buf *b, lzs_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = lzs_buf_vprintf(b, err, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if it is not valid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, cp = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, cp = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int lzs_buf_append_json_str(struct lzs_buf *b, const char *s, size_t n, lzs_error **err)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = lzs_buf_append(b, "\"", 1, err);
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        char esc[8];
        if (len > 1) {
            rc = lzs_buf_append(b, p + i, len, err);
            i += len;
            continue;
        }
        unsigned char c = p[i++];
        if (len == 1 && c == '"')
            rc = lzs_buf_append(b, "\\\"", 2, err);
        else if (len == 1 && c == '\\')
            rc = lzs_buf_append(b, "\\\\", 2, err);
        else if (len == 1 && c == '\n')
            rc = lzs_buf_append(b, "\\n", 2, err);
        else if (len == 1 && c == '\t')
            rc = lzs_buf_append(b, "\\t", 2, err);
        else if (len == 1 && c >= 0x20 && c != 0x7f)
            rc = lzs_buf_append(b, &c, 1, err);
        else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            rc = lzs_buf_append(b, esc, 6, err);
        }
    }
    return rc < 0 ? rc : lzs_buf_append(b, "\"", 1, err);
}

const char *lzs_buf_cstr(const struct lzs_buf *b)
{
    return b->data ? b->data : "";
}

char *lzs_buf_steal(struct lzs_buf *b, size_t *len)
{
    char *p = b->data ? b->data : strdup("");
    if (len)
        *len = b->data ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
