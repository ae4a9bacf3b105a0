/* config: lazysnap's own config file (/etc/lazysnap/config.toml). Table-driven: every key the
 * file may hold is in `keys`; anything else is an error naming it. */
#include "config/config.h"
#include "config_i.h"

#include <stddef.h>
#include <string.h>

enum kind { K_STRING, K_OPT_STRING, K_BOOL, K_SIZE, K_DURATION, K_RETRIES, K_LEVEL, K_FORMAT };

struct key_def {
    const char *table; /* "" for the top level */
    const char *key;
    enum kind kind;
    size_t off;
};

#define F(field) offsetof(struct lzs_config, field)
static const struct key_def keys[] = {
    {"", "root", K_STRING, F(root)},
    {"", "address", K_STRING, F(address)},
    {"", "hosts_dir", K_OPT_STRING, F(hosts_dir)},
    {"", "log_level", K_LEVEL, F(log_level)},
    {"", "log_format", K_FORMAT, F(log_format)},
    {"cache", "max_size", K_SIZE, F(cache.max_size)},
    {"fetch", "prefetch", K_BOOL, F(fetch.prefetch)},
    {"fetch", "background", K_BOOL, F(fetch.background)},
    {"fetch", "background_rate", K_SIZE, F(fetch.background_rate)},
    {"fetch", "timeout", K_DURATION, F(fetch.timeout_ms)},
    {"fetch", "retries", K_RETRIES, F(fetch.retries)},
    {"index", "local_dir", K_OPT_STRING, F(index.local_dir)},
    {"index", "min_layer_size", K_SIZE, F(index.min_layer_size)},
};
#undef F

static const char *const tables[] = {"cache", "fetch", "index"};

static int dup_field(char **dst, const char *src, lzs_error **err)
{
    *dst = NULL;
    if (src && !(*dst = strdup(src)))
        return lzs_error_set(err, ENOMEM, "out of memory");
    return 0;
}

int lzs_config_init(struct lzs_config *c, lzs_error **err)
{
    memset(c, 0, sizeof(*c));
    c->log_level = LZS_LOG_INFO;
    c->log_format = LZS_LOG_TEXT;
    c->cache.max_size = LZS_CONFIG_DEFAULT_CACHE_MAX_SIZE;
    c->fetch.prefetch = true;
    c->fetch.background = true;
    c->fetch.background_rate = LZS_CONFIG_DEFAULT_BACKGROUND_RATE;
    c->fetch.timeout_ms = LZS_CONFIG_DEFAULT_TIMEOUT_MS;
    c->fetch.retries = LZS_CONFIG_DEFAULT_RETRIES;
    c->index.min_layer_size = LZS_CONFIG_DEFAULT_MIN_LAYER_SIZE;
    int rc = dup_field(&c->root, LZS_CONFIG_DEFAULT_ROOT, err);
    if (rc == 0)
        rc = dup_field(&c->address, LZS_CONFIG_DEFAULT_ADDRESS, err);
    if (rc == 0)
        rc = dup_field(&c->hosts_dir, LZS_CONFIG_DEFAULT_HOSTS_DIR, err);
    if (rc < 0)
        lzs_config_dispose(c);
    return rc;
}

void lzs_config_dispose(struct lzs_config *c)
{
    if (!c)
        return;
    free(c->root);
    free(c->address);
    free(c->hosts_dir);
    free(c->index.local_dir);
    memset(c, 0, sizeof(*c));
}

static int config_copy(struct lzs_config *dst, const struct lzs_config *src, lzs_error **err)
{
    *dst = *src;
    int rc = dup_field(&dst->root, src->root, err);
    rc = rc < 0 ? rc : dup_field(&dst->address, src->address, err);
    rc = rc < 0 ? rc : dup_field(&dst->hosts_dir, src->hosts_dir, err);
    rc = rc < 0 ? rc : dup_field(&dst->index.local_dir, src->index.local_dir, err);
    if (rc < 0) {
        /* fields not yet copied still point into src */
        char **own[] = {&dst->root, &dst->address, &dst->hosts_dir, &dst->index.local_dir};
        char *const theirs[] = {src->root, src->address, src->hosts_dir, src->index.local_dir};
        for (size_t i = 0; i < LZS_ARRAY_SIZE(own); i++)
            if (*own[i] == theirs[i])
                *own[i] = NULL;
        lzs_config_dispose(dst);
    }
    return rc;
}

