/* config: lexical path handling as Go's path.Clean / filepath.Join do it (containerd's rules for
 * hosts.toml paths). */
#include "config_i.h"

#include <stdio.h>
#include <string.h>

/* Drop the last component of the n bytes in out (which holds no trailing slash). */
static size_t pop_component(const char *out, size_t n, size_t floor)
{
    while (n > floor && out[n - 1] != '/')
        n--;
    if (n > floor)
        n--; /* the separator */
    return n;
}

static bool last_is_dotdot(const char *out, size_t n, size_t floor)
{
    size_t start = n;
    while (start > floor && out[start - 1] != '/')
        start--;
    return n - start == 2 && out[start] == '.' && out[start + 1] == '.';
}

char *lzs_cfg_path_clean(const char *p)
{
    size_t len = strlen(p);
    char *out = malloc(len + 2);
    if (!out)
        return NULL;
    bool rooted = p[0] == '/';
    size_t n = 0, floor = rooted ? 1 : 0;
    if (rooted)
        out[n++] = '/';
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t cl = e ? (size_t)(e - s) : strlen(s);
        if (cl == 0 || (cl == 1 && s[0] == '.')) {
            /* empty or "." */
        } else if (cl == 2 && s[0] == '.' && s[1] == '.') {
            if (n > floor && !last_is_dotdot(out, n, floor))
                n = pop_component(out, n, floor);
            else if (!rooted)
                n += (size_t)snprintf(out + n, len + 2 - n, "%s..", n > floor ? "/" : "");
        } else {
            if (n > floor)
                out[n++] = '/';
            memcpy(out + n, s, cl);
            n += cl;
        }
        s += cl + (e ? 1 : 0);
    }
    if (n == 0)
        out[n++] = '.';
    out[n] = '\0';
    return out;
}

char *lzs_cfg_path_join(const char *base, const char *p)
{
    if (p[0] == '/' || !base || !*base)
        return lzs_cfg_path_clean(p);
    struct lzs_buf b = LZS_BUF_INIT(SIZE_MAX);
    if (lzs_buf_printf(&b, NULL, "%s/%s", base, p) < 0) {
        lzs_buf_dispose(&b);
        return NULL;
    }
    char *r = lzs_cfg_path_clean(lzs_buf_cstr(&b));
    lzs_buf_dispose(&b);
    return r;
}
