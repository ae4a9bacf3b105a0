/* config: typed access to the TOML tree, messages naming file:line:column and the key. */
#include "config_i.h"

#include <stdio.h>
#include <string.h>

int lzs_cfg_parse(struct lzs_toml **out, const char *file, const void *data, size_t len,
                  lzs_error **err)
{
    struct lzs_toml_diag diag = {0};
    int rc = lzs_toml_parse_raw(out, data, len, &diag);
    if (rc == 0)
        return 0;
    if (diag.line > 0)
        return lzs_error_set(err, diag.code, "%s:%" PRIu32 ":%" PRIu32 ": %s", file, diag.line,
                             diag.column, diag.msg);
    return lzs_error_set(err, diag.code, "%s: %s", file, diag.msg);
}

static bool is_bare_key(const char *k)
{
    if (!*k)
        return false;
    for (; *k; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

const char *lzs_cfg_key_path(char *buf, size_t n, const char *table, const char *key)
{
    const char *dot = table && *table ? "." : "";
    if (!table)
        table = "";
    if (is_bare_key(key)) {
        snprintf(buf, n, "%s%s%s", table, dot, key);
        return buf;
    }
    /* quoted; control characters and quotes are shown as '?' to keep the message one line */
    int w = snprintf(buf, n, "%s%s\"", table, dot);
    size_t o = w > 0 ? (size_t)w : 0;
    for (const char *k = key; *k && o + 2 < n; k++)
        buf[o++] = ((unsigned char)*k < 0x20 || *k == '"' || *k == '\\' || *k == 0x7f) ? '?' : *k;
    if (o + 1 < n)
        buf[o++] = '"';
    if (o < n)
        buf[o] = '\0';
    return buf;
}

const char *lzs_cfg_type_name(enum lzs_toml_type t)
{
    switch (t) {
    case LZS_TOML_TABLE:
        return "a table";
    case LZS_TOML_ARRAY:
        return "an array";
    case LZS_TOML_STRING:
        return "a string";
    case LZS_TOML_INTEGER:
        return "an integer";
    case LZS_TOML_FLOAT:
        return "a float";
    case LZS_TOML_BOOLEAN:
        return "a boolean";
    case LZS_TOML_DATETIME:
        return "a date-time";
    }
    return "an unknown type";
}

int lzs_cfg_error(lzs_error **err, int code, const struct lzs_cfg_where *w,
                  const struct lzs_toml *v, const char *fmt, ...)
{
    char key[512];
    struct lzs_buf b = LZS_BUF_INIT(4096);
    va_list ap;
    va_start(ap, fmt);
    int rc = lzs_buf_vprintf(&b, NULL, fmt, ap);
    va_end(ap);
    if (rc < 0)
        lzs_buf_dispose(&b);
    const char *what = rc < 0 ? "invalid value" : lzs_buf_cstr(&b);
    lzs_cfg_key_path(key, sizeof(key), w->table, v->key ? v->key : "");
    if (v->line > 0)
        rc = lzs_error_set(err, code, "%s:%" PRIu32 ":%" PRIu32 ": key %s: %s", w->file, v->line,
                           v->column, key, what);
    else
        rc = lzs_error_set(err, code, "%s: key %s: %s", w->file, key, what);
    lzs_buf_dispose(&b);
    return rc;
}

int lzs_cfg_unknown_key(lzs_error **err, const struct lzs_cfg_where *w, const struct lzs_toml *v)
{
    struct lzs_toml at = *v;
    if (v->key_line > 0) {
        at.line = v->key_line;
        at.column = v->key_column;
    }
    return lzs_cfg_error(err, EINVAL, w, &at, "unknown key");
}

int lzs_cfg_type_error(lzs_error **err, const struct lzs_cfg_where *w, const struct lzs_toml *v,
                       const char *expected)
{
    return lzs_cfg_error(err, EINVAL, w, v, "expected %s, got %s", expected,
                         lzs_cfg_type_name(v->type));
}

int lzs_cfg_get_string(const struct lzs_cfg_where *w, const struct lzs_toml *v, char **out,
                       lzs_error **err)
{
    if (v->type != LZS_TOML_STRING)
        return lzs_cfg_type_error(err, w, v, "a string");
    if (strlen(v->str) != v->len)
        return lzs_cfg_error(err, EINVAL, w, v, "string contains a nul character");
    char *s = strdup(v->str);
    if (!s)
        return lzs_error_set(err, ENOMEM, "out of memory");
    free(*out);
    *out = s;
    return 0;
}

int lzs_cfg_get_bool(const struct lzs_cfg_where *w, const struct lzs_toml *v, bool *out,
                     lzs_error **err)
{
    if (v->type != LZS_TOML_BOOLEAN)
        return lzs_cfg_type_error(err, w, v, "a boolean");
    *out = v->b;
    return 0;
}

void lzs_cfg_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

LZS_DEFINE_CLEANUP(char *, lzs_cfg_strv_free)

int lzs_cfg_get_strings(const struct lzs_cfg_where *w, const struct lzs_toml *v, char ***out,
                        size_t *n, lzs_error **err)
{
    bool single = v->type == LZS_TOML_STRING;
    if (!single && v->type != LZS_TOML_ARRAY)
        return lzs_cfg_type_error(err, w, v, "a string or an array of strings");
    size_t count = single ? 1 : v->n;
    lzs_cleanup(lzs_cfg_strv_freep) char **strv = lzs_calloc_array(count + 1, sizeof(char *));
    if (!strv)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const struct lzs_toml *e = single ? v : &v->items[i];
        if (e->type != LZS_TOML_STRING)
            return lzs_cfg_error(err, EINVAL, w, v,
                                 "expected an array of strings, element %zu is %s", i,
                                 lzs_cfg_type_name(e->type));
        if (strlen(e->str) != e->len)
            return lzs_cfg_error(err, EINVAL, w, v, "string contains a nul character");
        if (!(strv[i] = strdup(e->str)))
            return lzs_error_set(err, ENOMEM, "out of memory");
    }
    *n = count;
    *out = lzs_steal_ptr(&strv);
    return 0;
}

const struct lzs_toml *lzs_cfg_find(const struct lzs_toml *t, const char *key)
{
    for (size_t i = 0; t && t->type == LZS_TOML_TABLE && i < t->n; i++)
        if (strcmp(t->items[i].key, key) == 0)
            return &t->items[i];
    return NULL;
}