static int unit_ms(const char **p, uint64_t *mult)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < LZS_ARRAY_SIZE(units); i++) {
        size_t n = strlen(units[i].name);
        if (strncmp(*p, units[i].name, n) == 0) {
            *p += n;
            *mult = units[i].ms;
            return 0;
        }
    }
    return -EINVAL;
}

int lzs_config_parse_duration(const char *s, uint64_t *ms, lzs_error **err)
{
    uint64_t total = 0;
    const char *p = s;
    bool bad = !*p;
    while (!bad && *p) {
        uint64_t v = 0, mult = 0;
        bad = !(*p >= '0' && *p <= '9');
        for (; !bad && *p >= '0' && *p <= '9'; p++)
            bad = lzs_mul_overflow(v, 10, &v) || lzs_add_overflow(v, (uint64_t)(*p - '0'), &v);
        bad = bad || unit_ms(&p, &mult) < 0 || lzs_mul_overflow(v, mult, &v) ||
              lzs_add_overflow(total, v, &total);
    }
    if (bad)
        return lzs_error_set(
            err, EINVAL, "invalid duration \"%.64s\": use e.g. \"500ms\", \"30s\", \"5m\", \"1h\"",
            s);
    *ms = total;
    return 0;
}

static int set_size(uint64_t *out, const struct lzs_cfg_where *w, const struct lzs_toml *v,
                    lzs_error **err)
{
    if (v->type == LZS_TOML_INTEGER && v->i >= 0) {
        *out = (uint64_t)v->i;
        return 0;
    }
    if (v->type == LZS_TOML_INTEGER)
        return lzs_cfg_error(err, EINVAL, w, v, "a size cannot be negative");
    if (v->type != LZS_TOML_STRING)
        return lzs_cfg_type_error(err, w, v, "a size (\"20GiB\" or a number of bytes)");
    if (strlen(v->str) != v->len || lzs_parse_size(v->str, out, NULL) < 0)
        return lzs_cfg_error(err, EINVAL, w, v,
                             "invalid size: use e.g. \"512KiB\", \"10MiB\", \"20GiB\" or bytes");
    return 0;
}

static int set_duration(uint64_t *out, const struct lzs_cfg_where *w, const struct lzs_toml *v,
                        lzs_error **err)
{
    if (v->type != LZS_TOML_STRING)
        return lzs_cfg_type_error(err, w, v, "a duration (\"30s\")");
    if (strlen(v->str) != v->len || lzs_config_parse_duration(v->str, out, NULL) < 0)
        return lzs_cfg_error(err, EINVAL, w, v,
                             "invalid duration: use e.g. \"500ms\", \"30s\", \"5m\", \"1h\"");
    return 0;
}

static int set_enum(void *field, enum kind kind, const struct lzs_cfg_where *w,
                    const struct lzs_toml *v, lzs_error **err)
{
    lzs_autofree char *s = NULL;
    int rc = lzs_cfg_get_string(w, v, &s, err);
    if (rc < 0)
        return rc;
    if (kind == K_LEVEL) {
        if (lzs_log_level_parse(s, field) < 0)
            return lzs_cfg_error(err, EINVAL, w, v,
                                 "expected one of error, warn, info, debug, trace");
        return 0;
    }
    if (strcmp(s, "text") == 0 || strcmp(s, "json") == 0) {
        *(enum lzs_log_format *)field = s[0] == 't' ? LZS_LOG_TEXT : LZS_LOG_JSON;
        return 0;
    }
    return lzs_cfg_error(err, EINVAL, w, v, "expected text or json");
}

