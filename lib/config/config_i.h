/* config (private): typed access to the TOML tree with errors that name file:line:column and the
 * key, shared by the hosts.toml reader and the lazysnap config reader. */
#ifndef LZS_CONFIG_I_H
#define LZS_CONFIG_I_H

#include "base/base.h"
#include "toml_i.h"

/* Largest hosts.toml or config file read (they are a few hundred bytes in practice). */
#define LZS_CFG_MAX_FILE (1u << 20)

/* Where values come from, for messages: the file name and the dotted path of the table being
 * read ("" for the top level, "host.\"https://m\"", "fetch"). */
struct lzs_cfg_where {
    const char *file;
    const char *table;
};

/* Parse into a tree; a syntax error becomes -EINVAL "FILE:LINE:COL: description". */
int lzs_cfg_parse(struct lzs_toml **out, const char *file, const void *data, size_t len,
                  lzs_error **err);
LZS_DEFINE_CLEANUP(struct lzs_toml, lzs_toml_free)

/* "table.key" in TOML syntax (the key quoted when it is not a bare key) into buf; returns buf. */
const char *lzs_cfg_key_path(char *buf, size_t n, const char *table, const char *key);
/* "a string", "an integer", ... */
const char *lzs_cfg_type_name(enum lzs_toml_type t);

/* -code with "FILE:LINE:COL: key PATH: <message>" for node v, a member of w->table. */
int lzs_cfg_error(lzs_error **err, int code, const struct lzs_cfg_where *w,
                  const struct lzs_toml *v, const char *fmt, ...) LZS_PRINTF(5, 6);
/* -EINVAL "FILE:LINE:COL: key PATH: unknown key", at the key's position. */
int lzs_cfg_unknown_key(lzs_error **err, const struct lzs_cfg_where *w, const struct lzs_toml *v);
/* -EINVAL "...: key PATH: expected EXPECTED, got a TYPE". */
int lzs_cfg_type_error(lzs_error **err, const struct lzs_cfg_where *w, const struct lzs_toml *v,
                       const char *expected);

/* Typed getters: -EINVAL naming the key when v has another type. Strings must not contain NUL.
 * *out of get_string is a new copy (the old value is freed). */
int lzs_cfg_get_string(const struct lzs_cfg_where *w, const struct lzs_toml *v, char **out,
                       lzs_error **err);
int lzs_cfg_get_bool(const struct lzs_cfg_where *w, const struct lzs_toml *v, bool *out,
                     lzs_error **err);
/* A string or an array of strings: *out is a new NULL-terminated array, *n its length. */
int lzs_cfg_get_strings(const struct lzs_cfg_where *w, const struct lzs_toml *v, char ***out,
                        size_t *n, lzs_error **err);
void lzs_cfg_strv_free(char **v);

/* The member of table t named key, or NULL. */
const struct lzs_toml *lzs_cfg_find(const struct lzs_toml *t, const char *key);

/* Clean a slash-separated path lexically as Go's path.Clean does ("" stays ""). New string. */
char *lzs_cfg_path_clean(const char *p);
/* p if absolute, else base/p, cleaned (Go's filepath.Join). New string. */
char *lzs_cfg_path_join(const char *base, const char *p);

#endif