static int set_value(struct lzs_config *c, const struct key_def *k, const struct lzs_cfg_where *w,
                     const struct lzs_toml *v, lzs_error **err)
{
    void *field = (char *)c + k->off;
    switch (k->kind) {
    case K_STRING:
    case K_OPT_STRING: {
        int rc = lzs_cfg_get_string(w, v, field, err);
        if (rc == 0 && k->kind == K_STRING && v->len == 0)
            return lzs_cfg_error(err, EINVAL, w, v, "must not be empty");
        if (rc == 0 && v->len == 0 && field == &c->index.local_dir) {
            free(c->index.local_dir);
            c->index.local_dir = NULL; /* "" = no local index directory */
        }
        return rc;
    }
    case K_BOOL:
        return lzs_cfg_get_bool(w, v, field, err);
    case K_SIZE:
        return set_size(field, w, v, err);
    case K_DURATION:
        return set_duration(field, w, v, err);
    case K_RETRIES:
        if (v->type != LZS_TOML_INTEGER)
            return lzs_cfg_type_error(err, w, v, "an integer");
        if (v->i < 0 || v->i > LZS_CONFIG_MAX_RETRIES)
            return lzs_cfg_error(err, EINVAL, w, v, "expected 0 to %u", LZS_CONFIG_MAX_RETRIES);
        *(unsigned *)field = (unsigned)v->i;
        return 0;
    case K_LEVEL:
    case K_FORMAT:
        return set_enum(field, k->kind, w, v, err);
    }
    return -EINVAL;
}

static const struct key_def *find_key(const char *table, const char *key)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(keys); i++)
        if (strcmp(keys[i].table, table) == 0 && strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

static bool is_table_name(const char *key)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(tables); i++)
        if (strcmp(tables[i], key) == 0)
            return true;
    return false;
}

static int apply_table(struct lzs_config *c, const char *file, const char *table,
                       const struct lzs_toml *t, lzs_error **err)
{
    struct lzs_cfg_where w = {file, table};
    for (size_t i = 0; i < t->n; i++) {
        const struct lzs_toml *v = &t->items[i];
        int rc;
        if (!*table && is_table_name(v->key))
            rc = v->type == LZS_TOML_TABLE ? apply_table(c, file, v->key, v, err)
                                           : lzs_cfg_type_error(err, &w, v, "a table");
        else if (find_key(table, v->key))
            rc = set_value(c, find_key(table, v->key), &w, v, err);
        else
            rc = lzs_cfg_unknown_key(err, &w, v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lzs_config_parse(struct lzs_config *c, const char *name, const void *data, size_t len,
                     lzs_error **err)
{
    lzs_cleanup(lzs_toml_freep) struct lzs_toml *root = NULL;
    int rc = lzs_cfg_parse(&root, name, data, len, err);
    if (rc < 0)
        return rc;
    struct lzs_config tmp;
    if ((rc = config_copy(&tmp, c, err)) < 0)
        return rc;
    if ((rc = apply_table(&tmp, name, "", root, err)) < 0) {
        lzs_config_dispose(&tmp);
        return rc;
    }
    lzs_config_dispose(c);
    *c = tmp;
    return 0;
}

int lzs_config_load(struct lzs_config *c, const char *path, unsigned flags, lzs_error **err)
{
    struct lzs_buf b = LZS_BUF_INIT(LZS_CFG_MAX_FILE);
    lzs_autoerr lzs_error *e = NULL;
    int rc = lzs_file_read_all(path, &b, &e);
    if (rc == -ENOENT && (flags & LZS_CONFIG_OPTIONAL))
        rc = 0;
    else if (rc < 0 && err)
        *err = lzs_steal_ptr(&e);
    else if (rc == 0)
        rc = lzs_config_parse(c, path, b.data ? b.data : "", b.len, err);
    lzs_buf_dispose(&b);
    return rc;
}
